/**
 * Checks that never run beside the student's code.
 *
 * When `d2l-ts grade` grades a submission it starts two kernels. The student's
 * kernel runs the given cells, the student's answers and the student's own
 * cells. The check kernel runs the given cells and the instructor's check
 * cells, and nothing the student wrote. A check cell still needs the
 * student's answers (`softmax`, `net`, `history`): in the check kernel each
 * answer name is bound to a stand-in that asks the student's kernel for it.
 *
 * - Data comes over as data: numbers, strings, booleans, arrays, plain
 *   objects and tensors (dtype, shape and the raw values) become fresh values
 *   of the check kernel's own `tf`, built by code the student never touched.
 * - Anything else (a function, a tfjs layer, a class instance) stays in the
 *   student's kernel and is reached through a handle: calling it sends the
 *   arguments over as data and brings the result back the same way.
 *
 * So the student's code can decide only what its own functions return for
 * the inputs the check chooses, which is what the check measures; it cannot
 * reach `d2l.check`, the comparison, the check's outputs or the grader.
 *
 * The check kernel's side blocks on a pipe (fd `D2L_CHECK_RPC_FD`) the grader
 * answers, so a check reads `net(X)` synchronously, as it would in one
 * kernel. The grader runs each request in the student's kernel as a silent
 * cell ({@link serve}) with the cell's time limit, and relays the answer
 * after checking that it is JSON.
 */
import * as fs from "fs";
import * as path from "path";
import { bridge, type OutputBridge } from "./cellapi";
import { RPC_MIME } from "../lib/names";

/** A value on the wire. */
export type Wire =
  | { k: "u" }
  | { k: "p"; v: string | number | boolean | null }
  | { k: "num"; v: "NaN" | "Infinity" | "-Infinity" | "-0" }
  | { k: "big"; v: string }
  | { k: "t"; dtype: "float32" | "int32" | "bool" | "string"; shape: number[]; b64?: string; strings?: string[]; variable?: boolean; trainable?: boolean; id?: number }
  | { k: "a"; v: Wire[] }
  | { k: "o"; v: [string, Wire][] }
  | { k: "h"; id: number; callable: boolean; cls: string }
  | { k: "ref"; id: number }
  | { k: "e"; name: string; message: string };

/** A request from the check kernel. */
export type RemoteRequest = { op: "get"; name: string } | { op: "prop"; target: number; key: string } | { op: "call"; target: number; self?: number; args: Wire[] };

/** The slice of tfjs both sides use (the kernel's own `tf`). */
interface TfLike {
  Tensor: abstract new (...a: never[]) => TensorLike;
  Variable: abstract new (...a: never[]) => TensorLike;
  tensor(values: unknown, shape?: number[], dtype?: string): TensorLike;
  variable(t: TensorLike, trainable?: boolean): TensorLike;
}
interface TensorLike {
  dtype: string;
  shape: number[];
  size: number;
  isDisposed: boolean;
  trainable?: boolean;
  dataSync(): TensorBytes; // sync-read-ok: a declaration (the slice of tfjs' Tensor both sides use), not a read
  arraySync(): unknown; // sync-read-ok: a declaration, not a read
  data(): Promise<TensorBytes>;
  array(): Promise<unknown>;
}
type TensorBytes = ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };
/** A tensor whose values an encoded value still needs, and the wire entry they go in. */
type PendingRead = { t: TensorLike; wire: Extract<Wire, { k: "t" }> };

/** Limits on what crosses: more than this is an error, not a hang. */
const MAX_ELEMENTS = 50_000_000;
const MAX_DEPTH = 32;
const MAX_ARRAY = 1_000_000;
const MAX_KEYS = 10_000;
const MAX_STRING = 10_000_000;
const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** The kernel's cell scope (executor.ts keeps it on this global). */
function cellScope(): Record<string, unknown> {
  const g = globalThis as unknown as Record<string, { exports?: Record<string, unknown> } | undefined>;
  const scope = g.__d2l_cell?.exports;
  if (!scope) throw new Error("remote checks need the d2l-ts kernel (no cell scope found)");
  return scope;
}

function kernelTf(): TfLike {
  const tf = cellScope().tf as TfLike | undefined;
  if (!tf || typeof tf.tensor !== "function") throw new Error("remote checks need tf in the kernel's scope");
  return tf;
}

function className(v: unknown): string {
  if (typeof v === "function") return "function";
  const proto = v === null || typeof v !== "object" ? null : Object.getPrototypeOf(v);
  const ctor = proto && typeof proto.constructor === "function" ? (proto.constructor as { name?: unknown }).name : undefined;
  return typeof ctor === "string" && ctor ? ctor : "object";
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function encodeNumber(x: number): Wire {
  if (Number.isNaN(x)) return { k: "num", v: "NaN" };
  if (x === Infinity) return { k: "num", v: "Infinity" };
  if (x === -Infinity) return { k: "num", v: "-Infinity" };
  if (Object.is(x, -0)) return { k: "num", v: "-0" };
  return { k: "p", v: x };
}

/**
 * A value as wire data. `handle` is asked for what cannot go as data (it
 * returns a handle on the student's side and throws on the check's side).
 * A tensor's values are not read here: its entry goes in `reads`, and
 * {@link readTensors} (the student's side, asynchronous: webgpu cannot read
 * a GPU tensor synchronously under Node) or {@link readTensorsSync} fills it.
 */
function encode(
  v: unknown,
  tf: TfLike,
  handle: (v: unknown) => Wire,
  reads: PendingRead[],
  budget = { elements: 0 },
  depth = 0,
  seen = new Set<unknown>(),
  link?: (v: unknown) => number,
): Wire {
  if (v === undefined) return { k: "u" };
  if (v === null || typeof v === "boolean") return { k: "p", v };
  if (typeof v === "number") return encodeNumber(v);
  if (typeof v === "bigint") return { k: "big", v: v.toString() };
  if (typeof v === "string") {
    if (v.length > MAX_STRING) throw new RangeError(`a string of ${v.length} characters is too long to compare (at most ${MAX_STRING})`);
    return { k: "p", v };
  }
  if (typeof v === "symbol") return handle(v);
  const remote = remoteIdOf(v);
  if (remote !== undefined) return { k: "ref", id: remote };
  if (v instanceof tf.Tensor) {
    const t = v as TensorLike;
    if (t.isDisposed) throw new Error("a tensor that was disposed (tf.dispose or tf.tidy) cannot be read");
    budget.elements += t.size;
    if (budget.elements > MAX_ELEMENTS) throw new RangeError(`more than ${MAX_ELEMENTS} tensor elements in one value`);
    // A variable also keeps a handle, so a check can change the submission's own (lib/check.ts' inSubmission).
    const variable = v instanceof tf.Variable ? { variable: true, trainable: t.trainable !== false, ...(link ? { id: link(v) } : {}) } : {};
    if (t.dtype !== "string" && !(t.dtype in BYTES)) throw new TypeError(`a ${t.dtype} tensor cannot be compared (float32, int32, bool and string can)`);
    const wire: Extract<Wire, { k: "t" }> =
      t.dtype === "string"
        ? { k: "t", dtype: "string", shape: [...t.shape], strings: [], ...variable }
        : { k: "t", dtype: t.dtype as "float32" | "int32" | "bool", shape: [...t.shape], b64: "", ...variable };
    reads.push({ t, wire });
    return wire;
  }
  if (depth >= MAX_DEPTH || seen.has(v)) return handle(v);
  if (Array.isArray(v)) {
    if (v.length > MAX_ARRAY) return handle(v);
    budget.elements += v.length;
    if (budget.elements > MAX_ELEMENTS) throw new RangeError(`more than ${MAX_ELEMENTS} elements in one value`);
    seen.add(v);
    const out = { k: "a" as const, v: Array.from(v, (x) => encode(x, tf, handle, reads, budget, depth + 1, seen, link)) };
    seen.delete(v);
    return out;
  }
  if (isPlainObject(v)) {
    const keys = Object.keys(v);
    if (keys.length > MAX_KEYS) return handle(v);
    seen.add(v);
    const out = { k: "o" as const, v: keys.map((key): [string, Wire] => [key, encode(v[key], tf, handle, reads, budget, depth + 1, seen, link)]) };
    seen.delete(v);
    return out;
  }
  return handle(v);
}

// ---------------------------------------------------------------------------
// The student's side: answer one request, in the student's kernel.

const handles = new Map<number, unknown>();
let nextHandle = 1;

function studentLink(v: unknown): number {
  const id = nextHandle++;
  handles.set(id, v);
  return id;
}

function studentHandle(v: unknown): Wire {
  return { k: "h", id: studentLink(v), callable: typeof v === "function", cls: className(v) };
}

/** Put a tensor's values, read by the caller, in its wire entry. */
function fillTensor(p: PendingRead, values: unknown): void {
  if (p.wire.dtype === "string") {
    p.wire.strings = ([] as unknown[])
      .concat(values as unknown[])
      .flat(Infinity)
      .map(String);
  } else {
    const data = values as TensorBytes;
    p.wire.b64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
  }
}

function disposedRead(): Error {
  return new Error("a tensor that was disposed (tf.dispose or tf.tidy) cannot be read");
}

/** Read the tensors an encoded value needs, with `await` (the student's side: any backend, webgpu included). */
async function readTensors(reads: PendingRead[]): Promise<void> {
  for (const p of reads) {
    const values = p.wire.dtype === "string" ? await p.t.array() : await p.t.data();
    if (p.t.isDisposed) throw disposedRead();
    fillTensor(p, values);
  }
}

/** Read the tensors an encoded value needs, synchronously (the check kernel's arguments: the pipe to the student is synchronous). */
function readTensorsSync(reads: PendingRead[]): void {
  for (const p of reads) fillTensor(p, p.wire.dtype === "string" ? p.t.arraySync() : p.t.dataSync()); // sync-read-ok: the check kernel's own arguments; its pipe to the student is synchronous, and the student's side reads with await
}

/** A value of the submission as wire data: handles for what is not data, and for variables besides their values. */
async function studentEncode(v: unknown, tf: TfLike): Promise<Wire> {
  const reads: PendingRead[] = [];
  const wire = encode(v, tf, studentHandle, reads, undefined, 0, undefined, studentLink);
  await readTensors(reads);
  return wire;
}

function studentDecode(w: Wire, tf: TfLike, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new RangeError("value nested too deeply");
  switch (w.k) {
    case "u":
      return undefined;
    case "p":
      return w.v;
    case "num":
      return w.v === "-0" ? -0 : Number(w.v);
    case "big":
      return BigInt(w.v);
    case "t":
      return decodeTensor(w, tf);
    case "a":
      return w.v.map((x) => studentDecode(x, tf, depth + 1));
    case "o":
      return Object.fromEntries(w.v.map(([key, x]) => [key, studentDecode(x, tf, depth + 1)]));
    case "ref": {
      if (!handles.has(w.id)) throw new Error(`no value with handle ${w.id}`);
      return handles.get(w.id);
    }
    default:
      throw new TypeError(`cannot receive a ${(w as { k: string }).k} value`);
  }
}

async function answer(req: RemoteRequest): Promise<Wire> {
  const tf = kernelTf();
  const scope = cellScope();
  if (req.op === "get") {
    if (!Object.prototype.hasOwnProperty.call(scope, req.name)) {
      return { k: "e", name: "ReferenceError", message: `${req.name} is not defined in the submission (the check needs it)` };
    }
    return studentEncode(await settle(scope[req.name]), tf);
  }
  if (!handles.has(req.target)) throw new Error(`no value with handle ${req.target}`);
  const target = handles.get(req.target) as Record<string, unknown> & ((...a: unknown[]) => unknown);
  if (req.op === "prop") return studentEncode(await settle(target[req.key]), tf);
  const self = req.self === undefined ? undefined : handles.get(req.self);
  const args = req.args.map((a) => studentDecode(a, tf));
  return studentEncode(await settle(Reflect.apply(target, self, args)), tf);
}

/** A promise's value (so an async answer reads like a synchronous one); anything else as it is. */
async function settle(v: unknown): Promise<unknown> {
  return v instanceof Promise ? await v : v;
}

/** The mime type the student's kernel shows its answer under (only the grader reads it). */
export { RPC_MIME };

/**
 * Answer request `n`, read from `dir`/req-n.json (a folder the grader owns and
 * the student's kernel can only read), by showing the answer as a display
 * output under {@link RPC_MIME}: run by the grader in the student's kernel as
 * a silent cell. Nothing is written to disk, so no file the student's code
 * could plant (a link to a project file, say) is ever written or read by the
 * grader.
 *
 * @param dir the grader's request folder
 * @param n the request's number
 * @example
 * await require("/path/to/dist/kernel/remote.js").serve("/tmp/d2l-ts-rpc-x1y2", 1);
 */
export async function serve(dir: string, n: number): Promise<void> {
  let reply: Wire;
  try {
    const req = JSON.parse(fs.readFileSync(path.join(dir, `req-${n}.json`), "utf8")) as RemoteRequest;
    reply = await answer(req);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = { k: "e", name: err.name || "Error", message: err.message };
  }
  const show = answerChannel ?? bridge()?.display;
  if (!show) throw new Error("remote checks need the d2l-ts kernel's output bridge");
  show({ data: { [RPC_MIME]: reply, "text/plain": "(an answer for the grader)" }, metadata: {} }, undefined, false);
}

/** The kernel's own display, kept before any cell runs (see {@link keepAnswerChannel}). */
let answerChannel: OutputBridge["display"] | null = null;

/**
 * Keep the output bridge's display function for {@link serve}, before any
 * cell runs: the kernel does this when the grader starts it (D2L_GRADING=1),
 * so a student's cell that replaces `display` or the bridge's methods (a
 * function of their own named display, say) does not cut the answers off
 * from the checks.
 *
 * @example
 * installBridge(b);
 * if (process.env.D2L_GRADING === "1") keepAnswerChannel();
 */
export function keepAnswerChannel(): void {
  answerChannel = bridge()?.display ?? null;
}

// ---------------------------------------------------------------------------
// The check kernel's side.

const REMOTE_ID = Symbol("d2l-ts.remote");
/** On a variable that came from the submission: a handle to the submission's own (lib/check.ts reads it). */
const SUBMISSION = Symbol.for("d2l-ts.submission");
const INSPECT = Symbol.for("nodejs.util.inspect.custom");

function remoteIdOf(v: unknown): number | undefined {
  if ((typeof v !== "object" && typeof v !== "function") || v === null) return undefined;
  const id = (v as Record<symbol, unknown>)[REMOTE_ID];
  return typeof id === "number" ? id : undefined;
}

/** The error a check sees when the submission's code threw (or could not answer). */
export class SubmissionError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name === "Error" ? "SubmissionError" : name;
  }
}

function isShape(s: unknown): s is number[] {
  return Array.isArray(s) && s.length <= 16 && s.every((d) => Number.isSafeInteger(d) && d >= 0);
}

function decodeTensor(w: Extract<Wire, { k: "t" }>, tf: TfLike, call?: (r: RemoteRequest) => unknown): TensorLike {
  if (!isShape(w.shape)) throw new TypeError("a tensor's shape must be a list of at most 16 sizes ≥ 0");
  const size = w.shape.reduce((a, b) => a * b, 1);
  if (size > MAX_ELEMENTS) throw new RangeError(`a tensor of ${size} elements is too large to compare`);
  let t: TensorLike;
  if (w.dtype === "string") {
    if (!Array.isArray(w.strings) || w.strings.length !== size || !w.strings.every((s) => typeof s === "string")) {
      throw new TypeError("a string tensor's values do not match its shape");
    }
    t = tf.tensor(w.strings, w.shape, "string");
  } else {
    const bytes = BYTES[w.dtype];
    if (bytes === undefined || typeof w.b64 !== "string") throw new TypeError(`a tensor of dtype ${String(w.dtype)} cannot be received`);
    const raw = Buffer.from(w.b64, "base64");
    if (raw.length !== size * bytes) throw new TypeError(`a tensor of shape [${w.shape}] needs ${size * bytes} bytes; ${raw.length} came`);
    const copy = new Uint8Array(raw); // aligned, owned
    const values = w.dtype === "float32" ? new Float32Array(copy.buffer) : w.dtype === "int32" ? new Int32Array(copy.buffer) : copy;
    t = tf.tensor(values, w.shape, w.dtype);
  }
  if (w.variable !== true) return t;
  const v = tf.variable(t, w.trainable !== false);
  if (call && Number.isSafeInteger(w.id)) {
    Object.defineProperty(v, SUBMISSION, { value: handleProxy(w.id as number, false, "Variable", call), enumerable: false });
  }
  return v;
}

/** Read a wire value coming from the student's kernel: validated, then rebuilt with the check kernel's own tf. */
export function decodeFromSubmission(w: unknown, tf: TfLike, call: (r: RemoteRequest) => unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new RangeError("the submission's value is nested too deeply");
  const x = w as Wire;
  if (x === null || typeof x !== "object" || typeof x.k !== "string") throw new TypeError("the submission's kernel sent something that is not a value");
  switch (x.k) {
    case "u":
      return undefined;
    case "p":
      if (x.v !== null && !["string", "number", "boolean"].includes(typeof x.v)) throw new TypeError("bad primitive");
      return x.v;
    case "num":
      if (!["NaN", "Infinity", "-Infinity", "-0"].includes(x.v)) throw new TypeError("bad number");
      return x.v === "-0" ? -0 : Number(x.v);
    case "big":
      if (typeof x.v !== "string" || !/^-?\d{1,4000}$/.test(x.v)) throw new TypeError("bad bigint");
      return BigInt(x.v);
    case "t":
      return decodeTensor(x, tf, call);
    case "a":
      if (!Array.isArray(x.v) || x.v.length > MAX_ARRAY) throw new TypeError("bad array");
      return x.v.map((y) => decodeFromSubmission(y, tf, call, depth + 1));
    case "o": {
      if (!Array.isArray(x.v) || x.v.length > MAX_KEYS) throw new TypeError("bad object");
      const out: Record<string, unknown> = {};
      for (const entry of x.v) {
        if (!Array.isArray(entry) || typeof entry[0] !== "string") throw new TypeError("bad object entry");
        Object.defineProperty(out, entry[0], { value: decodeFromSubmission(entry[1], tf, call, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    case "h":
      if (!Number.isSafeInteger(x.id) || typeof x.cls !== "string") throw new TypeError("bad handle");
      return handleProxy(x.id, x.callable === true, x.cls.slice(0, 100), call);
    case "e":
      throw new SubmissionError(String(x.name).slice(0, 100), String(x.message).slice(0, 4000));
    default:
      throw new TypeError(`the submission's kernel sent a value of unknown kind ${JSON.stringify(String(x.k)).slice(0, 40)}`);
  }
}

function refuse(what: string): never {
  throw new TypeError(`a check cannot ${what} a value of the submission`);
}

function handleProxy(id: number, callable: boolean, cls: string, call: (r: RemoteRequest) => unknown): unknown {
  const target = callable ? function remote(): void {} : {};
  const describe = (): string => `[${cls} of the submission]`;
  return new Proxy(target, {
    get(_t, key) {
      if (key === REMOTE_ID) return id;
      if (key === INSPECT || key === Symbol.toStringTag) return key === INSPECT ? describe : cls;
      if (typeof key === "symbol" || key === "then") return undefined;
      return call({ op: "prop", target: id, key });
    },
    has(_t, key) {
      return typeof key === "string" && call({ op: "prop", target: id, key }) !== undefined;
    },
    apply(_t, self, args: unknown[]) {
      const tf = kernelTf();
      const reads: PendingRead[] = [];
      const wire = args.map((a) => encode(a, tf, (v) => refuse(`pass a ${className(v)} to`), reads));
      readTensorsSync(reads);
      const selfId = remoteIdOf(self);
      return call({ op: "call", target: id, ...(selfId === undefined ? {} : { self: selfId }), args: wire });
    },
    construct: () => refuse("construct"),
    set: () => refuse("change"),
    defineProperty: () => refuse("change"),
    deleteProperty: () => refuse("change"),
  });
}

/** The pipe to the grader, read and written synchronously. */
class SyncPipe {
  private buffered = "";
  private readonly chunk = Buffer.alloc(1 << 16);
  private readonly nap = new Int32Array(new SharedArrayBuffer(4));
  constructor(private readonly fd: number) {}

  send(text: string): void {
    const data = Buffer.from(text + "\n", "utf8");
    let off = 0;
    while (off < data.length) {
      try {
        off += fs.writeSync(this.fd, data, off, data.length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
        Atomics.wait(this.nap, 0, 0, 1);
      }
    }
  }

  receive(): string {
    for (;;) {
      const nl = this.buffered.indexOf("\n");
      if (nl >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        return line;
      }
      let n = 0;
      try {
        n = fs.readSync(this.fd, this.chunk, 0, this.chunk.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
        Atomics.wait(this.nap, 0, 0, 1);
        continue;
      }
      if (n === 0) throw new Error("the grader closed the pipe to the submission");
      this.buffered += this.chunk.toString("utf8", 0, n);
    }
  }
}

let pipe: SyncPipe | null = null;

function callSubmission(req: RemoteRequest): unknown {
  if (!pipe) {
    const fd = Number(process.env.D2L_CHECK_RPC_FD);
    if (!Number.isSafeInteger(fd) || fd < 3) throw new Error("this kernel is not a check kernel (D2L_CHECK_RPC_FD is not set)");
    pipe = new SyncPipe(fd);
  }
  pipe.send(JSON.stringify(req));
  const reply = JSON.parse(pipe.receive()) as unknown;
  return decodeFromSubmission(reply, kernelTf(), callSubmission);
}

/**
 * In the check kernel: bind each of `names` in the cell scope to the
 * submission's value of that name, fetched when a cell reads it.
 *
 * @param scope the kernel's cell scope (executor.locals)
 * @param names the top-level names an answer cell declares
 * @example
 * bindToSubmission(executor.locals, ["softmax", "net"]); // a check cell's softmax(X) now runs in the student's kernel
 */
export function bindToSubmission(scope: Record<string, unknown>, names: string[]): void {
  for (const name of names) {
    Object.defineProperty(scope, name, {
      configurable: true,
      enumerable: true,
      get: () => callSubmission({ op: "get", name }),
      set: (value: unknown) => {
        Object.defineProperty(scope, name, { value, writable: true, configurable: true, enumerable: true });
      },
    });
  }
}

/** True in a kernel the grader started to run check cells (it answers declare-only cells). */
export function isCheckKernel(): boolean {
  return process.env.D2L_CHECK_RPC_FD !== undefined;
}
