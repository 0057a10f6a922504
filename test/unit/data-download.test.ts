import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import * as tf from "@tensorflow/tfjs";
import { AddressInfo } from "net";
import {
  DownloadError,
  FASHION_MNIST_FILES,
  cacheRoot,
  downloadFile,
  formatBytes,
  loadDataFashionMnist,
  type Checksums,
} from "../../lib/data/index";

// ---- fixtures: four small Fashion-MNIST files, served from 127.0.0.1 ----

function idx(dims: number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, k) => head.writeUInt32BE(d, 4 + 4 * k));
  return Buffer.concat([head, Buffer.from(data)]);
}
const imgs = (n: number): Uint8Array => Uint8Array.from({ length: n * 784 }, (_, i) => (i * 13) % 256);
const labs = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 10);

const FILES: Record<string, Buffer> = {
  [FASHION_MNIST_FILES.trainImages]: zlib.gzipSync(idx([12, 28, 28], imgs(12))),
  [FASHION_MNIST_FILES.trainLabels]: zlib.gzipSync(idx([12], labs(12))),
  [FASHION_MNIST_FILES.testImages]: zlib.gzipSync(idx([5, 28, 28], imgs(5))),
  [FASHION_MNIST_FILES.testLabels]: zlib.gzipSync(idx([5], labs(5))),
};
const sha1 = (b: Buffer): string => crypto.createHash("sha1").update(b).digest("hex");
const md5 = (b: Buffer): string => crypto.createHash("md5").update(b).digest("hex");
/** The expected-hash table for the fixtures (SHA-1 for two files, MD5 for the others: either kind is accepted). */
const GOOD: Record<string, Checksums> = Object.fromEntries(
  Object.entries(FILES).map(([name, bytes], k) => [name, k % 2 === 0 ? { sha1: [sha1(bytes)] } : { md5: [md5(bytes)] }]),
);

let server: http.Server;
let base: string;
let deadUrl: string;
const hits: string[] = [];
let tmp: string;
const ENV = ["D2L_DATA_DIR", "D2L_CACHE_DIR", "D2L_QUICK", "D2L_FASHION_MNIST_URL"];
const savedEnv: Record<string, string | undefined> = {};

before(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-data-download-"));
  for (const k of ENV) savedEnv[k] = process.env[k];
  server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    hits.push(url);
    const [, mode, name] = url.split("/");
    const body = FILES[name];
    if (!body || mode === "missing") {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    } else if (mode === "ok") {
      res.writeHead(200, { "content-length": body.length });
      res.end(body);
    } else if (mode === "moved") {
      res.writeHead(302, { location: `/ok/${name}` });
      res.end();
    } else if (mode === "truncated") {
      // announce the whole file, send half of it, hang up
      res.writeHead(200, { "content-length": body.length });
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
    } else if (mode === "chunked-short") {
      // no content-length: only the checksum can tell the body is short
      res.writeHead(200);
      res.end(body.subarray(0, body.length - 10));
    } else {
      res.writeHead(500);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dead = http.createServer();
  await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
  deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/`;
  await new Promise<void>((r) => dead.close(() => r()));
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

/** A fresh private cache and the given mirror; returns the Fashion-MNIST cache folder. */
function setup(name: string, mirror: string): string {
  delete process.env.D2L_DATA_DIR;
  delete process.env.D2L_QUICK;
  process.env.D2L_CACHE_DIR = path.join(tmp, name);
  process.env.D2L_FASHION_MNIST_URL = mirror;
  return path.join(tmp, name, "fashion-mnist");
}

const listing = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

describe("downloading Fashion-MNIST into the cache (local HTTP server)", () => {
  test("success: files land in D2L_CACHE_DIR, checksums verified, no temp files; the next load uses the cache", async () => {
    const cache = setup("ok", `${base}/ok/`);
    assert.equal(cacheRoot(), path.join(tmp, "ok"));
    hits.length = 0;
    const [trainIter, testIter] = await loadDataFashionMnist(4, { checksums: GOOD, offlinePackage: false, quiet: true });
    assert.equal(trainIter.numExamples, 12);
    assert.equal(testIter.numExamples, 5);
    assert.deepEqual(listing(cache), Object.values(FASHION_MNIST_FILES).sort());
    for (const [name, bytes] of Object.entries(FILES)) assert.ok(fs.readFileSync(path.join(cache, name)).equals(bytes), name);
    assert.equal(hits.length, 4);
    trainIter.dispose();
    testIter.dispose();

    const [a, b] = await loadDataFashionMnist(4, { checksums: GOOD, offlinePackage: false, quiet: true, verify: true });
    assert.equal(hits.length, 4, "the second load reads the cache");
    a.dispose();
    b.dispose();
  });

  test("redirects are followed", async () => {
    const cache = setup("moved", `${base}/moved`); // no trailing slash: added
    const [a, b] = await loadDataFashionMnist(4, { checksums: GOOD, offlinePackage: false, quiet: true });
    assert.equal(listing(cache).length, 4);
    a.dispose();
    b.dispose();
  });

  const failures: [string, string, Record<string, Checksums>, RegExp][] = [
    ["HTTP 404", "missing", GOOD, /failed: HTTP 404 Not Found/],
    ["truncated body", "truncated", GOOD, /failed: the connection closed after \d+ of \d+ bytes \(truncated download\)/],
    ["short body without a length", "chunked-short", GOOD, /failed: checksum mismatch: got SHA-1 [0-9a-f]{40}/],
    [
      "wrong checksum",
      "ok",
      { ...GOOD, [FASHION_MNIST_FILES.trainImages]: { sha1: ["0".repeat(40)] } },
      /failed: checksum mismatch: got SHA-1 [0-9a-f]{40} \(MD5 [0-9a-f]{32}\), expected SHA-1 0{40}; the file is damaged/,
    ],
  ];
  for (const [name, mode, checksums, pattern] of failures) {
    test(`${name}: a clear error naming the URL and what to do; no partial file in the cache`, async () => {
      const cache = setup(`fail-${name.replace(/ /g, "-")}`, `${base}/${mode}/`);
      const before = tf.memory().numTensors;
      await assert.rejects(loadDataFashionMnist(4, { checksums, offlinePackage: false, quiet: true }), (e: Error) => {
        assert.ok(e instanceof DownloadError, `a DownloadError, got ${e.name}`);
        assert.ok(e.message.startsWith(`Downloading ${base}/${mode}/train-images-idx3-ubyte.gz failed:`), e.message);
        assert.match(e.message, pattern);
        assert.match(e.message, /set D2L_DATA_DIR to it/);
        return true;
      });
      assert.deepEqual(listing(cache), [], "nothing left in the cache folder");
      assert.equal(tf.memory().numTensors, before);
    });
  }

  test("connection refused: a clear error naming the URL; no partial file in the cache", async () => {
    const cache = setup("refused", deadUrl);
    await assert.rejects(loadDataFashionMnist(4, { checksums: GOOD, offlinePackage: false, quiet: true }), (e: Error) => {
      assert.ok(e.message.startsWith(`Downloading ${deadUrl}train-images-idx3-ubyte.gz failed: connection refused by 127.0.0.1:`), e.message);
      assert.match(e.message, /D2L_DATA_DIR/);
      return true;
    });
    assert.deepEqual(listing(cache), []);
    // a D2L_DATA_DIR without the files is mentioned, so the user sees why it was not used
    const empty = path.join(tmp, "empty-data-dir");
    fs.mkdirSync(empty, { recursive: true });
    process.env.D2L_DATA_DIR = empty;
    await assert.rejects(
      loadDataFashionMnist(4, { checksums: GOOD, offlinePackage: false, quiet: true }),
      (e: Error) => e.message.includes(`D2L_DATA_DIR is set to ${empty}, which holds none of them`),
    );
  });

  test("a failure after some files arrived keeps only the complete, verified ones", async () => {
    const cache = setup("partial", `${base}/ok/`);
    const checksums = { ...GOOD, [FASHION_MNIST_FILES.testImages]: { md5: ["f".repeat(32)] } };
    await assert.rejects(loadDataFashionMnist(4, { checksums, offlinePackage: false, quiet: true }), /t10k-images-idx3-ubyte\.gz failed: checksum mismatch/);
    assert.deepEqual(listing(cache), [FASHION_MNIST_FILES.trainImages, FASHION_MNIST_FILES.trainLabels].sort());
  });

  test("a corrupt file in the cache is an error naming it and saying to delete it", async () => {
    const cache = setup("corrupt-cache", deadUrl);
    fs.mkdirSync(cache, { recursive: true });
    for (const [name, bytes] of Object.entries(FILES)) fs.writeFileSync(path.join(cache, name), bytes);
    fs.writeFileSync(path.join(cache, FASHION_MNIST_FILES.testLabels), zlib.gzipSync(idx([5, 1], labs(5))));
    await assert.rejects(loadDataFashionMnist(4, { offlinePackage: false, quiet: true }), (e: Error) => {
      assert.ok(e.message.includes(path.join(cache, FASHION_MNIST_FILES.testLabels)), e.message);
      assert.match(e.message, /bad magic number.*Delete it to download it again/);
      return true;
    });
  });
});

describe("downloadFile", () => {
  test("writes the file atomically and returns its digests; progress goes to stderr outside the kernel", async () => {
    const dest = path.join(tmp, "direct", "sub", "labels.gz");
    const body = FILES[FASHION_MNIST_FILES.testLabels];
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array): boolean => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let d;
    try {
      d = await downloadFile(`${base}/ok/${FASHION_MNIST_FILES.testLabels}`, dest, { checksums: { md5: [md5(body)] } });
    } finally {
      process.stderr.write = write;
    }
    assert.equal(d.sha1, sha1(body));
    assert.ok(fs.readFileSync(dest).equals(body));
    assert.deepEqual(listing(path.dirname(dest)), ["labels.gz"]);
    assert.ok(lines.some((l) => l.includes("labels.gz")), "a progress line names the file");
    await assert.rejects(downloadFile("not a url", dest), /Downloading not a url failed: it is not a valid URL/);
    await assert.rejects(downloadFile("ftp://127.0.0.1/x", path.join(tmp, "direct", "x")), /unsupported URL scheme ftp:/);
  });

  test("formatBytes", () => {
    assert.equal(formatBytes(26_421_880), "26 MB");
    assert.equal(formatBytes(4_422_102), "4.4 MB");
    assert.equal(formatBytes(29_515), "30 kB");
    assert.equal(formatBytes(512), "512 B");
  });
});
