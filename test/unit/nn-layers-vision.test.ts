/**
 * The course notes' layer catalogue (lib/nn/convVariants.ts, pooling.ts, upsampling.ts; issue 22):
 * - against PyTorch (test/fixtures/layers/make_fixtures.py, torch 1.13 and torchvision 0.14): Upsample in both
 *   modes and both alignCorners, the book's bilinear kernel and a transposed convolution initialised with it,
 *   grouped convolution, max_pool2d(return_indices) and max_unpool2d, torchvision's deform_conv2d on fixed offsets;
 * - the book's printed transConv values, a dilated convolution against its zero-stuffed kernel, stochastic
 *   pooling's statistics, global average pooling against tfjs';
 * - gradients: central differences against tf.grad for every new layer (cpu backend, float32, small inputs),
 *   and the deformable convolution's forward and gradients against a slow float64 reference loop;
 * - save/load round trips, then a few training steps of each layer on wasm, then on native (loss falls).
 *
 * With D2L_REQUIRE_NATIVE=1 (CI) a native backend that does not load fails the test.
 */
import { before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { useBackend } from "../../lib/backend";
import {
  bilinearKernel,
  DeformConv2d,
  deformConv2d,
  dilatedConv2d,
  GlobalAvgPool2d,
  GroupConv2d,
  groupConv2d,
  maxPoolWithArgmax,
  maxUnpool2d,
  MaxUnpool2d,
  StochasticPool2d,
  stochasticPool2d,
  transConv,
  Upsample,
} from "../../lib/nn/index";
import { rng } from "./native-helpers";

const REQUIRE_NATIVE = process.env.D2L_REQUIRE_NATIVE === "1";
const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/layers/layers.json");

interface T {
  shape: number[];
  values: number[];
}
const fx = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as {
  upsample: { x: T; cases: { mode: "nearest" | "bilinear"; alignCorners: boolean | null; scaleFactor?: number; size?: [number, number]; y: T }[] };
  bilinear: { kernels: { inChannels: number; outChannels: number; kernelSize: number; kernel: T }[]; x: T; y: T };
  groupConv: { groups: number; filters: number; kernelSize: number; strides: number; padding: number; dilation: number; x: T; kernel: T; bias: T; y: T }[];
  maxPool: { poolSize: number; strides: number; padding: number; x: T; values: T; indices: T; unpooled: T }[];
  deformConv: { kernelSize: number; filters: number; strides: number; padding: number; dilation: number; x: T; offset: T; kernel: T; bias: T; y: T }[];
};

const t4 = (v: T): tf.Tensor4D => tf.tensor4d(v.values, v.shape as [number, number, number, number]);
const t1 = (v: T): tf.Tensor1D => tf.tensor1d(v.values);

/** Largest |got - want| after checking the shape. */
function maxDiff(got: tf.Tensor, want: T, what: string): number {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const g = got.dataSync();
  let worst = 0;
  want.values.forEach((w, i) => {
    assert.ok(Number.isFinite(g[i]), `${what}: value ${i} is ${g[i]}`);
    worst = Math.max(worst, Math.abs(g[i] - w));
  });
  return worst;
}

function uniform(shape: number[], r: () => number, lo = -1, hi = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => lo + (hi - lo) * r()),
    shape,
  );
}

/**
 * Central differences against tf.grad: loss = sum(f(xs) * coef) with fixed random coefficients; for up to
 * `samples` entries of each input, (loss(x + eps) - loss(x - eps)) / 2eps must be within `tol` of the
 * analytic gradient, relative to max(1, |gradient|). Returns the worst relative error.
 */
function gradCheck(what: string, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], opts: { eps?: number; tol?: number; samples?: number; only?: number[] } = {}): number {
  const eps = opts.eps ?? 1e-2;
  const tol = opts.tol ?? 1e-2;
  const r = rng(7);
  const y0 = tf.tidy(() => f(...inputs));
  const coef = uniform(y0.shape, r);
  y0.dispose();
  const loss = (...xs: tf.Tensor[]): tf.Scalar => tf.sum(tf.mul(f(...xs), coef));
  const grads = tf.grads(loss)(inputs);
  let worst = 0;
  const which = opts.only ?? inputs.map((_, k) => k);
  for (const k of which) {
    const x = inputs[k].dataSync();
    const g = grads[k].dataSync();
    const picks = Array.from({ length: Math.min(opts.samples ?? 24, x.length) }, (_, i) => (x.length <= (opts.samples ?? 24) ? i : Math.floor(r() * x.length)));
    for (const i of picks) {
      const at = (delta: number): number =>
        tf.tidy(() => {
          const xp = Float32Array.from(x);
          xp[i] += delta;
          const xs = inputs.map((t, j) => (j === k ? tf.tensor(xp, t.shape) : t));
          return loss(...xs).dataSync()[0];
        });
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      const err = Math.abs(numeric - g[i]) / Math.max(1, Math.abs(g[i]));
      worst = Math.max(worst, err);
      assert.ok(err < tol, `${what}: input ${k} entry ${i}: numerical gradient ${numeric}, tf.grad ${g[i]} (relative error ${err.toExponential(2)})`);
    }
  }
  return worst;
}

/** The same gradient check on a layer's weights (variables perturbed in place), input fixed. */
function weightGradCheck(what: string, layer: tf.layers.Layer, X: tf.Tensor, training: boolean, opts: { eps?: number; tol?: number } = {}): void {
  const eps = opts.eps ?? 1e-2;
  const tol = opts.tol ?? 1e-2;
  const r = rng(11);
  const y0 = tf.tidy(() => layer.apply(X, { training }) as tf.Tensor);
  const coef = uniform(y0.shape, r);
  y0.dispose();
  const loss = (): tf.Scalar => tf.sum(tf.mul(layer.apply(X, { training }) as tf.Tensor, coef));
  const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = tf.variableGrads(loss, vars);
  for (const v of vars) {
    const g = grads[v.name].dataSync();
    const x = v.dataSync().slice();
    for (let s = 0; s < Math.min(12, x.length); s++) {
      const i = Math.floor(r() * x.length);
      const at = (delta: number): number => {
        const xp = Float32Array.from(x);
        xp[i] += delta;
        v.assign(tf.tensor(xp, v.shape));
        return tf.tidy(() => loss().dataSync()[0]);
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      v.assign(tf.tensor(x, v.shape));
      const err = Math.abs(numeric - g[i]) / Math.max(1, Math.abs(g[i]));
      assert.ok(err < tol, `${what}: weight ${v.name} entry ${i}: numerical ${numeric}, tf.grad ${g[i]} (relative error ${err.toExponential(2)})`);
    }
  }
}

/** A model with one layer, saved to memory and loaded back: same weights, same output. */
async function roundTrip(layer: tf.layers.Layer, inputShape: number[], X: tf.Tensor): Promise<void> {
  const model = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape }), layer] });
  const before = model.predict(X) as tf.Tensor;
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
  assert.equal(loaded.layers[loaded.layers.length - 1].getClassName(), layer.getClassName());
  const after = loaded.predict(X) as tf.Tensor;
  assert.deepEqual(Array.from(after.dataSync()), Array.from(before.dataSync()), `${layer.getClassName()} after a save/load round trip`);
}

// ------------------------------------------------ the slow deformable reference (float64 loops)

interface Deform {
  N: number;
  H: number;
  W: number;
  C: number;
  kh: number;
  kw: number;
  F: number;
  s: number;
  p: number;
  d: number;
}

/** torchvision's deform_conv2d, one loop per output value, in float64; x NHWC, offset [N,Ho,Wo,2K], kernel [kh,kw,C,F]. */
function deformReference(g: Deform, x: Float64Array, offset: Float64Array, kernel: Float64Array, bias: Float64Array): Float64Array {
  const { N, H, W, C, kh, kw, F, s, p, d } = g;
  const Ho = Math.floor((H + 2 * p - d * (kh - 1) - 1) / s) + 1;
  const Wo = Math.floor((W + 2 * p - d * (kw - 1) - 1) / s) + 1;
  const K = kh * kw;
  const at = (n: number, y: number, xx: number, c: number): number => (y < 0 || y >= H || xx < 0 || xx >= W ? 0 : x[((n * H + y) * W + xx) * C + c]);
  const out = new Float64Array(N * Ho * Wo * F);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++)
        for (let f = 0; f < F; f++) {
          let acc = bias[f];
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              const k = i * kw + j;
              const o = ((n * Ho + oy) * Wo + ox) * 2 * K;
              const py = oy * s - p + i * d + offset[o + 2 * k];
              const px = ox * s - p + j * d + offset[o + 2 * k + 1];
              const y0 = Math.floor(py);
              const x0 = Math.floor(px);
              const ly = py - y0;
              const lx = px - x0;
              for (let c = 0; c < C; c++) {
                const v = (1 - ly) * (1 - lx) * at(n, y0, x0, c) + (1 - ly) * lx * at(n, y0, x0 + 1, c) + ly * (1 - lx) * at(n, y0 + 1, x0, c) + ly * lx * at(n, y0 + 1, x0 + 1, c);
                acc += v * kernel[((i * kw + j) * C + c) * F + f];
              }
            }
          out[((n * Ho + oy) * Wo + ox) * F + f] = acc;
        }
  return out;
}

// ------------------------------------------------------------------------------ cpu

// wasm and native cannot start in one process: the native training runs in a child process of this file
const CHILD = process.env.D2L_VISION_LAYERS_CHILD === "native";

// The child process (below) runs only the native training test: the rest is declared in the parent alone.
if (!CHILD)
  describe("against PyTorch and the book (cpu backend)", () => {
    before(async () => {
      await useBackend("cpu");
    });

    it("transConv gives the book's printed values, and is differentiable", () => {
      const X = tf.tensor2d([
        [0, 1],
        [2, 3],
      ]);
      const K = tf.tensor2d([
        [0, 1],
        [2, 3],
      ]);
      assert.deepEqual(transConv(X, K).arraySync(), [
        [0, 0, 1],
        [0, 4, 6],
        [4, 12, 9],
      ]);
      // as a transposed convolution it equals tfjs' conv2dTranspose of one channel
      const r = rng(3);
      const Xr = uniform([3, 4], r) as tf.Tensor2D;
      const Kr = uniform([2, 3], r) as tf.Tensor2D;
      const ref = tf.conv2dTranspose(Xr.reshape([1, 3, 4, 1]) as tf.Tensor4D, Kr.reshape([2, 3, 1, 1]) as tf.Tensor4D, [1, 4, 6, 1], 1, "valid");
      assert.ok(tf.max(tf.abs(tf.sub(transConv(Xr, Kr), ref.reshape([4, 6])))).dataSync()[0] < 1e-6);
      gradCheck("transConv", (a, b) => transConv(a as tf.Tensor2D, b as tf.Tensor2D), [Xr, Kr]);
      assert.throws(() => transConv(tf.zeros([1, 2, 2]) as unknown as tf.Tensor2D, K), /2-D input and a 2-D kernel/);
    });

    it("Upsample equals torch.nn.Upsample: nearest, bilinear with alignCorners false and true, by scale and by size", async () => {
      const X = t4(fx.upsample.x);
      assert.equal(fx.upsample.cases.length, 9);
      for (const c of fx.upsample.cases) {
        const layer = new Upsample({
          mode: c.mode,
          ...(c.alignCorners === null ? {} : { alignCorners: c.alignCorners }),
          ...(c.size ? { size: c.size } : { scaleFactor: c.scaleFactor }),
        });
        const what = `Upsample ${JSON.stringify({ mode: c.mode, alignCorners: c.alignCorners, size: c.size, scaleFactor: c.scaleFactor })}`;
        const Y = layer.apply(X) as tf.Tensor;
        assert.deepEqual(layer.computeOutputShape(X.shape), c.y.shape);
        assert.ok(maxDiff(Y, c.y, what) < 1e-5, what);
      }
      const r = rng(5);
      for (const [mode, alignCorners] of [
        ["bilinear", false],
        ["bilinear", true],
        ["nearest", undefined],
      ] as const) {
        gradCheck(`Upsample ${mode} ${alignCorners}`, (x) => new Upsample({ mode, alignCorners, size: [5, 7] }).apply(x) as tf.Tensor, [uniform([1, 3, 4, 2], r)]);
      }
      await roundTrip(new Upsample({ mode: "bilinear", alignCorners: true, scaleFactor: 2 }), [3, 4, 3], X);
      assert.throws(() => new Upsample({ mode: "nearest", alignCorners: true, scaleFactor: 2 }), /applies to mode "bilinear" only/);
      assert.throws(() => new Upsample({ mode: "bilinear" }), /exactly one of size/);
    });

    it("bilinearKernel equals the book's bilinear_kernel; conv2dTranspose initialised with it equals PyTorch's ConvTranspose2d", () => {
      for (const k of fx.bilinear.kernels) {
        assert.ok(maxDiff(bilinearKernel(k.inChannels, k.outChannels, k.kernelSize), k.kernel, `bilinearKernel(${k.inChannels}, ${k.outChannels}, ${k.kernelSize})`) < 1e-7);
      }
      const up = tf.layers.conv2dTranspose({ filters: 3, kernelSize: 4, strides: 2, padding: "same", useBias: false });
      up.build([null, 4, 5, 3]);
      up.setWeights([bilinearKernel(3, 3, 4)]);
      const Y = up.apply(t4(fx.bilinear.x)) as tf.Tensor;
      assert.ok(maxDiff(Y, fx.bilinear.y, "conv2dTranspose with the bilinear kernel") < 1e-5);
      assert.throws(() => bilinearKernel(3, 4, 4), /must be equal/);
    });

    it("groupConv2d and GroupConv2d equal F.conv2d(groups=g) with PyTorch's weights; gradients match central differences", async () => {
      // dilation 2 runs as a zero-spread kernel, dilation 3 (49 taps for 9) through spaceToBatchND: both are here
      assert.deepEqual([...new Set(fx.groupConv.map((c) => c.dilation))].sort(), [1, 2, 3]);
      for (const c of fx.groupConv) {
        const what = `groups ${c.groups} stride ${c.strides} padding ${c.padding} dilation ${c.dilation}`;
        const opts = { strides: c.strides, padding: c.padding, dilation: c.dilation };
        assert.ok(maxDiff(groupConv2d(t4(c.x), t4(c.kernel), c.groups, t1(c.bias), opts), c.y, what) < 1e-4, what);
        const layer = new GroupConv2d({ filters: c.filters, kernelSize: c.kernelSize, groups: c.groups, ...opts });
        layer.build(c.x.shape);
        layer.setWeights([t4(c.kernel), t1(c.bias)]);
        assert.deepEqual(layer.computeOutputShape(c.x.shape), c.y.shape);
        assert.ok(maxDiff(layer.apply(t4(c.x)) as tf.Tensor, c.y, `layer ${what}`) < 1e-4, `layer ${what}`);
        const r = rng(c.groups);
        const small = uniform([1, 5, 5, c.x.shape[3]], r);
        gradCheck(`groupConv2d ${what}`, (x, k, b) => groupConv2d(x as tf.Tensor4D, k as tf.Tensor4D, c.groups, b as tf.Tensor1D, opts), [small, t4(c.kernel), t1(c.bias)]);
        weightGradCheck(`GroupConv2d ${what}`, layer, small, true);
      }
      // a large layer (64 -> 96 channels, 4 groups) runs one convolution per group instead of the block-diagonal
      // kernel: the same values and input gradient as a full convolution with a block-diagonal kernel built here
      {
        const r = rng(77);
        const [C, F, G] = [64, 96, 4];
        const Xl = uniform([1, 4, 5, C], r);
        const Kl = uniform([3, 3, C / G, F], r);
        const kv = Kl.dataSync();
        const full = tf.buffer([3, 3, C, F]);
        for (let t = 0; t < 9; t++)
          for (let c = 0; c < C / G; c++)
            for (let f = 0; f < F; f++) {
              const g = Math.floor(f / (F / G));
              full.set(kv[(t * (C / G) + c) * F + f], Math.floor(t / 3), t % 3, g * (C / G) + c, f);
            }
        const want = tf.conv2d(Xl as tf.Tensor4D, full.toTensor() as tf.Tensor4D, 1, "same");
        assert.ok(tf.max(tf.abs(tf.sub(groupConv2d(Xl, Kl, G, undefined, { padding: 1 }), want))).dataSync()[0] < 1e-4);
        const coef = uniform(want.shape, r);
        const gotGrad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(groupConv2d(x, Kl, G, undefined, { padding: 1 }), coef)))(Xl);
        const wantGrad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, full.toTensor() as tf.Tensor4D, 1, "same"), coef)))(Xl);
        assert.ok(tf.max(tf.abs(tf.sub(gotGrad, wantGrad))).dataSync()[0] < 1e-4);
      }
      const X = uniform([2, 6, 6, 4], rng(1));
      await roundTrip(new GroupConv2d({ filters: 6, kernelSize: 3, groups: 2, padding: 1 }), [6, 6, 4], X);
      assert.throws(() => new GroupConv2d({ filters: 5, kernelSize: 3, groups: 2 }), /divisible by groups/);
      assert.throws(() => groupConv2d(X as tf.Tensor4D, tf.zeros([3, 3, 4, 6]) as tf.Tensor4D, 2), /kernel must have shape \[kh, kw, 2, filters\]/);
    });

    it("dilatedConv2d equals a convolution with the zero-stuffed kernel (a 5x5 receptive field from 3x3 weights)", () => {
      const r = rng(9);
      const conv = dilatedConv2d(2, 3, 2);
      const X = uniform([1, 7, 7, 3], r);
      conv.build(X.shape);
      const K = uniform([3, 3, 3, 2], r);
      conv.setWeights([K, tf.zeros([2])]);
      const stuffed = tf.buffer([5, 5, 3, 2]);
      const k = K.arraySync() as number[][][][];
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 3; c++) for (let f = 0; f < 2; f++) stuffed.set(k[i][j][c][f], 2 * i, 2 * j, c, f);
      const want = tf.conv2d(X as tf.Tensor4D, stuffed.toTensor() as tf.Tensor4D, 1, "same");
      const got = conv.apply(X) as tf.Tensor;
      assert.deepEqual(got.shape, [1, 7, 7, 2]);
      assert.ok(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] < 1e-5);
      weightGradCheck("dilatedConv2d", conv, X, true);
      gradCheck("dilatedConv2d input", (x) => conv.apply(x) as tf.Tensor, [X]);
    });

    it("tf.layers.separableConv2d (depthwise-separable): its gradients match central differences", () => {
      const sep = tf.layers.separableConv2d({ filters: 4, kernelSize: 3, padding: "same", depthMultiplier: 2 });
      const X = uniform([1, 5, 5, 3], rng(4));
      sep.build(X.shape);
      assert.equal(sep.countParams(), 3 * 3 * 3 * 2 + 6 * 4 + 4);
      weightGradCheck("separableConv2d", sep, X, true);
      gradCheck("separableConv2d input", (x) => sep.apply(x) as tf.Tensor, [X]);
    });

    it("maxPoolWithArgmax and maxUnpool2d equal F.max_pool2d(return_indices) and F.max_unpool2d; gradients", async () => {
      for (const c of fx.maxPool) {
        const what = `pool ${c.poolSize} stride ${c.strides} padding ${c.padding} on ${c.x.shape.join("x")}`;
        const { values, indices } = maxPoolWithArgmax(t4(c.x), c.poolSize, c.strides, c.padding);
        assert.ok(maxDiff(values, c.values, what) < 1e-6, what);
        assert.equal(indices.dtype, "int32");
        assert.deepEqual(Array.from(indices.dataSync()), c.indices.values, `${what}: indices`);
        const size: [number, number] = [c.x.shape[1], c.x.shape[2]];
        assert.ok(maxDiff(maxUnpool2d(values, indices, c.poolSize, c.strides, c.padding, size), c.unpooled, `unpool ${what}`) < 1e-6);
        const layer = new MaxUnpool2d({ poolSize: c.poolSize, strides: c.strides, padding: c.padding, outputSize: size });
        assert.ok(maxDiff(layer.apply([values, indices]) as tf.Tensor, c.unpooled, `MaxUnpool2d ${what}`) < 1e-6);
        // the values' gradient is tf.maxPool's; unpooling's goes back to the values
        const X = t4(c.x);
        gradCheck(`maxPoolWithArgmax ${what}`, (x) => maxPoolWithArgmax(x as tf.Tensor4D, c.poolSize, c.strides, c.padding).values, [X], { eps: 1e-3 });
        gradCheck(`maxUnpool2d ${what}`, (v) => maxUnpool2d(v as tf.Tensor4D, indices, c.poolSize, c.strides, c.padding, size), [values]);
        // max-pool, then unpool: the gradient reaches the maxima only
        const g = tf.grad((x: tf.Tensor) =>
          tf.sum(maxUnpool2d(maxPoolWithArgmax(x as tf.Tensor4D, c.poolSize, c.strides, c.padding).values, indices, c.poolSize, c.strides, c.padding, size)),
        )(X);
        assert.equal(tf.sum(g).dataSync()[0], values.size);
      }
      // the default output size is PyTorch's (outH - 1) * stride - 2 * padding + poolSize
      const { values, indices } = maxPoolWithArgmax(uniform([1, 4, 6, 2], rng(2)) as tf.Tensor4D, 2);
      assert.deepEqual(maxUnpool2d(values, indices, 2).shape, [1, 4, 6, 2]);
      assert.throws(() => new MaxUnpool2d({ poolSize: 2 }).apply(values), /two inputs/);
      // its config (what saving a model writes) rebuilds the same layer
      const unpool = new MaxUnpool2d({ poolSize: 3, strides: 2, padding: 1, outputSize: [7, 6] });
      const rebuilt = tf.serialization.SerializationMap.getMap().classNameMap.MaxUnpool2d[1](MaxUnpool2d, unpool.getConfig()) as MaxUnpool2d;
      assert.deepEqual([rebuilt.poolSize, rebuilt.strides, rebuilt.padding, rebuilt.outputSize], [3, 2, 1, [7, 6]]);
      assert.throws(() => maxUnpool2d(values, indices.slice([0, 0, 0, 0], [1, 1, 1, 1]) as tf.Tensor4D, 2), /indices must have the values' shape/);
    });

    it("deformConv2d equals torchvision.ops.deform_conv2d on fixed offsets and weights", () => {
      for (const c of fx.deformConv) {
        const what = `deform k${c.kernelSize} stride ${c.strides} padding ${c.padding} dilation ${c.dilation}`;
        const Y = deformConv2d(t4(c.x), t4(c.offset), t4(c.kernel), t1(c.bias), { strides: c.strides, padding: c.padding, dilation: c.dilation });
        assert.ok(maxDiff(Y, c.y, what) < 1e-4, what);
      }
      // zero offsets: a plain convolution
      const r = rng(12);
      const X = uniform([2, 6, 6, 3], r) as tf.Tensor4D;
      const K = uniform([3, 3, 3, 4], r) as tf.Tensor4D;
      const plain = tf.conv2d(X, K, 1, "same");
      assert.ok(tf.max(tf.abs(tf.sub(deformConv2d(X, tf.zeros([2, 6, 6, 18]) as tf.Tensor4D, K, undefined, { padding: 1 }), plain))).dataSync()[0] < 1e-5);
      assert.throws(() => deformConv2d(X, tf.zeros([2, 6, 6, 9]) as tf.Tensor4D, K), /offset must have shape \[2,4,4,18\]/);
    });

    it("deformConv2d: forward and the gradients of input, offsets, kernel and bias against a slow float64 reference loop", () => {
      for (const g of [
        { N: 1, H: 5, W: 4, C: 2, kh: 3, kw: 3, F: 2, s: 1, p: 1, d: 1 },
        { N: 2, H: 6, W: 6, C: 2, kh: 2, kw: 2, F: 3, s: 2, p: 0, d: 1 },
        { N: 1, H: 6, W: 6, C: 1, kh: 3, kw: 3, F: 2, s: 1, p: 2, d: 2 },
      ]) {
        const r = rng(100 + g.H * g.kh);
        const Ho = Math.floor((g.H + 2 * g.p - g.d * (g.kh - 1) - 1) / g.s) + 1;
        const Wo = Math.floor((g.W + 2 * g.p - g.d * (g.kw - 1) - 1) / g.s) + 1;
        const shapes = [[g.N, g.H, g.W, g.C], [g.N, Ho, Wo, 2 * g.kh * g.kw], [g.kh, g.kw, g.C, g.F], [g.F]];
        const arrays = shapes.map((sh, k) => Float64Array.from({ length: sh.reduce((a, b) => a * b, 1) }, () => (k === 1 ? 3 : 1) * (2 * r() - 1)));
        const coef = Float64Array.from({ length: g.N * Ho * Wo * g.F }, () => 2 * r() - 1);
        const refLoss = (xs: Float64Array[]): number => deformReference(g, xs[0], xs[1], xs[2], xs[3]).reduce((a, v, i) => a + v * coef[i], 0);
        const tensors = arrays.map((a, k) => tf.tensor(Float32Array.from(a), shapes[k]));
        const f = (...xs: tf.Tensor[]): tf.Tensor =>
          deformConv2d(xs[0] as tf.Tensor4D, xs[1] as tf.Tensor4D, xs[2] as tf.Tensor4D, xs[3] as tf.Tensor1D, { strides: g.s, padding: g.p, dilation: g.d });
        const ref = deformReference(g, arrays[0], arrays[1], arrays[2], arrays[3]);
        const Y = f(...tensors).dataSync();
        ref.forEach((v, i) => assert.ok(Math.abs(Y[i] - v) < 1e-4, `forward ${JSON.stringify(g)} value ${i}: ${Y[i]} against ${v}`));
        const cT = tf.tensor(Float32Array.from(coef), [g.N, Ho, Wo, g.F]);
        const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), cT)))(tensors);
        grads.forEach((gt, k) => {
          const got = gt.dataSync();
          const h = 1e-6;
          for (let i = 0; i < arrays[k].length; i++) {
            const plus = arrays.map((a) => Float64Array.from(a));
            const minus = arrays.map((a) => Float64Array.from(a));
            plus[k][i] += h;
            minus[k][i] -= h;
            const numeric = (refLoss(plus) - refLoss(minus)) / (2 * h);
            assert.ok(
              Math.abs(got[i] - numeric) <= 1e-3 * Math.max(1, Math.abs(numeric)),
              `gradient of input ${k} entry ${i} ${JSON.stringify(g)}: tf.grad ${got[i]}, reference ${numeric}`,
            );
          }
        });
      }
    });

    it("DeformConv2d: starts as a plain convolution (zero offsets), its offset and kernel weights get gradients that match central differences", async () => {
      const r = rng(21);
      const layer = new DeformConv2d({ filters: 3, kernelSize: 3, padding: 1 });
      const X = uniform([1, 5, 5, 2], r);
      layer.build(X.shape);
      const [ok, ob, k, b] = layer.getWeights();
      assert.equal(tf.sum(tf.abs(ok)).dataSync()[0] + tf.sum(tf.abs(ob)).dataSync()[0], 0);
      const plain = tf.add(tf.conv2d(X as tf.Tensor4D, k as tf.Tensor4D, 1, "same"), b);
      assert.ok(tf.max(tf.abs(tf.sub(layer.apply(X) as tf.Tensor, plain))).dataSync()[0] < 1e-5);
      // small nonzero offset weights, then every weight's gradient against central differences
      // (offsets 0.35..0.65 plus at most 18 * 0.01 from the input: every sample stays inside its pixel cell, where
      // the layer is linear in each weight, so central differences have no kink to cross)
      layer.setWeights([uniform(ok.shape, r, -0.01, 0.01), uniform(ob.shape, r, 0.35, 0.65), k, uniform([3], r)]);
      weightGradCheck("DeformConv2d", layer, X, true);
      assert.deepEqual(layer.computeOutputShape([null, 5, 5, 2]), [null, 5, 5, 3]);
      await roundTrip(new DeformConv2d({ filters: 3, kernelSize: 3, padding: 1, strides: 2 }), [6, 6, 2], uniform([2, 6, 6, 2], r));
    });

    it("StochasticPool2d: inference is sum(a^2)/sum(a); training picks a window entry with probability a_i/sum(a), seeded; gradients", async () => {
      // one 2x2 window [1, 2, 3, 4] in 4000 channels: inference 30/10 = 3 everywhere
      const C = 4000;
      const X = tf.tile(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]), [1, 1, 1, C]);
      const inf = new StochasticPool2d({ poolSize: 2, seed: 5 }).apply(X) as tf.Tensor;
      assert.deepEqual(inf.shape, [1, 1, 1, C]);
      assert.ok(tf.max(tf.abs(tf.sub(inf, 3))).dataSync()[0] < 1e-6);
      const layer = new StochasticPool2d({ poolSize: 2, seed: 5 });
      const picked = (layer.apply(X, { training: true }) as tf.Tensor).dataSync();
      const counts = [0, 0, 0, 0, 0];
      for (const v of picked) counts[v] = (counts[v] ?? 0) + 1;
      assert.equal(counts[0], 0, "only window entries are picked");
      for (const v of [1, 2, 3, 4]) {
        const p = v / 10;
        const sd = Math.sqrt((p * (1 - p)) / C);
        assert.ok(Math.abs(counts[v] / C - p) < 4 * sd, `entry ${v} picked ${counts[v]} times of ${C}, expected ${p * C}`);
      }
      // seeded: the same seed draws the same, the next call draws anew
      const again = (new StochasticPool2d({ poolSize: 2, seed: 5 }).apply(X, { training: true }) as tf.Tensor).dataSync();
      assert.deepEqual(Array.from(again), Array.from(picked));
      const next = (layer.apply(X, { training: true }) as tf.Tensor).dataSync();
      assert.notDeepEqual(Array.from(next), Array.from(picked));
      assert.equal(layer.calls, 2);
      // a window of zeros gives 0; negative activations count as zero
      assert.deepEqual(Array.from(stochasticPool2d(tf.tensor4d([0, -1, 0, -2], [1, 2, 2, 1]), 2, 2, 0, true, 1).dataSync()), [0]);
      // overlapping windows with padding: the shape PyTorch's pooling formula gives
      assert.deepEqual(stochasticPool2d(tf.ones([2, 7, 6, 3]) as tf.Tensor4D, 3, 2, 1).shape, [2, 4, 3, 3]);
      // gradients, in both modes (training with a fixed seed: the gradient goes to the picked entry)
      const r = rng(31);
      const A = uniform([1, 4, 6, 2], r, 0.1, 1);
      gradCheck("stochasticPool2d inference", (x) => stochasticPool2d(x as tf.Tensor4D, 2, 2, 0, false), [A]);
      gradCheck("stochasticPool2d training", (x) => stochasticPool2d(x as tf.Tensor4D, 2, 2, 0, true, 3), [A], { eps: 1e-3 });
      gradCheck("stochasticPool2d overlapping", (x) => stochasticPool2d(x as tf.Tensor4D, 3, 1, 1, false), [A]);
      await roundTrip(
        new StochasticPool2d({ poolSize: 3, strides: 2, padding: 1, seed: 2 }),
        [6, 6, 2],
        A.pad([
          [0, 0],
          [1, 1],
          [0, 0],
          [0, 0],
        ]),
      );
      assert.throws(() => new StochasticPool2d({ poolSize: 2, padding: 2 }), /padding must be a whole number from 0 to half the pool size/);
    });

    it("GlobalAvgPool2d equals tf.layers.globalAveragePooling2d (and PyTorch's AdaptiveAvgPool2d((1, 1)) with keepDims); gradient", async () => {
      const X = uniform([2, 5, 4, 3], rng(41));
      const ours = new GlobalAvgPool2d().apply(X) as tf.Tensor;
      const theirs = tf.layers.globalAveragePooling2d({}).apply(X) as tf.Tensor;
      assert.deepEqual(ours.shape, [2, 3]);
      assert.ok(tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0] < 1e-6);
      assert.deepEqual((new GlobalAvgPool2d({ keepDims: true }).apply(X) as tf.Tensor).shape, [2, 1, 1, 3]);
      gradCheck("GlobalAvgPool2d", (x) => new GlobalAvgPool2d().apply(x) as tf.Tensor, [X]);
      await roundTrip(new GlobalAvgPool2d({ keepDims: true }), [5, 4, 3], X);
    });
  });

// ------------------------------------------------------------------ training on wasm and native

/** Each layer in a small net; a few Adam steps on a fixed batch; returns [first loss, last loss]. */
function trainEach(): Map<string, [number, number]> {
  const nets: [string, () => tf.layers.Layer[], boolean?][] = [
    ["GroupConv2d", () => [new GroupConv2d({ filters: 8, kernelSize: 3, groups: 2, padding: 1 })]],
    ["dilatedConv2d", () => [dilatedConv2d(8, 3, 2)]],
    ["separableConv2d", () => [tf.layers.separableConv2d({ filters: 8, kernelSize: 3, padding: "same" })]],
    ["DeformConv2d", () => [new DeformConv2d({ filters: 8, kernelSize: 3, padding: 1 })]],
    ["StochasticPool2d", () => [tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: "same", activation: "relu" }), new StochasticPool2d({ poolSize: 2, seed: 1 })]],
    ["GlobalAvgPool2d", () => [tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: "same" }), new GlobalAvgPool2d()]],
    ["Upsample nearest", () => [tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: "same" }), new Upsample({ scaleFactor: 2 })]],
    ["Upsample bilinear", () => [tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: "same" }), new Upsample({ scaleFactor: 2, mode: "bilinear" })]],
    [
      "conv2dTranspose (bilinear kernel)",
      () => {
        const up = tf.layers.conv2dTranspose({ filters: 4, kernelSize: 4, strides: 2, padding: "same", useBias: false });
        up.build([null, 8, 8, 4]);
        up.setWeights([bilinearKernel(4, 4, 4)]);
        return [tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same" }), up];
      },
    ],
  ];
  const results = new Map<string, [number, number]>();
  for (const [name, make] of nets) {
    const r = rng(17);
    const X = uniform([8, 8, 8, 4], r, 0, 1);
    const layers = make();
    const preset = new Set(layers.flatMap((l) => (l.built ? l.weights : []))); // weights a maker set (the bilinear kernel)
    const model = tf.sequential({
      layers: [
        tf.layers.inputLayer({ inputShape: [8, 8, 4] }),
        ...layers,
        ...(name === "GlobalAvgPool2d" ? [] : [tf.layers.flatten()]),
        tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      ],
    });
    const target = uniform([8, 3], r);
    // seeded weights (the layers' own initializers are not): kernels uniform in +-1/sqrt(fan-in), the
    // deformable offsets' weights and the biases as built (zeros), the bilinear kernel as set
    for (const w of model.weights) {
      if (preset.has(w) || !/kernel$/.test(w.name) || /offset_kernel$/.test(w.name)) continue;
      const fanIn = w.shape.slice(0, -1).reduce((a: number, b) => a * (b as number), 1);
      w.write(uniform(w.shape as number[], r, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)));
    }
    const opt = tf.train.adam(0.003);
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      try {
        const loss = opt.minimize(() => tf.losses.meanSquaredError(target, model.apply(X, { training: true }) as tf.Tensor) as tf.Scalar, true) as tf.Scalar;
        losses.push(loss.dataSync()[0]);
        loss.dispose();
      } catch (e) {
        throw new Error(`${name} on ${tf.getBackend()}, step ${step}: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
    results.set(name, [losses[0], losses[losses.length - 1]]);
  }
  // max-pool with argmax, then unpool: a conv before it learns through the scattered gradient
  {
    const r = rng(18);
    const X = uniform([4, 8, 8, 2], r) as tf.Tensor4D;
    const target = uniform([4, 8, 8, 3], r);
    const K = tf.variable(uniform([3, 3, 2, 3], r, -0.3, 0.3));
    const opt = tf.train.adam(0.01);
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      const loss = opt.minimize(() => {
        const Y = tf.conv2d(X, K as tf.Tensor4D, 1, "same");
        const { values, indices } = maxPoolWithArgmax(Y, 2);
        return tf.losses.meanSquaredError(target, maxUnpool2d(values, indices, 2)) as tf.Scalar;
      }, true) as tf.Scalar;
      losses.push(loss.dataSync()[0]);
      loss.dispose();
    }
    results.set("maxPoolWithArgmax + maxUnpool2d", [losses[0], losses[losses.length - 1]]);
  }
  return results;
}

function assertTrains(results: Map<string, [number, number]>, backend: string, t: { diagnostic: (m: string) => void }): void {
  assert.equal(results.size, 10);
  t.diagnostic(`losses: ${[...results].map(([name, [a, b]]) => `${name} ${a.toFixed(3)}->${b.toFixed(3)}`).join("; ")}`);
  for (const [name, [first, last]] of results) {
    assert.ok(Number.isFinite(last) && last < 0.9 * first, `${name} on ${backend}: loss ${first.toFixed(4)} -> ${last.toFixed(4)} did not fall by 10%`);
  }
}

describe("each layer trains on wasm, and on native", () => {
  if (CHILD) {
    it("native, in the child: loss falls for every layer", trainsOnNative);
    return;
  }
  it("wasm: loss falls by 10% in 12 Adam steps for every layer", async (t) => {
    await useBackend("wasm");
    assertTrains(trainEach(), "wasm", t);
  });

  it("native (a child process, since wasm started in this one): loss falls for every layer", (t) => {
    const env: NodeJS.ProcessEnv = { ...process.env, D2L_VISION_LAYERS_CHILD: "native" };
    delete env.NODE_TEST_CONTEXT; // a test file of its own, not a subtest of this run
    const child = spawnSync(process.execPath, ["--test-reporter=tap", __filename], { env, encoding: "utf8", timeout: 300_000 });
    const out = `${child.stdout}${child.stderr}`;
    assert.equal(child.status, 0, `the native child failed:\n${out}`);
    assert.match(out, /\nok \d+ - each layer trains/, out);
    assert.match(out, /\n\s*ok \d+ - native, in the child/, out);
    const info = /losses: ([^\n]*)/.exec(out);
    if (info) t.diagnostic(`native: ${info[1]}`);
  });
});

async function trainsOnNative(t: TestContext): Promise<void> {
  let loadError: string | undefined;
  try {
    await useBackend("native");
  } catch (e) {
    loadError = e instanceof Error ? e.message : String(e);
  }
  if (loadError) return assert.ok(!REQUIRE_NATIVE, `D2L_REQUIRE_NATIVE=1 but the native backend did not load: ${loadError}`);
  assert.equal(tf.getBackend(), "native");
  assertTrains(trainEach(), "native", t);
}
