/**
 * The kernel shows a cell's tensor result with an asynchronous read
 * (kernel/display.ts' toDisplayAsync), because webgpu under Node cannot read
 * a GPU tensor synchronously. The text must be what tfjs' print(true) gives
 * on a backend that can read synchronously (cpu here).
 */
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { tensorTextAsync, toDisplay, toDisplayAsync } from "../../kernel/display";

/** A tensor as webgpu hands it to a cell under Node: its synchronous reads throw, its asynchronous ones work. */
function gpuLike(t: tf.Tensor): tf.Tensor {
  let asyncReads = 0;
  const sync = (): never => {
    throw new Error("the webgpu backend cannot read a GPU tensor synchronously in Node");
  };
  const standIn = Object.create(t, {
    dataSync: { value: sync },
    arraySync: { value: sync },
    data: {
      value: async () => {
        asyncReads++;
        return t.data();
      },
    },
    asyncReads: { get: () => asyncReads },
  }) as tf.Tensor;
  return standIn;
}

describe("toDisplayAsync", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });

  test("a tensor that cannot be read synchronously shows the text print(true) gives", async () => {
    const cases = [
      tf.tensor2d([
        [1, 2.5],
        [3, -4],
      ]),
      tf.tensor1d([7, 8, 9], "int32"),
      tf.scalar(true, "bool"),
      tf.tensor(["a", "bc"]),
      tf.range(0, 2000).reshape([40, 50]), // long enough for tfjs to elide the middle
    ];
    for (const t of cases) {
      const want = t.toString(true);
      const g = gpuLike(t);
      assert.throws(() => toDisplay(g), /cannot read a GPU tensor synchronously/, "the synchronous path does read synchronously");
      const out = await toDisplayAsync(g);
      assert.deepEqual(out, { data: { "text/plain": want }, metadata: {} }, t.dtype);
      assert.equal((g as unknown as { asyncReads: number }).asyncReads, 1, "one asynchronous read");
    }
    tf.dispose(cases);
  });

  test("a variable shows as on the synchronous path", async () => {
    const v = tf.variable(tf.tensor2d([[0.5, 1.5]]));
    assert.deepEqual(await toDisplayAsync(v), toDisplay(v));
    v.dispose();
  });

  test("a disposed tensor, and one disposed while its read is in flight, shows that it is disposed", async () => {
    const t = tf.tensor2d([[1, 2, 3]], [1, 3], "int32");
    const standIn = Object.create(t, {
      data: {
        value: async () => {
          const values = await t.data();
          t.dispose();
          return values;
        },
      },
    }) as tf.Tensor;
    assert.equal(await tensorTextAsync(standIn), "Tensor (disposed) dtype int32, shape [1,3]");
    assert.equal((await toDisplayAsync(t)).data["text/plain"], "Tensor (disposed) dtype int32, shape [1,3]");
  });

  test("values that are not tensors render as toDisplay renders them, display methods included", async () => {
    const SYM = Symbol.for("Jupyter.display");
    const t = tf.tensor1d([1]);
    const wrapped = Object.assign(Object.create(t), { [SYM]: () => ({ "text/plain": "custom" }) });
    for (const v of [42, "it's", { a: [1, 2] }, null, undefined, wrapped]) {
      assert.deepEqual(await toDisplayAsync(v), toDisplay(v));
    }
    assert.equal((await toDisplayAsync(wrapped)).data["text/plain"], "custom");
    t.dispose();
  });
});
