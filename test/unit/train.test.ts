// Tests of lib/train: the book's chapter-3 helpers and the training engine (cpu backend, tiny synthetic data).
import { test, describe, before, afterEach, mock } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/train/index";
import { InterruptedError } from "../../lib/interrupt";
import type { TrainState } from "../../lib/train/engine";

// ---- helpers: tiny deterministic data and iterators ----

/** A small linear congruential generator: deterministic numbers in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Three well-separated 2-D Gaussian blobs: `n` examples per class. */
function blobs(n: number, seed = 1): { X: number[][]; y: number[] } {
  const rand = lcg(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const centers = [
    [0, 3],
    [3, -2],
    [-3, -2],
  ];
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      X.push([centers[c][0] + 0.7 * gauss(), centers[c][1] + 0.7 * gauss()]);
      y.push(c);
    }
  }
  return { X, y };
}

/** A re-iterable async data iterator over arrays, like a DataLoader (no shuffling). */
class ArrayIter {
  readonly numExamples: number;
  readonly numBatches: number | undefined;
  /** How many times iteration started (epochs). */
  epochs = 0;
  constructor(
    private readonly X: number[][],
    private readonly y: number[],
    readonly batchSize: number,
    private readonly opts: {
      hideNumBatches?: boolean;
      /** Put a NaN into X of this (1-based) epoch and batch. */
      poison?: { epoch: number; batch: number };
      /** Reshape X batches to this per-example shape. */
      exampleShape?: number[];
    } = {},
  ) {
    this.numExamples = X.length;
    this.numBatches = opts.hideNumBatches ? undefined : Math.ceil(X.length / batchSize);
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<[tf.Tensor, tf.Tensor]> {
    this.epochs++;
    let b = 0;
    for (let i = 0; i < this.X.length; i += this.batchSize) {
      b++;
      const rows = this.X.slice(i, i + this.batchSize).map((r) => [...r]);
      if (this.opts.poison && this.opts.poison.epoch === this.epochs && this.opts.poison.batch === b) rows[0][0] = NaN;
      let X: tf.Tensor = tf.tensor2d(rows);
      if (this.opts.exampleShape) {
        const r = X.reshape([rows.length, ...this.opts.exampleShape]);
        X.dispose();
        X = r;
      }
      yield [X, tf.tensor1d(this.y.slice(i, i + this.batchSize), "int32")];
      await Promise.resolve();
    }
  }
}

/** Values of variables, as plain arrays (a snapshot). */
function snapshot(vars: tf.Variable[]): number[][] {
  return vars.map((v) => Array.from(v.dataSync()));
}

const KERNEL = Symbol.for("d2l-ts.kernel");
const g = globalThis as Record<symbol, unknown>;

/** Softmax regression from scratch on 2-D inputs, 3 classes. */
function scratchModel(): { W: tf.Variable; b: tf.Variable; net: (X: tf.Tensor) => tf.Tensor; dispose: () => void } {
  const W = tf.variable(tf.randomNormal([2, 3], 0, 0.01, "float32", 7));
  const b = tf.variable(tf.zeros([3]));
  const net = (X: tf.Tensor): tf.Tensor => d2l.softmax(tf.add(tf.matMul(tf.reshape(X, [-1, 2]), W), b));
  return { W, b, net, dispose: () => (W.dispose(), b.dispose()) };
}

function layersModel(): tf.Sequential {
  return tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], kernelInitializer: "zeros" })] });
}

/** Per-example softmax cross-entropy on logits (for the LayersModel path). */
const logitsLoss = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(y, "int32"), 3), yHat, undefined, undefined, tf.Reduction.NONE);

function quiet(): void {
  mock.method(console, "log", () => {});
}

before(async () => {
  await tf.setBackend("cpu");
});

afterEach(() => {
  mock.restoreAll();
  delete g[KERNEL];
  tf.disposeVariables();
});

const train = blobs(100, 1); // 300 examples
const testSet = blobs(40, 2); // 120 examples

describe("Accumulator and Timer", () => {
  test("Accumulator sums, reads, resets", () => {
    const m = new d2l.Accumulator(3);
    m.add(2.5, 7, 10);
    m.add(1.5, 9, 10);
    assert.equal(m.get(0), 4);
    assert.equal(m.get(1), 16);
    assert.equal(m.at(-1), 20);
    assert.equal(m.at(1), 16);
    assert.deepEqual(m.toArray(), [4, 16, 20]);
    assert.equal(m.length, 3);
    m.reset();
    assert.deepEqual(m.toArray(), [0, 0, 0]);
    assert.throws(() => m.add(1, 2), /expects 3 numbers, got 2/);
    assert.throws(() => m.get(3), /out of range; expected 0\.\.2/);
    assert.throws(() => new d2l.Accumulator(0), /positive integer/);
  });

  test("Timer records times; sum, avg and cumsum agree", async () => {
    const t = new d2l.Timer();
    await new Promise((r) => setTimeout(r, 15));
    const first = t.stop();
    assert.ok(first >= 0.01 && first < 5, `first interval ${first}`);
    t.start();
    const second = t.stop();
    assert.ok(second >= 0 && second < first);
    assert.deepEqual(t.times, [first, second]);
    assert.equal(t.sum(), first + second);
    assert.equal(t.avg(), (first + second) / 2);
    assert.deepEqual(t.cumsum(), [first, first + second]);
    assert.ok(Number.isNaN(new d2l.Timer().avg()));
  });
});

describe("from-scratch helpers", () => {
  test("softmax: rows are probabilities with the right values", () => {
    const X = tf.tensor2d([
      [1, 2, 3],
      [0, 0, Math.log(2)],
    ]);
    const P = d2l.softmax(X);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0] + e[1] + e[2];
    const got = P.arraySync() as number[][];
    got[0].forEach((v, i) => assert.ok(Math.abs(v - e[i] / s) < 1e-6));
    assert.ok(Math.abs(got[1][0] - 0.25) < 1e-6 && Math.abs(got[1][2] - 0.5) < 1e-6);
    assert.throws(() => d2l.softmax(tf.tensor1d([1, 2])), /matrix \[examples, classes\], got shape \[2\]/);
    tf.dispose([X, P]);
  });

  test("crossEntropy and accuracy on the book's example", async () => {
    const y = tf.tensor1d([0, 2], "int32");
    const yHat = tf.tensor2d([
      [0.1, 0.3, 0.6],
      [0.3, 0.2, 0.5],
    ]);
    const l = d2l.crossEntropy(yHat, y);
    const v = Array.from(l.dataSync());
    assert.ok(Math.abs(v[0] - -Math.log(0.1)) < 1e-5 && Math.abs(v[1] - -Math.log(0.5)) < 1e-5, `got ${v}`);
    assert.equal(await d2l.accuracy(yHat, y), 1); // the book: accuracy(y_hat, y) / len(y) = 0.5
    // float labels are cast
    const yf = tf.tensor1d([2, 2]);
    assert.equal(await d2l.accuracy(yHat, yf), 2);
    assert.throws(() => d2l.crossEntropy(yHat, tf.tensor1d([0, 1, 2], "int32")), /yHat has shape \[2,3\] but y has shape \[3\]/);
    assert.throws(() => d2l.crossEntropy(yHat, tf.oneHot(y, 3)), /looks one-hot/);
    tf.dispose([y, yHat, l, yf]);
  });

  test("linreg and squaredLoss", () => {
    const X = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const w = tf.tensor2d([[1], [-1]]);
    const b = tf.scalar(0.5);
    const yHat = d2l.linreg(X, w, b);
    assert.deepEqual(yHat.arraySync(), [[-0.5], [-0.5]]);
    const l = d2l.squaredLoss(yHat, tf.tensor1d([0.5, -0.5]));
    assert.deepEqual(l.shape, [2, 1]);
    assert.deepEqual(l.arraySync(), [[0.5], [0]]);
    assert.throws(() => d2l.linreg(X, tf.ones([3, 1]), b), /X of shape \[n, d\] and w of shape \[d, 1\]; got X \[2,2\] and w \[3,1\]/);
    tf.dispose([X, w, b, yHat, l]);
  });

  test("sgd with given gradients, and with the gradients backward() stored", () => {
    const w = tf.variable(tf.tensor1d([1, 2]));
    const grad = tf.tensor1d([4, 8]);
    d2l.sgd([w], [grad], 0.5, 2); // w -= 0.5 * g / 2
    assert.deepEqual(Array.from(w.dataSync()), [0, 0]);
    d2l.sgd([w], { [w.name]: grad }, 1, 4);
    assert.deepEqual(Array.from(w.dataSync()), [-1, -2]);
    assert.equal(grad.isDisposed, false, "given gradients stay the caller's");

    // the book's form: l.sum().backward(); sgd(params, lr, batchSize)
    const X = tf.tensor2d([[1], [2]]);
    const y = tf.tensor1d([0, 0]);
    const v = tf.variable(tf.ones([1, 1]));
    const bias = tf.variable(tf.zeros([1]));
    const before = tf.memory().numTensors;
    d2l.backward(() => tf.sum(d2l.squaredLoss(d2l.linreg(X, v, bias), y)), [v, bias]); // loss (1² + 2²) / 2
    d2l.sgd([v, bias], 0.1, 2); // dL/dv = 1*1 + 2*2 = 5, dL/db = 3
    assert.ok(Math.abs(v.dataSync()[0] - (1 - 0.25)) < 1e-6);
    assert.ok(Math.abs(bias.dataSync()[0] - -0.15) < 1e-6);
    // gradients add up until sgd uses them, as in PyTorch
    d2l.backward(() => tf.sum(d2l.linreg(X, v, bias)), [v, bias]); // d/dv = 3, d/db = 2
    d2l.backward(() => tf.sum(d2l.linreg(X, v, bias)), [v, bias]);
    d2l.sgd([v, bias], 1, 1);
    assert.ok(Math.abs(v.dataSync()[0] - (0.75 - 6)) < 1e-5);
    assert.ok(Math.abs(bias.dataSync()[0] - (-0.15 - 4)) < 1e-5);
    assert.throws(() => d2l.sgd([v, bias], 0.1, 2), /has no gradient; compute one first with d2l.backward/);
    assert.equal(tf.memory().numTensors, before, "backward + sgd leave no tensors");
    tf.dispose([X, y, w, grad]);
  });

  test("evaluateAccuracy and evaluateLoss", async () => {
    // A fixed net: predicts class 0 when x0 > 0, else class 1.
    const net = (X: tf.Tensor): tf.Tensor => tf.tidy(() => tf.concat([X.slice([0, 0], [-1, 1]), tf.zerosLike(X.slice([0, 0], [-1, 1]))], 1));
    const X = [
      [1, 0],
      [2, 0],
      [-1, 0],
      [-3, 0],
      [5, 0],
    ];
    const y = [0, 0, 0, 1, 1]; // correct: 1, 2, 4 -> 3 of 5
    const before = tf.memory().numTensors;
    const acc = await d2l.evaluateAccuracy(net, new ArrayIter(X, y, 2));
    assert.equal(acc, 3 / 5);
    const sq = (yHat: tf.Tensor, yy: tf.Tensor): tf.Tensor => tf.sum(tf.square(tf.sub(yHat, tf.expandDims(tf.cast(yy, "float32"), 1))), 1);
    const mean = await d2l.evaluateLoss(net, new ArrayIter(X, y, 2), sq);
    // per example: (x - y)² + y²
    const want = X.map((r, i) => (r[0] - y[i]) ** 2 + y[i] ** 2).reduce((a, b) => a + b, 0) / 5;
    assert.ok(Math.abs(mean - want) < 1e-5, `${mean} vs ${want}`);
    assert.equal(tf.memory().numTensors, before);
    await assert.rejects(d2l.evaluateAccuracy(net, new ArrayIter([], [], 2)), /yielded no batches/);
  });
});

describe("the training engine", () => {
  test("from scratch: function net + the book's sgd updater learns a separable problem", async () => {
    quiet();
    const m = scratchModel();
    const updater = (batchSize: number): void => d2l.sgd([m.W, m.b], 0.1, batchSize);
    const r = await d2l.trainCh3(m.net, new ArrayIter(train.X, train.y, 20), new ArrayIter(testSet.X, testSet.y, 32), d2l.crossEntropy, 5, updater, {
      animator: false,
      progress: false,
    });
    assert.ok(r.trainAcc > 0.9, `train acc ${r.trainAcc}`);
    assert.ok(r.testAcc > 0.9, `test acc ${r.testAcc}`);
    assert.ok(r.trainLoss < 0.5, `train loss ${r.trainLoss}`);
    assert.ok(r.examplesPerSec > 0 && Number.isFinite(r.examplesPerSec));
  });

  test("LayersModel + tf.train.sgd learns it too; trainEpochCh3 returns [loss, acc]", async () => {
    quiet();
    const net = layersModel();
    const opt = tf.train.sgd(0.1);
    const trainIter = new ArrayIter(train.X, train.y, 20);
    const [l1, a1] = await d2l.trainEpochCh3(net, trainIter, logitsLoss, opt);
    assert.ok(l1 < Math.log(3) && a1 > 0.5, `first epoch: loss ${l1}, acc ${a1}`);
    const r = await d2l.trainCh3(net, trainIter, new ArrayIter(testSet.X, testSet.y, 32), logitsLoss, 3, opt, { animator: false, progress: false });
    assert.ok(r.trainAcc > 0.9 && r.testAcc > 0.9, `acc ${r.trainAcc} / ${r.testAcc}`);
    assert.ok(r.trainLoss < l1);
    // the model's own weights moved (the engine trained the model's trainable weights)
    const kernel = net.trainableWeights[0].read().dataSync();
    assert.ok(kernel.some((v) => v !== 0));
    opt.dispose();
    net.dispose();
  });

  test("tf.train.adam on a function net trains the variables the net uses", async () => {
    quiet();
    const m = scratchModel();
    const other = tf.variable(tf.ones([2]), true, "unrelated"); // trainable, but not in the net: must stay
    const opt = tf.train.adam(0.05);
    const r = await d2l.trainCh3(m.net, new ArrayIter(train.X, train.y, 20), new ArrayIter(testSet.X, testSet.y, 32), d2l.crossEntropy, 3, opt, {
      animator: false,
      progress: false,
    });
    assert.ok(r.testAcc > 0.9, `test acc ${r.testAcc}`);
    assert.deepEqual(Array.from(other.dataSync()), [1, 1]);
    opt.dispose();
  });

  test("trainCh3 prints the book's two lines and feeds the animator and the progress bar", async () => {
    const logs: string[] = [];
    mock.method(console, "log", (...a: unknown[]) => void logs.push(a.join(" ")));
    const points: { x: number; ys: (number | null)[] }[] = [];
    let finished = 0;
    const animator: d2l.AnimatorLike = { add: (x, ys) => void points.push({ x, ys }), finish: () => void finished++ };
    const bars: { total: number; unit: string; updates: number[]; closed?: string }[] = [];
    const progress = (total: number, unit: string): d2l.ProgressBarLike => {
      const bar: { total: number; unit: string; updates: number[]; closed?: string } = { total, unit, updates: [] };
      bars.push(bar);
      return { update: (done) => void bar.updates.push(done), close: (text) => void (bar.closed = text) };
    };
    const m = scratchModel();
    const r = await d2l.trainCh3(m.net, new ArrayIter(train.X, train.y, 20), new ArrayIter(testSet.X, testSet.y, 32), d2l.crossEntropy, 2, (n) => d2l.sgd([m.W, m.b], 0.1, n), {
      animator,
      progress,
    });
    assert.equal(logs.length, 1);
    const [line1, line2] = logs[0].split("\n");
    assert.equal(line1, `loss ${r.trainLoss.toFixed(3)}, train acc ${r.trainAcc.toFixed(3)}, test acc ${r.testAcc.toFixed(3)}`);
    assert.match(line2, /^\d+\.\d examples\/sec on cpu$/);
    // 15 batches per epoch, 5 points per epoch: fractional points at 3, 6, 9, 12 batches, then the epoch end with test acc.
    const xs = points.map((p) => Number(p.x.toFixed(4)));
    assert.deepEqual(xs, [0.2, 0.4, 0.6, 0.8, 1, 1.2, 1.4, 1.6, 1.8, 2]);
    assert.equal(points[0].ys[2], null);
    assert.equal(typeof points[4].ys[2], "number", "test acc at the end of epoch 1");
    assert.ok(typeof points[9].ys[2] === "number" && Math.abs((points[9].ys[2] as number) - r.testAcc) < 1e-12);
    assert.ok(Math.abs((points[9].ys[0] as number) - r.trainLoss) < 1e-12);
    assert.equal(finished, 1);
    assert.equal(bars.length, 1);
    assert.equal(bars[0].total, 600, "2 epochs of 300 examples");
    assert.equal(bars[0].unit, "examples");
    assert.equal(bars[0].updates.at(-1), 600);
    assert.match(bars[0].closed ?? "", /^2 epochs in/);
  });

  test("an animator whose finish() is async is awaited: training ends after the final plot is shown", async () => {
    quiet();
    const events: string[] = [];
    const animator: d2l.AnimatorLike = {
      add: () => void 0,
      finish: async () => {
        await new Promise((r) => setTimeout(r, 30));
        events.push("final plot shown");
      },
    };
    const m = scratchModel();
    await d2l.trainCh3(m.net, new ArrayIter(train.X, train.y, 50), new ArrayIter(testSet.X, testSet.y, 60), d2l.crossEntropy, 1, (n) => d2l.sgd([m.W, m.b], 0.1, n), {
      animator,
      progress: false,
      verbose: false,
    });
    events.push("trainCh3 resolved");
    assert.deepEqual(events, ["final plot shown", "trainCh3 resolved"]);
    m.dispose();
  });

  test("tf.memory().numTensors is the same after epoch 1 and after epoch 5, both paths", async () => {
    quiet();
    for (const kind of ["scratch", "layers"] as const) {
      const counts: number[] = [];
      const probe: d2l.Callback = { onEpochEnd: () => void counts.push(tf.memory().numTensors) };
      const trainIter = new ArrayIter(train.X, train.y, 20);
      const testIter = new ArrayIter(testSet.X, testSet.y, 32);
      if (kind === "scratch") {
        const m = scratchModel();
        await d2l.trainCh3(m.net, trainIter, testIter, d2l.crossEntropy, 5, (n) => d2l.sgd([m.W, m.b], 0.1, n), {
          animator: false,
          progress: false,
          callbacks: [probe],
        });
      } else {
        const net = layersModel();
        const opt = tf.train.adam(0.01); // with slots: made in the first step, then reused
        await d2l.trainCh3(net, trainIter, testIter, logitsLoss, 5, opt, { animator: false, progress: false, callbacks: [probe] });
        opt.dispose();
        net.dispose();
      }
      assert.equal(counts.length, 5);
      assert.equal(counts[4], counts[0], `${kind}: tensors per epoch ${counts.join(", ")}`);
    }
  });

  test("one asynchronous read per epoch (not per batch), none synchronous (webgpu in Node cannot read synchronously)", async () => {
    quiet();
    const backend = tf.backend() as unknown as Record<string, unknown>;
    const read = backend.read as (id: object) => Promise<unknown>;
    const readSync = backend.readSync as (id: object) => unknown;
    let reads = 0;
    let inRead = false; // the cpu backend's read() uses readSync inside
    backend.readSync = function (this: unknown, id: object): unknown {
      if (!inRead) throw new Error("a synchronous read");
      return readSync.call(this, id);
    };
    backend.read = function (this: unknown, id: object): Promise<unknown> {
      reads++;
      inRead = true;
      try {
        return read.call(this, id);
      } finally {
        inRead = false;
      }
    };
    try {
      for (const kind of ["scratch", "layers"] as const) {
        reads = 0;
        const trainIter = new ArrayIter(train.X, train.y, 20);
        const testIter = new ArrayIter(testSet.X, testSet.y, 32);
        if (kind === "scratch") {
          const m = scratchModel();
          await d2l.trainCh3(m.net, trainIter, testIter, d2l.crossEntropy, 2, (n) => d2l.sgd([m.W, m.b], 0.1, n), { animator: false, progress: false });
        } else {
          const net = layersModel();
          const opt = tf.train.sgd(0.1);
          await d2l.trainCh3(net, trainIter, testIter, logitsLoss, 2, opt, { animator: false, progress: false });
          opt.dispose();
          net.dispose();
        }
        assert.equal(reads, 2 + 2, `${kind}: one read per epoch (of 15 batches) and one per evaluation`);
      }
    } finally {
      delete backend.readSync;
      delete backend.read;
    }
  });

  test("an iterator without numBatches works; the engine counts batches in epoch 1", async () => {
    quiet();
    const m = scratchModel();
    const seen: (number | undefined)[] = [];
    const r = await new d2l.Engine({ net: m.net, loss: d2l.crossEntropy, updater: (n) => d2l.sgd([m.W, m.b], 0.1, n) }).fit(
      new ArrayIter(train.X, train.y, 40, { hideNumBatches: true }),
      { numEpochs: 2, callbacks: [{ onEpochBegin: (s) => void seen.push(s.numBatches) }] },
    );
    assert.deepEqual(seen, [undefined, 8]);
    assert.equal(r.history.length, 2);
    assert.equal(r.history[1].examples, 300);
    assert.equal(r.testAcc, undefined);
  });

  test("stopTraining from a callback ends training after that batch", async () => {
    const m = scratchModel();
    const r = await d2l.fit({
      net: m.net,
      loss: d2l.crossEntropy,
      updater: (n) => d2l.sgd([m.W, m.b], 0.1, n),
      trainIter: new ArrayIter(train.X, train.y, 20),
      numEpochs: 5,
      callbacks: [{ onBatchEnd: (s: TrainState) => void (s.epoch === 1 && s.batch === 2 && (s.stopTraining = true)) }],
    });
    assert.equal(r.history.length, 2);
    assert.equal(r.history[1].examples, 60);
  });
});

describe("interrupts", () => {
  function fakeKernel(): () => void {
    let gen = 0;
    g[KERNEL] = { generation: (): number => gen };
    return () => void gen++;
  }

  for (const when of ["onBatchEnd", "onBatchBegin"] as const) {
    test(`an interrupt during a batch (${when}) stops after that batch's update, keeping its weights`, async () => {
      const logs: string[] = [];
      mock.method(console, "log", (...a: unknown[]) => void logs.push(a.join(" ")));
      const interrupt = fakeKernel();
      const m = scratchModel();
      let atStop: number[][] = [];
      let batchesRun = 0;
      const cb: d2l.Callback = {
        [when]: (s: TrainState) => {
          if (s.epoch === 1 && s.batch === 2) interrupt();
        },
        onBatchEnd: (s: TrainState) => {
          batchesRun++;
          if (when === "onBatchEnd" && s.epoch === 1 && s.batch === 2) interrupt();
          atStop = snapshot([m.W, m.b]);
        },
      };
      const before = tf.memory().numTensors;
      await assert.rejects(
        d2l.trainCh3(m.net, new ArrayIter(train.X, train.y, 20), new ArrayIter(testSet.X, testSet.y, 32), d2l.crossEntropy, 5, (n) => d2l.sgd([m.W, m.b], 0.1, n), {
          animator: false,
          progress: false,
          callbacks: [cb],
        }),
        (e: unknown) => {
          assert.ok(e instanceof InterruptedError, `got ${String(e)}`);
          assert.match((e as Error).message, /training stopped after epoch 2, batch 3; the model keeps the weights of that batch/);
          return true;
        },
      );
      assert.equal(batchesRun, 15 + 3);
      assert.deepEqual(snapshot([m.W, m.b]), atStop, "the weights are those after the interrupted batch");
      assert.ok(logs.includes("interrupted at epoch 2, batch 3"), `printed: ${JSON.stringify(logs)}`);
      assert.ok(!logs.some((l) => l.startsWith("loss ")), "no summary after an interrupt");
      assert.equal(tf.memory().numTensors, before, "no tensors left behind");
    });
  }

  test("without a kernel nothing is interrupted", async () => {
    quiet();
    const m = scratchModel();
    const [loss] = await d2l.trainEpochCh3(m.net, new ArrayIter(train.X, train.y, 50), d2l.crossEntropy, (n) => d2l.sgd([m.W, m.b], 0.1, n));
    assert.ok(Number.isFinite(loss));
  });
});

describe("bad input gets clear errors", () => {
  test("net output not fitting the labels names both shapes", async () => {
    const W = tf.variable(tf.zeros([2, 10]));
    // wrong reshape: [20, 2, 2] flattened as [-1, 2] gives 40 rows for 20 labels
    const net = (X: tf.Tensor): tf.Tensor => tf.matMul(tf.reshape(X, [-1, 2]), W);
    const before = tf.memory().numTensors;
    const rows = train.X.map((r) => [...r, ...r]);
    await assert.rejects(
      d2l.trainEpochCh3(net, new ArrayIter(rows, train.y, 20, { exampleShape: [2, 2] }), d2l.crossEntropy, (n) => d2l.sgd([W], 0.1, n)),
      /the net's output has shape \[40,10\] but the labels y have shape \[20\]/,
    );
    assert.equal(tf.memory().numTensors, before, "a failed batch leaves no tensors");
  });

  test("X of the wrong rank for a LayersModel names the expected and the given input shapes", async () => {
    const net = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
    const rows = train.X.map((r) => [...r, ...r]);
    const opt = tf.train.sgd(0.1);
    await assert.rejects(
      d2l.trainEpochCh3(net, new ArrayIter(rows, train.y, 20, { exampleShape: [2, 2] }), logitsLoss, opt),
      /the model expects input of shape \[null,4\] \(null: any size\) but the data iterator gave X of shape \[20,2,2\]; start the model with tf.layers.flatten\(\{ inputShape: \[2,2\] \}\)/,
    );
    await assert.rejects(d2l.evaluateAccuracy(net, new ArrayIter(rows, train.y, 20, { exampleShape: [2, 2] })), /expects input of shape \[null,4\]/);
    net.dispose();
    opt.dispose();
  });

  test("with readEvery: 1 a NaN loss names the epoch and batch and keeps the weights of the last good batch", async () => {
    quiet();
    const m = scratchModel();
    let lastGood: number[][] = [];
    let ended: unknown;
    const cb: d2l.Callback = {
      onBatchEnd: () => void (lastGood = snapshot([m.W, m.b])),
      onTrainEnd: (s: TrainState) => void (ended = s.error),
    };
    await assert.rejects(
      new d2l.Engine({ net: m.net, loss: d2l.crossEntropy, updater: (n) => d2l.sgd([m.W, m.b], 0.1, n), readEvery: 1 }).fit(
        new ArrayIter(train.X, train.y, 20, { poison: { epoch: 3, batch: 5 } }),
        { numEpochs: 5, callbacks: [cb] },
      ),
      /loss became NaN at epoch 3, batch 5; lower the learning rate .* keeps the weights it had after batch 4 of epoch 3/,
    );
    assert.ok(ended instanceof Error, "onTrainEnd sees the error");
    assert.deepEqual(snapshot([m.W, m.b]), lastGood);
    assert.ok(lastGood[0].every(Number.isFinite));
  });

  test("by default the loss is read at epoch ends; a NaN puts back the weights and the optimizer state of the last read", async () => {
    quiet();
    const m = scratchModel();
    const opt = tf.train.momentum(0.1, 0.9);
    let atEpochEnd: number[][] = [];
    let reads = 0;
    const cb: d2l.Callback = {
      onValues: () => void reads++,
      onEpochEnd: () => void (atEpochEnd = snapshot([m.W, m.b])),
    };
    const before = tf.memory().numTensors;
    await assert.rejects(
      new d2l.Engine({ net: m.net, loss: d2l.crossEntropy, updater: opt, params: [m.W, m.b] }).fit(new ArrayIter(train.X, train.y, 20, { poison: { epoch: 3, batch: 5 } }), {
        numEpochs: 5,
        callbacks: [cb],
      }),
      /loss became NaN at epoch 3, in batches 1-15 \(pass readEvery: 1 to find the batch\); .* keeps the weights it had at the end of epoch 2/,
    );
    assert.equal(reads, 2, "one read per epoch: two good ones (the third found the NaN, and the NaN check, first, threw)");
    assert.deepEqual(snapshot([m.W, m.b]), atEpochEnd, "weights of the end of epoch 2");
    const state = await opt.getWeights();
    assert.ok(state.length > 1, "momentum has its accumulations");
    for (const { tensor } of state) assert.ok(Array.from(tensor.dataSync()).every(Number.isFinite), "optimizer state put back: no NaN in it");
    for (const { tensor } of state) if (!(tensor instanceof tf.Variable)) tensor.dispose();
    assert.equal(tf.memory().numTensors, before + 2, "only momentum's two accumulations are new: no copies or running sums left");
    // Training goes on with the same model and optimizer.
    const r = await new d2l.Engine({ net: m.net, loss: d2l.crossEntropy, updater: opt, params: [m.W, m.b] }).fit(new ArrayIter(train.X, train.y, 20), { numEpochs: 1 });
    assert.ok(Number.isFinite(r.trainLoss) && r.trainAcc !== undefined && r.trainAcc > 0.8, `training resumes: loss ${r.trainLoss}, acc ${r.trainAcc}`);
    opt.dispose();
  });

  test("a callback's needsValues and readEvery add read points; values are current in onBatchEnd there", async () => {
    quiet();
    const m = scratchModel();
    const seen: { batch: number; from: number; loss: number }[] = [];
    const cb: d2l.Callback = {
      needsValues: (s) => s.batch === 6,
      onValues: (s) => void seen.push({ batch: s.batch, from: s.readFrom, loss: s.batchLoss }),
    };
    await new d2l.Engine({ net: m.net, loss: d2l.crossEntropy, updater: (n) => d2l.sgd([m.W, m.b], 0.1, n), readEvery: 5 }).fit(new ArrayIter(train.X, train.y, 20), {
      numEpochs: 1,
      callbacks: [cb],
    });
    assert.deepEqual(
      seen.map((x) => [x.from, x.batch]),
      [
        [0, 4],
        [5, 6],
        [7, 11],
        [12, 14],
      ],
    );
    assert.ok(seen.every((x) => Number.isFinite(x.loss) && x.loss > 0));
    assert.throws(
      () => new d2l.Engine({ net: m.net, loss: d2l.crossEntropy, updater: (n) => d2l.sgd([m.W, m.b], 0.1, n), readEvery: 0 }),
      /readEvery must be a positive whole number/,
    );
  });

  test("a huge learning rate is caught as NaN and the weights before training are put back", async () => {
    quiet();
    const m = scratchModel();
    const initial = snapshot([m.W, m.b]);
    await assert.rejects(
      d2l.trainCh3(m.net, new ArrayIter(train.X, train.y, 20), new ArrayIter(testSet.X, testSet.y, 32), d2l.crossEntropy, 3, (n) => d2l.sgd([m.W, m.b], 1e6, n), {
        animator: false,
        progress: false,
      }),
      /loss became NaN at epoch 1, in batches 1-15 .* keeps the weights it had before training/,
    );
    assert.deepEqual(snapshot([m.W, m.b]), initial);
  });

  test("wrong arguments", async () => {
    const m = scratchModel();
    const it = new ArrayIter(train.X, train.y, 20);
    assert.throws(
      () => new d2l.Engine({ net: m.net, loss: d2l.crossEntropy, updater: 0.1 as unknown as d2l.Updater }),
      /updater to be a tf.Optimizer .* or a function \(batchSize\) => void, got number/,
    );
    await assert.rejects(
      d2l.trainCh3(m.net, it, undefined as unknown as ArrayIter, d2l.crossEntropy, 1, (n) => d2l.sgd([m.W, m.b], 0.1, n)),
      /test data iterator to be an async iterable/,
    );
    await assert.rejects(
      new d2l.Engine({ net: m.net, loss: d2l.crossEntropy, updater: (n) => d2l.sgd([m.W, m.b], 0.1, n) }).fit(it, { numEpochs: 0 }),
      /numEpochs must be a positive integer, got 0/,
    );
    // A loss that returns the batch mean is taken as such; one returning the wrong length is an error.
    await assert.rejects(
      d2l.trainEpochCh3(
        m.net,
        it,
        (yHat) => tf.sum(yHat, 0),
        (n) => d2l.sgd([m.W, m.b], 0.1, n),
      ),
      /the loss returned shape \[3\] for a batch of 20 examples; it must return one loss per example/,
    );
    // an updater that names a variable the loss does not use
    const stray = tf.variable(tf.zeros([1]));
    await assert.rejects(
      d2l.trainEpochCh3(m.net, it, d2l.crossEntropy, (n) => d2l.sgd([m.W, m.b, stray], 0.1, n)),
      /parameter 2 \(.*, shape \[1\]\) has no gradient/,
    );
  });
});

describe("predictCh3", () => {
  test("shows the first n test images and returns their true and predicted labels", async () => {
    // 4x4 "images"; the net predicts the class of the brightest of the first 10 pixels
    const net = (X: tf.Tensor): tf.Tensor => tf.tidy(() => tf.reshape(X, [-1, 16]).slice([0, 0], [-1, 10]));
    const img = (k: number): number[] => Array.from({ length: 16 }, (_, i) => (i === k ? 1 : 0));
    const X = [img(0), img(1), img(2), img(9)];
    const y = [0, 1, 1, 9];
    const before = tf.memory().numTensors;
    const r = await d2l.predictCh3(net, new ArrayIter(X, y, 4), 3);
    assert.deepEqual(r.trues, ["t-shirt", "trouser", "trouser"]);
    assert.deepEqual(r.preds, ["t-shirt", "trouser", "pullover"]);
    assert.deepEqual(r.titles, ["t-shirt\nt-shirt", "trouser\ntrouser", "trouser\npullover"]);
    assert.match(r.text, /3 of 4x4/, "the figure shows 3 images of 4x4");
    assert.equal(tf.memory().numTensors, before);
    const pad = (X: tf.Tensor): tf.Tensor => tf.concat([X, tf.zeros([X.shape[0] as number, 7])], 1);
    await assert.rejects(d2l.predictCh3(pad, new ArrayIter([[1, 2, 3]], [0], 1)), /X has shape \[1,3\]; expected \[batch, H, W\]/);
  });
});

describe("a function net is told whether it trains (the book's net.train() / net.eval())", () => {
  test("net(X, true) in training steps, net(X, false) in evaluation and prediction", async () => {
    quiet();
    const m = scratchModel();
    const seen: unknown[] = [];
    const net = (X: tf.Tensor, training?: boolean): tf.Tensor => {
      seen.push(training);
      return m.net(X);
    };
    const updater = (batchSize: number): void => d2l.sgd([m.W, m.b], 0.1, batchSize);
    await d2l.trainCh3(net, new ArrayIter(train.X, train.y, 100), new ArrayIter(testSet.X, testSet.y, 60), d2l.crossEntropy, 1, updater, {
      animator: false,
      progress: false,
    });
    // 3 training batches, then 2 test batches
    assert.deepEqual(seen, [true, true, true, false, false]);
    seen.length = 0;
    await d2l.evaluateAccuracy(net, new ArrayIter(testSet.X, testSet.y, 120));
    await d2l.evaluateLoss(net, new ArrayIter(testSet.X, testSet.y, 120), d2l.crossEntropy);
    assert.deepEqual(seen, [false, false]);
  });
});

describe("evaluation and interrupts", () => {
  test("evaluateAccuracy stops when the kernel reports an interrupt", async () => {
    let gen = 0;
    g[KERNEL] = { generation: (): number => gen };
    let yielded = 0;
    const iter = {
      async *[Symbol.asyncIterator](): AsyncGenerator<[tf.Tensor, tf.Tensor]> {
        for (let i = 0; i < 10; i++) {
          yielded++;
          if (i === 3) gen++;
          yield [tf.zeros([2, 3]), tf.zeros([2], "int32")];
        }
      },
    };
    const before = tf.memory().numTensors;
    await assert.rejects(
      d2l.evaluateAccuracy((X) => X, iter),
      InterruptedError,
    );
    assert.equal(yielded, 4);
    assert.equal(tf.memory().numTensors, before);
  });
});

describe("regression with the engine (accuracy off)", () => {
  test("linear regression from scratch recovers w and b; the test loss is reported", async () => {
    const rand = lcg(3);
    const trueW = [2, -3.4];
    const trueB = 4.2;
    const rows: number[][] = [];
    const targets: number[] = [];
    for (let i = 0; i < 200; i++) {
      const x = [rand() * 2 - 1, rand() * 2 - 1];
      rows.push(x);
      targets.push(x[0] * trueW[0] + x[1] * trueW[1] + trueB + (rand() - 0.5) * 0.01);
    }
    const iter = {
      numBatches: 20,
      async *[Symbol.asyncIterator](): AsyncGenerator<[tf.Tensor, tf.Tensor]> {
        for (let i = 0; i < 200; i += 10) yield [tf.tensor2d(rows.slice(i, i + 10)), tf.tensor1d(targets.slice(i, i + 10))];
      },
    };
    const w = tf.variable(tf.zeros([2, 1]));
    const b = tf.variable(tf.zeros([1]));
    const r = await new d2l.Engine({
      net: (X) => d2l.linreg(X, w, b),
      loss: d2l.squaredLoss,
      updater: (n) => d2l.sgd([w, b], 0.3, n),
      accuracy: false,
    }).fit(iter, { numEpochs: 10, testIter: iter });
    const got = Array.from(w.dataSync());
    assert.ok(Math.abs(got[0] - trueW[0]) < 0.05 && Math.abs(got[1] - trueW[1]) < 0.05, `w ${got}`);
    assert.ok(Math.abs(b.dataSync()[0] - trueB) < 0.05);
    assert.equal(r.trainAcc, undefined);
    assert.equal(r.testAcc, undefined);
    assert.ok(r.testLoss !== undefined && r.testLoss < 1e-3, `test loss ${r.testLoss}`);
    assert.equal(r.history.length, 10);
  });
});

describe("batchLoss: batches that are not [X, y] (seq2seq's [X, XValidLen, Y, YValidLen])", () => {
  /** Batches [X, weight, y] of a weighted regression: the loss of an example is weight * (x·v - y)², averaged over the weights. */
  const rows = [
    [1, 0],
    [0, 1],
    [1, 1],
    [2, 1],
    [1, -1],
  ];
  const weights = [1, 2, 0, 3, 1];
  const ys = [1, 0, 2, -1, 0.5];
  const iter = {
    numBatches: 2,
    async *[Symbol.asyncIterator](): AsyncGenerator<tf.Tensor[]> {
      for (const [a, b] of [
        [0, 3],
        [3, 5],
      ]) {
        yield [tf.tensor2d(rows.slice(a, b)), tf.tensor1d(weights.slice(a, b)), tf.tensor1d(ys.slice(a, b))];
      }
    },
  };
  const lossOf = (v: tf.Variable) => (batch: tf.Tensor[]) => {
    const [X, wt, y] = batch;
    const err = tf.sub(tf.reshape(tf.matMul(X, v), [-1]), y);
    return { loss: tf.mul(wt, tf.square(err)), count: tf.sum(wt) };
  };

  test("the epoch's loss is the loss sum over the count batchLoss reports (worked out by hand)", async () => {
    const v = tf.variable(tf.tensor2d([[1], [2]]));
    const r = await new d2l.Engine({ batchLoss: lossOf(v), updater: tf.train.sgd(0), params: [v] }).fit(iter, { numEpochs: 1 });
    // x·v = [1, 2, 3, 4, -1]; errors [0, 2, 1, 5, -1.5]; weighted squares [0, 8, 0, 75, 2.25]; weights sum to 7
    assert.ok(Math.abs(r.trainLoss - 85.25 / 7) < 1e-5, `loss ${r.trainLoss}`);
    assert.equal(r.history[0].count, 7);
    assert.equal(r.history[0].examples, 5);
    assert.equal(r.trainAcc, undefined);
    v.dispose();
  });

  test("gradientOf 'sum' differentiates the batch's summed loss with a tf.Optimizer, 'mean' its mean", async () => {
    const one = {
      numBatches: 1,
      async *[Symbol.asyncIterator](): AsyncGenerator<tf.Tensor[]> {
        yield [tf.tensor2d(rows.slice(0, 3)), tf.tensor1d(weights.slice(0, 3)), tf.tensor1d(ys.slice(0, 3))];
      },
    };
    const stepWith = async (gradientOf: "sum" | "mean"): Promise<number[]> => {
      const v = tf.variable(tf.tensor2d([[1], [2]]));
      await new d2l.Engine({ batchLoss: lossOf(v), updater: tf.train.sgd(0.01), params: [v], gradientOf }).fit(one, { numEpochs: 1 });
      const got = Array.from(v.dataSync());
      v.dispose();
      return got;
    };
    // d/dv Σ w (x·v - y)² = Σ 2 w err x: errors [0, 2, 1] with weights [1, 2, 0]: 2*2*2*[0, 1] = [0, 8]
    const sum = await stepWith("sum");
    const mean = await stepWith("mean");
    assert.ok(Math.abs(sum[0] - 1) < 1e-6 && Math.abs(sum[1] - (2 - 0.08)) < 1e-6, `sum ${sum}`);
    assert.ok(Math.abs(mean[0] - 1) < 1e-6 && Math.abs(mean[1] - (2 - 0.08 / 3)) < 1e-6, `mean ${mean}`);
  });

  test("no tensor leaks across epochs", async () => {
    const v = tf.variable(tf.tensor2d([[0], [0]]));
    const counts: number[] = [];
    await new d2l.Engine({ batchLoss: lossOf(v), updater: tf.train.adam(0.01), params: [v] }).fit(iter, {
      numEpochs: 4,
      callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }],
    });
    assert.equal(counts[3], counts[0]);
    v.dispose();
  });

  test("wrong arguments get clear errors", async () => {
    const v = tf.variable(tf.tensor2d([[0], [0]]));
    assert.throws(() => new d2l.Engine({ batchLoss: lossOf(v), updater: tf.train.sgd(0.1) }), /needs the parameters to train: pass params/);
    assert.throws(() => new d2l.Engine({ batchLoss: lossOf(v), updater: tf.train.sgd(0.1), params: [v], accuracy: true }), /computes no accuracy/);
    assert.throws(() => new d2l.Engine({ updater: tf.train.sgd(0.1), params: [v] }), /expected the net to be/);
    await assert.rejects(
      new d2l.Engine({ batchLoss: lossOf(v), updater: tf.train.sgd(0.1), params: [v] }).fit(iter, { testIter: new ArrayIter([[0, 0]], [0], 1) }),
      /takes no test iterator/,
    );
    v.dispose();
  });
});
