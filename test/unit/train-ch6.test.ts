// trainCh6 and friends (the book's chapter 6 training loop) on the cpu backend with a tiny conv net.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { DataLoader, TensorDataset } from "../../lib/data/index";
import { trainCh6, evaluateAccuracyGpu } from "../../lib/train/index";
import { initKaiming, initXavier } from "../../lib/nn/init";
import type { TrainState } from "../../lib/train/engine";

before(async () => {
  await tf.setBackend("cpu");
});

/** Two classes of 8x8 images: a bright left half or a bright right half, with noise. */
function halves(n: number, seed: number): DataLoader {
  const X = tf.tidy(() => {
    const noise = tf.randomUniform([n, 8, 8, 1], 0, 0.3, "float32", seed);
    const left = tf.concat([tf.ones([1, 8, 4, 1]), tf.zeros([1, 8, 4, 1])], 2);
    const right = tf.reverse(left, 2);
    const parts = [];
    for (let i = 0; i < n; i++) parts.push(i % 2 === 0 ? left : right);
    return tf.concat(parts, 0).add(noise);
  });
  const y = tf.tensor1d(
    Array.from({ length: n }, (_, i) => i % 2),
    "int32",
  );
  return new DataLoader(new TensorDataset<[tf.Tensor, tf.Tensor]>(X, y), { batchSize: 16, shuffle: true, seed, ownsDataset: true });
}

function smallCnn(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: "same", activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2 }),
    ],
  });
}

test("trainCh6 learns, prints the book's lines, and leaks no tensors across epochs", async () => {
  const trainIter = halves(96, 1);
  const testIter = halves(32, 2);
  const net = smallCnn();
  const counts: number[] = [];
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(...a.join(" ").split("\n"));
  let r;
  try {
    r = await trainCh6(net, trainIter, testIter, 6, 0.5, "cpu", {
      animator: false,
      progress: false,
      seed: 3,
      callbacks: [{ onEpochEnd: (_s: TrainState) => void counts.push(tf.memory().numTensors) }],
    });
  } finally {
    console.log = log;
  }
  assert.ok(r.testAcc > 0.9, `a bright half is easy to tell apart; test acc ${r.testAcc}`);
  assert.ok(r.trainLoss < 0.5, `train loss ${r.trainLoss}`);
  assert.ok(r.examplesPerSec > 0);
  assert.match(lines[0] ?? "", /^training on cpu \(cpu\)$/);
  assert.ok(
    lines.some((l) => /^loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}$/.test(l)),
    lines.join("\n"),
  );
  assert.ok(
    lines.some((l) => /examples\/sec on cpu$/.test(l)),
    lines.join("\n"),
  );
  // every epoch ends with the same number of live tensors: nothing accumulates
  assert.equal(counts.length, 6);
  assert.deepEqual(counts.slice(1), Array(5).fill(counts[1]), `tensors per epoch end: ${counts.join(", ")}`);
  assert.equal(counts[0], counts[1], `epoch 1 left ${counts[1] - counts[0]} more tensors than it started the next with`);
  const acc = await evaluateAccuracyGpu(net, testIter, "cpu");
  assert.ok(Math.abs(acc - r.testAcc) < 1e-9);
  trainIter.dispose();
  testIter.dispose();
});

test("trainCh6's seed makes a run with dropout repeat exactly, and puts the random stream back afterwards", async () => {
  const withDropout = () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: "same", activation: "relu" }),
        tf.layers.flatten(),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 2 }),
      ],
    });
  const run = async (seed: number | undefined) => {
    const losses: number[] = [];
    const net = withDropout();
    await trainCh6(net, halves(64, 1), halves(16, 2), 2, 0.3, "cpu", {
      animator: false,
      progress: false,
      verbose: false,
      seed,
      callbacks: [{ onEpochEnd: (s: TrainState) => void losses.push(s.trainLoss) }],
    });
    net.dispose();
    return losses;
  };
  const random = Math.random;
  const a = await run(5);
  assert.equal(Math.random, random, "the unseeded Math.random is back after a seeded run");
  const b = await run(5);
  assert.deepEqual(a, b, "the same seed, the same losses (dropout masks included)");
  assert.ok(a.every(Number.isFinite), `losses ${a}`);
  const c = await run(6);
  assert.notDeepEqual(a, c, "another seed, other losses");
});

test("initXavier draws kernels within the Glorot limit and leaves biases", () => {
  const net = smallCnn();
  const denseBias = tf.ones([2]);
  net.layers[3].setWeights([net.layers[3].getWeights()[0], denseBias]);
  assert.equal(initXavier(net, 7), 2);
  const conv = net.layers[0].getWeights()[0];
  const limit = Math.sqrt(6 / (3 * 3 * 1 + 3 * 3 * 4));
  const m = conv.abs().max().dataSync()[0];
  assert.ok(m <= limit && m > limit * 0.5, `conv kernel max ${m}, limit ${limit}`);
  assert.deepEqual(Array.from(net.layers[3].getWeights()[1].dataSync()), [1, 1]);
});

test("trainCh6's init option: Xavier (default), He, or the model's own kernels; the old xavier switch still works", async () => {
  const it = halves(16, 1);
  const kernels = (net: tf.LayersModel) => [net.layers[0], net.layers[3]].map((l) => Array.from(l.getWeights()[0].dataSync()));
  // the kernels trainCh6 starts training from, read before the first update
  const startOf = async (net: tf.LayersModel, options: Parameters<typeof trainCh6>[6]) => {
    let start: number[][] = [];
    await trainCh6(net, it, it, 1, 0.1, "cpu", {
      animator: false,
      progress: false,
      verbose: false,
      ...options,
      callbacks: [{ onTrainBegin: () => void (start = kernels(net)) }],
    });
    return start;
  };
  const initialized = (init: (net: tf.LayersModel, seed: number) => number, seed: number) => {
    const net = smallCnn();
    init(net, seed);
    return kernels(net);
  };
  assert.deepEqual(await startOf(smallCnn(), { seed: 3 }), initialized(initXavier, 3), "default: Xavier, seeded");
  assert.deepEqual(await startOf(smallCnn(), { init: "xavier", seed: 3 }), initialized(initXavier, 3));
  assert.deepEqual(await startOf(smallCnn(), { init: "kaiming", seed: 5 }), initialized(initKaiming, 5));
  assert.notDeepEqual(initialized(initKaiming, 5), initialized(initXavier, 5), "He and Xavier draw different kernels");
  // the conv kernel (3x3, 1 channel in, 4 out): He's standard deviation sqrt(2 / fanIn) = sqrt(2 / 9) = 0.47,
  // twice Xavier's sqrt(2 / (fanIn + fanOut)) = sqrt(2 / 45) = 0.21
  const std = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + x * x, 0) / v.length);
  const he = std((await startOf(smallCnn(), { init: "kaiming", seed: 5 }))[0]);
  const xavier = std((await startOf(smallCnn(), { init: "xavier", seed: 5 }))[0]);
  assert.ok(he > 0.33 && he < 0.62 && xavier < 0.3, `std of the conv kernel: He ${he}, Xavier ${xavier}`);
  for (const options of [{ init: "none" as const }, { xavier: false }, { xavier: false, init: "none" as const }]) {
    const net = smallCnn();
    const before = kernels(net);
    assert.deepEqual(await startOf(net, options), before, `${JSON.stringify(options)} keeps the model's kernels`);
  }
  await assert.rejects(startOf(smallCnn(), { xavier: false, init: "kaiming" }), /xavier: false and init: "kaiming" disagree/);
  await assert.rejects(startOf(smallCnn(), { init: "he" as never }), /init must be "xavier", "kaiming" or "none"/);
  it.dispose();
});

test("trainCh6 says what is wrong with bad arguments", async () => {
  const it = halves(16, 1);
  const f = ((x: tf.Tensor) => x) as unknown as tf.LayersModel;
  await assert.rejects(trainCh6(f, it, it, 1, 0.1), /trains a tf.LayersModel/);
  await assert.rejects(trainCh6(smallCnn(), it, it, 0, 0.1), /numEpochs must be a positive integer/);
  await assert.rejects(trainCh6(smallCnn(), it, it, 1, -1), /lr must be a positive number/);
  await assert.rejects(trainCh6(smallCnn(), it, it, 1, 0.1, "gpu:0"), /this machine has no gpu:0/);
  await assert.rejects(trainCh6(smallCnn(), it, it, 1, 0.1, "cuda"), /device must be "cpu" or "gpu:<i>"/);
  it.dispose();
});

test("the engine adds a LayersModel's regularizer penalties to what it differentiates", async () => {
  const { Engine } = await import("../../lib/train/engine");
  const make = (wd: number) =>
    tf.sequential({
      layers: [tf.layers.dense({ units: 1, inputShape: [3], useBias: false, kernelInitializer: "ones", kernelRegularizer: wd > 0 ? tf.regularizers.l2({ l2: wd }) : undefined })],
    });
  const X = tf.tensor2d([
    [1, 0, 0],
    [0, 1, 0],
  ]);
  const y = tf.tensor2d([[1], [1]]);
  const iter = {
    async *[Symbol.asyncIterator]() {
      yield [X.clone(), y.clone()] as [tf.Tensor, tf.Tensor];
    },
  };
  const mse = (yHat: tf.Tensor, t: tf.Tensor) => tf.squaredDifference(yHat, t).reshape([-1]);
  const run = async (wd: number) => {
    const net = make(wd);
    const r = await new Engine({ net, loss: mse, updater: tf.train.sgd(0.5), accuracy: false }).fit(iter, { numEpochs: 1 });
    return { w: Array.from(net.getWeights()[0].dataSync()), loss: r.trainLoss };
  };
  const plain = await run(0);
  const decayed = await run(0.1);
  // the data loss is 0 at w = 1 (both targets hit), so only the penalty 0.1*||w||^2 moves w: w -= 0.5 * 0.2 * w
  assert.deepEqual(plain.w, [1, 1, 1]);
  for (const w of decayed.w) assert.ok(Math.abs(w - 0.9) < 1e-6, `decayed weights ${decayed.w}`);
  assert.equal(decayed.loss, 0, "the reported loss is the data loss alone");
  tf.dispose([X, y]);
});
