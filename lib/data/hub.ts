/**
 * The book's data registry: `DATA_HUB` maps a data set's name to its URL and
 * SHA-1, and `download(name)` returns a local path to a verified copy (the
 * book's `d2l.DATA_HUB` and `d2l.download`, section 4.10).
 *
 * Where the file comes from, first match wins:
 * 1. `$D2L_DATA_DIR/<file name>` (or the `dataDir` option): a folder the user
 *    filled by hand (CI points it at the offline copies). Its SHA-1 must match;
 *    a mismatch is an error, since silently downloading over a user's file
 *    would hide the problem.
 * 2. `<cacheDir>/<file name>` (default `d2l.cacheRoot()`, `~/.cache/d2l-ts`)
 *    when its SHA-1 matches; a damaged cached file is downloaded again.
 * 3. A download from the URL, with progress, SHA-1 check and atomic rename
 *    (see `downloadFile`).
 *
 * To add a data set, add an entry: `d2l.DATA_HUB["name"] = [url, sha1]`.
 */
import * as fs from "fs";
import * as path from "path";
import { cacheRoot, downloadFile, fileDigests, say } from "./download";

/** The book's `d2l.DATA_URL`: where the course's own data files live. */
export const DATA_URL = "http://d2l-data.s3-accelerate.amazonaws.com/";

/** One entry of {@link DATA_HUB}: the file's URL and its SHA-1 (lower-case hex). */
export type DataHubEntry = [url: string, sha1: string];

/**
 * The book's `d2l.DATA_HUB`: data set name → `[url, sha1]`. A plain object:
 * add entries to make them available to {@link download}. The file name in
 * the cache (and in `D2L_DATA_DIR`) is the last part of the URL.
 */
export const DATA_HUB: Record<string, DataHubEntry> = {
  kaggle_house_train: [DATA_URL + "kaggle_house_pred_train.csv", "585e9cc93e70b39160e7921475f9bcd7d31219ce"],
  kaggle_house_test: [DATA_URL + "kaggle_house_pred_test.csv", "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"],
  // read by d2l.timeMachineFile / d2l.readTimeMachine (chapter 8)
  time_machine: [DATA_URL + "timemachine.txt", "090b5e7e70c295757f55df93cb0a180b9691891a"],
  // read by d2l.readDataNmt / d2l.loadDataNmt (chapter 9), which fall back to CMUdict when it cannot be had
  "fra-eng": [DATA_URL + "fra-eng.zip", "94646ad1522d915e7b0f9296181140edcf86a4f5"],
  // read by d2l.readPtb / d2l.loadDataPtb (word2vec, chapter 14)
  ptb: [DATA_URL + "ptb.zip", "319d85e578af0cdc590547f26231e4e31cdf1e42"],
};

/** Options of {@link download}. */
export interface HubDownloadOptions {
  /** A folder to look in first, instead of `$D2L_DATA_DIR`. */
  dataDir?: string;
  /** No progress output or notes. */
  quiet?: boolean;
}

/** The file name a hub entry is stored under: the URL's last path segment. */
export function hubFileName(name: string): string {
  const [url] = hubEntry(name);
  let base: string;
  try {
    base = path.posix.basename(new URL(url).pathname);
  } catch {
    throw new Error(`DATA_HUB["${name}"] has the URL ${JSON.stringify(url)}, which is not a valid URL`);
  }
  if (!base) throw new Error(`DATA_HUB["${name}"] has the URL ${url}, which names no file (it ends in /)`);
  return base;
}

function hubEntry(name: string): DataHubEntry {
  const entry = Object.prototype.hasOwnProperty.call(DATA_HUB, name) ? DATA_HUB[name] : undefined;
  if (entry === undefined) {
    throw new Error(`"${name}" is not in d2l.DATA_HUB; the names there are ${Object.keys(DATA_HUB).join(", ")}. Add it with d2l.DATA_HUB["${name}"] = [url, sha1]`);
  }
  if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" || typeof entry[1] !== "string" || !/^[0-9a-fA-F]{40}$/.test(entry[1])) {
    throw new Error(`DATA_HUB["${name}"] must be [url, sha1] with a 40-digit hex SHA-1, got ${JSON.stringify(entry)}`);
  }
  return entry;
}

/**
 * The book's `d2l.download(name, cache_dir)`: a local path to the verified
 * file of a {@link DATA_HUB} entry, from `$D2L_DATA_DIR`, the cache, or a
 * download (see the module's notes for the order). Fails with a message that
 * says what to do: a checksum mismatch names both digests and the file, a
 * failed download says how to work offline.
 *
 * @example
 * const file = await d2l.download("kaggle_house_train"); // ".../kaggle_house_pred_train.csv"
 * const trainData = d2l.readCsv(file);
 */
export async function download(name: string, cacheDir: string = cacheRoot(), options: HubDownloadOptions = {}): Promise<string> {
  const [url, sha1Raw] = hubEntry(name);
  const sha1 = sha1Raw.toLowerCase();
  const file = hubFileName(name);
  const hint = `To work offline, put ${file} (SHA-1 ${sha1}) in a folder and set D2L_DATA_DIR to that folder.`;

  const dataDir = options.dataDir ?? process.env.D2L_DATA_DIR;
  if (dataDir !== undefined && dataDir.trim() !== "") {
    const local = path.join(path.resolve(dataDir), file);
    if (fs.existsSync(local)) {
      const got = fileDigests(local).sha1;
      if (got !== sha1) {
        throw new Error(
          `${local} failed the checksum check: SHA-1 ${got}, expected ${sha1} for DATA_HUB["${name}"]. ` +
            `The file is damaged or a different version; replace it with a good copy, or remove it to download ${url} into the cache.`,
        );
      }
      return local;
    }
  }

  const dest = path.join(path.resolve(cacheDir), file);
  if (fs.existsSync(dest)) {
    if (fileDigests(dest).sha1 === sha1) return dest;
    if (!options.quiet) say(`${dest} does not match its SHA-1 (damaged or outdated); downloading it again.`);
    fs.rmSync(dest, { force: true });
  }
  await downloadFile(url, dest, { checksums: { sha1: [sha1] }, label: file, hint, quiet: options.quiet });
  return dest;
}
