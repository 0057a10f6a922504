/**
 * The render thread: vega-lite spec → vega View (renderer "none") → SVG →
 * PNG. vega's rendering is asynchronous; plots must often be made
 * synchronously (a cell's last value renders through a synchronous method),
 * so the main thread posts a request here and may block on a shared flag
 * until the answer is on the port; or it goes on and takes the answer as a
 * message when it comes (live plots; see render.ts). Every answer sets the
 * flag.
 */
import { isMainThread, MessagePort, workerData } from "worker_threads";
import { FontConfig, FontMetrics, loadFontMetrics } from "./fonts";
import { rasterize } from "./raster";

interface VegaLite {
  compile(spec: object, opt?: { logger?: object }): { spec: object };
}
interface VegaView {
  toSVG(scale?: number): Promise<string>;
  finalize(): void;
}
interface TextItem {
  fontSize?: number | string;
  fontWeight?: number | string;
  limit?: number;
  text?: unknown;
}
interface Vega {
  parse(spec: object): object;
  textMetrics: { width: (item: TextItem, text?: unknown) => number; estimateWidth: (item: TextItem, text?: unknown) => number };
  View: new (runtime: object, opt: { renderer: string; logLevel: number }) => VegaView;
  Error: number;
}

/** A request from render.ts. */
export interface RenderRequest {
  id: number;
  spec: object;
  scale: number;
  fonts: FontConfig;
}

/** The answer to a {@link RenderRequest}. */
export type RenderReply = { id: number; ok: true; png: Uint8Array; width: number; height: number; svgWidth: number; svgHeight: number } | { id: number; ok: false; error: string };

let libs: { vl: VegaLite; vega: Vega } | undefined;
let loadError: string | undefined;
function load(): void {
  if (libs || loadError) return;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    libs = { vl: require("vega-lite") as VegaLite, vega: require("vega") as Vega };
  } catch (e) {
    loadError = `cannot load vega / vega-lite: ${(e as Error).message}`;
  }
}

/**
 * Measure text with the font the PNG is drawn with (vega has no canvas here
 * and would guess 0.8 em per character, leaving wide gaps around labels).
 */
let metricsFor = "";
function useFontMetrics(vega: Vega, fonts: FontConfig): void {
  const key = fonts.files.join("\n");
  if (key === metricsFor) return;
  metricsFor = key;
  const regular = fonts.files.length > 0 ? loadFontMetrics(fonts.files[0]) : undefined;
  if (!regular) {
    vega.textMetrics.width = vega.textMetrics.estimateWidth;
    return;
  }
  const boldFile = fonts.files.slice(1).find((f) => /bold/i.test(f));
  const bold: FontMetrics = (boldFile && loadFontMetrics(boldFile)) || regular;
  vega.textMetrics.width = (item: TextItem, text?: unknown): number => {
    const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
    const raw = text === undefined ? item.text : text;
    const lines = Array.isArray(raw) ? raw : [raw];
    const w = item.fontWeight === "bold" || Number(item.fontWeight) >= 600 ? bold : regular;
    let width = 0;
    for (const line of lines) width = Math.max(width, w.width(line == null ? "" : String(line).trim(), size));
    return item.limit && item.limit > 0 ? Math.min(width, item.limit) : width;
  };
}

const quiet = { level: () => quiet, info: () => quiet, debug: () => quiet, warn: () => quiet, error: () => quiet };

async function render(req: RenderRequest): Promise<RenderReply> {
  load();
  if (!libs) return { id: req.id, ok: false, error: loadError ?? "vega is not loaded" };
  const { vl, vega } = libs;
  useFontMetrics(vega, req.fonts);
  const compiled = vl.compile(req.spec, { logger: quiet }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Error });
  try {
    const svg = await view.toSVG();
    const m = /^<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
    const r = rasterize(svg, req.scale, req.fonts);
    return {
      id: req.id,
      ok: true,
      png: r.png,
      width: r.width,
      height: r.height,
      svgWidth: m ? Number(m[1]) : r.width / req.scale,
      svgHeight: m ? Number(m[2]) : r.height / req.scale,
    };
  } finally {
    view.finalize();
  }
}

/** Serve requests on the port render.ts handed over; do nothing when loaded any other way. */
function serve(port: MessagePort, flag: SharedArrayBuffer): void {
  const signal = new Int32Array(flag);
  const answer = (reply: RenderReply): void => {
    port.postMessage(reply);
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
  };
  const reason = (e: unknown): string => (e as Error)?.message ?? String(e);
  port.on("message", (req: RenderRequest) => {
    render(req)
      .catch((e: unknown): RenderReply => ({ id: req.id, ok: false, error: reason(e) }))
      .then(answer)
      // Posting the reply threw (it could not be cloned): answer with why, so the caller does not wait out its timeout.
      .catch((e: unknown) => answer({ id: req.id, ok: false, error: `the render worker could not send its reply: ${reason(e)}` }))
      // Posting threw again: the port is closed and nobody is waiting for an answer.
      .catch(() => undefined);
  });
}

const data = workerData as { port?: MessagePort; flag?: SharedArrayBuffer } | null;
if (!isMainThread && data?.port && data.flag) serve(data.port, data.flag);
