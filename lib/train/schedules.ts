/**
 * Learning-rate schedules, `d2l.lr`: every scheduler of PyTorch 1.13's
 * `torch.optim.lr_scheduler` under its name (camelCase options, torch's
 * semantics and numbers), the decays of PaddlePaddle's `paddle.optimizer.lr`
 * that the course notes list, under Paddle's names, and the book's own
 * schedulers of section 11.11.
 *
 * Three shapes, as in the three libraries:
 * - torch's: `new d2l.lr.StepLR(optimizer, { stepSize: 30, gamma: 0.1 })`
 *   sets the optimizer's rate in its constructor and on every `step()`;
 *   `getLastLr()` is `number[]` (one entry: tfjs optimizers have one
 *   parameter group). Any optimizer with a number `learningRate` works
 *   (`tf.train.sgd`, `tf.train.adam`, the `d2l.optim` optimizers, a plain
 *   `{ learningRate: 0.1 }`); it is written with `setLearningRate` where the
 *   optimizer has one.
 * - Paddle's: standalone, `new d2l.lr.NoamDecay({ dModel, warmupSteps })`,
 *   `.step()`, `.lastLr`; {@link LRSchedulerCallback} copies the rate to the
 *   optimizer that trains. Where Paddle's decay is the same curve as a torch
 *   scheduler, the Paddle class is that torch class running on a private rate
 *   (`StepDecay` is a `StepLR`, ...; see each class).
 * - the book's: callable objects, `scheduler(epoch)` → rate, as the book's
 *   `SquareRootScheduler` and `CosineScheduler` are called.
 *
 * `lr.curve(s, n)` and `lr.plot(s, n)` run any of them on a fresh copy.
 */
import type * as tf from "@tensorflow/tfjs";
import { plot as drawPlot, type PlotOptions } from "../plot/plot";
import type { Figure } from "../plot/figure";

// ---------------------------------------------------------------------------
// Optimizers as schedulers see them

/** An object whose learning rate a scheduler sets: the d2l.optim optimizers, a `{ learningRate }` box, a function updater carrying one ({@link withLearningRate}). */
export interface LearningRateHolder {
  /** The rate the next update uses. */
  learningRate: number;
  /** Set the rate (used instead of assigning `learningRate` where present, as tfjs' `tf.train.sgd` needs). */
  setLearningRate?(lr: number): void;
}

/**
 * What a torch-style scheduler drives: a tfjs optimizer (`tf.train.sgd(0.1)`,
 * `tf.train.adam(...)`: their `learningRate` is read on every update), a
 * `d2l.optim` optimizer, or any {@link LearningRateHolder}.
 */
export type SchedulableOptimizer = tf.Optimizer | LearningRateHolder;

/** A JSON value: what `stateDict()` holds. */
export type JsonValue = number | string | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A scheduler's state, JSON-able (`JSON.stringify` keeps it whole), for checkpoints. */
export type SchedulerState = { [key: string]: JsonValue };

/** torch's extra keys of a parameter group that schedulers keep (`initial_lr`, `max_lr`, ...). */
interface Group {
  initialLr?: number;
  maxLr?: number;
  minLr?: number;
  maxMomentum?: number;
  baseMomentum?: number;
}

// torch keeps these in optimizer.param_groups[0]; tfjs optimizers have no groups, so they live here.
const groups = new WeakMap<object, Group>();

function groupOf(opt: SchedulableOptimizer): Group {
  let g = groups.get(opt);
  if (g === undefined) {
    g = {};
    groups.set(opt, g);
  }
  return g;
}

type Loose = { learningRate?: unknown; setLearningRate?: unknown; momentum?: unknown; setMomentum?: unknown; betas?: unknown };

function loose(opt: SchedulableOptimizer): Loose {
  return opt as unknown as Loose;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  if (typeof v === "function") return "a function";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function checkOptimizer(opt: unknown, who: string): SchedulableOptimizer {
  if ((typeof opt !== "object" && typeof opt !== "function") || opt === null || typeof (opt as Loose).learningRate !== "number") {
    throw new Error(
      `${who}: expected an optimizer with a number learningRate (tf.train.sgd(0.1), new d2l.optim.SGD({ lr: 0.1 }), or { learningRate: 0.1 }), got ${describe(opt)}` +
        (typeof opt === "function"
          ? "; a function updater needs a learningRate property its update reads: d2l.lr.withLearningRate((batchSize, lr) => d2l.sgd(params, lr, batchSize), 0.1)"
          : ""),
    );
  }
  return opt as SchedulableOptimizer;
}

/** The optimizer's current rate (torch's `param_groups[0]["lr"]`). */
function readLr(opt: SchedulableOptimizer): number {
  return loose(opt).learningRate as number;
}

function writeLr(opt: SchedulableOptimizer, lr: number): void {
  const o = loose(opt);
  if (o.learningRate === lr) return;
  if (typeof o.setLearningRate === "function") (o.setLearningRate as (lr: number) => void).call(opt, lr);
  else o.learningRate = lr;
}

/** Which momentum the optimizer has: torch's `"momentum" in defaults` or `"betas" in defaults`. */
function momentumKind(opt: SchedulableOptimizer): "momentum" | "betas" | undefined {
  const o = loose(opt);
  if (Array.isArray(o.betas) && typeof o.betas[0] === "number") return "betas";
  if (typeof o.momentum === "number") return "momentum";
  return undefined;
}

function readMomentum(opt: SchedulableOptimizer): number | undefined {
  const o = loose(opt);
  const kind = momentumKind(opt);
  if (kind === "betas") return (o.betas as number[])[0];
  if (kind === "momentum") return o.momentum as number;
  return undefined;
}

function writeMomentum(opt: SchedulableOptimizer, m: number): void {
  const o = loose(opt);
  const kind = momentumKind(opt);
  if (kind === "betas") o.betas = [m, ...(o.betas as number[]).slice(1)];
  else if (kind === "momentum") {
    if (typeof o.setMomentum === "function") (o.setMomentum as (m: number) => void).call(opt, m);
    o.momentum = m;
  }
}

/** The optimizer's state a scheduler starts from, kept so that a fresh copy can start from it too. */
interface Snapshot {
  lr: number;
  group: Group;
  momentum: number | undefined;
  kind: "momentum" | "betas" | undefined;
  betas: number[] | undefined;
}

function snapshot(opt: SchedulableOptimizer): Snapshot {
  const kind = momentumKind(opt);
  return {
    lr: readLr(opt),
    group: { ...groupOf(opt) },
    momentum: readMomentum(opt),
    kind,
    betas: kind === "betas" ? [...(loose(opt).betas as number[])] : undefined,
  };
}

/** A private optimizer stand-in in the state of `s`. */
function standIn(s: Snapshot): LearningRateHolder {
  const h: LearningRateHolder & { momentum?: number; betas?: number[] } = { learningRate: s.lr };
  if (s.kind === "momentum") h.momentum = s.momentum;
  if (s.kind === "betas") h.betas = [...(s.betas as number[])];
  groups.set(h, { ...s.group });
  return h;
}

/**
 * The rate of a standalone (Paddle-style) scheduler: a private holder, so
 * the scheduler runs without an optimizer; {@link LRSchedulerCallback} copies
 * it to the optimizer that trains.
 */
class OwnRate implements LearningRateHolder {
  constructor(public learningRate: number) {}
}

// ---------------------------------------------------------------------------
// Option checks

type Options = Record<string, unknown>;

function options(o: unknown, who: string, example: string): Options {
  if (o === undefined) return {};
  if (o === null || typeof o !== "object" || Array.isArray(o)) throw new Error(`${who}: expected an options object such as ${example}, got ${describe(o)}`);
  return o as Options;
}

function num(o: Options, key: string, who: string, dflt: number | undefined, check: (v: number) => boolean = Number.isFinite, what = "a finite number"): number {
  const v = o[key] ?? dflt;
  if (v === undefined) throw new Error(`${who}: the option ${key} is required (${what})`);
  if (typeof v !== "number" || Number.isNaN(v) || !check(v)) throw new Error(`${who}: ${key} must be ${what}, got ${describe(v)}`);
  return v;
}

const posInt = (v: number): boolean => Number.isInteger(v) && v > 0;
const nonNeg = (v: number): boolean => Number.isFinite(v) && v >= 0;
const positive = (v: number): boolean => Number.isFinite(v) && v > 0;
const unit = (v: number): boolean => v >= 0 && v <= 1;

function fn(o: Options, key: string, who: string): (x: number) => number {
  const f = o[key];
  if (typeof f !== "function") throw new Error(`${who}: ${key} must be a function of the step (epoch) => factor, got ${describe(f)}`);
  return f as (x: number) => number;
}

function oneOf<T extends string>(o: Options, key: string, who: string, allowed: readonly T[], dflt: T): T {
  const v = o[key] ?? dflt;
  if (!allowed.includes(v as T)) throw new Error(`${who}: ${key} must be ${allowed.map((a) => JSON.stringify(a)).join(" or ")}, got ${describe(v)}`);
  return v as T;
}

function bisectRight(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < sorted[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function stateNum(s: SchedulerState, key: string, who: string): number {
  const v = s[key];
  if (typeof v !== "number") throw new Error(`${who}.loadStateDict: the state has no number ${key} (got ${describe(v)}); pass what stateDict() returned`);
  return v;
}

function stateNums(s: SchedulerState, key: string, who: string): number[] {
  const v = s[key];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "number")) throw new Error(`${who}.loadStateDict: the state has no number list ${key}; pass what stateDict() returned`);
  return v as number[];
}

function checkKind(s: unknown, kind: string, who: string): SchedulerState {
  if (s === null || typeof s !== "object" || Array.isArray(s)) throw new Error(`${who}.loadStateDict: expected the object stateDict() returned, got ${describe(s)}`);
  const st = s as SchedulerState;
  if (st.scheduler !== kind) throw new Error(`${who}.loadStateDict: this state is of a ${String(st.scheduler)}, not of a ${kind}; load it into the scheduler that saved it`);
  return st;
}

// ---------------------------------------------------------------------------
// What every scheduler is

/**
 * What {@link LRSchedulerCallback}, {@link curve} and {@link plot} need of a
 * scheduler (torch's and Paddle's schedulers all have it; the book's are
 * {@link BookScheduler}s instead).
 *
 * @example
 * const s: d2l.lr.Scheduler = new d2l.lr.StepLR(tf.train.sgd(0.1), { stepSize: 30 });
 * s.step();
 */
export interface Scheduler {
  /** The optimizer it sets the rate of (for a standalone scheduler, its private rate holder). */
  readonly optimizer: SchedulableOptimizer;
  /** True for Paddle-style schedulers, which own their rate: whoever trains copies `lastLr` to the optimizer. */
  readonly standalone: boolean;
  /** True for the plateau schedulers: `step(metric)` takes the monitored value. */
  readonly needsMetric: boolean;
  /** Advance one step (epoch or batch); the plateau schedulers take the monitored value. */
  step(value?: number): void;
  /** The current rate, as torch's `get_last_lr()`: one entry per parameter group (one here). */
  getLastLr(): number[];
  /** The current rate, as Paddle's `last_lr`. */
  readonly lastLr: number;
  /** The state to save (JSON-able). */
  stateDict(): SchedulerState;
  /** Continue from a saved state (also sets the optimizer's rate to the saved one). */
  loadStateDict(state: SchedulerState): void;
  /** A new scheduler of the same kind and options, from the state this one started in, on a private copy of its optimizer (what {@link plot} runs). */
  freshCopy(): Scheduler;
}

let serials = 0;

/** Set while a Paddle alias calls its torch superclass: the name and remake the base constructor takes instead. */
let pendingAlias: { kind: string; remake: (optimizer: SchedulableOptimizer) => LRScheduler } | undefined;

/** The private rate of a Paddle class that is a torch class (`StepDecay` is a `StepLR`), registering its own name and remake. */
function paddleAlias(kind: string, learningRate: number, remake: () => LRScheduler): OwnRate {
  pendingAlias = { kind, remake };
  return new OwnRate(learningRate);
}

/**
 * The base of torch's schedulers (PyTorch 1.13's `_LRScheduler`, public as
 * `torch.optim.lr_scheduler.LRScheduler` in 2.x; Paddle's base
 * `paddle.optimizer.lr.LRScheduler` has the same stepping). The constructor
 * sets the optimizer's rate for step 0; `step()` adds one to `lastEpoch` and
 * sets the rate `getLr()` computes from the optimizer's current rate (torch's
 * "chainable" form, so two schedulers on one optimizer compose);
 * `step(epoch)` jumps to `epoch` with the closed form where the scheduler has
 * one (torch's deprecated form; `SequentialLR` and Paddle's `LinearWarmup`
 * use it).
 *
 * To write a scheduler: extend it, set your fields, call `this.start()` at
 * the end of the constructor, and override `getLr()`.
 *
 * @example
 * class Halving extends d2l.lr.LRScheduler {
 *   constructor(opt: d2l.lr.SchedulableOptimizer) { super(opt, "Halving", (o) => new Halving(o)); this.start(); }
 *   protected override getLr(): number[] { return this.baseLrs.map((b) => b * 0.5 ** this.lastEpoch); }
 * }
 */
export abstract class LRScheduler implements Scheduler {
  readonly optimizer: SchedulableOptimizer;
  /** The rates step 0 starts from (torch's `base_lrs`: the optimizer's `initial_lr`). */
  baseLrs: number[] = [];
  /** The step count: -1 before the constructor's first step (torch's `last_epoch`). */
  lastEpoch = -1;
  readonly needsMetric: boolean = false;
  /** How many times `step` ran (torch's `_step_count`). */
  protected stepCount = 0;
  /** The rates after the last step (torch's `_last_lr`). */
  protected lastLrs: number[] = [];
  /** The class name in messages and saved states. */
  protected readonly kind: string;
  /** Construction order (fresh copies of composed schedulers are rebuilt in it). */
  protected readonly serial: number;
  /** The optimizer's state before this scheduler touched it. */
  protected readonly before: Snapshot;
  /** Builds the same scheduler on another optimizer. */
  protected readonly remake: (optimizer: SchedulableOptimizer) => LRScheduler;

  /**
   * @param optimizer what it drives (checked: it must have a number `learningRate`).
   * @param kind the class name, for messages and saved states.
   * @param remake builds the same scheduler (same options) on another optimizer, for {@link freshCopy}.
   */
  protected constructor(optimizer: SchedulableOptimizer, kind: string, remake: (optimizer: SchedulableOptimizer) => LRScheduler) {
    // A Paddle class that is a torch class on its own rate names itself (see `paddleAlias`).
    const alias = pendingAlias;
    pendingAlias = undefined;
    this.kind = alias?.kind ?? kind;
    this.optimizer = checkOptimizer(optimizer, this.kind);
    this.serial = serials++;
    this.before = snapshot(this.optimizer);
    this.remake = alias?.remake ?? remake;
  }

  /** True when the scheduler owns its rate (Paddle's classes): see {@link Scheduler.standalone}. */
  get standalone(): boolean {
    return this.optimizer instanceof OwnRate;
  }

  /** torch's `group.setdefault("initial_lr", group["lr"])` and `base_lrs`; then the first step. Subclasses call it last in their constructor. */
  protected start(): void {
    const g = groupOf(this.optimizer);
    if (g.initialLr === undefined) g.initialLr = readLr(this.optimizer);
    this.baseLrs = [g.initialLr];
    this.initialStep();
  }

  /** torch's `_initial_step`. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /**
   * Advance one step (one epoch, or one batch for the per-batch schedulers),
   * after the optimizer's update, as torch's `scheduler.step()`. With `epoch`,
   * jump there (torch's deprecated `step(epoch)`: the closed form where there is one).
   *
   * @example
   * for (let epoch = 0; epoch < 100; epoch++) { await trainOneEpoch(); scheduler.step(); }
   */
  step(epoch?: number): void {
    this.stepCount += 1;
    let values: number[];
    if (epoch === undefined) {
      this.lastEpoch += 1;
      values = this.getLr();
    } else {
      if (typeof epoch !== "number" || !Number.isFinite(epoch))
        throw new Error(`${this.kind}.step(epoch): epoch must be a number (or leave it out to advance one step), got ${describe(epoch)}`);
      this.lastEpoch = epoch;
      values = this.closedFormLr() ?? this.getLr();
    }
    writeLr(this.optimizer, values[0]);
    this.lastLrs = [readLr(this.optimizer)];
  }

  /**
   * The rate for the current `lastEpoch`, from the optimizer's current rate
   * (torch's `get_lr`, the chainable form).
   */
  protected abstract getLr(): number[];

  /** The rate at `lastEpoch` from `baseLrs` alone (torch's `_get_closed_form_lr`), or undefined where there is none. */
  protected closedFormLr(): number[] | undefined {
    return undefined;
  }

  /**
   * The rates set by the last step (torch's `get_last_lr()`).
   *
   * @example
   * scheduler.getLastLr() // [0.05]
   */
  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  /** The current rate (Paddle's `last_lr`). */
  get lastLr(): number {
    return this.lastLrs[0];
  }

  /** The group's rate now (torch's `group["lr"]`). */
  protected get groupLr(): number {
    return readLr(this.optimizer);
  }

  /**
   * The state to save with a checkpoint: step counts, rates and the
   * optimizer-group values schedulers keep (torch's `state_dict()`; functions
   * such as `lrLambda` are not saved: the scheduler being loaded has its own).
   *
   * @example
   * const saved = JSON.stringify(scheduler.stateDict());
   */
  stateDict(): SchedulerState {
    const g = groupOf(this.optimizer);
    const group: { [k: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(g)) if (typeof v === "number") group[k] = v;
    return { scheduler: this.kind, lastEpoch: this.lastEpoch, stepCount: this.stepCount, baseLrs: [...this.baseLrs], lastLr: [...this.lastLrs], group, ...this.extraState() };
  }

  /**
   * Continue from a state `stateDict()` returned (torch's `load_state_dict`).
   * tfjs optimizers do not save their rate, so this also sets the optimizer's
   * rate to the saved one.
   *
   * @example
   * scheduler.loadStateDict(JSON.parse(saved));
   */
  loadStateDict(state: SchedulerState): void {
    const s = checkKind(state, this.kind, this.kind);
    this.lastEpoch = stateNum(s, "lastEpoch", this.kind);
    this.stepCount = stateNum(s, "stepCount", this.kind);
    this.baseLrs = [...stateNums(s, "baseLrs", this.kind)];
    this.lastLrs = [...stateNums(s, "lastLr", this.kind)];
    const group = s.group;
    if (group !== null && typeof group === "object" && !Array.isArray(group)) {
      const g = groupOf(this.optimizer);
      for (const [k, v] of Object.entries(group)) if (typeof v === "number") (g as Record<string, number>)[k] = v;
    }
    this.loadExtraState(s);
    if (this.lastLrs.length > 0) writeLr(this.optimizer, this.lastLrs[0]);
  }

  /** More state of a subclass, saved by `stateDict`. */
  protected extraState(): SchedulerState {
    return {};
  }

  /** Restore what `extraState` saved. */
  protected loadExtraState(_state: SchedulerState): void {}

  /**
   * A new scheduler of the same class and options on a private copy of the
   * optimizer as it was before this one was made: what {@link plot} runs, so
   * the scheduler in use is not disturbed.
   *
   * @example
   * const copy = scheduler.freshCopy();
   */
  freshCopy(): LRScheduler {
    return this.rebuild(new Map(), undefined);
  }

  /** The leaf schedulers this one is made of (itself for a leaf). */
  protected leaves(): LRScheduler[] {
    return [this];
  }

  /** Rebuild on `holder` (a stand-in made from the first leaf's snapshot when undefined); `made` maps leaves to their copies. */
  protected rebuild(made: Map<LRScheduler, LRScheduler>, holder: SchedulableOptimizer | undefined): LRScheduler {
    const h = holder ?? standIn(this.before);
    const copy = made.get(this) ?? this.remake(h);
    made.set(this, copy);
    return copy;
  }

  /** For composed schedulers: rebuild the leaves in the order they were made, on one stand-in. */
  protected static rebuildLeaves(leaves: LRScheduler[], made: Map<LRScheduler, LRScheduler>, holder: SchedulableOptimizer | undefined): SchedulableOptimizer {
    const ordered = [...new Set(leaves)].sort((a, b) => a.serial - b.serial);
    const h = holder ?? standIn(ordered[0].before);
    for (const leaf of ordered) if (!made.has(leaf)) made.set(leaf, leaf.remake(h));
    return h;
  }
}

// ---------------------------------------------------------------------------
// PyTorch's schedulers

/** Options of {@link LambdaLR}. */
export interface LambdaLROptions {
  /** The factor of the initial rate at each step: `lr = initialLr * lrLambda(step)` (torch's `lr_lambda`). */
  lrLambda: (epoch: number) => number;
}

/**
 * The initial rate times a function of the step (torch's `LambdaLR`):
 * `lr = initialLr * lrLambda(epoch)`.
 *
 * @example
 * const s = new d2l.lr.LambdaLR(tf.train.sgd(0.1), { lrLambda: (epoch) => 0.95 ** epoch });
 */
export class LambdaLR extends LRScheduler {
  readonly lrLambda: (epoch: number) => number;

  constructor(optimizer: SchedulableOptimizer, opts: LambdaLROptions) {
    super(optimizer, "LambdaLR", (o) => new LambdaLR(o, opts));
    this.lrLambda = fn(options(opts, "LambdaLR", "{ lrLambda: (epoch) => 0.95 ** epoch }"), "lrLambda", "LambdaLR");
    this.start();
  }

  protected override getLr(): number[] {
    return this.baseLrs.map((b) => b * this.lrLambda(this.lastEpoch));
  }
}

/** Options of {@link MultiplicativeLR}. */
export interface MultiplicativeLROptions {
  /** The factor the rate is multiplied by at each step after the first (torch's `lr_lambda`). */
  lrLambda: (epoch: number) => number;
}

/**
 * Multiply the rate by a function of the step at every step (torch's
 * `MultiplicativeLR`): `lr_t = lr_{t-1} * lrLambda(t)` for t > 0.
 *
 * @example
 * const s = new d2l.lr.MultiplicativeLR(tf.train.sgd(0.1), { lrLambda: () => 0.95 });
 */
export class MultiplicativeLR extends LRScheduler {
  readonly lrLambda: (epoch: number) => number;

  constructor(optimizer: SchedulableOptimizer, opts: MultiplicativeLROptions) {
    super(optimizer, "MultiplicativeLR", (o) => new MultiplicativeLR(o, opts));
    this.lrLambda = fn(options(opts, "MultiplicativeLR", "{ lrLambda: () => 0.95 }"), "lrLambda", "MultiplicativeLR");
    this.start();
  }

  protected override getLr(): number[] {
    return this.lastEpoch > 0 ? [this.groupLr * this.lrLambda(this.lastEpoch)] : [this.groupLr];
  }
}

/** Options of {@link StepLR}. */
export interface StepLROptions {
  /** Steps between decays (torch's `step_size`). */
  stepSize: number;
  /** Factor of each decay (default 0.1). */
  gamma?: number;
}

/**
 * Multiply the rate by `gamma` every `stepSize` steps (torch's `StepLR`):
 * `lr = initialLr * gamma ** floor(epoch / stepSize)`.
 *
 * @example
 * const s = new d2l.lr.StepLR(tf.train.sgd(0.05), { stepSize: 30, gamma: 0.1 }); // 0.05, then 0.005 from epoch 30
 */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: SchedulableOptimizer, opts: StepLROptions) {
    super(optimizer, "StepLR", (o) => new StepLR(o, opts));
    const o = options(opts, "StepLR", "{ stepSize: 30, gamma: 0.1 }");
    this.stepSize = num(o, "stepSize", "StepLR", undefined, posInt, "a positive whole number of steps");
    this.gamma = num(o, "gamma", "StepLR", 0.1);
    this.start();
  }

  protected override getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return [this.groupLr];
    return [this.groupLr * this.gamma];
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/** Options of {@link MultiStepLR}. */
export interface MultiStepLROptions {
  /** Steps at which the rate decays, increasing (a step given twice decays twice, as torch's Counter). */
  milestones: number[];
  /** Factor of each decay (default 0.1). */
  gamma?: number;
}

/**
 * Multiply the rate by `gamma` at each milestone (torch's `MultiStepLR`):
 * `lr = initialLr * gamma ** (milestones passed)`. The book's section 11.11
 * uses it with `milestones: [15, 30], gamma: 0.5`.
 *
 * @example
 * const s = new d2l.lr.MultiStepLR(tf.train.sgd(0.5), { milestones: [15, 30], gamma: 0.5 });
 */
export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];
  readonly gamma: number;
  private readonly counts = new Map<number, number>();

  constructor(optimizer: SchedulableOptimizer, opts: MultiStepLROptions) {
    super(optimizer, "MultiStepLR", (o) => new MultiStepLR(o, opts));
    const o = options(opts, "MultiStepLR", "{ milestones: [30, 80], gamma: 0.1 }");
    const m = o.milestones;
    if (!Array.isArray(m) || m.some((x) => !Number.isInteger(x) || x < 0)) {
      throw new Error(`MultiStepLR: milestones must be a list of whole step numbers, like [30, 80]; got ${describe(m)}`);
    }
    this.milestones = [...(m as number[])].sort((a, b) => a - b);
    for (const x of this.milestones) this.counts.set(x, (this.counts.get(x) ?? 0) + 1);
    this.gamma = num(o, "gamma", "MultiStepLR", 0.1);
    this.start();
  }

  protected override getLr(): number[] {
    const c = this.counts.get(this.lastEpoch);
    if (c === undefined) return [this.groupLr];
    return [this.groupLr * this.gamma ** c];
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** bisectRight(this.milestones, this.lastEpoch));
  }
}

/** Options of {@link ConstantLR}. */
export interface ConstantLROptions {
  /** The factor until `totalIters` (default 1/3, between 0 and 1). */
  factor?: number;
  /** Steps with the reduced rate (default 5). */
  totalIters?: number;
}

/**
 * The rate times `factor` for the first `totalIters` steps, then the rate
 * itself (torch's `ConstantLR`): a constant warm-up.
 *
 * @example
 * const s = new d2l.lr.ConstantLR(tf.train.sgd(0.05), { factor: 0.5, totalIters: 4 }); // 0.025 x4, then 0.05
 */
export class ConstantLR extends LRScheduler {
  readonly factor: number;
  readonly totalIters: number;

  constructor(optimizer: SchedulableOptimizer, opts: ConstantLROptions = {}) {
    super(optimizer, "ConstantLR", (o) => new ConstantLR(o, opts));
    const o = options(opts, "ConstantLR", "{ factor: 0.5, totalIters: 4 }");
    this.factor = num(o, "factor", "ConstantLR", 1 / 3, unit, "a number between 0 and 1");
    this.totalIters = num(o, "totalIters", "ConstantLR", 5, (v) => Number.isInteger(v) && v >= 0, "a whole number of steps");
    this.start();
  }

  protected override getLr(): number[] {
    if (this.lastEpoch === 0) return [this.groupLr * this.factor];
    if (this.lastEpoch !== this.totalIters) return [this.groupLr];
    return [this.groupLr * (1.0 / this.factor)];
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * (this.factor + (this.lastEpoch >= this.totalIters ? 1 : 0) * (1 - this.factor)));
  }
}

/** Options of {@link LinearLR}. */
export interface LinearLROptions {
  /** Factor of the rate at step 0 (default 1/3, between 0 and 1). */
  startFactor?: number;
  /** Factor at step `totalIters` and after (default 1, between 0 and 1). */
  endFactor?: number;
  /** Steps of the linear change (default 5). */
  totalIters?: number;
}

/**
 * Change the rate's factor linearly from `startFactor` to `endFactor` over
 * `totalIters` steps (torch's `LinearLR`): a linear warm-up (or decay).
 *
 * @example
 * const warmup = new d2l.lr.LinearLR(tf.train.sgd(0.1), { startFactor: 0.1, totalIters: 10 });
 */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;

  constructor(optimizer: SchedulableOptimizer, opts: LinearLROptions = {}) {
    super(optimizer, "LinearLR", (o) => new LinearLR(o, opts));
    const o = options(opts, "LinearLR", "{ startFactor: 0.1, totalIters: 10 }");
    this.startFactor = num(o, "startFactor", "LinearLR", 1 / 3, (v) => v > 0 && v <= 1, "a number in (0, 1]");
    this.endFactor = num(o, "endFactor", "LinearLR", 1, unit, "a number between 0 and 1");
    this.totalIters = num(o, "totalIters", "LinearLR", 5, posInt, "a positive whole number of steps");
    this.start();
  }

  protected override getLr(): number[] {
    if (this.lastEpoch === 0) return [this.groupLr * this.startFactor];
    if (this.lastEpoch > this.totalIters) return [this.groupLr];
    const d = this.endFactor - this.startFactor;
    return [this.groupLr * (1 + d / (this.totalIters * this.startFactor + (this.lastEpoch - 1) * d))];
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * (this.startFactor + ((this.endFactor - this.startFactor) * Math.min(this.totalIters, this.lastEpoch)) / this.totalIters));
  }
}

/** Options of {@link ExponentialLR}. */
export interface ExponentialLROptions {
  /** The factor of every step. */
  gamma: number;
}

/**
 * Multiply the rate by `gamma` every step (torch's `ExponentialLR`):
 * `lr = initialLr * gamma ** epoch`.
 *
 * @example
 * const s = new d2l.lr.ExponentialLR(tf.train.sgd(0.1), { gamma: 0.95 });
 */
export class ExponentialLR extends LRScheduler {
  readonly gamma: number;

  constructor(optimizer: SchedulableOptimizer, opts: ExponentialLROptions) {
    super(optimizer, "ExponentialLR", (o) => new ExponentialLR(o, opts));
    this.gamma = num(options(opts, "ExponentialLR", "{ gamma: 0.95 }"), "gamma", "ExponentialLR", undefined);
    this.start();
  }

  protected override getLr(): number[] {
    return this.lastEpoch === 0 ? [this.groupLr] : [this.groupLr * this.gamma];
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
}

/** Options of {@link PolynomialLR}. */
export interface PolynomialLROptions {
  /** Steps until the rate reaches 0 (default 5). */
  totalIters?: number;
  /** Power of the polynomial (default 1: linear). */
  power?: number;
}

/**
 * Decay the rate to 0 over `totalIters` steps as a polynomial (torch's
 * `PolynomialLR`): `lr = initialLr * (1 - min(epoch, totalIters) / totalIters) ** power`.
 *
 * @example
 * const s = new d2l.lr.PolynomialLR(tf.train.sgd(0.001), { totalIters: 4, power: 1 }); // 0.001, 0.00075, 0.0005, 0.00025, 0
 */
export class PolynomialLR extends LRScheduler {
  readonly totalIters: number;
  readonly power: number;

  constructor(optimizer: SchedulableOptimizer, opts: PolynomialLROptions = {}) {
    super(optimizer, "PolynomialLR", (o) => new PolynomialLR(o, opts));
    const o = options(opts, "PolynomialLR", "{ totalIters: 50, power: 1 }");
    this.totalIters = num(o, "totalIters", "PolynomialLR", 5, posInt, "a positive whole number of steps");
    this.power = num(o, "power", "PolynomialLR", 1);
    this.start();
  }

  protected override getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch > this.totalIters) return [this.groupLr];
    const f = ((1.0 - this.lastEpoch / this.totalIters) / (1.0 - (this.lastEpoch - 1) / this.totalIters)) ** this.power;
    return [this.groupLr * f];
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * (1.0 - Math.min(this.totalIters, this.lastEpoch) / this.totalIters) ** this.power);
  }
}

/** Options of {@link CosineAnnealingLR}. */
export interface CosineAnnealingLROptions {
  /** Steps of a half period (torch's `T_max`). */
  tMax: number;
  /** The lowest rate (default 0; torch's `eta_min`). */
  etaMin?: number;
}

/**
 * Cosine annealing (torch's `CosineAnnealingLR`, SGDR without restarts):
 * `lr = etaMin + (initialLr - etaMin) * (1 + cos(pi * epoch / tMax)) / 2`,
 * computed as torch does, recursively from the current rate (so the numbers
 * match torch's to the last bits, and past `tMax` the rate rises again).
 *
 * @example
 * const s = new d2l.lr.CosineAnnealingLR(tf.train.sgd(0.1), { tMax: 100, etaMin: 0.001 });
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: SchedulableOptimizer, opts: CosineAnnealingLROptions) {
    super(optimizer, "CosineAnnealingLR", (o) => new CosineAnnealingLR(o, opts));
    const o = options(opts, "CosineAnnealingLR", "{ tMax: 100, etaMin: 0 }");
    this.tMax = num(o, "tMax", "CosineAnnealingLR", undefined, positive, "a positive number of steps (torch's T_max)");
    this.etaMin = num(o, "etaMin", "CosineAnnealingLR", 0);
    this.start();
  }

  protected override getLr(): number[] {
    const t = this.lastEpoch;
    const T = this.tMax;
    if (t === 0) return [this.groupLr];
    if (this.stepCount === 1 && t > 0) return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((t * Math.PI) / T))) / 2);
    if ((t - 1 - T) % (2 * T) === 0) return this.baseLrs.map((b) => this.groupLr + ((b - this.etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    return [((1 + Math.cos((Math.PI * t) / T)) / (1 + Math.cos((Math.PI * (t - 1)) / T))) * (this.groupLr - this.etaMin) + this.etaMin];
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2);
  }
}

/** Options of {@link CosineAnnealingWarmRestarts}. */
export interface CosineAnnealingWarmRestartsOptions {
  /** Steps until the first restart (torch's `T_0`, a positive whole number). */
  t0: number;
  /** Each period is this many times the one before (default 1; torch's `T_mult`, a whole number >= 1). */
  tMult?: number;
  /** The lowest rate (default 0). */
  etaMin?: number;
}

/**
 * Cosine annealing with warm restarts (torch's `CosineAnnealingWarmRestarts`,
 * SGDR): within a period of `T_i` steps the rate falls as a half cosine from
 * the initial rate to `etaMin`, then restarts; periods grow by `tMult`.
 * `step(epoch)` takes fractional epochs (`epoch + i / numBatches`) as torch's.
 *
 * @example
 * const s = new d2l.lr.CosineAnnealingWarmRestarts(tf.train.sgd(0.1), { t0: 10, tMult: 2 });
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  readonly t0: number;
  readonly tMult: number;
  readonly etaMin: number;
  /** The current period (torch's `T_i`). */
  tI: number;
  /** Steps since the last restart (torch's `T_cur`). */
  tCur: number;

  constructor(optimizer: SchedulableOptimizer, opts: CosineAnnealingWarmRestartsOptions) {
    super(optimizer, "CosineAnnealingWarmRestarts", (o) => new CosineAnnealingWarmRestarts(o, opts));
    const o = options(opts, "CosineAnnealingWarmRestarts", "{ t0: 10, tMult: 2 }");
    this.t0 = num(o, "t0", "CosineAnnealingWarmRestarts", undefined, posInt, "a positive whole number of steps (torch's T_0)");
    this.tMult = num(o, "tMult", "CosineAnnealingWarmRestarts", 1, (v) => Number.isInteger(v) && v >= 1, "a whole number >= 1 (torch's T_mult)");
    this.etaMin = num(o, "etaMin", "CosineAnnealingWarmRestarts", 0);
    this.tI = this.t0;
    this.tCur = -1;
    this.start();
  }

  protected override getLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.tCur) / this.tI))) / 2);
  }

  /**
   * Advance one step, or go to `epoch` (fractional epochs allowed, as torch's).
   *
   * @example
   * for (let i = 0; i < numBatches; i++) s.step(epoch + i / numBatches);
   */
  override step(epoch?: number): void {
    let e: number;
    if (epoch === undefined && this.lastEpoch < 0) epoch = 0;
    if (epoch === undefined) {
      e = this.lastEpoch + 1;
      this.tCur += 1;
      if (this.tCur >= this.tI) {
        this.tCur -= this.tI;
        this.tI *= this.tMult;
      }
    } else {
      e = epoch;
      if (typeof e !== "number" || !Number.isFinite(e) || e < 0) throw new Error(`CosineAnnealingWarmRestarts.step(epoch): expected a number >= 0, got ${describe(e)}`);
      if (e >= this.t0) {
        if (this.tMult === 1) this.tCur = e % this.t0;
        else {
          const n = Math.trunc(Math.log((e / this.t0) * (this.tMult - 1) + 1) / Math.log(this.tMult));
          this.tCur = e - (this.t0 * (this.tMult ** n - 1)) / (this.tMult - 1);
          this.tI = this.t0 * this.tMult ** n;
        }
      } else {
        this.tI = this.t0;
        this.tCur = e;
      }
    }
    this.lastEpoch = Math.floor(e);
    writeLr(this.optimizer, this.getLr()[0]);
    this.lastLrs = [readLr(this.optimizer)];
  }

  protected override extraState(): SchedulerState {
    return { tI: this.tI, tCur: this.tCur };
  }

  protected override loadExtraState(s: SchedulerState): void {
    this.tI = stateNum(s, "tI", this.kind);
    this.tCur = stateNum(s, "tCur", this.kind);
  }
}

function checkChildren(list: unknown, who: string, optimizer: SchedulableOptimizer | undefined): LRScheduler[] {
  if (!Array.isArray(list) || list.length === 0) throw new Error(`${who}: schedulers must be a non-empty list of schedulers on one optimizer, got ${describe(list)}`);
  list.forEach((s, i) => {
    if (!(s instanceof LRScheduler)) {
      throw new Error(
        `${who}: schedulers[${i}] is ${describe(s)}; expected a torch-style scheduler such as new d2l.lr.LinearLR(optimizer, ...) (ReduceLROnPlateau cannot be composed, as in torch)`,
      );
    }
    const opt = optimizer ?? (list[0] as LRScheduler).optimizer;
    if (s.optimizer !== opt)
      throw new Error(`${who}: schedulers[${i}] drives another optimizer; all of them must be made on the same optimizer${optimizer ? " as the one given" : ""}`);
  });
  return list as LRScheduler[];
}

/** Options of {@link SequentialLR}. */
export interface SequentialLROptions {
  /** The schedulers, each made on the same optimizer, in the order they take over. */
  schedulers: LRScheduler[];
  /** The steps at which the next scheduler takes over (one fewer than the schedulers). */
  milestones: number[];
}

/**
 * One scheduler after another (torch's `SequentialLR`): `schedulers[i]` runs
 * from `milestones[i-1]`, starting over from its own step 0 there. The usual
 * use: a warm-up, then a decay.
 *
 * @example
 * const opt = tf.train.sgd(0.1);
 * const warmup = new d2l.lr.LinearLR(opt, { startFactor: 0.1, totalIters: 10 });
 * const decay = new d2l.lr.CosineAnnealingLR(opt, { tMax: 90 });
 * const s = new d2l.lr.SequentialLR(opt, { schedulers: [warmup, decay], milestones: [10] });
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: LRScheduler[];
  readonly milestones: number[];

  constructor(optimizer: SchedulableOptimizer, opts: SequentialLROptions) {
    const o = options(opts, "SequentialLR", "{ schedulers: [warmup, decay], milestones: [10] }");
    const schedulers = checkChildren(o.schedulers, "SequentialLR", checkOptimizer(optimizer, "SequentialLR"));
    const ms = o.milestones;
    if (!Array.isArray(ms) || ms.some((m) => !Number.isInteger(m)) || ms.length !== schedulers.length - 1) {
      throw new Error(`SequentialLR: milestones must be ${schedulers.length - 1} whole step numbers (one fewer than the schedulers), got ${describe(ms)}`);
    }
    super(optimizer, "SequentialLR", () => {
      throw new Error("SequentialLR is rebuilt from its schedulers");
    });
    this.schedulers = schedulers;
    this.milestones = [...(ms as number[])];
    this.lastEpoch = 0;
    const initial = groupOf(optimizer).initialLr;
    if (initial === undefined) throw new Error("SequentialLR: the optimizer has no initial rate; make the schedulers on it first");
    writeLr(optimizer, initial);
    for (const s of schedulers) s.lastEpoch -= 1;
    (schedulers[0] as SequentialLR).initialStep(); // protected: reached through this class, as torch calls _initial_step
    this.lastLrs = schedulers[0].getLastLr();
  }

  protected override getLr(): number[] {
    return this.lastLrs;
  }

  /**
   * Advance one step: the scheduler whose turn it is steps (from its step 0 at a milestone).
   *
   * @example
   * s.step();
   */
  override step(): void {
    this.lastEpoch += 1;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.step(0);
    else s.step();
    this.lastLrs = s.getLastLr();
  }

  protected override extraState(): SchedulerState {
    return { schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  protected override loadExtraState(s: SchedulerState): void {
    const list = s.schedulers;
    if (!Array.isArray(list) || list.length !== this.schedulers.length) throw new Error(`SequentialLR.loadStateDict: expected the states of ${this.schedulers.length} schedulers`);
    list.forEach((st, i) => this.schedulers[i].loadStateDict(st as SchedulerState));
  }

  protected override leaves(): LRScheduler[] {
    return this.schedulers.flatMap((s) => (s as SequentialLR).leaves());
  }

  protected override rebuild(made: Map<LRScheduler, LRScheduler>, holder: SchedulableOptimizer | undefined): LRScheduler {
    const h = LRScheduler.rebuildLeaves(this.leaves(), made, holder);
    const children = this.schedulers.map((s) => (s as SequentialLR).rebuild(made, h));
    return new SequentialLR(h, { schedulers: children, milestones: this.milestones });
  }
}

/**
 * Several schedulers stepped together (torch's `ChainedScheduler`): each
 * `step()` steps every one, in order, each multiplying the rate the one
 * before set (the chainable form). E.g. a constant warm-up factor on top of
 * an exponential decay.
 *
 * @example
 * const opt = tf.train.sgd(1);
 * const s = new d2l.lr.ChainedScheduler([new d2l.lr.ConstantLR(opt, { factor: 0.1, totalIters: 2 }), new d2l.lr.ExponentialLR(opt, { gamma: 0.9 })]);
 * // 0.09, 0.081, 0.729, 0.6561, ...
 */
export class ChainedScheduler extends LRScheduler {
  readonly schedulers: LRScheduler[];

  constructor(schedulers: LRScheduler[]) {
    const list = checkChildren(schedulers, "ChainedScheduler", undefined);
    super(list[0].optimizer, "ChainedScheduler", () => {
      throw new Error("ChainedScheduler is rebuilt from its schedulers");
    });
    this.schedulers = [...list];
    this.lastLrs = [readLr(this.optimizer)];
  }

  protected override getLr(): number[] {
    return this.lastLrs;
  }

  /**
   * Step every scheduler once.
   *
   * @example
   * s.step();
   */
  override step(): void {
    for (const s of this.schedulers) s.step();
    this.lastLrs = [readLr(this.optimizer)];
  }

  protected override extraState(): SchedulerState {
    return { schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  protected override loadExtraState(s: SchedulerState): void {
    const list = s.schedulers;
    if (!Array.isArray(list) || list.length !== this.schedulers.length)
      throw new Error(`ChainedScheduler.loadStateDict: expected the states of ${this.schedulers.length} schedulers`);
    list.forEach((st, i) => this.schedulers[i].loadStateDict(st as SchedulerState));
  }

  protected override leaves(): LRScheduler[] {
    return this.schedulers.flatMap((s) => (s as ChainedScheduler).leaves());
  }

  protected override rebuild(made: Map<LRScheduler, LRScheduler>, holder: SchedulableOptimizer | undefined): LRScheduler {
    const h = LRScheduler.rebuildLeaves(this.leaves(), made, holder);
    return new ChainedScheduler(this.schedulers.map((s) => (s as ChainedScheduler).rebuild(made, h)));
  }
}

/** torch's `_format_param` for one group: a number, or a list of one. */
function oneValue(v: unknown, key: string, who: string, dflt?: number): number {
  const x = Array.isArray(v) ? (v.length === 1 ? v[0] : NaN) : (v ?? dflt);
  if (typeof x !== "number" || !Number.isFinite(x)) throw new Error(`${who}: ${key} must be a number (tfjs optimizers have one parameter group), got ${describe(v)}`);
  return x;
}

/** Whether to cycle momentum: torch's default is true and fails without momentum; here the default is "when the optimizer has one". */
function cycleMomentumOf(o: Options, optimizer: SchedulableOptimizer, who: string, allowBetas: boolean): boolean {
  const asked = o.cycleMomentum;
  if (asked !== undefined && typeof asked !== "boolean") throw new Error(`${who}: cycleMomentum must be true or false, got ${describe(asked)}`);
  const kind = momentumKind(optimizer);
  const has = kind === "momentum" || (allowBetas && kind === "betas");
  if (asked === true && !has) {
    throw new Error(
      `${who}: cycleMomentum needs an optimizer with momentum${allowBetas ? " or betas" : ""} (e.g. new d2l.optim.SGD({ lr: 0.1, momentum: 0.9 })); pass cycleMomentum: false for this one`,
    );
  }
  return asked ?? has;
}

/** Options of {@link CyclicLR}. */
export interface CyclicLROptions {
  /** The lower rate of the cycle (torch's `base_lr`). */
  baseLr: number;
  /** The upper rate of the cycle. */
  maxLr: number;
  /** Steps of the rising half (default 2000). */
  stepSizeUp?: number;
  /** Steps of the falling half (default: `stepSizeUp`). */
  stepSizeDown?: number;
  /** `"triangular"` (default), `"triangular2"` (amplitude halves each cycle), `"exp_range"` (amplitude times `gamma ** step`). */
  mode?: "triangular" | "triangular2" | "exp_range";
  /** The factor of `"exp_range"` (default 1). */
  gamma?: number;
  /** A custom amplitude scale, `0 <= scaleFn(x) <= 1` (then `mode` is ignored). */
  scaleFn?: (x: number) => number;
  /** What `scaleFn` gets: the cycle number (`"cycle"`, default) or the step (`"iterations"`). */
  scaleMode?: "cycle" | "iterations";
  /** Cycle the momentum inversely to the rate (default: when the optimizer has a number `momentum`; torch: true). */
  cycleMomentum?: boolean;
  /** Lower momentum, at the rate's peak (default 0.8). */
  baseMomentum?: number;
  /** Upper momentum, at the cycle's start (default 0.9). */
  maxMomentum?: number;
}

/**
 * Cyclical learning rates (torch's `CyclicLR`, Smith 2017): the rate goes
 * back and forth between `baseLr` and `maxLr`, step by step (a per-batch
 * scheduler), in the three policies of the paper or with a custom scale.
 * With an optimizer that has momentum (`d2l.optim.SGD`), the momentum
 * cycles the other way, between `maxMomentum` and `baseMomentum`.
 *
 * @example
 * const s = new d2l.lr.CyclicLR(new d2l.optim.SGD({ lr: 0.1, momentum: 0.9 }), { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 2000 });
 */
export class CyclicLR extends LRScheduler {
  readonly maxLrs: number[];
  readonly totalSize: number;
  readonly stepRatio: number;
  readonly mode: "triangular" | "triangular2" | "exp_range";
  readonly gamma: number;
  readonly scaleMode: "cycle" | "iterations";
  readonly cycleMomentum: boolean;
  private readonly customScale: ((x: number) => number) | undefined;
  private baseMomentums: number[] = [];
  private maxMomentums: number[] = [];

  constructor(optimizer: SchedulableOptimizer, opts: CyclicLROptions) {
    super(optimizer, "CyclicLR", (o) => new CyclicLR(o, opts));
    const o = options(opts, "CyclicLR", "{ baseLr: 0.01, maxLr: 0.1, stepSizeUp: 2000 }");
    const baseLr = oneValue(o.baseLr, "baseLr", "CyclicLR");
    writeLr(this.optimizer, baseLr);
    this.maxLrs = [oneValue(o.maxLr, "maxLr", "CyclicLR")];
    const up = num(o, "stepSizeUp", "CyclicLR", 2000, positive, "a positive number of steps");
    const down = num(o, "stepSizeDown", "CyclicLR", up, positive, "a positive number of steps");
    this.totalSize = up + down;
    this.stepRatio = up / this.totalSize;
    const scaleFn = o.scaleFn;
    if (scaleFn !== undefined && typeof scaleFn !== "function") throw new Error(`CyclicLR: scaleFn must be a function x => scale in [0, 1], got ${describe(scaleFn)}`);
    this.mode =
      scaleFn === undefined ? oneOf(o, "mode", "CyclicLR", ["triangular", "triangular2", "exp_range"] as const, "triangular") : ((o.mode as CyclicLR["mode"]) ?? "triangular");
    this.gamma = num(o, "gamma", "CyclicLR", 1);
    this.customScale = scaleFn as ((x: number) => number) | undefined;
    this.scaleMode = scaleFn === undefined ? (this.mode === "exp_range" ? "iterations" : "cycle") : oneOf(o, "scaleMode", "CyclicLR", ["cycle", "iterations"] as const, "cycle");
    this.cycleMomentum = cycleMomentumOf(o, this.optimizer, "CyclicLR", false);
    if (this.cycleMomentum) {
      writeMomentum(this.optimizer, oneValue(o.baseMomentum, "baseMomentum", "CyclicLR", 0.8));
      this.baseMomentums = [readMomentum(this.optimizer) as number];
      this.maxMomentums = [oneValue(o.maxMomentum, "maxMomentum", "CyclicLR", 0.9)];
    }
    this.start();
    this.baseLrs = [baseLr];
  }

  /** The amplitude's scale at `x` (a cycle number or a step). */
  scaleFn(x: number): number {
    if (this.customScale) return this.customScale(x);
    if (this.mode === "triangular") return 1;
    if (this.mode === "triangular2") return 1 / 2 ** (x - 1);
    return this.gamma ** x;
  }

  protected override getLr(): number[] {
    const cycle = Math.floor(1 + this.lastEpoch / this.totalSize);
    const x = 1 + this.lastEpoch / this.totalSize - cycle;
    const scaleFactor = x <= this.stepRatio ? x / this.stepRatio : (x - 1) / (this.stepRatio - 1);
    const at = this.scaleMode === "cycle" ? cycle : this.lastEpoch;
    const lrs = this.baseLrs.map((b, i) => b + (this.maxLrs[i] - b) * scaleFactor * this.scaleFn(at));
    if (this.cycleMomentum) {
      const m = this.baseMomentums.map((b, i) => this.maxMomentums[i] - (this.maxMomentums[i] - b) * scaleFactor * this.scaleFn(at));
      writeMomentum(this.optimizer, m[0]);
    }
    return lrs;
  }

  protected override extraState(): SchedulerState {
    const m = readMomentum(this.optimizer);
    return this.cycleMomentum && m !== undefined ? { momentum: m } : {};
  }

  protected override loadExtraState(s: SchedulerState): void {
    if (this.cycleMomentum && typeof s.momentum === "number") writeMomentum(this.optimizer, s.momentum);
  }
}

/** Options of {@link OneCycleLR}. */
export interface OneCycleLROptions {
  /** The peak rate. */
  maxLr: number;
  /** Steps of the whole cycle; or give `epochs` and `stepsPerEpoch`. */
  totalSteps?: number;
  /** Epochs of the cycle (with `stepsPerEpoch`). */
  epochs?: number;
  /** Steps (batches) per epoch (with `epochs`). */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent rising (default 0.3). */
  pctStart?: number;
  /** `"cos"` (default) or `"linear"` annealing. */
  annealStrategy?: "cos" | "linear";
  /** Cycle the momentum inversely (default: when the optimizer has `momentum` or `betas`; torch: true). */
  cycleMomentum?: boolean;
  /** Momentum at the peak rate (default 0.85). */
  baseMomentum?: number;
  /** Momentum at the start and the end (default 0.95). */
  maxMomentum?: number;
  /** The starting rate is `maxLr / divFactor` (default 25). */
  divFactor?: number;
  /** The final rate is the starting rate `/ finalDivFactor` (default 1e4). */
  finalDivFactor?: number;
  /** Three phases as the paper (up, down to the start, down to the minimum) instead of fastai's two (default false). */
  threePhase?: boolean;
}

interface Phase {
  endStep: number;
  startLr: keyof Group;
  endLr: keyof Group;
  startMomentum: keyof Group;
  endMomentum: keyof Group;
}

/**
 * The 1cycle policy (torch's `OneCycleLR`, Smith & Topin 2018): the rate
 * rises from `maxLr / divFactor` to `maxLr` over the first `pctStart` of the
 * steps, then anneals to `maxLr / divFactor / finalDivFactor` (cosine or
 * linear; `threePhase` as the paper). A per-batch scheduler: step it after
 * every batch, `totalSteps` times at most. With an optimizer that has
 * momentum (`d2l.optim.SGD`) or betas (`d2l.optim.Adam`: `betas[0]`), the
 * momentum cycles between `maxMomentum` and `baseMomentum` the other way.
 *
 * @example
 * const s = new d2l.lr.OneCycleLR(new d2l.optim.SGD({ lr: 0.1, momentum: 0.9 }), { maxLr: 0.1, epochs: 10, stepsPerEpoch: 235 });
 */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  readonly annealStrategy: "cos" | "linear";
  readonly cycleMomentum: boolean;
  private readonly phases: Phase[];

  constructor(optimizer: SchedulableOptimizer, opts: OneCycleLROptions) {
    super(optimizer, "OneCycleLR", (o) => new OneCycleLR(o, opts));
    const who = "OneCycleLR";
    const o = options(opts, who, "{ maxLr: 0.1, totalSteps: 1000 }");
    if (o.totalSteps === undefined && (o.epochs === undefined || o.stepsPerEpoch === undefined)) {
      throw new Error("OneCycleLR: give totalSteps, or epochs and stepsPerEpoch (total steps = epochs * stepsPerEpoch)");
    }
    this.totalSteps =
      o.totalSteps !== undefined
        ? num(o, "totalSteps", who, undefined, posInt, "a positive whole number")
        : num(o, "epochs", who, undefined, posInt, "a positive whole number") * num(o, "stepsPerEpoch", who, undefined, posInt, "a positive whole number");
    const pct = num(o, "pctStart", who, 0.3, unit, "a number between 0 and 1");
    const N = this.totalSteps;
    this.phases = o.threePhase
      ? [
          { endStep: pct * N - 1, startLr: "initialLr", endLr: "maxLr", startMomentum: "maxMomentum", endMomentum: "baseMomentum" },
          { endStep: 2 * pct * N - 2, startLr: "maxLr", endLr: "initialLr", startMomentum: "baseMomentum", endMomentum: "maxMomentum" },
          { endStep: N - 1, startLr: "initialLr", endLr: "minLr", startMomentum: "maxMomentum", endMomentum: "maxMomentum" },
        ]
      : [
          { endStep: pct * N - 1, startLr: "initialLr", endLr: "maxLr", startMomentum: "maxMomentum", endMomentum: "baseMomentum" },
          { endStep: N - 1, startLr: "maxLr", endLr: "minLr", startMomentum: "baseMomentum", endMomentum: "maxMomentum" },
        ];
    if (o.threePhase !== undefined && typeof o.threePhase !== "boolean") throw new Error(`OneCycleLR: threePhase must be true or false, got ${describe(o.threePhase)}`);
    this.annealStrategy = oneOf(o, "annealStrategy", who, ["cos", "linear"] as const, "cos");
    const maxLr = oneValue(o.maxLr, "maxLr", who);
    const divFactor = num(o, "divFactor", who, 25, positive, "a positive number");
    const finalDivFactor = num(o, "finalDivFactor", who, 1e4, positive, "a positive number");
    const g = groupOf(this.optimizer);
    g.initialLr = maxLr / divFactor;
    g.maxLr = maxLr;
    g.minLr = g.initialLr / finalDivFactor;
    this.cycleMomentum = cycleMomentumOf(o, this.optimizer, who, true);
    if (this.cycleMomentum) {
      const maxM = oneValue(o.maxMomentum, "maxMomentum", who, 0.95);
      writeMomentum(this.optimizer, maxM);
      g.maxMomentum = maxM;
      g.baseMomentum = oneValue(o.baseMomentum, "baseMomentum", who, 0.85);
    }
    this.start();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === "cos") return end + ((start - end) / 2.0) * (Math.cos(Math.PI * pct) + 1);
    return (end - start) * pct + start;
  }

  protected override getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      throw new Error(
        `OneCycleLR: tried to step ${stepNum + 1} times, but the cycle has ${this.totalSteps} steps; make it with totalSteps (or epochs * stepsPerEpoch) covering the whole run`,
      );
    }
    const g = groupOf(this.optimizer);
    let startStep = 0;
    let lr = NaN;
    let momentum = NaN;
    for (let i = 0; i < this.phases.length; i++) {
      const p = this.phases[i];
      if (stepNum <= p.endStep || i === this.phases.length - 1) {
        const pct = (stepNum - startStep) / (p.endStep - startStep);
        lr = this.anneal(g[p.startLr] as number, g[p.endLr] as number, pct);
        if (this.cycleMomentum) momentum = this.anneal(g[p.startMomentum] as number, g[p.endMomentum] as number, pct);
        break;
      }
      startStep = p.endStep;
    }
    if (this.cycleMomentum) writeMomentum(this.optimizer, momentum);
    return [lr];
  }

  protected override extraState(): SchedulerState {
    const m = readMomentum(this.optimizer);
    return this.cycleMomentum && m !== undefined ? { momentum: m } : {};
  }

  protected override loadExtraState(s: SchedulerState): void {
    if (this.cycleMomentum && typeof s.momentum === "number") writeMomentum(this.optimizer, s.momentum);
  }
}

/** Options of {@link ReduceLROnPlateau}. */
export interface ReduceLROnPlateauOptions {
  /** `"min"` (default: the metric should fall, a loss) or `"max"` (an accuracy). */
  mode?: "min" | "max";
  /** Factor of each reduction (default 0.1, below 1). */
  factor?: number;
  /** Steps without improvement tolerated before a reduction (default 10). */
  patience?: number;
  /** The least improvement that counts (default 1e-4). */
  threshold?: number;
  /** `"rel"` (default: relative to the best) or `"abs"`. */
  thresholdMode?: "rel" | "abs";
  /** Steps to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** The lowest rate (default 0). */
  minLr?: number;
  /** A reduction smaller than this is skipped (default 1e-8). */
  eps?: number;
}

function plateauOptions(opts: unknown, who: string, epsKey: "eps" | "epsilon") {
  const o = options(opts, who, '{ mode: "min", factor: 0.1, patience: 10 }');
  const factor = num(o, "factor", who, 0.1, (v) => v < 1, "a number below 1");
  return {
    mode: oneOf(o, "mode", who, ["min", "max"] as const, "min"),
    factor,
    patience: num(o, "patience", who, 10, (v) => Number.isInteger(v) && v >= 0, "a whole number >= 0"),
    threshold: num(o, "threshold", who, 1e-4),
    thresholdMode: oneOf(o, "thresholdMode", who, ["rel", "abs"] as const, "rel"),
    cooldown: num(o, "cooldown", who, 0, (v) => Number.isInteger(v) && v >= 0, "a whole number >= 0"),
    minLr: oneValue(o.minLr, "minLr", who, 0),
    eps: num(o, epsKey, who, 1e-8, nonNeg, "a number >= 0"),
  };
}

function checkMetric(metric: unknown, who: string): number {
  if (typeof metric !== "number" || Number.isNaN(metric)) {
    throw new Error(`${who}.step(metric): expected the monitored value (a number, e.g. the epoch's validation loss), got ${describe(metric)}`);
  }
  return metric;
}

/**
 * Reduce the rate when a metric stops improving (torch's
 * `ReduceLROnPlateau`): `step(metric)` after each epoch; after more than
 * `patience` steps without an improvement by `threshold`, the rate is
 * multiplied by `factor` (not below `minLr`), then `cooldown` steps pass
 * before bad steps count again.
 *
 * @example
 * const s = new d2l.lr.ReduceLROnPlateau(tf.train.sgd(0.1), { mode: "min", factor: 0.5, patience: 2 });
 * s.step(valLoss); // after each epoch
 */
export class ReduceLROnPlateau implements Scheduler {
  readonly optimizer: SchedulableOptimizer;
  readonly standalone: boolean = false;
  readonly needsMetric: boolean = true;
  readonly mode: "min" | "max";
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: "rel" | "abs";
  readonly cooldown: number;
  readonly minLr: number;
  readonly eps: number;
  /** The best metric so far (`±Infinity` before the first). */
  best: number;
  /** Steps since the last improvement. */
  numBadEpochs = 0;
  /** Steps of cooldown left. */
  cooldownCounter = 0;
  /** Steps taken. */
  lastEpoch = 0;
  private lastLrs: number[];
  private readonly opts: ReduceLROnPlateauOptions;
  private readonly before: Snapshot;

  constructor(optimizer: SchedulableOptimizer, opts: ReduceLROnPlateauOptions = {}) {
    this.optimizer = checkOptimizer(optimizer, "ReduceLROnPlateau");
    this.before = snapshot(this.optimizer);
    this.opts = opts;
    ({
      mode: this.mode,
      factor: this.factor,
      patience: this.patience,
      threshold: this.threshold,
      thresholdMode: this.thresholdMode,
      cooldown: this.cooldown,
      minLr: this.minLr,
      eps: this.eps,
    } = plateauOptions(opts, "ReduceLROnPlateau", "eps"));
    this.best = this.modeWorse;
    this.lastLrs = [readLr(this.optimizer)];
  }

  private get modeWorse(): number {
    return this.mode === "min" ? Infinity : -Infinity;
  }

  /** torch's `is_better`. */
  isBetter(a: number, best: number): boolean {
    if (this.mode === "min" && this.thresholdMode === "rel") return a < best * (1 - this.threshold);
    if (this.mode === "min") return a < best - this.threshold;
    if (this.thresholdMode === "rel") return a > best * (this.threshold + 1);
    return a > best + this.threshold;
  }

  /**
   * One step with the monitored value (e.g. the epoch's validation loss).
   *
   * @example
   * s.step(0.42);
   */
  step(metric?: number): void {
    const current = checkMetric(metric, "ReduceLROnPlateau");
    this.lastEpoch += 1;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else this.numBadEpochs += 1;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      const old = readLr(this.optimizer);
      const lr = Math.max(old * this.factor, this.minLr);
      if (old - lr > this.eps) writeLr(this.optimizer, lr);
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLrs = [readLr(this.optimizer)];
  }

  /**
   * The current rate (torch 2's `get_last_lr()`).
   *
   * @example
   * s.getLastLr() // [0.1]
   */
  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  /** The current rate. */
  get lastLr(): number {
    return this.lastLrs[0];
  }

  /**
   * The state to save (`best` is null before the first step).
   *
   * @example
   * const saved = s.stateDict();
   */
  stateDict(): SchedulerState {
    return {
      scheduler: "ReduceLROnPlateau",
      best: Number.isFinite(this.best) ? this.best : null,
      numBadEpochs: this.numBadEpochs,
      cooldownCounter: this.cooldownCounter,
      lastEpoch: this.lastEpoch,
      lastLr: [...this.lastLrs],
    };
  }

  /**
   * Continue from a saved state (and set the optimizer's rate to the saved one).
   *
   * @example
   * s.loadStateDict(saved);
   */
  loadStateDict(state: SchedulerState): void {
    const s = checkKind(state, "ReduceLROnPlateau", "ReduceLROnPlateau");
    this.best = typeof s.best === "number" ? s.best : this.modeWorse;
    this.numBadEpochs = stateNum(s, "numBadEpochs", "ReduceLROnPlateau");
    this.cooldownCounter = stateNum(s, "cooldownCounter", "ReduceLROnPlateau");
    this.lastEpoch = stateNum(s, "lastEpoch", "ReduceLROnPlateau");
    this.lastLrs = [...stateNums(s, "lastLr", "ReduceLROnPlateau")];
    writeLr(this.optimizer, this.lastLrs[0]);
  }

  /**
   * The same scheduler, fresh, on a private copy of the optimizer.
   *
   * @example
   * const copy = s.freshCopy();
   */
  freshCopy(): ReduceLROnPlateau {
    return new ReduceLROnPlateau(standIn(this.before), this.opts);
  }
}

// ---------------------------------------------------------------------------
// PaddlePaddle's decays (paddle.optimizer.lr), standalone

function paddleLr(o: Options, who: string, dflt?: number): number {
  return num(o, "learningRate", who, dflt, nonNeg, "a number >= 0 (the initial rate)");
}

/** Options of {@link NoamDecay}. */
export interface NoamDecayOptions {
  /** The model's width (Paddle's `d_model`). */
  dModel: number;
  /** Steps of the warm-up. */
  warmupSteps: number;
  /** A factor of the whole curve (default 1). */
  learningRate?: number;
}

/**
 * The Transformer's schedule (Paddle's `NoamDecay`, Vaswani et al. 2017):
 * `lr = learningRate * dModel^-0.5 * min(t^-0.5, t * warmupSteps^-1.5)`
 * (1 in place of `t^-0.5` at t = 0): linear warm-up, then decay as 1/sqrt(t).
 * No torch scheduler has this curve (it is a `LambdaLR` in torch code).
 *
 * @example
 * const s = new d2l.lr.NoamDecay({ dModel: 512, warmupSteps: 4000 });
 * s.step(); s.lastLr;
 */
export class NoamDecay extends LRScheduler {
  readonly dModel: number;
  readonly warmupSteps: number;

  constructor(opts: NoamDecayOptions) {
    const o = options(opts, "NoamDecay", "{ dModel: 512, warmupSteps: 4000, learningRate: 1 }");
    super(new OwnRate(paddleLr(o, "NoamDecay", 1)), "NoamDecay", () => new NoamDecay(opts));
    this.dModel = num(o, "dModel", "NoamDecay", undefined, positive, "a positive number");
    this.warmupSteps = num(o, "warmupSteps", "NoamDecay", undefined, positive, "a positive number of steps");
    this.start();
  }

  protected override getLr(): number[] {
    const t = this.lastEpoch;
    const a = t === 0 ? 1 : t ** -0.5;
    const b = this.warmupSteps ** -1.5 * t;
    return this.baseLrs.map((base) => base * this.dModel ** -0.5 * Math.min(a, b));
  }
}

/** Options of {@link PiecewiseDecay}. */
export interface PiecewiseDecayOptions {
  /** Steps where the rate changes, increasing. */
  boundaries: number[];
  /** The rates: `values[i]` before `boundaries[i]`, the last one after (one more than the boundaries). */
  values: number[];
}

/**
 * Piecewise constant rates (Paddle's `PiecewiseDecay`): `values[i]` while
 * `t < boundaries[i]`, the last value after the last boundary. (The torch
 * equivalent is a `MultiStepLR` only when consecutive values differ by one factor.)
 *
 * @example
 * const s = new d2l.lr.PiecewiseDecay({ boundaries: [100, 200], values: [1.0, 0.5, 0.1] });
 */
export class PiecewiseDecay extends LRScheduler {
  readonly boundaries: number[];
  readonly values: number[];

  constructor(opts: PiecewiseDecayOptions) {
    const o = options(opts, "PiecewiseDecay", "{ boundaries: [100, 200], values: [1.0, 0.5, 0.1] }");
    const b = o.boundaries;
    const v = o.values;
    if (!Array.isArray(b) || b.length === 0 || b.some((x) => typeof x !== "number"))
      throw new Error(`PiecewiseDecay: boundaries must be a non-empty list of steps, like [100, 200]; got ${describe(b)}`);
    if (!Array.isArray(v) || v.length !== b.length + 1 || v.some((x) => typeof x !== "number")) {
      throw new Error(`PiecewiseDecay: values must be ${b.length + 1} rates, one more than the boundaries; got ${describe(v)}`);
    }
    super(new OwnRate(0.1), "PiecewiseDecay", () => new PiecewiseDecay(opts));
    this.boundaries = [...(b as number[])];
    this.values = [...(v as number[])];
    this.start();
  }

  protected override getLr(): number[] {
    for (let i = 0; i < this.boundaries.length; i++) if (this.lastEpoch < this.boundaries[i]) return [this.values[i]];
    return [this.values[this.values.length - 1]];
  }
}

/** Options of {@link NaturalExpDecay} and {@link InverseTimeDecay}. */
export interface PaddleGammaOptions {
  /** The initial rate. */
  learningRate: number;
  /** The decay rate. */
  gamma: number;
}

/**
 * Natural exponential decay (Paddle's `NaturalExpDecay`):
 * `lr = learningRate * exp(-gamma * t)`. The same curve as torch's
 * `ExponentialLR` with `gamma = exp(-gamma)`, kept separate for Paddle's
 * parameterization.
 *
 * @example
 * const s = new d2l.lr.NaturalExpDecay({ learningRate: 0.5, gamma: 0.1 });
 */
export class NaturalExpDecay extends LRScheduler {
  readonly gamma: number;

  constructor(opts: PaddleGammaOptions) {
    const o = options(opts, "NaturalExpDecay", "{ learningRate: 0.5, gamma: 0.1 }");
    super(new OwnRate(paddleLr(o, "NaturalExpDecay")), "NaturalExpDecay", () => new NaturalExpDecay(opts));
    this.gamma = num(o, "gamma", "NaturalExpDecay", undefined, positive, "a positive number (the decay rate)");
    this.start();
  }

  protected override getLr(): number[] {
    return this.baseLrs.map((b) => b * Math.exp(-1 * this.gamma * this.lastEpoch));
  }
}

/**
 * Inverse time decay (Paddle's `InverseTimeDecay`):
 * `lr = learningRate / (1 + gamma * t)`.
 *
 * @example
 * const s = new d2l.lr.InverseTimeDecay({ learningRate: 0.5, gamma: 0.1 });
 */
export class InverseTimeDecay extends LRScheduler {
  readonly gamma: number;

  constructor(opts: PaddleGammaOptions) {
    const o = options(opts, "InverseTimeDecay", "{ learningRate: 0.5, gamma: 0.1 }");
    super(new OwnRate(paddleLr(o, "InverseTimeDecay")), "InverseTimeDecay", () => new InverseTimeDecay(opts));
    this.gamma = num(o, "gamma", "InverseTimeDecay", undefined);
    this.start();
  }

  protected override getLr(): number[] {
    return this.baseLrs.map((b) => b / (1 + this.gamma * this.lastEpoch));
  }
}

/** Options of {@link PolynomialDecay}. */
export interface PolynomialDecayOptions {
  /** The initial rate. */
  learningRate: number;
  /** Steps of the decay (a positive whole number). */
  decaySteps: number;
  /** The final rate (default 1e-4). */
  endLr?: number;
  /** Power of the polynomial (default 1). */
  power?: number;
  /** Start over (with a longer period) after each `decaySteps` (default false). */
  cycle?: boolean;
}

/**
 * Polynomial decay (Paddle's `PolynomialDecay`):
 * `lr = (learningRate - endLr) * (1 - t / decaySteps) ** power + endLr`, with
 * `t` capped at `decaySteps`; with `cycle`, `decaySteps` grows to the next
 * multiple of itself instead, so the rate jumps up and decays again. With
 * `endLr: 0` and no cycle it is torch's `PolynomialLR` curve.
 *
 * @example
 * const s = new d2l.lr.PolynomialDecay({ learningRate: 0.5, decaySteps: 20, cycle: true });
 */
export class PolynomialDecay extends LRScheduler {
  readonly decaySteps: number;
  readonly endLr: number;
  readonly power: number;
  readonly cycle: boolean;

  constructor(opts: PolynomialDecayOptions) {
    const o = options(opts, "PolynomialDecay", "{ learningRate: 0.5, decaySteps: 20 }");
    super(new OwnRate(paddleLr(o, "PolynomialDecay")), "PolynomialDecay", () => new PolynomialDecay(opts));
    this.decaySteps = num(o, "decaySteps", "PolynomialDecay", undefined, posInt, "a positive whole number of steps");
    this.endLr = num(o, "endLr", "PolynomialDecay", 1e-4);
    this.power = num(o, "power", "PolynomialDecay", 1, positive, "a positive number");
    if (o.cycle !== undefined && typeof o.cycle !== "boolean") throw new Error(`PolynomialDecay: cycle must be true or false, got ${describe(o.cycle)}`);
    this.cycle = o.cycle === true;
    this.start();
  }

  protected override getLr(): number[] {
    let t = this.lastEpoch;
    let steps = this.decaySteps;
    if (this.cycle) {
      const div = this.lastEpoch === 0 ? 1 : Math.ceil(this.lastEpoch / this.decaySteps);
      steps = this.decaySteps * div;
    } else t = Math.min(this.lastEpoch, this.decaySteps);
    return this.baseLrs.map((b) => (b - this.endLr) * (1 - t / steps) ** this.power + this.endLr);
  }
}

/** Options of {@link LinearWarmup}. */
export interface LinearWarmupOptions {
  /** The rate after the warm-up: a number, or a Paddle-style scheduler that takes over (its step 0 at `warmupSteps`). */
  learningRate: number | LRScheduler;
  /** Steps of the warm-up. */
  warmupSteps: number;
  /** Rate at step 0. */
  startLr: number;
  /** Rate the warm-up ends at (above `startLr`). */
  endLr: number;
}

/**
 * Linear warm-up (Paddle's `LinearWarmup`, Goyal et al. 2017): the rate goes
 * linearly from `startLr` to `endLr` over `warmupSteps` steps, then is
 * `learningRate` (a number, or another Paddle-style scheduler that starts
 * there). torch composes the same with `SequentialLR([LinearLR, ...])`.
 *
 * @example
 * const s = new d2l.lr.LinearWarmup({ learningRate: new d2l.lr.CosineAnnealingDecay({ learningRate: 0.5, tMax: 90 }), warmupSteps: 10, startLr: 0, endLr: 0.5 });
 */
export class LinearWarmup extends LRScheduler {
  readonly learningRate: number | LRScheduler;
  readonly warmupSteps: number;
  readonly startLr: number;
  readonly endLr: number;

  constructor(opts: LinearWarmupOptions) {
    const who = "LinearWarmup";
    const o = options(opts, who, "{ learningRate: 0.5, warmupSteps: 20, startLr: 0, endLr: 0.5 }");
    const inner = o.learningRate;
    if (!(typeof inner === "number" && inner >= 0) && !(inner instanceof LRScheduler && inner.standalone)) {
      throw new Error(
        `${who}: learningRate must be a number or a Paddle-style scheduler (made without an optimizer, e.g. new d2l.lr.CosineAnnealingDecay({ ... })), got ${describe(inner)}`,
      );
    }
    const startLr = num(o, "startLr", who, undefined);
    const endLr = num(o, "endLr", who, undefined);
    if (!(endLr > startLr)) throw new Error(`${who}: endLr (${endLr}) must be greater than startLr (${startLr})`);
    super(new OwnRate(startLr), who, () => new LinearWarmup({ ...opts, learningRate: inner instanceof LRScheduler ? inner.freshCopy() : inner }));
    this.learningRate = inner as number | LRScheduler;
    this.warmupSteps = num(o, "warmupSteps", who, undefined, posInt, "a positive whole number of steps");
    this.startLr = startLr;
    this.endLr = endLr;
    this.start();
  }

  protected override getLr(): number[] {
    if (this.lastEpoch < this.warmupSteps) return [((this.endLr - this.startLr) * this.lastEpoch) / this.warmupSteps + this.startLr];
    if (this.learningRate instanceof LRScheduler) {
      this.learningRate.step(this.lastEpoch - this.warmupSteps);
      return [this.learningRate.lastLr];
    }
    return [this.learningRate];
  }

  protected override extraState(): SchedulerState {
    return this.learningRate instanceof LRScheduler ? { inner: this.learningRate.stateDict() } : {};
  }

  protected override loadExtraState(s: SchedulerState): void {
    if (this.learningRate instanceof LRScheduler) {
      if (s.inner === null || typeof s.inner !== "object" || Array.isArray(s.inner)) throw new Error("LinearWarmup.loadStateDict: the state has no state of the inner scheduler");
      this.learningRate.loadStateDict(s.inner);
    }
  }
}

/** Options of {@link ExponentialDecay}. */
export interface ExponentialDecayOptions {
  /** The initial rate. */
  learningRate: number;
  /** The factor of every step, in (0, 1). */
  gamma: number;
}

/**
 * Exponential decay (Paddle's `ExponentialDecay`): `lr = learningRate * gamma ** t`.
 * The same curve as torch's {@link ExponentialLR}, and this class is one, on
 * a rate of its own.
 *
 * @example
 * const s = new d2l.lr.ExponentialDecay({ learningRate: 0.5, gamma: 0.9 });
 */
export class ExponentialDecay extends ExponentialLR {
  constructor(opts: ExponentialDecayOptions) {
    const o = options(opts, "ExponentialDecay", "{ learningRate: 0.5, gamma: 0.9 }");
    const gamma = num(o, "gamma", "ExponentialDecay", undefined, (v) => v > 0 && v < 1, "a number in (0, 1)");
    super(
      paddleAlias("ExponentialDecay", paddleLr(o, "ExponentialDecay"), () => new ExponentialDecay(opts)),
      { gamma },
    );
  }
}

/** Options of {@link MultiStepDecay}. */
export interface MultiStepDecayOptions {
  /** The initial rate. */
  learningRate: number;
  /** Steps where the rate decays, strictly increasing. */
  milestones: number[];
  /** Factor of each decay (default 0.1, below 1). */
  gamma?: number;
}

/**
 * Decay at milestones (Paddle's `MultiStepDecay`): `lr = learningRate * gamma ** i`
 * while `t < milestones[i]`. The same curve as torch's {@link MultiStepLR}
 * (this class is one).
 *
 * @example
 * const s = new d2l.lr.MultiStepDecay({ learningRate: 0.5, milestones: [30, 50], gamma: 0.1 });
 */
export class MultiStepDecay extends MultiStepLR {
  constructor(opts: MultiStepDecayOptions) {
    const o = options(opts, "MultiStepDecay", "{ learningRate: 0.5, milestones: [30, 50], gamma: 0.1 }");
    const m = o.milestones;
    if (!Array.isArray(m) || m.some((x, i) => !Number.isInteger(x) || (i > 0 && !(x > m[i - 1])))) {
      throw new Error(`MultiStepDecay: milestones must be strictly increasing whole step numbers, like [30, 50]; got ${describe(m)}`);
    }
    const gamma = num(o, "gamma", "MultiStepDecay", 0.1, (v) => v < 1, "a number below 1");
    super(
      paddleAlias("MultiStepDecay", paddleLr(o, "MultiStepDecay"), () => new MultiStepDecay(opts)),
      { milestones: m as number[], gamma },
    );
  }
}

/** Options of {@link StepDecay}. */
export interface StepDecayOptions {
  /** The initial rate. */
  learningRate: number;
  /** Steps between decays. */
  stepSize: number;
  /** Factor of each decay (default 0.1, below 1). */
  gamma?: number;
}

/**
 * Decay every `stepSize` steps (Paddle's `StepDecay`, the notes' "interval"
 * decay): `lr = learningRate * gamma ** floor(t / stepSize)`. The same curve
 * as torch's {@link StepLR} (this class is one).
 *
 * @example
 * const s = new d2l.lr.StepDecay({ learningRate: 0.5, stepSize: 30, gamma: 0.1 });
 */
export class StepDecay extends StepLR {
  constructor(opts: StepDecayOptions) {
    const o = options(opts, "StepDecay", "{ learningRate: 0.5, stepSize: 30, gamma: 0.1 }");
    const gamma = num(o, "gamma", "StepDecay", 0.1, (v) => v < 1, "a number below 1");
    const stepSize = num(o, "stepSize", "StepDecay", undefined, posInt, "a positive whole number of steps");
    super(
      paddleAlias("StepDecay", paddleLr(o, "StepDecay"), () => new StepDecay(opts)),
      { stepSize, gamma },
    );
  }
}

/** Options of {@link LambdaDecay} and {@link MultiplicativeDecay}. */
export interface PaddleLambdaOptions {
  /** The initial rate. */
  learningRate: number;
  /** The factor as a function of the step. */
  lrLambda: (epoch: number) => number;
}

/**
 * A function of the step times the initial rate (Paddle's `LambdaDecay`):
 * `lr = learningRate * lrLambda(t)`. The same curve as torch's
 * {@link LambdaLR} (this class is one).
 *
 * @example
 * const s = new d2l.lr.LambdaDecay({ learningRate: 0.5, lrLambda: (t) => 0.95 ** t });
 */
export class LambdaDecay extends LambdaLR {
  constructor(opts: PaddleLambdaOptions) {
    const o = options(opts, "LambdaDecay", "{ learningRate: 0.5, lrLambda: (t) => 0.95 ** t }");
    const lrLambda = fn(o, "lrLambda", "LambdaDecay");
    super(
      paddleAlias("LambdaDecay", paddleLr(o, "LambdaDecay"), () => new LambdaDecay(opts)),
      { lrLambda },
    );
  }
}

/**
 * Multiply the rate by a function of the step at every step (Paddle's
 * `MultiplicativeDecay`): `lr_t = learningRate * prod_{i=1..t} lrLambda(i)`.
 * The same curve as torch's {@link MultiplicativeLR} (this class is one; a
 * jump with `step(t)` recomputes the product, as Paddle does).
 *
 * @example
 * const s = new d2l.lr.MultiplicativeDecay({ learningRate: 0.5, lrLambda: () => 0.95 });
 */
export class MultiplicativeDecay extends MultiplicativeLR {
  constructor(opts: PaddleLambdaOptions) {
    const o = options(opts, "MultiplicativeDecay", "{ learningRate: 0.5, lrLambda: () => 0.95 }");
    const lrLambda = fn(o, "lrLambda", "MultiplicativeDecay");
    super(
      paddleAlias("MultiplicativeDecay", paddleLr(o, "MultiplicativeDecay"), () => new MultiplicativeDecay(opts)),
      { lrLambda },
    );
  }

  protected override closedFormLr(): number[] {
    let lr = this.baseLrs[0];
    for (let e = 1; e <= this.lastEpoch; e++) lr *= this.lrLambda(e);
    return [lr];
  }
}

/** Options of {@link CosineAnnealingDecay}. */
export interface CosineAnnealingDecayOptions {
  /** The initial (largest) rate. */
  learningRate: number;
  /** Steps of a half period (Paddle's `T_max`). */
  tMax: number;
  /** The lowest rate (default 0). */
  etaMin?: number;
}

/**
 * Cosine annealing (Paddle's `CosineAnnealingDecay`): Paddle's code is
 * torch's, so this class is a {@link CosineAnnealingLR} on a rate of its own.
 *
 * @example
 * const s = new d2l.lr.CosineAnnealingDecay({ learningRate: 0.5, tMax: 10 });
 */
export class CosineAnnealingDecay extends CosineAnnealingLR {
  constructor(opts: CosineAnnealingDecayOptions) {
    const o = options(opts, "CosineAnnealingDecay", "{ learningRate: 0.5, tMax: 10 }");
    const tMax = num(o, "tMax", "CosineAnnealingDecay", undefined, positive, "a positive number of steps (Paddle's T_max)");
    const etaMin = num(o, "etaMin", "CosineAnnealingDecay", 0);
    super(
      paddleAlias("CosineAnnealingDecay", paddleLr(o, "CosineAnnealingDecay"), () => new CosineAnnealingDecay(opts)),
      { tMax, etaMin },
    );
  }
}

/** Options of {@link ReduceOnPlateau}. */
export interface ReduceOnPlateauOptions {
  /** The initial rate. */
  learningRate: number;
  /** `"min"` (default) or `"max"`. */
  mode?: "min" | "max";
  /** Factor of each reduction (default 0.1, below 1). */
  factor?: number;
  /** Steps without improvement tolerated (default 10). */
  patience?: number;
  /** The least improvement that counts (default 1e-4). */
  threshold?: number;
  /** `"rel"` (default) or `"abs"`. */
  thresholdMode?: "rel" | "abs";
  /** Steps after a reduction during which the metric is not compared (default 0). */
  cooldown?: number;
  /** The lowest rate (default 0). */
  minLr?: number;
  /** A reduction smaller than this is skipped (default 1e-8). */
  epsilon?: number;
}

/**
 * Reduce the rate when a metric stops improving, Paddle's way (Paddle's
 * `ReduceOnPlateau`, the notes' "loss-adaptive" decay). Not an alias of
 * torch's {@link ReduceLROnPlateau}: during Paddle's cooldown the metric is
 * not looked at at all (torch compares it and only forgets bad steps), and
 * the first metric always becomes the best.
 *
 * @example
 * const s = new d2l.lr.ReduceOnPlateau({ learningRate: 1.0, factor: 0.5, patience: 5 });
 * s.step(loss); s.lastLr;
 */
export class ReduceOnPlateau implements Scheduler {
  readonly optimizer: SchedulableOptimizer;
  readonly standalone: boolean = true;
  readonly needsMetric: boolean = true;
  readonly mode: "min" | "max";
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: "rel" | "abs";
  readonly cooldown: number;
  readonly minLr: number;
  readonly epsilon: number;
  /** The best metric so far (undefined before the first step). */
  best: number | undefined = undefined;
  /** Steps since the last improvement. */
  numBadEpochs = 0;
  /** Steps of cooldown left. */
  cooldownCounter = 0;
  /** Steps taken. */
  lastEpoch = 0;
  /** The current rate (Paddle's `last_lr`). */
  lastLr: number;
  private readonly opts: ReduceOnPlateauOptions;

  constructor(opts: ReduceOnPlateauOptions) {
    const o = options(opts, "ReduceOnPlateau", "{ learningRate: 1.0, factor: 0.5, patience: 5 }");
    this.opts = opts;
    this.lastLr = paddleLr(o, "ReduceOnPlateau");
    this.optimizer = new OwnRate(this.lastLr);
    ({
      mode: this.mode,
      factor: this.factor,
      patience: this.patience,
      threshold: this.threshold,
      thresholdMode: this.thresholdMode,
      cooldown: this.cooldown,
      minLr: this.minLr,
      eps: this.epsilon,
    } = plateauOptions(opts, "ReduceOnPlateau", "epsilon"));
  }

  private isBetter(current: number, best: number): boolean {
    if (this.mode === "min" && this.thresholdMode === "rel") return current < best - best * this.threshold;
    if (this.mode === "min") return current < best - this.threshold;
    if (this.thresholdMode === "rel") return current > best + best * this.threshold;
    return current > best + this.threshold;
  }

  /**
   * One step with the monitored value.
   *
   * @example
   * s.step(0.42);
   */
  step(metric?: number): void {
    const current = checkMetric(metric, "ReduceOnPlateau");
    this.lastEpoch += 1;
    if (this.cooldownCounter > 0) this.cooldownCounter -= 1;
    else {
      if (this.best === undefined || this.isBetter(current, this.best)) {
        this.best = current;
        this.numBadEpochs = 0;
      } else this.numBadEpochs += 1;
      if (this.numBadEpochs > this.patience) {
        this.cooldownCounter = this.cooldown;
        this.numBadEpochs = 0;
        const lr = Math.max(this.lastLr * this.factor, this.minLr);
        if (this.lastLr - lr > this.epsilon) this.lastLr = lr;
      }
    }
    writeLr(this.optimizer, this.lastLr);
  }

  /**
   * The current rate in torch's form.
   *
   * @example
   * s.getLastLr() // [1]
   */
  getLastLr(): number[] {
    return [this.lastLr];
  }

  /**
   * The state to save (Paddle's keys: cooldown, best, bad steps, step, rate).
   *
   * @example
   * const saved = s.stateDict();
   */
  stateDict(): SchedulerState {
    return {
      scheduler: "ReduceOnPlateau",
      cooldownCounter: this.cooldownCounter,
      best: this.best ?? null,
      numBadEpochs: this.numBadEpochs,
      lastEpoch: this.lastEpoch,
      lastLr: this.lastLr,
    };
  }

  /**
   * Continue from a saved state.
   *
   * @example
   * s.loadStateDict(saved);
   */
  loadStateDict(state: SchedulerState): void {
    const s = checkKind(state, "ReduceOnPlateau", "ReduceOnPlateau");
    this.cooldownCounter = stateNum(s, "cooldownCounter", "ReduceOnPlateau");
    this.best = typeof s.best === "number" ? s.best : undefined;
    this.numBadEpochs = stateNum(s, "numBadEpochs", "ReduceOnPlateau");
    this.lastEpoch = stateNum(s, "lastEpoch", "ReduceOnPlateau");
    this.lastLr = stateNum(s, "lastLr", "ReduceOnPlateau");
    writeLr(this.optimizer, this.lastLr);
  }

  /**
   * The same scheduler, fresh.
   *
   * @example
   * const copy = s.freshCopy();
   */
  freshCopy(): ReduceOnPlateau {
    return new ReduceOnPlateau(this.opts);
  }
}

// ---------------------------------------------------------------------------
// The book's schedulers (section 11.11)

/**
 * The base of the book's schedulers: a callable object, `scheduler(t)` → the
 * rate at update (or epoch) `t`, as the book calls its `SquareRootScheduler`
 * and `CosineScheduler`; `scheduler.lrAt(t)` is the same. They are pure
 * functions of `t` (the book's `FactorScheduler` and `CosineScheduler`
 * remember the last rate between calls; here calling with 0, 1, 2, ...
 * gives the book's values, and calling twice gives the same value twice), so
 * plotting one does not change it.
 *
 * @example
 * const scheduler = new d2l.lr.SquareRootScheduler({ lr: 0.1 });
 * scheduler(0); // 0.1
 * scheduler.lrAt(3); // 0.05
 */
export interface BookScheduler {
  /** The rate at update (or epoch) `numUpdate`. */
  (numUpdate: number): number;
}

/**
 * The base of the book's schedulers (see the interface of the same name).
 *
 * @example
 * class Halving extends d2l.lr.BookScheduler { lrAt(t: number) { return 0.1 * 0.5 ** t; } }
 * new Halving()(2); // 0.025
 */
export abstract class BookScheduler {
  constructor() {
    const f = (numUpdate: number): number => (f as unknown as BookScheduler).lrAt(numUpdate);
    Object.setPrototypeOf(f, new.target.prototype);
    return f as unknown as BookScheduler;
  }

  /** The rate at update (or epoch) `numUpdate` (what calling the scheduler returns). */
  abstract lrAt(numUpdate: number): number;
}
// Instances are functions: keep call/apply/bind on them.
Object.setPrototypeOf(BookScheduler.prototype, Function.prototype);

/** Options of {@link SquareRootScheduler}. */
export interface SquareRootSchedulerOptions {
  /** The rate at update 0 (default 0.1). */
  lr?: number;
}

/**
 * The book's `SquareRootScheduler` (section 11.11): `lr * (t + 1) ** -0.5`.
 *
 * @example
 * const scheduler = new d2l.lr.SquareRootScheduler({ lr: 0.1 });
 * const epochs = [...Array(30).keys()];
 * d2l.plot(epochs, epochs.map((t) => scheduler(t)));
 */
export class SquareRootScheduler extends BookScheduler {
  readonly lr: number;

  constructor(opts: SquareRootSchedulerOptions = {}) {
    super();
    this.lr = num(options(opts, "SquareRootScheduler", "{ lr: 0.1 }"), "lr", "SquareRootScheduler", 0.1, nonNeg, "a number >= 0");
  }

  lrAt(numUpdate: number): number {
    return this.lr * (numUpdate + 1.0) ** -0.5;
  }
}

/** Options of {@link FactorScheduler}. */
export interface FactorSchedulerOptions {
  /** The factor per update (default 1). */
  factor?: number;
  /** The rate never falls below this (default 1e-7; the book's `stop_factor_lr`). */
  stopFactorLr?: number;
  /** The rate before the first update (default 0.1). */
  baseLr?: number;
}

/**
 * The book's `FactorScheduler` (section 11.11): the rate is multiplied by
 * `factor` at every update, down to `stopFactorLr`:
 * `max(stopFactorLr, baseLr * factor ** (t + 1))` (the book's class
 * multiplies on every call, starting with the call for t = 0).
 *
 * @example
 * const scheduler = new d2l.lr.FactorScheduler({ factor: 0.9, stopFactorLr: 1e-2, baseLr: 2.0 });
 * scheduler(0); // 1.8
 */
export class FactorScheduler extends BookScheduler {
  readonly factor: number;
  readonly stopFactorLr: number;
  readonly baseLr: number;

  constructor(opts: FactorSchedulerOptions = {}) {
    super();
    const o = options(opts, "FactorScheduler", "{ factor: 0.9, stopFactorLr: 1e-2, baseLr: 2.0 }");
    this.factor = num(o, "factor", "FactorScheduler", 1, nonNeg, "a number >= 0");
    this.stopFactorLr = num(o, "stopFactorLr", "FactorScheduler", 1e-7, nonNeg, "a number >= 0");
    this.baseLr = num(o, "baseLr", "FactorScheduler", 0.1, nonNeg, "a number >= 0");
  }

  lrAt(numUpdate: number): number {
    return Math.max(this.stopFactorLr, this.baseLr * this.factor ** (numUpdate + 1));
  }
}

/** Options of {@link MultiFactorScheduler}. */
export interface MultiFactorSchedulerOptions {
  /** The updates after which the rate is multiplied by `factor`, increasing (MXNet's `step`). */
  step: number[];
  /** The factor (default 1). */
  factor?: number;
  /** The rate at the start (default 0.01). */
  baseLr?: number;
}

/**
 * The book's multi-factor schedule (section 11.11, MXNet's
 * `lr_scheduler.MultiFactorScheduler`): the rate is multiplied by `factor`
 * once `t` passes each of `step`: `baseLr * factor ** #{s in step: t > s}`.
 * (The PyTorch edition of the book uses torch's `MultiStepLR`, which decays
 * at `t = s` rather than after it: see {@link MultiStepLR}.)
 *
 * @example
 * const scheduler = new d2l.lr.MultiFactorScheduler({ step: [15, 30], factor: 0.5, baseLr: 0.5 });
 * scheduler(16); // 0.25
 */
export class MultiFactorScheduler extends BookScheduler {
  readonly step: number[];
  readonly factor: number;
  readonly baseLr: number;

  constructor(opts: MultiFactorSchedulerOptions) {
    super();
    const o = options(opts, "MultiFactorScheduler", "{ step: [15, 30], factor: 0.5, baseLr: 0.5 }");
    const s = o.step;
    if (!Array.isArray(s) || s.length === 0 || s.some((x, i) => typeof x !== "number" || (i > 0 && !(x > s[i - 1])))) {
      throw new Error(`MultiFactorScheduler: step must be a non-empty, increasing list of updates, like [15, 30]; got ${describe(s)}`);
    }
    this.step = [...(s as number[])];
    this.factor = num(o, "factor", "MultiFactorScheduler", 1, nonNeg, "a number >= 0");
    this.baseLr = num(o, "baseLr", "MultiFactorScheduler", 0.01, nonNeg, "a number >= 0");
  }

  lrAt(numUpdate: number): number {
    const passed = this.step.filter((s) => numUpdate > s).length;
    return this.baseLr * this.factor ** passed;
  }
}

/** Options of {@link CosineScheduler}. */
export interface CosineSchedulerOptions {
  /** The update at which the cosine reaches `finalLr` (the book's `max_update`). */
  maxUpdate: number;
  /** The rate after the warm-up (default 0.01). */
  baseLr?: number;
  /** The rate at `maxUpdate` and after (default 0). */
  finalLr?: number;
  /** Updates of linear warm-up (default 0). */
  warmupSteps?: number;
  /** The rate at update 0 of the warm-up (default 0). */
  warmupBeginLr?: number;
}

/**
 * The book's `CosineScheduler` (section 11.11) with its linear warm-up: from
 * `warmupBeginLr` up to `baseLr` over `warmupSteps` updates, then
 * `finalLr + (baseLr - finalLr) * (1 + cos(pi * (t - warmupSteps) / (maxUpdate - warmupSteps))) / 2`
 * until `maxUpdate`, then `finalLr`.
 *
 * @example
 * const scheduler = new d2l.lr.CosineScheduler({ maxUpdate: 20, warmupSteps: 5, baseLr: 0.3, finalLr: 0.01 });
 * scheduler(5); // 0.3
 */
export class CosineScheduler extends BookScheduler {
  readonly maxUpdate: number;
  readonly baseLr: number;
  readonly finalLr: number;
  readonly warmupSteps: number;
  readonly warmupBeginLr: number;
  readonly maxSteps: number;

  constructor(opts: CosineSchedulerOptions) {
    super();
    const who = "CosineScheduler";
    const o = options(opts, who, "{ maxUpdate: 20, baseLr: 0.3, finalLr: 0.01, warmupSteps: 5 }");
    this.maxUpdate = num(o, "maxUpdate", who, undefined, positive, "a positive number of updates");
    this.baseLr = num(o, "baseLr", who, 0.01, nonNeg, "a number >= 0");
    this.finalLr = num(o, "finalLr", who, 0, nonNeg, "a number >= 0");
    this.warmupSteps = num(o, "warmupSteps", who, 0, nonNeg, "a number >= 0");
    this.warmupBeginLr = num(o, "warmupBeginLr", who, 0, nonNeg, "a number >= 0");
    if (this.warmupSteps >= this.maxUpdate) throw new Error(`${who}: warmupSteps (${this.warmupSteps}) must be below maxUpdate (${this.maxUpdate})`);
    this.maxSteps = this.maxUpdate - this.warmupSteps;
  }

  lrAt(epoch: number): number {
    if (epoch < this.warmupSteps) return this.warmupBeginLr + ((this.baseLr - this.warmupBeginLr) * epoch) / this.warmupSteps;
    const t = Math.min(epoch, this.maxUpdate);
    return this.finalLr + ((this.baseLr - this.finalLr) * (1 + Math.cos((Math.PI * (t - this.warmupSteps)) / this.maxSteps))) / 2;
  }
}

// ---------------------------------------------------------------------------
// Function updaters with a rate, curves and plots

/**
 * A function updater (the book's `(batchSize) => d2l.sgd(params, lr,
 * batchSize)`) whose rate a scheduler can change: `update(batchSize, lr)` is
 * called with the current `learningRate` of the returned function.
 *
 * @example
 * const updater = d2l.lr.withLearningRate((batchSize, lr) => d2l.sgd([W, b], lr, batchSize), 0.1);
 * await d2l.trainCh3(net, trainIter, testIter, d2l.crossEntropy, 10, updater,
 *   { callbacks: [new d2l.LRSchedulerCallback((opt) => new d2l.lr.StepLR(opt, { stepSize: 5, gamma: 0.5 }))] });
 */
export function withLearningRate(update: (batchSize: number, lr: number) => void, lr: number): ((batchSize: number) => void) & LearningRateHolder {
  if (typeof update !== "function") throw new Error(`withLearningRate: update must be a function (batchSize, lr) => void, got ${describe(update)}`);
  if (typeof lr !== "number" || !(lr >= 0)) throw new Error(`withLearningRate: lr must be a number >= 0, got ${describe(lr)}`);
  const f = ((batchSize: number) => update(batchSize, f.learningRate)) as ((batchSize: number) => void) & LearningRateHolder;
  f.learningRate = lr;
  return f;
}

/** Anything `curve` and `plot` draw: a torch- or Paddle-style scheduler, or one of the book's. */
export type AnySchedule = Scheduler | BookScheduler;

/** Options of {@link curve}. */
export interface CurveOptions {
  /** The monitored values the plateau schedulers are stepped with (one per step after the first). */
  metrics?: number[];
}

function scheduleName(s: AnySchedule): string {
  return (s as object).constructor?.name ?? "schedule";
}

/**
 * The rates of a schedule for steps `0 .. steps - 1`: `s(t)` for the book's,
 * and for torch's and Paddle's the rate after construction and after each of
 * `steps - 1` calls of `step()`, on a fresh copy (the scheduler given, and
 * its optimizer, are not touched).
 *
 * @example
 * d2l.lr.curve(new d2l.lr.StepLR({ learningRate: 1 }, { stepSize: 2, gamma: 0.5 }), 5); // [1, 1, 0.5, 0.5, 0.25]
 */
export function curve(schedule: AnySchedule, steps: number, opts: CurveOptions = {}): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`lr.curve: steps must be a positive whole number, got ${describe(steps)}`);
  if (schedule instanceof BookScheduler) return Array.from({ length: steps }, (_, t) => schedule(t));
  if (schedule === null || typeof schedule !== "object" || typeof (schedule as Scheduler).freshCopy !== "function") {
    throw new Error(`lr.curve: expected a scheduler (new d2l.lr.StepLR(...), new d2l.lr.NoamDecay(...), new d2l.lr.CosineScheduler(...)), got ${describe(schedule)}`);
  }
  const s = (schedule as Scheduler).freshCopy();
  const metrics = opts.metrics;
  if (s.needsMetric && (!Array.isArray(metrics) || metrics.length < steps - 1)) {
    throw new Error(`lr.curve: a ${scheduleName(schedule)} steps on a monitored value; pass metrics: ${steps - 1} numbers (one per step after the first)`);
  }
  const out = [s.getLastLr()[0]];
  for (let i = 1; i < steps; i++) {
    if (s.needsMetric) s.step((metrics as number[])[i - 1]);
    else s.step();
    out.push(s.getLastLr()[0]);
  }
  return out;
}

/** Options of {@link plot}: `d2l.plot`'s, and the metrics for the plateau schedulers. */
export type LrPlotOptions = PlotOptions & CurveOptions;

/**
 * Plot the rate of one or several schedules over `steps` steps with
 * `d2l.plot` (vega-lite and PNG), each run on a fresh copy (see
 * {@link curve}): the scheduler in use keeps its state. The legend names
 * each by its class unless `legend` is given.
 *
 * @example
 * const opt = tf.train.sgd(0.1);
 * d2l.lr.plot([new d2l.lr.StepLR(opt, { stepSize: 30 }), new d2l.lr.StepDecay({ learningRate: 0.1, stepSize: 30 })], 100);
 */
export function plot(schedules: AnySchedule | AnySchedule[], steps: number, opts: LrPlotOptions = {}): Figure {
  const list = Array.isArray(schedules) ? schedules : [schedules];
  if (list.length === 0) throw new Error("lr.plot: give at least one scheduler");
  const { metrics, ...plotOpts } = opts;
  const ys = list.map((s) => curve(s, steps, { metrics }));
  const xs = Array.from({ length: steps }, (_, t) => t);
  return drawPlot(xs, ys, {
    xlabel: "step",
    ylabel: "learning rate",
    legend: list.length > 1 || plotOpts.legend ? list.map(scheduleName) : undefined,
    ...plotOpts,
  });
}
