/**
 * A semantic-segmentation data set that d2l-ts generates, for the book's
 * section 13.9 ("Semantic Segmentation and the Dataset"; 14.9 of d2l 1.0).
 * The book downloads Pascal VOC2012 (2 GB of photos with a class per pixel).
 * That download cannot be had offline, so the library draws the same kind of
 * data itself: 1 to 3 Fashion-MNIST items pasted at random positions and
 * sizes, each in a random colour, on a noise background; every pixel is
 * labelled 0 (background) or 1 + the Fashion-MNIST class of the item drawn
 * there (the item's pixel above a threshold). Later items cover earlier ones,
 * in the image and in the labels.
 *
 * Choices, and why:
 * - Each image is drawn from the seed and its index alone (none is stored):
 *   the same seed gives the same images in any order, at no memory cost.
 * - The canvas is the crop size: the book crops VOC's photos at random to
 *   `crop_size` (`voc_rand_crop`); an image made at that size needs no crop.
 * - Items are scaled by nearest neighbour, so that the label of a pixel is
 *   exactly "the scaled item's pixel is above the threshold" (the unit test
 *   rebuilds the labels from {@link FashionSegDataset.layout} that way).
 * - Training images take their items from Fashion-MNIST's training split,
 *   test images from its test split, so no item is shared.
 * - Images are float32 in 0..1, channels last, as the book's dataset divides
 *   by 255 (it then normalises with ImageNet's statistics for its pretrained
 *   ResNet; no pretrained network is used here). Labels are int32.
 */
import * as tf from "@tensorflow/tfjs";
import { type BatchDataset, DataLoader } from "../data/dataset";
import { type FashionMnistSplit, readFashionMnist } from "../data/fashionMnist";
import { mixSeed, rng } from "../data/random";
import { say } from "../data/download";
import { isQuick } from "../quick";
import { readsSync } from "../read";

/**
 * The book's `VOC_COLORMAP` (section 13.9): the RGB colour of each of VOC's
 * 21 classes in its label images, background first. {@link label2image}
 * colours the generated data set's labels with its first 11 colours.
 *
 * @example
 * d2l.VOC_COLORMAP[1]; // [128, 0, 0], VOC's "aeroplane"
 */
export const VOC_COLORMAP: readonly (readonly [number, number, number])[] = Object.freeze(
  (
    [
      [0, 0, 0],
      [128, 0, 0],
      [0, 128, 0],
      [128, 128, 0],
      [0, 0, 128],
      [128, 0, 128],
      [0, 128, 128],
      [128, 128, 128],
      [64, 0, 0],
      [192, 0, 0],
      [64, 128, 0],
      [192, 128, 0],
      [64, 0, 128],
      [192, 0, 128],
      [64, 128, 128],
      [192, 128, 128],
      [0, 64, 0],
      [128, 64, 0],
      [0, 192, 0],
      [128, 192, 0],
      [0, 64, 128],
    ] as [number, number, number][]
  ).map((c) => Object.freeze(c) as readonly [number, number, number]),
);

/**
 * The classes of the generated segmentation data set, in label order (the
 * counterpart of the book's `VOC_CLASSES`): 0 is the background, 1 + c is
 * Fashion-MNIST's class c.
 *
 * @example
 * d2l.FASHION_SEG_CLASSES[1]; // "t-shirt"
 */
export const FASHION_SEG_CLASSES: readonly string[] = Object.freeze([
  "background",
  "t-shirt",
  "trouser",
  "pullover",
  "dress",
  "coat",
  "sandal",
  "shirt",
  "sneaker",
  "bag",
  "ankle boot",
]);

/** Options of {@link FashionSegDataset} and {@link loadDataFashionSeg}. */
export interface FashionSegOptions {
  /** Training images (default 1,114, as many as the book keeps of VOC's training set at its crop size; quick mode 256). */
  numTrain?: number;
  /** Test images (default 1,078, as the book's test set; quick mode 64). */
  numTest?: number;
  /** Seed of the generated images (default 0): the same seed gives the same images. */
  seed?: number;
  /** Fewest and most items per image (default `[1, 3]`). */
  numItems?: [number, number];
  /** Smallest and largest side of a pasted item (its 28x28 square), as a fraction of the canvas' shorter side (default `[0.4, 0.8]`; about three quarters of the pixels are then background). */
  scale?: [number, number];
  /** A pixel belongs to an item where the item's Fashion-MNIST pixel (0..255) is above this (default 50). */
  threshold?: number;
  /** Seed of the training loader's shuffle (default: drawn, so `d2l.seed(n)` fixes it). */
  shuffleSeed?: number;
  /** A folder holding the Fashion-MNIST files; overrides `D2L_DATA_DIR` (see `readFashionMnist`). */
  root?: string;
  /** No notes. */
  quiet?: boolean;
}

/** Where one item of an image was pasted: see {@link FashionSegDataset.layout}. */
export interface SegItem {
  /** Index of the item in its Fashion-MNIST split. */
  item: number;
  /** Its Fashion-MNIST class (0-9); its pixels are labelled `1 + cls`. */
  cls: number;
  /** Row and column of the top-left corner of its square on the canvas. */
  top: number;
  left: number;
  /** Side of its square in pixels (the 28x28 item scaled by nearest neighbour). */
  side: number;
  /** Its RGB colour, 0..1. */
  colour: [number, number, number];
}

const QUICK_SIZES = { train: 256, test: 64 };

interface Resolved {
  height: number;
  width: number;
  seed: number;
  numItems: [number, number];
  scale: [number, number];
  threshold: number;
}

function pair(who: string, what: string, v: unknown, ok: (a: number, b: number) => boolean, expected: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== "number" || typeof v[1] !== "number" || !ok(v[0], v[1])) {
    throw new Error(`${who}: ${what} must be ${expected}, got ${JSON.stringify(v)}`);
  }
  return [v[0], v[1]];
}

function resolve(who: string, cropSize: unknown, o: FashionSegOptions): Resolved {
  if (o === null || typeof o !== "object") throw new Error(`${who}: options must be an object such as { seed: 1 }, got ${String(o)}`);
  const crop = typeof cropSize === "number" ? [cropSize, cropSize] : cropSize;
  const [height, width] = pair(
    who,
    "cropSize",
    crop,
    (h, w) => Number.isInteger(h) && Number.isInteger(w) && h >= 28 && w >= 28,
    "[height, width] (or one side) of whole numbers of at least 28 pixels, such as [64, 96]",
  );
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`${who}: seed must be an integer, got ${String(o.seed)}`);
  const numItems = pair(
    who,
    "numItems",
    o.numItems ?? [1, 3],
    (a, b) => Number.isInteger(a) && Number.isInteger(b) && a >= 0 && a <= b && b <= 16,
    "[fewest, most] whole numbers with 0 <= fewest <= most <= 16",
  );
  const scale = pair(who, "scale", o.scale ?? [0.4, 0.8], (a, b) => a > 0 && a <= b && b <= 1, "[min, max] with 0 < min <= max <= 1 (fractions of the canvas' shorter side)");
  const threshold = o.threshold ?? 50;
  if (typeof threshold !== "number" || !(threshold >= 0 && threshold < 255))
    throw new Error(`${who}: threshold must be a number in 0..254 (a Fashion-MNIST pixel value), got ${String(o.threshold)}`);
  return { height, width, seed, numItems, scale, threshold };
}

/** The items of image `index`, and the generator positioned to draw its background. */
function plan(split: FashionMnistSplit, r: Resolved, splitSalt: number, index: number): { items: SegItem[]; next: () => number } {
  const next = rng(mixSeed(mixSeed(r.seed, splitSalt), index));
  const count = r.numItems[0] + Math.floor(next() * (r.numItems[1] - r.numItems[0] + 1));
  const short = Math.min(r.height, r.width);
  const items: SegItem[] = [];
  for (let k = 0; k < count; k++) {
    const item = Math.floor(next() * split.count);
    const side = Math.max(2, Math.round((r.scale[0] + (r.scale[1] - r.scale[0]) * next()) * short));
    const top = Math.floor(next() * (r.height - side + 1));
    const left = Math.floor(next() * (r.width - side + 1));
    // bright or dark on each channel, so that items stand out from the mid-grey background
    const colour = [0, 1, 2].map(() => (next() < 0.5 ? 0.05 + 0.2 * next() : 0.75 + 0.25 * next())) as [number, number, number];
    items.push({ item, cls: split.labels[item], top, left, side, colour });
  }
  return { items, next };
}

/** Draws image `index` into `out` (float32 `[h, w, 3]`, 0..1) at `offset` and its labels into `labels` at `labelOffset`. */
function render(split: FashionMnistSplit, r: Resolved, splitSalt: number, index: number, out: Float32Array, offset: number, labels: Int32Array, labelOffset: number): void {
  const { height: H, width: W } = r;
  const { items, next } = plan(split, r, splitSalt, index);
  // background: a coarse 4x4 grid of mid-tone colours, bilinearly spread, plus per-pixel noise
  const G = 4;
  const grid = new Float32Array(G * G * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = 0.3 + 0.4 * next();
  for (let y = 0; y < H; y++) {
    const gy = (y / Math.max(1, H - 1)) * (G - 1);
    const y0 = Math.min(G - 2, Math.floor(gy));
    const fy = gy - y0;
    for (let x = 0; x < W; x++) {
      const gx = (x / Math.max(1, W - 1)) * (G - 1);
      const x0 = Math.min(G - 2, Math.floor(gx));
      const fx = gx - x0;
      const o = offset + (y * W + x) * 3;
      for (let c = 0; c < 3; c++) {
        const a = grid[(y0 * G + x0) * 3 + c] * (1 - fx) + grid[(y0 * G + x0 + 1) * 3 + c] * fx;
        const b = grid[((y0 + 1) * G + x0) * 3 + c] * (1 - fx) + grid[((y0 + 1) * G + x0 + 1) * 3 + c] * fx;
        const v = a * (1 - fy) + b * fy + (next() - 0.5) * 0.3;
        out[o + c] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
      labels[labelOffset + y * W + x] = 0;
    }
  }
  for (const it of items) {
    const px = split.images.subarray(it.item * 784, it.item * 784 + 784);
    for (let y = 0; y < it.side; y++) {
      const sy = Math.min(27, Math.floor(((y + 0.5) * 28) / it.side));
      for (let x = 0; x < it.side; x++) {
        const v = px[sy * 28 + Math.min(27, Math.floor(((x + 0.5) * 28) / it.side))];
        if (v === 0) continue;
        const alpha = v / 255;
        const p = (it.top + y) * W + it.left + x;
        for (let c = 0; c < 3; c++) out[offset + p * 3 + c] = out[offset + p * 3 + c] * (1 - alpha) + it.colour[c] * alpha;
        if (v > r.threshold) labels[labelOffset + p] = 1 + it.cls;
      }
    }
  }
}

/**
 * The generated segmentation data set of one split (the book's
 * `VOCSegDataset(is_train, crop_size, voc_dir)`, section 13.9, on images
 * d2l-ts draws, since VOC2012 cannot be downloaded offline): example `i` is
 * `[image, label]`, a float32 `[height, width, 3]` image (channels last,
 * 0..1) and an int32 `[height, width]` label map, 0 for background and
 * 1 + the Fashion-MNIST class for an item's pixels (see
 * {@link FASHION_SEG_CLASSES}). Images are drawn on demand from the seed and
 * the index. Use {@link FashionSegDataset.create} (it reads Fashion-MNIST),
 * or {@link loadDataFashionSeg} for loaders.
 *
 * @example
 * const testSet = await d2l.FashionSegDataset.create(false, [64, 96]);
 * const [image, label] = testSet.get(0); // [64, 96, 3] float32, [64, 96] int32
 */
export class FashionSegDataset implements BatchDataset<[tf.Tensor, tf.Tensor]> {
  /** Height and width of the images. */
  readonly cropSize: [number, number];
  /** Number of images. */
  readonly length: number;
  private readonly r: Resolved;

  /**
   * The split's images at `cropSize` (`[height, width]` or one side), from
   * Fashion-MNIST's items already read (its training split for training
   * images, its test split for test images). Prefer {@link FashionSegDataset.create}.
   */
  constructor(
    readonly isTrain: boolean,
    private readonly items: FashionMnistSplit,
    cropSize: [number, number] | number,
    length: number,
    options: FashionSegOptions = {},
  ) {
    const who = "FashionSegDataset";
    this.r = resolve(who, cropSize, options);
    if (!Number.isInteger(length) || length < 1) throw new Error(`${who}: the number of images must be a positive integer, got ${String(length)}`);
    if (!items || !(items.images instanceof Uint8Array) || !(items.labels instanceof Uint8Array) || items.count < 1 || items.images.length < items.count * 784) {
      throw new Error(`${who}: items must be a Fashion-MNIST split ({ images, labels, count }) as readFashionMnist returns`);
    }
    this.cropSize = [this.r.height, this.r.width];
    this.length = length;
  }

  /**
   * Reads Fashion-MNIST (see `readFashionMnist`) and makes the training
   * (`isTrain`) or test split: 1,114 or 1,078 images as the book's VOC sets
   * unless `numTrain`/`numTest` say otherwise (quick mode: 256 and 64).
   *
   * @example
   * const trainSet = await d2l.FashionSegDataset.create(true, 64, { seed: 1 });
   * trainSet.length; // 1114
   */
  static async create(isTrain: boolean, cropSize: [number, number] | number, options: FashionSegOptions = {}): Promise<FashionSegDataset> {
    resolve("FashionSegDataset.create", cropSize, options);
    const [numTrain, numTest] = sizes("FashionSegDataset.create", options);
    const raw = await readFashionMnist({ root: options.root, quiet: options.quiet });
    return new FashionSegDataset(isTrain, isTrain ? raw.train : raw.test, cropSize, isTrain ? numTrain : numTest, options);
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new RangeError(`FashionSegDataset: index ${String(i)} is out of range; the set has ${this.length} images (0 to ${this.length - 1})`);
  }

  /** Image `i` and its label map, as the book's `dataset[i]`. @example const [image, label] = trainSet.get(0); */
  get(i: number): [tf.Tensor, tf.Tensor] {
    this.check(i);
    const { height: H, width: W } = this.r;
    const pixels = new Float32Array(H * W * 3);
    const labels = new Int32Array(H * W);
    render(this.items, this.r, this.isTrain ? 1 : 2, i, pixels, 0, labels, 0);
    return [tf.tensor3d(pixels, [H, W, 3]), tf.tensor2d(labels, [H, W], "int32")];
  }

  /** The images at `indices` `[n, h, w, 3]` and their label maps `[n, h, w]`. @example const [X, Y] = trainSet.getBatch(Int32Array.from([0, 1])); */
  getBatch(indices: Int32Array): [tf.Tensor, tf.Tensor] {
    const { height: H, width: W } = this.r;
    const n = indices.length;
    const pixels = new Float32Array(n * H * W * 3);
    const labels = new Int32Array(n * H * W);
    for (let k = 0; k < n; k++) {
      this.check(indices[k]);
      render(this.items, this.r, this.isTrain ? 1 : 2, indices[k], pixels, k * H * W * 3, labels, k * H * W);
    }
    return [tf.tensor4d(pixels, [n, H, W, 3]), tf.tensor3d(labels, [n, H, W], "int32")];
  }

  /**
   * Where the items of image `i` were pasted, in drawing order (later ones
   * cover earlier ones): to box or name them, or to check the labels.
   *
   * @example
   * trainSet.layout(0).map((it) => d2l.FASHION_SEG_CLASSES[1 + it.cls]);
   */
  layout(i: number): SegItem[] {
    this.check(i);
    return plan(this.items, this.r, this.isTrain ? 1 : 2, i).items;
  }
}

function sizes(who: string, o: FashionSegOptions): [number, number] {
  for (const k of ["numTrain", "numTest"] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`${who}: ${k} must be a positive integer, got ${String(v)}`);
  }
  const quick = isQuick();
  return [o.numTrain ?? (quick ? QUICK_SIZES.train : 1114), o.numTest ?? (quick ? QUICK_SIZES.test : 1078)];
}

/**
 * The generated segmentation data set as two loaders, training (shuffled)
 * and test: the shape of the book's `d2l.load_data_voc(batch_size,
 * crop_size)` (section 13.9), on Fashion-MNIST items pasted on noise (see
 * {@link FashionSegDataset}; VOC2012 is not reachable offline). Batches are
 * `[X, Y]`: X float32 `[batch, h, w, 3]` (channels last, 0..1), Y int32
 * `[batch, h, w]` with 0 for background and 1 + the class for items
 * (11 classes, {@link FASHION_SEG_CLASSES}). 1,114 training and 1,078 test
 * images as the book's; in quick mode (`D2L_QUICK=1`) 256 and 64 unless
 * `numTrain`/`numTest` are given.
 *
 * @example
 * const [trainIter, testIter] = await d2l.loadDataFashionSeg(32, [64, 96]);
 * for await (const [X, Y] of trainIter) {
 *   console.log(X.shape, Y.shape); // [32, 64, 96, 3] [32, 64, 96]
 *   tf.dispose([X, Y]);
 *   break;
 * }
 */
export async function loadDataFashionSeg(
  batchSize: number,
  cropSize: [number, number] | number,
  options: FashionSegOptions = {},
): Promise<[DataLoader<[tf.Tensor, tf.Tensor]>, DataLoader<[tf.Tensor, tf.Tensor]>]> {
  const who = "loadDataFashionSeg";
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${who}: batchSize must be a positive integer, got ${String(batchSize)}`);
  resolve(who, cropSize, options);
  const [numTrain, numTest] = sizes(who, options);
  if (isQuick() && (options.numTrain === undefined || options.numTest === undefined) && !options.quiet) {
    say(`D2L_QUICK=1: generating ${numTrain} training and ${numTest} test segmentation images.`);
  }
  const raw = await readFashionMnist({ root: options.root, quiet: options.quiet });
  const train = new FashionSegDataset(true, raw.train, cropSize, numTrain, options);
  const test = new FashionSegDataset(false, raw.test, cropSize, numTest, options);
  return [new DataLoader(train, { batchSize, shuffle: true, seed: options.shuffleSeed }), new DataLoader(test, { batchSize, shuffle: false })];
}

/**
 * Label maps to colour images (the book's `label2image`, section 13.11):
 * each label `k` becomes `colormap[k]`, by default the book's
 * {@link VOC_COLORMAP}. `[..., h, w]` integer labels in, `[..., h, w, 3]`
 * int32 RGB (0..255) out, ready for `d2l.showImages` after dividing by 255.
 * It computes on the device (a gather from the colormap) and reads nothing,
 * so it stays synchronous on every backend. Labels whose values are on the
 * host (every backend but webgpu, or a tensor made from an array) are
 * checked to be class indices of the colormap; labels on the GPU are not
 * (checking would need a read).
 *
 * @example
 * await d2l.label2image(tf.tensor2d([[0, 1], [2, 0]], [2, 2], "int32")).array();
 * // [[[0, 0, 0], [128, 0, 0]], [[0, 128, 0], [0, 0, 0]]]
 */
export function label2image(labels: tf.Tensor, colormap: readonly (readonly number[])[] = VOC_COLORMAP): tf.Tensor {
  if (!(labels instanceof tf.Tensor)) throw new Error("label2image expects a tensor of class indices, such as the Y of loadDataFashionSeg's batches");
  if (!Array.isArray(colormap) || colormap.length === 0 || colormap.some((c) => !Array.isArray(c) || c.length !== 3)) {
    throw new Error("label2image: colormap must be a list of [r, g, b] colours, one per class (such as d2l.VOC_COLORMAP)");
  }
  const values: ArrayLike<number> = readsSync(labels) ? (labels.dataSync() as ArrayLike<number>) : []; // sync-read-ok: guarded by readsSync (host values)
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v >= colormap.length) {
      throw new Error(
        `label2image: labels must be whole numbers from 0 to ${colormap.length - 1} (one colour each in the colormap), found ${v}; pass predictions through argMax(-1) first`,
      );
    }
  }
  return tf.tidy(() =>
    tf.gather(
      tf.tensor2d(
        colormap.map((c) => [...c]),
        [colormap.length, 3],
        "int32",
      ),
      labels.toInt(),
    ),
  );
}
