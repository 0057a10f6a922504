/**
 * One backend's half of the cross-backend consistency test: run in a process
 * of its own (tfjs backends are global to a process), it trains two small
 * models for a fixed number of SGD steps from fixed, non-random weights and
 * data, and prints one JSON line: the backend's info and the three loss sequences
 * (an MLP, a small CNN, and the book's LeNet on a small batch).
 *
 *   node dist/test/backend/train-child.js BACKEND [THREADS]
 *   node dist/test/backend/train-child.js auto          (the automatic choice)
 *
 * Exit 0 with `{ info, mlp, cnn, lenet }`, or 2 with `{ error }`.
 */
import * as tf from "@tensorflow/tfjs";
import { backendInfo, ready, useBackend } from "../../lib/backend";

/** The number of SGD steps each model takes (LeNet: {@link LENET_STEPS}). */
export const STEPS = 20;
/** LeNet's SGD steps: fewer, it is the slowest on the cpu backend. */
export const LENET_STEPS = 8;

/** Deterministic values in [-scale, scale]: no random generator, so every backend starts the same. */
function fixed(n: number, seed: number, scale: number): number[] {
  return Array.from({ length: n }, (_, i) => scale * Math.sin(1.7 * i + seed) * Math.cos(0.37 * i + 2 * seed));
}

/** A trainable variable holding fixed values (the tensor it was made from is disposed). */
function variable(values: number[], shape: number[], name: string): tf.Variable {
  const t = tf.tensor(values, shape);
  const v = tf.variable(t, true, name);
  t.dispose();
  return v;
}

function oneHot(n: number, classes: number, label: (i: number) => number): tf.Tensor2D {
  const v = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) v[i * classes + label(i)] = 1;
  return tf.tensor2d(v, [n, classes]);
}

/**
 * Train `loss` with plain SGD; the loss before each step, read once per step
 * with `data()` (webgpu cannot read synchronously under Node).
 */
async function train(vars: tf.Variable[], loss: () => tf.Scalar, lr: number, steps = STEPS): Promise<number[]> {
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const value = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(loss, vars);
      for (const v of vars) v.assign(v.sub(grads[v.name].mul(lr)));
      return value;
    });
    losses.push((await value.data())[0]);
    value.dispose();
  }
  return losses;
}

/** A 2-layer MLP (8 → 16 → 3, ReLU) with softmax cross-entropy on 32 examples. */
async function mlp(): Promise<number[]> {
  const X = tf.tensor2d(fixed(32 * 8, 1, 1), [32, 8]);
  const Y = oneHot(32, 3, (i) => (i * 7) % 3);
  const W1 = variable(fixed(8 * 16, 2, 0.5), [8, 16], "mlp_W1");
  const b1 = variable(fixed(16, 3, 0.1), [16], "mlp_b1");
  const W2 = variable(fixed(16 * 3, 4, 0.5), [16, 3], "mlp_W2");
  const b2 = variable(fixed(3, 5, 0.1), [3], "mlp_b2");
  const losses = await train([W1, b1, W2, b2], () => tf.losses.softmaxCrossEntropy(Y, X.matMul(W1).add(b1).relu().matMul(W2).add(b2)) as tf.Scalar, 0.5);
  tf.dispose([X, Y, W1, b1, W2, b2]);
  return losses;
}

/** A small CNN: 3x3 conv (2 → 4 channels), ReLU, 2x2 max-pool, dense to 3 classes, on 8 images of 6x6. */
async function cnn(): Promise<number[]> {
  const X = tf.tensor4d(fixed(8 * 6 * 6 * 2, 6, 1), [8, 6, 6, 2]);
  const Y = oneHot(8, 3, (i) => i % 3);
  const K = variable(fixed(3 * 3 * 2 * 4, 7, 0.4), [3, 3, 2, 4], "cnn_K");
  const c = variable(fixed(4, 8, 0.1), [4], "cnn_c");
  const W = variable(fixed(36 * 3, 9, 0.3), [36, 3], "cnn_W");
  const b = variable(fixed(3, 10, 0.1), [3], "cnn_b");
  const losses = await train(
    [K, c, W, b],
    () => {
      const h = tf.maxPool(
        tf
          .conv2d(X, K as tf.Tensor4D, 1, "same")
          .add(c)
          .relu() as tf.Tensor4D,
        2,
        2,
        "valid",
      );
      return tf.losses.softmaxCrossEntropy(Y, h.reshape([8, 36]).matMul(W).add(b)) as tf.Scalar;
    },
    0.2,
  );
  tf.dispose([X, Y, K, c, W, b]);
  return losses;
}

/**
 * The book's LeNet (d2l.ai 6.6, channels-last): conv 5x5 6 pad 2 sigmoid, avg-pool 2 stride 2,
 * conv 5x5 16 sigmoid, avg-pool 2, dense 120 sigmoid, 84 sigmoid, 10, on 8 images of 28x28.
 * Fused conv and matMul with bias and sigmoid, as tfjs-layers calls them.
 */
async function lenet(): Promise<number[]> {
  const X = tf.tensor4d(fixed(8 * 28 * 28, 11, 1), [8, 28, 28, 1]);
  const Y = oneHot(8, 10, (i) => i % 10);
  const vars = [
    variable(fixed(5 * 5 * 1 * 6, 12, 0.4), [5, 5, 1, 6], "lenet_K1"),
    variable(fixed(6, 13, 0.1), [6], "lenet_c1"),
    variable(fixed(5 * 5 * 6 * 16, 14, 0.15), [5, 5, 6, 16], "lenet_K2"),
    variable(fixed(16, 15, 0.1), [16], "lenet_c2"),
    variable(fixed(400 * 120, 16, 0.1), [400, 120], "lenet_W3"),
    variable(fixed(120, 17, 0.1), [120], "lenet_b3"),
    variable(fixed(120 * 84, 18, 0.2), [120, 84], "lenet_W4"),
    variable(fixed(84, 19, 0.1), [84], "lenet_b4"),
    variable(fixed(84 * 10, 20, 0.3), [84, 10], "lenet_W5"),
    variable(fixed(10, 21, 0.1), [10], "lenet_b5"),
  ];
  const [K1, c1, K2, c2, W3, b3, W4, b4, W5, b5] = vars;
  const losses = await train(
    vars,
    () => {
      let h: tf.Tensor4D = tf.fused.conv2d({ x: X, filter: K1 as tf.Tensor4D, strides: 1, pad: "same", bias: c1, activation: "sigmoid" });
      h = tf.avgPool(h, 2, 2, "valid");
      h = tf.fused.conv2d({ x: h, filter: K2 as tf.Tensor4D, strides: 1, pad: "valid", bias: c2, activation: "sigmoid" });
      h = tf.avgPool(h, 2, 2, "valid");
      let z: tf.Tensor = tf.fused.matMul({ a: h.reshape([8, 400]), b: W3 as tf.Tensor2D, bias: b3, activation: "sigmoid" });
      z = tf.fused.matMul({ a: z as tf.Tensor2D, b: W4 as tf.Tensor2D, bias: b4, activation: "sigmoid" });
      return tf.losses.softmaxCrossEntropy(Y, tf.fused.matMul({ a: z as tf.Tensor2D, b: W5 as tf.Tensor2D, bias: b5 })) as tf.Scalar;
    },
    0.3,
    LENET_STEPS,
  );
  tf.dispose([X, Y, ...vars]);
  return losses;
}

/** What a synchronous read of a computed tensor gives: "ok", or the error's message. */
function syncRead(): string {
  return tf.tidy(() => {
    try {
      tf.ones([40, 40])
        .matMul(tf.ones([40, 40]))
        .dataSync(); // above tfjs-webgpu's CPU hand-off size
      return "ok";
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  });
}

async function main(): Promise<void> {
  const [name, threads] = process.argv.slice(2);
  if (!name) {
    // `node --test dist/test/backend/` runs this file too, without arguments: nothing to do.
    if (process.env.NODE_TEST_CONTEXT) return;
    throw new Error("usage: train-child.js BACKEND|auto [THREADS]");
  }
  if (name === "auto") await ready();
  else await useBackend(name, threads ? { threads: Number(threads) } : {});
  const before = tf.memory().numTensors;
  const result = { info: backendInfo(), mlp: await mlp(), cnn: await cnn(), lenet: await lenet(), leaked: tf.memory().numTensors - before, syncRead: syncRead() };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  main().then(
    // dawn.node can keep the event loop alive; the result is out, so leave.
    () => process.exit(0),
    (e: unknown) => {
      process.stdout.write(`${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n`);
      process.exit(2);
    },
  );
}
