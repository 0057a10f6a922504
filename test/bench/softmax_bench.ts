/**
 * One run of the book's concise softmax regression (chapter 3.7) on
 * Fashion-MNIST with `d2l.trainCh3`, on one backend. Prints one JSON line.
 * Run through softmax_compare.js, which runs every backend and PyTorch.
 *
 *   node dist/test/bench/softmax_bench.js --backend wasm [--epochs 10] [--data DIR]
 */
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const backend = arg("backend", "wasm");
  const epochs = Number(arg("epochs", "10"));
  const root = arg("data", path.resolve(__dirname, "../../../../shared/data/fashion-mnist"));
  await d2l.useBackend(backend);
  const [trainIter, testIter] = await d2l.loadDataFashionMnist(256, { root, limit: { train: 60000, test: 10000 }, quiet: true });
  const net = tf.sequential({
    layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: 1 }) })],
  });
  const loss = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(tf.oneHot(y.toInt(), 10), yHat, undefined, tf.Reduction.NONE);
  const started = Date.now();
  const r = await d2l.trainCh3(net, trainIter, testIter, loss, epochs, tf.train.sgd(0.1), { animator: false, progress: false, verbose: false });
  const info = d2l.backendInfo();
  console.log(
    JSON.stringify({
      framework: `tfjs ${tf.version.tfjs}`,
      backend: `${info.name} (${info.device}, ${info.threads} thread${info.threads === 1 ? "" : "s"})`,
      ...r,
      wallSeconds: (Date.now() - started) / 1000,
      epochs,
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
