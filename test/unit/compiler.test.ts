import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Conversion, codeCompleteness, completionType, createCellConverter } from "../../kernel/compiler";

describe("codeCompleteness", () => {
  test("complete statements are complete", () => {
    for (const code of ["const a = 1", "const a = 1;\nconst b = a + 2;", "for (;;) {}", "function f() {\n  return 1;\n}", "let x: number = 1"]) {
      assert.deepEqual(codeCompleteness(code), { status: "complete" }, JSON.stringify(code));
    }
  });

  test("an open template literal is incomplete (a multi-line string being typed)", () => {
    assert.deepEqual(codeCompleteness("const s = `abc"), { status: "incomplete", indent: "" });
    assert.equal(codeCompleteness("const s = `abc\ndef`").status, "complete");
  });

  test("an open block is incomplete, with the next line's indent", () => {
    assert.deepEqual(codeCompleteness("if (x) {"), { status: "incomplete", indent: "  " });
    assert.deepEqual(codeCompleteness("function f() {\n  if (a) {"), { status: "incomplete", indent: "    " });
  });

  test("open brackets and parentheses are incomplete", () => {
    for (const code of ["const a = {", "x = [1, 2,", "let x = (1 + "]) {
      const r = codeCompleteness(code);
      assert.equal(r.status, "incomplete", JSON.stringify(code));
      assert.equal(typeof r.indent, "string");
    }
  });

  test("an unterminated block comment is incomplete", () => {
    assert.equal(codeCompleteness("/* comment").status, "incomplete");
  });

  test("syntax errors that more lines cannot fix are invalid", () => {
    for (const code of ["const = ;", "a b c", "}", "const a = 1;\n)"]) {
      assert.deepEqual(codeCompleteness(code), { status: "invalid" }, JSON.stringify(code));
    }
  });

  test("type errors are not syntax errors: still complete", () => {
    assert.deepEqual(codeCompleteness("const x: number = 'a'"), { status: "complete" });
  });

  test("an empty cell is complete", () => {
    assert.deepEqual(codeCompleteness(""), { status: "complete" });
  });
});

describe("completionType: TypeScript's completion kinds as JupyterLab's item types", () => {
  test("functions, classes, variables, properties, keywords and modules", () => {
    const cases: [string, string][] = [
      ["function", "function"],
      ["method", "function"],
      ["local function", "function"],
      ["constructor", "function"],
      ["class", "class"],
      ["interface", "class"],
      ["type", "class"],
      ["enum", "class"],
      ["const", "variable"],
      ["let", "variable"],
      ["var", "variable"],
      ["parameter", "variable"],
      ["local var", "variable"],
      ["property", "property"],
      ["getter", "property"],
      ["setter", "property"],
      ["keyword", "keyword"],
      ["module", "module"],
      ["external module name", "module"],
      ["alias", "module"],
    ];
    for (const [kind, type] of cases) assert.equal(completionType(kind), type, kind);
  });
  test("other kinds pass through; an empty kind is text", () => {
    assert.equal(completionType("string"), "string");
    assert.equal(completionType(""), "text");
  });
});

describe("the speculative checker (a program prepared while idle, taken over by the next cell)", () => {
  const cells = [
    "1 + 1",
    "let x: number = 1;\nx",
    "x = 'str'",
    "interface P { a: number }\nconst p: P = { a: 1 };\np",
    "const q: P = { b: 2 }",
    "function f(a: string): number {\n  return a.length;\n}\nf(3)",
    "class C {\n  constructor(public v: number) {}\n}\nnew C(1).v",
    "new C('x')",
    "const r = await Promise.resolve(5);\nr",
    "1 +",
    "p.a + x",
    'import * as path from "path";\npath.sep',
  ];
  const key = (c: Conversion): string =>
    JSON.stringify({ o: c.output, d: c.declOutput, g: c.diagnostics, l: c.lastExpressionVar, h: c.hasToplevelAwait, s: c.sideOutputs, m: c.mapPosition?.(2, 0) });

  test("gives the same code, declarations, diagnostics and source map as the ordinary compile, cell after cell", () => {
    const conv = createCellConverter();
    let prev = "";
    const before = conv.speculationStats;
    let errors = 0;
    for (const src of cells) {
      process.env.D2L_SPECULATIVE_CHECKER = "0";
      const ordinary = conv.convert(prev, src);
      assert.equal(conv.prepare(prev), true, "turned off, prepare does nothing");
      delete process.env.D2L_SPECULATIVE_CHECKER;
      // A cell run again returns its last conversion: another cell in between makes this one compile.
      assert.equal(conv.convert(prev, src), ordinary, "the same cell again: the same conversion");
      conv.convert(prev, "0");
      while (!conv.prepare(prev));
      const speculative = conv.convert(prev, src);
      assert.equal(key(speculative), key(ordinary), JSON.stringify(src));
      if (ordinary.diagnostics.length > 0) errors++;
      else prev = ordinary.declOutput ?? prev;
    }
    assert.ok(errors >= 4, `the cells include type and syntax errors (${errors})`);
    assert.match(prev, /interface P/);
    const after = conv.speculationStats;
    // Every cell but the one that imports took over a prepared program (cells that declare names, twice).
    assert.ok(after.adopted - before.adopted >= cells.length - 1, JSON.stringify({ before, after }));
    assert.ok(after.missed > before.missed, "the cell with an import compiled the ordinary way");
    conv.close();
  });

  test("quick info and completion work on a cell compiled through a prepared program", () => {
    const conv = createCellConverter();
    const first = conv.convert("", "const width: number = 3;\nwidth");
    assert.deepEqual(first.diagnostics, []);
    const prev = first.declOutput ?? "";
    while (!conv.prepare(prev));
    const before = conv.speculationStats.adopted;
    assert.deepEqual(conv.convert(prev, "width * 2").diagnostics, []);
    assert.equal(conv.speculationStats.adopted, before + 1);
    const info = conv.inspect(prev, "width * 2", 1);
    assert.match((info?.displayParts ?? []).map((p) => p.text).join(""), /width: number/);
    assert.ok(conv.complete(prev, "wid", 3).candidates.includes("width"));
    conv.close();
  });
});
