/**
 * Runs a backend test file again as a child process (one backend per process: tfjs keeps one of each) and
 * reads the JSON object its last stdout line holds. A child that prints none (it crashed, or was killed at
 * `timeoutMs`) gives `{ error }` with what it printed.
 */
import { spawn } from "node:child_process";

export function runChild<T extends { error?: string }>(file: string, env: NodeJS.ProcessEnv, what: string, timeoutMs: number): Promise<T & { stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [file], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (x: Buffer) => (out += x.toString()));
    p.stderr.on("data", (x: Buffer) => (err += x.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("close", (code) => {
      clearTimeout(timer);
      try {
        resolve({ ...(JSON.parse(out.trim().split("\n").pop() ?? "") as T), stderr: err });
      } catch {
        resolve({ error: `child ${what} exited ${code} without a result:\n${out}\n${err}`, stderr: err } as T & { stderr: string });
      }
    });
  });
}
