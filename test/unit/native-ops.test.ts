/**
 * The native backend's normalization, pooling and ReLU gradient (lib/native/ops.ts,
 * src/ops.cc) against the cpu backend: tfjs' BatchNormalization layer in
 * training (output, moving statistics, gradients of x, gamma and beta) on
 * random shapes of rank 2 to 4, the d2l kernel with gradients reaching its
 * statistics, FusedBatchNorm in inference (per-channel and layer norm's tiled
 * statistics), layer normalization, max and average pooling, Relu's gradient, softmax over the last axis
 * (forward and gradient) and transposes of float32 and int32; within 1e-4 (relative), with no tensor leaked,
 * and the native kernels are the ones that ran.
 *
 * With D2L_REQUIRE_NATIVE=1 a native backend that does not load fails the test.
 */
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../lib/backend";
import { batchNorm } from "../../lib/nn/batchNorm";
import { loadAddon } from "../../lib/native/addon";
import {
  BN_TRAINING,
  BN_TRAINING_GRAD,
  LN,
  LN_GRAD,
  OPS_MIN_ELEMENTS,
  RELU_GRAD,
  SOFTMAX_GRAD,
  SOFTMAX_TRANSPOSE_MIN_ELEMENTS,
  batchNormTraining,
  layerNormLastAxis,
} from "../../lib/native/ops";
import { int, relativeError, rng } from "./native-helpers";

const REQUIRE_NATIVE = process.env.D2L_REQUIRE_NATIVE === "1";
const TOLERANCE = 1e-4;

const values = (r: () => number, n: number, scale = 1, shift = 0) => Float32Array.from({ length: n }, () => (2 * r() - 1) * scale + shift);
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** One computation run on cpu (the reference) and on native; results as named arrays. */
interface Case {
  name: string;
  run: (native: boolean) => Record<string, Float32Array>;
}

/** tfjs' BatchNormalization layer, one training step: its output, moving statistics and the gradients of x, gamma and beta. */
function layerCase(seed: number, shape: number[]): Case {
  const r = rng(seed);
  const C = shape[shape.length - 1];
  const x = values(r, size(shape), 2, 0.5);
  const w = values(r, size(shape));
  const [gamma, beta, mm, mv] = [values(r, C, 0.5, 1), values(r, C), values(r, C), values(r, C, 0.3, 1)];
  const epsilon = [1e-3, 1e-5][seed % 2];
  const momentum = [0.99, 0.9][seed % 2];
  return {
    name: `layer [${shape}] eps ${epsilon}`,
    run: () => {
      const layer = tf.layers.batchNormalization({ epsilon, momentum });
      layer.build(shape);
      tf.tidy(() => layer.setWeights([tf.tensor(gamma), tf.tensor(beta), tf.tensor(mm), tf.tensor(mv)]));
      const X = tf.variable(tf.tensor(x, shape));
      const W = tf.tensor(w, shape);
      // tfjs' layers keep a tensor or two of their own as they are first used, on any backend: leaks are counted around the step.
      tf.tidy(() => {
        layer.apply(X, { training: false });
      });
      const before = tf.memory().numTensors;
      const vars = [X, ...layer.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val)];
      const { value, grads } = tf.variableGrads(() => (layer.apply(X, { training: true }) as tf.Tensor).mul(W).sum() as tf.Scalar, vars);
      const out: Record<string, Float32Array> = { loss: value.dataSync() as Float32Array };
      ["dx", "dgamma", "dbeta"].forEach((k, i) => (out[k] = grads[vars[i].name].dataSync() as Float32Array));
      const ws = layer.getWeights();
      out.movingMean = ws[2].dataSync() as Float32Array;
      out.movingVariance = ws[3].dataSync() as Float32Array;
      out.output = tf.tidy(() => (layer.apply(X, { training: true }) as tf.Tensor).dataSync() as Float32Array);
      for (const t of [value, ...Object.values(grads)]) t.dispose();
      out.leaked = Float32Array.of(tf.memory().numTensors - before);
      X.dispose();
      W.dispose();
      for (const v of layer.weights) v.dispose();
      return out;
    },
  };
}

/** The d2l kernel itself, with a loss that reads its mean and variance too (so gradients reach the statistics). */
function kernelCase(seed: number, shape: number[]): Case {
  const r = rng(seed);
  const C = shape[shape.length - 1];
  const axes = shape.slice(0, -1).map((_, i) => i);
  const [x, w, gamma, beta] = [values(r, size(shape), 3, -1), values(r, size(shape)), values(r, C, 0.5, 1), values(r, C)];
  return {
    name: `kernel [${shape}] with gradients through the statistics`,
    run: (native) =>
      tf.tidy(() => {
        const f = (X: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
          let y: tf.Tensor, m: tf.Tensor, v: tf.Tensor;
          if (native) [y, m, v] = batchNormTraining(X, g, b, 1e-5);
          else {
            const mo = tf.moments(X, axes);
            [m, v] = [mo.mean, mo.variance];
            y = tf.batchNorm(X, m, v, b, g, 1e-5);
          }
          return y.mul(tf.tensor(w, shape)).sum().add(v.sum().mul(0.5)).add(m.square().sum());
        };
        const [X, g, b] = [tf.tensor(x, shape), tf.tensor(gamma), tf.tensor(beta)];
        const [dx, dg, db] = tf.grads(f)([X, g, b]);
        return { loss: f(X, g, b).dataSync(), dx: dx.dataSync(), dgamma: dg.dataSync(), dbeta: db.dataSync() } as Record<string, Float32Array>;
      }),
  };
}

/** d2l's from-scratch batch norm (the book's 8.5) in training: output, moving statistics, gradients of X, gamma, beta. */
function d2lCase(seed: number, shape: number[]): Case {
  const r = rng(seed);
  const C = shape[shape.length - 1];
  const s = shape.length === 2 ? [1, C] : [1, 1, 1, C];
  const [x, w, gamma, beta, mm, mv] = [values(r, size(shape), 2, 1), values(r, size(shape)), values(r, C, 0.5, 1), values(r, C), values(r, C), values(r, C, 0.3, 1)];
  return {
    name: `d2l.batchNorm [${shape}]`,
    run: () =>
      tf.tidy(() => {
        const [X, g, b, m, v, W] = [tf.tensor(x, shape), tf.tensor(gamma, s), tf.tensor(beta, s), tf.tensor(mm, s), tf.tensor(mv, s), tf.tensor(w, shape)];
        const [Y, newMean, newVar] = batchNorm(X, g, b, m, v, 1e-5, 0.9, true);
        const [dx, dg, db] = tf.grads((X: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => batchNorm(X, g, b, m, v, 1e-5, 0.9, true)[0].mul(W).sum())([X, g, b]);
        const a = (t: tf.Tensor) => t.dataSync() as Float32Array;
        return { output: a(Y), movingMean: a(newMean), movingVar: a(newVar), dx: a(dx), dgamma: a(dg), dbeta: a(db) };
      }),
  };
}

/** FusedBatchNorm in inference: per-channel statistics (native), with and without scale and offset. */
function inferenceCase(seed: number, shape: number[], withScale: boolean): Case {
  const r = rng(seed);
  const C = shape[shape.length - 1];
  const [x, mean, variance, gamma, beta] = [values(r, size(shape), 2), values(r, C), values(r, C, 0.4, 1), values(r, C, 0.5, 1), values(r, C)];
  return {
    name: `FusedBatchNorm [${shape}]${withScale ? "" : " without scale and offset"}`,
    run: () =>
      tf.tidy(() => {
        const y = tf.batchNorm(tf.tensor(x, shape), tf.tensor(mean), tf.tensor(variance), withScale ? tf.tensor(beta) : undefined, withScale ? tf.tensor(gamma) : undefined, 1e-3);
        return { output: y.dataSync() as Float32Array };
      }),
  };
}

/** tfjs' layer normalization (over the last axis: d2l's kernel; over more: tfjs' composite on wasm), its gradients of x, gamma and beta. */
function layerNormCase(seed: number, shape: number[], axis: number | number[] = -1): Case {
  const r = rng(seed);
  const x = values(r, size(shape), 2, 0.3);
  const w = values(r, size(shape));
  const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + shape.length : a));
  const paramShape = axes.map((a) => shape[a]);
  const [gamma, beta] = [values(r, size(paramShape), 0.5, 1), values(r, size(paramShape))];
  return {
    name: `layerNormalization [${shape}] axis ${axis}`,
    run: () => {
      const ln = tf.layers.layerNormalization({ axis, epsilon: 1e-5 });
      const X = tf.variable(tf.tensor(x, shape));
      tf.tidy(() => {
        ln.apply(X);
        ln.setWeights([tf.tensor(gamma, paramShape), tf.tensor(beta, paramShape)]);
      });
      const before = tf.memory().numTensors;
      const out: Record<string, Float32Array> = tf.tidy(() => {
        const y = ln.apply(X) as tf.Tensor;
        const vars = [X, ...ln.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val)];
        const { grads } = tf.variableGrads(() => (ln.apply(X) as tf.Tensor).mul(tf.tensor(w, shape)).sum() as tf.Scalar, vars);
        const a = (t: tf.Tensor) => t.dataSync() as Float32Array;
        return { output: a(y), dx: a(grads[vars[0].name]), dgamma: a(grads[vars[1].name]), dbeta: a(grads[vars[2].name]) };
      });
      out.leaked = Float32Array.of(tf.memory().numTensors - before);
      X.dispose();
      for (const v of ln.weights) v.dispose();
      return out;
    },
  };
}

/** MaxPool and AvgPool forward (NHWC) with their gradients (kernels.ts), on tfjs' paddings and rounding modes. */
function poolCase(seed: number, shape: number[], filter: [number, number], strides: [number, number], pad: "valid" | "same" | number, rounding?: "floor" | "round" | "ceil"): Case {
  const r = rng(seed);
  const x = values(r, size(shape), 3);
  return {
    name: `pooling [${shape}] filter ${filter} strides ${strides} pad ${pad}${rounding ? ` ${rounding}` : ""}`,
    run: () =>
      tf.tidy(() => {
        const X = tf.tensor4d(x, shape as [number, number, number, number]);
        const out: Record<string, Float32Array> = {};
        for (const kind of ["max", "avg"] as const) {
          const f = (t: tf.Tensor) => (kind === "max" ? tf.maxPool : tf.avgPool)(t as tf.Tensor4D, filter, strides, pad, rounding);
          out[kind] = f(X).dataSync() as Float32Array;
          out[`d ${kind}`] = tf
            .grad((t: tf.Tensor) => f(t).square().sum())(X)
            .dataSync() as Float32Array;
        }
        return out;
      }),
  };
}

/** The gradients of relu, relu6 and leaky relu, above and below OPS_MIN_ELEMENTS, with x exactly 0 and 6 in places. */
function reluCase(seed: number, n: number): Case {
  const r = rng(seed);
  const x = values(r, n, 8);
  for (let i = 0; i < n; i += 7) x[i] = 0;
  for (let i = 3; i < n; i += 11) x[i] = 6;
  const w = values(r, n);
  return {
    name: `relu, relu6, leakyRelu gradients of ${n} elements`,
    run: () =>
      tf.tidy(() => {
        const g = (f: (t: tf.Tensor) => tf.Tensor) =>
          tf
            .grad((X: tf.Tensor) => f(X).mul(tf.tensor(w)).sum())(tf.tensor(x))
            .dataSync() as Float32Array;
        return { relu: g(tf.relu), relu6: g(tf.relu6), leaky: g((t) => tf.leakyRelu(t, 0.3)), leakyDefault: g((t) => tf.leakyRelu(t)) };
      }),
  };
}

/** Softmax over the last axis, forward and gradient (through a weighted sum), with rows of one element and of large values. */
function softmaxCase(seed: number, shape: number[], scale = 4): Case {
  const r = rng(seed);
  const n = size(shape);
  const x = values(r, n, scale);
  const w = values(r, n);
  return {
    name: `softmax [${shape}] (scale ${scale}) and its gradient`,
    run: () =>
      tf.tidy(() => {
        const X = tf.tensor(x, shape);
        const y = tf.softmax(X).dataSync() as Float32Array;
        const dx = tf
          .grad((t: tf.Tensor) => tf.softmax(t).mul(tf.tensor(w, shape)).sum())(X)
          .dataSync() as Float32Array;
        return { y, dx };
      }),
  };
}

/** Transpose of float32 and int32 tensors by a permutation (the int32 values compared as floats: they are small). */
function transposeCase(seed: number, shape: number[], perm: number[]): Case {
  const r = rng(seed);
  const n = size(shape);
  const x = values(r, n, 10);
  const xi = Int32Array.from({ length: n }, () => int(r, -1000, 1000));
  return {
    name: `transpose [${shape}] by [${perm}] (seed ${seed})`,
    run: () =>
      tf.tidy(() => ({
        float: tf.transpose(tf.tensor(x, shape), perm).dataSync() as Float32Array,
        int: Float32Array.from(tf.transpose(tf.tensor(xi, shape, "int32"), perm).dataSync()),
        // Its gradient is the inverse transpose.
        grad: tf
          .grad((t: tf.Tensor) =>
            tf
              .transpose(t, perm)
              .mul(tf.range(0, n).reshape(perm.map((p) => shape[p])))
              .sum(),
          )(tf.tensor(x, shape))
          .dataSync() as Float32Array,
      })),
  };
}

function cases(): Case[] {
  const r = rng(21);
  const out: Case[] = [];
  for (let i = 0; i < 6; i++) {
    const rank = int(r, 2, 4);
    const shape =
      rank === 2 ? [int(r, 2, 40), int(r, 1, 20)] : rank === 3 ? [int(r, 1, 6), int(r, 1, 9), int(r, 1, 12)] : [int(r, 1, 5), int(r, 1, 9), int(r, 1, 9), int(r, 1, 16)];
    out.push(layerCase(100 + i, shape));
  }
  out.push(layerCase(120, [8, 28, 28, 16])); // above OPS_MIN_ELEMENTS
  out.push(kernelCase(130, [4, 5, 6, 7]), kernelCase(131, [33, 3]));
  out.push(d2lCase(135, [6, 7, 5, 9]), d2lCase(136, [40, 12]));
  out.push(inferenceCase(140, [4, 24, 24, 16], true), inferenceCase(141, [8, 20, 20, 12], false), inferenceCase(142, [3, 5], true));
  out.push(layerNormCase(150, [4, 12, 48]), layerNormCase(151, [64, 10, 32]), layerNormCase(152, [37, 5]), layerNormCase(153, [3, 4, 6, 5], [-2, -1]));
  out.push(
    poolCase(170, [8, 28, 28, 6], [2, 2], [2, 2], "valid"),
    poolCase(171, [4, 27, 25, 16], [3, 3], [2, 2], "same"),
    poolCase(172, [4, 26, 26, 16], [3, 3], [1, 1], "same"),
    poolCase(173, [2, 31, 30, 32], [3, 2], [2, 3], "valid"),
    poolCase(174, [4, 29, 29, 16], [3, 3], [2, 2], 1, "ceil"),
    poolCase(175, [4, 28, 28, 16], [5, 5], [3, 3], 2, "floor"),
    poolCase(176, [2, 9, 9, 3], [2, 2], [2, 2], "same"),
  );
  out.push(reluCase(160, 100), reluCase(161, OPS_MIN_ELEMENTS + 1000));
  // Below SOFTMAX_TRANSPOSE_MIN_ELEMENTS (wasm) and above it (the addon), the attention shapes, random ones.
  out.push(
    softmaxCase(180, [4, 7]),
    softmaxCase(181, [256, 10, 10]),
    softmaxCase(182, [64, 1000], 30),
    softmaxCase(185, [50, 64], 30),
    softmaxCase(183, [2048, 1]),
    softmaxCase(184, [3, 5, 7, 11]),
  );
  out.push(
    transposeCase(190, [64, 10, 4, 8], [0, 2, 1, 3]),
    transposeCase(191, [64, 4, 10, 8], [0, 2, 1, 3]),
    transposeCase(192, [32, 48], [1, 0]),
    transposeCase(193, [5, 3], [1, 0]),
  );
  for (let i = 0; i < 4; i++) {
    const rank = int(r, 2, 6);
    const shape = Array.from({ length: rank }, () => int(r, 1, 9));
    const perm = Array.from({ length: rank }, (_, k) => k);
    for (let k = rank - 1; k > 0; k--) {
      const j = int(r, 0, k);
      [perm[k], perm[j]] = [perm[j], perm[k]];
    }
    out.push(transposeCase(195 + i, shape, perm));
  }
  return out;
}

describe("the native backend's normalization, pooling and ReLU gradient", { timeout: 120_000 }, () => {
  let loadError = "";
  const all = cases();
  const expected = new Map<string, Record<string, Float32Array>>();

  before(async () => {
    await useBackend("cpu");
    for (const c of all) expected.set(c.name, c.run(false));
    try {
      await useBackend("native");
    } catch (e) {
      loadError = e instanceof Error ? e.message : String(e);
    }
  });

  it("loads here (or, without D2L_REQUIRE_NATIVE, says why not)", (t) => {
    if (loadError) {
      if (REQUIRE_NATIVE) assert.fail(`D2L_REQUIRE_NATIVE=1 but the native backend did not load: ${loadError}`);
      t.diagnostic(`native not available here: ${loadError}`);
      return;
    }
    assert.equal(tf.getBackend(), "native");
    for (const k of [BN_TRAINING, BN_TRAINING_GRAD, RELU_GRAD, "FusedBatchNorm", "MaxPool", "AvgPool"]) assert.ok(tf.getKernel(k, "native"), `no ${k} kernel on native`);
  });

  for (const c of all) {
    it(`${c.name}: cpu's numbers within ${TOLERANCE}, no tensor leaked`, () => {
      if (loadError) return assert.ok(!REQUIRE_NATIVE);
      const want = expected.get(c.name)!;
      const before = tf.memory().numTensors;
      const got = c.run(true);
      // Cases that build a layer count the tensors around their step themselves.
      if (got.leaked) assert.equal(got.leaked[0], 0, "tensors leaked");
      else assert.equal(tf.memory().numTensors, before, "tensors leaked");
      assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
      for (const k of Object.keys(want)) {
        const e = relativeError(got[k], want[k]);
        assert.ok(e < TOLERANCE, `${k}: relative error ${e}`);
      }
    });
  }

  it("a training step of the layer runs the d2l kernels, and Relu's gradient its own, instead of tfjs' composites", async () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const layer = tf.layers.batchNormalization({});
    const x = tf.variable(tf.randomNormal([8, 16, 16, 32]));
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => tf.relu(layer.apply(x, { training: true }) as tf.Tensor).sum() as tf.Scalar);
      value.dispose();
      for (const g of Object.values(grads)) g.dispose();
    });
    for (const k of [BN_TRAINING, BN_TRAINING_GRAD, RELU_GRAD]) assert.ok(info.kernelNames.includes(k), `${k} did not run: ${info.kernelNames.join(", ")}`);
    const relus = await tf.profile(() => {
      tf.tidy(() => {
        tf.grad((X: tf.Tensor) => tf.relu6(X).add(tf.leakyRelu(X, 0.1)).sum())(x);
      });
    });
    assert.ok(relus.kernelNames.includes(RELU_GRAD), relus.kernelNames.join(", "));
    for (const k of ["Step", "LessEqual", "Greater", "Select"]) assert.ok(!relus.kernelNames.includes(k), `${k} ran: ${relus.kernelNames.join(", ")}`);
    for (const k of ["FusedBatchNorm", "Tile", "Step"]) assert.ok(!info.kernelNames.includes(k), `${k} ran: ${info.kernelNames.join(", ")}`);
    x.dispose();
    for (const v of layer.weights) v.dispose();
    const s = [1, 1, 1, 32];
    const d2l = await tf.profile(() => {
      tf.tidy(() => {
        tf.grad((X: tf.Tensor) => batchNorm(X, tf.ones(s), tf.zeros(s), tf.zeros(s), tf.ones(s), 1e-5, 0.9, true)[0].sum())(tf.randomNormal([8, 16, 16, 32]));
      });
    });
    for (const k of [BN_TRAINING, BN_TRAINING_GRAD]) assert.ok(d2l.kernelNames.includes(k), `d2l.batchNorm: ${k} did not run: ${d2l.kernelNames.join(", ")}`);
    const ln = tf.layers.layerNormalization({ epsilon: 1e-5 });
    const lnInfo = await tf.profile(() => {
      tf.tidy(() => {
        tf.grad((X: tf.Tensor) => (ln.apply(X) as tf.Tensor).sum())(tf.randomNormal([64, 10, 32]));
      });
    });
    for (const k of [LN, LN_GRAD]) assert.ok(lnInfo.kernelNames.includes(k), `layerNormalization: ${k} did not run: ${lnInfo.kernelNames.join(", ")}`);
    for (const k of ["Tile", "Slice", "FusedBatchNorm"]) assert.ok(!lnInfo.kernelNames.includes(k), `layerNormalization: ${k} ran`);
    for (const v of ln.weights) v.dispose();
  });

  it("Softmax (forward and gradient) and Transpose run in the addon from SOFTMAX_TRANSPOSE_MIN_ELEMENTS, on wasm below", async () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const addon = loadAddon();
    const impl = (f: () => tf.Tensor): string => {
      const before = addon.info().cacheSize;
      tf.tidy(() => f().dataSync());
      return `${addon.lastImpl()}|${addon.info().cacheSize - before}`;
    };
    // Each new transpose shape adds one oneDNN reorder to the addon's cache; the small one adds none.
    assert.equal(impl(() => tf.transpose(tf.ones([64, 10, 4, 9]), [0, 2, 1, 3])).split("|")[1], "1");
    assert.equal(impl(() => tf.transpose(tf.ones([4, 5]), [1, 0])).split("|")[1], "0");
    const info = await tf.profile(() => {
      tf.tidy(() => {
        tf.grad((X: tf.Tensor) => tf.softmax(X).square().sum())(tf.randomNormal([256, 10, 10]));
      });
    });
    assert.ok(info.kernelNames.includes(SOFTMAX_GRAD), info.kernelNames.join(", "));
    const small = await tf.profile(() => {
      tf.tidy(() => {
        tf.grad((X: tf.Tensor) => tf.softmax(X).square().sum())(tf.randomNormal([4, 10]));
      });
    });
    assert.ok(!small.kernelNames.includes(SOFTMAX_GRAD), small.kernelNames.join(", "));
    assert.ok(SOFTMAX_TRANSPOSE_MIN_ELEMENTS > 40 && SOFTMAX_TRANSPOSE_MIN_ELEMENTS <= 2560);
  });

  it("pooling from OPS_MIN_ELEMENTS elements runs in the addon, smaller pooling on wasm", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    // Each new pooling shape adds one oneDNN primitive to the addon's cache.
    const cached = () => loadAddon().info().cacheSize;
    tf.tidy(() => {
      const before = cached();
      tf.maxPool(tf.ones([8, 28, 28, 7]) as tf.Tensor4D, 2, 2, "valid").dataSync();
      tf.avgPool(tf.ones([4, 27, 25, 17]) as tf.Tensor4D, 3, 2, "same").dataSync();
      assert.equal(cached(), before + 2);
      tf.maxPool(tf.ones([2, 8, 8, 3]) as tf.Tensor4D, 2, 2, "valid").dataSync();
      assert.equal(cached(), before + 2);
    });
  });

  it("an empty batch gives an empty output and NaN statistics, as tfjs' mean of nothing", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    tf.tidy(() => {
      const [y, mean, variance] = batchNormTraining(tf.zeros([0, 3]), null, null, 1e-3);
      assert.deepEqual([y.shape, mean.shape, variance.shape], [[0, 3], [3], [3]]);
      assert.ok(Array.from(mean.dataSync()).every(Number.isNaN));
      assert.deepEqual(tf.grad((x: tf.Tensor) => batchNormTraining(x, null, null, 1e-3)[0].sum())(tf.zeros([0, 3])).shape, [0, 3]);
      assert.deepEqual(layerNormLastAxis(tf.zeros([0, 4]), null, null, 1e-5).shape, [0, 4]);
    });
  });

  it("bad input gets an error that says what was expected", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    tf.tidy(() => {
      assert.throws(() => batchNormTraining(tf.ones([4, 3]), tf.ones([4]), null, 1e-3), /scale must hold one number per channel \(3\), got shape \[4\]/);
      assert.throws(() => batchNormTraining(tf.ones([4]), null, null, 1e-3), /rank 2 or more/);
      assert.throws(() => layerNormLastAxis(tf.ones([4, 3]), null, tf.ones([4]), 1e-3), /offset must hold one number per channel \(3\), got shape \[4\]/);
    });
  });

  it("batchNormTraining refuses other backends", async () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    await tf.setBackend("cpu");
    try {
      assert.throws(() => batchNormTraining(tf.ones([2, 2]), null, null, 1e-3), /native backend only \(the backend is cpu\)/);
    } finally {
      await tf.setBackend("native");
    }
  });
});
