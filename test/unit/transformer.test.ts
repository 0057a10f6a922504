// The decoders with attention and the Transformer (lib/nn/transformer.ts, the book's sections 10.4 and 10.7)
// against the book's PyTorch code run by test/fixtures/torch/transformer.py (torch 1.13; every parameter drawn
// there and saved by its state_dict name in torch's layout, loaded here into the tfjs layers): the book's
// printed shapes, parameter counts equal to torch's, values of AddNorm (layer norm over one and two axes),
// the FFN, the encoder block, the decoder block (training mode: causal mask; eval mode; step by step with
// its key-value state) and a whole Transformer encoder-decoder, within 1e-5 (float32). Then Block.dispose
// freeing nested blocks, clear errors, and a few epochs of trainSeq2seq on a toy copy task with the
// Transformer and with Bahdanau attention (the loss falls; predictSeq2seq returns the attention weights).
// On the cpu backend.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { maxDiff, tensorOf, type FixtureTensor } from "./torch-fixtures";
import * as d2l from "../../lib/index";

before(async () => {
  await tf.setBackend("cpu");
});

type T = FixtureTensor;
type Weights = Record<string, T>;
interface Fixture {
  torch: string;
  params: Record<string, number>;
  bahdanauShapes: { output: number[]; stateLen: number; encOutputs: number[]; hiddenLen: number; hidden0: number[]; weightsPerStep: number[]; steps: number };
  bahdanau: {
    config: [number, number, number, number];
    encoderWeights: Weights;
    decoderWeights: Weights;
    srcX: T;
    srcValidLens: T;
    tgtX: T;
    out: T;
    hidden: T;
    attentionWeights: T;
  };
  shapes: Record<"ffn" | "addNorm" | "encoderBlock" | "transformerEncoder" | "decoderBlock", number[]>;
  addNorm: { normalizedShape: number[]; dropout: number; weights: Weights; X: T; Y: T; out: T }[];
  ffn: { config: [number, number, number]; weights: Weights; X: T; out: T };
  encoderBlock: { config: BlockConfig; useBias: boolean; params: number; weights: Weights; X: T; validLens: T; out: T; attentionWeights: T }[];
  decoderBlock: {
    config: DecBlockConfig;
    params: number;
    weights: Weights;
    encOutputs: T;
    encValidLens: T;
    X: T;
    outTrain: T;
    outEval: T;
    stepConfig: DecBlockConfig;
    stepWeights: Weights;
    steps: { out: T; keyValues: number[]; selfWeights: T }[];
  };
  transformer: {
    encoderConfig: ModelConfig;
    decoderConfig: ModelConfig;
    encoderParams: number;
    decoderParams: number;
    encoderWeights: Weights;
    decoderWeights: Weights;
    srcX: T;
    srcValidLens: T;
    tgtX: T;
    encOutputs: T;
    out: T;
    encAttention1: T;
    decSelf0: T;
    decCross1: T;
  };
}
type BlockConfig = [number, number, number, number, number[], number, number, number, number];
type DecBlockConfig = [number, number, number, number, number[], number, number, number, number, number];
type ModelConfig = [number, number, number, number, number, number[], number, number, number, number, number];

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/transformer.json");
const fx = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as Fixture;

const TOL = 1e-5;

const t = tensorOf;

function close(got: tf.Tensor, want: T, what: string, tol = TOL): number {
  const worst = maxDiff(got, want, what);
  assert.ok(worst <= tol, `${what}: max |difference| ${worst} > ${tol}`);
  return worst;
}

/** The largest difference seen against torch, reported at the end. */
let worstSeen = 0;
function check(got: tf.Tensor, want: T, what: string): void {
  worstSeen = Math.max(worstSeen, close(got, want, what));
}

/**
 * Load torch's parameters (by state_dict name) into the block: `blks.block0.attention.W_q.weight` is
 * `block.blks[0].attention.Wq`'s kernel (transposed), `...ln.weight`/`bias` a layer norm's gamma/beta,
 * `embedding.weight` the embeddings.
 */
function load(block: d2l.EncoderDecoder | object, weights: Weights): void {
  const byLayer = new Map<tf.layers.Layer, { weight?: T; bias?: T }>();
  const gruWeights = new Map<tf.layers.Layer, Record<string, T>>();
  for (const [name, w] of Object.entries(weights)) {
    const parts = name.split(".");
    const gru = /^(weight|bias)_(ih|hh)_l(\d+)$/.exec(parts[parts.length - 1]);
    if (gru) {
      // nn.GRU's weight_ih_lK [3H, in] / weight_hh_lK [3H, H] / bias_ih_lK / bias_hh_lK: d2l's FusedGRU K's
      // kernel / recurrent_kernel (transposed) / bias / recurrent_bias, gates r, z, n in both
      parts.pop();
      const rnn = parts.reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], block) as { grus: tf.layers.Layer[] };
      const layer = rnn.grus[Number(gru[3])];
      const which = `${gru[1]}_${gru[2]}`;
      const entry = gruWeights.get(layer) ?? {};
      entry[which] = w;
      gruWeights.set(layer, entry);
      continue;
    }
    const last = parts.pop() as "weight" | "bias";
    let o: unknown = block;
    for (const p of parts) {
      const key = /^block\d+$/.test(p) ? Number(p.slice(5)) : p.replace(/^([Ww])_(\w)$/, "$1$2");
      o = (o as Record<string | number, unknown>)[key];
      assert.ok(o !== undefined, `no ${p} on the way to ${name}`);
    }
    assert.ok(o instanceof tf.layers.Layer, `${name}: not a layer`);
    const entry = byLayer.get(o) ?? {};
    entry[last] = w;
    byLayer.set(o, entry);
  }
  for (const [layer, { weight, bias }] of byLayer) {
    const kind = layer.getClassName();
    assert.ok(weight, `${layer.name}: no weight`);
    const values = kind === "Dense" ? [tf.transpose(t(weight)), ...(bias ? [t(bias)] : [])] : kind === "LayerNormalization" ? [t(weight), t(bias as T)] : [t(weight)];
    assert.deepEqual(
      layer.getWeights().map((v) => v.shape),
      values.map((v) => v.shape),
      `${layer.name} (${kind}): shapes`,
    );
    layer.setWeights(values);
    values.forEach((v) => v.dispose());
  }
  for (const [layer, w] of gruWeights) {
    const values = [tf.transpose(t(w.weight_ih)), tf.transpose(t(w.weight_hh)), t(w.bias_ih), t(w.bias_hh)];
    assert.deepEqual(
      layer.getWeights().map((v) => v.shape),
      values.map((v) => v.shape),
      `${layer.name}: shapes`,
    );
    layer.setWeights(values);
    values.forEach((v) => v.dispose());
  }
  // every weight of the block was set
  const n = Object.values(weights).reduce((s, w) => s + w.data.length, 0);
  assert.equal((block as d2l.EncoderDecoder).countParams(), n, "every parameter loaded");
}

describe("decoders with attention and the Transformer (10.4, 10.7) against PyTorch", () => {
  test("the fixture was made by torch 1.13", () => {
    assert.match(fx.torch, /^1\.13/);
  });

  test("the book's shapes (10.7): FFN, AddNorm, EncoderBlock, TransformerEncoder, DecoderBlock", () => {
    const ffn = new d2l.PositionWiseFFN(4, 4, 8);
    ffn.eval();
    assert.deepEqual(ffn.forward(tf.ones([2, 3, 4])).shape, fx.shapes.ffn); // [2, 3, 8]
    const addNorm = new d2l.AddNorm([3, 4], 0.5);
    addNorm.eval();
    assert.deepEqual(addNorm.forward(tf.ones([2, 3, 4]), tf.ones([2, 3, 4])).shape, fx.shapes.addNorm);
    const validLens = tf.tensor1d([3, 2], "int32");
    const encoderBlk = new d2l.EncoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5);
    encoderBlk.eval();
    const X = tf.ones([2, 100, 24]);
    assert.deepEqual(encoderBlk.forward(X, validLens).shape, fx.shapes.encoderBlock); // [2, 100, 24]
    const encoder = new d2l.TransformerEncoder(200, 24, 24, 24, 24, [100, 24], 24, 48, 8, 2, 0.5);
    encoder.eval();
    assert.deepEqual(encoder.forward(tf.ones([2, 100], "int32"), validLens).shape, fx.shapes.transformerEncoder);
    assert.deepEqual(
      encoder.attentionWeights.map((w) => w?.shape),
      [
        [16, 100, 100],
        [16, 100, 100],
      ],
    );
    const decoderBlk = new d2l.DecoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5, 0);
    decoderBlk.eval();
    const state: d2l.TransformerDecoderState = [encoderBlk.forward(X, validLens), validLens, [null]];
    const [Y, newState] = decoderBlk.forward(X, state);
    assert.deepEqual(Y.shape, fx.shapes.decoderBlock); // [2, 100, 24]
    assert.equal(state[2][0], null, "the state passed in is left as it is");
    assert.deepEqual(newState[2][0]?.shape, [2, 100, 24]);
    for (const b of [ffn, addNorm, encoderBlk, encoder, decoderBlk]) b.dispose();
  });

  test("the book's shapes (10.4): Seq2SeqAttentionDecoder(10, 8, 16, 2) on zeros [4, 7], its state and attention weights", () => {
    const encoder = new d2l.Seq2SeqEncoder(10, 8, 16, 2);
    encoder.eval();
    const decoder = new d2l.Seq2SeqAttentionDecoder(10, 8, 16, 2);
    decoder.eval();
    const X = tf.zeros([4, 7], "int32");
    const state = decoder.initState(encoder.forward(X), null);
    const [output, newState] = decoder.forward(X, state);
    const b = fx.bahdanauShapes;
    assert.deepEqual(output.shape, b.output); // [4, 7, 10]
    assert.equal(newState.length, b.stateLen); // 3
    assert.deepEqual(newState[0].shape, b.encOutputs); // [4, 7, 16]
    assert.equal(newState[1].shape[0], b.hiddenLen); // 2 layers
    assert.deepEqual(newState[1].shape.slice(1), b.hidden0); // [4, 16] each
    assert.equal(newState[2], null);
    // the book's list of 7 per-step weights [4, 1, 7], concatenated over the steps
    assert.deepEqual(decoder.attentionWeights?.shape, [b.weightsPerStep[0], b.steps, b.weightsPerStep[2]]);
    assert.ok(decoder instanceof d2l.AttentionDecoder && decoder instanceof d2l.Decoder);
    // with valid lengths: the weights past each source's length are 0
    const vl = tf.tensor1d([2, 7, 3, 1], "int32");
    decoder.forward(X, decoder.initState(encoder.forward(X), vl));
    const w = decoder.attentionWeights?.arraySync() as number[][][];
    [2, 7, 3, 1].forEach((len, i) => w[i].forEach((row) => row.forEach((v, k) => (k >= len ? assert.equal(v, 0) : assert.ok(v > 0)))));
    encoder.dispose();
    decoder.dispose();
  });

  test("Seq2SeqAttentionDecoder with Seq2SeqEncoder (eval mode): scores, final state and attention weights with torch's weights", () => {
    const c = fx.bahdanau;
    const encoder = new d2l.Seq2SeqEncoder(...c.config);
    const decoder = new d2l.Seq2SeqAttentionDecoder(...c.config);
    load(encoder, c.encoderWeights);
    load(decoder, c.decoderWeights);
    const net = new d2l.EncoderDecoder(encoder, decoder);
    net.eval();
    const [Y, state] = net.forward(t(c.srcX), t(c.tgtX), t(c.srcValidLens));
    check(Y, c.out, "Bahdanau scores");
    check(state[1], c.hidden, "Bahdanau final state");
    check(decoder.attentionWeights as tf.Tensor, c.attentionWeights, "Bahdanau attention weights");
    net.dispose();
  });

  test("parameter counts equal torch's for the book's configurations", () => {
    const make: Record<string, () => d2l.EncoderDecoder | { countParams(): number; dispose(): void }> = {
      "PositionWiseFFN(4, 4, 8)": () => new d2l.PositionWiseFFN(4, 4, 8),
      "AddNorm([3, 4], 0.5)": () => new d2l.AddNorm([3, 4], 0.5),
      "EncoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5)": () => new d2l.EncoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5),
      "EncoderBlock(24, 24, 24, 24, [24], 24, 48, 8, 0.5, True)": () => new d2l.EncoderBlock(24, 24, 24, 24, [24], 24, 48, 8, 0.5, true),
      "TransformerEncoder(200, 24, 24, 24, 24, [100, 24], 24, 48, 8, 2, 0.5)": () => new d2l.TransformerEncoder(200, 24, 24, 24, 24, [100, 24], 24, 48, 8, 2, 0.5),
      "DecoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5, 0)": () => new d2l.DecoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5, 0),
      "TransformerDecoder(200, 24, 24, 24, 24, [100, 24], 24, 48, 8, 2, 0.5)": () => new d2l.TransformerDecoder(200, 24, 24, 24, 24, [100, 24], 24, 48, 8, 2, 0.5),
      "TransformerEncoder(184, 32, 32, 32, 32, [32], 32, 64, 4, 2, 0.1)": () => new d2l.TransformerEncoder(184, 32, 32, 32, 32, [32], 32, 64, 4, 2, 0.1),
      "TransformerDecoder(201, 32, 32, 32, 32, [32], 32, 64, 4, 2, 0.1)": () => new d2l.TransformerDecoder(201, 32, 32, 32, 32, [32], 32, 64, 4, 2, 0.1),
      "Seq2SeqEncoder(10, 8, 16, 2)": () => new d2l.Seq2SeqEncoder(10, 8, 16, 2),
      "Seq2SeqAttentionDecoder(10, 8, 16, 2)": () => new d2l.Seq2SeqAttentionDecoder(10, 8, 16, 2),
    };
    assert.deepEqual(Object.keys(make).sort(), Object.keys(fx.params).sort());
    for (const [name, f] of Object.entries(make)) {
      const m = f();
      assert.equal(m.countParams(), fx.params[name], name);
      m.dispose();
    }
  });

  test("AddNorm (layer norm over [3, 4] and over [5]) and PositionWiseFFN: values with torch's weights", () => {
    for (const c of fx.addNorm) {
      const an = new d2l.AddNorm(c.normalizedShape, c.dropout);
      an.eval();
      load(an, c.weights);
      check(an.forward(t(c.X), t(c.Y)), c.out, `AddNorm(${JSON.stringify(c.normalizedShape)})`);
      an.dispose();
    }
    const ffn = new d2l.PositionWiseFFN(...fx.ffn.config);
    load(ffn, fx.ffn.weights);
    check(ffn.forward(t(fx.ffn.X)), fx.ffn.out, "PositionWiseFFN");
    ffn.dispose();
  });

  test("EncoderBlock: output and attention weights with torch's weights, without and with biases", () => {
    for (const c of fx.encoderBlock) {
      const blk = new d2l.EncoderBlock(...c.config, c.useBias);
      blk.eval();
      assert.equal(blk.countParams(), c.params);
      load(blk, c.weights);
      check(blk.forward(t(c.X), t(c.validLens)), c.out, `EncoderBlock useBias ${c.useBias}`);
      check(blk.attention.attentionWeights as tf.Tensor, c.attentionWeights, "EncoderBlock attention weights");
      blk.dispose();
    }
  });

  test("DecoderBlock: training mode (causal mask), eval mode, and step by step with its key-value state", () => {
    const c = fx.decoderBlock;
    const blk = new d2l.DecoderBlock(...c.config);
    assert.equal(blk.countParams(), c.params);
    load(blk, c.weights);
    const state: d2l.TransformerDecoderState = [t(c.encOutputs), t(c.encValidLens), [null]];
    blk.train(); // dropout 0: the causal mask is the difference
    check(blk.forward(t(c.X), state)[0], c.outTrain, "DecoderBlock (training)");
    blk.eval();
    check(blk.forward(t(c.X), state)[0], c.outEval, "DecoderBlock (eval)");
    blk.dispose();

    const step = new d2l.DecoderBlock(...c.stepConfig);
    step.eval();
    load(step, c.stepWeights);
    const X = t(c.X);
    let s: d2l.TransformerDecoderState = [t(c.encOutputs), t(c.encValidLens), [null, null]];
    c.steps.forEach((want, i) => {
      const [y, next] = step.forward(tf.slice(X, [0, i, 0], [2, 1, 8]), s);
      check(y, want.out, `DecoderBlock step ${i}`);
      assert.deepEqual(next[2][1]?.shape, want.keyValues);
      assert.equal(next[2][0], null);
      check(step.attention1.attentionWeights as tf.Tensor, want.selfWeights, `DecoderBlock step ${i} self-attention weights`);
      s = next;
    });
    step.dispose();
  });

  test("a whole TransformerEncoder and TransformerDecoder (eval mode): outputs and attention weights with torch's weights", () => {
    const c = fx.transformer;
    const encoder = new d2l.TransformerEncoder(...c.encoderConfig);
    const decoder = new d2l.TransformerDecoder(...c.decoderConfig);
    assert.equal(encoder.countParams(), c.encoderParams);
    assert.equal(decoder.countParams(), c.decoderParams);
    load(encoder, c.encoderWeights);
    load(decoder, c.decoderWeights);
    const net = new d2l.EncoderDecoder(encoder, decoder);
    net.eval();
    const [Y, state] = net.forward(t(c.srcX), t(c.tgtX), t(c.srcValidLens));
    check(Y, c.out, "Transformer output");
    check(state[0], c.encOutputs, "TransformerEncoder output");
    check(encoder.attentionWeights[1] as tf.Tensor, c.encAttention1, "encoder block 1 self-attention");
    const [self, cross] = decoder.blockAttentionWeights;
    check(self[0] as tf.Tensor, c.decSelf0, "decoder block 0 self-attention");
    check(cross[1] as tf.Tensor, c.decCross1, "decoder block 1 encoder-decoder attention");
    // the stacked weights: [2, numLayers, batch * heads, queries, keys], self-attention's 4 keys padded to the source's 5
    const all = decoder.attentionWeights as tf.Tensor;
    assert.deepEqual(all.shape, [2, 2, 4, 4, 5]);
    check(tf.slice(all, [1, 1, 0, 0, 0], [1, 1, 4, 4, 5]).reshape([4, 4, 5]), c.decCross1, "stacked cross-attention");
    check(tf.slice(all, [0, 0, 0, 0, 0], [1, 1, 4, 4, 4]).reshape([4, 4, 4]), c.decSelf0, "stacked self-attention");
    assert.equal(tf.slice(all, [0, 0, 0, 0, 4], [1, 2, 4, 4, 1]).abs().sum().dataSync()[0], 0, "padding is 0");
    assert.equal(decoder.attentionWeights, all, "the same tensor until the next forward");
    net.dispose();
    assert.ok(all.isDisposed, "dispose frees the stacked weights");
  });

  test(`max |difference| vs torch within ${TOL}`, () => {
    assert.ok(worstSeen <= TOL);
    console.log(`transformer vs torch 1.13: max |difference| ${worstSeen.toExponential(2)}`);
  });
});

describe("Block.dispose and errors", () => {
  test("Block.dispose frees nested blocks through their own dispose (kept attention weights, the positional table); twice is harmless", () => {
    const before = tf.memory().numTensors;
    const encoder = new d2l.TransformerEncoder(20, 8, 8, 8, 8, [8], 8, 16, 2, 2, 0.1);
    const decoder = new d2l.TransformerDecoder(20, 8, 8, 8, 8, [8], 8, 16, 2, 2, 0.1);
    const net = new d2l.EncoderDecoder(encoder, decoder);
    net.eval();
    tf.tidy(() => {
      net.forward(tf.ones([2, 5], "int32"), tf.ones([2, 3], "int32"), tf.tensor1d([2, 5], "int32"));
    });
    const w = decoder.attentionWeights as tf.Tensor;
    assert.ok(tf.memory().numTensors > before);
    net.dispose();
    assert.equal(tf.memory().numTensors, before, "weights, kept attention weights and positional tables all freed");
    assert.ok(w.isDisposed && encoder.posEncoding.P.isDisposed && encoder.blks[0].attention.attentionWeights === undefined);
    net.dispose(); // a second call does nothing
    const before2 = tf.memory().numTensors;
    const bahdanau = new d2l.EncoderDecoder(new d2l.Seq2SeqEncoder(10, 4, 8, 1), new d2l.Seq2SeqAttentionDecoder(10, 4, 8, 1));
    tf.tidy(() => void bahdanau.forward(tf.zeros([2, 3], "int32"), tf.zeros([2, 3], "int32"), tf.tensor1d([1, 3], "int32")));
    bahdanau.dispose();
    assert.equal(tf.memory().numTensors, before2);
  });

  test("wrong shapes and arguments get errors that say what was expected", () => {
    assert.throws(() => new d2l.PositionWiseFFN(4, 0, 8), /ffnNumHiddens must be a positive integer/);
    assert.throws(() => new d2l.AddNorm([], 0.1), /normalizedShape must be/);
    assert.throws(() => new d2l.AddNorm([4], 1), /dropout must be a number in \[0, 1\)/);
    const an = new d2l.AddNorm([3, 4], 0);
    assert.throws(() => an.forward(tf.ones([2, 4, 3]), tf.ones([2, 4, 3])), /X must be \[batch, 3, 4\], got a tensor of shape \[2, 4, 3\]/);
    const ffn = new d2l.PositionWiseFFN(4, 4, 8);
    assert.throws(() => ffn.forward(tf.ones([2, 3, 5])), /X must have 4 features on its last axis/);
    const blk = new d2l.EncoderBlock(8, 8, 8, 8, [8], 8, 16, 2, 0);
    assert.throws(() => blk.forward(tf.ones([2, 3, 6]), null), /EncoderBlock.forward: X must be a tensor of shape \[batch, steps, 8\]/);
    const enc = new d2l.TransformerEncoder(10, 8, 8, 8, 8, [8], 8, 16, 2, 1, 0);
    assert.throws(() => enc.forward(tf.ones([2, 3, 1], "int32"), null), /token indices of shape \[batch, numSteps\]/);
    assert.throws(() => enc.forward(tf.ones([2, 3], "int32"), tf.tensor1d([1, 2, 3])), /valid lengths must be \[2\]/);
    const dec = new d2l.TransformerDecoder(10, 8, 8, 8, 8, [8], 8, 16, 2, 2, 0);
    assert.throws(() => dec.forward(tf.ones([2, 3], "int32"), [tf.ones([2, 3, 8]), null, [null]]), /one key-value tensor or null per block \(2\)/);
    assert.throws(() => dec.initState(tf.ones([2, 3, 6])), /encoder's outputs must be a tensor of shape \[batch, steps, 8\]/);
    const db = new d2l.DecoderBlock(8, 8, 8, 8, [8], 8, 16, 2, 0, 1);
    assert.throws(() => db.forward(tf.ones([2, 3, 8]), [tf.ones([2, 3, 8]), null, [null]]), /block 1 needs state\[2\] to have at least 2 entries/);
    assert.throws(() => new d2l.DecoderBlock(8, 8, 8, 8, [8], 8, 16, 2, 0, -1), /i \(the block's index in the decoder\) must be a non-negative integer/);
    const bd = new d2l.Seq2SeqAttentionDecoder(10, 4, 8, 1);
    assert.throws(() => bd.initState([tf.ones([2, 3, 8])] as unknown as [tf.Tensor, tf.Tensor]), /expects the encoder's \[outputs, state\]/);
    assert.throws(() => bd.initState([tf.ones([2, 3, 6]), tf.ones([1, 2, 8])]), /encoder's outputs must be a tensor of shape \[batch, steps, 8\]/);
    assert.throws(() => bd.forward(tf.ones([2], "int32"), [tf.ones([2, 3, 8]), tf.ones([1, 2, 8]), null]), /token indices of shape \[batch, numSteps\]/);
    for (const b of [an, ffn, blk, enc, dec, db, bd]) b.dispose();
  });
});

/** A toy copy task: the target is the source. Fresh tensors every epoch (the engine disposes each batch). */
function copyTask(): { iter: AsyncIterable<tf.Tensor[]> & { numBatches: number }; vocab: d2l.Vocab; sentences: string[] } {
  const words = ["a", "b", "c", "d", "e"];
  const vocab = new d2l.Vocab([words], { reservedTokens: ["<pad>", "<bos>", "<eos>"] });
  let s = 11;
  const next = (n: number): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return Math.floor((s / 2147483648) * n);
  };
  const numSteps = 6;
  const pad = vocab.tokenToIdx.get("<pad>") as number;
  const eos = vocab.tokenToIdx.get("<eos>") as number;
  const sentences = Array.from({ length: 32 }, () => Array.from({ length: 2 + next(3) }, () => words[next(words.length)]).join(" "));
  const rows = sentences.map((sentence) => {
    const ids = [...vocab.toIndices(sentence.split(" ")), eos];
    return { ids: [...ids, ...Array<number>(numSteps - ids.length).fill(pad)], len: ids.length };
  });
  const batchSize = 16;
  const iter = {
    numBatches: rows.length / batchSize,
    async *[Symbol.asyncIterator](): AsyncGenerator<tf.Tensor[]> {
      for (let i = 0; i < rows.length; i += batchSize) {
        const batch = rows.slice(i, i + batchSize);
        const X = tf.tensor2d(
          batch.map((r) => r.ids),
          [batch.length, numSteps],
          "int32",
        );
        const L = tf.tensor1d(
          batch.map((r) => r.len),
          "int32",
        );
        yield [X, L, X.clone(), L.clone()];
      }
    },
  };
  return { iter, vocab, sentences };
}

// Seeded, so the run repeats. Measured over seeds 1-6 and 17: the Transformer's loss after 12 epochs is 0.49-0.60 of
// its first epoch's (the book's PyTorch Transformer learns this task as slowly: 0.25 -> 0.14 in 40 epochs, ours 0.17),
// Bahdanau's 0.27-0.37.
const SEED = 17;

describe("training with trainSeq2seq on a toy copy task (seeded: d2l.seed)", () => {
  const quiet = { progress: false, animator: false, verbose: false } as const;

  test("the Transformer: the loss falls; predictSeq2seq gives the stacked attention weights per step", async () => {
    const { iter, vocab, sentences } = copyTask();
    const V = vocab.length;
    d2l.seed(SEED); // the initial weights, dropout and xavier initialisation repeat; unseeded again after training
    const net = new d2l.EncoderDecoder(
      new d2l.TransformerEncoder(V, 16, 16, 16, 16, [16], 16, 32, 2, 2, 0.1),
      new d2l.TransformerDecoder(V, 16, 16, 16, 16, [16], 16, 32, 2, 2, 0.1),
    );
    const counts: number[] = [];
    let r: d2l.TrainSeq2seqResult;
    try {
      r = await d2l.trainSeq2seq(net, iter, 0.01, 12, vocab, undefined, { ...quiet, callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }] });
    } finally {
      d2l.seed(null);
    }
    assert.equal(r.losses.length, 12);
    assert.equal(counts[11], counts[1], "no tensor leaks across epochs");
    assert.ok(r.losses[11] < r.losses[0] * 0.7, `loss ${r.losses[0]} → ${r.losses[11]}`);
    void net.decoder.attentionWeights; // the decoder keeps its stacked weights (one tensor) from now on
    const before = tf.memory().numTensors;
    const [translation, weights] = await d2l.predictSeq2seq(net, sentences[0], vocab, vocab, 6, undefined, true);
    assert.equal(typeof translation, "string");
    assert.ok(weights.length >= 1);
    weights.forEach((w) => assert.deepEqual(w.shape, [2, 2, 2, 1, 6])); // [self/cross, layers, heads, 1 query, keys padded to the source's 6]
    weights.forEach((w) => w.dispose());
    assert.equal(tf.memory().numTensors, before, "prediction frees what it made");
    net.dispose();
  });

  test("Bahdanau attention (Seq2SeqEncoder + Seq2SeqAttentionDecoder): the loss falls; one weight row per step", async () => {
    const { iter, vocab, sentences } = copyTask();
    const V = vocab.length;
    d2l.seed(SEED);
    const net = new d2l.EncoderDecoder(new d2l.Seq2SeqEncoder(V, 8, 16, 1), new d2l.Seq2SeqAttentionDecoder(V, 8, 16, 1));
    const counts: number[] = [];
    let r: d2l.TrainSeq2seqResult;
    try {
      r = await d2l.trainSeq2seq(net, iter, 0.02, 12, vocab, undefined, { ...quiet, callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }] });
    } finally {
      d2l.seed(null);
    }
    assert.ok(r.losses[11] < r.losses[0] * 0.5, `loss ${r.losses[0]} → ${r.losses[11]}`);
    assert.equal(counts[11], counts[1], "no tensor leaks across epochs");
    const before = tf.memory().numTensors;
    const [, weights] = await d2l.predictSeq2seq(net, sentences[1], vocab, vocab, 6, undefined, true);
    assert.ok(weights.length >= 1);
    const len = sentences[1].split(" ").length + 1; // the source's valid length, <eos> counted
    for (const w of weights) {
      assert.deepEqual(w.shape, [1, 1, 6]);
      const row = Array.from(w.dataSync());
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      for (let k = len; k < 6; k++) assert.equal(row[k], 0, "no weight past the source's valid length");
      w.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
    net.dispose();
  });
});
