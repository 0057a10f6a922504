// d2l.losses against PyTorch (torch.nn.functional, torchvision.ops) and, where PyTorch has no such
// loss, against the paper's formula: both from test/fixtures/torch/losses.py (float64 references
// from float32 inputs; "formula" cases write the paper's formula with torch float64 ops, autograd for
// the gradients). Every reduction within 1e-5 (relative to the value's size when it is above 1), and
// the gradient of the "mean" loss too. On the cpu backend.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { maxDiff as relativeDiff, tensorOf, type FixtureTensor, type FixtureValue } from "./torch-fixtures";
import * as d2l from "../../lib/index";
import { losses } from "../../lib/index";

before(async () => {
  await tf.setBackend("cpu");
});

type Spec = FixtureTensor;
type Out = FixtureValue;
interface Case {
  name: string;
  fn: string;
  ref: "torch" | "formula";
  inputs: Record<string, Spec>;
  options: Record<string, unknown>;
  out: Record<string, Out>;
  grad?: Record<string, Out>;
}
interface Fixture {
  torch: string;
  cases: Case[];
  centerUpdate: { alpha: number; centers: Spec; features: Spec; labels: Spec; updated: Out };
  arcFaceLogits: { s: number; m: number; logits: Out };
}

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/losses.json");
const fixture = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as Fixture;

/** Largest |a - b| / max(1, |b|) over the values (the tolerance is 1e-5 of it). */
const maxDiff = (got: tf.Tensor, want: Out, what: string): number => relativeDiff(got, want, what, true);

/** Call the loss of a case: most take (input, target, options); a few take a second tensor. */
function call(c: Case, t: Record<string, tf.Tensor>, reduction: string): tf.Tensor {
  const opts = { ...c.options, reduction } as never;
  const L = losses as unknown as Record<string, (...a: unknown[]) => tf.Tensor>;
  if (c.fn === "centerLoss") return losses.centerLoss(t.input, t.centers, t.target, opts);
  if (c.fn === "arcFaceLoss") return losses.arcFaceLoss(t.input, t.weight, t.target, opts);
  assert.equal(typeof L[c.fn], "function", `d2l.losses.${c.fn} is missing`);
  return L[c.fn](t.input, t.target, opts);
}

const lossCases = fixture.cases.filter((c) => c.fn !== "distillationLoss");
const report: string[] = [];

for (const c of lossCases) {
  test(`${c.fn} equals ${c.ref === "torch" ? "PyTorch" : "the paper's formula"}: ${c.name}`, () => {
    const t: Record<string, tf.Tensor> = {};
    for (const [k, s] of Object.entries(c.inputs)) t[k] = tensorOf(s);
    let worst = 0;
    for (const [reduction, want] of Object.entries(c.out)) {
      const before = tf.memory().numTensors;
      const got = call(c, t, reduction);
      assert.equal(tf.memory().numTensors, before + 1, `${c.name} (${reduction}) leaves tensors behind`);
      const d = maxDiff(got, want, `${c.name} (${reduction})`);
      assert.ok(d <= 1e-5, `${c.name} (${reduction}): off by ${d.toExponential(2)}`);
      worst = Math.max(worst, d);
      got.dispose();
    }
    let worstGrad = 0;
    if (c.grad) {
      const keys = Object.keys(c.grad);
      const gs = tf.grads((...xs: tf.Tensor[]) => {
        const tt = { ...t };
        keys.forEach((k, i) => (tt[k] = xs[i]));
        return call(c, tt, "mean");
      })(keys.map((k) => t[k]));
      keys.forEach((k, i) => {
        const d = maxDiff(gs[i], (c.grad as Record<string, Out>)[k], `${c.name}: gradient by ${k}`);
        assert.ok(d <= 1e-5, `${c.name}: gradient by ${k} off by ${d.toExponential(2)}`);
        worstGrad = Math.max(worstGrad, d);
      });
      tf.dispose(gs);
    }
    report.push(`${c.ref.padEnd(7)} ${c.name}: values ${worst.toExponential(1)}${c.grad ? `, gradients ${worstGrad.toExponential(1)}` : ""}`);
    tf.dispose(Object.values(t));
  });
}

test("summary of the differences (printed for the record)", () => {
  assert.ok(report.length > 0);
  console.log(`d2l.losses vs the fixtures (torch ${fixture.torch}), max |got - want| / max(1, |want|):\n  ${report.join("\n  ")}`);
});

test("every loss the course notes name is in d2l.losses, and the fixtures cover it", () => {
  const names = [
    "zeroOneLoss",
    "crossEntropy",
    "nllLoss",
    "mseLoss",
    "l1Loss",
    "huberLoss",
    "smoothL1Loss",
    "binaryCrossEntropy",
    "binaryCrossEntropyWithLogits",
    "softMarginLoss",
    "sigmoidFocalLoss",
    "focalLoss",
    "multiMarginLoss",
    "hingeLoss",
    "diceLoss",
    "wingLoss",
    "klDiv",
    "centerLoss",
    "arcFaceLoss",
  ];
  const L = losses as unknown as Record<string, unknown>;
  for (const n of names) {
    assert.equal(typeof L[n], "function", n);
    assert.ok(
      lossCases.some((c) => c.fn === n),
      `no fixture case for ${n}`,
    );
  }
  assert.equal(losses.logisticLoss, losses.binaryCrossEntropyWithLogits);
  assert.equal(typeof losses.CenterLoss, "function");
  assert.equal(typeof losses.ArcFace, "function");
  assert.equal(d2l.losses, losses);
});

test("crossEntropy computes what tf.losses.softmaxCrossEntropy did for the trainers, bit for bit (values and gradients)", () => {
  // trainCh6, trainCh8 and MaskedSoftmaxCELoss used tfjs' softmaxCrossEntropy on one-hot labels; they now
  // call d2l.losses.crossEntropy, so the chapter notebooks' numbers must not move.
  for (const shape of [
    [7, 5],
    [3, 4, 6],
  ]) {
    const x = tf.randomNormal(shape, 0, 3, "float32", 1);
    const y = tf.randomUniform(shape.slice(0, -1), 0, shape[shape.length - 1], "int32", 2);
    const C = shape[shape.length - 1];
    const old = (l: tf.Tensor) => tf.losses.softmaxCrossEntropy(tf.oneHot(y, C), l, undefined, 0, tf.Reduction.NONE);
    const ours = (l: tf.Tensor) => losses.crossEntropy(l, y, { reduction: "none" });
    assert.deepEqual(Array.from(ours(x).dataSync()), Array.from(old(x).dataSync()));
    const w = tf.randomUniform(shape.slice(0, -1), 0, 1, "float32", 3); // a weighted sum, as the engine's mean
    const gOld = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(old(l), w)))(x);
    const gOurs = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(ours(l), w)))(x);
    assert.deepEqual(Array.from(gOurs.dataSync()), Array.from(gOld.dataSync()));
  }
});

test("logits of +-1000 give finite losses and gradients", () => {
  const x = tf.tensor2d([
    [1000, -1000, 0],
    [-1000, 1000, -1000],
    [-1000, -1000, 1000],
  ]);
  const y = tf.tensor1d([0, 2, 1], "int32");
  const b = tf.tensor2d([
    [1, 0, 1],
    [0, 1, 0],
    [1, 1, 0],
  ]);
  const finite = (t: tf.Tensor, what: string) => assert.ok(Array.from(t.dataSync()).every(Number.isFinite), `${what}: ${t.dataSync()}`);
  const checks: [string, (l: tf.Tensor) => tf.Tensor][] = [
    ["crossEntropy", (l) => losses.crossEntropy(l, y)],
    ["crossEntropy, labelSmoothing, weight", (l) => losses.crossEntropy(l, y, { labelSmoothing: 0.1, weight: [1, 2, 3] })],
    ["crossEntropy, probabilities", (l) => losses.crossEntropy(l, tf.softmax(tf.neg(x)))],
    ["focalLoss", (l) => losses.focalLoss(l, y, { alpha: [0.2, 0.3, 0.5] })],
    ["multiMarginLoss", (l) => losses.multiMarginLoss(l, y, { p: 2 })],
    ["binaryCrossEntropyWithLogits", (l) => losses.binaryCrossEntropyWithLogits(l, b, { posWeight: [2, 1, 0.5] })],
    ["sigmoidFocalLoss", (l) => losses.sigmoidFocalLoss(l, b)],
    ["softMarginLoss", (l) => losses.softMarginLoss(l, tf.sub(tf.mul(b, 2), 1))],
    ["klDiv of log-softmaxes", (l) => losses.klDiv(tf.logSoftmax(l), tf.logSoftmax(tf.neg(l)), { logTarget: true, reduction: "batchmean" })],
    ["klDiv, probabilities", (l) => losses.klDiv(tf.logSoftmax(l), tf.softmax(tf.neg(x)), { reduction: "batchmean" })],
    [
      "arcFaceLoss",
      (l) =>
        losses.arcFaceLoss(
          l,
          tf.tensor2d([
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
          ]),
          y,
          { s: 64, m: 0.5 },
        ),
    ],
    ["zeroOneLoss", (l) => losses.zeroOneLoss(l, y)],
  ];
  for (const [what, f] of checks) {
    finite(f(x), what);
    if (what !== "zeroOneLoss") finite(tf.grad(f)(x), `${what} gradient`);
  }
  const p = tf.tensor1d([0, 1, 0, 1]);
  finite(losses.binaryCrossEntropy(p, tf.tensor1d([1, 0, 0, 1])), "binaryCrossEntropy at 0 and 1");
  finite(tf.grad((q: tf.Tensor) => losses.binaryCrossEntropy(q, tf.tensor1d([1, 0, 0, 1])))(p), "binaryCrossEntropy gradient at 0 and 1");
});

test("reduction 'none' gives one value per example, which the training engine takes", async () => {
  const logits = tf.randomNormal([5, 3], 0, 1, "float32", 4);
  const y = tf.tensor1d([0, 1, 2, 1, 0], "int32");
  assert.deepEqual(losses.crossEntropy(logits, y, { reduction: "none" }).shape, [5]);
  assert.deepEqual(losses.focalLoss(logits, y, { reduction: "none" }).shape, [5]);
  assert.deepEqual(losses.multiMarginLoss(logits, y, { reduction: "none" }).shape, [5]);
  assert.deepEqual(losses.zeroOneLoss(logits, y, { reduction: "none" }).shape, [5]);
  assert.deepEqual(losses.diceLoss(tf.softmax(logits), y, { reduction: "none" }).shape, [5]);
  assert.deepEqual(losses.crossEntropy(logits, y).shape, []);
  // a [N] target for an output [N, 1] is reshaped (torch would broadcast it to [N, N])
  const out = tf.tensor2d([[1], [2], [3]]);
  const t = tf.tensor1d([1, 1, 1]);
  assert.deepEqual(losses.mseLoss(out, t, { reduction: "none" }).shape, [3, 1]);
  assert.equal(losses.mseLoss(out, t).dataSync()[0], losses.mseLoss(out, t.reshape([3, 1])).dataSync()[0]);
  // on the engine: a linear classifier learns two blobs
  const X = tf.concat([tf.randomNormal([40, 2], 2, 0.5, "float32", 5), tf.randomNormal([40, 2], -2, 0.5, "float32", 6)]);
  const labels = tf.concat([tf.zeros([40], "int32"), tf.ones([40], "int32")]);
  const net = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2 })] });
  const batches = {
    numBatches: 1,
    async *[Symbol.asyncIterator]() {
      yield [X.clone(), labels.clone()] as [tf.Tensor, tf.Tensor];
    },
  };
  const r = await d2l.fit({
    net,
    trainIter: batches,
    numEpochs: 30,
    updater: tf.train.sgd(0.5),
    loss: (yHat, yy) => losses.crossEntropy(yHat, yy, { reduction: "none", labelSmoothing: 0.05 }),
  });
  assert.ok(r.trainAcc !== undefined && r.trainAcc > 0.95, `train acc ${r.trainAcc}`);
});

test("shape mistakes give errors that say what to pass", () => {
  const logits = tf.zeros([4, 3]);
  const idx = tf.tensor1d([0, 1, 2, 0], "int32");
  const onehot = tf.oneHot(idx, 3);
  const throwsLike = (f: () => unknown, re: RegExp) => assert.throws(f, re);
  // a one-hot target where class indices are expected
  throwsLike(() => losses.nllLoss(logits, onehot), /nllLoss.*looks one-hot.*class indices of shape \[4\].*argMax/);
  throwsLike(() => losses.focalLoss(logits, onehot), /focalLoss.*looks one-hot/);
  throwsLike(() => losses.multiMarginLoss(logits, onehot), /multiMarginLoss.*looks one-hot/);
  throwsLike(() => losses.zeroOneLoss(logits, onehot), /zeroOneLoss.*looks one-hot/);
  throwsLike(() => losses.arcFaceLoss(logits, tf.ones([3, 3]), onehot), /looks one-hot/);
  throwsLike(() => losses.centerLoss(logits, tf.zeros([5, 3]), onehot), /centerLoss.*looks one-hot/);
  // (cross entropy takes a target shaped like the input as probabilities, as torch does)
  assert.ok(Number.isFinite(losses.crossEntropy(logits, onehot).dataSync()[0]));
  // indices for a different number of examples
  throwsLike(() => losses.crossEntropy(logits, tf.tensor1d([0, 1, 2], "int32")), /crossEntropy.*class indices of shape \[4\]; got \[3\]/);
  // element-wise losses: shapes that differ
  throwsLike(() => losses.mseLoss(tf.zeros([4, 1]), tf.zeros([4, 2])), /mseLoss.*\[4,1\].*\[4,2\].*same shape/);
  throwsLike(() => losses.binaryCrossEntropyWithLogits(tf.zeros([4]), tf.zeros([5])), /binaryCrossEntropyWithLogits.*same shape/);
  // options
  throwsLike(() => losses.crossEntropy(logits, idx, { weight: [1, 2] }), /weight must hold one number per class \(3\)/);
  throwsLike(() => losses.crossEntropy(logits, idx, { reduction: "avg" as never }), /reduction must be "none", "mean", "sum"/);
  throwsLike(() => losses.crossEntropy(logits, idx, { labelSmoothing: 2 }), /labelSmoothing must be a number in \[0, 1\]/);
  throwsLike(() => losses.huberLoss(logits, logits, { delta: 0 }), /delta must be a positive number/);
  throwsLike(() => losses.multiMarginLoss(logits, idx, { p: 3 as never }), /p must be 1 or 2/);
  throwsLike(() => losses.diceLoss(tf.zeros([2, 4]), tf.zeros([2, 3]), { multiclass: false }), /multiclass: false.*same shape|input's shape/);
  throwsLike(() => losses.crossEntropy([[1, 2]] as never, idx), /expected input to be a tf.Tensor/);
  throwsLike(() => losses.arcFaceLoss(tf.zeros([4, 3]), tf.zeros([3, 5]), idx), /weight of shape \[numClasses, 3\]/);
  throwsLike(() => new losses.CenterLoss({ numClasses: 0, featDim: 2 }), /numClasses must be a positive integer/);
});

test("CenterLoss: the loss, the paper's center update, and learnable centers", () => {
  const u = fixture.centerUpdate;
  const feats = tensorOf(u.features);
  const labels = tensorOf(u.labels);
  const center = new losses.CenterLoss({ numClasses: 4, featDim: 3, alpha: u.alpha, centers: tensorOf(u.centers) });
  assert.equal(center.centers.trainable, false);
  const c = fixture.cases.find((k) => k.fn === "centerLoss") as Case;
  assert.ok(maxDiff(center.forward(feats, labels, "sum"), c.out.sum, "CenterLoss.forward") <= 1e-5);
  center.updateCenters(feats, labels);
  const d = maxDiff(center.centers, u.updated, "updateCenters");
  assert.ok(d <= 1e-5, `the paper's update (eq. 4), computed in the fixture script: off by ${d}`);
  center.dispose();
  // learnable: the optimizer gets the centers' gradient
  const learn = new losses.CenterLoss({ numClasses: 4, featDim: 3, learnable: true, centers: tensorOf(u.centers) });
  assert.equal(learn.centers.trainable, true);
  const { grads } = tf.variableGrads(() => learn.forward(feats, labels, "mean") as tf.Scalar, [learn.centers]);
  assert.ok(maxDiff(grads[learn.centers.name], (c.grad as Record<string, Out>).centers, "centers' gradient") <= 1e-5);
  assert.throws(() => learn.updateCenters(feats, labels), /learnable/);
  learn.dispose();
});

test("ArcFace holds the class weights and gives the paper's logits", () => {
  const c = fixture.cases.find((k) => k.fn === "arcFaceLoss") as Case;
  const emb = tensorOf(c.inputs.input);
  const W = tensorOf(c.inputs.weight);
  const y = tensorOf(c.inputs.target);
  const arc = new losses.ArcFace({ inFeatures: 4, numClasses: 3, s: fixture.arcFaceLogits.s, m: fixture.arcFaceLogits.m, weight: W });
  assert.ok(maxDiff(arc.logits(emb, y), fixture.arcFaceLogits.logits, "ArcFace.logits") <= 1e-5);
  assert.ok(maxDiff(arc.forward(emb, y, "none"), c.out.none, "ArcFace.forward") <= 1e-5);
  assert.deepEqual(arc.trainableWeights, [arc.weight]);
  assert.deepEqual(arc.predict(emb).shape, [5]);
  const cos = arc.cosine(emb).dataSync();
  assert.ok(Array.from(cos).every((v) => v >= -1 - 1e-6 && v <= 1 + 1e-6));
  // the margin makes the true class's logit smaller than s·cos θ
  const plain = tf.mul(arc.cosine(emb), arc.s);
  const withMargin = arc.logits(emb, y);
  const onTarget = (t: tf.Tensor) => tf.sum(tf.mul(t, tf.oneHot(y, 3)), 1).dataSync();
  const a = onTarget(withMargin);
  const b = onTarget(plain);
  a.forEach((v, i) => assert.ok(v < b[i], `example ${i}: ${v} !< ${b[i]}`));
  arc.dispose();
  const fresh = new losses.ArcFace({ inFeatures: 8, numClasses: 5, seed: 1 });
  assert.deepEqual(fresh.weight.shape, [5, 8]);
  fresh.dispose();
});
