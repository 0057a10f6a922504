/**
 * What EarlyStopping and ModelCheckpoint watch: a value of the training state
 * (by name, or a function of it), and when a new value counts as better
 * (Keras' `monitor`, `mode` and `min_delta`). Internal: not part of `d2l`.
 */
import type { EpochLog, TrainState } from "../callback";

/** The values the engine records each epoch, by name. */
export type MonitorName = "trainLoss" | "trainAcc" | "testAcc" | "testLoss";

/** A value to watch: one the engine records, or a function of the training state (called after each epoch). */
export type Monitor = MonitorName | ((state: TrainState) => number);

/** Which way is better: `"min"` (losses), `"max"` (accuracies), or `"auto"` (from the name). */
export type MonitorMode = "min" | "max" | "auto";

const NAMES: readonly MonitorName[] = ["trainLoss", "trainAcc", "testAcc", "testLoss"];

/** A checked monitor with its direction. */
export class Watch {
  readonly monitor: Monitor;
  readonly mode: "min" | "max";
  readonly minDelta: number;
  /** The name in messages: the monitor's name, or "the monitored value" for a function (or its `name`). */
  readonly label: string;

  constructor(who: string, monitor: Monitor | undefined, mode: MonitorMode | undefined, minDelta: number | undefined, fallback: MonitorName) {
    const m = monitor ?? fallback;
    if (typeof m !== "function" && !NAMES.includes(m)) {
      throw new Error(`${who}: monitor must be one of ${NAMES.map((n) => JSON.stringify(n)).join(", ")} or a function (state) => number, got ${JSON.stringify(m)}`);
    }
    const md = mode ?? "auto";
    if (md !== "min" && md !== "max" && md !== "auto") throw new Error(`${who}: mode must be "min", "max" or "auto", got ${JSON.stringify(md)}`);
    if (md === "auto" && typeof m === "function") {
      throw new Error(`${who}: with a monitor function, say which way is better: mode "min" (smaller is better, as a loss) or "max" (larger is better, as an accuracy)`);
    }
    const d = minDelta ?? 0;
    if (typeof d !== "number" || !Number.isFinite(d))
      throw new Error(`${who}: minDelta must be a finite number (the least change that counts as an improvement), got ${String(d)}`);
    this.monitor = m;
    // Keras' "auto": accuracies are maximized, everything else minimized.
    this.mode = md === "auto" ? (/Acc$/.test(m as string) ? "max" : "min") : md;
    this.minDelta = Math.abs(d);
    // (an arrow function written as `{ monitor: (s) => ... }` is named "monitor": not a name to show)
    this.label = typeof m === "function" ? (m.name && m.name !== "monitor" ? m.name : "the monitored value") : m;
  }

  /** The worst possible value (what the first value improves on). */
  get worst(): number {
    return this.mode === "min" ? Infinity : -Infinity;
  }

  /** Keras' `_is_improvement`: better than `reference` by more than minDelta. */
  improves(value: number, reference: number): boolean {
    return this.mode === "min" ? value + this.minDelta < reference : value - this.minDelta > reference;
  }

  /** The monitored value now (after an epoch); an error that says what to change when it has none. */
  value(who: string, state: TrainState): number {
    const m = this.monitor;
    let v: unknown;
    if (typeof m === "function") v = m(state);
    else v = state[m];
    if (typeof v === "number" && !Number.isNaN(v)) return v;
    if (typeof m === "function") throw new Error(`${who}: the monitor function returned ${String(v)} after epoch ${state.epoch + 1}; it must return a number`);
    const why =
      m === "testAcc"
        ? state.testIter === undefined
          ? "fit was given no testIter"
          : 'the engine computes no accuracy (accuracy: false); monitor "testLoss"'
        : m === "testLoss"
          ? state.testIter === undefined
            ? "fit was given no testIter"
            : 'the engine computes the test loss only when accuracy is off (regression); monitor "testAcc", or pass accuracy: false'
          : m === "trainAcc"
            ? 'the engine computes no accuracy (accuracy: false); monitor "trainLoss"'
            : "the loss was not read";
    throw new Error(`${who}: ${m} has no value after epoch ${state.epoch + 1}: ${why}`);
  }

  /** The monitored value of a logged epoch, for named monitors (undefined for a function, or when the log lacks it). */
  logged(log: EpochLog): number | undefined {
    if (typeof this.monitor === "function") return undefined;
    const v = log[this.monitor];
    return typeof v === "number" && !Number.isNaN(v) ? v : undefined;
  }
}

/** `0.8312`: a monitored value in messages. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}
