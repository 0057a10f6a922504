/**
 * Batch normalization from scratch (the book's section 7.5): the function
 * `batch_norm` and the layer `BatchNorm` that keeps its parameters and moving
 * statistics.
 */
import * as tf from "@tensorflow/tfjs";
import { batchNormTraining } from "../native/ops";
import { checkPositiveInt, shapeText, single, singleShape, type Kwargs, type LayerArgs, type Shape } from "./composite";

/** True inside a gradient computation (`tf.grad`, `tf.variableGrads`, an optimizer's `minimize`): the book's `torch.is_grad_enabled()`. */
function inGradientTape(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/**
 * Batch normalization from scratch (the book's `batch_norm`). In training,
 * `X` is normalized with the minibatch's mean and variance (over the batch
 * for a fully connected layer's `[batch, features]` input, over batch, height
 * and width for a convolution's `[batch, height, width, channels]` output),
 * and the moving statistics move toward them:
 * `moving = momentum * moving + (1 - momentum) * batch` (the book uses
 * momentum 0.9). In prediction `X` is normalized with the moving statistics,
 * which come back unchanged. Then `Y = gamma * X_hat + beta`.
 *
 * `gamma`, `beta` and the moving statistics have shape `[1, features]` or
 * `[1, 1, 1, channels]` (channels last, tfjs' layout). `training` defaults,
 * as the book's `torch.is_grad_enabled()`, to whether a gradient is being
 * computed. Returns `[Y, movingMean, movingVar]`. On the native backend the
 * training step is one oneDNN kernel (and one for its gradient) that computes
 * the same numbers.
 *
 * @example
 * const X = tf.randomNormal([8, 4, 4, 3]);
 * const [gamma, beta] = [tf.ones([1, 1, 1, 3]), tf.zeros([1, 1, 1, 3])];
 * const [mean, vari] = [tf.zeros([1, 1, 1, 3]), tf.ones([1, 1, 1, 3])];
 * const [Y, newMean, newVar] = d2l.batchNorm(X, gamma, beta, mean, vari, 1e-5, 0.9, true);
 */
export function batchNorm(
  X: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  movingMean: tf.Tensor,
  movingVar: tf.Tensor,
  eps: number,
  momentum: number,
  training?: boolean,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (X.rank !== 2 && X.rank !== 4) {
    throw new Error(
      `batchNorm expects X of rank 2 ([batch, features], after a dense layer) or 4 ([batch, height, width, channels], after a convolution), got shape ${shapeText(X.shape)}`,
    );
  }
  const features = X.shape[X.rank - 1];
  const want = X.rank === 2 ? [1, features] : [1, 1, 1, features];
  for (const [name, t] of [
    ["gamma", gamma],
    ["beta", beta],
    ["movingMean", movingMean],
    ["movingVar", movingVar],
  ] as const) {
    if (t.rank !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(`batchNorm: ${name} must have shape ${shapeText(want)} for X of shape ${shapeText(X.shape)}, got ${shapeText(t.shape)}`);
    }
  }
  const isTraining = training ?? inGradientTape();
  if (!isTraining) {
    // prediction: the moving averages normalize
    const Y = tf.tidy(() => X.sub(movingMean).div(movingVar.add(eps).sqrt()).mul(gamma).add(beta));
    return [Y, movingMean, movingVar];
  }
  if (X.dtype === "float32" && X.size > 0 && tf.getBackend() === "native") {
    // The same computation as below, in one oneDNN kernel forward and one backward (lib/native/ops.ts).
    return tf.tidy(() => {
      const [Y, mean, variance] = batchNormTraining(X, gamma.reshape([features]), beta.reshape([features]), eps);
      const newMean = movingMean.mul(momentum).add(mean.reshape(want).mul(1 - momentum));
      const newVar = movingVar.mul(momentum).add(variance.reshape(want).mul(1 - momentum));
      return [Y, newMean, newVar] as [tf.Tensor, tf.Tensor, tf.Tensor];
    });
  }
  return tf.tidy(() => {
    const axes = X.rank === 2 ? [0] : [0, 1, 2];
    // mean and variance over the batch (and, for a convolution, over positions), one per channel
    const mean = X.mean(axes, true);
    const variance = X.sub(mean).square().mean(axes, true);
    const Xhat = X.sub(mean).div(variance.add(eps).sqrt());
    const Y = Xhat.mul(gamma).add(beta);
    // the loss does not depend on the moving averages, so no gradient flows through them (the book's `.data`)
    const newMean = movingMean.mul(momentum).add(mean.mul(1 - momentum));
    const newVar = movingVar.mul(momentum).add(variance.mul(1 - momentum));
    return [Y, newMean, newVar] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
}

/**
 * A batch normalization layer from scratch (the book's `BatchNorm`):
 * `numFeatures` is the output count of a dense layer or the channel count of
 * a convolution, `numDims` 2 for a dense layer's output and 4 for a
 * convolution's. It holds the scale `gamma` (ones) and shift `beta` (zeros),
 * trained, and the moving mean (zeros) and variance (ones), not trained:
 * reported as `nonTrainableWeights`, updated in training mode only
 * (`model.apply(X, { training: true })`, which `d2l.trainCh6` uses), with the
 * book's `eps = 1e-5` and `momentum = 0.9`. As tfjs' own layers, it predicts
 * (uses the moving statistics) when `training` is not set.
 *
 * @example
 * const net = tf.sequential({ layers: [
 *   tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5 }),
 *   new d2l.BatchNorm(6, 4),
 *   tf.layers.activation({ activation: "sigmoid" }),
 * ] });
 */
export class BatchNorm extends tf.layers.Layer {
  /** The name tfjs' serialization knows this class by. */
  static className = "BatchNorm";
  /** Channels (or features) normalized. */
  readonly numFeatures: number;
  /** 2 for a dense layer's output, 4 for a convolution's. */
  readonly numDims: 2 | 4;
  /** Scale, trained, shape `[1, numFeatures]` or `[1, 1, 1, numFeatures]`. */
  gamma!: tf.LayerVariable;
  /** Shift, trained. */
  beta!: tf.LayerVariable;
  /** Moving mean of the minibatch means, not trained. */
  movingMean!: tf.LayerVariable;
  /** Moving mean of the minibatch variances, not trained. */
  movingVar!: tf.LayerVariable;

  constructor(numFeatures: number, numDims: number, args: LayerArgs = {}) {
    super(args);
    this.numFeatures = checkPositiveInt(numFeatures, "BatchNorm: numFeatures");
    if (numDims !== 2 && numDims !== 4) {
      throw new Error(`BatchNorm: numDims must be 2 (after a dense layer) or 4 (after a convolution), got ${JSON.stringify(numDims)}`);
    }
    this.numDims = numDims;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape, this.name);
    if (shape.length !== this.numDims || shape[shape.length - 1] !== this.numFeatures) {
      const want = this.numDims === 2 ? `[batch, ${this.numFeatures}]` : `[batch, height, width, ${this.numFeatures}]`;
      throw new Error(
        `BatchNorm(${this.numFeatures}, ${this.numDims}) expects input of shape ${want}, got ${shapeText(shape)}; ` +
          `numFeatures is the previous layer's units or filters, numDims 2 after a dense layer and 4 after a convolution`,
      );
    }
    const s = this.numDims === 2 ? [1, this.numFeatures] : [1, 1, 1, this.numFeatures];
    this.gamma = this.addWeight("gamma", s, "float32", tf.initializers.ones());
    this.beta = this.addWeight("beta", s, "float32", tf.initializers.zeros());
    this.movingMean = this.addWeight("moving_mean", s, "float32", tf.initializers.zeros(), undefined, false);
    this.movingVar = this.addWeight("moving_var", s, "float32", tf.initializers.ones(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return singleShape(inputShape, this.name);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const X = single(inputs, this.name);
    const training = kwargs.training === true;
    return tf.tidy(() => {
      const [Y, mean, variance] = batchNorm(X, this.gamma.read(), this.beta.read(), this.movingMean.read(), this.movingVar.read(), 1e-5, 0.9, training);
      if (training) {
        this.movingMean.write(mean);
        this.movingVar.write(variance);
      }
      return Y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numFeatures: this.numFeatures, numDims: this.numDims };
  }

  /** Rebuilds the layer from its `getConfig()` (loading a saved model). */
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const { numFeatures, numDims, ...args } = config;
    return new BatchNorm(numFeatures as number, numDims as number, args as LayerArgs) as unknown as T;
  }
}
tf.serialization.registerClass(BatchNorm);
