/**
 * What d2l's kernels share: the shapes of the tfjs objects a kernel function
 * gets and returns, the two wasm-backend methods the wasm kernels use (tile.ts,
 * reverse.ts, stridedSlice.ts, slice.ts, matMul.ts), and the registration
 * that puts a d2l kernel in place of tfjs's on wasm while keeping tfjs's to
 * fall back on.
 */
import * as tf from "@tensorflow/tfjs";

/** A tensor as a kernel sees it (tfjs' TensorInfo with a mutable shape). */
export interface Info {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}
/** A view of a tensor's data in the wasm heap. */
export type HeapArray = Float32Array | Int32Array | Uint8Array;
/** The two methods of tfjs-backend-wasm's BackendWasm that its own JavaScript kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): HeapArray;
}
/** A kernel function's argument. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}
/** A kernel function with one output. */
export type Kernel = (args: KernelArgs) => tf.TensorInfo;

/**
 * Registers `make(tfjs's kernel)` as `kernelName` on wasm in place of tfjs's
 * own, which `make` keeps for the cases it leaves to it. The config carries
 * `d2l: true` (see `isD2lKernel`); when the kernel is d2l's already, or wasm
 * has none, nothing changes, so calling it again is harmless.
 */
export function replaceWasmKernel<K extends (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]>(kernelName: string, make: (previous: K) => K): void {
  const current = tf.getKernel(kernelName, "wasm") as (tf.KernelConfig & { d2l?: boolean }) | undefined;
  if (!current || current.d2l) return;
  tf.unregisterKernel(kernelName, "wasm");
  tf.registerKernel({
    kernelName,
    backendName: "wasm",
    kernelFunc: make(current.kernelFunc as unknown as K) as unknown as tf.KernelFunc,
    setupFunc: current.setupFunc,
    d2l: true,
  } as tf.KernelConfig);
}
