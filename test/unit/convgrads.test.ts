/**
 * d2l's convolution gradient kernels (lib/kernels/convGrads.ts) on the wasm
 * backend: the input and filter gradients of conv2d and depthwiseConv2d match
 * direct sums and the cpu backend's results on random shapes (strides,
 * paddings same / valid / explicit, dilations, channel multipliers 1 and 2),
 * they are d2l's and never the copy to the cpu backend, they free what they
 * make; and every CNN of the book trains on wasm with no kernel forwarded to
 * cpu. This file's process runs on wasm (node --test gives each file its own).
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm"; // its kernels register now; d2l's and the forwarded ones come with useBackend
import { useBackend } from "../../lib/backend";
import { D2L_CONV_GRAD_KERNELS, isD2lKernel } from "../../lib/kernels";

type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

/** The kernels tfjs-backend-wasm itself has, before d2l adds its own and forwards the rest to cpu. */
const WASM_OWN = new Set(tf.getKernelsForBackend("wasm").map((k) => k.kernelName));

/** Kernels registered on wasm that run on the cpu backend (copied there and back). */
function forwardedKernels(): Set<string> {
  return new Set(
    tf
      .getKernelsForBackend("wasm")
      .map((k) => k.kernelName)
      .filter((n) => !WASM_OWN.has(n) && !isD2lKernel(n, "wasm")),
  );
}

/** Counts the cpu backend's writes: a kernel forwarded from wasm writes its inputs there. */
const cpuWrites = { count: 0 };

before(async () => {
  await useBackend("wasm");
  const cpu = tf.findBackend("cpu") as unknown as { write: (...args: unknown[]) => unknown };
  const write = cpu.write.bind(cpu);
  cpu.write = (...args: unknown[]) => {
    cpuWrites.count++;
    return write(...args);
  };
});

// ---------------------------------------------------------------- helpers

/** A small linear congruential generator: deterministic numbers in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomValues(n: number, rand: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * rand() - 1);
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** max |got - want| / max |want|: the error relative to the result's scale. */
function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, "lengths differ");
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

interface Case {
  depthwise: boolean;
  x: Shape4;
  /** [kh, kw, in, out] for conv2d, [kh, kw, in, multiplier] for depthwise. */
  filter: Shape4;
  strides: [number, number];
  dilations: [number, number];
  pad: Pad;
}

function describeCase(c: Case): string {
  return `${c.depthwise ? "depthwise" : "conv2d"} x ${c.x} filter ${c.filter} strides ${c.strides} dilations ${c.dilations} pad ${JSON.stringify(c.pad)}`;
}

function convInfo(c: Case): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations, c.pad, undefined, c.depthwise);
}

/** Input and filter gradients of sum(conv(x, w) * dy), by direct sums in float64. */
function directGradients(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): { dx: Float64Array; dw: Float64Array } {
  const info = convInfo(c);
  const [B, H, W, C] = c.x;
  const [Kh, Kw, , F] = c.filter; // F: out channels, or the multiplier
  const { outHeight: Ho, outWidth: Wo, outChannels: O } = info;
  const { top, left } = info.padInfo;
  const dx = new Float64Array(size(c.x));
  const dw = new Float64Array(size(c.filter));
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < Ho; y++) {
      for (let xo = 0; xo < Wo; xo++) {
        const dyAt = ((b * Ho + y) * Wo + xo) * O;
        for (let i = 0; i < Kh; i++) {
          const h = y * c.strides[0] + i * c.dilations[0] - top;
          if (h < 0 || h >= H) continue;
          for (let j = 0; j < Kw; j++) {
            const v = xo * c.strides[1] + j * c.dilations[1] - left;
            if (v < 0 || v >= W) continue;
            const xAt = ((b * H + h) * W + v) * C;
            for (let ch = 0; ch < C; ch++) {
              for (let f = 0; f < F; f++) {
                const o = c.depthwise ? ch * F + f : f;
                const wAt = ((i * Kw + j) * C + ch) * F + f;
                dw[wAt] += x[xAt + ch] * dy[dyAt + o];
                dx[xAt + ch] += w[wAt] * dy[dyAt + o];
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw };
}

/** Gradients by tf.grads of tf.conv2d / tf.depthwiseConv2d on the backend in use (dilations 1: tfjs' gradients refuse others). */
function gradGradients(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, c.x);
    const wt = tf.tensor4d(w, c.filter);
    const dyt = tf.tensor(dy, convInfo(c).outShape);
    const f = (a: tf.Tensor, k: tf.Tensor): tf.Tensor =>
      c.depthwise ? tf.depthwiseConv2d(a as tf.Tensor4D, k as tf.Tensor4D, c.strides, c.pad) : tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, c.strides, c.pad);
    const [gx, gw] = tf.grads((a: tf.Tensor, k: tf.Tensor) => f(a, k).mul(dyt).sum())([xt, wt]);
    return { dx: gx.dataSync() as Float32Array, dw: gw.dataSync() as Float32Array };
  });
}

/** Gradients from the kernels themselves (any dilation), through tf.engine().runKernel. */
function kernelGradients(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, c.x);
    const wt = tf.tensor4d(w, c.filter);
    const dyt = tf.tensor(dy, convInfo(c).outShape);
    const e = tf.engine();
    const common = { strides: c.strides, pad: c.pad };
    const [gx, gw] = c.depthwise
      ? [
          e.runKernel("DepthwiseConv2dNativeBackpropInput", { dy: dyt, filter: wt }, { ...common, dilations: c.dilations, inputShape: c.x }),
          e.runKernel("DepthwiseConv2dNativeBackpropFilter", { x: xt, dy: dyt }, { ...common, dilations: c.dilations, filterShape: c.filter }),
        ]
      : [
          e.runKernel("Conv2DBackpropInput", { dy: dyt, filter: wt }, { ...common, dataFormat: "NHWC", inputShape: c.x }),
          e.runKernel("Conv2DBackpropFilter", { x: xt, dy: dyt }, { ...common, dataFormat: "NHWC", filterShape: c.filter }),
        ];
    return { dx: (gx as tf.Tensor).dataSync() as Float32Array, dw: (gw as tf.Tensor).dataSync() as Float32Array };
  });
}

/** Random cases: every padding kind and stride 1..3 for both ops; dilations 1..3 and multipliers 1, 2 for depthwise. */
function randomCases(n: number, seed: number): Case[] {
  const rand = lcg(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pads = (): Pad[] => [
    "same",
    "valid",
    int(0, 2),
    [
      [0, 0],
      [int(0, 2), int(0, 3)],
      [int(0, 3), int(0, 1)],
      [0, 0],
    ],
  ];
  const cases: Case[] = [];
  while (cases.length < n) {
    const k = cases.length;
    const depthwise = k % 2 === 1;
    const pad = pads()[Math.floor(k / 2) % 4];
    const strides: [number, number] = [int(1, 3), int(1, 3)];
    const dilations: [number, number] = depthwise ? [int(1, 3), int(1, 2)] : [1, 1];
    const C = int(1, 4);
    const x: Shape4 = [int(1, 3), int(5, 12), int(5, 12), C];
    const filter: Shape4 = [int(1, 4), int(1, 4), C, depthwise ? 1 + (Math.floor(k / 2) % 2) : int(1, 5)];
    if (typeof pad === "number") {
      // tfjs sizes a numerically padded convolution from its filter height and stride along both axes
      // (a wrong width otherwise: the forward wasm conv2d then writes past its output), so square ones only.
      filter[1] = filter[0];
      strides[1] = strides[0];
      dilations[1] = dilations[0];
    }
    const c: Case = { depthwise, x, filter, strides, dilations, pad };
    const info = convInfo(c);
    if (info.outHeight < 1 || info.outWidth < 1) continue;
    cases.push(c);
  }
  return cases;
}

/** Run `f` on the cpu backend, then come back to wasm. */
async function onCpu<T>(f: () => T): Promise<T> {
  await tf.setBackend("cpu");
  try {
    return f();
  } finally {
    await tf.setBackend("wasm");
  }
}

const TOLERANCE = 1e-4;

// ------------------------------------------------------------------ tests

describe("dense layers' matrix products on wasm", () => {
  test("BatchMatMul with a transposed factor, a batch of a, or broadcasting matches cpu, and frees what it makes", async () => {
    assert.ok(isD2lKernel("BatchMatMul", "wasm"), "BatchMatMul on wasm is not d2l's");
    const rand = lcg(9);
    const cases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
      { a: [7, 5], b: [7, 3], ta: true, tb: false }, // a dense layer's dW = xᵀ·dy
      { a: [4, 6], b: [9, 6], ta: false, tb: true }, // its dx = dy·Wᵀ
      { a: [6, 4], b: [9, 6], ta: true, tb: true },
      { a: [2, 3, 4, 5], b: [5, 6], ta: false, tb: false }, // a batch of a, folded into rows
      { a: [2, 5, 4], b: [1, 6, 5], ta: true, tb: true }, // ... and transposed, b broadcast
      { a: [3, 4, 5], b: [3, 5, 2], ta: false, tb: false }, // two batches: tfjs's loop
      { a: [1, 4, 5], b: [1, 5, 2], ta: false, tb: false }, // tfjs's XNNPACK case
      { a: [3, 40], b: [64, 40], ta: false, tb: true }, // dx = dy·Wᵀ of a small minibatch: computed as (W·dyᵀ)ᵀ
      { a: [2, 3, 40], b: [64, 40], ta: false, tb: true }, // ... with a batch of a folded into its rows
    ];
    for (const c of cases) {
      const av = randomValues(size(c.a), rand);
      const bv = randomValues(size(c.b), rand);
      const product = (): { values: Float32Array; shape: number[] } =>
        tf.tidy(() => {
          const p = tf.matMul(tf.tensor(av, c.a), tf.tensor(bv, c.b), c.ta, c.tb);
          return { values: p.dataSync() as Float32Array, shape: p.shape };
        });
      const want = await onCpu(product);
      const buffers = tf.backend().numDataIds();
      const got = product();
      assert.equal(tf.backend().numDataIds(), buffers, `wasm buffers leaked: ${JSON.stringify(c)}`);
      assert.deepEqual(got.shape, want.shape, JSON.stringify(c));
      assert.ok(relativeError(got.values, want.values) < TOLERANCE, `${JSON.stringify(c)}: off by ${relativeError(got.values, want.values)}`);
    }
  });
});

describe("Tile on wasm (batch normalization's gradient)", () => {
  test("tiles like cpu: float32, int32 and bool, ranks 1 to 5, repeats of 1 and more", async () => {
    assert.ok(isD2lKernel("Tile", "wasm"), "Tile on wasm is not d2l's");
    const rand = lcg(13);
    const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    const cases: { shape: number[]; reps: number[]; dtype: "float32" | "int32" | "bool" }[] = [
      { shape: [1, 1, 1, 6], reps: [3, 4, 5, 1], dtype: "float32" }, // what batchNorm's gradient does
      { shape: [5], reps: [1], dtype: "float32" },
      { shape: [2, 3], reps: [1, 1], dtype: "int32" },
      { shape: [0, 3], reps: [2, 2], dtype: "float32" },
    ];
    for (let i = 0; i < 24; i++) {
      const rank = int(1, 5);
      cases.push({
        shape: Array.from({ length: rank }, () => int(1, 4)),
        reps: Array.from({ length: rank }, () => int(1, 3)),
        dtype: (["float32", "int32", "bool"] as const)[i % 3],
      });
    }
    for (const c of cases) {
      const values = Array.from({ length: size(c.shape) }, () => (c.dtype === "float32" ? rand() : int(0, c.dtype === "bool" ? 1 : 9)));
      const tiled = (): { values: number[]; shape: number[] } =>
        tf.tidy(() => {
          const t = tf.tile(tf.tensor(values, c.shape, c.dtype), c.reps);
          return { values: Array.from(t.dataSync()), shape: t.shape };
        });
      const want = await onCpu(tiled);
      const buffers = tf.backend().numDataIds();
      assert.deepEqual(tiled(), want, JSON.stringify(c));
      assert.equal(tf.backend().numDataIds(), buffers);
    }
  });
});

describe("convolution gradients on wasm", () => {
  test("the gradient kernels on wasm are d2l's, and none of them is the copy to cpu", () => {
    assert.equal(tf.getBackend(), "wasm");
    for (const name of D2L_CONV_GRAD_KERNELS.wasm) {
      assert.ok(isD2lKernel(name, "wasm"), `${name} on wasm is not d2l's`);
      assert.ok(!forwardedKernels().has(name), `${name} on wasm is forwarded to cpu`);
    }
    assert.ok(isD2lKernel("Conv2DBackpropFilter", "cpu"), "Conv2DBackpropFilter on cpu is not d2l's");
    // The instrument itself: the forwarding exists (for kernels wasm lacks), and it is seen writing to cpu.
    // (RaggedRange: wasm has none; UnsortedSegmentSum, the example here before, is d2l's own now, lib/kernels/segmentSum.ts.)
    assert.ok(forwardedKernels().has("RaggedRange"), "no kernel is forwarded at all: the check above proves nothing");
    const before = cpuWrites.count;
    tf.tidy(() => tf.raggedRange(tf.tensor1d([0, 5], "int32"), tf.tensor1d([3, 7], "int32"), tf.tensor1d([1, 1], "int32")).rtDenseValues.dataSync());
    assert.ok(cpuWrites.count > before, "a forwarded kernel ran without writing to the cpu backend: the counter does not see forwarding");
  });

  test("input and filter gradients match direct sums and the cpu backend on random shapes", async () => {
    const cases: Case[] = [
      // AlexNet's first layer (11x11, stride 4) on small inputs: 16 phases in the input gradient
      { depthwise: false, x: [2, 23, 23, 2], filter: [11, 11, 2, 3], strides: [4, 4], dilations: [1, 1], pad: "same" },
      { depthwise: false, x: [2, 23, 21, 2], filter: [11, 11, 2, 3], strides: [4, 4], dilations: [1, 1], pad: "valid" },
      { depthwise: false, x: [2, 9, 9, 1], filter: [3, 3, 1, 4], strides: [2, 2], dilations: [1, 1], pad: "same" },
      ...randomCases(48, 2024),
    ];
    // The grid covers what the random draw must: strides > 1, dilations > 1, each padding kind, multipliers 1 and 2.
    assert.ok(cases.some((c) => c.strides[0] > 1 && c.strides[1] > 1));
    assert.ok(cases.some((c) => c.depthwise && c.dilations[0] > 1));
    assert.ok(cases.some((c) => c.depthwise && c.dilations[0] > 1 && c.strides[0] > 1));
    for (const kind of ["same", "valid", "number", "object"])
      assert.ok(
        cases.some((c) => (typeof c.pad === "string" ? c.pad : typeof c.pad) === kind),
        kind,
      );
    assert.ok(cases.some((c) => c.depthwise && c.filter[3] === 2) && cases.some((c) => c.depthwise && c.filter[3] === 1));
    assert.ok(
      cases.some((c) => !c.depthwise && c.x[3] === 1),
      "no conv2d with one input channel (its input gradient has a path of its own)",
    );

    const rand = lcg(7);
    let worst = 0;
    let viaGrad = 0;
    for (const c of cases) {
      const x = randomValues(size(c.x), rand);
      const w = randomValues(size(c.filter), rand);
      const dy = randomValues(size(convInfo(c).outShape), rand);
      const want = directGradients(c, x, w, dy);
      const label = describeCase(c);
      const check = (got: { dx: Float32Array; dw: Float32Array }, how: string): void => {
        const ex = relativeError(got.dx, want.dx);
        const ew = relativeError(got.dw, want.dw);
        worst = Math.max(worst, ex, ew);
        assert.ok(ex < TOLERANCE, `${how}, input gradient off by ${ex}: ${label}`);
        assert.ok(ew < TOLERANCE, `${how}, filter gradient off by ${ew}: ${label}`);
      };
      const writes = cpuWrites.count;
      check(kernelGradients(c, x, w, dy), "wasm kernels");
      if (c.dilations[0] === 1 && c.dilations[1] === 1) {
        check(gradGradients(c, x, w, dy), "wasm tf.grads");
        viaGrad++;
      }
      assert.equal(cpuWrites.count, writes, `the wasm gradients wrote to the cpu backend: forwarded (${label})`);
      if (c.dilations[0] === 1 && c.dilations[1] === 1) {
        // tfjs-backend-cpu's own results (its depthwise kernels ignore dilations, so those cases have only the direct sums).
        check(await onCpu(() => gradGradients(c, x, w, dy)), "cpu tf.grads");
      }
    }
    assert.ok(viaGrad >= 20, `only ${viaGrad} cases went through tf.grads`);
  });

  test("avgPool's gradient matches cpu (valid padding: d2l's; same: tfjs')", async () => {
    const rand = lcg(17);
    const cases: { x: Shape4; k: [number, number]; s: [number, number]; pad: "valid" | "same" }[] = [
      { x: [4, 28, 28, 6], k: [2, 2], s: [2, 2], pad: "valid" }, // LeNet
      { x: [2, 9, 7, 3], k: [3, 2], s: [2, 1], pad: "valid" },
      { x: [2, 9, 7, 3], k: [3, 3], s: [1, 1], pad: "valid" },
      { x: [2, 10, 11, 5], k: [2, 3], s: [3, 2], pad: "valid" },
      { x: [2, 9, 7, 3], k: [3, 3], s: [2, 2], pad: "same" },
    ];
    for (const c of cases) {
      const x = randomValues(size(c.x), rand);
      const grad = (): Float32Array =>
        tf.tidy(
          () =>
            tf
              .grad((t: tf.Tensor) =>
                tf
                  .avgPool(t as tf.Tensor4D, c.k, c.s, c.pad)
                  .square()
                  .sum(),
              )(tf.tensor4d(x, c.x))
              .dataSync() as Float32Array,
        );
      const want = await onCpu(grad);
      const writes = cpuWrites.count;
      const buffers = tf.backend().numDataIds();
      const got = grad();
      assert.equal(cpuWrites.count, writes, "forwarded to cpu");
      assert.equal(tf.backend().numDataIds(), buffers, "wasm buffers leaked");
      assert.ok(relativeError(got, want) < TOLERANCE, `${JSON.stringify(c)}: off by ${relativeError(got, want)}`);
    }
  });

  test("the kernels free every intermediate they make", () => {
    const backend = tf.backend();
    const c: Case = {
      depthwise: false,
      x: [2, 9, 7, 3],
      filter: [3, 2, 3, 4],
      strides: [2, 3],
      dilations: [1, 1],
      pad: [
        [0, 0],
        [0, 3],
        [2, 0],
        [0, 0],
      ],
    };
    const d: Case = { depthwise: true, x: [2, 9, 7, 3], filter: [3, 2, 3, 2], strides: [2, 1], dilations: [1, 2], pad: "same" };
    const rand = lcg(3);
    const args = (k: Case) => [k, randomValues(size(k.x), rand), randomValues(size(k.filter), rand), randomValues(size(convInfo(k).outShape), rand)] as const;
    const [ca, cb] = [args(c), args(d)];
    kernelGradients(...ca); // first use may set things up
    kernelGradients(...cb);
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    for (let i = 0; i < 3; i++) {
      kernelGradients(...ca);
      kernelGradients(...cb);
    }
    assert.equal(tf.memory().numTensors, tensors, "tensors leaked");
    assert.equal(backend.numDataIds(), buffers, "wasm buffers leaked (an intermediate was not disposed)");
  });

  test("NCHW: the filter gradient runs d2l's loops, the input gradient tfjs' wasm kernel", () => {
    const c: Case = { depthwise: false, x: [2, 6, 5, 3], filter: [3, 3, 3, 2], strides: [2, 1], dilations: [1, 1], pad: "same" };
    const rand = lcg(5);
    const x = randomValues(size(c.x), rand);
    const w = randomValues(size(c.filter), rand);
    const info = convInfo(c);
    const dy = randomValues(size(info.outShape), rand);
    const want = directGradients(c, x, w, dy);
    const [dxNchw, dwNchw] = tf.tidy(() => {
      const xt = tf.tensor4d(x, c.x).transpose([0, 3, 1, 2]);
      const dyt = tf.tensor(dy, info.outShape).transpose([0, 3, 1, 2]);
      const wt = tf.tensor4d(w, c.filter);
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: "NCHW" };
      const gw = tf.engine().runKernel("Conv2DBackpropFilter", { x: xt, dy: dyt }, { ...attrs, filterShape: c.filter }) as tf.Tensor;
      const gx = tf.engine().runKernel("Conv2DBackpropInput", { dy: dyt, filter: wt }, { ...attrs, inputShape: [c.x[0], c.x[3], c.x[1], c.x[2]] }) as tf.Tensor;
      return [gx.transpose([0, 2, 3, 1]).dataSync(), gw.dataSync()];
    });
    assert.ok(relativeError(dwNchw, want.dw) < TOLERANCE);
    assert.ok(relativeError(dxNchw, want.dx) < TOLERANCE);
  });
});

// ------------------------------------------------ the book's CNNs train on wasm

type Layer = tf.layers.Layer;
type Sym = tf.SymbolicTensor;
const apply = (layer: Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;
/** Seeded initial weights, so that every run trains the same models (the seed restarts for each model). */
let seed = 0;
const init = (): ReturnType<typeof tf.initializers.glorotUniform> => tf.initializers.glorotUniform({ seed: ++seed });
const conv = (filters: number, kernelSize: number, opts: { strides?: number; padding?: "same" | "valid"; activation?: "relu" | "sigmoid" } = {}): Layer =>
  tf.layers.conv2d({ filters, kernelSize, strides: opts.strides ?? 1, padding: opts.padding ?? "same", activation: opts.activation, kernelInitializer: init() });
const dense = (units: number, activation?: "relu" | "sigmoid"): Layer => tf.layers.dense({ units, activation, kernelInitializer: init() });
const bn = (): Layer => tf.layers.batchNormalization({ epsilon: 1e-5 });
const relu = (): Layer => tf.layers.reLU();
const head = (x: Sym): Sym => apply(dense(10), apply(tf.layers.globalAveragePooling2d({}), x));

interface BookModel {
  name: string;
  input: Shape4;
  build(input: Sym): Sym;
  /** Loss read in training mode (batch statistics of BatchNorm), or inference mode (no dropout). */
  measureTraining: boolean;
  lr: number;
}

const BOOK_MODELS: BookModel[] = [
  {
    name: "LeNet (7.6)",
    input: [8, 28, 28, 1],
    measureTraining: false,
    lr: 0.5,
    build: (x) => {
      let h = apply(conv(6, 5, { activation: "sigmoid" }), x);
      h = apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }), h);
      h = apply(conv(16, 5, { padding: "valid", activation: "sigmoid" }), h);
      h = apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }), h);
      h = apply(tf.layers.flatten(), h);
      h = apply(dense(120, "sigmoid"), h);
      h = apply(dense(84, "sigmoid"), h);
      return apply(dense(10), h);
    },
  },
  {
    // The book's layers on 64x64 inputs (224x224 in the book); the first convolution pads "same" so that three 3x3/2 poolings fit.
    name: "AlexNet (8.1)",
    input: [4, 64, 64, 1],
    measureTraining: false, // dropout
    lr: 0.01,
    build: (x) => {
      let h = apply(conv(96, 11, { strides: 4, activation: "relu" }), x);
      h = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2 }), h);
      h = apply(conv(256, 5, { activation: "relu" }), h);
      h = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2 }), h);
      h = apply(conv(384, 3, { activation: "relu" }), h);
      h = apply(conv(384, 3, { activation: "relu" }), h);
      h = apply(conv(256, 3, { activation: "relu" }), h);
      h = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2 }), h);
      h = apply(tf.layers.flatten(), h);
      h = apply(tf.layers.dropout({ rate: 0.5 }), apply(dense(4096, "relu"), h));
      h = apply(tf.layers.dropout({ rate: 0.5 }), apply(dense(4096, "relu"), h));
      return apply(dense(10), h);
    },
  },
  {
    name: "VGG blocks (8.2)",
    input: [8, 16, 16, 3],
    measureTraining: false,
    lr: 0.05,
    build: (x) => {
      let h = x;
      for (const [convs, channels] of [
        [1, 16],
        [2, 32],
      ]) {
        for (let i = 0; i < convs; i++) h = apply(conv(channels, 3, { activation: "relu" }), h);
        h = apply(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }), h);
      }
      return apply(dense(10), apply(tf.layers.flatten(), h));
    },
  },
  {
    name: "NiN blocks (8.3)",
    input: [8, 32, 32, 1],
    measureTraining: false,
    lr: 0.3,
    build: (x) => {
      const nin = (t: Sym, channels: number, k: number, strides: number, padding: "same" | "valid"): Sym => {
        let h = apply(conv(channels, k, { strides, padding, activation: "relu" }), t);
        h = apply(conv(channels, 1, { activation: "relu" }), h);
        return apply(conv(channels, 1, { activation: "relu" }), h);
      };
      let h = nin(x, 32, 5, 2, "valid");
      h = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2 }), h);
      h = nin(h, 10, 3, 1, "same");
      return apply(tf.layers.globalAveragePooling2d({}), h);
    },
  },
  {
    name: "GoogLeNet stem + Inception block (8.4)",
    input: [8, 32, 32, 1],
    measureTraining: false,
    lr: 0.05,
    build: (x) => {
      let h = apply(conv(16, 7, { strides: 2, activation: "relu" }), x);
      h = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }), h);
      const b1 = apply(conv(8, 1, { activation: "relu" }), h);
      const b2 = apply(conv(12, 3, { activation: "relu" }), apply(conv(8, 1, { activation: "relu" }), h));
      const b3 = apply(conv(4, 5, { activation: "relu" }), apply(conv(2, 1, { activation: "relu" }), h));
      const b4 = apply(conv(4, 1, { activation: "relu" }), apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: "same" }), h));
      return head(apply(tf.layers.concatenate({ axis: -1 }), [b1, b2, b3, b4]));
    },
  },
  {
    name: "LeNet with BatchNorm (8.5)",
    input: [8, 28, 28, 1],
    measureTraining: true,
    lr: 0.1,
    build: (x) => {
      const sig = (t: Sym): Sym => apply(tf.layers.activation({ activation: "sigmoid" }), apply(bn(), t));
      let h = sig(apply(conv(6, 5), x));
      h = apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }), h);
      h = sig(apply(conv(16, 5, { padding: "valid" }), h));
      h = apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }), h);
      h = apply(tf.layers.flatten(), h);
      h = sig(apply(dense(120), h));
      h = sig(apply(dense(84), h));
      return apply(dense(10), h);
    },
  },
  {
    name: "ResNet residual blocks (8.6), identity and 1x1/2 shortcut",
    input: [8, 16, 16, 3],
    measureTraining: true,
    lr: 0.05,
    build: (x) => {
      const residual = (t: Sym, channels: number, strides: number, shortcut: boolean): Sym => {
        let y = apply(relu(), apply(bn(), apply(conv(channels, 3, { strides }), t)));
        y = apply(bn(), apply(conv(channels, 3), y));
        const s = shortcut ? apply(conv(channels, 1, { strides }), t) : t;
        return apply(relu(), apply(tf.layers.add(), [y, s]));
      };
      let h = apply(relu(), apply(bn(), apply(conv(16, 3), x)));
      h = residual(h, 16, 1, false);
      h = residual(h, 32, 2, true);
      return head(h);
    },
  },
  {
    name: "DenseNet dense block + transition block (8.7)",
    input: [8, 16, 16, 3],
    measureTraining: true,
    lr: 0.05,
    build: (x) => {
      const convBlock = (t: Sym, channels: number): Sym => apply(conv(channels, 3), apply(relu(), apply(bn(), t)));
      let h = apply(relu(), apply(bn(), apply(conv(16, 3), x)));
      for (let i = 0; i < 2; i++) h = apply(tf.layers.concatenate({ axis: -1 }), [h, convBlock(h, 8)]);
      h = apply(conv(16, 1), apply(relu(), apply(bn(), h)));
      h = apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }), h);
      return head(h);
    },
  },
  {
    // Not in the book's CNN chapters: trains depthwiseConv2d's gradients (multiplier 2, stride 2).
    name: "depthwise separable convolutions (MobileNet style)",
    input: [8, 16, 16, 3],
    measureTraining: false,
    lr: 0.2,
    build: (x) => {
      let h = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: "same", activation: "relu", depthwiseInitializer: init() }), x);
      h = apply(tf.layers.separableConv2d({ filters: 16, kernelSize: 3, padding: "same", activation: "relu", depthwiseInitializer: init(), pointwiseInitializer: init() }), h);
      return head(h);
    },
  },
];

describe("the book's CNNs train on wasm, no kernel forwarded to cpu", () => {
  for (const m of BOOK_MODELS) {
    test(m.name, async () => {
      assert.equal(tf.getBackend(), "wasm");
      seed = 0;
      const input = tf.input({ shape: m.input.slice(1) });
      const model = tf.model({ inputs: input, outputs: m.build(input) });
      const x = tf.randomNormal(m.input, 0, 1, "float32", 11);
      const y = tf.tidy(() =>
        tf.oneHot(
          tf.tensor1d(
            Array.from({ length: m.input[0] }, (_, i) => (i * 7) % 10),
            "int32",
          ),
          10,
        ),
      );
      const optimizer = tf.train.sgd(m.lr);
      const lossOf = (training: boolean): tf.Scalar => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training }) as tf.Tensor) as tf.Scalar;
      const measure = (): number => tf.tidy(() => lossOf(m.measureTraining).dataSync()[0]);
      const step = (): void => {
        const l = optimizer.minimize(() => lossOf(true), true);
        l?.dispose();
      };
      try {
        const writes = cpuWrites.count;
        const first = measure();
        const profile = await tf.profile(step);
        for (let i = 0; i < 3; i++) step();
        const last = measure();
        const ran = new Set(profile.kernelNames);
        const forwarded = [...ran].filter((k) => forwardedKernels().has(k));
        assert.deepEqual(forwarded, [], `${m.name}: kernels forwarded to cpu: ${forwarded.join(", ")}`);
        assert.equal(cpuWrites.count, writes, `${m.name}: something wrote to the cpu backend while training`);
        const grads = m.name.startsWith("depthwise")
          ? ["DepthwiseConv2dNativeBackpropFilter", "DepthwiseConv2dNativeBackpropInput"]
          : ["Conv2DBackpropFilter", "Conv2DBackpropInput"];
        for (const k of grads) {
          assert.ok(ran.has(k), `${m.name}: a training step did not run ${k} (ran ${[...ran].sort().join(", ")})`);
          assert.ok(isD2lKernel(k, "wasm"), `${k} on wasm is not d2l's`);
        }
        assert.ok(Number.isFinite(first) && Number.isFinite(last), `${m.name}: loss ${first} -> ${last}`);
        assert.ok(last < first, `${m.name}: the loss did not go down in 4 SGD steps: ${first} -> ${last}`);
      } finally {
        tf.dispose([x, y]);
        optimizer.dispose();
        model.layers.forEach((l) => l.dispose());
      }
    });
  }
});
