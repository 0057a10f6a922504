/**
 * ModelCheckpoint and d2l.resume: a run stopped after 4 epochs and resumed
 * in a fresh process for 4 more gives the losses (and the weights) of 8
 * uninterrupted epochs (resume-child.ts runs each step in its own process);
 * the checkpoint is written atomically, damaged or missing files are errors
 * naming them; the engine's initialEpoch and the DataLoader's epoch counter.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import { Engine, ModelCheckpoint, ProgressCallback, resume, type Callback, type TrainState } from "../../lib/train/index";
import { DataLoader, TensorDataset } from "../../lib/data/index";
import { TensorFileError } from "../../lib/io";

const CHILD = path.join(__dirname, "resume-child.js");
let tmp: string;

before(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-ckpt-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface ChildResult {
  history: { epoch: number; trainLoss: number; trainAcc: number; testAcc: number }[];
  weights: number[];
  lr: number;
}

function child(...args: string[]): ChildResult {
  const r = spawnSync(process.execPath, [CHILD, ...args], { encoding: "utf8", timeout: 120_000 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let parsed: ChildResult & { error?: string };
  try {
    parsed = JSON.parse(line) as ChildResult & { error?: string };
  } catch {
    throw new Error(`resume-child ${args.join(" ")} exited ${r.status} without a result:\n${r.stdout}\n${r.stderr}`);
  }
  if (parsed.error) throw new Error(`resume-child ${args.join(" ")}: ${parsed.error}`);
  assert.equal(r.status, 0);
  return parsed;
}

for (const config of ["adam", "momentum-dropout", "optim-steplr"]) {
  test(`${config}: 4 epochs, then a resume in a fresh process for 4 more, equal 8 uninterrupted epochs (losses within 1e-6, weights too)`, () => {
    const dir = path.join(tmp, `resume-${config}`);
    const straight = child(config, "straight");
    const first = child(config, "first", dir);
    assert.ok(fs.existsSync(path.join(dir, "checkpoint.json")));
    const resumed = child(config, "resume", dir);
    assert.equal(straight.history.length, 8);
    assert.equal(first.history.length, 4);
    assert.deepEqual(
      resumed.history.map((h) => h.epoch),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    // the first run's epochs are the straight run's
    first.history.forEach((h, i) => assert.equal(h.trainLoss, straight.history[i].trainLoss));
    // the resumed history starts with the checkpoint's, then the resumed epochs
    for (let e = 0; e < 8; e++) {
      const d = Math.abs(resumed.history[e].trainLoss - straight.history[e].trainLoss);
      assert.ok(d <= 1e-6, `epoch ${e + 1}: resumed loss ${resumed.history[e].trainLoss}, uninterrupted ${straight.history[e].trainLoss}`);
      assert.ok(Math.abs(resumed.history[e].testAcc - straight.history[e].testAcc) <= 1e-6, `epoch ${e + 1}: test acc`);
    }
    // and the losses did change over the run (the test would pass trivially on a frozen model)
    assert.notEqual(straight.history[7].trainLoss, straight.history[4].trainLoss);
    assert.equal(resumed.weights.length, straight.weights.length);
    const maxW = Math.max(...resumed.weights.map((w, i) => Math.abs(w - straight.weights[i])));
    assert.ok(maxW <= 1e-6, `final weights differ by ${maxW}`);
    assert.equal(resumed.lr, straight.lr);
    if (config === "optim-steplr") assert.equal(straight.lr, 0.1 * 0.5 ** 4); // StepLR: halved after epochs 2, 4, 6, 8
  });
}

/** A tiny classification set-up in this process. */
function setup(opts: { seed?: number } = {}): { net: tf.Sequential; trainIter: DataLoader; loss: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor; dispose: () => void } {
  const X = tf.tensor2d(
    Float32Array.from({ length: 40 * 4 }, (_, i) => Math.sin(i * 0.37)),
    [40, 4],
  );
  const y = tf.tensor1d(
    Int32Array.from({ length: 40 }, (_, i) => (Math.sin(i) > 0 ? 1 : 0)),
    "int32",
  );
  const trainIter = new DataLoader(new TensorDataset(X, y), { batchSize: 8, shuffle: true, seed: opts.seed ?? 3 });
  const net = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [4], kernelInitializer: "zeros" })] });
  const loss = (yHat: tf.Tensor, yy: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(yy, "int32"), 2), yHat, undefined, tf.Reduction.NONE);
  return {
    net,
    trainIter,
    loss,
    dispose: () => {
      tf.dispose([X, y]);
      net.dispose();
    },
  };
}

describe("ModelCheckpoint", () => {
  test("saves weights, optimizer state, epoch, loader epoch, scheduler state and history; resume puts them back", async () => {
    const dir = path.join(tmp, "all");
    const s = setup();
    const updater = tf.train.momentum(0.1, 0.9);
    let schedulerState = { lastEpoch: 0, lr: 0.1 };
    const scheduler = { stateDict: () => ({ ...schedulerState }), loadStateDict: (st: unknown) => void (schedulerState = st as typeof schedulerState) };
    const stepper: Callback = { onEpochEnd: () => void (schedulerState = { lastEpoch: schedulerState.lastEpoch + 1, lr: schedulerState.lr * 0.5 }) };
    const ckpt = new ModelCheckpoint(dir, { scheduler });
    const r = await new Engine({ net: s.net, loss: s.loss, updater }).fit(s.trainIter, { numEpochs: 3, callbacks: [ckpt, stepper] });
    assert.deepEqual(ckpt.lastSaved, { folder: dir, epoch: 3 });
    const json = JSON.parse(fs.readFileSync(path.join(dir, "checkpoint.json"), "utf8"));
    assert.equal(json.epoch, 3);
    assert.equal(json.trainIterEpoch, 3);
    // saved after the stepper's onEpochEnd (ModelCheckpoint runs late), so the scheduler's state is that of after epoch 3
    assert.deepEqual(json.scheduler, { lastEpoch: 3, lr: 0.0125 });
    assert.equal(json.history.length, 3);
    assert.equal(json.optimizer.className, updater.constructor.name);
    assert.equal(json.optimizer.learningRate, 0.1);
    // only the last checkpoint's tensor files are left
    const files = fs.readdirSync(dir).sort();
    assert.equal(files.length, 3, files.join(", "));
    assert.ok(files.some((f) => /^model-epoch3-.*\.safetensors$/.test(f)) && files.some((f) => /^optimizer-epoch3-.*\.safetensors$/.test(f)));
    // the weights file is safetensors with the layers' names
    const saved = (await d2l.loadTensors(
      path.join(
        dir,
        files.find((f) => f.startsWith("model"))!,
      ),
    )) as Record<string, tf.Tensor>;
    assert.deepEqual(
      Object.keys(saved),
      s.net.weights.map((w) => w.name),
    );
    tf.dispose(Object.values(saved));

    // a fresh net, optimizer, loader and scheduler get it all back
    const t = setup();
    const updater2 = tf.train.momentum(0.1, 0.9);
    schedulerState = { lastEpoch: 0, lr: 0.1 };
    const resumed = await resume(dir, { net: t.net, optimizer: updater2, trainIter: t.trainIter, scheduler, verbose: false });
    assert.equal(resumed.initialEpoch, 3);
    assert.deepEqual(
      resumed.history.map((h) => h.trainLoss),
      r.history.map((h) => h.trainLoss),
    );
    assert.equal(t.trainIter.epoch, 3);
    assert.deepEqual(schedulerState, { lastEpoch: 3, lr: 0.0125 });
    const w1 = s.net.getWeights().map((w) => Array.from(w.dataSync()));
    const w2 = t.net.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(w2, w1);
    const o1 = await updater.getWeights();
    const o2 = await updater2.getWeights();
    assert.deepEqual(
      o2.map((w) => Array.from(w.tensor.dataSync())),
      o1.map((w) => Array.from(w.tensor.dataSync())),
    );
    s.dispose();
    t.dispose();
  });

  test("a d2l.optim optimizer resumed into a net rebuilt in the same process (new variable names) continues exactly", async () => {
    const dir = path.join(tmp, "rebuilt");
    const a = setup();
    const optA = new d2l.optim.SGD({ lr: 0.1, momentum: 0.9 });
    const engineA = new Engine({ net: a.net, loss: a.loss, updater: optA });
    await engineA.fit(a.trainIter, { numEpochs: 2, callbacks: [new ModelCheckpoint(dir)] });
    const b = setup();
    assert.notEqual(b.net.weights[0].name, a.net.weights[0].name);
    const optB = new d2l.optim.SGD({ lr: 0.1, momentum: 0.9 });
    const resumed = await resume(dir, { net: b.net, optimizer: optB, trainIter: b.trainIter, verbose: false });
    await engineA.fit(a.trainIter, { numEpochs: 3, initialEpoch: 2 });
    await new Engine({ net: b.net, loss: b.loss, updater: optB }).fit(b.trainIter, { numEpochs: 3, ...resumed });
    assert.deepEqual(
      b.net.getWeights().map((w) => Array.from(w.dataSync())),
      a.net.getWeights().map((w) => Array.from(w.dataSync())),
    );
    a.dispose();
    b.dispose();
  });

  test("every N epochs, the last epoch, {epoch} folders, and saveBestOnly on a monitor", async () => {
    const s = setup();
    const saves: number[] = [];
    const every = new ModelCheckpoint(path.join(tmp, "every"), { every: 2 });
    const perEpoch = new ModelCheckpoint(path.join(tmp, "per", "e{epoch}"), { every: 2 });
    const values = [5, 3, 4, 2, 2.5];
    const best = new ModelCheckpoint(path.join(tmp, "best"), { saveBestOnly: true, monitor: (st: TrainState) => values[st.epoch], mode: "min" });
    const watcher: Callback = { order: 950, onEpochEnd: () => void saves.push(best.lastSaved?.epoch ?? 0) };
    await new Engine({ net: s.net, loss: s.loss, updater: tf.train.sgd(0.1) }).fit(s.trainIter, { numEpochs: 5, callbacks: [every, perEpoch, best, watcher] });
    assert.deepEqual(saves, [1, 2, 2, 4, 4]);
    assert.equal(best.best, 2);
    assert.equal(JSON.parse(fs.readFileSync(path.join(tmp, "best", "checkpoint.json"), "utf8")).epoch, 4);
    assert.equal(every.lastSaved?.epoch, 5); // 2, 4, and the last
    assert.deepEqual(fs.readdirSync(path.join(tmp, "per")).sort(), ["e2", "e4", "e5"]);
    s.dispose();
  });

  test("a killed save leaves the previous checkpoint intact; the next save cleans up", async () => {
    const dir = path.join(tmp, "killed");
    const s = setup();
    await new Engine({ net: s.net, loss: s.loss, updater: tf.train.adam(0.01) }).fit(s.trainIter, { numEpochs: 2, callbacks: [new ModelCheckpoint(dir)] });
    // a run killed while writing epoch 3: its tensor files are there, half a json in a temporary file, checkpoint.json untouched
    fs.writeFileSync(path.join(dir, "model-epoch3-zzz.safetensors"), "half");
    fs.writeFileSync(path.join(dir, ".checkpoint.json.999.1.tmp"), '{"format":');
    const t = setup();
    const r = await resume(dir, { net: t.net, optimizer: tf.train.adam(0.01), verbose: false });
    assert.equal(r.initialEpoch, 2);
    await new Engine({ net: t.net, loss: t.loss, updater: tf.train.adam(0.01) }).fit(t.trainIter, { numEpochs: 1, callbacks: [new ModelCheckpoint(dir)] });
    const files = fs.readdirSync(dir);
    assert.ok(!files.includes("model-epoch3-zzz.safetensors") && !files.some((f) => f.endsWith(".tmp")), files.join(", "));
    s.dispose();
    t.dispose();
  });

  test("missing or damaged files, and a checkpoint that does not fit, are errors that name the file and say what to do", async () => {
    const dir = path.join(tmp, "damaged");
    const s = setup();
    const updater = tf.train.adam(0.01);
    await new Engine({ net: s.net, loss: s.loss, updater }).fit(s.trainIter, { numEpochs: 1, callbacks: [new ModelCheckpoint(dir)] });
    const t = setup();
    const optimizer = tf.train.adam(0.01);
    await assert.rejects(
      resume(path.join(tmp, "nowhere"), { net: t.net }),
      (e: unknown) => e instanceof TensorFileError && /checkpoint\.json/.test(e.message) && /no folder/.test(e.message),
    );
    // the optimizer state must be taken or refused explicitly
    await assert.rejects(resume(dir, { net: t.net }), /holds the state of a .*optimizer: null/);
    await assert.rejects(resume(dir, { net: t.net, optimizer: tf.train.sgd(0.1) }), /holds the state of a AdamOptimizer but the optimizer given is a SGDOptimizer/);
    // a different net
    const other = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
    await assert.rejects(resume(dir, { net: other, optimizer }), /has shape \[4,3\].*but the checkpoint's .* has \[4,2\].*build the same net/);
    other.dispose();
    // a damaged weights file: named, and nothing changed
    const modelFile = fs.readdirSync(dir).find((f) => f.startsWith("model-")) as string;
    const full = path.join(dir, modelFile);
    const bytes = fs.readFileSync(full);
    const bad = Buffer.from(bytes);
    bad[bad.length - 1] ^= 0xff;
    fs.writeFileSync(full, bad);
    const before = t.net.getWeights().map((w) => Array.from(w.dataSync()));
    await assert.rejects(resume(dir, { net: t.net, optimizer }), (e: unknown) => e instanceof TensorFileError && e.path === full && /damaged/.test(e.message));
    assert.deepEqual(
      t.net.getWeights().map((w) => Array.from(w.dataSync())),
      before,
    );
    fs.writeFileSync(full, bytes);
    // a missing optimizer file
    const optFile = path.join(dir, fs.readdirSync(dir).find((f) => f.startsWith("optimizer-")) as string);
    const optBytes = fs.readFileSync(optFile);
    fs.rmSync(optFile);
    await assert.rejects(resume(dir, { net: t.net, optimizer }), (e: unknown) => e instanceof TensorFileError && e.path === optFile && /missing/.test(e.message));
    fs.writeFileSync(optFile, optBytes);
    // a damaged checkpoint.json
    const jsonPath = path.join(dir, "checkpoint.json");
    const text = fs.readFileSync(jsonPath, "utf8");
    fs.writeFileSync(jsonPath, text.slice(0, 40));
    await assert.rejects(resume(dir, { net: t.net, optimizer }), (e: unknown) => e instanceof TensorFileError && e.path === jsonPath && /not JSON/.test(e.message));
    fs.writeFileSync(jsonPath, text);
    // intact again: it loads
    assert.equal((await resume(dir, { net: t.net, optimizer, verbose: false })).initialEpoch, 1);
    // a function net needs its params
    await assert.rejects(resume(dir, { net: (x: tf.Tensor) => x }), /pass its weights as params/);
    s.dispose();
    t.dispose();
  });

  test("a function net's params, and the engine's params, are what is saved", async () => {
    const dir = path.join(tmp, "params");
    const W = tf.variable(tf.zeros([4, 2]));
    const b = tf.variable(tf.zeros([2]));
    const s = setup();
    const net = (x: tf.Tensor): tf.Tensor => tf.add(tf.matMul(x, W), b);
    await new Engine({ net, loss: s.loss, updater: (n) => d2l.sgd([W, b], 0.5, n), params: [W, b] }).fit(s.trainIter, { numEpochs: 2, callbacks: [new ModelCheckpoint(dir)] });
    const W2 = tf.variable(tf.zeros([4, 2]));
    const b2 = tf.variable(tf.zeros([2]));
    const r = await resume(dir, { params: [W2, b2], verbose: false });
    assert.equal(r.initialEpoch, 2);
    assert.deepEqual(Array.from(W2.dataSync()), Array.from(W.dataSync()));
    assert.deepEqual(Array.from(b2.dataSync()), Array.from(b.dataSync()));
    assert.ok(Array.from(W.dataSync()).some((v) => v !== 0));
    // no params: the engine cannot say which variables are the net's
    await assert.rejects(
      new Engine({ net, loss: s.loss, updater: tf.train.sgd(0.1) }).fit(s.trainIter, { numEpochs: 1, callbacks: [new ModelCheckpoint(path.join(tmp, "noparams"))] }),
      /pass params to the engine/,
    );
    tf.dispose([W, b, W2, b2]);
    s.dispose();
  });

  test("bad options are errors that say what to pass", () => {
    assert.throws(() => new ModelCheckpoint(""), /folder path/);
    assert.throws(() => new ModelCheckpoint("x", { every: 0 }), /every must be a positive whole number/);
    assert.throws(() => new ModelCheckpoint("x", { scheduler: {} as never }), /stateDict\(\) and loadStateDict/);
    assert.throws(() => new ModelCheckpoint("x", { saveBestOnly: true, monitor: "valLoss" as never }), /monitor must be one of/);
  });
});

describe("initialEpoch", () => {
  test("epochs, history and state.epoch continue from it; numEpochs is the total", async () => {
    const s = setup();
    const seen: number[] = [];
    const earlier = [
      { epoch: 1, trainLoss: 0.9, examples: 40, count: 40, seconds: 0 },
      { epoch: 2, trainLoss: 0.8, examples: 40, count: 40, seconds: 0 },
    ];
    const r = await new Engine({ net: s.net, loss: s.loss, updater: tf.train.sgd(0.1) }).fit(s.trainIter, {
      numEpochs: 5,
      initialEpoch: 2,
      history: earlier,
      callbacks: [{ onEpochBegin: (st: TrainState) => void seen.push(st.epoch), onTrainBegin: (st: TrainState) => assert.equal(st.initialEpoch, 2) }],
    });
    assert.deepEqual(seen, [2, 3, 4]);
    assert.deepEqual(
      r.history.map((h) => h.epoch),
      [1, 2, 3, 4, 5],
    );
    assert.equal(r.history[0].trainLoss, 0.9);
    assert.equal(earlier.length, 2); // the given history is not changed
    await assert.rejects(
      new Engine({ net: s.net, loss: s.loss, updater: tf.train.sgd(0.1) }).fit(s.trainIter, { numEpochs: 3, initialEpoch: 3 }),
      /numEpochs counts all epochs.*pass numEpochs > 3/,
    );
    await assert.rejects(
      new Engine({ net: s.net, loss: s.loss, updater: tf.train.sgd(0.1) }).fit(s.trainIter, { numEpochs: 3, initialEpoch: -1 }),
      /initialEpoch must be a whole number/,
    );
    s.dispose();
  });

  test("a resumed run's progress bar counts this run's work only, and its text says which epoch of the total", async () => {
    const s = setup();
    const bars: { total: number; updates: [number, string][] }[] = [];
    const bar = (total: number) => {
      const b = { total, updates: [] as [number, string][] };
      bars.push(b);
      return { update: (done: number, info?: string) => void b.updates.push([done, info ?? ""]), close: () => {} };
    };
    await new Engine({ net: s.net, loss: s.loss, updater: tf.train.sgd(0.1) }).fit(s.trainIter, {
      numEpochs: 5,
      initialEpoch: 3,
      callbacks: [new ProgressCallback({ bar, minIntervalMs: 0 })],
    });
    assert.equal(bars.length, 1);
    const perEpoch = s.trainIter.numExamples as number;
    assert.equal(bars[0].total, 2 * perEpoch, "two epochs left of five");
    const last = bars[0].updates[bars[0].updates.length - 1];
    assert.equal(last[0], 2 * perEpoch);
    assert.match(bars[0].updates[0][1], /^epoch 4\/5/);
    s.dispose();
  });

  test("quick mode caps the epochs trained after initialEpoch, not the total", async () => {
    const s = setup();
    const old = process.env.D2L_QUICK;
    process.env.D2L_QUICK = "1";
    try {
      const r = await new Engine({ net: s.net, loss: s.loss, updater: tf.train.sgd(0.1) }).fit(s.trainIter, { numEpochs: 10, initialEpoch: 4, quickEpochs: 2 });
      assert.deepEqual(
        r.history.map((h) => h.epoch),
        [5, 6],
      );
    } finally {
      if (old === undefined) delete process.env.D2L_QUICK;
      else process.env.D2L_QUICK = old;
    }
    s.dispose();
  });
});

describe("DataLoader.epoch", () => {
  test("counts epochs begun; setting it replays that epoch's shuffle", async () => {
    const X = tf.range(0, 10).reshape([10, 1]);
    const y = tf.range(0, 10, 1, "int32");
    const order = async (l: DataLoader): Promise<number[]> => {
      const out: number[] = [];
      for await (const [xb, yb] of l) {
        out.push(...Array.from(yb.dataSync()));
        tf.dispose([xb, yb]);
      }
      return out;
    };
    const a = new DataLoader(new TensorDataset(X, y), { batchSize: 4, shuffle: true, seed: 5 });
    assert.equal(a.epoch, 0);
    await order(a);
    await order(a);
    const third = await order(a);
    assert.equal(a.epoch, 3);
    const b = new DataLoader(new TensorDataset(X, y), { batchSize: 4, shuffle: true, seed: 5 });
    b.epoch = 2;
    assert.deepEqual(await order(b), third);
    b.epoch = 1.5;
    assert.throws(() => b[Symbol.asyncIterator](), /epoch must be a whole number/);
    tf.dispose([X, y]);
  });
});
