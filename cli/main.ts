/**
 * The `d2l-ts` command line: install, kernel, lab, notebook, run, doctor.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawn, spawnSync } from "child_process";
import { ConnectionInfo } from "../kernel/wire";
import { PROJECT_ROOT, packageVersion, dependencyVersion } from "../kernel/info";
import { UsageError, flagOption, numberOption, parseCommand, stringOption, type OptionSpec } from "./args";
import { installNbExtension, nbExtensionIsCurrent } from "./nbextension";
import { APT_HINT, InstallScope, KERNEL_NAME, findJupyterPython, installKernelSpec, installedSpecDir, requireJupyterPython, specIsCurrent } from "./install";

const USAGE = `d2l-ts ${packageVersion()}: the TypeScript (d2l) Jupyter kernel

Usage:
  d2l-ts install [--user | --sys-prefix | --prefix DIR]   register the kernelspec "${KERNEL_NAME}" (default --user)
  d2l-ts kernel --connection-file FILE [--memory-limit 6G]
                                                          run the kernel (what Jupyter starts); a cell over the memory
                                                          limit (default: D2L_MEMORY_LIMIT, else 3/4 of memory) is stopped
  d2l-ts lab [--port N] [--dir DIR] [--token T]           start JupyterLab on notebooks/ at 127.0.0.1
  d2l-ts notebook [--port N] [--dir DIR]                  start classic Jupyter Notebook on notebooks/ at 127.0.0.1
  d2l-ts hub [--dir DIR] [--port N] [--users a,b] [--password-env VAR | --auth pam] [--mem-limit 2G] [--cpu-limit 1]
            [--assignment NB ...] [--ui lab|notebook] [--write-config-only]
                                                          JupyterHub for a class (docs/hub.md)
  d2l-ts run NOTEBOOK [--out FILE] [--timeout S] [--allow-errors]
                                                          execute a notebook headless; exit 1 if a cell fails
  d2l-ts doctor                                           versions, Jupyter, backend, GPU, data cache
  d2l-ts assignment new NAME [--dir DIR]                  write an assignment template NAME/assignment.ipynb
  d2l-ts assignment release SRC [--out F] [--solutions]   the student's copy (or the reference solution)
  d2l-ts grade SUBMISSION [--reference SOURCE] [--timeout S] [--memory MiB] [--no-sandbox] [--json F] [--out F]
                                                          run a submission in a sandboxed kernel, its checks in a clean one
  d2l-ts grade DIR --reference SOURCE [--jobs N] [--out-dir D] [--force] [--timeout S] [--memory MiB]
                                                          grade a folder of submissions: gradebook and feedback
  d2l-ts export NOTEBOOK [--to html|pdf|md] [--execute] [--out F]
                                                          a report: nbconvert HTML/Markdown, PDF via headless Chromium

Options take their value as --opt VALUE or --opt=VALUE. Mistakes on the command line exit with code 2.
`;

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

const INSTALL_USAGE = "d2l-ts install [--user | --sys-prefix | --prefix DIR]";

function scopeFrom(args: string[]): InstallScope {
  const p = parseCommand("install", args, { user: { type: "boolean" }, "sys-prefix": { type: "boolean" }, prefix: { type: "string" } }, INSTALL_USAGE, [0, 0, ""]);
  const prefix = stringOption(p, "prefix");
  const user = flagOption(p, "user");
  const sys = flagOption(p, "sys-prefix");
  if ([prefix !== undefined, user, sys].filter(Boolean).length > 1) throw new UsageError("choose one of --user, --sys-prefix, --prefix DIR", INSTALL_USAGE);
  if (prefix !== undefined) return { kind: "prefix", dir: path.resolve(prefix) };
  if (sys) return { kind: "sys-prefix" };
  return { kind: "user" };
}

function pythonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" };
}

const KERNEL_USAGE = "d2l-ts kernel --connection-file FILE [--memory-limit SIZE (6G, 600M, 50%; default D2L_MEMORY_LIMIT, else 3/4 of the memory)]";
/** The kernel's options (Jupyter starts it with the kernelspec's argv, cli/install.ts). */
const KERNEL_OPTIONS: OptionSpec = { "connection-file": { type: "string", short: "f" }, "memory-limit": { type: "string" } };

async function cmdKernel(args: string[]): Promise<void> {
  const p = parseCommand("kernel", args, KERNEL_OPTIONS, KERNEL_USAGE, [0, 1, "a connection file"]);
  const file = stringOption(p, "connection-file") ?? p.positionals[0];
  if (!file) throw new UsageError("kernel needs --connection-file FILE (Jupyter passes it; see d2l-ts install)", KERNEL_USAGE);
  // Memory limit (kernel/memory.ts): the option, else D2L_MEMORY_LIMIT, else 3/4 of the memory.
  const { resolveMemoryLimit } = await import("../kernel/memory");
  let memoryLimit;
  try {
    memoryLimit = resolveMemoryLimit(stringOption(p, "memory-limit"));
  } catch (e) {
    throw new UsageError((e as Error).message, KERNEL_USAGE);
  }
  const connection = readConnectionFile(file);
  const { Session } = await import("../kernel/session");
  const session = new Session({ connection, cwd: process.cwd(), memoryLimit });
  await session.start();
}

const NOTEBOOK_USAGE = "d2l-ts notebook [--port N] [--dir DIR]";

function cmdNotebook(args: string[]): void {
  const p = parseCommand("notebook", args, { port: { type: "string" }, dir: { type: "string" } }, NOTEBOOK_USAGE, [0, 0, ""]);
  const port = String(numberOption(p, "port", { fallback: 8888, min: 1, max: 65535, integer: true, what: "the port to listen on" }, NOTEBOOK_USAGE));
  const dir = path.resolve(stringOption(p, "dir") ?? path.join(PROJECT_ROOT, "notebooks"));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`--dir: no such folder: ${dir}`);
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

const RUN_USAGE = "d2l-ts run NOTEBOOK [--out FILE] [--timeout S] [--allow-errors]";

/**
 * `d2l-ts run`: execute a notebook in a fresh kernel (notebook/runner.ts) and
 * write it with its outputs. A failing cell stops the run (exit 1) unless
 * --allow-errors; Ctrl-C interrupts the running cell and writes what ran
 * (exit 130). The notebook is written either way, atomically.
 */
async function cmdRun(args: string[]): Promise<void> {
  const p = parseCommand("run", args, { out: { type: "string" }, timeout: { type: "string" }, "allow-errors": { type: "boolean" } }, RUN_USAGE, [1, 1, "a NOTEBOOK"]);
  const nbPath = p.positionals[0];
  const timeout = numberOption(p, "timeout", { fallback: 1800, min: 0, above: true, what: "seconds each cell may run" }, RUN_USAGE);
  const output = path.resolve(stringOption(p, "out") ?? nbPath.replace(/\.ipynb$/, "") + ".out.ipynb");
  const { readNotebook, writeNotebook } = await import("../notebook/nbformat");
  const { runNotebook } = await import("../notebook/runner");
  const nb = readNotebook(nbPath);
  if (path.resolve(nbPath) === output) throw new UsageError(`--out is the notebook itself (${nbPath}); choose another file`, RUN_USAGE);
  const abort = new AbortController();
  const onSigint = (): void => {
    console.error("d2l-ts run: interrupted; stopping the running cell and writing what ran");
    abort.abort();
  };
  process.once("SIGINT", onSigint);
  console.error(`d2l-ts run: running ${nbPath} (each cell at most ${timeout} s)`);
  const r = await runNotebook(nb, {
    cwd: path.dirname(path.resolve(nbPath)),
    timeout,
    allowErrors: flagOption(p, "allow-errors"),
    signal: abort.signal,
    log: (line) => console.error(`d2l-ts run: ${line}`),
  });
  process.removeListener("SIGINT", onSigint);
  writeNotebook(output, r.notebook);
  if (r.interrupted) {
    console.error(`d2l-ts run: interrupted after ${r.cellsRun} cell(s); what ran is in ${output}`);
    process.exit(130);
  }
  if (r.failed) {
    const at = `cell ${r.failed.index + 1}: ${r.failed.ename}: ${r.failed.evalue.split("\n")[0]}`;
    console.error(`d2l-ts run: ${nbPath} failed at ${at}\n  the notebook with its outputs up to there: ${output}`);
    if (!flagOption(p, "allow-errors")) process.exit(1);
  }
  console.log(`d2l-ts run: executed ${nbPath} → ${output} (${r.cellsRun} cells, ${Math.round(r.seconds)} s)`);
}

/** Where the dynamic linker finds `lib` (LD_LIBRARY_PATH, then ldconfig's cache), or null. */
function findLibrary(lib: string): string | null {
  for (const dir of (process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean)) {
    if (fs.existsSync(path.join(dir, lib))) return path.join(dir, lib);
  }
  const r = spawnSync("ldconfig", ["-p"], { encoding: "utf8" });
  const line = (r.stdout ?? "").split("\n").find((l) => l.trim().startsWith(`${lib} `));
  return line ? line.split("=> ").pop()?.trim() || lib : null;
}

async function cmdDoctor(): Promise<void> {
  const rows: [string, string][] = [];
  let onCudaGpu = false;
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
    const v = spawnSync(
      py,
      [
        "-c",
        "import jupyter_client, notebook, nbconvert; print(f'jupyter_client {jupyter_client.__version__}, notebook {notebook.__version__}, nbconvert {nbconvert.__version__}')",
      ],
      { encoding: "utf8", env: pythonEnv() },
    );
    rows.push(["jupyter", `${py}: ${(v.stdout || v.stderr).trim()}`]);
    const lab = spawnSync(
      py,
      ["-c", "import jupyter_server, jupyterlab_server; print(f'jupyter_server {jupyter_server.__version__}, jupyterlab_server {jupyterlab_server.__version__}')"],
      { encoding: "utf8", env: pythonEnv() },
    );
    const built = fs.existsSync(path.join(PROJECT_ROOT, "lab", "build", "bundle.js"));
    rows.push([
      "jupyterlab",
      `${lab.status === 0 ? lab.stdout.trim() : "jupyterlab_server missing (apt-get install python3-jupyterlab-server)"}; app ${built ? "built (lab/build)" : "not built (npm run build:lab)"}`,
    ]);
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
    if (info.name === "webgpu") {
      rows.push(["  webgpu adapter", `vendor "${info.vendor}", architecture "${info.architecture || "not given"}"; numGpus() ${d2l.numGpus()}, tryGpu() "${d2l.tryGpu()}"`]);
    }
    rows.push([
      "  webgpu",
      process.env.D2L_WEBGPU_AUTO === "0"
        ? "left out of the automatic order (D2L_WEBGPU_AUTO=0); D2L_BACKEND=webgpu uses it"
        : "chosen automatically on a hardware GPU adapter (Vulkan, Metal, D3D12), never on a software one; D2L_WEBGPU_AUTO=0 leaves it out",
    ]);
    for (const s of info.skipped) rows.push([`  skipped ${s.name}`, s.reason]);
    onCudaGpu = info.name === "tensorflow" && info.device !== "cpu";
  } catch (e) {
    rows.push(["backend", `failed: ${(e as Error).message}`]);
  }
  const smi = spawnSync("nvidia-smi", ["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"], { encoding: "utf8" });
  rows.push(["gpu", smi.status === 0 ? smi.stdout.trim() : "none found (nvidia-smi not available)"]);
  if (smi.status === 0 && !onCudaGpu) {
    // An NVIDIA GPU that the tensorflow backend does not use: say exactly what tfjs-node-gpu needs.
    const { TFJS_NODE_GPU_INSTALL } = await import("../lib/backend");
    const libs = ["libcudart.so.11.0", "libcudnn.so.8"].map((l) => `${l} ${findLibrary(l) ?? "missing"}`).join(", ");
    rows.push(["  CUDA for tfjs", `${TFJS_NODE_GPU_INSTALL}; found here: ${libs}`]);
  }
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
        await cmdRun(args);
        process.exit(0);
        break;
      case "doctor":
        parseCommand("doctor", args, {}, "d2l-ts doctor", [0, 0, ""]);
        await cmdDoctor();
        break;
      case "assignment":
        (await import("./assignment")).cmdAssignment(args);
        break;
      case "grade":
        await (await import("./grade")).cmdGrade(args);
        process.exit(0); // the kernels' sockets are closed, but zeromq's context can keep Node alive
        break;
      case "export":
        await (await import("./export")).cmdExport(args);
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
      console.error(`d2l-ts: ${e.message}\n\n${e.usage ? `usage:\n${e.usage}` : USAGE}`);
      process.exit(2);
    }
    console.error(`d2l-ts: ${(e as Error).message}`);
    process.exit(1);
  }
}

if (require.main === module) void main(process.argv.slice(2));
