/**
 * What the book's custom blocks (`Inception`, `Residual`, `DenseBlock`) share
 * as tfjs layers that hold other layers: building those in their own name
 * scopes, reporting their weights, training mode passed down, output shapes
 * without running anything, and a few layer makers with the book's settings
 * (PyTorch's padding, batch normalization's momentum and epsilon).
 *
 * Not part of `d2l` itself: lib/nn/modern.ts builds on it.
 */
import * as tf from "@tensorflow/tfjs";
import type { Kwargs } from "@tensorflow/tfjs-layers/dist/types";
import type { Shape } from "@tensorflow/tfjs-layers/dist/keras_format/common";
import type { LayerArgs } from "@tensorflow/tfjs-layers/dist/engine/topology";

export type { Kwargs, Shape, LayerArgs };

/** A tfjs layer (the type of `tf.layers.conv2d(...)` and friends). */
export type Layer = tf.layers.Layer;

/** `[1,2,3]`: a shape as error messages write it. */
export function shapeText(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? "null" : String(d))).join(",")}]`;
}

/** Throws unless `v` is a positive integer; `what` names it in the book's words. */
export function checkPositiveInt(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new Error(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** The one input of a layer's `call` or `build` (tfjs passes one input as itself or as a list of one). */
export function single<T>(inputs: T | T[], who: string): T {
  if (!Array.isArray(inputs)) return inputs;
  if (inputs.length !== 1) throw new Error(`${who} takes one input tensor, got ${inputs.length}`);
  return inputs[0];
}

/** The one input shape of `build`/`computeOutputShape` (a Shape, or a list holding one Shape). */
export function singleShape(shape: Shape | Shape[], who: string): Shape {
  if (shape.length > 0 && Array.isArray(shape[0])) return single(shape as Shape[], who);
  return shape as Shape;
}

/** The output shape of `layers` applied in order to `shape`, from their `computeOutputShape` (nothing runs). */
export function chainShape(layers: readonly Layer[], shape: Shape): Shape {
  let s = shape;
  for (const l of layers) s = singleShape(l.computeOutputShape(s), l.name);
  return s;
}

/**
 * Build `layers` in order for an input of `shape` by applying them to a
 * symbolic tensor, the way a Sequential model builds its layers: each builds
 * inside its own name scope, so its weights get names unique within the
 * enclosing layer (`residual_Residual1/conv1/kernel`), which saving and
 * loading a model need. Returns the output shape.
 */
export function buildChain(layers: readonly Layer[], shape: Shape): Shape {
  let x = new tf.SymbolicTensor("float32", shape, null as unknown as Layer, [], {});
  for (const l of layers) x = single(l.apply(x) as tf.SymbolicTensor | tf.SymbolicTensor[], l.name);
  return x.shape;
}

/** `layers` applied in order to a concrete tensor, with training mode passed down (dropout, batch norm). */
export function applyChain(layers: readonly Layer[], x: tf.Tensor, kwargs: Kwargs): tf.Tensor {
  let y = x;
  for (const l of layers) y = single(l.apply(y, { training: kwargs.training === true }) as tf.Tensor | tf.Tensor[], l.name);
  return y;
}

/**
 * A layer made of other layers (the book's `nn.Module` with submodules). It
 * reports its sublayers' weights as its own (`trainableWeights`,
 * `nonTrainableWeights`: batch norm's moving statistics are non-trainable),
 * so a model that holds it trains, saves and loads them; `sublayers()` lists
 * them for `d2l.initXavier`. Subclasses create their sublayers in the
 * constructor, build them in `build()` with {@link buildChain}, and run them
 * in `call()` with {@link applyChain}.
 */
export abstract class CompositeLayer extends tf.layers.Layer {
  /** The layers this one is made of, in the order they run (for `d2l.initXavier` and for weights). */
  abstract sublayers(): Layer[];

  override get trainableWeights(): tf.LayerVariable[] {
    if (!this.trainable) return [];
    return [...super.trainableWeights, ...this.subs().flatMap((l) => l.trainableWeights)];
  }

  override set trainableWeights(weights: tf.LayerVariable[]) {
    super.trainableWeights = weights;
  }

  override get nonTrainableWeights(): tf.LayerVariable[] {
    const own = super.nonTrainableWeights;
    return [...own, ...this.subs().flatMap((l) => (this.trainable ? l.nonTrainableWeights : l.weights))];
  }

  override set nonTrainableWeights(weights: tf.LayerVariable[]) {
    super.nonTrainableWeights = weights;
  }

  override get trainable(): boolean {
    return super.trainable;
  }

  /** Freezing (or unfreezing) this layer freezes its sublayers too. */
  override set trainable(value: boolean) {
    super.trainable = value;
    for (const l of this.subs()) l.trainable = value;
  }

  /** The sublayers (none before the subclass's constructor has made them). */
  private subs(): Layer[] {
    return this.sublayers().filter((l) => l !== undefined);
  }
}

/** PyTorch's batch normalization defaults (momentum 0.1 of the new value, eps 1e-5), which the book's nets use. */
export const BOOK_BN = { momentum: 0.9, epsilon: 1e-5 } as const;

/** `nn.BatchNorm2d(...)` (channels last): tfjs' batch normalization with PyTorch's momentum and epsilon. */
export function bookBatchNorm(name?: string): Layer {
  return tf.layers.batchNormalization({ axis: -1, ...BOOK_BN, ...(name ? { name } : {}) });
}

/** Options of {@link conv}. */
export interface ConvSpec {
  /** Stride (default 1). */
  strides?: number;
  /** The book's zero padding on each side (default 0). */
  padding?: number;
  /** Activation, e.g. "relu" (default none). */
  activation?: "relu";
  /** Name of the convolution layer. */
  name?: string;
}

/**
 * The book's `nn.Conv2d(_, filters, kernelSize, stride, padding)` as tfjs
 * layers, with the same output size and the same windows: `'same'` where
 * that is exactly PyTorch's padding (stride 1, padding (k-1)/2), `'valid'` for
 * no padding, else a `zeroPadding2d` before a `'valid'` convolution (e.g.
 * AlexNet's 11x11 stride 4 padding 1). A numeric padding in tfjs' conv2d is
 * avoided on purpose: on the wasm backend it writes out of bounds for some
 * shapes (tfjs 4.22).
 */
export function conv(filters: number, kernelSize: number, spec: ConvSpec = {}): Layer[] {
  const strides = spec.strides ?? 1;
  const padding = spec.padding ?? 0;
  const base = { filters, kernelSize, strides, ...(spec.activation ? { activation: spec.activation } : {}), ...(spec.name ? { name: spec.name } : {}) };
  if (padding === 0) return [tf.layers.conv2d({ ...base, padding: "valid" })];
  if (strides === 1 && 2 * padding === kernelSize - 1) return [tf.layers.conv2d({ ...base, padding: "same" })];
  return [tf.layers.zeroPadding2d({ padding, ...(spec.name ? { name: `${spec.name}_pad` } : {}) }), tf.layers.conv2d({ ...base, padding: "valid" })];
}

/**
 * The book's `nn.MaxPool2d(kernelSize, stride, padding)` as tfjs layers: `'valid'`
 * without padding, `'same'` for stride 1 (tfjs' 'same' pooling skips the
 * padded cells, as PyTorch's -inf padding does), else zero padding and a
 * `'valid'` pool. Zero padding equals PyTorch's only for inputs >= 0, which
 * is where the book pads a strided max-pool: right after a ReLU.
 */
export function maxPool(poolSize: number, strides: number, padding = 0): Layer[] {
  if (padding === 0) return [tf.layers.maxPooling2d({ poolSize, strides, padding: "valid" })];
  if (strides === 1 && 2 * padding === poolSize - 1) return [tf.layers.maxPooling2d({ poolSize, strides, padding: "same" })];
  return [tf.layers.zeroPadding2d({ padding }), tf.layers.maxPooling2d({ poolSize, strides, padding: "valid" })];
}
