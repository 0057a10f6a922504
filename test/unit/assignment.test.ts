/**
 * Assignments without a kernel: the template, release (stubs, hidden checks
 * removed), the checks of an instructor's notebook, merging a submission
 * with the reference, and scoring a graded cell from its outputs. The
 * shipped ch3-softmax student and solution notebooks must be what release
 * makes of its source.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  NbCell,
  Notebook,
  assignmentTemplate,
  cellTag,
  newAssignment,
  readNotebook,
  releaseNotebook,
  releasedSource,
  sourceOf,
  toSourceLines,
  validateAssignment,
} from "../../notebook/assignment";
import { mergeWithReference, scoreCell } from "../../notebook/grade";
import type { CellRun } from "../../notebook/client";
import type { NbOutput } from "../../notebook/nbformat";
import { CHECK_MIME } from "../../lib/check";

const ROOT = path.resolve(__dirname, "../../..");
const CH3 = path.join(ROOT, "assignments", "ch3-softmax");

function code(text: string, d2l?: Record<string, unknown>): NbCell {
  return { cell_type: "code", metadata: d2l ? { d2l } : {}, source: toSourceLines(text), outputs: [], execution_count: null };
}
function nbOf(cells: NbCell[]): Notebook {
  return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells };
}
const ids = (nb: Notebook): (string | null)[] => nb.cells.map((c) => (c.metadata.d2l as { id?: string } | undefined)?.id ?? null);

test("the shipped ch3-softmax student and solution notebooks are what release makes of assignment.ipynb", () => {
  const src = readNotebook(path.join(CH3, "assignment.ipynb"));
  assert.equal(validateAssignment(src, "assignment.ipynb"), 7);
  const student = JSON.parse(fs.readFileSync(path.join(CH3, "student.ipynb"), "utf8"));
  const solution = JSON.parse(fs.readFileSync(path.join(CH3, "solution.ipynb"), "utf8"));
  assert.deepEqual(student, JSON.parse(JSON.stringify(releaseNotebook(src, "assignment.ipynb"))), "run: d2l-ts assignment release assignments/ch3-softmax/assignment.ipynb");
  assert.deepEqual(
    solution,
    JSON.parse(JSON.stringify(releaseNotebook(src, "assignment.ipynb", { solutions: true }))),
    "run: d2l-ts assignment release assignments/ch3-softmax/assignment.ipynb --solutions",
  );
  const all = (nb: Notebook): string =>
    nb.cells
      .filter((c) => c.cell_type === "code")
      .map(sourceOf)
      .join("\n");
  assert.doesNotMatch(all(student), /BEGIN|END (SOLUTION|HIDDEN)|trainCh3\(|checkClose\("softmax gives/);
  assert.match(all(student), /YOUR CODE HERE/);
  assert.doesNotMatch(all(solution), /BEGIN|YOUR CODE HERE|softmax gives the right/);
  assert.match(all(solution), /d2l\.trainCh3\(net, trainIter, testIter, crossEntropy, numEpochs, updater\)/);
});

test("release: a solution region becomes an indented stub; a hidden region a note; outputs are cleared", () => {
  const src = nbOf([
    code("function f(): number {\n  // BEGIN SOLUTION\n  return 1;\n  // END SOLUTION\n}", { id: "f", solution: true }),
    code("await d2l.check('visible', 1, f() === 1);\n// BEGIN HIDDEN\nawait d2l.check('hidden', 1, f() > 0);\n// END HIDDEN", { id: "c", grade: true, points: 2 }),
    code("const whole = 2;", { id: "w", solution: true }),
  ]);
  src.cells[0].outputs = [{ output_type: "stream", name: "stdout", text: "x" }];
  src.cells[0].execution_count = 3;
  const out = releaseNotebook(src, "src.ipynb");
  assert.equal(sourceOf(out.cells[0]), 'function f(): number {\n  // YOUR CODE HERE\n  throw new Error("not implemented yet: replace this line with your code");\n}');
  assert.equal(sourceOf(out.cells[1]), "await d2l.check('visible', 1, f() === 1);\n// (hidden checks run here when the notebook is graded)");
  assert.match(sourceOf(out.cells[2]), /^\/\/ YOUR CODE HERE\nthrow new Error/);
  assert.deepEqual(out.cells[0].outputs, []);
  assert.equal(out.cells[0].execution_count, null);
  assert.equal(sourceOf(src.cells[0]).includes("return 1"), true, "the source is left alone");
  const sol = releaseNotebook(src, "src.ipynb", { solutions: true });
  assert.equal(sourceOf(sol.cells[0]), "function f(): number {\n  return 1;\n}");
  assert.equal(releasedSource(src.cells[1], "c"), sourceOf(out.cells[1]));
});

test("an instructor's mistakes are errors that say where and what to do", () => {
  const bad = (cells: NbCell[], re: RegExp): void => assert.throws(() => validateAssignment(nbOf(cells), "a.ipynb"), re);
  bad([code("x", { id: "c", grade: true, points: 1 }), code("y", { id: "c", grade: true, points: 1 })], /cells 1 and 2 have the same metadata.d2l.id "c"/);
  bad([code("x", { id: "c", grade: true })], /graded cell "c" needs "points": a number > 0/);
  bad([code("x", { id: "c", grade: true, solution: true, points: 1 })], /exactly one of "task", "solution", "grade"/);
  bad([code("x", { id: "has space", grade: true, points: 1 })], /metadata.d2l.id must be a name/);
  bad(
    [code("// BEGIN SOLUTION\nx", { id: "s", solution: true }), code("y", { id: "c", grade: true, points: 1 })],
    /line 1: BEGIN SOLUTION is never closed; add a line "\/\/ END SOLUTION"/,
  );
  bad([code("x\n// END HIDDEN", { id: "c", grade: true, points: 1 })], /line 2: END HIDDEN without a BEGIN HIDDEN/);
  bad([code("// BEGIN HIDDEN\nx\n// END HIDDEN", { id: "s", solution: true }), code("y", { id: "c", grade: true, points: 1 })], /a HIDDEN region belongs in a graded cell/);
  bad([code("// BEGIN SOLUTION\nx\n// END SOLUTION"), code("y", { id: "c", grade: true, points: 1 })], /cell 1: has BEGIN\/END markers but no metadata.d2l tag/);
  bad([code("y", { id: "c", grade: true, points: 1, expectOutput: { cell: "nope", mime: "image/png" } })], /expectOutput names cell "nope", but no cell has that metadata.d2l.id/);
  bad([code("x", { id: "t", task: true })], /no graded cells/);
});

test("assignment new writes a valid template once, and refuses bad names and overwriting", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-assign-"));
  try {
    const file = newAssignment("week-3", dir);
    assert.equal(file, path.join(dir, "week-3", "assignment.ipynb"));
    const nb = readNotebook(file);
    assert.equal(validateAssignment(nb, file), 3);
    const kinds = nb.cells.map((c, i) => cellTag(c, `cell ${i + 1}`)?.kind);
    for (const k of ["task", "solution", "grade"]) assert.ok(kinds.includes(k as "task"), `no ${k} cell in the template`);
    assert.match(nb.cells.map(sourceOf).join("\n"), /BEGIN HIDDEN/);
    assert.throws(() => newAssignment("week-3", dir), /exists already/);
    assert.throws(() => newAssignment("../up", dir), /use letters, digits/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(assignmentTemplate("x").metadata.kernelspec && (assignmentTemplate("x").metadata.kernelspec as { name: string }).name, "d2l-ts");
});

test("readNotebook says what is wrong with a file that is not a notebook", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-assign-"));
  try {
    const f = path.join(dir, "x.ipynb");
    fs.writeFileSync(f, "{not json");
    assert.throws(() => readNotebook(f), /not a notebook: not valid JSON/);
    fs.writeFileSync(f, JSON.stringify({ nbformat: 3, worksheets: [] }));
    assert.throws(() => readNotebook(f), /x\.ipynb: nbformat is 3; the d2l-ts tools read nbformat 4/);
    assert.throws(() => readNotebook(path.join(dir, "missing.ipynb")), /cannot read/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function reference(): Notebook {
  return nbOf([
    code("const given = 1;", { id: "given", task: true }),
    code("// BEGIN SOLUTION\nconst answer = 42;\n// END SOLUTION", { id: "answer", solution: true }),
    code("await d2l.check('answer', 1, answer === 42);\n// BEGIN HIDDEN\nawait d2l.check('hidden', 1, answer > 0);\n// END HIDDEN", { id: "check", grade: true, points: 2 }),
    code("const more = 2;", { id: "more", task: true }),
    code("await d2l.check('more', 1, more === 2);", { id: "check2", grade: true, points: 1 }),
  ]);
}

test("merge: check and given cells come from the reference, answers and the student's own cells stay", () => {
  const ref = reference();
  const sub = releaseNotebook(ref, "ref.ipynb");
  sub.cells[0].source = "const given = 1000; // edited";
  sub.cells[1].source = "const answer = 42;";
  sub.cells[1].metadata = { d2l: { id: "answer", grade: true, points: 100 } }; // a forged tag
  sub.cells[2].source = "await d2l.check('answer', 2, true);"; // the student's 'fix'
  sub.cells.splice(2, 0, code("console.log('mine');"));
  sub.cells[4] = { cell_type: "markdown", metadata: sub.cells[4].metadata, source: "const more = 2;" }; // turned into markdown
  const { nb, warnings } = mergeWithReference(sub, "sub.ipynb", ref, "ref.ipynb");
  assert.deepEqual(ids(nb), ["given", "answer", null, "check", "more", "check2"]);
  assert.equal(sourceOf(nb.cells[0]), "const given = 1;");
  assert.equal(sourceOf(nb.cells[1]), "const answer = 42;");
  assert.deepEqual(nb.cells[1].metadata.d2l, { id: "answer", solution: true }, "the reference's tag, not the forged one");
  assert.match(sourceOf(nb.cells[3]), /BEGIN HIDDEN/, "the instructor's check cell, hidden checks included");
  assert.equal(sourceOf(nb.cells[2]), "console.log('mine');");
  assert.equal(nb.cells[4].cell_type, "code", "a given code cell stays code");
  assert.deepEqual([nb.cells[4].outputs, nb.cells[4].execution_count], [[], null]);
  assert.ok(
    warnings.some((w) => /"given"\) is a given cell that was edited/.test(w)),
    warnings.join("\n"),
  );
  assert.ok(
    warnings.some((w) => /"check"\) is a check cell that was edited/.test(w)),
    warnings.join("\n"),
  );
  assert.ok(!warnings.some((w) => /"check2"/.test(w)), "an untouched check cell is not reported, though its hidden part differs");
});

test("merge: a deleted check cell is put back in its place; copies and unknown ids are not scored", () => {
  const ref = reference();
  const sub = releaseNotebook(ref, "ref.ipynb", { solutions: true });
  const [check] = sub.cells.splice(2, 1); // deleted "check"
  sub.cells.push({ ...check, source: "await d2l.check('answer', 2, true);" }); // ...and pasted at the end, edited
  sub.cells[sub.cells.length - 1] = { ...sub.cells[sub.cells.length - 1], metadata: { d2l: { id: "check2", grade: true, points: 5 } } }; // a second "check2"
  sub.cells.push(code("1", { id: "extra", grade: true, points: 9 }));
  const { nb, warnings } = mergeWithReference(sub, "sub.ipynb", ref, "ref.ipynb");
  assert.deepEqual(ids(nb), ["given", "answer", "check", "more", "check2", null, null]);
  assert.equal(nb.cells[5].metadata.d2l, undefined);
  assert.deepEqual(nb.cells[5].metadata.d2l_untagged, { id: "check2", grade: true, points: 5 });
  assert.ok(
    warnings.some((w) => /graded cell "check" was missing from the submission and was put back/.test(w)),
    warnings.join("\n"),
  );
  assert.ok(warnings.some((w) => /repeats the id "check2"/.test(w)));
  assert.ok(warnings.some((w) => /id "extra", which the reference does not have/.test(w)));
});

test("merge without a reference grades the submission's own checks and says so", () => {
  const sub = releaseNotebook(reference(), "ref.ipynb", { solutions: true });
  const { nb, warnings } = mergeWithReference(sub, "sub.ipynb", null, null);
  assert.deepEqual(ids(nb), ids(sub));
  assert.ok(warnings.some((w) => /no --reference given/.test(w)));
});

function shown(r: Record<string, unknown>): NbOutput {
  return { output_type: "display_data", data: { [CHECK_MIME]: r, "text/plain": "..." }, metadata: {} };
}
const ok: CellRun = { status: "ok", outputs: [], executionCount: 1, timedOut: false, seconds: 0 };

test("scoring: reported checks add up; checks that never reported count 0 with the cell's error", () => {
  const nb = nbOf([code("", { id: "c", grade: true, points: 3 })]);
  const tag = cellTag(nb.cells[0], "c");
  assert.ok(tag);
  nb.cells[0].outputs = [shown({ name: "a", points: 1, maxPoints: 1, passed: true, message: "" })];
  const failed: CellRun = { ...ok, status: "error", ename: "ReferenceError", evalue: "net is not defined" };
  const warnings: string[] = [];
  const r = scoreCell(nb, 0, tag, failed, warnings);
  assert.equal(r.points, 1);
  assert.equal(r.status, "partial");
  assert.equal(r.error, "ReferenceError: net is not defined");
  assert.deepEqual(r.results[1], { name: "checks that did not report", points: 0, maxPoints: 2, passed: false, message: "ReferenceError: net is not defined" });
  // more reported than the cell is worth: capped, and the instructor is told
  nb.cells[0].outputs = [shown({ name: "a", points: 2, maxPoints: 2, passed: true, message: "" }), shown({ name: "b", points: 2, maxPoints: 2, passed: true, message: "" })];
  const capped = scoreCell(nb, 0, tag, ok, warnings);
  assert.equal(capped.points, 3);
  assert.ok(warnings.some((w) => /worth 4 points, more than its 3/.test(w)));
  // a malformed result is ignored, not trusted
  nb.cells[0].outputs = [shown({ name: "x", points: 99, maxPoints: 1 })];
  const bad = scoreCell(nb, 0, tag, ok, warnings);
  assert.equal(bad.points, 0);
  assert.ok(warnings.some((w) => /malformed check result/.test(w)));
});

test("scoring: expectOutput looks at the named cell's outputs, mime type and text", () => {
  const expect = { cell: "train", mime: "application/vnd.vegalite.v5+json", textMatches: "^<Animator", name: "curves" };
  const nb = nbOf([code("", { id: "train", solution: true }), code("", { id: "curves", grade: true, points: 1, expectOutput: expect })]);
  const tag = cellTag(nb.cells[1], "c");
  assert.ok(tag);
  const score = (): number => scoreCell(nb, 1, tag, ok, []).points;
  assert.equal(score(), 0);
  nb.cells[0].outputs = [{ output_type: "display_data", data: { "application/vnd.vegalite.v5+json": {}, "text/plain": "<Figure>" }, metadata: {} }];
  assert.equal(score(), 0, "a plot, but not the Animator's");
  assert.match(scoreCell(nb, 1, tag, ok, []).results[0].message, /not one whose text matches/);
  nb.cells[0].outputs.push({ output_type: "display_data", data: { "application/vnd.vegalite.v5+json": {}, "text/plain": "<Animator at epoch 2: train loss 0.5>" }, metadata: {} });
  assert.equal(score(), 1);
});
