/**
 * The shipped ch9-rnn-classification notebooks: student.ipynb and
 * solution.ipynb are what `d2l-ts assignment release` makes of
 * assignment.ipynb, its points add up to 10, and neither released copy
 * carries the hidden checks (the student's carries no answer either).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { Notebook, notebookTags, readNotebook, releaseNotebook, sourceOf, validateAssignment } from "../../notebook/assignment";

const CH9 = path.resolve(__dirname, "../../..", "assignments", "ch9-rnn-classification");

test("the shipped ch9-rnn-classification student and solution notebooks are what release makes of assignment.ipynb", () => {
  const src = readNotebook(path.join(CH9, "assignment.ipynb"));
  assert.equal(validateAssignment(src, "assignment.ipynb"), 10);
  const points = Object.fromEntries(
    notebookTags(src, "assignment.ipynb")
      .filter((t) => t.tag.kind === "grade")
      .map((t) => [t.tag.id, t.tag.points]),
  );
  assert.deepEqual(points, { "check-validlen": 1, "check-net": 2, "check-varlen": 2, "check-accuracy": 3, "check-history": 1, "check-curves": 1 });
  const student = JSON.parse(fs.readFileSync(path.join(CH9, "student.ipynb"), "utf8"));
  const solution = JSON.parse(fs.readFileSync(path.join(CH9, "solution.ipynb"), "utf8"));
  const fix = "run: d2l-ts assignment release assignments/ch9-rnn-classification/assignment.ipynb";
  assert.deepEqual(student, JSON.parse(JSON.stringify(releaseNotebook(src, "assignment.ipynb"))), fix);
  assert.deepEqual(solution, JSON.parse(JSON.stringify(releaseNotebook(src, "assignment.ipynb", { solutions: true }))), `${fix} --solutions`);
  const all = (nb: Notebook): string =>
    nb.cells
      .filter((c) => c.cell_type === "code")
      .map(sourceOf)
      .join("\n");
  assert.doesNotMatch(all(student), /BEGIN|END (SOLUTION|HIDDEN)|tf\.where\(alive|d2l\.fit\(|each e-mail alone/);
  assert.match(all(student), /YOUR CODE HERE/);
  assert.doesNotMatch(all(solution), /BEGIN|YOUR CODE HERE|each e-mail alone/);
  assert.match(all(solution), /tf\.where\(alive\[t\], next, H\)/);
});
