/**
 * The display helpers every cell sees without importing: `display`,
 * `clearOutput` and `input`. The kernel's session installs the bridge they
 * talk to; outside a kernel they print to the console.
 */
import { DisplayOutput, MimeBundle, normaliseBundle, toDisplayNow } from "./display";

/** A display id. crypto is loaded on the first use, not with the kernel (it costs a few ms of the start). */
function randomUUID(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("crypto") as typeof import("crypto")).randomUUID();
}

/** What the session provides to the helpers (installed on a global symbol). */
export interface OutputBridge {
  /**
   * Send display_data, or update_display_data when `update` is true. A
   * promise (a tensor on the GPU, a figure still reading its values) is sent
   * once it settles, and the outputs after it wait for it: the cell's order holds.
   */
  display(out: DisplayOutput | Promise<DisplayOutput>, displayId: string | undefined, update: boolean): void;
  clearOutput(wait: boolean): void;
  input(prompt: string, password: boolean): Promise<string>;
  /** Ask on stdin and block until the answer comes (the synchronous prompt()). */
  inputSync(prompt: string, password: boolean): string;
  /** Publish a message of any type on IOPub, parented to the running cell. */
  broadcast(msgType: string, content: Record<string, unknown>, metadata: Record<string, unknown>, buffers: Uint8Array[]): void;
  page(bundle: MimeBundle): void;
}

declare global {
  /**
   * Ask the user for a line of text and wait for it (the cell blocks until the
   * front end answers). Returns `_default` when the answer is empty and a
   * default is given. Throws when the front end does not accept input.
   *
   * @example
   * const name = prompt("Your name:", "anonymous");
   */
  function prompt(message?: string, _default?: string): string | null;

  /** Deno's Jupyter API, as far as d2l-ts provides it (its runtime: kernel/globals.ts). */
  namespace Deno.jupyter {
    /** A mime bundle: mime type → data. */
    type MediaBundle = Record<string, unknown>;
    /** The method name values implement to render themselves: `Symbol.for("Jupyter.display")`. */
    const $display: unique symbol;
    /** A value that renders itself. */
    interface Displayable {
      [$display](): MediaBundle | Promise<MediaBundle>;
    }
    interface DisplayOptions {
      /** Show a plain object as a mime bundle as it is (default true). */
      raw?: boolean;
      /** Replace the output shown under `display_id` (update_display_data). */
      update?: boolean;
      display_id?: string;
    }
    /** Show a value (or, with `raw`, a mime bundle) as display_data. @example await Deno.jupyter.display({ "text/markdown": "# Hi" }) */
    function display(obj: unknown, options?: DisplayOptions): Promise<void>;
    /** The mime bundle a value renders to. */
    function format(obj: unknown): Promise<MediaBundle>;
    /** Publish any IOPub message, parented to the running cell. @example await Deno.jupyter.broadcast("display_data", { data: { "text/html": "<b>hi</b>" }, metadata: {}, transient: {} }) */
    function broadcast(msgType: string, content: Record<string, unknown>, extra?: { metadata?: Record<string, unknown>; buffers?: Uint8Array[] }): Promise<void>;
    /** Markdown from a template literal. @example Deno.jupyter.md`# Title ${1 + 1}` */
    function md(strings: TemplateStringsArray, ...values: unknown[]): Displayable;
    /** HTML from a template literal. */
    function html(strings: TemplateStringsArray, ...values: unknown[]): Displayable;
    /** SVG from a template literal. */
    function svg(strings: TemplateStringsArray, ...values: unknown[]): Displayable;
    /** A PNG or JPEG image: a file path or the bytes. */
    function image(pathOrBytes: string | Uint8Array): Displayable;
  }
}

const BRIDGE = Symbol.for("d2l-ts.output");

export function bridge(): OutputBridge | undefined {
  return (globalThis as Record<symbol, unknown>)[BRIDGE] as OutputBridge | undefined;
}

/** Install the bridge (the kernel does this once). */
export function installBridge(b: OutputBridge): void {
  (globalThis as Record<symbol, unknown>)[BRIDGE] = b;
}

/** A displayed output that can be replaced in place. */
export interface DisplayHandle {
  /** The display id Jupyter uses to find this output. */
  readonly displayId: string;
  /** Replace the output with the rendering of `value`. */
  update(value: unknown): void;
}

function emit(out: DisplayOutput | Promise<DisplayOutput>, displayId: string | undefined, update: boolean): void {
  const b = bridge();
  if (b) b.display(out, displayId, update);
  else if (out instanceof Promise) {
    out.then(
      (o) => console.log(String(o.data["text/plain"] ?? "")),
      (e: unknown) => console.error(`display(): could not show the value: ${e instanceof Error ? e.message : String(e)}`),
    );
  } else console.log(String(out.data["text/plain"] ?? ""));
}

function handle(displayId: string): DisplayHandle {
  return {
    displayId,
    update(value: unknown): void {
      emit(toDisplayNow(value), displayId, true);
    },
  };
}

function bundleDisplay(bundle: MimeBundle): DisplayHandle {
  const id = randomUUID();
  emit(normaliseBundle(bundle), id, false);
  return handle(id);
}

/**
 * Show a value as an output of the cell, the way the cell's last expression
 * would show. Returns a handle whose `update(value)` replaces it in place.
 * A tensor on the GPU (webgpu) and a figure drawn from one are read with
 * `await` behind the scenes; the output still comes in its place among the
 * cell's outputs, before the cell's result.
 *
 * @example
 * const h = display(tf.zeros([2, 2]));
 * h.update(tf.ones([2, 2]));
 */
export interface Display {
  (value: unknown): DisplayHandle;
  /** Show HTML. @example display.html("<b>bold</b>") */
  html(html: string): DisplayHandle;
  /** Show Markdown. @example display.markdown("# Title") */
  markdown(md: string): DisplayHandle;
  /** Show a PNG image: bytes or base64. @example display.png(fs.readFileSync("plot.png")) */
  png(png: Uint8Array | string, options?: { width?: number; height?: number }): DisplayHandle;
  /** Show an SVG image. @example display.svg('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>') */
  svg(svg: string): DisplayHandle;
  /** Show JSON as a collapsible tree. @example display.json({ a: 1 }) */
  json(value: unknown): DisplayHandle;
  /** Show a mime bundle as it is. @example display.bundle({ "text/plain": "hi", "text/html": "<i>hi</i>" }) */
  bundle(bundle: MimeBundle): DisplayHandle;
  /** Show text in the pager (Jupyter's help panel). @example display.page("long help text") */
  page(text: string | MimeBundle): void;
}

export const display: Display = Object.assign(
  (value: unknown): DisplayHandle => {
    const id = randomUUID();
    emit(toDisplayNow(value), id, false);
    return handle(id);
  },
  {
    html: (html: string) => bundleDisplay({ "text/html": html, "text/plain": "<HTML output>" }),
    markdown: (md: string) => bundleDisplay({ "text/markdown": md, "text/plain": md }),
    png(png: Uint8Array | string, options: { width?: number; height?: number } = {}): DisplayHandle {
      const b64 = typeof png === "string" ? png : Buffer.from(png).toString("base64");
      const id = randomUUID();
      const metadata: Record<string, unknown> = {};
      if (options.width || options.height) metadata["image/png"] = { ...options };
      emit({ data: { "image/png": b64, "text/plain": "<PNG image>" }, metadata }, id, false);
      return handle(id);
    },
    svg: (svg: string) => bundleDisplay({ "image/svg+xml": svg, "text/plain": "<SVG image>" }),
    json: (value: unknown) => bundleDisplay({ "application/json": value as object, "text/plain": JSON.stringify(value) }),
    bundle: (bundle: MimeBundle) => bundleDisplay(bundle),
    page(text: string | MimeBundle): void {
      const bundle = typeof text === "string" ? { "text/plain": text } : normaliseBundle(text).data;
      const b = bridge();
      if (b) b.page(bundle);
      else console.log(String(bundle["text/plain"] ?? ""));
    },
  },
);

/**
 * Clear the cell's output. With `wait: true` the output is cleared when the
 * next output arrives, which avoids flicker in animations.
 *
 * @example
 * clearOutput({ wait: true });
 */
export function clearOutput(options: { wait?: boolean } = {}): void {
  const b = bridge();
  if (b) b.clearOutput(options.wait === true);
}

/**
 * Ask the user for a line of text (Jupyter's stdin channel).
 *
 * @example
 * const name = await input("Your name: ");
 */
export async function input(prompt = "", options: { password?: boolean } = {}): Promise<string> {
  const b = bridge();
  if (!b) throw new Error("input() needs a Jupyter front end that allows stdin; none is connected");
  return b.input(prompt, options.password === true);
}
