// Tests of lib/text's Time Machine corpus and sequence iterators (chapter 8.2-8.3), on the cpu backend.
import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import * as tf from "@tensorflow/tfjs";
import {
  readTimeMachine,
  loadCorpusTimeMachine,
  seqDataIterRandom,
  seqDataIterSequential,
  SeqDataLoader,
  loadDataTimeMachine,
  TIME_MACHINE_SHA1,
  Vocab,
} from "../../lib/text/index";
import { DownloadError } from "../../lib/data/index";

const SHARED = path.resolve(__dirname, "../../../../shared/data");
const ENV = ["D2L_DATA_DIR", "D2L_CACHE_DIR"];
const saved: Record<string, string | undefined> = {};
let tmp: string;

before(async () => {
  await tf.setBackend("cpu");
  for (const k of ENV) saved[k] = process.env[k];
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-text-seq-"));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

/** Values of an int tensor as nested arrays, disposing it. */
function rows(t: tf.Tensor): number[][] {
  const v = t.arraySync() as number[][];
  t.dispose();
  return v;
}

describe("the Time Machine", () => {
  test("the offline copy: 3221 lines, letters and spaces only, the book's first line", async () => {
    assert.ok(fs.existsSync(path.join(SHARED, "timemachine.txt")), `expected the offline data at ${SHARED} (see shared/data/README.md)`);
    const lines = await readTimeMachine({ root: SHARED });
    assert.equal(lines.length, 3221);
    assert.equal(lines[0], "the time machine by h g wells");
    assert.equal(lines[10], "twinkled and his usually pale face was flushed and animated the");
    assert.ok(
      lines.every((l) => /^[a-z ]*$/.test(l) && l === l.trim() && !l.includes("  ")),
      "every line is trimmed lower-case letters and single spaces",
    );
  });

  test("loadCorpusTimeMachine: 170580 characters, a vocabulary of 28 (<unk>, space, 26 letters), maxTokens cuts", async () => {
    process.env.D2L_DATA_DIR = SHARED;
    const [corpus, vocab] = await loadCorpusTimeMachine();
    assert.equal(corpus.length, 170580);
    assert.equal(vocab.length, 28);
    assert.equal(vocab.idxToToken[0], "<unk>");
    assert.deepEqual([...vocab.idxToToken.slice(1)].sort(), [" ", ..."abcdefghijklmnopqrstuvwxyz"]);
    assert.equal(vocab.idxToToken[1], " ", "space is the most frequent character");
    assert.equal(vocab.idxToToken[2], "e");
    assert.ok(!corpus.includes(0), "no <unk> in the corpus");
    assert.equal(vocab.toTokens(corpus.slice(0, 38)).join(""), "the time machine by h g wellsithe time", "lines are joined without a separator");
    const [cut, vocab2] = await loadCorpusTimeMachine(10000);
    assert.equal(cut.length, 10000);
    assert.deepEqual(cut, corpus.slice(0, 10000));
    assert.deepEqual(vocab2.idxToToken, vocab.idxToToken, "the vocabulary is built from the whole text either way");
    await assert.rejects(loadCorpusTimeMachine(1.5), /maxTokens must be an integer/);
  });

  test("preprocessing: non-letters become one space, trimmed, lower-cased; empty lines stay", async () => {
    const dir = path.join(tmp, "fixture");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "timemachine.txt"), "The Time-Machine!!\r\n  by H.G. Wells, [1898]  \n\n42\nlast line");
    assert.deepEqual(await readTimeMachine({ root: dir }), ["the time machine", "by h g wells", "", "", "last line"]);
  });

  test("a missing or binary file is a clear error", async () => {
    await assert.rejects(readTimeMachine({ root: path.join(tmp, "nowhere") }), /has no timemachine\.txt.*D2L_DATA_DIR/s);
    const dir = path.join(tmp, "binary");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "timemachine.txt"), Buffer.from([0, 1, 2, 0x41, 0]));
    await assert.rejects(readTimeMachine({ root: dir }), /does not look like The Time Machine/);
  });

  describe("download into the cache", () => {
    let server: http.Server;
    let base: string;
    const real = fs.readFileSync(path.join(SHARED, "timemachine.txt"));
    before(async () => {
      server = http.createServer((req, res) => {
        const body = req.url === "/good" ? real : Buffer.concat([real.subarray(0, 1000), Buffer.from("tampered")]);
        res.writeHead(200, { "content-length": body.length });
        res.end(body);
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    test("the book's SHA-1 is what the offline copy has", () => {
      assert.equal(crypto.createHash("sha1").update(real).digest("hex"), TIME_MACHINE_SHA1);
    });

    test("downloads once, verifies the SHA-1, then reads the cache", async () => {
      delete process.env.D2L_DATA_DIR;
      process.env.D2L_CACHE_DIR = path.join(tmp, "cache-good");
      const lines = await readTimeMachine({ url: `${base}/good`, quiet: true });
      assert.equal(lines.length, 3221);
      assert.ok(fs.existsSync(path.join(tmp, "cache-good", "timemachine.txt")));
      const again = await readTimeMachine({ url: `${base}/unreachable-now`, quiet: true }); // served from the cache
      assert.deepEqual(again, lines);
    });

    test("a damaged download fails with the checksum and leaves no file", async () => {
      delete process.env.D2L_DATA_DIR;
      process.env.D2L_CACHE_DIR = path.join(tmp, "cache-bad");
      await assert.rejects(readTimeMachine({ url: `${base}/bad`, quiet: true }), (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.match(e.message, /checksum mismatch.*090b5e7e70c295757f55df93cb0a180b9691891a.*D2L_DATA_DIR/s);
        return true;
      });
      assert.deepEqual(fs.readdirSync(path.join(tmp, "cache-bad")), []);
    });
  });
});

describe("sequence iterators", () => {
  const mySeq = Array.from({ length: 35 }, (_, i) => i);

  test("seqDataIterRandom: [batch, steps] int32, Y is X shifted by one, non-overlapping subsequences on one offset", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const starts: number[] = [];
      let batches = 0;
      for (const [X, Y] of seqDataIterRandom(mySeq, 2, 5, seed)) {
        assert.deepEqual(X.shape, [2, 5]);
        assert.equal(X.dtype, "int32");
        assert.equal(Y.dtype, "int32");
        const x = rows(X);
        const y = rows(Y);
        x.forEach((r, i) => {
          assert.deepEqual(
            y[i],
            r.map((v) => v + 1),
          );
          assert.deepEqual(
            r,
            Array.from({ length: 5 }, (_, k) => r[0] + k),
            "a subsequence is contiguous",
          );
          starts.push(r[0]);
        });
        batches++;
      }
      const offset = Math.min(...starts) % 5;
      assert.ok(
        starts.every((s) => s % 5 === offset),
        "all start on the same offset, numSteps apart",
      );
      assert.equal(new Set(starts).size, starts.length, "no subsequence twice");
      assert.equal(batches, Math.floor(Math.floor((35 - offset - 1) / 5) / 2));
    }
    const a = [...seqDataIterRandom(mySeq, 2, 5, 7)].map(([X, Y]) => (Y.dispose(), rows(X)));
    const b = [...seqDataIterRandom(mySeq, 2, 5, 7)].map(([X, Y]) => (Y.dispose(), rows(X)));
    assert.deepEqual(a, b, "a seed repeats the order");
  });

  test("seqDataIterSequential: Y is X shifted by one, and each row continues where the previous batch's row stopped", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const xs: number[][][] = [];
      for (const [X, Y] of seqDataIterSequential(mySeq, 2, 5, seed)) {
        assert.deepEqual(X.shape, [2, 5]);
        const x = rows(X);
        const y = rows(Y);
        x.forEach((r, i) =>
          assert.deepEqual(
            y[i],
            r.map((v) => v + 1),
          ),
        );
        xs.push(x);
      }
      const offset = xs[0][0][0];
      assert.ok(offset >= 0 && offset <= 5);
      const rowLength = Math.floor((35 - offset - 1) / 2);
      assert.equal(xs.length, Math.floor(rowLength / 5));
      for (let b = 1; b < xs.length; b++) {
        for (let r = 0; r < 2; r++) assert.equal(xs[b][r][0], xs[b - 1][r][4] + 1, "row r of batch b continues row r of batch b-1");
      }
      assert.equal(xs[0][1][0], offset + rowLength, "row 1 starts where row 0's share of the corpus ends");
    }
  });

  test("bad arguments say what is expected", () => {
    assert.throws(() => [...seqDataIterRandom(mySeq, 0, 5)], /batchSize must be a positive integer/);
    assert.throws(() => [...seqDataIterSequential(mySeq, 2, 2.5)], /numSteps must be a positive integer/);
    assert.throws(() => [...seqDataIterSequential(null as unknown as number[], 2, 5)], /corpus must be an array of token indices/);
  });

  test("SeqDataLoader: numBatches is what every epoch yields (never fewer), both samplings; no tensors left after break", async () => {
    const corpus = Array.from({ length: 1000 }, (_, i) => i % 7);
    const vocab = new Vocab(["a", "b", "c", "d", "e", "f"]);
    for (const random of [false, true]) {
      const loader = SeqDataLoader.fromCorpus(corpus, vocab, 4, 7, random, 3);
      assert.equal(loader.numExamples, loader.numBatches * 4);
      for (let epoch = 0; epoch < 30; epoch++) {
        let n = 0;
        for await (const [X, Y] of loader) {
          assert.deepEqual(X.shape, [4, 7]);
          tf.dispose([X, Y]);
          n++;
        }
        assert.ok(n === loader.numBatches || n === loader.numBatches + 1, `epoch ${epoch}: ${n} batches, numBatches ${loader.numBatches}`);
      }
    }
    const before = tf.memory().numTensors;
    const loader = SeqDataLoader.fromCorpus(corpus, vocab, 4, 7);
    for await (const [X, Y] of loader) {
      tf.dispose([X, Y]);
      break;
    }
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => SeqDataLoader.fromCorpus(corpus.slice(0, 20), vocab, 4, 7), /makes no batch.*maxTokens/);
  });

  test("loadDataTimeMachine: the book's 32 x 35 batches over 10000 characters, vocab of 28", async () => {
    process.env.D2L_DATA_DIR = SHARED;
    const [trainIter, vocab] = await loadDataTimeMachine(32, 35);
    assert.equal(vocab.length, 28);
    assert.equal(trainIter.numBatches, 8);
    assert.equal(trainIter.corpus.length, 10000);
    let n = 0;
    for await (const [X, Y] of trainIter) {
      assert.deepEqual(X.shape, [32, 35]);
      assert.deepEqual(Y.shape, [32, 35]);
      tf.dispose([X, Y]);
      n++;
    }
    assert.equal(n, 8);
  });
});
