#!/usr/bin/env node
/**
 * CNN benchmark (issue 6): tfjs backends vs PyTorch on the book's CNNs.
 *
 *  (a) --full: the book's full LeNet run (d2l.ai 6.6): d2l.trainCh6 with 10 epochs, lr 0.9, batch 256 on
 *      Fashion-MNIST, on each backend, and the PyTorch twin (bench/cnn_torch.py) on the same files:
 *      loss, train acc, test acc, wall time, training examples/sec.
 *  (b) throughput: training steps (forward + loss + backward + SGD update) on one random batch, a fixed
 *      number of timed steps after warm-up, of LeNet at 28 px and d2l.resnet18(10, 1) at 96 px, on each
 *      backend side by side with PyTorch, as examples/sec and the ratio to PyTorch.
 *  PyTorch runs on 1 and on 2 threads (--torch-threads 1,2, the default); every ratio is to the faster.
 *
 * Every run is a fresh process (tfjs backends are global to a process): this file re-runs itself with
 * --child. See bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/cnn.js [--full] [--only-full] [--backends native,wasm,cpu]
 *        [--models lenet,resnet18] [--steps 20] [--warmup 3] [--max-seconds 60] [--repeats 3]
 *        [--batch-lenet 256] [--batch-resnet 32] [--epochs 10] [--timeout 600] [--full-timeout 3600]
 *        [--limit-train N] [--limit-test N] [--torch-threads 1,2] [--no-torch] [--json FILE]
 */
"use strict";
const fs = require("fs");
const path = require("path");
const c = require("./common");

const PROG = "bench/cnn.js";
const ROOT = c.ROOT;
const MODELS = {
  lenet: { size: 28, describe: "LeNet (d2l.lenet(), d2l.ai 6.6), 28x28x1" },
  resnet18: { size: 96, describe: "ResNet-18 (d2l.resnet18(10, 1), d2l.ai 7.6), 96x96x1" },
};
const { flag, arg } = c;
const num = (name, fallback) => c.positive(PROG, name, fallback);
const list = (name, fallback, known) => c.list(PROG, name, fallback, known);

/** Fashion-MNIST for the full run: D2L_DATA_DIR, else the project's shared offline copy if there is one. */
function dataDir() {
  if (process.env.D2L_DATA_DIR) return process.env.D2L_DATA_DIR;
  const shared = path.resolve(ROOT, "..", "shared", "data");
  return fs.existsSync(path.join(shared, "fashion-mnist")) ? shared : "";
}

// ------------------------------------------------------------------ child: one tfjs run

async function child() {
  const tf = require("@tensorflow/tfjs");
  const d2l = require("../dist/lib/index");
  const kind = arg("child", "throughput");
  const backend = arg("backend", "wasm");
  const model = arg("model", "lenet");
  const out = (o) => console.log(JSON.stringify({ framework: "tfjs", backend, ...o }));
  if (model === "resnet18" && typeof d2l.resnet18 !== "function") {
    out({ unavailable: "d2l.resnet18 not available in this build (chapter 7's model builders)" });
    return;
  }
  await d2l.useBackend(backend);
  const info = d2l.backendInfo();
  const meta = { backend: info.name, threads: info.threads };

  if (kind === "full") {
    const epochs = Number(arg("epochs", "10"));
    const lr = Number(arg("lr", "0.9"));
    const batch = Number(arg("batch", "256"));
    const limitTrain = arg("limit-train", "");
    const limitTest = arg("limit-test", "");
    const limit = limitTrain || limitTest ? { limit: { train: limitTrain ? Number(limitTrain) : undefined, test: limitTest ? Number(limitTest) : undefined } } : {};
    const [trainIter, testIter] = await d2l.loadDataFashionMnist(batch, { quiet: true, ...limit });
    const net = d2l.lenet();
    const history = [];
    const t0 = performance.now();
    const r = await d2l.trainCh6(net, trainIter, testIter, epochs, lr, d2l.tryGpu(), {
      animator: false,
      progress: false,
      verbose: false,
      callbacks: [
        {
          onEpochEnd: (s) => {
            history.push({ epoch: s.epoch + 1, loss: s.trainLoss, trainAcc: s.trainAcc, testAcc: s.testAcc });
            process.stderr.write(`    ${backend} epoch ${s.epoch + 1}: loss ${s.trainLoss.toFixed(3)}, train acc ${s.trainAcc.toFixed(3)}, test acc ${s.testAcc.toFixed(3)}\n`);
          },
        },
      ],
    });
    const seconds = (performance.now() - t0) / 1000;
    const maxRssMiB = process.resourceUsage().maxRSS / 1024;
    out({ ...meta, mode: "full", epochs, lr, batch, loss: r.trainLoss, trainAcc: r.trainAcc, testAcc: r.testAcc, seconds, examplesPerSec: r.examplesPerSec, history, maxRssMiB });
    return;
  }

  const batch = Number(arg("batch", "32"));
  const steps = Number(arg("steps", "20"));
  const warmup = Number(arg("warmup", "3"));
  const maxSeconds = Number(arg("max-seconds", "60"));
  const lr = Number(arg("lr", "0.05"));
  const size = MODELS[model].size;
  const net = model === "lenet" ? d2l.lenet() : d2l.resnet18(10, 1);
  const x = tf.randomNormal([batch, size, size, 1]);
  const labels = tf.randomUniform([batch], 0, 10, "int32");
  const y = tf.oneHot(labels, 10);
  labels.dispose();
  const optimizer = tf.train.sgd(lr);
  const step = () => optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, net.apply(x, { training: true })), true);
  const { warm, done, seconds, loss, leaked } = await c.trainSteps(tf, step, { steps, warmup, maxSeconds });
  out({
    ...meta,
    mode: "throughput",
    model,
    size,
    batch,
    params: net.trainableWeights.reduce((a, w) => a + w.shape.reduce((p, d) => p * d, 1), 0),
    warmup: warm,
    steps: done,
    seconds,
    examplesPerSec: (done * batch) / seconds,
    loss,
    leakedTensors: leaked,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  });
}

// ------------------------------------------------------------------ parent: spawn, collect, print

/** One run in a fresh process (Fashion-MNIST's directory passed on); the full run's per-epoch lines go to stderr as they come. */
function runChild(cmd, args, timeoutS) {
  const dir = dataDir();
  return c.runChild(cmd, args, timeoutS, { env: dir ? { D2L_DATA_DIR: dir } : {}, echo: /^ {4}\S+ epoch \d+:/ });
}

function header(opts) {
  const lines = c.machineHeader(opts.torchThreads);
  const dir = dataDir();
  lines.push(`Fashion-MNIST for --full: ${dir ? dir : "(D2L_DATA_DIR unset: the loader's cache or download)"}`);
  return lines;
}

function parent() {
  const onlyFull = flag("only-full");
  const opts = {
    full: flag("full") || onlyFull,
    throughput: !onlyFull,
    backends: list("backends", "native,wasm,cpu", ["native", "wasm", "cpu", "webgpu", "tensorflow"]),
    models: list("models", "lenet,resnet18", Object.keys(MODELS)),
    steps: num("steps", 20),
    warmup: num("warmup", 3),
    maxSeconds: num("max-seconds", 60),
    repeats: num("repeats", 3),
    batch: { lenet: num("batch-lenet", 256), resnet18: num("batch-resnet", 32) },
    epochs: num("epochs", 10),
    timeout: num("timeout", 600),
    fullTimeout: num("full-timeout", 3600),
    limitTrain: arg("limit-train", ""),
    limitTest: arg("limit-test", ""),
    torchThreads: c.torchThreads(PROG),
    json: arg("json", ""),
  };
  for (const l of header(opts)) console.log(l);
  const raw = { full: {}, throughput: {} };

  if (opts.full) {
    const limits = [];
    if (opts.limitTrain) limits.push("--limit-train", opts.limitTrain);
    if (opts.limitTest) limits.push("--limit-test", opts.limitTest);
    const data = limits.length ? `the first ${opts.limitTrain || "60000"} / ${opts.limitTest || "10000"} examples (a smoke check, not the book's run)` : "60,000 / 10,000";
    console.log(`\n(a) the book's LeNet run: d2l.trainCh6, ${opts.epochs} epochs, lr 0.9, batch 256, Fashion-MNIST (${data})`);
    const runs = opts.backends.map((b) => ({
      label: `tfjs ${b}`,
      go: () => runChild(process.execPath, [__filename, "--child", "full", "--backend", b, "--epochs", String(opts.epochs), ...limits], opts.fullTimeout),
    }));
    for (const t of opts.torchThreads) {
      runs.push({
        label: `pytorch ${t} thr`,
        torch: true,
        go: () =>
          runChild(c.PYTHON, [path.join(__dirname, "cnn_torch.py"), "--mode", "full", "--epochs", String(opts.epochs), "--threads", String(t), ...limits], opts.fullTimeout),
      });
    }
    for (const r of runs) {
      process.stderr.write(`  full LeNet, ${r.label} ...\n`);
      raw.full[r.label] = r.go();
    }
    const ref = c.best(Object.fromEntries(runs.filter((r) => r.torch && !raw.full[r.label].error).map((r) => [r.label, raw.full[r.label].examplesPerSec])));
    const rows = runs.map(({ label, torch }) => {
      const x = raw.full[label];
      if (x.error || x.unavailable) return [label, "", "", "", "", "", "", "", "", `ERROR: ${x.error || x.unavailable}`];
      return [
        label + (!torch && x.threads ? ` (${x.threads} thr)` : ""),
        x.epochs,
        x.loss.toFixed(3),
        x.trainAcc.toFixed(3),
        x.testAcc.toFixed(3),
        x.seconds.toFixed(1),
        x.examplesPerSec.toFixed(0),
        c.ratio(x.examplesPerSec, ref),
        c.rss(x),
        ref && ref.label === label ? "faster PyTorch" : "",
      ];
    });
    console.log(c.table(rows, ["run", "epochs", "loss", "train acc", "test acc", "wall s", "train ex/s", "vs best pytorch", "peak RSS MiB", "note"], (i) => i >= 1 && i <= 8));
    console.log("book (PyTorch, GPU, official split): loss 0.455, train acc 0.831, test acc 0.789; wall s includes evaluation, train ex/s only training steps.");
  }

  if (opts.throughput) {
    console.log(
      `\n(b) training throughput: ${opts.warmup} warm-up + ${opts.steps} timed steps on one random batch, each phase capped at ` +
        `${opts.maxSeconds} s (warm-up at half), median of ${opts.repeats} repeat(s), SGD lr 0.05`,
    );
    const rows = [];
    const notes = new Set();
    for (const m of opts.models) {
      const batch = opts.batch[m];
      const runs = opts.backends.map((b) => ({
        label: `tfjs ${b}`,
        go: () =>
          runChild(
            process.execPath,
            [
              __filename,
              "--child",
              "throughput",
              "--backend",
              b,
              "--model",
              m,
              "--batch",
              String(batch),
              "--steps",
              String(opts.steps),
              "--warmup",
              String(opts.warmup),
              "--max-seconds",
              String(opts.maxSeconds),
            ],
            opts.timeout,
          ),
      }));
      for (const t of opts.torchThreads) {
        const torchArgs = [
          "--mode",
          "throughput",
          "--model",
          m,
          "--batch",
          String(batch),
          "--steps",
          String(opts.steps),
          "--warmup",
          String(opts.warmup),
          "--max-seconds",
          String(opts.maxSeconds),
          "--threads",
          String(t),
        ];
        // After the first backend (and the PyTorch runs before this one), so repeats alternate tfjs, PyTorch 1, PyTorch 2, tfjs ...
        const at = Math.min(1, opts.backends.length) + runs.filter((r) => r.torch).length;
        runs.splice(at, 0, { label: `pytorch ${t} thr`, torch: true, go: () => runChild(c.PYTHON, [path.join(__dirname, "cnn_torch.py"), ...torchArgs], opts.timeout) });
      }
      raw.throughput[m] = Object.fromEntries(runs.map((r) => [r.label, []]));
      for (let rep = 0; rep < opts.repeats; rep++) {
        for (const r of runs) {
          if (raw.throughput[m][r.label][0]?.unavailable) continue; // said once is enough
          const res = r.go();
          raw.throughput[m][r.label].push(res);
          const what = res.unavailable
            ? "not available"
            : res.error
              ? `ERROR ${res.error}`
              : `${res.examplesPerSec.toFixed(1)} ex/s (${res.steps} steps, ${res.seconds.toFixed(2)} s)`;
          process.stderr.write(`  ${m} ${r.label} #${rep + 1}: ${what} [${res.wall.toFixed(1)} s wall]\n`);
        }
      }
      const torchMedians = {};
      let torchParams;
      for (const r of runs.filter((x) => x.torch)) {
        const ok = raw.throughput[m][r.label].filter((x) => !x.error);
        if (ok.length) torchMedians[r.label] = c.median(ok.map((x) => x.examplesPerSec));
        if (ok.length) torchParams = ok[0].params;
      }
      const ref = c.best(torchMedians);
      for (const r of runs) {
        const all = raw.throughput[m][r.label];
        if (all[0].unavailable) {
          rows.push([m, r.label, batch, "", "not available", "", "", "", "", all[0].unavailable]);
          continue;
        }
        const ok = all.filter((x) => !x.error);
        if (!ok.length) {
          rows.push([m, r.label, batch, "", "", "", "", "", "", `ERROR: ${all[0].error}`]);
          continue;
        }
        const eps = ok.map((x) => x.examplesPerSec);
        const med = c.median(eps);
        const minSteps = Math.min(...ok.map((x) => x.steps));
        const capped = minSteps < opts.steps || Math.min(...ok.map((x) => x.warmup)) < opts.warmup;
        if (capped) notes.add("* fewer steps than asked: the run hit the time cap (--max-seconds)");
        const note = [];
        if (ref && ref.label === r.label) note.push("faster PyTorch");
        if (all.length > ok.length) note.push(`${all.length - ok.length} of ${all.length} repeats failed: ${all.find((x) => x.error).error}`);
        if (ok.some((x) => x.leakedTensors)) note.push(`leaked ${Math.max(...ok.map((x) => x.leakedTensors))} tensors`);
        if (torchParams && ok[0].params !== torchParams) note.push(`${ok[0].params} parameters, PyTorch's twin ${torchParams}: not the same model`);
        const f = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
        rows.push([
          m,
          r.label + (!r.torch && ok[0].threads ? ` (${ok[0].threads} thr)` : ""),
          batch,
          `${minSteps}${capped ? "*" : ""}`,
          f(med),
          ok.length > 1 ? `${f(Math.min(...eps))}-${f(Math.max(...eps))}` : "",
          c.ratio(med, ref),
          Math.max(...ok.map((x) => x.maxRssMiB || 0)).toFixed(0),
          Number.isFinite(ok[ok.length - 1].loss) ? ok[ok.length - 1].loss.toFixed(3) : String(ok[ok.length - 1].loss),
          note.join("; "),
        ]);
      }
    }
    console.log(c.table(rows, ["model", "run", "batch", "steps", "examples/sec", "min-max", "vs best pytorch", "peak RSS MiB", "last loss", "note"], (i) => i >= 2 && i <= 8));
    for (const m of opts.models) console.log(`${m}: ${MODELS[m].describe}`);
    for (const n of notes) console.log(n);
    console.log("examples/sec = timed steps x batch / seconds; a step is forward + loss + backward + SGD update; each run a fresh process.");
    console.log("vs best pytorch: over the faster of PyTorch's thread counts; peak RSS: the run's process, the largest over repeats.");
  }
  console.log(c.loadFooter());
  if (opts.json) {
    fs.writeFileSync(opts.json, JSON.stringify({ machine: header({ ...opts, torchThreads: [] }), options: opts, results: raw }, null, 2));
    console.log(`raw results: ${opts.json}`);
  }
}

if (process.argv.includes("--child")) {
  child().catch((e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  });
} else {
  parent();
}
