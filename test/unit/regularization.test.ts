/**
 * L1 and L2 regularization: the callbacks (WeightDecay = L2Decay, L1Decay)
 * and tfjs' layer regularizers (kernelRegularizer), both with the engine,
 * against PyTorch's SGD with weight_decay and its `loss + l1 * sum(|p|)`
 * idiom (test/fixtures/torch/regularization.py -> .json), within 1e-5.
 */
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { Engine, L1Decay, L2Decay, WeightDecay, sgd, type Callback, type TrainState } from "../../lib/train/index";
import { DataLoader, TensorDataset } from "../../lib/data/index";

interface Step {
  weight: number[][];
  bias: number[];
}
interface Fixture {
  W0: number[][];
  B0: number[];
  X: number[][];
  Y: number[][];
  lr: number;
  wd: number;
  l1: number;
  wd_all: Step[];
  wd_weight: Step[];
  l1_all: Step[];
  l1_weight: Step[];
  l1l2_weight: Step[];
  W0_nonzero: number[][];
  nonzero_l1_weight: Step[];
  nonzero_l1l2_weight: Step[];
}

const FIX = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../../test/fixtures/torch/regularization.json"), "utf8")) as Fixture;

before(async () => {
  await tf.setBackend("cpu");
});

/** tfjs' kernel is torch's weight transposed. */
const transpose = (m: number[][]): number[][] => m[0].map((_, j) => m.map((row) => row[j]));

const mse = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.mean(tf.square(tf.sub(yHat, y)), 1);

function loader(): { iter: DataLoader; dispose: () => void } {
  const X = tf.tensor2d(FIX.X);
  const Y = tf.tensor2d(FIX.Y);
  return { iter: new DataLoader(new TensorDataset(X, Y), { batchSize: FIX.X.length }), dispose: () => tf.dispose([X, Y]) };
}

type Regularizer = Parameters<typeof tf.layers.dense>[0]["kernelRegularizer"];

function model(regularizer?: Regularizer, W0 = FIX.W0): tf.Sequential {
  const net = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], kernelRegularizer: regularizer })] });
  net.setWeights([tf.tensor2d(transpose(W0)), tf.tensor1d(FIX.B0)]);
  return net;
}

/** Train 3 full-batch steps (one per epoch); the weights after each, in torch's layout. */
async function trajectory(net: tf.LayersModel, callbacks: Callback[], updater?: tf.Optimizer): Promise<Step[]> {
  const data = loader();
  const steps: Step[] = [];
  const rec: Callback = {
    onEpochEnd: (_s: TrainState) => {
      const [k, b] = net.getWeights();
      steps.push({ weight: transpose(k.arraySync() as number[][]), bias: b.arraySync() as number[] });
    },
  };
  await new Engine({ net, loss: mse, updater: updater ?? tf.train.sgd(FIX.lr), accuracy: false }).fit(data.iter, { numEpochs: 3, callbacks: [...callbacks, rec] });
  data.dispose();
  return steps;
}

function maxDiff(a: Step[], b: Step[]): number {
  let m = 0;
  a.forEach((s, i) => {
    s.weight.flat().forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i].weight.flat()[k]))));
    s.bias.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i].bias[k]))));
  });
  return m;
}

function close(got: Step[], want: Step[], what: string): void {
  assert.equal(got.length, want.length);
  const d = maxDiff(got, want);
  assert.ok(d <= 1e-5, `${what}: max difference from PyTorch ${d}`);
}

describe("regularization callbacks against PyTorch", () => {
  test("WeightDecay(wd) = torch.optim.SGD(weight_decay=wd), biases included by default", async () => {
    close(await trajectory(model(), [new WeightDecay(FIX.wd)]), FIX.wd_all, "WeightDecay");
    assert.equal(L2Decay, WeightDecay); // PaddlePaddle's name for the same update
  });

  test("WeightDecay(wd, { biases: false }) = weight_decay on the weight only (the book's 4.5)", async () => {
    close(await trajectory(model(), [new WeightDecay(FIX.wd, { biases: false })]), FIX.wd_weight, "WeightDecay biases: false");
  });

  test("L1Decay(l1) = loss + l1 * sum(|p|) over all parameters; { biases: false }: the weight only", async () => {
    close(await trajectory(model(), [new L1Decay(FIX.l1)]), FIX.l1_all, "L1Decay");
    close(await trajectory(model(), [new L1Decay(FIX.l1, { biases: false })]), FIX.l1_weight, "L1Decay biases: false");
    // without regularization the trajectory is another one (the fixture would not catch a no-op)
    assert.ok(maxDiff(await trajectory(model(), []), FIX.l1_weight) > 1e-3);
  });

  test("both together, and params naming the weights exactly", async () => {
    close(await trajectory(model(), [new L1Decay(FIX.l1, { biases: false }), new WeightDecay(FIX.wd, { biases: false })]), FIX.l1l2_weight, "L1Decay + WeightDecay");
    const net = model();
    close(await trajectory(net, [new L1Decay(FIX.l1, { params: [net.trainableWeights[0] as unknown as tf.Variable] })]), FIX.l1_weight, "L1Decay params");
  });

  test("a function net with d2l.sgd (gradients of the summed loss): the coefficients are scaled by the batch size, the same update", async () => {
    const W = tf.variable(tf.tensor2d(transpose(FIX.W0)));
    const b = tf.variable(tf.tensor1d(FIX.B0));
    const net = (x: tf.Tensor): tf.Tensor => tf.add(tf.matMul(x, W), b);
    const data = loader();
    const steps: Step[] = [];
    const rec: Callback = { onEpochEnd: () => void steps.push({ weight: transpose(W.arraySync() as number[][]), bias: b.arraySync() as number[] }) };
    await new Engine({ net, loss: mse, updater: (n) => sgd([W, b], FIX.lr, n), params: [W, b], accuracy: false }).fit(data.iter, {
      numEpochs: 3,
      callbacks: [new L1Decay(FIX.l1, { params: [W] }), new WeightDecay(FIX.wd, { params: [W] }), rec],
    });
    close(steps, FIX.l1l2_weight, "function net");
    tf.dispose([W, b]);
    data.dispose();
  });
});

describe("tfjs layer regularizers with the engine", () => {
  // tfjs' gradient of |w| at w = 0 is -1 (PyTorch's, and L1Decay's, is 0): the L1 runs start from non-zero weights
  test("kernelRegularizer: tf.regularizers.l1({ l1 }) is L1 on the kernel (the engine adds calculateLosses())", async () => {
    close(await trajectory(model(tf.regularizers.l1({ l1: FIX.l1 }), FIX.W0_nonzero), []), FIX.nonzero_l1_weight, "tf.regularizers.l1");
    close(await trajectory(model(undefined, FIX.W0_nonzero), [new L1Decay(FIX.l1, { biases: false })]), FIX.nonzero_l1_weight, "L1Decay");
  });

  test("at a weight exactly 0 they differ: tfjs' sign is -1 there, L1Decay's 0 as PyTorch's", async () => {
    const tfjs = await trajectory(model(tf.regularizers.l1({ l1: FIX.l1 })), []);
    assert.ok(Math.abs(tfjs[0].weight[0][2] - FIX.l1_weight[0].weight[0][2] - FIX.lr * FIX.l1) < 1e-6);
  });

  test("tf.regularizers.l2({ l2 }) is weight decay 2 * l2 on the kernel (Keras' penalty l2 * sum(w^2))", async () => {
    close(await trajectory(model(tf.regularizers.l2({ l2: FIX.wd / 2 })), []), FIX.wd_weight, "tf.regularizers.l2");
  });

  test("tf.regularizers.l1l2 equals L1Decay + WeightDecay on the kernel", async () => {
    close(await trajectory(model(tf.regularizers.l1l2({ l1: FIX.l1, l2: FIX.wd / 2 }), FIX.W0_nonzero), []), FIX.nonzero_l1l2_weight, "tf.regularizers.l1l2");
    close(
      await trajectory(model(undefined, FIX.W0_nonzero), [new L1Decay(FIX.l1, { biases: false }), new WeightDecay(FIX.wd, { biases: false })]),
      FIX.nonzero_l1l2_weight,
      "L1Decay + WeightDecay",
    );
  });
});

describe("regularization callbacks", () => {
  test("bad coefficients are errors that say what is expected", () => {
    assert.throws(() => new L1Decay(-1), /L1Decay: the coefficient must be a number >= 0 \(the L1 coefficient\)/);
    assert.throws(() => new WeightDecay(Number.NaN), /WeightDecay: the coefficient must be a number >= 0/);
    assert.throws(() => new L1Decay(0.1, { params: "W" as never }), /params must be an array/);
  });

  test("no tensors are left behind, with several gradient callbacks in a row", async () => {
    const net = model();
    const updater = tf.train.sgd(FIX.lr);
    const cbs = [new L1Decay(FIX.l1), new WeightDecay(FIX.wd), new L1Decay(FIX.l1, { biases: false })];
    await trajectory(net, cbs, updater);
    const before = tf.memory().numTensors;
    await trajectory(net, cbs, updater);
    assert.equal(tf.memory().numTensors, before);
  });
});
