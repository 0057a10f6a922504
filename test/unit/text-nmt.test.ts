// Tests of lib/text/nmt.ts (machine translation data, the book's 9.5) and lib/text/bleu.ts:
// values worked out by hand on small texts; fra-eng from a tiny fra-eng.zip built here (fflate),
// read from a folder and downloaded from 127.0.0.1; the offline fallback to CMUdict.
import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import * as tf from "@tensorflow/tfjs";
import { zipSync, strToU8 } from "fflate";
import * as d2l from "../../lib/text/index";
import { DownloadError } from "../../lib/data/download";
import { VEGALITE_MIME } from "../../lib/plot/index";

// ---- a tiny fra-eng.zip: the book's first lines, and a malformed one ----
const FRA =
  [
    "Go.\tVa !",
    "Hi.\tSalut !",
    "Run!\tCours\u202f!",
    "Run!\tCourez\u00a0!",
    "Who?\tQui ?",
    "Wow!\tÇa alors\u202f!",
    "no tab here",
    "Go.\tVa !",
    "I lost.\tJ'ai perdu.",
    "He's calm.\tIl est calme.\tCC-BY 2.0 (France) Attribution",
  ].join("\n") + "\n";
const ZIP = Buffer.from(zipSync({ "fra-eng/fra.txt": strToU8(FRA), "fra-eng/_about.txt": strToU8("about") }));
const ZIP_SHA1 = crypto.createHash("sha1").update(ZIP).digest("hex");

let server: http.Server;
let base: string;
const hits: string[] = [];
let tmp: string;
const ENV = ["D2L_DATA_DIR", "D2L_CACHE_DIR", "D2L_NMT_DATASET", "D2L_FRA_ENG_URL"];
const savedEnv: Record<string, string | undefined> = {};

before(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-nmt-"));
  for (const k of ENV) savedEnv[k] = process.env[k];
  server = http.createServer((req, res) => {
    hits.push(req.url ?? "");
    if (req.url === "/ok/fra-eng.zip") {
      res.writeHead(200, { "content-length": ZIP.length });
      res.end(ZIP);
    } else {
      res.writeHead(404);
      res.end("not found");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  for (const k of ENV) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A fresh cache folder and no D2L_DATA_DIR; returns the cache root. */
function freshCache(name: string): string {
  delete process.env.D2L_DATA_DIR;
  delete process.env.D2L_NMT_DATASET;
  const dir = path.join(tmp, name);
  process.env.D2L_CACHE_DIR = dir;
  return dir;
}

/** Lines `say` writes to stderr during `fn` (outside a kernel). */
async function captureStderr<T>(fn: () => Promise<T>): Promise<[T, string]> {
  const write = process.stderr.write.bind(process.stderr);
  let out = "";
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return [await fn(), out];
  } finally {
    process.stderr.write = write;
  }
}

describe("preprocessing and tokenizing (the book's 9.5.1-9.5.2)", () => {
  test("preprocessNmt: lower case, non-breaking spaces become spaces, a space before , . ! ? where none is", () => {
    assert.equal(d2l.preprocessNmt("Go.\tVa !"), "go .\tva !");
    assert.equal(d2l.preprocessNmt("Run!\tCours\u202f!"), "run !\tcours !");
    assert.equal(d2l.preprocessNmt("Wow!\tÇa alors\u00a0!"), "wow !\tça alors !");
    assert.equal(d2l.preprocessNmt("Hm..., ok?"), "hm . . . , ok ?"); // each mark after a non-space gets one
    assert.equal(d2l.preprocessNmt(".a"), ".a"); // the first character has none before it
  });

  test("tokenizeNmt reads lines 0..numExamples (the book's loop), keeps the first two fields, skips lines without a tab", () => {
    const text = d2l.preprocessNmt(FRA);
    const [source, target] = d2l.tokenizeNmt(text);
    assert.equal(source.length, 9); // 10 lines, one without a tab
    assert.deepEqual(source[0], ["go", "."]);
    assert.deepEqual(target[2], ["cours", "!"]);
    assert.deepEqual(target[8], ["il", "est", "calme", "."]); // the attribution column is dropped
    const [s3, t3] = d2l.tokenizeNmt(text, 3);
    assert.deepEqual(s3, [
      ["go", "."],
      ["hi", "."],
      ["run", "!"],
      ["run", "!"],
    ]); // lines 0..3
    assert.equal(t3.length, 4);
    const [s7] = d2l.tokenizeNmt(text, 7); // lines 0..7, line 6 has no tab
    assert.equal(s7.length, 7);
    assert.throws(() => d2l.tokenizeNmt(text, -1), /numExamples must be a non-negative integer/);
  });

  test("truncatePad pads with the padding token, or cuts to numSteps", () => {
    assert.deepEqual(d2l.truncatePad([47, 4], 5, 1), [47, 4, 1, 1, 1]);
    assert.deepEqual(d2l.truncatePad(["a", "b", "c"], 2, "<pad>"), ["a", "b"]);
    assert.deepEqual(d2l.truncatePad([], 2, 0), [0, 0]);
    assert.throws(() => d2l.truncatePad([1], -1, 0), /numSteps must be a non-negative integer/);
  });

  test("buildArrayNmt appends <eos>, pads or truncates, and counts the tokens that are not <pad>", () => {
    const vocab = new d2l.Vocab([["a", "b", "a"]], { reservedTokens: ["<pad>", "<bos>", "<eos>"] });
    // <unk> 0, <pad> 1, <bos> 2, <eos> 3, a 4, b 5
    const [array, validLen] = d2l.buildArrayNmt([["a", "b"], ["b", "a", "a", "b"], ["zzz"]], vocab, 4);
    assert.deepEqual(array.shape, [3, 4]);
    assert.equal(array.dtype, "int32");
    assert.deepEqual(array.arraySync(), [
      [4, 5, 3, 1],
      [5, 4, 4, 5], // truncated: its <eos> is cut off, as the book's
      [0, 3, 1, 1], // an unknown token is <unk>
    ]);
    assert.deepEqual(Array.from(validLen.dataSync()), [3, 4, 2]);
    tf.dispose([array, validLen]);
    const noPad = new d2l.Vocab([["a"]]);
    assert.throws(() => d2l.buildArrayNmt([["a"]], noPad, 3), /has no <pad>; make it with reservedTokens/);
  });
});

describe("where the data comes from", () => {
  test("fra-eng.zip in D2L_DATA_DIR: read from the zip, the loader says fra-eng; the vocabularies and batches by hand", async () => {
    freshCache("local");
    const dir = path.join(tmp, "data-zip");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "fra-eng.zip"), ZIP);
    process.env.D2L_DATA_DIR = dir;
    const [[trainIter, srcVocab, tgtVocab], said] = await captureStderr(() => d2l.loadDataNmt(4, 5, 5, { seed: 1 }));
    assert.match(said, /Translation data: fra-eng \(English → French, the book's\), from .*fra-eng\.zip/);
    assert.equal(trainIter.corpus, "fra-eng");
    // lines 0..5, source: go . / hi . / run ! / run ! / who ? / wow !  → ! 3, . 2, run 2, the others once;
    // minFreq 2 keeps ! . run, by count, ties in order of first appearance
    assert.deepEqual(srcVocab.idxToToken, ["<unk>", "<pad>", "<bos>", "<eos>", "!", ".", "run"]);
    // target: va ! / salut ! / cours ! / courez ! / qui ? / ça alors !  → ! 5, others once
    assert.deepEqual(tgtVocab.idxToToken, ["<unk>", "<pad>", "<bos>", "<eos>", "!"]);
    assert.equal(trainIter.numExamples, 6);
    assert.equal(trainIter.numBatches, 2);
    const seen: number[][] = [];
    let validSum = 0;
    for await (const [X, XValidLen, Y, YValidLen] of trainIter) {
      assert.deepEqual(X.shape.slice(1), [5]);
      assert.equal(X.dtype, "int32");
      assert.deepEqual(Y.shape, X.shape);
      assert.deepEqual(XValidLen.shape, [X.shape[0]]);
      seen.push(...(X.arraySync() as number[][]));
      validSum += Array.from(await YValidLen.data()).reduce((a, b) => a + b, 0);
      tf.dispose([X, XValidLen, Y, YValidLen]);
    }
    assert.equal(seen.length, 6);
    // "run !" → [run, !, <eos>, <pad>, <pad>] appears twice, shuffled somewhere
    assert.equal(seen.filter((r) => JSON.stringify(r) === JSON.stringify([6, 4, 3, 1, 1])).length, 2);
    // target valid lengths: va ! <eos> (3), salut ! <eos> (3), cours ! (3), courez ! (3), qui ? (3), ça alors ! (4)
    assert.equal(validSum, 19);
    // the pairs after the training ones (line 6 has no tab and is skipped)
    assert.deepEqual(trainIter.heldOut(2), [
      ["go .", "va !"],
      ["i lost .", "j'ai perdu ."],
    ]);
  });

  test("the unpacked fra-eng/fra.txt in a root folder works too; a root without it is an error that says what it needs", async () => {
    freshCache("unpacked");
    const dir = path.join(tmp, "data-txt");
    fs.mkdirSync(path.join(dir, "fra-eng"), { recursive: true });
    fs.writeFileSync(path.join(dir, "fra-eng", "fra.txt"), FRA);
    const raw = await d2l.readDataNmt({ root: dir, quiet: true });
    assert.equal(raw.slice(0, 16), "Go.\tVa !\nHi.\tSal");
    await assert.rejects(d2l.readDataNmt({ root: path.join(tmp, "nowhere"), quiet: true }), /holds neither fra-eng\.zip nor fra-eng\/fra\.txt/);
  });

  test("a damaged or wrong zip is an error naming it", async () => {
    freshCache("bad-zip");
    const dir = path.join(tmp, "data-bad");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "fra-eng.zip"), Buffer.from("not a zip at all"));
    await assert.rejects(d2l.readDataNmt({ root: dir, quiet: true }), /fra-eng\.zip is not a readable zip archive/);
    fs.writeFileSync(path.join(dir, "fra-eng.zip"), Buffer.from(zipSync({ "other.txt": strToU8("x") })));
    await assert.rejects(d2l.readDataNmt({ root: dir, quiet: true }), /holds no fra-eng\/fra\.txt; it is not the book's fra-eng\.zip/);
  });

  test("download from 127.0.0.1 into the cache, SHA-1 checked; the next read uses the cache", async () => {
    const cache = freshCache("download");
    hits.length = 0;
    const raw = await d2l.readDataNmt({ url: `${base}/ok/fra-eng.zip`, checksums: { sha1: [ZIP_SHA1] }, quiet: true });
    assert.equal(raw, FRA);
    assert.deepEqual(fs.readdirSync(cache), ["fra-eng.zip"]);
    assert.equal(hits.length, 1);
    process.env.D2L_FRA_ENG_URL = `${base}/ok/fra-eng.zip`;
    const again = await d2l.readNmtText({ checksums: { sha1: [ZIP_SHA1] }, quiet: true });
    assert.equal(again.corpus, "fra-eng");
    assert.equal(again.source, path.join(cache, "fra-eng.zip"));
    assert.equal(hits.length, 1, "the second read uses the cache");
  });

  test("a download that fails falls back to CMUdict and says so in one line; asked for fra-eng it is an error", async () => {
    freshCache("fallback");
    const [t, said] = await captureStderr(() => d2l.readNmtText({ url: `${base}/missing/fra-eng.zip` }));
    assert.equal(t.corpus, "cmudict");
    const lines = said.trim().split("\n");
    assert.equal(lines.length, 1, said);
    assert.match(lines[0], /^Translation data: fra-eng could not be had \(HTTP 404 Not Found\); using CMUdict .*letters.*ARPAbet phonemes/);
    // a wrong checksum is a failed download too
    freshCache("fallback-sum");
    const [t2] = await captureStderr(() => d2l.readNmtText({ url: `${base}/ok/fra-eng.zip`, checksums: { sha1: ["0".repeat(40)] } }));
    assert.equal(t2.corpus, "cmudict");
    assert.deepEqual(fs.readdirSync(path.join(tmp, "fallback-sum")), [], "nothing kept in the cache");
    freshCache("strict");
    await assert.rejects(d2l.readDataNmt({ dataset: "fra-eng", url: `${base}/missing/fra-eng.zip`, quiet: true }), (e: Error) => {
      assert.ok(e instanceof DownloadError);
      assert.match(e.message, /HTTP 404.*D2L_DATA_DIR.*dataset: "cmudict"/s);
      return true;
    });
  });

  test("CMUdict on request: a word's letters, a tab, its phonemes; the same order every time", async () => {
    freshCache("cmudict");
    process.env.D2L_NMT_DATASET = "cmudict";
    const [t, said] = await captureStderr(() => d2l.readNmtText());
    assert.match(said, /^Translation data: CMUdict \(offline/);
    assert.equal(t.corpus, "cmudict");
    const lines = t.text.trim().split("\n");
    assert.ok(lines.length > 90000, `${lines.length} words`);
    for (const line of lines.slice(0, 200)) {
      const [src, tgt] = line.split("\t");
      assert.match(src, /^[a-z'](?: [a-z'])+$/, line); // letters, space-separated, at least two
      assert.match(tgt, /^[a-z]+[0-2]?(?: [a-z]+[0-2]?)*$/, line); // ARPAbet, stress digits
      assert.ok(src.split(" ").length <= 9 && tgt.split(" ").length <= 9, line);
    }
    const t2 = await d2l.readNmtText({ quiet: true });
    assert.equal(t2.text, t.text);
    const [it, srcVocab, tgtVocab] = await d2l.loadDataNmt(8, 10, 50, { quiet: true });
    assert.equal(it.corpus, "cmudict");
    assert.ok(srcVocab.length > 20 && srcVocab.length <= 4 + 27, `${srcVocab.length} letters`);
    assert.ok(tgtVocab.length > 20, `${tgtVocab.length} phonemes`);
    const held = it.heldOut(3);
    assert.equal(held.length, 3);
    assert.deepEqual(held[0], lines[51].split("\t")); // lines 0..50 are training pairs
    process.env.D2L_NMT_DATASET = "klingon";
    await assert.rejects(d2l.readDataNmt(), /D2L_NMT_DATASET must be "fra-eng", "cmudict" or "auto"; got "klingon"/);
  });

  test("loadDataNmt checks its arguments", async () => {
    await assert.rejects(d2l.loadDataNmt(0, 10), /batchSize must be a positive integer/);
    await assert.rejects(d2l.loadDataNmt(2, 1.5), /numSteps must be a positive integer/);
  });
});

describe("showListLenPairHist", () => {
  test("one bar per length and list, counted by hand, as vega-lite with a PNG", () => {
    const fig = d2l.showListLenPairHist(["source", "target"], "# tokens per sequence", "count", [["a"], ["a", "b"], ["c"]], [["x", "y", "z"], ["x"]]);
    const spec = fig.spec as { data: { values: { bin: string; series: string; count: number }[] } };
    const count = (bin: string, series: string): number | undefined => spec.data.values.find((v) => v.bin === bin && v.series === series)?.count;
    assert.equal(count("1", "source"), 2);
    assert.equal(count("2", "source"), 1);
    assert.equal(count("3", "source"), 0);
    assert.equal(count("1", "target"), 1);
    assert.equal(count("3", "target"), 1);
    const bundle = fig.bundle();
    assert.ok(VEGALITE_MIME in bundle && "image/png" in bundle && !("text/html" in bundle));
    assert.match(String(fig), /source \(3, mean length 1\.3\), target \(2, mean length 2\.0\)/);
  });

  test("long ranges of lengths: 10 bins labelled low-high, tilted so that they do not run together", () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => Array.from({ length: i + 1 }, () => "w"));
    const short = d2l.showListLenPairHist(["a", "b"], "len", "count", [["a"]], [["b", "c"]]);
    const long = d2l.showListLenPairHist(["a", "b"], "len", "count", lines(40), lines(10));
    const axis = (f: typeof short) => (f.spec as { encoding: { x: { axis: { labelAngle: number } } } }).encoding.x.axis.labelAngle;
    const bins = new Set((long.spec as { data: { values: { bin: string }[] } }).data.values.map((v) => v.bin));
    assert.equal(bins.size, 10);
    assert.ok(
      [...bins].every((b) => /^\d+-\d+$/.test(b)),
      [...bins].join(", "),
    );
    assert.equal(axis(short), 0);
    assert.equal(axis(long), -45);
  });
});

describe("bleu (the book's 9.7.6)", () => {
  test("a perfect match is 1, no matching token 0", () => {
    assert.equal(d2l.bleu("il est calme .", "il est calme .", 2), 1);
    assert.equal(d2l.bleu("a b", "c d", 2), 0);
  });

  test("the book's examples: 0.658 and 0.447", () => {
    // p1 = 3/4, p2 = 1/3: 0.75^(1/2) * (1/3)^(1/4)
    assert.ok(Math.abs(d2l.bleu("il est riche .", "il est calme .", 2) - Math.sqrt(0.75) * Math.pow(1 / 3, 0.25)) < 1e-12);
    assert.equal(d2l.bleu("il est riche .", "il est calme .", 2).toFixed(3), "0.658");
    assert.equal(d2l.bleu("je suis en retard ?", "je suis chez moi .", 2).toFixed(3), "0.447");
  });

  test("the brevity penalty exp(min(0, 1 - len_label / len_pred)) for a short prediction, by hand", () => {
    // "a b" against "a b c d": p1 = p2 = 1, penalty exp(1 - 4/2) = e^-1
    assert.ok(Math.abs(d2l.bleu("a b", "a b c d", 2) - Math.exp(-1)) < 1e-12);
    // "a b b" against "a b c d": p1 = 2/3 (the label has one b), p2 = 1/2 ("a b"), p3 = 0 ... k = 2:
    // exp(1 - 4/3) * (2/3)^(1/2) * (1/2)^(1/4)
    assert.ok(Math.abs(d2l.bleu(["a", "b", "b"], ["a", "b", "c", "d"], 2) - Math.exp(1 - 4 / 3) * Math.sqrt(2 / 3) * Math.pow(0.5, 0.25)) < 1e-12);
    // a longer prediction is not penalised: min(0, ...) = 0
    assert.ok(Math.abs(d2l.bleu("a b c", "a b", 1) - Math.sqrt(2 / 3)) < 1e-12);
    // n-grams longer than the prediction are skipped (min(k, len_pred)), so k = 4 on one token
    assert.equal(d2l.bleu("a", "a", 4), 1);
    assert.throws(() => d2l.bleu("a", "a", 0), /k \(the longest n-gram\) must be a positive integer/);
  });
});
