#!/usr/bin/env node
/**
 * Computer-vision speed benchmark (issue 22): d2l-ts next to PyTorch at its best on the same machine,
 * in one table of examples/sec.
 *
 *  aug0, aug2  the augmented Fashion-MNIST pipeline: d2l.DataLoader over the 60,000 training images,
 *              batch 256, shuffled, each example through d2l.transforms.Compose([RandomHorizontalFlip(),
 *              RandomCrop(28, { padding: 2 }), ToTensor(), Normalize([0.286], [0.353])]) run per example
 *              (d2l.transforms.preprocessFor) with numWorkers 0 or 2; examples/sec of iterating an epoch
 *              (the loop only disposes each batch). PyTorch: the same torchvision transforms through
 *              torch.utils.data.DataLoader with num_workers 0 or 2, on the same IDX files.
 *  fcn         one training step of a small FCN on 64x64x3 images of d2l.loadDataFashionSeg (11 classes):
 *              three blocks of conv3x3 + batch norm + ReLU + max-pool 2 (32, 64, 128 channels), conv1x1 to
 *              the classes, a transposed convolution (kernel 16, stride 8, padding 4) back to 64x64;
 *              per-pixel softmax cross entropy, d2l.optim.SGD (lr 0.001, weight decay 1e-3), batch 32.
 *  ssd64, ssd256  one training step of d2l.TinySSD(1) on 64x64 (or the book's 256x256) images of
 *              d2l.loadDataFashionDetection, batch 32: forward, multiboxTarget, calcLoss (class cross
 *              entropy + masked box L1), mean, backward, d2l.optim.SGD (lr 0.2, weight decay 5e-4), as
 *              notebook 07_ssd.ipynb trains it. ssd256 is not in the default set (slow on a CPU).
 *
 * The PyTorch twins are in bench/vision_torch.py (the book's TinySSD, multibox_prior, multibox_target and
 * calc_loss written out; the same FCN in NCHW), on 1 and on 2 threads (--torch-threads 1,2); every ratio is
 * to the faster. Each run is a fresh process (tfjs backends are global to a process: this file re-runs
 * itself with --child); each repeat runs d2l-ts on the first backend, PyTorch 1 thread, PyTorch 2 threads,
 * then the other backends, one after another. See bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/vision.js [--quick] [--workloads aug0,aug2,fcn,ssd64] [--backends native]
 *        [--repeats 3] [--steps 20] [--warmup 3] [--max-seconds 60] [--examples 60000] [--epochs 1]
 *        [--pipeline-warmup 1] [--pipeline-input pil,tensor] [--timeout 600] [--torch-threads 1,2]
 *        [--no-torch] [--json FILE]
 */
"use strict";
const fs = require("fs");
const path = require("path");
const c = require("./common");

const PROG = "bench/vision.js";
const ROOT = c.ROOT;
const { flag, arg } = c;

const WORKLOADS = {
  aug0: { pipeline: true, workers: 0, describe: "augmented Fashion-MNIST pipeline, numWorkers 0 (flip + crop pad 2 + normalize, batch 256)" },
  aug2: { pipeline: true, workers: 2, describe: "augmented Fashion-MNIST pipeline, numWorkers 2 (flip + crop pad 2 + normalize, batch 256)" },
  fcn: { size: 64, describe: "FCN training step, 64x64x3, 11 classes, batch 32" },
  ssd64: { size: 64, describe: "TinySSD training step, 64x64x3, batch 32" },
  ssd256: { size: 256, describe: "TinySSD training step, 256x256x3 (the book's), batch 32" },
};
const QUICK = flag("quick");
const num = (name, fallback) => c.positive(PROG, name, fallback);
/** `--name N`, a whole number that may be 0. */
function whole(name, fallback) {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isInteger(v) || v < 0) c.die(PROG, `--${name} must be a whole number (0 or more), got ${arg(name, "")}`);
  return v;
}

/** Fashion-MNIST: D2L_DATA_DIR, else the project's shared offline copy if there is one. */
function dataDir() {
  if (process.env.D2L_DATA_DIR) return process.env.D2L_DATA_DIR;
  const shared = path.resolve(ROOT, "..", "shared", "data");
  return fs.existsSync(path.join(shared, "fashion-mnist")) ? shared : "";
}

// ------------------------------------------------------------------ child: one d2l-ts run

/** The first `n` training images as `{ data, shape }` byte images and their labels (a user's own dataset). */
class FashionImages {
  constructor(images, labels, n) {
    this.images = images;
    this.labels = labels;
    this.n = Math.min(n, labels.length);
  }
  get length() {
    return this.n;
  }
  get(i) {
    return [{ data: this.images.subarray(i * 784, (i + 1) * 784), shape: [28, 28, 1] }, this.labels[i]];
  }
}

async function pipelineChild(tf, d2l, wl) {
  const examples = Number(arg("examples", "60000"));
  const epochs = Number(arg("epochs", "1"));
  const warmup = Number(arg("warmup", "1"));
  const batch = Number(arg("batch", "256"));
  const raw = await d2l.readFashionMnist({ quiet: true });
  const T = d2l.transforms;
  const augs = new T.Compose([new T.RandomHorizontalFlip(), new T.RandomCrop(28, { padding: 2 }), new T.ToTensor(), new T.Normalize([0.286], [0.353])]);
  const ds = new FashionImages(raw.train.images, raw.train.labels, examples);
  const loader = new d2l.DataLoader(ds, { batchSize: batch, shuffle: true, seed: 0, numWorkers: wl.workers, ...T.preprocessFor(augs) });
  const rates = [];
  let shape;
  for (let e = 0; e < warmup + epochs; e++) {
    const t0 = performance.now();
    let n = 0;
    for await (const [X, y] of loader) {
      n += X.shape[0];
      shape = X.shape;
      tf.dispose([X, y]);
    }
    if (e >= warmup) rates.push(n / ((performance.now() - t0) / 1000));
  }
  loader.dispose();
  rates.sort((p, q) => p - q);
  return { numWorkers: wl.workers, examples: ds.length, epochs, warmup, batchShape: shape, examplesPerSec: rates[Math.floor(rates.length / 2)], best: rates[rates.length - 1] };
}

/** The small FCN (see the file's comment), channels last. */
function fcn(tf, numClasses) {
  const layers = [];
  let inputShape = [64, 64, 3];
  for (const filters of [32, 64, 128]) {
    layers.push(tf.layers.conv2d({ filters, kernelSize: 3, padding: "same", inputShape }));
    inputShape = undefined;
    layers.push(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }));
    layers.push(tf.layers.reLU());
    layers.push(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  }
  layers.push(tf.layers.conv2d({ filters: numClasses, kernelSize: 1 }));
  // kernel 16, stride 8, "same": 8x8 -> 64x64, PyTorch's ConvTranspose2d(kernel_size=16, stride=8, padding=4)
  layers.push(tf.layers.conv2dTranspose({ filters: numClasses, kernelSize: 16, strides: 8, padding: "same" }));
  return tf.sequential({ layers });
}

async function trainChild(tf, d2l, name, wl) {
  const batch = Number(arg("batch", "32"));
  const opts = { steps: Number(arg("steps", "20")), warmup: Number(arg("warmup", "3")), maxSeconds: Number(arg("max-seconds", "60")) };
  let step;
  let params;
  let trainer;
  let X;
  let Y;
  if (name === "fcn") {
    const [trainIter, testIter] = await d2l.loadDataFashionSeg(batch, wl.size, { numTrain: batch, numTest: 1, quiet: true });
    [X, Y] = (await trainIter[Symbol.asyncIterator]().next()).value;
    trainIter.dispose();
    testIter.dispose();
    const net = fcn(tf, 11);
    const onehot = tf.oneHot(tf.cast(Y, "int32"), 11);
    trainer = new d2l.optim.SGD({ lr: 0.001, weightDecay: 1e-3 });
    params = net.trainableWeights.map((w) => w.read());
    step = () => trainer.minimize(() => tf.losses.softmaxCrossEntropy(onehot, net.apply(X, { training: true })), true, params);
  } else {
    const [trainIter, valIter] = await d2l.loadDataFashionDetection(batch, { imageSize: wl.size, numTrain: batch, numVal: 1, quiet: true });
    [X, Y] = (await trainIter[Symbol.asyncIterator]().next()).value;
    trainIter.dispose();
    valIter.dispose();
    const net = new d2l.TinySSD(1);
    trainer = new d2l.optim.SGD({ lr: 0.2, weightDecay: 5e-4 });
    tf.dispose(net.forward(tf.zeros([1, wl.size, wl.size, 3]))); // build the layers, so that their weights exist
    params = net.trainableWeights.map((w) => w.read());
    net.train();
    step = () =>
      trainer.minimize(
        () => {
          const [anchors, clsPreds, bboxPreds] = net.forward(X);
          const [bboxLabels, bboxMasks, clsLabels] = d2l.multiboxTarget(anchors, Y);
          return d2l.calcLoss(clsPreds, clsLabels, bboxPreds, bboxLabels, bboxMasks).mean();
        },
        true,
        params,
      );
  }
  const r = await c.trainSteps(tf, step, opts);
  return {
    size: wl.size,
    batch,
    inputShape: X.shape,
    params: params.reduce((a, v) => a + v.size, 0),
    warmup: r.warm,
    steps: r.done,
    seconds: r.seconds,
    examplesPerSec: (r.done * batch) / r.seconds,
    loss: r.loss,
    leakedTensors: r.leaked,
  };
}

async function child() {
  const tf = require("@tensorflow/tfjs");
  const d2l = require("../dist/lib/index");
  const name = arg("child", "");
  const wl = WORKLOADS[name];
  if (!wl) throw new Error(`${PROG} --child: unknown workload "${name}"; expected one of ${Object.keys(WORKLOADS).join(",")}`);
  const backend = arg("backend", "native");
  await d2l.useBackend(backend);
  const info = d2l.backendInfo();
  const res = wl.pipeline ? await pipelineChild(tf, d2l, wl) : await trainChild(tf, d2l, name, wl);
  console.log(JSON.stringify({ framework: "tfjs", workload: name, backend: info.name, threads: info.threads, ...res, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
}

// ------------------------------------------------------------------ parent: spawn, collect, print

function options() {
  // --quick: a smoke check of every path (a few batches, one repeat); explicit options still win
  const q = (quick, full) => (QUICK ? quick : full);
  // PyTorch at its best: its pipeline runs on both inputs, each thread count's column shows the faster
  const pipelineInput = c.list(PROG, "pipeline-input", "pil,tensor", ["pil", "tensor"]);
  return {
    quick: QUICK,
    workloads: c.list(PROG, "workloads", "aug0,aug2,fcn,ssd64", Object.keys(WORKLOADS)),
    backends: c.list(PROG, "backends", "native", ["native", "wasm", "cpu", "webgpu", "tensorflow"]),
    repeats: num("repeats", q(1, 3)),
    steps: num("steps", q(2, 20)),
    warmup: whole("warmup", q(1, 3)),
    maxSeconds: num("max-seconds", q(10, 60)),
    examples: num("examples", q(1024, 60000)),
    epochs: num("epochs", 1),
    pipelineWarmup: whole("pipeline-warmup", q(0, 1)),
    pipelineInput,
    timeout: num("timeout", q(180, 600)),
    torchThreads: c.torchThreads(PROG),
    json: arg("json", ""),
  };
}

/** The runs of one workload, in the order a repeat makes them: first backend, PyTorch on each thread count, the other backends. */
function runsOf(name, o) {
  const wl = WORKLOADS[name];
  const env = dataDir() ? { D2L_DATA_DIR: dataDir() } : {};
  const common = wl.pipeline
    ? ["--examples", String(o.examples), "--epochs", String(o.epochs), "--warmup", String(o.pipelineWarmup)]
    : ["--steps", String(o.steps), "--warmup", String(o.warmup), "--max-seconds", String(o.maxSeconds)];
  const runs = o.backends.map((b) => ({
    label: `d2l-ts ${b}`,
    backend: b,
    go: () => c.runChild(process.execPath, [__filename, "--child", name, "--backend", b, ...common], o.timeout, { env }),
  }));
  const inputs = wl.pipeline ? o.pipelineInput : [undefined];
  const torch = o.torchThreads.flatMap((t) =>
    inputs.map((input) => ({
      label: `PyTorch ${t} thr` + (input ? ` ${input}` : ""),
      column: `PyTorch ${t} thr`,
      input,
      torch: true,
      go: () =>
        c.runChild(
          c.PYTHON,
          [path.join(__dirname, "vision_torch.py"), "--workload", name, "--threads", String(t), ...common, ...(input ? ["--pipeline-input", input] : [])],
          o.timeout,
          { env },
        ),
    })),
  );
  runs.splice(Math.min(1, runs.length), 0, ...torch);
  return runs;
}

function fmt(v) {
  return !Number.isFinite(v) ? "-" : v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(1);
}

function parent() {
  const o = options();
  const header = c.machineHeader(o.torchThreads);
  header.push(`Fashion-MNIST: ${dataDir() || "(D2L_DATA_DIR unset: the loader's cache or download)"}`);
  for (const l of header) console.log(l);
  const raw = {};
  const rows = [];
  const notes = [];
  for (const name of o.workloads) {
    const runs = runsOf(name, o);
    raw[name] = Object.fromEntries(runs.map((r) => [r.label, []]));
    for (let rep = 0; rep < o.repeats; rep++) {
      for (const r of runs) {
        const res = r.go();
        raw[name][r.label].push(res);
        const what = res.error ? `ERROR ${res.error}` : `${fmt(res.examplesPerSec)} ex/s`;
        process.stderr.write(`  ${name} ${r.label} #${rep + 1}: ${what} [${res.wall.toFixed(1)} s wall, load ${c.loadavg()}]\n`);
      }
    }
    const med = {};
    const spread = {};
    const mem = {};
    for (const r of runs) {
      const ok = raw[name][r.label].filter((x) => !x.error);
      const bad = raw[name][r.label].filter((x) => x.error);
      if (bad.length) notes.push(`${name}, ${r.label}: ${bad.length} of ${o.repeats} runs failed: ${bad[0].error}`);
      if (!ok.length) continue;
      const eps = ok.map((x) => x.examplesPerSec);
      med[r.label] = c.median(eps);
      spread[r.label] = ok.length > 1 ? `${fmt(Math.min(...eps))}-${fmt(Math.max(...eps))}` : "";
      mem[r.label] = Math.max(...ok.map((x) => x.maxRssMiB || 0)).toFixed(0);
      const capped = !WORKLOADS[name].pipeline && ok.some((x) => x.steps < o.steps);
      if (capped) notes.push(`${name}, ${r.label}: fewer timed steps than asked (${Math.min(...ok.map((x) => x.steps))} of ${o.steps}): the run hit --max-seconds`);
      if (ok.some((x) => x.leakedTensors)) notes.push(`${name}, ${r.label}: leaked ${Math.max(...ok.map((x) => x.leakedTensors))} tensors per timed loop`);
    }
    const torchLabels = runs.filter((r) => r.torch).map((r) => r.label);
    const ref = c.best(Object.fromEntries(torchLabels.map((l) => [l, med[l]])));
    const tfjsParams = runs.filter((r) => !r.torch).flatMap((r) => raw[name][r.label].filter((x) => !x.error).map((x) => x.params));
    const torchParams = torchLabels.flatMap((l) => raw[name][l].filter((x) => !x.error).map((x) => x.params));
    if (tfjsParams[0] !== undefined && torchParams[0] !== undefined && tfjsParams[0] !== torchParams[0]) {
      notes.push(`${name}: ${tfjsParams[0]} trainable parameters in d2l-ts, ${torchParams[0]} in PyTorch: not the same model`);
    }
    // each thread count's column: its faster run (over the pipeline's inputs)
    const cols = {};
    for (const r of runs.filter((x) => x.torch && Number.isFinite(med[x.label]))) if (!cols[r.column] || med[r.label] > med[cols[r.column].label]) cols[r.column] = r;
    rows.push({ name, runs, med, spread, mem, ref, cols });
  }

  const backends = o.backends;
  const torchCols = o.torchThreads.map((t) => `PyTorch ${t} thr`);
  const head = [
    "workload",
    ...backends.map((b) => `d2l-ts ${b}`),
    ...torchCols,
    ...(torchCols.length ? backends.map((b) => `${b} / best PyTorch`) : []),
    "peak MiB (d2l-ts / PyTorch)",
  ];
  console.log("");
  console.log(
    `Computer vision, examples/sec (median of ${o.repeats} alternating repeat(s), each a fresh process); ` +
      `training steps: ${o.warmup} warm-up + ${o.steps} timed on one batch, capped at ${o.maxSeconds} s; ` +
      `pipeline: ${o.examples} examples per epoch, ${o.pipelineWarmup} warm-up + ${o.epochs} timed epoch(s)${o.quick ? "; --quick: a smoke check, not a measurement" : ""}`,
  );
  console.log("");
  console.log(`| ${head.join(" | ")} |`);
  console.log(
    `|---|${head
      .slice(1)
      .map(() => "---:|")
      .join("")}`,
  );
  for (const r of rows) {
    const cells = [r.name];
    for (const b of backends) cells.push(fmt(r.med[`d2l-ts ${b}`]) + (r.spread[`d2l-ts ${b}`] ? ` (${r.spread[`d2l-ts ${b}`]})` : ""));
    for (const col of torchCols) {
      const run = r.cols[col];
      const l = run ? run.label : col;
      const v = fmt(r.med[l]) + (r.spread[l] ? ` (${r.spread[l]})` : "") + (run && run.input ? `, ${run.input}` : "");
      cells.push(r.ref && r.ref.label === l ? `**${v}**` : v);
    }
    if (torchCols.length) for (const b of backends) cells.push(c.ratio(r.med[`d2l-ts ${b}`], r.ref).replace(/(\.\d\d)\dx$/, "$1x"));
    const refMem = r.ref ? r.mem[r.ref.label] : undefined;
    cells.push(`${backends.map((b) => r.mem[`d2l-ts ${b}`] || "-").join(" / ")} / ${refMem || "-"}`);
    console.log(`| ${cells.join(" | ")} |`);
  }
  console.log("");
  for (const name of o.workloads) console.log(`${name}: ${WORKLOADS[name].describe}`);
  console.log("Cells: median examples/sec (min-max over repeats); the faster PyTorch run in bold, every ratio is to it.");
  console.log(
    `PyTorch's pipeline runs with each example as ${o.pipelineInput.map((i) => (i === "pil" ? "a PIL image (pil, as torchvision.datasets.FashionMNIST)" : "a uint8 tensor (tensor)")).join(" and as ")}; ` +
      "its cells show the faster; its peak memory is the main process only (workers are processes), d2l-ts' includes its worker threads.",
  );
  for (const n of notes) console.log(`note: ${n}`);
  console.log(c.loadFooter());
  if (o.json) {
    fs.writeFileSync(o.json, JSON.stringify({ machine: header, options: o, results: raw }, null, 2));
    console.log(`raw results: ${o.json}`);
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
