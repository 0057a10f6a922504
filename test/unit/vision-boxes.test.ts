// The detection helpers of lib/vision/boxes.ts (the book's 14.3 "Object Detection and Bounding Boxes" and
// 14.4 "Anchor Boxes"; 13.3-13.4 of the Chinese edition) against the book's PyTorch code run by
// test/fixtures/detection/make_fixtures.py (torch 1.13) on the book's examples and on seeded random cases,
// within 1e-4; and the numbers the book prints, asserted directly. On the cpu backend.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { maxDiff, tensorOf, type FixtureTensor } from "./torch-fixtures";
import * as d2l from "../../lib/index";

before(async () => {
  await tf.setBackend("cpu");
});

type T = FixtureTensor;
interface Prior {
  h: number;
  w: number;
  sizes: number[];
  ratios: number[];
  anchors: T;
}
interface Fixture {
  bboxes: { boxes: T; center: T; roundtrip: T };
  prior_catdog: { h: number; w: number; sizes: number[]; ratios: number[]; shape: number[]; first: T; first_pixel: T; at_250_250: T; last_pixel: T; sum: number; sum_sq: number };
  prior_small: Prior;
  prior_single: Prior;
  target_book: { ground_truth: T; anchors: T; iou: T; map: T; offset: T; mask: T; class_labels: T };
  target_random: { anchors: T; labels: T; iou: T; "map_threshold_0.3": T; offset: T; mask: T; class_labels: T };
  offsets: { anchors: T; assigned: T; offset_boxes: T; preds: T; offset_inverse: T };
  detection_book: { anchors: T; cls_probs: T; nms_keep: T; output: T };
  detection_random: { anchors: T; cls_probs: T; offset_preds: T; output: T; "output_pos_0.3": T; scores: T; "nms_0.3": T; "nms_0.7": T };
}

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/detection/detection.json");
const fx = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as Fixture;
const TOL = 1e-4;
const t = tensorOf;

function close(got: tf.Tensor, want: T, what: string, tol = TOL): void {
  const d = maxDiff(got, want, what);
  assert.ok(d <= tol, `${what}: off by ${d} (tolerance ${tol})`);
}

/** Values rounded to `digits` decimals, as the book prints them. */
function rounded(x: tf.Tensor | ArrayLike<number>, digits: number): number[] {
  const v = x instanceof tf.Tensor ? Array.from(x.dataSync()) : Array.from(x);
  return v.map((n) => Number(n.toFixed(digits)) + 0); // + 0 turns -0 into 0
}

function same(got: tf.Tensor, want: T, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  assert.equal(got.dtype, "int32", `${what}: dtype`);
  assert.deepEqual(Array.from(got.dataSync()), want.data, what);
}

describe("bounding boxes (14.3)", () => {
  test("corner to center and back: the dog and the cat of catdog.jpg", () => {
    const boxes = t(fx.bboxes.boxes);
    const center = d2l.boxCornerToCenter(boxes);
    close(center, fx.bboxes.center, "boxCornerToCenter");
    assert.deepEqual(Array.from(center.dataSync()), [219, 280.5, 318, 471, 527.5, 302.5, 255, 381]);
    const back = d2l.boxCenterToCorner(center);
    // the book prints boxes_center_to_corner(box_corner_to_center(boxes)) == boxes: all true
    assert.deepEqual(Array.from(back.dataSync()), Array.from(boxes.dataSync()));
    close(back, fx.bboxes.roundtrip, "round trip");
  });

  test("bad shapes say what was expected", () => {
    assert.throws(() => d2l.boxCornerToCenter(tf.zeros([2, 3])), /boxCornerToCenter: boxes must have shape \[\.\.\., 4\].*\[2, 3\]/);
    assert.throws(() => d2l.boxCenterToCorner([1, 2, 3, 4] as unknown as tf.Tensor), /must be a tensor, got an array/);
    assert.throws(() => d2l.boxIou(tf.zeros([4]), tf.zeros([1, 4])), /boxIou: boxes1 must have shape \[numBoxes, 4\]/);
  });
});

describe("anchor boxes (14.4.1): multiboxPrior", () => {
  const p = fx.prior_catdog;
  test("the 561x728 catdog image: shape (1, 2042040, 4), the first anchor, boxes[250, 250, 0, :] = [0.06, 0.07, 0.63, 0.82]", () => {
    const X = tf.zeros([1, p.h, p.w, 3]);
    const Y = d2l.multiboxPrior(X, p.sizes, p.ratios);
    assert.deepEqual(Y.shape, [1, 2042040, 4]); // the book's torch.Size([1, 2042040, 4])
    assert.deepEqual(Y.shape, p.shape);
    const boxes = Y.reshape([p.h, p.w, 5, 4]);
    const at = boxes.slice([250, 250, 0, 0], [1, 1, 5, 4]).reshape([5, 4]);
    assert.deepEqual(rounded(at.slice([0, 0], [1, 4]), 2), [0.06, 0.07, 0.63, 0.82]); // the book's printed values
    close(at, p.at_250_250, "boxes[250, 250]");
    close(Y.slice([0, 0, 0], [1, 1, 4]).reshape([4]), p.first, "the first anchor");
    close(boxes.slice([0, 0, 0, 0], [1, 1, 5, 4]).reshape([5, 4]), p.first_pixel, "the first pixel's anchors");
    close(boxes.slice([p.h - 1, p.w - 1, 0, 0], [1, 1, 5, 4]).reshape([5, 4]), p.last_pixel, "the last pixel's anchors");
    // all 8 million numbers at once: sum and sum of squares against torch's (float64 sums of float32 values)
    const v = Y.dataSync();
    let s = 0;
    let s2 = 0;
    for (const x of v) {
      s += x;
      s2 += x * x;
    }
    assert.ok(Math.abs(s - p.sum) / Math.abs(p.sum) < 1e-6, `sum ${s} vs torch ${p.sum}`);
    assert.ok(Math.abs(s2 - p.sum_sq) / p.sum_sq < 1e-6, `sum of squares ${s2} vs torch ${p.sum_sq}`);
    tf.dispose([X, Y, boxes, at]);
  });

  test("small maps compared in full; channels-first data as the book's", () => {
    for (const q of [fx.prior_small, fx.prior_single]) {
      close(d2l.multiboxPrior(tf.zeros([2, q.h, q.w, 3]), q.sizes, q.ratios), q.anchors, `prior ${q.h}x${q.w}`);
      close(d2l.multiboxPrior(tf.zeros([q.h, q.w, 1]), q.sizes, q.ratios), q.anchors, `prior ${q.h}x${q.w}, one image`);
      close(d2l.multiboxPrior(tf.zeros([1, 3, q.h, q.w]), q.sizes, q.ratios, { dataFormat: "channelsFirst" }), q.anchors, `prior ${q.h}x${q.w} NCHW`);
    }
  });

  test("bad input", () => {
    assert.throws(() => d2l.multiboxPrior(tf.zeros([5, 5]), [0.5], [1]), /data must be \[batch, height, width, channels\].*channelsFirst/);
    assert.throws(() => d2l.multiboxPrior(tf.zeros([1, 5, 5, 3]), [], [1]), /sizes must be a non-empty array of positive numbers/);
    assert.throws(() => d2l.multiboxPrior(tf.zeros([1, 5, 5, 3]), [0.5], [0, 1]), /ratios must be a non-empty array of positive numbers/);
    assert.throws(() => d2l.multiboxPrior(tf.zeros([1, 5, 5, 3]), [0.5], [1], { dataFormat: "NCHW" as "channelsFirst" }), /dataFormat must be/);
  });
});

describe("labelling anchors (14.4.3)", () => {
  const b = fx.target_book;
  test("the IoU matrix of the book's anchors and ground truth", () => {
    const truth = t(b.ground_truth).slice([0, 1], [2, 4]);
    close(d2l.boxIou(t(b.anchors), truth), b.iou, "boxIou (book)");
    const r = fx.target_random;
    close(d2l.boxIou(r.anchors.shape.length === 3 ? t(r.anchors).squeeze([0]) : t(r.anchors), t(r.labels).slice([0, 0, 1], [1, 4, 4]).squeeze([0])), r.iou, "boxIou (random)");
  });

  test("assignAnchorToBbox: the book's example and a random one at threshold 0.3", () => {
    const truth = t(b.ground_truth).slice([0, 1], [2, 4]);
    const map = d2l.assignAnchorToBbox(truth, t(b.anchors), d2l.tryGpu());
    same(map, b.map, "anchors_bbox_map");
    assert.deepEqual(Array.from(map.dataSync()), [-1, 0, 1, -1, 1]);
    const r = fx.target_random;
    same(
      d2l.assignAnchorToBbox(t(r.labels).slice([0, 0, 1], [1, 4, 4]).squeeze([0]), t(r.anchors).squeeze([0]), undefined, 0.3),
      r["map_threshold_0.3"],
      "random map, threshold 0.3",
    );
  });

  test("multiboxTarget on the book's example: labels [[0, 1, 2, 0, 2]], the masks and offsets it prints", () => {
    const [offset, mask, cls] = d2l.multiboxTarget(t(b.anchors).expandDims(0), t(b.ground_truth).expandDims(0));
    assert.deepEqual(Array.from(cls.dataSync()), [0, 1, 2, 0, 2]); // the book's tensor([[0, 1, 2, 0, 2]])
    assert.deepEqual(cls.shape, [1, 5]);
    assert.deepEqual(Array.from(mask.dataSync()), [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]); // the book's mask
    // the book prints the offsets to 3 significant digits
    const printed = [0, 0, 0, 0, 1.4, 10, 2.59, 7.18, -1.2, 0.269, 1.68, -1.57, 0, 0, 0, 0, -0.571, -1, 4.17e-6, 0.626];
    const got = Array.from(offset.dataSync());
    got.forEach((g, i) => assert.equal(Number(g.toPrecision(3)) + 0, printed[i], `offset ${i}: ${g}`));
    close(offset, b.offset, "offsets");
    close(mask, b.mask, "masks");
    same(cls, b.class_labels, "class labels");
  });

  test("multiboxTarget on two images with a padded (-1) label row and 60 random anchors", () => {
    const r = fx.target_random;
    const [offset, mask, cls] = d2l.multiboxTarget(t(r.anchors), t(r.labels));
    close(offset, r.offset, "offsets");
    close(mask, r.mask, "masks");
    same(cls, r.class_labels, "class labels");
    // anchors as [numAnchors, 4] work too
    const [, , cls2] = d2l.multiboxTarget(t(r.anchors).squeeze([0]), t(r.labels));
    same(cls2, r.class_labels, "class labels, 2-D anchors");
  });

  test("offsetBoxes and offsetInverse", () => {
    const o = fx.offsets;
    close(d2l.offsetBoxes(t(o.anchors), t(o.assigned)), o.offset_boxes, "offsetBoxes");
    close(d2l.offsetInverse(t(o.anchors), t(o.preds)), o.offset_inverse, "offsetInverse");
    // the inverse of the offsets gives the boxes back
    close(d2l.offsetInverse(t(o.anchors), d2l.offsetBoxes(t(o.anchors), t(o.assigned))), o.assigned, "round trip");
  });

  test("bad shapes", () => {
    assert.throws(() => d2l.multiboxTarget(tf.zeros([1, 5, 4]), tf.zeros([1, 2, 4])), /labels must have shape \[batch, numGtBoxes, 5\]/);
    assert.throws(() => d2l.multiboxTarget(tf.zeros([2, 5, 4]), tf.zeros([1, 2, 5])), /anchors must have shape \[1, numAnchors, 4\]/);
    assert.throws(() => d2l.offsetBoxes(tf.zeros([3, 4]), tf.zeros([2, 4])), /one row each per anchor.*\[3, 4\] and \[2, 4\]/);
    assert.throws(() => d2l.assignAnchorToBbox(tf.zeros([2, 5]), tf.zeros([3, 4])), /groundTruth must have shape \[numBoxes, 4\]/);
  });
});

describe("non-maximum suppression (14.4.4)", () => {
  const b = fx.detection_book;
  test("nms keeps the dog's best box and the cat's", async () => {
    const scores = tf.max(t(b.cls_probs).slice([1, 0], [2, 4]), 0);
    const keep = await d2l.nms(t(b.anchors), scores, 0.5);
    same(keep, b.nms_keep, "nms keep");
    assert.deepEqual(Array.from(keep.dataSync()).sort(), [0, 3]);
  });

  test("multiboxDetection: the book's printed output", async () => {
    const out = await d2l.multiboxDetection(t(b.cls_probs).expandDims(0), tf.zeros([1, 16], "int32"), t(b.anchors).expandDims(0), 0.5);
    close(out, b.output, "output");
    assert.deepEqual(out.shape, [1, 4, 6]);
    // the book: [[ 0.00, 0.90, 0.10, 0.08, 0.52, 0.92], [ 1.00, 0.90, 0.55, 0.20, 0.90, 0.88],
    //            [-1.00, 0.80, 0.08, 0.20, 0.56, 0.95], [-1.00, 0.70, 0.15, 0.30, 0.62, 0.91]]
    assert.deepEqual(rounded(out, 2), [0, 0.9, 0.1, 0.08, 0.52, 0.92, 1, 0.9, 0.55, 0.2, 0.9, 0.88, -1, 0.8, 0.08, 0.2, 0.56, 0.95, -1, 0.7, 0.15, 0.3, 0.62, 0.91]);
  });

  test("random: nms at two thresholds, multiboxDetection on three images with offsets and a high pos_threshold", async () => {
    const r = fx.detection_random;
    const anc = t(r.anchors);
    same(await d2l.nms(anc.squeeze([0]), t(r.scores), 0.3), r["nms_0.3"], "nms 0.3");
    same(await d2l.nms(anc.squeeze([0]), t(r.scores), 0.7), r["nms_0.7"], "nms 0.7");
    close(await d2l.multiboxDetection(t(r.cls_probs), t(r.offset_preds), anc, 0.3), r.output, "detection");
    close(await d2l.multiboxDetection(t(r.cls_probs), t(r.offset_preds), anc, 0.5, 0.3), r["output_pos_0.3"], "detection, pos_threshold 0.3");
  });

  test("bad shapes", async () => {
    const anc = t(b.anchors).expandDims(0);
    await assert.rejects(d2l.nms(t(b.anchors), tf.zeros([3]), 0.5), /scores must have shape \[4\]/);
    await assert.rejects(d2l.multiboxDetection(tf.zeros([1, 3, 5]), tf.zeros([1, 16]), anc), /clsProbs must have shape \[batch, numClasses \+ 1, 4\]/);
    await assert.rejects(d2l.multiboxDetection(tf.zeros([1, 3, 4]), tf.zeros([1, 12]), anc), /offsetPreds must have shape \[1, 16\]/);
    await assert.rejects(d2l.nms(t(b.anchors), tf.zeros([4]), Number.NaN), /iouThreshold must be a finite number/);
  });

  test("no tensors leak: each helper leaves only its results", async () => {
    const anc = t(b.anchors);
    const anc3 = anc.expandDims(0);
    const probs = t(b.cls_probs).expandDims(0);
    const zeros = tf.zeros([4, 4]);
    const flat = zeros.reshape([1, 16]);
    const truth = t(fx.target_book.ground_truth).expandDims(0);
    const scores = tf.ones([4]);
    const before = tf.memory().numTensors;
    const results = [
      await d2l.multiboxDetection(probs, flat, anc3),
      ...d2l.multiboxTarget(anc3, truth),
      d2l.boxIou(anc, anc),
      d2l.offsetInverse(anc, zeros),
      d2l.offsetBoxes(anc, anc),
      d2l.boxCornerToCenter(anc),
      d2l.boxCenterToCorner(anc),
      await d2l.nms(anc, scores, 0.5),
      d2l.assignAnchorToBbox(anc, anc),
      d2l.multiboxPrior(tf.zeros([1, 2, 2, 1]), [0.5], [1]),
    ];
    assert.equal(tf.memory().numTensors - before, results.length + 1); // + the zeros made for multiboxPrior
    tf.dispose(results);
  });
});
