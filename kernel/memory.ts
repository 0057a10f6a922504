/**
 * The kernel's memory limit: a cell that allocates without bound is stopped
 * with an error that names memory, instead of the whole kernel dying with no
 * word of why (V8 aborting at its heap limit, or the system's OOM killer).
 *
 * A watchdog thread polls the process's resident memory every few
 * milliseconds. Above the limit it interrupts the running cell the way the
 * stop button does (the shared interrupt generation, then
 * `Runtime.terminateExecution` through the inspector if a synchronous loop
 * holds the main thread), and the main thread ends the cell with a
 * {@link MemoryLimitError} that says how much was used, the limit and where
 * it came from, how many tensors are alive, and what to do.
 *
 * V8 has a limit of its own for the JavaScript heap (`--max-old-space-size`,
 * about 4 GiB by default): past it V8 aborts the process. The kernelspec
 * raises it (cli/install.ts); when it is still below the kernel's limit (a
 * kernel started by hand, or with NODE_OPTIONS capping it) the watchdog also
 * reads the main thread's heap through the inspector and stops the cell at
 * 90% of V8's limit.
 */
import * as os from "os";
import * as v8 from "v8";
import * as vm from "vm";
import * as inspector from "inspector";
import { Worker, isMainThread, parentPort, workerData } from "worker_threads";
import { SHARED_ACK, SHARED_CRITICAL, SHARED_GENERATION, SHARED_TERMINATIONS } from "./channels";
import { InterruptedError } from "../lib/interrupt";

/** The kernel's log, written before the session captures process.stderr for cells. */
const logWrite = process.stderr.write.bind(process.stderr) as (s: string) => boolean;
function log(text: string): void {
  logWrite(`[d2l-ts kernel] ${text}\n`);
}

/** The environment variable read when `--memory-limit` is not given (a kernelspec's `env` can set it). */
export const MEMORY_LIMIT_ENV = "D2L_MEMORY_LIMIT";

/**
 * The share of the machine's memory (or of the container's, when a cgroup
 * limits it) that the kernel may use by default. Three quarters leaves the
 * rest to what shares the memory with the kernel: the notebook server and
 * the browser, the operating system's own needs and its file cache, and what
 * a fast loop allocates between two polls of the watchdog. A higher share
 * lets the system's OOM killer (which tells nobody why) strike first on a
 * small machine; a lower one wastes most of a large machine.
 */
export const DEFAULT_MEMORY_SHARE = 0.75;

/** The smallest limit accepted: a kernel with tf and d2l loaded already uses about 260 MiB. */
export const MIN_MEMORY_LIMIT = 384 * 2 ** 20;

/**
 * How often the watchdog reads the resident memory: often near the limit, less
 * often far below it (each read costs a few microseconds; every 5 ms, that is
 * about 2% of a core for an idle kernel).
 */
const POLL_NEAR_MS = 5;
const POLL_FAR_MS = 25;
/** At most this often the main thread's heap is read through the inspector (which interrupts it). */
const HEAP_POLL_MS = 20;
/** Stop a cell at this share of V8's old generation limit, where V8 would soon abort. */
const HEAP_SHARE = 0.9;
/** After a stop, cells may keep memory up to this share of it (beyond, V8's last-ditch collections come first). */
const HEAP_CAP = 0.95;
/**
 * After a trip, how long the watchdog waits for the main thread to acknowledge
 * before it terminates what runs there: ACK_WAIT_MS, or ACK_WAIT_GROWING_MS
 * while the resident memory is still growing past GROWING_BYTES (a synchronous
 * loop allocating, 64 MiB every 20 ms or so: every millisecond of waiting
 * brings the container's own limit, which kills the kernel, closer).
 */
const ACK_WAIT_MS = 50;
const ACK_WAIT_GROWING_MS = 5;
const GROWING_BYTES = 16 * 2 ** 20;
/** V8's heap limit counts the young generation too (48 MiB on 64-bit); it aborts when the old one is full. */
const YOUNG_GENERATION = 64 * 2 ** 20;

/** A memory limit and the words that say where it came from. */
export interface MemoryLimit {
  /** Bytes of resident memory the kernel may use. */
  bytes: number;
  /** Where the limit came from, for messages: "--memory-limit 6G", "D2L_MEMORY_LIMIT=6G", or the default's reason. */
  source: string;
}

/**
 * Read a memory size: a number of bytes with an optional K, M, G or T suffix
 * (powers of 1024; "GB", "GiB" and lower case are read alike), or a share of
 * the memory the kernel could use at most, such as "50%". Throws a
 * RangeError that says what was expected; `what` names the setting in it.
 *
 * @example
 * parseMemorySize("6G"); // 6442450944
 * parseMemorySize("600M"); // 629145600
 * parseMemorySize("50%", "--memory-limit", 8 * 2 ** 30); // 4294967296
 */
export function parseMemorySize(text: string, what = "--memory-limit", available = availableMemory()): number {
  const t = text.trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
  let bytes: number;
  if (pct) {
    const share = Number(pct[1]) / 100;
    if (share <= 0 || share > 1) throw new RangeError(`${what} ${JSON.stringify(text)}: a share of the memory must be above 0% and at most 100%`);
    bytes = Math.floor(available * share);
  } else {
    const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(t);
    if (!m) {
      throw new RangeError(`${what} needs a size such as 6G, 600M or 50% (of the machine's memory), got ${JSON.stringify(text)}`);
    }
    const unit: Record<string, number> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
    bytes = Math.floor(Number(m[1]) * unit[m[2].toUpperCase()]);
  }
  if (bytes < MIN_MEMORY_LIMIT) {
    throw new RangeError(`${what} ${text} is below 384M: a kernel with tf and d2l loaded already uses about 260M; give at least 384M`);
  }
  return bytes;
}

/**
 * The memory this process could use at most: the machine's, or the
 * container's where a cgroup limit is lower (Node reports an unlimited
 * cgroup as a huge number, or 0 where it cannot tell).
 *
 * @example
 * availableMemory(); // 25276391424 on a 24 GiB machine without a cgroup limit
 */
export function availableMemory(total = os.totalmem(), constrained = constrainedMemory()): number {
  return constrained > 0 && constrained < total ? constrained : total;
}

function constrainedMemory(): number {
  const f = (process as unknown as { constrainedMemory?: () => number | undefined }).constrainedMemory;
  return f ? (f() ?? 0) : 0;
}

/**
 * The kernel's memory limit: `--memory-limit` when given, else the
 * D2L_MEMORY_LIMIT environment variable, else {@link DEFAULT_MEMORY_SHARE} of
 * the memory available ({@link availableMemory}). Throws a RangeError on a
 * size it cannot read.
 *
 * @example
 * resolveMemoryLimit("6G").source; // "--memory-limit 6G"
 * resolveMemoryLimit(undefined, { D2L_MEMORY_LIMIT: "2G" }).bytes; // 2147483648
 * resolveMemoryLimit(undefined, {}, 8 * 2 ** 30, 0).source; // "the default, 3/4 of this machine's 8.0 GiB"
 */
export function resolveMemoryLimit(option?: string, env: NodeJS.ProcessEnv = process.env, total = os.totalmem(), constrained = constrainedMemory()): MemoryLimit {
  const available = availableMemory(total, constrained);
  if (option !== undefined) return { bytes: parseMemorySize(option, "--memory-limit", available), source: `--memory-limit ${option}` };
  const fromEnv = env[MEMORY_LIMIT_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    return { bytes: parseMemorySize(fromEnv, MEMORY_LIMIT_ENV, available), source: `${MEMORY_LIMIT_ENV}=${fromEnv}` };
  }
  const whose = available < total ? "the memory this container may use" : "this machine's";
  return { bytes: Math.floor(available * DEFAULT_MEMORY_SHARE), source: `the default, 3/4 of ${whose} ${formatBytes(available)}` };
}

/**
 * Bytes as a reader wants them: "612 MiB", "4.0 GiB". MiB and KiB are rounded
 * up, so memory just over a limit never reads as equal to it.
 *
 * @example
 * formatBytes(629145600); // "600 MiB"
 */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${Math.ceil(n / 2 ** 20)} MiB`;
  if (n >= 2 ** 10) return `${Math.ceil(n / 2 ** 10)} KiB`;
  return `${n} B`;
}

/**
 * The error a cell ends with when the kernel stopped it for memory. An
 * {@link InterruptedError}, so training loops and the kernel treat it as an
 * interrupt: the kernel keeps its state and the next cell runs.
 *
 * @example
 * const e = new MemoryLimitError("the kernel used 612 MiB ...");
 * e.name; // "MemoryError"
 */
export class MemoryLimitError extends InterruptedError {
  constructor(message: string) {
    super(message);
    this.name = "MemoryError";
  }
}

/** What the watchdog saw when it stopped a cell. */
export interface MemoryOverrun {
  /** Resident memory of the kernel when it was stopped, in bytes. */
  rss: number;
  /** "rss": over the kernel's limit; "heap": near V8's own JavaScript heap limit. */
  reason: "rss" | "heap";
  /** The main thread's JavaScript heap in use (bytes), when the watchdog read it. */
  heapUsed?: number;
}

/** Live tensors as tf.memory() counts them, or null where tfjs is not loaded. */
export interface TensorCount {
  numTensors: number;
  numBytes: number;
}

/**
 * The message of a {@link MemoryLimitError}: what was used, the limit and
 * where it came from, the tensors alive, and what to do.
 *
 * @example
 * memoryErrorMessage({ rss: 640 * 2 ** 20, reason: "rss" }, { bytes: 600 * 2 ** 20, source: "--memory-limit 600M" }, 4096 * 2 ** 20, { numTensors: 12, numBytes: 2 ** 20 });
 * // "The kernel used 640 MiB of memory, over its limit of 600 MiB (set by --memory-limit 600M), so the cell was stopped. ..."
 */
export function memoryErrorMessage(over: MemoryOverrun, limit: MemoryLimit, heapLimit: number, tensors: TensorCount | null): string {
  const lines: string[] = [];
  if (over.reason === "heap") {
    lines.push(
      `The kernel's JavaScript heap reached ${formatBytes(over.heapUsed ?? 0)} of V8's heap limit of ${formatBytes(heapLimit)} ` +
        `(node's --max-old-space-size; past it V8 would abort the kernel), so the cell was stopped. ` +
        `The kernel used ${formatBytes(over.rss)} in all; its own limit is ${formatBytes(limit.bytes)} (set by ${limit.source}).`,
    );
  } else {
    lines.push(`The kernel used ${formatBytes(over.rss)} of memory, over its limit of ${formatBytes(limit.bytes)} (set by ${limit.source}), so the cell was stopped.`);
  }
  lines.push(tensors ? `Tensors alive: ${tensors.numTensors} holding ${formatBytes(tensors.numBytes)} (tf.memory()).` : "Tensors alive: none (tfjs is not loaded).");
  lines.push(
    "What to do: free what the cells keep (tf.dispose(x) for tensors, x = undefined for big arrays), wrap each step in tf.tidy(() => ...) so its intermediate tensors are freed, " +
      "use a smaller batch; or raise the limit: d2l-ts kernel --memory-limit 8G, or D2L_MEMORY_LIMIT=8G in the kernel's environment " +
      '(the kernelspec\'s "env"). The kernel keeps its other state; the next cell runs.',
  );
  if (over.reason === "heap") {
    lines.push(
      "V8's heap limit is set when node starts: the kernelspec that d2l-ts install writes raises it to the machine's memory (reinstall it if this kernel was started otherwise).",
    );
  }
  return lines.join("\n");
}

/** tf.memory() of the tfjs the cells loaded, without loading it. */
function tensorCount(): TensorCount | null {
  for (const [id, mod] of Object.entries(require.cache)) {
    if (!/[\\/]@tensorflow[\\/]tfjs-core[\\/]dist[\\/]/.test(id)) continue;
    const memory = (mod?.exports as { memory?: () => TensorCount } | undefined)?.memory;
    if (typeof memory !== "function") continue;
    try {
      const m = memory();
      return { numTensors: m.numTensors, numBytes: m.numBytes };
    } catch {
      return null;
    }
  }
  return null;
}

/** A running watchdog. */
export interface MemoryWatch {
  readonly limit: MemoryLimit;
  /** End the watchdog thread. */
  stop(): void;
}

interface WatchData {
  marker: typeof WATCH_MARKER;
  shared: SharedArrayBuffer;
  limit: number;
  heapLimit: number;
}
const WATCH_MARKER = "d2l-ts memory watch";

type FromWatch = ({ kind: "over"; generation: number } & MemoryOverrun) | { kind: "log"; text: string };
type ToWatch = { kind: "settled" };

/**
 * Start the watchdog thread. `shared` is the kernel's interrupt memory (see
 * channels.ts); over the limit the watchdog bumps its generation, and
 * `onOver` runs on the main thread with that generation and the error the
 * running cell should end with (the caller does what an interrupt does).
 *
 * @example
 * watchMemory({ limit: resolveMemoryLimit(), shared, onOver: (generation, error) => session.interrupt(generation, error) });
 */
export function watchMemory(opts: { limit: MemoryLimit; shared: SharedArrayBuffer; onOver: (generation: number, error: MemoryLimitError) => void }): MemoryWatch {
  const heapLimit = v8.getHeapStatistics().heap_size_limit;
  const data: WatchData = { marker: WATCH_MARKER, shared: opts.shared, limit: opts.limit.bytes, heapLimit };
  const worker = new Worker(__filename, { workerData: data });
  worker.unref();
  let gc: (() => void) | null = null;
  worker.on("message", (m: FromWatch) => {
    if (m.kind === "log") return void log(m.text);
    const error = new MemoryLimitError(memoryErrorMessage(m, opts.limit, heapLimit, tensorCount()));
    opts.onOver(m.generation, error);
    // Once the stopped cell has unwound, collect its garbage so the watchdog re-arms on what is really kept.
    setImmediate(() => {
      try {
        gc ??= exposeGc();
        gc();
      } finally {
        worker.postMessage({ kind: "settled" } satisfies ToWatch);
      }
    });
  });
  worker.on("error", (e) => log(`the memory watchdog failed: ${e.stack ?? e}`));
  return { limit: opts.limit, stop: () => void worker.terminate() };
}

function exposeGc(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

/**
 * The watchdog thread. It trips above `threshold`, which is the limit, or,
 * after a cell was stopped while the cells still keep more than the limit, a
 * little above what they keep (so the next cell can run, `x = undefined`
 * say); it falls back to the limit as memory is freed.
 */
function runWatch(d: WatchData): void {
  const port = parentPort as NonNullable<typeof parentPort>;
  const shared = new Int32Array(d.shared);
  const slack = Math.max(64 * 2 ** 20, Math.floor(d.limit / 10));
  const oldLimit = Math.max(d.heapLimit / 2, d.heapLimit - YOUNG_GENERATION);
  const watchHeap = oldLimit * HEAP_SHARE < d.limit;
  const heapSlack = Math.max(16 * 2 ** 20, Math.floor(oldLimit / 50));
  // Kept at start past the limit already (a low limit, data loaded at import): cells may add a little.
  const rss0 = process.memoryUsage.rss();
  let rssThreshold = Math.max(d.limit, rss0 + slack);
  if (rss0 > d.limit) {
    port.postMessage({
      kind: "log",
      text: `the kernel uses ${formatBytes(rss0)} at start, over its memory limit of ${formatBytes(d.limit)}: cells are stopped past ${formatBytes(rssThreshold)}`,
    } satisfies FromWatch);
  }
  let heapThreshold = oldLimit * HEAP_SHARE;
  let heapUsed: number | undefined;
  let heapPending = false;
  let tripped = false;
  let settled: (() => void) | null = null;
  let session: inspector.Session | null = null;
  const inspectorSession = (): inspector.Session => {
    if (!session) {
      session = new inspector.Session();
      session.connectToMainThread();
    }
    return session;
  };
  port.on("message", (m: ToWatch) => {
    if (m.kind === "settled") settled?.();
  });

  const trip = async (over: MemoryOverrun): Promise<void> => {
    tripped = true;
    const generation = Atomics.add(shared, SHARED_GENERATION, 1) + 1;
    const done = new Promise<void>((r) => (settled = r));
    port.postMessage({ kind: "over", generation, ...over } satisfies FromWatch);
    // As protocol.ts does for the stop button: the main thread acknowledges when its
    // event loop is free; if a synchronous loop holds it, terminate that loop (never
    // while the kernel itself compiles).
    const t0 = Date.now();
    let lastTerminate = 0;
    while (Atomics.load(shared, SHARED_ACK) < generation && Date.now() - t0 < 30_000) {
      await new Promise((r) => setTimeout(r, 2));
      const now = Date.now();
      const growing = process.memoryUsage.rss() > over.rss + GROWING_BYTES;
      if (now - t0 > (growing ? ACK_WAIT_GROWING_MS : ACK_WAIT_MS) && Atomics.load(shared, SHARED_CRITICAL) === 0 && now - lastTerminate > 1000) {
        lastTerminate = now;
        // counted, as the protocol thread's terminates are: the session then ends any request this cut off
        if (shared.length > SHARED_TERMINATIONS) Atomics.add(shared, SHARED_TERMINATIONS, 1);
        inspectorSession().post("Runtime.terminateExecution");
      }
    }
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
    settled = null;
    const rss = process.memoryUsage.rss();
    rssThreshold = Math.max(d.limit, rss + slack);
    if (watchHeap) {
      const used = await readHeap();
      // What the cells keep may grow a little, never far into V8's last-ditch collections;
      // kept past the cap already, only a little room is left (for `x = undefined`, say).
      if (used !== undefined) heapThreshold = Math.max(Math.min(oldLimit * HEAP_CAP, Math.max(oldLimit * HEAP_SHARE, used + heapSlack)), used + heapSlack / 4);
    }
    tripped = false;
  };

  const readHeap = (): Promise<number | undefined> =>
    new Promise((resolve) => {
      inspectorSession().post("Runtime.getHeapUsage", (err, r) => resolve(err || !r ? undefined : (r as { usedSize: number }).usedSize));
    });

  let lastHeapRead = 0;
  const poll = (): void => {
    const rss = check();
    const near = Math.min(rssThreshold, watchHeap ? heapThreshold : Infinity) * 0.75;
    setTimeout(poll, rss > near ? POLL_NEAR_MS : POLL_FAR_MS);
  };
  /** One look at the memory; returns the resident memory seen. */
  const check = (): number => {
    const rss = process.memoryUsage.rss();
    if (tripped) return rss;
    // Memory freed: the threshold comes back down towards the limit.
    if (rss + slack < rssThreshold) rssThreshold = Math.max(d.limit, rss + slack);
    if (rss > rssThreshold) {
      void trip({ rss, reason: "rss", heapUsed });
      return rss;
    }
    // The heap in use is part of the resident memory: only when that is high enough
    // is the heap worth reading (through the inspector, which interrupts the main thread).
    if (watchHeap && !heapPending && rss > heapThreshold && Date.now() - lastHeapRead >= HEAP_POLL_MS) {
      heapPending = true;
      lastHeapRead = Date.now();
      void readHeap().then((used) => {
        heapPending = false;
        if (used === undefined || tripped) return;
        heapUsed = used;
        if (used + heapSlack < heapThreshold) heapThreshold = Math.max(oldLimit * HEAP_SHARE, used + heapSlack);
        if (used > heapThreshold) void trip({ rss: process.memoryUsage.rss(), reason: "heap", heapUsed: used });
      });
    }
    return rss;
  };
  poll();
}

if (!isMainThread && (workerData as Partial<WatchData> | null)?.marker === WATCH_MARKER) runWatch(workerData as WatchData);
