/**
 * The learning-rate schedule on the engine: one callback for every kind of
 * scheduler in `d2l.lr` (torch's, Paddle's, the book's), stepped per epoch
 * or per batch.
 */
import type { Callback, TrainState } from "../callback";
import { BookScheduler, type AnySchedule, type LearningRateHolder, type SchedulableOptimizer, type Scheduler, type SchedulerState, type JsonValue } from "../schedules";

/** Makes the scheduler from the optimizer the trainer built (for `trainCh6`, `trainCh8`, `train`, which make their own). */
export type SchedulerFactory = (optimizer: SchedulableOptimizer) => AnySchedule;

/** A value of the training state to step a plateau scheduler with, or a function of the state. */
export type LRMonitor = "trainLoss" | "trainAcc" | "testAcc" | "testLoss" | "batchLoss" | ((state: TrainState) => number);

/** Options of {@link LRSchedulerCallback}. */
export interface LRSchedulerCallbackOptions {
  /**
   * Step the scheduler after every epoch (`"epoch"`, default: the book's
   * section 11.11 and torch's usual loop) or after every batch (`"batch"`:
   * `OneCycleLR`, `CyclicLR`, warm-up over updates, `NoamDecay`).
   */
  interval?: "epoch" | "batch";
  /**
   * What the plateau schedulers (`ReduceLROnPlateau`, `ReduceOnPlateau`) are
   * stepped with: `"trainLoss"` (default), `"trainAcc"`, `"testAcc"`,
   * `"testLoss"` (after each epoch), `"batchLoss"` (per batch), or a function
   * of the training state.
   */
  monitor?: LRMonitor;
}

const MONITORS = ["trainLoss", "trainAcc", "testAcc", "testLoss", "batchLoss"] as const;

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  return typeof v;
}

function isScheduler(v: unknown): v is Scheduler {
  return typeof v === "object" && v !== null && typeof (v as Scheduler).step === "function" && typeof (v as Scheduler).getLastLr === "function" && "optimizer" in v;
}

function rateOf(opt: unknown): number | undefined {
  const lr = (opt as { learningRate?: unknown } | null)?.learningRate;
  return typeof lr === "number" ? lr : undefined;
}

function setRate(opt: SchedulableOptimizer, lr: number): void {
  const o = opt as unknown as LearningRateHolder;
  if (o.learningRate === lr) return;
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr);
  else o.learningRate = lr;
}

/**
 * Puts a learning-rate scheduler on the training engine, so that every
 * trainer takes one through its `callbacks` option (`trainCh3`, `trainCh6`,
 * `trainCh8`, `train`, `trainCh11`, `d2l.fit`). The book's section 11.11
 * writes this into its own `train(..., scheduler)`; Keras'
 * `LearningRateScheduler` and fastai's `ParamScheduler` are callbacks too.
 *
 * It takes:
 * - a torch-style scheduler made on the optimizer that trains
 *   (`new d2l.lr.StepLR(opt, ...)`): stepped after each epoch (or batch);
 * - a factory `(optimizer) => scheduler`, called at the start of training
 *   with the trainer's optimizer: the form for trainers that make their own
 *   optimizer (`trainCh6`, `trainCh8`, `train`);
 * - a Paddle-style scheduler (`new d2l.lr.NoamDecay({ ... })`): stepped, and
 *   its `lastLr` copied to the optimizer;
 * - one of the book's (`new d2l.lr.CosineScheduler({ ... })`): the optimizer's
 *   rate is `scheduler(epoch)` during epoch `epoch` (or `scheduler(i)` for
 *   batch `i` of the run). The book's loop sets `scheduler(epoch)` after
 *   epoch `epoch`, so its epoch `e + 1` runs at `scheduler(e)`; here the rate
 *   trained with is the curve plotted.
 * The plateau schedulers are stepped with the `monitor`ed value.
 *
 * The rates used are recorded: `epochLrs` (each epoch's first batch),
 * `batchLrs` (every batch), and `lr` in each epoch's log of the history.
 *
 * @example
 * // the book's trainCh6 makes its own SGD: pass a factory
 * await d2l.trainCh6(net, trainIter, testIter, 30, 0.5, d2l.tryGpu(), {
 *   callbacks: [new d2l.LRSchedulerCallback((opt) => new d2l.lr.MultiStepLR(opt, { milestones: [15, 30], gamma: 0.5 }))],
 * });
 * // one cycle per batch, on an optimizer made here
 * const opt = new d2l.optim.SGD({ lr: 0.1, momentum: 0.9 });
 * const cb = new d2l.LRSchedulerCallback(new d2l.lr.OneCycleLR(opt, { maxLr: 0.1, epochs: 10, stepsPerEpoch: 235 }), { interval: "batch" });
 */
export class LRSchedulerCallback implements Callback {
  /**
   * Runs before the other callbacks (-10; the NaN check is -1000): at an
   * epoch's end the scheduler has stepped before a checkpoint saves it, and
   * the epoch's log already holds the rate it trained with (`lr`).
   */
  readonly order = -10;
  readonly interval: "epoch" | "batch";
  readonly monitor: LRMonitor;
  /** The rate of each epoch's first batch, this fit. */
  readonly epochLrs: number[] = [];
  /** The rate of every batch, this fit. */
  readonly batchLrs: number[] = [];
  private readonly given: AnySchedule | SchedulerFactory;
  private current: AnySchedule | undefined;
  private optimizer: SchedulableOptimizer | undefined;
  /** Batches stepped over the whole run (the book's schedulers' `t` per batch). */
  private batchesDone = 0;
  private epochLr: number | undefined;

  constructor(factory: SchedulerFactory, options?: LRSchedulerCallbackOptions);
  constructor(scheduler: AnySchedule, options?: LRSchedulerCallbackOptions);
  constructor(scheduler: AnySchedule | SchedulerFactory, options: LRSchedulerCallbackOptions = {}) {
    if (!(scheduler instanceof BookScheduler) && !isScheduler(scheduler) && typeof scheduler !== "function") {
      throw new Error(
        `LRSchedulerCallback: expected a scheduler (new d2l.lr.StepLR(opt, ...), new d2l.lr.NoamDecay({ ... }), new d2l.lr.CosineScheduler({ ... })) or a factory (opt) => scheduler, got ${describe(scheduler)}`,
      );
    }
    if (options === null || typeof options !== "object") throw new Error(`LRSchedulerCallback: options must be an object such as { interval: "batch" }, got ${describe(options)}`);
    const interval = options.interval ?? "epoch";
    if (interval !== "epoch" && interval !== "batch") throw new Error(`LRSchedulerCallback: interval must be "epoch" or "batch", got ${JSON.stringify(interval)}`);
    const monitor = options.monitor ?? "trainLoss";
    if (typeof monitor !== "function" && !MONITORS.includes(monitor)) {
      throw new Error(
        `LRSchedulerCallback: monitor must be one of ${MONITORS.map((m) => JSON.stringify(m)).join(", ")} or a function (state) => number, got ${JSON.stringify(monitor)}`,
      );
    }
    if (monitor === "batchLoss" && interval !== "batch")
      throw new Error('LRSchedulerCallback: monitor "batchLoss" steps per batch; pass interval: "batch" (or monitor "trainLoss" per epoch)');
    this.given = scheduler;
    this.interval = interval;
    this.monitor = monitor;
  }

  /** The scheduler in use (for a factory, the one it made at the start of training; undefined before). */
  get scheduler(): AnySchedule | undefined {
    return this.current ?? (typeof this.given === "function" && !(this.given instanceof BookScheduler) ? undefined : this.given);
  }

  /** @internal */
  onTrainBegin(state: TrainState): void {
    const opt = state.updater;
    if (rateOf(opt) === undefined) {
      throw new Error(
        "LRSchedulerCallback: the updater has no learningRate to schedule. Pass a tfjs or d2l.optim optimizer, " +
          "or make the book's function updater schedulable: d2l.lr.withLearningRate((batchSize, lr) => d2l.sgd(params, lr, batchSize), 0.1)",
      );
    }
    const optimizer = opt as unknown as SchedulableOptimizer;
    let s: AnySchedule;
    if (typeof this.given === "function" && !(this.given instanceof BookScheduler)) {
      const made = (this.given as SchedulerFactory)(optimizer);
      if (!(made instanceof BookScheduler) && !isScheduler(made)) {
        throw new Error(
          `LRSchedulerCallback: the factory must return a scheduler made on the optimizer it is given, e.g. (opt) => new d2l.lr.StepLR(opt, { stepSize: 30 }); it returned ${describe(made)}`,
        );
      }
      s = made;
    } else s = this.given as AnySchedule;
    if (isScheduler(s) && !s.standalone && s.optimizer !== optimizer) {
      throw new Error(
        "LRSchedulerCallback: the scheduler drives another optimizer than the one training (a trainer such as trainCh6 makes its own); pass a factory instead: new d2l.LRSchedulerCallback((opt) => new d2l.lr.StepLR(opt, { ... }))",
      );
    }
    this.current = s;
    this.optimizer = optimizer;
    this.epochLrs.length = 0;
    this.batchLrs.length = 0;
    this.batchesDone = state.initialEpoch !== undefined && state.numBatches !== undefined ? state.initialEpoch * state.numBatches : 0;
    if (isScheduler(s) && s.standalone) setRate(optimizer, s.getLastLr()[0]);
  }

  /** @internal */
  onEpochBegin(state: TrainState): void {
    const s = this.current;
    if (s instanceof BookScheduler && this.interval === "epoch") setRate(this.optimizer as SchedulableOptimizer, s(state.epoch));
    this.epochLr = undefined;
  }

  /** @internal */
  onBatchBegin(): void {
    const s = this.current;
    const opt = this.optimizer as SchedulableOptimizer;
    if (s instanceof BookScheduler && this.interval === "batch") setRate(opt, s(this.batchesDone));
    const lr = rateOf(opt) as number;
    this.batchLrs.push(lr);
    if (this.epochLr === undefined) {
      this.epochLr = lr;
      this.epochLrs.push(lr);
    }
  }

  /** @internal */
  needsValues(): boolean {
    const s = this.current;
    return this.interval === "batch" && isScheduler(s) && s.needsMetric && typeof this.monitor !== "function";
  }

  /** @internal */
  onBatchEnd(state: TrainState): void {
    this.batchesDone += 1;
    if (this.interval === "batch") this.advance(state);
  }

  /** @internal */
  onEpochEnd(state: TrainState): void {
    const last = state.history[state.history.length - 1];
    if (last !== undefined && this.epochLr !== undefined) last.lr = this.epochLr;
    if (this.interval === "epoch") this.advance(state);
  }

  private advance(state: TrainState): void {
    const s = this.current;
    if (!isScheduler(s)) return; // the book's: set at the next epoch or batch
    if (s.needsMetric) s.step(this.metric(state));
    else s.step();
    if (s.standalone) setRate(this.optimizer as SchedulableOptimizer, s.getLastLr()[0]);
  }

  private metric(state: TrainState): number {
    const m = this.monitor;
    const v = typeof m === "function" ? m(state) : state[m];
    if (typeof v !== "number" || Number.isNaN(v)) {
      const why =
        m === "testAcc" || m === "testLoss"
          ? ` (is there a test iterator${m === "testLoss" ? ", and accuracy off" : ""}?)`
          : m === "trainAcc"
            ? " (the engine computes no accuracy here)"
            : "";
      throw new Error(
        `LRSchedulerCallback: the monitored ${typeof m === "function" ? "function returned" : `${m} is`} ${String(v)}${why}; a plateau scheduler needs a number each ${this.interval}`,
      );
    }
    return v;
  }

  /**
   * The state to save with a checkpoint: the scheduler's (not for the
   * book's, which are functions of the epoch) and the batch count.
   *
   * @example
   * const saved = cb.stateDict();
   */
  stateDict(): SchedulerState {
    const s = this.scheduler;
    const inner: JsonValue = isScheduler(s) ? s.stateDict() : null;
    return { scheduler: "LRSchedulerCallback", batchesDone: this.batchesDone, inner };
  }

  /**
   * Continue from a saved state (the scheduler must exist: for a factory,
   * call this from `onTrainBegin` on, or load the scheduler itself).
   *
   * @example
   * cb.loadStateDict(saved);
   */
  loadStateDict(state: SchedulerState): void {
    if (state === null || typeof state !== "object" || state.scheduler !== "LRSchedulerCallback") {
      throw new Error("LRSchedulerCallback.loadStateDict: expected what LRSchedulerCallback.stateDict() returned");
    }
    if (typeof state.batchesDone === "number") this.batchesDone = state.batchesDone;
    const s = this.scheduler;
    if (isScheduler(s) && state.inner !== null && typeof state.inner === "object" && !Array.isArray(state.inner)) s.loadStateDict(state.inner);
  }
}
