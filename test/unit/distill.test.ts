// Knowledge distillation: distillationLoss against Hinton et al.'s formula (written in the fixture script
// test/fixtures/torch/losses.py with torch's F.kl_div and F.cross_entropy in float64, autograd for the
// gradients), and trainDistillation on a tiny problem. On the cpu backend.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { maxDiff as relativeDiff, tensorOf, type FixtureTensor, type FixtureValue } from "./torch-fixtures";
import * as d2l from "../../lib/index";
import { DataLoader, TensorDataset } from "../../lib/data/index";
import type { TrainState } from "../../lib/train/engine";

before(async () => {
  await tf.setBackend("cpu");
});

type Spec = FixtureTensor;
type Out = FixtureValue;
interface Case {
  name: string;
  fn: string;
  inputs: Record<string, Spec>;
  options: { temperature: number; alpha: number };
  out: Record<string, Out>;
  grad: Record<string, Out>;
}

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/losses.json");
const cases = (JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as { cases: Case[] }).cases.filter((c) => c.fn === "distillationLoss");
const maxDiff = (got: tf.Tensor, want: Out): number => relativeDiff(got, want, "distillationLoss", true);

test("the fixtures hold distillation cases", () => assert.equal(cases.length, 3));

for (const c of cases) {
  test(`distillationLoss equals alpha T² KL(teacher || student) + (1 - alpha) CE: ${c.name}`, () => {
    const s = tensorOf(c.inputs.input);
    const t = tensorOf(c.inputs.teacher);
    const y = tensorOf(c.inputs.target);
    const diffs: string[] = [];
    for (const [reduction, want] of Object.entries(c.out)) {
      const d = maxDiff(d2l.distillationLoss(s, t, y, { ...c.options, reduction: reduction as "none" }), want);
      assert.ok(d <= 1e-5, `${reduction}: off by ${d}`);
      diffs.push(`${reduction} ${d.toExponential(1)}`);
    }
    const g = tf.grad((x: tf.Tensor) => d2l.distillationLoss(x, t, y, c.options))(s);
    const dg = maxDiff(g, c.grad.input);
    assert.ok(dg <= 1e-5, `gradient off by ${dg}`);
    console.log(`${c.name}: ${diffs.join(", ")}, gradient ${dg.toExponential(1)}`);
  });
}

test("distillationLoss: alpha 1 needs no labels; alpha 0 is the cross-entropy; bad input says what to pass", () => {
  const s = tf.tensor2d([
    [1, 2, 3],
    [0, -1, 4],
  ]);
  const t = tf.tensor2d([
    [3, 2, 1],
    [0, 5, 1],
  ]);
  const y = tf.tensor1d([2, 1], "int32");
  assert.ok(Math.abs(d2l.distillationLoss(s, t, null, { alpha: 1 }).dataSync()[0] - d2l.distillationLoss(s, t, y, { alpha: 1 }).dataSync()[0]) < 1e-7);
  assert.ok(Math.abs(d2l.distillationLoss(s, t, y, { alpha: 0 }).dataSync()[0] - d2l.losses.crossEntropy(s, y).dataSync()[0]) < 1e-7);
  assert.equal(d2l.distillationLoss(s, s, null, { alpha: 1 }).dataSync()[0], 0, "a student that matches its teacher has nothing to learn");
  assert.deepEqual(d2l.distillationLoss(s, t, y, { reduction: "none" }).shape, [2]);
  assert.throws(() => d2l.distillationLoss(s, tf.zeros([2, 4]), y), /student's logits \[2,3\] and the teacher's \[2,4\] must have the same shape/);
  assert.throws(() => d2l.distillationLoss(s, t, null, { alpha: 0.5 }), /labels are needed when alpha < 1/);
  assert.throws(() => d2l.distillationLoss(s, t, y, { alpha: 1.5 }), /alpha must be a number in \[0, 1\]/);
  assert.throws(() => d2l.distillationLoss(s, t, y, { temperature: 0 }), /temperature must be a positive number/);
  // labels as probabilities (one-hot) are taken as crossEntropy takes them: the same loss
  const l1 = d2l.distillationLoss(s, t, tf.oneHot(y, 3)).dataSync()[0];
  assert.ok(Math.abs(l1 - d2l.distillationLoss(s, t, y).dataSync()[0]) < 1e-6);
  assert.throws(() => d2l.distillationLoss(s, t, tf.tensor1d([0, 1, 2], "int32")), /class indices of shape \[2\]/);
});

/** Four features, three classes: labels from a fixed linear teacher, a quarter of them replaced at random. */
function problem(n: number, seed: number): { X: tf.Tensor; y: tf.Tensor; Wt: tf.Tensor } {
  const Wt = tf.tensor2d([
    [2, -1, 0],
    [0, 2, -1],
    [-1, 0, 2],
    [1, 1, -2],
  ]);
  const X = tf.randomNormal([n, 4], 0, 1, "float32", seed);
  const teacherY = tf.argMax(tf.matMul(X, Wt), 1).dataSync();
  const noise = tf.randomUniform([n], 0, 1, "float32", seed + 1).dataSync();
  const other = tf.randomUniform([n], 0, 3, "int32", seed + 2).dataSync();
  const y = tf.tensor1d(
    Array.from(teacherY, (v, i) => (noise[i] < 0.25 ? other[i] : v)),
    "int32",
  );
  return { X, y, Wt };
}

test("trainDistillation: the student learns from a frozen teacher in inference mode (loss falls, agreement with the teacher rises)", async () => {
  const { X, y, Wt } = problem(192, 11);
  const trainIter = new DataLoader(new TensorDataset<[tf.Tensor, tf.Tensor]>(X, y), { batchSize: 32, shuffle: true, seed: 1 });
  const test = problem(64, 21);
  const testIter = new DataLoader(new TensorDataset<[tf.Tensor, tf.Tensor]>(test.X, test.y), { batchSize: 32 });
  // the teacher: a function net over a TRAINABLE variable, so that training it by mistake would show
  const W = tf.variable(Wt.clone());
  const modes: boolean[] = [];
  const teacher = (Xb: tf.Tensor, training?: boolean) => {
    modes.push(training === true);
    return tf.matMul(Xb, W);
  };
  const student = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })] });
  const agreement = () => tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(student.predict(X) as tf.Tensor, 1), tf.argMax(tf.matMul(X, Wt), 1)), "float32")).dataSync()[0]);
  const before = agreement();
  const losses: number[] = [];
  const counts: number[] = [];
  let seenBatches: number | undefined;
  const r = await d2l.trainDistillation(student, teacher, trainIter, testIter, 12, tf.train.sgd(0.5), {
    temperature: 2,
    alpha: 0.9,
    animator: false,
    progress: false,
    verbose: false,
    callbacks: [
      { onTrainBegin: (s: TrainState) => void (seenBatches = (s.trainIter as { numBatches?: number }).numBatches) },
      { onEpochEnd: (s: TrainState) => void (losses.push(s.trainLoss), counts.push(tf.memory().numTensors)) },
    ],
  });
  const after = agreement();
  console.log(`distillation: agreement with the teacher ${before.toFixed(3)} -> ${after.toFixed(3)}; loss by epoch ${losses.map((l) => l.toFixed(3)).join(", ")}`);
  assert.equal(seenBatches, 6, "the engine sees the iterator's numBatches through the wrapper");
  assert.equal(trainIter.epoch, 12, "the DataLoader's own epoch counter moved (the wrapper passes through)");
  assert.equal(losses.length, 12);
  assert.ok(losses[11] < losses[0] * 0.5, `the distillation loss falls: ${losses.map((l) => l.toFixed(3)).join(", ")}`);
  assert.ok(after > before + 0.2 && after > 0.9, `agreement with the teacher: ${before} at the start, ${after} after`);
  assert.ok(r.trainAcc > 0.5 && r.testAcc > 0.5 && r.examplesPerSec > 0, JSON.stringify(r));
  assert.deepEqual(Array.from(W.dataSync()), Array.from(Wt.dataSync()), "the teacher's weights are untouched");
  assert.ok(modes.length === 12 * 6 && modes.every((m) => m === false), "the teacher runs once per training batch, in inference mode");
  assert.deepEqual(counts.slice(1), Array(11).fill(counts[1]), `no tensors pile up across epochs: ${counts.join(", ")}`);
  trainIter.dispose();
  testIter.dispose();
});

test("trainDistillation beats the labels alone when the labels are noisy (same student, same budget)", async () => {
  const { X, y, Wt } = problem(192, 31);
  const test = problem(256, 41);
  const teacherTestAcc = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(tf.matMul(test.X, Wt), 1), tf.argMax(tf.matMul(test.X, Wt), 1)), "float32")).dataSync()[0]);
  assert.equal(teacherTestAcc, 1);
  // the clean test labels: the teacher's own
  const cleanTest = tf.argMax(tf.matMul(test.X, Wt), 1).toInt();
  const run = async (alpha: number) => {
    const trainIter = new DataLoader(new TensorDataset<[tf.Tensor, tf.Tensor]>(X, y), { batchSize: 32, shuffle: true, seed: 2 });
    const testIter = new DataLoader(new TensorDataset<[tf.Tensor, tf.Tensor]>(test.X, cleanTest), { batchSize: 64 });
    const student = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) })] });
    const r = await d2l.trainDistillation(student, (Xb: tf.Tensor) => tf.matMul(Xb, Wt), trainIter, testIter, 8, tf.train.sgd(0.3), {
      temperature: 2,
      alpha,
      animator: false,
      progress: false,
      verbose: false,
    });
    return r.testAcc;
  };
  const distilled = await run(0.9);
  const alone = await run(0);
  console.log(`test accuracy on the teacher's labels: distilled (alpha 0.9) ${distilled.toFixed(3)}, labels alone (alpha 0) ${alone.toFixed(3)}`);
  assert.ok(distilled >= alone, `test accuracy: distilled ${distilled}, labels alone ${alone}`);
});

test("trainDistillation says what is wrong", async () => {
  const { X, y } = problem(32, 1);
  const it = new DataLoader(new TensorDataset<[tf.Tensor, tf.Tensor]>(X, y), { batchSize: 16 });
  const student = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3 })] });
  const quiet = { animator: false as const, progress: false as const, verbose: false };
  await assert.rejects(d2l.trainDistillation(student, student, it, it, 1, tf.train.sgd(0.1), quiet), /the same net/);
  await assert.rejects(
    d2l.trainDistillation((x: tf.Tensor) => x, student, it, it, 1, tf.train.sgd(0.1), quiet),
    /a function student needs params/,
  );
  await assert.rejects(d2l.trainDistillation(student, "teacher" as never, it, it, 1, tf.train.sgd(0.1), quiet), /the teacher must be a tf.LayersModel or a function net/);
  await assert.rejects(
    d2l.trainDistillation(student, (x: tf.Tensor) => tf.zeros([x.shape[0], 5]), it, it, 1, tf.train.sgd(0.1), quiet),
    /must have the same shape/,
  );
  await assert.rejects(
    d2l.trainDistillation(student, (x: tf.Tensor) => x.slice([0, 0], [-1, 3]), it, it, 1, tf.train.sgd(0.1), { ...quiet, alpha: 2 }),
    /alpha must be a number in \[0, 1\]/,
  );
  it.dispose();
});
