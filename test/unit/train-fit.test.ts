/** `d2l.fit` runs each callback it is given once per event (it used to give them to both the engine and the fit). */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { fit, type Callback } from "../../lib/train/index";
import { DataLoader, TensorDataset } from "../../lib/data/index";

test("d2l.fit calls each callback once per epoch and batch", async () => {
  await tf.setBackend("cpu");
  const X = tf.randomNormal([20, 3], 0, 1, "float32", 1);
  const y = tf.tensor1d(
    Array.from({ length: 20 }, (_, i) => i % 2),
    "int32",
  );
  const W = tf.variable(tf.zeros([3, 2]));
  const net = (x: tf.Tensor): tf.Tensor => x.matMul(W);
  const loss = (yHat: tf.Tensor, yy: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(tf.oneHot(yy.toInt(), 2), yHat, undefined, tf.Reduction.NONE);
  const seen = { epochs: 0, batches: 0, begins: 0 };
  const counter: Callback = {
    onTrainBegin: () => void seen.begins++,
    onEpochEnd: () => void seen.epochs++,
    onBatchEnd: () => void seen.batches++,
  };
  const trainIter = new DataLoader(new TensorDataset(X, y), { batchSize: 5 });
  const r = await fit({ net, loss, updater: tf.train.sgd(0.1), trainIter, numEpochs: 3, callbacks: [counter] });
  assert.equal(r.history.length, 3);
  assert.deepEqual(seen, { epochs: 3, batches: 12, begins: 1 });
  tf.dispose([X, y, W]);
});
