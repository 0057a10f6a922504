import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { showImages, JUPYTER_DISPLAY } from "../../lib/plot/index";
import { layoutTitles } from "../../lib/plot/images";
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

  test('two-line titles (the book\'s predict_ch3 "true\\npred"): both lines kept whole, the title row twice as tall', () => {
    const imgs = tf.randomUniform([6, 28, 28]);
    const titles = ["ankle boot\nsneaker", "pullover\npullover", "trouser\ntrouser", "t-shirt\nshirt", "coat\ncoat", "bag\nbag"];
    const fig = showImages(imgs, 1, 6, { titles });
    imgs.dispose();
    const layout = layoutTitles(titles, 108);
    assert.deepEqual(layout.lines[0], ["ankle boot", "sneaker"], "split on \\n, nothing cut");
    assert.equal(layout.fontSize, 11);
    assert.equal(layout.height, 2 * 13 + 3);
    const one = showImages(
      tf.tidy(() => tf.zeros([6, 28, 28])),
      1,
      6,
      { titles: titles.map((t) => t.split("\n")[0]) },
    );
    const h1 = (one.displayBundle().metadata["image/png"] as { height: number }).height;
    const h2 = (fig.displayBundle().metadata["image/png"] as { height: number }).height;
    assert.equal(h1, 16 + 108 + 2 * 6);
    assert.equal(h2 - h1, 13, "one more line of 13 px");
    assert.deepEqual(pngSize(fig.bundle()["image/png"] as string), { width: 2 * (6 * 108 + 7 * 6), height: 2 * h2 });
    assert.match(fig.text, /ankle boot \/ sneaker, pullover \/ pullover/);
  });

  test("titles a little too wide get a smaller font; only really long lines are cut, with an ellipsis", () => {
    const fits = layoutTitles(["ankle boot", "t-shirt"], 108);
    assert.equal(fits.fontSize, 11);
    assert.deepEqual(fits.lines, [["ankle boot"], ["t-shirt"]]);
    const wide = "pullover pullover pull"; // too wide at 11 px in a 108 px cell, fits at a smaller size
    const shrunk = layoutTitles([wide, "bag"], 108);
    assert.ok(shrunk.fontSize < 11 && shrunk.fontSize >= 8, `font ${shrunk.fontSize}`);
    assert.deepEqual(shrunk.lines, [[wide], ["bag"]], "shrunk, not cut");
    const long = "a title far too long to fit in one cell even in small type";
    const cut = layoutTitles([long, "bag\nshoe"], 108);
    assert.equal(cut.fontSize, 11, "one hopeless title does not shrink the others");
    assert.ok(cut.lines[0][0].endsWith("…") && cut.lines[0][0].length < long.length, cut.lines[0][0]);
    assert.ok(long.startsWith(cut.lines[0][0].slice(0, -1)));
    assert.deepEqual(cut.lines[1], ["bag", "shoe"]);
    const many = layoutTitles(["1\n2\n3\n4\n5\n6"], 108);
    assert.deepEqual(many.lines[0], ["1", "2", "3", "4…"], "at most four lines");
    assert.equal(layoutTitles([], 108).height, 0);
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
