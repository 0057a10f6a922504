/**
 * `d2l.optim` against `torch.optim` 1.13: each optimizer's parameter trajectory
 * on a fixed least-squares problem (10 steps, several settings each, with a
 * constant and with a changing learning rate) equals torch's within 1e-5. The
 * reference trajectories come from test/fixtures/torch/optim.py (Debian's
 * python3-torch), committed as optim.json; this test only reads the JSON.
 * Also: getWeights/setWeights resume bit for bit, the engine trains with them,
 * tf.memory stays steady, bad options get clear errors.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/optim.json");

interface Case {
  optimizer: Name;
  options: Record<string, unknown>;
  lrs: number[] | null;
  trajectory: { W: number[]; b: number[] }[];
}
interface Fixture {
  torch: string;
  problem: { X: number[][]; Y: number[][]; W0: number[][]; b0: number[] };
  steps: number;
  cases: Case[];
}

const MAKERS = {
  SGD: (o: Record<string, unknown>) => new d2l.optim.SGD(o as unknown as d2l.optim.SGDOptions),
  Adagrad: (o: Record<string, unknown>) => new d2l.optim.Adagrad(o as d2l.optim.AdagradOptions),
  RMSprop: (o: Record<string, unknown>) => new d2l.optim.RMSprop(o as d2l.optim.RMSpropOptions),
  Adadelta: (o: Record<string, unknown>) => new d2l.optim.Adadelta(o as d2l.optim.AdadeltaOptions),
  Adam: (o: Record<string, unknown>) => new d2l.optim.Adam(o as d2l.optim.AdamOptions),
  AdamW: (o: Record<string, unknown>) => new d2l.optim.AdamW(o as d2l.optim.AdamOptions),
  Adamax: (o: Record<string, unknown>) => new d2l.optim.Adamax(o as d2l.optim.AdamaxOptions),
};
type Name = keyof typeof MAKERS;

let fx: Fixture;
let X: tf.Tensor2D;
let Y: tf.Tensor2D;

before(async () => {
  await tf.setBackend("cpu");
  fx = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as Fixture;
  X = tf.tensor2d(fx.problem.X);
  Y = tf.tensor2d(fx.problem.Y);
});

function label(c: Case): string {
  return `${c.optimizer}(${JSON.stringify(c.options)})${c.lrs ? " with a changing lr" : ""}`;
}

/** The fixture's problem: parameters W, b (named, if asked) and its loss. */
function problem(names?: [string, string], W0?: tf.Tensor, b0?: tf.Tensor): { W: tf.Variable; b: tf.Variable; loss: () => tf.Scalar } {
  const w0 = W0 ?? tf.tensor2d(fx.problem.W0);
  const bb0 = b0 ?? tf.tensor1d(fx.problem.b0);
  const W = tf.variable(w0, true, names?.[0]);
  const b = tf.variable(bb0, true, names?.[1]);
  tf.dispose([w0, bb0]);
  const loss = (): tf.Scalar => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(X, W), b), Y)));
  return { W, b, loss };
}

/** One step as the engine takes it: gradients keyed by variable name, then applyGradients. */
function step(opt: d2l.optim.Optimizer, p: ReturnType<typeof problem>, c: Case, t: number): void {
  if (c.lrs) {
    // both ways a scheduler may set it
    if (t % 2 === 0) opt.learningRate = c.lrs[t];
    else opt.setLearningRate(c.lrs[t]);
  }
  const { value, grads } = tf.variableGrads(p.loss, [p.W, p.b]);
  opt.applyGradients(grads);
  value.dispose();
  tf.dispose(grads);
}

test("the fixture covers every optimizer, with and without a changing learning rate", () => {
  assert.match(fx.torch, /^1\.13/);
  for (const name of Object.keys(MAKERS)) {
    assert.ok(
      fx.cases.some((c) => c.optimizer === name && c.lrs === null),
      `${name} with a constant lr`,
    );
    assert.ok(
      fx.cases.some((c) => c.optimizer === name && c.lrs !== null),
      `${name} with a changing lr`,
    );
  }
});

test("each optimizer's trajectory equals torch.optim's within 1e-5 (10 steps, every setting, constant and changing lr)", () => {
  const report: string[] = [];
  let worst = 0;
  for (const c of fx.cases) {
    const p = problem();
    const opt = MAKERS[c.optimizer](c.options);
    let maxDiff = 0;
    for (let t = 0; t < fx.steps; t++) {
      step(opt, p, c, t);
      const got = [...p.W.dataSync(), ...p.b.dataSync()];
      const want = [...c.trajectory[t].W, ...c.trajectory[t].b];
      const d = Math.max(...got.map((g, i) => Math.abs(g - want[i])));
      maxDiff = Math.max(maxDiff, d);
      assert.ok(d <= 1e-5, `${label(c)} step ${t + 1}: max |d2l - torch| = ${d.toExponential(2)}\n  d2l:   ${got.join(", ")}\n  torch: ${want.join(", ")}`);
    }
    // the problem moves: a trajectory that stood still would prove little
    const moved = Math.abs(c.trajectory[fx.steps - 1].W[0] - fx.problem.W0[0][0]);
    assert.ok(moved > 1e-3, `${label(c)} barely moves (${moved}); pick a larger lr in optim.py`);
    worst = Math.max(worst, maxDiff);
    report.push(`${label(c)}: ${maxDiff.toExponential(2)}`);
    opt.dispose();
    tf.dispose([p.W, p.b]);
  }
  console.log(`max |d2l - torch| over 10 steps, per case (worst ${worst.toExponential(2)}):\n  ${report.join("\n  ")}`);
});

test("getWeights after 5 steps, setWeights into a fresh optimizer, 5 more steps: bit for bit the 10 uninterrupted steps", async () => {
  const names: [string, string] = ["optimResume/W", "optimResume/b"];
  for (const c of fx.cases) {
    // 10 steps straight
    let p = problem(names);
    let opt = MAKERS[c.optimizer](c.options);
    for (let t = 0; t < 10; t++) step(opt, p, c, t);
    const want = [p.W.dataSync().slice(), p.b.dataSync().slice()];
    opt.dispose();
    tf.dispose([p.W, p.b]);

    // 5 steps, then "save" everything to plain arrays (what a checkpoint file holds)
    p = problem(names);
    opt = MAKERS[c.optimizer](c.options);
    for (let t = 0; t < 5; t++) step(opt, p, c, t);
    const weights = await opt.getWeights();
    const file = await Promise.all(weights.map(async ({ name, tensor }) => ({ name, dtype: tensor.dtype, shape: tensor.shape, values: await tensor.data() })));
    tf.dispose(weights.map((w) => w.tensor));
    const params = [p.W.dataSync().slice(), p.b.dataSync().slice()];
    opt.dispose();
    tf.dispose([p.W, p.b]);

    // a fresh optimizer, made with another lr (the saved one must come back), loads them and goes on
    p = problem(names, tf.tensor2d(params[0], [3, 2]), tf.tensor1d(params[1]));
    const lr0 = opt.learningRate;
    opt = MAKERS[c.optimizer]({ ...c.options, lr: 0.123 });
    const loaded = file.map(({ name, dtype, shape, values }) => ({ name, tensor: tf.tensor(values, shape, dtype) }));
    await opt.setWeights(loaded);
    tf.dispose(loaded.map((w) => w.tensor));
    assert.equal(opt.learningRate, lr0, `${label(c)}: the learning rate comes back exactly`);
    assert.equal(opt.iterations, 5);
    for (let t = 5; t < 10; t++) step(opt, p, c, t);
    assert.deepEqual([p.W.dataSync(), p.b.dataSync()], want, `${label(c)}: resumed run differs from the uninterrupted one`);
    opt.dispose();
    tf.dispose([p.W, p.b]);
  }
});

test("getWeights names every state under torch's names, per variable", async () => {
  const p = problem(["optimNames/W", "optimNames/b"]);
  const opt = new d2l.optim.Adam({ lr: 0.01, amsgrad: true });
  const c: Case = { optimizer: "Adam", options: {}, lrs: null, trajectory: [] };
  step(opt, p, c, 0);
  step(opt, p, c, 1);
  const ws = await opt.getWeights();
  assert.deepEqual(
    ws.map((w) => w.name),
    [
      "iter",
      "lr",
      "optimNames/W/step",
      "optimNames/W/exp_avg",
      "optimNames/W/exp_avg_sq",
      "optimNames/W/max_exp_avg_sq",
      "optimNames/b/step",
      "optimNames/b/exp_avg",
      "optimNames/b/exp_avg_sq",
      "optimNames/b/max_exp_avg_sq",
    ],
  );
  assert.equal((await ws[0].tensor.data())[0], 2);
  assert.equal((await ws[2].tensor.data())[0], 2);
  assert.ok(
    ws.every((w) => !(w.tensor instanceof tf.Variable)),
    "copies, which the caller owns",
  );
  tf.dispose(ws.map((w) => w.tensor));
  // tfjs' own optimizer's names are not Adam's state here: a clear error, and nothing changes
  const before = await opt.getWeights();
  const foreign = [{ name: "optimNames/W/m", tensor: tf.zeros([3, 2]) }];
  await assert.rejects(opt.setWeights(foreign), /"optimNames\/W\/m" is not state of Adam.*another optimizer/);
  const after = await opt.getWeights();
  assert.deepEqual(
    after.map((w) => w.name),
    before.map((w) => w.name),
  );
  tf.dispose([...before, ...after, ...foreign].map((w) => w.tensor));
  opt.dispose();
  tf.dispose([p.W, p.b]);
});

test("tf.memory().numTensors stays steady across steps, getWeights/setWeights (as the engine does them) and dispose", async () => {
  const settings: [Name, Record<string, unknown>][] = [
    ["SGD", { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }],
    ["SGD", { lr: 0.1 }],
    ["Adagrad", { lr: 0.1, lrDecay: 0.01, weightDecay: 0.01 }],
    ["RMSprop", { lr: 0.01, momentum: 0.9, centered: true, weightDecay: 0.01 }],
    ["Adadelta", { weightDecay: 0.01 }],
    ["Adam", { lr: 0.01, amsgrad: true, weightDecay: 0.01 }],
    ["AdamW", { lr: 0.01, amsgrad: true }],
    ["Adamax", { lr: 0.01, weightDecay: 0.01 }],
  ];
  for (const [name, options] of settings) {
    const c: Case = { optimizer: name, options, lrs: [0.01, 0.02, 0.03, 0.01, 0.02, 0.03, 0.01, 0.02, 0.03, 0.01], trajectory: [] };
    const start = tf.memory().numTensors;
    const p = problem();
    const opt = MAKERS[name](options);
    step(opt, p, c, 0);
    step(opt, p, c, 1);
    const warm = tf.memory().numTensors;
    for (let t = 2; t < 8; t++) step(opt, p, c, t);
    assert.equal(tf.memory().numTensors, warm, `${name} ${JSON.stringify(options)}: steps leak tensors`);
    // the engine's GoodWeights: keep (clone, dispose the non-variables) ...
    const live0 = await opt.getWeights();
    const kept = live0.map(({ name: n, tensor }) => ({ name: n, tensor: tf.clone(tensor) }));
    for (const { tensor } of live0) if (!(tensor instanceof tf.Variable)) tensor.dispose();
    step(opt, p, c, 8);
    // ... and put back (setWeights from clones, dispose the clones and what getWeights returned)
    const live = await opt.getWeights();
    const given = kept.map(({ name: n, tensor }) => ({ name: n, tensor: tf.clone(tensor) }));
    await opt.setWeights(given);
    tf.dispose(given.map((w) => w.tensor));
    tf.dispose(live.map((w) => w.tensor));
    tf.dispose(kept.map((w) => w.tensor));
    assert.equal(tf.memory().numTensors, warm, `${name}: getWeights/setWeights leak tensors`);
    step(opt, p, c, 9);
    assert.equal(tf.memory().numTensors, warm);
    opt.dispose();
    tf.dispose([p.W, p.b]);
    assert.equal(tf.memory().numTensors, start, `${name}: dispose() leaves tensors behind`);
  }
});

/** Batches of 8 in order, fresh tensors each epoch (the engine disposes each batch). */
function batches(Xs: tf.Tensor2D, ys: tf.Tensor1D): d2l.BatchIter {
  const n = Xs.shape[0];
  return {
    numExamples: n,
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < n; i += 8) yield [Xs.slice([i, 0], [8, -1]), ys.slice([i], [8])];
    },
  };
}

test("the engine trains with each optimizer (d2l.fit on a tiny regression, the loss falls), and with a LayersModel", async () => {
  const Xs = tf.randomNormal([64, 3], 0, 1, "float32", 7) as tf.Tensor2D;
  const w = tf.tensor2d([[2], [-3.4], [1.5]]);
  const ys = tf.add(tf.matMul(Xs, w).reshape([-1]), 4.2) as tf.Tensor1D;
  const loss = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.square(tf.sub(yHat.reshape([-1]), y));
  const opts: d2l.optim.Optimizer[] = [
    new d2l.optim.SGD({ lr: 0.05, momentum: 0.9 }),
    new d2l.optim.Adagrad({ lr: 0.5 }),
    new d2l.optim.RMSprop({ lr: 0.05 }),
    new d2l.optim.Adadelta({ lr: 100 }),
    new d2l.optim.Adam({ lr: 0.1 }),
    new d2l.optim.AdamW({ lr: 0.1 }),
    new d2l.optim.Adamax({ lr: 0.1 }),
  ];
  for (const opt of opts) {
    const W = tf.variable(tf.zeros([3, 1]));
    const b = tf.variable(tf.zeros([1]));
    const net = (x: tf.Tensor): tf.Tensor => tf.add(tf.matMul(x, W), b);
    const trainIter = batches(Xs, ys);
    const r = await d2l.fit({ net, loss, updater: opt, trainIter, numEpochs: 4, accuracy: false, params: [W, b] });
    const first = r.history[0].trainLoss;
    const last = r.history[r.history.length - 1].trainLoss;
    assert.ok(last < first / 2, `${opt.getClassName()}: the loss went from ${first} to ${last}`);
    opt.dispose();
    tf.dispose([W, b]);
  }
  // a LayersModel's variables (names like dense_Dense1/kernel) and a learning rate changed between fits
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [3] })] });
  const opt = new d2l.optim.Adam({ lr: 0.1 });
  const trainIter = batches(Xs, ys);
  const r1 = await d2l.fit({ net: model, loss, updater: opt, trainIter, numEpochs: 3, accuracy: false });
  opt.setLearningRate(0.05);
  const r2 = await d2l.fit({ net: model, loss, updater: opt, trainIter, numEpochs: 3, accuracy: false });
  assert.ok(r2.trainLoss < r1.history[0].trainLoss / 2, `LayersModel: ${r1.history[0].trainLoss} -> ${r2.trainLoss}`);
  const names = (await opt.getWeights()).map((x) => {
    x.tensor.dispose();
    return x.name;
  });
  assert.ok(
    names.some((n) => /kernel\/exp_avg$/.test(n)),
    names.join(", "),
  );
  opt.dispose();
  model.dispose();
  tf.dispose([Xs, w, ys]);
});

test("a NaN loss: the engine puts back the weights and this optimizer's state of the last good read", async () => {
  const Xs = tf.randomNormal([64, 3], 0, 1, "float32", 3) as tf.Tensor2D;
  const ys = tf.mul(tf.sum(Xs, 1), 1e3) as tf.Tensor1D;
  const loss = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.square(tf.sub(yHat.reshape([-1]), y));
  const W = tf.variable(tf.zeros([3, 1]));
  const net = (x: tf.Tensor): tf.Tensor => tf.matMul(x, W);
  const opt = new d2l.optim.Adam({ lr: 0.01 });
  // a good epoch, read at its end: the engine keeps that state
  await d2l.fit({ net, loss, updater: opt, trainIter: batches(Xs, ys), numEpochs: 1, accuracy: false, params: [W] });
  opt.setLearningRate(1e30); // blows up within the next epoch
  // the state the engine keeps when the next fit starts (its last good read)
  const good = (await opt.getWeights()).map((w) => ({ name: w.name, values: Array.from(w.tensor.dataSync()), t: w.tensor }));
  tf.dispose(good.map((g) => g.t));
  const goodW = Array.from(W.dataSync());
  const before = tf.memory().numTensors;
  await assert.rejects(d2l.fit({ net, loss, updater: opt, trainIter: batches(Xs, ys), numEpochs: 1, accuracy: false, params: [W] }), /loss became (NaN|Infinity)/);
  assert.deepEqual(Array.from(W.dataSync()), goodW);
  const back = await opt.getWeights();
  assert.deepEqual(
    back.map((w) => ({ name: w.name, values: Array.from(w.tensor.dataSync()) })),
    good.map(({ name, values }) => ({ name, values })),
  );
  tf.dispose(back.map((w) => w.tensor));
  assert.equal(opt.learningRate, 1e30, "the learning rate of the good read comes back with the state");
  assert.equal(opt.iterations, 8, "so does the update count (8 batches of the good epoch)");
  assert.equal(tf.memory().numTensors, before, "the fit that failed leaves no tensors behind");
  opt.dispose();
  tf.dispose([Xs, ys, W]);
});

test("tf.Optimizer's own API works: instanceof, minimize, getClassName, getConfig", () => {
  const opt = new d2l.optim.SGD({ lr: 0.1, momentum: 0.5 });
  assert.ok(opt instanceof tf.Optimizer);
  const v = tf.variable(tf.tensor1d([1, -2]));
  const cost = opt.minimize(() => tf.sum(tf.square(v)), true);
  assert.ok(cost !== null);
  assert.ok(Math.abs(cost.dataSync()[0] - 5) < 1e-6);
  cost.dispose();
  assert.deepEqual(Array.from(v.dataSync()), [0.8, -1.6].map(Math.fround));
  assert.equal(opt.getClassName(), "d2l.optim.SGD");
  assert.deepEqual(opt.getConfig(), { lr: 0.1, momentum: 0.5, dampening: 0, weightDecay: 0, nesterov: false, maximize: false });
  assert.deepEqual(new d2l.optim.AdamW().getConfig(), { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false });
  opt.dispose();
  v.dispose();
});

test("bad options and bad calls get errors that say what to pass", () => {
  assert.throws(() => new d2l.optim.SGD({ lr: -0.1 }), /learning rate must be a finite number ≥ 0.*got -0\.1/);
  assert.throws(() => new d2l.optim.SGD({} as d2l.optim.SGDOptions), /SGD needs a learning rate.*\{ lr: 0\.1 \}/);
  assert.throws(() => new d2l.optim.SGD({ lr: 0.1, nesterov: true }), /Nesterov momentum needs momentum > 0 and dampening 0/);
  assert.throws(() => new d2l.optim.SGD({ lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /Nesterov/);
  assert.throws(() => new d2l.optim.SGD({ lr: 0.1, momentum: -1 }), /momentum must be a number ≥ 0; got -1/);
  assert.throws(() => new d2l.optim.SGD({ lr: 0.1, weight_decay: 0.1 } as unknown as d2l.optim.SGDOptions), /unknown option weight_decay.*weightDecay/);
  assert.throws(() => new d2l.optim.Adam({ betas: [0.9, 1] }), /betas must be two numbers in \[0, 1\).*got \[0\.9,1\]/);
  assert.throws(() => new d2l.optim.Adam({ betas: [-0.1, 0.9] }), /betas/);
  assert.throws(() => new d2l.optim.AdamW({ eps: -1 }), /eps must be a number ≥ 0/);
  assert.throws(() => new d2l.optim.Adadelta({ rho: 1.5 }), /rho must be a number in \[0, 1\]/);
  assert.throws(() => new d2l.optim.Adagrad({ initialAccumulatorValue: -1 }), /initialAccumulatorValue/);
  assert.throws(() => new d2l.optim.RMSprop({ centered: 1 as unknown as boolean }), /centered must be true or false/);
  assert.throws(() => new d2l.optim.Adam(0.01 as unknown as d2l.optim.AdamOptions), /takes an options object, like new d2l\.optim\.Adam\(\{ lr: 1e-3/);
  const opt = new d2l.optim.RMSprop();
  assert.throws(() => {
    opt.learningRate = -1;
  }, /learning rate must be/);
  assert.throws(() => opt.setLearningRate(NaN), /learning rate must be/);
  assert.equal(opt.learningRate, 1e-2);
  opt.setLearningRate(0); // a schedule may reach 0
  assert.equal(opt.learningRate, 0);
  assert.throws(() => opt.applyGradients({ "no such variable": tf.zeros([1]) }), /no variable has that name/);
  const v = tf.variable(tf.zeros([2]));
  assert.throws(() => opt.applyGradients({ [v.name]: tf.zeros([3]) }), /has shape \[3\] but the variable has shape \[2\]/);
  v.dispose();
});
