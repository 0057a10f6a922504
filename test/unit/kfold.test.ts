/**
 * The book's section 4.10 helpers: logRmse, train (Adam with weight decay on
 * the engine), getKFoldData and kFold.
 */
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { getKFoldData, kFold, logRmse, train } from "../../lib/train/index";

before(async () => {
  await tf.setBackend("cpu");
});

function linearNet(inFeatures: number, seed = 1): tf.Sequential {
  return tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [inFeatures], kernelInitializer: tf.initializers.glorotUniform({ seed }) })] });
}

/** Prices that depend linearly on standardized features: y = 200 + X w (all positive). */
function houses(n: number, d: number): [tf.Tensor2D, tf.Tensor2D] {
  return tf.tidy(() => {
    const X = tf.randomNormal([n, d], 0, 1, "float32", 7) as tf.Tensor2D;
    const w = tf.linspace(-10, 10, d).reshape([d, 1]);
    return [X, X.matMul(w).add(200) as tf.Tensor2D];
  });
}

describe("getKFoldData", () => {
  test("fold i is validation, the other folds (in order) training; the remainder is left out", () => {
    const X = tf.range(0, 11).reshape([11, 1]);
    const y = tf.range(100, 111).reshape([11, 1]);
    const [Xtr, ytr, Xv, yv] = getKFoldData(5, 1, X, y); // folds of 2: [0,1] [2,3] [4,5] [6,7] [8,9], 10 left out
    assert.deepEqual(Array.from(Xv.dataSync()), [2, 3]);
    assert.deepEqual(Array.from(yv.dataSync()), [102, 103]);
    assert.deepEqual(Array.from(Xtr.dataSync()), [0, 1, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(Array.from(ytr.dataSync()), [100, 101, 104, 105, 106, 107, 108, 109]);
    tf.dispose([X, y, Xtr, ytr, Xv, yv]);
  });

  test("bad k, i or shapes are errors that say what is expected", () => {
    const X = tf.zeros([10, 2]);
    const y = tf.zeros([9, 1]);
    assert.throws(() => getKFoldData(1, 0, X, X), /k must be an integer > 1/);
    assert.throws(() => getKFoldData(5, 5, X, X), /i must be a fold index 0\.\.4, got 5/);
    assert.throws(() => getKFoldData(5, 0, X, y), /same number of examples.*\[10,2\] and \[9,1\]/);
    assert.throws(() => getKFoldData(11, 0, X, X), /10 examples cannot make 11 folds/);
    tf.dispose([X, y]);
  });
});

describe("logRmse", () => {
  test("is the RMSE of the logs, with predictions clipped to at least 1", async () => {
    const X = tf.zeros([2, 3]);
    const y = tf.tensor2d([[Math.E], [Math.E ** 3]]);
    const net = linearNet(3);
    for (const bias of [1, -5]) {
      // the prediction is the bias: 1, or -5 clipped to 1; log 1 = 0; logs of y are 1 and 3
      net.layers[0].setWeights([tf.zeros([3, 1]), tf.tensor1d([bias])]);
      const r = await logRmse(net, X, y);
      assert.ok(Math.abs(r - Math.sqrt((1 + 9) / 2)) < 1e-5, `bias ${bias}: ${r}`);
    }
    await assert.rejects(logRmse(net, X, tf.zeros([3, 1])), /features has 2 examples but labels has 3/);
    net.dispose();
    tf.dispose([X, y]);
  });
});

describe("train", () => {
  test("Adam fits a linear price model: the log-RMSE falls, one value per epoch, no tensors leak", async () => {
    const [X, y] = houses(200, 4);
    const [Xv, yv] = houses(50, 4);
    const net = linearNet(4);
    const before = tf.memory().numTensors;
    const [trainLs, testLs] = await train(net, X, y, Xv, yv, 30, 2, 0, 16, { seed: 1 });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(trainLs.length, 30);
    assert.equal(testLs.length, 30);
    assert.ok(trainLs[0] > 0.5, `starts far off: ${trainLs[0]}`);
    assert.ok(trainLs[29] < 0.05, `ends close: ${trainLs[29]}`);
    assert.ok(testLs[29] < 0.05, `generalizes: ${testLs[29]}`);
    const [onlyTrain, none] = await train(net, X, y, null, null, 2, 1, 0, 16);
    assert.equal(onlyTrain.length, 2);
    assert.deepEqual(none, []);
    net.dispose();
    tf.dispose([X, y, Xv, yv]);
  });

  test("weight decay shrinks the weights, as PyTorch's Adam(weight_decay) does", async () => {
    const [X, y] = houses(100, 3);
    const norms: number[] = [];
    for (const wd of [0, 50]) {
      const net = linearNet(3, 5);
      await train(net, X, y, null, null, 20, 1, wd, 20, { seed: 3 });
      norms.push(tf.tidy(() => net.layers[0].getWeights()[0].norm().dataSync()[0]));
      net.dispose();
    }
    assert.ok(norms[1] < 0.5 * norms[0], `norm with weight decay ${norms[1]} vs without ${norms[0]}`);
    tf.dispose([X, y]);
  });

  test("bad arguments are errors that say what is expected", async () => {
    const X = tf.zeros([4, 2]);
    const y = tf.zeros([4, 1]);
    const net = linearNet(2);
    await assert.rejects(train(net, X, y, X, null, 1, 1, 0, 2), /give both testFeatures and testLabels, or neither/);
    await assert.rejects(train(net, X, y, null, null, 0, 1, 0, 2), /numEpochs must be a positive integer/);
    await assert.rejects(train(net, X, y, null, null, 1, 1, -1, 2), /weightDecay must be a number >= 0/);
    await assert.rejects(train(net, X, tf.zeros([4]), null, null, 1, 1, 0, 2), /trainLabels must be a 2-D tensor \[examples, 1\], got shape \[4\]/);
    net.dispose();
    tf.dispose([X, y]);
  });
});

describe("kFold", () => {
  test("trains one fresh net per fold and returns the averages of the folds' last values", async () => {
    const [X, y] = houses(100, 3);
    const lasts: [number, number][] = [];
    const made: tf.LayersModel[] = [];
    const before = tf.memory().numTensors;
    const [trainL, validL] = await kFold(4, X, y, 15, 5, 0, 10, {
      getNet: () => {
        const net = linearNet(3, made.length + 1);
        made.push(net);
        return net;
      },
      plot: false,
      verbose: false,
      seed: 11,
      onFold: (i, trainLs, validLs) => {
        assert.equal(i, lasts.length);
        assert.equal(trainLs.length, 15);
        lasts.push([trainLs[14], validLs[14]]);
      },
    });
    assert.equal(made.length, 4);
    assert.equal(tf.memory().numTensors, before, "fold data and nets are disposed");
    const mean = (k: 0 | 1): number => lasts.reduce((a, l) => a + l[k], 0) / 4;
    assert.ok(Math.abs(trainL - mean(0)) < 1e-12 && Math.abs(validL - mean(1)) < 1e-12);
    assert.ok(validL < 0.1, `valid log rmse ${validL}`);
    tf.dispose([X, y]);
  });
});

describe("progress bars (issue 16)", () => {
  /** A fake bar maker that records what each bar was shown. */
  function recorder(): {
    bars: { total: number; unit: string; last: number; updates: number; closed?: string }[];
    make: (total: number, unit: "examples" | "batches") => { update: (done: number) => void; close: (text?: string) => void };
  } {
    const bars: { total: number; unit: string; last: number; updates: number; closed?: string }[] = [];
    const make = (total: number, unit: "examples" | "batches") => {
      const bar: { total: number; unit: string; last: number; updates: number; closed?: string } = { total, unit, last: 0, updates: 0 };
      bars.push(bar);
      return {
        update: (done: number): void => {
          bar.last = done;
          bar.updates++;
        },
        close: (text?: string): void => {
          bar.closed = text ?? "";
        },
      };
    };
    return { bars, make };
  }

  test("train shows one bar over all epochs (examples), closed at the end; progress: false shows none", async () => {
    const [X, y] = houses(40, 2);
    const net = linearNet(2);
    const r = recorder();
    await train(net, X, y, null, null, 3, 1, 0, 10, { seed: 1, progress: r.make });
    assert.equal(r.bars.length, 1);
    assert.deepEqual([r.bars[0].total, r.bars[0].unit, r.bars[0].last], [120, "examples", 120]);
    assert.match(r.bars[0].closed ?? "", /3 epochs in/);
    const none = recorder();
    await train(net, X, y, null, null, 1, 1, 0, 10, { progress: false });
    assert.equal(none.bars.length, 0);
    net.dispose();
    tf.dispose([X, y]);
  });

  test("kFold shows one bar per fold (progress: false: none)", async () => {
    const [X, y] = houses(40, 2);
    const r = recorder();
    await kFold(4, X, y, 2, 1, 0, 10, { plot: false, verbose: false, seed: 1, getNet: () => linearNet(2), progress: r.make });
    assert.equal(r.bars.length, 4);
    for (const b of r.bars) assert.deepEqual([b.total, b.last, typeof b.closed], [60, 60, "string"]);
    await kFold(2, X, y, 1, 1, 0, 10, { plot: false, verbose: false, getNet: () => linearNet(2), progress: false });
    tf.dispose([X, y]);
  });
});
