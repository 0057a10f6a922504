/**
 * Run logs: {@link CSVLogger} and {@link JsonlLogger} write a line every N
 * batches and one per epoch to a file, and {@link plotRuns} draws several
 * runs' logs side by side.
 *
 * Every line has the same fields (a CSV's columns, a JSON line's keys):
 *
 * | field | batch lines | epoch lines |
 * |---|---|---|
 * | `kind` | `"batch"` | `"epoch"` |
 * | `epoch` | epoch, from 1 | epoch, from 1 |
 * | `batch` | batches done in the epoch | batches in the epoch |
 * | `examples` | examples trained on since the run began (all epochs, those before a resume too) | same |
 * | `trainLoss`, `trainAcc` | mean since the epoch's start | the epoch's |
 * | `testLoss`, `testAcc` | empty | after the epoch (when the fit has a test iterator) |
 * | `lr` | the optimizer's learning rate, when it has one | same |
 * | `time` | wall-clock seconds since this fit began | same |
 */
import * as fs from "fs";
import * as path from "path";
import type { Callback, TrainState } from "../callback";
import { plot } from "../../plot/plot";
import type { Figure } from "../../plot/figure";
import type { PlotOptions } from "../../plot/plot";
import { learningRateOf } from "./weights";

/** One line of a run log (see the module notes); undefined where the line has no value. */
export interface RunLogRecord {
  kind: "batch" | "epoch";
  epoch: number;
  batch: number | undefined;
  examples: number;
  trainLoss: number | undefined;
  trainAcc: number | undefined;
  testLoss: number | undefined;
  testAcc: number | undefined;
  lr: number | undefined;
  time: number;
}

/** The fields of a log line, in the CSV's column order. */
const RUN_LOG_FIELDS: readonly (keyof RunLogRecord)[] = ["kind", "epoch", "batch", "examples", "trainLoss", "trainAcc", "testLoss", "testAcc", "lr", "time"];

/** Options of {@link CSVLogger} and {@link JsonlLogger}. */
export interface RunLoggerOptions {
  /** Write a batch line every this many batches (default 0: epoch lines only). */
  every?: number;
  /** Add to the file (default false: start it afresh at each fit, as Keras' `append=False`). */
  append?: boolean;
}

/** What the two loggers share: when to write, what, and how the file is kept. */
abstract class RunLogger implements Callback {
  /** After the other callbacks (a scheduler's step shows in the epoch line's `lr`), before the interrupt check. */
  readonly order = 800;
  readonly file: string;
  readonly every: number;
  readonly append: boolean;
  private fd: number | undefined;
  private started = 0;
  private examplesBefore = 0;

  constructor(who: string, file: string, opts: RunLoggerOptions) {
    if (typeof file !== "string" || file.trim() === "") throw new Error(`${who}(file): expected the path of the log file, got ${JSON.stringify(file)}`);
    if (opts === null || typeof opts !== "object") throw new Error(`${who}(file, opts): opts must be an options object, e.g. { every: 50 }`);
    const every = opts.every ?? 0;
    if (!Number.isInteger(every) || every < 0) throw new Error(`${who}: every must be a whole number of batches (0: epoch lines only), got ${String(every)}`);
    this.file = file;
    this.every = every;
    this.append = opts.append ?? false;
  }

  /** The header line to write at the top of a new file (undefined: none). */
  protected abstract header(): string | undefined;
  /** One record as a line (without the newline). */
  protected abstract line(r: RunLogRecord): string;
  /** Check that an existing file's first line fits (for append). */
  protected abstract checkExisting(firstLine: string): void;

  /** @internal */
  onTrainBegin(state: TrainState): void {
    this.close();
    const file = path.resolve(this.file);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const existing = this.append && fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    if (existing !== "") this.checkExisting(existing.split("\n", 1)[0]);
    this.fd = fs.openSync(file, this.append ? "a" : "w");
    const head = this.header();
    if (existing === "" && head !== undefined) this.write(head);
    else if (existing !== "" && !existing.endsWith("\n")) this.write(""); // a line cut by a killed run ends here
    this.started = performance.now();
    this.examplesBefore = state.history.reduce((a, h) => a + (h.examples ?? 0), 0);
  }

  private write(text: string): void {
    if (this.fd === undefined) return;
    fs.writeSync(this.fd, `${text}\n`); // unbuffered: a killed run keeps every line written
  }

  private record(state: TrainState, kind: "batch" | "epoch"): RunLogRecord {
    const finite = (v: number | undefined): number | undefined => (v !== undefined && Number.isFinite(v) ? v : undefined);
    return {
      kind,
      epoch: state.epoch + 1,
      batch: kind === "batch" ? state.batch + 1 : state.batch >= 0 ? state.batch + 1 : undefined,
      examples: this.examplesBefore + state.totalExamples,
      trainLoss: finite(state.trainLoss),
      trainAcc: finite(state.trainAcc),
      testLoss: kind === "epoch" ? finite(state.testLoss) : undefined,
      testAcc: kind === "epoch" ? finite(state.testAcc) : undefined,
      lr: learningRateOf(state.updater),
      time: (performance.now() - this.started) / 1000,
    };
  }

  private batchDue(state: TrainState): boolean {
    return this.every > 0 && (state.batch + 1) % this.every === 0 && state.batch + 1 !== state.numBatches;
  }

  /** @internal */
  needsValues(state: TrainState): boolean {
    return this.batchDue(state);
  }

  /** @internal */
  onBatchEnd(state: TrainState): void {
    if (this.batchDue(state)) this.write(this.line(this.record(state, "batch")));
  }

  /** @internal */
  onEpochEnd(state: TrainState): void {
    this.write(this.line(this.record(state, "epoch")));
    if (this.fd !== undefined) fs.fsyncSync(this.fd);
  }

  /** @internal */
  onTrainEnd(): void {
    this.close();
  }

  private close(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A number as a log writes it: shortest exact form; empty when missing. */
function num(v: number | undefined): string {
  return v === undefined ? "" : String(v);
}

/**
 * Writes a run's log as CSV: a header line, then one line every `every`
 * batches (running values since the epoch's start) and one per epoch (with
 * the test metrics), as Keras' `CSVLogger(filename, separator, append)` does
 * per epoch. Columns: `kind,epoch,batch,examples,trainLoss,trainAcc,testLoss,
 * testAcc,lr,time` (see the module notes). Each line is written to the file
 * as it comes (and the file synced at each epoch's end), so an interrupted
 * run keeps its lines. `append: true` adds to an existing log (a resumed run:
 * its epochs and examples continue), after checking the header.
 *
 * @example
 * await d2l.fit({ net, loss, updater, trainIter, testIter, numEpochs: 10, callbacks: [new d2l.CSVLogger("runs/lr0.1.csv", { every: 50 })] });
 * d2l.plotRuns(["runs/lr0.1.csv", "runs/lr0.3.csv"], { metric: "testAcc" });
 */
export class CSVLogger extends RunLogger {
  readonly separator: string;

  constructor(file: string, opts: RunLoggerOptions & { separator?: string } = {}) {
    super("CSVLogger", file, opts);
    const sep = opts.separator ?? ",";
    if (typeof sep !== "string" || sep.length !== 1 || (/[\s".0-9a-zA-Z-]/.test(sep) && sep !== "\t")) {
      throw new Error(`CSVLogger: separator must be one character such as "," or ";" or "\\t", got ${JSON.stringify(sep)}`);
    }
    this.separator = sep;
  }

  protected header(): string {
    return RUN_LOG_FIELDS.join(this.separator);
  }

  protected line(r: RunLogRecord): string {
    return RUN_LOG_FIELDS.map((k) => (k === "kind" ? r.kind : num(r[k] as number | undefined))).join(this.separator);
  }

  protected checkExisting(firstLine: string): void {
    if (firstLine.trim() !== this.header()) {
      throw new Error(
        `CSVLogger: ${this.file} starts with "${firstLine.slice(0, 80)}", not this logger's header "${this.header()}"; append to a log a CSVLogger wrote (same separator), or choose another file`,
      );
    }
  }
}

/**
 * Writes a run's log as JSON lines: one object per line, every `every`
 * batches and per epoch, with the fields of the module notes (missing values
 * left out). The same lines as {@link CSVLogger}'s, for tools that read JSON.
 *
 * @example
 * const log = new d2l.JsonlLogger("runs/adam.jsonl", { every: 20 });
 * await d2l.fit({ net, loss, updater, trainIter, testIter, numEpochs: 5, callbacks: [log] });
 * // {"kind":"batch","epoch":1,"batch":20,"examples":5120,"trainLoss":1.23,"trainAcc":0.55,"lr":0.001,"time":0.8}
 */
export class JsonlLogger extends RunLogger {
  constructor(file: string, opts: RunLoggerOptions = {}) {
    super("JsonlLogger", file, opts);
  }

  protected header(): undefined {
    return undefined;
  }

  protected line(r: RunLogRecord): string {
    return JSON.stringify(r);
  }

  protected checkExisting(firstLine: string): void {
    let ok = false;
    try {
      const v = JSON.parse(firstLine) as { kind?: unknown };
      ok = v !== null && typeof v === "object" && (v.kind === "batch" || v.kind === "epoch");
    } catch {
      ok = false;
    }
    if (!ok)
      throw new Error(`JsonlLogger: ${this.file} does not start with a run-log line (${firstLine.slice(0, 80)}); append to a log a JsonlLogger wrote, or choose another file`);
  }
}

/**
 * Read a run log written by {@link CSVLogger} or {@link JsonlLogger} (told
 * apart by the content): its lines as records, in order.
 *
 * @example
 * const rows = d2l.readRunLog("runs/lr0.1.csv");
 * rows.filter((r) => r.kind === "epoch").map((r) => r.testAcc);
 */
export function readRunLog(file: string): RunLogRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`readRunLog: cannot read ${file}${code === "ENOENT" ? ": no such file (a CSVLogger or JsonlLogger writes one)" : ` (${(e as Error).message})`}`);
  }
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return [];
  const out: RunLogRecord[] = [];
  const toNum = (v: unknown): number | undefined => {
    if (v === undefined || v === null || v === "") return undefined;
    const n = typeof v === "number" ? v : Number(v);
    return Number.isNaN(n) ? undefined : n;
  };
  const fromObject = (o: Record<string, unknown>, where: string): RunLogRecord => {
    if (o.kind !== "batch" && o.kind !== "epoch") throw new Error(`readRunLog: ${where} is not a run-log line (kind must be "batch" or "epoch")`);
    return {
      kind: o.kind,
      epoch: toNum(o.epoch) ?? NaN,
      batch: toNum(o.batch),
      examples: toNum(o.examples) ?? NaN,
      trainLoss: toNum(o.trainLoss),
      trainAcc: toNum(o.trainAcc),
      testLoss: toNum(o.testLoss),
      testAcc: toNum(o.testAcc),
      lr: toNum(o.lr),
      time: toNum(o.time) ?? NaN,
    };
  };
  if (lines[0].trimStart().startsWith("{")) {
    lines.forEach((l, i) => {
      let o: unknown;
      try {
        o = JSON.parse(l);
      } catch {
        if (i === lines.length - 1) return; // the last line of a killed run may be cut
        throw new Error(`readRunLog: ${file} line ${i + 1} is not JSON`);
      }
      out.push(fromObject(o as Record<string, unknown>, `${file} line ${i + 1}`));
    });
    return out;
  }
  const sep = [",", ";", "\t", "|"].find((s) => lines[0].split(s)[0] === "kind");
  if (sep === undefined) throw new Error(`readRunLog: ${file} is neither a CSV run log (a header starting with "kind") nor JSON lines`);
  const head = lines[0].split(sep).map((h) => h.trim());
  lines.slice(1).forEach((l, i) => {
    const cells = l.split(sep);
    if (cells[0] === "kind") return; // a header repeated by an append
    if (cells.length !== head.length) {
      if (i === lines.length - 2) return; // the last line of a killed run may be cut
      throw new Error(`readRunLog: ${file} line ${i + 2} has ${cells.length} cells, the header ${head.length}`);
    }
    out.push(fromObject(Object.fromEntries(head.map((h, k) => [h, cells[k]])), `${file} line ${i + 2}`));
  });
  return out;
}

/** Options of {@link plotRuns}. */
export interface PlotRunsOptions extends PlotOptions {
  /** The value to plot (default `"trainLoss"`): `"trainLoss"`, `"trainAcc"`, `"testLoss"`, `"testAcc"`, `"lr"`. */
  metric?: "trainLoss" | "trainAcc" | "testLoss" | "testAcc" | "lr";
  /** The x axis (default `"epoch"`): epochs, `"examples"` trained on, or wall-clock `"time"` in seconds. */
  x?: "epoch" | "examples" | "time";
  /**
   * Which lines (default `"epoch"`: one point per epoch). `"batch"` plots
   * the batch lines and the epoch lines (test metrics have epoch lines only);
   * with x `"epoch"` a batch line sits at its fraction of the epoch.
   */
  lines?: "epoch" | "batch";
}

/**
 * Several runs' logs side by side in one `d2l.plot`: one line per file (the
 * legend is the file's name), `metric` against `x`, so a student compares
 * runs (two learning rates, two optimizers, with and without dropout). Reads
 * what {@link CSVLogger} and {@link JsonlLogger} write. TensorBoard's runs
 * view is the model.
 *
 * @example
 * d2l.plotRuns(["runs/sgd.csv", "runs/adam.csv"], { metric: "testAcc" });
 * d2l.plotRuns(["runs/sgd.csv", "runs/adam.csv"], { metric: "trainLoss", x: "examples", lines: "batch", yscale: "log" });
 */
export function plotRuns(files: string | string[], opts: PlotRunsOptions = {}): Figure {
  const list = typeof files === "string" ? [files] : files;
  if (!Array.isArray(list) || list.length === 0 || !list.every((f) => typeof f === "string")) {
    throw new Error("plotRuns(files, opts): files must be a log file's path or a non-empty array of them (what CSVLogger or JsonlLogger wrote)");
  }
  const { metric = "trainLoss", x = "epoch", lines = "epoch", ...plotOpts } = opts;
  if (!["trainLoss", "trainAcc", "testLoss", "testAcc", "lr"].includes(metric)) {
    throw new Error(`plotRuns: metric must be "trainLoss", "trainAcc", "testLoss", "testAcc" or "lr", got ${JSON.stringify(metric)}`);
  }
  if (!["epoch", "examples", "time"].includes(x)) throw new Error(`plotRuns: x must be "epoch", "examples" or "time", got ${JSON.stringify(x)}`);
  if (lines !== "epoch" && lines !== "batch") throw new Error(`plotRuns: lines must be "epoch" or "batch", got ${JSON.stringify(lines)}`);
  const xs: number[][] = [];
  const ys: number[][] = [];
  for (const file of list) {
    const rows = readRunLog(file);
    const batchesPerEpoch = new Map<number, number>();
    for (const r of rows) if (r.kind === "epoch" && r.batch !== undefined) batchesPerEpoch.set(r.epoch, r.batch);
    const xv: number[] = [];
    const yv: number[] = [];
    for (const r of rows) {
      if (r.kind === "batch" && lines === "epoch") continue;
      const y = r[metric];
      if (y === undefined) continue;
      let xx: number;
      if (x === "epoch") {
        if (r.kind === "epoch") xx = r.epoch;
        else {
          const nb = batchesPerEpoch.get(r.epoch) ?? [...batchesPerEpoch.values()][0];
          if (nb === undefined || r.batch === undefined) continue; // an epoch cut short: no fraction to place it at
          xx = r.epoch - 1 + r.batch / nb;
        }
      } else xx = r[x];
      if (!Number.isFinite(xx)) continue;
      xv.push(xx);
      yv.push(y);
    }
    if (yv.length === 0) {
      throw new Error(
        `plotRuns: ${file} has no ${metric} values${metric.startsWith("test") ? " (test metrics come from a fit with a testIter)" : ""}${lines === "epoch" ? " in its epoch lines" : ""}`,
      );
    }
    xs.push(xv);
    ys.push(yv);
  }
  const legend = runNames(list);
  return plot(xs, ys, { xlabel: x === "time" ? "seconds" : x, ylabel: metric, legend, ...plotOpts });
}

/** Legend names: the files' names without the extension, or longer paths where two would read the same. */
function runNames(files: string[]): string[] {
  const short = files.map((f) => path.basename(f).replace(/\.(csv|jsonl|json|log|txt)$/i, ""));
  if (new Set(short).size === short.length) return short;
  return files.map((f) => path.relative(process.cwd(), path.resolve(f)) || f);
}
