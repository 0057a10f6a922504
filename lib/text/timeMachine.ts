/**
 * H. G. Wells' *The Time Machine*, the book's character-level corpus
 * (sections 8.2-8.3): finding the text (a local folder, the cache, or a
 * download), the book's `read_time_machine` and `load_corpus_time_machine`.
 */
import * as fs from "fs";
import * as path from "path";
import { cacheRoot, downloadFile } from "../data/download";
import { DATA_HUB } from "../data/hub";
import { tokenize } from "./vocab";
import { Vocab } from "./vocab";

/** Where the book's `DATA_HUB['time_machine']` downloads the text from. */
export const TIME_MACHINE_URL = DATA_HUB.time_machine[0];

/** SHA-1 of the book's `timemachine.txt` (its `DATA_HUB` entry); downloads are checked against it. */
export const TIME_MACHINE_SHA1 = DATA_HUB.time_machine[1];

const FILE = "timemachine.txt";

/** Options of {@link readTimeMachine} (none in the book). */
export interface TimeMachineOptions {
  /** A folder holding `timemachine.txt` (default: `$D2L_DATA_DIR`, then the cache). */
  root?: string;
  /** Download from here instead of {@link TIME_MACHINE_URL} (a mirror; tests use a local server). */
  url?: string;
  /** No progress output while downloading. */
  quiet?: boolean;
}

const HINT = "To work offline, put timemachine.txt (the book's copy, SHA-1 " + TIME_MACHINE_SHA1 + ") in a folder and set D2L_DATA_DIR to it (or pass { root: folder }).";

/**
 * The path of `timemachine.txt`, from the first place that has it: `options.root`,
 * `$D2L_DATA_DIR`, the cache (`~/.cache/d2l-ts/timemachine.txt`, or under
 * `$D2L_CACHE_DIR`); otherwise it is downloaded into the cache (SHA-1
 * checked). The book's `d2l.download('time_machine')`.
 *
 * @example
 * const file = await d2l.timeMachineFile(); // ".../timemachine.txt"
 */
export async function timeMachineFile(options: TimeMachineOptions = {}): Promise<string> {
  if (options.root !== undefined) {
    const p = path.join(path.resolve(options.root), FILE);
    if (!fs.existsSync(p)) throw new Error(`root folder ${path.resolve(options.root)} has no ${FILE}. ${HINT}`);
    return p;
  }
  const dataDir = process.env.D2L_DATA_DIR;
  let hint = HINT;
  if (dataDir && dataDir.trim() !== "") {
    const p = path.join(path.resolve(dataDir), FILE);
    if (fs.existsSync(p)) return p;
    hint += ` (D2L_DATA_DIR is set to ${path.resolve(dataDir)}, which has no ${FILE}.)`;
  }
  const cached = path.join(cacheRoot(), FILE);
  if (fs.existsSync(cached)) return cached;
  const [hubUrl, hubSha1] = DATA_HUB.time_machine ?? [TIME_MACHINE_URL, TIME_MACHINE_SHA1];
  await downloadFile(options.url ?? hubUrl, cached, { checksums: { sha1: [hubSha1.toLowerCase()] }, hint, quiet: options.quiet, label: FILE });
  return cached;
}

/**
 * The lines of *The Time Machine*, each with every run of non-letters
 * replaced by one space, trimmed and lower-cased (the book's
 * `read_time_machine`; blank lines stay, as empty strings). See
 * {@link timeMachineFile} for where the text comes from.
 *
 * @example
 * const lines = await d2l.readTimeMachine();
 * lines.length; // 3221
 * lines[0];     // "the time machine by h g wells"
 */
export async function readTimeMachine(options: TimeMachineOptions = {}): Promise<string[]> {
  const file = await timeMachineFile(options);
  const text = fs.readFileSync(file, "utf8");
  if (text.includes("\u0000") || !/[A-Za-z]/.test(text)) {
    throw new Error(
      `${file} does not look like The Time Machine: expected plain text (the book's timemachine.txt, about 3,200 lines). Delete it, or replace it with a good copy. ${HINT}`,
    );
  }
  // Python's readlines() keeps a final line without a newline; split does too, and adds an empty one after a final newline.
  const raw = text.split(/\r?\n/);
  if (raw.length > 0 && raw[raw.length - 1] === "") raw.pop();
  return raw.map((line) =>
    line
      .replace(/[^A-Za-z]+/g, " ")
      .trim()
      .toLowerCase(),
  );
}

/**
 * The corpus of *The Time Machine* as character indices, and its vocabulary
 * (the book's `load_corpus_time_machine`): the lines are tokenized into
 * characters and concatenated (no separator between lines); `maxTokens > 0`
 * keeps only the first `maxTokens` indices. The vocabulary has 28 tokens:
 * `<unk>`, space and the 26 letters.
 *
 * @example
 * const [corpus, vocab] = await d2l.loadCorpusTimeMachine();
 * corpus.length; // 170580
 * vocab.length;  // 28
 */
export async function loadCorpusTimeMachine(maxTokens = -1, options: TimeMachineOptions = {}): Promise<[number[], Vocab]> {
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens)) {
    throw new Error(`loadCorpusTimeMachine(maxTokens): maxTokens must be an integer (-1 or 0 for the whole text), got ${String(maxTokens)}`);
  }
  const lines = await readTimeMachine(options);
  const tokens = tokenize(lines, "char");
  const vocab = new Vocab(tokens);
  const corpus: number[] = [];
  for (const line of tokens) for (const t of line) corpus.push(vocab.toIndices(t));
  return [maxTokens > 0 ? corpus.slice(0, maxTokens) : corpus, vocab];
}
