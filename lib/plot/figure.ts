/**
 * Figures: what {@link plot} and {@link showImages} return, and the mime
 * bundles plots are shown as.
 */
import { inKernel, showBundle } from "../output";
import type { MimeBundle } from "../output";
import { renderVegaLitePng, RenderedPng } from "./render";
import type { VegaLiteSpec } from "./spec";

/**
 * The symbol of Jupyter's display protocol (`Symbol.for("Jupyter.display")`),
 * typed so that `fig[JUPYTER_DISPLAY]()` type-checks.
 *
 * @example
 * const { data } = d2l.plot([1, 2, 3])[d2l.JUPYTER_DISPLAY]();
 */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/**
 * The vega-lite mime type JupyterLab, Notebook 7 and VS Code render
 * interactively (the book's plots are matplotlib images; ours carry both).
 *
 * @example
 * const spec = d2l.plot([1, 2, 3]).bundle()[d2l.VEGALITE_MIME];
 */
export const VEGALITE_MIME = "application/vnd.vegalite.v5+json";

/** A bundle with its metadata (the PNG's display size), as `[Symbol.for("Jupyter.display")]()` returns it. */
export interface DisplayBundle {
  data: MimeBundle;
  metadata: Record<string, unknown>;
}

let pngWarned = false;

/**
 * Render `spec` to a PNG; on failure warn once and return undefined, so a
 * plot that cannot be rasterised still shows its vega-lite and text parts.
 */
export function tryRenderPng(spec: VegaLiteSpec): RenderedPng | undefined {
  try {
    return renderVegaLitePng(spec);
  } catch (e) {
    warnNoPng(e);
    return undefined;
  }
}

/** Say once per process that plots come without PNG, and why. */
export function warnNoPng(e: unknown): void {
  if (pngWarned) return;
  pngWarned = true;
  process.stderr.write(`d2l plot: no PNG image (${e instanceof Error ? e.message : String(e)}); the interactive vega-lite plot is unaffected.\n`);
}

/** The bundle of a plot: vega-lite spec, PNG (when it rendered), text; never text/html. */
export function plotBundle(spec: VegaLiteSpec | undefined, png: RenderedPng | undefined, text: string): DisplayBundle {
  const data: MimeBundle = {};
  if (spec) data[VEGALITE_MIME] = spec;
  if (png) data["image/png"] = png.base64;
  data["text/plain"] = text;
  const metadata: Record<string, unknown> = png ? { "image/png": { width: png.width, height: png.height } } : {};
  return { data, metadata };
}

/**
 * A finished plot or image grid (what the book's `d2l.plot` and
 * `d2l.show_images` draw into a matplotlib figure), shown the way Altair charts are: it renders
 * itself when it is a cell's last value (vega-lite, PNG, text); anywhere else
 * call {@link Figure.show} (or the kernel's `display(fig)`). {@link plot}
 * never shows by itself, so a cell ending in `d2l.plot(...)` shows the plot
 * exactly once.
 *
 * @example
 * const fig = d2l.plot([1, 2, 3], [1, 4, 9], { xlabel: "x", ylabel: "x^2" });
 * fig.show(); // needed only when the plot is not the cell's last value
 */
export class Figure {
  private made: DisplayBundle | undefined;

  /** @param make builds the bundle (called at most once); @param text the text/plain summary. */
  constructor(
    private readonly make: () => DisplayBundle,
    /** One-line description (the bundle's text/plain). */
    readonly text: string,
    /** The vega-lite spec, for plots (undefined for image grids). */
    readonly spec?: VegaLiteSpec,
  ) {}

  /**
   * The mime bundle: `application/vnd.vegalite.v5+json` (plots), `image/png`, `text/plain`.
   *
   * @example
   * const b = d2l.plot([0, 1], [0, 1]).bundle();
   * Object.keys(b); // ["application/vnd.vegalite.v5+json", "image/png", "text/plain"]
   */
  bundle(): MimeBundle {
    return this.displayBundle().data;
  }

  /**
   * The bundle with its metadata (the PNG's display size in CSS pixels).
   *
   * @example
   * const { metadata } = d2l.plot([1, 2, 3]).displayBundle(); // { "image/png": { width, height } }
   */
  displayBundle(): DisplayBundle {
    if (!this.made) this.made = this.make();
    return this.made;
  }

  /**
   * Show the figure now as a new output (in plain Node: print its text line).
   *
   * @example
   * for (const lr of [0.1, 0.01]) d2l.plot(losses[lr], { ylabel: `loss, lr ${lr}` }).show();
   */
  show(): void {
    if (!inKernel()) {
      showBundle({ "text/plain": this.text });
      return;
    }
    const b = this.displayBundle();
    showBundle(b.data, b.metadata);
  }

  /**
   * Jupyter's display protocol: the bundle, with the PNG's display size as metadata.
   *
   * @example
   * d2l.plot([1, 2, 3])[d2l.JUPYTER_DISPLAY]().data["text/plain"];
   */
  [JUPYTER_DISPLAY](): DisplayBundle {
    return this.displayBundle();
  }

  /** What string conversion shows: the one-line summary. @example String(d2l.plot([1, 2])) */
  toString(): string {
    return this.text;
  }
}
