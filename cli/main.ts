/**
 * The `d2l-ts` command line: install, kernel, lab, notebook, run, doctor.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawn, spawnSync } from "child_process";
import { ConnectionInfo } from "../kernel/wire";
import { PROJECT_ROOT, packageVersion, dependencyVersion } from "../kernel/info";
import { UsageError, takeFlag, takeOption } from "./args";
import { installNbExtension, nbExtensionIsCurrent } from "./nbextension";
import { APT_HINT, InstallScope, KERNEL_NAME, findJupyterPython, installKernelSpec, installedSpecDir, requireJupyterPython, specIsCurrent } from "./install";

const USAGE = `d2l-ts ${packageVersion()}: the TypeScript (d2l) Jupyter kernel

Usage:
  d2l-ts install [--user | --sys-prefix | --prefix DIR]   register the kernelspec "${KERNEL_NAME}" (default --user)
  d2l-ts kernel --connection-file FILE                    run the kernel (what Jupyter starts)
  d2l-ts lab [--port N] [--dir DIR] [--token T]           start JupyterLab on notebooks/ at 127.0.0.1
  d2l-ts notebook [--port N] [--dir DIR]                  start classic Jupyter Notebook on notebooks/ at 127.0.0.1
  d2l-ts hub [--dir DIR] [--port N] [--users a,b] [--password-env VAR | --auth pam] [--mem-limit 2G] [--cpu-limit 1]
            [--assignment NB ...] [--ui lab|notebook] [--write-config-only]
                                                          JupyterHub for a class (docs/hub.md)
  d2l-ts run NOTEBOOK [--out FILE] [--timeout S]          execute a notebook headless; non-zero exit if a cell fails
  d2l-ts doctor                                           versions, Jupyter, backend, GPU, data cache
  d2l-ts assignment new NAME [--dir DIR]                  write an assignment template NAME/assignment.ipynb
  d2l-ts assignment release SRC [--out F] [--solutions]   the student's copy (or the reference solution)
  d2l-ts grade SUBMISSION [--reference SOURCE] [--timeout S] [--memory MiB] [--no-sandbox] [--json F] [--out F]
                                                          run a submission in a sandboxed kernel, its checks in a clean one
  d2l-ts grade DIR --reference SOURCE [--jobs N] [--out-dir D] [--force] [--timeout S] [--memory MiB]
                                                          grade a folder of submissions: gradebook and feedback
  d2l-ts export NOTEBOOK [--to html|pdf|md] [--execute] [--out F]
                                                          a report: nbconvert HTML/Markdown, PDF via headless Chromium
`;

function noMore(args: string[]): void {
  if (args.length > 0) throw new UsageError(`unexpected argument(s): ${args.join(" ")}`);
}

/** Read and check a Jupyter connection file. */
export function readConnectionFile(file: string): ConnectionInfo {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`cannot read the connection file ${file}: ${(e as Error).message}`);
  }
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`the connection file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  for (const k of ["shell_port", "control_port", "iopub_port", "stdin_port", "hb_port"]) {
    if (typeof c[k] !== "number") throw new Error(`the connection file ${file} lacks a numeric ${k}`);
  }
  return {
    transport: typeof c.transport === "string" ? c.transport : "tcp",
    ip: typeof c.ip === "string" ? c.ip : "127.0.0.1",
    key: typeof c.key === "string" ? c.key : "",
    signature_scheme: typeof c.signature_scheme === "string" ? c.signature_scheme : "hmac-sha256",
    shell_port: c.shell_port as number,
    control_port: c.control_port as number,
    iopub_port: c.iopub_port as number,
    stdin_port: c.stdin_port as number,
    hb_port: c.hb_port as number,
  };
}

function scopeFrom(args: string[]): InstallScope {
  const prefix = takeOption(args, "--prefix");
  const user = takeFlag(args, "--user");
  const sys = takeFlag(args, "--sys-prefix");
  if ([prefix !== undefined, user, sys].filter(Boolean).length > 1) throw new UsageError("choose one of --user, --sys-prefix, --prefix DIR");
  if (prefix !== undefined) return { kind: "prefix", dir: path.resolve(prefix) };
  if (sys) return { kind: "sys-prefix" };
  return { kind: "user" };
}

function pythonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" };
}

async function cmdKernel(args: string[]): Promise<void> {
  const file = takeOption(args, "--connection-file") ?? (args.length === 1 && !args[0].startsWith("-") ? args.shift() : undefined);
  if (!file) throw new UsageError("kernel needs --connection-file FILE");
  noMore(args);
  const connection = readConnectionFile(file);
  const { Session } = await import("../kernel/session");
  const session = new Session({ connection, cwd: process.cwd() });
  await session.start();
}

function cmdNotebook(args: string[]): void {
  const port = takeOption(args, "--port") ?? "8888";
  const dir = path.resolve(takeOption(args, "--dir") ?? path.join(PROJECT_ROOT, "notebooks"));
  noMore(args);
  const py = requireJupyterPython();
  if (!specIsCurrent()) console.log(installKernelSpec({ kind: "user" }));
  if (!nbExtensionIsCurrent({ kind: "user" })) console.log(installNbExtension({ kind: "user" }));
  console.log(`Starting Jupyter Notebook on ${dir}`);
  console.log(`Open http://127.0.0.1:${port}/ (the full URL with its token is printed below); choose the kernel "TypeScript (d2l)".`);
  const nbArgs = ["-m", "notebook", "--ip=127.0.0.1", `--port=${port}`, "--no-browser", `--notebook-dir=${dir}`];
  // Jupyter refuses to start as root without this; these machines (and containers) often run as root.
  if (process.getuid?.() === 0) nbArgs.push("--allow-root");
  const child = spawn(py, nbArgs, {
    stdio: "inherit",
    env: pythonEnv(),
  });
  child.on("exit", (code) => process.exit(code ?? 0));
  process.on("SIGINT", () => child.kill("SIGINT"));
}

function cmdRun(args: string[]): void {
  const out = takeOption(args, "--out");
  const timeout = takeOption(args, "--timeout") ?? "1800";
  const nb = args.shift();
  if (!nb) throw new UsageError("run needs a NOTEBOOK");
  noMore(args);
  if (!fs.existsSync(nb)) throw new Error(`no such notebook: ${nb}`);
  const py = requireJupyterPython();
  if (!specIsCurrent()) installKernelSpec({ kind: "user" });
  const output = path.resolve(out ?? nb.replace(/\.ipynb$/, "") + ".out.ipynb");
  const r = spawnSync(
    py,
    [
      "-m", "nbconvert", "--to", "notebook", "--execute",
      `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
      `--ExecutePreprocessor.timeout=${timeout}`,
      "--output", path.basename(output), "--output-dir", path.dirname(output), nb,
    ],
    { stdio: "inherit", env: pythonEnv(), cwd: process.cwd() },
  );
  if (r.status !== 0) {
    console.error(`d2l-ts run: ${nb} failed (exit ${r.status}); see the error above.`);
    process.exit(r.status ?? 1);
  }
  console.log(`d2l-ts run: executed ${nb} → ${output}`);
}

async function cmdDoctor(): Promise<void> {
  const rows: [string, string][] = [];
  rows.push(["d2l-ts", `${packageVersion()} (${PROJECT_ROOT})`]);
  rows.push(["node", process.version]);
  rows.push(["@tensorflow/tfjs", dependencyVersion("@tensorflow/tfjs")]);
  rows.push(["@tensorflow/tfjs-backend-wasm", dependencyVersion("@tensorflow/tfjs-backend-wasm")]);
  rows.push(["@tensorflow/tfjs-backend-webgpu", dependencyVersion("@tensorflow/tfjs-backend-webgpu")]);
  rows.push(["webgpu (dawn.node)", dependencyVersion("webgpu")]);
  rows.push(["@tensorflow/tfjs-node", dependencyVersion("@tensorflow/tfjs-node")]);
  rows.push(["@tensorflow/tfjs-node-gpu", dependencyVersion("@tensorflow/tfjs-node-gpu")]);
  rows.push(["tslab", dependencyVersion("tslab")]);
  rows.push(["zeromq", dependencyVersion("zeromq")]);
  const py = findJupyterPython();
  if (py) {
    const v = spawnSync(py, ["-c", "import jupyter_client, notebook, nbconvert; print(f'jupyter_client {jupyter_client.__version__}, notebook {notebook.__version__}, nbconvert {nbconvert.__version__}')"], { encoding: "utf8", env: pythonEnv() });
    rows.push(["jupyter", `${py}: ${(v.stdout || v.stderr).trim()}`]);
    const lab = spawnSync(py, ["-c", "import jupyter_server, jupyterlab_server; print(f'jupyter_server {jupyter_server.__version__}, jupyterlab_server {jupyterlab_server.__version__}')"], { encoding: "utf8", env: pythonEnv() });
    const built = fs.existsSync(path.join(PROJECT_ROOT, "lab", "build", "bundle.js"));
    rows.push(["jupyterlab", `${lab.status === 0 ? lab.stdout.trim() : "jupyterlab_server missing (apt-get install python3-jupyterlab-server)"}; app ${built ? "built (lab/build)" : "not built (npm run build:lab)"}`]);
    const spec = installedSpecDir();
    rows.push(["kernelspec", spec ? `${KERNEL_NAME} at ${spec}${specIsCurrent() ? "" : " (points elsewhere: run d2l-ts install)"}` : `not installed (run d2l-ts install)`]);
  } else {
    rows.push(["jupyter", `not found; install with: ${APT_HINT}`]);
  }
  try {
    const d2l = await import("../lib/index");
    await d2l.ready();
    const info = d2l.backendInfo();
    rows.push(["backend", `${info.name} (device ${info.device}, ${info.threads} thread(s), tfjs ${info.tfjsVersion})`]);
    rows.push(["  computes on", info.adapter + (info.fallbackAdapter ? " (software fallback adapter)" : "")]);
    rows.push(["  webgpu", "only when asked for: D2L_BACKEND=webgpu (no synchronous reads under Node)"]);
    for (const s of info.skipped) rows.push([`  skipped ${s.name}`, s.reason]);
  } catch (e) {
    rows.push(["backend", `failed: ${(e as Error).message}`]);
  }
  const smi = spawnSync("nvidia-smi", ["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"], { encoding: "utf8" });
  rows.push(["gpu", smi.status === 0 ? smi.stdout.trim() : "none found (nvidia-smi not available)"]);
  const cache = process.env.D2L_CACHE_DIR ?? path.join(os.homedir(), ".cache", "d2l-ts");
  rows.push(["data cache", fs.existsSync(cache) ? `${cache} (${fs.readdirSync(cache).length} entries)` : `${cache} (empty)`]);
  rows.push(["D2L_DATA_DIR", process.env.D2L_DATA_DIR ?? "(not set)"]);
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  process.exit(0);
}

export async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  const cmd = args.shift();
  try {
    switch (cmd) {
      case "install":
        {
          const scope = scopeFrom(args);
          noMore(args);
          console.log(installKernelSpec(scope));
          console.log(installNbExtension(scope));
        }
        break;
      case "kernel":
        await cmdKernel(args);
        break;
      case "lab":
        (await import("./lab")).cmdLab(args);
        break;
      case "hub":
        (await import("./hub")).cmdHub(args);
        break;
      case "notebook":
        cmdNotebook(args);
        break;
      case "run":
        cmdRun(args);
        break;
      case "doctor":
        await cmdDoctor();
        break;
      case "assignment":
        (await import("../notebook/assignment")).assignmentCommand(args);
        break;
      case "grade":
        await (await import("../notebook/grade")).gradeCommand(args);
        break;
      case "export":
        await (await import("../notebook/export")).cmdExport(args);
        break;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE);
        break;
      case "--version":
        console.log(packageVersion());
        break;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`d2l-ts: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(`d2l-ts: ${(e as Error).message}`);
    process.exit(1);
  }
}

if (require.main === module) void main(process.argv.slice(2));
