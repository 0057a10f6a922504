/**
 * Views of a dataset: `Subset` and `randomSplit`, PyTorch's
 * `torch.utils.data.Subset` and `random_split` (a train/validation split
 * of one dataset, repeatable with a seed or with `d2l.seed`).
 */
import type { BatchDataset, Dataset } from "./dataset";
import { permutation } from "./random";

/**
 * The examples of `dataset` at `indices`, in that order (PyTorch's
 * `torch.utils.data.Subset`). No data is copied: `get(i)` is
 * `dataset.get(indices[i])`. Over a dataset that builds whole minibatches
 * (a {@link BatchDataset} such as `TensorDataset`), the subset does too.
 *
 * @example
 * const ds = new d2l.TensorDataset(X, y);         // 100 examples
 * const firstTen = new d2l.Subset(ds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * firstTen.length;                                // 10
 */
export class Subset<T> implements Dataset<T> {
  /** The dataset viewed. */
  readonly dataset: Dataset<T>;
  /** Which of its examples, in order. */
  readonly indices: Int32Array;
  /** Builds the minibatch at `indices` of the subset, when the dataset can (see {@link BatchDataset}). */
  readonly getBatch?: (indices: Int32Array) => T;

  constructor(dataset: Dataset<T>, indices: ArrayLike<number>) {
    if (dataset === null || typeof dataset !== "object" || typeof dataset.get !== "function" || !Number.isInteger(dataset.length)) {
      throw new Error("Subset: expected a dataset (an object with a whole-number length and get(i)), e.g. new d2l.Subset(new d2l.TensorDataset(X, y), [0, 1, 2])");
    }
    const n = dataset.length;
    this.dataset = dataset;
    this.indices = Int32Array.from(indices, (i, k) => {
      if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`Subset: index ${k} is ${i}; every index must be a whole number in [0, ${n}) for a dataset of ${n} examples`);
      return i;
    });
    const batched = dataset as Partial<BatchDataset<T>>;
    if (typeof batched.getBatch === "function") {
      const getBatch = batched.getBatch.bind(dataset);
      this.getBatch = (at: Int32Array): T => getBatch(Int32Array.from(at, (i) => this.index(i)));
    }
  }

  /** Number of examples: `indices.length`. */
  get length(): number {
    return this.indices.length;
  }

  /** Example `i` of the subset: example `indices[i]` of the dataset. */
  get(i: number): T {
    return this.dataset.get(this.index(i));
  }

  private index(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.indices.length) {
      throw new Error(`Subset: example ${i} asked for; this subset has ${this.indices.length} (0 to ${this.indices.length - 1})`);
    }
    return this.indices[i];
  }
}

/**
 * Split `dataset` at random into non-overlapping subsets of the given
 * lengths (PyTorch's `torch.utils.data.random_split`). `lengths` are counts
 * that add up to `dataset.length`, or fractions that add up to 1: then each
 * gets `floor(fraction * length)` and the examples left over go one each to
 * the subsets in turn, from the first, as PyTorch does. The split repeats
 * with the same `seed`; without one it is drawn from `Math.random`, so
 * `d2l.seed(n)` makes it repeat too.
 *
 * @param dataset the dataset to split (a `TensorDataset`, your own class with `length` and `get(i)`, ...)
 * @param lengths counts adding up to `dataset.length`, or fractions adding up to 1
 * @param seed a whole number for a split that repeats (PyTorch's `generator`)
 * @example
 * const [train, valid] = d2l.randomSplit(new d2l.TensorDataset(X, y), [0.8, 0.2], 42);
 * const trainIter = new d2l.DataLoader(train, { batchSize: 32, shuffle: true });
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: readonly number[], seed?: number): Subset<T>[] {
  if (dataset === null || typeof dataset !== "object" || !Number.isInteger(dataset.length)) {
    throw new Error("randomSplit: expected a dataset (an object with a whole-number length and get(i)) first, e.g. d2l.randomSplit(ds, [0.8, 0.2])");
  }
  const n = dataset.length;
  if (!Array.isArray(lengths) || lengths.length === 0 || !lengths.every((l) => typeof l === "number" && Number.isFinite(l) && l >= 0)) {
    throw new Error(
      `randomSplit: lengths must be a non-empty list of counts or fractions ≥ 0, e.g. [0.8, 0.2] or [${Math.round(0.8 * n)}, ${n - Math.round(0.8 * n)}]; got ${JSON.stringify(lengths)}`,
    );
  }
  const total = lengths.reduce((a, b) => a + b, 0);
  let counts: number[];
  if (lengths.every(Number.isInteger) && total === n) {
    counts = [...lengths];
  } else if (Math.abs(total - 1) < 1e-9 && lengths.every((l) => l <= 1)) {
    counts = lengths.map((f) => Math.floor(f * n));
    let left = n - counts.reduce((a, b) => a + b, 0);
    for (let k = 0; left > 0; k = (k + 1) % counts.length, left--) counts[k] += 1;
  } else {
    throw new Error(`randomSplit: lengths add up to ${total}; they must add up to the dataset's ${n} examples (counts) or to 1 (fractions)`);
  }
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new Error(`randomSplit: seed must be a whole number, got ${seed}`);
  const order = permutation(n, seed === undefined ? Math.floor(Math.random() * 4294967296) : seed >>> 0);
  const out: Subset<T>[] = [];
  let at = 0;
  for (const c of counts) {
    out.push(new Subset(dataset, order.subarray(at, at + c)));
    at += c;
  }
  return out;
}
