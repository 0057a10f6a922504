// The Vision Transformer (lib/nn/vit.ts; d2l 1.0's section 11.8) against the book's PyTorch code run by
// test/fixtures/torch/vit.py (torch 1.13): the book's shapes, parameter counts equal to torch's, values with
// weights set from a formula on both sides (torch's layouts transposed into tfjs'; images NCHW → NHWC) in eval
// mode within 1e-5, bad input, and a short training run through d2l.fit whose loss falls. On the cpu backend.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import { fx, image, nhwc, setParams, maxDiff, type Kind } from "./vit-helpers";

before(async () => {
  await tf.setBackend("cpu");
});

const TOL = 1e-5;

function blockVar(blk: d2l.ViTBlock, name: string): [tf.LayerVariable, Kind] {
  const [layer, field] = name.split(".").length === 2 ? name.split(".") : [name.split(".").slice(0, -1).join("."), name.split(".").slice(-1)[0]];
  const idx = field === "weight" ? 0 : 1;
  const lookup: Record<string, [tf.layers.Layer, Kind]> = {
    ln1: [blk.ln1, "plain"],
    ln2: [blk.ln2, "plain"],
    "attention.W_q": [blk.attention.Wq, "linear"],
    "attention.W_k": [blk.attention.Wk, "linear"],
    "attention.W_v": [blk.attention.Wv, "linear"],
    "attention.W_o": [blk.attention.Wo, "linear"],
    "mlp.dense1": [blk.mlp.dense1!, "linear"],
    "mlp.dense2": [blk.mlp.dense2, "linear"],
  };
  const hit = lookup[layer];
  assert.ok(hit, `no tfjs layer for torch's ${name}`);
  return [hit[0].weights[idx], idx === 0 ? hit[1] : "plain"];
}

function vitVar(vit: d2l.ViT, name: string): [tf.LayerVariable, Kind] {
  if (name === "cls_token") return [vit.clsToken.weights[0], "plain"];
  if (name === "pos_embedding") return [vit.posEmbedding.weights[0], "plain"];
  if (name === "patch_embedding.conv.weight") return [vit.patchEmbedding.conv!.weights[0], "conv2d"];
  if (name === "patch_embedding.conv.bias") return [vit.patchEmbedding.conv!.weights[1], "plain"];
  const m = /^blks\.(\d+)\.(.*)$/.exec(name);
  if (m) return blockVar(vit.blks[Number(m[1])], m[2]);
  if (name === "head.0.weight") return [vit.head[0].weights[0], "plain"];
  if (name === "head.0.bias") return [vit.head[0].weights[1], "plain"];
  if (name === "head.1.weight") return [vit.head[1].weights[0], "linear"];
  if (name === "head.1.bias") return [vit.head[1].weights[1], "plain"];
  throw new Error(`no tfjs weight for torch's ${name}`);
}

describe("PatchEmbedding", () => {
  test("the book's shapes [4, 96, 96, 3] -> [4, 36, 512], torch's parameter count and values", (t) => {
    const f = fx.patchBook;
    const pe = new d2l.PatchEmbedding(96, 16, 512);
    assert.equal(pe.numPatches, 36);
    assert.equal(pe.conv, undefined, "lazy: built at the first forward");
    const X = tf.tidy(() => nhwc(image([4, 3, 96, 96])));
    tf.dispose(pe.forward(X));
    assert.equal(pe.countParams(), f.params);
    assert.equal(pe.inChannels, 3);
    setParams(f.names, 0.05, (name) => [pe.conv!.weights[name.endsWith("weight") ? 0 : 1], name.endsWith("weight") ? "conv2d" : "plain"]);
    const Y = pe.forward(X);
    assert.deepEqual(Y.shape, f.shape);
    const head = tf.slice(Y, [0, 0, 0], [4, 3, 8]);
    const d = maxDiff(head, f.head, "Y[:, :3, :8]");
    t.diagnostic(`max |Y - torch| = ${d.toExponential(2)}`);
    assert.ok(d < TOL, `max |Y - torch| = ${d}`);
    const sum = tf.sum(Y).dataSync()[0];
    const absSum = tf.sum(tf.abs(Y)).dataSync()[0];
    assert.ok(Math.abs(sum - f.sum) < 1e-5 * f.absSum, `sum ${sum} vs torch ${f.sum}`);
    assert.ok(Math.abs(absSum - f.absSum) < 1e-5 * f.absSum, `sum |Y| ${absSum} vs torch ${f.absSum}`);
    tf.dispose([X, Y, head]);
    pe.dispose();
  });

  test("all values of a small one (8x8 images, 4x4 patches, 3 channels built at once)", (t) => {
    const f = fx.patchSmall;
    const pe = new d2l.PatchEmbedding(8, 4, 6, 3);
    assert.equal(pe.countParams(), f.params);
    setParams(f.names, 0.2, (name) => [pe.conv!.weights[name.endsWith("weight") ? 0 : 1], name.endsWith("weight") ? "conv2d" : "plain"]);
    const X = tf.tidy(() => nhwc(tf.tensor(f.X.data, f.X.shape)));
    const Y = pe.forward(X);
    const d = maxDiff(Y, f.Y, "PatchEmbedding(8, 4, 6)");
    t.diagnostic(`max |Y - torch| = ${d.toExponential(2)}`);
    assert.ok(d < TOL, `max |Y - torch| = ${d}`);
    tf.dispose([X, Y]);
    pe.dispose();
  });

  test("bad input says what was expected", () => {
    const pe = new d2l.PatchEmbedding(8, 4, 6, 3);
    assert.throws(() => pe.forward(tf.zeros([2, 3, 8, 8])), /\[batch, 8, 8, channels\] \(channels last\)/);
    assert.throws(() => pe.forward(tf.zeros([2, 8, 8, 1])), /1 channels but the layer was built for 3/);
    assert.throws(() => new d2l.PatchEmbedding(8, 16, 6), /larger than imgSize/);
    assert.throws(() => new d2l.PatchEmbedding(8, 4, 0), /numHiddens must be a positive integer/);
    pe.dispose();
  });
});

describe("ViTMLP and ViTBlock", () => {
  test("ViTMLP (GELU) values and parameter count vs torch, lazy input size", (t) => {
    const f = fx.mlp;
    const mlp = new d2l.ViTMLP(12, 5, 0.5);
    mlp.eval();
    const X = tf.tensor(f.X.data, f.X.shape);
    tf.dispose(mlp.forward(X));
    assert.equal(mlp.countParams(), f.params);
    setParams(f.names, 0.3, (name) => {
      const [layer, field] = name.split(".");
      const l = layer === "dense1" ? mlp.dense1! : mlp.dense2;
      return field === "weight" ? [l.weights[0], "linear"] : [l.weights[1], "plain"];
    });
    const Y = mlp.forward(X);
    const d = maxDiff(Y, f.Y, "ViTMLP");
    t.diagnostic(`max |Y - torch| = ${d.toExponential(2)}`);
    assert.ok(d < TOL, `max |Y - torch| = ${d}`);
    tf.dispose([X, Y]);
    mlp.dispose();
  });

  test("the book's ViTBlock(24, 24, 48, 8, 0.5) on [2, 100, 24]: shape, parameter count, values", (t) => {
    const f = fx.block;
    const blk = new d2l.ViTBlock(24, 24, 48, 8, 0.5);
    blk.eval();
    assert.equal(blk.countParams(), f.params);
    setParams(f.names, 0.2, (name) => blockVar(blk, name));
    const X = image([2, 100, 24]);
    const Y = blk.forward(X);
    assert.deepEqual(Y.shape, [2, 100, 24]);
    const head = tf.slice(Y, [0, 0, 0], [2, 6, 24]);
    const d = maxDiff(head, f.head, "Y[:, :6]");
    t.diagnostic(`max |Y - torch| = ${d.toExponential(2)}`);
    assert.ok(d < TOL, `max |Y - torch| = ${d}`);
    const sum = tf.sum(Y).dataSync()[0];
    assert.ok(Math.abs(sum - f.sum) < 1e-5 * f.absSum, `sum ${sum} vs torch ${f.sum}`);
    tf.dispose([X, Y, head]);
    blk.dispose();
  });

  test("ViTBlock with biases (useBias) matches torch", (t) => {
    const f = fx.blockBias;
    const blk = new d2l.ViTBlock(16, 16, 32, 4, 0.1, true);
    blk.eval();
    assert.equal(blk.countParams(), f.params);
    setParams(f.names, 0.2, (name) => blockVar(blk, name));
    const X = tf.tensor(f.X.data, f.X.shape);
    const Y = blk.forward(X);
    const d = maxDiff(Y, f.Y, "ViTBlock(useBias)");
    t.diagnostic(`max |Y - torch| = ${d.toExponential(2)}`);
    assert.ok(d < TOL, `max |Y - torch| = ${d}`);
    tf.dispose([X, Y]);
    blk.dispose();
  });

  test("dropout is on while training and off after eval()", () => {
    const blk = new d2l.ViTBlock(16, 16, 32, 4, 0.5);
    const X = image([2, 5, 16]);
    blk.eval();
    const a = blk.forward(X),
      b = blk.forward(X);
    assert.equal(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], 0);
    blk.train();
    const c = blk.forward(X);
    assert.ok(tf.max(tf.abs(tf.sub(a, c))).dataSync()[0] > 0);
    assert.throws(() => blk.forward(tf.zeros([2, 5, 8])), /\[batch, steps, 16\]/);
    assert.throws(() => new d2l.ViTBlock(16, 8, 32, 4, 0.5), /normShape must be numHiddens \(16\)/);
    tf.dispose([X, a, b, c]);
    blk.dispose();
  });
});

describe("ViT", () => {
  test("the book's ViT(96, 16, 512, 2048, 8, 2, 0.1, 0.1) on Fashion-MNIST-sized input: logits [batch, 10], torch's parameter count", () => {
    const f = fx.vitBook;
    const vit = new d2l.ViT(96, 16, 512, 2048, 8, 2, 0.1, 0.1);
    vit.eval();
    assert.equal(vit.countParams(), f.params);
    const X = tf.zeros([2, 96, 96, 1]);
    const Y = vit.forward(X);
    assert.deepEqual(Y.shape, f.shape);
    tf.dispose([X, Y]);
    const before = tf.memory().numTensors,
      weights = vit.weights.length;
    vit.dispose();
    assert.ok(before - tf.memory().numTensors >= weights, "dispose() frees every weight");
  });

  test("a tiny ViT's logits vs torch with fixed weights (eval mode)", (t) => {
    const f = fx.vitTiny;
    const vit = new d2l.ViT(8, 4, 16, 32, 4, 2, 0.1, 0.1);
    vit.eval();
    assert.equal(vit.countParams(), f.params);
    setParams(f.names, 0.2, (name) => vitVar(vit, name));
    const X = tf.tidy(() => nhwc(tf.tensor(f.X.data, f.X.shape)));
    const Y = vit.forward(X);
    const d = maxDiff(Y, f.Y, "ViT logits");
    t.diagnostic(`max |Y - torch| = ${d.toExponential(2)}`);
    assert.ok(d < TOL, `max |Y - torch| = ${d}`);
    assert.throws(() => vit.forward(tf.zeros([2, 8, 8, 3])), /\[batch, 8, 8, 1\] \(channels last\)/);
    tf.dispose([X, Y]);
    vit.dispose();
  });

  test("trains with d2l.fit through asNet(): the loss falls", async () => {
    const n = 64;
    // class 1: a bright top half; class 0: a bright bottom half; plus a fixed ripple
    const xs = new Float32Array(n * 8 * 8);
    const ys = new Int32Array(n);
    for (let e = 0; e < n; e++) {
      ys[e] = e % 2;
      for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) xs[e * 64 + r * 8 + c] = (r < 4 === (ys[e] === 1) ? 1 : 0) + 0.3 * Math.sin(e * 1.7 + r * 0.9 + c * 2.3);
    }
    const X = tf.tensor4d(xs, [n, 8, 8, 1]);
    const y = tf.tensor1d(ys, "int32");
    const trainIter = {
      numExamples: n,
      async *[Symbol.asyncIterator](): AsyncGenerator<tf.Tensor[]> {
        for (let i = 0; i < n; i += 16) yield [tf.slice(X, [i, 0, 0, 0], [16, 8, 8, 1]), tf.slice(y, [i], [16])];
      },
    };
    const vit = new d2l.ViT(8, 4, 16, 32, 4, 1, 0.1, 0.1, { numClasses: 2 });
    const loss = (yHat: tf.Tensor, t: tf.Tensor): tf.Tensor => d2l.losses.crossEntropy(yHat, t, { reduction: "none" });
    const optimizer = tf.train.adam(0.01);
    const r = await d2l.fit({ net: vit.asNet(), params: vit.trainableWeights, loss, updater: optimizer, trainIter, numEpochs: 8 });
    const first = r.history[0].trainLoss,
      last = r.history[r.history.length - 1].trainLoss;
    assert.ok(last < 0.7 * first, `loss ${first} -> ${last}`);
    assert.equal(vit.training, true, "asNet() set training mode for the training steps");
    tf.dispose(vit.asNet()(tf.slice(X, [0, 0, 0, 0], [1, 8, 8, 1]), false));
    assert.equal(vit.training, false, "and evaluation mode when called with training false");
    optimizer.dispose();
    tf.dispose([X, y]);
    vit.dispose();
  });
});
