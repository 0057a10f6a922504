import { test, describe, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Animator, VEGALITE_MIME, JUPYTER_DISPLAY } from "../../lib/plot/index";
import { pngSize } from "../../lib/plot/png";

const BRIDGE = Symbol.for("d2l-ts.output");
const KERNEL = Symbol.for("d2l-ts.kernel");

/** Poll until `get` returns something (a PNG from the render worker), or fail after 10 s. */
async function waitFor<T>(get: () => T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`nothing came within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const SYM: typeof JUPYTER_DISPLAY = JUPYTER_DISPLAY;
assert.equal(SYM, Symbol.for("Jupyter.display"));

interface Call {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  displayId: string | undefined;
  update: boolean;
}

function installBridge(): Call[] {
  const calls: Call[] = [];
  (globalThis as Record<symbol, unknown>)[BRIDGE] = {
    display(out: { data: Record<string, unknown>; metadata: Record<string, unknown> }, displayId: string | undefined, update: boolean) {
      calls.push({ data: out.data, metadata: out.metadata, displayId, update });
    },
    clearOutput() {},
  };
  return calls;
}

function removeBridge(): void {
  delete (globalThis as Record<symbol, unknown>)[BRIDGE];
}

type Spec = {
  data: { values: { s: string; x: number; y: number }[] };
  encoding: {
    x: { title: string | null; scale: { type: string; domain?: number[] } };
    y: { scale: { type: string; domain?: number[] } };
    color: { scale: { domain: string[]; range: string[] } };
  };
  layer: { encoding?: { strokeDash?: { scale: { range: number[][] } } } }[];
};

function points(spec: object, series: string): [number, number][] {
  return (spec as Spec).data.values.filter((v) => v.s === series).map((v) => [v.x, v.y]);
}

describe("Animator.add (the book's semantics)", () => {
  afterEach(removeBridge);

  test("one x for all series; null and undefined skip a series at that x", () => {
    const a = new Animator({ legend: ["train loss", "train acc", "test acc"] });
    a.add(0.5, [2.0, 0.3, null]);
    a.add(1, [1.0, 0.6, 0.55]);
    a.add(1.5, [0.8, undefined, null]);
    const d = a.data();
    assert.deepEqual(d.X, [[0.5, 1, 1.5], [0.5, 1], [1]]);
    assert.deepEqual(d.Y, [[2.0, 1.0, 0.8], [0.3, 0.6], [0.55]]);
    assert.deepEqual(points(a.spec(), "test acc"), [[1, 0.55]]);
  });

  test("one x per series, and a single number for a single series", () => {
    const a = new Animator();
    a.add([1, 10], [5, 6]);
    a.add([2, null], [7, 8]);
    assert.deepEqual(a.data(), { X: [[1, 2], [10]], Y: [[5, 7], [6]] });
    const b = new Animator();
    b.add(1, 3);
    b.add(2, 4);
    assert.deepEqual(b.data(), { X: [[1, 2]], Y: [[3, 4]] });
  });

  test("mismatched sizes are clear errors", () => {
    const a = new Animator();
    assert.throws(() => a.add([1, 2, 3], [1, 2]), /got 3 x values for 2 y values/);
    a.add(1, [1, 2]);
    assert.throws(() => a.add(2, [1, 2, 3]), /got 3 y values but the first add had 2 series/);
    assert.throws(() => a.add(2, ["x" as unknown as number, 1]), /expected numbers \(or null to skip\)/);
    assert.throws(() => new Animator({ nrows: 0 }), /nrows must be a positive integer/);
    assert.throws(() => new Animator({ xlim: [3, 3] }), /Animator: xlim must be \[min, max\]/);
  });

  test("options reach the spec: labels, limits, scales, legend, fmts", () => {
    const a = new Animator({ xlabel: "epoch", xlim: [1, 10], ylim: [0.3, 0.9], yscale: "log", legend: ["a", "b", "c", "d"] });
    a.add(1, [0.5, 0.6, 0.7, 0.8]);
    const s = a.spec() as unknown as Spec;
    assert.equal(s.encoding.x.title, "epoch");
    assert.deepEqual(s.encoding.x.scale.domain, [1, 10]);
    assert.deepEqual(s.encoding.y.scale.domain, [0.3, 0.9]);
    assert.equal(s.encoding.y.scale.type, "log");
    assert.deepEqual(s.encoding.color.scale.domain, ["a", "b", "c", "d"]);
    assert.deepEqual(s.encoding.color.scale.range, ["#1f77b4", "#bf00bf", "#008000", "#ff0000"]);
    assert.deepEqual(s.layer[0].encoding?.strokeDash?.scale.range, [
      [1, 0],
      [6, 3],
      [8, 3, 2, 3],
      [2, 2],
    ]);
  });

  test("text/plain gives the last value of each series", () => {
    const a = new Animator({ xlabel: "epoch", legend: ["train loss", "test acc"] });
    assert.match(a.text(), /no data yet/);
    a.add(1, [0.51234, null]);
    a.add(2, [0.4, 0.8]);
    assert.equal(a.text(), "<Animator at epoch 2: train loss 0.4, test acc 0.8>");
  });

  test("outside the kernel nothing is shown, but bundle() is the current plot", () => {
    removeBridge();
    const a = new Animator({ legend: ["loss"] });
    a.add(1, 1);
    a.add(2, 0.5);
    a.finish();
    const b = a.bundle();
    assert.deepEqual(Object.keys(b).sort(), [VEGALITE_MIME, "image/png", "text/plain"].sort());
    assert.equal("text/html" in b, false);
    assert.deepEqual(points(b[VEGALITE_MIME] as object, "loss"), [
      [1, 1],
      [2, 0.5],
    ]);
    const out = a[SYM]();
    const meta = out.metadata["image/png"] as { width: number; height: number };
    assert.deepEqual(pngSize(out.data["image/png"] as string), { width: meta.width * 2, height: meta.height * 2 });
  });
});

describe("Animator in the kernel (one live output)", () => {
  let calls: Call[];
  beforeEach(() => {
    calls = installBridge();
  });
  afterEach(removeBridge);

  test("every add updates the same display id; the first displays, the rest update", () => {
    const a = new Animator({ legend: ["loss", "acc"] });
    for (let e = 1; e <= 5; e++) a.add(e, [1 / e, 1 - 1 / e]);
    a.finish();
    assert.ok(calls.length >= 5);
    const id = calls[0].displayId;
    assert.ok(typeof id === "string" && id.length > 0);
    assert.ok(
      calls.every((c) => c.displayId === id),
      "one display id for all updates",
    );
    assert.equal(calls[0].update, false);
    assert.ok(calls.slice(1).every((c) => c.update));
    for (const c of calls) {
      assert.equal("text/html" in c.data, false);
      assert.equal(typeof c.data[VEGALITE_MIME], "object");
    }
    const last = calls[calls.length - 1];
    assert.equal(points(last.data[VEGALITE_MIME] as object, "loss").length, 5);
  });

  test("add() does not wait for the PNG: the first update has none, the PNG follows from the worker in place", async () => {
    const a = new Animator({ legend: ["loss"] });
    a.add(1, [1]);
    assert.equal(calls.length, 1);
    assert.equal("image/png" in calls[0].data, false, "add() showed the data before any PNG was drawn");
    assert.equal(points(calls[0].data[VEGALITE_MIME] as object, "loss").length, 1);
    const withPng = await waitFor(() => calls.find((c) => typeof c.data["image/png"] === "string"));
    assert.equal(withPng.displayId, calls[0].displayId);
    assert.equal(withPng.update, true);
    const meta = withPng.metadata["image/png"] as { width: number; height: number };
    assert.deepEqual(pngSize(withPng.data["image/png"] as string), { width: meta.width * 2, height: meta.height * 2 });
    a.finish();
  });

  test("the PNG is throttled while adding; vega-lite updates every add and keeps the last PNG; finish() draws the final PNG", async () => {
    const a = new Animator({ pngIntervalMs: 60_000 });
    a.add(1, [1]);
    const first = await waitFor(() => calls.find((c) => typeof c.data["image/png"] === "string"));
    const png1 = first.data["image/png"];
    const n = calls.length;
    a.add(2, [2]);
    a.add(3, [3]);
    assert.equal(calls.length, n + 2, "one update per add");
    assert.equal(calls[n].data["image/png"], png1, "the last PNG stays in the bundle");
    assert.equal(calls[n + 1].data["image/png"], png1, "PNG not redrawn within the interval");
    assert.equal(points(calls[n + 1].data[VEGALITE_MIME] as object, "y0").length, 3, "vega-lite has every point");
    a.finish();
    assert.equal(calls.length, n + 3, "finish() shows the final state before it returns");
    const last = calls[n + 2];
    assert.equal(last.update, true);
    assert.equal(last.displayId, calls[0].displayId);
    assert.notEqual(last.data["image/png"], png1, "finish() redraws the PNG");
    assert.equal(points(last.data[VEGALITE_MIME] as object, "y0").length, 3);
    a.finish();
    assert.equal(calls.length, n + 3, "a second finish() has nothing new to show");
  });

  test("nothing updates the output after finish(): a redraw under way is dropped", async () => {
    const a = new Animator({ legend: ["loss"] });
    a.add(1, [1]); // asks the worker for a PNG
    a.add(2, [0.5]);
    a.finish();
    const n = calls.length;
    const final = calls[n - 1];
    assert.equal(typeof final.data["image/png"], "string", "the final bundle has the PNG");
    assert.equal(points(final.data[VEGALITE_MIME] as object, "loss").length, 2);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(calls.length, n, "no update after finish()");
  });

  test("after an interrupt, a redraw asked for before it does not update the output", async () => {
    let generation = 0;
    const g = globalThis as Record<symbol, unknown>;
    g[KERNEL] = { generation: () => generation };
    try {
      const a = new Animator({ legend: ["loss"] });
      a.add(1, [1]);
      generation++; // the user pressed stop while the PNG was being drawn
      const n = calls.length;
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(calls.length, n, "the stale redraw was dropped");
      a.add(2, [0.5]); // a later cell goes on with the same animator
      await waitFor(() => (calls.length > n + 1 ? calls[calls.length - 1] : undefined));
      assert.equal(typeof calls[calls.length - 1].data["image/png"], "string", "redraws resume after the interrupt");
      a.finish();
    } finally {
      delete g[KERNEL];
    }
  });

  test("a stale PNG is redrawn shortly after the last add even without finish()", async () => {
    const a = new Animator({ pngIntervalMs: 40 });
    a.add(1, [1]);
    await waitFor(() => calls.find((c) => typeof c.data["image/png"] === "string"));
    a.add(2, [2]);
    const n = calls.length;
    const stale = calls[n - 1].data["image/png"];
    assert.equal(typeof stale, "string");
    const next = await waitFor(() => calls.slice(n).find((c) => c.data["image/png"] !== stale));
    assert.equal(typeof next.data["image/png"], "string");
    assert.equal(next.displayId, calls[0].displayId);
    a.finish();
  });
});
