/**
 * Course assignments: notebooks whose cells are tagged in `metadata.d2l`.
 *
 * - `{"id": "...", "task": true}`: given text or code; the grader puts back
 *   the instructor's version, so editing it changes nothing.
 * - `{"id": "...", "solution": true}`: a cell the student fills. In the
 *   instructor's notebook the answer sits between `// BEGIN SOLUTION` and
 *   `// END SOLUTION` lines (the whole cell when there are none); the
 *   student's copy gets a stub there.
 * - `{"id": "...", "grade": true, "points": N}`: a check cell that calls
 *   `d2l.check(...)`. Lines between `// BEGIN HIDDEN` and `// END HIDDEN` are
 *   hidden checks: the student's copy lacks them, and the grader runs the
 *   instructor's version of every check cell. With
 *   `"expectOutput": {"cell": ID, "mime": TYPE, "textMatches"?: REGEX, "name"?: TEXT}`
 *   the grader also looks at the outputs of cell ID (e.g. "a plot was shown").
 *
 * `d2l-ts assignment new NAME` writes a template; `d2l-ts assignment release
 * SOURCE` writes the student's copy (or, with `--solutions`, the reference
 * solution as a student would hand it in).
 */
import * as fs from "fs";
import * as path from "path";
import { type NbCell, type Notebook, readNotebook, sourceOf, toSourceLines, writeNotebook } from "./nbformat";

// The notebook model is nbformat.ts'; these names stay importable from here for the tools that use both.
export { type NbCell, type Notebook, readNotebook, sourceOf, toSourceLines, writeNotebook };

/** What `d2l-ts grade` reads from a graded cell about another cell's outputs. */
export interface ExpectOutput {
  /** The d2l id of the cell whose outputs are looked at. */
  cell: string;
  /** A mime type one of its outputs must have, e.g. application/vnd.vegalite.v5+json. */
  mime: string;
  /** A regular expression that output's text/plain must match. */
  textMatches?: string;
  /** What the check is called in the report. */
  name?: string;
  /** Points for it (default: the cell's points). */
  points?: number;
}

/** A cell's `metadata.d2l`, checked. */
export interface CellTag {
  id: string;
  kind: "task" | "solution" | "grade";
  points: number;
  expectOutput?: ExpectOutput;
}

export const CODE_MARKERS = { solution: "SOLUTION", hidden: "HIDDEN" } as const;
const STUB_CODE = ["// YOUR CODE HERE", 'throw new Error("not implemented yet: replace this line with your code");'];
const STUB_MARKDOWN = "YOUR ANSWER HERE";
const HIDDEN_NOTE = "// (hidden checks run here when the notebook is graded)";

/** The cell's d2l tag, or null for an ordinary cell; throws, naming the cell, when the tag is malformed. */
export function cellTag(cell: NbCell, where: string): CellTag | null {
  const raw = cell.metadata.d2l;
  if (raw === undefined) return null;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${where}: metadata.d2l must be an object like {"id": "softmax", "solution": true}`);
  const t = raw as Record<string, unknown>;
  const kinds = (["task", "solution", "grade"] as const).filter((k) => t[k] === true);
  if (kinds.length !== 1) throw new Error(`${where}: metadata.d2l must set exactly one of "task", "solution", "grade" to true; got ${JSON.stringify(raw)}`);
  if (typeof t.id !== "string" || !/^[A-Za-z0-9_.-]+$/.test(t.id)) {
    throw new Error(`${where}: metadata.d2l.id must be a name of letters, digits, "_", "." or "-"; got ${JSON.stringify(t.id)}`);
  }
  const kind = kinds[0];
  let points = 0;
  if (kind === "grade") {
    if (cell.cell_type !== "code") throw new Error(`${where}: a graded cell ("${t.id}") must be a code cell`);
    if (typeof t.points !== "number" || !Number.isFinite(t.points) || t.points <= 0) {
      throw new Error(`${where}: graded cell "${t.id}" needs "points": a number > 0; got ${JSON.stringify(t.points)}`);
    }
    points = t.points;
  }
  let expectOutput: ExpectOutput | undefined;
  if (t.expectOutput !== undefined) {
    const e = t.expectOutput as Partial<ExpectOutput> | null;
    if (kind !== "grade") throw new Error(`${where}: only a graded cell may have expectOutput`);
    if (!e || typeof e !== "object" || typeof e.cell !== "string" || typeof e.mime !== "string") {
      throw new Error(`${where}: expectOutput must be like {"cell": "train", "mime": "application/vnd.vegalite.v5+json"}; got ${JSON.stringify(e)}`);
    }
    if (e.textMatches !== undefined) {
      try {
        new RegExp(e.textMatches);
      } catch (err) {
        throw new Error(`${where}: expectOutput.textMatches is not a regular expression: ${(err as Error).message}`);
      }
    }
    if (e.points !== undefined && !(typeof e.points === "number" && e.points > 0 && e.points <= points)) {
      throw new Error(`${where}: expectOutput.points must be a number in (0, ${points}] (the cell's points)`);
    }
    expectOutput = { cell: e.cell, mime: e.mime, textMatches: e.textMatches, name: e.name, points: e.points };
  }
  return { id: t.id, kind, points, expectOutput };
}

interface Region {
  marker: "SOLUTION" | "HIDDEN";
  begin: number;
  end: number;
  indent: string;
}

const MARKER_LINE = /^(\s*)(?:\/\/|<!--)\s*(BEGIN|END)\s+(SOLUTION|HIDDEN)\b/;

/** The marked regions of a source, checked for balance. */
function regions(lines: string[], where: string): Region[] {
  const out: Region[] = [];
  let open: Region | null = null;
  lines.forEach((line, i) => {
    const m = MARKER_LINE.exec(line);
    if (!m) return;
    const [, indent, edge, marker] = m as unknown as [string, string, "BEGIN" | "END", "SOLUTION" | "HIDDEN"];
    if (edge === "BEGIN") {
      if (open)
        throw new Error(`${where}, line ${i + 1}: BEGIN ${marker} inside the ${open.marker} region opened on line ${open.begin + 1}; close it first with END ${open.marker}`);
      open = { marker, begin: i, end: -1, indent };
    } else {
      if (!open || open.marker !== marker) throw new Error(`${where}, line ${i + 1}: END ${marker} without a BEGIN ${marker} before it`);
      open.end = i;
      out.push(open);
      open = null;
    }
  });
  if (open) {
    const o = open as Region;
    throw new Error(`${where}, line ${o.begin + 1}: BEGIN ${o.marker} is never closed; add a line "// END ${o.marker}"`);
  }
  return out;
}

/** Replace each marked region by what `replace` gives for it. */
function rewrite(text: string, where: string, replace: (r: Region, body: string[]) => string[]): string {
  const lines = text.split("\n");
  const rs = regions(lines, where);
  if (rs.length === 0) return text;
  const out: string[] = [];
  let at = 0;
  for (const r of rs) {
    out.push(...lines.slice(at, r.begin));
    out.push(...replace(r, lines.slice(r.begin + 1, r.end)));
    at = r.end + 1;
  }
  out.push(...lines.slice(at));
  return out.join("\n");
}

/** The checked tags of a notebook, with their cell indexes; throws on duplicate ids and dangling references. */
export function notebookTags(nb: Notebook, file: string): { index: number; tag: CellTag }[] {
  const tags: { index: number; tag: CellTag }[] = [];
  const seen = new Map<string, number>();
  nb.cells.forEach((cell, i) => {
    const tag = cellTag(cell, `${file}, cell ${i + 1}`);
    if (!tag) return;
    const prev = seen.get(tag.id);
    if (prev !== undefined) throw new Error(`${file}: cells ${prev + 1} and ${i + 1} have the same metadata.d2l.id "${tag.id}"; ids must be unique`);
    seen.set(tag.id, i);
    tags.push({ index: i, tag });
  });
  for (const { index, tag } of tags) {
    if (tag.expectOutput && !seen.has(tag.expectOutput.cell)) {
      throw new Error(`${file}, cell ${index + 1}: expectOutput names cell "${tag.expectOutput.cell}", but no cell has that metadata.d2l.id`);
    }
  }
  return tags;
}

/** Check an instructor's notebook: tags, markers, and at least one graded cell. Returns the total points. */
export function validateAssignment(nb: Notebook, file: string): number {
  const tags = notebookTags(nb, file);
  let total = 0;
  for (const { index, tag } of tags) {
    const cell = nb.cells[index];
    const where = `${file}, cell ${index + 1} ("${tag.id}")`;
    const rs = regions(sourceOf(cell).split("\n"), where);
    for (const r of rs) {
      if (r.marker === "SOLUTION" && tag.kind !== "solution") throw new Error(`${where}: a SOLUTION region belongs in a solution cell, not a ${tag.kind} cell`);
      if (r.marker === "HIDDEN" && tag.kind !== "grade") throw new Error(`${where}: a HIDDEN region belongs in a graded cell, not a ${tag.kind} cell`);
    }
    total += tag.points;
  }
  for (const [i, cell] of nb.cells.entries()) {
    if (!cell.metadata.d2l && regions(sourceOf(cell).split("\n"), `${file}, cell ${i + 1}`).length > 0) {
      throw new Error(`${file}, cell ${i + 1}: has BEGIN/END markers but no metadata.d2l tag; tag it as a solution or graded cell`);
    }
  }
  if (total <= 0) throw new Error(`${file}: no graded cells (a cell with metadata.d2l {"grade": true, "id": ..., "points": N})`);
  return total;
}

/** Options of {@link releaseNotebook}. */
export interface ReleaseOptions {
  /** Keep the answers (markers removed): the reference solution as a student would hand it in. */
  solutions?: boolean;
}

/**
 * The student's copy of an instructor's notebook: answers replaced by stubs
 * (kept with `solutions`), hidden checks removed, outputs cleared.
 */
export function releaseNotebook(source: Notebook, file: string, options: ReleaseOptions = {}): Notebook {
  validateAssignment(source, file);
  const cells = source.cells.map((cell, i): NbCell => {
    const text = releasedSource(cell, `${file}, cell ${i + 1}`, options);
    const out: NbCell = { ...cell, source: toSourceLines(text), metadata: { ...cell.metadata } };
    if (cell.cell_type === "code") {
      out.outputs = [];
      out.execution_count = null;
    }
    return out;
  });
  return { ...source, cells };
}

/** A cell's source as the student's copy has it (see {@link releaseNotebook}). */
export function releasedSource(cell: NbCell, where: string, options: ReleaseOptions = {}): string {
  const tag = cellTag(cell, where);
  const text = sourceOf(cell);
  const markdown = cell.cell_type === "markdown";
  if (tag?.kind === "solution") {
    if (options.solutions) return rewrite(text, where, (_r, body) => body);
    if (regions(text.split("\n"), where).length === 0) return markdown ? STUB_MARKDOWN : STUB_CODE.join("\n");
    return rewrite(text, where, (r) => (markdown ? [STUB_MARKDOWN] : STUB_CODE.map((l) => r.indent + l)));
  }
  if (tag?.kind === "grade") return rewrite(text, where, (r) => [r.indent + HIDDEN_NOTE]);
  return text;
}

/** The instructor's template that `d2l-ts assignment new NAME` writes. */
export function assignmentTemplate(name: string): Notebook {
  let n = 0;
  const cell = (cell_type: "code" | "markdown", text: string, d2l?: Record<string, unknown>): NbCell => {
    const c: NbCell = { cell_type, id: `${name.replace(/[^A-Za-z0-9-]/g, "-").slice(0, 40)}-${++n}`, metadata: d2l ? { d2l } : {}, source: toSourceLines(text) };
    if (cell_type === "code") {
      c.execution_count = null;
      c.outputs = [];
    }
    return c;
  };
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: "d2l-ts", display_name: "TypeScript (d2l)", language: "typescript" },
      language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
      d2l: { assignment: name },
    },
    cells: [
      cell(
        "markdown",
        [
          `# ${name}`,
          "",
          "Fill in the cells marked `YOUR CODE HERE`, then run the check cells below them: each check prints ✓ or ✗ with its points. More checks run when the notebook is graded.",
        ].join("\n"),
        { id: "intro", task: true },
      ),
      cell("code", "const X = tf.tensor2d([[1, -2], [3, -4]]);", { id: "given", task: true }),
      cell("markdown", "## Task 1 (2 points)\n\nWrite `relu(X)`, which keeps the positive entries of a tensor and sets the others to 0, for a tensor of any shape.", {
        id: "task-relu",
        task: true,
      }),
      cell("code", ["function relu(X: tf.Tensor): tf.Tensor {", "  // BEGIN SOLUTION", "  return tf.maximum(X, 0);", "  // END SOLUTION", "}"].join("\n"), {
        id: "relu",
        solution: true,
      }),
      cell(
        "code",
        [
          'await d2l.checkClose("relu of X", 1, () => relu(X), [[1, 0], [3, 0]]);',
          "// BEGIN HIDDEN",
          'await d2l.checkClose("relu of a 3-d tensor keeps its shape", 1, () => relu(tf.tensor3d([[[-1, 2, -3]]])), [[[0, 2, 0]]]);',
          "// END HIDDEN",
        ].join("\n"),
        { id: "check-relu", grade: true, points: 2 },
      ),
      cell("markdown", "## Task 2 (1 point)\n\nPlot `relu` on [-3, 3] with `d2l.plot`, so that the plot is this cell's output.", { id: "task-plot", task: true }),
      cell("code", ["// BEGIN SOLUTION", "const x = tf.linspace(-3, 3, 61);", 'd2l.plot(x, relu(x), { xlabel: "x", ylabel: "relu(x)" })', "// END SOLUTION"].join("\n"), {
        id: "plot",
        solution: true,
      }),
      cell("code", "// Graded from the outputs of the cell above: it must show a plot.", {
        id: "check-plot",
        grade: true,
        points: 1,
        expectOutput: { cell: "plot", mime: "application/vnd.vegalite.v5+json", name: "the cell above shows a plot" },
      }),
    ],
  };
}

/** `d2l-ts assignment new NAME [--dir DIR]`: a folder NAME with the template as assignment.ipynb. */
export function newAssignment(name: string, dir: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new Error(`assignment name ${JSON.stringify(name)}: use letters, digits, "_", "." or "-" (it becomes a folder name), e.g. ch3-softmax`);
  }
  const folder = path.resolve(dir, name);
  const file = path.join(folder, "assignment.ipynb");
  if (fs.existsSync(file)) throw new Error(`${file} exists already; choose another name or remove it`);
  const nb = assignmentTemplate(name);
  validateAssignment(nb, file);
  writeNotebook(file, nb);
  return file;
}
