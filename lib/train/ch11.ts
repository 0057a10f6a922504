/**
 * The book's chapter 11 (optimization algorithms): the 2-D traces of
 * sections 11.3-11.4 (`train_2d`, `show_trace_2d`), the from-scratch
 * optimizers of sections 11.5-11.10 with their states (`sgd`, `sgd_momentum`,
 * `adagrad`, `rmsprop`, `adadelta`, `adam`, `yogi` and the `init_*_states`),
 * and the two airfoil trainers `train_ch11` and `train_concise_ch11`, thin
 * wrappers over the {@link Engine}. The data is `getDataCh11` (lib/data/airfoil.ts).
 *
 * The book's from-scratch optimizers read each parameter's gradient from
 * `p.grad`; tfjs variables have no such slot, so here they take the
 * gradients as a fourth argument, in the order of the parameters:
 * `trainer(params, states, hyperparams, grads)`. Everything else is the
 * book's: states updated in place (here `tf.Variable`s, assigned), the
 * hyperparameters a plain object (`{ lr: 0.01, t: 1 }`, Adam's `t` counted up
 * in it), gradients of the minibatch's *mean* loss.
 */
import * as tf from "@tensorflow/tfjs";
import { Figure, plotBundle, tryRenderPng } from "../plot/figure";
import { traceContourSpec } from "../plot/contour";
import { showSummary } from "../report";
import { quickEpochs, QUICK_EPOCHS } from "../quick";
import { Engine } from "./engine";
import type { Callback, TrainState } from "./callback";
import { linreg, squaredLoss } from "./scratch";
import { checkIter, unpackBatch } from "./evaluate";
import { makeAnimator, type AnimatorLike } from "./ui";
import { type DataIter, type Loss, type Net, forward, shapeStr } from "./types";

// ---------------------------------------------------------------------------
// 2-D traces (sections 11.3 and 11.4)

/** The gradient of a function of two variables, `(x1, x2) => [∂f/∂x1, ∂f/∂x2]`. */
export type Grad2d = (x1: number, x2: number) => [number, number];

/**
 * One step of a 2-D optimizer for {@link train2d}: from `(x1, x2)` and two
 * state values `(s1, s2)` (momentum, accumulated squares, ...) to the next
 * four. {@link train2d} passes `fGrad` when it was given one.
 */
export type Trainer2d = (x1: number, x2: number, s1: number, s2: number, fGrad: Grad2d) => [number, number, number, number];

/**
 * Run a 2-D optimizer from `(-5, -2)` for `steps` steps (the book's
 * `train_2d`, section 11.3): the states start at 0, each step is
 * `[x1, x2, s1, s2] = trainer(x1, x2, s1, s2, fGrad)` (without `fGrad` when
 * none is given). Prints the end point as the book does
 * (`epoch 20, x1: -0.057646, x2: -0.000073`) and returns the path, start included.
 *
 * @example
 * const f2dGrad = (x1: number, x2: number): [number, number] => [2 * x1, 4 * x2];
 * const eta = 0.1;
 * const gd2d = (x1: number, x2: number, s1: number, s2: number, fGrad: d2l.Grad2d): [number, number, number, number] => {
 *   const [g1, g2] = fGrad(x1, x2);
 *   return [x1 - eta * g1, x2 - eta * g2, 0, 0];
 * };
 * const results = d2l.train2d(gd2d, 20, f2dGrad); // epoch 20, x1: -0.057646, x2: -0.000073
 */
export function train2d(trainer: Trainer2d, steps = 20, fGrad?: Grad2d): [number, number][] {
  if (typeof trainer !== "function")
    throw new Error(`train2d(trainer, steps, fGrad): trainer must be a function (x1, x2, s1, s2, fGrad) => [x1, x2, s1, s2], got ${typeof trainer}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`train2d: steps must be a positive integer, got ${String(steps)}`);
  if (fGrad !== undefined && typeof fGrad !== "function") throw new Error(`train2d: fGrad must be a function (x1, x2) => [g1, g2], got ${typeof fGrad}`);
  let [x1, x2, s1, s2] = [-5, -2, 0, 0];
  const results: [number, number][] = [[x1, x2]];
  for (let i = 0; i < steps; i++) {
    const next = fGrad ? trainer(x1, x2, s1, s2, fGrad) : (trainer as (x1: number, x2: number, s1: number, s2: number) => [number, number, number, number])(x1, x2, s1, s2);
    if (!Array.isArray(next) || next.length !== 4 || !next.every((v) => typeof v === "number")) {
      throw new Error(`train2d: the trainer must return [x1, x2, s1, s2] (four numbers); at step ${i + 1} it returned ${JSON.stringify(next)}`);
    }
    [x1, x2, s1, s2] = next;
    results.push([x1, x2]);
  }
  console.log(`epoch ${steps}, x1: ${x1.toFixed(6)}, x2: ${x2.toFixed(6)}`);
  return results;
}

/** Options of {@link showTrace2d}. */
export interface ShowTrace2dOptions {
  /** Plot size in inches (default `[3.5, 2.5]`). */
  figsize?: [number, number];
  /** Contour levels (default: matplotlib's choice of about 8 round values). */
  levels?: number[];
}

/**
 * Plot a 2-D optimization path over the contour lines of `f` (the book's
 * `show_trace_2d`, section 11.3): contours on the book's grid x1 in
 * [-5.5, 1), x2 in [-3, 1) (step 0.1), the path as an orange line with dots.
 * Returns a figure that shows itself as a cell's last value (vega-lite, PNG, text).
 *
 * @example
 * const f2d = (x1: number, x2: number) => x1 ** 2 + 2 * x2 ** 2;
 * d2l.showTrace2d(f2d, d2l.train2d(gd2d, 20, f2dGrad));
 */
export function showTrace2d(f: (x1: number, x2: number) => number, results: readonly (readonly [number, number])[], options: ShowTrace2dOptions = {}): Figure {
  if (typeof f !== "function") throw new Error(`showTrace2d(f, results): f must be a function (x1, x2) => number, got ${typeof f}`);
  if (!Array.isArray(results) || !results.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === "number"))) {
    throw new Error("showTrace2d(f, results): results must be the path [[x1, x2], ...] that d2l.train2d returns");
  }
  const { spec, text } = traceContourSpec(f, results, { figsize: options.figsize, levels: options.levels });
  return new Figure(() => plotBundle(spec, tryRenderPng(spec), text), text, spec);
}

// ---------------------------------------------------------------------------
// From-scratch optimizers (sections 11.5-11.10)

/** The book's `hyperparams` dictionary: `{ lr: 0.01 }`, `{ lr: 0.01, momentum: 0.9 }`, `{ rho: 0.9 }`, `{ lr: 0.01, t: 1 }`. */
export type ScratchHyperparams = Record<string, number>;

/**
 * A from-scratch optimizer as chapter 11 writes them (`sgd_momentum`,
 * `adagrad`, ...): update `params` in place from their gradients `grads` (of
 * the minibatch's mean loss, in the order of `params`), its `states` and
 * `hyperparams`. The book's reads `p.grad`; here the gradients are the fourth argument.
 */
export type ScratchOptimizer<S, H extends ScratchHyperparams> = (params: tf.Variable[], states: S, hyperparams: H, grads: tf.Tensor[]) => void;

/** A tensor with a name, as `tf.Optimizer.getWeights()` returns them. */
type NamedTensor = { name: string; tensor: tf.Tensor };

/** Two state tensors per parameter (Adadelta's `(s, delta)`, Adam's `(v, s)`). */
export type ScratchPairStates = [tf.Variable, tf.Variable][];

function checkStep(who: string, params: tf.Variable[], grads: tf.Tensor[], states?: unknown[]): void {
  if (!Array.isArray(params) || !params.every((p) => p instanceof tf.Variable)) {
    throw new Error(`${who}(params, states, hyperparams, grads): params must be an array of tf.Variable, e.g. [w, b]`);
  }
  if (!Array.isArray(grads) || grads.length !== params.length || !grads.every((g) => g instanceof tf.Tensor)) {
    throw new Error(`${who}(params, states, hyperparams, grads): grads must be one gradient tensor per parameter (${params.length}), in the order of params`);
  }
  grads.forEach((g, i) => {
    if (g.size !== params[i].size)
      throw new Error(`${who}: the gradient of parameter ${i} has shape ${shapeStr(g.shape)} but the parameter has shape ${shapeStr(params[i].shape)}`);
  });
  if (states !== undefined && (!Array.isArray(states) || states.length !== params.length)) {
    throw new Error(`${who}: states must hold one entry per parameter (${params.length}); make them with the matching init function, e.g. d2l.initMomentumStates(featureDim)`);
  }
}

function hyper(who: string, hyperparams: ScratchHyperparams, name: string): number {
  const v = hyperparams?.[name];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${who}: hyperparams.${name} must be a number, got ${JSON.stringify(hyperparams)}`);
  return v;
}

function zerosLike(featureDim: number, who: string): [tf.Variable, tf.Variable] {
  if (!Number.isInteger(featureDim) || featureDim < 1)
    throw new Error(`${who}(featureDim): featureDim must be a positive integer (the number of features, 5 for the airfoil data), got ${String(featureDim)}`);
  return tf.tidy(() => [tf.variable(tf.zeros([featureDim, 1]), false), tf.variable(tf.zeros([1]), false)]);
}

/**
 * Minibatch SGD with the chapter-11 signature (the book's `sgd(params,
 * states, hyperparams)` of section 11.5): `p -= lr * grad`, where `grad` is
 * the gradient of the minibatch's mean loss (so no division by the batch
 * size). `states` is unused (the book passes `None`). Named `sgdCh11` because
 * chapter 3's `d2l.sgd(params, lr, batchSize)` has the name.
 *
 * @example
 * const [dataIter, featureDim] = await d2l.getDataCh11(10);
 * await d2l.trainCh11(d2l.sgdCh11, null, { lr: 0.05 }, dataIter, featureDim);
 */
export function sgdCh11(params: tf.Variable[], states: unknown, hyperparams: { lr: number }, grads: tf.Tensor[]): void {
  checkStep("sgdCh11", params, grads);
  const lr = hyper("sgdCh11", hyperparams, "lr");
  tf.tidy(() => params.forEach((p, i) => p.assign(p.sub(grads[i].reshape(p.shape).mul(lr)))));
}

/**
 * Zero momentum states `[v_w, v_b]` for a linear model with `featureDim`
 * inputs (the book's `init_momentum_states`, section 11.6).
 *
 * @example
 * const states = d2l.initMomentumStates(5); // shapes [5, 1] and [1]
 */
export function initMomentumStates(featureDim: number): [tf.Variable, tf.Variable] {
  return zerosLike(featureDim, "initMomentumStates");
}

/**
 * SGD with momentum from scratch (the book's `sgd_momentum`, section 11.6):
 * `v = momentum * v + g`, `p -= lr * v`.
 *
 * @example
 * await d2l.trainCh11(d2l.sgdMomentum, d2l.initMomentumStates(featureDim), { lr: 0.02, momentum: 0.5 }, dataIter, featureDim);
 */
export function sgdMomentum(params: tf.Variable[], states: tf.Variable[], hyperparams: { lr: number; momentum: number }, grads: tf.Tensor[]): void {
  checkStep("sgdMomentum", params, grads, states);
  const lr = hyper("sgdMomentum", hyperparams, "lr");
  const momentum = hyper("sgdMomentum", hyperparams, "momentum");
  tf.tidy(() =>
    params.forEach((p, i) => {
      const v = states[i];
      v.assign(v.mul(momentum).add(grads[i].reshape(v.shape)));
      p.assign(p.sub(v.mul(lr)));
    }),
  );
}

/**
 * Zero Adagrad states `[s_w, s_b]` (the book's `init_adagrad_states`, section 11.7).
 *
 * @example
 * const states = d2l.initAdagradStates(5);
 */
export function initAdagradStates(featureDim: number): [tf.Variable, tf.Variable] {
  return zerosLike(featureDim, "initAdagradStates");
}

/**
 * Adagrad from scratch (the book's `adagrad`, section 11.7): `s += g²`,
 * `p -= lr * g / sqrt(s + 1e-6)`.
 *
 * @example
 * await d2l.trainCh11(d2l.adagrad, d2l.initAdagradStates(featureDim), { lr: 0.1 }, dataIter, featureDim);
 */
export function adagrad(params: tf.Variable[], states: tf.Variable[], hyperparams: { lr: number }, grads: tf.Tensor[]): void {
  checkStep("adagrad", params, grads, states);
  const lr = hyper("adagrad", hyperparams, "lr");
  const eps = 1e-6;
  tf.tidy(() =>
    params.forEach((p, i) => {
      const s = states[i];
      const g = grads[i].reshape(p.shape);
      s.assign(s.add(g.square()));
      p.assign(p.sub(g.mul(lr).div(s.add(eps).sqrt())));
    }),
  );
}

/**
 * Zero RMSProp states `[s_w, s_b]` (the book's `init_rmsprop_states`, section 11.8).
 *
 * @example
 * const states = d2l.initRmspropStates(5);
 */
export function initRmspropStates(featureDim: number): [tf.Variable, tf.Variable] {
  return zerosLike(featureDim, "initRmspropStates");
}

/**
 * RMSProp from scratch (the book's `rmsprop`, section 11.8):
 * `s = gamma * s + (1 - gamma) * g²`, `p -= lr * g / sqrt(s + 1e-6)`.
 *
 * @example
 * await d2l.trainCh11(d2l.rmsprop, d2l.initRmspropStates(featureDim), { lr: 0.01, gamma: 0.9 }, dataIter, featureDim);
 */
export function rmsprop(params: tf.Variable[], states: tf.Variable[], hyperparams: { lr: number; gamma: number }, grads: tf.Tensor[]): void {
  checkStep("rmsprop", params, grads, states);
  const lr = hyper("rmsprop", hyperparams, "lr");
  const gamma = hyper("rmsprop", hyperparams, "gamma");
  const eps = 1e-6;
  tf.tidy(() =>
    params.forEach((p, i) => {
      const s = states[i];
      const g = grads[i].reshape(p.shape);
      s.assign(s.mul(gamma).add(g.square().mul(1 - gamma)));
      p.assign(p.sub(g.mul(lr).div(s.add(eps).sqrt())));
    }),
  );
}

/**
 * Zero Adadelta states `[[s_w, delta_w], [s_b, delta_b]]` (the book's
 * `init_adadelta_states`, section 11.9).
 *
 * @example
 * const states = d2l.initAdadeltaStates(5);
 */
export function initAdadeltaStates(featureDim: number): ScratchPairStates {
  const [sw, sb] = zerosLike(featureDim, "initAdadeltaStates");
  const [dw, db] = zerosLike(featureDim, "initAdadeltaStates");
  return [
    [sw, dw],
    [sb, db],
  ];
}

/**
 * Adadelta from scratch (the book's `adadelta`, section 11.9), with no
 * learning rate: `s = rho * s + (1 - rho) * g²`,
 * `g' = sqrt(delta + 1e-5) / sqrt(s + 1e-5) * g`, `p -= g'`,
 * `delta = rho * delta + (1 - rho) * g'²`.
 *
 * @example
 * await d2l.trainCh11(d2l.adadelta, d2l.initAdadeltaStates(featureDim), { rho: 0.9 }, dataIter, featureDim);
 */
export function adadelta(params: tf.Variable[], states: ScratchPairStates, hyperparams: { rho: number }, grads: tf.Tensor[]): void {
  checkStep("adadelta", params, grads, states);
  const rho = hyper("adadelta", hyperparams, "rho");
  const eps = 1e-5;
  tf.tidy(() =>
    params.forEach((p, i) => {
      const [s, delta] = states[i];
      const g = grads[i].reshape(p.shape);
      s.assign(s.mul(rho).add(g.square().mul(1 - rho)));
      const gPrime = delta.add(eps).sqrt().div(s.add(eps).sqrt()).mul(g);
      p.assign(p.sub(gPrime));
      delta.assign(delta.mul(rho).add(gPrime.square().mul(1 - rho)));
    }),
  );
}

/**
 * Zero Adam states `[[v_w, s_w], [v_b, s_b]]` (the book's `init_adam_states`,
 * section 11.10); Yogi uses them too.
 *
 * @example
 * const states = d2l.initAdamStates(5);
 */
export function initAdamStates(featureDim: number): ScratchPairStates {
  const [vw, vb] = zerosLike(featureDim, "initAdamStates");
  const [sw, sb] = zerosLike(featureDim, "initAdamStates");
  return [
    [vw, sw],
    [vb, sb],
  ];
}

function adamLike(who: string, params: tf.Variable[], states: ScratchPairStates, hyperparams: { lr: number; t: number }, grads: tf.Tensor[], eps: number, yogiStep: boolean): void {
  checkStep(who, params, grads, states);
  const lr = hyper(who, hyperparams, "lr");
  const t = hyper(who, hyperparams, "t");
  if (!(t >= 1)) throw new Error(`${who}: hyperparams.t counts the steps from 1 (the book starts it at { t: 1 }), got ${t}`);
  const [beta1, beta2] = [0.9, 0.999];
  tf.tidy(() =>
    params.forEach((p, i) => {
      const [v, s] = states[i];
      const g = grads[i].reshape(p.shape);
      v.assign(v.mul(beta1).add(g.mul(1 - beta1)));
      const g2 = g.square();
      if (yogiStep)
        s.assign(
          s.add(
            g2
              .sub(s)
              .sign()
              .mul(g2)
              .mul(1 - beta2),
          ),
        );
      else s.assign(s.mul(beta2).add(g2.mul(1 - beta2)));
      const vHat = v.div(1 - beta1 ** t);
      const sHat = s.div(1 - beta2 ** t);
      p.assign(p.sub(vHat.mul(lr).div(sHat.sqrt().add(eps))));
    }),
  );
  hyperparams.t = t + 1;
}

/**
 * Adam from scratch (the book's `adam`, section 11.10): `v = 0.9 v + 0.1 g`,
 * `s = 0.999 s + 0.001 g²`, bias-corrected `v̂ = v / (1 - 0.9^t)`,
 * `ŝ = s / (1 - 0.999^t)`, `p -= lr * v̂ / (sqrt(ŝ) + 1e-6)`; then
 * `hyperparams.t += 1`.
 *
 * @example
 * await d2l.trainCh11(d2l.adam, d2l.initAdamStates(featureDim), { lr: 0.01, t: 1 }, dataIter, featureDim);
 */
export function adam(params: tf.Variable[], states: ScratchPairStates, hyperparams: { lr: number; t: number }, grads: tf.Tensor[]): void {
  adamLike("adam", params, states, hyperparams, grads, 1e-6, false);
}

/**
 * Yogi from scratch (the book's `yogi`, section 11.10): Adam with the
 * second moment updated additively, `s = s + 0.001 * sign(g² - s) * g²`, and
 * `eps = 1e-3`; then `hyperparams.t += 1`. Uses {@link initAdamStates}.
 *
 * @example
 * await d2l.trainCh11(d2l.yogi, d2l.initAdamStates(featureDim), { lr: 0.01, t: 1 }, dataIter, featureDim);
 */
export function yogi(params: tf.Variable[], states: ScratchPairStates, hyperparams: { lr: number; t: number }, grads: tf.Tensor[]): void {
  adamLike("yogi", params, states, hyperparams, grads, 1e-3, true);
}

// ---------------------------------------------------------------------------
// The airfoil trainers (section 11.5)

/**
 * The updater `trainCh11` trains with: a `tf.Optimizer` that hands each
 * batch's gradients to a from-scratch optimizer. It carries the optimizer's
 * states for the engine's NaN rollback, and its `learningRate` reads and
 * writes `hyperparams.lr`, so a learning-rate schedule that works on
 * `state.updater` works on the book's trainers too.
 */
class ScratchUpdater<S, H extends ScratchHyperparams> extends tf.Optimizer {
  static get className(): string {
    return "D2lScratchUpdater";
  }

  constructor(
    private readonly fn: ScratchOptimizer<S, H>,
    private readonly params: tf.Variable[],
    private readonly states: S,
    private readonly hyperparams: H,
  ) {
    super();
  }

  /** `hyperparams.lr`. */
  get learningRate(): number {
    const lr = this.hyperparams.lr;
    return typeof lr === "number" ? lr : NaN;
  }

  set learningRate(lr: number) {
    this.setLearningRate(lr);
  }

  /** Set `hyperparams.lr` (what the from-scratch optimizer reads at its next step). */
  setLearningRate(lr: number): void {
    if (!(typeof lr === "number" && Number.isFinite(lr))) throw new Error(`setLearningRate: expected a finite number, got ${String(lr)}`);
    if (typeof this.hyperparams.lr !== "number") {
      throw new Error(
        `trainCh11: the hyperparameters ${JSON.stringify(this.hyperparams)} have no lr, so a learning-rate schedule has nothing to change (Adadelta has no learning rate)`,
      );
    }
    (this.hyperparams as ScratchHyperparams).lr = lr;
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const byName: tf.NamedTensorMap = Array.isArray(variableGradients) ? Object.fromEntries(variableGradients.map(({ name, tensor }) => [name, tensor])) : variableGradients;
    const grads = this.params.map((p) => {
      const g = byName[p.name];
      if (g === undefined) throw new Error(`trainCh11: no gradient for ${p.name}; the loss must depend on every parameter`);
      return g;
    });
    this.fn(this.params, this.states, this.hyperparams, grads);
    this.incrementIterations();
  }

  /** The state tensors (copies), for the engine's NaN rollback. */
  override async getWeights(): Promise<NamedTensor[]> {
    return stateTensors(this.states).map((v, i) => ({ name: `state_${i}`, tensor: tf.clone(v) }));
  }

  /** Put state values back (assigned into the states). */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const vars = stateTensors(this.states);
    if (weightValues.length !== vars.length) throw new Error(`trainCh11: expected ${vars.length} state tensors, got ${weightValues.length}`);
    vars.forEach((v, i) => v.assign(weightValues[i].tensor));
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...this.hyperparams };
  }
}

/** The tf.Variables inside a from-scratch optimizer's states (null, an array, or an array of pairs). */
function stateTensors(states: unknown): tf.Variable[] {
  const out: tf.Variable[] = [];
  const visit = (s: unknown): void => {
    if (s instanceof tf.Variable) out.push(s);
    else if (Array.isArray(s)) s.forEach(visit);
  };
  visit(states);
  return out;
}

/**
 * The whole data set as one `[X, y]` pair, read by one pass over the iterator, for the loss every 200
 * examples (the book's `evaluate_loss(net, data_iter, loss)`, which passes over the data each time: the
 * same mean, computed once per point instead of batch by batch).
 */
async function wholeData(dataIter: DataIter): Promise<[tf.Tensor, tf.Tensor]> {
  const xs: tf.Tensor[] = [];
  const ys: tf.Tensor[] = [];
  try {
    for await (const batch of dataIter) {
      const [X, y] = unpackBatch(batch, "training");
      xs.push(X);
      ys.push(y);
    }
    if (xs.length === 0) throw new Error("the data iterator yielded no batches; it must yield [X, y] batches (e.g. d2l.getDataCh11(10))");
    if (xs.length === 1) return [xs.pop() as tf.Tensor, ys.pop() as tf.Tensor];
    return [tf.concat(xs), tf.concat(ys)];
  } finally {
    tf.dispose([...xs, ...ys]);
  }
}

/**
 * Records and plots the loss on the whole data set every 200 examples, as
 * the book's `train_ch11` does (x in epochs: examples / batch size / batches per epoch).
 */
class LossEvery200 implements Callback {
  /** Cumulative training seconds at each point (the book's `timer.cumsum()`). */
  readonly times: number[] = [];
  /** The loss at each point (the book's `animator.Y[0]`). */
  readonly losses: number[] = [];
  private n = 0;
  private animator: AnimatorLike | undefined;
  private readonly wantAnimator: boolean;

  constructor(
    private readonly net: Net,
    private readonly loss: Loss,
    private readonly data: [tf.Tensor, tf.Tensor],
    private readonly scale: number,
    animator: AnimatorLike | false | undefined,
  ) {
    this.animator = animator === false ? undefined : animator;
    this.wantAnimator = animator !== false;
  }

  /** The mean loss on the whole data set, times `scale`. */
  async fullLoss(): Promise<number> {
    const t = tf.tidy(() => {
      const [X, y] = this.data;
      return tf.mul(tf.mean(this.loss(forward(this.net, X, false), y)), this.scale);
    });
    try {
      return (await t.data())[0];
    } finally {
      t.dispose();
    }
  }

  /** @internal */
  onTrainBegin(state: TrainState): void {
    if (state.numBatches === undefined)
      throw new Error("the data iterator must know its number of batches (numBatches), as a d2l.DataLoader does: the loss is plotted at fractions of an epoch");
    if (this.wantAnimator) this.animator ??= makeAnimator({ xlabel: "epoch", ylabel: "loss", xlim: [0, state.numEpochs], ylim: [0.22, 0.35] });
  }

  /** @internal */
  async onBatchEnd(state: TrainState): Promise<void> {
    this.n += state.batchSize;
    if (this.n % 200 !== 0) return;
    const loss = await this.fullLoss();
    this.times.push(state.timer.sum());
    this.losses.push(loss);
    this.animator?.add(this.n / state.batchSize / (state.numBatches as number), [loss]);
  }

  /** @internal */
  onTrainEnd(): void | Promise<void> {
    return this.animator?.finish?.();
  }
}

/** Options of {@link trainCh11} and {@link trainConciseCh11} beyond the book's arguments. */
export interface TrainCh11Options {
  /** The animator to draw on, or `false` for none (default: a new `d2l.Animator`, as the book's). */
  animator?: AnimatorLike | false;
  /** Print the book's line `loss 0.243, 0.012 sec/epoch` at the end (default true). */
  verbose?: boolean;
  /** More callbacks (a learning-rate schedule, early stopping, ...). */
  callbacks?: Callback[];
  /** Seed of the initial weights (default: drawn from `Math.random`, as the book's `torch.normal`). */
  seed?: number;
}

/** What {@link trainCh11} and {@link trainConciseCh11} return: cumulative seconds and the loss at each point (every 200 examples). */
export type TrainCh11Result = [times: number[], losses: number[]];

async function fitCh11(
  who: "trainCh11" | "trainConciseCh11",
  net: Net,
  trainLoss: Loss,
  evalScale: number,
  updater: tf.Optimizer,
  params: tf.Variable[] | undefined,
  data: [tf.Tensor, tf.Tensor],
  dataIter: DataIter,
  numEpochs: number,
  options: TrainCh11Options,
): Promise<TrainCh11Result> {
  const curve = new LossEvery200(net, trainLoss, data, evalScale, options.animator);
  const callbacks: Callback[] = [curve, ...(options.callbacks ?? [])];
  const engine = new Engine({ net, loss: trainLoss, updater, params, accuracy: false });
  const r = await engine.fit(dataIter, { numEpochs, callbacks, quickEpochs: QUICK_EPOCHS[who] });
  if (options.verbose ?? true) {
    const last = curve.losses.length > 0 ? curve.losses[curve.losses.length - 1] : await curve.fullLoss();
    showSummary([`loss ${last.toFixed(3)}, ${(r.seconds / r.history.length).toFixed(3)} sec/epoch`]);
  }
  return [curve.times, curve.losses];
}

function checkEpochs(who: string, numEpochs: number): number {
  if (!Number.isInteger(numEpochs) || numEpochs < 1) throw new Error(`${who}: numEpochs must be a positive integer, got ${String(numEpochs)}`);
  return quickEpochs(numEpochs, QUICK_EPOCHS[who as "trainCh11" | "trainConciseCh11"], who);
}

/**
 * Train linear regression on `dataIter` with a from-scratch optimizer (the
 * book's `train_ch11`, section 11.5): weights drawn from N(0, 0.01²), bias 0,
 * the squared loss; each minibatch's *mean* loss is differentiated and
 * `trainerFn(params, states, hyperparams, grads)` updates `[w, b]`. Every
 * 200 examples the loss on the whole data set is plotted (x in epochs,
 * ylim [0.22, 0.35]); at the end it prints `loss 0.243, 0.012 sec/epoch` and
 * returns `[times, losses]`: the cumulative training seconds and the loss at
 * each of those points (the book's `timer.cumsum(), animator.Y[0]`).
 *
 * The times are the engine's training-step times (data loading and the
 * loss evaluations excluded). The book's line divides the time by the number
 * of points (its `timer.avg()`); this one by the number of epochs, as the
 * label says.
 * Callbacks see as `state.updater` a `tf.Optimizer` whose `learningRate`
 * (and `setLearningRate`) reads and writes `hyperparams.lr`, so a
 * learning-rate schedule callback drives the book's trainers too. In quick
 * mode (`D2L_QUICK=1`) it trains at most `QUICK_EPOCHS.trainCh11` epochs.
 *
 * @example
 * const [dataIter, featureDim] = await d2l.getDataCh11(10);
 * const [times, losses] = await d2l.trainCh11(d2l.sgdMomentum, d2l.initMomentumStates(featureDim),
 *   { lr: 0.005, momentum: 0.9 }, dataIter, featureDim); // loss 0.243, ...
 */
export async function trainCh11<S, H extends ScratchHyperparams>(
  trainerFn: ScratchOptimizer<S, H>,
  states: S,
  hyperparams: H,
  dataIter: DataIter,
  featureDim: number,
  numEpochs = 2,
  options: TrainCh11Options = {},
): Promise<TrainCh11Result> {
  if (typeof trainerFn !== "function")
    throw new Error(`trainCh11: trainerFn must be a from-scratch optimizer (params, states, hyperparams, grads) => void such as d2l.sgdMomentum, got ${typeof trainerFn}`);
  if (hyperparams === null || typeof hyperparams !== "object") throw new Error(`trainCh11: hyperparams must be an object such as { lr: 0.01 }, got ${JSON.stringify(hyperparams)}`);
  if (!Number.isInteger(featureDim) || featureDim < 1)
    throw new Error(`trainCh11: featureDim must be a positive integer (the number of features; d2l.getDataCh11 returns it), got ${String(featureDim)}`);
  checkIter(dataIter, "training");
  numEpochs = checkEpochs("trainCh11", numEpochs);
  const data = await wholeData(dataIter);
  const [w, b] = tf.tidy(() => [tf.variable(tf.randomNormal([featureDim, 1], 0, 0.01, "float32", options.seed)), tf.variable(tf.zeros([1]))]);
  const updater = new ScratchUpdater(trainerFn, [w, b], states, hyperparams);
  try {
    if (data[0].rank !== 2 || data[0].shape[1] !== featureDim) {
      throw new Error(`trainCh11: featureDim is ${featureDim} but the data's X has shape ${shapeStr(data[0].shape)}; pass the featureDim d2l.getDataCh11 returns`);
    }
    const net = (X: tf.Tensor): tf.Tensor => linreg(X, w, b);
    return await fitCh11("trainCh11", net, squaredLoss, 1, updater, [w, b], data, dataIter, numEpochs, options);
  } finally {
    updater.dispose();
    tf.dispose([w, b, ...data]);
  }
}

/**
 * A `d2l.optim` optimizer class (`d2l.optim.SGD`) or a function making an
 * optimizer from the hyperparameters (`(h) => new d2l.optim.SGD(h)`,
 * `(h) => tf.train.sgd(h.lr)`): the book's `trainer_fn(params, **hyperparams)`.
 */
export type OptimizerFactory<H> = (new (hyperparams: H) => tf.Optimizer) | ((hyperparams: H) => tf.Optimizer);

function makeOptimizer<H>(trainerFn: OptimizerFactory<H>, hyperparams: H): tf.Optimizer {
  if (typeof trainerFn !== "function")
    throw new Error(`trainConciseCh11: trainerFn must be an optimizer class such as d2l.optim.SGD or a function (hyperparams) => tf.Optimizer, got ${typeof trainerFn}`);
  // (tf.Optimizer's instanceof test reads properties of its operand: never give it undefined or null.)
  const proto = (trainerFn as { prototype?: unknown }).prototype;
  const isClass = (typeof proto === "object" && proto !== null && proto instanceof tf.Optimizer) || /^class[\s{]/.test(Function.prototype.toString.call(trainerFn));
  const opt: unknown = isClass ? new (trainerFn as new (h: H) => tf.Optimizer)(hyperparams) : (trainerFn as (h: H) => tf.Optimizer)(hyperparams);
  if (typeof opt !== "object" || opt === null || typeof (opt as { applyGradients?: unknown }).applyGradients !== "function") {
    throw new Error("trainConciseCh11: trainerFn must make a tf.Optimizer (e.g. (h) => new d2l.optim.SGD(h) or (h) => tf.train.sgd(h.lr))");
  }
  return opt as tf.Optimizer;
}

/** Squared error per example without the ½ (PyTorch's `nn.MSELoss(reduction='none')`). */
function mseNoReduction(yHat: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.squaredDifference(tf.reshape(yHat, [-1]), tf.reshape(y, [-1])));
}

/**
 * Train the same linear regression with a framework optimizer (the book's
 * `train_concise_ch11`, section 11.5): a dense layer (kernel from
 * N(0, 0.01²), bias 0), PyTorch's `MSELoss` (no ½) whose minibatch mean is
 * differentiated, and `trainerFn` making the optimizer from `hyperparams`
 * (a `d2l.optim` class, or a function). Every 200 examples it plots the
 * whole data set's loss halved (the squared loss of `trainCh11`), prints
 * `loss 0.243, 0.012 sec/epoch` at the end and returns `[times, losses]` as
 * {@link trainCh11} does (the book's returns nothing). The optimizer is the
 * engine's updater (`state.updater`), so a learning-rate schedule callback
 * can drive it. In quick mode (`D2L_QUICK=1`) it trains at most
 * `QUICK_EPOCHS.trainConciseCh11` epochs.
 *
 * @example
 * const [dataIter] = await d2l.getDataCh11(10);
 * await d2l.trainConciseCh11(d2l.optim.SGD, { lr: 0.01 }, dataIter);
 * await d2l.trainConciseCh11((h) => tf.train.sgd(h.lr), { lr: 0.01 }, dataIter);
 */
export async function trainConciseCh11<H>(
  trainerFn: OptimizerFactory<H>,
  hyperparams: H,
  dataIter: DataIter,
  numEpochs = 4,
  options: TrainCh11Options = {},
): Promise<TrainCh11Result> {
  checkIter(dataIter, "training");
  numEpochs = checkEpochs("trainConciseCh11", numEpochs);
  const data = await wholeData(dataIter);
  let net: tf.Sequential | undefined;
  let optimizer: tf.Optimizer | undefined;
  try {
    if (data[0].rank !== 2) throw new Error(`trainConciseCh11: expected batches X of shape [batch, features], got ${shapeStr(data[0].shape)}`);
    optimizer = makeOptimizer(trainerFn, hyperparams);
    net = tf.sequential({
      layers: [
        tf.layers.dense({
          units: 1,
          inputShape: [data[0].shape[1] as number],
          kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: options.seed }),
          biasInitializer: "zeros",
        }),
      ],
    });
    return await fitCh11("trainConciseCh11", net, mseNoReduction, 0.5, optimizer, undefined, data, dataIter, numEpochs, options);
  } finally {
    optimizer?.dispose();
    net?.dispose();
    tf.dispose(data);
  }
}
