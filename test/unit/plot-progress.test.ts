import { test, describe, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { ProgressBar } from "../../lib/plot/index";

const BRIDGE = Symbol.for("d2l-ts.output");

interface Call {
  data: Record<string, unknown>;
  displayId: string | undefined;
  update: boolean;
}

function installBridge(): Call[] {
  const calls: Call[] = [];
  (globalThis as Record<symbol, unknown>)[BRIDGE] = {
    display(out: { data: Record<string, unknown> }, displayId: string | undefined, update: boolean) {
      calls.push({ data: out.data, displayId, update });
    },
    clearOutput() {},
  };
  return calls;
}

function removeBridge(): void {
  delete (globalThis as Record<symbol, unknown>)[BRIDGE];
}

/** A clock the test moves by hand. */
function fakeClock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe("ProgressBar text", () => {
  test("label, bar, count, rate with info, ETA", () => {
    const c = fakeClock();
    const bar = new ProgressBar({ total: 100, label: "epoch 1", width: 10, now: c.now });
    assert.equal(bar.text(), "epoch 1 [----------] 0/100, ETA --:--");
    c.advance(2000);
    bar.update(50, "loss 0.5");
    assert.equal(bar.text(), "epoch 1 [#####-----] 50/100, 25.0 examples/s (loss 0.5), ETA 0:02");
    c.advance(98_000);
    bar.update(60);
    assert.equal(bar.text(), "epoch 1 [######----] 60/100, 0.60 examples/s, ETA 1:07");
  });

  test("hours in the ETA; total 0 is full; unit is configurable", () => {
    const c = fakeClock();
    const bar = new ProgressBar({ total: 10_000, unit: "batches", width: 4, now: c.now });
    c.advance(1000);
    bar.update(1);
    assert.equal(bar.text(), "[----] 1/10000, 1.00 batches/s, ETA 2:46:39");
    assert.equal(new ProgressBar({ total: 0, width: 4 }).text(), "[####] 0/0, ETA --:--");
  });

  test("bad options are clear errors", () => {
    assert.throws(() => new ProgressBar({ total: -1 }), /total must be a finite number >= 0/);
    assert.throws(() => new ProgressBar({ total: 10 }).update(Number.NaN), /done must be a number/);
  });
});

describe("ProgressBar in the kernel", () => {
  let calls: Call[];
  beforeEach(() => {
    calls = installBridge();
  });
  afterEach(removeBridge);

  test("redraws at most every 250 ms in one output, always at 100%, then close() replaces it", () => {
    const c = fakeClock();
    const bar = new ProgressBar({ total: 10, label: "train", now: c.now });
    for (let i = 1; i <= 10; i++) {
      bar.update(i);
      c.advance(100);
    }
    // drawn at 0 ms (1), 300 ms (4), 600 ms (7), and at 10/10
    assert.deepEqual(
      calls.map((k) => String(k.data["text/plain"]).match(/ (\d+)\/10/)?.[1]),
      ["1", "4", "7", "10"],
    );
    assert.ok(calls.every((k) => k.displayId === calls[0].displayId));
    assert.equal(calls[0].update, false);
    assert.ok(calls.slice(1).every((k) => k.update));
    assert.ok(calls.every((k) => Object.keys(k.data).join() === "text/plain"));
    bar.close("train: done");
    const last = calls[calls.length - 1];
    assert.deepEqual(last.data, { "text/plain": "train: done" });
    assert.equal(last.displayId, calls[0].displayId);
    bar.update(5);
    bar.close("again");
    assert.equal(calls[calls.length - 1], last, "nothing after close()");
  });

  test("close() without text clears the bar to an empty output", () => {
    const bar = new ProgressBar({ total: 3 });
    bar.update(1);
    bar.close();
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1].data, { "text/plain": "" });
    assert.equal(calls[1].update, true);
  });
});

describe("ProgressBar in plain Node", () => {
  let writes: string[];
  const realWrite = process.stderr.write;
  const realTTY = process.stderr.isTTY;
  beforeEach(() => {
    removeBridge();
    writes = [];
    process.stderr.write = ((chunk: string | Uint8Array): boolean => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
  });
  afterEach(() => {
    process.stderr.write = realWrite;
    process.stderr.isTTY = realTTY;
  });

  test("writes nothing when stderr is not a terminal", () => {
    process.stderr.isTTY = false;
    const bar = new ProgressBar({ total: 2 });
    bar.update(1);
    bar.update(2);
    bar.close("done");
    assert.deepEqual(writes, []);
  });

  test("on a terminal, redraws one line with \\r and ends with the final text", () => {
    process.stderr.isTTY = true;
    const bar = new ProgressBar({ total: 2, label: "dl" });
    bar.update(2);
    bar.close("downloaded");
    assert.equal(writes.length, 3);
    assert.match(writes[0], /^\r\x1b\[Kdl \[#{30}\] 2\/2, /);
    assert.equal(writes[1], "\r\x1b[K");
    assert.equal(writes[2], "downloaded\n");
  });
});
