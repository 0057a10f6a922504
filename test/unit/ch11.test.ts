// Chapter 11 (optimization): train2d/showTrace2d against the book's printed end points, each
// from-scratch optimizer's step against its formula computed here in float64, the airfoil
// loader against the file read here, trainCh11 against the book's loop simulated here, and the
// airfoil losses against the book's code run with PyTorch (test/fixtures/torch/ch11.py).
import { test, describe, before, after, afterEach, mock } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  train2d,
  showTrace2d,
  sgdCh11,
  sgdMomentum,
  initMomentumStates,
  adagrad,
  initAdagradStates,
  rmsprop,
  initRmspropStates,
  adadelta,
  initAdadeltaStates,
  adam,
  yogi,
  initAdamStates,
  trainCh11,
  trainConciseCh11,
  type Grad2d,
  type ScratchPairStates,
} from "../../lib/train/ch11";
import { getDataCh11, DATA_HUB, DATA_URL, loadArray } from "../../lib/data/index";
import type { TrainState } from "../../lib/train/callback";
import * as optim from "../../lib/train/optimizers";
import { StepLR } from "../../lib/train/schedules";
import { LRSchedulerCallback } from "../../lib/train/callbacks/schedules";
import type { AnimatorLike } from "../../lib/train/ui";

const SHARED = path.resolve(__dirname, "../../../../shared/data");
const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/ch11.json");
interface RefRuns {
  final: number[];
  min: number;
  max: number;
  mean: number;
  points: number;
}
const REF = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as { scratch: Record<string, RefRuns>; concise: Record<string, RefRuns> };

const ENV = ["D2L_DATA_DIR", "D2L_QUICK"] as const;
const savedEnv = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));

before(async () => {
  await tf.setBackend("cpu");
  process.env.D2L_DATA_DIR = SHARED;
  delete process.env.D2L_QUICK;
});

after(() => {
  for (const k of ENV) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

afterEach(() => mock.restoreAll());

/** What console.log printed while `f` ran (the book's prints), and its result. */
async function printed<T>(f: () => Promise<T> | T): Promise<{ out: string; value: T }> {
  let out = "";
  mock.method(console, "log", (...args: unknown[]) => {
    out += args.map(String).join(" ") + "\n";
  });
  try {
    const value = await f();
    return { out, value };
  } finally {
    mock.restoreAll();
  }
}

/** An animator that records what it is given. */
function recorder(): AnimatorLike & { points: [number, (number | null)[]][]; finished: boolean } {
  const r = {
    points: [] as [number, (number | null)[]][],
    finished: false,
    add(x: number, ys: (number | null)[]) {
      r.points.push([x, ys]);
    },
    finish() {
      r.finished = true;
    },
  };
  return r;
}

/** The airfoil file read here: all 1503 rows standardized in float64 (numpy's mean and std). */
function airfoilByHand(): number[][] {
  const rows = fs
    .readFileSync(path.join(SHARED, "airfoil_self_noise.dat"), "utf8")
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "")
    .map((l) => l.split("\t").map(Number));
  const n = rows.length;
  const mean = rows[0].map((_, j) => rows.reduce((a, r) => a + r[j], 0) / n);
  const sd = rows[0].map((_, j) => Math.sqrt(rows.reduce((a, r) => a + (r[j] - mean[j]) ** 2, 0) / n));
  return rows.map((r) => r.map((v, j) => (v - mean[j]) / sd[j]));
}

describe("train2d and showTrace2d (sections 11.3-11.4)", () => {
  const f2dGrad: Grad2d = (x1, x2) => [2 * x1, 4 * x2];

  test("the book's 2-D traces end where the book prints", async () => {
    // Each trainer as the book writes it; the printed lines are the book's (zh.d2l.ai, sections 11.3, 11.6-11.8).
    let eta = 0.1;
    let beta = 0.5;
    const gd2d = (x1: number, x2: number, _s1: number, _s2: number, fGrad: Grad2d): [number, number, number, number] => {
      const [g1, g2] = fGrad(x1, x2);
      return [x1 - eta * g1, x2 - eta * g2, 0, 0];
    };
    const gdIll = (x1: number, x2: number): [number, number, number, number] => [x1 - eta * 0.2 * x1, x2 - eta * 4 * x2, 0, 0];
    const momentum2d = (x1: number, x2: number, v1: number, v2: number): [number, number, number, number] => {
      v1 = beta * v1 + 0.2 * x1;
      v2 = beta * v2 + 4 * x2;
      return [x1 - eta * v1, x2 - eta * v2, v1, v2];
    };
    const adagrad2d = (x1: number, x2: number, s1: number, s2: number): [number, number, number, number] => {
      const [g1, g2] = [0.2 * x1, 4 * x2];
      s1 += g1 ** 2;
      s2 += g2 ** 2;
      return [x1 - (eta / Math.sqrt(s1 + 1e-6)) * g1, x2 - (eta / Math.sqrt(s2 + 1e-6)) * g2, s1, s2];
    };
    let gamma = 0.9;
    const rmsprop2d = (x1: number, x2: number, s1: number, s2: number): [number, number, number, number] => {
      const [g1, g2] = [0.2 * x1, 4 * x2];
      s1 = gamma * s1 + (1 - gamma) * g1 ** 2;
      s2 = gamma * s2 + (1 - gamma) * g2 ** 2;
      return [x1 - (eta / Math.sqrt(s1 + 1e-6)) * g1, x2 - (eta / Math.sqrt(s2 + 1e-6)) * g2, s1, s2];
    };
    const cases: [() => void, () => [number, number][], string][] = [
      [() => (eta = 0.1), () => train2d(gd2d, 20, f2dGrad), "epoch 20, x1: -0.057646, x2: -0.000073"],
      [() => (eta = 0.4), () => train2d(gdIll), "epoch 20, x1: -0.943467, x2: -0.000073"],
      [() => (eta = 0.6), () => train2d(gdIll), "epoch 20, x1: -0.387814, x2: -1673.365109"],
      [() => ([eta, beta] = [0.6, 0.5]), () => train2d(momentum2d), "epoch 20, x1: 0.007188, x2: 0.002553"],
      [() => ([eta, beta] = [0.6, 0.25]), () => train2d(momentum2d), "epoch 20, x1: -0.126340, x2: -0.186632"],
      [() => (eta = 0.4), () => train2d(adagrad2d), "epoch 20, x1: -2.382563, x2: -0.158591"],
      [() => (eta = 2), () => train2d(adagrad2d), "epoch 20, x1: -0.002295, x2: -0.000000"],
      [() => ([eta, gamma] = [0.4, 0.9]), () => train2d(rmsprop2d), "epoch 20, x1: -0.010599, x2: 0.000000"],
    ];
    for (const [set, run, want] of cases) {
      set();
      const { out, value } = await printed(run);
      assert.equal(out, want + "\n");
      assert.equal(value.length, 21, "the path holds the start and 20 steps");
      assert.deepEqual(value[0], [-5, -2]);
    }
    const { value } = await printed(() => train2d(gd2d, 50, f2dGrad));
    assert.equal(value.length, 51);
  });

  test("train2d rejects what is not a trainer", () => {
    assert.throws(() => train2d(null as never), /trainer must be a function/);
    assert.throws(() => train2d(() => [0, 0, 0, 0], 0), /steps must be a positive integer/);
    assert.throws(() => train2d((() => [1, 2]) as never, 3), /must return \[x1, x2, s1, s2\]/);
  });

  test("showTrace2d draws the path over contours of f at matplotlib's levels", () => {
    const f2d = (x1: number, x2: number): number => x1 ** 2 + 2 * x2 ** 2;
    const path2d: [number, number][] = [
      [-5, -2],
      [-4, -1.2],
      [-3.2, -0.72],
    ];
    const fig = showTrace2d(f2d, path2d);
    const spec = fig.spec as { data: { values: { s: string; c: number; i: number; x: number; y: number }[] }; layer: unknown[] };
    const trace = spec.data.values.filter((v) => v.s === "trace").sort((a, b) => a.i - b.i);
    assert.deepEqual(
      trace.map((v) => [v.x, v.y]),
      path2d,
    );
    // f ranges over [0, 48.25] on the book's grid: MaxNLocator(8) steps by 10.
    const levels = [...new Set(spec.data.values.filter((v) => v.s !== "trace").map((v) => v.s))];
    assert.deepEqual(levels, ["f = 10", "f = 20", "f = 30", "f = 40"]);
    for (const v of spec.data.values) {
      if (v.s === "trace") continue;
      const level = Number(v.s.slice(4));
      assert.ok(Math.abs(f2d(v.x, v.y) - level) < 0.02 * level, `(${v.x}, ${v.y}) is on the contour f = ${level}`);
    }
    assert.equal(spec.layer.length, 2);
    assert.match(fig.text, /trace of 3 points from \(-5, -2\) to \(-3\.2, -0\.72\)/);
    assert.throws(() => showTrace2d(f2d, [[1, 2, 3]] as never), /results must be the path/);
  });
});

describe("the from-scratch optimizers, one step against their formulas", () => {
  // Two parameters, a [2, 1] weight and a [1] bias, with fixed gradients; expected values in float64.
  const w0 = [0.5, -1.5];
  const b0 = [0.25];
  const gw = [
    [0.3, -0.8],
    [-0.1, 0.4],
  ]; // gradients of w at steps 1 and 2
  const gb = [[1.2], [0.7]];
  const tol = 1e-6;

  function setup(): { params: tf.Variable[]; grads: (step: number) => tf.Tensor[] } {
    const params = [tf.variable(tf.tensor2d(w0, [2, 1])), tf.variable(tf.tensor1d(b0))];
    const grads = (step: number): tf.Tensor[] => [tf.tensor2d(gw[step], [2, 1]), tf.tensor1d(gb[step])];
    return { params, grads };
  }

  /** Run `steps` steps of `step` and compare the parameters with `expect` (one function per coordinate's scalar recursion). */
  function check(name: string, steps: number, run: (params: tf.Variable[], grads: tf.Tensor[]) => void, expected: (p0: number, gs: number[]) => number): void {
    const { params, grads } = setup();
    for (let k = 0; k < steps; k++) {
      const g = grads(k);
      run(params, g);
      tf.dispose(g);
    }
    const got = [...params[0].dataSync(), ...params[1].dataSync()];
    const want = [
      ...w0.map((p, j) =>
        expected(
          p,
          gw.slice(0, steps).map((g) => g[j]),
        ),
      ),
      expected(
        b0[0],
        gb.slice(0, steps).map((g) => g[0]),
      ),
    ];
    got.forEach((v, j) => assert.ok(Math.abs(v - want[j]) < tol, `${name}: coordinate ${j} is ${v}, the formula gives ${want[j]}`));
    tf.dispose(params);
  }

  test("sgdCh11: p -= lr g", () => {
    check(
      "sgd",
      2,
      (p, g) => sgdCh11(p, null, { lr: 0.1 }, g),
      (p, gs) => gs.reduce((x, g) => x - 0.1 * g, p),
    );
  });

  test("sgdMomentum: v = m v + g; p -= lr v", () => {
    const states = initMomentumStates(2);
    check(
      "momentum",
      2,
      (p, g) => sgdMomentum(p, states, { lr: 0.1, momentum: 0.9 }, g),
      (p, gs) => {
        let v = 0;
        for (const g of gs) {
          v = 0.9 * v + g;
          p -= 0.1 * v;
        }
        return p;
      },
    );
    tf.dispose(states);
  });

  test("adagrad: s += g²; p -= lr g / sqrt(s + 1e-6)", () => {
    const states = initAdagradStates(2);
    check(
      "adagrad",
      2,
      (p, g) => adagrad(p, states, { lr: 0.1 }, g),
      (p, gs) => {
        let s = 0;
        for (const g of gs) {
          s += g * g;
          p -= (0.1 * g) / Math.sqrt(s + 1e-6);
        }
        return p;
      },
    );
    tf.dispose(states);
  });

  test("rmsprop: s = γ s + (1 - γ) g²; p -= lr g / sqrt(s + 1e-6)", () => {
    const states = initRmspropStates(2);
    check(
      "rmsprop",
      2,
      (p, g) => rmsprop(p, states, { lr: 0.01, gamma: 0.9 }, g),
      (p, gs) => {
        let s = 0;
        for (const g of gs) {
          s = 0.9 * s + 0.1 * g * g;
          p -= (0.01 * g) / Math.sqrt(s + 1e-6);
        }
        return p;
      },
    );
    tf.dispose(states);
  });

  test("adadelta: s, g' = sqrt(Δ + 1e-5) / sqrt(s + 1e-5) g, p -= g', Δ = ρ Δ + (1 - ρ) g'²", () => {
    const states = initAdadeltaStates(2);
    check(
      "adadelta",
      2,
      (p, g) => adadelta(p, states, { rho: 0.9 }, g),
      (p, gs) => {
        let s = 0;
        let delta = 0;
        for (const g of gs) {
          s = 0.9 * s + 0.1 * g * g;
          const gp = (Math.sqrt(delta + 1e-5) / Math.sqrt(s + 1e-5)) * g;
          p -= gp;
          delta = 0.9 * delta + 0.1 * gp * gp;
        }
        return p;
      },
    );
    tf.dispose(states.flat());
  });

  test("adam: bias-corrected moments, eps 1e-6, t counted up in hyperparams", () => {
    const states = initAdamStates(2);
    const hp = { lr: 0.01, t: 1 };
    check(
      "adam",
      2,
      (p, g) => adam(p, states, hp, g),
      (p, gs) => {
        let v = 0;
        let s = 0;
        gs.forEach((g, k) => {
          const t = k + 1;
          v = 0.9 * v + 0.1 * g;
          s = 0.999 * s + 0.001 * g * g;
          p -= (0.01 * (v / (1 - 0.9 ** t))) / (Math.sqrt(s / (1 - 0.999 ** t)) + 1e-6);
        });
        return p;
      },
    );
    assert.equal(hp.t, 3, "t counts the steps");
    tf.dispose(states.flat());
  });

  test("yogi: s += (1 - β2) sign(g² - s) g², eps 1e-3", () => {
    const states: ScratchPairStates = initAdamStates(2);
    const hp = { lr: 0.01, t: 1 };
    check(
      "yogi",
      2,
      (p, g) => yogi(p, states, hp, g),
      (p, gs) => {
        let v = 0;
        let s = 0;
        gs.forEach((g, k) => {
          const t = k + 1;
          v = 0.9 * v + 0.1 * g;
          s = s + 0.001 * Math.sign(g * g - s) * g * g;
          p -= (0.01 * (v / (1 - 0.9 ** t))) / (Math.sqrt(s / (1 - 0.999 ** t)) + 1e-3);
        });
        return p;
      },
    );
    assert.equal(hp.t, 3);
    tf.dispose(states.flat());
  });

  test("the optimizers leak no tensors and say what they expected", () => {
    const { params, grads } = setup();
    const states = initAdamStates(2);
    const g = grads(0);
    const before = tf.memory().numTensors;
    adam(params, states, { lr: 0.01, t: 1 }, g);
    sgdCh11(params, null, { lr: 0.1 }, g);
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => sgdCh11(params, null, {} as never, g), /hyperparams\.lr must be a number/);
    assert.throws(() => sgdMomentum(params, [states[0][0]], { lr: 0.1, momentum: 0.9 }, g), /one entry per parameter/);
    assert.throws(() => sgdCh11(params, null, { lr: 0.1 }, [g[0]]), /one gradient tensor per parameter/);
    assert.throws(() => adam(params, states, { lr: 0.1, t: 0 }, g), /t counts the steps from 1/);
    assert.throws(() => initMomentumStates(0), /featureDim must be a positive integer/);
    tf.dispose([...params, ...g, ...states.flat()]);
  });
});

describe("getDataCh11 (the airfoil data, section 11.5)", () => {
  test("DATA_HUB has the book's entry", () => {
    assert.deepEqual(DATA_HUB.airfoil, [DATA_URL + "airfoil_self_noise.dat", "76e5be1548fd8222e5074cf0faae75edff8cf93f"]);
  });

  test("the first 1500 rows, every column standardized over all 1503 rows, shuffled in batches", async () => {
    assert.ok(fs.existsSync(path.join(SHARED, "airfoil_self_noise.dat")), `expected the offline data at ${SHARED}`);
    const byHand = airfoilByHand();
    assert.equal(byHand.length, 1503);
    const [dataIter, featureDim] = await getDataCh11(1500, 1500, { seed: 3 });
    assert.equal(featureDim, 5);
    assert.equal(dataIter.numBatches, 1);
    const batches: [tf.Tensor, tf.Tensor][] = [];
    for await (const batch of dataIter) batches.push(batch);
    const [X, y] = batches[0];
    assert.deepEqual(X.shape, [1500, 5]);
    assert.deepEqual(y.shape, [1500]);
    // The loader shuffles: match rows by content. Sort both by the label then by every feature.
    const got = Array.from({ length: 1500 }, (_, i) => [...X.dataSync().slice(i * 5, i * 5 + 5), y.dataSync()[i]]);
    const want = byHand.slice(0, 1500);
    const order = (a: number[], b: number[]): number => {
      for (let j = 5; j >= 0; j--) if (Math.abs(a[j] - b[j]) > 1e-5) return a[j] - b[j];
      return 0;
    };
    got.sort(order);
    want.sort(order);
    let maxErr = 0;
    got.forEach((r, i) => r.forEach((v, j) => (maxErr = Math.max(maxErr, Math.abs(v - want[i][j])))));
    assert.ok(maxErr < 1e-5, `standardized values within 1e-5 of numpy's formula (max error ${maxErr})`);
    tf.dispose([X, y]);
    dataIter.dispose();

    const [small] = await getDataCh11(10);
    assert.equal(small.numBatches, 150);
    assert.equal(small.numExamples, 1500);
    small.dispose();
    await assert.rejects(getDataCh11(10, 2000), /has 1503 rows; pass n <= 1503/);
    await assert.rejects(getDataCh11(0), /batchSize must be a positive integer/);
  });
});

describe("trainCh11 and trainConciseCh11", () => {
  /** The airfoil data in order (no shuffle), as tensors and as float64 rows. */
  function inOrder(batchSize: number): { iter: ReturnType<typeof loadArray>; X: tf.Tensor2D; y: tf.Tensor1D; rows: number[][] } {
    const rows = airfoilByHand().slice(0, 1500);
    const X = tf.tensor2d(rows.map((r) => r.slice(0, 5)));
    const y = tf.tensor1d(rows.map((r) => r[5]));
    return { iter: loadArray([X, y], batchSize, false), X, y, rows };
  }

  /** The book's train_ch11 loop with sgd, simulated in float64 on rows in order: the loss on all rows every 200 examples. */
  function bookLoop(rows: number[][], w0: number[], lr: number, batchSize: number, numEpochs: number): { xs: number[]; losses: number[] } {
    const w = [...w0];
    let b = 0;
    const pred = (r: number[]): number => r.slice(0, 5).reduce((a, v, j) => a + v * w[j], b);
    const fullLoss = (): number => rows.reduce((a, r) => a + (pred(r) - r[5]) ** 2 / 2, 0) / rows.length;
    const numBatches = Math.ceil(rows.length / batchSize);
    const xs: number[] = [];
    const losses: number[] = [];
    let n = 0;
    for (let e = 0; e < numEpochs; e++) {
      for (let s = 0; s < rows.length; s += batchSize) {
        const batch = rows.slice(s, s + batchSize);
        const gw = [0, 0, 0, 0, 0];
        let gb = 0;
        for (const r of batch) {
          const err = pred(r) - r[5];
          r.slice(0, 5).forEach((v, j) => (gw[j] += (err * v) / batch.length));
          gb += err / batch.length;
        }
        gw.forEach((g, j) => (w[j] -= lr * g));
        b -= lr * gb;
        n += batch.length;
        if (n % 200 === 0) {
          xs.push(n / batch.length / numBatches);
          losses.push(fullLoss());
        }
      }
    }
    return { xs, losses };
  }

  test("trainCh11 with sgdCh11 follows the book's loop: the same losses at the same x every 200 examples", async () => {
    const { iter, X, y, rows } = inOrder(100);
    const seed = 7;
    const w0 = Array.from(tf.tidy(() => tf.randomNormal([5, 1], 0, 0.01, "float32", seed)).dataSync());
    const want = bookLoop(rows, w0, 0.4, 100, 2);
    const animator = recorder();
    const before = tf.memory().numTensors;
    const { out, value } = await printed(() => trainCh11(sgdCh11, null, { lr: 0.4 }, iter, 5, 2, { animator, seed }));
    assert.equal(tf.memory().numTensors, before, "no tensor left behind");
    const [times, losses] = value;
    assert.equal(losses.length, 15, "1500 examples, 2 epochs: a point every 200");
    assert.equal(times.length, 15);
    assert.ok(
      times.every((t, i) => t >= 0 && (i === 0 || t >= times[i - 1])),
      "cumulative times",
    );
    assert.deepEqual(
      animator.points.map(([x]) => x),
      want.xs,
    );
    losses.forEach((l, i) => assert.ok(Math.abs(l - want.losses[i]) < 1e-5, `point ${i}: ${l} against the book's loop ${want.losses[i]}`));
    assert.deepEqual(
      animator.points.map(([, ys]) => ys[0]),
      losses,
    );
    assert.ok(animator.finished);
    assert.match(out, /^loss 0\.\d{3}, \d+\.\d{3} sec\/epoch\n$/);
    assert.equal(out.slice(5, 10), losses[14].toFixed(3));
    tf.dispose([X, y]);
  });

  test("trainConciseCh11 (MSE without ½, lr 0.01) follows trainCh11 with sgdCh11 at lr 0.02, and plots half the MSE", async () => {
    const { iter, X, y } = inOrder(10);
    const [, scratch] = (await printed(() => trainCh11(sgdCh11, null, { lr: 0.02 }, iter, 5, 1, { animator: false, seed: 5 }))).value;
    const before = tf.memory().numTensors;
    const [, concise] = (await printed(() => trainConciseCh11((h: { lr: number }) => tf.train.sgd(h.lr), { lr: 0.01 }, iter, 1, { animator: false, seed: 5 }))).value;
    assert.equal(tf.memory().numTensors, before, "no tensor left behind");
    assert.equal(concise.length, scratch.length);
    concise.forEach((l, i) => assert.ok(Math.abs(l - scratch[i]) < 1e-5, `point ${i}: concise ${l}, scratch ${scratch[i]}`));
    tf.dispose([X, y]);
  });

  test("trainConciseCh11 takes an optimizer class as well as a factory", async () => {
    class HalfStepSGD extends tf.SGDOptimizer {
      constructor(h: { lr: number }) {
        super(h.lr / 2);
      }
    }
    const { iter, X, y } = inOrder(100);
    const [, byClass] = (await printed(() => trainConciseCh11(HalfStepSGD, { lr: 0.2 }, iter, 1, { animator: false, seed: 1, verbose: false }))).value;
    const [, byFactory] = (await printed(() => trainConciseCh11((h: { lr: number }) => tf.train.sgd(h.lr), { lr: 0.1 }, iter, 1, { animator: false, seed: 1, verbose: false })))
      .value;
    byClass.forEach((l, i) => assert.ok(Math.abs(l - byFactory[i]) < 1e-6));
    // d2l.optim's classes, as the chapter's notebooks pass them (torch's SGD is plain SGD without momentum)
    const [, byOptim] = (await printed(() => trainConciseCh11(optim.SGD, { lr: 0.1 }, iter, 1, { animator: false, seed: 1, verbose: false }))).value;
    byOptim.forEach((l, i) => assert.ok(Math.abs(l - byFactory[i]) < 1e-6, `point ${i}: d2l.optim.SGD ${l}, tf.train.sgd ${byFactory[i]}`));
    await assert.rejects(trainConciseCh11((() => 42) as never, {}, iter), /must make a tf\.Optimizer/);
    tf.dispose([X, y]);
  });

  test("the airfoil losses land where the book's code run with PyTorch lands (10 seeds each)", async () => {
    // Settings of section 11.5 (gd, minibatch 100 and 10), 11.7 (Adagrad) and 11.10 (Adam), and the
    // concise SGD of 11.5. The PyTorch range over 10 seeds, widened by 0.003 on each side.
    const cases: [string, RefRuns, () => Promise<[number[], number[]]>][] = [];
    const data = async (batch: number, seed: number) => (await getDataCh11(batch, 1500, { seed }))[0];
    for (const seed of [1, 2]) {
      cases.push(["gd", REF.scratch.gd, async () => trainCh11(sgdCh11, null, { lr: 1 }, await data(1500, seed), 5, 10, { animator: false, seed })]);
      cases.push(["minibatch100", REF.scratch.minibatch100, async () => trainCh11(sgdCh11, null, { lr: 0.4 }, await data(100, seed), 5, 2, { animator: false, seed })]);
      cases.push(["minibatch10", REF.scratch.minibatch10, async () => trainCh11(sgdCh11, null, { lr: 0.05 }, await data(10, seed), 5, 2, { animator: false, seed })]);
      cases.push(["adagrad", REF.scratch.adagrad, async () => trainCh11(adagrad, initAdagradStates(5), { lr: 0.1 }, await data(10, seed), 5, 2, { animator: false, seed })]);
      cases.push(["adam", REF.scratch.adam, async () => trainCh11(adam, initAdamStates(5), { lr: 0.01, t: 1 }, await data(10, seed), 5, 2, { animator: false, seed })]);
      cases.push([
        "concise sgd",
        REF.concise.sgd,
        async () => trainConciseCh11((h: { lr: number }) => tf.train.sgd(h.lr), { lr: 0.01 }, await data(10, seed), 4, { animator: false, seed }),
      ]);
    }
    for (const [name, ref, run] of cases) {
      const [, losses] = (await printed(run)).value;
      assert.equal(losses.length, ref.points, `${name}: points plotted`);
      const last = losses[losses.length - 1];
      assert.ok(last > ref.min - 0.003 && last < ref.max + 0.003, `${name}: final loss ${last}, PyTorch ${ref.min}..${ref.max}`);
    }
  });

  test("a callback drives hyperparams.lr through state.updater (what a learning-rate schedule does)", async () => {
    const { iter, X, y } = inOrder(100);
    const hp = { lr: 0.4 };
    const seen: number[] = [];
    const zeroInEpoch2 = {
      onEpochBegin(s: TrainState) {
        const opt = s.updater as tf.Optimizer & { learningRate: number; setLearningRate(lr: number): void };
        seen.push(opt.learningRate);
        if (s.epoch === 1) opt.setLearningRate(0);
      },
    };
    const [, losses] = (await printed(() => trainCh11(sgdCh11, null, hp, iter, 5, 2, { animator: false, seed: 2, callbacks: [zeroInEpoch2] }))).value;
    assert.deepEqual(seen, [0.4, 0.4]);
    assert.equal(hp.lr, 0);
    const epoch2 = losses.slice(8); // points after 1600 examples: the weights no longer move
    assert.ok(
      epoch2.every((l) => l === epoch2[0]),
      `lr 0 in epoch 2 keeps the loss: ${epoch2}`,
    );
    const noLr = {
      onEpochBegin(s: TrainState) {
        (s.updater as tf.Optimizer & { setLearningRate(lr: number): void }).setLearningRate(0.1);
      },
    };
    await assert.rejects(
      printed(() => trainCh11(adadelta, initAdadeltaStates(5), { rho: 0.9 }, iter, 5, 1, { animator: false, callbacks: [noLr] })),
      /have no lr, so a learning-rate schedule has nothing to change/,
    );
    tf.dispose([X, y]);
  });

  test("d2l's LRSchedulerCallback rides on both trainers (StepLR halving the rate every epoch)", async () => {
    const { iter, X, y } = inOrder(100);
    const hp = { lr: 0.4 };
    const scratchCb = new LRSchedulerCallback((opt) => new StepLR(opt, { stepSize: 1, gamma: 0.5 }));
    await printed(() => trainCh11(sgdCh11, null, hp, iter, 5, 3, { animator: false, verbose: false, callbacks: [scratchCb] }));
    assert.deepEqual(scratchCb.epochLrs, [0.4, 0.2, 0.1]);
    assert.equal(hp.lr, 0.05, "the book's hyperparams.lr is what the schedule set");
    const conciseCb = new LRSchedulerCallback((opt) => new StepLR(opt, { stepSize: 1, gamma: 0.5 }));
    await printed(() => trainConciseCh11(optim.SGD, { lr: 0.01 }, iter, 3, { animator: false, verbose: false, callbacks: [conciseCb] }));
    assert.deepEqual(conciseCb.epochLrs, [0.01, 0.005, 0.0025]);
    tf.dispose([X, y]);
  });

  test("quick mode trains at most QUICK_EPOCHS.trainCh11 epochs, and says so", async () => {
    const { iter, X, y } = inOrder(1500);
    process.env.D2L_QUICK = "1";
    let epochs = 0;
    let said = "";
    mock.method(process.stderr, "write", (chunk: string | Uint8Array) => {
      said += String(chunk);
      return true;
    });
    try {
      await printed(() => trainCh11(sgdCh11, null, { lr: 1 }, iter, 5, 12, { animator: false, callbacks: [{ onEpochEnd: () => void epochs++ }] }));
    } finally {
      delete process.env.D2L_QUICK;
      mock.restoreAll();
    }
    assert.equal(epochs, 10);
    assert.match(said, /D2L_QUICK=1: trainCh11 trains 10 of the 12 epochs asked for\./);
    tf.dispose([X, y]);
  });

  test("bad arguments get messages that say what to pass", async () => {
    const { iter, X, y } = inOrder(100);
    await assert.rejects(trainCh11(sgdCh11, null, { lr: 0.1 }, iter, 4), /featureDim is 4 but the data's X has shape \[1500,5\]/);
    await assert.rejects(trainCh11(sgdCh11, null, { lr: 0.1 }, iter, 5, 0), /numEpochs must be a positive integer/);
    await assert.rejects(trainCh11(42 as never, null, { lr: 0.1 }, iter, 5), /trainerFn must be a from-scratch optimizer/);
    await assert.rejects(trainCh11(sgdCh11, null, { lr: 0.1 }, {} as never, 5), /async iterable/);
    tf.dispose([X, y]);
  });
});
