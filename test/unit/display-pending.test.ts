/**
 * A pending figure (one whose tensors live on the GPU, issue 23) and the
 * kernel's display of it, without a GPU: a figure made pending by hand
 * (Figure.defer, what figureFrom does when readsSync is false) behaves as one
 * of webgpu's. test/backend/webgpu-plots.test.ts runs the real thing on lavapipe.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { Figure, PREPARE, figureFrom } from "../../lib/plot/figure";
import { plot } from "../../lib/plot/plot";
import { plotly, PlotlyFigure } from "../../lib/plot/plotly";
import { needsAwait, toDisplay, toDisplayAsync, toDisplayNow } from "../../kernel/display";
import { display, installBridge, OutputBridge } from "../../kernel/cellapi";
import * as tf from "@tensorflow/tfjs";

/** A figure that waits for `built` until `release()` is called, as a GPU read waits. */
function pendingLike<F extends Figure>(placeholder: F, built: F): { fig: F; release: () => void; calls: () => number } {
  let release = (): void => undefined;
  let calls = 0;
  const gate = new Promise<void>((r) => (release = r));
  placeholder.defer(async () => {
    calls++;
    await gate;
    return built;
  });
  return { fig: placeholder, release: () => release(), calls: () => calls };
}

describe("a pending figure", () => {
  it("says to await fig.ready() from its sync accessors, and becomes the figure built once ready", async () => {
    const built = plot([1, 2, 3], [1, 4, 9], { xlabel: "x" });
    const { fig, release, calls } = pendingLike(plot([0, 0, 0]), built);
    assert.equal(fig.isReady, false);
    assert.match(fig.text, /values are on the GPU; display\(fig\) shows it, or await fig\.ready\(\) first/);
    assert.equal(String(fig), fig.text);
    for (const read of [() => fig.bundle(), () => fig.displayBundle(), () => fig.spec, () => toDisplay(fig)]) {
      assert.throws(read, /still on the GPU \(webgpu cannot read them synchronously\).*await fig\.ready\(\) first/);
    }
    const a = fig.ready();
    const b = fig[PREPARE]();
    release();
    assert.equal(await a, fig, "ready() resolves to the figure itself");
    await b;
    assert.equal(calls(), 1, "prepared once, however often asked");
    assert.equal(fig.isReady, true);
    assert.deepEqual(fig.spec, built.spec);
    assert.equal(fig.text, built.text);
    assert.deepEqual(fig.bundle(), built.bundle());
  });

  it("a failed preparation can be tried again", async () => {
    const fig = plot([1]);
    let n = 0;
    fig.defer(async () => {
      if (++n === 1) throw new Error("read failed");
      return plot([5, 6]);
    });
    await assert.rejects(fig.ready(), /read failed/);
    assert.equal(fig.isReady, false);
    await fig.ready();
    assert.match(fig.text, /2 points/);
  });

  it("a plotly figure's JSON waits too, and is the built one's after", async () => {
    const built = plotly([{ type: "scatter", x: [1, 2], y: [3, 4] }]);
    const { fig, release } = pendingLike<PlotlyFigure>(plotly([{ type: "scatter", x: [0, 0], y: [0, 0] }]), built);
    assert.throws(() => fig.figure, /await fig\.ready\(\) first/);
    release();
    await fig.ready();
    assert.deepEqual(fig.figure, built.figure);
  });

  it("figureFrom builds once, synchronously, when every tensor reads synchronously (cpu)", () => {
    const t = tf.tensor1d([1, 2, 3]);
    let builds = 0;
    const fig = figureFrom((read) => {
      builds++;
      return new Figure(() => ({ data: { "text/plain": "x" }, metadata: {} }), `sum ${Array.from(read(t)).reduce((a, b) => a + b, 0)}`);
    });
    assert.equal(builds, 1);
    assert.equal(fig.isReady, true);
    assert.equal(fig.text, "sum 6");
    t.dispose();
  });
});

describe("the kernel's display of a pending figure", () => {
  it("needsAwait, toDisplayNow and toDisplayAsync: a promise only while pending, the built bundle after", async () => {
    const built = plot([2, 4]);
    const { fig, release } = pendingLike(plot([0, 0]), built);
    assert.equal(needsAwait(fig), true);
    assert.equal(needsAwait(built), false);
    assert.equal(needsAwait(tf.tensor1d([1, 2])), false, "a cpu tensor reads synchronously");
    const later = toDisplayNow(fig);
    assert.ok(later instanceof Promise);
    const now = toDisplayNow(built);
    assert.ok(!(now instanceof Promise));
    release();
    const out = await later;
    assert.equal(out.data["text/plain"], built.text);
    assert.deepEqual((await toDisplayAsync(fig)).data, now.data);
  });

  it("display(fig) hands the bridge a promise, in order with what follows; update() likewise", async () => {
    const sent: { out: unknown; id: string | undefined; update: boolean }[] = [];
    const bridge: OutputBridge = {
      display: (out, id, update) => sent.push({ out, id, update }),
      clearOutput: () => undefined,
      input: async () => "",
      inputSync: () => "",
      broadcast: () => undefined,
      page: () => undefined,
    };
    const key = Symbol.for("d2l-ts.output");
    const before = (globalThis as Record<symbol, unknown>)[key];
    installBridge(bridge);
    try {
      const { fig, release } = pendingLike(plot([0, 0]), plot([7, 8]));
      const h = display(fig);
      display("after");
      const { fig: fig2, release: release2 } = pendingLike(plot([0]), plot([9]));
      h.update(fig2);
      assert.equal(sent.length, 3);
      assert.ok(sent[0].out instanceof Promise, "the pending figure goes as a promise");
      assert.deepEqual(sent[1].out, { data: { "text/plain": "'after'" }, metadata: {} });
      assert.ok(sent[2].out instanceof Promise);
      assert.equal(sent[2].id, h.displayId);
      assert.equal(sent[2].update, true);
      release();
      release2();
      assert.match(String(((await sent[0].out) as { data: Record<string, unknown> }).data["text/plain"]), /2 points/);
      assert.match(String(((await sent[2].out) as { data: Record<string, unknown> }).data["text/plain"]), /1 points?/);
    } finally {
      (globalThis as Record<symbol, unknown>)[key] = before;
    }
  });
});
