/**
 * The native backend (lib/native/): every kernel it replaces (matrix
 * products, 2-D convolutions and their gradients, pooling gradients, large
 * sigmoid, tanh, sums, means and tiles) gives the cpu
 * backend's numbers (relative error < 1e-4) on random shapes, strides,
 * paddings, dilations, transposes and broadcast batches; the cases it leaves to
 * the wasm kernels still work; wasm and native refuse to start beside each
 * other; where the addon is missing, the automatic choice skips native with one
 * line that says what to do.
 *
 * With D2L_REQUIRE_NATIVE=1 (CI, where .ci/run installs g++, make and
 * libdnnl-dev) a native backend that does not load fails the test.
 */
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../lib/backend";
import { loadAddon } from "../../lib/native/addon";
import { NATIVE_KERNELS, NATIVE_MIN_ELEMENTS } from "../../lib/native/kernels";
import { int, relativeError, rng } from "./native-helpers";

const REQUIRE_NATIVE = process.env.D2L_REQUIRE_NATIVE === "1";
const TOLERANCE = 1e-4;
const BACKEND_JS = path.resolve(__dirname, "../../lib/backend.js");

/** One computation, run on cpu and on native from the same inputs. */
interface Case {
  name: string;
  inputs: { shape: number[]; values: Float32Array | Int32Array; dtype: "float32" | "int32" }[];
  run: (...xs: tf.Tensor[]) => tf.Tensor;
  /** The cpu reference when it differs from `run` (cpu's BatchMatMul broadcasts batches only when one side is 1). */
  reference?: (...xs: tf.Tensor[]) => tf.Tensor;
}

function input(shape: number[], r: () => number, dtype: "float32" | "int32" = "float32") {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = dtype === "float32" ? Float32Array.from({ length: n }, () => 2 * r() - 1) : Int32Array.from({ length: n }, () => Math.floor(7 * r()) - 3);
  return { shape, values, dtype };
}

function evaluate(c: Case, reference: boolean): { shape: number[]; values: Float32Array | Int32Array } {
  return tf.tidy(() => {
    const xs = c.inputs.map((i) => tf.tensor(i.values, i.shape, i.dtype));
    const y = (reference && c.reference ? c.reference : c.run)(...xs);
    return { shape: y.shape, values: y.dataSync() as Float32Array | Int32Array };
  });
}

type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

function matmulCases(): Case[] {
  const cases: Case[] = [];
  const r = rng(1);
  for (let i = 0; i < 16; i++) {
    const [M, K, N] = [int(r, 1, 40), int(r, 1, 70), int(r, 1, 40)];
    const tA = i % 2 === 1;
    const tB = i % 4 >= 2;
    const batches: [number[], number[]][] = [
      [[], []],
      [[3], [3]],
      [[4], []],
      [[], [2]],
      [[2, 3], [3]],
      [[5], [1]],
    ];
    const [ba, bb] = batches[i % batches.length];
    const a = [...ba, ...(tA ? [K, M] : [M, K])];
    const b = [...bb, ...(tB ? [N, K] : [K, N])];
    cases.push({ name: `matMul [${a}]·[${b}] tA=${tA} tB=${tB}`, inputs: [input(a, r), input(b, r)], run: (x, y) => tf.matMul(x, y, tA, tB) });
  }
  // Batch dims broadcast both ways ([2,1] against [1,3]): cpu's kernel gets this wrong, so its reference tiles first.
  {
    const [M, K, N] = [5, 7, 6];
    cases.push({
      name: "matMul broadcast [2,1,5,7]·[1,3,7,6]",
      inputs: [input([2, 1, M, K], r), input([1, 3, K, N], r)],
      run: (x, y) => tf.matMul(x, y),
      reference: (x, y) => tf.matMul(tf.broadcastTo(x, [2, 3, M, K]), tf.broadcastTo(y, [2, 3, K, N])),
    });
  }
  const acts = ["linear", "relu", "relu6", "elu", "leakyrelu", "sigmoid", "prelu"] as const;
  for (let i = 0; i < acts.length * 2; i++) {
    const act = acts[i % acts.length];
    const [M, K, N] = [int(r, 2, 30), int(r, 1, 50), int(r, 2, 30)];
    const tA = r() < 0.5;
    const tB = r() < 0.5;
    const batch = i >= acts.length ? [2] : [];
    const biasShape = pick(r, [[N], [M, N], [1], [...batch, 1, N]]);
    const a = [...batch, ...(tA ? [K, M] : [M, K])];
    const b = [...batch, ...(tB ? [N, K] : [K, N])];
    cases.push({
      name: `fused matMul [${a}]·[${b}] tA=${tA} tB=${tB} bias [${biasShape}] ${act}`,
      inputs: [input(a, r), input(b, r), input(biasShape, r), input([N], r)],
      run: (x, y, bias, alpha) =>
        tf.fused.matMul({ a: x, b: y, transposeA: tA, transposeB: tB, bias, activation: act, preluActivationWeights: act === "prelu" ? alpha : undefined, leakyreluAlpha: 0.13 }),
    });
  }
  cases.push({ name: "fused matMul without bias, relu", inputs: [input([9, 11], r), input([11, 4], r)], run: (x, y) => tf.fused.matMul({ a: x, b: y, activation: "relu" }) });
  return cases;
}

function convCases(): Case[] {
  const cases: Case[] = [];
  const r = rng(2);
  const pads: Pad[] = [
    "same",
    "valid",
    [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
    1,
  ];
  for (let i = 0; i < 24; i++) {
    const [N, H, W, C, O] = [int(r, 1, 3), int(r, 5, 13), int(r, 5, 13), int(r, 1, 5), int(r, 1, 6)];
    const [kh, kw] = [int(r, 1, 4), int(r, 1, 4)];
    const dilated = i % 4 === 3;
    const strides: [number, number] = dilated ? [1, 1] : [int(r, 1, 3), int(r, 1, 3)];
    const dilations: [number, number] = dilated ? [int(r, 1, 2), 2] : [1, 1];
    const pad = pads[i % pads.length];
    const rounding = typeof pad === "number" ? pick(r, ["floor", "round", "ceil"] as const) : undefined;
    const nchw = i % 6 === 5;
    const xShape = nchw ? [N, C, H, W] : [N, H, W, C];
    const fmt = nchw ? "NCHW" : "NHWC";
    const what = `x [${xShape}] ${fmt} filter [${kh},${kw},${C},${O}] strides ${strides} dilations ${dilations} pad ${JSON.stringify(pad)}${rounding ? ` ${rounding}` : ""}`;
    cases.push({
      name: `conv2d ${what}`,
      inputs: [input(xShape, r), input([kh, kw, C, O], r)],
      run: (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, strides, pad, fmt, dilations, rounding),
    });
    // (tfjs' fused conv2d op checks a prelu weight's shape against NHWC only)
    const act = pick(r, nchw ? (["linear", "relu", "sigmoid", "elu"] as const) : (["linear", "relu", "sigmoid", "elu", "leakyrelu", "relu6", "prelu"] as const));
    cases.push({
      name: `fused conv2d ${what} bias [${O}] ${act}`,
      inputs: [input(xShape, r), input([kh, kw, C, O], r), input([O], r), input([O], r)],
      run: (x, f, bias, alpha) =>
        tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter: f as tf.Tensor4D,
          strides,
          pad,
          dataFormat: fmt,
          dilations,
          dimRoundingMode: rounding,
          bias,
          activation: act,
          preluActivationWeights: act === "prelu" ? alpha : undefined,
          leakyreluAlpha: 0.3,
        }),
    });
    if (dilated) continue; // tfjs' gradient kernels take no dilations
    // The gradients, straight through the kernels, with the forward output's shape for dy.
    const info = tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      [kh, kw, C, O],
      strides,
      1,
      pad,
      rounding,
      false,
      nchw ? "channelsFirst" : "channelsLast",
    );
    const attrs = { strides, pad, dataFormat: fmt, dimRoundingMode: rounding };
    cases.push({
      name: `conv2dBackpropInput ${what}`,
      inputs: [input(info.outShape, r), input([kh, kw, C, O], r)],
      run: (dy, f) => tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: f }, { ...attrs, inputShape: xShape } as unknown as tf.NamedAttrMap) as tf.Tensor,
    });
    cases.push({
      name: `conv2dBackpropFilter ${what}`,
      inputs: [input(xShape, r), input(info.outShape, r)],
      run: (x, dy) => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, { ...attrs, filterShape: [kh, kw, C, O] } as unknown as tf.NamedAttrMap) as tf.Tensor,
    });
  }
  // LeNet's layers at a realistic size, and a 3x3 64-channel layer as in the ResNet benchmark.
  for (const [xs, fs, pad] of [
    [[16, 28, 28, 1], [5, 5, 1, 6], "same"],
    [[16, 14, 14, 6], [5, 5, 6, 16], "valid"],
    [[4, 14, 14, 64], [3, 3, 64, 64], "same"],
  ] as [number[], number[], Pad][]) {
    const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number], 1, 1, pad);
    cases.push({ name: `conv2d x [${xs}] filter [${fs}] ${pad}`, inputs: [input(xs, r), input(fs, r)], run: (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad) });
    cases.push({
      name: `conv2dBackpropFilter x [${xs}] filter [${fs}] ${pad}`,
      inputs: [input(xs, r), input(info.outShape, r)],
      run: (x, dy) => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, { strides: 1, pad, dataFormat: "NHWC", filterShape: fs } as unknown as tf.NamedAttrMap) as tf.Tensor,
    });
    cases.push({
      name: `conv2dBackpropInput x [${xs}] filter [${fs}] ${pad}`,
      inputs: [input(info.outShape, r), input(fs, r)],
      run: (dy, f) =>
        tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: f }, { strides: 1, pad, dataFormat: "NHWC", inputShape: xs } as unknown as tf.NamedAttrMap) as tf.Tensor,
    });
  }
  return cases;
}

function poolCases(): Case[] {
  const cases: Case[] = [];
  const r = rng(5);
  const pads: Pad[] = ["same", "valid", 1, 0];
  for (let i = 0; i < 16; i++) {
    const [N, H, W, C] = [int(r, 1, 3), int(r, 3, 12), int(r, 3, 12), int(r, 1, 7)];
    const size: [number, number] = [int(r, 1, 3), int(r, 1, 3)];
    const strides: [number, number] = [int(r, 1, 3), int(r, 1, 3)];
    const pad = pads[i % pads.length];
    if (typeof pad === "number" && pad >= Math.min(...size)) continue;
    const rounding = typeof pad === "number" ? pick(r, ["floor", "round", "ceil"] as const) : undefined;
    const xShape = [N, H, W, C];
    const info = tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], size, strides, 1, pad, rounding);
    const what = `x [${xShape}] window ${size} strides ${strides} pad ${pad}${rounding ? ` ${rounding}` : ""}`;
    // Ties: some inputs hold repeated values, so the first largest pixel must be the one.
    const x = input(xShape, r);
    if (i % 3 === 0) x.values.forEach((v, j, a) => (a[j] = Math.round(2 * v)));
    cases.push({
      name: `maxPoolGrad ${what}`,
      inputs: [input(info.outShape, r), x],
      // `output` (the forward's result) is read by neither kernel; wasm's MaxPool writes out of
      // its bounds with rounding "ceil" when a window lies wholly in the padding, so it is not run here.
      run: (dy, xx) =>
        tf
          .engine()
          .runKernel("MaxPoolGrad", { dy, input: xx, output: dy }, { filterSize: size, strides, pad, dimRoundingMode: rounding } as unknown as tf.NamedAttrMap) as tf.Tensor,
    });
    const avgInfo = tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], size, strides, 1, pad);
    cases.push({
      name: `avgPoolGrad ${what}`,
      inputs: [input(avgInfo.outShape, r), x],
      run: (dy, xx) => tf.engine().runKernel("AvgPoolGrad", { dy, input: xx }, { filterSize: size, strides, pad } as unknown as tf.NamedAttrMap) as tf.Tensor,
    });
  }
  return cases;
}

/** Sigmoid, tanh and sums, above and below the size where native takes them over from wasm. */
function elementwiseCases(): Case[] {
  const cases: Case[] = [];
  const r = rng(6);
  const big = NATIVE_MIN_ELEMENTS;
  for (const shape of [
    [7, 9],
    [4, 130, 70],
    [2, 3, big + 5],
  ]) {
    cases.push({ name: `sigmoid [${shape}]`, inputs: [input(shape, r)], run: (x) => tf.sigmoid(x.mul(6)) });
    cases.push({ name: `tanh [${shape}]`, inputs: [input(shape, r)], run: (x) => tf.tanh(x.mul(3)) });
  }
  const sums: [number[], number[] | number | undefined, boolean][] = [
    [[256, 28, 28, 6], [0, 1, 2], false], // a conv layer's bias gradient
    [[300, 120], 0, false], // a dense layer's
    [[300, 120], [1], true],
    [[2, 1, 20000, 3], [0, 1, 2], true],
    [[40, 1000], -1, false],
    [[8, 64, 64], [1, 2], false],
    [[64, 64, 9], [0, 2], false], // neither leading nor trailing: wasm's
    [[32, 28, 28, 64], [1, 2], false], // a global average pool's H and W: the middle, in the addon
    [[3, 40, 1, 30, 17], [1, 2, 3], true],
    [[5, 1, 300, 7, 1], [2, 3], false],
    [[4, 9, 11, 2], [1, 2], false], // middle but small: wasm's
    [[64, 64, 9], undefined, false], // all
    [[10, 10], [0], false], // small: wasm's
  ];
  for (const [shape, axis, keepDims] of sums) {
    cases.push({ name: `sum [${shape}] axis ${JSON.stringify(axis)}${keepDims ? " keepDims" : ""}`, inputs: [input(shape, r)], run: (x) => tf.sum(x, axis, keepDims) });
    cases.push({ name: `mean [${shape}] axis ${JSON.stringify(axis)}${keepDims ? " keepDims" : ""}`, inputs: [input(shape, r)], run: (x) => tf.mean(x, axis, keepDims) });
  }
  const tiles: [number[], number[], "float32" | "int32"][] = [
    [[1, 1, 1, 64], [32, 28, 28, 1], "float32"], // batch norm's gradient
    [[3, 5, 7], [40, 2, 50], "int32"],
    [[2, 3], [200, 100], "float32"],
    [[40000], [2], "float32"],
    [[2, 3], [2, 2], "float32"], // small: wasm's
  ];
  for (const [shape, reps, dtype] of tiles) {
    cases.push({ name: `tile [${shape}] by [${reps}] ${dtype}`, inputs: [input(shape, r, dtype)], run: (x) => tf.tile(x, reps) });
  }
  return cases;
}

/** Edge cases: int32 (on cpu's kernel), empty tensors. */
function edgeCases(): Case[] {
  const r = rng(3);
  return [
    { name: "int32 matMul (on cpu: wasm has none)", inputs: [input([4, 5], r, "int32"), input([2, 5, 3], r, "int32")], run: (x, y) => tf.matMul(x, y) },
    { name: "matMul with an empty inner dimension", inputs: [input([3, 0], r), input([0, 4], r)], run: (x, y) => tf.matMul(x, y) },
    {
      name: "fused matMul with an empty inner dimension: the bias, activated",
      inputs: [input([3, 0], r), input([0, 4], r), input([4], r)],
      run: (x, y, bias) => tf.fused.matMul({ a: x, b: y, bias, activation: "sigmoid" }),
    },
    { name: "matMul with an empty output", inputs: [input([0, 5], r), input([5, 4], r)], run: (x, y) => tf.matMul(x, y) },
  ];
}

/** `node -e` in a fresh process with d2l's backend module; its stdout and stderr. */
function child(script: string, env: NodeJS.ProcessEnv = {}): { out: string; err: string; status: number | null } {
  const base = { ...process.env };
  delete base.D2L_BACKEND;
  const r = spawnSync(
    process.execPath,
    ["-e", `const b = require(${JSON.stringify(BACKEND_JS)});\n(async () => {\n${script}\n})().catch((e) => { console.log("ERROR " + e.message); });`],
    {
      env: { ...base, ...env },
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  return { out: r.stdout.trim(), err: r.stderr.trim(), status: r.status };
}

describe("the native backend", { timeout: 120_000 }, () => {
  let loadError = "";
  const cases = [...matmulCases(), ...convCases(), ...poolCases(), ...elementwiseCases(), ...edgeCases()];
  const expected = new Map<string, { shape: number[]; values: Float32Array | Int32Array }>();

  before(async () => {
    // The references on cpu first (d2l registers its own cpu filter gradient as it loads any backend).
    await useBackend("cpu");
    for (const c of cases) expected.set(c.name, evaluate(c, true));
    try {
      await useBackend("native");
    } catch (e) {
      loadError = e instanceof Error ? e.message : String(e);
    }
  });

  it("loads here, or says in one line why not and what to do", (t) => {
    if (loadError) {
      if (REQUIRE_NATIVE) assert.fail(`D2L_REQUIRE_NATIVE=1 but the native backend did not load: ${loadError}`);
      assert.match(loadError, /^backend "native" cannot load: .+\. To use it: .*(build:native|apt-get install)/);
      assert.doesNotMatch(loadError, /\n/);
      t.diagnostic(`native not available here: ${loadError}`);
      return;
    }
    assert.equal(tf.getBackend(), "native");
    const info = loadAddon().info();
    assert.match(info.onednn, /^\d+\.\d+\.\d+$/);
    assert.ok(info.threads >= 1);
  });

  it("registers its own kernels for what it replaces and the wasm kernels for the rest", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    for (const name of NATIVE_KERNELS) {
      const mine = tf.getKernel(name, "native");
      assert.ok(mine, `${name} is registered for native`);
      assert.notEqual(mine.kernelFunc, tf.getKernel(name, "wasm")?.kernelFunc, `${name} on native is d2l's, not wasm's`);
    }
    for (const name of ["Minimum", "Relu", "Select"]) {
      assert.equal(tf.getKernel(name, "native")?.kernelFunc, tf.getKernel(name, "wasm")?.kernelFunc, `${name} is wasm's`);
    }
    assert.ok(tf.getKernel("RaggedRange", "native"), "the kernels wasm lacks are forwarded to cpu");
    assert.equal(tf.getKernel("UnsortedSegmentSum", "native")?.kernelFunc, tf.getKernel("UnsortedSegmentSum", "wasm")?.kernelFunc, "d2l's wasm kernels come along");
  });

  for (const group of [
    "matMul",
    "fused matMul",
    "conv2d",
    "fused conv2d",
    "conv2dBackpropInput",
    "conv2dBackpropFilter",
    "maxPoolGrad",
    "avgPoolGrad",
    "sigmoid",
    "tanh",
    "sum",
    "mean",
    "tile",
  ]) {
    it(`${group}: the cpu backend's numbers within ${TOLERANCE} (relative), on random shapes`, () => {
      if (loadError) return assert.ok(!REQUIRE_NATIVE);
      const mine = cases.filter((c) => c.name.startsWith(`${group} `));
      assert.ok(mine.length >= 3, `${mine.length} ${group} cases`);
      for (const c of mine) {
        const want = expected.get(c.name)!;
        const got = evaluate(c, false);
        assert.deepEqual(got.shape, want.shape, `${c.name}: shape`);
        const err = relativeError(got.values, want.values);
        assert.ok(err < TOLERANCE, `${c.name}: relative error ${err.toExponential(2)}`);
      }
    });
  }

  it("int32 and empty matrix products give cpu's numbers too", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    for (const c of edgeCases()) {
      const want = expected.get(c.name)!;
      const got = evaluate(c, false);
      assert.deepEqual(got.shape, want.shape, `${c.name}: shape`);
      assert.ok(relativeError(got.values, want.values) < TOLERANCE, `${c.name}: got ${got.values.slice(0, 8)}, expected ${want.values.slice(0, 8)}`);
    }
  });

  it("trains: gradients through fused conv and matMul match cpu's, and no tensor leaks", async () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const r = rng(4);
    const x = input([3, 9, 9, 2], r);
    const k = input([3, 3, 2, 4], r);
    const w = input([5 * 5 * 4, 5], r);
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const [X, K, Wt] = [tf.tensor(x.values, x.shape), tf.tensor(k.values, k.shape), tf.tensor(w.values, w.shape)];
        const g = tf.grads((kk: tf.Tensor, ww: tf.Tensor) => {
          const h = tf.fused.conv2d({ x: X as tf.Tensor4D, filter: kk as tf.Tensor4D, strides: 2, pad: "same", activation: "relu" });
          return tf.fused.matMul({ a: h.reshape([3, 100]), b: ww as tf.Tensor2D, activation: "sigmoid" }).sum();
        })([K, Wt]);
        return g.map((t) => t.dataSync());
      });
    };
    const want = await grads("cpu");
    const before = tf.memory().numTensors;
    const got = await grads("native");
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
    for (let i = 0; i < want.length; i++) assert.ok(relativeError(got[i], want[i]) < TOLERANCE, `gradient ${i}: ${relativeError(got[i], want[i])}`);
  });

  it("where the addon is missing, the automatic choice skips native with one line saying what to do", () => {
    const r = child(`await b.ready(); console.log("CHOSE " + b.backendInfo().name);`, { D2L_NATIVE_ADDON: "/nonexistent/d2l_native.node" });
    assert.match(r.out, /CHOSE wasm/);
    const lines = r.err.split("\n").filter((l) => l.includes("native"));
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0], /^d2l: skipped native: the native addon is not built .*; to use it: .*npm run build:native$/);
  });

  it("asked for where the addon is missing, it fails saying what to do", () => {
    const r = child(`await b.useBackend("native");`, { D2L_NATIVE_ADDON: "/nonexistent/d2l_native.node" });
    assert.match(r.out, /^ERROR backend "native" cannot load: the native addon is not built .*\. To use it: .*npm run build:native$/);
  });

  it("wasm and native never start in one process", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const a = child(`await b.useBackend("native"); await b.useBackend("wasm");`);
    assert.match(a.out, /^ERROR backend "wasm" cannot load: the native backend already started in this process.*restart/);
    const c = child(`await b.useBackend("wasm"); await b.useBackend("native");`);
    assert.match(c.out, /^ERROR backend "native" cannot load: the wasm backend already started in this process.*restart/);
    const n = child(
      `await b.useBackend("native"); await b.useBackend("native"); await b.useBackend("cpu"); await b.useBackend("native"); console.log("OK " + b.backendInfo().adapter);`,
    );
    assert.match(n.out, /^OK oneDNN .* on WebAssembly SIMD$/);
  });
});
