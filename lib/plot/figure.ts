/**
 * Figures: what {@link plot} and {@link showImages} return, and the mime
 * bundles plots are shown as.
 */
import * as tf from "@tensorflow/tfjs";
import { showBundle } from "../output";
import type { MimeBundle } from "../output";
import { readsSync } from "../read";
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

/**
 * The symbol of a figure's asynchronous preparation (`Symbol.for("d2l.prepare")`):
 * `await fig[d2l.PREPARE]()` reads the tensors a figure was drawn from when
 * they live on the GPU (webgpu), so that its bundle can be taken. The kernel
 * calls it before it shows any value that has it; {@link Figure.ready} is the
 * same step under a friendlier name.
 *
 * @example
 * const fig = d2l.plot(tf.range(0, 2000).square());
 * await fig[d2l.PREPARE]();
 * fig.bundle(); // now available on every backend
 */
export const PREPARE: unique symbol = Symbol.for("d2l.prepare") as never;

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

/** The kernel's output bridge, as a figure with values still on the GPU uses it: the bundle may come later. */
interface LaterBridge {
  display(out: DisplayBundle | Promise<DisplayBundle>, displayId: string | undefined, update: boolean): void;
}

function laterBridge(): LaterBridge | undefined {
  return (globalThis as Record<symbol, unknown>)[Symbol.for("d2l-ts.output")] as LaterBridge | undefined;
}

/** What a pending figure says of itself until its values are read. */
const PENDING_TEXT = "<figure: its values are on the GPU; display(fig) shows it, or await fig.ready() first>";

/** Tensor clones a pending figure holds, disposed if the figure is collected without being shown. */
const orphans = new FinalizationRegistry<tf.Tensor[]>((clones) => {
  for (const c of clones) if (!c.isDisposed) c.dispose();
});

/**
 * A finished plot or image grid (what the book's `d2l.plot` and
 * `d2l.show_images` draw into a matplotlib figure), shown the way Altair charts are: it renders
 * itself when it is a cell's last value (vega-lite, PNG, text); anywhere else
 * call {@link Figure.show} (or the kernel's `display(fig)`). {@link plot}
 * never shows by itself, so a cell ending in `d2l.plot(...)` shows the plot
 * exactly once.
 *
 * Tensors on the GPU (issue 23): under Node the webgpu backend cannot read a
 * tensor synchronously, and the plot functions stay synchronous. When a
 * tensor a figure is drawn from is not readable synchronously
 * ({@link readsSync} is false), the function keeps a clone of it (disposing
 * the original afterwards loses nothing) and returns a *pending* figure at
 * once. `await fig.ready()` (or `await fig[d2l.PREPARE]()`) reads the clones
 * with `await`, frees them, and builds the figure. The kernel does this by
 * itself for a cell's last value, `display(fig)` and `fig.show()`, in the
 * order of the cell's outputs. Until then {@link Figure.bundle},
 * {@link Figure.displayBundle} and {@link Figure.spec} throw an error that says
 * to `await fig.ready()` first. On every other backend, and on webgpu for
 * values still on the host, a figure is never pending.
 *
 * @example
 * const fig = d2l.plot([1, 2, 3], [1, 4, 9], { xlabel: "x", ylabel: "x^2" });
 * fig.show(); // needed only when the plot is not the cell's last value
 * @example
 * // webgpu: the squares live on the GPU
 * const fig = d2l.plot(tf.range(0, 2000).square());
 * (await fig.ready()).spec; // the vega-lite spec, its values read with await
 */
export class Figure {
  private made: DisplayBundle | undefined;
  private make: () => DisplayBundle;
  private summary: string;
  private vegaLite: VegaLiteSpec | undefined;
  private later: (() => Promise<Figure>) | undefined;
  private preparing: Promise<this> | undefined;

  /** @param make builds the bundle (called at most once); @param text the text/plain summary; @param spec the vega-lite spec, for plots. */
  constructor(make: () => DisplayBundle, text: string, spec?: VegaLiteSpec) {
    this.make = make;
    this.summary = text;
    this.vegaLite = spec;
  }

  /**
   * One-line description (the bundle's text/plain); for a pending figure, a
   * line saying that its values are still on the GPU.
   *
   * @example
   * d2l.plot([1, 2, 3]).text; // "<plot: 1 series; 3 points; x 0..2, y 1..3>"
   */
  get text(): string {
    return this.later ? PENDING_TEXT : this.summary;
  }

  /**
   * The vega-lite spec, for plots (undefined for image grids). Throws for a
   * pending figure: `await fig.ready()` first.
   *
   * @example
   * d2l.plot([1, 2, 3]).spec?.mark;
   */
  get spec(): VegaLiteSpec | undefined {
    this.mustBeReady("spec");
    return this.vegaLite;
  }

  /**
   * False while the figure waits for values on the GPU (see the class
   * comment); true on every backend but webgpu.
   *
   * @example
   * const fig = d2l.plot(x);
   * if (!fig.isReady) await fig.ready();
   */
  get isReady(): boolean {
    return this.later === undefined;
  }

  /**
   * Read the values a pending figure waits for (with `await`, so it works on
   * webgpu), free the copies it kept, and build the figure; returns the
   * figure itself. Immediate for a figure that is ready.
   *
   * @example
   * const fig = await d2l.plot(tf.range(0, 2000).sqrt()).ready();
   * fig.bundle()["text/plain"];
   */
  ready(): Promise<this> {
    if (!this.later) return Promise.resolve(this);
    if (!this.preparing) {
      const later = this.later;
      this.preparing = later().then(
        (built) => {
          this.adopt(built);
          this.later = undefined;
          return this;
        },
        (e: unknown) => {
          this.preparing = undefined;
          throw e;
        },
      );
    }
    return this.preparing;
  }

  /**
   * The preparation step the kernel awaits before it takes the bundle of any
   * value that has it (`Symbol.for("d2l.prepare")`): {@link Figure.ready}.
   *
   * @example
   * await fig[d2l.PREPARE]();
   */
  async [PREPARE](): Promise<void> {
    await this.ready();
  }

  /**
   * The mime bundle: `application/vnd.vegalite.v5+json` (plots), `image/png`, `text/plain`.
   *
   * @example
   * const b = d2l.plot([0, 1], [0, 1]).bundle();
   * Object.keys(b); // ["application/vnd.vegalite.v5+json", "image/png", "text/plain"]
   */
  bundle(): MimeBundle {
    this.mustBeReady("bundle()");
    return this.displayBundle().data;
  }

  /**
   * The bundle with its metadata (the PNG's display size in CSS pixels).
   *
   * @example
   * const { metadata } = d2l.plot([1, 2, 3]).displayBundle(); // { "image/png": { width, height } }
   */
  displayBundle(): DisplayBundle {
    this.mustBeReady("displayBundle()");
    if (!this.made) this.made = this.make();
    return this.made;
  }

  /**
   * Show the figure now as a new output (in plain Node: print its text line).
   * A pending figure is read with `await` first; in the kernel it keeps its
   * place among the cell's outputs.
   *
   * @example
   * for (const lr of [0.1, 0.01]) d2l.plot(losses[lr], { ylabel: `loss, lr ${lr}` }).show();
   */
  show(): void {
    const b = laterBridge();
    if (!this.later) {
      if (!b) showBundle({ "text/plain": this.text });
      else {
        const out = this.displayBundle();
        showBundle(out.data, out.metadata);
      }
      return;
    }
    if (b) {
      b.display(
        this.ready().then((f) => f.displayBundle()),
        undefined,
        false,
      );
      return;
    }
    this.ready().then(
      (f) => showBundle({ "text/plain": f.text }),
      (e: unknown) => process.stderr.write(`d2l figure: could not read its values: ${e instanceof Error ? e.message : String(e)}\n`),
    );
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

  /**
   * Take over what `built` holds (its bundle maker, text and spec): how a
   * pending figure becomes the figure its values make. Subclasses with more
   * fields copy them too.
   */
  protected adopt(built: Figure): void {
    this.make = built.make;
    this.made = built.made;
    this.summary = built.summary;
    this.vegaLite = built.vegaLite;
  }

  /** Make this figure pending: `prepare` builds the real one (see {@link figureFrom}). @internal */
  defer(prepare: () => Promise<Figure>): void {
    this.later = prepare;
    this.made = undefined;
  }

  /** Throw the error that says to `await fig.ready()` when the figure is pending. */
  protected mustBeReady(what: string): void {
    if (this.later) {
      throw new Error(
        `this figure's values are still on the GPU (webgpu cannot read them synchronously), so its ${what} is not made yet: ` +
          "await fig.ready() first, or show it with display(fig) or as the cell's last value",
      );
    }
  }
}

/** How a figure builder reads a tensor's values (flat, row-major), and asks whether it was disposed before the figure was made. */
export interface ReadValues {
  (t: tf.Tensor): tf.TypedArray;
  /** True for a tensor disposed before the plot call (a pending figure's own copy does not count). */
  disposed(t: tf.Tensor): boolean;
}

/**
 * Build a figure from tensors on any backend: `build(read)` gets the values
 * of each tensor it asks `read` for. When every tensor it asks for reads
 * synchronously ({@link readsSync}), this is just `build` with `dataSync`.
 * Otherwise that first build (given zeros for the GPU tensors) checks the
 * arguments, so bad input still fails at the call; the figure it returns is
 * made pending, keeping the host values it read and a clone of each GPU
 * tensor, and its preparation reads the clones with `await`, disposes them,
 * and builds again with the real values.
 *
 * @example
 * // inside lib/plot: a plot of one tensor
 * return figureFrom((read) => new Figure(() => bundleOf(read(t)), "<plot>"));
 */
export function figureFrom<F extends Figure>(build: (read: ReadValues) => F): F {
  const host = new Map<tf.Tensor, tf.TypedArray>();
  const gpu = new Map<tf.Tensor, tf.Tensor>();
  const firstRead = (t: tf.Tensor): tf.TypedArray => {
    const known = host.get(t);
    if (known) return known;
    if (gpu.has(t)) return new Float32Array(t.size);
    if (t.isDisposed || readsSync(t)) {
      const v = t.dataSync() as tf.TypedArray; // sync-read-ok: readsSync(t) is true (a disposed tensor throws tfjs' own error)
      host.set(t, v);
      return v;
    }
    gpu.set(t, tf.keep(t.clone())); // kept: a plot inside tf.tidy must not lose the clone when the tidy ends
    return new Float32Array(t.size);
  };
  let fig: F;
  try {
    fig = build(Object.assign(firstRead, { disposed: (t: tf.Tensor) => t.isDisposed }));
  } catch (e) {
    for (const c of gpu.values()) c.dispose();
    throw e;
  }
  if (gpu.size === 0) return fig;
  const clones = [...gpu.values()];
  const token = {};
  orphans.register(fig, clones, token);
  fig.defer(async () => {
    const values = new Map(host);
    try {
      for (const [t, c] of gpu) values.set(t, (await c.data()) as tf.TypedArray);
    } finally {
      for (const c of clones) if (!c.isDisposed) c.dispose();
      orphans.unregister(token);
    }
    const read = (t: tf.Tensor): tf.TypedArray => {
      const v = values.get(t);
      if (!v) throw new Error(`figure: a tensor of shape [${t.shape.join(", ")}] was not read when the figure was made; this is a bug in d2l's plot code`);
      return v;
    };
    // The caller may have disposed its tensors since: their values are here.
    return build(Object.assign(read, { disposed: (t: tf.Tensor) => !values.has(t) && t.isDisposed }));
  });
  return fig;
}
