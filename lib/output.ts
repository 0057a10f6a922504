/**
 * How library code shows things in the notebook: live plots, progress bars,
 * summary lines. Inside the d2l-ts kernel this goes through the kernel's output
 * bridge (display_data / update_display_data with a display id); in plain Node
 * the text/plain part is printed once and updates are dropped, so scripts stay
 * quiet.
 */
import { randomUUID } from "crypto";

/** A Jupyter mime bundle: mime type to data (`+json` types as objects). */
export type MimeBundle = Record<string, unknown>;

interface Bridge {
  display(out: { data: MimeBundle; metadata: Record<string, unknown> }, displayId: string | undefined, update: boolean): void;
  clearOutput(wait: boolean): void;
}

function bridge(): Bridge | undefined {
  return (globalThis as Record<symbol, unknown>)[Symbol.for("d2l-ts.output")] as Bridge | undefined;
}

/**
 * True inside the d2l-ts kernel, where displays render in the notebook.
 *
 * @example
 * if (!d2l.inKernel()) console.log("running as a script");
 */
export function inKernel(): boolean {
  return bridge() !== undefined;
}

/**
 * An output shown once and replaced in place afterwards (Jupyter's display
 * id); what `Animator` and `ProgressBar` draw on. No book equivalent:
 * matplotlib's `display.clear_output(wait=True)` plays this part there.
 *
 * @example
 * const out = new d2l.LiveOutput();
 * for (let i = 1; i <= 3; i++) out.show({ "text/plain": `step ${i}` });
 */
export class LiveOutput {
  /** The Jupyter display id of this output. */
  readonly displayId: string = randomUUID();
  private shown = false;

  /**
   * Show `bundle`, or replace what this output showed before.
   *
   * @example
   * const out = new d2l.LiveOutput();
   * out.show({ "text/plain": "epoch 1" });
   * out.show({ "text/plain": "epoch 2" }); // same place in the notebook
   */
  show(bundle: MimeBundle, metadata: Record<string, unknown> = {}): void {
    const b = bridge();
    if (b) b.display({ data: bundle, metadata }, this.displayId, this.shown);
    else if (!this.shown) console.log(String(bundle["text/plain"] ?? ""));
    this.shown = true;
  }

  /** True once {@link show} was called. */
  get isShown(): boolean {
    return this.shown;
  }
}

/**
 * Show a bundle as a new output (display_data), not tied to a display id.
 *
 * @example
 * d2l.showBundle({ "text/plain": "hello", "text/markdown": "**hello**" });
 */
export function showBundle(bundle: MimeBundle, metadata: Record<string, unknown> = {}): void {
  const b = bridge();
  if (b) b.display({ data: bundle, metadata }, undefined, false);
  else console.log(String(bundle["text/plain"] ?? ""));
}
