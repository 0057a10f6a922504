/**
 * What the check kernel accepts from a submission's kernel (kernel/remote.ts):
 * well-formed data is rebuilt with the checker's own tf, handles become
 * stand-ins that can only ask, and anything malformed or oversized is an
 * error, never code. Also the names a declare-only cell binds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { decodeFromSubmission, type RemoteRequest } from "../../kernel/remote";
import { topLevelNames } from "../../kernel/executor";
import { inSubmission } from "../../lib/check";

type Tf = Parameters<typeof decodeFromSubmission>[1];
// What the kernel's executor keeps: the cell scope, with tf in it (remote.ts encodes a check's arguments with it).
(globalThis as unknown as Record<string, unknown>).__d2l_cell = { exports: { tf } };
const TF = tf as unknown as Tf;
const b64 = (a: Float32Array | Int32Array | Uint8Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");

function decode(w: unknown, asked: RemoteRequest[] = [], answer: unknown = { k: "p", v: 7 }): unknown {
  const call = (r: RemoteRequest): unknown => {
    asked.push(r);
    return decodeFromSubmission(answer, TF, call);
  };
  return decodeFromSubmission(w, TF, call);
}

test("numbers, strings, arrays, objects and special numbers come back as they were", () => {
  const v = decode({
    k: "o",
    v: [
      ["a", { k: "p", v: 1.5 }],
      ["s", { k: "p", v: "hi" }],
      ["list", { k: "a", v: [{ k: "num", v: "NaN" }, { k: "num", v: "-Infinity" }, { k: "num", v: "-0" }, { k: "u" }] }],
      ["__proto__", { k: "p", v: "just a key" }],
    ],
  }) as Record<string, unknown>;
  assert.equal(v.a, 1.5);
  assert.equal(v.s, "hi");
  const list = v.list as unknown[];
  assert.ok(Number.isNaN(list[0]) && list[1] === -Infinity && Object.is(list[2], -0) && list[3] === undefined);
  assert.equal(Object.getPrototypeOf(v), Object.prototype, "a __proto__ key stays a key");
  assert.equal(Object.getOwnPropertyDescriptor(v, "__proto__")?.value, "just a key");
});

test("tensors are rebuilt with the checker's tf, values exact; variables stay variables", () => {
  const t = decode({ k: "t", dtype: "float32", shape: [2, 2], b64: b64(new Float32Array([1, 2, 3, 0.1])) }) as tf.Tensor;
  assert.ok(t instanceof tf.Tensor);
  assert.deepEqual(t.shape, [2, 2]);
  assert.deepEqual(Array.from(t.dataSync()), Array.from(new Float32Array([1, 2, 3, 0.1])));
  const i = decode({ k: "t", dtype: "int32", shape: [3], b64: b64(new Int32Array([-1, 0, 2 ** 31 - 1])) }) as tf.Tensor;
  assert.deepEqual(i.arraySync(), [-1, 0, 2 ** 31 - 1]);
  const s = decode({ k: "t", dtype: "string", shape: [2], strings: ["ham", "spam"] }) as tf.Tensor;
  assert.deepEqual(s.arraySync(), ["ham", "spam"]);
  const v = decode({ k: "t", dtype: "float32", shape: [1], b64: b64(new Float32Array([4])), variable: true, trainable: false }) as tf.Variable;
  assert.ok(v instanceof tf.Variable);
  assert.equal(v.trainable, false);
  tf.dispose([t, i, s, v]);
});

test("a variable from the submission keeps a handle: inSubmission asks the submission's kernel to assign", () => {
  const asked: RemoteRequest[] = [];
  const v = decode({ k: "t", dtype: "float32", shape: [1], b64: b64(new Float32Array([4])), variable: true, id: 12 }, asked, {
    k: "h",
    id: 13,
    callable: true,
    cls: "function",
  }) as tf.Variable;
  const own = inSubmission(v);
  assert.notEqual(own, v);
  own.assign(tf.tensor1d([5]));
  assert.deepEqual(
    asked.map((r) => r.op),
    ["prop", "call"],
  );
  assert.deepEqual(asked[0], { op: "prop", target: 12, key: "assign" });
  const call = asked[1] as Extract<RemoteRequest, { op: "call" }>;
  assert.equal(call.self, 12, "called as a method of the submission's variable");
  assert.equal(call.args[0].k, "t");
  const plain = tf.variable(tf.scalar(1));
  assert.equal(inSubmission(plain), plain, "outside grading, a value is the student's own");
});

test("a handle only asks: property reads and calls become requests; changing it is refused", () => {
  const asked: RemoteRequest[] = [];
  const f = decode({ k: "h", id: 3, callable: true, cls: "function" }, asked) as ((...a: unknown[]) => unknown) & Record<string, unknown>;
  assert.equal(typeof f, "function");
  assert.equal(f(tf.tensor1d([1, 2]), [1, "x"], { n: 2 }), 7);
  assert.equal(f.units, 7);
  assert.deepEqual(
    asked.map((r) => r.op),
    ["call", "prop"],
  );
  assert.throws(() => {
    f.units = 3;
  }, /cannot change/);
  assert.throws(() => f(() => 1), /cannot pass a function/, "a check cannot hand its own code to the submission");
  const o = decode({ k: "h", id: 4, callable: false, cls: "GRU" }, asked) as Record<string, unknown>;
  assert.equal(typeof o, "object");
  assert.equal((o as { then?: unknown }).then, undefined, "not a thenable: await on it asks nothing");
  assert.match(String((o as Record<symbol, () => string>)[Symbol.for("nodejs.util.inspect.custom")]()), /GRU of the submission/);
});

test("the submission's errors become SubmissionErrors with its message", () => {
  assert.throws(
    () => decode({ k: "e", name: "Error", message: "not implemented yet" }),
    (e: Error) => e.name === "SubmissionError" && e.message === "not implemented yet",
  );
  assert.throws(
    () => decode({ k: "e", name: "RangeError", message: "x" }),
    (e: Error) => e.name === "RangeError",
  );
});

test("malformed or oversized data is refused, never run", () => {
  const bad: [unknown, RegExp][] = [
    [null, /not a value/],
    ["k", /not a value/],
    [{ k: "code", v: "process.exit()" }, /unknown kind/],
    [{ k: "ref", id: 1 }, /unknown kind/],
    [{ k: "p", v: { toString: "x" } }, /bad primitive/],
    [{ k: "num", v: "1e999" }, /bad number/],
    [{ k: "big", v: "12; process.exit()" }, /bad bigint/],
    [{ k: "t", dtype: "float32", shape: [2, 2], b64: b64(new Float32Array([1, 2, 3])) }, /needs 16 bytes; 12 came/],
    [{ k: "t", dtype: "float32", shape: [-1], b64: "" }, /shape/],
    [{ k: "t", dtype: "float32", shape: [1e5, 1e5], b64: "" }, /too large/],
    [{ k: "t", dtype: "complex64", shape: [1], b64: "AAAAAAAAAAA=" }, /cannot be received/],
    [{ k: "t", dtype: "string", shape: [2], strings: ["a"] }, /do not match its shape/],
    [{ k: "o", v: [[1, { k: "u" }]] }, /bad object entry/],
    [{ k: "h", id: "1", callable: true, cls: "x" }, /bad handle/],
  ];
  for (const [w, re] of bad) assert.throws(() => decode(w), re, JSON.stringify(w));
  let deep: unknown = { k: "u" };
  for (let i = 0; i < 100; i++) deep = { k: "a", v: [deep] };
  assert.throws(() => decode(deep), /nested too deeply/);
});

test("a declare-only cell binds the names its top level declares", () => {
  assert.deepEqual(
    topLevelNames(`
      const batch = 3, [a, , { b }] = [1, 2, { b: 3 }];
      let { c: renamed, ...rest } = { c: 1, d: 2 };
      function softmax(X: tf.Tensor): tf.Tensor { const inner = 1; return X; }
      class Net {}
      enum Kind { A }
      softmax;`).sort(),
    ["Kind", "Net", "a", "b", "batch", "renamed", "rest", "softmax"],
  );
});
