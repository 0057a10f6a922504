/**
 * The checks the engine always runs: a NaN loss stops training (with the last
 * good weights put back), and the kernel's stop button stops it after the
 * current batch.
 */
import { InterruptedError } from "../../interrupt";
import type { Callback, TrainState } from "../callback";

/** "epoch 3, batch 17": where training is, counted from 1. */
export function where(state: TrainState): string {
  return `epoch ${state.epoch + 1}, batch ${state.batch + 1}`;
}

/**
 * Stops training when the loss read back is NaN or infinite (the book has no
 * such check; its loops train on and plot NaN). The engine reads the loss at
 * its read points (plot points, epoch ends, or every batch with
 * `readEvery: 1`) and, before this check runs, has put back the weights and
 * optimizer state of the previous read, so the model is never left spoiled.
 * The engine always runs one (first, in `onValues`).
 *
 * @example
 * // the error reads: loss became NaN at epoch 3, in batches 1-17; lower the learning rate ...
 * await d2l.trainCh3(net, trainIter, testIter, loss, 10, tf.train.sgd(100));
 */
export class NaNCheck implements Callback {
  readonly order = -1000;
  /** @internal */
  onValues(state: TrainState): void {
    if (Number.isFinite(state.batchLoss)) return;
    const from = state.readFrom;
    const at = from === state.batch ? `${where(state)}` : `epoch ${state.epoch + 1}, in batches ${from + 1}-${state.batch + 1} (pass readEvery: 1 to find the batch)`;
    const kept =
      from === 0 ? (state.epoch === 0 ? "it had before training" : `it had at the end of epoch ${state.epoch}`) : `it had after batch ${from} of epoch ${state.epoch + 1}`;
    throw new Error(`loss became ${state.batchLoss} at ${at}; lower the learning rate (or check the data for NaN values). The model keeps the weights ${kept}`);
  }
}

/**
 * Stops training after the current batch when the user presses the kernel's
 * stop button (Jupyter's KeyboardInterrupt in the book's Python loops): prints `interrupted at epoch e, batch b` and throws
 * `InterruptedError`, so the cell ends with that error and the model keeps the
 * weights of that (complete) batch. The engine always runs one (last, in `onBatchEnd`).
 *
 * @example
 * try { await d2l.trainCh3(net, trainIter, testIter, loss, 10, updater); }
 * catch (e) { if (e instanceof d2l.InterruptedError) console.log("stopped; net is usable"); else throw e; }
 */
export class InterruptCheck implements Callback {
  readonly order = 1000;
  /** @internal */
  onBatchEnd(state: TrainState): void {
    if (!state.interrupt.interrupted) return;
    console.log(`interrupted at ${where(state)}`);
    throw new InterruptedError(`training stopped after ${where(state)}; the model keeps the weights of that batch`);
  }
}
