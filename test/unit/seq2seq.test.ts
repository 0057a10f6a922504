// Tests of the encoder-decoder models (lib/nn/encoderDecoder.ts) and their training and decoding
// (lib/train/seq2seq.ts): values worked out by hand, a tiny translation task learned, greedy and beam
// search compared on a hand-built decoder with the book's toy probabilities (9.8).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { zipSync, strToU8 } from "fflate";
import * as d2l from "../../lib/index";

let tmp: string;
before(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-seq2seq-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function near(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `at ${i}: ${actual[i]} != ${expected[i]}`);
}

describe("sequenceMask and MaskedSoftmaxCELoss (the book's 9.7.3)", () => {
  test("sequenceMask keeps each row's first validLen steps (the book's examples)", () => {
    const m = d2l.sequenceMask(
      tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      tf.tensor1d([1, 2]),
    );
    assert.deepEqual(m.arraySync(), [
      [1, 0, 0],
      [4, 5, 0],
    ]);
    const m3 = d2l.sequenceMask(tf.ones([2, 3, 4]), tf.tensor1d([1, 2], "int32"), -1);
    assert.deepEqual(m3.arraySync(), [
      [
        [1, 1, 1, 1],
        [-1, -1, -1, -1],
        [-1, -1, -1, -1],
      ],
      [
        [1, 1, 1, 1],
        [1, 1, 1, 1],
        [-1, -1, -1, -1],
      ],
    ]);
    const mi = d2l.sequenceMask(tf.tensor2d([[7, 8]], undefined, "int32"), tf.tensor1d([0], "int32"), 9);
    assert.equal(mi.dtype, "int32");
    assert.deepEqual(mi.arraySync(), [[9, 9]]);
    assert.throws(() => d2l.sequenceMask(tf.ones([2, 3]), tf.tensor1d([1, 2, 3])), /validLen of shape \[2\]/);
    tf.dispose([m, m3, mi]);
  });

  test("uniform scores over V classes cost log V per valid token, summed and divided by the steps", () => {
    const loss = new d2l.MaskedSoftmaxCELoss();
    // the book's example: ones(3, 4, 10), labels ones(3, 4), valid lengths [4, 2, 0]
    const l = loss.forward(tf.ones([3, 4, 10]), tf.ones([3, 4], "int32"), tf.tensor1d([4, 2, 0], "int32"));
    near(l.dataSync(), [Math.log(10), (2 * Math.log(10)) / 4, 0]);
    assert.equal(l.dataSync()[0].toFixed(4), "2.3026");
    assert.equal(l.dataSync()[1].toFixed(4), "1.1513");
    // scores [0, log 3] over 2 classes: p = [1/4, 3/4]; labels [1, 0, 1] with 2 valid steps of 3
    const pred = tf.tensor3d([
      [
        [0, Math.log(3)],
        [0, Math.log(3)],
        [0, Math.log(3)],
      ],
    ]);
    const l2 = loss.forward(pred, tf.tensor2d([[1, 0, 1]], undefined, "int32"), tf.tensor1d([2], "int32"));
    near(l2.dataSync(), [(-Math.log(3 / 4) - Math.log(1 / 4)) / 3]);
    assert.throws(() => loss.forward(tf.ones([3, 4, 10]), tf.ones([3, 5], "int32"), tf.tensor1d([1, 1, 1])), /label of shape \[3, 4\]/);
    tf.dispose([l, l2, pred]);
  });
});

describe("Seq2SeqEncoder, Seq2SeqDecoder, EncoderDecoder (the book's 9.6-9.7)", () => {
  test("the book's shapes: outputs [batch, steps, hiddens], state [layers, batch, hiddens], scores [batch, steps, vocab]", () => {
    const encoder = new d2l.Seq2SeqEncoder(10, 8, 16, 2);
    encoder.eval();
    const X = tf.zeros([4, 7], "int32");
    const [output, state] = encoder.forward(X);
    assert.deepEqual(output.shape, [4, 7, 16]);
    assert.deepEqual(state.shape, [2, 4, 16]);
    // the last layer's final state is its last output
    near(tf.slice(output, [0, 6, 0], [4, 1, 16]).dataSync(), Array.from(tf.slice(state, [1, 0, 0], [1, 4, 16]).dataSync()));
    const decoder = new d2l.Seq2SeqDecoder(10, 8, 16, 2);
    decoder.eval();
    const decState = decoder.initState(encoder.forward(X));
    const [Y, [enc, hidden]] = decoder.forward(X, decState);
    assert.deepEqual(Y.shape, [4, 7, 10]);
    assert.deepEqual(hidden.shape, [2, 4, 16]);
    assert.equal(enc, decState[0], "the context stays the encoder's");
    const net = new d2l.EncoderDecoder(encoder, decoder);
    const [Y2] = net.forward(X, X);
    near(Y2.dataSync(), Array.from(Y.dataSync()));
    assert.throws(() => encoder.forward(tf.zeros([4, 7, 1])), /token indices of shape \[batch, numSteps\], got \[4,7,1\]/);
    assert.throws(() => new d2l.Seq2SeqEncoder(10, 8, 16, 0), /numLayers must be a positive integer/);
    assert.throws(() => new d2l.Seq2SeqDecoder(10, 8, 16, 1, 1.5), /dropout must be a number in \[0, 1\)/);
  });

  test("weights are found in the layers a block holds; train() and eval() reach the blocks inside", () => {
    const net = new d2l.EncoderDecoder(new d2l.Seq2SeqEncoder(10, 8, 16, 2, 0.5), new d2l.Seq2SeqDecoder(12, 8, 16, 2, 0.5));
    // encoder: embedding + 2 GRUs x (kernel, recurrent kernel, bias, recurrent bias); decoder: the same + dense (kernel, bias)
    assert.equal(net.encoder.trainableWeights.length, 9);
    assert.equal(net.decoder.trainableWeights.length, 11);
    assert.equal(net.trainableWeights.length, 20);
    // PyTorch's counts: embedding 10*8; GRU layer 1 (8*48 + 16*48 + 2*48), layer 2 (16*48 + 16*48 + 2*48);
    // decoder: 12*8; layer 1 takes embedding and context ((8+16)*48 + 16*48 + 2*48); dense 16*12 + 12
    assert.equal(net.encoder.countParams(), 80 + 1248 + 1632);
    assert.equal(net.decoder.countParams(), 96 + 2016 + 1632 + 204);
    net.eval();
    assert.equal(net.encoder.training, false);
    assert.equal((net.decoder as d2l.Seq2SeqDecoder).rnn.training, false);
    // without dropout (eval) the same input gives the same output; with it (train) not
    const X = tf.tensor2d([[1, 2, 3]], undefined, "int32");
    const a = net.forward(X, X)[0].dataSync();
    const b = net.forward(X, X)[0].dataSync();
    near(a, Array.from(b), 0);
    net.train();
    assert.equal(net.encoder.training, true);
    const c = net.forward(X, X)[0].dataSync();
    assert.ok(
      Array.from(c).some((v, i) => Math.abs(v - a[i]) > 1e-6),
      "dropout changes the output in training mode",
    );
  });
});

/** Toy pairs: one or two English words, "translated" word by word into their French counterparts in reverse order. */
function toyPairs(): string[] {
  const words = ["red", "blue", "cat", "dog", "big", "sees"];
  const fr: Record<string, string> = { red: "rouge", blue: "bleu", cat: "chat", dog: "chien", big: "grand", sees: "voit" };
  let s = 7;
  const next = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return Math.floor((s / 2147483648) * words.length); // the high bits: an LCG's low bits repeat quickly
  };
  return Array.from({ length: 60 }, (_, i) => {
    const en = Array.from({ length: 1 + (i % 2) }, () => words[next()]);
    return `${en.join(" ")}.\t${en
      .map((w) => fr[w])
      .reverse()
      .join(" ")}.`;
  });
}

describe("trainSeq2seq and predictSeq2seq", () => {
  test("a small GRU seq2seq learns the toy task: loss falls, no tensor leaks, greedy translations of training pairs are right", async () => {
    const dir = path.join(tmp, "toy");
    fs.mkdirSync(dir, { recursive: true });
    const pairs = toyPairs();
    fs.writeFileSync(path.join(dir, "fra-eng.zip"), Buffer.from(zipSync({ "fra-eng/fra.txt": strToU8(pairs.join("\n") + "\n") })));
    const [trainIter, srcVocab, tgtVocab] = await d2l.loadDataNmt(20, 4, 59, { root: dir, seed: 3, quiet: true });
    assert.equal(trainIter.numExamples, 60);
    assert.equal(srcVocab.length, 4 + 7); // <unk> <pad> <bos> <eos>, ".", six words
    const net = new d2l.EncoderDecoder(new d2l.Seq2SeqEncoder(srcVocab.length, 8, 16, 1), new d2l.Seq2SeqDecoder(tgtVocab.length, 8, 16, 1));
    const counts: number[] = [];
    const summary: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void summary.push(a.join(" "));
    let r: d2l.TrainSeq2seqResult;
    try {
      r = await d2l.trainSeq2seq(net, trainIter, 0.05, 15, tgtVocab, d2l.tryGpu(), {
        progress: false,
        animator: { add: () => undefined },
        callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }],
      });
    } finally {
      console.log = log;
    }
    assert.equal(r.losses.length, 15);
    assert.ok(r.losses[14] < r.losses[0] / 5, `loss ${r.losses[0]} → ${r.losses[14]}`);
    assert.ok(r.tokensPerSec > 0);
    assert.equal(counts[counts.length - 1], counts[1], "no tensor leaks across epochs");
    assert.match(summary.join("\n"), /^loss \d\.\d{3}, \d+\.\d tokens\/sec on cpu$/m);
    const before = tf.memory().numTensors;
    let right = 0;
    for (const line of pairs) {
      const [src, tgt] = d2l.preprocessNmt(line).split("\t");
      const [translation, attention] = await d2l.predictSeq2seq(net, src, srcVocab, tgtVocab, 4, d2l.tryGpu(), true);
      assert.deepEqual(attention, [], "no attention weights in this decoder");
      if (translation === tgt) right++;
    }
    assert.ok(right >= 50, `${right} of 60 training pairs translated exactly`);
    assert.equal(tf.memory().numTensors, before, "prediction frees what it made");
    assert.equal(net.encoder.training, false, "predictSeq2seq leaves the net in eval mode, as the book's");

    // beam search with beam size 1 is greedy search
    for (const src of ["red cat .", "dog .", "sees big .", "blue blue ."]) {
      const [greedy] = await d2l.predictSeq2seq(net, src, srcVocab, tgtVocab, 4);
      const beam = await d2l.predictSeq2seqBeam(net, src, srcVocab, tgtVocab, 4, 1);
      assert.equal(beam.translation, greedy, src);
      assert.equal(beam.candidates.length, 1);
    }
    // a wider beam: candidates best first by score
    const wide = await d2l.predictSeq2seqBeam(net, "red cat .", srcVocab, tgtVocab, 4, 4, { alpha: 0.75 });
    assert.ok(wide.candidates.length >= 1 && wide.candidates.every((c, i) => i === 0 || c.score <= wide.candidates[i - 1].score));
    assert.equal(tf.memory().numTensors, before);
  });

  test("wrong arguments get clear errors", async () => {
    const vocab = new d2l.Vocab([["a"]], { reservedTokens: ["<pad>", "<bos>", "<eos>"] });
    const net = new d2l.EncoderDecoder(new d2l.Seq2SeqEncoder(5, 2, 2, 1), new d2l.Seq2SeqDecoder(5, 2, 2, 1));
    const iter = { async *[Symbol.asyncIterator](): AsyncGenerator<tf.Tensor[]> {} };
    await assert.rejects(d2l.trainSeq2seq({} as d2l.EncoderDecoder, iter, 0.1, 1, vocab), /expects a d2l.EncoderDecoder/);
    await assert.rejects(d2l.trainSeq2seq(net, iter, 0, 1, vocab), /lr must be a positive number/);
    await assert.rejects(d2l.trainSeq2seq(net, iter, 0.1, 1, new d2l.Vocab([["a"]])), /target vocabulary has no <bos>/);
    const twoTensors = {
      numBatches: 1,
      async *[Symbol.asyncIterator](): AsyncGenerator<tf.Tensor[]> {
        yield [tf.zeros([1, 3], "int32"), tf.zeros([1, 3], "int32")];
      },
    };
    await assert.rejects(
      d2l.trainSeq2seq(net, twoTensors, 0.1, 1, vocab, undefined, { progress: false, animator: false, verbose: false }),
      /each batch must be \[X, XValidLen, Y, YValidLen\]/,
    );
    await assert.rejects(d2l.predictSeq2seqBeam(net, "a", vocab, vocab, 3, 0), /beamSize must be a positive integer/);
  });
});

// ---- beam search on a hand-built decoder: the book's toy probabilities (figures 9.8.1 and 9.8.2) ----

const TOY = new d2l.Vocab([["A", "B", "C"]], { reservedTokens: ["<pad>", "<bos>", "<eos>"] }); // <unk> 0, <pad> 1, <bos> 2, <eos> 3, A 4, B 5, C 6
/** P(next token | prefix), over [A, B, C, <eos>]. */
const TABLE: Record<string, [number, number, number, number]> = {
  "": [0.5, 0.2, 0.2, 0.1],
  A: [0.1, 0.4, 0.3, 0.2],
  "A B": [0.2, 0.2, 0.4, 0.2],
  "A B C": [0.1, 0.1, 0.2, 0.6],
  "A C": [0.1, 0.6, 0.2, 0.1],
  "A C B": [0.2, 0.1, 0.1, 0.6],
};
const OTHER: [number, number, number, number] = [0.1, 0.1, 0.1, 0.7];

function toyProbs(prefix: string): number[] {
  const [a, b, c, eos] = TABLE[prefix] ?? OTHER;
  return [1e-9, 1e-9, 1e-9, eos, a, b, c]; // <unk>, <pad>, <bos> all but impossible
}

class ToyEncoder extends d2l.Encoder<tf.Tensor> {
  forward(X: tf.Tensor): tf.Tensor {
    return X;
  }
}

/** The state is the prefix decoded so far; the scores are the table's log-probabilities for it. */
class ToyDecoder extends d2l.Decoder<tf.Tensor, string[]> {
  initState(): string[] {
    return [];
  }
  forward(X: tf.Tensor, state: string[]): [tf.Tensor, string[]] {
    const token = TOY.toTokens(X.dataSync()[0]);
    const prefix = token === "<bos>" ? [] : [...state, token];
    return [tf.log(tf.tensor3d(toyProbs(prefix.join(" ")), [1, 1, 7])), prefix];
  }
}

describe("beam search (the book's 9.8) on the book's toy probabilities", () => {
  const net = new d2l.EncoderDecoder(new ToyEncoder(), new ToyDecoder());

  test("greedy takes A B C <eos> (P = 0.048); beam size 2 finds A C B <eos> (P = 0.054), which greedy misses", async () => {
    const [greedy] = await d2l.predictSeq2seq(net, "x", TOY, TOY, 5);
    assert.equal(greedy, "A B C");
    const one = await d2l.predictSeq2seqBeam(net, "x", TOY, TOY, 5, 1);
    assert.equal(one.translation, "A B C");
    assert.ok(Math.abs(Math.exp(one.candidates[0].logProb) - 0.5 * 0.4 * 0.4 * 0.6) < 1e-6);
    const two = await d2l.predictSeq2seqBeam(net, "x", TOY, TOY, 5, 2);
    assert.equal(two.translation, "A C B");
    const best = two.candidates[0];
    assert.ok(Math.abs(Math.exp(best.logProb) - 0.5 * 0.3 * 0.6 * 0.6) < 1e-6, `P ${Math.exp(best.logProb)}`);
    assert.equal(best.length, 4); // three tokens and <eos>
    assert.ok(best.ended);
    assert.ok(Math.abs(best.score - Math.log(0.054) / Math.pow(4, 0.75)) < 1e-6);
    assert.deepEqual(
      two.candidates.map((c) => c.translation),
      ["A C B", "A B C"],
    );
  });

  /** Exhaustive search over every sequence of up to 4 tokens and <eos>: the best by `score`. */
  function exhaustive(score: (logP: number, length: number) => number): { best: string; p: number } {
    let bestScore = -Infinity;
    let best = { best: "", p: 0 };
    const walk = (prefix: string[], p: number): void => {
      const probs = toyProbs(prefix.join(" "));
      const s = score(Math.log(p * probs[3]), prefix.length + 1);
      if (s > bestScore) {
        bestScore = s;
        best = { best: prefix.join(" "), p: p * probs[3] };
      }
      if (prefix.length < 4)
        for (const [t, i] of [
          ["A", 4],
          ["B", 5],
          ["C", 6],
        ] as [string, number][])
          walk([...prefix, t], p * probs[i]);
    };
    walk([], 1);
    return best;
  }

  test("exhaustive search by the book's score log P / L^0.75 picks A C B, as beam size 2 does; by P alone a short sequence wins", async () => {
    const normalised = exhaustive((logP, L) => logP / Math.pow(L, 0.75));
    assert.equal(normalised.best, "A C B");
    assert.ok(Math.abs(normalised.p - 0.054) < 1e-9);
    // by P alone: "B" and <eos> (0.2 * 0.7 = 0.14) beats every longer sequence, and the empty one (0.1)
    const raw = exhaustive((logP) => logP);
    assert.equal(raw.best, "B");
    assert.ok(Math.abs(raw.p - 0.14) < 1e-9);
    // beam search with α = 0 scores by log P too, and with beam size 3 finds "B"
    const beamRaw = await d2l.predictSeq2seqBeam(net, "x", TOY, TOY, 5, 3, { alpha: 0 });
    assert.equal(beamRaw.translation, "B");
    assert.ok(Math.abs(beamRaw.score - Math.log(0.14)) < 1e-6);
    const beamNormalised = await d2l.predictSeq2seqBeam(net, "x", TOY, TOY, 5, 3);
    assert.equal(beamNormalised.translation, "A C B");
  });
});

describe("d2l's GRU layer (lib/nn/gru.ts)", () => {
  test("outputs and gradients match the same equations differentiated by tfjs", async () => {
    const { FusedGRU } = await import("../../lib/nn/gru");
    const H = 3;
    const gru = new FusedGRU({ units: H, inputSize: 2 });
    const [Wx, Wh, bx, bh] = gru.trainableWeights.map((w) => w.read());
    assert.deepEqual([Wx.shape, Wh.shape, bx.shape, bh.shape], [[2, 9], [3, 9], [9], [9]]);
    const X = tf.tensor3d([
      [
        [0.5, -1],
        [2, 0.3],
        [-0.7, 0.1],
      ],
      [
        [1, 1],
        [0, -2],
        [0.4, 0.4],
      ],
    ]); // [2, 3, 2]
    const h0 = tf.tensor2d([
      [0.1, -0.2, 0.3],
      [0, 0.5, -0.5],
    ]);
    const coef = tf.randomNormal([2, 3, H], 0, 1, "float32", 5);
    /** PyTorch's GRU written with plain ops: r, z, n gates. */
    const reference = (): tf.Tensor => {
      let h = h0;
      const outs: tf.Tensor[] = [];
      for (let t = 0; t < 3; t++) {
        const x = tf.reshape(tf.slice(X, [0, t, 0], [2, 1, 2]), [2, 2]);
        const xp = tf.add(tf.matMul(x, Wx), bx);
        const hp = tf.add(tf.matMul(h, Wh), bh);
        const r = tf.sigmoid(tf.add(tf.slice(xp, [0, 0], [2, H]), tf.slice(hp, [0, 0], [2, H])));
        const z = tf.sigmoid(tf.add(tf.slice(xp, [0, H], [2, H]), tf.slice(hp, [0, H], [2, H])));
        const n = tf.tanh(tf.add(tf.slice(xp, [0, 2 * H], [2, H]), tf.mul(r, tf.slice(hp, [0, 2 * H], [2, H]))));
        h = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h));
        outs.push(h);
      }
      return tf.stack(outs, 1);
    };
    const ours = (): tf.Tensor => (gru.apply([X, h0]) as tf.Tensor[])[0];
    near(ours().dataSync(), Array.from(reference().dataSync()));
    const lossOf = (f: () => tf.Tensor) => (): tf.Scalar => tf.sum(tf.mul(f(), coef));
    const g1 = tf.variableGrads(lossOf(ours), [Wx, Wh, bx, bh] as tf.Variable[]).grads;
    const g2 = tf.variableGrads(lossOf(reference), [Wx, Wh, bx, bh] as tf.Variable[]).grads;
    for (const name of Object.keys(g2)) near(g1[name].dataSync(), Array.from(g2[name].dataSync()));
    // the gradient reaches the inputs and the initial state too
    const dx1 = tf.grads((x: tf.Tensor, h: tf.Tensor) => tf.sum(tf.mul((gru.apply([x, h]) as tf.Tensor[])[0], coef)))([X, h0]);
    assert.ok(dx1.every((g) => Array.from(g.dataSync()).some((v) => v !== 0)));
    // one step (a reshape, not stack/unstack) works forward and backward
    const one = tf.variableGrads(() => tf.sum((gru.apply([tf.ones([2, 1, 2]), h0]) as tf.Tensor[])[0]), [Wh] as tf.Variable[]);
    assert.ok(Array.from(one.grads[(Wh as tf.Variable).name].dataSync()).some((v) => v !== 0));
  });
});
