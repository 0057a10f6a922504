/**
 * Downloading data files into the cache: progress bar, checksum, atomic
 * rename. A failed download leaves nothing behind in the cache (the bytes go
 * to a temporary file beside the target, named with this process's id and
 * renamed only once complete, verified and flushed to disk); the leftovers of
 * a killed download are removed by the next one into the same folder.
 * Requests go through `fetch` with the proxy of the environment
 * (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, or their lower-case forms).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable, Transform } from "stream";
import { pipeline } from "stream/promises";
import type { ReadableStream as WebReadableStream } from "stream/web";
import type { Dispatcher, Response } from "undici";
import { removeStaleTemporaries, syncFolder, temporaryName, writeFailureReason } from "../files";
import { LiveOutput, inKernel, showBundle } from "../output";

/** Accepted digests of a file (lower-case hex); a file passes when any one matches. */
export interface Checksums {
  /** Accepted SHA-1 digests. */
  sha1?: readonly string[];
  /** Accepted MD5 digests. */
  md5?: readonly string[];
}

/** SHA-1 and MD5 of some bytes. */
export interface FileDigests {
  sha1: string;
  md5: string;
}

/**
 * A download that failed; nothing was written to its destination. `url` and
 * `reason` say what failed; the message also says what to do instead.
 *
 * @example
 * try { await d2l.loadDataFashionMnist(256); }
 * catch (e) { if (e instanceof d2l.DownloadError) console.log(e.url, e.reason); }
 */
export class DownloadError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
    hint = "",
  ) {
    super(`Downloading ${url} failed: ${reason}.${hint ? " " + hint : ""}`);
    this.name = "DownloadError";
  }
}

/**
 * The cache root: `$D2L_CACHE_DIR` if set, else `~/.cache/d2l-ts` (the
 * book's `cache_dir` of `d2l.download`). Each data set has a folder in it
 * (e.g. `fashion-mnist/`).
 *
 * @example
 * d2l.cacheRoot(); // "/home/me/.cache/d2l-ts"
 */
export function cacheRoot(): string {
  const env = process.env.D2L_CACHE_DIR;
  if (env && env.trim() !== "") return path.resolve(env);
  return path.join(os.homedir(), ".cache", "d2l-ts");
}

/**
 * One line of information: a display in the kernel, stderr elsewhere.
 *
 * @example
 * say("Unpacking aclImdb_v1.tar.gz ...");
 */
export function say(line: string): void {
  if (inKernel()) showBundle({ "text/plain": line });
  else process.stderr.write(line + "\n");
}

/**
 * SHA-1 and MD5 of a file.
 *
 * @example
 * d2l.fileDigests("data/train-images-idx3-ubyte.gz").sha1;
 */
export function fileDigests(file: string): FileDigests {
  const bytes = fs.readFileSync(file);
  return {
    sha1: crypto.createHash("sha1").update(bytes).digest("hex"),
    md5: crypto.createHash("md5").update(bytes).digest("hex"),
  };
}

/**
 * True when `d` matches one of the accepted digests (or when none are listed).
 *
 * @example
 * d2l.checksumMatches(d2l.fileDigests(file), { sha1: ["94ab9a87cd8ed15a67dbba7000cc5256e3978a64"] });
 */
export function checksumMatches(d: FileDigests, c: Checksums | undefined): boolean {
  const sha1 = c?.sha1 ?? [];
  const md5 = c?.md5 ?? [];
  if (sha1.length === 0 && md5.length === 0) return true;
  return sha1.some((h) => h.toLowerCase() === d.sha1) || md5.some((h) => h.toLowerCase() === d.md5);
}

/**
 * The accepted digests in words, for messages.
 *
 * @example
 * describeChecksums({ sha1: ["ab12", "cd34"], md5: ["ef56"] }); // "SHA-1 ab12 or cd34, or MD5 ef56"
 */
export function describeChecksums(c: Checksums): string {
  const parts: string[] = [];
  if (c.sha1?.length) parts.push(`SHA-1 ${c.sha1.join(" or ")}`);
  if (c.md5?.length) parts.push(`MD5 ${c.md5.join(" or ")}`);
  return parts.join(", or ");
}

/**
 * A size in words: "26 MB", "4.4 MB", "29 kB".
 *
 * @example
 * d2l.formatBytes(26_421_880); // "26 MB"
 */
export function formatBytes(n: number): string {
  const units: [number, string][] = [
    [1e9, "GB"],
    [1e6, "MB"],
    [1e3, "kB"],
  ];
  for (const [u, name] of units) {
    if (n >= u) {
      const v = n / u;
      return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${name}`;
    }
  }
  return `${n} B`;
}

/** Progress of one download: a live display in the kernel, a bar on a terminal, two lines otherwise. */
class Progress {
  private readonly live = inKernel() ? new LiveOutput() : undefined;
  private readonly tty = !this.live && process.stderr.isTTY === true;
  private last = 0;
  private started = false;

  constructor(
    private readonly label: string,
    private readonly url: string,
    private readonly quiet: boolean,
  ) {}

  private text(received: number, total: number | undefined): string {
    if (total) return `downloading ${this.label}: ${Math.floor((100 * received) / total)}% of ${formatBytes(total)}`;
    return `downloading ${this.label}: ${formatBytes(received)}`;
  }

  update(received: number, total: number | undefined): void {
    if (this.quiet) return;
    if (!this.started) {
      this.started = true;
      if (!this.live && !this.tty) {
        process.stderr.write(`downloading ${this.label}${total ? ` (${formatBytes(total)})` : ""} from ${this.url}\n`);
      }
    }
    const now = Date.now();
    if (now - this.last < 200 && !(total !== undefined && received >= total)) return;
    this.last = now;
    if (this.live) this.live.show({ "text/plain": this.text(received, total) });
    else if (this.tty) process.stderr.write(`\r${this.text(received, total)}   `);
  }

  finish(bytes: number, ok: boolean): void {
    if (this.quiet) return;
    if (!ok && !this.started) return; // no connection at all: the error says so; a "failed" line for a bar never shown is noise
    const line = ok ? `downloaded ${this.label} (${formatBytes(bytes)})` : `download of ${this.label} failed`;
    if (this.live) this.live.show({ "text/plain": line });
    else if (this.tty) process.stderr.write(`\r${line}${" ".repeat(20)}\n`);
    else if (this.started) process.stderr.write(line + "\n");
  }
}

/** The codes of a network failure, from an error and its causes (fetch wraps them: `fetch failed` <- `ECONNREFUSED`). */
function errorChain(e: unknown): NodeJS.ErrnoException[] {
  const out: NodeJS.ErrnoException[] = [];
  let cur: unknown = e;
  while (cur instanceof Error && out.length < 5) {
    out.push(cur as NodeJS.ErrnoException);
    cur = (cur as Error & { cause?: unknown }).cause;
  }
  return out;
}

/** undici, loaded on the first download: it takes about 100 ms to load, which a kernel that never downloads should not pay. */
function undici(): Promise<typeof import("undici")> {
  return import("undici");
}

/** A timeout in words: "60 s", "0.3 s". */
function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${Number((ms / 1000).toFixed(1))} s`;
}

/** The proxy variable that applies to `url`'s scheme and its value, if one is set (NO_PROXY may still exclude the host). */
function proxySetting(url: URL): string | undefined {
  const names = url.protocol === "https:" ? ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"] : ["http_proxy", "HTTP_PROXY"];
  for (const n of names) {
    const v = process.env[n];
    if (v) return `${n} is set to ${v}`;
  }
  return undefined;
}

function networkReason(e: unknown, url: URL, timeoutMs: number): string {
  const chain = errorChain(e);
  const codes = chain.map((c) => c.code ?? "");
  const proxy = proxySetting(url);
  const via = proxy ? ` (${proxy}; check it, or name the host in NO_PROXY)` : "";
  const has = (...cs: string[]): boolean => codes.some((c) => cs.includes(c));
  if (has("ECONNREFUSED")) return `connection refused by ${proxy ? "the proxy or " : ""}${url.host} (nothing is listening there)${via}`;
  if (has("ENOTFOUND", "EAI_AGAIN")) return `the host name ${url.hostname} could not be resolved (no network, or no DNS)${via}`;
  if (has("ECONNRESET")) return `the connection to ${url.host} was reset${via}`;
  if (has("ETIMEDOUT", "UND_ERR_CONNECT_TIMEOUT")) return `the connection to ${url.host} timed out${via}`;
  if (has("UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT")) return `no data for ${seconds(timeoutMs)}${via}`;
  const proxyRefusal = chain.find((c) => /^Proxy response/.test(c.message));
  if (proxyRefusal) return `the proxy refused the connection (${proxyRefusal.message})${via}`;
  const last = chain[chain.length - 1];
  const text = chain
    .map((c) => c.message)
    .filter((m) => m && m !== "fetch failed")
    .join(": ");
  return (text || last?.message || String(e)) + via;
}

/**
 * GET `url` with `fetch` through `dispatcher` (the proxy, if any, is taken from the environment), following
 * redirects; resolves with a 200 response whose body is not yet read.
 */
async function get(url: URL, dispatcher: Dispatcher, timeoutMs: number): Promise<Response> {
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`unsupported URL scheme ${url.protocol}; use http: or https:`);
  let res: Response;
  try {
    // identity: the checksum and the announced length are those of the file as stored, not of a re-encoding
    const { fetch } = await undici();
    res = await fetch(url, { dispatcher, redirect: "follow", headers: { "user-agent": "d2l-ts", "accept-encoding": "identity" } });
  } catch (e) {
    throw new Error(networkReason(e, url, timeoutMs));
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`HTTP ${res.status} ${res.statusText ?? ""}`.trim());
  }
  return res;
}

/** What to do about a full or unwritable disk: D2L_CACHE_DIR when `dest` is in the cache, and the caller's hint. */
function diskHint(dest: string, hint: string): string {
  const inCache = !path.relative(cacheRoot(), path.resolve(dest)).startsWith("..");
  return [inCache ? "Set D2L_CACHE_DIR to a writable folder with free space." : "", hint].filter((s) => s).join(" ");
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Accepted digests; the download fails when none matches. Omit to skip the check. */
  checksums?: Checksums;
  /** Name shown in the progress bar (default: the file name). */
  label?: string;
  /** What the user can do instead, appended to errors. */
  hint?: string;
  /** Give up after this long without data (default 60 s). */
  timeoutMs?: number;
  /** No progress output. */
  quiet?: boolean;
}

/**
 * Download `url` to `dest`: a progress bar, a checksum check, and an atomic
 * rename from a temporary file in the same folder, so `dest` either is the
 * complete, verified file or does not exist. What d2l 1.0's
 * `d2l.download(url, folder, sha1_hash)` does; the 0.17 edition's
 * `d2l.download(name)` for a `DATA_HUB` entry is {@link download}, built on this.
 *
 * @example
 * await d2l.downloadFile("https://example.org/data.csv", "/tmp/data.csv", { checksums: { sha1: ["..."] } });
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<FileDigests> {
  const hint = options.hint ?? "";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DownloadError(url, "it is not a valid URL", hint);
  }
  const dir = path.dirname(dest);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    const why = writeFailureReason(e, dest) ?? `cannot create the folder ${dir} (${(e as Error).message})`;
    throw new DownloadError(url, why, diskHint(dest, hint));
  }
  removeStaleTemporaries(dir);
  const tmp = temporaryName(dest, "part");
  const timeoutMs = options.timeoutMs ?? 60_000;
  const progress = new Progress(options.label ?? path.basename(dest), url, options.quiet ?? false);
  // A new agent per download: it reads the proxy variables now, and closing it frees its sockets. An http:
  // URL is asked of the proxy in absolute form, as curl does (many proxies allow CONNECT to port 443 only);
  // an https: URL goes through a CONNECT tunnel.
  const { EnvHttpProxyAgent } = await undici();
  const agent = new EnvHttpProxyAgent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs }, proxyTunnel: false });
  let received = 0;
  try {
    let res: Response;
    try {
      res = await get(parsed, agent, timeoutMs);
    } catch (e) {
      throw new DownloadError(url, (e as Error).message, hint);
    }
    const lengthHeader = res.headers.get("content-length") ?? undefined;
    const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const sha1 = crypto.createHash("sha1");
    const md5 = crypto.createHash("md5");
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb): void {
        received += chunk.length;
        sha1.update(chunk);
        md5.update(chunk);
        progress.update(received, total);
        cb(null, chunk);
      },
    });
    let diskError: unknown;
    const sink = fs.createWriteStream(tmp, { flags: "wx" });
    sink.on("error", (e) => (diskError ??= e));
    try {
      if (!res.body) throw new Error("the response has no body");
      await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>), meter, sink);
    } catch (e) {
      // A failed pipeline destroys the file stream, but its open may still be pending: wait until it is
      // closed, or the temporary file would appear after the cleanup below removed it.
      if (!sink.closed) await new Promise<void>((resolve) => sink.once("close", () => resolve()));
      const diskReason = diskError !== undefined ? writeFailureReason(diskError, dest) : undefined;
      if (diskReason) throw new DownloadError(url, diskReason, diskHint(dest, hint));
      // the file stream also reports the network's errors (the pipeline destroys it with them): only a file call's is the disk's
      const syscall = (diskError as NodeJS.ErrnoException | undefined)?.syscall;
      if (syscall && ["open", "write", "writev", "close", "fsync"].includes(syscall)) {
        throw new DownloadError(url, `writing ${tmp} failed: ${(diskError as Error).message}`, diskHint(dest, hint));
      }
      const stalled = errorChain(e).some((c) => c.code === "UND_ERR_BODY_TIMEOUT");
      if (stalled) throw new DownloadError(url, `no data for ${seconds(timeoutMs)} after ${received}${total !== undefined ? ` of ${total}` : ""} bytes`, hint);
      if (total !== undefined && received < total) {
        throw new DownloadError(url, `the connection closed after ${received} of ${total} bytes (truncated download)`, hint);
      }
      throw new DownloadError(url, networkReason(e, parsed, timeoutMs), hint);
    }
    if (total !== undefined && received !== total) {
      throw new DownloadError(url, `received ${received} bytes but the server announced ${total} (truncated download)`, hint);
    }
    const digests = { sha1: sha1.digest("hex"), md5: md5.digest("hex") };
    if (!checksumMatches(digests, options.checksums)) {
      throw new DownloadError(
        url,
        `checksum mismatch: got SHA-1 ${digests.sha1} (MD5 ${digests.md5}), expected ${describeChecksums(options.checksums ?? {})}; ` +
          "the file is damaged or not the expected one",
        hint,
      );
    }
    try {
      // on disk before the rename: after a power cut the cache holds the whole file or none
      const fd = fs.openSync(tmp, "r+");
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, dest);
    } catch (e) {
      const why = writeFailureReason(e, dest) ?? `writing ${dest} failed: ${(e as Error).message}`;
      throw new DownloadError(url, why, diskHint(dest, hint));
    }
    syncFolder(dir);
    progress.finish(received, true);
    return digests;
  } catch (e) {
    progress.finish(received, false);
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}
