import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { showImages, JUPYTER_DISPLAY } from "../../lib/plot/index";
import { pngSize } from "../../lib/plot/png";

// Each image cell is scale * 72 px wide, with 6 px gaps and a 16 px title row.
function expectedSize(rows: number, cols: number, cell: number, cellH: number, titled: boolean): { width: number; height: number } {
  return { width: cols * cell + (cols + 1) * 6, height: rows * ((titled ? 16 : 0) + cellH) + (rows + 1) * 6 };
}

describe("showImages", () => {
  test("a (N,H,W) tensor in a 2x9 grid with titles: PNG size, text, no vega-lite or HTML; no tensors leak", () => {
    const imgs = tf.randomUniform([18, 28, 28]);
    const before = tf.memory().numTensors;
    const titles = Array.from({ length: 18 }, (_, i) => `item ${i}`);
    const fig = showImages(imgs, 2, 9, { titles });
    const out = fig[JUPYTER_DISPLAY]();
    assert.equal(tf.memory().numTensors, before);
    imgs.dispose();
    assert.deepEqual(Object.keys(out.data).sort(), ["image/png", "text/plain"]);
    const want = expectedSize(2, 9, 108, 108, true);
    assert.deepEqual(out.metadata["image/png"], want);
    assert.deepEqual(pngSize(out.data["image/png"] as string), { width: want.width * 2, height: want.height * 2 });
    assert.match(String(out.data["text/plain"]), /^<images: 18 of 28x28 gray in a 2x9 grid: item 0, item 1/);
  });

  test("the pixels are read at once: disposing the tensor afterwards is fine", () => {
    const imgs = tf.ones([2, 4, 4, 1]);
    const fig = showImages(imgs, 1, 2);
    imgs.dispose();
    assert.ok(pngSize(fig.bundle()["image/png"] as string).width > 0);
  });

  test("(N,H,W,3) colour images, non-square, scale and fewer images than cells", () => {
    const imgs = tf.randomUniform([3, 10, 20, 3], 0, 255);
    const fig = showImages(imgs, 2, 2, { scale: 1 });
    imgs.dispose();
    // 72 px wide cells; 10x20 images are half as tall
    const want = expectedSize(2, 2, 72, 36, false);
    assert.deepEqual(fig.displayBundle().metadata["image/png"], want);
    assert.match(fig.text, /3 of 10x20 RGB in a 2x2 grid>/);
  });

  test("nested arrays (N,H,W) in 0..255; more images than cells shows the first ones", () => {
    const img = (v: number): number[][] => Array.from({ length: 5 }, () => Array.from({ length: 5 }, () => v));
    const fig = showImages([img(0), img(128), img(255), img(30)], 1, 3, { titles: ["a", "b", "c", "d"] });
    assert.match(fig.text, /^<images: 3 of 5x5 gray in a 1x3 grid: a, b, c>$/);
    assert.deepEqual(pngSize(fig.bundle()["image/png"] as string), { width: 2 * (3 * 108 + 4 * 6), height: 2 * (16 + 108 + 2 * 6) });
  });

  test("bad input says what was expected", () => {
    const t = tf.zeros([28, 28]);
    assert.throws(() => showImages(t, 1, 1), /shape \[28, 28\]; expected a tensor of shape \(N,H,W\)/);
    t.dispose();
    assert.throws(() => showImages([[[1]]], 0, 1), /numRows must be a positive integer/);
    assert.throws(() => showImages([[[1]]], 1, 1, { scale: -1 }), /scale must be a positive number/);
    assert.throws(() => showImages([[[1, 2]], [[1]]], 1, 2), /image 1 row 0 is not 2 values/);
    assert.throws(() => showImages([], 1, 1), /got no images/);
  });
});
