/**
 * The book's from-scratch pieces (chapters 3.2–3.6): linear regression, the
 * squared loss, softmax, cross-entropy, accuracy, and minibatch SGD.
 *
 * Gradients. PyTorch keeps a parameter's gradient on the parameter
 * (`w.grad`), filled by `l.sum().backward()` and read by `sgd`. tfjs has no
 * such slot: gradients are values returned by `tf.variableGrads`. d2l-ts keeps
 * the book's shape of the code anyway: {@link backward} (and the training
 * engine, for a function updater) stores each variable's gradient in a slot
 * beside it, and {@link sgd} `(params, lr, batchSize)` reads the slot, updates
 * the parameter and clears the slot (the book's `param.grad.zero_()`). Code
 * that has the gradients in hand passes them: `sgd(params, grads, lr, batchSize)`.
 */
import * as tf from "@tensorflow/tfjs";
import { type Param, variableOf, shapeStr } from "./types";

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
    throw new Error(`squaredLoss(yHat, y): yHat has shape ${shapeStr(yHat.shape)} (${yHat.size} values) but y has shape ${shapeStr(y.shape)} (${y.size} values); they must hold as many values`);
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

function checkClassLabels(fn: string, yHat: tf.Tensor, y: tf.Tensor): void {
  if (yHat.rank !== 2) {
    throw new Error(`${fn}(yHat, y) expects yHat of shape [examples, classes], got ${shapeStr(yHat.shape)}`);
  }
  if (y.rank === 2 && y.shape[1] === yHat.shape[1] && yHat.shape[1] !== 1) {
    throw new Error(`${fn}(yHat, y): y has shape ${shapeStr(y.shape)}, which looks one-hot; pass class indices of shape [${yHat.shape[0]}] (e.g. y.argMax(1))`);
  }
  if (y.size !== yHat.shape[0] || (y.rank !== 1 && !(y.rank === 2 && y.shape[1] === 1))) {
    throw new Error(`${fn}(yHat, y): yHat has shape ${shapeStr(yHat.shape)} but y has shape ${shapeStr(y.shape)}; expected y of shape [${yHat.shape[0]}] (one class index per example)`);
  }
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
 * The number of correct predictions as a scalar tensor, for code that keeps
 * sums on the device and reads them once.
 */
export function correctCount(yHat: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    let pred: tf.Tensor;
    if (yHat.rank > 1 && (yHat.shape[1] as number) > 1) {
      checkClassLabels("accuracy", yHat, y);
      pred = tf.argMax(yHat, 1);
    } else {
      if (yHat.size !== y.size) {
        throw new Error(`accuracy(yHat, y): yHat has shape ${shapeStr(yHat.shape)} but y has shape ${shapeStr(y.shape)}; expected one prediction per label`);
      }
      pred = tf.reshape(yHat, [-1]);
    }
    const cmp = tf.equal(tf.cast(pred, y.dtype), tf.reshape(y, [-1]));
    return tf.sum(tf.cast(cmp, "float32")) as tf.Scalar;
  });
}

/**
 * The number of correct predictions (the book's `accuracy`): the arg max of
 * each row of `yHat` against the class indices `y`. Divide by the number of
 * examples for the fraction. It reads the count synchronously, as the book's
 * `float(...)` does (on the webgpu backend use {@link evaluateAccuracy}, which reads asynchronously).
 *
 * @example
 * const y = tf.tensor1d([0, 2], "int32");
 * const yHat = tf.tensor2d([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]);
 * d2l.accuracy(yHat, y) / 2 // 0.5
 */
export function accuracy(yHat: tf.Tensor, y: tf.Tensor): number {
  const c = correctCount(yHat, y);
  try {
    return c.dataSync()[0];
  } finally {
    c.dispose();
  }
}

// --- gradient slots: the tfjs stand-in for torch's `param.grad` ---

const gradSlots = new WeakMap<tf.Variable, tf.Tensor>();

/** Store `grad` as the gradient of `v` (replacing, and disposing, an older one). */
export function setGrad(v: tf.Variable, grad: tf.Tensor): void {
  const old = gradSlots.get(v);
  if (old && old !== grad) old.dispose();
  gradSlots.set(v, grad);
}

/** The stored gradient of `v`, if any. */
export function gradOf(p: Param): tf.Tensor | undefined {
  return gradSlots.get(variableOf(p));
}

/** Dispose and forget the stored gradient of `v`. */
export function clearGrad(v: tf.Variable): void {
  const g = gradSlots.get(v);
  if (g) {
    g.dispose();
    gradSlots.delete(v);
  }
}

/**
 * Compute the gradients of the scalar `f()` with respect to `params` and store
 * them beside the parameters, where {@link sgd} `(params, lr, batchSize)`
 * finds them: the book's `l.sum().backward()`. Like PyTorch, gradients add up
 * until `sgd` uses (and clears) them. Without `params`, every trainable
 * variable `f` uses gets a gradient. Like PyTorch's, it returns nothing (read
 * the loss yourself if you need it: nothing is read back from the device here).
 *
 * @example
 * for await (const [X, y] of dataIter) {
 *   d2l.backward(() => d2l.squaredLoss(d2l.linreg(X, w, b), y).sum(), [w, b]);
 *   d2l.sgd([w, b], lr, batchSize);
 *   X.dispose(); y.dispose();
 * }
 */
export function backward(f: () => tf.Tensor, params?: Param[]): void {
  const vars = params ? params.map(variableOf) : trainableVariables();
  if (vars.length === 0) throw new Error("backward(f): there are no trainable variables; create parameters with tf.variable(...)");
  const { value, grads } = gradientsOrClean(
    () => {
      const v = f();
      if (!(v instanceof tf.Tensor) || v.rank !== 0) {
        throw new Error(`backward(f): f must return a scalar tensor (e.g. l.sum()), got ${v instanceof tf.Tensor ? `shape ${shapeStr(v.shape)}` : typeof v}`);
      }
      return v;
    },
    vars,
  );
  try {
    if (grads.every((g) => g == null)) throw noConnection();
    vars.forEach((v, i) => {
      const g = grads[i];
      if (g == null) return;
      const old = gradSlots.get(v);
      if (old) {
        gradSlots.set(v, tf.add(old, g));
        old.dispose();
        g.dispose();
      } else {
        gradSlots.set(v, g);
      }
    });
  } finally {
    value.dispose();
  }
}

interface TapeState {
  gradientDepth: number;
  activeTape: { saved?: tf.Tensor[] }[] | null;
}

/**
 * `tf.engine().gradients(...)`, and when `f` throws, also dispose the tensors
 * the gradient tape saved for the backward pass (tfjs keeps them otherwise,
 * a leak per failed batch).
 */
export function gradientsOrClean(f: () => tf.Tensor, xs: tf.Variable[]): { value: tf.Tensor; grads: (tf.Tensor | null)[] } {
  try {
    return tf.engine().gradients(f, xs, undefined, true) as { value: tf.Tensor; grads: (tf.Tensor | null)[] };
  } catch (e) {
    const st = tf.engine().state as unknown as TapeState;
    if (st.gradientDepth === 0 && Array.isArray(st.activeTape)) {
      for (const node of st.activeTape) for (const t of node.saved ?? []) t.dispose();
      st.activeTape = null;
    }
    throw e;
  }
}

/** Every trainable variable tfjs knows. */
export function trainableVariables(): tf.Variable[] {
  return Object.values(tf.engine().registeredVariables).filter((v) => v.trainable);
}

/** The error for a loss that no trainable variable feeds into. */
export function noConnection(): Error {
  return new Error(
    "the loss does not depend on any trainable variable: create the net's parameters with tf.variable(...) and use them inside the net function (or pass them as params)",
  );
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
    if (!explicit) g = gradSlots.get(v);
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
