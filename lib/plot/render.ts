/**
 * Static PNG rendering of vega-lite specs, in a worker thread, waited for
 * or not.
 *
 * vega renders asynchronously, but a plot must be ready when a cell's last
 * value is turned into a bundle (a synchronous method). So a worker thread
 * does the rendering (renderWorker.ts) and {@link renderVegaLitePng} waits for
 * it with `Atomics.wait`, then takes the answer with `receiveMessageOnPort`.
 * {@link renderVegaLitePngAsync} does not wait: a live plot (the Animator)
 * asks for a PNG and goes on training; the answer comes as a port message.
 * The worker starts on the first render (about half a second: it loads vega)
 * and is unref'd, so it never keeps a script alive (the port is ref'd only
 * while an asynchronous render is pending).
 */
import * as fs from "fs";
import * as path from "path";
import { setTimeout as realSetTimeout, clearTimeout as realClearTimeout } from "timers";
import { MessageChannel, MessagePort, Worker, receiveMessageOnPort } from "worker_threads";
import { plotFonts } from "./fonts";
import { rasterize } from "./raster";
import type { RenderReply, RenderRequest } from "./renderWorker";

/** Device pixels per CSS pixel in PNGs: sharp on high-density screens; metadata keeps the display size. */
export const PNG_SCALE = 2;

/** A PNG ready for a mime bundle. */
export interface RenderedPng {
  /** The PNG, base64 (as `image/png` is sent). */
  base64: string;
  /** Size to display at, in CSS pixels (the `image/png` metadata). */
  width: number;
  height: number;
  /** Size of the image itself, in pixels (`PNG_SCALE` times the display size). */
  pixelWidth: number;
  pixelHeight: number;
  /** How long rendering took, in milliseconds. */
  ms: number;
}

const TIMEOUT_MS = 60_000;

interface Pending {
  t0: number;
  resolve: (png: RenderedPng) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Renderer {
  worker: Worker;
  port: MessagePort;
  signal: Int32Array;
  nextId: number;
  /** Asynchronous requests waiting for their answer, by id. */
  pending: Map<number, Pending>;
}

let renderer: Renderer | undefined;
let broken: string | undefined;

function start(): Renderer {
  const file = path.join(__dirname, "renderWorker.js");
  if (!fs.existsSync(file)) throw new Error(`the plot render worker ${file} is missing; rebuild with \`npx tsc -p .\``);
  const { port1, port2 } = new MessageChannel();
  const flag = new SharedArrayBuffer(4);
  const worker = new Worker(file, { workerData: { port: port2, flag }, transferList: [port2] });
  worker.unref();
  const r: Renderer = { worker, port: port1, signal: new Int32Array(flag), nextId: 1, pending: new Map() };
  worker.on("error", (e) => {
    broken = `the plot render worker failed: ${e.message}`;
    if (renderer === r) renderer = undefined;
    failAll(r, broken);
  });
  worker.on("exit", () => {
    if (renderer === r) renderer = undefined;
    failAll(r, "the plot render worker stopped");
  });
  port1.on("message", (reply: RenderReply) => deliver(r, reply));
  port1.unref(); // ref'd only while an asynchronous render is pending
  return r;
}

function toPng(reply: Extract<RenderReply, { ok: true }>, t0: number): RenderedPng {
  return {
    base64: Buffer.from(reply.png).toString("base64"),
    width: Math.round(reply.svgWidth),
    height: Math.round(reply.svgHeight),
    pixelWidth: reply.width,
    pixelHeight: reply.height,
    ms: Date.now() - t0,
  };
}

/** Hand an answer to the asynchronous request waiting for it (answers nobody waits for are dropped). */
function deliver(r: Renderer, reply: RenderReply): void {
  const p = r.pending.get(reply.id);
  if (!p) return;
  r.pending.delete(reply.id);
  realClearTimeout(p.timer);
  if (r.pending.size === 0) r.port.unref();
  if (reply.ok) p.resolve(toPng(reply, p.t0));
  else p.reject(new Error(`vega could not render the plot: ${reply.error}`));
}

function failAll(r: Renderer, why: string): void {
  for (const [id, p] of r.pending) {
    r.pending.delete(id);
    realClearTimeout(p.timer);
    p.reject(new Error(why));
  }
  r.port.unref();
}

/**
 * Render a vega-lite spec (data inlined) to a PNG. Blocks until done; throws
 * with the reason if vega cannot render it.
 */
export function renderVegaLitePng(spec: object, scale: number = PNG_SCALE): RenderedPng {
  if (broken) throw new Error(broken);
  const t0 = Date.now();
  if (!renderer) renderer = start();
  const r = renderer;
  const id = r.nextId++;
  const req: RenderRequest = { id, spec, scale, fonts: plotFonts() };
  Atomics.store(r.signal, 0, 0);
  r.port.postMessage(req);
  const deadline = t0 + TIMEOUT_MS;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new Error(`rendering the plot to PNG took over ${TIMEOUT_MS / 1000} s; gave up (the vega-lite part of the plot is still shown)`);
    }
    Atomics.wait(r.signal, 0, 0, left);
    Atomics.store(r.signal, 0, 0);
    for (let m = receiveMessageOnPort(r.port); m; m = receiveMessageOnPort(r.port)) {
      const reply = m.message as RenderReply;
      if (reply.id !== id) {
        deliver(r, reply); // an asynchronous request's answer (or one to a request that timed out)
        continue;
      }
      if (!reply.ok) throw new Error(`vega could not render the plot: ${reply.error}`);
      return toPng(reply, t0);
    }
  }
}

/**
 * Render a vega-lite spec (data inlined) to a PNG without blocking: the
 * promise settles when the render worker answers (rejects with the reason if
 * vega cannot render it, or after a minute without an answer). The spec is
 * copied when this is called; later changes to it do not matter.
 */
export function renderVegaLitePngAsync(spec: object, scale: number = PNG_SCALE): Promise<RenderedPng> {
  if (broken) return Promise.reject(new Error(broken));
  let r: Renderer;
  try {
    if (!renderer) renderer = start();
    r = renderer;
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
  const t0 = Date.now();
  const id = r.nextId++;
  const req: RenderRequest = { id, spec, scale, fonts: plotFonts() };
  return new Promise<RenderedPng>((resolve, reject) => {
    const timer = realSetTimeout(() => {
      if (!r.pending.delete(id)) return;
      if (r.pending.size === 0) r.port.unref();
      reject(new Error(`rendering the plot to PNG took over ${TIMEOUT_MS / 1000} s; gave up (the vega-lite part of the plot is still shown)`));
    }, TIMEOUT_MS);
    timer.unref();
    r.pending.set(id, { t0, resolve, reject, timer });
    r.port.ref();
    try {
      r.port.postMessage(req);
    } catch (e) {
      r.pending.delete(id);
      realClearTimeout(timer);
      if (r.pending.size === 0) r.port.unref();
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
}

/** Render an SVG document (made by d2l, e.g. an image grid) to a PNG on this thread. */
export function renderSvgPng(svg: string, width: number, height: number, scale: number = PNG_SCALE): RenderedPng {
  const t0 = Date.now();
  const r = rasterize(svg, scale, plotFonts());
  return { base64: r.png.toString("base64"), width, height, pixelWidth: r.width, pixelHeight: r.height, ms: Date.now() - t0 };
}

/** Stop the render worker (tests; a later render starts a new one). */
export function stopRenderer(): Promise<number> | undefined {
  const r = renderer;
  renderer = undefined;
  if (!r) return undefined;
  failAll(r, "the plot render worker was stopped");
  r.port.close();
  return r.worker.terminate();
}
