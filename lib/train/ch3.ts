/** Chapter 3's training helpers: `train_epoch_ch3`, `train_ch3`, `predict_ch3`, thin wrappers over the {@link Engine}. */
import * as tf from "@tensorflow/tfjs";
import { getFashionMnistLabels } from "../data/index";
import { showImages, type Figure } from "../plot/index";
import { Engine, type Callback } from "./engine";
import { quickEpochs, QUICK_EPOCHS } from "../quick";
import { AnimatorCallback, ProgressCallback, PrintSummary } from "./callbacks";
import { unpackBatch, checkIter } from "./evaluate";
import type { AnimatorLike, ProgressBarLike } from "./ui";
import { type DataIter, type Net, type Loss, type Updater, type Param, forward, checkOutputFitsLabels } from "./types";

/**
 * Train for one epoch (the book's `train_epoch_ch3`) and return the mean
 * training loss and the training accuracy. `loss` returns per-example losses;
 * `updater` is a `tf.Optimizer` or the book's `(batchSize) => d2l.sgd(params, lr, batchSize)`.
 *
 * @example
 * const [trainLoss, trainAcc] = await d2l.trainEpochCh3(net, trainIter, d2l.crossEntropy, updater);
 */
export async function trainEpochCh3(net: Net, trainIter: DataIter, loss: Loss, updater: Updater, params?: Param[]): Promise<[number, number]> {
  const r = await new Engine({ net, loss, updater, params }).fit(trainIter, { numEpochs: 1 });
  return [r.trainLoss, r.trainAcc as number];
}

/** Options of {@link trainCh3} beyond the book's arguments. */
export interface TrainCh3Options {
  /** Parameters to train (default: a LayersModel's weights; for a function net, the trainable variables the loss uses). */
  params?: Param[];
  /** The animator to draw on, or `false` for none (default: a new `d2l.Animator`, as the book's). */
  animator?: AnimatorLike | false;
  /** A progress bar maker, or `false` for none (default: a `d2l.ProgressBar`). */
  progress?: ((total: number, unit: "examples" | "batches") => ProgressBarLike) | false;
  /** Print the book's summary lines at the end (default true). */
  verbose?: boolean;
  /** More callbacks (schedules, early stopping, ...). */
  callbacks?: Callback[];
}

/** What {@link trainCh3} returns. */
export interface TrainCh3Result {
  /** Mean training loss of the last epoch. */
  trainLoss: number;
  /** Training accuracy of the last epoch. */
  trainAcc: number;
  /** Test accuracy after the last epoch. */
  testAcc: number;
  /** Training examples per second (training steps only, as the book's Timer). */
  examplesPerSec: number;
}

/**
 * Train a classifier (the book's `train_ch3`), plotting train loss, train
 * accuracy and test accuracy with the Animator, and end with the book's lines
 * `loss 0.447, train acc 0.848, test acc 0.829` and
 * `12345.6 examples/sec on cpu`.
 *
 * - `net`: a `tf.LayersModel` (its compiled loss and optimizer are not used)
 *   or a function `(X) => yHat`.
 * - `loss(yHat, y)`: per-example losses (the book's `reduction='none'`); `y`
 *   holds int32 class indices.
 * - `updater`: a `tf.Optimizer` (gradients of the mean loss, applied to the
 *   model's trainable weights or to the variables the function net uses), or
 *   the book's from-scratch `(batchSize) => d2l.sgd([W, b], lr, batchSize)`
 *   (gradients of the summed loss, stored for `sgd` to read).
 *
 * Pressing stop ends training after the current batch with an
 * `InterruptedError` (the model keeps that batch's weights); a NaN loss ends
 * it with an error naming the epoch and batch (the model keeps the last good weights).
 * In quick mode (`D2L_QUICK=1`) it trains at most `QUICK_EPOCHS.trainCh3` (2) epochs.
 *
 * @example
 * const W = tf.variable(tf.randomNormal([784, 10], 0, 0.01));
 * const b = tf.variable(tf.zeros([10]));
 * const net = (X: tf.Tensor) => d2l.softmax(X.reshape([-1, 784]).matMul(W).add(b));
 * const updater = (batchSize: number) => d2l.sgd([W, b], 0.1, batchSize);
 * await d2l.trainCh3(net, trainIter, testIter, d2l.crossEntropy, 10, updater);
 */
export async function trainCh3(
  net: Net,
  trainIter: DataIter,
  testIter: DataIter,
  loss: Loss,
  numEpochs: number,
  updater: Updater,
  options: TrainCh3Options = {},
): Promise<TrainCh3Result> {
  checkIter(testIter, "test");
  const callbacks: Callback[] = [];
  if (options.animator !== false) callbacks.push(new AnimatorCallback({ animator: options.animator }));
  if (options.progress !== false) callbacks.push(new ProgressCallback(options.progress ? { bar: options.progress } : {}));
  if (options.verbose ?? true) callbacks.push(new PrintSummary());
  callbacks.push(...(options.callbacks ?? []));
  const epochs = quickEpochs(numEpochs, QUICK_EPOCHS.trainCh3, "trainCh3");
  const r = await new Engine({ net, loss, updater, params: options.params }).fit(trainIter, { numEpochs: epochs, testIter, callbacks, quickEpochs: QUICK_EPOCHS.trainCh3 });
  return { trainLoss: r.trainLoss, trainAcc: r.trainAcc as number, testAcc: r.testAcc as number, examplesPerSec: r.examplesPerSec };
}

/**
 * What {@link predictCh3} returns: the figure of `d2l.showImages` (it shows
 * itself once, as the cell's result or right after the cell), with the labels.
 */
export type PredictCh3Result = Figure & {
  /** True labels of the first n test examples. */
  readonly trues: string[];
  /** Predicted labels. */
  readonly preds: string[];
  /** The titles above the images: `true\npred`. */
  readonly titles: string[];
};

/** The first `k` examples of X as images for showImages: [k, H, W] or [k, H, W, C]. */
function asImages(X: tf.Tensor, k: number): tf.Tensor {
  return tf.tidy(() => {
    const first = X.slice(0, k);
    const s = first.shape;
    if (s.length === 3) return first;
    if (s.length === 4 && [1, 3, 4].includes(s[3] as number)) return first;
    if (s.length === 4 && s[1] === 1) return first.reshape([k, s[2] as number, s[3] as number]); // channels first, one channel
    const per = first.size / k;
    const side = Math.round(Math.sqrt(per));
    if (side * side === per) return first.reshape([k, side, side]); // the book's X[0:n].reshape((n, 28, 28))
    throw new Error(
      `predictCh3 shows the test examples as images, but X has shape [${X.shape.join(",")}]; expected [batch, H, W], [batch, H, W, C], or square flat images like [batch, 784]`,
    );
  });
}

/**
 * Predict the labels of the first `n` test images and show them with
 * "true\npred" titles (the book's `predict_ch3`), using Fashion-MNIST's class
 * names. Returns the figure, which shows itself once (as `d2l.showImages`'
 * figures do), with the labels as `trues`, `preds` and `titles`.
 *
 * @example
 * await d2l.predictCh3(net, testIter);
 */
export async function predictCh3(net: Net, testIter: DataIter, n = 6): Promise<PredictCh3Result> {
  checkIter(testIter, "test");
  if (!Number.isInteger(n) || n < 1) throw new Error(`predictCh3: n must be a positive integer, got ${n}`);
  for await (const batch of testIter) {
    const [X, y] = unpackBatch(batch, "test");
    try {
      const k = Math.min(n, X.shape[0] as number);
      const both = tf.tidy(() => {
        const yHat = forward(net, X, false);
        checkOutputFitsLabels(yHat, y);
        const pred = tf.argMax(yHat, 1).slice(0, k);
        const truth = tf.cast(tf.reshape(y, [-1]).slice(0, k), "int32");
        return tf.stack([truth, tf.cast(pred, "int32")]);
      });
      let values: number[];
      try {
        values = Array.from(await both.data());
      } finally {
        both.dispose();
      }
      const trueIdx = values.slice(0, k);
      const predIdx = values.slice(k);
      const trues = getFashionMnistLabels(trueIdx);
      const preds = getFashionMnistLabels(predIdx);
      const titles = trues.map((t, i) => `${t}\n${preds[i]}`);
      const imgs = asImages(X, k);
      try {
        return Object.assign(showImages(imgs, 1, k, { titles }), { trues, preds, titles });
      } finally {
        imgs.dispose();
      }
    } finally {
      X.dispose();
      y.dispose();
    }
  }
  throw new Error("predictCh3: the test data iterator yielded no batches");
}
