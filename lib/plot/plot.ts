/**
 * `d2l.plot`: the book's one-call line plot.
 */
import type { Tensor } from "@tensorflow/tfjs";
import { Figure, figureFrom, plotBundle, ReadValues, tryRenderPng } from "./figure";
import { AxesOptions, fmtNum, lineSpec, resolveAxes, seriesNames, SeriesData } from "./spec";

/** One series of values: a number array, a typed array, or a 1-D tensor. */
export type PlotSeries = ArrayLike<number> | Tensor;

/** What {@link plot} takes for X and Y: one series, several series, or a 2-D tensor (one series per row). */
export type PlotData = PlotSeries | ReadonlyArray<PlotSeries>;

/** Options of {@link plot}: the book's keyword arguments. */
export type PlotOptions = AxesOptions;

function isTensor(v: unknown): v is Tensor {
  return typeof v === "object" && v !== null && Array.isArray((v as { shape?: unknown }).shape) && "dataId" in v;
}

function isArrayLike(v: unknown): v is ArrayLike<number> {
  return (Array.isArray(v) || ArrayBuffer.isView(v)) && !(v instanceof DataView);
}

function numbers(v: ArrayLike<number>, what: string): number[] {
  const out = Array.from(v as ArrayLike<unknown>, (e, i) => {
    if (typeof e !== "number") throw new Error(`plot: ${what}[${i}] is ${describe(e)}; expected a number`);
    return e;
  });
  return out;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (isTensor(v)) return `a tensor of shape [${v.shape.join(", ")}]`;
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

/** Values of a tensor as series: rank 1 is one series, rank 2 one per row. */
function tensorSeries(t: Tensor, what: string, read: ReadValues): number[][] {
  if (read.disposed(t)) throw new Error(`plot: ${what} is a disposed tensor; plot it before disposing it (or plot await t.array() instead)`);
  if (t.rank > 2) throw new Error(`plot: ${what} is a tensor of shape [${t.shape.join(", ")}]; expected 1-D (one series) or 2-D (one series per row)`);
  const flat = Array.from(read(t));
  if (t.rank <= 1) return [flat];
  const [r, c] = t.shape;
  return Array.from({ length: r }, (_, i) => flat.slice(i * c, (i + 1) * c));
}

/** The book's `has_one_axis`: one series rather than a list of series. */
function oneAxis(v: PlotData): boolean {
  if (isTensor(v)) return v.rank <= 1;
  if (!isArrayLike(v)) return false;
  if (ArrayBuffer.isView(v)) return true;
  return v.length === 0 || typeof (v as ArrayLike<unknown>)[0] === "number";
}

function toSeriesList(v: PlotData, what: string, read: ReadValues): number[][] {
  if (isTensor(v)) return tensorSeries(v, what, read);
  if (!isArrayLike(v)) throw new Error(`plot: ${what} is ${describe(v)}; expected numbers, an array of number arrays, or a tensor`);
  if (oneAxis(v)) return [numbers(v as ArrayLike<number>, what)];
  return Array.from(v as unknown as ReadonlyArray<PlotSeries>, (s, k) => {
    if (isTensor(s)) {
      if (s.rank > 1) throw new Error(`plot: ${what}[${k}] is a tensor of shape [${s.shape.join(", ")}]; each series must be 1-D`);
      return tensorSeries(s, `${what}[${k}]`, read)[0];
    }
    if (!isArrayLike(s)) throw new Error(`plot: ${what}[${k}] is ${describe(s)}; expected a number array or a 1-D tensor`);
    return numbers(s, `${what}[${k}]`);
  });
}

function isOptions(v: unknown): v is PlotOptions {
  return typeof v === "object" && v !== null && !isArrayLike(v) && !isTensor(v);
}

function range(values: number[]): string {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? `${fmtNum(lo)}..${fmtNum(hi)}` : "no finite values";
}

/**
 * Plot data points as lines, the book's `d2l.plot(X, Y=None, xlabel=None,
 * ylabel=None, legend=[], xlim=None, ylim=None, xscale='linear',
 * yscale='linear', fmts=('-', 'm--', 'g-.', 'r:'), figsize=(3.5, 2.5))`.
 *
 * X and Y are each one series (numbers, a typed array, a 1-D tensor), several
 * series (an array of those), or a 2-D tensor (one series per row). Without
 * Y, X is plotted against its indices; one X series is shared by all Y series.
 *
 * Display (a deliberate choice): `plot` shows nothing by itself; it returns a
 * {@link Figure} that renders itself (vega-lite, PNG and text) as the cell's
 * last value, so a cell ending in `d2l.plot(...)` shows the plot exactly once.
 * Elsewhere in a cell, call `.show()` on it (or `display(fig)`).
 *
 * Tensors on the GPU (webgpu): `plot` still returns at once; the figure reads
 * them with `await` when it is shown, or on `await fig.ready()` (see {@link Figure}).
 *
 * @example
 * const x = tf.range(0, 3, 0.1);
 * d2l.plot(x, [x.square(), x.mul(2).sub(3)], { xlabel: "x", ylabel: "f(x)", legend: ["f(x)", "Tangent line (x=1)"] });
 * @example
 * d2l.plot([3, 1, 2]); // against indices 0, 1, 2
 */
export function plot(X: PlotData, Y?: PlotData | PlotOptions | null, options: PlotOptions = {}): Figure {
  if (isOptions(Y)) {
    options = Y;
    Y = undefined;
  }
  const axes = resolveAxes(options, "plot");
  const y = Y as PlotData | undefined | null;
  return figureFrom((read) => buildPlot(X, y, axes, read));
}

/** The figure of {@link plot}, its tensors' values read through `read`. */
function buildPlot(X: PlotData, Y: PlotData | undefined | null, axes: ReturnType<typeof resolveAxes>, read: ReadValues): Figure {
  let xs = toSeriesList(X, "X", read);
  let ys: number[][];
  if (Y === undefined || Y === null) {
    ys = xs;
    xs = ys.map(() => []);
  } else {
    ys = toSeriesList(Y, "Y", read);
  }
  if (xs.length !== ys.length) {
    if (xs.length !== 1) {
      throw new Error(`plot: got ${xs.length} X series and ${ys.length} Y series; give one X for all, or one X per Y series`);
    }
    xs = ys.map(() => xs[0]);
  }
  const series: SeriesData[] = ys.map((y, k) => {
    const x = xs[k].length === 0 ? y.map((_, i) => i) : xs[k];
    if (x.length !== y.length) {
      throw new Error(`plot: series ${k} has ${x.length} x values and ${y.length} y values; they must match`);
    }
    return { x, y };
  });
  const spec = lineSpec(series, axes);
  const names = seriesNames(series.length, axes.legend);
  const allX = series.flatMap((s) => s.x);
  const allY = series.flatMap((s) => s.y);
  const n = series.reduce((a, s) => a + s.y.length, 0);
  const what = axes.legend.length > 0 ? names.join(", ") : `${series.length} series`;
  const text = `<plot: ${what}; ${n} points; ` + `${axes.xlabel ?? "x"} ${range(allX)}, ${axes.ylabel ?? "y"} ${range(allY)}>`;
  return new Figure(() => plotBundle(spec, tryRenderPng(spec), text), text, spec);
}
