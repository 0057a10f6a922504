/**
 * The linear-regression chapter's data helpers (sections 3.2-3.3):
 * `synthetic_data` and `load_array`.
 */
import * as tf from "@tensorflow/tfjs";
import { DataLoader, TensorDataset } from "./dataset";

/**
 * Generate `y = Xw + b + noise`: the book's `d2l.synthetic_data(w, b,
 * num_examples)`. `X` is standard normal with shape `[numExamples, d]` where
 * `d` is the length of `w`; the noise is normal with standard deviation 0.01;
 * `y` has shape `[numExamples, 1]`. Both tensors belong to the caller.
 *
 * @param w true weights, shape `[d]` or `[d, 1]`
 * @param b true bias
 * @param numExamples number of examples to generate
 * @param seed optional seed for reproducible data
 * @example
 * const trueW = tf.tensor1d([2, -3.4]);
 * const [features, labels] = d2l.syntheticData(trueW, 4.2, 1000);
 * features.shape; // [1000, 2]
 * labels.shape;   // [1000, 1]
 */
export function syntheticData(w: tf.Tensor, b: number, numExamples: number, seed?: number): [tf.Tensor2D, tf.Tensor2D] {
  if (!(w instanceof tf.Tensor)) throw new Error("syntheticData: w must be a tf.Tensor of shape [d] or [d, 1], e.g. tf.tensor1d([2, -3.4])");
  if (!(w.rank === 1 || (w.rank === 2 && w.shape[1] === 1))) {
    throw new Error(`syntheticData: w must have shape [d] or [d, 1], got [${w.shape.join(",")}]`);
  }
  if (typeof b !== "number" || !Number.isFinite(b)) throw new Error(`syntheticData: b must be a finite number, got ${String(b)}`);
  if (!Number.isInteger(numExamples) || numExamples < 0) {
    throw new Error(`syntheticData: numExamples must be a non-negative integer, got ${String(numExamples)}`);
  }
  const d = w.shape[0];
  return tf.tidy(() => {
    const X = tf.randomNormal([numExamples, d], 0, 1, "float32", seed);
    const noise = tf.randomNormal([numExamples, 1], 0, 0.01, "float32", seed === undefined ? undefined : seed + 1);
    const y = tf
      .matMul(X, w.reshape([d, 1]))
      .add(b)
      .add(noise);
    return [X, y] as [tf.Tensor2D, tf.Tensor2D];
  });
}

/**
 * A {@link DataLoader} over in-memory tensors: the book's
 * `d2l.load_array(data_arrays, batch_size, is_train=True)`. Shuffled when
 * `isTrain`. The loader does not own the tensors; dispose them yourself when
 * done.
 *
 * @param dataArrays `[X, y]` with the same first dimension
 * @param batchSize examples per minibatch
 * @param isTrain shuffle every epoch (default true)
 * @param options `seed` for a reproducible order, `dropLast` to drop a last smaller batch
 * @example
 * const [features, labels] = d2l.syntheticData(tf.tensor1d([2, -3.4]), 4.2, 1000);
 * const dataIter = d2l.loadArray([features, labels], 10);
 * for await (const [X, y] of dataIter) { console.log(X.shape, y.shape); tf.dispose([X, y]); break; }
 */
export function loadArray(
  dataArrays: [tf.Tensor, tf.Tensor],
  batchSize: number,
  isTrain = true,
  options: { seed?: number; dropLast?: boolean } = {},
): DataLoader<[tf.Tensor, tf.Tensor]> {
  if (!Array.isArray(dataArrays) || dataArrays.length !== 2) {
    throw new Error("loadArray: expected [X, y], an array of two tensors with the same first dimension");
  }
  return new DataLoader(new TensorDataset(dataArrays[0], dataArrays[1]), {
    batchSize,
    shuffle: isTrain,
    seed: options.seed,
    dropLast: options.dropLast,
  });
}
