/**
 * The notebook model every tool shares (run, export, assignment, grade):
 * nbformat 4, read with validation that names the cell and the field at
 * fault, written as Jupyter writes it, atomically.
 *
 * Validation follows nbformat 4's schema for what the tools read (cell
 * types, sources, outputs and their fields); everything else in a cell or
 * output is kept as it is.
 */
import * as fs from "fs";
import * as path from "path";
import { writeFileAtomic } from "../lib/files";

/** Text in a notebook: one string, or a list of lines that are joined. */
export type MultilineString = string | string[];

/** One output of a code cell, as nbformat stores it. */
export interface NbOutput {
  output_type: "stream" | "display_data" | "execute_result" | "error" | "update_display_data" | "clear_output";
  /** stream: "stdout" or "stderr". */
  name?: string;
  /** stream: the text. */
  text?: MultilineString;
  /** display_data / execute_result: the bundle, by mime type. */
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
  /** error: the exception's name, message and traceback lines. */
  ename?: string;
  evalue?: string;
  traceback?: string[];
  [key: string]: unknown;
}

/** One cell. */
export interface NbCell {
  cell_type: "code" | "markdown" | "raw";
  source: MultilineString;
  metadata: Record<string, unknown>;
  outputs?: NbOutput[];
  execution_count?: number | null;
  id?: string;
  [key: string]: unknown;
}

/** An nbformat 4 notebook. */
export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NbCell[];
}

/**
 * A notebook file that cannot be used: unreadable, not JSON, or not nbformat
 * 4. The message is one line that names the file, the cell (1-based, with
 * its id when it has one) and the field, and says what was expected.
 *
 * @example
 * try { readNotebook("week1.ipynb"); }
 * catch (e) { if (e instanceof NotebookError) console.error(e.message); }
 * // week1.ipynb: cell 3 (id "a1b2"): outputs[0].output_type must be one of stream, display_data, execute_result, error; got "picture"
 */
export class NotebookError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = "NotebookError";
  }
}

const OUTPUT_TYPES = ["stream", "display_data", "execute_result", "error"] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isMultiline(v: unknown): v is MultilineString {
  return typeof v === "string" || (Array.isArray(v) && v.every((x) => typeof x === "string"));
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return typeof v === "object" ? "an object" : typeof v;
}

/**
 * Check that `value` (parsed JSON) is an nbformat 4 notebook and return it
 * typed. Missing `metadata` objects are filled in as `{}`; anything else that
 * is wrong is a {@link NotebookError} naming cell and field.
 *
 * @example
 * const nb = validateNotebook(JSON.parse(text), "week1.ipynb");
 * nb.cells.length;
 */
export function validateNotebook(value: unknown, file: string): Notebook {
  if (!isObject(value)) throw new NotebookError(file, `not a notebook: expected a JSON object with "nbformat": 4 and a "cells" list, got ${describe(value)}`);
  if (value.nbformat !== 4) {
    throw new NotebookError(file, `nbformat is ${describe(value.nbformat)}; the d2l-ts tools read nbformat 4 (open and save it in Jupyter to convert it)`);
  }
  if (!Array.isArray(value.cells)) throw new NotebookError(file, `"cells" must be a list of cells; got ${describe(value.cells)}`);
  if (value.metadata === undefined) value.metadata = {};
  if (!isObject(value.metadata)) throw new NotebookError(file, `"metadata" must be an object; got ${describe(value.metadata)}`);
  if (typeof value.nbformat_minor !== "number") value.nbformat_minor = 4;
  value.cells.forEach((cell: unknown, i: number) => validateCell(cell, i, file));
  return value as unknown as Notebook;
}

function validateCell(cell: unknown, i: number, file: string): void {
  const where = (c: Record<string, unknown>): string => `cell ${i + 1}${typeof c.id === "string" ? ` (id ${JSON.stringify(c.id)})` : ""}`;
  if (!isObject(cell)) throw new NotebookError(file, `cell ${i + 1} must be an object with cell_type and source; got ${describe(cell)}`);
  const at = where(cell);
  if (cell.cell_type !== "code" && cell.cell_type !== "markdown" && cell.cell_type !== "raw") {
    throw new NotebookError(file, `${at}: cell_type must be code, markdown or raw; got ${describe(cell.cell_type)}`);
  }
  if (!isMultiline(cell.source)) throw new NotebookError(file, `${at}: source must be a string or a list of strings; got ${describe(cell.source)}`);
  if (cell.metadata === undefined) cell.metadata = {};
  if (!isObject(cell.metadata)) throw new NotebookError(file, `${at}: metadata must be an object; got ${describe(cell.metadata)}`);
  if (cell.id !== undefined && typeof cell.id !== "string") throw new NotebookError(file, `${at}: id must be a string; got ${describe(cell.id)}`);
  if (cell.cell_type !== "code") return;
  if (cell.outputs === undefined) cell.outputs = [];
  if (!Array.isArray(cell.outputs)) throw new NotebookError(file, `${at}: outputs must be a list; got ${describe(cell.outputs)}`);
  if (cell.execution_count !== undefined && cell.execution_count !== null && typeof cell.execution_count !== "number") {
    throw new NotebookError(file, `${at}: execution_count must be a number or null; got ${describe(cell.execution_count)}`);
  }
  cell.outputs.forEach((o: unknown, j: number) => {
    const f = `${at}: outputs[${j}]`;
    if (!isObject(o)) throw new NotebookError(file, `${f} must be an object with an output_type; got ${describe(o)}`);
    if (!(OUTPUT_TYPES as readonly unknown[]).includes(o.output_type)) {
      throw new NotebookError(file, `${f}.output_type must be one of ${OUTPUT_TYPES.join(", ")}; got ${describe(o.output_type)}`);
    }
    if (o.output_type === "stream") {
      if (typeof o.name !== "string") throw new NotebookError(file, `${f}.name must be "stdout" or "stderr"; got ${describe(o.name)}`);
      if (!isMultiline(o.text)) throw new NotebookError(file, `${f}.text must be a string or a list of strings; got ${describe(o.text)}`);
    } else if (o.output_type === "error") {
      for (const k of ["ename", "evalue"]) if (typeof o[k] !== "string") throw new NotebookError(file, `${f}.${k} must be a string; got ${describe(o[k])}`);
      if (!Array.isArray(o.traceback) || !o.traceback.every((t) => typeof t === "string"))
        throw new NotebookError(file, `${f}.traceback must be a list of strings; got ${describe(o.traceback)}`);
    } else {
      if (!isObject(o.data)) throw new NotebookError(file, `${f}.data must be an object of mime type → value; got ${describe(o.data)}`);
      for (const [mime, v] of Object.entries(o.data)) {
        const isJson = /json$/.test(mime);
        if (!isJson && !isMultiline(v)) throw new NotebookError(file, `${f}.data[${JSON.stringify(mime)}] must be a string or a list of strings; got ${describe(v)}`);
      }
      if (o.metadata !== undefined && !isObject(o.metadata)) throw new NotebookError(file, `${f}.metadata must be an object; got ${describe(o.metadata)}`);
    }
  });
}

/**
 * Read a notebook file and validate it ({@link validateNotebook}). Every
 * failure is a one-line {@link NotebookError}: no such file, not readable,
 * not JSON (with the position), not nbformat 4, or the cell and field at
 * fault.
 *
 * @example
 * const nb = readNotebook("notebooks/chapter_03_linear-networks/3.6_softmax-regression-scratch.ipynb");
 * nb.cells.filter((c) => c.cell_type === "code").length;
 */
export function readNotebook(file: string): Notebook {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "no such file" : err.code === "EISDIR" ? "it is a folder, not a notebook file" : err.code === "EACCES" ? "permission denied" : err.message;
    throw new NotebookError(file, `cannot read the notebook: ${why}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new NotebookError(file, `not a notebook: not valid JSON (${(e as Error).message}); a notebook is the JSON file Jupyter saves`);
  }
  return validateNotebook(value, file);
}

/**
 * Write a notebook as Jupyter does (one-space indent, keys as given, a
 * trailing newline), atomically: a reader, or a run killed half-way, sees
 * the old file or the new one, never a part. The folder is created.
 *
 * @example
 * writeNotebook("out/week1.out.ipynb", nb);
 */
export function writeNotebook(file: string, nb: Notebook): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(file, JSON.stringify(nb, null, 1) + "\n");
}

/**
 * A text field (a cell's source, a stream's text) as one string.
 *
 * @example
 * joinText(["a\n", "b"]); // "a\nb"
 */
export function joinText(t: unknown): string {
  return Array.isArray(t) ? t.join("") : typeof t === "string" ? t : "";
}

/**
 * A cell's source as one string.
 *
 * @example
 * sourceOf({ cell_type: "code", source: ["x = 1\n", "x"], metadata: {} }); // "x = 1\nx"
 */
export function sourceOf(cell: NbCell): string {
  return joinText(cell.source);
}

/**
 * A source string in nbformat's usual list-of-lines form.
 *
 * @example
 * toSourceLines("a\nb"); // ["a\n", "b"]
 */
export function toSourceLines(text: string): string[] {
  const lines = text.split("\n");
  return lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l)).filter((l, i, a) => !(i === a.length - 1 && l === ""));
}
