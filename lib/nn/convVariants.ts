/**
 * Convolution variants of the course notes' layer catalogue: dilated,
 * grouped and deformable convolutions (depthwise-separable convolution is
 * tfjs' own `tf.layers.separableConv2d`). Channels last (`[batch, height,
 * width, channels]`), PyTorch's integer padding on each side; each layer is a
 * tfjs layer (works in `tf.sequential`, trains, saves and loads).
 */
import * as tf from "@tensorflow/tfjs";
import { checkPositiveInt, shapeText, single, singleShape, type Kwargs, type LayerArgs, type Shape } from "./composite";

/** A 2-D size: one number for both sides, or `[height, width]`. */
export type Size2 = number | [number, number];

/** `[h, w]` from a {@link Size2}, checked to be whole numbers of at least `min`. */
function pair(v: Size2, what: string, min = 1): [number, number] {
  const p = typeof v === "number" ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || p.some((d) => typeof d !== "number" || !Number.isInteger(d) || d < min)) {
    throw new Error(`${what} must be a whole number >= ${min} or a pair [height, width] of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

/** Output length of a convolution along one axis (PyTorch's formula). */
function convOut(n: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** `X` with `p` zeros above/below and `q` left/right (PyTorch's symmetric padding), or `X` itself. */
function padHW(X: tf.Tensor4D, p: number, q: number): tf.Tensor4D {
  return p === 0 && q === 0
    ? X
    : tf.pad(X, [
        [0, 0],
        [p, p],
        [q, q],
        [0, 0],
      ]);
}

function check4D(shape: Shape, who: string, channels?: number): void {
  if (shape.length !== 4 || (channels !== undefined && shape[3] !== channels)) {
    throw new Error(`${who} expects images of shape [batch, height, width, ${channels ?? "channels"}] (channels last), got ${shapeText(shape)}`);
  }
}

// ------------------------------------------------------------------ dilated

/** Every `s`-th row and column of `Y` from the first (a strided convolution's output from the stride-1 one). */
function subsample(Y: tf.Tensor4D, s: [number, number]): tf.Tensor4D {
  if (s[0] === 1 && s[1] === 1) return Y;
  const [N, H, W, C] = Y.shape;
  const Ho = Math.floor((H - 1) / s[0]) + 1;
  const Wo = Math.floor((W - 1) / s[1]) + 1;
  const Yp = tf.pad(Y, [
    [0, 0],
    [0, Ho * s[0] - H],
    [0, Wo * s[1] - W],
    [0, 0],
  ]);
  return Yp.reshape([N, Ho, s[0], Wo, s[1], C]).slice([0, 0, 0, 0, 0, 0], [N, Ho, 1, Wo, 1, C]).reshape([N, Ho, Wo, C]) as tf.Tensor4D;
}

/**
 * A "valid" convolution (or depthwise convolution) of an already padded `X` with strides and dilation,
 * differentiable for every dilation: tfjs' gradients of conv2d and depthwiseConv2d refuse dilations above 1, so a
 * dilated one runs undilated with a zero-spread kernel while that has at most 4 times the taps, else as
 * TensorFlow's atrous convolution does: spaceToBatchND, an undilated convolution, batchToSpaceND (all three with
 * gradients), then every `strides`-th output.
 */
function convValid(X: tf.Tensor4D, K: tf.Tensor4D, s: [number, number], d: [number, number], depthwise = false): tf.Tensor4D {
  const conv = (x: tf.Tensor4D, strides: [number, number]): tf.Tensor4D => (depthwise ? tf.depthwiseConv2d(x, K, strides, "valid") : tf.conv2d(x, K, strides, "valid"));
  if (d[0] === 1 && d[1] === 1) return conv(X, s);
  const [kh, kw] = K.shape;
  const [eh0, ew0] = [(kh - 1) * d[0] + 1, (kw - 1) * d[1] + 1];
  if (eh0 * ew0 <= 4 * kh * kw) {
    // a small dilation: the kernel with zeros between its taps (pad and reshape, so its gradient is the taps'),
    // which the backend's fast undilated convolution runs (3x3 with dilation 2: 25 taps for 9)
    const [, , ci, co] = K.shape;
    const spread = tf
      .pad(K.reshape([kh, 1, kw, 1, ci, co]), [
        [0, 0],
        [0, d[0] - 1],
        [0, 0],
        [0, d[1] - 1],
        [0, 0],
        [0, 0],
      ])
      .reshape([kh * d[0], kw * d[1], ci, co])
      .slice([0, 0, 0, 0], [eh0, ew0, ci, co]) as tf.Tensor4D;
    return depthwise ? tf.depthwiseConv2d(X, spread, s, "valid") : tf.conv2d(X, spread, s, "valid");
  }
  const [, H, W] = X.shape;
  const eh = (d[0] - (H % d[0])) % d[0];
  const ew = (d[1] - (W % d[1])) % d[1];
  const crops = [
    [0, eh],
    [0, ew],
  ];
  const Y = tf.batchToSpaceND(conv(tf.spaceToBatchND(X, d, crops) as tf.Tensor4D, [1, 1]), d, crops) as tf.Tensor4D;
  return subsample(Y, s);
}

/**
 * A dilated (atrous) convolution layer, PyTorch's `nn.Conv2d(in, filters,
 * kernelSize, dilation=d, padding=p)`: the kernel's receptive field is
 * `d * (kernelSize - 1) + 1` pixels wide with `kernelSize` weights. Padding
 * defaults to `d * (kernelSize - 1) / 2` (rounded down), which keeps height
 * and width for odd kernels. A {@link GroupConv2d} with one group: tfjs'
 * `tf.layers.conv2d({ dilationRate })` computes the same forward pass but
 * cannot train (tfjs has no convolution gradient for dilations above 1), this
 * one can.
 *
 * @example
 * const conv = d2l.dilatedConv2d(8, 3, 2); // a 5x5 receptive field from 3x3 weights
 * (conv.apply(tf.zeros([1, 16, 16, 3])) as tf.Tensor).shape; // [1, 16, 16, 8]
 */
export function dilatedConv2d(filters: number, kernelSize: Size2, dilation: Size2, args: Omit<ConvVariantArgs, "filters" | "kernelSize" | "dilation"> = {}): GroupConv2d {
  const k = pair(kernelSize, "dilatedConv2d: kernelSize");
  const d = pair(dilation, "dilatedConv2d: dilation");
  const padding = args.padding ?? [Math.floor((d[0] * (k[0] - 1)) / 2), Math.floor((d[1] * (k[1] - 1)) / 2)];
  return new GroupConv2d({ ...args, filters, kernelSize: k, dilation: d, padding, groups: 1 });
}

// ------------------------------------------------------------------ grouped

/** Options of {@link GroupConv2d} and {@link DeformConv2d} (PyTorch's `nn.Conv2d` arguments, integer padding). */
export interface ConvVariantArgs extends LayerArgs {
  /** Output channels. */
  filters: number;
  kernelSize: Size2;
  /** Default 1. */
  strides?: Size2;
  /** Zeros added on each side (PyTorch's `padding`), default 0. */
  padding?: Size2;
  /** Default 1. */
  dilation?: Size2;
  /** Default true. */
  useBias?: boolean;
}

interface ConvGeometry {
  filters: number;
  k: [number, number];
  s: [number, number];
  p: [number, number];
  d: [number, number];
  useBias: boolean;
}

function geometry(a: ConvVariantArgs, who: string): ConvGeometry {
  if (typeof a !== "object" || a === null) throw new Error(`${who} expects options { filters, kernelSize, strides?, padding?, dilation?, useBias? }`);
  return {
    filters: checkPositiveInt(a.filters, `${who}: filters`),
    k: pair(a.kernelSize, `${who}: kernelSize`),
    s: pair(a.strides ?? 1, `${who}: strides`),
    p: pair(a.padding ?? 0, `${who}: padding`, 0),
    d: pair(a.dilation ?? 1, `${who}: dilation`),
    useBias: a.useBias ?? true,
  };
}

function geometryConfig(g: ConvGeometry): tf.serialization.ConfigDict {
  return { filters: g.filters, kernelSize: [...g.k], strides: [...g.s], padding: [...g.p], dilation: [...g.d], useBias: g.useBias };
}

/** The [N, H, W, filters] a convolution of this geometry gives for a channels-last input shape. */
function geometryOutputShape(g: ConvGeometry, [n, h, w]: Shape): Shape {
  const { k, s, p, d, filters } = g;
  return [n, h === null ? null : convOut(h, k[0], s[0], p[0], d[0]), w === null ? null : convOut(w, k[1], s[1], p[1], d[1]), filters];
}

/**
 * Up to this many full-kernel channel pairs (`inChannels * filters`) a grouped convolution runs as one
 * convolution with a block-diagonal kernel, above it as one convolution per group. Measured on the busy 2-core
 * machine, batch 32, forward and backward: 16 -> 32 channels at 16x16, native, 2/4/8 groups 7.8/5.5/5.7 ms
 * block-diagonal against 37/23/30 ms split (wasm, 2 and 8 groups: 17/14 against 26/81 ms); at 64 -> 128
 * channels on 8x8 the two were within noise of each other on native and split was faster on wasm (32 against
 * 64 ms at 8 groups).
 */
const BLOCK_DIAGONAL_MAX = 4096;

/**
 * Grouped convolution (the book's ResNeXt block, section 7.6; PyTorch's
 * `F.conv2d(X, W, b, stride, padding, dilation, groups)`): the input channels
 * are split into `groups` equal parts, each convolved with its own
 * `filters / groups` kernels, and the results concatenated, so the layer has
 * `groups` times fewer weights and multiplications than a full convolution.
 * `kernel` has shape `[kh, kw, inChannels / groups, filters]` (output
 * channel `o` belongs to group `floor(o / (filters / groups))`, PyTorch's
 * order). With `groups` equal to the input channels it is one depthwise
 * convolution; for small layers one convolution with a block-diagonal
 * kernel, otherwise one convolution per group (whichever measured faster).
 *
 * @example
 * const Y = d2l.groupConv2d(tf.ones([1, 5, 5, 4]), tf.ones([3, 3, 2, 6]), 2, undefined, { padding: 1 });
 * Y.shape; // [1, 5, 5, 6]
 */
export function groupConv2d(
  images: tf.Tensor,
  weights: tf.Tensor,
  groups: number,
  bias?: tf.Tensor,
  options: { strides?: Size2; padding?: Size2; dilation?: Size2 } = {},
): tf.Tensor4D {
  checkPositiveInt(groups, "groupConv2d: groups");
  check4D(images.shape, "groupConv2d");
  const X = images as tf.Tensor4D;
  const kernel = weights as tf.Tensor4D;
  const C = X.shape[3];
  const [kh, kw, cg, F] = kernel.shape;
  if (kernel.rank !== 4 || C % groups !== 0 || F % groups !== 0 || cg !== C / groups) {
    throw new Error(
      `groupConv2d: with ${C} input channels and ${groups} groups the kernel must have shape [kh, kw, ${C / groups}, filters] with filters divisible by ${groups}` +
        ` (input channels must be divisible by groups too), got ${shapeText(kernel.shape)}`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== F)) throw new Error(`groupConv2d: bias must have shape [${F}], got ${shapeText(bias.shape)}`);
  const s = pair(options.strides ?? 1, "groupConv2d: strides");
  const p = pair(options.padding ?? 0, "groupConv2d: padding", 0);
  const d = pair(options.dilation ?? 1, "groupConv2d: dilation");
  return tf.tidy(() => {
    const Xp = padHW(X, p[0], p[1]);
    let Y: tf.Tensor4D;
    if (groups === 1) {
      Y = convValid(Xp, kernel, s, d);
    } else if (groups === C) {
      // one depthwise convolution: its output channel c * m + j is group c's j-th filter, PyTorch's order
      Y = convValid(Xp, kernel.reshape([kh, kw, C, F / C]) as tf.Tensor4D, s, d, true);
    } else if (C * F <= BLOCK_DIAGONAL_MAX) {
      // one convolution with the block-diagonal kernel: group g's kernel in rows g * C/G.., columns g * F/G..
      // (groups times the multiplications, but one kernel call instead of 2 + groups of them)
      const G = groups;
      const mask = tf.tensor(
        Float32Array.from({ length: G * G }, (_, i) => (Math.floor(i / G) === i % G ? 1 : 0)),
        [1, 1, G, 1, G, 1],
      );
      const full = tf.mul(kernel.reshape([kh, kw, 1, cg, G, F / G]), mask).reshape([kh, kw, C, F]) as tf.Tensor4D;
      Y = convValid(Xp, full, s, d);
    } else {
      const xs = tf.split(Xp, groups, 3);
      const ks = tf.split(kernel, groups, 3);
      Y = tf.concat(
        xs.map((x, g) => convValid(x as tf.Tensor4D, ks[g] as tf.Tensor4D, s, d)),
        3,
      ) as tf.Tensor4D;
    }
    return bias ? tf.add(Y, bias) : Y;
  });
}

/**
 * A grouped convolution layer (PyTorch's `nn.Conv2d(in, filters, kernelSize,
 * groups=groups)`): see {@link groupConv2d}. Weights: `kernel` (Glorot
 * uniform, shape `[kh, kw, inChannels / groups, filters]`) and `bias`
 * (zeros).
 *
 * @example
 * const net = tf.sequential({ layers: [
 *   tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 8, kernelSize: 3, padding: "same" }),
 *   new d2l.GroupConv2d({ filters: 8, kernelSize: 3, groups: 4, padding: 1 }),
 * ] });
 */
export class GroupConv2d extends tf.layers.Layer {
  /** The name tfjs' serialization knows this class by. */
  static className = "GroupConv2d";
  readonly groups: number;
  private readonly g: ConvGeometry;
  kernel!: tf.LayerVariable;
  bias: tf.LayerVariable | undefined;

  constructor(args: ConvVariantArgs & { groups: number }) {
    const { filters, kernelSize, strides, padding, dilation, useBias, groups, ...rest } = args;
    super(rest);
    this.g = geometry({ filters, kernelSize, strides, padding, dilation, useBias }, "GroupConv2d");
    this.groups = checkPositiveInt(groups, "GroupConv2d: groups");
    if (this.g.filters % this.groups !== 0) throw new Error(`GroupConv2d: filters (${filters}) must be divisible by groups (${groups})`);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape, this.name);
    check4D(shape, "GroupConv2d");
    const C = shape[3] as number;
    if (C % this.groups !== 0) throw new Error(`GroupConv2d: the input's ${C} channels must be divisible by groups (${this.groups})`);
    const { k, filters } = this.g;
    this.kernel = this.addWeight("kernel", [k[0], k[1], C / this.groups, filters], "float32", tf.initializers.glorotUniform({}));
    this.bias = this.g.useBias ? this.addWeight("bias", [filters], "float32", tf.initializers.zeros()) : undefined;
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return geometryOutputShape(this.g, singleShape(inputShape, this.name));
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const X = single(inputs, this.name) as tf.Tensor4D;
    const { s, p, d } = this.g;
    return groupConv2d(X, this.kernel.read() as tf.Tensor4D, this.groups, this.bias?.read() as tf.Tensor1D | undefined, { strides: s, padding: p, dilation: d });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...geometryConfig(this.g), groups: this.groups };
  }

  /** Rebuilds the layer from its `getConfig()` (loading a saved model). */
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new GroupConv2d(config as unknown as ConvVariantArgs & { groups: number }) as unknown as T;
  }
}
tf.serialization.registerClass(GroupConv2d);

// --------------------------------------------------------------- deformable

/**
 * The bilinear samples `[N, Ho, Wo, K, C]` of images `flat` (`[N * H * W, C]`) at rows `py` and columns `px`
 * (`[N, Ho, Wo, K]`), zero outside the image (torchvision's bilinear_interpolate). One custom-gradient op: the
 * gradient to the image scatters back with the bilinear weights, the gradient to the positions is the weights'
 * derivative times the corner values. (As plain tfjs ops the integer corner indices would sit on the gradient
 * path, which tfjs refuses.)
 */
function bilinearSample(flat: tf.Tensor2D, py: tf.Tensor4D, px: tf.Tensor4D, H: number, W: number): tf.Tensor5D {
  const [N, Ho, Wo, K] = py.shape;
  const C = flat.shape[1];
  const M = N * Ho * Wo * K;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [image, ys, xs, save] = args as [tf.Tensor2D, tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    const y0 = tf.floor(ys);
    const x0 = tf.floor(xs);
    const ly = tf.sub(ys, y0);
    const lx = tf.sub(xs, x0);
    // per axis: whether the lower and upper neighbour are inside (float 0/1), and its clipped coordinate;
    // row offsets in float32 (exact below 2^24 pixels), one cast to int32 per corner
    const inRange = (c: tf.Tensor, n: number): tf.Tensor => tf.cast(tf.logicalAnd(tf.greaterEqual(c, 0), tf.lessEqual(c, n - 1)), "float32");
    const y1 = tf.add(y0, 1);
    const x1 = tf.add(x0, 1);
    const [my0, my1, mx0, mx1] = [inRange(y0, H), inRange(y1, H), inRange(x0, W), inRange(x1, W)];
    const base = tf.tensor4d(
      Float32Array.from({ length: N }, (_, n) => n * H * W),
      [N, 1, 1, 1],
    );
    const row0 = tf.add(tf.mul(tf.clipByValue(y0, 0, H - 1), W), base);
    const row1 = tf.add(tf.mul(tf.clipByValue(y1, 0, H - 1), W), base);
    const col0 = tf.clipByValue(x0, 0, W - 1);
    const col1 = tf.clipByValue(x1, 0, W - 1);
    const corners: [tf.Tensor, tf.Tensor, tf.Tensor][] = [
      [row0, col0, tf.mul(my0, mx0)],
      [row0, col1, tf.mul(my0, mx1)],
      [row1, col0, tf.mul(my1, mx0)],
      [row1, col1, tf.mul(my1, mx1)],
    ];
    const hy = tf.sub(1, ly);
    const hx = tf.sub(1, lx);
    const w = [tf.mul(hy, hx), tf.mul(hy, lx), tf.mul(ly, hx), tf.mul(ly, lx)];
    const indices = corners.map(([r, c]) => tf.add(r, c).toInt().reshape([M]));
    const masks = corners.map(([, , m]) => m);
    const rows = indices.map((i) => tf.gather(image, i).reshape([N, Ho, Wo, K, C]));
    const value = tf.addN(rows.map((g, c) => tf.mul(g, tf.mul(w[c], masks[c]).expandDims(4))));
    save([...indices, ...rows, ...masks, ly, lx]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const idx = saved.slice(0, 4);
      const g = saved.slice(4, 8);
      const m = saved.slice(8, 12);
      const [sy, sx] = saved.slice(12);
      const ty = tf.sub(1, sy);
      const tx = tf.sub(1, sx);
      const wts = [tf.mul(ty, tx), tf.mul(ty, sx), tf.mul(sy, tx), tf.mul(sy, sx)];
      const dImage = tf.addN(idx.map((i, c) => tf.unsortedSegmentSum(tf.mul(dy, tf.mul(wts[c], m[c]).expandDims(4)).reshape([M, C]), i as tf.Tensor1D, N * H * W)));
      // d(sample)/d(row) and /d(column): each corner's weight's derivative (masked) times its pixel
      const coefRow = [tf.neg(tx), tf.neg(sx), tx, sx];
      const coefCol = [tf.neg(ty), ty, tf.neg(sy), sy];
      const along = (coef: tf.Tensor[]): tf.Tensor => tf.sum(tf.mul(dy, tf.addN(g.map((gc, c) => tf.mul(gc, tf.mul(coef[c], m[c]).expandDims(4))))), 4);
      return [dImage, along(coefRow), along(coefCol)];
    };
    return { value, gradFunc };
  });
  return op(flat, py, px) as tf.Tensor5D;
}

/**
 * Deformable convolution v1 (Dai et al. 2017; `torchvision.ops.deform_conv2d`
 * with one offset group and no mask): kernel tap `k = i * kw + j` of output
 * pixel `(y, x)` reads the input at
 * `(y * sh - ph + i * dh + offset[..., 2k], x * sw - pw + j * dw + offset[..., 2k + 1])`,
 * sampled bilinearly (zero outside the image), and the samples are
 * multiplied by the kernel as one matrix product. `offset` has shape
 * `[batch, outHeight, outWidth, 2 * kh * kw]` (torchvision's channel order,
 * channels last), `kernel` `[kh, kw, inChannels, filters]`. Made of tfjs ops
 * (gathers, a matrix product), so gradients to the input, the offsets and the
 * kernel come from autograd.
 *
 * @example
 * const X = tf.randomNormal([1, 5, 5, 2]);
 * const offset = tf.zeros([1, 5, 5, 18]); // zero offsets: a plain 3x3 convolution
 * const Y = d2l.deformConv2d(X, offset, tf.ones([3, 3, 2, 4]), undefined, { padding: 1 });
 */
export function deformConv2d(
  images: tf.Tensor,
  offset: tf.Tensor,
  weights: tf.Tensor,
  bias?: tf.Tensor,
  options: { strides?: Size2; padding?: Size2; dilation?: Size2 } = {},
): tf.Tensor4D {
  check4D(images.shape, "deformConv2d");
  const X = images as tf.Tensor4D;
  const kernel = weights as tf.Tensor4D;
  const [N, H, W, C] = X.shape;
  const [kh, kw, kc, F] = kernel.shape;
  if (kernel.rank !== 4 || kc !== C) throw new Error(`deformConv2d: the kernel must have shape [kh, kw, ${C}, filters] for ${C} input channels, got ${shapeText(kernel.shape)}`);
  const s = pair(options.strides ?? 1, "deformConv2d: strides");
  const p = pair(options.padding ?? 0, "deformConv2d: padding", 0);
  const d = pair(options.dilation ?? 1, "deformConv2d: dilation");
  const Ho = convOut(H, kh, s[0], p[0], d[0]);
  const Wo = convOut(W, kw, s[1], p[1], d[1]);
  const K = kh * kw;
  const want = [N, Ho, Wo, 2 * K];
  if (offset.rank !== 4 || offset.shape.some((v, i) => v !== want[i])) {
    throw new Error(`deformConv2d: offset must have shape ${shapeText(want)} ([batch, outHeight, outWidth, 2 * kh * kw]), got ${shapeText(offset.shape)}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== F)) throw new Error(`deformConv2d: bias must have shape [${F}], got ${shapeText(bias.shape)}`);
  return tf.tidy(() => {
    // the undeformed sampling positions of each output pixel's K taps, [1, Ho, Wo, K]
    const by = new Float32Array(Ho * Wo * K);
    const bx = new Float32Array(Ho * Wo * K);
    for (let y = 0; y < Ho; y++) {
      for (let x = 0; x < Wo; x++) {
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const o = (y * Wo + x) * K + i * kw + j;
            by[o] = y * s[0] - p[0] + i * d[0];
            bx[o] = x * s[1] - p[1] + j * d[1];
          }
        }
      }
    }
    const off = offset.reshape([N, Ho, Wo, K, 2]);
    const py = tf.add(tf.tensor4d(by, [1, Ho, Wo, K]), off.slice([0, 0, 0, 0, 0], [N, Ho, Wo, K, 1]).reshape([N, Ho, Wo, K]));
    const px = tf.add(tf.tensor4d(bx, [1, Ho, Wo, K]), off.slice([0, 0, 0, 0, 1], [N, Ho, Wo, K, 1]).reshape([N, Ho, Wo, K]));
    const sampled = bilinearSample(X.reshape([N * H * W, C]), py as tf.Tensor4D, px as tf.Tensor4D, H, W);
    let Y = tf.matMul(sampled.reshape([N * Ho * Wo, K * C]), kernel.reshape([K * C, F]));
    if (bias) Y = tf.add(Y, bias);
    return Y.reshape([N, Ho, Wo, F]) as tf.Tensor4D;
  });
}

/**
 * A deformable convolution layer (v1): a parallel convolution with the same
 * kernel size, strides, padding and dilation predicts `2 * kh * kw` offsets
 * per output pixel (its weights start at zero, so the layer starts as a plain
 * convolution and learns where to look), then {@link deformConv2d} samples
 * the input there. Weights: `offset_kernel`, `offset_bias` (zeros), `kernel`
 * (Glorot uniform, `[kh, kw, inChannels, filters]`), `bias` (zeros).
 *
 * @example
 * const net = tf.sequential({ layers: [
 *   tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, activation: "relu" }),
 *   new d2l.DeformConv2d({ filters: 8, kernelSize: 3, padding: 1 }),
 * ] });
 */
export class DeformConv2d extends tf.layers.Layer {
  /** The name tfjs' serialization knows this class by. */
  static className = "DeformConv2d";
  private readonly g: ConvGeometry;
  offsetKernel!: tf.LayerVariable;
  offsetBias!: tf.LayerVariable;
  kernel!: tf.LayerVariable;
  bias: tf.LayerVariable | undefined;

  constructor(args: ConvVariantArgs) {
    const { filters, kernelSize, strides, padding, dilation, useBias, ...rest } = args;
    super(rest);
    this.g = geometry({ filters, kernelSize, strides, padding, dilation, useBias }, "DeformConv2d");
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape, this.name);
    check4D(shape, "DeformConv2d");
    const C = shape[3] as number;
    const { k, filters } = this.g;
    this.offsetKernel = this.addWeight("offset_kernel", [k[0], k[1], C, 2 * k[0] * k[1]], "float32", tf.initializers.zeros());
    this.offsetBias = this.addWeight("offset_bias", [2 * k[0] * k[1]], "float32", tf.initializers.zeros());
    this.kernel = this.addWeight("kernel", [k[0], k[1], C, filters], "float32", tf.initializers.glorotUniform({}));
    this.bias = this.g.useBias ? this.addWeight("bias", [filters], "float32", tf.initializers.zeros()) : undefined;
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return geometryOutputShape(this.g, singleShape(inputShape, this.name));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs?: Kwargs): tf.Tensor {
    const X = single(inputs, this.name) as tf.Tensor4D;
    const { s, p, d } = this.g;
    return tf.tidy(() => {
      const offset = tf.add(convValid(padHW(X, p[0], p[1]), this.offsetKernel.read() as tf.Tensor4D, s, d), this.offsetBias.read()) as tf.Tensor4D;
      return deformConv2d(X, offset, this.kernel.read() as tf.Tensor4D, this.bias?.read() as tf.Tensor1D | undefined, { strides: s, padding: p, dilation: d });
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...geometryConfig(this.g) };
  }

  /** Rebuilds the layer from its `getConfig()` (loading a saved model). */
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new DeformConv2d(config as unknown as ConvVariantArgs) as unknown as T;
  }
}
tf.serialization.registerClass(DeformConv2d);
