/**
 * Choosing the tensor backend (the book's `d2l.try_gpu()` world).
 *
 * Order tried unless `D2L_BACKEND` or {@link useBackend} names one:
 *
 * 1. `tensorflow`: `@tensorflow/tfjs-node-gpu` (CUDA), then `@tensorflow/tfjs-node`
 *    (native CPU). Optional packages; neither is installed by default (their
 *    install downloads libtensorflow, so it needs the network; the GPU one
 *    needs CUDA 11.2 and cuDNN 8.1). They are looked for in `D2L_TFJS_NODE_DIR`
 *    first (a folder they were installed into with `npm install --prefix`),
 *    then where d2l-ts is installed (see {@link TFJS_NODE_GPU_INSTALL}).
 * 2. `webgpu`: the `webgpu` npm package (Dawn's dawn.node) with
 *    `@tensorflow/tfjs-backend-webgpu`; needs a Vulkan (Linux), Metal (macOS) or
 *    D3D12 (Windows) GPU adapter, and is chosen automatically on a hardware
 *    adapter (`D2L_WEBGPU_AUTO=0` leaves it out, see {@link decideBackend}).
 *    Under Node it cannot read a GPU tensor synchronously (`dataSync`,
 *    `arraySync`, `print`): d2l, the kernel and the notebooks read with
 *    `await t.data()`, and a user's own synchronous read gets
 *    {@link WEBGPU_SYNC_READ}. A software *fallback* adapter (Mesa's lavapipe,
 *    SwiftShader) is never chosen automatically: it is slower than wasm and
 *    meant for correctness tests. `D2L_BACKEND=webgpu` uses it anyway. On
 *    Linux the probe is cheap where there is no GPU: dawn.node is not even
 *    loaded when no Vulkan driver file names a hardware driver, or when there
 *    is no GPU device node (see {@link webgpuProbeVerdict}).
 * 3. `native`: d2l's own CPU backend (lib/native/): the wasm backend's
 *    single-threaded SIMD build, with matrix products and 2-D convolutions
 *    (forward and both gradients) run by oneDNN on all cores, in place on the
 *    wasm heap, and pooling gradients, large sigmoid/tanh, sums, means and
 *    tiles in the same addon. The small ops of a training step are cheaper
 *    there too: clones and same-dtype casts share data instead of copying it,
 *    exp/log, broadcast arithmetic and row/column reductions are one native
 *    call each, and d2l's `crossEntropy` is one fused kernel each way. What
 *    is left per op is tfjs' own bookkeeping, a few microseconds, as on wasm
 *    and cpu. Its addon is built at `npm install` where g++, make and
 *    libdnnl-dev are installed (`npm run build:native` builds it again); where
 *    it is not built, it is skipped with one line saying what to install.
 *    native and wasm never both start in one process (they would share the
 *    wasm kernels' state): once one has started, asking for the other is an
 *    error that says to restart the process.
 * 4. `wasm`: `@tensorflow/tfjs-backend-wasm` with SIMD, and with threads where
 *    its threaded build loads (`D2L_WASM_THREADS=N` sets how many; 1 turns the
 *    threaded build off). Kernels the wasm backend lacks (the ragged-tensor
 *    ops, ...) run on the cpu backend's; `unsortedSegmentSum`, which the
 *    gradient of `gather` (embeddings) needs, is d2l's (lib/kernels/).
 * 5. `cpu`: plain JavaScript, always there.
 *
 * On cpu the filter gradient of a convolution (`Conv2DBackpropFilter`) is
 * d2l's own (tfjs-backend-cpu's takes about 100 times too long). On wasm the
 * gradients of `conv2d`, `depthwiseConv2d` and `avgPool`, the matrix product
 * with a transposed factor (dense layers' gradients) and `tile` (batch
 * normalization's) are d2l's (lib/kernels/), built on XNNPACK's convolutions
 * and matrix products where tfjs-backend-wasm has none or a plain loop.
 *
 * A backend that cannot load is skipped with one line saying why, printed once
 * (`d2l: skipped webgpu: no GPU adapter (dawn.node found no Vulkan device)`);
 * a backend that was asked for and cannot load is an error that says what to
 * install.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import { useD2lKernels } from "./kernels";
import { loadNative, NATIVE_FIX, NativeUnavailable, nativeStarted } from "./native";
import { loadAddon } from "./native/addon";
import { describeBlas } from "./native/kernels";

/** A backend d2l knows how to load, in the order it tries them. */
export type BackendName = "tensorflow" | "webgpu" | "native" | "wasm" | "cpu";

const KNOWN: readonly BackendName[] = ["tensorflow", "webgpu", "native", "wasm", "cpu"];

/**
 * What a machine was found to have, for {@link decideBackend}: for each
 * backend, `true` when it loads, else the reason it does not (in the words
 * `ready()` prints); for webgpu, the adapter dawn.node gives, or the reason
 * there is none. A backend not probed yet is left out.
 */
export interface BackendFindings {
  tensorflow?: true | string;
  webgpu?: WebgpuAdapterFacts | string;
  native?: true | string;
  wasm?: true | string;
}

/** A WebGPU adapter as it describes itself (GPUAdapterInfo, and the adapter's fallback flag). */
export interface WebgpuAdapterFacts {
  vendor: string;
  architecture: string;
  /** The adapter's description or device name ("NVIDIA H100 80GB HBM3", "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  description: string;
  isFallbackAdapter: boolean;
}

/** What {@link decideBackend} concluded from the findings so far. */
export interface BackendDecision {
  /** The backends in the order they are considered. */
  order: BackendName[];
  /** The backend to use, once the findings settle it. */
  choice?: BackendName;
  /** The backend whose finding is needed next, when they do not settle it yet. */
  probe?: BackendName;
  /** The backends passed over before the choice (or the probe), each with its reason. */
  skipped: { name: BackendName; reason: string }[];
}

/**
 * The automatic backend choice as a pure decision: tensorflow → webgpu (a
 * hardware adapter only) → native → wasm → cpu, the first that loads. A
 * software fallback adapter (lavapipe, SwiftShader, WARP: flagged as a
 * fallback or named so) is skipped with the reason. `ready()` probes one
 * backend at a time, as `probe` asks, and stops at `choice`.
 *
 * webgpu is in the order unless `webgpuAuto` is false (`D2L_WEBGPU_AUTO=0`
 * in the environment): nothing in d2l-ts reads a GPU tensor synchronously,
 * so the notebooks run on it; the opt-out is for code of one's own that
 * still calls `dataSync()`.
 *
 * @param found what was found so far (see {@link BackendFindings})
 * @param options `webgpuAuto`: consider webgpu (default: true unless `D2L_WEBGPU_AUTO` is "0")
 * @example
 * decideBackend({ tensorflow: "neither ... is installed", webgpu: { vendor: "nvidia", architecture: "hopper", description: "NVIDIA H100", isFallbackAdapter: false } }).choice // "webgpu"
 */
export function decideBackend(found: BackendFindings, options: { webgpuAuto?: boolean } = {}): BackendDecision {
  const webgpuAuto = options.webgpuAuto ?? webgpuAutoFromEnv();
  const order: BackendName[] = webgpuAuto ? ["tensorflow", "webgpu", "native", "wasm", "cpu"] : ["tensorflow", "native", "wasm", "cpu"];
  const skipped: { name: BackendName; reason: string }[] = [];
  for (const name of order) {
    if (name === "cpu") return { order, choice: "cpu", skipped };
    const f = found[name];
    if (f === undefined) return { order, probe: name, skipped };
    if (typeof f === "string") {
      skipped.push({ name, reason: f });
    } else if (name === "webgpu" && isSoftwareAdapter(f as WebgpuAdapterFacts)) {
      skipped.push({ name, reason: fallbackReason(f as WebgpuAdapterFacts) });
    } else {
      return { order, choice: name, skipped };
    }
  }
  return { order, choice: "cpu", skipped };
}

/** `D2L_WEBGPU_AUTO`: "0" (or "false", "no", "off") leaves webgpu out of the automatic order; unset or "1", in. */
function webgpuAutoFromEnv(): boolean {
  const v = (process.env.D2L_WEBGPU_AUTO ?? "").trim().toLowerCase();
  if (v === "" || v === "1" || v === "true" || v === "yes" || v === "on") return true;
  if (v === "0" || v === "false" || v === "no" || v === "off") return false;
  throw new Error(`D2L_WEBGPU_AUTO must be 1 (consider webgpu, the default) or 0 (leave it out); got ${JSON.stringify(process.env.D2L_WEBGPU_AUTO)}`);
}

/** What {@link backendInfo} reports. */
export interface BackendInfo {
  /** tfjs backend name: "tensorflow", "webgpu", "wasm", "cpu", ... */
  name: string;
  /** Where tensors live, in the book's words: "gpu:0" on a GPU, else "cpu" (a software GPU adapter computes on the CPU). */
  device: string;
  /** What computes, in words: the GPU adapter's description, "WebAssembly SIMD", "JavaScript", ... */
  adapter: string;
  /** True when webgpu runs on a software fallback adapter (lavapipe, SwiftShader). */
  fallbackAdapter: boolean;
  /** webgpu: the GPU adapter's vendor as WebGPU names it ("nvidia", "amd", "intel", "mesa"); "" on other backends. */
  vendor: string;
  /** webgpu: the adapter's architecture as WebGPU names it ("hopper", "rdna-3", ...; "" when the driver does not say, and on other backends). */
  architecture: string;
  /** Worker threads the backend computes with (1 when single-threaded or on a GPU). */
  threads: number;
  /** @tensorflow/tfjs version. */
  tfjsVersion: string;
  /** Versions of the packages the backend loaded, by package name. */
  versions: Record<string, string>;
  /** Backends that were tried and skipped, with the reason. */
  skipped: { name: string; reason: string }[];
  /** native only: what runs its matrix products ("OpenBLAS 0.3.21 ... for small and matrix-vector products, oneDNN 2.6.3 for the rest"; `D2L_NATIVE_BLAS`); "" elsewhere. */
  blas: string;
}

/** Options for {@link useBackend}. */
export interface UseBackendOptions {
  /**
   * wasm only: worker threads to ask for (default `D2L_WASM_THREADS`, else the
   * cores, at most 4). It counts when wasm first starts in a process; after
   * that its threads are fixed.
   */
  threads?: number;
}

/** What a loaded backend reports (see {@link BackendInfo}). */
export interface Detail {
  device: string;
  adapter: string;
  fallbackAdapter: boolean;
  /** webgpu: the adapter's vendor and architecture ("nvidia", "hopper"); absent elsewhere. */
  vendor?: string;
  architecture?: string;
  threads: number;
  gpus: number;
  versions: Record<string, string>;
}

/** A load failure: what went wrong, and what to do about it. */
class LoadError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

const skipped: { name: string; reason: string }[] = [];
const details = new Map<string, Detail>();
let chosen: Promise<string> | null = null;

const TFJS = tf.version.tfjs;
const FIX: Record<BackendName, string> = {
  tensorflow: `npm install @tensorflow/tfjs-node@${TFJS} (online), or on an NVIDIA GPU @tensorflow/tfjs-node-gpu@${TFJS} with CUDA 11.2 and cuDNN 8.1`,
  webgpu: `npm install webgpu @tensorflow/tfjs-backend-webgpu@${TFJS}`,
  native: NATIVE_FIX,
  wasm: `npm install @tensorflow/tfjs-backend-wasm@${TFJS}`,
  cpu: `npm install @tensorflow/tfjs@${TFJS}`,
};

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n")[0].trim();
}

/** True when `e` says that `pkg` itself (not something it needs) is not installed. */
function notInstalled(e: unknown, pkg: string): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === "MODULE_NOT_FOUND" && (err.message ?? "").includes(`'${pkg}'`);
}

function packageVersion(pkg: string, from?: string): string {
  try {
    const file = from ? require.resolve(`${pkg}/package.json`, { paths: [from] }) : require.resolve(`${pkg}/package.json`);
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** A tfjs add-on must be the same version as @tensorflow/tfjs, or its kernels register into another copy. */
function checkMatchesTfjs(pkg: string, from?: string): string {
  const v = packageVersion(pkg, from);
  if (v !== "unknown" && v !== TFJS) {
    throw new LoadError(`${pkg} is ${v} but @tensorflow/tfjs is ${TFJS}`, `npm install ${pkg}@${TFJS}`);
  }
  return v;
}

async function setTfBackend(name: BackendName): Promise<void> {
  if (!tf.findBackendFactory(name)) {
    throw new LoadError(`no "${name}" backend is registered with @tensorflow/tfjs ${TFJS} (a second copy of @tensorflow/tfjs-core?)`, `npm ls @tensorflow/tfjs-core; ${FIX[name]}`);
  }
  if (!(await tf.setBackend(name))) throw new LoadError(`tf.setBackend("${name}") failed (see the warning above)`, FIX[name]);
}

// ---------------------------------------------------------------- tensorflow

/**
 * What to install for the `tensorflow` backend on an NVIDIA GPU, as `doctor`
 * and the skip line say it: tfjs-node-gpu of the same version as
 * @tensorflow/tfjs, whose install downloads libtensorflow 2.9 (so it needs the
 * network), and which runs on CUDA 11.2 and cuDNN 8.1 (`libcudart.so.11.0`,
 * `libcudnn.so.8` on the library path). Installed into a folder of its own
 * (`npm install --prefix DIR`), it is found with `D2L_TFJS_NODE_DIR=DIR`.
 *
 * @example
 * TFJS_NODE_GPU_INSTALL // (lib/backend.ts) "npm install @tensorflow/tfjs-node-gpu@4.22.0 (online; needs CUDA 11.2 and cuDNN 8.1 ...)"
 */
export const TFJS_NODE_GPU_INSTALL =
  `npm install @tensorflow/tfjs-node-gpu@${TFJS} (online: its install downloads libtensorflow; it needs CUDA 11.2 and cuDNN 8.1, ` +
  "libcudart.so.11.0 and libcudnn.so.8 on the library path, LD_LIBRARY_PATH or ldconfig)";

/** CUDA libraries that libtensorflow loads, as a failed load names them. */
const CUDA_LIBRARY = /\b(lib(?:cudart|cudnn[a-z_]*|cublas(?:Lt)?|cufft|curand|cusolver|cusparse|nvinfer|cuda)\.so[.\d]*)/;

/** Where the tfjs-node packages are looked for: `D2L_TFJS_NODE_DIR` first, then where d2l-ts is installed. */
function tensorflowSearchPath(): string[] {
  const dir = (process.env.D2L_TFJS_NODE_DIR ?? "").trim();
  if (!dir) return [];
  if (!fs.existsSync(dir)) {
    throw new LoadError(
      `D2L_TFJS_NODE_DIR is ${JSON.stringify(dir)}, which does not exist`,
      `npm install --prefix ${dir} @tensorflow/tfjs-node-gpu@${TFJS}, or unset D2L_TFJS_NODE_DIR`,
    );
  }
  return [path.resolve(dir)];
}

/** Where `pkg`'s main file is: looked for from `from` first, then beside d2l-ts; null when it is in neither. */
function resolvePackage(pkg: string, from: string[]): string | null {
  for (const paths of [...(from.length ? [from] : []), undefined]) {
    try {
      return paths ? require.resolve(pkg, { paths }) : require.resolve(pkg);
    } catch {
      // not there; the next place
    }
  }
  return null;
}

/** The reason an installed tfjs-node package does not load, in words that say what to do. */
function tensorflowLoadFailure(pkg: string, e: unknown): string {
  const msg = firstLine(e);
  const cuda = CUDA_LIBRARY.exec(msg);
  if (cuda) {
    return (
      `${pkg} is installed but CUDA's ${cuda[1]} is missing (${msg}): it needs CUDA 11.2 (libcudart.so.11.0) and cuDNN 8.1 (libcudnn.so.8) ` +
      `on the library path (LD_LIBRARY_PATH or ldconfig), or npm uninstall ${pkg}`
    );
  }
  if (/libtensorflow/.test(msg)) {
    return `${pkg} is installed but its libtensorflow is missing (${msg}): its install downloads it, so run npm rebuild ${pkg} online`;
  }
  return `${pkg} is installed but does not load: ${msg}`;
}

async function loadTensorflow(): Promise<Detail> {
  const failures: string[] = [];
  const from = tensorflowSearchPath();
  let loaded = "";
  let loadedFrom: string | undefined;
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    const file = resolvePackage(pkg, from);
    if (!file) continue;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(file);
      loaded = pkg;
      loadedFrom = path.dirname(file);
      break;
    } catch (e) {
      failures.push(tensorflowLoadFailure(pkg, e));
    }
  }
  if (!loaded) {
    const where = from.length ? ` (looked in D2L_TFJS_NODE_DIR=${from[0]} and beside d2l-ts)` : "";
    throw new LoadError(
      failures.length ? failures.join("; ") : `neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed${where}`,
      failures.some((f) => /CUDA/.test(f)) ? "install CUDA 11.2 and cuDNN 8.1 (NVIDIA's archives), then restart" : FIX.tensorflow,
    );
  }
  const version = checkMatchesTfjs(loaded, loadedFrom);
  await setTfBackend("tensorflow");
  return tensorflowDetail(loaded, version, (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice, loaded.endsWith("-gpu") ? nvidiaGpus() : []);
}

/**
 * tfjs-backend-webgpu 4.22's AddN binds one storage buffer per input, and the
 * device it asks for has WebGPU's default limit of 8 per shader stage: Dawn
 * rejects the pipeline for more than 7 inputs ("The number of storage buffers
 * (22) in the Compute stage exceeds the maximum per-stage limit (8)") and the
 * sum comes back unwritten, with no exception. d2l's AddN sums at most
 * `limit - 1` inputs per program, in rounds.
 */
function fixWebgpuAddN(): void {
  const original = tf.getKernel("AddN", "webgpu");
  if (!original || (original as { d2l?: boolean }).d2l) return;
  const backend = tf.backend() as unknown as { device?: { limits?: { maxStorageBuffersPerShaderStage?: number } }; disposeData(dataId: object): boolean };
  const perProgram = Math.max(2, (backend.device?.limits?.maxStorageBuffersPerShaderStage ?? 8) - 1);
  tf.unregisterKernel("AddN", "webgpu");
  const kernel: tf.KernelConfig & { d2l?: boolean } = {
    kernelName: "AddN",
    backendName: "webgpu",
    kernelFunc: (args) => {
      // AddN's inputs are the array of tensors
      let inputs = Array.from(args.inputs as unknown as ArrayLike<tf.TensorInfo>);
      if (inputs.length <= perProgram) return original.kernelFunc(args);
      const partial: tf.TensorInfo[] = [];
      while (inputs.length > perProgram) {
        const next: tf.TensorInfo[] = [];
        for (let i = 0; i < inputs.length; i += perProgram) {
          const chunk = inputs.slice(i, i + perProgram);
          if (chunk.length === 1) {
            next.push(chunk[0]);
            continue;
          }
          const sum = original.kernelFunc({ ...args, inputs: chunk as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
          partial.push(sum);
          next.push(sum);
        }
        inputs = next;
      }
      const out = original.kernelFunc({ ...args, inputs: inputs as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
      for (const t of partial) backend.disposeData(t.dataId);
      return out;
    },
  };
  kernel.d2l = true;
  tf.registerKernel(kernel);
}

/**
 * What {@link backendInfo}, {@link numGpus} and {@link tryGpu} report for the
 * tensorflow backend: `pkg` as loaded, whether its backend says it runs on a
 * GPU (`isUsingGpuDevice`; undefined when it does not say), and the GPUs
 * `nvidia-smi` names. tfjs-node-gpu without a usable CUDA device (CUDA 11.2's
 * or cuDNN 8.1's libraries not found) runs on the CPU and says so.
 *
 * @example
 * tensorflowDetail("@tensorflow/tfjs-node-gpu", "4.22.0", true, ["NVIDIA H100 80GB HBM3"]).device // "gpu:0"
 */
export function tensorflowDetail(pkg: string, version: string, usingGpu: boolean | undefined, gpuNames: string[]): Detail {
  const gpuPackage = pkg.endsWith("-gpu");
  const onGpu = gpuPackage && (usingGpu ?? gpuNames.length > 0);
  if (onGpu) {
    return {
      device: "gpu:0",
      adapter: `${gpuNames[0] ?? "a CUDA GPU"} (CUDA, ${pkg})`,
      fallbackAdapter: false,
      threads: 1,
      gpus: Math.max(1, gpuNames.length),
      versions: { [pkg]: version },
    };
  }
  const note = gpuPackage ? `; ${pkg} found no CUDA GPU: are CUDA 11.2's libcudart.so.11.0 and cuDNN 8.1's libcudnn.so.8 on the library path (LD_LIBRARY_PATH or ldconfig)?` : "";
  return {
    device: "cpu",
    adapter: `TensorFlow C library on the CPU (${pkg}${note})`,
    fallbackAdapter: false,
    threads: os.availableParallelism(),
    gpus: 0,
    versions: { [pkg]: version },
  };
}

/** GPU names from `nvidia-smi -L`, or none. */
function nvidiaGpus(): string[] {
  const r = spawnSync("nvidia-smi", ["-L"], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0 || !r.stdout) return [];
  return r.stdout
    .split("\n")
    .map((l) => /^GPU \d+: (.*?)(?: \(UUID.*)?$/.exec(l.trim())?.[1])
    .filter((n): n is string => Boolean(n));
}

// -------------------------------------------------------------------- webgpu

interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
  getPreferredCanvasFormat?(): string;
  wgslLanguageFeatures?: unknown;
}
interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

/** The GPU API dawn.node uses on this platform. */
function nativeGpuApi(): { name: string; backend: string } {
  if (process.platform === "darwin") return { name: "Metal", backend: "metal" };
  if (process.platform === "win32") return { name: "D3D12", backend: "d3d12" };
  return { name: "Vulkan", backend: "vulkan" };
}

/** Software adapters by name, for the adapter list dawn.node prints (it has no fallback flag). */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b/i;

function requireDawn(): DawnModule {
  try {
    // The webgpu package is an ES module; Node 20.19+ and 22.12+ require() it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("webgpu") as DawnModule;
  } catch (e) {
    if (notInstalled(e, "webgpu")) throw new LoadError("the webgpu package (dawn.node) is not installed", FIX.webgpu);
    if ((e as { code?: string }).code === "ERR_REQUIRE_ESM") {
      throw new LoadError(`Node ${process.version} cannot require() the webgpu ES module`, "use Node 20.19 or newer (or 22.12+)");
    }
    throw new LoadError(`dawn.node does not load on ${process.platform}-${process.arch}: ${firstLine(e)}`, FIX.webgpu);
  }
}

function describeAdapter(info: GpuAdapterInfoLike): string {
  const parts = [info.description, info.device, info.vendor].filter((s): s is string => Boolean(s && s.trim()));
  return parts[0] ?? "unnamed adapter";
}

/**
 * How many hardware adapters dawn.node sees for the platform's API: dawn.node
 * lists them in the error for an adapter name that matches none.
 */
async function countHardwareAdapters(module: DawnModule): Promise<number | null> {
  try {
    const probe = module.create(["adapter=\u0001d2l-ts: list adapters"]);
    await probe.requestAdapter();
    return null;
  } catch (e) {
    const api = nativeGpuApi().backend;
    const names = new Set<string>();
    for (const m of String((e as Error).message).matchAll(/backend: '([^']*)', name: '([^']*)'/g)) {
      if (m[1].toLowerCase() === api && !SOFTWARE_ADAPTER.test(m[2])) names.add(m[2]);
    }
    return /Available adapters/.test(String((e as Error).message)) ? names.size : null;
  }
}

/**
 * What a Linux machine shows before dawn.node is loaded (see
 * {@link webgpuProbeVerdict}): the Vulkan driver (ICD) files the loader
 * would read, with the driver library each names, the folders searched, and
 * the GPU device nodes.
 */
export interface GpuProbeFacts {
  /** Each ICD file found, with its `ICD.library_path` ("" when the file cannot be read as JSON). */
  icdFiles: { file: string; library: string }[];
  /** The folders searched for ICD files (empty when `VK_ICD_FILENAMES` or `VK_DRIVER_FILES` names them). */
  searched: string[];
  /** GPU device nodes: `/dev/dri/renderD*`, `/dev/nvidia0`..., `/dev/dxg` (WSL). */
  deviceNodes: string[];
}

/** Software Vulkan drivers by their library: Mesa's lavapipe, SwiftShader. */
const SOFTWARE_ICD = /lvp|lavapipe|swiftshader/i;

/**
 * Whether the automatic order should load dawn.node at all, from facts that
 * cost a few file reads: `null` to go on and ask dawn.node for its adapter,
 * else the reason webgpu is skipped. No ICD file: no Vulkan driver. Only
 * software drivers (lavapipe, SwiftShader): the adapter would be a fallback
 * one, which the order skips anyway. A hardware driver but no device node:
 * the driver is installed without a GPU (a container without `/dev/nvidia0`,
 * say). Loading dawn.node costs tens of milliseconds and prints the Vulkan
 * loader's warnings, so the kernel's start does not pay it on machines
 * without a GPU.
 *
 * @param facts what the machine shows (see {@link GpuProbeFacts})
 * @example
 * webgpuProbeVerdict({ icdFiles: [{ file: "/usr/share/vulkan/icd.d/nvidia_icd.json", library: "libGLX_nvidia.so.0" }], searched: [], deviceNodes: ["/dev/nvidia0"] }) // null: ask dawn.node
 */
export function webgpuProbeVerdict(facts: GpuProbeFacts): string | null {
  if (facts.icdFiles.length === 0) {
    const shown = facts.searched.filter((d) => d.startsWith("/usr/share") || d.startsWith("/etc/vulkan"));
    return `no GPU adapter (no Vulkan driver: no ICD file in ${shown.length ? shown.join(" or ") : "the files VK_ICD_FILENAMES/VK_DRIVER_FILES name"}${shown.length ? ", nor in the other loader folders" : ""})`;
  }
  const hardware = facts.icdFiles.filter((f) => !SOFTWARE_ICD.test(path.basename(f.library || f.file)));
  if (hardware.length === 0) {
    const names = facts.icdFiles.map((f) => `${path.basename(f.file)}: ${path.basename(f.library)}`).join(", ");
    return `only a software fallback adapter (Vulkan driver ${names}), slower than wasm; D2L_BACKEND=webgpu uses it anyway`;
  }
  if (facts.deviceNodes.length === 0) {
    return `no GPU adapter (a Vulkan driver, ${hardware.map((f) => path.basename(f.file)).join(", ")}, but no GPU device: no /dev/dri/renderD*, /dev/nvidia0 or /dev/dxg)`;
  }
  return null;
}

function readIcd(file: string): { file: string; library: string } {
  try {
    const j = JSON.parse(fs.readFileSync(file, "utf8")) as { ICD?: { library_path?: unknown } };
    return { file, library: typeof j.ICD?.library_path === "string" ? j.ICD.library_path : "" };
  } catch {
    return { file, library: "" };
  }
}

function jsonFilesIn(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .sort()
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/**
 * Linux: the facts {@link webgpuProbeVerdict} decides on, read from the
 * folders where the Vulkan loader looks for driver (ICD) files (or the files
 * `VK_ICD_FILENAMES` / `VK_DRIVER_FILES` name, plus `VK_ADD_DRIVER_FILES`)
 * and from /dev.
 */
function gpuProbeFacts(): GpuProbeFacts {
  const env = process.env;
  const named = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  const added = (env.VK_ADD_DRIVER_FILES ?? "").split(":").filter(Boolean);
  const expand = (p: string): string[] => {
    try {
      return fs.statSync(p).isDirectory() ? jsonFilesIn(p) : [p];
    } catch {
      return [];
    }
  };
  let files: string[];
  let searched: string[] = [];
  if (named) {
    files = named.split(":").filter(Boolean).flatMap(expand);
  } else {
    const home = os.homedir();
    const roots = [
      env.XDG_CONFIG_HOME || path.join(home, ".config"),
      ...(env.XDG_CONFIG_DIRS || "/etc/xdg").split(":"),
      "/etc",
      env.XDG_DATA_HOME || path.join(home, ".local", "share"),
      ...(env.XDG_DATA_DIRS || "/usr/local/share:/usr/share").split(":"),
    ].filter(Boolean);
    searched = [...new Set(roots.map((r) => path.join(r, "vulkan", "icd.d")))];
    files = searched.flatMap(jsonFilesIn);
  }
  files = [...new Set([...files, ...added.flatMap(expand)])];
  const deviceNodes: string[] = [];
  for (const f of safeList("/dev/dri")) if (f.startsWith("renderD")) deviceNodes.push(`/dev/dri/${f}`);
  for (const f of safeList("/dev")) if (/^nvidia\d+$/.test(f) || f === "dxg") deviceNodes.push(`/dev/${f}`);
  return { icdFiles: files.map(readIcd), searched, deviceNodes };
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The adapter dawn.node gave, kept so that loading webgpu after the automatic probe asks only once. */
let webgpuProbe: { module: DawnModule; gpu: GpuLike; adapter: GpuAdapterLike } | null = null;

/** dawn.node's adapter for this platform's GPU API, or a LoadError that says why there is none. */
async function webgpuAdapter(explicit: boolean): Promise<{ module: DawnModule; gpu: GpuLike; adapter: GpuAdapterLike }> {
  if (webgpuProbe) return webgpuProbe;
  const api = nativeGpuApi();
  if (process.platform === "linux" && !explicit) {
    const reason = webgpuProbeVerdict(gpuProbeFacts());
    if (reason) throw new LoadError(reason, "install the GPU's Vulkan driver (libvulkan1 and the vendor's ICD)");
  }
  const module = requireDawn();
  let gpu: GpuLike;
  try {
    gpu = module.create([]);
  } catch (e) {
    throw new LoadError(`dawn.node failed to start: ${firstLine(e)}`, FIX.webgpu);
  }
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new LoadError(
      `no GPU adapter (dawn.node found no ${api.name} device)`,
      `install the GPU's ${api.name} driver${api.name === "Vulkan" ? " (libvulkan1 and the vendor's ICD); without a GPU, test/backend/setup-lavapipe.sh gives a software Vulkan device for tests" : ""}`,
    );
  }
  webgpuProbe = { module, gpu, adapter };
  return webgpuProbe;
}

/** What the adapter says of itself, in the shape {@link decideBackend} takes. */
function adapterFacts(adapter: GpuAdapterLike): WebgpuAdapterFacts {
  const info = adapter.info ?? {};
  return {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    description: describeAdapter(info),
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
  };
}

/** True for a software adapter: flagged as a fallback, or named like lavapipe, SwiftShader, WARP. */
function isSoftwareAdapter(a: WebgpuAdapterFacts): boolean {
  return a.isFallbackAdapter || SOFTWARE_ADAPTER.test(`${a.description} ${a.vendor} ${a.architecture}`);
}

/** The skip reason for a software adapter, as ready() prints it. */
function fallbackReason(a: WebgpuAdapterFacts): string {
  return `only a software fallback adapter (${a.description}), slower than wasm; D2L_BACKEND=webgpu uses it anyway`;
}

async function loadWebgpu(explicit: boolean): Promise<Detail> {
  const api = nativeGpuApi();
  const { module, gpu, adapter } = await webgpuAdapter(explicit);
  const facts = adapterFacts(adapter);
  const fallback = isSoftwareAdapter(facts);
  if (fallback && !explicit) {
    throw new LoadError(fallbackReason(facts), "set D2L_BACKEND=webgpu to use the software adapter, or install a GPU driver");
  }
  // tfjs-backend-webgpu reads navigator.gpu and the GPU* constants (GPUBufferUsage,
  // GPUMapMode, ...) from the global scope, and registers itself only if
  // navigator.gpu exists when it is first required.
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(module.globals)) if (!(k in g)) g[k] = v;
  if (typeof g.navigator !== "object" || g.navigator === null) {
    Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true, writable: true, enumerable: false });
  }
  let handedOut = false;
  const shim: GpuLike = {
    // The adapter probed above is the one tfjs uses; later requests go to dawn.node.
    requestAdapter: (options) => {
      if (!handedOut) {
        handedOut = true;
        return Promise.resolve(adapter);
      }
      return gpu.requestAdapter(options);
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat?.() ?? "rgba8unorm",
    get wgslLanguageFeatures() {
      return gpu.wgslLanguageFeatures;
    },
  };
  // navigator.gpu also keeps the dawn.node instance alive as long as the device is used.
  Object.defineProperty(g.navigator as object, "gpu", { value: shim, configurable: true, writable: true, enumerable: true });
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require("@tensorflow/tfjs-backend-webgpu");
  } catch (e) {
    if (notInstalled(e, "@tensorflow/tfjs-backend-webgpu")) throw new LoadError("@tensorflow/tfjs-backend-webgpu is not installed", FIX.webgpu);
    throw new LoadError(`@tensorflow/tfjs-backend-webgpu does not load: ${firstLine(e)}`, FIX.webgpu);
  }
  const version = checkMatchesTfjs("@tensorflow/tfjs-backend-webgpu");
  if (!tf.findBackendFactory("webgpu")) {
    throw new LoadError(
      "@tensorflow/tfjs-backend-webgpu was loaded before navigator.gpu existed, so it did not register",
      "let d2l load it: do not import @tensorflow/tfjs-backend-webgpu before d2l.ready()",
    );
  }
  await setTfBackend("webgpu");
  explainSyncReads();
  fixWebgpuCastToFloat();
  fixWebgpuAddN();
  const gpus = fallback ? 0 : ((await countHardwareAdapters(module)) ?? 1);
  return webgpuDetail(facts, gpus, api.name, { "@tensorflow/tfjs-backend-webgpu": version, webgpu: packageVersion("webgpu") });
}

interface WebgpuProgramLike {
  shaderKey: string;
  getUserCode(): string;
}
interface WebgpuBackendLike {
  runWebGPUProgram(program: WebgpuProgramLike, inputs: tf.TensorInfo[], outputDtype: tf.DataType): tf.TensorInfo;
}

/**
 * tfjs-backend-webgpu 4.22 casts int32 and bool to float32 by relabelling the
 * int32 buffer, and some of its shaders (Transpose) then read the int bits as
 * floats: `tf.transpose(tf.oneHot(i, 8).toFloat(), [1, 0, 2])` gave 1.4e-45
 * for 1, and Dawn printed a WGSL type error, with no exception (found by
 * bench/gpu.sh's profile of the GRU language model, whose recurrent layer
 * transposes its one-hot input). d2l's Cast converts with a real shader: tfjs'
 * own unary program (its input getter converts to f32) with the operation
 * left out. Other casts go to tfjs' kernel.
 */
function fixWebgpuCastToFloat(): void {
  const original = tf.getKernel("Cast", "webgpu");
  if (!original || (original as { d2l?: boolean }).d2l) return;
  const backend = tf.backend() as unknown as WebgpuBackendLike;
  // tfjs' unary program class, caught from one unary op on a GPU-resident tensor.
  type UnaryProgramClass = new (shape: number[], op: unknown) => WebgpuProgramLike;
  let unary: UnaryProgramClass | null = null;
  let unaryOp: unknown;
  const run = backend.runWebGPUProgram;
  backend.runWebGPUProgram = function (this: WebgpuBackendLike, program, inputs, outputDtype) {
    if (!unary && /^unary_/.test(program.shaderKey)) {
      unary = program.constructor as unknown as UnaryProgramClass;
      unaryOp = (program as { op?: unknown }).op;
    }
    return run.call(this, program, inputs, outputDtype);
  };
  try {
    tf.tidy(() => tf.neg(tf.add(tf.zeros([2048]), tf.ones([2048]))));
  } finally {
    backend.runWebGPUProgram = run;
  }
  const Unary = unary as UnaryProgramClass | null;
  if (!Unary) return; // tfjs changed: leave its Cast alone
  const CALL = "setOutputAtIndex(index, unaryOperation(a))";
  const probe = new Unary([1], unaryOp);
  if (!probe.getUserCode().includes(CALL)) return;
  tf.unregisterKernel("Cast", "webgpu");
  const kernel: tf.KernelConfig & { d2l?: boolean } = {
    kernelName: "Cast",
    backendName: "webgpu",
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const dtype = (args.attrs as { dtype: tf.DataType }).dtype;
      if (dtype !== "float32" || (x.dtype !== "int32" && x.dtype !== "bool")) return original.kernelFunc(args);
      const program = new Unary(x.shape, unaryOp);
      const userCode = program.getUserCode().replace(CALL, "setOutputAtIndex(index, a)");
      program.shaderKey = "d2l_cast_to_float32";
      program.getUserCode = () => userCode;
      return (args.backend as unknown as WebgpuBackendLike).runWebGPUProgram(program, [x], "float32");
    },
  };
  kernel.d2l = true;
  tf.registerKernel(kernel);
}

/**
 * What {@link backendInfo}, {@link numGpus} and {@link tryGpu} report for
 * webgpu on `adapter`: a hardware adapter is `gpu:0` and counts
 * `hardwareAdapters` GPUs (at least 1); a software one computes on the CPU
 * and counts none.
 *
 * @example
 * webgpuDetail({ vendor: "nvidia", architecture: "hopper", description: "NVIDIA H100", isFallbackAdapter: false }, 1, "Vulkan", {}).device // "gpu:0"
 */
export function webgpuDetail(adapter: WebgpuAdapterFacts, hardwareAdapters: number, api: string, versions: Record<string, string>): Detail {
  const fallback = isSoftwareAdapter(adapter);
  return {
    device: fallback ? "cpu" : "gpu:0",
    adapter: `${adapter.description} (${api}${fallback ? ", software fallback adapter" : ""})`,
    fallbackAdapter: fallback,
    vendor: adapter.vendor,
    architecture: adapter.architecture,
    threads: 1,
    gpus: fallback ? 0 : Math.max(1, hardwareAdapters),
    versions,
  };
}

/**
 * The one error a synchronous read of a GPU tensor gives on webgpu under Node
 * (`dataSync`, `arraySync`, `bufferSync`, `print`, `toString`): it names the
 * await form to use instead.
 *
 * @example
 * try { t.dataSync(); } catch (e) { (e as Error).message === WEBGPU_SYNC_READ; } // on webgpu, for a tensor on the GPU
 */
export const WEBGPU_SYNC_READ =
  "the webgpu backend cannot read a GPU tensor synchronously in Node (dataSync, arraySync, bufferSync, print, toString): " +
  "use await t.data() or await t.array() (await t.buffer() for a TensorBuffer) instead, or another backend (D2L_BACKEND=wasm)";

/**
 * tfjs-backend-webgpu reads GPU tensors synchronously through OffscreenCanvas,
 * which exists only in browsers; under Node the read fails with
 * "OffscreenCanvas is not defined". Say what to do instead.
 */
function explainSyncReads(): void {
  const backend = tf.backend() as unknown as { hasReadSyncWarned?: boolean };
  // tfjs warns once that synchronous reads are slow, then fails: the error below says it all.
  backend.hasReadSyncWarned = true;
  const proto = Object.getPrototypeOf(backend) as { readSync: (dataId: object) => unknown; d2lExplained?: boolean };
  if (proto.d2lExplained || typeof proto.readSync !== "function") return;
  const readSync = proto.readSync;
  proto.readSync = function (this: unknown, dataId: object): unknown {
    try {
      return readSync.call(this, dataId);
    } catch (e) {
      if (e instanceof ReferenceError && /OffscreenCanvas/.test(e.message)) throw new Error(WEBGPU_SYNC_READ);
      throw e;
    }
  };
  proto.d2lExplained = true;
}

// ---------------------------------------------------------------------- wasm

interface WasmModule {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** Threads asked for: the option, else D2L_WASM_THREADS, else the cores (at most 4, as tfjs does). */
function wasmThreadsWanted(option?: number): number {
  const env = process.env.D2L_WASM_THREADS;
  if (option !== undefined) {
    if (!Number.isInteger(option) || option < 1) throw new Error(`useBackend("wasm", { threads }) takes a positive integer; got ${option}`);
    return option;
  }
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`D2L_WASM_THREADS must be a positive integer; got ${JSON.stringify(env)}`);
    return n;
  }
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

interface WorkerCtor {
  new (file: string | URL, options?: object): WorkerLike;
}
interface WorkerLike {
  unref(): void;
  ref(): void;
  postMessage(value: unknown, transfer?: readonly unknown[]): void;
}

/**
 * Start tfjs-backend-wasm's threaded SIMD build under Node, which tfjs turns
 * off there (its worker and main script are Blob URLs, which Node's Worker
 * cannot start). Three things are lent for the start only: the worker script
 * is written to a file; the main script is sent as the path of the package's
 * own copy; `os.cpus()` reports twice the threads asked for, because the build
 * grants at most half the cores it sees (2 threads asked on 2 cores gave 1).
 * The pthread workers are unref'd so that they do not keep Node from exiting.
 */
async function setThreadedWasm(threads: number): Promise<void> {
  const out = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js"));
  const mainScript = path.join(out, "tfjs-backend-wasm-threaded-simd.js");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const contents = (require(path.join(out, "tfjs-backend-wasm-threaded-simd.worker.js")) as { wasmWorkerContents: string }).wasmWorkerContents;
  // tfjs escapes newlines the same way before it makes its Blob.
  const workerSource = contents.replace(/\n/g, "\\n");
  const dir = path.join(os.tmpdir(), `d2l-ts-${process.getuid?.() ?? "user"}`);
  fs.mkdirSync(dir, { recursive: true });
  const workerFile = path.join(dir, `tfjs-backend-wasm-${TFJS}-threaded-simd.worker.cjs`);
  if (!fs.existsSync(workerFile) || fs.readFileSync(workerFile, "utf8") !== workerSource) {
    const tmp = `${workerFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, workerSource);
    fs.renameSync(tmp, workerFile);
  }

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wt = require("worker_threads") as { Worker: WorkerCtor };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const osModule = require("os") as { cpus: () => os.CpuInfo[] };
  const NodeWorker = wt.Worker;
  const realCpus = osModule.cpus;
  class WasmWorker extends NodeWorker {
    constructor(file: string | URL, options?: object) {
      super(typeof file === "string" && file.startsWith("blob:") ? workerFile : file, options);
      this.unref();
    }
    override ref(): void {
      // Emscripten refs a worker while its pthread runs; the pool's threads run for good.
    }
    override postMessage(value: unknown, transfer?: readonly unknown[]): void {
      const m = value as { cmd?: string; urlOrBlob?: unknown } | null;
      super.postMessage(m && m.cmd === "load" && typeof m.urlOrBlob !== "string" ? { ...m, urlOrBlob: mainScript } : value, transfer);
    }
  }
  const cpus = realCpus();
  const seen = Array.from({ length: Math.max(2 * threads, cpus.length) }, (_, i) => cpus[i % Math.max(1, cpus.length)]);
  const g = globalThis as { Worker?: unknown };
  const hadWorker = "Worker" in g;
  const globalWorker = g.Worker;
  wt.Worker = WasmWorker;
  osModule.cpus = () => seen;
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  try {
    await setTfBackend("wasm");
  } finally {
    wt.Worker = NodeWorker;
    osModule.cpus = realCpus;
    // Emscripten sets a global Worker (to the class above); its thread pool is made by now.
    if (hadWorker) g.Worker = globalWorker;
    else delete g.Worker;
  }
}

async function loadWasm(threadsOption?: number): Promise<Detail> {
  let wasm: WasmModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    wasm = require("@tensorflow/tfjs-backend-wasm") as WasmModule;
  } catch (e) {
    if (notInstalled(e, "@tensorflow/tfjs-backend-wasm")) throw new LoadError("@tensorflow/tfjs-backend-wasm is not installed", FIX.wasm);
    throw new LoadError(`@tensorflow/tfjs-backend-wasm does not load: ${firstLine(e)}`, FIX.wasm);
  }
  const version = checkMatchesTfjs("@tensorflow/tfjs-backend-wasm");
  const want = wasmThreadsWanted(threadsOption);
  const simd = Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
  let note = "";
  if (tf.getBackend() === "wasm") {
    // Already running (useBackend("wasm") twice): its threads are fixed.
  } else if (want > 1 && simd && tf.engine().registry.wasm === undefined) {
    wasm.setThreadsCount(want);
    try {
      await setThreadedWasm(want);
    } catch (e) {
      note = `threaded build did not start (${firstLine(e)})`;
    }
  }
  if (tf.getBackend() !== "wasm") {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    wasm.setThreadsCount(1);
    await setTfBackend("wasm");
  }
  useD2lKernels("wasm");
  forwardMissingKernels("wasm");
  let threads = 1;
  try {
    threads = wasm.getThreadsCount();
  } catch {
    threads = 1;
  }
  return {
    device: "cpu",
    adapter: `WebAssembly${simd ? " SIMD" : ""}${threads > 1 ? `, ${threads} threads` : ""}${note ? `; ${note}` : ""}`,
    fallbackAdapter: false,
    threads,
    gpus: 0,
    versions: { "@tensorflow/tfjs-backend-wasm": version },
  };
}

/** Kernels that need complex or string tensors: not forwarded. */
const NOT_FORWARDED = new Set(["Complex", "ComplexAbs", "Real", "Imag", "FFT", "IFFT", "Draw", "StaticRegexReplace", "StringSplit", "StringToHashBucketFast", "StringNGrams"]);

interface KernelBackendLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
}
interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

/**
 * Register, for `backendName`, every kernel the cpu backend has and it lacks:
 * the inputs are copied to the cpu backend, its kernel runs, the outputs are
 * copied back. Gradients are registered by kernel name, so training works.
 */
function forwardMissingKernels(backendName: string): string[] {
  const have = new Set(tf.getKernelsForBackend(backendName).map((k) => k.kernelName));
  const forwarded: string[] = [];
  for (const kernel of tf.getKernelsForBackend("cpu")) {
    if (have.has(kernel.kernelName) || NOT_FORWARDED.has(kernel.kernelName)) continue;
    const cpuKernel = kernel.kernelFunc;
    tf.registerKernel({
      kernelName: kernel.kernelName,
      backendName,
      kernelFunc: ({ inputs, attrs, backend }) => {
        const cpu = tf.findBackend("cpu") as unknown as KernelBackendLike & { firstUse?: boolean };
        if (!cpu) throw new Error(`${kernel.kernelName} on ${backendName} runs on the cpu backend, which did not start`);
        cpu.firstUse = false; // tfjs's "install tfjs-node" banner is for users of cpu, not for this
        const from = backend as unknown as KernelBackendLike;
        const made: object[] = [];
        try {
          const moved: Record<string, TensorInfoLike> = {};
          for (const [name, t] of Object.entries(inputs)) {
            if (!t) continue;
            const dataId = cpu.write(from.readSync(t.dataId), t.shape, t.dtype);
            made.push(dataId);
            moved[name] = { dataId, shape: t.shape, dtype: t.dtype };
          }
          const out = cpuKernel({ inputs: moved as unknown as tf.NamedTensorInfoMap, attrs, backend: cpu as unknown as tf.KernelBackend });
          const outs = (Array.isArray(out) ? out : [out]) as TensorInfoLike[];
          const back = outs.map((o) => {
            made.push(o.dataId);
            return { dataId: from.write(cpu.readSync(o.dataId), o.shape, o.dtype), shape: o.shape, dtype: o.dtype };
          });
          return (Array.isArray(out) ? back : back[0]) as unknown as tf.TensorInfo;
        } finally {
          for (const id of new Set(made)) cpu.disposeData(id, true);
        }
      },
    });
    forwarded.push(kernel.kernelName);
  }
  return forwarded;
}

// -------------------------------------------------------------------- native

/** The native backend (lib/native/), with the kernels wasm lacks forwarded to cpu like wasm's. */
async function loadNativeBackend(): Promise<Detail> {
  // native starts from a copy of wasm's kernels: d2l's (convolution gradients, Tile, ...) first,
  // so that what native does not run itself is d2l's fast wasm version, not tfjs's loop.
  // The wasm package registers its kernels when first loaded: load it before replacing some.
  try {
    require("@tensorflow/tfjs-backend-wasm");
  } catch {
    // loadNative says what to install
  }
  useD2lKernels("wasm");
  try {
    return await loadNative((name) => {
      forwardMissingKernels(name);
    });
  } catch (e) {
    if (e instanceof NativeUnavailable) throw new LoadError(e.message, e.fix);
    throw e;
  }
}

// ----------------------------------------------------------------------- cpu

async function loadCpu(): Promise<Detail> {
  await setTfBackend("cpu");
  // d2l already said which faster backends were skipped; tfjs's own banner would repeat it.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { device: "cpu", adapter: "JavaScript", fallbackAdapter: false, threads: 1, gpus: 0, versions: {} };
}

// --------------------------------------------------------------- the choice

async function load(name: BackendName, explicit: boolean, options: UseBackendOptions): Promise<void> {
  // Whatever runs, cpu may too (tf.setBackend("cpu"), webgpu's small-tensor hand-off).
  useD2lKernels("cpu");
  let d: Detail;
  switch (name) {
    case "tensorflow":
      d = await loadTensorflow();
      break;
    case "webgpu":
      d = await loadWebgpu(explicit);
      break;
    case "native":
      d = await loadNativeBackend();
      break;
    case "wasm":
      if (nativeStarted()) {
        throw new LoadError(
          "the native backend already started in this process, and wasm cannot start beside it (they share the wasm kernels' state)",
          "restart the process (in a notebook: restart the kernel) and ask for wasm first (D2L_BACKEND=wasm)",
        );
      }
      d = await loadWasm(options.threads);
      break;
    case "cpu":
      d = await loadCpu();
      break;
  }
  details.set(name, d);
}

function isKnown(name: string): name is BackendName {
  return (KNOWN as readonly string[]).includes(name);
}

function unknownBackend(name: string, where: string): Error {
  return new Error(`unknown backend ${JSON.stringify(name)}${where}; expected one of ${KNOWN.join(", ")} (or "auto")`);
}

/**
 * Use the named backend, or fail saying what to install. Unlike the automatic
 * choice, `useBackend("webgpu")` accepts a software fallback adapter.
 *
 * @example
 * await d2l.useBackend("cpu");
 * await d2l.useBackend("wasm", { threads: 2 });
 */
export async function useBackend(name: string, options: UseBackendOptions = {}): Promise<string> {
  if (!isKnown(name)) throw unknownBackend(name, "");
  if (options.threads !== undefined) {
    if (name !== "wasm") throw new Error(`the threads option is for the wasm backend, not "${name}"`);
    wasmThreadsWanted(options.threads); // a bad value fails here, before anything loads
  }
  try {
    await load(name, true, options);
  } catch (e) {
    const fix = e instanceof LoadError ? e.fix : FIX[name];
    throw new Error(`backend "${name}" cannot load: ${firstLine(e)}. To use it: ${fix}`);
  }
  chosen = Promise.resolve(name);
  return name;
}

async function choose(): Promise<string> {
  const wanted = (process.env.D2L_BACKEND ?? "").trim().toLowerCase();
  if (wanted && wanted !== "auto") {
    if (!isKnown(wanted)) throw unknownBackend(wanted, " in D2L_BACKEND");
    return useBackend(wanted);
  }
  const found: BackendFindings = {};
  const skip = (name: string, reason: string): void => {
    skipped.push({ name, reason });
    console.warn(`d2l: skipped ${name}: ${reason}`);
  };
  for (;;) {
    const d = decideBackend(found);
    const name = d.choice ?? d.probe;
    if (!name) break;
    try {
      if (name === "webgpu" && d.probe) {
        // The adapter first: the decision needs its facts before webgpu loads.
        const facts = adapterFacts((await webgpuAdapter(false)).adapter);
        found.webgpu = facts;
        if (isSoftwareAdapter(facts)) {
          skip(name, fallbackReason(facts));
          webgpuProbe = null; // not used: let dawn.node's instance go
        }
        continue;
      }
      await load(name, false, {});
      return name;
    } catch (e) {
      // native's reason says what to install: it is built on the user's machine, and usually just was not.
      const reason = name === "native" && e instanceof LoadError ? `${firstLine(e)}; to use it: ${e.fix}` : firstLine(e);
      skip(name, reason);
      if (name === "cpu") break;
      found[name] = reason;
    }
  }
  throw new Error(`no TensorFlow.js backend could load, not even cpu: ${skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")}`);
}

/**
 * Wait until the backend is chosen; the kernel's prelude calls it, so cells
 * never need to.
 *
 * @example
 * await d2l.ready(); // "tensorflow" where tfjs-node is installed, else "wasm", for example
 */
export function ready(): Promise<string> {
  if (!chosen) chosen = choose();
  return chosen;
}

/**
 * The backend in use: its name, device, adapter, threads and versions, and
 * the backends that were skipped on the way.
 *
 * @example
 * d2l.backendInfo() // { name: "wasm", device: "cpu", adapter: "WebAssembly SIMD, 2 threads", threads: 2, ... }
 */
export function backendInfo(): BackendInfo {
  const name = tf.getBackend() ?? "none";
  const d = details.get(name);
  return {
    name,
    device: d?.device ?? (name === "webgl" ? "gpu:0" : "cpu"),
    adapter: d?.adapter ?? name,
    fallbackAdapter: d?.fallbackAdapter ?? false,
    vendor: d?.vendor ?? "",
    architecture: d?.architecture ?? "",
    threads: d?.threads ?? 1,
    tfjsVersion: TFJS,
    versions: { "@tensorflow/tfjs": TFJS, ...(d?.versions ?? {}) },
    skipped: skipped.map((s) => ({ ...s })),
    blas: name === "native" ? describeBlas(loadAddon()) : "",
  };
}

/**
 * The book's `num_gpus()`: how many hardware GPUs the backend in use can
 * reach (CUDA devices for tfjs-node-gpu, hardware adapters for webgpu).
 * Software adapters do not count, and cpu and wasm reach none. TensorFlow.js
 * computes on one device, `gpu:0`.
 *
 * @example
 * d2l.numGpus() // 0 on a machine without a GPU
 */
export function numGpus(): number {
  return details.get(tf.getBackend() ?? "")?.gpus ?? 0;
}

/**
 * The book's `try_gpu(i)`: `"gpu:i"` if that GPU exists, else `"cpu"`.
 *
 * @example
 * d2l.tryGpu()  // "gpu:0" with a GPU, "cpu" without
 * d2l.tryGpu(3) // "cpu" unless there are four GPUs
 */
export function tryGpu(i = 0): string {
  if (!Number.isInteger(i) || i < 0) throw new Error(`tryGpu(i) takes a GPU index 0, 1, ...; got ${i}`);
  return numGpus() > i ? `gpu:${i}` : "cpu";
}

/**
 * The book's `try_all_gpus()`: every GPU's device name, or `["cpu"]` if none.
 *
 * @example
 * d2l.tryAllGpus() // ["gpu:0"] with one GPU, ["cpu"] without
 */
export function tryAllGpus(): string[] {
  const n = numGpus();
  return n > 0 ? Array.from({ length: n }, (_, i) => `gpu:${i}`) : ["cpu"];
}
