/**
 * Single shot multibox detection (SSD): the book's pieces, under its names
 * (d2l 1.0 section 14.7 "Single Shot Multibox Detection", 13.7 of the Chinese
 * edition): the class and box predictors, the down-sampling blocks, the base
 * network, `TinySSD`, and the loss and metrics of its training loop.
 *
 * One difference from the book: d2l-ts' images and feature maps are
 * channels-last (`[batch, height, width, channels]`, tfjs' layout). The book
 * moves its channels last before flattening predictions (`pred.permute(0, 2,
 * 3, 1)`), so `flattenPred` here only reshapes, and the flattened predictions
 * have the book's order: anchors of a pixel together, pixels row by row.
 *
 * Layers are initialised as PyTorch's (`U(-1/sqrt(fanIn), 1/sqrt(fanIn))` for
 * convolutions) and batch normalization uses PyTorch's momentum (0.1, tfjs'
 * 0.9) and epsilon (1e-5).
 */
import * as tf from "@tensorflow/tfjs";
import { Block } from "../nn/encoderDecoder";
import { multiboxPrior } from "./boxes";
import { readScalarAndDispose } from "../read";

function describe(v: unknown): string {
  if (v instanceof tf.Tensor) return `a ${v.dtype} tensor of shape [${v.shape.join(", ")}]`;
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

function checkCount(who: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${String(v)}`);
}

function checkTensor(who: string, name: string, v: unknown, rank: number, want: string): asserts v is tf.Tensor {
  if (!(v instanceof tf.Tensor) || v.rank !== rank) throw new Error(`${who}: ${name} must be a tensor of shape ${want}, got ${describe(v)}`);
}

/** PyTorch's `nn.Conv2d(inChannels, filters, 3, padding=1)` as a tfjs layer, with PyTorch's initialisation. */
function conv3x3(inChannels: number, filters: number): tf.layers.Layer {
  const k = 1 / Math.sqrt(inChannels * 9);
  const init = tf.initializers.randomUniform({ minval: -k, maxval: k });
  return tf.layers.conv2d({ filters, kernelSize: 3, padding: "same", kernelInitializer: init, biasInitializer: init, inputShape: [null, null, inChannels] as unknown as number[] });
}

/**
 * The class prediction layer (the book's `cls_predictor(num_inputs,
 * num_anchors, num_classes)`): a 3x3 convolution with padding 1 that gives
 * every pixel `numAnchors * (numClasses + 1)` channels, a score per anchor
 * and class (class 0 is the background).
 *
 * @example
 * d2l.clsPredictor(8, 5, 10).apply(tf.zeros([2, 20, 20, 8])).shape; // [2, 20, 20, 55]
 */
export function clsPredictor(numInputs: number, numAnchors: number, numClasses: number): tf.layers.Layer {
  const who = "clsPredictor";
  checkCount(who, "numInputs", numInputs);
  checkCount(who, "numAnchors", numAnchors);
  checkCount(who, "numClasses", numClasses);
  return conv3x3(numInputs, numAnchors * (numClasses + 1));
}

/**
 * The bounding box prediction layer (the book's `bbox_predictor(num_inputs,
 * num_anchors)`): a 3x3 convolution with padding 1 giving 4 offsets per
 * anchor of every pixel.
 *
 * @example
 * d2l.bboxPredictor(8, 5).apply(tf.zeros([2, 20, 20, 8])).shape; // [2, 20, 20, 20]
 */
export function bboxPredictor(numInputs: number, numAnchors: number): tf.layers.Layer {
  checkCount("bboxPredictor", "numInputs", numInputs);
  checkCount("bboxPredictor", "numAnchors", numAnchors);
  return conv3x3(numInputs, numAnchors * 4);
}

/**
 * A prediction map `[batch, height, width, channels]` as `[batch, height *
 * width * channels]` (the book's `flatten_pred(pred)`, which first moves the
 * channels last; here they are last already).
 *
 * @example
 * d2l.flattenPred(tf.zeros([2, 20, 20, 55])).shape; // [2, 22000]
 */
export function flattenPred(pred: tf.Tensor): tf.Tensor2D {
  checkTensor("flattenPred", "pred", pred, 4, "[batch, height, width, channels]");
  return tf.reshape(pred, [pred.shape[0], -1]);
}

/**
 * Prediction maps of several scales, flattened and joined along axis 1 (the
 * book's `concat_preds(preds)`): the result is `[batch, sum of height *
 * width * channels]`.
 *
 * @example
 * d2l.concatPreds([tf.zeros([2, 20, 20, 55]), tf.zeros([2, 10, 10, 33])]).shape; // [2, 25300]
 */
export function concatPreds(preds: tf.Tensor[]): tf.Tensor2D {
  if (!Array.isArray(preds) || preds.length === 0)
    throw new Error(`concatPreds: preds must be a non-empty array of prediction maps [batch, height, width, channels], got ${describe(preds)}`);
  return tf.tidy(
    () =>
      tf.concat(
        preds.map((p) => flattenPred(p)),
        1,
      ) as tf.Tensor2D,
  );
}

/**
 * The down-sampling block (the book's `down_sample_blk(in_channels,
 * out_channels)`): twice a 3x3 convolution with padding 1, batch
 * normalization and ReLU, then 2x2 max-pooling, which halves the height and
 * width.
 *
 * @example
 * (d2l.downSampleBlk(3, 10).apply(tf.zeros([2, 20, 20, 3])) as tf.Tensor).shape; // [2, 10, 10, 10]
 */
export function downSampleBlk(inChannels: number, outChannels: number): tf.Sequential {
  checkCount("downSampleBlk", "inChannels", inChannels);
  checkCount("downSampleBlk", "outChannels", outChannels);
  const layers: tf.layers.Layer[] = [];
  let c = inChannels;
  for (let i = 0; i < 2; i++) {
    layers.push(conv3x3(c, outChannels));
    layers.push(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }));
    layers.push(tf.layers.reLU());
    c = outChannels;
  }
  layers.push(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  return tf.sequential({ layers });
}

/**
 * The base network (the book's `base_net()`): three down-sampling blocks
 * with 16, 32 and 64 channels, so a 256x256 image becomes a 32x32 map of 64
 * channels.
 *
 * @example
 * (d2l.baseNet().apply(tf.zeros([2, 256, 256, 3])) as tf.Tensor).shape; // [2, 32, 32, 64]
 */
export function baseNet(): tf.Sequential {
  const numFilters = [3, 16, 32, 64];
  const layers: tf.layers.Layer[] = [];
  for (let i = 0; i < numFilters.length - 1; i++) layers.push(downSampleBlk(numFilters[i], numFilters[i + 1]));
  return tf.sequential({ layers });
}

/**
 * Global max-pooling that keeps the spatial axes: `[b, h, w, c]` to `[b, 1,
 * 1, c]` (PyTorch's `nn.AdaptiveMaxPool2d((1, 1))`), the last block of TinySSD.
 */
class AdaptiveMaxPool1x1 extends tf.layers.Layer {
  static className = "d2l.AdaptiveMaxPool1x1";
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [s[0], 1, 1, s[3]];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.max(x, [1, 2], true);
  }
}
tf.serialization.registerClass(AdaptiveMaxPool1x1);

/**
 * Block `i` of TinySSD (the book's `get_blk(i)`): 0 the base network, 1 a
 * down-sampling block to 128 channels, 2 and 3 down-sampling blocks of 128
 * channels, 4 global max-pooling to a 1x1 map.
 *
 * @example
 * (d2l.getBlk(1).apply(tf.zeros([1, 32, 32, 64])) as tf.Tensor).shape; // [1, 16, 16, 128]
 */
export function getBlk(i: number): tf.layers.Layer {
  if (!Number.isInteger(i) || i < 0 || i > 4) throw new Error(`getBlk: i must be a block index 0 to 4 (TinySSD has five blocks), got ${String(i)}`);
  if (i === 0) return baseNet();
  if (i === 1) return downSampleBlk(64, 128);
  if (i === 4) return new AdaptiveMaxPool1x1({});
  return downSampleBlk(128, 128);
}

/**
 * One scale of SSD's forward pass (the book's `blk_forward(X, blk, size,
 * ratio, cls_predictor, bbox_predictor)`): the block's output `Y`, the
 * anchors of its pixels (`multiboxPrior(Y, size, ratio)`), and the class and
 * box predictions on `Y`. `training` runs batch normalization on the batch's
 * statistics (and updates its running ones), as PyTorch's `net.train()`.
 *
 * @example
 * const [Y, anchors, cls, bbox] = d2l.blkForward(tf.zeros([2, 32, 32, 64]), d2l.getBlk(1), [0.37, 0.447], [1, 2, 0.5], d2l.clsPredictor(128, 4, 1), d2l.bboxPredictor(128, 4));
 * anchors.shape; // [1, 1024, 4]
 */
export function blkForward(
  X: tf.Tensor,
  blk: tf.layers.Layer,
  size: number[],
  ratio: number[],
  clsPred: tf.layers.Layer,
  bboxPred: tf.layers.Layer,
  training = false,
): [tf.Tensor4D, tf.Tensor3D, tf.Tensor4D, tf.Tensor4D] {
  checkTensor("blkForward", "X", X, 4, "[batch, height, width, channels] (channels last)");
  const Y = blk.apply(X, { training }) as tf.Tensor4D;
  const anchors = multiboxPrior(Y, size, ratio);
  const clsPreds = clsPred.apply(Y) as tf.Tensor4D;
  const bboxPreds = bboxPred.apply(Y) as tf.Tensor4D;
  return [Y, anchors, clsPreds, bboxPreds];
}

/** The book's anchor sizes of TinySSD's five scales (`sizes`). */
export const SSD_SIZES: readonly (readonly number[])[] = Object.freeze([
  [0.2, 0.272],
  [0.37, 0.447],
  [0.54, 0.619],
  [0.71, 0.79],
  [0.88, 0.961],
]);
/** The book's anchor ratios of TinySSD's five scales (`ratios`, `[[1, 2, 0.5]] * 5`). */
export const SSD_RATIOS: readonly (readonly number[])[] = Object.freeze([0, 1, 2, 3, 4].map(() => [1, 2, 0.5]));

/**
 * The book's tiny SSD (`TinySSD(num_classes)`, d2l 1.0 section 14.7.1): five
 * blocks (`getBlk(0..4)`) whose outputs, from 32x32 to 1x1 for a 256x256
 * image, each get anchors of the book's `sizes` and `ratios` (4 per pixel)
 * and their own class and box predictors. `forward(X)` takes a channels-last
 * image batch and returns `[anchors, clsPreds, bboxPreds]`: `[1,
 * numAnchors, 4]`, `[batch, numAnchors, numClasses + 1]` and `[batch,
 * numAnchors * 4]`. `train()` and `eval()` switch batch normalization as
 * PyTorch's do; new nets are in training mode.
 *
 * @example
 * const net = new d2l.TinySSD(1);
 * const [anchors, clsPreds, bboxPreds] = net.forward(tf.zeros([32, 256, 256, 3]));
 * anchors.shape;   // [1, 5444, 4]
 * clsPreds.shape;  // [32, 5444, 2]
 * bboxPreds.shape; // [32, 21776]
 */
export class TinySSD extends Block {
  /** Number of object classes (without the background). */
  readonly numClasses: number;
  /** Anchors per pixel (the book's `num_anchors`: `len(sizes[0]) + len(ratios[0]) - 1`). */
  readonly numAnchors: number;
  readonly blks: tf.layers.Layer[] = [];
  readonly clss: tf.layers.Layer[] = [];
  readonly bboxes: tf.layers.Layer[] = [];
  /**
   * Anchors by the five maps' sizes, made once (`multiboxPrior` depends only
   * on them), kept as host values: each forward returns a tensor made from
   * them, which reads synchronously on every backend (webgpu included), so
   * `multiboxTarget` can take it.
   */
  private anchorCache = new Map<string, Float32Array>();

  constructor(numClasses: number) {
    super();
    checkCount("TinySSD", "numClasses", numClasses);
    this.numClasses = numClasses;
    this.numAnchors = SSD_SIZES[0].length + SSD_RATIOS[0].length - 1;
    const idxToInChannels = [64, 128, 128, 128, 128];
    for (let i = 0; i < 5; i++) {
      this.blks.push(getBlk(i));
      this.clss.push(clsPredictor(idxToInChannels[i], this.numAnchors, numClasses));
      this.bboxes.push(bboxPredictor(idxToInChannels[i], this.numAnchors));
    }
  }

  /** Anchors, class and box predictions of a channels-last image batch; see the class. */
  forward(X: tf.Tensor): [tf.Tensor3D, tf.Tensor3D, tf.Tensor2D] {
    checkTensor("TinySSD.forward", "X", X, 4, "[batch, height, width, 3] (channels last)");
    if (X.shape[3] !== 3) throw new Error(`TinySSD.forward: X must have 3 colour channels (channels last), got ${describe(X)}`);
    const [batch, height, width] = X.shape;
    if (height < 8 || width < 8) throw new Error(`TinySSD.forward: images must be at least 8x8 pixels (the base network halves them three times), got ${describe(X)}`);
    const training = this.training;
    const key: number[] = [];
    const out = tf.tidy((): [tf.Tensor3D, tf.Tensor2D] => {
      const cls: tf.Tensor[] = [];
      const bbox: tf.Tensor[] = [];
      let Y: tf.Tensor = X;
      for (let i = 0; i < 5; i++) {
        Y = this.blks[i].apply(Y, { training }) as tf.Tensor;
        key.push(Y.shape[1] as number, Y.shape[2] as number);
        cls.push(this.clss[i].apply(Y) as tf.Tensor);
        bbox.push(this.bboxes[i].apply(Y) as tf.Tensor);
      }
      const clsFlat = concatPreds(cls);
      return [tf.reshape(clsFlat, [batch, -1, this.numClasses + 1]), concatPreds(bbox)];
    });
    return [this.anchors(key), out[0], out[1]];
  }

  private anchors(key: number[]): tf.Tensor3D {
    const k = key.join(",");
    let a = this.anchorCache.get(k);
    if (!a) {
      const parts: Float32Array[] = [];
      for (let i = 0; i < 5; i++) {
        const shape = tf.zeros([1, key[2 * i], key[2 * i + 1], 1]); // only its height and width are read
        const prior = multiboxPrior(shape, SSD_SIZES[i].slice(), SSD_RATIOS[i].slice());
        parts.push(prior.dataSync() as Float32Array); // sync-read-ok: multiboxPrior makes its tensor from an array, so its values are on the host
        tf.dispose([shape, prior]);
      }
      a = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        a.set(p, at);
        at += p.length;
      }
      this.anchorCache.set(k, a);
    }
    // a new tensor, which the caller owns and may dispose as the other outputs
    return tf.tensor3d(a.slice(), [1, a.length / 4, 4]);
  }

  /** Frees the weights and the cached anchors. @example net.dispose(); */
  override dispose(): void {
    this.anchorCache.clear();
    super.dispose();
  }
}

/**
 * The SSD loss of each image (the book's `calc_loss(cls_preds, cls_labels,
 * bbox_preds, bbox_labels, bbox_masks)`): the mean over anchors of the
 * cross-entropy of the class predictions plus the mean L1 distance of the
 * masked box offsets; `[batch]`. The labels, offsets and masks are what
 * `multiboxTarget` returns.
 *
 * @example
 * const [bboxLabels, bboxMasks, clsLabels] = d2l.multiboxTarget(anchors, Y);
 * const l = d2l.calcLoss(clsPreds, clsLabels, bboxPreds, bboxLabels, bboxMasks); // [batch]
 */
export function calcLoss(clsPreds: tf.Tensor, clsLabels: tf.Tensor, bboxPreds: tf.Tensor, bboxLabels: tf.Tensor, bboxMasks: tf.Tensor): tf.Tensor1D {
  const who = "calcLoss";
  checkTensor(who, "clsPreds", clsPreds, 3, "[batch, numAnchors, numClasses + 1]");
  checkTensor(who, "clsLabels", clsLabels, 2, "[batch, numAnchors] (as multiboxTarget returns)");
  checkTensor(who, "bboxPreds", bboxPreds, 2, "[batch, numAnchors * 4]");
  checkTensor(who, "bboxLabels", bboxLabels, 2, "[batch, numAnchors * 4]");
  checkTensor(who, "bboxMasks", bboxMasks, 2, "[batch, numAnchors * 4]");
  const [b, n, k] = clsPreds.shape;
  if (clsLabels.shape[0] !== b || clsLabels.shape[1] !== n) throw new Error(`${who}: clsLabels must be [${b}, ${n}] to match clsPreds, got ${describe(clsLabels)}`);
  for (const [name, t] of [
    ["bboxPreds", bboxPreds],
    ["bboxLabels", bboxLabels],
    ["bboxMasks", bboxMasks],
  ] as const) {
    if (t.shape[0] !== b || t.shape[1] !== n * 4) throw new Error(`${who}: ${name} must be [${b}, ${n * 4}] (4 per anchor), got ${describe(t)}`);
  }
  return tf.tidy(() => {
    const logp = tf.logSoftmax(clsPreds);
    const onehot = tf.oneHot(tf.cast(clsLabels, "int32"), k);
    const cls = tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), -1), 1));
    const bbox = tf.mean(tf.abs(tf.sub(tf.mul(bboxPreds, bboxMasks), tf.mul(bboxLabels, bboxMasks))), 1);
    return tf.add(cls, bbox) as tf.Tensor1D;
  });
}

/**
 * The number of anchors whose predicted class (the arg-max) equals the
 * label (the book's `cls_eval(cls_preds, cls_labels)`); a number, read
 * with `await` (so it works on every backend, webgpu included).
 *
 * @example
 * await d2l.clsEval(tf.tensor3d([[[2, 1], [0, 3]]]), tf.tensor2d([[0, 0]], [1, 2], "int32")); // 1
 */
export async function clsEval(clsPreds: tf.Tensor, clsLabels: tf.Tensor): Promise<number> {
  checkTensor("clsEval", "clsPreds", clsPreds, 3, "[batch, numAnchors, numClasses + 1]");
  checkTensor("clsEval", "clsLabels", clsLabels, 2, "[batch, numAnchors]");
  return readScalarAndDispose(tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(clsPreds, -1), tf.cast(clsLabels, "int32")), "int32"))));
}

/**
 * The sum of the absolute errors of the masked box offsets (the book's
 * `bbox_eval(bbox_preds, bbox_labels, bbox_masks)`); a number, read with
 * `await` (so it works on every backend, webgpu included).
 *
 * @example
 * await d2l.bboxEval(tf.tensor2d([[0.5, 0, 0, 0]]), tf.tensor2d([[0, 0, 0, 1]]), tf.tensor2d([[1, 1, 1, 1]])); // 1.5
 */
export async function bboxEval(bboxPreds: tf.Tensor, bboxLabels: tf.Tensor, bboxMasks: tf.Tensor): Promise<number> {
  checkTensor("bboxEval", "bboxPreds", bboxPreds, 2, "[batch, numAnchors * 4]");
  checkTensor("bboxEval", "bboxLabels", bboxLabels, 2, "[batch, numAnchors * 4]");
  checkTensor("bboxEval", "bboxMasks", bboxMasks, 2, "[batch, numAnchors * 4]");
  return readScalarAndDispose(tf.tidy(() => tf.sum(tf.abs(tf.mul(tf.sub(bboxLabels, bboxPreds), bboxMasks)))));
}
