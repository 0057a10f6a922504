// d2l.transforms against torchvision 0.14 (fixtures: test/fixtures/transforms/make_fixtures.py),
// and the random transforms' statistics, seeding, batches and errors.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import { seed } from "../../lib/seed";

const T = d2l.transforms;
const F = d2l.transforms.functional;

before(async () => {
  await tf.setBackend("cpu");
});

interface Case {
  name: string;
  op: string;
  params: Record<string, unknown>;
  image: string;
  shape: number[];
  data: number[];
}
interface Fixtures {
  torchvision: string;
  images: Record<string, { shape: number[]; data: number[] }>;
  cases: Case[];
}

const FIXTURES = path.resolve(__dirname, "../../../test/fixtures/transforms/torchvision.json");
const fixtures = JSON.parse(fs.readFileSync(FIXTURES, "utf8")) as Fixtures;

type P = Record<string, unknown>;
const num = (p: P, k: string): number => p[k] as number;

/** Run one fixture case through d2l's functional API. */
function runCase(x: tf.Tensor, c: Case): tf.Tensor {
  const p = c.params;
  const interp = p.interpolation as d2l.transforms.Interpolation;
  switch (c.op) {
    case "resize":
      return F.resize(x, p.size as number | number[], interp);
    case "crop":
      return F.crop(x, num(p, "top"), num(p, "left"), num(p, "height"), num(p, "width"));
    case "resizedCrop":
      return F.resizedCrop(x, num(p, "top"), num(p, "left"), num(p, "height"), num(p, "width"), p.size as number[]);
    case "centerCrop":
      return F.centerCrop(x, p.size as number | number[]);
    case "hflip":
      return F.hflip(x);
    case "vflip":
      return F.vflip(x);
    case "pad":
      return F.pad(x, p.padding as number | number[], p.paddingMode as d2l.transforms.PaddingMode, (p.fill as number | undefined) ?? 0);
    case "normalize":
      return F.normalize(x, p.mean as number[], p.std as number[]);
    case "rgbToGrayscale":
      return F.rgbToGrayscale(x, num(p, "numOutputChannels"));
    case "adjustBrightness":
      return F.adjustBrightness(x, num(p, "factor"));
    case "adjustContrast":
      return F.adjustContrast(x, num(p, "factor"));
    case "adjustSaturation":
      return F.adjustSaturation(x, num(p, "factor"));
    case "adjustHue":
      return F.adjustHue(x, num(p, "factor"));
    case "adjustGamma":
      return F.adjustGamma(x, num(p, "gamma"), num(p, "gain"));
    case "affine":
      return F.affine(x, num(p, "angle"), p.translate as number[], num(p, "scale"), p.shear as number[], {
        interpolation: interp,
        center: p.center as [number, number] | undefined,
        fill: p.fill as number[] | undefined,
      });
    case "rotate":
      return F.rotate(x, num(p, "angle"), { interpolation: interp, expand: p.expand as boolean, fill: p.fill as number | undefined });
    case "linearTransformation": {
      const D = c.shape.reduce((a, b) => a * b);
      return F.linearTransformation(x, tf.tensor2d(p.matrix as number[], [D, D]), tf.tensor1d(p.meanVector as number[]));
    }
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

const image = (name: string): tf.Tensor => tf.tensor(fixtures.images[name].data, fixtures.images[name].shape, "float32");

test("the fixtures come from torchvision 0.14 and cover every deterministic transform of the brief", () => {
  assert.match(fixtures.torchvision, /^0\.14/);
  const ops = new Set(fixtures.cases.map((c) => c.op));
  for (const op of [
    "resize",
    "crop",
    "centerCrop",
    "hflip",
    "vflip",
    "pad",
    "normalize",
    "rgbToGrayscale",
    "affine",
    "rotate",
    "adjustBrightness",
    "adjustContrast",
    "adjustSaturation",
    "adjustHue",
    "linearTransformation",
  ]) {
    assert.ok(ops.has(op), `no fixture for ${op}`);
  }
  for (const mode of ["constant", "edge", "reflect", "symmetric"])
    assert.ok(
      fixtures.cases.some((c) => c.op === "pad" && c.params.paddingMode === mode),
      mode,
    );
});

test("each deterministic transform equals torchvision's output within 1e-4, as one image and as a batch of two", () => {
  const failures: string[] = [];
  let worst = 0;
  for (const c of fixtures.cases) {
    const x = image(c.image);
    const out = runCase(x, c);
    if (out.shape.join() !== c.shape.join()) {
      failures.push(`${c.name}: shape [${out.shape}] != torchvision's [${c.shape}]`);
      continue;
    }
    const got = out.dataSync();
    let err = 0;
    for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - c.data[i]));
    worst = Math.max(worst, err);
    if (!(err <= 1e-4)) failures.push(`${c.name}: max |d2l - torchvision| = ${err}`);
    // the same on a batch [2, H, W, C] (deterministic: both images come out equal to the fixture)
    const batch = tf.stack([x, x]);
    const outB = runCase(batch, c);
    assert.deepEqual(outB.shape, [2, ...c.shape], c.name);
    const b = outB.dataSync();
    for (let i = 0; i < got.length; i++) {
      if (b[i] !== got[i] || b[got.length + i] !== got[i]) {
        failures.push(`${c.name}: the batch differs from the single image at ${i}`);
        break;
      }
    }
    tf.dispose([x, out, batch, outB]);
  }
  assert.deepEqual(failures, []);
  assert.ok(fixtures.cases.length >= 60, `only ${fixtures.cases.length} cases`);
  console.log(`${fixtures.cases.length} torchvision cases, worst |difference| ${worst.toExponential(2)}`);
});

test("the transform classes give the functional results (Resize, CenterCrop, Pad, Normalize, Grayscale, LinearTransformation, ToTensor)", () => {
  const x = image("img");
  const same = (a: tf.Tensor, b: tf.Tensor): void => {
    assert.deepEqual(a.shape, b.shape);
    assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  };
  same(new T.Resize(6).apply(x), F.resize(x, 6));
  same(new T.CenterCrop([5, 6]).apply(x), F.centerCrop(x, [5, 6]));
  same(new T.Pad([1, 2], { paddingMode: "reflect" }).apply(x), F.pad(x, [1, 2], "reflect"));
  same(new T.Normalize([0.5, 0.4, 0.3], [0.2, 0.3, 0.4]).apply(x), F.normalize(x, [0.5, 0.4, 0.3], [0.2, 0.3, 0.4]));
  same(new T.Grayscale(3).apply(x), F.rgbToGrayscale(x, 3));
  const D = 11 * 13 * 3;
  same(new T.LinearTransformation(tf.eye(D), tf.zeros([D])).apply(x), x);
  const bytes = tf.tensor3d([[[0, 51, 255]]], [1, 1, 3], "int32");
  const t = new T.ToTensor().apply(bytes);
  assert.equal(t.dtype, "float32");
  assert.deepEqual(Array.from(t.dataSync()), [0, 0.2, 1].map(Math.fround));
  assert.deepEqual(new T.ToTensor().apply(tf.tensor2d([[255]], [1, 1], "int32")).shape, [1, 1, 1]);
  // crops and flips keep int32 pixels
  assert.equal(F.hflip(bytes).dtype, "int32");
  assert.equal(new T.RandomCrop(1, { padding: 1, seed: 0 }).apply(bytes).dtype, "int32");
  const halves = new T.RandomCrop(3, { padding: 1, fill: 0.5, seed: 0 }).apply(bytes);
  assert.equal(halves.dtype, "float32"); // a fractional fill is kept, not cut to an integer
  assert.deepEqual(Array.from(halves.dataSync()).slice(0, 3), [0.5, 0.5, 0.5]);
});

test("Compose chains transforms and leaves no tensors behind but its output", () => {
  const x = tf.randomUniform([4, 16, 16, 3]);
  const before = tf.memory().numTensors;
  const augs = new T.Compose([new T.RandomHorizontalFlip(0.5, { seed: 1 }), new T.RandomResizedCrop(12, { seed: 2 }), new T.Normalize(0.5, 0.25), (y: tf.Tensor) => tf.mul(y, 1)]);
  const y = augs.apply(x);
  assert.deepEqual(y.shape, [4, 12, 12, 3]);
  assert.equal(tf.memory().numTensors, before + 1);
  y.dispose();
  x.dispose();
});

test("RandomHorizontalFlip and RandomVerticalFlip flip at rate p over 2000 draws, per image of a batch", () => {
  const x = tf.tensor4d(
    Array.from({ length: 2000 * 2 }, (_, i) => i % 2),
    [2000, 1, 2, 1],
  ); // each image [0, 1]
  for (const p of [0.5, 0.2]) {
    const h = new T.RandomHorizontalFlip(p, { seed: 7 }).apply(x).dataSync();
    let flipped = 0;
    for (let i = 0; i < 2000; i++) flipped += h[2 * i] === 1 ? 1 : 0;
    // binomial sd at n = 2000 is at most 0.011: 4 sd
    assert.ok(Math.abs(flipped / 2000 - p) < 0.045, `horizontal flip rate ${flipped / 2000} for p = ${p}`);
  }
  const xv = tf.tensor4d(
    Array.from({ length: 2000 * 2 }, (_, i) => i % 2),
    [2000, 2, 1, 1],
  );
  const v = new T.RandomVerticalFlip(0.3, { seed: 8 }).apply(xv).dataSync();
  let flipped = 0;
  for (let i = 0; i < 2000; i++) flipped += v[2 * i] === 1 ? 1 : 0;
  assert.ok(Math.abs(flipped / 2000 - 0.3) < 0.045, `vertical flip rate ${flipped / 2000}`);
  assert.deepEqual(Array.from(new T.RandomHorizontalFlip(1).apply(tf.tensor3d([[[1], [2]]])).dataSync()), [2, 1]);
  assert.deepEqual(Array.from(new T.RandomHorizontalFlip(0).apply(tf.tensor3d([[[1], [2]]])).dataSync()), [1, 2]);
});

test("RandomResizedCrop: the crop's area fraction lies in scale, its aspect ratio in ratio, and the output has the size", () => {
  const rrc = new T.RandomResizedCrop(8, { scale: [0.2, 0.6], ratio: [0.5, 2], seed: 3 });
  const fractions: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const [top, left, h, w] = rrc.getParams(100, 120);
    assert.ok(top >= 0 && left >= 0 && top + h <= 100 && left + w <= 120, `box ${[top, left, h, w]} outside the image`);
    const f = (h * w) / 12000;
    fractions.push(f);
    // rounding the sides to whole pixels moves the area a little beyond the range
    assert.ok(f > 0.2 * 0.97 && f < 0.6 * 1.03, `area fraction ${f}`);
    assert.ok(w / h > 0.5 * 0.9 && w / h < 2 * 1.1, `ratio ${w / h}`);
  }
  const mean = fractions.reduce((a, b) => a + b) / fractions.length;
  assert.ok(Math.abs(mean - 0.4) < 0.02, `mean area fraction ${mean}, expected about 0.4 (uniform in [0.2, 0.6])`);
  assert.deepEqual(rrc.apply(tf.randomUniform([3, 30, 40, 3])).shape, [3, 8, 8, 3]);
  // a thin image falls back to the central crop
  const thin = new T.RandomResizedCrop(4, { scale: [0.9, 1], ratio: [1, 1], seed: 0 });
  assert.deepEqual(thin.getParams(2, 50), [0, 24, 2, 2]);
});

test("random transforms: the same seed gives the same output, different seeds differ, and d2l.seed fixes the unseeded ones", () => {
  const x = tf.randomUniform([6, 20, 20, 3], 0, 1, "float32", 5);
  const make = (s?: number): d2l.transforms.Transform =>
    new T.Compose([
      new T.RandomCrop(16, { padding: 2, seed: s }),
      new T.RandomHorizontalFlip(0.5, { seed: s }),
      new T.RandomRotation(20, { seed: s, interpolation: "bilinear" }),
      new T.RandomAffine(10, { translate: [0.1, 0.1], scale: [0.9, 1.1], shear: [-5, 5, -5, 5], seed: s }),
      new T.ColorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, seed: s }),
      new T.RandomGrayscale(0.3, { seed: s }),
      new T.RandomResizedCrop(12, { seed: s }),
    ]);
  const a = make(1).apply(x).dataSync();
  const b = make(1).apply(x).dataSync();
  const c = make(2).apply(x).dataSync();
  assert.deepEqual(Array.from(a), Array.from(b));
  assert.notDeepEqual(Array.from(a), Array.from(c));
  seed(11);
  const u1 = make().apply(x).dataSync();
  seed(11);
  const u2 = make().apply(x).dataSync();
  seed(12);
  const u3 = make().apply(x).dataSync();
  seed(null);
  assert.deepEqual(Array.from(u1), Array.from(u2));
  assert.notDeepEqual(Array.from(u1), Array.from(u3));
  // per image: a batch of equal images comes out as different images
  const same = tf.stack([x.slice([0], [1]).squeeze([0]), x.slice([0], [1]).squeeze([0])]);
  const out = new T.RandomRotation(30, { seed: 4 }).apply(same);
  const [o1, o2] = tf.unstack(out).map((t) => Array.from(t.dataSync()));
  assert.notDeepEqual(o1, o2);
});

test("RandomRotation and RandomAffine with fixed ranges give the functional results with torchvision's fill 0", () => {
  const x = image("img");
  const rot = new T.RandomRotation([25, 25], { interpolation: "bilinear" }).apply(x);
  const c = fixtures.cases.find((k) => k.name.startsWith("rotate fill 0"));
  assert.ok(c);
  const got = rot.dataSync();
  let err = 0;
  for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - c.data[i]));
  assert.ok(err < 1e-4, `RandomRotation([25, 25]) against torchvision's rotate(25, fill=0): ${err}`);
  const aff = new T.RandomAffine([30, 30], { interpolation: "bilinear", scale: [0.9, 0.9], shear: [10, 10], fill: 0 }).apply(x);
  const ref = F.affine(x, 30, [0, 0], 0.9, [10, 0], { interpolation: "bilinear", fill: 0 });
  assert.deepEqual(Array.from(aff.dataSync()), Array.from(ref.dataSync()));
});

test("ColorJitter's factors stay in their ranges: brightness only scales, hue 0 keeps the image", () => {
  const x = tf.fill([1, 1, 3], 0.5);
  const j = new T.ColorJitter({ brightness: [0.5, 1.5], seed: 0 });
  for (let i = 0; i < 200; i++) {
    const v = j.apply(x).dataSync();
    assert.ok(v[0] >= 0.25 - 1e-6 && v[0] <= 0.75 + 1e-6 && v[0] === v[1], `brightness gave ${v[0]}`);
  }
  const y = tf.randomUniform([5, 5, 3], 0, 1, "float32", 1);
  assert.deepEqual(Array.from(new T.ColorJitter({ hue: 0 }).apply(y).dataSync()), Array.from(y.dataSync()));
});

test("shapes on batches, and a DataLoader applies a Compose per batch through forBatch", async () => {
  const X = tf.randomUniform([10, 28, 28, 1]);
  const y = tf.range(0, 10, 1, "int32");
  const augs = new T.Compose([new T.RandomCrop(28, { padding: 4, seed: 0 }), new T.RandomHorizontalFlip(0.5, { seed: 0 }), new T.Resize([32, 32])]);
  const loader = new d2l.DataLoader(new d2l.TensorDataset(X, y), { batchSize: 4, transform: T.forBatch(augs) });
  const shapes: number[][] = [];
  for await (const [Xb, yb] of loader) {
    shapes.push(Xb.shape);
    tf.dispose([Xb, yb]);
  }
  assert.deepEqual(shapes, [
    [4, 32, 32, 1],
    [4, 32, 32, 1],
    [2, 32, 32, 1],
  ]);
  // [N, H, W] batches of one-channel images come back without the channel
  const [g] = T.forBatch(new T.CenterCrop(20))(tf.zeros([3, 28, 28]), y);
  assert.deepEqual(g.shape, [3, 20, 20]);
  assert.throws(() => T.forBatch(42 as unknown as d2l.transforms.Transform), /forBatch: expected a transform/);
});

test("bad input gets a clear error: wrong rank, negative or zero sizes, a crop larger than the image, bad options", () => {
  assert.throws(() => F.hflip(tf.zeros([28, 28])), /expected a channels-last image \[H, W, C\] or a batch \[N, H, W, C\], got shape \[28, 28\].*expandDims/);
  assert.throws(() => F.resize(tf.zeros([2, 2, 2, 2, 2]), 3), /got shape \[2, 2, 2, 2, 2\]/);
  assert.throws(() => new T.Resize(-3), /Resize: expected a size for the shorter side \(a positive integer\), got -3/);
  assert.throws(() => F.resize(tf.zeros([4, 4, 1]), [0, 4]), /expected a height \(a positive integer\), got 0/);
  assert.throws(() => new T.CenterCrop([5, -1]), /expected a width/);
  assert.throws(() => new T.RandomCrop(32).apply(tf.zeros([28, 28, 1])), /RandomCrop: the crop \[32, 32\] is larger than the image \[28, 28\].*padIfNeeded/);
  assert.deepEqual(new T.RandomCrop(32, { padIfNeeded: true, seed: 0 }).apply(tf.zeros([28, 28, 1])).shape, [32, 32, 1]);
  assert.throws(() => F.pad(tf.zeros([4, 4, 1]), 4, "reflect"), /reflect padding must be smaller than the image/);
  assert.throws(() => F.pad(tf.zeros([4, 4, 1]), [1, 2, 3]), /padding must be an integer, \[left\/right, top\/bottom\] or \[left, top, right, bottom\]/);
  assert.throws(() => F.normalize(tf.zeros([4, 4, 3]), [0, 0, 0], [1, 0, 1]), /std evaluated to zero/);
  assert.throws(() => F.normalize(tf.zeros([4, 4, 3]), [0, 0], [1, 1]), /mean\): fill must be a number or 3 numbers/);
  assert.throws(() => F.rgbToGrayscale(tf.zeros([4, 4, 2])), /expected an image with 1 or 3 channels/);
  assert.throws(() => F.adjustHue(tf.zeros([4, 4, 3]), 0.7), /hueFactor must be in \[-0.5, 0.5\]/);
  assert.throws(() => F.adjustBrightness(tf.zeros([4, 4, 3]), -1), /brightnessFactor must be a number >= 0/);
  assert.throws(() => new T.RandomHorizontalFlip(1.5), /p must be a probability in \[0, 1\]/);
  assert.throws(() => new T.RandomResizedCrop(8, { scale: [0.9, 0.1] }), /scale must be \[min, max\]/);
  assert.throws(() => new T.ColorJitter({ hue: 0.7 }), /hue must be in \[-0.5, 0.5\]/);
  assert.throws(() => new T.RandomRotation(10, { expand: true }).apply(tf.randomUniform([4, 8, 6, 1])), /RandomRotation: expand makes each image's size depend on its angle/);
  assert.throws(() => F.linearTransformation(tf.zeros([2, 2, 1]), tf.eye(3), tf.zeros([3])), /matrix must be \[D, D\] with D = H \* W \* C = 4/);
  assert.throws(() => F.resize(tf.zeros([4, 4, 1]), 2, "bicubic" as d2l.transforms.Interpolation), /interpolation must be "bilinear" or "nearest"/);
});

test("preprocessFor runs a Compose per example in the DataLoader's worker threads: the same batches as on the main thread, and as apply", async () => {
  const n = 12;
  const pixels = tf.randomUniform([n, 14, 12, 3], 0, 256, "int32", 3);
  const labels = tf.range(0, n, 1, "int32");
  const batches = async (t: d2l.transforms.Transform, numWorkers: number): Promise<number[][]> => {
    const loader = new d2l.DataLoader(new d2l.TensorDataset(pixels, labels), { batchSize: 5, seed: 9, numWorkers, ...T.preprocessFor(t) });
    const out: number[][] = [];
    for await (const [Xb, yb] of loader) {
      out.push([...Xb.shape, ...Array.from(Xb.dataSync()), ...Array.from(yb.dataSync())]);
      tf.dispose([Xb, yb]);
    }
    return out;
  };
  // deterministic: in the workers exactly what apply gives on the whole batch
  const fixed = new T.Compose([
    new T.ToTensor(),
    new T.Resize([10, 9]),
    new T.CenterCrop(8),
    new T.Pad(1, { paddingMode: "reflect" }),
    new T.Normalize([0.5, 0.4, 0.3], [0.2, 0.2, 0.2]),
    new T.Grayscale(1),
  ]);
  const inWorkers = await batches(fixed, 2);
  const direct = fixed.apply(pixels);
  assert.deepEqual(direct.shape, [n, 10, 10, 1]);
  const all = direct.dataSync();
  const per = 10 * 10;
  let row = 0;
  for (const b of inWorkers) {
    const [bn, h, w, c] = b;
    assert.deepEqual([h, w, c], [10, 10, 1]);
    const got = b.slice(4, 4 + bn * per);
    const want = Array.from(all.slice(row * per, (row + bn) * per));
    assert.ok(
      got.every((v, i) => Math.abs(v - want[i]) < 1e-6),
      "worker output differs from apply",
    );
    row += bn;
  }
  assert.equal(row, n);
  // random: the same batches with 0 and 2 workers, and again for the same seed
  const random = new T.Compose([
    new T.RandomCrop(12, { padding: 2 }),
    new T.RandomHorizontalFlip(),
    new T.ToTensor(),
    new T.RandomRotation(15, { interpolation: "bilinear" }),
    new T.RandomAffine(5, { translate: [0.1, 0.1], shear: 3 }),
    new T.ColorJitter({ brightness: 0.3, hue: 0.05 }),
    new T.RandomResizedCrop(8),
  ]);
  const a0 = await batches(random, 0);
  const a2 = await batches(random, 2);
  assert.deepEqual(a0, a2);
  assert.deepEqual(a0[0].slice(0, 4), [5, 8, 8, 3]);
  assert.throws(() => T.preprocessFor(new T.Compose([new T.Lambda((x) => x)])), /cannot run in worker threads.*forBatch/);
});

test("RandomAffine's and RandomCrop's draws cover their ranges and stay inside them", () => {
  const ra = new T.RandomAffine([-10, 20], { translate: [0.1, 0.2], scale: [0.8, 1.2], shear: [-5, 5, 0, 10], seed: 5 });
  let minA = Infinity;
  let maxA = -Infinity;
  const dxs = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const p = ra.getParams(50, 40);
    minA = Math.min(minA, p.angle);
    maxA = Math.max(maxA, p.angle);
    assert.ok(Number.isInteger(p.translate[0]) && Math.abs(p.translate[0]) <= 4 && Math.abs(p.translate[1]) <= 10, `translate ${p.translate}`);
    dxs.add(p.translate[0]);
    assert.ok(p.scale >= 0.8 && p.scale <= 1.2 && p.shear[0] >= -5 && p.shear[0] <= 5 && p.shear[1] >= 0 && p.shear[1] <= 10);
  }
  assert.ok(minA >= -10 && minA < -9.5 && maxA <= 20 && maxA > 19.5, `angles in [${minA}, ${maxA}]`);
  assert.deepEqual(
    [...dxs].sort((a, b) => a - b),
    [-4, -3, -2, -1, 0, 1, 2, 3, 4],
  );
  // RandomCrop(4) of a 6x6 image padded by 1: every offset 0..4 in each direction, about equally often
  const img = tf.tensor3d(
    Array.from({ length: 36 }, (_, i) => i + 1),
    [6, 6, 1],
  );
  const crop = new T.RandomCrop(4, { padding: 1, seed: 6 });
  const batch = tf.stack(Array.from({ length: 2000 }, () => img));
  const out = crop.apply(batch).dataSync();
  const boxes = new Map<string, number>();
  for (let i = 0; i < 2000; i++) {
    const key = Array.from(out.slice(i * 16, i * 16 + 16)).join();
    boxes.set(key, (boxes.get(key) ?? 0) + 1);
  }
  // offsets (r, c) in 0..4 x 0..4: 25 boxes, 80 each on average (binomial sd about 8.8)
  assert.equal(boxes.size, 25);
  for (const [box, k] of boxes) assert.ok(k > 40 && k < 120, `box ${box} drawn ${k} times of 2000`);
});
