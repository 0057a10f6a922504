/**
 * d2l.DATA_HUB and d2l.download(name): a local folder (D2L_DATA_DIR), the
 * cache, and downloads from a local HTTP server on 127.0.0.1, with SHA-1
 * checks and clear errors.
 */
import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import { DATA_HUB, DATA_URL, DownloadError, download } from "../../lib/data/index";
import { timeMachineFile, TIME_MACHINE_SHA1, TIME_MACHINE_URL } from "../../lib/text/timeMachine";
import { FRA_ENG_SHA1, FRA_ENG_URL } from "../../lib/text/nmt";

const BODY = Buffer.from("Id,LotArea,Street,SalePrice\n1,8450,Pave,208500\n2,9600,NA,181500\n");
const SHA1 = crypto.createHash("sha1").update(BODY).digest("hex");

let server: http.Server;
let base: string;
let tmp: string;
const hits: string[] = [];
const saved = { data: process.env.D2L_DATA_DIR, cache: process.env.D2L_CACHE_DIR };
const added: string[] = [];

/** Register a hub entry for this test (removed afterwards). */
function entry(name: string, url: string, sha1 = SHA1): void {
  DATA_HUB[name] = [url, sha1];
  added.push(name);
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-hub-"));
  server = http.createServer((req, res) => {
    hits.push(req.url ?? "");
    if (req.url?.startsWith("/ok/")) {
      res.writeHead(200, { "content-length": BODY.length });
      res.end(BODY);
    } else {
      res.writeHead(404);
      res.end("not found");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  for (const n of added.splice(0)) delete DATA_HUB[n];
  if (saved.data === undefined) delete process.env.D2L_DATA_DIR;
  else process.env.D2L_DATA_DIR = saved.data;
  if (saved.cache === undefined) delete process.env.D2L_CACHE_DIR;
  else process.env.D2L_CACHE_DIR = saved.cache;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("DATA_HUB", () => {
  test("holds the book's Kaggle house entries with their SHA-1s, under DATA_URL", () => {
    assert.deepEqual(DATA_HUB.kaggle_house_train, [DATA_URL + "kaggle_house_pred_train.csv", "585e9cc93e70b39160e7921475f9bcd7d31219ce"]);
    assert.deepEqual(DATA_HUB.kaggle_house_test, [DATA_URL + "kaggle_house_pred_test.csv", "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"]);
  });

  test("holds the text chapters' entries under the book's names, which the text loaders read", () => {
    assert.deepEqual(DATA_HUB.time_machine, [DATA_URL + "timemachine.txt", "090b5e7e70c295757f55df93cb0a180b9691891a"]);
    assert.deepEqual(DATA_HUB["fra-eng"], [DATA_URL + "fra-eng.zip", "94646ad1522d915e7b0f9296181140edcf86a4f5"]);
    assert.deepEqual([TIME_MACHINE_URL, TIME_MACHINE_SHA1], DATA_HUB.time_machine);
    assert.deepEqual([FRA_ENG_URL, FRA_ENG_SHA1], DATA_HUB["fra-eng"]);
  });

  test("timeMachineFile downloads from DATA_HUB.time_machine as it is at the call (a mirror set there is used)", async () => {
    const original = DATA_HUB.time_machine;
    const cache = path.join(tmp, "tm-cache");
    process.env.D2L_CACHE_DIR = cache;
    delete process.env.D2L_DATA_DIR;
    DATA_HUB.time_machine = [`${base}/ok/mirror/timemachine.txt`, SHA1];
    try {
      const file = await timeMachineFile({ quiet: true });
      assert.equal(file, path.join(cache, "timemachine.txt"));
      assert.ok(hits.includes("/ok/mirror/timemachine.txt"), `the mirror was not asked: ${hits.join(", ")}`);
      assert.deepEqual(fs.readFileSync(file), BODY);
    } finally {
      DATA_HUB.time_machine = original;
    }
  });

  test("an unknown name, or a malformed entry, is an error that says what to do", async () => {
    await assert.rejects(
      download("no_such_data", tmp),
      /"no_such_data" is not in d2l.DATA_HUB; the names there are .*kaggle_house_train.* Add it with d2l.DATA_HUB\["no_such_data"\] = \[url, sha1\]/,
    );
    entry("bad_sha", `${base}/ok/x.csv`, "1234");
    await assert.rejects(download("bad_sha", tmp), /DATA_HUB\["bad_sha"\] must be \[url, sha1\] with a 40-digit hex SHA-1/);
  });
});

describe("download(name)", () => {
  test("downloads into the cache folder, verifies, and reuses the cached file", async () => {
    delete process.env.D2L_DATA_DIR;
    entry("t_ok", `${base}/ok/house.csv`);
    const cache = path.join(tmp, "cache-ok");
    hits.length = 0;
    const file = await download("t_ok", cache, { quiet: true });
    assert.equal(file, path.join(cache, "house.csv"));
    assert.ok(fs.readFileSync(file).equals(BODY));
    assert.deepEqual(fs.readdirSync(cache), ["house.csv"], "no temporary files left");
    assert.equal(await download("t_ok", cache, { quiet: true }), file);
    assert.equal(hits.length, 1, "the second call reads the cache");
  });

  test("the default cache folder is D2L_CACHE_DIR", async () => {
    delete process.env.D2L_DATA_DIR;
    process.env.D2L_CACHE_DIR = path.join(tmp, "env-cache");
    entry("t_env", `${base}/ok/env.csv`);
    assert.equal(await download("t_env", undefined, { quiet: true }), path.join(tmp, "env-cache", "env.csv"));
  });

  test("a damaged cached file is downloaded again", async () => {
    delete process.env.D2L_DATA_DIR;
    entry("t_damaged", `${base}/ok/damaged.csv`);
    const cache = path.join(tmp, "cache-damaged");
    fs.mkdirSync(cache, { recursive: true });
    fs.writeFileSync(path.join(cache, "damaged.csv"), "Id,LotArea\n1,84");
    hits.length = 0;
    const file = await download("t_damaged", cache, { quiet: true });
    assert.ok(fs.readFileSync(file).equals(BODY));
    assert.equal(hits.length, 1);
  });

  test("a file in D2L_DATA_DIR is used as it is, without the network", async () => {
    const dir = path.join(tmp, "data-dir");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "local.csv"), BODY);
    process.env.D2L_DATA_DIR = dir;
    entry("t_local", "http://127.0.0.1:9/nowhere/local.csv"); // nothing listens on port 9
    const cache = path.join(tmp, "cache-unused");
    assert.equal(await download("t_local", cache, { quiet: true }), path.join(dir, "local.csv"));
    assert.equal(fs.existsSync(cache), false);
    // the dataDir option wins over the environment
    const other = path.join(tmp, "data-dir-2");
    fs.mkdirSync(other, { recursive: true });
    fs.writeFileSync(path.join(other, "local.csv"), BODY);
    assert.equal(await download("t_local", cache, { dataDir: other, quiet: true }), path.join(other, "local.csv"));
  });

  test("a file in D2L_DATA_DIR with the wrong SHA-1 is an error naming the file, both digests and the fix", async () => {
    const dir = path.join(tmp, "data-dir-bad");
    fs.mkdirSync(dir, { recursive: true });
    const bad = Buffer.from("Id,LotArea\n1,84\n");
    fs.writeFileSync(path.join(dir, "bad.csv"), bad);
    process.env.D2L_DATA_DIR = dir;
    entry("t_bad", `${base}/ok/bad.csv`);
    const got = crypto.createHash("sha1").update(bad).digest("hex");
    await assert.rejects(download("t_bad", path.join(tmp, "cache-bad"), { quiet: true }), (e: Error) => {
      assert.ok(e.message.startsWith(`${path.join(dir, "bad.csv")} failed the checksum check: SHA-1 ${got}, expected ${SHA1} for DATA_HUB["t_bad"]`), e.message);
      assert.match(e.message, /replace it with a good copy, or remove it to download/);
      return true;
    });
  });

  test("a D2L_DATA_DIR without the file falls through to the cache and the download", async () => {
    const dir = path.join(tmp, "data-dir-empty");
    fs.mkdirSync(dir, { recursive: true });
    process.env.D2L_DATA_DIR = dir;
    entry("t_fall", `${base}/ok/fall.csv`);
    const cache = path.join(tmp, "cache-fall");
    assert.equal(await download("t_fall", cache, { quiet: true }), path.join(cache, "fall.csv"));
  });

  test("a download with the wrong SHA-1 fails with a DownloadError and leaves nothing in the cache", async () => {
    delete process.env.D2L_DATA_DIR;
    entry("t_mismatch", `${base}/ok/mismatch.csv`, "0".repeat(40));
    const cache = path.join(tmp, "cache-mismatch");
    await assert.rejects(download("t_mismatch", cache, { quiet: true }), (e: Error) => {
      assert.ok(e instanceof DownloadError, e.name);
      assert.match(e.message, new RegExp(`checksum mismatch: got SHA-1 ${SHA1} .*expected SHA-1 0{40}`));
      assert.match(e.message, /put mismatch\.csv \(SHA-1 0{40}\) in a folder and set D2L_DATA_DIR to that folder/);
      return true;
    });
    assert.deepEqual(fs.readdirSync(cache), []);
  });

  test("HTTP 404 is a DownloadError naming the URL and how to work offline", async () => {
    delete process.env.D2L_DATA_DIR;
    entry("t_404", `${base}/missing/gone.csv`);
    await assert.rejects(download("t_404", path.join(tmp, "cache-404"), { quiet: true }), (e: Error) => {
      assert.ok(e.message.startsWith(`Downloading ${base}/missing/gone.csv failed: HTTP 404`), e.message);
      assert.match(e.message, /set D2L_DATA_DIR/);
      return true;
    });
  });

  test("the offline copies in ../shared/data (what CI's D2L_DATA_DIR points at) pass the registered SHA-1s", async () => {
    const shared = path.resolve(__dirname, "../../../../shared/data");
    for (const name of ["kaggle_house_train", "kaggle_house_test", "time_machine"]) {
      assert.equal(await download(name, path.join(tmp, "never"), { dataDir: shared, quiet: true }), path.join(shared, path.basename(DATA_HUB[name][0])));
    }
  });
});
