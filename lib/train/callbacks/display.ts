/**
 * What training shows: the book's Animator, a progress bar, and the book's
 * summary lines.
 */
import { InterruptedError } from "../../interrupt";
import { backendInfo } from "../../backend";
import { showSummary } from "../../report";
import type { Callback, TrainState } from "../callback";
import { type AnimatorLike, type AnimatorSpec, type ProgressBarLike, makeAnimator, makeProgressBar } from "../ui";
import { where } from "./guards";

/** Options of {@link AnimatorCallback}. */
export interface AnimatorCallbackOptions {
  /** The animator to draw on; default: a new `d2l.Animator` with {@link AnimatorCallbackOptions.spec}. */
  animator?: AnimatorLike;
  /** Options for the default animator; default the book's: epochs on x, ylim [0.3, 0.9], train loss / train acc / test acc. */
  spec?: AnimatorSpec;
  /** Points per epoch for the training lines, as the book's `train_ch6` (default 5). */
  pointsPerEpoch?: number;
  /**
   * The values to plot, one per line; `atEpochEnd` is false for the points
   * within an epoch. Default: `[trainLoss, trainAcc, testAcc]` (test only at epoch ends).
   */
  values?: (state: TrainState, atEpochEnd: boolean) => (number | null)[];
}

/**
 * Plots training with the book's Animator, as `train_ch3` and `train_ch6` do: train loss and train accuracy a
 * few times per epoch (at fractional epochs, as the book's `train_ch6`), and
 * test accuracy after every epoch.
 *
 * @example
 * await d2l.fit({ net, loss, updater, trainIter, testIter, numEpochs: 10, callbacks: [new d2l.AnimatorCallback()] });
 */
export class AnimatorCallback implements Callback {
  /** The animator, once training began. */
  animator: AnimatorLike | undefined;
  private readonly spec: AnimatorSpec | undefined;
  private readonly pointsPerEpoch: number;
  private readonly values: (state: TrainState, atEpochEnd: boolean) => (number | null)[];

  constructor(opts: AnimatorCallbackOptions = {}) {
    this.animator = opts.animator;
    this.spec = opts.spec;
    this.pointsPerEpoch = opts.pointsPerEpoch ?? 5;
    this.values = opts.values ?? ((s, end) => [s.trainLoss, s.trainAcc ?? null, end ? (s.testAcc ?? null) : null]);
  }

  /** @internal */
  onTrainBegin(state: TrainState): void {
    this.animator ??= makeAnimator(
      // The book's xlim is [1, numEpochs]; one epoch gets [0, 1] (an axis needs two different ends).
      this.spec ?? { xlabel: "epoch", xlim: state.numEpochs > 1 ? [1, state.numEpochs] : [0, 1], ylim: [0.3, 0.9], legend: ["train loss", "train acc", "test acc"] },
    );
  }

  /** A plot point within the epoch (the epoch's end is plotted by onEpochEnd). */
  private plotPoint(state: TrainState): boolean {
    const nb = state.numBatches;
    if (nb === undefined || this.pointsPerEpoch <= 0) return false;
    const every = Math.max(1, Math.floor(nb / this.pointsPerEpoch));
    const done = state.batch + 1;
    return done % every === 0 && done < nb;
  }

  /** @internal */
  needsValues(state: TrainState): boolean {
    return this.plotPoint(state);
  }

  /** @internal */
  onBatchEnd(state: TrainState): void {
    if (this.plotPoint(state)) this.animator?.add(state.epoch + (state.batch + 1) / (state.numBatches as number), this.values(state, false));
  }

  /** @internal */
  onEpochEnd(state: TrainState): void {
    this.animator?.add(state.epoch + 1, this.values(state, true));
  }

  /** @internal */
  onTrainEnd(): void | Promise<void> {
    return this.animator?.finish?.();
  }
}

/** Options of {@link ProgressCallback}. */
export interface ProgressCallbackOptions {
  /**
   * Makes the bar for `total` units (examples when the training iterator
   * knows `numExamples`, else batches); default a `d2l.ProgressBar`.
   */
  bar?: (total: number, unit: "examples" | "batches") => ProgressBarLike;
  /** Shortest time between two updates, in milliseconds (default 100). */
  minIntervalMs?: number;
  /**
   * Shortest time between two reads of the running loss and accuracy from the
   * device, in milliseconds (default 1000); between reads the bar moves with
   * the last values read.
   */
  readIntervalMs?: number;
}

/**
 * One progress bar over all epochs, counting examples (or batches, for an
 * iterator without `numExamples`), with the epoch and the running loss and
 * accuracy beside it. Without a known number of batches per epoch, the bar
 * starts with epoch 2. The book has none (its loops show the Animator only);
 * d2l-ts' `trainCh*` show one because an epoch on a CPU backend takes a while.
 *
 * @example
 * await d2l.fit({ net, loss, updater, trainIter, numEpochs: 10, callbacks: [new d2l.ProgressCallback()] });
 */
export class ProgressCallback implements Callback {
  private bar: ProgressBarLike | undefined;
  private perEpoch = 0;
  private unit: "examples" | "batches" = "batches";
  private readonly makeBar: (total: number, unit: "examples" | "batches") => ProgressBarLike;
  private readonly minIntervalMs: number;
  private lastUpdate = -Infinity;
  private lastRead = 0;
  private startedAt = 0;
  private readonly readIntervalMs: number;

  constructor(opts: ProgressCallbackOptions = {}) {
    this.makeBar = opts.bar ?? ((total, unit) => makeProgressBar(total, "training", unit));
    this.minIntervalMs = opts.minIntervalMs ?? 100;
    this.readIntervalMs = opts.readIntervalMs ?? 1000;
  }

  private info(s: TrainState): string {
    const parts = [`epoch ${s.epoch + 1}/${s.numEpochs}`];
    if (Number.isFinite(s.trainLoss)) parts.push(`loss ${s.trainLoss.toFixed(3)}`);
    if (s.trainAcc !== undefined && Number.isFinite(s.trainAcc)) parts.push(`train acc ${s.trainAcc.toFixed(3)}`);
    if (s.testAcc !== undefined) parts.push(`test acc ${s.testAcc.toFixed(3)}`);
    return parts.join(", ");
  }

  /** Work done in this fit (a resumed run's earlier epochs are not counted: the bar's rate and time left are this run's). */
  private done(s: TrainState, epochDone: boolean): number {
    const epochs = s.epoch - s.initialEpoch;
    if (this.unit === "examples") return epochs * this.perEpoch + (epochDone ? this.perEpoch : s.examples);
    return epochs * this.perEpoch + (epochDone ? this.perEpoch : s.batch + 1);
  }

  /** @internal */
  onTrainBegin(): void {
    this.startedAt = performance.now();
    this.lastRead = this.startedAt;
  }

  /** @internal */
  needsValues(): boolean {
    if (this.bar === undefined) return false;
    const now = performance.now();
    if (now - this.lastRead < this.readIntervalMs) return false;
    this.lastRead = now;
    return true;
  }

  /** @internal */
  onEpochBegin(state: TrainState): void {
    if (this.bar !== undefined) return;
    const numExamples = state.trainIter.numExamples;
    if (typeof numExamples === "number" && numExamples > 0) {
      this.unit = "examples";
      this.perEpoch = numExamples;
    } else if (state.numBatches !== undefined) {
      this.unit = "batches";
      this.perEpoch = state.numBatches;
    } else return;
    this.bar = this.makeBar((state.numEpochs - state.initialEpoch) * this.perEpoch, this.unit);
    this.lastUpdate = -Infinity;
  }

  /** @internal */
  onBatchEnd(state: TrainState): void {
    if (this.bar === undefined) return;
    const now = performance.now();
    if (now - this.lastUpdate < this.minIntervalMs) return;
    this.lastUpdate = now;
    this.bar.update(this.done(state, false), this.info(state));
  }

  /** @internal */
  onEpochEnd(state: TrainState): void {
    if (this.bar === undefined) return;
    this.lastUpdate = performance.now();
    this.bar.update(this.done(state, true), this.info(state));
  }

  /** @internal */
  onTrainEnd(state: TrainState): void {
    if (this.bar === undefined) return;
    const e = state.error;
    const text =
      e === undefined
        ? `${state.history.length} epoch${state.history.length === 1 ? "" : "s"} in ${((performance.now() - this.startedAt) / 1000).toFixed(1)} s`
        : e instanceof InterruptedError
          ? `interrupted at ${where(state)}`
          : `stopped at ${where(state)}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
    this.bar.close(text);
    this.bar = undefined;
  }
}

/**
 * The backend as the book's summary line names the device:
 * "cpu", "wasm (2 threads)", "tensorflow (gpu:0)".
 */
export function backendDescription(): string {
  const info = backendInfo();
  const extra: string[] = [];
  if (info.device !== "cpu") extra.push(info.device);
  if (info.threads > 1) extra.push(`${info.threads} threads`);
  return extra.length ? `${info.name} (${extra.join(", ")})` : info.name;
}

/**
 * Prints the book's two summary lines (the `print`s at the end of
 * `train_ch6`) when training finishes:
 * `loss 0.447, train acc 0.848, test acc 0.829` and
 * `12345.6 examples/sec on wasm (2 threads)`. In the kernel they are a text
 * output whose metadata also records the run's environment (`d2l.showSummary`),
 * so `d2l-ts export` can list them in a report's header.
 *
 * @example
 * await d2l.fit({ net, loss, updater, trainIter, testIter, numEpochs: 10, callbacks: [new d2l.PrintSummary()] });
 */
export class PrintSummary implements Callback {
  /** @internal */
  onTrainEnd(state: TrainState): void {
    if (state.error !== undefined) return;
    showSummary(summaryLines(state));
  }
}

/** The summary lines for a finished fit. */
export function summaryLines(state: TrainState): string[] {
  const parts = [`loss ${state.trainLoss.toFixed(3)}`];
  if (state.trainAcc !== undefined) parts.push(`train acc ${state.trainAcc.toFixed(3)}`);
  if (state.testAcc !== undefined) parts.push(`test acc ${state.testAcc.toFixed(3)}`);
  if (state.testLoss !== undefined) parts.push(`test loss ${state.testLoss.toFixed(3)}`);
  const eps = state.totalExamples / state.timer.sum();
  return [parts.join(", "), `${eps.toFixed(1)} examples/sec on ${backendDescription()}`];
}
