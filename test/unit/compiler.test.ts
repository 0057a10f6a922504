import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { codeCompleteness, completionType } from "../../kernel/compiler";

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
