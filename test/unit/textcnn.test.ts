// textCNN (lib/nn/textcnn.ts; the book's section 15.3, Chinese edition) against the book's PyTorch code run by
// test/fixtures/torch/vit.py (torch 1.13): output shape and parameter count of the book's configuration (embed 100,
// kernel sizes [3, 4, 5], 100 channels each, the IMDb vocabulary of 49346 words), values with weights set from a
// formula on both sides (Conv1d [out, in, k] → conv1d [k, in, out]) for max-over-time pooling and for the average
// pooling of the book's PyTorch code, within 1e-5; bad input; and a short training run whose loss falls. On cpu.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import { fx, setParams, maxDiff, type Kind } from "./vit-helpers";

before(async () => {
  await tf.setBackend("cpu");
});

const TOL = 1e-5;

function textcnnVar(net: d2l.TextCNN, name: string): [tf.LayerVariable, Kind] {
  if (name === "embedding.weight") return [net.embedding.weights[0], "plain"];
  if (name === "constant_embedding.weight") return [net.constantEmbedding.weights[0], "plain"];
  if (name === "decoder.weight") return [net.decoder.weights[0], "linear"];
  if (name === "decoder.bias") return [net.decoder.weights[1], "plain"];
  const m = /^convs\.(\d+)\.(weight|bias)$/.exec(name);
  if (m) return m[2] === "weight" ? [net.convs[Number(m[1])].weights[0], "conv1d"] : [net.convs[Number(m[1])].weights[1], "plain"];
  throw new Error(`no tfjs weight for torch's ${name}`);
}

describe("TextCNN", () => {
  test("the book's configuration: logits [batch, 2] and torch's parameter count", () => {
    const f = fx.textcnnBook;
    const net = new d2l.TextCNN(f.vocabSize, 100, [3, 4, 5], [100, 100, 100]);
    net.eval();
    assert.equal(net.countParams(), f.params);
    const X = tf.zeros([2, 500], "int32");
    const Y = net.forward(X);
    assert.deepEqual(Y.shape, f.shape);
    tf.dispose([X, Y]);
    net.dispose();
  });

  for (const pool of ["max", "avg"] as const) {
    test(`values vs torch with fixed weights (${pool} pooling over time)`, (t) => {
      const f = fx.textcnnSmall;
      const net = new d2l.TextCNN(20, 4, [2, 3], [3, 5], { pool });
      net.eval();
      assert.equal(net.countParams(), f.params);
      setParams(f.names, 0.3, (name) => textcnnVar(net, name));
      const X = tf.tensor2d(f.X as unknown as number[][], undefined, "int32");
      const Y = net.forward(X);
      const d = maxDiff(Y, pool === "max" ? f.Ymax : f.Yavg, `TextCNN ${pool}`);
      t.diagnostic(`max |Y - torch| = ${d.toExponential(2)}`);
      assert.ok(d < TOL, `max |Y - torch| = ${d}`);
      // float token ids (as some loaders give) are read the same
      const Yf = net.forward(tf.cast(X, "float32"));
      assert.equal(tf.max(tf.abs(tf.sub(Y, Yf))).dataSync()[0], 0);
      tf.dispose([X, Y, Yf]);
      net.dispose();
    });
  }

  test("bad input and settings say what was expected", () => {
    const net = new d2l.TextCNN(20, 4, [2, 3], [3, 5]);
    assert.throws(() => net.forward(tf.zeros([2, 2], "int32")), /numSteps >= 3 \(the widest kernel\)/);
    assert.throws(() => net.forward(tf.zeros([2, 5, 4])), /token ids \[batch, numSteps\]/);
    assert.throws(() => new d2l.TextCNN(20, 4, [2, 3], [3]), /same length/);
    assert.throws(() => new d2l.TextCNN(20, 4, [2], [3], { pool: "sum" as "max" }), /pool must be "max" or "avg"/);
    net.dispose();
  });

  test("trains with d2l.fit through asNet(), the constant embedding frozen: the loss falls", async () => {
    const n = 64,
      T = 12;
    // class 1: tokens 1-9 only; class 0: tokens 10-19 only
    const ids = new Int32Array(n * T);
    const ys = new Int32Array(n);
    for (let e = 0; e < n; e++) {
      ys[e] = e % 2;
      for (let t = 0; t < T; t++) ids[e * T + t] = (ys[e] === 1 ? 1 : 10) + ((e * 7 + t * 5) % 9);
    }
    const X = tf.tensor2d(ids, [n, T], "int32");
    const y = tf.tensor1d(ys, "int32");
    const trainIter = {
      numExamples: n,
      async *[Symbol.asyncIterator](): AsyncGenerator<tf.Tensor[]> {
        for (let i = 0; i < n; i += 16) yield [tf.slice(X, [i, 0], [16, T]), tf.slice(y, [i], [16])];
      },
    };
    const net = new d2l.TextCNN(20, 8, [3, 4, 5], [8, 8, 8]);
    net.constantEmbedding.trainable = false;
    const frozen = net.constantEmbedding.getWeights()[0].dataSync().slice();
    assert.equal(net.trainableWeights.length, 1 + 2 * 3 + 2);
    const loss = (yHat: tf.Tensor, t: tf.Tensor): tf.Tensor => d2l.losses.crossEntropy(yHat, t, { reduction: "none" });
    const optimizer = tf.train.adam(0.01);
    const r = await d2l.fit({ net: net.asNet(), params: net.trainableWeights, loss, updater: optimizer, trainIter, numEpochs: 6 });
    const first = r.history[0].trainLoss,
      last = r.history[r.history.length - 1].trainLoss;
    assert.ok(last < 0.7 * first, `loss ${first} -> ${last}`);
    assert.deepEqual(net.constantEmbedding.getWeights()[0].dataSync(), frozen, "the constant embedding stays as it was");
    optimizer.dispose();
    tf.dispose([X, y]);
    net.dispose();
  });
});
