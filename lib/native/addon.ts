/**
 * Finding and loading d2l's native addon (`lib/native/build/Release/d2l_native.node`,
 * built from `lib/native/src/addon.cc` by `bin/build-native.js` at `npm install`).
 * A missing or broken addon is a {@link NativeUnavailable} that says what to do.
 */
import * as fs from "fs";
import * as path from "path";

/** What the addon exports (see lib/native/src/addon.cc for the argument layouts). */
export interface NativeAddon {
  /** C = act(op(A)·op(B) + bias) on float32 data at byte offsets of `heap`. */
  matmul(heap: ArrayBuffer, offsets: number[], shapes: number[], options: number[]): void;
  /** kind 0: forward (+ bias, activation); 1: gradient of the input; 2: gradient of the filter. */
  conv2d(heap: ArrayBuffer, kind: 0 | 1 | 2, offsets: number[], params: number[]): void;
  /** kind 0: AvgPoolGrad, 1: MaxPoolGrad (NHWC, dilation 1). */
  poolGrad(heap: ArrayBuffer, kind: 0 | 1, offsets: number[], params: number[]): void;
  /** y = sigmoid(x) (alg 0) or tanh(x) (alg 1) over `n` floats. */
  unary(heap: ArrayBuffer, alg: 0 | 1, offsets: number[], n: number): void;
  /** x viewed as [outer, inner]: kind 0 sums over outer (one sum per column), 1 over inner (one per row). */
  sumRows(heap: ArrayBuffer, kind: 0 | 1 | 2, offsets: number[], shape: number[]): void;
  /** Tile 4-byte elements: shapes = [rank, ...inDims, ...reps]. */
  tile(heap: ArrayBuffer, offsets: number[], shapes: number[]): void;
  info(): { onednn: string; threads: number; runtime: string; cacheSize: number; cacheCapacity: number };
  /** oneDNN's name for the implementation of the last primitive run ("gemm:jit", "jit:avx2", ...). */
  lastImpl(): string;
}

/** The command that builds the addon, and what it needs. */
export const NATIVE_FIX = "apt-get install g++ make libdnnl-dev, then npm run build:native";

/** The native backend cannot run here: `message` says why, `fix` what to do. */
export class NativeUnavailable extends Error {
  constructor(
    message: string,
    readonly fix: string = NATIVE_FIX,
  ) {
    super(message);
    this.name = "NativeUnavailable";
  }
}

/** lib/native/, from this file's place in the source tree or in dist/. */
export function nativeDir(): string {
  const candidates = [__dirname, path.resolve(__dirname, "../../../lib/native")];
  return candidates.find((d) => fs.existsSync(path.join(d, "binding.gyp"))) ?? candidates[1];
}

/** Where the built addon is: `D2L_NATIVE_ADDON` (a .node file) when set, else lib/native/build/Release/. */
export function addonPath(): string {
  return process.env.D2L_NATIVE_ADDON || path.join(nativeDir(), "build", "Release", "d2l_native.node");
}

let loaded: NativeAddon | null = null;

/** The addon, loaded once; a {@link NativeUnavailable} when it is not built or does not load. */
export function loadAddon(): NativeAddon {
  if (loaded) return loaded;
  if (process.platform !== "linux") {
    throw new NativeUnavailable(`the native backend is built for Linux only (this is ${process.platform})`, "use wasm (D2L_BACKEND=wasm)");
  }
  const file = addonPath();
  const rel = path.relative(process.cwd(), file) || file;
  if (!fs.existsSync(file)) {
    // bin/build-native.js leaves the reason the last build gave up, with what to install.
    const why = path.join(path.dirname(path.dirname(file)), "not-built.txt");
    const last = fs.existsSync(why) ? fs.readFileSync(why, "utf8").split("\n")[0].trim() : "";
    const m = /^(.*?); to build it: (.*)$/.exec(last);
    if (m) throw new NativeUnavailable(`the native addon is not built: ${m[1]}`, m[2]);
    throw new NativeUnavailable(`the native addon is not built (no ${rel.startsWith("..") ? file : rel})`);
  }
  // oneDNN's threads are OpenMP's (libgomp), which by default spin while they wait for
  // work. On a machine where other processes also compute, a spinning thread holds a core
  // that the thread everyone waits for needs: a LeNet step took 235 ms instead of 44 ms.
  // So they sleep while waiting, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT says otherwise.
  // libgomp reads the variable once, as the addon loads it; child processes do not inherit it.
  const setWait = process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined;
  if (setWait) process.env.OMP_WAIT_POLICY = "passive";
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(file) as NativeAddon;
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0].trim();
    const lib = /lib(dnnl|gomp|openblas)[^:]*/.exec(msg)?.[0];
    throw new NativeUnavailable(`the native addon does not load: ${msg}`, lib ? `apt-get install libdnnl2 (oneDNN; libdnnl-dev to build), then npm run build:native` : NATIVE_FIX);
  } finally {
    if (setWait) delete process.env.OMP_WAIT_POLICY;
  }
  return loaded;
}
