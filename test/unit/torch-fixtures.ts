/**
 * Reading the PyTorch reference fixtures (test/fixtures/torch/<topic>.json, written by the
 * committed <topic>.py scripts) in the unit tests: tensors as { shape, dtype, data }, and the
 * largest difference of a result from one.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";

/** A tensor as the fixture scripts write it. */
export interface FixtureTensor {
  shape: number[];
  dtype: "float32" | "int32";
  data: number[];
}

/** An expected value: a scalar, or a tensor's shape and values. */
export type FixtureValue = number | { shape: number[]; data: number[] };

/** The tensor a fixture describes. */
export function tensorOf(s: FixtureTensor): tf.Tensor {
  return tf.tensor(s.data, s.shape, s.dtype);
}

/**
 * Largest |got - want| (with `relative`, |got - want| / max(1, |want|)), after checking the
 * shape; a value that is not finite fails with its index.
 */
export function maxDiff(got: tf.Tensor, want: FixtureValue, what: string, relative = false): number {
  const wantShape = typeof want === "number" ? [] : want.shape;
  const wantData = typeof want === "number" ? [want] : want.data;
  assert.deepEqual(got.shape, wantShape, `${what}: shape`);
  const g = got.dataSync();
  let worst = 0;
  wantData.forEach((w, i) => {
    assert.ok(Number.isFinite(g[i]), `${what}: value ${i} is ${g[i]} (want ${w})`);
    const d = Math.abs(g[i] - w);
    worst = Math.max(worst, relative ? d / Math.max(1, Math.abs(w)) : d);
  });
  return worst;
}
