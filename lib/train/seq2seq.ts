/**
 * Training and prediction for sequence to sequence learning (the book's
 * sections 9.7-9.8): `train_seq2seq` (a thin wrapper over the {@link Engine}),
 * greedy `predict_seq2seq`, and beam search.
 */
import * as tf from "@tensorflow/tfjs";
import { showSummary } from "../report";
import { EncoderDecoder, MaskedSoftmaxCELoss } from "../nn/encoderDecoder";
import { truncatePad } from "../text/nmt";
import { Vocab } from "../text/vocab";
import { Engine, type BatchIter, type Callback, type TrainState } from "./engine";
import { quickEpochs, QUICK_EPOCHS } from "../quick";
import { ProgressCallback, backendDescription } from "./callbacks";
import { checkIter } from "./evaluate";
import { GradClippingCallback } from "./ch8";
import { type AnimatorLike, type ProgressBarLike, makeAnimator } from "./ui";

/** Options of {@link trainSeq2seq} beyond the book's arguments. */
export interface TrainSeq2seqOptions {
  /** The animator to draw on, or `false` for none (default: a new `d2l.Animator`, as the book's). */
  animator?: AnimatorLike | false;
  /** A progress bar maker, or `false` for none (default: a `d2l.ProgressBar`). */
  progress?: ((total: number, unit: "examples" | "batches") => ProgressBarLike) | false;
  /** Print the book's summary line at the end (default true). */
  verbose?: boolean;
  /** Clip the gradients' global norm to this (default 1, the book's `grad_clipping(net, 1)`). */
  clipNorm?: number;
  /** Re-initialise the dense and GRU weights with Xavier's uniform distribution first (default true, as the book). */
  xavierInit?: boolean;
  /** More callbacks. */
  callbacks?: Callback[];
}

/** What {@link trainSeq2seq} returns. */
export interface TrainSeq2seqResult {
  /** Loss of the last epoch: the sequences' losses summed, over the tokens (the book's `metric[0] / metric[1]`). */
  loss: number;
  /** Target tokens per second of training-step time. */
  tokensPerSec: number;
  /** The loss of every epoch. */
  losses: number[];
}

/** The book's `xavier_init_weights`: Xavier-uniform kernels for every dense and GRU layer. */
function xavierInitWeights<E, S>(net: EncoderDecoder<E, S>): void {
  for (const layer of net.layers) {
    const kind = layer.getClassName();
    if (kind !== "Dense" && kind !== "GRU" && kind !== "D2lFusedGRU") continue;
    for (const w of layer.weights) {
      if (!/kernel$/.test(w.originalName ?? w.name)) continue; // kernel and recurrent_kernel, not bias
      const init = tf.tidy(() => tf.initializers.glorotUniform({}).apply(w.shape as number[], "float32"));
      w.write(init);
      init.dispose();
    }
  }
}

/** The book's plot of `train_seq2seq`: the loss every 10 epochs (every epoch when there are fewer than 20). */
class LossEveryTen implements Callback {
  private every = 10;

  constructor(private animator: AnimatorLike | undefined) {}

  /** @internal */
  onTrainBegin(state: TrainState): void {
    this.every = state.numEpochs >= 20 ? 10 : 1;
    this.animator ??= makeAnimator({
      xlabel: "epoch",
      ylabel: "loss",
      xlim: state.numEpochs > this.every ? [this.every, state.numEpochs] : [0, Math.max(1, state.numEpochs)],
    });
  }

  /** @internal */
  onEpochEnd(state: TrainState): void {
    if ((state.epoch + 1) % this.every === 0) this.animator?.add(state.epoch + 1, [state.trainLoss]);
  }

  /** @internal */
  onTrainEnd(): void | Promise<void> {
    return this.animator?.finish?.();
  }
}

/** The book's final line: `loss 0.019, 12345.6 tokens/sec on wasm`. */
class Seq2seqSummary implements Callback {
  /** @internal */
  onTrainEnd(state: TrainState): void {
    if (state.error !== undefined) return;
    const tokens = state.history.reduce((n, h) => n + h.count, 0);
    showSummary([`loss ${state.trainLoss.toFixed(3)}, ${(tokens / state.timer.sum()).toFixed(1)} tokens/sec on ${backendDescription()}`]);
  }
}

function checkNet(net: unknown, who: string): asserts net is EncoderDecoder {
  if (!(net instanceof EncoderDecoder)) {
    throw new TypeError(`${who} expects a d2l.EncoderDecoder as net, e.g. new d2l.EncoderDecoder(new d2l.Seq2SeqEncoder(...), new d2l.Seq2SeqDecoder(...))`);
  }
}

function indexOf(vocab: Vocab, token: string, which: string): number {
  if (!(vocab instanceof Vocab)) throw new TypeError(`expected the ${which} vocabulary to be a d2l.Vocab`);
  const i = vocab.tokenToIdx.get(token);
  if (i === undefined) throw new Error(`the ${which} vocabulary has no ${token}; make it with reservedTokens: ["<pad>", "<bos>", "<eos>"] (loadDataNmt's vocabularies have them)`);
  return i;
}

/**
 * Train a sequence to sequence model (the book's `train_seq2seq(net,
 * data_iter, lr, num_epochs, tgt_vocab, device)`): Xavier initialisation,
 * Adam with learning rate `lr`, teacher forcing (the decoder reads `<bos>`
 * and the target shifted right), the {@link MaskedSoftmaxCELoss} summed over
 * the batch and differentiated, gradients clipped to norm 1, the loss plotted
 * every 10 epochs, and the book's last line
 * `loss 0.019, 12345.6 tokens/sec on wasm`. The loss is the sequences'
 * losses summed over the epoch, divided by its target tokens.
 *
 * `dataIter` yields `[X, XValidLen, Y, YValidLen]` batches
 * ({@link loadDataNmt}'s loader). `device` is accepted for the book's call
 * shape; tensors live on the backend `d2l.tryGpu()` names. Runs on the
 * training engine: stop ends after the current batch (the model keeps its
 * weights), a NaN loss puts back the weights of the last good read. In quick
 * mode (`D2L_QUICK=1`) it trains at most `QUICK_EPOCHS.trainSeq2seq` (12) epochs.
 *
 * @example
 * const [trainIter, srcVocab, tgtVocab] = await d2l.loadDataNmt(64, 10);
 * const encoder = new d2l.Seq2SeqEncoder(srcVocab.length, 32, 32, 2, 0.1);
 * const decoder = new d2l.Seq2SeqDecoder(tgtVocab.length, 32, 32, 2, 0.1);
 * const net = new d2l.EncoderDecoder(encoder, decoder);
 * const { loss, tokensPerSec } = await d2l.trainSeq2seq(net, trainIter, 0.005, 300, tgtVocab, d2l.tryGpu());
 */
export async function trainSeq2seq<E, S>(
  net: EncoderDecoder<E, S>,
  dataIter: BatchIter,
  lr: number,
  numEpochs: number,
  tgtVocab: Vocab,
  device?: string,
  options: TrainSeq2seqOptions = {},
): Promise<TrainSeq2seqResult> {
  checkNet(net, "trainSeq2seq");
  checkIter(dataIter, "training");
  if (typeof lr !== "number" || !(lr > 0)) throw new Error(`trainSeq2seq: lr must be a positive number, got ${String(lr)}`);
  if (!Number.isInteger(numEpochs) || numEpochs < 1) throw new Error(`trainSeq2seq: numEpochs must be a positive integer, got ${String(numEpochs)}`);
  numEpochs = quickEpochs(numEpochs, QUICK_EPOCHS.trainSeq2seq, "trainSeq2seq");
  if (device !== undefined && typeof device !== "string") throw new TypeError(`trainSeq2seq: device must be a string such as d2l.tryGpu() gives, got ${typeof device}`);
  const bos = indexOf(tgtVocab, "<bos>", "target");
  const clipNorm = options.clipNorm ?? 1;
  if (!(clipNorm > 0)) throw new Error(`trainSeq2seq: clipNorm must be positive, got ${String(clipNorm)}`);
  if (options.xavierInit ?? true) xavierInitWeights(net);
  const loss = new MaskedSoftmaxCELoss();
  net.train();
  const batchLoss = (batch: tf.Tensor[]): { loss: tf.Tensor; count: tf.Tensor } => {
    if (batch.length !== 4) {
      throw new Error(`trainSeq2seq: each batch must be [X, XValidLen, Y, YValidLen] (loadDataNmt's loader), got ${batch.length} tensors`);
    }
    const [X, XValidLen, Y, YValidLen] = batch;
    if (Y.rank !== 2) throw new Error(`trainSeq2seq: Y must be target token indices [batch, numSteps], got shape [${Y.shape.join(",")}]`);
    const [b, steps] = Y.shape;
    const decInput = tf.concat([tf.fill([b, 1], bos, "int32"), tf.slice(tf.cast(Y, "int32"), [0, 0], [b, steps - 1])], 1); // teacher forcing
    const [YHat] = net.forward(X, decInput, XValidLen);
    return { loss: loss.forward(YHat, Y, YValidLen), count: tf.sum(YValidLen) };
  };
  const callbacks: Callback[] = [new GradClippingCallback(clipNorm)];
  if (options.animator !== false) callbacks.push(new LossEveryTen(options.animator));
  if (options.progress !== false) callbacks.push(new ProgressCallback(options.progress ? { bar: options.progress } : {}));
  if (options.verbose ?? true) callbacks.push(new Seq2seqSummary());
  callbacks.push(...(options.callbacks ?? []));
  const engine = new Engine({ batchLoss, updater: tf.train.adam(lr), params: net.trainableWeights, gradientOf: "sum" });
  const r = await engine.fit(dataIter, { numEpochs, callbacks, quickEpochs: QUICK_EPOCHS.trainSeq2seq });
  const tokens = r.history.reduce((n, h) => n + h.count, 0);
  return { loss: r.trainLoss, tokensPerSec: tokens / r.seconds, losses: r.history.map((h) => h.trainLoss) };
}

/** The source sentence as the book's `predict_seq2seq` feeds it: lower case, split on spaces, `<eos>`, padded. */
function sourceTensors(srcSentence: string, srcVocab: Vocab, numSteps: number): { encX: tf.Tensor2D; encValidLen: tf.Tensor1D } {
  if (typeof srcSentence !== "string") throw new TypeError(`expected the source sentence as a string of space-separated tokens, got ${typeof srcSentence}`);
  if (!Number.isInteger(numSteps) || numSteps < 1) throw new Error(`numSteps must be a positive integer, got ${String(numSteps)}`);
  const eos = indexOf(srcVocab, "<eos>", "source");
  const pad = indexOf(srcVocab, "<pad>", "source");
  const srcTokens = [...srcVocab.toIndices(srcSentence.toLowerCase().split(" ")), eos];
  const encValidLen = tf.tensor1d([srcTokens.length], "int32");
  const encX = tf.tensor2d([truncatePad(srcTokens, numSteps, pad)], [1, numSteps], "int32");
  return { encX, encValidLen };
}

/**
 * Translate one sentence greedily (the book's `predict_seq2seq(net,
 * src_sentence, src_vocab, tgt_vocab, num_steps, device,
 * save_attention_weights=False)`): encode it, then feed the decoder its own
 * most likely token, from `<bos>`, until it predicts `<eos>` or has made
 * `numSteps` tokens. Puts the net in evaluation mode (no dropout), as the
 * book's does. Returns the translation (tokens joined by spaces) and, when
 * asked, the decoder's attention weights of each step (chapter 10's
 * decoders have them; the caller disposes them).
 *
 * @example
 * const [translation] = await d2l.predictSeq2seq(net, "go .", srcVocab, tgtVocab, 10);
 * translation; // "va !"
 */
export async function predictSeq2seq<E, S>(
  net: EncoderDecoder<E, S>,
  srcSentence: string,
  srcVocab: Vocab,
  tgtVocab: Vocab,
  numSteps: number,
  device?: string,
  saveAttentionWeights = false,
): Promise<[string, tf.Tensor[]]> {
  checkNet(net, "predictSeq2seq");
  if (device !== undefined && typeof device !== "string") throw new TypeError(`predictSeq2seq: device must be a string such as d2l.tryGpu() gives, got ${typeof device}`);
  const bos = indexOf(tgtVocab, "<bos>", "target");
  const eos = indexOf(tgtVocab, "<eos>", "target");
  net.eval();
  const outputSeq: number[] = [];
  const attentionWeightSeq: tf.Tensor[] = [];
  tf.engine().startScope(); // the loop awaits reads, so no tf.tidy: everything made in it goes at endScope
  try {
    const { encX, encValidLen } = sourceTensors(srcSentence, srcVocab, numSteps);
    const encOutputs = net.encoder.forward(encX, encValidLen);
    let decState = net.decoder.initState(encOutputs, encValidLen);
    let decX: tf.Tensor = tf.tensor2d([[bos]], [1, 1], "int32");
    for (let t = 0; t < numSteps; t++) {
      const [Y, state] = net.decoder.forward(decX, decState);
      decState = state;
      decX = tf.argMax(Y, 2); // the most likely token is the next input
      const pred = (await decX.data())[0];
      if (saveAttentionWeights) {
        const w = net.decoder.attentionWeights;
        if (w) attentionWeightSeq.push(tf.keep(w.clone()));
      }
      if (pred === eos) break;
      outputSeq.push(pred);
    }
  } finally {
    tf.engine().endScope();
  }
  return [tgtVocab.toTokens(outputSeq).join(" "), attentionWeightSeq];
}

/** Options of {@link predictSeq2seqBeam}. */
export interface BeamSearchOptions {
  /** The length penalty's exponent α of the score `log P / L^α` (default 0.75, the book's). */
  alpha?: number;
  /** Accepted for the book's call shape, as in {@link predictSeq2seq}. */
  device?: string;
}

/** One finished candidate of a beam search. */
export interface BeamCandidate {
  /** Its tokens joined by spaces (without `<eos>`). */
  translation: string;
  /** Its token indices (without `<eos>`). */
  tokens: number[];
  /** log P(tokens, and `<eos>` when it ended with one | source). */
  logProb: number;
  /** L of the score: its tokens, counting `<eos>` when it ended with one. */
  length: number;
  /** Whether the decoder ended it with `<eos>` (else it reached `numSteps`). */
  ended: boolean;
  /** `logProb / length^alpha`: the candidate with the highest wins. */
  score: number;
}

/** What {@link predictSeq2seqBeam} returns. */
export interface BeamSearchResult {
  /** The best candidate's translation. */
  translation: string;
  /** The best candidate's score. */
  score: number;
  /** Every finished candidate, best first. */
  candidates: BeamCandidate[];
}

interface Beam<S> {
  tokens: number[];
  logProb: number;
  state: S;
  last: number;
}

/** log-softmax of a [1, 1, V] score tensor, read back. */
async function logProbs(Y: tf.Tensor): Promise<Float32Array> {
  const lp = tf.tidy(() => tf.logSoftmax(tf.reshape(Y, [-1])));
  try {
    return (await lp.data()) as Float32Array;
  } finally {
    lp.dispose();
  }
}

/**
 * Translate one sentence with beam search (the book's section 9.8): at every
 * step each of the `beamSize` most likely partial translations is extended by
 * every token, and the `beamSize` most likely extensions are kept. One that
 * ends with `<eos>` is finished; so are those still open after `numSteps`
 * tokens. Of the finished candidates, the one with the highest
 * `log P / L^α` wins (L its length, `<eos>` counted; the book's length
 * normalisation, α = 0.75). With `beamSize` 1 this is greedy search.
 * (The book's figure also counts unfinished prefixes as candidates; here
 * only sequences the decoder finished, or that reached `numSteps`, are
 * translations.) Puts the net in evaluation mode.
 *
 * @example
 * const { translation, candidates } = await d2l.predictSeq2seqBeam(net, "go .", srcVocab, tgtVocab, 10, 3, { alpha: 0.75 });
 * candidates.map((c) => `${c.translation}: ${c.score.toFixed(3)}`);
 */
export async function predictSeq2seqBeam<E, S>(
  net: EncoderDecoder<E, S>,
  srcSentence: string,
  srcVocab: Vocab,
  tgtVocab: Vocab,
  numSteps: number,
  beamSize: number,
  options: BeamSearchOptions = {},
): Promise<BeamSearchResult> {
  checkNet(net, "predictSeq2seqBeam");
  if (!Number.isInteger(beamSize) || beamSize < 1) throw new Error(`predictSeq2seqBeam: beamSize must be a positive integer, got ${String(beamSize)}`);
  const alpha = options.alpha ?? 0.75;
  if (typeof alpha !== "number" || !Number.isFinite(alpha) || alpha < 0) throw new Error(`predictSeq2seqBeam: alpha must be a non-negative number, got ${String(alpha)}`);
  const bos = indexOf(tgtVocab, "<bos>", "target");
  const eos = indexOf(tgtVocab, "<eos>", "target");
  net.eval();
  const finished: Omit<BeamCandidate, "translation" | "score">[] = [];
  tf.engine().startScope();
  try {
    const { encX, encValidLen } = sourceTensors(srcSentence, srcVocab, numSteps);
    const encOutputs = net.encoder.forward(encX, encValidLen);
    let live: Beam<S>[] = [{ tokens: [], logProb: 0, state: net.decoder.initState(encOutputs, encValidLen), last: bos }];
    for (let t = 0; t < numSteps && live.length > 0; t++) {
      const expansions: { beam: Beam<S>; token: number; logProb: number; state: S }[] = [];
      for (const beam of live) {
        const [Y, state] = net.decoder.forward(tf.tensor2d([[beam.last]], [1, 1], "int32"), beam.state);
        const lp = await logProbs(Y);
        for (let y = 0; y < lp.length; y++) expansions.push({ beam, token: y, logProb: beam.logProb + lp[y], state });
      }
      // The beamSize most likely; a stable sort keeps the lower token first among equals, as argMax does.
      expansions.sort((a, b) => b.logProb - a.logProb);
      const next: Beam<S>[] = [];
      for (const e of expansions.slice(0, beamSize)) {
        if (e.token === eos) finished.push({ tokens: e.beam.tokens, logProb: e.logProb, length: e.beam.tokens.length + 1, ended: true });
        else next.push({ tokens: [...e.beam.tokens, e.token], logProb: e.logProb, state: e.state, last: e.token });
      }
      live = next;
    }
    for (const b of live) finished.push({ tokens: b.tokens, logProb: b.logProb, length: b.tokens.length, ended: false });
  } finally {
    tf.engine().endScope();
  }
  const candidates: BeamCandidate[] = finished
    .map((c) => ({ ...c, translation: tgtVocab.toTokens(c.tokens).join(" "), score: c.logProb / Math.pow(Math.max(c.length, 1), alpha) }))
    .sort((a, b) => b.score - a.score);
  return { translation: candidates[0].translation, score: candidates[0].score, candidates };
}
