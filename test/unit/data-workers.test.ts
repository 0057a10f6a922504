/**
 * The `Dataset`/`DataLoader` of the course notes used directly: a user's own
 * dataset class (length and get(i)) returning plain values, PyTorch's
 * shuffle/batchSize/dropLast/collate, per-example `preprocess`, and
 * `numWorkers` (worker threads): the same batches as on the main thread, in
 * order; workers end with the loop however it ends; errors name the example.
 */
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import { preprocessWorkersAlive } from "../../lib/data/workers";

before(async () => {
  await tf.setBackend("cpu");
});

/** A notebook's own dataset: 8x8 "images" as bytes and integer labels. */
class Squares implements d2l.Dataset<[Uint8Array, number]> {
  readonly images: Uint8Array;
  constructor(readonly n: number) {
    this.images = new Uint8Array(n * 64);
    for (let i = 0; i < this.images.length; i++) this.images[i] = (i * 7 + Math.floor(i / 64)) % 256;
  }
  get length(): number {
    return this.n;
  }
  get(i: number): [Uint8Array, number] {
    return [this.images.subarray(i * 64, (i + 1) * 64), i]; // a view: the loader must not send the whole buffer
  }
}

/** Random crop (pad 1) + flip + normalization: what a notebook's augmentation does, written self-contained. */
const augment = (x: Uint8Array, y: number, ctx: d2l.PreprocessContext<{ mean: number; std: number }>): [d2l.HostTensor, number] => {
  const s = 8;
  const dx = Math.floor(ctx.random() * 3) - 1;
  const dy = Math.floor(Math.random() * 3) - 1; // Math.random is the example's generator too
  const flip = ctx.random() < 0.5;
  const out = new Float32Array(s * s);
  for (let r = 0; r < s; r++) {
    for (let c = 0; c < s; c++) {
      const sr = r + dy;
      const sc0 = c + dx;
      const sc = flip ? s - 1 - sc0 : sc0;
      const v = sr >= 0 && sr < s && sc >= 0 && sc < s ? x[sr * s + sc] : 0;
      out[r * s + c] = (v / 255 - ctx.args.mean) / ctx.args.std;
    }
  }
  return [{ data: out, shape: [s, s, 1] }, y];
};

interface Batches {
  xs: number[][];
  ys: number[][];
  shapes: number[][];
  dtypes: string[];
}

async function collect(loader: AsyncIterable<[tf.Tensor, tf.Tensor]>): Promise<Batches> {
  const out: Batches = { xs: [], ys: [], shapes: [], dtypes: [] };
  for await (const [X, y] of loader) {
    out.xs.push(Array.from(X.dataSync()));
    out.ys.push(Array.from(y.dataSync()));
    out.shapes.push([...X.shape, -1, ...y.shape]);
    out.dtypes.push(`${X.dtype}/${y.dtype}`);
    tf.dispose([X, y]);
  }
  return out;
}

describe("a custom Dataset with the DataLoader", () => {
  test("a class with length and get(i) returning plain values: stacked per batch, PyTorch's shuffle/batchSize/dropLast", async () => {
    const ds = new Squares(10);
    const base = tf.memory().numTensors;
    const inOrder = await collect(new d2l.DataLoader(ds, { batchSize: 4 }));
    assert.deepEqual(inOrder.ys, [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    assert.deepEqual(inOrder.shapes, [
      [4, 64, -1, 4],
      [4, 64, -1, 4],
      [2, 64, -1, 2],
    ]);
    assert.deepEqual(inOrder.dtypes, ["float32/float32", "float32/float32", "float32/float32"], "bytes and numbers become float32, as TensorDataset.fromArrays");
    assert.deepEqual(inOrder.xs[0].slice(0, 3), [0, 7, 14]);
    const dropped = await collect(new d2l.DataLoader(ds, { batchSize: 4, dropLast: true }));
    assert.equal(dropped.ys.length, 2);
    const loader = new d2l.DataLoader(ds, { batchSize: 3, shuffle: true, seed: 4 });
    const e1 = (await collect(loader)).ys.flat();
    const e2 = (await collect(loader)).ys.flat();
    assert.deepEqual(
      [...e1].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.notDeepEqual(e1, e2, "a new order every epoch");
    assert.equal(tf.memory().numTensors, base);
  });

  test("every plain form: numbers, nested arrays, typed arrays, { data, shape, dtype }; Int32Array stays int32", async () => {
    const ds: d2l.Dataset<[d2l.ExampleValue, d2l.ExampleValue]> = {
      length: 4,
      get: (i) =>
        i % 2 === 0
          ? [
              [
                [i, 1],
                [2, 3],
              ],
              { data: Int32Array.of(i), shape: [1] },
            ]
          : [{ data: Float64Array.of(i, 1, 2, 3), shape: [2, 2] }, Int32Array.of(i)],
    };
    const b = await collect(new d2l.DataLoader(ds, { batchSize: 4 }));
    assert.deepEqual(b.shapes, [[4, 2, 2, -1, 4, 1]]);
    assert.deepEqual(b.dtypes, ["float32/int32"]);
    assert.deepEqual(b.ys, [[0, 1, 2, 3]]);
    assert.deepEqual(
      b.xs[0].filter((_, k) => k % 4 === 0),
      [0, 1, 2, 3],
    );
    const mixed = { length: 2, get: (i: number): [tf.Tensor, number] => [tf.tensor1d([i, i]), i] };
    const m = await collect(new d2l.DataLoader(mixed, { batchSize: 2 }));
    assert.deepEqual(m.shapes, [[2, 2, -1, 2]]);
  });

  test("collate (PyTorch's collate_fn) makes the batch from the examples", async () => {
    const ds = new Squares(5);
    const loader = new d2l.DataLoader(ds, {
      batchSize: 2,
      collate: (examples) => [
        tf.tensor1d(examples.map(([x]) => (x as Uint8Array)[0])),
        tf.tensor1d(
          examples.map(([, y]) => y as number),
          "int32",
        ),
      ],
    });
    const b = await collect(loader);
    assert.deepEqual(b.ys, [[0, 1], [2, 3], [4]]);
    assert.deepEqual(b.xs, [[0, 193], [130, 67], [4]]); // images[64 i] = 449 i mod 256
    assert.deepEqual(b.dtypes[0], "float32/int32");
  });

  test("datasets without length or get(i), bad examples and ragged batches are errors that say what to do", async () => {
    const mk = (ds: unknown): unknown => new d2l.DataLoader(ds as d2l.Dataset<[number, number]>, { batchSize: 2 });
    assert.throws(() => mk({ get: () => [1, 2] }), /needs a length \(the number of examples, PyTorch's __len__; got undefined\)/);
    assert.throws(() => mk({ length: 3 }), /needs a method get\(i\) returning example i as \[x, y\] \(PyTorch's __getitem__/);
    assert.throws(() => mk({}), /needs a length .* and a method get\(i\)/);
    assert.throws(() => mk(null), /expected a dataset with a length and get\(i\)/);
    const notPair = new d2l.DataLoader({ length: 2, get: () => 5 } as unknown as d2l.Dataset<[number, number]>, { batchSize: 2 });
    await assert.rejects(collect(notPair), /dataset.get\(0\) must return a pair \[x, y\].*got the number 5/);
    const ragged = new d2l.DataLoader({ length: 3, get: (i: number): [number[], number] => [new Array<number>(i === 2 ? 3 : 2).fill(1), i] }, { batchSize: 3 });
    await assert.rejects(collect(ragged), /example 2's x has shape \[3\] \(float32\), but example 0's has \[2\] \(float32\).*same shape/);
    const wrong = new d2l.DataLoader({ length: 1, get: (): [unknown, number] => [{ a: 1 }, 0] } as unknown as d2l.Dataset<[number, number]>, { batchSize: 1 });
    await assert.rejects(collect(wrong), /example 0's x is an object; expected a number, an array of numbers, a typed array, or \{ data, shape \}/);
    const badShape = new d2l.DataLoader({ length: 1, get: (): [d2l.HostTensor, number] => [{ data: new Float32Array(5), shape: [2, 2] }, 0] }, { batchSize: 1 });
    await assert.rejects(collect(badShape), /5 values, but shape \[2,2\] needs 4/);
  });
});

describe("preprocess and numWorkers", () => {
  const args = { mean: 0.5, std: 0.25 };

  test("numWorkers 0, 1 and 2 give the same batches, bit for bit and in order (random augmentation included)", async () => {
    const ds = new Squares(37);
    const runs: Batches[] = [];
    for (const numWorkers of [0, 1, 2]) {
      const loader = new d2l.DataLoader(ds, { batchSize: 5, shuffle: true, seed: 3, preprocess: augment, preprocessArgs: args, numWorkers });
      runs.push(await collect(loader));
      runs.push(await collect(loader)); // a second epoch: new order, new augmentation
    }
    assert.equal(runs[0].ys.length, 8);
    assert.deepEqual(runs[0].shapes[0], [5, 8, 8, 1, -1, 5]);
    assert.notDeepEqual(runs[0].xs, runs[1].xs);
    for (const r of runs.slice(2)) assert.deepEqual(r, runs[r === runs[3] || r === runs[5] ? 1 : 0]);
    const plain = await collect(new d2l.DataLoader(ds, { batchSize: 5, shuffle: true, seed: 3 }));
    assert.deepEqual(plain.ys, runs[0].ys, "preprocess does not change the order");
    assert.equal(preprocessWorkersAlive(), 0, "the workers ended with each epoch");
  });

  test("examples holding Node.js Buffers (readFashionMnist's bytes) go to the workers as plain bytes, without Buffer()'s deprecation warning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      const bytes = { length: 4, get: (i: number): [Buffer, number] => [Buffer.alloc(4, i), i] };
      const loader = new d2l.DataLoader(bytes, { batchSize: 2, preprocess: (x: Buffer, y: number): [Buffer, number] => [x, y], numWorkers: 1 });
      const xs: number[][] = [];
      for await (const [X, y] of loader) {
        xs.push(...((await X.array()) as number[][]));
        tf.dispose([X, y]);
      }
      assert.deepEqual(xs, [
        [0, 0, 0, 0],
        [1, 1, 1, 1],
        [2, 2, 2, 2],
        [3, 3, 3, 3],
      ]);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    assert.deepEqual(
      warnings.filter((w) => /Buffer\(\)/.test(w)),
      [],
    );
  });

  test("a transform runs after the workers; tensors from get(i) reach preprocess as { data, shape, dtype }", async () => {
    const X = tf.tensor3d(
      Array.from({ length: 6 * 4 }, (_, k) => k),
      [6, 2, 2],
    );
    const y = tf.tensor1d([0, 1, 2, 3, 4, 5], "int32");
    const seen: string[] = [];
    for (const numWorkers of [0, 2]) {
      const loader = new d2l.DataLoader(new d2l.TensorDataset(X, y), {
        batchSize: 4,
        numWorkers,
        preprocess: (x, label) => [{ data: Float32Array.from(x.data, (v) => v * 2), shape: [x.shape[0] * x.shape[1]] }, label],
        transform: (xb, yb) => [xb.add(1), yb],
      });
      const b = await collect(loader);
      assert.deepEqual(b.xs[0].slice(0, 5), [1, 3, 5, 7, 9]);
      assert.deepEqual(b.dtypes, ["float32/int32", "float32/int32"]);
      seen.push(JSON.stringify(b));
    }
    assert.equal(seen[0], seen[1]);
    tf.dispose([X, y]);
  });

  test("a preprocess that uses a variable from outside it fails the same way with and without workers, naming the variable and the rule", async () => {
    const scale = 2;
    for (const numWorkers of [0, 2]) {
      const loader = new d2l.DataLoader(new Squares(4), { batchSize: 2, numWorkers, preprocess: (x, y) => [Float32Array.from(x, (v) => v * scale), y] });
      await assert.rejects(collect(loader), (e: Error) => {
        assert.match(e.message, /preprocess failed on example 0: scale is not defined/);
        assert.match(e.message, /runs from its source text .* not the notebook's variables, imports, tf or d2l/);
        assert.match(e.message, /preprocessArgs/);
        if (numWorkers > 0) assert.match(e.message, /in worker 1 of 2/);
        return true;
      });
    }
    assert.equal(preprocessWorkersAlive(), 0);
  });

  test("an error in a worker reaches the user with the example's index; the workers end; the loader works again", async () => {
    const ds = new Squares(20);
    const loader = new d2l.DataLoader(ds, {
      batchSize: 4,
      numWorkers: 2,
      preprocess: (x, y, ctx) => {
        if (ctx.index === 13 && ctx.epoch === 0) throw new RangeError("bad pixel");
        return [x, y];
      },
    });
    const base = tf.memory().numTensors;
    await assert.rejects(collect(loader), /preprocess failed on example 13: bad pixel \(in worker 2 of 2\)/);
    assert.equal(preprocessWorkersAlive(), 0);
    assert.equal(tf.memory().numTensors, base);
    const again = await collect(loader); // epoch 1: no error
    assert.equal(again.ys.flat().length, 20);
    // a worker that dies (here: exits) fails the epoch instead of hanging it
    const dying = new d2l.DataLoader(ds, {
      batchSize: 2,
      numWorkers: 2,
      preprocess: (x, y, ctx) => {
        if (ctx.index === 5) process.exit(7);
        return [x, y];
      },
    });
    await assert.rejects(collect(dying), /preprocessing worker \d failed: worker \d stopped \(exit code 7\)/);
    assert.equal(preprocessWorkersAlive(), 0);
  });

  test("breaking out of the loop, or returning from a half-read iterator (as an interrupt does), ends the workers without leaking tensors", async () => {
    const loader = new d2l.DataLoader(new Squares(40), { batchSize: 4, numWorkers: 2, preprocess: augment, preprocessArgs: args });
    const base = tf.memory().numTensors;
    for await (const [X, y] of loader) {
      tf.dispose([X, y]);
      assert.equal(preprocessWorkersAlive(), 2);
      break;
    }
    assert.equal(preprocessWorkersAlive(), 0);
    const it = loader[Symbol.asyncIterator]();
    const first = await it.next();
    tf.dispose(first.value as tf.Tensor[]);
    await it.return(undefined);
    assert.equal(preprocessWorkersAlive(), 0);
    assert.equal(tf.memory().numTensors, base);
  });

  test("persistentWorkers keeps the workers between complete epochs (same batches); a break or dispose() ends them", async () => {
    const ds = new Squares(24);
    const opts = { batchSize: 5, shuffle: true, seed: 9, preprocess: augment, preprocessArgs: args, numWorkers: 2 };
    const fresh = new d2l.DataLoader(ds, opts);
    const kept = new d2l.DataLoader(ds, { ...opts, persistentWorkers: true });
    for (let e = 0; e < 3; e++) {
      assert.deepEqual(await collect(kept), await collect(fresh));
      assert.equal(preprocessWorkersAlive(), 2, "kept after a complete epoch");
    }
    for await (const b of kept) {
      tf.dispose(b);
      break;
    }
    assert.equal(preprocessWorkersAlive(), 0, "a break ends them");
    await collect(kept);
    assert.equal(preprocessWorkersAlive(), 2, "the next epoch starts new ones");
    kept.dispose();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(preprocessWorkersAlive(), 0, "dispose() ends them");
  });

  test("no hanging process: a script that breaks out of, or abandons, an epoch with workers, or keeps persistent workers, exits at once", () => {
    const index = path.resolve(__dirname, "../../lib/index.js");
    const tfPath = require.resolve("@tensorflow/tfjs");
    const script = `
      const tf = require(${JSON.stringify(tfPath)});
      const d2l = require(${JSON.stringify(index)});
      (async () => {
        await tf.setBackend("cpu");
        const ds = { length: 64, get: (i) => [new Float32Array(16).fill(i), i] };
        const loader = new d2l.DataLoader(ds, { batchSize: 4, numWorkers: 2, preprocess: (x, y) => [x, y] });
        for await (const b of loader) { tf.dispose(b); break; }
        const kept = new d2l.DataLoader(ds, { batchSize: 4, numWorkers: 2, persistentWorkers: true, preprocess: (x, y) => [x, y] });
        for await (const b of kept) tf.dispose(b); // complete: its workers stay, idle, never disposed
        const it = loader[Symbol.asyncIterator]();
        tf.dispose((await it.next()).value); // abandoned mid-epoch, never returned
        console.log("done");
      })();`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 30000 });
    assert.equal(r.signal, null, "the process did not exit by itself");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /done/);
  });

  test("preprocess may be written as a method; numWorkers without preprocess starts nothing", async () => {
    const loader = new d2l.DataLoader(new Squares(3), {
      batchSize: 3,
      numWorkers: 1,
      preprocess(x, y) {
        return [x.length, y * 10];
      },
    });
    assert.deepEqual((await collect(loader)).xs, [[64, 64, 64]]);
    assert.equal(String(loader), "DataLoader(3 examples, batch size 3, 1 batches, preprocess in 1 worker)");
    const noWork = new d2l.DataLoader(new Squares(3), { batchSize: 3, numWorkers: 2 });
    assert.deepEqual((await collect(noWork)).ys, [[0, 1, 2]]);
  });

  test("bad options are errors that say what was expected", async () => {
    const ds = new Squares(4);
    assert.throws(() => new d2l.DataLoader(ds, { batchSize: 2, numWorkers: -1 }), /numWorkers must be a whole number/);
    assert.throws(() => new d2l.DataLoader(ds, { batchSize: 2, numWorkers: 1.5 }), /numWorkers/);
    assert.throws(() => new d2l.DataLoader(ds, { batchSize: 2, prefetchFactor: 0 }), /prefetchFactor must be a positive integer/);
    const bogus = { batchSize: 2, preprocess: 3 } as unknown as d2l.DataLoaderOptions<[Uint8Array, number]>;
    assert.throws(() => new d2l.DataLoader(ds, bogus), /preprocess must be a function/);
    const native = { batchSize: 2, preprocess: Math.max } as unknown as d2l.DataLoaderOptions<[Uint8Array, number]>;
    assert.throws(() => new d2l.DataLoader(ds, native), /built-in or bound function/);
    const asyncFn = { batchSize: 2, preprocess: async (x: Uint8Array, y: number) => [x, y] } as unknown as d2l.DataLoaderOptions<[Uint8Array, number]>;
    assert.throws(() => new d2l.DataLoader(ds, asyncFn), /not async/);
    assert.throws(() => new d2l.DataLoader(ds, { batchSize: 2, preprocess: (x, y) => [x, y], preprocessArgs: { f: () => 1 } }), /preprocessArgs must be copyable/);
    assert.throws(() => new d2l.DataLoader(ds, { batchSize: 2, preprocessArgs: { a: 1 } }), /preprocessArgs is given without preprocess/);
    const notPair = new d2l.DataLoader(ds, { batchSize: 2, preprocess: ((x: Uint8Array) => x) as unknown as (x: Uint8Array, y: number) => [Uint8Array, number] });
    await assert.rejects(collect(notPair), /preprocess must return a pair \[x, y\], but on example 0 it returned a Uint8Array/);
  });
});

describe("in a notebook (cells through the kernel's executor)", () => {
  test("a dataset class and a preprocess written in cells work with numWorkers 0 and 2; a variable of another cell is named in the error", async () => {
    // Last in this file: the executor wraps the global timers for good.
    const { Executor } = await import("../../kernel/executor");
    const ex = new Executor(path.resolve(__dirname));
    let cell = 0;
    const run = async (src: string): Promise<unknown> => {
      const r = await ex.execute(src, ++cell);
      assert.equal(r.status, "ok", JSON.stringify(r));
      return (r as { value?: unknown }).value;
    };
    try {
      await run(`import * as tf from "@tensorflow/tfjs";\nimport * as d2l from ${JSON.stringify(path.resolve(__dirname, "../../lib/index"))};\nawait tf.setBackend("cpu");`);
      await run(`class Glyphs implements d2l.Dataset<[d2l.HostTensor, number]> {
  constructor(readonly n: number) {}
  get length() { return this.n; }
  get(i: number): [d2l.HostTensor, number] {
    const data = new Uint8Array(16).map((_, k) => (i * 16 + k) % 256);
    return [{ data, shape: [4, 4, 1] }, i % 3];
  }
}
const glyphs = new Glyphs(10);`);
      const same = await run(`const batches: number[][] = [];
for (const numWorkers of [0, 2]) {
  const loader = new d2l.DataLoader(glyphs, {
    batchSize: 4, shuffle: true, seed: 1, numWorkers, preprocessArgs: { scale: 1 / 255 },
    preprocess: (x, y, ctx: d2l.PreprocessContext<{ scale: number }>) => {
      const [h, w] = x.shape;
      const { scale } = ctx.args;
      return [{ data: Float32Array.from(x.data, (v) => v * scale + ctx.random()), shape: [h * w] }, y];
    },
  });
  const flat: number[] = [];
  for await (const [X, y] of loader) { flat.push(...X.dataSync(), ...y.dataSync()); tf.dispose([X, y]); }
  batches.push(flat);
}
[JSON.stringify(batches[0]) === JSON.stringify(batches[1]), batches[0].length]`);
      assert.deepEqual(same, [true, 170]);
      await run("const scale = 2;");
      const message = await run(`let message = "";
try {
  const loader = new d2l.DataLoader(glyphs, { batchSize: 4, numWorkers: 2, preprocess: (x, y) => [x.data.map((v) => v * scale), y] });
  for await (const b of loader) tf.dispose(b);
} catch (e) { message = (e as Error).message; }
message`);
      assert.match(String(message), /preprocess failed on example 0: it uses `scale` from another notebook cell .*runs from its source text.*preprocessArgs.*\(in worker 1 of 2\)/);
    } finally {
      ex.converter.close();
    }
  });
});
