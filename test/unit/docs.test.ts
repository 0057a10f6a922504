/**
 * The standard for lib/: every public function and class of `d2l` has a TSDoc
 * comment with an `@example`. Read from the sources with the TypeScript
 * compiler, through lib/index.ts, so only what users see is checked.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "path";
import * as ts from "typescript";

test("every public function and class of d2l has a doc comment with an @example", () => {
  const index = path.resolve(__dirname, "../../../lib/index.ts");
  const program = ts.createProgram([index], { strict: true, noEmit: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(index);
  assert.ok(source, `cannot read ${index}`);
  const mod = checker.getSymbolAtLocation(source);
  assert.ok(mod);
  const undocumented: string[] = [];
  let checked = 0;
  // Namespaces (`export * as lr from ...`: d2l.lr.StepLR) are walked too.
  const walk = (m: ts.Symbol, prefix: string): void => {
    for (const exported of checker.getExportsOfModule(m)) {
      const s = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (s.flags & ts.SymbolFlags.ValueModule) {
        walk(s, `${prefix}${exported.name}.`);
        continue;
      }
      if (!(s.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class))) continue;
      checked++;
      const doc = ts.displayPartsToString(s.getDocumentationComment(checker)).trim();
      const example = s.getJsDocTags(checker).some((t) => t.name === "example");
      if (!doc || !example) undocumented.push(`${prefix}${exported.name}${doc ? "" : " (no doc)"}${example ? "" : " (no @example)"}`);
    }
  };
  walk(mod, "");
  assert.ok(checked > 40, `only ${checked} public functions and classes found`);
  assert.deepEqual(undocumented, []);
});
