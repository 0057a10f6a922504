/**
 * Decoders with attention and the Transformer (the book's chapter 10,
 * sections 10.4 and 10.7 of the Chinese edition): `AttentionDecoder`,
 * `Seq2SeqAttentionDecoder` (Bahdanau attention), `PositionWiseFFN`,
 * `AddNorm`, `EncoderBlock`, `TransformerEncoder`, `DecoderBlock` and
 * `TransformerDecoder`, with the Chinese edition's constructor arguments
 * (`EncoderBlock(key_size, query_size, value_size, num_hiddens, norm_shape,
 * ffn_num_input, ffn_num_hiddens, num_heads, dropout, use_bias=False)`: every
 * size given, so that the weights exist, and `countParams()` is PyTorch's,
 * at construction).
 *
 * As in lib/nn/encoderDecoder.ts the book's modules are {@link Block}s whose
 * `forward` a reader calls; the encoders and decoders work with
 * `EncoderDecoder`, `trainSeq2seq` and `predictSeq2seq` as the book's do.
 * Dense layers are PyTorch's `nn.Linear` (kernel `[in, out]` where PyTorch's
 * weight is `[out, in]`; Glorot-uniform kernels, PyTorch's bias
 * initialisation), embeddings N(0, 1) as `nn.Embedding`, layer normalization
 * tfjs' `tf.layers.layerNormalization` with PyTorch's epsilon 1e-5.
 */
import * as tf from "@tensorflow/tfjs";
import { dropout as dropoutOp } from "./dropout";
import { Block, Decoder, Encoder, StackedGRU } from "./encoderDecoder";
import { AdditiveAttention, MultiHeadAttention, PositionalEncoding } from "./attention";

function shapeStr(shape: readonly (number | null)[]): string {
  return `[${shape.join(", ")}]`;
}

function describe(v: unknown): string {
  return v instanceof tf.Tensor ? `a tensor of shape ${shapeStr(v.shape)}` : v === null ? "null" : typeof v;
}

function checkSize(who: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${String(v)}`);
}

function checkSizes(who: string, sizes: Record<string, number>): void {
  for (const [name, v] of Object.entries(sizes)) checkSize(who, name, v);
}

function checkDropout(who: string, dropout: number): void {
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw new Error(`${who}: dropout must be a number in [0, 1), got ${String(dropout)}`);
}

function check3d(who: string, name: string, X: unknown, last?: number): asserts X is tf.Tensor {
  if (!(X instanceof tf.Tensor) || X.rank !== 3 || (last !== undefined && X.shape[2] !== last)) {
    throw new Error(`${who}: ${name} must be a tensor of shape [batch, steps, ${last ?? "features"}], got ${describe(X)}`);
  }
}

function checkTokens(who: string, X: unknown): asserts X is tf.Tensor {
  if (!(X instanceof tf.Tensor) || X.rank !== 2) throw new Error(`${who}: X must be token indices of shape [batch, numSteps], got ${describe(X)}`);
}

function checkValidLens(who: string, validLens: unknown, batch: number): void {
  if (validLens === undefined || validLens === null) return;
  if (!(validLens instanceof tf.Tensor) || !((validLens.rank === 1 || validLens.rank === 2) && validLens.shape[0] === batch)) {
    throw new Error(`${who}: the valid lengths must be [${batch}] (one per example), [${batch}, queries] or null, got ${describe(validLens)}`);
  }
}

/** PyTorch's `nn.Linear(inSize, outSize, bias)`: Glorot-uniform kernel, bias U(-1/sqrt(in), 1/sqrt(in)); built at once. */
function linear(inSize: number, outSize: number, bias = true): tf.layers.Layer {
  const k = 1 / Math.sqrt(inSize);
  const d = tf.layers.dense({ units: outSize, useBias: bias, ...(bias ? { biasInitializer: tf.initializers.randomUniform({ minval: -k, maxval: k }) } : {}) });
  tf.tidy(() => void d.apply(tf.zeros([1, inSize])));
  return d;
}

/** PyTorch's `nn.Embedding(vocabSize, size)`: N(0, 1); built at once. */
function embedding(vocabSize: number, size: number): tf.layers.Layer {
  const e = tf.layers.embedding({ inputDim: vocabSize, outputDim: size, embeddingsInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 1 }) });
  tf.tidy(() => void e.apply(tf.zeros([1, 1], "int32")));
  return e;
}

function apply(layer: tf.layers.Layer, X: tf.Tensor): tf.Tensor {
  return layer.apply(X) as tf.Tensor;
}

function dropout(block: Block, rate: number, X: tf.Tensor): tf.Tensor {
  return block.training && rate > 0 ? dropoutOp(X, rate) : X;
}

/**
 * The decoder interface with attention (the book's `AttentionDecoder`,
 * section 10.4): a {@link Decoder} whose `attentionWeights` are those of
 * its last `forward`, which every subclass defines (the book's raises
 * `NotImplementedError` in the base).
 *
 * @example
 * class MyDecoder extends d2l.AttentionDecoder<tf.Tensor, tf.Tensor> {
 *   initState(encOutputs: tf.Tensor): tf.Tensor { return encOutputs; }
 *   forward(X: tf.Tensor, state: tf.Tensor): [tf.Tensor, tf.Tensor] { return [X, state]; }
 *   get attentionWeights(): tf.Tensor | undefined { return undefined; }
 * }
 */
export abstract class AttentionDecoder<EncOut = unknown, State = unknown> extends Decoder<EncOut, State> {
  /** The attention weights of the last `forward` (the book's `attention_weights`). */
  abstract override get attentionWeights(): tf.Tensor | undefined;
}

/** The state of a {@link Seq2SeqAttentionDecoder}: the encoder's outputs `[batch, steps, numHiddens]`, the GRU state `[numLayers, batch, numHiddens]`, the source's valid lengths (or null). */
export type Seq2SeqAttentionState = [tf.Tensor, tf.Tensor, tf.Tensor | null];

/**
 * The RNN decoder with Bahdanau attention (the book's
 * `Seq2SeqAttentionDecoder(vocab_size, embed_size, num_hiddens, num_layers,
 * dropout=0)`, section 10.4): at every step the last layer's hidden state is
 * the query of an {@link AdditiveAttention} over the encoder's outputs (keys
 * and values, masked by the source's valid lengths); the context it returns
 * is concatenated with the step's embedding (context first, as the book's)
 * and fed to a `numLayers`-layer GRU; a dense layer gives vocabulary scores.
 *
 * `initState([encOutputs, encState], encValidLens)` takes the
 * {@link Seq2SeqEncoder}'s outputs (already batch-major here: no permute) and
 * returns `[encOutputs, encState, encValidLens]`; `forward(X, state)` takes
 * target tokens `[batch, steps]` and returns scores `[batch, steps,
 * vocabSize]` and the new state. `attentionWeights` is `[batch, steps,
 * numKeys]`: the book's list of per-step weights `[batch, 1, numKeys]`,
 * concatenated over the steps (one step at prediction time).
 *
 * @example
 * const encoder = new d2l.Seq2SeqEncoder(10, 8, 16, 2);
 * encoder.eval();
 * const decoder = new d2l.Seq2SeqAttentionDecoder(10, 8, 16, 2);
 * decoder.eval();
 * const X = tf.zeros([4, 7], "int32");
 * const state = decoder.initState(encoder.forward(X), null);
 * const [output, [encOutputs, hidden]] = decoder.forward(X, state);
 * output.shape;     // [4, 7, 10]
 * encOutputs.shape; // [4, 7, 16]
 * hidden.shape;     // [2, 4, 16]
 */
export class Seq2SeqAttentionDecoder extends AttentionDecoder<[tf.Tensor, tf.Tensor], Seq2SeqAttentionState> {
  /** Additive attention, query: the last layer's hidden state; keys and values: the encoder's outputs. */
  readonly attention: AdditiveAttention;
  /** Token index → vector. */
  readonly embedding: tf.layers.Layer;
  /** The GRU layers, fed context and embedding. */
  readonly rnn: StackedGRU;
  /** Hidden state → vocabulary scores. */
  readonly dense: tf.layers.Layer;
  private lastWeights: tf.Tensor | undefined;

  constructor(
    readonly vocabSize: number,
    readonly embedSize: number,
    readonly numHiddens: number,
    readonly numLayers: number,
    readonly dropout = 0,
  ) {
    super();
    checkSizes("Seq2SeqAttentionDecoder", { vocabSize, embedSize, numHiddens, numLayers });
    checkDropout("Seq2SeqAttentionDecoder", dropout);
    this.attention = new AdditiveAttention(numHiddens, numHiddens, numHiddens, dropout);
    this.embedding = embedding(vocabSize, embedSize);
    this.rnn = new StackedGRU(embedSize + numHiddens, numHiddens, numLayers, dropout);
    this.dense = linear(numHiddens, vocabSize);
  }

  /** The state: the encoder's outputs and final state, and the source's valid lengths (the book's `init_state`). */
  initState(encOutputs: [tf.Tensor, tf.Tensor], encValidLens?: tf.Tensor | null, ..._args: tf.Tensor[]): Seq2SeqAttentionState {
    if (!Array.isArray(encOutputs) || encOutputs.length !== 2 || !encOutputs.every((t) => t instanceof tf.Tensor)) {
      throw new TypeError("Seq2SeqAttentionDecoder.initState expects the encoder's [outputs, state] (a d2l.Seq2SeqEncoder's forward)");
    }
    const [outputs, hidden] = encOutputs;
    check3d("Seq2SeqAttentionDecoder.initState", "the encoder's outputs", outputs, this.numHiddens);
    checkValidLens("Seq2SeqAttentionDecoder.initState", encValidLens, outputs.shape[0]);
    return [outputs, hidden, encValidLens ?? null];
  }

  /** The attention weights of the last `forward`, `[batch, steps, numKeys]`; owned by the decoder (freed at the next `forward` and by `dispose`). */
  get attentionWeights(): tf.Tensor | undefined {
    return this.lastWeights;
  }

  /** Decode target steps one at a time, attending to the encoder's outputs at each; see the class. */
  forward(X: tf.Tensor, state: Seq2SeqAttentionState): [tf.Tensor, Seq2SeqAttentionState] {
    checkTokens("Seq2SeqAttentionDecoder.forward", X);
    if (!Array.isArray(state) || state.length !== 3) throw new TypeError("Seq2SeqAttentionDecoder.forward expects the state [encOutputs, hiddenState, encValidLens] of initState");
    const [encOutputs, hidden0, validLens] = state;
    const [b, steps] = X.shape;
    check3d("Seq2SeqAttentionDecoder.forward", "the state's encoder outputs", encOutputs, this.numHiddens);
    if (encOutputs.shape[0] !== b) throw new Error(`Seq2SeqAttentionDecoder.forward: the state's encoder outputs have batch ${encOutputs.shape[0]}, X has ${b}`);
    const h = this.numHiddens;
    const [Y, hidden, weights] = tf.tidy(() => {
      const embs = apply(this.embedding, X); // [b, steps, embedSize]
      let hiddenState = hidden0;
      const outputs: tf.Tensor[] = [];
      const ws: tf.Tensor[] = [];
      for (let t = 0; t < steps; t++) {
        const x = tf.slice(embs, [0, t, 0], [b, 1, this.embedSize]);
        const query = tf.reshape(tf.slice(hiddenState, [this.numLayers - 1, 0, 0], [1, b, h]), [b, 1, h]);
        const context = this.attention.forward(query, encOutputs, encOutputs, validLens); // [b, 1, h]
        ws.push(tf.clone(this.attention.attentionWeights as tf.Tensor));
        const [out, next] = this.rnn.forward(tf.concat([context, x], 2), hiddenState);
        outputs.push(out);
        hiddenState = next;
      }
      return [apply(this.dense, tf.concat(outputs, 1)), hiddenState, tf.keep(tf.concat(ws, 1))];
    });
    if (this.lastWeights && !this.lastWeights.isDisposed) this.lastWeights.dispose();
    this.lastWeights = weights;
    return [Y, [encOutputs, hidden, validLens]];
  }

  /** Free the weights and the last attention weights. */
  override dispose(): void {
    super.dispose();
    if (this.lastWeights && !this.lastWeights.isDisposed) this.lastWeights.dispose();
    this.lastWeights = undefined;
  }
}

/**
 * The position-wise feed-forward network (the book's
 * `PositionWiseFFN(ffn_num_input, ffn_num_hiddens, ffn_num_outputs)`,
 * section 10.7): dense, ReLU, dense, applied to every position alike.
 * `forward(X [..., ffnNumInput])` returns `[..., ffnNumOutputs]`.
 *
 * @example
 * const ffn = new d2l.PositionWiseFFN(4, 4, 8);
 * ffn.eval();
 * ffn.forward(tf.ones([2, 3, 4])).shape; // [2, 3, 8]
 */
export class PositionWiseFFN extends Block {
  /** The first dense layer (the book's `dense1`). */
  readonly dense1: tf.layers.Layer;
  /** The second dense layer (the book's `dense2`). */
  readonly dense2: tf.layers.Layer;

  constructor(
    readonly ffnNumInput: number,
    readonly ffnNumHiddens: number,
    readonly ffnNumOutputs: number,
  ) {
    super();
    checkSizes("PositionWiseFFN", { ffnNumInput, ffnNumHiddens, ffnNumOutputs });
    this.dense1 = linear(ffnNumInput, ffnNumHiddens);
    this.dense2 = linear(ffnNumHiddens, ffnNumOutputs);
  }

  /** Transform every position; see the class. */
  forward(X: tf.Tensor): tf.Tensor {
    if (!(X instanceof tf.Tensor) || X.rank < 2 || X.shape[X.rank - 1] !== this.ffnNumInput) {
      throw new Error(`PositionWiseFFN.forward: X must have ${this.ffnNumInput} features on its last axis ([batch, steps, ${this.ffnNumInput}]), got ${describe(X)}`);
    }
    return tf.tidy(() => apply(this.dense2, tf.relu(apply(this.dense1, X))));
  }
}

/**
 * Residual connection and layer normalization (the book's
 * `AddNorm(normalized_shape, dropout)`, section 10.7): `forward(X, Y)` is
 * `LayerNorm(dropout(Y) + X)`, normalized over the last axes given by
 * `normalizedShape` (`[numHiddens]`, or `[steps, numHiddens]` as in the book's
 * examples), with a scale and a shift of that shape (PyTorch's
 * `nn.LayerNorm`, epsilon 1e-5; here `tf.layers.layerNormalization`). `X` and
 * `Y` are `[batch, ...normalizedShape]` or, for a one-axis shape,
 * `[batch, steps, numHiddens]`.
 *
 * @example
 * const addNorm = new d2l.AddNorm([3, 4], 0.5);
 * addNorm.eval();
 * addNorm.forward(tf.ones([2, 3, 4]), tf.ones([2, 3, 4])).shape; // [2, 3, 4]
 */
export class AddNorm extends Block {
  /** The layer normalization (the book's `ln`). */
  readonly ln: tf.layers.Layer;
  /** The normalized shape, as given. */
  readonly normalizedShape: number[];
  private readonly rank: number;

  constructor(
    normalizedShape: number | number[],
    readonly dropout: number,
  ) {
    super();
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(shape) || shape.length === 0)
      throw new Error(`AddNorm: normalizedShape must be a positive integer or a non-empty array of them, got ${String(normalizedShape)}`);
    shape.forEach((v, i) => checkSize("AddNorm", `normalizedShape[${i}]`, v));
    checkDropout("AddNorm", dropout);
    this.normalizedShape = [...shape];
    this.rank = Math.max(3, shape.length + 1);
    const axis = shape.map((_, i) => this.rank - shape.length + i);
    this.ln = tf.layers.layerNormalization({ axis, epsilon: 1e-5 });
    tf.tidy(() => void this.ln.apply(tf.zeros([...Array<number>(this.rank - shape.length).fill(1), ...shape])));
  }

  /** `LayerNorm(dropout(Y) + X)`; see the class. */
  forward(X: tf.Tensor, Y: tf.Tensor): tf.Tensor {
    const want = `[${Array.from({ length: this.rank - this.normalizedShape.length }, (_, i) => (i === 0 ? "batch" : "steps")).join(", ")}, ${this.normalizedShape.join(", ")}]`;
    for (const [name, T] of [
      ["X", X],
      ["Y", Y],
    ] as const) {
      if (!(T instanceof tf.Tensor) || T.rank !== this.rank || this.normalizedShape.some((v, i) => T.shape[this.rank - this.normalizedShape.length + i] !== v)) {
        throw new Error(`AddNorm.forward: ${name} must be ${want}, got ${describe(T)}`);
      }
    }
    if (X.shape.some((v, i) => v !== Y.shape[i])) throw new Error(`AddNorm.forward: X and Y must have the same shape, got ${shapeStr(X.shape)} and ${shapeStr(Y.shape)}`);
    return tf.tidy(() => apply(this.ln, tf.add(dropout(this, this.dropout, Y), X)));
  }
}

/**
 * The Transformer's encoder block (the book's `EncoderBlock(key_size,
 * query_size, value_size, num_hiddens, norm_shape, ffn_num_input,
 * ffn_num_hiddens, num_heads, dropout, use_bias=False)`, section 10.7):
 * multi-head self-attention, add & norm, position-wise FFN, add & norm.
 * `forward(X [batch, steps, numHiddens], validLens)` returns the same shape.
 *
 * @example
 * const encoderBlk = new d2l.EncoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5);
 * encoderBlk.eval();
 * encoderBlk.forward(tf.ones([2, 100, 24]), tf.tensor1d([3, 2])).shape; // [2, 100, 24]
 */
export class EncoderBlock extends Block {
  /** Multi-head self-attention. */
  readonly attention: MultiHeadAttention;
  /** Add & norm after the attention. */
  readonly addnorm1: AddNorm;
  /** The position-wise FFN (`ffnNumInput` → `ffnNumHiddens` → `numHiddens`). */
  readonly ffn: PositionWiseFFN;
  /** Add & norm after the FFN. */
  readonly addnorm2: AddNorm;

  constructor(
    keySize: number,
    querySize: number,
    valueSize: number,
    readonly numHiddens: number,
    normShape: number | number[],
    ffnNumInput: number,
    ffnNumHiddens: number,
    numHeads: number,
    dropout: number,
    useBias = false,
  ) {
    super();
    this.attention = new MultiHeadAttention(keySize, querySize, valueSize, numHiddens, numHeads, dropout, useBias);
    this.addnorm1 = new AddNorm(normShape, dropout);
    this.ffn = new PositionWiseFFN(ffnNumInput, ffnNumHiddens, numHiddens);
    this.addnorm2 = new AddNorm(normShape, dropout);
  }

  /** Self-attention and FFN, each with add & norm; see the class. */
  forward(X: tf.Tensor, validLens?: tf.Tensor | null): tf.Tensor {
    check3d("EncoderBlock.forward", "X", X, this.numHiddens);
    return tf.tidy(() => {
      const Y = this.addnorm1.forward(X, this.attention.forward(X, X, X, validLens));
      return this.addnorm2.forward(Y, this.ffn.forward(Y));
    });
  }
}

/**
 * The Transformer's encoder (the book's `TransformerEncoder(vocab_size,
 * key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input,
 * ffn_num_hiddens, num_heads, num_layers, dropout, use_bias=False)`, section
 * 10.7): the tokens' embeddings scaled by `sqrt(numHiddens)` (the positional
 * encoding lies in [-1, 1]), plus the positional encoding, then `numLayers`
 * {@link EncoderBlock}s. `forward(X [batch, steps], validLens)` returns
 * `[batch, steps, numHiddens]`; `attentionWeights` holds each block's
 * self-attention weights `[batch * numHeads, steps, steps]`.
 *
 * @example
 * const encoder = new d2l.TransformerEncoder(200, 24, 24, 24, 24, [100, 24], 24, 48, 8, 2, 0.5);
 * encoder.eval();
 * encoder.forward(tf.ones([2, 100], "int32"), tf.tensor1d([3, 2])).shape; // [2, 100, 24]
 * encoder.attentionWeights.map((w) => w?.shape); // [[16, 100, 100], [16, 100, 100]]
 */
export class TransformerEncoder extends Encoder<tf.Tensor> {
  /** Token index → vector of `numHiddens`. */
  readonly embedding: tf.layers.Layer;
  /** The positional encoding (with dropout). */
  readonly posEncoding: PositionalEncoding;
  /** The encoder blocks (the book's `blks`). */
  readonly blks: EncoderBlock[];

  constructor(
    readonly vocabSize: number,
    keySize: number,
    querySize: number,
    valueSize: number,
    readonly numHiddens: number,
    normShape: number | number[],
    ffnNumInput: number,
    ffnNumHiddens: number,
    numHeads: number,
    readonly numLayers: number,
    dropout: number,
    useBias = false,
  ) {
    super();
    checkSizes("TransformerEncoder", { vocabSize, numHiddens, numLayers });
    this.embedding = embedding(vocabSize, numHiddens);
    this.posEncoding = new PositionalEncoding(numHiddens, dropout);
    this.blks = Array.from(
      { length: numLayers },
      () => new EncoderBlock(keySize, querySize, valueSize, numHiddens, normShape, ffnNumInput, ffnNumHiddens, numHeads, dropout, useBias),
    );
  }

  /** Each block's self-attention weights of the last `forward` (the book's `attention_weights`); owned by the blocks. */
  get attentionWeights(): (tf.Tensor | undefined)[] {
    return this.blks.map((b) => b.attention.attentionWeights);
  }

  /** Embed, add positions, run the blocks; see the class. */
  forward(X: tf.Tensor, validLens?: tf.Tensor | null, ..._args: tf.Tensor[]): tf.Tensor {
    checkTokens("TransformerEncoder.forward", X);
    checkValidLens("TransformerEncoder.forward", validLens, X.shape[0]);
    return tf.tidy(() => {
      let Y = this.posEncoding.forward(tf.mul(apply(this.embedding, X), Math.sqrt(this.numHiddens)));
      for (const blk of this.blks) Y = blk.forward(Y, validLens);
      return Y;
    });
  }
}

/**
 * The state of the Transformer's decoder (the book's `[enc_outputs,
 * enc_valid_lens, [None] * num_layers]`): the encoder's outputs, the
 * source's valid lengths (or null), and per block the decoder's inputs to it
 * so far (null before the first step), the keys and values of its
 * self-attention at prediction time.
 */
export type TransformerDecoderState = [tf.Tensor, tf.Tensor | null, (tf.Tensor | null)[]];

function checkDecoderState(who: string, state: unknown, numLayers?: number): asserts state is TransformerDecoderState {
  const ok = Array.isArray(state) && state.length === 3 && state[0] instanceof tf.Tensor && (state[1] === null || state[1] instanceof tf.Tensor) && Array.isArray(state[2]);
  if (!ok || (numLayers !== undefined && (state[2] as unknown[]).length !== numLayers)) {
    throw new TypeError(
      `${who}: the state must be [encOutputs, encValidLens or null, one key-value tensor or null per block${numLayers !== undefined ? ` (${numLayers})` : ""}] (a TransformerDecoder's initState)`,
    );
  }
}

/**
 * The Transformer's decoder block number `i` (the book's
 * `DecoderBlock(key_size, query_size, value_size, num_hiddens, norm_shape,
 * ffn_num_input, ffn_num_hiddens, num_heads, dropout, i)`, section 10.7):
 * masked multi-head self-attention, add & norm, multi-head attention over
 * the encoder's outputs, add & norm, position-wise FFN, add & norm.
 *
 * `forward(X [batch, steps, numHiddens], state)` returns the output (same
 * shape) and the state with block `i`'s keys and values: `X` appended to
 * what the state had (the book's `state[2][self.i]`). While training, step
 * `t` attends to steps up to `t` only (the book's `dec_valid_lens`
 * `1..steps`); in evaluation mode, to every key so far. Unlike the book's,
 * the state passed in is left as it is and a new one is returned (beam
 * search decodes one state several times).
 *
 * @example
 * const encoderBlk = new d2l.EncoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5);
 * const decoderBlk = new d2l.DecoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5, 0);
 * decoderBlk.eval();
 * const X = tf.ones([2, 100, 24]), validLens = tf.tensor1d([3, 2]);
 * const state: d2l.TransformerDecoderState = [encoderBlk.forward(X, validLens), validLens, [null]];
 * decoderBlk.forward(X, state)[0].shape; // [2, 100, 24]
 */
export class DecoderBlock extends Block {
  /** Masked multi-head self-attention. */
  readonly attention1: MultiHeadAttention;
  /** Add & norm after the self-attention. */
  readonly addnorm1: AddNorm;
  /** Multi-head attention over the encoder's outputs. */
  readonly attention2: MultiHeadAttention;
  /** Add & norm after the encoder-decoder attention. */
  readonly addnorm2: AddNorm;
  /** The position-wise FFN. */
  readonly ffn: PositionWiseFFN;
  /** Add & norm after the FFN. */
  readonly addnorm3: AddNorm;

  constructor(
    keySize: number,
    querySize: number,
    valueSize: number,
    readonly numHiddens: number,
    normShape: number | number[],
    ffnNumInput: number,
    ffnNumHiddens: number,
    numHeads: number,
    dropout: number,
    readonly i: number,
  ) {
    super();
    if (!Number.isInteger(i) || i < 0) throw new Error(`DecoderBlock: i (the block's index in the decoder) must be a non-negative integer, got ${String(i)}`);
    this.attention1 = new MultiHeadAttention(keySize, querySize, valueSize, numHiddens, numHeads, dropout);
    this.addnorm1 = new AddNorm(normShape, dropout);
    this.attention2 = new MultiHeadAttention(keySize, querySize, valueSize, numHiddens, numHeads, dropout);
    this.addnorm2 = new AddNorm(normShape, dropout);
    this.ffn = new PositionWiseFFN(ffnNumInput, ffnNumHiddens, numHiddens);
    this.addnorm3 = new AddNorm(normShape, dropout);
  }

  /** Self-attention (causal while training), attention over the encoder, FFN; see the class. */
  forward(X: tf.Tensor, state: TransformerDecoderState): [tf.Tensor, TransformerDecoderState] {
    check3d("DecoderBlock.forward", "X", X, this.numHiddens);
    checkDecoderState("DecoderBlock.forward", state);
    const [encOutputs, encValidLens, keyValuesAll] = state;
    if (this.i >= keyValuesAll.length) throw new Error(`DecoderBlock.forward: block ${this.i} needs state[2] to have at least ${this.i + 1} entries, got ${keyValuesAll.length}`);
    const previous = keyValuesAll[this.i];
    const [b, steps] = X.shape;
    if (previous !== null && (!(previous instanceof tf.Tensor) || previous.rank !== 3 || previous.shape[0] !== b || previous.shape[2] !== this.numHiddens)) {
      throw new Error(`DecoderBlock.forward: state[2][${this.i}] must be null or [${b}, steps so far, ${this.numHiddens}], got ${describe(previous)}`);
    }
    const [out, keyValues] = tf.tidy(() => {
      const kv = previous === null ? X : tf.concat([previous, X], 1);
      // while training, step t sees steps 1..t: valid lengths 1..steps per query (the book's dec_valid_lens)
      const decValidLens = this.training ? tf.tile(tf.range(1, steps + 1, 1, "int32").reshape([1, steps]), [b, 1]) : null;
      const X2 = this.attention1.forward(X, kv, kv, decValidLens);
      const Y = this.addnorm1.forward(X, X2);
      const Y2 = this.attention2.forward(Y, encOutputs, encOutputs, encValidLens);
      const Z = this.addnorm2.forward(Y, Y2);
      return [this.addnorm3.forward(Z, this.ffn.forward(Z)), kv];
    });
    const next = [...keyValuesAll];
    next[this.i] = keyValues;
    return [out, [encOutputs, encValidLens, next]];
  }
}

/**
 * The Transformer's decoder (the book's `TransformerDecoder(vocab_size,
 * key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input,
 * ffn_num_hiddens, num_heads, num_layers, dropout)`, section 10.7): scaled
 * embeddings plus positional encoding, `numLayers` {@link DecoderBlock}s,
 * and a dense layer to vocabulary scores. `initState(encOutputs,
 * encValidLens)` returns `[encOutputs, encValidLens, [null, ...]]`;
 * `forward(X [batch, steps], state)` returns scores `[batch, steps,
 * vocabSize]` and the new state.
 *
 * Attention weights of the last `forward`: `blockAttentionWeights` is the
 * book's `attention_weights`, `[selfAttention, encDecAttention]`, each one
 * tensor `[batch * numHeads, queries, keys]` per block; `attentionWeights`
 * (what `predictSeq2seq` saves) stacks them into `[2, numLayers,
 * batch * numHeads, queries, keys]`, the shorter key axis padded with zeros
 * (as the book pads its per-step weights with `fillna(0.0)`).
 *
 * @example
 * const decoder = new d2l.TransformerDecoder(200, 24, 24, 24, 24, [24], 24, 48, 8, 2, 0.5);
 * decoder.eval();
 * const encOutputs = tf.randomNormal([2, 100, 24]);
 * const state = decoder.initState(encOutputs, tf.tensor1d([3, 2]));
 * const [Y, newState] = decoder.forward(tf.ones([2, 100], "int32"), state);
 * Y.shape;                          // [2, 100, 200]
 * newState[2][0]!.shape;            // [2, 100, 24]
 * decoder.attentionWeights!.shape;  // [2, 2, 16, 100, 100]
 */
export class TransformerDecoder extends AttentionDecoder<tf.Tensor, TransformerDecoderState> {
  /** Token index → vector of `numHiddens`. */
  readonly embedding: tf.layers.Layer;
  /** The positional encoding (with dropout). */
  readonly posEncoding: PositionalEncoding;
  /** The decoder blocks (the book's `blks`). */
  readonly blks: DecoderBlock[];
  /** Hidden → vocabulary scores. */
  readonly dense: tf.layers.Layer;
  private stacked: tf.Tensor | undefined;

  constructor(
    readonly vocabSize: number,
    keySize: number,
    querySize: number,
    valueSize: number,
    readonly numHiddens: number,
    normShape: number | number[],
    ffnNumInput: number,
    ffnNumHiddens: number,
    numHeads: number,
    readonly numLayers: number,
    dropout: number,
  ) {
    super();
    checkSizes("TransformerDecoder", { vocabSize, numHiddens, numLayers });
    this.embedding = embedding(vocabSize, numHiddens);
    this.posEncoding = new PositionalEncoding(numHiddens, dropout);
    this.blks = Array.from(
      { length: numLayers },
      (_, i) => new DecoderBlock(keySize, querySize, valueSize, numHiddens, normShape, ffnNumInput, ffnNumHiddens, numHeads, dropout, i),
    );
    this.dense = linear(numHiddens, vocabSize);
  }

  /** The first state: `[encOutputs, encValidLens, [null] * numLayers]` (the book's `init_state`). */
  initState(encOutputs: tf.Tensor, encValidLens?: tf.Tensor | null, ..._args: tf.Tensor[]): TransformerDecoderState {
    check3d("TransformerDecoder.initState", "the encoder's outputs", encOutputs, this.numHiddens);
    checkValidLens("TransformerDecoder.initState", encValidLens, encOutputs.shape[0]);
    return [encOutputs, encValidLens ?? null, Array.from({ length: this.numLayers }, () => null)];
  }

  /** The book's `attention_weights`: `[self-attention per block, encoder-decoder attention per block]`, owned by the blocks. */
  get blockAttentionWeights(): [(tf.Tensor | undefined)[], (tf.Tensor | undefined)[]] {
    return [this.blks.map((b) => b.attention1.attentionWeights), this.blks.map((b) => b.attention2.attentionWeights)];
  }

  /** All attention weights of the last `forward`, `[2, numLayers, batch * numHeads, queries, keys]`; see the class. Owned by the decoder. */
  get attentionWeights(): tf.Tensor | undefined {
    if (this.stacked && !this.stacked.isDisposed) return this.stacked;
    const [self, cross] = this.blockAttentionWeights;
    const all = [...self, ...cross];
    if (all.some((w) => w === undefined || w.isDisposed)) return undefined;
    const ws = all as tf.Tensor[];
    const keys = Math.max(...ws.map((w) => w.shape[2] as number));
    this.stacked = tf.tidy(() => {
      const padded = ws.map((w) =>
        w.shape[2] === keys
          ? w
          : tf.pad(w, [
              [0, 0],
              [0, 0],
              [0, keys - (w.shape[2] as number)],
            ]),
      );
      const [bh, q] = ws[0].shape;
      return tf.keep(tf.reshape(tf.stack(padded), [2, this.numLayers, bh, q, keys]));
    });
    return this.stacked;
  }

  private dropStacked(): void {
    if (this.stacked && !this.stacked.isDisposed) this.stacked.dispose();
    this.stacked = undefined;
  }

  /** Embed, add positions, run the blocks, score; see the class. */
  forward(X: tf.Tensor, state: TransformerDecoderState): [tf.Tensor, TransformerDecoderState] {
    checkTokens("TransformerDecoder.forward", X);
    checkDecoderState("TransformerDecoder.forward", state, this.numLayers);
    if (state[0].shape[0] !== X.shape[0]) throw new Error(`TransformerDecoder.forward: the state's encoder outputs have batch ${state[0].shape[0]}, X has ${X.shape[0]}`);
    this.dropStacked();
    const [Y, ...keyValues] = tf.tidy(() => {
      let H = this.posEncoding.forward(tf.mul(apply(this.embedding, X), Math.sqrt(this.numHiddens)));
      let s = state;
      for (const blk of this.blks) [H, s] = blk.forward(H, s);
      return [apply(this.dense, H), ...(s[2] as tf.Tensor[])];
    });
    return [Y, [state[0], state[1], keyValues]];
  }

  /** Free the weights and the stacked attention weights. */
  override dispose(): void {
    super.dispose();
    this.dropStacked();
  }
}
