/** Chapter 6's training helpers: `evaluate_accuracy_gpu` and `train_ch6`, thin wrappers over the {@link Engine}. */
import * as tf from "@tensorflow/tfjs";
import { tryGpu } from "../backend";
import { initKaiming, initXavier } from "../nn/init";
import { Engine, type Callback } from "./engine";
import { quickEpochs, QUICK_EPOCHS } from "../quick";
import { getRandomState, seed, setRandomState } from "../seed";
import { AnimatorCallback, ProgressCallback, PrintSummary, backendDescription } from "./callbacks";
import { evaluateAccuracy } from "./evaluate";
import { checkIter } from "./evaluate";
import { crossEntropy } from "./losses";
import type { AnimatorLike, ProgressBarLike } from "./ui";
import type { DataIter, Net } from "./types";

/**
 * Accuracy of a model on a data set, computed on the device the tensors live
 * on (the book's `evaluate_accuracy_gpu`). In tfjs a tensor belongs to the
 * backend that made it, so there is nothing to move: `device` is accepted for
 * the book's call shape and must name a device this machine has
 * (`d2l.tryGpu()` does). Counts stay on the device and are read once.
 *
 * @example
 * const acc = await d2l.evaluateAccuracyGpu(net, testIter);
 */
export async function evaluateAccuracyGpu(net: Net, dataIter: DataIter, device?: string): Promise<number> {
  checkDevice(device, "evaluateAccuracyGpu");
  return evaluateAccuracy(net, dataIter);
}

function checkDevice(device: string | undefined, who: string): void {
  if (device === undefined) return;
  if (typeof device !== "string" || !/^(cpu|gpu:\d+)$/.test(device)) {
    throw new Error(`${who}: device must be "cpu" or "gpu:<i>" as d2l.tryGpu() returns, got ${JSON.stringify(device)}`);
  }
  if (device !== "cpu" && device !== tryGpu(Number(device.slice(4)))) {
    throw new Error(`${who}: this machine has no ${device} (the backend is ${backendDescription()}); pass d2l.tryGpu(), which falls back to "cpu"`);
  }
}

/**
 * Per-example softmax cross-entropy on logits with int labels, the book's
 * `nn.CrossEntropyLoss(reduction='none')` for chapter 6 on (`d2l.losses.crossEntropy`).
 */
function crossEntropyLogits(yHat: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return crossEntropy(yHat, y, { reduction: "none" });
}

/**
 * How {@link trainCh6} sets the kernels of the dense and convolution layers
 * before training: `"xavier"` (the book's `train_ch6`: Xavier uniform,
 * {@link initXavier}), `"kaiming"` (He normal, {@link initKaiming}, which
 * keeps the scale of the signal through deep ReLU networks), or `"none"`
 * (keep the model's weights as they are, e.g. pretrained or set by hand).
 */
export type Ch6Init = "xavier" | "kaiming" | "none";

/** Options of {@link trainCh6} beyond the book's arguments. */
export interface TrainCh6Options {
  /**
   * How to initialize the dense and conv kernels first (default `"xavier"`,
   * as the book). See {@link Ch6Init}.
   *
   * @example
   * await d2l.trainCh6(net, trainIter, testIter, 10, 0.01, d2l.tryGpu(), { init: "kaiming", seed: 1 });
   */
  init?: Ch6Init;
  /**
   * The older switch: `true` is `init: "xavier"`, `false` is `init: "none"`.
   * Giving both `xavier` and an `init` that disagrees with it is an error.
   */
  xavier?: boolean;
  /**
   * Seed for the run (default: unseeded): the initialization `init` chooses,
   * and the random stream behind dropout masks and any other unseeded draw
   * while training ({@link seed}`(n)` for the run; the stream as it was
   * before is put back afterwards). On one backend the run then repeats
   * exactly.
   */
  seed?: number;
  /** The animator to draw on, or `false` for none (default: a new `d2l.Animator`, as the book's). */
  animator?: AnimatorLike | false;
  /** A progress bar maker, or `false` for none (default: a `d2l.ProgressBar`). */
  progress?: ((total: number, unit: "examples" | "batches") => ProgressBarLike) | false;
  /** Print `training on ...` and the book's summary lines (default true). */
  verbose?: boolean;
  /** More callbacks (schedules, early stopping, checkpoints, ...). */
  callbacks?: Callback[];
}

/** The initialization {@link trainCh6} options ask for, from `init` or the older `xavier`. */
function ch6Init(options: TrainCh6Options): Ch6Init {
  const { init, xavier } = options;
  if (init !== undefined && !["xavier", "kaiming", "none"].includes(init)) {
    throw new Error(`trainCh6: init must be "xavier", "kaiming" or "none", got ${JSON.stringify(init)}`);
  }
  if (xavier === undefined) return init ?? "xavier";
  const fromXavier: Ch6Init = xavier ? "xavier" : "none";
  if (init !== undefined && init !== fromXavier) {
    throw new Error(`trainCh6: xavier: ${xavier} and init: "${init}" disagree; give init alone`);
  }
  return fromXavier;
}

/** What {@link trainCh6} returns. */
export interface TrainCh6Result {
  /** Mean training loss of the last epoch. */
  trainLoss: number;
  /** Training accuracy of the last epoch. */
  trainAcc: number;
  /** Test accuracy after the last epoch. */
  testAcc: number;
  /** Training examples per second (training steps only, as the book's Timer). */
  examplesPerSec: number;
}

/**
 * Train a model with a GPU if there is one (the book's `train_ch6`): Xavier
 * uniform initialization of dense and conv kernels (or He's, or none: the
 * `init` option), minibatch SGD with
 * learning rate `lr`, softmax cross-entropy on the model's logits, the
 * Animator plotting train loss and train accuracy five times per epoch and
 * test accuracy after every epoch. Prints `training on <device>` first and
 * ends with the book's lines `loss 0.455, train acc 0.831, test acc 0.789`
 * and `12345.6 examples/sec on wasm (2 threads)`.
 *
 * The model outputs logits (no softmax layer), NHWC images in. Pressing stop
 * ends training after the current batch with an `InterruptedError` (the model
 * keeps that batch's weights); a NaN loss ends it with an error naming where
 * (the model keeps the last good weights). In quick mode (`D2L_QUICK=1`)
 * it trains at most `QUICK_EPOCHS.trainCh6` (1) epoch.
 *
 * @example
 * const [trainIter, testIter] = await d2l.loadDataFashionMnist(256);
 * const net = d2l.lenet();
 * const { testAcc } = await d2l.trainCh6(net, trainIter, testIter, 10, 0.9, d2l.tryGpu());
 * // a deep ReLU network without batch normalization starts faster from He's values
 * const [bigTrain, bigTest] = await d2l.loadDataFashionMnist(128, { resize: 224 });
 * await d2l.trainCh6(d2l.alexnet(), bigTrain, bigTest, 10, 0.01, d2l.tryGpu(), { init: "kaiming" });
 */
export async function trainCh6(
  net: tf.LayersModel,
  trainIter: DataIter,
  testIter: DataIter,
  numEpochs: number,
  lr: number,
  device?: string,
  options: TrainCh6Options = {},
): Promise<TrainCh6Result> {
  if (!(net instanceof tf.LayersModel)) {
    throw new Error("trainCh6 trains a tf.LayersModel (e.g. tf.sequential({ layers: [...] }) or d2l.lenet()); for a function net use d2l.trainCh3");
  }
  if (!Number.isInteger(numEpochs) || numEpochs < 1) throw new Error(`trainCh6: numEpochs must be a positive integer, got ${numEpochs}`);
  numEpochs = quickEpochs(numEpochs, QUICK_EPOCHS.trainCh6, "trainCh6");
  if (!(typeof lr === "number" && lr > 0 && Number.isFinite(lr))) throw new Error(`trainCh6: lr must be a positive number, got ${lr}`);
  checkDevice(device, "trainCh6");
  checkIter(trainIter, "training");
  checkIter(testIter, "test");
  const verbose = options.verbose ?? true;
  const init = ch6Init(options);
  if (init === "xavier") initXavier(net, options.seed);
  else if (init === "kaiming") initKaiming(net, options.seed);
  if (verbose) console.log(`training on ${device ?? tryGpu()} (${backendDescription()})`);
  const callbacks: Callback[] = [];
  if (options.animator !== false) {
    callbacks.push(
      new AnimatorCallback({
        animator: options.animator,
        // the book's train_ch6 Animator: no ylim (losses start above 1)
        spec: options.animator ? undefined : { xlabel: "epoch", xlim: numEpochs > 1 ? [1, numEpochs] : [0, 1], legend: ["train loss", "train acc", "test acc"] },
        pointsPerEpoch: 5,
      }),
    );
  }
  if (options.progress !== false) callbacks.push(new ProgressCallback(options.progress ? { bar: options.progress } : {}));
  if (verbose) callbacks.push(new PrintSummary());
  callbacks.push(...(options.callbacks ?? []));
  const optimizer = tf.train.sgd(lr);
  const streamBefore = options.seed === undefined ? undefined : getRandomState();
  if (options.seed !== undefined) seed(options.seed);
  try {
    const r = await new Engine({ net, loss: crossEntropyLogits, updater: optimizer }).fit(trainIter, { numEpochs, testIter, callbacks, quickEpochs: QUICK_EPOCHS.trainCh6 });
    return { trainLoss: r.trainLoss, trainAcc: r.trainAcc as number, testAcc: r.testAcc as number, examplesPerSec: r.examplesPerSec };
  } finally {
    optimizer.dispose();
    if (streamBefore !== undefined) setRandomState(streamBefore);
  }
}
