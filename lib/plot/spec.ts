/**
 * Line-plot specs: matplotlib-style format strings ("-", "m--", "g-.", "r:",
 * "bo") to colours, dashes and markers, and series to a vega-lite v5 spec with
 * the data inlined, the way the book's `d2l.plot` and `Animator` draw.
 */

/** A vega-lite spec: a JSON object (what `application/vnd.vegalite.v5+json` carries). */
export type VegaLiteSpec = { [key: string]: unknown };

/** An axis scale, as matplotlib names them. */
export type AxisScale = "linear" | "log";

/** Axes options shared by {@link plot} and {@link Animator} (the book's keyword arguments). */
export interface AxesOptions {
  /** x-axis title. */
  xlabel?: string;
  /** y-axis title. */
  ylabel?: string;
  /** One name per series; a legend is drawn only when given. */
  legend?: string[];
  /** x-axis range `[min, max]`; points outside are clipped. */
  xlim?: [number, number];
  /** y-axis range `[min, max]`; points outside are clipped. */
  ylim?: [number, number];
  /** x-axis scale (default "linear"); "log" drops points with x <= 0. */
  xscale?: AxisScale;
  /** y-axis scale (default "linear"); "log" drops points with y <= 0. */
  yscale?: AxisScale;
  /** matplotlib format strings, one per series, reused in turn: colour letter, line style, marker. Default `["-", "m--", "g-.", "r:"]`. */
  fmts?: string[];
  /** Size of the plotting area in inches (72 px each); default `[3.5, 2.5]`. */
  figsize?: [number, number];
}

/** The book's default format strings. */
export const DEFAULT_FMTS: readonly string[] = ["-", "m--", "g-.", "r:"];

/** The default figure size in inches (the book's `d2l.set_figsize()` default). */
export const DEFAULT_FIGSIZE: [number, number] = [3.5, 2.5];

/** Pixels per inch of `figsize`. */
export const PX_PER_INCH = 72;

/** How one series is drawn. */
export interface LineStyle {
  color: string;
  /** Stroke dash pattern; `[1, 0]` is solid; `null` draws no line (markers only). */
  dash: number[] | null;
  marker?: { shape: string; filled: boolean; size: number };
}

/** matplotlib's tab10 cycle, used for format strings without a colour. */
const CYCLE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
/** matplotlib's single-letter colours. */
const LETTER_COLORS: Record<string, string> = {
  b: "#0000ff",
  g: "#008000",
  r: "#ff0000",
  c: "#00bfbf",
  m: "#bf00bf",
  y: "#bfbf00",
  k: "#000000",
  w: "#ffffff",
};
const DASHES: [string, number[]][] = [
  ["--", [6, 3]],
  ["-.", [8, 3, 2, 3]],
  ["-", [1, 0]],
  [":", [2, 2]],
];
const MARKERS: Record<string, { shape: string; filled: boolean; size: number }> = {
  ".": { shape: "circle", filled: true, size: 12 },
  ",": { shape: "square", filled: true, size: 2 },
  o: { shape: "circle", filled: true, size: 36 },
  s: { shape: "square", filled: true, size: 36 },
  D: { shape: "diamond", filled: true, size: 36 },
  d: { shape: "diamond", filled: true, size: 24 },
  "^": { shape: "triangle-up", filled: true, size: 36 },
  v: { shape: "triangle-down", filled: true, size: 36 },
  "<": { shape: "triangle-left", filled: true, size: 36 },
  ">": { shape: "triangle-right", filled: true, size: 36 },
  x: { shape: "M-1,-1L1,1M1,-1L-1,1", filled: false, size: 36 },
  "+": { shape: "M-1,0L1,0M0,-1L0,1", filled: false, size: 36 },
  "*": { shape: "M0,-1L0.24,-0.33L0.95,-0.31L0.38,0.12L0.59,0.81L0,0.4L-0.59,0.81L-0.38,0.12L-0.95,-0.31L-0.24,-0.33Z", filled: true, size: 64 },
};

/**
 * Parse a matplotlib format string such as `"m--"`, `"g-."`, `"r:"`, `"bo"`
 * or `"C1-"`. `cycleIndex` picks the colour when the string names none.
 */
export function parseFmt(fmt: string, cycleIndex: number): LineStyle {
  let color: string | undefined;
  let dash: number[] | undefined;
  let marker: LineStyle["marker"];
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(
      `format string ${JSON.stringify(fmt)}: ${what}; expected at most one colour (b g r c m y k w, C0..C9), ` +
        `one line style (- -- -. :) and one marker (. o x + * s d D ^ v < >), e.g. "m--" or "bo"`,
    );
  };
  while (i < fmt.length) {
    const dashHit = DASHES.find(([s]) => fmt.startsWith(s, i));
    if (dashHit) {
      if (dash) fail("two line styles");
      dash = dashHit[1];
      i += dashHit[0].length;
      continue;
    }
    const ch = fmt[i];
    if (ch === "C" && /[0-9]/.test(fmt[i + 1] ?? "")) {
      if (color) fail("two colours");
      color = CYCLE[Number(fmt[i + 1])];
      i += 2;
    } else if (ch in LETTER_COLORS) {
      if (color) fail("two colours");
      color = LETTER_COLORS[ch];
      i += 1;
    } else if (ch in MARKERS) {
      if (marker) fail("two markers");
      marker = MARKERS[ch];
      i += 1;
    } else {
      fail(`unknown character ${JSON.stringify(ch)}`);
    }
  }
  return {
    color: color ?? CYCLE[cycleIndex % CYCLE.length],
    dash: dash ?? (marker ? null : [1, 0]),
    ...(marker ? { marker } : {}),
  };
}

/** Styles for `n` series from `fmts`, reused in turn; colourless formats take the next cycle colour, as matplotlib does. */
export function stylesFor(n: number, fmts: readonly string[]): LineStyle[] {
  if (fmts.length === 0) fmts = ["-"];
  const out: LineStyle[] = [];
  let cycle = 0;
  for (let k = 0; k < n; k++) {
    const fmt = fmts[k % fmts.length];
    const style = parseFmt(fmt, cycle);
    if (!/[bgrcmykw]|C[0-9]/.test(fmt)) cycle++;
    out.push(style);
  }
  return out;
}

/** One series to draw: points in drawing order. */
export interface SeriesData {
  x: number[];
  y: number[];
}

/** Checked, defaulted axes options. */
export interface ResolvedAxes {
  xlabel?: string;
  ylabel?: string;
  legend: string[];
  xlim?: [number, number];
  ylim?: [number, number];
  xscale: AxisScale;
  yscale: AxisScale;
  fmts: string[];
  figsize: [number, number];
}

function checkLim(name: string, lim: unknown, scale: AxisScale, who: string): [number, number] | undefined {
  if (lim === undefined || lim === null) return undefined;
  if (!Array.isArray(lim) || lim.length !== 2 || !lim.every((v) => typeof v === "number" && Number.isFinite(v)) || lim[0] === lim[1]) {
    throw new Error(`${who}: ${name} must be [min, max] with two different finite numbers, e.g. [0, 10]; got ${JSON.stringify(lim)}`);
  }
  const [a, b] = lim as [number, number];
  if (scale === "log" && (a <= 0 || b <= 0)) {
    throw new Error(`${who}: ${name} ${JSON.stringify(lim)} must be positive on a log scale`);
  }
  return [a, b];
}

function checkScale(name: string, s: unknown, who: string): AxisScale {
  if (s === undefined) return "linear";
  if (s !== "linear" && s !== "log") throw new Error(`${who}: ${name} must be "linear" or "log"; got ${JSON.stringify(s)}`);
  return s;
}

/** Validate the book's keyword arguments and fill in defaults; `who` names the caller in errors. */
export function resolveAxes(o: AxesOptions, who: string, defaultFigsize: [number, number] = DEFAULT_FIGSIZE): ResolvedAxes {
  const xscale = checkScale("xscale", o.xscale, who);
  const yscale = checkScale("yscale", o.yscale, who);
  const figsize = o.figsize ?? defaultFigsize;
  if (!Array.isArray(figsize) || figsize.length !== 2 || !figsize.every((v) => typeof v === "number" && v > 0 && Number.isFinite(v))) {
    throw new Error(`${who}: figsize must be [width, height] in inches, both positive, e.g. [3.5, 2.5]; got ${JSON.stringify(figsize)}`);
  }
  const fmts = o.fmts ?? [...DEFAULT_FMTS];
  if (!Array.isArray(fmts) || !fmts.every((f) => typeof f === "string")) {
    throw new Error(`${who}: fmts must be an array of format strings such as ["-", "m--"]; got ${JSON.stringify(fmts)}`);
  }
  fmts.forEach((f, k) => parseFmt(f, k)); // report bad formats now, not at the first draw
  const legend = o.legend ?? [];
  if (!Array.isArray(legend) || !legend.every((l) => typeof l === "string")) {
    throw new Error(`${who}: legend must be an array of strings, one per series; got ${JSON.stringify(legend)}`);
  }
  for (const k of ["xlabel", "ylabel"] as const) {
    if (o[k] !== undefined && o[k] !== null && typeof o[k] !== "string") throw new Error(`${who}: ${k} must be a string; got ${JSON.stringify(o[k])}`);
  }
  return {
    xlabel: o.xlabel ?? undefined,
    ylabel: o.ylabel ?? undefined,
    legend,
    xlim: checkLim("xlim", o.xlim, xscale, who),
    ylim: checkLim("ylim", o.ylim, yscale, who),
    xscale,
    yscale,
    fmts,
    figsize: [figsize[0], figsize[1]],
  };
}

/** Series names: the legend's, made unique, then `y<k>` for the rest. */
export function seriesNames(n: number, legend: readonly string[]): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  for (let k = 0; k < n; k++) {
    let name = k < legend.length ? legend[k] : `y${k}`;
    for (let j = 2; seen.has(name); j++) name = `${k < legend.length ? legend[k] : `y${k}`} (${j})`;
    seen.add(name);
    names.push(name);
  }
  return names;
}

function scaleSpec(type: AxisScale, lim: [number, number] | undefined): Record<string, unknown> {
  const s: Record<string, unknown> = { type };
  if (type === "linear") s.zero = false;
  else s.nice = false; // vega would widen a log axis to whole powers of ten
  if (lim) {
    s.domain = [Math.min(lim[0], lim[1]), Math.max(lim[0], lim[1])];
    s.nice = false;
    if (lim[0] > lim[1]) s.reverse = true;
  }
  return s;
}

/**
 * A vega-lite v5 spec drawing `series` with the resolved axes options.
 * Points that are not finite (or not positive on a log axis) are left out.
 */
export function lineSpec(series: readonly SeriesData[], axes: ResolvedAxes): VegaLiteSpec {
  const names = seriesNames(series.length, axes.legend);
  const styles = stylesFor(series.length, axes.fmts);
  const values: { s: string; i: number; x: number; y: number }[] = [];
  series.forEach((sd, k) => {
    const n = Math.min(sd.x.length, sd.y.length);
    for (let i = 0; i < n; i++) {
      const x = sd.x[i];
      const y = sd.y[i];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      if ((axes.xscale === "log" && x <= 0) || (axes.yscale === "log" && y <= 0)) continue;
      values.push({ s: names[k], i, x, y });
    }
  });
  const showLegend = axes.legend.length > 0;
  // Each legend entry drawn as its series is: a stroke (dashed as the line) for a line, the marker for
  // markers only. One legend-wide symbol type would draw every entry alike.
  const markersOnly = styles.some((st) => st.dash === null);
  const symbolOf = (k: number): { shape: string; fill: string } => {
    const st = styles[k];
    if (st.dash !== null || !st.marker) return { shape: "stroke", fill: "transparent" };
    return { shape: st.marker.shape, fill: st.marker.filled ? st.color : "transparent" };
  };
  const bySeries = (key: "shape" | "fill"): string => `${JSON.stringify(Object.fromEntries(names.map((n, k) => [n, symbolOf(k)[key]])))}[datum.value]`;
  const legend = !showLegend
    ? null
    : markersOnly
      ? { title: null, encode: { symbols: { update: { shape: { signal: bySeries("shape") }, fill: { signal: bySeries("fill") } } } } }
      : { title: null };
  const lineNames = names.filter((_, k) => styles[k].dash !== null);
  const layer: Record<string, unknown>[] = [];
  if (lineNames.length > 0) {
    layer.push({
      mark: { type: "line", clip: true, strokeWidth: 1.5 },
      ...(lineNames.length < names.length ? { transform: [{ filter: { field: "s", oneOf: lineNames } }] } : {}),
      encoding: {
        strokeDash: {
          field: "s",
          type: "nominal",
          scale: { domain: names, range: styles.map((s) => s.dash ?? [1, 0]) },
          legend,
        },
        order: { field: "i", type: "quantitative" },
      },
    });
  }
  styles.forEach((st, k) => {
    if (!st.marker) return;
    layer.push({
      mark: { type: "point", clip: true, shape: st.marker.shape, filled: st.marker.filled, size: st.marker.size, strokeWidth: 1.5, opacity: 1 },
      transform: [{ filter: { field: "s", equal: names[k] } }],
    });
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: Math.round(axes.figsize[0] * PX_PER_INCH),
    height: Math.round(axes.figsize[1] * PX_PER_INCH),
    background: "white",
    data: { values },
    encoding: {
      x: { field: "x", type: "quantitative", title: axes.xlabel ?? null, scale: scaleSpec(axes.xscale, axes.xlim) },
      y: { field: "y", type: "quantitative", title: axes.ylabel ?? null, scale: scaleSpec(axes.yscale, axes.ylim) },
      color: { field: "s", type: "nominal", scale: { domain: names, range: styles.map((s) => s.color) }, legend },
    },
    layer,
    config: {
      axis: {
        gridColor: "#e5e5e5",
        labelFontSize: 10,
        titleFontSize: 11,
        titleFontWeight: "normal",
        tickColor: "#444",
        domainColor: "#444",
        labelSeparation: 4,
        labelFlush: false,
      },
      // About as many ticks as matplotlib draws: vega's default (one per 40 px) crowds the x axis.
      axisX: { tickCount: Math.max(3, Math.round((axes.figsize[0] * PX_PER_INCH) / 50)) },
      legend: { labelFontSize: 10, symbolType: "stroke", symbolStrokeWidth: 1.5, labelLimit: 200 },
      view: { stroke: "#444" },
    },
  };
}

/** A number, short: 4 significant digits, exponent form when very large or small. */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(3).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(4)));
}
