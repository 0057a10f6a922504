/**
 * Regularization on the engine's gradients.
 */
import * as tf from "@tensorflow/tfjs";
import type { Callback, TrainState } from "../callback";
import { isLayersModel, variableOf } from "../types";

/**
 * L2 weight decay as PyTorch's optimizers apply it (their `weight_decay`
 * argument): `grad += wd * w` for every trained weight of a LayersModel,
 * before the update. The book's section 4.10 `train` uses it with Adam.
 *
 * @example
 * await d2l.fit({ net, loss, updater: tf.train.adam(5), trainIter, numEpochs: 100, callbacks: [new d2l.WeightDecay(1e-4)] });
 */
export class WeightDecay implements Callback {
  constructor(readonly wd: number) {
    if (typeof wd !== "number" || !(wd >= 0) || !Number.isFinite(wd)) throw new Error(`WeightDecay: wd must be a number >= 0 (the L2 coefficient), got ${String(wd)}`);
  }

  /** @internal */
  onAfterBackward(state: TrainState): void {
    const grads = state.grads;
    if (!grads || this.wd === 0 || !isLayersModel(state.net)) return;
    for (const w of state.net.trainableWeights) {
      const v = variableOf(w);
      const g = grads[v.name];
      if (g) grads[v.name] = tf.tidy(() => tf.add(g, tf.mul(v, this.wd))); // the engine disposes the old gradient
    }
  }
}
