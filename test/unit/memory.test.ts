import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as path from "path";
import { spawnSync } from "child_process";
import {
  DEFAULT_MEMORY_SHARE,
  MIN_MEMORY_LIMIT,
  MemoryLimitError,
  availableMemory,
  formatBytes,
  memoryErrorMessage,
  parseMemorySize,
  resolveMemoryLimit,
} from "../../kernel/memory";
import { InterruptedError } from "../../lib/interrupt";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

describe("parseMemorySize", () => {
  test("K, M, G and T are powers of 1024, with or without B/iB, any case", () => {
    assert.equal(parseMemorySize("6G"), 6 * GiB);
    assert.equal(parseMemorySize("600M"), 600 * MiB);
    assert.equal(parseMemorySize("600MiB"), 600 * MiB);
    assert.equal(parseMemorySize("600mb"), 600 * MiB);
    assert.equal(parseMemorySize(" 1.5g "), 1.5 * GiB);
    assert.equal(parseMemorySize("1T"), 1024 * GiB);
    assert.equal(parseMemorySize("524288K"), 512 * MiB);
    assert.equal(parseMemorySize(String(500 * MiB)), 500 * MiB);
  });

  test("a share of the memory available", () => {
    assert.equal(parseMemorySize("50%", "--memory-limit", 8 * GiB), 4 * GiB);
    assert.equal(parseMemorySize("100%", "--memory-limit", 8 * GiB), 8 * GiB);
    assert.equal(parseMemorySize("12.5 %", "--memory-limit", 8 * GiB), GiB);
  });

  test("bad sizes say what was expected and name the setting", () => {
    for (const bad of ["abc", "12X", "6 G B", "-1G", "", "G"]) {
      assert.throws(
        () => parseMemorySize(bad, "D2L_MEMORY_LIMIT"),
        (e: Error) => {
          assert.ok(e instanceof RangeError);
          assert.match(e.message, /^D2L_MEMORY_LIMIT needs a size such as 6G, 600M or 50%/);
          assert.ok(e.message.includes(JSON.stringify(bad)), e.message);
          return true;
        },
      );
    }
    assert.throws(() => parseMemorySize("0%", "--memory-limit", 8 * GiB), /above 0% and at most 100%/);
    assert.throws(() => parseMemorySize("150%", "--memory-limit", 8 * GiB), /above 0% and at most 100%/);
  });

  test("a limit below what a kernel needs to start is refused", () => {
    assert.throws(() => parseMemorySize("256M"), /--memory-limit 256M is below 384M: a kernel with tf and d2l loaded already uses about 260M/);
    assert.throws(() => parseMemorySize("1%", "--memory-limit", 8 * GiB), /is below 384M/);
    assert.equal(parseMemorySize("384M"), MIN_MEMORY_LIMIT);
  });
});

describe("availableMemory", () => {
  test("the machine's memory, or a lower cgroup limit", () => {
    assert.equal(availableMemory(16 * GiB, 0), 16 * GiB);
    assert.equal(availableMemory(16 * GiB, 2 * GiB), 2 * GiB);
    // An unlimited cgroup is reported as a huge number.
    assert.equal(availableMemory(16 * GiB, 2 ** 64), 16 * GiB);
  });
});

describe("resolveMemoryLimit", () => {
  test("the option wins over the environment, which wins over the default", () => {
    const env = { D2L_MEMORY_LIMIT: "2G" };
    assert.deepEqual(resolveMemoryLimit("6G", env, 16 * GiB, 0), { bytes: 6 * GiB, source: "--memory-limit 6G" });
    assert.deepEqual(resolveMemoryLimit(undefined, env, 16 * GiB, 0), { bytes: 2 * GiB, source: "D2L_MEMORY_LIMIT=2G" });
    assert.deepEqual(resolveMemoryLimit(undefined, { D2L_MEMORY_LIMIT: " " }, 16 * GiB, 0), resolveMemoryLimit(undefined, {}, 16 * GiB, 0));
  });

  test("the default is 3/4 of the machine's memory, or of the container's", () => {
    assert.equal(DEFAULT_MEMORY_SHARE, 0.75);
    const machine = resolveMemoryLimit(undefined, {}, 16 * GiB, 0);
    assert.equal(machine.bytes, 12 * GiB);
    assert.equal(machine.source, "the default, 3/4 of this machine's 16.0 GiB");
    const container = resolveMemoryLimit(undefined, {}, 16 * GiB, 2 * GiB);
    assert.equal(container.bytes, 1.5 * GiB);
    assert.equal(container.source, "the default, 3/4 of the memory this container may use 2.0 GiB");
    // Without arguments: this machine's.
    const here = resolveMemoryLimit(undefined, {});
    assert.ok(here.bytes > 0 && here.bytes <= availableMemory(), `${here.bytes}`);
  });

  test("a bad value names where it came from", () => {
    assert.throws(() => resolveMemoryLimit("lots", {}), /^RangeError: --memory-limit needs a size/);
    assert.throws(() => resolveMemoryLimit(undefined, { D2L_MEMORY_LIMIT: "lots" }), /^RangeError: D2L_MEMORY_LIMIT needs a size/);
  });
});

describe("the memory error", () => {
  const limit = { bytes: 600 * MiB, source: "--memory-limit 600M" };

  test("says what was used, the limit and its source, the tensors, and what to do", () => {
    const text = memoryErrorMessage({ rss: 640 * MiB, reason: "rss" }, limit, 4 * GiB, { numTensors: 1234, numBytes: 300 * MiB });
    assert.match(text, /^The kernel used 640 MiB of memory, over its limit of 600 MiB \(set by --memory-limit 600M\), so the cell was stopped\.$/m);
    assert.match(text, /^Tensors alive: 1234 holding 300 MiB \(tf\.memory\(\)\)\.$/m);
    for (const advice of ["tf.dispose(x)", "tf.tidy(", "smaller batch", "--memory-limit 8G", "D2L_MEMORY_LIMIT=8G", "the next cell runs"]) {
      assert.ok(text.includes(advice), advice);
    }
    assert.ok(!text.includes("max-old-space-size"));
  });

  test("near V8's heap limit it names V8's limit, and says how to raise it", () => {
    const text = memoryErrorMessage({ rss: 700 * MiB, reason: "heap", heapUsed: 470 * MiB }, limit, 560 * MiB, null);
    assert.match(text, /JavaScript heap reached 470 MiB of V8's heap limit of 560 MiB \(node's --max-old-space-size/);
    assert.match(text, /The kernel used 700 MiB in all; its own limit is 600 MiB \(set by --memory-limit 600M\)/);
    assert.match(text, /Tensors alive: none \(tfjs is not loaded\)/);
    assert.match(text, /d2l-ts install/);
  });

  test("is an interrupt named MemoryError", () => {
    const e = new MemoryLimitError("x");
    assert.ok(e instanceof InterruptedError);
    assert.equal(e.name, "MemoryError");
  });

  test("formatBytes", () => {
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(3 * 1024), "3 KiB");
    assert.equal(formatBytes(600 * MiB), "600 MiB");
    assert.equal(formatBytes(600 * MiB + 1000), "601 MiB");
    assert.equal(formatBytes(4.25 * GiB), "4.3 GiB");
  });
});

describe("watchMemory", () => {
  const memory = path.join(__dirname, "..", "..", "kernel", "memory.js");
  /** A script that watches with `limitExpr` and then allocates without bound in a synchronous loop. */
  const runaway = (limitExpr: string): string => `
      const { watchMemory } = require(${JSON.stringify(memory)});
      const shared = new Int32Array(new SharedArrayBuffer(16)); // the session's layout (channels.ts)
      const limit = { bytes: ${limitExpr}, source: "the test" };
      watchMemory({ limit, shared: shared.buffer, onOver: (generation, error) => {
        Atomics.store(shared, 1, generation); // acknowledge, as the session does
        console.log(JSON.stringify({ generation, shared: Atomics.load(shared, 0), terminations: Atomics.load(shared, 3), name: error.name, message: error.message, kept: keep.length }));
        process.exit(0);
      } });
      const keep = [];
      setTimeout(() => queueMicrotask(() => { for (let i = 0; ; i++) keep.push(new Array(100000).fill(i)); }), 50);
      setTimeout(() => { console.log("not stopped"); process.exit(3); }, 60000).unref();
    `;

  // In a process of its own: a synchronous loop that allocates without bound is
  // stopped (terminateExecution), and onOver gets the error and the interrupt's generation.
  test("stops a runaway synchronous loop over the limit and reports it", () => {
    const r = spawnSync(process.execPath, ["-e", runaway("process.memoryUsage.rss() + 200 * 2 ** 20")], { encoding: "utf8", timeout: 90_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(r.stdout.trim()) as { generation: number; shared: number; terminations: number; name: string; message: string; kept: number };
    assert.equal(out.generation, 1);
    assert.equal(out.shared, 1);
    // the loop was terminated, and counted as the protocol thread's terminates are (the session's request watchdog reads it)
    assert.ok(out.terminations >= 1, `${out.terminations}`);
    assert.equal(out.name, "MemoryError");
    assert.match(out.message, /over its limit of \d+ MiB \(set by the test\)/);
    // 200 MiB of 800 KB arrays: stopped after about 250 of them, well before the heap's end.
    assert.ok(out.kept > 100 && out.kept < 2000, `${out.kept}`);
  });

  test("a process over the limit at start is told so in the log, and its cells may add a little", () => {
    const r = spawnSync(process.execPath, ["-e", runaway("2 ** 20")], { encoding: "utf8", timeout: 90_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /\[d2l-ts kernel\] the kernel uses \d+ MiB at start, over its memory limit of 1 MiB: cells are stopped past \d+ MiB/);
    const out = JSON.parse(r.stdout.trim()) as { name: string; kept: number };
    assert.equal(out.name, "MemoryError");
    // 64 MiB of room: some arrays, not hundreds.
    assert.ok(out.kept > 10 && out.kept < 300, `${out.kept}`);
  });
});
