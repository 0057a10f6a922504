/**
 * A small object-detection data set that d2l-ts generates, for the book's SSD
 * (d2l 1.0 section 14.6 "The Object Detection Dataset", 13.6 of the Chinese
 * edition). The book downloads a banana data set (1,000 training and 100
 * validation images of 256x256 pixels, one banana each, pasted at a random
 * position and size on a photo). That download cannot be had offline, so the
 * library builds the same kind of data itself: one Fashion-MNIST item per
 * image, pasted at a random position and scale, in a random contrasting
 * colour, on a noise background, with its tight bounding box as the label.
 *
 * Choices, and why:
 * - Each image is generated from the seed and its index alone (no image is
 *   stored): the same seed gives the same images, in any order, and a
 *   256x256 set costs no memory (1,100 images would be 216 MB as bytes).
 * - Labels are `[1, 5]` per image, `(class, x1, y1, x2, y2)` with corners
 *   relative to the image (0..1), as the book's banana labels. The class is
 *   0 for every item by default (`classes: "object"`): the banana set has one
 *   class, and the book's `TinySSD(num_classes=1)` then runs unchanged;
 *   `classes: "fashion"` labels each box with its Fashion-MNIST class (0-9)
 *   for a ten-class detector.
 * - Training images take their items from Fashion-MNIST's training split,
 *   validation images from its test split, so no item is shared.
 * - Pixels are float32 0..255, as the book's `BananasDataset` returns them
 *   (`read_image(...).float()`); the book divides by 255 only to show them.
 *
 * For users who are online, `loadDataBananas` reads the book's real banana
 * files (DATA_HUB's `banana-detection`); it never falls back to the generated
 * set, which has its own name.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { unzipSync } from "fflate";
import { type BatchDataset, DataLoader, TensorDataset } from "../data/dataset";
import { DATA_HUB, DATA_URL, download } from "../data/hub";
import { DownloadError, cacheRoot } from "../data/download";
import { readImage } from "./image";
import { type FashionMnistSplit, readFashionMnist } from "../data/fashionMnist";
import { mixSeed, rng } from "../data/random";
import { say } from "../data/download";
import { isQuick } from "../quick";

/** Options of {@link FashionDetectionDataset} and {@link loadDataFashionDetection}. */
export interface FashionDetectionOptions {
  /** Side of the square images in pixels (default 256, the book's size; at least 32). Smaller is faster. */
  imageSize?: number;
  /** Training images (default 1,000 as the book's banana set; quick mode 256). */
  numTrain?: number;
  /** Validation images (default 100 as the book's; quick mode 64). */
  numVal?: number;
  /** Seed of the generated images (default 0): the same seed gives the same images. */
  seed?: number;
  /** `"object"` (default): class 0 for every box, as the banana set; `"fashion"`: the item's Fashion-MNIST class 0-9. */
  classes?: "object" | "fashion";
  /** Smallest and largest side of the pasted item's box, as fractions of the image side (default `[0.15, 0.5]`). */
  scale?: [number, number];
  /** Seed of the training loader's shuffle (default: drawn, so `d2l.seed(n)` fixes it). */
  shuffleSeed?: number;
  /** A folder holding the Fashion-MNIST files; overrides `D2L_DATA_DIR` (see `readFashionMnist`). */
  root?: string;
  /** No notes. */
  quiet?: boolean;
}

/** The number of training and validation images in quick mode (`D2L_QUICK=1`) when none is given. */
const QUICK_SIZES = { train: 256, val: 64 };

interface Resolved {
  imageSize: number;
  seed: number;
  classes: "object" | "fashion";
  scale: [number, number];
}

function resolve(who: string, o: FashionDetectionOptions): Resolved {
  if (o === null || typeof o !== "object") throw new Error(`${who}: options must be an object such as { imageSize: 64 }, got ${String(o)}`);
  const imageSize = o.imageSize ?? 256;
  if (!Number.isInteger(imageSize) || imageSize < 32) throw new Error(`${who}: imageSize must be an integer of at least 32 (pixels per side), got ${String(o.imageSize)}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`${who}: seed must be an integer, got ${String(o.seed)}`);
  const classes = o.classes ?? "object";
  if (classes !== "object" && classes !== "fashion")
    throw new Error(`${who}: classes must be "object" (one class, as the banana set) or "fashion" (the ten Fashion-MNIST classes), got ${String(o.classes)}`);
  const scale = o.scale ?? [0.15, 0.5];
  if (!Array.isArray(scale) || scale.length !== 2 || !(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) {
    throw new Error(`${who}: scale must be [min, max] with 0 < min <= max <= 1 (fractions of the image side), got ${JSON.stringify(o.scale)}`);
  }
  return { imageSize, seed, classes, scale: [scale[0], scale[1]] };
}

/**
 * Draws image `index` of a split: pixels (float32, 0..255, `[size, size, 3]`
 * row-major) into `out` at `offset`, and its label `(class, x1, y1, x2, y2)`
 * into `label` at `labelOffset`.
 */
function renderExample(split: FashionMnistSplit, r: Resolved, splitSalt: number, index: number, out: Float32Array, offset: number, label: Float32Array, labelOffset: number): void {
  const S = r.imageSize;
  const next = rng(mixSeed(mixSeed(r.seed, splitSalt), index));
  const item = Math.floor(next() * split.count);
  const px = split.images.subarray(item * 784, item * 784 + 784);
  // background: a coarse 5x5 grid of random colours, bilinearly spread, plus per-pixel noise
  const G = 5;
  const grid = new Float32Array(G * G * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = 40 + 175 * next();
  for (let y = 0; y < S; y++) {
    const gy = (y / (S - 1)) * (G - 1);
    const y0 = Math.min(G - 2, Math.floor(gy));
    const fy = gy - y0;
    for (let x = 0; x < S; x++) {
      const gx = (x / (S - 1)) * (G - 1);
      const x0 = Math.min(G - 2, Math.floor(gx));
      const fx = gx - x0;
      const o = offset + (y * S + x) * 3;
      for (let c = 0; c < 3; c++) {
        const a = grid[(y0 * G + x0) * 3 + c] * (1 - fx) + grid[(y0 * G + x0 + 1) * 3 + c] * fx;
        const b = grid[((y0 + 1) * G + x0) * 3 + c] * (1 - fx) + grid[((y0 + 1) * G + x0 + 1) * 3 + c] * fx;
        const v = a * (1 - fy) + b * fy + (next() - 0.5) * 80;
        out[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  // the item's tight box in its 28x28 image
  let r0 = 28,
    r1 = -1,
    c0 = 28,
    c1 = -1;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      if (px[y * 28 + x] > 0) {
        if (y < r0) r0 = y;
        if (y > r1) r1 = y;
        if (x < c0) c0 = x;
        if (x > c1) c1 = x;
      }
    }
  }
  if (r1 < 0) [r0, r1, c0, c1] = [0, 27, 0, 27]; // an empty item (none in Fashion-MNIST): the whole square
  const h0 = r1 - r0 + 1;
  const w0 = c1 - c0 + 1;
  const side = Math.round((r.scale[0] + (r.scale[1] - r.scale[0]) * next()) * S);
  const long = Math.max(h0, w0);
  const sh = Math.max(2, Math.min(S, Math.round((h0 * side) / long)));
  const sw = Math.max(2, Math.min(S, Math.round((w0 * side) / long)));
  const top = Math.floor(next() * (S - sh + 1));
  const left = Math.floor(next() * (S - sw + 1));
  // a colour that stands out from the background under the box's centre
  const centre = offset + ((top + (sh >> 1)) * S + left + (sw >> 1)) * 3;
  const colour = [0, 1, 2].map((c) => (out[centre + c] < 128 ? 190 + 65 * next() : 65 * next()));
  for (let y = 0; y < sh; y++) {
    const sy = Math.min(h0 - 1, Math.max(0, ((y + 0.5) * h0) / sh - 0.5));
    const iy = Math.min(h0 - 2, Math.floor(sy));
    const fy = h0 === 1 ? 0 : sy - Math.max(0, iy);
    const ya = r0 + Math.max(0, iy);
    const yb = Math.min(r1, ya + 1);
    for (let x = 0; x < sw; x++) {
      const sx = Math.min(w0 - 1, Math.max(0, ((x + 0.5) * w0) / sw - 0.5));
      const ix = Math.min(w0 - 2, Math.floor(sx));
      const fx = w0 === 1 ? 0 : sx - Math.max(0, ix);
      const xa = c0 + Math.max(0, ix);
      const xb = Math.min(c1, xa + 1);
      const top2 = px[ya * 28 + xa] * (1 - fx) + px[ya * 28 + xb] * fx;
      const bot2 = px[yb * 28 + xa] * (1 - fx) + px[yb * 28 + xb] * fx;
      const alpha = (top2 * (1 - fy) + bot2 * fy) / 255;
      const o = offset + ((top + y) * S + left + x) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = out[o + c] * (1 - alpha) + colour[c] * alpha;
    }
  }
  label[labelOffset] = r.classes === "fashion" ? split.labels[item] : 0;
  label[labelOffset + 1] = left / S;
  label[labelOffset + 2] = top / S;
  label[labelOffset + 3] = (left + sw) / S;
  label[labelOffset + 4] = (top + sh) / S;
}

/**
 * The generated detection data set of one split (the book's
 * `BananasDataset(is_train)`, d2l 1.0 section 14.6, on images d2l-ts draws):
 * example `i` is `[image, label]`, a float32 `[size, size, 3]` image
 * (channels last, 0..255) and a float32 `[1, 5]` label `(class, x1, y1, x2,
 * y2)`, corners relative to the image. Images are drawn on demand from the
 * seed and the index, so the same seed always gives the same images. Use
 * {@link FashionDetectionDataset.create} (it reads Fashion-MNIST), or
 * {@link loadDataFashionDetection} for loaders.
 *
 * @example
 * const valSet = await d2l.FashionDetectionDataset.create(false, { imageSize: 64 });
 * const [image, label] = valSet.get(0); // [64, 64, 3] float32 0..255, [1, 5]
 */
export class FashionDetectionDataset implements BatchDataset<[tf.Tensor, tf.Tensor]> {
  /** Side of the square images in pixels. */
  readonly imageSize: number;
  /** Number of images. */
  readonly length: number;
  private readonly r: Resolved;

  /**
   * The split's images, from Fashion-MNIST's items already read (its
   * training split for training images, its test split for validation).
   * Prefer {@link FashionDetectionDataset.create}.
   */
  constructor(
    readonly isTrain: boolean,
    private readonly items: FashionMnistSplit,
    length: number,
    options: FashionDetectionOptions = {},
  ) {
    const who = "FashionDetectionDataset";
    this.r = resolve(who, options);
    if (!Number.isInteger(length) || length < 1) throw new Error(`${who}: the number of images must be a positive integer, got ${String(length)}`);
    if (!items || !(items.images instanceof Uint8Array) || items.count < 1)
      throw new Error(`${who}: items must be a Fashion-MNIST split ({ images, labels, count }) as readFashionMnist returns`);
    this.imageSize = this.r.imageSize;
    this.length = length;
  }

  /**
   * Reads Fashion-MNIST (see `readFashionMnist`) and makes the training
   * (`isTrain`) or validation split: 1,000 or 100 images unless
   * `numTrain`/`numVal` say otherwise (quick mode: 256 and 64).
   *
   * @example
   * const trainSet = await d2l.FashionDetectionDataset.create(true, { imageSize: 128, seed: 1 });
   * trainSet.length; // 1000
   */
  static async create(isTrain: boolean, options: FashionDetectionOptions = {}): Promise<FashionDetectionDataset> {
    resolve("FashionDetectionDataset.create", options);
    const raw = await readFashionMnist({ root: options.root, quiet: options.quiet });
    const [numTrain, numVal] = sizes("FashionDetectionDataset.create", options);
    return new FashionDetectionDataset(isTrain, isTrain ? raw.train : raw.test, isTrain ? numTrain : numVal, options);
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new RangeError(`FashionDetectionDataset: index ${String(i)} is out of range; the set has ${this.length} images (0 to ${this.length - 1})`);
  }

  /** Image `i` and its label, as the book's `dataset[i]`. @example const [image, label] = trainSet.get(0); */
  get(i: number): [tf.Tensor, tf.Tensor] {
    this.check(i);
    const S = this.imageSize;
    const pixels = new Float32Array(S * S * 3);
    const label = new Float32Array(5);
    renderExample(this.items, this.r, this.isTrain ? 1 : 2, i, pixels, 0, label, 0);
    return [tf.tensor3d(pixels, [S, S, 3]), tf.tensor2d(label, [1, 5])];
  }

  /** The images at `indices` `[n, size, size, 3]` and their labels `[n, 1, 5]`. @example const [X, Y] = trainSet.getBatch(Int32Array.from([0, 1])); */
  getBatch(indices: Int32Array): [tf.Tensor, tf.Tensor] {
    const S = this.imageSize;
    const n = indices.length;
    const pixels = new Float32Array(n * S * S * 3);
    const labels = new Float32Array(n * 5);
    for (let k = 0; k < n; k++) {
      this.check(indices[k]);
      renderExample(this.items, this.r, this.isTrain ? 1 : 2, indices[k], pixels, k * S * S * 3, labels, k * 5);
    }
    return [tf.tensor4d(pixels, [n, S, S, 3]), tf.tensor3d(labels, [n, 1, 5])];
  }
}

function sizes(who: string, o: FashionDetectionOptions): [number, number] {
  for (const k of ["numTrain", "numVal"] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`${who}: ${k} must be a positive integer, got ${String(v)}`);
  }
  const quick = isQuick();
  return [o.numTrain ?? (quick ? QUICK_SIZES.train : 1000), o.numVal ?? (quick ? QUICK_SIZES.val : 100)];
}

/**
 * The generated detection data set as two loaders, training (shuffled) and
 * validation: the shape of the book's `d2l.load_data_bananas(batch_size)`
 * (d2l 1.0 section 14.6), on Fashion-MNIST items pasted on noise (see
 * {@link FashionDetectionDataset}; the book's banana files are not used).
 * Batches are `[X, Y]`: X float32 `[batch, size, size, 3]` (channels last,
 * 0..255), Y float32 `[batch, 1, 5]`, each row `(class, x1, y1, x2, y2)` in
 * 0..1. 1,000 training and 100 validation images of 256x256 as the book; in
 * quick mode (`D2L_QUICK=1`) 256 and 64 unless `numTrain`/`numVal` are given.
 *
 * @example
 * const [trainIter, valIter] = await d2l.loadDataFashionDetection(32);
 * for await (const [X, Y] of trainIter) {
 *   console.log(X.shape, Y.shape); // [32, 256, 256, 3] [32, 1, 5]
 *   tf.dispose([X, Y]);
 *   break;
 * }
 */
export async function loadDataFashionDetection(
  batchSize: number,
  options: FashionDetectionOptions = {},
): Promise<[DataLoader<[tf.Tensor, tf.Tensor]>, DataLoader<[tf.Tensor, tf.Tensor]>]> {
  const who = "loadDataFashionDetection";
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${who}: batchSize must be a positive integer, got ${String(batchSize)}`);
  resolve(who, options);
  const [numTrain, numVal] = sizes(who, options);
  if (isQuick() && (options.numTrain === undefined || options.numVal === undefined) && !options.quiet) {
    say(`D2L_QUICK=1: generating ${numTrain} training and ${numVal} validation detection images.`);
  }
  const raw = await readFashionMnist({ root: options.root, quiet: options.quiet });
  const train = new FashionDetectionDataset(true, raw.train, numTrain, options);
  const val = new FashionDetectionDataset(false, raw.test, numVal, options);
  return [new DataLoader(train, { batchSize, shuffle: true, seed: options.shuffleSeed }), new DataLoader(val, { batchSize, shuffle: false })];
}

/** The book's banana data set (`DATA_HUB['banana-detection']`): its URL and SHA-1. */
export const BANANA_DETECTION_URL = DATA_URL + "banana-detection.zip";
/** SHA-1 of banana-detection.zip, as in the book's `DATA_HUB`. */
export const BANANA_DETECTION_SHA1 = "5de26c8fce5ccdea9f91267273464dc968d20d72";
if (!Object.prototype.hasOwnProperty.call(DATA_HUB, "banana-detection")) DATA_HUB["banana-detection"] = [BANANA_DETECTION_URL, BANANA_DETECTION_SHA1];

/** Options of {@link readDataBananas} and {@link loadDataBananas}. */
export interface BananasOptions {
  /** No progress bars or notes. */
  quiet?: boolean;
  /** Seed of the training loader's shuffle (loadDataBananas). */
  shuffleSeed?: number;
}

/** The folder holding bananas_train/ and bananas_val/, extracted from the zip into the cache when needed. */
async function bananaDir(quiet: boolean | undefined): Promise<string> {
  let zip: string;
  try {
    zip = await download("banana-detection", cacheRoot(), { quiet });
  } catch (e) {
    if (e instanceof DownloadError) {
      throw new DownloadError(
        e.url,
        e.reason,
        "To work offline, put banana-detection.zip in a folder and set D2L_DATA_DIR to it, or train on the data set d2l generates instead: d2l.loadDataFashionDetection(batchSize).",
      );
    }
    throw e;
  }
  const root = path.join(cacheRoot(), "banana-detection-" + DATA_HUB["banana-detection"][1].slice(0, 8));
  const dir = path.join(root, "banana-detection");
  if (fs.existsSync(path.join(dir, "bananas_val", "label.csv"))) return dir;
  const files = unzipSync(new Uint8Array(fs.readFileSync(zip)));
  const tmp = root + ".tmp-" + process.pid;
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const [name, bytes] of Object.entries(files)) {
    if (name.endsWith("/")) continue;
    const dest = path.resolve(tmp, name);
    if (!dest.startsWith(path.resolve(tmp) + path.sep)) throw new Error(`readDataBananas: ${zip} holds a file outside its folder (${name}); delete it to download it again`);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, bytes);
  }
  if (!fs.existsSync(path.join(tmp, "banana-detection", "bananas_val", "label.csv"))) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`readDataBananas: ${zip} does not hold banana-detection/bananas_train and bananas_val with their label.csv; delete it to download it again`);
  }
  fs.rmSync(root, { recursive: true, force: true });
  fs.renameSync(tmp, root);
  return dir;
}

/**
 * The book's banana detection data (`d2l.read_data_bananas(is_train)`, d2l
 * 1.0 section 14.6), downloaded from the book's `DATA_HUB` (or read from
 * `D2L_DATA_DIR` / the cache): images uint8 `[n, 256, 256, 3]` (channels
 * last) and labels float32 `[n, 1, 5]`, `(class, x1, y1, x2, y2)` with the
 * corners divided by 256. Needs the network (or the zip in `D2L_DATA_DIR`);
 * offline, use {@link loadDataFashionDetection}.
 *
 * @example
 * const { images, labels } = await d2l.readDataBananas(true);
 * labels.shape; // [1000, 1, 5]
 */
export async function readDataBananas(isTrain = true, options: BananasOptions = {}): Promise<{ images: Uint8Array; labels: Float32Array; count: number; size: [number, number] }> {
  const dir = path.join(await bananaDir(options.quiet), isTrain ? "bananas_train" : "bananas_val");
  const rows = fs
    .readFileSync(path.join(dir, "label.csv"), "utf8")
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "");
  const header = rows[0].split(",").map((h) => h.trim());
  const want = ["img_name", "label", "xmin", "ymin", "xmax", "ymax"];
  if (want.some((h, i) => header[i] !== h)) throw new Error(`readDataBananas: ${path.join(dir, "label.csv")} should start with the header ${want.join(",")}, got ${rows[0]}`);
  const n = rows.length - 1;
  let size: [number, number] = [256, 256];
  let images = new Uint8Array(0);
  const labels = new Float32Array(n * 5);
  for (let i = 0; i < n; i++) {
    const cells = rows[i + 1].split(",");
    const img = await readImage(path.join(dir, "images", cells[0].trim()), { mode: "rgb" });
    const [h, w] = img.shape;
    if (i === 0) {
      size = [h, w];
      images = new Uint8Array(n * h * w * 3);
    } else if (h !== size[0] || w !== size[1]) {
      img.dispose();
      throw new Error(`readDataBananas: image ${cells[0]} is ${h}x${w}, the others ${size[0]}x${size[1]}`);
    }
    images.set(await img.data(), i * h * w * 3);
    img.dispose();
    labels[i * 5] = Number(cells[1]);
    for (let k = 2; k < 6; k++) labels[i * 5 + k - 1] = Number(cells[k]) / 256;
  }
  return { images, labels, count: n, size };
}

/**
 * The book's `d2l.load_data_bananas(batch_size)` on the real banana files
 * (downloaded; see {@link readDataBananas}): training (shuffled) and
 * validation loaders of `[X, Y]`, X float32 `[batch, 256, 256, 3]` (0..255,
 * channels last), Y float32 `[batch, 1, 5]`. Offline it fails with a message
 * saying so; the offline equivalent is {@link loadDataFashionDetection}.
 *
 * @example
 * const [trainIter, valIter] = await d2l.loadDataBananas(32);
 */
export async function loadDataBananas(batchSize: number, options: BananasOptions = {}): Promise<[DataLoader<[tf.Tensor, tf.Tensor]>, DataLoader<[tf.Tensor, tf.Tensor]>]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`loadDataBananas: batchSize must be a positive integer, got ${String(batchSize)}`);
  const make = async (isTrain: boolean): Promise<TensorDataset<[tf.Tensor, tf.Tensor]>> => {
    const d = await readDataBananas(isTrain, options);
    return TensorDataset.fromArrays<[tf.Tensor, tf.Tensor]>(
      { values: d.images, shape: [d.count, d.size[0], d.size[1], 3], dtype: "float32" },
      { values: d.labels, shape: [d.count, 1, 5], dtype: "float32" },
    );
  };
  const train = await make(true);
  const val = await make(false);
  return [new DataLoader(train, { batchSize, shuffle: true, seed: options.shuffleSeed, ownsDataset: true }), new DataLoader(val, { batchSize, shuffle: false, ownsDataset: true })];
}
