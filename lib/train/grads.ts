/**
 * Gradients for the engine and for the book's from-scratch code.
 *
 * PyTorch keeps a parameter's gradient on the parameter (`w.grad`), filled by
 * `l.sum().backward()` and read by `sgd`. tfjs has no such slot: gradients are
 * values returned by `tf.variableGrads`. d2l-ts keeps the book's shape of the
 * code anyway: {@link backward} (and the training engine, for a function
 * updater) stores each variable's gradient in a slot beside it, and the book's
 * `sgd(params, lr, batchSize)` reads the slot, updates the parameter and clears
 * the slot (the book's `param.grad.zero_()`).
 */
import * as tf from "@tensorflow/tfjs";
import { type Param, variableOf, shapeStr } from "./types";

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
  const { value, grads } = gradientsOrClean(() => {
    const v = f();
    if (!(v instanceof tf.Tensor) || v.rank !== 0) {
      throw new Error(`backward(f): f must return a scalar tensor (e.g. l.sum()), got ${v instanceof tf.Tensor ? `shape ${shapeStr(v.shape)}` : typeof v}`);
    }
    return v;
  }, vars);
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
