/**
 * Minibatches of token sequences of different lengths (d2l-ts' own): each
 * batch is a matrix of ids padded at the end with a pad id, so that a model
 * can tell every sequence's true length from it, and optionally bucketed by
 * length, so that a recurrent model runs few steps over padding.
 */
import * as tf from "@tensorflow/tfjs";
import { mixSeed, permutation } from "../data/random";

/** Options of {@link PaddedLoader}. */
export interface PaddedLoaderOptions {
  /** Sequences per minibatch (a positive integer). */
  batchSize: number;
  /** The id that fills a row after its sequence ends (`vocab.toIndices("<pad>")`); never an id inside a sequence. */
  padId: number;
  /** Keep at most this many tokens of each sequence, the first ones (default: the longest sequence's length). */
  numSteps?: number;
  /** Visit the sequences in a new random order every epoch (default false). */
  shuffle?: boolean;
  /** Seed for the shuffle: the same seed gives the same sequence of epoch orders (default 0). */
  seed?: number;
  /**
   * Bucket by length (default false): sequences of similar length go into
   * the same batch (sorted within pools of 20 batches; with `shuffle`, the
   * pools and the order of batches are random every epoch), and each batch
   * is padded to its own longest sequence instead of `numSteps`.
   */
  bucket?: boolean;
}

function checkInt(v: unknown, what: string, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new Error(`PaddedLoader: ${what} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

/** Sequences per pool when bucketing: this many batches are sorted by length together. */
const POOL_BATCHES = 20;

/**
 * Minibatches `[X, y]` of token sequences of different lengths, for
 * classifying text with a recurrent net (d2l-ts' own; the book pads every
 * review to 500 tokens in `load_data_imdb`). `X` is int32 `[n, T]`: row `i`
 * holds sequence `i`'s first `min(length, numSteps)` ids, then `padId` up to
 * `T`. Padding is only ever at the end and `padId` never occurs inside a
 * sequence, so each row's true length (its *valid length*) is the number of
 * ids that are not `padId`: `X.notEqual(padId).sum(1)`. `y` is int32 `[n]`.
 * `T` is `numSteps` for every batch, or with `bucket` the batch's longest
 * sequence (capped at `numSteps`). The consumer owns each batch's tensors.
 *
 * @example
 * const loader = new d2l.PaddedLoader([[5, 6, 7], [8]], [1, 0], { batchSize: 2, padId: 1 });
 * for await (const [X, y] of loader) {
 *   await X.array(); // [[5, 6, 7], [8, 1, 1]]
 *   tf.dispose([X, y]);
 * }
 */
export class PaddedLoader implements AsyncIterable<[tf.Tensor, tf.Tensor]> {
  /** Sequences per minibatch. */
  readonly batchSize: number;
  /** The id that pads rows after their sequence ends. */
  readonly padId: number;
  /** The most tokens kept per sequence. */
  readonly numSteps: number;
  /** Whether each epoch visits the sequences in a new random order. */
  readonly shuffle: boolean;
  /** Whether batches group sequences of similar length and are padded to their longest. */
  readonly bucket: boolean;
  /** Valid length of each sequence (its length, truncated to `numSteps`). */
  readonly validLens: Int32Array;
  /** The label of each sequence. */
  readonly labels: Int32Array;
  private readonly seqs: Int32Array[];
  private readonly seed: number;
  private epochs = 0;

  constructor(sequences: readonly ArrayLike<number>[], labels: ArrayLike<number>, options: PaddedLoaderOptions) {
    if (!Array.isArray(sequences)) throw new Error("PaddedLoader: sequences must be an array of token-id arrays, e.g. vocab.toIndices(tokens)");
    if (labels === null || typeof labels !== "object" || typeof labels.length !== "number")
      throw new Error("PaddedLoader: labels must be an array of integer labels, one per sequence");
    if (labels.length !== sequences.length) throw new Error(`PaddedLoader: ${sequences.length} sequences but ${labels.length} labels; give one label per sequence`);
    if (options === null || typeof options !== "object") throw new Error("PaddedLoader: options { batchSize, padId } are required");
    this.batchSize = checkInt(options.batchSize, "batchSize", 1);
    this.padId = checkInt(options.padId, "padId", 0);
    const longest = sequences.reduce((m, s) => Math.max(m, s?.length ?? 0), 1);
    this.numSteps = options.numSteps === undefined ? longest : checkInt(options.numSteps, "numSteps", 1);
    this.shuffle = options.shuffle ?? false;
    this.bucket = options.bucket ?? false;
    this.seed = options.seed === undefined ? 0 : checkInt(options.seed, "seed", 0);
    this.seqs = sequences.map((s, i) => {
      if (s === null || typeof s !== "object" || typeof s.length !== "number") throw new Error(`PaddedLoader: sequence ${i} is not an array of token ids`);
      const kept = new Int32Array(Math.min(s.length, this.numSteps));
      for (let j = 0; j < kept.length; j++) {
        const id = s[j];
        if (!Number.isInteger(id) || id < 0) throw new Error(`PaddedLoader: sequence ${i} holds ${id}; token ids are integers >= 0`);
        if (id === this.padId)
          throw new Error(
            `PaddedLoader: sequence ${i} holds the pad id ${this.padId} among its tokens; padding must only follow a sequence (build the vocabulary with "<pad>" as a reserved token that no text contains)`,
          );
        kept[j] = id;
      }
      return kept;
    });
    this.validLens = Int32Array.from(this.seqs, (s) => s.length);
    this.labels = Int32Array.from({ length: labels.length }, (_, i) => {
      const v = labels[i];
      if (!Number.isInteger(v)) throw new Error(`PaddedLoader: label ${i} is ${String(v)}; labels must be integers (class indices)`);
      return v;
    });
  }

  /** Number of sequences (the book's `len(loader.dataset)`). */
  get numExamples(): number {
    return this.seqs.length;
  }

  /** Number of batches per epoch (the book's `len(loader)`). */
  get numBatches(): number {
    return Math.ceil(this.seqs.length / this.batchSize);
  }

  /**
   * The sequences at `indices` as one batch `[X, y]`, padded to `length`
   * columns (default: `numSteps`, or their longest with `bucket`); longer
   * sequences are cut to `length`. The tensors belong to the caller.
   *
   * @example
   * const [X, y] = loader.batch([0, 1], 50); // X: [2, 50], each row padded with padId
   */
  batch(indices: ArrayLike<number>, length?: number): [tf.Tensor2D, tf.Tensor1D] {
    const k = indices.length;
    for (let j = 0; j < k; j++) {
      const i = indices[j];
      if (!Number.isInteger(i) || i < 0 || i >= this.seqs.length)
        throw new Error(`PaddedLoader.batch: index ${i} is out of range; expected integers in 0..${this.seqs.length - 1}`);
    }
    let T = length;
    if (T === undefined) {
      if (this.bucket) {
        T = 1;
        for (let j = 0; j < k; j++) T = Math.max(T, this.validLens[indices[j]]);
      } else T = this.numSteps;
    } else checkInt(T, "the batch length", 1);
    const X = new Int32Array(k * T).fill(this.padId);
    const y = new Int32Array(k);
    for (let j = 0; j < k; j++) {
      const s = this.seqs[indices[j]];
      X.set(s.length > T ? s.subarray(0, T) : s, j * T);
      y[j] = this.labels[indices[j]];
    }
    return [tf.tensor2d(X, [k, T], "int32"), tf.tensor1d(y, "int32")];
  }

  /** The example order of one epoch, cut into batches. */
  private batchesOf(epoch: number): Int32Array[] {
    const n = this.seqs.length;
    const bs = this.batchSize;
    let order: Int32Array;
    if (this.shuffle) order = permutation(n, mixSeed(this.seed, epoch));
    else order = Int32Array.from({ length: n }, (_, i) => i);
    const out: Int32Array[] = [];
    if (!this.bucket) {
      for (let s = 0; s < n; s += bs) out.push(order.subarray(s, Math.min(n, s + bs)));
      return out;
    }
    const pool = bs * POOL_BATCHES;
    for (let s = 0; s < n; s += pool) {
      const part = Array.from(order.subarray(s, Math.min(n, s + pool)));
      // longest first within a pool; ties keep the (random or given) order
      part.sort((a, b) => this.validLens[b] - this.validLens[a]);
      for (let b = 0; b < part.length; b += bs) out.push(Int32Array.from(part.slice(b, b + bs)));
    }
    if (this.shuffle) {
      const p = permutation(out.length, mixSeed(this.seed ^ 0x5bd1e995, epoch));
      return Array.from(p, (i) => out[i]);
    }
    return out;
  }

  /**
   * One epoch of minibatches `[X, y]`. Each call starts a new epoch (with
   * `shuffle`, in a new order).
   *
   * @example
   * for await (const [X, y] of loader) { console.log(X.shape, y.shape); tf.dispose([X, y]); }
   */
  [Symbol.asyncIterator](): AsyncGenerator<[tf.Tensor, tf.Tensor], void, undefined> {
    const batches = this.batchesOf(this.epochs++);
    const self = this;
    return (async function* () {
      for (const idx of batches) yield self.batch(idx);
    })();
  }

  /** A one-line description. */
  toString(): string {
    return `PaddedLoader(${this.numExamples} sequences, batch size ${this.batchSize}, ${this.numBatches} batches, numSteps ${this.numSteps}, padId ${this.padId}${this.bucket ? ", bucketed by length" : ""}${this.shuffle ? ", shuffled" : ""})`;
  }

  /** How the notebook shows a loader. */
  [Symbol.for("Jupyter.display")](): Record<string, unknown> {
    return { "text/plain": this.toString() };
  }
}
