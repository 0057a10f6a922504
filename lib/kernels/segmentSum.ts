/**
 * `UnsortedSegmentSum` for the cpu and wasm backends, d2l's. The gradient of
 * `tf.gather` (so of every embedding layer) is a segment sum over the
 * vocabulary. tfjs-backend-cpu 4.22 computes it with one equal-mask, multiply
 * and sum per segment (per vocabulary entry), O(segments × rows × width), and
 * tfjs-backend-wasm has none (d2l runs cpu's on a copy): 400 ms for the
 * embedding gradient of one seq2seq batch (640 tokens, 80 words, width 32).
 * This one adds each row into its segment once, O(rows × width): well under
 * a millisecond for the same batch.
 */
import * as tf from "@tensorflow/tfjs";
import type { Info, Kernel } from "./shared";

/** The part of a tfjs KernelBackend (cpu's and wasm's both have it) this kernel uses. */
interface BackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
}

/**
 * `out[s, ...] = Σ x[i, ...]` over the rows `i` whose segment id is `s`
 * (ids outside `0..numSegments-1` are dropped, as TensorFlow's). `ids` may
 * have any shape that is a prefix of `x`'s; its elements index `x`'s rows of
 * that prefix, flattened.
 */
export function segmentSumInto(x: ArrayLike<number>, ids: ArrayLike<number>, width: number, out: Float32Array | Int32Array): void {
  out.fill(0);
  const numSegments = out.length / Math.max(width, 1);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (!(s >= 0 && s < numSegments)) continue;
    const from = i * width;
    const to = s * width;
    for (let j = 0; j < width; j++) out[to + j] += x[from + j];
  }
}

function unsortedSegmentSum(tfjs: Kernel | undefined): Kernel {
  return (args) => {
    const x = args.inputs.x as Info;
    const segmentIds = args.inputs.segmentIds as Info;
    const { numSegments } = (args.attrs ?? {}) as { numSegments?: number };
    const prefix = segmentIds.shape;
    const fits = prefix.length <= x.shape.length && prefix.every((d, i) => d === x.shape[i]);
    if ((x.dtype !== "float32" && x.dtype !== "int32") || !fits || !Number.isInteger(numSegments)) {
      if (tfjs) return tfjs(args); // tfjs's own (its checks and errors)
      throw new Error(
        `UnsortedSegmentSum: expected float32 or int32 x whose shape starts with the segment ids' shape; got x ${JSON.stringify(x.shape)} ${x.dtype}, ids ${JSON.stringify(prefix)}`,
      );
    }
    const backend = args.backend as BackendLike;
    const inner = x.shape.slice(prefix.length);
    const width = inner.reduce((p, d) => p * d, 1);
    const outShape = [numSegments as number, ...inner];
    const out = x.dtype === "int32" ? new Int32Array((numSegments as number) * width) : new Float32Array((numSegments as number) * width);
    segmentSumInto(backend.readSync(x.dataId) as Float32Array | Int32Array, backend.readSync(segmentIds.dataId) as Int32Array, width, out);
    return { dataId: backend.write(out, outShape, x.dtype), shape: outShape, dtype: x.dtype } as unknown as tf.TensorInfo;
  };
}

/**
 * Register d2l's `UnsortedSegmentSum` on cpu or wasm (others are left as they
 * are); on wasm it takes the place of the cpu kernel run on a copy. Its config
 * carries `d2l: true`. Calling it again changes nothing.
 */
export function useFastSegmentSum(backendName: string): void {
  if (backendName !== "cpu" && backendName !== "wasm") return;
  const current = tf.getKernel("UnsortedSegmentSum", backendName) as (tf.KernelConfig & { d2l?: boolean }) | undefined;
  if (current?.d2l) return;
  // On wasm there is none yet (or the forwarded cpu one): fall back to the cpu backend's for odd inputs.
  const fallback = (backendName === "cpu" ? current : undefined)?.kernelFunc as unknown as Kernel | undefined;
  if (current) tf.unregisterKernel("UnsortedSegmentSum", backendName);
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName,
    kernelFunc: unsortedSegmentSum(fallback) as unknown as tf.KernelFunc,
    d2l: true,
  } as tf.KernelConfig);
}
