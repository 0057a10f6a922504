/**
 * The main thread of the kernel: runs cells in order, keeps the execution
 * count and the history, turns results and errors into messages, and
 * carries interrupts from the protocol thread to the running code.
 */
import * as path from "path";
import * as util from "util";
import * as v8 from "v8";
import { Worker } from "worker_threads";
import { setTimeout as realSetTimeout } from "timers";
// The executor and the compiler (TypeScript itself, tslab) are loaded after the first kernel_info_reply (see start()):
// types only here, the modules on demand.
import type { Executor, CellResult } from "./executor";
import type { CellDiagnostic } from "./compiler";
import { InterruptedError } from "../lib/interrupt";
import { toDisplayAsync, MimeBundle, DisplayOutput } from "./display";
import { installBridge } from "./cellapi";
import { installGlobals } from "./globals";
import { ConnectionInfo, Header, Message } from "./wire";
import { FromProtocol, ProtocolData, SHARED_ACK, SHARED_CRITICAL, SHARED_GENERATION, SHARED_TERMINATIONS, ToProtocol, Channel } from "./channels";
import {
  PROMPT_ANSWERED,
  PROMPT_CANCELLED,
  PROMPT_CAPACITY,
  PROMPT_DATA_OFFSET,
  PROMPT_IDLE,
  PROMPT_INVALID,
  PROMPT_LENGTH,
  PROMPT_STATE,
  PROMPT_TOO_LONG,
  PROMPT_WAITING,
} from "./channels";
import { kernelInfo } from "./info";
import { RequestProblem } from "./messages";
import { preludeSource } from "./prelude";
import { bindToSubmission, isCheckKernel, keepAnswerChannel } from "./remote";
import { MemoryLimit, MemoryWatch, resolveMemoryLimit, watchMemory } from "./memory"; // memory limit (issue 20)

type Parent = Header | Record<string, never>;
/** What a cell's run gives its reply: the value's display and user_expressions, or the error. */
type CellReply =
  { status: "ok"; value?: DisplayOutput; userExpressions: Record<string, unknown> } | { status: "error"; error: { ename: string; evalue: string; traceback: string[] } };

interface HistoryEntry {
  line: number;
  input: string;
  output: string | null;
}

/** A request between its busy and its idle (Session.track). */
interface InFlight {
  /** The interrupt generation when it started: an interrupt after it ends it. */
  since: number;
  /** SHARED_TERMINATIONS when it started: a terminate asked for later may have cut it off. */
  terms: number;
  /** Its guarded work settled (set synchronously): only its synchronous ending is left. */
  settled: boolean;
  /** Its last messages went out (idle may not have). */
  replied: boolean;
  /** The watchdog saw it settled and not ended once already. */
  seenSettled?: boolean;
  /** In the synchronous part of its work (which cannot span two tasks: if a task boundary sees this, a terminate cut it). */
  working?: boolean;
  seenWorking?: boolean;
  finished: boolean;
  /** Send the request's last messages (given), then idle; only the first call does anything. */
  end: (last: () => void) => void;
  /** End it with this error (an interrupt cut off the code that would have ended it). */
  lost: (e: Error) => void;
}

/** The execute_request being run. */
interface RunningCell {
  msg: Message;
  failed: boolean;
  entry: InFlight;
  /** When the watchdog first saw it finished without the queue moving on. */
  finishedCheck: number;
  after: boolean;
}

interface PendingInput {
  resolve: (v: string) => void;
  reject: (e: unknown) => void;
}

const HISTORY_SESSION = 1;
/**
 * How long after the protocol thread binds its sockets the main thread waits for the first
 * kernel_info_request before it loads the compiler, tf and d2l anyway (a client that never asks).
 */
const FIRST_CONTACT_WAIT_MS = 300;

/**
 * Cells the kernel compiles (never runs) while idle after the prelude, one per
 * task, so that the user's first cell is not the one that warms the compiler
 * up (Executor.warmUp): an expression, declarations (tslab compiles a cell that
 * declares names twice), a loop, and calls into tf and d2l.
 */
/** How long the kernel must have been idle before it compiles the next warm-up cell. */
const WARM_UP_IDLE_MS = 250;
const WARM_UP_CELLS = [
  "1 + 1",
  "const warm = tf.tensor([1, 2, 3]);\nwarm.sum()",
  "let n = 1;\nfor (let i = 0; i < 3; i++) n *= 2;\nn",
  "function twice(x: number): number {\n  return 2 * x;\n}\ntwice(d2l.seed.length)",
  "1 + 2",
];

/** How long the kernel must have been idle before it prepares the next cell's compile (the speculative checker). */
const PREPARE_IDLE_MS = 20;
/** The speculative checker waits while V8's heap is fuller than this share of its limit. */
const PREPARE_HEAP_SHARE = 0.5;

/** The cell compiler's module, loaded on first use (kernel/compiler.ts loads TypeScript lazily too). */
function compilerModule(): typeof import("./compiler") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("./compiler") as typeof import("./compiler");
}
/** Cells run with store_history false are named from here on, so stacks never confuse them with In[n]. */
const UNSTORED_CELL_BASE = 1_000_000;

function log(text: string): void {
  realStderr(`[d2l-ts kernel] ${text}\n`);
}
const realStderr = process.stderr.write.bind(process.stderr) as (s: string) => boolean;

/** Convert a Jupyter cursor position (unicode code points) to a JS string index. */
export function codePointsToIndex(s: string, cp: number): number {
  let i = 0;
  for (let n = 0; n < cp && i < s.length; n++) i += (s.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
  return i;
}
/** Convert a JS string index to unicode code points. */
export function indexToCodePoints(s: string, idx: number): number {
  return Array.from(s.slice(0, idx)).length;
}

/**
 * A quick-info signature as a reader wants it: an import or re-export (every
 * d2l.* name) reads "(alias) f(...): R\nexport f"; keep "f(...): R".
 */
export function cleanSignature(sig: string): string {
  if (!sig.startsWith("(alias) ")) return sig;
  return sig
    .slice("(alias) ".length)
    .split("\n")
    .filter((line) => !/^(export|import) [\w$.]+$/.test(line))
    .join("\n");
}

export interface SessionOptions {
  connection: ConnectionInfo;
  /** Directory cells resolve relative imports from (the notebook's). */
  cwd: string;
  /** Memory limit (kernel/memory.ts); default: D2L_MEMORY_LIMIT, else 3/4 of the machine's memory. */
  memoryLimit?: MemoryLimit;
}

export class Session {
  private worker!: Worker;
  private readonly shared = new Int32Array(new SharedArrayBuffer(16));
  /** A synchronous prompt()'s state and answer, written by the protocol thread (see channels.ts). */
  private readonly promptMemory = new SharedArrayBuffer(PROMPT_DATA_OFFSET + PROMPT_CAPACITY);
  private executor!: Executor;
  private executionCount = 0;
  private unstoredCount = 0;
  private readonly history: HistoryEntry[] = [];
  private readonly queue: Message[] = [];
  private running = false;
  private readonly cellSources = new Map<number, string>();
  private readonly cellParents = new Map<number, { parent: Parent; idents: Buffer[]; allowStdin: boolean }>();
  private currentCell: number | undefined;
  private cellInterrupt: ((e: unknown) => void) | null = null;
  /** Kernel work in flight (guarded()): an interrupt rejects each, so its request still ends. */
  private readonly interruptWaiters = new Set<(e: unknown) => void>();
  /** Requests between busy and idle, and the cell that runs (see watch()). */
  private readonly inFlight = new Set<InFlight>();
  private runningCell: RunningCell | undefined;
  private watchedAck = 0;
  private watchedAckAt = 0;
  private unackedSince = 0;
  private watchedTerms = 0;
  private watchedTermsAt = 0;
  private pendingInputs: PendingInput[] = [];
  private pages: MimeBundle[] = [];
  private readonly ready: Promise<void>;
  private markReady!: () => void;
  /** Settles when the front end has its kernel_info_reply, sent a request, or FIRST_CONTACT_WAIT_MS passed after the bind. */
  private readonly contacted: Promise<void>;
  private markContacted!: () => void;

  constructor(private readonly opts: SessionOptions) {
    this.ready = new Promise((r) => (this.markReady = r));
    this.contacted = new Promise((r) => (this.markContacted = r));
  }

  /**
   * Start the protocol thread, then load the compiler and the prelude. The
   * protocol thread answers kernel_info by itself; the CPU-heavy loading here
   * (TypeScript, tfjs, d2l: about two seconds of one core) waits until that
   * first reply has gone out, so that the front end's start is not slowed by
   * it. Requests that arrive meanwhile wait for `ready`, in their order.
   */
  async start(): Promise<void> {
    const data: ProtocolData = {
      connection: this.opts.connection,
      kernelInfo: kernelInfo(),
      shared: this.shared.buffer as SharedArrayBuffer,
      prompt: this.promptMemory,
    };
    // stderr: true keeps the protocol thread's writes out of process.stderr, which a running cell captures.
    this.worker = new Worker(path.join(__dirname, "protocol.js"), { workerData: data, stderr: true });
    this.worker.stderr.on("data", (d: Buffer) => realStderr(d.toString("utf8")));
    this.worker.on("message", (m: FromProtocol) => this.onMessage(m));
    this.worker.on("error", (e) => {
      log(`protocol thread crashed: ${e.stack ?? e}`);
      process.exit(1);
    });
    this.worker.on("exit", () => process.exit(0));
    process.on("SIGINT", () => this.onInterrupt(Atomics.add(this.shared, SHARED_GENERATION, 1) + 1));
    this.captureStreams();
    installBridge({
      display: (out, id, update) => this.display(out, id, update),
      clearOutput: (wait) => this.iopub("clear_output", { wait }),
      input: (prompt, password) => this.input(prompt, password),
      inputSync: (prompt, password) => this.inputSync(prompt, password),
      broadcast: (msgType, content, metadata, buffers) => {
        const t = this.outputTarget();
        this.sendOutput(msgType, content, t ? t.parent : {}, metadata, buffers);
      },
      page: (bundle) => this.pages.push(bundle),
    });
    // Under the grader, the student's answers to the checks leave through this display even if a cell replaces it.
    if (process.env.D2L_GRADING === "1") keepAnswerChannel();
    installGlobals(); // prompt() and Deno.jupyter for cells
    await this.contacted;
    await new Promise((r) => setImmediate(r));
    this.critical(true);
    try {
      const { Executor } = await import("./executor");
      this.executor = new Executor(this.opts.cwd, () => Atomics.load(this.shared, SHARED_GENERATION));
      this.executor.onCompile = (busy) => this.critical(busy);
      const prelude = await this.executor.execute(preludeSource(), 0);
      if (prelude.status !== "ok") {
        log(`the prelude failed; tf and d2l are not loaded:\n${this.describe(prelude).traceback.join("\n")}`);
      }
    } finally {
      this.critical(false);
    }
    this.ownProcessErrors();
    this.watch();
    // Memory limit (kernel/memory.ts), armed once the prelude has loaded (never stopping the kernel's own start):
    // a cell over it is interrupted and ends with a MemoryError.
    this.memoryWatch = watchMemory({
      limit: this.opts.memoryLimit ?? resolveMemoryLimit(),
      shared: this.shared.buffer as SharedArrayBuffer,
      onOver: (generation, error) => this.onInterrupt(generation, error),
    });
    this.markReady();
    this.post({ kind: "ready" });
    this.warmUp([...WARM_UP_CELLS]);
    this.schedulePrepare();
  }

  private prepareTimer: NodeJS.Timeout | undefined;
  private memoryWatch: MemoryWatch | undefined;

  /**
   * The speculative checker (compiler.ts): once the kernel has been idle for
   * PREPARE_IDLE_MS, build the programs the next cell's compile needs, one per
   * timer tick, so that a request that comes meanwhile waits for one at most.
   * Not while V8's heap is fuller than PREPARE_HEAP_SHARE of its limit (after a
   * MemoryError, say), nor while the resident memory is above that share of the
   * kernel's memory limit: the next cell then compiles the ordinary way.
   */
  private schedulePrepare(delay = PREPARE_IDLE_MS): void {
    if (this.prepareTimer || !this.executor) return;
    this.prepareTimer = realSetTimeout(() => {
      this.prepareTimer = undefined;
      // A request in flight schedules this again when it ends.
      if (this.queue.length > 0 || this.running || this.runningCell !== undefined || this.inFlight.size > 0) return;
      if (Date.now() - this.lastActivity < PREPARE_IDLE_MS) {
        this.schedulePrepare();
        return;
      }
      const heap = v8.getHeapStatistics();
      if (heap.used_heap_size > PREPARE_HEAP_SHARE * heap.heap_size_limit) return;
      // nor while the kernel holds more than that share of its memory limit (a class hub's small container)
      if (this.memoryWatch && process.memoryUsage.rss() > PREPARE_HEAP_SHARE * this.memoryWatch.limit.bytes) return;
      let done: boolean;
      try {
        done = this.executor.prepareNext();
      } catch (e) {
        log(`preparing the next cell's compile failed (cells are not affected): ${(e as Error).stack ?? e}`);
        return;
      }
      if (!done) this.schedulePrepare(0);
    }, delay);
    this.prepareTimer.unref();
  }

  /**
   * Compile the warm-up cells, one per task, once the kernel has been idle for
   * WARM_UP_IDLE_MS (a client that sends cells back to back is not made to wait
   * for them). A request that arrives during one waits at most for that one
   * compile. Compiling is critical (no interrupt terminates it). It stops for good
   * at the first execute_request: only the first cell gains from it.
   */
  private warmUp(cells: string[], delay = WARM_UP_IDLE_MS): void {
    if (cells.length === 0 || this.cellsAsked) return;
    realSetTimeout(() => {
      // Only the first cell gains (it would warm V8 and the checker up); after it, a compile while idle is
      // only a risk: with the heap nearly full after a MemoryError, compiling can exhaust V8's heap.
      if (this.cellsAsked) return;
      const busy = this.queue.length > 0 || this.running || this.runningCell !== undefined || this.inFlight.size > 0;
      if (busy || Date.now() - this.lastActivity < WARM_UP_IDLE_MS) {
        this.warmUp(cells);
        return;
      }
      try {
        this.executor.warmUp(cells.shift() as string);
      } catch (e) {
        log(`warming the compiler up failed (cells are not affected): ${(e as Error).stack ?? e}`);
        return;
      }
      this.warmUp(cells, 0);
    }, delay).unref();
  }

  /** True once an execute_request has come: the warm-up stops. */
  private cellsAsked = false;

  /** When a request last arrived or ended (Date.now()): the warm-up waits for the kernel to be idle. */
  private lastActivity = 0;

  private readonly onUncaught = (e: unknown): void => this.reportBackground(e, "uncaught exception");
  private readonly onUnhandled = (e: unknown): void => this.reportBackground(e, "unhandled promise rejection");

  /**
   * Errors in background work (a timer, a promise nobody awaits) are shown in
   * the cell they came from and never end the kernel. Emscripten modules
   * (the wasm backend) install handlers that rethrow, which would kill the
   * process; they are removed, here and after every cell.
   */
  private ownProcessErrors(): void {
    for (const l of process.listeners("uncaughtException")) if (l !== this.onUncaught) process.removeListener("uncaughtException", l);
    for (const l of process.listeners("unhandledRejection")) if (l !== this.onUnhandled) process.removeListener("unhandledRejection", l);
    if (!process.listeners("uncaughtException").includes(this.onUncaught)) process.on("uncaughtException", this.onUncaught);
    if (!process.listeners("unhandledRejection").includes(this.onUnhandled)) process.on("unhandledRejection", this.onUnhandled);
  }

  private reportBackground(e: unknown, what: string): void {
    if (e instanceof InterruptedError) return; // the expected end of interrupted work
    const err = this.describe({ status: "runtime-error", error: e });
    const text = `${what} in background work: ${err.traceback.join("\n")}\n`;
    const t = this.outputTarget();
    if (t) this.send("iopub", [], "stream", { name: "stderr", text }, t.parent);
    else log(text);
  }

  private critical(on: boolean): void {
    Atomics.store(this.shared, SHARED_CRITICAL, on ? 1 : 0);
  }

  private post(m: ToProtocol): void {
    this.worker.postMessage(m);
  }

  private send(channel: Channel, idents: Buffer[], msgType: string, content: Record<string, unknown>, parent: Parent, metadata?: Record<string, unknown>): void {
    this.post({ kind: "send", channel, idents, msgType, content, parent, metadata });
  }

  /**
   * The request output belongs to: the running cell's, or after it ended
   * (background work, a display handle updated later) the last cell's.
   */
  private outputTarget(): { parent: Parent; idents: Buffer[]; allowStdin: boolean } | undefined {
    const cell = this.currentCell ?? this.lastCell;
    return cell === undefined ? undefined : this.cellParents.get(cell);
  }
  private lastCell: number | undefined;
  private unknownCount = 0;

  private iopub(msgType: string, content: Record<string, unknown>): void {
    const t = this.outputTarget();
    this.sendOutput(msgType, content, t ? t.parent : {});
  }

  /**
   * Outputs that wait for an asynchronous read (display() of a tensor on the
   * GPU, a figure whose values are there), and every output sent after one of
   * them, chained in the order the cell made them. A cell's reply waits for
   * the chain (outputsSent, in runForReply).
   */
  private outputChain: Promise<void> = Promise.resolve();
  private outputsQueued = 0;

  /** Send an IOPub output now, or after the outputs still queued before it (their order is the cell's). */
  private sendOutput(msgType: string, content: Record<string, unknown>, parent: Parent, metadata?: Record<string, unknown>, buffers?: Uint8Array[]): void {
    const send = (): void => {
      if (buffers) this.post({ kind: "send", channel: "iopub", idents: [], msgType, content, parent, metadata, buffers });
      else this.send("iopub", [], msgType, content, parent, metadata);
    };
    if (this.outputsQueued === 0) send();
    else this.queueOutput(send);
  }

  private queueOutput(work: () => void | Promise<void>): void {
    this.outputsQueued++;
    this.outputChain = this.outputChain
      .then(work)
      .catch((e: unknown) => log(`a queued output failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        this.outputsQueued--;
      });
  }

  /** Settles once every queued output is sent. */
  private async outputsSent(): Promise<void> {
    while (this.outputsQueued > 0) await this.outputChain;
  }

  /** display_data (or update_display_data): at once, or, for an output still being read, in its turn once read. */
  private display(out: DisplayOutput | Promise<DisplayOutput>, displayId: string | undefined, update: boolean): void {
    const t = this.outputTarget();
    const parent = t ? t.parent : {};
    const msgType = update ? "update_display_data" : "display_data";
    const content = (o: DisplayOutput): Record<string, unknown> => ({ data: o.data, metadata: o.metadata, transient: displayId ? { display_id: displayId } : {} });
    if (!(out instanceof Promise)) {
      this.sendOutput(msgType, content(out), parent);
      return;
    }
    out.catch(() => undefined); // handled in its turn below, not as an unhandled rejection now
    this.queueOutput(async () => {
      try {
        this.send("iopub", [], msgType, content(await out), parent);
      } catch (e) {
        const text = `display(): could not show the value: ${e instanceof Error ? e.message : String(e)}\n`;
        this.send("iopub", [], "stream", { name: "stderr", text }, parent);
      }
    });
  }

  private captureStreams(): void {
    for (const name of ["stdout", "stderr"] as const) {
      const stream = process[name];
      const original = stream.write.bind(stream);
      stream.write = ((chunk: unknown, enc?: unknown, cb?: unknown): boolean => {
        const t = this.outputTarget();
        if (!t) return original(chunk as string, enc as BufferEncoding, cb as () => void);
        const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof enc === "string" ? (enc as BufferEncoding) : "utf8");
        this.sendOutput("stream", { name, text }, t.parent);
        const done = typeof enc === "function" ? enc : cb;
        if (typeof done === "function") queueMicrotask(() => (done as () => void)());
        return true;
      }) as typeof stream.write;
    }
  }

  private input(prompt: string, password: boolean): Promise<string> {
    const t = this.outputTarget();
    if (!t || !t.allowStdin) {
      return Promise.reject(
        new Error(
          "input() is not available: this front end does not accept input (allow_stdin is false). Run the notebook in Jupyter to answer prompts, or pass the value in code.",
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.pendingInputs.push({ resolve, reject });
      this.send("stdin", t.idents, "input_request", { prompt, password }, t.parent);
    });
  }

  /**
   * The synchronous prompt(): send input_request, then block in Atomics.wait
   * until the protocol thread writes the input_reply into shared memory. It
   * wakes every 50 ms to notice an interrupt (acknowledged here, so the
   * protocol thread never has to terminate the wait).
   */
  private inputSync(prompt: string, password: boolean): string {
    const t = this.outputTarget();
    if (!t || !t.allowStdin) {
      throw new Error(
        "prompt() is not available: this front end does not accept input (allow_stdin is false). Run the notebook in Jupyter to answer prompts, or pass the value in code.",
      );
    }
    const state = new Int32Array(this.promptMemory, 0, 2);
    const generation = Atomics.load(this.shared, SHARED_GENERATION);
    Atomics.store(state, PROMPT_STATE, PROMPT_WAITING);
    try {
      this.send("stdin", t.idents, "input_request", { prompt, password }, t.parent);
      for (;;) {
        Atomics.wait(state, PROMPT_STATE, PROMPT_WAITING, 50);
        const s = Atomics.load(state, PROMPT_STATE);
        if (s === PROMPT_ANSWERED) {
          const bytes = new Uint8Array(this.promptMemory, PROMPT_DATA_OFFSET, Atomics.load(state, PROMPT_LENGTH));
          return Buffer.from(bytes).toString("utf8");
        }
        if (s === PROMPT_TOO_LONG) throw new Error(`the answer to prompt() is longer than ${PROMPT_CAPACITY} bytes`);
        if (s === PROMPT_INVALID) {
          const why = Buffer.from(new Uint8Array(this.promptMemory, PROMPT_DATA_OFFSET, Atomics.load(state, PROMPT_LENGTH))).toString("utf8");
          throw new Error(`prompt() got a malformed input_reply from the front end: ${why}`);
        }
        if (s === PROMPT_CANCELLED) throw new InterruptedError("The kernel is shutting down; prompt() got no answer");
        const now = Atomics.load(this.shared, SHARED_GENERATION);
        if (now !== generation) {
          Atomics.store(this.shared, SHARED_ACK, Math.max(now, Atomics.load(this.shared, SHARED_ACK)));
          throw new InterruptedError("Interrupted by the user (the kernel keeps its state; run the cell again to resume)");
        }
      }
    } finally {
      Atomics.store(state, PROMPT_STATE, PROMPT_IDLE);
    }
  }

  private onMessage(m: FromProtocol): void {
    switch (m.kind) {
      case "request":
        this.markContacted();
        this.lastActivity = Date.now();
        if (m.resend && this.started.has(m.msg.header.msg_id)) break;
        void this.onRequest(m.channel, m.msg).catch((e) => log(`failed on ${m.msg.header.msg_type}: ${(e as Error).stack ?? e}`));
        break;
      case "stdin": {
        if (m.msg.header.msg_type !== "input_reply") break;
        const p = this.pendingInputs.shift();
        const value = m.msg.content.value;
        // protocol.ts checked it: a malformed reply ends the waiting input() with that error, never silently.
        if (m.msg.problem || typeof value !== "string")
          p?.reject(new Error(`input() got a malformed input_reply from the front end: ${m.msg.problem?.evalue ?? "value must be a string"}`));
        else p?.resolve(value);
        break;
      }
      case "interrupt":
        this.onInterrupt(m.generation);
        break;
      case "shutdown":
        this.shutdown();
        break;
      case "listening":
        realSetTimeout(() => this.markContacted(), FIRST_CONTACT_WAIT_MS);
        break;
      case "contact":
        this.markContacted();
        break;
    }
  }

  /** The last stop that came with its own error (the memory watchdog's MemoryError), by generation. */
  private lastStop: { generation: number; error: Error } | null = null;

  private onInterrupt(generation: number, error?: Error): void {
    // Acknowledge first: the protocol thread stops waiting for the main thread.
    Atomics.store(this.shared, SHARED_ACK, Math.max(generation, Atomics.load(this.shared, SHARED_ACK)));
    if (error) this.lastStop = { generation, error };
    this.executor?.interrupt();
    const r = this.cellInterrupt;
    this.cellInterrupt = null;
    r?.(error ?? new InterruptedError("Interrupted by the user (the kernel keeps its state; run the cell again to resume)"));
    if (error && !r) log(error.message); // memory limit: no cell was running
    for (const p of this.pendingInputs.splice(0)) p.reject(new InterruptedError("Interrupted by the user (the kernel keeps its state; run the cell again to resume)"));
    const waiters = [...this.interruptWaiters];
    this.interruptWaiters.clear();
    for (const w of waiters) w(error ?? new InterruptedError("Interrupted by the user (the kernel keeps its state; run the cell again to resume)"));
  }

  /**
   * Run kernel work (a cell and what follows it, a completion, is_complete)
   * so that an interrupt always ends the request: the work starts in its own
   * microtask, raced against the next interrupt. If the protocol thread has to
   * terminate a synchronous loop in it (a user_expressions entry, a display
   * method, a huge is_complete), that microtask dies with everything it would
   * have done, and this promise still rejects with the interrupt, so the caller
   * sends a reply and idle. Whatever the dead work would have sent is lost,
   * never sent late: callers send only after this settles.
   */
  private guarded<T>(entry: InFlight, work: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // entry.settled is set in the same task as the outcome, never in a later microtask that a terminate could drop.
      const stop = (e: unknown): void => {
        entry.settled = true;
        reject(e);
      };
      this.interruptWaiters.add(stop);
      const settle = (ok: boolean, v: unknown): void => {
        this.interruptWaiters.delete(stop);
        entry.settled = true;
        if (ok) resolve(v as T);
        else reject(v);
      };
      queueMicrotask(() => {
        try {
          entry.working = true;
          const r = work();
          entry.working = false;
          if (r instanceof Promise)
            r.then(
              (v) => settle(true, v),
              (e) => settle(false, e),
            );
          else settle(true, r);
        } catch (e) {
          entry.working = false;
          settle(false, e);
        }
      });
    });
  }

  private shutdown(): void {
    this.post({ kind: "exit" });
    setTimeout(() => process.exit(0), 2000).unref();
  }

  /**
   * Note a request from its busy to its idle. `end` sends its last messages
   * and idle, once: from its own code, or from the watchdog when an interrupt
   * cut that code off (see watch()).
   */
  private track(msg: Message, onLost: (e: Error) => void): InFlight {
    const entry: InFlight = {
      since: Atomics.load(this.shared, SHARED_GENERATION),
      terms: Atomics.load(this.shared, SHARED_TERMINATIONS),
      settled: false,
      replied: false,
      finished: false,
      // A terminate skips finally blocks: the flags say how far an ending got, so the
      // watchdog's second try sends what is missing (a late reply may repeat an output; none is lost).
      end: (last) => {
        if (entry.finished) return;
        if (!entry.replied) {
          last();
          entry.replied = true;
        }
        this.send("iopub", [], "status", { execution_state: "idle" }, msg.header);
        this.lastActivity = Date.now();
        entry.finished = true;
        this.inFlight.delete(entry);
        this.schedulePrepare();
      },
      lost: (e) => entry.end(() => onLost(e)),
    };
    this.inFlight.add(entry);
    return entry;
  }

  /**
   * The watchdog (every 200 ms, on Node's own timers, which cells cannot
   * cancel). Terminating a synchronous loop drops every microtask V8 had
   * queued, and the protocol thread's terminate may land after the loop it was
   * meant for has ended, in the kernel's own code. So a request may lose the
   * continuation that would have sent its reply, and the interrupt message
   * itself may die before it is acknowledged. Here: an interrupt nobody
   * acknowledged is handled; a request that started before an acknowledged
   * interrupt and is still open a tick later ends with the interrupt as its
   * error; a cell queue whose loop was cut off goes on.
   */
  private watch(): void {
    realSetTimeout(() => this.watch(), 200).unref(); // armed first: a check cut short still runs again
    // An interrupt (or the memory watchdog's stop) left unacknowledged for a second: its message died with a terminated task.
    const generation = Atomics.load(this.shared, SHARED_GENERATION);
    if (Atomics.load(this.shared, SHARED_ACK) >= generation) this.unackedSince = 0;
    else if (this.unackedSince === 0) this.unackedSince = Date.now();
    else if (Date.now() - this.unackedSince > 1000) this.onInterrupt(generation);
    const ack = Atomics.load(this.shared, SHARED_ACK);
    const now = Date.now();
    if (ack !== this.watchedAck) {
      this.watchedAck = ack;
      this.watchedAckAt = now;
    }
    const terms = Atomics.load(this.shared, SHARED_TERMINATIONS);
    if (terms !== this.watchedTerms) {
      this.watchedTerms = terms;
      this.watchedTermsAt = now;
    }
    // The error a request cut off this way ends with: the memory watchdog's own (a MemoryError) when its stop is
    // the last one acknowledged since the request began (its handler may have found no cell to hand it to: the
    // terminate had dropped the cell's continuations), else the user's interrupt.
    const interrupted = (e: InFlight): Error => {
      const stop = this.lastStop;
      if (stop && stop.generation > e.since && stop.generation >= ack) return stop.error;
      return new InterruptedError("Interrupted by the user (the kernel keeps its state; run the cell again to resume)");
    };
    for (const e of [...this.inFlight]) {
      // Settled but not ended at a task boundary: the microtask that would end it was dropped.
      if (e.settled && e.seenSettled) e.lost(interrupted(e));
      else if (e.settled) e.seenSettled = true;
      // Its synchronous work (is_complete, a completion) was cut off by a terminate meant for an earlier loop.
      else if (e.working && e.seenWorking) e.lost(interrupted(e));
      else if (e.working) e.seenWorking = true;
      // Begun before an interrupt that was acknowledged a while ago, or before a terminate was asked for.
      else if (now - this.watchedAckAt >= 300 && e.since < ack) e.lost(interrupted(e));
      else if (now - this.watchedTermsAt >= 500 && e.terms < terms) e.lost(interrupted(e));
    }
    if (now - this.watchedAckAt < 300) return;
    const cell = this.runningCell;
    if (cell && cell.entry.finished && now - cell.finishedCheck > 300) this.afterCell(cell);
    else if (cell && cell.entry.finished) cell.finishedCheck = Math.min(cell.finishedCheck, now);
    else if (!cell && this.queue.length > 0 && !this.running) this.pump();
  }

  /** Requests this thread started (queued or busy), by msg_id: a resent one is taken only if it is not here. */
  private readonly started = new Set<string>();
  private markStarted(msg: Message): void {
    this.started.add(msg.header.msg_id);
    if (this.started.size > 10_000) this.started.delete(this.started.values().next().value as string);
  }

  private async onRequest(channel: "shell" | "control", msg: Message): Promise<void> {
    const type = msg.header.msg_type;
    if (type === "execute_request") {
      this.markStarted(msg);
      this.queue.push(msg);
      await this.ready;
      this.pump();
      return;
    }
    await this.ready;
    const reply = (t: string, content: Record<string, unknown>): void => this.send(channel, msg.idents, t, content, msg.header);
    const replyError = (e: unknown): void => {
      const err = e instanceof Error ? e : new Error(String(e));
      reply(type.replace(/_request$/, "_reply"), { status: "error", ename: err.name, evalue: err.message, traceback: [] });
    };
    this.markStarted(msg);
    this.send("iopub", [], "status", { execution_state: "busy" }, msg.header);
    const entry = this.track(msg, replyError);
    try {
      // protocol.ts checked the content against the spec (messages.ts): the fields have their types.
      const c = msg.content;
      const answer = await this.guarded(entry, (): [string, Record<string, unknown>] | null => {
        switch (type) {
          case "is_complete_request":
            return ["is_complete_reply", compilerModule().codeCompleteness(c.code as string)];
          case "complete_request":
            return ["complete_reply", this.complete(c.code as string, c.cursor_pos as number)];
          case "inspect_request":
            return ["inspect_reply", this.inspect(c.code as string, c.cursor_pos as number, (c.detail_level as number | undefined) ?? 0)];
          case "history_request":
            return ["history_reply", this.historyReply(c)];
          default:
            return null;
        }
      });
      entry.end(() => {
        if (answer) reply(...answer);
        else if (++this.unknownCount <= 10 || this.unknownCount % 1000 === 0) log(`unknown message type ${JSON.stringify(type)} ignored (${this.unknownCount} so far)`);
      });
    } catch (e) {
      entry.end(() => replyError(e));
    }
  }

  /**
   * Run the next queued cell unless one runs. Each cell's end calls
   * afterCell(), which starts the next; the watchdog does it if an interrupt
   * cut that call off.
   */
  private pump(): void {
    if (this.running || this.runningCell) return;
    const msg = this.queue.shift();
    if (!msg) return;
    this.running = true;
    const cell: RunningCell = { msg, failed: false, entry: undefined as unknown as InFlight, finishedCheck: Infinity, after: false };
    this.runningCell = cell;
    void this.execute(msg, cell).then(
      () => this.afterCell(cell),
      (e) => {
        log(`a cell's request failed in the kernel: ${(e as Error).stack ?? e}`);
        this.afterCell(cell);
      },
    );
  }

  /** A cell ended: abort the queue if it failed (and stop_on_error holds), then run the next. Once per cell. */
  private afterCell(cell: RunningCell): void {
    if (cell.after) return;
    cell.after = true;
    if (this.runningCell === cell) this.runningCell = undefined;
    this.running = false;
    if (cell.failed && cell.msg.content.stop_on_error !== false) {
      for (const aborted of this.queue.splice(0)) this.abort(aborted);
    }
    this.pump();
  }

  private abort(msg: Message): void {
    this.send("iopub", [], "status", { execution_state: "busy" }, msg.header);
    this.send("shell", msg.idents, "execute_reply", { status: "aborted", execution_count: this.executionCount }, msg.header);
    this.send("iopub", [], "status", { execution_state: "idle" }, msg.header);
  }

  /** Run one execute_request; cell.failed says whether it failed. */
  private async execute(msg: Message, running: RunningCell): Promise<void> {
    const c = msg.content;
    const parent = msg.header;
    if (msg.problem) {
      // Malformed (protocol.ts said why): an error reply in its turn, nothing run, nothing counted.
      running.entry = { since: 0, terms: 0, settled: true, replied: true, finished: true, end: () => undefined, lost: () => undefined };
      this.refuseExecute(msg, msg.problem);
      return;
    }
    const code = c.code as string;
    this.cellsAsked = true;
    const silent = c.silent === true;
    const storeHistory = c.store_history === undefined ? !silent : c.store_history === true;
    this.send("iopub", [], "status", { execution_state: "busy" }, parent);
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    const cell = storeHistory ? count : UNSTORED_CELL_BASE + ++this.unstoredCount;
    this.cellParents.set(cell, { parent, idents: msg.idents, allowStdin: c.allow_stdin !== false });
    this.cellSources.set(cell, code);
    this.pruneParents();
    if (!silent) this.send("iopub", [], "execute_input", { code, execution_count: count }, parent);
    this.pages = [];
    this.currentCell = cell;
    const content: Record<string, unknown> = { execution_count: count };
    /** The end of the request: history, reply (idle follows from end()). */
    const finish = (output: string | null): void => {
      if (this.currentCell === cell) this.currentCell = undefined;
      this.lastCell = cell;
      this.ownProcessErrors();
      if (storeHistory) this.history.push({ line: count, input: code, output });
      this.send("shell", msg.idents, "execute_reply", content, parent);
    };
    const fail = (err: { ename: string; evalue: string; traceback: string[] }): void => {
      if (!silent) this.send("iopub", [], "error", err, parent);
      Object.assign(content, { status: "error", ...err });
      running.failed = true;
    };
    const entry = this.track(msg, (e) => {
      fail(this.describe({ status: "runtime-error", error: e }));
      finish(null);
    });
    running.entry = entry;
    try {
      // Everything that runs user code (the cell, its value's display methods, user_expressions)
      // is guarded: an interrupt ends this request even where it lands in kernel code.
      const done = await this.guarded(entry, () => this.runForReply(msg, code, cell, silent));
      entry.end(() => {
        let output: string | null = null;
        if (done.status === "ok") {
          if (done.value) {
            output = String(done.value.data["text/plain"] ?? "");
            this.send("iopub", [], "execute_result", { execution_count: count, data: done.value.data, metadata: done.value.metadata }, parent);
          }
          Object.assign(content, { status: "ok", payload: this.pages.map((data) => ({ source: "page", data, start: 0 })), user_expressions: done.userExpressions });
        } else fail(done.error);
        finish(output);
      });
    } catch (e) {
      entry.lost(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** A malformed execute_request's answer: busy, an error reply with the execution count, idle. */
  private refuseExecute(msg: Message, problem: RequestProblem): void {
    const error = { ename: problem.ename, evalue: problem.evalue, traceback: [`${problem.ename}: ${problem.evalue}`] };
    this.send("iopub", [], "status", { execution_state: "busy" }, msg.header);
    this.send("shell", msg.idents, "execute_reply", { status: "error", execution_count: this.executionCount, ...error }, msg.header);
    this.send("iopub", [], "status", { execution_state: "idle" }, msg.header);
  }

  /**
   * The part of an execute_request that runs user code: the cell, the display
   * of its value (a Symbol.for("Jupyter.display") method is user code) and the
   * user_expressions. It sends nothing; execute() does, once this settles.
   */
  private async runForReply(msg: Message, code: string, cell: number, silent: boolean): Promise<CellReply> {
    const reply = await this.runAndShow(msg, code, cell, silent);
    // Displays of GPU tensors and pending figures are read asynchronously: they go out before the result and the reply.
    await this.outputsSent();
    return reply;
  }

  /** runForReply's work: the cell, its value's display and the user_expressions. */
  private async runAndShow(msg: Message, code: string, cell: number, silent: boolean): Promise<CellReply> {
    // In a check kernel the grader sends each answer cell (the instructor's version) to be declared,
    // not run: its names then read the submission's values from the student's kernel (remote.ts).
    // A declare-only request never runs its code, in a check kernel or not (it fails where there is no grader's pipe).
    const declareOnly = msg.metadata?.d2l_declare_remote === true;
    const result = declareOnly ? this.declareRemote(code) : await this.runCell(code, cell);
    if (result.status !== "ok") return { status: "error", error: this.describe(result) };
    let value: DisplayOutput | undefined;
    if (result.hasValue && !silent) {
      try {
        value = await toDisplayAsync(result.value);
      } catch (e) {
        return { status: "error", error: this.describe({ status: "runtime-error", error: e }) };
      }
    }
    return { status: "ok", value, userExpressions: await this.userExpressions(msg.content.user_expressions) };
  }

  private pruneParents(): void {
    // Keep the last 1000 cells' parents: background work of older cells writes to the log.
    if (this.cellParents.size > 1000) {
      const first = this.cellParents.keys().next().value;
      if (first !== undefined) {
        this.cellParents.delete(first);
        this.cellSources.delete(first);
      }
    }
  }

  /**
   * Run a cell so that an interrupt always ends it: the cell is started in its
   * own microtask; if the protocol thread has to terminate a synchronous loop,
   * that microtask dies, and the interrupt promise still settles the race.
   */
  private declareRemote(code: string): CellResult {
    if (!isCheckKernel()) {
      return { status: "runtime-error", error: new Error("declare-only cells are for the grader's check kernel (D2L_CHECK_RPC_FD is not set); nothing was run") };
    }
    const r = this.executor.declareOnly(code);
    if (r.status !== "ok") return r;
    bindToSubmission(this.executor.locals, r.names);
    return { status: "ok", hasValue: false };
  }

  private runCell(code: string, cell: number): Promise<CellResult> {
    const interrupted = new Promise<CellResult>((resolve) => {
      this.cellInterrupt = (e) => resolve({ status: "runtime-error", error: e });
    });
    const run = new Promise<CellResult>((resolve, reject) => {
      queueMicrotask(() => {
        this.executor.execute(code, cell).then(resolve, reject);
      });
    });
    return Promise.race([run, interrupted]).finally(() => {
      this.cellInterrupt = null;
    });
  }

  /** ename, evalue and a traceback in the cell's own coordinates. */
  describe(result: Exclude<CellResult, { status: "ok" }>): { ename: string; evalue: string; traceback: string[] } {
    if (result.status === "compile-error") return describeDiagnostics(result.diagnostics, result.code);
    const e = result.error;
    if (e instanceof Error) {
      const ename = e.name || "Error";
      const evalue = e.message;
      if (e instanceof InterruptedError) return { ename, evalue, traceback: [`${ename}: ${evalue}`] };
      const frames = e.stack ? this.executor.mapStack(e.stack) : [];
      const tb = [`\x1b[31m${ename}\x1b[0m: ${evalue}`, ...frames];
      const where = e.stack ? this.executor.firstCellFrame(e.stack) : null;
      if (where) {
        const line = this.cellSources.get(where.cell)?.split("\n")[where.line - 1];
        if (line !== undefined)
          tb.push("", `  ${where.line} | ${line}`, `  ${" ".repeat(String(where.line).length)} | ${" ".repeat(Math.max(0, where.column - 1))}\x1b[31m^\x1b[0m`);
      }
      return { ename, evalue, traceback: tb };
    }
    const text = util.inspect(e);
    return { ename: "Uncaught", evalue: text, traceback: [`Uncaught ${text}`] };
  }

  private async userExpressions(raw: unknown): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    if (!raw || typeof raw !== "object") return out;
    for (const [name, expr] of Object.entries(raw as Record<string, unknown>)) {
      const r = await this.executor.execute(String(expr), UNSTORED_CELL_BASE + ++this.unstoredCount);
      if (r.status === "ok") {
        const d = r.hasValue ? await toDisplayAsync(r.value) : { data: { "text/plain": "undefined" }, metadata: {} };
        out[name] = { status: "ok", data: d.data, metadata: d.metadata };
      } else {
        out[name] = { status: "error", ...this.describe(r) };
      }
    }
    return out;
  }

  private complete(code: string, cursorPos: number): Record<string, unknown> {
    const pos = codePointsToIndex(code, cursorPos);
    this.critical(true);
    try {
      const r = this.executor.converter.complete(this.executor.declarations, code, pos);
      const start = indexToCodePoints(code, r.start);
      const end = indexToCodePoints(code, r.end);
      return {
        status: "ok",
        matches: r.candidates,
        cursor_start: start,
        cursor_end: end,
        // JupyterLab reads this parallel to `matches` (IPython's shape): the type labels each item.
        metadata: { _jupyter_types_experimental: r.candidates.map((text, i) => ({ start, end, text, type: r.kinds[i] })) },
      };
    } finally {
      this.critical(false);
    }
  }

  /**
   * Contextual help (JupyterLab asks on every cursor move, and for each highlighted
   * completion): the signature and TSDoc of the name at the cursor. detail_level 0
   * is short, the signature and the doc's first paragraph; 1 adds the rest and the tags.
   */
  private inspect(code: string, cursorPos: number, detailLevel = 0): Record<string, unknown> {
    let pos = codePointsToIndex(code, cursorPos);
    this.critical(true);
    try {
      // Jupyter sends the cursor after the name (e.g. at the end of "d2l");
      // TypeScript wants a position inside it.
      let info = this.executor.converter.inspect(this.executor.declarations, code, pos);
      if (!info && pos > 0) info = this.executor.converter.inspect(this.executor.declarations, code, --pos);
      if (!info) return { status: "ok", found: false, data: {}, metadata: {} };
      const ts = compilerModule().typescript();
      const signature = cleanSignature(ts.displayPartsToString(info.displayParts ?? []));
      const fullDoc = ts.displayPartsToString(info.documentation ?? []);
      const doc = detailLevel > 0 ? fullDoc : fullDoc.split(/\n\s*\n/)[0].trim();
      const tags = detailLevel > 0 ? (info.tags ?? []).map((t) => `@${t.name} ${ts.displayPartsToString(t.text ?? [])}`).join("\n") : "";
      const text = [signature, doc, tags].filter((s) => s).join("\n\n");
      const md = ["```typescript", signature, "```", doc, tags ? "```\n" + tags + "\n```" : ""].filter((s) => s).join("\n");
      return { status: "ok", found: true, data: { "text/plain": text, "text/markdown": md }, metadata: {} };
    } finally {
      this.critical(false);
    }
  }

  private historyReply(c: Record<string, unknown>): Record<string, unknown> {
    const output = c.output === true;
    const fmt = (h: HistoryEntry): unknown[] => [HISTORY_SESSION, h.line, output ? [h.input, h.output] : h.input];
    const type = String(c.hist_access_type ?? "tail");
    let rows: HistoryEntry[] = [];
    if (type === "tail") {
      const n = Number(c.n ?? 10);
      rows = n > 0 ? this.history.slice(-n) : [];
    } else if (type === "range") {
      const session = Number(c.session ?? 0);
      if (session === HISTORY_SESSION || session <= 0) {
        const start = Number(c.start ?? 1);
        const stop = c.stop == null ? Infinity : Number(c.stop);
        rows = this.history.filter((h) => h.line >= start && h.line < stop);
      }
    } else if (type === "search") {
      const pattern = typeof c.pattern === "string" ? c.pattern : "*";
      rows = this.history.filter((h) => globMatch(pattern, h.input));
      if (c.unique === true) {
        const seen = new Set<string>();
        rows = rows
          .reverse()
          .filter((h) => (seen.has(h.input) ? false : (seen.add(h.input), true)))
          .reverse();
      }
      const n = c.n == null ? 0 : Number(c.n);
      if (n > 0) rows = rows.slice(-n);
    } else {
      return { status: "error", ename: "ValueError", evalue: `unknown hist_access_type ${type}; expected tail, range or search`, traceback: [], history: [] };
    }
    return { status: "ok", history: rows.map(fmt) };
  }
}

/**
 * IPython's history search pattern: a glob with `*` (any run of characters,
 * newlines included) and `?` (any one character), matched against the whole
 * input. Matched without regular expressions, by the greedy scan that returns
 * to the last `*` on a mismatch: at most pattern length × text length steps,
 * so a pattern like `"*".repeat(40) + "#"` cannot backtrack for ever.
 *
 * @example
 * globMatch("import*tf*", "import * as tf from '@tensorflow/tfjs'"); // true
 * globMatch("a?c", "abd"); // false
 */
export function globMatch(pattern: string, text: string): boolean {
  const p = Array.from(pattern);
  const t = Array.from(text);
  let pi = 0;
  let ti = 0;
  let star = -1; // index in p of the last * seen
  let mark = 0; // where in t that * started matching
  while (ti < t.length) {
    if (pi < p.length && p[pi] === "*") {
      // Runs of * are one *.
      while (pi < p.length && p[pi] === "*") pi++;
      star = pi;
      mark = ti;
    } else if (pi < p.length && (p[pi] === "?" || p[pi] === t[ti])) {
      pi++;
      ti++;
    } else if (star >= 0) {
      // Let the last * take one more character and try again from there.
      pi = star;
      ti = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length;
}

/** Compile errors as Jupyter errors: every diagnostic with its line, column and the code under it. */
export function describeDiagnostics(diags: CellDiagnostic[], code: string): { ename: string; evalue: string; traceback: string[] } {
  const lines = code.split("\n");
  const tb: string[] = [];
  let prev: CellDiagnostic | undefined;
  let excerpt = 0;
  for (const d of diags) {
    const line = d.start.line + 1;
    const col = d.start.character + 1;
    const sameSpot = prev !== undefined && prev.start.offset === d.start.offset && prev.end.offset === d.end.offset && prev.fileName === d.fileName;
    prev = d;
    if (sameSpot) {
      // The rest of a message chain: TypeScript's elaboration of the first line.
      tb.splice(tb.length - excerpt, 0, `    ${d.messageText}`);
      continue;
    }
    const where = d.fileName ? `${d.fileName} ` : "";
    tb.push(`\x1b[31merror\x1b[0m TS${d.code} at ${where}line ${line}, column ${col}: ${d.messageText}`);
    const src = lines[d.start.line];
    excerpt = 0;
    if (src !== undefined && !d.fileName) {
      excerpt = 2;
      const width = d.end.line === d.start.line ? Math.max(1, d.end.character - d.start.character) : Math.max(1, src.length - d.start.character);
      tb.push(`  ${line} | ${src}`, `  ${" ".repeat(String(line).length)} | ${" ".repeat(d.start.character)}\x1b[31m${"~".repeat(width)}\x1b[0m`);
    }
  }
  const first = diags[0];
  const evalue = first ? `line ${first.start.line + 1}, column ${first.start.character + 1}: ${first.messageText}` : "compile error";
  return { ename: "CompileError", evalue, traceback: tb };
}
