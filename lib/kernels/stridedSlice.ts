/**
 * `StridedSlice` for the wasm backend, d2l's, for slices that step by more
 * than one (or backwards) on some axis. The input gradient of a strided
 * convolution (convGrads.ts) takes its sub-filters with such slices (rows
 * 0, 2, ... of a 3x3 filter for stride 2), and tfjs-backend-wasm 4.22 computes
 * every element's source index in C++: 850 ms for one of ResNet's
 * [3, 3, 256, 512] filters, most of a small ResNet's training step. This one
 * copies contiguous runs in the wasm heap (each tap of a filter is a block of
 * `in * out` values), element by element only where the last axis steps.
 * Identity and plain slices go to tfjs' kernel, which handles them fast.
 */
import * as tf from "@tensorflow/tfjs";
import { type HeapArray, type Info, type Kernel, type WasmBackendLike, replaceWasmKernel } from "./shared";

interface StridedSliceAttrs {
  begin: number[];
  end: number[];
  strides: number[];
  beginMask: number;
  endMask: number;
  ellipsisMask: number;
  newAxisMask: number;
  shrinkAxisMask: number;
}

/**
 * Write `src` (of `shape`) sliced into `dst`: element `i` of output axis `a`
 * is element `begin[a] + i * strides[a]` of input axis `a`; the output has
 * `outShape` (one entry per input axis).
 */
function sliceInto(src: HeapArray, shape: readonly number[], begin: readonly number[], strides: readonly number[], outShape: readonly number[], dst: HeapArray): void {
  const k = shape.length;
  const inStride = new Array<number>(k);
  const outStride = new Array<number>(k);
  for (let i = k - 1, a = 1, b = 1; i >= 0; i--) {
    inStride[i] = a;
    outStride[i] = b;
    a *= shape[i];
    b *= outShape[i];
  }
  const fill = (axis: number, from: number, to: number): void => {
    const n = outShape[axis];
    const step = strides[axis] * inStride[axis];
    const start = from + begin[axis] * inStride[axis];
    if (axis === k - 1) {
      if (strides[axis] === 1) dst.set(src.subarray(start, start + n), to);
      else for (let i = 0; i < n; i++) dst[to + i] = src[start + i * step];
      return;
    }
    for (let i = 0; i < n; i++) fill(axis + 1, start + i * step, to + i * outStride[axis]);
  };
  fill(0, 0, 0);
}

function stridedSliceWasm(tfjs: Kernel): Kernel {
  return (args) => {
    const x = args.inputs.x as Info;
    const a = (args.attrs ?? {}) as unknown as StridedSliceAttrs;
    if (x.dtype === "string" || x.dtype === "complex64" || x.shape.length === 0 || !Array.isArray(a.begin) || !Array.isArray(a.end) || !Array.isArray(a.strides)) return tfjs(args);
    let info: tf.slice_util.SliceInfo;
    try {
      info = tf.slice_util.sliceInfo(x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask);
    } catch {
      return tfjs(args); // tfjs says what is wrong
    }
    const { finalShapeSparse, finalShape, begin, strides } = info;
    // tfjs copies identity and plain slices fast already; anything unusual is tfjs' too
    if (info.isIdentity || info.sliceDim0 || info.isSimpleSlice || finalShapeSparse.length !== x.shape.length || strides.some((s) => s === 0)) return tfjs(args);
    const backend = args.backend as WasmBackendLike;
    const out = backend.makeOutput(finalShape, x.dtype);
    if (finalShapeSparse.some((d) => d === 0)) return out as unknown as tf.TensorInfo;
    // Views made after the output is allocated: allocating may grow the heap, which detaches older views.
    sliceInto(backend.typedArrayFromHeap(x), x.shape, begin, strides, finalShapeSparse, backend.typedArrayFromHeap(out));
    return out as unknown as tf.TensorInfo;
  };
}

/** Register d2l's `StridedSlice` on wasm in place of tfjs's (kept for plain slices and strings). Its config carries `d2l: true`. Calling it again changes nothing. */
export function useFastStridedSlice(backendName: string): void {
  if (backendName === "wasm") replaceWasmKernel<Kernel>("StridedSlice", stridedSliceWasm);
}
