/**
 * Choosing the tensor backend (the book's `d2l.try_gpu()` world).
 *
 * Order tried unless `D2L_BACKEND` or {@link useBackend} names one:
 * `tensorflow` (tfjs-node-gpu, then tfjs-node), `wasm`, `cpu`. A backend that
 * cannot load is skipped with one line saying why; a backend that was asked
 * for and cannot load is an error that says what to install.
 */
import * as tf from "@tensorflow/tfjs";

/** What {@link backendInfo} reports. */
export interface BackendInfo {
  /** tfjs backend name: "tensorflow", "wasm", "cpu", ... */
  name: string;
  /** Where tensors live, in the book's words: "cpu" or "gpu:0". */
  device: string;
  /** Worker threads the backend computes with (1 when single-threaded). */
  threads: number;
  /** @tensorflow/tfjs version. */
  tfjsVersion: string;
  /** Backends that were tried and skipped, with the reason. */
  skipped: { name: string; reason: string }[];
}

const KNOWN = ["tensorflow", "wasm", "cpu"] as const;
/** A backend d2l knows how to load. */
export type BackendName = (typeof KNOWN)[number];

const skipped: { name: string; reason: string }[] = [];
let chosen: Promise<string> | null = null;

function hint(name: BackendName): string {
  switch (name) {
    case "tensorflow":
      return "npm install @tensorflow/tfjs-node (or @tensorflow/tfjs-node-gpu with CUDA 11.2 and cuDNN 8.1)";
    case "wasm":
      return "npm install @tensorflow/tfjs-backend-wasm";
    case "cpu":
      return "npm install @tensorflow/tfjs";
  }
}

async function load(name: BackendName): Promise<void> {
  if (name === "tensorflow") {
    let lastError: unknown;
    for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require(pkg);
        lastError = undefined;
        break;
      } catch (e) {
        lastError = e;
      }
    }
    if (lastError) throw new Error("neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed");
  } else if (name === "wasm") {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("@tensorflow/tfjs-backend-wasm");
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend("${name}") returned false`);
}

function isKnown(name: string): name is BackendName {
  return (KNOWN as readonly string[]).includes(name);
}

/**
 * Use the named backend, or fail saying what to install.
 *
 * @example
 * await d2l.useBackend("cpu");
 */
export async function useBackend(name: string): Promise<string> {
  if (!isKnown(name)) throw new Error(`unknown backend ${JSON.stringify(name)}; expected one of ${KNOWN.join(", ")}`);
  try {
    await load(name);
  } catch (e) {
    throw new Error(`backend "${name}" cannot load: ${(e as Error).message}. To use it: ${hint(name)}`);
  }
  chosen = Promise.resolve(name);
  return name;
}

async function choose(): Promise<string> {
  const wanted = process.env.D2L_BACKEND;
  if (wanted) return useBackend(wanted);
  for (const name of KNOWN) {
    try {
      await load(name);
      return name;
    } catch (e) {
      const reason = (e as Error).message.split("\n")[0];
      skipped.push({ name, reason });
      if (name !== "tensorflow") console.warn(`d2l: backend ${name} skipped: ${reason}`);
    }
  }
  throw new Error("no TensorFlow.js backend could load, not even cpu");
}

/**
 * Wait until the backend is chosen; the kernel's prelude calls it, so cells
 * never need to.
 *
 * @example
 * await d2l.ready(); // tf.getBackend() is now "wasm", for example
 */
export function ready(): Promise<string> {
  if (!chosen) chosen = choose();
  return chosen;
}

/**
 * The backend in use, its device, threads and versions.
 *
 * @example
 * d2l.backendInfo() // { name: "wasm", device: "cpu", threads: 1, ... }
 */
export function backendInfo(): BackendInfo {
  const name = tf.getBackend();
  const gpu = name === "tensorflow" && tf.env().getBool("IS_NODE") && hasGpuBinding();
  let threads = 1;
  if (name === "wasm") {
    const b = tf.backend() as unknown as { wasm?: { _getThreadsCount?: () => number } };
    threads = b.wasm?._getThreadsCount?.() ?? 1;
  }
  return { name, device: gpu || name === "webgpu" || name === "webgl" ? "gpu:0" : "cpu", threads, tfjsVersion: tf.version.tfjs, skipped: [...skipped] };
}

function hasGpuBinding(): boolean {
  try {
    require.resolve("@tensorflow/tfjs-node-gpu");
    return true;
  } catch {
    return false;
  }
}

/**
 * The book's `num_gpus()`: how many GPUs the backend computes on (0 or 1).
 *
 * @example
 * d2l.numGpus() // 0 on a CPU-only machine
 */
export function numGpus(): number {
  return backendInfo().device.startsWith("gpu") ? 1 : 0;
}

/**
 * The book's `try_gpu()`: "gpu:0" if a GPU backend is in use, else "cpu".
 *
 * @example
 * d2l.tryGpu() // "cpu"
 */
export function tryGpu(): string {
  return numGpus() > 0 ? "gpu:0" : "cpu";
}
