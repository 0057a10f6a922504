/**
 * The book's modern convolutional networks (chapter 7): AlexNet, VGG, NiN,
 * GoogLeNet, ResNet and DenseNet, their blocks, and the custom layers
 * `Inception`, `Residual` and `DenseBlock`. Channels last (NHWC), as tfjs'
 * layers; every net outputs logits, for `d2l.trainCh6`.
 *
 * The book's explicit paddings are reproduced exactly (same output sizes,
 * same windows): `'same'` where that is PyTorch's padding, else zero padding
 * and a `'valid'` layer (see lib/nn/composite.ts).
 */
import * as tf from "@tensorflow/tfjs";
import {
  CompositeLayer,
  applyChain,
  bookBatchNorm,
  buildChain,
  chainShape,
  checkPositiveInt,
  conv,
  maxPool,
  shapeText,
  single,
  singleShape,
  type Kwargs,
  type Layer,
  type LayerArgs,
  type Shape,
} from "./composite";

/** Options of the model builders ({@link alexnet}, {@link vgg}, {@link nin}, {@link googlenet}, {@link resnet18}, {@link densenet}). */
export interface ModelOptions {
  /** Image height and width: one side, or `[height, width]` (default: the book's, 224 or 96). */
  inputSize?: number | [number, number];
  /** Channels of the input images (default 1, Fashion-MNIST's). */
  inChannels?: number;
  /** Number of classes, the size of the output (default 10). */
  numClasses?: number;
}

interface Resolved {
  inputShape: [number, number, number];
  numClasses: number;
}

function resolve(options: ModelOptions, defaultSize: number, who: string): Resolved {
  if (options === null || typeof options !== "object") throw new Error(`${who}: options must be an object like { inputSize: 224 }, got ${JSON.stringify(options)}`);
  const size = options.inputSize ?? defaultSize;
  const [h, w] = typeof size === "number" ? [size, size] : Array.isArray(size) && size.length === 2 ? size : [NaN, NaN];
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new Error(`${who}: inputSize must be a positive integer or [height, width], got ${JSON.stringify(size)}`);
  }
  const c = checkPositiveInt(options.inChannels ?? 1, `${who}: inChannels`);
  return { inputShape: [h, w, c], numClasses: checkPositiveInt(options.numClasses ?? 10, `${who}: numClasses`) };
}

/**
 * A Sequential model of `layers` for images of `inputShape`. Checks first
 * that every layer's output is at least 1x1, so too small an image is an
 * error that says so (not tfjs' negative-dimension message).
 */
function sequentialOf(inputShape: [number, number, number], layers: Layer[], who: string, defaultSize: number): tf.Sequential {
  let shape: Shape = [null, ...inputShape];
  for (let i = 0; i < layers.length; i++) {
    shape = singleShape(layers[i].computeOutputShape(shape), layers[i].name);
    if (shape.some((d) => d !== null && d < 1)) {
      throw new Error(
        `${who}: an input of ${inputShape[0]}x${inputShape[1]} is too small: layer ${i + 1} (${layers[i].getClassName()}) would output ${shapeText(shape)}; ` +
          `use larger images (the book uses ${defaultSize}x${defaultSize}, e.g. loadDataFashionMnist(batchSize, { resize: ${defaultSize} }))`,
      );
    }
  }
  // the first layer's input shape, as `inputShape` in its constructor would give it (no InputLayer in `net.layers`)
  layers[0].batchInputShape = [null, ...inputShape];
  return tf.sequential({ layers });
}

const relu = (): Layer => tf.layers.activation({ activation: "relu" });
const dense = (units: number, activation?: "relu"): Layer => tf.layers.dense({ units, ...(activation ? { activation } : {}) });
const dropout = (rate: number): Layer => tf.layers.dropout({ rate });

// ------------------------------------------------------------------ AlexNet

/**
 * AlexNet for Fashion-MNIST (the book's section 7.1): five convolutions
 * (96 11x11 stride 4, 256 5x5, 384, 384, 256 3x3) with ReLU and three 3x3
 * stride-2 max-pools, then two dense layers of 4096 with dropout 0.5 and the
 * 10-way output. For 224x224 one-channel images by default, as the book; its
 * first convolution's padding of 1 is a zero-padding layer before it (tfjs'
 * 'same' would give 56x56, not the book's 54x54).
 *
 * @example
 * const net = d2l.alexnet();                       // 224x224x1 -> 10 logits
 * const small = d2l.alexnet({ inputSize: 96 });    // smaller images, same layers
 */
export function alexnet(options: ModelOptions = {}): tf.Sequential {
  const { inputShape, numClasses } = resolve(options, 224, "alexnet");
  const layers = [
    ...conv(96, 11, { strides: 4, padding: 1, activation: "relu" }),
    ...maxPool(3, 2),
    ...conv(256, 5, { padding: 2, activation: "relu" }),
    ...maxPool(3, 2),
    ...conv(384, 3, { padding: 1, activation: "relu" }),
    ...conv(384, 3, { padding: 1, activation: "relu" }),
    ...conv(256, 3, { padding: 1, activation: "relu" }),
    ...maxPool(3, 2),
    tf.layers.flatten(),
    dense(4096, "relu"),
    dropout(0.5),
    dense(4096, "relu"),
    dropout(0.5),
    dense(numClasses),
  ];
  return sequentialOf(inputShape, layers, "alexnet", 224);
}

// ---------------------------------------------------------------------- VGG

/**
 * One VGG block (the book's `vgg_block`): `numConvs` 3x3 convolutions with
 * padding 1 and `outChannels` channels, each followed by ReLU, then a 2x2
 * max-pool with stride 2, which halves height and width. Returns the layers,
 * to spread into a model (tfjs infers the input channels, so the book's
 * `in_channels` is not needed).
 *
 * @example
 * const net = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [16, 16, 3] }), ...d2l.vggBlock(2, 8)] });
 * net.outputShape; // [null, 8, 8, 8]
 */
export function vggBlock(numConvs: number, outChannels: number): Layer[] {
  checkPositiveInt(numConvs, "vggBlock: numConvs");
  checkPositiveInt(outChannels, "vggBlock: outChannels");
  const layers: Layer[] = [];
  for (let i = 0; i < numConvs; i++) layers.push(...conv(outChannels, 3, { padding: 1, activation: "relu" }));
  layers.push(...maxPool(2, 2));
  return layers;
}

/**
 * VGG (the book's `vgg(conv_arch)`): one {@link vggBlock} per
 * `[numConvs, outChannels]` pair of `convArch`, then two dense layers of 4096
 * with dropout 0.5 and the 10-way output. VGG-11 is
 * `d2l.vgg([[1, 64], [1, 128], [2, 256], [2, 512], [2, 512]])`; for 224x224
 * one-channel images by default.
 *
 * @example
 * const ratio = 4;
 * const smallConvArch = [[1, 64], [1, 128], [2, 256], [2, 512], [2, 512]].map(([n, c]) => [n, c / ratio] as [number, number]);
 * const net = d2l.vgg(smallConvArch);
 */
export function vgg(convArch: readonly (readonly [number, number])[], options: ModelOptions = {}): tf.Sequential {
  if (!Array.isArray(convArch) || convArch.length === 0 || !convArch.every((p) => Array.isArray(p) && p.length === 2)) {
    throw new Error(
      `vgg: convArch must be a non-empty list of [numConvs, outChannels] pairs, e.g. [[1, 64], [1, 128], [2, 256], [2, 512], [2, 512]], got ${JSON.stringify(convArch)}`,
    );
  }
  const { inputShape, numClasses } = resolve(options, 224, "vgg");
  const convBlks = convArch.flatMap(([numConvs, outChannels]) => vggBlock(numConvs, outChannels));
  const layers = [...convBlks, tf.layers.flatten(), dense(4096, "relu"), dropout(0.5), dense(4096, "relu"), dropout(0.5), dense(numClasses)];
  return sequentialOf(inputShape, layers, "vgg", 224);
}

// ---------------------------------------------------------------------- NiN

/**
 * One NiN block (the book's `nin_block`): a convolution with the given
 * kernel size, stride and padding, then two 1x1 convolutions (per-pixel
 * dense layers), each followed by ReLU. Returns the layers.
 *
 * @example
 * const blk = d2l.ninBlock(96, 11, 4, 0); // the first block of NiN
 */
export function ninBlock(outChannels: number, kernelSize: number, strides: number, padding: number): Layer[] {
  checkPositiveInt(outChannels, "ninBlock: outChannels");
  checkPositiveInt(kernelSize, "ninBlock: kernelSize");
  checkPositiveInt(strides, "ninBlock: strides");
  if (!Number.isInteger(padding) || padding < 0) throw new Error(`ninBlock: padding must be a non-negative integer, got ${JSON.stringify(padding)}`);
  return [
    ...conv(outChannels, kernelSize, { strides, padding, activation: "relu" }),
    ...conv(outChannels, 1, { activation: "relu" }),
    ...conv(outChannels, 1, { activation: "relu" }),
  ];
}

/**
 * Network in Network (the book's section 7.3): NiN blocks of 96 (11x11
 * stride 4), 256 (5x5) and 384 (3x3) channels with 3x3 stride-2 max-pools,
 * dropout 0.5, a last NiN block with one channel per class, and global
 * average pooling to the logits: no dense layer at all. For 224x224
 * one-channel images by default.
 *
 * @example
 * const net = d2l.nin();
 */
export function nin(options: ModelOptions = {}): tf.Sequential {
  const { inputShape, numClasses } = resolve(options, 224, "nin");
  const layers = [
    ...ninBlock(96, 11, 4, 0),
    ...maxPool(3, 2),
    ...ninBlock(256, 5, 1, 2),
    ...maxPool(3, 2),
    ...ninBlock(384, 3, 1, 1),
    ...maxPool(3, 2),
    dropout(0.5),
    // one output channel per class, averaged over the positions: the logits
    ...ninBlock(numClasses, 3, 1, 1),
    tf.layers.globalAveragePooling2d({}),
  ];
  return sequentialOf(inputShape, layers, "nin", 224);
}

// ---------------------------------------------------------------- GoogLeNet

function checkPair(v: unknown, what: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) throw new Error(`${what} must be a pair [channels of the 1x1 convolution, channels of the next one], got ${JSON.stringify(v)}`);
  return [checkPositiveInt(v[0], `${what}[0]`), checkPositiveInt(v[1], `${what}[1]`)];
}

/**
 * The Inception block (the book's `Inception`): four parallel paths over the
 * same input, concatenated on the channel axis: a 1x1 convolution with `c1`
 * channels; a 1x1 (`c2[0]`) then a 3x3 (`c2[1]`); a 1x1 (`c3[0]`) then a
 * 5x5 (`c3[1]`); a 3x3 max-pool then a 1x1 (`c4`); every convolution with
 * ReLU, height and width kept. Output channels: `c1 + c2[1] + c3[1] + c4`.
 * The book's `in_channels` is inferred. A tfjs layer: it works in
 * `tf.sequential`, trains, saves and loads.
 *
 * @example
 * const blk = new d2l.Inception(64, [96, 128], [16, 32], 32);
 * (blk.apply(tf.zeros([1, 12, 12, 192])) as tf.Tensor).shape; // [1, 12, 12, 256]
 */
export class Inception extends CompositeLayer {
  /** The name tfjs' serialization knows this class by. */
  static className = "Inception";
  readonly c1: number;
  readonly c2: [number, number];
  readonly c3: [number, number];
  readonly c4: number;
  private readonly paths: Layer[][];

  constructor(c1: number, c2: [number, number], c3: [number, number], c4: number, args: LayerArgs = {}) {
    super(args);
    this.c1 = checkPositiveInt(c1, "Inception: c1");
    this.c2 = checkPair(c2, "Inception: c2");
    this.c3 = checkPair(c3, "Inception: c3");
    this.c4 = checkPositiveInt(c4, "Inception: c4");
    const c = (filters: number, kernelSize: number, name: string): Layer => tf.layers.conv2d({ filters, kernelSize, padding: "same", activation: "relu", name });
    this.paths = [
      [c(this.c1, 1, "p1_1")],
      [c(this.c2[0], 1, "p2_1"), c(this.c2[1], 3, "p2_2")],
      [c(this.c3[0], 1, "p3_1"), c(this.c3[1], 5, "p3_2")],
      [tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: "same", name: "p4_1" }), c(this.c4, 1, "p4_2")],
    ];
  }

  override sublayers(): Layer[] {
    return (this.paths ?? []).flat();
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = checkImages(singleShape(inputShape, this.name), "Inception");
    for (const path of this.paths) buildChain(path, shape);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape, this.name);
    return [...shape.slice(0, -1), this.c1 + this.c2[1] + this.c3[1] + this.c4];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const X = single(inputs, this.name);
    return tf.tidy(() =>
      tf.concat(
        this.paths.map((p) => applyChain(p, X, kwargs)),
        -1,
      ),
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), c1: this.c1, c2: [...this.c2], c3: [...this.c3], c4: this.c4 };
  }

  /** Rebuilds the layer from its `getConfig()` (loading a saved model). */
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const { c1, c2, c3, c4, ...args } = config;
    return new Inception(c1 as number, c2 as [number, number], c3 as [number, number], c4 as number, args as LayerArgs) as unknown as T;
  }
}
tf.serialization.registerClass(Inception);

/** Throws unless `shape` is a batch of images, `[batch, height, width, channels]`. */
function checkImages(shape: Shape, who: string): Shape {
  if (shape.length !== 4) {
    throw new Error(`${who} expects a batch of images of shape [batch, height, width, channels] (channels last), got input of shape ${shapeText(shape)}`);
  }
  return shape;
}

/**
 * GoogLeNet (the book's section 7.4): a 7x7 convolution and a 1x1 then 3x3
 * convolution, each stage ending in a 3x3 stride-2 max-pool, nine
 * {@link Inception} blocks with the book's channel numbers, global average
 * pooling and a dense output layer. For 96x96 one-channel images by default
 * (the book shrinks them from 224 to train on Fashion-MNIST).
 *
 * @example
 * const net = d2l.googlenet();
 */
export function googlenet(options: ModelOptions = {}): tf.Sequential {
  const { inputShape, numClasses } = resolve(options, 96, "googlenet");
  const b1 = [...conv(64, 7, { strides: 2, padding: 3, activation: "relu" }), ...maxPool(3, 2, 1)];
  const b2 = [...conv(64, 1, { activation: "relu" }), ...conv(192, 3, { padding: 1, activation: "relu" }), ...maxPool(3, 2, 1)];
  const b3 = [new Inception(64, [96, 128], [16, 32], 32), new Inception(128, [128, 192], [32, 96], 64), ...maxPool(3, 2, 1)];
  const b4 = [
    new Inception(192, [96, 208], [16, 48], 64),
    new Inception(160, [112, 224], [24, 64], 64),
    new Inception(128, [128, 256], [24, 64], 64),
    new Inception(112, [144, 288], [32, 64], 64),
    new Inception(256, [160, 320], [32, 128], 128),
    ...maxPool(3, 2, 1),
  ];
  const b5 = [new Inception(256, [160, 320], [32, 128], 128), new Inception(384, [192, 384], [48, 128], 128), tf.layers.globalAveragePooling2d({})];
  return sequentialOf(inputShape, [...b1, ...b2, ...b3, ...b4, ...b5, dense(numClasses)], "googlenet", 96);
}

// ------------------------------------------------------------------- ResNet

/**
 * The residual block (the book's `Residual`): two 3x3 convolutions with
 * `numChannels` channels, each followed by batch normalization, the first
 * by ReLU too; the block's input is added to the result before a last ReLU.
 * With `use1x1conv` a 1x1 convolution with stride `strides` brings the input
 * to the output's shape first, so the block may change the channel count and
 * (with `strides = 2`) halve height and width. The book's `input_channels`
 * is inferred. A tfjs layer: it works in `tf.sequential`, trains (batch
 * normalization follows `training`), saves and loads.
 *
 * @example
 * const blk = new d2l.Residual(6, true, 2);
 * (blk.apply(tf.zeros([4, 6, 6, 3])) as tf.Tensor).shape; // [4, 3, 3, 6]
 */
export class Residual extends CompositeLayer {
  /** The name tfjs' serialization knows this class by. */
  static className = "Residual";
  readonly numChannels: number;
  readonly use1x1conv: boolean;
  readonly strides: number;
  private readonly conv1: Layer[];
  private readonly bn1: Layer;
  private readonly conv2: Layer;
  private readonly bn2: Layer;
  private readonly conv3: Layer | undefined;

  constructor(numChannels: number, use1x1conv = false, strides = 1, args: LayerArgs = {}) {
    super(args);
    this.numChannels = checkPositiveInt(numChannels, "Residual: numChannels");
    if (typeof use1x1conv !== "boolean") throw new Error(`Residual: use1x1conv must be true or false, got ${JSON.stringify(use1x1conv)}`);
    this.use1x1conv = use1x1conv;
    this.strides = checkPositiveInt(strides, "Residual: strides");
    this.conv1 = conv(numChannels, 3, { padding: 1, strides, name: "conv1" });
    this.bn1 = bookBatchNorm("bn1");
    this.conv2 = tf.layers.conv2d({ filters: numChannels, kernelSize: 3, padding: "same", name: "conv2" });
    this.bn2 = bookBatchNorm("bn2");
    this.conv3 = use1x1conv ? tf.layers.conv2d({ filters: numChannels, kernelSize: 1, strides, padding: "valid", name: "conv3" }) : undefined;
  }

  override sublayers(): Layer[] {
    return [...(this.conv1 ?? []), this.bn1, this.conv2, this.bn2, ...(this.conv3 ? [this.conv3] : [])];
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = checkImages(singleShape(inputShape, this.name), "Residual");
    const main = buildChain([this.conv2, this.bn2], buildChain([...this.conv1, this.bn1], shape));
    const shortcut = this.conv3 ? buildChain([this.conv3], shape) : shape;
    if (main.slice(1).some((d, i) => d !== shortcut[i + 1])) {
      throw new Error(
        `Residual(${this.numChannels}${this.use1x1conv ? ", true" : ""}${this.strides !== 1 ? `, ${this.strides}` : ""}) adds its input ${shapeText(shape)} to its output ${shapeText(main)}, ` +
          `which needs the same shape; to change channels or strides pass use1x1conv = true (the book's new d2l.Residual(${this.numChannels}, true, ${this.strides}))`,
      );
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return chainShape([...this.conv1, this.bn1, this.conv2, this.bn2], singleShape(inputShape, this.name));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const X = single(inputs, this.name);
    return tf.tidy(() => {
      let Y = tf.relu(applyChain([...this.conv1, this.bn1], X, kwargs));
      Y = applyChain([this.conv2, this.bn2], Y, kwargs);
      const shortcut = this.conv3 ? applyChain([this.conv3], X, kwargs) : X;
      return tf.relu(tf.add(Y, shortcut));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numChannels: this.numChannels, use1x1conv: this.use1x1conv, strides: this.strides };
  }

  /** Rebuilds the layer from its `getConfig()` (loading a saved model). */
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const { numChannels, use1x1conv, strides, ...args } = config;
    return new Residual(numChannels as number, use1x1conv as boolean, strides as number, args as LayerArgs) as unknown as T;
  }
}
tf.serialization.registerClass(Residual);

/**
 * A ResNet stage (the book's `resnet_block`): `numResiduals` residual blocks
 * with `numChannels` channels. Unless it is the first stage (which follows
 * the max-pool), its first block doubles the channels with a 1x1 convolution
 * and halves height and width (stride 2). Returns the blocks, to spread into
 * a model; the book's `input_channels` is inferred.
 *
 * @example
 * const b2 = d2l.resnetBlock(64, 2, true);
 * const b3 = d2l.resnetBlock(128, 2);
 */
export function resnetBlock(numChannels: number, numResiduals: number, firstBlock = false): Residual[] {
  checkPositiveInt(numChannels, "resnetBlock: numChannels");
  checkPositiveInt(numResiduals, "resnetBlock: numResiduals");
  const blk: Residual[] = [];
  for (let i = 0; i < numResiduals; i++) {
    blk.push(i === 0 && !firstBlock ? new Residual(numChannels, true, 2) : new Residual(numChannels));
  }
  return blk;
}

/** Options of {@link resnet18}. */
export interface ResNet18Options {
  /** Image height and width: one side, or `[height, width]` (default 96). */
  inputSize?: number | [number, number];
  /**
   * The book's "slightly modified ResNet-18" for small images (its library
   * function `d2l.resnet18`, used from chapter 12 on with CIFAR-10): a 3x3
   * stride-1 first convolution and no max-pool (default false: section 7.6's
   * ResNet-18, 7x7 stride 2 and a max-pool).
   */
  smallImages?: boolean;
}

/**
 * ResNet-18 (the book's section 7.6): a 7x7 stride-2 convolution with 64
 * channels, batch normalization, ReLU and a 3x3 stride-2 max-pool, four
 * stages of two {@link Residual} blocks (64, 128, 256, 512 channels), global
 * average pooling and a dense layer with `numClasses` outputs: 18 layers
 * with weights. For 96x96 images with `inChannels` channels by default (the
 * book trains it on Fashion-MNIST resized to 96). With
 * `{ smallImages: true }`, the book's library variant for small images.
 *
 * @example
 * const net = d2l.resnet18(10, 1);
 */
export function resnet18(numClasses = 10, inChannels = 1, options: ResNet18Options = {}): tf.Sequential {
  const { inputShape } = resolve({ inputSize: options.inputSize, inChannels, numClasses }, 96, "resnet18");
  const b1 = options.smallImages
    ? [...conv(64, 3, { padding: 1 }), bookBatchNorm(), relu()]
    : [...conv(64, 7, { strides: 2, padding: 3 }), bookBatchNorm(), relu(), ...maxPool(3, 2, 1)];
  const layers = [
    ...b1,
    ...resnetBlock(64, 2, true),
    ...resnetBlock(128, 2),
    ...resnetBlock(256, 2),
    ...resnetBlock(512, 2),
    tf.layers.globalAveragePooling2d({}),
    dense(checkPositiveInt(numClasses, "resnet18: numClasses")),
  ];
  return sequentialOf(inputShape, layers, "resnet18", 96);
}

// ----------------------------------------------------------------- DenseNet

function makeConvBlock(numChannels: number, prefix?: string): Layer[] {
  checkPositiveInt(numChannels, "convBlock: numChannels");
  const named = (suffix: string): { name?: string } => (prefix ? { name: `${prefix}_${suffix}` } : {});
  return [
    tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5, ...named("bn") }),
    tf.layers.activation({ activation: "relu", ...named("relu") }),
    tf.layers.conv2d({ filters: numChannels, kernelSize: 3, padding: "same", ...named("conv") }),
  ];
}

/**
 * DenseNet's convolution block (the book's `conv_block`): batch
 * normalization, ReLU, then a 3x3 convolution with padding 1 and
 * `numChannels` channels (ResNet's "BN, ReLU, conv" order). Returns the
 * layers.
 *
 * @example
 * const layers = d2l.convBlock(32);
 */
export function convBlock(numChannels: number): Layer[] {
  return makeConvBlock(numChannels);
}

/**
 * The dense block (the book's `DenseBlock`): `numConvs` {@link convBlock}s,
 * each one's output concatenated on the channel axis to its input, so that
 * every block sees all earlier outputs. Output channels: input channels
 * plus `numConvs * numChannels` (`numChannels` is the growth rate). The
 * book's `input_channels` is inferred. A tfjs layer: it works in
 * `tf.sequential`, trains, saves and loads.
 *
 * @example
 * const blk = new d2l.DenseBlock(2, 10);
 * (blk.apply(tf.zeros([4, 8, 8, 3])) as tf.Tensor).shape; // [4, 8, 8, 23]
 */
export class DenseBlock extends CompositeLayer {
  /** The name tfjs' serialization knows this class by. */
  static className = "DenseBlock";
  readonly numConvs: number;
  readonly numChannels: number;
  private readonly blocks: Layer[][];

  constructor(numConvs: number, numChannels: number, args: LayerArgs = {}) {
    super(args);
    this.numConvs = checkPositiveInt(numConvs, "DenseBlock: numConvs");
    this.numChannels = checkPositiveInt(numChannels, "DenseBlock: numChannels");
    this.blocks = Array.from({ length: numConvs }, (_, i) => makeConvBlock(numChannels, `conv_block${i + 1}`));
  }

  override sublayers(): Layer[] {
    return (this.blocks ?? []).flat();
  }

  override build(inputShape: Shape | Shape[]): void {
    let shape = checkImages(singleShape(inputShape, this.name), "DenseBlock");
    for (const blk of this.blocks) {
      const out = buildChain(blk, shape);
      shape = concatChannels(shape, out);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape, this.name);
    const c = shape[shape.length - 1];
    return [...shape.slice(0, -1), c === null ? null : c + this.numConvs * this.numChannels];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    let X = single(inputs, this.name);
    return tf.tidy(() => {
      for (const blk of this.blocks) {
        const Y = applyChain(blk, X, kwargs);
        // concatenate each block's input and output on the channel dimension
        X = tf.concat([X, Y], -1);
      }
      return X;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numConvs: this.numConvs, numChannels: this.numChannels };
  }

  /** Rebuilds the layer from its `getConfig()` (loading a saved model). */
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const { numConvs, numChannels, ...args } = config;
    return new DenseBlock(numConvs as number, numChannels as number, args as LayerArgs) as unknown as T;
  }
}
tf.serialization.registerClass(DenseBlock);

function concatChannels(a: Shape, b: Shape): Shape {
  const ca = a[a.length - 1];
  const cb = b[b.length - 1];
  return [...a.slice(0, -1), ca === null || cb === null ? null : ca + cb];
}

/**
 * DenseNet's transition block (the book's `transition_block`): batch
 * normalization, ReLU, a 1x1 convolution to `numChannels` channels and a
 * 2x2 stride-2 average pool, which keep a dense block's growing channels and
 * sizes in check. Returns the layers.
 *
 * @example
 * const layers = d2l.transitionBlock(10); // [4, 8, 8, 23] -> [4, 4, 4, 10]
 */
export function transitionBlock(numChannels: number): Layer[] {
  checkPositiveInt(numChannels, "transitionBlock: numChannels");
  return [bookBatchNorm(), relu(), tf.layers.conv2d({ filters: numChannels, kernelSize: 1 }), tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: "valid" })];
}

/**
 * DenseNet (the book's section 7.7): ResNet's first stage (7x7 stride-2
 * convolution with 64 channels, batch normalization, ReLU, max-pool), four
 * {@link DenseBlock}s of four convolution blocks with growth rate 32, a
 * {@link transitionBlock} halving the channels between them, then batch
 * normalization, ReLU, global average pooling and a dense output layer. For
 * 96x96 one-channel images by default.
 *
 * @example
 * const net = d2l.densenet();
 */
export function densenet(options: ModelOptions = {}): tf.Sequential {
  const { inputShape, numClasses } = resolve(options, 96, "densenet");
  const b1 = [...conv(64, 7, { strides: 2, padding: 3 }), bookBatchNorm(), relu(), ...maxPool(3, 2, 1)];
  // numChannels: the current number of channels
  let numChannels = 64;
  const growthRate = 32;
  const numConvsInDenseBlocks = [4, 4, 4, 4];
  const blks: Layer[] = [];
  numConvsInDenseBlocks.forEach((numConvs, i) => {
    blks.push(new DenseBlock(numConvs, growthRate));
    // the number of output channels of the dense block
    numChannels += numConvs * growthRate;
    // a transition layer that halves the channels between dense blocks
    if (i !== numConvsInDenseBlocks.length - 1) {
      blks.push(...transitionBlock(Math.floor(numChannels / 2)));
      numChannels = Math.floor(numChannels / 2);
    }
  });
  const layers = [...b1, ...blks, bookBatchNorm(), relu(), tf.layers.globalAveragePooling2d({}), dense(numClasses)];
  return sequentialOf(inputShape, layers, "densenet", 96);
}
