#!/usr/bin/env node
/**
 * Language-model benchmark: the book's chapter 8-9 training (The Time Machine,
 * batch 32, 35 steps, 256 hidden units, SGD lr 1, gradient clipping 1,
 * sequential partitioning, 500 epochs) of an RNN, a GRU and an LSTM with
 * `d2l.trainCh8`, on each tfjs backend asked for, and the same in PyTorch
 * (bench/rnn_torch.py): final perplexity and tokens/sec, with the ratio to
 * PyTorch. See bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/rnn.js [--epochs 500] [--models rnn,gru,lstm]
 *        [--backends native,wasm,cpu] [--torch-threads 1] [--no-torch] [--timeout 7200] [--json FILE]
 *
 * Each run is a fresh process (tfjs backends are global to a process): this
 * file re-runs itself with --child for one backend and model.
 */
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const MODELS = ["rnn", "gru", "lstm"];
const PYTHON = process.env.D2L_BENCH_PYTHON || "/usr/bin/python3";
const SETTINGS = { batchSize: 32, numSteps: 35, numHiddens: 256, lr: 1, maxTokens: 10000 };

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
function flag(name) {
  return process.argv.includes(`--${name}`);
}
function list(name, fallback, known) {
  const items = arg(name, fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of items) {
    if (!known.includes(s)) {
      console.error(`bench/rnn.js: unknown ${name.replace(/s$/, "")} "${s}"; expected some of ${known.join(",")}`);
      process.exit(2);
    }
  }
  return items;
}
function positive(name, fallback) {
  const v = Number(arg(name, fallback));
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench/rnn.js: --${name} must be a positive integer, got ${arg(name, fallback)}`);
    process.exit(2);
  }
  return v;
}

// ---- child: one backend, one model ----

async function child() {
  const tf = require("@tensorflow/tfjs");
  const d2l = require("../dist/lib/index");
  const backend = arg("backend", "wasm");
  const model = arg("model", "gru");
  const epochs = positive("epochs", "500");
  await d2l.useBackend(backend);
  const info = d2l.backendInfo();
  const { batchSize, numSteps, numHiddens, lr, maxTokens } = SETTINGS;
  const [trainIter, vocab] = await d2l.loadDataTimeMachine(batchSize, numSteps, false, maxTokens, { quiet: true });
  // The book's PyTorch layers: tanh RNN; GRU and LSTM with sigmoid gates (tfjs' default is a hard sigmoid);
  // PyTorch's initialization, every weight and bias uniform in ±1/√h (tfjs' default orthogonal recurrent
  // initializer runs a QR decomposition taking seconds on CPU backends, and trains less steadily at lr 1).
  const init = () => tf.initializers.randomUniform({ minval: -1 / Math.sqrt(numHiddens), maxval: 1 / Math.sqrt(numHiddens) });
  const common = { units: numHiddens, returnSequences: true, returnState: true, kernelInitializer: init(), recurrentInitializer: init(), biasInitializer: init() };
  const layer =
    model === "rnn"
      ? tf.layers.simpleRNN(common)
      : model === "gru"
        ? tf.layers.gru({ ...common, recurrentActivation: "sigmoid" })
        : tf.layers.lstm({ ...common, recurrentActivation: "sigmoid" });
  const net = new d2l.RNNModel(layer, vocab.length);
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  const r = await d2l.trainCh8(net, trainIter, vocab, lr, epochs, d2l.tryGpu(), false, { animator: false, progress: false, verbose: false });
  const wall = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({
      backend: info.name,
      threads: info.threads,
      model,
      epochs,
      perplexity: r.perplexity,
      tokensPerSec: r.tokensPerSec,
      seconds: wall,
      prediction: d2l.predictCh8("time traveller", 50, net, vocab),
      leakedTensors: tf.memory().numTensors - before,
    }),
  );
}

// ---- driver ----

function runChild(cmd, args, timeout) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    cwd: path.resolve(__dirname, ".."),
    env: { ...process.env, D2L_QUICK: "" },
    timeout: timeout * 1000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
  });
  const wall = (Date.now() - t0) / 1000;
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
  const msg = lines.find((l) => /^(\w*Error|Error)\b|Exception/.test(l)) || lines.slice(-1)[0] || `exit ${r.status}`;
  return { error: msg.slice(0, 160), wall };
}

function pad(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const fmt = (r) =>
    r
      .map((c, i) => (i >= 2 && i <= 5 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

async function driver() {
  const models = list("models", MODELS.join(","), MODELS);
  const backends = list("backends", "native,wasm,cpu", ["cpu", "native", "wasm", "webgpu", "tensorflow"]);
  const epochs = positive("epochs", "500");
  const timeout = positive("timeout", "7200");
  const torchThreads = positive("torch-threads", "1");
  const torch = !flag("no-torch");
  // The text file PyTorch reads: the same one d2l finds (D2L_DATA_DIR, the cache, or a download).
  const { timeMachineFile } = require("../dist/lib/text/timeMachine");
  const data = await timeMachineFile({ quiet: true });
  const { batchSize, numSteps, numHiddens, lr, maxTokens } = SETTINGS;
  console.log(
    `machine: ${os.cpus().length} logical cores, ${(os.cpus()[0] || {}).model || "unknown CPU"}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}; node ${process.version}`,
  );
  console.log(
    `settings: The Time Machine (first ${maxTokens} characters, ${data}), batch ${batchSize}, ${numSteps} steps, ${numHiddens} hidden units, ` +
      `SGD lr ${lr}, clipping 1, sequential partitioning, ${epochs} epoch(s)${epochs < 500 ? " (the book: 500)" : ""}`,
  );
  const rows = [];
  const all = [];
  for (const model of models) {
    const runs = backends.map((b) => ({
      label: `tfjs ${b}`,
      go: () => runChild(process.execPath, [__filename, "--child", "--backend", b, "--model", model, "--epochs", String(epochs)], timeout),
    }));
    if (torch) {
      runs.push({
        label: "pytorch",
        go: () =>
          runChild(PYTHON, [path.join(__dirname, "rnn_torch.py"), "--model", model, "--epochs", String(epochs), "--threads", String(torchThreads), "--data", data], timeout),
      });
    }
    const results = runs.map((r) => {
      const res = r.go();
      process.stderr.write(
        `  ${model} ${r.label}: ${res.error ? "ERROR " + res.error : `perplexity ${res.perplexity.toFixed(2)}, ${res.tokensPerSec.toFixed(0)} tokens/s`} [${res.wall.toFixed(1)} s wall]\n`,
      );
      all.push({ model, run: r.label, ...res });
      return { label: r.label, res };
    });
    const ref = results.find((x) => x.label === "pytorch" && !x.res.error);
    for (const { label, res } of results) {
      if (res.error) {
        rows.push([model, label, "", "", "", "", `ERROR: ${res.error}`]);
        continue;
      }
      rows.push([
        model,
        label + (res.threads ? ` (${res.threads} thr)` : ""),
        res.epochs,
        res.perplexity.toFixed(2),
        res.tokensPerSec.toFixed(0),
        ref ? `${(res.tokensPerSec / ref.res.tokensPerSec).toFixed(3)}x` : "-",
        (res.leakedTensors ? `leaked ${res.leakedTensors} tensors; ` : "") + JSON.stringify(res.prediction),
      ]);
    }
  }
  console.log("");
  console.log(pad(rows, ["model", "run", "epochs", "perplexity", "tokens/sec", "vs pytorch", "prediction for 'time traveller'"]));
  console.log("");
  console.log("perplexity: of the last epoch (training); tokens/sec: training steps only, as trainCh8 and the book's Timer count them.");
  const json = arg("json", "");
  if (json) {
    fs.writeFileSync(json, JSON.stringify({ settings: { ...SETTINGS, epochs }, results: all }, null, 2));
    console.log(`raw results: ${json}`);
  }
}

(flag("child") ? child() : driver()).catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
