/**
 * The fresh-process half of the checkpoint test (checkpoint.test.ts): a small
 * classifier trained with a shuffling DataLoader (its shuffle seed drawn from
 * the random stream), and in one set-up dropout and SGD with momentum, in the
 * other Adam; run in a process of its own for each step, so that a resume
 * starts from nothing but the checkpoint folder:
 *
 *   node dist/test/unit/resume-child.js CONFIG straight        8 epochs in one go
 *   node dist/test/unit/resume-child.js CONFIG first DIR       4 epochs, a ModelCheckpoint in DIR
 *   node dist/test/unit/resume-child.js CONFIG resume DIR      d2l.resume(DIR), then epochs 5-8
 *
 * CONFIG: "momentum-dropout" (tfjs' momentum SGD; d2l.seed(42): initial
 * weights, dropout masks and the loader's seed all come from the random
 * stream), "adam" (tfjs' Adam; no dropout, fixed initial weights, the loader
 * seeded explicitly) or "optim-steplr" (d2l.optim.SGD with momentum and
 * dropout, its rate halved every 2 epochs by d2l.lr.StepLR through
 * LRSchedulerCallback; the checkpoint keeps the scheduler's state). Prints one JSON line `{ history, weights }` (the per-epoch logs
 * and the final weights, flattened) and exits 0; on an error prints `{ error }` and exits 2.
 */
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";

const TOTAL = 8;
const FIRST = 4;

/** Fixed values in [-scale, scale], no random generator. */
function fixed(n: number, k: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => scale * Math.sin(1.3 * i + k) * Math.cos(0.71 * i + 2 * k));
}

function data(n: number, offset: number): { X: tf.Tensor2D; y: tf.Tensor1D } {
  const X = fixed(n * 8, 3 + offset, 1);
  const y = Int32Array.from({ length: n }, (_, i) => {
    const r = X.subarray(i * 8, i * 8 + 8);
    return (r[0] + r[1] - r[2] > 0 ? 1 : 0) + (r[3] * r[4] > 0.1 ? 1 : 0);
  });
  return { X: tf.tensor2d(X, [n, 8]), y: tf.tensor1d(y, "int32") };
}

async function main(): Promise<void> {
  const [config, mode, dir] = process.argv.slice(2);
  if (!["momentum-dropout", "adam", "optim-steplr"].includes(config) || !["straight", "first", "resume"].includes(mode) || (mode !== "straight" && !dir)) {
    throw new Error("usage: resume-child.js momentum-dropout|adam|optim-steplr straight|first DIR|resume DIR");
  }
  await tf.setBackend("cpu");
  const dropout = config !== "adam";
  if (dropout) d2l.seed(42);
  const train = data(96, 0);
  const test = data(40, 7);
  const trainIter = new d2l.DataLoader(new d2l.TensorDataset(train.X, train.y), { batchSize: 16, shuffle: true, seed: dropout ? undefined : 7 });
  const testIter = new d2l.DataLoader(new d2l.TensorDataset(test.X, test.y), { batchSize: 20 });
  const net = tf.sequential();
  net.add(tf.layers.dense({ units: 16, activation: "relu", inputShape: [8] }));
  if (dropout) net.add(tf.layers.dropout({ rate: 0.3 }));
  net.add(tf.layers.dense({ units: 3 }));
  if (!dropout) net.setWeights(net.getWeights().map((w, i) => tf.tensor(fixed(w.size, 10 + i, 0.5), w.shape)));
  const updater = config === "adam" ? tf.train.adam(0.01) : config === "optim-steplr" ? new d2l.optim.SGD({ lr: 0.1, momentum: 0.9 }) : tf.train.momentum(0.05, 0.9);
  const scheduler = updater instanceof d2l.optim.SGD ? new d2l.lr.StepLR(updater, { stepSize: 2, gamma: 0.5 }) : undefined;
  const callbacks: d2l.Callback[] = scheduler ? [new d2l.LRSchedulerCallback(scheduler)] : [];
  const loss = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(y, "int32"), 3), yHat, undefined, tf.Reduction.NONE);
  const engine = new d2l.Engine({ net, loss, updater });
  let r: d2l.FitResult;
  if (mode === "straight") r = await engine.fit(trainIter, { numEpochs: TOTAL, testIter, callbacks });
  else if (mode === "first") r = await engine.fit(trainIter, { numEpochs: FIRST, testIter, callbacks: [...callbacks, new d2l.ModelCheckpoint(dir, { scheduler })] });
  else {
    const resumed = await d2l.resume(dir, { net, optimizer: updater, trainIter, scheduler, verbose: false });
    r = await engine.fit(trainIter, { numEpochs: TOTAL, testIter, callbacks, ...resumed });
  }
  const weights = net.getWeights().flatMap((w) => Array.from(w.dataSync()));
  const lr = (updater as unknown as { learningRate: number }).learningRate;
  process.stdout.write(
    `${JSON.stringify({ history: r.history.map((h) => ({ epoch: h.epoch, trainLoss: h.trainLoss, trainAcc: h.trainAcc, testAcc: h.testAcc })), weights, lr })}\n`,
  );
}

main().catch((e: unknown) => {
  process.stdout.write(`${JSON.stringify({ error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) })}\n`);
  process.exit(2);
});
