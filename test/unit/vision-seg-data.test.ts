// The generated segmentation data set (lib/vision/segmentationData.ts), the offline stand-in for the book's
// VOC2012 (section 13.9): shapes, determinism from the seed, labels equal to the pasted items' masks (rebuilt
// here from the layout and the items' pixels), class balance, the loaders (on Fashion-MNIST files written
// here), label2image with the book's VOC_COLORMAP, and errors on bad arguments.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import { FASHION_MNIST_FILES, type FashionMnistSplit } from "../../lib/data/fashionMnist";

/**
 * 50 items, item k of class k % 10: a filled 255 rectangle whose size depends on the class, inside a ring of
 * value 30 (below the default threshold 50: drawn faintly, labelled background) and a band of 120 (labelled).
 */
function items(n = 50, salt = 0): FashionMnistSplit {
  const images = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const cls = k % 10;
    labels[k] = cls;
    const half = 5 + (cls % 5) + (salt % 2);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const d = Math.max(Math.abs(y - 13.5), Math.abs(x - 13.5));
        images[k * 784 + y * 28 + x] = d < half ? 255 : d < half + 2 ? 120 : d < half + 4 ? 30 : 0;
      }
    }
  }
  return { images, labels, count: n };
}

/** The label map rebuilt from the layout: nearest-neighbour scaled items, later ones on top, pixel > threshold. */
function expectedLabels(split: FashionMnistSplit, layout: d2l.SegItem[], h: number, w: number, threshold = 50): Int32Array {
  const out = new Int32Array(h * w);
  for (const it of layout) {
    for (let y = 0; y < it.side; y++) {
      for (let x = 0; x < it.side; x++) {
        const sy = Math.floor(((y + 0.5) * 28) / it.side);
        const sx = Math.floor(((x + 0.5) * 28) / it.side);
        if (split.images[it.item * 784 + sy * 28 + sx] > threshold) out[(it.top + y) * w + it.left + x] = 1 + split.labels[it.item];
      }
    }
  }
  return out;
}

describe("FashionSegDataset", () => {
  const split = items();

  test("shapes and types; a batch is its examples stacked", () => {
    const ds = new d2l.FashionSegDataset(true, split, [40, 56], 8);
    assert.deepEqual(ds.cropSize, [40, 56]);
    const [X, Y] = ds.get(3);
    assert.deepEqual([X.shape, X.dtype, Y.shape, Y.dtype], [[40, 56, 3], "float32", [40, 56], "int32"]);
    const xs = X.dataSync();
    assert.ok(
      xs.every((v) => v >= 0 && v <= 1),
      "pixels in 0..1",
    );
    const [XB, YB] = ds.getBatch(Int32Array.from([5, 3]));
    assert.deepEqual(
      [XB.shape, YB.shape],
      [
        [2, 40, 56, 3],
        [2, 40, 56],
      ],
    );
    assert.deepEqual(Array.from(XB.slice([1], [1]).dataSync()), Array.from(xs));
    assert.deepEqual(Array.from(YB.slice([1], [1]).dataSync()), Array.from(Y.dataSync()));
    const square = new d2l.FashionSegDataset(false, split, 32, 1);
    assert.deepEqual(square.get(0)[1].shape, [32, 32]);
  });

  test("deterministic from the seed, in any order; another seed or split gives other images", () => {
    const a = new d2l.FashionSegDataset(true, split, 48, 20, { seed: 7 });
    const b = new d2l.FashionSegDataset(true, split, 48, 20, { seed: 7 });
    const first = Array.from(a.get(9)[0].dataSync());
    b.get(2);
    b.get(15);
    assert.deepEqual(Array.from(b.get(9)[0].dataSync()), first);
    assert.deepEqual(Array.from(b.get(9)[1].dataSync()), Array.from(a.get(9)[1].dataSync()));
    const other = new d2l.FashionSegDataset(true, split, 48, 20, { seed: 8 });
    assert.notDeepEqual(Array.from(other.get(9)[0].dataSync()), first);
    const test = new d2l.FashionSegDataset(false, split, 48, 20, { seed: 7 });
    assert.notDeepEqual(Array.from(test.get(9)[0].dataSync()), first);
  });

  test("labels are the pasted items' masks (threshold, covering order); fully opaque pixels show the item's colour", () => {
    for (const [opts, h, w] of [
      [{}, 48, 64],
      [{ threshold: 20, numItems: [3, 3] as [number, number], seed: 3 }, 40, 40],
    ] as const) {
      const ds = new d2l.FashionSegDataset(true, split, [h, w], 30, opts);
      let covered = 0;
      for (let i = 0; i < ds.length; i++) {
        const layout = ds.layout(i);
        const n = layout.length;
        assert.ok(n >= (opts.numItems?.[0] ?? 1) && n <= (opts.numItems?.[1] ?? 3), `image ${i}: ${n} items`);
        for (const it of layout) assert.ok(it.top >= 0 && it.left >= 0 && it.top + it.side <= h && it.left + it.side <= w, `image ${i}: item inside the canvas`);
        const [X, Y] = ds.get(i);
        const want = expectedLabels(split, layout, h, w, opts.threshold);
        assert.deepEqual(Array.from(Y.dataSync()), Array.from(want), `image ${i}: labels`);
        // where the last item's pixel is 255 (alpha 1) the image is exactly its colour
        const last = layout[n - 1];
        const px = X.dataSync();
        const y = Math.floor(last.side / 2);
        const sy = Math.floor(((y + 0.5) * 28) / last.side);
        if (split.images[last.item * 784 + sy * 28 + sy] === 255) {
          const p = ((last.top + y) * w + last.left + y) * 3;
          for (let c = 0; c < 3; c++) assert.ok(Math.abs(px[p + c] - last.colour[c]) < 1e-6, `image ${i}: colour of the top item`);
          covered++;
        }
      }
      assert.ok(covered > 20, `the centre of the top item was checked on ${covered} images`);
    }
  });

  test("class balance: every class appears, background is most but not all, items' shares near their sizes", () => {
    const ds = new d2l.FashionSegDataset(true, split, 64, 300, { seed: 1 });
    const counts = new Array<number>(11).fill(0);
    const [, Y] = ds.getBatch(Int32Array.from({ length: 300 }, (_, i) => i));
    for (const v of Y.dataSync()) counts[v]++;
    const total = counts.reduce((s, v) => s + v, 0);
    assert.ok(
      counts.every((c) => c > 0),
      `every label 0-10 appears: ${counts.join(", ")}`,
    );
    const bg = counts[0] / total;
    assert.ok(bg > 0.4 && bg < 0.9, `background ${bg.toFixed(3)}`);
    // item k of class c has a labelled square of side 2 * (7 + c % 5) of 28: classes c and c + 5 have the same size
    for (let c = 0; c < 5; c++) {
      const ratio = counts[1 + c] / counts[6 + c];
      assert.ok(ratio > 0.6 && ratio < 1.6, `classes ${c} and ${c + 5} (same size) in ratio ${ratio.toFixed(2)}`);
    }
    assert.ok(counts[5] > counts[1] * 1.5, `bigger items cover more: ${counts[5]} against ${counts[1]}`);
  });

  test("bad arguments: clear errors", () => {
    assert.throws(() => new d2l.FashionSegDataset(true, split, [20, 64], 4), /cropSize must be \[height, width\].*at least 28.*got \[20,64\]/);
    assert.throws(() => new d2l.FashionSegDataset(true, split, [64] as unknown as [number, number], 4), /cropSize/);
    assert.throws(() => new d2l.FashionSegDataset(true, split, 64, 0), /number of images must be a positive integer, got 0/);
    assert.throws(() => new d2l.FashionSegDataset(true, split, 64, 4, { numItems: [3, 1] }), /numItems must be \[fewest, most\]/);
    assert.throws(() => new d2l.FashionSegDataset(true, split, 64, 4, { scale: [0, 0.5] }), /scale must be \[min, max\]/);
    assert.throws(() => new d2l.FashionSegDataset(true, split, 64, 4, { threshold: 300 }), /threshold must be a number in 0\.\.254/);
    assert.throws(() => new d2l.FashionSegDataset(true, split, 64, 4, { seed: 0.5 }), /seed must be an integer/);
    assert.throws(() => new d2l.FashionSegDataset(true, { images: new Uint8Array(10), labels: new Uint8Array(1), count: 1 }, 64, 4), /items must be a Fashion-MNIST split/);
    const ds = new d2l.FashionSegDataset(true, split, 64, 4);
    assert.throws(() => ds.get(4), /index 4 is out of range; the set has 4 images \(0 to 3\)/);
    assert.throws(() => ds.layout(-1), /out of range/);
  });
});

describe("loadDataFashionSeg", () => {
  function writeFiles(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-seg-"));
    const idx = (dims: number[], data: Uint8Array): Buffer => {
      const head = Buffer.alloc(4 + 4 * dims.length);
      head.writeUInt32BE(0x800 + dims.length, 0);
      dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
      return Buffer.concat([head, Buffer.from(data)]);
    };
    const [train, test] = [items(40), items(20, 1)];
    fs.writeFileSync(path.join(dir, FASHION_MNIST_FILES.trainImages), zlib.gzipSync(idx([40, 28, 28], train.images)));
    fs.writeFileSync(path.join(dir, FASHION_MNIST_FILES.trainLabels), zlib.gzipSync(idx([40], train.labels)));
    fs.writeFileSync(path.join(dir, FASHION_MNIST_FILES.testImages), zlib.gzipSync(idx([20, 28, 28], test.images)));
    fs.writeFileSync(path.join(dir, FASHION_MNIST_FILES.testLabels), zlib.gzipSync(idx([20], test.labels)));
    return dir;
  }

  test("two loaders of the book's shapes, the book's sizes, quick-mode subset; batches match the data set", async () => {
    const root = writeFiles();
    const saved = process.env.D2L_QUICK;
    try {
      delete process.env.D2L_QUICK;
      const [trainIter, testIter] = await d2l.loadDataFashionSeg(16, [32, 48], { root, quiet: true, shuffleSeed: 1 });
      assert.deepEqual([trainIter.dataset.length, testIter.dataset.length], [1114, 1078]);
      for await (const [X, Y] of testIter) {
        assert.deepEqual([X.shape, Y.shape, Y.dtype], [[16, 32, 48, 3], [16, 32, 48], "int32"]);
        const direct = await d2l.FashionSegDataset.create(false, [32, 48], { root, quiet: true });
        assert.deepEqual(Array.from(Y.slice([2], [1]).dataSync()), Array.from(direct.get(2)[1].dataSync()));
        break;
      }
      process.env.D2L_QUICK = "1";
      const [qTrain, qTest] = await d2l.loadDataFashionSeg(16, 32, { root, quiet: true });
      assert.deepEqual([qTrain.dataset.length, qTest.dataset.length], [256, 64]);
      const [nTrain] = await d2l.loadDataFashionSeg(16, 32, { root, quiet: true, numTrain: 10, numTest: 5 });
      assert.equal(nTrain.dataset.length, 10);
      await assert.rejects(d2l.loadDataFashionSeg(0, 32, { root }), /batchSize must be a positive integer, got 0/);
      await assert.rejects(d2l.loadDataFashionSeg(4, 32, { root, numTest: -1 }), /numTest must be a positive integer, got -1/);
    } finally {
      if (saved === undefined) delete process.env.D2L_QUICK;
      else process.env.D2L_QUICK = saved;
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("label2image and the colour map", () => {
  test("the book's VOC_COLORMAP, applied per pixel", () => {
    assert.equal(d2l.VOC_COLORMAP.length, 21);
    assert.deepEqual(d2l.VOC_COLORMAP[15], [192, 128, 128]); // VOC's "person"
    assert.equal(d2l.FASHION_SEG_CLASSES.length, 11);
    const img = d2l.label2image(
      tf.tensor3d(
        [
          [
            [0, 1],
            [10, 2],
          ],
        ],
        [1, 2, 2],
        "int32",
      ),
    );
    assert.deepEqual(img.shape, [1, 2, 2, 3]);
    assert.deepEqual(img.arraySync(), [
      [
        [
          [0, 0, 0],
          [128, 0, 0],
        ],
        [
          [64, 128, 0],
          [0, 128, 0],
        ],
      ],
    ]);
    assert.deepEqual(
      d2l
        .label2image(tf.tensor1d([1], "int32"), [
          [0, 0, 0],
          [9, 8, 7],
        ])
        .arraySync(),
      [[9, 8, 7]],
    );
    assert.throws(() => d2l.label2image(tf.tensor1d([21], "int32")), /labels must be whole numbers from 0 to 20.*found 21/);
    assert.throws(() => d2l.label2image(tf.tensor1d([0.5])), /whole numbers.*argMax/);
    assert.throws(() => d2l.label2image(tf.tensor1d([0], "int32"), [[1, 2]]), /colormap must be a list of \[r, g, b\]/);
  });
});
