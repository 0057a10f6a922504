/**
 * `d2l.showImages`: a grid of images with titles, as a PNG.
 */
import type { Tensor } from "@tensorflow/tfjs";
import { Figure, DisplayBundle, figureFrom, ReadValues } from "./figure";
import { encodePng } from "./png";
import { renderSvgPng } from "./render";
import { FontMetrics, loadFontMetrics, plotFonts } from "./fonts";
import { PX_PER_INCH } from "./spec";

/** Images for {@link showImages}: a tensor (N,H,W), (N,H,W,1), (N,H,W,3) or (N,H,W,4), or nested arrays (N,H,W) of gray values. */
export type ImageBatch = Tensor | ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>;

/** Options of {@link showImages}. */
export interface ShowImagesOptions {
  /**
   * A title above each image (fewer titles than images leaves the rest
   * untitled); "\n" starts a new line, as in the book's `predict_ch3` titles
   * "true\npred". The title row grows to fit the most lines, and the font
   * shrinks a little before a long line is cut short with "…".
   */
  titles?: readonly string[];
  /** Width of each image in inches (72 px each); default 1.5, as in the book. */
  scale?: number;
}

interface Pixels {
  n: number;
  h: number;
  w: number;
  c: 1 | 3 | 4;
  data: ArrayLike<number>;
}

const EXPECTED = "a tensor of shape (N,H,W), (N,H,W,1), (N,H,W,3) or (N,H,W,4), or nested arrays (N,H,W)";

function readImages(imgs: ImageBatch, read: ReadValues): Pixels {
  const t = imgs as Tensor;
  if (typeof imgs === "object" && imgs !== null && Array.isArray(t.shape) && "dataId" in t) {
    if (read.disposed(t)) throw new Error("showImages: the image tensor is disposed; show it before disposing it");
    const s = t.shape;
    if (s.length === 3) return { n: s[0], h: s[1], w: s[2], c: 1, data: read(t) };
    if (s.length === 4 && (s[3] === 1 || s[3] === 3 || s[3] === 4)) {
      return { n: s[0], h: s[1], w: s[2], c: s[3] as 1 | 3 | 4, data: read(t) };
    }
    throw new Error(`showImages: got a tensor of shape [${s.join(", ")}]; expected ${EXPECTED}. Reshape first, e.g. X.reshape([18, 28, 28])`);
  }
  if (!Array.isArray(imgs)) throw new Error(`showImages: expected ${EXPECTED}; got ${typeof imgs}`);
  const n = imgs.length;
  const h = n > 0 && Array.isArray(imgs[0]) ? imgs[0].length : 0;
  const w = h > 0 && Array.isArray(imgs[0][0]) ? imgs[0][0].length : 0;
  const data = new Float64Array(n * h * w);
  for (let i = 0; i < n; i++) {
    const img = imgs[i];
    if (!Array.isArray(img) || img.length !== h) throw new Error(`showImages: image ${i} is not ${h} rows like image 0; expected ${EXPECTED}`);
    for (let r = 0; r < h; r++) {
      const row = img[r];
      if (!Array.isArray(row) || row.length !== w) throw new Error(`showImages: image ${i} row ${r} is not ${w} values like image 0's rows`);
      for (let c = 0; c < w; c++) {
        const v = row[c];
        if (typeof v !== "number") throw new Error(`showImages: image ${i} row ${r} column ${c} is ${JSON.stringify(v)}; expected a number`);
        data[(i * h + r) * w + c] = v;
      }
    }
  }
  return { n, h, w, c: 1, data };
}

/** One image's pixels as bytes: values in 0..1 are scaled by 255, values in 0..255 kept, anything else stretched min..max. */
function toBytes(p: Pixels, i: number): Uint8Array {
  const size = p.h * p.w * p.c;
  const off = i * size;
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < size; k++) {
    const v = p.data[off + k];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let a = 1;
  let b = 0;
  if (lo >= 0 && hi <= 1) a = 255;
  else if (lo >= 0 && hi <= 255) a = 1;
  else if (hi > lo) {
    a = 255 / (hi - lo);
    b = -lo * a;
  }
  const out = new Uint8Array(size);
  for (let k = 0; k < size; k++) {
    const v = p.data[off + k];
    out[k] = Number.isFinite(v) ? Math.max(0, Math.min(255, Math.round(v * a + b))) : 0;
  }
  return out;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const GAP = 6;
/** Title font size in px, and the smallest it shrinks to so that titles fit their cell. */
const TITLE_FONT = 11;
const MIN_TITLE_FONT = 8;
/** Lines per title at most; a longer title ends in "…". */
const MAX_TITLE_LINES = 4;

let metrics: FontMetrics | null | undefined;
/** Width of `text` at `size` px in the font PNGs are drawn with (0.6 em per character without one). */
function textWidth(text: string, size: number): number {
  if (metrics === undefined) {
    const file = plotFonts().files[0];
    metrics = (file !== undefined && loadFontMetrics(file)) || null;
  }
  return metrics ? metrics.width(text, size) : text.length * size * 0.6;
}

/** How {@link showImages} sets titles: the lines of each title, one font size for all, and the height of the title row. */
export interface TitleLayout {
  /** Lines per title (split on "\n"; lines too wide even at the smallest font end in "…"). */
  lines: string[][];
  /** Font size in px: 11, or smaller (down to 8) when a line would not fit the cell at 11. */
  fontSize: number;
  /** Line height in px. */
  lineHeight: number;
  /** Height of the title row above each image in px (0 without titles). */
  height: number;
}

/**
 * Lay out image titles for cells `cellWidth` px wide: split on "\n" (the
 * book's `predict_ch3` titles are "true\npred"), shrink the font until every
 * line fits, and cut only the lines that do not fit even at 8 px. Used by
 * {@link showImages}.
 *
 * @example
 * layoutTitles(["ankle boot\nsneaker"], 108).lines; // [["ankle boot", "sneaker"]]
 */
export function layoutTitles(titles: readonly string[], cellWidth: number): TitleLayout {
  const raw = titles.map((t) => {
    const lines = String(t).split(/\r?\n/);
    if (lines.length <= MAX_TITLE_LINES) return lines;
    const kept = lines.slice(0, MAX_TITLE_LINES);
    kept[MAX_TITLE_LINES - 1] += "…";
    return kept;
  });
  const room = Math.max(1, cellWidth - 2);
  // The font shrinks for lines that fit at the smallest size; longer ones are cut anyway.
  const widest = Math.max(
    0,
    ...raw
      .flat()
      .map((l) => textWidth(l, 1))
      .filter((w) => w * MIN_TITLE_FONT <= room),
  );
  let fontSize = TITLE_FONT;
  while (fontSize > MIN_TITLE_FONT && widest * fontSize > room) fontSize -= 0.5;
  const fit = (line: string): string => {
    if (textWidth(line, fontSize) <= room) return line;
    const chars = Array.from(line);
    while (chars.length > 0 && textWidth(chars.join("") + "…", fontSize) > room) chars.pop();
    return chars.join("").trimEnd() + "…";
  };
  const lines = raw.map((ls) => ls.map(fit));
  const n = Math.max(0, ...lines.map((ls) => (ls.length === 1 && ls[0] === "" ? 0 : ls.length)));
  const lineHeight = Math.round(fontSize * 1.2);
  return { lines, fontSize, lineHeight, height: n > 0 ? n * lineHeight + 3 : 0 };
}

/**
 * Plot a list of images in a grid with titles, the book's
 * `d2l.show_images(imgs, num_rows, num_cols, titles=None, scale=1.5)`.
 * Shows the first `numRows * numCols` images; gray values may be in 0..1 or
 * 0..255 (other ranges are stretched per image). Like {@link plot}, the
 * returned {@link Figure} shows as the cell's last value, or with `.show()`;
 * images on the GPU (webgpu) are read with `await` when it is shown (see {@link Figure}).
 *
 * @example
 * const [X, y] = await trainIter.next();
 * d2l.showImages(X.reshape([18, 28, 28]), 2, 9, { titles: await d2l.getFashionMnistLabels(y) });
 */
export function showImages(imgs: ImageBatch, numRows: number, numCols: number, options: ShowImagesOptions = {}): Figure {
  for (const [name, v] of [
    ["numRows", numRows],
    ["numCols", numCols],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`showImages: ${name} must be a positive integer; got ${JSON.stringify(v)}`);
  }
  const scale = options.scale ?? 1.5;
  if (!(typeof scale === "number" && scale > 0 && Number.isFinite(scale))) {
    throw new Error(`showImages: scale must be a positive number of inches per image, e.g. 1.5; got ${JSON.stringify(scale)}`);
  }
  const titles = options.titles ?? [];
  if (!Array.isArray(titles)) throw new Error(`showImages: titles must be an array of strings; got ${typeof titles}`);
  return figureFrom((read) => buildImages(readImages(imgs, read), numRows, numCols, scale, titles));
}

/** The figure of {@link showImages} from the images' pixels. */
function buildImages(p: Pixels, numRows: number, numCols: number, scale: number, titles: readonly string[]): Figure {
  if (p.n === 0 || p.h === 0 || p.w === 0) throw new Error(`showImages: got no images (${p.n} images of ${p.h}x${p.w}); expected ${EXPECTED}`);
  const count = Math.min(p.n, numRows * numCols);
  // Read the pixels now: the caller may dispose the tensor right after this call.
  const pngs: Buffer[] = [];
  for (let i = 0; i < count; i++) pngs.push(encodePng(toBytes(p, i), p.w, p.h, p.c));
  const cellW = Math.max(8, Math.round(scale * PX_PER_INCH));
  const cellH = Math.max(1, Math.round((cellW * p.h) / p.w));
  const shown = titles.slice(0, count).map((t) => String(t));
  const layout = layoutTitles(shown, cellW);
  const titleH = layout.height;
  const width = numCols * cellW + (numCols + 1) * GAP;
  const height = numRows * (titleH + cellH) + (numRows + 1) * GAP;
  const kind = p.c === 1 ? "gray" : p.c === 3 ? "RGB" : "RGBA";
  const text =
    `<images: ${count} of ${p.h}x${p.w} ${kind} in a ${numRows}x${numCols} grid` + (shown.length > 0 ? `: ${shown.map((t) => t.replace(/\r?\n/g, " / ")).join(", ")}>` : ">");
  const make = (): DisplayBundle => {
    const parts: string[] = [
      `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
      `<rect width="${width}" height="${height}" fill="white"/>`,
    ];
    for (let i = 0; i < count; i++) {
      const r = Math.floor(i / numCols);
      const c = i % numCols;
      const x = GAP + c * (cellW + GAP);
      const y = GAP + r * (titleH + cellH + GAP);
      const lines = i < layout.lines.length ? layout.lines[i] : [];
      lines.forEach((line, k) => {
        if (line === "") return;
        // bottom-aligned, just above the image, as matplotlib places a title
        const baseline = y + titleH - 4 - (lines.length - 1 - k) * layout.lineHeight;
        parts.push(`<text x="${x + cellW / 2}" y="${baseline}" font-family="sans-serif" font-size="${layout.fontSize}" text-anchor="middle" fill="black">${esc(line)}</text>`);
      });
      parts.push(
        `<image x="${x}" y="${y + titleH}" width="${cellW}" height="${cellH}" preserveAspectRatio="none" image-rendering="optimizeSpeed" ` +
          `xlink:href="data:image/png;base64,${pngs[i].toString("base64")}"/>`,
      );
    }
    parts.push("</svg>");
    const png = renderSvgPng(parts.join("\n"), width, height);
    return { data: { "image/png": png.base64, "text/plain": text }, metadata: { "image/png": { width, height } } };
  };
  return new Figure(make, text);
}
