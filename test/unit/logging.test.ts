/**
 * Run logs: CSVLogger and JsonlLogger write a line every N batches and one
 * per epoch, flushed as they come, appending on request; readRunLog reads
 * them back; plotRuns draws several runs in one plot.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { CSVLogger, Engine, JsonlLogger, plotRuns, readRunLog, type Callback, type TrainState } from "../../lib/train/index";
import { DataLoader, TensorDataset } from "../../lib/data/index";

let tmp: string;
before(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-logs-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function problem(): { net: tf.Sequential; trainIter: DataLoader; testIter: DataLoader; loss: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor; dispose: () => void } {
  const X = tf.tensor2d(
    Float32Array.from({ length: 50 * 3 }, (_, i) => Math.sin(0.7 * i)),
    [50, 3],
  );
  const y = tf.tensor1d(
    Int32Array.from({ length: 50 }, (_, i) => (Math.cos(1.3 * i) > 0 ? 1 : 0)),
    "int32",
  );
  const trainIter = new DataLoader(new TensorDataset(X, y), { batchSize: 5, shuffle: true, seed: 1 }); // 10 batches
  const testIter = new DataLoader(new TensorDataset(X, y), { batchSize: 25 });
  const net = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  const loss = (yHat: tf.Tensor, yy: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(yy, "int32"), 2), yHat, undefined, tf.Reduction.NONE);
  return {
    net,
    trainIter,
    testIter,
    loss,
    dispose: () => {
      tf.dispose([X, y]);
      net.dispose();
    },
  };
}

describe("CSVLogger", () => {
  test("a header, a line every N batches (running values since the epoch's start) and one per epoch (with test metrics)", async () => {
    const p = problem();
    const file = path.join(tmp, "a", "run.csv");
    const seen: { batch: number; trainLoss: number }[] = [];
    const spy: Callback = {
      order: 900,
      onBatchEnd: (s: TrainState) => void ((s.batch + 1) % 3 === 0 && s.batch + 1 < 10 && seen.push({ batch: s.batch + 1, trainLoss: s.trainLoss })),
    };
    const r = await new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.2) }).fit(p.trainIter, {
      numEpochs: 2,
      testIter: p.testIter,
      callbacks: [new CSVLogger(file, { every: 3 }), spy],
    });
    const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    assert.equal(lines[0], "kind,epoch,batch,examples,trainLoss,trainAcc,testLoss,testAcc,lr,time");
    // per epoch: batches 3, 6, 9 (10 is the epoch's end), then the epoch line
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(",").slice(0, 4).join(",")),
      ["batch,1,3,15", "batch,1,6,30", "batch,1,9,45", "epoch,1,10,50", "batch,2,3,65", "batch,2,6,80", "batch,2,9,95", "epoch,2,10,100"],
    );
    const rows = readRunLog(file);
    const batches = rows.filter((x) => x.kind === "batch");
    // batch lines hold the engine's running values (read back for the line), no test metrics
    assert.deepEqual(
      batches.map((x) => x.trainLoss),
      seen.map((x) => x.trainLoss),
    );
    assert.ok(batches.every((x) => x.testAcc === undefined && x.lr === 0.2 && x.trainAcc !== undefined));
    const epochs = rows.filter((x) => x.kind === "epoch");
    assert.deepEqual(
      epochs.map((x) => [x.trainLoss, x.trainAcc, x.testAcc]),
      r.history.map((h) => [h.trainLoss, h.trainAcc, h.testAcc]),
    );
    assert.ok(epochs[1].time >= epochs[0].time && epochs[0].time >= 0);
    p.dispose();
  });

  test("append: a resumed run adds its lines (examples continue); without append the file starts afresh", async () => {
    const p = problem();
    const file = path.join(tmp, "append.csv");
    const engine = new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.2) });
    const r = await engine.fit(p.trainIter, { numEpochs: 1, callbacks: [new CSVLogger(file)] });
    await engine.fit(p.trainIter, { numEpochs: 3, initialEpoch: 1, history: r.history, callbacks: [new CSVLogger(file, { append: true })] });
    let rows = readRunLog(file);
    assert.deepEqual(
      rows.map((x) => [x.epoch, x.examples]),
      [
        [1, 50],
        [2, 100],
        [3, 150],
      ],
    );
    assert.equal(
      fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("kind")).length,
      1,
    );
    await engine.fit(p.trainIter, { numEpochs: 1, callbacks: [new CSVLogger(file)] });
    rows = readRunLog(file);
    assert.equal(rows.length, 1);
    // appending to something else is refused
    const other = path.join(tmp, "other.csv");
    fs.writeFileSync(other, "a,b\n1,2\n");
    await assert.rejects(engine.fit(p.trainIter, { numEpochs: 1, callbacks: [new CSVLogger(other, { append: true })] }), /not this logger's header/);
    p.dispose();
  });

  test("each line is in the file as soon as it is written: an interrupted run keeps its lines", async () => {
    const p = problem();
    const file = path.join(tmp, "interrupted.csv");
    let linesAtStop = -1;
    const boom: Callback = {
      order: 950,
      onBatchEnd: (s: TrainState) => {
        if (s.epoch === 1 && s.batch === 4) {
          linesAtStop = fs.readFileSync(file, "utf8").trimEnd().split("\n").length; // read while the run is still going
          throw new Error("killed");
        }
      },
    };
    await assert.rejects(
      new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.2) }).fit(p.trainIter, { numEpochs: 3, callbacks: [new CSVLogger(file, { every: 2 }), boom] }),
      /killed/,
    );
    // header + epoch 1 (batches 2, 4, 6, 8 and the epoch line) + epoch 2's batches 2 and 4
    assert.equal(linesAtStop, 1 + 5 + 2);
    // a line cut by a kill is skipped when read, and an append starts on a new line
    fs.appendFileSync(file, "batch,2,6,8");
    assert.equal(readRunLog(file).length, 7);
    await new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.2) }).fit(p.trainIter, { numEpochs: 1, callbacks: [new CSVLogger(file, { append: true })] });
    const text = fs.readFileSync(file, "utf8");
    assert.ok(text.includes("batch,2,6,8\nepoch,1,10,"), text.slice(-120));
    p.dispose();
  });

  test("bad options say what to pass", () => {
    assert.throws(() => new CSVLogger(""), /path of the log file/);
    assert.throws(() => new CSVLogger("x.csv", { every: -1 }), /every must be a whole number of batches/);
    assert.throws(() => new CSVLogger("x.csv", { separator: "ab" }), /separator must be one character/);
  });
});

describe("JsonlLogger", () => {
  test("the same lines as JSON objects, missing values left out", async () => {
    const p = problem();
    const file = path.join(tmp, "run.jsonl");
    const csv = path.join(tmp, "same.csv");
    await new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(0.2) }).fit(p.trainIter, {
      numEpochs: 2,
      testIter: p.testIter,
      callbacks: [new JsonlLogger(file, { every: 4 }), new CSVLogger(csv, { every: 4 })],
    });
    const lines = fs
      .readFileSync(file, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 6);
    assert.deepEqual(Object.keys(lines[0]), ["kind", "epoch", "batch", "examples", "trainLoss", "trainAcc", "lr", "time"]);
    assert.equal(lines[2].kind, "epoch");
    assert.ok("testAcc" in lines[2]);
    const strip = (rows: ReturnType<typeof readRunLog>): unknown[] => rows.map(({ time: _t, ...rest }) => rest);
    assert.deepEqual(strip(readRunLog(file)), strip(readRunLog(csv)));
    p.dispose();
  });
});

describe("plotRuns", () => {
  test("several runs in one plot, the legend from the file names", async () => {
    const files: string[] = [];
    for (const lr of [0.05, 0.5]) {
      const p = problem();
      const file = path.join(tmp, "runs", `lr${lr}.csv`);
      await new Engine({ net: p.net, loss: p.loss, updater: tf.train.sgd(lr) }).fit(p.trainIter, {
        numEpochs: 3,
        testIter: p.testIter,
        callbacks: [new CSVLogger(file, { every: 2 })],
      });
      files.push(file);
      p.dispose();
    }
    const jl = path.join(tmp, "runs", "adam.jsonl");
    const p = problem();
    await new Engine({ net: p.net, loss: p.loss, updater: tf.train.adam(0.05) }).fit(p.trainIter, { numEpochs: 3, testIter: p.testIter, callbacks: [new JsonlLogger(jl)] });
    p.dispose();
    files.push(jl);

    const fig = plotRuns(files, { metric: "testAcc" });
    assert.match(fig.text, /^<plot: lr0\.05, lr0\.5, adam; 9 points; epoch 1\.\.3, testAcc /);
    const perBatch = plotRuns(files.slice(0, 2), { metric: "trainLoss", lines: "batch" });
    assert.match(perBatch.text, /lr0\.05, lr0\.5; 30 points; epoch 0\.2\.\.3,/); // 4 batch lines and 1 epoch line per epoch, per run
    const byExamples = plotRuns(files.slice(0, 1), { metric: "trainLoss", x: "examples", lines: "batch" });
    assert.match(byExamples.text, /examples 10\.\.150/);
  });

  test("what cannot be plotted is an error naming the file", () => {
    const f = path.join(tmp, "notest.csv");
    fs.writeFileSync(f, "kind,epoch,batch,examples,trainLoss,trainAcc,testLoss,testAcc,lr,time\nepoch,1,10,50,0.5,0.7,,,0.1,1\n");
    assert.throws(() => plotRuns([f], { metric: "testAcc" }), /notest\.csv has no testAcc values \(test metrics come from a fit with a testIter\)/);
    assert.throws(() => plotRuns([path.join(tmp, "missing.csv")]), /cannot read .*missing\.csv: no such file/);
    assert.throws(() => plotRuns([]), /non-empty array/);
    assert.throws(() => plotRuns([f], { x: "step" as never }), /x must be "epoch", "examples" or "time"/);
  });
});
