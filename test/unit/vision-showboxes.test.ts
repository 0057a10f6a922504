// d2l.bboxToRect and d2l.showBoxes (lib/plot/boxes.ts): the book's bbox_to_rect rectangle (13.3), boxes and
// labels drawn on an image as a vega-lite spec (image mark, rect and text marks) with its PNG, where the
// boxes' colours land in the right places (the PNG decoded again with sharp); bad input.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import * as d2l from "../../lib/index";
import { VEGALITE_MIME } from "../../lib/index";

before(async () => {
  await tf.setBackend("cpu");
});

interface Layer {
  data: { values: Record<string, unknown>[] };
  mark: { type: string };
}

/** The PNG of a bundle as RGB pixels. */
async function pixels(b: Record<string, unknown>): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(Buffer.from(String(b["image/png"]), "base64"))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Bounding box (in PNG pixels) of the pixels that `is` picks. */
function where(
  p: { data: Buffer; width: number; height: number },
  is: (r: number, g: number, b: number) => boolean,
): { n: number; x0: number; x1: number; y0: number; y1: number } {
  let n = 0;
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let y = 0; y < p.height; y++) {
    for (let x = 0; x < p.width; x++) {
      const o = (y * p.width + x) * 3;
      if (!is(p.data[o], p.data[o + 1], p.data[o + 2])) continue;
      n++;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  return { n, x0, x1, y0, y1 };
}

describe("bboxToRect and showBoxes", () => {
  test("bboxToRect: the book's Rectangle for the dog (xy (60, 45), width 318, height 471, linewidth 2)", () => {
    assert.deepEqual(d2l.bboxToRect([60, 45, 378, 516], "blue"), { x: 60, y: 45, width: 318, height: 471, color: "blue", linewidth: 2 });
    assert.deepEqual(d2l.bboxToRect(tf.tensor1d([400, 112, 655, 493]), "red"), { x: 400, y: 112, width: 255, height: 381, color: "red", linewidth: 2 });
    assert.throws(() => d2l.bboxToRect([1, 2, 3], "blue"), /bbox must be 4 finite numbers \[x1, y1, x2, y2\]/);
    assert.throws(() => d2l.bboxToRect([1, 2, 3, 4], ""), /a colour must be a CSS colour name/);
  });

  test("the bundle: vega-lite with the image and the boxes, a PNG, a text line; colours cycle as the book's show_bboxes", () => {
    const img = tf.fill([40, 80, 3], 255, "int32");
    const boxes = tf.tensor2d([
      [10, 5, 30, 25],
      [40, 10, 70, 35],
      [0, 0, 80, 40],
      [5, 5, 10, 10],
      [1, 1, 2, 2],
      [3, 3, 4, 4],
    ]);
    const fig = d2l.showBoxes(img, boxes, ["a", "b"]);
    const b = fig.bundle();
    assert.deepEqual(Object.keys(b), [VEGALITE_MIME, "image/png", "text/plain"]);
    const spec = b[VEGALITE_MIME] as { layer: Layer[]; width: number; height: number };
    assert.deepEqual(
      spec.layer.map((l) => l.mark.type),
      ["image", "rect", "rect", "text"],
    );
    assert.equal(spec.width, 360);
    assert.equal(spec.height, 180); // the image's aspect ratio
    const rects = spec.layer[1].data.values;
    assert.deepEqual(
      rects.map((r) => r.color),
      ["blue", "green", "red", "magenta", "cyan", "blue"],
    );
    assert.deepEqual(
      rects.map((r) => [r.x1, r.y1, r.x2, r.y2]),
      boxes.arraySync(),
    );
    assert.deepEqual(
      spec.layer[3].data.values.map((r) => r.label),
      ["a", "b"],
    );
    assert.match(String(b["text/plain"]), /^<image 40x80 RGB with 6 boxes: a \[10, 5, 30, 25\] blue; b \[40, 10, 70, 35\] green; \[0, 0, 80, 40\] red/);
    assert.match(String((spec.layer[0].data.values[0] as { url: string }).url), /^data:image\/png;base64,/);
  });

  test("the PNG: a blue and a red box where they belong on a white image; bboxToRect colours and white labels' black text", async () => {
    const img = tf.ones([100, 200, 3]); // values 0..1: white
    const fig = d2l.showBoxes(img, [d2l.bboxToRect([20, 20, 80, 60], "b"), d2l.bboxToRect([120, 40, 180, 90], "red")], undefined, undefined, { width: 4 });
    const p = await pixels(fig.bundle());
    const blue = where(p, (r, g, b) => b > 200 && r < 60 && g < 60);
    const red = where(p, (r, g, b) => r > 200 && g < 60 && b < 60);
    assert.ok(blue.n > 100 && red.n > 100, `blue ${blue.n} and red ${red.n} pixels`);
    // the boxes' sizes in PNG pixels, in the image's proportions: 60x40 and 60x50 image pixels
    const bw = blue.x1 - blue.x0;
    const bh = blue.y1 - blue.y0;
    const rw = red.x1 - red.x0;
    const rh = red.y1 - red.y0;
    assert.ok(Math.abs(bw / bh - 60 / 40) < 0.1, `blue box ${bw}x${bh}`);
    assert.ok(Math.abs(rw / rh - 60 / 50) < 0.1, `red box ${rw}x${rh}`);
    assert.ok(Math.abs(bw - rw) <= 2, "equal widths");
    // left to right and top to bottom as in the image: red starts 100 image pixels right of blue, 20 lower
    const scale = bw / 60;
    assert.ok(Math.abs((red.x0 - blue.x0) / scale - 100) < 3, `x offset ${(red.x0 - blue.x0) / scale}`);
    assert.ok(Math.abs((red.y0 - blue.y0) / scale - 20) < 3, `y offset ${(red.y0 - blue.y0) / scale}`);
    // without boxes there is no blue at all
    const none = await pixels(d2l.showBoxes(img, []).bundle());
    assert.equal(where(none, (r, g, b) => b > 200 && r < 60 && g < 60).n, 0);
    // a white box's label is black text on white
    const w = d2l.showBoxes(img, [[10, 10, 50, 50]], ["cat"], ["w"]).bundle()[VEGALITE_MIME] as { layer: Layer[] };
    assert.equal(w.layer[3].data.values[0].textColor, "black");
  });

  test("bad input says what was expected", () => {
    const img = tf.zeros([10, 10, 3]);
    assert.throws(() => d2l.showBoxes(tf.zeros([2, 10, 10, 3]), []), /image must be a tensor \[height, width, channels\]/);
    assert.throws(() => d2l.showBoxes(img, tf.zeros([3, 5])), /boxes must be a tensor \[numBoxes, 4\]/);
    assert.throws(() => d2l.showBoxes(img, [[1, 2, 3]]), /box 0 must be 4 finite numbers/);
    assert.throws(() => d2l.showBoxes(img, [[1, 2, 3, 4]], undefined, []), /colors must name at least one colour/);
    assert.throws(() => d2l.showBoxes(img, [[1, 2, 3, 4]], undefined, undefined, { width: 0 }), /width must be a positive number of inches/);
  });
});
