/**
 * Text classification data (lib/text/padded.ts, lib/text/spamAssassin.ts):
 * PaddedLoader's padding, valid lengths, truncation, bucketing and seeded
 * order; the e-mail cleaning; the SpamAssassin loader's stratified,
 * seed-determined split and its vocabulary; and that tfjs' own GRU and
 * LSTM layers honour a mask (the final state of a sequence is the same
 * whatever padding follows it), which the chapter 9 assignment relies on.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { PaddedLoader, preprocessEmail, readSpamAssassin, loadDataSpamAssassin } from "../../lib/text/index";

before(async () => {
  await tf.setBackend("cpu");
});

async function epoch(loader: PaddedLoader): Promise<{ X: number[][]; y: number[] }[]> {
  const out: { X: number[][]; y: number[] }[] = [];
  for await (const [X, y] of loader) {
    out.push({ X: X.arraySync() as number[][], y: y.arraySync() as number[] });
    tf.dispose([X, y]);
  }
  return out;
}

describe("PaddedLoader", () => {
  const seqs = [[5, 6, 7], [8], [9, 10, 11, 12, 13], [], [14, 15]];
  const labels = [1, 0, 1, 0, 1];

  test("pads each row at the end with padId, truncates to numSteps, keeps labels", async () => {
    const loader = new PaddedLoader(seqs, labels, { batchSize: 2, padId: 1, numSteps: 4 });
    assert.equal(loader.numExamples, 5);
    assert.equal(loader.numBatches, 3);
    assert.deepEqual(Array.from(loader.validLens), [3, 1, 4, 0, 2]);
    const batches = await epoch(loader);
    assert.deepEqual(batches, [
      {
        X: [
          [5, 6, 7, 1],
          [8, 1, 1, 1],
        ],
        y: [1, 0],
      },
      {
        X: [
          [9, 10, 11, 12],
          [1, 1, 1, 1],
        ],
        y: [1, 0],
      },
      { X: [[14, 15, 1, 1]], y: [1] },
    ]);
    // the valid length is what is not padding
    const [X] = loader.batch([0, 1, 2, 3, 4]);
    assert.deepEqual(
      tf.tidy(() => X.notEqual(1).sum(1).arraySync()),
      Array.from(loader.validLens),
    );
    const [X2, y2] = loader.batch([2, 0], 7);
    assert.deepEqual(X2.arraySync(), [
      [9, 10, 11, 12, 1, 1, 1],
      [5, 6, 7, 1, 1, 1, 1],
    ]);
    assert.deepEqual(y2.arraySync(), [1, 1]);
    tf.dispose([X, X2, y2]);
  });

  test("bucketing pads each batch to its own longest; every sequence comes once per epoch", async () => {
    const lens = Array.from({ length: 100 }, (_, i) => 1 + ((i * 37) % 50));
    const many = lens.map((n, i) => Array.from({ length: n }, (_, j) => 2 + ((i + j) % 20)));
    const loader = new PaddedLoader(
      many,
      lens.map((n) => n % 2),
      { batchSize: 8, padId: 0, numSteps: 40, bucket: true, shuffle: true, seed: 3 },
    );
    const seen: number[] = [];
    let padded = 0;
    for (const { X } of await epoch(loader)) {
      const valid = X.map((row) => row.filter((v) => v !== 0).length);
      assert.equal(X[0].length, Math.max(...valid), "a bucketed batch is as long as its longest sequence");
      padded += X.length * X[0].length - valid.reduce((a, b) => a + b, 0);
      seen.push(...valid);
    }
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      lens.map((n) => Math.min(n, 40)).sort((a, b) => a - b),
    );
    const unbucketed = new PaddedLoader(
      many,
      lens.map((n) => n % 2),
      { batchSize: 8, padId: 0, numSteps: 40, shuffle: true, seed: 3 },
    );
    const fixed = await epoch(unbucketed);
    assert.ok(fixed.every((b) => b.X[0].length === 40));
    const fixedPadding = fixed.reduce((a, b) => a + b.X.length * 40, 0) - lens.reduce((a, n) => a + Math.min(n, 40), 0);
    assert.ok(padded < fixedPadding / 4, `bucketing leaves ${padded} pad tokens, fixed length ${fixedPadding}`);
  });

  test("the same seed gives the same order of epochs; epochs differ", async () => {
    const mk = (seed: number) =>
      new PaddedLoader(
        Array.from({ length: 30 }, (_, i) => [i + 2]),
        new Array(30).fill(0),
        { batchSize: 4, padId: 0, shuffle: true, seed },
      );
    const a = mk(7);
    const b = mk(7);
    const a1 = await epoch(a);
    const a2 = await epoch(a);
    assert.deepEqual(await epoch(b), a1);
    assert.notDeepEqual(a2, a1);
    assert.notDeepEqual(await epoch(mk(8)), a1);
  });

  test("bad input gets errors that say what to do", () => {
    assert.throws(() => new PaddedLoader([[2, 1, 3]], [0], { batchSize: 1, padId: 1 }), /holds the pad id 1 among its tokens/);
    assert.throws(() => new PaddedLoader([[2]], [0, 1], { batchSize: 1, padId: 1 }), /1 sequences but 2 labels/);
    assert.throws(() => new PaddedLoader([[2]], [0], { batchSize: 0, padId: 1 }), /batchSize must be an integer >= 1/);
    assert.throws(() => new PaddedLoader([[2.5]], [0], { batchSize: 1, padId: 1 }), /token ids are integers >= 0/);
    const ok = new PaddedLoader([[2]], [0], { batchSize: 1, padId: 1 });
    assert.throws(() => ok.batch([1]), /index 1 is out of range/);
  });
});

describe("SpamAssassin", () => {
  test("preprocessEmail keeps the subject and the body's words, lower-case", () => {
    const mail = [
      "From spammer@example.com  Mon Jun 24 17:04:38 2002",
      "Received: from mail.example.com by relay",
      "Subject: WIN a Prize",
      "  today only",
      'Content-Type: multipart/alternative; boundary="XX"',
      "",
      "This is a multi-part message in MIME format.",
      "--XX",
      'Content-Type: text/plain; charset="iso-8859-1"',
      "Content-Transfer-Encoding: quoted-printable",
      "",
      "Dear friend, cl=",
      "ick =3D here: http://x.example.com!",
      "--XX",
      "Content-Type: text/html",
      "",
      "<html><body><p>Free&nbsp;<b>money</b></p></body></html>",
      "--XX--",
    ].join("\r\n");
    assert.equal(preprocessEmail(mail), "win a prize today only dear friend click here http x example com free money");
    assert.equal(preprocessEmail("Subject: only headers"), "only headers");
    assert.throws(() => preprocessEmail(3 as unknown as string), /expects an e-mail as a string/);
  });

  test("readSpamAssassin: 6,046 e-mails, 4,150 ham and 1,896 spam", () => {
    const { texts, labels, groups } = readSpamAssassin();
    assert.equal(texts.length, 6046);
    assert.equal(
      labels.reduce((a, b) => a + b, 0),
      1896,
    );
    assert.equal(groups.filter((g) => g.startsWith("spam")).length, 1896);
    assert.ok(texts.every((t) => /^[a-z ]*$/.test(t)));
    assert.ok(!texts[0].includes("received"), "headers other than the subject are dropped");
  });

  test("the split is stratified, held out and fixed by the seed; <pad> is 1 and pads every batch's end", async () => {
    const a = loadDataSpamAssassin(64, { numSteps: 50, seed: 0 });
    // e-mails are told apart by their first 50 words; repeats are dropped
    const corpus = readSpamAssassin();
    const distinct = new Map<string, number>();
    corpus.texts.forEach((t, i) => {
      const head = t.split(" ").slice(0, 50).join(" ");
      if (!distinct.has(head)) distinct.set(head, corpus.labels[i]);
    });
    const spam = [...distinct.values()].filter((v) => v === 1).length;
    const ham = distinct.size - spam;
    assert.ok(distinct.size > 5500 && distinct.size < 6046, `${distinct.size} distinct`);
    assert.equal(a.trainIter.numExamples + a.testIter.numExamples, distinct.size);
    assert.equal(a.testIter.numExamples, Math.round(ham * 0.2) + Math.round(spam * 0.2));
    const spamShare = (l: Int32Array) => l.reduce((s, v) => s + v, 0) / l.length;
    assert.ok(Math.abs(spamShare(a.train.labels) - spam / distinct.size) < 0.002);
    assert.ok(Math.abs(spamShare(a.test.labels) - spam / distinct.size) < 0.002);
    assert.equal(a.padId, 1);
    assert.equal(a.vocab.toTokens(a.padId), "<pad>");
    assert.ok(a.vocab.length <= 10000);
    assert.ok(a.train.tokens.every((t) => t.length <= 50));
    const b = loadDataSpamAssassin(64, { numSteps: 50, seed: 0 });
    assert.deepEqual(b.test.tokens, a.test.tokens);
    assert.deepEqual(b.vocab.idxToToken, a.vocab.idxToToken);
    const c = loadDataSpamAssassin(64, { numSteps: 50, seed: 1 });
    assert.notDeepEqual(c.test.tokens, a.test.tokens);
    // no held-out input is also a training input
    const trainTexts = new Set(a.train.tokens.map((t) => t.join(" ")));
    assert.equal(a.test.tokens.filter((t) => trainTexts.has(t.join(" "))).length, 0);
    for await (const [X, y] of a.testIter) {
      const rows = X.arraySync() as number[][];
      for (const row of rows) {
        const firstPad = row.indexOf(1);
        if (firstPad >= 0)
          assert.ok(
            row.slice(firstPad).every((v) => v === 1),
            "padding only at the end",
          );
      }
      assert.equal(y.dtype, "int32");
      tf.dispose([X, y]);
    }
    const small = loadDataSpamAssassin(32, { limit: 500, maxVocab: 300 });
    assert.equal(small.trainIter.numExamples + small.testIter.numExamples, 500);
    assert.equal(small.vocab.length, 300);
    assert.throws(() => loadDataSpamAssassin(32, { testFraction: 1.5 }), /testFraction must be a number between 0 and 1/);
  });
});

describe("tfjs' recurrent layers honour a mask", () => {
  for (const kind of ["gru", "lstm"] as const) {
    test(`${kind}: the final state of a sequence is the same padded with 5 or 50 pads, and differs without the mask`, () => {
      tf.tidy(() => {
        const seq = [5, 3, 7, 2];
        const padded = (n: number) => tf.tensor2d([[...seq, ...new Array(n).fill(0)]], [1, seq.length + n], "int32");
        const make = (layer: "gru" | "lstm") => (layer === "gru" ? tf.layers.gru({ units: 3 }) : tf.layers.lstm({ units: 3 }));
        // 1) a Sequential whose embedding makes the mask from id 0 (maskZero)
        const model = tf.sequential({ layers: [tf.layers.embedding({ inputDim: 20, outputDim: 4, maskZero: true, inputShape: [null] }), make(kind)] });
        const s5 = (model.predict(padded(5)) as tf.Tensor).arraySync();
        const s50 = (model.predict(padded(50)) as tf.Tensor).arraySync();
        const s0 = (model.predict(padded(0)) as tf.Tensor).arraySync();
        assert.deepEqual(s5, s0);
        assert.deepEqual(s50, s0);
        // 2) a mask passed to apply, for any pad id
        const emb = tf.layers.embedding({ inputDim: 20, outputDim: 4 });
        const rnn = make(kind);
        const run = (X: tf.Tensor, masked: boolean) => (rnn.apply(emb.apply(X) as tf.Tensor, masked ? { mask: X.notEqual(0) } : {}) as tf.Tensor).arraySync();
        assert.deepEqual(run(padded(50), true), run(padded(0), true));
        assert.deepEqual(run(padded(5), true), run(padded(0), true));
        assert.notDeepEqual(run(padded(50), false), run(padded(0), false), "without the mask the pads change the state");
      });
    });
  }
});
