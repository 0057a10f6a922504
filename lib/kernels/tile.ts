/**
 * `Tile` for the wasm backend, d2l's. The gradient of batch normalization
 * tiles a [1, 1, 1, C] tensor to the activations' shape, and
 * tfjs-backend-wasm 4.22's Tile computes every element's source index in
 * C++, about 25 times slower than a multiply of the same size (170 ms for
 * [32, 28, 28, 64]: most of a ResNet block's training step). This one copies
 * whole blocks in the wasm heap, as tfjs-backend-wasm's own Concat and Slice
 * do: each input row once, then each finished block doubled in place
 * (`copyWithin`) until it fills its repeats.
 */
import * as tf from "@tensorflow/tfjs";
import { type HeapArray, type Info, type Kernel, type WasmBackendLike, replaceWasmKernel } from "./shared";

/**
 * The same tiling on fewer axes: axes of size 1 repeated once go, and an axis
 * repeated once merges into the one before it (longer contiguous runs).
 */
function simplify(shape: readonly number[], reps: readonly number[]): { shape: number[]; reps: number[] } {
  const s: number[] = [];
  const r: number[] = [];
  shape.forEach((d, i) => {
    if (d === 1 && reps[i] === 1) return;
    if (reps[i] === 1 && s.length > 0) s[s.length - 1] *= d;
    else {
      s.push(d);
      r.push(reps[i]);
    }
  });
  return s.length ? { shape: s, reps: r } : { shape: [1], reps: [1] };
}

/** Write `src` (of `shape`) tiled `reps` times along each axis into `dst`. */
function tileInto(src: HeapArray, shapeIn: readonly number[], repsIn: readonly number[], dst: HeapArray): void {
  const { shape, reps } = simplify(shapeIn, repsIn);
  const k = shape.length;
  const inStride = new Array<number>(k); // elements of src per index of axis i
  const outStride = new Array<number>(k); // elements of dst per index of axis i
  for (let i = k - 1, a = 1, b = 1; i >= 0; i--) {
    inStride[i] = a;
    outStride[i] = b;
    a *= shape[i];
    b *= shape[i] * reps[i];
  }
  const copy = (from: number, to: number, n: number): void => dst.set(src.subarray(from, from + n), to);
  const repeat = (at: number, block: number, times: number): void => {
    const total = block * times;
    for (let done = block; done < total;) {
      const n = Math.min(done, total - done);
      dst.copyWithin(at + done, at, at + n);
      done += n;
    }
  };
  const fill = (axis: number, from: number, to: number): void => {
    const d = shape[axis];
    if (axis === k - 1) copy(from, to, d);
    else for (let i = 0; i < d; i++) fill(axis + 1, from + i * inStride[axis], to + i * outStride[axis]);
    repeat(to, d * outStride[axis], reps[axis]);
  };
  fill(0, 0, 0);
}

function tileWasm(tfjs: Kernel): Kernel {
  return (args) => {
    const x = args.inputs.x as Info;
    const { reps } = (args.attrs ?? {}) as { reps?: number[] };
    if (x.dtype === "string" || x.dtype === "complex64" || !reps || reps.length !== x.shape.length) return tfjs(args);
    const backend = args.backend as WasmBackendLike;
    const outShape = x.shape.map((d, i) => d * reps[i]);
    const out = backend.makeOutput(outShape, x.dtype);
    if (outShape.some((d) => d === 0)) return out as unknown as tf.TensorInfo;
    // Views made after the output is allocated: allocating may grow the heap, which detaches older views.
    tileInto(backend.typedArrayFromHeap(x), x.shape, reps, backend.typedArrayFromHeap(out));
    return out as unknown as tf.TensorInfo;
  };
}

/** Register d2l's `Tile` on wasm in place of tfjs's (kept for strings). Its config carries `d2l: true`. Calling it again changes nothing. */
export function useFastTile(backendName: string): void {
  if (backendName === "wasm") replaceWasmKernel<Kernel>("Tile", tileWasm);
}
