/**
 * d2l.lr: the learning-rate schedules.
 *
 * - PyTorch's schedulers against torch 1.13 itself: the rates (and the cycled
 *   momentum) of test/fixtures/torch/schedules.json, written by
 *   schedules.py with Debian's python3-torch, within 1e-9.
 * - Paddle's decays against the formulas of Paddle's documentation
 *   (`paddle.optimizer.lr`), computed here.
 * - The book's schedulers (section 11.11) against the book's code, transcribed here.
 * - stateDict round trips mid-run; lr.curve and lr.plot leave the scheduler alone.
 * - LRSchedulerCallback on the engine and in the trainers, per epoch and per batch.
 */
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import { lr } from "../../lib/index";

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/schedules.json");

interface Child {
  cls: string;
  options: Record<string, unknown>;
}
interface Case {
  name: string;
  cls: string;
  lr: number;
  optimizer?: "sgd" | "sgdMomentum" | "adam";
  options: Record<string, unknown>;
  children?: Child[];
  milestones?: number[];
  metrics?: number[];
  epochs?: number[];
  momentum?: number[];
  lrs: number[];
}

// The functions of schedules.py's LAMBDAS, by the same names.
const LAMBDAS: Record<string, (x: number) => number> = {
  pow095: (e) => 0.95 ** e,
  invSqrt: (e) => 1 / Math.sqrt(e + 1),
  warmup10: (e) => Math.min(1.0, (e + 1) / 10),
  const095: () => 0.95,
  every10: (e) => (e % 10 === 0 ? 0.9 : 1.0),
  halfSine: (x) => 0.5 * (1 + Math.sin((x * Math.PI) / 2)),
  decayIter: (x) => 1 / (1 + 0.01 * x),
};

const fixture = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as { torch: string; steps: number; cases: Case[] };

type Opt = lr.SchedulableOptimizer & { momentum?: number; betas?: number[] };

/** The optimizer of a case: tfjs' own SGD (setLearningRate), or holders with momentum / betas as d2l.optim's SGD and Adam have. */
function optimizerFor(c: Case): Opt {
  if (c.optimizer === "sgdMomentum") return { learningRate: c.lr, momentum: 0.9 };
  if (c.optimizer === "adam") return { learningRate: c.lr, betas: [0.9, 0.999] };
  return tf.train.sgd(c.lr);
}

function withFunctions(o: Record<string, unknown>): Record<string, unknown> {
  const out = { ...o };
  for (const k of ["lrLambda", "scaleFn"]) if (typeof out[k] === "string") out[k] = LAMBDAS[out[k] as string];
  return out;
}

type Ctor = new (opt: lr.SchedulableOptimizer, o: Record<string, unknown>) => lr.Scheduler;

function make(cls: string, opt: lr.SchedulableOptimizer, o: Record<string, unknown>): lr.Scheduler {
  const C = (lr as unknown as Record<string, Ctor>)[cls];
  assert.ok(typeof C === "function", `d2l.lr.${cls} is missing`);
  return new C(opt, withFunctions(o));
}

function build(c: Case, opt: lr.SchedulableOptimizer): lr.Scheduler {
  if (c.cls === "SequentialLR" || c.cls === "ChainedScheduler") {
    const children = (c.children as Child[]).map((ch) => make(ch.cls, opt, ch.options) as lr.LRScheduler);
    return c.cls === "SequentialLR" ? new lr.SequentialLR(opt, { schedulers: children, milestones: c.milestones as number[] }) : new lr.ChainedScheduler(children);
  }
  return make(c.cls, opt, c.options);
}

function stepCase(c: Case, s: lr.Scheduler, i: number): void {
  if (c.metrics) s.step(c.metrics[i]);
  else if (c.epochs) s.step(c.epochs[i]);
  else s.step();
}

function readMomentum(opt: Opt): number {
  return opt.betas ? opt.betas[0] : (opt.momentum as number);
}

function maxDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - b[i])));
}

/** Run a case: the optimizer's rate (and what getLastLr says) after construction and each step. */
function run(c: Case, steps = fixture.steps): { lrs: number[]; last: number[]; momentum: number[] } {
  const opt = optimizerFor(c);
  const s = build(c, opt);
  const rate = (): number => (opt as unknown as { learningRate: number }).learningRate;
  const out = { lrs: [rate()], last: [s.getLastLr()[0]], momentum: [readMomentum(opt)] };
  for (let i = 0; i < steps - 1; i++) {
    stepCase(c, s, i);
    out.lrs.push(rate());
    out.last.push(s.getLastLr()[0]);
    out.momentum.push(readMomentum(opt));
  }
  if (opt instanceof tf.Optimizer) opt.dispose();
  return out;
}

before(async () => {
  await tf.setBackend("cpu");
});

describe("PyTorch's schedulers against torch 1.13 (test/fixtures/torch/schedules.json)", () => {
  test("the fixture covers every scheduler of torch.optim.lr_scheduler, several settings each", () => {
    const classes = new Set(fixture.cases.map((c) => c.cls));
    for (const cls of [
      "LambdaLR",
      "MultiplicativeLR",
      "StepLR",
      "MultiStepLR",
      "ConstantLR",
      "LinearLR",
      "ExponentialLR",
      "PolynomialLR",
      "CosineAnnealingLR",
      "ChainedScheduler",
      "SequentialLR",
      "ReduceLROnPlateau",
      "CyclicLR",
      "OneCycleLR",
      "CosineAnnealingWarmRestarts",
    ]) {
      assert.ok(classes.has(cls), `no fixture case for ${cls}`);
      assert.ok(fixture.cases.filter((c) => c.cls === cls).length >= 2, `one setting only for ${cls}`);
    }
    assert.ok(fixture.cases.every((c) => c.lrs.length === 100));
    assert.match(fixture.torch, /^1\.13/);
  });

  let worst = 0;
  for (const c of fixture.cases) {
    test(`${c.name}: 100 rates within 1e-9 of torch's${c.momentum ? ", and the momentum" : ""}`, () => {
      const r = run(c);
      const d = maxDiff(r.lrs, c.lrs);
      worst = Math.max(worst, d);
      assert.ok(d <= 1e-9, `${c.name}: max difference ${d}\n ours  ${r.lrs.slice(0, 12).join(", ")}\n torch ${c.lrs.slice(0, 12).join(", ")}`);
      assert.deepEqual(r.last, r.lrs, "getLastLr() is the optimizer's rate");
      if (c.momentum) {
        const dm = maxDiff(r.momentum, c.momentum);
        assert.ok(dm <= 1e-9, `${c.name}: momentum off by ${dm}`);
      }
    });
  }
  test("the largest difference from torch over all cases", () => {
    // printed for the record (measured: 0 in most cases; see the report)
    console.log(`largest |d2l - torch| over ${fixture.cases.length} cases x 100 steps: ${worst}`);
    assert.ok(worst <= 1e-9);
  });

  test("bad options are errors that say what to pass", () => {
    const opt = { learningRate: 0.1 };
    assert.throws(() => new lr.StepLR(opt, { stepSize: 0 }), /stepSize must be a positive whole number/);
    assert.throws(() => new lr.StepLR(opt, {} as lr.StepLROptions), /stepSize is required/);
    assert.throws(() => new lr.StepLR({} as lr.LearningRateHolder, { stepSize: 3 }), /optimizer with a number learningRate/);
    assert.throws(() => new lr.StepLR(((n: number) => n) as unknown as lr.LearningRateHolder, { stepSize: 3 }), /withLearningRate/);
    assert.throws(() => new lr.ConstantLR(opt, { factor: 2 }), /factor must be a number between 0 and 1/);
    assert.throws(() => new lr.CyclicLR(opt, { baseLr: 0.01, maxLr: 0.1, mode: "zigzag" as "triangular" }), /mode must be "triangular" or "triangular2" or "exp_range"/);
    assert.throws(() => new lr.CyclicLR(opt, { baseLr: 0.01, maxLr: 0.1, cycleMomentum: true }), /cycleMomentum needs an optimizer with momentum/);
    assert.throws(() => new lr.OneCycleLR(opt, { maxLr: 0.1 }), /give totalSteps, or epochs and stepsPerEpoch/);
    assert.throws(() => new lr.ReduceLROnPlateau(opt, { factor: 1 }), /factor must be a number below 1/);
    assert.throws(() => new lr.ReduceLROnPlateau(opt).step(undefined), /expected the monitored value/);
    const other = { learningRate: 0.1 };
    assert.throws(() => new lr.SequentialLR(opt, { schedulers: [new lr.ExponentialLR(other, { gamma: 0.9 })], milestones: [] }), /drives another optimizer/);
    assert.throws(() => new lr.SequentialLR(opt, { schedulers: [new lr.ExponentialLR(opt, { gamma: 0.9 })], milestones: [3] }), /milestones must be 0 whole step numbers/);
    const oneCycle = new lr.OneCycleLR({ learningRate: 0.1 }, { maxLr: 0.1, totalSteps: 3 });
    for (let i = 0; i < 3; i++) oneCycle.step();
    assert.throws(() => oneCycle.step(), /tried to step 5 times, but the cycle has 3 steps/);
  });
});

// ---------------------------------------------------------------------------
// Paddle's decays against paddle.optimizer.lr's documented formulas

function paddleRun(s: lr.Scheduler, n: number, metrics?: number[]): number[] {
  const out = [s.lastLr];
  for (let t = 1; t < n; t++) {
    if (metrics) s.step(metrics[t - 1]);
    else s.step();
    out.push(s.lastLr);
  }
  return out;
}

function formula(n: number, f: (t: number) => number): number[] {
  return Array.from({ length: n }, (_, t) => f(t));
}

function close(ours: number[], want: number[], tol: number, what: string): void {
  const d = maxDiff(ours, want);
  assert.ok(d <= tol, `${what}: max difference ${d}\n ours ${ours.slice(0, 12).join(", ")}\n want ${want.slice(0, 12).join(", ")}`);
}

describe("Paddle's decays against paddle.optimizer.lr's formulas", () => {
  const N = 100;
  const TOL = 1e-12;

  test("NoamDecay: lr * dModel^-0.5 * min(t^-0.5, t * warmupSteps^-1.5) (1 for t^-0.5 at t = 0)", () => {
    for (const [dModel, warmupSteps, learningRate] of [
      [512, 4000, 1],
      [0.01, 10, 1],
      [64, 25, 2],
    ]) {
      const want = formula(N, (t) => learningRate * dModel ** -0.5 * Math.min(t === 0 ? 1 : t ** -0.5, t * warmupSteps ** -1.5));
      close(paddleRun(new lr.NoamDecay({ dModel, warmupSteps, learningRate }), N), want, TOL, `NoamDecay ${dModel} ${warmupSteps}`);
    }
    // the default factor is 1, and the rate peaks at warmupSteps
    const s = paddleRun(new lr.NoamDecay({ dModel: 0.01, warmupSteps: 10 }), 30);
    assert.equal(s.indexOf(Math.max(...s)), 10);
  });

  test("PiecewiseDecay: values[i] while t < boundaries[i], the last value after", () => {
    const boundaries = [10, 30, 60];
    const values = [1.0, 0.5, 0.1, 0.01];
    const want = formula(N, (t) => (t < 10 ? 1.0 : t < 30 ? 0.5 : t < 60 ? 0.1 : 0.01));
    close(paddleRun(new lr.PiecewiseDecay({ boundaries, values }), N), want, 0, "PiecewiseDecay");
    assert.throws(() => new lr.PiecewiseDecay({ boundaries: [3], values: [1] }), /values must be 2 rates/);
  });

  test("NaturalExpDecay: lr * exp(-gamma * t); InverseTimeDecay: lr / (1 + gamma * t)", () => {
    for (const [learningRate, gamma] of [
      [0.5, 0.1],
      [1, 0.02],
    ]) {
      close(
        paddleRun(new lr.NaturalExpDecay({ learningRate, gamma }), N),
        formula(N, (t) => learningRate * Math.exp(-gamma * t)),
        TOL,
        "NaturalExpDecay",
      );
      close(
        paddleRun(new lr.InverseTimeDecay({ learningRate, gamma }), N),
        formula(N, (t) => learningRate / (1 + gamma * t)),
        TOL,
        "InverseTimeDecay",
      );
    }
  });

  test("PolynomialDecay: (lr - endLr) (1 - t/decaySteps)^power + endLr, t capped or (cycle) decaySteps stretched", () => {
    for (const [decaySteps, power, endLr] of [
      [20, 1, 1e-4],
      [50, 2, 0.01],
      [30, 0.5, 0],
    ]) {
      const capped = formula(N, (t) => (0.5 - endLr) * (1 - Math.min(t, decaySteps) / decaySteps) ** power + endLr);
      close(paddleRun(new lr.PolynomialDecay({ learningRate: 0.5, decaySteps, power, endLr }), N), capped, TOL, `PolynomialDecay ${decaySteps}`);
      const cycled = formula(N, (t) => {
        const steps = decaySteps * (t === 0 ? 1 : Math.ceil(t / decaySteps));
        return (0.5 - endLr) * (1 - t / steps) ** power + endLr;
      });
      close(paddleRun(new lr.PolynomialDecay({ learningRate: 0.5, decaySteps, power, endLr, cycle: true }), N), cycled, TOL, `PolynomialDecay cycle ${decaySteps}`);
    }
    // cycle: back up after each period
    const c = paddleRun(new lr.PolynomialDecay({ learningRate: 0.5, decaySteps: 20, cycle: true }), 30);
    assert.ok(c[21] > c[20]);
  });

  test("LinearWarmup: startLr + (endLr - startLr) t / warmupSteps, then the number or the scheduler from its step 0", () => {
    const w = 10;
    const warm = (t: number): number => 0 + ((0.5 - 0) * t) / w;
    close(
      paddleRun(new lr.LinearWarmup({ learningRate: 0.5, warmupSteps: w, startLr: 0, endLr: 0.5 }), N),
      formula(N, (t) => (t < w ? warm(t) : 0.5)),
      TOL,
      "LinearWarmup number",
    );
    const cosine = new lr.CosineAnnealingDecay({ learningRate: 0.5, tMax: 90, etaMin: 0.001 });
    const wantCos = formula(N, (t) => (t < w ? warm(t) : 0.001 + ((0.5 - 0.001) * (1 + Math.cos((Math.PI * (t - w)) / 90))) / 2));
    close(paddleRun(new lr.LinearWarmup({ learningRate: cosine, warmupSteps: w, startLr: 0, endLr: 0.5 }), N), wantCos, TOL, "LinearWarmup then cosine");
    const mult = new lr.MultiplicativeDecay({ learningRate: 0.5, lrLambda: () => 0.97 });
    close(
      paddleRun(new lr.LinearWarmup({ learningRate: mult, warmupSteps: w, startLr: 0, endLr: 0.5 }), N),
      formula(N, (t) => (t < w ? warm(t) : 0.5 * 0.97 ** (t - w))),
      TOL,
      "LinearWarmup then multiplicative",
    );
    assert.throws(() => new lr.LinearWarmup({ learningRate: 0.5, warmupSteps: 5, startLr: 0.5, endLr: 0.1 }), /endLr \(0.1\) must be greater than startLr/);
    assert.throws(
      () => new lr.LinearWarmup({ learningRate: new lr.StepLR({ learningRate: 1 }, { stepSize: 3 }), warmupSteps: 5, startLr: 0, endLr: 0.1 }),
      /Paddle-style scheduler/,
    );
  });

  test("ExponentialDecay, StepDecay, MultiStepDecay, LambdaDecay, MultiplicativeDecay, CosineAnnealingDecay: Paddle's formulas (torch's curves)", () => {
    close(
      paddleRun(new lr.ExponentialDecay({ learningRate: 0.5, gamma: 0.9 }), N),
      formula(N, (t) => 0.5 * 0.9 ** t),
      TOL,
      "ExponentialDecay",
    );
    close(
      paddleRun(new lr.StepDecay({ learningRate: 0.5, stepSize: 30, gamma: 0.1 }), N),
      formula(N, (t) => 0.5 * 0.1 ** Math.floor(t / 30)),
      TOL,
      "StepDecay",
    );
    close(
      paddleRun(new lr.MultiStepDecay({ learningRate: 0.5, milestones: [30, 50], gamma: 0.1 }), N),
      formula(N, (t) => (t < 30 ? 0.5 : t < 50 ? 0.05 : 0.005)),
      TOL,
      "MultiStepDecay",
    );
    close(
      paddleRun(new lr.LambdaDecay({ learningRate: 0.5, lrLambda: (t) => 0.95 ** t }), N),
      formula(N, (t) => 0.5 * 0.95 ** t),
      TOL,
      "LambdaDecay",
    );
    close(
      paddleRun(new lr.MultiplicativeDecay({ learningRate: 0.5, lrLambda: (t) => (t % 10 === 0 ? 0.5 : 1) }), N),
      formula(N, (t) => 0.5 * 0.5 ** Math.floor(t / 10)),
      TOL,
      "MultiplicativeDecay",
    );
    for (const [tMax, etaMin] of [
      [10, 0],
      [25, 0.001],
    ]) {
      close(
        paddleRun(new lr.CosineAnnealingDecay({ learningRate: 0.5, tMax, etaMin }), N),
        formula(N, (t) => etaMin + ((0.5 - etaMin) * (1 + Math.cos((Math.PI * t) / tMax))) / 2),
        1e-12,
        `CosineAnnealingDecay ${tMax}`,
      );
    }
    // Paddle's checks
    assert.throws(() => new lr.ExponentialDecay({ learningRate: 0.5, gamma: 1.5 }), /gamma must be a number in \(0, 1\)/);
    assert.throws(() => new lr.MultiStepDecay({ learningRate: 0.5, milestones: [50, 30] }), /strictly increasing/);
    // the aliases are torch's classes on their own rate
    assert.ok(new lr.StepDecay({ learningRate: 1, stepSize: 3 }) instanceof lr.StepLR);
    assert.ok(new lr.CosineAnnealingDecay({ learningRate: 1, tMax: 3 }) instanceof lr.CosineAnnealingLR);
    assert.equal(new lr.StepDecay({ learningRate: 1, stepSize: 3 }).standalone, true);
    assert.equal(new lr.StepLR({ learningRate: 1 }, { stepSize: 3 }).standalone, false);
  });

  test("ReduceOnPlateau: Paddle's algorithm (cooldown skips the comparison), unlike torch's ReduceLROnPlateau", () => {
    const metrics = [5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3];
    // Paddle, by hand from its documented algorithm: best 5, 4; three bad steps (> patience 2) at step 5 halve
    // the rate and start a cooldown of 1, during which the 3 at step 6 is not looked at; 3 is the new best at
    // step 7, three bad steps again at step 10.
    const paddle = paddleRun(new lr.ReduceOnPlateau({ learningRate: 1, factor: 0.5, patience: 2, cooldown: 1 }), 12, metrics);
    assert.deepEqual(paddle, [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]);
    // torch compares during the cooldown (3 is the best at step 6), so it reduces again at step 9
    const torchS = new lr.ReduceLROnPlateau({ learningRate: 1 }, { factor: 0.5, patience: 2, cooldown: 1 });
    assert.deepEqual(paddleRun(torchS, 12, metrics), [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]);
    // max mode, abs threshold, minLr, epsilon
    const up = [0.5, 0.6, 0.6, 0.605, 0.62, 0.62, 0.62, 0.62];
    const s = new lr.ReduceOnPlateau({ learningRate: 0.1, mode: "max", factor: 0.1, patience: 1, threshold: 0.01, thresholdMode: "abs", minLr: 0.005, epsilon: 1e-3 });
    // 0.5 best; 0.6 better; 0.6 bad 1; 0.605 bad 2 > 1: 0.01; 0.62 better; 0.62 bad; 0.62 bad 2: max(0.001, 0.005) = 0.005
    assert.deepEqual(paddleRun(s, 8, up.slice(0, 7)), [0.1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.005]);
  });
});

// ---------------------------------------------------------------------------
// The book's schedulers against the book's code (section 11.11, transcribed)

describe("the book's schedulers (section 11.11)", () => {
  test("SquareRootScheduler: lr * (t + 1)^-0.5", () => {
    const s = new lr.SquareRootScheduler({ lr: 0.1 });
    for (let t = 0; t < 30; t++) assert.equal(s(t), 0.1 * (t + 1.0) ** -0.5);
    assert.equal(new lr.SquareRootScheduler()(3), 0.05);
    assert.equal(s.lrAt(8), s(8));
    assert.equal(typeof s, "function");
    assert.ok(s instanceof lr.BookScheduler);
  });

  test("FactorScheduler: the book's class, called for t = 0, 1, 2, ...", () => {
    // the book's __call__: self.base_lr = max(self.stop_factor_lr, self.base_lr * self.factor); return self.base_lr
    let base = 2.0;
    const book = (): number => (base = Math.max(1e-2, base * 0.9));
    const s = new lr.FactorScheduler({ factor: 0.9, stopFactorLr: 1e-2, baseLr: 2.0 });
    const ours = formula(50, (t) => s(t));
    close(ours, formula(50, book), 1e-12, "FactorScheduler");
    assert.equal(s(60), 1e-2); // 2 * 0.9^61 < 0.01: the floor
  });

  test("MultiFactorScheduler: MXNet's, the rate times factor after each step", () => {
    // MXNet's __call__: while cur_step_ind <= len(step) - 1: if num_update > step[cur_step_ind]: base_lr *= factor ...
    const steps = [15, 30];
    let ind = 0;
    let base = 0.5;
    const book = (t: number): number => {
      while (ind <= steps.length - 1) {
        if (t > steps[ind]) {
          ind += 1;
          base *= 0.5;
        } else return base;
      }
      return base;
    };
    const s = new lr.MultiFactorScheduler({ step: steps, factor: 0.5, baseLr: 0.5 });
    close(
      formula(50, (t) => s(t)),
      formula(50, book),
      0,
      "MultiFactorScheduler",
    );
  });

  test("CosineScheduler with and without warm-up: the book's class", () => {
    for (const [maxUpdate, warmupSteps, baseLr, finalLr] of [
      [20, 0, 0.3, 0.01],
      [20, 5, 0.3, 0.01],
      [50, 10, 0.5, 0],
    ]) {
      // the book's CosineScheduler, transcribed
      const maxSteps = maxUpdate - warmupSteps;
      let last = NaN;
      const book = (epoch: number): number => {
        if (epoch < warmupSteps) return 0 + ((baseLr - 0) * epoch) / warmupSteps;
        if (epoch <= maxUpdate) last = finalLr + ((baseLr - finalLr) * (1 + Math.cos((Math.PI * (epoch - warmupSteps)) / maxSteps))) / 2;
        return last;
      };
      const s = new lr.CosineScheduler({ maxUpdate, warmupSteps, baseLr, finalLr });
      close(
        formula(60, (t) => s(t)),
        formula(60, book),
        1e-15,
        `CosineScheduler ${maxUpdate} ${warmupSteps}`,
      );
    }
    assert.throws(() => new lr.CosineScheduler({ maxUpdate: 5, warmupSteps: 5 }), /warmupSteps \(5\) must be below maxUpdate/);
  });
});

// ---------------------------------------------------------------------------
// State dicts, fresh copies, plots

describe("stateDict, lr.curve and lr.plot", () => {
  const names = [
    "StepLR 7 0.5",
    "MultiStepLR repeated",
    "ConstantLR 0.5 40",
    "LinearLR warm-up 20",
    "ExponentialLR 0.95",
    "PolynomialLR 80 2",
    "CosineAnnealingLR 25 etaMin",
    "CosineAnnealingWarmRestarts 5x2",
    "CyclicLR triangular2",
    "CyclicLR exp_range",
    "OneCycleLR cos three-phase",
    "OneCycleLR Adam betas",
    "ReduceLROnPlateau min abs cooldown",
    "ReduceLROnPlateau max rel",
    "SequentialLR three",
    "ChainedScheduler warm-up and cosine",
    "LambdaLR 0.95^e",
    "MultiplicativeLR every 10",
  ];
  for (const name of names) {
    test(`${name}: saved after 40 steps (as JSON) and loaded into a new scheduler on a new optimizer, the run continues exactly`, () => {
      const c = fixture.cases.find((x) => x.name === name) as Case;
      assert.ok(c, name);
      const whole = run(c);
      const opt = optimizerFor(c);
      const s = build(c, opt);
      for (let i = 0; i < 40; i++) stepCase(c, s, i);
      const saved = JSON.stringify(s.stateDict());
      const opt2 = optimizerFor(c);
      const s2 = build(c, opt2);
      s2.loadStateDict(JSON.parse(saved));
      const rate = (): number => (opt2 as unknown as { learningRate: number }).learningRate;
      const rest = [rate()];
      const mom = [readMomentum(opt2)];
      for (let i = 40; i < 99; i++) {
        stepCase(c, s2, i);
        rest.push(rate());
        mom.push(readMomentum(opt2));
      }
      assert.deepEqual(rest, whole.lrs.slice(40));
      if (c.momentum) assert.deepEqual(mom, whole.momentum.slice(40));
      for (const o of [opt, opt2]) if (o instanceof tf.Optimizer) o.dispose();
    });
  }

  test("Paddle's and the callback's states round-trip too; a state loads only into its own kind", () => {
    const make = (): lr.LinearWarmup =>
      new lr.LinearWarmup({ learningRate: new lr.CosineAnnealingDecay({ learningRate: 0.5, tMax: 40 }), warmupSteps: 10, startLr: 0, endLr: 0.5 });
    const whole = paddleRun(make(), 80);
    const a = make();
    for (let i = 0; i < 25; i++) a.step();
    const b = make();
    b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
    assert.deepEqual(paddleRun(b, 55), whole.slice(25));
    const p = new lr.ReduceOnPlateau({ learningRate: 1, patience: 0 });
    p.step(3);
    p.step(4);
    const q = new lr.ReduceOnPlateau({ learningRate: 1, patience: 0 });
    q.loadStateDict(JSON.parse(JSON.stringify(p.stateDict())));
    assert.deepEqual([q.lastLr, q.best, q.lastEpoch], [0.1, 3, 2]);
    assert.throws(
      () => new lr.StepLR({ learningRate: 1 }, { stepSize: 2 }).loadStateDict(new lr.ExponentialLR({ learningRate: 1 }, { gamma: 0.5 }).stateDict()),
      /this state is of a ExponentialLR, not of a StepLR/,
    );
    // a Paddle alias keeps its own name in states and fresh copies (and lr.curve of a warm-up wrapping one works)
    const stepDecay = new lr.StepDecay({ learningRate: 1, stepSize: 2 });
    assert.equal(stepDecay.stateDict().scheduler, "StepDecay");
    assert.ok(stepDecay.freshCopy() instanceof lr.StepDecay);
    const warm = new lr.LinearWarmup({ learningRate: new lr.CosineAnnealingDecay({ learningRate: 0.1, tMax: 8 }), warmupSteps: 2, startLr: 0, endLr: 0.1 });
    assert.deepEqual(lr.curve(warm, 4), [0, 0.05, 0.1, (0.1 * (1 + Math.cos(Math.PI / 8))) / 2]);
    assert.throws(() => new lr.StepDecay({ learningRate: 1, stepSize: 0 }), /StepDecay: stepSize must be a positive whole number/);
  });

  test("lr.curve runs a fresh copy: the scheduler in use, and its optimizer, keep their state", () => {
    for (const name of ["SequentialLR linear warm-up then cosine", "ChainedScheduler warm-up and step", "OneCycleLR cos", "CyclicLR triangular", "CosineAnnealingLR 10"]) {
      const c = fixture.cases.find((x) => x.name === name) as Case;
      const opt = optimizerFor(c);
      const s = build(c, opt);
      for (let i = 0; i < 17; i++) stepCase(c, s, i);
      const before = JSON.stringify([s.stateDict(), (opt as unknown as { learningRate: number }).learningRate, readMomentum(opt)]);
      const fromStart = lr.curve(s, 100);
      close(fromStart, c.lrs, 1e-9, `curve of ${name}`);
      assert.equal(JSON.stringify([s.stateDict(), (opt as unknown as { learningRate: number }).learningRate, readMomentum(opt)]), before, `${name} was disturbed`);
      if (opt instanceof tf.Optimizer) opt.dispose();
    }
    const plateau = fixture.cases.find((x) => x.name === "ReduceLROnPlateau max rel") as Case;
    close(lr.curve(build(plateau, optimizerFor(plateau)), 100, { metrics: plateau.metrics }), plateau.lrs, 1e-9, "plateau curve");
    assert.throws(() => lr.curve(new lr.ReduceLROnPlateau({ learningRate: 1 }), 10), /pass metrics: 9 numbers/);
    const f = new lr.FactorScheduler({ factor: 0.5, baseLr: 1 });
    assert.deepEqual(lr.curve(f, 3), [0.5, 0.25, 0.125]);
    assert.deepEqual(lr.curve(f, 3), [0.5, 0.25, 0.125]);
    assert.deepEqual(lr.curve(new lr.StepLR({ learningRate: 1 }, { stepSize: 2, gamma: 0.5 }), 5), [1, 1, 0.5, 0.5, 0.25]);
  });

  test("lr.plot draws torch's, Paddle's and the book's schedules with d2l.plot, named by class", () => {
    const opt = tf.train.sgd(0.1);
    const step = new lr.StepLR(opt, { stepSize: 30 });
    step.step();
    const fig = lr.plot([step, new lr.StepDecay({ learningRate: 0.1, stepSize: 30 }), new lr.CosineScheduler({ maxUpdate: 80, baseLr: 0.1 })], 100);
    const text = fig.text;
    assert.match(text, /StepLR, StepDecay, CosineScheduler; 300 points/);
    const spec = JSON.stringify(fig.spec);
    assert.match(spec, /learning rate/);
    assert.equal(step.lastEpoch, 1);
    assert.equal((opt as unknown as { learningRate: number }).learningRate, 0.1);
    const one = lr.plot(new lr.NoamDecay({ dModel: 512, warmupSteps: 20 }), 50, { legend: ["Noam"] });
    assert.match(one.text, /Noam; 50 points/);
    opt.dispose();
  });

  test("withLearningRate: a function updater whose rate a scheduler sets", () => {
    const seen: number[] = [];
    const u = lr.withLearningRate((n, rate) => seen.push(n * rate), 0.5);
    const s = new lr.ExponentialLR(u, { gamma: 0.5 });
    u(2);
    s.step();
    u(2);
    assert.deepEqual(seen, [1, 0.5]);
  });
});

// ---------------------------------------------------------------------------
// The callback on the engine and in the trainers

function regressionData(n = 40, batchSize = 10): d2l.DataLoader {
  const X = tf.randomNormal([n, 3], 0, 1, "float32", 3);
  const y = X.matMul(tf.tensor2d([[1], [-2], [0.5]])).add(0.3);
  return new d2l.DataLoader(new d2l.TensorDataset(X, y.reshape([n])), { batchSize });
}

function linearNet(): { net: (X: tf.Tensor) => tf.Tensor; params: tf.Variable[] } {
  const W = tf.variable(tf.zeros([3, 1]));
  const b = tf.variable(tf.zeros([1]));
  return { net: (X) => X.matMul(W).add(b).reshape([-1]), params: [W, b] };
}

const mse = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => yHat.sub(y).square();

/** Records the rate each batch trains with, read from the optimizer in onBatchBegin after every other callback. */
class RateSpy implements d2l.Callback {
  readonly order = 500;
  readonly rates: number[] = [];
  onBatchBegin(state: d2l.TrainState): void {
    this.rates.push((state.updater as unknown as { learningRate: number }).learningRate);
  }
}

describe("LRSchedulerCallback", () => {
  test("per epoch, on the engine with tf.train.sgd: a factory's StepLR changes the rate after each epoch; the history records it", async () => {
    const { net, params } = linearNet();
    const opt = tf.train.sgd(0.1);
    const spy = new RateSpy();
    const cb = new d2l.LRSchedulerCallback((o) => new lr.StepLR(o, { stepSize: 1, gamma: 0.5 }));
    const r = await d2l.fit({ net, loss: mse, updater: opt, params, trainIter: regressionData(), numEpochs: 4, accuracy: false, callbacks: [cb, spy] });
    const want = [0.1, 0.05, 0.025, 0.0125].flatMap((x) => [x, x, x, x]);
    assert.deepEqual(spy.rates, want);
    assert.deepEqual(cb.batchLrs, want);
    assert.deepEqual(cb.epochLrs, [0.1, 0.05, 0.025, 0.0125]);
    assert.deepEqual(
      r.history.map((h) => h.lr),
      [0.1, 0.05, 0.025, 0.0125],
    );
    assert.ok(cb.scheduler instanceof lr.StepLR);
    opt.dispose();
    tf.dispose(params);
  });

  test("per batch: OneCycleLR on the optimizer given trains with exactly its curve", async () => {
    const { net, params } = linearNet();
    const opt = tf.train.sgd(0.1);
    const s = new lr.OneCycleLR(opt, { maxLr: 0.2, epochs: 3, stepsPerEpoch: 4 });
    const want = lr.curve(s, 12);
    const spy = new RateSpy();
    await d2l.fit({
      net,
      loss: mse,
      updater: opt,
      params,
      trainIter: regressionData(),
      numEpochs: 3,
      accuracy: false,
      callbacks: [new d2l.LRSchedulerCallback(s, { interval: "batch" }), spy],
    });
    assert.deepEqual(spy.rates, want);
    assert.equal(s.lastEpoch, 12);
    opt.dispose();
    tf.dispose(params);
  });

  test("the book's CosineScheduler per epoch (rate = scheduler(epoch)), Paddle's NoamDecay per batch (its lastLr copied)", async () => {
    const { net, params } = linearNet();
    const opt = tf.train.sgd(0.3);
    const cos = new lr.CosineScheduler({ maxUpdate: 4, warmupSteps: 1, baseLr: 0.3, finalLr: 0.01 });
    const spy = new RateSpy();
    await d2l.fit({ net, loss: mse, updater: opt, params, trainIter: regressionData(), numEpochs: 5, accuracy: false, callbacks: [new d2l.LRSchedulerCallback(cos), spy] });
    assert.deepEqual(
      spy.rates,
      [0, 1, 2, 3, 4].flatMap((e) => Array(4).fill(cos(e))),
    );
    const noam = new lr.NoamDecay({ dModel: 16, warmupSteps: 5 });
    const spy2 = new RateSpy();
    await d2l.fit({
      net,
      loss: mse,
      updater: opt,
      params,
      trainIter: regressionData(),
      numEpochs: 3,
      accuracy: false,
      callbacks: [new d2l.LRSchedulerCallback(noam, { interval: "batch" }), spy2],
    });
    assert.deepEqual(spy2.rates, lr.curve(new lr.NoamDecay({ dModel: 16, warmupSteps: 5 }), 12));
    opt.dispose();
    tf.dispose(params);
  });

  test("ReduceLROnPlateau is stepped with the monitored value after each epoch (min and max modes)", async () => {
    const { net, params } = linearNet();
    const opt = tf.train.sgd(0.05);
    const seq = [1, 0.9, 0.95, 0.96, 0.97, 0.98];
    const cb = new d2l.LRSchedulerCallback((o) => new lr.ReduceLROnPlateau(o, { factor: 0.5, patience: 1 }), { monitor: (s) => seq[s.epoch] });
    await d2l.fit({ net, loss: mse, updater: opt, params, trainIter: regressionData(), numEpochs: 6, accuracy: false, callbacks: [cb] });
    assert.deepEqual(cb.epochLrs, [0.05, 0.05, 0.05, 0.05, 0.025, 0.025]);
    // the train loss of a regression that learns falls every epoch: no reduction in min mode, one every other epoch in max mode (patience 1)
    const down = new d2l.LRSchedulerCallback((o) => new lr.ReduceLROnPlateau(o, { patience: 1 }));
    const up = new d2l.LRSchedulerCallback((o) => new lr.ReduceLROnPlateau(o, { mode: "max", factor: 0.5, patience: 1 }));
    const fresh = linearNet();
    const opt2 = tf.train.sgd(0.05);
    await d2l.fit({ net: fresh.net, loss: mse, updater: opt2, params: fresh.params, trainIter: regressionData(), numEpochs: 6, accuracy: false, callbacks: [down] });
    assert.deepEqual(down.epochLrs, Array(6).fill(0.05));
    const fresh2 = linearNet();
    const opt3 = tf.train.sgd(0.05);
    await d2l.fit({ net: fresh2.net, loss: mse, updater: opt3, params: fresh2.params, trainIter: regressionData(), numEpochs: 6, accuracy: false, callbacks: [up] });
    assert.deepEqual(up.epochLrs, [0.05, 0.05, 0.05, 0.025, 0.025, 0.0125]);
    assert.throws(() => new d2l.LRSchedulerCallback(new lr.StepLR({ learningRate: 1 }, { stepSize: 1 }), { monitor: "batchLoss" }), /interval: "batch"/);
    tf.dispose([...params, ...fresh.params, ...fresh2.params]);
    [opt, opt2, opt3].forEach((o) => o.dispose());
  });

  test("a monitored value that is missing, a scheduler on another optimizer, a function updater without a rate: errors that say what to do", async () => {
    const { net, params } = linearNet();
    const opt = tf.train.sgd(0.05);
    const trainIter = regressionData();
    const noTest = new d2l.LRSchedulerCallback((o) => new lr.ReduceLROnPlateau(o), { monitor: "testAcc" });
    await assert.rejects(
      d2l.fit({ net, loss: mse, updater: opt, params, trainIter, numEpochs: 1, accuracy: false, callbacks: [noTest] }),
      /testAcc is undefined \(is there a test iterator/,
    );
    const elsewhere = new d2l.LRSchedulerCallback(new lr.StepLR(tf.train.sgd(1), { stepSize: 1 }));
    await assert.rejects(
      d2l.fit({ net, loss: mse, updater: opt, params, trainIter, numEpochs: 1, accuracy: false, callbacks: [elsewhere] }),
      /drives another optimizer .* pass a factory/,
    );
    const fnUpdater = new d2l.LRSchedulerCallback((o) => new lr.StepLR(o, { stepSize: 1 }));
    await assert.rejects(
      d2l.fit({ net, loss: mse, updater: (n: number) => d2l.sgd(params, 0.1, n), params, trainIter, numEpochs: 1, accuracy: false, callbacks: [fnUpdater] }),
      /withLearningRate/,
    );
    assert.throws(() => new d2l.LRSchedulerCallback(42 as unknown as lr.Scheduler), /expected a scheduler/);
    opt.dispose();
    tf.dispose(params);
  });

  test("trainCh3 with the book's d2l.sgd updater made schedulable (withLearningRate)", async () => {
    const W = tf.variable(tf.randomNormal([4, 3], 0, 0.01, "float32", 1));
    const b = tf.variable(tf.zeros([3]));
    const net = (X: tf.Tensor): tf.Tensor => d2l.softmax(X.reshape([-1, 4]).matMul(W).add(b));
    const X = tf.randomNormal([30, 4], 0, 1, "float32", 2);
    const y = tf.tensor1d(
      Array.from({ length: 30 }, (_, i) => i % 3),
      "int32",
    );
    const data = new d2l.DataLoader(new d2l.TensorDataset(X, y), { batchSize: 10 });
    const updater = lr.withLearningRate((n, rate) => d2l.sgd([W, b], rate, n), 0.1);
    const cb = new d2l.LRSchedulerCallback((o) => new lr.MultiStepLR(o, { milestones: [1], gamma: 0.1 }));
    await d2l.trainCh3(net, data, data, d2l.crossEntropy, 2, updater, { animator: false, progress: false, verbose: false, callbacks: [cb] });
    assert.deepEqual(cb.epochLrs, [0.1, 0.010000000000000002]);
    assert.equal(updater.learningRate, 0.010000000000000002); // stepped after epoch 2 too: no milestone there
    tf.dispose([W, b, X, y]);
  });

  test("trainCh6, which makes its own SGD, takes the factory form", async () => {
    const net = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: "relu" }), tf.layers.flatten(), tf.layers.dense({ units: 3 })],
    });
    const X = tf.randomNormal([24, 8, 8, 1], 0, 1, "float32", 4);
    const y = tf.tensor1d(
      Array.from({ length: 24 }, (_, i) => i % 3),
      "int32",
    );
    const data = new d2l.DataLoader(new d2l.TensorDataset(X, y), { batchSize: 8 });
    const cb = new d2l.LRSchedulerCallback((o) => new lr.CosineAnnealingLR(o, { tMax: 3 }), { interval: "batch" });
    const log = console.log;
    console.log = () => {};
    try {
      await d2l.trainCh6(net, data, data, 2, 0.1, undefined, { animator: false, progress: false, verbose: false, callbacks: [cb] });
    } finally {
      console.log = log;
    }
    close(
      cb.batchLrs,
      formula(6, (t) => (0.1 * (1 + Math.cos((Math.PI * t) / 3))) / 2),
      1e-12,
      "trainCh6 per-batch cosine",
    );
    net.dispose();
    tf.dispose([X, y]);
  });

  test("trainCh8 with a from-scratch net (the book's d2l.sgd updater, now carrying its rate) takes the factory form", async () => {
    const vocab = new d2l.Vocab([..."ab"]);
    const V = vocab.length;
    const forward: d2l.ForwardFn = (inputs, state, params) => {
      const [T, b] = inputs.shape as [number, number, number];
      return [tf.matMul(tf.reshape(inputs, [T * b, V]), params[0]), state];
    };
    const net = new d2l.RNNModelScratch(
      V,
      1,
      "cpu",
      () => [tf.variable(tf.zeros([V, V]))],
      (b) => [tf.zeros([b, 1])],
      forward,
    );
    const loader = d2l.SeqDataLoader.fromCorpus(
      Array.from({ length: 100 }, (_, i) => 1 + (i % 2)),
      vocab,
      2,
      4,
      false,
      5,
    );
    const cb = new d2l.LRSchedulerCallback((o) => new lr.StepLR(o, { stepSize: 1, gamma: 0.5 }));
    await d2l.trainCh8(net, loader, vocab, 1, 3, "cpu", false, { animator: false, progress: false, verbose: false, callbacks: [cb] });
    assert.deepEqual(cb.epochLrs, [1, 0.5, 0.25]);
  });

  test("trainCh11 (the book's from-scratch optimizers) takes the factory form", async () => {
    const X = tf.randomNormal([40, 2], 0, 1, "float32", 6);
    const y = X.matMul(tf.tensor2d([[1], [2]])).reshape([40]);
    const data = new d2l.DataLoader(new d2l.TensorDataset(X, y), { batchSize: 10 });
    const hyper = { lr: 0.05 };
    const cb = new d2l.LRSchedulerCallback((o) => new lr.LinearLR(o, { startFactor: 0.25, totalIters: 2 }));
    await d2l.trainCh11(d2l.sgdCh11, null, hyper, data, 2, 3, { animator: false, verbose: false, callbacks: [cb] });
    close(cb.epochLrs, [0.0125, 0.03125, 0.05], 1e-15, "trainCh11 warm-up");
    tf.dispose([X, y]);
  });

  test("d2l.train (house prices, Adam inside) takes the factory form", async () => {
    const net = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [3] })] });
    const X = tf.randomNormal([32, 3], 0, 1, "float32", 5);
    const yy = X.matMul(tf.tensor2d([[10], [-5], [3]])).add(200);
    const cb = new d2l.LRSchedulerCallback((o) => new lr.ExponentialLR(o, { gamma: 0.5 }));
    await d2l.train(net, X, yy, null, null, 3, 5, 0, 8, { callbacks: [cb] });
    assert.deepEqual(cb.epochLrs, [5, 2.5, 1.25]);
    net.dispose();
    tf.dispose([X, yy]);
  });
});
