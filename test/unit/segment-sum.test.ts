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
    const x = tf.tensor2d([[1, 2], [10, 20], [100, 200], [5, 6], [7, 8]]);
    const ids = tf.tensor1d([2, 0, 2, -1, 4], "int32");
    const out = tf.unsortedSegmentSum(x, ids, 4);
    assert.deepEqual(out.shape, [4, 2], tf.getBackend());
    assert.deepEqual(out.arraySync(), [[10, 20], [0, 0], [101, 202], [0, 0]], tf.getBackend());
    // x of rank 3: rows are [2, 2] blocks
    const x3 = tf.tensor3d([[[1, 1], [2, 2]], [[3, 3], [4, 4]], [[5, 5], [6, 6]]]);
    const ids2 = tf.tensor1d([1, 0, 1], "int32");
    assert.deepEqual(tf.unsortedSegmentSum(x3, ids2, 2).arraySync(), [[[3, 3], [4, 4]], [[6, 6], [8, 8]]], tf.getBackend());
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
    const ids = tf.tensor2d([[3, 7, 3], [19999, 3, 0]], [2, 3], "int32");
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
    assert.equal(tf.tidy(() => counts.sum().dataSync()[0]), 6);
    // tfjs's cpu kernel runs one equal/multiply/sum per segment: seconds for 20,000 segments
    assert.ok(ms < 2000, `the gradient took ${ms} ms on ${tf.getBackend()}`);
    tf.dispose([g, counts]);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([table, ids]);
  });
});
