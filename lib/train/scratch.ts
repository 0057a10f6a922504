/**
 * The book's from-scratch pieces (chapters 3.2–3.6): linear regression, the
 * squared loss, softmax, cross-entropy, accuracy, and minibatch SGD. Only the
 * book's code lives here; the gradient slots that let `sgd(params, lr,
 * batchSize)` read gradients as the book's `param.grad` are in `grads.ts`.
 */
import * as tf from "@tensorflow/tfjs";
import { type Param, variableOf, shapeStr, checkClassLabels } from "./types";
import { correctCount } from "./evaluate";
import { gradOf, clearGrad } from "./grads";

/**
 * The linear regression model (the book's `linreg`): `X w + b`.
 *
 * @example
 * const w = tf.variable(tf.randomNormal([2, 1], 0, 0.01));
 * const b = tf.variable(tf.zeros([1]));
 * const yHat = d2l.linreg(tf.ones([4, 2]), w, b); // shape [4, 1]
 */
export function linreg(X: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (X.rank !== 2 || w.rank !== 2 || X.shape[1] !== w.shape[0]) {
    throw new Error(`linreg(X, w, b) expects X of shape [n, d] and w of shape [d, 1]; got X ${shapeStr(X.shape)} and w ${shapeStr(w.shape)}`);
  }
  return tf.tidy(() => tf.add(tf.matMul(X, w), b));
}

/**
 * The squared loss of every example (the book's `squared_loss`):
 * `(yHat - y.reshape(yHat.shape))² / 2`.
 *
 * @example
 * d2l.squaredLoss(tf.tensor2d([[1], [3]]), tf.tensor1d([0, 1])) // [[0.5], [2]]
 */
export function squaredLoss(yHat: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (yHat.size !== y.size) {
    throw new Error(
      `squaredLoss(yHat, y): yHat has shape ${shapeStr(yHat.shape)} (${yHat.size} values) but y has shape ${shapeStr(y.shape)} (${y.size} values); they must hold as many values`,
    );
  }
  return tf.tidy(() => tf.div(tf.square(tf.sub(yHat, tf.reshape(y, yHat.shape))), 2));
}

/**
 * Softmax over each row (the book's from-scratch `softmax`):
 * `exp(X) / exp(X).sum(1, keepdims)`. Like the book's, it does not guard
 * against overflow for large inputs; `tf.softmax` does.
 *
 * @example
 * d2l.softmax(tf.tensor2d([[1, 2, 3]])).sum(1) // [1]
 */
export function softmax(X: tf.Tensor): tf.Tensor {
  if (X.rank !== 2) throw new Error(`softmax(X) expects a matrix [examples, classes], got shape ${shapeStr(X.shape)}`);
  return tf.tidy(() => {
    const XExp = tf.exp(X);
    const partition = tf.sum(XExp, 1, true);
    return tf.div(XExp, partition); // broadcasting
  });
}

/**
 * The cross-entropy loss of every example (the book's `cross_entropy`):
 * `-log(yHat[i, y[i]])`, for predicted probabilities `yHat` `[n, q]` and class
 * indices `y` `[n]` (int32; float labels are cast).
 *
 * @example
 * const y = tf.tensor1d([0, 2], "int32");
 * const yHat = tf.tensor2d([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]);
 * d2l.crossEntropy(yHat, y) // [2.303, 0.693]
 */
export function crossEntropy(yHat: tf.Tensor, y: tf.Tensor): tf.Tensor {
  checkClassLabels("crossEntropy", yHat, y);
  return tf.tidy(() => {
    const idx = tf.cast(tf.reshape(y, [-1]), "int32");
    const picked = tf.sum(tf.mul(yHat, tf.oneHot(idx, yHat.shape[1] as number)), 1);
    return tf.neg(tf.log(picked));
  });
}

/**
 * The number of correct predictions (the book's `accuracy`): the arg max of
 * each row of `yHat` against the class indices `y`. Divide by the number of
 * examples for the fraction. The count is read with `await` (the book's
 * `float(...)`), so it works on every backend, webgpu included.
 *
 * @example
 * const y = tf.tensor1d([0, 2], "int32");
 * const yHat = tf.tensor2d([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]);
 * (await d2l.accuracy(yHat, y)) / 2 // 0.5
 */
export async function accuracy(yHat: tf.Tensor, y: tf.Tensor): Promise<number> {
  const c = correctCount(yHat, y);
  try {
    return (await c.data())[0];
  } finally {
    c.dispose();
  }
}

/**
 * Minibatch stochastic gradient descent (the book's `sgd`):
 * `param -= lr * grad / batchSize` for every parameter.
 *
 * Two forms:
 * - `sgd(params, lr, batchSize)` — the book's: uses the gradients that
 *   {@link backward} or the training engine stored for `params` (the
 *   engine does so for a function updater `(batchSize) => d2l.sgd(...)`), then
 *   clears them (the book's `grad.zero_()`).
 * - `sgd(params, grads, lr, batchSize)` — with gradients in hand, from
 *   `tf.variableGrads` (an object by variable name) or an array in the order
 *   of `params`; the caller keeps ownership of `grads`.
 *
 * @example
 * // the book's updater for trainCh3:
 * const updater = (batchSize: number) => d2l.sgd([W, b], 0.1, batchSize);
 * // with tf.variableGrads:
 * tf.tidy(() => {
 *   const { grads } = tf.variableGrads(() => d2l.squaredLoss(d2l.linreg(X, w, b), y).sum() as tf.Scalar, [w, b]);
 *   d2l.sgd([w, b], grads, 0.03, 10);
 * });
 */
export function sgd(params: Param[], lr: number, batchSize: number): void;
export function sgd(params: Param[], grads: tf.NamedTensorMap | tf.Tensor[], lr: number, batchSize: number): void;
export function sgd(params: Param[], a: number | tf.NamedTensorMap | tf.Tensor[], b: number, c?: number): void {
  const explicit = typeof a !== "number";
  const lr = explicit ? b : a;
  const batchSize = explicit ? (c as number) : b;
  if (!Number.isFinite(lr)) throw new Error(`sgd: expected a learning rate (a number), got ${lr}`);
  if (!Number.isFinite(batchSize) || batchSize <= 0) throw new Error(`sgd: expected a positive batch size, got ${batchSize}`);
  if (!Array.isArray(params)) throw new Error("sgd: expected params to be an array of tf.Variable, e.g. sgd([W, b], lr, batchSize)");
  const vars = params.map(variableOf);
  const grads: tf.Tensor[] = vars.map((v, i) => {
    let g: tf.Tensor | null | undefined;
    if (!explicit) g = gradOf(v);
    else if (Array.isArray(a)) g = a[i];
    else g = (a as tf.NamedTensorMap)[v.name];
    if (g == null) {
      throw new Error(
        explicit
          ? `sgd: no gradient given for parameter ${i} (${v.name}, shape ${shapeStr(v.shape)})`
          : `sgd: parameter ${i} (${v.name}, shape ${shapeStr(v.shape)}) has no gradient; compute one first with d2l.backward(() => loss.sum(), params), ` +
              `or let trainCh3 call this updater, or pass the gradients: sgd(params, grads, lr, batchSize)`,
      );
    }
    if (g.size !== v.size) throw new Error(`sgd: the gradient of parameter ${i} (${v.name}) has shape ${shapeStr(g.shape)} but the parameter has shape ${shapeStr(v.shape)}`);
    return g;
  });
  tf.tidy(() => {
    vars.forEach((v, i) => v.assign(tf.sub(v, tf.mul(tf.reshape(grads[i], v.shape), lr / batchSize))));
  });
  if (!explicit) vars.forEach(clearGrad);
}
