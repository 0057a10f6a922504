/**
 * `d2l.ProgressBar`: a one-line progress bar for epochs and downloads.
 */
import { inKernel, LiveOutput } from "../output";

/** Options of {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** How many steps make 100% (examples, batches, bytes). */
  total: number;
  /** Text before the bar, e.g. "epoch 1". */
  label?: string;
  /** What is counted, for the rate: "examples" by default ("examples/s"). */
  unit?: string;
  /** Bar width in characters (default 30). */
  width?: number;
  /** Least time between redraws in ms (default 250: about 4 updates a second). */
  intervalMs?: number;
  /** Time source in ms (tests pass a fake clock); default `Date.now`. */
  now?: () => number;
}

function clock(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return "--:--";
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function rateText(r: number): string {
  if (r >= 100) return String(Math.round(r));
  if (r >= 10) return r.toFixed(1);
  return r.toFixed(2);
}

/**
 * A progress bar: `label [#####-----] done/total, N examples/s (info), ETA m:ss`.
 * In the kernel it is one output updated in place (about 4 times a second at
 * most); in plain Node it is drawn on stderr only when stderr is a terminal.
 * (The book has no progress bar; its loops print once per epoch.)
 *
 * @example
 * const bar = new d2l.ProgressBar({ total: 60000, label: "epoch 1" });
 * for (let done = 0; done < 60000; done += 256) bar.update(Math.min(done + 256, 60000), `loss ${loss.toFixed(3)}`);
 * bar.close("epoch 1: loss 0.512");
 */
export class ProgressBar {
  readonly total: number;
  readonly label: string;
  private readonly unit: string;
  private readonly width: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly start: number;
  private done = 0;
  private info: string | undefined;
  private lastDraw = -Infinity;
  private out: LiveOutput | undefined;
  private ttyDrawn = false;
  private closed = false;

  constructor(options: ProgressBarOptions) {
    if (typeof options !== "object" || options === null) throw new Error("ProgressBar: expected options { total, label? }, e.g. new ProgressBar({ total: 100 })");
    const { total } = options;
    if (typeof total !== "number" || !Number.isFinite(total) || total < 0) {
      throw new Error(`ProgressBar: total must be a finite number >= 0 (how many steps make 100%); got ${JSON.stringify(total)}`);
    }
    this.total = total;
    this.label = options.label ?? "";
    this.unit = options.unit ?? "examples";
    this.width = Math.max(1, Math.floor(options.width ?? 30));
    this.intervalMs = options.intervalMs ?? 250;
    this.now = options.now ?? Date.now;
    this.start = this.now();
  }

  /**
   * Set progress to `done` of `total`, with optional extra `info` (e.g. the
   * running loss). Redraws at most every 250 ms, and always at 100%.
   *
   * @example
   * bar.update(512, "loss 0.73");
   */
  update(done: number, info?: string): void {
    if (typeof done !== "number" || Number.isNaN(done)) throw new Error(`ProgressBar.update: done must be a number; got ${JSON.stringify(done)}`);
    this.done = done;
    this.info = info;
    if (this.closed) return;
    const t = this.now();
    if (t - this.lastDraw < this.intervalMs && done < this.total) return;
    this.lastDraw = t;
    this.draw(this.text());
  }

  /**
   * The line as it reads now.
   *
   * @example
   * bar.text(); // "epoch 1 [###---...] 512/60000, 2048 examples/s (loss 0.73), ETA 0:27"
   */
  text(): string {
    const frac = this.total > 0 ? Math.max(0, Math.min(1, this.done / this.total)) : 1;
    const filled = Math.round(frac * this.width);
    const bar = `[${"#".repeat(filled)}${"-".repeat(this.width - filled)}]`;
    const elapsed = (this.now() - this.start) / 1000;
    const rate = elapsed > 0 && this.done > 0 ? this.done / elapsed : undefined;
    const parts = [`${this.label ? `${this.label} ` : ""}${bar} ${this.done}/${this.total}`];
    if (rate !== undefined) parts.push(`${rateText(rate)} ${this.unit}/s${this.info ? ` (${this.info})` : ""}`);
    else if (this.info) parts.push(`(${this.info})`);
    const eta = rate !== undefined ? Math.max(0, this.total - this.done) / rate : NaN;
    parts.push(`ETA ${clock(eta)}`);
    return parts.join(", ");
  }

  /**
   * Remove the bar: replace it with `finalText`, or leave an empty output.
   *
   * @example
   * bar.close(`epoch 1 done in ${timer.stop().toFixed(1)} s`);
   */
  close(finalText?: string): void {
    if (this.closed) return;
    this.closed = true;
    const text = finalText ?? "";
    if (inKernel()) {
      if (this.out || text !== "") (this.out ??= new LiveOutput()).show({ "text/plain": text });
      return;
    }
    if (process.stderr.isTTY) {
      if (this.ttyDrawn) process.stderr.write("\r\x1b[K");
      if (text !== "") process.stderr.write(`${text}\n`);
    }
  }

  private draw(line: string): void {
    if (inKernel()) {
      (this.out ??= new LiveOutput()).show({ "text/plain": line });
    } else if (process.stderr.isTTY) {
      const cols = process.stderr.columns || 120;
      process.stderr.write(`\r\x1b[K${line.length >= cols ? line.slice(0, cols - 1) : line}`);
      this.ttyDrawn = true;
    }
  }
}
