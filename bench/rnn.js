#!/usr/bin/env node
/**
 * Language-model benchmark: the book's chapter 8-9 training (The Time Machine,
 * batch 32, 35 steps, 256 hidden units, SGD lr 1, gradient clipping 1,
 * sequential partitioning, 500 epochs) of an RNN, a GRU and an LSTM with
 * `d2l.trainCh8`, on each tfjs backend asked for, and the same in PyTorch
 * (bench/rnn_torch.py) on 1 and on 2 threads: final perplexity and
 * tokens/sec, with the ratio to the faster PyTorch. See bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/rnn.js [--epochs 500] [--models rnn,gru,lstm]
 *        [--backends native,wasm,cpu] [--torch-threads 1,2] [--no-torch] [--timeout 7200] [--json FILE]
 *
 * Each run is a fresh process (tfjs backends are global to a process): this
 * file re-runs itself with --child for one backend and model.
 */
"use strict";
const fs = require("fs");
const path = require("path");
const c = require("./common");

const PROG = "bench/rnn.js";
const MODELS = ["rnn", "gru", "lstm"];
const SETTINGS = { batchSize: 32, numSteps: 35, numHiddens: 256, lr: 1, maxTokens: 10000 };
const { arg, flag } = c;
const positive = (name, fallback) => c.positive(PROG, name, fallback, true);

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
      prediction: await d2l.predictCh8("time traveller", 50, net, vocab),
      leakedTensors: tf.memory().numTensors - before,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

// ---- driver ----

async function driver() {
  const models = c.list(PROG, "models", MODELS.join(","), MODELS);
  const backends = c.list(PROG, "backends", "native,wasm,cpu", ["cpu", "native", "wasm", "webgpu", "tensorflow"]);
  const epochs = positive("epochs", "500");
  const timeout = positive("timeout", "7200");
  const torchThreads = c.torchThreads(PROG);
  // The text file PyTorch reads: the same one d2l finds (D2L_DATA_DIR, the cache, or a download).
  const { timeMachineFile } = require("../dist/lib/text/timeMachine");
  const data = await timeMachineFile({ quiet: true });
  const { batchSize, numSteps, numHiddens, lr, maxTokens } = SETTINGS;
  for (const l of c.machineHeader(torchThreads)) console.log(l);
  console.log(
    `settings: The Time Machine (first ${maxTokens} characters, ${data}), batch ${batchSize}, ${numSteps} steps, ${numHiddens} hidden units, ` +
      `SGD lr ${lr}, clipping 1, sequential partitioning, ${epochs} epoch(s)${epochs < 500 ? " (the book: 500)" : ""}`,
  );
  const rows = [];
  const all = [];
  for (const model of models) {
    const runs = backends.map((b) => ({
      label: `tfjs ${b}`,
      go: () => c.runChild(process.execPath, [__filename, "--child", "--backend", b, "--model", model, "--epochs", String(epochs)], timeout),
    }));
    // PyTorch on each thread count after the tfjs backends; the reference is the faster.
    for (const t of torchThreads) {
      runs.push({
        label: `pytorch ${t} thr`,
        torch: true,
        go: () => c.runChild(c.PYTHON, [path.join(__dirname, "rnn_torch.py"), "--model", model, "--epochs", String(epochs), "--threads", String(t), "--data", data], timeout),
      });
    }
    const results = runs.map((r) => {
      const res = r.go();
      process.stderr.write(
        `  ${model} ${r.label}: ${res.error ? "ERROR " + res.error : `perplexity ${res.perplexity.toFixed(2)}, ${res.tokensPerSec.toFixed(0)} tokens/s`} [${res.wall.toFixed(1)} s wall]\n`,
      );
      all.push({ model, run: r.label, ...res });
      return { label: r.label, torch: !!r.torch, res };
    });
    const ref = c.best(Object.fromEntries(results.filter((x) => x.torch && !x.res.error).map((x) => [x.label, x.res.tokensPerSec])));
    for (const { label, torch, res } of results) {
      if (res.error) {
        rows.push([model, label, "", "", "", "", "", `ERROR: ${res.error}`]);
        continue;
      }
      rows.push([
        model,
        label + (!torch && res.threads ? ` (${res.threads} thr)` : ""),
        res.epochs,
        res.perplexity.toFixed(2),
        res.tokensPerSec.toFixed(0),
        c.ratio(res.tokensPerSec, ref),
        c.rss(res),
        (ref && ref.label === label ? "faster PyTorch; " : "") + (res.leakedTensors ? `leaked ${res.leakedTensors} tensors; ` : "") + JSON.stringify(res.prediction),
      ]);
    }
  }
  console.log("");
  console.log(c.table(rows, ["model", "run", "epochs", "perplexity", "tokens/sec", "vs best pytorch", "peak RSS MiB", "prediction for 'time traveller'"], (i) => i >= 2 && i <= 6));
  console.log(c.loadFooter());
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
