/**
 * `d2l.transforms.functional`: the deterministic cores of the image transforms
 * (torchvision's `torchvision.transforms.functional`, in camelCase), on
 * channels-last tensors: one image `[H, W, C]` or a batch `[N, H, W, C]`.
 *
 * Each one follows torchvision 0.14's **tensor** code path, and
 * test/unit/transforms.test.ts checks it against torchvision's output
 * (test/fixtures/transforms/make_fixtures.py) within 1e-4. The pixels are
 * read to the host once per call and computed in plain JavaScript (one
 * `dataSync` per batch, what a data pipeline can afford), so the results are
 * the same on every backend. Colour operations expect float images in
 * [0, 1] (as {@link ToTensor} makes them) and clamp to [0, 1] as
 * torchvision does for float images. Outputs are float32, except the pure
 * copies (crop, flips, constant/edge/reflect/symmetric pads of an int32
 * image), which keep the input's dtype.
 */
import * as tf from "@tensorflow/tfjs";
import {
  affineOutputSize,
  brightnessHost,
  centerCropHost,
  checkFactor,
  checkInt,
  checkInterpolation,
  clamp01,
  contrastHost,
  cropHost,
  fillFor,
  flipHost,
  grayscaleHost,
  gridTransformHost,
  hueHost,
  imageDims,
  inverseAffineMatrix,
  mapImages,
  padHost,
  paddingLtrb,
  resizedSize,
  resizeHost,
  saturationHost,
  shapeText,
  sizePair,
  type Fill,
  type Interpolation,
  type PaddingMode,
} from "./transformsCore";

export type { Fill, Interpolation, PaddingMode } from "./transformsCore";

/**
 * Resize an image or batch: torchvision's `F.resize`, bilinear by default.
 * `size` a number: the shorter side becomes `size` and the longer keeps the
 * aspect ratio (rounded down, as torchvision); `[h, w]`: exactly that.
 * Follows torchvision 0.14's tensor path, whose `antialias` defaults to
 * false for tensors: downsizing samples (bilinear between the 4 nearest
 * pixels) instead of averaging, so it aliases by a large factor; PIL images
 * in torchvision are antialiased.
 *
 * @param x `[H, W, C]` or `[N, H, W, C]`
 * @param size the shorter side, or `[height, width]`
 * @param interpolation `"bilinear"` (default) or `"nearest"` (PyTorch's legacy nearest: floor of the scaled index)
 * @example
 * const img = tf.randomUniform([28, 28, 1]);
 * d2l.transforms.functional.resize(img, [32, 32]).shape; // [32, 32, 1]
 * d2l.transforms.functional.resize(tf.zeros([20, 40, 3]), 10).shape; // [10, 20, 3]
 */
export function resize(x: tf.Tensor, size: number | readonly number[], interpolation: Interpolation = "bilinear"): tf.Tensor {
  const { h, w } = imageDims(x, "resize");
  const mode = checkInterpolation(interpolation, "resize");
  const [oh, ow] = resizedSize(h, w, size, "resize");
  return mapImages(x, "resize", (img) => resizeHost(img, oh, ow, mode));
}

/**
 * Crop the box with its top-left corner at (`top`, `left`): torchvision's
 * `F.crop`. Parts of the box outside the image are 0, as in torchvision.
 *
 * @example
 * d2l.transforms.functional.crop(tf.zeros([28, 28, 1]), 2, 3, 20, 24).shape; // [20, 24, 1]
 */
export function crop(x: tf.Tensor, top: number, left: number, height: number, width: number): tf.Tensor {
  imageDims(x, "crop");
  checkInt(top, "crop", "top");
  checkInt(left, "crop", "left");
  checkInt(height, "crop", "height", 1);
  checkInt(width, "crop", "width", 1);
  return mapImages(x, "crop", (img) => cropHost(img, top, left, height, width), true);
}

/**
 * Crop the centre: torchvision's `F.center_crop` (a crop larger than the
 * image pads it with 0 first, as torchvision).
 *
 * @example
 * d2l.transforms.functional.centerCrop(tf.zeros([32, 40, 3]), 24).shape; // [24, 24, 3]
 */
export function centerCrop(x: tf.Tensor, size: number | readonly number[]): tf.Tensor {
  imageDims(x, "centerCrop");
  const [ch, cw] = sizePair(size, "centerCrop");
  return mapImages(x, "centerCrop", (img) => centerCropHost(img, ch, cw), true);
}

/**
 * Crop a box and resize it to `size`: torchvision's `F.resized_crop` (what
 * `transforms.RandomResizedCrop` does with its random box).
 *
 * @example
 * d2l.transforms.functional.resizedCrop(tf.zeros([28, 28, 1]), 4, 4, 20, 20, [28, 28]).shape; // [28, 28, 1]
 */
export function resizedCrop(
  x: tf.Tensor,
  top: number,
  left: number,
  height: number,
  width: number,
  size: number | readonly number[],
  interpolation: Interpolation = "bilinear",
): tf.Tensor {
  imageDims(x, "resizedCrop");
  checkInt(top, "resizedCrop", "top");
  checkInt(left, "resizedCrop", "left");
  checkInt(height, "resizedCrop", "height", 1);
  checkInt(width, "resizedCrop", "width", 1);
  const mode = checkInterpolation(interpolation, "resizedCrop");
  const [oh, ow] = resizedSize(height, width, size, "resizedCrop");
  return mapImages(x, "resizedCrop", (img) => resizeHost(cropHost(img, top, left, height, width), oh, ow, mode));
}

/**
 * Mirror left-right: torchvision's `F.hflip`.
 *
 * @example
 * await d2l.transforms.functional.hflip(tf.tensor3d([[[1], [2]]])).array(); // [[[2], [1]]]
 */
export function hflip(x: tf.Tensor): tf.Tensor {
  return mapImages(x, "hflip", (img) => flipHost(img, true), true);
}

/**
 * Mirror top-bottom: torchvision's `F.vflip`.
 *
 * @example
 * await d2l.transforms.functional.vflip(tf.tensor3d([[[1]], [[2]]])).array(); // [[[2]], [[1]]]
 */
export function vflip(x: tf.Tensor): tf.Tensor {
  return mapImages(x, "vflip", (img) => flipHost(img, false), true);
}

/**
 * Pad the borders: torchvision's `F.pad`. `padding` is one number for every
 * side, `[leftRight, topBottom]`, or `[left, top, right, bottom]`; modes
 * `constant` (with `fill`, a number or one per channel), `edge`, `reflect`
 * (mirror without repeating the edge) and `symmetric` (repeating it).
 * Negative padding crops, as in torchvision's tensor path.
 *
 * @example
 * d2l.transforms.functional.pad(tf.zeros([28, 28, 1]), 4, "reflect").shape; // [36, 36, 1]
 */
export function pad(x: tf.Tensor, padding: number | readonly number[], paddingMode: PaddingMode = "constant", fill: Fill = 0): tf.Tensor {
  imageDims(x, "pad");
  const ltrb = paddingLtrb(padding, "pad");
  return mapImages(x, "pad", (img) => padHost(img, ltrb, paddingMode, fill, "pad"), typeof fill === "number" && Number.isInteger(fill));
}

/**
 * `(x - mean) / std` per channel: torchvision's `F.normalize`.
 *
 * @param mean one number per channel (or one for all)
 * @param std one number per channel (or one for all), none 0
 * @example
 * const x = d2l.transforms.functional.normalize(tf.ones([4, 4, 3]), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
 */
export function normalize(x: tf.Tensor, mean: Fill, std: Fill): tf.Tensor {
  const { c } = imageDims(x, "normalize");
  const m = fillFor(mean, c, "normalize (mean)");
  const s = fillFor(std, c, "normalize (std)");
  if (s.some((v) => v === 0))
    throw new Error(`normalize: std evaluated to zero after conversion to float32 (${JSON.stringify(std)}), leading to division by zero; give every channel a std > 0`);
  return mapImages(x, "normalize", (img) => {
    const out = new Float32Array(img.data.length);
    for (let i = 0; i < out.length; i++) out[i] = (img.data[i] - m[i % c]) / s[i % c];
    return { ...img, data: out };
  });
}

/**
 * ITU-R 601-2 luma, `0.2989 R + 0.587 G + 0.114 B`: torchvision's
 * `F.rgb_to_grayscale`, with 1 output channel or 3 equal ones.
 *
 * @example
 * d2l.transforms.functional.rgbToGrayscale(tf.ones([8, 8, 3]), 1).shape; // [8, 8, 1]
 */
export function rgbToGrayscale(x: tf.Tensor, numOutputChannels = 1): tf.Tensor {
  return mapImages(x, "rgbToGrayscale", (img) => grayscaleHost(img, numOutputChannels));
}

/**
 * Scale brightness: `clamp(factor * x, 0, 1)`, torchvision's `F.adjust_brightness`
 * (0: black, 1: the image).
 *
 * @example
 * d2l.transforms.functional.adjustBrightness(tf.fill([2, 2, 3], 0.4), 1.5); // 0.6 everywhere
 */
export function adjustBrightness(x: tf.Tensor, brightnessFactor: number): tf.Tensor {
  return mapImages(x, "adjustBrightness", (img) => brightnessHost(img, brightnessFactor));
}

/**
 * Blend with the mean grey level: torchvision's `F.adjust_contrast`
 * (0: a grey image, 1: the image).
 *
 * @example
 * d2l.transforms.functional.adjustContrast(tf.randomUniform([8, 8, 3]), 0.5);
 */
export function adjustContrast(x: tf.Tensor, contrastFactor: number): tf.Tensor {
  return mapImages(x, "adjustContrast", (img) => contrastHost(img, contrastFactor));
}

/**
 * Blend with the image's grayscale: torchvision's `F.adjust_saturation`
 * (0: grey, 1: the image, 2: twice as saturated).
 *
 * @example
 * d2l.transforms.functional.adjustSaturation(tf.randomUniform([8, 8, 3]), 2);
 */
export function adjustSaturation(x: tf.Tensor, saturationFactor: number): tf.Tensor {
  return mapImages(x, "adjustSaturation", (img) => saturationHost(img, saturationFactor));
}

/**
 * Shift the hue by `hueFactor` turns of the colour wheel (in [-0.5, 0.5]),
 * through HSV: torchvision's `F.adjust_hue`.
 *
 * @example
 * d2l.transforms.functional.adjustHue(tf.randomUniform([8, 8, 3]), 0.25);
 */
export function adjustHue(x: tf.Tensor, hueFactor: number): tf.Tensor {
  return mapImages(x, "adjustHue", (img) => hueHost(img, hueFactor));
}

/**
 * `clamp(gain * x ** gamma, 0, 1)`: torchvision's `F.adjust_gamma`.
 *
 * @example
 * d2l.transforms.functional.adjustGamma(tf.randomUniform([8, 8, 3]), 0.5);
 */
export function adjustGamma(x: tf.Tensor, gamma: number, gain = 1): tf.Tensor {
  checkFactor(gamma, "adjustGamma", "gamma");
  return mapImages(x, "adjustGamma", (img) => {
    const out = new Float32Array(img.data.length);
    for (let i = 0; i < out.length; i++) out[i] = clamp01(gain * Math.pow(img.data[i], gamma));
    return { ...img, data: out };
  });
}

/** Options of {@link affine} and {@link rotate}. */
export interface GridOptions {
  /** `"nearest"` (torchvision's default) or `"bilinear"`. */
  interpolation?: Interpolation;
  /** The pivot in pixel coordinates `[x, y]` (default: the image's centre). */
  center?: readonly [number, number] | readonly number[];
  /** The value of pixels from outside the image (default: 0 without torchvision's mask; see {@link affine}). */
  fill?: Fill;
}

function centerF(center: readonly number[] | undefined, w: number, h: number, name: string): [number, number] {
  if (center === undefined) return [0, 0];
  if (!Array.isArray(center) || center.length !== 2) throw new Error(`${name}: center must be [x, y] in pixels, got ${JSON.stringify(center)}`);
  return [center[0] - w * 0.5, center[1] - h * 0.5];
}

/**
 * Rotate by `angle` degrees (counter-clockwise), scale, shear (degrees, `[x, y]`
 * or one number for x) and translate (pixels, `[dx, dy]`) about the centre:
 * torchvision's `F.affine`, the tensor path (an inverse affine grid sampled
 * with zeros outside). With `fill` given, outside pixels take it through a
 * sampled mask, as torchvision does, which also darkens bilinear edges a
 * little more than `fill` undefined (torchvision's `RandomAffine` and
 * `RandomRotation` pass fill 0, so they do that).
 *
 * @example
 * const out = d2l.transforms.functional.affine(tf.randomUniform([28, 28, 1]), 15, [2, -1], 1.1, [5, 0], { interpolation: "bilinear" });
 */
export function affine(x: tf.Tensor, angle: number, translate: readonly number[], scale: number, shear: number | readonly number[], options: GridOptions = {}): tf.Tensor {
  const { h, w } = imageDims(x, "affine");
  if (typeof angle !== "number" || !Number.isFinite(angle)) throw new Error(`affine: angle must be a number of degrees, got ${String(angle)}`);
  if (!Array.isArray(translate) || translate.length !== 2) throw new Error(`affine: translate must be [dx, dy] in pixels, got ${JSON.stringify(translate)}`);
  if (typeof scale !== "number" || !(scale > 0)) throw new Error(`affine: scale must be a number > 0, got ${String(scale)}`);
  const sh = typeof shear === "number" ? [shear, 0] : shear.length === 1 ? [shear[0], 0] : shear;
  if (!Array.isArray(sh) || sh.length !== 2) throw new Error(`affine: shear must be a number or [x, y] in degrees, got ${JSON.stringify(shear)}`);
  const mode = checkInterpolation(options.interpolation ?? "nearest", "affine");
  const m = inverseAffineMatrix(centerF(options.center, w, h, "affine"), angle, translate, scale, sh);
  return mapImages(x, "affine", (img) => gridTransformHost(img, m, h, w, mode, options.fill, "affine"));
}

/**
 * Rotate by `angle` degrees counter-clockwise: torchvision's `F.rotate`
 * (tensor path). With `expand` the output grows to hold the whole rotated
 * image (so a batch's images must be one size anyway).
 *
 * @example
 * d2l.transforms.functional.rotate(tf.randomUniform([28, 28, 1]), 30, { interpolation: "bilinear" }).shape; // [28, 28, 1]
 */
export function rotate(x: tf.Tensor, angle: number, options: GridOptions & { expand?: boolean } = {}): tf.Tensor {
  const { h, w } = imageDims(x, "rotate");
  if (typeof angle !== "number" || !Number.isFinite(angle)) throw new Error(`rotate: angle must be a number of degrees, got ${String(angle)}`);
  const mode = checkInterpolation(options.interpolation ?? "nearest", "rotate");
  const m = inverseAffineMatrix(centerF(options.center, w, h, "rotate"), -angle, [0, 0], 1, [0, 0]);
  const [ow, oh] = options.expand ? affineOutputSize(m, w, h) : [w, h];
  return mapImages(x, "rotate", (img) => gridTransformHost(img, m, oh, ow, mode, options.fill, "rotate"));
}

/**
 * `(flatten(x) - meanVector) @ matrix`, reshaped back: torchvision's
 * `LinearTransformation` (e.g. ZCA whitening). d2l flattens each image
 * channels-last (H, W, C order), torchvision channels-first: a matrix made
 * for torchvision must have its rows and columns permuted.
 *
 * @param matrix `[D, D]` with D = H * W * C
 * @param meanVector `[D]`
 * @example
 * const D = 4 * 4 * 1;
 * const out = d2l.transforms.functional.linearTransformation(tf.randomUniform([4, 4, 1]), tf.eye(D), tf.zeros([D]));
 */
export function linearTransformation(x: tf.Tensor, matrix: tf.Tensor, meanVector: tf.Tensor): tf.Tensor {
  const { n, h, w, c } = imageDims(x, "linearTransformation");
  const D = h * w * c;
  if (matrix.rank !== 2 || matrix.shape[0] !== D || matrix.shape[1] !== D) {
    throw new Error(`linearTransformation: the matrix must be [D, D] with D = H * W * C = ${D} for images [${h}, ${w}, ${c}], got ${shapeText(matrix.shape)}`);
  }
  if (meanVector.size !== D) throw new Error(`linearTransformation: meanVector must have D = ${D} elements, got shape ${shapeText(meanVector.shape)}`);
  return tf.tidy(() => tf.matMul(tf.sub(tf.reshape(tf.cast(x, "float32"), [n, D]), tf.reshape(meanVector, [1, D])), matrix).reshape(x.shape));
}
