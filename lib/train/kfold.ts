/**
 * The book's section 4.10 (Kaggle house prices): the log-RMSE metric,
 * `train` (Adam with weight decay on a regression net, recording the
 * log-RMSE after each epoch), and K-fold cross-validation (`get_k_fold_data`,
 * `k_fold`). `train` runs on the one training {@link Engine}; weight decay is
 * a callback that adds `wd * w` to each gradient, as PyTorch's
 * `Adam(weight_decay=wd)` does.
 */
import * as tf from "@tensorflow/tfjs";
import { loadArray } from "../data/index";
import { plot } from "../plot/index";
import { Engine, type Callback } from "./engine";
import { WeightDecay } from "./callbacks/regularization";
import { ProgressCallback } from "./callbacks/display";
import { makeProgressBar, type ProgressBarLike } from "./ui";
import { isLayersModel, shapeStr } from "./types";

function check2d(t: unknown, what: string, who: string): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor) || t.rank !== 2) {
    const got = t instanceof tf.Tensor ? `shape ${shapeStr(t.shape)}` : t === null ? "null" : typeof t;
    throw new Error(`${who}: ${what} must be a 2-D tensor [examples, ${/labels/i.test(what) ? "1" : "features"}], got ${got}`);
  }
}

function checkPair(X: tf.Tensor, y: tf.Tensor, xName: string, yName: string, who: string): void {
  check2d(X, xName, who);
  check2d(y, yName, who);
  if (X.shape[0] !== y.shape[0]) {
    throw new Error(`${who}: ${xName} has ${X.shape[0]} examples but ${yName} has ${y.shape[0]} (shapes ${shapeStr(X.shape)} and ${shapeStr(y.shape)}); they must match`);
  }
}

/** The net's output on all of X in one call (`predict` would split X into batches of 32). */
function predict(net: tf.LayersModel, X: tf.Tensor): tf.Tensor {
  const out = net.apply(X, { training: false });
  if (Array.isArray(out)) throw new Error(`the net has ${out.length} outputs; expected a regression net with one output`);
  return out as tf.Tensor;
}

/**
 * The book's `log_rmse(net, features, labels)`: the root-mean-squared error
 * between the logarithms of the predictions and of the labels, so a 10% error
 * counts the same for a cheap and an expensive house. Predictions below 1 are
 * clipped to 1 first, so the logarithm stays finite.
 *
 * @example
 * await d2l.logRmse(net, trainFeatures, trainLabels); // 0.17 after training
 */
export async function logRmse(net: tf.LayersModel, features: tf.Tensor, labels: tf.Tensor): Promise<number> {
  checkPair(features, labels, "features", "labels", "logRmse");
  const r = tf.tidy(() => {
    const preds = predict(net, features);
    if (preds.size !== labels.size) {
      throw new Error(`logRmse: the net gives ${shapeStr(preds.shape)} for labels of shape ${shapeStr(labels.shape)}; expected one prediction per label`);
    }
    const clipped = tf.clipByValue(preds, 1, Infinity);
    return tf.sqrt(tf.losses.meanSquaredError(tf.log(labels.reshape(preds.shape)), tf.log(clipped)));
  });
  try {
    return (await r.data())[0];
  } finally {
    r.dispose();
  }
}

/** Per-example squared error: nn.MSELoss's terms, averaged over the outputs. */
function mse(yHat: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.mean(tf.square(tf.sub(yHat, tf.reshape(y, yHat.shape))), -1);
}

/** Records the log-RMSE on the training and the test data after each epoch. */
class LogRmseHistory implements Callback {
  readonly train: number[] = [];
  readonly test: number[] = [];
  constructor(
    private readonly net: tf.LayersModel,
    private readonly data: [tf.Tensor, tf.Tensor, tf.Tensor | null, tf.Tensor | null],
  ) {}

  /** @internal */
  async onEpochEnd(): Promise<void> {
    const [Xtr, ytr, Xte, yte] = this.data;
    this.train.push(await logRmse(this.net, Xtr, ytr));
    if (Xte !== null && yte !== null) this.test.push(await logRmse(this.net, Xte, yte));
  }
}

/** Options of {@link train} beyond the book's arguments. */
export interface HouseTrainOptions {
  /** Seed of the minibatch shuffle (default: a different order each run, as the book's). */
  seed?: number;
  /** More engine callbacks. */
  callbacks?: Callback[];
  /** A progress bar maker, or `false` for none (default: a `d2l.ProgressBar`, as `trainCh3`'s). */
  progress?: ((total: number, unit: "examples" | "batches") => ProgressBarLike) | false;
}

function checkHyper(who: string, numEpochs: number, learningRate: number, weightDecay: number, batchSize: number): void {
  if (!Number.isInteger(numEpochs) || numEpochs < 1) throw new Error(`${who}: numEpochs must be a positive integer, got ${numEpochs}`);
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) throw new Error(`${who}: learningRate must be a positive number, got ${learningRate}`);
  if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) throw new Error(`${who}: weightDecay must be a number >= 0, got ${weightDecay}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${who}: batchSize must be a positive integer, got ${batchSize}`);
}

/**
 * The book's `train` of section 4.10: train a regression `net` on
 * `(trainFeatures, trainLabels)` with Adam (learning rate `learningRate`,
 * L2 weight decay `weightDecay` as PyTorch's `Adam(weight_decay=...)`), the
 * mean squared error as loss, minibatches of `batchSize` for `numEpochs`
 * epochs; after each epoch record {@link logRmse} on the training data and,
 * when given, on the test data. Returns `[trainLs, testLs]` (`testLs` is
 * empty without test data). Labels are `[examples, 1]` prices.
 *
 * @example
 * const net = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [331] })] });
 * const [trainLs] = await d2l.train(net, trainFeatures, trainLabels, null, null, 100, 5, 0, 64);
 */
export async function train(
  net: tf.LayersModel,
  trainFeatures: tf.Tensor,
  trainLabels: tf.Tensor,
  testFeatures: tf.Tensor | null,
  testLabels: tf.Tensor | null,
  numEpochs: number,
  learningRate: number,
  weightDecay: number,
  batchSize: number,
  options: HouseTrainOptions = {},
): Promise<[number[], number[]]> {
  if (!isLayersModel(net)) throw new Error("train: net must be a tf.LayersModel, e.g. tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [numFeatures] })] })");
  checkPair(trainFeatures, trainLabels, "trainFeatures", "trainLabels", "train");
  if ((testFeatures === null) !== (testLabels === null)) throw new Error("train: give both testFeatures and testLabels, or neither (null, null)");
  if (testFeatures !== null && testLabels !== null) checkPair(testFeatures, testLabels, "testFeatures", "testLabels", "train");
  checkHyper("train", numEpochs, learningRate, weightDecay, batchSize);
  const history = new LogRmseHistory(net, [trainFeatures, trainLabels, testFeatures, testLabels]);
  const trainIter = loadArray([trainFeatures, trainLabels], batchSize, true, { seed: options.seed });
  const optimizer = tf.train.adam(learningRate);
  try {
    const callbacks: Callback[] = [...(weightDecay > 0 ? [new WeightDecay(weightDecay)] : []), history, ...(options.callbacks ?? [])];
    if (options.progress !== false) callbacks.push(new ProgressCallback(options.progress ? { bar: options.progress } : {}));
    await new Engine({ net, loss: mse, updater: optimizer, accuracy: false, callbacks }).fit(trainIter, { numEpochs });
  } finally {
    optimizer.dispose();
    trainIter.dispose();
  }
  return [history.train, history.test];
}

/**
 * The book's `get_k_fold_data(k, i, X, y)`: split the examples into `k` folds
 * of `floor(n / k)` consecutive examples (the remainder is left out, as the
 * book's) and return fold `i` (0-based) as validation data, the other folds
 * as training data: `[XTrain, yTrain, XValid, yValid]`. The tensors are new;
 * dispose them when done.
 *
 * @example
 * const [XTrain, yTrain, XValid, yValid] = d2l.getKFoldData(5, 0, trainFeatures, trainLabels);
 * XValid.shape; // [292, 331]
 */
export function getKFoldData(k: number, i: number, X: tf.Tensor, y: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`getKFoldData: k must be an integer > 1 (the number of folds), got ${k}`);
  if (!Number.isInteger(i) || i < 0 || i >= k) throw new Error(`getKFoldData: i must be a fold index 0..${k - 1}, got ${i}`);
  if (!(X instanceof tf.Tensor) || !(y instanceof tf.Tensor) || X.rank === 0 || y.rank === 0 || X.shape[0] !== y.shape[0]) {
    throw new Error(
      `getKFoldData: X and y must be tensors with the same number of examples (first dimension), got ${X instanceof tf.Tensor ? shapeStr(X.shape) : typeof X} and ${y instanceof tf.Tensor ? shapeStr(y.shape) : typeof y}`,
    );
  }
  const n = X.shape[0];
  const foldSize = Math.floor(n / k);
  if (foldSize < 1) throw new Error(`getKFoldData: ${n} examples cannot make ${k} folds; use k <= ${n}`);
  return tf.tidy(() => {
    const xs: tf.Tensor[] = [];
    const ys: tf.Tensor[] = [];
    let valid: [tf.Tensor, tf.Tensor] | undefined;
    for (let j = 0; j < k; j++) {
      const xPart = tf.slice(X, j * foldSize, foldSize);
      const yPart = tf.slice(y, j * foldSize, foldSize);
      if (j === i) valid = [xPart, yPart];
      else (xs.push(xPart), ys.push(yPart));
    }
    const [xValid, yValid] = valid as [tf.Tensor, tf.Tensor];
    return [tf.concat(xs, 0), tf.concat(ys, 0), xValid, yValid];
  });
}

/** Options of {@link kFold} beyond the book's arguments. */
export interface KFoldOptions {
  /** Makes a fresh net for each fold (the book's `get_net`); default a linear model, one dense unit. */
  getNet?: () => tf.LayersModel;
  /** Plot the curves of fold 1 (default true, as the book). */
  plot?: boolean;
  /** Print one line per fold (default true, as the book). */
  verbose?: boolean;
  /** Seed of the minibatch shuffles (fold i uses seed + i). */
  seed?: number;
  /** Called after each fold with its curves, e.g. to collect them. */
  onFold?: (fold: number, trainLs: number[], validLs: number[]) => void;
  /** A progress bar maker, or `false` for none (default: one `d2l.ProgressBar` per fold, labelled `fold i/k`). */
  progress?: ((total: number, unit: "examples" | "batches") => ProgressBarLike) | false;
}

/**
 * The book's `k_fold(k, X_train, y_train, num_epochs, learning_rate,
 * weight_decay, batch_size)`: K-fold cross-validation. For each fold, train
 * a fresh net (`options.getNet`, default a linear model) with {@link train}
 * on the other folds and measure it on this one; print
 * `fold 1, train log rmse 0.170, valid log rmse 0.157`, plot the curves of
 * the first fold (log scale), and return the averages of the last epoch's
 * log-RMSE: `[avgTrain, avgValid]`. `getNet` must return a new net each call:
 * each fold's net is disposed after the fold.
 *
 * @example
 * const [trainL, validL] = await d2l.kFold(5, trainFeatures, trainLabels, 100, 5, 0, 64);
 * console.log(`5-fold validation: avg train log rmse: ${trainL.toFixed(3)}, avg valid log rmse: ${validL.toFixed(3)}`);
 */
export async function kFold(
  k: number,
  XTrain: tf.Tensor,
  yTrain: tf.Tensor,
  numEpochs: number,
  learningRate: number,
  weightDecay: number,
  batchSize: number,
  options: KFoldOptions = {},
): Promise<[number, number]> {
  checkPair(XTrain, yTrain, "XTrain", "yTrain", "kFold");
  checkHyper("kFold", numEpochs, learningRate, weightDecay, batchSize);
  const inFeatures = XTrain.shape[1] as number;
  const getNet = options.getNet ?? (() => tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [inFeatures] })] }));
  let trainLSum = 0;
  let validLSum = 0;
  for (let i = 0; i < k; i++) {
    const data = getKFoldData(k, i, XTrain, yTrain);
    const net = getNet();
    try {
      const seed = options.seed === undefined ? undefined : options.seed + i;
      // one bar per fold, labelled with the fold (as the book's one printed line per fold)
      const progress = options.progress === false ? false : (options.progress ?? ((total: number, unit: string) => makeProgressBar(total, `fold ${i + 1}/${k}`, unit)));
      const [trainLs, validLs] = await train(net, data[0], data[1], data[2], data[3], numEpochs, learningRate, weightDecay, batchSize, { seed, progress });
      trainLSum += trainLs[trainLs.length - 1];
      validLSum += validLs[validLs.length - 1];
      if (i === 0 && (options.plot ?? true)) {
        const epochs = Array.from({ length: numEpochs }, (_, e) => e + 1);
        plot(epochs, [trainLs, validLs], { xlabel: "epoch", ylabel: "rmse", xlim: [1, numEpochs], legend: ["train", "valid"], yscale: "log" }).show();
      }
      if (options.verbose ?? true) {
        console.log(`fold ${i + 1}, train log rmse ${trainLs[trainLs.length - 1].toFixed(3)}, valid log rmse ${validLs[validLs.length - 1].toFixed(3)}`);
      }
      options.onFold?.(i, trainLs, validLs);
    } finally {
      tf.dispose(data);
      net.dispose();
    }
  }
  return [trainLSum / k, validLSum / k];
}
