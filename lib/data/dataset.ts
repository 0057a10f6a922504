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

/**
 * Rows `indices` of `t` copied in JavaScript, on the cpu backend only: there a
 * tensor's values already live in a JavaScript typed array (`dataSync` hands
 * out that array, it copies nothing and waits for nothing), and a row copy is
 * some ten times faster than the cpu kernel of `tf.gather`. Elsewhere
 * undefined: other backends gather natively, and reading their values back
 * would be a sync per batch.
 */
function hostGather(t: tf.Tensor, indices: Int32Array): tf.Tensor | undefined {
  // (bool values would be copied by dataSync: left to tf.gather)
  if (tf.getBackend() !== "cpu" || !(t.dtype === "float32" || t.dtype === "int32")) return undefined;
  const src = t.dataSync() as HostArray;
  const row = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const k = indices.length;
  const out: HostArray = src instanceof Int32Array ? new Int32Array(k * row) : new Float32Array(k * row);
  if (row === 1) for (let j = 0; j < k; j++) out[j] = src[indices[j]];
  else for (let j = 0; j < k; j++) out.set(src.subarray(indices[j] * row, (indices[j] + 1) * row), j * row);
  return tf.tensor(out, [k, ...t.shape.slice(1)], t.dtype);
}

/**
 * Tensors that share their first dimension, read example by example or batch
 * by batch: the book's `torch.utils.data.TensorDataset(*tensors)`. The
 * dataset does not copy the tensors; they stay the caller's (see
 * {@link TensorDataset.dispose}).
 *
 * @example
 * const X = tf.randomNormal([100, 2]);
 * const y = tf.randomNormal([100, 1]);
 * const ds = new d2l.TensorDataset(X, y);
 * ds.length;             // 100
 * const [x0, y0] = ds.get(0); // shapes [2] and [1]
 */
export class TensorDataset<T extends tf.Tensor[] = tf.Tensor[]> implements BatchDataset<T> {
  /** The wrapped tensors, in the order given. */
  readonly tensors: T;
  /** Number of examples (the shared first dimension). */
  readonly length: number;
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
    const n = tensors[0].shape[0];
    if (tensors.some((t) => t.shape[0] !== n)) {
      const shapes = tensors.map((t) => shapeText(t.shape)).join(", ");
      throw new Error(
        `TensorDataset: all tensors need the same first dimension (the number of examples), but got shapes ${shapes}. ` +
          "Reshape or slice them so that row i of each tensor belongs to example i.",
      );
    }
    this.tensors = tensors;
    this.length = n;
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
    return tf.tidy(() =>
      this.tensors.map((t) => {
        const begin = t.shape.map((_, a) => (a === 0 ? i : 0));
        const size = t.shape.map((s, a) => (a === 0 ? 1 : s));
        return tf.slice(t, begin, size).reshape(t.shape.slice(1));
      }),
    ) as T;
  }

  /**
   * The examples at `indices`, one tensor per wrapped tensor. A run of
   * consecutive indices is a slice; anything else a gather (on the cpu
   * backend, a row copy of the arrays it keeps its values in).
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
      if (v < 0 || v >= this.length) {
        throw new Error(`TensorDataset.getBatch: index ${v} is out of range; expected integers in 0..${this.length - 1}`);
      }
      if (j > 0 && v !== indices[j - 1] + 1) contiguous = false;
    }
    return tf.tidy(() => {
      if (contiguous && k > 0) {
        const start = indices[0];
        return this.tensors.map((t) =>
          tf.slice(
            t,
            t.shape.map((_, a) => (a === 0 ? start : 0)),
            t.shape.map((s, a) => (a === 0 ? k : s)),
          ),
        );
      }
      let idx: tf.Tensor1D | undefined;
      return this.tensors.map((t) => {
        const rows = hostGather(t, indices);
        if (rows) return rows;
        idx ??= tf.tensor1d(indices, "int32");
        return tf.gather(t, idx);
      });
    }) as T;
  }

  /**
   * Dispose the wrapped tensors (only when this dataset owns them).
   *
   * @example
   * ds.dispose();
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.tensors) t.dispose();
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
    if (dataset instanceof TensorDataset && dataset.tensors.length !== 2) {
      throw new Error(
        `DataLoader: the dataset must hold two tensors (features X and labels y), but it holds ${dataset.tensors.length} ` +
          `(shapes ${dataset.tensors.map((t: tf.Tensor) => shapeText(t.shape)).join(", ")})`,
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
