/**
 * The Node half of bench/gpu.sh (issue 23): what WebGPU adapter dawn.node
 * picks, the book's models timed on webgpu and on native, and a per-kernel
 * profile of one training step of each on webgpu.
 *
 *   node bench/gpu.js adapter              the adapter: vendor, architecture, description, fallback flag, limits, features
 *   node bench/gpu.js time [--quick]       LeNet, ResNet-18 (96 px), GRU LM, Transformer block on webgpu and native:
 *                                          one table with the book's V100 figures beside them
 *   node bench/gpu.js profile [--quick]    top kernels of one training step of each workload on webgpu
 *   --workloads lenet,resnet18,gru,transformer (the default) picks some for time and profile.
 *
 * Each timing runs in a fresh process (bench/tfjs_workloads.js; a tfjs backend is global). `--quick` shrinks
 * batches, images and steps so that the whole script passes on Mesa's lavapipe in about a minute (CI); its
 * numbers say nothing about speed. Exit status 1 when a workload throws.
 */
"use strict";
const os = require("os");
const path = require("path");
const { arg, flag, die, list, runChild, machineHeader, table, loadFooter } = require("./common");

const PROG = "bench/gpu.js";
const ALL_WORKLOADS = ["lenet", "resnet18", "gru", "transformer"];
let WORKLOADS = ALL_WORKLOADS;

/**
 * The book's figures on its V100 (d2l.ai, PyTorch): LeNet 6.6, ResNet-18 at 96 px 8.6, the GRU language model
 * 10.2 (tokens/s); the book prints none for a Transformer block alone.
 */
const BOOK = {
  lenet: { what: "LeNet (6.6), batch 256", unit: "examples/s", v100: 72322 },
  resnet18: { what: "ResNet-18 at 96 px (8.6), batch 256", unit: "examples/s", v100: 4672 },
  gru: { what: "GRU language model (10.2), batch 32 x 35 steps", unit: "tokens/s", v100: 300987 },
  transformer: { what: "Transformer encoder block (11.7), batch 64 x 10 steps", unit: "tokens/s", v100: null },
};

/** Full and quick settings: steps, warm-up steps, a time cap, and the shrunken batch/image size for --quick. */
function settings(quick, workload) {
  if (!quick) return { steps: 20, warmup: 3, maxSeconds: 60, extra: [] };
  const small = { lenet: ["--batch", "8"], resnet18: ["--batch", "2", "--image-size", "16"], gru: ["--batch", "4"], transformer: ["--batch", "4"] };
  return { steps: 1, warmup: 1, maxSeconds: 20, extra: small[workload] };
}

function fmt(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-";
}

// ------------------------------------------------------------------ adapter

async function adapter() {
  let dawn;
  try {
    dawn = require("webgpu");
  } catch (e) {
    console.log(`adapter: dawn.node does not load: ${String(e.message).split("\n")[0]}`);
    return 1;
  }
  const gpu = dawn.create([]);
  const a = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!a) {
    console.log("adapter: none (dawn.node found no Vulkan device: no Vulkan driver for this GPU, or no libvulkan.so.1)");
    return 1;
  }
  const info = a.info || {};
  const lim = a.limits || {};
  const keys = [
    "maxBufferSize",
    "maxStorageBufferBindingSize",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
    "maxComputeWorkgroupSizeX",
    "maxComputeWorkgroupsPerDimension",
    "maxStorageBuffersPerShaderStage",
  ];
  const facts = {
    vendor: info.vendor || "",
    architecture: info.architecture || "",
    description: info.description || info.device || "",
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? a.isFallbackAdapter),
    features: [...(a.features || [])].sort(),
    limits: Object.fromEntries(keys.map((k) => [k, lim[k]])),
  };
  console.log(`adapter: ${facts.description} (vendor "${facts.vendor}", architecture "${facts.architecture}")`);
  console.log(`  fallback (software) adapter: ${facts.isFallbackAdapter ? "yes: a CPU, for correctness only" : "no: a hardware GPU"}`);
  for (const k of keys) console.log(`  ${k}: ${fmt(lim[k])}`);
  console.log(`  features: ${facts.features.join(", ") || "(none)"}`);
  console.log(`  timestamp-query (GPU kernel timings for the profile): ${facts.features.includes("timestamp-query") ? "yes" : "no"}`);
  console.log(JSON.stringify({ adapter: facts }));
  return 0;
}

// --------------------------------------------------------------------- time

function time(quick, backends) {
  const rows = [];
  const results = {};
  let failures = 0;
  for (const w of WORKLOADS) {
    results[w] = {};
    for (const backend of backends) {
      const s = settings(quick, w);
      const args = [path.join(__dirname, "tfjs_workloads.js"), "--backend", backend, "--workload", w, "--steps", String(s.steps), "--warmup", String(s.warmup)];
      args.push("--max-seconds", String(s.maxSeconds), ...s.extra);
      const r = runChild(process.execPath, args, s.maxSeconds * 4 + 120);
      if (r.error) {
        failures++;
        console.error(`${PROG}: ${w} on ${backend} failed: ${r.error}`);
      } else if (!Number.isFinite(r.loss)) {
        failures++;
        console.error(`${PROG}: ${w} on ${backend}: the loss is ${r.loss}`);
      }
      results[w][backend] = r;
      process.stderr.write(
        `  ${w} on ${backend}: ${r.error ? `failed (${r.error})` : `${fmt(r.tokensPerSec ?? r.examplesPerSec)} ${BOOK[w].unit} (${r.steps} steps, ${r.seconds.toFixed(2)} s; ${r.adapter})`}\n`,
      );
    }
  }
  const cell = (r, unit) => (!r ? "-" : r.error ? "failed" : fmt(unit === "tokens/s" ? r.tokensPerSec : r.examplesPerSec));
  for (const w of WORKLOADS) {
    const b = BOOK[w];
    const row = [b.what, b.unit, b.v100 ? fmt(b.v100) : "none in the book"];
    for (const backend of backends) row.push(cell(results[w][backend], b.unit));
    const g = results[w].webgpu;
    const gv = g && !g.error ? (b.unit === "tokens/s" ? g.tokensPerSec : g.examplesPerSec) : NaN;
    row.push(b.v100 && Number.isFinite(gv) ? `${(gv / b.v100).toFixed(3)}x` : "-");
    rows.push(row);
  }
  const adapterOf = (backend) => {
    const r = Object.values(results)
      .map((x) => x[backend])
      .find((x) => x && !x.error);
    return r ? `${backend}: ${r.adapter}${r.threads > 1 ? ` (${r.threads} threads)` : ""}` : `${backend}: did not run`;
  };
  for (const l of machineHeader([])) console.log(l);
  console.log(`bench/gpu.sh${quick ? " --quick (tiny batches and 1 timed step: a smoke test, not a speed measurement)" : ""}; ${os.cpus().length} cores`);
  for (const backend of backends) console.log(adapterOf(backend));
  const header = ["workload (book section), setting", "unit", "book, V100 (PyTorch)", ...backends, "webgpu / V100"];
  console.log(table(rows, header, (i) => i >= 2));
  if (quick) console.log("(--quick: batches shrunk to 2-8, ResNet-18 at 16 px, 1 timed step; the numbers only show that each workload runs)");
  console.log(loadFooter());
  return failures ? 1 : 0;
}

// ------------------------------------------------------------------ profile

/** Top kernels by GPU time of one training step of each workload on webgpu (tf.profile; GPU timestamps where the adapter has timestamp-query). */
async function profile(quick, top) {
  const tf = require("@tensorflow/tfjs");
  const d2l = require("../dist/lib/index");
  const { WORKLOADS: BUILD } = require("./tfjs_workloads");
  await d2l.useBackend("webgpu");
  const backend = tf.backend();
  const timestamps = Boolean(backend.supportTimestampQuery);
  console.log(`profile on webgpu: ${d2l.backendInfo().adapter}`);
  console.log(
    timestamps
      ? "times: GPU timestamps (timestamp-query) of each kernel's compute pass, summed by kernel; the step's wall time beside them"
      : "times: this adapter has no timestamp-query, so no per-kernel GPU times; counts per kernel and the step's wall time only",
  );
  let failures = 0;
  for (const name of WORKLOADS) {
    const s = settings(quick, name);
    const batch = s.extra[s.extra.indexOf("--batch") + 1];
    const size = s.extra.includes("--image-size") ? Number(s.extra[s.extra.indexOf("--image-size") + 1]) : undefined;
    try {
      const w = BUILD[name](quick ? Number(batch) : undefined, size);
      const optimizer = tf.train.sgd(0.01);
      const forward = w.forward || (() => w.model.apply(w.x, { training: true }));
      const step = () => optimizer.minimize(() => tf.losses.softmaxCrossEntropy(w.y, forward()), true);
      // One step outside the profile: shaders compile and weights are made there.
      const first = step();
      await first.data();
      first.dispose();
      const t0 = performance.now();
      const p = await tf.profile(async () => {
        const l = step();
        await l.data();
        l.dispose();
      });
      const wall = performance.now() - t0;
      const by = new Map();
      for (const k of p.kernels) {
        const e = by.get(k.name) || { name: k.name, count: 0, ms: 0, programs: new Set() };
        e.count++;
        if (typeof k.kernelTimeMs === "number") e.ms += k.kernelTimeMs;
        for (const m of String(k.extraInfo || "").matchAll(/(\w+Program)/g)) e.programs.add(m[1]);
        by.set(k.name, e);
      }
      const all = [...by.values()];
      const gpuMs = all.reduce((a, e) => a + e.ms, 0);
      all.sort((a, b) => b.ms - a.ms || b.count - a.count);
      console.log(
        `\n${BOOK[name].what}${quick ? " (quick: shrunk)" : ""}: ${p.kernels.length} kernels in one step; wall ${wall.toFixed(1)} ms${timestamps ? `, GPU ${gpuMs.toFixed(1)} ms` : ""}`,
      );
      const rows = all
        .slice(0, top)
        .map((e) => [
          e.name,
          String(e.count),
          timestamps ? e.ms.toFixed(2) : "-",
          timestamps && gpuMs > 0 ? `${((100 * e.ms) / gpuMs).toFixed(1)}%` : "-",
          [...e.programs].join(", "),
        ]);
      console.log(table(rows, ["kernel", "calls", "GPU ms", "share", "webgpu programs"], (i) => i >= 1 && i <= 3));
      (w.model || {}).dispose?.();
      tf.dispose([w.x, w.y]);
    } catch (e) {
      failures++;
      console.error(`${PROG}: profiling ${name} on webgpu failed: ${e && e.stack ? e.stack : e}`);
    }
  }
  return failures ? 1 : 0;
}

async function main() {
  const cmd = process.argv[2];
  const quick = flag("quick");
  WORKLOADS = list(PROG, "workloads", ALL_WORKLOADS.join(","), ALL_WORKLOADS);
  if (cmd === "adapter") return adapter();
  if (cmd === "time") return time(quick, list(PROG, "backends", "webgpu,native", ["webgpu", "native", "wasm", "cpu", "tensorflow"]));
  if (cmd === "profile") {
    const top = Number(arg("top", "8"));
    if (!Number.isInteger(top) || top < 1) die(PROG, `--top takes a positive integer, got ${arg("top", "")}`);
    return profile(quick, top);
  }
  die(
    PROG,
    `expected a command: adapter, time [--quick] [--backends webgpu,native] [--workloads ...], or profile [--quick] [--top N] [--workloads ...]; got ${cmd === undefined ? "none" : JSON.stringify(cmd)}`,
  );
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  },
);
