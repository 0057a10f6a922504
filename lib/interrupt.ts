/**
 * Interrupts, as the kernel's stop button delivers them to library loops.
 *
 * The kernel marks the code of an interrupted cell as stale; a training loop
 * calls {@link checkInterrupt} between batches and stops there, so the model
 * keeps the weights of the last finished batch. Outside the kernel nothing is
 * ever interrupted.
 */

interface KernelHook {
  interrupted(): boolean;
}

/** Thrown by {@link checkInterrupt} when the user pressed stop. */
export class InterruptedError extends Error {
  constructor(message = "Interrupted by the user; the model keeps the weights of the last finished batch") {
    super(message);
    this.name = "Interrupted";
  }
}

/**
 * True when the user interrupted the cell that started the running code.
 *
 * @example
 * while (!d2l.isInterrupted()) { step(); await tf.nextFrame(); }
 */
export function isInterrupted(): boolean {
  const hook = (globalThis as Record<symbol, unknown>)[Symbol.for("d2l-ts.kernel")] as KernelHook | undefined;
  return hook !== undefined && hook.interrupted();
}

/**
 * Throw {@link InterruptedError} if the user interrupted; long loops call it
 * between steps (every `trainCh*` does, once per batch).
 *
 * @example
 * for await (const [X, y] of trainIter) { d2l.checkInterrupt(); step(X, y); }
 */
export function checkInterrupt(): void {
  if (isInterrupted()) throw new InterruptedError();
}
