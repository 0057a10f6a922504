/**
 * Gradient clipping: the book's `grad_clipping` (section 8.5) as a function,
 * and as a callback that clips every batch's gradients in the engine.
 */
import * as tf from "@tensorflow/tfjs";
import type { Callback, TrainState } from "../callback";
import { gradOf, setGrad } from "../grads";
import { type Param, isLayersModel, isOptimizer, variableOf } from "../types";

type Clippable = { readonly params: readonly Param[] } | tf.LayersModel;

/** `min(1, theta / ||g||)` over all gradients, as a scalar on the device. */
function clipScale(grads: readonly tf.Tensor[], theta: number): tf.Scalar {
  return tf.tidy(() => {
    const sq = grads.map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(sq.length === 1 ? sq[0] : tf.addN(sq));
    return tf.minimum(tf.scalar(1), tf.div(tf.scalar(theta), norm)) as tf.Scalar;
  });
}

function checkTheta(theta: number): void {
  if (typeof theta !== "number" || !(theta > 0)) throw new Error(`gradClipping: theta must be a positive number (the largest gradient norm allowed), got ${String(theta)}`);
}

/**
 * Gradient clipping (the book's `grad_clipping`): when the norm of all
 * gradients together, `‖g‖ = sqrt(Σ g²)`, exceeds `theta`, scale every
 * gradient by `theta / ‖g‖` (so that the norm becomes `theta`); below `theta`
 * nothing changes. Computed on the device (no value is read back).
 *
 * - `gradClipping(grads, theta)`: grads as `tf.variableGrads` gives them (an
 *   object by name) or an array; returns new clipped tensors in the same
 *   form (the given ones stay the caller's).
 * - `gradClipping(net, theta)`: the book's form: clips, in place, the
 *   gradients `d2l.backward` stored for `net.params` (or a LayersModel's
 *   trainable weights), which `d2l.sgd(net.params, lr, batchSize)` then uses.
 *
 * @example
 * const clipped = d2l.gradClipping([tf.tensor1d([3, 4]), tf.tensor1d([0, 12])], 1.3); // norm 13: scaled by 0.1
 * // the book's shape:
 * d2l.backward(() => loss.mean(), net.params);
 * d2l.gradClipping(net, 1);
 * d2l.sgd(net.params, lr, 1);
 */
export function gradClipping(grads: tf.NamedTensorMap, theta: number): tf.NamedTensorMap;
export function gradClipping(grads: tf.Tensor[], theta: number): tf.Tensor[];
export function gradClipping(net: Clippable, theta: number): void;
export function gradClipping(target: tf.NamedTensorMap | tf.Tensor[] | Clippable, theta: number): tf.NamedTensorMap | tf.Tensor[] | void {
  checkTheta(theta);
  if (Array.isArray(target)) {
    if (target.length === 0 || !target.every((g) => g instanceof tf.Tensor)) throw new Error("gradClipping(grads, theta): grads must be a non-empty array of tensors");
    return tf.tidy(() => {
      const s = clipScale(target, theta);
      return target.map((g) => tf.mul(g, s));
    });
  }
  if (target === null || typeof target !== "object") {
    throw new Error(`gradClipping: expected gradients (an array or an object of tensors) or a net with params, got ${target === null ? "null" : typeof target}`);
  }
  const params: readonly Param[] | undefined = isLayersModel(target)
    ? target.trainableWeights
    : Array.isArray((target as { params?: unknown }).params)
      ? (target as { params: readonly Param[] }).params
      : undefined;
  if (params !== undefined) {
    const vars = params.map(variableOf);
    const withGrad = vars.filter((v) => gradOf(v) !== undefined);
    if (withGrad.length === 0) {
      throw new Error("gradClipping(net, theta): none of net.params has a gradient; compute them first with d2l.backward(() => loss, net.params)");
    }
    const clipped = tf.tidy(() => {
      const grads = withGrad.map((v) => gradOf(v) as tf.Tensor);
      const s = clipScale(grads, theta);
      return grads.map((g) => tf.mul(g, s));
    });
    withGrad.forEach((v, i) => setGrad(v, clipped[i]));
    return;
  }
  const map = target as tf.NamedTensorMap;
  const names = Object.keys(map);
  if (names.length === 0 || !names.every((k) => map[k] instanceof tf.Tensor)) {
    throw new Error("gradClipping: expected gradients (an array or an object of tensors, as tf.variableGrads returns) or a net with params");
  }
  return tf.tidy(() => {
    const s = clipScale(
      names.map((k) => map[k]),
      theta,
    );
    const out: tf.NamedTensorMap = {};
    for (const k of names) out[k] = tf.mul(map[k], s);
    return out;
  });
}

/**
 * Clips the gradients of every batch to norm `theta` in the engine (the
 * book's `grad_clipping(net, theta)` between `backward()` and the update).
 * The threshold applies to the gradient of the batch's *mean* loss, as in
 * the book: with a function updater the engine's gradients are of the summed
 * loss (batch size times larger, see {@link Engine}), so they are clipped to
 * `theta * batchSize`, which is the same thing.
 *
 * @example
 * await d2l.fit({ net, loss, updater: tf.train.sgd(1), trainIter, callbacks: [new d2l.GradClippingCallback(1)] });
 */
export class GradClippingCallback implements Callback {
  constructor(readonly theta = 1) {
    checkTheta(theta);
  }

  /** @internal */
  onAfterBackward(state: TrainState): void {
    if (state.grads === undefined) return;
    const threshold = isOptimizer(state.updater) ? this.theta : this.theta * state.batchSize;
    state.grads = gradClipping(state.grads, threshold); // the engine disposes the old and the new
  }
}
