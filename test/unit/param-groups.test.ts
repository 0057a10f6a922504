/**
 * d2l.optim.ParamGroups against torch.optim with two parameter groups (the book's fine-tuning optimizer,
 * ch. 13.2): the reference trajectories come from torch 1.13 (`test/fixtures/torch/param_groups.py`,
 * Debian's python3-torch), committed as param_groups.json; this test only reads the JSON. Also: a
 * checkpoint-style getWeights/setWeights round trip continues the trajectory, and the bad-input errors.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";

interface Case {
  name: "SGD" | "Adam";
  torch: { lr: number; momentum?: number; weight_decay?: number };
  headScale: number;
  scaleAt?: number;
  W: number[][];
  b: number[][];
}
interface Fixture {
  X: number[];
  Y: number[];
  W0: number[];
  b0: number[];
  steps: number;
  torchVersion: string;
  cases: Case[];
}

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/param_groups.json");
let fx: Fixture;
let X: tf.Tensor2D;
let Y: tf.Tensor2D;

before(async () => {
  await tf.setBackend("cpu");
  fx = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as Fixture;
  X = tf.tensor2d(fx.X, [6, 3]);
  Y = tf.tensor2d(fx.Y, [6, 2]);
});

function make(c: Case, lr: number): d2l.optim.Optimizer {
  const o = { lr, weightDecay: c.torch.weight_decay ?? 0 };
  return c.name === "SGD" ? new d2l.optim.SGD({ ...o, momentum: c.torch.momentum ?? 0 }) : new d2l.optim.Adam(o);
}

function setup(c: Case): { W: tf.Variable; b: tf.Variable; opt: d2l.optim.ParamGroups; loss: () => tf.Scalar } {
  const W = tf.variable(tf.tensor2d(fx.W0, [3, 2]));
  const b = tf.variable(tf.tensor1d(fx.b0));
  const opt = new d2l.optim.ParamGroups([
    { params: [W], optimizer: make(c, c.torch.lr) },
    { params: [b], optimizer: make(c, c.torch.lr * c.headScale) },
  ]);
  const loss = (): tf.Scalar => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(X, W), b), Y)));
  return { W, b, opt, loss };
}

function step(s: ReturnType<typeof setup>, c: Case, t: number): void {
  if (c.scaleAt === t) s.opt.setLearningRate((s.opt.learningRate as number) * 0.5);
  const { value, grads } = tf.variableGrads(s.loss, [s.W, s.b]);
  s.opt.applyGradients(grads);
  tf.dispose([value, ...Object.values(grads)]);
}

function maxDiff(got: ArrayLike<number>, want: number[]): number {
  assert.equal(got.length, want.length);
  let d = 0;
  for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
  return d;
}

test("the fixture comes from torch 1.13 and holds SGD with momentum and weight decay, a changed rate, and Adam", () => {
  assert.match(fx.torchVersion, /^1\.13/);
  assert.deepEqual(
    fx.cases.map((c) => c.name),
    ["SGD", "SGD", "Adam"],
  );
  assert.ok(fx.cases.some((c) => c.scaleAt !== undefined));
});

test("ParamGroups' trajectories equal torch's param_groups within 1e-5 (the head at 10x the body's rate)", () => {
  for (const c of fx.cases) {
    const s = setup(c);
    for (let t = 0; t < fx.steps; t++) {
      step(s, c, t);
      const dW = maxDiff(s.W.dataSync(), c.W[t]);
      const db = maxDiff(s.b.dataSync(), c.b[t]);
      assert.ok(dW <= 1e-5 && db <= 1e-5, `${c.name}(${JSON.stringify(c.torch)}) step ${t + 1}: |W - torch| ${dW.toExponential(2)}, |b - torch| ${db.toExponential(2)}`);
    }
    // the ratio of the groups' rates is kept when the rate changes
    const lr0 = s.opt.groupLearningRate(0) as number;
    assert.ok(Math.abs((s.opt.groupLearningRate(1) as number) / lr0 - c.headScale) < 1e-9);
    s.opt.dispose();
    tf.dispose([s.W, s.b]);
  }
});

test("getWeights / setWeights: a fresh ParamGroups given the saved state continues torch's trajectory", async () => {
  const c = fx.cases[2]; // Adam: step counts and two moments per variable
  const s = setup(c);
  for (let t = 0; t < 4; t++) step(s, c, t);
  const saved = await s.opt.getWeights();
  assert.ok(saved.some((w) => w.name === "group0/iter") && saved.some((w) => w.name === "group1/lr"));
  assert.ok(saved.some((w) => w.name === `${s.W.name}/exp_avg`) && saved.some((w) => w.name === `${s.b.name}/exp_avg_sq`));
  const fresh = new d2l.optim.ParamGroups([
    { params: [s.W], optimizer: make(c, 1) },
    { params: [s.b], optimizer: make(c, 1) },
  ]);
  await fresh.setWeights(saved);
  tf.dispose(saved.map((w) => w.tensor));
  assert.equal(fresh.groupLearningRate(0), c.torch.lr);
  assert.equal(fresh.groupLearningRate(1), c.torch.lr * c.headScale);
  const r = { ...s, opt: fresh };
  for (let t = 4; t < fx.steps; t++) {
    step(r, c, t);
    assert.ok(maxDiff(s.W.dataSync(), c.W[t]) <= 1e-5 && maxDiff(s.b.dataSync(), c.b[t]) <= 1e-5, `step ${t + 1} after the restore`);
  }
});

test("ParamGroups: bad groups and a gradient of a variable in no group are errors that say what to do", () => {
  const W = tf.variable(tf.zeros([2]));
  const b = tf.variable(tf.zeros([1]));
  const sgd = (): d2l.optim.SGD => new d2l.optim.SGD({ lr: 0.1 });
  assert.throws(() => new d2l.optim.ParamGroups([]), /non-empty list of \{ params, optimizer \}/);
  assert.throws(() => new d2l.optim.ParamGroups([{ params: [W], optimizer: {} as tf.Optimizer }]), /group 0's optimizer must be a tf\.Optimizer/);
  assert.throws(
    () =>
      new d2l.optim.ParamGroups([
        { params: [W], optimizer: sgd() },
        { params: [W], optimizer: sgd() },
      ]),
    /is in group 0 and in group 1; put each variable in one group/,
  );
  const shared = sgd();
  assert.throws(
    () =>
      new d2l.optim.ParamGroups([
        { params: [W], optimizer: shared },
        { params: [b], optimizer: shared },
      ]),
    /share one optimizer/,
  );
  const opt = new d2l.optim.ParamGroups([{ params: [W], optimizer: sgd() }]);
  assert.throws(() => opt.applyGradients({ [b.name]: tf.ones([1]) }), /which is in no group; add it to a group's params, or freeze its layer/);
  assert.throws(() => (opt.learningRate = -1), /must be a number >= 0/);
  assert.throws(() => opt.groupLearningRate(3), /there are groups 0 to 0, not 3/);
});

test("ParamGroups trains a LayersModel's body and head through d2l.fit, the head moving faster", async () => {
  const net = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: "relu" }), tf.layers.dense({ units: 3 })] });
  const head = net.layers[1];
  const body = net.trainableWeights.filter((w) => !head.trainableWeights.includes(w));
  const before = net.getWeights().map((w) => w.dataSync().slice());
  const Xs = tf.randomNormal([32, 4], 0, 1, "float32", 1);
  const ys = tf.tensor1d(
    Array.from({ length: 32 }, (_, i) => i % 3),
    "int32",
  );
  const updater = new d2l.optim.ParamGroups([
    { params: body, optimizer: new d2l.optim.SGD({ lr: 0.001 }) },
    { params: head.trainableWeights, optimizer: new d2l.optim.SGD({ lr: 0.1 }) },
  ]);
  await d2l.fit({ net, loss: (a, b) => d2l.losses.crossEntropy(a, b, { reduction: "none" }), updater, trainIter: d2l.loadArray([Xs, ys], 8), numEpochs: 2 });
  const moved = net.getWeights().map((w, i) => maxDiff(w.dataSync(), Array.from(before[i])));
  assert.ok(
    moved.every((m) => m > 0),
    `every weight moved: ${moved.join(", ")}`,
  );
  assert.ok(Math.max(moved[2], moved[3]) > 10 * Math.max(moved[0], moved[1]), `the head moved more than 10x the body: ${moved.join(", ")}`);
});

test("ModelCheckpoint and resume keep a ParamGroups' state: a resumed run ends where an uninterrupted one does", async () => {
  const os = await import("os");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-param-groups-"));
  const Xs = tf.randomNormal([24, 4], 0, 1, "float32", 5);
  const ys = tf.tensor1d(
    Array.from({ length: 24 }, (_, i) => i % 3),
    "int32",
  );
  const build = (): { net: tf.Sequential; updater: d2l.optim.ParamGroups } => {
    const net = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 6, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    const head = net.layers[1];
    const updater = new d2l.optim.ParamGroups([
      { params: net.trainableWeights.filter((w) => !head.trainableWeights.includes(w)), optimizer: new d2l.optim.SGD({ lr: 0.01, momentum: 0.9 }) },
      { params: head.trainableWeights, optimizer: new d2l.optim.Adam({ lr: 0.1 }) },
    ]);
    return { net, updater };
  };
  const loss = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => d2l.losses.crossEntropy(a, b, { reduction: "none" });
  const trainIter = (): d2l.DataLoader<[tf.Tensor, tf.Tensor]> => d2l.loadArray([Xs, ys], 8, false);
  try {
    const whole = build();
    await d2l.fit({ net: whole.net, loss, updater: whole.updater, trainIter: trainIter(), numEpochs: 3 });
    const first = build();
    await d2l.fit({ net: first.net, loss, updater: first.updater, trainIter: trainIter(), numEpochs: 1, callbacks: [new d2l.ModelCheckpoint(dir)] });
    const second = build();
    const resumed = await d2l.resume(dir, { net: second.net, optimizer: second.updater, verbose: false });
    await d2l.fit({ net: second.net, loss, updater: second.updater, trainIter: trainIter(), numEpochs: 3, ...resumed });
    const a = whole.net.getWeights().map((w) => Array.from(w.dataSync()));
    const b = second.net.getWeights().map((w) => Array.from(w.dataSync()));
    a.forEach((w, i) => assert.ok(maxDiff(b[i], w) <= 1e-6, `weight ${i}: resumed differs from uninterrupted by ${maxDiff(b[i], w)}`));
    // and not trivially: the weights moved in the last two epochs
    const mid = first.net.getWeights().map((w) => Array.from(w.dataSync()));
    assert.ok(mid.some((w, i) => maxDiff(a[i], w) > 1e-3));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
