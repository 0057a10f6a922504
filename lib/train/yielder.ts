/**
 * Giving the event loop a turn during long loops. The d2l-ts kernel
 * acknowledges an interrupt on the main thread's event loop; a loop that
 * never yields for 150 ms gets its execution terminated instead, which can
 * stop it half-way through an update. Training and evaluation loops call
 * {@link Yielder.maybe} after each batch: it yields at most every `everyMs`.
 */
import { setImmediate as realSetImmediate } from "timers";

/** Yields to the event loop when `everyMs` passed since the last yield. */
export class Yielder {
  private last = performance.now();
  constructor(private readonly everyMs = 50) {}

  /** Resolve after a turn of the event loop, if it is time; else at once. */
  async maybe(): Promise<void> {
    if (performance.now() - this.last <= this.everyMs) return;
    // Node's own setImmediate: the kernel's wrapped global drops callbacks queued before an interrupt.
    await new Promise<void>((resolve) => realSetImmediate(resolve));
    this.last = performance.now();
  }
}
