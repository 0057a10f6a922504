/**
 * What the training code needs from the plot library, behind small
 * interfaces: callbacks take any object with these methods (tests pass
 * fakes); the defaults are `lib/plot`'s Animator and ProgressBar.
 */
import { Animator, ProgressBar, type AnimatorOptions } from "../plot/index";

/** The part of the book's `Animator` the training callbacks use (`d2l.Animator` is one). */
export interface AnimatorLike {
  /** Add one point per line at `x`; `null` skips a line. */
  add(x: number, ys: (number | null)[]): void;
  /**
   * Called once when training ends: show the final plot (PNG included) before
   * returning, or before the promise it returns settles (the engine awaits
   * it), so that no update reaches the cell after it has finished.
   */
  finish?(): void | Promise<void>;
}

/** The options of the book's `Animator` (`d2l.Animator`'s options). */
export type AnimatorSpec = AnimatorOptions;

/** The part of a progress bar the training callbacks use (`d2l.ProgressBar` is one). */
export interface ProgressBarLike {
  /** Show `done` of the total, with a short text after the bar. */
  update(done: number, info?: string): void;
  /** Finish the bar, optionally replacing it with `finalText`. */
  close(finalText?: string): void;
}

/** A new `d2l.Animator`. */
export function makeAnimator(spec: AnimatorSpec): AnimatorLike {
  return new Animator(spec);
}

/** A new `d2l.ProgressBar` over `total` units (examples or batches). */
export function makeProgressBar(total: number, label: string, unit: string): ProgressBarLike {
  return new ProgressBar({ total, label, unit });
}
