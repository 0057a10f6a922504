/**
 * Gradient kernels of 2-D convolutions, d2l's own, for tfjs's `cpu` and
 * `wasm` backends.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropFilter` or `DepthwiseConv2dNativeBackpropInput`
 * (they would run on the cpu backend, copied there and back), and its
 * `Conv2DBackpropInput` is a plain single-threaded C++ loop. tfjs-backend-cpu's
 * `Conv2DBackpropFilter` reads every element through `TensorBuffer.get`, about
 * 100 times slower than flat indices.
 *
 * On wasm each of them is written as forward convolutions, which XNNPACK
 * computes, plus cheap data movement (Transpose, Reshape, PadV2, Reverse) by
 * the wasm backend's own kernels:
 *
 * - input gradient: the output gradient, padded, convolved with the filter
 *   flipped in space (and, for a full convolution, with its in and out
 *   channels swapped). A strided conv2d runs one such convolution per phase of
 *   the stride with its sub-filter, interleaved after; a strided depthwise one
 *   spreads the output gradient by the stride (zeros in between) first;
 * - filter gradient: the input, with its batch and channel axes swapped, is
 *   convolved with the output gradient as the "filter" (batch as its input
 *   channels), dilated by the forward stride. The batch axis becomes the
 *   reduction of a matrix product inside XNNPACK; no im2col, no per-tap slices
 *   (a strided slice is slow in tfjs-backend-wasm).
 *
 * `avgPool`'s gradient with "valid" padding is the input gradient of a
 * depthwise convolution with a constant filter (tfjs's is a plain loop).
 *
 * {@link useConvGradKernels} registers them; each registered config carries
 * `d2l: true`, which tests read to tell them from tfjs's.
 */
import * as tf from "@tensorflow/tfjs";
import type { Info, Kernel, KernelArgs } from "./shared";

type Padding = "valid" | "same" | number | tf.backend_util.ExplicitPadding;
type Pair = number | [number, number];
type Rounding = "floor" | "round" | "ceil";

/** The part of a tfjs KernelBackend these kernels use. */
interface BackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
}

interface Conv2DBackpropFilterAttrs {
  strides: Pair;
  pad: Padding;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: Rounding;
  filterShape: [number, number, number, number];
}
interface Conv2DBackpropInputAttrs {
  strides: Pair;
  pad: Padding;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: Rounding;
  inputShape: [number, number, number, number];
}
interface DepthwiseBackpropFilterAttrs {
  strides: Pair;
  dilations?: Pair;
  pad: Padding;
  dimRoundingMode?: Rounding;
  filterShape: [number, number, number, number];
}
interface DepthwiseBackpropInputAttrs {
  strides: Pair;
  dilations?: Pair;
  pad: Padding;
  dimRoundingMode?: Rounding;
  inputShape: [number, number, number, number];
}

/** The kernels d2l registers, by backend. */
export const D2L_CONV_GRAD_KERNELS: Readonly<Record<"cpu" | "wasm", readonly string[]>> = {
  cpu: ["Conv2DBackpropFilter"],
  wasm: ["Conv2DBackpropFilter", "Conv2DBackpropInput", "DepthwiseConv2dNativeBackpropFilter", "DepthwiseConv2dNativeBackpropInput", "AvgPoolGrad"],
};

/** True when `kernelName` on `backendName` is d2l's own (registered by lib/kernels: its config carries `d2l: true`). */
export function isD2lKernel(kernelName: string, backendName: string): boolean {
  return Boolean((tf.getKernel(kernelName, backendName) as (tf.KernelConfig & { d2l?: boolean }) | undefined)?.d2l);
}

/**
 * Runs other kernels of one backend inside a kernel, and frees every
 * intermediate they made, whatever happens, except the one that is the result.
 */
class Scratch {
  private readonly made: Info[] = [];

  constructor(
    private readonly backend: BackendLike,
    private readonly backendName: string,
  ) {}

  run(name: string, inputs: Record<string, Info> | Info[], attrs: Record<string, unknown> = {}): Info {
    const k = tf.getKernel(name, this.backendName);
    if (!k) throw new Error(`the ${this.backendName} backend has no ${name} kernel`);
    const out = k.kernelFunc({
      inputs: inputs as unknown as tf.NamedTensorInfoMap,
      attrs: attrs as tf.NamedAttrMap,
      backend: this.backend as unknown as tf.KernelBackend,
    }) as unknown as Info;
    this.made.push(out);
    return out;
  }

  reshape(x: Info, shape: number[]): Info {
    return this.run("Reshape", { x }, { shape });
  }

  transpose(x: Info, perm: number[]): Info {
    return this.run("Transpose", { x }, { perm });
  }

  /** `x[begin:end]` with unit steps. */
  crop(x: Info, begin: number[], end: number[]): Info {
    return this.run("StridedSlice", { x }, { begin, end, strides: begin.map(() => 1), beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 });
  }

  /** Hand `t` to the caller: it is not freed with the rest. */
  result(t: Info): tf.TensorInfo {
    const i = this.made.lastIndexOf(t);
    if (i >= 0) this.made.splice(i, 1);
    return t as unknown as tf.TensorInfo;
  }

  free(): void {
    for (const t of this.made) this.backend.disposeData(t.dataId);
    this.made.length = 0;
  }
}

/** Run `body` with a {@link Scratch}; its intermediates are freed after. */
function withScratch(backend: unknown, backendName: string, body: (s: Scratch) => tf.TensorInfo): tf.TensorInfo {
  const s = new Scratch(backend as BackendLike, backendName);
  try {
    return body(s);
  } finally {
    s.free();
  }
}

function zeros(s: Scratch, shape: number[]): tf.TensorInfo {
  return s.result(s.run("Fill", {}, { shape, value: 0, dtype: "float32" }));
}

/**
 * Along one axis: `n` values, `step` apart, the first at `first`, must lie in
 * a line of `length` with zeros elsewhere. Spreading makes `n·step` slots (the
 * value at `phase` of its `step`, zeros around it); the rest is `before` and
 * `after` zeros, which the convolution pads itself, or, where one would be
 * negative, a crop `[cropBegin, cropEnd)` of the spread values.
 */
interface AxisPlan {
  phase: number;
  before: number;
  after: number;
  cropBegin: number;
  cropEnd: number;
}

function planAxis(n: number, step: number, first: number, length: number): AxisPlan {
  const lo = Math.max(0, n * step - (length - first)); // smallest phase that leaves `after` >= 0
  const hi = Math.min(step - 1, first); // largest phase that leaves `before` >= 0
  const phase = lo <= hi ? lo : Math.max(0, Math.min(step - 1, first));
  let before = first - phase;
  let after = length - before - n * step;
  let cropBegin = 0;
  let cropEnd = n * step;
  if (before < 0) {
    cropBegin = -before;
    before = 0;
  }
  if (after < 0) {
    cropEnd += after;
    after = 0;
  }
  return { phase, before, after, cropBegin, cropEnd };
}

/**
 * `dy` [B, Ho, Wo, C] spread by the strides and placed so that an un-padded,
 * stride-1 convolution with pads `[[0,0],[top,bottom],[left,right],[0,0]]`
 * reads it as the transposed convolution needs: row r at `firstRow + r·sh`
 * of a column `rows` long (and the same for columns). Null when no value lies
 * inside (the gradient is zero).
 */
function spread(
  s: Scratch,
  dy: Info,
  sh: number,
  sw: number,
  firstRow: number,
  rows: number,
  firstCol: number,
  cols: number,
): { z: Info; pad: tf.backend_util.ExplicitPadding } | null {
  const [B, Ho, Wo, C] = dy.shape;
  const ph = planAxis(Ho, sh, firstRow, rows);
  const pw = planAxis(Wo, sw, firstCol, cols);
  if (ph.cropEnd <= ph.cropBegin || pw.cropEnd <= pw.cropBegin) return null;
  let z = dy;
  if (sh > 1 || sw > 1) {
    const six = s.reshape(dy, [B, Ho, 1, Wo, 1, C]);
    const padded = s.run(
      "PadV2",
      { x: six },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [ph.phase, sh - 1 - ph.phase],
          [0, 0],
          [pw.phase, sw - 1 - pw.phase],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    z = s.reshape(padded, [B, Ho * sh, Wo * sw, C]);
  }
  if (ph.cropBegin > 0 || pw.cropBegin > 0 || ph.cropEnd < Ho * sh || pw.cropEnd < Wo * sw) {
    z = s.crop(z, [0, ph.cropBegin, pw.cropBegin, 0], [B, ph.cropEnd, pw.cropEnd, C]);
  }
  return {
    z,
    pad: [
      [0, 0],
      [ph.before, ph.after],
      [pw.before, pw.after],
      [0, 0],
    ],
  };
}

/**
 * The input of a filter-gradient convolution: `x` cropped where the forward
 * convolution never reads (strides that leave rows over), and the pads to
 * give it so that it covers `(K-1)·d + (O-1)·s + 1` rows, all that is read.
 */
function filterGradInput(s: Scratch, x: Info, info: tf.backend_util.Conv2DInfo): { x: Info; pad: tf.backend_util.ExplicitPadding } {
  const { inHeight: H, inWidth: W, outHeight: Ho, outWidth: Wo, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  let bottom = info.effectiveFilterHeight + (Ho - 1) * sh - top - H;
  let right = info.effectiveFilterWidth + (Wo - 1) * sw - left - W;
  let xc = x;
  if (bottom < 0 || right < 0) {
    xc = s.crop(x, [0, 0, 0, 0], [x.shape[0], H + Math.min(0, bottom), W + Math.min(0, right), x.shape[3]]);
    bottom = Math.max(0, bottom);
    right = Math.max(0, right);
  }
  return {
    x: xc,
    pad: [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ],
  };
}

// ------------------------------------------------------------------ wasm

/**
 * `Conv2DBackpropFilter` on wasm: dW[i,j,c,o] = Σ_{b,y,x} x[b, y·s+i, x·s+j, c]·dy[b,y,x,o]
 * is a convolution of x as [Ci, H, W, B] (channels = batch) with dy as a
 * [Ho, Wo, B, Co] filter dilated by the stride: one XNNPACK convolution whose
 * output [Ci, Kh, Kw, Co] is the gradient, transposed. NCHW runs the plain loops.
 */
function conv2dBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  if ((attrs.dataFormat ?? "NHWC") !== "NHWC") return conv2dBackpropFilterLoops(args); // the wasm Conv2D is NHWC only
  const x = args.inputs.x as Info;
  const dy = args.inputs.dy as Info;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  return withScratch(args.backend, "wasm", (s) => {
    const { x: xc, pad } = filterGradInput(s, x, info);
    const xt = s.transpose(xc, [3, 1, 2, 0]); // [Ci, H, W, B]
    const f = s.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, B, Co]
    const o = s.run("Conv2D", { x: xt, filter: f }, { strides: 1, pad, dataFormat: "NHWC", dilations: [info.strideHeight, info.strideWidth] });
    return s.result(s.transpose(o, [1, 2, 0, 3])); // [Kh, Kw, Ci, Co]
  });
}

/**
 * `Conv2DBackpropInput` on wasm (tfjs's is a plain single-threaded loop): dy,
 * padded, convolved by XNNPACK with the filter flipped in space and its
 * channels swapped ([Kh, Kw, Co, Ci]); strides > 1 by phases
 * ({@link conv2dBackpropInputByPhases}). NCHW runs `nchw`, the kernel tfjs registered.
 */
function conv2dBackpropInputWasm(nchw: Kernel | undefined): Kernel {
  return (args) => {
    const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs;
    if ((attrs.dataFormat ?? "NHWC") !== "NHWC") {
      if (!nchw) throw new Error("Conv2DBackpropInput on wasm: NCHW is not supported (the wasm backend computes NHWC)");
      return nchw(args);
    }
    const dy = args.inputs.dy as Info;
    const filter = args.inputs.filter as Info;
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    if (info.strideHeight > 1 || info.strideWidth > 1) return withScratch(args.backend, "wasm", (s) => conv2dBackpropInputByPhases(s, dy, filter, info));
    return withScratch(args.backend, "wasm", (s) => {
      const { inHeight: H, inWidth: W, effectiveFilterHeight: KeH, effectiveFilterWidth: KeW } = info;
      const sp = spread(s, dy, info.strideHeight, info.strideWidth, KeH - 1 - info.padInfo.top, H + KeH - 1, KeW - 1 - info.padInfo.left, W + KeW - 1);
      if (!sp) return zeros(s, info.inShape);
      const flipped = s.run("Reverse", { x: filter }, { dims: [0, 1] });
      if (info.inChannels === 1) {
        // One output channel wastes most of XNNPACK's convolution (it computes 8 at a time): a depthwise
        // convolution over the Co channels and a sum over them is about twice as fast (a first layer's
        // input gradient, which tf.layers computes though nothing uses it).
        const perChannel = s.run(
          "DepthwiseConv2dNative",
          { x: sp.z, filter: s.reshape(flipped, [info.filterHeight, info.filterWidth, info.outChannels, 1]) },
          { strides: 1, pad: sp.pad, dataFormat: "NHWC", dilations: 1 },
        );
        return s.result(s.run("Sum", { x: perChannel }, { axis: [3], keepDims: true }));
      }
      const swapped = s.transpose(flipped, [0, 1, 3, 2]); // [Kh, Kw, Co, Ci]
      return s.result(s.run("Conv2D", { x: sp.z, filter: swapped }, { strides: 1, pad: sp.pad, dataFormat: "NHWC", dilations: 1 }));
    });
  };
}

/**
 * The input gradient of a strided conv2d without the zeros a spread dy would
 * multiply (s² times the work for stride s): the padded input's row
 * h' = q·s + p gets dy row q - t through filter row p + t·s only, so each of
 * the s_h·s_w phases (p_h, p_w) is a stride-1 convolution of dy with the
 * sub-filter of rows p_h, p_h + s_h, ... (flipped, channels swapped). The
 * phases' outputs [B, Qh, Qw, Ci] are interleaved into
 * [B, Qh·s_h, Qw·s_w, Ci] (two 3-D transposes; the wasm backend's 5-D
 * transpose is 30 times slower) and cropped to the input's rows.
 */
function conv2dBackpropInputByPhases(s: Scratch, dy: Info, filter: Info, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co, outHeight: Ho, outWidth: Wo } = info;
  const { filterHeight: Kh, filterWidth: Kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const Qh = Math.ceil((top + H) / sh);
  const Qw = Math.ceil((left + W) / sw);
  // dy rows past Qh reach only padded rows past the input: never read.
  const dyc = Ho > Qh || Wo > Qw ? s.crop(dy, [0, 0, 0, 0], [B, Math.min(Ho, Qh), Math.min(Wo, Qw), Co]) : dy;
  const [, hc, wc] = dyc.shape;
  const phase = (ph: number, pw: number): Info => {
    const th = Math.ceil((Kh - ph) / sh); // filter rows ph, ph + sh, ... that exist
    const tw = Math.ceil((Kw - pw) / sw);
    if (th <= 0 || tw <= 0) return s.run("Fill", {}, { shape: [1, B * Qh * Qw, Ci], value: 0, dtype: "float32" });
    const sub = s.run(
      "StridedSlice",
      { x: filter },
      {
        begin: [ph, pw, 0, 0],
        end: [ph + (th - 1) * sh + 1, pw + (tw - 1) * sw + 1, Ci, Co],
        strides: [sh, sw, 1, 1],
        beginMask: 0,
        endMask: 0,
        ellipsisMask: 0,
        newAxisMask: 0,
        shrinkAxisMask: 0,
      },
    );
    const f = s.transpose(s.run("Reverse", { x: sub }, { dims: [0, 1] }), [0, 1, 3, 2]); // [th, tw, Co, Ci]
    const pad: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [th - 1, Qh - hc],
      [tw - 1, Qw - wc],
      [0, 0],
    ];
    const out = s.run("Conv2D", { x: dyc, filter: f }, { strides: 1, pad, dataFormat: "NHWC", dilations: 1 }); // [B, Qh, Qw, Ci]
    return s.reshape(out, [1, B * Qh * Qw, Ci]);
  };
  /** Stack `parts` (each [1, n, m]) and interleave them along n: [n, parts, m]. */
  const interleave = (parts: Info[]): Info => (parts.length === 1 ? parts[0] : s.transpose(s.run("Concat", parts, { axis: 0 }), [1, 0, 2]));
  const rows: Info[] = [];
  for (let ph = 0; ph < sh; ph++) {
    const cols: Info[] = [];
    for (let pw = 0; pw < sw; pw++) cols.push(phase(ph, pw));
    rows.push(s.reshape(interleave(cols), [1, B * Qh, Qw * sw * Ci])); // columns q·sw + pw
  }
  const full = s.reshape(interleave(rows), [B, Qh * sh, Qw * sw, Ci]); // rows q·sh + ph
  if (top === 0 && left === 0 && Qh * sh === H && Qw * sw === W) return s.result(full);
  return s.result(s.crop(full, [0, top, left, 0], [B, top + H, left + W, Ci]));
}

/**
 * `DepthwiseConv2dNativeBackpropInput` on wasm: dy spread by the stride and
 * padded, then XNNPACK's depthwise convolution with the filter flipped in
 * space, dilated as the forward one. A channel multiplier m > 1 runs as C·m
 * channels of multiplier 1, summed over m.
 */
function depthwiseBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const attrs = args.attrs as unknown as DepthwiseBackpropInputAttrs;
  const dy = args.inputs.dy as Info;
  const filter = args.inputs.filter as Info;
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const [Kh, Kw, C, m] = filter.shape;
  return withScratch(args.backend, "wasm", (s) => {
    const { batchSize: B, inHeight: H, inWidth: W, effectiveFilterHeight: KeH, effectiveFilterWidth: KeW } = info;
    const sp = spread(s, dy, info.strideHeight, info.strideWidth, KeH - 1 - info.padInfo.top, H + KeH - 1, KeW - 1 - info.padInfo.left, W + KeW - 1);
    if (!sp) return zeros(s, info.inShape);
    const flipped = s.reshape(s.run("Reverse", { x: filter }, { dims: [0, 1] }), [Kh, Kw, C * m, 1]);
    const dx = s.run(
      "DepthwiseConv2dNative",
      { x: sp.z, filter: flipped },
      {
        strides: 1,
        pad: sp.pad,
        dataFormat: "NHWC",
        dilations: [info.dilationHeight, info.dilationWidth],
      },
    );
    if (m === 1) return s.result(dx);
    return s.result(s.run("Sum", { x: s.reshape(dx, [B, H, W, C, m]) }, { axis: [4], keepDims: false }));
  });
}

/**
 * `DepthwiseConv2dNativeBackpropFilter` on wasm: dW[i,j,c,k] =
 * Σ_{b,y,x} x[b, y·s+i·d, x·s+j·d, c]·dy[b,y,x,c·m+k] is one depthwise
 * convolution over B·C channels: x as [1, H, W, B·C], dy as a
 * [Ho, Wo, B·C, m] filter dilated by the stride, stepping by the dilation;
 * its [1, Kh, Kw, B·C·m] output is summed over the batch.
 */
function depthwiseBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const attrs = args.attrs as unknown as DepthwiseBackpropFilterAttrs;
  const x = args.inputs.x as Info;
  const dy = args.inputs.dy as Info;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const [Kh, Kw, C, m] = attrs.filterShape;
  const { batchSize: B, outHeight: Ho, outWidth: Wo } = info;
  return withScratch(args.backend, "wasm", (s) => {
    const { x: xc, pad } = filterGradInput(s, x, info);
    const [, H, W] = xc.shape;
    const xt = s.reshape(s.transpose(xc, [1, 2, 0, 3]), [1, H, W, B * C]);
    const f = s.reshape(s.transpose(dy, [1, 2, 0, 3]), [Ho, Wo, B * C, m]);
    const o = s.run(
      "DepthwiseConv2dNative",
      { x: xt, filter: f },
      {
        strides: [info.dilationHeight, info.dilationWidth],
        pad,
        dataFormat: "NHWC",
        dilations: [info.strideHeight, info.strideWidth],
      },
    ); // [1, Kh, Kw, B·C·m]
    if (B === 1) return s.result(s.reshape(o, [Kh, Kw, C, m]));
    const perTap = s.transpose(s.reshape(o, [Kh * Kw, B, C * m]), [0, 2, 1]);
    const summed = s.run("Sum", { x: perTap }, { axis: [2], keepDims: false });
    return s.result(s.reshape(summed, [Kh, Kw, C, m]));
  });
}

/**
 * `AvgPoolGrad` on wasm for "valid" pooling (tfjs's is a plain loop, 3 to 4
 * times slower): every output's gradient, divided by the window's size, goes
 * to each input of its window, which is the input gradient of a depthwise
 * convolution with a constant filter. Other paddings average over fewer
 * inputs at the borders, and run `tfjs`, the kernel tfjs registered.
 */
function avgPoolGradWasm(tfjs: Kernel | undefined): Kernel {
  return (args) => {
    const attrs = args.attrs as unknown as { filterSize: Pair; strides: Pair; pad: Padding };
    const dy = args.inputs.dy as Info;
    const input = args.inputs.input as Info;
    if (attrs.pad !== "valid" || input.shape.length !== 4) {
      if (!tfjs) throw new Error("AvgPoolGrad on wasm: tfjs-backend-wasm's kernel is missing");
      return tfjs(args);
    }
    const [kh, kw] = typeof attrs.filterSize === "number" ? [attrs.filterSize, attrs.filterSize] : attrs.filterSize;
    return withScratch(args.backend, "wasm", (s) => {
      const filter = s.run("Fill", {}, { shape: [kh, kw, input.shape[3], 1], value: 1 / (kh * kw), dtype: "float32" });
      const inputShape = input.shape as [number, number, number, number];
      return s.result(s.run("DepthwiseConv2dNativeBackpropInput", { dy, filter }, { strides: attrs.strides, dilations: 1, pad: "valid", inputShape }) as Info);
    });
  };
}

// ------------------------------------------------------------------- cpu

/**
 * The filter gradient of a 2-D convolution (`Conv2DBackpropFilter`), written
 * with flat indices: d2l's kernel for cpu, and wasm's for NCHW. Sums are
 * accumulated in float64, like tfjs-backend-cpu's.
 */
function conv2dBackpropFilterLoops(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as BackendLike;
  const x = args.inputs.x as Info;
  const dy = args.inputs.dy as Info;
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  const format = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? "NHWC");
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, format);
  const xv = backend.readSync(x.dataId) as Float32Array;
  const dyv = backend.readSync(dy.dataId) as Float32Array;
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: Ci, outHeight: Ho, outWidth: Wo, outChannels: Co } = info;
  const { filterHeight: Kh, filterWidth: Kw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const last = info.dataFormat === "channelsLast";
  // Element strides of x and dy for (batch, row, column, channel).
  const [xB, xR, xC, xD] = last ? [H * W * Ci, W * Ci, Ci, 1] : [Ci * H * W, W, 1, H * W];
  const [yB, yR, yC, yD] = last ? [Ho * Wo * Co, Wo * Co, Co, 1] : [Co * Ho * Wo, Wo, 1, Ho * Wo];
  const acc = new Float64Array(Kh * Kw * Ci * Co);
  for (let b = 0; b < B; b++) {
    for (let r = 0; r < Ho; r++) {
      for (let c = 0; c < Wo; c++) {
        const dyAt = b * yB + r * yR + c * yC;
        for (let i = 0; i < Kh; i++) {
          const xr = r * sh + i - top;
          if (xr < 0 || xr >= H) continue;
          for (let j = 0; j < Kw; j++) {
            const xc = c * sw + j - left;
            if (xc < 0 || xc >= W) continue;
            const xAt = b * xB + xr * xR + xc * xC;
            const wAt = (i * Kw + j) * Ci * Co;
            for (let d1 = 0; d1 < Ci; d1++) {
              const v = xv[xAt + d1 * xD];
              if (v === 0) continue;
              const row = wAt + d1 * Co;
              for (let d2 = 0; d2 < Co; d2++) acc[row + d2] += v * dyv[dyAt + d2 * yD];
            }
          }
        }
      }
    }
  }
  const shape = [Kh, Kw, Ci, Co];
  return { dataId: backend.write(Float32Array.from(acc), shape, "float32"), shape, dtype: "float32" } as unknown as tf.TensorInfo;
}

// -------------------------------------------------------------- register

/** Register the kernel `make` returns as `kernelName` on `backendName`, in place of what is there (which `make` gets). */
function replace(kernelName: string, backendName: string, make: (previous: tf.KernelConfig | undefined) => Kernel): void {
  const current = tf.getKernel(kernelName, backendName) as (tf.KernelConfig & { d2l?: boolean }) | undefined;
  if (current?.d2l) return;
  if (current) tf.unregisterKernel(kernelName, backendName);
  const config = {
    kernelName,
    backendName,
    kernelFunc: make(current) as unknown as tf.KernelFunc,
    // tfjs's setup (its cwrap of the C++ function) still runs if the backend starts again.
    setupFunc: current?.setupFunc,
    d2l: true,
  };
  tf.registerKernel(config);
}

/**
 * Use d2l's convolution gradient kernels on `backendName`: on cpu the filter
 * gradient (`Conv2DBackpropFilter`); on wasm the filter and input gradients of
 * `conv2d` and `depthwiseConv2d`, and `avgPool`'s gradient (see {@link D2L_CONV_GRAD_KERNELS}). Other
 * backends are left as they are. Calling it again changes nothing.
 */
export function useConvGradKernels(backendName: string): void {
  if (backendName === "cpu") {
    replace("Conv2DBackpropFilter", "cpu", () => conv2dBackpropFilterLoops);
  } else if (backendName === "wasm") {
    replace("Conv2DBackpropFilter", "wasm", () => conv2dBackpropFilterWasm);
    replace("Conv2DBackpropInput", "wasm", (previous) => conv2dBackpropInputWasm(previous?.kernelFunc as unknown as Kernel | undefined));
    replace("DepthwiseConv2dNativeBackpropFilter", "wasm", () => depthwiseBackpropFilterWasm);
    replace("DepthwiseConv2dNativeBackpropInput", "wasm", () => depthwiseBackpropInputWasm);
    replace("AvgPoolGrad", "wasm", (previous) => avgPoolGradWasm(previous?.kernelFunc as unknown as Kernel | undefined));
  }
}
