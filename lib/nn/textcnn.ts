/**
 * textCNN (the book's `TextCNN`, section 15.3 of the Chinese edition,
 * "Sentiment Analysis: Using Convolutional Neural Networks"; 16.3 in d2l 1.0):
 * two embeddings of the tokens side by side (the second, `constantEmbedding`,
 * is the one the book freezes after loading pretrained vectors), one 1-D
 * convolution over time per kernel size, pooling over time, ReLU, dropout,
 * and a dense decoder to the classes.
 *
 * A {@link Block}, as the other models of the book's PyTorch code here;
 * `net.asNet()` is the net the training engine takes, for the padded batches
 * of `loadDataImdb` and `loadDataSpamAssassin` (`[batch, numSteps]` token ids).
 */
import * as tf from "@tensorflow/tfjs";
import { dropout } from "./dropout";
import { Block } from "./encoderDecoder";

type Init = ReturnType<typeof tf.initializers.zeros>;

function torchUniform(fanIn: number): Init {
  const k = 1 / Math.sqrt(fanIn);
  return tf.initializers.randomUniform({ minval: -k, maxval: k });
}

function describe(v: unknown): string {
  return v instanceof tf.Tensor ? `a tensor of shape [${v.shape.join(", ")}]` : v === null ? "null" : typeof v;
}

function checkSize(who: string, name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new Error(`${who}: ${name} must be a positive integer, got ${String(v)}`);
}

/** Options of {@link TextCNN} past the book's arguments. */
export interface TextCNNOptions {
  /**
   * Pooling over time: `"max"` (default; the book's text and its MXNet code,
   * max-over-time pooling) or `"avg"` (what the book's PyTorch code does,
   * `nn.AdaptiveAvgPool1d(1)`).
   */
  pool?: "max" | "avg";
  /** Classes (default 2, the book's `nn.Linear(sum(num_channels), 2)`). */
  numClasses?: number;
  /** Dropout before the decoder (default 0.5, the book's). */
  dropout?: number;
}

/**
 * The book's `TextCNN(vocab_size, embed_size, kernel_sizes, num_channels)`
 * (section 15.3): `forward(inputs [batch, numSteps])` (token ids) concatenates
 * the two embeddings (`[batch, numSteps, 2 * embedSize]`), applies a 1-D
 * convolution of width `kernelSizes[i]` and `numChannels[i]` output channels for
 * each `i`, pools each over time (max by default: see {@link TextCNNOptions}),
 * applies ReLU, concatenates the `sum(numChannels)` features, applies dropout
 * while training and the decoder: logits `[batch, numClasses]`. Weights start
 * as PyTorch's defaults (embeddings `N(0, 1)`, `U(-1/sqrt(fanIn), 1/sqrt(fanIn))`
 * for the rest); the book then applies Xavier's to the convolutions and the
 * decoder, loads GloVe into both embeddings, and freezes the second
 * (`net.constantEmbedding.trainable = false` here).
 *
 * @example
 * const net = new d2l.TextCNN(49346, 100, [3, 4, 5], [100, 100, 100]);
 * net.eval();
 * net.forward(tf.zeros([2, 500], "int32")).shape; // [2, 2]
 * net.countParams();                              // 10110102, as PyTorch's
 * const [trainIter, testIter, vocab] = await d2l.loadDataImdb(64);
 * const textcnn = new d2l.TextCNN(vocab.length, 100, [3, 4, 5], [100, 100, 100]);
 * const loss = (yHat: tf.Tensor, y: tf.Tensor) => d2l.losses.crossEntropy(yHat, y, { reduction: "none" });
 * await d2l.fit({ net: textcnn.asNet(), params: textcnn.trainableWeights, loss, updater: tf.train.adam(0.001), trainIter, testIter, numEpochs: 5 });
 */
export class TextCNN extends Block {
  /** The trained embedding (the book's `embedding`), `[vocabSize, embedSize]`. */
  readonly embedding: tf.layers.Layer;
  /** The second embedding, frozen in the book once loaded (the book's `constant_embedding`). */
  readonly constantEmbedding: tf.layers.Layer;
  /** One 1-D convolution per kernel size (the book's `convs`), kernels `[k, 2 * embedSize, channels]`. */
  readonly convs: tf.layers.Layer[];
  /** `sum(numChannels)` → classes (the book's `decoder`). */
  readonly decoder: tf.layers.Layer;
  /** How the convolutions' outputs are pooled over time. */
  readonly pool: "max" | "avg";
  /** Classes. */
  readonly numClasses: number;
  /** Dropout before the decoder. */
  readonly dropout: number;

  constructor(
    readonly vocabSize: number,
    readonly embedSize: number,
    readonly kernelSizes: readonly number[],
    readonly numChannels: readonly number[],
    options: TextCNNOptions = {},
  ) {
    super();
    const { pool = "max", numClasses = 2, dropout = 0.5 } = options;
    checkSize("TextCNN", "vocabSize", vocabSize);
    checkSize("TextCNN", "embedSize", embedSize);
    if (!Array.isArray(kernelSizes) || !Array.isArray(numChannels) || kernelSizes.length === 0 || kernelSizes.length !== numChannels.length) {
      throw new Error(
        `TextCNN: kernelSizes and numChannels must be non-empty lists of the same length (one channel count per kernel size), got ${JSON.stringify(kernelSizes)} and ${JSON.stringify(numChannels)}`,
      );
    }
    kernelSizes.forEach((k, i) => checkSize("TextCNN", `kernelSizes[${i}]`, k));
    numChannels.forEach((c, i) => checkSize("TextCNN", `numChannels[${i}]`, c));
    if (pool !== "max" && pool !== "avg") throw new Error(`TextCNN: pool must be "max" or "avg", got ${JSON.stringify(pool)}`);
    checkSize("TextCNN", "numClasses", numClasses);
    if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw new Error(`TextCNN: dropout must be a number in [0, 1), got ${String(dropout)}`);
    this.pool = pool;
    this.numClasses = numClasses;
    this.dropout = dropout;
    const embed = (): tf.layers.Layer => {
      const e = tf.layers.embedding({ inputDim: vocabSize, outputDim: embedSize, embeddingsInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 1 }) });
      tf.tidy(() => void e.apply(tf.zeros([1, 1], "int32")));
      return e;
    };
    this.embedding = embed();
    this.constantEmbedding = embed();
    this.convs = kernelSizes.map((k, i) => {
      const init = torchUniform(2 * embedSize * k);
      const conv = tf.layers.conv1d({ filters: numChannels[i], kernelSize: k, padding: "valid", kernelInitializer: init, biasInitializer: init });
      tf.tidy(() => void conv.apply(tf.zeros([1, k, 2 * embedSize])));
      return conv;
    });
    const total = numChannels.reduce((a, b) => a + b, 0);
    const init = torchUniform(total);
    this.decoder = tf.layers.dense({ units: numClasses, kernelInitializer: init, biasInitializer: init });
    tf.tidy(() => void this.decoder.apply(tf.zeros([1, total])));
  }

  /** Classify a batch of token-id sequences; see the class. */
  forward(inputs: tf.Tensor): tf.Tensor {
    const widest = Math.max(...this.kernelSizes);
    if (!(inputs instanceof tf.Tensor) || inputs.rank !== 2 || (inputs.shape[1] as number) < widest) {
      throw new Error(`TextCNN.forward: inputs must be token ids [batch, numSteps] with numSteps >= ${widest} (the widest kernel), got ${describe(inputs)}`);
    }
    return tf.tidy(() => {
      const ids = inputs.dtype === "int32" ? inputs : tf.cast(inputs, "int32");
      const E = tf.concat([this.embedding.apply(ids) as tf.Tensor, this.constantEmbedding.apply(ids) as tf.Tensor], 2); // [b, T, 2e]
      const encoding = tf.concat(
        this.convs.map((conv) => {
          const Y = conv.apply(E) as tf.Tensor; // [b, T - k + 1, c]
          return tf.relu(this.pool === "max" ? tf.max(Y, 1) : tf.mean(Y, 1));
        }),
        1,
      );
      const dropped = this.training && this.dropout > 0 ? dropout(encoding, this.dropout) : encoding;
      return this.decoder.apply(dropped) as tf.Tensor;
    });
  }

  /**
   * The net the training engine takes: `(X, training) => logits`, which puts the
   * model in training mode (`train()`) or evaluation mode (`eval()`) as asked first.
   *
   * @example
   * const loss = (yHat: tf.Tensor, y: tf.Tensor) => d2l.losses.crossEntropy(yHat, y, { reduction: "none" });
   * await d2l.fit({ net: textcnn.asNet(), params: textcnn.trainableWeights, loss, updater: tf.train.adam(0.001), trainIter, numEpochs: 1 });
   */
  asNet(): (X: tf.Tensor, training?: boolean) => tf.Tensor {
    return (X: tf.Tensor, training = false) => {
      if (training) this.train();
      else this.eval();
      return this.forward(X);
    };
  }
}
