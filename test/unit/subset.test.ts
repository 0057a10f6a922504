// Subset and randomSplit: PyTorch's torch.utils.data.Subset and random_split.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { DataLoader, TensorDataset, Subset, randomSplit, type Dataset } from "../../lib/data/index";
import { seed } from "../../lib/seed";

before(async () => {
  await tf.setBackend("cpu");
});

const numbers = (n: number): Dataset<[number, number]> => ({ length: n, get: (i) => [i, i % 3] });

test("randomSplit: counts or fractions, disjoint and covering, repeatable with a seed or d2l.seed", () => {
  const ds = numbers(10);
  const parts = randomSplit(ds, [7, 3], 1);
  assert.deepEqual(
    parts.map((p) => p.length),
    [7, 3],
  );
  const all = parts.flatMap((p) => Array.from({ length: p.length }, (_, i) => p.get(i)[0]));
  assert.deepEqual(
    [...all].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.notDeepEqual(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "shuffled, not cut in order");
  assert.deepEqual(Array.from(randomSplit(ds, [7, 3], 1)[0].indices), Array.from(parts[0].indices), "same seed, same split");
  assert.notDeepEqual(Array.from(randomSplit(ds, [7, 3], 2)[0].indices), Array.from(parts[0].indices));
  // fractions: floor each, then the rest one each from the first (torch: 10 x [0.33, 0.33, 0.34] -> 4, 3, 3)
  assert.deepEqual(
    randomSplit(ds, [0.33, 0.33, 0.34], 0).map((p) => p.length),
    [4, 3, 3],
  );
  assert.deepEqual(
    randomSplit(numbers(11), [0.5, 0.5], 0).map((p) => p.length),
    [6, 5],
  );
  // no seed: drawn from Math.random, which d2l.seed makes repeat
  seed(5);
  const a = Array.from(randomSplit(ds, [0.5, 0.5])[0].indices);
  seed(5);
  const b = Array.from(randomSplit(ds, [0.5, 0.5])[0].indices);
  seed(null);
  assert.deepEqual(a, b);
});

test("randomSplit and Subset say what is wrong", () => {
  assert.throws(() => randomSplit(numbers(10), [6, 3]), /add up to 9; they must add up to the dataset's 10 examples/);
  assert.throws(() => randomSplit(numbers(10), []), /non-empty list/);
  assert.throws(() => randomSplit(numbers(10), [0.8, 0.2], 1.5), /seed must be a whole number/);
  assert.throws(() => new Subset(numbers(3), [0, 3]), /index 1 is 3; every index must be a whole number in \[0, 3\)/);
  assert.throws(() => new Subset(numbers(3), [0]).get(1), /this subset has 1/);
});

test("a Subset of a TensorDataset loads whole minibatches through DataLoader, the right rows", async () => {
  const X = tf.tensor2d(Array.from({ length: 20 }, (_, i) => [i, -i]));
  const y = tf.tensor1d(
    Array.from({ length: 20 }, (_, i) => i),
    "int32",
  );
  const ds = new TensorDataset(X, y);
  const [train, valid] = randomSplit(ds, [0.75, 0.25], 3);
  assert.equal(typeof train.getBatch, "function");
  const seen: number[] = [];
  for await (const [Xb, yb] of new DataLoader(valid, { batchSize: 2 })) {
    const xs = (await Xb.array()) as number[][];
    const ys = Array.from(await yb.data());
    xs.forEach((row, k) => assert.deepEqual(row, [ys[k], -ys[k]]));
    seen.push(...ys);
    tf.dispose([Xb, yb]);
  }
  assert.deepEqual(seen, Array.from(valid.indices));
  assert.equal(train.length + valid.length, 20);
  ds.dispose();
});
