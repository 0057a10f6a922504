/**
 * Globals that code written for other JavaScript notebooks expects, so it runs
 * here unchanged:
 *
 * - `prompt(message?, default?)`, the web-standard synchronous prompt: the cell
 *   blocks until the front end answers on Jupyter's stdin channel, as Python's
 *   `input()` does (the asynchronous `await input()` stays the d2l-ts way).
 * - `Deno.jupyter`, the part of Deno's Jupyter API a notebook cell uses:
 *   `display`, `format`, `broadcast`, `md`, `html`, `svg`, `image` and the
 *   `$display` symbol. Nothing else of `Deno` exists (no `Deno.version`,
 *   `Deno.readFile`, …): this is Node.js.
 *
 * The session installs both on `globalThis` (installGlobals); the
 * `declare global` in cellapi.ts gives every cell their types.
 */
import * as fs from "fs";
import { bridge } from "./cellapi";
import { DISPLAY_SYMBOL, MimeBundle, normaliseBundle, prepare, toDisplayAsync } from "./display";

// The types of prompt() and Deno.jupyter are declared in cellapi.ts (`declare global`),
// the module every cell's compiler sees through the prelude.

function noFrontEnd(what: string): Error {
  return new Error(`${what} needs a Jupyter front end; none is connected (this code is not running in the d2l-ts kernel)`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The web-standard synchronous prompt (declared in cellapi.ts). */
export function prompt(message?: string, _default?: string): string | null {
  const b = bridge();
  if (!b) throw noFrontEnd("prompt()");
  const answer = b.inputSync(message === undefined ? "" : String(message), false);
  return answer === "" && _default !== undefined ? String(_default) : answer;
}

function hasDisplay(v: unknown): v is { [DISPLAY_SYMBOL]: () => unknown } {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as Record<symbol, unknown>)[DISPLAY_SYMBOL] === "function";
}

async function format(obj: unknown): Promise<MimeBundle> {
  await prepare(obj); // a d2l figure whose tensors are on the GPU reads them first
  if (hasDisplay(obj)) return normaliseBundle(await obj[DISPLAY_SYMBOL]()).data;
  return (await toDisplayAsync(obj)).data; // a tensor is read with await (webgpu)
}

async function display(obj: unknown, options: Deno.jupyter.DisplayOptions = {}): Promise<void> {
  if (options === null || typeof options !== "object") throw new TypeError("Deno.jupyter.display(obj, options): options must be an object such as { raw: true }");
  const b = bridge();
  if (!b) throw noFrontEnd("Deno.jupyter.display()");
  if (options.update && !options.display_id) throw new TypeError("Deno.jupyter.display(obj, { update: true }) needs the display_id of the output to replace");
  const raw = options.raw ?? true;
  await prepare(obj);
  let out;
  if (hasDisplay(obj)) out = normaliseBundle(await obj[DISPLAY_SYMBOL]());
  else if (raw && isPlainObject(obj)) out = normaliseBundle(obj);
  else out = await toDisplayAsync(obj);
  b.display(out, options.display_id, options.update === true);
}

async function broadcast(msgType: string, content: Record<string, unknown>, extra: { metadata?: Record<string, unknown>; buffers?: Uint8Array[] } = {}): Promise<void> {
  if (typeof msgType !== "string" || msgType === "") throw new TypeError('Deno.jupyter.broadcast(msgType, content): msgType must be a message type such as "display_data"');
  if (!isPlainObject(content)) throw new TypeError(`Deno.jupyter.broadcast("${msgType}", content): content must be a plain object`);
  const metadata = extra?.metadata ?? {};
  if (!isPlainObject(metadata)) throw new TypeError(`Deno.jupyter.broadcast("${msgType}", content, { metadata }): metadata must be a plain object`);
  const buffers = extra?.buffers ?? [];
  if (!Array.isArray(buffers) || !buffers.every((x) => x instanceof Uint8Array)) {
    throw new TypeError(`Deno.jupyter.broadcast("${msgType}", content, { buffers }): buffers must be an array of Uint8Array`);
  }
  const b = bridge();
  if (!b) throw noFrontEnd("Deno.jupyter.broadcast()");
  b.broadcast(msgType, content, metadata, buffers);
}

function template(strings: TemplateStringsArray, values: unknown[]): string {
  return strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ""), "");
}

function displayable(bundle: MimeBundle): Deno.jupyter.Displayable {
  return { [DISPLAY_SYMBOL]: () => bundle } as unknown as Deno.jupyter.Displayable;
}

function image(pathOrBytes: string | Uint8Array): Deno.jupyter.Displayable {
  const bytes = typeof pathOrBytes === "string" ? fs.readFileSync(pathOrBytes) : pathOrBytes;
  if (!(bytes instanceof Uint8Array)) throw new TypeError("Deno.jupyter.image() takes a file path or the image's bytes (Uint8Array)");
  const b64 = Buffer.from(bytes).toString("base64");
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return displayable({ "image/png": b64 });
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return displayable({ "image/jpeg": b64 });
  throw new TypeError("Deno.jupyter.image() shows PNG and JPEG images only; these bytes are neither");
}

/** The runtime of `Deno.jupyter`. */
export const jupyter = {
  $display: DISPLAY_SYMBOL,
  display,
  format,
  broadcast,
  md: (strings: TemplateStringsArray, ...values: unknown[]) => displayable({ "text/markdown": template(strings, values) }),
  html: (strings: TemplateStringsArray, ...values: unknown[]) => displayable({ "text/html": template(strings, values) }),
  svg: (strings: TemplateStringsArray, ...values: unknown[]) => displayable({ "image/svg+xml": template(strings, values) }),
  image,
};

/** Put `prompt` and `Deno.jupyter` on globalThis (a real Deno's own global is left alone). */
export function installGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  g.prompt = prompt;
  if (g.Deno === undefined) {
    Object.defineProperty(g, "Deno", { value: { jupyter }, writable: true, configurable: true, enumerable: false });
  }
}
