/**
 * The native backend's matrix products on both of its libraries (issue 21): MatMul,
 * BatchMatMul and _FusedMatMul with transposes, bias and activations, on random shapes
 * (1xN, Nx1, batches broadcast both ways, empty inner dimension), forward and gradient,
 * against the cpu backend within 1e-4 (relative), once through OpenBLAS (the addon's
 * setBlas("openblas")), once through the default choice by shape ("auto") and once through
 * oneDNN (setBlas("onednn"), and D2L_NATIVE_BLAS=onednn in a child process).
 *
 * Where OpenBLAS's library file exists (this machine; CI after bin/setup.sh installs
 * libopenblas0-pthread) the addon must load it and the products must run on it; where it
 * does not, the products run on oneDNN and backendInfo() says why.
 *
 * With D2L_REQUIRE_NATIVE=1 a native backend that does not load fails the test.
 */
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { backendInfo, useBackend } from "../../lib/backend";
import { loadAddon } from "../../lib/native/addon";
import type { BlasAddon, NativeBlas } from "../../lib/native/kernels";
import { int, relativeError, rng } from "./native-helpers";

const REQUIRE_NATIVE = process.env.D2L_REQUIRE_NATIVE === "1";
const TOLERANCE = 1e-4;
const BACKEND_JS = path.resolve(__dirname, "../../lib/backend.js");
const ADDON_JS = path.resolve(__dirname, "../../lib/native/addon.js");
/** Where Debian puts OpenBLAS (libopenblas0-pthread; the first is the alternatives link). */
const OPENBLAS_FILES = [
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
];
const OPENBLAS_INSTALLED = process.platform === "linux" && OPENBLAS_FILES.some((f) => fs.existsSync(f));

type Act = "linear" | "relu" | "relu6" | "elu" | "leakyrelu" | "sigmoid" | "prelu";

/** One product: a, b (and bias) as stored, the transposes, the activation. */
interface Case {
  name: string;
  a: number[];
  b: number[];
  bias?: number[];
  tA: boolean;
  tB: boolean;
  act?: Act;
  /** No gradient (the empty inner dimension; batches broadcast, where tfjs' gradient fails). */
  forwardOnly?: boolean;
  /** Batch dims broadcast both ways: cpu's kernel needs its inputs tiled first. */
  tileFor?: number[];
}

interface Result {
  out: Float32Array;
  shape: number[];
  grads: Float32Array[];
}

const size = (s: number[]): number => s.reduce((x, y) => x * y, 1);

function cases(): Case[] {
  const r = rng(21);
  const out: Case[] = [];
  const mk = (M: number, K: number, N: number, tA: boolean, tB: boolean, ba: number[] = [], bb: number[] = []) => ({
    a: [...ba, ...(tA ? [K, M] : [M, K])],
    b: [...bb, ...(tB ? [N, K] : [K, N])],
    tA,
    tB,
  });
  // Random 2-D shapes across the size where the default choice switches library (1.5 MFLOP).
  for (let i = 0; i < 12; i++) {
    const big = i % 3 === 2;
    const [M, K, N] = big ? [int(r, 120, 200), int(r, 100, 200), int(r, 120, 200)] : [int(r, 1, 40), int(r, 1, 70), int(r, 1, 40)];
    const c = mk(M, K, N, i % 2 === 1, i % 4 >= 2);
    out.push({ name: `matMul [${c.a}]·[${c.b}] tA=${c.tA} tB=${c.tB}`, ...c });
  }
  // Matrix-vector shapes: 1xN, Nx1, and a 1x1 output.
  for (const [M, K, N] of [
    [1, 37, 29],
    [33, 41, 1],
    [1, 50, 1],
    [1, 1, 1],
    [200, 300, 1],
  ]) {
    for (const [tA, tB] of [
      [false, false],
      [true, true],
      [true, false],
      [false, true],
    ]) {
      const c = mk(M, K, N, tA, tB);
      out.push({ name: `matMul [${c.a}]·[${c.b}] tA=${tA} tB=${tB}`, ...c });
    }
  }
  // Batches: equal, one side broadcast, both sides broadcast (cpu reference tiles), rank 4, and
  // 32 attention heads (the batch that runs over OpenMP's threads).
  const batches: [number[], number[]][] = [
    [[3], [3]],
    [[4], [1]],
    [[1], [5]],
    [[2, 3], [3]],
    [[3], []],
    [[32], [32]],
  ];
  batches.forEach(([ba, bb], i) => {
    for (const [tA, tB] of [
      [false, false],
      [true, true],
      [false, true],
      [true, false],
    ]) {
      const [M, K, N] = [int(r, 1, 20), int(r, 1, 24), int(r, 1, 20)];
      const c = mk(M, K, N, tA, tB, ba, bb);
      // tfjs' BatchMatMul gradient does not sum over broadcast batch dims (it fails on any backend): forward only there.
      const same = ba.length === bb.length && ba.every((d, k) => d === bb[k]);
      out.push({ name: `batchMatMul [${c.a}]·[${c.b}] tA=${tA} tB=${tB} (${i})`, ...c, forwardOnly: !same });
    }
  });
  // A batch over 16 MFLOP: under setBlas("openblas") its matrices run in parallel on OpenMP's threads.
  for (const [tA, tB] of [
    [false, false],
    [true, true],
  ]) {
    const c = mk(128, 96, 112, tA, tB, [8], [8]);
    out.push({ name: `batchMatMul [${c.a}]·[${c.b}] tA=${tA} tB=${tB} (parallel batch)`, ...c });
  }
  {
    const c = mk(5, 7, 6, false, true, [2, 1], [1, 3]);
    out.push({ name: `batchMatMul broadcast both ways [${c.a}]·[${c.b}]`, ...c, tileFor: [2, 3], forwardOnly: true });
  }
  // Fused: bias shapes [N], [M, N], [1], [M, 1], [batch, 1, N]; every activation.
  const acts: Act[] = ["linear", "relu", "relu6", "elu", "leakyrelu", "sigmoid", "prelu"];
  for (let i = 0; i < 14; i++) {
    const act = acts[i % acts.length];
    const batch = i >= acts.length ? [2] : [];
    const [M, K, N] = i === 3 ? [1, 30, 25] : i === 4 ? [30, 25, 1] : [int(r, 2, 30), int(r, 1, 50), int(r, 2, 30)];
    const c = mk(M, K, N, r() < 0.5, r() < 0.5, batch, batch);
    const biasShapes = [[N], [M, N], [1], [M, 1], [...batch, 1, N]];
    const bias = biasShapes[i % biasShapes.length];
    out.push({ name: `fused matMul [${c.a}]·[${c.b}] tA=${c.tA} tB=${c.tB} bias [${bias}] ${act}`, ...c, bias, act });
  }
  // The MLP's products at full size (OpenBLAS under setBlas("openblas"), oneDNN by default).
  out.push({ name: "fused matMul [256,784]·[784,256] bias [256] relu", ...mk(256, 784, 256, false, false), bias: [256], act: "relu" });
  out.push({ name: "fused matMul [256,256]·[256,10] bias [10] linear", ...mk(256, 256, 10, false, false), bias: [10], act: "linear" });
  // An empty inner dimension: zeros, or the bias.
  out.push({ name: "matMul [3,0]·[0,4]", a: [3, 0], b: [0, 4], tA: false, tB: false, forwardOnly: true });
  out.push({ name: "fused matMul [3,0]·[0,4] bias [4] relu", a: [3, 0], b: [0, 4], tA: false, tB: false, bias: [4], act: "relu", forwardOnly: true });
  return out;
}

/** Inputs of a case, from a seed of its own: a, b, bias, prelu alpha, the weights of the loss. */
function inputs(c: Case, i: number): Float32Array[] {
  const r = rng(1000 + i);
  const vals = (n: number) => Float32Array.from({ length: n }, () => 2 * r() - 1);
  const M = c.tA ? c.a[c.a.length - 1] : c.a[c.a.length - 2];
  const N = c.tB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
  const batch = tf.broadcast_util.assertAndGetBroadcastShape(c.a.slice(0, -2), c.b.slice(0, -2));
  return [vals(size(c.a)), vals(size(c.b)), vals(c.bias ? size(c.bias) : 0), vals(N), vals(size(batch) * M * N)];
}

/** The product and, unless forward only, the gradients of sum(product · W) for a, b and the bias. */
function run(c: Case, xs: Float32Array[], reference: boolean): Result {
  return tf.tidy(() => {
    const a = tf.tensor(xs[0], c.a);
    const b = tf.tensor(xs[1], c.b);
    const bias = c.bias ? tf.tensor(xs[2], c.bias) : undefined;
    const alpha = tf.tensor(xs[3]);
    const f = (x: tf.Tensor, y: tf.Tensor, z?: tf.Tensor): tf.Tensor => {
      if (reference && c.tileFor) {
        x = tf.broadcastTo(x, [...c.tileFor, ...c.a.slice(-2)]);
        y = tf.broadcastTo(y, [...c.tileFor, ...c.b.slice(-2)]);
      }
      if (!c.act) return tf.matMul(x, y, c.tA, c.tB);
      return tf.fused.matMul({
        a: x,
        b: y,
        transposeA: c.tA,
        transposeB: c.tB,
        bias: z,
        activation: c.act,
        preluActivationWeights: c.act === "prelu" ? alpha : undefined,
        leakyreluAlpha: 0.13,
      });
    };
    const y = f(a, b, bias);
    const out = y.dataSync() as Float32Array;
    if (c.forwardOnly) return { out, shape: y.shape, grads: [] };
    const w = tf.tensor(xs[4], y.shape);
    const loss = (x: tf.Tensor, yy: tf.Tensor, z?: tf.Tensor) => f(x, yy, z).mul(w).sum();
    const grads = bias ? tf.grads((x: tf.Tensor, yy: tf.Tensor, z: tf.Tensor) => loss(x, yy, z))([a, b, bias]) : tf.grads((x: tf.Tensor, yy: tf.Tensor) => loss(x, yy))([a, b]);
    return { out, shape: y.shape, grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

describe("native matrix products on OpenBLAS and on oneDNN", { timeout: 180_000 }, () => {
  let loadError = "";
  const all = cases();
  const data = all.map((c, i) => inputs(c, i));
  const expected: Result[] = [];
  let addon: BlasAddon;

  before(async () => {
    await useBackend("cpu");
    all.forEach((c, i) => expected.push(run(c, data[i], true)));
    try {
      await useBackend("native");
      addon = loadAddon() as BlasAddon;
    } catch (e) {
      loadError = e instanceof Error ? e.message : String(e);
    }
  });

  it("loads OpenBLAS where its library file exists, and backendInfo() says which library multiplies", (t) => {
    if (loadError) {
      if (REQUIRE_NATIVE) assert.fail(`D2L_REQUIRE_NATIVE=1 but the native backend did not load: ${loadError}`);
      t.diagnostic(`native not available here: ${loadError}`);
      return assert.equal(backendInfo().blas, "");
    }
    assert.equal(typeof addon.blas, "function", "the addon has blas() (rebuild it: npm run build:native)");
    const b: NativeBlas = addon.setBlas("auto");
    if (OPENBLAS_INSTALLED) {
      assert.match(b.library, /libopenblas/, `OpenBLAS is installed here but the addon did not load it: ${b.missing}`);
      assert.match(b.config, /OpenBLAS/);
      assert.equal(b.missing, "");
      assert.match(backendInfo().blas, /^OpenBLAS .* for small and matrix-vector products, oneDNN \d+\.\d+\.\d+ for the rest$/);
    } else {
      t.diagnostic(`no OpenBLAS here: ${b.missing}`);
      assert.equal(b.library, "");
      assert.match(b.missing, /apt-get install libopenblas0-pthread/);
      assert.match(backendInfo().blas, /^oneDNN \d+\.\d+\.\d+ \(no OpenBLAS/);
    }
  });

  for (const mode of ["openblas", "auto", "onednn"] as const) {
    it(`${mode}: products and their gradients give the cpu backend's numbers within ${TOLERANCE}`, () => {
      if (loadError) return assert.ok(!REQUIRE_NATIVE);
      addon.setBlas(mode);
      const before = tf.memory().numTensors;
      let onOpenBlas = 0;
      try {
        all.forEach((c, i) => {
          const got = run(c, data[i], false);
          // The product itself runs last in the forward pass (prelu is applied after, by wasm).
          tf.tidy(() => {
            const y = c.act
              ? tf.fused.matMul({
                  a: tf.tensor(data[i][0], c.a),
                  b: tf.tensor(data[i][1], c.b),
                  transposeA: c.tA,
                  transposeB: c.tB,
                  bias: c.bias ? tf.tensor(data[i][2], c.bias) : undefined,
                })
              : tf.matMul(tf.tensor(data[i][0], c.a), tf.tensor(data[i][1], c.b), c.tA, c.tB);
            y.dataSync();
          });
          const impl = addon.lastImpl();
          if (impl === "openblas:sgemm") onOpenBlas++;
          if (mode === "onednn") assert.notEqual(impl, "openblas:sgemm", `${c.name}: ran on OpenBLAS under setBlas("onednn")`);
          if (mode === "openblas" && OPENBLAS_INSTALLED && size(c.a) > 0) assert.equal(impl, "openblas:sgemm", `${c.name}: did not run on OpenBLAS`);
          const want = expected[i];
          assert.deepEqual(got.shape, want.shape, `${c.name}: shape`);
          const err = relativeError(got.out, want.out);
          assert.ok(err < TOLERANCE, `${c.name}: output relative error ${err.toExponential(2)}`);
          assert.equal(got.grads.length, want.grads.length);
          got.grads.forEach((g, k) => {
            const e = relativeError(g, want.grads[k]);
            assert.ok(e < TOLERANCE, `${c.name}: gradient ${["a", "b", "bias"][k]} relative error ${e.toExponential(2)}`);
          });
        });
      } finally {
        addon.setBlas("auto");
      }
      assert.equal(tf.memory().numTensors, before, "no tensor leaked");
      // The default sends the small and matrix-vector products to OpenBLAS, the MLP's large one to oneDNN.
      if (mode === "auto" && OPENBLAS_INSTALLED) assert.ok(onOpenBlas > all.length / 2 && onOpenBlas < all.length, `${onOpenBlas} of ${all.length} on OpenBLAS`);
    });
  }

  it("auto: OpenBLAS for a small product, a matrix-vector product and a batch of small Q·K^T, oneDNN for [256,784]·[784,256]", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    addon.setBlas("auto");
    const lib = (a: number[], b: number[], transposeB = false): string =>
      tf.tidy(() => {
        tf.matMul(tf.ones(a), tf.ones(b), false, transposeB).dataSync();
        return addon.lastImpl() === "openblas:sgemm" ? "openblas" : "onednn";
      });
    const small = OPENBLAS_INSTALLED ? "openblas" : "onednn";
    assert.equal(lib([32, 32], [32, 32]), small);
    assert.equal(lib([1024, 784], [784, 1]), small);
    assert.equal(lib([256, 784], [784, 256]), "onednn");
    // Attention's Q·K^T over a batch of 256 small matrices (the Transformer block of bench/): one sgemm per matrix.
    assert.equal(lib([256, 10, 8], [256, 10, 8], true), small);
    assert.equal(lib([64, 32, 32], [64, 32, 32], true), "onednn");
  });

  it("setBlas refuses a mode it does not know, saying which it takes", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    assert.throws(() => addon.setBlas("mkl" as NativeBlas["mode"]), /expected auto, openblas or onednn; got "mkl"/);
    assert.equal(addon.blas().mode, "auto");
  });

  /** A fresh process on native with `env`: what backendInfo() and the addon say, and a 4x3·3x2 product of ones. */
  function child(env: Record<string, string>): { blas: string; mode: string; impl: string; y: number[] } {
    const script = `
      const tf = require("@tensorflow/tfjs");
      const d2l = require(${JSON.stringify(BACKEND_JS)});
      const addon = require(${JSON.stringify(ADDON_JS)});
      d2l.useBackend("native").then(() => {
        const y = tf.matMul(tf.ones([4, 3]), tf.ones([3, 2]));
        console.log(JSON.stringify({ blas: d2l.backendInfo().blas, mode: addon.loadAddon().blas().mode, impl: addon.loadAddon().lastImpl(), y: Array.from(y.dataSync()) }));
      });`;
    const res = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, ...env }, encoding: "utf8", cwd: path.resolve(__dirname, "../..") });
    assert.equal(res.status, 0, res.stderr);
    return JSON.parse(res.stdout.trim().split("\n").pop() ?? "{}") as { blas: string; mode: string; impl: string; y: number[] };
  }

  it("D2L_NATIVE_BLAS=onednn (a fresh process): backendInfo() says oneDNN and products run on it", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const out = child({ D2L_NATIVE_BLAS: "onednn" });
    assert.equal(out.mode, "onednn");
    assert.match(out.blas, /^oneDNN \d+\.\d+\.\d+ \(D2L_NATIVE_BLAS=onednn\)$/);
    assert.notEqual(out.impl, "openblas:sgemm");
    assert.deepEqual(out.y, [3, 3, 3, 3, 3, 3, 3, 3]);
  });

  it("without OpenBLAS (D2L_OPENBLAS names a missing file): products run on oneDNN and backendInfo() says what to install", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const out = child({ D2L_OPENBLAS: "/nonexistent/libopenblas.so.0", D2L_NATIVE_BLAS: "openblas" });
    assert.match(out.blas, /^oneDNN \d+\.\d+\.\d+ \(no OpenBLAS \(tried \/nonexistent\/libopenblas\.so\.0; apt-get install libopenblas0-pthread\)\)$/);
    assert.notEqual(out.impl, "openblas:sgemm");
    assert.deepEqual(out.y, [3, 3, 3, 3, 3, 3, 3, 3]);
  });
});
