/**
 * `d2l-ts grade SUBMISSIONS_DIR --reference NAME/assignment.ipynb [--jobs N]
 * [--timeout S] [--out-dir DIR] [--force] [--quiet]`: grade a whole class.
 *
 * - Submissions are every `*.ipynb` directly in the folder (the student is the
 *   file's stem) and every `STUDENT/*.ipynb` one level down (nbgrader's
 *   layout; the student is the folder's name). A student folder with more
 *   than one notebook, or two submissions for one student, is recorded as a
 *   failure of that student. Hidden entries (`.ipynb_checkpoints`), symbolic
 *   links, our own `*.graded.ipynb` and the output folder are skipped.
 * - Each submission is graded by `grade()` in a grader process of its own
 *   (its own kernels, limits and time limit), N at a time. A grader process
 *   that throws, crashes or runs past a generous deadline costs only that
 *   student's points: the entry says why, and the others go on.
 * - Results go to the output folder (never inside the submissions folder):
 *   `gradebook.csv`, `gradebook.json`, `feedback/<student>.ipynb` (the graded
 *   notebook, each check cell ending in what the grader decided, as markdown)
 *   and `reports/<student>.json`; every file is written to a temporary name
 *   and renamed, and the gradebook is rewritten after each student, so an
 *   interrupted run keeps what it graded.
 * - A re-run skips students whose submission and reference are byte for byte
 *   those of their gradebook entry (sha256), unless `--force`.
 */
import { fork, type ChildProcess } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { type NbCell, type NbOutput, type Notebook, readNotebook, toSourceLines } from "./nbformat";
import { notebookTags } from "./assignment";
import { writeFileAtomic } from "../lib/files";
import type { CheckReport, GradeReport } from "./grade";

/** One notebook to grade, found in the submissions folder. */
export interface Submission {
  /** The student: the notebook's stem, or the folder's name in nbgrader's layout. */
  student: string;
  /** The notebook, relative to the submissions folder ("" when `error` says there is none to grade). */
  file: string;
  /** Why this student cannot be graded (e.g. two notebooks in their folder); null when they can. */
  error: string | null;
}

/** One student's row of the gradebook. */
export interface GradebookEntry {
  student: string;
  /** The notebook graded, relative to the submissions folder. */
  file: string;
  /** ok: grading finished (whatever the score); failed: it could not be graded (see errors). */
  status: "ok" | "failed";
  score: number;
  maxScore: number;
  /** Points per check cell id, in the reference's order (0 for every check of a failed entry). */
  points: Record<string, number>;
  /** Cell errors ("cell 4 (solution \"add\"): Timeout: ..."), or why grading failed. */
  errors: string[];
  /** What the grader fixed or noticed (edited check cells, restarts). */
  warnings: string[];
  /** Wall seconds for this submission. */
  seconds: number;
  /** sha256 of the submission file (null when there was no single file to hash). */
  sha256: string | null;
  /** sha256 of the reference notebook it was graded against. */
  referenceSha256: string;
  timeoutSeconds: number;
  /** When it was graded (ISO 8601). */
  gradedAt: string;
}

/** What `gradebook.json` holds. */
export interface Gradebook {
  reference: string;
  referenceSha256: string;
  assignment: string | null;
  /** The check cells, in the reference's order. */
  checks: { id: string; maxPoints: number }[];
  maxScore: number;
  /** One entry per student, sorted by student. */
  entries: GradebookEntry[];
}

/** Options of {@link gradeBatch}. */
export interface BatchOptions {
  /** The folder of submissions. */
  dir: string;
  /** The instructor's notebook. */
  reference: string;
  /** Submissions graded at a time (default 1). */
  jobs?: number;
  /** Seconds each cell may run (default 300). */
  timeout?: number;
  /** Where the gradebook goes (default: `<dir>/../<dirname>-graded`). */
  outDir?: string;
  /** Grade again students whose entry is up to date. */
  force?: boolean;
  /** MiB each submission's kernels may use (grade()'s default when absent). */
  memoryMiB?: number;
  /** false: grade without the sandbox (only for submissions you trust). */
  sandbox?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** What {@link gradeBatch} returns. */
export interface BatchResult {
  gradebook: Gradebook;
  outDir: string;
  /** Students graded in this run. */
  graded: string[];
  /** Students whose entry was up to date. */
  skipped: string[];
  /** Wall seconds of the whole run. */
  seconds: number;
}

const OUR_OUTPUT = /\.graded\.ipynb$/;

/** The file's sha256, hex. */
function sha256Of(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** Write a file whole or not at all (lib/files.ts), its folder created first. */
function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, text);
}

/** True when `inner` is `outer` or lies inside it. */
function isInside(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * The default output folder: beside the submissions folder, named after it.
 *
 * @example
 * defaultOutDir("class/submissions"); // → "<abs>/class/submissions-graded"
 */
export function defaultOutDir(dir: string): string {
  const abs = path.resolve(dir);
  return path.join(path.dirname(abs), `${path.basename(abs)}-graded`);
}

/**
 * The submissions in a folder: `*.ipynb` directly in it (student = stem) and
 * `STUDENT/*.ipynb` one level down (student = folder name), sorted by student.
 * Skips hidden entries, symbolic links, `*.graded.ipynb` and the paths in
 * `skip` (the output folder, the reference). A student folder with more than
 * one notebook, or a student found twice, comes back with an `error`.
 *
 * @example
 * findSubmissions("class/submissions", [path.resolve("class/submissions-graded")]);
 * // → [{ student: "alice", file: "alice.ipynb", error: null }, { student: "bob", file: "bob/hw1.ipynb", error: null }]
 */
export function findSubmissions(dir: string, skip: string[] = []): Submission[] {
  const root = path.resolve(dir);
  const skipped = new Set(skip.map((p) => path.resolve(p)));
  const usable = (full: string, name: string): fs.Stats | null => {
    if (name.startsWith(".") || skipped.has(full)) return null;
    const st = fs.lstatSync(full);
    return st.isSymbolicLink() ? null : st;
  };
  const found = new Map<string, Submission[]>();
  const add = (s: Submission): void => {
    found.set(s.student, [...(found.get(s.student) ?? []), s]);
  };
  for (const name of fs.readdirSync(root).sort()) {
    const full = path.join(root, name);
    const st = usable(full, name);
    if (!st) continue;
    if (st.isFile() && name.endsWith(".ipynb") && !OUR_OUTPUT.test(name)) {
      add({ student: name.slice(0, -".ipynb".length), file: name, error: null });
    } else if (st.isDirectory()) {
      const notebooks = fs
        .readdirSync(full)
        .sort()
        .filter((n) => {
          const s = n.endsWith(".ipynb") && !OUR_OUTPUT.test(n) ? usable(path.join(full, n), n) : null;
          return s !== null && s.isFile();
        });
      if (notebooks.length === 1) add({ student: name, file: path.join(name, notebooks[0]), error: null });
      else if (notebooks.length > 1) {
        add({
          student: name,
          file: "",
          error: `the folder ${name}/ holds ${notebooks.length} notebooks (${notebooks.join(", ")}); nbgrader's layout has one per student folder: remove or rename (e.g. to .old) all but the submission, then grade again`,
        });
      }
    }
  }
  const out: Submission[] = [];
  for (const [student, subs] of found) {
    if (subs.length === 1) out.push(subs[0]);
    else {
      out.push({
        student,
        file: "",
        error: `${subs.length} submissions for the student "${student}" (${subs.map((s) => s.file || `${student}/`).join(", ")}); keep one, as ${student}.ipynb or in the folder ${student}/, then grade again`,
      });
    }
  }
  return out.sort((a, b) => (a.student < b.student ? -1 : a.student > b.student ? 1 : 0));
}

/** The markdown a student reads under a graded cell: what the grader decided. */
function checkMarkdown(c: CheckReport): string {
  const lines = [`**Grader: ${c.points}/${c.maxPoints} point${c.maxPoints === 1 ? "" : "s"} (${c.status})**`, ""];
  for (const r of c.results) {
    const mark = r.passed ? "✓" : r.points > 0 ? "◐" : "✗";
    lines.push(`- ${mark} ${r.name} (${r.points}/${r.maxPoints})${r.message ? `: ${r.message.split("\n")[0]}` : ""}`);
  }
  if (c.error) lines.push("", `The cell stopped with ${c.error.split("\n")[0]}`);
  return lines.join("\n");
}

function plain(markdown: string): string {
  return markdown.replace(/\*\*/g, "");
}

/**
 * The feedback notebook: the graded notebook with a summary cell on top and,
 * under each graded cell, the grader's verdict as a markdown output (the
 * verdict, not what the student's code printed, is what counts).
 *
 * @example
 * const { report, notebook } = await grade({ submission: "alice.ipynb", reference: "hw1/assignment.ipynb" });
 * writeNotebook("feedback/alice.ipynb", feedbackNotebook(notebook, report));
 */
export function feedbackNotebook(nb: Notebook, report: GradeReport): Notebook {
  const cells: NbCell[] = nb.cells.map((cell, i) => {
    const c = report.checks.find((x) => x.cell === i + 1);
    if (!c || cell.cell_type !== "code") return cell;
    const md = checkMarkdown(c);
    const verdict: NbOutput = { output_type: "display_data", data: { "text/markdown": md, "text/plain": plain(md) }, metadata: { d2l_grader: true } };
    return { ...cell, outputs: [...(cell.outputs ?? []), verdict] };
  });
  const summary = [`# Grade: ${report.score}/${report.maxScore}`, "", "| check | points |", "|---|---|"];
  for (const c of report.checks) summary.push(`| ${c.id} | ${c.points}/${c.maxPoints} |`);
  if (report.errors.length) {
    summary.push("", "Cells that did not finish:", "");
    for (const e of report.errors) summary.push(`- cell ${e.cell}${e.id ? ` ("${e.id}")` : ""}: ${e.ename}: ${e.evalue.split("\n")[0]}`);
  }
  summary.push("", "Under each check cell, the **Grader** line is what counts.");
  const head: NbCell = { cell_type: "markdown", id: "d2l-grade-summary", metadata: { d2l_feedback: true }, source: toSourceLines(summary.join("\n")) };
  return { ...nb, cells: [head, ...cells] };
}

/** A failed student's entry: 0 for every check, and why. */
function failedEntry(s: Submission, book: Gradebook, error: string, sha: string | null, seconds: number, timeout: number): GradebookEntry {
  return {
    student: s.student,
    file: s.file,
    status: "failed",
    score: 0,
    maxScore: book.maxScore,
    points: Object.fromEntries(book.checks.map((c) => [c.id, 0])),
    errors: [error],
    warnings: [],
    seconds,
    sha256: sha,
    referenceSha256: book.referenceSha256,
    timeoutSeconds: timeout,
    gradedAt: new Date().toISOString(),
  };
}

function entryOf(s: Submission, book: Gradebook, report: GradeReport, sha: string, seconds: number): GradebookEntry {
  const byId = new Map(report.checks.map((c) => [c.id, c.points]));
  return {
    student: s.student,
    file: s.file,
    status: "ok",
    score: report.score,
    maxScore: report.maxScore,
    points: Object.fromEntries(book.checks.map((c) => [c.id, byId.get(c.id) ?? 0])),
    errors: report.errors.map((e) => `cell ${e.cell}${e.id ? ` (${e.kind} "${e.id}")` : ` (${e.kind})`}: ${e.ename}: ${e.evalue.split("\n")[0]}`),
    warnings: [...report.warnings, ...report.restarts.map((r) => `kernel restarted after cell ${r.afterCell} (${r.reason.split("\n")[0]})`)],
    seconds,
    sha256: sha,
    referenceSha256: book.referenceSha256,
    timeoutSeconds: report.timeoutSeconds,
    gradedAt: new Date().toISOString(),
  };
}

/** A CSV field: quoted when needed; text that a spreadsheet would run as a formula gets a leading '. */
function csvField(v: string | number): string {
  if (typeof v === "number") return String(v);
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The gradebook as CSV: student, file, status, score, maxScore, one column per
 * check id (the reference's order), seconds, errors, sha256.
 *
 * @example
 * fs.writeFileSync("gradebook.csv", gradebookCsv(book));
 */
export function gradebookCsv(book: Gradebook): string {
  const header = ["student", "file", "status", "score", "maxScore", ...book.checks.map((c) => c.id), "seconds", "errors", "sha256"];
  const rows = book.entries.map((e) => [
    e.student,
    e.file,
    e.status,
    e.score,
    e.maxScore,
    ...book.checks.map((c) => e.points[c.id] ?? 0),
    e.seconds,
    e.errors.join(" | "),
    e.sha256 ?? "",
  ]);
  return [header, ...rows].map((r) => r.map(csvField).join(",")).join("\n") + "\n";
}

/** A generous bound for one submission's grader process: every cell at its limit plus its grace, and some. */
function deadlineSeconds(submission: string, reference: Notebook, timeout: number): number {
  let cells = reference.cells.filter((c) => c.cell_type === "code").length;
  try {
    cells += readNotebook(submission).cells.filter((c) => c.cell_type === "code").length;
  } catch {
    // grade() will say what is wrong with it
  }
  return cells * (timeout + 15) + 120;
}

/** What a grader process sends back. */
type WorkerReply = { ok: true; report: GradeReport; notebook: Notebook } | { ok: false; error: string };

/** What the batch asks a grader process to grade. */
interface WorkerJob {
  submission: string;
  reference: string;
  timeout: number;
  memoryMiB?: number;
  sandbox?: boolean;
}

/** Grade one submission in a grader process of its own; never throws. */
function gradeInChild(job: WorkerJob, deadline: number): Promise<WorkerReply> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = fork(__filename, ["--d2l-batch-worker"], { serialization: "advanced", stdio: ["ignore", "ignore", "pipe", "ipc"] });
    } catch (e) {
      resolve({ ok: false, error: `could not start a grader process: ${(e as Error).message}` });
      return;
    }
    let stderr = "";
    let reply: WorkerReply | null = null;
    let late = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString("utf8")).slice(-2000);
    });
    child.on("message", (m: WorkerReply) => {
      reply = m;
    });
    const timer = setTimeout(() => {
      late = `grading ran past its deadline of ${deadline} s (every cell at its --timeout and more) and was stopped; this is the grader's fault or a kernel that could not be killed, not a score: grade this student alone to see why`;
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 15_000).unref();
    }, deadline * 1000);
    child.on("error", (e) => {
      late ||= `the grader process failed: ${e.message}`;
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (late) resolve({ ok: false, error: late });
      else if (reply) resolve(reply);
      else {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        resolve({ ok: false, error: `the grader process ${how} before it reported${stderr.trim() ? `: ${stderr.trim().split("\n").slice(-3).join(" / ")}` : ""}` });
      }
    });
    child.send(job);
  });
}

/** The grader process: grade one submission, send back the result, exit. */
function workerMain(): void {
  // Signals end it through process.exit, so that its kernels' exit hooks kill them.
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(143));
  // The batch that started it is gone (killed): nobody will read the result.
  process.on("disconnect", () => process.exit(143));
  process.once("message", (m: WorkerJob) => {
    void (async (): Promise<void> => {
      let reply: WorkerReply;
      try {
        const { grade } = await import("./grade");
        const { report, notebook } = await grade({ ...m });
        reply = { ok: true, report, notebook };
      } catch (e) {
        reply = { ok: false, error: `grading stopped: ${(e as Error).message ?? String(e)}` };
      }
      process.send?.(reply, () => process.exit(0));
    })();
  });
}

function readGradebook(file: string): Gradebook | null {
  try {
    const book = JSON.parse(fs.readFileSync(file, "utf8")) as Gradebook;
    return Array.isArray(book.entries) ? book : null;
  } catch {
    return null;
  }
}

/**
 * Grade every submission in a folder against the reference, `jobs` at a
 * time, and write the gradebook, feedback notebooks and reports. Throws only
 * for problems of the grader's input (no such folder, a broken reference, an
 * output folder inside the submissions); a submission's own trouble is
 * recorded in its entry.
 *
 * @example
 * const { gradebook } = await gradeBatch({ dir: "class/hw1", reference: "hw1/assignment.ipynb", jobs: 2, timeout: 60 });
 * for (const e of gradebook.entries) console.log(e.student, e.score);
 */
export async function gradeBatch(opts: BatchOptions): Promise<BatchResult> {
  const t0 = Date.now();
  const log = opts.log ?? ((): void => undefined);
  const dir = path.resolve(opts.dir);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`no such folder of submissions: ${opts.dir}`);
  const reference = path.resolve(opts.reference);
  const ref = readNotebook(reference);
  const tags = notebookTags(ref, opts.reference).filter(({ tag }) => tag.kind === "grade");
  if (tags.length === 0)
    throw new Error(`${opts.reference} has no graded cells (metadata.d2l {"grade": true, "id": ..., "points": N}); --reference must be the instructor's assignment notebook`);
  const outDir = path.resolve(opts.outDir ?? defaultOutDir(dir));
  if (isInside(outDir, dir)) {
    throw new Error(`the output folder ${outDir} is inside the submissions folder ${dir}; give --out-dir a folder outside it (the default is ${defaultOutDir(dir)})`);
  }
  const jobs = opts.jobs ?? 1;
  const timeout = opts.timeout ?? 300;
  if (!(Number.isInteger(jobs) && jobs >= 1)) throw new Error(`jobs must be a whole number >= 1; got ${jobs}`);
  if (!(Number.isFinite(timeout) && timeout > 0)) throw new Error(`timeout must be a number of seconds > 0; got ${timeout}`);

  const checks = tags.map(({ tag }) => ({ id: tag.id, maxPoints: tag.points }));
  const assignment = (ref.metadata.d2l as { assignment?: unknown } | undefined)?.assignment;
  const book: Gradebook = {
    reference,
    referenceSha256: sha256Of(reference),
    assignment: typeof assignment === "string" ? assignment : null,
    checks,
    maxScore: Math.round(checks.reduce((s, c) => s + c.maxPoints, 0) * 1000) / 1000,
    entries: [],
  };
  const jsonFile = path.join(outDir, "gradebook.json");
  const previous = new Map((readGradebook(jsonFile)?.entries ?? []).map((e) => [e.student, e]));
  const subs = findSubmissions(dir, [outDir, reference]);
  const entries = new Map<string, GradebookEntry>();
  const save = (): void => {
    book.entries = subs.map((s) => entries.get(s.student)).filter((e): e is GradebookEntry => e !== undefined);
    writeAtomic(jsonFile, JSON.stringify(book, null, 2) + "\n");
    writeAtomic(path.join(outDir, "gradebook.csv"), gradebookCsv(book));
  };

  const graded: string[] = [];
  const skipped: string[] = [];
  const todo: { sub: Submission; sha: string | null }[] = [];
  for (const sub of subs) {
    const sha = sub.error ? null : sha256Of(path.join(dir, sub.file));
    const old = previous.get(sub.student);
    // Up to date: the same bytes graded against the same reference (or the same problem with the folder, which needs no kernel).
    const same =
      old && old.referenceSha256 === book.referenceSha256 && old.file === sub.file && (sha ? old.sha256 === sha : old.status === "failed" && old.errors[0] === sub.error);
    if (!opts.force && same && old) {
      entries.set(sub.student, old);
      skipped.push(sub.student);
    } else todo.push({ sub, sha });
  }
  log(
    `d2l-ts grade: ${subs.length} submission(s) in ${dir}: ${todo.length} to grade, ${skipped.length} up to date${skipped.length ? " (--force grades them again)" : ""}; ${jobs} at a time, each cell at most ${timeout} s; results in ${outDir}`,
  );
  save();

  let done = 0;
  const one = async ({ sub, sha }: { sub: Submission; sha: string | null }): Promise<void> => {
    const started = Date.now();
    const secs = (): number => Math.round((Date.now() - started) / 100) / 10;
    let entry: GradebookEntry;
    if (sub.error || !sha) {
      entry = failedEntry(sub, book, sub.error ?? "no notebook", null, 0, timeout);
    } else {
      const file = path.join(dir, sub.file);
      const job: WorkerJob = { submission: file, reference, timeout, memoryMiB: opts.memoryMiB, sandbox: opts.sandbox };
      const r = await gradeInChild(job, deadlineSeconds(file, ref, timeout));
      if (r.ok) {
        entry = entryOf(sub, book, r.report, sha, secs());
        writeAtomic(path.join(outDir, "feedback", `${sub.student}.ipynb`), JSON.stringify(feedbackNotebook(r.notebook, r.report), null, 1) + "\n");
        writeAtomic(path.join(outDir, "reports", `${sub.student}.json`), JSON.stringify({ student: sub.student, file: sub.file, ...r.report }, null, 2) + "\n");
      } else {
        entry = failedEntry(sub, book, r.error, sha, secs(), timeout);
        writeAtomic(
          path.join(outDir, "reports", `${sub.student}.json`),
          JSON.stringify({ student: sub.student, file: sub.file, status: "failed", error: r.error }, null, 2) + "\n",
        );
      }
    }
    entries.set(sub.student, entry);
    graded.push(sub.student);
    save();
    done++;
    const what = entry.status === "ok" ? `${entry.score}/${entry.maxScore}` : `FAILED: ${entry.errors[0].split("\n")[0]}`;
    log(`[${done}/${todo.length}] ${sub.student}: ${what} (${entry.seconds} s)`);
  };
  const queue = [...todo];
  await Promise.all(
    Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await one(next);
    }),
  );
  save();
  return { gradebook: book, outDir, graded, skipped, seconds: Math.round((Date.now() - t0) / 100) / 10 };
}

/**
 * The summary table printed after a batch: one line per student.
 *
 * @example
 * console.log(formatGradebook(result.gradebook, result.skipped));
 */
export function formatGradebook(book: Gradebook, skipped: string[] = []): string {
  const w = Math.max(7, ...book.entries.map((e) => e.student.length));
  const lines = [`${"student".padEnd(w)}  ${"score".padStart(9)}  status   seconds  note`];
  const skip = new Set(skipped);
  for (const e of book.entries) {
    const note = e.status === "failed" ? e.errors[0] : e.errors.length ? `${e.errors.length} cell error(s): ${e.errors[0]}` : "";
    lines.push(
      `${e.student.padEnd(w)}  ${`${e.score}/${e.maxScore}`.padStart(9)}  ${e.status.padEnd(6)}  ${String(e.seconds).padStart(8)}  ${skip.has(e.student) ? "(up to date, not graded again) " : ""}${note.split("\n")[0].slice(0, 100)}`,
    );
  }
  const ok = book.entries.filter((e) => e.status === "ok");
  const mean = ok.length ? Math.round((ok.reduce((s, e) => s + e.score, 0) / ok.length) * 100) / 100 : 0;
  lines.push(`${book.entries.length} student(s): ${ok.length} graded, ${book.entries.length - ok.length} failed; mean score ${mean}/${book.maxScore}`);
  return lines.join("\n");
}

// Started by gradeBatch with --d2l-batch-worker: grade one submission in this process.
if (require.main === module && process.argv[2] === "--d2l-batch-worker") workerMain();
