// The generated detection data set (lib/vision/detectionData.ts): the book's banana-set API
// (load_data_bananas, d2l 1.0 section 14.6) on Fashion-MNIST items pasted on noise. Labels are checked on a
// solid item whose pasted box is known pixel for pixel; images repeat for a seed; the loaders give the book's
// shapes and sizes (1,000/100, quick mode 256/64) on the offline Fashion-MNIST copy.
import { test, before, describe, after } from "node:test";
import assert from "node:assert/strict";
import * as path from "path";
import * as fs from "fs";
import * as os from "os";
import * as http from "http";
import * as crypto from "crypto";
import type { AddressInfo } from "net";
import { zipSync } from "fflate";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import type { FashionMnistSplit } from "../../lib/data/fashionMnist";

const SHARED = path.resolve(__dirname, "../../../..", "shared", "data");

before(async () => {
  await tf.setBackend("cpu");
});
const savedQuick = process.env.D2L_QUICK;
after(() => {
  if (savedQuick === undefined) delete process.env.D2L_QUICK;
  else process.env.D2L_QUICK = savedQuick;
});

/** Fashion-MNIST-like items: item k is a solid rectangle of 255 (rows r0..r1, columns c0..c1) with label k. */
function solidItems(rects: [number, number, number, number][]): FashionMnistSplit {
  const images = new Uint8Array(rects.length * 784);
  rects.forEach(([r0, r1, c0, c1], k) => {
    for (let y = r0; y <= r1; y++) for (let x = c0; x <= c1; x++) images[k * 784 + y * 28 + x] = 255;
  });
  return { images, labels: Uint8Array.from(rects.map((_, k) => k + 3)), count: rects.length };
}

describe("labels", () => {
  test("the label is the pasted item's tight box: every pixel inside has the item's colour, the shape its aspect", () => {
    const S = 64;
    const items = solidItems([[4, 23, 8, 19]]); // 20 rows, 12 columns
    const ds = new d2l.FashionDetectionDataset(true, items, 20, { imageSize: S, seed: 3, classes: "fashion" });
    const [X, Y] = ds.getBatch(Int32Array.from({ length: 20 }, (_, i) => i));
    assert.deepEqual(X.shape, [20, S, S, 3]);
    assert.deepEqual(Y.shape, [20, 1, 5]);
    const px = X.dataSync();
    const lab = Y.dataSync();
    for (let i = 0; i < 20; i++) {
      const [cls, x1, y1, x2, y2] = Array.from(lab.subarray(i * 5, i * 5 + 5));
      assert.equal(cls, 3, "classes: fashion gives the item's Fashion-MNIST label");
      assert.ok(0 <= x1 && x1 < x2 && x2 <= 1 && 0 <= y1 && y1 < y2 && y2 <= 1, `box ${[x1, y1, x2, y2]}`);
      const [l, t, r, b] = [x1, y1, x2, y2].map((v) => Math.round(v * S));
      const h = b - t;
      const w = r - l;
      assert.ok(Math.abs(h / w - 20 / 12) < 0.25, `aspect ${h}/${w} should be about 20/12`);
      assert.ok(h >= Math.round(0.15 * S) - 1 && h <= Math.round(0.5 * S) + 1, `the longer side ${h} should be 15%-50% of ${S}`);
      const base = i * S * S * 3;
      const colour = Array.from(px.subarray(base + (t * S + l) * 3, base + (t * S + l) * 3 + 3));
      let outsideSame = 0;
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const o = base + (y * S + x) * 3;
          const same = [0, 1, 2].every((c) => Math.abs(px[o + c] - colour[c]) < 1e-3);
          if (y >= t && y < b && x >= l && x < r) assert.ok(same, `image ${i}: pixel (${y}, ${x}) inside the box is not the item's colour`);
          else if (same) outsideSame++;
        }
      }
      assert.ok(outsideSame < 5, `image ${i}: ${outsideSame} pixels outside the box have the item's exact colour`);
      for (const v of px.subarray(base, base + S * S * 3)) assert.ok(v >= 0 && v <= 255);
    }
  });

  test('classes "object" (the default) labels every box 0, as the banana set', () => {
    const ds = new d2l.FashionDetectionDataset(false, solidItems([[0, 27, 0, 27]]), 5, { imageSize: 32 });
    const [, Y] = ds.getBatch(Int32Array.from([0, 1, 2, 3, 4]));
    const lab = Y.dataSync();
    for (let i = 0; i < 5; i++) assert.equal(lab[i * 5], 0);
  });
});

describe("determinism", () => {
  const items = solidItems([
    [2, 20, 3, 25],
    [0, 27, 10, 17],
    [5, 9, 5, 9],
  ]);
  test("the same seed gives the same images in any order; get(i) is row i of a batch; seeds and splits differ", () => {
    const a = new d2l.FashionDetectionDataset(true, items, 10, { imageSize: 48, seed: 7 });
    const b = new d2l.FashionDetectionDataset(true, items, 10, { imageSize: 48, seed: 7 });
    const [Xa, Ya] = a.getBatch(Int32Array.from([0, 1, 2, 3]));
    const [Xb, Yb] = b.getBatch(Int32Array.from([3, 2, 1, 0]));
    assert.deepEqual(Array.from(Xa.slice([1], [1]).dataSync()), Array.from(Xb.slice([2], [1]).dataSync()));
    assert.deepEqual(Array.from(Ya.slice([3], [1]).dataSync()), Array.from(Yb.slice([0], [1]).dataSync()));
    const [x2, y2] = a.get(2);
    assert.deepEqual(x2.shape, [48, 48, 3]);
    assert.deepEqual(y2.shape, [1, 5]);
    assert.deepEqual(Array.from(x2.dataSync()), Array.from(Xa.slice([2], [1]).dataSync()));
    const c = new d2l.FashionDetectionDataset(true, items, 10, { imageSize: 48, seed: 8 });
    const v = new d2l.FashionDetectionDataset(false, items, 10, { imageSize: 48, seed: 7 });
    const diff = (p: tf.Tensor, q: tf.Tensor): number => tf.max(tf.abs(tf.sub(p, q))).dataSync()[0];
    assert.ok(diff(c.get(0)[0], a.get(0)[0]) > 10, "another seed should give other images");
    assert.ok(diff(v.get(0)[0], a.get(0)[0]) > 10, "validation images should differ from training images");
  });

  test("clear errors", () => {
    assert.throws(() => new d2l.FashionDetectionDataset(true, items, 4, { imageSize: 16 }), /imageSize must be an integer of at least 32/);
    assert.throws(() => new d2l.FashionDetectionDataset(true, items, 4, { scale: [0.6, 0.2] }), /scale must be \[min, max\]/);
    assert.throws(() => new d2l.FashionDetectionDataset(true, items, 4, { classes: "bananas" as "object" }), /classes must be "object"/);
    assert.throws(() => new d2l.FashionDetectionDataset(true, items, 4).get(4), /index 4 is out of range; the set has 4 images/);
    return assert.rejects(d2l.loadDataFashionDetection(0), /batchSize must be a positive integer/);
  });
});

describe("loaders on the offline Fashion-MNIST copy", () => {
  test("the book's sizes: 1000 training and 100 validation images, batches [32, size, size, 3] and [32, 1, 5]", async () => {
    delete process.env.D2L_QUICK;
    const [trainIter, valIter] = await d2l.loadDataFashionDetection(32, { imageSize: 32, root: SHARED, quiet: true, shuffleSeed: 1 });
    assert.equal(trainIter.dataset.length, 1000);
    assert.equal(valIter.dataset.length, 100);
    let n = 0;
    for await (const [X, Y] of valIter) {
      if (n === 0) {
        assert.deepEqual(X.shape, [32, 32, 32, 3]);
        assert.deepEqual(Y.shape, [32, 1, 5]);
        const max = tf.max(X).dataSync()[0];
        assert.ok(max > 200 && max <= 255, `pixels are 0..255 as the book's, max ${max}`);
      }
      n += X.shape[0];
      tf.dispose([X, Y]);
    }
    assert.equal(n, 100);
    const [X] = await d2l.loadDataFashionDetection(32, { imageSize: 256, numTrain: 2, numVal: 1, root: SHARED, quiet: true });
    for await (const [Xb, Yb] of X) {
      assert.deepEqual(Xb.shape, [2, 256, 256, 3]); // the book's image size by default
      tf.dispose([Xb, Yb]);
    }
  });

  test("quick mode: 256 and 64 images", async () => {
    process.env.D2L_QUICK = "1";
    const [trainIter, valIter] = await d2l.loadDataFashionDetection(32, { imageSize: 32, root: SHARED, quiet: true });
    assert.equal(trainIter.dataset.length, 256);
    assert.equal(valIter.dataset.length, 64);
    delete process.env.D2L_QUICK;
  });
});

describe("loadDataBananas: the book's real banana files, downloaded (a local HTTP server here)", () => {
  const saved = { cache: process.env.D2L_CACHE_DIR, data: process.env.D2L_DATA_DIR, hub: d2l.DATA_HUB["banana-detection"] };
  let server: http.Server;
  let tmp: string;
  let zipBytes: Buffer;
  // 2 training images and 1 validation image of 32x24 pixels, each a solid colour, with the book's label.csv columns
  const colours = [
    [255, 0, 0],
    [0, 128, 255],
    [10, 200, 30],
  ];
  before(async () => {
    const sharp = (await import("sharp")).default;
    const png = (c: number[]): Promise<Buffer> =>
      sharp(
        Buffer.alloc(24 * 32 * 3).map((_, i) => c[i % 3]),
        { raw: { width: 32, height: 24, channels: 3 } },
      )
        .png()
        .toBuffer();
    const files: Record<string, Uint8Array> = {
      "banana-detection/bananas_train/label.csv": Buffer.from("img_name,label,xmin,ymin,xmax,ymax\n0.png,0,104,20,143,58\n1.png,0,68,175,118,223\n"),
      "banana-detection/bananas_train/images/0.png": await png(colours[0]),
      "banana-detection/bananas_train/images/1.png": await png(colours[1]),
      "banana-detection/bananas_val/label.csv": Buffer.from("img_name,label,xmin,ymin,xmax,ymax\n0.png,0,0,64,128,256\n"),
      "banana-detection/bananas_val/images/0.png": await png(colours[2]),
    };
    zipBytes = Buffer.from(zipSync(files));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-bananas-"));
    server = http.createServer((req, res) => {
      if (req.url === "/banana-detection.zip") {
        res.writeHead(200, { "content-length": zipBytes.length });
        res.end(zipBytes);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(tmp, { recursive: true, force: true });
    d2l.DATA_HUB["banana-detection"] = saved.hub;
    for (const [k, v] of [
      ["D2L_CACHE_DIR", saved.cache],
      ["D2L_DATA_DIR", saved.data],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  test("the book's DATA_HUB entry; images and labels / 256 as read_data_bananas; loaders of [X, Y]", async () => {
    assert.deepEqual(saved.hub, ["http://d2l-data.s3-accelerate.amazonaws.com/banana-detection.zip", "5de26c8fce5ccdea9f91267273464dc968d20d72"]);
    const sha1 = crypto.createHash("sha1").update(zipBytes).digest("hex");
    d2l.DATA_HUB["banana-detection"] = [`http://127.0.0.1:${(server.address() as AddressInfo).port}/banana-detection.zip`, sha1];
    process.env.D2L_CACHE_DIR = tmp;
    delete process.env.D2L_DATA_DIR;
    const train = await d2l.readDataBananas(true, { quiet: true });
    assert.equal(train.count, 2);
    assert.deepEqual(train.size, [24, 32]);
    assert.deepEqual(Array.from(train.images.subarray(0, 3)), colours[0]);
    assert.deepEqual(Array.from(train.images.subarray(24 * 32 * 3, 24 * 32 * 3 + 3)), colours[1]);
    assert.deepEqual(Array.from(train.labels), [0, 104 / 256, 20 / 256, 143 / 256, 58 / 256, 0, 68 / 256, 175 / 256, 118 / 256, 223 / 256].map(Math.fround));
    const [trainIter, valIter] = await d2l.loadDataBananas(4, { quiet: true });
    for await (const [X, Y] of valIter) {
      assert.deepEqual(X.shape, [1, 24, 32, 3]);
      assert.deepEqual(Y.shape, [1, 1, 5]);
      assert.deepEqual(Array.from(X.dataSync().subarray(0, 3)), colours[2]);
      assert.deepEqual(Array.from(Y.dataSync()), [0, 0, 0.25, 0.5, 1]);
      tf.dispose([X, Y]);
    }
    let n = 0;
    for await (const [X, Y] of trainIter) {
      n += X.shape[0];
      tf.dispose([X, Y]);
    }
    assert.equal(n, 2);
    trainIter.dispose();
    valIter.dispose();
  });

  test("offline, it fails and says to use the generated set, not silently giving something else", async () => {
    d2l.DATA_HUB["banana-detection"] = [`http://127.0.0.1:${(server.address() as AddressInfo).port}/missing.zip`, "0".repeat(40)];
    process.env.D2L_CACHE_DIR = path.join(tmp, "empty");
    delete process.env.D2L_DATA_DIR;
    await assert.rejects(d2l.loadDataBananas(4, { quiet: true }), (e: Error) => {
      assert.match(e.message, /Downloading http:\/\/127\.0\.0\.1:\d+\/missing\.zip failed/);
      assert.match(e.message, /D2L_DATA_DIR.*d2l\.loadDataFashionDetection\(batchSize\)/);
      return true;
    });
  });
});
