/**
 * Pooling variants of the course notes' layer catalogue: stochastic pooling,
 * global average pooling, max-pooling that returns its argmax positions and
 * max-unpooling that puts values back there. Channels last, PyTorch's integer
 * padding; the layers are tfjs layers (work in a model, save and load).
 */
import * as tf from "@tensorflow/tfjs";
import { checkPositiveInt, shapeText, single, singleShape, type Kwargs, type LayerArgs, type Shape } from "./composite";

function checkImages(shape: readonly (number | null)[], who: string): void {
  if (shape.length !== 4) throw new Error(`${who} expects images of shape [batch, height, width, channels] (channels last), got ${shapeText(shape)}`);
}

function checkPadding(padding: number, poolSize: number, who: string): number {
  if (!Number.isInteger(padding) || padding < 0 || 2 * padding > poolSize) {
    throw new Error(`${who}: padding must be a whole number from 0 to half the pool size (${Math.floor(poolSize / 2)}), got ${JSON.stringify(padding)}`);
  }
  return padding;
}

/** Output length of pooling along one axis (PyTorch's formula, floor mode). */
function poolOut(n: number, k: number, s: number, p: number): number {
  return Math.floor((n + 2 * p - k) / s) + 1;
}

/**
 * The `k * k` entries of every pooling window, `[batch, outH, outW, channels, k * k]`
 * (window entry `i * k + j` is row `i`, column `j`), from slices and reshapes only, so
 * gradients flow back to `X`. Padding is filled with `fill`.
 */
function windows(X: tf.Tensor4D, k: number, s: number, p: number, fill: number): tf.Tensor5D {
  const [N, H, W, C] = X.shape;
  const Ho = poolOut(H, k, s, p);
  const Wo = poolOut(W, k, s, p);
  if (Ho < 1 || Wo < 1) throw new Error(`pooling: a ${k}x${k} window does not fit in a ${H}x${W} image with padding ${p}`);
  if (k === s && p === 0) {
    // windows side by side (the usual 2x2, stride 2): one reshape and one transpose
    const Xc = Ho * k === H && Wo * k === W ? X : X.slice([0, 0, 0, 0], [N, Ho * k, Wo * k, C]);
    return Xc.reshape([N, Ho, k, Wo, k, C])
      .transpose([0, 1, 3, 5, 2, 4])
      .reshape([N, Ho, Wo, C, k * k]) as tf.Tensor5D;
  }
  // extra rows and columns at the end so that every window start i + [0, Ho * s) is inside
  const extraH = Math.max(0, k - 1 + Ho * s - (H + 2 * p));
  const extraW = Math.max(0, k - 1 + Wo * s - (W + 2 * p));
  const Xp =
    p + extraH + extraW === 0
      ? X
      : tf.pad(
          X,
          [
            [0, 0],
            [p, p + extraH],
            [p, p + extraW],
            [0, 0],
          ],
          fill,
        );
  const taps: tf.Tensor[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let t: tf.Tensor = Xp.slice([0, i, j, 0], [N, Ho * s, Wo * s, C]);
      if (s > 1) t = t.reshape([N, Ho, s, Wo, s, C]).slice([0, 0, 0, 0, 0, 0], [N, Ho, 1, Wo, 1, C]);
      taps.push(t.reshape([N, Ho, Wo, C]));
    }
  }
  return tf.stack(taps, 4) as tf.Tensor5D;
}

// ------------------------------------------------------------- stochastic

/** Options of {@link StochasticPool2d}. */
export interface StochasticPool2dArgs extends LayerArgs {
  /** Window size, default 2. */
  poolSize?: number;
  /** Default `poolSize`. */
  strides?: number;
  /** Zeros added on each side, default 0. */
  padding?: number;
  /** Seed of the sampling in training: call `t` (counted from 0) uses seed `seed + t`. Unseeded if left out. */
  seed?: number;
}

/**
 * Stochastic pooling (Zeiler & Fergus 2013). In training, each window picks
 * one of its activations at random with probability proportional to its
 * value (`p_i = a_i / sum(a)`) and passes it on, so the gradient goes to the
 * picked entry only; a window of zeros gives 0. In prediction the output is
 * the probability-weighted average `sum(p_i * a_i) = sum(a_i^2) / sum(a_i)`.
 * Activations are expected non-negative (after a ReLU); negative values count
 * as 0. Seeded: with `seed`, the t-th training call draws with seed
 * `seed + t`, so two layers with the same seed draw the same windows.
 *
 * @example
 * const pool = new d2l.StochasticPool2d({ poolSize: 2, seed: 1 });
 * const X = tf.relu(tf.randomNormal([1, 4, 4, 3]));
 * pool.apply(X, { training: true }); // sampled, [1, 2, 2, 3]
 * pool.apply(X); // probability-weighted, [1, 2, 2, 3]
 */
export class StochasticPool2d extends tf.layers.Layer {
  /** The name tfjs' serialization knows this class by. */
  static className = "StochasticPool2d";
  readonly poolSize: number;
  readonly strides: number;
  readonly padding: number;
  readonly seed: number | undefined;
  /** Training calls so far (the next one draws with seed `seed + calls`). */
  calls = 0;

  constructor(args: StochasticPool2dArgs = {}) {
    const { poolSize, strides, padding, seed, ...rest } = args;
    super(rest);
    this.poolSize = checkPositiveInt(poolSize ?? 2, "StochasticPool2d: poolSize");
    this.strides = checkPositiveInt(strides ?? this.poolSize, "StochasticPool2d: strides");
    this.padding = checkPadding(padding ?? 0, this.poolSize, "StochasticPool2d");
    if (seed !== undefined && !Number.isFinite(seed)) throw new Error(`StochasticPool2d: seed must be a number, got ${JSON.stringify(seed)}`);
    this.seed = seed;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape, this.name);
    checkImages(shape, "StochasticPool2d");
    const [n, h, w, c] = shape;
    const { poolSize: k, strides: s, padding: p } = this;
    return [n, h === null ? null : poolOut(h, k, s, p), w === null ? null : poolOut(w, k, s, p), c];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const X = single(inputs, this.name) as tf.Tensor4D;
    checkImages(X.shape, "StochasticPool2d");
    const training = kwargs.training === true;
    const seed = training && this.seed !== undefined ? this.seed + this.calls : undefined;
    if (training) this.calls++;
    return stochasticPool2d(X, this.poolSize, this.strides, this.padding, training, seed);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, padding: this.padding };
    if (this.seed !== undefined) config.seed = this.seed;
    return config;
  }

  /** Rebuilds the layer from its `getConfig()` (loading a saved model). */
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new StochasticPool2d(config as unknown as StochasticPool2dArgs) as unknown as T;
  }
}
tf.serialization.registerClass(StochasticPool2d);

/**
 * Stochastic pooling as a function (see {@link StochasticPool2d}): `training`
 * samples one entry per window (seeded with `seed`), otherwise the
 * probability-weighted average. `X` is `[batch, height, width, channels]`.
 *
 * @example
 * const Y = d2l.stochasticPool2d(tf.relu(tf.randomNormal([2, 4, 4, 3])), 2, 2, 0, true, 7);
 */
export function stochasticPool2d(images: tf.Tensor, poolSize: number, strides = poolSize, padding = 0, training = false, seed?: number): tf.Tensor4D {
  checkImages(images.shape, "stochasticPool2d");
  const X = images as tf.Tensor4D;
  const k = checkPositiveInt(poolSize, "stochasticPool2d: poolSize");
  const s = checkPositiveInt(strides, "stochasticPool2d: strides");
  const p = checkPadding(padding, k, "stochasticPool2d");
  return tf.tidy(() => {
    const a = tf.relu(windows(X, k, s, p, 0)); // [N, Ho, Wo, C, K]
    const [N, Ho, Wo, C, K] = a.shape;
    if (!training) {
      // sum(a^2) / sum(a); a window of zeros has sum(a^2) = 0 and gives 0
      return tf.div(tf.sum(tf.square(a), 4), tf.maximum(tf.sum(a, 4), 1e-30)) as tf.Tensor4D;
    }
    const u = tf.randomUniform([N, Ho, Wo, C, 1], 0, 1, "float32", seed);
    const pick = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [w, r, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      // window entry i is picked when cumsum before it <= u * total < cumsum through it (a zero entry never is)
      const cum = tf.cumsum(w, 4);
      const threshold = tf.mul(r, cum.slice([0, 0, 0, 0, K - 1], [N, Ho, Wo, C, 1]));
      const mask = tf.cast(tf.logicalAnd(tf.greater(cum, threshold), tf.lessEqual(tf.sub(cum, w), threshold)), "float32");
      save([mask]);
      return { value: tf.sum(tf.mul(w, mask), 4), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy.expandDims(4), saved[0]), tf.zerosLike(r)] };
    });
    return pick(a, u) as tf.Tensor4D;
  });
}

// --------------------------------------------------------- global average

/**
 * Global average pooling (the book's `nn.AdaptiveAvgPool2d((1, 1))` of NiN,
 * GoogLeNet and ResNet): the mean of each channel over height and width,
 * `[batch, channels]`, or `[batch, 1, 1, channels]` with `keepDims` (as
 * PyTorch's). tfjs' own is `tf.layers.globalAveragePooling2d`, which this
 * equals.
 *
 * @example
 * const gap = new d2l.GlobalAvgPool2d();
 * (gap.apply(tf.ones([2, 7, 7, 16])) as tf.Tensor).shape; // [2, 16]
 */
export class GlobalAvgPool2d extends tf.layers.Layer {
  /** The name tfjs' serialization knows this class by. */
  static className = "GlobalAvgPool2d";
  readonly keepDims: boolean;

  constructor(args: LayerArgs & { keepDims?: boolean } = {}) {
    const { keepDims, ...rest } = args;
    super(rest);
    if (keepDims !== undefined && typeof keepDims !== "boolean") throw new Error(`GlobalAvgPool2d: keepDims must be true or false, got ${JSON.stringify(keepDims)}`);
    this.keepDims = keepDims ?? false;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape, this.name);
    checkImages(shape, "GlobalAvgPool2d");
    return this.keepDims ? [shape[0], 1, 1, shape[3]] : [shape[0], shape[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const X = single(inputs, this.name);
    checkImages(X.shape, "GlobalAvgPool2d");
    return tf.mean(X, [1, 2], this.keepDims);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), keepDims: this.keepDims };
  }

  /** Rebuilds the layer from its `getConfig()` (loading a saved model). */
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new GlobalAvgPool2d(config as LayerArgs & { keepDims?: boolean }) as unknown as T;
  }
}
tf.serialization.registerClass(GlobalAvgPool2d);

// ------------------------------------------------------- max and unpooling

/**
 * Max-pooling that also returns where each maximum came from (PyTorch's
 * `F.max_pool2d(X, k, stride, padding, return_indices=True)`): `values`
 * `[batch, outH, outW, channels]` and `indices` (int32, same shape), each
 * the position `row * width + column` of the maximum within its channel's
 * `height x width` plane (PyTorch's convention; the first maximum on ties).
 * `values` has tf.maxPool's gradient. {@link maxUnpool2d} undoes it.
 *
 * @example
 * const { values, indices } = d2l.maxPoolWithArgmax(tf.randomNormal([1, 4, 4, 2]), 2);
 * const back = d2l.maxUnpool2d(values, indices, 2, 2, 0, [4, 4]); // maxima in place, zeros elsewhere
 */
export function maxPoolWithArgmax(images: tf.Tensor, poolSize: number, strides = poolSize, padding = 0): { values: tf.Tensor4D; indices: tf.Tensor4D } {
  checkImages(images.shape, "maxPoolWithArgmax");
  const X = images as tf.Tensor4D;
  const k = checkPositiveInt(poolSize, "maxPoolWithArgmax: poolSize");
  const s = checkPositiveInt(strides, "maxPoolWithArgmax: strides");
  const p = checkPadding(padding, k, "maxPoolWithArgmax");
  const [, , W] = X.shape.slice(0, 3);
  return tf.tidy(() => {
    const win = windows(X, k, s, p, -3.4e38);
    const [, Ho, Wo] = win.shape;
    const tap = tf.argMax(win, 4); // [N, Ho, Wo, C], i * k + j
    const row = tf.add(
      tf.floorDiv(tap, tf.scalar(k, "int32")),
      tf.tensor4d(
        Array.from({ length: Ho }, (_, y) => y * s - p),
        [1, Ho, 1, 1],
        "int32",
      ),
    );
    const col = tf.add(
      tf.mod(tap, tf.scalar(k, "int32")),
      tf.tensor4d(
        Array.from({ length: Wo }, (_, x) => x * s - p),
        [1, 1, Wo, 1],
        "int32",
      ),
    );
    const indices = tf.add(tf.mul(row, tf.scalar(W, "int32")), col) as tf.Tensor4D;
    const values = tf.max(win, 4) as tf.Tensor4D;
    return { values, indices };
  });
}

/**
 * Max-unpooling (PyTorch's `F.max_unpool2d(values, indices, k, stride,
 * padding, output_size)`): an output of zeros `[batch, height, width,
 * channels]` with each value put back at its index (the position
 * `row * width + column` within its channel's plane that
 * {@link maxPoolWithArgmax} returned). `outputSize` defaults to
 * `(outH - 1) * strides - 2 * padding + poolSize` per side, PyTorch's; give
 * the pooled input's `[height, width]` when it was not that. Two values
 * with the same index (overlapping windows) are added, where PyTorch keeps
 * one. The gradient to `values` gathers the output's gradient at the indices.
 *
 * @example
 * const { values, indices } = d2l.maxPoolWithArgmax(tf.randomNormal([1, 5, 5, 1]), 2);
 * d2l.maxUnpool2d(values, indices, 2, 2, 0, [5, 5]).shape; // [1, 5, 5, 1]
 */
export function maxUnpool2d(values: tf.Tensor, indices: tf.Tensor, poolSize: number, strides = poolSize, padding = 0, outputSize?: [number, number]): tf.Tensor4D {
  checkImages(values.shape, "maxUnpool2d");
  const k = checkPositiveInt(poolSize, "maxUnpool2d: poolSize");
  const s = checkPositiveInt(strides, "maxUnpool2d: strides");
  const p = checkPadding(padding, k, "maxUnpool2d");
  if (indices.shape.length !== 4 || indices.shape.some((d, i) => d !== values.shape[i])) {
    throw new Error(`maxUnpool2d: indices must have the values' shape ${shapeText(values.shape)} (maxPoolWithArgmax returns both), got ${shapeText(indices.shape)}`);
  }
  const [N, Ho, Wo, C] = values.shape;
  const [H, W] = outputSize ?? [(Ho - 1) * s - 2 * p + k, (Wo - 1) * s - 2 * p + k];
  if (![H, W].every((d) => Number.isInteger(d) && d >= 1)) throw new Error(`maxUnpool2d: outputSize must be [height, width], got ${JSON.stringify(outputSize)}`);
  return tf.tidy(() => {
    // flat position in the [N, H, W, C] output of value (n, y, x, c): (n * H * W + index) * C + c
    const base = tf.add(
      tf.tensor4d(
        Array.from({ length: N }, (_, n) => n * H * W),
        [N, 1, 1, 1],
        "int32",
      ),
      indices.toInt(),
    );
    const ids = tf
      .add(
        tf.mul(base, tf.scalar(C, "int32")),
        tf.tensor4d(
          Array.from({ length: C }, (_, c) => c),
          [1, 1, 1, C],
          "int32",
        ),
      )
      .reshape([-1]) as tf.Tensor1D;
    // One custom-gradient op of the values only: the integer indices (often computed from the same input by
    // maxPoolWithArgmax) stay off the gradient path, which tfjs requires.
    const scatter = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [v, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([ids]); // kept for the gradient, after this function's tidy
      return {
        value: tf.unsortedSegmentSum(v.reshape([-1]), ids, N * H * W * C).reshape([N, H, W, C]),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.gather(dy.reshape([-1]), saved[0]).reshape(values.shape),
      };
    });
    return scatter(values) as tf.Tensor4D;
  });
}

/**
 * The max-unpooling layer (PyTorch's `nn.MaxUnpool2d(k, stride, padding)`):
 * applied to `[values, indices]` from {@link maxPoolWithArgmax} (the second
 * input int32), see {@link maxUnpool2d}. For a functional model (two
 * inputs); `outputSize` fixes the output's height and width.
 *
 * @example
 * const { values, indices } = d2l.maxPoolWithArgmax(tf.randomNormal([1, 4, 4, 2]), 2);
 * const unpool = new d2l.MaxUnpool2d({ poolSize: 2 });
 * (unpool.apply([values, indices]) as tf.Tensor).shape; // [1, 4, 4, 2]
 */
export class MaxUnpool2d extends tf.layers.Layer {
  /** The name tfjs' serialization knows this class by. */
  static className = "MaxUnpool2d";
  readonly poolSize: number;
  readonly strides: number;
  readonly padding: number;
  readonly outputSize: [number, number] | undefined;

  constructor(args: LayerArgs & { poolSize: number; strides?: number; padding?: number; outputSize?: [number, number] }) {
    const { poolSize, strides, padding, outputSize, ...rest } = args;
    super(rest);
    this.poolSize = checkPositiveInt(poolSize, "MaxUnpool2d: poolSize");
    this.strides = checkPositiveInt(strides ?? this.poolSize, "MaxUnpool2d: strides");
    this.padding = checkPadding(padding ?? 0, this.poolSize, "MaxUnpool2d");
    this.outputSize = outputSize ? [checkPositiveInt(outputSize[0], "MaxUnpool2d: outputSize[0]"), checkPositiveInt(outputSize[1], "MaxUnpool2d: outputSize[1]")] : undefined;
  }

  private pair(inputs: tf.Tensor | tf.Tensor[]): [tf.Tensor4D, tf.Tensor4D] {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error("MaxUnpool2d takes two inputs, [values, indices] (what d2l.maxPoolWithArgmax returns)");
    return [inputs[0] as tf.Tensor4D, inputs[1] as tf.Tensor4D];
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = Array.isArray(inputShape[0]) ? (inputShape as Shape[])[0] : (inputShape as Shape);
    checkImages(shape, "MaxUnpool2d");
    const [n, h, w, c] = shape;
    const { poolSize: k, strides: s, padding: p } = this;
    if (this.outputSize) return [n, this.outputSize[0], this.outputSize[1], c];
    return [n, h === null ? null : (h - 1) * s - 2 * p + k, w === null ? null : (w - 1) * s - 2 * p + k, c];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [values, indices] = this.pair(inputs);
    return maxUnpool2d(values, indices, this.poolSize, this.strides, this.padding, this.outputSize);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, padding: this.padding };
    if (this.outputSize) config.outputSize = [...this.outputSize];
    return config;
  }

  /** Rebuilds the layer from its `getConfig()` (loading a saved model). */
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new MaxUnpool2d(config as unknown as LayerArgs & { poolSize: number }) as unknown as T;
  }
}
tf.serialization.registerClass(MaxUnpool2d);
