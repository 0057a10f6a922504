/**
 * d2l.compileStep (issue 21, per-op overhead): a replayed step gives the eager
 * step's losses and weights (the reference: `optimizer.minimize` on the same
 * seeds), on cpu and native, with tfjs' and d2l.optim's optimizers; it binds
 * each call's arguments, compiles each argument shape once, traces again when
 * the learning rate changes, refuses (and stays eager and correct) where a
 * replay would be wrong (dropout, values read back, an optimizer it does not
 * know), leaks no tensor, and leaves tfjs' engine as it found it after an error.
 *
 * With D2L_REQUIRE_NATIVE=1 (CI) a native backend that does not load fails the test.
 */
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../lib/backend";
import { compileStep } from "../../lib/train/compile";
import { SGD as TorchSGD } from "../../lib/train/optimizers";
import { seed } from "../../lib/seed";
import { EncoderBlock } from "../../lib/nn/transformer";
import { dropout, RANDOM_UNIFORM_KERNEL } from "../../lib/nn/dropout";
import { Engine, GradClippingCallback } from "../../lib/train/index";
import { DataLoader, TensorDataset } from "../../lib/data/index";
import { relativeError } from "./native-helpers";

const REQUIRE_NATIVE = process.env.D2L_REQUIRE_NATIVE === "1";

interface Setup {
  net: tf.LayersModel;
  opt: tf.Optimizer;
  batches: [tf.Tensor, tf.Tensor][];
  lossFn: (X: tf.Tensor, y: tf.Tensor) => tf.Scalar;
}

type Build = () => Setup;

/** Three batches of `n` random examples (784 features, 10 classes), made after seeding. */
function batches(n: number, count = 3): [tf.Tensor, tf.Tensor][] {
  return Array.from({ length: count }, (_, i) => {
    const X = tf.randomNormal([n, 784], 0, 1, "float32", 100 + i);
    const y = tf.oneHot(tf.randomUniform([n], 0, 10, "int32", 200 + i), 10).toFloat();
    return [X, y] as [tf.Tensor, tf.Tensor];
  });
}

function model(hidden: number[], dropout = 0): tf.LayersModel {
  const layers: tf.layers.Layer[] = [];
  hidden.forEach((units, i) => {
    layers.push(tf.layers.dense({ units, activation: "relu", ...(i === 0 ? { inputShape: [784] } : {}) }));
    if (dropout > 0) layers.push(tf.layers.dropout({ rate: dropout }));
  });
  layers.push(tf.layers.dense({ units: 10, ...(hidden.length === 0 ? { inputShape: [784] } : {}) }));
  return tf.sequential({ layers });
}

const xent = (net: tf.LayersModel) => (X: tf.Tensor, y: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, net.apply(X, { training: true }) as tf.Tensor) as tf.Scalar;

const CASES: Record<string, Build> = {
  "softmax regression, tf.train.sgd": () => {
    const net = model([]);
    return { net, opt: tf.train.sgd(0.1), batches: batches(64), lossFn: xent(net) };
  },
  "MLP, tf.train.adam (its moments are made on the first step)": () => {
    const net = model([32]);
    return { net, opt: tf.train.adam(0.01), batches: batches(64), lossFn: xent(net) };
  },
  "MLP, d2l.optim.SGD with momentum and weight decay": () => {
    const net = model([32, 16]);
    return { net, opt: new TorchSGD({ lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }), batches: batches(32), lossFn: xent(net) };
  },
};

/** Train `steps` steps cycling through the batches; the losses, the weights, and the step's last state. */
function train(build: Build, compiled: boolean, steps: number, between?: (i: number, s: Setup) => void) {
  seed(0);
  const s = build();
  const step = compiled ? compileStep(s.lossFn, s.opt) : null;
  const losses: number[] = [];
  const flags: boolean[] = [];
  for (let i = 0; i < steps; i++) {
    between?.(i, s);
    const [X, y] = s.batches[i % s.batches.length];
    const l = step ? step(X, y) : (s.opt.minimize(() => s.lossFn(X, y), true) as tf.Scalar);
    losses.push(l.dataSync()[0]); // sync-read-ok: a test on cpu and native
    l.dispose();
    flags.push(step ? step.compiled : false);
  }
  const weights = s.net.getWeights().map((w) => Array.from(w.dataSync())); // sync-read-ok: a test on cpu and native
  const result = { losses, weights, flags, reason: step ? step.reason : "", kernels: step ? step.kernels : 0, opt: s.opt };
  step?.dispose();
  s.net.dispose();
  for (const [X, y] of s.batches) tf.dispose([X, y]);
  s.opt.dispose();
  return result;
}

function assertSame(got: ReturnType<typeof train>, want: ReturnType<typeof train>, what: string) {
  assert.ok(relativeError(got.losses, want.losses) <= 1e-6, `${what}: losses ${got.losses} against eager ${want.losses}`);
  got.weights.forEach((w, i) => assert.ok(relativeError(w, want.weights[i]) <= 1e-5, `${what}: weight ${i} differs from eager by ${relativeError(w, want.weights[i])}`));
}

for (const backend of ["cpu", "native"]) {
  describe(`d2l.compileStep on ${backend}`, () => {
    let loadError = "";
    before(async () => {
      try {
        await useBackend(backend as "cpu" | "native");
      } catch (e) {
        loadError = e instanceof Error ? e.message : String(e);
      }
    });
    const ready = (t: { skip(m: string): void }) => {
      if (!loadError) return true;
      if (REQUIRE_NATIVE) assert.fail(`the native backend did not load: ${loadError}`);
      t.skip(`native backend unavailable: ${loadError}`);
      return false;
    };

    for (const [name, build] of Object.entries(CASES)) {
      it(`${name}: replayed steps give the eager losses and weights`, (t) => {
        if (!ready(t)) return;
        const eager = train(build, false, 12);
        const compiled = train(build, true, 12);
        assertSame(compiled, eager, name);
        assert.equal(compiled.flags.at(-1), true, `the step should replay by step 12; reason: ${compiled.reason}`);
        assert.ok(compiled.flags.filter(Boolean).length >= 8, `only ${compiled.flags.filter(Boolean).length} of 12 steps replayed`);
        assert.ok(compiled.kernels > 10, `a replay of ${compiled.kernels} kernels`);
        assert.equal(compiled.opt.iterations, eager.opt.iterations, "the optimizer counts replayed steps");
      });
    }

    it("a convolution with tfjs' batch normalization layer replays (no value is read back): the eager losses and weights", (t) => {
      if (!ready(t)) return;
      const build: Build = () => {
        const net = tf.sequential({
          layers: [
            tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: "same" }),
            tf.layers.batchNormalization({ epsilon: 1e-5 }),
            tf.layers.reLU(),
            tf.layers.globalAveragePooling2d({}),
            tf.layers.dense({ units: 10 }),
          ],
        });
        const b = Array.from({ length: 3 }, (_, i) => {
          const X = tf.randomNormal([16, 8, 8, 1], 0, 1, "float32", 300 + i);
          const y = tf.oneHot(tf.randomUniform([16], 0, 10, "int32", 400 + i), 10).toFloat();
          return [X, y] as [tf.Tensor, tf.Tensor];
        });
        return { net, opt: tf.train.sgd(0.05), batches: b, lossFn: xent(net) };
      };
      const eager = train(build, false, 8);
      const compiled = train(build, true, 8);
      assertSame(compiled, eager, "conv + batch norm");
      assert.equal(compiled.flags.at(-1), true, `the step should replay; reason: ${compiled.reason}`);
    });

    it("a smaller last batch compiles its own program; the learning rate changed by a scheduler is used", (t) => {
      if (!ready(t)) return;
      const build: Build = () => {
        const net = model([16]);
        const b = batches(48);
        b.push([tf.randomNormal([20, 784], 0, 1, "float32", 7), tf.oneHot(tf.randomUniform([20], 0, 10, "int32", 8), 10).toFloat()]);
        return { net, opt: new TorchSGD({ lr: 0.1 }), batches: b, lossFn: xent(net) };
      };
      const schedule = (i: number, s: Setup) => {
        if (i === 10) (s.opt as TorchSGD).learningRate = 0.02;
      };
      const eager = train(build, false, 24, schedule);
      const compiled = train(build, true, 24, schedule);
      assertSame(compiled, eager, "two shapes and a new learning rate");
      assert.equal(compiled.flags.at(-1), true, compiled.reason);
    });

    it("dropout's random masks: the step stays eager, says why, and gives the eager results", (t) => {
      if (!ready(t)) return;
      const build: Build = () => {
        const net = model([32], 0.5);
        return { net, opt: tf.train.sgd(0.1), batches: batches(32), lossFn: xent(net) };
      };
      const eager = train(build, false, 8);
      const compiled = train(build, true, 8);
      assertSame(compiled, eager, "dropout");
      assert.deepEqual(compiled.flags, new Array(8).fill(false));
      assert.match(compiled.reason, /did not agree.*random/);
    });

    it("d2l.dropout gives tf.dropout's numbers under d2l.seed, and a Transformer block with it replays with new masks each step", (t) => {
      if (!ready(t)) return;
      const X = tf.randomNormal([6, 40], 0, 1, "float32", 1);
      seed(5);
      const a = tf.dropout(X, 0.3);
      seed(5);
      const b = dropout(X, 0.3);
      assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync())); // sync-read-ok: a test on cpu and native
      tf.dispose([X, a, b]);

      // The book's 10.7 encoder block (hidden 32, 4 heads, FFN 64, dropout 0.1) and a dense head, on random tokens.
      const run = (compiled: boolean) => {
        seed(0);
        const block = new EncoderBlock(32, 32, 32, 32, [32], 32, 64, 4, 0.1);
        block.train();
        const head = tf.layers.dense({ units: 10 });
        const data = [0, 1].map((i) => [tf.randomNormal([8, 10, 32], 0, 1, "float32", 10 + i), tf.oneHot(tf.randomUniform([8, 10], 0, 10, "int32", 20 + i), 10).toFloat()]);
        const opt = tf.train.sgd(0.1);
        const lossFn = (Xb: tf.Tensor, yb: tf.Tensor) => tf.losses.softmaxCrossEntropy(yb, head.apply(block.forward(Xb, null)) as tf.Tensor) as tf.Scalar;
        const step = compiled ? compileStep(lossFn, opt) : null;
        const losses: number[] = [];
        const flags: boolean[] = [];
        for (let i = 0; i < 10; i++) {
          const [Xb, yb] = data[i % 2];
          const l = step ? step(Xb, yb) : (opt.minimize(() => lossFn(Xb, yb), true) as tf.Scalar);
          losses.push(l.dataSync()[0]); // sync-read-ok: a test on cpu and native
          l.dispose();
          flags.push(step ? step.compiled : false);
        }
        // Eager draws new masks every step: a replay that froze its masks would drift from eager's losses.
        const weights = [...block.trainableWeights.map((w) => w.read()), ...head.getWeights()].map((w) => Array.from(w.dataSync())); // sync-read-ok: a test
        step?.dispose();
        block.dispose();
        head.dispose();
        opt.dispose();
        for (const d of data) tf.dispose(d);
        return { losses, flags, weights, reason: step ? step.reason : "" };
      };
      const eager = run(false);
      const compiled = run(true);
      assert.ok(relativeError(compiled.losses, eager.losses) <= 1e-6, `losses ${compiled.losses} against eager ${eager.losses}`);
      compiled.weights.forEach((w, i) => assert.ok(relativeError(w, eager.weights[i]) <= 1e-5, `weight ${i}`));
      assert.equal(compiled.flags.at(-1), true, compiled.reason);
      assert.ok(compiled.flags.filter(Boolean).length >= 6, `${compiled.flags}`);
    });

    it("d2l's training engine (fit) replays its steps: the same history and weights as D2L_COMPILE=0", async (t) => {
      if (!ready(t)) return;
      // 100 examples in batches of 16 (the last one 4): two programs, one per batch shape.
      const fitOnce = async (compile: boolean, clip: boolean) => {
        const saved = process.env.D2L_COMPILE;
        process.env.D2L_COMPILE = compile ? "1" : "0";
        try {
          seed(0);
          const X = tf.randomNormal([100, 20], 0, 1, "float32", 3);
          const y = tf.randomUniform([100], 0, 3, "int32", 4);
          const net = tf.sequential({ layers: [tf.layers.dense({ units: 16, activation: "relu", inputShape: [20] }), tf.layers.dense({ units: 3 })] });
          const loss = (yHat: tf.Tensor, yy: tf.Tensor) => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(yy, "int32"), 3), yHat, undefined, tf.Reduction.NONE);
          const engine = new Engine({ net, loss, updater: tf.train.adam(0.01) });
          const r = await engine.fit(new DataLoader(new TensorDataset(X, y), { batchSize: 16, shuffle: true, seed: 1 }), {
            numEpochs: 4,
            callbacks: clip ? [new GradClippingCallback(1)] : [],
          });
          const weights = net.getWeights().map((w) => Array.from(w.dataSync())); // sync-read-ok: a test on cpu and native
          tf.dispose([X, y]);
          net.dispose();
          return { history: r.history.map((h) => [h.trainLoss, h.trainAcc ?? 0]).flat(), weights, replayed: r.compiledSteps, note: r.compileNote };
        } finally {
          if (saved === undefined) delete process.env.D2L_COMPILE;
          else process.env.D2L_COMPILE = saved;
        }
      };
      const eager = await fitOnce(false, false);
      const compiled = await fitOnce(true, false);
      assert.equal(eager.replayed, 0, "D2L_COMPILE=0 replayed steps");
      // 4 epochs of 7 batches: all but the first traces of each batch shape replay.
      assert.ok(compiled.replayed >= 20, `only ${compiled.replayed} of 28 steps replayed: ${compiled.note}`);
      assert.ok(relativeError(compiled.history, eager.history) <= 1e-6, `history ${compiled.history} against ${eager.history}`);
      compiled.weights.forEach((w, i) => assert.ok(relativeError(w, eager.weights[i]) <= 1e-5, `weight ${i}`));
      // A callback that changes gradients keeps the eager path.
      const clipped = await fitOnce(true, true);
      assert.equal(clipped.replayed, 0, "a gradient callback ran through the compiled step");
    });

    it("a loss that reads values back, and an optimizer it does not know, stay eager with a reason", (t) => {
      if (!ready(t)) return;
      const readBack: Build = () => {
        const net = model([]);
        const base = xent(net);
        const lossFn = (X: tf.Tensor, y: tf.Tensor) => {
          const l = base(X, y);
          return (l.dataSync()[0] > 100 ? tf.mul(l, 0) : l) as tf.Scalar; // sync-read-ok: what the test is about
        };
        return { net, opt: tf.train.sgd(0.1), batches: batches(16), lossFn };
      };
      const r = train(readBack, true, 6);
      assert.deepEqual(r.flags, new Array(6).fill(false));
      assert.match(r.reason, /reads tensor values back/);

      class Custom extends tf.SGDOptimizer {}
      const custom: Build = () => {
        const net = model([]);
        return { net, opt: new Custom(0.1), batches: batches(16), lossFn: xent(net) };
      };
      const c = train(custom, true, 4);
      assert.deepEqual(c.flags, new Array(4).fill(false));
      assert.match(c.reason, /Custom may keep state/);
    });

    it("a closure over a tensor replaced every step (not an argument) is never replayed stale", (t) => {
      if (!ready(t)) return;
      const build: Build = () => {
        const net = model([]);
        const b = batches(16);
        let k = 0;
        // The loss ignores its arguments (the step's batch) and reads the next batch, through the closure.
        const lossFn = () => {
          const [X, y] = b[++k % b.length];
          return xent(net)(X, y);
        };
        return { net, opt: tf.train.sgd(0.1), batches: b, lossFn };
      };
      const eager = train(build, false, 9);
      const compiled = train(build, true, 9);
      assertSame(compiled, eager, "closure over changing tensors");
      assert.deepEqual(compiled.flags, new Array(9).fill(false), compiled.reason);
    });

    it("no tensor leaks over many replays, and dispose() frees what the programs keep", (t) => {
      if (!ready(t)) return;
      seed(0);
      const s = CASES["softmax regression, tf.train.sgd"]();
      const start = tf.memory().numTensors;
      const step = compileStep(s.lossFn, s.opt);
      for (let i = 0; i < 5; i++) step(...s.batches[i % 3]).dispose();
      const warm = tf.memory().numTensors;
      const warmData = tf.backend().numDataIds();
      for (let i = 0; i < 50; i++) step(...s.batches[i % 3]).dispose();
      assert.equal(step.compiled, true);
      assert.equal(tf.memory().numTensors, warm, "replays leaked tensors");
      assert.equal(tf.backend().numDataIds(), warmData, "replays leaked (or freed twice) the backend's buffers");
      step.dispose();
      assert.equal(tf.memory().numTensors, start, "dispose() left the programs' constants");
      s.net.dispose();
      s.opt.dispose();
      for (const b of s.batches) tf.dispose(b);
    });

    it("a replay skips the kernels whose results nothing uses (a dense layer's gradient with respect to the batch), not the random ones", (t) => {
      if (!ready(t)) return;
      // Count the matrix products each kind of step runs, through the kernels' registered functions
      // (which the trace records). Softmax regression's dense layer is one fused matMul, whose gradient
      // computes both the weight's and the batch's: 3 products eagerly, and nothing reads the batch's.
      const counts = new Map<string, number>();
      const wrapped: [tf.KernelConfig, tf.KernelFunc][] = [];
      for (const name of ["BatchMatMul", "_FusedMatMul", RANDOM_UNIFORM_KERNEL]) {
        const k = tf.getKernel(name, tf.getBackend());
        if (!k) continue;
        const f = k.kernelFunc;
        wrapped.push([k, f]);
        (k as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => {
          counts.set(name, (counts.get(name) ?? 0) + 1);
          return f(args);
        };
      }
      try {
        seed(0);
        const s = CASES["softmax regression, tf.train.sgd"]();
        // Dropout whose mask is unused still draws, so the masks after it stay the eager ones.
        const lossFn = (X: tf.Tensor, y: tf.Tensor) => {
          dropout(X, 0.5);
          return s.lossFn(X, y);
        };
        const products = () => (counts.get("BatchMatMul") ?? 0) + (counts.get("_FusedMatMul") ?? 0);
        s.opt.minimize(() => lossFn(...s.batches[0]), true)?.dispose();
        const step = compileStep(lossFn, s.opt);
        for (let i = 0; i < 4; i++) step(...s.batches[i % 3]).dispose();
        assert.equal(step.compiled, true, step.reason);
        counts.clear();
        s.opt.minimize(() => lossFn(...s.batches[0]), true)?.dispose();
        const eager = products();
        assert.equal(eager, 3, "an eager step of softmax regression runs 3 matrix products");
        assert.equal(counts.get(RANDOM_UNIFORM_KERNEL), 1);
        counts.clear();
        step(...s.batches[1]).dispose();
        assert.equal(step.compiled, true, step.reason);
        assert.equal(products(), 2, "the replay should skip the gradient with respect to the batch");
        assert.equal(counts.get(RANDOM_UNIFORM_KERNEL), 1, "the replay should still draw the unused mask");
        step.dispose();
        s.net.dispose();
        s.opt.dispose();
        for (const b of s.batches) tf.dispose(b);
      } finally {
        for (const [k, f] of wrapped) (k as { kernelFunc: tf.KernelFunc }).kernelFunc = f;
      }
    });

    it("an error in the loss during a trace leaves the engine unhooked and the step usable", (t) => {
      if (!ready(t)) return;
      seed(0);
      const s = CASES["softmax regression, tf.train.sgd"]();
      const assign = tf.Variable.prototype.assign;
      let fail = true;
      const step = compileStep((X, y) => {
        if (fail) throw new Error("boom");
        return s.lossFn(X, y);
      }, s.opt);
      assert.throws(() => step(...s.batches[0]), /boom/);
      const engine = tf.engine() as unknown as object;
      assert.equal(Object.prototype.hasOwnProperty.call(engine, "runKernel"), false, "runKernel is still hooked");
      assert.equal(tf.Variable.prototype.assign, assign, "Variable.assign is still hooked");
      fail = false;
      for (let i = 0; i < 4; i++) step(...s.batches[i % 3]).dispose();
      assert.equal(step.compiled, true, step.reason);
      assert.throws(() => step(tf.zeros([2, 3])), /Error/);
      step.dispose();
      s.net.dispose();
      s.opt.dispose();
      for (const b of s.batches) tf.dispose(b);
    });
  });
}
