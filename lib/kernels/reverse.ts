/**
 * `Reverse` for the wasm backend, d2l's. The input gradient of a convolution
 * (convGrads.ts) flips the filter in space, and tfjs-backend-wasm 4.22's
 * Reverse computes every element's source index in C++, about 10 times
 * slower than a multiply of the same size: 300 ms and more for ResNet's
 * [3, 3, 512, 512] filters, which was most of a small ResNet's training step.
 * This one copies contiguous runs in the wasm heap (flipping the leading
 * axes of a filter moves whole blocks of `in * out` values), and only where
 * the last axis itself is reversed does it go element by element.
 */
import * as tf from "@tensorflow/tfjs";
import { type HeapArray, type Info, type Kernel, type WasmBackendLike, replaceWasmKernel } from "./shared";

/**
 * The same reversal on fewer axes: axes of size 1 go, and neighbouring axes
 * that are both reversed or both kept merge into one (reversing `[a, b]` on
 * both axes reverses the `a * b` flat positions).
 */
export function simplifyReverse(shape: readonly number[], axes: readonly number[]): { shape: number[]; reversed: boolean[] } {
  const s: number[] = [];
  const r: boolean[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const rev = axes.includes(i);
    if (r.length > 0 && r[r.length - 1] === rev) s[s.length - 1] *= d;
    else {
      s.push(d);
      r.push(rev);
    }
  });
  return s.length ? { shape: s, reversed: r } : { shape: [1], reversed: [false] };
}

/** Write `src` (of `shape`) reversed along the `reversed` axes into `dst`. */
function reverseInto(src: HeapArray, shapeIn: readonly number[], axes: readonly number[], dst: HeapArray): void {
  const { shape, reversed } = simplifyReverse(shapeIn, axes);
  const k = shape.length;
  const stride = new Array<number>(k);
  for (let i = k - 1, a = 1; i >= 0; i--) {
    stride[i] = a;
    a *= shape[i];
  }
  const fill = (axis: number, from: number, to: number): void => {
    const d = shape[axis];
    if (axis === k - 1) {
      if (!reversed[axis]) dst.set(src.subarray(from, from + d), to);
      else for (let i = 0; i < d; i++) dst[to + i] = src[from + d - 1 - i];
      return;
    }
    const st = stride[axis];
    for (let i = 0; i < d; i++) fill(axis + 1, from + (reversed[axis] ? d - 1 - i : i) * st, to + i * st);
  };
  fill(0, 0, 0);
}

function reverseWasm(tfjs: Kernel): Kernel {
  return (args) => {
    const x = args.inputs.x as Info;
    const { dims } = (args.attrs ?? {}) as { dims?: number | number[] };
    if (x.dtype === "string" || x.dtype === "complex64" || x.shape.length === 0 || dims === undefined) return tfjs(args);
    const rank = x.shape.length;
    const axes = (Array.isArray(dims) ? dims : [dims]).map((a) => (a < 0 ? a + rank : a));
    if (axes.some((a) => !Number.isInteger(a) || a < 0 || a >= rank)) return tfjs(args); // tfjs says what is wrong
    const backend = args.backend as WasmBackendLike;
    const out = backend.makeOutput([...x.shape], x.dtype);
    if (x.shape.some((d) => d === 0)) return out as unknown as tf.TensorInfo;
    // Views made after the output is allocated: allocating may grow the heap, which detaches older views.
    reverseInto(backend.typedArrayFromHeap(x), x.shape, axes, backend.typedArrayFromHeap(out));
    return out as unknown as tf.TensorInfo;
  };
}

/** Register d2l's `Reverse` on wasm in place of tfjs's (kept for strings). Its config carries `d2l: true`. Calling it again changes nothing. */
export function useFastReverse(backendName: string): void {
  if (backendName === "wasm") replaceWasmKernel<Kernel>("Reverse", reverseWasm);
}
