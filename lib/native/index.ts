/**
 * The `native` tfjs backend: tfjs-backend-wasm (single-threaded SIMD build),
 * with its matrix products and 2-D convolutions (forward, both gradients,
 * fused bias and activation) replaced by oneDNN kernels that run on the wasm
 * heap in place, and its pooling gradients, large sigmoid/tanh, sums, means
 * and tiles by the addon's own parallel loops (see kernels.ts and
 * src/addon.cc). oneDNN's threads are OpenMP's, one per core; they sleep
 * while waiting for work (addon.ts says why), and work under 4 MFLOP runs on
 * the calling thread alone.
 *
 * **wasm and native never both start in one process.** The wasm kernels keep
 * the functions they call into their wasm module in module-level variables,
 * set when a backend starts (`setupFunc`). native runs on its own instance of
 * the wasm module, so a process where both started would call one instance
 * with the other's memory offsets. d2l's loader refuses the second one
 * ({@link nativeStarted}, {@link wasmStarted}); in the automatic order native
 * comes before wasm, and when native cannot load, nothing of it has started.
 */
import * as tf from "@tensorflow/tfjs";
import { loadAddon, NativeUnavailable, type NativeAddon } from "./addon";
import { NATIVE_KERNELS, nativeKernels, type Kernel } from "./kernels";
import { OPS_KERNELS, installNativeOps, opsKernels } from "./ops";
import { RNN_KERNELS, installNativeRnn, rnnKernels } from "./rnn";

export { NativeUnavailable, NATIVE_FIX, addonPath } from "./addon";
export type { NativeAddon } from "./addon";

/** What the loader reports for native (the shape of backend.ts's details). */
export interface NativeDetail {
  device: string;
  adapter: string;
  fallbackAdapter: boolean;
  threads: number;
  gpus: number;
  versions: Record<string, string>;
}

interface WasmPackage {
  setThreadsCount(n: number): void;
}

const WASM = "@tensorflow/tfjs-backend-wasm";

/** True when the native backend was started in this process. */
export function nativeStarted(): boolean {
  return tf.engine().registry.native !== undefined;
}

/** True when the wasm backend was started in this process. */
export function wasmStarted(): boolean {
  return tf.engine().registry.wasm !== undefined;
}

function requireWasm(): { pkg: WasmPackage; version: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pkg = require(WASM) as WasmPackage;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const version = (require(`${WASM}/package.json`) as { version: string }).version;
    if (version !== tf.version.tfjs) throw new NativeUnavailable(`${WASM} is ${version} but @tensorflow/tfjs is ${tf.version.tfjs}`, `npm install ${WASM}@${tf.version.tfjs}`);
    return { pkg, version };
  } catch (e) {
    if (e instanceof NativeUnavailable) throw e;
    throw new NativeUnavailable(
      `the native backend runs on ${WASM}, which does not load: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
      `npm install ${WASM}@${tf.version.tfjs}`,
    );
  }
}

/**
 * Register the `native` backend with tfjs (once): its factory makes a
 * single-threaded BackendWasm through the wasm backend's own factory; its
 * kernels are d2l's native ones, then every wasm kernel it lacks.
 */
function register(addon: NativeAddon, pkg: WasmPackage): void {
  if (tf.findBackendFactory("native")) return;
  const wasmFactory = tf.findBackendFactory("wasm");
  if (!wasmFactory)
    throw new NativeUnavailable(
      `${WASM} is loaded but registered no "wasm" backend (a second copy of @tensorflow/tfjs-core?)`,
      `npm ls @tensorflow/tfjs-core; npm install ${WASM}@${tf.version.tfjs}`,
    );
  const wasmKernels = new Map(tf.getKernelsForBackend("wasm").map((k) => [k.kernelName, k]));
  const base = (name: string) => {
    const k = wasmKernels.get(name);
    if (!k) throw new Error(`the native backend has no ${name} kernel (the wasm backend has none either)`);
    return k.kernelFunc as unknown as (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => tf.TensorInfo | tf.TensorInfo[];
  };
  // Each module's kernels: kernels.ts (products, convolutions, ...), ops.ts (normalization,
  // pooling, eltwise, softmax), rnn.ts (whole recurrent layers, d2l's own kernel names).
  const own: Record<string, Kernel> = { ...nativeKernels(addon, base), ...opsKernels(addon, base), ...rnnKernels(addon, base) };
  for (const name of [...NATIVE_KERNELS, ...OPS_KERNELS, ...RNN_KERNELS]) {
    if (tf.getKernel(name, "native")) tf.unregisterKernel(name, "native");
    // wasm's setup stays: it readies wasm's kernel for the cases left to it.
    const wasmKernel = wasmKernels.get(name);
    tf.registerKernel({
      setupFunc: wasmKernel?.setupFunc,
      disposeFunc: wasmKernel?.disposeFunc,
      kernelName: name,
      backendName: "native",
      kernelFunc: own[name] as unknown as tf.KernelFunc,
    });
  }
  for (const k of wasmKernels.values()) {
    if (!tf.getKernel(k.kernelName, "native")) tf.registerKernel({ ...k, backendName: "native" });
  }
  tf.registerBackend(
    "native",
    async () => {
      // The non-threaded build: its heap is one plain ArrayBuffer, which the addon can read.
      // oneDNN has its own threads (OpenMP, one per core).
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
      pkg.setThreadsCount(1);
      return wasmFactory();
    },
    0, // never chosen by tfjs on its own
  );
}

/**
 * Start the native backend and make it tfjs's backend. Throws a
 * {@link NativeUnavailable} (with what to do) when it cannot.
 * `afterStart` runs once it is set (d2l forwards the kernels wasm lacks to cpu).
 */
export async function loadNative(afterStart?: (backendName: string) => void): Promise<NativeDetail> {
  const addon = loadAddon();
  if (wasmStarted() && !nativeStarted()) {
    throw new NativeUnavailable(
      "the wasm backend already started in this process, and native (its own copy of the wasm kernels) cannot start beside it",
      "restart the process (in a notebook: restart the kernel) and ask for native first (D2L_BACKEND=native)",
    );
  }
  const { pkg, version } = requireWasm();
  register(addon, pkg);
  if (tf.getBackend() !== "native") {
    let ok = false;
    try {
      ok = await tf.setBackend("native");
    } catch (e) {
      ok = false;
      if (!(e instanceof Error)) throw e;
    }
    if (!ok) {
      // Leave nothing of native behind, so that wasm can start instead.
      if (nativeStarted()) tf.removeBackend("native");
      throw new NativeUnavailable(`the wasm module under the native backend did not start (see the warning above)`, `npm install ${WASM}@${tf.version.tfjs}`);
    }
  }
  installNativeRnn(addon);
  installNativeOps(addon);
  afterStart?.("native");
  const info = addon.info();
  return {
    device: "cpu",
    adapter: `oneDNN ${info.onednn} (${info.runtime}, ${info.threads} thread${info.threads === 1 ? "" : "s"}) on WebAssembly SIMD`,
    fallbackAdapter: false,
    threads: info.threads,
    gpus: 0,
    versions: { oneDNN: info.onednn, [WASM]: version },
  };
}
