/**
 * The process sandbox a grader runs a student's kernel in (and the clean
 * "check" kernel beside it). Linux only; built from util-linux's `unshare`
 * and `setpriv` and a short bash script that runs inside the new namespaces
 * before the kernel starts:
 *
 * - environment: an allow-list; HOME and TMPDIR are the scratch folder;
 * - network: a network namespace of its own (only a loopback that is down);
 * - files: a private mount namespace in which every mount is read-only, a
 *   fresh /tmp, /var/tmp and /dev/shm (small tmpfs), the scratch folder the
 *   only writable place, an empty /run (the machine's named sockets), and
 *   the `hide` paths covered by an unreadable empty tmpfs (folders) or an
 *   unreadable empty file (files);
 * - user: `nobody` when the grader is root (so files only their owner may
 *   read stay closed as well), otherwise the grader's uid inside a user
 *   namespace, with every capability dropped and no_new_privs set;
 * - processes: PID and IPC namespaces of its own (the grader cannot be seen or
 *   signalled; bash is its PID 1 and the kernel's parent, and when the
 *   kernel ends, so does everything it started);
 *   as nobody, RLIMIT_NPROC stops a fork bomb.
 *
 * Memory is limited by an RSS watchdog in KernelClient ({@link treeRssMiB});
 * RLIMIT_AS is not used because the wasm backend reserves large address
 * ranges it never touches.
 *
 * Where namespaces cannot be made, the kernel still runs with the
 * allow-listed environment and the memory limit, and {@link SandboxPlan.notes}
 * says plainly what is NOT isolated and why.
 */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { MIN_MEMORY_LIMIT } from "../kernel/memory";

/** Where and how a grader's kernel is confined. */
export interface SandboxOptions {
  /** The only folder the kernel may write: its scratch copy of the submission (HOME and TMPDIR too). */
  scratch: string;
  /** Paths the kernel must not be able to read at all (the reference notebook, the submissions folder, ...). */
  hide: string[];
  /**
   * Paths it may read (the project checkout with node_modules/dist, D2L_DATA_DIR).
   * Everything else stays visible but read-only (and, for a root grader, is
   * read as `nobody`, so what only its owner may read stays closed); list
   * anything secret in `hide`.
   */
  readOnly: string[];
  /** MiB for the kernel's whole process tree (RSS, polled; default 4096). */
  memoryMiB?: number;
  /** Extra environment variable names passed through besides the allow-list. */
  envAllow?: string[];
}

/** Which kind of namespaces this machine lets this process make. */
export type SandboxMode = "root" | "userns" | "none";

/** What {@link sandboxSupport} found. */
export interface SandboxSupport {
  mode: SandboxMode;
  /** Why namespaces could not be made (mode "none"), else "". */
  reason: string;
  unshare: string;
  setpriv: string;
  bash: string;
}

/** How to start a kernel inside the sandbox: the command, its environment and what holds. */
export interface SandboxPlan {
  /** The full command: wrappers first, then the kernel's own argv. */
  argv: string[];
  /** The kernel's whole environment (the allow-list, HOME, TMPDIR, NODE_OPTIONS). */
  env: NodeJS.ProcessEnv;
  /** What holds and what could not be done, one line each, for the grader's report. */
  notes: string[];
  /** The uid the kernel runs as, when it differs from the grader's (65534, nobody), else null. */
  uid: number | null;
  /** The limit the watchdog enforces, in MiB. */
  memoryMiB: number;
  /** V8's heap limit (--max-old-space-size in NODE_OPTIONS), in MiB. */
  heapMiB: number;
}

/** The uid and gid of `nobody`, which a root grader's kernels run as. */
export const NOBODY = 65534;

/** RLIMIT_NPROC of a root grader's kernels: nobody's processes and threads, all its kernels together. */
export const NOBODY_MAX_PROCESSES = 4096;

/** Variables a kernel may see from the grader's environment, besides {@link SandboxOptions.envAllow}. */
export const ENV_ALLOW: readonly string[] = [
  "PATH",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TERM",
  "D2L_QUICK",
  "D2L_DATA_DIR",
  "D2L_BACKEND",
  "D2L_WASM_THREADS",
  "D2L_GRADING",
  "D2L_NATIVE_ADDON",
  "D2L_CONV_GRAD_KERNELS",
  "D2L_FONT",
  "D2L_NMT_DATASET",
  "D2L_TIMEOUT",
];

/** Names matched by prefix (the locale's LC_ALL, LC_CTYPE, ...). */
const ENV_ALLOW_PREFIX = ["LC_"];

function which(name: string, fallbacks: string[]): string {
  for (const dir of [...(process.env.PATH ?? "").split(":").filter(Boolean), ...fallbacks]) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // try the next folder
    }
  }
  return "";
}

let cached: SandboxSupport | null = null;

/**
 * Probe once (then cached) which namespaces this process may make: as root,
 * `unshare --net --mount --pid`; otherwise the same inside a user namespace
 * (`--user --map-root-user`). Each probe also mounts a tmpfs, as the real
 * sandbox does.
 *
 * @example
 * const s = sandboxSupport();
 * if (s.mode === "none") console.log(`no isolation here: ${s.reason}`);
 */
export function sandboxSupport(): SandboxSupport {
  if (cached) return cached;
  const sys = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];
  const unshare = which("unshare", sys);
  const setpriv = which("setpriv", sys);
  const bash = which("bash", sys);
  const base = { unshare, setpriv, bash };
  if (process.platform !== "linux") return (cached = { ...base, mode: "none", reason: `namespaces are a Linux feature and this is ${process.platform}` });
  const missing = [
    ["unshare", unshare],
    ["setpriv", setpriv],
    ["bash", bash],
  ]
    .filter(([, p]) => !p)
    .map(([n]) => n);
  if (missing.length) return (cached = { ...base, mode: "none", reason: `${missing.join(" and ")} not found (Debian's util-linux and bash provide them)` });
  const probe = (flags: string[]): string => {
    const r = spawnSync(
      unshare,
      [...flags, "--net", "--mount", "--pid", "--fork", "--kill-child", bash, "-c", "mount --make-rprivate / && mount -t tmpfs -o size=4k d2l-probe /tmp"],
      {
        encoding: "utf8",
        timeout: 10_000,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    return r.status === 0 ? "" : (r.stderr || r.error?.message || `exit ${r.status}`).trim().split("\n")[0];
  };
  const errors: string[] = [];
  if (process.getuid?.() === 0) {
    const e = probe([]);
    if (!e) return (cached = { ...base, mode: "root", reason: "" });
    errors.push(`as root: ${e}`);
  }
  const e = probe(["--user", "--map-root-user"]);
  if (!e) return (cached = { ...base, mode: "userns", reason: "" });
  errors.push(`in a user namespace: ${e}`);
  return (cached = { ...base, mode: "none", reason: `unshare failed (${errors.join("; ")})` });
}

/** Quote for bash: one single-quoted word. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function real(p: string, what: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    throw new Error(`sandbox: the ${what} path ${abs} does not exist; give an existing path (create the scratch folder before starting the kernel)`);
  }
}

function inside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith("/") ? dir : dir + "/");
}

/** The grader's mount points (its mount namespace is what the sandbox's starts as), minus the kernel's own filesystems. */
function mountPoints(): string[] {
  let text = "";
  try {
    text = fs.readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return ["/"];
  }
  const points = new Set<string>();
  for (const line of text.split("\n")) {
    const mp = line.split(" ")[4];
    // Octal escapes (a space in the path) are rare; such a mount stays as it is.
    if (!mp || mp.includes("\\")) continue;
    if (["/proc", "/sys", "/dev"].some((d) => inside(mp, d))) continue;
    points.add(mp);
  }
  return [...points];
}

/**
 * The kernel's environment: the allow-listed variables of `base` (plus
 * `envAllow`), HOME and TMPDIR set to the scratch folder, NODE_OPTIONS
 * with a V8 heap limit (the grader's own NODE_OPTIONS is never passed on), and
 * D2L_MEMORY_LIMIT, the kernel's own limit, at 90% of the sandbox's.
 * D2L_CACHE_DIR is passed on when it names an existing folder (mounted
 * read-only: cached data sets load, nothing new can be stored); otherwise the
 * cache is `$HOME/.cache/d2l-ts` inside the scratch.
 *
 * @example
 * sandboxEnv({ PATH: "/usr/bin", AWS_SECRET: "x" }, { scratch: "/tmp/s", hide: [], readOnly: [] });
 * // { PATH: "/usr/bin", HOME: "/tmp/s", TMPDIR: "/tmp/s", NODE_OPTIONS: "--max-old-space-size=3072", D2L_MEMORY_LIMIT: "3686M" }
 */
export function sandboxEnv(base: NodeJS.ProcessEnv, opts: SandboxOptions): NodeJS.ProcessEnv {
  const allow = new Set([...ENV_ALLOW, ...(opts.envAllow ?? [])]);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) {
    if (v === undefined) continue;
    if (allow.has(k) || ENV_ALLOW_PREFIX.some((p) => k.startsWith(p))) env[k] = v;
  }
  const cache = base.D2L_CACHE_DIR;
  if (cache && fs.existsSync(cache)) env.D2L_CACHE_DIR = cache;
  env.HOME = opts.scratch;
  env.TMPDIR = opts.scratch;
  env.NODE_OPTIONS = `--max-old-space-size=${heapMiB(memoryOf(opts))}`;
  // The kernel's own limit (kernel/memory.ts) a little under the grader's hard one: a runaway cell ends
  // with a MemoryError that names memory and the tensors alive, and the kernel goes on, before the
  // grader's watchdog has to kill the whole tree. Below the kernel's smallest limit, only the hard one.
  const own = Math.floor(memoryOf(opts) * 0.9);
  if (own >= KERNEL_MIN_LIMIT_MIB) env.D2L_MEMORY_LIMIT = `${own}M`;
  return env;
}

/** The smallest limit the kernel accepts (tf and d2l loaded take about 260 MiB). */
const KERNEL_MIN_LIMIT_MIB = MIN_MEMORY_LIMIT / 2 ** 20;

function memoryOf(opts: SandboxOptions): number {
  const m = opts.memoryMiB ?? 4096;
  if (!Number.isFinite(m) || m < 256) throw new Error(`sandbox: memoryMiB must be a number of MiB, at least 256 (a kernel with tf loaded needs about 200); got ${m}`);
  return Math.floor(m);
}

/** V8's heap limit: three quarters of the tree's, so a runaway heap usually dies with its own message first. */
function heapMiB(memoryMiB: number): number {
  return Math.max(192, Math.floor(memoryMiB * 0.75));
}

/**
 * Plan a sandboxed kernel: the wrapper command around `kernelArgv`, its
 * environment, and notes on what holds. `cwd` must lie inside the scratch or
 * a read-only path; `ipcDir` is the folder of the kernel's ipc sockets and
 * connection file (it stays writable). `support` is what {@link sandboxSupport}
 * found (tests pass another to see each machine's plan). Throws with what to fix for a path
 * that does not exist or a scratch that lies inside a hidden path.
 *
 * @example
 * const plan = planSandbox({ scratch, hide: [reference], readOnly: [projectRoot] },
 *   [process.execPath, "bin/d2l-ts.js", "kernel", "--connection-file", file], { cwd: scratch, ipcDir, baseEnv: process.env });
 * spawn(plan.argv[0], plan.argv.slice(1), { env: plan.env, detached: true });
 */
export function planSandbox(
  opts: SandboxOptions,
  kernelArgv: string[],
  ctx: { cwd: string; ipcDir: string; baseEnv: NodeJS.ProcessEnv },
  support: SandboxSupport = sandboxSupport(),
): SandboxPlan {
  if (!opts || typeof opts.scratch !== "string" || !Array.isArray(opts.hide) || !Array.isArray(opts.readOnly)) {
    throw new Error("sandbox: expected { scratch: string, hide: string[], readOnly: string[] } (memoryMiB and envAllow optional)");
  }
  const memoryMiB = memoryOf(opts);
  const scratch = real(opts.scratch, "scratch");
  const ipcDir = real(ctx.ipcDir, "ipc");
  const cwd = real(ctx.cwd, "kernel folder");
  const readOnly = [...new Set(opts.readOnly.map((p) => real(p, "read-only")))].sort((a, b) => a.length - b.length);
  const notes: string[] = [];
  const hide: string[] = [];
  for (const h of opts.hide) {
    const abs = path.resolve(h);
    if (!fs.existsSync(abs)) {
      notes.push(`hidden: ${abs} does not exist, nothing to hide`);
      continue;
    }
    const r = fs.realpathSync(abs);
    if (inside(scratch, r) || inside(ipcDir, r))
      throw new Error(`sandbox: the scratch ${scratch} (or the kernel's socket folder) lies inside the hidden path ${r}; put the scratch copy elsewhere`);
    hide.push(r);
  }
  const env = sandboxEnv(ctx.baseEnv, { ...opts, scratch });
  if (env.D2L_CACHE_DIR) readOnly.push(real(env.D2L_CACHE_DIR, "D2L_CACHE_DIR"));
  const heap = heapMiB(memoryMiB);
  notes.push(`environment: only ${Object.keys(env).sort().join(", ")} (HOME and TMPDIR are the scratch folder)`);
  notes.push(`memory: ${memoryMiB} MiB for the kernel's whole process tree (RSS polled every 250 ms), V8 heap ${heap} MiB`);
  if (support.mode === "none") {
    notes.push(`network: NOT isolated (${support.reason})`);
    notes.push(`files: NOT isolated: the kernel can read and write whatever user ${process.getuid?.() ?? "?"} can, the hidden paths included (${support.reason})`);
    notes.push("user: NOT changed: the kernel runs as the grader's user");
    return { argv: kernelArgv, env, notes, uid: null, memoryMiB, heapMiB: heap };
  }
  const asNobody = support.mode === "root";
  if (!inside(cwd, scratch) && !readOnly.some((r) => inside(cwd, r))) {
    throw new Error(`sandbox: the kernel's folder ${cwd} is neither inside the scratch ${scratch} nor a read-only path; run it in the scratch copy`);
  }
  // Everything that must stay reachable is opened before the new /tmp covers it, then bound back from the open descriptor.
  // A read-only path given through a symlink (a data folder linked under /tmp, say) is bound back at the given
  // path too, so that the environment's D2L_DATA_DIR still names it once the new /tmp hides the link.
  const given = [...opts.readOnly, ...(env.D2L_CACHE_DIR ? [env.D2L_CACHE_DIR] : [])].map((p) => path.resolve(p));
  const aliases = given.filter((g) => !readOnly.includes(g)).map((g) => ({ p: g, src: fs.realpathSync(g), rw: false }));
  const keep = [...readOnly.map((p) => ({ p, src: p, rw: false })), ...aliases, { p: scratch, src: scratch, rw: true }, { p: ipcDir, src: ipcDir, rw: true }];
  const s: string[] = ["set -e", "mount --make-rprivate /"];
  keep.forEach((k, i) => s.push(`exec ${10 + i}<${q(k.src)}`));
  for (const mp of mountPoints()) s.push(`mount -o remount,bind,ro ${q(mp)} 2>/dev/null || true`);
  s.push("mount -t tmpfs -o mode=1777,size=64m,nosuid,nodev d2l-tmp /tmp");
  s.push("[ -d /var/tmp ] && mount -t tmpfs -o mode=1777,size=16m,nosuid,nodev d2l-tmp /var/tmp || true");
  s.push("[ -d /dev/shm ] && mount -t tmpfs -o mode=1777,size=64m,nosuid,nodev d2l-shm /dev/shm || true");
  // /run holds the machine's named sockets (a read-only mount does not stop connect()); the kernel needs none of them.
  s.push("[ -d /run ] && mount -t tmpfs -o mode=755,size=1m,nosuid,nodev d2l-run /run || true");
  keep.forEach((k, i) => {
    const t = q(k.p);
    s.push(`if [ -d /proc/self/fd/${10 + i} ]; then mkdir -p ${t}; else mkdir -p "$(dirname ${t})"; [ -e ${t} ] || : > ${t}; fi`);
    s.push(`mount --no-canonicalize --bind /proc/self/fd/${10 + i} ${t}`);
    s.push(`mount -o remount,bind,${k.rw ? "rw" : "ro"},nosuid,nodev ${t}`);
    s.push(`exec ${10 + i}<&-`);
  });
  // Hidden: folders under an empty tmpfs nobody may open; files under an empty file nobody may read.
  s.push('H=$(mktemp /tmp/.d2l-hidden.XXXXXX) && chmod 000 "$H"');
  for (const h of hide) {
    const t = q(h);
    s.push(`if [ -d ${t} ]; then mount -t tmpfs -o ro,mode=000,size=4k,nosuid,nodev d2l-hidden ${t}; elif [ -e ${t} ]; then mount --bind "$H" ${t}; fi`);
  }
  s.push('rm -f "$H"');
  // mount(8) kept its notes in /run/mount; the kernel gets /run empty and read-only.
  s.push("if mountpoint -q /run; then rm -rf /run/mount; mount -n -o remount,bind,ro /run; fi");
  s.push(`cd ${q(cwd)}`);
  // A fork bomb stops at this many processes (threads count too) of nobody's, all its kernels together; a kernel uses about 30.
  if (asNobody) s.push(`ulimit -u ${NOBODY_MAX_PROCESSES}`);
  const drop = ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--pdeathsig", "KILL"];
  if (asNobody) drop.unshift("--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups");
  // bash stays as the namespace's PID 1 and the kernel is its child: a PID 1 ignores its own signals (abort() would end
  // in SIGSEGV, kill(own pid) would do nothing) and must reap orphans. bash reaps them; the kernel's end is its exit
  // status, 128 + the signal when killed (KernelClient reads that back as the signal).
  s.push(`${q(support.setpriv)} ${drop.join(" ")} -- "$@" &`);
  s.push("wait $! || exit $?");
  const argv = [
    support.setpriv,
    "--pdeathsig",
    "KILL",
    "--",
    support.unshare,
    ...(asNobody ? [] : ["--user", "--map-root-user"]),
    "--net",
    "--mount",
    "--pid",
    "--ipc",
    "--uts",
    "--fork",
    "--kill-child",
    "--mount-proc",
    support.bash,
    "-c",
    s.join("\n"),
    "d2l-sandbox",
    ...kernelArgv,
  ];
  notes.push("network: isolated (a network namespace of its own: no interface but a loopback that is down)");
  notes.push(
    `files: a private mount namespace: every mount read-only, a fresh /tmp, /var/tmp and /dev/shm, an empty /run; writable: ${scratch}; hidden: ${hide.length ? hide.join(", ") : "nothing"}`,
  );
  notes.push(
    asNobody
      ? `user: nobody (${NOBODY}), no capabilities, no_new_privs; files only their owner may read stay closed`
      : `user: the grader's own uid ${process.getuid?.() ?? "?"} (not root, so there is no other user to switch to), inside a user namespace, no capabilities, no_new_privs`,
  );
  notes.push(
    `processes: PID and IPC namespaces of their own (the grader and other kernels are invisible; everything the kernel starts ends with it)${asNobody ? `; at most ${NOBODY_MAX_PROCESSES} processes and threads of nobody's` : ""}`,
  );
  return { argv, env, notes, uid: asNobody ? NOBODY : null, memoryMiB, heapMiB: heap };
}

/**
 * Resident memory (VmRSS) of `pid` and all its descendants, in MiB, read
 * from /proc (0 when the process is gone or /proc cannot be read).
 *
 * @example
 * treeRssMiB(child.pid!); // 412.5
 */
export function treeRssMiB(pid: number): number {
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return 0;
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    if (e.charCodeAt(0) < 48 || e.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, "latin1");
    } catch {
      continue;
    }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = children.get(ppid);
    if (list) list.push(Number(e));
    else children.set(ppid, [Number(e)]);
  }
  let kib = 0;
  const todo = [pid];
  const seen = new Set<number>();
  while (todo.length) {
    const p = todo.pop() as number;
    if (seen.has(p)) continue;
    seen.add(p);
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, "latin1"));
      if (m) kib += Number(m[1]);
    } catch {
      // gone meanwhile
    }
    todo.push(...(children.get(p) ?? []));
  }
  return kib / 1024;
}

/**
 * Give `p` (and, for a folder, everything in it) to `uid`:`uid`, so that a
 * kernel running as that user can write its scratch copy and bind its ipc
 * sockets. Symbolic links are changed themselves, never followed.
 *
 * @example
 * chownTree("/tmp/grade-alice", NOBODY);
 */
export function chownTree(p: string, uid: number): void {
  fs.lchownSync(p, uid, uid);
  if (!fs.lstatSync(p).isDirectory()) return;
  for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), uid);
}
