/**
 * The native backend's whole recurrent layers (vanilla RNN, LSTM, GRU) in one call to oneDNN's RNN primitives, forward and backward
 * (lib/native/src/rnn.cc).
 *
 * Two kernels of d2l's own: `D2lRnn` runs one layer, one direction, over the whole sequence (in training, it also fills the
 * workspace oneDNN's backward reads), and `D2lRnnGrad`, its registered gradient, gives the gradients of the input, the initial
 * state(s) and every weight in one call. {@link nativeRnn} is the op; rnnLayers.ts makes `tf.layers.simpleRNN`, `gru` and
 * `lstm` use it, and lib/nn/gru.ts' `FusedGRU` (PyTorch's GRU) too.
 */
import * as tf from "@tensorflow/tfjs";
import type { NativeAddon } from "./addon";
import type { Kernel, KernelArgs, WasmBackendLike } from "./kernels";

/** The addon's recurrent functions (lib/native/src/rnn.cc). */
export interface NativeRnnAddon extends NativeAddon {
  /** Bytes of the workspace a training forward of `params` = [cell, steps, batch, input, hidden] keeps for the backward. */
  rnnWorkspace(params: number[]): number;
  /** kind 0: forward inference, 1: forward training, 2: backward; offsets and params as rnn.cc says. */
  rnn(heap: ArrayBuffer, kind: 0 | 1 | 2, offsets: number[], params: number[]): void;
}

/**
 * The recurrent cells oneDNN computes: `"rnn"` (tanh), `"lstm"`, `"gru"` (Keras' and tfjs' GRU: the reset gate acts on
 * the state before the recurrent product) and `"lbrgru"` (linear before reset: PyTorch's and cuDNN's GRU).
 */
export type RnnCell = "rnn" | "lstm" | "gru" | "lbrgru";

const CELL_CODE: Record<RnnCell, number> = { rnn: 0, lstm: 1, gru: 2, lbrgru: 3 };
const GATES: Record<RnnCell, number> = { rnn: 1, lstm: 4, gru: 3, lbrgru: 3 };

/** The names of the kernels this file provides. */
export const RNN_KERNELS: readonly string[] = ["D2lRnn", "D2lRnnGrad", "D2lRnnWorkspace"];

// oneDNN reads its workspace at 64-byte boundaries: the workspace tensor has room to start at one.
const ALIGN = 64;

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The kernels (`D2lRnn`, `D2lRnnGrad`, `D2lRnnWorkspace`), bound to the addon; `base(name)` gives the wasm kernel of that
 * name (none is needed here). index.ts registers them for the native backend.
 *
 * @example
 * ```ts
 * const kernels = rnnKernels(loadAddon(), base); // { D2lRnn, D2lRnnGrad, D2lRnnWorkspace }
 * ```
 */
export function rnnKernels(addon: NativeAddon, base: (name: string) => Kernel): Record<string, Kernel> {
  void base;
  const rnnAddon = addon as NativeRnnAddon;
  const offset = (b: WasmBackendLike, t: tf.TensorInfo, what: string): number => {
    const d = b.dataIdMap.get(t.dataId);
    if (!d) throw new Error(`native rnn: the ${what} tensor is not on the native backend (was it disposed?)`);
    return d.memoryOffset;
  };
  const aligned = (o: number): number => o + ((ALIGN - (o % ALIGN)) % ALIGN);
  const heap = (b: WasmBackendLike): ArrayBuffer => b.wasm.HEAPU8.buffer as ArrayBuffer;
  const params = (cell: RnnCell, x: tf.TensorInfo, h0: tf.TensorInfo): number[] => [CELL_CODE[cell], x.shape[1], x.shape[0], x.shape[2], h0.shape[1]];
  const zeroed = (b: WasmBackendLike, shape: number[]): tf.TensorInfo => {
    const t = b.makeOutput(shape, "float32");
    new Float32Array(heap(b), offset(b, t, "output"), size(shape)).fill(0);
    return t;
  };

  const forward = ({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] => {
    const b = backend as WasmBackendLike;
    const { x, h0, c0, wx, wh, bias, ws } = inputs as Record<string, tf.TensorInfo>;
    const cell = attrs?.cell as RnnCell;
    const training = attrs?.training === true;
    const p = params(cell, x, h0);
    const [N, T, , H] = [p[2], p[1], p[3], p[4]];
    const lstm = cell === "lstm";
    const y = b.makeOutput([N, T, H], "float32");
    const hT = b.makeOutput([N, H], "float32");
    const cT = lstm ? b.makeOutput([N, H], "float32") : zeroed(b, [1]);
    rnnAddon.rnn(
      heap(b),
      training ? 1 : 0,
      [
        offset(b, x, "x"),
        offset(b, h0, "h0"),
        lstm ? offset(b, c0, "c0") : -1,
        offset(b, wx, "kernel"),
        offset(b, wh, "recurrent kernel"),
        offset(b, bias, "bias"),
        offset(b, y, "y"),
        offset(b, hT, "hT"),
        lstm ? offset(b, cT, "cT") : -1,
        training ? aligned(offset(b, ws, "workspace")) : -1,
      ],
      p,
    );
    return [y, hT, cT];
  };

  const backward = ({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] => {
    const b = backend as WasmBackendLike;
    const { x, h0, c0, wx, wh, bias, y, hT, cT, ws, dy, dhT, dcT } = inputs as Record<string, tf.TensorInfo>;
    const cell = attrs?.cell as RnnCell;
    const lstm = cell === "lstm";
    const p = params(cell, x, h0);
    const dx = b.makeOutput([...x.shape], "float32");
    const dh0 = b.makeOutput([...h0.shape], "float32");
    const dc0 = lstm ? b.makeOutput([...c0.shape], "float32") : zeroed(b, [...c0.shape]);
    const dwx = b.makeOutput([...wx.shape], "float32");
    const dwh = b.makeOutput([...wh.shape], "float32");
    const db = b.makeOutput([...bias.shape], "float32");
    const o = (t: tf.TensorInfo, what: string) => offset(b, t, what);
    rnnAddon.rnn(
      heap(b),
      2,
      [
        o(x, "x"),
        o(h0, "h0"),
        lstm ? o(c0, "c0") : -1,
        o(wx, "kernel"),
        o(wh, "recurrent kernel"),
        o(bias, "bias"),
        o(y, "y"),
        o(hT, "hT"),
        lstm ? o(cT, "cT") : -1,
        aligned(o(ws, "workspace")),
        o(dy, "dy"),
        o(dhT, "dhT"),
        lstm ? o(dcT, "dcT") : -1,
        o(dx, "dx"),
        o(dh0, "dh0"),
        lstm ? o(dc0, "dc0") : -1,
        o(dwx, "dkernel"),
        o(dwh, "drecurrent kernel"),
        o(db, "dbias"),
      ],
      p,
    );
    return [dx, dh0, dc0, dwx, dwh, db];
  };
  // oneDNN's workspace, uninitialised: an input of D2lRnn (which fills it) rather than an output, so that the
  // tape gives it no gradient (it would fill a workspace-sized zero tensor for it at every backward).
  const workspace = ({ backend, attrs }: KernelArgs): tf.TensorInfo => {
    const b = backend as WasmBackendLike;
    const p = attrs?.params as number[];
    return b.makeOutput([Math.ceil(rnnAddon.rnnWorkspace(p) / 4) + ALIGN / 4], "float32");
  };
  return { D2lRnn: forward, D2lRnnGrad: backward, D2lRnnWorkspace: workspace };
}

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: "D2lRnn",
    inputsToSave: ["x", "h0", "c0", "wx", "wh", "bias", "ws"],
    outputsToSave: [true, true, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [dy, dhT, dcT] = dys as tf.Tensor[];
      const [x, h0, c0, wx, wh, bias, ws, y, hT, cT] = saved;
      const grads = tf.engine().runKernel("D2lRnnGrad", { x, h0, c0, wx, wh, bias, y, hT, cT, ws, dy, dhT, dcT }, { cell: attrs.cell }) as tf.Tensor[];
      const [dx, dh0, dc0, dwx, dwh, db] = grads;
      // The workspace is never on a gradient's path (nothing computes it from a variable).
      return { x: () => dx, h0: () => dh0, c0: () => dc0, wx: () => dwx, wh: () => dwh, bias: () => db, ws: () => tf.zerosLike(ws) };
    },
  });
}

/** True when gradients are being recorded (inside `tf.grad`, `minimize`, `fit`): the forward keeps oneDNN's workspace then. */
function recording(): boolean {
  const state = (tf.engine() as unknown as { state: { gradientDepth: number } }).state;
  return state.gradientDepth > 0;
}

/**
 * True when the native backend is tfjs' backend, its recurrent kernels are registered and `D2L_NATIVE_RNN` is not `0`.
 *
 * @example
 * ```ts
 * if (nativeRnnAvailable()) [y, hT] = nativeRnn("lbrgru", x, h0, null, wx, wh, bias);
 * ```
 */
export function nativeRnnAvailable(): boolean {
  return tf.getBackend() === "native" && tf.getKernel("D2lRnn", "native") !== undefined && (typeof process === "undefined" || process.env.D2L_NATIVE_RNN !== "0");
}

/**
 * One recurrent layer over a whole sequence on the native backend (oneDNN): `x` [batch, steps, in], the initial state `h0`
 * [batch, H] (and `c0` for an LSTM), the input kernel `wx` [in, G·H], the recurrent kernel `wh` [H, G·H] and the bias
 * ([G·H]; [4H] for `"lbrgru"`: the update and reset gates' summed biases, then the candidate's input and recurrent ones).
 * Gates in oneDNN's order, which is tfjs': LSTM (i, f, c, o); GRU (z, r, h). Returns `[y [batch, steps, H], hT, cT]` (cT:
 * a placeholder [1] but for an LSTM); differentiable in every input (one native call backward).
 *
 * @example
 * ```ts
 * const [y, hT] = nativeRnn("gru", x, tf.zeros([batch, H]), null, kernel, recurrentKernel, bias);
 * ```
 */
export function nativeRnn(cell: RnnCell, x: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor | null, wx: tf.Tensor, wh: tf.Tensor, bias: tf.Tensor): tf.Tensor[] {
  if (!nativeRnnAvailable()) throw new Error("nativeRnn runs on the native backend only (tf.getBackend() is " + tf.getBackend() + ")");
  if (!(cell in CELL_CODE)) throw new Error(`nativeRnn: cell must be one of ${Object.keys(CELL_CODE).join(", ")}; got ${String(cell)}`);
  registerGradient();
  const G = GATES[cell];
  if (x.rank !== 3 || h0.rank !== 2) throw new Error(`nativeRnn: expected x [batch, steps, in] and h0 [batch, hidden]; got [${x.shape}] and [${h0.shape}]`);
  const [N, , I] = x.shape as [number, number, number];
  const H = h0.shape[1] as number;
  const want: [string, tf.Tensor | null, number[]][] = [
    ["h0", h0, [N, H]],
    ["c0", cell === "lstm" ? c0 : null, [N, H]],
    ["kernel", wx, [I, G * H]],
    ["recurrent kernel", wh, [H, G * H]],
    ["bias", bias, [(cell === "lbrgru" ? 4 : G) * H]],
  ];
  for (const [what, t, shape] of want) {
    if (what === "c0" && cell !== "lstm") continue;
    if (!t) throw new Error(`nativeRnn: an LSTM needs c0 [${shape}]`);
    if (t.size !== size(shape) || (what !== "bias" && t.shape.join() !== shape.join()))
      throw new Error(`nativeRnn (${cell}): ${what} must be [${shape}] for x [${x.shape}] and ${H} units; got [${t.shape}]`);
  }
  for (const t of [x, h0, c0, wx, wh, bias]) if (t && t.dtype !== "float32") throw new Error(`nativeRnn: tensors must be float32; got ${t.dtype}`);
  const c = cell === "lstm" ? (c0 as tf.Tensor) : tf.zeros([1]);
  const training = recording();
  const params = [CELL_CODE[cell], x.shape[1] as number, N, I, H];
  const ws = training ? (tf.engine().runKernel("D2lRnnWorkspace", {}, { params }) as tf.Tensor) : tf.zeros([1]);
  const b = tf.reshape(bias, [-1]);
  const out = tf.engine().runKernel("D2lRnn", { x, h0, c0: c, wx, wh, bias: b, ws }, { cell, training }) as tf.Tensor[];
  for (const t of [c === c0 ? null : c, ws, b === bias ? null : b]) t?.dispose();
  return out;
}

export { installNativeRnn } from "./rnnLayers";
