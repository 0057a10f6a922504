/**
 * Minibatches of subsequences for language models (the book's section 8.3):
 * random and sequential partitioning, `SeqDataLoader` and
 * `load_data_time_machine`.
 *
 * Ownership, as for `d2l.DataLoader`: each batch's `[X, Y]` are fresh int32
 * tensors of shape `[batchSize, numSteps]` that belong to whoever consumes
 * them (dispose them, or run the step in `tf.tidy`; the training functions
 * do). Tensors are made only when a batch is yielded, so stopping early
 * (`break`) leaks nothing.
 */
import * as tf from "@tensorflow/tfjs";
import { rng, mixSeed } from "../data/random";
import type { Vocab } from "./vocab";
import { loadCorpusTimeMachine, type TimeMachineOptions } from "./timeMachine";

/** A uniform integer in [lo, hi] (both ends included), Python's `random.randint`. */
function randint(next: () => number, lo: number, hi: number): number {
  return lo + Math.floor(next() * (hi - lo + 1));
}

function randomSource(seed: number | undefined): () => number {
  return seed === undefined ? Math.random : rng(seed);
}

function checkArgs(fn: string, corpus: ArrayLike<number>, batchSize: number, numSteps: number): void {
  if (corpus === null || typeof corpus !== "object" || typeof corpus.length !== "number") {
    throw new Error(
      `${fn}(corpus, batchSize, numSteps): corpus must be an array of token indices (e.g. from d2l.loadCorpusTimeMachine), got ${corpus === null ? "null" : typeof corpus}`,
    );
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${fn}: batchSize must be a positive integer, got ${String(batchSize)}`);
  if (!Number.isInteger(numSteps) || numSteps < 1) throw new Error(`${fn}: numSteps must be a positive integer, got ${String(numSteps)}`);
}

/** A [rows, numSteps] int32 tensor from the subsequences of `corpus` starting at `starts`. */
function gather(corpus: ArrayLike<number>, starts: readonly number[], numSteps: number): tf.Tensor2D {
  const values = new Int32Array(starts.length * numSteps);
  starts.forEach((s, r) => {
    for (let k = 0; k < numSteps; k++) values[r * numSteps + k] = corpus[s + k];
  });
  return tf.tensor2d(values, [starts.length, numSteps], "int32");
}

/**
 * Minibatches of random, non-overlapping subsequences (the book's
 * `seq_data_iter_random`): the corpus is cut at a random offset in
 * `[0, numSteps - 1]` into subsequences of `numSteps` tokens, which are
 * shuffled and grouped `batchSize` at a time. `Y` is `X` shifted by one
 * token. Yields `[X, Y]`, int32 `[batchSize, numSteps]`, which the consumer
 * disposes. `seed` (not in the book) makes the offset and order repeatable.
 *
 * @example
 * const mySeq = Array.from({ length: 35 }, (_, i) => i);
 * for (const [X, Y] of d2l.seqDataIterRandom(mySeq, 2, 5)) {
 *   console.log(await X.array(), await Y.array());
 *   tf.dispose([X, Y]);
 * }
 */
export function* seqDataIterRandom(corpus: ArrayLike<number>, batchSize: number, numSteps: number, seed?: number): Generator<[tf.Tensor2D, tf.Tensor2D], void, undefined> {
  checkArgs("seqDataIterRandom", corpus, batchSize, numSteps);
  const next = randomSource(seed);
  // Start at a random offset so that every epoch sees other subsequences.
  const offset = randint(next, 0, numSteps - 1);
  // Minus 1: the labels are the tokens one further on.
  const numSubseqs = Math.floor((corpus.length - offset - 1) / numSteps);
  const initialIndices = Array.from({ length: Math.max(0, numSubseqs) }, (_, i) => offset + i * numSteps);
  for (let i = initialIndices.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [initialIndices[i], initialIndices[j]] = [initialIndices[j], initialIndices[i]];
  }
  const numBatches = Math.floor(initialIndices.length / batchSize);
  for (let b = 0; b < numBatches; b++) {
    const starts = initialIndices.slice(b * batchSize, (b + 1) * batchSize);
    yield [
      gather(corpus, starts, numSteps),
      gather(
        corpus,
        starts.map((s) => s + 1),
        numSteps,
      ),
    ];
  }
}

/**
 * Minibatches of subsequences in order (the book's
 * `seq_data_iter_sequential`): from a random offset in `[0, numSteps]`, the
 * corpus is laid out as `batchSize` rows, and batch `i` takes columns
 * `i * numSteps` to `(i + 1) * numSteps` of every row. So row `r` of one batch
 * continues right where row `r` of the previous batch stopped, which is why
 * a model may carry its hidden state from batch to batch. `Y` is `X`
 * shifted by one token. Yields `[X, Y]`, int32 `[batchSize, numSteps]`,
 * which the consumer disposes.
 *
 * @example
 * const mySeq = Array.from({ length: 35 }, (_, i) => i);
 * for (const [X, Y] of d2l.seqDataIterSequential(mySeq, 2, 5)) {
 *   console.log(await X.array(), await Y.array());
 *   tf.dispose([X, Y]);
 * }
 */
export function* seqDataIterSequential(corpus: ArrayLike<number>, batchSize: number, numSteps: number, seed?: number): Generator<[tf.Tensor2D, tf.Tensor2D], void, undefined> {
  checkArgs("seqDataIterSequential", corpus, batchSize, numSteps);
  const next = randomSource(seed);
  const offset = randint(next, 0, numSteps);
  const rowLength = Math.floor((corpus.length - offset - 1) / batchSize);
  const numBatches = Math.floor(Math.max(0, rowLength) / numSteps);
  for (let b = 0; b < numBatches; b++) {
    const starts = Array.from({ length: batchSize }, (_, r) => offset + r * rowLength + b * numSteps);
    yield [
      gather(corpus, starts, numSteps),
      gather(
        corpus,
        starts.map((s) => s + 1),
        numSteps,
      ),
    ];
  }
}

/** Batches per epoch whatever the random offset (the fewest: an epoch has this many, at most one more). */
function minBatches(corpusLength: number, batchSize: number, numSteps: number, useRandomIter: boolean): number {
  if (useRandomIter) return Math.floor(Math.floor(Math.max(0, corpusLength - numSteps) / numSteps) / batchSize);
  return Math.floor(Math.floor(Math.max(0, corpusLength - numSteps - 1) / batchSize) / numSteps);
}

/** Options of {@link SeqDataLoader} beyond the book's arguments. */
export interface SeqDataLoaderOptions extends TimeMachineOptions {
  /** Make every epoch's offset and order repeatable: epoch k uses a seed mixed from this and k. */
  seed?: number;
}

/**
 * The book's `SeqDataLoader`: iterates over minibatches of *The Time
 * Machine*'s character indices, with random (`useRandomIter`) or sequential
 * partitioning, a new random offset every epoch. It is an async iterable of
 * `[X, Y]` (a `d2l.DataIter`, so the training functions take it) and a plain
 * iterable. Build it with {@link SeqDataLoader.create} (reading the text is
 * asynchronous), or with {@link SeqDataLoader.fromCorpus} from indices you have.
 * Each batch's tensors belong to the consumer.
 *
 * @example
 * const loader = await d2l.SeqDataLoader.create(32, 35, false, 10000);
 * loader.vocab.length; // 28
 * for await (const [X, Y] of loader) { console.log(X.shape, Y.shape); tf.dispose([X, Y]); break; }
 */
export class SeqDataLoader implements AsyncIterable<[tf.Tensor2D, tf.Tensor2D]>, Iterable<[tf.Tensor2D, tf.Tensor2D]> {
  /** Subsequences (rows) per batch. */
  readonly batchSize: number;
  /** Tokens per subsequence. */
  readonly numSteps: number;
  /** Random (true) or sequential (false) partitioning. */
  readonly useRandomIter: boolean;
  /** The token indices. */
  readonly corpus: readonly number[];
  /** The vocabulary of the corpus. */
  readonly vocab: Vocab;
  /** Batches per epoch (an epoch may have one more, depending on its random offset). */
  readonly numBatches: number;
  /** Subsequences per epoch (`numBatches * batchSize`). */
  readonly numExamples: number;
  private readonly seed: number | undefined;
  private epoch = 0;

  private constructor(corpus: readonly number[], vocab: Vocab, batchSize: number, numSteps: number, useRandomIter: boolean, seed: number | undefined) {
    checkArgs("SeqDataLoader", corpus, batchSize, numSteps);
    this.corpus = corpus;
    this.vocab = vocab;
    this.batchSize = batchSize;
    this.numSteps = numSteps;
    this.useRandomIter = useRandomIter;
    this.seed = seed;
    this.numBatches = minBatches(corpus.length, batchSize, numSteps, useRandomIter);
    this.numExamples = this.numBatches * batchSize;
    if (this.numBatches === 0) {
      throw new Error(
        `SeqDataLoader: a corpus of ${corpus.length} tokens makes no batch of ${batchSize} subsequences of ${numSteps} tokens; ` +
          `use more tokens (maxTokens) or a smaller batchSize or numSteps`,
      );
    }
  }

  /**
   * The loader over *The Time Machine* (the book's
   * `SeqDataLoader(batch_size, num_steps, use_random_iter, max_tokens)`).
   *
   * @example
   * const loader = await d2l.SeqDataLoader.create(32, 35, true, 10000);
   */
  static async create(batchSize: number, numSteps: number, useRandomIter = false, maxTokens = 10000, options: SeqDataLoaderOptions = {}): Promise<SeqDataLoader> {
    checkArgs("SeqDataLoader.create", [], batchSize, numSteps);
    const [corpus, vocab] = await loadCorpusTimeMachine(maxTokens, options);
    return new SeqDataLoader(corpus, vocab, batchSize, numSteps, useRandomIter, options.seed);
  }

  /**
   * A loader over token indices you already have, with their vocabulary.
   *
   * @example
   * const loader = d2l.SeqDataLoader.fromCorpus(corpus, vocab, 32, 35);
   */
  static fromCorpus(corpus: readonly number[], vocab: Vocab, batchSize: number, numSteps: number, useRandomIter = false, seed?: number): SeqDataLoader {
    return new SeqDataLoader(corpus, vocab, batchSize, numSteps, useRandomIter, seed);
  }

  /** One epoch of batches (the book's `__iter__`). */
  [Symbol.iterator](): Iterator<[tf.Tensor2D, tf.Tensor2D]> {
    const seed = this.seed === undefined ? undefined : mixSeed(this.seed, this.epoch++);
    const fn = this.useRandomIter ? seqDataIterRandom : seqDataIterSequential;
    return fn(this.corpus, this.batchSize, this.numSteps, seed);
  }

  /** One epoch of batches, for `for await` and the training functions. */
  async *[Symbol.asyncIterator](): AsyncIterator<[tf.Tensor2D, tf.Tensor2D]> {
    yield* this[Symbol.iterator]() as Generator<[tf.Tensor2D, tf.Tensor2D]>;
  }
}

/**
 * The iterator over *The Time Machine* and its vocabulary (the book's
 * `load_data_time_machine`): minibatches `[X, Y]` of `batchSize`
 * subsequences of `numSteps` characters from the first `maxTokens`
 * characters (10,000 as in the book; -1 for all), random or sequential
 * partitioning.
 *
 * @example
 * const [trainIter, vocab] = await d2l.loadDataTimeMachine(32, 35);
 * vocab.length;         // 28
 * trainIter.numBatches; // 8
 */
export async function loadDataTimeMachine(
  batchSize: number,
  numSteps: number,
  useRandomIter = false,
  maxTokens = 10000,
  options: SeqDataLoaderOptions = {},
): Promise<[SeqDataLoader, Vocab]> {
  const loader = await SeqDataLoader.create(batchSize, numSteps, useRandomIter, maxTokens, options);
  return [loader, loader.vocab];
}
