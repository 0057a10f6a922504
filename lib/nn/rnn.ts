/**
 * The book's recurrent language models (sections 8.5-8.6, 9.1-9.4): the
 * from-scratch wrapper `RNNModelScratch` and `RNNModel` over tfjs recurrent
 * layers (simpleRNN, GRU, LSTM, stacked, bidirectional).
 *
 * Both are called as `net.call(X, state)` (the book's `net(X, state)`; a
 * TypeScript object cannot be called like a function): `X` holds token
 * indices `[batchSize, numSteps]`, `state` is an array of tensors (one per
 * hidden state: `[H]` for an RNN or GRU, `[H, C]` for an LSTM); they return
 * `[Y, newState]` with `Y` the logits `[numSteps * batchSize, vocabSize]`,
 * time step by time step (the book's layout: rows `t * batchSize + i`).
 * The caller owns the returned tensors; `X` and `state` stay the caller's.
 */
import * as tf from "@tensorflow/tfjs";

/**
 * A recurrent language model as the training and prediction functions use
 * it (`d2l.RNNModelScratch` and `d2l.RNNModel` are ones): the book's
 * `net(X, state)` and `net.begin_state(batch_size)`.
 */
export interface RecurrentNet {
  /** Size of the vocabulary: the number of logits per token. */
  readonly vocabSize: number;
  /** One step over a batch: token indices `[batch, steps]` and a state → logits `[steps * batch, vocab]` and the new state. */
  call(X: tf.Tensor, state: tf.Tensor[], training?: boolean): [tf.Tensor, tf.Tensor[]];
  /** The zero state for a batch of `batchSize` sequences. */
  beginState(batchSize: number, device?: string): tf.Tensor[];
  /** The trainable parameters. */
  readonly params: tf.Variable[];
}

/** The book's `get_params(vocab_size, num_hiddens, device)`: the model's parameters, created with `tf.variable`. */
export type GetParams = (vocabSize: number, numHiddens: number, device: string) => tf.Variable[];
/** The book's `init_rnn_state(batch_size, num_hiddens, device)`: the zero state, an array of tensors. */
export type InitState = (batchSize: number, numHiddens: number, device: string) => tf.Tensor[];
/**
 * The book's `rnn(inputs, state, params)`: `inputs` one-hot `[numSteps, batchSize, vocabSize]`
 * (time first), returns the logits `[numSteps * batchSize, vocabSize]` and the new state.
 */
export type ForwardFn = (inputs: tf.Tensor, state: tf.Tensor[], params: tf.Variable[]) => [tf.Tensor, tf.Tensor[]];

function shapeStr(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? "null" : String(d))).join(",")}]`;
}

function checkTokens(who: string, X: tf.Tensor, vocabSize: number): void {
  if (!(X instanceof tf.Tensor)) throw new Error(`${who}: X must be a tf.Tensor of token indices [batchSize, numSteps], got ${X === null ? "null" : typeof X}`);
  if (X.rank !== 2) {
    throw new Error(
      `${who}: X must hold token indices of shape [batchSize, numSteps], got shape ${shapeStr(X.shape)}${X.rank === 3 && X.shape[2] === vocabSize ? " (it looks one-hot already; pass the indices: the model one-hot encodes them)" : ""}`,
    );
  }
}

function checkState(who: string, state: unknown, expected: readonly number[] | undefined, batchSize: number): tf.Tensor[] {
  if (!Array.isArray(state) || !state.every((s) => s instanceof tf.Tensor)) {
    throw new Error(
      `${who}: state must be an array of tensors, as net.beginState(batchSize) returns; got ${state instanceof tf.Tensor ? "one tensor (wrap it: [H])" : typeof state}`,
    );
  }
  if (expected !== undefined) {
    const shapes = expected.map((h) => [batchSize, h]);
    const ok = state.length === shapes.length && state.every((s, i) => s.rank === 2 && s.shape[0] === shapes[i][0] && s.shape[1] === shapes[i][1]);
    if (!ok) {
      throw new Error(
        `${who}: for a batch of ${batchSize} the state must be ${shapes.length} tensor(s) of shape ${shapes.map(shapeStr).join(", ")}, ` +
          `got ${state.length ? state.map((s) => shapeStr(s.shape)).join(", ") : "none"}; start from net.beginState(${batchSize})`,
      );
    }
  }
  return state;
}

/**
 * A recurrent model from scratch (the book's `RNNModelScratch`): holds the
 * parameters from `getParams`, one-hot encodes the token indices (time
 * first, as the book's `F.one_hot(X.T, vocab_size)`) and runs `forwardFn`.
 * The `device` argument keeps the book's call shape; tfjs computes on the
 * backend `d2l.useBackend` chose.
 *
 * Call it as `net.call(X, state)` (the book's `net(X, state)`): X int32
 * `[batchSize, numSteps]` → `[Y, newState]`, Y `[numSteps * batchSize, vocabSize]`.
 * The returned tensors are the caller's; intermediates are freed (`tf.tidy`).
 *
 * @example
 * const net = new d2l.RNNModelScratch(vocab.length, 512, d2l.tryGpu(), getParams, initRnnState, rnn);
 * const state = net.beginState(X.shape[0]);
 * const [Y, newState] = net.call(X, state);
 * Y.shape; // [numSteps * batchSize, vocab.length]
 */
export class RNNModelScratch implements RecurrentNet {
  /** Size of the vocabulary. */
  readonly vocabSize: number;
  /** Hidden units. */
  readonly numHiddens: number;
  /** The parameters from `getParams` (the book's `net.params`). */
  readonly params: tf.Variable[];
  private readonly device: string;
  private readonly initState: InitState;
  private readonly forwardFn: ForwardFn;

  constructor(vocabSize: number, numHiddens: number, device: string, getParams: GetParams, initState: InitState, forwardFn: ForwardFn) {
    if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new Error(`RNNModelScratch: vocabSize must be a positive integer (vocab.length), got ${String(vocabSize)}`);
    if (!Number.isInteger(numHiddens) || numHiddens < 1) throw new Error(`RNNModelScratch: numHiddens must be a positive integer, got ${String(numHiddens)}`);
    for (const [name, f] of [
      ["getParams", getParams],
      ["initState", initState],
      ["forwardFn", forwardFn],
    ] as const) {
      if (typeof f !== "function") throw new Error(`RNNModelScratch(vocabSize, numHiddens, device, getParams, initState, forwardFn): ${name} must be a function, got ${typeof f}`);
    }
    this.vocabSize = vocabSize;
    this.numHiddens = numHiddens;
    this.device = device;
    this.initState = initState;
    this.forwardFn = forwardFn;
    const params = getParams(vocabSize, numHiddens, device);
    if (!Array.isArray(params) || params.length === 0 || !params.every((p) => p instanceof tf.Variable)) {
      throw new Error("RNNModelScratch: getParams must return a non-empty array of tf.variable(...) parameters");
    }
    this.params = params;
  }

  /**
   * The model on a batch (the book's `net(X, state)`): `X` int32 token
   * indices `[batchSize, numSteps]`, `state` as from {@link beginState}.
   *
   * @example
   * const [Y, newState] = net.call(X, net.beginState(X.shape[0]));
   */
  call(X: tf.Tensor, state: tf.Tensor[]): [tf.Tensor, tf.Tensor[]] {
    checkTokens("RNNModelScratch.call", X, this.vocabSize);
    checkState("RNNModelScratch.call", state, undefined, X.shape[0]);
    return tf.tidy(() => {
      const inputs = tf.oneHot(tf.cast(tf.transpose(X), "int32"), this.vocabSize).toFloat();
      const out = this.forwardFn(inputs, state, this.params);
      if (!Array.isArray(out) || out.length !== 2 || !(out[0] instanceof tf.Tensor) || !Array.isArray(out[1])) {
        throw new Error("RNNModelScratch: forwardFn must return [Y, newState]: the logits and an array of state tensors");
      }
      return out;
    });
  }

  /**
   * The zero state for `batchSize` sequences (the book's `begin_state`): what `initState` returns.
   *
   * @example
   * const state = net.beginState(32); // [tf.zeros([32, numHiddens])] for the book's RNN
   */
  beginState(batchSize: number, device: string = this.device): tf.Tensor[] {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`beginState(batchSize): batchSize must be a positive integer, got ${String(batchSize)}`);
    const s = this.initState(batchSize, this.numHiddens, device);
    if (!Array.isArray(s) || !s.every((t) => t instanceof tf.Tensor)) {
      throw new Error("RNNModelScratch: initState must return an array of tensors, e.g. [tf.zeros([batchSize, numHiddens])]");
    }
    return s;
  }
}

/** A tfjs recurrent layer as RNNModel sees it: the state sizes of each direction. */
interface RecurrentPart {
  layer: tf.layers.Layer;
  /** Sizes of the initial states the layer takes, in its order (both directions of a bidirectional layer). */
  stateSizes: number[];
  /** Features per time step it outputs. */
  outputSize: number;
  directions: 1 | 2;
}

interface RNNLike {
  cell: { stateSize: number | number[] };
  returnSequences: boolean;
  returnState: boolean;
}

function asRnn(layer: unknown): RNNLike | undefined {
  const l = layer as Partial<RNNLike> | null;
  return l && typeof l === "object" && l.cell && l.cell.stateSize !== undefined ? (l as RNNLike) : undefined;
}

function sizes(s: number | number[]): number[] {
  return Array.isArray(s) ? [...s] : [s];
}

function describeLayer(layer: unknown): string {
  if (layer === null || typeof layer !== "object") return String(layer);
  const l = layer as { getClassName?: () => string; name?: string };
  return typeof l.getClassName === "function" ? `a ${l.getClassName()} layer` : (layer.constructor?.name ?? "an object");
}

function recurrentPart(layer: tf.layers.Layer, k: number): RecurrentPart {
  const where = `RNNModel: layer ${k} (${describeLayer(layer)})`;
  const needs = "build it with returnSequences: true and returnState: true, e.g. tf.layers.gru({ units: 256, returnSequences: true, returnState: true })";
  const rnn = asRnn(layer);
  if (rnn) {
    if (!rnn.returnSequences || !rnn.returnState) throw new Error(`${where} must return its sequence and its state: ${needs}`);
    const s = sizes(rnn.cell.stateSize);
    return { layer, stateSizes: s, outputSize: s[0], directions: 1 };
  }
  const bi = layer as unknown as { forwardLayer?: unknown; backwardLayer?: unknown; mergeMode?: string | null };
  const fwd = asRnn(bi.forwardLayer);
  const bwd = asRnn(bi.backwardLayer);
  if (fwd && bwd) {
    if (!fwd.returnSequences || !fwd.returnState)
      throw new Error(`${where}: its recurrent layer must return its sequence and its state: ${needs}, inside tf.layers.bidirectional({ layer })`);
    if (bi.mergeMode !== "concat") throw new Error(`${where}: use mergeMode "concat" (the default), got ${JSON.stringify(bi.mergeMode)}`);
    const f = sizes(fwd.cell.stateSize);
    const b = sizes(bwd.cell.stateSize);
    return { layer, stateSizes: [...f, ...b], outputSize: f[0] + b[0], directions: 2 };
  }
  throw new Error(`${where} is not a recurrent layer: pass tf.layers.simpleRNN, gru, lstm, rnn or bidirectional(...) layers; ${needs}`);
}

/**
 * A language model over tfjs recurrent layers (the book's `RNNModel`):
 * token indices are one-hot encoded, run through the recurrent layer(s)
 * and a dense output layer at every time step. Give it a layer built with
 * `returnSequences: true, returnState: true`: `tf.layers.simpleRNN`, `gru`,
 * `lstm`, `rnn` (also with stacked cells), or `tf.layers.bidirectional({ layer })`
 * around one, or an array of such layers to stack (a deep RNN: the book's
 * `num_layers`). The layers' weights are created (built) here.
 *
 * Call it as `net.call(X, state)` (the book's `net(X, state)`): X int32
 * `[batchSize, numSteps]` → `[Y, newState]`, Y `[numSteps * batchSize, vocabSize]`,
 * newState one tensor per state of each layer and direction, in order
 * (`[H]` for a GRU, `[H, C]` for an LSTM, `[H1, C1, H2, C2]` for two stacked
 * LSTMs, forward then backward for a bidirectional layer; the book's
 * PyTorch layers stack these into one tensor per kind instead).
 *
 * @example
 * const gru = tf.layers.gru({ units: 256, returnSequences: true, returnState: true });
 * const net = new d2l.RNNModel(gru, vocab.length);
 * const [Y, state] = net.call(X, net.beginState(X.shape[0]));
 * // a deep LSTM: two layers
 * const deep = new d2l.RNNModel([1, 2].map(() => tf.layers.lstm({ units: 256, returnSequences: true, returnState: true })), vocab.length);
 */
export class RNNModel implements RecurrentNet {
  /** The recurrent layer (the book's `self.rnn`), or the stacked layers. */
  readonly rnn: tf.layers.Layer | tf.layers.Layer[];
  /** Size of the vocabulary. */
  readonly vocabSize: number;
  /** Hidden units of the last recurrent layer (per direction). */
  readonly numHiddens: number;
  /** 1, or 2 when the last layer is bidirectional. */
  readonly numDirections: 1 | 2;
  /** The output layer, `dense(vocabSize)` (the book's `self.linear`). */
  readonly linear: tf.layers.Layer;
  private readonly parts: RecurrentPart[];

  constructor(rnnLayer: tf.layers.Layer | tf.layers.Layer[], vocabSize: number) {
    if (!Number.isInteger(vocabSize) || vocabSize < 1)
      throw new Error(`RNNModel(rnnLayer, vocabSize): vocabSize must be a positive integer (vocab.length), got ${String(vocabSize)}`);
    const layers = Array.isArray(rnnLayer) ? rnnLayer : [rnnLayer];
    if (layers.length === 0) throw new Error("RNNModel: give at least one recurrent layer");
    this.parts = layers.map((l, k) => recurrentPart(l, k));
    this.rnn = rnnLayer;
    this.vocabSize = vocabSize;
    const last = this.parts[this.parts.length - 1];
    this.numDirections = last.directions;
    this.numHiddens = last.outputSize / last.directions;
    this.linear = tf.layers.dense({ units: vocabSize });
    // Build every layer's weights now, symbolically (nothing is computed), so params exist before training.
    let x: tf.SymbolicTensor = tf.input({ shape: [null, vocabSize] });
    for (const p of this.parts) x = (p.layer.apply(x) as tf.SymbolicTensor[])[0];
    this.linear.apply(x);
  }

  /** The stacked recurrent layers, then the output layer. */
  get layers(): tf.layers.Layer[] {
    return [...this.parts.map((p) => p.layer), this.linear];
  }

  /** Trainable weights of all layers, as tfjs layer variables. */
  get trainableWeights(): tf.LayerVariable[] {
    return this.layers.flatMap((l) => l.trainableWeights);
  }

  /** Trainable weights of all layers, as tfjs variables (what the optimizer updates). */
  get params(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** Sizes of the state tensors, in order. */
  private stateSizes(): number[] {
    return this.parts.flatMap((p) => p.stateSizes);
  }

  /**
   * The model on a batch (the book's `forward(inputs, state)`): `X` int32
   * token indices `[batchSize, numSteps]`, `state` as from {@link beginState}.
   * `training` turns on the layers' dropout, if any.
   *
   * @example
   * const [Y, newState] = net.call(X, net.beginState(X.shape[0]));
   */
  call(X: tf.Tensor, state: tf.Tensor[], training = false): [tf.Tensor, tf.Tensor[]] {
    checkTokens("RNNModel.call", X, this.vocabSize);
    checkState("RNNModel.call", state, this.stateSizes(), X.shape[0]);
    return tf.tidy(() => {
      // tfjs' recurrent layers take batch-major input [batch, steps, features].
      let Y: tf.Tensor = tf.oneHot(tf.cast(X, "int32"), this.vocabSize).toFloat();
      const newState: tf.Tensor[] = [];
      let k = 0;
      for (const p of this.parts) {
        const n = p.stateSizes.length;
        const out = p.layer.apply(Y, { initialState: state.slice(k, k + n), training }) as tf.Tensor[];
        Y = out[0];
        newState.push(...out.slice(1));
        k += n;
      }
      // The book's layout: time step by time step, [steps * batch, hidden].
      const H = Y.shape[2] as number;
      const flat = tf.reshape(tf.transpose(Y, [1, 0, 2]), [-1, H]);
      return [this.linear.apply(flat) as tf.Tensor, newState];
    });
  }

  /**
   * The zero state for `batchSize` sequences (the book's `begin_state`):
   * one `[batchSize, units]` tensor of zeros per state of every layer and direction.
   *
   * @example
   * net.beginState(32); // [tf.zeros([32, 256])] for a GRU; two tensors for an LSTM
   */
  beginState(batchSize = 1): tf.Tensor[] {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`beginState(batchSize): batchSize must be a positive integer, got ${String(batchSize)}`);
    return this.stateSizes().map((h) => tf.zeros([batchSize, h]));
  }
}
