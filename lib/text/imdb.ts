/**
 * The IMDb movie-review data set (section 15.1 of the book's Chinese edition, 16.1 of d2l 1.0): 25,000 training
 * and 25,000 test reviews, half positive, in the `aclImdb/` layout
 * (`train/pos/*.txt`, `train/neg/*.txt`, `test/...`). Found in a folder you
 * name, in `D2L_DATA_DIR`, in the cache, or downloaded (84 MB) and unpacked
 * there.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { unzipSync } from "fflate";
import { cacheRoot, downloadFile, say, type Checksums } from "../data/download";
import { removeStaleTemporaries, temporaryName } from "../files";
import { isQuick } from "../quick";
import { mixSeed, permutation } from "../data/random";
import { PaddedLoader } from "./padded";
import { Vocab, tokenize } from "./vocab";

/** Where the book downloads aclImdb from (`d2l.DATA_HUB['aclImdb']`); `D2L_IMDB_URL` names another. */
export const IMDB_URL = "http://d2l-data.s3-accelerate.amazonaws.com/aclImdb_v1.tar.gz";
/** The SHA-1 of aclImdb_v1.tar.gz, as the book's data hub lists it. */
export const IMDB_CHECKSUMS: Checksums = { sha1: ["01ada507287d82875905620988597833ad4e0903"] };

const SPLITS = ["train", "test"] as const;
const LABELS = ["pos", "neg"] as const;

/** Reviews by split and label, as file name → text. */
type Reviews = Map<string, Map<string, string>>;

function key(split: string, label: string): string {
  return `${split}/${label}`;
}

/** The reviews of an extracted aclImdb folder (the one holding train/ and test/). */
function readFolder(dir: string): Reviews {
  const out: Reviews = new Map();
  for (const split of SPLITS) {
    for (const label of LABELS) {
      const folder = path.join(dir, split, label);
      if (!fs.existsSync(folder)) continue;
      const files = new Map<string, string>();
      for (const f of fs.readdirSync(folder)) if (f.endsWith(".txt")) files.set(f, fs.readFileSync(path.join(folder, f), "utf8"));
      out.set(key(split, label), files);
    }
  }
  return out;
}

/** The reviews of a zip holding an aclImdb layout under one top folder (aclImdb/ or aclImdb_tiny/). */
function readZip(file: string): Reviews {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(fs.readFileSync(file), { filter: (f) => f.name.endsWith(".txt") });
  } catch (e) {
    throw new Error(`${file} is not a readable zip file (${(e as Error).message}); download it again or extract it and point readImdb to the folder`);
  }
  const out: Reviews = new Map();
  const decoder = new TextDecoder("utf-8");
  for (const [name, bytes] of Object.entries(entries)) {
    const m = /(?:^|\/)(train|test)\/(pos|neg)\/([^/]+\.txt)$/.exec(name);
    if (!m) continue;
    const k = key(m[1], m[2]);
    if (!out.has(k)) out.set(k, new Map());
    (out.get(k) as Map<string, string>).set(m[3], decoder.decode(bytes));
  }
  return out;
}

/** The aclImdb folder inside `dir` (dir itself, or dir/aclImdb), if there is one. */
function imdbFolderIn(dir: string): string | undefined {
  for (const candidate of [dir, path.join(dir, "aclImdb")]) {
    if (fs.existsSync(path.join(candidate, "train", "pos")) || fs.existsSync(path.join(candidate, "test", "pos"))) return candidate;
  }
  return undefined;
}

const cache = new Map<string, Reviews>();

/** Read (once per process and location) the reviews at `location`: an aclImdb folder, a folder holding one, or a zip. */
function reviewsAt(location: string): Reviews {
  const where = path.resolve(location);
  const hit = cache.get(where);
  if (hit) return hit;
  let reviews: Reviews;
  if (!fs.existsSync(where)) throw new Error(`readImdb: ${where} does not exist; pass the aclImdb folder (holding train/ and test/) or a zip of it`);
  if (fs.statSync(where).isDirectory()) {
    const dir = imdbFolderIn(where);
    if (!dir)
      throw new Error(`readImdb: ${where} holds no aclImdb reviews: expected train/pos, train/neg, test/pos and test/neg folders of .txt files, in it or in its aclImdb/ folder`);
    reviews = readFolder(dir);
  } else if (where.endsWith(".zip")) {
    reviews = readZip(where);
  } else {
    throw new Error(`readImdb: ${where} is a file but not a .zip; pass the extracted aclImdb folder (for aclImdb_v1.tar.gz: tar -xzf aclImdb_v1.tar.gz) or a zip`);
  }
  cache.set(where, reviews);
  return reviews;
}

/** Sort review files as their ids count ("2_3.txt" before "10_1.txt"), so every run reads them in one order. */
function byId(a: string, b: string): number {
  return parseInt(a, 10) - parseInt(b, 10) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The reviews and labels of one split of IMDb (the book's `read_imdb`):
 * positive reviews first (label 1), then negative ones (label 0), each in the
 * order of their file ids, line breaks removed. `dataDir` is the extracted
 * `aclImdb` folder (holding `train/` and `test/`), a folder holding it, or a
 * zip of that layout (such as the test fixture `aclImdb_tiny.zip`).
 *
 * @example
 * const [reviews, labels] = d2l.readImdb("data/aclImdb", true);
 * reviews.length; // 25000
 * labels[0];      // 1 (positive)
 */
export function readImdb(dataDir: string, isTrain: boolean): [string[], number[]] {
  if (typeof dataDir !== "string" || dataDir === "") throw new Error("readImdb(dataDir, isTrain): dataDir must be the path of the aclImdb folder (or a zip of it)");
  const reviews = reviewsAt(dataDir);
  const split = isTrain ? "train" : "test";
  const data: string[] = [];
  const labels: number[] = [];
  for (const label of LABELS) {
    const files = reviews.get(key(split, label));
    if (!files || files.size === 0) throw new Error(`readImdb: ${path.resolve(dataDir)} has no ${split}/${label} reviews; is the download or extraction incomplete?`);
    for (const name of [...files.keys()].sort(byId)) {
      data.push((files.get(name) as string).replace(/\n/g, ""));
      labels.push(label === "pos" ? 1 : 0);
    }
  }
  return [data, labels];
}

/** Options of {@link loadDataImdb}. */
export interface ImdbOptions {
  /** Where the data is: an aclImdb folder, a folder holding it, or a zip; overrides `D2L_DATA_DIR`. */
  root?: string;
  /** Use this many reviews of each split, a random half-positive sample (default all; 2,000 in quick mode). */
  limit?: number;
  /** Seed of the training order (and of the `limit` sample); default 0. */
  seed?: number;
  /** Accepted digests of the download (default {@link IMDB_CHECKSUMS}). */
  checksums?: Checksums;
  /** No progress bar or notes. */
  quiet?: boolean;
}

/** The aclImdb location in `D2L_DATA_DIR`: an aclImdb folder, aclImdb.zip, or the test fixture aclImdb_tiny.zip. */
function inDataDir(dir: string, quiet: boolean): string | undefined {
  const folder = imdbFolderIn(dir);
  if (folder) return folder;
  for (const zip of ["aclImdb.zip", "aclImdb_tiny.zip"]) {
    const p = path.join(dir, zip);
    if (fs.existsSync(p)) {
      if (zip === "aclImdb_tiny.zip" && !quiet) say(`Using ${p}: a test fixture of a few dozen reviews, too small to train on.`);
      return p;
    }
  }
  return undefined;
}

/** Download aclImdb_v1.tar.gz into the cache and unpack it there; returns the aclImdb folder. */
async function downloadImdb(options: ImdbOptions): Promise<string> {
  const root = path.join(cacheRoot(), "aclImdb");
  const folder = path.join(root, "aclImdb");
  if (imdbFolderIn(folder)) return folder;
  const archive = path.join(root, "aclImdb_v1.tar.gz");
  const url = process.env.D2L_IMDB_URL?.trim() || IMDB_URL;
  const hint = "To work offline, extract aclImdb_v1.tar.gz into a folder and set D2L_DATA_DIR to it (or pass { root: folder }).";
  if (!fs.existsSync(archive)) await downloadFile(url, archive, { checksums: options.checksums ?? IMDB_CHECKSUMS, hint, quiet: options.quiet, label: "aclImdb_v1.tar.gz" });
  // Unpack beside the archive into a scratch folder, then rename: the cache holds a complete folder or none.
  // .unpack-<pid>-<hex>: a folder left by a killed unpack is removed by the next one (removeStaleTemporaries)
  removeStaleTemporaries(root);
  const scratch = temporaryName(folder, "unpack");
  fs.mkdirSync(scratch);
  try {
    if (!options.quiet) say(`Unpacking ${archive} ...`);
    execFileSync("tar", ["-xzf", archive, "-C", scratch], { stdio: ["ignore", "ignore", "pipe"] });
    const unpacked = imdbFolderIn(scratch);
    if (!unpacked) throw new Error(`${archive} holds no aclImdb/ folder with train/ and test/ reviews; delete it to download it again`);
    fs.renameSync(unpacked, folder);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === "ENOENT")
      throw new Error(
        `unpacking ${archive} needs the tar program, which is not installed; extract it with any archive tool into ${root} (so that ${folder}/train exists), or set D2L_DATA_DIR to a folder holding aclImdb/`,
      );
    throw new Error(`unpacking ${archive} failed: ${err.stderr?.toString().trim() || err.message}; delete it to download it again`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return folder;
}

/**
 * Where IMDb is, for {@link readImdb} (the book's `d2l.download_extract('aclImdb', 'aclImdb')`):
 * `options.root` if given, else what `D2L_DATA_DIR` holds (an `aclImdb/` folder, `aclImdb.zip`, or the
 * test fixture `aclImdb_tiny.zip`), else the cache, where aclImdb_v1.tar.gz is downloaded (84 MB) and
 * unpacked on first use. {@link loadDataImdb} reads from the same place.
 *
 * @example
 * const dataDir = await d2l.imdbDir();
 * const [trainData, trainLabels] = d2l.readImdb(dataDir, true);
 * trainData.length; // 25000 with the full data
 */
export async function imdbDir(options: Pick<ImdbOptions, "root" | "checksums" | "quiet"> = {}): Promise<string> {
  if (options.root !== undefined) {
    if (typeof options.root !== "string" || options.root === "") throw new Error("imdbDir: root must be the path of an aclImdb folder, a folder holding it, or a zip of it");
    return options.root;
  }
  const dataDir = process.env.D2L_DATA_DIR;
  const found = dataDir && dataDir.trim() !== "" ? inDataDir(path.resolve(dataDir), options.quiet ?? false) : undefined;
  return found ?? (await downloadImdb(options));
}

/** A random sample of `n` examples, as many of each label as possible, in a fixed order. */
function sample(labels: number[], n: number, seed: number): number[] {
  if (n >= labels.length) return labels.map((_, i) => i);
  const picked: number[] = [];
  for (const c of [1, 0]) {
    const members = labels.flatMap((l, i) => (l === c ? [i] : []));
    const order = permutation(members.length, mixSeed(seed, c));
    const take = c === 1 ? Math.ceil(n / 2) : n - Math.ceil(n / 2);
    for (let j = 0; j < Math.min(take, members.length); j++) picked.push(members[order[j]]);
  }
  return picked.sort((a, b) => a - b);
}

/**
 * IMDb for sentiment analysis (the book's `load_data_imdb`): reviews split
 * into words, a vocabulary of the training words seen at least 5 times with
 * `<pad>` reserved (`<unk>` 0, `<pad>` 1), and minibatches `[X, y]` of
 * `batchSize` reviews: `X` int32 `[n, numSteps]`, each review's first
 * `numSteps` word ids then `<pad>` (the book's `truncate_pad`), `y` int32
 * (1 positive, 0 negative). Returns `[trainIter, testIter, vocab]`; the
 * training batches are shuffled every epoch. The data comes from
 * `options.root`, else `D2L_DATA_DIR` (an `aclImdb/` folder, `aclImdb.zip`,
 * or the test fixture `aclImdb_tiny.zip`), else the cache, downloading and
 * unpacking aclImdb_v1.tar.gz there (84 MB; unpacking uses the `tar` program).
 *
 * @example
 * const [trainIter, testIter, vocab] = await d2l.loadDataImdb(64);
 * for await (const [X, y] of trainIter) { console.log(X.shape); tf.dispose([X, y]); break; } // [64, 500]
 */
export async function loadDataImdb(batchSize: number, numSteps = 500, options: ImdbOptions = {}): Promise<[PaddedLoader, PaddedLoader, Vocab]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`loadDataImdb: batchSize must be a positive integer, got ${String(batchSize)}`);
  if (!Number.isInteger(numSteps) || numSteps < 1) throw new Error(`loadDataImdb: numSteps must be a positive integer (words kept per review), got ${String(numSteps)}`);
  const limit = options.limit ?? (isQuick() ? 2000 : undefined);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 2)) throw new Error(`loadDataImdb: limit must be an integer >= 2 (reviews per split), got ${String(limit)}`);
  const seed = options.seed ?? 0;
  const location = await imdbDir(options);
  const read = (isTrain: boolean) => {
    const [data, labels] = readImdb(location, isTrain);
    const idx = limit === undefined ? data.map((_, i) => i) : sample(labels, limit, mixSeed(seed, isTrain ? 1 : 2));
    return { tokens: tokenize(idx.map((i) => data[i])), labels: idx.map((i) => labels[i]) };
  };
  const train = read(true);
  const test = read(false);
  const vocab = new Vocab(train.tokens, { minFreq: 5, reservedTokens: ["<pad>"] });
  const padId = vocab.toIndices("<pad>");
  // (a review that writes "<pad>" gets <unk> there: padding only ever follows a review)
  const ids = (tokens: string[][]) => tokens.map((line) => vocab.toIndices(line.slice(0, numSteps).map((w) => (w === "<pad>" ? "<unk>" : w))));
  const trainIter = new PaddedLoader(ids(train.tokens), train.labels, { batchSize, padId, numSteps, shuffle: true, seed });
  const testIter = new PaddedLoader(ids(test.tokens), test.labels, { batchSize, padId, numSteps });
  return [trainIter, testIter, vocab];
}
