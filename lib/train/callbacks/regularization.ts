/**
 * L1 and L2 regularization on the engine's gradients, before the update.
 *
 * Two ways to regularize with the engine, both tested:
 * - these callbacks, which add the penalty's gradient to each weight's
 *   gradient (PyTorch's `weight_decay`, PaddlePaddle's `L1Decay`/`L2Decay`);
 * - tfjs' layer regularizers, `tf.layers.dense({ units: 10,
 *   kernelRegularizer: tf.regularizers.l1l2({ l1: 1e-4, l2: 1e-4 }) })`: the
 *   engine adds the model's `calculateLosses()` to the loss it
 *   differentiates, as `model.fit` does (Keras' convention: the penalty is
 *   `l1 Σ|w| + l2 Σw²`, so its gradient is `l1 sign(w) + 2 l2 w`). The
 *   reported training loss stays the data loss, as with these callbacks.
 *   One difference: at a weight exactly 0, tfjs' gradient of `|w|` is -1,
 *   PyTorch's (and {@link L1Decay}'s) 0.
 *
 * Which weights: by default every trained weight (a LayersModel's trainable
 * weights, or the engine's `params`), biases included, as PyTorch's
 * `weight_decay` and the usual `sum(p.abs().sum() for p in
 * net.parameters())` do; `{ biases: false }` leaves out the weights whose
 * name ends in `bias` (tfjs layers name theirs `<layer>/bias`), as the book's
 * section 4.5 decays `net[0].weight` only; `params` names the weights exactly.
 *
 * Among the callbacks they run in the order given: after a
 * `GradClippingCallback` placed before them, as PyTorch's `weight_decay` acts
 * in `optimizer.step()` after `clip_grad_norm_`.
 *
 * The coefficients apply to the gradient of the batch's *mean* loss (the
 * book's `l.mean().backward()`); where the engine differentiates the sum (a
 * function updater such as `d2l.sgd`, or `gradientOf: "sum"`), they are
 * scaled by the batch size, which is the same update.
 */
import * as tf from "@tensorflow/tfjs";
import type { Callback, TrainState } from "../callback";
import { type Param, isLayersModel, isOptimizer, variableOf } from "../types";

/** Options of {@link WeightDecay} and {@link L1Decay}. */
export interface RegularizationOptions {
  /** Regularize the biases too (default true, as PyTorch's `weight_decay`); false: only weights whose name does not end in `bias`. */
  biases?: boolean;
  /** The weights to regularize (default: a LayersModel's trainable weights, or the engine's params). */
  params?: Param[];
}

/** What both penalties share: which weights, and how the engine's gradients are scaled. */
abstract class GradientPenalty implements Callback {
  readonly biases: boolean;
  private readonly params: Param[] | undefined;

  constructor(
    who: string,
    what: string,
    readonly coefficient: number,
    opts: RegularizationOptions,
  ) {
    if (typeof coefficient !== "number" || !(coefficient >= 0) || !Number.isFinite(coefficient))
      throw new Error(`${who}: the coefficient must be a number >= 0 (${what}), got ${String(coefficient)}`);
    if (opts === null || typeof opts !== "object") throw new Error(`${who}: opts must be an options object, e.g. { biases: false }`);
    if (opts.params !== undefined && !Array.isArray(opts.params)) throw new Error(`${who}: params must be an array of variables (e.g. [W1, W2])`);
    this.biases = opts.biases ?? true;
    this.params = opts.params;
  }

  /** The penalty's gradient for weight `w` at coefficient `c`. */
  protected abstract term(w: tf.Variable, c: number): tf.Tensor;

  private targets(state: TrainState): { name: string; v: tf.Variable }[] {
    let list: Param[];
    if (this.params !== undefined) list = this.params;
    else if (isLayersModel(state.net)) list = state.net.trainableWeights as unknown as Param[];
    else if (state.engine.params !== undefined) list = state.engine.params;
    else return []; // a function net without params: the engine's gradients name every variable it found
    return list.map((p) => {
      const v = variableOf(p);
      const own = (p as { name?: unknown }).name;
      return { name: typeof own === "string" ? own : v.name, v };
    });
  }

  /** @internal */
  onAfterBackward(state: TrainState): void {
    const grads = state.grads;
    if (!grads || this.coefficient === 0) return;
    const byMean = isOptimizer(state.updater) && state.engine.gradientOf === "mean";
    const c = byMean ? this.coefficient : this.coefficient * state.batchSize;
    let targets = this.targets(state);
    if (targets.length === 0 && this.params === undefined) {
      const reg = tf.engine().registeredVariables;
      targets = Object.keys(grads)
        .filter((k) => reg[k] !== undefined)
        .map((k) => ({ name: k, v: reg[k] }));
    }
    for (const { name, v } of targets) {
      if (!this.biases && /bias$/i.test(name)) continue;
      const g = grads[v.name];
      if (g) grads[v.name] = tf.tidy(() => tf.add(g, this.term(v, c))); // the engine disposes the replaced gradient
    }
  }
}

/**
 * L2 weight decay as PyTorch's optimizers apply it (their `weight_decay`
 * argument): `grad += wd * w` before the update, the gradient of the penalty
 * `(wd / 2) Σ w²`. PaddlePaddle's `L2Decay(coeff)` is the same update, and
 * `d2l.L2Decay` is this class. The book's section 4.10 `train` uses it with
 * Adam. See the module notes for the weights it covers (biases too, unless
 * `biases: false`) and for tfjs' `kernelRegularizer`, which works with the
 * engine too.
 *
 * @example
 * await d2l.fit({ net, loss, updater: tf.train.adam(5), trainIter, numEpochs: 100, callbacks: [new d2l.WeightDecay(1e-4)] });
 * // the book's 4.5: decay the weights, not the bias
 * await d2l.fit({ net, loss, updater: tf.train.sgd(0.003), trainIter, numEpochs: 100, callbacks: [new d2l.WeightDecay(3, { biases: false })] });
 */
export class WeightDecay extends GradientPenalty {
  constructor(
    readonly wd: number,
    opts: RegularizationOptions = {},
  ) {
    super("WeightDecay", "the L2 coefficient", wd, opts);
  }

  protected term(w: tf.Variable, c: number): tf.Tensor {
    return tf.mul(w, c);
  }
}

/**
 * L1 regularization on the gradients: `grad += l1 * sign(w)` before the
 * update, the gradient of the penalty `l1 Σ|w|` (PyTorch's idiom `loss +
 * l1 * sum(p.abs().sum() for p in net.parameters())`; PaddlePaddle's
 * `L1Decay(coeff)`). `sign(0) = 0`, as PyTorch's gradient of `abs` at 0.
 * L1 pushes weights to exactly zero, so it makes sparse models, where L2
 * ({@link WeightDecay}) only shrinks them. See the module notes for the
 * weights it covers (biases too, unless `biases: false`) and for tfjs'
 * `kernelRegularizer: tf.regularizers.l1({ l1 })`, the same penalty as a
 * layer option.
 *
 * @example
 * await d2l.fit({ net, loss, updater: tf.train.sgd(0.05), trainIter, numEpochs: 10, callbacks: [new d2l.L1Decay(1e-3, { biases: false })] });
 */
export class L1Decay extends GradientPenalty {
  constructor(
    readonly l1: number,
    opts: RegularizationOptions = {},
  ) {
    super("L1Decay", "the L1 coefficient", l1, opts);
  }

  protected term(w: tf.Variable, c: number): tf.Tensor {
    return tf.mul(tf.sign(w), c);
  }
}

export { WeightDecay as L2Decay };
