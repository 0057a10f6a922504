/**
 * d2l's Cast to float32 and AddN on webgpu (lib/backend.ts' fixWebgpuCastToFloat, fixWebgpuAddN):
 * tfjs-backend-webgpu 4.22 relabels an int32 or bool buffer as float32, and
 * its Transpose then read the int bits as floats (1 became 1.4e-45), which a
 * recurrent layer fed `oneHot(...).toFloat()` does; its AddN of more than 7
 * inputs failed Dawn's validation and left the sum unwritten. The same computations run
 * on cpu and on webgpu (in CI Mesa's lavapipe: run-all.sh sources its env and
 * sets D2L_REQUIRE_WEBGPU=1) and must agree exactly (they are small integers).
 * Each backend runs in a child process (this file, with D2L_CAST_CHILD set).
 */
import { describe, it, before } from "node:test";
import * as assert from "node:assert/strict";
import { runChild } from "./child";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../lib/backend";

const REQUIRE_WEBGPU = process.env.D2L_REQUIRE_WEBGPU === "1";

interface Result {
  values?: Record<string, number[]>;
  error?: string;
  stderr: string;
}

async function childMain(name: string): Promise<void> {
  try {
    await useBackend(name);
    const idx = tf.tensor2d(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      undefined,
      "int32",
    );
    const big = tf.range(0, 3000, 1, "int32").reshape([30, 100]); // above webgpu's 1000-element CPU hand-off
    const out: Record<string, tf.Tensor> = {
      oneHotTransposed: tf.transpose(tf.oneHot(idx, 8).toFloat(), [1, 0, 2]),
      intTransposed: tf.transpose(tf.cast(big, "float32")),
      boolTransposed: tf.transpose(tf.cast(tf.greater(big, 1500), "float32")),
      // What tfjs-layers' recurrent layers do with a one-hot input: time-major, then a matrix product per step.
      oneHotMatMul: tf.matMul(tf.reshape(tf.transpose(tf.oneHot(idx, 8).toFloat(), [1, 0, 2]), [6, 8]), tf.range(0, 24, 1, "float32").reshape([8, 3])),
      intStaysInt: tf.transpose(tf.cast(tf.cast(big, "float32"), "int32")),
      // AddN of more inputs than a webgpu program may bind (8 storage buffers a stage by default)
      addN21: tf.addN(Array.from({ length: 21 }, (_, k) => tf.range(0, 2000, 1, "float32").mul(k + 1))),
      addN8: tf.addN(Array.from({ length: 8 }, (_, k) => tf.range(0, 2000, 1, "float32").add(k))),
    };
    const values: Record<string, number[]> = {};
    for (const [k, t] of Object.entries(out)) values[k] = Array.from(await t.data());
    console.log(JSON.stringify({ values, dtypes: Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.dtype])) }));
  } catch (e) {
    console.log(JSON.stringify({ error: (e as Error).message }));
  }
}

function child(name: string): Promise<Result> {
  return runChild<Result>(__filename, { ...process.env, D2L_CAST_CHILD: name }, name, 120_000);
}

if (process.env.D2L_CAST_CHILD) {
  void childMain(process.env.D2L_CAST_CHILD).then(() => process.exit(0));
} else {
  describe("casts to float32 on webgpu", { timeout: 120_000 }, () => {
    let cpu: Result;
    let webgpu: Result;
    before(async () => {
      [cpu, webgpu] = await Promise.all([child("cpu"), child("webgpu")]);
    });

    it("int32 and bool tensors cast to float32 and transposed, and AddN of 8 and 21 tensors, give cpu's values, and Dawn rejects no shader", (t) => {
      assert.equal(cpu.error, undefined, cpu.error);
      assert.deepEqual(cpu.values?.oneHotTransposed.slice(0, 8), [0, 1, 0, 0, 0, 0, 0, 0], "cpu: the one-hot of 1");
      if (webgpu.error !== undefined) {
        if (REQUIRE_WEBGPU) assert.fail(`D2L_REQUIRE_WEBGPU=1 but webgpu did not load: ${webgpu.error}`);
        assert.match(webgpu.error, /^backend "webgpu" cannot load: .+\. To use it: .+/);
        t.diagnostic(`webgpu not available (${webgpu.error}); run test/backend/setup-lavapipe.sh to test it`);
        return;
      }
      for (const k of Object.keys(cpu.values ?? {})) assert.deepEqual(webgpu.values?.[k], cpu.values?.[k], k);
      assert.doesNotMatch(webgpu.stderr, /Error while parsing WGSL/);
      assert.doesNotMatch(webgpu.stderr, /exceeds the maximum per-stage limit/);
    });
  });
}
