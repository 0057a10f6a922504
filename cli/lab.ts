/**
 * `d2l-ts lab`: JupyterLab 4.6 (the app in lab/, built from npm with rspack) served by Debian's
 * jupyter-server 1.23 + jupyterlab-server 2.16 (lab/d2l_lab) on 127.0.0.1, opening notebooks/.
 */
import * as fs from "fs";
import * as path from "path";
import { spawn, spawnSync } from "child_process";
import { PROJECT_ROOT } from "../kernel/info";
import { UsageError, parseCommand, stringOption } from "./args";
import { installKernelSpec, requireJupyterPython, specIsCurrent } from "./install";

/** Where the app lives: lab/ (package.json, rspack config, the server glue d2l_lab/, and build/). */
export const LAB_DIR = path.join(PROJECT_ROOT, "lab");
export const LAB_APT_HINT = "sudo apt-get install -y --no-install-recommends python3-jupyterlab-server";

/** Why the app cannot start yet (a missing bundle or server package), or null when it can. */
export function labProblem(py: string): string | null {
  if (!fs.existsSync(path.join(LAB_DIR, "build", "bundle.js"))) {
    return `the JupyterLab app is not built (${path.join(LAB_DIR, "build")} is missing): run  npm run build:lab`;
  }
  const r = spawnSync(py, ["-c", "import jupyter_server, jupyterlab_server"], { encoding: "utf8" });
  if (r.status !== 0) return `Debian's jupyterlab-server is missing under ${py}; install it with:\n  ${LAB_APT_HINT}`;
  return null;
}

/** The server's command line (for `d2l-ts lab` and the browser test). */
export function labServerArgs(opts: { port: number | string; token?: string; dir: string; asRoot: boolean }): string[] {
  const a = [
    "-m",
    "d2l_lab",
    "--ServerApp.ip=127.0.0.1",
    `--ServerApp.port=${opts.port}`,
    // Without one the server makes a random token and prints it in its URL; one given here it prints as "...".
    ...(opts.token === undefined ? [] : [`--ServerApp.token=${opts.token}`]),
    "--ServerApp.open_browser=False",
    `--ServerApp.root_dir=${opts.dir}`,
    // the front end asks for terminals unless told there are none, and we bundle no terminal
    "--ServerApp.terminals_enabled=False",
  ];
  // Jupyter refuses to start as root without this; these machines (and containers) often run as root.
  if (opts.asRoot) a.push("--allow-root");
  return a;
}

/** PYTHONPATH with lab/ first, so `-m d2l_lab` finds the server glue. */
export function labPythonPath(existing: string | undefined): string {
  return existing ? `${LAB_DIR}${path.delimiter}${existing}` : LAB_DIR;
}

export const LAB_USAGE = "d2l-ts lab [--port N] [--dir DIR] [--token T]";

/** `d2l-ts lab`: JupyterLab with the d2l-ts kernel on notebooks/ (or --dir), at 127.0.0.1. */
export function cmdLab(args: string[]): void {
  const p = parseCommand("lab", args, { port: { type: "string" }, dir: { type: "string" }, token: { type: "string" } }, LAB_USAGE, [0, 0, ""]);
  const portText = stringOption(p, "port") ?? "8888";
  const dir = path.resolve(stringOption(p, "dir") ?? path.join(PROJECT_ROOT, "notebooks"));
  const token = stringOption(p, "token");
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port needs a port number (1-65535), got ${JSON.stringify(portText)}`, LAB_USAGE);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`--dir: no such folder: ${dir}`);
  const py = requireJupyterPython();
  const problem = labProblem(py);
  if (problem) throw new Error(problem);
  if (!specIsCurrent()) console.log(installKernelSpec({ kind: "user" }));
  // The server prints the URL with its token once it listens (printing one here, before, would send people
  // and scripts to a port that does not answer yet).
  console.log(`Starting JupyterLab on ${dir} at 127.0.0.1:${port}; open the URL it prints (with its token) and choose the kernel "TypeScript (d2l)".`);
  const child = spawn(py, labServerArgs({ port, token, dir, asRoot: process.getuid?.() === 0 }), {
    stdio: "inherit",
    env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1", PYTHONPATH: labPythonPath(process.env.PYTHONPATH) },
  });
  child.on("exit", (code) => process.exit(code ?? 0));
  // Ctrl-C, or a SIGTERM to this process, stops the server (which shuts its kernels down) instead of orphaning it.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => child.kill(sig === "SIGHUP" ? "SIGTERM" : sig));
}
