/**
 * Bounding boxes and anchor boxes: the book's detection helpers (d2l 1.0
 * sections 14.3 "Object Detection and Bounding Boxes" and 14.4 "Anchor
 * Boxes"; 13.3-13.4 of the Chinese edition), under the book's names, with the
 * book's argument order and tensor shapes (tensors in, tensors out).
 *
 * Boxes are `[x1, y1, x2, y2]` (upper-left and lower-right corners) unless a
 * name says center (`[cx, cy, w, h]`). The element-wise helpers
 * (`boxCornerToCenter`, `boxCenterToCorner`, `boxIou`, `offsetBoxes`,
 * `offsetInverse`) are tensor operations on the backend, so gradients flow
 * through them. The ones the book writes as loops over boxes
 * (`multiboxPrior`, `assignAnchorToBbox`, `multiboxTarget`, `nms`,
 * `multiboxDetection`) read their inputs once, run the book's algorithm in
 * JavaScript in float32 arithmetic (each step rounded to float32 as PyTorch's
 * float32 tensors are, so thresholds decide as the book's code does) and
 * return new tensors. Ties are broken by the lower index, as PyTorch's
 * `argmax` on the CPU does; `nms` sorts the scores stably.
 *
 * One difference from the book: d2l-ts' images and feature maps are
 * channels-last (`[batch, height, width, channels]`, tfjs' layout), so
 * `multiboxPrior` reads the height and width of `data` there; pass
 * `{ dataFormat: "channelsFirst" }` for the book's `(batch, channels, height,
 * width)`.
 */
import * as tf from "@tensorflow/tfjs";
import { readsSync } from "../read";

const f32 = Math.fround;

function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function describe(v: unknown): string {
  if (v instanceof tf.Tensor) return `a ${v.dtype} tensor of shape ${shapeStr(v.shape)}`;
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v;
}

function checkTensor(who: string, name: string, v: unknown): asserts v is tf.Tensor {
  if (!(v instanceof tf.Tensor)) {
    throw new TypeError(`${who}: ${name} must be a tensor, got ${describe(v)}; make one with tf.tensor(...)`);
  }
}

/** `boxes` must be a tensor whose last axis has 4 entries (`[..., 4]`), with `rank` axes when given. */
function checkBoxes(who: string, name: string, boxes: unknown, rank?: number): asserts boxes is tf.Tensor {
  checkTensor(who, name, boxes);
  const ok = boxes.rank >= 1 && boxes.shape[boxes.rank - 1] === 4 && (rank === undefined || boxes.rank === rank);
  if (!ok) {
    const want = rank === 2 ? "[numBoxes, 4]" : rank === 3 ? "[batch, numBoxes, 4]" : "[..., 4]";
    throw new Error(`${who}: ${name} must have shape ${want} (one row of 4 coordinates per box), got ${describe(boxes)}`);
  }
}

/** Anchors as the book passes them: `[numAnchors, 4]`, or `[1, numAnchors, 4]` (the book's `anchors.squeeze(0)`). */
function anchorRows(who: string, anchors: unknown): tf.Tensor {
  checkTensor(who, "anchors", anchors);
  const s = anchors.shape;
  if (anchors.rank === 2 && s[1] === 4) return anchors;
  if (anchors.rank === 3 && s[0] === 1 && s[2] === 4) return anchors;
  throw new Error(`${who}: anchors must have shape [1, numAnchors, 4] (as multiboxPrior returns) or [numAnchors, 4], got ${describe(anchors)}`);
}

function checkThreshold(who: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${who}: ${name} must be a finite number, got ${String(v)}`);
}

/**
 * A tensor's values, read synchronously for the helpers that run the book's
 * loops in JavaScript. On webgpu a tensor whose values are on the GPU cannot
 * be read so: the error says how to pass a host copy.
 */
function floats(who: string, name: string, t: tf.Tensor): Float32Array {
  if (!readsSync(t)) {
    throw new Error(
      `${who}: ${name} (${describe(t)}) is on the GPU (webgpu backend), and ${who} reads its values synchronously to run the book's loop in JavaScript; ` +
        `pass a host copy, made with await: tf.tensor(await ${name}.data(), ${name}.shape, ${name}.dtype)`,
    );
  }
  const d = t.dataSync(); // sync-read-ok: guarded by readsSync (host values)
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

/** A tensor's values read with await (so on every backend, webgpu's GPU tensors included), as float32. */
async function hostFloats(t: tf.Tensor): Promise<Float32Array> {
  const d = await t.data();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

/** The four coordinates of the last axis, each `[...]`. */
function unstackLast(boxes: tf.Tensor): tf.Tensor[] {
  return tf.split(boxes, 4, -1).map((t) => t.squeeze([boxes.rank - 1]));
}

/**
 * Converts boxes from corners `(x1, y1, x2, y2)` to center, width and height
 * `(cx, cy, w, h)` (the book's `box_corner_to_center`). `boxes` is `[n, 4]`
 * (any leading axes work).
 *
 * @example
 * const boxes = tf.tensor2d([[60, 45, 378, 516], [400, 112, 655, 493]]); // the dog and the cat
 * await d2l.boxCornerToCenter(boxes).array(); // [[219, 280.5, 318, 471], [527.5, 302.5, 255, 381]]
 */
export function boxCornerToCenter(boxes: tf.Tensor): tf.Tensor {
  checkBoxes("boxCornerToCenter", "boxes", boxes);
  return tf.tidy(() => {
    const [x1, y1, x2, y2] = unstackLast(boxes.cast("float32"));
    const cx = x1.add(x2).div(2);
    const cy = y1.add(y2).div(2);
    return tf.stack([cx, cy, x2.sub(x1), y2.sub(y1)], -1);
  });
}

/**
 * Converts boxes from center, width and height `(cx, cy, w, h)` to corners
 * `(x1, y1, x2, y2)` (the book's `box_center_to_corner`). `boxes` is `[n, 4]`
 * (any leading axes work).
 *
 * @example
 * const boxes = tf.tensor2d([[60, 45, 378, 516], [400, 112, 655, 493]]);
 * await d2l.boxCenterToCorner(d2l.boxCornerToCenter(boxes)).array(); // the boxes again
 */
export function boxCenterToCorner(boxes: tf.Tensor): tf.Tensor {
  checkBoxes("boxCenterToCorner", "boxes", boxes);
  return tf.tidy(() => {
    const [cx, cy, w, h] = unstackLast(boxes.cast("float32"));
    const hw = w.mul(0.5);
    const hh = h.mul(0.5);
    return tf.stack([cx.sub(hw), cy.sub(hh), cx.add(hw), cy.add(hh)], -1);
  });
}

/** Options of {@link multiboxPrior}. */
export interface MultiboxPriorOptions {
  /**
   * Where `data` keeps its height and width: `"channelsLast"` (default,
   * tfjs' `[batch, height, width, channels]`) or `"channelsFirst"` (the
   * book's PyTorch `(batch, channels, height, width)`: the last two axes).
   */
  dataFormat?: "channelsLast" | "channelsFirst";
}

function checkPositiveList(who: string, name: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "number" && Number.isFinite(x) && x > 0)) {
    throw new Error(`${who}: ${name} must be a non-empty array of positive numbers (e.g. [0.75, 0.5, 0.25]), got ${JSON.stringify(v)}`);
  }
  return v as number[];
}

/**
 * Anchor boxes centred on every pixel of `data` (the book's
 * `multibox_prior(data, sizes, ratios)`): for each pixel, one box per size
 * with the first ratio, then one per further ratio with the first size, so
 * `sizes.length + ratios.length - 1` boxes a pixel. Coordinates are
 * fractions of the image's width and height. Returns a float32 tensor
 * `[1, height * width * boxesPerPixel, 4]` of `(x1, y1, x2, y2)`.
 *
 * `data` is an image or feature-map batch; only its height and width are
 * read: `[batch, height, width, channels]` (or `[height, width, channels]`),
 * the book's `(batch, channels, height, width)` with
 * `{ dataFormat: "channelsFirst" }`.
 *
 * @example
 * const X = tf.zeros([1, 561, 728, 3]); // the catdog image's size
 * const Y = d2l.multiboxPrior(X, [0.75, 0.5, 0.25], [1, 2, 0.5]);
 * Y.shape; // [1, 2042040, 4]
 * await Y.reshape([561, 728, 5, 4]).slice([250, 250, 0, 0], [1, 1, 1, 4]).array(); // [0.06, 0.07, 0.63, 0.82]
 */
export function multiboxPrior(data: tf.Tensor, sizes: number[], ratios: number[], options: MultiboxPriorOptions = {}): tf.Tensor3D {
  const who = "multiboxPrior";
  checkTensor(who, "data", data);
  const format = options.dataFormat ?? "channelsLast";
  if (format !== "channelsLast" && format !== "channelsFirst") {
    throw new Error(`${who}: dataFormat must be "channelsLast" or "channelsFirst", got ${JSON.stringify(format)}`);
  }
  let inHeight: number;
  let inWidth: number;
  if (format === "channelsFirst") {
    if (data.rank < 2) throw new Error(`${who}: data must have its height and width as its last two axes (dataFormat "channelsFirst"), got ${describe(data)}`);
    [inHeight, inWidth] = data.shape.slice(-2);
  } else {
    if (data.rank !== 3 && data.rank !== 4) {
      throw new Error(
        `${who}: data must be [batch, height, width, channels] or [height, width, channels] (channels-last; ` +
          `pass { dataFormat: "channelsFirst" } for the book's (batch, channels, height, width)), got ${describe(data)}`,
      );
    }
    [inHeight, inWidth] = data.shape.slice(-3, -1);
  }
  if (inHeight < 1 || inWidth < 1) throw new Error(`${who}: data has no pixels (height ${inHeight}, width ${inWidth})`);
  checkPositiveList(who, "sizes", sizes);
  checkPositiveList(who, "ratios", ratios);

  // the book's w and h of the boxes of one pixel, in float32 as its tensors are
  const ws: number[] = [];
  const hs: number[] = [];
  const r0 = f32(Math.sqrt(f32(ratios[0])));
  for (const s of sizes) {
    ws.push(f32(f32(f32(f32(s) * r0) * inHeight) / inWidth));
    hs.push(f32(f32(s) / r0));
  }
  for (const r of ratios.slice(1)) {
    const sr = f32(Math.sqrt(f32(r)));
    ws.push(f32(f32(f32(f32(sizes[0]) * sr) * inHeight) / inWidth));
    hs.push(f32(f32(sizes[0]) / sr));
  }
  const perPixel = ws.length;
  const halfW = ws.map((w) => f32(w / 2));
  const halfH = hs.map((h) => f32(h / 2));
  const numAnchors = inHeight * inWidth * perPixel;
  const out = new Float32Array(numAnchors * 4);
  const stepH = f32(1 / inHeight);
  const stepW = f32(1 / inWidth);
  let k = 0;
  for (let i = 0; i < inHeight; i++) {
    const cy = f32(f32(i + 0.5) * stepH);
    for (let j = 0; j < inWidth; j++) {
      const cx = f32(f32(j + 0.5) * stepW);
      for (let b = 0; b < perPixel; b++) {
        out[k++] = cx - halfW[b];
        out[k++] = cy - halfH[b];
        out[k++] = cx + halfW[b];
        out[k++] = cy + halfH[b];
      }
    }
  }
  return tf.tensor3d(out, [1, numAnchors, 4]);
}

/**
 * Pairwise intersection over union (Jaccard index) of two lists of corner
 * boxes (the book's `box_iou(boxes1, boxes2)`): `boxes1` `[n, 4]`, `boxes2`
 * `[m, 4]`, result `[n, m]`.
 *
 * @example
 * const anchors = tf.tensor2d([[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4]]);
 * const truth = tf.tensor2d([[0.1, 0.08, 0.52, 0.92]]);
 * await d2l.boxIou(anchors, truth).array(); // [[0.0536], [0.1417]]
 */
export function boxIou(boxes1: tf.Tensor, boxes2: tf.Tensor): tf.Tensor2D {
  checkBoxes("boxIou", "boxes1", boxes1, 2);
  checkBoxes("boxIou", "boxes2", boxes2, 2);
  return tf.tidy(() => {
    const b1 = boxes1.cast("float32");
    const b2 = boxes2.cast("float32");
    const area = (b: tf.Tensor): tf.Tensor => {
      const [x1, y1, x2, y2] = unstackLast(b);
      return x2.sub(x1).mul(y2.sub(y1));
    };
    const areas1 = area(b1);
    const areas2 = area(b2);
    const n = b1.shape[0];
    const m = b2.shape[0];
    const ul = tf.maximum(b1.slice([0, 0], [n, 2]).expandDims(1), b2.slice([0, 0], [m, 2]));
    const lr = tf.minimum(b1.slice([0, 2], [n, 2]).expandDims(1), b2.slice([0, 2], [m, 2]));
    const inters = tf.relu(lr.sub(ul)); // clamp(min=0)
    const [iw, ih] = tf.split(inters, 2, -1);
    const interAreas = iw.mul(ih).squeeze([2]);
    const unionAreas = areas1.expandDims(1).add(areas2).sub(interAreas);
    return interAreas.div(unionAreas) as tf.Tensor2D;
  });
}

/** IoU of box a (at `ia` in `a`) and box b (at `ib` in `b`), in float32 steps as the book's box_iou. */
function iou32(a: Float32Array, ia: number, b: Float32Array, ib: number): number {
  const a0 = a[ia];
  const a1 = a[ia + 1];
  const a2 = a[ia + 2];
  const a3 = a[ia + 3];
  const b0 = b[ib];
  const b1 = b[ib + 1];
  const b2 = b[ib + 2];
  const b3 = b[ib + 3];
  const areaA = f32(f32(a2 - a0) * f32(a3 - a1));
  const areaB = f32(f32(b2 - b0) * f32(b3 - b1));
  const iw = Math.max(0, f32(Math.min(a2, b2) - Math.max(a0, b0)));
  const ih = Math.max(0, f32(Math.min(a3, b3) - Math.max(a1, b1)));
  const inter = f32(iw * ih);
  return f32(inter / f32(f32(areaA + areaB) - inter));
}

/** The book's assign_anchor_to_bbox on plain arrays: the index of each anchor's ground-truth box, -1 for none. */
function assignRows(gt: Float32Array, numGt: number, gtStride: number, gtOffset: number, anc: Float32Array, numAnchors: number, iouThreshold: number): Int32Array {
  const jaccard = new Float32Array(numAnchors * numGt);
  const box = new Float32Array(4);
  for (let j = 0; j < numGt; j++) {
    for (let c = 0; c < 4; c++) box[c] = gt[j * gtStride + gtOffset + c];
    for (let i = 0; i < numAnchors; i++) jaccard[i * numGt + j] = iou32(anc, i * 4, box, 0);
  }
  const map = new Int32Array(numAnchors).fill(-1);
  if (numGt === 0) return map;
  const threshold = f32(iouThreshold); // torch compares float32 with the threshold as a float32
  for (let i = 0; i < numAnchors; i++) {
    let best = 0;
    for (let j = 1; j < numGt; j++) if (jaccard[i * numGt + j] > jaccard[i * numGt + best]) best = j;
    if (jaccard[i * numGt + best] >= threshold) map[i] = best;
  }
  for (let round = 0; round < numGt; round++) {
    // argmax over the whole matrix, the first of equal values (NaN, as in torch, wins)
    let at = 0;
    for (let k = 1; k < jaccard.length; k++) {
      if (Number.isNaN(jaccard[at])) break;
      if (jaccard[k] > jaccard[at] || Number.isNaN(jaccard[k])) at = k;
    }
    const boxIdx = at % numGt;
    const ancIdx = Math.floor(at / numGt);
    map[ancIdx] = boxIdx;
    for (let i = 0; i < numAnchors; i++) jaccard[i * numGt + boxIdx] = -1;
    for (let j = 0; j < numGt; j++) jaccard[ancIdx * numGt + j] = -1;
  }
  return map;
}

/**
 * Assigns ground-truth boxes to anchors (the book's
 * `assign_anchor_to_bbox(ground_truth, anchors, device, iou_threshold=0.5)`):
 * each ground-truth box first takes the anchor it overlaps most (largest IoU
 * of the whole matrix first), and every other anchor takes the box it
 * overlaps most if that IoU is at least `iouThreshold`. Returns an int32
 * `[numAnchors]` tensor of box indices, -1 for an anchor left as background.
 *
 * `groundTruth` is `[numGtBoxes, 4]`, `anchors` `[numAnchors, 4]`, both
 * corners. `device` is accepted for the book's call shape and ignored: the
 * result lives on the backend that made `anchors`.
 *
 * @example
 * const truth = tf.tensor2d([[0.1, 0.08, 0.52, 0.92], [0.55, 0.2, 0.9, 0.88]]);
 * const anchors = tf.tensor2d([[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4], [0.63, 0.05, 0.88, 0.98], [0.66, 0.45, 0.8, 0.8], [0.57, 0.3, 0.92, 0.9]]);
 * await d2l.assignAnchorToBbox(truth, anchors).array(); // [-1, 0, 1, -1, 1]
 */
export function assignAnchorToBbox(groundTruth: tf.Tensor, anchors: tf.Tensor, device?: string, iouThreshold = 0.5): tf.Tensor1D {
  const who = "assignAnchorToBbox";
  checkBoxes(who, "groundTruth", groundTruth, 2);
  checkBoxes(who, "anchors", anchors, 2);
  if (device !== undefined && typeof device !== "string") throw new TypeError(`${who}: device must be a string such as d2l.tryGpu() returns, or left out; got ${describe(device)}`);
  checkThreshold(who, "iouThreshold", iouThreshold);
  const map = assignRows(floats(who, "groundTruth", groundTruth), groundTruth.shape[0], 4, 0, floats(who, "anchors", anchors), anchors.shape[0], iouThreshold);
  return tf.tensor1d(map, "int32");
}

/** The book's offset_boxes for one anchor `a` and box `b` (corner boxes at `ia`, `ib`), written into `out` at `io`. */
function offsetRow(a: Float32Array, ia: number, b: ArrayLike<number>, ib: number, eps: number, out: Float32Array, io: number): void {
  const acx = f32(f32(a[ia] + a[ia + 2]) / 2);
  const acy = f32(f32(a[ia + 1] + a[ia + 3]) / 2);
  const aw = f32(a[ia + 2] - a[ia]);
  const ah = f32(a[ia + 3] - a[ia + 1]);
  const bcx = f32(f32(b[ib] + b[ib + 2]) / 2);
  const bcy = f32(f32(b[ib + 1] + b[ib + 3]) / 2);
  const bw = f32(b[ib + 2] - b[ib]);
  const bh = f32(b[ib + 3] - b[ib + 1]);
  out[io] = f32(10 * f32(bcx - acx)) / aw;
  out[io + 1] = f32(10 * f32(bcy - acy)) / ah;
  out[io + 2] = 5 * f32(Math.log(f32(f32(eps) + f32(bw / aw))));
  out[io + 3] = 5 * f32(Math.log(f32(f32(eps) + f32(bh / ah))));
}

/**
 * The offsets of assigned boxes from their anchors that SSD learns to
 * predict (the book's `offset_boxes(anchors, assigned_bb, eps=1e-6)`):
 * `10 * (center shift) / anchor size` and `5 * log(eps + box size / anchor
 * size)`. Both arguments are `[n, 4]` corner boxes; the result is `[n, 4]`.
 *
 * @example
 * const anchors = tf.tensor2d([[0.15, 0.2, 0.4, 0.4]]);
 * const boxes = tf.tensor2d([[0.1, 0.08, 0.52, 0.92]]);
 * await d2l.offsetBoxes(anchors, boxes).array(); // [[1.4, 10, 2.59, 7.18]]
 */
export function offsetBoxes(anchors: tf.Tensor, assignedBb: tf.Tensor, eps = 1e-6): tf.Tensor2D {
  const who = "offsetBoxes";
  checkBoxes(who, "anchors", anchors, 2);
  checkBoxes(who, "assignedBb", assignedBb, 2);
  if (anchors.shape[0] !== assignedBb.shape[0]) {
    throw new Error(`${who}: anchors and assignedBb must have one row each per anchor, got ${shapeStr(anchors.shape)} and ${shapeStr(assignedBb.shape)}`);
  }
  checkThreshold(who, "eps", eps);
  return tf.tidy(() => {
    const cAnc = boxCornerToCenter(anchors);
    const cBb = boxCornerToCenter(assignedBb);
    const n = anchors.shape[0];
    const ancXy = cAnc.slice([0, 0], [n, 2]);
    const ancWh = cAnc.slice([0, 2], [n, 2]);
    const offsetXy = cBb.slice([0, 0], [n, 2]).sub(ancXy).mul(10).div(ancWh);
    const offsetWh = tf.log(cBb.slice([0, 2], [n, 2]).div(ancWh).add(eps)).mul(5);
    return tf.concat([offsetXy, offsetWh], 1) as tf.Tensor2D;
  });
}

/**
 * Labels anchors with classes and offsets from the ground truth, for
 * training a detector (the book's `multibox_target(anchors, labels)`).
 * `anchors` is `[1, numAnchors, 4]` (as `multiboxPrior` returns) and
 * `labels` `[batch, numGtBoxes, 5]`, each row `(class, x1, y1, x2, y2)`
 * (rows of -1 pad an image with fewer boxes, as in the book's banana data
 * set, and are treated as the book's code treats them). Returns
 * `[bboxOffset, bboxMask, classLabels]`: float32 `[batch, numAnchors * 4]`
 * offsets (0 for background anchors), float32 `[batch, numAnchors * 4]`
 * masks (1 for the four coordinates of an assigned anchor) and int32
 * `[batch, numAnchors]` classes (0 background, else the box's class + 1).
 *
 * @example
 * const truth = tf.tensor2d([[0, 0.1, 0.08, 0.52, 0.92], [1, 0.55, 0.2, 0.9, 0.88]]);
 * const anchors = tf.tensor2d([[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4], [0.63, 0.05, 0.88, 0.98], [0.66, 0.45, 0.8, 0.8], [0.57, 0.3, 0.92, 0.9]]);
 * const [offset, mask, classLabels] = d2l.multiboxTarget(anchors.expandDims(0), truth.expandDims(0));
 * await classLabels.array(); // [[0, 1, 2, 0, 2]]
 */
export function multiboxTarget(anchors: tf.Tensor, labels: tf.Tensor): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] {
  const who = "multiboxTarget";
  const anc = floats(who, "anchors", anchorRows(who, anchors));
  checkTensor(who, "labels", labels);
  if (labels.rank !== 3 || labels.shape[2] !== 5) {
    throw new Error(`${who}: labels must have shape [batch, numGtBoxes, 5], each row (class, x1, y1, x2, y2); got ${describe(labels)}`);
  }
  const numAnchors = anc.length / 4;
  const [batch, numGt] = labels.shape;
  const lab = floats(who, "labels", labels);
  const offsets = new Float32Array(batch * numAnchors * 4);
  const masks = new Float32Array(batch * numAnchors * 4);
  const classes = new Int32Array(batch * numAnchors);
  for (let b = 0; b < batch; b++) {
    const base = b * numGt * 5;
    const mapB = assignRows(lab.subarray(base, base + numGt * 5), numGt, 5, 1, anc, numAnchors, 0.5);
    for (let i = 0; i < numAnchors; i++) {
      const j = mapB[i];
      if (j < 0) continue;
      const row = base + j * 5;
      classes[b * numAnchors + i] = Math.trunc(lab[row]) + 1;
      const o = (b * numAnchors + i) * 4;
      masks.fill(1, o, o + 4);
      offsetRow(anc, i * 4, lab, row + 1, 1e-6, offsets, o);
    }
  }
  return [tf.tensor2d(offsets, [batch, numAnchors * 4]), tf.tensor2d(masks, [batch, numAnchors * 4]), tf.tensor2d(classes, [batch, numAnchors], "int32")];
}

/**
 * Boxes from anchors and predicted offsets, the inverse of `offsetBoxes`
 * (the book's `offset_inverse(anchors, offset_preds)`): both `[n, 4]`, the
 * result `[n, 4]` corner boxes.
 *
 * @example
 * const anchors = tf.tensor2d([[0.1, 0.08, 0.52, 0.92]]);
 * await d2l.offsetInverse(anchors, tf.zeros([1, 4])).array(); // [[0.1, 0.08, 0.52, 0.92]]
 */
export function offsetInverse(anchors: tf.Tensor, offsetPreds: tf.Tensor): tf.Tensor2D {
  const who = "offsetInverse";
  checkBoxes(who, "anchors", anchors, 2);
  checkBoxes(who, "offsetPreds", offsetPreds, 2);
  if (anchors.shape[0] !== offsetPreds.shape[0]) {
    throw new Error(`${who}: anchors and offsetPreds must have one row each per anchor, got ${shapeStr(anchors.shape)} and ${shapeStr(offsetPreds.shape)}`);
  }
  return tf.tidy(() => {
    const anc = boxCornerToCenter(anchors);
    const off = offsetPreds.cast("float32");
    const n = anchors.shape[0];
    const ancXy = anc.slice([0, 0], [n, 2]);
    const ancWh = anc.slice([0, 2], [n, 2]);
    const xy = off.slice([0, 0], [n, 2]).mul(ancWh).div(10).add(ancXy);
    const wh = tf.exp(off.slice([0, 2], [n, 2]).div(5)).mul(ancWh);
    return boxCenterToCorner(tf.concat([xy, wh], 1)) as tf.Tensor2D;
  });
}

/** Greedy non-maximum suppression on plain arrays: the indices kept, best score first. */
function nmsRows(boxes: Float32Array, scores: ArrayLike<number>, iouThreshold: number): number[] {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    const sa = scores[a];
    const sb = scores[b];
    if (Number.isNaN(sa) || Number.isNaN(sb)) return Number.isNaN(sa) ? (Number.isNaN(sb) ? 0 : -1) : 1; // NaN sorts first, as torch's
    return sb - sa;
  });
  const threshold = f32(iouThreshold);
  const keep: number[] = [];
  const removed = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    const i = order[p];
    if (removed[i]) continue;
    keep.push(i);
    for (let q = p + 1; q < n; q++) {
      const j = order[q];
      // the book keeps a box whose IoU is <= the threshold (so NaN IoUs are dropped)
      if (!removed[j] && !(iou32(boxes, i * 4, boxes, j * 4) <= threshold)) removed[j] = 1;
    }
  }
  return keep;
}

/**
 * Non-maximum suppression (the book's `nms(boxes, scores, iou_threshold)`):
 * repeatedly keeps the box with the highest remaining score and drops the
 * boxes whose IoU with it is above `iouThreshold`. `boxes` is `[n, 4]`,
 * `scores` `[n]`; returns the int32 indices kept, highest score first
 * (equal scores in index order).
 *
 * @example
 * const boxes = tf.tensor2d([[0.1, 0.08, 0.52, 0.92], [0.08, 0.2, 0.56, 0.95], [0.15, 0.3, 0.62, 0.91], [0.55, 0.2, 0.9, 0.88]]);
 * await (await d2l.nms(boxes, tf.tensor1d([0.9, 0.8, 0.7, 0.9]), 0.5)).array(); // [0, 3]
 */
export async function nms(boxes: tf.Tensor, scores: tf.Tensor, iouThreshold: number): Promise<tf.Tensor1D> {
  const who = "nms";
  checkBoxes(who, "boxes", boxes, 2);
  checkTensor(who, "scores", scores);
  if (scores.rank !== 1 || scores.shape[0] !== boxes.shape[0]) {
    throw new Error(`${who}: scores must have shape [${boxes.shape[0]}] (one score per box), got ${describe(scores)}`);
  }
  checkThreshold(who, "iouThreshold", iouThreshold);
  const [b, sc] = await Promise.all([hostFloats(boxes), hostFloats(scores)]);
  return tf.tensor1d(nmsRows(b, sc, iouThreshold), "int32");
}

/**
 * Predicted boxes from class probabilities and offsets, after non-maximum
 * suppression (the book's `multibox_detection(cls_probs, offset_preds,
 * anchors, nms_threshold=0.5, pos_threshold=0.009999999)`).
 * `clsProbs` is `[batch, numClasses + 1, numAnchors]` (class 0 the
 * background), `offsetPreds` `[batch, numAnchors * 4]` and `anchors`
 * `[1, numAnchors, 4]`. Returns float32 `[batch, numAnchors, 6]`, a row per
 * anchor: `(class, confidence, x1, y1, x2, y2)`, the boxes NMS kept first
 * (highest confidence first), then the others with class -1; a box whose
 * confidence is under `posThreshold` also gets class -1 and confidence
 * `1 - confidence`.
 *
 * @example
 * const anchors = tf.tensor2d([[0.1, 0.08, 0.52, 0.92], [0.08, 0.2, 0.56, 0.95], [0.15, 0.3, 0.62, 0.91], [0.55, 0.2, 0.9, 0.88]]);
 * const clsProbs = tf.tensor2d([[0, 0, 0, 0], [0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.9]]);
 * const output = await d2l.multiboxDetection(clsProbs.expandDims(0), tf.zeros([1, 16]), anchors.expandDims(0), 0.5);
 * await output.array(); // [[[0, 0.9, 0.1, 0.08, 0.52, 0.92], [1, 0.9, 0.55, 0.2, 0.9, 0.88], [-1, 0.8, ...], [-1, 0.7, ...]]]
 */
export async function multiboxDetection(clsProbs: tf.Tensor, offsetPreds: tf.Tensor, anchors: tf.Tensor, nmsThreshold = 0.5, posThreshold = 0.009999999): Promise<tf.Tensor3D> {
  const who = "multiboxDetection";
  checkTensor(who, "clsProbs", clsProbs);
  checkTensor(who, "offsetPreds", offsetPreds);
  const ancT = anchorRows(who, anchors);
  const numAnchors = ancT.shape[ancT.rank - 2];
  const cs: number[] = clsProbs.shape;
  if (cs.length !== 3 || cs[1] < 2 || cs[2] !== numAnchors) {
    throw new Error(`${who}: clsProbs must have shape [batch, numClasses + 1, ${numAnchors}] (background first, one column per anchor), got ${describe(clsProbs)}`);
  }
  const batch = cs[0];
  if (offsetPreds.rank !== 2 || offsetPreds.shape[0] !== batch || offsetPreds.shape[1] !== numAnchors * 4) {
    throw new Error(`${who}: offsetPreds must have shape [${batch}, ${numAnchors * 4}] (batch, numAnchors * 4), got ${describe(offsetPreds)}`);
  }
  checkThreshold(who, "nmsThreshold", nmsThreshold);
  checkThreshold(who, "posThreshold", posThreshold);
  const numCls = cs[1] - 1;
  const boxesT = tf.tidy(() => offsetInverse(ancT.reshape([numAnchors, 4]).tile([batch, 1]), offsetPreds.reshape([batch * numAnchors, 4])));
  let probs: Float32Array;
  let boxes: Float32Array;
  try {
    [probs, boxes] = await Promise.all([hostFloats(clsProbs), hostFloats(boxesT)]);
  } finally {
    boxesT.dispose();
  }
  const out = new Float32Array(batch * numAnchors * 6);
  const minConf = f32(posThreshold);
  const conf = new Float32Array(numAnchors);
  const classId = new Int32Array(numAnchors);
  for (let b = 0; b < batch; b++) {
    const pb = b * (numCls + 1) * numAnchors;
    for (let a = 0; a < numAnchors; a++) {
      let best = 0;
      let bestP = probs[pb + numAnchors + a];
      for (let c = 1; c < numCls; c++) {
        const p = probs[pb + (c + 1) * numAnchors + a];
        if (p > bestP || (Number.isNaN(p) && !Number.isNaN(bestP))) {
          best = c;
          bestP = p;
        }
      }
      conf[a] = bestP;
      classId[a] = best;
    }
    const bb = boxes.subarray(b * numAnchors * 4, (b + 1) * numAnchors * 4);
    const keep = nmsRows(bb, conf, nmsThreshold);
    const kept = new Uint8Array(numAnchors);
    for (const i of keep) kept[i] = 1;
    const order = keep.concat(Array.from({ length: numAnchors }, (_, i) => i).filter((i) => !kept[i]));
    order.forEach((i, r) => {
      let cls = kept[i] ? classId[i] : -1;
      let c = conf[i];
      if (c < minConf) {
        cls = -1;
        c = 1 - c;
      }
      const o = (b * numAnchors + r) * 6;
      out[o] = cls;
      out[o + 1] = c;
      out.set(bb.subarray(i * 4, i * 4 + 4), o + 2);
    });
  }
  return tf.tensor3d(out, [batch, numAnchors, 6]);
}
