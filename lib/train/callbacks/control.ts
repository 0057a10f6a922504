/**
 * Callbacks that decide when training ends: early stopping.
 */
import type { Callback, TrainState } from "../callback";
import type { Param } from "../types";
import { type Monitor, type MonitorMode, Watch, fmt } from "./monitor";
import { WeightCopy, modelVariables } from "./weights";

export type { Monitor, MonitorMode, MonitorName } from "./monitor";

/** Options of {@link EarlyStopping}: Keras' `EarlyStopping` arguments in camelCase. */
export interface EarlyStoppingOptions {
  /**
   * What to watch after each epoch: `"trainLoss"`, `"trainAcc"`, `"testAcc"`,
   * `"testLoss"` (default; the engine computes it when accuracy is off), or a
   * function of the training state returning a number.
   */
  monitor?: Monitor;
  /** `"min"` (smaller is better), `"max"`, or `"auto"` (default: max for accuracies, min otherwise; a function needs min or max). */
  mode?: MonitorMode;
  /** Epochs without improvement before training stops (default 0: stop at the first epoch that does not improve). */
  patience?: number;
  /** The least change that counts as an improvement (default 0). */
  minDelta?: number;
  /**
   * At the end, put back the weights of the best epoch (default false). The
   * weights are a LayersModel's (all of them, batch norm's statistics too), or
   * the engine's params; a copy of them is kept on the device meanwhile.
   */
  restoreBestWeights?: boolean;
  /**
   * A value the monitored value must beat: until it does, epochs count
   * against the patience even when they improve on each other (Keras' `baseline`).
   */
  baseline?: number;
  /** Watch from this epoch on (0-based, as Keras' `start_from_epoch`; default 0): a warm-up is never judged. */
  startFromEpoch?: number;
  /** The weights to restore for a function net (default: the engine's params). */
  params?: Param[];
  /** Print the line that says why and where training stopped (default true). */
  verbose?: boolean;
}

/**
 * Stops training when a monitored value has stopped improving: Keras'
 * `EarlyStopping(monitor, min_delta, patience, mode, baseline,
 * restore_best_weights, start_from_epoch)` (PyTorch has none; the book
 * mentions early stopping in section 5.6 without code). After each epoch it
 * reads the value; an epoch improves when it beats the best so far by more
 * than `minDelta`; after `patience` epochs in a row without improvement it
 * sets `state.stopTraining` and prints one line: which value, since which
 * epoch, and where it stopped. With `restoreBestWeights` the model ends with
 * the weights of the best epoch (as Keras 3: also when training ran to the
 * end). Each fit starts afresh (as Keras'); after `d2l.resume` the patience
 * counts from the resumed epoch.
 *
 * Epochs in messages and in `bestEpoch`/`stoppedEpoch` count from 1, as the
 * history's `epoch` does.
 *
 * @example
 * const stop = new d2l.EarlyStopping({ monitor: "testAcc", patience: 3, restoreBestWeights: true });
 * await d2l.trainCh6(net, trainIter, testIter, 30, 0.9, d2l.tryGpu(), { callbacks: [stop] });
 * // early stopping at epoch 12: testAcc did not improve on 0.8912 (epoch 9) for 3 epochs; restored the weights of epoch 9
 * stop.bestEpoch; // 9
 */
export class EarlyStopping implements Callback {
  /** The monitored value, its direction and minDelta. */
  readonly watch: Watch;
  readonly patience: number;
  readonly restoreBestWeights: boolean;
  readonly baseline: number | undefined;
  readonly startFromEpoch: number;
  readonly verbose: boolean;
  /** Best monitored value of the last fit. */
  best = NaN;
  /** Epoch (1-based) of {@link best}; 0 before any. */
  bestEpoch = 0;
  /** Epoch (1-based) at which training was stopped; 0 when it was not. */
  stoppedEpoch = 0;
  /** Epochs since the last improvement. */
  wait = 0;
  private readonly params: Param[] | undefined;
  private bestWeights: WeightCopy | undefined;

  constructor(opts: EarlyStoppingOptions = {}) {
    if (opts === null || typeof opts !== "object") throw new Error('new EarlyStopping(opts) expects an options object, e.g. { monitor: "testAcc", patience: 3 }');
    this.watch = new Watch("EarlyStopping", opts.monitor, opts.mode, opts.minDelta, "testLoss");
    const patience = opts.patience ?? 0;
    if (!Number.isInteger(patience) || patience < 0)
      throw new Error(`EarlyStopping: patience must be a whole number >= 0 (epochs without improvement before stopping), got ${String(patience)}`);
    const start = opts.startFromEpoch ?? 0;
    if (!Number.isInteger(start) || start < 0) throw new Error(`EarlyStopping: startFromEpoch must be a whole number >= 0, got ${String(start)}`);
    if (opts.baseline !== undefined && (typeof opts.baseline !== "number" || !Number.isFinite(opts.baseline))) {
      throw new Error(`EarlyStopping: baseline must be a finite number, got ${String(opts.baseline)}`);
    }
    this.patience = patience;
    this.restoreBestWeights = opts.restoreBestWeights ?? false;
    this.baseline = opts.baseline;
    this.startFromEpoch = start;
    this.params = opts.params;
    this.verbose = opts.verbose ?? true;
  }

  /** @internal */
  onTrainBegin(): void {
    this.best = this.watch.worst;
    this.bestEpoch = 0;
    this.stoppedEpoch = 0;
    this.wait = 0;
    this.bestWeights?.dispose();
    this.bestWeights = undefined;
  }

  /** @internal */
  onEpochEnd(state: TrainState): void {
    if (state.epoch < this.startFromEpoch) return;
    const current = this.watch.value("EarlyStopping", state);
    this.wait++;
    if (this.watch.improves(current, this.best)) {
      this.best = current;
      this.bestEpoch = state.epoch + 1;
      if (this.restoreBestWeights) {
        this.bestWeights?.dispose();
        this.bestWeights = new WeightCopy(modelVariables(state.net, this.params, state.engine));
      }
      if (this.baseline === undefined || this.watch.improves(current, this.baseline)) {
        this.wait = 0;
        return;
      }
    }
    if (this.wait >= this.patience && state.epoch + 1 < state.numEpochs) {
      this.stoppedEpoch = state.epoch + 1;
      state.stopTraining = true;
    }
  }

  /** @internal */
  onTrainEnd(state: TrainState): void {
    try {
      const restore = this.restoreBestWeights && this.bestWeights !== undefined && this.bestEpoch !== state.epoch + 1;
      if (restore) this.bestWeights?.restore();
      if (!this.verbose) return;
      const restored = restore ? `; restored the weights of epoch ${this.bestEpoch}` : "";
      if (this.stoppedEpoch > 0) {
        const label = this.watch.label;
        const since =
          this.baseline !== undefined && !this.watch.improves(this.best, this.baseline)
            ? `did not beat the baseline ${fmt(this.baseline)} (best ${fmt(this.best)}${this.bestEpoch > 0 ? `, epoch ${this.bestEpoch}` : ""})`
            : `did not improve on ${fmt(this.best)} (epoch ${this.bestEpoch})${this.watch.minDelta > 0 ? ` by more than ${fmt(this.watch.minDelta)}` : ""}`;
        console.log(`early stopping at epoch ${this.stoppedEpoch}: ${label} ${since} for ${this.wait} epoch${this.wait === 1 ? "" : "s"}${restored}`);
      } else if (restore) {
        console.log(`early stopping: ${this.watch.label} was best at epoch ${this.bestEpoch} (${fmt(this.best)})${restored}`);
      }
    } finally {
      this.bestWeights?.dispose();
      this.bestWeights = undefined;
    }
  }
}
