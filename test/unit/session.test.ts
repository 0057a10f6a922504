import { test, describe } from "node:test";
import assert from "node:assert/strict";
import type { CellDiagnostic } from "../../kernel/compiler";
import { cleanSignature, codePointsToIndex, describeDiagnostics, globMatch, indexToCodePoints } from "../../kernel/session";

describe("code points ↔ string indices", () => {
  test("plain ASCII: code points and indices are the same", () => {
    const s = "const abc = 1;";
    for (let i = 0; i <= s.length; i++) {
      assert.equal(codePointsToIndex(s, i), i);
      assert.equal(indexToCodePoints(s, i), i);
    }
  });

  test("astral characters count as one code point and two UTF-16 units", () => {
    const s = "a😀b🎉c"; // indices: a0 😀1-2 b3 🎉4-5 c6
    assert.equal(s.length, 7);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((cp) => codePointsToIndex(s, cp)),
      [0, 1, 3, 4, 6, 7],
    );
    assert.deepEqual(
      [0, 1, 3, 4, 6, 7].map((i) => indexToCodePoints(s, i)),
      [0, 1, 2, 3, 4, 5],
    );
  });

  test("the two conversions are inverse on a mixed string", () => {
    const s = "x = '😀é中𝒳'; 🎉.y";
    const cps = Array.from(s).length;
    for (let cp = 0; cp <= cps; cp++) assert.equal(indexToCodePoints(s, codePointsToIndex(s, cp)), cp);
    // The cursor after the whole string is at its end.
    assert.equal(codePointsToIndex(s, cps), s.length);
  });

  test("BMP non-ASCII characters (é, 中) are one unit each", () => {
    assert.equal(codePointsToIndex("é中x", 2), 2);
    assert.equal(indexToCodePoints("é中x", 2), 2);
  });

  test("a cursor beyond the end is clamped to the string's length", () => {
    assert.equal(codePointsToIndex("😀", 5), 2);
    assert.equal(codePointsToIndex("", 3), 0);
  });

  test("a Jupyter cursor after an emoji points after both of its units", () => {
    const code = "const 😀x = d2l.";
    const cursor = Array.from(code).length; // Jupyter's cursor_pos at the end
    assert.equal(codePointsToIndex(code, cursor), code.length);
    assert.equal(code.slice(0, codePointsToIndex(code, 8)), "const 😀x");
  });
});

describe("globMatch", () => {
  test("* matches any run of characters, including none and newlines", () => {
    assert.ok(globMatch("import*tf*", "import * as tf from '@tensorflow/tfjs'"));
    assert.ok(globMatch("import*tf*", "importtf"));
    assert.ok(globMatch("import*tf*", "import {\n  x\n} from 'tf'"));
    assert.ok(!globMatch("import*tf*", "const tf = 1; import"));
  });

  test("? matches exactly one character", () => {
    assert.ok(globMatch("a?c", "abc"));
    assert.ok(globMatch("a?c", "a\nc"));
    assert.ok(!globMatch("a?c", "ac"));
    assert.ok(!globMatch("a?c", "abbc"));
  });

  test("the whole input must match (anchored)", () => {
    assert.ok(!globMatch("b", "abc"));
    assert.ok(globMatch("*b*", "abc"));
    assert.ok(!globMatch("abc", "abc\n"));
  });

  test("regex metacharacters are literal", () => {
    const pattern = "f(x).y + [1]{2} ^$ | a\\b";
    assert.ok(globMatch(pattern, pattern));
    assert.ok(!globMatch(pattern, "f(x)Zy + [1]{2} ^$ | a\\b"), ". must not match any character");
    assert.ok(!globMatch(pattern, "fx.y + 1{2} ^$ | a\\b"));
    assert.ok(globMatch("1+1", "1+1"));
    assert.ok(!globMatch("1+1", "11"));
    assert.ok(globMatch("a|b", "a|b"));
    assert.ok(!globMatch("a|b", "a"));
  });

  test("metacharacters mixed with wildcards", () => {
    assert.ok(globMatch("tf.tensor(*)?", "tf.tensor([1, 2]);"));
    assert.ok(!globMatch("tf.tensor(*)?", "tfXtensor([1, 2]);"));
  });

  test("the default pattern * matches everything", () => {
    assert.ok(globMatch("*", ""));
    assert.ok(globMatch("*", "any\nthing"));
  });

  test("many stars before a missing character answer at once (no backtracking blow-up)", () => {
    const text = "x".repeat(20_000);
    const t0 = process.hrtime.bigint();
    assert.equal(globMatch("*".repeat(40) + "#", text), false);
    assert.equal(globMatch("*x*x*x*x*x*x*x*x*x*x*#", text), false);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms < 500, `took ${ms.toFixed(0)} ms`);
    assert.equal(globMatch("*x*x*x*x*x*x*x*x*x*x*", text), true);
  });

  test("stars and ? across astral characters count code points", () => {
    assert.ok(globMatch("a?b", "a😀b"));
    assert.ok(globMatch("*😀", "xx😀"));
    assert.ok(!globMatch("a??b", "a😀b"));
  });
});

function diag(line: number, character: number, messageText: string, extra: Partial<CellDiagnostic> = {}, endCharacter = character + 1): CellDiagnostic {
  return {
    start: { line, character, offset: 0 },
    end: { line, character: endCharacter, offset: 0 },
    messageText,
    category: 1,
    code: 2322,
    ...extra,
  };
}

describe("describeDiagnostics", () => {
  const code = "const a = 1;\nconst b: number = 'x';\nb.foo;";

  test("ename is CompileError and evalue names the first diagnostic's 1-based line and column", () => {
    const d = diag(1, 6, "Type 'string' is not assignable to type 'number'.", { start: { line: 1, character: 6, offset: 19 }, end: { line: 1, character: 7, offset: 20 } });
    const r = describeDiagnostics([d], code);
    assert.equal(r.ename, "CompileError");
    assert.equal(r.evalue, "line 2, column 7: Type 'string' is not assignable to type 'number'.");
  });

  test("the traceback names every diagnostic and shows the line with the span underlined", () => {
    const d1 = diag(1, 18, "Type 'string' is not assignable to type 'number'.", { start: { line: 1, character: 18, offset: 31 }, end: { line: 1, character: 21, offset: 34 } });
    const d2 = diag(2, 2, "Property 'foo' does not exist on type 'number'.", {
      code: 2339,
      start: { line: 2, character: 2, offset: 38 },
      end: { line: 2, character: 5, offset: 41 },
    });
    const r = describeDiagnostics([d1, d2], code);
    assert.equal(r.evalue, "line 2, column 19: Type 'string' is not assignable to type 'number'.");
    assert.equal(r.traceback.length, 6);
    assert.equal(r.traceback[0], "\x1b[31merror\x1b[0m TS2322 at line 2, column 19: Type 'string' is not assignable to type 'number'.");
    assert.equal(r.traceback[1], "  2 | const b: number = 'x';");
    assert.equal(r.traceback[2], `    | ${" ".repeat(18)}\x1b[31m~~~\x1b[0m`);
    assert.equal(r.traceback[3], "\x1b[31merror\x1b[0m TS2339 at line 3, column 3: Property 'foo' does not exist on type 'number'.");
    assert.equal(r.traceback[4], "  3 | b.foo;");
    assert.equal(r.traceback[5], `    |   \x1b[31m~~~\x1b[0m`);
  });

  test("a follow-up message at the same spot is put under the first line, before the excerpt", () => {
    const spot = { start: { line: 0, character: 6, offset: 6 }, end: { line: 0, character: 7, offset: 7 } };
    const r = describeDiagnostics([diag(0, 6, "first", spot), diag(0, 6, "elaboration", spot)], code);
    assert.equal(r.evalue, "line 1, column 7: first");
    assert.equal(r.traceback.length, 4);
    assert.match(r.traceback[0], /TS2322 at line 1, column 7: first$/);
    assert.equal(r.traceback[1], "    elaboration");
    assert.equal(r.traceback[2], "  1 | const a = 1;");
  });

  test("diagnostics in another file name it and show no excerpt of the cell", () => {
    const d = diag(4, 0, "Cannot find name 'q'.", { code: 2304, fileName: "mod.ts" });
    const r = describeDiagnostics([d], code);
    assert.equal(r.traceback.length, 1);
    assert.equal(r.traceback[0], "\x1b[31merror\x1b[0m TS2304 at mod.ts line 5, column 1: Cannot find name 'q'.");
    assert.equal(r.evalue, "line 5, column 1: Cannot find name 'q'.");
  });

  test("a span over several lines is underlined to the end of its first line", () => {
    const d: CellDiagnostic = {
      start: { line: 0, character: 6, offset: 6 },
      end: { line: 1, character: 3, offset: 16 },
      messageText: "multi",
      category: 1,
      code: 1000,
    };
    const r = describeDiagnostics([d], code);
    assert.equal(r.traceback[2], `    | ${" ".repeat(6)}\x1b[31m${"~".repeat("const a = 1;".length - 6)}\x1b[0m`);
  });

  test("no diagnostics gives a generic evalue", () => {
    assert.deepEqual(describeDiagnostics([], code), { ename: "CompileError", evalue: "compile error", traceback: [] });
  });
});

describe("cleanSignature", () => {
  test("an alias's quick info loses the (alias) prefix and its export line", () => {
    assert.equal(cleanSignature("(alias) trainCh3(net: d2l.Net): Promise<void>\nexport trainCh3"), "trainCh3(net: d2l.Net): Promise<void>");
    assert.equal(cleanSignature("(alias) namespace tf\nimport tf"), "namespace tf");
  });
  test("other signatures are unchanged", () => {
    assert.equal(cleanSignature("const x: number"), "const x: number");
    assert.equal(cleanSignature("function f(): void\nexport f"), "function f(): void\nexport f");
  });
});
