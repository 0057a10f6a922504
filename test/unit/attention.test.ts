// The attention mechanisms of chapter 10 (lib/nn/attention.ts) against the book's PyTorch code run by
// test/fixtures/torch/attention.py (torch 1.13; weights drawn there, saved in torch's [out, in] layout and
// loaded here as tfjs kernels [in, out]): masked softmax with per-example and per-query valid lengths,
// additive and scaled dot-product attention (outputs and weights), transposeQkv / transposeOutput,
// multi-head attention (the book's shapes, values with fixed weights, with and without biases),
// positional encoding, parameter counts equal to torch's; and d2l.showHeatmaps (lib/plot/heatmap.ts).
// Within 1e-5 (float32). On the cpu backend.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { maxDiff, tensorOf, type FixtureTensor } from "./torch-fixtures";
import * as d2l from "../../lib/index";
import { VEGALITE_MIME } from "../../lib/index";

before(async () => {
  await tf.setBackend("cpu");
});

type T = FixtureTensor;
type Rec = Record<string, T>;
interface Fixture {
  torch: string;
  maskedSoftmax: { X: T; validLens: T | null; out: T }[];
  additive: Rec & { params: number; config: { keySize: number; querySize: number; numHiddens: number; dropout: number } };
  dot: Rec;
  transpose: Rec & { numHeads: number };
  multiHead: Rec & { params: number };
  multiHeadBias: Rec & { params: number; config: { keySize: number; querySize: number; valueSize: number; numHiddens: number; numHeads: number; dropout: number; bias: boolean } };
  positional: Rec & { numHiddens: number; params: number; rows: number[] };
}

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/attention.json");
const fx = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as Fixture;

const TOL = 1e-5;

const t = tensorOf;

/** tfjs kernel [in, out] from torch's nn.Linear weight [out, in]. */
function kernel(w: T): tf.Tensor {
  return tf.transpose(t(w));
}

function close(got: tf.Tensor, want: T, what: string): void {
  const d = maxDiff(got, want, what);
  assert.ok(d <= TOL, `${what}: max |difference| ${d} > ${TOL}`);
}

/** The formula weights of the book's multi-head configuration (see attention.py): 0.1 sin(0.37 k + c) in torch's [out, in] layout. */
function formulaKernel(outSize: number, inSize: number, c: number): tf.Tensor {
  const w = Float32Array.from({ length: outSize * inSize }, (_, k) => 0.1 * Math.sin(0.37 * k + c));
  return tf.transpose(tf.tensor2d(w, [outSize, inSize]));
}

describe("attention (chapter 10) against PyTorch", () => {
  test("the fixture was made by torch 1.13", () => {
    assert.match(fx.torch, /^1\.13/);
  });

  test("maskedSoftmax: valid lengths per example ([batch]) and per query ([batch, queries]), none, and 0", () => {
    for (const [i, c] of fx.maskedSoftmax.entries()) {
      close(d2l.maskedSoftmax(t(c.X), c.validLens ? t(c.validLens) : undefined), c.out, `case ${i}`);
    }
    // float valid lengths work too (the book's torch.tensor([2, 3]) is int64; sequence_mask compares as floats)
    const c0 = fx.maskedSoftmax[0];
    close(d2l.maskedSoftmax(t(c0.X), tf.tensor1d([2, 3], "float32")), c0.out, "float lengths");
    // the book's first example: masked entries are exactly 0
    const w = d2l.maskedSoftmax(tf.randomUniform([2, 2, 4]), tf.tensor1d([2, 3], "int32")).arraySync() as number[][][];
    assert.deepEqual([w[0][0][2], w[0][0][3], w[1][1][3]], [0, 0, 0]);
  });

  test("maskedSoftmax rejects bad shapes with what it expected", () => {
    const X = tf.zeros([2, 3, 4]);
    assert.throws(() => d2l.maskedSoftmax(tf.zeros([2, 4]), tf.tensor1d([1, 2])), /X must be a tensor of shape \[batch, steps, features\], got a tensor of shape \[2, 4\]/);
    assert.throws(
      () => d2l.maskedSoftmax(X, tf.tensor1d([1, 2, 3])),
      /validLens must be \[2\] \(one valid length per example\) or \[2, 3\] \(one per query\).*got a tensor of shape \[3\]/,
    );
    assert.throws(() => d2l.maskedSoftmax(X, tf.zeros([2, 4])), /or \[2, 3\] \(one per query\)/);
  });

  test("AdditiveAttention: outputs and weights with torch's weights, per-example and per-query valid lengths; 184 parameters as torch", () => {
    const a = fx.additive;
    const { keySize, querySize, numHiddens, dropout } = a.config;
    const att = new d2l.AdditiveAttention(keySize, querySize, numHiddens, dropout);
    assert.equal(att.countParams(), a.params);
    assert.equal(a.params, 184);
    assert.equal(att.attentionWeights === undefined, true, "no weights before the first forward");
    att.Wk.setWeights([kernel(a.W_k)]);
    att.Wq.setWeights([kernel(a.W_q)]);
    att.wv.setWeights([kernel(a.w_v)]);
    att.eval();
    close(att.forward(t(a.queries), t(a.keys), t(a.values), t(a.validLens)), a.out, "output (the book's keys of ones)");
    close(att.attentionWeights as tf.Tensor, a.weights, "weights (the book's keys of ones)");
    close(att.forward(t(a.queries), t(a.keysRandom), t(a.values), t(a.validLens)), a.outRandom, "output (random keys)");
    close(att.attentionWeights as tf.Tensor, a.weightsRandom, "weights (random keys)");
    close(att.forward(t(a.queries), t(a.keysRandom), t(a.values), t(a.validLens2d)), a.out2d, "output (per-query lengths)");
    close(att.attentionWeights as tf.Tensor, a.weights2d, "weights (per-query lengths)");
    assert.deepEqual(att.attentionWeights?.shape, [2, 1, 10]);
    assert.throws(() => att.forward(t(a.queries), tf.ones([2, 10, 3]), t(a.values)), /keys must be a tensor of shape \[batch, steps, 2\], got a tensor of shape \[2, 10, 3\]/);
    assert.throws(() => att.forward(t(a.queries), t(a.keys), tf.ones([2, 9, 4])), /one value per key/);
    assert.throws(() => new d2l.AdditiveAttention(2, 20, 0, 0.1), /numHiddens must be a positive integer, got 0/);
    assert.throws(() => new d2l.AdditiveAttention(2, 20, 8, 1), /dropout must be a number in \[0, 1\), got 1/);
    att.dispose();
  });

  test("DotProductAttention: scaled scores, outputs and weights, per-example, per-query and no valid lengths; no parameters", () => {
    const d = fx.dot;
    const att = new d2l.DotProductAttention(0.5);
    assert.equal(att.countParams(), 0);
    att.eval();
    close(att.forward(t(d.queries), t(d.keys), t(d.values), t(d.validLens)), d.out, "output");
    close(att.attentionWeights as tf.Tensor, d.weights, "weights");
    close(att.forward(t(d.queries3), t(d.keys), t(d.values), t(d.validLens2d)), d.out2d, "output (per-query lengths)");
    close(att.attentionWeights as tf.Tensor, d.weights2d, "weights (per-query lengths)");
    close(att.forward(t(d.queries3), t(d.keys), t(d.values)), d.outNone, "output (no lengths)");
    close(att.attentionWeights as tf.Tensor, d.weightsNone, "weights (no lengths)");
    assert.throws(() => att.forward(tf.ones([2, 1, 3]), t(d.keys), t(d.values)), /queries and keys must have the same size/);
    att.dispose();
  });

  test("dropout acts on the weights only while training; the kept attentionWeights are before dropout", () => {
    const att = new d2l.DotProductAttention(0.5);
    const q = tf.ones([1, 1, 2]);
    const k = tf.ones([1, 50, 2]);
    const v = tf.eye(50).reshape([1, 50, 50]); // the output is the weights themselves, after dropout
    assert.equal(att.training, true, "a new layer trains, as a new nn.Module");
    const y = Array.from(att.forward(q, k, v).dataSync());
    assert.ok(
      y.every((x) => x === 0 || Math.abs(x - 0.04) < 1e-7),
      "each weight 1/50 dropped or doubled",
    );
    assert.ok(y.some((x) => x === 0) && y.some((x) => x > 0), "some dropped, some kept (all 50 the same: chance 2^-49)");
    const w = (att.attentionWeights as tf.Tensor).dataSync();
    assert.ok(
      w.every((x) => Math.abs(x - 0.02) < 1e-7),
      "weights kept before dropout",
    );
    att.eval();
    assert.ok(
      att
        .forward(q, k, v)
        .dataSync()
        .every((x) => Math.abs(x - 0.02) < 1e-7),
      "no dropout after eval()",
    );
    att.dispose();
  });

  test("the kept weights do not leak: one tensor per layer, replaced at each call and freed by dispose", () => {
    const att = new d2l.DotProductAttention(0);
    const q = tf.ones([2, 3, 4]);
    att.forward(q, q, q).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) att.forward(q, q, q).dispose();
    assert.equal(tf.memory().numTensors, before);
    att.dispose();
    assert.equal(tf.memory().numTensors, before - 1);
    assert.equal(att.attentionWeights, undefined);
  });

  test("gradients flow through attention (the kept copy does not break the tape)", () => {
    const att = new d2l.AdditiveAttention(2, 3, 4, 0);
    const q = tf.randomNormal([2, 2, 3]);
    const k = tf.randomNormal([2, 5, 2]);
    const v = tf.randomNormal([2, 5, 3]);
    const { grads } = tf.variableGrads(
      () => tf.sum(att.forward(q, k, v, tf.tensor1d([2, 4]))) as tf.Scalar,
      att.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val),
    );
    assert.equal(Object.keys(grads).length, 3);
    for (const g of Object.values(grads)) assert.ok(g.dataSync().every(Number.isFinite));
    att.dispose();
  });

  test("transposeQkv and transposeOutput are the book's reshapes, and undo each other", () => {
    const c = fx.transpose;
    const qkv = d2l.transposeQkv(t(c.X), c.numHeads);
    close(qkv, c.qkv, "transposeQkv");
    close(d2l.transposeOutput(qkv, c.numHeads), c.back, "transposeOutput");
    assert.deepEqual(d2l.transposeQkv(tf.zeros([2, 4, 100]), 5).shape, [10, 4, 20]);
    assert.throws(() => d2l.transposeQkv(tf.zeros([2, 4, 10]), 3), /last axis \(10\).*multiple of numHeads \(3\)/);
    assert.throws(() => d2l.transposeOutput(tf.zeros([5, 4, 10]), 2), /first axis \(5\).*multiple of numHeads \(2\)/);
  });

  test("MultiHeadAttention, the book's configuration: [2, 4, 100] from 5 heads, torch's values with fixed weights, 40,000 parameters", () => {
    const m = fx.multiHead;
    const att = new d2l.MultiHeadAttention(100, 100, 100, 100, 5, 0.5);
    assert.equal(att.countParams(), m.params);
    assert.equal(m.params, 40000);
    att.eval();
    // the book's shape check
    const X = tf.ones([2, 4, 100]);
    const Y = tf.ones([2, 6, 100]);
    assert.deepEqual(att.forward(X, Y, Y, tf.tensor1d([3, 2])).shape, [2, 4, 100]);
    // values
    [att.Wq, att.Wk, att.Wv, att.Wo].forEach((layer, c) => layer.setWeights([formulaKernel(100, 100, c)]));
    close(tf.transpose(att.Wo.getWeights()[0]).slice([0, 0], [2, 5]), m.W_o_check, "the formula weights are torch's");
    close(att.forward(t(m.X), t(m.Y), t(m.Y), t(m.validLens)), m.out, "output");
    close(att.attentionWeights as tf.Tensor, m.weights, "weights [batch * heads, queries, keys]");
    assert.throws(() => att.forward(t(m.X), t(m.Y), t(m.Y), tf.tensor1d([3, 2, 1])), /validLens must be \[2\] \(one per example\) or \[2, 4\] \(one per query\)/);
    assert.throws(() => new d2l.MultiHeadAttention(100, 100, 100, 100, 3, 0.5), /numHiddens \(100\) must be a multiple of numHeads \(3\)/);
    att.dispose();
  });

  test("MultiHeadAttention with biases and different key, query and value sizes, per-query valid lengths: torch's values and parameter count", () => {
    const m = fx.multiHeadBias;
    const { keySize, querySize, valueSize, numHiddens, numHeads, dropout, bias } = m.config;
    const att = new d2l.MultiHeadAttention(keySize, querySize, valueSize, numHiddens, numHeads, dropout, bias);
    assert.equal(att.countParams(), m.params);
    att.Wq.setWeights([kernel(m.W_q), t(m.b_q)]);
    att.Wk.setWeights([kernel(m.W_k), t(m.b_k)]);
    att.Wv.setWeights([kernel(m.W_v), t(m.b_v)]);
    att.Wo.setWeights([kernel(m.W_o), t(m.b_o)]);
    att.eval();
    close(att.forward(t(m.queries), t(m.keys), t(m.values), t(m.validLens)), m.out, "output");
    close(att.attentionWeights as tf.Tensor, m.weights, "weights");
    att.dispose();
  });

  test("PositionalEncoding: torch's P (the book's 60 x 32 figure, and rows up to 999), forward adds it; no parameters", () => {
    const p = fx.positional;
    const pe = new d2l.PositionalEncoding(p.numHiddens, 0);
    assert.equal(pe.countParams(), p.params);
    assert.equal(p.params, 0);
    assert.deepEqual(pe.P.shape, [1, 1000, 32]);
    close(tf.slice(pe.P, [0, 0, 0], [1, 60, 32]).reshape([60, 32]), p.P60, "P[:60]");
    close(tf.gather(pe.P.reshape([1000, 32]), p.rows), p.Prows, `P rows ${p.rows.join(", ")}`);
    pe.eval();
    close(pe.forward(t(p.X)), p.out, "forward");
    assert.throws(() => pe.forward(tf.zeros([1, 4, 30])), /X must be a tensor of shape \[batch, steps, 32\], got a tensor of shape \[1, 4, 30\]/);
    assert.throws(() => new d2l.PositionalEncoding(31, 0), /numHiddens must be even/);
    assert.throws(() => new d2l.PositionalEncoding(32, 0, 10).forward(tf.zeros([1, 11, 32])), /11 steps, more than maxLen 10/);
    pe.dispose();
    assert.ok(pe.P.isDisposed);
  });
});

describe("showHeatmaps", () => {
  type HSpec = {
    facet: { column: { header: Record<string, unknown> } };
    data: { values: { r: number; c: number; q: number; k: number; v: number }[] };
    spec: { width: number; height: number; encoding: { color: { scale: { scheme: string; reverse: boolean; domain: number[] } }; x: { title: string }; y: { title: string } } };
  };

  test("one matrix: a figure with a vega-lite spec and a PNG, as the book's attention heat map", () => {
    const fig = d2l.showHeatmaps(tf.eye(10).reshape([1, 1, 10, 10]), "Keys", "Queries");
    assert.ok(fig instanceof d2l.Figure);
    const spec = fig.spec as unknown as HSpec;
    assert.equal(spec.data.values.length, 100);
    assert.equal(spec.spec.encoding.x.title, "Keys");
    assert.equal(spec.spec.encoding.y.title, "Queries");
    assert.deepEqual(spec.spec.encoding.color.scale, { scheme: "reds", reverse: false, domain: [0, 1] });
    assert.equal(fig.text, "<heatmaps: 1x1 panel of 10x10 (Queries x Keys), values 0..1>");
    const b = fig.bundle();
    assert.ok(VEGALITE_MIME in b);
    const png = Buffer.from(b["image/png"] as string, "base64");
    assert.deepEqual([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(""), "PNG");
    assert.ok(png.length > 500);
  });

  test("a grid of panels with titles per column, from nested arrays; a reversed colour map", () => {
    const m = [0, 1].map((r) =>
      [0, 1, 2].map((c) => [
        [r, c],
        [c, r],
        [1, 1],
      ]),
    ); // [2, 3, 3, 2]
    const fig = d2l.showHeatmaps(m, "Key positions", "Query positions", { titles: ["Head 1", "Head 2", "Head 3"], figsize: [7, 3.5], cmap: "Blues_r" });
    const spec = fig.spec as unknown as HSpec;
    assert.equal(spec.data.values.length, 2 * 3 * 3 * 2);
    assert.deepEqual(
      spec.data.values.find((v) => v.r === 1 && v.c === 2 && v.q === 0 && v.k === 1),
      { r: 1, c: 2, q: 0, k: 1, v: 2 },
    );
    assert.match(String(spec.facet.column.header.labelExpr), /\["Head 1","Head 2","Head 3"\]\[datum\.value\]/);
    assert.deepEqual(spec.spec.encoding.color.scale, { scheme: "blues", reverse: true, domain: [0, 2] });
    assert.ok(Math.abs(spec.spec.width / 2 - spec.spec.height / 3) < 0.5, "square cells (to the pixel)");
    assert.match(fig.text, /^<heatmaps: 2x3 panels of 3x2 \(Query positions x Key positions\), values 0\.\.2; titles Head 1, Head 2, Head 3>$/);
    assert.ok(typeof fig.bundle()["image/png"] === "string");
  });

  test("rejects a bad shape, bad labels and an unknown colour map with what it expected", () => {
    assert.throws(
      () => d2l.showHeatmaps(tf.zeros([10, 10]), "Keys", "Queries"),
      /matrices must be a tensor or nested arrays of shape \[rows, cols, numQueries, numKeys\].*got a tensor of shape \[10, 10\]/,
    );
    assert.throws(() => d2l.showHeatmaps([[[1, 2]]] as unknown as number[][][][], "Keys", "Queries"), /nested arrays only 3 deep/);
    assert.throws(() => d2l.showHeatmaps([[[[1, 2], [3]]]], "Keys", "Queries"), /matrices\[0\]\[0\]\[1\] must have 2 values/);
    assert.throws(() => d2l.showHeatmaps(tf.zeros([1, 1, 0, 3]), "Keys", "Queries"), /no zero size/);
    assert.throws(() => d2l.showHeatmaps(tf.zeros([1, 1, 2, 3]), "Keys", "Queries", { cmap: "Redz" }), /unknown cmap "Redz"/);
    assert.throws(() => d2l.showHeatmaps(tf.zeros([1, 1, 2, 3]), "Keys", "Queries", { figsize: [0, 2] }), /figsize must be \[width, height\]/);
    assert.throws(() => d2l.showHeatmaps(tf.zeros([1, 1, 2, 3]), 3 as unknown as string, "Queries"), /xlabel must be a string/);
  });
});
