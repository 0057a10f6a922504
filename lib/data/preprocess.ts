/**
 * A {@link DataLoader}'s per-example `preprocess` function: compiled from its
 * source text (so that a worker thread can run it too) and run over one
 * batch, the same code on the main thread (`numWorkers: 0`) and in the
 * workers, so both give the same batches bit for bit. Nothing here imports
 * tfjs (a worker thread loads this file).
 */
import { type HostColumn, stackPlain, describeValue } from "./collate";
import { mixSeed, rng } from "./random";

/**
 * What a {@link DataLoader}'s `preprocess` function gets besides the
 * example: its index, the epoch, a seeded random generator and the loader's
 * `preprocessArgs`.
 *
 * @example
 * const preprocess = (x: Uint8Array, y: number, ctx: d2l.PreprocessContext<{ scale: number }>) =>
 *   [Float32Array.from(x, (v) => v * ctx.args.scale), y];
 */
export interface PreprocessContext<A = unknown> {
  /** The example's index in the dataset. */
  index: number;
  /** The epoch (0-based) of the loader. */
  epoch: number;
  /**
   * Uniform numbers in [0, 1), seeded by the loader's seed, the epoch and
   * the index: random augmentations repeat for a seeded loader and do not
   * depend on `numWorkers`. (`Math.random` is this generator too while
   * `preprocess` runs.)
   */
  random: () => number;
  /** The loader's `preprocessArgs` (a copy in a worker). */
  args: A;
}

/** The compiled function. */
export type PreprocessFn = (x: unknown, y: unknown, ctx: PreprocessContext) => unknown;

/** One batch's work: the raw examples and where they come from. */
export interface BatchTask {
  epoch: number;
  /** Seed of the epoch's per-example generators. */
  epochSeed: number;
  indices: Int32Array;
  examples: [unknown, unknown][];
  /** Stack the results into two columns (false: a user's collate will, on the main thread). */
  stack: boolean;
  /** The buffer the examples' typed arrays live in, transferred to the worker with the task. */
  buffer?: ArrayBuffer;
}

/** What a batch's work gives: two stacked columns, or the preprocessed examples. */
export type BatchResult = { x: HostColumn; y: HostColumn; examples?: undefined } | { examples: [unknown, unknown][]; x?: undefined; y?: undefined };

const RULE =
  "preprocess runs from its source text (on the main thread and in worker threads alike), so it sees only its own code, " +
  "its arguments (x, y, ctx) and JavaScript's built-ins: not the notebook's variables, imports, tf or d2l. " +
  "Define what it needs inside it, or pass values in the loader's preprocessArgs (they arrive as ctx.args)";

/**
 * The source of a preprocess function, checked: a function written as an
 * arrow function, a function expression or a method.
 */
export function preprocessSource(fn: unknown): string {
  if (typeof fn !== "function") throw new Error(`DataLoader: preprocess must be a function (x, y, ctx) => [x, y], got ${describeValue(fn)}`);
  const src = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) {
    throw new Error(`DataLoader: preprocess is a built-in or bound function, whose source cannot be read; write it as an arrow function (x, y, ctx) => [x, y]. ${RULE}`);
  }
  if (/^class[\s{]/.test(src)) throw new Error("DataLoader: preprocess is a class; expected a function (x, y, ctx) => [x, y]");
  if (/^async[\s(]/.test(src) || /^(async\s+)?function\s*\*/.test(src)) {
    throw new Error("DataLoader: preprocess must be a plain (not async, not generator) function that returns [x, y]");
  }
  compilePreprocess(src); // syntax errors now, not in a worker
  return src;
}

/**
 * Compile the source in the global scope (indirect eval): a function
 * expression, an arrow function, or a method written `name(x, y, ctx) { ... }`.
 */
export function compilePreprocess(src: string): PreprocessFn {
  const globalEval = eval;
  let fn: unknown;
  try {
    fn = globalEval(`(${src}\n)`);
  } catch (first) {
    try {
      // a method (`preprocess(x, y, ctx) { ... }` in an options object): its source is not an expression
      const obj = globalEval(`({${src}\n})`) as Record<string, unknown>;
      fn = Object.values(obj)[0];
    } catch {
      throw new Error(`DataLoader: cannot compile preprocess from its source text (${(first as Error).message}); write it as an arrow function (x, y, ctx) => [x, y]`);
    }
  }
  if (typeof fn !== "function") throw new Error("DataLoader: preprocess's source text is not a function; write it as an arrow function (x, y, ctx) => [x, y]");
  return fn as PreprocessFn;
}

/** Seed of epoch `epoch`'s per-example generators, for a loader seeded `seed` (independent of its shuffle). */
export function epochSeed(seed: number, epoch: number): number {
  return mixSeed(seed ^ 0x2545f491, epoch);
}

/** The error a failing preprocess gives: the example's index, and the rule when it used an outside name. */
export function preprocessError(e: unknown, index: number, fn?: PreprocessFn): Error {
  let msg = e instanceof Error ? e.message : String(e);
  if (e instanceof ReferenceError && /^exports is not defined/.test(msg) && fn) {
    // the kernel compiles a variable of another cell to `exports.name`
    const names = [...new Set([...String(fn).matchAll(/\bexports\.([A-Za-z_$][\w$]*)/g)].map((m) => m[1]))];
    if (names.length) msg = `it uses ${names.map((n) => `\`${n}\``).join(", ")} from another notebook cell (${msg})`;
  }
  const hint = e instanceof ReferenceError ? `. ${RULE}` : "";
  const err = new Error(`DataLoader: preprocess failed on example ${index}: ${msg}${hint}`);
  if (e instanceof Error && e.stack) err.stack = `${err.name}: ${err.message}\n    caused by ${e.stack}`;
  return err;
}

/**
 * Run `fn` over the examples of one batch (with `Math.random` replaced by
 * each example's generator while it runs) and stack the results.
 */
export function processBatch(fn: PreprocessFn, args: unknown, task: BatchTask): BatchResult {
  const out: [unknown, unknown][] = [];
  const saved = Math.random;
  try {
    for (let j = 0; j < task.examples.length; j++) {
      const index = task.indices[j];
      const random = rng(mixSeed(task.epochSeed, index));
      Math.random = random;
      let r: unknown;
      try {
        r = fn(task.examples[j][0], task.examples[j][1], { index, epoch: task.epoch, random, args });
      } catch (e) {
        throw preprocessError(e, index, fn);
      }
      if (!Array.isArray(r) || r.length !== 2) {
        throw new Error(
          `DataLoader: preprocess must return a pair [x, y], but on example ${index} it returned ${describeValue(r)}${r instanceof Promise ? " (a Promise: preprocess must not be async)" : ""}`,
        );
      }
      out.push(r as [unknown, unknown]);
    }
  } finally {
    Math.random = saved;
  }
  if (!task.stack) return { examples: out };
  return {
    x: stackPlain(
      out.map((e) => e[0]),
      "x",
      task.indices,
    ),
    y: stackPlain(
      out.map((e) => e[1]),
      "y",
      task.indices,
    ),
  };
}
