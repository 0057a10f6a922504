/**
 * `d2l.Animator`: a plot that grows while a model trains.
 */
import { setTimeout as realSetTimeout, clearTimeout as realClearTimeout } from "timers";
import { inKernel, LiveOutput } from "../output";
import type { MimeBundle } from "../output";
import { atCellEnd, interruptGuard } from "../interrupt";
import { DisplayBundle, JUPYTER_DISPLAY, plotBundle, tryRenderPng, warnNoPng } from "./figure";
import { renderVegaLitePngAsync, type RenderedPng } from "./render";
import { AxesOptions, fmtNum, lineSpec, resolveAxes, ResolvedAxes, seriesNames, VegaLiteSpec } from "./spec";

/** Options of {@link Animator}: the book's keyword arguments, plus how often the PNG is redrawn. */
export interface AnimatorOptions extends AxesOptions {
  /** Subplot rows; accepted for the book's signature; as in the book, only the first axes is drawn. */
  nrows?: number;
  /** Subplot columns; accepted for the book's signature; as in the book, only the first axes is drawn. */
  ncols?: number;
  /**
   * Least time between PNG redraws while adding, in ms (default 1000; the
   * vega-lite part updates on every `add`). The redraws happen in a worker
   * thread; `finish()` always draws the last state.
   */
  pngIntervalMs?: number;
}

/**
 * The book's `d2l.Animator`: draws data incrementally, one live output that
 * is updated in place (a Jupyter display id), so the notebook shows one plot
 * that grows and an exported notebook keeps its final state.
 *
 * Each {@link add} updates the interactive vega-lite plot at once and
 * returns: the PNG copy (for classic Notebook and nbconvert) is drawn in a
 * worker thread, at most about once a second, and shown when it is ready
 * (until then the output keeps the previous PNG; the very first update has
 * none). {@link finish} draws the final PNG and shows the final state before
 * it returns, and drops any redraw still under way, so nothing updates the
 * output after it (call it at the end of a loop of your own; the training
 * functions do). After an interrupt, redraws started before it are dropped.
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
  /** The last PNG drawn, and the data version it shows (-1: none yet). */
  private png: RenderedPng | undefined;
  private pngVersion = -1;
  /** Bumped by every add. */
  private version = 0;
  /** A redraw is under way in the worker. */
  private inflight = false;
  /** True while a finish() is registered for the end of the running cell. */
  private finishAtCellEnd = false;
  /** Bumped by finish(): answers to redraws asked for before it are dropped. */
  private session = 0;
  private lastRequestAt = -Infinity;
  private lastRenderMs = 0;
  private asyncFailed = false;
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
    this.version++;
    if (!inKernel()) return;
    // A loop of the user's own may never call finish(): the kernel calls it when the cell ends.
    if (!this.finishAtCellEnd)
      this.finishAtCellEnd = atCellEnd(() => {
        this.finishAtCellEnd = false;
        this.finish();
      });
    // Now: the new data as vega-lite and text, with the last PNG (if any). The new PNG follows.
    this.showNow();
    this.schedule();
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
    // Redraws under way answer into the void: nothing updates the output after this.
    this.session++;
    this.inflight = false;
    if (!inKernel()) return;
    if (this.pngVersion === this.version && this.out.isShown) return;
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
    if (!this.specCache)
      this.specCache = lineSpec(
        this.X.map((x, k) => ({ x, y: this.Y[k] })),
        this.axes,
      );
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
    if (fresh && this.pngVersion !== this.version) {
      this.png = tryRenderPng(this.spec());
      this.pngVersion = this.version;
    }
    return plotBundle(this.spec(), this.png, this.text());
  }

  private showNow(): void {
    const b = this.displayBundle(false);
    this.out.show(b.data, b.metadata);
  }

  /** Ask for a PNG of the current data now, or when the interval since the last request has passed. */
  private schedule(): void {
    if (this.inflight || this.timer || this.asyncFailed) return;
    // At most one redraw per interval, and (the worker shares the CPU) under about 10% of the time.
    const wait = this.lastRequestAt + Math.max(this.pngIntervalMs, 10 * this.lastRenderMs) - Date.now();
    if (wait <= 0) {
      this.request();
      return;
    }
    const guard = interruptGuard();
    // Node's own timer: the kernel's wrapped one would drop it silently after an interrupt.
    this.timer = realSetTimeout(() => {
      this.timer = undefined;
      if (!guard.interrupted) this.request();
    }, wait);
    this.timer.unref();
  }

  private request(): void {
    if (this.pngVersion === this.version || !inKernel()) return;
    const session = this.session;
    const version = this.version;
    const guard = interruptGuard();
    const first = this.lastRequestAt === -Infinity;
    this.inflight = true;
    this.lastRequestAt = Date.now();
    renderVegaLitePngAsync(this.spec()).then(
      (png) => {
        if (session !== this.session) return; // finish() came first
        this.inflight = false;
        // The first render also starts the worker; only later ones say what a redraw costs.
        if (!first) this.lastRenderMs = png.ms;
        if (guard.interrupted) return; // stale: the cell that asked was interrupted
        try {
          if (version > this.pngVersion) {
            this.png = png;
            this.pngVersion = version;
            this.showNow();
          }
          if (this.version > this.pngVersion) this.schedule();
        } catch {
          // a background update must never throw into the event loop; the next add or finish() shows the plot
        }
      },
      (e: unknown) => {
        if (session !== this.session) return;
        this.inflight = false;
        this.asyncFailed = true; // no more redraws while adding; finish() tries once more
        warnNoPng(e);
      },
    );
  }

  private cancelTimer(): void {
    if (this.timer) realClearTimeout(this.timer);
    this.timer = undefined;
  }
}
