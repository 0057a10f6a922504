/**
 * `d2l.plotly`: interactive plotly.js figures for what vega-lite draws badly
 * (3-D surfaces of a loss landscape, 3-D point clouds), as mime bundles:
 *
 * - `application/vnd.plotly.v1+json` (the figure): interactive where a front
 *   end renders it (JupyterLab with the plotly extension, classic Notebook
 *   with d2l-ts' nbextension, HTML from `d2l-ts export`, which inlines
 *   plotly.js once);
 * - `image/png`: a static preview d2l draws itself (plotly.js needs a
 *   browser; none runs in the kernel). It covers the common trace types
 *   (surface as a shaded, projected mesh; scatter3d; scatter lines and
 *   markers; bar; heatmap and contour as coloured cells) with plotly's
 *   default camera and colours. It is a faithful sketch, not plotly's
 *   rendering; trace types it cannot draw are named in the image;
 * - `text/plain`: one line.
 *
 * No `text/html` (DESIGN.md: JupyterLab would prefer it to the richer renderer).
 */
import type { Tensor } from "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs";
import { Figure, figureFrom, type DisplayBundle, type ReadValues } from "./figure";
import { renderSvgPng } from "./render";
import { fmtNum } from "./spec";

/**
 * The mime type of a plotly figure (`{ data, layout, config }`), as plotly's
 * Python package and its JupyterLab extension use it.
 *
 * @example
 * const fig = d2l.plotly([{ type: "surface", z: [[1, 2], [3, 4]] }]).bundle()[d2l.PLOTLY_MIME];
 */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** Values of a trace attribute such as x, y, z: numbers, rows of numbers, a typed array or a tensor. */
export type PlotlyValues = ReadonlyArray<number | null> | ReadonlyArray<ReadonlyArray<number | null>> | ArrayLike<number> | Tensor;

/**
 * One plotly.js trace: `type` ("scatter" when absent, "surface", "scatter3d",
 * "heatmap", "contour", "bar", or any other plotly type), `x`, `y`, `z` and
 * whatever plotly.js attributes you like (they are passed on as they are).
 */
export interface PlotlyTrace {
  type?: string;
  name?: string;
  /** scatter: "lines", "markers", "lines+markers" (plotly's default: lines when over 20 points). */
  mode?: string;
  x?: PlotlyValues;
  y?: PlotlyValues;
  z?: PlotlyValues;
  [attribute: string]: unknown;
}

/** A plotly.js layout: title, size, axes, scene (3-D); other attributes are passed on. */
export interface PlotlyLayout {
  title?: string | { text?: string };
  /** Width in CSS pixels (default 560 for the static preview; plotly sizes to its container). */
  width?: number;
  /** Height in CSS pixels (default 420). */
  height?: number;
  xaxis?: { title?: string | { text?: string }; [attribute: string]: unknown };
  yaxis?: { title?: string | { text?: string }; [attribute: string]: unknown };
  /** 3-D scene: axis titles and camera (`camera.eye`, default `{ x: 1.25, y: 1.25, z: 1.25 }`). */
  scene?: {
    xaxis?: { title?: string | { text?: string }; [attribute: string]: unknown };
    yaxis?: { title?: string | { text?: string }; [attribute: string]: unknown };
    zaxis?: { title?: string | { text?: string }; [attribute: string]: unknown };
    camera?: { eye?: { x: number; y: number; z: number }; [attribute: string]: unknown };
    [attribute: string]: unknown;
  };
  [attribute: string]: unknown;
}

/** A whole plotly figure, as plotly.js' `newPlot(div, data, layout, config)` takes it. */
export interface PlotlyFigureSpec {
  data: PlotlyTrace[];
  layout?: PlotlyLayout;
  config?: Record<string, unknown>;
}

/** The JSON a plotly bundle carries: tensors and typed arrays turned into plain arrays. */
export interface PlotlyJson {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  config: Record<string, unknown>;
}

/**
 * A plotly figure (what {@link plotly} returns): shows itself as a cell's last
 * value, or with `.show()`, like every d2l figure.
 *
 * @example
 * const fig = d2l.plotly([{ type: "surface", z: [[0, 1], [1, 0]] }]);
 * fig.figure.data[0].type; // "surface"
 */
export class PlotlyFigure extends Figure {
  private json: PlotlyJson;

  /**
   * @param figure the figure as plain JSON (what the plotly mime type carries)
   * @param make builds the bundle
   * @param text the text/plain line
   */
  constructor(figure: PlotlyJson, make: () => DisplayBundle, text: string) {
    super(make, text);
    this.json = figure;
  }

  /**
   * The figure as plain JSON. Throws while the figure waits for tensors on
   * the GPU: `await fig.ready()` first (see {@link Figure}).
   *
   * @example
   * d2l.plotly([{ type: "scatter", x: [1, 2], y: [3, 4] }]).figure.data[0].y; // [3, 4]
   */
  get figure(): PlotlyJson {
    this.mustBeReady("figure");
    return this.json;
  }

  /** Take over the JSON of the figure built once the values were read. */
  protected override adopt(built: Figure): void {
    super.adopt(built);
    if (built instanceof PlotlyFigure) this.json = built.json;
  }
}

const DEFAULT_W = 560;
const DEFAULT_H = 420;
/** plotly.js' default colorway (d3's category10). */
const COLORWAY = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
/** plotly.js' default colour scale (its "RdBu": blue low, grey middle, red high), as stops. */
const PLOTLY_DEFAULT: [number, string][] = [
  [0, "#050aac"],
  [0.35, "#6a89f7"],
  [0.5, "#bebebe"],
  [0.6, "#dcaa84"],
  [0.7, "#e6915a"],
  [1, "#b20a1c"],
];
/** Viridis, as stops. */
const VIRIDIS: [number, string][] = [
  [0, "#440154"],
  [0.111, "#482878"],
  [0.222, "#3e4989"],
  [0.333, "#31688e"],
  [0.444, "#26828e"],
  [0.556, "#1f9e89"],
  [0.667, "#35b779"],
  [0.778, "#6ece58"],
  [0.889, "#b5de2b"],
  [1, "#fde725"],
];
const NAMED_SCALES: Record<string, [number, string][]> = {
  viridis: VIRIDIS,
  greys: [
    [0, "#000000"],
    [1, "#ffffff"],
  ],
  blues: [
    [0, "#08306b"],
    [1, "#f7fbff"],
  ],
  rdbu: PLOTLY_DEFAULT,
  hot: [
    [0, "#000000"],
    [0.3, "#e60000"],
    [0.6, "#ffd200"],
    [1, "#ffffff"],
  ],
};
const THREE_D = new Set(["surface", "scatter3d"]);
const TWO_D = new Set(["scatter", "scattergl", "bar", "heatmap", "contour"]);

function isTensor(v: unknown): v is Tensor {
  return typeof v === "object" && v !== null && Array.isArray((v as { shape?: unknown }).shape) && "dataId" in v;
}

/** Tensors and typed arrays to plain arrays, recursively (what JSON can carry). */
function plain(v: unknown, where: string, read: ReadValues): unknown {
  if (isTensor(v)) {
    if (read.disposed(v)) throw new Error(`plotly: ${where} is a disposed tensor; pass it before disposing it (or pass await t.array())`);
    const flat = read(v);
    return v.rank === 0 ? flat[0] : tf.util.toNestedArray(v.shape, flat);
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) return v.map((e, i) => plain(e, `${where}[${i}]`, read));
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(v)) out[k] = plain(e, `${where}.${k}`, read);
    return out;
  }
  if (typeof v === "function" || typeof v === "symbol" || typeof v === "bigint") {
    throw new Error(`plotly: ${where} is a ${typeof v}; a plotly figure is JSON (numbers, strings, arrays, objects)`);
  }
  return v;
}

function vector(v: unknown, what: string): (number | null)[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new Error(`plotly: ${what} must be an array of numbers (or a 1-D tensor); got ${typeof v}`);
  return v.map((e, i) => {
    if (e === null || (typeof e === "number" && Number.isFinite(e))) return e as number | null;
    if (typeof e === "number") return null;
    throw new Error(`plotly: ${what}[${i}] is ${JSON.stringify(e)}; expected a number (or null for a gap)`);
  });
}

function matrix(v: unknown, what: string): (number | null)[][] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((r) => Array.isArray(r))) {
    throw new Error(`plotly: ${what} must be a 2-D array (rows of numbers) or a 2-D tensor; got ${Array.isArray(v) ? "a 1-D array" : typeof v}`);
  }
  const rows = v as unknown[][];
  const n = rows[0].length;
  if (n === 0) throw new Error(`plotly: ${what} has empty rows; expected rows of numbers`);
  return rows.map((r, i) => {
    if (r.length !== n) throw new Error(`plotly: ${what} row ${i} has ${r.length} values but row 0 has ${n}; all rows must be as long`);
    return vector(r, `${what}[${i}]`) as (number | null)[];
  });
}

function titleOf(t: unknown): string {
  if (typeof t === "string") return t;
  if (typeof t === "object" && t !== null && typeof (t as { text?: unknown }).text === "string") return (t as { text: string }).text;
  return "";
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function hexToRgb(h: string): [number, number, number] {
  const m = /^#?([0-9a-f]{6})$/i.exec(h.trim());
  if (!m) return [128, 128, 128];
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function scaleOf(cs: unknown): [number, string][] {
  if (typeof cs === "string" && NAMED_SCALES[cs.toLowerCase()]) return NAMED_SCALES[cs.toLowerCase()];
  if (Array.isArray(cs) && cs.length >= 2 && cs.every((s) => Array.isArray(s) && typeof s[0] === "number" && typeof s[1] === "string" && /^#[0-9a-f]{6}$/i.test(s[1]))) {
    return cs as [number, string][];
  }
  return PLOTLY_DEFAULT;
}

function colorAt(scale: [number, string][], t: number): string {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  let i = 0;
  while (i < scale.length - 2 && u > scale[i + 1][0]) i++;
  const [a, ca] = scale[i];
  const [b, cb] = scale[i + 1];
  const f = b > a ? (u - a) / (b - a) : 0;
  const x = hexToRgb(ca);
  const y = hexToRgb(cb);
  const c = x.map((v, k) => Math.round(v + (y[k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function traceColor(t: Record<string, unknown>, k: number): string {
  const line = t.line as { color?: unknown } | undefined;
  const marker = t.marker as { color?: unknown } | undefined;
  if (typeof line?.color === "string") return line.color;
  if (typeof marker?.color === "string") return marker.color;
  return COLORWAY[k % COLORWAY.length];
}

/** About `n` round tick values covering [lo, hi]. */
function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function extent(vals: Iterable<number | null>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of vals) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 1, hi + 1];
  return [lo, hi];
}

const FONT = `font-family="sans-serif"`;

function text(x: number, y: number, s: string, size: number, anchor = "middle", extra = ""): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT} font-size="${size}" text-anchor="${anchor}" fill="#2a3f5f"${extra}>${esc(s)}</text>`;
}

interface Canvas {
  w: number;
  h: number;
  parts: string[];
  notes: string[];
}

/** Heatmap/contour/surface z range and scale, for a colour bar. */
interface ColorBar {
  lo: number;
  hi: number;
  scale: [number, string][];
}

function drawColorBar(c: Canvas, bar: ColorBar, x: number, y0: number, y1: number): void {
  const steps = 32;
  const hh = (y1 - y0) / steps;
  for (let i = 0; i < steps; i++) {
    const t = 1 - (i + 0.5) / steps;
    c.parts.push(`<rect x="${x}" y="${(y0 + i * hh).toFixed(1)}" width="12" height="${(hh + 0.6).toFixed(1)}" fill="${colorAt(bar.scale, t)}"/>`);
  }
  for (const v of niceTicks(bar.lo, bar.hi, 4)) {
    const y = y1 - ((v - bar.lo) / (bar.hi - bar.lo)) * (y1 - y0);
    c.parts.push(text(x + 16, y + 3, fmtNum(v), 10, "start"));
  }
}

/** Cell edges around centres: midpoints, and half a step beyond each end (as plotly draws heatmap cells). */
function edges(c: (number | null)[]): number[] {
  const v = c.map((x, i) => (x === null ? i : x));
  if (v.length === 1) return [v[0] - 0.5, v[0] + 0.5];
  const out = [v[0] - (v[1] - v[0]) / 2];
  for (let i = 0; i + 1 < v.length; i++) out.push((v[i] + v[i + 1]) / 2);
  out.push(v[v.length - 1] + (v[v.length - 1] - v[v.length - 2]) / 2);
  return out;
}

/** Smallest gap between distinct sorted values (1 when there is none). */
function minStep(vals: (number | null)[]): number {
  const v = [...new Set(vals.filter((x): x is number => x !== null))].sort((a, b) => a - b);
  let m = Infinity;
  for (let i = 0; i + 1 < v.length; i++) m = Math.min(m, v[i + 1] - v[i]);
  return Number.isFinite(m) ? m : 1;
}

/** 2-D traces on one pair of axes. */
function draw2d(c: Canvas, traces: Record<string, unknown>[], layout: Record<string, unknown>): void {
  const xs: (number | null)[] = [];
  const ys: (number | null)[] = [];
  let bar: ColorBar | undefined;
  const nBars = traces.filter((t) => t.type === "bar").length;
  let barStep = Infinity;
  const prepared = traces.map((t, k) => {
    const type = String(t.type ?? "scatter");
    if (type === "heatmap" || type === "contour") {
      const z = matrix(t.z, `data[${k}].z`);
      const xe = edges(vector(t.x, `data[${k}].x`) ?? z[0].map((_, i) => i));
      const ye = edges(vector(t.y, `data[${k}].y`) ?? z.map((_, i) => i));
      if (xe.length - 1 !== z[0].length) throw new Error(`plotly: data[${k}].x has ${xe.length - 1} values but z has ${z[0].length} columns; give one x per column`);
      if (ye.length - 1 !== z.length) throw new Error(`plotly: data[${k}].y has ${ye.length - 1} values but z has ${z.length} rows; give one y per row`);
      xs.push(xe[0], xe[xe.length - 1]);
      ys.push(ye[0], ye[ye.length - 1]);
      const [lo, hi] = extent(z.flat());
      bar = { lo, hi, scale: scaleOf(t.colorscale) };
      return { type, t, k, x: xe, y: ye, z, lo, hi };
    }
    const y = vector(t.y, `data[${k}].y`) ?? [];
    const x = vector(t.x, `data[${k}].x`) ?? y.map((_, i) => i);
    if (x.length !== y.length) throw new Error(`plotly: data[${k}] has ${x.length} x values and ${y.length} y values; give as many of each`);
    xs.push(...x);
    ys.push(...y);
    if (type === "bar") {
      ys.push(0);
      barStep = Math.min(barStep, minStep(x));
    }
    return { type, t, k, x, y, z: undefined, lo: 0, hi: 0 };
  });
  if (nBars > 0) {
    const [a, b] = extent(xs);
    xs.push(a - barStep / 2, b + barStep / 2);
  }
  const [x0, x1] = extent(xs);
  const [y0, y1] = extent(ys);
  const left = 64;
  const right = c.w - (bar ? 70 : 20);
  const top = 46;
  const bottom = c.h - 52;
  const X = (v: number): number => left + ((v - x0) / (x1 - x0)) * (right - left);
  const Y = (v: number): number => bottom - ((v - y0) / (y1 - y0)) * (bottom - top);
  c.parts.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="#e5ecf6"/>`);
  for (const v of niceTicks(x0, x1)) {
    c.parts.push(`<line x1="${X(v).toFixed(1)}" y1="${top}" x2="${X(v).toFixed(1)}" y2="${bottom}" stroke="white"/>`);
    c.parts.push(text(X(v), bottom + 15, fmtNum(v), 11));
  }
  for (const v of niceTicks(y0, y1)) {
    c.parts.push(`<line x1="${left}" y1="${Y(v).toFixed(1)}" x2="${right}" y2="${Y(v).toFixed(1)}" stroke="white"/>`);
    c.parts.push(text(left - 6, Y(v) + 4, fmtNum(v), 11, "end"));
  }
  const legend: [string, string, number][] = [];
  let barIndex = 0;
  // As plotly layers them: heatmaps, then bars, then lines and markers.
  const rank = (p: (typeof prepared)[number]): number => (p.z ? 0 : p.type === "bar" ? 1 : 2);
  for (const p of [...prepared].sort((a, b) => rank(a) - rank(b))) {
    const color = traceColor(p.t, p.k);
    if (p.z) {
      const scale = scaleOf(p.t.colorscale);
      for (let i = 0; i < p.z.length; i++) {
        for (let j = 0; j < p.z[i].length; j++) {
          const v = p.z[i][j];
          if (v === null) continue;
          const xa = X(p.x[j]);
          const xb = X(p.x[j + 1]);
          const ya = Y(p.y[i]);
          const yb = Y(p.y[i + 1]);
          const fill = colorAt(scale, (v - p.lo) / (p.hi - p.lo));
          c.parts.push(
            `<rect class="cell" x="${Math.min(xa, xb).toFixed(1)}" y="${Math.min(ya, yb).toFixed(1)}" width="${(Math.abs(xb - xa) + 0.5).toFixed(1)}" height="${(Math.abs(yb - ya) + 0.5).toFixed(1)}" fill="${fill}"/>`,
          );
        }
      }
      continue;
    }
    if (p.type === "bar") {
      // plotly groups bars: 80% of the smallest x step, shared by the bar traces side by side.
      const group = (0.8 * barStep) / nBars;
      const offset = -0.4 * barStep + group * barIndex++;
      p.x.forEach((xv, i) => {
        const yv = p.y[i];
        if (xv === null || yv === null) return;
        const xa = X(xv + offset);
        const xb = X(xv + offset + group);
        const ya = Y(Math.max(0, yv));
        const yb = Y(Math.min(0, yv));
        c.parts.push(
          `<rect x="${xa.toFixed(1)}" y="${ya.toFixed(1)}" width="${Math.max(0.5, xb - xa).toFixed(1)}" height="${Math.max(0.5, yb - ya).toFixed(1)}" fill="${color}"/>`,
        );
      });
    } else {
      const mode = typeof p.t.mode === "string" ? p.t.mode : p.x.length > 20 ? "lines" : "lines+markers";
      if (mode.includes("lines")) {
        let d = "";
        let pen = false;
        p.x.forEach((xv, i) => {
          const yv = p.y[i];
          if (xv === null || yv === null) {
            pen = false;
            return;
          }
          d += `${pen ? "L" : "M"}${X(xv).toFixed(1)},${Y(yv).toFixed(1)}`;
          pen = true;
        });
        if (d) c.parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
      }
      if (mode.includes("markers")) {
        p.x.forEach((xv, i) => {
          const yv = p.y[i];
          if (xv !== null && yv !== null) c.parts.push(`<circle cx="${X(xv).toFixed(1)}" cy="${Y(yv).toFixed(1)}" r="3.5" fill="${color}"/>`);
        });
      }
    }
    legend.push([typeof p.t.name === "string" ? p.t.name : `trace ${p.k}`, color, p.k]);
  }
  legend.sort((a, b) => a[2] - b[2]);
  if (legend.length > 1 || (legend.length === 1 && typeof prepared.find((p) => !p.z)?.t.name === "string")) {
    const lw = Math.max(...legend.map(([name]) => name.length)) * 6.5 + 30;
    c.parts.push(`<rect x="${(right - lw - 6).toFixed(1)}" y="${top + 4}" width="${lw.toFixed(1)}" height="${legend.length * 16 + 6}" fill="white" fill-opacity="0.8"/>`);
    legend.forEach(([name, color], i) => {
      const y = top + 18 + i * 16;
      c.parts.push(`<rect x="${(right - lw).toFixed(1)}" y="${y - 6}" width="14" height="4" fill="${color}"/>`);
      c.parts.push(text(right - lw + 18, y, name, 11, "start"));
    });
  }
  const xa = layout.xaxis as { title?: unknown } | undefined;
  const ya = layout.yaxis as { title?: unknown } | undefined;
  const xt = titleOf(xa?.title);
  const yt = titleOf(ya?.title);
  if (xt) c.parts.push(text((left + right) / 2, c.h - 14, xt, 13));
  if (yt) c.parts.push(text(16, (top + bottom) / 2, yt, 13, "middle", ` transform="rotate(-90 16 ${((top + bottom) / 2).toFixed(1)})"`));
  if (bar) drawColorBar(c, bar, right + 12, top, bottom);
}

type V3 = [number, number, number];
const sub = (a: V3, b: V3): V3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: V3, b: V3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const unit = (a: V3): V3 => {
  const n = Math.hypot(a[0], a[1], a[2]) || 1;
  return [a[0] / n, a[1] / n, a[2] / n];
};

/** 3-D traces (surface, scatter3d) in plotly's default scene: a cube seen from camera.eye, perspective. */
function draw3d(c: Canvas, traces: Record<string, unknown>[], layout: Record<string, unknown>): void {
  const scene = (layout.scene ?? {}) as { camera?: { eye?: { x?: unknown; y?: unknown; z?: unknown } }; [k: string]: unknown };
  const e = scene.camera?.eye;
  const eye: V3 = e && typeof e.x === "number" && typeof e.y === "number" && typeof e.z === "number" ? [e.x, e.y, e.z] : [1.25, 1.25, 1.25];
  // Data to the cube [-1, 1]^3 (plotly's aspectmode "auto" for data of similar ranges: a cube), then scaled by 1/2 as plotly's scene.
  const all: { x: number[]; y: number[]; z: number[] } = { x: [], y: [], z: [] };
  let bar: ColorBar | undefined;
  const prepared = traces.map((t, k) => {
    const type = String(t.type);
    if (type === "surface") {
      const z = matrix(t.z, `data[${k}].z`);
      const x = vector(t.x, `data[${k}].x`) ?? z[0].map((_, i) => i);
      const y = vector(t.y, `data[${k}].y`) ?? z.map((_, i) => i);
      if (x.length !== z[0].length) throw new Error(`plotly: data[${k}].x has ${x.length} values but z has ${z[0].length} columns; surface x runs along z's columns`);
      if (y.length !== z.length) throw new Error(`plotly: data[${k}].y has ${y.length} values but z has ${z.length} rows; surface y runs along z's rows`);
      for (const v of x) if (v !== null) all.x.push(v);
      for (const v of y) if (v !== null) all.y.push(v);
      for (const r of z) for (const v of r) if (v !== null) all.z.push(v);
      return { type, t, k, x, y, z };
    }
    const x = vector(t.x, `data[${k}].x`) ?? [];
    const y = vector(t.y, `data[${k}].y`) ?? [];
    const z = vector(t.z, `data[${k}].z`) ?? [];
    if (x.length !== y.length || y.length !== z.length)
      throw new Error(`plotly: data[${k}] (scatter3d) has ${x.length} x, ${y.length} y and ${z.length} z values; give as many of each`);
    for (let i = 0; i < x.length; i++) {
      if (x[i] === null || y[i] === null || z[i] === null) continue;
      all.x.push(x[i] as number);
      all.y.push(y[i] as number);
      all.z.push(z[i] as number);
    }
    return { type, t, k, x, y, z: [z] };
  });
  const ex = extent(all.x);
  const ey = extent(all.y);
  const ez = extent(all.z);
  const norm = (v: number, [lo, hi]: [number, number]): number => ((v - lo) / (hi - lo)) * 2 - 1;
  const P = (x: number, y: number, z: number): V3 => [norm(x, ex), norm(y, ey), norm(z, ez)];
  const f = unit(sub([0, 0, 0], eye.map((v) => v * 2) as V3));
  const r = unit(cross(f, [0, 0, 1]));
  const u = cross(r, f);
  const cam: V3 = eye.map((v) => v * 2) as V3;
  const proj = (p: V3): [number, number, number] => {
    const d = sub(p, cam);
    const depth = dot(d, f);
    return [dot(d, r) / depth, dot(d, u) / depth, depth];
  };
  // Fit the cube's corners into the drawing area.
  const corners: V3[] = [];
  for (const a of [-1, 1]) for (const b of [-1, 1]) for (const cc of [-1, 1]) corners.push([a, b, cc]);
  const pc = corners.map(proj);
  const [sx0, sx1] = extent(pc.map((p) => p[0]));
  const [sy0, sy1] = extent(pc.map((p) => p[1]));
  const barW = prepared.some((p) => p.type === "surface") ? 70 : 0;
  const area = { left: 50, right: c.w - 30 - barW, top: 44, bottom: c.h - 30 };
  const s = Math.min((area.right - area.left) / (sx1 - sx0), (area.bottom - area.top) / (sy1 - sy0));
  const ox = (area.left + area.right) / 2 - ((sx0 + sx1) / 2) * s;
  const oy = (area.top + area.bottom) / 2 + ((sy0 + sy1) / 2) * s;
  const S = (p: V3): [number, number, number] => {
    const q = proj(p);
    return [ox + q[0] * s, oy - q[1] * s, q[2]];
  };
  // The cube: its edges, tick labels along three edges nearest the viewer's lower side, axis titles.
  const edge = (a: V3, b: V3, color = "#c8d4e3"): void => {
    const pa = S(a);
    const pb = S(b);
    c.parts.push(`<line x1="${pa[0].toFixed(1)}" y1="${pa[1].toFixed(1)}" x2="${pb[0].toFixed(1)}" y2="${pb[1].toFixed(1)}" stroke="${color}"/>`);
  };
  // The three back faces are shaded like plotly's scene background.
  const backX = eye[0] > 0 ? -1 : 1;
  const backY = eye[1] > 0 ? -1 : 1;
  const backZ = eye[2] > 0 ? -1 : 1;
  const face = (pts: V3[]): void => {
    const q = pts.map(S);
    c.parts.push(`<polygon points="${q.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(" ")}" fill="#e5ecf6" stroke="white"/>`);
  };
  face([
    [backX, -1, -1],
    [backX, 1, -1],
    [backX, 1, 1],
    [backX, -1, 1],
  ]);
  face([
    [-1, backY, -1],
    [1, backY, -1],
    [1, backY, 1],
    [-1, backY, 1],
  ]);
  face([
    [-1, -1, backZ],
    [1, -1, backZ],
    [1, 1, backZ],
    [-1, 1, backZ],
  ]);
  // Grid lines on the back faces at the tick values.
  const tx = niceTicks(ex[0], ex[1], 4);
  const ty = niceTicks(ey[0], ey[1], 4);
  const tz = niceTicks(ez[0], ez[1], 4);
  for (const v of tx) {
    const a = norm(v, ex);
    edge([a, backY, -1], [a, backY, 1], "white");
    edge([a, -1, backZ], [a, 1, backZ], "white");
  }
  for (const v of ty) {
    const a = norm(v, ey);
    edge([backX, a, -1], [backX, a, 1], "white");
    edge([-1, a, backZ], [1, a, backZ], "white");
  }
  for (const v of tz) {
    const a = norm(v, ez);
    edge([backX, -1, a], [backX, 1, a], "white");
    edge([-1, backY, a], [1, backY, a], "white");
  }
  // Tick labels on the front edges of the floor (x and y) and a front vertical edge (z).
  const fy = -backY;
  const fx = -backX;
  const label = (p: V3, s: string, size = 10, anchor = "middle"): void => {
    const q = S(p);
    c.parts.push(text(q[0], q[1], s, size, anchor));
  };
  for (const v of tx) label([norm(v, ex), fy * 1.18, backZ * 1.05], fmtNum(v));
  for (const v of ty) label([fx * 1.18, norm(v, ey), backZ * 1.05], fmtNum(v));
  for (const v of tz) label([fx * 1.08, backY, norm(v, ez)], fmtNum(v), 10, "end");
  const sc = layout.scene as { xaxis?: { title?: unknown }; yaxis?: { title?: unknown }; zaxis?: { title?: unknown } } | undefined;
  label([0, fy * 1.45, backZ * 1.1], titleOf(sc?.xaxis?.title) || "x", 12);
  label([fx * 1.45, 0, backZ * 1.1], titleOf(sc?.yaxis?.title) || "y", 12);
  label([fx * 1.25, backY, 1.2], titleOf(sc?.zaxis?.title) || "z", 12);

  // Surfaces: quads, far ones first (painter's algorithm), coloured by their mean z; scatter3d after.
  const quads: { depth: number; pts: string; fill: string }[] = [];
  for (const p of prepared) {
    if (p.type !== "surface") continue;
    const scale = scaleOf(p.t.colorscale);
    bar = { lo: ez[0], hi: ez[1], scale };
    const z = p.z as (number | null)[][];
    // Thin out big grids: about 60 x 60 quads look the same and keep the SVG small.
    const si = Math.max(1, Math.ceil(z.length / 60));
    const sj = Math.max(1, Math.ceil(z[0].length / 60));
    const rows: number[] = [];
    for (let i = 0; i < z.length; i += si) rows.push(i);
    if (rows[rows.length - 1] !== z.length - 1) rows.push(z.length - 1);
    const cols: number[] = [];
    for (let j = 0; j < z[0].length; j += sj) cols.push(j);
    if (cols[cols.length - 1] !== z[0].length - 1) cols.push(z[0].length - 1);
    for (let a = 0; a + 1 < rows.length; a++) {
      for (let b = 0; b + 1 < cols.length; b++) {
        const idx: [number, number][] = [
          [rows[a], cols[b]],
          [rows[a], cols[b + 1]],
          [rows[a + 1], cols[b + 1]],
          [rows[a + 1], cols[b]],
        ];
        const pts: V3[] = [];
        let zsum = 0;
        let ok = true;
        for (const [i, j] of idx) {
          const zv = z[i][j];
          const xv = p.x[j];
          const yv = p.y[i];
          if (zv === null || xv === null || yv === null) {
            ok = false;
            break;
          }
          zsum += zv;
          pts.push(P(xv, yv, zv));
        }
        if (!ok) continue;
        const q = pts.map(S);
        const fill = colorAt(scale, (zsum / 4 - ez[0]) / (ez[1] - ez[0]));
        quads.push({ depth: q.reduce((m, v) => m + v[2], 0) / 4, pts: q.map((v) => `${v[0].toFixed(1)},${v[1].toFixed(1)}`).join(" "), fill });
      }
    }
  }
  quads.sort((a, b) => b.depth - a.depth);
  for (const q of quads) c.parts.push(`<polygon class="quad" points="${q.pts}" fill="${q.fill}" stroke="${q.fill}" stroke-width="0.6" stroke-linejoin="round"/>`);
  let n3 = 0;
  for (const p of prepared) {
    if (p.type !== "scatter3d") continue;
    const color = traceColor(p.t, p.k + n3++);
    const zs = p.z[0];
    const mode = typeof p.t.mode === "string" ? p.t.mode : "lines+markers";
    const pts: ([number, number, number] | null)[] = p.x.map((xv, i) => {
      const yv = p.y[i];
      const zv = zs[i];
      return xv === null || yv === null || zv === null ? null : S(P(xv, yv, zv));
    });
    if (mode.includes("lines")) {
      let d = "";
      let pen = false;
      for (const q of pts) {
        if (!q) {
          pen = false;
          continue;
        }
        d += `${pen ? "L" : "M"}${q[0].toFixed(1)},${q[1].toFixed(1)}`;
        pen = true;
      }
      if (d) c.parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    if (mode.includes("markers")) for (const q of pts) if (q) c.parts.push(`<circle cx="${q[0].toFixed(1)}" cy="${q[1].toFixed(1)}" r="3" fill="${color}"/>`);
  }
  if (bar) drawColorBar(c, bar, c.w - 30 - barW + 24, area.top + 10, area.bottom - 10);
}

/** The static preview: an SVG d2l draws itself, rendered to PNG with resvg (exported for tests, not part of d2l). */
export function staticSvg(fig: PlotlyJson): { svg: string; width: number; height: number } {
  const layout = fig.layout;
  const w = typeof layout.width === "number" && layout.width >= 100 && layout.width <= 2000 ? Math.round(layout.width) : DEFAULT_W;
  const h = typeof layout.height === "number" && layout.height >= 100 && layout.height <= 2000 ? Math.round(layout.height) : DEFAULT_H;
  const c: Canvas = { w, h, parts: [], notes: [] };
  const types = fig.data.map((t) => String(t.type ?? "scatter"));
  const three = fig.data.filter((_, k) => THREE_D.has(types[k]));
  const two = fig.data.filter((_, k) => TWO_D.has(types[k]));
  const skipped = [...new Set(types.filter((t) => !THREE_D.has(t) && !TWO_D.has(t)))];
  if (three.length > 0) {
    draw3d(c, three, layout);
    if (two.length > 0) skipped.push(...new Set(two.map((t) => String(t.type ?? "scatter"))));
  } else if (two.length > 0) {
    draw2d(c, two, layout);
  }
  const title = titleOf(layout.title);
  const head = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">`, `<rect width="${w}" height="${h}" fill="white"/>`];
  if (title) head.push(text(w / 2, 26, title, 16));
  const tail: string[] = [];
  if (skipped.length > 0) {
    // Centred when nothing else was drawn, else small along the bottom edge.
    const alone = c.parts.length === 0;
    const what = `not in this static preview: trace type ${skipped.map((s) => `"${s}"`).join(", ")} (drawn only by plotly.js)`;
    const where = "interactive view: JupyterLab with plotly, or d2l-ts export --to html";
    if (alone) {
      tail.push(text(w / 2, h / 2, what, 12));
      tail.push(text(w / 2, h / 2 + 16, where, 11));
    } else {
      tail.push(`<text x="4" y="${h - 4}" ${FONT} font-size="9" fill="#9aa7b8">${esc(`${what}; ${where}`)}</text>`);
    }
  }
  if (skipped.length === 0 || c.parts.length === 0) tail.push(`<text x="${w - 4}" y="${h - 4}" ${FONT} font-size="9" text-anchor="end" fill="#9aa7b8">static preview (d2l)</text>`);
  tail.push("</svg>");
  return { svg: [...head, ...c.parts, ...tail].join("\n"), width: w, height: h };
}

function toJson(figure: PlotlyFigureSpec | readonly PlotlyTrace[], layout: PlotlyLayout | undefined, read: ReadValues): PlotlyJson {
  const spec: PlotlyFigureSpec = Array.isArray(figure) ? { data: [...(figure as readonly PlotlyTrace[])], layout } : (figure as PlotlyFigureSpec);
  if (typeof spec !== "object" || spec === null || !Array.isArray(spec.data)) {
    throw new Error('plotly: expected a figure { data: [traces], layout? } or an array of traces, e.g. d2l.plotly([{ type: "surface", z }])');
  }
  if (spec.data.length === 0) throw new Error('plotly: the figure has no traces; give at least one, e.g. { type: "scatter", x: [1, 2], y: [3, 4] }');
  const data = spec.data.map((t, k) => {
    if (typeof t !== "object" || t === null || Array.isArray(t))
      throw new Error(`plotly: data[${k}] must be a trace object such as { type: "surface", z }; got ${JSON.stringify(t)}`);
    if (t.type !== undefined && typeof t.type !== "string") throw new Error(`plotly: data[${k}].type must be a string such as "surface"; got ${JSON.stringify(t.type)}`);
    return plain(t, `data[${k}]`, read) as Record<string, unknown>;
  });
  const lay = layout !== undefined && !Array.isArray(figure) ? { ...spec.layout, ...layout } : spec.layout;
  if (lay !== undefined && (typeof lay !== "object" || lay === null || Array.isArray(lay)))
    throw new Error(`plotly: layout must be an object such as { title: "..." }; got ${JSON.stringify(lay)}`);
  const config = spec.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw new Error(`plotly: config must be an object such as { responsive: true }; got ${JSON.stringify(config)}`);
  return {
    data,
    layout: normaliseTitles(plain(lay ?? {}, "layout", read) as Record<string, unknown>),
    config: plain(config, "config", read) as Record<string, unknown>,
  };
}

/**
 * plotly.js 3 and later read titles only as `{ text }`; the string form older
 * examples use (and plotly's Python package accepts) is turned into that.
 */
function normaliseTitles(layout: Record<string, unknown>): Record<string, unknown> {
  const fix = (o: Record<string, unknown>): void => {
    if (typeof o.title === "string") o.title = { text: o.title };
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  fix(layout);
  for (const [k, v] of Object.entries(layout)) {
    if (/^[xy]axis\d*$/.test(k) && isObj(v)) fix(v);
    if (/^scene\d*$/.test(k) && isObj(v)) for (const a of ["xaxis", "yaxis", "zaxis"]) if (isObj(v[a])) fix(v[a] as Record<string, unknown>);
  }
  return layout;
}

function summary(fig: PlotlyJson): string {
  const parts = fig.data.map((t) => {
    const type = String(t.type ?? "scatter");
    const z = t.z;
    if (Array.isArray(z) && Array.isArray(z[0])) return `${type} ${z.length}x${(z[0] as unknown[]).length}`;
    const y = Array.isArray(t.y) ? t.y : Array.isArray(t.z) ? t.z : undefined;
    return y ? `${type} of ${y.length} points` : type;
  });
  const title = titleOf(fig.layout.title);
  return `<plotly figure${title ? ` "${title}"` : ""}: ${parts.join(", ")}>`;
}

/**
 * An interactive plotly.js figure, for what vega-lite draws badly: 3-D
 * surfaces (a loss landscape), 3-D point clouds, heatmaps. Takes plotly.js'
 * own figure JSON (`{ data, layout, config }`, or the traces and a layout);
 * x, y, z may be tensors, and titles may be strings (they become plotly.js'
 * `{ text }`). No book equivalent (d2l-ts' own; the book draws
 * 3-D plots with matplotlib's `plot_surface`).
 *
 * The figure is interactive in front ends that render plotly (JupyterLab
 * with the plotly extension, classic Notebook with d2l-ts' extension, HTML
 * from `d2l-ts export`); elsewhere, and in PDF and Markdown exports, its PNG is
 * a static preview d2l draws itself (surface, scatter3d, scatter, bar,
 * heatmap, contour; other trace types are named in the image). Like
 * {@link plot}, the figure shows as the cell's last value, or with `.show()`;
 * tensors on the GPU (webgpu) are read with `await` when it is shown (see {@link Figure}).
 *
 * @example
 * const w = tf.linspace(-2, 2, 41), b = tf.linspace(-2, 2, 41);
 * const [W, B] = tf.meshgrid(w, b);
 * const loss = W.square().add(B.square().mul(3));
 * d2l.plotly([{ type: "surface", x: w, y: b, z: loss }], { title: "loss landscape", scene: { xaxis: { title: "w" }, yaxis: { title: "b" } } })
 */
export function plotly(figure: PlotlyFigureSpec | readonly PlotlyTrace[], layout?: PlotlyLayout): PlotlyFigure {
  return figureFrom((read) => buildPlotly(toJson(figure, layout, read)));
}

/** The figure of {@link plotly} from its JSON, tensors already read. */
function buildPlotly(json: PlotlyJson): PlotlyFigure {
  const text = summary(json);
  // Check the static drawing's inputs now, so bad data fails at the call, not when shown.
  const svg = staticSvg(json);
  const make = (): DisplayBundle => {
    const png = renderSvgPng(svg.svg, svg.width, svg.height);
    return {
      data: { [PLOTLY_MIME]: json, "image/png": png.base64, "text/plain": text },
      metadata: { "image/png": { width: svg.width, height: svg.height } },
    };
  };
  return new PlotlyFigure(json, make, text);
}
