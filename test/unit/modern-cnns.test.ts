/**
 * The book's modern CNNs (lib/nn/modern.ts, lib/nn/batchNorm.ts), on the wasm
 * backend the notebooks run on in CI: each builder's layer-by-layer output
 * shapes for one image of the book's size, parameter counts equal to the
 * book's PyTorch nets, the custom layers' shapes, weights and errors, batch
 * normalization from scratch against tfjs' own, gradients and a trainCh6
 * step reaching every weight inside custom layers, initXavier reaching their
 * kernels, and a save/load round trip.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { useBackend } from "../../lib/backend";
import { DataLoader, TensorDataset } from "../../lib/data/index";
import { trainCh6 } from "../../lib/train/index";
import { initKaiming, initXavier } from "../../lib/nn/init";
import {
  alexnet,
  batchNorm,
  BatchNorm,
  convBlock,
  DenseBlock,
  densenet,
  googlenet,
  Inception,
  nin,
  ninBlock,
  Residual,
  resnet18,
  resnetBlock,
  transitionBlock,
  vgg,
  vggBlock,
} from "../../lib/nn/index";

before(async () => {
  await useBackend("wasm");
});

type Layer = tf.layers.Layer;
const SHOWN = new Set(["Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dense", "GlobalAveragePooling2D", "Inception", "Residual", "DenseBlock"]);

/** Run one image through the net layer by layer (as the notebooks do) and list the output shapes of the layers the book prints. */
function walk(net: tf.LayersModel, size: number): string[] {
  return tf.tidy(() => {
    let X: tf.Tensor = tf.randomUniform([1, size, size, 1], 0, 1, "float32", 1);
    const shapes: string[] = [];
    for (const layer of net.layers) {
      X = layer.apply(X) as tf.Tensor;
      if (SHOWN.has(layer.getClassName())) shapes.push(`${layer.getClassName()} ${X.shape.join("x")}`);
    }
    assert.ok(X.dataSync().every(Number.isFinite), "non-finite logits");
    return shapes;
  });
}

const count = (ws: tf.LayerVariable[]): number => ws.reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y as number), 1), 0);

/** Weight values by name, copied out. */
function snapshot(net: tf.LayersModel): Map<string, Float32Array> {
  return new Map(net.weights.map((w) => [w.originalName, (w.read().dataSync() as Float32Array).slice()]));
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

// Reference parameter counts: the book's PyTorch nets (d2l 0.17, chapter 7, one input channel, 10 classes)
// built with torch 2 and counted with sum(p.numel() for p in net.parameters()); batch norm's running
// mean and variance are PyTorch buffers, tfjs' non-trainable weights.
describe("the book's nets: output shapes and parameter counts", () => {
  test("AlexNet at 224x224: the book's shapes (54x54 after the first convolution) and 46,764,746 parameters", () => {
    const net = alexnet();
    assert.deepEqual(walk(net, 224), [
      "Conv2D 1x54x54x96",
      "MaxPooling2D 1x26x26x96",
      "Conv2D 1x26x26x256",
      "MaxPooling2D 1x12x12x256",
      "Conv2D 1x12x12x384",
      "Conv2D 1x12x12x384",
      "Conv2D 1x12x12x256",
      "MaxPooling2D 1x5x5x256",
      "Flatten 1x6400",
      "Dense 1x4096",
      "Dense 1x4096",
      "Dense 1x10",
    ]);
    assert.equal(count(net.trainableWeights), 46_764_746);
    net.dispose();
  });

  test("VGG-11 with 4x fewer channels (the net the book trains) at 224x224: five blocks halving the size, 43,093,322 parameters", () => {
    const ratio = 4;
    const convArch: [number, number][] = [
      [1, 64],
      [1, 128],
      [2, 256],
      [2, 512],
      [2, 512],
    ];
    const net = vgg(convArch.map(([n, c]) => [n, c / ratio] as [number, number]));
    const pools = walk(net, 224).filter((s) => s.startsWith("MaxPooling2D") || s.startsWith("Dense") || s.startsWith("Flatten"));
    assert.deepEqual(pools, [
      "MaxPooling2D 1x112x112x16",
      "MaxPooling2D 1x56x56x32",
      "MaxPooling2D 1x28x28x64",
      "MaxPooling2D 1x14x14x128",
      "MaxPooling2D 1x7x7x128",
      "Flatten 1x6272",
      "Dense 1x4096",
      "Dense 1x4096",
      "Dense 1x10",
    ]);
    assert.equal(count(net.trainableWeights), 43_093_322);
    net.dispose();
  });

  test("NiN at 224x224: no dense layer, the last block's 10 channels averaged, 1,992,166 parameters", () => {
    const net = nin();
    const shapes = walk(net, 224);
    assert.deepEqual(
      shapes.filter((s) => !s.startsWith("Conv2D")),
      ["MaxPooling2D 1x26x26x96", "MaxPooling2D 1x12x12x256", "MaxPooling2D 1x5x5x384", "GlobalAveragePooling2D 1x10"],
    );
    assert.equal(shapes[0], "Conv2D 1x54x54x96");
    assert.ok(!net.layers.some((l) => l.getClassName() === "Dense"));
    assert.equal(count(net.trainableWeights), 1_992_166);
    net.dispose();
  });

  test("GoogLeNet at 96x96: the book's stage shapes (24, 12, 6, 3, then 1024 features) and 5,977,530 parameters", () => {
    const net = googlenet();
    const shapes = walk(net, 96);
    assert.deepEqual(
      shapes.filter((s) => /MaxPooling2D|Global|Dense/.test(s)),
      ["MaxPooling2D 1x24x24x64", "MaxPooling2D 1x12x12x192", "MaxPooling2D 1x6x6x480", "MaxPooling2D 1x3x3x832", "GlobalAveragePooling2D 1x1024", "Dense 1x10"],
    );
    assert.equal(shapes.filter((s) => s.startsWith("Inception")).length, 9);
    assert.equal(count(net.trainableWeights), 5_977_530);
    net.dispose();
  });

  test("ResNet-18 at 96x96: stages of 24, 12, 6, 3 and 11,178,378 + 7,808 parameters; the small-image variant 11,175,818", () => {
    const net = resnet18(10, 1);
    assert.deepEqual(
      walk(net, 96).filter((s) => !s.startsWith("Conv2D")),
      [
        "MaxPooling2D 1x24x24x64",
        "Residual 1x24x24x64",
        "Residual 1x24x24x64",
        "Residual 1x12x12x128",
        "Residual 1x12x12x128",
        "Residual 1x6x6x256",
        "Residual 1x6x6x256",
        "Residual 1x3x3x512",
        "Residual 1x3x3x512",
        "GlobalAveragePooling2D 1x512",
        "Dense 1x10",
      ],
    );
    assert.equal(count(net.trainableWeights), 11_178_378);
    assert.equal(count(net.nonTrainableWeights), 7_808);
    net.dispose();
    const small = resnet18(10, 1, { smallImages: true, inputSize: 32 });
    assert.equal(count(small.trainableWeights), 11_175_818);
    assert.deepEqual(small.outputShape, [null, 10]);
    small.dispose();
    const rgb = resnet18(5, 3, { inputSize: 64 });
    assert.deepEqual(rgb.inputs[0].shape, [null, 64, 64, 3]);
    assert.deepEqual(rgb.outputShape, [null, 5]);
    rgb.dispose();
  });

  test("DenseNet at 96x96: dense blocks growing 64 -> 192 channels, transitions halving, 758,226 + 6,608 parameters", () => {
    const net = densenet();
    assert.deepEqual(
      walk(net, 96).filter((s) => /DenseBlock|AveragePooling|Dense /.test(s)),
      [
        "DenseBlock 1x24x24x192",
        "AveragePooling2D 1x12x12x96",
        "DenseBlock 1x12x12x224",
        "AveragePooling2D 1x6x6x112",
        "DenseBlock 1x6x6x240",
        "AveragePooling2D 1x3x3x120",
        "DenseBlock 1x3x3x248",
        "GlobalAveragePooling2D 1x248",
        "Dense 1x10",
      ],
    );
    assert.equal(count(net.trainableWeights), 758_226);
    assert.equal(count(net.nonTrainableWeights), 6_608);
    net.dispose();
  });

  test("smaller images work where the architecture allows, and too small ones are an error that says so", () => {
    for (const [make, size] of [
      [() => alexnet({ inputSize: 67 }), 67],
      [() => nin({ inputSize: 67 }), 67],
      [() => googlenet({ inputSize: 32 }), 32],
    ] as const) {
      const net = make();
      assert.deepEqual(net.outputShape, [null, 10]);
      assert.deepEqual(net.inputs[0].shape, [null, size, size, 1]);
      net.dispose();
    }
    assert.throws(() => alexnet({ inputSize: 64 }), /alexnet: an input of 64x64 is too small: layer \d+ \(MaxPooling2D\) would output .*224x224/);
    assert.throws(() => alexnet({ inputSize: 0 }), /inputSize must be a positive integer/);
    assert.throws(() => vgg([]), /convArch must be a non-empty list of \[numConvs, outChannels\] pairs/);
    assert.throws(() => resnet18(0), /numClasses must be a positive integer/);
  });
});

describe("the blocks", () => {
  const apply = (layers: Layer[], shape: number[]): number[] =>
    tf.tidy(() => tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: shape.slice(1) }), ...layers] }).predict(tf.ones(shape)) as tf.Tensor).shape;

  test("vggBlock halves height and width; ninBlock keeps the book's sizes; convBlock and transitionBlock as the book's", () => {
    assert.deepEqual(apply(vggBlock(2, 8), [1, 16, 16, 3]), [1, 8, 8, 8]);
    assert.equal(vggBlock(3, 8).filter((l) => l.getClassName() === "Conv2D").length, 3);
    assert.deepEqual(apply(ninBlock(96, 11, 4, 0), [1, 224, 224, 1]), [1, 54, 54, 96]);
    assert.deepEqual(apply(ninBlock(256, 5, 1, 2), [1, 26, 26, 96]), [1, 26, 26, 256]);
    assert.deepEqual(apply(convBlock(10), [4, 8, 8, 3]), [4, 8, 8, 10]);
    assert.deepEqual(apply(transitionBlock(10), [4, 8, 8, 23]), [4, 4, 4, 10]);
    assert.throws(() => ninBlock(96, 11, 4, -1), /padding must be a non-negative integer/);
  });

  test("Residual keeps the shape, and with use1x1conv and stride 2 halves height and width and changes channels", () => {
    const out = (blk: Layer, shape: number[]): number[] => tf.tidy(() => (blk.apply(tf.randomNormal(shape)) as tf.Tensor).shape);
    const same = new Residual(3);
    assert.deepEqual(out(same, [4, 6, 6, 3]), [4, 6, 6, 3]);
    const half = new Residual(6, true, 2);
    assert.deepEqual(out(half, [4, 6, 6, 3]), [4, 3, 3, 6]);
    assert.deepEqual(half.computeOutputShape([null, 6, 6, 3]), [null, 3, 3, 6]);
    assert.deepEqual(out(new Residual(6, true, 2), [2, 7, 7, 3]), [2, 4, 4, 6], "odd sizes round up, as PyTorch's padding 1");
    assert.throws(() => out(new Residual(6), [4, 6, 6, 3]), /Residual\(6\) adds its input \[4,6,6,3\] to its output \[4,6,6,6\].*use1x1conv = true/);
    assert.throws(() => out(new Residual(3, false, 2), [4, 6, 6, 3]), /use1x1conv = true/);
    assert.throws(() => out(new Residual(3), [4, 6]), /batch of images of shape \[batch, height, width, channels\]/);
    assert.throws(() => new Residual(0), /numChannels must be a positive integer/);
    const stage = resnetBlock(128, 2);
    assert.deepEqual(
      stage.map((r) => [r.numChannels, r.use1x1conv, r.strides]),
      [
        [128, true, 2],
        [128, false, 1],
      ],
    );
    assert.deepEqual(
      resnetBlock(64, 2, true).map((r) => r.use1x1conv),
      [false, false],
    );
  });

  test("Inception concatenates its four paths: the book's first block gives 64 + 128 + 32 + 32 = 256 channels", () => {
    const blk = new Inception(64, [96, 128], [16, 32], 32);
    const y = tf.tidy(() => (blk.apply(tf.randomUniform([1, 12, 12, 192])) as tf.Tensor).shape);
    assert.deepEqual(y, [1, 12, 12, 256]);
    assert.deepEqual(blk.computeOutputShape([null, 12, 12, 192]), [null, 12, 12, 256]);
    assert.equal(blk.sublayers().filter((l) => l.getClassName() === "Conv2D").length, 6);
    assert.throws(() => new Inception(64, [96] as unknown as [number, number], [16, 32], 32), /c2 must be a pair/);
  });

  test("DenseBlock(2, 10) on 3 channels gives 3 + 2 * 10 = 23", () => {
    const blk = new DenseBlock(2, 10);
    assert.deepEqual(
      tf.tidy(() => (blk.apply(tf.randomUniform([4, 8, 8, 3])) as tf.Tensor).shape),
      [4, 8, 8, 23],
    );
    assert.deepEqual(blk.computeOutputShape([null, 8, 8, 3]), [null, 8, 8, 23]);
  });

  test("custom layers report their sublayers' weights: BN statistics non-trainable, and none trainable when frozen", () => {
    const blk = new Residual(8, true, 2);
    tf.tidy(() => blk.apply(tf.zeros([1, 8, 8, 4])) as tf.Tensor);
    // conv1, bn1, conv2, bn2, conv3: kernels, biases, gammas, betas; moving means and variances
    assert.equal(blk.trainableWeights.length, 10);
    assert.equal(blk.nonTrainableWeights.length, 4);
    assert.ok(
      blk.nonTrainableWeights.every((w) => /moving_(mean|variance)$/.test(w.originalName)),
      blk.nonTrainableWeights.map((w) => w.originalName).join(),
    );
    assert.equal(blk.countParams(), 3 * 3 * 4 * 8 + 8 + (3 * 3 * 8 * 8 + 8) + (1 * 1 * 4 * 8 + 8) + 2 * 4 * 8);
    const names = blk.weights.map((w) => w.originalName);
    assert.equal(new Set(names).size, names.length, `weight names repeat: ${names.join(", ")}`);
    blk.trainable = false;
    assert.equal(blk.trainableWeights.length, 0);
    assert.equal(blk.nonTrainableWeights.length, 14);
    blk.trainable = true;
    assert.equal(blk.trainableWeights.length, 10);
  });
});

describe("batch normalization from scratch", () => {
  function compare(rank: 2 | 4): void {
    const C = 5;
    const shape = rank === 2 ? [16, C] : [6, 5, 4, C];
    const mine = new BatchNorm(C, rank);
    const theirs = tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 });
    const X0 = tf.randomNormal(shape, 2, 3, "float32", 5);
    tf.tidy(() => {
      mine.apply(X0);
      theirs.apply(X0);
    });
    // the same learned scale and shift in both
    const gamma = tf.randomUniform([C], 0.5, 1.5, "float32", 6);
    const beta = tf.randomUniform([C], -1, 1, "float32", 7);
    mine.gamma.write(gamma.reshape(mine.gamma.shape as number[]));
    mine.beta.write(beta.reshape(mine.beta.shape as number[]));
    const [, , mm, mv] = theirs.getWeights();
    theirs.setWeights([gamma, beta, mm, mv]);
    for (let step = 0; step < 3; step++) {
      tf.tidy(() => {
        const X = tf.randomNormal(shape, step, 1 + step, "float32", 10 + step);
        const a = mine.apply(X, { training: true }) as tf.Tensor;
        const b = theirs.apply(X, { training: true }) as tf.Tensor;
        assert.ok(maxAbsDiff(a.dataSync(), b.dataSync()) < 1e-4, `training output, step ${step}: off by ${maxAbsDiff(a.dataSync(), b.dataSync())}`);
      });
      const [, , tMean, tVar] = theirs.getWeights();
      assert.ok(maxAbsDiff(mine.movingMean.read().dataSync(), tMean.dataSync()) < 1e-5, `moving mean, step ${step}`);
      assert.ok(maxAbsDiff(mine.movingVar.read().dataSync(), tVar.dataSync()) < 1e-4, `moving variance, step ${step}`);
    }
    // the moving statistics moved away from 0 and 1, so the inference check below means something
    assert.ok(Math.abs(mine.movingMean.read().dataSync()[0]) > 0.1);
    const before = mine.movingMean.read().dataSync().slice();
    tf.tidy(() => {
      const X = tf.randomNormal(shape, -1, 2, "float32", 20);
      const a = mine.apply(X, { training: false }) as tf.Tensor;
      const b = theirs.apply(X, { training: false }) as tf.Tensor;
      assert.ok(maxAbsDiff(a.dataSync(), b.dataSync()) < 1e-4, `inference output off by ${maxAbsDiff(a.dataSync(), b.dataSync())}`);
      const c = mine.apply(X) as tf.Tensor; // no training flag: prediction, as tfjs' layers
      assert.ok(maxAbsDiff(a.dataSync(), c.dataSync()) < 1e-6);
    });
    assert.deepEqual(mine.movingMean.read().dataSync(), before, "prediction must not move the statistics");
    assert.equal(mine.trainableWeights.length, 2);
    assert.equal(mine.nonTrainableWeights.length, 2);
  }

  test("BatchNorm(C, 4) equals tf.layers.batchNormalization after convolutions, in training and in prediction", () => compare(4));
  test("BatchNorm(C, 2) equals tf.layers.batchNormalization after dense layers, in training and in prediction", () => compare(2));

  test("batchNorm trains inside a gradient computation and predicts outside, as the book's torch.is_grad_enabled()", () => {
    tf.tidy(() => {
      const X = tf.randomNormal([8, 3, 3, 2], 4, 2, "float32", 3);
      const gamma = tf.ones([1, 1, 1, 2]);
      const beta = tf.zeros([1, 1, 1, 2]);
      const mean = tf.zeros([1, 1, 1, 2]);
      const vari = tf.ones([1, 1, 1, 2]);
      // prediction: the moving statistics normalize and come back unchanged
      const [Yp, m1] = batchNorm(X, gamma, beta, mean, vari, 1e-5, 0.9);
      assert.ok(maxAbsDiff(Yp.dataSync(), X.dataSync()) < 1e-4);
      assert.equal(m1, mean);
      // training (inside tf.grad): batch statistics, mean 0 per channel, moving mean 0.9 * 0 + 0.1 * batch mean
      let seen: tf.Tensor[] = [];
      const g = tf.grad((x: tf.Tensor) => {
        const [Y, m, v] = batchNorm(x, gamma, beta, mean, vari, 1e-5, 0.9);
        seen = [tf.keep(Y.mean([0, 1, 2])), tf.keep(m), tf.keep(v)];
        return Y.square().sum();
      })(X);
      assert.ok(g.dataSync().every(Number.isFinite));
      assert.ok(maxAbsDiff(seen[0].dataSync(), [0, 0]) < 1e-4, "normalized with the batch's mean");
      assert.ok(maxAbsDiff(seen[1].dataSync(), X.mean([0, 1, 2]).mul(0.1).dataSync()) < 1e-4, "moving mean: 0.9 * old + 0.1 * batch");
      tf.dispose(seen);
      assert.throws(() => batchNorm(tf.zeros([2, 3, 4]), gamma, beta, mean, vari, 1e-5, 0.9), /rank 2 .* or 4/);
      assert.throws(() => batchNorm(X, tf.ones([1, 2]), beta, mean, vari, 1e-5, 0.9), /gamma must have shape \[1,1,1,2\]/);
    });
  });

  test("BatchNorm says what it expected when given the wrong input", () => {
    assert.throws(
      () => tf.tidy(() => new BatchNorm(6, 4).apply(tf.zeros([2, 5, 5, 3])) as tf.Tensor),
      /BatchNorm\(6, 4\) expects input of shape \[batch, height, width, 6\], got \[2,5,5,3\]/,
    );
    assert.throws(() => tf.tidy(() => new BatchNorm(6, 2).apply(tf.zeros([2, 5, 5, 6])) as tf.Tensor), /expects input of shape \[batch, 6\]/);
    assert.throws(() => new BatchNorm(6, 3), /numDims must be 2 \(after a dense layer\) or 4/);
  });
});

/** A small net with every custom layer of the chapter: a ResNet stem and stages, an Inception, a DenseBlock and BatchNorm from scratch. */
function tinyNet(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 8, kernelSize: 3, padding: "same", name: "stem" }),
      tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 }),
      tf.layers.activation({ activation: "relu" }),
      new Residual(8),
      new Residual(12, true, 2),
      new Inception(4, [4, 6], [2, 4], 4),
      new DenseBlock(2, 5),
      new BatchNorm(28, 4),
      tf.layers.activation({ activation: "relu" }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 10 }),
    ],
  });
}

/**
 * Biases of convolutions whose output reaches the loss only through batch
 * normalization: the normalization subtracts each channel's batch mean, so
 * their gradient is zero (PyTorch's book nets keep such biases too).
 */
const BEFORE_BN = /^(stem\/bias|residual_Residual\d+\/conv[12]\/bias|dense_block_DenseBlock\d+\/conv_block\d_conv\/bias)$/;

function tinyData(n: number, seed: number): DataLoader {
  const X = tf.randomUniform([n, 12, 12, 1], 0, 1, "float32", seed);
  const y = tf.tensor1d(
    Array.from({ length: n }, (_, i) => i % 10),
    "int32",
  );
  return new DataLoader(new TensorDataset<[tf.Tensor, tf.Tensor]>(X, y), { batchSize: 16, shuffle: true, seed, ownsDataset: true });
}

describe("training, initialization, saving", () => {
  test("gradients reach every trainable weight inside Residual, Inception, DenseBlock and BatchNorm", () => {
    const net = tinyNet();
    const vars = net.trainableWeights.map((w) => w.read() as tf.Variable);
    assert.ok(vars.length > 40, `only ${vars.length} trainable weights`);
    tf.tidy(() => {
      const X = tf.randomUniform([8, 12, 12, 1], 0, 1, "float32", 1);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], "int32"), 10);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, net.apply(X, { training: true }) as tf.Tensor) as tf.Scalar, vars);
      const names = net.trainableWeights.map((w) => w.originalName);
      let zero = 0;
      for (const [i, v] of vars.entries()) {
        const g = grads[v.name];
        assert.ok(g !== undefined, `no gradient for ${names[i]}`);
        const m = g.abs().max().dataSync()[0];
        if (BEFORE_BN.test(names[i])) {
          assert.ok(m < 1e-4, `${names[i]} feeds batch norm, its gradient should vanish, got ${m}`);
          zero++;
        } else assert.ok(m > 1e-7, `zero gradient for ${names[i]}`);
      }
      assert.equal(zero, 1 + 4 + 2, "stem, two residuals' conv1 and conv2, the dense block's two convolutions");
    });
    net.dispose();
  });

  test("one trainCh6 epoch changes every trainable weight and the moving statistics, and leaks nothing across epochs", async () => {
    const net = tinyNet();
    const data = tinyData(32, 3);
    const before = snapshot(net);
    const counts: number[] = [];
    await trainCh6(net, data, data, 1, 0.1, undefined, { animator: false, progress: false, verbose: false, xavier: false });
    const after = snapshot(net);
    const trainable = new Set(net.trainableWeights.map((w) => w.originalName));
    let changed = 0;
    for (const [name, v] of before) {
      const d = maxAbsDiff(v, after.get(name) as Float32Array);
      if (trainable.has(name) && BEFORE_BN.test(name)) continue; // zero gradient, see BEFORE_BN
      assert.ok(d > 0, `${name} did not change in a training epoch`);
      changed++;
    }
    assert.equal(changed, net.weights.length - 7);
    assert.ok(
      [...before.keys()].some((n) => /batch_norm_BatchNorm\d+\/moving_var$/.test(n)),
      "the from-scratch BatchNorm's statistics are among the weights",
    );
    await trainCh6(net, data, data, 3, 0.1, undefined, {
      animator: false,
      progress: false,
      verbose: false,
      xavier: false,
      callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }],
    });
    // The engine's compiled step (lib/train/compile.ts) keeps the constants of traces it has not yet
    // confirmed; after the first epoch every batch shape has its program, and the count must stay put.
    assert.ok(counts[0] >= counts[1], `tensors at each epoch's end: ${counts.join(", ")}`);
    assert.deepEqual(counts.slice(1), [counts[1], counts[1]], `tensors at each epoch's end: ${counts.join(", ")}`);
    data.dispose();
    net.dispose();
  });

  test("initXavier re-initializes the convolution kernels inside custom layers", () => {
    const net = resnet18(10, 1, { inputSize: 32 });
    const kernels = (): tf.LayerVariable[] => net.trainableWeights.filter((w) => w.originalName.endsWith("kernel"));
    // stem + 8 residual blocks x 2 + 3 shortcut 1x1 convolutions + the dense layer
    assert.equal(kernels().length, 21);
    for (const w of kernels()) w.write(tf.zerosLike(w.read()));
    assert.equal(initXavier(net, 1), 21);
    for (const w of kernels()) assert.ok(w.read().abs().max().dataSync()[0] > 0, `${w.originalName} was not re-initialized`);
    const tiny = tinyNet();
    // stem, 2 + 2 + 1 in the residuals, 6 in the inception, 2 in the dense block, the dense layer
    assert.equal(initXavier(tiny, 2), 1 + 5 + 6 + 2 + 1);
    tiny.dispose();
    net.dispose();
  });

  test("initKaiming draws He-normal kernels (std about sqrt(2 / fanIn)) inside custom layers too, and leaves biases", () => {
    const net = googlenet({ inputSize: 32 });
    // 2 convolutions of the stem + 1 of b2's first, b2's 3x3, 9 Inceptions x 6, and the dense layer
    const kernels = net.trainableWeights.filter((w) => w.originalName.endsWith("kernel"));
    assert.equal(kernels.length, 1 + 2 + 9 * 6 + 1);
    const biases = net.trainableWeights.filter((w) => w.originalName.endsWith("bias")).map((w) => w.read().dataSync().slice());
    assert.equal(initKaiming(net, 3), kernels.length);
    for (const w of [kernels[2], kernels[30]]) {
      const fanIn = w.shape.slice(0, -1).reduce((a: number, b) => a * (b as number), 1);
      const std = tf.tidy(() => tf.moments(w.read()).variance.sqrt().dataSync()[0]);
      const he = Math.sqrt(2 / fanIn);
      // tfjs draws a normal truncated at two standard deviations: its spread is 0.88 of the nominal one
      assert.ok(std > 0.8 * he && std < 1.0 * he, `${w.originalName}: std ${std}, He ${he}`);
    }
    const after = net.trainableWeights.filter((w) => w.originalName.endsWith("bias")).map((w) => w.read().dataSync());
    after.forEach((b, i) => assert.deepEqual(b, biases[i]));
    assert.throws(() => initKaiming({} as tf.LayersModel), /re-initializes a tf.LayersModel/);
    net.dispose();
  });

  test("a model with Residual, Inception, DenseBlock and BatchNorm saves and loads with the same outputs", async () => {
    const net = tinyNet();
    const data = tinyData(32, 4);
    await trainCh6(net, data, data, 1, 0.1, undefined, { animator: false, progress: false, verbose: false });
    data.dispose();
    let saved: tf.io.ModelArtifacts | undefined;
    await net.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
      }),
    );
    assert.ok(saved);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved));
    assert.deepEqual(
      loaded.layers.map((l) => l.getClassName()),
      net.layers.map((l) => l.getClassName()),
    );
    assert.equal(loaded.weights.length, net.weights.length);
    const X = tf.randomUniform([4, 12, 12, 1], 0, 1, "float32", 9);
    const a = net.predict(X) as tf.Tensor;
    const b = loaded.predict(X) as tf.Tensor;
    assert.ok(maxAbsDiff(a.dataSync(), b.dataSync()) < 1e-6, `outputs differ by ${maxAbsDiff(a.dataSync(), b.dataSync())}`);
    // and it is not the same by accident: a fresh net gives other outputs
    const fresh = tinyNet();
    assert.ok(maxAbsDiff(a.dataSync(), (fresh.predict(X) as tf.Tensor).dataSync()) > 1e-3);
    tf.dispose([X, a, b]);
    fresh.dispose();
    loaded.dispose();
    net.dispose();
  });

  test("disposing a model frees the weights inside its custom layers", () => {
    const start = tf.memory().numTensors;
    const net = tinyNet();
    assert.ok(tf.memory().numTensors - start >= net.weights.length);
    net.dispose();
    assert.equal(tf.memory().numTensors, start);
  });
});
