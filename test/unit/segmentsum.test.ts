/**
 * d2l's UnsortedSegmentSum (lib/kernels/segmentSum.ts), the gradient of
 * tf.gather and so of every embedding layer: values against sums worked out
 * by hand, on wasm (where it replaces the cpu kernel run on a copy) and on
 * cpu (where it replaces tfjs' per-segment loop). This file's process runs on
 * wasm, then switches to cpu.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { useBackend } from "../../lib/backend";
import { isD2lKernel } from "../../lib/kernels";

function near(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `at ${i}: ${actual[i]} != ${expected[i]}`);
}

for (const backend of ["wasm", "cpu"] as const) {
  describe(`UnsortedSegmentSum on ${backend}`, () => {
    test("is d2l's, and sums rows into their segments (by hand)", async () => {
      await useBackend(backend);
      assert.equal(tf.getBackend(), backend);
      assert.ok(isD2lKernel("UnsortedSegmentSum", backend));
      const x = tf.tensor2d([
        [1, 2],
        [3, 4],
        [5, 6],
        [7, 8],
      ]);
      // rows 0 and 2 into segment 1, row 1 into segment 0, row 3 (id 5) is outside 0..2 and dropped
      const s = tf.unsortedSegmentSum(x, tf.tensor1d([1, 0, 1, 5], "int32"), 3);
      assert.deepEqual(s.shape, [3, 2]);
      near(await s.data(), [3, 4, 6, 8, 0, 0]);
      const si = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3], "int32"), tf.tensor1d([2, 2, 0], "int32"), 3);
      assert.equal(si.dtype, "int32");
      assert.deepEqual(Array.from(await si.data()), [3, 0, 3]);
      tf.dispose([x, s, si]);
    });

    test("the gradient of an embedding lookup (gather) equals the one-hot matrix product's", async () => {
      await useBackend(backend);
      const W = tf.tensor2d(Array.from({ length: 12 }, (_, i) => i / 7), [6, 2]);
      const ids = tf.tensor1d([0, 3, 3, 5, 0, 0], "int32");
      const coef = tf.tensor2d(Array.from({ length: 12 }, (_, i) => (i % 5) - 2), [6, 2]);
      const g1 = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.gather(w, ids), coef)))(W);
      const g2 = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.oneHot(ids, 6).toFloat(), w), coef)))(W);
      near(await g1.data(), Array.from(await g2.data()));
      // row 0 of W is looked up at positions 0, 4 and 5: its gradient is the sum of those rows of coef
      const c = Array.from(await coef.data());
      near((await g1.data()).slice(0, 2), [c[0] + c[8] + c[10], c[1] + c[9] + c[11]]);
      tf.dispose([W, ids, coef, g1, g2]);
    });
  });
}
