/**
 * `UnsortedSegmentSum` for the cpu and wasm backends, d2l's. It is the
 * gradient of `tf.gather`, so every embedding layer's backward pass runs it
 * (`tf.layers.embedding`, word vectors, the text chapters' models).
 * tfjs-backend-cpu 4.22 builds it from one equal/multiply/sum per segment
 * (per vocabulary entry: 6 s for a 5,000-word vocabulary and 80 rows on
 * wasm, which has no kernel of its own and borrows cpu's); this one adds
 * each row into its segment once, O(rows × row size).
 *
 * Semantics as TensorFlow's: `out[s] = Σ_{i: ids[i] = s} x[i]`, shape
 * `[numSegments, ...x.shape.slice(ids.rank)]`; rows whose id is negative or
 * `>= numSegments` are dropped.
 */
import * as tf from "@tensorflow/tfjs";

interface Info {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}
type Values = Float32Array | Int32Array | Uint8Array;
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Values;
}
interface CpuBackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
}
interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}
type Kernel = (args: KernelArgs) => tf.TensorInfo;

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Add each row of `x` (rows of `row` values) into `out` at its segment. */
export function segmentSumInto(x: Values, ids: Values, row: number, numSegments: number, out: Values): void {
  out.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const from = i * row;
    const to = s * row;
    for (let j = 0; j < row; j++) out[to + j] += x[from + j];
  }
}

/** The output shape, and the row size; undefined when the inputs are not what this kernel handles. */
function plan(x: Info, ids: Info, numSegments: number): { shape: number[]; row: number } | undefined {
  if (!(x.dtype === "float32" || x.dtype === "int32") || ids.dtype !== "int32") return undefined;
  if (!Number.isInteger(numSegments) || numSegments < 0) return undefined;
  if (ids.shape.length > x.shape.length || ids.shape.some((d, i) => d !== x.shape[i])) return undefined;
  const rest = x.shape.slice(ids.shape.length);
  return { shape: [numSegments, ...rest], row: size(rest) };
}

function wasmKernel(previous: Kernel | undefined): Kernel {
  return (args) => {
    const { x, segmentIds } = args.inputs as unknown as { x: Info; segmentIds: Info };
    const numSegments = (args.attrs as { numSegments: number }).numSegments;
    const p = plan(x, segmentIds, numSegments);
    if (!p) {
      if (previous) return previous(args);
      throw new Error(`UnsortedSegmentSum: expected float32 or int32 values and int32 ids whose shape starts x's, got ${x.dtype} ${JSON.stringify(x.shape)} and ${segmentIds.dtype} ${JSON.stringify(segmentIds.shape)}`);
    }
    const backend = args.backend as WasmBackendLike;
    const out = backend.makeOutput(p.shape, x.dtype);
    // Views made after the output is allocated: allocating may grow the heap, which detaches older views.
    segmentSumInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(segmentIds), p.row, numSegments, backend.typedArrayFromHeap(out));
    return out as unknown as tf.TensorInfo;
  };
}

function cpuKernel(previous: Kernel | undefined): Kernel {
  return (args) => {
    const { x, segmentIds } = args.inputs as unknown as { x: Info; segmentIds: Info };
    const numSegments = (args.attrs as { numSegments: number }).numSegments;
    const p = plan(x, segmentIds, numSegments);
    if (!p) {
      if (previous) return previous(args);
      throw new Error(`UnsortedSegmentSum: expected float32 or int32 values and int32 ids whose shape starts x's, got ${x.dtype} ${JSON.stringify(x.shape)}`);
    }
    const backend = args.backend as CpuBackendLike;
    const out = x.dtype === "int32" ? new Int32Array(size(p.shape)) : new Float32Array(size(p.shape));
    segmentSumInto(backend.readSync(x.dataId) as Values, backend.readSync(segmentIds.dataId) as Values, p.row, numSegments, out);
    return { dataId: backend.write(out, p.shape, x.dtype), shape: p.shape, dtype: x.dtype } as unknown as tf.TensorInfo;
  };
}

/**
 * Register d2l's `UnsortedSegmentSum` on cpu or wasm (other backends are left
 * as they are); inputs it does not handle go to the kernel it replaces. Its
 * config carries `d2l: true`. Calling it again changes nothing.
 */
export function useFastSegmentSum(backendName: string): void {
  if (backendName !== "cpu" && backendName !== "wasm") return;
  const current = tf.getKernel("UnsortedSegmentSum", backendName) as (tf.KernelConfig & { d2l?: boolean }) | undefined;
  if (current?.d2l) return;
  if (current) tf.unregisterKernel("UnsortedSegmentSum", backendName);
  const previous = current?.kernelFunc as unknown as Kernel | undefined;
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName,
    kernelFunc: (backendName === "wasm" ? wasmKernel(previous) : cpuKernel(previous)) as unknown as tf.KernelFunc,
    setupFunc: current?.setupFunc,
    d2l: true,
  } as tf.KernelConfig);
}
