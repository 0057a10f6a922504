// No synchronous tensor read in the library or the kernel (issue 23): under Node the webgpu backend cannot read a
// GPU tensor synchronously, so lib/ and kernel/ read with `await t.data()` / `await t.array()`. This scans their
// TypeScript sources (not dist/) with comments and string contents blanked out, and fails listing file:line for
// every `dataSync(`, `arraySync(`, `bufferSync(` and `.print(` that is not on a line marked `// sync-read-ok: <why>`
// (native-only code, or a read guarded by d2l.readsSync). The scanner itself is tested first on small sources.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";

const SYNC_READ = /\b(?:dataSync|arraySync|bufferSync)\s*\(|\.print\s*\(/;
const MARK = /\/\/\s*sync-read-ok:\s*\S/;

/** The repository root: the first folder above this file with both package.json and lib/. */
function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "lib"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no repository root (package.json and lib/) above ${__dirname}`);
    dir = up;
  }
}

/**
 * The source with comments and the contents of strings, template texts and regular expressions replaced by
 * spaces (newlines kept, so line numbers stay); the code inside `${...}` of a template is kept.
 */
export function codeOnly(src: string): string {
  const out = src.split("");
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  // one entry per open `${` expression of a template literal: the depth of the braces opened inside it
  const exprs: number[] = [];
  let lastSignificant = "";
  let i = 0;
  const n = src.length;
  const regexCanStart = (): boolean =>
    lastSignificant === "" || /[(,=:[!&|?{};+\-*%<>~^]$/.test(lastSignificant) || /\b(?:return|typeof|case|in|of|void|yield|await)$/.test(lastSignificant);
  // blank template text from `start` (just after ` or }) to its closing ` or its next ${; returns where code resumes
  const templateText = (start: number): number => {
    let k = start;
    while (k < n) {
      if (src[k] === "\\") k += 2;
      else if (src[k] === "`") {
        blank(start, k);
        return k + 1;
      } else if (src[k] === "$" && src[k + 1] === "{") {
        blank(start, k);
        exprs.push(0);
        return k + 2;
      } else k++;
    }
    blank(start, n);
    return n;
  };
  while (i < n) {
    const ch = src[i];
    const next = src[i + 1];
    if (ch === "/" && next === "/") {
      const end = src.indexOf("\n", i);
      const stop = end < 0 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (ch === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      blank(i, stop);
      i = stop;
    } else if (ch === '"' || ch === "'") {
      let k = i + 1;
      while (k < n && src[k] !== ch && src[k] !== "\n") k += src[k] === "\\" ? 2 : 1;
      blank(i + 1, Math.min(k, n));
      i = k + 1;
      lastSignificant = "x";
    } else if (ch === "`") {
      i = templateText(i + 1);
      lastSignificant = "x";
    } else if (ch === "/" && regexCanStart()) {
      let k = i + 1;
      let inClass = false;
      while (k < n && src[k] !== "\n" && (inClass || src[k] !== "/")) {
        if (src[k] === "\\") k++;
        else if (src[k] === "[") inClass = true;
        else if (src[k] === "]") inClass = false;
        k++;
      }
      blank(i + 1, Math.min(k, n));
      i = k + 1;
      lastSignificant = "x";
    } else {
      const top = exprs.length - 1;
      if (top >= 0 && ch === "{") exprs[top]++;
      if (top >= 0 && ch === "}") {
        if (exprs[top] === 0) {
          exprs.pop();
          i = templateText(i + 1);
          lastSignificant = "x";
          continue;
        }
        exprs[top]--;
      }
      if (!/\s/.test(ch)) lastSignificant = /[A-Za-z0-9_$]/.test(ch) ? (/[A-Za-z0-9_$]$/.test(lastSignificant) ? lastSignificant + ch : ch) : ch;
      i++;
    }
  }
  return out.join("");
}

/** `line: text` of every unmarked synchronous read in `src`. */
export function syncReads(src: string): { line: number; text: string }[] {
  const raw = src.split("\n");
  const code = codeOnly(src).split("\n");
  const found: { line: number; text: string }[] = [];
  code.forEach((c, k) => {
    if (SYNC_READ.test(c) && !MARK.test(raw[k])) found.push({ line: k + 1, text: raw[k].trim() });
  });
  return found;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.isFile() && e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

describe("the scanner", () => {
  test("finds code reads, not those in comments, strings or regular expressions, and honours the mark", () => {
    const src = [
      "const a = t.dataSync();", // 1: found
      "// t.dataSync() in a line comment", // 2
      "/** @example t.print(); */", // 3
      "const s = \"t.arraySync() in a string\" + 'x.print()';", // 4
      "const r = /x\\.dataSync\\(/.test(s);", // 5
      "const b = t.bufferSync(); // sync-read-ok: guarded by readsSync", // 6: marked
      "const m = `${t.arraySync()} and t.print() in the text`;", // 7: found (code inside ${})
      "/* a block", // 8
      "   t.dataSync() */ const c = x.print();", // 9: found after the block ends
      "const d = n / 2; const e = t.dataSync(); // sync-read-ok:", // 10: found, the mark gives no reason
      "const f = `a ${`nested ${u.dataSync()}`} b`; const g = 1;", // 11: found
    ].join("\n");
    assert.deepEqual(
      syncReads(src).map((f) => f.line),
      [1, 7, 9, 10, 11],
    );
    assert.equal(codeOnly("x = 'a\\'b'; y.dataSync()").includes("y.dataSync()"), true, "an escaped quote ends no string");
    assert.equal(codeOnly(src).split("\n").length, src.split("\n").length, "line numbers are kept");
  });
});

describe("lib/ and kernel/", () => {
  test("read tensors only with await (or on a line marked // sync-read-ok: <why>)", () => {
    const root = repoRoot();
    const files = [...tsFiles(path.join(root, "lib")), ...tsFiles(path.join(root, "kernel"))];
    assert.ok(files.length > 50, `expected the sources of lib/ and kernel/, found ${files.length} .ts files under ${root}`);
    const bad: string[] = [];
    for (const f of files) {
      for (const r of syncReads(fs.readFileSync(f, "utf8"))) bad.push(`${path.relative(root, f)}:${r.line}: ${r.text}`);
    }
    assert.deepEqual(
      bad,
      [],
      `synchronous tensor reads fail on webgpu: read with await t.data() / t.array(), or guard with d2l.readsSync(t) and mark the line // sync-read-ok: <why>\n${bad.join("\n")}`,
    );
  });
});
