import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as vm from "vm";
import { cellFileName, instrument } from "../../kernel/executor";

const R = "__d2l_k.resume(__d2l_k.enter(), ";

type Inserted = Map<number, { col: number; len: number }[]>;

/** Remove the inserted spans (instrumented coordinates) from each line: must give the original back. */
function strip(code: string, inserted: Inserted): string {
  return code
    .split("\n")
    .map((line, i) => {
      const list = [...(inserted.get(i + 1) ?? [])].sort((a, b) => b.col - a.col);
      let s = line;
      for (const ins of list) s = s.slice(0, ins.col) + s.slice(ins.col + ins.len);
      return s;
    })
    .join("\n");
}

/** Map a 0-based column of the instrumented line to the original line (correctly). */
function toOriginal(inserted: Inserted, line: number, col: number): number {
  let shift = 0;
  for (const ins of inserted.get(line) ?? []) if (ins.col + ins.len <= col) shift += ins.len;
  return col - shift;
}

/** Every character of the instrumented code outside inserted text maps back to the same character of the original. */
function assertConsistent(js: string): void {
  const { code, inserted } = instrument(js);
  assert.equal(strip(code, inserted), js, "removing the inserted spans must give the original code");
  const outLines = code.split("\n");
  const inLines = js.split("\n");
  assert.equal(outLines.length, inLines.length, "instrumenting never adds lines");
  for (const [line, list] of inserted) {
    assert.ok(line >= 1 && line <= outLines.length, `line ${line} out of range`);
    // Sorted by column, and not overlapping.
    for (let k = 1; k < list.length; k++) assert.ok(list[k].col >= list[k - 1].col + list[k - 1].len, `overlap on line ${line}`);
  }
  for (let l = 1; l <= outLines.length; l++) {
    const spans = inserted.get(l) ?? [];
    for (let c = 0; c < outLines[l - 1].length; c++) {
      if (spans.some((s) => c >= s.col && c < s.col + s.len)) continue;
      const o = toOriginal(inserted, l, c);
      assert.equal(outLines[l - 1][c], inLines[l - 1][o], `line ${l} col ${c} maps to col ${o}`);
    }
  }
}

describe("instrument", () => {
  test("await X becomes resume(enter(), await X)", () => {
    const { code, inserted } = instrument("const a = await f();");
    assert.equal(code, `const a = ${R}await f());`);
    assert.deepEqual([...inserted.keys()], [1]);
    assert.deepEqual(inserted.get(1), [
      { col: 10, len: R.length },
      { col: 10 + R.length + "await f()".length, len: 1 },
    ]);
  });

  test("code without await is unchanged and has no insertions", () => {
    const js = "const x = 1;\nfunction g() { return x + 1; }\nfor (const v of [1, 2]) console.log(v);";
    const { code, inserted } = instrument(js);
    assert.equal(code, js);
    assert.equal(inserted.size, 0);
  });

  test("'await' in strings, comments, template text, identifiers and properties is left alone", () => {
    const js = ["const s = 'await y';", 'const d = "await z";', "// await in a comment", "/* await block */", "const awaited = obj.await;", "const t = `await ${1 + 1}`;"].join(
      "\n",
    );
    const { code, inserted } = instrument(js);
    assert.equal(code, js);
    assert.equal(inserted.size, 0);
  });

  test("an await inside a template substitution is rewritten, the template text is not", () => {
    const { code } = instrument("const t = `await ${await q}`;");
    assert.equal(code, `const t = \`await \${${R}await q)}\`;`);
  });

  test("for await (... of E) iterates __d2l_k.iter(E); awaits in the body are rewritten too", () => {
    const { code } = instrument("for await (const v of gen()) { await v; }");
    assert.equal(code, `for await (const v of __d2l_k.iter(gen())) { ${R}await v); }`);
  });

  test("a plain for...of is not wrapped", () => {
    const js = "async function f() { for (const v of xs) { g(v); } }";
    assert.equal(instrument(js).code, js);
  });

  test("for await over an awaited expression nests the two rewrites", () => {
    const { code } = instrument("for await (const x of await y) {}");
    assert.equal(code, `for await (const x of __d2l_k.iter(${R}await y))) {}`);
  });

  test("nested awaits are each wrapped, inner inside outer", () => {
    assert.equal(instrument("await await p;").code, `${R}await ${R}await p));`);
    assert.equal(instrument("const f = async () => await g(await h());").code, `const f = async () => ${R}await g(${R}await h())));`);
  });

  test("awaits inside async functions and methods are rewritten", () => {
    const { code } = instrument("class A { async m() { return await this.x; } }");
    assert.equal(code, `class A { async m() { return ${R}await this.x); } }`);
  });

  test("the instrumented code runs, calling enter before and resume after each await", async () => {
    const calls: string[] = [];
    const gen = 0;
    const hook = {
      enter: () => {
        calls.push("enter");
        return gen;
      },
      resume: <T>(since: number, v: T): T => {
        calls.push(`resume ${since} ${String(v)}`);
        return v;
      },
      iter: <T>(s: Iterable<T>) => {
        calls.push("iter");
        return s;
      },
    };
    const { code } = instrument("(async () => { let s = 0; for await (const v of [1, 2]) s += v; return s + (await Promise.resolve(10)); })()");
    const result = await vm.runInNewContext(code, { __d2l_k: hook, Promise });
    assert.equal(result, 13);
    assert.deepEqual(calls, ["iter", "enter", "resume 0 10"]);
  });

  test("the inserted column map is consistent for single-line code", () => {
    for (const js of [
      "const a = await f();",
      "await await p;",
      "for await (const x of await y) {}",
      "const v = (await 1, await 2, await 3, o).x + (await 4);",
      "const f = async () => await g(await h());",
    ]) {
      assertConsistent(js);
    }
  });

  test("the inserted column map is consistent across lines and with astral characters", () => {
    const js = [
      "const e = '😀😀'; const a = await f('😀');",
      "x;",
      "  for await (const [k, v] of pairs(await src())) {",
      "    total += await k + (await v);",
      "  }",
      "const t = `😀 ${await q} 😀 ${await r}`;",
    ].join("\n");
    const { inserted } = instrument(js);
    assert.deepEqual([...inserted.keys()].sort(), [1, 3, 4, 6]);
    assertConsistent(js);
    // Columns are UTF-16 units, as V8 reports them: the emoji before the await counts twice.
    const first = inserted.get(1)![0];
    assert.equal(first.col, js.split("\n")[0].indexOf("await"));
  });

  test("positions after each insertion map back to the original position", () => {
    const js = "const v = (await 1, await 2, await 3, o).x + (await 4);";
    const { code, inserted } = instrument(js);
    for (const needle of [").x", "+ (", ", o)", ";"]) {
      const c = code.indexOf(needle);
      assert.ok(c >= 0);
      assert.equal(toOriginal(inserted, 1, c), js.indexOf(needle), needle);
    }
  });
});

describe("cellFileName", () => {
  test("names a cell '<cell N>'", () => {
    assert.equal(cellFileName(1), "<cell 1>");
    assert.equal(cellFileName(1000001), "<cell 1000001>");
  });

  test("stacks of code run under that name carry '<cell N>:line:column'", () => {
    let stack = "";
    try {
      vm.runInThisContext("\n  null.boom;", { filename: cellFileName(7) });
    } catch (e) {
      stack = (e as Error).stack ?? "";
    }
    assert.match(stack, /<cell 7>:2:8/);
  });
});
