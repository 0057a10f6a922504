import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import { InterruptedError, interruptGuard } from "../../lib/interrupt";

const KERNEL = Symbol.for("d2l-ts.kernel");
const g = globalThis as Record<symbol, unknown>;

/** Install a kernel hook the way kernel/executor.ts does: `{ generation() }` on a global symbol. */
function fakeKernel(): { interrupt(): void; calls: () => number } {
  let gen = 0;
  let calls = 0;
  g[KERNEL] = {
    generation: (): number => {
      calls++;
      return gen;
    },
  };
  return { interrupt: () => void gen++, calls: () => calls };
}

afterEach(() => {
  delete g[KERNEL];
});

describe("interruptGuard", () => {
  test("without a kernel, check() never throws and interrupted stays false", () => {
    assert.equal(g[KERNEL], undefined);
    const guard = interruptGuard();
    for (let i = 0; i < 3; i++) guard.check();
    assert.equal(guard.interrupted, false);
  });

  test("with a kernel and no interrupt, check() does not throw", () => {
    const k = fakeKernel();
    const guard = interruptGuard();
    guard.check();
    guard.check();
    assert.equal(guard.interrupted, false);
    assert.ok(k.calls() >= 3, "the guard reads the kernel's generation");
  });

  test("check() throws InterruptedError once the kernel reports a new generation", () => {
    const k = fakeKernel();
    const guard = interruptGuard();
    guard.check();
    k.interrupt();
    assert.equal(guard.interrupted, true);
    assert.throws(
      () => guard.check(),
      (e: unknown) => {
        assert.ok(e instanceof InterruptedError);
        assert.ok(e instanceof Error);
        assert.equal((e as Error).name, "Interrupted");
        assert.match((e as Error).message, /Interrupted by the user/);
        return true;
      },
    );
    // It keeps throwing: the interrupt is not consumed by the first check.
    assert.throws(() => guard.check(), InterruptedError);
  });

  test("a guard made after the interrupt does not see it", () => {
    const k = fakeKernel();
    const old = interruptGuard();
    k.interrupt();
    const fresh = interruptGuard();
    assert.throws(() => old.check(), InterruptedError);
    assert.doesNotThrow(() => fresh.check());
    assert.equal(fresh.interrupted, false);
    k.interrupt();
    assert.throws(() => fresh.check(), InterruptedError);
  });

  test("a loop that checks between steps stops after the current step", () => {
    const k = fakeKernel();
    const guard = interruptGuard();
    const done: number[] = [];
    assert.throws(() => {
      for (let step = 0; step < 10; step++) {
        guard.check();
        done.push(step);
        if (step === 3) k.interrupt();
      }
    }, InterruptedError);
    assert.deepEqual(done, [0, 1, 2, 3]);
  });

  test("a guard made without a kernel ignores a kernel installed later", () => {
    const guard = interruptGuard();
    const k = fakeKernel();
    k.interrupt();
    assert.doesNotThrow(() => guard.check());
    assert.equal(guard.interrupted, false);
  });

  test("InterruptedError takes a custom message", () => {
    const e = new InterruptedError("stop");
    assert.equal(e.message, "stop");
    assert.equal(e.name, "Interrupted");
  });
});
