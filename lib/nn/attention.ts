/**
 * Attention mechanisms (the book's chapter 10, sections 10.3 and 10.5-10.6 of
 * the Chinese edition): `maskedSoftmax`, the scoring functions
 * `AdditiveAttention` and `DotProductAttention`, `MultiHeadAttention` with
 * `transposeQkv` / `transposeOutput`, and `PositionalEncoding`.
 *
 * As in lib/nn/encoderDecoder.ts, the book's PyTorch modules are
 * {@link Block}s whose `forward` a reader calls (`attention.forward(queries,
 * keys, values, validLens)` for the book's `attention(queries, keys, values,
 * valid_lens)`); their weights are tfjs dense layers (PyTorch's `nn.Linear`,
 * kernel `[in, out]` where PyTorch's weight is `[out, in]`), built at
 * construction so that `countParams()` is PyTorch's count at once. Dropout is
 * active while `training` (after `train()`, and at first), off after `eval()`.
 * Each layer keeps the attention weights of its last `forward` in
 * `attentionWeights`, as the book does, for `showHeatmaps`.
 */
import * as tf from "@tensorflow/tfjs";
import { dropout } from "./dropout";
import { Block } from "./encoderDecoder";

function shapeStr(shape: readonly (number | null)[]): string {
  return `[${shape.join(", ")}]`;
}

function describe(v: unknown): string {
  return v instanceof tf.Tensor ? `a tensor of shape ${shapeStr(v.shape)}` : v === null ? "null" : typeof v;
}

function checkSize(who: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${String(v)}`);
}

function checkDropout(who: string, dropout: number): void {
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw new Error(`${who}: dropout must be a number in [0, 1), got ${String(dropout)}`);
}

function check3d(who: string, name: string, X: unknown, last?: number): asserts X is tf.Tensor {
  if (!(X instanceof tf.Tensor) || X.rank !== 3 || (last !== undefined && X.shape[2] !== last)) {
    throw new Error(`${who}: ${name} must be a tensor of shape [batch, steps, ${last ?? "features"}], got ${describe(X)}`);
  }
}

/**
 * A dense layer without activation, as PyTorch's `nn.Linear(inSize, outSize, bias)`:
 * tfjs' default Glorot-uniform kernel (what the book's `train_seq2seq` gives
 * every `nn.Linear` with `xavier_uniform_`), and PyTorch's bias initialisation
 * `U(-1/sqrt(in), 1/sqrt(in))`. Built at once.
 */
function linear(inSize: number, outSize: number, bias: boolean): tf.layers.Layer {
  const k = 1 / Math.sqrt(inSize);
  const d = tf.layers.dense({ units: outSize, useBias: bias, ...(bias ? { biasInitializer: tf.initializers.randomUniform({ minval: -k, maxval: k }) } : {}) });
  tf.tidy(() => void d.apply(tf.zeros([1, inSize]))); // built (and "used", so that dispose() may free it)
  return d;
}

/** Apply a dense layer to the last axis of a tensor of any rank. */
function applyDense(layer: tf.layers.Layer, X: tf.Tensor): tf.Tensor {
  return layer.apply(X) as tf.Tensor;
}

/**
 * Softmax over the last axis with the entries past each valid length masked
 * out (the book's `masked_softmax`, section 10.3). `X` is `[batch, numQueries,
 * numKeys]`; `validLens` is one length per example `[batch]` (every query of
 * example `i` sees its first `validLens[i]` keys), one per query
 * `[batch, numQueries]`, or undefined/null (a plain softmax). As in the book, a
 * masked score is replaced by -1e6 before the softmax, so its weight is 0
 * (and a valid length of 0 gives equal weights to every key).
 *
 * @example
 * const X = tf.randomUniform([2, 2, 4]);
 * d2l.maskedSoftmax(X, tf.tensor1d([2, 3]));                // row i: weights on its first 2 (then 3) keys
 * d2l.maskedSoftmax(X, tf.tensor2d([[1, 3], [2, 4]]));      // one valid length per query
 */
export function maskedSoftmax(X: tf.Tensor, validLens?: tf.Tensor | null): tf.Tensor {
  check3d("maskedSoftmax", "X", X);
  if (validLens === undefined || validLens === null) return tf.softmax(X, -1);
  const [b, q, k] = X.shape;
  if (
    !(validLens instanceof tf.Tensor) ||
    !((validLens.rank === 1 && validLens.shape[0] === b) || (validLens.rank === 2 && validLens.shape[0] === b && validLens.shape[1] === q))
  ) {
    throw new Error(
      `maskedSoftmax: validLens must be [${b}] (one valid length per example) or [${b}, ${q}] (one per query) for X of shape ${shapeStr(X.shape)}, got ${describe(validLens)}`,
    );
  }
  return tf.tidy(() => {
    const lens = tf.reshape(tf.cast(validLens, "float32"), validLens.rank === 1 ? [b, 1, 1] : [b, q, 1]);
    const mask = tf.less(tf.reshape(tf.range(0, k, 1, "float32"), [1, 1, k]), lens); // [b, 1 or q, k]
    const masked = tf.where(tf.broadcastTo(mask, [b, q, k]), X, tf.fill([b, q, k], -1e6));
    return tf.softmax(masked, -1);
  });
}

/**
 * What the attention layers share: dropout on the attention weights while
 * training, and the weights of the last `forward` kept (as the book's
 * `self.attention_weights`). Exported for the declarations only; not part of `d2l`.
 */
export abstract class AttentionBase extends Block {
  private lastWeights: tf.Tensor | undefined;

  constructor(readonly dropout: number) {
    super();
  }

  /**
   * The attention weights of the last `forward` (`[batch, numQueries, numKeys]`),
   * before dropout, as the book's `attention_weights`; undefined before the first call.
   * The layer owns them: they are freed at the next `forward` and by `dispose`.
   */
  get attentionWeights(): tf.Tensor | undefined {
    return this.lastWeights;
  }

  /** Keep `w` (a copy, so that a gradient tape keeps its own) and apply dropout to it while training. */
  protected weigh(w: tf.Tensor): tf.Tensor {
    const kept = tf.keep(tf.clone(w));
    if (this.lastWeights && !this.lastWeights.isDisposed) this.lastWeights.dispose();
    this.lastWeights = kept;
    return this.training && this.dropout > 0 ? dropout(w, this.dropout) : w;
  }

  override dispose(): void {
    super.dispose();
    if (this.lastWeights && !this.lastWeights.isDisposed) this.lastWeights.dispose();
    this.lastWeights = undefined;
  }
}

function checkQkv(who: string, queries: unknown, keys: unknown, values: unknown, sizes: { q?: number; k?: number; v?: number }): [tf.Tensor, tf.Tensor, tf.Tensor] {
  check3d(who, "queries", queries, sizes.q);
  check3d(who, "keys", keys, sizes.k);
  check3d(who, "values", values, sizes.v);
  if (keys.shape[0] !== queries.shape[0] || values.shape[0] !== queries.shape[0]) {
    throw new Error(`${who}: queries, keys and values must have the same batch size, got ${shapeStr(queries.shape)}, ${shapeStr(keys.shape)}, ${shapeStr(values.shape)}`);
  }
  if (values.shape[1] !== keys.shape[1]) {
    throw new Error(`${who}: there must be one value per key: keys ${shapeStr(keys.shape)} and values ${shapeStr(values.shape)} differ on axis 1`);
  }
  return [queries, keys, values];
}

/**
 * Additive attention (the book's `AdditiveAttention(key_size, query_size,
 * num_hiddens, dropout)`, section 10.3): scores
 * `w_v^T tanh(W_q q + W_k k)`, masked softmax over the keys, dropout, then
 * the weighted sum of the values. `forward(queries [batch, numQueries,
 * querySize], keys [batch, numKeys, keySize], values [batch, numKeys, valueDim],
 * validLens?)` returns `[batch, numQueries, valueDim]`; the weights
 * `[batch, numQueries, numKeys]` stay in `attentionWeights`.
 *
 * @example
 * const attention = new d2l.AdditiveAttention(2, 20, 8, 0.1);
 * attention.eval();
 * const queries = tf.randomNormal([2, 1, 20]), keys = tf.ones([2, 10, 2]);
 * const values = tf.tile(tf.range(0, 40).reshape([1, 10, 4]), [2, 1, 1]);
 * attention.forward(queries, keys, values, tf.tensor1d([2, 6])).shape; // [2, 1, 4]
 * attention.attentionWeights!.shape;                                   // [2, 1, 10]
 */
export class AdditiveAttention extends AttentionBase {
  /** Keys → hidden (the book's `W_k`, no bias). */
  readonly Wk: tf.layers.Layer;
  /** Queries → hidden (the book's `W_q`, no bias). */
  readonly Wq: tf.layers.Layer;
  /** Hidden → score (the book's `w_v`, no bias). */
  readonly wv: tf.layers.Layer;

  constructor(
    readonly keySize: number,
    readonly querySize: number,
    readonly numHiddens: number,
    dropout: number,
  ) {
    super(dropout);
    for (const [name, v] of Object.entries({ keySize, querySize, numHiddens })) checkSize("AdditiveAttention", name, v);
    checkDropout("AdditiveAttention", dropout);
    this.Wk = linear(keySize, numHiddens, false);
    this.Wq = linear(querySize, numHiddens, false);
    this.wv = linear(numHiddens, 1, false);
  }

  /** Attend; see the class. */
  forward(queries: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, validLens?: tf.Tensor | null): tf.Tensor {
    checkQkv("AdditiveAttention.forward", queries, keys, values, { q: this.querySize, k: this.keySize });
    return tf.tidy(() => {
      const q = applyDense(this.Wq, queries); // [b, nq, h]
      const k = applyDense(this.Wk, keys); // [b, nk, h]
      const features = tf.tanh(tf.add(tf.expandDims(q, 2), tf.expandDims(k, 1))); // [b, nq, nk, h]
      const scores = tf.squeeze(applyDense(this.wv, features), [3]); // [b, nq, nk]
      const weights = maskedSoftmax(scores, validLens);
      return tf.matMul(this.weigh(weights), values);
    });
  }
}

/**
 * Scaled dot-product attention (the book's `DotProductAttention(dropout)`,
 * section 10.3): scores `q k^T / sqrt(d)` with `d` the queries' (and keys')
 * size, masked softmax over the keys, dropout, then the weighted sum of the
 * values. `forward(queries [batch, numQueries, d], keys [batch, numKeys, d],
 * values [batch, numKeys, valueDim], validLens?)` returns
 * `[batch, numQueries, valueDim]`; no weights of its own.
 *
 * @example
 * const attention = new d2l.DotProductAttention(0.5);
 * attention.eval();
 * const queries = tf.randomNormal([2, 1, 2]), keys = tf.ones([2, 10, 2]);
 * const values = tf.tile(tf.range(0, 40).reshape([1, 10, 4]), [2, 1, 1]);
 * attention.forward(queries, keys, values, tf.tensor1d([2, 6])).shape; // [2, 1, 4]
 */
export class DotProductAttention extends AttentionBase {
  constructor(dropout: number) {
    super(dropout);
    checkDropout("DotProductAttention", dropout);
  }

  /** Attend; see the class. */
  forward(queries: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, validLens?: tf.Tensor | null): tf.Tensor {
    checkQkv("DotProductAttention.forward", queries, keys, values, {});
    const d = queries.shape[2] as number;
    if (keys.shape[2] !== d) throw new Error(`DotProductAttention.forward: queries and keys must have the same size, got ${shapeStr(queries.shape)} and ${shapeStr(keys.shape)}`);
    return tf.tidy(() => {
      const scores = tf.div(tf.matMul(queries, keys, false, true), Math.sqrt(d));
      const weights = maskedSoftmax(scores, validLens);
      return tf.matMul(this.weigh(weights), values);
    });
  }
}

/**
 * Split the last axis into heads for parallel computation (the book's
 * `transpose_qkv`, section 10.5): `[batch, steps, numHeads * h]` →
 * `[batch * numHeads, steps, h]`, the heads of example 0 first.
 *
 * @example
 * d2l.transposeQkv(tf.zeros([2, 4, 100]), 5).shape; // [10, 4, 20]
 */
export function transposeQkv(X: tf.Tensor, numHeads: number): tf.Tensor {
  checkSize("transposeQkv", "numHeads", numHeads);
  check3d("transposeQkv", "X", X);
  const [b, n, f] = X.shape;
  if (f % numHeads !== 0) throw new Error(`transposeQkv: the last axis (${f}) of X ${shapeStr(X.shape)} must be a multiple of numHeads (${numHeads})`);
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(X, [b, n, numHeads, f / numHeads]), [0, 2, 1, 3]), [b * numHeads, n, f / numHeads]));
}

/**
 * Undo {@link transposeQkv} (the book's `transpose_output`, section 10.5):
 * `[batch * numHeads, steps, h]` → `[batch, steps, numHeads * h]`.
 *
 * @example
 * d2l.transposeOutput(tf.zeros([10, 4, 20]), 5).shape; // [2, 4, 100]
 */
export function transposeOutput(X: tf.Tensor, numHeads: number): tf.Tensor {
  checkSize("transposeOutput", "numHeads", numHeads);
  check3d("transposeOutput", "X", X);
  const [bh, n, h] = X.shape;
  if (bh % numHeads !== 0) throw new Error(`transposeOutput: the first axis (${bh}) of X ${shapeStr(X.shape)} must be a multiple of numHeads (${numHeads})`);
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(X, [bh / numHeads, numHeads, n, h]), [0, 2, 1, 3]), [bh / numHeads, n, numHeads * h]));
}

/**
 * Multi-head attention (the book's `MultiHeadAttention(key_size, query_size,
 * value_size, num_hiddens, num_heads, dropout, bias=False)`, section 10.5):
 * queries, keys and values projected to `numHiddens` (`W_q`, `W_k`, `W_v`),
 * split into `numHeads` heads of `numHiddens / numHeads`, scaled dot-product
 * attention in every head at once, the heads concatenated and projected by
 * `W_o`. `forward(queries [batch, numQueries, querySize], keys [batch, numKeys,
 * keySize], values [batch, numKeys, valueSize], validLens?)` returns
 * `[batch, numQueries, numHiddens]`; `validLens` is per example `[batch]` or
 * per query `[batch, numQueries]`, repeated for each head as the book does.
 * `attentionWeights` is the inner attention's, `[batch * numHeads, numQueries,
 * numKeys]` (example 0's heads first), as the book's `attention.attention_weights`.
 *
 * @example
 * const attention = new d2l.MultiHeadAttention(100, 100, 100, 100, 5, 0.5);
 * attention.eval();
 * const X = tf.ones([2, 4, 100]), Y = tf.ones([2, 6, 100]);
 * attention.forward(X, Y, Y, tf.tensor1d([3, 2])).shape; // [2, 4, 100]
 * attention.countParams();                               // 40000
 */
export class MultiHeadAttention extends Block {
  /** The attention inside, over all heads at once. */
  readonly attention: DotProductAttention;
  /** Queries → numHiddens (the book's `W_q`). */
  readonly Wq: tf.layers.Layer;
  /** Keys → numHiddens (the book's `W_k`). */
  readonly Wk: tf.layers.Layer;
  /** Values → numHiddens (the book's `W_v`). */
  readonly Wv: tf.layers.Layer;
  /** Concatenated heads → numHiddens (the book's `W_o`). */
  readonly Wo: tf.layers.Layer;

  constructor(
    readonly keySize: number,
    readonly querySize: number,
    readonly valueSize: number,
    readonly numHiddens: number,
    readonly numHeads: number,
    dropout: number,
    readonly bias = false,
  ) {
    super();
    for (const [name, v] of Object.entries({ keySize, querySize, valueSize, numHiddens, numHeads })) checkSize("MultiHeadAttention", name, v);
    checkDropout("MultiHeadAttention", dropout);
    if (numHiddens % numHeads !== 0) throw new Error(`MultiHeadAttention: numHiddens (${numHiddens}) must be a multiple of numHeads (${numHeads})`);
    this.attention = new DotProductAttention(dropout);
    this.Wq = linear(querySize, numHiddens, bias);
    this.Wk = linear(keySize, numHiddens, bias);
    this.Wv = linear(valueSize, numHiddens, bias);
    this.Wo = linear(numHiddens, numHiddens, bias);
  }

  /** The inner attention's weights of the last `forward`, `[batch * numHeads, numQueries, numKeys]`; see the class. */
  get attentionWeights(): tf.Tensor | undefined {
    return this.attention.attentionWeights;
  }

  /** Free the weights and the last attention weights. */
  override dispose(): void {
    super.dispose();
    this.attention.dispose();
  }

  /** Attend with every head; see the class. */
  forward(queries: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, validLens?: tf.Tensor | null): tf.Tensor {
    checkQkv("MultiHeadAttention.forward", queries, keys, values, { q: this.querySize, k: this.keySize, v: this.valueSize });
    const [b, nq] = queries.shape;
    if (validLens !== undefined && validLens !== null) {
      if (
        !(validLens instanceof tf.Tensor) ||
        !((validLens.rank === 1 && validLens.shape[0] === b) || (validLens.rank === 2 && validLens.shape[0] === b && validLens.shape[1] === nq))
      ) {
        throw new Error(`MultiHeadAttention.forward: validLens must be [${b}] (one per example) or [${b}, ${nq}] (one per query), got ${describe(validLens)}`);
      }
    }
    return tf.tidy(() => {
      const q = transposeQkv(applyDense(this.Wq, queries), this.numHeads);
      const k = transposeQkv(applyDense(this.Wk, keys), this.numHeads);
      const v = transposeQkv(applyDense(this.Wv, values), this.numHeads);
      // the book's torch.repeat_interleave(valid_lens, num_heads, dim=0): each example's lengths once per head
      const lens =
        validLens === undefined || validLens === null
          ? validLens
          : tf.reshape(
              tf.tile(tf.expandDims(validLens, 1), validLens.rank === 1 ? [1, this.numHeads] : [1, this.numHeads, 1]),
              validLens.rank === 1 ? [b * this.numHeads] : [b * this.numHeads, nq],
            );
      const output = this.attention.forward(q, k, v, lens);
      return applyDense(this.Wo, transposeOutput(output, this.numHeads));
    });
  }
}

/**
 * The sinusoidal positional encoding (the book's `PositionalEncoding(num_hiddens,
 * dropout, max_len=1000)`, section 10.6): `P[i, 2j] = sin(i / 10000^(2j/d))`,
 * `P[i, 2j+1] = cos(i / 10000^(2j/d))`, `P` of shape `[1, maxLen, numHiddens]`,
 * computed in float32 step by step as the book's PyTorch code does.
 * `forward(X [batch, steps, numHiddens])` adds `P`'s first `steps` rows and
 * applies dropout while training. No trainable weights. `numHiddens` must be
 * even (the book's code assumes it).
 *
 * @example
 * const pe = new d2l.PositionalEncoding(32, 0);
 * pe.eval();
 * const X = pe.forward(tf.zeros([1, 60, 32]));
 * X.shape; // [1, 60, 32]
 * pe.P.shape; // [1, 1000, 32]
 */
export class PositionalEncoding extends Block {
  /** The encodings, `[1, maxLen, numHiddens]` (the book's `self.P`). */
  readonly P: tf.Tensor;

  constructor(
    readonly numHiddens: number,
    readonly dropout: number,
    readonly maxLen = 1000,
  ) {
    super();
    checkSize("PositionalEncoding", "numHiddens", numHiddens);
    checkSize("PositionalEncoding", "maxLen", maxLen);
    checkDropout("PositionalEncoding", dropout);
    if (numHiddens % 2 !== 0) throw new Error(`PositionalEncoding: numHiddens must be even (sin and cos columns in pairs), got ${numHiddens}`);
    const f = Math.fround;
    const data = new Float32Array(maxLen * numHiddens);
    const denoms = Array.from({ length: numHiddens / 2 }, (_, j) => f(Math.pow(10000, f(f(2 * j) / numHiddens))));
    for (let i = 0; i < maxLen; i++) {
      for (let j = 0; j < numHiddens / 2; j++) {
        const x = f(i / denoms[j]);
        data[i * numHiddens + 2 * j] = Math.sin(x);
        data[i * numHiddens + 2 * j + 1] = Math.cos(x);
      }
    }
    this.P = tf.keep(tf.tensor3d(data, [1, maxLen, numHiddens]));
  }

  /** Add the encodings (and dropout while training); see the class. */
  forward(X: tf.Tensor): tf.Tensor {
    check3d("PositionalEncoding.forward", "X", X, this.numHiddens);
    const steps = X.shape[1] as number;
    if (steps > this.maxLen) throw new Error(`PositionalEncoding.forward: X has ${steps} steps, more than maxLen ${this.maxLen}`);
    return tf.tidy(() => {
      const Y = tf.add(X, tf.slice(this.P, [0, 0, 0], [1, steps, this.numHiddens]));
      return this.training && this.dropout > 0 ? dropout(Y, this.dropout) : Y;
    });
  }

  override dispose(): void {
    super.dispose();
    if (!this.P.isDisposed) this.P.dispose();
  }
}
