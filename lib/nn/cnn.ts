/**
 * Chapter 6 (convolutional neural networks): the book's from-scratch
 * cross-correlation and pooling functions, and LeNet.
 *
 * The from-scratch functions keep the book's layout so that its worked
 * examples read the same: a single-channel image is `[height, width]`, a
 * multi-channel one `[channels, height, width]`, kernels
 * `[outChannels, inChannels, kh, kw]`. Models (`lenet`) are channels-last
 * (NHWC), as tfjs layers are.
 */
import * as tf from "@tensorflow/tfjs";

function shapeOf(t: tf.Tensor): string {
  return `[${t.shape.join(",")}]`;
}

function expectTensor(v: unknown, who: string, name: string): asserts v is tf.Tensor {
  if (!(v instanceof tf.Tensor)) {
    throw new Error(`${who}: ${name} must be a tf.Tensor, got ${v === null ? "null" : typeof v}; wrap arrays with tf.tensor(...)`);
  }
}

function expectRank(t: tf.Tensor, rank: number, who: string, name: string, layout: string): void {
  if (t.rank !== rank) {
    throw new Error(`${who}: ${name} must be ${rank}-D ${layout}, got shape ${shapeOf(t)}`);
  }
}

function asFloat(t: tf.Tensor): tf.Tensor {
  return t.dtype === "float32" ? t : t.toFloat();
}

/**
 * Two-dimensional cross-correlation of an image with a kernel, the book's
 * `d2l.corr2d(X, K)` (ch. 6.2): `Y[i, j] = sum over a, b of X[i + a, j + b] * K[a, b]`,
 * no padding, stride 1. X is `[nh, nw]`, K is `[kh, kw]` with kh <= nh and
 * kw <= nw; Y is `[nh - kh + 1, nw - kw + 1]`.
 *
 * The book fills Y one output element at a time; this computes the same sum
 * one kernel element at a time (kh·kw shifted slices of X, each scaled by one
 * entry of K), which takes far fewer tensor operations when the image is
 * larger than the kernel. Like the book's, it is differentiable in both X and
 * K, so a from-scratch `Conv2D` layer can learn its kernel through it.
 *
 * @example
 * const X = tf.tensor2d([[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
 * const K = tf.tensor2d([[0, 1], [2, 3]]);
 * await d2l.corr2d(X, K).array(); // [[19, 25], [37, 43]]
 */
export function corr2d(X: tf.Tensor, K: tf.Tensor): tf.Tensor2D {
  expectTensor(X, "corr2d", "X");
  expectTensor(K, "corr2d", "K");
  expectRank(X, 2, "corr2d", "X", "[height, width] (one channel; use corr2dMultiIn for [channels, height, width])");
  expectRank(K, 2, "corr2d", "K", "[kh, kw]");
  const [nh, nw] = X.shape as [number, number];
  const [kh, kw] = K.shape as [number, number];
  if (kh > nh || kw > nw || kh === 0 || kw === 0) {
    throw new Error(
      `corr2d: the kernel ${shapeOf(K)} must be non-empty and fit inside the image ${shapeOf(X)} (kh <= ${nh}, kw <= ${nw}); ` +
        `pad the image first (tf.pad) or use a smaller kernel`,
    );
  }
  const oh = nh - kh + 1;
  const ow = nw - kw + 1;
  return tf.tidy(() => {
    const x = asFloat(X);
    const k = asFloat(K);
    let Y: tf.Tensor | undefined;
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const term = tf.mul(tf.slice(x, [a, b], [oh, ow]), tf.slice(k, [a, b], [1, 1]));
        Y = Y === undefined ? term : tf.add(Y, term);
      }
    }
    return Y as tf.Tensor2D;
  });
}

/**
 * Cross-correlation with several input channels, the book's
 * `corr2d_multi_in(X, K)` (ch. 6.4): one {@link corr2d} per channel, summed.
 * X is `[ci, nh, nw]`, K is `[ci, kh, kw]`; the result is one channel,
 * `[nh - kh + 1, nw - kw + 1]`.
 *
 * @example
 * const X = tf.tensor3d([[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]]);
 * const K = tf.tensor3d([[[0, 1], [2, 3]], [[1, 2], [3, 4]]]);
 * await d2l.corr2dMultiIn(X, K).array(); // [[56, 72], [104, 120]]
 */
export function corr2dMultiIn(X: tf.Tensor, K: tf.Tensor): tf.Tensor2D {
  expectTensor(X, "corr2dMultiIn", "X");
  expectTensor(K, "corr2dMultiIn", "K");
  expectRank(X, 3, "corr2dMultiIn", "X", "[channels, height, width]");
  expectRank(K, 3, "corr2dMultiIn", "K", "[channels, kh, kw]");
  if (X.shape[0] !== K.shape[0]) {
    throw new Error(
      `corr2dMultiIn: X has ${X.shape[0]} input channels (shape ${shapeOf(X)}) but K has ${K.shape[0]} (shape ${shapeOf(K)}); ` + `K needs one [kh, kw] kernel per input channel`,
    );
  }
  return tf.tidy(() => {
    const xs = tf.unstack(X);
    const ks = tf.unstack(K);
    return tf.addN(xs.map((x, i) => corr2d(x, ks[i]))) as tf.Tensor2D;
  });
}

/**
 * Cross-correlation with several input and output channels, the book's
 * `corr2d_multi_in_out(X, K)` (ch. 6.4): one {@link corr2dMultiIn} per output
 * channel, stacked. X is `[ci, nh, nw]`, K is `[co, ci, kh, kw]`; the result
 * is `[co, nh - kh + 1, nw - kw + 1]`.
 *
 * @example
 * const X = tf.tensor3d([[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]]);
 * const K0 = tf.tensor3d([[[0, 1], [2, 3]], [[1, 2], [3, 4]]]);
 * const K = tf.stack([K0, K0.add(1), K0.add(2)]); // [3, 2, 2, 2]
 * d2l.corr2dMultiInOut(X, K).shape; // [3, 2, 2]
 */
export function corr2dMultiInOut(X: tf.Tensor, K: tf.Tensor): tf.Tensor3D {
  expectTensor(X, "corr2dMultiInOut", "X");
  expectTensor(K, "corr2dMultiInOut", "K");
  expectRank(X, 3, "corr2dMultiInOut", "X", "[channels, height, width]");
  expectRank(K, 4, "corr2dMultiInOut", "K", "[outChannels, inChannels, kh, kw]");
  return tf.tidy(() => tf.stack(tf.unstack(K).map((k) => corr2dMultiIn(X, k))) as tf.Tensor3D);
}

/**
 * A 1x1 convolution as a matrix product, the book's `corr2d_multi_in_out_1x1(X, K)`
 * (ch. 6.4): each pixel's ci channel values are multiplied by the `[co, ci]`
 * weight matrix. X is `[ci, h, w]`, K is `[co, ci, 1, 1]`; the result is
 * `[co, h, w]`, equal to {@link corr2dMultiInOut} with the same K.
 *
 * @example
 * const X = tf.randomNormal([3, 3, 3]);
 * const K = tf.randomNormal([2, 3, 1, 1]);
 * await d2l.corr2dMultiInOut1x1(X, K).sub(d2l.corr2dMultiInOut(X, K)).abs().max().array(); // ~1e-7
 */
export function corr2dMultiInOut1x1(X: tf.Tensor, K: tf.Tensor): tf.Tensor3D {
  expectTensor(X, "corr2dMultiInOut1x1", "X");
  expectTensor(K, "corr2dMultiInOut1x1", "K");
  expectRank(X, 3, "corr2dMultiInOut1x1", "X", "[channels, height, width]");
  expectRank(K, 4, "corr2dMultiInOut1x1", "K", "[outChannels, inChannels, 1, 1]");
  const [ci, h, w] = X.shape as [number, number, number];
  const [co, kci, kh, kw] = K.shape as [number, number, number, number];
  if (kh !== 1 || kw !== 1) {
    throw new Error(`corr2dMultiInOut1x1: K must be a 1x1 kernel, shape [outChannels, inChannels, 1, 1], got ${shapeOf(K)}; use corr2dMultiInOut for larger kernels`);
  }
  if (kci !== ci) {
    throw new Error(`corr2dMultiInOut1x1: X has ${ci} input channels (shape ${shapeOf(X)}) but K expects ${kci} (shape ${shapeOf(K)})`);
  }
  return tf.tidy(() => {
    const x = tf.reshape(asFloat(X), [ci, h * w]);
    const k = tf.reshape(asFloat(K), [co, ci]);
    return tf.reshape(tf.matMul(k, x), [co, h, w]) as tf.Tensor3D;
  });
}

/** How {@link pool2d} combines a window: its maximum or its mean. */
export type PoolMode = "max" | "avg";

/**
 * Two-dimensional max or average pooling of one channel, the book's
 * `pool2d(X, pool_size, mode='max')` (ch. 6.5): each output element is the
 * maximum (or mean) of a `ph x pw` window, no padding, stride 1. X is
 * `[nh, nw]`; the result is `[nh - ph + 1, nw - pw + 1]`. `poolSize` is
 * `[ph, pw]` or one number for a square window. Like {@link corr2d} it runs
 * over the window's positions (ph·pw shifted slices), not the output's.
 *
 * @example
 * const X = tf.tensor2d([[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
 * await d2l.pool2d(X, [2, 2]).array(); // [[4, 5], [7, 8]]
 * await d2l.pool2d(X, [2, 2], "avg").array(); // [[2, 3], [5, 6]]
 */
export function pool2d(X: tf.Tensor, poolSize: [number, number] | number, mode: PoolMode = "max"): tf.Tensor2D {
  expectTensor(X, "pool2d", "X");
  expectRank(X, 2, "pool2d", "X", "[height, width] (one channel; pool each channel separately, or use tf.maxPool / tf.avgPool on NHWC batches)");
  const size = typeof poolSize === "number" ? [poolSize, poolSize] : poolSize;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => Number.isInteger(s) && s > 0)) {
    throw new Error(`pool2d: poolSize must be a positive integer or [ph, pw], got ${JSON.stringify(poolSize)}`);
  }
  if (mode !== "max" && mode !== "avg") {
    throw new Error(`pool2d: mode must be "max" or "avg", got ${JSON.stringify(mode)}`);
  }
  const [ph, pw] = size as [number, number];
  const [nh, nw] = X.shape as [number, number];
  if (ph > nh || pw > nw) {
    throw new Error(`pool2d: the window [${ph},${pw}] must fit inside X ${shapeOf(X)}; use a smaller poolSize or pad X`);
  }
  const oh = nh - ph + 1;
  const ow = nw - pw + 1;
  return tf.tidy(() => {
    const x = asFloat(X);
    let Y: tf.Tensor | undefined;
    for (let a = 0; a < ph; a++) {
      for (let b = 0; b < pw; b++) {
        const window = tf.slice(x, [a, b], [oh, ow]);
        Y = Y === undefined ? window : mode === "max" ? tf.maximum(Y, window) : tf.add(Y, window);
      }
    }
    return (mode === "avg" ? tf.div(Y as tf.Tensor, ph * pw) : (Y as tf.Tensor)) as tf.Tensor2D;
  });
}

/**
 * LeNet-5 as the book builds it (ch. 6.6), channels-last for 28x28
 * grayscale images (input `[28, 28, 1]`): a 5x5 convolution with 6 channels
 * and padding 2 (`'same'`, which on 28 pixels is padding 2), sigmoid,
 * 2x2 average pooling with stride 2, a 5x5 convolution with 16 channels,
 * sigmoid, average pooling again, then dense layers of 120 and 84 units with
 * sigmoid and a dense output of 10 logits (no softmax: the loss takes
 * logits). The sigmoid is each layer's `activation`, as in tf.keras.
 *
 * @example
 * const net = d2l.lenet();
 * net.predict(tf.zeros([1, 28, 28, 1])).shape; // [1, 10]
 * await d2l.trainCh6(net, trainIter, testIter, 10, 0.9, d2l.tryGpu());
 */
export function lenet(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: "same", activation: "sigmoid" }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: "sigmoid" }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 120, activation: "sigmoid" }),
      tf.layers.dense({ units: 84, activation: "sigmoid" }),
      tf.layers.dense({ units: 10 }),
    ],
  });
}
