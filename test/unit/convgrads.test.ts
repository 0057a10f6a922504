/**
 * d2l's convolution gradient kernels (lib/kernels/convGrads.ts) on the wasm
 * backend: the input and filter gradients of conv2d and depthwiseConv2d match
 * direct sums and the cpu backend's results on random shapes (strides,
 * paddings same / valid / explicit, dilations, channel multipliers 1 and 2),
 * they are d2l's and never the copy to the cpu backend, they free what they
 * make; and every CNN of the book trains on wasm with no kernel forwarded to
 * cpu. This file's process runs on wasm (node --test gives each file its own).
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm"; // its kernels register now; d2l's and the forwarded ones come with useBackend
import { useBackend } from "../../lib/backend";
import { D2L_CONV_GRAD_KERNELS, isD2lKernel } from "../../lib/kernels/convGrads";

type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

/** The kernels tfjs-backend-wasm itself has, before d2l adds its own and forwards the rest to cpu. */
const WASM_OWN = new Set(tf.getKernelsForBackend("wasm").map((k) => k.kernelName));

/** Kernels registered on wasm that run on the cpu backend (copied there and back). */
function forwardedKernels(): Set<string> {
  return new Set(
    tf
      .getKernelsForBackend("wasm")
      .map((k) => k.kernelName)
      .filter((n) => !WASM_OWN.has(n) && !isD2lKernel(n, "wasm")),
  );
}

/** Counts the cpu backend's writes: a kernel forwarded from wasm writes its inputs there. */
const cpuWrites = { count: 0 };

before(async () => {
  await useBackend("wasm");
  const cpu = tf.findBackend("cpu") as unknown as { write: (...args: unknown[]) => unknown };
  const write = cpu.write.bind(cpu);
  cpu.write = (...args: unknown[]) => {
    cpuWrites.count++;
    return write(...args);
  };
});

// ---------------------------------------------------------------- helpers

/** A small linear congruential generator: deterministic numbers in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomValues(n: number, rand: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * rand() - 1);
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** max |got - want| / max |want|: the error relative to the result's scale. */
function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, "lengths differ");
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

interface Case {
  depthwise: boolean;
  x: Shape4;
  /** [kh, kw, in, out] for conv2d, [kh, kw, in, multiplier] for depthwise. */
  filter: Shape4;
  strides: [number, number];
  dilations: [number, number];
  pad: Pad;
}

function describeCase(c: Case): string {
  return `${c.depthwise ? "depthwise" : "conv2d"} x ${c.x} filter ${c.filter} strides ${c.strides} dilations ${c.dilations} pad ${JSON.stringify(c.pad)}`;
}

function convInfo(c: Case): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations, c.pad, undefined, c.depthwise);
}

/** Input and filter gradients of sum(conv(x, w) * dy), by direct sums in float64. */
function directGradients(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): { dx: Float64Array; dw: Float64Array } {
  const info = convInfo(c);
  const [B, H, W, C] = c.x;
  const [Kh, Kw, , F] = c.filter; // F: out channels, or the multiplier
  const { outHeight: Ho, outWidth: Wo, outChannels: O } = info;
  const { top, left } = info.padInfo;
  const dx = new Float64Array(size(c.x));
  const dw = new Float64Array(size(c.filter));
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < Ho; y++) {
      for (let xo = 0; xo < Wo; xo++) {
        const dyAt = ((b * Ho + y) * Wo + xo) * O;
        for (let i = 0; i < Kh; i++) {
          const h = y * c.strides[0] + i * c.dilations[0] - top;
          if (h < 0 || h >= H) continue;
          for (let j = 0; j < Kw; j++) {
            const v = xo * c.strides[1] + j * c.dilations[1] - left;
            if (v < 0 || v >= W) continue;
            const xAt = ((b * H + h) * W + v) * C;
            for (let ch = 0; ch < C; ch++) {
              for (let f = 0; f < F; f++) {
                const o = c.depthwise ? ch * F + f : f;
                const wAt = ((i * Kw + j) * C + ch) * F + f;
                dw[wAt] += x[xAt + ch] * dy[dyAt + o];
                dx[xAt + ch] += w[wAt] * dy[dyAt + o];
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw };
}

/** Gradients by tf.grads of tf.conv2d / tf.depthwiseConv2d on the backend in use (dilations 1: tfjs' gradients refuse others). */
function gradGradients(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, c.x);
    const wt = tf.tensor4d(w, c.filter);
    const dyt = tf.tensor(dy, convInfo(c).outShape);
    const f = (a: tf.Tensor, k: tf.Tensor): tf.Tensor =>
      c.depthwise ? tf.depthwiseConv2d(a as tf.Tensor4D, k as tf.Tensor4D, c.strides, c.pad) : tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, c.strides, c.pad);
    const [gx, gw] = tf.grads((a: tf.Tensor, k: tf.Tensor) => f(a, k).mul(dyt).sum())([xt, wt]);
    return { dx: gx.dataSync() as Float32Array, dw: gw.dataSync() as Float32Array };
  });
}

/** Gradients from the kernels themselves (any dilation), through tf.engine().runKernel. */
function kernelGradients(c: Case, x: Float32Array, w: Float32Array, dy: Float32Array): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, c.x);
    const wt = tf.tensor4d(w, c.filter);
    const dyt = tf.tensor(dy, convInfo(c).outShape);
    const e = tf.engine();
    const common = { strides: c.strides, pad: c.pad };
    const [gx, gw] = c.depthwise
      ? [
          e.runKernel("DepthwiseConv2dNativeBackpropInput", { dy: dyt, filter: wt }, { ...common, dilations: c.dilations, inputShape: c.x }),
          e.runKernel("DepthwiseConv2dNativeBackpropFilter", { x: xt, dy: dyt }, { ...common, dilations: c.dilations, filterShape: c.filter }),
        ]
      : [
          e.runKernel("Conv2DBackpropInput", { dy: dyt, filter: wt }, { ...common, dataFormat: "NHWC", inputShape: c.x }),
          e.runKernel("Conv2DBackpropFilter", { x: xt, dy: dyt }, { ...common, dataFormat: "NHWC", filterShape: c.filter }),
        ];
    return { dx: (gx as tf.Tensor).dataSync() as Float32Array, dw: (gw as tf.Tensor).dataSync() as Float32Array };
  });
}

/** Random cases: every padding kind and stride 1..3 for both ops; dilations 1..3 and multipliers 1, 2 for depthwise. */
function randomCases(n: number, seed: number): Case[] {
  const rand = lcg(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pads = (): Pad[] => ["same", "valid", int(0, 2), [[0, 0], [int(0, 2), int(0, 3)], [int(0, 3), int(0, 1)], [0, 0]]];
  const cases: Case[] = [];
  while (cases.length < n) {
    const k = cases.length;
    const depthwise = k % 2 === 1;
    const pad = pads()[Math.floor(k / 2) % 4];
    const strides: [number, number] = [int(1, 3), int(1, 3)];
    const dilations: [number, number] = depthwise ? [int(1, 3), int(1, 2)] : [1, 1];
    const C = int(1, 4);
    const x: Shape4 = [int(1, 3), int(5, 12), int(5, 12), C];
    const filter: Shape4 = [int(1, 4), int(1, 4), C, depthwise ? 1 + (Math.floor(k / 2) % 2) : int(1, 5)];
    if (typeof pad === "number") {
      // tfjs sizes a numerically padded convolution from its filter height and stride along both axes
      // (a wrong width otherwise: the forward wasm conv2d then writes past its output), so square ones only.
      filter[1] = filter[0];
      strides[1] = strides[0];
      dilations[1] = dilations[0];
    }
    const c: Case = { depthwise, x, filter, strides, dilations, pad };
    const info = convInfo(c);
    if (info.outHeight < 1 || info.outWidth < 1) continue;
    cases.push(c);
  }
  return cases;
}

/** Run `f` on the cpu backend, then come back to wasm. */
async function onCpu<T>(f: () => T): Promise<T> {
  await tf.setBackend("cpu");
  try {
    return f();
  } finally {
    await tf.setBackend("wasm");
  }
}

const TOLERANCE = 1e-4;

// ------------------------------------------------------------------ tests

describe("convolution gradients on wasm", () => {
  test("the four gradient kernels on wasm are d2l's, and none of them is the copy to cpu", () => {
    assert.equal(tf.getBackend(), "wasm");
    for (const name of D2L_CONV_GRAD_KERNELS.wasm) {
      assert.ok(isD2lKernel(name, "wasm"), `${name} on wasm is not d2l's`);
      assert.ok(!forwardedKernels().has(name), `${name} on wasm is forwarded to cpu`);
    }
    assert.ok(isD2lKernel("Conv2DBackpropFilter", "cpu"), "Conv2DBackpropFilter on cpu is not d2l's");
    // The instrument itself: the forwarding exists (for kernels wasm lacks), and it is seen writing to cpu.
    assert.ok(forwardedKernels().has("UnsortedSegmentSum"), "no kernel is forwarded at all: the check above proves nothing");
    const before = cpuWrites.count;
    tf.tidy(() => tf.unsortedSegmentSum(tf.ones([4]), tf.tensor1d([0, 1, 1, 0], "int32"), 2).dataSync());
    assert.ok(cpuWrites.count > before, "a forwarded kernel ran without writing to the cpu backend: the counter does not see forwarding");
  });

  test("input and filter gradients match direct sums and the cpu backend on random shapes", async () => {
    const cases = randomCases(48, 2024);
    // The grid covers what the random draw must: strides > 1, dilations > 1, each padding kind, multipliers 1 and 2.
    assert.ok(cases.some((c) => c.strides[0] > 1 && c.strides[1] > 1));
    assert.ok(cases.some((c) => c.depthwise && c.dilations[0] > 1));
    assert.ok(cases.some((c) => c.depthwise && c.dilations[0] > 1 && c.strides[0] > 1));
    for (const kind of ["same", "valid", "number", "object"]) assert.ok(cases.some((c) => (typeof c.pad === "string" ? c.pad : typeof c.pad) === kind), kind);
    assert.ok(cases.some((c) => c.depthwise && c.filter[3] === 2) && cases.some((c) => c.depthwise && c.filter[3] === 1));

    const rand = lcg(7);
    let worst = 0;
    let viaGrad = 0;
    for (const c of cases) {
      const x = randomValues(size(c.x), rand);
      const w = randomValues(size(c.filter), rand);
      const dy = randomValues(size(convInfo(c).outShape), rand);
      const want = directGradients(c, x, w, dy);
      const label = describeCase(c);
      const check = (got: { dx: Float32Array; dw: Float32Array }, how: string): void => {
        const ex = relativeError(got.dx, want.dx);
        const ew = relativeError(got.dw, want.dw);
        worst = Math.max(worst, ex, ew);
        assert.ok(ex < TOLERANCE, `${how}, input gradient off by ${ex}: ${label}`);
        assert.ok(ew < TOLERANCE, `${how}, filter gradient off by ${ew}: ${label}`);
      };
      const writes = cpuWrites.count;
      check(kernelGradients(c, x, w, dy), "wasm kernels");
      if (c.dilations[0] === 1 && c.dilations[1] === 1) {
        check(gradGradients(c, x, w, dy), "wasm tf.grads");
        viaGrad++;
      }
      assert.equal(cpuWrites.count, writes, `the wasm gradients wrote to the cpu backend: forwarded (${label})`);
      if (c.dilations[0] === 1 && c.dilations[1] === 1) {
        // tfjs-backend-cpu's own results (its depthwise kernels ignore dilations, so those cases have only the direct sums).
        check(await onCpu(() => gradGradients(c, x, w, dy)), "cpu tf.grads");
      }
    }
    assert.ok(viaGrad >= 20, `only ${viaGrad} cases went through tf.grads`);
  });

  test("the kernels free every intermediate they make", () => {
    const backend = tf.backend();
    const c: Case = { depthwise: false, x: [2, 9, 7, 3], filter: [3, 2, 3, 4], strides: [2, 3], dilations: [1, 1], pad: [[0, 0], [0, 3], [2, 0], [0, 0]] };
    const d: Case = { depthwise: true, x: [2, 9, 7, 3], filter: [3, 2, 3, 2], strides: [2, 1], dilations: [1, 2], pad: "same" };
    const rand = lcg(3);
    const args = (k: Case) => [k, randomValues(size(k.x), rand), randomValues(size(k.filter), rand), randomValues(size(convInfo(k).outShape), rand)] as const;
    const [ca, cb] = [args(c), args(d)];
    kernelGradients(...ca); // first use may set things up
    kernelGradients(...cb);
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    for (let i = 0; i < 3; i++) {
      kernelGradients(...ca);
      kernelGradients(...cb);
    }
    assert.equal(tf.memory().numTensors, tensors, "tensors leaked");
    assert.equal(backend.numDataIds(), buffers, "wasm buffers leaked (an intermediate was not disposed)");
  });

  test("NCHW: the filter gradient runs d2l's loops, the input gradient tfjs' wasm kernel", () => {
    const c: Case = { depthwise: false, x: [2, 6, 5, 3], filter: [3, 3, 3, 2], strides: [2, 1], dilations: [1, 1], pad: "same" };
    const rand = lcg(5);
    const x = randomValues(size(c.x), rand);
    const w = randomValues(size(c.filter), rand);
    const info = convInfo(c);
    const dy = randomValues(size(info.outShape), rand);
    const want = directGradients(c, x, w, dy);
    const [dxNchw, dwNchw] = tf.tidy(() => {
      const xt = tf.tensor4d(x, c.x).transpose([0, 3, 1, 2]);
      const dyt = tf.tensor(dy, info.outShape).transpose([0, 3, 1, 2]);
      const wt = tf.tensor4d(w, c.filter);
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: "NCHW" };
      const gw = tf.engine().runKernel("Conv2DBackpropFilter", { x: xt, dy: dyt }, { ...attrs, filterShape: c.filter }) as tf.Tensor;
      const gx = tf.engine().runKernel("Conv2DBackpropInput", { dy: dyt, filter: wt }, { ...attrs, inputShape: [c.x[0], c.x[3], c.x[1], c.x[2]] }) as tf.Tensor;
      return [gx.transpose([0, 2, 3, 1]).dataSync(), gw.dataSync()];
    });
    assert.ok(relativeError(dwNchw, want.dw) < TOLERANCE);
    assert.ok(relativeError(dxNchw, want.dx) < TOLERANCE);
  });
});
