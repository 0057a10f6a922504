/**
 * `d2l.Animator`: a plot that grows while a model trains.
 */
import { inKernel, LiveOutput } from "../output";
import type { MimeBundle } from "../output";
import { DisplayBundle, JUPYTER_DISPLAY, plotBundle, tryRenderPng } from "./figure";
import type { RenderedPng } from "./render";
import { AxesOptions, fmtNum, lineSpec, resolveAxes, ResolvedAxes, seriesNames, VegaLiteSpec } from "./spec";

/** Options of {@link Animator}: the book's keyword arguments, plus how often the PNG is redrawn. */
export interface AnimatorOptions extends AxesOptions {
  /** Subplot rows; accepted for the book's signature; as in the book, only the first axes is drawn. */
  nrows?: number;
  /** Subplot columns; accepted for the book's signature; as in the book, only the first axes is drawn. */
  ncols?: number;
  /**
   * Least time between PNG redraws while adding, in ms (default 1000; the
   * vega-lite part updates on every `add`). `finish()` always draws the last state.
   */
  pngIntervalMs?: number;
}

/**
 * The book's `d2l.Animator`: draws data incrementally, one live output that
 * is updated in place (a Jupyter display id), so the notebook shows one plot
 * that grows and an exported notebook keeps its final state.
 *
 * Each {@link add} updates the interactive vega-lite plot; the PNG copy (for
 * classic Notebook and nbconvert) is redrawn at most about once a second, and
 * once more shortly after the last `add`; {@link finish} draws it at once.
 * Outside the kernel nothing is shown (scripts stay quiet); {@link bundle}
 * still gives the plot.
 *
 * @example
 * const animator = new d2l.Animator({ xlabel: "epoch", xlim: [1, 10], legend: ["train loss", "train acc", "test acc"] });
 * for (let epoch = 1; epoch <= 10; epoch++) animator.add(epoch, [1 / epoch, 1 - 1 / epoch, null]);
 * animator.finish();
 */
export class Animator {
  private readonly axes: ResolvedAxes;
  private readonly X: number[][] = [];
  private readonly Y: number[][] = [];
  private readonly out = new LiveOutput();
  private readonly pngIntervalMs: number;
  private png: RenderedPng | undefined;
  private pngStale = true;
  private lastPngAt = -Infinity;
  private lastPngMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastX: number | undefined;
  private specCache: VegaLiteSpec | undefined;

  constructor(options: AnimatorOptions = {}) {
    this.axes = resolveAxes(options, "Animator");
    for (const k of ["nrows", "ncols"] as const) {
      const v = options[k];
      if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`Animator: ${k} must be a positive integer; got ${JSON.stringify(v)}`);
    }
    const iv = options.pngIntervalMs ?? 1000;
    if (!(typeof iv === "number" && iv >= 0)) throw new Error(`Animator: pngIntervalMs must be a number >= 0 (milliseconds); got ${JSON.stringify(iv)}`);
    this.pngIntervalMs = iv;
  }

  /**
   * Add points, as the book's `add(x, y)`: `y` holds one value per series (a
   * single number for one series); `x` is one value for all of them or one per
   * series. A `null`/`undefined` x or y skips that series at this step.
   *
   * @example
   * animator.add(epoch + (i + 1) / numBatches, [trainLoss, trainAcc, null]); // test acc only once per epoch
   */
  add(x: number | readonly (number | null | undefined)[], y: number | null | undefined | readonly (number | null | undefined)[]): void {
    const ys: readonly (number | null | undefined)[] = Array.isArray(y) ? (y as readonly (number | null | undefined)[]) : [y as number | null | undefined];
    const n = ys.length;
    const xs: readonly (number | null | undefined)[] = Array.isArray(x) ? (x as readonly (number | null | undefined)[]) : new Array<number>(n).fill(x as number);
    if (xs.length !== n) {
      throw new Error(`Animator.add: got ${xs.length} x values for ${n} y values; give one x for all series or one per series`);
    }
    if (this.Y.length === 0) {
      for (let k = 0; k < n; k++) {
        this.X.push([]);
        this.Y.push([]);
      }
    } else if (n > this.Y.length) {
      throw new Error(`Animator.add: got ${n} y values but the first add had ${this.Y.length} series; add the same number each time (null skips one)`);
    }
    for (let k = 0; k < n; k++) {
      const a = xs[k];
      const b = ys[k];
      if (a === null || a === undefined || b === null || b === undefined) continue;
      if (typeof a !== "number" || typeof b !== "number") {
        throw new Error(`Animator.add: series ${k} got x=${JSON.stringify(a)}, y=${JSON.stringify(b)}; expected numbers (or null to skip)`);
      }
      this.X[k].push(a);
      this.Y[k].push(b);
      this.lastX = a;
    }
    this.specCache = undefined;
    this.pngStale = true;
    if (!inKernel()) return;
    const now = Date.now();
    // Redraw the PNG when the interval has passed, keeping its cost under about 10% of the time.
    const wait = Math.max(this.pngIntervalMs, 10 * this.lastPngMs);
    if (now - this.lastPngAt >= wait) {
      this.cancelTimer();
      this.renderPng();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), Math.max(0, this.lastPngAt + wait - now));
      this.timer.unref();
    }
    const b = this.displayBundle(false);
    this.out.show(b.data, b.metadata);
  }

  /**
   * Draw the final state (PNG included) into the live output. The training
   * loop calls this at the end; calling it again does nothing new.
   *
   * @example
   * animator.finish();
   */
  finish(): void {
    this.cancelTimer();
    if (!this.pngStale && this.out.isShown) return;
    if (!inKernel()) return;
    const b = this.displayBundle(true);
    this.out.show(b.data, b.metadata);
  }

  /** Same as {@link finish}. @example animator.close(); */
  close(): void {
    this.finish();
  }

  /**
   * The plot as it is now (PNG redrawn if stale): vega-lite spec, PNG, text.
   *
   * @example
   * const b = animator.bundle();
   * b["application/vnd.vegalite.v5+json"]; // the spec with the data inlined
   */
  bundle(): MimeBundle {
    return this.displayBundle(true).data;
  }

  /** The vega-lite spec of the current data. @example animator.spec().data */
  spec(): VegaLiteSpec {
    if (!this.specCache) this.specCache = lineSpec(this.X.map((x, k) => ({ x, y: this.Y[k] })), this.axes);
    return this.specCache;
  }

  /** The series so far: `X[k]`, `Y[k]` are the points of series k. @example animator.data().Y[0] */
  data(): { X: number[][]; Y: number[][] } {
    return { X: this.X.map((s) => [...s]), Y: this.Y.map((s) => [...s]) };
  }

  /** The one-line summary: the last value of each series. @example animator.text() */
  text(): string {
    if (this.Y.length === 0) return "<Animator: no data yet>";
    const names = seriesNames(this.Y.length, this.axes.legend);
    const parts = this.Y.map((ys, k) => (ys.length > 0 ? `${names[k]} ${fmtNum(ys[ys.length - 1])}` : `${names[k]} -`));
    const at = this.lastX === undefined ? "" : ` at ${this.axes.xlabel ?? "x"} ${fmtNum(this.lastX)}`;
    return `<Animator${at}: ${parts.join(", ")}>`;
  }

  /**
   * Jupyter's display protocol: the current bundle, with the PNG's display
   * size as metadata (a cell ending in `animator` shows the plot again).
   *
   * @example
   * animator[d2l.JUPYTER_DISPLAY]().metadata; // { "image/png": { width, height } }
   */
  [JUPYTER_DISPLAY](): DisplayBundle {
    return this.displayBundle(true);
  }

  private displayBundle(fresh: boolean): DisplayBundle {
    if (fresh && this.pngStale) this.renderPng();
    return plotBundle(this.spec(), this.png, this.text());
  }

  private renderPng(): void {
    const t0 = Date.now();
    const first = this.lastPngAt === -Infinity;
    this.png = tryRenderPng(this.spec());
    this.pngStale = false;
    this.lastPngAt = Date.now();
    // The first render also starts the render thread; only later ones say what a redraw costs.
    this.lastPngMs = first ? 0 : this.lastPngAt - t0;
  }

  private flush(): void {
    this.timer = undefined;
    if (!this.pngStale) return;
    try {
      const b = this.displayBundle(true);
      this.out.show(b.data, b.metadata);
    } catch {
      // a background redraw must never throw into the event loop; the next add or finish() retries
    }
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
