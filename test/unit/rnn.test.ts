// Tests of the recurrent models (lib/nn/rnn.ts) and chapter 8's training helpers (lib/train/ch8.ts), on the cpu backend.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { RNNModel, RNNModelScratch, type ForwardFn } from "../../lib/nn/index";
import { gradClipping, GradClippingCallback, predictCh8, trainEpochCh8, trainCh8, backward, sgd, type TrainState } from "../../lib/train/index";
import { Vocab, SeqDataLoader } from "../../lib/text/index";

before(async () => {
  await tf.setBackend("cpu");
});

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());
const close = (a: number[], b: number[], tol = 1e-5): void => {
  assert.equal(a.length, b.length);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= tol, `index ${i}: ${v} vs ${b[i]}`));
};

describe("gradClipping", () => {
  test("grads [3,4] and [0,12] have norm 13: theta 1.3 scales them by 0.1; below theta they stay", () => {
    const g = [tf.tensor1d([3, 4]), tf.tensor1d([0, 12])];
    const c = gradClipping(g, 1.3);
    close(values(c[0]), [0.3, 0.4]);
    close(values(c[1]), [0, 1.2]);
    const same = gradClipping(g, 20);
    close(values(same[0]), [3, 4]);
    close(values(same[1]), [0, 12]);
    close(values(g[0]), [3, 4], 0); // the given ones are untouched
    tf.dispose([...g, ...c, ...same]);
  });

  test("a map of named gradients, as tf.variableGrads gives them", () => {
    const m = { a: tf.tensor1d([3, 4]), b: tf.tensor1d([0, 12]) };
    const c = gradClipping(m, 6.5); // scale 0.5
    close(values(c.a), [1.5, 2]);
    close(values(c.b), [0, 6]);
    tf.dispose([m.a, m.b, c.a, c.b]);
  });

  test("the book's form gradClipping(net, theta) clips the gradients stored by d2l.backward, in place", () => {
    const w = tf.variable(tf.tensor1d([3, 4]));
    const v = tf.variable(tf.tensor1d([0, 12]));
    const net = { params: [w, v] };
    // d/dw of (w·w)/2 is w: the stored gradients are [3,4] and [0,12]
    backward(() => tf.add(tf.sum(tf.square(w)), tf.sum(tf.square(v))).div(2) as tf.Scalar, net.params);
    gradClipping(net, 1.3);
    sgd(net.params, 1, 1); // w -= grad
    close(values(w), [2.7, 3.6]);
    close(values(v), [0, 10.8]);
    assert.throws(() => gradClipping(net, 1), /none of net\.params has a gradient; compute them first with d2l\.backward/);
    assert.throws(() => gradClipping([tf.scalar(1)], 0), /theta must be a positive number/);
    tf.dispose([w, v]);
  });

  test("the engine callback clips the mean loss's gradient: theta for an optimizer, theta x batch for a summed-loss updater", () => {
    const make = (updater: TrainState["updater"]): TrainState => ({ grads: { g: tf.tensor1d([30, 40]) }, updater, batchSize: 10 }) as unknown as TrainState;
    const withOpt = make(tf.train.sgd(1));
    new GradClippingCallback(1).onAfterBackward(withOpt);
    close(values(withOpt.grads!.g), [0.6, 0.8]);
    const summed = make(() => undefined);
    new GradClippingCallback(1).onAfterBackward(summed); // norm 50 clipped to 1 x 10
    close(values(summed.grads!.g), [6, 8]);
  });
});

// ---- small models with known behaviour ----

/** A stateless "bigram" model from scratch: logits = onehot(x_t) W. Its state is carried unchanged. */
function bigramNet(V: number, W0: number[][]): RNNModelScratch {
  const forward: ForwardFn = (inputs, state, params) => {
    const [T, b] = inputs.shape as [number, number, number];
    return [tf.matMul(tf.reshape(inputs, [T * b, V]), params[0]), state];
  };
  return new RNNModelScratch(
    V,
    1,
    "cpu",
    () => [tf.variable(tf.tensor2d(W0))],
    (b) => [tf.zeros([b, 1])],
    forward,
  );
}

describe("predictCh8", () => {
  test("returns the prefix and numPreds characters, each the model's best next character", async () => {
    const vocab = new Vocab([..."abcd"]); // <unk>, a, b, c, d
    const V = vocab.length;
    // next(a)=b, next(b)=c, next(c)=d, next(d)=a
    const W0 = Array.from({ length: V }, (_, i) => Array.from({ length: V }, (_, j) => (i >= 1 && j === (i % 4) + 1 ? 5 : 0)));
    const net = bigramNet(V, W0);
    const before = tf.memory().numTensors;
    assert.equal(await predictCh8("ab", 6, net, vocab), "ab" + "cdabcd");
    assert.equal(await predictCh8("d", 0, net, vocab), "d");
    assert.equal(tf.memory().numTensors, before, "no tensors left behind");
    await assert.rejects(predictCh8("", 3, net, vocab), /prefix must be a non-empty string/);
  });
});

describe("trainEpochCh8 and trainCh8", () => {
  test("perplexity is exp(mean cross-entropy per token), computed by hand for a fixed model", async () => {
    const vocab = new Vocab([..."abc"]);
    const V = vocab.length; // 4
    const W0 = [
      [0, 0.5, -1, 2],
      [1, 0, 0.3, -0.2],
      [0.1, 0.2, 0.3, 0.4],
      [-1, 2, 0, 1],
    ];
    const net = bigramNet(V, W0);
    const corpus = Array.from({ length: 200 }, (_, i) => [1, 2, 3, 1, 1, 3, 2][i % 7]);
    const loader = SeqDataLoader.fromCorpus(corpus, vocab, 3, 5, false, 11);
    // the tokens the epoch will see, from a second loader with the same seed
    const twin = SeqDataLoader.fromCorpus(corpus, vocab, 3, 5, false, 11);
    let sum = 0;
    let n = 0;
    for await (const [X, Y] of twin) {
      const x = X.arraySync() as number[][];
      const y = Y.arraySync() as number[][];
      tf.dispose([X, Y]);
      x.forEach((r, i) =>
        r.forEach((tok, t) => {
          const logits = W0[tok];
          const lse = Math.log(logits.reduce((s, l) => s + Math.exp(l), 0));
          sum += lse - logits[y[i][t]];
          n++;
        }),
      );
    }
    const loss = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(y, "int32"), V), yHat, undefined, 0, tf.Reduction.NONE);
    const noUpdate = (): void => undefined; // the weights stay as given
    const [ppl, speed] = await trainEpochCh8(net, loader, loss, noUpdate, "cpu", false);
    assert.ok(Math.abs(ppl - Math.exp(sum / n)) < 1e-4 * ppl, `perplexity ${ppl}, by hand ${Math.exp(sum / n)}`);
    assert.ok(speed > 0);
  });

  test("sequential sampling carries the state from batch to batch; random sampling starts every batch from zeros", async () => {
    const vocab = new Vocab([..."ab"]);
    const V = vocab.length;
    for (const random of [false, true]) {
      const seen: number[] = [];
      // the state counts the batches it went through: h + 1 per call
      const forward: ForwardFn = (inputs, state, params) => {
        const [T, b] = inputs.shape as [number, number, number];
        seen.push(state[0].dataSync()[0]);
        return [tf.matMul(tf.reshape(inputs, [T * b, V]), params[0]), [tf.add(state[0], 1)]];
      };
      const net = new RNNModelScratch(
        V,
        1,
        "cpu",
        () => [tf.variable(tf.zeros([V, V]))],
        (b) => [tf.zeros([b, 1])],
        forward,
      );
      const loader = SeqDataLoader.fromCorpus(
        Array.from({ length: 100 }, (_, i) => 1 + (i % 2)),
        vocab,
        2,
        4,
        random,
        5,
      );
      await trainCh8(net, loader, vocab, 0.1, 2, "cpu", random, { animator: false, progress: false, verbose: false });
      const perEpoch = seen.length / 2;
      const expected = random ? seen.map(() => 0) : [...Array(perEpoch).keys(), ...Array(perEpoch).keys()];
      assert.deepEqual(seen, expected, random ? "zeros every batch" : "0, 1, 2, ... in each epoch (a fresh state per epoch)");
    }
  });

  test("trainCh8 on a tiny corpus lowers the perplexity, returns it per epoch, and leaks no tensors across epochs", async () => {
    const text = "the cat sat on the mat ".repeat(20);
    const vocab = new Vocab([...text]);
    const corpus = vocab.toIndices([...text]);
    const loader = SeqDataLoader.fromCorpus(corpus, vocab, 4, 8, false, 1);
    const net = new RNNModel(tf.layers.simpleRNN({ units: 32, returnSequences: true, returnState: true, recurrentInitializer: "glorotUniform" }), vocab.length);
    const counts: number[] = [];
    const r = await trainCh8(net, loader, vocab, 1, 30, "cpu", false, {
      animator: false,
      progress: false,
      verbose: false,
      callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }],
    });
    assert.equal(r.perplexities.length, 30);
    assert.equal(r.perplexity, r.perplexities[29]);
    assert.ok(r.perplexities[0] > 2 * r.perplexity, `first epoch ${r.perplexities[0]}, last ${r.perplexity}`);
    assert.ok(r.perplexity < 2, `a repeated sentence is nearly predictable: perplexity ${r.perplexity}`);
    assert.ok(r.tokensPerSec > 0);
    assert.deepEqual(
      counts.slice(1),
      counts.slice(1).map(() => counts[1]),
      `tensors after each epoch: ${counts.join(", ")}`,
    );
    assert.equal(await predictCh8("the c", 5, net, vocab), "the cat sa");
  });

  test("bad arguments are clear errors", async () => {
    const vocab = new Vocab([..."ab"]);
    const loader = SeqDataLoader.fromCorpus(
      Array.from({ length: 100 }, (_, i) => 1 + (i % 2)),
      vocab,
      2,
      4,
    );
    await assert.rejects(trainCh8({} as RNNModel, loader, vocab, 1, 1), /expected a recurrent net with call\(X, state\), beginState\(batchSize\) and params/);
    const net = bigramNet(vocab.length, [
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    await assert.rejects(trainCh8(net, loader, vocab, -1, 1), /lr must be a positive number/);
    await assert.rejects(trainCh8(net, loader, vocab, 1, 0), /numEpochs must be a positive integer/);
  });
});

describe("RNNModel", () => {
  const V = 7;
  const X = tf.tensor2d(
    [
      [1, 2, 3, 4],
      [5, 6, 0, 1],
    ],
    [2, 4],
    "int32",
  );
  const make = {
    simpleRNN: () => tf.layers.simpleRNN({ units: 5, returnSequences: true, returnState: true }),
    gru: () => tf.layers.gru({ units: 5, returnSequences: true, returnState: true, recurrentActivation: "sigmoid" }),
    lstm: () => tf.layers.lstm({ units: 5, returnSequences: true, returnState: true }),
  };

  for (const [kind, states] of [
    ["simpleRNN", 1],
    ["gru", 1],
    ["lstm", 2],
  ] as const) {
    test(`works with tf.layers.${kind}: logits [steps * batch, vocab] time step by time step, ${states} state tensor(s)`, () => {
      const net = new RNNModel(make[kind](), V);
      assert.equal(net.numHiddens, 5);
      assert.ok(net.params.length >= 3, "the layers are built in the constructor");
      const state = net.beginState(2);
      assert.equal(state.length, states);
      state.forEach((s) => assert.deepEqual(s.shape, [2, 5]));
      const [Y, newState] = net.call(X, state);
      assert.deepEqual(Y.shape, [8, V]);
      assert.equal(newState.length, states);
      // row t * batch + i is step t of sequence i: the same as running sequence i alone
      const Yt = Y.reshape([4, 2, V]);
      for (let i = 0; i < 2; i++) {
        const [Yi, si] = net.call(X.slice([i, 0], [1, 4]), net.beginState(1));
        close(values(Yt.slice([0, i, 0], [4, 1, V])), values(Yi), 1e-5);
        close(values(newState[0].slice([i, 0], [1, 5])), values(si[0]), 1e-5);
      }
      // the state carries: two halves with the state passed on give the whole
      const [Y1, s1] = net.call(X.slice([0, 0], [2, 2]), net.beginState(2));
      const [Y2] = net.call(X.slice([0, 2], [2, 2]), s1);
      close(values(tf.concat([Y1, Y2], 0)), values(Y), 1e-5);
    });
  }

  test("stacked layers (a deep RNN) and a bidirectional layer", () => {
    const deep = new RNNModel([make.lstm(), make.lstm()], V);
    const s = deep.beginState(2);
    assert.equal(s.length, 4, "[H1, C1, H2, C2]");
    const [Y, ns] = deep.call(X, s);
    assert.deepEqual(Y.shape, [8, V]);
    assert.equal(ns.length, 4);
    const bi = new RNNModel(tf.layers.bidirectional({ layer: make.gru() as tf.RNN }), V);
    assert.equal(bi.numDirections, 2);
    assert.equal(bi.numHiddens, 5);
    const bs = bi.beginState(2);
    assert.equal(bs.length, 2, "forward H, backward H");
    const [Yb, nbs] = bi.call(X, bs);
    assert.deepEqual(Yb.shape, [8, V]);
    assert.equal(nbs.length, 2);
    const stacked = new RNNModel(tf.layers.rnn({ cell: [tf.layers.gruCell({ units: 5 }), tf.layers.gruCell({ units: 5 })], returnSequences: true, returnState: true }), V);
    assert.equal(stacked.beginState(3).length, 2);
    assert.deepEqual(stacked.call(X, stacked.beginState(2))[0].shape, [8, V]);
  });

  test("clear errors: a layer without returnState, one-hot input, a wrong state", () => {
    assert.throws(
      () => new RNNModel(tf.layers.gru({ units: 4, returnSequences: true }), V),
      /must return its sequence and its state: build it with returnSequences: true and returnState: true/,
    );
    assert.throws(() => new RNNModel(tf.layers.dense({ units: 4 }), V), /is not a recurrent layer/);
    const net = new RNNModel(make.lstm(), V);
    assert.throws(() => net.call(tf.oneHot(X, V), net.beginState(2)), /token indices of shape \[batchSize, numSteps\].*looks one-hot/);
    assert.throws(() => net.call(X, net.beginState(3)), /must be 2 tensor\(s\) of shape \[2,5\], \[2,5\], got \[3,5\], \[3,5\]; start from net\.beginState\(2\)/);
  });
});
