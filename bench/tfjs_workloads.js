/**
 * One benchmark run in TensorFlow.js: one workload on one backend, in its own
 * process (tfjs backends are global). Prints one JSON line on stdout:
 *   {"examplesPerSec":..,"steps":..,"warmup":..,"seconds":..,"loss":..,"backend":"wasm","threads":2,"maxRssMiB":..,...}
 * Run by bench/run.js and bench/gpu.js; by hand:
 *   node bench/tfjs_workloads.js --backend wasm --workload lenet --steps 30 --warmup 5 --max-seconds 20 [--min-seconds 2]
 * A backend named `<name>-compiled` (`native-compiled`) runs the step through d2l.compileStep: traced in the
 * warm-up, then replayed without tfjs' engine (a step it cannot replay, such as one with dropout, runs eagerly
 * and says why in `compileReason`).
 * `--batch N` (lenet, resnet18, gru, transformer) and `--image-size N` (resnet18) shrink a workload for a quick run (bench/gpu.sh --quick);
 * without them each runs at its own setting. bench/gpu.js also builds the workloads in process (WORKLOADS).
 */
"use strict";
const tf = require("@tensorflow/tfjs");
const d2l = require("../dist/lib/index");
const { arg, trainSteps } = require("./common");

/** Random inputs of `shape` and random labels 0..classes-1 (one-hot, as tfjs' losses want), made before timing. */
function randomBatch(xShape, labelShape, classes) {
  const x = tf.randomNormal(xShape);
  const labels = tf.randomUniform(labelShape, 0, classes, "int32");
  const y = tf.oneHot(labels, classes);
  labels.dispose();
  return { x, y };
}

/**
 * A character language model: one-hot input (vocab 28), a recurrent layer of 256 units (`cell`: tf.layers.gru
 * or tf.layers.lstm, sigmoid gates as in PyTorch), dense 28 at every step; the loss over all 35 steps, batch 32.
 * glorotUniform, not tfjs' default orthogonal recurrent initializer: its QR of a 256x768 matrix takes ~100 s on
 * the cpu backend (before timing, but it made the benchmark slow); PyTorch's layers start uniform too.
 */
function languageModel(cell, batch = 32) {
  const model = tf.sequential({
    layers: [
      cell({ inputShape: [35, 28], units: 256, returnSequences: true, recurrentActivation: "sigmoid", recurrentInitializer: "glorotUniform" }),
      tf.layers.dense({ units: 28 }),
    ],
  });
  const idx = tf.randomUniform([batch, 35], 0, 28, "int32");
  const x = tf.oneHot(idx, 28).toFloat();
  idx.dispose();
  const { y } = randomBatch([1], [batch, 35], 28);
  return { model, batch, x, y, tokensPerExample: 35 };
}

/** Each workload: a model (or its own `forward()`), the batch size, inputs `x` and one-hot labels `y`. */
const WORKLOADS = {
  softmax() {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10 })] });
    return { model, batch: 256, ...randomBatch([256, 784], [256], 10) };
  },
  mlp() {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [784], units: 256, activation: "relu" }), tf.layers.dense({ units: 10 })],
    });
    return { model, batch: 256, ...randomBatch([256, 784], [256], 10) };
  },
  lenet(batch = 256) {
    // d2l.ai 6.6 (channels-last): conv5x5 6 pad 2 sigmoid, avgpool 2, conv5x5 16 sigmoid, avgpool 2, 120, 84, 10.
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: "same", activation: "sigmoid" }),
        tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
        tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: "sigmoid" }),
        tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 120, activation: "sigmoid" }),
        tf.layers.dense({ units: 84, activation: "sigmoid" }),
        tf.layers.dense({ units: 10 }),
      ],
    });
    return { model, batch, ...randomBatch([batch, 28, 28, 1], [batch], 10) };
  },
  resnet() {
    // conv3x3 1->64 + BN + ReLU, then 2 residual blocks (conv3x3 64, BN, ReLU, conv3x3 64, BN, + x, ReLU), GAP, dense 10.
    const input = tf.input({ shape: [28, 28, 1] });
    const convBn = (t, relu) => {
      const c = tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: "same" }).apply(t);
      const b = tf.layers.batchNormalization({ epsilon: 1e-5 }).apply(c);
      return relu ? tf.layers.reLU().apply(b) : b;
    };
    let h = convBn(input, true);
    for (let i = 0; i < 2; i++) {
      const y = convBn(convBn(h, true), false);
      h = tf.layers.reLU().apply(tf.layers.add().apply([y, h]));
    }
    const out = tf.layers.dense({ units: 10 }).apply(tf.layers.globalAveragePooling2d({}).apply(h));
    return { model: tf.model({ inputs: input, outputs: out }), batch: 32, ...randomBatch([32, 28, 28, 1], [32], 10) };
  },
  resnet18(batch = 256, size = 96) {
    // d2l.ai 8.6 ResNet-18 (channels-last) at the book's 96x96 Fashion-MNIST setting, batch 256: conv7x7 64 stride 2
    // + BN + ReLU + maxpool 3x3 stride 2, four stages of two residual blocks (64, 128, 256, 512 channels; the first
    // block of stages 2-4 halves the size, with a 1x1 convolution stride 2 on the shortcut), GAP, dense 10.
    const input = tf.input({ shape: [size, size, 1] });
    const bn = (t) => tf.layers.batchNormalization({ epsilon: 1e-5 }).apply(t);
    const residual = (t, channels, strides) => {
      let y = tf.layers.reLU().apply(bn(tf.layers.conv2d({ filters: channels, kernelSize: 3, padding: "same", strides }).apply(t)));
      y = bn(tf.layers.conv2d({ filters: channels, kernelSize: 3, padding: "same" }).apply(y));
      const shortcut = strides === 1 ? t : tf.layers.conv2d({ filters: channels, kernelSize: 1, strides }).apply(t);
      return tf.layers.reLU().apply(tf.layers.add().apply([y, shortcut]));
    };
    let h = tf.layers.reLU().apply(bn(tf.layers.conv2d({ filters: 64, kernelSize: 7, strides: 2, padding: "same" }).apply(input)));
    h = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }).apply(h);
    for (const [channels, first] of [
      [64, 1],
      [128, 2],
      [256, 2],
      [512, 2],
    ]) {
      h = residual(h, channels, first);
      h = residual(h, channels, 1);
    }
    const out = tf.layers.dense({ units: 10 }).apply(tf.layers.globalAveragePooling2d({}).apply(h));
    return { model: tf.model({ inputs: input, outputs: out }), batch, ...randomBatch([batch, size, size, 1], [batch], 10) };
  },
  gru(batch) {
    return languageModel(tf.layers.gru, batch);
  },
  lstm() {
    return languageModel(tf.layers.lstm);
  },
  transformer(batch = 64) {
    // One encoder block of the book's 10.7 Transformer as bench/transformer.js trains it (d2l.EncoderBlock:
    // hidden 32, 4 heads, key/query/value size 32, FFN 64, layer norm over [32], dropout 0.1, no bias in the
    // attention's projections) on random [64, 10, 32] inputs (the book's batch 64 and 10 steps), then dense 10
    // at every step; the loss over all 64 x 10 positions.
    const block = new d2l.EncoderBlock(32, 32, 32, 32, [32], 32, 64, 4, 0.1);
    block.train();
    const head = tf.layers.dense({ units: 10 });
    const { x, y } = randomBatch([batch, 10, 32], [batch, 10], 10);
    return { batch, x, y, tokensPerExample: 10, forward: () => head.apply(block.forward(x)) };
  },
};

async function main() {
  const asked = arg("backend", "cpu");
  const compiled = asked.endsWith("-compiled");
  const backend = compiled ? asked.slice(0, -"-compiled".length) : asked;
  const name = arg("workload", "softmax");
  const steps = Number(arg("steps", "30"));
  const warmup = Number(arg("warmup", "5"));
  const maxSeconds = Number(arg("max-seconds", "20"));
  const minSeconds = Number(arg("min-seconds", "0"));
  if (!WORKLOADS[name]) throw new Error(`unknown workload "${name}"; expected one of ${Object.keys(WORKLOADS).join(", ")}`);
  const batchArg = arg("batch", "");
  const sizeArg = arg("image-size", "");
  for (const [flagName, v] of [
    ["batch", batchArg],
    ["image-size", sizeArg],
  ]) {
    if (v !== "" && !(Number.isInteger(Number(v)) && Number(v) > 0)) throw new Error(`--${flagName} takes a positive integer, got ${v}`);
  }
  await d2l.useBackend(backend);
  const info = d2l.backendInfo();
  const w = WORKLOADS[name](batchArg ? Number(batchArg) : undefined, sizeArg ? Number(sizeArg) : undefined);
  const optimizer = tf.train.sgd(0.1);
  const forward = w.forward || (() => w.model.apply(w.x, { training: true }));
  const lossFn = () => tf.losses.softmaxCrossEntropy(w.y, forward());
  const step = compiled ? d2l.compileStep(lossFn, optimizer) : () => optimizer.minimize(lossFn, true);
  const { warm, done, seconds, loss, leaked } = await trainSteps(tf, step, { steps, warmup, maxSeconds, minSeconds });
  console.log(
    JSON.stringify({
      framework: "tfjs",
      backend: info.name,
      compiled: compiled ? step.compiled : undefined,
      compileReason: compiled && step.reason ? step.reason : undefined,
      threads: info.threads,
      adapter: info.adapter,
      workload: name,
      batch: w.batch,
      warmup: warm,
      steps: done,
      seconds,
      examplesPerSec: (done * w.batch) / seconds,
      tokensPerSec: w.tokensPerExample ? (done * w.batch * w.tokensPerExample) / seconds : undefined,
      loss,
      leakedTensors: leaked,
      maxRssMiB: process.resourceUsage().maxRSS / 1024, // the process's peak resident memory (maxRSS is in KiB)
    }),
  );
}

module.exports = { WORKLOADS };

if (require.main === module) {
  main().catch((e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  });
}
