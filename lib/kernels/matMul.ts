/**
 * `BatchMatMul` for the wasm backend, d2l's: the gradients of a dense layer
 * are matrix products with one factor transposed (dW = xᵀ·dy, dx = dy·Wᵀ),
 * and tfjs-backend-wasm 4.22 sends every transposed or batched product to a
 * plain C++ loop, 10 to 25 times slower than its XNNPACK path, which takes
 * only `[1, M, K]·[1, K, N]`. This kernel transposes the factor with the wasm
 * Transpose kernel (a copy, cheap next to the product), folds a batch of `a`
 * into its rows when `b` has none, and hands the product to the XNNPACK path.
 * Products of two batches (attention) still run tfjs's loop. XNNPACK packs
 * its weight factor (`b`) anew on every call, transposed, which for a large
 * `b` costs far more than the product; so a·bᵀ with a much smaller `a` (a
 * dense layer's dx = dy·Wᵀ for a small minibatch) is computed as (b·aᵀ)ᵀ:
 * 40 ms instead of 340 for a 16-row minibatch through a 4096x4096 layer.
 */
import * as tf from "@tensorflow/tfjs";
import { type Info, type Kernel, replaceWasmKernel } from "./shared";

interface BackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
}

const size = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

/** a·bᵀ goes through (b·aᵀ)ᵀ when b has at least this many times as many rows as a. */
const SMALL_ROWS = 4;

function batchMatMulWasm(tfjs: Kernel): Kernel {
  return (args) => {
    const a = args.inputs.a as Info;
    const b = args.inputs.b as Info;
    const { transposeA = false, transposeB = false } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const aBatch = size(a.shape.slice(0, -2));
    const bBatch = size(b.shape.slice(0, -2));
    if (a.dtype !== "float32" || b.dtype !== "float32" || bBatch !== 1 || (aBatch === 1 && !transposeA && !transposeB)) {
      return tfjs(args); // two batches (its loop), other dtypes (its error), or already the XNNPACK case
    }
    const [ra, ca] = a.shape.slice(-2);
    const [rb, cb] = b.shape.slice(-2);
    const [M, K] = transposeA ? [ca, ra] : [ra, ca];
    const [K2, N] = transposeB ? [cb, rb] : [rb, cb];
    if (K !== K2) {
      throw new Error(`BatchMatMul: inner dimensions differ: a ${JSON.stringify(a.shape)}${transposeA ? "ᵀ" : ""} and b ${JSON.stringify(b.shape)}${transposeB ? "ᵀ" : ""}`);
    }
    const outShape = [...tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), M, N];
    const backend = args.backend as BackendLike;
    const made: Info[] = [];
    const run = (name: string, inputs: Record<string, Info>, attrs: Record<string, unknown>): Info => {
      const k = tf.getKernel(name, "wasm");
      if (!k) throw new Error(`the wasm backend has no ${name} kernel`);
      const out = k.kernelFunc({
        inputs: inputs as unknown as tf.NamedTensorInfoMap,
        attrs: attrs as tf.NamedAttrMap,
        backend: backend as unknown as tf.KernelBackend,
      }) as unknown as Info;
      made.push(out);
      return out;
    };
    try {
      if (transposeB && !transposeA && aBatch * M * SMALL_ROWS <= N) {
        // a·bᵀ with few rows in a (a dense layer's dx = dy·Wᵀ for a minibatch much smaller than the layer):
        // XNNPACK repacks its weight factor on every call, and packing a large b transposed costs far more
        // than the product; (b·aᵀ)ᵀ streams b as the input instead and packs only the small aᵀ.
        const at = run("Transpose", { x: run("Reshape", { x: a }, { shape: [aBatch * M, K] }) }, { perm: [1, 0] });
        const bt = tfjs({
          inputs: { a: run("Reshape", { x: b }, { shape: [1, N, K] }), b: run("Reshape", { x: at }, { shape: [1, K, aBatch * M] }) } as unknown as tf.NamedTensorInfoMap,
          attrs: { transposeA: false, transposeB: false },
          backend,
        }) as unknown as Info;
        made.push(bt);
        const product = run("Transpose", { x: run("Reshape", { x: bt }, { shape: [N, aBatch * M] }) }, { perm: [1, 0] });
        const out = run("Reshape", { x: product }, { shape: outShape });
        made.pop(); // the caller's
        return out as unknown as tf.TensorInfo;
      }
      let a3 = run("Reshape", { x: a }, { shape: [aBatch, ra, ca] });
      if (transposeA) a3 = run("Transpose", { x: a3 }, { perm: [0, 2, 1] });
      a3 = run("Reshape", { x: a3 }, { shape: [1, aBatch * M, K] });
      let b3 = run("Reshape", { x: b }, { shape: [1, rb, cb] });
      if (transposeB) b3 = run("Transpose", { x: b3 }, { perm: [0, 2, 1] });
      const product = tfjs({ inputs: { a: a3, b: b3 } as unknown as tf.NamedTensorInfoMap, attrs: { transposeA: false, transposeB: false }, backend }) as unknown as Info;
      made.push(product);
      const out = run("Reshape", { x: product }, { shape: outShape });
      made.pop(); // the caller's
      return out as unknown as tf.TensorInfo;
    } finally {
      for (const t of made) backend.disposeData(t.dataId);
    }
  };
}

/**
 * Register d2l's `BatchMatMul` on wasm in place of tfjs's (kept for the cases
 * it handles well). Its config carries `d2l: true`. Calling it again changes nothing.
 */
export function useFastBatchMatMul(backendName: string): void {
  if (backendName === "wasm") replaceWasmKernel<Kernel>("BatchMatMul", batchMatMulWasm);
}
