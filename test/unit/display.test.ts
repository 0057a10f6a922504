import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import * as util from "util";
import * as tf from "@tensorflow/tfjs";
import { DISPLAY_SYMBOL, isTensorLike, normaliseBundle, tensorText, toDisplay } from "../../kernel/display";

const SYM = Symbol.for("Jupyter.display");

function displayable(bundle: unknown): object {
  return { [SYM]: () => bundle };
}

describe("normaliseBundle / toDisplay with [Symbol.for('Jupyter.display')]", () => {
  test("DISPLAY_SYMBOL is the registered Jupyter.display symbol", () => {
    assert.equal(DISPLAY_SYMBOL, SYM);
  });

  test("a plain bundle is kept as it is", () => {
    const out = toDisplay(displayable({ "text/plain": "hello", "text/html": "<b>hello</b>" }));
    assert.deepEqual(out, { data: { "text/plain": "hello", "text/html": "<b>hello</b>" }, metadata: {} });
  });

  test("the method is called with the value as this", () => {
    const v = {
      name: "widget-7",
      [SYM](this: { name: string }) {
        return { "text/plain": `I am ${this.name}` };
      },
    };
    assert.equal(toDisplay(v).data["text/plain"], "I am widget-7");
  });

  test("a function value can display itself too", () => {
    const f = Object.assign(() => 1, { [SYM]: () => ({ "text/plain": "fn" }) });
    assert.equal(toDisplay(f).data["text/plain"], "fn");
  });

  test("+json and application/json values that are objects stay objects (same content)", () => {
    const spec = { $schema: "https://vega.github.io/schema/vega-lite/v5.json", mark: "bar", data: { values: [{ a: 1 }] } };
    const out = toDisplay(displayable({ "application/vnd.vegalite.v5+json": spec, "application/json": [1, { b: 2 }], "text/plain": "chart" }));
    assert.deepEqual(out.data["application/vnd.vegalite.v5+json"], spec);
    assert.equal(typeof out.data["application/vnd.vegalite.v5+json"], "object");
    assert.deepEqual(out.data["application/json"], [1, { b: 2 }]);
  });

  test("+json and application/json values given as JSON strings are parsed into objects", () => {
    const out = normaliseBundle({
      "application/vnd.custom+json": '{"a": [1, 2], "b": {"c": null}}',
      "application/json": "[1, 2, 3]",
      "text/plain": "x",
    });
    assert.deepEqual(out.data["application/vnd.custom+json"], { a: [1, 2], b: { c: null } });
    assert.deepEqual(out.data["application/json"], [1, 2, 3]);
  });

  test("a +json string that is not JSON is refused (throws) rather than passed on as a string", () => {
    assert.throws(() => normaliseBundle({ "application/vnd.custom+json": "{not json", "text/plain": "x" }), {
      name: "TypeError",
      message: /"application\/vnd.custom\+json" value is a string that is not JSON/,
    });
  });

  test("text values that look like JSON are NOT parsed for non-json mime types", () => {
    const out = normaliseBundle({ "text/plain": '{"a":1}', "image/svg+xml": "<svg/>" });
    assert.equal(out.data["text/plain"], '{"a":1}');
    // image/svg+xml ends in +xml, not +json: stays a string.
    assert.equal(out.data["image/svg+xml"], "<svg/>");
  });

  test("{ data, metadata } form is unwrapped", () => {
    const out = toDisplay(displayable({ data: { "image/png": "iVBORw0KGgo=", "text/plain": "<img>" }, metadata: { "image/png": { width: 10 } } }));
    assert.deepEqual(out.data, { "image/png": "iVBORw0KGgo=", "text/plain": "<img>" });
    assert.deepEqual(out.metadata, { "image/png": { width: 10 } });
  });

  test("{ data } form without metadata gives empty metadata", () => {
    const out = normaliseBundle({ data: { "text/plain": "x" } });
    assert.deepEqual(out, { data: { "text/plain": "x" }, metadata: {} });
  });

  test("binary values become base64 and non-string values become strings", () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255]);
    const out = normaliseBundle({ "image/png": png, "text/plain": 42 });
    assert.equal(out.data["image/png"], Buffer.from(png).toString("base64"));
    assert.equal(out.data["text/plain"], "42");
  });

  test("a bundle without text/plain gets a placeholder naming its mime types", () => {
    assert.equal(normaliseBundle({ "image/png": "AAAA", "text/html": "<i/>" }).data["text/plain"], "<image/png, text/html output>");
    assert.equal(normaliseBundle({}).data["text/plain"], "<empty output>");
  });

  test("keys that are not mime types are refused with a TypeError naming the key", () => {
    assert.throws(() => normaliseBundle({ text: "hello" }), { name: "TypeError", message: /"text" is not a mime type/ });
    // "data" next to real mime keys is not the { data, metadata } form.
    assert.throws(() => normaliseBundle({ data: { "text/plain": "a" }, "text/plain": "b" }), { name: "TypeError", message: /"data" is not a mime type/ });
  });

  test("non-object returns are refused with a TypeError showing what came back", () => {
    assert.throws(() => toDisplay(displayable("just a string")), { name: "TypeError", message: /must return a mime bundle.*'just a string'/ });
    assert.throws(() => toDisplay(displayable(null)), { name: "TypeError", message: /returned null/ });
    assert.throws(() => toDisplay(displayable(["text/plain", "x"])), { name: "TypeError", message: /mime bundle object/ });
  });

  test("a display method that returns a Promise is refused", () => {
    const v = { [SYM]: async () => ({ "text/plain": "late" }) };
    assert.throws(() => toDisplay(v), { name: "TypeError", message: /returned a Promise/ });
  });
});

describe("tensors", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });

  test("real tfjs tensors are tensor-like; look-alikes without data are not", () => {
    const t = tf.tensor1d([1, 2, 3]);
    assert.equal(isTensorLike(t), true);
    assert.equal(isTensorLike({ shape: [3], dtype: "float32" }), false);
    assert.equal(isTensorLike([1, 2, 3]), false);
    assert.equal(isTensorLike(null), false);
    t.dispose();
  });

  test("a 2-d float tensor shows dtype, rank, shape and values, as print(true) does", () => {
    const t = tf.tensor2d([
      [1, 2.5],
      [3, 4],
    ]);
    const text = toDisplay(t).data["text/plain"] as string;
    assert.equal(text, t.toString(true));
    assert.match(text, /^Tensor\n/);
    assert.match(text, /dtype: float32/);
    assert.match(text, /rank: 2/);
    assert.match(text, /shape: \[2,2\]/);
    assert.match(text, /\[\[1\s*,\s*2\.5\s*\],\s*\[3\s*,\s*4\s*\]\]/);
    assert.deepEqual(toDisplay(t).metadata, {});
    t.dispose();
  });

  test("int32, bool and scalar tensors and variables show their dtype and shape", () => {
    const i = tf.tensor1d([7, 8, 9], "int32");
    assert.match(toDisplay(i).data["text/plain"] as string, /dtype: int32[\s\S]*shape: \[3\][\s\S]*\[7, 8, 9\]/);
    const b = tf.scalar(true, "bool");
    assert.match(toDisplay(b).data["text/plain"] as string, /dtype: bool[\s\S]*rank: 0[\s\S]*shape: \[\][\s\S]*true/);
    const v = tf.variable(tf.zeros([2, 1, 3]));
    assert.match(toDisplay(v).data["text/plain"] as string, /dtype: float32[\s\S]*rank: 3[\s\S]*shape: \[2,1,3\]/);
    tf.dispose([i, b, v]);
  });

  test("a disposed tensor shows that it is disposed instead of throwing", () => {
    const t = tf.tensor2d([[1, 2, 3]], [1, 3], "int32");
    t.dispose();
    assert.equal(toDisplay(t).data["text/plain"], "Tensor (disposed) dtype int32, shape [1,3]");
    assert.equal(tensorText(t), "Tensor (disposed) dtype int32, shape [1,3]");
  });

  test("a tensor with its own display method uses the method", () => {
    const t = tf.tensor1d([1]);
    const wrapped = Object.assign(Object.create(t), { [SYM]: () => ({ "text/plain": "custom" }) });
    assert.equal(toDisplay(wrapped).data["text/plain"], "custom");
    t.dispose();
  });
});

describe("plain values fall back to util.inspect", () => {
  const opts = { depth: 4, maxArrayLength: 100, breakLength: 100 };

  test("strings are quoted, numbers and undefined/null inspected", () => {
    assert.deepEqual(toDisplay("hi"), { data: { "text/plain": "'hi'" }, metadata: {} });
    assert.equal(toDisplay("it's").data["text/plain"], util.inspect("it's"));
    assert.equal(toDisplay(42).data["text/plain"], "42");
    assert.equal(toDisplay(-0).data["text/plain"], "-0");
    assert.equal(toDisplay(10n).data["text/plain"], "10n");
    assert.equal(toDisplay(undefined).data["text/plain"], "undefined");
    assert.equal(toDisplay(null).data["text/plain"], "null");
  });

  test("objects are inspected to depth 4", () => {
    const v = { a: [1, 2, { b: { c: { d: { e: 1 } } } }], m: new Map([["k", 1]]) };
    const text = toDisplay(v).data["text/plain"] as string;
    assert.equal(text, util.inspect(v, opts));
    assert.match(text, /\[Object\]/);
    assert.match(text, /Map\(1\) \{ 'k' => 1 \}/);
  });

  test("long arrays are cut at 100 items", () => {
    const arr = Array.from({ length: 150 }, (_, i) => i);
    const text = toDisplay(arr).data["text/plain"] as string;
    assert.equal(text, util.inspect(arr, opts));
    assert.match(text, /\.\.\. 50 more items/);
    assert.match(text, /\b99\b/);
    assert.doesNotMatch(text, /\b100\b/);
  });

  test("a symbol-keyed property that is not a function does not count as a display method", () => {
    const v = { [SYM]: "not a function", x: 1 };
    assert.equal(toDisplay(v).data["text/plain"], util.inspect(v, opts));
  });
});
