#!/usr/bin/env node
/**
 * Per-op overhead: what one op with (almost) no work costs, in microseconds
 * per op, on each tfjs backend and in PyTorch (bench/overhead_torch.py) on 1
 * and on 2 threads, median of the repeats, each repeat a fresh process:
 *
 *   add         tf.add of two [1] tensors (the result disposed)
 *   matmul      tf.matMul of two [1, 1] tensors
 *   tidy(add)   tf.tidy around one tf.add
 *   chain       a chain of --chain adds y = y + b in one tf.tidy, per add (not taped)
 *   grad chain  tf.grad of the same chain summed: taped forward + backward, per add
 *   minimize    optimizer.minimize (SGD) of the same chain on a variable, per add
 *
 * PyTorch's twins: torch.add / torch.matmul without autograd, the chain
 * without autograd, with autograd forward only, and forward + backward. See
 * bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/overhead.js [--backends native,wasm,cpu] [--ops 20000] [--chain 200]
 *        [--repeats 3] [--torch-threads 1,2] [--no-torch] [--timeout 300] [--json FILE]
 */
"use strict";
const fs = require("fs");
const path = require("path");
const c = require("./common");

const PROG = "bench/overhead.js";
const CASES = [
  ["add", "add of two [1] tensors"],
  ["matmul", "matmul of two [1, 1] tensors"],
  ["tidy", "tidy(add) / add in a no-op context"],
  ["chain", "chain of adds, not recorded (per add)"],
  ["taped", "chain of adds recorded on the tape, forward only (per add)"],
  ["grad", "chain of adds: forward recorded + backward (grad, per add)"],
  ["minimize", "chain of adds on a variable: optimizer step (minimize, per add)"],
];

/** Microseconds per op of `fn(n)` running n ops; best of two tries after a warm-up of the same size. */
function perOp(fn, n) {
  fn(n);
  let bestUs = Infinity;
  for (let k = 0; k < 2; k++) {
    const t0 = process.hrtime.bigint();
    fn(n);
    bestUs = Math.min(bestUs, Number(process.hrtime.bigint() - t0) / 1000 / n);
  }
  return bestUs;
}

async function child() {
  const tf = require("@tensorflow/tfjs");
  const d2l = require("../dist/lib/index");
  const backend = c.arg("child", "cpu");
  const ops = Number(c.arg("ops", "20000"));
  const chainLen = Number(c.arg("chain", "200"));
  await d2l.useBackend(backend);
  const info = d2l.backendInfo();
  const a = tf.tensor1d([1]);
  const b = tf.tensor1d([2]);
  const m = tf.tensor2d([[1]]);
  const chain = (x) => {
    let y = x;
    for (let j = 0; j < chainLen; j++) y = tf.add(y, b);
    return y;
  };
  const chains = (n) => Math.max(1, Math.round(n / chainLen));
  const v = tf.variable(tf.tensor1d([0]));
  const opt = tf.train.sgd(0.001);
  const gradFn = tf.grad((x) => tf.sum(chain(x)));
  const before = tf.memory().numTensors;
  const us = {
    add: perOp((n) => {
      for (let i = 0; i < n; i++) tf.add(a, b).dispose();
    }, ops),
    matmul: perOp((n) => {
      for (let i = 0; i < n; i++) tf.matMul(m, m).dispose();
    }, ops),
    tidy: perOp((n) => {
      for (let i = 0; i < n; i++)
        tf.tidy(() => {
          tf.add(a, b);
        });
    }, ops),
    chain: perOp((n) => {
      for (let i = 0; i < chains(n); i++)
        tf.tidy(() => {
          chain(a);
        });
    }, ops),
    taped: perOp((n) => {
      // Forward only, each add recorded on a live tape (the engine's startTape/endTape, what tf.grad wraps
      // around its function), the backward never run: the recording's own cost
      // (with freeing what it saved for the backward).
      const engine = tf.engine();
      for (let i = 0; i < chains(n); i++) {
        engine.startTape();
        try {
          tf.tidy(() => {
            chain(a);
          });
        } finally {
          // What the tape kept for a backward that never comes (each add's inputs, cloned) is freed here, as backward would.
          const tape = engine.state.activeTape || [];
          engine.endTape();
          engine.state.activeTape = null;
          for (const node of tape) tf.dispose(node.saved || []);
        }
      }
    }, ops),
    grad: perOp((n) => {
      for (let i = 0; i < chains(n); i++)
        tf.tidy(() => {
          gradFn(a);
        });
    }, ops),
    minimize: perOp((n) => {
      for (let i = 0; i < chains(n); i++) opt.minimize(() => tf.sum(chain(v)));
    }, ops),
  };
  // The chain cases ran chains(n) * chainLen adds where n was asked: rescale to per add.
  for (const k of ["chain", "taped", "grad", "minimize"]) us[k] = (us[k] * ops) / (chains(ops) * chainLen);
  await a.data();
  console.log(JSON.stringify({ backend: info.name, threads: info.threads, us, leakedTensors: tf.memory().numTensors - before, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
}

function parent() {
  const backends = c.list(PROG, "backends", "native,wasm,cpu", ["cpu", "native", "wasm", "webgpu", "tensorflow"]);
  const ops = c.positive(PROG, "ops", 20000, true);
  const chainLen = c.positive(PROG, "chain", 200, true);
  const repeats = c.positive(PROG, "repeats", 3, true);
  const timeout = c.positive(PROG, "timeout", 300);
  const threads = c.torchThreads(PROG);
  const json = c.arg("json", "");
  for (const l of c.machineHeader(threads)) console.log(l);
  console.log(`settings: ${ops} ops per case (chains of ${chainLen} adds), best of 2 timed loops after a warm-up, median of ${repeats} repeat(s), each a fresh process`);
  const size = ["--ops", String(ops), "--chain", String(chainLen)];
  const runs = backends.map((b) => ({ label: `tfjs ${b}`, go: () => c.runChild(process.execPath, [__filename, "--child", b, ...size], timeout) }));
  const torchRuns = threads.map((t) => ({
    label: `pytorch ${t} thr`,
    torch: true,
    go: () => c.runChild(c.PYTHON, [path.join(__dirname, "overhead_torch.py"), "--threads", String(t), ...size], timeout),
  }));
  runs.splice(Math.min(1, runs.length), 0, ...torchRuns);
  const results = Object.fromEntries(runs.map((r) => [r.label, []]));
  for (let rep = 0; rep < repeats; rep++) {
    for (const r of runs) {
      const res = r.go();
      results[r.label].push(res);
      process.stderr.write(`  ${r.label} #${rep + 1}: ${res.error ? "ERROR " + res.error : `add ${res.us.add.toFixed(2)} us`} [${res.wall.toFixed(1)} s wall]\n`);
    }
  }
  const med = {}; // label -> case -> median us
  for (const r of runs) {
    const ok = results[r.label].filter((x) => !x.error);
    if (ok.length) med[r.label] = Object.fromEntries(CASES.map(([k]) => [k, ok.every((x) => Number.isFinite(x.us[k])) ? c.median(ok.map((x) => x.us[k])) : NaN]));
  }
  const rows = CASES.map(([k, what]) => {
    // Lower is better here: the reference is the PyTorch run with the fewer microseconds.
    const ref = c.best(Object.fromEntries(torchRuns.filter((r) => med[r.label] && Number.isFinite(med[r.label][k])).map((r) => [r.label, -med[r.label][k]])));
    return [
      what,
      ...runs.map((r) => (!med[r.label] ? "error" : Number.isFinite(med[r.label][k]) ? med[r.label][k].toFixed(2) : "-")),
      ...runs.filter((r) => !r.torch).map((r) => (ref && med[r.label] ? `${(med[r.label][k] / -ref.value).toFixed(1)}x` : "-")),
    ];
  });
  const tfjs = runs.filter((r) => !r.torch);
  console.log("");
  console.log(c.table(rows, ["op (microseconds per op, median)", ...runs.map((r) => r.label), ...tfjs.map((r) => `${r.label.replace("tfjs ", "")} / best torch`)], (i) => i > 0));
  for (const r of runs) {
    const err = results[r.label].find((x) => x.error);
    if (err) console.log(`${r.label}: ${results[r.label].filter((x) => x.error).length} of ${repeats} runs failed: ${err.error}`);
  }
  console.log("x / best torch: tfjs' microseconds over the faster PyTorch run's (higher is slower); '-': no such case there.");
  console.log("PyTorch's rows: torch.add / torch.matmul without autograd; tidy(add): the same add under torch.no_grad(); chain: no autograd;");
  console.log("taped: requires_grad, forward only; grad: forward + backward(); minimize: zero_grad, forward, backward, SGD step.");
  console.log(c.loadFooter());
  if (json) fs.writeFileSync(json, JSON.stringify({ ops, chain: chainLen, results }, null, 2));
}

if (c.flag("child")) {
  child().catch((e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  });
} else {
  parent();
}
