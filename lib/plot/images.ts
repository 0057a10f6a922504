/**
 * `d2l.showImages`: a grid of images with titles, as a PNG.
 */
import type { Tensor } from "@tensorflow/tfjs";
import { Figure, DisplayBundle } from "./figure";
import { encodePng } from "./png";
import { renderSvgPng } from "./render";
import { PX_PER_INCH } from "./spec";

/** Images for {@link showImages}: a tensor (N,H,W), (N,H,W,1), (N,H,W,3) or (N,H,W,4), or nested arrays (N,H,W) of gray values. */
export type ImageBatch = Tensor | ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>;

/** Options of {@link showImages}. */
export interface ShowImagesOptions {
  /** A title above each image (fewer titles than images leaves the rest untitled). */
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

function readImages(imgs: ImageBatch): Pixels {
  const t = imgs as Tensor;
  if (typeof imgs === "object" && imgs !== null && Array.isArray(t.shape) && typeof t.dataSync === "function") {
    if (t.isDisposed) throw new Error("showImages: the image tensor is disposed; show it before disposing it");
    const s = t.shape;
    if (s.length === 3) return { n: s[0], h: s[1], w: s[2], c: 1, data: t.dataSync() as ArrayLike<number> };
    if (s.length === 4 && (s[3] === 1 || s[3] === 3 || s[3] === 4)) {
      return { n: s[0], h: s[1], w: s[2], c: s[3] as 1 | 3 | 4, data: t.dataSync() as ArrayLike<number> };
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
const TITLE_H = 16;
const TITLE_FONT = 11;

/**
 * Plot a list of images in a grid with titles, the book's
 * `d2l.show_images(imgs, num_rows, num_cols, titles=None, scale=1.5)`.
 * Shows the first `numRows * numCols` images; gray values may be in 0..1 or
 * 0..255 (other ranges are stretched per image). Like {@link plot}, the
 * returned {@link Figure} shows as the cell's last value, or with `.show()`.
 *
 * @example
 * const [X, y] = await trainIter.next();
 * d2l.showImages(X.reshape([18, 28, 28]), 2, 9, { titles: d2l.getFashionMnistLabels(y) });
 */
export function showImages(imgs: ImageBatch, numRows: number, numCols: number, options: ShowImagesOptions = {}): Figure {
  for (const [name, v] of [["numRows", numRows], ["numCols", numCols]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`showImages: ${name} must be a positive integer; got ${JSON.stringify(v)}`);
  }
  const scale = options.scale ?? 1.5;
  if (!(typeof scale === "number" && scale > 0 && Number.isFinite(scale))) {
    throw new Error(`showImages: scale must be a positive number of inches per image, e.g. 1.5; got ${JSON.stringify(scale)}`);
  }
  const titles = options.titles ?? [];
  if (!Array.isArray(titles)) throw new Error(`showImages: titles must be an array of strings; got ${typeof titles}`);
  const p = readImages(imgs);
  if (p.n === 0 || p.h === 0 || p.w === 0) throw new Error(`showImages: got no images (${p.n} images of ${p.h}x${p.w}); expected ${EXPECTED}`);
  const count = Math.min(p.n, numRows * numCols);
  // Read the pixels now: the caller may dispose the tensor right after this call.
  const pngs: Buffer[] = [];
  for (let i = 0; i < count; i++) pngs.push(encodePng(toBytes(p, i), p.w, p.h, p.c));
  const cellW = Math.max(8, Math.round(scale * PX_PER_INCH));
  const cellH = Math.max(1, Math.round((cellW * p.h) / p.w));
  const titleH = titles.length > 0 ? TITLE_H : 0;
  const width = numCols * cellW + (numCols + 1) * GAP;
  const height = numRows * (titleH + cellH) + (numRows + 1) * GAP;
  const maxChars = Math.max(1, Math.floor(cellW / (TITLE_FONT * 0.6)));
  const used = titles.slice(0, count).map((t) => {
    const s = String(t);
    return s.length > maxChars ? `${s.slice(0, maxChars - 1)}…` : s;
  });
  const kind = p.c === 1 ? "gray" : p.c === 3 ? "RGB" : "RGBA";
  const text =
    `<images: ${count} of ${p.h}x${p.w} ${kind} in a ${numRows}x${numCols} grid` + (used.length > 0 ? `: ${used.join(", ")}>` : ">");
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
      if (i < used.length && used[i] !== "") {
        parts.push(
          `<text x="${x + cellW / 2}" y="${y + titleH - 4}" font-family="sans-serif" font-size="${TITLE_FONT}" text-anchor="middle" fill="black">${esc(used[i])}</text>`,
        );
      }
      parts.push(
        `<image x="${x}" y="${y + titleH}" width="${cellW}" height="${cellH}" preserveAspectRatio="none" image-rendering="optimizeSpeed" ` +
          `xlink:href="data:image/png;base64,${pngs[i].toString("base64")}"/>`,
      );
    }
    parts.push("</svg>");
    const png = renderSvgPng(parts.join("\n"), width, height);
    return { data: { "image/png": png.base64, "text/plain": text }, metadata: { "image/png": { width, height } } };
  };
  const fig = new Figure(make, text);
  return fig;
}
