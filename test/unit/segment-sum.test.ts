/**
 * d2l's UnsortedSegmentSum (lib/kernels/segmentSum.ts), the gradient of
 * gather and so of every embedding layer: on wasm and cpu it gives
 * TensorFlow's sums (repeated ids add up, out-of-range ids are dropped, rows
 * of any rank), it is d2l's kernel and not tfjs cpu's loop over segments, and
 * an embedding's gradient over a 20,000-word vocabulary takes milliseconds.
 * This file's process runs on wasm (node --test gives each file its own).
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { useBackend } from "../../lib/backend";
import { isD2lKernel } from "../../lib/kernels";

before(async () => {
  await useBackend("wasm");
});

async function onBoth(f: () => void | Promise<void>): Promise<void> {
  for (const b of ["wasm", "cpu"]) {
    await tf.setBackend(b);
    try {
      await f();
    } finally {
      await tf.setBackend("wasm");
    }
  }
}

test("UnsortedSegmentSum is d2l's on wasm and cpu", () => {
  assert.ok(isD2lKernel("UnsortedSegmentSum", "wasm"));
  assert.ok(isD2lKernel("UnsortedSegmentSum", "cpu"));
});

test("sums rows into their segments; repeated ids add up, out-of-range ids are dropped", async () => {
  await onBoth(() => {
    const x = tf.tensor2d([
      [1, 2],
      [10, 20],
      [100, 200],
      [5, 6],
      [7, 8],
    ]);
    const ids = tf.tensor1d([2, 0, 2, -1, 4], "int32");
    const out = tf.unsortedSegmentSum(x, ids, 4);
    assert.deepEqual(out.shape, [4, 2], tf.getBackend());
    assert.deepEqual(
      out.arraySync(),
      [
        [10, 20],
        [0, 0],
        [101, 202],
        [0, 0],
      ],
      tf.getBackend(),
    );
    // x of rank 3: rows are [2, 2] blocks
    const x3 = tf.tensor3d([
      [
        [1, 1],
        [2, 2],
      ],
      [
        [3, 3],
        [4, 4],
      ],
      [
        [5, 5],
        [6, 6],
      ],
    ]);
    const ids2 = tf.tensor1d([1, 0, 1], "int32");
    assert.deepEqual(
      tf.unsortedSegmentSum(x3, ids2, 2).arraySync(),
      [
        [
          [3, 3],
          [4, 4],
        ],
        [
          [6, 6],
          [8, 8],
        ],
      ],
      tf.getBackend(),
    );
    // int32 values
    assert.deepEqual(tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3], "int32"), tf.tensor1d([0, 0, 1], "int32"), 3).arraySync(), [3, 3, 0]);
    tf.dispose([x, ids, out, x3, ids2]);
  });
});

test("the gradient of an embedding lookup counts each id's uses, quickly, and frees what it makes", async () => {
  await onBoth(() => {
    const V = 20000;
    const E = 16;
    const table = tf.variable(tf.zeros([V, E]));
    const ids = tf.tensor2d(
      [
        [3, 7, 3],
        [19999, 3, 0],
      ],
      [2, 3],
      "int32",
    );
    const before = tf.memory().numTensors;
    const started = Date.now();
    const g = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.gather(t, ids.reshape([-1])).sum())(table));
    const ms = Date.now() - started;
    const counts = tf.tidy(() => g.sum(1).div(E));
    const c = counts.dataSync();
    assert.equal(c[3], 3, tf.getBackend());
    assert.equal(c[7], 1);
    assert.equal(c[0], 1);
    assert.equal(c[19999], 1);
    assert.equal(c[1], 0);
    assert.equal(
      tf.tidy(() => counts.sum().dataSync()[0]),
      6,
    );
    // tfjs's cpu kernel runs one equal/multiply/sum per segment: seconds for 20,000 segments
    assert.ok(ms < 2000, `the gradient took ${ms} ms on ${tf.getBackend()}`);
    tf.dispose([g, counts]);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([table, ids]);
  });
});

function near(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `at ${i}: ${actual[i]} != ${expected[i]}`);
}

test("sums by hand: rows 0 and 2 into segment 1, row 1 into 0, an id past the end dropped; int32 stays int32", async () => {
  await onBoth(async () => {
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ]);
    const s = tf.unsortedSegmentSum(x, tf.tensor1d([1, 0, 1, 5], "int32"), 3);
    assert.deepEqual(s.shape, [3, 2]);
    near(await s.data(), [3, 4, 6, 8, 0, 0]);
    const si = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3], "int32"), tf.tensor1d([2, 2, 0], "int32"), 3);
    assert.equal(si.dtype, "int32");
    assert.deepEqual(Array.from(await si.data()), [3, 0, 3]);
    tf.dispose([x, s, si]);
  });
});

test("the gradient of an embedding lookup (gather) equals the one-hot matrix product's", async () => {
  await onBoth(async () => {
    const W = tf.tensor2d(
      Array.from({ length: 12 }, (_, i) => i / 7),
      [6, 2],
    );
    const ids = tf.tensor1d([0, 3, 3, 5, 0, 0], "int32");
    const coef = tf.tensor2d(
      Array.from({ length: 12 }, (_, i) => (i % 5) - 2),
      [6, 2],
    );
    const g1 = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.gather(w, ids), coef)))(W);
    const g2 = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.oneHot(ids, 6).toFloat(), w), coef)))(W);
    near(await g1.data(), Array.from(await g2.data()));
    // row 0 of W is looked up at positions 0, 4 and 5: its gradient is the sum of those rows of coef
    const c = Array.from(await coef.data());
    near((await g1.data()).slice(0, 2), [c[0] + c[8] + c[10], c[1] + c[9] + c[11]]);
    tf.dispose([W, ids, coef, g1, g2]);
  });
});
