/** The book's small bookkeeping helpers: Accumulator and Timer. */

/**
 * Sums over `n` variables (the book's `d2l.Accumulator`): training loops add
 * a batch's loss sum, correct count and example count, then divide.
 *
 * @example
 * const metric = new d2l.Accumulator(3);
 * metric.add(2.5, 7, 10);
 * metric.add(1.5, 9, 10);
 * metric.get(0) / metric.get(2) // 0.2, the mean loss
 */
export class Accumulator {
  private data: number[];

  /** @param n how many variables to sum over */
  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Accumulator(n) expects a positive integer n, got ${n}`);
    this.data = new Array<number>(n).fill(0);
  }

  /**
   * Add one value to each variable (the book's `add(*args)`); pass exactly `n` numbers.
   *
   * @example
   * metric.add(lossSum, correct, batchSize);
   */
  add(...args: number[]): void {
    if (args.length !== this.data.length) {
      throw new Error(`Accumulator(${this.data.length}).add expects ${this.data.length} numbers, got ${args.length}`);
    }
    for (let i = 0; i < args.length; i++) this.data[i] += Number(args[i]);
  }

  /**
   * Set every variable back to 0.
   *
   * @example
   * metric.reset();
   */
  reset(): void {
    this.data.fill(0);
  }

  /**
   * The sum of variable `i` (the book's `metric[i]`).
   *
   * @example
   * metric.get(0)
   */
  get(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.data.length) {
      throw new Error(`Accumulator index ${i} is out of range; expected 0..${this.data.length - 1}`);
    }
    return this.data[i];
  }

  /**
   * Like {@link get}, and negative `i` counts from the end (`at(-1)` is the last).
   *
   * @example
   * metric.at(-1) // the example count
   */
  at(i: number): number {
    return this.get(i < 0 ? this.data.length + i : i);
  }

  /** How many variables. */
  get length(): number {
    return this.data.length;
  }

  /**
   * All sums, as a new array.
   *
   * @example
   * const [lossSum, correct, n] = metric.toArray();
   */
  toArray(): number[] {
    return [...this.data];
  }
}

/**
 * Records running times (the book's `d2l.Timer`); it starts when made.
 *
 * @example
 * const timer = new d2l.Timer();
 * doWork();
 * timer.stop(); // seconds since the start
 * `${timer.avg().toFixed(5)} sec`
 */
export class Timer {
  /** The recorded times, in seconds. */
  readonly times: number[] = [];
  private tik = 0;

  constructor() {
    this.start();
  }

  /**
   * Start the timer.
   *
   * @example
   * timer.start();
   */
  start(): void {
    this.tik = performance.now();
  }

  /**
   * Stop the timer, record the time since {@link start} and return it in seconds.
   *
   * @example
   * const seconds = timer.stop();
   */
  stop(): number {
    const t = (performance.now() - this.tik) / 1000;
    this.times.push(t);
    return t;
  }

  /**
   * The average recorded time (NaN before any was recorded).
   *
   * @example
   * timer.avg()
   */
  avg(): number {
    return this.sum() / this.times.length;
  }

  /**
   * The sum of the recorded times.
   *
   * @example
   * timer.sum()
   */
  sum(): number {
    return this.times.reduce((a, b) => a + b, 0);
  }

  /**
   * The running sums of the recorded times.
   *
   * @example
   * timer.cumsum() // [0.1, 0.3, 0.35]
   */
  cumsum(): number[] {
    let s = 0;
    return this.times.map((t) => (s += t));
  }
}
