/**
 * The one notebook model (notebook/nbformat.ts): malformed notebooks get a
 * one-line error naming the file, the cell and the field, never a JavaScript
 * TypeError; writing is atomic and Jupyter-shaped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { NotebookError, readNotebook, validateNotebook, writeNotebook, toSourceLines, sourceOf, type Notebook } from "../../notebook/nbformat";

const nb = (cells: unknown[]): unknown => ({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells });
const good = { cell_type: "code", source: "1", metadata: {}, outputs: [], execution_count: null };

test("malformed notebooks: one line naming the cell and the field", () => {
  const cases: [unknown, RegExp][] = [
    [null, /^f\.ipynb: not a notebook: expected a JSON object .* got null$/],
    [[1], /not a notebook: .* got a list$/],
    [{ nbformat: 3, cells: [] }, /^f\.ipynb: nbformat is 3; the d2l-ts tools read nbformat 4/],
    [{ nbformat: 4, cells: "x" }, /"cells" must be a list of cells; got "x"/],
    [nb([null]), /^f\.ipynb: cell 1 must be an object with cell_type and source; got null$/],
    [nb([good, { cell_type: "python", source: "", metadata: {} }]), /cell 2: cell_type must be code, markdown or raw; got "python"/],
    [nb([{ cell_type: "code", source: 7, metadata: {} }]), /cell 1: source must be a string or a list of strings; got 7/],
    [nb([{ cell_type: "code", source: ["a", 1], metadata: {} }]), /cell 1: source must be a string or a list of strings; got a list/],
    [nb([{ id: "c9", cell_type: "code", source: "", metadata: [] }]), /cell 1 \(id "c9"\): metadata must be an object; got a list/],
    [nb([{ cell_type: "code", source: "", metadata: {}, outputs: {} }]), /cell 1: outputs must be a list; got an object/],
    [nb([{ cell_type: "code", source: "", metadata: {}, outputs: [null] }]), /cell 1: outputs\[0\] must be an object with an output_type; got null/],
    [
      nb([{ cell_type: "code", source: "", metadata: {}, outputs: [{ output_type: "picture" }] }]),
      /outputs\[0\]\.output_type must be one of stream, display_data, execute_result, error; got "picture"/,
    ],
    [
      nb([{ cell_type: "code", source: "", metadata: {}, outputs: [{ output_type: "stream", name: "stdout", text: 5 }] }]),
      /outputs\[0\]\.text must be a string or a list of strings; got 5/,
    ],
    [nb([{ cell_type: "code", source: "", metadata: {}, outputs: [{ output_type: "display_data", data: null }] }]), /outputs\[0\]\.data must be an object/],
    [
      nb([{ cell_type: "code", source: "", metadata: {}, outputs: [{ output_type: "display_data", data: { "image/png": 3 } }] }]),
      /outputs\[0\]\.data\["image\/png"\] must be a string/,
    ],
    [
      nb([{ cell_type: "code", source: "", metadata: {}, outputs: [{ output_type: "error", ename: "E", evalue: "v", traceback: "t" }] }]),
      /outputs\[0\]\.traceback must be a list of strings/,
    ],
    [nb([{ cell_type: "code", source: "", metadata: {}, execution_count: "3" }]), /cell 1: execution_count must be a number or null; got "3"/],
  ];
  for (const [value, want] of cases) {
    assert.throws(
      () => validateNotebook(structuredClone(value), "f.ipynb"),
      (e: Error) => e instanceof NotebookError && want.test(e.message) && !e.message.includes("\n"),
      `${JSON.stringify(value)} → ${want}`,
    );
  }
});

test("a valid notebook passes; missing metadata and outputs are filled in; JSON mime values may be objects", () => {
  const v = validateNotebook(
    nb([
      { cell_type: "markdown", source: ["# T\n", "x"] },
      { cell_type: "code", source: "x", outputs: [{ output_type: "display_data", data: { "application/vnd.vegalite.v5+json": { mark: "bar" }, "text/plain": ["a"] } }] },
    ]),
    "f.ipynb",
  );
  assert.deepEqual(v.cells[0].metadata, {});
  assert.equal(sourceOf(v.cells[0]), "# T\nx");
  assert.equal(v.cells[1].outputs?.length, 1);
});

test("readNotebook: missing file, folder, not JSON, a BOM; writeNotebook is atomic and Jupyter-shaped", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-nbformat-"));
  try {
    assert.throws(() => readNotebook(path.join(dir, "no.ipynb")), /no\.ipynb: cannot read the notebook: no such file/);
    assert.throws(() => readNotebook(dir), /cannot read the notebook: it is a folder/);
    const f = path.join(dir, "week[1] #?é.ipynb");
    fs.writeFileSync(f, "{not json");
    assert.throws(() => readNotebook(f), /week\[1\] #\?é\.ipynb: not a notebook: not valid JSON/);
    fs.writeFileSync(f, "\ufeff" + JSON.stringify(nb([good])));
    assert.equal(readNotebook(f).cells.length, 1);
    const out = path.join(dir, "sub", "out.ipynb");
    writeNotebook(out, readNotebook(f) as Notebook);
    const text = fs.readFileSync(out, "utf8");
    assert.ok(text.startsWith('{\n "nbformat": 4') && text.endsWith("}\n"), text.slice(0, 30));
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ["out.ipynb"], "no temporary file is left beside it");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("toSourceLines is nbformat's list-of-lines form", () => {
  assert.deepEqual(toSourceLines("a\nb"), ["a\n", "b"]);
  assert.deepEqual(toSourceLines("a\n"), ["a\n"]);
  assert.deepEqual(toSourceLines(""), []);
});
