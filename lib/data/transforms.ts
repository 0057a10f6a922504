/**
 * `d2l.transforms`: torchvision's image transforms (`torchvision.transforms`)
 * in camelCase, on channels-last tensors: one image `[H, W, C]` or a batch
 * `[N, H, W, C]`. Each transform is an object with `apply(x)` (torchvision's
 * `__call__`); {@link Compose} chains them; {@link forBatch} makes a
 * chain a {@link DataLoader}'s per-batch `transform` option (main thread),
 * {@link preprocessFor} its per-example `preprocess` (worker threads too).
 *
 * Randomness: a random transform draws from its own seeded generator when
 * given `{ seed }`, else from `Math.random`, which `d2l.seed(n)` seeds. On a
 * batch, random transforms draw **per image** (what a PyTorch DataLoader with
 * per-example transforms gives; torchvision's transforms applied to a batch
 * tensor would draw once for the whole batch).
 *
 * The deterministic cores live in `d2l.transforms.functional` and match
 * torchvision 0.14's tensor path within 1e-4 (test/unit/transforms.test.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { rng } from "./random";
import type { PlainValue } from "./collate";
import { compilePreprocess, type PreprocessContext } from "./preprocess";
import * as F from "./transformsCore";
import * as functional from "./transformsFunctional";
import type { Fill, Interpolation, PaddingMode, TransformSpec } from "./transformsCore";

export * as functional from "./transformsFunctional";
export type { Fill, Interpolation, PaddingMode, TransformSpec, Range } from "./transformsCore";

/** Something that transforms an image or a batch: a transform object or a plain function. */
export type TransformLike = Transform | ((x: tf.Tensor) => tf.Tensor);

/**
 * The base of every transform: `apply(x)` returns a new tensor (the input is
 * left for the caller to dispose).
 *
 * @example
 * class Invert extends d2l.transforms.Transform {
 *   apply(x: tf.Tensor) { return tf.sub(1, x); }
 * }
 */
export abstract class Transform {
  /** Transform one image `[H, W, C]` or a batch `[N, H, W, C]`. */
  abstract apply(x: tf.Tensor): tf.Tensor;
  /** The transform as plain data that worker threads run ({@link preprocessFor}); null when it cannot be (it runs tfjs or user code). */
  specs(): TransformSpec[] | null {
    return null;
  }
}

function run(t: TransformLike, x: tf.Tensor): tf.Tensor {
  if (typeof t === "function") return t(x);
  if (t && typeof (t as Transform).apply === "function") return (t as Transform).apply(x);
  throw new Error(`transforms: expected a transform (an object with apply(x), such as new d2l.transforms.Resize(32)) or a function (x) => tensor, got ${String(t)}`);
}

/** Run a transform's spec on every image of x. */
function applySpec(x: tf.Tensor, name: string, spec: TransformSpec, random: () => number): tf.Tensor {
  // pure copies keep int32 pixels, unless a fractional fill would be cut
  const fill = (spec as { fill?: Fill }).fill;
  const wholeFill = fill === undefined || (typeof fill === "number" ? Number.isInteger(fill) : fill.every((v) => Number.isInteger(v)));
  return F.mapImages(x, name, (img) => F.applySpecHost(spec, img, random), wholeFill && ["centerCrop", "pad", "flip", "randomCrop"].includes(spec.kind));
}

/** Options of the random transforms. */
export interface RandomOptions {
  /** Seed of the transform's own generator (default: draw from `Math.random`, which `d2l.seed(n)` seeds). */
  seed?: number;
}

/** A transform that draws random numbers, from its own seeded generator or from `Math.random`. */
abstract class RandomTransform extends Transform {
  /** Uniform numbers in [0, 1). */
  protected readonly random: () => number;
  constructor(options: RandomOptions = {}) {
    super();
    if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) throw new Error(`${new.target.name}: seed must be an integer, got ${String(options.seed)}`);
    this.random = options.seed === undefined ? (): number => Math.random() : rng(options.seed);
  }
  protected uniform(a: number, b: number): number {
    return a + this.random() * (b - a);
  }
  /** An integer in [lo, hi) (torch.randint). */
  protected randint(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo));
  }
}

/**
 * Chain transforms, applied in order: torchvision's `transforms.Compose`.
 * Intermediate tensors are disposed.
 *
 * @example
 * const augs = new d2l.transforms.Compose([
 *   new d2l.transforms.RandomHorizontalFlip(0.5),
 *   new d2l.transforms.RandomResizedCrop(28, { scale: [0.5, 1] }),
 *   new d2l.transforms.Normalize([0.286], [0.353]),
 * ]);
 * const y = augs.apply(tf.randomUniform([32, 28, 28, 1]));
 */
export class Compose extends Transform {
  constructor(readonly transforms: readonly TransformLike[]) {
    super();
    if (!Array.isArray(transforms)) throw new Error(`Compose: expected an array of transforms, got ${String(transforms)}`);
  }
  apply(x: tf.Tensor): tf.Tensor {
    let y = x;
    for (const t of this.transforms) {
      const next = run(t, y);
      if (y !== x && next !== y) y.dispose();
      y = next;
    }
    return y === x ? x.clone() : y;
  }
  override specs(): TransformSpec[] | null {
    const out: TransformSpec[] = [];
    for (const t of this.transforms) {
      const s = typeof t === "function" ? null : t.specs();
      if (s === null) return null;
      out.push(...s);
    }
    return out;
  }
}

/**
 * A function as a transform: torchvision's `transforms.Lambda`.
 *
 * @example
 * const double = new d2l.transforms.Lambda((x) => tf.mul(x, 2));
 */
export class Lambda extends Transform {
  constructor(readonly fn: (x: tf.Tensor) => tf.Tensor) {
    super();
    if (typeof fn !== "function") throw new Error(`Lambda: expected a function (x) => tensor, got ${String(fn)}`);
  }
  apply(x: tf.Tensor): tf.Tensor {
    return this.fn(x);
  }
}

/**
 * A transform (or chain) as a {@link DataLoader}'s per-batch `transform`
 * option: `(X, y) => [t(X), y]` (a batch `[N, H, W]` of one-channel images
 * is transformed as `[N, H, W, 1]` and given back without the channel). It runs on the main thread inside the
 * loader's `tf.tidy`, on whole batches; to run a transform per example in
 * the loader's worker threads, use {@link preprocessFor} instead.
 *
 * @example
 * const augs = new d2l.transforms.Compose([new d2l.transforms.RandomHorizontalFlip(), new d2l.transforms.RandomCrop(28, { padding: 4 })]);
 * const loader = new d2l.DataLoader(dataset, { batchSize: 256, shuffle: true, transform: d2l.transforms.forBatch(augs) });
 */
export function forBatch(t: TransformLike): (X: tf.Tensor, y: tf.Tensor) => [tf.Tensor, tf.Tensor] {
  if (typeof t !== "function" && !(t && typeof (t as Transform).apply === "function")) {
    throw new Error(`forBatch: expected a transform (an object with apply(x), such as new d2l.transforms.Compose([...])) or a function (x) => tensor, got ${String(t)}`);
  }
  return (X, y) => {
    if (X.rank !== 3) return [run(t, X), y];
    // a batch of one-channel images [N, H, W]: transformed as [N, H, W, 1], given back as [N, H', W'] when one channel comes out
    const out = run(t, X.expandDims(-1));
    return [out.shape[3] === 1 ? out.squeeze([3]) : out, y];
  };
}

/** What {@link preprocessFor} returns: the two {@link DataLoader} options that run a transform per example, in worker threads too. */
export interface TransformPreprocess {
  /** The loader's `preprocess`: each example's image through the transform (from its source text). */
  preprocess: (x: unknown, y: unknown, ctx: PreprocessContext) => readonly [PlainValue, PlainValue];
  /** The loader's `preprocessArgs`: the transform as plain data. */
  preprocessArgs: { transforms: TransformSpec[] };
}

/**
 * A transform (or {@link Compose} chain) as a {@link DataLoader}'s
 * per-example `preprocess` and `preprocessArgs` options, so that it runs
 * where PyTorch runs torchvision's transforms: in the loader's worker
 * threads (`numWorkers`), per example, before batching. The same code as
 * the transform's `apply` runs there (the transform travels as plain data,
 * {@link Transform.specs}); its random numbers come from the loader's
 * per-example generator (`ctx.random`, seeded by the loader's `seed`), not
 * from the transform's own `seed`, so the batches are the same for every
 * `numWorkers`. Each example's image is a tensor or `{ data, shape }` of
 * shape `[H, W, C]` or `[H, W]`; integer pixels stay 0..255 until a
 * {@link ToTensor}. `Lambda`, plain functions and `LinearTransformation`
 * run tfjs or user code and cannot travel: use {@link forBatch} for those.
 *
 * @example
 * const augs = new d2l.transforms.Compose([new d2l.transforms.RandomCrop(28, { padding: 4 }), new d2l.transforms.RandomHorizontalFlip()]);
 * const loader = new d2l.DataLoader(dataset, { batchSize: 256, shuffle: true, seed: 0, numWorkers: 2, ...d2l.transforms.preprocessFor(augs) });
 */
export function preprocessFor(t: Transform): TransformPreprocess {
  const specs = t instanceof Transform ? t.specs() : null;
  if (specs === null) {
    throw new Error(
      "preprocessFor: this transform cannot run in worker threads (Lambda, plain functions and LinearTransformation run tfjs or your code); " +
        "apply it per batch on the main thread with the loader's transform option: transform: d2l.transforms.forBatch(t)",
    );
  }
  const body = F.HOST_FUNCTIONS.map((f) => f.toString()).join("\n");
  const source = `(x, y, ctx) => {\n${body}\nreturn runSpecsOnExample(x, y, ctx.args.transforms, ctx.random);\n}`;
  const preprocess = compilePreprocess(source) as unknown as TransformPreprocess["preprocess"];
  return { preprocess, preprocessArgs: { transforms: structuredClone(specs) } };
}

/**
 * Pixels 0..255 to float32 0..1: torchvision's `transforms.ToTensor`, but
 * channels-last (no transpose to CHW). An int32 tensor (tfjs' type for
 * bytes, e.g. `tf.tensor(uint8Array)`) is divided by 255; a float32 one is
 * returned as float32 unchanged, as torchvision leaves float arrays. A
 * 2-D `[H, W]` image gets a channel: `[H, W, 1]`.
 *
 * @example
 * const x = new d2l.transforms.ToTensor().apply(tf.tensor3d([[[0, 255]]], undefined, "int32")); // [[[0, 1]]] float32
 */
export class ToTensor extends Transform {
  apply(x: tf.Tensor): tf.Tensor {
    if (!(x instanceof tf.Tensor)) throw new Error(`ToTensor: expected a tf.Tensor of pixels (e.g. tf.tensor(uint8Array, [H, W, C], "int32")), got ${typeof x}`);
    const img = x.rank === 2 ? x.expandDims(-1) : x;
    F.imageDims(img, "ToTensor");
    const out = tf.tidy(() => (img.dtype === "int32" ? tf.div(tf.cast(img, "float32"), 255) : tf.cast(img, "float32").clone()));
    if (img !== x) img.dispose();
    return out;
  }
  override specs(): TransformSpec[] {
    return [{ kind: "toTensor" }];
  }
}

/**
 * Resize to `size`: torchvision's `transforms.Resize` (bilinear by default;
 * a number is the shorter side). Matches torchvision 0.14 on tensors, where
 * `antialias` defaults to false (no antialiasing when shrinking); see
 * `d2l.transforms.functional.resize`.
 *
 * @example
 * new d2l.transforms.Resize([64, 64]).apply(tf.zeros([28, 28, 1])).shape; // [64, 64, 1]
 */
export class Resize extends Transform {
  constructor(
    readonly size: number | readonly number[],
    readonly interpolation: Interpolation = "bilinear",
  ) {
    super();
    F.resizedSize(10, 10, size, "Resize");
  }
  apply(x: tf.Tensor): tf.Tensor {
    return functional.resize(x, this.size, this.interpolation);
  }
  override specs(): TransformSpec[] {
    return [{ kind: "resize", size: typeof this.size === "number" ? this.size : [...this.size], interpolation: this.interpolation }];
  }
}

/**
 * Crop the centre to `size` (a number for a square, or `[h, w]`):
 * torchvision's `transforms.CenterCrop`.
 *
 * @example
 * new d2l.transforms.CenterCrop(24).apply(tf.zeros([28, 28, 1])).shape; // [24, 24, 1]
 */
export class CenterCrop extends Transform {
  readonly size: [number, number];
  constructor(size: number | readonly number[]) {
    super();
    this.size = F.sizePair(size, "CenterCrop");
  }
  apply(x: tf.Tensor): tf.Tensor {
    return functional.centerCrop(x, this.size);
  }
  override specs(): TransformSpec[] {
    return [{ kind: "centerCrop", size: this.size }];
  }
}

/**
 * Pad the borders: torchvision's `transforms.Pad` (see `functional.pad`).
 *
 * @example
 * new d2l.transforms.Pad(4, { paddingMode: "reflect" }).apply(tf.zeros([28, 28, 1])).shape; // [36, 36, 1]
 */
export class Pad extends Transform {
  readonly paddingMode: PaddingMode;
  readonly fill: Fill;
  constructor(
    readonly padding: number | readonly number[],
    options: { fill?: Fill; paddingMode?: PaddingMode } = {},
  ) {
    super();
    F.paddingLtrb(padding, "Pad");
    this.fill = options.fill ?? 0;
    this.paddingMode = options.paddingMode ?? "constant";
  }
  apply(x: tf.Tensor): tf.Tensor {
    return functional.pad(x, this.padding, this.paddingMode, this.fill);
  }
  override specs(): TransformSpec[] {
    return [{ kind: "pad", ltrb: F.paddingLtrb(this.padding), mode: this.paddingMode, fill: this.fill }];
  }
}

/**
 * `(x - mean) / std` per channel: torchvision's `transforms.Normalize`.
 *
 * @example
 * new d2l.transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).apply(tf.ones([8, 8, 3]));
 */
export class Normalize extends Transform {
  constructor(
    readonly mean: Fill,
    readonly std: Fill,
  ) {
    super();
  }
  apply(x: tf.Tensor): tf.Tensor {
    return functional.normalize(x, this.mean, this.std);
  }
  override specs(): TransformSpec[] {
    return [{ kind: "normalize", mean: this.mean, std: this.std }];
  }
}

/**
 * To grayscale (ITU-R 601-2: 0.2989 R + 0.587 G + 0.114 B), with 1 or 3
 * output channels: torchvision's `transforms.Grayscale`.
 *
 * @example
 * new d2l.transforms.Grayscale(3).apply(tf.ones([8, 8, 3])).shape; // [8, 8, 3]
 */
export class Grayscale extends Transform {
  constructor(readonly numOutputChannels = 1) {
    super();
    if (numOutputChannels !== 1 && numOutputChannels !== 3) throw new Error(`Grayscale: numOutputChannels must be 1 or 3, got ${String(numOutputChannels)}`);
  }
  apply(x: tf.Tensor): tf.Tensor {
    return functional.rgbToGrayscale(x, this.numOutputChannels);
  }
  override specs(): TransformSpec[] {
    return [{ kind: "grayscale", channels: this.numOutputChannels }];
  }
}

/**
 * `(flatten(x) - meanVector) @ matrix` (e.g. ZCA whitening): torchvision's
 * `transforms.LinearTransformation`, flattening channels-last (see
 * `functional.linearTransformation`). The transform keeps the tensors it
 * is given (dispose them when done).
 *
 * @example
 * const t = new d2l.transforms.LinearTransformation(tf.eye(16), tf.zeros([16]));
 * t.apply(tf.randomUniform([4, 4, 1])).shape; // [4, 4, 1]
 */
export class LinearTransformation extends Transform {
  constructor(
    readonly transformationMatrix: tf.Tensor,
    readonly meanVector: tf.Tensor,
  ) {
    super();
    if (transformationMatrix.rank !== 2 || transformationMatrix.shape[0] !== transformationMatrix.shape[1]) {
      throw new Error(`LinearTransformation: transformationMatrix should be square [D, D], got [${transformationMatrix.shape.join(", ")}]`);
    }
    if (meanVector.size !== transformationMatrix.shape[0]) {
      throw new Error(`LinearTransformation: meanVector should have ${transformationMatrix.shape[0]} elements as the matrix has rows, got [${meanVector.shape.join(", ")}]`);
    }
  }
  apply(x: tf.Tensor): tf.Tensor {
    return functional.linearTransformation(x, this.transformationMatrix, this.meanVector);
  }
}

/**
 * Mirror left-right with probability `p`: torchvision's
 * `transforms.RandomHorizontalFlip` (each image of a batch draws its own).
 *
 * @example
 * const flip = new d2l.transforms.RandomHorizontalFlip(0.5, { seed: 0 });
 * flip.apply(tf.randomUniform([16, 28, 28, 1]));
 */
export class RandomHorizontalFlip extends RandomTransform {
  constructor(
    readonly p = 0.5,
    options: RandomOptions = {},
  ) {
    super(options);
    checkProbability(p, "RandomHorizontalFlip");
  }
  apply(x: tf.Tensor): tf.Tensor {
    return applySpec(x, "RandomHorizontalFlip", this.specs()[0], this.random);
  }
  override specs(): TransformSpec[] {
    return [{ kind: "flip", p: this.p, horizontal: true }];
  }
}

/**
 * Mirror top-bottom with probability `p`: torchvision's
 * `transforms.RandomVerticalFlip` (each image of a batch draws its own).
 *
 * @example
 * new d2l.transforms.RandomVerticalFlip(0.5).apply(tf.randomUniform([28, 28, 1]));
 */
export class RandomVerticalFlip extends RandomTransform {
  constructor(
    readonly p = 0.5,
    options: RandomOptions = {},
  ) {
    super(options);
    checkProbability(p, "RandomVerticalFlip");
  }
  apply(x: tf.Tensor): tf.Tensor {
    return applySpec(x, "RandomVerticalFlip", this.specs()[0], this.random);
  }
  override specs(): TransformSpec[] {
    return [{ kind: "flip", p: this.p, horizontal: false }];
  }
}

function checkProbability(p: number, name: string): void {
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new Error(`${name}: p must be a probability in [0, 1], got ${String(p)}`);
}

/** Options of {@link RandomCrop}. */
export interface RandomCropOptions extends RandomOptions {
  /** Padding first (as {@link Pad}), e.g. 4 for CIFAR's classic augmentation. */
  padding?: number | readonly number[];
  /** Pad an image smaller than the crop up to it instead of failing (default false). */
  padIfNeeded?: boolean;
  /** Constant padding value (default 0). */
  fill?: Fill;
  /** Padding mode (default `"constant"`). */
  paddingMode?: PaddingMode;
}

/**
 * Crop a random `size` box, after optional padding: torchvision's
 * `transforms.RandomCrop` (each image of a batch draws its own box). A crop
 * larger than the (padded) image is an error unless `padIfNeeded`.
 *
 * @example
 * const crop = new d2l.transforms.RandomCrop(28, { padding: 4, seed: 0 });
 * crop.apply(tf.randomUniform([16, 28, 28, 1])).shape; // [16, 28, 28, 1]
 */
export class RandomCrop extends RandomTransform {
  readonly size: [number, number];
  constructor(
    size: number | readonly number[],
    readonly options: RandomCropOptions = {},
  ) {
    super(options);
    this.size = F.sizePair(size, "RandomCrop");
    if (options.padding !== undefined) F.paddingLtrb(options.padding, "RandomCrop");
  }
  apply(x: tf.Tensor): tf.Tensor {
    return applySpec(x, "RandomCrop", this.specs()[0], this.random);
  }
  override specs(): TransformSpec[] {
    const { fill = 0, paddingMode = "constant", padding, padIfNeeded = false } = this.options;
    return [{ kind: "randomCrop", size: this.size, ltrb: padding === undefined ? null : F.paddingLtrb(padding), padIfNeeded, fill, mode: paddingMode }];
  }
}

/** Options of {@link RandomResizedCrop}. */
export interface RandomResizedCropOptions extends RandomOptions {
  /** Range of the crop's area as a fraction of the image's (default [0.08, 1]). */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio w/h, drawn log-uniformly (default [3/4, 4/3]). */
  ratio?: readonly [number, number];
  /** Resize interpolation (default `"bilinear"`). */
  interpolation?: Interpolation;
}

/**
 * Crop a random box (area fraction in `scale`, aspect ratio in `ratio`) and
 * resize it to `size`: torchvision's `transforms.RandomResizedCrop`, with its
 * 10 tries and its central-crop fallback (each image of a batch draws its own).
 *
 * @example
 * const rrc = new d2l.transforms.RandomResizedCrop([200, 200], { scale: [0.1, 1], ratio: [0.5, 2] });
 * rrc.apply(tf.randomUniform([300, 400, 3])).shape; // [200, 200, 3]
 */
export class RandomResizedCrop extends RandomTransform {
  readonly size: [number, number];
  readonly scale: readonly [number, number];
  readonly ratio: readonly [number, number];
  readonly interpolation: Interpolation;
  constructor(size: number | readonly number[], options: RandomResizedCropOptions = {}) {
    super(options);
    this.size = F.sizePair(size, "RandomResizedCrop");
    this.scale = options.scale ?? [0.08, 1];
    this.ratio = options.ratio ?? [3 / 4, 4 / 3];
    this.interpolation = options.interpolation ?? "bilinear";
    for (const [k, r] of [
      ["scale", this.scale],
      ["ratio", this.ratio],
    ] as const) {
      if (!Array.isArray(r) || r.length !== 2 || !(r[0] > 0) || !(r[0] <= r[1]))
        throw new Error(`RandomResizedCrop: ${k} must be [min, max] with 0 < min <= max, got ${JSON.stringify(r)}`);
    }
  }
  /** The box `[top, left, height, width]` for an image of `h` x `w` (torchvision's `get_params`). */
  getParams(h: number, w: number): [number, number, number, number] {
    return F.resizedCropParams(h, w, [this.scale[0], this.scale[1]], [this.ratio[0], this.ratio[1]], this.random);
  }
  apply(x: tf.Tensor): tf.Tensor {
    return applySpec(x, "RandomResizedCrop", this.specs()[0], this.random);
  }
  override specs(): TransformSpec[] {
    return [{ kind: "randomResizedCrop", size: this.size, scale: [this.scale[0], this.scale[1]], ratio: [this.ratio[0], this.ratio[1]], interpolation: this.interpolation }];
  }
}

function range(v: number | readonly number[], name: string, what: string, center = 0, min = -Infinity): [number, number] {
  if (typeof v === "number") {
    if (!(v >= 0)) throw new Error(`${name}: ${what} as one number must be >= 0, got ${v}`);
    return [Math.max(center - v, min), center + v];
  }
  if (!Array.isArray(v) || v.length !== 2 || !(v[0] <= v[1]) || !(v[0] >= min))
    throw new Error(`${name}: ${what} must be a number or [min, max] with ${min} <= min <= max, got ${JSON.stringify(v)}`);
  return [v[0], v[1]];
}

/** Options of {@link RandomRotation}. */
export interface RandomRotationOptions extends RandomOptions {
  /** `"nearest"` (torchvision's default) or `"bilinear"`. */
  interpolation?: Interpolation;
  /** Grow the output to hold the whole rotated image (single images only: a batch's images would differ in size). */
  expand?: boolean;
  /** The pivot `[x, y]` in pixels (default: the centre). */
  center?: readonly [number, number];
  /** Value outside the image (default 0, through torchvision's mask). */
  fill?: Fill;
}

/**
 * Rotate by an angle drawn uniformly from `[-degrees, degrees]` (or
 * `[min, max]`): torchvision's `transforms.RandomRotation` (each image of a
 * batch draws its own angle).
 *
 * @example
 * new d2l.transforms.RandomRotation(15, { interpolation: "bilinear" }).apply(tf.randomUniform([28, 28, 1]));
 */
export class RandomRotation extends RandomTransform {
  readonly degrees: [number, number];
  constructor(
    degrees: number | readonly number[],
    readonly options: RandomRotationOptions = {},
  ) {
    super(options);
    this.degrees = range(degrees, "RandomRotation", "degrees");
  }
  apply(x: tf.Tensor): tf.Tensor {
    const { n } = F.imageDims(x, "RandomRotation");
    if (this.options.expand && n > 1 && x.rank === 4) {
      throw new Error(
        `RandomRotation: expand makes each image's size depend on its angle, so it works on single images [H, W, C], not on a batch of ${n}; resize after it per image, or rotate without expand`,
      );
    }
    return applySpec(x, "RandomRotation", this.specs()[0], this.random);
  }
  override specs(): TransformSpec[] {
    const { interpolation = "nearest", expand = false, center, fill = 0 } = this.options;
    return [{ kind: "randomRotation", degrees: this.degrees, interpolation, expand, center: center === undefined ? null : [center[0], center[1]], fill }];
  }
}

/** Options of {@link RandomAffine}. */
export interface RandomAffineOptions extends RandomOptions {
  /** Maximum shifts as fractions of the width and height `[a, b]`: dx in [-a w, a w], dy in [-b h, b h]. */
  translate?: readonly [number, number];
  /** Range of the scale factor `[min, max]` (default: no scaling). */
  scale?: readonly [number, number];
  /** Shear in degrees: a number s (x in [-s, s]), `[min, max]` for x, or `[xmin, xmax, ymin, ymax]`. */
  shear?: number | readonly number[];
  /** `"nearest"` (torchvision's default) or `"bilinear"`. */
  interpolation?: Interpolation;
  /** Value outside the image (default 0, through torchvision's mask). */
  fill?: Fill;
  /** The pivot `[x, y]` in pixels (default: the centre). */
  center?: readonly [number, number];
}

/**
 * A random affine map (rotation from `degrees`, then optional translation,
 * scale and shear): torchvision's `transforms.RandomAffine` (each image of a
 * batch draws its own parameters).
 *
 * @example
 * const t = new d2l.transforms.RandomAffine(10, { translate: [0.1, 0.1], scale: [0.9, 1.1], shear: 5 });
 * t.apply(tf.randomUniform([16, 28, 28, 1])).shape; // [16, 28, 28, 1]
 */
export class RandomAffine extends RandomTransform {
  readonly degrees: [number, number];
  readonly shear: number[] | null;
  constructor(
    degrees: number | readonly number[],
    readonly options: RandomAffineOptions = {},
  ) {
    super(options);
    this.degrees = range(degrees, "RandomAffine", "degrees");
    const { translate, scale, shear } = options;
    if (translate !== undefined && (!Array.isArray(translate) || translate.length !== 2 || !translate.every((t) => t >= 0 && t <= 1))) {
      throw new Error(`RandomAffine: translate must be [a, b] with fractions in [0, 1], got ${JSON.stringify(translate)}`);
    }
    if (scale !== undefined && (!Array.isArray(scale) || scale.length !== 2 || !(scale[0] > 0 && scale[0] <= scale[1]))) {
      throw new Error(`RandomAffine: scale must be [min, max] with 0 < min <= max, got ${JSON.stringify(scale)}`);
    }
    if (shear === undefined) this.shear = null;
    else if (typeof shear === "number") this.shear = range(shear, "RandomAffine", "shear");
    else if (Array.isArray(shear) && (shear.length === 2 || shear.length === 4)) this.shear = [...shear];
    else throw new Error(`RandomAffine: shear must be a number, [min, max] or [xmin, xmax, ymin, ymax] in degrees, got ${JSON.stringify(shear)}`);
  }
  /** One draw `{ angle, translate, scale, shear }` for an image of `h` x `w` (torchvision's `get_params`). */
  getParams(h: number, w: number): { angle: number; translate: [number, number]; scale: number; shear: [number, number] } {
    const spec = this.specs()[0] as Extract<TransformSpec, { kind: "randomAffine" }>;
    return F.affineParams(h, w, spec.degrees, spec.translate, spec.scale, spec.shear, this.random);
  }
  apply(x: tf.Tensor): tf.Tensor {
    return applySpec(x, "RandomAffine", this.specs()[0], this.random);
  }
  override specs(): TransformSpec[] {
    const { interpolation = "nearest", fill = 0, center, translate, scale } = this.options;
    return [
      {
        kind: "randomAffine",
        degrees: this.degrees,
        translate: translate === undefined ? null : [translate[0], translate[1]],
        scale: scale === undefined ? null : [scale[0], scale[1]],
        shear: this.shear,
        interpolation,
        fill,
        center: center === undefined ? null : [center[0], center[1]],
      },
    ];
  }
}

/** Options of {@link ColorJitter}: each a number v (factor in [max(0, 1 - v), 1 + v]; hue in [-v, v]) or `[min, max]`. */
export interface ColorJitterOptions extends RandomOptions {
  brightness?: number | readonly [number, number];
  contrast?: number | readonly [number, number];
  saturation?: number | readonly [number, number];
  hue?: number | readonly [number, number];
}

/**
 * Random brightness, contrast, saturation and hue, applied in a random
 * order: torchvision's `transforms.ColorJitter` (each image of a batch draws
 * its own factors and order). Expects float images in [0, 1].
 *
 * @example
 * const jitter = new d2l.transforms.ColorJitter({ brightness: 0.5, contrast: 0.5, saturation: 0.5, hue: 0.1 });
 * jitter.apply(tf.randomUniform([8, 32, 32, 3]));
 */
export class ColorJitter extends RandomTransform {
  readonly brightness: [number, number] | null;
  readonly contrast: [number, number] | null;
  readonly saturation: [number, number] | null;
  readonly hue: [number, number] | null;
  constructor(options: ColorJitterOptions = {}) {
    super(options);
    const factor = (v: ColorJitterOptions["brightness"], what: string): [number, number] | null => {
      if (v === undefined) return null;
      const r = range(v, "ColorJitter", what, 1, 0);
      return r[0] === 1 && r[1] === 1 ? null : r;
    };
    this.brightness = factor(options.brightness, "brightness");
    this.contrast = factor(options.contrast, "contrast");
    this.saturation = factor(options.saturation, "saturation");
    if (options.hue === undefined) this.hue = null;
    else {
      const r = range(options.hue, "ColorJitter", "hue");
      if (r[0] < -0.5 || r[1] > 0.5) throw new Error(`ColorJitter: hue must be in [-0.5, 0.5], got ${JSON.stringify(options.hue)}`);
      this.hue = r[0] === 0 && r[1] === 0 ? null : r;
    }
  }
  apply(x: tf.Tensor): tf.Tensor {
    return applySpec(x, "ColorJitter", this.specs()[0], this.random);
  }
  override specs(): TransformSpec[] {
    return [{ kind: "colorJitter", brightness: this.brightness, contrast: this.contrast, saturation: this.saturation, hue: this.hue }];
  }
}

/**
 * Grayscale (3 channels out of 3 in) with probability `p`: torchvision's
 * `transforms.RandomGrayscale` (each image of a batch draws its own).
 *
 * @example
 * new d2l.transforms.RandomGrayscale(0.1).apply(tf.randomUniform([8, 32, 32, 3]));
 */
export class RandomGrayscale extends RandomTransform {
  constructor(
    readonly p = 0.1,
    options: RandomOptions = {},
  ) {
    super(options);
    checkProbability(p, "RandomGrayscale");
  }
  apply(x: tf.Tensor): tf.Tensor {
    return applySpec(x, "RandomGrayscale", this.specs()[0], this.random);
  }
  override specs(): TransformSpec[] {
    return [{ kind: "randomGrayscale", p: this.p }];
  }
}
