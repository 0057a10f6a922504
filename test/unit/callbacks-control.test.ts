/**
 * EarlyStopping: stops at the right epoch (Keras' rules: patience, minDelta,
 * baseline, startFromEpoch), says why in one line, and restores the best
 * epoch's weights exactly (a LayersModel's, or the engine's params).
 */
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { EarlyStopping, Engine, type Callback, type TrainState } from "../../lib/train/index";
import { DataLoader, TensorDataset } from "../../lib/data/index";

before(async () => {
  await tf.setBackend("cpu");
});

/** Records a copy of the weights after each epoch (before EarlyStopping restores anything at the end). */
class WeightLog implements Callback {
  readonly byEpoch = new Map<number, number[][]>();
  constructor(private readonly get: () => tf.Tensor[]) {}
  onEpochEnd(s: TrainState): void {
    this.byEpoch.set(
      s.epoch + 1,
      this.get().map((t) => Array.from(t.dataSync())),
    );
  }
}

function problem(): { net: tf.Sequential; trainIter: DataLoader; testIter: DataLoader; loss: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor; dispose: () => void } {
  const X = tf.tensor2d(
    Float32Array.from({ length: 30 * 3 }, (_, i) => Math.sin(0.7 * i)),
    [30, 3],
  );
  const y = tf.tensor1d(
    Int32Array.from({ length: 30 }, (_, i) => (Math.cos(1.3 * i) > 0 ? 1 : 0)),
    "int32",
  );
  const trainIter = new DataLoader(new TensorDataset(X, y), { batchSize: 10, shuffle: true, seed: 1 });
  const testIter = new DataLoader(new TensorDataset(X, y), { batchSize: 10 });
  const net = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], kernelInitializer: "zeros" })] });
  const loss = (yHat: tf.Tensor, yy: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(yy, "int32"), 2), yHat, undefined, tf.Reduction.NONE);
  return {
    net,
    trainIter,
    testIter,
    loss,
    dispose: () => {
      tf.dispose([X, y]);
      net.dispose();
    },
  };
}

/** Capture console.log lines while `f` runs. */
async function logged<T>(f: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(" "));
  try {
    return { value: await f(), lines };
  } finally {
    console.log = orig;
  }
}

describe("EarlyStopping", () => {
  test("on a worsening monitored value: stops after `patience` epochs without improvement and restores the best epoch's weights exactly", async () => {
    const p = problem();
    // a monitor function over a fixed sequence: best at epoch 3 (0.7), then worse
    const seq = [1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.9, 0.6, 0.5, 0.4];
    const stop = new EarlyStopping({ monitor: (s) => seq[s.epoch], mode: "min", patience: 3, restoreBestWeights: true });
    const log = new WeightLog(() => p.net.getWeights());
    const { value: r, lines } = await logged(() =>
      new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.5) }).fit(p.trainIter, { numEpochs: 10, callbacks: [stop, log] }),
    );
    assert.equal(r.history.length, 6, "epochs 4, 5, 6 do not improve on epoch 3: stop after epoch 6");
    assert.equal(stop.stoppedEpoch, 6);
    assert.equal(stop.bestEpoch, 3);
    assert.equal(stop.best, 0.7);
    // the weights now are epoch 3's, bit for bit, and differ from epoch 6's
    const now = p.net.getWeights().map((t) => Array.from(t.dataSync()));
    assert.deepEqual(now, log.byEpoch.get(3));
    assert.notDeepEqual(now, log.byEpoch.get(6));
    assert.deepEqual(lines, ["early stopping at epoch 6: the monitored value did not improve on 0.7 (epoch 3) for 3 epochs; restored the weights of epoch 3"]);
    p.dispose();
  });

  test("patience 0 stops at the first epoch that does not improve; minDelta makes small gains not count", async () => {
    const p = problem();
    const seq = [1.0, 0.9, 0.95, 0.5];
    const a = new EarlyStopping({ monitor: (s) => seq[s.epoch], mode: "min", verbose: false });
    let r = await new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.1) }).fit(p.trainIter, { numEpochs: 4, callbacks: [a] });
    assert.equal(r.history.length, 3);
    assert.deepEqual([a.bestEpoch, a.stoppedEpoch], [2, 3]);
    // 0.96 and 0.97 are not better than 1.0 by more than minDelta 0.05: only epoch 1 counts as best
    const seq2 = [1.0, 0.96, 0.97, 0.5, 0.1];
    const b = new EarlyStopping({ monitor: (s) => seq2[s.epoch], mode: "min", minDelta: 0.05, patience: 2, verbose: false });
    r = await new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.1) }).fit(p.trainIter, { numEpochs: 5, callbacks: [b] });
    assert.equal(r.history.length, 3);
    assert.deepEqual([b.bestEpoch, b.best, b.stoppedEpoch], [1, 1.0, 3]);
    // mode max (accuracies): an increase is an improvement
    const seq3 = [0.5, 0.6, 0.55, 0.58, 0.7];
    const c = new EarlyStopping({ monitor: (s) => seq3[s.epoch], mode: "max", patience: 2, verbose: false });
    r = await new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.1) }).fit(p.trainIter, { numEpochs: 5, callbacks: [c] });
    assert.deepEqual([r.history.length, c.bestEpoch, c.stoppedEpoch], [4, 2, 4]);
    p.dispose();
  });

  test("baseline: epochs that do not beat it count against the patience; startFromEpoch skips a warm-up", async () => {
    const p = problem();
    const seq = [0.9, 0.8, 0.7, 0.65, 0.6];
    const a = new EarlyStopping({ monitor: (s) => seq[s.epoch], mode: "min", baseline: 0.5, patience: 2, verbose: false });
    const { value: r } = await logged(() => new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.1) }).fit(p.trainIter, { numEpochs: 5, callbacks: [a] }));
    assert.equal(r.history.length, 2);
    assert.equal(a.stoppedEpoch, 2);
    const seq2 = [5, 6, 7, 1, 2, 3, 4];
    const b = new EarlyStopping({ monitor: (s) => seq2[s.epoch], mode: "min", patience: 1, startFromEpoch: 3, verbose: false });
    const r2 = await new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.1) }).fit(p.trainIter, { numEpochs: 7, callbacks: [b] });
    assert.deepEqual([r2.history.length, b.bestEpoch, b.stoppedEpoch], [5, 4, 5]);
    p.dispose();
  });

  test("a named monitor (testLoss of a regression) on a real run: the restored weights are those of the history's best epoch", async () => {
    // few examples, many inputs, large steps: the test loss falls, then rises (overfitting, or steps too large)
    const n = 12;
    const X = tf.tensor2d(
      Float32Array.from({ length: n * 20 }, (_, i) => Math.sin(1.9 * i) * Math.cos(0.3 * i)),
      [n, 20],
    );
    const y = tf.tensor2d(
      Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
      [n, 1],
    );
    const Xt = tf.tensor2d(
      Float32Array.from({ length: 40 * 20 }, (_, i) => Math.sin(0.77 * i + 1)),
      [40, 20],
    );
    const yt = tf.tensor2d(
      Float32Array.from({ length: 40 }, (_, i) => Math.sin(i + 0.5)),
      [40, 1],
    );
    const trainIter = new DataLoader(new TensorDataset(X, y), { batchSize: 4, shuffle: true, seed: 2 });
    const testIter = new DataLoader(new TensorDataset(Xt, yt), { batchSize: 40 });
    const W = tf.variable(tf.zeros([20, 1]));
    const b = tf.variable(tf.zeros([1]));
    const net = (x: tf.Tensor): tf.Tensor => tf.add(tf.matMul(x, W), b);
    const loss = (yHat: tf.Tensor, yy: tf.Tensor): tf.Tensor => tf.mean(tf.square(tf.sub(yHat, yy)), 1);
    const stop = new EarlyStopping({ monitor: "testLoss", patience: 2, restoreBestWeights: true, verbose: false });
    assert.equal(stop.watch.mode, "min"); // auto: a loss is minimized
    const log = new WeightLog(() => [W, b]);
    const r = await new Engine({ net, loss, updater: tf.train.sgd(0.3), params: [W, b], accuracy: false }).fit(trainIter, { numEpochs: 30, testIter, callbacks: [stop, log] });
    const losses = r.history.map((h) => h.testLoss as number);
    const best = losses.indexOf(Math.min(...losses)) + 1;
    assert.equal(stop.bestEpoch, best);
    assert.ok(r.history.length < 30, `did not stop: ${losses.map((l) => l.toFixed(3)).join(" ")}`);
    assert.equal(stop.stoppedEpoch, best + 2);
    assert.deepEqual([Array.from(W.dataSync()), Array.from(b.dataSync())], log.byEpoch.get(best));
    tf.dispose([X, y, Xt, yt, W, b]);
  });

  test("Keras' auto mode: accuracies are maximized, losses minimized", () => {
    assert.equal(new EarlyStopping({ monitor: "testAcc" }).watch.mode, "max");
    assert.equal(new EarlyStopping({ monitor: "trainAcc" }).watch.mode, "max");
    assert.equal(new EarlyStopping({ monitor: "trainLoss" }).watch.mode, "min");
    assert.equal(new EarlyStopping().watch.monitor, "testLoss");
  });

  test("what cannot work is an error that says what to change", async () => {
    const p = problem();
    assert.throws(() => new EarlyStopping({ monitor: () => 1 }), /with a monitor function, say which way is better: mode "min".*or "max"/);
    assert.throws(() => new EarlyStopping({ monitor: "valLoss" as never }), /monitor must be one of "trainLoss", "trainAcc", "testAcc", "testLoss"/);
    assert.throws(() => new EarlyStopping({ patience: -1 }), /patience must be a whole number/);
    assert.throws(() => new EarlyStopping({ mode: "up" as never }), /mode must be "min", "max" or "auto"/);
    const engine = new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.1) });
    await assert.rejects(
      engine.fit(p.trainIter, { numEpochs: 2, callbacks: [new EarlyStopping({ monitor: "testAcc" })] }),
      /testAcc has no value after epoch 1: fit was given no testIter/,
    );
    await assert.rejects(
      engine.fit(p.trainIter, { numEpochs: 2, testIter: p.testIter, callbacks: [new EarlyStopping({ monitor: "testLoss" })] }),
      /testLoss has no value after epoch 1: the engine computes the test loss only when accuracy is off/,
    );
    // testAcc with a test iterator works
    const stop = new EarlyStopping({ monitor: "testAcc", patience: 5, verbose: false });
    await engine.fit(p.trainIter, { numEpochs: 2, testIter: p.testIter, callbacks: [stop] });
    assert.ok(stop.bestEpoch >= 1);
    p.dispose();
  });

  test("no tensors are left behind by restoreBestWeights", async () => {
    const p = problem();
    const seq = [1, 0.5, 0.6, 0.7];
    const updater = tf.train.sgd(0.1); // (each tf.train.sgd keeps a tensor of its own)
    const run = (): Promise<unknown> =>
      new Engine({ net: p.net, loss: p.loss, updater }).fit(p.trainIter, {
        numEpochs: 4,
        callbacks: [new EarlyStopping({ monitor: (s) => seq[s.epoch], mode: "min", patience: 1, restoreBestWeights: true, verbose: false })],
      });
    await run();
    const before = tf.memory().numTensors;
    await run();
    assert.equal(tf.memory().numTensors, before);
    p.dispose();
  });
});
