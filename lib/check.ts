/**
 * Graded checks for course assignments (d2l-ts' own; the book has none).
 *
 * A check cell of an assignment calls `d2l.check(name, points, condition)`.
 * Each call shows one output: a line a student reads,
 * `✓ softmax rows sum to 1 (1/1 points)`, and a machine-readable copy under the
 * mime type {@link CHECK_MIME} that `d2l-ts grade` collects from the executed
 * notebook. A check never throws: a condition that throws, or rejects, fails
 * the check with the error as its message, so the checks after it still run.
 */
import * as tf from "@tensorflow/tfjs";
import { showBundle } from "./output";

import { CHECK_MIME } from "./names";

export { CHECK_MIME };

/** What one check reports (the JSON under {@link CHECK_MIME}). */
export interface CheckResult {
  /** What was checked, as the student reads it. */
  name: string;
  /** Points earned: `maxPoints` when passed, 0 when failed, a share for partial credit. */
  points: number;
  /** Points the check is worth. */
  maxPoints: number;
  /** True when all points were earned. */
  passed: boolean;
  /** Why it failed (or a note when it passed); empty when there is nothing to say. */
  message: string;
}

/**
 * What a condition may give: `true`/`false`, or a number in [0, 1] for the
 * share of the points earned (partial credit). It may be a function, which
 * may be async.
 */
export type CheckOutcome = boolean | number;
/** A check's condition: a value, or a function (maybe async) giving one. */
export type CheckCondition = CheckOutcome | (() => CheckOutcome | Promise<CheckOutcome>);

function checkArgs(fn: string, name: unknown, points: unknown): void {
  if (typeof name !== "string" || name.trim() === "") {
    throw new Error(`d2l.${fn}: the first argument must be the check's name, a non-empty string such as "softmax rows sum to 1"; got ${JSON.stringify(name)}`);
  }
  if (typeof points !== "number" || !Number.isFinite(points) || points < 0) {
    throw new Error(`d2l.${fn}("${name}", points, ...): points must be a number >= 0; got ${JSON.stringify(points)}`);
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name === "Error" ? "" : `${e.name}: `}${e.message}`;
  return `threw ${String(e)}`;
}

/** Turn what a condition gave into a result; a wrong kind of value fails the check and says why. */
function settle(name: string, maxPoints: number, outcome: unknown, message: string): CheckResult {
  let share: number;
  let note = message;
  if (typeof outcome === "boolean") share = outcome ? 1 : 0;
  else if (typeof outcome === "number" && Number.isFinite(outcome)) {
    share = Math.min(1, Math.max(0, outcome));
    if (share !== outcome) note = `${note ? `${note}; ` : ""}the condition gave ${outcome}, taken as ${share} (a share of the points must be in [0, 1])`;
  } else {
    share = 0;
    note = `the condition gave ${typeof outcome === "object" ? (JSON.stringify(outcome) ?? String(outcome)) : String(outcome)}; it must give true/false or a share of the points in [0, 1]`;
  }
  const points = round(maxPoints * share);
  return { name, points, maxPoints, passed: points >= maxPoints, message: points >= maxPoints && note === message ? "" : note };
}

/** The line a student reads. */
function checkText(r: CheckResult): string {
  const mark = r.passed ? "✓" : r.points > 0 ? "◐" : "✗";
  const pts = `${r.points}/${r.maxPoints} point${r.maxPoints === 1 ? "" : "s"}`;
  return `${mark} ${r.name} (${pts})${r.message ? `: ${r.message}` : ""}`;
}

function report(r: CheckResult): void {
  // In the grader's check kernel the result carries the run's secret, so the grader counts only results
  // this code made there (grade.ts); the student's kernel never has it.
  const nonce = typeof process !== "undefined" ? process.env.D2L_CHECK_NONCE : undefined;
  showBundle({ [CHECK_MIME]: nonce ? { ...r, nonce } : { ...r }, "text/plain": checkText(r) });
}

/**
 * One graded check: shows `✓ name (p/p points)` or `✗ name (0/p points): why`
 * and, for `d2l-ts grade`, the same as JSON under {@link CHECK_MIME}.
 *
 * `condition` is `true`/`false`, a share of the points in [0, 1] (partial
 * credit), or a function giving either, which may be async (then `await` the
 * check). A condition that throws fails the check with the error as the
 * message; the check itself never throws, so later checks in the cell run.
 * `message` is shown when the check fails. The output is the result; the
 * promise returned resolves once it is shown (at once when the condition is
 * not async) and to nothing, so a cell ending in a check shows no extra value.
 * d2l-ts' own; the book has no graded checks.
 *
 * @example
 * await d2l.check("net outputs [n, 10]", 1, () => net(X).shape[1] === 10, "one score per class");
 * await d2l.check("test accuracy ≥ 0.7", 3, async () => (await d2l.evaluateAccuracy(net, testIter)) >= 0.7);
 */
export function check(name: string, points: number, condition: CheckCondition, message = ""): Promise<void> {
  checkArgs("check", name, points);
  if (typeof message !== "string") throw new Error(`d2l.check("${name}", ...): the message must be a string; got ${JSON.stringify(message)}`);
  let outcome: unknown;
  try {
    outcome = typeof condition === "function" ? condition() : condition;
  } catch (e) {
    return Promise.resolve(report({ name, points: 0, maxPoints: points, passed: false, message: describeError(e) }));
  }
  if (outcome !== null && typeof outcome === "object" && typeof (outcome as { then?: unknown }).then === "function") {
    return (outcome as Promise<unknown>).then(
      (v) => report(settle(name, points, v, message)),
      (e: unknown) => report({ name, points: 0, maxPoints: points, passed: false, message: describeError(e) }),
    );
  }
  return Promise.resolve(report(settle(name, points, outcome, message)));
}

/** Options of {@link checkClose}. */
export interface CheckCloseOptions {
  /** Relative tolerance (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
  /** Shown when the check fails, before the numbers. */
  message?: string;
}

/** A number, nested arrays of numbers, or a tensor. */
export type Numeric = number | tf.Tensor | readonly Numeric[];

/** The shape of a number, nested arrays or a tensor; an error that says what was expected otherwise. Reads no values. */
function shapeOf(v: unknown, what: string): number[] {
  if (v instanceof tf.Tensor) {
    if (v.isDisposed) throw new Error(`${what} is a disposed tensor (it was freed, e.g. by tf.tidy or dispose(), before the check)`);
    return [...v.shape];
  }
  if (typeof v === "number") return [];
  if (Array.isArray(v)) {
    const parts = v.map((x, i) => shapeOf(x, `${what}[${i}]`));
    const inner = parts[0] ?? [];
    for (const [i, p] of parts.entries()) {
      if (p.join(",") !== inner.join(",")) throw new Error(`${what} is a ragged array: ${what}[0] has shape [${inner.join(", ")}] but ${what}[${i}] has [${p.join(", ")}]`);
    }
    return [v.length, ...inner];
  }
  throw new Error(`${what} must be a number, an array of numbers or a tensor; got ${v === null ? "null" : typeof v}`);
}

/** The flat values of a checked value; every tensor's read starts now (with `await`, so webgpu tensors work). */
function startReads(v: Numeric): Promise<number[]> {
  if (v instanceof tf.Tensor) return v.data().then((d) => Array.from(d as ArrayLike<number>, Number));
  if (typeof v === "number") return Promise.resolve([v]);
  return Promise.all(v.map(startReads)).then((parts) => parts.flat());
}

/** Read a value as flat numbers with a shape; an error that says what was expected otherwise. */
async function numeric(v: unknown, what: string): Promise<{ shape: number[]; values: number[] }> {
  const shape = shapeOf(v, what);
  return { shape, values: await startReads(v as Numeric) };
}

function fmt(values: number[], max = 6): string {
  const s = values.slice(0, max).map((x) => String(Number(x.toPrecision(5))));
  return `[${s.join(", ")}${values.length > max ? ", …" : ""}]`;
}

/**
 * A graded check that `actual` equals `expected` elementwise within
 * `|a - e| <= atol + rtol·|e|` (numpy's `allclose`), shapes included.
 * Numbers, nested arrays and tensors may be mixed. A failure says where they
 * differ most. `actual` may be a function (maybe async), so that an error
 * computing it fails this check instead of the cell. d2l-ts' own.
 *
 * @example
 * await d2l.checkClose("cross-entropy of the book's example", 1,
 *   () => crossEntropy(tf.tensor2d([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]), tf.tensor1d([0, 2], "int32")),
 *   [2.3026, 0.6931], { rtol: 1e-3 });
 */
export function checkClose(name: string, points: number, actual: Numeric | (() => Numeric | Promise<Numeric>), expected: Numeric, options: CheckCloseOptions = {}): Promise<void> {
  checkArgs("checkClose", name, points);
  const rtol = options.rtol ?? 1e-5;
  const atol = options.atol ?? 1e-6;
  for (const [k, v] of [
    ["rtol", rtol],
    ["atol", atol],
  ] as const) {
    if (typeof v !== "number" || !(v >= 0)) throw new Error(`d2l.checkClose("${name}", ...): ${k} must be a number >= 0; got ${JSON.stringify(v)}`);
  }
  shapeOf(expected, "expected"); // a bad expected value is the caller's error: thrown at once
  const expRead = numeric(expected, "expected");
  expRead.catch(() => undefined); // (awaited in compare; this only keeps Node from calling it unhandled meanwhile)
  const prefix = options.message ? `${options.message}; ` : "";
  const compare = async (value: unknown): Promise<CheckOutcome> => {
    const actRead = numeric(value, "the value checked"); // its read starts now, while the tensor is surely alive
    actRead.catch(() => undefined);
    const exp = await expRead;
    const act = await actRead;
    if (act.shape.join(",") !== exp.shape.join(",")) {
      throw new Error(`${prefix}expected shape [${exp.shape.join(", ")}], got [${act.shape.join(", ")}]`);
    }
    let worst = -1;
    let worstExcess = 0;
    act.values.forEach((a, i) => {
      const e = exp.values[i];
      const excess = Number.isNaN(a) ? Infinity : Math.abs(a - e) - (atol + rtol * Math.abs(e));
      if (excess > 0 && excess >= worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    });
    if (worst < 0) return true;
    throw new Error(
      `${prefix}expected ${fmt(exp.values)}, got ${fmt(act.values)}; element ${worst} is ${fmt([act.values[worst]]).slice(1, -1)}, not ${fmt([exp.values[worst]]).slice(1, -1)} (rtol ${rtol}, atol ${atol})`,
    );
  };
  // A tensor the function made is ours to free once compared; a tensor passed in is the caller's.
  const owned = typeof actual === "function";
  const compareOwned = async (v: unknown): Promise<CheckOutcome> => {
    try {
      return await compare(v);
    } finally {
      if (owned && v instanceof tf.Tensor && !v.isDisposed) v.dispose();
    }
  };
  return check(name, points, () => {
    const v = typeof actual === "function" ? actual() : actual;
    if (v !== null && typeof v === "object" && typeof (v as { then?: unknown }).then === "function") {
      return (v as Promise<Numeric>).then(compareOwned);
    }
    return compareOwned(v);
  });
}

/**
 * The submission's own copy of a value a check received, to change it: in
 * `d2l-ts grade`'s check kernel a variable of the student's (a weight in
 * `rnnWeights`, say) arrives as a fresh copy of its values, and assigning to
 * the copy would change nothing the student's `net` reads; this gives the
 * handle that assigns to the student's variable itself. Anywhere else (the
 * student running the checks in their own notebook) the value is the
 * student's already, and comes back as it is. (No counterpart in the book:
 * it belongs to the grader, `assignments/README.md`.)
 *
 * @param value a variable (or other value) a check got from the submission
 * @returns what assigns to the submission's own value
 * @example
 * // does net's output depend on weight w? nudge the student's w, compare, put it back
 * const before = await net(X).array();
 * const saved = w.clone();
 * d2l.inSubmission(w).assign(w.add(1));
 * const changed = JSON.stringify(await net(X).array()) !== JSON.stringify(before);
 * d2l.inSubmission(w).assign(saved);
 */
export function inSubmission<T extends object>(value: T): T {
  const linked = (value as Record<symbol, unknown>)[Symbol.for("d2l-ts.submission")];
  return (linked ?? value) as T;
}
