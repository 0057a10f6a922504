/**
 * The shapes of things the training code takes: data iterators, nets, losses,
 * updaters, and how a net runs forward (with the input checks that turn
 * tfjs' shape errors into ones that say what to change).
 */
import * as tf from "@tensorflow/tfjs";

/**
 * A data iterator (`lib/data`'s type; a `d2l.DataLoader` is one): an async
 * iterable of `[X, y]` batches, iterated again for every epoch. Whoever
 * consumes a batch owns its tensors and disposes them (the training code does).
 */
export type { DataIter } from "../data/index";

/**
 * A net: a tfjs `tf.LayersModel` (a `tf.Sequential` is one), or a function from
 * a batch of inputs to a batch of outputs, as the book's from-scratch nets are.
 *
 * The training code tells a net whether it is training, as PyTorch's
 * `net.train()` / `net.eval()` do: a LayersModel runs `apply(X, { training })`,
 * and a function net is called `net(X, training)` (true in training steps,
 * false in evaluation and prediction), so a from-scratch net with dropout can
 * take a second parameter `training` and switch dropout off when it is false.
 * A function that takes only `X` ignores it.
 */
export type Net = tf.LayersModel | ((X: tf.Tensor, training?: boolean) => tf.Tensor);

/**
 * A loss: `(yHat, y)` → the loss of every example, shape `[batch]` (the book's
 * `reduction='none'`). A loss that returns a scalar is taken as the batch mean.
 */
export type Loss = (yHat: tf.Tensor, y: tf.Tensor) => tf.Tensor;

/**
 * What updates the parameters after each batch:
 * - a `tf.Optimizer` (`tf.train.sgd(0.1)`): the engine computes gradients of the
 *   batch's *mean* loss (the book's `l.mean().backward()`) and applies them;
 * - a function `(batchSize) => void` (the book's from-scratch updater): the
 *   engine computes gradients of the batch's *summed* loss (the book's
 *   `l.sum().backward()`), stores them where {@link sgd} `(params, lr,
 *   batchSize)` finds them, and calls the function with the batch size.
 */
export type Updater = tf.Optimizer | ((batchSize: number) => void);

/** A parameter: a tfjs variable, or a layer's weight (`model.trainableWeights[i]`). */
export type Param = tf.Variable | tf.LayerVariable;

/** True for a tfjs LayersModel (a Sequential is one), also one from another copy of tfjs. */
export function isLayersModel(net: unknown): net is tf.LayersModel {
  if (net instanceof tf.LayersModel) return true;
  if (typeof net !== "object" || net === null) return false;
  const m = net as Record<string, unknown>;
  return typeof m.apply === "function" && Array.isArray(m.trainableWeights) && Array.isArray(m.inputs);
}

/** True for a tfjs optimizer, also one from another copy of tfjs. */
export function isOptimizer(u: unknown): u is tf.Optimizer {
  if (u instanceof tf.Optimizer) return true;
  return typeof u === "object" && u !== null && typeof (u as Record<string, unknown>).applyGradients === "function";
}

/** The tfjs variable behind a parameter. */
export function variableOf(p: Param): tf.Variable {
  if (p instanceof tf.Variable) return p;
  if (typeof (p as tf.LayerVariable).read === "function") return (p as tf.LayerVariable).read() as tf.Variable;
  throw new Error(`expected a tf.Variable or a layer weight (model.trainableWeights[i]), got ${describe(p)}`);
}

/** `[256,10]`: a shape as the error messages write it. */
export function shapeStr(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? "null" : String(d))).join(",")}]`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  return typeof v;
}

/**
 * Check that `X` fits the input of a LayersModel: same rank, same size on
 * every fixed dimension. Throws naming the expected and the given shapes.
 */
export function checkModelInput(model: tf.LayersModel, X: tf.Tensor): void {
  let inputs: tf.SymbolicTensor[];
  try {
    inputs = model.inputs;
  } catch {
    return;
  }
  if (!Array.isArray(inputs) || inputs.length !== 1) return;
  const want = inputs[0].shape;
  const ok = want.length === X.rank && want.every((d, i) => d === null || d === X.shape[i]);
  if (ok) return;
  const perExample = X.shape.slice(1);
  const wantPer = want.slice(1);
  let hint = "reshape the batches to the model's input shape";
  if (wantPer.every((d) => d !== null) && perExample.reduce((a, b) => a * b, 1) === wantPer.reduce((a: number, b) => a * (b as number), 1)) {
    hint =
      wantPer.length === 1
        ? `start the model with tf.layers.flatten({ inputShape: ${shapeStr(perExample)} }), or reshape X to [batch, ${wantPer[0]}]`
        : `reshape X to [batch, ${wantPer.join(", ")}]`;
  }
  throw new Error(`the model expects input of shape ${shapeStr(want)} (null: any size) but the data iterator gave X of shape ${shapeStr(X.shape)}; ${hint}`);
}

/**
 * Run the net on a batch. A LayersModel runs with `training` set (dropout and
 * batch norm follow it), after its input shape is checked; a function net is
 * called `net(X, training)`.
 */
export function forward(net: Net, X: tf.Tensor, training: boolean): tf.Tensor {
  if (isLayersModel(net)) {
    checkModelInput(net, X);
    const out = net.apply(X, { training });
    if (Array.isArray(out)) throw new Error(`the model has ${out.length} outputs; the training code handles models with one output`);
    if (!(out instanceof tf.Tensor)) throw new Error("the model returned a symbolic tensor; pass it a tf.Tensor batch");
    return out;
  }
  if (typeof net !== "function") {
    throw new Error(`expected the net to be a tf.LayersModel or a function (X: tf.Tensor) => tf.Tensor, got ${describe(net)}`);
  }
  const out = net(X, training);
  if (!(out instanceof tf.Tensor)) throw new Error(`the net function must return a tf.Tensor, but it returned ${describe(out)}`);
  return out;
}

/**
 * Check that a batch's output and labels describe the same examples: the
 * first dimensions must match. Throws naming both shapes.
 */
export function checkOutputFitsLabels(yHat: tf.Tensor, y: tf.Tensor): void {
  if (yHat.rank === 0 || y.rank === 0 || yHat.shape[0] !== y.shape[0]) {
    throw new Error(
      `the net's output has shape ${shapeStr(yHat.shape)} but the labels y have shape ${shapeStr(y.shape)}; ` +
        `they must hold the same number of examples (first dimension). Check the net's reshape ` +
        `(e.g. X.reshape([-1, numInputs]) with the right numInputs) and the data iterator's batches`,
    );
  }
}

/** Check that `y` holds one class index per row of `yHat` (`[n]` or `[n, 1]`), with a message that says what to pass. */
export function checkClassLabels(fn: string, yHat: tf.Tensor, y: tf.Tensor): void {
  if (yHat.rank !== 2) {
    throw new Error(`${fn}(yHat, y) expects yHat of shape [examples, classes], got ${shapeStr(yHat.shape)}`);
  }
  if (y.rank === 2 && y.shape[1] === yHat.shape[1] && yHat.shape[1] !== 1) {
    throw new Error(`${fn}(yHat, y): y has shape ${shapeStr(y.shape)}, which looks one-hot; pass class indices of shape [${yHat.shape[0]}] (e.g. y.argMax(1))`);
  }
  if (y.size !== yHat.shape[0] || (y.rank !== 1 && !(y.rank === 2 && y.shape[1] === 1))) {
    throw new Error(
      `${fn}(yHat, y): yHat has shape ${shapeStr(yHat.shape)} but y has shape ${shapeStr(y.shape)}; expected y of shape [${yHat.shape[0]}] (one class index per example)`,
    );
  }
}
