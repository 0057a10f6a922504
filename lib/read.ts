/**
 * Reading tensor values on every backend, webgpu included.
 *
 * Under Node the webgpu backend cannot copy a GPU buffer to the host
 * synchronously (`dataSync`, `arraySync`, `print` fail there with
 * `WEBGPU_SYNC_READ` from `./backend`). A tensor whose values are still on the host (made
 * from an array and not yet used by a kernel, or read once with `await`) reads
 * synchronously on every backend. The library reads with `await`, or asks
 * {@link readsSync} first where its API must stay synchronous.
 */
import * as tf from "@tensorflow/tfjs";

interface WebgpuTensorData {
  values?: unknown;
  dtype?: string;
}

/**
 * Whether `t`'s values can be read synchronously (`dataSync`) on the backend
 * that holds it: always on cpu, wasm, native and tensorflow; on webgpu only
 * while the values are on the host.
 *
 * @example
 * const t = tf.tensor([1, 2, 3]);
 * d2l.readsSync(t); // true: made from an array, not yet on the GPU
 * d2l.readsSync(t.add(1)); // false on webgpu (the sum is on the GPU), true elsewhere
 */
export function readsSync(t: tf.Tensor): boolean {
  if (t.isDisposed) return true; // dataSync will say that it is disposed
  const engine = tf.engine() as unknown as {
    state: { tensorInfo: { get(id: object): { backend?: { tensorMap?: { get(id: object): WebgpuTensorData | undefined } } } | undefined } };
  };
  const info = engine.state.tensorInfo.get(t.dataId);
  const backend = info?.backend ?? (tf.backend() as unknown as { tensorMap?: { get(id: object): WebgpuTensorData | undefined } });
  if (tf.findBackend("webgpu") !== backend) return true;
  const data = backend?.tensorMap?.get(t.dataId);
  return data === undefined || data.values != null || data.dtype === "string";
}

/**
 * A tensor's values as a flat array, read with `await` (so it works on webgpu).
 * Strings come back as strings; other dtypes as numbers.
 *
 * @example
 * await d2l.values(tf.tensor([[1, 2], [3, 4]])); // [1, 2, 3, 4]
 */
export async function values(t: tf.Tensor): Promise<number[]> {
  if (t.isDisposed) throw new Error(`a disposed tensor of shape [${t.shape.join(", ")}] cannot be read; read it before tf.tidy or dispose() frees it`);
  return Array.from((await t.data()) as ArrayLike<number>, Number);
}

/**
 * The first value of a tensor, read with `await`; the tensor is disposed
 * afterwards (for sums and counts computed only to be read). Internal.
 */
export async function readScalarAndDispose(t: tf.Tensor): Promise<number> {
  try {
    return (await t.data())[0] as number;
  } finally {
    t.dispose();
  }
}
