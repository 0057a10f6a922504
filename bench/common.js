/**
 * What every benchmark driver in bench/ shares: command-line options, the
 * machine header (with the load average), running one measurement in a fresh
 * process, the median, the reference (PyTorch at its best: the faster of its
 * thread counts) and the plain-text table.
 */
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const PYTHON = process.env.D2L_BENCH_PYTHON || "/usr/bin/python3";

function flag(name) {
  return process.argv.includes(`--${name}`);
}
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
/** A bad option: say what was expected and stop. */
function die(prog, msg) {
  console.error(`${prog}: ${msg}`);
  process.exit(2);
}
/** `--name a,b,c` as a list, each checked against `known` (when given). */
function list(prog, name, fallback, known) {
  const items = String(arg(name, fallback))
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of items) if (known && !known.includes(s)) die(prog, `unknown ${name.replace(/s$/, "")} "${s}"; expected some of ${known.join(",")}`);
  return items;
}
/** `--name N`: a positive number (an integer where `integer`). */
function positive(prog, name, fallback, integer = false) {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) die(prog, `--${name} must be a positive ${integer ? "integer" : "number"}, got ${arg(name, "")}`);
  return v;
}
/**
 * PyTorch's thread counts: `--torch-threads 1,2` (the default; each a run of
 * its own, the reference is the faster), a single `--torch-threads 2` too;
 * none with `--no-torch`.
 */
function torchThreads(prog, fallback = "1,2") {
  if (flag("no-torch")) return [];
  const items = String(arg("torch-threads", fallback))
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const t of items) if (!/^[1-9]\d*$/.test(t)) die(prog, `--torch-threads takes positive integers separated by commas (e.g. 1,2), got ${arg("torch-threads", "")}`);
  return items.map(Number);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The 1, 5 and 15-minute load averages, as "0.12 0.34 0.56". */
function loadavg() {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

function cpuinfo() {
  try {
    return fs.readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return ""; // not Linux
  }
}

/**
 * This machine's fp32 peak: logical cores x clock (cpu MHz of /proc/cpuinfo)
 * x FLOPs per cycle of the widest vector ISA it has (avx512f: 64, avx2 + fma:
 * 32, else 16: two FMA units of 16, 8 or 4 lanes). `text` says how it was computed.
 */
function peakFlops() {
  const info = cpuinfo();
  const cores = os.cpus().length;
  const mhz = Number((/^cpu MHz\s*:\s*(.*)$/m.exec(info) || [])[1]) || (os.cpus()[0] || {}).speed || 0;
  const flags = new Set(((/^flags\s*:\s*(.*)$/m.exec(info) || [])[1] || "").split(/\s+/));
  const [isa, perCycle] = flags.has("avx512f") ? ["avx512f", 64] : flags.has("avx2") && flags.has("fma") ? ["avx2+fma", 32] : ["no avx2+fma", 16];
  const gflops = (cores * mhz * perCycle) / 1000;
  return { gflops, text: `peak fp32 ${gflops.toFixed(0)} GFLOP/s = ${cores} cores x ${(mhz / 1000).toFixed(2)} GHz (cpu MHz, /proc/cpuinfo) x ${perCycle} FLOPs/cycle (${isa})` };
}

/** Debian's torch calls whatever libblas.so.3 the alternatives select; the reference is OpenBLAS. */
function blas() {
  let target = "";
  try {
    target = fs.realpathSync("/usr/lib/x86_64-linux-gnu/libblas.so.3");
  } catch {
    return "BLAS: libblas.so.3 not found";
  }
  if (/openblas/.test(target)) return `BLAS: OpenBLAS (${target})`;
  return `BLAS: ${target} -- NOT OpenBLAS: PyTorch is slower than the reference; apt-get install libopenblas0-pthread selects it`;
}

function version(pkg) {
  try {
    return require(`${pkg}/package.json`).version;
  } catch {
    return "not installed";
  }
}

/**
 * The header every table starts with: the machine (cores, CPU, clock, RAM, load
 * average now), node and tfjs, and (unless `threads` is empty) Python, torch,
 * the thread counts PyTorch runs with and its BLAS.
 */
function machineHeader(threads) {
  const info = cpuinfo();
  let model = (/^model name\s*:\s*(.*)$/m.exec(info) || [])[1] || (os.cpus()[0] || {}).model || "unknown CPU";
  const mhz = (/^cpu MHz\s*:\s*(.*)$/m.exec(info) || [])[1];
  if (mhz) model += ` (${Number(mhz).toFixed(0)} MHz)`;
  const lines = [
    `machine: ${os.cpus().length} logical cores, ${model.trim()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}; load average at start ${loadavg()}`,
    `node ${process.version}; @tensorflow/tfjs ${version("@tensorflow/tfjs")}, tfjs-backend-wasm ${version("@tensorflow/tfjs-backend-wasm")}; D2L_WASM_THREADS=${process.env.D2L_WASM_THREADS || "(default: cores, at most 4)"}`,
  ];
  if (threads.length) {
    const t = spawnSync(PYTHON, ["-c", "import sys, torch; print(sys.version.split()[0], torch.__version__)"], { encoding: "utf8" });
    const [py, tv] = (t.stdout || "").trim().split(" ");
    lines.push(
      tv
        ? `python ${py} (${PYTHON}), torch ${tv}, run on ${threads.join(" and ")} thread(s), the reference the faster; ${blas()}`
        : `pytorch: not available (${PYTHON}: ${(t.stderr || "").trim().split("\n").pop()})`,
    );
  }
  return lines;
}

/**
 * One measurement in a fresh process: its last JSON line plus `wall`
 * (seconds), or `{ error, wall }` with the first error line. `env` adds to the
 * environment; `echo` (a RegExp) passes the child's matching stderr lines on.
 */
function runChild(cmd, args, timeout, { env = {}, echo } = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    cwd: ROOT,
    env: { ...process.env, D2L_QUICK: "", ...env },
    timeout: timeout * 1000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const wall = (Date.now() - t0) / 1000;
  if (echo) for (const l of (r.stderr || "").split("\n").filter((x) => echo.test(x))) process.stderr.write(l + "\n");
  const line = (r.stdout || "")
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (r.status === 0 && line) return { ...JSON.parse(line), wall };
  if (r.error && r.error.code === "ETIMEDOUT") return { error: `timed out after ${timeout} s`, wall };
  if (r.signal) return { error: `killed by ${r.signal} after ${wall.toFixed(0)} s`, wall };
  const lines = ((r.stderr || "") + (r.stdout || ""))
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  // The error message, not the stack under it.
  const msg = lines.find((l) => /^(\w*Error|Error)\b|Exception|Traceback/.test(l) && !l.startsWith("Traceback")) || lines.slice(-1)[0] || `exit ${r.status}`;
  return { error: msg.slice(0, 200), wall };
}

/** The peak resident memory a child reported (`maxRssMiB`), as text. */
function rss(x) {
  return x && Number.isFinite(x.maxRssMiB) ? x.maxRssMiB.toFixed(0) : "";
}

/**
 * The reference among `values` (label -> number, higher is better, only the
 * PyTorch runs): `{ label, value }` of the faster, or undefined when none ran.
 */
function best(values) {
  let out;
  for (const [label, value] of Object.entries(values)) if (Number.isFinite(value) && (!out || value > out.value)) out = { label, value };
  return out;
}

/** "0.512x" of `value` over the reference, "-" without one. */
function ratio(value, ref) {
  return ref && Number.isFinite(value) ? `${(value / ref.value).toFixed(3)}x` : "-";
}

/** A plain-text table; columns whose index `right(i)` says are right-aligned. */
function table(rows, header, right = () => false) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? "").length)));
  const fmt = (r) =>
    r
      .map((c, i) => (right(i) ? String(c ?? "").padStart(widths[i]) : String(c ?? "").padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

/**
 * The timed training loop of a child (bench/tfjs_workloads.js, bench/cnn.js): `warmup` calls of
 * `step()` (each returns the loss tensor), more while less than minSeconds / 2 has passed, stopped
 * once maxSeconds / 2 is spent; then `steps` timed calls, more while less than minSeconds has passed,
 * stopped once maxSeconds is spent (each phase at least one step); the clock stops after the last loss
 * is read. minSeconds (default 0) keeps a fast step's timing from being a few milliseconds of the
 * machine's noise. Returns the steps of each phase, the seconds, the last loss and the tensors the
 * timed steps left behind.
 */
async function trainSteps(tf, step, { steps, warmup, maxSeconds, minSeconds = 0 }) {
  let t0 = performance.now();
  let warm = 0;
  const elapsed = () => (performance.now() - t0) / 1000;
  while (warm < warmup || (warmup > 0 && elapsed() < minSeconds / 2)) {
    const l = step();
    await l.data();
    l.dispose();
    warm++;
    if (elapsed() > maxSeconds / 2) break;
  }
  const before = tf.memory().numTensors;
  t0 = performance.now();
  let done = 0;
  let last = null;
  while (done < steps || elapsed() < minSeconds) {
    if (last) last.dispose();
    last = step();
    done++;
    if (elapsed() > maxSeconds) break;
  }
  const loss = (await last.data())[0];
  const seconds = (performance.now() - t0) / 1000;
  last.dispose();
  return { warm, done, seconds, loss, leaked: tf.memory().numTensors - before };
}

/** The footer line every table ends with. */
function loadFooter() {
  return `load average at the end: ${loadavg()}`;
}

module.exports = {
  ROOT,
  PYTHON,
  flag,
  arg,
  die,
  list,
  positive,
  torchThreads,
  median,
  loadavg,
  peakFlops,
  machineHeader,
  runChild,
  rss,
  best,
  ratio,
  table,
  loadFooter,
  trainSteps,
};
