/**
 * d2l's Reverse and StridedSlice on the wasm backend (lib/kernels/reverse.ts,
 * stridedSlice.ts), which the input gradient of every convolution uses to
 * flip its filter and take a strided one's sub-filters: the same values as the
 * cpu backend's for every rank, dtype and choice of axes or steps, nothing
 * leaked, and it is d2l's kernel that runs. This file's process runs on wasm.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { useBackend } from "../../lib/backend";
import { isD2lKernel } from "../../lib/kernels";
import { simplifyReverse } from "../../lib/kernels/reverse";

before(async () => {
  await useBackend("wasm");
});

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function onCpu<T>(f: () => T): Promise<T> {
  await tf.setBackend("cpu");
  try {
    return f();
  } finally {
    await tf.setBackend("wasm");
  }
}

test("simplifyReverse merges neighbouring axes reversed alike and drops axes of size 1", () => {
  assert.deepEqual(simplifyReverse([3, 3, 512, 512], [0, 1]), { shape: [9, 262144], reversed: [true, false] });
  assert.deepEqual(simplifyReverse([2, 1, 3, 4], [0, 3]), { shape: [2, 3, 4], reversed: [true, false, true] });
  assert.deepEqual(simplifyReverse([1, 1], [0]), { shape: [1], reversed: [false] });
});

test("Reverse on wasm is d2l's and reverses like cpu: ranks 1 to 5, any axes (negative too), float32, int32 and bool", async () => {
  assert.ok(isD2lKernel("Reverse", "wasm"), "Reverse on wasm is not d2l's");
  const rand = lcg(17);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const cases: { shape: number[]; dims: number[]; dtype: "float32" | "int32" | "bool" }[] = [
    { shape: [3, 3, 8, 5], dims: [0, 1], dtype: "float32" }, // a convolution filter flipped in space
    { shape: [4, 6], dims: [1], dtype: "float32" }, // the last axis: element by element
    { shape: [2, 3, 4], dims: [-1, 0], dtype: "int32" },
    { shape: [0, 3], dims: [0], dtype: "float32" },
  ];
  for (let i = 0; i < 30; i++) {
    const rank = int(1, 5);
    const shape = Array.from({ length: rank }, () => int(1, 4));
    const dims = shape.map((_, a) => a).filter(() => rand() < 0.5);
    cases.push({ shape, dims, dtype: (["float32", "int32", "bool"] as const)[i % 3] });
  }
  assert.ok(cases.some((c) => c.dims.includes(c.shape.length - 1)) && cases.some((c) => c.dims.length === 0));
  for (const c of cases) {
    const size = c.shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: size }, () => (c.dtype === "float32" ? rand() : int(0, c.dtype === "bool" ? 1 : 99)));
    const reversed = (): { values: number[]; shape: number[] } =>
      tf.tidy(() => {
        const t = tf.reverse(tf.tensor(values, c.shape, c.dtype), c.dims);
        return { values: Array.from(t.dataSync()), shape: t.shape };
      });
    const want = await onCpu(reversed);
    const buffers = tf.backend().numDataIds();
    assert.deepEqual(reversed(), want, JSON.stringify(c));
    assert.equal(tf.backend().numDataIds(), buffers, `wasm buffers leaked: ${JSON.stringify(c)}`);
  }
});

test("StridedSlice on wasm is d2l's and slices like cpu: steps of 1 to 3, backwards, masks, shrunk and new axes", async () => {
  assert.ok(isD2lKernel("StridedSlice", "wasm"), "StridedSlice on wasm is not d2l's");
  const rand = lcg(23);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  type Case = { shape: number[]; begin: number[]; end: number[]; strides: number[]; masks?: [number, number, number, number, number]; dtype: "float32" | "int32" | "bool" };
  const cases: Case[] = [
    { shape: [3, 3, 8, 5], begin: [0, 1, 0, 0], end: [3, 3, 8, 5], strides: [2, 2, 1, 1], dtype: "float32" }, // a stride-2 phase's sub-filter
    { shape: [4, 6], begin: [0, 5], end: [4, -7], strides: [1, -2], dtype: "float32" }, // backwards on the last axis
    { shape: [5, 4, 3], begin: [1, 0, 0], end: [2, 4, 3], strides: [1, 1, 1], masks: [0, 0, 0, 0, 1], dtype: "int32" }, // shrinks axis 0 (with steps, the cpu kernel itself fails)
    { shape: [5, 4, 3], begin: [0, 0, 0], end: [0, 4, 3], strides: [1, 3, 1], masks: [1, 1, 0, 0, 0], dtype: "float32" }, // begin/end masks
    { shape: [4, 4], begin: [0, 0, 0], end: [1, 4, 4], strides: [1, 2, 2], masks: [0, 0, 0, 1, 0], dtype: "float32" }, // a new axis
    { shape: [6, 2], begin: [0, 0], end: [6, 2], strides: [1, 1], dtype: "bool" }, // identity
  ];
  for (let i = 0; i < 30; i++) {
    const rank = int(1, 4);
    const shape = Array.from({ length: rank }, () => int(1, 6));
    const strides = shape.map(() => (rand() < 0.3 ? -int(1, 3) : int(1, 3)));
    const begin = shape.map((d, a) => (strides[a] > 0 ? int(0, d - 1) : int(0, d - 1)));
    const end = shape.map((d, a) => (strides[a] > 0 ? int(begin[a] + 1, d) : int(-d - 1, begin[a] - 1)));
    cases.push({ shape, begin, end, strides, dtype: (["float32", "int32", "bool"] as const)[i % 3] });
  }
  assert.ok(cases.some((c) => c.strides[c.strides.length - 1] < 0) && cases.some((c) => c.strides.some((s) => s > 1)));
  for (const c of cases) {
    const size = c.shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: size }, () => (c.dtype === "float32" ? rand() : int(0, c.dtype === "bool" ? 1 : 99)));
    const [bm, em, el, na, sh] = c.masks ?? [0, 0, 0, 0, 0];
    const sliced = (): { values: number[]; shape: number[] } =>
      tf.tidy(() => {
        const t = tf.stridedSlice(tf.tensor(values, c.shape, c.dtype), c.begin, c.end, c.strides, bm, em, el, na, sh);
        return { values: Array.from(t.dataSync()), shape: t.shape };
      });
    const want = await onCpu(sliced);
    const buffers = tf.backend().numDataIds();
    assert.deepEqual(sliced(), want, JSON.stringify(c));
    assert.equal(tf.backend().numDataIds(), buffers, `wasm buffers leaked: ${JSON.stringify(c)}`);
  }
});

test("a convolution's input gradient on wasm still matches cpu with d2l's Reverse (3x3, 16 -> 24 channels)", async () => {
  const rand = lcg(5);
  const x = Float32Array.from({ length: 2 * 5 * 5 * 16 }, () => rand() - 0.5);
  const w = Float32Array.from({ length: 3 * 3 * 16 * 24 }, () => rand() - 0.5);
  const grad = (): number[] =>
    tf.tidy(() => {
      const f = (a: tf.Tensor): tf.Tensor =>
        tf
          .conv2d(a as tf.Tensor4D, tf.tensor4d(w, [3, 3, 16, 24]), 1, "same")
          .square()
          .sum();
      return Array.from(
        tf
          .grad(f)(tf.tensor4d(x, [2, 5, 5, 16]))
          .dataSync(),
      );
    });
  const want = await onCpu(grad);
  const got = grad();
  const err = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
  const scale = Math.max(...want.map(Math.abs));
  assert.ok(err / scale < 1e-4, `off by ${err} (scale ${scale})`);
});

test("a strided convolution's input gradient on wasm (by phases, with d2l's StridedSlice) matches cpu", async () => {
  const rand = lcg(6);
  const x = Float32Array.from({ length: 2 * 7 * 6 * 8 }, () => rand() - 0.5);
  const w = Float32Array.from({ length: 3 * 3 * 8 * 12 }, () => rand() - 0.5);
  const grad = (): number[] =>
    tf.tidy(() => {
      const f = (a: tf.Tensor): tf.Tensor =>
        tf
          .conv2d(a as tf.Tensor4D, tf.tensor4d(w, [3, 3, 8, 12]), 2, "same")
          .square()
          .sum();
      return Array.from(
        tf
          .grad(f)(tf.tensor4d(x, [2, 7, 6, 8]))
          .dataSync(),
      );
    });
  const want = await onCpu(grad);
  const got = grad();
  const err = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
  const scale = Math.max(...want.map(Math.abs));
  assert.ok(err / scale < 1e-4, `off by ${err} (scale ${scale})`);
});
