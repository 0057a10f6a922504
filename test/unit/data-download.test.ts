import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import * as net from "net";
import { spawnSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import { AddressInfo } from "net";
// the fs module object itself (not an import-star copy), so a test can make its calls fail
import realFs = require("fs");
import { DownloadError, FASHION_MNIST_FILES, cacheRoot, downloadFile, formatBytes, loadDataFashionMnist, type Checksums } from "../../lib/data/index";

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
const GOOD: Record<string, Checksums> = Object.fromEntries(Object.entries(FILES).map(([name, bytes], k) => [name, k % 2 === 0 ? { sha1: [sha1(bytes)] } : { md5: [md5(bytes)] }]));

/** 1 MB: larger than a write stream's buffer, so a write fails while the download is still arriving. */
const BIG = crypto.randomBytes(1 << 20);

let server: http.Server;
let base: string;
let deadUrl: string;
const hits: string[] = [];
let tmp: string;
const PROXY_ENV = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"];
const ENV = ["D2L_DATA_DIR", "D2L_CACHE_DIR", "D2L_QUICK", "D2L_FASHION_MNIST_URL", ...PROXY_ENV];
const savedEnv: Record<string, string | undefined> = {};

before(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-data-download-"));
  for (const k of ENV) savedEnv[k] = process.env[k];
  for (const k of PROXY_ENV) delete process.env[k]; // the machine's own proxy must not take the tests' requests
  server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    hits.push(url);
    const [, mode, name] = url.split("/");
    const body = name === "big.bin" ? BIG : FILES[name];
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
    } else if (mode === "stall") {
      // a part of the file, then silence (the client's timeout must end it)
      res.writeHead(200, { "content-length": body.length });
      res.write(body.subarray(0, 10));
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

function restoreEnv(keys: string[]): void {
  for (const k of keys) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
}

afterEach(() => {
  restoreEnv(ENV.filter((k) => !PROXY_ENV.includes(k)));
  for (const k of PROXY_ENV) delete process.env[k];
});

after(async () => {
  restoreEnv(PROXY_ENV);
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
    await assert.rejects(loadDataFashionMnist(4, { checksums: GOOD, offlinePackage: false, quiet: true }), (e: Error) =>
      e.message.includes(`D2L_DATA_DIR is set to ${empty}, which holds none of them`),
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
    assert.ok(
      lines.some((l) => l.includes("labels.gz")),
      "a progress line names the file",
    );
    await assert.rejects(downloadFile("not a url", dest), /Downloading not a url failed: it is not a valid URL/);
    await assert.rejects(downloadFile("ftp://127.0.0.1/x", path.join(tmp, "direct", "x")), /unsupported URL scheme ftp:/);
  });

  test("a server that stops sending: the timeout ends the download with how much came; nothing is left", async () => {
    const dest = path.join(tmp, "stall", "labels.gz");
    const total = FILES[FASHION_MNIST_FILES.testLabels].length;
    const url = `${base}/stall/${FASHION_MNIST_FILES.testLabels}`;
    await assert.rejects(downloadFile(url, dest, { timeoutMs: 300, quiet: true }), (e: Error) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.message, `Downloading ${url} failed: no data for 0.3 s after 10 of ${total} bytes.`);
      return true;
    });
    assert.deepEqual(listing(path.dirname(dest)), []);
  });

  test("formatBytes", () => {
    assert.equal(formatBytes(26_421_880), "26 MB");
    assert.equal(formatBytes(4_422_102), "4.4 MB");
    assert.equal(formatBytes(29_515), "30 kB");
    assert.equal(formatBytes(512), "512 B");
  });
});

// ---- a tiny HTTP proxy on 127.0.0.1: forwards plain-HTTP requests (absolute-form GET), records CONNECTs ----

interface Proxy {
  url: string;
  seen: string[];
  close(): Promise<void>;
}

/** A forwarding proxy; a CONNECT (what HTTPS through a proxy sends) is recorded and refused with 403. */
async function startProxy(): Promise<Proxy> {
  const seen: string[] = [];
  const proxy = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? "/");
    const up = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  proxy.on("connect", (req, socket: net.Socket) => {
    seen.push(`CONNECT ${req.url}`);
    socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => proxy.close(() => r())),
  };
}

describe("downloads through the proxy of the environment", () => {
  const name = FASHION_MNIST_FILES.testLabels;
  const body = FILES[name];

  for (const variable of ["HTTP_PROXY", "http_proxy"]) {
    test(`${variable} set: the proxy on 127.0.0.1 sees the request and the download succeeds through it`, async () => {
      const proxy = await startProxy();
      try {
        process.env[variable] = proxy.url;
        const dest = path.join(tmp, `proxy-${variable}`, name);
        const d = await downloadFile(`${base}/ok/${name}`, dest, { checksums: { md5: [md5(body)] }, quiet: true });
        assert.deepEqual(proxy.seen, [`GET ${base}/ok/${name}`], "the request went to the proxy, in absolute form");
        assert.equal(d.sha1, sha1(body));
        assert.ok(fs.readFileSync(dest).equals(body));
        assert.deepEqual(listing(path.dirname(dest)), [name]);
      } finally {
        await proxy.close();
      }
    });
  }

  test("NO_PROXY naming the host: the download bypasses the proxy", async () => {
    const proxy = await startProxy();
    try {
      process.env.HTTP_PROXY = proxy.url;
      process.env.NO_PROXY = "localhost,127.0.0.1";
      hits.length = 0;
      const dest = path.join(tmp, "no-proxy", name);
      await downloadFile(`${base}/ok/${name}`, dest, { checksums: { md5: [md5(body)] }, quiet: true });
      assert.deepEqual(proxy.seen, []);
      assert.deepEqual(hits, [`/ok/${name}`], "the server was asked directly");
    } finally {
      await proxy.close();
    }
  });

  for (const variable of ["HTTPS_PROXY", "https_proxy"]) {
    test(`${variable} set: an https: download opens its tunnel through the proxy; a refusal names the proxy, nothing is left`, async () => {
      const proxy = await startProxy();
      try {
        process.env[variable] = proxy.url;
        const dest = path.join(tmp, `proxy-${variable}`, "data.gz");
        const url = "https://d2l-ts-proxy-test.invalid/data.gz";
        await assert.rejects(downloadFile(url, dest, { quiet: true }), (e: Error) => {
          assert.ok(e instanceof DownloadError, `a DownloadError, got ${e.name}: ${e.message}`);
          assert.ok(e.message.startsWith(`Downloading ${url} failed: the proxy refused the connection`), e.message);
          assert.ok(e.message.includes(`${variable} is set to ${proxy.url}`), e.message);
          return true;
        });
        assert.deepEqual(proxy.seen, ["CONNECT d2l-ts-proxy-test.invalid:443"]);
        assert.deepEqual(listing(path.dirname(dest)), []);
      } finally {
        await proxy.close();
      }
    });
  }
});

// ---- the disk: full, not writable; what a killed download leaves ----

/** An errno-style error as fs gives it. */
function sysError(code: string, syscall: string, file?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated, ${syscall}${file ? ` '${file}'` : ""}`), { code, syscall, errno: -1, ...(file ? { path: file } : {}) });
}

type FsCallback = (err: NodeJS.ErrnoException | null, ...rest: unknown[]) => void;

/**
 * Make fs's callback `open`/`write`/`writev` fail for temporary download files (`.part-<pid>-<hex>`, or
 * the older `.part` ending):
 * `open` with `openCode`, or the writes after the first with `writeCode`. Returns the undo.
 */
function failPartFiles(how: { openCode?: string; writeCode?: string }): () => void {
  const fsAny = realFs as unknown as Record<string, unknown>;
  const saved = { open: realFs.open, write: realFs.write, writev: realFs.writev };
  const partFds = new Set<number>();
  let writes = 0;
  fsAny.open = (file: fs.PathLike, ...args: unknown[]): void => {
    const cb = args[args.length - 1] as FsCallback;
    if (!/\.part(-|$)/.test(path.basename(String(file)))) return (saved.open as (...a: unknown[]) => void)(file, ...args);
    if (how.openCode) return void process.nextTick(cb, sysError(how.openCode, "open", String(file)));
    (saved.open as (...a: unknown[]) => void)(file, ...args.slice(0, -1), (err: NodeJS.ErrnoException | null, fd: number) => {
      if (!err) partFds.add(fd);
      cb(err, fd);
    });
  };
  const failing =
    (orig: (...a: unknown[]) => void, syscall: string) =>
    (fd: number, ...args: unknown[]): void => {
      if (partFds.has(fd) && how.writeCode && writes++ > 0) {
        const cb = args[args.length - 1] as FsCallback;
        return void process.nextTick(cb, sysError(how.writeCode, syscall));
      }
      orig(fd, ...args);
    };
  fsAny.write = failing(saved.write as (...a: unknown[]) => void, "write");
  fsAny.writev = failing(saved.writev as (...a: unknown[]) => void, "write");
  return () => Object.assign(fsAny, saved);
}

describe("downloads and the disk", () => {
  test("a full disk (simulated ENOSPC on write) says so, with the path and what to do; nothing is left behind", async () => {
    const cache = setup("enospc", `${base}/ok/`);
    const dest = path.join(cache, "big.bin");
    const undo = failPartFiles({ writeCode: "ENOSPC" });
    try {
      await assert.rejects(downloadFile(`${base}/ok/big.bin`, dest, { quiet: true, hint: "Or else." }), (e: Error) => {
        assert.ok(e instanceof DownloadError, `a DownloadError, got ${e.name}: ${e.message}`);
        assert.match(e.message, /failed: the disk holding .* is full \(ENOSPC\) while writing /);
        assert.ok(e.message.includes(`the disk holding ${cache} is full`), e.message);
        assert.ok(e.message.includes(`while writing ${dest}`), e.message);
        assert.match(e.message, /free some space there or write to another disk\. Set D2L_CACHE_DIR to a writable folder with free space\. Or else\.$/);
        assert.doesNotMatch(e.message, /truncated|connection/);
        return true;
      });
    } finally {
      undo();
    }
    assert.deepEqual(listing(cache), [], "no temporary file left");
  });

  test("a full tmpfs: the download says the disk is full and leaves nothing (ENOSPC at fsync where mounting is not allowed)", async (t) => {
    const mnt = path.join(tmp, "small-tmpfs");
    fs.mkdirSync(mnt);
    // a real full disk where this process may mount (root with CAP_SYS_ADMIN, as in CI's container)
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt]).status === 0;
    t.diagnostic(mounted ? `a 256 kB tmpfs on ${mnt}` : "mount not allowed: a simulated ENOSPC at fsync");
    const dest = path.join(mnt, "cache", "big.bin");
    // otherwise the write succeeds and the flush fails, as on a disk that allocates late (NFS, XFS)
    const saved = realFs.fsyncSync;
    if (!mounted) {
      (realFs as { fsyncSync: (fd: number) => void }).fsyncSync = (): void => {
        throw sysError("ENOSPC", "fsync");
      };
    }
    try {
      await assert.rejects(downloadFile(`${base}/ok/big.bin`, dest, { quiet: true }), (e: Error) => {
        assert.ok(e instanceof DownloadError, `a DownloadError, got ${e.name}: ${e.message}`);
        assert.ok(e.message.includes(`failed: the disk holding ${path.dirname(dest)} is full (ENOSPC) while writing ${dest}`), e.message);
        return true;
      });
      assert.deepEqual(listing(path.dirname(dest)), [], "no temporary file left");
      if (mounted) assert.equal(fs.statfsSync(mnt).bfree, fs.statfsSync(mnt).blocks, "the tmpfs is empty again");
    } finally {
      realFs.fsyncSync = saved;
      if (mounted) spawnSync("umount", [mnt]);
    }
  });

  test("a folder that is not writable (EACCES) says so; a file where a folder should be says so", async () => {
    const cache = setup("eacces", `${base}/ok/`);
    const dest = path.join(cache, FASHION_MNIST_FILES.testLabels);
    const undo = failPartFiles({ openCode: "EACCES" });
    try {
      await assert.rejects(downloadFile(`${base}/ok/${FASHION_MNIST_FILES.testLabels}`, dest, { quiet: true }), (e: Error) => {
        assert.ok(e instanceof DownloadError, `a DownloadError, got ${e.name}: ${e.message}`);
        assert.ok(e.message.includes(`failed: the folder ${cache} is not writable by this user (EACCES)`), e.message);
        assert.match(e.message, /make it writable or write to another folder\. Set D2L_CACHE_DIR to a writable folder/);
        return true;
      });
    } finally {
      undo();
    }
    assert.deepEqual(listing(cache), []);

    // root is not stopped by chmod: a file in place of the folder is a folder nobody can write to
    const blocker = path.join(tmp, "a-file");
    fs.writeFileSync(blocker, "");
    const under = path.join(blocker, "sub", "x.gz");
    await assert.rejects(downloadFile(`${base}/ok/${FASHION_MNIST_FILES.testLabels}`, under, { quiet: true }), (e: Error) => {
      assert.ok(e instanceof DownloadError);
      assert.match(e.message, /a part of its folder .* is a file, not a folder \((ENOTDIR|EEXIST)\); remove that file or write to another folder/);
      assert.ok(e.message.includes(under), e.message);
      return true;
    });
  });

  test("a leftover .part of a dead process is gone after the next download; those of live processes stay", async () => {
    const cache = setup("stale", `${base}/ok/`);
    fs.mkdirSync(cache, { recursive: true });
    const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const dead = Number(child.stdout);
    assert.ok(dead > 0, "the child's pid");
    const hourAgo = new Date(Date.now() - 3600_000);
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600_000);
    const make = (name: string, when: Date, folder = false): string => {
      const p = path.join(cache, name);
      if (folder) fs.mkdirSync(path.join(p, "inner"), { recursive: true });
      else fs.writeFileSync(p, "half a file");
      fs.utimesSync(p, when, when);
      return name;
    };
    const killedPart = make(`.${FASHION_MNIST_FILES.trainImages}.part-${dead}-0badc0de`, hourAgo);
    const killedOld = make(`.${FASHION_MNIST_FILES.trainLabels}.${dead}.0badc0de.part`, hourAgo); // the names before this change
    const killedUnpack = make(`.unpack-${dead}-0badc0de`, hourAgo, true);
    const oldUnpack = make(".unpack-Ab12Cd", twoDaysAgo, true); // mkdtemp's name: no pid, removed after a day
    const recentOldUnpack = make(".unpack-Xy34Zw", hourAgo, true);
    const livePart = make(`.${FASHION_MNIST_FILES.testImages}.part-${process.pid}-0000beef`, hourAgo);
    const otherLive = make(`.${FASHION_MNIST_FILES.testImages}.part-1-0000feed`, hourAgo); // pid 1 is always alive
    const freshDead = make(`.${FASHION_MNIST_FILES.testLabels}.part-${dead}-00c0ffee`, new Date()); // within the grace time
    const userFile = make("notes.part-1-2", twoDaysAgo);
    const [a, b] = await loadDataFashionMnist(4, { checksums: GOOD, offlinePackage: false, quiet: true });
    a.dispose();
    b.dispose();
    const left = listing(cache);
    for (const gone of [killedPart, killedOld, killedUnpack, oldUnpack]) assert.ok(!left.includes(gone), `${gone} removed`);
    for (const kept of [recentOldUnpack, livePart, otherLive, freshDead, userFile]) assert.ok(left.includes(kept), `${kept} kept`);
    for (const f of Object.values(FASHION_MNIST_FILES)) assert.ok(left.includes(f), `${f} downloaded`);
  });
});
