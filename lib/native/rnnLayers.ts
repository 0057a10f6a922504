/**
 * tfjs' recurrent layers on the native backend's whole-sequence kernels (rnn.ts).
 *
 * `tf.layers.simpleRNN`, `tf.layers.gru` and `tf.layers.lstm` (and through them `tf.layers.bidirectional`, stacks of them
 * and the book's `d2l.RNNModel`) run the whole sequence in one oneDNN call forward and one backward when the backend is
 * `native` and the layer's settings are ones oneDNN computes exactly:
 *
 * - `activation: "tanh"` (the default) and, for GRU and LSTM, `recurrentActivation: "sigmoid"` (the book's; tfjs' default
 *   is `"hardSigmoid"`, which oneDNN has not: such a layer runs tfjs' step-by-step path, with the same results as before);
 * - no dropout or recurrent dropout while training (at inference they do nothing, and the native path runs);
 * - not `stateful`;
 * - `goBackwards` (the input is reversed, as tfjs does);
 * - a mask (`tf.layers.masking`, `maskZero` embeddings, an explicit `mask`) that keeps a prefix of each row's steps (right
 *   padding): the native output is taken at each row's last valid step and carried over the padding, as tfjs does
 *   (with `goBackwards`, so in bidirectional layers, each row's own steps are read in reverse); any other mask, or a
 *   masked LSTM that returns its state (its memory cell at each row's end is not kept), runs tfjs' path.
 *
 * Everything else runs tfjs' own path, unchanged. `D2L_NATIVE_RNN=0` in the environment turns the native path off (to
 * compare). tfjs' GRU is Keras' (the reset gate before the recurrent product, `resetAfter: false`), which oneDNN computes
 * as its `gru`; d2l's `FusedGRU` (PyTorch's GRU) runs on oneDNN's linear-before-reset GRU.
 */
import * as tf from "@tensorflow/tfjs";
import type { NativeAddon } from "./addon";
import { nativeRnn, nativeRnnAvailable, type RnnCell } from "./rnn";

interface ActivationLike {
  getClassName(): string;
}

/** The parts of tfjs' recurrent cells this hook reads. */
interface CellLike {
  getClassName(): string;
  units: number;
  activation: ActivationLike;
  recurrentActivation?: ActivationLike;
  useBias: boolean;
  dropout?: number;
  recurrentDropout?: number;
  kernel: tf.LayerVariable;
  recurrentKernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
}

/** The parts of tfjs' RNN layer this hook reads. */
interface RnnLayerLike {
  cell: CellLike;
  stateful: boolean;
  goBackwards: boolean;
  returnSequences: boolean;
  returnState: boolean;
}

type Kwargs = { mask?: tf.Tensor | tf.Tensor[] | null; training?: boolean; initialState?: tf.Tensor[] | null } | undefined;
type Call = (this: RnnLayerLike, inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs) => tf.Tensor | tf.Tensor[];

const CELLS: Record<string, RnnCell> = { SimpleRNNCell: "rnn", GRUCell: "gru", LSTMCell: "lstm" };

/** Each row's count of valid steps when `mask` [batch, steps] keeps a prefix of every row, else null. */
function prefixLengths(mask: tf.Tensor, batch: number, steps: number): number[] | null {
  if (mask.size !== batch * steps) return null;
  const m = mask.dataSync(); // sync-read-ok: native backend only
  const lengths: number[] = [];
  for (let n = 0; n < batch; n++) {
    let len = 0;
    while (len < steps && m[n * steps + len]) len++;
    for (let t = len; t < steps; t++) if (m[n * steps + t]) return null;
    lengths.push(len);
  }
  return lengths;
}

/** The layer's output on the native path, or null when it must take tfjs' own. */
function nativeCall(layer: RnnLayerLike, inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] | null {
  if (!nativeRnnAvailable()) return null;
  const cell = layer.cell;
  const kind = cell && typeof cell.getClassName === "function" ? CELLS[cell.getClassName()] : undefined;
  if (!kind || layer.stateful) return null;
  if (cell.activation?.getClassName() !== "tanh") return null;
  if (kind !== "rnn" && cell.recurrentActivation?.getClassName() !== "sigmoid") return null;
  const training = kwargs?.training === true;
  if (training && ((cell.dropout ?? 0) > 0 || (cell.recurrentDropout ?? 0) > 0)) return null;
  let x = inputs;
  if (Array.isArray(x)) {
    if (x.length !== 1) return null;
    x = x[0];
  }
  if (x.rank !== 3 || x.dtype !== "float32") return null;
  const [N, T] = x.shape;
  const H = cell.units;
  const init = kwargs?.initialState ?? null;
  const nStates = kind === "lstm" ? 2 : 1;
  if (init && (init.length !== nStates || init.some((s) => s.rank !== 2 || s.shape[0] !== N || s.shape[1] !== H))) return null;
  let mask = kwargs?.mask ?? null;
  if (Array.isArray(mask)) mask = mask[0] ?? null;
  let lengths: number[] | null = null;
  if (mask) {
    if (kind === "lstm" && layer.returnState) return null;
    lengths = prefixLengths(mask, N, T);
    if (!lengths) return null;
    if (lengths.every((l) => l === T)) lengths = null;
  }
  return tf.tidy(() => {
    const h0 = init ? init[0] : tf.zeros([N, H]);
    const c0 = kind === "lstm" ? (init ? init[1] : tf.zeros([N, H])) : null;
    const G = kind === "rnn" ? 1 : kind === "lstm" ? 4 : 3;
    const bias = cell.useBias && cell.bias ? cell.bias.read() : tf.zeros([G * H]);
    let input = x as tf.Tensor;
    if (layer.goBackwards && lengths) {
      // tfjs reverses the steps and the mask: a row's padding comes first (and keeps h0), then its own steps from the
      // last to the first. The native run reads each row's steps reversed in place: x'[n, t] = x[n, L_n - 1 - t].
      const src = new Int32Array(N * T);
      for (let n = 0; n < N; n++) for (let t = 0; t < T; t++) src[n * T + t] = n * T + (t < lengths[n] ? lengths[n] - 1 - t : t);
      input = tf.reshape(tf.gather(tf.reshape(input, [N * T, -1]), tf.tensor1d(src, "int32")), input.shape);
    } else if (layer.goBackwards) {
      input = tf.reverse(input, 1);
    }
    const [y, hT, cT] = nativeRnn(kind, input, h0, c0, cell.kernel.read(), cell.recurrentKernel.read(), bias);
    let outputs = y;
    let last = hT;
    if (lengths) {
      // tfjs: a masked step outputs, and keeps, the state of the step before (h0 before the first).
      const all = tf.reshape(tf.concat([tf.reshape(h0, [N, 1, H]), y], 1), [N * (T + 1), H]);
      const rows = lengths.map((l, n) => n * (T + 1) + l);
      last = tf.gather(all, tf.tensor1d(rows, "int32"));
      if (layer.returnSequences) {
        const idx = new Int32Array(N * T);
        for (let n = 0; n < N; n++) {
          const L = lengths[n];
          for (let t = 0; t < T; t++) {
            // Forwards, the padding follows the row's steps and repeats the last one; backwards, it comes first
            // and repeats h0.
            idx[n * T + t] = n * (T + 1) + (layer.goBackwards ? Math.max(0, t - (T - L) + 1) : Math.min(t + 1, L));
          }
        }
        outputs = tf.reshape(tf.gather(all, tf.tensor1d(idx, "int32")), [N, T, H]);
      }
    }
    const output = layer.returnSequences ? outputs : last;
    if (!layer.returnState) return output;
    return kind === "lstm" ? [output, last, cT] : [output, last];
  });
}

let installed = false;

/**
 * Make tfjs' recurrent layers take the native path where they can (called once, when the native backend starts; see the
 * module's comment for which settings do). The layers' own `call` runs otherwise.
 *
 * @example
 * ```ts
 * installNativeRnn(addon); // then, on the native backend:
 * tf.layers.gru({ units: 32, recurrentActivation: "sigmoid" }).apply(x); // one oneDNN call
 * ```
 */
export function installNativeRnn(addon: NativeAddon): void {
  void addon;
  if (installed) return;
  installed = true;
  // RNN's prototype, under GRU's (tfjs exports no RNN class; GRU, LSTM and SimpleRNN call it as `super.call`).
  const probe = tf.layers.gru({ units: 1 });
  const rnnProto = Object.getPrototypeOf(Object.getPrototypeOf(probe)) as { call: Call };
  const original = rnnProto.call;
  rnnProto.call = function (this: RnnLayerLike, inputs, kwargs) {
    return nativeCall(this, inputs, kwargs) ?? original.call(this, inputs, kwargs);
  };
}
