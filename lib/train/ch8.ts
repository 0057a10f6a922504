/**
 * Chapter 8's training helpers for recurrent language models:
 * `grad_clipping`, `predict_ch8`, `train_epoch_ch8`, `train_ch8`, thin
 * wrappers over the {@link Engine}.
 *
 * How a stateful model fits the engine: the engine trains a function net
 * `(X) => yHat`; here that function runs `net.call(X, state)` with a state
 * kept between batches by a callback ({@link CarriedState}): a fresh zero
 * state at every epoch's start, and for random sampling before every batch;
 * for sequential sampling the state one batch ends with starts the next,
 * *detached* (tfjs differentiates each batch on its own tape, so no gradient
 * flows into earlier batches: the book's `s.detach_()`). The logits
 * `[numSteps * batch, vocab]` are laid out as `[batch, numSteps, vocab]` so
 * that an "example" is one subsequence, its loss the mean cross-entropy over
 * its tokens: the epoch's mean loss is then the mean per token, whose
 * exponential is the perplexity, and tokens/sec is examples/sec times numSteps.
 */
import * as tf from "@tensorflow/tfjs";
import type { Vocab } from "../text/vocab";
import { RNNModel, type RecurrentNet } from "../nn/rnn";
import { Animator } from "../plot/index";
import { showSummary } from "../report";
import { Engine, type Callback, type TrainState } from "./engine";
import { quickEpochs, QUICK_EPOCHS } from "../quick";
import { ProgressCallback, backendDescription } from "./callbacks/display";
import { GradClippingCallback } from "./callbacks/gradients";
export { gradClipping, GradClippingCallback } from "./callbacks/gradients";
import { sgd } from "./scratch";
import { withLearningRate } from "./schedules";
import { crossEntropy } from "./losses";
import { type DataIter, type Loss, type Updater, isOptimizer, shapeStr } from "./types";
import type { AnimatorLike, ProgressBarLike } from "./ui";

/**
 * Keeps a recurrent net's state between the engine's batches and gives the
 * engine the function net it trains (see the file's comment).
 */
class CarriedState implements Callback {
  readonly order = -500;
  private state: tf.Tensor[] | undefined;
  private next: tf.Tensor[] | undefined;
  /** Time steps of the last batch. */
  numSteps = 0;

  constructor(
    private readonly net: RecurrentNet,
    private readonly useRandomIter: boolean,
  ) {}

  /** The function net for the engine: `[batch, steps]` indices → logits `[batch, steps, vocab]`. */
  readonly forward = (X: tf.Tensor): tf.Tensor => {
    if (X.rank !== 2) {
      throw new Error(`trainCh8: the data iterator must yield token indices X of shape [batchSize, numSteps] (as d2l.loadDataTimeMachine does), got ${shapeStr(X.shape)}`);
    }
    const [b, T] = X.shape as [number, number];
    this.numSteps = T;
    if (this.state !== undefined && (this.useRandomIter || this.state[0]?.shape[0] !== b)) this.drop();
    this.state ??= this.net.beginState(b).map((s) => tf.keep(s));
    const [Y, newState] = this.net.call(X, this.state, true);
    dispose(this.next);
    this.next = newState.map((s) => tf.keep(s)); // outlives the engine's gradient scope
    if (Y.rank !== 2 || Y.shape[0] !== T * b) {
      throw new Error(`trainCh8: net.call(X, state) returned logits of shape ${shapeStr(Y.shape)}; expected [numSteps * batchSize, vocabSize] = [${T * b}, ${this.net.vocabSize}]`);
    }
    return tf.transpose(tf.reshape(Y, [T, b, -1]), [1, 0, 2]);
  };

  private drop(): void {
    dispose(this.state);
    this.state = undefined;
  }

  /** @internal */
  onEpochBegin(): void {
    this.drop(); // the book's state = None at each epoch's start
  }

  /** @internal */
  onBatchEnd(): void {
    if (this.next === undefined) return;
    dispose(this.state);
    this.state = this.next; // carried to the next batch, detached
    this.next = undefined;
  }

  /** @internal */
  onTrainEnd(): void {
    this.drop();
    dispose(this.next);
    this.next = undefined;
  }
}

function dispose(ts: tf.Tensor[] | undefined): void {
  for (const t of ts ?? []) t.dispose();
}

function checkNet(net: RecurrentNet, who: string): void {
  const n = net as Partial<RecurrentNet> | null;
  if (!n || typeof n !== "object" || typeof n.call !== "function" || typeof n.beginState !== "function" || !Array.isArray(n.params)) {
    throw new Error(`${who}: expected a recurrent net with call(X, state), beginState(batchSize) and params, such as d2l.RNNModelScratch or d2l.RNNModel`);
  }
}

/**
 * The per-token loss of the book's `nn.CrossEntropyLoss(reduction='none')`
 * on logits: `(yHat [N, vocab], y [N]) => [N]` (`d2l.losses.crossEntropy`).
 */
function tokenCrossEntropy(yHat: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return crossEntropy(yHat, y, { reduction: "none" });
}

/** A per-token loss as the engine's per-subsequence loss: mean over the subsequence's tokens. */
function perSequence(loss: Loss): Loss {
  return (yHat: tf.Tensor, y: tf.Tensor) =>
    tf.tidy(() => {
      const [b, T, V] = yHat.shape as [number, number, number];
      const l = loss(tf.reshape(yHat, [b * T, V]), tf.reshape(y, [b * T]));
      if (l.size !== b * T) throw new Error(`trainCh8: the loss must return one value per token (shape [${b * T}]), got shape ${shapeStr(l.shape)}`);
      return tf.mean(tf.reshape(l, [b, T]), 1);
    });
}

/**
 * Predict `numPreds` characters after `prefix` (the book's `predict_ch8`):
 * the prefix warms the state up one character at a time, then each
 * prediction (the most likely next character) is fed back in. Returns the
 * prefix followed by the predicted characters. Reads each prediction back
 * with `await` (the book's `int(y.argmax(...))`), so it works on every
 * backend, webgpu included.
 *
 * @example
 * await d2l.predictCh8("time traveller ", 10, net, vocab); // "time traveller " + 10 characters
 */
export async function predictCh8(prefix: string, numPreds: number, net: RecurrentNet, vocab: Vocab, device?: string): Promise<string> {
  checkNet(net, "predictCh8");
  if (typeof prefix !== "string" || prefix.length === 0)
    throw new Error(`predictCh8(prefix, numPreds, net, vocab): prefix must be a non-empty string, got ${JSON.stringify(prefix)}`);
  if (!Number.isInteger(numPreds) || numPreds < 0) throw new Error(`predictCh8: numPreds must be a non-negative integer, got ${String(numPreds)}`);
  const chars = Array.from(prefix);
  let state = net.beginState(1, device);
  const outputs: number[] = [vocab.toIndices(chars[0])];
  const step = (): tf.Tensor => {
    const X = tf.tensor2d([[outputs[outputs.length - 1]]], [1, 1], "int32");
    try {
      const [Y, newState] = net.call(X, state);
      dispose(state);
      state = newState;
      return Y;
    } finally {
      X.dispose();
    }
  };
  try {
    for (const c of chars.slice(1)) {
      step().dispose(); // warm-up: the output is not used
      outputs.push(vocab.toIndices(c));
    }
    for (let i = 0; i < numPreds; i++) {
      const Y = step();
      const best = tf.argMax(Y, 1);
      Y.dispose();
      try {
        outputs.push((await best.data())[0]);
      } finally {
        best.dispose();
      }
    }
  } finally {
    dispose(state);
  }
  return vocab.toTokens(outputs).join("");
}

/**
 * Train a recurrent language model for one epoch (the book's
 * `train_epoch_ch8`), with gradient clipping at 1; returns the perplexity
 * and tokens per second. `loss` gives one loss per token from the logits
 * `[N, vocab]` and labels `[N]`; `updater` is a `tf.Optimizer` or the
 * book's `(batchSize) => d2l.sgd(net.params, lr, batchSize)`. The state is
 * fresh for every batch with random sampling, carried (detached) with sequential.
 *
 * @example
 * const [ppl, speed] = await d2l.trainEpochCh8(net, trainIter, loss, tf.train.sgd(1), d2l.tryGpu(), false);
 */
export async function trainEpochCh8(net: RecurrentNet, trainIter: DataIter, loss: Loss, updater: Updater, device?: string, useRandomIter = false): Promise<[number, number]> {
  checkNet(net, "trainEpochCh8");
  void device;
  const carried = new CarriedState(net, useRandomIter);
  const engine = new Engine({ net: carried.forward, loss: perSequence(loss), updater, params: net.params, accuracy: false });
  const r = await engine.fit(trainIter, { numEpochs: 1, callbacks: [carried, new GradClippingCallback(1)] });
  return [Math.exp(r.trainLoss), r.examplesPerSec * carried.numSteps];
}

/** Options of {@link trainCh8} beyond the book's arguments. */
export interface TrainCh8Options {
  /** The animator to draw on, or `false` for none (default: a new `d2l.Animator` of the perplexity, as the book's). */
  animator?: AnimatorLike | false;
  /** A progress bar maker, or `false` for none (default: a `d2l.ProgressBar`). */
  progress?: ((total: number, unit: "examples" | "batches") => ProgressBarLike) | false;
  /**
   * Plot the perplexity and print a prediction every this many epochs (and
   * after the last). Default: 10, as the book; for fewer than 50 epochs a
   * fifth of them, so that a short run still draws a curve.
   */
  predictEvery?: number;
  /** Print the predictions and the book's summary lines (default true). */
  verbose?: boolean;
  /** Clip gradients to this norm (default 1, the book's). */
  theta?: number;
  /** More callbacks. */
  callbacks?: Callback[];
}

/** What {@link trainCh8} returns. */
export interface TrainCh8Result {
  /** Perplexity over the last epoch. */
  perplexity: number;
  /** Tokens per second of training-step time. */
  tokensPerSec: number;
  /** Perplexity of every epoch. */
  perplexities: number[];
}

/** Plots the perplexity and prints a prediction every few epochs (the book's loop in `train_ch8`). */
class PerplexityPlot implements Callback {
  private animator: AnimatorLike | undefined;
  constructor(
    private readonly given: AnimatorLike | false | undefined,
    private readonly every: number | undefined,
    private readonly predict: ((prefix: string) => Promise<string>) | undefined,
  ) {}

  private period(numEpochs: number): number {
    return this.every ?? (numEpochs >= 50 ? 10 : Math.max(1, Math.floor(numEpochs / 5)));
  }

  /** @internal */
  onTrainBegin(state: TrainState): void {
    if (this.given === false) return;
    const every = this.period(state.numEpochs);
    this.animator =
      this.given ?? new Animator({ xlabel: "epoch", ylabel: "perplexity", legend: ["train"], xlim: state.numEpochs > every ? [every, state.numEpochs] : [0, state.numEpochs] });
  }

  /** @internal */
  async onEpochEnd(state: TrainState): Promise<void> {
    const e = state.epoch + 1;
    if (e % this.period(state.numEpochs) !== 0 && e !== state.numEpochs) return;
    if (this.predict) console.log(await this.predict("time traveller"));
    this.animator?.add(e, [Math.exp(state.trainLoss)]);
  }

  /** @internal */
  onTrainEnd(): void | Promise<void> {
    return this.animator?.finish?.();
  }
}

/**
 * Train a recurrent language model (the book's `train_ch8`): SGD with
 * learning rate `lr` (for a from-scratch net the book's
 * `d2l.sgd(net.params, lr, batchSize)`, for a `d2l.RNNModel`
 * `tf.train.sgd(lr)`), gradients clipped to norm 1, the state fresh for every
 * batch with random sampling (`useRandomIter`) and carried over, detached,
 * with sequential sampling. Every 10 epochs it prints the prediction for
 * "time traveller" and plots the perplexity with the Animator; it ends with
 * the book's lines `perplexity 1.0, 12345.6 tokens/sec on wasm (2 threads)`
 * and the predictions for "time traveller" and "traveller". `device` keeps
 * the book's call shape (tfjs computes on the backend `d2l.useBackend` chose).
 *
 * Pressing stop ends training after the current batch with an
 * `InterruptedError`; a NaN loss ends it with an error (the model keeps the
 * last good weights). In quick mode (`D2L_QUICK=1`) it trains at most
 * `QUICK_EPOCHS.trainCh8` (3) epochs.
 *
 * @example
 * const [trainIter, vocab] = await d2l.loadDataTimeMachine(32, 35);
 * const net = new d2l.RNNModel(tf.layers.gru({ units: 256, returnSequences: true, returnState: true }), vocab.length);
 * const { perplexity, tokensPerSec } = await d2l.trainCh8(net, trainIter, vocab, 1, 500);
 */
export async function trainCh8(
  net: RecurrentNet,
  trainIter: DataIter,
  vocab: Vocab,
  lr: number,
  numEpochs: number,
  device?: string,
  useRandomIter = false,
  options: TrainCh8Options = {},
): Promise<TrainCh8Result> {
  checkNet(net, "trainCh8");
  if (typeof lr !== "number" || !(lr > 0)) throw new Error(`trainCh8: lr must be a positive number, got ${String(lr)}`);
  if (!Number.isInteger(numEpochs) || numEpochs < 1) throw new Error(`trainCh8: numEpochs must be a positive integer, got ${String(numEpochs)}`);
  numEpochs = quickEpochs(numEpochs, QUICK_EPOCHS.trainCh8, "trainCh8");
  if (options.predictEvery !== undefined && !(Number.isInteger(options.predictEvery) && options.predictEvery >= 1)) {
    throw new Error(`trainCh8: predictEvery must be a positive integer, got ${String(options.predictEvery)}`);
  }
  const verbose = options.verbose ?? true;
  // The book: torch.optim.SGD for an nn.Module, d2l.sgd for the from-scratch model.
  const params = net.params;
  // (the function updater carries its rate, so a d2l.LRSchedulerCallback can change it)
  const updater: Updater = net instanceof RNNModel ? tf.train.sgd(lr) : withLearningRate((batchSize, rate) => sgd(params, rate, batchSize), lr);
  const predict = (prefix: string): Promise<string> => predictCh8(prefix, 50, net, vocab, device);
  const carried = new CarriedState(net, useRandomIter);
  const callbacks: Callback[] = [carried, new GradClippingCallback(options.theta ?? 1)];
  callbacks.push(new PerplexityPlot(options.animator, options.predictEvery, verbose ? predict : undefined));
  if (options.progress !== false) callbacks.push(new ProgressCallback(options.progress ? { bar: options.progress } : {}));
  callbacks.push(...(options.callbacks ?? []));
  const engine = new Engine({ net: carried.forward, loss: perSequence(tokenCrossEntropy), updater, params, accuracy: false });
  try {
    const r = await engine.fit(trainIter, { numEpochs, callbacks, quickEpochs: QUICK_EPOCHS.trainCh8 });
    const perplexity = Math.exp(r.trainLoss);
    const tokensPerSec = r.examplesPerSec * carried.numSteps;
    if (verbose)
      showSummary([
        `perplexity ${perplexity.toFixed(1)}, ${tokensPerSec.toFixed(1)} tokens/sec on ${backendDescription()}`,
        await predict("time traveller"),
        await predict("traveller"),
      ]);
    return { perplexity, tokensPerSec, perplexities: r.history.map((h) => Math.exp(h.trainLoss)) };
  } finally {
    if (isOptimizer(updater)) updater.dispose();
  }
}
