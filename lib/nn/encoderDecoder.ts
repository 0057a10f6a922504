/**
 * The encoder-decoder architecture (the book's sections 9.6-9.7): the
 * `Encoder`, `Decoder` and `EncoderDecoder` interfaces, the GRU
 * `Seq2SeqEncoder` and `Seq2SeqDecoder`, `sequenceMask` and the
 * `MaskedSoftmaxCELoss`.
 *
 * The book's models are PyTorch modules called as functions
 * (`encoder(X)`); here they are classes whose `forward` the book defines and
 * a reader calls: `encoder.forward(X)`. Inside, they apply tfjs layers
 * (`tf.layers.embedding`, `tf.layers.dense`, and d2l's GRU layer, PyTorch's
 * equations with its backward pass written out: see gru.ts) to tensors.
 * Tensors are batch-major, as tfjs' recurrent layers are: the encoder's
 * outputs are `[batch, numSteps, numHiddens]` where the book's are
 * `(num_steps, batch_size, num_hiddens)`; the recurrent state keeps the
 * book's `[numLayers, batch, numHiddens]`.
 */
import * as tf from "@tensorflow/tfjs";
import { dropout } from "./dropout";
import { FusedGRU } from "./gru";
import { crossEntropy } from "../train/losses";

function shapeStr(shape: readonly (number | null)[]): string {
  return `[${shape.join(",")}]`;
}

/** Layers and blocks found in `value`: a layer, a block, or an array of them (other values are skipped). */
function collect(value: unknown, layers: tf.layers.Layer[], seen: Set<unknown>): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (value instanceof tf.layers.Layer) layers.push(value);
  else if (value instanceof Block) for (const v of Object.values(value)) collect(v, layers, seen);
  else if (Array.isArray(value)) for (const v of value) collect(v, layers, seen);
}

function blocksIn(value: unknown, out: Block[], seen: Set<unknown>): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Block) {
    out.push(value);
    for (const v of Object.values(value)) blocksIn(v, out, seen);
  } else if (Array.isArray(value)) for (const v of value) blocksIn(v, out, seen);
}

/**
 * What the book's encoder-decoder classes take from PyTorch's `nn.Module`:
 * a training flag for dropout (`train()`, `eval()`), and the weights of the
 * tfjs layers it holds, found among its properties (also inside arrays and
 * nested blocks), as PyTorch finds a module's submodules.
 *
 * @example
 * class TwoLayers extends d2l.Block {
 *   hidden = tf.layers.dense({ units: 8, activation: "relu" });
 *   out = tf.layers.dense({ units: 1 });
 *   forward(X: tf.Tensor): tf.Tensor { return this.out.apply(this.hidden.apply(X)) as tf.Tensor; }
 * }
 */
export abstract class Block {
  /** True while training (dropout active): after `train()`, and at first; false after `eval()`. */
  training = true;

  /** Training mode, here and in every block inside (the book's `net.train()`). @example net.train(); */
  train(): this {
    for (const b of this.blocks()) b.training = true;
    return this;
  }

  /** Evaluation mode: no dropout, here and in every block inside (the book's `net.eval()`). @example net.eval(); */
  eval(): this {
    for (const b of this.blocks()) b.training = false;
    return this;
  }

  private blocks(): Block[] {
    const out: Block[] = [];
    blocksIn(this, out, new Set());
    return out;
  }

  /** The tfjs layers this block holds, directly or in blocks inside it. @example encoder.layers.map((l) => l.name); */
  get layers(): tf.layers.Layer[] {
    const out: tf.layers.Layer[] = [];
    const seen = new Set<unknown>([this]);
    for (const v of Object.values(this)) collect(v, out, seen);
    return out;
  }

  /** The trainable weights of its layers (what an optimizer updates; `params` of the engine). @example net.trainableWeights.length; */
  get trainableWeights(): tf.LayerVariable[] {
    return this.layers.flatMap((l) => l.trainableWeights);
  }

  /** Every weight of its layers. @example net.weights.map((w) => w.shape); */
  get weights(): tf.LayerVariable[] {
    return this.layers.flatMap((l) => l.weights);
  }

  /** Number of scalar weights. @example net.countParams(); // 18,000 or so */
  countParams(): number {
    return this.weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
  }

  /**
   * Free the weights of its own layers, and every block inside it through
   * that block's own `dispose()` (which frees what it holds beyond layers,
   * such as kept attention weights). A second call does nothing.
   * @example net.dispose();
   */
  dispose(): void {
    if (disposedBlocks.has(this)) return;
    disposedBlocks.add(this);
    const layers: tf.layers.Layer[] = [];
    const blocks: Block[] = [];
    const seen = new Set<unknown>([this]);
    for (const v of Object.values(this)) ownParts(v, layers, blocks, seen);
    for (const l of layers) {
      if (l.built && !disposedLayers.has(l)) {
        disposedLayers.add(l);
        try {
          l.dispose();
        } catch (e) {
          // built by hand and called on tensors only (d2l's FusedGRU): tfjs counts no use, so free its weights directly
          if (!/has not been used yet/.test(String(e))) throw e;
          for (const w of l.weights) w.dispose();
        }
      }
    }
    for (const b of blocks) b.dispose();
  }
}

/** Blocks whose dispose() has run, and layers a block has disposed (a layer shared by two blocks is disposed once). */
const disposedBlocks = new WeakSet<Block>();
const disposedLayers = new WeakSet<tf.layers.Layer>();

/** The layers a block holds itself and the blocks directly inside it (not the layers of those blocks). */
function ownParts(value: unknown, layers: tf.layers.Layer[], blocks: Block[], seen: Set<unknown>): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (value instanceof tf.layers.Layer) layers.push(value);
  else if (value instanceof Block) blocks.push(value);
  else if (Array.isArray(value)) for (const v of value) ownParts(v, layers, blocks, seen);
}

/**
 * The encoder interface of the encoder-decoder architecture (the book's
 * `Encoder`): `forward(X, ...args)` turns a batch of source sequences into
 * whatever the decoder's `initState` takes.
 *
 * @example
 * class MyEncoder extends d2l.Encoder<tf.Tensor> {
 *   readonly embedding = tf.layers.embedding({ inputDim: 10, outputDim: 4 });
 *   forward(X: tf.Tensor): tf.Tensor { return this.embedding.apply(X) as tf.Tensor; }
 * }
 */
export abstract class Encoder<EncOut = unknown> extends Block {
  /** The forward pass (the book's `forward(self, X, *args)`, called as `encoder(X, ...)`). */
  abstract forward(X: tf.Tensor, ...args: tf.Tensor[]): EncOut;
}

/**
 * The decoder interface of the encoder-decoder architecture (the book's
 * `Decoder`): `initState(encOutputs, ...args)` makes the decoder's state
 * from the encoder's outputs; `forward(X, state)` decodes a batch of target
 * steps and returns its outputs and the new state.
 *
 * @example
 * class MyDecoder extends d2l.Decoder<tf.Tensor, tf.Tensor> {
 *   readonly dense = tf.layers.dense({ units: 10 });
 *   initState(encOutputs: tf.Tensor): tf.Tensor { return encOutputs; }
 *   forward(X: tf.Tensor, state: tf.Tensor): [tf.Tensor, tf.Tensor] { return [this.dense.apply(state) as tf.Tensor, state]; }
 * }
 */
export abstract class Decoder<EncOut = unknown, State = unknown> extends Block {
  /** The decoder's first state, from the encoder's outputs (the book's `init_state`). */
  abstract initState(encOutputs: EncOut, ...args: tf.Tensor[]): State;
  /** Decode `X` from `state`: `[outputs, newState]` (the book's `forward(self, X, state)`). */
  abstract forward(X: tf.Tensor, state: State): [tf.Tensor, State];
  /** Attention weights of the last `forward`, for decoders with attention (chapter 10); undefined here. */
  get attentionWeights(): tf.Tensor | undefined {
    return undefined;
  }
}

/**
 * An encoder and a decoder trained together (the book's `EncoderDecoder`):
 * `forward(encX, decX, ...args)` encodes `encX`, makes the decoder's state
 * from it, and decodes `decX` from that state, returning the decoder's
 * `[outputs, state]`.
 *
 * @example
 * const net = new d2l.EncoderDecoder(new d2l.Seq2SeqEncoder(10, 8, 16, 2), new d2l.Seq2SeqDecoder(10, 8, 16, 2));
 * const [Y] = net.forward(tf.zeros([4, 7], "int32"), tf.zeros([4, 7], "int32")); // Y: [4, 7, 10]
 */
export class EncoderDecoder<EncOut = unknown, State = unknown> extends Block {
  constructor(
    /** The encoder. */
    readonly encoder: Encoder<EncOut>,
    /** The decoder. */
    readonly decoder: Decoder<EncOut, State>,
  ) {
    super();
    if (!(encoder instanceof Encoder)) throw new TypeError("EncoderDecoder(encoder, decoder): encoder must be a d2l.Encoder (e.g. new d2l.Seq2SeqEncoder(...))");
    if (!(decoder instanceof Decoder)) throw new TypeError("EncoderDecoder(encoder, decoder): decoder must be a d2l.Decoder (e.g. new d2l.Seq2SeqDecoder(...))");
  }

  /** Encode, initialise the decoder's state, decode (the book's `forward(self, enc_X, dec_X, *args)`). */
  forward(encX: tf.Tensor, decX: tf.Tensor, ...args: tf.Tensor[]): [tf.Tensor, State] {
    const encOutputs = this.encoder.forward(encX, ...args);
    const decState = this.decoder.initState(encOutputs, ...args);
    return this.decoder.forward(decX, decState);
  }
}

/**
 * A stack of GRU layers (PyTorch's `nn.GRU(input_size, num_hiddens,
 * num_layers, dropout)`, batch-major): {@link FusedGRU} layers (PyTorch's
 * equations), dropout on the outputs of every layer but the last while training.
 * `forward(X [batch, steps, in], H0? [layers, batch, hiddens])` returns the
 * last layer's outputs `[batch, steps, hiddens]` and each layer's final
 * state `[layers, batch, hiddens]`.
 */
export class StackedGRU extends Block {
  readonly grus: FusedGRU[];

  constructor(
    readonly inputSize: number,
    readonly numHiddens: number,
    readonly numLayers: number,
    readonly dropout = 0,
  ) {
    super();
    this.grus = Array.from({ length: numLayers }, (_, i) => new FusedGRU({ units: numHiddens, inputSize: i === 0 ? inputSize : numHiddens }));
  }

  /** Run the stack; see the class. */
  forward(X: tf.Tensor, H0?: tf.Tensor): [tf.Tensor, tf.Tensor] {
    if (X.rank !== 3 || X.shape[2] !== this.inputSize) {
      throw new Error(`the GRU expects input of shape [batch, steps, ${this.inputSize}], got ${shapeStr(X.shape)}`);
    }
    const b = X.shape[0];
    if (H0 !== undefined && (H0.rank !== 3 || H0.shape[0] !== this.numLayers || H0.shape[1] !== b || H0.shape[2] !== this.numHiddens)) {
      throw new Error(`the GRU's initial state must have shape [${this.numLayers}, ${b}, ${this.numHiddens}] (layers, batch, hiddens), got ${shapeStr(H0.shape)}`);
    }
    return tf.tidy(() => {
      const states: tf.Tensor[] = [];
      let out = X;
      this.grus.forEach((gru, i) => {
        // (a slice, not tf.unstack: tfjs 4.22's gradient of an unstack into one tensor fails)
        const h0 = H0 ? tf.reshape(tf.slice(H0, [i, 0, 0], [1, b, this.numHiddens]), [b, this.numHiddens]) : tf.zeros([b, this.numHiddens]);
        const [o, s] = gru.apply([out, h0]) as tf.Tensor[];
        out = this.training && this.dropout > 0 && i < this.numLayers - 1 ? dropout(o, this.dropout) : o;
        states.push(s);
      });
      return [out, tf.stack(states)];
    });
  }
}

function checkSizes(who: string, sizes: Record<string, number>, dropout: number): void {
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${String(v)}`);
  }
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw new Error(`${who}: dropout must be a number in [0, 1), got ${String(dropout)}`);
}

function checkTokens(who: string, X: tf.Tensor): void {
  if (!(X instanceof tf.Tensor)) throw new TypeError(`${who} expects a tensor of token indices [batch, numSteps]`);
  if (X.rank !== 2) throw new Error(`${who} expects token indices of shape [batch, numSteps], got ${shapeStr(X.shape)}`);
}

/** The book's embedding initialisation: N(0, 1), PyTorch's `nn.Embedding` default. */
function embedding(vocabSize: number, embedSize: number): tf.layers.Layer {
  const e = tf.layers.embedding({ inputDim: vocabSize, outputDim: embedSize, embeddingsInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 1 }) });
  tf.tidy(() => void e.apply(tf.zeros([1, 1], "int32")));
  return e;
}

/**
 * The RNN encoder of sequence to sequence learning (the book's
 * `Seq2SeqEncoder(vocab_size, embed_size, num_hiddens, num_layers,
 * dropout=0)`): an embedding, then a `numLayers`-layer GRU.
 * `forward(X)` takes token indices `[batch, numSteps]` and returns
 * `[outputs, state]`: the last layer's outputs at every step
 * `[batch, numSteps, numHiddens]` and every layer's final state
 * `[numLayers, batch, numHiddens]`.
 *
 * @example
 * const encoder = new d2l.Seq2SeqEncoder(10, 8, 16, 2);
 * encoder.eval();
 * const [output, state] = encoder.forward(tf.zeros([4, 7], "int32"));
 * output.shape; // [4, 7, 16]
 * state.shape;  // [2, 4, 16]
 */
export class Seq2SeqEncoder extends Encoder<[tf.Tensor, tf.Tensor]> {
  /** Token index → vector. */
  readonly embedding: tf.layers.Layer;
  /** The GRU layers. */
  readonly rnn: StackedGRU;

  constructor(vocabSize: number, embedSize: number, numHiddens: number, numLayers: number, dropout = 0) {
    super();
    checkSizes("Seq2SeqEncoder", { vocabSize, embedSize, numHiddens, numLayers }, dropout);
    this.embedding = embedding(vocabSize, embedSize);
    this.rnn = new StackedGRU(embedSize, numHiddens, numLayers, dropout);
  }

  /** Encode a batch of source sequences; see the class. */
  forward(X: tf.Tensor, ..._args: tf.Tensor[]): [tf.Tensor, tf.Tensor] {
    checkTokens("Seq2SeqEncoder.forward", X);
    return tf.tidy(() => {
      const embs = this.embedding.apply(X) as tf.Tensor; // [batch, numSteps, embedSize]
      return this.rnn.forward(embs);
    });
  }
}

/**
 * The RNN decoder of sequence to sequence learning (the book's
 * `Seq2SeqDecoder`): an embedding of the target tokens, the context (the
 * encoder's last output of its last layer) concatenated to every step's
 * embedding, a `numLayers`-layer GRU that starts from the encoder's final
 * state, and a dense layer to vocabulary scores.
 *
 * `initState([encOutputs, encState])` keeps both; `forward(X, state)` takes
 * target token indices `[batch, steps]` and returns scores
 * `[batch, steps, vocabSize]` and the state `[encOutputs, newState]`. As in
 * the book's 2023 edition, the context stays the encoder's in every call;
 * its 2021 edition took the decoder's own last state at prediction time.
 *
 * @example
 * const decoder = new d2l.Seq2SeqDecoder(10, 8, 16, 2);
 * decoder.eval();
 * const state = decoder.initState(encoder.forward(X));
 * const [output, [, hidden]] = decoder.forward(X, state);
 * output.shape; // [4, 7, 10]
 * hidden.shape; // [2, 4, 16]
 */
export class Seq2SeqDecoder extends Decoder<[tf.Tensor, tf.Tensor], [tf.Tensor, tf.Tensor]> {
  /** Token index → vector. */
  readonly embedding: tf.layers.Layer;
  /** The GRU layers, fed embedding and context. */
  readonly rnn: StackedGRU;
  /** Hidden state → vocabulary scores. */
  readonly dense: tf.layers.Layer;

  constructor(
    readonly vocabSize: number,
    embedSize: number,
    readonly numHiddens: number,
    numLayers: number,
    dropout = 0,
  ) {
    super();
    checkSizes("Seq2SeqDecoder", { vocabSize, embedSize, numHiddens, numLayers }, dropout);
    this.embedding = embedding(vocabSize, embedSize);
    this.rnn = new StackedGRU(embedSize + numHiddens, numHiddens, numLayers, dropout);
    const k = 1 / Math.sqrt(numHiddens); // PyTorch's nn.Linear bias (the kernel is Xavier's, trainSeq2seq's init)
    this.dense = tf.layers.dense({ units: vocabSize, biasInitializer: tf.initializers.randomUniform({ minval: -k, maxval: k }) });
    tf.tidy(() => void this.dense.apply(tf.zeros([1, numHiddens])));
  }

  /** The decoder's state: the encoder's outputs and final state, as they are. */
  initState(encOutputs: [tf.Tensor, tf.Tensor], ..._args: tf.Tensor[]): [tf.Tensor, tf.Tensor] {
    if (!Array.isArray(encOutputs) || encOutputs.length !== 2 || !encOutputs.every((t) => t instanceof tf.Tensor)) {
      throw new TypeError("Seq2SeqDecoder.initState expects the encoder's [outputs, state]");
    }
    return encOutputs;
  }

  /** Decode target steps from the state; see the class. */
  forward(X: tf.Tensor, state: [tf.Tensor, tf.Tensor]): [tf.Tensor, [tf.Tensor, tf.Tensor]] {
    checkTokens("Seq2SeqDecoder.forward", X);
    const [encOutput, hidden] = state;
    if (encOutput.rank !== 3 || encOutput.shape[2] !== this.numHiddens || encOutput.shape[0] !== X.shape[0]) {
      throw new Error(`Seq2SeqDecoder.forward: the state's encoder outputs must be [batch ${X.shape[0]}, steps, ${this.numHiddens}], got ${shapeStr(encOutput.shape)}`);
    }
    return tf.tidy(() => {
      const [b, steps] = X.shape;
      const embs = this.embedding.apply(X) as tf.Tensor; // [batch, steps, embedSize]
      const last = (encOutput.shape[1] as number) - 1;
      const context = tf.slice(encOutput, [0, last, 0], [b, 1, this.numHiddens]); // [batch, 1, numHiddens]
      const embsAndContext = tf.concat([embs, tf.tile(context, [1, steps, 1])], 2);
      const [outputs, newHidden] = this.rnn.forward(embsAndContext, hidden);
      const Y = this.dense.apply(outputs) as tf.Tensor; // [batch, steps, vocabSize]
      return [Y, [encOutput, newHidden]] as [tf.Tensor, [tf.Tensor, tf.Tensor]];
    });
  }
}

/**
 * Set the entries of each sequence past its valid length to `value` (the
 * book's `sequence_mask`): `X` is `[batch, steps, ...]`, `validLen`
 * `[batch]`; row `i` keeps its first `validLen[i]` steps. Returns a new
 * tensor (the book's changes `X` in place).
 *
 * @example
 * d2l.sequenceMask(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), tf.tensor1d([1, 2])); // [[1, 0, 0], [4, 5, 0]]
 */
export function sequenceMask(X: tf.Tensor, validLen: tf.Tensor, value = 0): tf.Tensor {
  if (!(X instanceof tf.Tensor) || X.rank < 2) throw new Error(`sequenceMask expects X of shape [batch, steps, ...], got ${X instanceof tf.Tensor ? shapeStr(X.shape) : typeof X}`);
  if (!(validLen instanceof tf.Tensor) || validLen.rank !== 1 || validLen.shape[0] !== X.shape[0]) {
    throw new Error(
      `sequenceMask expects validLen of shape [${X.shape[0]}] (one length per sequence), got ${validLen instanceof tf.Tensor ? shapeStr(validLen.shape) : typeof validLen}`,
    );
  }
  return tf.tidy(() => {
    const maxlen = X.shape[1] as number;
    const mask = tf.less(tf.range(0, maxlen, 1, "float32").expandDims(0), tf.cast(validLen, "float32").expandDims(1)); // [batch, steps]
    const full = tf.reshape(mask, [X.shape[0], maxlen, ...X.shape.slice(2).map(() => 1)]);
    return tf.where(tf.broadcastTo(full, X.shape), X, tf.fill(X.shape, value, X.dtype));
  });
}

/**
 * The softmax cross-entropy loss with padding masked out (the book's
 * `MaskedSoftmaxCELoss`): `forward(pred, label, validLen)` takes scores
 * `[batch, steps, vocab]`, labels `[batch, steps]` and valid lengths
 * `[batch]`, and returns one loss per sequence `[batch]`: the cross-entropy
 * summed over its valid steps, divided by the number of steps (the book's
 * `mean(dim=1)` over the masked losses).
 *
 * @example
 * const loss = new d2l.MaskedSoftmaxCELoss();
 * loss.forward(tf.ones([3, 4, 10]), tf.ones([3, 4], "int32"), tf.tensor1d([4, 2, 0], "int32")); // [2.3026, 1.1513, 0]
 */
export class MaskedSoftmaxCELoss {
  /** Per-sequence losses; see the class. */
  forward(pred: tf.Tensor, label: tf.Tensor, validLen: tf.Tensor): tf.Tensor {
    if (!(pred instanceof tf.Tensor) || pred.rank !== 3)
      throw new Error(`MaskedSoftmaxCELoss expects pred of shape [batch, steps, vocab], got ${pred instanceof tf.Tensor ? shapeStr(pred.shape) : typeof pred}`);
    if (!(label instanceof tf.Tensor) || label.rank !== 2 || label.shape[0] !== pred.shape[0] || label.shape[1] !== pred.shape[1]) {
      throw new Error(
        `MaskedSoftmaxCELoss expects label of shape [${pred.shape[0]}, ${pred.shape[1]}] (token indices), got ${label instanceof tf.Tensor ? shapeStr(label.shape) : typeof label}`,
      );
    }
    return tf.tidy(() => {
      const unweighted = crossEntropy(pred, label, { reduction: "none" }); // [batch, steps]
      const weights = sequenceMask(tf.onesLike(unweighted), validLen);
      return tf.mean(tf.mul(unweighted, weights), 1);
    });
  }
}
