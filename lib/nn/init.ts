/** Re-initializing a model's kernels with He (Kaiming) values, the companion of `d2l.initXavier`. */
import * as tf from "@tensorflow/tfjs";

const KERNEL_LAYERS = ["Dense", "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose"];

/**
 * Sets the kernel of every dense and convolution layer of `net` to fresh
 * values from `initializer(i)`, `i` counting the kernels set so far (for
 * seeds), and returns how many it set; biases are left as they are. Nested
 * models are walked, and so are custom layers that hold their own dense and
 * convolution layers and list them in `sublayers()` (d2l.Residual and friends).
 * What initXavier (train/ch6.ts) and initKaiming share.
 */
export function reinitKernels(net: tf.LayersModel, initializer: (i: number) => { apply(shape: number[], dtype?: tf.DataType): tf.Tensor }): number {
  let count = 0;
  const walk = (layer: tf.layers.Layer): void => {
    const inner = (layer as unknown as { layers?: tf.layers.Layer[] }).layers;
    if (Array.isArray(inner)) {
      for (const l of inner) walk(l);
      return;
    }
    if (!KERNEL_LAYERS.includes(layer.getClassName())) {
      const subs = (layer as unknown as { sublayers?: () => tf.layers.Layer[] }).sublayers;
      if (typeof subs === "function") for (const l of subs.call(layer)) walk(l);
      return;
    }
    const weights = layer.getWeights();
    if (weights.length === 0) return;
    const [kernel, ...rest] = weights;
    const fresh = initializer(count).apply(kernel.shape, "float32") as tf.Tensor;
    layer.setWeights([fresh, ...rest]);
    fresh.dispose();
    count++;
  };
  for (const l of net.layers) walk(l);
  return count;
}

/**
 * Re-initialize the kernels of every dense and convolution layer of a model
 * with He (Kaiming) normal values, PyTorch's `nn.init.kaiming_normal_` and
 * tfjs' `heNormal`: standard deviation `sqrt(2 / fanIn)`, which keeps the
 * scale of the signal through ReLU layers. Xavier's values (the book's
 * `train_ch6`, `d2l.initXavier`) are smaller, and a deep ReLU network
 * without batch normalization (AlexNet, VGG, NiN, GoogLeNet) then spends its
 * first hundreds of minibatches on a plateau where the loss stays at ln 10;
 * from He values it learns at once. Biases are left as they are. Nested
 * models and the book's custom layers (`d2l.Inception`, `d2l.Residual`,
 * `d2l.DenseBlock`, through their `sublayers()`) are walked. Returns the
 * number of kernels set. `d2l.trainCh6(..., { init: "kaiming" })` calls it
 * before training; after calling it yourself, pass `{ init: "none" }` so that
 * `trainCh6` keeps them.
 *
 * @example
 * const net = d2l.googlenet({ inputSize: 32 });
 * d2l.initKaiming(net);
 * await d2l.trainCh6(net, trainIter, testIter, 1, 0.05, d2l.tryGpu(), { init: "none" });
 */
export function initKaiming(net: tf.LayersModel, seed?: number): number {
  if (!(net instanceof tf.LayersModel)) throw new Error("initKaiming re-initializes a tf.LayersModel (e.g. tf.sequential({ layers: [...] }) or d2l.googlenet())");
  return reinitKernels(net, (i) => tf.initializers.heNormal(seed === undefined ? {} : { seed: seed + i }));
}

/**
 * Re-initialize the kernels of every dense and convolution layer of a model
 * with Xavier (Glorot) uniform values, as the book's `train_ch6` does with
 * `nn.init.xavier_uniform_` on `nn.Linear` and `nn.Conv2d` weights. Biases
 * are left as they are (tfjs starts them at zero). Nested models are walked.
 * Returns the number of kernels set.
 *
 * @example
 * d2l.initXavier(net); // before training, as trainCh6 does
 */
export function initXavier(net: tf.LayersModel, seed?: number): number {
  return reinitKernels(net, (i) => tf.initializers.glorotUniform(seed === undefined ? {} : { seed: seed + i }));
}
