/**
 * d2l.check and d2l.checkClose: what each shows (the text a student reads and
 * the JSON `d2l-ts grade` collects), partial credit, and that a failing or
 * throwing condition fails only its own check.
 */
import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";

const BRIDGE = Symbol.for("d2l-ts.output");
type Shown = Record<string, unknown>;
let shown: Shown[] = [];

beforeEach(() => {
  shown = [];
  (globalThis as Record<symbol, unknown>)[BRIDGE] = {
    display: (out: { data: Shown }) => shown.push(out.data),
    clearOutput: () => undefined,
  };
});
afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[BRIDGE];
});

/** What a check showed, once it has. */
async function result(p: Promise<void>): Promise<d2l.CheckResult> {
  assert.equal(await p, undefined, "a check resolves to nothing (a cell ending in one shows no value)");
  return last().json;
}

function last(): { json: d2l.CheckResult; text: string } {
  const b = shown[shown.length - 1];
  assert.ok(b, "nothing was shown");
  return { json: b[d2l.CHECK_MIME] as d2l.CheckResult, text: b["text/plain"] as string };
}

test("a passing check shows a tick and its points, as text and as JSON", async () => {
  const r = await result(d2l.check("rows sum to 1", 2, () => true));
  assert.deepEqual(r, { name: "rows sum to 1", points: 2, maxPoints: 2, passed: true, message: "" });
  assert.deepEqual(last().json, r);
  assert.equal(last().text, "✓ rows sum to 1 (2/2 points)");
  assert.equal(shown.length, 1);
});

test("a failing check shows its message and 0 points", async () => {
  const r = await result(d2l.check("shape [n, 10]", 1, false, "one score per class"));
  assert.equal(r.points, 0);
  assert.equal(r.passed, false);
  assert.equal(last().text, "✗ shape [n, 10] (0/1 point): one score per class");
});

test("a share in [0, 1] gives partial credit; outside it is clamped and said", async () => {
  const r = await result(d2l.check("accuracy", 3, () => 0.5));
  assert.equal(r.points, 1.5);
  assert.equal(r.passed, false);
  assert.match(last().text, /^◐ accuracy \(1\.5\/3 points\)/);
  const over = await result(d2l.check("over", 2, 1.7));
  assert.equal(over.points, 2);
  assert.match(over.message, /taken as 1/);
});

test("a condition that throws fails its check, does not throw, and later checks run", async () => {
  const r = await result(
    d2l.check("uses net", 1, () => {
      throw new ReferenceError("net is not defined");
    }),
  );
  assert.equal(r.points, 0);
  assert.equal(r.message, "ReferenceError: net is not defined");
  const after = await result(d2l.check("after", 1, true));
  assert.equal(after.passed, true);
  assert.equal(shown.length, 2);
});

test("async conditions: resolved, rejected, and a value of the wrong kind", async () => {
  assert.equal((await result(d2l.check("async ok", 1, async () => true))).passed, true);
  const rejected = await result(
    d2l.check("async fails", 1, async () => {
      throw new Error("no data");
    }),
  );
  assert.equal(rejected.points, 0);
  assert.equal(rejected.message, "no data");
  const wrong = await result(d2l.check("wrong kind", 1, (() => "yes") as unknown as () => boolean));
  assert.equal(wrong.points, 0);
  assert.match(wrong.message, /must give true\/false or a share/);
});

test("a synchronous check shows its output before the promise is awaited", () => {
  void d2l.check("now", 1, true);
  assert.equal(shown.length, 1);
});

test("bad arguments are errors that say what was expected", () => {
  assert.throws(() => d2l.check("", 1, true), /non-empty string/);
  assert.throws(() => d2l.check("x", -1, true), /points must be a number >= 0/);
  assert.throws(() => d2l.check("x", Number.NaN, true), /points must be a number >= 0/);
  assert.throws(() => d2l.checkClose("x", 1, 1, 1, { rtol: -1 }), /rtol must be a number >= 0/);
  assert.throws(() => d2l.checkClose("x", 1, 1, "1" as unknown as number), /expected must be a number, an array of numbers or a tensor/);
});

test("checkClose compares tensors, arrays and numbers with tolerances", async () => {
  const t = tf.tensor1d([2.302585, 0.693147]);
  assert.equal((await result(d2l.checkClose("close", 1, t, [2.3026, 0.6931], { rtol: 1e-3 }))).passed, true);
  assert.equal((await result(d2l.checkClose("scalar", 1, 0.1 + 0.2, 0.3))).passed, true);
  assert.equal(
    (
      await result(
        d2l.checkClose(
          "nested",
          1,
          [
            [1, 2],
            [3, 4],
          ],
          tf.tensor2d([
            [1, 2],
            [3, 4],
          ]),
        ),
      )
    ).passed,
    true,
  );
  assert.equal(t.isDisposed, false, "a tensor passed in is the caller's");
  t.dispose();
});

test("checkClose says where values differ, and shape mismatches", async () => {
  const r = await result(d2l.checkClose("values", 1, [1, 2, 3.5], [1, 2, 3], { message: "softmax is off" }));
  assert.equal(r.points, 0);
  assert.match(r.message, /^softmax is off; expected \[1, 2, 3\], got \[1, 2, 3\.5\]; element 2 is 3\.5, not 3 \(rtol 0\.00001, atol 0\.000001\)$/);
  const s = await result(d2l.checkClose("shape", 1, tf.zeros([2, 3]), tf.zeros([3, 2])));
  assert.match(s.message, /expected shape \[3, 2\], got \[2, 3\]/);
  const nan = await result(d2l.checkClose("nan", 1, [Number.NaN], [0], { atol: 1 }));
  assert.equal(nan.passed, false);
});

test("checkClose frees a tensor its function made, and fails (not throws) when the function throws", async () => {
  const before = tf.memory().numTensors;
  assert.equal((await result(d2l.checkClose("fn", 1, () => tf.ones([3]), [1, 1, 1]))).passed, true);
  assert.equal((await result(d2l.checkClose("async fn", 1, async () => tf.ones([2]), [1, 1]))).passed, true);
  assert.equal(tf.memory().numTensors, before);
  const r = await result(
    d2l.checkClose(
      "throws",
      1,
      () => {
        throw new ReferenceError("crossEntropy is not defined");
      },
      [1],
    ),
  );
  assert.equal(r.message, "ReferenceError: crossEntropy is not defined");
});
