/**
 * Upsampling of the course notes' layer catalogue: nearest and bilinear
 * interpolation (`Upsample`, PyTorch's `nn.Upsample`), and the book's
 * transposed convolution from scratch (`transConv`, section 13.10) with its
 * bilinear kernel initialisation (`bilinearKernel`, section 13.11) for
 * tfjs' concise `tf.layers.conv2dTranspose`. Channels last.
 */
import * as tf from "@tensorflow/tfjs";
import { checkPositiveInt, shapeText, single, singleShape, type LayerArgs, type Shape } from "./composite";

/** Options of {@link Upsample}: exactly one of `size` and `scaleFactor`. */
export interface UpsampleArgs extends LayerArgs {
  /** Output `[height, width]`. */
  size?: [number, number];
  /** Whole-number factor for height and width (one number or `[h, w]`). */
  scaleFactor?: number | [number, number];
  /** `"nearest"` (default) or `"bilinear"`. */
  mode?: "nearest" | "bilinear";
  /**
   * Bilinear only (PyTorch's `align_corners`, default false): true maps the
   * corner pixels' centres onto each other; false maps the corners of the
   * images (half-pixel centres).
   */
  alignCorners?: boolean;
}

/**
 * Upsampling (PyTorch's `nn.Upsample(size | scale_factor, mode,
 * align_corners)`) of `[batch, height, width, channels]` images, nearest
 * (`floor(y * inH / outH)`, PyTorch's "nearest") or bilinear, with PyTorch's
 * `align_corners` semantics; equal to PyTorch's values (the unit test's
 * fixtures). Made of matrix products along height, then width, so it
 * trains on every backend.
 *
 * @example
 * const up = new d2l.Upsample({ scaleFactor: 2, mode: "bilinear" });
 * (up.apply(tf.ones([1, 4, 4, 3])) as tf.Tensor).shape; // [1, 8, 8, 3]
 */
export class Upsample extends tf.layers.Layer {
  /** The name tfjs' serialization knows this class by. */
  static className = "Upsample";
  readonly size: [number, number] | undefined;
  readonly scaleFactor: [number, number] | undefined;
  readonly mode: "nearest" | "bilinear";
  readonly alignCorners: boolean;

  constructor(args: UpsampleArgs) {
    const { size, scaleFactor, mode, alignCorners, ...rest } = args ?? {};
    super(rest);
    if ((size === undefined) === (scaleFactor === undefined)) {
      throw new Error(`Upsample needs exactly one of size ([height, width]) and scaleFactor (a whole number), got ${JSON.stringify({ size, scaleFactor })}`);
    }
    const two = (v: number | [number, number], what: string): [number, number] => {
      const p = typeof v === "number" ? [v, v] : v;
      if (!Array.isArray(p) || p.length !== 2) throw new Error(`Upsample: ${what} must be a whole number or [height, width], got ${JSON.stringify(v)}`);
      return [checkPositiveInt(p[0], `Upsample: ${what}`), checkPositiveInt(p[1], `Upsample: ${what}`)];
    };
    this.size = size === undefined ? undefined : two(size, "size");
    this.scaleFactor = scaleFactor === undefined ? undefined : two(scaleFactor, "scaleFactor");
    if (mode !== undefined && mode !== "nearest" && mode !== "bilinear") throw new Error(`Upsample: mode must be "nearest" or "bilinear", got ${JSON.stringify(mode)}`);
    this.mode = mode ?? "nearest";
    if (alignCorners !== undefined && this.mode === "nearest") {
      throw new Error('Upsample: alignCorners applies to mode "bilinear" only (PyTorch refuses it for "nearest" too); leave it out');
    }
    this.alignCorners = alignCorners ?? false;
  }

  private outSize(h: number, w: number): [number, number] {
    return this.size ?? [h * (this.scaleFactor as [number, number])[0], w * (this.scaleFactor as [number, number])[1]];
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape, this.name);
    if (shape.length !== 4) throw new Error(`Upsample expects images of shape [batch, height, width, channels], got ${shapeText(shape)}`);
    const [n, h, w, c] = shape;
    if (this.size) return [n, this.size[0], this.size[1], c];
    const [sh, sw] = this.scaleFactor as [number, number];
    return [n, h === null ? null : h * sh, w === null ? null : w * sw, c];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const X = single(inputs, this.name);
    if (X.rank !== 4) throw new Error(`Upsample expects images of shape [batch, height, width, channels], got ${shapeText(X.shape)}`);
    const X4 = X as tf.Tensor4D;
    const size = this.outSize(X4.shape[1], X4.shape[2]);
    return tf.tidy(() => this.resize(this.resize(X4, 1, size[0], this.scaleFactor?.[0]), 2, size[1], this.scaleFactor?.[1]));
  }

  /**
   * Interpolation along one axis as a matrix product with an `[m, n]` interpolation matrix (two nonzero weights a
   * row for bilinear, one for nearest), so that the forward pass and its gradient are matrix products, with
   * PyTorch's source positions: nearest `floor(o * scale)`; bilinear `o * (n - 1) / (m - 1)` with alignCorners,
   * else `max(0, (o + 0.5) * scale - 0.5)`; `scale` is `n / m`, or `1 / scaleFactor` when a factor was given, in
   * float32 as PyTorch computes it. (tf.image.resizeBilinear's gradient fails on non-square images in tfjs 4;
   * gathers train, but their gradient is several times slower.)
   */
  private resize(X: tf.Tensor4D, axis: 1 | 2, m: number, factor: number | undefined): tf.Tensor4D {
    const [N, H, W, C] = X.shape;
    const n = X.shape[axis];
    if (n === m) return X;
    const scale = Math.fround(factor === undefined ? n / m : 1 / factor);
    const A = new Float32Array(m * n);
    for (let o = 0; o < m; o++) {
      if (this.mode === "nearest") {
        A[o * n + Math.min(Math.floor(Math.fround(o * scale)), n - 1)] = 1;
        continue;
      }
      const src = this.alignCorners ? (m > 1 ? (o * (n - 1)) / (m - 1) : 0) : Math.max(0, (o + 0.5) * scale - 0.5);
      const i0 = Math.min(Math.floor(src), n - 1);
      const i1 = Math.min(i0 + 1, n - 1);
      const l = src - i0;
      A[o * n + i0] += 1 - l;
      A[o * n + i1] += l;
    }
    const At = tf.tensor3d(A, [1, m, n]);
    // rows: [N, H, W * C] -> [N, m, W * C]; columns: [N * H, W, C] -> [N * H, m, C]
    if (axis === 1) return tf.matMul(At, X.reshape([N, H, W * C])).reshape([N, m, W, C]);
    return tf.matMul(At, X.reshape([N * H, W, C])).reshape([N, H, m, C]);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { ...super.getConfig(), mode: this.mode };
    if (this.size) config.size = [...this.size];
    if (this.scaleFactor) config.scaleFactor = [...this.scaleFactor];
    if (this.mode === "bilinear") config.alignCorners = this.alignCorners;
    return config;
  }

  /** Rebuilds the layer from its `getConfig()` (loading a saved model). */
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new Upsample(config as unknown as UpsampleArgs) as unknown as T;
  }
}
tf.serialization.registerClass(Upsample);

/**
 * Transposed convolution from scratch, as the book (`trans_conv`, section
 * 13.10): every input element `X[i, j]` scales the kernel `K`, which is added
 * to the `[h + kh - 1, w + kw - 1]` output at `[i, j]`. Single channel, stride
 * 1, no padding; made of tfjs ops, so it is differentiable in `X` and `K`.
 *
 * @example
 * const X = tf.tensor2d([[0, 1], [2, 3]]);
 * const K = tf.tensor2d([[0, 1], [2, 3]]);
 * await d2l.transConv(X, K).array(); // [[0, 0, 1], [0, 4, 6], [4, 12, 9]]
 */
export function transConv(X: tf.Tensor, K: tf.Tensor): tf.Tensor2D {
  if (X.rank !== 2 || K.rank !== 2)
    throw new Error(`transConv expects a 2-D input and a 2-D kernel (one channel, as the book), got ${shapeText(X.shape)} and ${shapeText(K.shape)}`);
  const [h, w] = K.shape;
  const [xh, xw] = X.shape;
  return tf.tidy(() => {
    const terms: tf.Tensor[] = [];
    for (let i = 0; i < xh; i++) {
      for (let j = 0; j < xw; j++) {
        // Y[i: i + h, j: j + w] += X[i, j] * K
        terms.push(
          tf.pad(tf.mul(X.slice([i, j], [1, 1]), K), [
            [i, xh - 1 - i],
            [j, xw - 1 - j],
          ]),
        );
      }
    }
    return (terms.length === 0 ? tf.zeros([xh + h - 1, xw + w - 1]) : tf.addN(terms)) as tf.Tensor2D;
  });
}

/**
 * The book's bilinear-interpolation kernel (`bilinear_kernel(in_channels,
 * out_channels, kernel_size)`, section 13.11), which makes a transposed
 * convolution with stride `s`, kernel `2s` and padding `s / 2` upsample by
 * bilinear interpolation. Returned in the layout of
 * `tf.layers.conv2dTranspose`'s kernel, `[kernelSize, kernelSize,
 * outChannels, inChannels]` (PyTorch's is `[in, out, k, k]`): channel `c`
 * maps to channel `c` only, so `inChannels` must equal `outChannels` (as the
 * book uses it).
 *
 * @example
 * const up = tf.layers.conv2dTranspose({ filters: 3, kernelSize: 4, strides: 2, padding: "same", useBias: false });
 * up.build([null, 8, 8, 3]);
 * up.setWeights([d2l.bilinearKernel(3, 3, 4)]);
 * (up.apply(tf.ones([1, 8, 8, 3])) as tf.Tensor).shape; // [1, 16, 16, 3]
 */
export function bilinearKernel(inChannels: number, outChannels: number, kernelSize: number): tf.Tensor4D {
  checkPositiveInt(inChannels, "bilinearKernel: inChannels");
  checkPositiveInt(outChannels, "bilinearKernel: outChannels");
  checkPositiveInt(kernelSize, "bilinearKernel: kernelSize");
  if (inChannels !== outChannels) {
    throw new Error(`bilinearKernel: inChannels (${inChannels}) and outChannels (${outChannels}) must be equal (the book's kernel maps each channel to itself)`);
  }
  const factor = Math.floor((kernelSize + 1) / 2);
  const center = kernelSize % 2 === 1 ? factor - 1 : factor - 0.5;
  const k = kernelSize;
  const c = inChannels;
  const w = new Float32Array(k * k * c * c);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const filt = (1 - Math.abs(i - center) / factor) * (1 - Math.abs(j - center) / factor);
      for (let ch = 0; ch < c; ch++) w[((i * k + j) * c + ch) * c + ch] = filt;
    }
  }
  return tf.tensor4d(w, [k, k, c, c]);
}
