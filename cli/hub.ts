/**
 * `d2l-ts hub`: a JupyterHub for a class on one machine. Writes a documented jupyterhub_config.py
 * (from hub/jupyterhub_config.template.py) into DIR and starts Debian's jupyterhub 3.0 with Debian's
 * node-configurable-http-proxy; the d2l-ts kernel is installed in DIR/jupyter for every user's server,
 * per-user memory and CPU limits are enforced by hub/d2l_hub.py, and assignments are released into
 * each home when its server starts. docs/hub.md is the guide.
 */
import * as fs from "fs";
import * as path from "path";
import { spawn, spawnSync } from "child_process";
import { PROJECT_ROOT } from "../kernel/info";
import { UsageError, flagOption, parseCommand, stringOption, type OptionSpec, type Parsed } from "./args";
import { installKernelSpec, requireJupyterPython } from "./install";
import { labProblem } from "./lab";
import { writeFileAtomic } from "../lib/files";
import { installNbExtension } from "./nbextension";

/** The Debian packages the hub needs (jupyterhub depends on node-configurable-http-proxy). */
export const HUB_APT_HINT = "sudo apt-get install -y --no-install-recommends jupyterhub";
const TEMPLATE = path.join(PROJECT_ROOT, "hub", "jupyterhub_config.template.py");

/** Everything `d2l-ts hub` writes into jupyterhub_config.py. */
export interface HubSettings {
  dir: string;
  ip: string;
  port: number;
  auth: "dummy" | "pam";
  passwordEnv: string | null;
  apiTokenEnv: string | null;
  users: string[];
  admins: string[];
  memLimit: number | null;
  cpuLimit: number | null;
  assignments: string[];
  ui: "notebook" | "lab";
}

/**
 * A memory size as JupyterHub writes it (a number of bytes with an optional K, M, G or T suffix,
 * powers of 1024) in bytes.
 * @example
 * parseSize("2G"); // 2147483648
 * parseSize("512M"); // 536870912
 */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)i?B?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--mem-limit needs a size such as 2G or 512M, got ${JSON.stringify(text)}`, HUB_USAGE);
  const mult: Record<string, number> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
  const bytes = Math.round(Number(m[1]) * mult[m[2].toUpperCase()]);
  if (bytes < 64 * 2 ** 20) throw new UsageError(`--mem-limit ${text} is below 64M: a d2l-ts kernel alone needs about 200M`, HUB_USAGE);
  return bytes;
}

function names(text: string | undefined, flag: string): string[] {
  if (text === undefined) return [];
  const list = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of list) {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(n)) throw new UsageError(`${flag}: ${JSON.stringify(n)} is not a user name (letters, digits, . _ -)`, HUB_USAGE);
  }
  return list;
}

/** `d2l-ts hub`'s options (util.parseArgs, through cli/args.ts). */
export const HUB_OPTIONS: OptionSpec = {
  dir: { type: "string" },
  ip: { type: "string" },
  port: { type: "string" },
  auth: { type: "string" },
  "password-env": { type: "string" },
  "api-token-env": { type: "string" },
  users: { type: "string" },
  admins: { type: "string" },
  "mem-limit": { type: "string" },
  "cpu-limit": { type: "string" },
  ui: { type: "string" },
  assignment: { type: "string", multiple: true },
  "write-config-only": { type: "boolean" },
};

export const HUB_USAGE = `d2l-ts hub [--dir DIR] [--ip IP] [--port N] [--users a,b] [--admins a] [--password-env VAR | --auth pam]
           [--api-token-env VAR] [--mem-limit 2G|none] [--cpu-limit 1|none] [--assignment NB ...] [--ui lab|notebook]
           [--write-config-only]`;

/**
 * Parse `d2l-ts hub`'s arguments (`--opt value` or `--opt=value`) into settings; UsageError on bad input.
 * @example
 * const s = parseHubArgs(["--port", "8000", "--users=ann,bob", "--password-env", "HUB_PW"]);
 * s.users; // ["ann", "bob"]
 */
export function parseHubArgs(args: string[]): HubSettings {
  return hubSettings(parseCommand("hub", args, HUB_OPTIONS, HUB_USAGE, [0, 0, ""]));
}

function hubSettings(p: Parsed): HubSettings {
  const dir = path.resolve(stringOption(p, "dir") ?? "d2l-hub");
  const ip = stringOption(p, "ip") ?? "127.0.0.1";
  const portText = stringOption(p, "port") ?? "8000";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port needs a port number (1-65535), got ${JSON.stringify(portText)}`, HUB_USAGE);
  const auth = stringOption(p, "auth") ?? "dummy";
  if (auth !== "dummy" && auth !== "pam")
    throw new UsageError(`--auth is dummy (a shared password, for tests) or pam (system users, for a course), got ${JSON.stringify(auth)}`, HUB_USAGE);
  const passwordEnv = stringOption(p, "password-env") ?? null;
  const apiTokenEnv = stringOption(p, "api-token-env") ?? null;
  for (const [flag, v] of [
    ["--password-env", passwordEnv],
    ["--api-token-env", apiTokenEnv],
  ] as const) {
    if (v !== null && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v))
      throw new UsageError(`${flag} names an environment variable (such as HUB_PASSWORD), got ${JSON.stringify(v)}`, HUB_USAGE);
  }
  if (auth === "dummy" && passwordEnv === null) {
    throw new UsageError("the dummy authenticator needs a shared password: export HUB_PASSWORD=... and pass --password-env HUB_PASSWORD (or use --auth pam)", HUB_USAGE);
  }
  const users = names(stringOption(p, "users"), "--users");
  const admins = names(stringOption(p, "admins"), "--admins");
  const mem = stringOption(p, "mem-limit") ?? "2G";
  const memLimit = mem === "none" ? null : parseSize(mem);
  const cpu = stringOption(p, "cpu-limit") ?? "1";
  let cpuLimit: number | null = null;
  if (cpu !== "none") {
    cpuLimit = Number(cpu);
    if (!Number.isFinite(cpuLimit) || cpuLimit < 0.05)
      throw new UsageError(`--cpu-limit needs a number of cores such as 1 or 0.5 (or none), got ${JSON.stringify(cpu)}`, HUB_USAGE);
  }
  const ui = stringOption(p, "ui") ?? "lab";
  if (ui !== "notebook" && ui !== "lab") throw new UsageError(`--ui is notebook (the classic Notebook) or lab (JupyterLab), got ${JSON.stringify(ui)}`, HUB_USAGE);
  const assignments: string[] = [];
  const given = p.values.assignment;
  for (const a of Array.isArray(given) ? given.map(String) : []) {
    const file = path.resolve(a);
    if (!fs.existsSync(file) || !file.endsWith(".ipynb"))
      throw new UsageError(`--assignment needs a student notebook (such as assignments/ch3-softmax/student.ipynb); ${a} is not one`, HUB_USAGE);
    assignments.push(file);
  }
  return { dir, ip, port, auth, passwordEnv, apiTokenEnv, users, admins, memLimit, cpuLimit, assignments, ui };
}

/**
 * A value as a Python literal (strings, numbers, booleans, null, arrays of those).
 * @example
 * pyLiteral(["a", null, true]); // '["a", None, True]'
 */
export function pyLiteral(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyLiteral).join(", ")}]`;
  throw new Error(`pyLiteral: cannot write ${typeof v} as Python`);
}

/**
 * jupyterhub_config.py's text for these settings: the template with its @NAME@ fields filled in.
 * @example
 * const text = renderHubConfig(parseHubArgs(["--password-env", "HUB_PW"]));
 * text.includes('AUTH = "dummy"'); // true
 */
export function renderHubConfig(s: HubSettings): string {
  const values: Record<string, unknown> = {
    HUB_DIR: s.dir,
    PROJECT: PROJECT_ROOT,
    KERNEL_PREFIX: path.join(s.dir, "jupyter"),
    IP: s.ip,
    PORT: s.port,
    AUTH: s.auth,
    PASSWORD_ENV: s.passwordEnv,
    API_TOKEN_ENV: s.apiTokenEnv,
    USERS: s.users,
    ADMINS: s.admins,
    MEM_LIMIT: s.memLimit,
    CPU_LIMIT: s.cpuLimit,
    ASSIGNMENTS: s.assignments,
    UI: s.ui,
  };
  return fs.readFileSync(TEMPLATE, "utf8").replace(/@([A-Z_]+)@/g, (all, name: string) => {
    if (!(name in values)) throw new Error(`hub template: unknown field ${all}`);
    return pyLiteral(values[name]);
  });
}

/** Debian's jupyterhub under /usr/bin/python3, or a message saying how to install it. */
function hubProblem(py: string): string | null {
  const r = spawnSync(py, ["-c", "import jupyterhub, jupyterhub.singleuser; print(jupyterhub.__version__)"], { encoding: "utf8" });
  if (r.status !== 0) return `JupyterHub is not installed for ${py}. Install Debian's jupyterhub 3.0 (it brings node-configurable-http-proxy):\n  ${HUB_APT_HINT}`;
  if (!fs.existsSync("/usr/bin/configurable-http-proxy") && spawnSync("configurable-http-proxy", ["--version"]).status !== 0) {
    return `configurable-http-proxy is missing; install Debian's:\n  sudo apt-get install -y --no-install-recommends node-configurable-http-proxy`;
  }
  return null;
}

/**
 * Write DIR/jupyterhub_config.py and the kernelspec under DIR/jupyter; returns the config's path.
 * @example
 * const cfg = writeHub(parseHubArgs(["--dir", "/tmp/class", "--password-env", "HUB_PW"])); // "/tmp/class/jupyterhub_config.py"
 */
export function writeHub(s: HubSettings): string {
  fs.mkdirSync(path.join(s.dir, "homes"), { recursive: true });
  const prefix = { kind: "prefix" as const, dir: path.join(s.dir, "jupyter") };
  installKernelSpec(prefix);
  installNbExtension(prefix);
  if (s.ui === "lab") {
    // jupyter-server loads d2l-ts's JupyterLab as an extension (lab/d2l_lab), found by PYTHONPATH
    const d = path.join(s.dir, "jupyter", "etc", "jupyter", "jupyter_server_config.d");
    fs.mkdirSync(d, { recursive: true });
    writeFileAtomic(path.join(d, "d2l_lab.json"), JSON.stringify({ ServerApp: { jpserver_extensions: { d2l_lab: true } } }, null, 2));
  }
  const cfg = path.join(s.dir, "jupyterhub_config.py");
  writeFileAtomic(cfg, renderHubConfig(s));
  return cfg;
}

/**
 * `d2l-ts hub [flags]`: write the config and run the hub until Ctrl-C or SIGTERM (which stop every server).
 * @example
 * // HUB_PASSWORD=... d2l-ts hub --dir ~/class --users ann,bob --password-env HUB_PASSWORD
 * cmdHub(["--dir", "/tmp/class", "--users", "ann,bob", "--password-env", "HUB_PASSWORD"]);
 */
export function cmdHub(args: string[]): void {
  const p = parseCommand("hub", args, HUB_OPTIONS, HUB_USAGE, [0, 0, ""]);
  const writeOnly = flagOption(p, "write-config-only");
  const s = hubSettings(p);
  if (s.auth === "pam" && process.getuid?.() !== 0) throw new Error("--auth pam runs each student's server as their system user, which needs the hub to run as root");
  if (s.passwordEnv && !process.env[s.passwordEnv] && !writeOnly)
    throw new Error(`--password-env ${s.passwordEnv}: $${s.passwordEnv} is empty; export the shared password in it first`);
  const py = requireJupyterPython();
  const cfg = writeHub(s);
  console.log(`wrote ${cfg} (the d2l-ts kernel for every user: ${path.join(s.dir, "jupyter")})`);
  if (writeOnly) {
    console.log(`start it with:  cd ${s.dir} && NODE_PATH=/usr/share/nodejs jupyterhub -f jupyterhub_config.py`);
    return;
  }
  const problem = hubProblem(py) ?? (s.ui === "lab" ? labProblem(py) : null);
  if (problem) throw new Error(s.ui === "lab" ? `${problem}\n(or serve the classic Notebook instead: --ui notebook)` : problem);
  if (s.auth === "dummy" && process.getuid?.() === 0) {
    console.log(
      "note: with the dummy login every student's server runs as this user, root: anyone with the password can do what root can. For a class, use --auth pam (docs/hub.md).",
    );
  }
  console.log(`Starting JupyterHub on http://${s.ip}:${s.port}/ (${s.auth} login, ${s.ui} UI); Ctrl-C stops it and every student's server.`);
  const child = spawn(py, ["-m", "jupyterhub", "-f", cfg], {
    cwd: s.dir,
    stdio: "inherit",
    env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" },
  });
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => child.kill(sig === "SIGHUP" ? "SIGTERM" : sig));
}
