/**
 * The Vision Transformer (d2l 1.0's section 11.8, "Transformers for Vision";
 * the Chinese edition, whose numbering the notebooks follow, lacks it):
 * `PatchEmbedding`, `ViTMLP`, `ViTBlock` and `ViT`.
 *
 * As in lib/nn/attention.ts, the book's PyTorch modules are {@link Block}s
 * whose `forward` a reader calls. Images are channels-last, `[batch, height,
 * width, channels]`, as everywhere in d2l-ts (the book's are
 * `(batch, channels, height, width)`). The weights get PyTorch's default
 * initialisation (`nn.Linear`, `nn.Conv2d`: `U(-1/sqrt(fanIn), 1/sqrt(fanIn))`;
 * `nn.LayerNorm`: ones and zeros, eps 1e-5), and the attention is d2l's
 * {@link MultiHeadAttention} (the book's own, not `nn.MultiheadAttention`).
 * Dropout is active while `training` (after `train()`, and at first), off
 * after `eval()`. `vit.asNet()` is the net the training engine takes
 * (`d2l.fit({ net: vit.asNet(), params: vit.trainableWeights, ... })`)..
 */
import * as tf from "@tensorflow/tfjs";
import { dropout } from "./dropout";
import { Block } from "./encoderDecoder";
import { MultiHeadAttention } from "./attention";

type Init = ReturnType<typeof tf.initializers.zeros>;

function shapeStr(shape: readonly (number | null)[]): string {
  return `[${shape.join(", ")}]`;
}

function describe(v: unknown): string {
  return v instanceof tf.Tensor ? `a tensor of shape ${shapeStr(v.shape)}` : v === null ? "null" : typeof v;
}

function checkSize(who: string, name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${String(v)}`);
}

function checkDropout(who: string, name: string, dropout: unknown): void {
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw new Error(`${who}: ${name} must be a number in [0, 1), got ${String(dropout)}`);
}

/** `n` or `[h, w]` as `[h, w]` (the book's `_make_tuple`). */
function pair(who: string, name: string, v: number | readonly [number, number]): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : [NaN, NaN];
  if (!p.every((x) => Number.isInteger(x) && x >= 1)) throw new Error(`${who}: ${name} must be a positive integer or a pair [height, width] of them, got ${JSON.stringify(v)}`);
  return p;
}

/** PyTorch's default initialiser of `nn.Linear` and `nn.Conv*` weights and biases: `U(-1/sqrt(fanIn), 1/sqrt(fanIn))`. */
function torchUniform(fanIn: number): Init {
  const k = 1 / Math.sqrt(fanIn);
  return tf.initializers.randomUniform({ minval: -k, maxval: k });
}

/** A PyTorch `nn.Linear(inSize, outSize, bias)` as a tfjs dense layer (kernel `[in, out]`), built at once when `inSize` is known. */
function linear(outSize: number, bias: boolean, inSize?: number): tf.layers.Layer {
  const init = inSize === undefined ? undefined : torchUniform(inSize);
  const d = tf.layers.dense({ units: outSize, useBias: bias, ...(init ? { kernelInitializer: init, biasInitializer: init } : {}) });
  if (inSize !== undefined) tf.tidy(() => void d.apply(tf.zeros([1, inSize])));
  return d;
}

/** PyTorch's `nn.LayerNorm(n)` (eps 1e-5) over the last axis of a tensor of rank `rank`, built at once. */
function layerNorm(n: number, rank: number): tf.layers.Layer {
  const ln = tf.layers.layerNormalization({ axis: -1, epsilon: 1e-5 });
  tf.tidy(() => void ln.apply(tf.zeros([...Array<number>(rank - 1).fill(1), n])));
  return ln;
}

/** A trainable tensor of its own (the book's `nn.Parameter`), held by a layer so that a {@link Block} finds it. */
class ParameterLayer extends tf.layers.Layer {
  static className = "D2lParameter";
  private w: tf.LayerVariable | undefined;

  constructor(
    private readonly paramShape: number[],
    private readonly init: Init,
  ) {
    super({});
    tf.tidy(() => void this.apply(tf.zeros([1])));
  }

  override build(): void {
    this.w = this.addWeight("value", this.paramShape, "float32", this.init);
    this.built = true;
  }

  override computeOutputShape(): tf.Shape {
    return this.paramShape;
  }

  override call(): tf.Tensor {
    return this.value;
  }

  /** The parameter's current value. */
  get value(): tf.Tensor {
    if (!this.w) throw new Error("ParameterLayer: not built");
    return this.w.read();
  }
}

/** GELU, `x Φ(x)` with the exact normal CDF (PyTorch's `nn.GELU()`). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))));
}

function dropoutIf(training: boolean, rate: number, X: tf.Tensor): tf.Tensor {
  return training && rate > 0 ? dropout(X, rate) : X;
}

function check3d(who: string, X: unknown, last: number): asserts X is tf.Tensor {
  if (!(X instanceof tf.Tensor) || X.rank !== 3 || X.shape[2] !== last) throw new Error(`${who}: X must be a tensor of shape [batch, steps, ${last}], got ${describe(X)}`);
}

/**
 * Split images into patches and embed each (the book's `PatchEmbedding(img_size=96,
 * patch_size=16, num_hiddens=512)`, d2l 1.0 section 11.8): a convolution with
 * kernel and stride `patchSize` and `numHiddens` output channels, its output
 * flattened over space. `forward(X [batch, h, w, channels])` returns
 * `[batch, numPatches, numHiddens]`, the patches row by row as the book's.
 * `imgSize` and `patchSize` are a number or `[height, width]`. Without
 * `inChannels` the convolution is built at the first `forward` (as the book's
 * `nn.LazyConv2d`), so `countParams()` counts it only from then on.
 *
 * @example
 * const patchEmb = new d2l.PatchEmbedding(96, 16, 512);
 * patchEmb.forward(tf.zeros([4, 96, 96, 3])).shape; // [4, 36, 512]
 * patchEmb.countParams();                           // 393728
 */
export class PatchEmbedding extends Block {
  /** `[height, width]` of the images. */
  readonly imgSize: [number, number];
  /** `[height, width]` of a patch. */
  readonly patchSize: [number, number];
  /** Patches per image (the book's `num_patches`). */
  readonly numPatches: number;
  private convLayer: tf.layers.Layer | undefined;

  constructor(
    imgSize: number | readonly [number, number] = 96,
    patchSize: number | readonly [number, number] = 16,
    readonly numHiddens = 512,
    inChannels?: number,
  ) {
    super();
    this.imgSize = pair("PatchEmbedding", "imgSize", imgSize);
    this.patchSize = pair("PatchEmbedding", "patchSize", patchSize);
    checkSize("PatchEmbedding", "numHiddens", numHiddens);
    if (inChannels !== undefined) checkSize("PatchEmbedding", "inChannels", inChannels);
    const [h, w] = this.imgSize;
    const [ph, pw] = this.patchSize;
    if (ph > h || pw > w) throw new Error(`PatchEmbedding: patchSize ${shapeStr(this.patchSize)} is larger than imgSize ${shapeStr(this.imgSize)}`);
    this.numPatches = Math.floor(h / ph) * Math.floor(w / pw);
    if (inChannels !== undefined) this.build(inChannels);
  }

  /**
   * The patch convolution (the book's `conv`), kernel `[ph, pw, channels, numHiddens]`;
   * undefined until the first `forward` when no `inChannels` was given.
   */
  get conv(): tf.layers.Layer | undefined {
    return this.convLayer;
  }

  /** Channels the convolution takes; undefined before it is built. */
  get inChannels(): number | undefined {
    return this.convLayer ? (this.convLayer.getWeights()[0].shape[2] as number) : undefined;
  }

  private build(c: number): tf.layers.Layer {
    const [ph, pw] = this.patchSize;
    const init = torchUniform(c * ph * pw); // PyTorch's Conv2d initialisation
    const conv = tf.layers.conv2d({ filters: this.numHiddens, kernelSize: [ph, pw], strides: [ph, pw], padding: "valid", kernelInitializer: init, biasInitializer: init });
    tf.tidy(() => void conv.apply(tf.zeros([1, this.imgSize[0], this.imgSize[1], c])));
    this.convLayer = conv;
    return conv;
  }

  /** Embed the patches; see the class. */
  forward(X: tf.Tensor): tf.Tensor {
    const [h, w] = this.imgSize;
    if (!(X instanceof tf.Tensor) || X.rank !== 4 || X.shape[1] !== h || X.shape[2] !== w) {
      throw new Error(`PatchEmbedding.forward: X must be a batch of images [batch, ${h}, ${w}, channels] (channels last), got ${describe(X)}`);
    }
    const c = X.shape[3] as number;
    const built = this.inChannels;
    if (built !== undefined && c !== built) throw new Error(`PatchEmbedding.forward: X has ${c} channels but the layer was built for ${built}`);
    const conv = this.convLayer ?? this.build(c);
    return tf.tidy(() => {
      const Y = conv.apply(X) as tf.Tensor; // [b, h / ph, w / pw, numHiddens]
      return tf.reshape(Y, [X.shape[0], this.numPatches, this.numHiddens]);
    });
  }
}

/**
 * The Transformer encoder's MLP in the ViT (the book's `ViTMLP(mlp_num_hiddens,
 * mlp_num_outputs, dropout=0.5)`, d2l 1.0 section 11.8): dense, GELU, dropout,
 * dense, dropout, over the last axis. Without `inputSize` the first dense layer is
 * built at the first `forward` (the book's `nn.LazyLinear`).
 *
 * @example
 * const mlp = new d2l.ViTMLP(48, 24, 0.5, 24); // inputSize 24: built at once
 * mlp.eval();
 * mlp.forward(tf.ones([2, 100, 24])).shape; // [2, 100, 24]
 * mlp.countParams();                        // 2376
 */
export class ViTMLP extends Block {
  private dense1Layer: tf.layers.Layer | undefined;
  /** `mlpNumHiddens` → `mlpNumOutputs` (the book's `dense2`). */
  readonly dense2: tf.layers.Layer;

  constructor(
    readonly mlpNumHiddens: number,
    readonly mlpNumOutputs: number,
    readonly dropout = 0.5,
    readonly inputSize?: number,
  ) {
    super();
    checkSize("ViTMLP", "mlpNumHiddens", mlpNumHiddens);
    checkSize("ViTMLP", "mlpNumOutputs", mlpNumOutputs);
    checkDropout("ViTMLP", "dropout", dropout);
    if (inputSize !== undefined) checkSize("ViTMLP", "inputSize", inputSize);
    if (inputSize !== undefined) this.dense1Layer = linear(mlpNumHiddens, true, inputSize);
    this.dense2 = linear(mlpNumOutputs, true, mlpNumHiddens);
  }

  /** `inputSize` → `mlpNumHiddens` (the book's `dense1`); undefined until the first `forward` when no `inputSize` was given. */
  get dense1(): tf.layers.Layer | undefined {
    return this.dense1Layer;
  }

  /** Apply the MLP to the last axis; see the class. */
  forward(X: tf.Tensor): tf.Tensor {
    if (!(X instanceof tf.Tensor) || X.rank < 2) throw new Error(`ViTMLP.forward: X must be a tensor [..., features], got ${describe(X)}`);
    const f = X.shape[X.rank - 1];
    const want = this.inputSize ?? (this.dense1Layer?.getWeights()[0].shape[0] as number | undefined);
    if (want !== undefined && f !== want) throw new Error(`ViTMLP.forward: X's last axis must be ${want}, got ${describe(X)}`);
    const dense1 = this.dense1Layer ?? (this.dense1Layer = linear(this.mlpNumHiddens, true, f)); // the book's LazyLinear
    return tf.tidy(() => {
      const H = dropoutIf(this.training, this.dropout, gelu(dense1.apply(X) as tf.Tensor));
      return dropoutIf(this.training, this.dropout, this.dense2.apply(H) as tf.Tensor);
    });
  }
}

/**
 * The ViT encoder block (the book's `ViTBlock(num_hiddens, norm_shape,
 * mlp_num_hiddens, num_heads, dropout, use_bias=False)`, d2l 1.0 section 11.8):
 * pre-normalisation, `X + attention(ln1(X))` with d2l's
 * {@link MultiHeadAttention} (self-attention), then `X + mlp(ln2(X))`.
 * `forward(X [batch, steps, numHiddens], validLens?)` returns the same shape.
 *
 * @example
 * const blk = new d2l.ViTBlock(24, 24, 48, 8, 0.5);
 * blk.eval();
 * blk.forward(tf.ones([2, 100, 24])).shape; // [2, 100, 24]
 * blk.countParams();                        // 4776
 */
export class ViTBlock extends Block {
  /** Layer norm before the attention (the book's `ln1`). */
  readonly ln1: tf.layers.Layer;
  /** Multi-head self-attention (the book's `attention`). */
  readonly attention: MultiHeadAttention;
  /** Layer norm before the MLP (the book's `ln2`). */
  readonly ln2: tf.layers.Layer;
  /** The MLP (the book's `mlp`). */
  readonly mlp: ViTMLP;

  constructor(
    readonly numHiddens: number,
    normShape: number | readonly [number],
    readonly mlpNumHiddens: number,
    readonly numHeads: number,
    readonly dropout: number,
    readonly useBias = false,
  ) {
    super();
    checkSize("ViTBlock", "numHiddens", numHiddens);
    const n = typeof normShape === "number" ? normShape : Array.isArray(normShape) && normShape.length === 1 ? normShape[0] : NaN;
    if (n !== numHiddens) throw new Error(`ViTBlock: normShape must be numHiddens (${numHiddens}), the last axis the layer norms normalise, got ${JSON.stringify(normShape)}`);
    checkSize("ViTBlock", "mlpNumHiddens", mlpNumHiddens);
    checkSize("ViTBlock", "numHeads", numHeads);
    checkDropout("ViTBlock", "dropout", dropout);
    this.ln1 = layerNorm(numHiddens, 3);
    this.attention = new MultiHeadAttention(numHiddens, numHiddens, numHiddens, numHiddens, numHeads, dropout, useBias);
    this.ln2 = layerNorm(numHiddens, 3);
    this.mlp = new ViTMLP(mlpNumHiddens, numHiddens, dropout, numHiddens);
  }

  /** Free the weights and the attention's last weights. */
  override dispose(): void {
    super.dispose();
    this.attention.dispose();
  }

  /** Apply the block; see the class. */
  forward(X: tf.Tensor, validLens?: tf.Tensor | null): tf.Tensor {
    check3d("ViTBlock.forward", X, this.numHiddens);
    return tf.tidy(() => {
      const N = this.ln1.apply(X) as tf.Tensor;
      const Y = tf.add(X, this.attention.forward(N, N, N, validLens));
      return tf.add(Y, this.mlp.forward(this.ln2.apply(Y) as tf.Tensor));
    });
  }
}

/** Options of {@link ViT} past the book's positional arguments. */
export interface ViTOptions {
  /** Biases in the attention's projections (the book's `use_bias`, default false). */
  useBias?: boolean;
  /** Classes, the head's outputs (the book's `num_classes`, default 10). */
  numClasses?: number;
  /** Channels of the images (default 1, Fashion-MNIST's, which the book trains on; 3 for colour). */
  inChannels?: number;
}

/**
 * The Vision Transformer (the book's `ViT(img_size, patch_size, num_hiddens,
 * mlp_num_hiddens, num_heads, num_blks, emb_dropout, blk_dropout, lr=0.1,
 * use_bias=False, num_classes=10)`, d2l 1.0 section 11.8; `lr` goes to the
 * optimizer here, and `useBias`, `numClasses` and `inChannels` are options):
 * the patch embeddings behind a learned `<cls>` token (zeros at first), plus
 * learned positional embeddings (`N(0, 0.02²)`), dropout, `numBlks`
 * {@link ViTBlock}s, and a head (layer norm, dense) on the `<cls>` position.
 * `forward(X [batch, h, w, inChannels])` returns logits `[batch, numClasses]`.
 *
 * `asNet()` is the net the training engine takes (it runs `train()` or
 * `eval()` as the engine asks), with `trainableWeights` as its parameters:
 * `trainCh6` trains a `tf.LayersModel` only; use `d2l.fit` (or the `Engine`).
 *
 * @example
 * const vit = new d2l.ViT(96, 16, 512, 2048, 8, 2, 0.1, 0.1);
 * vit.forward(tf.zeros([2, 96, 96, 1])).shape; // [2, 10]
 * vit.countParams();                           // 6457866, as PyTorch's
 * const [trainIter, testIter] = await d2l.loadDataFashionMnist(128, { resize: 96 });
 * await d2l.fit({ net: vit.asNet(), params: vit.trainableWeights, updater: tf.train.sgd(0.1),
 *   loss: (yHat, y) => d2l.losses.crossEntropy(yHat, y, { reduction: "none" }),
 *   trainIter, testIter, numEpochs: 10 });
 */
export class ViT extends Block {
  /** The patch embedding (the book's `patch_embedding`). */
  readonly patchEmbedding: PatchEmbedding;
  /** The `<cls>` token's embedding, `[1, 1, numHiddens]` (the book's `cls_token`). */
  readonly clsToken: tf.layers.Layer;
  /** The positional embeddings, `[1, numPatches + 1, numHiddens]` (the book's `pos_embedding`). */
  readonly posEmbedding: tf.layers.Layer;
  /** The encoder blocks (the book's `blks`). */
  readonly blks: ViTBlock[];
  /** The head: layer norm, then dense to the classes (the book's `head`). */
  readonly head: readonly [tf.layers.Layer, tf.layers.Layer];
  /** Classes. */
  readonly numClasses: number;
  /** Channels of the images. */
  readonly inChannels: number;

  constructor(
    imgSize: number | readonly [number, number],
    patchSize: number | readonly [number, number],
    readonly numHiddens: number,
    readonly mlpNumHiddens: number,
    readonly numHeads: number,
    readonly numBlks: number,
    readonly embDropout: number,
    readonly blkDropout: number,
    options: ViTOptions = {},
  ) {
    super();
    const { useBias = false, numClasses = 10, inChannels = 1 } = options;
    checkSize("ViT", "numHiddens", numHiddens);
    checkSize("ViT", "numBlks", numBlks);
    checkSize("ViT", "numClasses", numClasses);
    checkDropout("ViT", "embDropout", embDropout);
    checkDropout("ViT", "blkDropout", blkDropout);
    if (numHiddens % numHeads !== 0) throw new Error(`ViT: numHiddens (${numHiddens}) must be a multiple of numHeads (${numHeads})`);
    this.numClasses = numClasses;
    this.inChannels = inChannels;
    this.patchEmbedding = new PatchEmbedding(imgSize, patchSize, numHiddens, inChannels);
    this.clsToken = new ParameterLayer([1, 1, numHiddens], tf.initializers.zeros());
    this.posEmbedding = new ParameterLayer([1, this.patchEmbedding.numPatches + 1, numHiddens], tf.initializers.randomNormal({ mean: 0, stddev: 0.02 }));
    this.blks = Array.from({ length: numBlks }, () => new ViTBlock(numHiddens, numHiddens, mlpNumHiddens, numHeads, blkDropout, useBias));
    this.head = [layerNorm(numHiddens, 2), linear(numClasses, true, numHiddens)];
  }

  /** Free the weights. */
  override dispose(): void {
    super.dispose();
    for (const b of this.blks) b.dispose();
  }

  /** Classify a batch of images; see the class. */
  forward(X: tf.Tensor): tf.Tensor {
    const [h, w] = this.patchEmbedding.imgSize;
    if (!(X instanceof tf.Tensor) || X.rank !== 4 || X.shape[1] !== h || X.shape[2] !== w || X.shape[3] !== this.inChannels) {
      throw new Error(`ViT.forward: X must be a batch of images [batch, ${h}, ${w}, ${this.inChannels}] (channels last), got ${describe(X)}`);
    }
    return tf.tidy(() => {
      const P = this.patchEmbedding.forward(X); // [b, numPatches, numHiddens]
      const b = X.shape[0];
      const cls = tf.tile((this.clsToken as ParameterLayer).value, [b, 1, 1]);
      let H = tf.concat([cls, P], 1);
      H = dropoutIf(this.training, this.embDropout, tf.add(H, (this.posEmbedding as ParameterLayer).value));
      for (const blk of this.blks) H = blk.forward(H);
      const first = tf.reshape(tf.slice(H, [0, 0, 0], [b, 1, this.numHiddens]), [b, this.numHiddens]);
      return this.head[1].apply(this.head[0].apply(first)) as tf.Tensor;
    });
  }

  /**
   * The net the training engine takes: `(X, training) => logits`, which puts the
   * ViT in training mode (`train()`) or evaluation mode (`eval()`) as asked first.
   *
   * @example
   * const loss = (yHat: tf.Tensor, y: tf.Tensor) => d2l.losses.crossEntropy(yHat, y, { reduction: "none" });
   * await d2l.fit({ net: vit.asNet(), params: vit.trainableWeights, loss, updater: tf.train.sgd(0.1), trainIter, numEpochs: 1 });
   */
  asNet(): (X: tf.Tensor, training?: boolean) => tf.Tensor {
    return (X: tf.Tensor, training = false) => {
      if (training) this.train();
      else this.eval();
      return this.forward(X);
    };
  }
}
