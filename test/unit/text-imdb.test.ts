/**
 * IMDb (lib/text/imdb.ts) on the 40-review fixture `aclImdb_tiny.zip`:
 * readImdb from the zip and from the extracted folder alike; loadDataImdb's
 * vocabulary, padding and truncation; finding the data in D2L_DATA_DIR; and
 * the download path (a .tar.gz served from 127.0.0.1, checked, unpacked into
 * the cache once, a bad checksum leaving nothing behind).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import { unzipSync } from "fflate";
import * as tf from "@tensorflow/tfjs";
import { readImdb, loadDataImdb, imdbDir, PaddedLoader } from "../../lib/text/index";
import { DownloadError } from "../../lib/data/index";

const FIXTURE = path.resolve(__dirname, "../../../../shared/data/aclImdb_tiny.zip");
const ENV = ["D2L_DATA_DIR", "D2L_CACHE_DIR", "D2L_QUICK", "D2L_IMDB_URL"];
const saved: Record<string, string | undefined> = {};
let tmp: string;
let folder: string; // the fixture extracted, as aclImdb/
let tarball: Buffer;
let server: http.Server;
let base: string;
const hits: string[] = [];

before(async () => {
  await tf.setBackend("cpu");
  for (const k of ENV) saved[k] = process.env[k];
  delete process.env.D2L_QUICK;
  delete process.env.D2L_DATA_DIR;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-imdb-"));
  folder = path.join(tmp, "extracted", "aclImdb");
  for (const [name, bytes] of Object.entries(unzipSync(fs.readFileSync(FIXTURE)))) {
    if (!name.endsWith(".txt")) continue;
    const dest = path.join(folder, name.split("/").slice(1).join("/"));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, bytes);
  }
  execFileSync("tar", ["-czf", path.join(tmp, "aclImdb_v1.tar.gz"), "-C", path.join(tmp, "extracted"), "aclImdb"]);
  tarball = fs.readFileSync(path.join(tmp, "aclImdb_v1.tar.gz"));
  server = http.createServer((req, res) => {
    hits.push(req.url ?? "");
    res.writeHead(200, { "content-length": tarball.length });
    res.end(tarball);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function firstBatch(loader: PaddedLoader): Promise<[number[][], number[]]> {
  for await (const [X, y] of loader) {
    const out: [number[][], number[]] = [X.arraySync() as number[][], y.arraySync() as number[]];
    tf.dispose([X, y]);
    return out;
  }
  throw new Error("no batch");
}

describe("readImdb", () => {
  test("reads a split: positive reviews first, in file-id order, without line breaks", () => {
    const [data, labels] = readImdb(FIXTURE, true);
    assert.equal(data.length, 20);
    assert.deepEqual(labels, [...new Array(10).fill(1), ...new Array(10).fill(0)]);
    assert.ok(data.every((r) => r.length > 50 && !r.includes("\n")));
    const [testData] = readImdb(FIXTURE, false);
    assert.equal(testData.length, 20);
    assert.ok(testData[10].startsWith("Once again Mr. Costner"), "test/neg/0_2.txt is the first negative review");
    assert.notDeepEqual(testData, data);
  });

  test("the zip and the extracted folder (or the folder holding it) read the same", () => {
    assert.deepEqual(readImdb(folder, true), readImdb(FIXTURE, true));
    assert.deepEqual(readImdb(path.dirname(folder), false), readImdb(FIXTURE, false));
  });

  test("a wrong path gets an error that says what is expected", () => {
    assert.throws(() => readImdb(path.join(tmp, "nowhere"), true), /does not exist; pass the aclImdb folder/);
    assert.throws(() => readImdb(tmp, true), /holds no aclImdb reviews: expected train\/pos/);
    assert.throws(() => readImdb(path.join(tmp, "aclImdb_v1.tar.gz"), true), /tar -xzf aclImdb_v1.tar.gz/);
  });
});

describe("loadDataImdb", () => {
  test("a vocabulary of training words seen 5 times, <pad> reserved; rows cut or padded to numSteps", async () => {
    const [trainIter, testIter, vocab] = await loadDataImdb(8, 40, { root: FIXTURE });
    assert.equal(trainIter.numExamples, 20);
    assert.equal(testIter.numExamples, 20);
    assert.equal(vocab.toTokens(0), "<unk>");
    assert.equal(vocab.toTokens(1), "<pad>");
    assert.ok(vocab.tokenFreqs.filter(([w]) => vocab.tokenToIdx.has(w) && w !== "<pad>").every(([, c]) => c >= 5));
    const [X, y] = await firstBatch(testIter);
    assert.equal(X.length, 8);
    assert.ok(X.every((row) => row.length === 40));
    assert.deepEqual(y, new Array(8).fill(1));
    const [data] = readImdb(FIXTURE, false);
    const words = data[0].split(/\s+/).filter((w) => w);
    assert.deepEqual(X[0], vocab.toIndices(words.slice(0, 40)), "the first 40 words, as the book's truncate_pad");
    const [, , sameVocab] = await loadDataImdb(8, 40, { root: FIXTURE });
    assert.deepEqual(sameVocab.idxToToken, vocab.idxToToken);
    // a short review is padded with <pad> at its end
    const [wide] = await loadDataImdb(4, 2000, { root: FIXTURE });
    const [rows] = await firstBatch(wide);
    assert.ok(rows.some((r) => r[r.length - 1] === 1));
    assert.equal(tf.memory().numTensors, 0);
  });

  test("finds aclImdb_tiny.zip in D2L_DATA_DIR, and a limit samples half positive", async () => {
    process.env.D2L_DATA_DIR = path.dirname(FIXTURE);
    try {
      const [trainIter] = await loadDataImdb(4, 20, { limit: 6, quiet: true });
      assert.equal(trainIter.numExamples, 6);
      assert.equal(
        trainIter.labels.reduce((a, b) => a + b, 0),
        3,
      );
    } finally {
      delete process.env.D2L_DATA_DIR;
    }
  });

  test("imdbDir: the root given, else what D2L_DATA_DIR holds, which readImdb reads as loadDataImdb does", async () => {
    assert.equal(await imdbDir({ root: FIXTURE }), FIXTURE);
    await assert.rejects(imdbDir({ root: "" }), /root must be the path of an aclImdb folder/);
    process.env.D2L_DATA_DIR = path.dirname(FIXTURE);
    try {
      const dir = await imdbDir({ quiet: true });
      assert.equal(dir, FIXTURE);
      const [trainIter] = await loadDataImdb(64, 20, { quiet: true });
      assert.equal(readImdb(dir, true)[0].length, trainIter.numExamples);
    } finally {
      delete process.env.D2L_DATA_DIR;
    }
  });

  test("downloads the .tar.gz into the cache once, checks it, and unpacks it", async () => {
    process.env.D2L_CACHE_DIR = path.join(tmp, "cache");
    process.env.D2L_IMDB_URL = `${base}/aclImdb_v1.tar.gz`;
    const sha1 = crypto.createHash("sha1").update(tarball).digest("hex");
    try {
      await assert.rejects(
        loadDataImdb(4, 20, { checksums: { sha1: ["0".repeat(40)] }, quiet: true }),
        (e: unknown) => e instanceof DownloadError && /checksum mismatch/.test(e.message),
      );
      assert.ok(!fs.existsSync(path.join(tmp, "cache", "aclImdb", "aclImdb_v1.tar.gz")), "a bad download leaves nothing in the cache");
      const [trainIter, , vocab] = await loadDataImdb(4, 20, { checksums: { sha1: [sha1] }, quiet: true });
      assert.equal(trainIter.numExamples, 20);
      assert.ok(fs.existsSync(path.join(tmp, "cache", "aclImdb", "aclImdb", "train", "pos")));
      const before = hits.length;
      const [, , again] = await loadDataImdb(4, 20, { checksums: { sha1: [sha1] }, quiet: true });
      assert.equal(hits.length, before, "the second call reads the cache");
      assert.deepEqual(again.idxToToken, vocab.idxToToken);
      assert.deepEqual(
        fs.readdirSync(path.join(tmp, "cache", "aclImdb")).filter((f) => f.startsWith(".")),
        [],
        "no scratch folder is left",
      );
      assert.equal(await imdbDir({ quiet: true }), path.join(tmp, "cache", "aclImdb", "aclImdb"), "imdbDir names the cached folder");
      assert.equal(readImdb(await imdbDir({ quiet: true }), true)[0].length, 20);
      assert.equal(hits.length, before, "imdbDir reads the cache too");
    } finally {
      delete process.env.D2L_CACHE_DIR;
      delete process.env.D2L_IMDB_URL;
    }
  });
});
