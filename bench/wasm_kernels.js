/**
 * Per-kernel times on the wasm backend: d2l's kernels (lib/kernels/) against
 * what runs without them, on the layer shapes of the book's CNNs.
 *
 *   npx tsc -p . && node bench/wasm_kernels.js            # threads: D2L_WASM_THREADS, else cores (at most 4)
 *   D2L_WASM_THREADS=1 node bench/wasm_kernels.js --repeats 5
 *
 * "before" is, per kernel: Conv2DBackpropInput, AvgPoolGrad, BatchMatMul and Tile: tfjs-backend-wasm's own;
 * Conv2DBackpropFilter: d2l's previous formulation (a strided slice and a matrix
 * product per filter tap; tfjs-backend-wasm has none, and tfjs-backend-cpu's, forwarded,
 * takes seconds to minutes on these shapes); the depthwise gradients:
 * tfjs-backend-cpu's kernels, which wasm forwarded to (copies not counted).
 * Prints the best of --repeats (default 3) runs in ms.
 */
"use strict";
const tf = require("@tensorflow/tfjs");
require("@tensorflow/tfjs-backend-wasm"); // its kernels register now: keep tfjs' before d2l replaces them
const d2l = require("../dist/lib/index");

const TFJS = Object.fromEntries(["Conv2DBackpropInput", "BatchMatMul", "Tile", "AvgPoolGrad"].map((k) => [k, tf.getKernel(k, "wasm")]));

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const REPEATS = Number(arg("repeats", "3"));

/** Best time of `f` in ms; `f` returns a tensor or TensorInfo, disposed after it is read. */
function time(f) {
  let best = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    const out = f();
    const t = out instanceof tf.Tensor ? out : tf.engine().makeTensorFromTensorInfo(out);
    t.dataSync();
    best = Math.min(best, performance.now() - t0);
    t.dispose();
  }
  return best;
}

/** A tfjs kernel config's function, called directly on the wasm backend. */
function direct(config, inputs, attrs) {
  return config.kernelFunc({ inputs, attrs, backend: tf.backend() });
}

/** d2l's previous Conv2DBackpropFilter on wasm: per tap a strided slice of the padded input and one matrix product. */
function perTapFilterGrad(x, dy, info) {
  return tf.tidy(() => {
    const { batchSize: B, inChannels: Ci, outHeight: Ho, outWidth: Wo, outChannels: Co, filterHeight: Kh, filterWidth: Kw, strideHeight: sh, strideWidth: sw } = info;
    const { top, bottom, left, right } = info.padInfo;
    const N = B * Ho * Wo;
    const dyM = dy.transpose([3, 0, 1, 2]).reshape([1, Co, N]);
    const xp = x.pad([
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ]);
    const taps = [];
    for (let i = 0; i < Kh; i++) {
      for (let j = 0; j < Kw; j++) {
        const xs = tf.stridedSlice(xp, [0, i, j, 0], [B, i + (Ho - 1) * sh + 1, j + (Wo - 1) * sw + 1, Ci], [1, sh, sw, 1]);
        taps.push(tf.engine().runKernel("BatchMatMul", { a: dyM, b: xs.reshape([1, N, Ci]) }, { transposeA: false, transposeB: false }));
      }
    }
    return tf.concat(taps, 0).transpose([0, 2, 1]).reshape([Kh, Kw, Ci, Co]);
  });
}

const CONVS = [
  {
    name: "LeNet conv1",
    x: [256, 28, 28, 1],
    f: [5, 5, 1, 6],
    s: 1,
    pad: [
      [0, 0],
      [2, 2],
      [2, 2],
      [0, 0],
    ],
  },
  { name: "LeNet conv2", x: [256, 14, 14, 6], f: [5, 5, 6, 16], s: 1, pad: "valid" },
  { name: "ResNet 3x3 64->64", x: [32, 28, 28, 64], f: [3, 3, 64, 64], s: 1, pad: "same" },
  { name: "ResNet 3x3/2 64->128", x: [32, 28, 28, 64], f: [3, 3, 64, 128], s: 2, pad: "same" },
  { name: "ResNet 1x1/2 64->128", x: [32, 28, 28, 64], f: [1, 1, 64, 128], s: 2, pad: "same" },
];
const DEPTHWISE = [
  { name: "depthwise 3x3 64", x: [32, 28, 28, 64], f: [3, 3, 64, 1], s: 1, pad: "same" },
  { name: "depthwise 3x3/2 32x2", x: [32, 28, 28, 32], f: [3, 3, 32, 2], s: 2, pad: "same" },
];
const MATMULS = [
  { name: "MLP dW = xT dy", a: [256, 784], b: [256, 256], ta: true, tb: false },
  { name: "MLP dx = dy WT", a: [256, 256], b: [784, 256], ta: false, tb: true },
  { name: "LeNet dense dW", a: [256, 400], b: [256, 120], ta: true, tb: false },
];

function row(name, what, before, after) {
  const b = before === null ? "-" : before.toFixed(1);
  console.log(`${name.padEnd(22)} ${what.padEnd(22)} ${b.padStart(9)} ${after.toFixed(1).padStart(9)} ${before === null ? "" : `${(before / after).toFixed(1)}x`.padStart(7)}`);
}

async function main() {
  await d2l.useBackend("wasm");
  const info = d2l.backendInfo();
  console.log(`wasm: ${info.adapter}; best of ${REPEATS}; ms`);
  console.log(`${"layer".padEnd(22)} ${"kernel".padEnd(22)} ${"before".padStart(9)} ${"d2l".padStart(9)} speedup`);
  const e = tf.engine();
  for (const c of CONVS) {
    const ci = tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, 1, c.pad, undefined, false, "channelsLast");
    const [x, w, dy] = [tf.randomNormal(c.x), tf.randomNormal(c.f), tf.randomNormal(ci.outShape)];
    const attrs = { strides: c.s, pad: c.pad, dataFormat: "NHWC" };
    row(
      c.name,
      "forward conv2d",
      null,
      time(() => tf.conv2d(x, w, c.s, c.pad)),
    );
    row(
      c.name,
      "Conv2DBackpropFilter",
      time(() => perTapFilterGrad(x, dy, ci)),
      time(() => e.runKernel("Conv2DBackpropFilter", { x, dy }, { ...attrs, filterShape: c.f })),
    );
    row(
      c.name,
      "Conv2DBackpropInput",
      time(() => direct(TFJS.Conv2DBackpropInput, { dy, filter: w }, { ...attrs, inputShape: c.x })),
      time(() => e.runKernel("Conv2DBackpropInput", { dy, filter: w }, { ...attrs, inputShape: c.x })),
    );
    tf.dispose([x, w, dy]);
  }
  for (const c of DEPTHWISE) {
    const ci = tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, 1, c.pad, undefined, true);
    const values = [c.x, c.f, ci.outShape].map((s) => tf.randomNormal(s).dataSync());
    const attrs = { strides: c.s, pad: c.pad, dilations: 1 };
    const run = (name, xs) =>
      name === "filter"
        ? time(() => e.runKernel("DepthwiseConv2dNativeBackpropFilter", { x: xs[0], dy: xs[2] }, { ...attrs, filterShape: c.f }))
        : time(() => e.runKernel("DepthwiseConv2dNativeBackpropInput", { dy: xs[2], filter: xs[1] }, { ...attrs, inputShape: c.x }));
    const on = async (backend) => {
      await tf.setBackend(backend);
      const xs = [tf.tensor(values[0], c.x), tf.tensor(values[1], c.f), tf.tensor(values[2], ci.outShape)];
      const t = { filter: run("filter", xs), input: run("input", xs) };
      tf.dispose(xs);
      return t;
    };
    const cpu = await on("cpu");
    const wasm = await on("wasm");
    row(c.name, "DepthwiseBackpropFilter", cpu.filter, wasm.filter);
    row(c.name, "DepthwiseBackpropInput", cpu.input, wasm.input);
  }
  for (const c of MATMULS) {
    const [a, b] = [tf.randomNormal(c.a), tf.randomNormal(c.b)];
    const attrs = { transposeA: c.ta, transposeB: c.tb };
    row(
      c.name,
      "BatchMatMul",
      time(() => direct(TFJS.BatchMatMul, { a, b }, attrs)),
      time(() => tf.matMul(a, b, c.ta, c.tb)),
    );
    tf.dispose([a, b]);
  }
  for (const [name, shape] of [
    ["LeNet pool1 2x2/2", [256, 28, 28, 6]],
    ["LeNet pool2 2x2/2", [256, 10, 10, 16]],
    ["DenseNet transition", [32, 28, 28, 64]],
  ]) {
    const x = tf.randomNormal(shape);
    const dy = tf.randomNormal([shape[0], shape[1] / 2, shape[2] / 2, shape[3]]);
    const attrs = { filterSize: 2, strides: 2, pad: "valid" };
    row(
      name,
      "AvgPoolGrad",
      time(() => direct(TFJS.AvgPoolGrad, { dy, input: x }, attrs)),
      time(() => e.runKernel("AvgPoolGrad", { dy, input: x }, attrs)),
    );
    tf.dispose([x, dy]);
  }
  const v = tf.randomNormal([1, 1, 1, 64]);
  row(
    "BatchNorm grad",
    "Tile [1,1,1,64]->32x28x28",
    time(() => direct(TFJS.Tile, { x: v }, { reps: [32, 28, 28, 1] })),
    time(() => tf.tile(v, [32, 28, 28, 1])),
  );
  v.dispose();
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
