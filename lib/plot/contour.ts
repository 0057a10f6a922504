/**
 * Contour lines of a function on a grid (marching squares), and a vega-lite
 * spec that draws them with a path on top: what the book's `show_trace_2d`
 * draws with matplotlib's `plt.contour` and `plt.plot(..., '-o')`. vega-lite
 * has no contour mark, so the lines are computed here and drawn as polylines.
 * Not part of `d2l` itself: `d2l.showTrace2d` (chapter 11) uses it.
 */
import { fmtNum, PX_PER_INCH, DEFAULT_FIGSIZE, type VegaLiteSpec } from "./spec";

/** One contour line: its level and its points in drawing order (closed lines repeat their first point). */
export interface ContourLine {
  level: number;
  points: [number, number][];
}

/**
 * matplotlib's default contour levels (`MaxNLocator(nbins)` over the data
 * range): multiples of the smallest "nice" step (1, 2, 2.5, 5 or 10 times a
 * power of ten) that cuts `[zmin, zmax]` into at most `nbins` intervals, keeping
 * only the levels strictly inside the range (as matplotlib does for line contours).
 */
export function niceLevels(zmin: number, zmax: number, nbins = 8): number[] {
  if (!Number.isFinite(zmin) || !Number.isFinite(zmax)) throw new Error(`niceLevels: the values must be finite, got ${zmin} and ${zmax}`);
  if (!(zmax > zmin)) return [];
  const raw = (zmax - zmin) / nbins;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10, 20]) {
    const step = m * mag;
    const lo = Math.floor(zmin / step);
    const hi = Math.ceil(zmax / step);
    if (hi - lo > nbins) continue;
    const levels: number[] = [];
    for (let k = lo; k <= hi; k++) {
      const v = Number((k * step).toPrecision(12));
      if (v > zmin && v < zmax) levels.push(v);
    }
    return levels;
  }
  return [];
}

/**
 * The contour lines of `z` at each level: `z[i][j]` is the value at
 * `(xs[i], ys[j])`. Marching squares with linear interpolation along cell
 * edges; a saddle cell is resolved by the mean of its corners. Segments are
 * joined into polylines.
 */
export function contourLines(xs: readonly number[], ys: readonly number[], z: readonly (readonly number[])[], levels: readonly number[]): ContourLine[] {
  const nx = xs.length;
  const ny = ys.length;
  if (nx < 2 || ny < 2) throw new Error(`contourLines: the grid needs at least 2 points each way, got ${nx} x ${ny}`);
  if (z.length !== nx || z.some((row) => row.length !== ny)) {
    throw new Error(`contourLines: z must be ${nx} rows (one per x) of ${ny} values (one per y)`);
  }
  const out: ContourLine[] = [];
  for (const level of levels) {
    // Edge ids: horizontal edge (i,j)-(i+1,j) is "h i j", vertical edge (i,j)-(i,j+1) is "v i j".
    const point = new Map<string, [number, number]>();
    const links = new Map<string, string[]>();
    const cross = (id: string, xa: number, ya: number, za: number, xb: number, yb: number, zb: number): string => {
      if (!point.has(id)) {
        const t = za === zb ? 0.5 : (level - za) / (zb - za);
        point.set(id, [xa + t * (xb - xa), ya + t * (yb - ya)]);
      }
      return id;
    };
    const link = (a: string, b: string): void => {
      if (!links.has(a)) links.set(a, []);
      if (!links.has(b)) links.set(b, []);
      (links.get(a) as string[]).push(b);
      (links.get(b) as string[]).push(a);
    };
    for (let i = 0; i < nx - 1; i++) {
      for (let j = 0; j < ny - 1; j++) {
        const z00 = z[i][j];
        const z10 = z[i + 1][j];
        const z11 = z[i + 1][j + 1];
        const z01 = z[i][j + 1];
        if (![z00, z10, z11, z01].every(Number.isFinite)) continue;
        const a00 = z00 > level;
        const a10 = z10 > level;
        const a11 = z11 > level;
        const a01 = z01 > level;
        const edges: (string | null)[] = [
          a00 !== a10 ? cross(`h ${i} ${j}`, xs[i], ys[j], z00, xs[i + 1], ys[j], z10) : null, // bottom
          a10 !== a11 ? cross(`v ${i + 1} ${j}`, xs[i + 1], ys[j], z10, xs[i + 1], ys[j + 1], z11) : null, // right
          a01 !== a11 ? cross(`h ${i} ${j + 1}`, xs[i], ys[j + 1], z01, xs[i + 1], ys[j + 1], z11) : null, // top
          a00 !== a01 ? cross(`v ${i} ${j}`, xs[i], ys[j], z00, xs[i], ys[j + 1], z01) : null, // left
        ];
        const hit = edges.filter((e): e is string => e !== null);
        if (hit.length === 2) link(hit[0], hit[1]);
        else if (hit.length === 4) {
          // A saddle: cut off each corner on the other side of the centre from it.
          const centre = (z00 + z10 + z11 + z01) / 4 > level;
          const [b, r, t, l] = edges as string[];
          if (a00 !== centre) link(l, b);
          if (a10 !== centre) link(b, r);
          if (a11 !== centre) link(r, t);
          if (a01 !== centre) link(t, l);
        }
      }
    }
    // Join the segments: open lines from their ends first, then the closed loops.
    const used = new Set<string>(); // "a|b" for each segment walked
    const key = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);
    const walk = (start: string): [number, number][] => {
      const pts: [number, number][] = [point.get(start) as [number, number]];
      let prev: string | null = null;
      let cur = start;
      for (;;) {
        const next = (links.get(cur) ?? []).find((n) => n !== prev && !used.has(key(cur, n))) ?? (links.get(cur) ?? []).find((n) => !used.has(key(cur, n)));
        if (next === undefined) break;
        used.add(key(cur, next));
        pts.push(point.get(next) as [number, number]);
        prev = cur;
        cur = next;
      }
      return pts;
    };
    for (const [id, ns] of links) if (ns.length === 1 && !used.has(key(id, ns[0]))) out.push({ level, points: walk(id) });
    for (const [id, ns] of links) if (ns.some((n) => !used.has(key(id, n)))) out.push({ level, points: walk(id) });
  }
  return out;
}

/** `n` evenly spaced values from `start` (inclusive) by `step` while below `stop` (numpy's `arange`). */
export function arange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  return Array.from({ length: n }, (_, k) => start + k * step);
}

/** Options of {@link traceContourSpec}. */
export interface TraceContourOptions {
  /** x grid of the contours (default the book's `arange(-5.5, 1.0, 0.1)`). */
  xs?: readonly number[];
  /** y grid of the contours (default the book's `arange(-3.0, 1.0, 0.1)`). */
  ys?: readonly number[];
  /** Contour levels (default matplotlib's choice, {@link niceLevels}). */
  levels?: readonly number[];
  /** Axis titles (default "x1", "x2"). */
  xlabel?: string;
  ylabel?: string;
  /** Plot size in inches (default `[3.5, 2.5]`). */
  figsize?: [number, number];
}

/**
 * A vega-lite spec of the contour lines of `f` (blue, as matplotlib's
 * `colors='#1f77b4'`) with the path `trace` on top (orange line with dots,
 * the book's `'-o', color='#ff7f0e'`), and its one-line text description.
 * The data is inline, in one table: the trace as series `"trace"`, each
 * level's lines as series `"f = <level>"` (field `c` numbers the polylines).
 */
export function traceContourSpec(
  f: (x1: number, x2: number) => number,
  trace: readonly (readonly [number, number])[],
  options: TraceContourOptions = {},
): { spec: VegaLiteSpec; text: string; lines: ContourLine[] } {
  const xs = options.xs ?? arange(-5.5, 1.0, 0.1);
  const ys = options.ys ?? arange(-3.0, 1.0, 0.1);
  const z = xs.map((x) => ys.map((y) => f(x, y)));
  let zmin = Infinity;
  let zmax = -Infinity;
  for (const row of z) {
    for (const v of row) {
      if (typeof v !== "number") throw new Error(`showTrace2d: f(x1, x2) must return a number, got ${typeof v}`);
      if (!Number.isFinite(v)) continue;
      if (v < zmin) zmin = v;
      if (v > zmax) zmax = v;
    }
  }
  const levels = options.levels ?? (zmin <= zmax ? niceLevels(zmin, zmax) : []);
  const lines = contourLines(xs, ys, z, levels);
  const values: { s: string; c: number; i: number; x: number; y: number }[] = [];
  const counts = new Map<string, number>();
  lines.forEach((line, c) => {
    const s = `f = ${fmtNum(line.level)}`;
    let i = counts.get(s) ?? 0;
    for (const [x, y] of line.points) values.push({ s, c, i: i++, x, y });
    counts.set(s, i);
  });
  const finite = trace.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  finite.forEach(([x, y], i) => values.push({ s: "trace", c: -1, i, x, y }));
  const figsize = options.figsize ?? DEFAULT_FIGSIZE;
  const xy = {
    x: { field: "x", type: "quantitative", title: options.xlabel ?? "x1", scale: { zero: false, nice: false } },
    y: { field: "y", type: "quantitative", title: options.ylabel ?? "x2", scale: { zero: false, nice: false } },
    order: { field: "i", type: "quantitative" },
  };
  const spec: VegaLiteSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: Math.round(figsize[0] * PX_PER_INCH),
    height: Math.round(figsize[1] * PX_PER_INCH),
    background: "white",
    data: { values },
    encoding: xy,
    layer: [
      {
        transform: [{ filter: "datum.s !== 'trace'" }],
        mark: { type: "line", color: "#1f77b4", strokeWidth: 1, clip: true },
        encoding: { detail: { field: "c", type: "nominal" } },
      },
      {
        transform: [{ filter: "datum.s === 'trace'" }],
        mark: { type: "line", color: "#ff7f0e", strokeWidth: 1.5, point: { filled: true, size: 25, color: "#ff7f0e" }, clip: true },
      },
    ],
    config: {
      axis: { gridColor: "#e5e5e5", labelFontSize: 10, titleFontSize: 11, titleFontWeight: "normal", tickColor: "#444", domainColor: "#444" },
      view: { stroke: "#444" },
    },
  };
  const first = finite[0];
  const last = finite[finite.length - 1];
  const pt = (p: readonly [number, number]): string => `(${fmtNum(p[0])}, ${fmtNum(p[1])})`;
  const text =
    `<contour plot: trace of ${finite.length} points` +
    (first ? ` from ${pt(first)} to ${pt(last)}` : "") +
    `; ${lines.length} contour lines at ${levels.length === 0 ? "no levels" : `f = ${levels.map(fmtNum).join(", ")}`}>`;
  return { spec, text, lines };
}
