/**
 * The main thread of the kernel: runs cells in order, keeps the execution
 * count and the history, turns results and errors into messages, and
 * carries interrupts from the protocol thread to the running code.
 */
import * as path from "path";
import * as util from "util";
import { Worker } from "worker_threads";
import { Executor, CellResult, InterruptedError } from "./executor";
import { CellDiagnostic, codeCompleteness, typescript } from "./compiler";
import { toDisplay, MimeBundle, DisplayOutput } from "./display";
import { installBridge } from "./cellapi";
import { installGlobals } from "./globals";
import { ConnectionInfo, Header, Message } from "./wire";
import { FromProtocol, ProtocolData, SHARED_ACK, SHARED_CRITICAL, SHARED_GENERATION, ToProtocol, Channel } from "./channels";
import { PROMPT_ANSWERED, PROMPT_CANCELLED, PROMPT_CAPACITY, PROMPT_DATA_OFFSET, PROMPT_IDLE, PROMPT_LENGTH, PROMPT_STATE, PROMPT_TOO_LONG, PROMPT_WAITING } from "./channels";
import { kernelInfo } from "./info";
import { preludeSource } from "./prelude";
import { bindToSubmission, isCheckKernel, keepAnswerChannel } from "./remote";

type Parent = Header | Record<string, never>;

interface HistoryEntry {
  line: number;
  input: string;
  output: string | null;
}

interface PendingInput {
  resolve: (v: string) => void;
  reject: (e: unknown) => void;
}

const HISTORY_SESSION = 1;
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
}

export class Session {
  private worker!: Worker;
  private readonly shared = new Int32Array(new SharedArrayBuffer(12));
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
  private pendingInputs: PendingInput[] = [];
  private pages: MimeBundle[] = [];
  private readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(private readonly opts: SessionOptions) {
    this.ready = new Promise((r) => (this.markReady = r));
  }

  /** Start the protocol thread, then load the compiler and the prelude. */
  async start(): Promise<void> {
    const data: ProtocolData = {
      connection: this.opts.connection,
      kernelInfo: kernelInfo(),
      shared: this.shared.buffer as SharedArrayBuffer,
      prompt: this.promptMemory,
    };
    this.worker = new Worker(path.join(__dirname, "protocol.js"), { workerData: data });
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
        this.post({ kind: "send", channel: "iopub", idents: [], msgType, content, parent: t ? t.parent : {}, metadata, buffers });
      },
      page: (bundle) => this.pages.push(bundle),
    });
    // Under the grader, the student's answers to the checks leave through this display even if a cell replaces it.
    if (process.env.D2L_GRADING === "1") keepAnswerChannel();
    installGlobals(); // prompt() and Deno.jupyter for cells
    await new Promise((r) => setImmediate(r));
    this.critical(true);
    try {
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
    this.markReady();
    this.post({ kind: "ready" });
  }

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
    this.send("iopub", [], msgType, content, t ? t.parent : {});
  }

  private display(out: DisplayOutput, displayId: string | undefined, update: boolean): void {
    const content: Record<string, unknown> = { data: out.data, metadata: out.metadata, transient: displayId ? { display_id: displayId } : {} };
    this.iopub(update ? "update_display_data" : "display_data", content);
  }

  private captureStreams(): void {
    for (const name of ["stdout", "stderr"] as const) {
      const stream = process[name];
      const original = stream.write.bind(stream);
      stream.write = ((chunk: unknown, enc?: unknown, cb?: unknown): boolean => {
        const t = this.outputTarget();
        if (!t) return original(chunk as string, enc as BufferEncoding, cb as () => void);
        const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof enc === "string" ? (enc as BufferEncoding) : "utf8");
        this.send("iopub", [], "stream", { name, text }, t.parent);
        const done = typeof enc === "function" ? enc : cb;
        if (typeof done === "function") queueMicrotask(() => (done as () => void)());
        return true;
      }) as typeof stream.write;
    }
  }

  private input(prompt: string, password: boolean): Promise<string> {
    const t = this.outputTarget();
    if (!t || !t.allowStdin) {
      return Promise.reject(new Error("input() is not available: this front end does not accept input (allow_stdin is false). Run the notebook in Jupyter to answer prompts, or pass the value in code."));
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
      throw new Error("prompt() is not available: this front end does not accept input (allow_stdin is false). Run the notebook in Jupyter to answer prompts, or pass the value in code.");
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
        void this.onRequest(m.channel, m.msg).catch((e) => log(`failed on ${m.msg.header.msg_type}: ${(e as Error).stack ?? e}`));
        break;
      case "stdin": {
        if (m.msg.header.msg_type !== "input_reply") break;
        const p = this.pendingInputs.shift();
        p?.resolve(String(m.msg.content.value ?? ""));
        break;
      }
      case "interrupt":
        this.onInterrupt(m.generation);
        break;
      case "shutdown":
        this.shutdown();
        break;
      case "listening":
        break;
    }
  }

  private onInterrupt(generation: number): void {
    // Acknowledge first: the protocol thread stops waiting for the main thread.
    Atomics.store(this.shared, SHARED_ACK, Math.max(generation, Atomics.load(this.shared, SHARED_ACK)));
    this.executor?.interrupt();
    const r = this.cellInterrupt;
    this.cellInterrupt = null;
    r?.(new InterruptedError("Interrupted by the user (the kernel keeps its state; run the cell again to resume)"));
    for (const p of this.pendingInputs.splice(0)) p.reject(new InterruptedError("Interrupted by the user (the kernel keeps its state; run the cell again to resume)"));
  }

  private shutdown(): void {
    this.post({ kind: "exit" });
    setTimeout(() => process.exit(0), 2000).unref();
  }

  private async onRequest(channel: "shell" | "control", msg: Message): Promise<void> {
    const type = msg.header.msg_type;
    if (type === "execute_request") {
      this.queue.push(msg);
      if (!this.running) await this.drainQueue();
      return;
    }
    await this.ready;
    const reply = (t: string, content: Record<string, unknown>): void => this.send(channel, msg.idents, t, content, msg.header);
    const status = (s: string): void => this.send("iopub", [], "status", { execution_state: s }, msg.header);
    status("busy");
    try {
      switch (type) {
        case "is_complete_request":
          reply("is_complete_reply", codeCompleteness(String(msg.content.code ?? "")));
          break;
        case "complete_request":
          reply("complete_reply", this.complete(String(msg.content.code ?? ""), Number(msg.content.cursor_pos ?? 0)));
          break;
        case "inspect_request":
          reply("inspect_reply", this.inspect(String(msg.content.code ?? ""), Number(msg.content.cursor_pos ?? 0), Number(msg.content.detail_level ?? 0)));
          break;
        case "history_request":
          reply("history_reply", this.historyReply(msg.content));
          break;
        default:
          if (++this.unknownCount <= 10 || this.unknownCount % 1000 === 0) log(`unknown message type ${JSON.stringify(type)} ignored (${this.unknownCount} so far)`);
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      reply(type.replace(/_request$/, "_reply"), { status: "error", ename: err.name, evalue: err.message, traceback: [] });
    } finally {
      status("idle");
    }
  }

  private async drainQueue(): Promise<void> {
    this.running = true;
    try {
      await this.ready;
      while (this.queue.length > 0) {
        const msg = this.queue.shift() as Message;
        const failed = await this.execute(msg);
        if (failed && msg.content.stop_on_error !== false) {
          for (const aborted of this.queue.splice(0)) this.abort(aborted);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private abort(msg: Message): void {
    this.send("iopub", [], "status", { execution_state: "busy" }, msg.header);
    this.send("shell", msg.idents, "execute_reply", { status: "aborted", execution_count: this.executionCount }, msg.header);
    this.send("iopub", [], "status", { execution_state: "idle" }, msg.header);
  }

  /** Run one execute_request; true when the cell failed. */
  private async execute(msg: Message): Promise<boolean> {
    const c = msg.content;
    const code = String(c.code ?? "");
    const silent = c.silent === true;
    const storeHistory = c.store_history === undefined ? !silent : c.store_history === true;
    const parent = msg.header;
    const status = (s: string): void => this.send("iopub", [], "status", { execution_state: s }, parent);
    status("busy");
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    const cell = storeHistory ? count : UNSTORED_CELL_BASE + ++this.unstoredCount;
    this.cellParents.set(cell, { parent, idents: msg.idents, allowStdin: c.allow_stdin !== false });
    this.cellSources.set(cell, code);
    this.pruneParents();
    if (!silent) this.send("iopub", [], "execute_input", { code, execution_count: count }, parent);
    this.pages = [];
    this.currentCell = cell;
    // In a check kernel the grader sends each answer cell (the instructor's version) to be declared,
    // not run: its names then read the submission's values from the student's kernel (remote.ts).
    // A declare-only request never runs its code, in a check kernel or not (it fails where there is no grader's pipe).
    const declareOnly = msg.metadata?.d2l_declare_remote === true;
    const result = declareOnly ? this.declareRemote(code) : await this.runCell(code, cell);
    let failed = false;
    let output: string | null = null;
    const content: Record<string, unknown> = { execution_count: count };
    if (result.status === "ok") {
      if (result.hasValue && !silent) {
        try {
          const out = toDisplay(result.value);
          output = String(out.data["text/plain"] ?? "");
          this.send("iopub", [], "execute_result", { execution_count: count, data: out.data, metadata: out.metadata }, parent);
        } catch (e) {
          const err = this.describe({ status: "runtime-error", error: e });
          this.send("iopub", [], "error", err, parent);
          Object.assign(content, { status: "error", ...err });
          failed = true;
        }
      }
      if (!failed) {
        Object.assign(content, {
          status: "ok",
          payload: this.pages.map((data) => ({ source: "page", data, start: 0 })),
          user_expressions: await this.userExpressions(c.user_expressions),
        });
      }
    } else {
      const err = this.describe(result);
      if (!silent) this.send("iopub", [], "error", err, parent);
      Object.assign(content, { status: "error", ...err });
      failed = true;
    }
    this.currentCell = undefined;
    this.lastCell = cell;
    this.ownProcessErrors();
    if (storeHistory) this.history.push({ line: count, input: code, output });
    this.send("shell", msg.idents, "execute_reply", content, parent);
    status("idle");
    return failed;
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
        if (line !== undefined) tb.push("", `  ${where.line} | ${line}`, `  ${" ".repeat(String(where.line).length)} | ${" ".repeat(Math.max(0, where.column - 1))}\x1b[31m^\x1b[0m`);
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
        const d = r.hasValue ? toDisplay(r.value) : { data: { "text/plain": "undefined" }, metadata: {} };
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
      const ts = typescript();
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
      const re = globToRegExp(String(c.pattern ?? "*"));
      rows = this.history.filter((h) => re.test(h.input));
      if (c.unique === true) {
        const seen = new Set<string>();
        rows = rows.reverse().filter((h) => (seen.has(h.input) ? false : (seen.add(h.input), true))).reverse();
      }
      const n = c.n == null ? 0 : Number(c.n);
      if (n > 0) rows = rows.slice(-n);
    } else {
      return { status: "error", ename: "ValueError", evalue: `unknown hist_access_type ${type}; expected tail, range or search`, traceback: [], history: [] };
    }
    return { status: "ok", history: rows.map(fmt) };
  }
}

/** IPython's history search pattern: glob with * and ?, matched against the whole input. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[\\s\\S]*").replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${body}$`);
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
