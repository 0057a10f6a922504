/**
 * `d2l.seed(n)` (torch.manual_seed): initializers, dropout, tfjs' random ops,
 * DataLoader shuffles and synthetic data repeat exactly; training twice gives
 * bit-identical losses; `getRandomState`/`setRandomState` continue a stream.
 * The reference is the run itself (the same backend, twice): PyTorch's
 * generator is not what tfjs uses, so no torch fixture applies.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";

const nativeRandom = Math.random;

before(async () => {
  await tf.setBackend("cpu");
});

after(() => {
  d2l.seed(null);
});

/** Every value of a tensor, then dispose it. */
function take(t: tf.Tensor): number[] {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
}

/** Everything random that tfjs and d2l draw without a seed, in one list. */
function draws(): number[][] {
  const out: number[][] = [];
  out.push(take(tf.randomNormal([5])));
  out.push(take(tf.randomUniform([5])));
  out.push(take(tf.truncatedNormal([5])));
  out.push(take(tf.randomGamma([3], 2)));
  out.push(take(tf.multinomial(tf.tensor1d([0.2, 0.3, 0.5]).log(), 6)));
  out.push(take(tf.dropout(tf.ones([8]), 0.5)));
  out.push(take(tf.initializers.glorotUniform({}).apply([3, 2])));
  out.push(take(tf.initializers.heNormal({}).apply([3, 2])));
  const dense = tf.layers.dense({ units: 2, inputShape: [3] });
  const model = tf.sequential({ layers: [dense, tf.layers.dropout({ rate: 0.5 })] });
  out.push(take(model.getWeights()[0].clone()));
  out.push(take(model.apply(tf.ones([2, 3]), { training: true }) as tf.Tensor));
  model.dispose();
  const arr = [0, 1, 2, 3, 4, 5, 6, 7];
  tf.util.shuffle(arr);
  out.push(arr);
  const [X, y] = d2l.syntheticData(tf.tensor1d([2, -3.4]), 4.2, 4);
  out.push(take(X), take(y));
  out.push([Math.random()]);
  return out;
}

async function loaderOrder(): Promise<number[]> {
  const X = tf.tensor2d(Array.from({ length: 12 }, (_, i) => [i]));
  const y = tf.tensor1d(
    Array.from({ length: 12 }, (_, i) => i),
    "int32",
  );
  const loader = new d2l.DataLoader(new d2l.TensorDataset(X, y), { batchSize: 4, shuffle: true }); // no seed
  const ids: number[] = [];
  for (let e = 0; e < 2; e++) {
    for await (const [xb, yb] of loader) {
      ids.push(...Array.from(yb.dataSync()));
      tf.dispose([xb, yb]);
    }
  }
  tf.dispose([X, y]);
  return ids;
}

describe("seed", () => {
  test("seed(n) makes every unseeded draw of tfjs and d2l repeat; seed(null) restores Math.random", async () => {
    d2l.seed(0);
    assert.notEqual(Math.random, nativeRandom);
    const a = draws();
    const orderA = await loaderOrder();
    d2l.seed(0);
    const b = draws();
    const orderB = await loaderOrder();
    assert.deepEqual(b, a);
    assert.deepEqual(orderB, orderA);
    d2l.seed(1);
    assert.notDeepEqual(draws(), a, "another seed gives other numbers");
    d2l.seed(null);
    assert.equal(Math.random, nativeRandom, "the original Math.random is back");
    assert.notDeepEqual(draws(), a);
    assert.equal(d2l.initialSeed(), null);
  });

  test("D2L_SEED=n seeds as seed(n) does; unset or empty leaves Math.random alone; a non-integer is a clear error", () => {
    d2l.seed(7);
    const want = draws();
    d2l.seed(null);
    assert.equal(d2l.seedFromEnvironment({ D2L_SEED: " 7 " }), 7);
    assert.deepEqual(draws(), want);
    d2l.seed(null);
    assert.equal(d2l.seedFromEnvironment({}), null);
    assert.equal(d2l.seedFromEnvironment({ D2L_SEED: "" }), null);
    assert.equal(Math.random, nativeRandom);
    assert.throws(() => d2l.seedFromEnvironment({ D2L_SEED: "zero" }), /D2L_SEED must be an integer such as 0 .*got "zero"/);
    assert.throws(() => d2l.seedFromEnvironment({ D2L_SEED: "1.5" }), /D2L_SEED must be an integer/);
    assert.equal(Math.random, nativeRandom, "a bad value seeds nothing");
  });

  test("the seeded Math.random looks uniform: [0, 1), mean 1/2, 53-bit resolution", () => {
    d2l.seed(123);
    let sum = 0;
    let fine = 0;
    const n = 100000;
    for (let i = 0; i < n; i++) {
      const u = Math.random();
      assert.ok(u >= 0 && u < 1);
      sum += u;
      if (u * 2 ** 32 !== Math.floor(u * 2 ** 32)) fine++; // more than 32 bits
    }
    assert.ok(Math.abs(sum / n - 0.5) < 0.005, `mean ${sum / n}`);
    assert.ok(fine > n * 0.99);
    assert.equal(d2l.initialSeed(), 123);
    d2l.seed(null);
  });

  test("bad seeds and states are errors that say what was expected", () => {
    assert.throws(() => d2l.seed(0.5), /seed: expected an integer/);
    assert.throws(() => d2l.seed("1" as unknown as number), /seed: expected an integer.*got string/);
    assert.throws(() => d2l.setRandomState({ generator: "mt19937", seed: 0, state: [1, 2, 3, 4] }), /what d2l.getRandomState\(\) returned/);
    assert.throws(() => d2l.setRandomState({ generator: "xoshiro128**", seed: 0, state: [0, 0, 0, 0] }), /not all 0/);
    assert.throws(() => d2l.setRandomState({ generator: "xoshiro128**", seed: 0, state: [1, 2, 3] } as unknown as d2l.RandomState), /four unsigned/);
  });

  test("getRandomState/setRandomState (JSON) continue the same stream; null when unseeded", () => {
    d2l.seed(null);
    assert.equal(d2l.getRandomState(), null);
    d2l.seed(5);
    draws();
    const saved = JSON.stringify(d2l.getRandomState());
    const next = draws();
    d2l.seed(99); // anything in between
    draws();
    d2l.setRandomState(JSON.parse(saved) as d2l.RandomState);
    assert.deepEqual(draws(), next);
    assert.equal(d2l.initialSeed(), 5);
    d2l.setRandomState(null);
    assert.equal(Math.random, nativeRandom);
  });
});

/** A small MLP with dropout on a 3-class problem; the per-batch running losses and final weights of one fit. */
async function trainMlp(
  epochs: number,
  resume?: { weights: tf.Tensor[]; epoch: number; state: d2l.RandomState },
): Promise<{ losses: number[]; weights: number[][]; state: d2l.RandomState | null; tensors: tf.Tensor[] }> {
  const X = tf.randomNormal([96, 4]);
  const y = tf
    .argMax(
      tf.matMul(
        X,
        tf.tensor2d([
          [1, 0, -1],
          [0, 1, 1],
          [-1, 1, 0],
          [0.5, -0.5, 0],
        ]),
      ),
      1,
    )
    .toInt();
  const net = tf.sequential({
    layers: [tf.layers.dense({ units: 16, activation: "relu", inputShape: [4] }), tf.layers.dropout({ rate: 0.3 }), tf.layers.dense({ units: 3, activation: "softmax" })],
  });
  const trainIter = new d2l.DataLoader(new d2l.TensorDataset(X, y), { batchSize: 16, shuffle: true }); // shuffle seed drawn from Math.random
  if (resume) {
    net.setWeights(resume.weights);
    trainIter.epoch = resume.epoch;
    d2l.setRandomState(resume.state);
  }
  const losses: number[] = [];
  const perBatch: d2l.Callback = { needsValues: () => true, onBatchEnd: (s) => void losses.push(s.trainLoss) };
  await d2l.fit({ net, loss: d2l.crossEntropy, updater: tf.train.sgd(0.5), trainIter, numEpochs: epochs, callbacks: [perBatch] });
  const ws = net.getWeights().map((w) => tf.clone(w));
  const weights = ws.map((w) => Array.from(w.dataSync()));
  const state = d2l.getRandomState();
  net.dispose();
  tf.dispose([X, y]);
  return { losses, weights, state, tensors: ws };
}

describe("training is reproducible", () => {
  test("with d2l.seed(0) an MLP with dropout and a shuffling DataLoader trains to bit-identical losses and weights twice", async () => {
    d2l.seed(0);
    const a = await trainMlp(3);
    d2l.seed(0);
    const b = await trainMlp(3);
    assert.equal(a.losses.length, 18);
    assert.deepEqual(b.losses, a.losses); // deepEqual on numbers is Object.is: bit for bit
    assert.deepEqual(b.weights, a.weights);
    tf.dispose([...a.tensors, ...b.tensors]);
  });

  test("without a seed two runs differ", async () => {
    d2l.seed(null);
    const a = await trainMlp(1);
    const b = await trainMlp(1);
    assert.notDeepEqual(b.losses, a.losses);
    tf.dispose([...a.tensors, ...b.tensors]);
  });

  test("stopping after 2 epochs and continuing from the saved weights, loader epoch and random state gives the losses of 4 uninterrupted epochs", async () => {
    d2l.seed(7);
    const whole = await trainMlp(4);
    d2l.seed(7);
    const first = await trainMlp(2);
    const state = JSON.parse(JSON.stringify(first.state)) as d2l.RandomState;
    // a "fresh process": the same notebook from the top (seed, data, net), then the checkpoint's state
    d2l.seed(7);
    const rest = await trainMlp(2, { weights: first.tensors, epoch: 2, state });
    assert.deepEqual([...first.losses, ...rest.losses], whole.losses);
    assert.deepEqual(rest.weights, whole.weights);
    tf.dispose([...whole.tensors, ...first.tensors, ...rest.tensors]);
  });
});
