// The grading sandbox (notebook/sandbox.ts) with real kernels: KernelClient starts
// this checkout's kernel inside it, cells try what a hostile submission would
// (read the reference, list the submissions, rewrite the project, reach the
// network, read the grader's secrets, kill the grader, exhaust memory), and
// each attempt must fail while an honest cell (tf, d2l, the data folder) works.
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { KernelClient, type CellRun } from "../../notebook/client";
import { sandboxEnv, sandboxSupport, treeRssMiB, planSandbox, NOBODY, NOBODY_MAX_PROCESSES } from "../../notebook/sandbox";
import { spawnSync } from "child_process";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const DATA = process.env.D2L_DATA_DIR ?? path.resolve(ROOT, "..", "shared", "data");
const SECRET = `grader-secret-${crypto.randomBytes(8).toString("hex")}`;
const CHECK_JS = path.join(ROOT, "dist", "lib", "check.js");

let work = "";
let scratch = "";
let hiddenDir = "";
let hiddenFile = "";
let kernel: KernelClient;
let server: http.Server;
let port = 0;
let connections = 0;

/** The text a cell printed to stdout. */
function stdout(run: CellRun): string {
  return run.outputs
    .filter((o) => o.output_type === "stream" && o.name === "stdout")
    .map((o) => String(o.text))
    .join("");
}

/** Run a cell that prints one JSON value, and return the value. */
async function json(k: KernelClient, code: string, timeout = 60): Promise<unknown> {
  const run = await k.execute(code, timeout);
  assert.equal(run.status, "ok", `the cell failed: ${run.ename}: ${run.evalue}\n${JSON.stringify(run.outputs)}`);
  const out = stdout(run).trim().split("\n").pop() ?? "";
  return JSON.parse(out);
}

const sha1 = (file: string): string => crypto.createHash("sha1").update(fs.readFileSync(file)).digest("hex");

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-sandbox-test-"));
  scratch = path.join(work, "scratch");
  hiddenDir = path.join(work, "submissions");
  hiddenFile = path.join(work, "reference.ipynb");
  fs.mkdirSync(scratch);
  fs.mkdirSync(hiddenDir);
  fs.writeFileSync(path.join(hiddenDir, "alice.ipynb"), "alice's answers");
  fs.writeFileSync(hiddenFile, "the reference solution");
  fs.writeFileSync(path.join(scratch, "student.ipynb"), "{}");
  server = http.createServer((_req, res) => res.end("reached"));
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
  kernel = new KernelClient({
    cwd: scratch,
    env: { ...process.env, D2L_DATA_DIR: DATA, D2L_GRADING_TEST_SECRET: SECRET, AWS_SECRET_ACCESS_KEY: SECRET },
    sandbox: { scratch, hide: [hiddenDir, hiddenFile], readOnly: [ROOT, DATA] },
    interruptGrace: 2,
  });
  await kernel.start();
});

after(async () => {
  await kernel?.shutdown();
  server?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test("this machine can make the namespaces the sandbox needs (else every check below would be void)", () => {
  const s = sandboxSupport();
  assert.notEqual(s.mode, "none", `no namespaces here: ${s.reason}`);
  const notes = kernel.sandboxNotes.join("\n");
  assert.match(notes, /network: isolated/);
  assert.doesNotMatch(notes, /NOT/);
});

test("reading a hidden file fails", async () => {
  const r = await json(
    kernel,
    `
    let r: string;
    try { r = "read: " + require("fs").readFileSync(${JSON.stringify(hiddenFile)}, "utf8"); } catch (e) { r = (e as NodeJS.ErrnoException).code ?? String(e); }
    console.log(JSON.stringify(r));`,
  );
  assert.ok(!String(r).startsWith("read"), `the kernel read the hidden reference: ${r}`);
  assert.match(String(r), /EACCES|ENOENT/);
});

test("listing a hidden folder shows nothing of it", async () => {
  const r = await json(
    kernel,
    `
    let r: string[] | string;
    try { r = require("fs").readdirSync(${JSON.stringify(hiddenDir)}); } catch (e) { r = (e as NodeJS.ErrnoException).code ?? String(e); }
    console.log(JSON.stringify(r));`,
  );
  assert.ok(!JSON.stringify(r).includes("alice"), `the kernel listed the submissions: ${JSON.stringify(r)}`);
  assert.ok(Array.isArray(r) ? r.length === 0 : /EACCES|ENOENT/.test(r as string), JSON.stringify(r));
});

test("writing into the project fails and the file is unchanged", async () => {
  const before = sha1(CHECK_JS);
  const r = await json(
    kernel,
    `
    let r = "written";
    try { require("fs").writeFileSync(${JSON.stringify(CHECK_JS)}, "module.exports = { check: () => true };"); } catch (e) { r = (e as NodeJS.ErrnoException).code ?? String(e); }
    try { require("fs").writeFileSync(${JSON.stringify(path.join(ROOT, "dist", "planted.js"))}, "x"); r += " planted"; } catch (e) { r += " " + (e as NodeJS.ErrnoException).code; }
    console.log(JSON.stringify(r));`,
  );
  assert.match(String(r), /^(EROFS|EACCES) (EROFS|EACCES)$/);
  assert.equal(sha1(CHECK_JS), before);
  assert.ok(!fs.existsSync(path.join(ROOT, "dist", "planted.js")));
});

test("writing in the scratch works, and HOME and TMPDIR are the scratch", async () => {
  const r = (await json(
    kernel,
    `
    const fs = require("fs"), os = require("os");
    fs.writeFileSync("answer.txt", "42");
    fs.writeFileSync(require("path").join(os.tmpdir(), "tmp.txt"), "t");
    console.log(JSON.stringify({ home: os.homedir(), tmp: os.tmpdir(), cwd: process.cwd() }));`,
  )) as Record<string, string>;
  assert.equal(fs.readFileSync(path.join(scratch, "answer.txt"), "utf8"), "42");
  assert.equal(fs.readFileSync(path.join(scratch, "tmp.txt"), "utf8"), "t");
  assert.deepEqual(r, { home: fs.realpathSync(scratch), tmp: fs.realpathSync(scratch), cwd: fs.realpathSync(scratch) });
});

test("fetch and net.connect to a server on 127.0.0.1 fail", async () => {
  const r = (await json(
    kernel,
    `
    const out: Record<string, string> = {};
    try { out.fetch = "reached: " + await (await fetch("http://127.0.0.1:${port}/")).text(); } catch (e) { out.fetch = String((e as { cause?: { code?: string } }).cause?.code ?? e); }
    out.connect = await new Promise<string>((resolve) => {
      const s = require("net").connect(${port}, "127.0.0.1", () => { s.end(); resolve("connected"); });
      s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
    });
    console.log(JSON.stringify(out));`,
  )) as Record<string, string>;
  assert.ok(!r.fetch.startsWith("reached"), `fetch reached the grader's server: ${r.fetch}`);
  assert.notEqual(r.connect, "connected");
  assert.match(r.connect, /ENETUNREACH|ECONNREFUSED|EACCES/);
  assert.equal(connections, 0, "the server saw a connection from the kernel");
});

test("the grader's secret environment variables are absent", async () => {
  const r = (await json(kernel, `console.log(JSON.stringify({ keys: Object.keys(process.env), all: JSON.stringify(process.env) }));`)) as { keys: string[]; all: string };
  assert.ok(!r.all.includes(SECRET), "the secret reached the kernel");
  assert.ok(!r.keys.includes("D2L_GRADING_TEST_SECRET") && !r.keys.includes("AWS_SECRET_ACCESS_KEY"));
  assert.ok(!r.keys.includes("JPY_PARENT_PID"));
  assert.ok(r.keys.includes("PATH") && r.keys.includes("HOME"));
});

test("the machine's named sockets in /run are out of sight, and a root grader's kernels have a process limit", async () => {
  const r = (await json(
    kernel,
    `
    const fs = require("fs");
    console.log(JSON.stringify({ run: fs.readdirSync("/run"), nproc: /Max processes +(\\S+)/.exec(fs.readFileSync("/proc/self/limits", "utf8"))![1] }));`,
  )) as { run: string[]; nproc: string };
  assert.deepEqual(r.run, []);
  const own = /Max processes +(\S+)/.exec(fs.readFileSync("/proc/self/limits", "utf8"))![1];
  assert.equal(r.nproc, process.getuid?.() === 0 ? String(NOBODY_MAX_PROCESSES) : own);
});

test("a normal cell works: tf, d2l and the data loaders on the read-only data folder", async () => {
  const r = (await json(
    kernel,
    `
    const s = tf.tensor([1, 2, 3]).sum().arraySync();
    const files = require("fs").readdirSync(process.env.D2L_DATA_DIR!);
    const [train] = await d2l.loadDataFashionMnist(256);
    let shape: number[] = [];
    for await (const [X] of train) { shape = X.shape; break; }
    const lines = await d2l.readTimeMachine();
    console.log(JSON.stringify({ s, files, shape, lines: lines.length }));`,
    120,
  )) as { s: number; files: string[]; shape: number[]; lines: number };
  assert.equal(r.s, 6);
  assert.deepEqual([...r.files].sort(), fs.readdirSync(DATA).sort());
  assert.deepEqual(r.shape, [256, 28, 28, 1]); // NHWC, as tfjs lays images out
  assert.ok(r.lines > 1000, `the Time Machine has ${r.lines} lines`);
});

test("process.kill(process.ppid) and a kill of the grader's pid leave the grader alive", async () => {
  const run = await kernel.execute(
    `
    for (const pid of [process.ppid, ${process.pid}]) { try { process.kill(pid, "SIGKILL"); } catch (e) { console.log((e as NodeJS.ErrnoException).code); } }
    try { process.kill(-${process.pid}, "SIGKILL"); } catch (e) { console.log((e as NodeJS.ErrnoException).code); }`,
    30,
  );
  // Reaching this line is the test: the grader (this process) was not killed.
  assert.ok(["ok", "error", "dead"].includes(run.status));
  process.kill(process.pid, 0);
});

test("a cell blocked in a child process past its limit is killed through the wrappers, with what it started", async () => {
  // The last use of this kernel: it does not survive.
  const marker = `sleep ${90 + Math.floor(Math.random() * 9)}.${process.pid % 1000}`;
  const sleepers = (): number =>
    fs
      .readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, "latin1").replace(/\0/g, " ").trim() === marker;
        } catch {
          return false;
        }
      }).length;
  const run = await kernel.execute(`require("child_process").execSync(${JSON.stringify(marker)});`, 2);
  assert.equal(run.status, "dead", JSON.stringify(run));
  assert.equal(run.ename, "Timeout");
  assert.match(run.evalue ?? "", /did not stop when interrupted; the kernel was killed/);
  assert.equal(kernel.alive, false);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(sleepers(), 0, `${marker} outlived its kernel`);
});

test("a kernel that signals itself dies as outside the sandbox, and the report names the signal", async () => {
  const dir = path.join(work, "abort");
  fs.mkdirSync(dir);
  const k = new KernelClient({ cwd: dir, env: { ...process.env, D2L_DATA_DIR: DATA }, sandbox: { scratch: dir, hide: [], readOnly: [ROOT, DATA] } });
  try {
    await k.start();
    // Were the kernel PID 1 of its namespace, it would ignore this (and abort() would end in SIGSEGV).
    const run = await k.execute(`process.kill(process.pid, "SIGTERM"); await new Promise((r) => setTimeout(r, 5000));`, 20);
    assert.equal(run.status, "dead", JSON.stringify(run));
    assert.equal(run.evalue, "the kernel died while running this cell (killed by SIGTERM)");
    assert.equal(k.exitReason, "killed by SIGTERM");
  } finally {
    await k.shutdown();
  }
});

test("allocating past the memory limit in the kernel: the kernel's own limit (90%) stops the cell with a MemoryError, and the kernel goes on", async () => {
  const limit = 1200;
  const dir = path.join(work, "own-limit");
  fs.mkdirSync(dir);
  const k = new KernelClient({ cwd: dir, env: { ...process.env, D2L_DATA_DIR: DATA }, sandbox: { scratch: dir, hide: [], readOnly: [ROOT, DATA], memoryMiB: limit } });
  try {
    await k.start();
    const run = await k.execute(
      `
      const keep: Buffer[] = [];
      for (let i = 0; i < 30; i++) { keep.push(Buffer.alloc(100 * 2 ** 20, 1)); await new Promise((r) => setTimeout(r, 30)); }
      console.log("allocated", keep.length);`,
      60,
    );
    assert.equal(run.status, "error", JSON.stringify(run));
    assert.equal(run.ename, "MemoryError");
    assert.match(run.evalue ?? "", /over its limit of 1\.1 GiB \(set by D2L_MEMORY_LIMIT=1080M\), so the cell was stopped/);
    assert.ok(!stdout(run).includes("allocated 30"));
    assert.equal(k.alive, true);
    const again = await k.execute("1 + 1", 30);
    assert.equal(again.status, "ok", JSON.stringify(again));
  } finally {
    await k.shutdown();
  }
});

test("memory the kernel's own limit does not see (a child process's) kills the kernel's tree with the out-of-memory reason", async () => {
  const limit = 1200;
  const dir = path.join(work, "oom");
  fs.mkdirSync(dir);
  const k = new KernelClient({ cwd: dir, env: { ...process.env, D2L_DATA_DIR: DATA }, sandbox: { scratch: dir, hide: [], readOnly: [ROOT, DATA], memoryMiB: limit } });
  try {
    await k.start();
    // The kernels are this process's descendants: the watchdog's reader sees them (tf loaded: well over 100 MiB).
    assert.ok(treeRssMiB(process.pid) - process.memoryUsage().rss / 2 ** 20 > 150, "the watchdog would read no memory");
    const run = await k.execute(
      `
      const { execFileSync } = require("child_process");
      execFileSync(process.execPath, ["-e", "const keep = []; for (let i = 0; i < 30; i++) keep.push(Buffer.alloc(100 * 2 ** 20, 1)); setTimeout(() => {}, 60000);"]);
      console.log("allocated 30");`,
      60,
    );
    assert.equal(run.status, "dead", JSON.stringify(run));
    assert.equal(run.ename, "OutOfMemory");
    assert.match(run.evalue ?? "", new RegExp(`^out of memory: the kernel used (\\d+) MiB, the limit is ${limit} MiB$`));
    assert.ok(Number(/used (\d+)/.exec(run.evalue ?? "")?.[1]) > limit);
    assert.ok(!stdout(run).includes("allocated 30"));
    assert.equal(k.alive, false);
    assert.match(k.exitReason, /^out of memory/);
  } finally {
    await k.shutdown();
  }
});

test("a JavaScript heap near V8's limit (three quarters of the memory limit) stops the cell with a MemoryError naming the heap", async () => {
  const dir = path.join(work, "heap");
  fs.mkdirSync(dir);
  const k = new KernelClient({ cwd: dir, env: { ...process.env, D2L_DATA_DIR: DATA }, sandbox: { scratch: dir, hide: [], readOnly: [ROOT, DATA], memoryMiB: 2000 } });
  try {
    await k.start();
    const run = await k.execute("const rows: number[][] = []; while (true) rows.push(new Array(1e6).fill(1.5));", 90);
    assert.equal(run.status, "error", JSON.stringify(run));
    assert.equal(run.ename, "MemoryError");
    assert.match(run.evalue ?? "", /JavaScript heap reached .* of V8's heap limit/);
    const again = await k.execute("1 + 1", 30);
    assert.equal(again.status, "ok", JSON.stringify(again));
  } finally {
    await k.shutdown();
  }
});

test("a grader that is not root gets the same confinement inside a user namespace", () => {
  // As root, run a second grader as nobody; as any other user, this grader is such a grader already.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-sandbox-userns-"));
  fs.chmodSync(dir, 0o777);
  // A folder the kernel may read, with one file in it hidden.
  const ro = path.join(dir, "assignment");
  fs.mkdirSync(ro, { mode: 0o755 });
  const secret = path.join(ro, "reference.txt");
  fs.writeFileSync(secret, "the reference", { mode: 0o644 });
  fs.writeFileSync(path.join(ro, "data.txt"), "open", { mode: 0o644 });
  const script = `
    const { KernelClient } = require(${JSON.stringify(path.join(ROOT, "dist", "notebook", "client.js"))});
    const fs = require("fs"), path = require("path");
    (async () => {
      const scratch = fs.mkdtempSync(path.join(${JSON.stringify(dir)}, "scratch-"));
      const k = new KernelClient({ cwd: scratch, env: { PATH: process.env.PATH, D2L_DATA_DIR: ${JSON.stringify(DATA)} },
        sandbox: { scratch, hide: [${JSON.stringify(secret)}], readOnly: [${JSON.stringify(ROOT)}, ${JSON.stringify(DATA)}, ${JSON.stringify(ro)}] } });
      await k.start();
      const run = await k.execute(\`
        const fs = require("fs"); const r: Record<string, unknown> = { uid: process.getuid!() };
        const code = (f: () => unknown) => { try { f(); return "ok"; } catch (e) { return (e as NodeJS.ErrnoException).code; } };
        r.read = code(() => fs.readFileSync(${JSON.stringify(secret)}, "utf8"));
        r.open = fs.readFileSync(${JSON.stringify(path.join(ro, "data.txt"))}, "utf8");
        r.project = code(() => fs.writeFileSync(${JSON.stringify(CHECK_JS)}, "x"));
        r.scratch = code(() => fs.writeFileSync("mine.txt", "x"));
        r.net = await new Promise((res) => require("net").connect(${port}, "127.0.0.1").on("connect", () => res("connected")).on("error", (e: NodeJS.ErrnoException) => res(e.code)));
        r.sum = tf.tensor([1, 2, 3]).sum().arraySync();
        console.log(JSON.stringify(r));\`, 60);
      const out = run.outputs.filter((o) => o.name === "stdout").map((o) => o.text).join("").trim();
      console.log(JSON.stringify({ notes: k.sandboxNotes, status: run.status, evalue: run.evalue, cell: out ? JSON.parse(out) : null }));
      await k.shutdown();
    })().catch((e) => { console.log(JSON.stringify({ error: String(e.stack || e) })); process.exit(1); });`;
  try {
    const asRoot = process.getuid?.() === 0;
    const argv = asRoot ? ["setpriv", "--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", process.execPath] : [process.execPath];
    const before = sha1(CHECK_JS);
    const r = spawnSync(argv[0], [...argv.slice(1), "-e", script], { encoding: "utf8", timeout: 120_000, cwd: dir, env: { PATH: process.env.PATH } });
    const result = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as {
      notes: string[];
      status: string;
      evalue?: string;
      cell: Record<string, unknown> | null;
      error?: string;
    };
    assert.equal(result.error, undefined, `${result.error}\n${r.stderr}`);
    assert.equal(result.status, "ok", result.evalue);
    assert.match(result.notes.join("\n"), /user: the grader's own uid \d+ .*inside a user namespace/);
    assert.match(result.notes.join("\n"), /network: isolated/);
    assert.deepEqual(result.cell, { uid: 0, read: "EACCES", open: "open", project: "EROFS", scratch: "ok", net: "ENETUNREACH", sum: 6 });
    assert.equal(sha1(CHECK_JS), before);
    assert.equal(connections, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("where no namespace can be made, the kernel still runs, and the notes say plainly what is not isolated", () => {
  const plan = planSandbox(
    { scratch, hide: [hiddenFile], readOnly: [ROOT] },
    ["node", "kernel"],
    { cwd: scratch, ipcDir: scratch, baseEnv: { PATH: "/usr/bin", API_TOKEN: "t" } },
    { mode: "none", reason: "unshare failed (Operation not permitted)", unshare: "", setpriv: "", bash: "" },
  );
  assert.deepEqual(plan.argv, ["node", "kernel"]);
  assert.equal(plan.env.API_TOKEN, undefined);
  assert.equal(plan.uid, null);
  const notes = plan.notes.join("\n");
  assert.match(notes, /network: NOT isolated \(unshare failed \(Operation not permitted\)\)/);
  assert.match(notes, /files: NOT isolated/);
  assert.match(notes, /memory: 4096 MiB/);
});

test("sandboxEnv keeps only the allow-list, HOME, TMPDIR, a V8 heap limit and the kernel's own memory limit", () => {
  const env = sandboxEnv(
    { PATH: "/usr/bin", LC_ALL: "C", D2L_QUICK: "1", GITHUB_TOKEN: "t", NODE_OPTIONS: "--require /evil.js", EXTRA: "e" },
    { scratch: "/s", hide: [], readOnly: [], memoryMiB: 2000, envAllow: ["EXTRA"] },
  );
  assert.deepEqual(env, {
    PATH: "/usr/bin",
    LC_ALL: "C",
    D2L_QUICK: "1",
    EXTRA: "e",
    HOME: "/s",
    TMPDIR: "/s",
    NODE_OPTIONS: "--max-old-space-size=1500",
    D2L_MEMORY_LIMIT: "1800M",
  });
  // a sandbox too small for the kernel's own limit keeps only the grader's hard one
  assert.equal(sandboxEnv({}, { scratch: "/s", hide: [], readOnly: [], memoryMiB: 300 }).D2L_MEMORY_LIMIT, undefined);
});

test("bad sandbox options get an error that says what to fix", () => {
  assert.throws(
    () => planSandbox({ scratch: path.join(work, "missing"), hide: [], readOnly: [] }, ["node"], { cwd: work, ipcDir: work, baseEnv: {} }),
    /does not exist; give an existing path/,
  );
  assert.throws(() => planSandbox({ scratch: work, hide: [], readOnly: [], memoryMiB: 10 }, ["node"], { cwd: work, ipcDir: work, baseEnv: {} }), /at least 256/);
  assert.throws(() => planSandbox({ scratch, hide: [work], readOnly: [] }, ["node"], { cwd: scratch, ipcDir: scratch, baseEnv: {} }), /lies inside the hidden path/);
});
