/**
 * The native backend's whole-sequence recurrent layers (lib/native/rnn.ts, rnnLayers.ts, src/rnn.cc):
 * `tf.layers.simpleRNN`, `gru`, `lstm` (with and without initial states, goBackwards, without bias), bidirectional
 * layers, a 2-layer `d2l.RNNModel` and d2l's `FusedGRU` (PyTorch's GRU, oneDNN's linear-before-reset GRU) give the cpu
 * backend's numbers (tfjs' step-by-step path) within 1e-4: the outputs and final states, and the gradients of the input,
 * the initial states and every weight, on random shapes (batch 1 and one step among them). Prefix masks (variable
 * lengths) run native too and match the step-by-step path; other masks, hardSigmoid gates and dropout while training
 * fall back to it and still match.
 *
 * With D2L_REQUIRE_NATIVE=1 (CI) a native backend that does not load fails the test.
 */
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../lib/backend";
import { loadAddon } from "../../lib/native/addon";
import type { NativeRnnAddon } from "../../lib/native/rnn";
import { nativeRnn } from "../../lib/native/rnn";
import { RNNModel } from "../../lib/nn/rnn";
import { FusedGRU } from "../../lib/nn/gru";
import { relativeError, rng } from "./native-helpers";

const REQUIRE_NATIVE = process.env.D2L_REQUIRE_NATIVE === "1";
const TOLERANCE = 1e-4;

function uniform(n: number, r: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * (2 * r() - 1));
}

/** One model: its layers (built by `setup`), its inputs, and what it computes from them. */
interface RnnCase {
  name: string;
  /** Builds the layers (on cpu) and returns the forward pass and the weights. */
  setup: () => { forward: (xs: tf.Tensor[]) => tf.Tensor[]; weights: tf.LayerVariable[]; reference?: (xs: tf.Tensor[]) => tf.Tensor[] };
  /** Input tensors; `diff: false` for those without a gradient (token ids, masks). */
  inputs: { shape: number[]; values: Float32Array | Int32Array; dtype?: "float32" | "int32" | "bool"; diff?: boolean }[];
  /** Whether the native path must run (false: the case must fall back to tfjs' path). */
  native: boolean;
}

interface Result {
  outputs: Float32Array[];
  shapes: number[][];
  grads: Float32Array[];
  nativeCalls: number;
}

let rnnCalls = 0;

function evaluate(c: RnnCase, setup: ReturnType<RnnCase["setup"]>, seed: number, reference = false): Result {
  const before = rnnCalls;
  const model = { weights: setup.weights, forward: (reference && setup.reference) || setup.forward };
  return tf.tidy(() => {
    const xs = c.inputs.map((i) => tf.tensor(i.values, i.shape, i.dtype ?? "float32"));
    // Inference (no workspace), then a training forward and backward.
    const outs = model.forward(xs);
    const r = rng(seed);
    const coef = outs.map((o) => tf.tensor(uniform(o.size, r), o.shape));
    const vars = xs.map((x, k) => (c.inputs[k].diff === false ? null : tf.variable(x, true)));
    const inputsFor = (): tf.Tensor[] => xs.map((x, k) => vars[k] ?? x);
    const { grads } = tf.variableGrads(
      () => tf.addN(model.forward(inputsFor()).map((o, k) => tf.sum(tf.mul(o, coef[k])))) as tf.Scalar,
      [...(vars.filter((v) => v !== null) as tf.Variable[]), ...model.weights.map((w) => w.read() as tf.Variable)],
    );
    const result = {
      outputs: outs.map((o) => o.dataSync() as Float32Array),
      shapes: outs.map((o) => o.shape),
      grads: Object.values(grads).map((g) => g.dataSync() as Float32Array),
      nativeCalls: rnnCalls - before,
    };
    for (const v of vars) v?.dispose();
    return result;
  });
}

type LayerKind = "simpleRNN" | "gru" | "lstm";

function recurrent(kind: LayerKind, units: number, extra: Record<string, unknown> = {}): tf.layers.Layer {
  const args = { units, returnSequences: true, returnState: true, recurrentActivation: "sigmoid", ...extra };
  if (kind === "simpleRNN") delete (args as Record<string, unknown>).recurrentActivation;
  return (tf.layers[kind] as (a: unknown) => tf.layers.Layer)(args);
}

/** Give every weight of `layers` values from `seed` (the same on every backend). */
function fill(layers: tf.layers.Layer[], seed: number): void {
  const r = rng(seed);
  for (const l of layers) l.setWeights(l.getWeights().map((w) => tf.tensor(uniform(w.size, r, 0.6), w.shape)));
}

function layerCase(kind: LayerKind, N: number, T: number, I: number, H: number, opts: { init?: boolean; goBackwards?: boolean; useBias?: boolean; seed: number }): RnnCase {
  const r = rng(opts.seed);
  const nStates = kind === "lstm" ? 2 : 1;
  const states = opts.init ? Array.from({ length: nStates }, () => ({ shape: [N, H], values: uniform(N * H, r) })) : [];
  return {
    name: `${kind} N=${N} T=${T} I=${I} H=${H}${opts.init ? " with initial state" : ""}${opts.goBackwards ? " goBackwards" : ""}${opts.useBias === false ? " no bias" : ""}`,
    native: true,
    inputs: [{ shape: [N, T, I], values: uniform(N * T * I, r) }, ...states],
    setup: () => {
      const layer = recurrent(kind, H, { goBackwards: opts.goBackwards ?? false, useBias: opts.useBias ?? true });
      layer.apply(tf.zeros([N, T, I]));
      fill([layer], opts.seed + 1);
      // tfjs 4.22's step-by-step path has no gradient over one step (unstack's gradient fails): the reference
      // is then the cell itself.
      const cell = (layer as unknown as { cell: tf.layers.Layer }).cell;
      const oneStep = ([x, ...s]: tf.Tensor[]): tf.Tensor[] => {
        const states = s.length ? s : Array.from({ length: nStates }, () => tf.zeros([N, H]));
        const [h, ...newStates] = cell.call([tf.reshape(x, [N, I]), ...states], {}) as tf.Tensor[];
        return [tf.reshape(h, [N, 1, H]), ...newStates];
      };
      return {
        forward: ([x, ...s]) => layer.apply(x, s.length ? { initialState: s } : {}) as tf.Tensor[],
        weights: layer.trainableWeights,
        reference: T === 1 ? oneStep : undefined,
      };
    },
  };
}

function cases(): RnnCase[] {
  const out: RnnCase[] = [];
  const r = rng(11);
  const pick = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  let seed = 100;
  for (const kind of ["simpleRNN", "gru", "lstm"] as const) {
    out.push(layerCase(kind, 1, 1, 3, 4, { seed: seed++ }));
    out.push(layerCase(kind, 1, pick(2, 9), pick(1, 8), pick(1, 12), { init: true, seed: seed++ }));
    out.push(layerCase(kind, pick(2, 8), 1, pick(1, 8), pick(1, 12), { init: true, seed: seed++ }));
    out.push(layerCase(kind, pick(2, 8), pick(2, 9), pick(1, 8), pick(1, 12), { seed: seed++ }));
    out.push(layerCase(kind, pick(2, 8), pick(2, 9), pick(1, 8), pick(1, 12), { init: true, goBackwards: true, seed: seed++ }));
    out.push(layerCase(kind, pick(2, 8), pick(2, 9), pick(1, 8), pick(1, 12), { useBias: false, seed: seed++ }));
  }
  return out;
}

function bidirectionalCase(kind: LayerKind, seed: number, lengths?: number[]): RnnCase {
  const [N, T, I, H] = [3, 5, 4, 6];
  const r = rng(seed);
  const mask = lengths
    ? [{ shape: [N, T], values: Int32Array.from(lengths.flatMap((l) => Array.from({ length: T }, (_, t) => (t < l ? 1 : 0)))), dtype: "bool" as const, diff: false }]
    : [];
  return {
    name: `bidirectional ${kind}${lengths ? `, mask lengths [${lengths}]` : ""}`,
    native: true,
    inputs: [{ shape: [N, T, I], values: uniform(N * T * I, r) }, ...mask],
    setup: () => {
      // (a masked LSTM that returns its state runs tfjs' path: the masked one returns outputs only)
      const layer = tf.layers.bidirectional({ layer: recurrent(kind, H, lengths ? { returnState: false } : {}) as tf.RNN, mergeMode: "concat" });
      layer.apply(tf.zeros([N, T, I]));
      fill([layer], seed + 1);
      return {
        forward: ([x, m]) => {
          const out = layer.apply(x, m ? { mask: m } : {}) as tf.Tensor | tf.Tensor[];
          return Array.isArray(out) ? out : [out];
        },
        weights: layer.trainableWeights,
      };
    },
  };
}

function rnnModelCase(kind: "gru" | "lstm", seed: number): RnnCase {
  const [N, T, V, H] = [4, 6, 7, 5];
  const r = rng(seed);
  const stateCount = kind === "lstm" ? 4 : 2;
  return {
    name: `2-layer d2l.RNNModel of ${kind}`,
    native: true,
    inputs: [
      { shape: [N, T], values: Int32Array.from({ length: N * T }, () => Math.floor(r() * V)), dtype: "int32", diff: false },
      ...Array.from({ length: stateCount }, () => ({ shape: [N, H], values: uniform(N * H, r) })),
    ],
    setup: () => {
      const net = new RNNModel([recurrent(kind, H), recurrent(kind, H)], V);
      fill(net.layers, seed + 1);
      return {
        forward: ([X, ...state]) => {
          const [Y, s] = net.call(X, state, true);
          return [Y, ...s];
        },
        weights: net.trainableWeights,
      };
    },
  };
}

function fusedGruCase(N: number, T: number, I: number, H: number, seed: number): RnnCase {
  const r = rng(seed);
  return {
    name: `FusedGRU (PyTorch's GRU) N=${N} T=${T} I=${I} H=${H}`,
    native: true,
    inputs: [
      { shape: [N, T, I], values: uniform(N * T * I, r) },
      { shape: [N, H], values: uniform(N * H, r) },
    ],
    setup: () => {
      const layer = new FusedGRU({ units: H, inputSize: I });
      fill([layer], seed + 1);
      return { forward: ([x, h]) => layer.apply([x, h]) as tf.Tensor[], weights: layer.trainableWeights };
    },
  };
}

/** A layer whose mask keeps `lengths[n]` steps of row n (right padding), or the given mask values. */
function maskedCase(
  kind: LayerKind,
  lengths: number[],
  T: number,
  opts: { returnState: boolean; lastOnly?: boolean; goBackwards?: boolean; mask?: number[]; native: boolean; seed: number },
): RnnCase {
  const [N, I, H] = [lengths.length, 3, 5];
  const r = rng(opts.seed);
  const mask = opts.mask ?? lengths.flatMap((l) => Array.from({ length: T }, (_, t) => (t < l ? 1 : 0)));
  return {
    name: `${kind}, mask ${opts.mask ? "with gaps" : `lengths [${lengths}]`}${opts.returnState ? ", with state" : ""}${opts.lastOnly ? ", last output only" : ""}${opts.goBackwards ? ", goBackwards" : ""}`,
    native: opts.native,
    inputs: [
      { shape: [N, T, I], values: uniform(N * T * I, r) },
      { shape: [N, T], values: Int32Array.from(mask), dtype: "bool", diff: false },
    ],
    setup: () => {
      const layer = recurrent(kind, H, { returnState: opts.returnState, returnSequences: !opts.lastOnly, goBackwards: opts.goBackwards ?? false });
      layer.apply(tf.zeros([N, T, I]));
      fill([layer], opts.seed + 1);
      return {
        forward: ([x, m]) => {
          const out = layer.apply(x, { mask: m }) as tf.Tensor | tf.Tensor[];
          return Array.isArray(out) ? out : [out];
        },
        weights: layer.trainableWeights,
      };
    },
  };
}

function fallbackCases(): RnnCase[] {
  const r = rng(77);
  const x = { shape: [3, 4, 2], values: uniform(24, r) };
  const make = (name: string, build: () => tf.layers.Layer, training = false): RnnCase => ({
    name,
    native: false,
    inputs: [x],
    setup: () => {
      const layer = build();
      layer.apply(tf.zeros([3, 4, 2]));
      fill([layer], 78);
      return { forward: ([t]) => layer.apply(t, { training }) as tf.Tensor[], weights: layer.trainableWeights };
    },
  });
  return [
    make("gru with hardSigmoid gates (tfjs' default)", () => tf.layers.gru({ units: 3, returnSequences: true, returnState: true })),
    make("lstm with hardSigmoid gates (tfjs' default)", () => tf.layers.lstm({ units: 3, returnSequences: true, returnState: true })),
    make("simpleRNN with relu", () => tf.layers.simpleRNN({ units: 3, returnSequences: true, returnState: true, activation: "relu" })),
  ];
}

describe("native recurrent layers (oneDNN RNN primitives)", { timeout: 300_000 }, () => {
  let loadError = "";
  const all: RnnCase[] = [
    ...cases(),
    bidirectionalCase("lstm", 300),
    bidirectionalCase("gru", 301),
    bidirectionalCase("simpleRNN", 302),
    bidirectionalCase("gru", 303, [5, 2, 0]),
    bidirectionalCase("lstm", 304, [1, 5, 3]),
    rnnModelCase("gru", 310),
    rnnModelCase("lstm", 311),
    fusedGruCase(1, 1, 3, 4, 320),
    fusedGruCase(5, 7, 6, 9, 321),
    maskedCase("gru", [4, 1, 6, 3], 6, { returnState: true, native: true, seed: 330 }),
    maskedCase("lstm", [2, 6, 5], 6, { returnState: false, native: true, seed: 331 }),
    maskedCase("simpleRNN", [3, 1], 4, { returnState: true, native: true, seed: 332 }),
    maskedCase("gru", [0, 3, 6], 6, { returnState: true, native: true, seed: 333 }),
    maskedCase("gru", [5, 2, 7, 1], 7, { returnState: false, lastOnly: true, native: true, seed: 336 }),
    maskedCase("lstm", [5, 2, 7, 1], 7, { returnState: false, lastOnly: true, native: true, seed: 337 }),
    maskedCase("gru", [4, 0, 6, 2], 6, { returnState: true, goBackwards: true, native: true, seed: 338 }),
    maskedCase("lstm", [3, 5, 1], 5, { returnState: false, goBackwards: true, native: true, seed: 339 }),
    maskedCase("simpleRNN", [2, 4], 4, { returnState: true, lastOnly: true, goBackwards: true, native: true, seed: 340 }),
    maskedCase("lstm", [2, 6, 5], 6, { returnState: true, native: false, seed: 334 }),
    maskedCase("gru", [0, 0], 4, { returnState: true, native: false, mask: [1, 0, 1, 1, 1, 1, 0, 0], seed: 335 }),
    ...fallbackCases(),
  ];
  const models = new Map<string, ReturnType<RnnCase["setup"]>>();
  const expected = new Map<string, Result>();

  before(async () => {
    await useBackend("cpu");
    for (const [k, c] of all.entries()) {
      const model = c.setup();
      models.set(c.name, model);
      try {
        expected.set(c.name, evaluate(c, model, 1000 + k, true));
      } catch (e) {
        throw new Error(`${c.name} on cpu: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
    try {
      await useBackend("native");
      const addon = loadAddon() as NativeRnnAddon;
      const rnn = addon.rnn.bind(addon);
      addon.rnn = (...args) => {
        rnnCalls++;
        rnn(...args);
      };
    } catch (e) {
      loadError = e instanceof Error ? e.message : String(e);
    }
  });

  it("loads here (or D2L_REQUIRE_NATIVE is off)", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE, loadError);
    assert.equal(tf.getBackend(), "native");
    assert.ok(tf.getKernel("D2lRnn", "native") && tf.getKernel("D2lRnnGrad", "native"));
  });

  for (const [k, c] of all.entries()) {
    it(`${c.name}: ${c.native ? "native" : "falls back, and"} matches cpu within ${TOLERANCE}`, () => {
      if (loadError) return assert.ok(!REQUIRE_NATIVE);
      const want = expected.get(c.name)!;
      const got = evaluate(c, models.get(c.name)!, 1000 + k);
      if (c.native) assert.ok(got.nativeCalls > 0, "the native path ran");
      else assert.equal(got.nativeCalls, 0, "tfjs' path ran");
      assert.deepEqual(got.shapes, want.shapes);
      assert.equal(got.grads.length, want.grads.length);
      for (let i = 0; i < want.outputs.length; i++) {
        const e = relativeError(got.outputs[i], want.outputs[i]);
        assert.ok(e < TOLERANCE, `output ${i}: relative error ${e}`);
      }
      for (let i = 0; i < want.grads.length; i++) {
        assert.equal(got.grads[i].length, want.grads[i].length);
        const e = relativeError(got.grads[i], want.grads[i]);
        assert.ok(e < TOLERANCE, `gradient ${i}: relative error ${e}`);
      }
    });
  }

  it("dropout while training falls back; at inference the native path runs", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const layer = tf.layers.gru({ units: 4, recurrentActivation: "sigmoid", dropout: 0.3 });
    const x = tf.ones([2, 3, 2]);
    let before = rnnCalls;
    tf.tidy(() => {
      layer.apply(x, { training: true });
    });
    assert.equal(rnnCalls, before);
    before = rnnCalls;
    tf.tidy(() => {
      layer.apply(x, { training: false });
    });
    assert.equal(rnnCalls, before + 1);
    x.dispose();
  });

  it("leaks no tensor, forward or backward", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    const c = all.find((x) => x.name.startsWith("lstm") && x.name.includes("goBackwards"))!;
    const model = models.get(c.name)!;
    evaluate(c, model, 1);
    const n = tf.memory().numTensors;
    evaluate(c, model, 1);
    assert.equal(tf.memory().numTensors, n);
  });

  it("nativeRnn says what was expected of a bad input", () => {
    if (loadError) return assert.ok(!REQUIRE_NATIVE);
    tf.tidy(() => {
      const x = tf.zeros([2, 3, 4]);
      assert.throws(() => nativeRnn("gru", x, tf.zeros([2, 5]), null, tf.zeros([4, 14]), tf.zeros([5, 15]), tf.zeros([15])), /kernel must be \[4,15\]/);
      assert.throws(() => nativeRnn("lstm", x, tf.zeros([2, 5]), null, tf.zeros([4, 20]), tf.zeros([5, 20]), tf.zeros([20])), /LSTM needs c0/);
      assert.throws(() => nativeRnn("gru", tf.zeros([2, 3]), tf.zeros([2, 5]), null, tf.zeros([4, 15]), tf.zeros([5, 15]), tf.zeros([15])), /expected x \[batch, steps, in\]/);
    });
  });
});
