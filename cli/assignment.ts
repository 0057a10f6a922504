/** `d2l-ts assignment new|release`: the command line over notebook/assignment.ts. */
import * as path from "path";
import { UsageError, flagOption, parseCommand, stringOption } from "./args";
import { newAssignment, releaseNotebook, validateAssignment } from "../notebook/assignment";
import { readNotebook, writeNotebook } from "../notebook/nbformat";

export const ASSIGNMENT_USAGE = `d2l-ts assignment new NAME [--dir DIR]
d2l-ts assignment release SOURCE.ipynb [--out FILE] [--solutions]`;

/**
 * `d2l-ts assignment new NAME` writes a template; `d2l-ts assignment release
 * SOURCE` writes the student's copy (or, with --solutions, the reference solution).
 *
 * @example
 * cmdAssignment(["release", "hw1/assignment.ipynb", "--out=hw1/student.ipynb"]);
 */
export function cmdAssignment(argv: string[]): void {
  const [sub, ...args] = argv;
  if (sub === "new") {
    const p = parseCommand("assignment new", args, { dir: { type: "string" } }, ASSIGNMENT_USAGE, [1, 1, "a NAME"]);
    const file = newAssignment(p.positionals[0], stringOption(p, "dir") ?? ".");
    console.log(`wrote ${file}
Edit it in Jupyter (kernel "TypeScript (d2l)"); each cell's metadata.d2l says what it is:
  {"id": ..., "task": true}                 given text or code (the grader puts the original back)
  {"id": ..., "solution": true}             the student's answer; yours goes between // BEGIN SOLUTION and // END SOLUTION
  {"id": ..., "grade": true, "points": N}   checks with d2l.check / d2l.checkClose; // BEGIN HIDDEN ... // END HIDDEN are hidden checks
Then:
  d2l-ts assignment release ${file}              the student's copy (student.ipynb beside it)
  d2l-ts assignment release ${file} --solutions  your answers as a student would hand them in (solution.ipynb)
  d2l-ts grade SUBMISSION.ipynb --reference ${file}              score a submission`);
    return;
  }
  if (sub === "release") {
    const p = parseCommand("assignment release", args, { out: { type: "string" }, solutions: { type: "boolean" } }, ASSIGNMENT_USAGE, [1, 1, "the instructor's SOURCE.ipynb"]);
    const source = p.positionals[0];
    const solutions = flagOption(p, "solutions");
    const nb = readNotebook(source);
    const released = releaseNotebook(nb, source, { solutions });
    const file = stringOption(p, "out") ?? path.join(path.dirname(source), solutions ? "solution.ipynb" : "student.ipynb");
    if (path.resolve(file) === path.resolve(source)) throw new Error(`--out is the source notebook itself (${source}); choose another file`);
    writeNotebook(file, released);
    const total = validateAssignment(nb, source);
    console.log(`wrote ${file} (${solutions ? "with the answers" : "answers replaced by stubs"}, hidden checks removed; ${total} points)`);
    return;
  }
  throw new UsageError(
    sub === undefined ? "assignment needs a subcommand: new or release" : `unknown assignment subcommand ${JSON.stringify(sub)} (new or release)`,
    ASSIGNMENT_USAGE,
  );
}
