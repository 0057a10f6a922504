import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { DataLoader, TensorDataset, syntheticData, loadArray, getFashionMnistLabels, type DataIter, type Dataset } from "../../lib/data/index";

before(async () => {
  await tf.setBackend("cpu");
});

/** X[i] = [i, 100 + i], y[i] = i: a row's content tells which example it is. */
function indexed(n: number): [tf.Tensor2D, tf.Tensor1D] {
  const xs: number[][] = [];
  for (let i = 0; i < n; i++) xs.push([i, 100 + i]);
  return [
    tf.tensor2d(xs),
    tf.tensor1d(
      Array.from({ length: n }, (_, i) => i),
      "int32",
    ),
  ];
}

/** Run one epoch; return the example ids per batch, checking X and y agree; disposes every batch. */
async function epochIds(loader: AsyncIterable<[tf.Tensor, tf.Tensor]>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const [X, y] of loader) {
    const ys = Array.from(y.dataSync());
    const xs = X.arraySync() as number[][];
    assert.deepEqual(
      xs.map((r) => r[0]),
      ys,
      "row i of X and row i of y must belong to the same example",
    );
    assert.deepEqual(
      xs.map((r) => r[1]),
      ys.map((v) => v + 100),
    );
    out.push(ys);
    tf.dispose([X, y]);
  }
  return out;
}

describe("TensorDataset", () => {
  test("length and get(i) return row i of each tensor", () => {
    const [X, y] = indexed(5);
    const ds = new TensorDataset(X, y);
    assert.equal(ds.length, 5);
    const [x3, y3] = ds.get(3);
    assert.deepEqual(x3.shape, [2]);
    assert.deepEqual(Array.from(x3.dataSync()), [3, 103]);
    assert.deepEqual(y3.shape, []);
    assert.equal(y3.dataSync()[0], 3);
    tf.dispose([x3, y3, X, y]);
  });

  test("tensors with different first dimensions: an error naming the shapes", () => {
    const X = tf.zeros([10, 2]);
    const y = tf.zeros([9, 1]);
    assert.throws(
      () => new TensorDataset(X, y),
      (e: Error) => /same first dimension/.test(e.message) && e.message.includes("[10,2]") && e.message.includes("[9,1]"),
    );
    tf.dispose([X, y]);
  });

  test("a scalar, no tensors, or an index out of range are errors that say what was expected", () => {
    const s = tf.scalar(1);
    assert.throws(() => new TensorDataset(s), /scalar/);
    assert.throws(() => new TensorDataset(), /at least one tensor/);
    const [X, y] = indexed(3);
    const ds = new TensorDataset(X, y);
    assert.throws(() => ds.get(3), /out of range.*0\.\.2/);
    assert.throws(() => ds.get(-1), /out of range/);
    tf.dispose([s, X, y]);
  });

  test("getBatch gathers arbitrary rows and slices consecutive ones", () => {
    const [X, y] = indexed(6);
    const ds = new TensorDataset(X, y);
    const [xb, yb] = ds.getBatch(Int32Array.from([4, 0, 5]));
    assert.deepEqual(Array.from(yb.dataSync()), [4, 0, 5]);
    assert.deepEqual(xb.arraySync(), [
      [4, 104],
      [0, 100],
      [5, 105],
    ]);
    const [xs, ys] = ds.getBatch(Int32Array.from([2, 3]));
    assert.deepEqual(Array.from(ys.dataSync()), [2, 3]);
    assert.deepEqual(xs.shape, [2, 2]);
    assert.throws(() => ds.getBatch(Int32Array.from([6])), /out of range/);
    tf.dispose([xb, yb, xs, ys, X, y]);
  });
});

/** A backend named `name` that is the cpu backend under another name (its kernels copied): the data code sees that name. */
function aliasOfCpu(name: string): void {
  if (tf.findBackend(name)) return;
  for (const k of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...k, backendName: name });
  const Cpu = (tf.findBackend("cpu") as object).constructor as new () => tf.KernelBackend;
  tf.registerBackend(name, () => new Cpu());
}

describe("TensorDataset.fromArrays and the host / device batch paths", () => {
  test("fromArrays: bytes scaled to float32, labels to int32; batches, get(i), shapes; tensors only on demand; dispose frees them", () => {
    const base = tf.memory().numTensors;
    const bytes = Uint8Array.from({ length: 5 * 4 }, (_, i) => (i * 13) % 256); // 5 examples of 2x2
    const labels = Uint8Array.from([4, 3, 2, 1, 0]);
    const ds = TensorDataset.fromArrays<[tf.Tensor4D, tf.Tensor1D]>({ values: bytes, shape: [5, 2, 2, 1], scale: 1 / 255 }, { values: labels, shape: [5], dtype: "int32" });
    assert.equal(ds.length, 5);
    assert.equal(ds.numTensors, 2);
    assert.deepEqual(ds.shapes, [[5, 2, 2, 1], [5]]);
    assert.equal(tf.memory().numTensors, base, "no tensor made yet");
    const [X, y] = ds.getBatch(Int32Array.from([3, 0]));
    assert.deepEqual(X.shape, [2, 2, 2, 1]);
    assert.equal(X.dtype, "float32");
    assert.equal(y.dtype, "int32");
    assert.deepEqual(Array.from(y.dataSync()), [1, 4]);
    const want = [12, 13, 14, 15, 0, 1, 2, 3].map((i) => bytes[i] / 255);
    Array.from(X.dataSync()).forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-7, `X[${i}] = ${v}, expected ${want[i]}`));
    const [x4, y4] = ds.get(4);
    assert.deepEqual(x4.shape, [2, 2, 1]);
    assert.deepEqual(y4.shape, []);
    assert.equal(y4.dataSync()[0], 0);
    tf.dispose([X, y, x4, y4]);
    assert.equal(tf.memory().numTensors, base);
    const [tX, ty] = ds.tensors;
    assert.deepEqual(tX.shape, [5, 2, 2, 1]);
    assert.ok(Math.abs(tX.dataSync()[5] - bytes[5] / 255) < 1e-7);
    assert.deepEqual(Array.from(ty.dataSync()), [4, 3, 2, 1, 0]);
    assert.equal(ds.tensors[0], tX, "made once");
    assert.equal(tf.memory().numTensors, base + 2);
    ds.dispose();
    assert.equal(tf.memory().numTensors, base, "dispose frees the tensors it made");
    assert.throws(() => ds.getBatch(Int32Array.from([0])), /disposed/);
  });

  test("fromArrays: bad columns are errors that say what was expected", () => {
    assert.throws(() => TensorDataset.fromArrays(), /at least one column/);
    assert.throws(() => TensorDataset.fromArrays({ values: [1, 2] as unknown as Float32Array, shape: [2] }), /Float32Array, Int32Array or Uint8Array/);
    assert.throws(() => TensorDataset.fromArrays({ values: new Float32Array(6), shape: [2, 2] }), /6 values, but shape \[2,2\] needs 4/);
    assert.throws(() => TensorDataset.fromArrays({ values: new Float32Array(4), shape: [4] }, { values: new Int32Array(3), shape: [3] }), /same first dimension.*\[4\], \[3\]/);
    assert.throws(() => TensorDataset.fromArrays({ values: new Float32Array(2), shape: [2], dtype: "int32" }), /int32, so it needs integer values/);
  });

  test("the same batches on cpu, on a host backend that copies the values once (as wasm and tensorflow), and on a device backend (gather)", async () => {
    aliasOfCpu("tensorflow"); // a host-memory backend's name (tfjs-node's)
    aliasOfCpu("d2l-test-gpu"); // any other name: batches are gathered on the device
    const order = Int32Array.from([7, 2, 9, 0, 3]);
    const batchesOf = (ds: TensorDataset<tf.Tensor[]>): number[][] =>
      tf.tidy(() => [...ds.getBatch(order), ...ds.getBatch(Int32Array.from([4, 5])), ...ds.get(8)].map((t) => Array.from(t.dataSync())));
    try {
      const results: Record<string, number[][]> = {};
      for (const backend of ["cpu", "tensorflow", "d2l-test-gpu"]) {
        await tf.setBackend(backend);
        const [X, y] = indexed(10);
        const bytes = Uint8Array.from({ length: 10 * 3 }, (_, i) => (i * 29) % 256);
        const fromTensors = new TensorDataset(X, y);
        const fromArrays = TensorDataset.fromArrays({ values: bytes, shape: [10, 3], scale: 0.5 }, { values: Int32Array.from({ length: 10 }, (_, i) => i), shape: [10] });
        const base = tf.memory().numTensors;
        const a = batchesOf(fromTensors);
        const b = batchesOf(fromArrays);
        const made = tf.memory().numTensors - base;
        assert.equal(made, backend === "d2l-test-gpu" ? 2 : 0, `${backend}: tensors kept by the dataset (the device path makes one per column, once)`);
        batchesOf(fromArrays);
        assert.equal(tf.memory().numTensors - base, made, `${backend}: nothing more on a second pass`);
        results[backend] = [...a, ...b];
        assert.deepEqual(a[0], [7, 107, 2, 102, 9, 109, 0, 100, 3, 103]);
        assert.deepEqual(
          b[0],
          [7, 2, 9, 0, 3].flatMap((r) => [3 * r, 3 * r + 1, 3 * r + 2]).map((i) => bytes[i] * 0.5),
        );
        fromArrays.dispose();
        assert.equal(tf.memory().numTensors, base);
        tf.dispose([X, y]);
      }
      assert.deepEqual(results.tensorflow, results.cpu);
      assert.deepEqual(results["d2l-test-gpu"], results.cpu);
    } finally {
      await tf.setBackend("cpu");
    }
  });
});

describe("DataLoader", () => {
  test("batches in order without shuffle; the last batch is smaller; numBatches/numExamples/batchSize", async () => {
    const [X, y] = indexed(10);
    const loader = new DataLoader(new TensorDataset(X, y), { batchSize: 3 });
    assert.equal(loader.numExamples, 10);
    assert.equal(loader.batchSize, 3);
    assert.equal(loader.numBatches, 4);
    assert.deepEqual(await epochIds(loader), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    tf.dispose([X, y]);
  });

  test("dropLast drops the smaller last batch", async () => {
    const [X, y] = indexed(10);
    const loader = new DataLoader(new TensorDataset(X, y), { batchSize: 3, dropLast: true });
    assert.equal(loader.numBatches, 3);
    assert.deepEqual(await epochIds(loader), [
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8],
    ]);
    const big = new DataLoader(new TensorDataset(X, y), { batchSize: 11, dropLast: true });
    assert.equal(big.numBatches, 0);
    assert.deepEqual(await epochIds(big), []);
    tf.dispose([X, y]);
  });

  test("shuffle with a seed: every example once per epoch, same orders for the same seed, a new order each epoch", async () => {
    const [X, y] = indexed(50);
    const a = new DataLoader(new TensorDataset(X, y), { batchSize: 8, shuffle: true, seed: 42 });
    const b = new DataLoader(new TensorDataset(X, y), { batchSize: 8, shuffle: true, seed: 42 });
    const c = new DataLoader(new TensorDataset(X, y), { batchSize: 8, shuffle: true, seed: 7 });
    const a1 = (await epochIds(a)).flat();
    const a2 = (await epochIds(a)).flat();
    const b1 = (await epochIds(b)).flat();
    const b2 = (await epochIds(b)).flat();
    const c1 = (await epochIds(c)).flat();
    const all = Array.from({ length: 50 }, (_, i) => i);
    assert.deepEqual(
      [...a1].sort((p, q) => p - q),
      all,
    );
    assert.deepEqual(
      [...a2].sort((p, q) => p - q),
      all,
    );
    assert.notDeepEqual(a1, all, "a shuffled epoch is not in order");
    assert.notDeepEqual(a1, a2, "each epoch has a new order");
    assert.deepEqual(a1, b1, "same seed, same first epoch");
    assert.deepEqual(a2, b2, "same seed, same second epoch");
    assert.notDeepEqual(a1, c1, "another seed, another order");
    tf.dispose([X, y]);
  });

  test("no tensors leak over full epochs, an early break, or an exception in the loop body", async () => {
    const [X, y] = indexed(20);
    const loader = new DataLoader(new TensorDataset(X, y), { batchSize: 4, shuffle: true, seed: 1 });
    const base = tf.memory().numTensors;
    for (let e = 0; e < 3; e++) await epochIds(loader);
    assert.equal(tf.memory().numTensors, base, "full epochs");

    let seen = 0;
    for await (const [Xb, yb] of loader) {
      seen++;
      // while the consumer holds batch 1, batch 2 is already prepared
      assert.equal(tf.memory().numTensors, base + 4, "current batch + prefetched batch");
      tf.dispose([Xb, yb]);
      if (seen === 2) break;
    }
    assert.equal(tf.memory().numTensors, base, "early break disposes the prefetched batch");

    await assert.rejects(async () => {
      for await (const [Xb, yb] of loader) {
        tf.dispose([Xb, yb]);
        throw new Error("boom");
      }
    }, /boom/);
    assert.equal(tf.memory().numTensors, base, "an exception in the loop disposes the prefetched batch");

    // an iterator that was made but never started holds nothing
    loader[Symbol.asyncIterator]();
    assert.equal(tf.memory().numTensors, base);
    tf.dispose([X, y]);
  });

  test("batches made while a tf.tidy is open survive it, and belong to the consumer", async () => {
    const [X, y] = indexed(6);
    const loader = new DataLoader(new TensorDataset(X, y), { batchSize: 2 });
    const base = tf.memory().numTensors;
    const it = loader[Symbol.asyncIterator]();
    let first: Promise<IteratorResult<[tf.Tensor, tf.Tensor], void>> | undefined;
    // next() runs the loader up to its first yield synchronously: batch 0 and the prefetched batch 1 are made inside the tidy
    tf.tidy(() => {
      first = it.next();
    });
    const r0 = await first!;
    const r1 = await it.next();
    assert.equal(r0.done, false);
    assert.equal(r1.done, false);
    const [X0, y0] = r0.value as [tf.Tensor, tf.Tensor];
    const [X1, y1] = r1.value as [tf.Tensor, tf.Tensor];
    assert.equal(X0.isDisposed || y0.isDisposed || X1.isDisposed || y1.isDisposed, false);
    assert.deepEqual(Array.from(y0.dataSync()), [0, 1]);
    assert.deepEqual(Array.from(y1.dataSync()), [2, 3]);
    tf.dispose([X0, y0, X1, y1]);
    await it.return(undefined);
    assert.equal(tf.memory().numTensors, base);
    tf.dispose([X, y]);
  });

  test("re-iterable: each for-await is one epoch; a DataLoader is a DataIter", async () => {
    const [X, y] = indexed(7);
    const iter: DataIter = loadArray([X, y], 3, false);
    assert.equal(iter.numExamples, 7);
    assert.equal(iter.numBatches, 3);
    assert.equal(iter.batchSize, 3);
    const e1 = await epochIds(iter);
    const e2 = await epochIds(iter);
    assert.deepEqual(e1, e2);
    assert.deepEqual(e1.flat(), [0, 1, 2, 3, 4, 5, 6]);
    tf.dispose([X, y]);
  });

  test("any Dataset of [x, y] pairs works, stacked per batch", async () => {
    const ds: Dataset<[tf.Tensor, tf.Tensor]> = {
      length: 5,
      get: (i) => [tf.tensor1d([i, 100 + i]), tf.scalar(i, "int32")],
    };
    const base = tf.memory().numTensors;
    const loader = new DataLoader(ds, { batchSize: 2 });
    assert.deepEqual(await epochIds(loader), [[0, 1], [2, 3], [4]]);
    assert.equal(tf.memory().numTensors, base, "the per-example tensors are disposed after stacking");
  });

  test("a per-batch transform runs on every batch without leaking", async () => {
    const [X, y] = indexed(4);
    const loader = new DataLoader(new TensorDataset(X, y), {
      batchSize: 2,
      transform: (xb, yb) => [xb.mul(2), yb],
    });
    const base = tf.memory().numTensors;
    const got: number[][] = [];
    for await (const [xb, yb] of loader) {
      got.push(Array.from(xb.dataSync()));
      tf.dispose([xb, yb]);
    }
    assert.deepEqual(got, [
      [0, 200, 2, 202],
      [4, 204, 6, 206],
    ]);
    assert.equal(tf.memory().numTensors, base);
    tf.dispose([X, y]);
  });

  test("bad options and datasets are clear errors", () => {
    const [X, y] = indexed(4);
    const ds = new TensorDataset(X, y);
    assert.throws(() => new DataLoader(ds, { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
    assert.throws(() => new DataLoader(ds, { batchSize: 2.5 }), /batchSize/);
    assert.throws(() => new DataLoader(ds, { batchSize: 2, seed: 0.5 }), /seed must be an integer/);
    const three = new TensorDataset(X, y, X) as unknown as TensorDataset<[tf.Tensor, tf.Tensor]>;
    assert.throws(() => new DataLoader(three, { batchSize: 2 }), /two tensors.*holds 3/);
    tf.dispose([X, y]);
  });

  test("dispose frees an owned dataset, and the loader refuses to iterate afterwards", () => {
    const [X, y] = indexed(4);
    const base = tf.memory().numTensors;
    const owned = new DataLoader(new TensorDataset(X, y), { batchSize: 2, ownsDataset: true });
    owned.dispose();
    assert.equal(tf.memory().numTensors, base - 2);
    assert.throws(() => owned[Symbol.asyncIterator](), /disposed/);
    const [X2, y2] = indexed(4);
    const notOwned = loadArray([X2, y2], 2);
    notOwned.dispose();
    assert.equal(X2.isDisposed, false, "loadArray does not own the caller's tensors");
    tf.dispose([X2, y2]);
  });

  test("describes itself in one line", () => {
    const [X, y] = indexed(10);
    const loader = loadArray([X, y], 4);
    assert.equal(String(loader), "DataLoader(10 examples, batch size 4, 3 batches, shuffled)");
    tf.dispose([X, y]);
  });
});

describe("syntheticData and loadArray (sections 3.2-3.3)", () => {
  test("y = Xw + b + N(0, 0.01): shapes [n, d] and [n, 1], noise of the right size", () => {
    const base = tf.memory().numTensors;
    const w = tf.tensor1d([2, -3.4]);
    const [X, y] = syntheticData(w, 4.2, 1000);
    assert.deepEqual(X.shape, [1000, 2]);
    assert.deepEqual(y.shape, [1000, 1]);
    const std = tf.tidy(
      () =>
        tf
          .moments(y.sub(X.matMul(w.reshape([2, 1])).add(4.2)))
          .variance.sqrt()
          .dataSync()[0],
    );
    assert.ok(std > 0.005 && std < 0.02, `noise std ${std} should be about 0.01`);
    const xStd = tf.tidy(() => tf.moments(X).variance.sqrt().dataSync()[0]);
    assert.ok(xStd > 0.9 && xStd < 1.1, `X should be standard normal, std ${xStd}`);
    const w2 = tf.tensor2d([[1], [2], [3]]);
    const [X2, y2] = syntheticData(w2, 0, 5);
    assert.deepEqual(X2.shape, [5, 3]);
    assert.deepEqual(y2.shape, [5, 1]);
    tf.dispose([w, X, y, w2, X2, y2]);
    assert.equal(tf.memory().numTensors, base);
  });

  test("a seed makes it reproducible; bad w is a clear error", () => {
    const w = tf.tensor1d([2, -3.4]);
    const [Xa, ya] = syntheticData(w, 4.2, 10, 3);
    const [Xb, yb] = syntheticData(w, 4.2, 10, 3);
    assert.deepEqual(Array.from(Xa.dataSync()), Array.from(Xb.dataSync()));
    assert.deepEqual(Array.from(ya.dataSync()), Array.from(yb.dataSync()));
    const bad = tf.zeros([2, 2]);
    assert.throws(() => syntheticData(bad, 1, 10), /shape \[d\] or \[d, 1\], got \[2,2\]/);
    assert.throws(() => syntheticData(w, 1, -1), /numExamples/);
    tf.dispose([w, Xa, ya, Xb, yb, bad]);
  });

  test("loadArray shuffles for training and keeps the order otherwise", async () => {
    const [X, y] = indexed(30);
    const train = loadArray([X, y], 10, true, { seed: 5 });
    const test = loadArray([X, y], 10, false);
    assert.equal(train.shuffle, true);
    assert.equal(test.shuffle, false);
    const ids = (await epochIds(train)).flat();
    assert.notDeepEqual(
      ids,
      Array.from({ length: 30 }, (_, i) => i),
    );
    assert.deepEqual(
      (await epochIds(test)).flat(),
      Array.from({ length: 30 }, (_, i) => i),
    );
    assert.throws(() => loadArray([X] as unknown as [tf.Tensor, tf.Tensor], 2), /\[X, y\]/);
    tf.dispose([X, y]);
  });
});

describe("getFashionMnistLabels", () => {
  test("class indices to the book's names, from numbers at once or a tensor with await", async () => {
    assert.deepEqual(getFashionMnistLabels([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]);
    const t = tf.tensor1d([9, 0], "int32");
    const fromTensor = getFashionMnistLabels(t);
    assert.ok(fromTensor instanceof Promise, "a tensor is read with await");
    assert.deepEqual(await fromTensor, ["ankle boot", "t-shirt"]);
    t.dispose();
    assert.throws(() => getFashionMnistLabels([10]), /10 is not a Fashion-MNIST class/);
    assert.throws(() => getFashionMnistLabels([1.5]), /1\.5 is not a Fashion-MNIST class; expected an integer in 0\.\.9/);
    const m = tf.zeros([2, 2], "int32");
    await assert.rejects(getFashionMnistLabels(m), /1-D tensor.*\[2,2\]/);
    const bad = tf.tensor1d([3, 12], "int32");
    await assert.rejects(getFashionMnistLabels(bad), /12 is not a Fashion-MNIST class/);
    bad.dispose();
    m.dispose();
  });
});
