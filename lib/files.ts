/**
 * Writing files so that a reader never sees half of one, and cleaning up
 * after writers that died.
 *
 * - {@link writeFileAtomic}: the bytes go to a temporary file beside the
 *   target, are flushed to disk, and the temporary file is renamed over the
 *   target: the target is the old file or the complete new one, never a
 *   truncated mix, even when the process is killed or the disk fills up.
 * - {@link temporaryName}: the temporary names used for this (and by
 *   downloads and unpacking) carry the writer's process id, so that
 * - {@link removeStaleTemporaries} can tell the leftovers of a dead process
 *   from the work of a live one, and remove them on the next run.
 * - {@link WriteError}: a full disk (`ENOSPC`), a folder that is not writable
 *   (`EACCES`, `EROFS`) and similar failures, said in words with the path and
 *   what to do.
 *
 * This module does not load TensorFlow.js: the command-line tools use it.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/** What a temporary file or folder is for; part of its name. */
export type TemporaryKind = "part" | "tmp" | "unpack";

/**
 * A hidden name for a temporary file or folder in `dir` that carries this
 * process's id and a random part: `.NAME.part-<pid>-<hex>` for a download of
 * NAME, `.NAME.tmp-<pid>-<hex>` for an atomic write of NAME, and
 * `.unpack-<pid>-<hex>` for an unpacking folder (NAME is not used).
 * {@link removeStaleTemporaries} recognizes these names.
 *
 * @example
 * temporaryName("/cache/data.gz", "part"); // "/cache/.data.gz.part-4242-9f0c1a2b"
 * temporaryName("/cache/aclImdb/aclImdb", "unpack"); // "/cache/aclImdb/.unpack-4242-03ab77e1"
 */
export function temporaryName(target: string, kind: TemporaryKind): string {
  const dir = path.dirname(target);
  const tag = `${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  if (kind === "unpack") return path.join(dir, `.unpack-${tag}`);
  return path.join(dir, `.${path.basename(target)}.${kind}-${tag}`);
}

/**
 * A failed write: `code` is the system's error code (`ENOSPC`, `EACCES`, ...),
 * `path` the file or folder it failed on. The message says what happened in
 * words and what to do.
 *
 * @example
 * try { writeFileAtomic("/full-disk/report.json", "{}"); }
 * catch (e) { if (e instanceof WriteError && e.code === "ENOSPC") console.log("disk full:", e.path); }
 */
export class WriteError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
    readonly reason: string,
  ) {
    super(reason);
    this.name = "WriteError";
  }
}

/**
 * The reason a write to `file` failed, in words, with what to do; `undefined`
 * when `err` is not one of the errors of a full or unwritable disk (a network
 * error, say). Used by {@link writeFileAtomic} and by downloads.
 *
 * @example
 * writeFailureReason(Object.assign(new Error("no space"), { code: "ENOSPC" }), "/data/x.gz");
 * // "the disk holding /data is full (ENOSPC) while writing /data/x.gz; free some space there or write to another disk"
 */
export function writeFailureReason(err: unknown, file: string): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const dir = path.dirname(file);
  switch (code) {
    case "ENOSPC":
      return `the disk holding ${dir} is full (ENOSPC) while writing ${file}; free some space there or write to another disk`;
    case "EDQUOT":
      return `the disk quota for ${dir} is used up (EDQUOT) while writing ${file}; free some space there or write to another disk`;
    case "EFBIG":
      return `${file} grew larger than the file system allows (EFBIG); write to another disk`;
    case "EACCES":
    case "EPERM":
      return `the folder ${dir} is not writable by this user (${code}) so ${file} cannot be written; make it writable or write to another folder`;
    case "EROFS":
      return `the folder ${dir} is on a read-only file system (EROFS) so ${file} cannot be written; write to another folder`;
    case "ENOTDIR":
    case "EEXIST":
      return `${file} cannot be written: a part of its folder ${dir} is a file, not a folder (${code}); remove that file or write to another folder`;
    case "EIO":
      return `the disk holding ${dir} reported an input/output error (EIO) while writing ${file}; check the disk or write to another one`;
    default:
      return undefined;
  }
}

/** A {@link WriteError} for `err` when it is a disk error, else `err` itself. */
function asWriteError(err: unknown, file: string): unknown {
  const reason = writeFailureReason(err, file);
  if (reason === undefined) return err;
  return new WriteError(file, (err as NodeJS.ErrnoException).code ?? "", reason);
}

/** Options of {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** Permission bits of a new file (default 0o666, less the umask). An existing file's bits are kept. */
  mode?: number;
  /** Create the target's folder when missing (default true). */
  mkdir?: boolean;
}

/**
 * Write `data` to `file` atomically: into a temporary file beside it (named
 * by {@link temporaryName}), flushed to disk (`fsync`), then renamed over
 * `file`, and the folder flushed too. Readers see the old file or the
 * complete new one; a crash or a full disk leaves the old file as it was and
 * no temporary file behind (one left by a killed process is removed by
 * {@link removeStaleTemporaries}). A string is written as UTF-8. An existing
 * file keeps its permission bits. A symbolic link at `file` is replaced by
 * the file, not followed (a link planted in a folder the writer does not own
 * cannot redirect the write elsewhere). Disk errors (`ENOSPC`, `EACCES`, `EROFS`,
 * ...) are thrown as {@link WriteError}s that say what to do.
 *
 * @example
 * writeFileAtomic("out/report.json", JSON.stringify(report, null, 2) + "\n");
 * writeFileAtomic("out/figure.png", pngBytes, { mode: 0o644 });
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: WriteFileAtomicOptions = {}): void {
  if (typeof file !== "string" || file === "") throw new TypeError(`writeFileAtomic: expected a file path, got ${JSON.stringify(file)}`);
  if (typeof data !== "string" && !(data instanceof Uint8Array)) {
    throw new TypeError(`writeFileAtomic: expected the contents of ${file} as a string or a Uint8Array, got ${data === null ? "null" : typeof data}`);
  }
  const target = path.resolve(file);
  const dir = path.dirname(target);
  if (options.mkdir ?? true) {
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw asWriteError(e, target);
    }
  }
  let mode = options.mode;
  if (mode === undefined) {
    try {
      mode = fs.statSync(target).mode & 0o7777;
    } catch {
      mode = 0o666;
    }
  }
  const tmp = temporaryName(target, "tmp");
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "wx", mode);
    if (options.mode !== undefined || fs.existsSync(target)) fs.fchmodSync(fd, mode); // the umask must not narrow an existing file's bits
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing: the first error is the one to report
      }
    }
    fs.rmSync(tmp, { force: true });
    throw asWriteError(e, target);
  }
  syncFolder(dir);
}

/**
 * Flush a folder's entries (a rename into it, say) to disk; a file system
 * that cannot is no error.
 *
 * @example
 * fs.renameSync(tmp, target);
 * syncFolder(path.dirname(target));
 */
export function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a folder; the rename itself is still atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** What {@link parseTemporaryName} finds in a name. */
export interface TemporaryNameInfo {
  /** The writer's process id, when the name carries one. */
  pid?: number;
  /** What the temporary was for. */
  kind: TemporaryKind;
}

const NEW_FILE = /^\..+\.(part|tmp)-(\d+)-[0-9a-f]+$/; // .NAME.part-<pid>-<hex>, .NAME.tmp-<pid>-<hex>
const NEW_UNPACK = /^\.unpack-(\d+)-[0-9a-f]+$/; // .unpack-<pid>-<hex>
const OLD_PART = /^\..+\.(\d+)\.[0-9a-f]{8}\.part$/; // downloads before: .NAME.<pid>.<hex>.part
const OLD_TMP = /^\..+\.(\d+)\.\d+\.tmp$/; // lib/io.ts: .NAME.<pid>.<ms>.tmp
const OLD_UNPACK = /^\.unpack-[A-Za-z0-9]{6}$/; // mkdtemp(".unpack-"): no pid

/**
 * Whether `name` (a file name, not a path) is one of the temporary names this
 * project writes, and the writer's process id when the name has one;
 * `undefined` for any other name.
 *
 * @example
 * parseTemporaryName(".train.gz.part-4242-9f0c1a2b"); // { kind: "part", pid: 4242 }
 * parseTemporaryName(".unpack-Ab12Cd"); // { kind: "unpack" } (an old name, without a pid)
 * parseTemporaryName("train.gz"); // undefined
 */
export function parseTemporaryName(name: string): TemporaryNameInfo | undefined {
  let m = NEW_FILE.exec(name);
  if (m) return { kind: m[1] as TemporaryKind, pid: Number(m[2]) };
  if ((m = NEW_UNPACK.exec(name))) return { kind: "unpack", pid: Number(m[1]) };
  if ((m = OLD_PART.exec(name))) return { kind: "part", pid: Number(m[1]) };
  if ((m = OLD_TMP.exec(name))) return { kind: "tmp", pid: Number(m[1]) };
  if (OLD_UNPACK.test(name)) return { kind: "unpack" };
  return undefined;
}

/**
 * Whether a process with this id exists on this machine (as far as this
 * process can see: another container's processes are invisible).
 *
 * @example
 * processAlive(process.pid); // true
 */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/** Options of {@link removeStaleTemporaries}. */
export interface StaleOptions {
  /**
   * A temporary of a dead process is removed only when it has not changed for
   * this long (default 2 minutes): a writer in another container sharing the
   * folder has a pid this process cannot see, but its file keeps changing.
   */
  graceMs?: number;
  /** A temporary whose name has no pid is removed when older than this (default one day). */
  maxAgeMs?: number;
  /** The time to compare with (default now; for tests). */
  now?: number;
}

/**
 * Remove from `dir` the temporary files and folders (names as made by
 * {@link temporaryName}, and the older names without a pid) that a writer left
 * behind when it was killed: those whose process is gone and that have not
 * changed for `graceMs`, and those without a pid older than `maxAgeMs`.
 * Entries of live processes, and every other name, are left alone; so is
 * anything that cannot be removed (no error: the cleanup is best effort).
 * Returns the paths removed. Downloads and unpacking call it on their folder
 * before they start; a tool can call it on its output folder.
 *
 * @example
 * removeStaleTemporaries(path.join(cacheRoot(), "fashion-mnist"));
 * // ["/home/me/.cache/d2l-ts/fashion-mnist/.train-images-idx3-ubyte.gz.part-31337-9f0c1a2b"]
 */
export function removeStaleTemporaries(dir: string, options: StaleOptions = {}): string[] {
  const graceMs = options.graceMs ?? 120_000;
  const maxAgeMs = options.maxAgeMs ?? 24 * 3600_000;
  const now = options.now ?? Date.now();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const info = parseTemporaryName(name);
    if (!info) continue;
    const full = path.join(dir, name);
    let age: number;
    try {
      age = now - fs.lstatSync(full).mtimeMs;
    } catch {
      continue; // gone already
    }
    const stale = info.pid === undefined ? age > maxAgeMs : info.pid !== process.pid && !processAlive(info.pid) && age > graceMs;
    if (!stale) continue;
    try {
      fs.rmSync(full, { recursive: true, force: true });
      removed.push(full);
    } catch {
      // best effort: a leftover we may not remove is no reason to fail the caller
    }
  }
  return removed;
}
