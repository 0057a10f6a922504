// Chapter 6's from-scratch cross-correlation and pooling, and LeNet, against hand-computed values (cpu backend).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { corr2d, corr2dMultiIn, corr2dMultiInOut, corr2dMultiInOut1x1, pool2d, lenet } from "../../lib/nn/index";

before(async () => {
  await tf.setBackend("cpu");
});

const X33 = () =>
  tf.tensor2d([
    [0, 1, 2],
    [3, 4, 5],
    [6, 7, 8],
  ]);
const X2 = () =>
  tf.tensor3d([
    [
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8],
    ],
    [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ],
  ]);
const K2 = () =>
  tf.tensor3d([
    [
      [0, 1],
      [2, 3],
    ],
    [
      [1, 2],
      [3, 4],
    ],
  ]);

test("corr2d: the book's 3x3 example, by hand: 0*0+1*1+3*2+4*3 = 19 ...", () => {
  const Y = corr2d(
    X33(),
    tf.tensor2d([
      [0, 1],
      [2, 3],
    ]),
  );
  assert.deepEqual(Y.shape, [2, 2]);
  assert.deepEqual(Y.arraySync(), [
    [19, 25],
    [37, 43],
  ]);
});

test("corr2d: edge detection on the book's 6x8 image, shapes (nh-kh+1, nw-kw+1), int input", () => {
  // ones, with columns 2..5 zero; K = [[1, -1]] marks 1 where white turns black and -1 where black turns white
  const X = tf.tensor2d(
    Array.from({ length: 6 }, () => [1, 1, 0, 0, 0, 0, 1, 1]),
    [6, 8],
    "int32",
  );
  const Y = corr2d(X, tf.tensor2d([[1, -1]]));
  assert.deepEqual(Y.shape, [6, 7]);
  assert.equal(Y.dtype, "float32");
  for (const row of Y.arraySync()) assert.deepEqual(row, [0, 1, 0, 0, 0, -1, 0]);
  // the transposed image and kernel find the same edges, transposed
  const Yt = corr2d(X.transpose(), tf.tensor2d([[1], [-1]]));
  assert.deepEqual(Yt.arraySync(), Y.transpose().arraySync());
  // a kernel as large as the image gives one number: the sum of the product
  assert.deepEqual(corr2d(X33(), X33()).arraySync(), [[204]]);
});

test("corr2d is differentiable in X and K (a Conv2D layer learns through it)", () => {
  const X = X33();
  const K = tf.tensor2d([
    [0, 1],
    [2, 3],
  ]);
  const [dX, dK] = tf.grads((x: tf.Tensor, k: tf.Tensor) => corr2d(x, k).sum())([X, K]);
  // d(sum Y)/dK[a,b] = sum of the 2x2 slice of X starting at (a,b)
  assert.deepEqual(dK.arraySync(), [
    [0 + 1 + 3 + 4, 1 + 2 + 4 + 5],
    [3 + 4 + 6 + 7, 4 + 5 + 7 + 8],
  ]);
  // d(sum Y)/dX[i,j] = sum of the kernel entries that touch (i,j)
  assert.deepEqual(dX.arraySync(), [
    [0, 1, 1],
    [2, 6, 4],
    [2, 5, 3],
  ]);
});

test("corr2d: clear errors for a kernel larger than the image and for wrong ranks", () => {
  assert.throws(() => corr2d(X33(), tf.ones([4, 2])), /kernel \[4,2\] must be non-empty and fit inside the image \[3,3\]/);
  assert.throws(() => corr2d(tf.ones([1, 3, 3]), tf.ones([2, 2])), /X must be 2-D \[height, width\].*got shape \[1,3,3\]/);
  assert.throws(() => corr2d(X33(), tf.ones([2])), /K must be 2-D \[kh, kw\], got shape \[2\]/);
  assert.throws(() => corr2d([[1]] as unknown as tf.Tensor, tf.ones([1, 1])), /X must be a tf.Tensor/);
});

test("corr2dMultiIn: the book's two-channel example, by hand", () => {
  // channel 0 gives [[19,25],[37,43]]; channel 1: 1+4+12+20 = 37 ...
  assert.deepEqual(
    corr2d(
      tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ]),
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
    ).arraySync(),
    [
      [37, 47],
      [67, 77],
    ],
  );
  assert.deepEqual(corr2dMultiIn(X2(), K2()).arraySync(), [
    [56, 72],
    [104, 120],
  ]);
  assert.throws(() => corr2dMultiIn(X2(), tf.ones([3, 2, 2])), /X has 2 input channels.*K has 3/);
  assert.throws(() => corr2dMultiIn(X33(), K2()), /X must be 3-D \[channels, height, width\]/);
});

test("corr2dMultiInOut: the book's three output channels K, K+1, K+2", () => {
  const K = tf.stack([K2(), K2().add(1), K2().add(2)]);
  assert.deepEqual(K.shape, [3, 2, 2, 2]);
  // K+1 adds the sum of each 2x2 window of both channels: 56 + (8 + 12) = 76 ...
  assert.deepEqual(corr2dMultiInOut(X2(), K).arraySync(), [
    [
      [56, 72],
      [104, 120],
    ],
    [
      [76, 100],
      [148, 172],
    ],
    [
      [96, 128],
      [192, 224],
    ],
  ]);
  assert.throws(() => corr2dMultiInOut(X2(), K2()), /K must be 4-D \[outChannels, inChannels, kh, kw\]/);
});

test("corr2dMultiInOut1x1 equals corr2dMultiInOut and tf.conv2d on the same 1x1 kernel", () => {
  const X = tf.randomNormal([3, 3, 3], 0, 1, "float32", 1);
  const K = tf.randomNormal([2, 3, 1, 1], 0, 1, "float32", 2);
  const Y1 = corr2dMultiInOut1x1(X, K);
  const Y2 = corr2dMultiInOut(X, K);
  assert.deepEqual(Y1.shape, [2, 3, 3]);
  assert.ok(Y1.sub(Y2).abs().sum().dataSync()[0] < 1e-5);
  // tfjs' conv2d: NHWC input, [kh, kw, ci, co] filter
  const Y3 = tf.conv2d(X.transpose([1, 2, 0]).expandDims(0) as tf.Tensor4D, K.transpose([2, 3, 1, 0]) as tf.Tensor4D, 1, "valid");
  assert.ok(
    Y1.sub(Y3.squeeze([0]).transpose([2, 0, 1]))
      .abs()
      .max()
      .dataSync()[0] < 1e-5,
  );
  // by hand: a single pixel, two inputs, one output = a dot product
  const one = corr2dMultiInOut1x1(tf.tensor3d([[[2]], [[3]]]), tf.tensor4d([[[[5]], [[7]]]]));
  assert.deepEqual(one.arraySync(), [[[2 * 5 + 3 * 7]]]);
  assert.throws(() => corr2dMultiInOut1x1(X, tf.ones([2, 3, 2, 2])), /K must be a 1x1 kernel/);
  assert.throws(() => corr2dMultiInOut1x1(X, tf.ones([2, 4, 1, 1])), /X has 3 input channels.*K expects 4/);
});

test("pool2d: the book's max and average examples, and agreement with tf.maxPool / tf.avgPool", () => {
  assert.deepEqual(pool2d(X33(), [2, 2]).arraySync(), [
    [4, 5],
    [7, 8],
  ]);
  assert.deepEqual(pool2d(X33(), [2, 2], "avg").arraySync(), [
    [2, 3],
    [5, 6],
  ]);
  assert.deepEqual(pool2d(X33(), 3).arraySync(), [[8]]);
  // a non-square window: [1, 3] rows of 3 -> max is the last entry, mean the middle one
  assert.deepEqual(pool2d(X33(), [1, 3], "avg").arraySync(), [[1], [4], [7]]);
  const R = tf.randomNormal([5, 7], 0, 1, "float32", 3);
  const nhwc = R.reshape([1, 5, 7, 1]) as tf.Tensor4D;
  const tfMax = tf.maxPool(nhwc, [2, 3], 1, "valid").reshape([4, 5]);
  const tfAvg = tf.avgPool(nhwc, [2, 3], 1, "valid").reshape([4, 5]);
  assert.ok(pool2d(R, [2, 3]).sub(tfMax).abs().max().dataSync()[0] < 1e-6);
  assert.ok(pool2d(R, [2, 3], "avg").sub(tfAvg).abs().max().dataSync()[0] < 1e-6);
  assert.throws(() => pool2d(X33(), [4, 1]), /window \[4,1\] must fit inside X \[3,3\]/);
  assert.throws(() => pool2d(X33(), [2, 2], "min" as "max"), /mode must be "max" or "avg"/);
  assert.throws(() => pool2d(X33(), [0, 2]), /poolSize must be a positive integer/);
  assert.throws(() => pool2d(tf.ones([1, 3, 3]), 2), /X must be 2-D/);
});

test("the from-scratch functions leak no tensors", () => {
  const X = X2();
  const K = tf.stack([K2(), K2()]);
  const img = X33();
  const k = tf.ones([2, 2]);
  const k1 = tf.ones([2, 2, 1, 1]);
  const before = tf.memory().numTensors;
  const outs = [corr2d(img, k), corr2dMultiIn(X, K2()), corr2dMultiInOut(X, K), corr2dMultiInOut1x1(X, k1), pool2d(img, 2, "avg"), pool2d(img, 2)];
  assert.equal(tf.memory().numTensors, before + outs.length + 1, "only the outputs (and the K2() made inline) remain");
  tf.dispose(outs);
});

test("lenet: the book's layer shapes, 61706 parameters, 10 logits", () => {
  const net = lenet();
  const shapes = net.layers.map((l) => (l.outputShape as number[]).slice(1));
  assert.deepEqual(shapes, [[28, 28, 6], [14, 14, 6], [10, 10, 16], [5, 5, 16], [400], [120], [84], [10]]);
  // 5*5*1*6+6 + 5*5*6*16+16 + 400*120+120 + 120*84+84 + 84*10+10, as the book's nn.Sequential
  assert.equal(net.countParams(), 156 + 2416 + 48120 + 10164 + 850);
  assert.equal(net.countParams(), 61706);
  const acts = net.layers.map((l) => (l.getConfig() as { activation?: string }).activation ?? "-");
  assert.deepEqual(acts, ["sigmoid", "-", "sigmoid", "-", "-", "sigmoid", "sigmoid", "linear"]);
  const out = net.predict(tf.ones([2, 28, 28, 1])) as tf.Tensor;
  assert.deepEqual(out.shape, [2, 10]);
  net.dispose();
});
