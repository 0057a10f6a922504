/**
 * Datasets and the minibatch loader (the book's `torch.utils.data.Dataset`,
 * `TensorDataset` and `DataLoader`, sections 3.2-3.5).
 *
 * Ownership: a {@link DataLoader} yields fresh tensors for every batch and the
 * consumer owns them (dispose them, or run the step inside `tf.tidy`). The
 * loader prefetches one batch ahead and disposes it itself if the consumer
 * stops early (`break`, `return` or an exception inside `for await`).
 */
import * as tf from "@tensorflow/tfjs";
import { mixSeed, permutation } from "./random";
import { type HostColumn, type HostTensor, type PlainValue, stackPlain, packForTransfer, describeValue } from "./collate";
import { type BatchResult, type BatchTask, type PreprocessContext, type PreprocessFn, compilePreprocess, epochSeed, preprocessSource, processBatch } from "./preprocess";
import { PreprocessPool, pooledBatches } from "./workers";
import { readsSync } from "../read";

/** Persistent worker pools of loaders that were dropped without dispose(): their threads end when the loader is collected. */
const orphanPools = new FinalizationRegistry<PreprocessPool>((pool) => void pool.close());

/**
 * Anything with a length and indexed examples: the book's `Dataset`
 * (`__len__` and `__getitem__`). A {@link DataLoader} reads datasets of
 * `[x, y]` pairs, as tensors or plain values (see {@link ExampleValue});
 * `length` may be a getter.
 *
 * @example
 * const squares: d2l.Dataset<number> = { length: 10, get: (i) => i * i };
 * class Pairs implements d2l.Dataset<[number[], number]> {
 *   get length() { return 100; }
 *   get(i: number): [number[], number] { return [[i, 2 * i], i % 2]; }
 * }
 * const loader = new d2l.DataLoader(new Pairs(), { batchSize: 10, shuffle: true }); // X [10, 2], y [10]
 */
export interface Dataset<T> {
  /** Number of examples. */
  readonly length: number;
  /** Example `i` (0 <= i < length). Tensors returned belong to the caller. */
  get(i: number): T;
}

/**
 * A dataset that can build a whole minibatch at once (on the backend), which
 * {@link DataLoader} prefers over stacking single examples (PyTorch's
 * `__getitems__`).
 *
 * @example
 * const ds: d2l.BatchDataset<[tf.Tensor, tf.Tensor]> = new d2l.TensorDataset(X, y);
 * const [Xb, yb] = ds.getBatch(Int32Array.from([0, 5, 9]));
 */
export interface BatchDataset<T> extends Dataset<T> {
  /** The examples at `indices`, stacked along a new first axis. Tensors returned belong to the caller. */
  getBatch(indices: Int32Array): T;
}

/**
 * What the training functions accept as data: anything iterable with
 * `for await (const [X, y] of iter)`, one epoch per loop, such as a
 * {@link DataLoader} (the book's `train_iter` / `test_iter`). The consumer
 * owns and disposes each batch's tensors.
 *
 * @example
 * function count(iter: d2l.DataIter): number { return iter.numExamples ?? NaN; }
 */
export type DataIter = AsyncIterable<[tf.Tensor, tf.Tensor]> & {
  readonly numExamples?: number;
  readonly numBatches?: number;
  readonly batchSize?: number;
};

function hasGetBatch<T>(d: Dataset<T>): d is BatchDataset<T> {
  return typeof (d as Partial<BatchDataset<T>>).getBatch === "function";
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** A clear error for something that is not a dataset (PyTorch's `__len__` and `__getitem__`). */
function checkDataset(dataset: unknown): void {
  const d = dataset as Partial<Dataset<unknown>> | null;
  const missing: string[] = [];
  if (d === null || (typeof d !== "object" && typeof d !== "function")) {
    throw new Error(`DataLoader: expected a dataset with a length and get(i) (e.g. new d2l.TensorDataset(X, y), or your own class), got ${describeValue(d)}`);
  }
  if (!(Number.isInteger(d.length) && (d.length as number) >= 0)) missing.push(`a length (the number of examples, PyTorch's __len__; got ${describeValue(d.length)})`);
  if (typeof d.get !== "function") missing.push(`a method get(i) returning example i as [x, y] (PyTorch's __getitem__; got ${describeValue(d.get)})`);
  if (missing.length) {
    throw new Error(`DataLoader: the dataset needs ${missing.join(" and ")}, e.g. class MyData { get length() { return n; } get(i: number) { return [x[i], y[i]]; } }`);
  }
}

/**
 * A tensor's values as `{ data, shape, dtype }` (a copy). The data pipeline
 * reads synchronously; a tensor on the GPU (webgpu) gets an error that says
 * how to give the dataset host values instead.
 */
function hostTensorOf(t: tf.Tensor): HostTensor {
  if (t.dtype === "string" || t.dtype === "complex64") throw new Error(`DataLoader: cannot preprocess a ${t.dtype} tensor; expected numbers`);
  if (!readsSync(t)) {
    throw new Error(
      `DataLoader: an example is a tensor on the GPU (webgpu backend, shape [${t.shape.join(", ")}]), and the data pipeline reads examples synchronously; ` +
        "give the dataset host values: arrays, or a host copy made with await, tf.tensor(await x.data(), x.shape, x.dtype)",
    );
  }
  const v = t.dataSync(); // sync-read-ok: guarded by readsSync (host values)
  return {
    data: t.dtype === "int32" ? Int32Array.from(v as Int32Array) : Float32Array.from(v as Float32Array),
    shape: [...t.shape],
    dtype: t.dtype === "int32" ? "int32" : "float32",
  };
}

function tensorOfColumn(c: HostColumn): tf.Tensor {
  return tf.tensor(c.data, c.shape, c.dtype);
}

/**
 * One part (x or y) of a batch's examples stacked: tensors on the backend
 * (`tf.stack`), plain values in JavaScript (PyTorch's `default_collate`).
 */
function stackPart(values: ExampleValue[], part: string, indices: Int32Array): tf.Tensor {
  if (values.length > 0 && values.every((v) => v instanceof tf.Tensor)) return tf.stack(values as tf.Tensor[]);
  return tensorOfColumn(
    stackPlain(
      values.map((v) => (v instanceof tf.Tensor ? hostTensorOf(v) : v)),
      part,
      indices,
    ),
  );
}

type HostArray = Float32Array | Int32Array;

/** Values one column of a {@link TensorDataset} can be built from (see {@link TensorDataset.fromArrays}). */
export interface ArrayColumn {
  /** The values, row-major: `shape[0]` rows of `shape[1] * shape[2] * ...` values each. */
  values: Float32Array | Int32Array | Uint8Array;
  /** Shape of the whole column; `shape[0]` is the number of examples. */
  shape: number[];
  /** dtype of the tensors made from it (default: "int32" for Int32Array, else "float32"). */
  dtype?: "float32" | "int32";
  /** Multiply the values by this when making float32 tensors (e.g. `1 / 255` for bytes); default 1. */
  scale?: number;
}

/** One column of a dataset: a tensor, host values, or both. */
interface Column {
  /** The tensor (the caller's, or made from `host` on demand and then the dataset's). */
  tensor: tf.Tensor | undefined;
  /** The values host-side, when the dataset was built from arrays or has read its tensor once. */
  host: HostArray | Uint8Array | undefined;
  /** `host` came from a tensor's `dataSync()` (a copy, dropped when the backend keeps values on a device). */
  hostIsCopy: boolean;
  shape: number[];
  rowSize: number;
  dtype: tf.DataType;
  /** Factor applied to `host` values (float32 columns made by `fromArrays` only). */
  scale: number;
}

/**
 * Backends whose tensors live in this process' memory: there a batch built
 * by copying rows in JavaScript and handing them over with one `tf.tensor`
 * beats a gather kernel (on wasm by some twenty times for Fashion-MNIST
 * batches). GPU backends gather on the device.
 */
const HOST_BACKENDS: ReadonlySet<string> = new Set(["cpu", "wasm", "tensorflow"]);

function hostMemoryBackend(): boolean {
  return HOST_BACKENDS.has(tf.getBackend());
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * Tensors that share their first dimension, read example by example or batch
 * by batch: the book's `torch.utils.data.TensorDataset(*tensors)`. The
 * dataset does not copy the tensors; they stay the caller's (see
 * {@link TensorDataset.dispose}).
 *
 * On backends that keep tensors in this process' memory (cpu, wasm,
 * tensorflow) minibatches are built by copying rows in JavaScript (the
 * values are read once, and on wasm and tensorflow copied once); on GPU
 * backends by a gather on the device.
 *
 * @example
 * const X = tf.randomNormal([100, 2]);
 * const y = tf.randomNormal([100, 1]);
 * const ds = new d2l.TensorDataset(X, y);
 * ds.length;             // 100
 * const [x0, y0] = ds.get(0); // shapes [2] and [1]
 */
export class TensorDataset<T extends tf.Tensor[] = tf.Tensor[]> implements BatchDataset<T> {
  /** Number of examples (the shared first dimension). */
  readonly length: number;
  private readonly columns: Column[];
  private disposed = false;

  constructor(...tensors: T) {
    if (tensors.length === 0) {
      throw new Error("TensorDataset needs at least one tensor, e.g. new TensorDataset(X, y)");
    }
    tensors.forEach((t, k) => {
      if (!(t instanceof tf.Tensor)) {
        throw new Error(`TensorDataset: argument ${k} is not a tf.Tensor; pass tensors, e.g. new TensorDataset(tf.tensor2d(features), tf.tensor1d(labels))`);
      }
      if (t.rank === 0) {
        throw new Error(`TensorDataset: argument ${k} is a scalar (shape []); every tensor needs a first dimension that indexes the examples`);
      }
    });
    this.length = TensorDataset.checkRows(tensors.map((t) => t.shape));
    this.columns = tensors.map((t) => ({
      tensor: t,
      host: undefined,
      hostIsCopy: false,
      shape: [...t.shape],
      rowSize: product(t.shape.slice(1)),
      dtype: t.dtype,
      scale: 1,
    }));
  }

  private static checkRows(shapes: readonly (readonly number[])[]): number {
    const n = shapes[0][0];
    if (shapes.some((s) => s[0] !== n)) {
      throw new Error(
        `TensorDataset: all tensors need the same first dimension (the number of examples), but got shapes ${shapes.map(shapeText).join(", ")}. ` +
          "Reshape or slice them so that row i of each tensor belongs to example i.",
      );
    }
    return n;
  }

  /**
   * A dataset over values kept in JavaScript arrays: no tensor is made until
   * a batch is (on GPU backends, one tensor per column the first time). Bytes
   * can stand for floats (`scale`), so a data set of images takes a quarter
   * of the memory. The dataset owns what it makes; {@link dispose} frees it.
   *
   * @example
   * const images = new Uint8Array(100 * 784);  // 100 images of 28x28, 0-255
   * const labels = new Int32Array(100);
   * const ds = d2l.TensorDataset.fromArrays<[tf.Tensor4D, tf.Tensor1D]>(
   *   { values: images, shape: [100, 28, 28, 1], scale: 1 / 255 },
   *   { values: labels, shape: [100] },
   * );
   * const [X, y] = ds.getBatch(Int32Array.from([3, 1])); // float32 [2,28,28,1] in 0..1, int32 [2]
   */
  static fromArrays<T extends tf.Tensor[] = tf.Tensor[]>(...columns: ArrayColumn[]): TensorDataset<T> {
    if (columns.length === 0) {
      throw new Error("TensorDataset.fromArrays needs at least one column, e.g. fromArrays({ values: X, shape: [n, d] }, { values: y, shape: [n] })");
    }
    const made: Column[] = columns.map((c, k) => {
      const v = c?.values;
      if (!(v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array)) {
        throw new Error(`TensorDataset.fromArrays: column ${k} needs values as a Float32Array, Int32Array or Uint8Array`);
      }
      const shape = c.shape;
      if (!Array.isArray(shape) || shape.length === 0 || !shape.every((s) => Number.isInteger(s) && s >= 0)) {
        throw new Error(`TensorDataset.fromArrays: column ${k} needs a shape [examples, ...] of non-negative integers, got ${JSON.stringify(shape)}`);
      }
      if (product(shape) !== v.length) {
        throw new Error(`TensorDataset.fromArrays: column ${k} has ${v.length} values, but shape ${shapeText(shape)} needs ${product(shape)}`);
      }
      const dtype = c.dtype ?? (v instanceof Int32Array ? "int32" : "float32");
      if (dtype !== "float32" && dtype !== "int32") {
        throw new Error(`TensorDataset.fromArrays: column ${k} has dtype ${JSON.stringify(dtype)}; expected "float32" or "int32"`);
      }
      const scale = c.scale ?? 1;
      if (typeof scale !== "number" || !Number.isFinite(scale)) throw new Error(`TensorDataset.fromArrays: column ${k} has scale ${String(scale)}; expected a finite number`);
      if (dtype === "int32" && (scale !== 1 || v instanceof Float32Array)) {
        throw new Error(`TensorDataset.fromArrays: column ${k} is int32, so it needs integer values (Int32Array or Uint8Array) and no scale`);
      }
      // The values stay as given (bytes stay bytes); each batch converts its rows.
      return { tensor: undefined, host: v, hostIsCopy: false, shape: [...shape], rowSize: product(shape.slice(1)), dtype, scale };
    });
    const ds = Object.create(TensorDataset.prototype) as TensorDataset<T>;
    const fields = ds as unknown as { length: number; columns: Column[]; disposed: boolean };
    fields.length = TensorDataset.checkRows(made.map((c) => c.shape));
    fields.columns = made;
    fields.disposed = false;
    return ds;
  }

  /**
   * The wrapped tensors, in the order given. For a dataset made by
   * {@link fromArrays} they are made now (once) and belong to the dataset.
   *
   * @example
   * const [X, y] = ds.tensors;
   */
  get tensors(): T {
    this.checkAlive();
    return this.columns.map((c) => this.tensorOf(c)) as T;
  }

  /** Number of tensors (columns) per example, without making them. @example ds.numTensors; // 2 */
  get numTensors(): number {
    return this.columns.length;
  }

  /** The shape of each column, first dimension included, without making tensors. @example ds.shapes; // [[60000,28,28,1], [60000]] */
  get shapes(): number[][] {
    return this.columns.map((c) => [...c.shape]);
  }

  private tensorOf(c: Column): tf.Tensor {
    if (c.tensor && (!c.tensor.isDisposed || !c.host)) return c.tensor; // (tfjs says so when it is disposed)
    const host = c.host as HostArray | Uint8Array;
    const values = c.dtype === "int32" ? new Int32Array(host.length) : new Float32Array(host.length);
    values.set(host);
    c.tensor = tf.keep(this.scaled(c, values, c.shape)); // kept: this may run inside a tidy
    return c.tensor;
  }

  /**
   * The column's values in JavaScript, where that is the cheap way to batch
   * (a host-memory backend and float32/int32 values); undefined otherwise.
   */
  private hostOf(c: Column): HostArray | Uint8Array | undefined {
    if (!hostMemoryBackend()) {
      if (c.hostIsCopy) {
        // back on a device: the copy is no longer needed
        c.host = undefined;
        c.hostIsCopy = false;
      }
      return undefined;
    }
    if (c.host) return c.host;
    const t = c.tensor as tf.Tensor;
    if (!(t.dtype === "float32" || t.dtype === "int32")) return undefined; // bool values: left to tf.gather
    if (tf.getBackend() === "cpu") return t.dataSync() as HostArray; // sync-read-ok: host-memory backends only (cpu here); the backend's own array, no copy
    if (t instanceof tf.Variable) return undefined; // its values may change: gather
    c.host = t.dataSync() as HostArray; // sync-read-ok: host-memory backends only (checked above); one copy, read once
    c.hostIsCopy = true;
    return c.host;
  }

  /** Rows `indices` of a column's host values as one new tensor. */
  private rowsOf(c: Column, src: HostArray | Uint8Array, indices: Int32Array, shape: number[]): tf.Tensor {
    const row = c.rowSize;
    const k = indices.length;
    const out: HostArray = c.dtype === "int32" ? new Int32Array(k * row) : new Float32Array(k * row);
    if (row === 1) for (let j = 0; j < k; j++) out[j] = src[indices[j]];
    // (a typed array's set converts bytes to floats natively)
    else for (let j = 0; j < k; j++) out.set(src.subarray(indices[j] * row, (indices[j] + 1) * row), j * row);
    return this.scaled(c, out, shape);
  }

  /** `values` times the column's scale, as a tensor: scaled in JavaScript on cpu, by the backend elsewhere. */
  private scaled(c: Column, values: HostArray, shape: number[]): tf.Tensor {
    const s = c.scale;
    if (s === 1) return tf.tensor(values, shape, c.dtype);
    if (tf.getBackend() === "cpu") {
      const f = values as Float32Array; // scaled columns are float32
      for (let i = 0; i < f.length; i++) f[i] *= s;
      return tf.tensor(f, shape, c.dtype);
    }
    return tf.tidy(() => tf.mul(tf.tensor(values, shape, c.dtype), tf.scalar(s, "float32")));
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error("TensorDataset: its tensors were disposed; make a new dataset");
  }

  /**
   * Example `i`: one tensor per wrapped tensor, without the first axis.
   *
   * @example
   * const [x, y] = ds.get(3);
   */
  get(i: number): T {
    this.checkAlive();
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new Error(`TensorDataset.get: index ${i} is out of range; expected an integer in 0..${this.length - 1}`);
    }
    const one = Int32Array.of(i);
    return tf.tidy(() =>
      this.columns.map((c) => {
        const host = this.hostOf(c);
        if (host) return this.rowsOf(c, host, one, c.shape.slice(1));
        const t = this.tensorOf(c);
        const begin = t.shape.map((_, a) => (a === 0 ? i : 0));
        const size = t.shape.map((s, a) => (a === 0 ? 1 : s));
        return tf.slice(t, begin, size).reshape(t.shape.slice(1));
      }),
    ) as T;
  }

  /**
   * The examples at `indices`, one tensor per wrapped tensor. On cpu, wasm
   * and tensorflow the rows are copied in JavaScript into one new tensor per
   * column; elsewhere a run of consecutive indices is a slice and anything
   * else a gather on the device.
   *
   * @example
   * const [Xb, yb] = ds.getBatch(Int32Array.from([4, 1, 7]));
   */
  getBatch(indices: Int32Array): T {
    this.checkAlive();
    const k = indices.length;
    let contiguous = true;
    for (let j = 0; j < k; j++) {
      const v = indices[j];
      if (!(v >= 0 && v < this.length)) {
        throw new Error(`TensorDataset.getBatch: index ${v} is out of range; expected integers in 0..${this.length - 1}`);
      }
      if (j > 0 && v !== indices[j - 1] + 1) contiguous = false;
    }
    return tf.tidy(() => {
      let idx: tf.Tensor1D | undefined;
      return this.columns.map((c) => {
        const host = this.hostOf(c);
        if (host) return this.rowsOf(c, host, indices, [k, ...c.shape.slice(1)]);
        const t = this.tensorOf(c);
        if (contiguous && k > 0) {
          return tf.slice(
            t,
            t.shape.map((_, a) => (a === 0 ? indices[0] : 0)),
            t.shape.map((s, a) => (a === 0 ? k : s)),
          );
        }
        idx ??= tf.tensor1d(indices, "int32");
        return tf.gather(t, idx);
      });
    }) as T;
  }

  /**
   * Dispose the wrapped tensors (the caller's tensors too: call it only when
   * this dataset owns them) and what the dataset made.
   *
   * @example
   * ds.dispose();
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const c of this.columns) {
      c.tensor?.dispose();
      c.tensor = undefined;
      c.host = undefined;
    }
  }
}

/**
 * One part (features or label) of an example a {@link Dataset} gives the
 * {@link DataLoader}: a tensor, or plain values it stacks (a number, an
 * array of numbers, a typed array, or `{ data, shape }`; see {@link PlainValue}).
 */
export type ExampleValue = tf.Tensor | PlainValue;

/** An example `[x, y]` a {@link DataLoader} can read. */
export type Example = readonly [ExampleValue, ExampleValue];

/** How a part of an example reaches `preprocess`: a tensor as `{ data, shape, dtype }`, anything else as is. */
export type Plain<T> = T extends tf.Tensor ? HostTensor : T;

/** Options of {@link DataLoader} (PyTorch's `DataLoader` arguments, in camelCase). */
export interface DataLoaderOptions<E extends Example = Example> {
  /** Examples per minibatch (a positive integer). */
  batchSize: number;
  /** Visit the examples in a new random order every epoch (default false). */
  shuffle?: boolean;
  /**
   * Seed for the shuffle and `preprocess`' random numbers: the same seed gives the same sequence
   * of epoch orders (default: drawn from `Math.random`, so `d2l.seed(n)` fixes it).
   */
  seed?: number;
  /** Drop the last batch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /**
   * Per-batch transformation, run inside `tf.tidy` on the backend (e.g. resizing
   * images). Return new tensors; the inputs are disposed after it.
   */
  transform?: (X: tf.Tensor, y: tf.Tensor) => [tf.Tensor, tf.Tensor];
  /** The loader owns the dataset: {@link DataLoader.dispose} disposes it too (default false). */
  ownsDataset?: boolean;
  /**
   * Per-example preprocessing on plain values (torchvision's `transform`,
   * run where PyTorch runs `__getitem__`: in the workers when `numWorkers` > 0):
   * `(x, y, ctx) => [x2, y2]`, given each example as `dataset.get(i)`
   * returns it (tensors as `{ data, shape, dtype }`), returning plain values
   * (see {@link PlainValue}) that the loader stacks.
   *
   * It runs from its **source text**, on the main thread and in workers
   * alike, so it must not use anything from outside it (notebook variables,
   * imports, `tf`, `d2l`): pass constants in `preprocessArgs` (they arrive as
   * `ctx.args`); a name it cannot find is an error that says so. For random
   * augmentation use `ctx.random()` (or `Math.random`, which is the same
   * generator while it runs): seeded per example by the loader's seed, so
   * the batches are the same for every `numWorkers`.
   */
  preprocess?(x: Plain<E[0]>, y: Plain<E[1]>, ctx: PreprocessContext): readonly [PlainValue, PlainValue];
  /** Values `preprocess` gets as `ctx.args` (anything `structuredClone` copies: numbers, arrays, typed arrays, plain objects). */
  preprocessArgs?: unknown;
  /**
   * Worker threads that run `preprocess` (PyTorch's `num_workers`; default
   * 0: on the main thread). They start with each epoch and end with it
   * (also when the loop breaks, throws or is interrupted); batches come in
   * the same order, with the same values, as with 0. Without `preprocess`
   * there is nothing for them to do and none start.
   */
  numWorkers?: number;
  /** Batches each worker prepares ahead (PyTorch's `prefetch_factor`, default 2). */
  prefetchFactor?: number;
  /**
   * Keep the workers between epochs (PyTorch's `persistent_workers`,
   * default false): no start-up per epoch, and their compiled code stays
   * warm. They end at {@link DataLoader.dispose}, when an epoch breaks,
   * throws or is interrupted, or when the loader is garbage-collected; idle,
   * they never keep the process alive.
   */
  persistentWorkers?: boolean;
  /**
   * Makes a batch from its examples (PyTorch's `collate_fn`): given the
   * examples as `get(i)` (or `preprocess`) returned them, return `[X, y]`
   * tensors. Runs on the main thread inside `tf.tidy`. Default: stack each part.
   */
  collate?(examples: (readonly [ExampleValue, ExampleValue])[]): [tf.Tensor, tf.Tensor];
}

/**
 * Minibatches of a dataset as `[X, y]` tensor pairs: the book's
 * `torch.utils.data.DataLoader`. Each `for await` over it is one epoch;
 * with `shuffle` every epoch visits the examples in a new order (deterministic
 * for a `seed`). The next batch is prepared while the consumer works on the
 * current one. The tensors of each yielded batch belong to the consumer, who
 * disposes them (or runs the step inside `tf.tidy`); a batch prefetched when
 * the loop ends early is disposed by the loader.
 *
 * Any dataset works (PyTorch's `Dataset`): an object or class with a
 * `length` and `get(i)` returning `[x, y]` as tensors or as plain values
 * (numbers, arrays, typed arrays, `{ data, shape }`), which the loader
 * stacks (PyTorch's `default_collate`; `collate` replaces it). A per-example
 * `preprocess` function runs on the plain values, in `numWorkers` worker
 * threads when asked (PyTorch's `num_workers`), with the same batches, in
 * the same order, as on the main thread.
 *
 * @example
 * const loader = new d2l.DataLoader(new d2l.TensorDataset(X, y), { batchSize: 10, shuffle: true, seed: 0 });
 * for await (const [Xb, yb] of loader) {
 *   // ... one training step ...
 *   tf.dispose([Xb, yb]);
 * }
 * @example
 * class Images implements d2l.Dataset<[d2l.HostTensor, number]> {
 *   constructor(readonly pixels: Uint8Array, readonly labels: Int32Array) {}
 *   get length() { return this.labels.length; }
 *   get(i: number): [d2l.HostTensor, number] {
 *     return [{ data: this.pixels.subarray(i * 784, (i + 1) * 784), shape: [28, 28, 1] }, this.labels[i]];
 *   }
 * }
 * const trainIter = new d2l.DataLoader(new Images(pixels, labels), {
 *   batchSize: 256, shuffle: true, numWorkers: 2,
 *   // runs from its source text in the workers: everything it uses is inside it or in ctx.args
 *   preprocess: (x, y, ctx) => {
 *     const flip = ctx.random() < 0.5, out = new Float32Array(784);
 *     for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) out[r * 28 + c] = x.data[r * 28 + (flip ? 27 - c : c)] / 255;
 *     return [{ data: out, shape: [28, 28, 1] }, y];
 *   },
 * });
 */
export class DataLoader<E extends Example = Example> implements AsyncIterable<[tf.Tensor, tf.Tensor]> {
  /** The dataset read from. */
  readonly dataset: Dataset<E>;
  /** Examples per minibatch. */
  readonly batchSize: number;
  /** Whether each epoch visits the examples in a new random order. */
  readonly shuffle: boolean;
  /** Whether a last, smaller batch is dropped. */
  readonly dropLast: boolean;
  private readonly seed: number;
  private readonly transform?: (X: tf.Tensor, y: tf.Tensor) => [tf.Tensor, tf.Tensor];
  private readonly ownsDataset: boolean;
  /** Worker threads for `preprocess` (0: on the main thread). */
  readonly numWorkers: number;
  private readonly prefetchFactor: number;
  private readonly persistentWorkers: boolean;
  /** The persistent workers, between epochs; `poolInUse` while an epoch runs on them. */
  private pool: PreprocessPool | undefined;
  private poolInUse = false;
  private readonly preprocess?: { fn: PreprocessFn; source: string; args: unknown };
  private readonly collate?: (examples: (readonly [ExampleValue, ExampleValue])[]) => [tf.Tensor, tf.Tensor];
  /**
   * Epochs begun so far: the next `for await` is epoch `epoch` (0-based), whose
   * shuffle is `permutation(n, mixSeed(seed, epoch))`. Settable, so that a run
   * resumed from a checkpoint (`d2l.resume`) continues the same sequence of orders.
   *
   * @example
   * loader.epoch; // 0 before training, 3 after three epochs
   * loader.epoch = 4; // the next epoch shuffles as the fifth did
   */
  epoch = 0;
  private disposed = false;

  constructor(dataset: Dataset<E>, options: DataLoaderOptions<E>) {
    checkDataset(dataset);
    if (options === null || typeof options !== "object") throw new Error("DataLoader: expected options, e.g. new d2l.DataLoader(dataset, { batchSize: 64, shuffle: true })");
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new Error(`DataLoader: batchSize must be a positive integer, got ${String(batchSize)}`);
    }
    if (options.seed !== undefined && !Number.isInteger(options.seed)) {
      throw new Error(`DataLoader: seed must be an integer, got ${String(options.seed)}`);
    }
    if (dataset instanceof TensorDataset && dataset.numTensors !== 2) {
      throw new Error(
        `DataLoader: the dataset must hold two tensors (features X and labels y), but it holds ${dataset.numTensors} ` + `(shapes ${dataset.shapes.map(shapeText).join(", ")})`,
      );
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.transform = options.transform;
    this.ownsDataset = options.ownsDataset ?? false;
    const { numWorkers = 0, prefetchFactor = 2 } = options;
    if (!Number.isInteger(numWorkers) || numWorkers < 0 || numWorkers > 256) {
      throw new Error(`DataLoader: numWorkers must be a whole number of worker threads (0 to preprocess on the main thread), got ${String(numWorkers)}`);
    }
    if (!Number.isInteger(prefetchFactor) || prefetchFactor < 1) throw new Error(`DataLoader: prefetchFactor must be a positive integer, got ${String(prefetchFactor)}`);
    this.numWorkers = numWorkers;
    this.prefetchFactor = prefetchFactor;
    this.persistentWorkers = options.persistentWorkers ?? false;
    if (options.preprocess !== undefined) {
      const source = preprocessSource(options.preprocess);
      let args: unknown;
      try {
        args = structuredClone(options.preprocessArgs);
      } catch (e) {
        throw new Error(
          `DataLoader: preprocessArgs must be copyable to a worker thread (numbers, strings, arrays, typed arrays, plain objects; no functions or tensors): ${(e as Error).message}`,
        );
      }
      // compiled from its source here too, so that it behaves the same with and without workers
      this.preprocess = { fn: compilePreprocess(source), source, args };
    } else if (options.preprocessArgs !== undefined) {
      throw new Error("DataLoader: preprocessArgs is given without preprocess; they are the values preprocess gets as ctx.args");
    }
    if (options.collate !== undefined && typeof options.collate !== "function") {
      throw new Error(`DataLoader: collate must be a function (examples) => [X, y], got ${describeValue(options.collate)}`);
    }
    this.collate = options.collate?.bind(options);
  }

  /** Number of examples in the dataset (the book's `len(loader.dataset)`). */
  get numExamples(): number {
    return this.dataset.length;
  }

  /** Number of batches per epoch (the book's `len(loader)`). */
  get numBatches(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The dataset indices of batch `b` of an epoch whose example order is `order` (null: in order). */
  private batchIndices(order: Int32Array | null, b: number): Int32Array {
    const start = b * this.batchSize;
    const end = Math.min(start + this.batchSize, this.dataset.length);
    if (order) return order.subarray(start, end);
    const indices = new Int32Array(end - start);
    for (let j = 0; j < indices.length; j++) indices[j] = start + j;
    return indices;
  }

  /** The examples at `indices`, as `dataset.get(i)` returns them, checked to be pairs. */
  private readExamples(indices: Int32Array): (readonly [ExampleValue, ExampleValue])[] {
    const out: (readonly [ExampleValue, ExampleValue])[] = [];
    for (const i of indices) {
      const item: unknown = this.dataset.get(i);
      if (!Array.isArray(item) || item.length !== 2) {
        throw new Error(`DataLoader: dataset.get(${i}) must return a pair [x, y] (tensors, numbers, arrays, typed arrays or { data, shape }), got ${describeValue(item)}`);
      }
      out.push(item as unknown as readonly [ExampleValue, ExampleValue]);
    }
    return out;
  }

  /**
   * The raw examples of a batch for `preprocess`: tensors read into
   * `{ data, shape, dtype }` (and freed); for a worker, the typed arrays
   * copied into one buffer to transfer.
   */
  private batchTask(indices: Int32Array, epoch: number, forWorker: boolean): BatchTask {
    let examples: [unknown, unknown][] = [];
    tf.tidy(() => {
      examples = this.readExamples(indices).map(([x, y]) => {
        const plain = (v: ExampleValue): unknown => (v instanceof tf.Tensor ? hostTensorOf(v) : v);
        return [plain(x), plain(y)];
      });
    });
    const task: BatchTask = { epoch, epochSeed: epochSeed(this.seed, epoch), indices: forWorker ? indices.slice() : indices, examples, stack: this.collate === undefined };
    if (forWorker) ({ examples: task.examples, buffer: task.buffer } = packForTransfer(examples));
    return task;
  }

  /** The batch's tensors from plain examples (collate, or stack each part). Call inside tf.tidy. */
  private stackExamples(examples: (readonly [ExampleValue, ExampleValue])[], indices: Int32Array): [tf.Tensor, tf.Tensor] {
    if (this.collate) {
      const pair: unknown = this.collate(examples);
      if (!Array.isArray(pair) || pair.length !== 2 || !(pair[0] instanceof tf.Tensor) || !(pair[1] instanceof tf.Tensor)) {
        throw new Error(`DataLoader: collate must return a pair [X, y] of tensors, got ${describeValue(pair)}`);
      }
      return pair as [tf.Tensor, tf.Tensor];
    }
    return [
      stackPart(
        examples.map((e) => e[0]),
        "x",
        indices,
      ),
      stackPart(
        examples.map((e) => e[1]),
        "y",
        indices,
      ),
    ];
  }

  /** The tensors of a preprocessed batch. Call inside tf.tidy. */
  private fromResult(r: BatchResult, indices: Int32Array): [tf.Tensor, tf.Tensor] {
    if (r.x) return [tensorOfColumn(r.x), tensorOfColumn(r.y)];
    return this.stackExamples(r.examples as (readonly [ExampleValue, ExampleValue])[], indices);
  }

  /** Batch `b` of epoch `epoch`, whose example order is `order` (null: in order), made on this thread. */
  private makeBatch(order: Int32Array | null, b: number, epoch: number): [tf.Tensor, tf.Tensor] {
    const indices = this.batchIndices(order, b);
    const ds = this.dataset;
    const batch = tf.tidy((): [tf.Tensor, tf.Tensor] => {
      let X: tf.Tensor;
      let y: tf.Tensor;
      if (this.preprocess) {
        const p = this.preprocess;
        [X, y] = this.fromResult(processBatch(p.fn, p.args, this.batchTask(indices, epoch, false)), indices);
      } else if (hasGetBatch(ds) && !this.collate) {
        const pair = ds.getBatch(indices);
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new Error("DataLoader: dataset.getBatch must return a pair [X, y] of tensors");
        }
        [X, y] = pair as unknown as [tf.Tensor, tf.Tensor];
      } else {
        [X, y] = this.stackExamples(this.readExamples(indices), indices);
      }
      return this.transform ? this.transform(X, y) : [X, y];
    });
    // Kept: if next() happens to be called inside a user's tf.tidy, the batch must survive it.
    tf.keep(batch[0]);
    tf.keep(batch[1]);
    return batch;
  }

  /**
   * One epoch of minibatches. Each call starts a new epoch (with `shuffle`,
   * in a new order).
   *
   * @example
   * for await (const [X, y] of loader) { console.log(X.shape, y.shape); tf.dispose([X, y]); }
   */
  [Symbol.asyncIterator](): AsyncGenerator<[tf.Tensor, tf.Tensor], void, undefined> {
    if (this.disposed) throw new Error("DataLoader: it was disposed; make a new loader");
    if (!Number.isInteger(this.epoch) || this.epoch < 0) throw new Error(`DataLoader: epoch must be a whole number >= 0 (epochs begun so far), got ${String(this.epoch)}`);
    const epoch = this.epoch++;
    const order = this.shuffle ? permutation(this.dataset.length, mixSeed(this.seed, epoch)) : null;
    return this.preprocess && this.numWorkers > 0 ? this.workerBatches(order, epoch) : this.epochBatches(order, epoch);
  }

  private async *epochBatches(order: Int32Array | null, epoch: number): AsyncGenerator<[tf.Tensor, tf.Tensor], void, undefined> {
    const nb = this.numBatches;
    let next: [tf.Tensor, tf.Tensor] | null = null;
    try {
      if (nb > 0) next = this.makeBatch(order, 0, epoch);
      for (let b = 0; b < nb; b++) {
        const current = next as [tf.Tensor, tf.Tensor];
        next = null;
        // Prefetch: batch b+1 is on its way before the consumer sees batch b.
        if (b + 1 < nb) next = this.makeBatch(order, b + 1, epoch);
        yield current;
      }
    } finally {
      // The consumer stopped early (break, return, throw): the prefetched batch is ours to free.
      if (next) tf.dispose(next);
    }
  }

  /**
   * One epoch with `preprocess` in worker threads. They end with the loop,
   * however it ends; with `persistentWorkers` they stay for the next epoch
   * when this one read every batch.
   */
  private async *workerBatches(order: Int32Array | null, epoch: number): AsyncGenerator<[tf.Tensor, tf.Tensor], void, undefined> {
    const p = this.preprocess as NonNullable<DataLoader["preprocess"]>;
    const init = { source: p.source, args: p.args };
    const nb = this.numBatches;
    if (nb === 0) return;
    let pool: PreprocessPool;
    let release: (pool: PreprocessPool, completed: boolean) => Promise<void>;
    if (this.persistentWorkers && !this.poolInUse) {
      if (this.pool === undefined || this.pool.isClosed) {
        this.pool = new PreprocessPool(this.numWorkers, init);
        orphanPools.register(this, this.pool, this.pool);
      }
      pool = this.pool;
      this.poolInUse = true;
      release = async (pl, completed) => {
        this.poolInUse = false;
        if (completed && !this.disposed) return; // kept for the next epoch
        this.pool = undefined;
        orphanPools.unregister(pl);
        await pl.close();
      };
    } else {
      // one epoch's workers (also a second epoch running at the same time as a persistent one)
      pool = new PreprocessPool(Math.min(this.numWorkers, nb), init);
      release = (pl) => pl.close();
    }
    const results = pooledBatches(pool, release, nb, this.prefetchFactor, (b) => this.batchTask(this.batchIndices(order, b), epoch, true));
    let b = 0;
    for await (const r of results) {
      const indices = this.batchIndices(order, b++);
      const batch = tf.tidy((): [tf.Tensor, tf.Tensor] => {
        const [X, y] = this.fromResult(r, indices);
        return this.transform ? this.transform(X, y) : [X, y];
      });
      tf.keep(batch[0]);
      tf.keep(batch[1]);
      yield batch;
    }
  }

  /**
   * Free the dataset's tensors when this loader owns them (the loaders
   * {@link loadDataFashionMnist} returns do); otherwise nothing.
   *
   * @example
   * const [trainIter, testIter] = await d2l.loadDataFashionMnist(256);
   * // ... train ...
   * trainIter.dispose(); testIter.dispose();
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.pool) {
      orphanPools.unregister(this.pool);
      void this.pool.close();
      this.pool = undefined;
    }
    if (this.ownsDataset) {
      const d = this.dataset as { dispose?: () => void };
      if (typeof d.dispose === "function") d.dispose();
    }
  }

  /** A one-line description. */
  toString(): string {
    return (
      `DataLoader(${this.numExamples} examples, batch size ${this.batchSize}, ${this.numBatches} batches` +
      `${this.shuffle ? ", shuffled" : ""}${this.dropLast ? ", drop last" : ""}` +
      `${this.preprocess ? `, preprocess${this.numWorkers > 0 ? ` in ${this.numWorkers} worker${this.numWorkers === 1 ? "" : "s"}` : ""}` : ""})`
    );
  }

  /** How the notebook shows a loader. */
  [Symbol.for("Jupyter.display")](): Record<string, unknown> {
    return { "text/plain": this.toString() };
  }
}
