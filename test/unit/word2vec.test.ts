// Tests of lib/text/word2vec.ts (the book's sections 14.1-14.4, Chinese edition), on the cpu backend.
// Reference values: test/fixtures/torch/word2vec.py (torch 1.13) -> word2vec.json.
import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/word2vec.json");
const SHARED = path.resolve(__dirname, "../../../../shared/data");
const TOL = 1e-5;
const ENV = ["D2L_DATA_DIR", "D2L_CACHE_DIR"];
const saved: Record<string, string | undefined> = {};
let tmp: string;

interface Fixture {
  skipGramBookShape: number[];
  skipGram: { embedV: number[][]; embedU: number[][]; center: number[][]; contextsAndNegatives: number[][]; pred: number[][][]; shape: number[] };
  bceBook: { pred: number[][]; label: number[][]; mask: number[][]; loss: number[]; scaled: number[]; noMask: number[] };
  bceRandom: { pred: number[][]; label: number[][]; mask: number[][]; loss: number[]; grad: number[][] };
  batchify: { centers: number[][]; contextsNegatives: number[][]; masks: number[][]; labels: number[][] };
  similar: { W: number[][]; query: number; cos: number[]; topk: number[] };
}
const fx = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as Fixture;

function maxDiff(a: tf.Tensor, b: number[] | number[][] | number[][][]): number {
  const want = tf.tensor(b);
  assert.deepEqual(a.shape, want.shape);
  const d = tf.max(tf.abs(tf.sub(a.toFloat(), want))).dataSync()[0];
  want.dispose();
  return d;
}

function embeddingWith(weights: number[][]): tf.layers.Layer {
  const e = tf.layers.embedding({ inputDim: weights.length, outputDim: weights[0].length });
  e.build([null, 1]);
  e.setWeights([tf.tensor2d(weights)]);
  return e;
}

before(async () => {
  await tf.setBackend("cpu");
  for (const k of ENV) saved[k] = process.env[k];
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-word2vec-"));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  d2l.seed(null);
});
afterEach(() => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe("skipGram (14.4)", () => {
  test("the book's shape: [2, 1, 4] with embed size 4", () => {
    const embed = tf.layers.embedding({ inputDim: 20, outputDim: 4 });
    const pred = d2l.skipGram(tf.ones([2, 1], "int32"), tf.ones([2, 4], "int32"), embed, embed);
    assert.deepEqual(pred.shape, fx.skipGramBookShape);
    assert.deepEqual(pred.shape, [2, 1, 4]);
    // parameters: 20 x 4, as torch's nn.Embedding(20, 4)
    assert.equal(embed.countParams(), 80);
  });

  test("values equal torch's with the same weights", () => {
    const c = fx.skipGram;
    const pred = d2l.skipGram(tf.tensor2d(c.center, undefined, "int32"), tf.tensor2d(c.contextsAndNegatives, undefined, "int32"), embeddingWith(c.embedV), embeddingWith(c.embedU));
    assert.deepEqual(pred.shape, c.shape);
    const d = maxDiff(pred, c.pred);
    assert.ok(d < TOL, `max difference ${d}`);
  });

  test("bad shapes say what was expected", () => {
    const embed = tf.layers.embedding({ inputDim: 20, outputDim: 4 });
    assert.throws(() => d2l.skipGram(tf.ones([2], "int32"), tf.ones([2, 4], "int32"), embed, embed), /center of shape \[batch, 1\]/);
    assert.throws(() => d2l.skipGram(tf.ones([2, 1], "int32"), tf.ones([3, 4], "int32"), embed, embed), /contextsAndNegatives of shape \[2, m\]/);
  });
});

describe("SigmoidBCELoss (14.4)", () => {
  const loss = new d2l.SigmoidBCELoss();

  test("the book's example: [0.9352, 1.8462] after rescaling by the mask", () => {
    const b = fx.bceBook;
    const mask = tf.tensor2d(b.mask);
    const l = loss.forward(tf.tensor2d(b.pred), tf.tensor2d(b.label), mask);
    assert.ok(maxDiff(l, b.loss) < TOL);
    const scaled = l.mul(mask.shape[1] as number).div(mask.sum(1));
    assert.ok(maxDiff(scaled, b.scaled) < TOL, `scaled ${scaled.arraySync()}`);
    const printed = Array.from(scaled.dataSync(), (v) => Number(v.toFixed(4)));
    assert.deepEqual(printed, [0.9352, 1.8462]);
    assert.ok(maxDiff(loss.forward(tf.tensor2d(b.pred), tf.tensor2d(b.label)), b.noMask) < TOL);
  });

  test("random logits with a mask: loss and gradient equal torch's (int mask and labels accepted)", () => {
    const r = fx.bceRandom;
    const label = tf.tensor2d(r.label, undefined, "int32");
    const mask = tf.tensor2d(r.mask, undefined, "int32");
    const x = tf.tensor2d(r.pred);
    const d = maxDiff(loss.forward(x, label, mask), r.loss);
    assert.ok(d < TOL, `loss max difference ${d}`);
    const g = tf.grad((p: tf.Tensor) => loss.forward(p, label, mask).sum())(x);
    const dg = maxDiff(g, r.grad);
    assert.ok(dg < TOL, `gradient max difference ${dg}`);
  });

  test("bad shapes say what was expected", () => {
    assert.throws(() => loss.forward(tf.ones([2, 4]), tf.ones([2, 3])), /target of shape \[2, 4\]/);
    assert.throws(() => loss.forward(tf.ones([2, 4]), tf.ones([2, 4]), tf.ones([4])), /mask of shape \[2, 4\]/);
    assert.throws(() => loss.forward(tf.ones([4]), tf.ones([4])), /inputs \(logits\) of shape \[batch, m\]/);
  });
});

describe("batchify (14.3)", () => {
  test("the book's example, exactly", () => {
    const x1: d2l.Word2vecExample = [1, [2, 2], [3, 3, 3, 3]];
    const x2: d2l.Word2vecExample = [1, [2, 2, 2], [3, 3]];
    const [centers, contextsNegatives, masks, labels] = d2l.batchify([x1, x2]);
    assert.deepEqual(centers.arraySync(), fx.batchify.centers);
    assert.deepEqual(contextsNegatives.arraySync(), fx.batchify.contextsNegatives);
    assert.deepEqual(masks.arraySync(), fx.batchify.masks);
    assert.deepEqual(labels.arraySync(), fx.batchify.labels);
    assert.deepEqual(contextsNegatives.arraySync(), [
      [2, 2, 3, 3, 3, 3],
      [2, 2, 2, 3, 3, 0],
    ]);
    assert.equal(centers.dtype, "int32");
    assert.equal(contextsNegatives.dtype, "int32");
  });

  test("bad examples are named", () => {
    assert.throws(() => d2l.batchify([]), /non-empty list/);
    assert.throws(() => d2l.batchify([[1, [2], 3]] as unknown as d2l.Word2vecExample[]), /example 0 must be \[center, context, negatives\]/);
  });
});

describe("getSimilarTokens (14.4)", () => {
  test("cosine similarities and order equal torch's; the query itself is left out", async () => {
    const s = fx.similar;
    const vocab = new d2l.Vocab(Array.from({ length: s.W.length - 1 }, (_, i) => `w${i + 1}`));
    assert.equal(vocab.length, s.W.length);
    const W = tf.tensor2d(s.W);
    const got = await d2l.getSimilarTokens(vocab.toTokens(s.query), 3, W, vocab);
    assert.deepEqual(
      got.map(([t]) => t),
      vocab.toTokens(s.topk.slice(1)),
    );
    for (const [t, c] of got) assert.ok(Math.abs(c - s.cos[vocab.toIndices(t)]) < TOL);
    // the same through an embedding layer
    const viaLayer = await d2l.getSimilarTokens(vocab.toTokens(s.query), 3, embeddingWith(s.W), vocab);
    assert.deepEqual(viaLayer, got);
    await assert.rejects(d2l.getSimilarTokens("nope", 3, W, vocab), /not in the vocabulary/);
    await assert.rejects(d2l.getSimilarTokens("w1", 12, W, vocab), /k must be an integer in 1\.\.11/);
  });
});

describe("subsampling, centres and contexts, negatives (14.3)", () => {
  const tinyDataset = [
    [0, 1, 2, 3, 4, 5, 6],
    [7, 8, 9],
  ];

  test("getCentersAndContexts on the book's tiny data set: windows of 1 or 2 around each centre; seeded runs repeat", () => {
    d2l.seed(3);
    const [centers, contexts] = d2l.getCentersAndContexts(tinyDataset, 2);
    assert.deepEqual(centers, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(contexts.length, 10);
    let k = 0;
    for (const line of tinyDataset) {
      for (let i = 0; i < line.length; i++, k++) {
        const options = [1, 2].map((w) => line.filter((_, j) => j !== i && Math.abs(j - i) <= w));
        assert.ok(
          options.some((o) => JSON.stringify(o) === JSON.stringify(contexts[k])),
          `context of ${line[i]}: ${JSON.stringify(contexts[k])}`,
        );
      }
    }
    d2l.seed(3);
    assert.deepEqual(d2l.getCentersAndContexts(tinyDataset, 2), [centers, contexts]);
    // sentences of fewer than 2 tokens give no pairs
    assert.deepEqual(d2l.getCentersAndContexts([[5], [], [1, 2]], 3), [
      [1, 2],
      [[2], [1]],
    ]);
    assert.throws(() => d2l.getCentersAndContexts(tinyDataset, 0), /maxWindowSize must be a positive integer/);
  });

  test("subsample drops <unk>, keeps sqrt(1e-4 / f) of each word, returns the counts; seeded runs repeat", () => {
    // 10,000 tokens: "rare" once (f = 1e-4, always kept), "common" 9,990 times (kept with p = sqrt(1e-4 / 0.999) ~ 0.01)
    const sentences: string[][] = [];
    for (let i = 0; i < 999; i++) sentences.push(Array(10).fill("common"));
    sentences.push(["rare", ...Array(9).fill("common")]);
    sentences.push(["gone"]);
    const vocab = new d2l.Vocab(sentences, { minFreq: 2 }); // "rare" and "gone" are <unk> here...
    const vocabAll = new d2l.Vocab(sentences.slice(0, 1000)); // ...and "gone" only is unknown here
    d2l.seed(0);
    const [sub, counter] = d2l.subsample(sentences, vocabAll);
    assert.equal(sub.length, sentences.length);
    assert.deepEqual(sub[sub.length - 1], []);
    assert.equal(counter.get("common"), 9999);
    assert.equal(counter.get("rare"), 1);
    assert.equal(counter.has("gone"), false);
    assert.ok(sub[999].includes("rare"), "a word with f = 1e-4 is always kept");
    const kept = sub.flat().filter((t) => t === "common").length;
    assert.ok(kept > 60 && kept < 145, `kept ${kept} of 9999 frequent words, expected about 100`);
    d2l.seed(0);
    assert.deepEqual(d2l.subsample(sentences, vocabAll), [sub, counter]);
    const [sub2] = d2l.subsample(sentences, vocab);
    assert.ok(!sub2.flat().includes("rare"));
  });

  test("RandomGenerator draws 1..n by weight, never a weight-0 index; getNegatives avoids the context", () => {
    d2l.seed(1);
    const generator = new d2l.RandomGenerator([2, 3, 4, 0]);
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 27000; i++) counts[generator.draw()]++;
    assert.equal(counts[0], 0);
    assert.equal(counts[4], 0);
    for (const [i, w] of [
      [1, 2],
      [2, 3],
      [3, 4],
    ])
      assert.ok(Math.abs(counts[i] / 27000 - w / 9) < 0.02, `index ${i}: ${counts[i]}`);
    assert.throws(() => new d2l.RandomGenerator([0, 0]), /sum to 0/);

    const vocab = new d2l.Vocab([["a", "a", "a", "b", "b", "c", "d"]]);
    const counter = d2l.countCorpus([["a", "a", "a", "b", "b", "c", "d"]]);
    const contexts = [[1, 2], [3], [1, 2, 3]];
    const negatives = d2l.getNegatives(contexts, vocab, counter, 4);
    assert.deepEqual(
      negatives.map((n) => n.length),
      [8, 4, 12],
    );
    negatives.forEach((neg, i) => {
      for (const w of neg) {
        assert.ok(w >= 1 && w < vocab.length);
        assert.ok(!contexts[i].includes(w));
      }
    });
    assert.throws(() => d2l.getNegatives([[1, 2, 3, 4]], vocab, counter, 1), /cannot find noise words/);
  });
});

describe("PTB (14.3)", () => {
  test("readPtb reads the real ptb.zip from D2L_DATA_DIR: 42069 sentences, 6719 words seen 10 times", async () => {
    assert.ok(fs.existsSync(path.join(SHARED, "ptb.zip")), `expected the offline data at ${SHARED} (see shared/data/README.md)`);
    process.env.D2L_DATA_DIR = SHARED;
    process.env.D2L_CACHE_DIR = tmp;
    const sentences = await d2l.readPtb({ quiet: true });
    assert.equal(sentences.length, 42069);
    assert.deepEqual(sentences[0].slice(0, 3), ["aer", "banknote", "berlitz"]);
    const vocab = new d2l.Vocab(sentences, { minFreq: 10 });
    assert.equal(vocab.length, 6719);
    // the zip named directly
    assert.equal((await d2l.readPtb({ root: path.join(SHARED, "ptb.zip") })).length, 42069);
  });

  test("loadDataPtb: the book's batch shapes, masks and labels consistent, a seeded shuffle repeats", async () => {
    process.env.D2L_DATA_DIR = SHARED;
    process.env.D2L_CACHE_DIR = tmp;
    d2l.seed(0);
    const [dataIter, vocab] = await d2l.loadDataPtb(512, 5, 5, { quiet: true });
    assert.equal(vocab.length, 6719);
    assert.equal(dataIter.numBatches, Math.ceil(dataIter.numExamples / 512));
    assert.ok(dataIter.numExamples > 300000 && dataIter.numExamples < 400000, `${dataIter.numExamples} examples`);
    let first: number[][] | undefined;
    for await (const [centers, contextsNegatives, masks, labels] of dataIter) {
      assert.deepEqual(centers.shape, [512, 1]);
      assert.deepEqual(contextsNegatives.shape, [512, 60]); // the book's: 2 x 5 context words + 5 noise words each
      // labels only where the mask is 1; padding (mask 0) holds index 0; noise words are 5 per context word
      assert.equal(tf.sum(tf.mul(labels, tf.sub(1, masks))).dataSync()[0], 0);
      assert.equal(tf.sum(tf.mul(contextsNegatives, tf.sub(1, masks).toInt())).dataSync()[0], 0);
      const nCtx = labels.sum(1).dataSync();
      const nAll = masks.sum(1).dataSync();
      nCtx.forEach((c, i) => assert.equal(nAll[i], 6 * c));
      first = contextsNegatives.arraySync();
      tf.dispose([centers, contextsNegatives, masks, labels]);
      break;
    }
    // the same seed, the same data and order
    d2l.seed(0);
    const [again] = await d2l.loadDataPtb(512, 5, 5, { quiet: true });
    for (const [c, cn, m, l] of again) {
      assert.deepEqual(cn.arraySync(), first);
      tf.dispose([c, cn, m, l]);
      break;
    }
  });

  test("a missing or corrupt zip gives a clear error", async () => {
    await assert.rejects(d2l.readPtb({ root: path.join(tmp, "nowhere") }), /does not exist; pass ptb\.zip/);
    const bad = path.join(tmp, "bad");
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, "ptb.zip"), "this is not a zip");
    await assert.rejects(d2l.readPtb({ root: bad }), /is not a readable zip file/);
    process.env.D2L_DATA_DIR = bad;
    process.env.D2L_CACHE_DIR = tmp;
    await assert.rejects(d2l.readPtb({ quiet: true }), /failed the checksum check/);
    const empty = path.join(tmp, "empty");
    fs.mkdirSync(empty);
    await assert.rejects(d2l.readPtb({ root: empty }), /holds neither ptb\.zip nor ptb\.train\.txt/);
  });
});
