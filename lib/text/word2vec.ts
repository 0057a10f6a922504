/**
 * Word embeddings (word2vec) the book's way, sections 14.1-14.4 of the
 * Chinese edition (15.1-15.4 in d2l 1.0): the PTB corpus (`readPtb`),
 * subsampling, centre/context pairs, negative sampling, minibatches
 * (`batchify`, `loadDataPtb`), the skip-gram model (`skipGram`), its masked
 * binary cross-entropy (`SigmoidBCELoss`) and nearest words by cosine
 * similarity (`getSimilarTokens`).
 *
 * Randomness (subsampling, window sizes, noise words, the loader's default
 * shuffle seed) comes from `Math.random`, where the book uses Python's
 * `random`: `d2l.seed(n)` makes all of it repeat. Embeddings are tfjs'
 * `tf.layers.embedding` (the book's `nn.Embedding`).
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { unzipSync } from "fflate";
import { cacheRoot } from "../data/download";
import { DATA_HUB, download } from "../data/hub";
import { mixSeed, permutation } from "../data/random";
import { countCorpus, tokenize, Vocab } from "./vocab";

/** The book's `d2l.DATA_HUB['ptb']` entry's file name. */
const PTB_ZIP = "ptb.zip";
const TRAIN = "ptb.train.txt";

function shapeStr(t: unknown): string {
  return t instanceof tf.Tensor ? `[${t.shape.join(", ")}]` : typeof t;
}

/** Options of {@link readPtb} and {@link loadDataPtb} (none in the book). */
export interface PtbOptions {
  /**
   * Where PTB is: `ptb.zip`, a folder holding `ptb.zip`, or a folder holding
   * `ptb.train.txt` (or `ptb/ptb.train.txt`), e.g. the extracted zip. Default:
   * `d2l.download("ptb")` (`$D2L_DATA_DIR`, then the cache, then the book's URL).
   */
  root?: string;
  /** No progress output while downloading. */
  quiet?: boolean;
}

/** The training text inside a PTB zip. */
function trainTextFromZip(file: string): string {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(fs.readFileSync(file), { filter: (f) => f.name === TRAIN || f.name.endsWith("/" + TRAIN) });
  } catch (e) {
    throw new Error(
      `readPtb: ${file} is not a readable zip file (${(e as Error).message}); expected the book's ptb.zip (SHA-1 ${DATA_HUB.ptb?.[1] ?? "see d2l.DATA_HUB"}). Delete it to download it again, or replace it with a good copy.`,
    );
  }
  const names = Object.keys(entries);
  if (names.length === 0) throw new Error(`readPtb: ${file} is a zip but holds no ${TRAIN}; expected the book's ptb.zip (ptb/ptb.train.txt, ptb.valid.txt, ptb.test.txt)`);
  return new TextDecoder("utf-8").decode(entries[names[0]]);
}

/** The training text of PTB at `root` (a zip, or a folder with the zip or the text). */
function trainTextAt(root: string): string {
  const where = path.resolve(root);
  if (!fs.existsSync(where)) throw new Error(`readPtb: ${where} does not exist; pass ptb.zip, a folder holding it, or a folder holding ${TRAIN}`);
  if (fs.statSync(where).isFile()) {
    if (where.endsWith(".zip")) return trainTextFromZip(where);
    if (path.basename(where) === TRAIN) return fs.readFileSync(where, "utf8");
    throw new Error(`readPtb: ${where} is neither a zip nor ${TRAIN}; pass ptb.zip or the folder it was extracted into`);
  }
  for (const candidate of [path.join(where, TRAIN), path.join(where, "ptb", TRAIN)]) if (fs.existsSync(candidate)) return fs.readFileSync(candidate, "utf8");
  const zip = path.join(where, PTB_ZIP);
  if (fs.existsSync(zip)) return trainTextFromZip(zip);
  throw new Error(`readPtb: ${where} holds neither ${PTB_ZIP} nor ${TRAIN} (nor ptb/${TRAIN})`);
}

/**
 * The sentences of PTB's training set, each a list of word tokens (the
 * book's `read_ptb`, section 14.3): one sentence per line of `ptb.train.txt`,
 * split on whitespace (the file's trailing newline gives a last, empty
 * sentence, as in the book: 42,069 sentences). The zip is the book's
 * `d2l.DATA_HUB["ptb"]`, found by {@link download} (`$D2L_DATA_DIR`, the
 * cache, or a download with its SHA-1 checked), or at `options.root`.
 *
 * @example
 * const sentences = await d2l.readPtb();
 * sentences.length;                                      // 42069
 * new d2l.Vocab(sentences, { minFreq: 10 }).length;      // 6719
 */
export async function readPtb(options: PtbOptions = {}): Promise<string[][]> {
  if (options === null || typeof options !== "object") throw new Error("readPtb(options): options must be an object such as { root: 'data/ptb.zip' }");
  let text: string;
  if (options.root !== undefined) text = trainTextAt(options.root);
  else text = trainTextFromZip(await download("ptb", cacheRoot(), { quiet: options.quiet }));
  return tokenize(text.split("\n"));
}

/**
 * Subsampling of frequent words (the book's `subsample`, section 14.3):
 * drops tokens that are `<unk>` in `vocab`, then keeps each remaining token
 * with probability `min(1, sqrt(1e-4 / f))`, where `f` is its share of all
 * remaining tokens. Returns the subsampled sentences and the token counts
 * before subsampling (the book's `counter`). Random draws come from
 * `Math.random` (`d2l.seed(n)` repeats them).
 *
 * @example
 * const [subsampled, counter] = d2l.subsample(sentences, vocab);
 * const corpus = subsampled.map((line) => vocab.toIndices(line));
 */
export function subsample(sentences: readonly (readonly string[])[], vocab: Vocab): [string[][], Map<string, number>] {
  if (!Array.isArray(sentences) || sentences.some((s) => !Array.isArray(s)))
    throw new Error("subsample(sentences, vocab): sentences must be a list of token lists, e.g. readPtb()'s");
  if (!(vocab instanceof Vocab)) throw new Error("subsample(sentences, vocab): vocab must be a d2l.Vocab");
  const known = sentences.map((line: readonly string[]) => line.filter((t: string) => vocab.toIndices(t) !== vocab.unk));
  const counter = countCorpus(known);
  let numTokens = 0;
  for (const c of counter.values()) numTokens += c;
  const keep = (token: string): boolean => Math.random() < Math.sqrt((1e-4 / (counter.get(token) as number)) * numTokens);
  return [known.map((line) => line.filter(keep)), counter];
}

function checkPositiveInt(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${String(v)}`);
  return v;
}

/**
 * Centre words and their context words (the book's
 * `get_centers_and_contexts`, section 14.3): for every token of every
 * sentence with at least two tokens, a window size drawn uniformly from
 * 1..`maxWindowSize` (`Math.random`), and the tokens at most that far away
 * on either side, in sentence order.
 *
 * @example
 * const tinyDataset = [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9]];
 * const [centers, contexts] = d2l.getCentersAndContexts(tinyDataset, 2);
 * centers;     // [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
 * contexts[0]; // [1] or [1, 2]
 */
export function getCentersAndContexts(corpus: readonly (readonly number[])[], maxWindowSize: number): [number[], number[][]] {
  if (!Array.isArray(corpus) || corpus.some((s) => !Array.isArray(s))) throw new Error("getCentersAndContexts(corpus, maxWindowSize): corpus must be a list of token-id lists");
  checkPositiveInt(maxWindowSize, "getCentersAndContexts: maxWindowSize");
  const centers: number[] = [];
  const contexts: number[][] = [];
  for (const line of corpus) {
    if (line.length < 2) continue;
    centers.push(...line);
    for (let i = 0; i < line.length; i++) {
      const windowSize = 1 + Math.floor(Math.random() * maxWindowSize);
      const ctx: number[] = [];
      for (let j = Math.max(0, i - windowSize); j < Math.min(line.length, i + 1 + windowSize); j++) if (j !== i) ctx.push(line[j]);
      contexts.push(ctx);
    }
  }
  return [centers, contexts];
}

/**
 * Draws indices 1..n with the given sampling weights (the book's
 * `RandomGenerator`, section 14.3): `samplingWeights[i]` is the weight of
 * index `i + 1` (index 0, `<unk>`, is never drawn). Draws are made 10,000 at a
 * time and cached, as in the book (Python's `random.choices`: cumulative
 * weights and a binary search, with `Math.random`).
 *
 * @example
 * const generator = new d2l.RandomGenerator([2, 3, 4]);
 * Array.from({ length: 10 }, () => generator.draw()); // e.g. [3, 2, 1, 3, 3, 2, 3, 2, 1, 3]
 */
export class RandomGenerator {
  /** The values drawn from, 1..n (the book's `population`). */
  readonly population: number[];
  /** The weights of `population` (the book's `sampling_weights`). */
  readonly samplingWeights: readonly number[];
  private readonly cumWeights: Float64Array;
  private candidates: Int32Array = new Int32Array(0);
  private i = 0;

  constructor(samplingWeights: readonly number[]) {
    if (!Array.isArray(samplingWeights) || samplingWeights.length === 0)
      throw new Error("RandomGenerator(samplingWeights): expected a non-empty list of weights, one per index 1..n");
    this.cumWeights = new Float64Array(samplingWeights.length);
    let total = 0;
    samplingWeights.forEach((w, i) => {
      if (typeof w !== "number" || !Number.isFinite(w) || w < 0) throw new Error(`RandomGenerator: weights must be finite and non-negative, got ${String(w)} at position ${i}`);
      total += w;
      this.cumWeights[i] = total;
    });
    if (!(total > 0)) throw new Error("RandomGenerator: the weights sum to 0; at least one must be positive");
    this.samplingWeights = samplingWeights.slice();
    this.population = samplingWeights.map((_, i) => i + 1);
  }

  /** One draw: an index in 1..n, with probability proportional to its weight. */
  draw(): number {
    if (this.i === this.candidates.length) {
      const k = 10000;
      const cum = this.cumWeights;
      const n = cum.length;
      const total = cum[n - 1];
      this.candidates = new Int32Array(k);
      for (let c = 0; c < k; c++) {
        // bisect_right(cum, Math.random() * total, 0, n - 1), as random.choices
        const x = Math.random() * total;
        let lo = 0;
        let hi = n - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (x < cum[mid]) hi = mid;
          else lo = mid + 1;
        }
        this.candidates[c] = lo + 1;
      }
      this.i = 0;
    }
    this.i += 1;
    return this.candidates[this.i - 1];
  }
}

/**
 * Noise words for negative sampling (the book's `get_negatives`, section
 * 14.3): for each context, `K` times as many noise words as it has words,
 * drawn with weights `count^0.75` (`counter`: the token counts
 * {@link subsample} returns) over the vocabulary's indices 1.., never a word
 * of that context.
 *
 * @example
 * const allNegatives = d2l.getNegatives(allContexts, vocab, counter, 5);
 * allNegatives[0].length === 5 * allContexts[0].length; // true
 */
export function getNegatives(allContexts: readonly (readonly number[])[], vocab: Vocab, counter: ReadonlyMap<string, number>, K: number): number[][] {
  if (!Array.isArray(allContexts) || allContexts.some((c) => !Array.isArray(c)))
    throw new Error("getNegatives(allContexts, vocab, counter, K): allContexts must be a list of context-id lists");
  if (!(vocab instanceof Vocab)) throw new Error("getNegatives: vocab must be a d2l.Vocab");
  if (!(counter instanceof Map)) throw new Error("getNegatives: counter must be the Map of token counts that subsample returns");
  checkPositiveInt(K, "getNegatives: K (noise words per context word)");
  if (vocab.length < 2) throw new Error("getNegatives: the vocabulary has no token besides <unk> to draw");
  const samplingWeights: number[] = [];
  for (let i = 1; i < vocab.length; i++) samplingWeights.push((counter.get(vocab.toTokens(i)) ?? 0) ** 0.75);
  const generator = new RandomGenerator(samplingWeights);
  const allNegatives: number[][] = [];
  for (const contexts of allContexts) {
    const want = contexts.length * K;
    const negatives: number[] = [];
    let tries = 0;
    while (negatives.length < want) {
      const neg = generator.draw();
      if (!contexts.includes(neg)) negatives.push(neg);
      else if (++tries > 1e6)
        throw new Error(`getNegatives: cannot find noise words outside the context ${JSON.stringify(contexts)}: it covers (nearly) every word with a positive count`);
    }
    allNegatives.push(negatives);
  }
  return allNegatives;
}

/** One example of {@link batchify}: a centre word, its context words, its noise words. */
export type Word2vecExample = readonly [center: number, context: readonly number[], negatives: readonly number[]];

/** One minibatch of {@link batchify} / {@link loadDataPtb}: `[centers, contextsNegatives, masks, labels]`. */
export type PtbBatch = [centers: tf.Tensor2D, contextsNegatives: tf.Tensor2D, masks: tf.Tensor2D, labels: tf.Tensor2D];

/**
 * A minibatch for skip-gram with negative sampling (the book's `batchify`,
 * section 14.3): `centers` int32 `[n, 1]`; `contextsNegatives` int32
 * `[n, maxLen]`, each row the context words, then the noise words, then 0s;
 * `masks` `[n, maxLen]`, 1 over context and noise words, 0 over the padding;
 * `labels` `[n, maxLen]`, 1 over context words, else 0. `maxLen` is the
 * longest context plus noise words. `masks` and `labels` are float32 (their
 * values are the book's 0s and 1s), ready for {@link SigmoidBCELoss}.
 *
 * @example
 * const [centers, contextsNegatives, masks, labels] = d2l.batchify([[1, [2, 2], [3, 3, 3, 3]], [1, [2, 2, 2], [3, 3]]]);
 * await contextsNegatives.array(); // [[2, 2, 3, 3, 3, 3], [2, 2, 2, 3, 3, 0]]
 * await labels.array();            // [[1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0]]
 */
export function batchify(data: readonly Word2vecExample[]): PtbBatch {
  if (!Array.isArray(data) || data.length === 0) throw new Error("batchify(data): expected a non-empty list of [center, context, negatives] examples");
  let maxLen = 0;
  data.forEach((ex, i) => {
    if (!Array.isArray(ex) || ex.length !== 3 || typeof ex[0] !== "number" || !Array.isArray(ex[1]) || !Array.isArray(ex[2])) {
      throw new Error(`batchify: example ${i} must be [center, context, negatives] (a number and two lists of numbers), got ${JSON.stringify(ex)}`);
    }
    maxLen = Math.max(maxLen, ex[1].length + ex[2].length);
  });
  const n = data.length;
  const centers = new Int32Array(n);
  const cn = new Int32Array(n * maxLen);
  const masks = new Float32Array(n * maxLen);
  const labels = new Float32Array(n * maxLen);
  data.forEach(([center, context, negative], r) => {
    centers[r] = center;
    const row = r * maxLen;
    context.forEach((w: number, j: number) => {
      cn[row + j] = w;
      masks[row + j] = 1;
      labels[row + j] = 1;
    });
    negative.forEach((w: number, j: number) => {
      cn[row + context.length + j] = w;
      masks[row + context.length + j] = 1;
    });
  });
  return [tf.tensor2d(centers, [n, 1], "int32"), tf.tensor2d(cn, [n, maxLen], "int32"), tf.tensor2d(masks, [n, maxLen]), tf.tensor2d(labels, [n, maxLen])];
}

/** Options of {@link loadDataPtb} (beyond the book's arguments). */
export interface LoadDataPtbOptions extends PtbOptions {
  /** Seed of the shuffle (a new order each epoch); default drawn from `Math.random`, so `d2l.seed(n)` repeats it. */
  seed?: number;
  /** Use only the first this many sentences of PTB (default all: a smaller corpus for quick runs). */
  numSentences?: number;
}

/**
 * The minibatches of {@link loadDataPtb}: iterate it (`for await` or `for`)
 * for one epoch of {@link PtbBatch}es in a new random order each epoch (the
 * book's `DataLoader(dataset, batch_size, shuffle=True, collate_fn=batchify)`).
 * The consumer owns each batch's tensors (dispose them).
 *
 * @example
 * const [dataIter, vocab] = await d2l.loadDataPtb(512, 5, 5);
 * for await (const [centers, contextsNegatives, masks, labels] of dataIter) {
 *   // centers [512, 1], contextsNegatives/masks/labels [512, 60]
 *   tf.dispose([centers, contextsNegatives, masks, labels]);
 * }
 */
export class PtbDataLoader implements AsyncIterable<PtbBatch>, Iterable<PtbBatch> {
  /** Examples per minibatch. */
  readonly batchSize: number;
  /** The centre words (the book's `all_centers`). */
  readonly centers: readonly number[];
  /** Their context words (the book's `all_contexts`). */
  readonly contexts: readonly (readonly number[])[];
  /** Their noise words (the book's `all_negatives`). */
  readonly negatives: readonly (readonly number[])[];
  private readonly seed: number;
  private epochs = 0;

  constructor(centers: readonly number[], contexts: readonly (readonly number[])[], negatives: readonly (readonly number[])[], batchSize: number, seed?: number) {
    if (!Array.isArray(centers) || !Array.isArray(contexts) || !Array.isArray(negatives))
      throw new Error("PtbDataLoader(centers, contexts, negatives, batchSize): the first three must be lists");
    if (centers.length !== contexts.length || centers.length !== negatives.length) {
      throw new Error(
        `PtbDataLoader: ${centers.length} centers, ${contexts.length} contexts and ${negatives.length} negatives; expected one of each per example (the book's PTBDataset asserts the same)`,
      );
    }
    this.batchSize = checkPositiveInt(batchSize, "PtbDataLoader: batchSize");
    this.centers = centers;
    this.contexts = contexts;
    this.negatives = negatives;
    this.seed = seed ?? Math.floor(Math.random() * 4294967296);
  }

  /** Number of examples (the book's `len(dataset)`). */
  get numExamples(): number {
    return this.centers.length;
  }

  /** Batches per epoch (the last one may be smaller; the book's `len(data_iter)`). */
  get numBatches(): number {
    return Math.ceil(this.numExamples / this.batchSize);
  }

  *[Symbol.iterator](): Iterator<PtbBatch> {
    const order = permutation(this.numExamples, mixSeed(this.seed, this.epochs++));
    for (let start = 0; start < order.length; start += this.batchSize) {
      const batch: Word2vecExample[] = [];
      for (let j = start; j < Math.min(order.length, start + this.batchSize); j++) {
        const i = order[j];
        batch.push([this.centers[i], this.contexts[i], this.negatives[i]]);
      }
      yield batchify(batch);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PtbBatch> {
    for (const batch of this) yield batch;
  }
}

/**
 * PTB ready for skip-gram with negative sampling (the book's
 * `load_data_ptb`, section 14.3): {@link readPtb}, a vocabulary of the words
 * seen at least 10 times, {@link subsample}, {@link getCentersAndContexts}
 * and {@link getNegatives}, in shuffled minibatches of {@link batchify}.
 * Returns `[dataIter, vocab]`.
 *
 * @example
 * const [dataIter, vocab] = await d2l.loadDataPtb(512, 5, 5);
 * vocab.length; // 6719
 */
export async function loadDataPtb(batchSize: number, maxWindowSize: number, numNoiseWords: number, options: LoadDataPtbOptions = {}): Promise<[PtbDataLoader, Vocab]> {
  checkPositiveInt(batchSize, "loadDataPtb: batchSize");
  checkPositiveInt(maxWindowSize, "loadDataPtb: maxWindowSize");
  checkPositiveInt(numNoiseWords, "loadDataPtb: numNoiseWords");
  if (options.numSentences !== undefined) checkPositiveInt(options.numSentences, "loadDataPtb: options.numSentences");
  let sentences = await readPtb(options);
  if (options.numSentences !== undefined) sentences = sentences.slice(0, options.numSentences);
  const vocab = new Vocab(sentences, { minFreq: 10 });
  const [subsampled, counter] = subsample(sentences, vocab);
  const corpus = subsampled.map((line) => vocab.toIndices(line));
  const [allCenters, allContexts] = getCentersAndContexts(corpus, maxWindowSize);
  const allNegatives = getNegatives(allContexts, vocab, counter, numNoiseWords);
  return [new PtbDataLoader(allCenters, allContexts, allNegatives, batchSize, options.seed), vocab];
}

/**
 * The skip-gram model's forward pass (the book's `skip_gram`, section
 * 14.4): the centre words' vectors from `embedV` (`[batch, 1, embed]`) times
 * the context and noise words' vectors from `embedU` (`[batch, m, embed]`),
 * transposed: the scores `[batch, 1, m]`. The embeddings are
 * `tf.layers.embedding` layers (the book's `nn.Embedding`).
 *
 * @example
 * const embed = tf.layers.embedding({ inputDim: 20, outputDim: 4 });
 * d2l.skipGram(tf.ones([2, 1], "int32"), tf.ones([2, 4], "int32"), embed, embed).shape; // [2, 1, 4]
 */
export function skipGram(center: tf.Tensor, contextsAndNegatives: tf.Tensor, embedV: tf.layers.Layer, embedU: tf.layers.Layer): tf.Tensor3D {
  if (!(center instanceof tf.Tensor) || center.rank !== 2 || center.shape[1] !== 1)
    throw new Error(`skipGram expects center of shape [batch, 1] (word indices), got ${shapeStr(center)}`);
  if (!(contextsAndNegatives instanceof tf.Tensor) || contextsAndNegatives.rank !== 2 || contextsAndNegatives.shape[0] !== center.shape[0]) {
    throw new Error(`skipGram expects contextsAndNegatives of shape [${center.shape[0]}, m] (word indices), got ${shapeStr(contextsAndNegatives)}`);
  }
  if (!(embedV instanceof tf.layers.Layer) || !(embedU instanceof tf.layers.Layer))
    throw new Error("skipGram expects embedV and embedU to be embedding layers, e.g. tf.layers.embedding({ inputDim, outputDim })");
  return tf.tidy(() => {
    const v = embedV.apply(center) as tf.Tensor3D; // [batch, 1, embed]
    const u = embedU.apply(contextsAndNegatives) as tf.Tensor3D; // [batch, m, embed]
    if (v.rank !== 3 || u.rank !== 3 || v.shape[2] !== u.shape[2])
      throw new Error(`skipGram: embedV gives ${shapeStr(v)} and embedU ${shapeStr(u)}; expected [batch, 1, e] and [batch, m, e] with the same e`);
    return tf.matMul(v, u, false, true) as tf.Tensor3D;
  });
}

/**
 * Binary cross-entropy with logits, masked, averaged over each row (the
 * book's `SigmoidBCELoss`, section 14.4: `binary_cross_entropy_with_logits(
 * inputs, target, weight=mask, reduction="none").mean(dim=1)`). `inputs`,
 * `target` and `mask` are `[batch, m]`; the result is `[batch]`. The mean
 * divides by `m`, padding included, as the book's (which rescales by
 * `m / mask.sum(1)` after).
 *
 * @example
 * const loss = new d2l.SigmoidBCELoss();
 * const pred = tf.tensor2d([[1.1, -2.2, 3.3, -4.4], [1.1, -2.2, 3.3, -4.4]]);
 * const label = tf.tensor2d([[1, 0, 0, 0], [0, 1, 0, 0]]);
 * const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]]);
 * loss.forward(pred, label, mask).mul(4).div(mask.sum(1)); // [0.9352, 1.8462]
 */
export class SigmoidBCELoss {
  /** Per-row losses `[batch]`; see the class. */
  forward(inputs: tf.Tensor, target: tf.Tensor, mask?: tf.Tensor): tf.Tensor1D {
    if (!(inputs instanceof tf.Tensor) || inputs.rank !== 2) throw new Error(`SigmoidBCELoss expects inputs (logits) of shape [batch, m], got ${shapeStr(inputs)}`);
    const same = (t: tf.Tensor): boolean => t.rank === 2 && t.shape[0] === inputs.shape[0] && t.shape[1] === inputs.shape[1];
    if (!(target instanceof tf.Tensor) || !same(target))
      throw new Error(`SigmoidBCELoss expects target of shape [${inputs.shape.join(", ")}] (0s and 1s), got ${shapeStr(target)}`);
    if (mask !== undefined && (!(mask instanceof tf.Tensor) || !same(mask)))
      throw new Error(`SigmoidBCELoss expects mask of shape [${inputs.shape.join(", ")}] (1 where a word counts, 0 over padding), got ${shapeStr(mask)}`);
    return tf.tidy(() => {
      const x = inputs.toFloat();
      // softplus(x) - x * t: log(1 + e^x) - x t, stable for large |x|, gradient sigmoid(x) - t
      let out = tf.sub(tf.softplus(x), tf.mul(x, target.toFloat()));
      if (mask !== undefined) out = tf.mul(out, mask.toFloat());
      return tf.mean(out, 1) as tf.Tensor1D;
    });
  }
}

/**
 * The `k` words nearest to `queryToken` by cosine similarity of their
 * vectors (the book's `get_similar_tokens`, section 14.4, which prints them):
 * `[token, similarity]` pairs, most similar first, the query itself left out
 * (the book drops the top hit). `embed` is the trained embedding layer (the
 * book's `net[0]`) or its weight matrix `[vocab, embed]`. The similarities
 * are read with `await`, so it works on every backend, webgpu included.
 *
 * @example
 * for (const [token, cos] of await d2l.getSimilarTokens("chip", 3, embedV, vocab)) console.log(`cosine sim=${cos.toFixed(3)}: ${token}`);
 */
export async function getSimilarTokens(queryToken: string, k: number, embed: tf.layers.Layer | tf.Tensor, vocab: Vocab): Promise<[token: string, similarity: number][]> {
  if (!(vocab instanceof Vocab)) throw new Error("getSimilarTokens(queryToken, k, embed, vocab): vocab must be a d2l.Vocab");
  if (typeof queryToken !== "string") throw new Error(`getSimilarTokens: queryToken must be a word, got ${typeof queryToken}`);
  const q = vocab.toIndices(queryToken);
  if (!vocab.tokenToIdx.has(queryToken)) throw new Error(`getSimilarTokens: ${JSON.stringify(queryToken)} is not in the vocabulary (it would be <unk>)`);
  let W: tf.Tensor;
  if (embed instanceof tf.Tensor) W = embed;
  else if (embed instanceof tf.layers.Layer) {
    const ws = embed.getWeights();
    if (ws.length === 0) throw new Error("getSimilarTokens: the embedding layer has no weights yet; call it on some input (or train it) first");
    W = ws[0];
  } else throw new Error("getSimilarTokens: embed must be an embedding layer or its weight matrix [vocab, embed]");
  if (W.rank !== 2 || W.shape[0] !== vocab.length)
    throw new Error(`getSimilarTokens: expected embedding weights of shape [${vocab.length}, embed] (one row per word of vocab), got ${shapeStr(W)}`);
  if (!Number.isInteger(k) || k < 1 || k >= vocab.length) throw new Error(`getSimilarTokens: k must be an integer in 1..${vocab.length - 1}, got ${String(k)}`);
  const [idx, cos] = tf.tidy(() => {
    const x = tf.gather(W, q); // [embed]
    const dots = tf.squeeze(tf.matMul(W, tf.reshape(x, [-1, 1])), [1]);
    const c = tf.div(dots, tf.sqrt(tf.add(tf.mul(tf.sum(tf.mul(W, W), 1), tf.sum(tf.mul(x, x))), 1e-9)));
    const top = tf.topk(c, k + 1);
    return [top.indices, top.values];
  });
  let ids: ArrayLike<number>;
  let sims: ArrayLike<number>;
  try {
    [ids, sims] = (await Promise.all([idx.data(), cos.data()])) as [ArrayLike<number>, ArrayLike<number>];
  } finally {
    tf.dispose([idx, cos]);
  }
  const out: [string, number][] = [];
  for (let i = 1; i < ids.length; i++) out.push([vocab.toTokens(ids[i]), sims[i]]);
  return out;
}
