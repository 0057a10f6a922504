/**
 * What a training callback is and what it sees: the types the engine and the
 * callbacks (`callbacks/`) share, in a file of their own so that neither
 * imports the other.
 */
import type * as tf from "@tensorflow/tfjs";
import type { InterruptGuard } from "../interrupt";
import type { Timer } from "./accumulator";
import type { Engine } from "./engine";
import type { DataIter, Net, Updater } from "./types";

/** One epoch's results, as the engine records them in {@link TrainState.history}. */
export interface EpochLog {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training loss per example over the epoch. */
  trainLoss: number;
  /** Training accuracy over the epoch (when accuracy is on). */
  trainAcc?: number;
  /** Test accuracy after the epoch (when a test iterator is given). */
  testAcc?: number;
  /** Mean test loss after the epoch (when a test iterator is given and accuracy is off). */
  testLoss?: number;
  /** Training examples in the epoch. */
  examples: number;
  /** What the epoch's loss is averaged over: its examples, or the units `batchLoss` counts (seq2seq's tokens). */
  count: number;
  /** Seconds spent in training steps this epoch (data loading and evaluation excluded, as the book's Timer). */
  seconds: number;
  /** The learning rate the epoch started with (set by a `d2l.LRSchedulerCallback`). */
  lr?: number;
}

/**
 * What callbacks see and may change. Epoch and batch are 0-based here (the
 * book's loop variables); messages for people count from 1.
 */
export interface TrainState {
  /** The engine running. */
  readonly engine: Engine;
  /** The net being trained (undefined for an engine that trains with `batchLoss` and was given no net). */
  readonly net: Net | undefined;
  /** The updater (a scheduler changes an optimizer's learning rate through it). */
  readonly updater: Updater;
  /** The training data. */
  readonly trainIter: BatchIter;
  /** The test data, evaluated after each epoch, if any. */
  readonly testIter: DataIter | undefined;
  /** Epochs asked for: the epoch training ends at, those before `initialEpoch` included. */
  readonly numEpochs: number;
  /** Epochs trained before this fit (`FitOptions.initialEpoch`, from a checkpoint); 0 for a fresh run. */
  readonly initialEpoch: number;
  /** Current epoch, 0-based. */
  epoch: number;
  /** Current batch within the epoch, 0-based (-1 before the first). */
  batch: number;
  /** Batches per epoch: the iterator's `numBatches`, or the count of epoch 1 once it is known. */
  numBatches: number | undefined;
  /** Examples in the current batch. */
  batchSize: number;
  /**
   * Mean loss of the batches of the last read (from batch `readFrom` to the
   * batch of that read; one batch with `readEvery: 1`). Values are current in
   * `onValues`, and in `onBatchEnd` of a batch whose `needsValues` asked.
   */
  batchLoss: number;
  /** Accuracy on the batches of the last read (when accuracy is on). */
  batchAcc: number | undefined;
  /** First batch (0-based) of the last read: the read covers `readFrom` to `batch`. */
  readFrom: number;
  /** Mean training loss of the epoch up to the last read. */
  trainLoss: number;
  /** Training accuracy of the epoch up to the last read (when accuracy is on). */
  trainAcc: number | undefined;
  /** Training examples of the epoch so far. */
  examples: number;
  /** Examples trained on, all epochs. */
  totalExamples: number;
  /**
   * What the epoch's loss is averaged over, up to the last read: examples, or
   * the units `batchLoss` counts (seq2seq's tokens).
   */
  count: number;
  /** Latest test accuracy (set after each epoch when a test iterator is given). */
  testAcc: number | undefined;
  /** Latest mean test loss (set after each epoch when a test iterator is given and accuracy is off). */
  testLoss: number | undefined;
  /**
   * The batch's gradients by variable name, during `onAfterBackward` only
   * (a clipping callback may replace them; the engine disposes both).
   */
  grads: tf.NamedTensorMap | undefined;
  /** One entry per finished epoch (those before `initialEpoch` first, when the fit was given their logs). */
  readonly history: EpochLog[];
  /** Times the training steps (the book's Timer: data loading and evaluation excluded). */
  readonly timer: Timer;
  /** Watches the kernel's stop button since training began. */
  readonly interrupt: InterruptGuard;
  /** Set to true to stop after the current batch (the epoch is then closed and evaluated as usual). */
  stopTraining: boolean;
  /** Why training ended early, in `onTrainEnd` (undefined when it finished). */
  error: unknown;
}

/**
 * A training callback: any object with some of these methods (fastai's
 * callbacks, Keras' `Callback`; the book writes these behaviours inline in
 * each `train_ch*`). Methods may be async. Callbacks run in
 * ascending `order` (default 0), and in the order given among equals; the
 * engine's own {@link NaNCheck} runs first (-1000) and {@link InterruptCheck} last (1000).
 *
 * @example
 * const logEpochs: d2l.Callback = {
 *   onEpochEnd: (s) => console.log(`epoch ${s.epoch + 1}: loss ${s.trainLoss.toFixed(3)}`),
 * };
 * await d2l.trainCh3(net, trainIter, testIter, loss, 10, updater, { callbacks: [logEpochs] });
 */
export interface Callback {
  /** Where this callback runs among the others: lower first (default 0). */
  readonly order?: number;
  /** Before the first epoch. */
  onTrainBegin?(state: TrainState): void | Promise<void>;
  /** Before each epoch's first batch. */
  onEpochBegin?(state: TrainState): void | Promise<void>;
  /** Before each batch's forward pass. */
  onBatchBegin?(state: TrainState): void | Promise<void>;
  /** After the backward pass, before the update: `grads` is set. Throwing here leaves the weights untouched. */
  onAfterBackward?(state: TrainState): void | Promise<void>;
  /**
   * After a batch's update: return true when this batch's `onBatchEnd` needs
   * current values (`batchLoss`, `trainLoss`, ...), so the engine reads them
   * back from the device now. Called every batch: keep it cheap, and ask
   * rarely (a read stalls a GPU's pipeline).
   */
  needsValues?(state: TrainState): boolean;
  /** After the engine read the loss and accuracy back (see `needsValues`; always at an epoch's end). */
  onValues?(state: TrainState): void | Promise<void>;
  /** After each batch's update (and its read, when there was one). */
  onBatchEnd?(state: TrainState): void | Promise<void>;
  /** After each epoch and its evaluation. */
  onEpochEnd?(state: TrainState): void | Promise<void>;
  /** Once at the end, also when training stops by an error (then `state.error` is set). */
  onTrainEnd?(state: TrainState): void | Promise<void>;
}

/** The methods of a {@link Callback} the engine calls (all but `needsValues`). */
export type Hook = Exclude<keyof Callback, "order" | "needsValues">;

/**
 * A data iterator of any batches of tensors: `[X, y]` pairs (a {@link DataIter}),
 * or longer tuples for an engine with `batchLoss` (seq2seq's
 * `[X, XValidLen, Y, YValidLen]`). The consumer owns and disposes each batch's tensors.
 */
export type BatchIter = AsyncIterable<tf.Tensor[]> & {
  readonly numExamples?: number;
  readonly numBatches?: number;
  readonly batchSize?: number;
};
