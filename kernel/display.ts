/**
 * Turning values into Jupyter mime bundles.
 *
 * 1. A value with a `[Symbol.for("Jupyter.display")]()` method renders
 *    itself: the method returns a bundle such as
 *    `{ "text/plain": "…", "image/png": "<base64>" }` (or
 *    `{ data, metadata }`). Values of `…json` types are objects, not strings.
 * 2. A TensorFlow.js tensor shows as `tensor.print(true)` does: dtype, rank,
 *    shape and values. The kernel reads it with `await t.data()`
 *    ({@link toDisplayAsync}): on webgpu under Node a GPU tensor cannot be
 *    read synchronously, and a cell's result must show on every backend.
 * 3. Anything else is `util.inspect`ed.
 *
 * A value with a `[Symbol.for("d2l.prepare")]()` method (a d2l figure whose
 * tensors are on the GPU) is prepared with `await` before its bundle is
 * taken ({@link toDisplayAsync}).
 */
import * as util from "util";

/** A Jupyter mime bundle: mime type → data. */
export type MimeBundle = Record<string, unknown>;

/** The method name values implement to render themselves. */
export const DISPLAY_SYMBOL: unique symbol = Symbol.for("Jupyter.display") as never;

export interface DisplayOutput {
  data: MimeBundle;
  metadata: Record<string, unknown>;
}

interface TensorLike {
  shape: number[];
  dtype: string;
  rank: number;
  isDisposed: boolean;
  toString(verbose?: boolean): string;
  data?(): Promise<unknown>;
}

export function isTensorLike(v: unknown): v is TensorLike {
  if (v === null || typeof v !== "object") return false;
  const t = v as Record<string, unknown>;
  return Array.isArray(t.shape) && typeof t.dtype === "string" && typeof t.dataSync === "function" && typeof t.dataId === "object";
}

function isJsonMime(mime: string): boolean {
  return mime === "application/json" || mime.endsWith("+json");
}

/** Check and normalise a bundle a value produced for itself. */
export function normaliseBundle(raw: unknown): DisplayOutput {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new TypeError(`[Symbol.for("Jupyter.display")]() must return a mime bundle object such as { "text/plain": "..." }; it returned ${util.inspect(raw)}`);
  }
  let data = raw as Record<string, unknown>;
  let metadata: Record<string, unknown> = {};
  if ("data" in data && typeof data.data === "object" && data.data !== null && !Object.keys(data).some((k) => k.includes("/"))) {
    metadata = (data.metadata as Record<string, unknown>) ?? {};
    data = data.data as Record<string, unknown>;
  }
  const out: MimeBundle = {};
  for (const [mime, value] of Object.entries(data)) {
    if (!mime.includes("/")) throw new TypeError(`mime bundle key ${JSON.stringify(mime)} is not a mime type (expected e.g. "text/plain")`);
    if (isJsonMime(mime)) {
      out[mime] = typeof value === "string" ? parseJsonMime(mime, value) : value;
    } else if (value instanceof Uint8Array) {
      out[mime] = Buffer.from(value).toString("base64");
    } else {
      out[mime] = typeof value === "string" ? value : String(value);
    }
  }
  if (!("text/plain" in out)) out["text/plain"] = `<${Object.keys(out).join(", ") || "empty"} output>`;
  return { data: out, metadata };
}

/** How a tensor reads in text: what `tensor.print(true)` prints. */
export function tensorText(t: TensorLike): string {
  if (t.isDisposed) return `Tensor (disposed) dtype ${t.dtype}, shape [${t.shape.join(",")}]`;
  return t.toString(true);
}

/**
 * How a tensor reads in text, read asynchronously: the same text as
 * {@link tensorText}, from `await t.data()` instead of `dataSync()` (which
 * webgpu cannot do under Node for a tensor that lives on the GPU).
 */
export async function tensorTextAsync(t: TensorLike): Promise<string> {
  if (t.isDisposed || typeof t.data !== "function") return tensorText(t);
  const values = await t.data();
  // The cell may dispose the tensor while the read is in flight (a later cell, a timer).
  if (t.isDisposed) return tensorText(t);
  // tfjs formats in toString(verbose), which reads with this.dataSync: give it the values just read.
  const view = Object.create(t, { dataSync: { value: () => values } }) as TensorLike;
  return view.toString(true);
}

/**
 * The symbol of a value's asynchronous preparation (`Symbol.for("d2l.prepare")`):
 * a d2l figure whose tensors live on the GPU reads them there
 * (lib/plot/figure.ts). The kernel awaits it before it takes the bundle.
 */
export const PREPARE_SYMBOL: unique symbol = Symbol.for("d2l.prepare") as never;

function prepareOf(value: unknown): (() => unknown) | undefined {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return undefined;
  const fn = (value as Record<symbol, unknown>)[PREPARE_SYMBOL];
  return typeof fn === "function" ? (fn as () => unknown) : undefined;
}

/** Await a value's preparation step (`Symbol.for("d2l.prepare")`), if it has one. */
export async function prepare(value: unknown): Promise<void> {
  const fn = prepareOf(value);
  if (fn) await fn.call(value);
}

/** Whether `t` reads synchronously on its backend (lib/read.ts, loaded with the first tensor: tfjs is loaded by then). */
function readsSync(t: object): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("../lib/read") as typeof import("../lib/read")).readsSync(t as never);
}

/**
 * Whether showing `value` needs an asynchronous step: a tensor whose values
 * are on the GPU (webgpu), or a value with a preparation step that is not
 * ready (a pending figure; `isReady` tells).
 */
export function needsAwait(value: unknown): boolean {
  if (prepareOf(value)) return (value as { isReady?: unknown }).isReady !== true;
  return isTensorLike(value) && !value.isDisposed && typeof (value as unknown as Record<symbol, unknown>)[DISPLAY_SYMBOL] !== "function" && !readsSync(value);
}

/**
 * {@link toDisplay} with a tensor read asynchronously and a value's
 * preparation awaited: what the kernel shows for a cell's result, its
 * user_expressions and `display(x)`. Anything else renders exactly as
 * toDisplay renders it.
 */
export async function toDisplayAsync(value: unknown): Promise<DisplayOutput> {
  if (isTensorLike(value) && typeof (value as unknown as Record<symbol, unknown>)[DISPLAY_SYMBOL] !== "function") {
    return { data: { "text/plain": await tensorTextAsync(value) }, metadata: {} };
  }
  await prepare(value);
  return toDisplay(value);
}

/**
 * The display of `value` now when it can be made synchronously, else a
 * promise of it ({@link needsAwait}): what `display(x)` and `handle.update(x)`
 * hand to the session, which keeps the cell's outputs in order.
 */
export function toDisplayNow(value: unknown): DisplayOutput | Promise<DisplayOutput> {
  return needsAwait(value) ? toDisplayAsync(value) : toDisplay(value);
}

/** Render any value to a bundle, following the rules at the top of this file. */
export function toDisplay(value: unknown): DisplayOutput {
  if (value !== null && (typeof value === "object" || typeof value === "function")) {
    const fn = (value as Record<symbol, unknown>)[DISPLAY_SYMBOL];
    if (typeof fn === "function") {
      const bundle = (fn as () => unknown).call(value);
      if (bundle !== null && typeof bundle === "object" && typeof (bundle as { then?: unknown }).then === "function") {
        throw new TypeError('[Symbol.for("Jupyter.display")]() returned a Promise; it must return the mime bundle itself');
      }
      return normaliseBundle(bundle);
    }
    if (isTensorLike(value)) return { data: { "text/plain": tensorText(value) }, metadata: {} };
  }
  if (typeof value === "string") return { data: { "text/plain": util.inspect(value) }, metadata: {} };
  return { data: { "text/plain": util.inspect(value, { depth: 4, maxArrayLength: 100, breakLength: 100 }) }, metadata: {} };
}

function parseJsonMime(mime: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TypeError(`the display bundle's "${mime}" value is a string that is not JSON (${(e as Error).message}); give an object or a JSON string`);
  }
}
