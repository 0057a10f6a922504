/**
 * Measuring a semantic-segmentation model (the book's section 13.11, "Fully
 * Convolutional Networks"; 14.11 of d2l 1.0): pixel accuracy, which the
 * book's `train_ch13` reports for its FCN, and the mean intersection over
 * union (mean IoU), the usual score of segmentation benchmarks, which the
 * book names but does not compute. Both take either predicted class indices
 * or the network's per-pixel scores (classes on the last axis, channels
 * last as everywhere in d2l-ts).
 *
 * The soft dice loss that section 13.11's notebook compares with the
 * per-pixel cross-entropy is `d2l.losses.diceLoss` (lib/train/losses.ts),
 * applied to the softmax of the scores; it is not repeated here.
 *
 * Values are counted in JavaScript from the tensors' data (one read with
 * `await` each, so they work on every backend, webgpu included), so the
 * results are exact counts, not float32 sums; the functions return Promises.
 */
import * as tf from "@tensorflow/tfjs";

/** The predicted class of every pixel: `pred` itself when it has the labels' shape, else its argmax over the last axis. */
async function predictedClasses(who: string, pred: tf.Tensor, labels: tf.Tensor): Promise<ArrayLike<number>> {
  if (!(pred instanceof tf.Tensor) || !(labels instanceof tf.Tensor)) {
    throw new Error(`${who}(pred, labels) expects two tensors: the predictions (class indices, or scores with classes on the last axis) and the labels`);
  }
  const same = pred.rank === labels.rank && pred.shape.every((d, i) => d === labels.shape[i]);
  const scores = pred.rank === labels.rank + 1 && labels.shape.every((d, i) => d === pred.shape[i]);
  if (!same && !scores) {
    throw new Error(
      `${who}: pred must be class indices shaped like the labels [${labels.shape.join(", ")}], or scores [${[...labels.shape, "numClasses"].join(", ")}] ` +
        `(classes last, as the network outputs them); got [${pred.shape.join(", ")}]`,
    );
  }
  if (same) return (await pred.data()) as ArrayLike<number>;
  const arg = tf.argMax(pred, -1);
  try {
    return (await arg.data()) as Int32Array;
  } finally {
    arg.dispose();
  }
}

/** The labels' values, checked to be whole class numbers (below `numClasses` when given). */
function classValues(who: string, what: string, values: ArrayLike<number>, numClasses?: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || (numClasses !== undefined && v >= numClasses)) {
      const range = numClasses === undefined ? "whole numbers of at least 0" : `whole numbers from 0 to ${numClasses - 1}`;
      throw new Error(`${who}: ${what} must be class indices, ${range}; found ${v} at position ${i}`);
    }
  }
}

/**
 * Pixel accuracy: the share of pixels whose predicted class equals the
 * label, what the book's `train_ch13` prints as "train acc" and "test acc"
 * for its FCN (section 13.11; `d2l.accuracy` counted per pixel). `pred` is
 * either class indices shaped like `labels` (`[batch, h, w]`), or the
 * network's scores `[batch, h, w, numClasses]`, whose argmax over the last
 * axis is taken. Background usually fills most pixels, so this number is
 * high even for a model that finds nothing; see {@link meanIou}.
 *
 * @example
 * const labels = tf.tensor2d([[0, 0], [1, 2]], [2, 2], "int32");
 * const pred = tf.tensor2d([[0, 1], [1, 2]], [2, 2], "int32");
 * await d2l.pixelAccuracy(pred, labels); // 0.75
 */
export async function pixelAccuracy(pred: tf.Tensor, labels: tf.Tensor): Promise<number> {
  const who = "pixelAccuracy";
  const p = await predictedClasses(who, pred, labels);
  const y = (await labels.data()) as ArrayLike<number>;
  classValues(who, "labels", y);
  if (y.length === 0) throw new Error(`${who}: the labels are empty (shape [${labels.shape.join(", ")}]); there is no pixel to score`);
  let correct = 0;
  for (let i = 0; i < y.length; i++) if (p[i] === y[i]) correct++;
  return correct / y.length;
}

/**
 * The intersection over union of each class: `|pred = c and label = c| /
 * |pred = c or label = c|` over all pixels, or `null` for a class that
 * appears in neither the predictions nor the labels (its IoU is 0/0).
 * Arguments as {@link meanIou}. No book equivalent (the book defines IoU
 * for boxes in section 13.3).
 *
 * @example
 * const labels = tf.tensor1d([0, 0, 1, 1], "int32");
 * const pred = tf.tensor1d([0, 1, 1, 1], "int32");
 * await d2l.iouPerClass(pred, labels, 3); // [0.5, 0.6666666666666666, null]
 */
export async function iouPerClass(pred: tf.Tensor, labels: tf.Tensor, numClasses: number): Promise<(number | null)[]> {
  const who = "iouPerClass";
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${who}: numClasses must be a positive integer (the number of classes, background included, e.g. 11 for d2l.FASHION_SEG_CLASSES), got ${String(numClasses)}`);
  }
  if (pred instanceof tf.Tensor && labels instanceof tf.Tensor && pred.rank === labels.rank + 1 && pred.shape[pred.rank - 1] !== numClasses) {
    throw new Error(`${who}: the scores' last axis holds ${pred.shape[pred.rank - 1]} classes but numClasses is ${numClasses}; pass the number of classes the network scores`);
  }
  const p = await predictedClasses(who, pred, labels);
  const y = (await labels.data()) as ArrayLike<number>;
  classValues(who, "labels", y, numClasses);
  classValues(who, "the predicted classes", p, numClasses);
  const inter = new Float64Array(numClasses);
  const predCount = new Float64Array(numClasses);
  const labelCount = new Float64Array(numClasses);
  for (let i = 0; i < y.length; i++) {
    predCount[p[i]]++;
    labelCount[y[i]]++;
    if (p[i] === y[i]) inter[y[i]]++;
  }
  return Array.from(inter, (n, c) => {
    const union = predCount[c] + labelCount[c] - n;
    return union === 0 ? null : n / union;
  });
}

/**
 * Mean intersection over union (mean IoU, the Jaccard index averaged over
 * classes), the usual score of semantic segmentation: for each class `c`,
 * `IoU_c = |pred = c and label = c| / |pred = c or label = c|`, counted over
 * all pixels of all images given (not per image), then the mean over the
 * classes. A class that appears in neither the predictions nor the labels
 * has no IoU (0/0) and is left out of the mean (a NaN-skipping mean over
 * classes, as the common mIoU code such as mmsegmentation's does); a class that is in the
 * labels but never predicted (or predicted but absent) counts with IoU 0.
 * So a model that answers "background" everywhere scores the background's
 * IoU (its pixel share) divided by the number of classes present.
 *
 * `pred` is class indices shaped like `labels`, or scores with one more,
 * last axis of `numClasses` (the argmax is taken). To score a whole test set,
 * concatenate its predictions and labels (or pass them batch by batch to
 * {@link iouPerClass} and combine the counts yourself). No book equivalent.
 *
 * @example
 * const labels = tf.tensor1d([0, 0, 1, 1], "int32");
 * const pred = tf.tensor1d([0, 1, 1, 1], "int32");
 * await d2l.meanIou(pred, labels, 3); // (1/2 + 2/3) / 2 = 0.5833: class 2 is in neither
 */
export async function meanIou(pred: tf.Tensor, labels: tf.Tensor, numClasses: number): Promise<number> {
  const ious = (await iouPerClass(pred, labels, numClasses)).filter((v): v is number => v !== null);
  if (ious.length === 0) throw new Error(`meanIou: the labels are empty (shape [${labels.shape.join(", ")}]); there is no pixel to score`);
  return ious.reduce((a, b) => a + b, 0) / ious.length;
}
