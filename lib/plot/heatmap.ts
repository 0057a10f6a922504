/**
 * `d2l.showHeatmaps`: attention weights (or any matrices) as heat maps in a
 * grid of panels with one colour bar, the book's `show_heatmaps` (section
 * 10.1). A vega-lite spec (a faceted rect chart) with its PNG, like {@link plot}.
 */
import type { Tensor } from "@tensorflow/tfjs";
import { Figure, figureFrom, plotBundle, ReadValues, tryRenderPng } from "./figure";
import { fmtNum, PX_PER_INCH, type VegaLiteSpec } from "./spec";

/** What {@link showHeatmaps} takes: a tensor `[rows, cols, numQueries, numKeys]`, or nested arrays of that shape. */
export type HeatmapData = Tensor | ReadonlyArray<ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>>;

/** Options of {@link showHeatmaps}: the book's keyword arguments after `xlabel` and `ylabel`. */
export interface ShowHeatmapsOptions {
  /** A title above each column of panels (the book's `titles`, `titles[j]` for column j); default none. */
  titles?: readonly string[];
  /** Size of the whole grid in inches (72 px each), the book's `figsize`; default `[2.5, 2.5]`. Cells stay square, as matplotlib's `imshow`. */
  figsize?: [number, number];
  /**
   * A matplotlib colour map (the book's `cmap`, default `"Reds"`): Reds, Blues, Greens, Greys, Oranges,
   * Purples, viridis, magma, inferno, plasma, cividis, turbo, YlOrRd, YlGnBu, RdBu, BuGn, PuBu; `_r` reverses it.
   */
  cmap?: string;
}

/** matplotlib colour-map names → vega's schemes of the same colours. */
const SCHEMES: Record<string, string> = {
  reds: "reds",
  blues: "blues",
  greens: "greens",
  greys: "greys",
  gray: "greys",
  oranges: "oranges",
  purples: "purples",
  viridis: "viridis",
  magma: "magma",
  inferno: "inferno",
  plasma: "plasma",
  cividis: "cividis",
  turbo: "turbo",
  ylorrd: "yelloworangered",
  ylgnbu: "yellowgreenblue",
  rdbu: "redblue",
  bugn: "bluegreen",
  pubu: "purpleblue",
};

const EXPECTED = "a tensor or nested arrays of shape [rows, cols, numQueries, numKeys] (e.g. weights.reshape([1, 1, numQueries, numKeys]) for one matrix)";

interface Grid {
  shape: [number, number, number, number];
  data: ArrayLike<number>;
}

function isTensor(v: unknown): v is Tensor {
  return typeof v === "object" && v !== null && Array.isArray((v as { shape?: unknown }).shape) && "dataId" in v;
}

function readGrid(m: HeatmapData, read: ReadValues): Grid {
  if (isTensor(m)) {
    if (read.disposed(m)) throw new Error("showHeatmaps: the matrices tensor is disposed; show it before disposing it");
    if (m.rank !== 4) throw new Error(`showHeatmaps: matrices must be ${EXPECTED}; got a tensor of shape [${m.shape.join(", ")}]`);
    return { shape: m.shape as [number, number, number, number], data: read(m) };
  }
  if (!Array.isArray(m)) throw new Error(`showHeatmaps: matrices must be ${EXPECTED}; got ${m === null ? "null" : typeof m}`);
  const dims: number[] = [];
  let level: unknown = m;
  for (let d = 0; d < 4; d++) {
    if (!Array.isArray(level)) throw new Error(`showHeatmaps: matrices must be ${EXPECTED}; got nested arrays only ${d} deep`);
    dims.push(level.length);
    level = level[0];
  }
  if (typeof level !== "number" && dims.every((n) => n > 0)) throw new Error(`showHeatmaps: matrices must be ${EXPECTED}; got arrays nested deeper than 4`);
  const [R, C, Q, K] = dims;
  const data = new Float64Array(R * C * Q * K);
  for (let r = 0; r < R; r++) {
    const row = m[r];
    if (!Array.isArray(row) || row.length !== C) throw new Error(`showHeatmaps: matrices[${r}] must have ${C} matrices like matrices[0]`);
    for (let c = 0; c < C; c++) {
      const mat = row[c];
      if (!Array.isArray(mat) || mat.length !== Q) throw new Error(`showHeatmaps: matrices[${r}][${c}] must have ${Q} rows like matrices[0][0]`);
      for (let q = 0; q < Q; q++) {
        const line = mat[q];
        if (!Array.isArray(line) || line.length !== K) throw new Error(`showHeatmaps: matrices[${r}][${c}][${q}] must have ${K} values like matrices[0][0][0]`);
        for (let k = 0; k < K; k++) {
          const v = line[k];
          if (typeof v !== "number") throw new Error(`showHeatmaps: matrices[${r}][${c}][${q}][${k}] is ${typeof v}; expected a number`);
          data[((r * C + c) * Q + q) * K + k] = v;
        }
      }
    }
  }
  return { shape: [R, C, Q, K], data };
}

function scheme(cmap: unknown): { scheme: string; reverse: boolean } {
  if (typeof cmap !== "string") throw new Error(`showHeatmaps: cmap must be a colour map name such as "Reds"; got ${typeof cmap}`);
  const reverse = cmap.endsWith("_r");
  const name = (reverse ? cmap.slice(0, -2) : cmap).toLowerCase();
  const s = SCHEMES[name];
  if (!s)
    throw new Error(
      `showHeatmaps: unknown cmap ${JSON.stringify(cmap)}; use one of Reds, Blues, Greens, Greys, Oranges, Purples, viridis, magma, inferno, plasma, cividis, turbo, YlOrRd, YlGnBu, RdBu, BuGn, PuBu (add "_r" to reverse)`,
    );
  return { scheme: s, reverse };
}

/** Six significant digits: enough for a colour, and a smaller spec. */
function short(v: number): number {
  return Number(v.toPrecision(6));
}

/**
 * Show matrices as heat maps, the book's `d2l.show_heatmaps(matrices, xlabel,
 * ylabel, titles=None, figsize=(2.5, 2.5), cmap='Reds')` (section 10.1):
 * `matrices` is `[rows, cols, numQueries, numKeys]`, one panel per matrix in
 * a `rows` × `cols` grid (matrix `[i][j]` in row i, column j), keys across and
 * queries down as matplotlib's `imshow` draws them (cell centres at whole
 * numbers, row 0 at the top). `xlabel` goes under the bottom row, `ylabel`
 * left of the first column, `titles[j]` above column j, as in the book; one
 * colour scale for all panels (the book's colour bar is the last panel's),
 * from the smallest value to the largest. Returns a {@link Figure} (vega-lite
 * spec, PNG, text), shown as a cell's last value or with `.show()`; weights
 * on the GPU (webgpu) are read with `await` when it is shown (see {@link Figure}).
 *
 * @example
 * const attentionWeights = tf.eye(10).reshape([1, 1, 10, 10]);
 * d2l.showHeatmaps(attentionWeights, "Keys", "Queries");
 * @example
 * // per head, as the book shows a Transformer's attention: [numLayers, numHeads, numQueries, numKeys]
 * d2l.showHeatmaps(weights, "Key positions", "Query positions", { titles: ["Head 1", "Head 2", "Head 3", "Head 4"], figsize: [7, 3.5] });
 */
export function showHeatmaps(matrices: HeatmapData, xlabel: string, ylabel: string, options: ShowHeatmapsOptions = {}): Figure {
  for (const [name, v] of [
    ["xlabel", xlabel],
    ["ylabel", ylabel],
  ] as const) {
    if (typeof v !== "string") throw new Error(`showHeatmaps: ${name} must be a string (an axis title, e.g. "Keys"); got ${typeof v}`);
  }
  const figsize = options.figsize ?? [2.5, 2.5];
  if (!Array.isArray(figsize) || figsize.length !== 2 || !figsize.every((v) => typeof v === "number" && v > 0 && Number.isFinite(v))) {
    throw new Error(`showHeatmaps: figsize must be [width, height] in inches, both positive, e.g. [2.5, 2.5]; got ${JSON.stringify(figsize)}`);
  }
  const titles = options.titles ?? [];
  if (!Array.isArray(titles) || !titles.every((t) => typeof t === "string")) {
    throw new Error(`showHeatmaps: titles must be an array of strings, one per column; got ${JSON.stringify(titles)}`);
  }
  const colours = scheme(options.cmap ?? "Reds");
  return figureFrom((read) => buildHeatmaps(readGrid(matrices, read), xlabel, ylabel, figsize, titles, colours));
}

/** The figure of {@link showHeatmaps} from the matrices' values. */
function buildHeatmaps(
  grid: Grid,
  xlabel: string,
  ylabel: string,
  figsize: readonly [number, number],
  titles: readonly string[],
  colours: { scheme: string; reverse: boolean },
): Figure {
  const { shape, data } = grid;
  const [R, C, Q, K] = shape;
  if (R * C * Q * K === 0) throw new Error(`showHeatmaps: matrices must be ${EXPECTED} with no zero size; got shape [${shape.join(", ")}]`);
  const values: { r: number; c: number; q: number; k: number; v: number }[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      for (let q = 0; q < Q; q++) {
        for (let k = 0; k < K; k++) {
          const v = data[((r * C + c) * Q + q) * K + k];
          if (!Number.isFinite(v)) continue; // left blank
          if (v < lo) lo = v;
          if (v > hi) hi = v;
          values.push({ r, c, q, k, v: short(v) });
        }
      }
    }
  }
  const domain = lo <= hi ? (lo < hi ? [lo, hi] : [lo - 0.5, hi + 0.5]) : [0, 1];
  // the grid fills figsize, cells square (imshow's aspect), at least 4 px each
  const cell = Math.max(4, Math.min((figsize[0] * PX_PER_INCH * 0.8) / (C * K), (figsize[1] * PX_PER_INCH * 0.85) / (R * Q)));
  const width = Math.max(20, Math.round(cell * K));
  const height = Math.max(20, Math.round(cell * Q));
  const hasTitles = titles.length > 0;
  const axisCommon = { tickMinStep: 1, format: "d", grid: false, labelFontSize: 9, titleFontSize: 11, titleFontWeight: "normal" };
  const spec: VegaLiteSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    background: "white",
    data: { values },
    transform: [
      { calculate: "datum.k - 0.5", as: "k0" },
      { calculate: "datum.k + 0.5", as: "k1" },
      { calculate: "datum.q - 0.5", as: "q0" },
      { calculate: "datum.q + 0.5", as: "q1" },
    ],
    facet: {
      row: { field: "r", type: "ordinal", header: { title: null, labels: false } },
      column: {
        field: "c",
        type: "ordinal",
        header: hasTitles ? { title: null, labelExpr: `${JSON.stringify(titles)}[datum.value] || ''`, labelFontSize: 11, labelAngle: 0 } : { title: null, labels: false },
      },
    },
    spacing: { row: 8, column: 8 },
    spec: {
      width,
      height,
      // a hairline of the cell's own colour closes the anti-aliasing seams between cells
      mark: { type: "rect", strokeWidth: 0.5, stroke: { expr: "scale('color', datum.v)" } },
      encoding: {
        x: { field: "k0", type: "quantitative", title: xlabel, scale: { domain: [-0.5, K - 0.5], nice: false, zero: false }, axis: axisCommon },
        x2: { field: "k1" },
        y: { field: "q0", type: "quantitative", title: ylabel, scale: { domain: [-0.5, Q - 0.5], nice: false, zero: false, reverse: true }, axis: axisCommon },
        y2: { field: "q1" },
        color: {
          field: "v",
          type: "quantitative",
          title: null,
          scale: { scheme: colours.scheme, reverse: colours.reverse, domain },
          legend: { gradientLength: Math.max(40, Math.round(R * height * 0.6)), labelFontSize: 9 },
        },
        tooltip: [
          { field: "q", type: "quantitative", title: ylabel || "row" },
          { field: "k", type: "quantitative", title: xlabel || "column" },
          { field: "v", type: "quantitative", title: "value" },
        ],
      },
    },
    config: { view: { stroke: "#444" }, axis: { tickColor: "#444", domainColor: "#444" } },
  };
  const text =
    `<heatmaps: ${R}x${C} panel${R * C === 1 ? "" : "s"} of ${Q}x${K} (${ylabel || "rows"} x ${xlabel || "columns"}), ` +
    `values ${lo <= hi ? `${fmtNum(lo)}..${fmtNum(hi)}` : "none finite"}${hasTitles ? `; titles ${titles.join(", ")}` : ""}>`;
  return new Figure(() => plotBundle(spec, tryRenderPng(spec), text), text, spec);
}
