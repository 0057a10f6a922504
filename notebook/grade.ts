/**
 * `d2l-ts grade SUBMISSION.ipynb [--reference SOURCE.ipynb] [--timeout S]`:
 * run a student's notebook in a fresh kernel and score its check cells.
 *
 * 1. With `--reference` (the instructor's notebook), every task and graded
 *    cell of the submission is replaced by the instructor's version, hidden
 *    checks included, matched by `metadata.d2l.id`; one the student deleted
 *    is put back where it belongs. The student's own cells stay.
 * 2. Every code cell runs in order, each with a time limit, errors or not
 *    (so a crash costs only the checks it affects). A cell past its limit is
 *    interrupted; a kernel that does not stop, or that died (process.exit, out
 *    of memory), is killed and a fresh one started, which first runs again the
 *    cells that had succeeded (graded cells excepted); then grading goes on.
 * 3. Each graded cell's score is what its `d2l.check` outputs report
 *    (application/vnd.d2l-ts.check+json), plus its `expectOutput` rule; the
 *    cell's `points` in the metadata is its maximum, and checks that never
 *    reported (the cell failed first) count 0 with the reason.
 *
 * The report is printed, written as JSON, and the executed notebook is kept.
 */
import * as path from "path";
import * as fs from "fs";
import * as os from "os";
import { randomBytes } from "crypto";
import type { CheckResult } from "../lib/check";
import { CHECK_MIME, RPC_MIME } from "../lib/names";
import { KernelClient, type CellRun, type NbOutput } from "./client";
import type { SandboxOptions } from "./sandbox";
import { PROJECT_ROOT } from "../kernel/info";
import { CellTag, NbCell, Notebook, cellTag, notebookTags, readNotebook, releasedSource, sourceOf } from "./assignment";

/** One graded cell in the report. */
export interface CheckReport {
  /** The graded cell's metadata.d2l.id. */
  id: string;
  /** Its position in the graded notebook, counting from 1. */
  cell: number;
  points: number;
  maxPoints: number;
  status: "passed" | "partial" | "failed";
  /** What each check in the cell reported, and a line for those that never did. */
  results: CheckResult[];
  /** The cell's own error (ename: evalue), if it failed. */
  error: string | null;
}

/** A code cell that did not finish cleanly. */
export interface CellError {
  cell: number;
  /** metadata.d2l.id, or null for a cell of the student's own. */
  id: string | null;
  kind: "task" | "solution" | "grade" | "student";
  ename: string;
  evalue: string;
  timedOut: boolean;
}

/** What `d2l-ts grade` writes as JSON. */
export interface GradeReport {
  submission: string;
  reference: string | null;
  assignment: string | null;
  score: number;
  maxScore: number;
  checks: CheckReport[];
  errors: CellError[];
  /** Times the kernel was replaced (it hung past a time limit or died). */
  restarts: { afterCell: number; reason: string; replayed: number }[];
  /** Things the grader fixed or noticed about the submission. */
  warnings: string[];
  /** What confined the student's kernel, and what could not be done on this machine (notebook/sandbox.ts). */
  sandbox: string[];
  timeoutSeconds: number;
  seconds: number;
}

export interface GradeOptions {
  submission: string;
  /** The instructor's notebook whose task and graded cells are used. */
  reference?: string;
  /** Seconds each cell may run (default 300). */
  timeout?: number;
  /** Seconds an interrupted cell has to stop before its kernel is killed (default 10). */
  interruptGrace?: number;
  /** Where the executed notebook goes (default: SUBMISSION.graded.ipynb beside it). */
  notebookOut?: string;
  /** Where the JSON goes (default: SUBMISSION.grade.json beside it). */
  jsonOut?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** MiB the student's kernel (and the check kernel) may use, all its processes together (default 4096). */
  memoryMiB?: number;
  /** false: run the kernels without the sandbox (for a grader who trusts the submissions; said in the report). */
  sandbox?: boolean;
}

/** The module the student's kernel answers the check kernel's requests with, and the mime type it answers under. */
const REMOTE_JS = path.join(__dirname, "..", "kernel", "remote.js");
/** The largest answer of the submission a check reads (a tensor of ~100M floats as base64). */
const MAX_REPLY_BYTES = 512 * 1024 * 1024;
/** Files beside the assignment copied for the kernels: at most this many bytes in all. */
const MAX_SCRATCH_BYTES = 200 * 1024 * 1024;

/**
 * A fresh folder for one kernel to run in, with the files the assignment ships beside its notebook
 * (data, helper modules) copied in, but no notebook: the kernels never see the reference or a submission.
 */
function scratchCopy(from: string, kind: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `d2l-ts-${kind}-`));
  let bytes = 0;
  const copy = (src: string, dst: string, depth: number): void => {
    for (const e of fs.readdirSync(src, { withFileTypes: true })) {
      if (e.name.startsWith(".") || /\.ipynb$/i.test(e.name) || /\.grade\.json$/i.test(e.name)) continue;
      const s = path.join(src, e.name);
      const d = path.join(dst, e.name);
      if (e.isDirectory() && depth < 3) {
        fs.mkdirSync(d);
        copy(s, d, depth + 1);
      } else if (e.isFile()) {
        bytes += fs.statSync(s).size;
        if (bytes > MAX_SCRATCH_BYTES)
          throw new Error(
            `${from} holds more than ${MAX_SCRATCH_BYTES / 1e6} MB besides notebooks; grade from a folder with only the assignment (its notebook and the files it reads)`,
          );
        fs.copyFileSync(s, d);
      }
    }
  };
  try {
    copy(from, dir, 0);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

/**
 * What the kernels must not read: the reference, the other notebooks beside it (a solution), and the
 * submissions' folder (other students' work), or only its notebooks when the project or the data lie inside it.
 */
function hiddenPaths(submission: string, reference: string | undefined): string[] {
  const hide = new Set<string>();
  const notebooksIn = (dir: string): string[] =>
    fs
      .readdirSync(dir)
      .filter((f) => /\.ipynb$/i.test(f))
      .map((f) => path.join(dir, f));
  const needed = [PROJECT_ROOT, process.env.D2L_DATA_DIR].filter((p): p is string => !!p).map((p) => path.resolve(p));
  const inside = (dir: string): boolean => needed.some((p) => p === dir || p.startsWith(dir + path.sep));
  if (reference) {
    hide.add(path.resolve(reference));
    for (const f of notebooksIn(path.dirname(path.resolve(reference)))) hide.add(f);
  }
  const subDir = path.dirname(path.resolve(submission));
  if (inside(subDir)) for (const f of notebooksIn(subDir)) hide.add(f);
  else hide.add(subDir);
  return [...hide];
}

const EPS = 1e-9;
const round = (x: number): number => Math.round(x * 1000) / 1000;

function idOf(cell: NbCell): string | null {
  const d = cell.metadata.d2l as { id?: unknown } | undefined;
  return d && typeof d.id === "string" ? d.id : null;
}

/**
 * The notebook to run: the submission with the reference's task and graded
 * cells put in by id. Returns it with warnings about what was changed.
 */
export function mergeWithReference(sub: Notebook, subFile: string, ref: Notebook | null, refFile: string | null): { nb: Notebook; warnings: string[] } {
  const warnings: string[] = [];
  if (!ref || !refFile) {
    // Grading the submission by itself: its own check cells, tags checked leniently.
    const cells: NbCell[] = [];
    const seen = new Set<string>();
    sub.cells.forEach((cell, i) => {
      let tag: CellTag | null = null;
      try {
        tag = cellTag(cell, `${subFile}, cell ${i + 1}`);
      } catch (e) {
        warnings.push(`${(e as Error).message}; run as an ordinary cell`);
      }
      if (tag && seen.has(tag.id)) {
        warnings.push(`cell ${i + 1} repeats the id "${tag.id}"; run as an ordinary cell, not scored`);
        tag = null;
      }
      if (tag) seen.add(tag.id);
      cells.push(tag ? cell : untag(cell));
    });
    warnings.push("no --reference given: the check cells were taken from the submission itself, so hidden checks are missing and a student could have edited them");
    return { nb: { ...sub, cells }, warnings };
  }
  const refTags = notebookTags(ref, refFile);
  const refById = new Map(refTags.map(({ index, tag }) => [tag.id, { cell: ref.cells[index], tag, index }]));
  const out: NbCell[] = [];
  const used = new Set<string>();
  sub.cells.forEach((cell, i) => {
    const id = idOf(cell);
    const r = id === null ? undefined : refById.get(id);
    if (id !== null && r && !used.has(id)) {
      used.add(id);
      if (r.tag.kind === "solution") {
        // The student's answer, under the reference's tag (a changed tag must not make it a graded cell).
        out.push(asType({ ...cell, metadata: { ...cell.metadata, d2l: r.cell.metadata.d2l } }, r.cell.cell_type));
      } else {
        // What the student was given: the instructor's cell without its hidden checks.
        const given = releasedSource(r.cell, `${refFile}, cell ${r.index + 1}`);
        if (sourceOf(cell).trim() !== given.trim() && sourceOf(cell).trim() !== sourceOf(r.cell).trim()) {
          warnings.push(`cell ${i + 1} ("${id}") is a ${r.tag.kind === "grade" ? "check" : "given"} cell that was edited; the original was used`);
        }
        out.push(asType({ ...cell, source: r.cell.source, metadata: { ...r.cell.metadata } }, r.cell.cell_type));
      }
      return;
    }
    if (id !== null) {
      warnings.push(
        used.has(id)
          ? `cell ${i + 1} repeats the id "${id}"; run as an ordinary cell, not scored`
          : `cell ${i + 1} has the id "${id}", which the reference does not have; run as an ordinary cell, not scored`,
      );
    }
    out.push(untag(cell));
  });
  // Put back given and graded cells the student deleted, after the cell that precedes them in the reference.
  for (const { index, tag } of refTags) {
    if (used.has(tag.id)) continue;
    const refCell = ref.cells[index];
    if (tag.kind === "solution") {
      warnings.push(`the answer cell "${tag.id}" is missing from the submission`);
      continue;
    }
    let at = 0;
    for (let j = index - 1; j >= 0; j--) {
      const prevId = idOf(ref.cells[j]);
      const k = prevId === null ? -1 : out.findIndex((c) => idOf(c) === prevId);
      if (k >= 0) {
        at = k + 1;
        break;
      }
    }
    const restored: NbCell = { ...refCell, metadata: { ...refCell.metadata } };
    if (restored.cell_type === "code") {
      restored.outputs = [];
      restored.execution_count = null;
    }
    out.splice(at, 0, restored);
    used.add(tag.id);
    warnings.push(`the ${tag.kind === "grade" ? "graded" : "given"} cell "${tag.id}" was missing from the submission and was put back`);
  }
  return { nb: { ...sub, metadata: { ...sub.metadata, d2l: ref.metadata.d2l ?? sub.metadata.d2l }, cells: out }, warnings };
}

/** The cell as a cell of this type: code cells have outputs and an execution count, others have neither. */
function asType(cell: NbCell, type: NbCell["cell_type"]): NbCell {
  const { outputs, execution_count, ...rest } = cell;
  return type === "code" ? { ...rest, cell_type: type, outputs: outputs ?? [], execution_count: execution_count ?? null } : { ...rest, cell_type: type };
}

/** A cell without its d2l tag (kept under another key, so nothing is lost). */
function untag(cell: NbCell): NbCell {
  if (cell.metadata.d2l === undefined) return cell;
  const { d2l, ...rest } = cell.metadata;
  return { ...cell, metadata: { ...rest, d2l_untagged: d2l } };
}

function isCheckResult(v: unknown): v is CheckResult {
  const r = v as CheckResult;
  return (
    !!r &&
    typeof r === "object" &&
    typeof r.name === "string" &&
    typeof r.points === "number" &&
    typeof r.maxPoints === "number" &&
    Number.isFinite(r.points) &&
    Number.isFinite(r.maxPoints) &&
    r.points >= 0 &&
    r.points <= r.maxPoints + EPS
  );
}

function outputsOf(cell: NbCell): NbOutput[] {
  return (cell.outputs ?? []) as NbOutput[];
}

function expectOutputResult(nb: Notebook, tag: CellTag): CheckResult {
  const e = tag.expectOutput as NonNullable<CellTag["expectOutput"]>;
  const maxPoints = e.points ?? tag.points;
  const name = e.name ?? `cell "${e.cell}" shows ${e.mime}${e.textMatches ? ` matching /${e.textMatches}/` : ""}`;
  const target = nb.cells.find((c) => idOf(c) === e.cell);
  const fail = (message: string): CheckResult => ({ name, points: 0, maxPoints, passed: false, message });
  if (!target) return fail(`cell "${e.cell}" is missing from the submission`);
  const re = e.textMatches ? new RegExp(e.textMatches) : null;
  const rich = outputsOf(target).filter((o) => o.output_type === "display_data" || o.output_type === "execute_result");
  const withMime = rich.filter((o) => e.mime in ((o.data as Record<string, unknown>) ?? {}));
  if (withMime.length === 0) return fail(`cell "${e.cell}" shows no ${e.mime} output`);
  if (re && !withMime.some((o) => re.test(String((o.data as Record<string, unknown>)["text/plain"] ?? "")))) {
    return fail(`cell "${e.cell}" shows ${e.mime}, but not one whose text matches /${e.textMatches}/`);
  }
  return { name, points: maxPoints, maxPoints, passed: true, message: "" };
}

/** Score one graded cell of the executed notebook. */
export function scoreCell(nb: Notebook, index: number, tag: CellTag, run: CellRun | undefined, warnings: string[], nonce?: string): CheckReport {
  const cell = nb.cells[index];
  const results: CheckResult[] = [];
  for (const o of outputsOf(cell)) {
    const data = o.data as Record<string, unknown> | undefined;
    if (!data || !(CHECK_MIME in data)) continue;
    const r = data[CHECK_MIME] as (CheckResult & { nonce?: unknown }) | null;
    if (nonce !== undefined) {
      // Only what lib/check.ts reported in this run's check kernel carries the nonce; it is not kept.
      const signed = r !== null && typeof r === "object" && r.nonce === nonce;
      if (r !== null && typeof r === "object") delete r.nonce;
      if (!signed) {
        warnings.push(`graded cell "${tag.id}" showed a check result that the check kernel did not make; ignored`);
        continue;
      }
    }
    if (isCheckResult(r)) results.push({ name: r.name, points: r.points, maxPoints: r.maxPoints, passed: r.points >= r.maxPoints - EPS, message: String(r.message ?? "") });
    else warnings.push(`graded cell "${tag.id}" showed a malformed check result; ignored: ${JSON.stringify(r).slice(0, 200)}`);
  }
  if (tag.expectOutput) results.push(expectOutputResult(nb, tag));
  const error = !run ? "not run" : run.status === "ok" ? null : `${run.ename}: ${run.evalue}`;
  const reported = results.reduce((s, r) => s + r.maxPoints, 0);
  if (reported < tag.points - EPS) {
    results.push({
      name: "checks that did not report",
      points: 0,
      maxPoints: round(tag.points - reported),
      passed: false,
      message: error ?? "the cell finished without reporting them (a check without await, or one the notebook lacks)",
    });
  } else if (reported > tag.points + EPS) {
    warnings.push(`graded cell "${tag.id}" reported checks worth ${round(reported)} points, more than its ${tag.points}; capped at ${tag.points}`);
  }
  const points = round(
    Math.min(
      tag.points,
      results.reduce((s, r) => s + r.points, 0),
    ),
  );
  return {
    id: tag.id,
    cell: index + 1,
    points,
    maxPoints: tag.points,
    status: points >= tag.points - EPS ? "passed" : points > 0 ? "partial" : "failed",
    results,
    error,
  };
}

/** Run and score a submission. Throws only for problems of the grader's input (unreadable files, a broken reference). */
export async function grade(opts: GradeOptions): Promise<{ report: GradeReport; notebook: Notebook }> {
  const t0 = Date.now();
  const log = opts.log ?? ((): void => undefined);
  const timeout = opts.timeout ?? 300;
  const sub = readNotebook(opts.submission);
  const ref = opts.reference ? readNotebook(opts.reference) : null;
  const { nb, warnings } = mergeWithReference(sub, opts.submission, ref, opts.reference ?? null);
  const tags = new Map<number, CellTag>();
  nb.cells.forEach((c, i) => {
    const t = cellTag(c, `cell ${i + 1}`);
    if (t) tags.set(i, t);
  });
  if (![...tags.values()].some((t) => t.kind === "grade")) {
    throw new Error(`${opts.reference ?? opts.submission} has no graded cells (metadata.d2l {"grade": true, "id": ..., "points": N}); is it an assignment notebook?`);
  }

  const nonce = randomBytes(16).toString("hex");
  const sandboxNotes: string[] = [];
  const refSource = new Map<string, string>();
  if (ref && opts.reference) {
    for (const { index, tag } of notebookTags(ref, opts.reference)) if (tag.kind === "solution") refSource.set(tag.id, sourceOf(ref.cells[index]));
  }
  // Neither kernel gets the grader's own secrets of this run; only the check kernel gets the nonce.
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, D2L_GRADING: "1" };
  delete baseEnv.D2L_CHECK_NONCE;
  delete baseEnv.D2L_CHECK_RPC_FD;
  const assignmentDir = path.dirname(path.resolve(opts.reference ?? opts.submission));
  const studentDir = scratchCopy(assignmentDir, "student");
  const checkDir = scratchCopy(assignmentDir, "check");
  // Requests go to a folder the grader owns, outside the student's scratch: the student's kernel may read it
  // (bound read-only into its sandbox) but cannot plant links there for the grader to write through.
  const rpcDir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-ts-rpc-"));
  fs.chmodSync(rpcDir, 0o755);
  const hide = hiddenPaths(opts.submission, opts.reference);
  const readOnly = [PROJECT_ROOT, ...(process.env.D2L_DATA_DIR ? [path.resolve(process.env.D2L_DATA_DIR)] : [])];
  const studentReadOnly = [...readOnly, rpcDir];
  const sandboxFor = (kind: "student" | "check"): { sandbox?: SandboxOptions } =>
    opts.sandbox === false
      ? {}
      : {
          sandbox: {
            scratch: kind === "student" ? studentDir : checkDir,
            hide,
            readOnly: kind === "student" ? studentReadOnly : readOnly,
            memoryMiB: opts.memoryMiB ?? 4096,
            envAllow: kind === "check" ? ["D2L_CHECK_NONCE"] : [],
          },
        };
  if (opts.sandbox === false) warnings.push("graded without the sandbox (--no-sandbox): the submission's code could read and write whatever the grader can");
  const startKernel = async (kind: "student" | "check"): Promise<KernelClient> => {
    const k = new KernelClient({
      cwd: kind === "student" ? studentDir : checkDir,
      env: kind === "student" ? baseEnv : { ...baseEnv, D2L_CHECK_NONCE: nonce },
      interruptGrace: opts.interruptGrace,
      ...(kind === "check" ? { answerRemote: (line: string) => answerRemote(line) } : {}),
      ...sandboxFor(kind),
    });
    try {
      await k.start();
    } catch (e) {
      await k.shutdown();
      throw e;
    }
    if (kind === "student") for (const note of k.sandboxNotes) if (!sandboxNotes.includes(note)) sandboxNotes.push(note);
    return k;
  };

  const runs = new Map<number, CellRun>();
  const errors: CellError[] = [];
  const restarts: GradeReport["restarts"] = [];
  const succeeded: number[] = [];
  let kernel: KernelClient | null = null;
  let checker: KernelClient | null = null;
  let lostReason = "";
  let checkLost = "";
  /** What the check kernel ran before (given cells, answers declared), to run again in a fresh one. */
  const checkSetup: { code: string; declare: boolean; cell: number }[] = [];
  /** When the check cell now running must end: each request to the student's kernel gets what is left. */
  let checkDeadline = 0;
  let requests = 0;

  // A request of the check kernel, answered by the student's kernel as a silent cell (remote.ts).
  const answerRemote = async (line: string): Promise<string> => {
    const fail = (name: string, message: string): string => JSON.stringify({ k: "e", name, message });
    if (!kernel || !kernel.alive) return fail("KernelDied", `the submission's kernel is not running${lostReason ? ` (${lostReason})` : ""}, so its answers cannot be read`);
    const n = ++requests;
    const req = path.join(rpcDir, `req-${n}.json`);
    try {
      fs.writeFileSync(req, line, { flag: "wx", mode: 0o644 });
      const left = Math.max(1, Math.round((checkDeadline - Date.now()) / 1000));
      const run = await kernel.execute(`await require(${JSON.stringify(REMOTE_JS)}).serve(${JSON.stringify(rpcDir)}, ${n});`, left, false, { silent: true });
      if (run.status !== "ok") {
        return fail(
          run.ename ?? "Error",
          run.timedOut ? `the submission's code did not answer within the cell's ${timeout} s` : `the submission's kernel could not answer: ${run.evalue ?? ""}`,
        );
      }
      const shown = [...run.outputs].reverse().find((o) => typeof o.data === "object" && o.data !== null && RPC_MIME in (o.data as Record<string, unknown>));
      if (!shown) return fail("SubmissionError", "the submission's kernel showed no answer (was the kernel's display replaced?)");
      const text = JSON.stringify((shown.data as Record<string, unknown>)[RPC_MIME]);
      if (text.length > MAX_REPLY_BYTES) return fail("RangeError", `the submission's answer is ${Math.round(text.length / 1e6)} MB, more than a check can read`);
      return text;
    } catch (e) {
      return fail("SubmissionError", `the submission's kernel gave no readable answer (${(e as Error).message.split("\n")[0]})`);
    } finally {
      fs.rmSync(req, { force: true });
    }
  };

  /** A fresh check kernel with the given cells run and the answers declared again; null when it cannot be had. */
  const freshChecker = async (): Promise<KernelClient | null> => {
    if (checker) await checker.shutdown();
    checker = null;
    try {
      const k = await startKernel("check");
      checker = k; // so that it is shut down whatever happens next
      for (const s of checkSetup) {
        const r = await k.execute(s.code, timeout, true, s.declare ? { metadata: { d2l_declare_remote: true } } : {});
        if (r.status === "dead") throw new Error(`it died running cell ${s.cell} (${r.ename}: ${r.evalue})`);
      }
      return k;
    } catch (e) {
      checkLost = `the check kernel could not be started: ${(e as Error).message.split("\n")[0]}`;
      warnings.push(`${checkLost}; the checks from then on were not run`);
      const c = checker as KernelClient | null;
      checker = null;
      if (c) await c.shutdown();
      return null;
    }
  };

  /** Run a cell in the check kernel (a given cell, an answer to declare, or a check cell). */
  const inChecker = async (code: string, cell: number, what: "task" | "declare" | "grade"): Promise<CellRun | null> => {
    if (checkLost) return null;
    if (!checker || !checker.alive) checker = await freshChecker();
    if (!checker) return null;
    checkDeadline = Date.now() + timeout * 1000;
    // The check cell's own limit leaves room for its last request to the student's kernel to time out first.
    const limit = what === "grade" ? timeout + (opts.interruptGrace ?? 10) + 15 : timeout;
    const run = await checker.execute(code, limit, true, what === "declare" ? { metadata: { d2l_declare_remote: true } } : {});
    if (what !== "grade" && run.status === "ok") checkSetup.push({ code, declare: what === "declare", cell });
    if (what !== "grade" && run.status !== "ok") {
      warnings.push(
        `the check kernel could not ${what === "declare" ? "declare the answers of" : "run the given"} cell ${cell} (${run.ename}: ${(run.evalue ?? "").split("\n")[0]}); checks that use it fail`,
      );
    }
    return run;
  };

  try {
    // Both kernels load tf and d2l at the same time.
    [kernel, checker] = await Promise.all([startKernel("student"), freshChecker()]);
    for (const [i, cell] of nb.cells.entries()) {
      if (cell.cell_type !== "code") continue;
      const code = sourceOf(cell);
      const tag = tags.get(i);
      if (code.trim() === "" && !(tag?.kind === "solution" && refSource.has(tag.id))) {
        cell.outputs = [];
        cell.execution_count = null;
        continue;
      }
      const label = tag ? `${tag.kind} "${tag.id}"` : "student cell";
      if (tag?.kind === "grade") {
        // Checks run in the check kernel, where no code of the submission ever ran.
        log(`  cell ${i + 1} (${label}, in the check kernel)`);
        const run = (await inChecker(code, i + 1, "grade")) ?? {
          status: "dead" as const,
          outputs: [],
          executionCount: null,
          ename: "NotRun",
          evalue: checkLost || "no check kernel",
          timedOut: false,
          seconds: 0,
        };
        recordRun(i, cell, tag, run);
        continue;
      }
      if (!lostReason && (!kernel || !kernel.alive)) {
        // The last kernel hung or died: a fresh one, with the cells that had succeeded run again.
        // If that fails too, grading goes on without a kernel (the remaining cells are not run): it must end.
        kernel = null;
        try {
          kernel = await startKernel("student");
          let replayed = 0;
          for (const j of succeeded) {
            const again = await kernel.execute(sourceOf(nb.cells[j]), timeout);
            if (again.status === "ok") replayed++;
            else if (again.status === "dead") {
              lostReason = `the fresh kernel died too, running cell ${j + 1} again (${again.ename}: ${again.evalue})`;
              break;
            } else warnings.push(`after the restart, cell ${j + 1} failed when run again (${again.ename}: ${again.evalue}); later cells may fail for it`);
          }
          restarts[restarts.length - 1].replayed = replayed;
          log(`  fresh kernel; ran ${replayed} earlier cell(s) again`);
        } catch (e) {
          lostReason = `no kernel could be started again: ${(e as Error).message}`;
        }
        if (lostReason) {
          warnings.push(`${lostReason}; the cells from ${i + 1} on were not run`);
          if (kernel) await kernel.shutdown();
          kernel = null;
        }
      }
      if (!kernel || !kernel.alive) {
        recordRun(i, cell, tag, { status: "dead", outputs: [], executionCount: null, ename: "NotRun", evalue: lostReason || "no kernel", timedOut: false, seconds: 0 });
      } else {
        log(`  cell ${i + 1} (${label})`);
        const run = await kernel.execute(code, timeout);
        recordRun(i, cell, tag, run);
        if (run.status === "ok") succeeded.push(i);
        if (run.status === "dead") {
          restarts.push({ afterCell: i + 1, reason: `${run.ename}: ${run.evalue}`, replayed: 0 });
          await kernel.shutdown();
        }
      }
      // The check kernel runs the given cells too, and declares the answers (the instructor's version, whose
      // types the checks were written for) as names that read the submission's values.
      if (tag?.kind === "task") await inChecker(code, i + 1, "task");
      if (tag?.kind === "solution") await inChecker(refSource.get(tag.id) ?? code, i + 1, "declare");
    }
  } finally {
    if (kernel) await kernel.shutdown();
    if (checker) await (checker as KernelClient).shutdown();
    fs.rmSync(studentDir, { recursive: true, force: true });
    fs.rmSync(checkDir, { recursive: true, force: true });
    fs.rmSync(rpcDir, { recursive: true, force: true });
  }

  function recordRun(i: number, cell: NbCell, tag: CellTag | undefined, run: CellRun): void {
    runs.set(i, run);
    cell.outputs = run.outputs;
    cell.execution_count = run.executionCount;
    if (run.status === "ok") return;
    errors.push({ cell: i + 1, id: tag?.id ?? null, kind: tag?.kind ?? "student", ename: run.ename ?? "Error", evalue: run.evalue ?? "", timedOut: run.timedOut });
    log(`    ${run.ename}: ${(run.evalue ?? "").split("\n")[0]}`);
    if (run.outputs.every((o) => o.output_type !== "error")) {
      // Timeouts and deaths leave no error output of their own: add one, so the notebook shows why.
      cell.outputs = [...run.outputs, { output_type: "error", ename: run.ename ?? "Error", evalue: run.evalue ?? "", traceback: [`${run.ename}: ${run.evalue}`] }];
    }
  }
  const checks: CheckReport[] = [];
  for (const [i, tag] of tags) {
    if (tag.kind === "grade") checks.push(scoreCell(nb, i, tag, runs.get(i), warnings, nonce));
  }
  const score = round(checks.reduce((s, c) => s + c.points, 0));
  const maxScore = round(checks.reduce((s, c) => s + c.maxPoints, 0));
  const assignment = (nb.metadata.d2l as { assignment?: unknown } | undefined)?.assignment;
  const report: GradeReport = {
    submission: opts.submission,
    reference: opts.reference ?? null,
    assignment: typeof assignment === "string" ? assignment : null,
    score,
    maxScore,
    checks,
    errors,
    restarts,
    warnings,
    sandbox: sandboxNotes,
    timeoutSeconds: timeout,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  };
  return { report, notebook: nb };
}

/** The report as a student or instructor reads it. */
export function formatReport(r: GradeReport): string {
  const lines: string[] = [];
  lines.push(`${r.assignment ?? path.basename(r.submission)}: ${r.submission}${r.reference ? ` (checks from ${r.reference})` : ""}`);
  for (const c of r.checks) {
    lines.push(`  ${c.id}  ${c.points}/${c.maxPoints}  ${c.status}${c.error ? `  [${c.error.split("\n")[0]}]` : ""}`);
    for (const x of c.results) {
      const mark = x.passed ? "✓" : x.points > 0 ? "◐" : "✗";
      lines.push(`      ${mark} ${x.name} (${x.points}/${x.maxPoints})${x.message ? `: ${x.message.split("\n")[0]}` : ""}`);
    }
  }
  if (r.errors.length) {
    lines.push("  errors:");
    for (const e of r.errors) lines.push(`    cell ${e.cell}${e.id ? ` "${e.id}"` : ""} (${e.kind}): ${e.ename}: ${e.evalue.split("\n")[0]}`);
  }
  for (const x of r.restarts) lines.push(`  kernel restarted after cell ${x.afterCell} (${x.reason.split("\n")[0]}); ${x.replayed} earlier cell(s) run again`);
  for (const w of r.warnings) lines.push(`  note: ${w}`);
  lines.push(`score ${r.score}/${r.maxScore} (${r.seconds} s)`);
  return lines.join("\n");
}
