// Shared by test/unit/vit.test.ts and test/unit/textcnn.test.ts: the fixture test/fixtures/torch/vit.json
// (written by vit.py, torch 1.13) and the formula both sides set the weights from.
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";

export interface T {
  shape: number[];
  data: number[];
}
export interface ParamName {
  name: string;
  shape: number[];
}

const FIXTURE = path.resolve(__dirname, "../../../test/fixtures/torch/vit.json");
/** One case of the fixture (each has some of these fields). */
export interface Case {
  params: number;
  names: ParamName[];
  shape: number[];
  head: T;
  sum: number;
  absSum: number;
  X: T;
  Y: T;
  Yavg: T;
  Ymax: T;
  vocabSize: number;
}
export const fx = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as Record<string, Case>;

/** vit.py's `formula(n, k, scale)`: `scale * sin(0.7 i + k)`, float32, in torch's flat layout. */
export function formula(n: number, k: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sin(0.7 * i + k);
  return out;
}

/** vit.py's `image(shape)`: `sin(0.11 i + 0.5)` over torch's layout. */
export function image(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(0.11 * i + 0.5);
  return tf.tensor(out, shape);
}

/** torch NCHW images → NHWC. */
export function nhwc(X: tf.Tensor): tf.Tensor {
  return tf.transpose(X, [0, 2, 3, 1]);
}

/** How a torch parameter maps to a tfjs weight: "linear" [out, in] → [in, out], "conv2d" [o, i, kh, kw] → [kh, kw, i, o], "conv1d" [o, i, k] → [k, i, o], "plain" as it is. */
export type Kind = "linear" | "conv2d" | "conv1d" | "plain";

/** Set each torch parameter `names[k]` of vit.py's `set_params(model, scale)` on the tfjs weight `resolve(name)` gives. */
export function setParams(names: ParamName[], scale: number, resolve: (name: string) => [tf.LayerVariable, Kind]): void {
  names.forEach(({ name, shape }, k) => {
    const [v, kind] = resolve(name);
    const n = shape.reduce((a, b) => a * b, 1);
    tf.tidy(() => {
      let w = tf.tensor(formula(n, k, scale), shape);
      if (kind === "linear") w = tf.transpose(w);
      else if (kind === "conv2d") w = tf.transpose(w, [2, 3, 1, 0]);
      else if (kind === "conv1d") w = tf.transpose(w, [2, 1, 0]);
      assert.deepEqual(w.shape, v.shape, `${name}: torch shape [${shape}] does not fit the tfjs weight [${v.shape}]`);
      v.write(w);
    });
  });
}

/** Largest |got - want|, after checking the shape and finiteness. */
export function maxDiff(got: tf.Tensor, want: T, what: string): number {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const g = got.dataSync();
  let worst = 0;
  want.data.forEach((w, i) => {
    assert.ok(Number.isFinite(g[i]), `${what}: value ${i} is ${g[i]}`);
    worst = Math.max(worst, Math.abs(g[i] - w));
  });
  return worst;
}
