/**
 * The notebooks are written for the reader (issue 15): nothing on the page
 * exists only for the tests, one numbering (the Chinese edition's, which the
 * course notes follow) for files and section references, and a table of
 * contents (notebooks/README.md) that lists exactly the notebooks there are.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const NOTEBOOKS = path.join(ROOT, "notebooks");
const README = path.join(NOTEBOOKS, "README.md");

interface Cell {
  cell_type: string;
  source: string | string[];
  metadata?: { tags?: string[]; d2l?: { quick?: Record<string, unknown> } };
  outputs?: unknown[];
}

function notebookPaths(): string[] {
  const out: string[] = [];
  for (const dir of fs.readdirSync(NOTEBOOKS).sort()) {
    const full = path.join(NOTEBOOKS, dir);
    if (!fs.statSync(full).isDirectory()) continue;
    for (const f of fs.readdirSync(full).sort()) if (f.endsWith(".ipynb")) out.push(`${dir}/${f}`);
  }
  return out;
}

function cellsOf(rel: string): Cell[] {
  return (JSON.parse(fs.readFileSync(path.join(NOTEBOOKS, rel), "utf8")) as { cells: Cell[] }).cells;
}

function text(c: Cell): string {
  return Array.isArray(c.source) ? c.source.join("") : c.source;
}

/** The table of contents: one row per section, `| 4.7 | title | [name](folder/file.ipynb): ... |` or `| 10.1 | title | — |`. */
function tableOfContents(): { section: string; file: string | undefined }[] {
  const rows: { section: string; file: string | undefined }[] = [];
  for (const line of fs.readFileSync(README, "utf8").split("\n")) {
    const m = /^\|\s*(\d+\.\d+)\s*\|[^|]+\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    const link = /\]\(([^)]+\.ipynb)\)/.exec(m[2]);
    rows.push({ section: m[1], file: link?.[1] });
  }
  return rows;
}

/**
 * Section references in prose and comments: "section 4.8", "sections 3.1 and 3.4",
 * "§2.3", "ch. 5.4", "chapter 9.2", "sections 10.1-10.2". Returns the numbers named.
 */
export function sectionReferences(s: string): string[] {
  const found: string[] = [];
  const head = /(?:\b[Ss]ections?|§|\b[Cc]h\.|\b[Cc]hapters?)\s*(\d+\.\d+)((?:\s*(?:,|and|or|to|–|-)\s*\d+\.\d+)*)/g;
  for (const m of s.matchAll(head)) {
    found.push(m[1]);
    for (const more of m[2].matchAll(/\d+\.\d+/g)) found.push(more[0]);
  }
  return found;
}

/** The names a parameters cell declares (const or let, simple names and destructuring). */
function declaredNames(source: string): Set<string> {
  const sf = ts.createSourceFile("cell.ts", source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const names = new Set<string>();
  const bind = (n: ts.BindingName): void => {
    if (ts.isIdentifier(n)) names.add(n.text);
    else for (const e of n.elements) if (!ts.isOmittedExpression(e)) bind(e.name);
  };
  for (const st of sf.statements) if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) bind(d.name);
  return names;
}

describe("notebooks", () => {
  const paths = notebookPaths();

  test("there are notebooks, committed without outputs", () => {
    assert.ok(paths.length >= 50, `only ${paths.length} notebooks found`);
    for (const rel of paths) {
      const withOutputs = cellsOf(rel).filter((c) => c.cell_type === "code" && (c.outputs ?? []).length > 0).length;
      assert.equal(withOutputs, 0, `${rel}: ${withOutputs} code cells have outputs; commit notebooks without them`);
    }
  });

  test("no test scaffolding on the page: no isQuick, no D2L_QUICK, no RESULT line", () => {
    const bad: string[] = [];
    for (const rel of paths) {
      cellsOf(rel).forEach((c, i) => {
        const s = text(c);
        if (/isQuick|D2L_QUICK/.test(s)) bad.push(`${rel} cell ${i}: mentions quick mode (${/isQuick|D2L_QUICK/.exec(s)?.[0]})`);
        if (c.cell_type === "code" && /\bRESULT\b/.test(s)) bad.push(`${rel} cell ${i}: prints a RESULT line`);
      });
    }
    assert.deepEqual(bad, []);
  });

  test("a parameters cell's quick values name what it declares, and only parameters cells have them", () => {
    let withQuick = 0;
    for (const rel of paths) {
      cellsOf(rel).forEach((c, i) => {
        const quick = c.metadata?.d2l?.quick;
        const isParams = (c.metadata?.tags ?? []).includes("parameters");
        if (quick === undefined) return;
        withQuick++;
        assert.ok(isParams && c.cell_type === "code", `${rel} cell ${i}: metadata.d2l.quick on a cell not tagged "parameters"`);
        assert.ok(quick !== null && typeof quick === "object" && !Array.isArray(quick), `${rel} cell ${i}: metadata.d2l.quick must map names to values`);
        const declared = declaredNames(text(c));
        for (const name of Object.keys(quick)) {
          assert.ok(declared.has(name), `${rel} cell ${i}: quick value for ${name}, which the cell does not declare (it declares ${[...declared].join(", ")})`);
        }
      });
    }
    assert.ok(withQuick > 0, "no parameters cell with quick values: the harness' injection is untested");
  });

  test("the table of contents lists every notebook once, and every notebook it lists exists", () => {
    const listed = tableOfContents().flatMap((r) => (r.file ? [r.file] : []));
    assert.deepEqual([...listed].sort(), [...new Set(listed)].sort(), "a notebook is listed twice");
    assert.deepEqual(
      listed.filter((f) => !paths.includes(f)),
      [],
      "listed notebooks that do not exist",
    );
    assert.deepEqual(
      paths.filter((f) => !listed.includes(f)),
      [],
      "notebooks missing from notebooks/README.md",
    );
  });

  test("files follow the Chinese edition's numbering: chapter_NN_*/MM_*.ipynb is section N.M", () => {
    for (const { section, file } of tableOfContents()) {
      if (!file) continue;
      const m = /^chapter_(\d+)_[a-z0-9_]+\/(\d+)_[a-z0-9_]+\.ipynb$/.exec(file);
      assert.ok(m, `${file}: expected chapter_NN_name/MM_name.ipynb`);
      assert.equal(`${Number(m[1])}.${Number(m[2])}`, section, `${file} is listed as section ${section}`);
    }
    const sections = tableOfContents().map((r) => r.section);
    assert.equal(new Set(sections).size, sections.length, "a section is listed twice");
  });

  test("sectionReferences finds the forms the notebooks use", () => {
    assert.deepEqual(sectionReferences("(section 4.8) and sections 3.1 and 3.4; §2.3, ch. 5.4, chapter 9.2, sections 10.1–10.2"), [
      "4.8",
      "3.1",
      "3.4",
      "2.3",
      "5.4",
      "9.2",
      "10.1",
      "10.2",
    ]);
    assert.deepEqual(sectionReferences("a learning rate of 0.03 in chapter 3"), []);
  });

  test("every section reference names a section of the table of contents", () => {
    const known = new Set(tableOfContents().map((r) => r.section));
    const bad: string[] = [];
    for (const rel of paths) {
      cellsOf(rel).forEach((c, i) => {
        for (const ref of sectionReferences(text(c))) if (!known.has(ref)) bad.push(`${rel} cell ${i}: section ${ref}`);
      });
    }
    assert.deepEqual(bad, [], "references to sections the Chinese edition does not have (see notebooks/README.md)");
  });

  test("the library's name table and the READMEs use the same numbering", () => {
    const known = new Set(tableOfContents().map((r) => r.section));
    for (const doc of ["lib/README.md", "README.md", "bench/README.md"]) {
      const bad = sectionReferences(fs.readFileSync(path.join(ROOT, doc), "utf8")).filter((ref) => !known.has(ref));
      assert.deepEqual(bad, [], `${doc} names sections the Chinese edition does not have`);
    }
  });
});
