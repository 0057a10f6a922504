/**
 * Per-op overhead on the native backend (issue 21): `Identity` and `Cast` to
 * the same dtype share the input's data instead of copying it (tfjs clones
 * every input of a custom gradient and every saved tensor through them), and
 * training steps of the softmax-regression and MLP workloads, whose small
 * matrix products now run on one thread, give the cpu backend's losses and
 * weights within 1e-4 without leaking tensors.
 *
 * With D2L_REQUIRE_NATIVE=1 (CI) a native backend that does not load fails the test.
 */
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../lib/backend";
import { binaryPlan, SOFTMAX_XENT, SOFTMAX_XENT_GRAD } from "../../lib/native/kernels";
import { crossEntropy, type CrossEntropyOptions } from "../../lib/train/losses";
import { int, relativeError, rng } from "./native-helpers";

const REQUIRE_NATIVE = process.env.D2L_REQUIRE_NATIVE === "1";
const TOLERANCE = 1e-4;

function values(n: number, r: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}

/** Max relative error where NaN matches NaN and infinities match themselves. */
function closeness(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, "lengths");
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]) || !Number.isFinite(want[i])) {
      if (!Object.is(got[i], want[i]) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) return Infinity;
      continue;
    }
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / Math.max(scale, 1e-6);
}

/** One computation of small-op kernels, run on cpu and on native from the same inputs. */
interface Case {
  name: string;
  inputs: { shape: number[]; values: Float32Array }[];
  run: (...xs: tf.Tensor[]) => tf.Tensor;
}

/** Elementwise ops over every broadcast the native loop takes (rows, columns, scalars, both sides) and some it leaves to wasm. */
function smallOpCases(): Case[] {
  const r = rng(11);
  const cases: Case[] = [];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ["add", tf.add],
    ["sub", tf.sub],
    ["mul", tf.mul],
    ["div", tf.div],
  ];
  for (let i = 0; i < 24; i++) {
    const rank = int(r, 0, 4);
    const out = Array.from({ length: rank }, () => int(r, 1, 7));
    const k = int(r, 0, rank);
    // Each side: full, leading block (ones after k), trailing block (ones before k), scalar, or a random mix (wasm's case), sometimes of lower rank.
    const side = (): number[] => {
      const kind = int(r, 0, 4);
      const s = out.map((d, j) => (kind === 0 ? d : kind === 1 ? (j < k ? d : 1) : kind === 2 ? (j < k ? 1 : d) : kind === 3 ? 1 : r() < 0.5 ? 1 : d));
      let drop = 0;
      while (drop < s.length && s[drop] === 1 && r() < 0.5) drop++;
      return s.slice(drop);
    };
    const [sa, sb] = [side(), side()];
    const [name, f] = ops[i % 4];
    cases.push({ name: `${name} #${i} [${sa}] and [${sb}]`, inputs: [input(sa, r), input(sb, r)], run: f });
  }
  cases.push({ name: "div by zero and signed zeros", inputs: [input([3, 4], r), { shape: [3, 1], values: Float32Array.from([0, -0, 1]) }], run: tf.div });
  cases.push({ name: "add [512, 512] and [512]", inputs: [input([512, 512], r), input([512], r)], run: tf.add });
  for (const shape of [[], [7], [256, 10], [3, 5, 9], [300, 301]]) {
    cases.push({ name: `exp [${shape}]`, inputs: [input(shape, r, 20)], run: tf.exp });
    cases.push({ name: `log [${shape}] (negatives and zeros too)`, inputs: [input(shape, r, 3)], run: tf.log });
  }
  const reductions: [string, (x: tf.Tensor, axis: number[] | null, keep: boolean) => tf.Tensor][] = [
    ["sum", (x, a, keep) => tf.sum(x, a ?? undefined, keep)],
    ["mean", (x, a, keep) => tf.mean(x, a ?? undefined, keep)],
    ["max", (x, a, keep) => tf.max(x, a ?? undefined, keep)],
  ];
  for (const [name, f] of reductions) {
    for (const [shape, axis] of [
      [[256, 10], [1]],
      [[256, 10], [0]],
      [
        [1, 256, 10],
        [0, 1],
      ],
      [
        [4, 1, 6, 5],
        [2, 3],
      ],
      [[4, 6, 5], [1]],
      [[300], null],
      [[600, 500], [0]],
      [[600, 500], [1]],
      [[2, 3], [-1]],
    ] as [number[], number[] | null][]) {
      for (const keep of [false, true]) cases.push({ name: `${name} [${shape}] over ${axis} keepDims ${keep}`, inputs: [input(shape, r)], run: (x) => f(x, axis, keep) });
    }
  }
  cases.push({ name: "max with NaN", inputs: [{ shape: [2, 3], values: Float32Array.from([1, NaN, 3, -1, -2, NaN]) }], run: (x) => tf.max(x, 1) });
  cases.push({ name: "max with NaN over rows", inputs: [{ shape: [2, 3], values: Float32Array.from([1, NaN, 3, -1, -2, 9]) }], run: (x) => tf.max(x, 0) });
  cases.push({
    name: "gradient of log-softmax cross-entropy through them",
    inputs: [input([16, 10], r, 4)],
    run: (x) =>
      tf.grad((z: tf.Tensor) =>
        tf.losses.softmaxCrossEntropy(
          tf.oneHot(
            tf.tensor1d(
              [...Array(16).keys()].map((i) => i % 10),
              "int32",
            ),
            10,
          ),
          z,
        ),
      )(x),
  });
  return cases;
}

/** d2l's crossEntropy (the fused kernel on native), its value and its gradients, in many of its modes. */
function crossEntropyCases(): Case[] {
  const r = rng(23);
  const cases: Case[] = [];
  const modes: [string, CrossEntropyOptions][] = [
    ["mean", {}],
    ["none", { reduction: "none" }],
    ["sum, weights", { reduction: "sum", weight: [1, 2, 0.5, 1, 3] }],
    ["label smoothing 0.1", { labelSmoothing: 0.1 }],
    ["ignoreIndex 2", { ignoreIndex: 2 }],
  ];
  for (const [what, options] of modes) {
    for (const shape of [
      [8, 5],
      [3, 4, 5],
    ]) {
      const idx = Int32Array.from({ length: shape.slice(0, -1).reduce((a, b) => a * b, 1) }, () => Math.floor(5 * r()));
      const target = () => tf.tensor(idx, shape.slice(0, -1), "int32");
      cases.push({ name: `crossEntropy ${what} [${shape}]`, inputs: [input(shape, r, 6)], run: (x) => crossEntropy(x, target(), options) });
      cases.push({
        name: `gradient of crossEntropy ${what} [${shape}]`,
        inputs: [input(shape, r, 6)],
        run: (x) => tf.grad((z: tf.Tensor) => crossEntropy(z, target(), options))(x),
      });
    }
  }
  cases.push({
    name: "crossEntropy with soft targets: value and both gradients",
    inputs: [input([6, 7], r, 4), input([6, 7], r)],
    run: (x, t) => {
      const q = tf.softmax(t);
      const f = (a: tf.Tensor, b: tf.Tensor) => crossEntropy(a, b, { reduction: "sum" });
      const [gx, gq] = tf.grads(f)([x, q]);
      return tf.concat([f(x, q).reshape([1]), gx.flatten(), gq.flatten()]);
    },
  });
  cases.push({
    name: "crossEntropy of large logits",
    inputs: [{ shape: [2, 3], values: Float32Array.from([1000, -1000, 0, 88, 89, 90]) }],
    run: (x) => crossEntropy(x, tf.tensor1d([0, 1], "int32"), { reduction: "none" }),
  });
  return cases;
}

function input(shape: number[], r: () => number, scale = 1): { shape: number[]; values: Float32Array } {
  return {
    shape,
    values: values(
      shape.reduce((a, b) => a * b, 1),
      r,
    ).map((v) => v * scale),
  };
}

function evaluate(c: Case): { shape: number[]; values: Float32Array } {
  return tf.tidy(() => {
    const y = c.run(...c.inputs.map((i) => tf.tensor(i.values, i.shape)));
    return { shape: y.shape, values: y.dataSync() as Float32Array };
  });
}

/** `steps` SGD steps of a dense net (units: layer widths after the 784 inputs), as bench/tfjs_workloads.js runs them. */
function train(units: number[], steps: number): { losses: number[]; weights: Float32Array[] } {
  const r = rng(7);
  const batch = 64;
  const x = tf.tensor2d(values(batch * 784, r), [batch, 784]);
  const labels = tf.tensor1d(
    Int32Array.from({ length: batch }, () => Math.floor(10 * r())),
    "int32",
  );
  const y = tf.oneHot(labels, 10);
  const layers: tf.layers.Layer[] = [];
  const initial: tf.Tensor[] = [];
  let fanIn = 784;
  units.forEach((u, i) => {
    const last = i === units.length - 1;
    const kernel = tf.tensor2d(
      values(fanIn * u, r).map((v) => v / Math.sqrt(fanIn)),
      [fanIn, u],
    );
    const bias = tf.tensor1d(values(u, r).map((v) => v / 10));
    layers.push(tf.layers.dense({ units: u, activation: last ? "linear" : "relu", weights: [kernel, bias], ...(i === 0 ? { inputShape: [784] } : {}) }));
    initial.push(kernel, bias);
    fanIn = u;
  });
  const model = tf.sequential({ layers });
  tf.dispose(initial);
  const optimizer = tf.train.sgd(0.1);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor), true) as tf.Scalar;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
  }
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  optimizer.dispose();
  tf.dispose([x, labels, y]);
  return { losses, weights };
}

describe("per-op overhead on the native backend", { timeout: 120_000 }, () => {
  let loadError = "";
  const expected = new Map<string, { losses: number[]; weights: Float32Array[] }>();
  const nets: Record<string, number[]> = { "softmax regression (784->10)": [10], "MLP (784->256->10)": [256, 10] };
  const cases = smallOpCases();
  const lossCases = crossEntropyCases();
  const reference = new Map<string, { shape: number[]; values: Float32Array }>();

  before(async () => {
    await useBackend("cpu");
    for (const [name, units] of Object.entries(nets)) expected.set(name, train(units, 4));
    for (const c of [...cases, ...lossCases]) reference.set(c.name, evaluate(c));
    try {
      await useBackend("native");
    } catch (e) {
      loadError = e instanceof Error ? e.message : String(e);
    }
  });

  it("loads, or is allowed not to", () => {
    if (loadError && REQUIRE_NATIVE) assert.fail(`D2L_REQUIRE_NATIVE=1 but the native backend did not load: ${loadError}`);
    if (!loadError) assert.equal(tf.getBackend(), "native");
  });

  it("clone (Identity) and cast to the same dtype share the data; disposing either leaves the other intact", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const buffers = tf.memory().numDataBuffers;
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const c = tf.clone(x);
    const f = tf.cast(x, "float32");
    assert.equal(c.dataId, x.dataId, "clone shares x's data");
    assert.equal(f.dataId, x.dataId, "cast to float32 shares x's data");
    assert.equal(tf.memory().numDataBuffers, buffers + 1, "one buffer for the three tensors");
    x.dispose();
    assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3, 4, 5, 6]);
    c.dispose();
    assert.deepEqual(Array.from(f.dataSync()), [1, 2, 3, 4, 5, 6]);
    f.dispose();
    assert.equal(tf.memory().numDataBuffers, buffers, "the buffer is freed with the last tensor");
  });

  it("cast to another dtype still converts as cpu does (bool: nonzero is true; wasm's kernel gave 254 for -2.7)", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const x = tf.tensor1d([-2.7, -0.5, 0, 1.5, 3.9]);
    const i = tf.cast(x, "int32");
    const b = tf.cast(x, "bool");
    const back = tf.cast(tf.tensor1d([3, -4, 0], "int32"), "float32");
    assert.notEqual(i.dataId, x.dataId);
    assert.equal(i.dtype, "int32");
    assert.deepEqual(Array.from(i.dataSync()), [-2, 0, 0, 1, 3]);
    assert.deepEqual(Array.from(b.dataSync()), [1, 1, 0, 1, 1]);
    assert.deepEqual(Array.from(back.dataSync()), [3, -4, 0]);
    tf.dispose([x, i, b, back]);
  });

  it("a clone on the tape gets its gradient: tf.grad through clone and cast", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.clone(x), tf.cast(x, "float32"))));
    const x = tf.tensor1d([1, -2, 3]);
    const dx = g(x);
    assert.deepEqual(Array.from(dx.dataSync()), [2, -4, 6]);
    tf.dispose([x, dx]);
  });

  it(`add, sub, mul, div, exp, log, sum, mean and max (src/fused.cc): cpu's numbers within ${TOLERANCE}, NaN and infinities alike`, () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    for (const name of ["Add", "Sub", "Multiply", "RealDiv", "Exp", "Log", "Max"]) {
      assert.notEqual(tf.getKernel(name, "native")?.kernelFunc, tf.getKernel(name, "wasm")?.kernelFunc, `${name} on native is d2l's`);
    }
    const before = tf.memory().numTensors;
    for (const c of cases) {
      const want = reference.get(c.name)!;
      const got = evaluate(c);
      assert.deepEqual(got.shape, want.shape, `${c.name}: shape`);
      const err = closeness(got.values, want.values);
      assert.ok(err < TOLERANCE, `${c.name}: relative error ${err}; got ${got.values.slice(0, 6)}, cpu ${want.values.slice(0, 6)}`);
    }
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
  });

  it(`d2l's crossEntropy runs as one fused kernel forward and one backward, with cpu's values and gradients within ${TOLERANCE}`, async () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const before = tf.memory().numTensors;
    for (const c of lossCases) {
      const want = reference.get(c.name)!;
      const got = evaluate(c);
      assert.deepEqual(got.shape, want.shape, `${c.name}: shape`);
      const err = closeness(got.values, want.values);
      assert.ok(err < TOLERANCE, `${c.name}: relative error ${err}; got ${got.values.slice(0, 6)}, cpu ${want.values.slice(0, 6)}`);
    }
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
    const x = tf.tensor2d([2, 0.5, -1, 0, 0, 3], [2, 3]);
    const y = tf.tensor1d([0, 2], "int32");
    const info = await tf.profile(() => tf.grad((z: tf.Tensor) => crossEntropy(z, y))(x));
    assert.ok(info.kernelNames.includes(SOFTMAX_XENT) && info.kernelNames.includes(SOFTMAX_XENT_GRAD), `kernels run: ${info.kernelNames}`);
    assert.ok(!info.kernelNames.includes("Exp"), `no composite log-sum-exp: ${info.kernelNames}`);
    tf.dispose([x, y]);
  });

  it("binaryPlan: one loop for full, row, column and scalar operands; null for other broadcasts", () => {
    assert.deepEqual(binaryPlan([256, 10], [256, 1], [256, 10]), [256, 10, 0, 1]);
    assert.deepEqual(binaryPlan([256, 1], [256, 10], [256, 10]), [256, 10, 1, 0]);
    assert.deepEqual(binaryPlan([], [784, 10], [784, 10]), [1, 7840, 3, 0]);
    assert.deepEqual(binaryPlan([10], [256, 10], [256, 10]), [256, 10, 2, 0]);
    assert.deepEqual(binaryPlan([1, 10], [256, 1], [256, 10]), [256, 10, 2, 1]);
    assert.equal(binaryPlan([2, 1, 4], [2, 3, 1], [2, 3, 4]), null);
  });

  for (const name of ["softmax regression (784->10)", "MLP (784->256->10)"]) {
    it(`${name}: four SGD steps give cpu's losses and weights within ${TOLERANCE}, and leak no tensor`, () => {
      if (loadError) return assert.ok(!REQUIRE_NATIVE);
      const want = expected.get(name)!;
      const before = tf.memory().numTensors;
      const got = train(nets[name], 4);
      assert.equal(tf.memory().numTensors, before, "tensors leaked");
      assert.ok(want.losses[3] < want.losses[0], `the loss falls on cpu: ${want.losses}`);
      assert.ok(relativeError(got.losses, want.losses) < TOLERANCE, `losses ${got.losses} against cpu's ${want.losses}`);
      want.weights.forEach((w, i) => assert.ok(relativeError(got.weights[i], w) < TOLERANCE, `weight ${i}: ${relativeError(got.weights[i], w)}`));
    });
  }
});
