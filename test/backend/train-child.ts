/**
 * One backend's half of the cross-backend consistency test: run in a process
 * of its own (tfjs backends are global to a process), it trains two small
 * models for a fixed number of SGD steps from fixed, non-random weights and
 * data, and prints one JSON line: the backend's info and both loss sequences.
 *
 *   node dist/test/backend/train-child.js BACKEND [THREADS]
 *   node dist/test/backend/train-child.js auto          (the automatic choice)
 *
 * Exit 0 with `{ info, mlp, cnn }`, or 2 with `{ error }`.
 */
import * as tf from "@tensorflow/tfjs";
import { backendInfo, ready, useBackend } from "../../lib/backend";

/** The number of SGD steps each model takes. */
export const STEPS = 20;

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
async function train(vars: tf.Variable[], loss: () => tf.Scalar, lr: number): Promise<number[]> {
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
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
      const h = tf.maxPool(tf.conv2d(X, K as tf.Tensor4D, 1, "same").add(c).relu() as tf.Tensor4D, 2, 2, "valid");
      return tf.losses.softmaxCrossEntropy(Y, h.reshape([8, 36]).matMul(W).add(b)) as tf.Scalar;
    },
    0.2,
  );
  tf.dispose([X, Y, K, c, W, b]);
  return losses;
}

/** What a synchronous read of a computed tensor gives: "ok", or the error's message. */
function syncRead(): string {
  return tf.tidy(() => {
    try {
      tf.ones([40, 40]).matMul(tf.ones([40, 40])).dataSync(); // above tfjs-webgpu's CPU hand-off size
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
  const result = { info: backendInfo(), mlp: await mlp(), cnn: await cnn(), leaked: tf.memory().numTensors - before, syncRead: syncRead() };
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
