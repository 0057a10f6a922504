#!/usr/bin/env node
/**
 * Training-speed benchmark: seven workloads, each trained for a fixed number
 * of steps on random data, on each tfjs backend and in PyTorch on 1 and on 2
 * threads, printed as examples/sec (median of the repeats), the ratio to the
 * faster PyTorch, each run's peak resident memory and, for the matmul- and
 * conv-bound workloads, the GFLOP/s reached against this machine's peak.
 * See bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/run.js [--quick] [--workloads softmax,mlp,lenet,resnet,gru,lstm,transformer]
 *        [--backends native,native-compiled,wasm] [--repeats 3] [--steps 200] [--warmup 60] [--min-seconds 2] [--max-seconds 15]
 *
 * The defaults time 200 steps after 60 of warm-up, each phase capped (the warm-up at half the cap): a
 * compiled step (native-compiled) traces twice, then V8 takes 40 to 60 replays to optimize the replay
 * (the Transformer block's step went from 9.7 ms to 3 ms over its first 40; with 10 warm-up steps the
 * softmax and MLP rows still timed part of that), and 30 timed steps were too few to leave the
 * machine's noise behind. Each phase also runs on until --min-seconds (the warm-up half of it) has
 * passed: 200 softmax steps last 40-120 ms on a fast machine, a window where a scheduler hiccup moved
 * one run by 2x. PyTorch runs the same protocol (its figures do not move with the warm-up).
 *        [--timeout 300] [--torch-threads 1,2] [--no-torch] [--json FILE]
 */
"use strict";
const fs = require("fs");
const path = require("path");
const c = require("./common");

const PROG = "bench/run.js";
const ALL_WORKLOADS = ["softmax", "mlp", "lenet", "resnet", "gru", "lstm", "transformer"];
const DESCRIPTION = {
  softmax: "softmax regression 784->10, batch 256",
  mlp: "MLP 784->256 ReLU->10, batch 256",
  lenet: "LeNet (d2l 6.6), 28x28x1, batch 256",
  resnet: "conv 64 + 2 residual blocks (BN), 28x28x1, batch 32",
  gru: "GRU LM, one-hot 28, hidden 256, 35 steps, batch 32",
  lstm: "LSTM LM, one-hot 28, hidden 256, 35 steps, batch 32",
  transformer: "one Transformer encoder block (d2l 10.7: hidden 32, 4 heads, FFN 64, dropout 0.1) + dense 10, batch 64 x 10 steps",
};

/**
 * FLOPs of one example's forward pass through the matrix products and
 * convolutions (2 per multiply-add), for the workloads they dominate; a
 * training step is counted as 3x that (forward, and the gradients of inputs
 * and of weights).
 */
const conv = (outH, outW, outC, k, inC) => 2 * outH * outW * outC * k * k * inC;
const FORWARD_FLOPS = {
  mlp: 2 * (784 * 256 + 256 * 10),
  lenet: conv(28, 28, 6, 5, 1) + conv(10, 10, 16, 5, 6) + 2 * (400 * 120 + 120 * 84 + 84 * 10),
  resnet: conv(28, 28, 64, 3, 1) + 4 * conv(28, 28, 64, 3, 64) + 2 * 64 * 10,
};

const quick = c.flag("quick");
const opts = {
  workloads: c.list(PROG, "workloads", ALL_WORKLOADS.join(","), ALL_WORKLOADS),
  backends: c.list(PROG, "backends", "native,native-compiled,wasm", ["cpu", "native", "native-compiled", "wasm", "wasm-compiled", "webgpu", "tensorflow"]),
  repeats: c.positive(PROG, "repeats", quick ? 1 : 3, true),
  steps: c.positive(PROG, "steps", quick ? 3 : 200, true),
  warmup: Number(c.arg("warmup", quick ? "1" : "60")),
  minSeconds: Number(c.arg("min-seconds", quick ? "0" : "2")),
  maxSeconds: c.positive(PROG, "max-seconds", quick ? 5 : 15),
  timeout: c.positive(PROG, "timeout", quick ? 150 : 300),
  torchThreads: c.torchThreads(PROG),
  json: c.arg("json", ""),
};
if (!Number.isInteger(opts.warmup) || opts.warmup < 0) c.die(PROG, `--warmup must be a whole number, got ${c.arg("warmup", "")}`);
if (!(opts.minSeconds >= 0) || opts.minSeconds > opts.maxSeconds) {
  c.die(PROG, `--min-seconds must be a number of seconds from 0 to --max-seconds (${opts.maxSeconds}), got ${c.arg("min-seconds", "")}`);
}

const phases = () => ["--steps", String(opts.steps), "--warmup", String(opts.warmup), "--min-seconds", String(opts.minSeconds), "--max-seconds", String(opts.maxSeconds)];
function tfjsRun(backend, workload) {
  return c.runChild(process.execPath, [path.join(__dirname, "tfjs_workloads.js"), "--backend", backend, "--workload", workload, ...phases()], opts.timeout);
}
function torchRun(threads, workload) {
  return c.runChild(c.PYTHON, [path.join(__dirname, "torch_workloads.py"), "--workload", workload, "--threads", String(threads), ...phases()], opts.timeout);
}

const f = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));

function main() {
  const head = c.machineHeader(opts.torchThreads);
  const peak = c.peakFlops();
  for (const l of head) console.log(l);
  console.log(peak.text);
  console.log(
    `settings: ${quick ? "QUICK (smoke check, numbers not meaningful); " : ""}${opts.warmup} warm-up + ${opts.steps} timed steps per run, ` +
      `each phase at least ${opts.minSeconds} s and at most ${opts.maxSeconds} s (warm-up at half), median of ${opts.repeats} repeat(s); SGD lr 0.1; random data`,
  );
  const runs = opts.backends.map((b) => ({ label: `tfjs ${b}`, go: (w) => tfjsRun(b, w) }));
  const torchRuns = opts.torchThreads.map((t) => ({ label: `pytorch ${t} thr`, torch: true, go: (w) => torchRun(t, w) }));
  // Alternate: tfjs backend 1, PyTorch on each thread count, the next tfjs backends, so slow drift of the machine hits every run alike.
  runs.splice(Math.min(1, runs.length), 0, ...torchRuns);
  const results = {}; // workload -> label -> [run]
  for (const w of opts.workloads) {
    results[w] = Object.fromEntries(runs.map((r) => [r.label, []]));
    for (let rep = 0; rep < opts.repeats; rep++) {
      for (const r of runs) {
        const res = r.go(w);
        results[w][r.label].push(res);
        process.stderr.write(
          `  ${w} ${r.label} #${rep + 1}: ${res.error ? "ERROR " + res.error : `${res.examplesPerSec.toFixed(1)} ex/s (${res.steps} steps, ${res.seconds.toFixed(2)} s), ${c.rss(res)} MiB`} [${res.wall.toFixed(1)} s wall]\n`,
        );
      }
    }
  }
  const rows = [];
  const summary = [];
  const notes = new Set();
  const medians = {}; // workload -> label -> { med, rss }
  for (const w of opts.workloads) {
    medians[w] = {};
    for (const r of runs) {
      const ok = results[w][r.label].filter((x) => !x.error);
      if (ok.length) medians[w][r.label] = { med: c.median(ok.map((x) => x.examplesPerSec)), rss: Math.max(...ok.map((x) => x.maxRssMiB || 0)) };
    }
    const ref = c.best(Object.fromEntries(torchRuns.filter((r) => medians[w][r.label]).map((r) => [r.label, medians[w][r.label].med])));
    for (const r of runs) {
      const all = results[w][r.label];
      const ok = all.filter((x) => !x.error);
      if (!ok.length) {
        rows.push([w, r.label, "", "", "", "", "", "", "", `ERROR: ${all[0].error}`]);
        continue;
      }
      const eps = ok.map((x) => x.examplesPerSec);
      const med = medians[w][r.label].med;
      const minSteps = Math.min(...ok.map((x) => x.steps));
      const minWarm = Math.min(...ok.map((x) => x.warmup));
      let stepsCol = `${minSteps}`;
      if (minSteps < opts.steps || minWarm < opts.warmup) {
        stepsCol += "*";
        notes.add("* fewer steps than asked (timed or warm-up): the run hit the time cap (--max-seconds); slow backend");
      }
      const failed = all.length - ok.length;
      const loss = ok[ok.length - 1].loss;
      const gflops = FORWARD_FLOPS[w] ? (3 * FORWARD_FLOPS[w] * med) / 1e9 : undefined;
      const note = [];
      if (ref && ref.label === r.label) note.push("the reference (faster PyTorch)");
      if (failed) note.push(`${failed} of ${all.length} repeats failed: ${all.find((x) => x.error).error}`);
      if (ok.some((x) => x.leakedTensors)) note.push(`leaked ${Math.max(...ok.map((x) => x.leakedTensors))} tensors/run`);
      const eagerRun = ok.find((x) => x.compiled === false);
      if (eagerRun) note.push(`not replayed (ran eagerly): ${eagerRun.compileReason}`);
      rows.push([
        w,
        r.label + (!r.torch && ok[0].threads ? ` (${ok[0].threads} thr)` : ""),
        stepsCol,
        f(med),
        ok.length > 1 ? `${f(Math.min(...eps))}-${f(Math.max(...eps))}` : "",
        c.ratio(med, ref),
        medians[w][r.label].rss ? medians[w][r.label].rss.toFixed(0) : "",
        gflops === undefined ? "" : `${gflops.toFixed(1)} (${((100 * gflops) / peak.gflops).toFixed(1)}%)`,
        Number.isFinite(loss) ? loss.toFixed(3) : String(loss),
        note.join("; "),
      ]);
    }
    // One line per workload: every run's examples/sec and peak memory, each tfjs backend over the faster PyTorch.
    const m = (label) => medians[w][label];
    summary.push([
      w,
      ...runs.map((r) => (m(r.label) ? f(m(r.label).med) : "error")),
      ...runs.filter((r) => !r.torch).map((r) => (m(r.label) ? c.ratio(m(r.label).med, ref) : "-")),
      ...runs.map((r) => (m(r.label) && m(r.label).rss ? m(r.label).rss.toFixed(0) : "")),
    ]);
  }
  console.log("");
  console.log(
    c.table(rows, ["workload", "run", "steps", "examples/sec", "min-max", "vs best pytorch", "peak RSS MiB", "GFLOP/s (% of peak)", "last loss", "note"], (i) => i >= 2 && i <= 8),
  );
  console.log("");
  const tfjsLabels = runs.filter((r) => !r.torch).map((r) => r.label);
  console.log("summary (examples/sec, median; ratio to the faster PyTorch; peak resident memory in MiB):");
  console.log(
    c.table(
      summary,
      [
        "workload",
        ...runs.map((r) => `${r.label.replace("pytorch", "torch")} ex/s`),
        ...tfjsLabels.map((l) => `${l.replace("tfjs ", "")}/best`),
        ...runs.map((r) => `${r.label.replace("pytorch", "torch")} MiB`),
      ],
      (i) => i > 0,
    ),
  );
  console.log("");
  for (const w of opts.workloads) console.log(`${w}: ${DESCRIPTION[w]}`);
  for (const n of notes) console.log(n);
  console.log("examples/sec = timed steps x batch / seconds; a step is forward + loss + backward + SGD update; median over repeats, each repeat a fresh process.");
  console.log("vs best pytorch: over the faster of PyTorch's thread counts, per workload; peak RSS: the run's process (maxRSS / ru_maxrss), the largest over repeats.");
  console.log("GFLOP/s: 3 x the forward FLOPs of the matrix products and convolutions x examples/sec (mlp, lenet, resnet only).");
  console.log(c.loadFooter());
  if (opts.json) {
    fs.writeFileSync(opts.json, JSON.stringify({ machine: head, peak: peak.text, options: opts, results }, null, 2));
    console.log(`raw results: ${opts.json}`);
  }
}

main();
