/**
 * The host cores of d2l.transforms (not public: `d2l.transforms.functional`
 * and the transform classes use them): one channels-last image as a
 * Float32Array, computed as torchvision 0.14's tensor code path does.
 */
import * as tf from "@tensorflow/tfjs";
import { readsSync } from "../read";

/** One image on the host, channels-last. */
export interface HostImage {
  data: Float32Array;
  h: number;
  w: number;
  c: number;
}

/** Interpolation modes (torchvision's `InterpolationMode.BILINEAR` and `NEAREST`). */
export type Interpolation = "bilinear" | "nearest";

/** Padding modes of {@link pad} (torchvision's `padding_mode`). */
export type PaddingMode = "constant" | "edge" | "reflect" | "symmetric";

/** A fill value: one number for every channel, or one per channel. */
export type Fill = number | readonly number[];

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Check that x is an image [H, W, C] or a batch [N, H, W, C] and return the batch's dimensions. */
export function imageDims(x: tf.Tensor, name: string): { n: number; h: number; w: number; c: number; batched: boolean } {
  if (!(x instanceof tf.Tensor)) throw new Error(`${name}: expected a tf.Tensor image [H, W, C] or batch [N, H, W, C], got ${x === null ? "null" : typeof x}`);
  if (x.rank !== 3 && x.rank !== 4) {
    throw new Error(
      `${name}: expected a channels-last image [H, W, C] or a batch [N, H, W, C], got shape ${shapeText(x.shape)}` +
        (x.rank === 2 ? "; for a grayscale [H, W] image add a channel: x.expandDims(-1)" : ""),
    );
  }
  if (x.dtype !== "float32" && x.dtype !== "int32") throw new Error(`${name}: expected a float32 or int32 image, got ${x.dtype}`);
  const [n, h, w, c] = x.rank === 4 ? x.shape : [1, ...x.shape];
  return { n, h, w, c, batched: x.rank === 4 };
}

/**
 * Apply a host function to every image of x ([H, W, C] or [N, H, W, C]):
 * one read of the pixels, one new tensor. Every image's output must have
 * the same shape (a batch is one tensor).
 */
export function mapImages(x: tf.Tensor, name: string, f: (img: HostImage, index: number) => HostImage, keepDtype = false): tf.Tensor {
  const { n, h, w, c, batched } = imageDims(x, name);
  if (!readsSync(x)) {
    throw new Error(
      `${name}: the image (shape [${x.shape.join(", ")}]) is on the GPU (webgpu backend), and d2l.transforms read images synchronously, as a CPU data pipeline; ` +
        "transform the loader's images (their values are on the host), or pass a host copy made with await: tf.tensor(await x.data(), x.shape, x.dtype)",
    );
  }
  const raw = x.dataSync(); // sync-read-ok: guarded by readsSync (host values)
  // one conversion of the whole batch (typed-array constructors convert natively; per element in JS is several times slower)
  const src = raw instanceof Float32Array ? raw : new Float32Array(raw as Int32Array);
  const size = h * w * c;
  let out: Float32Array | null = null;
  let oh = 0;
  let ow = 0;
  let oc = 0;
  for (let i = 0; i < n; i++) {
    const data = src.subarray(i * size, (i + 1) * size);
    const r = f({ data, h, w, c }, i);
    if (out === null) {
      oh = r.h;
      ow = r.w;
      oc = r.c;
      // one image: its result is the output (copied if it is a view of the input's pixels)
      out = n > 1 ? new Float32Array(n * r.data.length) : r.data.buffer === src.buffer ? r.data.slice() : r.data;
    } else if (r.h !== oh || r.w !== ow || r.c !== oc) {
      throw new Error(
        `${name}: the images of a batch came out in different shapes ([${oh}, ${ow}, ${oc}] and [${r.h}, ${r.w}, ${r.c}]); a batch must be one shape (e.g. RandomRotation without expand, or resize after it)`,
      );
    }
    if (n > 1) out.set(r.data, i * oh * ow * oc);
  }
  if (out === null) {
    // an empty batch: run f on nothing to learn nothing; keep the input's spatial shape
    return tf.zeros([0, h, w, c], keepDtype ? x.dtype : "float32");
  }
  const shape = batched ? [n, oh, ow, oc] : [oh, ow, oc];
  // keepDtype: the pixels were only copied (or padded with an integer), so they are whole numbers
  if (keepDtype && x.dtype === "int32") return tf.tensor(new Int32Array(out), shape, "int32");
  return tf.tensor(out, shape, "float32");
}

export function checkInt(v: unknown, name: string, what: string, min = -Infinity): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new Error(`${name}: expected ${what}${min === 1 ? " (a positive integer)" : min === 0 ? " (an integer >= 0)" : " (an integer)"}, got ${String(v)}`);
  }
  return v;
}

/** Python's round(): halves to even (torchvision's center crop rounds so). */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** Size as [h, w]: a number is a square (or, with `shorterSide`, handled by the caller). */
export function sizePair(size: number | readonly number[], name: string): [number, number] {
  if (typeof size === "number") {
    checkInt(size, name, "a size", 1);
    return [size, size];
  }
  if (Array.isArray(size) && size.length === 1) return sizePair(size[0] as number, name);
  if (!Array.isArray(size) || size.length !== 2) throw new Error(`${name}: expected a size as a number or [height, width], got ${JSON.stringify(size)}`);
  checkInt(size[0], name, "a height", 1);
  checkInt(size[1], name, "a width", 1);
  return [size[0] as number, size[1] as number];
}

// ---------------------------------------------------------------- host cores

/** Bilinear (align_corners=False, no antialias) or nearest resize of one host image: PyTorch's `interpolate`. */
export function resizeHost(img: HostImage, oh: number, ow: number, mode: Interpolation): HostImage {
  const { data, h, w, c } = img;
  const out = new Float32Array(oh * ow * c);
  if (mode === "nearest") {
    const sh = Math.fround(h / oh);
    const sw = Math.fround(w / ow);
    const near = (d: number, scale: number, n: number, on: number): number => (on === n ? d : on === 2 * n ? d >> 1 : Math.min(Math.floor(Math.fround(d * scale)), n - 1));
    for (let y = 0; y < oh; y++) {
      const sy = near(y, sh, h, oh);
      for (let x = 0; x < ow; x++) {
        const sx = near(x, sw, w, ow);
        for (let k = 0; k < c; k++) out[(y * ow + x) * c + k] = data[(sy * w + sx) * c + k];
      }
    }
    return { data: out, h: oh, w: ow, c };
  }
  const sh = h / oh;
  const sw = w / ow;
  const src = (d: number, scale: number, n: number): [number, number, number] => {
    const s = Math.max(scale * (d + 0.5) - 0.5, 0);
    const i0 = Math.floor(s);
    const i1 = i0 + (i0 < n - 1 ? 1 : 0);
    return [i0, i1, s - i0];
  };
  const xs = Array.from({ length: ow }, (_, x) => src(x, sw, w));
  for (let y = 0; y < oh; y++) {
    const [y0, y1, ly] = src(y, sh, h);
    for (let x = 0; x < ow; x++) {
      const [x0, x1, lx] = xs[x];
      for (let k = 0; k < c; k++) {
        const a = data[(y0 * w + x0) * c + k];
        const b = data[(y0 * w + x1) * c + k];
        const d = data[(y1 * w + x0) * c + k];
        const e = data[(y1 * w + x1) * c + k];
        out[(y * ow + x) * c + k] = (1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * d + lx * e);
      }
    }
  }
  return { data: out, h: oh, w: ow, c };
}

/** The output size of {@link resize} (torchvision's `_compute_resized_output_size`). */
export function resizedSize(h: number, w: number, size: number | readonly number[], name = "resize"): [number, number] {
  if (typeof size === "number" || (Array.isArray(size) && size.length === 1)) {
    const s = checkInt(typeof size === "number" ? size : size[0], name, "a size for the shorter side", 1);
    const [short, long] = w <= h ? [w, h] : [h, w];
    const newLong = Math.floor((s * long) / short);
    return w <= h ? [newLong, s] : [s, newLong];
  }
  return sizePair(size, name);
}

/** Crop of one host image; outside the image is 0 (torchvision's tensor `crop`). */
export function cropHost(img: HostImage, top: number, left: number, height: number, width: number): HostImage {
  const { data, h, w, c } = img;
  const out = new Float32Array(height * width * c);
  for (let y = 0; y < height; y++) {
    const sy = top + y;
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < width; x++) {
      const sx = left + x;
      if (sx < 0 || sx >= w) continue;
      for (let k = 0; k < c; k++) out[(y * width + x) * c + k] = data[(sy * w + sx) * c + k];
    }
  }
  return { data: out, h: height, w: width, c };
}

export function fillFor(fill: Fill, c: number, name: string): Float32Array {
  if (typeof fill === "number") return new Float32Array(c).fill(fill);
  if (!Array.isArray(fill) || !(fill.length === c || fill.length === 1) || !fill.every((v) => typeof v === "number")) {
    throw new Error(`${name}: fill must be a number or ${c} numbers (one per channel), got ${JSON.stringify(fill)}`);
  }
  return fill.length === 1 ? new Float32Array(c).fill(fill[0]) : Float32Array.from(fill);
}

/** Padding as [left, top, right, bottom] from torchvision's three forms. */
export function paddingLtrb(padding: number | readonly number[], name = "pad"): [number, number, number, number] {
  const p = typeof padding === "number" ? [padding] : padding;
  if (!Array.isArray(p) || ![1, 2, 4].includes(p.length) || !p.every((v) => Number.isInteger(v))) {
    throw new Error(`${name}: padding must be an integer, [left/right, top/bottom] or [left, top, right, bottom], got ${JSON.stringify(padding)}`);
  }
  if (p.length === 1) return [p[0], p[0], p[0], p[0]];
  if (p.length === 2) return [p[0], p[1], p[0], p[1]];
  return [p[0], p[1], p[2], p[3]];
}

/** Pad one host image (torchvision's tensor `pad`; negative padding crops). */
export function padHost(img: HostImage, ltrb: readonly number[], mode: PaddingMode = "constant", fill: Fill = 0, name = "pad"): HostImage {
  const { data, h, w, c } = img;
  const [l, t, r, b] = ltrb;
  const oh = h + t + b;
  const ow = w + l + r;
  if (oh <= 0 || ow <= 0) throw new Error(`${name}: padding ${JSON.stringify(ltrb)} leaves nothing of a ${h}x${w} image`);
  if (mode === "reflect" && (Math.max(l, r) >= w || Math.max(t, b) >= h)) {
    throw new Error(`${name}: reflect padding must be smaller than the image (${h}x${w}), got [left, top, right, bottom] = ${JSON.stringify(ltrb)}`);
  }
  if (mode === "symmetric" && (Math.max(l, r) > w || Math.max(t, b) > h)) {
    throw new Error(`${name}: symmetric padding can be at most the image's size (${h}x${w}), got [left, top, right, bottom] = ${JSON.stringify(ltrb)}`);
  }
  if (!["constant", "edge", "reflect", "symmetric"].includes(mode)) throw new Error(`${name}: paddingMode must be constant, edge, reflect or symmetric, got ${String(mode)}`);
  const fv = fillFor(fill, c, name);
  const index = (i: number, n: number): number => {
    if (i >= 0 && i < n) return i;
    if (mode === "constant") return -1;
    if (mode === "edge") return i < 0 ? 0 : n - 1;
    if (mode === "reflect") return i < 0 ? -i : 2 * (n - 1) - i;
    return i < 0 ? -i - 1 : 2 * n - 1 - i;
  };
  const out = new Float32Array(oh * ow * c);
  for (let y = 0; y < oh; y++) {
    const sy = index(y - t, h);
    for (let x = 0; x < ow; x++) {
      const sx = index(x - l, w);
      const o = (y * ow + x) * c;
      if (sy < 0 || sx < 0) out.set(fv, o);
      else for (let k = 0; k < c; k++) out[o + k] = data[(sy * w + sx) * c + k];
    }
  }
  return { data: out, h: oh, w: ow, c };
}

/** Mirror one host image left-right (`horizontal`) or top-bottom. */
export function flipHost(img: HostImage, horizontal: boolean): HostImage {
  const { data, h, w, c } = img;
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = horizontal ? (y * w + (w - 1 - x)) * c : ((h - 1 - y) * w + x) * c;
      for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = data[s + k];
    }
  }
  return { data: out, h, w, c };
}

/** Center crop of one host image, padding with 0 first when the crop is larger (torchvision's `center_crop`). */
export function centerCropHost(img: HostImage, ch: number, cw: number): HostImage {
  let im = img;
  if (cw > im.w || ch > im.h) {
    const l = cw > im.w ? Math.floor((cw - im.w) / 2) : 0;
    const t = ch > im.h ? Math.floor((ch - im.h) / 2) : 0;
    const r = cw > im.w ? Math.floor((cw - im.w + 1) / 2) : 0;
    const b = ch > im.h ? Math.floor((ch - im.h + 1) / 2) : 0;
    im = padHost(im, [l, t, r, b]);
    if (im.w === cw && im.h === ch) return im;
  }
  return cropHost(im, pyRound((im.h - ch) / 2), pyRound((im.w - cw) / 2), ch, cw);
}

function grayOf(data: Float32Array, p: number): number {
  return 0.2989 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
}

export function checkChannels(img: HostImage, name: string, allowed: readonly number[]): void {
  if (!allowed.includes(img.c)) throw new Error(`${name}: expected an image with ${allowed.join(" or ")} channels (the last dimension), got ${img.c}`);
}

/** ITU-R 601-2 luma of one host image. */
export function grayscaleHost(img: HostImage, numOutputChannels: number, name = "rgbToGrayscale"): HostImage {
  checkChannels(img, name, [1, 3]);
  if (numOutputChannels !== 1 && numOutputChannels !== 3) throw new Error(`${name}: numOutputChannels must be 1 or 3, got ${String(numOutputChannels)}`);
  const { data, h, w, c } = img;
  const out = new Float32Array(h * w * numOutputChannels);
  for (let i = 0; i < h * w; i++) {
    const l = c === 3 ? grayOf(data, i * 3) : data[i];
    for (let k = 0; k < numOutputChannels; k++) out[i * numOutputChannels + k] = l;
  }
  return { data: out, h, w, c: numOutputChannels };
}

export function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

export function checkFactor(f: number, name: string, what: string): void {
  if (typeof f !== "number" || !(f >= 0) || !Number.isFinite(f)) throw new Error(`${name}: ${what} must be a number >= 0, got ${String(f)}`);
}

/** `ratio * img + (1 - ratio) * other`, clamped to [0, 1] (torchvision's `_blend` on float images). */
function blendHost(img: HostImage, ratio: number, other: (i: number) => number): HostImage {
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = clamp01(ratio * img.data[i] + (1 - ratio) * other(i));
  return { ...img, data: out };
}

export function brightnessHost(img: HostImage, factor: number): HostImage {
  checkFactor(factor, "adjustBrightness", "brightnessFactor");
  return blendHost(img, factor, () => 0);
}

export function contrastHost(img: HostImage, factor: number): HostImage {
  checkFactor(factor, "adjustContrast", "contrastFactor");
  checkChannels(img, "adjustContrast", [1, 3]);
  const n = img.h * img.w;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += img.c === 3 ? Math.fround(grayOf(img.data, i * 3)) : img.data[i];
  const mean = sum / n;
  return blendHost(img, factor, () => mean);
}

export function saturationHost(img: HostImage, factor: number): HostImage {
  checkFactor(factor, "adjustSaturation", "saturationFactor");
  checkChannels(img, "adjustSaturation", [1, 3]);
  if (img.c === 1) return img;
  const gray = new Float32Array(img.h * img.w);
  for (let i = 0; i < gray.length; i++) gray[i] = grayOf(img.data, i * 3);
  return blendHost(img, factor, (i) => gray[Math.floor(i / 3)]);
}

export function hueHost(img: HostImage, factor: number): HostImage {
  if (typeof factor !== "number" || !(factor >= -0.5 && factor <= 0.5)) throw new Error(`adjustHue: hueFactor must be in [-0.5, 0.5], got ${String(factor)}`);
  checkChannels(img, "adjustHue", [1, 3]);
  if (img.c === 1) return img;
  const { data } = img;
  const out = new Float32Array(data.length);
  for (let p = 0; p < data.length; p += 3) {
    const r = data[p];
    const g = data[p + 1];
    const b = data[p + 2];
    // torchvision's _rgb2hsv
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    const eqc = maxc === minc;
    const cr = maxc - minc;
    const s = cr / (eqc ? 1 : maxc);
    const div = eqc ? 1 : cr;
    const rc = (maxc - r) / div;
    const gc = (maxc - g) / div;
    const bc = (maxc - b) / div;
    let hh = maxc === r ? bc - gc : maxc === g ? 2 + rc - bc : 4 + gc - rc;
    hh = (hh / 6 + 1) % 1; // fmod of a positive number
    hh = (((hh + factor) % 1) + 1) % 1; // Python's % 1.0
    // torchvision's _hsv2rgb
    const v = maxc;
    const i6 = Math.floor(hh * 6);
    const f = hh * 6 - i6;
    const pp = clamp01(v * (1 - s));
    const q = clamp01(v * (1 - s * f));
    const t = clamp01(v * (1 - s * (1 - f)));
    const i = ((i6 % 6) + 6) % 6;
    const rgb = [
      [v, t, pp],
      [q, v, pp],
      [pp, v, t],
      [pp, q, v],
      [t, pp, v],
      [v, pp, q],
    ][i];
    out[p] = rgb[0];
    out[p + 1] = rgb[1];
    out[p + 2] = rgb[2];
  }
  return { ...img, data: out };
}

/** torchvision's `_get_inverse_affine_matrix` (inverted: output pixel -> input pixel, centred coordinates). */
export function inverseAffineMatrix(center: readonly number[], angle: number, translate: readonly number[], scale: number, shear: readonly number[]): number[] {
  const rot = (angle * Math.PI) / 180;
  const sx = (shear[0] * Math.PI) / 180;
  const sy = (shear[1] * Math.PI) / 180;
  const [cx, cy] = center;
  const [tx, ty] = translate;
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = (-Math.cos(rot - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = (-Math.sin(rot - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rot);
  const m = [d, -b, 0, -c, a, 0].map((v) => v / scale);
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

/** Round half to even (C's nearbyint, which grid_sample's nearest mode uses). */
function nearbyint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/**
 * Sample one host image on the affine grid of `matrix` (torchvision's tensor
 * `affine`/`rotate`: `_gen_affine_grid` then `grid_sample` with zeros
 * padding and align_corners=False; a `fill` goes through the mask channel as
 * torchvision's `_apply_grid_transform` does).
 */
export function gridTransformHost(img: HostImage, matrix: readonly number[], oh: number, ow: number, mode: Interpolation, fill?: Fill, name = "affine"): HostImage {
  const { data, h, w, c } = img;
  const fv = fill === undefined ? null : fillFor(fill, c, name);
  const out = new Float32Array(oh * ow * c);
  const f = Math.fround;
  const m = matrix.map(f);
  // the grid's theta, rescaled: theta.T / [0.5 w, 0.5 h] in float32
  const t = [m[0], m[1], m[2]].map((v) => f(v / f(0.5 * w))).concat([m[3], m[4], m[5]].map((v) => f(v / f(0.5 * h))));
  for (let oy = 0; oy < oh; oy++) {
    const by = f(-oh * 0.5 + 0.5 + oy);
    for (let ox = 0; ox < ow; ox++) {
      const bx = f(-ow * 0.5 + 0.5 + ox);
      // float32 step by step, as torch computes the grid and grid_sample's source index (ties of nearest depend on it)
      const gx = f(f(f(t[0] * bx) + f(t[1] * by)) + t[2]);
      const gy = f(f(f(t[3] * bx) + f(t[4] * by)) + t[5]);
      const ix = f(f(f(f(gx + 1) * w) - 1) / 2);
      const iy = f(f(f(f(gy + 1) * h) - 1) / 2);
      const o = (oy * ow + ox) * c;
      if (mode === "nearest") {
        const x = nearbyint(ix);
        const y = nearbyint(iy);
        const inside = x >= 0 && x < w && y >= 0 && y < h;
        for (let k = 0; k < c; k++) out[o + k] = inside ? data[(y * w + x) * c + k] : fv ? fv[k] : 0;
        continue;
      }
      const x0 = Math.floor(ix);
      const y0 = Math.floor(iy);
      const wx = ix - x0;
      const wy = iy - y0;
      // the four neighbours, each counted when inside the image (zeros padding); no allocation per pixel
      let mask = 0;
      for (let q = 0; q < 4; q++) {
        const x = q & 1 ? x0 + 1 : x0;
        const y = q & 2 ? y0 + 1 : y0;
        if (x < 0 || x >= w || y < 0 || y >= h) continue;
        const wt = (q & 1 ? wx : 1 - wx) * (q & 2 ? wy : 1 - wy);
        mask += wt;
        const p = (y * w + x) * c;
        for (let k = 0; k < c; k++) out[o + k] += wt * data[p + k];
      }
      if (fv) for (let k = 0; k < c; k++) out[o + k] = out[o + k] * mask + (1 - mask) * fv[k];
    }
  }
  return { data: out, h: oh, w: ow, c };
}

/** torchvision's `_compute_affine_output_size` (rotate with expand). */
export function affineOutputSize(matrix: readonly number[], w: number, h: number): [number, number] {
  const f = Math.fround;
  const pts = [
    [-0.5 * w, -0.5 * h],
    [-0.5 * w, 0.5 * h],
    [0.5 * w, 0.5 * h],
    [0.5 * w, -0.5 * h],
  ];
  const xs = pts.map(([x, y]) => f(f(matrix[0]) * x + f(matrix[1]) * y + f(matrix[2])) + w * 0.5);
  const ys = pts.map(([x, y]) => f(f(matrix[3]) * x + f(matrix[4]) * y + f(matrix[5])) + h * 0.5);
  const tol = 1e-4;
  const size = (vals: number[]): number => Math.ceil(f(Math.trunc(f(Math.max(...vals) / tol)) * tol)) - Math.floor(f(Math.trunc(f(Math.min(...vals) / tol)) * tol));
  return [size(xs), size(ys)]; // w, h
}

export function checkInterpolation(mode: unknown, name: string): Interpolation {
  if (mode !== "bilinear" && mode !== "nearest") throw new Error(`${name}: interpolation must be "bilinear" or "nearest", got ${JSON.stringify(mode)}`);
  return mode;
}

// ---------------------------------------------------------------- transforms as data (for worker threads)

/** A range [min, max]. */
export type Range = [number, number];

/**
 * A transform as plain JSON: what the transform classes run per image, and
 * what a worker thread gets (through a DataLoader's `preprocessArgs`) to run
 * the same code there.
 */
export type TransformSpec =
  | { kind: "toTensor" }
  | { kind: "resize"; size: number | number[]; interpolation: Interpolation }
  | { kind: "centerCrop"; size: [number, number] }
  | { kind: "pad"; ltrb: number[]; mode: PaddingMode; fill: Fill }
  | { kind: "normalize"; mean: Fill; std: Fill }
  | { kind: "grayscale"; channels: number }
  | { kind: "randomGrayscale"; p: number }
  | { kind: "flip"; p: number; horizontal: boolean }
  | { kind: "randomCrop"; size: [number, number]; ltrb: number[] | null; padIfNeeded: boolean; fill: Fill; mode: PaddingMode }
  | { kind: "randomResizedCrop"; size: [number, number]; scale: Range; ratio: Range; interpolation: Interpolation }
  | { kind: "randomRotation"; degrees: Range; interpolation: Interpolation; expand: boolean; center: number[] | null; fill: Fill }
  | {
      kind: "randomAffine";
      degrees: Range;
      translate: number[] | null;
      scale: Range | null;
      shear: number[] | null;
      interpolation: Interpolation;
      fill: Fill;
      center: number[] | null;
    }
  | { kind: "colorJitter"; brightness: Range | null; contrast: Range | null; saturation: Range | null; hue: Range | null };

/** The spec kinds that only copy pixels (an int32 image stays int32). */
export const COPY_KINDS: readonly string[] = ["centerCrop", "pad", "flip", "randomCrop"];

/** torchvision's `RandomResizedCrop.get_params`: [top, left, height, width]. */
export function resizedCropParams(h: number, w: number, scale: Range, ratio: Range, random: () => number): [number, number, number, number] {
  const area = h * w;
  const lo = Math.log(ratio[0]);
  const hi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + random() * (scale[1] - scale[0]));
    const aspect = Math.exp(lo + random() * (hi - lo));
    const cw = pyRound(Math.sqrt(targetArea * aspect));
    const ch = pyRound(Math.sqrt(targetArea / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) return [Math.floor(random() * (h - ch + 1)), Math.floor(random() * (w - cw + 1)), ch, cw];
  }
  const inRatio = w / h;
  let cw = w;
  let ch = h;
  if (inRatio < Math.min(ratio[0], ratio[1])) ch = pyRound(w / Math.min(ratio[0], ratio[1]));
  else if (inRatio > Math.max(ratio[0], ratio[1])) cw = pyRound(h * Math.max(ratio[0], ratio[1]));
  return [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
}

/** The parameters of affine transform (the centre and interpolation apart). */
export interface AffineParams {
  angle: number;
  translate: [number, number];
  scale: number;
  shear: [number, number];
}

/** torchvision's `RandomAffine.get_params`. */
export function affineParams(h: number, w: number, degrees: Range, translate: number[] | null, scale: Range | null, shear: number[] | null, random: () => number): AffineParams {
  const u = (a: number, b: number): number => a + random() * (b - a);
  const angle = u(degrees[0], degrees[1]);
  let t: [number, number] = [0, 0];
  if (translate) {
    const mx = translate[0] * w;
    const my = translate[1] * h;
    t = [pyRound(u(-mx, mx)), pyRound(u(-my, my))];
  }
  const s = scale ? u(scale[0], scale[1]) : 1;
  const sh: [number, number] = [0, 0];
  if (shear) {
    sh[0] = u(shear[0], shear[1]);
    if (shear.length === 4) sh[1] = u(shear[2], shear[3]);
  }
  return { angle, translate: t, scale: s, shear: sh };
}

/**
 * Run one transform spec on one host image, drawing from `random`. `isInt`:
 * the pixels are still whole 0..255 values (for toTensor).
 */
export function applySpecHost(spec: TransformSpec, img: HostImage, random: () => number, isInt = false): HostImage {
  const u = (a: number, b: number): number => a + random() * (b - a);
  switch (spec.kind) {
    case "toTensor":
      return isInt ? { ...img, data: img.data.map((v) => v / 255) } : img;
    case "resize": {
      const [oh, ow] = resizedSize(img.h, img.w, spec.size, "Resize");
      return resizeHost(img, oh, ow, spec.interpolation);
    }
    case "centerCrop":
      return centerCropHost(img, spec.size[0], spec.size[1]);
    case "pad":
      return padHost(img, spec.ltrb, spec.mode, spec.fill, "Pad");
    case "normalize": {
      const m = fillFor(spec.mean, img.c, "Normalize (mean)");
      const s = fillFor(spec.std, img.c, "Normalize (std)");
      const out = new Float32Array(img.data.length);
      for (let i = 0; i < out.length; i++) out[i] = (img.data[i] - m[i % img.c]) / s[i % img.c];
      return { ...img, data: out };
    }
    case "grayscale":
      return grayscaleHost(img, spec.channels, "Grayscale");
    case "randomGrayscale":
      return random() < spec.p ? grayscaleHost(img, img.c, "RandomGrayscale") : img;
    case "flip":
      return random() < spec.p ? flipHost(img, spec.horizontal) : img;
    case "randomCrop": {
      const [th, tw] = spec.size;
      let im = spec.ltrb === null ? img : padHost(img, spec.ltrb, spec.mode, spec.fill, "RandomCrop");
      if (spec.padIfNeeded && im.w < tw) im = padHost(im, [tw - im.w, 0, tw - im.w, 0], spec.mode, spec.fill, "RandomCrop");
      if (spec.padIfNeeded && im.h < th) im = padHost(im, [0, th - im.h, 0, th - im.h], spec.mode, spec.fill, "RandomCrop");
      if (im.h < th || im.w < tw) {
        throw new Error(`RandomCrop: the crop [${th}, ${tw}] is larger than the image [${im.h}, ${im.w}] (after padding); crop smaller, pad more, or pass padIfNeeded: true`);
      }
      if (im.h === th && im.w === tw) return im;
      return cropHost(im, Math.floor(random() * (im.h - th + 1)), Math.floor(random() * (im.w - tw + 1)), th, tw);
    }
    case "randomResizedCrop": {
      const [top, left, ch, cw] = resizedCropParams(img.h, img.w, spec.scale, spec.ratio, random);
      return resizeHost(cropHost(img, top, left, ch, cw), spec.size[0], spec.size[1], spec.interpolation);
    }
    case "randomRotation": {
      const angle = u(spec.degrees[0], spec.degrees[1]);
      const cf = spec.center === null ? [0, 0] : [spec.center[0] - img.w * 0.5, spec.center[1] - img.h * 0.5];
      const m = inverseAffineMatrix(cf, -angle, [0, 0], 1, [0, 0]);
      const [ow, oh] = spec.expand ? affineOutputSize(m, img.w, img.h) : [img.w, img.h];
      return gridTransformHost(img, m, oh, ow, spec.interpolation, spec.fill, "RandomRotation");
    }
    case "randomAffine": {
      const p = affineParams(img.h, img.w, spec.degrees, spec.translate, spec.scale, spec.shear, random);
      const cf = spec.center === null ? [0, 0] : [spec.center[0] - img.w * 0.5, spec.center[1] - img.h * 0.5];
      const m = inverseAffineMatrix(cf, p.angle, p.translate, p.scale, p.shear);
      return gridTransformHost(img, m, img.h, img.w, spec.interpolation, spec.fill, "RandomAffine");
    }
    case "colorJitter": {
      const order = [0, 1, 2, 3];
      for (let i = 3; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      const b = spec.brightness && u(spec.brightness[0], spec.brightness[1]);
      const c = spec.contrast && u(spec.contrast[0], spec.contrast[1]);
      const s = spec.saturation && u(spec.saturation[0], spec.saturation[1]);
      const hu = spec.hue && u(spec.hue[0], spec.hue[1]);
      let out = img;
      for (const k of order) {
        if (k === 0 && b !== null) out = brightnessHost(out, b);
        else if (k === 1 && c !== null) out = contrastHost(out, c);
        else if (k === 2 && s !== null) out = saturationHost(out, s);
        else if (k === 3 && hu !== null) out = hueHost(out, hu);
      }
      return out;
    }
    default:
      throw new Error(`transforms: unknown transform kind ${JSON.stringify((spec as { kind: unknown }).kind)}`);
  }
}

/**
 * A DataLoader `preprocess` step over one example: the image `x` (as the
 * loader gives it, `{ data, shape }` or a typed array with `ctx.args.shape`)
 * through every spec. Runs in worker threads from its source text, with the
 * functions above pasted in front of it, so it uses nothing else.
 */
export function runSpecsOnExample(x: unknown, y: unknown, specs: TransformSpec[], random: () => number): [{ data: Float32Array; shape: number[] }, unknown] {
  const v = x as { data?: ArrayLike<number>; shape?: number[] };
  if (!v || typeof v !== "object" || !v.data || !Array.isArray(v.shape) || (v.shape.length !== 2 && v.shape.length !== 3)) {
    throw new Error(
      `transforms in a DataLoader's workers: expected each example's image as a tensor or { data, shape } with shape [H, W, C] or [H, W], got ${
        v && typeof v === "object" && Array.isArray(v.shape) ? `shape [${v.shape.join(", ")}]` : typeof x
      }`,
    );
  }
  let isInt = !(v.data instanceof Float32Array || v.data instanceof Float64Array);
  const [h, w, c0] = v.shape;
  let img: HostImage = { data: Float32Array.from(v.data), h, w, c: c0 === undefined ? 1 : c0 };
  for (const spec of specs) {
    img = applySpecHost(spec, img, random, isInt);
    isInt = isInt && ["centerCrop", "pad", "flip", "randomCrop"].includes(spec.kind);
  }
  return [{ data: img.data, shape: v.shape.length === 2 && img.c === 1 ? [img.h, img.w] : [img.h, img.w, img.c] }, y];
}

/** The functions `runSpecsOnExample` needs, in the order they are pasted into a worker's preprocess source. */
export const HOST_FUNCTIONS: readonly ((...args: never[]) => unknown)[] = [
  checkInt,
  pyRound,
  sizePair,
  resizeHost,
  resizedSize,
  cropHost,
  fillFor,
  padHost,
  flipHost,
  centerCropHost,
  grayOf,
  checkChannels,
  grayscaleHost,
  clamp01,
  checkFactor,
  blendHost,
  brightnessHost,
  contrastHost,
  saturationHost,
  hueHost,
  inverseAffineMatrix,
  nearbyint,
  gridTransformHost,
  affineOutputSize,
  resizedCropParams,
  affineParams,
  applySpecHost,
  runSpecsOnExample,
];
