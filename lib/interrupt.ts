/**
 * Interrupts, as the kernel's stop button delivers them to library loops.
 *
 * The kernel marks the code of an interrupted cell as stale; a training loop
 * calls {@link checkInterrupt} between batches and stops there, so the model
 * keeps the weights of the last finished batch. Outside the kernel nothing is
 * ever interrupted.
 */

interface KernelHook {
  /** Bumped by every interrupt. */
  generation(): number;
  /** Run `fn` when the running cell ends, before the kernel replies (newer kernels). */
  onCellEnd?(fn: () => unknown): void;
}

function hook(): KernelHook | undefined {
  return (globalThis as Record<symbol, unknown>)[Symbol.for("d2l-ts.kernel")] as KernelHook | undefined;
}

/**
 * Thrown by a guard's `check()` (and by training loops) when the user pressed
 * stop. No book equivalent: Python raises `KeyboardInterrupt`.
 *
 * @example
 * try { await d2l.trainCh3(net, trainIter, testIter, loss, 10, updater); }
 * catch (e) { if (e instanceof d2l.InterruptedError) console.log("stopped; the weights are kept"); else throw e; }
 */
export class InterruptedError extends Error {
  constructor(message = "Interrupted by the user; the model keeps the weights of the last finished batch") {
    super(message);
    this.name = "Interrupted";
  }
}

/** Watches for the stop button from the moment it is made. */
export interface InterruptGuard {
  /** True once the user has interrupted since the guard was made. */
  readonly interrupted: boolean;
  /** Throw {@link InterruptedError} if the user has interrupted since the guard was made. */
  check(): void;
}

/**
 * Start watching for interrupts: a long loop makes a guard before its first
 * step and calls `check()` between steps (every `trainCh*` does, once per
 * batch), so it stops after the current step and keeps what it has.
 *
 * @example
 * const guard = d2l.interruptGuard();
 * for await (const [X, y] of trainIter) { guard.check(); step(X, y); }
 */
export function interruptGuard(): InterruptGuard {
  const h = hook();
  const since = h ? h.generation() : 0;
  return {
    get interrupted(): boolean {
      return h !== undefined && h.generation() !== since;
    },
    check(): void {
      if (h !== undefined && h.generation() !== since) throw new InterruptedError();
    },
  };
}

/**
 * Run `fn` when the kernel's current cell ends, before its reply goes out (so
 * a live plot's final state is what the notebook keeps). Outside the kernel,
 * or on a kernel without the hook, nothing happens and `false` is returned.
 * No book equivalent: matplotlib draws synchronously.
 *
 * @example
 * d2l.atCellEnd(() => animator.finish());
 */
export function atCellEnd(fn: () => unknown): boolean {
  const h = hook();
  if (!h?.onCellEnd) return false;
  h.onCellEnd(fn);
  return true;
}
