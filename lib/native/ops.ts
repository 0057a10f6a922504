/**
 * The native backend's oneDNN batch normalization (training forward and
 * backward in one primitive each, inference), layer normalization over the
 * last axis (forward and backward), max and average pooling, and the
 * gradients of ReLU, ReLU6 and leaky ReLU (lib/native/src/ops.cc).
 *
 * A training step of tfjs' `tf.layers.batchNormalization` on wasm runs about
 * forty small kernels per layer (moments, the FusedBatchNorm kernel, and its
 * gradient as a composite of Multiply, Sum, Tile, Sub, ...), each on one
 * thread; it took about half of the "resnet" workload's step. Here one kernel,
 * `D2lBatchNormTraining`, computes the batch statistics and the output, and its
 * gradient, `D2lBatchNormTrainingGrad`, is one oneDNN backward call.
 * tfjs' LayerNormalization tiles its statistics, scale and offset to x's
 * shape, and the gradient of each Tile is a loop of slices and adds: about
 * 1350 kernels per layer norm of a [64, 10, 32] tensor (25 ms forward and
 * backward; 1.3 ms as `D2lLayerNorm` and its gradient).
 * {@link installNativeOps} makes tfjs' BatchNormalization layer (channels
 * last, in training), its LayerNormalization layer (last axis) and the
 * gradients of `Relu`, `Relu6` and `LeakyRelu` take them on native.
 */
import * as tf from "@tensorflow/tfjs";
import type { NativeAddon } from "./addon";
import type { Kernel, WasmBackendLike } from "./kernels";

/** The addon functions of src/ops.cc. */
export interface OpsAddon extends NativeAddon {
  /**
   * x viewed as [M, C]. kind 0, training: offsets [x, gamma, beta, y, mean, var];
   * 1, backward: [dy, x, gamma, mean, var, dx, dgamma, dbeta]; 2, inference: [x, gamma, beta, mean, var, y].
   */
  batchNorm(heap: ArrayBuffer, kind: 0 | 1 | 2, offsets: number[], params: [number, number, number]): void;
  /** x viewed as [M, C], each row normalized. kind 0, training: [x, gamma, beta, y, mean, var]; 1, backward: [dy, x, gamma, mean, var, dx, dgamma, dbeta]. */
  layerNorm(heap: ArrayBuffer, kind: 0 | 1, offsets: number[], params: [number, number, number]): void;
  /** 2-D pooling forward, NHWC: kind 0 average over the window's pixels inside x, 1 max; params [N, H, W, C, OH, OW, FH, FW, SH, SW, PT, PL, PB, PR]. */
  pool(heap: ArrayBuffer, kind: 0 | 1, offsets: [number, number], params: number[]): void;
  /** dx = dy * f'(x) over n floats: alg 0 relu (leaky slope alpha), 1 elu, 2 relu6. */
  eltwiseGrad(heap: ArrayBuffer, alg: 0 | 1 | 2, offsets: [number, number, number], params: [number, number]): void;
  /** Rows [R, C]: kind 0 forward, offsets [x, y]; 1 backward, [dy, y, dx] (absent from an addon built before them). */
  softmax?(heap: ArrayBuffer, kind: 0 | 1, offsets: number[], params: [number, number]): void;
  /** y = x with axes permuted: kind 0 float32, 1 int32; params [r, ...shape, ...perm]. */
  transpose?(heap: ArrayBuffer, kind: 0 | 1, offsets: [number, number], params: number[]): void;
}

/** d2l's kernel: `[y, mean, variance]` of batch normalization over all axes but the last, in training. */
export const BN_TRAINING = "D2lBatchNormTraining";
/** d2l's kernel: `[dx, dgamma, dbeta]` of {@link BN_TRAINING}. */
export const BN_TRAINING_GRAD = "D2lBatchNormTrainingGrad";
/** d2l's kernel: `[y, mean, variance]` of layer normalization over the last axis. */
export const LN = "D2lLayerNorm";
/** d2l's kernel: `[dx, dgamma, dbeta]` of {@link LN}. */
export const LN_GRAD = "D2lLayerNormGrad";
/** d2l's kernel: dy * step(x), the gradient of Relu. */
export const RELU_GRAD = "D2lReluGrad";
/** d2l's kernel: `(dy - Σ dy·y) · y` over the last axis, the gradient of Softmax from its output y. */
export const SOFTMAX_GRAD = "D2lSoftmaxGrad";

/** The names of the kernels this file provides. */
export const OPS_KERNELS: readonly string[] = ["MaxPool", "AvgPool", "FusedBatchNorm", BN_TRAINING, BN_TRAINING_GRAD, LN, LN_GRAD, RELU_GRAD, "Softmax", SOFTMAX_GRAD, "Transpose"];

/** Below this many elements the ReLU gradient stays a composite of wasm kernels (Step, Multiply). */
export const OPS_MIN_ELEMENTS = 32768;

/**
 * From this many elements Softmax (forward and gradient) and Transpose run in the addon; below, the
 * wasm kernels, whose call costs less. Measured on 2026-12-07 (medians of 7 runs of 200 calls):
 * - softmax over the Transformer block's attention weights [256, 10, 10]: 68-72 us against 160-190 on
 *   wasm; its gradient, one call, 24.5 us against 66.8 for tfjs' four kernels;
 * - the block's head transposes [64, 10, 4, 8] → [64, 4, 10, 8] (oneDNN's reorder): 8.2 us against
 *   23.7; [256, 784] → [784, 256]: 110 us against 757.
 */
export const SOFTMAX_TRANSPOSE_MIN_ELEMENTS = 1024;

/**
 * Softmax forward runs in the addon for rows of at most this many classes. Its three passes (row
 * maxima, one vectorized exp over the whole tensor, row sums) win on short rows; on long ones wasm's
 * XNNPACK kernel is ahead ([64, 1000]: 75-83 us against 113-119).
 */
export const SOFTMAX_MAX_ROW = 64;

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The kernels, bound to the addon and to `base(name)`, the wasm kernel of that name. */
export function opsKernels(addon: NativeAddon, base: (name: string) => Kernel): Record<string, Kernel> {
  const ops = addon as OpsAddon;
  const offset = (b: WasmBackendLike, t: tf.TensorInfo, what: string): number => {
    const d = b.dataIdMap.get(t.dataId);
    if (!d) throw new Error(`native: the ${what} tensor is not on the native backend (was it disposed?)`);
    return d.memoryOffset;
  };
  const heap = (b: WasmBackendLike): ArrayBuffer => b.wasm.HEAPU8.buffer as ArrayBuffer;
  const call = (what: string, shapes: string, f: () => void): void => {
    try {
      f();
    } catch (e) {
      throw new Error(`native ${what} (${shapes}) failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const float = (...ts: (tf.TensorInfo | undefined)[]) => ts.every((t) => !t || t.dtype === "float32");
  /** Outputs made here, disposed again when the addon throws. */
  const outputs = (backend: WasmBackendLike, shapes: number[][]): tf.TensorInfo[] => shapes.map((s) => backend.makeOutput(s, "float32"));
  const guard = (backend: WasmBackendLike, outs: tf.TensorInfo[], f: () => void): void => {
    try {
      f();
    } catch (e) {
      for (const o of outs) backend.disposeData(o.dataId);
      throw e;
    }
  };
  /** A channel tensor of C floats: the given one, or a new one filled with `fill` (the caller disposes it). */
  const channel = (backend: WasmBackendLike, t: tf.TensorInfo | undefined, C: number, fill: number): { t: tf.TensorInfo; made: boolean } => {
    if (t) return { t, made: false };
    const made = backend.makeOutput([C], "float32");
    new Float32Array(heap(backend), offset(backend, made, "channel"), C).fill(fill);
    return { t: made, made: true };
  };

  const check = (x: tf.TensorInfo, what: string, ts: Record<string, tf.TensorInfo | undefined>): [number, number] => {
    if (x.shape.length < 2) throw new Error(`${what}: x must have rank 2 or more (the channels last), got shape [${x.shape}]`);
    const C = x.shape[x.shape.length - 1];
    for (const [k, t] of Object.entries(ts)) {
      if (t && size(t.shape) !== C) throw new Error(`${what}: ${k} must hold one number per channel (${C}), got shape [${t.shape}]`);
    }
    return [C === 0 ? 0 : size(x.shape) / C, C];
  };

  /**
   * inputs {x, scale?, offset?}, attrs {epsilon}: [y, mean, variance] with the batch's (biased) statistics
   * (batch norm: one per channel, over all rows; layer norm: one per row, over its channels).
   */
  const normTraining =
    (layer: boolean): Kernel =>
    (args) => {
      const name = layer ? LN : BN_TRAINING;
      const backend = args.backend as WasmBackendLike;
      const { x, scale, offset: shift } = args.inputs as { x: tf.TensorInfo; scale?: tf.TensorInfo; offset?: tf.TensorInfo };
      const eps = Number((args.attrs ?? {}).epsilon ?? 1e-3);
      if (!float(x, scale, shift)) throw new Error(`${name} takes float32 tensors`);
      const [M, C] = check(x, name, { scale, offset: shift });
      const stats = layer ? [M] : [C];
      const outs = outputs(backend, [[...x.shape], stats, stats]);
      if (M === 0 || C === 0) {
        // Statistics of nothing: NaN, as tfjs' mean of an empty axis.
        for (const o of outs.slice(1)) new Float32Array(heap(backend), offset(backend, o, "output"), size(o.shape)).fill(NaN);
        return outs;
      }
      const g = channel(backend, scale, C, 1);
      const b = channel(backend, shift, C, 0);
      try {
        guard(backend, outs, () =>
          call(layer ? "layerNorm" : "batchNorm", `[${x.shape}]`, () =>
            ops[layer ? "layerNorm" : "batchNorm"](
              heap(backend),
              0,
              [offset(backend, x, "x"), offset(backend, g.t, "scale"), offset(backend, b.t, "offset"), ...outs.map((o) => offset(backend, o, "output"))],
              [M, C, eps],
            ),
          ),
        );
      } finally {
        if (g.made) backend.disposeData(g.t.dataId);
        if (b.made) backend.disposeData(b.t.dataId);
      }
      return outs;
    };

  /** inputs {dy, x, scale?, mean, variance}, attrs {epsilon}: [dx, dscale, doffset]. */
  const normTrainingGrad =
    (layer: boolean): Kernel =>
    (args) => {
      const name = layer ? LN_GRAD : BN_TRAINING_GRAD;
      const backend = args.backend as WasmBackendLike;
      const { dy, x, scale, mean, variance } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; scale?: tf.TensorInfo; mean: tf.TensorInfo; variance: tf.TensorInfo };
      const eps = Number((args.attrs ?? {}).epsilon ?? 1e-3);
      if (!float(dy, x, scale, mean, variance)) throw new Error(`${name} takes float32 tensors`);
      const [M, C] = check(x, name, layer ? { scale } : { scale, mean, variance });
      if (layer && (size(mean.shape) !== M || size(variance.shape) !== M)) throw new Error(`${name}: mean and variance must hold one number per row (${M})`);
      if (size(dy.shape) !== size(x.shape)) throw new Error(`${name}: dy of shape [${dy.shape}] does not match x of shape [${x.shape}]`);
      const outs = outputs(backend, [[...x.shape], [C], [C]]);
      if (M === 0) {
        for (const o of outs.slice(1)) new Float32Array(heap(backend), offset(backend, o, "output"), C).fill(0);
        return outs;
      }
      const g = channel(backend, scale, C, 1);
      try {
        guard(backend, outs, () =>
          call(layer ? "layerNorm gradient" : "batchNorm gradient", `[${x.shape}]`, () =>
            ops[layer ? "layerNorm" : "batchNorm"](
              heap(backend),
              1,
              [
                offset(backend, dy, "dy"),
                offset(backend, x, "x"),
                offset(backend, g.t, "scale"),
                offset(backend, mean, "mean"),
                offset(backend, variance, "variance"),
                ...outs.map((o) => offset(backend, o, "output")),
              ],
              [M, C, eps],
            ),
          ),
        );
      } finally {
        if (g.made) backend.disposeData(g.t.dataId);
      }
      return outs;
    };

  /**
   * tfjs' FusedBatchNorm (inference, or training with given statistics): on oneDNN when
   * mean, variance, scale and offset hold one number per channel (the last axis);
   * other shapes (layer normalization's tiled statistics) and small tensors go to wasm.
   */
  const FusedBatchNorm: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { x, mean, variance, scale, offset: shift } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    if (!x || !mean || !variance || x.shape.length < 2 || !float(x, mean, variance, scale, shift) || size(x.shape) < OPS_MIN_ELEMENTS) return base("FusedBatchNorm")(args);
    const C = x.shape[x.shape.length - 1];
    if ([mean, variance, scale, shift].some((t) => t && size(t.shape) !== C)) return base("FusedBatchNorm")(args);
    const eps = Number((args.attrs ?? {}).varianceEpsilon ?? 1e-3);
    const [y] = outputs(backend, [[...x.shape]]);
    const g = channel(backend, scale, C, 1);
    const b = channel(backend, shift, C, 0);
    try {
      guard(backend, [y], () =>
        call("batchNorm", `[${x.shape}]`, () =>
          ops.batchNorm(
            heap(backend),
            2,
            [
              offset(backend, x, "x"),
              offset(backend, g.t, "scale"),
              offset(backend, b.t, "offset"),
              offset(backend, mean, "mean"),
              offset(backend, variance, "variance"),
              offset(backend, y, "output"),
            ],
            [size(x.shape) / C, C, eps],
          ),
        ),
      );
    } finally {
      if (g.made) backend.disposeData(g.t.dataId);
      if (b.made) backend.disposeData(b.t.dataId);
    }
    return y;
  };

  /**
   * MaxPool and AvgPool (NHWC, as tfjs' cpu kernels: the average over the window's pixels
   * inside x, the max ignoring the padding), on oneDNN from OPS_MIN_ELEMENTS elements; windows
   * that oneDNN's padding rule cannot express (numeric padding that leaves rows unread, a
   * window wholly in the padding) and other dtypes go to wasm.
   */
  const pool =
    (kind: 0 | 1, name: string): Kernel =>
    (args) => {
      const backend = args.backend as WasmBackendLike;
      const { x } = args.inputs as { x: tf.TensorInfo };
      const attrs = args.attrs as unknown as {
        filterSize: number | [number, number];
        strides: number | [number, number];
        pad: "valid" | "same" | number;
        dimRoundingMode?: "floor" | "round" | "ceil";
      };
      if (x.dtype !== "float32" || x.shape.length !== 4 || size(x.shape) < OPS_MIN_ELEMENTS) return base(name)(args);
      const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
      const [FH, FW, SH, SW, PT, PL] = [info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left];
      const PB = (info.outHeight - 1) * SH + FH - info.inHeight - PT;
      const PR = (info.outWidth - 1) * SW + FW - info.inWidth - PL;
      const fits = [PT, PL, PB, PR].every((p) => p >= 0) && PT < FH && PB < FH && PL < FW && PR < FW && size(info.outShape) > 0;
      if (!fits || info.dilationHeight !== 1 || info.dilationWidth !== 1) return base(name)(args);
      const [y] = outputs(backend, [[...info.outShape]]);
      guard(backend, [y], () =>
        call(name, `x [${x.shape}]`, () =>
          ops.pool(
            heap(backend),
            kind,
            [offset(backend, x, "x"), offset(backend, y, "output")],
            [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, FH, FW, SH, SW, PT, PL, PB, PR],
          ),
        ),
      );
      return y;
    };

  /**
   * inputs {dy, x}, attrs {activation, alpha}: the gradient of "relu" (dy where x > 0, else 0:
   * tfjs' `dy * step(x)`), "relu6" (dy where 0 < x <= 6) or "leakyrelu" (dy where x > 0, else alpha * dy).
   */
  const ReluGrad: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
    const { activation = "relu", alpha = 0 } = (args.attrs ?? {}) as { activation?: string; alpha?: number };
    const alg = ({ relu: 0, leakyrelu: 0, relu6: 2 } as Record<string, 0 | 2>)[activation];
    if (alg === undefined) throw new Error(`${RELU_GRAD}: activation must be relu, relu6 or leakyrelu, got ${JSON.stringify(activation)}`);
    if (!float(dy, x) || size(dy.shape) !== size(x.shape)) throw new Error(`${RELU_GRAD} takes float32 dy and x of one size, got [${dy.shape}] and [${x.shape}]`);
    const n = size(x.shape);
    const [dx] = outputs(backend, [[...x.shape]]);
    if (n === 0) return dx;
    guard(backend, [dx], () =>
      call(`${activation} gradient`, `[${x.shape}]`, () =>
        ops.eltwiseGrad(heap(backend), alg, [offset(backend, dy, "dy"), offset(backend, x, "x"), offset(backend, dx, "dx")], [n, activation === "leakyrelu" ? alpha : 0]),
      ),
    );
    return dx;
  };

  /** inputs {logits}, attrs {dim}: softmax over the last axis (the only one tfjs' Softmax takes), rows of at most SOFTMAX_MAX_ROW. */
  const Softmax: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { logits } = args.inputs as { logits: tf.TensorInfo };
    const r = logits.shape.length;
    const dim = Number((args.attrs as { dim?: number } | undefined)?.dim ?? -1);
    const n = size(logits.shape);
    const C = r === 0 ? 0 : logits.shape[r - 1];
    if (!ops.softmax || logits.dtype !== "float32" || r === 0 || (dim !== -1 && dim !== r - 1) || n < SOFTMAX_TRANSPOSE_MIN_ELEMENTS || C > SOFTMAX_MAX_ROW) {
      return base("Softmax")(args);
    }
    const [y] = outputs(backend, [[...logits.shape]]);
    guard(backend, [y], () =>
      call("softmax", `[${logits.shape}]`, () => ops.softmax?.(heap(backend), 0, [offset(backend, logits, "logits"), offset(backend, y, "output")], [n / C, C])),
    );
    return y;
  };

  /** inputs {dy, y}: the gradient of softmax over the last axis, from its output y (float32, one shape). */
  const SoftmaxGrad: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { dy, y } = args.inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
    if (!ops.softmax) throw new Error(`${SOFTMAX_GRAD}: this build of the native addon has no softmax; rebuild it (npm run build:native)`);
    if (!float(dy, y) || dy.shape.length === 0 || dy.shape.join() !== y.shape.join())
      throw new Error(`${SOFTMAX_GRAD} takes float32 dy and y of one shape, got [${dy.shape}] and [${y.shape}]`);
    const n = size(y.shape);
    const C = y.shape[y.shape.length - 1];
    const [dx] = outputs(backend, [[...y.shape]]);
    if (n === 0) return dx;
    guard(backend, [dx], () =>
      call("softmax gradient", `[${y.shape}]`, () => ops.softmax?.(heap(backend), 1, [offset(backend, dy, "dy"), offset(backend, y, "y"), offset(backend, dx, "dx")], [n / C, C])),
    );
    return dx;
  };

  /** inputs {x}, attrs {perm}: float32 and int32 through a oneDNN reorder; other dtypes and small tensors on wasm. */
  const Transpose: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const perm = (args.attrs as { perm: number[] }).perm;
    const r = x.shape.length;
    const kind = x.dtype === "float32" ? 0 : x.dtype === "int32" ? 1 : -1;
    if (!ops.transpose || kind < 0 || r === 0 || r > 12 || perm.length !== r || size(x.shape) < SOFTMAX_TRANSPOSE_MIN_ELEMENTS) return base("Transpose")(args);
    const outShape = perm.map((p) => x.shape[p]);
    const y = backend.makeOutput(outShape, x.dtype);
    guard(backend, [y], () =>
      call("transpose", `[${x.shape}] by [${perm}]`, () =>
        ops.transpose?.(heap(backend), kind as 0 | 1, [offset(backend, x, "x"), offset(backend, y, "output")], [r, ...x.shape, ...perm]),
      ),
    );
    return y;
  };

  return {
    Softmax,
    [SOFTMAX_GRAD]: SoftmaxGrad,
    Transpose,
    MaxPool: pool(1, "MaxPool"),
    AvgPool: pool(0, "AvgPool"),
    FusedBatchNorm,
    [BN_TRAINING]: normTraining(false),
    [BN_TRAINING_GRAD]: normTrainingGrad(false),
    [LN]: normTraining(true),
    [LN_GRAD]: normTrainingGrad(true),
    [RELU_GRAD]: ReluGrad,
  };
}

/**
 * Batch normalization in training on the native backend (the book's
 * `batch_norm` with the minibatch's statistics, section 8.5): normalizes `x`
 * over all axes but the last with the batch's mean and (biased) variance, then
 * scales by `gamma` and shifts by `beta` (one number per channel, or null for
 * 1 and 0). Returns `[y, mean, variance]` (mean and variance of shape `[C]`);
 * the gradient of `y` (with respect to x, gamma and beta, through the
 * statistics too) is one oneDNN backward call. Only on the native backend.
 * With `statisticsGradient` false, the caller promises that no gradient
 * reaches the returned mean and variance (they only update moving averages,
 * as in tfjs' layer): the backward pass then skips reading their gradients
 * back, which keeps a training step free of synchronous reads, so
 * `d2l.compileStep` can replay it.
 *
 * @example
 * await d2l.useBackend("native");
 * const x = tf.randomNormal([32, 28, 28, 64]);
 * const [y, mean, variance] = batchNormTraining(x, tf.ones([64]), tf.zeros([64]), 1e-5);
 */
export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, epsilon: number, statisticsGradient = true): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (tf.getBackend() !== "native") throw new Error(`batchNormTraining runs on the native backend only (the backend is ${tf.getBackend()})`);
  const C = x.shape[x.rank - 1];
  return tf.tidy(() => {
    // Both always given, so the gradient finds them saved.
    const scale = gamma ?? tf.ones([C]);
    const offset = beta ?? tf.zeros([C]);
    const out = tf.engine().runKernel(BN_TRAINING, { x, scale, offset }, { epsilon, statisticsGradient }) as unknown as tf.Tensor[];
    return [out[0], out[1], out[2]] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
}

/**
 * Layer normalization on the native backend (the book's `nn.LayerNorm`,
 * section 11.7, over the last axis): each row of `x` along its last axis is
 * normalized with its own mean and (biased) variance, then scaled by `gamma`
 * and shifted by `beta` (one number per element of the last axis, or null for
 * 1 and 0). Forward and gradient are one oneDNN call each. Only on the native
 * backend.
 *
 * @example
 * await d2l.useBackend("native");
 * const y = layerNormLastAxis(tf.randomNormal([64, 10, 32]), tf.ones([32]), tf.zeros([32]), 1e-5);
 */
export function layerNormLastAxis(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, epsilon: number): tf.Tensor {
  if (tf.getBackend() !== "native") throw new Error(`layerNormLastAxis runs on the native backend only (the backend is ${tf.getBackend()})`);
  const C = x.shape[x.rank - 1];
  return tf.tidy(() => {
    const scale = gamma ?? tf.ones([C]);
    const offset = beta ?? tf.zeros([C]);
    const out = tf.engine().runKernel(LN, { x, scale, offset }, { epsilon }) as unknown as tf.Tensor[];
    return out[0];
  });
}

let installed = false;

/**
 * Make the native path reachable (once, when the native backend starts):
 * the gradient of d2l's batch-norm kernel, the gradient of `Relu` on native
 * (one oneDNN call instead of Step and Multiply; other backends keep tfjs'
 * gradient), and tfjs' BatchNormalization layer, in training with the
 * channels last on native, through {@link batchNormTraining}.
 */
export function installNativeOps(addon: NativeAddon): void {
  void addon;
  if (installed) return;
  installed = true;
  tf.registerGradient({
    kernelName: BN_TRAINING,
    inputsToSave: ["x", "scale"],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dmean, dvariance] = dys as tf.Tensor[];
      const [x, scale, mean, variance] = saved;
      const inputs: tf.NamedTensorMap = { dy, x, scale, mean, variance };
      // All three in one call, here: tfjs runs each input's function below in a tidy of its own.
      const grads = tf.engine().runKernel(BN_TRAINING_GRAD, inputs, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
      const all = () => grads;
      return {
        x: () => {
          const dx = all()[0];
          if ((attrs as { statisticsGradient?: boolean } | undefined)?.statisticsGradient === false) return dx;
          // Gradients that reach the statistics themselves (the layer only uses them for the moving averages, which have none).
          const extra = [dmean, dvariance].some((t) => t && (t.dataSync() as Float32Array).some((v) => v !== 0)); // sync-read-ok: native backend only
          if (!extra) return dx;
          const M = x.size / x.shape[x.rank - 1];
          return dx.add(dmean.div(M)).add(dvariance.mul(x.sub(mean).mul(2 / M)));
        },
        scale: () => all()[1],
        offset: () => all()[2],
      };
    },
  });
  tf.registerGradient({
    kernelName: LN,
    inputsToSave: ["x", "scale"],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      // The statistics are used by nothing but this gradient (layerNormLastAxis returns y only).
      const [dy] = dys as tf.Tensor[];
      const [x, scale, mean, variance] = saved;
      const grads = tf.engine().runKernel(LN_GRAD, { dy, x, scale, mean, variance }, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
      return { x: () => grads[0], scale: () => grads[1], offset: () => grads[2] };
    },
  });
  // Relu, Relu6 and LeakyRelu: tfjs' gradients are 2-4 kernels each (Step/LessEqual/Greater, Cast, Multiply, Select).
  for (const [kernel, activation] of [
    ["Relu", "relu"],
    ["Relu6", "relu6"],
    ["LeakyRelu", "leakyrelu"],
  ] as const) {
    const theirs = tf.getGradient(kernel);
    if (!theirs) continue;
    tf.registerGradient({
      ...theirs,
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved;
        const g = dy as tf.Tensor;
        if (tf.getBackend() !== "native" || x.dtype !== "float32" || g.dtype !== "float32" || x.size < OPS_MIN_ELEMENTS) return theirs.gradFunc(dy, saved, attrs);
        const alpha = Number((attrs as { alpha?: number } | undefined)?.alpha ?? 0.2);
        return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: g, x }, { activation, alpha }) as tf.Tensor };
      },
    });
  }
  // Softmax: tfjs' gradient is Multiply, Sum, Multiply, Sub; on native one oneDNN backward call.
  const softmaxGrad = tf.getGradient("Softmax");
  if (softmaxGrad) {
    tf.registerGradient({
      ...softmaxGrad,
      gradFunc: (dy, saved, attrs) => {
        const [y] = saved;
        const g = dy as tf.Tensor;
        const dim = Number((attrs as { dim?: number } | undefined)?.dim ?? -1);
        const last = dim === -1 || dim === y.rank - 1;
        if (
          tf.getBackend() !== "native" ||
          !tf.getKernel(SOFTMAX_GRAD, "native") ||
          y.dtype !== "float32" ||
          g.dtype !== "float32" ||
          !last ||
          y.size < SOFTMAX_TRANSPOSE_MIN_ELEMENTS
        ) {
          return softmaxGrad.gradFunc(dy, saved, attrs);
        }
        return { logits: () => tf.engine().runKernel(SOFTMAX_GRAD, { dy: g, y }) as tf.Tensor };
      },
    });
  }
  patchBatchNormalizationLayer();
  patchLayerNormalizationLayer();
}

interface LayerNormLayerLike {
  axis: number | number[];
  epsilon: number;
  gamma?: tf.LayerVariable | null;
  beta?: tf.LayerVariable | null;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

/** tfjs' LayerNormalization.call over the last axis on native, through layerNormLastAxis (tfjs' tiles and their gradient's ~1300 slices per call otherwise). */
function patchLayerNormalizationLayer(): void {
  const proto = Object.getPrototypeOf(tf.layers.layerNormalization({})) as LayerNormLayerLike;
  const original = proto.call;
  proto.call = function (this: LayerNormLayerLike, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const axes = (Array.isArray(this.axis) ? this.axis : [this.axis]).map((a) => (a < 0 ? a + x.rank : a));
    if (tf.getBackend() !== "native" || axes.length !== 1 || axes[0] !== x.rank - 1 || x.dtype !== "float32" || x.size === 0 || (Array.isArray(inputs) && inputs.length !== 1)) {
      return original.call(this, inputs, kwargs);
    }
    return tf.tidy(() => layerNormLastAxis(x, this.gamma ? this.gamma.read() : null, this.beta ? this.beta.read() : null, this.epsilon));
  };
}

interface BatchNormLayerLike {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma?: tf.LayerVariable | null;
  beta?: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

/** tfjs' BatchNormalization.call, in training on native with the channels last, through batchNormTraining. */
function patchBatchNormalizationLayer(): void {
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as BatchNormLayerLike;
  const original = proto.call;
  proto.call = function (this: BatchNormLayerLike, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const last = this.axis === -1 || this.axis === x.rank - 1;
    if (!kwargs?.training || tf.getBackend() !== "native" || !last || x.rank < 2 || x.dtype !== "float32" || x.size === 0 || (Array.isArray(inputs) && inputs.length !== 1)) {
      return original.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      // The statistics only update the moving averages, which are variables written here: no gradient reaches them.
      const [y, mean, variance] = batchNormTraining(x, this.gamma ? this.gamma.read() : null, this.beta ? this.beta.read() : null, this.epsilon, false);
      // tfjs' moving averages: moving -= (moving - batch) * (1 - momentum).
      for (const [v, value] of [
        [this.movingMean, mean],
        [this.movingVariance, variance],
      ] as const) {
        tf.tidy(() => {
          const orig = v.read();
          v.write(orig.sub(orig.sub(value).mul(1 - this.momentum)));
        });
      }
      return y;
    });
  };
}
