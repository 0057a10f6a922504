/**
 * `Slice`, `Unpack`, `SplitV` and `GatherV2` for the wasm backend, d2l's.
 * tfjs-backend-wasm 4.22's slice reads its input with `readSync`, which
 * copies the whole input out of the wasm heap on every call: cutting a
 * `[T, n, h]` tensor into its T steps (`tf.unstack`, what every recurrent
 * net does with its inputs) copies it T times (0.2 s for `[100, 128, 32]`,
 * more than the rest of a GRU's training step). These read the input in
 * place, through a view of the heap, and copy only the rows they keep.
 * GatherV2 along axis 0 (an embedding lookup) copies whole rows instead of
 * tfjs's element by element (30 ms for 12,800 rows of 32 values).
 */
import * as tf from "@tensorflow/tfjs";
import { type HeapArray, type Info, type KernelArgs, type WasmBackendLike, replaceWasmKernel } from "./shared";

/** Unpack and SplitV have several outputs. */
type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/**
 * Copy the block `begin`/`size` of `src` (of `shape`) into `dst`, row-major.
 * Trailing axes taken whole merge into one contiguous run per copy.
 */
export function sliceInto(src: HeapArray, shape: readonly number[], begin: readonly number[], size: readonly number[], dst: HeapArray): void {
  const rank = shape.length;
  if (size.some((d) => d === 0)) return;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  // Axes after `inner` are taken whole: each copy is one contiguous run of `run` values.
  let inner = rank - 1;
  while (inner > 0 && size[inner] === shape[inner]) inner--;
  let run = size[inner];
  for (let i = inner + 1; i < rank; i++) run *= shape[i];
  if (inner === 0 && size[0] === shape[0]) {
    dst.set(src.subarray(0, run));
    return;
  }
  const strides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  let out = 0;
  const walk = (axis: number, offset: number): void => {
    if (axis === inner) {
      const from = offset + begin[axis] * strides[axis];
      dst.set(src.subarray(from, from + run), out);
      out += run;
      return;
    }
    for (let i = 0; i < size[axis]; i++) walk(axis + 1, offset + (begin[axis] + i) * strides[axis]);
  };
  walk(0, 0);
}

function numeric(x: Info): boolean {
  return x.dtype === "float32" || x.dtype === "int32" || x.dtype === "bool";
}

function sliceWasm(previous: Kernel): Kernel {
  return (args) => {
    const x = args.inputs.x as Info;
    if (!numeric(x)) return previous(args);
    const { begin, size } = args.attrs as { begin: number | number[]; size?: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, begin, size);
    const backend = args.backend as WasmBackendLike;
    const out = backend.makeOutput(s, x.dtype);
    // Views made after the output is allocated: allocating may grow the heap, which detaches older views.
    sliceInto(backend.typedArrayFromHeap(x), x.shape, b, s, backend.typedArrayFromHeap(out));
    return out as unknown as tf.TensorInfo;
  };
}

function unpackWasm(previous: Kernel): Kernel {
  return (args) => {
    const value = args.inputs.value as Info;
    if (!numeric(value)) return previous(args);
    const rank = value.shape.length;
    let axis = (args.attrs as { axis: number }).axis;
    if (axis < 0) axis += rank;
    const n = value.shape[axis];
    const outShape = value.shape.filter((_, i) => i !== axis);
    const size = value.shape.slice();
    size[axis] = 1;
    const backend = args.backend as WasmBackendLike;
    const outs = Array.from({ length: n }, () => backend.makeOutput(outShape, value.dtype));
    const src = backend.typedArrayFromHeap(value);
    const begin = new Array<number>(rank).fill(0);
    outs.forEach((o, i) => {
      begin[axis] = i;
      sliceInto(src, value.shape, begin, size, backend.typedArrayFromHeap(o));
    });
    return outs as unknown as tf.TensorInfo[];
  };
}

function splitVWasm(previous: Kernel): Kernel {
  return (args) => {
    const x = args.inputs.x as Info;
    if (!numeric(x)) return previous(args);
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    const a = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, a);
    const backend = args.backend as WasmBackendLike;
    const outs = sizes.map((s) => {
      const shape = x.shape.slice();
      shape[a] = s;
      return backend.makeOutput(shape, x.dtype);
    });
    const src = backend.typedArrayFromHeap(x);
    const begin = new Array<number>(x.shape.length).fill(0);
    outs.forEach((o) => {
      sliceInto(src, x.shape, begin, o.shape, backend.typedArrayFromHeap(o));
      begin[a] += o.shape[a];
    });
    return outs as unknown as tf.TensorInfo[];
  };
}

function gatherWasm(previous: Kernel): Kernel {
  return (args) => {
    const x = args.inputs.x as Info;
    const indices = args.inputs.indices as Info;
    const { axis, batchDims = 0 } = args.attrs as { axis: number; batchDims?: number };
    if (!numeric(x) || x.shape.length === 0 || indices.dtype !== "int32" || batchDims !== 0 || tf.util.parseAxisParam(axis, x.shape)[0] !== 0) return previous(args);
    const backend = args.backend as WasmBackendLike;
    const rows = x.shape[0];
    const row = x.shape.slice(1).reduce((a, b) => a * b, 1);
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    const src = backend.typedArrayFromHeap(x);
    const ids = backend.typedArrayFromHeap(indices);
    const dst = backend.typedArrayFromHeap(out);
    for (let i = 0; i < ids.length; i++) {
      const r = ids[i];
      if (!(r >= 0 && r < rows)) throw new Error(`GatherV2: the index value ${r} is not in [0, ${rows - 1}]`);
      if (row === 1) dst[i] = src[r];
      else dst.set(src.subarray(r * row, (r + 1) * row), i * row);
    }
    return out as unknown as tf.TensorInfo;
  };
}

const KERNELS: Record<string, (previous: Kernel) => Kernel> = { Slice: sliceWasm, Unpack: unpackWasm, SplitV: splitVWasm, GatherV2: gatherWasm };

/**
 * Register d2l's `Slice`, `Unpack`, `SplitV` and `GatherV2` on wasm in place
 * of tfjs's (kept for strings, and for gathers along other axes). Their configs carry `d2l: true`.
 * Calling it again changes nothing.
 */
export function useFastSlice(backendName: string): void {
  if (backendName !== "wasm") return;
  for (const [name, make] of Object.entries(KERNELS)) replaceWasmKernel<Kernel>(name, make);
}
