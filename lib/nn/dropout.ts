/**
 * Dropout whose random mask is drawn by a kernel, so that `d2l.compileStep`
 * can replay it (issue 21).
 *
 * tfjs' `tf.dropout` draws its uniform numbers in JavaScript and hands them to
 * the engine as a new constant tensor; a replayed step would reuse one mask
 * forever, so `compileStep` refuses such a step. `d2l.dropout` computes the
 * same thing, `x * floor(u + keep) / keep` with `u` uniform in [0, 1), but
 * draws `u` in the kernel `D2lRandomUniform`, which a replay runs again. It
 * draws exactly as `tf.randomUniform` does (one `Math.random()` seeds an alea
 * generator), so with `d2l.seed` it gives `tf.dropout`'s masks, number for
 * number.
 */
import * as tf from "@tensorflow/tfjs";
import seedrandom from "seedrandom";

/** The kernel's name: uniform float32 numbers in [0, 1) of `attrs.shape`, no inputs. */
export const RANDOM_UNIFORM_KERNEL = "D2lRandomUniform";

interface WritableBackend {
  write(values: Float32Array, shape: number[], dtype: tf.DataType): object;
}

function drawUniform({ attrs, backend }: { attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const shape = (attrs?.shape ?? []) as number[];
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  // As tfjs' randomUniform: a fresh alea generator seeded with one Math.random() (d2l.seed makes it repeat).
  const random = seedrandom.alea(Math.random().toString());
  for (let i = 0; i < size; i++) values[i] = random();
  const dataId = (backend as WritableBackend).write(values, shape, "float32");
  return { dataId, shape, dtype: "float32" };
}

/** Register the kernel on the current backend when it is not there yet. */
function ensureKernel(): void {
  const backendName = tf.getBackend();
  if (tf.getKernel(RANDOM_UNIFORM_KERNEL, backendName) !== undefined) return;
  tf.registerKernel({ kernelName: RANDOM_UNIFORM_KERNEL, backendName, kernelFunc: drawUniform as unknown as tf.KernelFunc });
}

/**
 * Uniform random numbers in [0, 1) of `shape`, drawn by a kernel (so a
 * compiled step draws new ones every step), as `tf.randomUniform(shape)`.
 *
 * @example
 * d2l.seed(0);
 * const u = randomUniform([2, 3]); // the numbers tf.randomUniform([2, 3]) gives after d2l.seed(0)
 */
export function randomUniform(shape: number[]): tf.Tensor {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`randomUniform: the shape must be an array of whole numbers >= 0, got ${JSON.stringify(shape)}`);
  }
  ensureKernel();
  return tf.engine().runKernel(RANDOM_UNIFORM_KERNEL, {}, { shape: shape.slice() }) as tf.Tensor;
}

/**
 * Dropout (d2l.ai 5.6, `dropout_layer`): in training, each element of `X` is
 * zeroed with probability `rate` and the rest are scaled by `1 / (1 - rate)`;
 * the same numbers as `tf.dropout(X, rate)` under the same `d2l.seed`, with
 * the mask drawn by a kernel so that `d2l.compileStep` can replay a step that
 * uses it. `rate` 0 returns a copy of `X`.
 *
 * @example
 * const H = tf.ones([2, 4]);
 * d2l.dropout(H, 0.5); // each element 0 or 2
 */
export function dropout(X: tf.Tensor, rate: number): tf.Tensor {
  if (!(typeof rate === "number" && rate >= 0 && rate < 1)) throw new Error(`dropout: the rate must be a number in [0, 1), got ${rate}`);
  if (X.dtype !== "float32") throw new Error(`dropout: X must be float32 (it is scaled), got ${X.dtype}; cast it with X.toFloat()`);
  if (rate === 0) return X.clone();
  const keep = 1 - rate;
  return tf.tidy(() => tf.mul(X, tf.div(tf.floor(tf.add(randomUniform(X.shape), keep)), keep)));
}
