/**
 * d2l's Slice, Unpack, SplitV and GatherV2 on wasm (lib/kernels/slice.ts):
 * the same values as the cpu backend for slices of every rank and position,
 * bool and int32 too, gradients included; they are d2l's; and cutting a
 * recurrent net's [T, n, h] inputs into T steps no longer copies the whole
 * tensor T times. This file's process runs on wasm.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { useBackend } from "../../lib/backend";
import { isD2lKernel } from "../../lib/kernels";

before(async () => {
  await useBackend("wasm");
});

/** Run `f` on cpu and on wasm; return both results as nested arrays. */
async function both<T>(f: () => T): Promise<[T, T]> {
  await tf.setBackend("cpu");
  const onCpu = f();
  await tf.setBackend("wasm");
  return [onCpu, f()];
}

test("Slice, Unpack, SplitV and GatherV2 are d2l's on wasm", () => {
  for (const k of ["Slice", "Unpack", "SplitV", "GatherV2"]) assert.ok(isD2lKernel(k, "wasm"), k);
});

test("slices of every rank and position match the cpu backend", async () => {
  const cases: [number[], number[], number[]][] = [
    [[7], [2], [4]],
    [
      [5, 6],
      [1, 2],
      [3, 3],
    ],
    [
      [5, 6],
      [0, 0],
      [5, 6],
    ],
    [
      [5, 6],
      [2, 0],
      [2, 6],
    ],
    [
      [4, 5, 6],
      [1, 2, 3],
      [2, 2, 2],
    ],
    [
      [4, 5, 6],
      [3, 0, 0],
      [1, 5, 6],
    ],
    [
      [4, 5, 6],
      [0, 4, 0],
      [4, 1, 6],
    ],
    [
      [2, 3, 4, 5],
      [1, 1, 1, 1],
      [1, 2, 3, 4],
    ],
    [
      [2, 3, 4, 5, 2],
      [0, 1, 0, 2, 0],
      [2, 2, 4, 2, 2],
    ],
    [
      [3, 4],
      [1, 1],
      [0, 2],
    ],
  ];
  for (const [shape, begin, size] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    const [c, w] = await both(() => tf.tidy(() => tf.slice(tf.range(0, n).reshape(shape), begin, size).arraySync()));
    assert.deepEqual(w, c, `slice of ${JSON.stringify(shape)} at ${JSON.stringify(begin)} size ${JSON.stringify(size)}`);
  }
  const [c, w] = await both(() =>
    tf.tidy(() =>
      tf
        .slice(
          tf
            .tensor2d([
              [1, 0, 1],
              [0, 1, 1],
            ])
            .cast("bool"),
          [0, 1],
          [2, 2],
        )
        .arraySync(),
    ),
  );
  assert.deepEqual(w, c);
  const [ci, wi] = await both(() =>
    tf.tidy(() =>
      tf
        .slice(
          tf.tensor2d(
            [
              [1, 2, 3],
              [4, 5, 6],
            ],
            [2, 3],
            "int32",
          ),
          [1, 1],
          [1, 2],
        )
        .arraySync(),
    ),
  );
  assert.deepEqual(wi, ci);
  assert.deepEqual(wi, [[5, 6]]);
});

test("unstack, split and gather along each axis match the cpu backend, gradients too", async () => {
  for (const axis of [0, 1, 2]) {
    const [c, w] = await both(() => tf.tidy(() => tf.unstack(tf.range(0, 60).reshape([3, 4, 5]), axis).map((t) => t.arraySync())));
    assert.deepEqual(w, c, `unstack along ${axis}`);
    const [cs, ws] = await both(() =>
      tf.tidy(() =>
        tf
          .split(
            tf.range(0, 120).reshape([4, 6, 5]),
            [
              [1, 2, 1],
              [2, 3, 1],
              [2, 3],
            ][axis],
            axis,
          )
          .map((t) => t.arraySync()),
      ),
    );
    assert.deepEqual(ws, cs, `split along ${axis}`);
    const [cg, wg] = await both(() =>
      tf.tidy(() => tf.gather(tf.range(0, 60).reshape([3, 4, 5]), tf.tensor1d([2, 0, 2, 1].slice(0, axis === 0 ? 4 : 3), "int32"), axis).arraySync()),
    );
    assert.deepEqual(wg, cg, `gather along ${axis}`);
  }
  const [cg, wg] = await both(() =>
    tf.tidy(() =>
      tf
        .gather(
          tf.range(0, 12).reshape([4, 3]),
          tf.tensor2d(
            [
              [3, 0],
              [1, 1],
            ],
            [2, 2],
            "int32",
          ),
        )
        .arraySync(),
    ),
  );
  assert.deepEqual(wg, cg, "gather with 2-d indices");
  await tf.setBackend("wasm");
  assert.throws(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([3], "int32")), /index value 3 is not in \[0, 2\]/);
  const grad = (): number[][] =>
    tf.tidy(() => {
      const x = tf.range(0, 24).reshape([2, 3, 4]);
      const g = tf.grad((v: tf.Tensor) => {
        const parts = tf.unstack(v, 1);
        const [a, b] = tf.split(parts[2], [1, 3], 1);
        return tf.slice(parts[0], [1, 1], [1, 2]).sum().add(a.mul(2).sum()).add(b.square().sum());
      })(x);
      return g.reshape([6, 4]).arraySync() as number[][];
    });
  const [gc, gw] = await both(grad);
  assert.deepEqual(gw, gc);
});

test("unstacking [100, 128, 32] reads it once, not 100 times, and frees nothing it should keep", async () => {
  await tf.setBackend("wasm");
  const x = tf.randomNormal([100, 128, 32], 0, 1, "float32", 3);
  const before = tf.memory().numTensors;
  const started = process.cpuUsage();
  for (let i = 0; i < 5; i++) tf.dispose(tf.unstack(x));
  const used = process.cpuUsage(started);
  const ms = (used.user + used.system) / 1000 / 5;
  assert.equal(tf.memory().numTensors, before);
  // tfjs 4.22's wasm Unpack copies all 409,600 values out of the heap for each of the 100 slices (60-250 ms)
  assert.ok(ms < 30, `unstack took ${ms.toFixed(1)} ms of CPU`);
  const parts = tf.unstack(x);
  const last = parts[99].dataSync();
  const all = x.dataSync();
  assert.equal(last[0], all[99 * 128 * 32]);
  assert.equal(last[128 * 32 - 1], all[100 * 128 * 32 - 1]);
  tf.dispose([x, ...parts]);
});
