/**
 * `d2l-ts grade`: one submission (notebook/grade.ts) or a folder of them
 * (notebook/batch.ts). Only the command line is here.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { UsageError, flagOption, numberOption, parseCommand, stringOption, type OptionSpec, type Parsed } from "./args";

export const GRADE_USAGE = `d2l-ts grade SUBMISSION.ipynb [--reference SOURCE.ipynb] [--timeout S] [--memory MiB] [--no-sandbox] [--json FILE] [--out FILE] [--quiet]
d2l-ts grade SUBMISSIONS_DIR --reference SOURCE.ipynb [--jobs N] [--timeout S] [--memory MiB] [--no-sandbox] [--out-dir DIR] [--force] [--quiet]`;

const GRADE_OPTIONS: OptionSpec = {
  reference: { type: "string" },
  timeout: { type: "string" },
  memory: { type: "string" },
  "no-sandbox": { type: "boolean" },
  json: { type: "string" },
  out: { type: "string" },
  quiet: { type: "boolean" },
  jobs: { type: "string" },
  "out-dir": { type: "string" },
  force: { type: "boolean" },
};

function common(p: Parsed): { timeout: number; memoryMiB?: number; sandbox: boolean; log?: (line: string) => void } {
  const timeout = numberOption(p, "timeout", { fallback: 300, min: 0, above: true, what: "seconds each cell may run" }, GRADE_USAGE);
  const memoryMiB = numberOption(p, "memory", { min: 256, what: "MiB each submission's kernel may use" }, GRADE_USAGE);
  const log = flagOption(p, "quiet") ? undefined : (line: string): void => console.error(line);
  return { timeout, memoryMiB, sandbox: !flagOption(p, "no-sandbox"), log };
}

/**
 * `d2l-ts grade ...`: parse, grade one submission or a folder, print the
 * report, write its files; resolves when grading finished (whatever the score).
 *
 * @example
 * await cmdGrade(["alice.ipynb", "--reference=hw1/assignment.ipynb", "--timeout", "120"]);
 */
export async function cmdGrade(args: string[]): Promise<void> {
  const p = parseCommand("grade", args, GRADE_OPTIONS, GRADE_USAGE, [1, 1, "a SUBMISSION.ipynb or a SUBMISSIONS_DIR"]);
  const target = p.positionals[0];
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) return gradeFolder(target, p);
  for (const batchOnly of ["jobs", "out-dir", "force"]) {
    if (p.values[batchOnly] !== undefined) throw new UsageError(`--${batchOnly} is for a folder of submissions; ${target} is one notebook`, GRADE_USAGE);
  }
  const reference = stringOption(p, "reference");
  const { timeout, memoryMiB, sandbox, log } = common(p);
  for (const f of [target, reference]) if (f !== undefined && !fs.existsSync(f)) throw new Error(`no such notebook: ${f}`);
  const stem = target.replace(/\.ipynb$/, "");
  const json = stringOption(p, "json") ?? `${stem}.grade.json`;
  const out = stringOption(p, "out") ?? `${stem}.graded.ipynb`;
  const { grade, formatReport } = await import("../notebook/grade");
  const { writeNotebook } = await import("../notebook/nbformat");
  const { writeFileAtomic } = await import("../lib/files");
  log?.(`d2l-ts grade: running ${target} (each cell at most ${timeout} s)`);
  const { report, notebook } = await grade({ submission: target, reference, timeout, log, memoryMiB, sandbox });
  writeNotebook(out, notebook);
  fs.mkdirSync(path.dirname(path.resolve(json)), { recursive: true });
  writeFileAtomic(json, JSON.stringify(report, null, 2) + "\n");
  console.log(formatReport(report));
  console.log(`report: ${json}\nexecuted notebook: ${out}`);
}

async function gradeFolder(dir: string, p: Parsed): Promise<void> {
  for (const single of ["json", "out"]) {
    if (p.values[single] !== undefined) {
      throw new UsageError(`--${single} is for one submission; a folder's results go to --out-dir DIR (gradebook.csv, gradebook.json, feedback/, reports/)`, GRADE_USAGE);
    }
  }
  const reference = stringOption(p, "reference");
  if (!reference) {
    throw new UsageError(
      "grading a folder needs --reference NAME/assignment.ipynb (the instructor's notebook): without it each student's own, possibly edited, check cells would be run",
      GRADE_USAGE,
    );
  }
  if (!fs.existsSync(reference)) throw new Error(`no such notebook: ${reference}`);
  const { timeout, memoryMiB, sandbox, log } = common(p);
  const jobs = numberOption(p, "jobs", { fallback: 1, min: 1, integer: true, what: `submissions graded at a time; this machine has ${os.cpus().length} cores` }, GRADE_USAGE);
  const { gradeBatch, formatGradebook } = await import("../notebook/batch");
  const result = await gradeBatch({ dir, reference, jobs, timeout, outDir: stringOption(p, "out-dir"), force: flagOption(p, "force"), log, memoryMiB, sandbox });
  console.log(formatGradebook(result.gradebook, result.skipped));
  console.log(
    `graded ${result.graded.length}, up to date ${result.skipped.length}, in ${result.seconds} s\ngradebook: ${path.join(result.outDir, "gradebook.csv")} (and .json); feedback notebooks: ${path.join(result.outDir, "feedback")}`,
  );
}
