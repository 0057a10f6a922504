// Tests of lib/report: the run's environment and the training summary, recorded in an output's metadata in the kernel.
import { test, describe, afterEach, mock } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { environment, describeEnvironment, recordEnvironment, showSummary, packageRoot, REPORT_METADATA_KEY, type ReportRecord } from "../../lib/report";
import { spawnSync } from "child_process";
import { PrintSummary } from "../../lib/train/callbacks";
import type { TrainState } from "../../lib/train/engine";

const BRIDGE = Symbol.for("d2l-ts.output");
const ROOT = path.resolve(__dirname, "../../..");

interface Call {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

function installBridge(): Call[] {
  const calls: Call[] = [];
  (globalThis as Record<symbol, unknown>)[BRIDGE] = {
    display(out: Call) {
      calls.push(out);
    },
    clearOutput() {},
  };
  return calls;
}

test("packageRoot is d2l-ts' own folder: a child process that requires it gets the same library", () => {
  const root = packageRoot();
  assert.equal(root, path.resolve(__dirname, "../../.."));
  assert.equal(JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).name, "d2l-ts");
  const r = spawnSync(process.execPath, ["-e", `const d2l = require(${JSON.stringify(root)}); console.log(typeof d2l.seed, d2l.packageRoot())`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `function ${root}`);
});

describe("environment", () => {
  test("names d2l-ts' and tfjs' versions, the backend, Node and an ISO date", async () => {
    await tf.setBackend("cpu");
    const env = environment();
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    assert.equal(env.d2lTs, pkg.version);
    assert.equal(env.tfjs, tf.version.tfjs);
    assert.equal(env.backend, "cpu");
    assert.equal(env.device, "cpu");
    assert.equal(env.node, process.version);
    assert.ok(env.threads >= 1);
    assert.match(env.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    assert.ok(Math.abs(Date.parse(env.date) - Date.now()) < 60_000, `date ${env.date} is not now`);
    assert.match(describeEnvironment(env), new RegExp(`^d2l-ts ${pkg.version.replace(/\./g, "\\.")}, tfjs ${tf.version.tfjs.replace(/\./g, "\\.")}, backend cpu on cpu, Node v`));
    assert.match(describeEnvironment({ ...env, backend: "wasm", threads: 2 }), /backend wasm \(2 threads\) on cpu/);
  });
});

describe("in the kernel, summaries and the environment travel in output metadata", () => {
  afterEach(() => delete (globalThis as Record<symbol, unknown>)[BRIDGE]);

  test("showSummary: one text output, the lines and the environment in its metadata", async () => {
    await tf.setBackend("cpu");
    const calls = installBridge();
    const lines = ["loss 0.447, train acc 0.848, test acc 0.829", "12345.6 examples/sec on cpu"];
    showSummary(lines);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].data, { "text/plain": lines.join("\n") });
    const rec = calls[0].metadata[REPORT_METADATA_KEY] as ReportRecord;
    assert.deepEqual(rec.summary, lines);
    assert.equal(rec.environment.backend, "cpu");
    assert.equal(rec.environment.tfjs, tf.version.tfjs);
    // metadata is JSON in the notebook: the record must survive it
    assert.deepEqual(JSON.parse(JSON.stringify(rec)), rec);
  });

  test("PrintSummary shows the book's two lines through showSummary; nothing after a failed fit", () => {
    const calls = installBridge();
    const state = { error: undefined, trainLoss: 0.4474, trainAcc: 0.8481, testAcc: 0.8293, totalExamples: 1000, timer: { sum: () => 0.5 } } as unknown as TrainState;
    new PrintSummary().onTrainEnd(state);
    assert.equal(calls.length, 1);
    const rec = calls[0].metadata[REPORT_METADATA_KEY] as ReportRecord;
    assert.equal(rec.summary?.[0], "loss 0.447, train acc 0.848, test acc 0.829");
    assert.match(rec.summary?.[1] ?? "", /^2000\.0 examples\/sec on \w+/);
    new PrintSummary().onTrainEnd({ ...state, error: new Error("x") } as unknown as TrainState);
    assert.equal(calls.length, 1);
  });

  test("recordEnvironment shows one line and records the environment alone", () => {
    const calls = installBridge();
    const env = recordEnvironment();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].data["text/plain"], describeEnvironment(env));
    assert.deepEqual(calls[0].metadata, { [REPORT_METADATA_KEY]: { environment: env } });
  });
});

describe("outside the kernel", () => {
  test("showSummary prints the lines; bad input is a clear error", () => {
    const log = mock.method(console, "log", () => undefined);
    try {
      showSummary(["loss 1.000", "10.0 examples/sec on cpu"]);
      assert.deepEqual(
        log.mock.calls.map((c) => c.arguments),
        [["loss 1.000\n10.0 examples/sec on cpu"]],
      );
    } finally {
      log.mock.restore();
    }
    assert.throws(() => showSummary("loss 1" as unknown as string[]), /expected an array of strings/);
  });
});
