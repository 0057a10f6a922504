/**
 * The native backend's own kernels: matrix products and 2-D convolutions run
 * by oneDNN (lib/native/src/addon.cc) on the float32 data in the wasm
 * backend's heap, in place (small and matrix-vector products by OpenBLAS
 * where it is installed, src/blas.cc: `D2L_NATIVE_BLAS`); the gradients of 2-D pooling (the addon's own
 * loops, in parallel over images: wasm's took 10 to 20 ms of a LeNet step);
 * and, on large tensors, sigmoid, tanh, sums and means over leading or
 * trailing axes (bias gradients, batch norm), which wasm computes on one
 * thread, and tile (wasm's took 136 ms per batch-norm gradient of a 64-channel
 * layer on 32 images of 28x28). The small ops of a training step are d2l's
 * too (issue 21, per-op overhead): Identity and same-dtype Cast share the
 * input's data instead of copying it; Exp and Log run oneDNN's vectorized
 * eltwise on one thread; Add, Sub, Multiply and RealDiv with row, column or
 * scalar broadcasts, and Max, Sum and Mean over leading or trailing axes, are
 * one loop each in src/fused.cc. Everything else, and the cases these do not
 * cover (int32 matrix products, an unusual bias shape), runs on the wasm
 * backend's kernels, registered for `native` too.
 */
import * as tf from "@tensorflow/tfjs";
import type { NativeAddon } from "./addon";

/** The addon functions of src/fused.cc (see there for the argument layouts). */
export interface FusedAddon extends NativeAddon {
  /** y = exp(x) (alg 0) or log(x) (alg 1) over `n` floats, on one thread. */
  ewUnary(heap: ArrayBuffer, alg: 0 | 1, offsets: [number, number], n: number): void;
  /** y = a op b over an R x C output (op 0 add, 1 sub, 2 mul, 3 div); modes 0 [R, C], 1 [R, 1], 2 [1, C], 3 scalar. */
  ewBinary(heap: ArrayBuffer, op: 0 | 1 | 2 | 3, offsets: [number, number, number], params: [number, number, number, number]): void;
  /** Softmax cross-entropy rows [R, C]: kind 0 [q, logits, value, logResult], 1 [dy, q, logResult, dq, dlogits]. */
  softmaxXent(heap: ArrayBuffer, kind: 0 | 1, offsets: number[], params: [number, number]): void;
  /** x as [outer, inner]: op 0 sum (times scale), 1 max; kind 0 over outer, 1 over inner. On one thread. */
  reduce(heap: ArrayBuffer, op: 0 | 1, offsets: [number, number], params: [number, number, 0 | 1, number]): void;
}

/** Which library runs the native matrix products (src/blas.cc): what the addon's `blas()` returns. */
export interface NativeBlas {
  /** "auto" (OpenBLAS where it is faster, else oneDNN), "openblas" or "onednn" (`D2L_NATIVE_BLAS`). */
  mode: "auto" | "openblas" | "onednn";
  /** The OpenBLAS file that loaded; "" when none did. */
  library: string;
  /** OpenBLAS's build and threading ("OpenBLAS 0.3.21 DYNAMIC_ARCH ... (pthreads)"); "" when absent. */
  config: string;
  /** Why no OpenBLAS loaded, with what to install; "" when one did. */
  missing: string;
}

/** The addon's BLAS switch (src/addon.cc); an addon built before it has neither function. */
export interface BlasAddon extends NativeAddon {
  blas(): NativeBlas;
  setBlas(mode: NativeBlas["mode"]): NativeBlas;
}

/**
 * Which library runs the native backend's matrix products (MatMul, BatchMatMul, _FusedMatMul),
 * in words, for `d2l.backendInfo().blas`: OpenBLAS (loaded at run time where installed:
 * Debian's libopenblas0-pthread) for small and matrix-vector products and oneDNN for the
 * rest by default; one of them alone with `D2L_NATIVE_BLAS=openblas` or `onednn`.
 *
 * @example
 * describeBlas(loadAddon()) // "OpenBLAS 0.3.21 ... (pthreads) for small and matrix-vector products, oneDNN 2.6.3 for the rest"
 */
export function describeBlas(addon: NativeAddon): string {
  const onednn = `oneDNN ${addon.info().onednn}`;
  const a = addon as Partial<BlasAddon>;
  if (typeof a.blas !== "function") return onednn;
  const b = a.blas();
  if (b.mode === "onednn") return `${onednn} (D2L_NATIVE_BLAS=onednn)`;
  if (!b.library) return `${onednn} (${b.missing})`;
  const openblas = b.config.startsWith("OpenBLAS") ? b.config : `OpenBLAS ${b.config}`;
  return b.mode === "openblas" ? `${openblas} (D2L_NATIVE_BLAS=openblas)` : `${openblas} for small and matrix-vector products, ${onednn} for the rest`;
}

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
export interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  readSync(dataId: object): tf.backend_util.BackendValues;
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
}

/**
 * Run the cpu backend's kernel `name` on copies of the inputs, and copy the
 * result back (int32 matrix products: wasm has none).
 */
function onCpu(name: string, args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const cpu = tf.findBackend("cpu") as unknown as (WasmBackendLike & { firstUse?: boolean }) | undefined;
  const kernel = tf.getKernel(name, "cpu");
  if (!cpu || !kernel) throw new Error(`${name} for int32 runs on the cpu backend, which did not start`);
  cpu.firstUse = false; // tfjs's "install tfjs-node" banner is not for this
  const made: object[] = [];
  try {
    const moved: Record<string, tf.TensorInfo> = {};
    for (const [k, t] of Object.entries(args.inputs)) {
      if (!t) continue;
      const dataId = cpu.write(backend.readSync(t.dataId), t.shape, t.dtype);
      made.push(dataId);
      moved[k] = { dataId, shape: t.shape, dtype: t.dtype } as tf.TensorInfo;
    }
    const out = kernel.kernelFunc({ inputs: moved, attrs: args.attrs, backend: cpu as unknown as tf.KernelBackend }) as tf.TensorInfo;
    made.push(out.dataId);
    return { dataId: backend.write(cpu.readSync(out.dataId), out.shape, out.dtype), shape: out.shape, dtype: out.dtype } as tf.TensorInfo;
  } finally {
    for (const id of made) cpu.disposeData(id, true);
  }
}

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
export type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];
type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;
type Activation = "linear" | "relu" | "prelu" | "elu" | "relu6" | "leakyrelu" | "sigmoid";

/** Activation codes of addon.cc; prelu is done after, by the wasm kernel. */
const ACTIVATION: Record<Exclude<Activation, "prelu">, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, leakyrelu: 4, sigmoid: 5 };

/** The names of the kernels this file provides. */
export const NATIVE_KERNELS = [
  "BatchMatMul",
  "_FusedMatMul",
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "AvgPoolGrad",
  "MaxPoolGrad",
  "Sigmoid",
  "Tanh",
  "Sum",
  "Mean",
  "Tile",
  "Identity",
  "Cast",
  "Exp",
  "Log",
  "Add",
  "Sub",
  "Multiply",
  "RealDiv",
  "Max",
  "D2lSoftmaxXent",
  "D2lSoftmaxXentGrad",
] as const;

/**
 * d2l's kernel (native only): `[value, logResult]` of softmax cross-entropy with soft targets
 * over the last axis, from inputs `q` (targets) and `logits` of one shape: `logResult = logits
 * - logsumexp(logits)`, `value = -Σ q·logResult`. lib/train/losses.ts runs it in place of ~12
 * small kernels.
 */
export const SOFTMAX_XENT = "D2lSoftmaxXent";
/** d2l's kernel: `[dq, dlogits]` of {@link SOFTMAX_XENT} from `dy`, `q` and `logResult`: `-dy·logResult` and `dy·(softmax·Σq − q)`. */
export const SOFTMAX_XENT_GRAD = "D2lSoftmaxXentGrad";

/**
 * Sums and means of fewer elements than this run on the calling thread (src/fused.cc); larger
 * ones on all of oneDNN's threads. A 2-thread sum of a 256x256 bias gradient took 58 us in a
 * step on a busy machine, about 10 us on one thread.
 */
export const NATIVE_PARALLEL_ELEMENTS = 1 << 18;

/**
 * How an elementwise op of inputs shaped `a` and `b` runs as one R x C loop: each input full
 * (mode 0), one per row (1: [R, 1]), one per column (2: [1, C]) or one number (3). Null when
 * the broadcast is none of these (wasm's kernel does it).
 */
export function binaryPlan(a: readonly number[], b: readonly number[], out: readonly number[]): [number, number, number, number] | null {
  const r = out.length;
  // d(s, i): s's length along out's axis i, with s padded by leading 1s.
  const d = (s: readonly number[], i: number) => (i < r - s.length ? 1 : s[i - (r - s.length)]);
  const mode = (s: readonly number[], k: number): number | null => {
    let n = 1;
    let full = true;
    let col = true; // equal to out before k, 1 from k on
    let row = true; // 1 before k, equal to out from k on
    for (let i = 0; i < r; i++) {
      const v = d(s, i);
      n *= v;
      if (v !== out[i]) full = false;
      if (i < k ? v !== out[i] : v !== 1) col = false;
      if (i < k ? v !== 1 : v !== out[i]) row = false;
    }
    return n === 1 ? 3 : full ? 0 : col ? 1 : row ? 2 : null;
  };
  let R = 1;
  for (let k = 0; k <= r; k++) {
    if (k > 0) R *= out[k - 1];
    const ma = mode(a, k);
    const mb = ma === null ? null : mode(b, k);
    if (ma !== null && mb !== null) {
      const n = out.reduce((x, y) => x * y, 1);
      return [R, R === 0 ? 0 : n / R, ma, mb];
    }
  }
  return null;
}

/**
 * Below this many elements, Sigmoid, Tanh, Sum, Mean and Tile stay on wasm's kernels: a
 * call into the addon and waking oneDNN's threads cost more than they save.
 */
export const NATIVE_MIN_ELEMENTS = 32768;

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The kernels, bound to the addon and to `base(name)`, which gives the wasm
 * kernel of that name (for the cases left to it).
 */
export function nativeKernels(addon: NativeAddon, base: (name: string) => Kernel): Record<(typeof NATIVE_KERNELS)[number], Kernel> {
  const offset = (b: WasmBackendLike, t: tf.TensorInfo, what: string): number => {
    const d = b.dataIdMap.get(t.dataId);
    if (!d) throw new Error(`native: the ${what} tensor is not on the native backend (was it disposed?)`);
    return d.memoryOffset;
  };
  // The heap is read after every allocation: growing wasm memory replaces the ArrayBuffer.
  const heap = (b: WasmBackendLike): ArrayBuffer => b.wasm.HEAPU8.buffer as ArrayBuffer;

  // src/fused.cc's functions; an addon built before them leaves those kernels to wasm.
  const fused = addon as FusedAddon;
  const hasFused = typeof fused.ewUnary === "function" && typeof fused.ewBinary === "function" && typeof fused.reduce === "function";

  // `shapes` is a function: the message is built only on failure (a template of shapes on
  // every call cost about a microsecond of each small kernel).
  const call = (what: string, shapes: () => string, f: () => void): void => {
    try {
      f();
    } catch (e) {
      throw new Error(`native ${what} (${shapes()}) failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  /** act(op(a)·op(b) + bias) into a new float32 output; null for int32 (or more than 12 dims). */
  function matmul(
    backend: WasmBackendLike,
    a: tf.TensorInfo,
    b: tf.TensorInfo,
    transposeA: boolean,
    transposeB: boolean,
    bias: tf.TensorInfo | null,
    act: number,
    alpha: number,
  ): tf.TensorInfo | null {
    if (a.dtype !== "float32" || b.dtype !== "float32" || (bias && bias.dtype !== "float32")) return null;
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (ra < 2 || rb < 2) throw new Error(`matMul needs tensors of rank 2 or more; got shapes [${a.shape}] and [${b.shape}]`);
    const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const Ka = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (Ka !== Kb) {
      throw new Error(`matMul: inner dimensions ${Ka} and ${Kb} of shapes [${a.shape}] and [${b.shape}] (transposeA=${transposeA}, transposeB=${transposeB}) must match`);
    }
    const batch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const outShape = [...batch, M, N];
    const r = outShape.length;
    if (r > 12 || (bias && bias.shape.length > r)) return null;
    const pad = (s: number[]): number[] => [...new Array<number>(r - s.length).fill(1), ...s];
    const biasShape = bias ? pad(bias.shape) : [];
    if (bias && biasShape.some((d, i) => d !== 1 && d !== outShape[i])) {
      throw new Error(`fused matMul: bias of shape [${bias.shape}] does not broadcast to the output shape [${outShape}]`);
    }
    const out = backend.makeOutput(outShape, "float32");
    if (size(outShape) === 0) return out;
    try {
      call(
        "matMul",
        () => `[${a.shape}]·[${b.shape}]`,
        () =>
          addon.matmul(
            heap(backend),
            [offset(backend, a, "a"), offset(backend, b, "b"), offset(backend, out, "output"), bias ? offset(backend, bias, "bias") : -1],
            [r, ...pad(a.shape), ...pad(b.shape), ...outShape, ...biasShape],
            [transposeA ? 1 : 0, transposeB ? 1 : 0, act, alpha],
          ),
      );
    } catch (e) {
      backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  }

  /** Apply prelu (the wasm kernel) to `x`, which is disposed. */
  function prelu(backend: WasmBackendLike, x: tf.TensorInfo, alpha: tf.TensorInfo): tf.TensorInfo {
    try {
      return base("Prelu")({ inputs: { x, alpha }, backend }) as tf.TensorInfo;
    } finally {
      backend.disposeData(x.dataId);
    }
  }

  function activationCode(name: string | undefined): number {
    const a = (name ?? "linear") as Activation;
    if (a === "prelu") return 0;
    const code = ACTIVATION[a];
    if (code === undefined) throw new Error(`unknown fused activation ${JSON.stringify(name)}; expected one of linear, relu, relu6, elu, leakyrelu, sigmoid, prelu`);
    return code;
  }

  const BatchMatMul: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    return (
      matmul(backend, a, b, Boolean(attrs.transposeA), Boolean(attrs.transposeB), null, 0, 0) ?? (a.dtype === "float32" ? base("BatchMatMul")(args) : onCpu("BatchMatMul", args))
    );
  };

  const FusedMatMul: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { a, b, bias, preluActivationWeights } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean; activation?: string; leakyreluAlpha?: number };
    const act = activationCode(attrs.activation);
    const out = matmul(backend, a, b, Boolean(attrs.transposeA), Boolean(attrs.transposeB), bias ?? null, act, attrs.leakyreluAlpha ?? 0.2);
    if (!out) return a.dtype === "float32" ? base("_FusedMatMul")(args) : onCpu("_FusedMatMul", args);
    if (attrs.activation === "prelu") {
      if (!preluActivationWeights) throw new Error("fused matMul with prelu activation needs preluActivationWeights");
      return prelu(backend, out, preluActivationWeights);
    }
    return out;
  };

  interface ConvAttrs {
    strides: number | [number, number];
    pad: Pad;
    dataFormat?: "NHWC" | "NCHW";
    dilations?: number | [number, number];
    dimRoundingMode?: "floor" | "round" | "ceil";
  }

  /** The addon's 20 conv parameters for `info`. */
  function convParams(info: tf.backend_util.Conv2DInfo, act: number, alpha: number): number[] {
    const p = info.padInfo;
    return [
      info.batchSize,
      info.inChannels,
      info.inHeight,
      info.inWidth,
      info.outChannels,
      info.filterHeight,
      info.filterWidth,
      info.outHeight,
      info.outWidth,
      info.strideHeight,
      info.strideWidth,
      info.dilationHeight,
      info.dilationWidth,
      p.top,
      p.left,
      p.bottom,
      p.right,
      info.dataFormat === "channelsFirst" ? 1 : 0,
      act,
      alpha,
    ];
  }

  function convInfo(xShape: number[], filterShape: number[], attrs: ConvAttrs, dilations: number | [number, number]): tf.backend_util.Conv2DInfo {
    return tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      attrs.strides,
      dilations,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? "NHWC"),
    );
  }

  function convForward(backend: WasmBackendLike, x: tf.TensorInfo, filter: tf.TensorInfo, bias: tf.TensorInfo | null, attrs: ConvAttrs, act: number, alpha: number): tf.TensorInfo {
    const info = convInfo(x.shape, filter.shape, attrs, attrs.dilations ?? 1);
    const out = backend.makeOutput(info.outShape, "float32");
    if (size(info.outShape) === 0) return out;
    try {
      call(
        "conv2d",
        () => `x [${x.shape}], filter [${filter.shape}]`,
        () =>
          addon.conv2d(
            heap(backend),
            0,
            [offset(backend, x, "x"), offset(backend, filter, "filter"), offset(backend, out, "output"), bias ? offset(backend, bias, "bias") : -1],
            convParams(info, act, alpha),
          ),
      );
    } catch (e) {
      backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  }

  const Conv2D: Kernel = (args) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    if (size(x.shape) === 0 || size(filter.shape) === 0) return base("Conv2D")(args);
    return convForward(args.backend as WasmBackendLike, x, filter, null, args.attrs as unknown as ConvAttrs, 0, 0);
  };

  const FusedConv2D: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { x, filter, bias, preluActivationWeights } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { activation?: string; leakyreluAlpha?: number };
    const outChannels = filter.shape[3];
    // A bias per output channel: [O], or [1, ..., 1, O] in NHWC. Other shapes go to the wasm kernel.
    const channelBias =
      !bias || (size(bias.shape) === outChannels && (bias.shape.length === 1 || ((attrs.dataFormat ?? "NHWC") === "NHWC" && bias.shape[bias.shape.length - 1] === outChannels)));
    if (!channelBias || size(x.shape) === 0 || size(filter.shape) === 0) return base("FusedConv2D")(args);
    const out = convForward(backend, x, filter, bias ?? null, attrs, activationCode(attrs.activation), attrs.leakyreluAlpha ?? 0.2);
    if (attrs.activation === "prelu") {
      if (!preluActivationWeights) throw new Error("fused conv2d with prelu activation needs preluActivationWeights");
      return prelu(backend, out, preluActivationWeights);
    }
    return out;
  };

  const Conv2DBackpropInput: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
    const info = convInfo(attrs.inputShape, filter.shape, attrs, 1);
    const dx = backend.makeOutput([...attrs.inputShape], "float32");
    if (size(attrs.inputShape) === 0) return dx;
    if (size(dy.shape) === 0 || size(filter.shape) === 0) {
      new Float32Array(heap(backend), offset(backend, dx, "dx"), size(attrs.inputShape)).fill(0);
      return dx;
    }
    try {
      call(
        "conv2dBackpropInput",
        () => `dy [${dy.shape}], filter [${filter.shape}]`,
        () => addon.conv2d(heap(backend), 1, [offset(backend, dx, "dx"), offset(backend, filter, "filter"), offset(backend, dy, "dy"), -1], convParams(info, 0, 0)),
      );
    } catch (e) {
      backend.disposeData(dx.dataId);
      throw e;
    }
    return dx;
  };

  const Conv2DBackpropFilter: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
    const info = convInfo(x.shape, attrs.filterShape, attrs, 1);
    const dw = backend.makeOutput([...attrs.filterShape], "float32");
    if (size(attrs.filterShape) === 0) return dw;
    if (size(dy.shape) === 0 || size(x.shape) === 0) {
      new Float32Array(heap(backend), offset(backend, dw, "dw"), size(attrs.filterShape)).fill(0);
      return dw;
    }
    try {
      call(
        "conv2dBackpropFilter",
        () => `x [${x.shape}], dy [${dy.shape}]`,
        () => addon.conv2d(heap(backend), 2, [offset(backend, x, "x"), offset(backend, dw, "dw"), offset(backend, dy, "dy"), -1], convParams(info, 0, 0)),
      );
    } catch (e) {
      backend.disposeData(dw.dataId);
      throw e;
    }
    return dw;
  };

  /** AvgPoolGrad (kind 0) and MaxPoolGrad (kind 1), with tfjs's cpu kernels' window arithmetic. */
  const poolGrad =
    (kind: 0 | 1, name: string): Kernel =>
    (args) => {
      const backend = args.backend as WasmBackendLike;
      const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
      const attrs = args.attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: "floor" | "round" | "ceil" };
      // cpu's AvgPoolGrad sizes the windows without the rounding mode; MaxPoolGrad with it.
      const info = tf.backend_util.computePool2DInfo(
        input.shape as [number, number, number, number],
        attrs.filterSize,
        attrs.strides,
        1,
        attrs.pad,
        kind === 1 ? attrs.dimRoundingMode : undefined,
      );
      if (input.dtype !== "float32" || dy.dtype !== "float32" || size(dy.shape) !== size(info.outShape) || input.shape.length !== 4) return base(name)(args);
      const dx = backend.makeOutput([...input.shape], "float32");
      if (size(input.shape) === 0) return dx;
      try {
        call(
          name,
          () => `x [${input.shape}], dy [${dy.shape}]`,
          () =>
            addon.poolGrad(
              heap(backend),
              kind,
              [offset(backend, dy, "dy"), offset(backend, input, "input"), offset(backend, dx, "dx")],
              [
                info.batchSize,
                info.inHeight,
                info.inWidth,
                info.inChannels,
                info.outHeight,
                info.outWidth,
                info.filterHeight,
                info.filterWidth,
                info.strideHeight,
                info.strideWidth,
                info.padInfo.top,
                info.padInfo.left,
              ],
            ),
        );
      } catch (e) {
        backend.disposeData(dx.dataId);
        throw e;
      }
      return dx;
    };

  const unary =
    (alg: 0 | 1, name: string): Kernel =>
    (args) => {
      const backend = args.backend as WasmBackendLike;
      const { x } = args.inputs as { x: tf.TensorInfo };
      const n = size(x.shape);
      if (x.dtype !== "float32" || n < NATIVE_MIN_ELEMENTS) return base(name)(args);
      const y = backend.makeOutput([...x.shape], "float32");
      call(
        name,
        () => `[${x.shape}]`,
        () => addon.unary(heap(backend), alg, [offset(backend, x, "x"), offset(backend, y, "output")], n),
      );
      return y;
    };

  /**
   * x's reduction over `axes` as [outer, inner, leading?], or null unless the axes are one leading or one
   * trailing block; `batch` > 1 where they are one middle block (x as [batch, outer, inner], summed over
   * outer: a global average pool's H and W of NHWC).
   */
  function reducePlan(shape: number[], axes: number[]): { outer: number; inner: number; leading: boolean; batch: number; outShape: number[] } | null {
    const reduced = new Set(axes);
    // Axes of length 1 count as either; the others must be one leading, one trailing or one middle block.
    const pattern = shape.map((d, i) => (d === 1 ? "" : reduced.has(i) ? "r" : "k")).join("");
    const leading = /^r+k*$/.test(pattern);
    const trailing = /^k*r+$/.test(pattern);
    const middle = /^k+r+k+$/.test(pattern);
    if (!leading && !trailing && !middle) return null;
    const [outShape] = tf.backend_util.computeOutAndReduceShapes(shape, axes);
    const n = size(shape);
    const kept = size(outShape);
    if (middle) {
      const last = Math.max(...axes.filter((a) => shape[a] !== 1));
      const inner = size(shape.slice(last + 1));
      return { outer: n / kept, inner, leading: true, batch: kept / inner, outShape };
    }
    return leading ? { outer: n / kept, inner: kept, leading, batch: 1, outShape } : { outer: kept, inner: n / kept, leading, batch: 1, outShape };
  }

  /**
   * Sum, mean or max over leading axes (one per trailing element) or trailing axes, and sums and
   * means over middle axes from NATIVE_MIN_ELEMENTS (a global average pool over NHWC's H and W:
   * [32, 28, 28, 64] took 4.8 ms on wasm, which transposes first); other cases, int32 and empty
   * tensors go to wasm. Large sums run on all threads (sumRows).
   */
  const reduce =
    (name: "Sum" | "Mean" | "Max"): Kernel =>
    (args) => {
      const backend = args.backend as WasmBackendLike;
      const { x } = args.inputs as { x: tf.TensorInfo };
      const attrs = (args.attrs ?? {}) as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims?: boolean };
      const n = size(x.shape);
      if (x.dtype !== "float32" || n === 0 || (!hasFused && (name === "Max" || n < NATIVE_MIN_ELEMENTS))) return base(name)(args);
      const axes = tf.util.parseAxisParam((name === "Max" ? attrs.reductionIndices : attrs.axis) ?? x.shape.map((_, i) => i), x.shape);
      const plan = reducePlan(x.shape, axes);
      // Middle blocks: sums and means from NATIVE_MIN_ELEMENTS, in the addon (wasm transposes first); max on wasm.
      if (!plan || (plan.batch > 1 && (name === "Max" || n < NATIVE_MIN_ELEMENTS))) return base(name)(args);
      const kept = size(plan.outShape);
      const shape = attrs.keepDims ? tf.backend_util.expandShapeToKeepDim(plan.outShape, axes) : plan.outShape;
      const y = backend.makeOutput(shape, "float32");
      const scale = name === "Mean" ? kept / n : 1;
      const offsets: [number, number] = [offset(backend, x, "x"), offset(backend, y, "output")];
      if (plan.batch > 1) {
        call(
          name,
          () => `[${x.shape}] over ${axes}`,
          () => addon.sumRows(heap(backend), 2, offsets, [plan.outer, plan.inner, scale, plan.batch]),
        );
      } else if (name !== "Max" && (n >= NATIVE_PARALLEL_ELEMENTS || !hasFused)) {
        call(
          name,
          () => `[${x.shape}] over ${axes}`,
          () => addon.sumRows(heap(backend), plan.leading ? 0 : 1, offsets, [plan.outer, plan.inner, scale]),
        );
      } else {
        call(
          name,
          () => `[${x.shape}] over ${axes}`,
          () => fused.reduce(heap(backend), name === "Max" ? 1 : 0, offsets, [plan.outer, plan.inner, plan.leading ? 0 : 1, scale]),
        );
      }
      return y;
    };

  /** Exp (alg 0) and Log (alg 1) of float32 tensors: oneDNN's vectorized eltwise on one thread; wasm's is scalar. */
  const expLog =
    (alg: 0 | 1, name: "Exp" | "Log"): Kernel =>
    (args) => {
      const backend = args.backend as WasmBackendLike;
      const { x } = args.inputs as { x: tf.TensorInfo };
      const n = size(x.shape);
      if (x.dtype !== "float32" || n === 0 || !hasFused) return base(name)(args);
      const y = backend.makeOutput([...x.shape], "float32");
      call(
        name,
        () => `[${x.shape}]`,
        () => fused.ewUnary(heap(backend), alg, [offset(backend, x, "x"), offset(backend, y, "output")], n),
      );
      return y;
    };

  /** Add, Sub, Multiply, RealDiv of float32 tensors as one loop, where the broadcast is by rows, columns or a scalar. */
  const binary =
    (op: 0 | 1 | 2 | 3, name: "Add" | "Sub" | "Multiply" | "RealDiv"): Kernel =>
    (args) => {
      const backend = args.backend as WasmBackendLike;
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      if (a.dtype !== "float32" || b.dtype !== "float32" || !hasFused) return base(name)(args);
      const sameShape = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
      const outShape = sameShape ? a.shape : tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const n = size(outShape);
      const plan: [number, number, number, number] | null = n === 0 ? null : sameShape ? [1, n, 0, 0] : binaryPlan(a.shape, b.shape, outShape);
      if (!plan) return base(name)(args);
      const y = backend.makeOutput([...outShape], "float32");
      call(
        name,
        () => `[${a.shape}] and [${b.shape}]`,
        () => fused.ewBinary(heap(backend), op, [offset(backend, a, "a"), offset(backend, b, "b"), offset(backend, y, "output")], plan),
      );
      return y;
    };

  const Tile: Kernel = (args) => {
    const backend = args.backend as WasmBackendLike;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const reps = ((args.attrs ?? {}) as { reps: number[] }).reps;
    const outShape = x.shape.map((d, i) => d * reps[i]);
    if ((x.dtype !== "float32" && x.dtype !== "int32") || reps.length !== x.shape.length || size(outShape) < NATIVE_MIN_ELEMENTS || size(x.shape) === 0) return base("Tile")(args);
    const y = backend.makeOutput(outShape, x.dtype);
    call(
      "tile",
      () => `[${x.shape}] by [${reps}]`,
      () => addon.tile(heap(backend), [offset(backend, x, "x"), offset(backend, y, "output")], [x.shape.length, ...x.shape, ...reps]),
    );
    return y;
  };

  /**
   * Identity, and Cast to the dtype a tensor already has: the output shares the input's
   * data (one more reference), as on the cpu backend; wasm's kernels copy it. tfjs clones
   * every input of a custom gradient and every tensor saved for the backward pass this way
   * (a dense layer's input twice per step: 40 us each for a 256x784 batch). Cast of
   * numbers to bool is d2l's too: nonzero is true, as on cpu.
   */
  const share =
    (name: "Identity" | "Cast"): Kernel =>
    (args) => {
      const backend = args.backend as WasmBackendLike;
      const { x } = args.inputs as { x: tf.TensorInfo };
      const dtype = name === "Cast" ? ((args.attrs ?? {}) as { dtype?: tf.DataType }).dtype : x.dtype;
      if (name === "Cast" && dtype === "bool" && (x.dtype === "float32" || x.dtype === "int32")) {
        // wasm's kernel copies with a typed-array set, which turns -2.7 into 254 and 0.5 into 0.
        const y = backend.makeOutput([...x.shape], "bool");
        const n = size(x.shape);
        const from = x.dtype === "float32" ? new Float32Array(heap(backend), offset(backend, x, "x"), n) : new Int32Array(heap(backend), offset(backend, x, "x"), n);
        const to = new Uint8Array(heap(backend), offset(backend, y, "output"), n);
        for (let i = 0; i < n; i++) to[i] = from[i] !== 0 ? 1 : 0;
        return y;
      }
      if (x.dtype === "string" || dtype !== x.dtype || !backend.dataIdMap.get(x.dataId)) return base(name)(args);
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    };

  /** {@link SOFTMAX_XENT} (kind 0) and {@link SOFTMAX_XENT_GRAD} (kind 1). */
  const softmaxXent =
    (kind: 0 | 1): Kernel =>
    (args) => {
      const backend = args.backend as WasmBackendLike;
      const name = kind === 0 ? SOFTMAX_XENT : SOFTMAX_XENT_GRAD;
      const ins = args.inputs as Record<string, tf.TensorInfo | undefined>;
      const names = kind === 0 ? ["q", "logits"] : ["dy", "q", "lr"];
      const t = names.map((k) => ins[k]);
      const [q, ref] = kind === 0 ? [t[0], t[1]] : [t[1], t[2]];
      if (!hasFused) throw new Error(`${name}: the native addon was built without src/fused.cc; run npm run build:native`);
      if (t.some((x) => !x || x.dtype !== "float32")) throw new Error(`${name} takes float32 tensors ${names.join(", ")}`);
      const shape = ref!.shape;
      const C = shape[shape.length - 1];
      const n = size(shape);
      if (shape.length < 1 || n === 0 || q!.shape.join() !== shape.join()) {
        throw new Error(`${name}: expected targets and logits of one non-empty shape [..., C]; got [${q!.shape}] and [${shape}]`);
      }
      const R = n / C;
      if (kind === 1 && size(t[0]!.shape) !== R) throw new Error(`${name}: dy must hold one value per row (${R}); got [${t[0]!.shape}]`);
      const outs =
        kind === 0
          ? [backend.makeOutput(shape.slice(0, -1), "float32"), backend.makeOutput([...shape], "float32")]
          : [backend.makeOutput([...shape], "float32"), backend.makeOutput([...shape], "float32")];
      const offsets = [...t.map((x, i) => offset(backend, x!, names[i])), ...outs.map((o) => offset(backend, o, "output"))];
      call(
        name,
        () => `[${shape}]`,
        () => fused.softmaxXent(heap(backend), kind, offsets, [R, C]),
      );
      return outs;
    };

  return {
    [SOFTMAX_XENT]: softmaxXent(0),
    [SOFTMAX_XENT_GRAD]: softmaxXent(1),
    Identity: share("Identity"),
    Cast: share("Cast"),
    Sigmoid: unary(0, "Sigmoid"),
    Tanh: unary(1, "Tanh"),
    Sum: reduce("Sum"),
    Mean: reduce("Mean"),
    Max: reduce("Max"),
    Exp: expLog(0, "Exp"),
    Log: expLog(1, "Log"),
    Add: binary(0, "Add"),
    Sub: binary(1, "Sub"),
    Multiply: binary(2, "Multiply"),
    RealDiv: binary(3, "RealDiv"),
    Tile,
    BatchMatMul,
    _FusedMatMul: FusedMatMul,
    Conv2D,
    FusedConv2D,
    Conv2DBackpropInput,
    Conv2DBackpropFilter,
    AvgPoolGrad: poolGrad(0, "AvgPoolGrad"),
    MaxPoolGrad: poolGrad(1, "MaxPoolGrad"),
  };
}
