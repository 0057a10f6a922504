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

/**
 * Anything with a length and indexed examples: the book's `Dataset`
 * (`__len__` and `__getitem__`).
 *
 * @example
 * const squares: d2l.Dataset<number> = { length: 10, get: (i) => i * i };
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
    if (tf.getBackend() === "cpu") return t.dataSync() as HostArray; // the backend's own array: no copy
    if (t instanceof tf.Variable) return undefined; // its values may change: gather
    c.host = t.dataSync() as HostArray; // one copy, read once
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

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions {
  /** Examples per minibatch (a positive integer). */
  batchSize: number;
  /** Visit the examples in a new random order every epoch (default false). */
  shuffle?: boolean;
  /** Seed for the shuffle: the same seed gives the same sequence of epoch orders. */
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
 * @example
 * const loader = new d2l.DataLoader(new d2l.TensorDataset(X, y), { batchSize: 10, shuffle: true, seed: 0 });
 * for await (const [Xb, yb] of loader) {
 *   // ... one training step ...
 *   tf.dispose([Xb, yb]);
 * }
 */
export class DataLoader implements AsyncIterable<[tf.Tensor, tf.Tensor]> {
  /** The dataset read from. */
  readonly dataset: Dataset<[tf.Tensor, tf.Tensor]>;
  /** Examples per minibatch. */
  readonly batchSize: number;
  /** Whether each epoch visits the examples in a new random order. */
  readonly shuffle: boolean;
  /** Whether a last, smaller batch is dropped. */
  readonly dropLast: boolean;
  private readonly seed: number;
  private readonly transform?: (X: tf.Tensor, y: tf.Tensor) => [tf.Tensor, tf.Tensor];
  private readonly ownsDataset: boolean;
  private epochs = 0;
  private disposed = false;

  constructor(dataset: Dataset<[tf.Tensor, tf.Tensor]>, options: DataLoaderOptions) {
    if (dataset === null || typeof dataset !== "object" || typeof dataset.get !== "function" || !Number.isInteger(dataset.length)) {
      throw new Error("DataLoader: expected a dataset with a length and get(i), e.g. new d2l.TensorDataset(X, y)");
    }
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new Error(`DataLoader: batchSize must be a positive integer, got ${String(batchSize)}`);
    }
    if (options.seed !== undefined && !Number.isInteger(options.seed)) {
      throw new Error(`DataLoader: seed must be an integer, got ${String(options.seed)}`);
    }
    if (dataset instanceof TensorDataset && dataset.numTensors !== 2) {
      throw new Error(
        `DataLoader: the dataset must hold two tensors (features X and labels y), but it holds ${dataset.numTensors} ` +
          `(shapes ${dataset.shapes.map(shapeText).join(", ")})`,
      );
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.transform = options.transform;
    this.ownsDataset = options.ownsDataset ?? false;
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

  /** Batch `b` of an epoch whose example order is `order` (null: in order). */
  private makeBatch(order: Int32Array | null, b: number): [tf.Tensor, tf.Tensor] {
    const start = b * this.batchSize;
    const end = Math.min(start + this.batchSize, this.dataset.length);
    let indices: Int32Array;
    if (order) indices = order.subarray(start, end);
    else {
      indices = new Int32Array(end - start);
      for (let j = 0; j < indices.length; j++) indices[j] = start + j;
    }
    const ds = this.dataset;
    const batch = tf.tidy((): [tf.Tensor, tf.Tensor] => {
      let X: tf.Tensor;
      let y: tf.Tensor;
      if (hasGetBatch(ds)) {
        const pair = ds.getBatch(indices);
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new Error("DataLoader: dataset.getBatch must return a pair [X, y] of tensors");
        }
        [X, y] = pair;
      } else {
        const xs: tf.Tensor[] = [];
        const ys: tf.Tensor[] = [];
        for (const i of indices) {
          const item = ds.get(i);
          if (!Array.isArray(item) || item.length !== 2 || !(item[0] instanceof tf.Tensor) || !(item[1] instanceof tf.Tensor)) {
            throw new Error(`DataLoader: dataset.get(${i}) must return a pair [x, y] of tensors`);
          }
          xs.push(item[0]);
          ys.push(item[1]);
        }
        X = tf.stack(xs);
        y = tf.stack(ys);
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
    const epoch = this.epochs++;
    const order = this.shuffle ? permutation(this.dataset.length, mixSeed(this.seed, epoch)) : null;
    return this.epoch(order);
  }

  private async *epoch(order: Int32Array | null): AsyncGenerator<[tf.Tensor, tf.Tensor], void, undefined> {
    const nb = this.numBatches;
    let next: [tf.Tensor, tf.Tensor] | null = null;
    try {
      if (nb > 0) next = this.makeBatch(order, 0);
      for (let b = 0; b < nb; b++) {
        const current = next as [tf.Tensor, tf.Tensor];
        next = null;
        // Prefetch: batch b+1 is on its way before the consumer sees batch b.
        if (b + 1 < nb) next = this.makeBatch(order, b + 1);
        yield current;
      }
    } finally {
      // The consumer stopped early (break, return, throw): the prefetched batch is ours to free.
      if (next) tf.dispose(next);
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
    if (this.ownsDataset) {
      const d = this.dataset as { dispose?: () => void };
      if (typeof d.dispose === "function") d.dispose();
    }
  }

  /** A one-line description. */
  toString(): string {
    return (
      `DataLoader(${this.numExamples} examples, batch size ${this.batchSize}, ${this.numBatches} batches` +
      `${this.shuffle ? ", shuffled" : ""}${this.dropLast ? ", drop last" : ""})`
    );
  }

  /** How the notebook shows a loader. */
  [Symbol.for("Jupyter.display")](): Record<string, unknown> {
    return { "text/plain": this.toString() };
  }
}
