/**
 * Every loss of the course notes, in one module (`d2l.losses`): PyTorch's
 * (`torch.nn.functional`'s names in camelCase, its options in camelCase, its
 * semantics) where PyTorch has the loss, the paper's formula where it does not.
 *
 * - Classification: {@link zeroOneLoss}, {@link crossEntropy} (class indices or
 *   probabilities as targets, `labelSmoothing`, class `weight`, `ignoreIndex`),
 *   {@link nllLoss}, {@link focalLoss} (softmax, Lin et al. 2017),
 *   {@link multiMarginLoss} (torch's multi-class hinge), {@link hingeLoss}
 *   (binary, ±1 labels).
 * - Binary: {@link binaryCrossEntropy} (probabilities), {@link binaryCrossEntropyWithLogits}
 *   (= {@link logisticLoss}, with `posWeight`), {@link softMarginLoss} (the logistic
 *   loss on ±1 labels), {@link sigmoidFocalLoss} (torchvision's).
 * - Regression: {@link mseLoss}, {@link l1Loss}, {@link huberLoss}, {@link smoothL1Loss},
 *   {@link wingLoss} (Feng et al. 2018).
 * - Segmentation: {@link diceLoss} (soft dice, binary and multi-class).
 * - Embeddings: {@link CenterLoss} / {@link centerLoss} (Wen et al. 2016),
 *   {@link ArcFace} / {@link arcFaceLoss} (Deng et al. 2019).
 * - Distributions: {@link klDiv} (torch's `KLDivLoss`).
 *
 * Every loss takes `reduction: "none" | "mean" | "sum"` with torch's meaning
 * and torch's default `"mean"`. `"none"` gives one value per example (or per
 * element, for the element-wise losses), which is what the training engine
 * wants: pass a loss to `trainCh3` or `d2l.fit` as
 * `(yHat, y) => d2l.losses.crossEntropy(yHat, y, { reduction: "none" })`. The
 * engine averages per-example losses over the batch; with class weights that
 * is a plain mean, not torch's weighted mean (which `"mean"` gives).
 *
 * Layout: classes are on the LAST axis (tfjs is channels-last): logits
 * `[N, C]` or `[N, d1, ..., C]` with class indices `[N]` or `[N, d1, ...]`;
 * torch's K-dimensional losses put the classes on axis 1 instead.
 *
 * Logits are handled stably (log-sum-exp, softplus): logits of ±1000 give
 * finite losses and gradients. Nothing here reads values back from the
 * device, so label values are not checked (torch checks that class indices lie
 * in `[0, C)` and probabilities in `[0, 1]`; here an out-of-range class index
 * contributes a loss of 0): shapes are checked, with errors that say what to pass.
 */
import * as tf from "@tensorflow/tfjs";
import { shapeStr } from "./types";
import { SOFTMAX_XENT, SOFTMAX_XENT_GRAD } from "../native/kernels";

/** How a loss reduces its per-example values: torch's `reduction`. */
export type Reduction = "none" | "mean" | "sum";

/** The `reduction` option every loss takes (default `"mean"`, as torch). */
export interface ReductionOptions {
  /** `"none"`: one value per example (per element for element-wise losses); `"mean"` (default); `"sum"`. */
  reduction?: Reduction;
}

/** Class weights or per-class values: a tensor `[C]` or an array of `C` numbers. */
export type ClassValues = tf.Tensor | number[];

/** Element weights: a tensor or (nested) array that broadcasts to the input's shape. */
export type ElementValues = tf.Tensor | number[] | number[][] | number[][][];

// ---------------------------------------------------------------------------
// helpers

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v instanceof tf.Tensor) return `a tensor of shape ${shapeStr(v.shape)}`;
  if (Array.isArray(v)) return "an array";
  return typeof v;
}

function checkTensor(fn: string, what: string, t: unknown): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor)) throw new Error(`${fn}: expected ${what} to be a tf.Tensor, got ${describe(t)}`);
}

function reductionOf(fn: string, r: unknown, allowed: readonly string[] = ["none", "mean", "sum"]): string {
  const v = r ?? "mean";
  if (typeof v !== "string" || !allowed.includes(v)) {
    throw new Error(`${fn}: reduction must be ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${JSON.stringify(r)}`);
  }
  return v;
}

function reduce(l: tf.Tensor, reduction: string): tf.Tensor {
  if (reduction === "none") return l;
  return reduction === "sum" ? tf.sum(l) : tf.mean(l);
}

function positive(fn: string, name: string, v: unknown, orZero = false): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (!orZero && v === 0)) {
    throw new Error(`${fn}: ${name} must be a ${orZero ? "non-negative" : "positive"} number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function toFloat(t: tf.Tensor): tf.Tensor {
  return t.dtype === "float32" ? t : tf.cast(t, "float32");
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** |x| with torch's gradient at 0 (sign(0) = 0; tfjs' abs gives -1 there). */
function absT(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.sign(x), x);
}

/**
 * The target of an element-wise loss, in the input's shape. A target that
 * differs only by dimensions of size 1 (`[N]` for an output `[N, 1]`) is
 * reshaped, as the book's `squared_loss` does (torch would broadcast it to
 * `[N, N]`, with a warning); anything else is an error.
 */
function elementTarget(fn: string, input: tf.Tensor, target: tf.Tensor): tf.Tensor {
  if (sameShape(input.shape, target.shape)) return target;
  const squeeze = (s: readonly number[]) => s.filter((d) => d !== 1);
  if (input.size === target.size && sameShape(squeeze(input.shape), squeeze(target.shape))) return tf.reshape(target, input.shape);
  throw new Error(
    `${fn}(input, target): input has shape ${shapeStr(input.shape)} but target has shape ${shapeStr(target.shape)}; they must have the same shape (one target per output value)`,
  );
}

/** Number of classes: the input's last axis. */
function numClasses(fn: string, input: tf.Tensor): number {
  if (input.rank < 1) throw new Error(`${fn}: input must hold class scores on its last axis ([N, C] or [N, ..., C]), got a scalar`);
  return input.shape[input.rank - 1];
}

/**
 * Class indices (int32) for an input `[..., C]`: shape `input.shape[:-1]`
 * (or that with a trailing 1). A target shaped like the input is an error
 * that says it looks one-hot (callers that take probabilities check first).
 */
function indexTarget(fn: string, input: tf.Tensor, target: tf.Tensor): tf.Tensor {
  const want = input.shape.slice(0, -1);
  let y: tf.Tensor | undefined;
  if (sameShape(target.shape, want)) y = target;
  else if (target.rank === want.length + 1 && target.shape[target.rank - 1] === 1 && sameShape(target.shape.slice(0, -1), want)) y = tf.reshape(target, want);
  if (y !== undefined) return y.dtype === "int32" ? y : tf.cast(y, "int32");
  if (sameShape(target.shape, input.shape)) {
    throw new Error(
      `${fn}(input, target): target has the input's shape ${shapeStr(input.shape)}, which looks one-hot; this loss takes class indices of shape ${shapeStr(want)} (e.g. target.argMax(-1))`,
    );
  }
  throw new Error(
    `${fn}(input, target): input ${shapeStr(input.shape)} holds ${input.shape[input.rank - 1]} class scores on its last axis, so target must hold class indices of shape ${shapeStr(want)}; got ${shapeStr(target.shape)}`,
  );
}

/** A per-class vector `[C]` as a float32 tensor. */
function classVector(fn: string, name: string, v: ClassValues, C: number): tf.Tensor {
  if (Array.isArray(v)) {
    if (v.length !== C || !v.every((x) => typeof x === "number")) throw new Error(`${fn}: ${name} must hold one number per class (${C}), got an array of ${v.length}`);
    return tf.tensor1d(v, "float32");
  }
  if (!(v instanceof tf.Tensor) || v.size !== C || v.rank !== 1) {
    throw new Error(`${fn}: ${name} must be a tensor of shape [${C}] (one value per class) or an array of ${C} numbers, got ${describe(v)}`);
  }
  return toFloat(v);
}

/** A weight broadcast over an element-wise loss (torch: any shape that broadcasts to the input's). */
function elementWeight(fn: string, name: string, v: ElementValues, shape: readonly number[]): tf.Tensor {
  const w = Array.isArray(v) ? tf.tensor(v, undefined, "float32") : v;
  checkTensor(fn, name, w);
  const ok = w.rank <= shape.length && w.shape.every((d, i) => d === 1 || d === shape[shape.length - w.rank + i]);
  if (!ok) throw new Error(`${fn}: ${name} of shape ${shapeStr(w.shape)} does not broadcast to the input's shape ${shapeStr(shape)}`);
  return toFloat(w);
}

/** tfjs' `CustomGradientFunc` (not exported by `@tensorflow/tfjs`). */
type CustomGradientFunc = (...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };

/**
 * A comparison of a value that may be differentiated, as a boolean mask the
 * gradient tape treats as a constant: tfjs has no gradient for `Less` or
 * `Greater`, so `tf.where(tf.less(x, c), ...)` fails inside `tf.grad` (and so
 * in training) when `x` depends on the parameters. The comparison runs inside
 * a custom-gradient op (zero gradient), which the tape does not look into.
 */
function constMask(x: tf.Tensor, cmp: (t: tf.Tensor) => tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((t: tf.Tensor) => ({ value: tf.cast(cmp(t), "float32"), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as unknown as CustomGradientFunc);
  return tf.cast(op(x), "bool");
}

/**
 * Softmax cross-entropy with soft targets `q` on the last axis:
 * `-Σ_c q_c log softmax(logits)_c`, computed from log-sum-exp, with the
 * gradient `softmax · Σq − q` written out (tfjs' `softmaxCrossEntropy`
 * assumes Σq = 1; class weights break that). For one-hot `q` it computes
 * exactly what tfjs' `tf.losses.softmaxCrossEntropy` computes, bit for bit.
 */
const softTargetCrossEntropy = tf.customGrad(((q: tf.Tensor, logits: tf.Tensor, save: tf.GradSaveFunc) => {
  const dim = logits.rank - 1;
  const lse = tf.logSumExp(logits, [dim], true);
  const logResult = tf.sub(tf.cast(logits, "float32"), lse);
  save([q, logResult]);
  const value = tf.sum(tf.neg(tf.mul(logResult, q)), [dim]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
    const [qs, lr] = saved;
    const dyk = tf.expandDims(dy, -1);
    return [tf.mul(dyk, tf.neg(lr)), tf.mul(dyk, tf.sub(tf.mul(tf.exp(lr), tf.sum(qs, [dim], true)), qs))];
  };
  return { value, gradFunc };
}) as unknown as CustomGradientFunc);

/**
 * The same loss as one native kernel forward and one backward (lib/native/src/fused.cc),
 * where tfjs' ops run about twenty small kernels; the results agree with the composite's to
 * float rounding (the log-sum-exp is summed in double).
 */
const nativeSoftTargetCrossEntropy = tf.customGrad(((q: tf.Tensor, logits: tf.Tensor, save: tf.GradSaveFunc) => {
  const [value, logResult] = tf.engine().runKernel(SOFTMAX_XENT, { q, logits }) as tf.Tensor[];
  save([q, logResult]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => tf.engine().runKernel(SOFTMAX_XENT_GRAD, { dy, q: saved[0], lr: saved[1] }) as tf.Tensor[];
  return { value, gradFunc };
}) as unknown as CustomGradientFunc);

/** {@link softTargetCrossEntropy}, on the native backend as its fused kernel. */
function softmaxCrossEntropyRows(q: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  const x = tf.cast(logits, "float32");
  if (tf.getBackend() === "native" && tf.getKernel(SOFTMAX_XENT, "native") && q.dtype === "float32" && x.size > 0 && sameShape(q.shape, x.shape)) {
    return nativeSoftTargetCrossEntropy(q, x);
  }
  return softTargetCrossEntropy(q, logits);
}

// ---------------------------------------------------------------------------
// classification

/** Options of {@link crossEntropy} (torch's `F.cross_entropy`). */
export interface CrossEntropyOptions extends ReductionOptions {
  /** A weight per class `[C]` (torch's `weight`); `"mean"` then divides by the summed weights of the targets. */
  weight?: ClassValues;
  /** A class index whose positions count for nothing, nor in the mean (default -100, as torch); only with class-index targets. */
  ignoreIndex?: number;
  /** Mix the target with the uniform distribution: `(1 − ε)·target + ε/C` (default 0). */
  labelSmoothing?: number;
}

/**
 * Cross-entropy between logits and targets (torch's `F.cross_entropy` /
 * `nn.CrossEntropyLoss`): `-log softmax(input)[target]`, from log-sum-exp, so
 * logits of any size are fine. `input` is `[N, C]` (or `[N, d1, ..., C]`,
 * classes last); `target` is class indices `[N]` (`[N, d1, ...]`; `[N, 1]`
 * is accepted) or class probabilities shaped like the input (torch's
 * soft targets).
 *
 * torch's semantics throughout: with `labelSmoothing` ε the target becomes
 * `(1 − ε)·onehot + ε/C`; with class `weight` each example's loss is weighted
 * by its class (every class's term, with soft targets), and for class-index
 * targets `"mean"` divides by the sum of the targets' weights (torch's weighted
 * mean), else by the number of positions; positions whose target is
 * `ignoreIndex` count for nothing. `reduction: "none"` gives `[N]` (or
 * `[N, d1, ...]`), what `trainCh3` and `d2l.fit` take.
 *
 * @example
 * const logits = tf.tensor2d([[2, 0.5, -1], [0, 0, 3]]);
 * const y = tf.tensor1d([0, 2], "int32");
 * d2l.losses.crossEntropy(logits, y);                              // scalar: the mean
 * d2l.losses.crossEntropy(logits, y, { reduction: "none" });       // [2]: one per example
 * d2l.losses.crossEntropy(logits, y, { labelSmoothing: 0.1, weight: [1, 2, 1] });
 * // for the training engine:
 * await d2l.trainCh3(net, trainIter, testIter, (yHat, y) => d2l.losses.crossEntropy(yHat, y, { reduction: "none" }), 10, updater);
 */
export function crossEntropy(input: tf.Tensor, target: tf.Tensor, options: CrossEntropyOptions = {}): tf.Tensor {
  const fn = "crossEntropy";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const eps = options.labelSmoothing ?? 0;
  if (typeof eps !== "number" || !(eps >= 0 && eps <= 1)) throw new Error(`${fn}: labelSmoothing must be a number in [0, 1], got ${JSON.stringify(options.labelSmoothing)}`);
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) throw new Error(`${fn}: ignoreIndex must be an integer, got ${JSON.stringify(options.ignoreIndex)}`);
  const C = numClasses(fn, input);
  const soft = sameShape(target.shape, input.shape);
  return tf.tidy(() => {
    const w = options.weight === undefined ? undefined : classVector(fn, "weight", options.weight, C);
    if (soft) {
      // probabilities as targets: torch ignores ignoreIndex here, and "mean" divides by the number of positions
      let q = toFloat(target);
      if (eps > 0) q = tf.add(tf.mul(q, 1 - eps), eps / C);
      if (w) q = tf.mul(q, w);
      return reduce(softmaxCrossEntropyRows(q, input), reduction);
    }
    const y = indexTarget(fn, input, target);
    const onehot = tf.cast(tf.oneHot(y, C), "float32");
    const inRange = ignoreIndex >= 0 && ignoreIndex < C; // else tf.oneHot already gives the ignored rows zeros
    const keep = eps > 0 || inRange || reduction === "mean" ? tf.cast(tf.notEqual(y, ignoreIndex), "float32") : undefined;
    let q = onehot;
    if (keep && eps > 0) q = tf.mul(tf.add(tf.mul(onehot, 1 - eps), eps / C), tf.expandDims(keep, -1));
    else if (keep && inRange) q = tf.mul(onehot, tf.expandDims(keep, -1));
    if (w) q = tf.mul(q, w);
    const l = softmaxCrossEntropyRows(q, input);
    if (reduction !== "mean" || !keep) return reduce(l, reduction);
    const den = w ? tf.sum(tf.mul(tf.sum(tf.mul(onehot, w), -1), keep)) : tf.sum(keep);
    return tf.div(tf.sum(l), den);
  });
}

/** Options of {@link nllLoss} (torch's `F.nll_loss`). */
export interface NllLossOptions extends ReductionOptions {
  /** A weight per class `[C]`; `"mean"` divides by the sum of the targets' weights. */
  weight?: ClassValues;
  /** A class index whose positions count for nothing (default -100). */
  ignoreIndex?: number;
}

/**
 * The negative log-likelihood loss (torch's `F.nll_loss` / `nn.NLLLoss`):
 * `-input[target]` for log-probabilities `input` `[N, C]` (e.g. from
 * `tf.logSoftmax`) and class indices `[N]`; `weight` and `ignoreIndex` as
 * {@link crossEntropy}. `crossEntropy(x, y)` is `nllLoss(tf.logSoftmax(x), y)`.
 *
 * @example
 * const logp = tf.logSoftmax(tf.tensor2d([[2, 0.5, -1], [0, 0, 3]]));
 * d2l.losses.nllLoss(logp, tf.tensor1d([0, 2], "int32"), { reduction: "none" }); // [2]
 */
export function nllLoss(input: tf.Tensor, target: tf.Tensor, options: NllLossOptions = {}): tf.Tensor {
  const fn = "nllLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) throw new Error(`${fn}: ignoreIndex must be an integer, got ${JSON.stringify(options.ignoreIndex)}`);
  const C = numClasses(fn, input);
  return tf.tidy(() => {
    const y = indexTarget(fn, input, target);
    const x = toFloat(input);
    const hot = tf.oneHot(y, C);
    const picked = tf.sum(tf.where(tf.cast(hot, "bool"), x, tf.zerosLike(x)), -1);
    const keep = tf.cast(tf.notEqual(y, ignoreIndex), "float32");
    const wy = options.weight === undefined ? undefined : tf.sum(tf.mul(tf.cast(hot, "float32"), classVector(fn, "weight", options.weight, C)), -1);
    const coef = wy ? tf.mul(wy, keep) : keep;
    const l = tf.neg(tf.mul(picked, coef));
    if (reduction !== "mean") return reduce(l, reduction);
    return tf.div(tf.sum(l), tf.sum(coef));
  });
}

/** Options of {@link focalLoss}. */
export interface FocalLossOptions extends ReductionOptions {
  /** α: one number for every class, or one per class `[C]` (α_t is the target's); default none (1). */
  alpha?: number | ClassValues;
  /** γ ≥ 0, the focusing parameter (default 2); γ = 0 is cross-entropy. */
  gamma?: number;
  /** A class index whose positions count for nothing, nor in the mean (default -100). */
  ignoreIndex?: number;
}

/**
 * The focal loss for multi-class logits (Lin et al. 2017, "Focal Loss for
 * Dense Object Detection", eq. 5 with a softmax): `FL = -α_t (1 − p_t)^γ log p_t`
 * where `p_t = softmax(input)[target]` and `α_t` is `alpha` (one number) or
 * `alpha[target]` (one per class). It shrinks the loss of examples the model
 * already gets right (`p_t` near 1), so training attends to the hard ones.
 * `log p_t` comes from log-softmax, so large logits are fine. PyTorch has no
 * softmax focal loss; {@link sigmoidFocalLoss} is torchvision's binary one.
 * `"mean"` divides by the number of positions not ignored.
 *
 * @example
 * const logits = tf.tensor2d([[2, 0.5, -1], [0, 0, 3]]);
 * d2l.losses.focalLoss(logits, tf.tensor1d([0, 2], "int32"), { gamma: 2, alpha: [0.25, 0.5, 0.25] });
 */
export function focalLoss(input: tf.Tensor, target: tf.Tensor, options: FocalLossOptions = {}): tf.Tensor {
  const fn = "focalLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const gamma = positive(fn, "gamma", options.gamma ?? 2, true);
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) throw new Error(`${fn}: ignoreIndex must be an integer, got ${JSON.stringify(options.ignoreIndex)}`);
  const C = numClasses(fn, input);
  const alpha = options.alpha;
  if (alpha !== undefined && typeof alpha === "number" && !Number.isFinite(alpha)) throw new Error(`${fn}: alpha must be a finite number or one number per class, got ${alpha}`);
  return tf.tidy(() => {
    const y = indexTarget(fn, input, target);
    const hot = tf.oneHot(y, C);
    const logp = tf.logSoftmax(toFloat(input), -1);
    const logpt = tf.sum(tf.where(tf.cast(hot, "bool"), logp, tf.zerosLike(logp)), -1);
    let l = tf.neg(logpt);
    if (gamma !== 0) l = tf.mul(tf.pow(tf.sub(1, tf.exp(logpt)), gamma), l);
    if (typeof alpha === "number") l = tf.mul(l, alpha);
    else if (alpha !== undefined) l = tf.mul(l, tf.sum(tf.mul(tf.cast(hot, "float32"), classVector(fn, "alpha", alpha, C)), -1));
    const keep = tf.cast(tf.notEqual(y, ignoreIndex), "float32");
    l = tf.mul(l, keep);
    if (reduction !== "mean") return reduce(l, reduction);
    return tf.div(tf.sum(l), tf.sum(keep));
  });
}

/** Options of {@link multiMarginLoss} (torch's `F.multi_margin_loss`). */
export interface MultiMarginLossOptions extends ReductionOptions {
  /** 1 (hinge) or 2 (squared hinge); default 1. */
  p?: 1 | 2;
  /** The margin (default 1). */
  margin?: number;
  /** A weight per class `[C]`: each example's loss is scaled by its class's weight (a plain mean still). */
  weight?: ClassValues;
}

/**
 * The multi-class hinge loss (torch's `F.multi_margin_loss` /
 * `nn.MultiMarginLoss`, Weston–Watkins): for scores `x` `[N, C]` and class
 * indices `y`, `Σ_{j≠y} max(0, margin − x[y] + x[j])^p / C`, times
 * `weight[y]` if given. Zero once the true class beats every other by the
 * margin: it does not keep pushing as cross-entropy does.
 *
 * @example
 * d2l.losses.multiMarginLoss(tf.tensor2d([[0.1, 0.2, 0.4, 0.8]]), tf.tensor1d([3], "int32")); // 0.325
 */
export function multiMarginLoss(input: tf.Tensor, target: tf.Tensor, options: MultiMarginLossOptions = {}): tf.Tensor {
  const fn = "multiMarginLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const p = options.p ?? 1;
  if (p !== 1 && p !== 2) throw new Error(`${fn}: p must be 1 or 2 (as torch), got ${JSON.stringify(options.p)}`);
  const margin = options.margin ?? 1;
  if (typeof margin !== "number" || !Number.isFinite(margin)) throw new Error(`${fn}: margin must be a number, got ${JSON.stringify(options.margin)}`);
  const C = numClasses(fn, input);
  return tf.tidy(() => {
    const y = indexTarget(fn, input, target);
    const x = toFloat(input);
    const isY = tf.cast(tf.oneHot(y, C), "bool");
    const xy = tf.sum(tf.where(isY, x, tf.zerosLike(x)), -1, true);
    let h = tf.relu(tf.add(tf.sub(margin, xy), x));
    if (p === 2) h = tf.square(h);
    h = tf.where(isY, tf.zerosLike(h), h);
    let l = tf.div(tf.sum(h, -1), C);
    if (options.weight !== undefined) l = tf.mul(l, tf.sum(tf.mul(tf.cast(isY, "float32"), classVector(fn, "weight", options.weight, C)), -1));
    return reduce(l, reduction);
  });
}

/** Options of {@link hingeLoss}. */
export interface HingeLossOptions extends ReductionOptions {
  /** The margin (default 1). */
  margin?: number;
}

/**
 * The binary hinge loss of a support vector machine: `max(0, margin − y·s)`
 * for scores `s` and labels `y` in {−1, +1} (labels in {0, 1} work too: every
 * label > 0 counts as +1, every other as −1). Element-wise; `"none"` gives the
 * input's shape. PyTorch has no such function (its `HingeEmbeddingLoss` is a
 * different loss); {@link multiMarginLoss} is the multi-class form.
 *
 * @example
 * d2l.losses.hingeLoss(tf.tensor1d([2, 0.3, -1]), tf.tensor1d([1, 1, 1]), { reduction: "none" }); // [0, 0.7, 2]
 */
export function hingeLoss(input: tf.Tensor, target: tf.Tensor, options: HingeLossOptions = {}): tf.Tensor {
  const fn = "hingeLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const margin = options.margin ?? 1;
  if (typeof margin !== "number" || !Number.isFinite(margin)) throw new Error(`${fn}: margin must be a number, got ${JSON.stringify(options.margin)}`);
  return tf.tidy(() => {
    const x = toFloat(input);
    const t = elementTarget(fn, input, target);
    const sign = tf.where(
      constMask(t, (a) => tf.greater(a, 0)),
      tf.onesLike(x),
      tf.neg(tf.onesLike(x)),
    );
    return reduce(tf.relu(tf.sub(margin, tf.mul(sign, x))), reduction);
  });
}

/** Options of {@link zeroOneLoss}. */
export interface ZeroOneLossOptions extends ReductionOptions {
  /** For binary scores: a score above this predicts the positive class (default 0, for logits or margins; 0.5 for probabilities). */
  threshold?: number;
}

/**
 * The zero-one loss: 1 for a wrong prediction, 0 for a right one (the
 * misclassification rate under `"mean"`; scikit-learn's `zero_one_loss`).
 * Scores `[N, C]` (classes last, `C > 1`) against class indices `[N]`: the
 * prediction is the arg max. Binary scores `[N]` or `[N, 1]` against labels
 * (> 0 is positive: {0, 1} and {−1, +1} both work): the prediction is
 * `score > threshold`. It has no useful gradient (it is what surrogate losses
 * such as cross-entropy and the hinge stand in for).
 *
 * @example
 * d2l.losses.zeroOneLoss(tf.tensor2d([[2, 1], [0, 3]]), tf.tensor1d([0, 0], "int32")); // 0.5
 */
export function zeroOneLoss(input: tf.Tensor, target: tf.Tensor, options: ZeroOneLossOptions = {}): tf.Tensor {
  const fn = "zeroOneLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const threshold = options.threshold ?? 0;
  if (typeof threshold !== "number" || Number.isNaN(threshold)) throw new Error(`${fn}: threshold must be a number, got ${JSON.stringify(options.threshold)}`);
  const binary = input.rank <= 1 || input.shape[input.rank - 1] === 1;
  return tf.tidy(() => {
    let wrong: tf.Tensor;
    if (binary) {
      const t = elementTarget(fn, input, target);
      wrong = tf.notEqual(tf.greater(input, threshold), tf.greater(t, 0));
    } else {
      const y = indexTarget(fn, input, target);
      wrong = tf.notEqual(tf.argMax(input, -1), y);
    }
    return reduce(tf.cast(wrong, "float32"), reduction);
  });
}

// ---------------------------------------------------------------------------
// regression

/**
 * The mean squared error (torch's `F.mse_loss` / `nn.MSELoss`): `(input − target)²`
 * element-wise. The book's `squaredLoss` is half of it. A target `[N]` for an
 * output `[N, 1]` is reshaped (torch would broadcast it to `[N, N]`).
 *
 * @example
 * d2l.losses.mseLoss(tf.tensor1d([1, 3]), tf.tensor1d([0, 1])); // 2.5
 */
export function mseLoss(input: tf.Tensor, target: tf.Tensor, options: ReductionOptions = {}): tf.Tensor {
  const fn = "mseLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  return tf.tidy(() => reduce(tf.square(tf.sub(toFloat(input), toFloat(elementTarget(fn, input, target)))), reduction));
}

/**
 * The mean absolute error (torch's `F.l1_loss` / `nn.L1Loss`): `|input − target|`
 * element-wise (gradient 0 where they are equal, as torch).
 *
 * @example
 * d2l.losses.l1Loss(tf.tensor1d([1, 3]), tf.tensor1d([0, 1])); // 1.5
 */
export function l1Loss(input: tf.Tensor, target: tf.Tensor, options: ReductionOptions = {}): tf.Tensor {
  const fn = "l1Loss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  return tf.tidy(() => reduce(absT(tf.sub(toFloat(input), toFloat(elementTarget(fn, input, target)))), reduction));
}

/** Options of {@link huberLoss}. */
export interface HuberLossOptions extends ReductionOptions {
  /** Where the loss turns from quadratic to linear (default 1). */
  delta?: number;
}

/**
 * The Huber loss (torch's `F.huber_loss` / `nn.HuberLoss`): with `d = input − target`,
 * `d²/2` where `|d| < delta`, else `delta·(|d| − delta/2)`: quadratic near
 * the target, linear (robust to outliers) far from it.
 *
 * @example
 * d2l.losses.huberLoss(tf.tensor1d([0.5, 3]), tf.tensor1d([0, 0]), { reduction: "none" }); // [0.125, 2.5]
 */
export function huberLoss(input: tf.Tensor, target: tf.Tensor, options: HuberLossOptions = {}): tf.Tensor {
  const fn = "huberLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const delta = positive(fn, "delta", options.delta ?? 1);
  return tf.tidy(() => {
    const d = tf.sub(toFloat(input), toFloat(elementTarget(fn, input, target)));
    const ad = absT(d);
    return reduce(
      tf.where(
        constMask(ad, (a) => tf.less(a, delta)),
        tf.mul(0.5, tf.square(d)),
        tf.mul(delta, tf.sub(ad, 0.5 * delta)),
      ),
      reduction,
    );
  });
}

/** Options of {@link smoothL1Loss}. */
export interface SmoothL1LossOptions extends ReductionOptions {
  /** Where the loss turns from quadratic to linear (default 1); 0 is the L1 loss. */
  beta?: number;
}

/**
 * The smooth L1 loss (torch's `F.smooth_l1_loss` / `nn.SmoothL1Loss`, Fast
 * R-CNN's box loss): `d²/(2·beta)` where `|d| < beta`, else `|d| − beta/2`.
 * It is the Huber loss divided by beta (equal at beta = 1); beta = 0 is {@link l1Loss}.
 *
 * @example
 * d2l.losses.smoothL1Loss(tf.tensor1d([0.5, 3]), tf.tensor1d([0, 0]), { reduction: "none" }); // [0.125, 2.5]
 */
export function smoothL1Loss(input: tf.Tensor, target: tf.Tensor, options: SmoothL1LossOptions = {}): tf.Tensor {
  const fn = "smoothL1Loss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const beta = positive(fn, "beta", options.beta ?? 1, true);
  return tf.tidy(() => {
    const d = tf.sub(toFloat(input), toFloat(elementTarget(fn, input, target)));
    const ad = absT(d);
    if (beta === 0) return reduce(ad, reduction);
    return reduce(
      tf.where(
        constMask(ad, (a) => tf.less(a, beta)),
        tf.div(tf.mul(0.5, tf.square(d)), beta),
        tf.sub(ad, 0.5 * beta),
      ),
      reduction,
    );
  });
}

/** Options of {@link wingLoss}. */
export interface WingLossOptions extends ReductionOptions {
  /** The width of the non-linear part (default 10, as the paper). */
  w?: number;
  /** The curvature of the non-linear part (default 2, as the paper). */
  epsilon?: number;
}

/**
 * The wing loss for facial landmark regression (Feng et al. 2018, "Wing Loss
 * for Robust Facial Landmark Localisation with Convolutional Neural Networks",
 * eq. 5): with `x = |input − target|`, `w·ln(1 + x/epsilon)` where `x < w`,
 * else `x − C` with `C = w − w·ln(1 + w/epsilon)` (which joins the pieces).
 * Logarithmic for small errors (it keeps pulling on them, unlike L2), linear for
 * large ones. Element-wise; `"none"` gives the input's shape (the paper sums
 * over each face's coordinates). PyTorch has no wing loss.
 *
 * @example
 * d2l.losses.wingLoss(tf.tensor2d([[10, 20]]), tf.tensor2d([[11, 40]]), { reduction: "none" });
 */
export function wingLoss(input: tf.Tensor, target: tf.Tensor, options: WingLossOptions = {}): tf.Tensor {
  const fn = "wingLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const w = positive(fn, "w", options.w ?? 10);
  const epsilon = positive(fn, "epsilon", options.epsilon ?? 2);
  const C = w - w * Math.log(1 + w / epsilon);
  return tf.tidy(() => {
    const x = absT(tf.sub(toFloat(input), toFloat(elementTarget(fn, input, target))));
    return reduce(
      tf.where(
        constMask(x, (a) => tf.less(a, w)),
        tf.mul(w, tf.log1p(tf.div(x, epsilon))),
        tf.sub(x, C),
      ),
      reduction,
    );
  });
}

// ---------------------------------------------------------------------------
// binary

/** Options of {@link binaryCrossEntropy}. */
export interface BinaryCrossEntropyOptions extends ReductionOptions {
  /** A weight that broadcasts to the input's shape, multiplying each element's loss. */
  weight?: ElementValues;
}

/** torch's BCE on probabilities: logs clamped at -100, gradient (p − t)/max(p(1 − p), 1e-12). */
const bceOnProbabilities = tf.customGrad(((p: tf.Tensor, t: tf.Tensor, save: tf.GradSaveFunc) => {
  const logp = tf.maximum(tf.log(p), -100);
  const log1mp = tf.maximum(tf.log(tf.sub(1, p)), -100);
  save([p, t, logp, log1mp]);
  const value = tf.neg(tf.add(tf.mul(t, logp), tf.mul(tf.sub(1, t), log1mp)));
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
    const [ps, ts, lp, l1p] = saved;
    const dp = tf.div(tf.sub(ps, ts), tf.maximum(tf.mul(tf.sub(1, ps), ps), 1e-12));
    return [tf.mul(dy, dp), tf.mul(dy, tf.sub(l1p, lp))];
  };
  return { value, gradFunc };
}) as unknown as CustomGradientFunc);

/**
 * Binary cross-entropy on probabilities (torch's `F.binary_cross_entropy` /
 * `nn.BCELoss`): `−[t·log p + (1 − t)·log(1 − p)]` element-wise, with torch's
 * guard: each log is clamped at −100, so p = 0 or 1 gives a finite loss. On
 * logits use {@link binaryCrossEntropyWithLogits}, which is stabler.
 *
 * @example
 * d2l.losses.binaryCrossEntropy(tf.tensor1d([0.9, 0.2]), tf.tensor1d([1, 0])); // 0.164
 */
export function binaryCrossEntropy(input: tf.Tensor, target: tf.Tensor, options: BinaryCrossEntropyOptions = {}): tf.Tensor {
  const fn = "binaryCrossEntropy";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  return tf.tidy(() => {
    let l = bceOnProbabilities(toFloat(input), toFloat(elementTarget(fn, input, target)));
    if (options.weight !== undefined) l = tf.mul(l, elementWeight(fn, "weight", options.weight, input.shape));
    return reduce(l, reduction);
  });
}

/** Options of {@link binaryCrossEntropyWithLogits}. */
export interface BinaryCrossEntropyWithLogitsOptions extends ReductionOptions {
  /** A weight that broadcasts to the input's shape, multiplying each element's loss. */
  weight?: ElementValues;
  /** A weight for the positive term, per class (the last axis): > 1 raises recall (torch's `pos_weight`). */
  posWeight?: ElementValues;
}

/**
 * Binary cross-entropy on logits, the logistic loss (torch's
 * `F.binary_cross_entropy_with_logits` / `nn.BCEWithLogitsLoss`):
 * `−[posWeight·t·log σ(x) + (1 − t)·log(1 − σ(x))]` element-wise, computed as
 * `(1 − t)·x + (1 + (posWeight − 1)·t)·softplus(−x)` so that logits of any
 * size are fine. {@link logisticLoss} is the same function; {@link softMarginLoss}
 * is the same loss for labels in {−1, +1}.
 *
 * @example
 * d2l.losses.binaryCrossEntropyWithLogits(tf.tensor1d([2.2, -1.4]), tf.tensor1d([1, 0]));
 * d2l.losses.binaryCrossEntropyWithLogits(logits, y, { posWeight: [3], reduction: "none" }); // positives count 3 times
 */
export function binaryCrossEntropyWithLogits(input: tf.Tensor, target: tf.Tensor, options: BinaryCrossEntropyWithLogitsOptions = {}): tf.Tensor {
  const fn = "binaryCrossEntropyWithLogits";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  return tf.tidy(() => reduce(bceLogits(fn, input, target, options), reduction));
}

function bceLogits(fn: string, input: tf.Tensor, target: tf.Tensor, options: BinaryCrossEntropyWithLogitsOptions): tf.Tensor {
  const x = toFloat(input);
  const t = toFloat(elementTarget(fn, input, target));
  const sp = tf.softplus(tf.neg(x));
  const lw = options.posWeight === undefined ? undefined : tf.add(1, tf.mul(tf.sub(elementWeight(fn, "posWeight", options.posWeight, input.shape), 1), t));
  let l = tf.add(tf.mul(tf.sub(1, t), x), lw ? tf.mul(lw, sp) : sp);
  if (options.weight !== undefined) l = tf.mul(l, elementWeight(fn, "weight", options.weight, input.shape));
  return l;
}

/**
 * The logistic loss: {@link binaryCrossEntropyWithLogits} under the name the
 * course notes use (logistic regression's loss; labels in {0, 1}).
 *
 * @example
 * d2l.losses.logisticLoss(tf.tensor1d([2.2, -1.4]), tf.tensor1d([1, 0]));
 */
export const logisticLoss = binaryCrossEntropyWithLogits;

/**
 * The soft margin loss (torch's `F.soft_margin_loss` / `nn.SoftMarginLoss`):
 * `log(1 + exp(−y·x))` for labels y in {−1, +1}, element-wise: the logistic
 * loss in margin form (a smooth hinge), computed with softplus.
 *
 * @example
 * d2l.losses.softMarginLoss(tf.tensor1d([2.2, -1.4]), tf.tensor1d([1, -1]));
 */
export function softMarginLoss(input: tf.Tensor, target: tf.Tensor, options: ReductionOptions = {}): tf.Tensor {
  const fn = "softMarginLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  return tf.tidy(() => reduce(tf.softplus(tf.neg(tf.mul(toFloat(elementTarget(fn, input, target)), toFloat(input)))), reduction));
}

/** Options of {@link sigmoidFocalLoss}. */
export interface SigmoidFocalLossOptions extends ReductionOptions {
  /** Weight of the positives, `1 − alpha` of the negatives (default 0.25); a negative value turns weighting off. */
  alpha?: number;
  /** The focusing parameter γ ≥ 0 (default 2). */
  gamma?: number;
}

/**
 * The binary focal loss on logits (torchvision's `ops.sigmoid_focal_loss`,
 * from Lin et al. 2017): with `p = σ(x)`, `p_t = p·t + (1 − p)(1 − t)`,
 * `loss = α_t · (1 − p_t)^γ · BCEWithLogits(x, t)` and
 * `α_t = α·t + (1 − α)(1 − t)`, element-wise. Down-weights the easy
 * (mostly negative) examples of a heavily imbalanced problem.
 * Note: torchvision's default reduction is `"none"`; here it is `"mean"`, as
 * for every loss in `d2l.losses`.
 *
 * @example
 * d2l.losses.sigmoidFocalLoss(tf.tensor1d([3, -2, 0.5]), tf.tensor1d([1, 0, 0]), { alpha: 0.25, gamma: 2 });
 */
export function sigmoidFocalLoss(input: tf.Tensor, target: tf.Tensor, options: SigmoidFocalLossOptions = {}): tf.Tensor {
  const fn = "sigmoidFocalLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const alpha = options.alpha ?? 0.25;
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) throw new Error(`${fn}: alpha must be a number (negative for none), got ${JSON.stringify(options.alpha)}`);
  const gamma = positive(fn, "gamma", options.gamma ?? 2, true);
  return tf.tidy(() => {
    const x = toFloat(input);
    const t = toFloat(elementTarget(fn, input, target));
    const p = tf.sigmoid(x);
    const ce = bceLogits(fn, x, t, {});
    const pt = tf.add(tf.mul(p, t), tf.mul(tf.sub(1, p), tf.sub(1, t)));
    let l = gamma === 0 ? ce : tf.mul(ce, tf.pow(tf.sub(1, pt), gamma));
    if (alpha >= 0) l = tf.mul(tf.add(tf.mul(alpha, t), tf.mul(1 - alpha, tf.sub(1, t))), l);
    return reduce(l, reduction);
  });
}

// ---------------------------------------------------------------------------
// segmentation

/** Options of {@link diceLoss}. */
export interface DiceLossOptions extends ReductionOptions {
  /** Added to numerator and denominator (default 1): empty masks give loss 0, and the gradient stays finite. */
  smooth?: number;
  /** Square the terms of the denominator, as V-Net's `Σp² + Σg²` (default false: `Σp + Σg`). */
  squared?: boolean;
  /**
   * The last axis holds classes (probabilities `[N, ..., C]`, e.g. a softmax),
   * and the loss is 1 − the mean over classes of each class's dice. Default:
   * true when the target is class indices `[N, ...]`, false when it has the
   * input's shape (binary: one mask per example).
   */
  multiclass?: boolean;
}

/**
 * The soft dice loss for segmentation: `1 − (2·Σ p·g + smooth) / (Σ p + Σ g + smooth)`
 * per example, summed over its pixels (Σ p² + Σ g² with `squared`, the form of
 * Milletari et al. 2016, "V-Net"; the plain sums are the common "dice loss").
 * `input` holds probabilities (after a sigmoid or softmax). Binary: input and
 * target `[N, ...]` of the same shape. Multi-class: input `[N, ..., C]`,
 * target class indices `[N, ...]` (or one-hot with `multiclass: true`); each
 * class's dice is computed per example and averaged over the classes.
 * `"none"` gives `[N]`. PyTorch has no dice loss.
 *
 * @example
 * const p = tf.sigmoid(tf.randomNormal([2, 8, 8]));
 * const mask = tf.randomUniform([2, 8, 8]).greater(0.5).toFloat();
 * d2l.losses.diceLoss(p, mask, { reduction: "none" }); // [2]
 */
export function diceLoss(input: tf.Tensor, target: tf.Tensor, options: DiceLossOptions = {}): tf.Tensor {
  const fn = "diceLoss";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction);
  const smooth = positive(fn, "smooth", options.smooth ?? 1, true);
  if (input.rank < 1) throw new Error(`${fn}: input must be [N, ...] probabilities, got a scalar`);
  const indices = !sameShape(target.shape, input.shape);
  const multiclass = options.multiclass ?? indices;
  if (indices && !multiclass) {
    throw new Error(`${fn}(input, target): with multiclass: false the target must have the input's shape ${shapeStr(input.shape)} (a 0/1 mask), got ${shapeStr(target.shape)}`);
  }
  if (multiclass && input.rank < 2) throw new Error(`${fn}: a multi-class input must be [N, ..., C] (classes last), got ${shapeStr(input.shape)}`);
  return tf.tidy(() => {
    const p = toFloat(input);
    const g = indices ? tf.cast(tf.oneHot(indexTarget(fn, input, target), input.shape[input.rank - 1]), "float32") : toFloat(target);
    const last = multiclass ? input.rank - 1 : input.rank;
    const axes = Array.from({ length: last - 1 }, (_, i) => i + 1);
    const sum = (t: tf.Tensor) => (axes.length === 0 ? t : tf.sum(t, axes));
    const inter = sum(tf.mul(p, g));
    const den = options.squared ? tf.add(sum(tf.square(p)), sum(tf.square(g))) : tf.add(sum(p), sum(g));
    let dice = tf.div(tf.add(tf.mul(2, inter), smooth), tf.add(den, smooth));
    if (multiclass) dice = tf.mean(dice, -1);
    return reduce(tf.sub(1, dice), reduction);
  });
}

// ---------------------------------------------------------------------------
// distributions

/** Options of {@link klDiv} (torch's `F.kl_div`). */
export interface KlDivOptions {
  /** `"none"`, `"mean"` (over every element, torch's default), `"sum"`, or `"batchmean"` (sum / N: the KL divergence per example). */
  reduction?: Reduction | "batchmean";
  /** The target is given as log-probabilities too (default false). */
  logTarget?: boolean;
}

/**
 * The Kullback–Leibler divergence loss (torch's `F.kl_div` / `nn.KLDivLoss`):
 * `input` holds LOG-probabilities (e.g. `tf.logSoftmax(logits)`), `target`
 * probabilities (or log-probabilities with `logTarget`); element-wise
 * `target·(log target − input)` (0 where target is 0). `"batchmean"` is
 * KL(target ‖ exp(input)) per example, the divergence itself; torch's default
 * `"mean"` divides by the number of elements as well.
 *
 * @example
 * const logq = tf.logSoftmax(tf.tensor2d([[1, 2, 3]]));
 * const p = tf.tensor2d([[0.2, 0.3, 0.5]]);
 * d2l.losses.klDiv(logq, p, { reduction: "batchmean" }); // KL(p || q)
 */
export function klDiv(input: tf.Tensor, target: tf.Tensor, options: KlDivOptions = {}): tf.Tensor {
  const fn = "klDiv";
  checkTensor(fn, "input", input);
  checkTensor(fn, "target", target);
  const reduction = reductionOf(fn, options.reduction, ["none", "mean", "sum", "batchmean"]);
  return tf.tidy(() => {
    const x = toFloat(input);
    const t = toFloat(elementTarget(fn, input, target));
    let l: tf.Tensor;
    if (options.logTarget) l = tf.mul(tf.exp(t), tf.sub(t, x));
    else {
      const pos = constMask(t, (a) => tf.greater(a, 0));
      const xlogx = tf.where(pos, tf.mul(t, tf.log(tf.where(pos, t, tf.onesLike(t)))), tf.zerosLike(t));
      l = tf.sub(xlogx, tf.mul(t, x));
    }
    if (reduction === "batchmean") return input.rank === 0 ? l : tf.div(tf.sum(l), input.shape[0]);
    return reduce(l, reduction);
  });
}

// ---------------------------------------------------------------------------
// embeddings: center loss (Wen et al. 2016), ArcFace (Deng et al. 2019)

/**
 * The center loss of each example (Wen et al. 2016, "A Discriminative Feature
 * Learning Approach for Deep Face Recognition", eq. 2):
 * `½·‖x_i − c_{y_i}‖²` for features `[N, D]`, centers `[C, D]` and class
 * indices `[N]`. The paper's `L_C` is the `"sum"`. {@link CenterLoss} holds the
 * centers and updates them.
 *
 * @example
 * const centers = tf.zeros([10, 2]);
 * d2l.losses.centerLoss(tf.randomNormal([4, 2]), centers, tf.tensor1d([0, 1, 1, 3], "int32"), { reduction: "none" }); // [4]
 */
export function centerLoss(features: tf.Tensor, centers: tf.Tensor, labels: tf.Tensor, options: ReductionOptions = {}): tf.Tensor {
  const fn = "centerLoss";
  checkTensor(fn, "features", features);
  checkTensor(fn, "centers", centers);
  checkTensor(fn, "labels", labels);
  const reduction = reductionOf(fn, options.reduction);
  checkEmbeddings(fn, features, centers, "centers");
  return tf.tidy(() => {
    const y = classLabels(fn, features.shape[0], labels);
    const c = tf.gather(centers, y);
    return reduce(tf.mul(0.5, tf.sum(tf.square(tf.sub(toFloat(features), c)), -1)), reduction);
  });
}

/** Class indices `[N]` (or `[N, 1]`) for N feature vectors, as int32. */
function classLabels(fn: string, N: number, labels: tf.Tensor): tf.Tensor {
  if (labels.rank === 1 && labels.shape[0] === N) return labels.dtype === "int32" ? labels : tf.cast(labels, "int32");
  if (labels.rank === 2 && labels.shape[0] === N && labels.shape[1] === 1) return tf.cast(tf.reshape(labels, [N]), "int32");
  const hint = labels.rank === 2 && labels.shape[0] === N ? ", which looks one-hot; pass class indices (e.g. labels.argMax(-1))" : "";
  throw new Error(`${fn}: labels must be class indices of shape [${N}] (one per feature vector), got ${shapeStr(labels.shape)}${hint}`);
}

function checkEmbeddings(fn: string, x: tf.Tensor, w: tf.Tensor, what: string): void {
  if (x.rank !== 2) throw new Error(`${fn}: expected the features (embeddings) of shape [N, D], got ${shapeStr(x.shape)}`);
  if (w.rank !== 2 || w.shape[1] !== x.shape[1]) {
    throw new Error(`${fn}: expected ${what} of shape [numClasses, ${x.shape[1]}] (one row per class, as long as a feature vector), got ${shapeStr(w.shape)}`);
  }
}

/** Options of {@link CenterLoss}. */
export interface CenterLossOptions extends ReductionOptions {
  /** Number of classes (rows of the centers). */
  numClasses: number;
  /** Length of a feature vector. */
  featDim: number;
  /** The paper's center learning rate α for {@link CenterLoss.updateCenters} (default 0.5). */
  alpha?: number;
  /**
   * Make the centers a trainable variable, learned by the optimizer from the
   * loss' gradient (as many PyTorch ports do) instead of the paper's update
   * (default false).
   */
  learnable?: boolean;
  /** Starting centers `[numClasses, featDim]` (default zeros). */
  centers?: tf.Tensor;
}

/**
 * The center loss with its class centers (Wen et al. 2016): `forward(x, y)`
 * is `½‖x_i − c_{y_i}‖²` ({@link centerLoss}), pulling each feature vector
 * toward its class's center; trained jointly with softmax cross-entropy as
 * `L = L_S + λ·L_C`.
 *
 * The centers, `[numClasses, featDim]`, are updated one of two ways:
 * - the paper's (default): a non-trainable variable; after each batch call
 *   `updateCenters(x, y)`, which applies eq. 4 with rate `alpha`:
 *   `Δc_j = Σ_{i: y_i = j} (c_j − x_i) / (1 + n_j)`, `c_j ← c_j − α·Δc_j`;
 * - `learnable: true`: a trainable variable; pass `centers` among the
 *   parameters the optimizer trains (its gradient is `Σ (c_j − x_i)`).
 *
 * @example
 * const center = new d2l.losses.CenterLoss({ numClasses: 10, featDim: 2, alpha: 0.5 });
 * // inside a training step, with the net's features and logits:
 * const l = tf.add(d2l.losses.crossEntropy(logits, y, { reduction: "none" }), tf.mul(0.01, center.forward(feats, y, "none")));
 * center.updateCenters(feats, y); // the paper's center step
 */
export class CenterLoss {
  /** The class centers `[numClasses, featDim]`. */
  readonly centers: tf.Variable;
  /** The paper's center learning rate. */
  readonly alpha: number;
  /** Whether the optimizer learns the centers (else the paper's update does). */
  readonly learnable: boolean;
  /** The reduction of `forward` unless it is given one. */
  readonly reduction: Reduction;

  constructor(options: CenterLossOptions) {
    const fn = "CenterLoss";
    if (options === null || typeof options !== "object") throw new Error(`new ${fn}(options) expects { numClasses, featDim }`);
    const { numClasses: C, featDim: D } = options;
    if (!Number.isInteger(C) || C < 1) throw new Error(`${fn}: numClasses must be a positive integer, got ${JSON.stringify(C)}`);
    if (!Number.isInteger(D) || D < 1) throw new Error(`${fn}: featDim must be a positive integer, got ${JSON.stringify(D)}`);
    this.alpha = positive(fn, "alpha", options.alpha ?? 0.5, true);
    this.learnable = options.learnable ?? false;
    this.reduction = reductionOf(fn, options.reduction) as Reduction;
    let init: tf.Tensor;
    if (options.centers !== undefined) {
      checkTensor(fn, "centers", options.centers);
      if (!sameShape(options.centers.shape, [C, D])) throw new Error(`${fn}: centers must have shape [${C}, ${D}], got ${shapeStr(options.centers.shape)}`);
      init = tf.cast(options.centers, "float32");
    } else init = tf.zeros([C, D]);
    this.centers = tf.variable(init, this.learnable);
    init.dispose();
  }

  /**
   * The center loss of a batch: features `[N, featDim]`, class indices `[N]`.
   *
   * @example
   * center.forward(feats, y, "none"); // [N]
   */
  forward(features: tf.Tensor, labels: tf.Tensor, reduction: Reduction = this.reduction): tf.Tensor {
    return centerLoss(features, this.centers, labels, { reduction });
  }

  /**
   * The paper's center update (eq. 4) from a batch: each class's center moves
   * toward the mean of its features in the batch, by `alpha·n_j/(1 + n_j)`.
   * Not for `learnable` centers (the optimizer moves those).
   *
   * @example
   * center.updateCenters(feats, y);
   */
  updateCenters(features: tf.Tensor, labels: tf.Tensor): void {
    const fn = "CenterLoss.updateCenters";
    if (this.learnable) throw new Error(`${fn}: these centers are learnable (the optimizer updates them); the paper's update is for learnable: false`);
    checkTensor(fn, "features", features);
    checkTensor(fn, "labels", labels);
    checkEmbeddings(fn, features, this.centers, "centers");
    tf.tidy(() => {
      const C = this.centers.shape[0];
      const y = classLabels(fn, features.shape[0], labels);
      const hot = tf.cast(tf.oneHot(y, C), "float32"); // [N, C]
      const counts = tf.expandDims(tf.sum(hot, 0), 1); // [C, 1]
      const sums = tf.matMul(hot, toFloat(features), true, false); // [C, D]
      const delta = tf.div(tf.sub(tf.mul(counts, this.centers), sums), tf.add(counts, 1));
      this.centers.assign(tf.sub(this.centers, tf.mul(this.alpha, delta)));
    });
  }

  /**
   * Free the centers.
   *
   * @example
   * center.dispose();
   */
  dispose(): void {
    this.centers.dispose();
  }
}

/** Options of {@link arcFaceLogits} and {@link arcFaceLoss}. */
export interface ArcFaceOptions {
  /** The scale s of the normalized logits (default 64, as the paper). */
  s?: number;
  /** The additive angular margin m, in radians (default 0.5, as the paper). */
  m?: number;
  /**
   * Apply the margin only where cos θ > 0 (the reference implementation's
   * `easy_margin`; default false: where θ + m would pass π, use `cos θ − m·sin m`,
   * which keeps the target logit decreasing in θ).
   */
  easyMargin?: boolean;
}

function arcOptions(fn: string, o: ArcFaceOptions): { s: number; m: number; easyMargin: boolean } {
  const s = positive(fn, "s", o.s ?? 64);
  const m = positive(fn, "m", o.m ?? 0.5, true);
  if (m >= Math.PI / 2) throw new Error(`${fn}: m is an angle in radians and must be below π/2, got ${m}`);
  return { s, m, easyMargin: o.easyMargin ?? false };
}

/** Rows scaled to unit length (torch's `F.normalize`, eps 1e-12). */
function normalizeRows(x: tf.Tensor): tf.Tensor {
  return tf.div(x, tf.maximum(tf.norm(x, "euclidean", -1, true), 1e-12));
}

/**
 * ArcFace's logits (Deng et al. 2019, "ArcFace: Additive Angular Margin Loss
 * for Deep Face Recognition", eq. 3): with embeddings and class weights both
 * normalized, `cos θ_j = x̂·ŵ_j`; the true class gets `s·cos(θ_y + m)`, every
 * other class `s·cos θ_j`. Where θ_y + m would pass π, the reference
 * implementation's `s·(cos θ_y − m·sin m)` is used (or, with `easyMargin`, no
 * margin where cos θ_y ≤ 0). `weight` is `[numClasses, D]`.
 *
 * @example
 * const logits = d2l.losses.arcFaceLogits(emb, W, y, { s: 30, m: 0.5 }); // [N, numClasses]
 */
export function arcFaceLogits(embeddings: tf.Tensor, weight: tf.Tensor, labels: tf.Tensor, options: ArcFaceOptions = {}): tf.Tensor {
  const fn = "arcFaceLogits";
  checkTensor(fn, "embeddings", embeddings);
  checkTensor(fn, "weight", weight);
  checkTensor(fn, "labels", labels);
  checkEmbeddings(fn, embeddings, weight, "weight");
  const { s, m, easyMargin } = arcOptions(fn, options);
  return tf.tidy(() => {
    const cos = arcCosine(embeddings, weight);
    const y = indexTarget(fn, cos, labels);
    const v = tf.sub(1, tf.square(cos));
    const sine = tf.where(
      constMask(v, (a) => tf.greater(a, 0)),
      tf.sqrt(tf.maximum(v, 1e-30)),
      tf.zerosLike(v),
    );
    let phi = tf.sub(tf.mul(cos, Math.cos(m)), tf.mul(sine, Math.sin(m)));
    if (easyMargin)
      phi = tf.where(
        constMask(cos, (a) => tf.greater(a, 0)),
        phi,
        cos,
      );
    else
      phi = tf.where(
        constMask(cos, (a) => tf.greater(a, Math.cos(Math.PI - m))),
        phi,
        tf.sub(cos, Math.sin(Math.PI - m) * m),
      );
    const isY = tf.cast(tf.oneHot(y, weight.shape[0]), "bool");
    return tf.mul(tf.where(isY, phi, cos), s);
  });
}

function arcCosine(embeddings: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  return tf.matMul(normalizeRows(toFloat(embeddings)), normalizeRows(toFloat(weight)), false, true);
}

/**
 * The ArcFace loss (Deng et al. 2019): {@link crossEntropy} of
 * {@link arcFaceLogits}. PyTorch has no ArcFace; {@link ArcFace} holds the
 * class weights as a layer would.
 *
 * @example
 * const l = d2l.losses.arcFaceLoss(emb, W, y, { s: 30, m: 0.5, reduction: "none" }); // [N]
 */
export function arcFaceLoss(embeddings: tf.Tensor, weight: tf.Tensor, labels: tf.Tensor, options: ArcFaceOptions & ReductionOptions = {}): tf.Tensor {
  const reduction = reductionOf("arcFaceLoss", options.reduction) as Reduction;
  return tf.tidy(() => crossEntropy(arcFaceLogits(embeddings, weight, labels, options), labels, { reduction }));
}

/** Options of {@link ArcFace}. */
export interface ArcFaceLayerOptions extends ArcFaceOptions, ReductionOptions {
  /** Length of an embedding. */
  inFeatures: number;
  /** Number of classes. */
  numClasses: number;
  /** Starting class weights `[numClasses, inFeatures]` (default Xavier uniform, as the reference implementation). */
  weight?: tf.Tensor;
  /** Seed of the default initialization. */
  seed?: number;
}

/**
 * ArcFace's margin layer (Deng et al. 2019): it holds the class weights `W`
 * `[numClasses, inFeatures]` (trainable) and turns embeddings into margin
 * logits for training (`logits(x, y)`, {@link arcFaceLogits}) and the loss
 * (`forward(x, y)`, {@link arcFaceLoss}). For prediction use `cosine(x)`
 * (`[N, numClasses]`, no margin) or `predict(x)`. Train `W` with the net:
 * `params: [...netParams, arc.weight]`.
 *
 * @example
 * const arc = new d2l.losses.ArcFace({ inFeatures: 64, numClasses: 10, s: 30, m: 0.5 });
 * const l = arc.forward(embeddings, y, "none");   // [N], inside the gradient tape
 * const classes = arc.predict(testEmbeddings);   // [N]
 */
export class ArcFace {
  /** The class weights `[numClasses, inFeatures]`. */
  readonly weight: tf.Variable;
  /** The scale. */
  readonly s: number;
  /** The angular margin (radians). */
  readonly m: number;
  /** Whether the margin applies only where cos θ > 0. */
  readonly easyMargin: boolean;
  /** The reduction of `forward` unless it is given one. */
  readonly reduction: Reduction;

  constructor(options: ArcFaceLayerOptions) {
    const fn = "ArcFace";
    if (options === null || typeof options !== "object") throw new Error(`new ${fn}(options) expects { inFeatures, numClasses }`);
    const { inFeatures: D, numClasses: C } = options;
    if (!Number.isInteger(D) || D < 1) throw new Error(`${fn}: inFeatures must be a positive integer, got ${JSON.stringify(D)}`);
    if (!Number.isInteger(C) || C < 1) throw new Error(`${fn}: numClasses must be a positive integer, got ${JSON.stringify(C)}`);
    const o = arcOptions(fn, options);
    this.s = o.s;
    this.m = o.m;
    this.easyMargin = o.easyMargin;
    this.reduction = reductionOf(fn, options.reduction) as Reduction;
    let init: tf.Tensor;
    if (options.weight !== undefined) {
      checkTensor(fn, "weight", options.weight);
      if (!sameShape(options.weight.shape, [C, D])) throw new Error(`${fn}: weight must have shape [${C}, ${D}] ([numClasses, inFeatures]), got ${shapeStr(options.weight.shape)}`);
      init = tf.cast(options.weight, "float32");
    } else {
      const limit = Math.sqrt(6 / (C + D));
      init = tf.randomUniform([C, D], -limit, limit, "float32", options.seed);
    }
    this.weight = tf.variable(init, true);
    init.dispose();
  }

  /** The trainable weights (`[weight]`), to add to the net's parameters. */
  get trainableWeights(): tf.Variable[] {
    return [this.weight];
  }

  /**
   * `cos θ` between each embedding and each class weight, `[N, numClasses]`, no margin.
   *
   * @example
   * arc.cosine(emb).argMax(1); // the nearest class
   */
  cosine(embeddings: tf.Tensor): tf.Tensor {
    checkTensor("ArcFace.cosine", "embeddings", embeddings);
    checkEmbeddings("ArcFace.cosine", embeddings, this.weight, "weight");
    return tf.tidy(() => arcCosine(embeddings, this.weight));
  }

  /**
   * The margin logits for training ({@link arcFaceLogits}).
   *
   * @example
   * arc.logits(emb, y); // [N, numClasses]
   */
  logits(embeddings: tf.Tensor, labels: tf.Tensor): tf.Tensor {
    return arcFaceLogits(embeddings, this.weight, labels, { s: this.s, m: this.m, easyMargin: this.easyMargin });
  }

  /**
   * The ArcFace loss of a batch ({@link arcFaceLoss}).
   *
   * @example
   * arc.forward(emb, y, "none"); // [N]
   */
  forward(embeddings: tf.Tensor, labels: tf.Tensor, reduction: Reduction = this.reduction): tf.Tensor {
    return arcFaceLoss(embeddings, this.weight, labels, { s: this.s, m: this.m, easyMargin: this.easyMargin, reduction });
  }

  /**
   * The predicted class of each embedding: the class weight at the smallest angle.
   *
   * @example
   * arc.predict(emb); // [N] int32
   */
  predict(embeddings: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.argMax(this.cosine(embeddings), -1));
  }

  /**
   * Free the class weights.
   *
   * @example
   * arc.dispose();
   */
  dispose(): void {
    this.weight.dispose();
  }
}
