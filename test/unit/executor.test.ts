/**
 * The Executor end to end (tslab's converter, instrumentation, interrupts).
 * Creating the converter takes a few seconds, so one executor serves all tests.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as path from "path";
import { Executor, InterruptedError, hasTopLevelAwait } from "../../kernel/executor";
import { describeDiagnostics } from "../../kernel/session";
import { interruptGuard, InterruptedError as LibInterruptedError } from "../../lib/interrupt";

const g = globalThis as Record<string | symbol, unknown>;
let ex: Executor;
let cell = 0;

before(() => {
  ex = new Executor(path.resolve(__dirname));
});

after(() => {
  ex?.converter.close();
  for (const k of ["__t_release", "__t_after", "__t_fired"]) delete g[k];
});

/** Wait on the real clock (the executor wraps the global timers). */
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe("Executor", () => {
  test("runs a cell and returns its last expression", async () => {
    const r = await ex.execute("const a: number = 20;\na * 2 + 2", ++cell);
    assert.deepEqual(r, { status: "ok", hasValue: true, value: 42 });
    assert.equal(ex.locals.a, 20);
  });

  test("a cell whose only top-level await is a for-await loop runs (async wrapper chosen)", async () => {
    const src = "async function* gen() { yield 1; yield 2; }\nlet forAwaitSum = 0;\nfor await (const v of gen()) forAwaitSum += v;\nforAwaitSum";
    const r = await ex.execute(src, ++cell);
    assert.deepEqual(r, { status: "ok", hasValue: true, value: 3 });
    assert.equal(hasTopLevelAwait("async function f() { await 1; }\nconst g = async () => { for await (const x of []) {} };"), false);
    assert.equal(hasTopLevelAwait("if (x) { for await (const v of y) {} }"), true);
  });

  test("a parenthesized top-level await runs: `f(await (p))` is an await, not a call of `await`", async () => {
    const r = await ex.execute("const parenAwait = [await (async () => 6)()];\nMath.max(await (Promise.resolve(7)), parenAwait[0])", ++cell);
    assert.deepEqual(r, { status: "ok", hasValue: true, value: 7 });
    assert.equal(hasTopLevelAwait("f(await (p));"), true);
    assert.equal(hasTopLevelAwait("const await2 = async () => f(await (p));"), false);
  });

  test("a shorthand property naming an earlier cell's variable works ({ k })", async () => {
    assert.equal((await ex.execute("const shortK = 5;\nlet shortL = 'l';", ++cell)).status, "ok");
    const r = await ex.execute("const o = { shortK, shortL, inner: { shortK } };\n[o.shortK, o.shortL, o.inner.shortK]", ++cell);
    assert.deepEqual(r, { status: "ok", hasValue: true, value: [5, "l", 5] });
    // the same name declared in this cell is left alone
    const r2 = await ex.execute("{ const shortK = 7; const p = { shortK }; p.shortK }", ++cell);
    assert.equal(r2.status, "ok");
  });

  test("a type error is a compile error that describeDiagnostics reports by line and column", async () => {
    const code = "const ok = 1;\nconst n: number = 'x';";
    const r = await ex.execute(code, ++cell);
    assert.equal(r.status, "compile-error");
    if (r.status !== "compile-error") return;
    const d = describeDiagnostics(r.diagnostics, r.code);
    assert.equal(d.ename, "CompileError");
    assert.equal(d.evalue, "line 2, column 7: Type 'string' is not assignable to type 'number'.");
    assert.match(d.traceback[0], /TS2322 at line 2, column 7/);
  });

  test("installs the kernel hook that lib/interrupt reads, sharing the executor's generation", () => {
    const hook = g[Symbol.for("d2l-ts.kernel")] as { generation(): number };
    assert.equal(typeof hook.generation, "function");
    const before = hook.generation();
    assert.equal(before, ex.generation());
    const guard = interruptGuard();
    guard.check();
    ex.interrupt();
    assert.equal(hook.generation(), before + 1);
    assert.throws(() => guard.check(), LibInterruptedError);
    assert.doesNotThrow(() => interruptGuard().check());
  });

  test("an interrupt ends an awaiting cell, and its continuation never runs", async () => {
    const running = ex.execute("await new Promise<void>((r) => { (globalThis as any).__t_release = r; });\n(globalThis as any).__t_after = true;", ++cell);
    for (let i = 0; i < 100 && typeof g.__t_release !== "function"; i++) await sleep(5);
    assert.equal(typeof g.__t_release, "function", "the cell reached its await");
    ex.interrupt();
    const r = await running;
    assert.equal(r.status, "runtime-error");
    assert.ok(r.status === "runtime-error" && r.error instanceof InterruptedError);
    (g.__t_release as () => void)();
    await sleep(20);
    assert.equal(g.__t_after, undefined, "code after the await ran after the interrupt");
  });

  test("a timer a cell started before an interrupt never fires", async () => {
    const r = await ex.execute("setTimeout(() => { (globalThis as any).__t_fired = true; }, 20);", ++cell);
    assert.equal(r.status, "ok");
    ex.interrupt();
    await sleep(60);
    assert.equal(g.__t_fired, undefined);
  });

  test("a runtime error maps to the cell's own line and column", async () => {
    const src = "const o: any = null;\nconst v = o.abc;";
    const n = ++cell;
    const r = await ex.execute(src, n);
    assert.ok(r.status === "runtime-error" && r.error instanceof Error);
    const where = ex.firstCellFrame((r.error as Error).stack ?? "");
    assert.deepEqual(where, { cell: n, line: 2, column: src.split("\n")[1].indexOf("abc") + 1 });
  });

  test("a runtime error after several awaits on the same line maps to the cell's column", async () => {
    const src = "const o: any = null;\nconst v = (await 1, await 2, await 3, o).x + (await 4);";
    const n = ++cell;
    const r = await ex.execute(src, n);
    assert.ok(r.status === "runtime-error" && r.error instanceof Error);
    const where = ex.firstCellFrame((r.error as Error).stack ?? "");
    // V8 points at the property name `x`.
    assert.deepEqual(where, { cell: n, line: 2, column: src.split("\n")[1].indexOf(").x") + 3 });
  });
});
