/**
 * Finding Debian's Jupyter and registering the kernelspec `d2l-ts`.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { PROJECT_ROOT } from "../kernel/info";

export const KERNEL_NAME = "d2l-ts";
export const DISPLAY_NAME = "TypeScript (d2l)";
export const APT_HINT = "sudo apt-get install -y --no-install-recommends jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel";

/** The Python that has Jupyter: Debian's /usr/bin/python3 first (the pyenv one on PATH lacks it). */
export function findJupyterPython(): string | null {
  const candidates = [process.env.D2L_JUPYTER_PYTHON, "/usr/bin/python3", "python3"].filter((c): c is string => !!c);
  for (const py of candidates) {
    const r = spawnSync(py, ["-c", "import jupyter_client, nbformat; print(jupyter_client.__version__)"], { encoding: "utf8" });
    if (r.status === 0) return py;
  }
  return null;
}

export function requireJupyterPython(): string {
  const py = findJupyterPython();
  if (!py) {
    throw new Error(`Jupyter was not found (looked for jupyter_client under /usr/bin/python3 and python3).\nInstall Debian's Jupyter with:\n  ${APT_HINT}`);
  }
  return py;
}

export type InstallScope = { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; dir: string };

/** The kernel.json this project installs. */
export function kernelSpec(): Record<string, unknown> {
  return {
    // V8's heap may grow to the machine's memory (Node's default is about 4 GiB, where V8 aborts the kernel
    // with no word of why): the kernel's own memory limit (kernel/memory.ts), below it, stops a cell first.
    argv: [
      process.execPath,
      `--max-old-space-size=${Math.max(4096, Math.ceil(os.totalmem() / 2 ** 20))}`,
      path.join(PROJECT_ROOT, "bin", "d2l-ts.js"),
      "kernel",
      "--connection-file",
      "{connection_file}",
    ],
    display_name: DISPLAY_NAME,
    language: "typescript",
    interrupt_mode: "message",
    env: {},
    metadata: { debugger: false },
  };
}

/** Write the kernelspec to a folder and hand it to `jupyter kernelspec install`. */
export function installKernelSpec(scope: InstallScope = { kind: "user" }): string {
  const py = requireJupyterPython();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-ts-spec-"));
  const dir = path.join(tmp, KERNEL_NAME);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(kernelSpec(), null, 2));
  const assets = path.join(PROJECT_ROOT, "kernel", "assets");
  for (const f of ["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"]) fs.copyFileSync(path.join(assets, f), path.join(dir, f));
  const args = ["-m", "jupyter_client.kernelspecapp", "install", dir, "--name", KERNEL_NAME, "--replace"];
  if (scope.kind === "user") args.push("--user");
  else if (scope.kind === "sys-prefix") args.push("--sys-prefix");
  else args.push("--prefix", scope.dir);
  const r = spawnSync(py, args, { encoding: "utf8" });
  fs.rmSync(tmp, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`jupyter kernelspec install failed:\n${r.stderr || r.stdout}`);
  return (r.stderr + r.stdout).trim();
}

/** Where Jupyter finds the d2l-ts kernelspec now, or null. */
export function installedSpecDir(): string | null {
  const py = findJupyterPython();
  if (!py) return null;
  const r = spawnSync(py, ["-m", "jupyter_client.kernelspecapp", "list", "--json"], { encoding: "utf8" });
  if (r.status !== 0) return null;
  try {
    const specs = (JSON.parse(r.stdout) as { kernelspecs: Record<string, { resource_dir: string }> }).kernelspecs;
    return specs[KERNEL_NAME]?.resource_dir ?? null;
  } catch {
    return null;
  }
}

/** True when the installed kernelspec runs this checkout with this node. */
export function specIsCurrent(): boolean {
  const dir = installedSpecDir();
  if (!dir) return false;
  try {
    const spec = JSON.parse(fs.readFileSync(path.join(dir, "kernel.json"), "utf8")) as { argv?: string[] };
    return JSON.stringify(spec.argv) === JSON.stringify(kernelSpec().argv);
  } catch {
    return false;
  }
}
