// Segmentation metrics (lib/vision/segmentation.ts: pixelAccuracy, iouPerClass, meanIou) and the losses section
// 13.11's notebook trains its FCN with (d2l.losses.crossEntropy per pixel, d2l.losses.diceLoss on softmax
// probabilities): values worked out by hand here, a brute-force count on random maps, PyTorch's values from
// test/fixtures/torch/segmentation.py, and the dice gradient against central differences.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import { maxDiff, tensorOf, type FixtureTensor } from "./torch-fixtures";

interface SegFixture {
  torch: string;
  numClasses: number;
  scores: FixtureTensor;
  labels: FixtureTensor;
  pred: FixtureTensor;
  ce: number;
  ceBook: FixtureTensor;
  dice: number;
  dicePerImage: FixtureTensor;
  diceGrad: FixtureTensor;
  pixelAccuracy: number;
  iou: (number | null)[];
  meanIou: number;
}

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/segmentation.json");
const fx = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as SegFixture;

const int = (rows: number[][]) => tf.tensor2d(rows, undefined, "int32");

describe("pixelAccuracy", () => {
  test("counts equal pixels, from class indices or from scores", async () => {
    // 3 of 4 pixels right
    assert.equal(
      await d2l.pixelAccuracy(
        int([
          [0, 1],
          [1, 2],
        ]),
        int([
          [0, 0],
          [1, 2],
        ]),
      ),
      0.75,
    );
    // scores [1, 2, 3]: argmax per pixel is 2, 0, 1 -> labels 2, 1, 1: 2 of 3 right
    const scores = tf.tensor3d([
      [
        [0, 1, 5],
        [3, 1, 0],
        [0, 2, 1],
      ],
    ]);
    assert.equal(await d2l.pixelAccuracy(scores, tf.tensor2d([[2, 1, 1]], [1, 3], "int32")), 2 / 3);
  });

  test("rejects predictions of the wrong shape and labels that are not classes, saying what was expected", async () => {
    await assert.rejects(d2l.pixelAccuracy(tf.zeros([2, 3]), tf.zeros([2, 2], "int32")), /class indices shaped like the labels \[2, 2\].*got \[2, 3\]/);
    await assert.rejects(
      d2l.pixelAccuracy(
        tf.zeros([2, 2], "int32"),
        tf.tensor2d(
          [
            [0, 1],
            [-1, 0],
          ],
          [2, 2],
          "int32",
        ),
      ),
      /labels must be class indices.*found -1/,
    );
  });
});

describe("iouPerClass and meanIou", () => {
  test("a 3x3 example worked out by hand", async () => {
    const labels = int([
      [0, 0, 1],
      [0, 1, 1],
      [2, 2, 0],
    ]);
    const pred = int([
      [0, 1, 1],
      [0, 1, 1],
      [2, 0, 3],
    ]);
    // class 0: labels {00,01,10,22}, pred {00,10,21}: inter 2, union 5 -> 0.4
    // class 1: labels {02,11,12}, pred {01,02,11,12}: inter 3, union 4 -> 0.75
    // class 2: labels {20,21}, pred {20}: inter 1, union 2 -> 0.5
    // class 3: predicted at 22, never a label -> 0; class 4: in neither -> no IoU
    const ious = await d2l.iouPerClass(pred, labels, 5);
    assert.deepEqual(ious, [0.4, 0.75, 0.5, 0, null]);
    assert.ok(Math.abs((await d2l.meanIou(pred, labels, 5)) - (0.4 + 0.75 + 0.5 + 0) / 4) < 1e-12);
    assert.equal(await d2l.pixelAccuracy(pred, labels), 6 / 9);
  });

  test("the all-background answer scores the background's share over the classes present", async () => {
    const labels = int([
      [0, 0, 0, 0],
      [0, 3, 3, 0],
      [0, 0, 7, 0],
    ]);
    const zeros = tf.zerosLike(labels);
    // background IoU = 9 / 12; classes 3 and 7 present, IoU 0; the other 8 of 11 in neither
    assert.ok(Math.abs((await d2l.meanIou(zeros, labels, 11)) - 9 / 12 / 3) < 1e-12);
    assert.equal(await d2l.pixelAccuracy(zeros, labels), 9 / 12);
    assert.equal(await d2l.meanIou(labels, labels, 11), 1);
  });

  test("equals a brute-force count on random maps, from indices and from scores", async () => {
    const C = 6;
    const labels = tf.randomUniform([3, 7, 9], 0, C, "int32");
    const scores = tf.randomNormal([3, 7, 9, C]);
    const pred = tf.argMax(scores, -1);
    const y = Array.from(labels.dataSync());
    const p = Array.from(pred.dataSync());
    const want: (number | null)[] = [];
    for (let c = 0; c < C; c++) {
      const inter = y.filter((v, i) => v === c && p[i] === c).length;
      const union = y.filter((v, i) => v === c || p[i] === c).length;
      want.push(union === 0 ? null : inter / union);
    }
    const got = await d2l.iouPerClass(scores, labels, C);
    assert.deepEqual(await d2l.iouPerClass(pred, labels, C), got);
    got.forEach((v, c) => assert.ok(v === want[c] || Math.abs((v as number) - (want[c] as number)) < 1e-12, `class ${c}: ${v} vs ${want[c]}`));
    const present = want.filter((v): v is number => v !== null);
    assert.ok(Math.abs((await d2l.meanIou(scores, labels, C)) - present.reduce((a, b) => a + b, 0) / present.length) < 1e-12);
    tf.dispose([labels, scores, pred]);
  });

  test("bad input: numClasses, classes out of range, scores of the wrong width", async () => {
    const labels = int([[0, 1]]);
    await assert.rejects(d2l.meanIou(labels, labels, 0), /numClasses must be a positive integer/);
    await assert.rejects(d2l.meanIou(int([[0, 4]]), labels, 3), /predicted classes must be class indices, whole numbers from 0 to 2; found 4/);
    await assert.rejects(d2l.meanIou(labels, int([[0, 3]]), 3), /labels must be class indices, whole numbers from 0 to 2; found 3/);
    await assert.rejects(d2l.meanIou(tf.zeros([1, 2, 3]), labels, 2), /last axis holds 3 classes but numClasses is 2/);
  });
});

describe(`against PyTorch (torch ${fx.torch}, test/fixtures/torch/segmentation.py)`, () => {
  const scores = tensorOf(fx.scores);
  const labels = tensorOf(fx.labels);

  test("argmax, pixel accuracy, per-class IoU (torch.bincount confusion matrix) and mean IoU", async () => {
    assert.deepEqual(Array.from(tf.argMax(scores, -1).dataSync()), fx.pred.data);
    assert.ok(Math.abs((await d2l.pixelAccuracy(scores, labels)) - fx.pixelAccuracy) < 1e-12);
    const ious = await d2l.iouPerClass(scores, labels, fx.numClasses);
    assert.deepEqual(
      ious.map((v) => v === null),
      fx.iou.map((v) => v === null),
    );
    ious.forEach((v, c) => v !== null && assert.ok(Math.abs(v - (fx.iou[c] as number)) < 1e-12, `class ${c}`));
    assert.ok(fx.iou.includes(null) && fx.iou.includes(0), "the fixture has a class in neither and a class with IoU 0");
    assert.ok(Math.abs((await d2l.meanIou(scores, labels, fx.numClasses)) - fx.meanIou) < 1e-12);
  });

  test("per-pixel cross-entropy: the mean, and the book's per-image mean(1).mean(1)", () => {
    assert.ok(maxDiff(d2l.losses.crossEntropy(scores, labels), fx.ce, "ce") < 1e-5);
    const perImage = d2l.losses.crossEntropy(scores, labels, { reduction: "none" }).mean([1, 2]);
    assert.ok(maxDiff(perImage, { shape: fx.ceBook.shape, data: fx.ceBook.data }, "ce per image") < 1e-5);
  });

  test("soft dice on softmax probabilities, per image, and its gradient in the scores", () => {
    const per = d2l.losses.diceLoss(tf.softmax(scores), labels, { reduction: "none" });
    assert.ok(maxDiff(per, { shape: fx.dicePerImage.shape, data: fx.dicePerImage.data }, "dice per image") < 1e-5);
    const g = tf.grad((x: tf.Tensor) => d2l.losses.diceLoss(tf.softmax(x), labels))(scores);
    assert.ok(maxDiff(g, { shape: fx.diceGrad.shape, data: fx.diceGrad.data }, "dice grad") < 1e-5);
  });
});

test("the dice loss of softmax scores: tf.grad equals central differences", () => {
  // small batch, 3 classes; float32, so a step of 1e-2 and a tolerance of 2e-3 on gradients of size ~1e-2..1e-1
  const labels = tf.tensor3d(
    [
      [
        [0, 1, 2],
        [2, 1, 0],
      ],
    ],
    [1, 2, 3],
    "int32",
  );
  const x0 = tf.randomNormal([1, 2, 3, 3], 0, 1, "float32", 7);
  const f = (x: tf.Tensor) => d2l.losses.diceLoss(tf.softmax(x), labels) as tf.Scalar;
  const g = tf.grad(f)(x0).dataSync();
  const base = x0.dataSync();
  const h = 1e-2;
  let worst = 0;
  let largest = 0;
  for (let i = 0; i < base.length; i++) {
    const plus = Float32Array.from(base);
    const minus = Float32Array.from(base);
    plus[i] += h;
    minus[i] -= h;
    const fp = f(tf.tensor(plus, x0.shape)).dataSync()[0];
    const fm = f(tf.tensor(minus, x0.shape)).dataSync()[0];
    const numeric = (fp - fm) / (2 * h);
    worst = Math.max(worst, Math.abs(numeric - g[i]));
    largest = Math.max(largest, Math.abs(g[i]));
  }
  assert.ok(largest > 1e-2, `the gradient is not trivially zero (largest ${largest})`);
  assert.ok(worst < 2e-3, `max |numeric - tf.grad| = ${worst}`);
});
