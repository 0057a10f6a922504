/**
 * Plots of tensors that live on the GPU (issue 23), on webgpu under Node
 * (lavapipe in CI: run-all.sh sources its env and sets D2L_REQUIRE_WEBGPU=1).
 *
 * The plot functions stay synchronous. On webgpu a tensor that cannot be read
 * synchronously makes a pending figure: `bundle()` and `spec` throw the error
 * that says to `await fig.ready()`, the figure keeps a clone (disposing the
 * original loses nothing), and `ready()` reads it with `await`, frees the
 * clone and builds the figure. The figure then equals, to the byte, the same
 * plot drawn from host arrays holding the same values. On cpu nothing is
 * pending. Each backend runs in a child process (this file, with
 * D2L_PLOTS_CHILD set).
 */
import { describe, it, before } from "node:test";
import * as assert from "node:assert/strict";
import { runChild } from "./child";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import { toDisplayAsync } from "../../kernel/display";

const REQUIRE_WEBGPU = process.env.D2L_REQUIRE_WEBGPU === "1";

interface Case {
  /** Whether the figure from GPU tensors was pending when returned. */
  pending: boolean;
  /** The message of `bundle()` on the figure just returned ("" when it gave a bundle). */
  bundleError: string;
  /** The figure's JSON (spec, plotly JSON, or the bundle for image grids) once ready, and the same from host arrays. */
  fromTensors: string;
  fromArrays: string;
}

interface Result {
  backend?: string;
  cases?: Record<string, Case>;
  /** tf.memory().numTensors before the plots and after every figure was prepared and the inputs disposed. */
  tensorsBefore?: number;
  tensorsAfter?: number;
  /** The error a 3-D tensor gives d2l.plot at the call. */
  badShape?: string;
  /** text/plain of the kernel's display of a pending figure (toDisplayAsync awaits its preparation). */
  kernelText?: string;
  error?: string;
}

function figureJson(fig: d2l.Figure): string {
  if (fig instanceof d2l.PlotlyFigure) return JSON.stringify(fig.figure);
  return JSON.stringify(fig.spec ?? fig.bundle());
}

/** The child: plot tensors computed on the backend (more than webgpu's 1,000-element CPU hand-off, so they live on the GPU). */
async function childMain(mode: string): Promise<void> {
  try {
    await d2l.useBackend(mode);
    const tensorsBefore = tf.memory().numTensors;
    const cases: Record<string, Case> = {};
    const check = async (name: string, make: () => tf.Tensor[], draw: (inputs: (tf.Tensor | number[] | number[][])[]) => d2l.Figure): Promise<void> => {
      const inputs = make();
      const arrays = await Promise.all(inputs.map((t) => t.array() as Promise<number[] | number[][]>));
      // Fresh tensors: the reads above left host copies of `inputs`, which read synchronously.
      const gpu = inputs.map((t) => tf.tidy(() => t.add(0)));
      const fig = draw(gpu);
      let bundleError = "";
      try {
        fig.bundle();
      } catch (e) {
        bundleError = (e as Error).message;
      }
      const pending = !fig.isReady;
      tf.dispose([...inputs, ...gpu]); // the figure must have kept what it needs
      await fig.ready();
      cases[name] = { pending, bundleError, fromTensors: figureJson(fig), fromArrays: figureJson(draw(arrays)) };
    };
    await check(
      "plot",
      () => tf.tidy(() => [tf.range(0, 1200).mul(0.01), tf.range(0, 1200).mul(0.01).square()]),
      ([x, y]) => d2l.plot(x as tf.Tensor, y as tf.Tensor, { xlabel: "x", ylabel: "x^2" }),
    );
    await check(
      "plot 2-D",
      () => tf.tidy(() => [tf.range(0, 2400).reshape([2, 1200]).sin()]),
      ([y]) => d2l.plot(y as tf.Tensor),
    );
    await check(
      "showHeatmaps",
      () => tf.tidy(() => [tf.range(0, 1600).reshape([40, 40]).div(1600).reshape([1, 1, 40, 40])]),
      ([m]) => d2l.showHeatmaps(m as d2l.HeatmapData, "Keys", "Queries"),
    );
    await check(
      "showImages",
      () =>
        tf.tidy(() => [
          tf
            .range(0, 2 * 28 * 28)
            .reshape([2, 28, 28])
            .div(2 * 28 * 28),
        ]),
      ([x]) => d2l.showImages(Array.isArray(x) ? (x as unknown as number[][][]) : (x as tf.Tensor), 1, 2, { titles: ["a", "b"] }),
    );
    await check(
      "showBoxes",
      () =>
        tf.tidy(() => [
          tf
            .range(0, 40 * 40 * 3)
            .reshape([40, 40, 3])
            .div(4800),
          tf.tensor2d([
            [2, 3, 20, 30],
            [10, 10, 35, 38],
          ]),
        ]),
      ([img, boxes]) => {
        if (!Array.isArray(img)) return d2l.showBoxes(img, boxes as tf.Tensor, ["one", "two"]);
        const host = tf.tensor3d(img as unknown as number[][][]);
        try {
          return d2l.showBoxes(host, boxes as number[][], ["one", "two"]);
        } finally {
          host.dispose();
        }
      },
    );
    await check(
      "plotly",
      () => tf.tidy(() => [tf.range(0, 1600).reshape([40, 40]).square().div(1000)]),
      ([z]) => d2l.plotly([{ type: "heatmap", z }]),
    );
    const tensorsAfter = tf.memory().numTensors;
    let badShape = "";
    const cube = tf.tidy(() => tf.range(0, 1728).reshape([12, 12, 12]).add(1));
    try {
      d2l.plot(cube);
    } catch (e) {
      badShape = (e as Error).message;
    }
    cube.dispose();
    const v = tf.tidy(() => tf.range(0, 1500).sqrt());
    const shown = await toDisplayAsync(d2l.plot(v));
    v.dispose();
    console.log(JSON.stringify({ backend: tf.getBackend(), cases, tensorsBefore, tensorsAfter, badShape, kernelText: shown.data["text/plain"] as string } satisfies Result));
  } catch (e) {
    console.log(JSON.stringify({ error: (e as Error).stack ?? String(e) }));
    process.exitCode = 2;
  }
}

function child(mode: string): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, D2L_PLOTS_CHILD: mode };
  delete env.D2L_BACKEND;
  return runChild<Result>(__filename, env, mode, 240_000);
}

if (process.env.D2L_PLOTS_CHILD) {
  void childMain(process.env.D2L_PLOTS_CHILD);
} else {
  describe("plots of GPU tensors", { timeout: 300_000 }, () => {
    let cpu: Result;
    let webgpu: Result;
    before(async () => {
      [cpu, webgpu] = await Promise.all([child("cpu"), child("webgpu")]);
    });

    function webgpuRan(t: { diagnostic(m: string): void }): boolean {
      if (webgpu.error && !REQUIRE_WEBGPU) {
        assert.match(webgpu.error, /backend "webgpu" cannot load/);
        t.diagnostic(`webgpu not available; run test/backend/setup-lavapipe.sh to test it`);
        return false;
      }
      assert.equal(webgpu.error, undefined, `D2L_REQUIRE_WEBGPU=1 but: ${webgpu.error}`);
      assert.equal(webgpu.backend, "webgpu");
      return true;
    }

    const NAMES = ["plot", "plot 2-D", "showHeatmaps", "showImages", "showBoxes", "plotly"];

    it("on cpu no figure is pending, and a plot of tensors equals the plot of their arrays", () => {
      assert.equal(cpu.error, undefined, cpu.error);
      assert.deepEqual(Object.keys(cpu.cases ?? {}), NAMES);
      for (const [name, c] of Object.entries(cpu.cases ?? {})) {
        assert.equal(c.pending, false, name);
        assert.equal(c.bundleError, "", name);
        assert.equal(c.fromTensors, c.fromArrays, name);
      }
    });

    it("on webgpu a figure of GPU tensors is pending, its bundle says to await fig.ready(), and once ready it equals the plot of the arrays", (t) => {
      if (!webgpuRan(t)) return;
      assert.deepEqual(Object.keys(webgpu.cases ?? {}), NAMES);
      for (const [name, c] of Object.entries(webgpu.cases ?? {})) {
        assert.equal(c.pending, true, `${name}: its tensors are on the GPU`);
        assert.match(c.bundleError, /values are still on the GPU .*await fig\.ready\(\) first/, name);
        assert.ok(c.fromTensors.length > 100, name);
        assert.equal(c.fromTensors, c.fromArrays, `${name}: the figure read with await equals the figure of the same values as arrays`);
      }
    });

    it("the plots' numbers agree between webgpu and cpu", (t) => {
      if (!webgpuRan(t)) return;
      const values = (s: string): number[] => (s.match(/-?\d+(\.\d+)?(e-?\d+)?/g) ?? []).map(Number);
      for (const name of ["plot", "showHeatmaps"]) {
        const a = values(webgpu.cases?.[name]?.fromTensors ?? "");
        const b = values(cpu.cases?.[name]?.fromTensors ?? "");
        assert.equal(a.length, b.length, name);
        const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i]))));
        assert.ok(worst < 1e-4, `${name}: largest relative difference ${worst}`);
      }
    });

    it("preparing frees the clones: no tensor is left behind", (t) => {
      assert.equal(cpu.tensorsAfter, cpu.tensorsBefore);
      if (!webgpuRan(t)) return;
      assert.equal(webgpu.tensorsAfter, webgpu.tensorsBefore);
    });

    it("bad input still fails at the call, and the kernel's display awaits a pending figure", (t) => {
      for (const r of webgpuRan(t) ? [cpu, webgpu] : [cpu]) {
        assert.match(r.badShape ?? "", /^plot: X is a tensor of shape \[12, 12, 12\]; expected 1-D/);
        assert.match(r.kernelText ?? "", /^<plot: 1 series; 1500 points; x 0\.\.1499, y 0\.\.38\.7/);
      }
    });
  });
}
