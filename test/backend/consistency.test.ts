/**
 * Cross-backend consistency: the same small training runs (a 2-layer MLP and a
 * small CNN, fixed weights and data, 20 SGD steps each, and the book's LeNet
 * on 8 images, 8 steps; see train-child.ts) on cpu, native, wasm (1 and 2
 * threads) and webgpu give the same loss sequences: MLP and CNN within 1e-4,
 * LeNet within 1e-3. Each backend runs in a child process of its own, since a
 * tfjs backend is global to its process.
 *
 * native (d2l's oneDNN backend, lib/native/) is built at npm install where
 * g++, make and libdnnl-dev are installed. With D2L_REQUIRE_NATIVE=1 a native
 * backend that does not load fails the test; without it, the test checks that
 * the failure says what to install.
 *
 * webgpu needs a Vulkan device; on a machine without a GPU, CI provides Mesa's
 * lavapipe:
 *
 *   bash test/backend/setup-lavapipe.sh test-artifacts/lavapipe
 *   (source test-artifacts/lavapipe/env.sh && D2L_REQUIRE_WEBGPU=1 node --test dist/test/backend/)
 *
 * With D2L_REQUIRE_WEBGPU=1 a webgpu that does not load fails the test;
 * without it, the test checks that the failure says what to install.
 */
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";

const CHILD = path.join(__dirname, "train-child.js");
const TOLERANCE = 1e-4;
const LENET_TOLERANCE = 1e-3;
const REQUIRE_WEBGPU = process.env.D2L_REQUIRE_WEBGPU === "1";
const REQUIRE_NATIVE = process.env.D2L_REQUIRE_NATIVE === "1";

interface Info {
  name: string;
  device: string;
  adapter: string;
  fallbackAdapter: boolean;
  threads: number;
  skipped: { name: string; reason: string }[];
}
interface Run {
  info?: Info;
  mlp?: number[];
  cnn?: number[];
  lenet?: number[];
  leaked?: number;
  syncRead?: string;
  error?: string;
  stderr: string;
  seconds: number;
}

function child(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CHILD, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (b: Buffer) => (out += b.toString()));
    p.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), 90_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      const seconds = (Date.now() - started) / 1000;
      const last = out.trim().split("\n").pop() ?? "";
      try {
        resolve({ ...(JSON.parse(last) as Omit<Run, "stderr" | "seconds">), stderr: err, seconds });
      } catch {
        resolve({ error: `train-child ${args.join(" ")} exited ${code} without a result:\n${out}\n${err}`, stderr: err, seconds });
      }
    });
  });
}

function assertClose(actual: number[] | undefined, expected: number[] | undefined, what: string, tolerance = TOLERANCE): void {
  assert.ok(actual && expected, `${what}: no losses`);
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} losses, expected ${expected.length}`);
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - expected[i])));
  assert.ok(
    worst <= tolerance,
    `${what}: differs from cpu by up to ${worst.toExponential(2)} (tolerance ${tolerance})\n  got      ${actual.join(", ")}\n  expected ${expected.join(", ")}`,
  );
}

function assertTrained(r: Run, name: string): void {
  assert.equal(r.error, undefined, `${name}: ${r.error}`);
  assert.equal(r.info?.name, name.split(" ")[0]);
  assert.equal(r.leaked, 0, `${name}: ${r.leaked} tensors leaked`);
}

describe("the same training on every backend", { timeout: 180_000 }, () => {
  const runs: Record<string, Run> = {};
  const base = { ...process.env };
  delete base.D2L_BACKEND;
  delete base.D2L_WASM_THREADS;
  const started = Date.now();

  before(async () => {
    const [cpu, native, wasm1, wasm2, webgpu, auto] = await Promise.all([
      child(["cpu"], base),
      child(["native"], base),
      child(["wasm", "1"], base),
      child(["wasm", "2"], base),
      child(["webgpu"], base),
      child(["auto"], base),
    ]);
    Object.assign(runs, { cpu, native, wasm1, wasm2, webgpu, auto });
  });

  after(() => {
    const times = Object.entries(runs).map(([k, r]) => `${k} ${r.seconds.toFixed(1)} s`);
    console.log(`# children (in parallel): ${times.join(", ")}; all ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it("cpu trains the three models: the losses fall and no tensor leaks", () => {
    const r = runs.cpu;
    assertTrained(r, "cpu");
    assert.ok(r.mlp && r.mlp[19] < r.mlp[0] * 0.7, `MLP loss did not fall: ${r.mlp?.join(", ")}`);
    assert.ok(r.cnn && r.cnn[19] < r.cnn[0] * 0.5, `CNN loss did not fall: ${r.cnn?.join(", ")}`);
    assert.ok(r.lenet && r.lenet.length === 8 && r.lenet[7] < r.lenet[0] - 0.1, `LeNet loss did not fall: ${r.lenet?.join(", ")}`);
  });

  it("native gives cpu's losses: MLP and CNN within 1e-4, LeNet within 1e-3", (t) => {
    const r = runs.native;
    if (r.error !== undefined) {
      if (REQUIRE_NATIVE) assert.fail(`D2L_REQUIRE_NATIVE=1 but native did not load: ${r.error}`);
      // Not built here: the failure must say why and what to do.
      assert.match(r.error, /^backend "native" cannot load: .+\. To use it: .*(build:native|apt-get install)/);
      t.diagnostic(`native not available (${r.error})`);
      return;
    }
    assertTrained(r, "native");
    t.diagnostic(`native adapter: ${r.info?.adapter}`);
    assert.equal(r.info?.device, "cpu");
    assertClose(r.mlp, runs.cpu.mlp, "native MLP");
    assertClose(r.cnn, runs.cpu.cnn, "native CNN");
    assertClose(r.lenet, runs.cpu.lenet, "native LeNet", LENET_TOLERANCE);
  });

  it("wasm with 1 thread gives cpu's losses within 1e-4 (LeNet 1e-3)", () => {
    const r = runs.wasm1;
    assertTrained(r, "wasm");
    assert.equal(r.info?.threads, 1);
    assertClose(r.mlp, runs.cpu.mlp, "wasm MLP");
    assertClose(r.cnn, runs.cpu.cnn, "wasm CNN");
    assertClose(r.lenet, runs.cpu.lenet, "wasm LeNet", LENET_TOLERANCE);
  });

  it("wasm with 2 threads (the threaded build) gives cpu's losses within 1e-4", () => {
    const r = runs.wasm2;
    assertTrained(r, "wasm");
    assert.equal(r.info?.threads, 2, `asked for 2 threads, got ${r.info?.threads} (${r.info?.adapter})`);
    assertClose(r.mlp, runs.cpu.mlp, "threaded wasm MLP");
    assertClose(r.cnn, runs.cpu.cnn, "threaded wasm CNN");
    assertClose(r.lenet, runs.cpu.lenet, "threaded wasm LeNet", LENET_TOLERANCE);
  });

  it("webgpu gives cpu's losses within 1e-4", (t) => {
    const r = runs.webgpu;
    if (r.error !== undefined) {
      if (REQUIRE_WEBGPU) assert.fail(`D2L_REQUIRE_WEBGPU=1 but webgpu did not load: ${r.error}`);
      // No Vulkan device here: the failure must say what is missing and what to do.
      assert.match(r.error, /^backend "webgpu" cannot load: .+\. To use it: .+/);
      t.diagnostic(`webgpu not available (${r.error}); run test/backend/setup-lavapipe.sh to test it`);
      return;
    }
    assertTrained(r, "webgpu");
    t.diagnostic(`webgpu adapter: ${r.info?.adapter}`);
    assertClose(r.mlp, runs.cpu.mlp, "webgpu MLP");
    assertClose(r.cnn, runs.cpu.cnn, "webgpu CNN");
    assertClose(r.lenet, runs.cpu.lenet, "webgpu LeNet", LENET_TOLERANCE);
    // Node has no OffscreenCanvas, which tfjs-backend-webgpu reads through synchronously: d2l says what to do.
    assert.match(r.syncRead ?? "", /cannot read a GPU tensor synchronously in Node .*await t\.data\(\)/);
    assert.equal(runs.cpu.syncRead, "ok");
  });

  it("the automatic choice takes native where it loads (after a software adapter), else says in one line why it skipped it", (t) => {
    const r = runs.auto;
    assert.equal(r.error, undefined, r.error);
    if (runs.webgpu.info && !runs.webgpu.info.fallbackAdapter) {
      t.diagnostic(`a hardware adapter (${runs.webgpu.info.adapter}) comes before native`);
      return;
    }
    if (runs.native.error === undefined) {
      assert.equal(r.info?.name, "native");
      assert.doesNotMatch(r.stderr, /skipped native/);
    } else {
      assert.ok(!REQUIRE_NATIVE, "native is required");
      assert.equal(r.info?.name, "wasm");
      const lines = r.stderr.split("\n").filter((l) => /native/.test(l));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^d2l: skipped native: .+; to use it: .*(build:native|apt-get install)/);
    }
  });

  it("the automatic choice takes webgpu on a hardware adapter, and skips a software one with one line", () => {
    const r = runs.auto;
    assert.equal(r.error, undefined, r.error);
    if (!runs.webgpu.info) {
      // No Vulkan device: skipped with the reason, before dawn.node is loaded where there is no driver file.
      assert.match(r.info?.skipped.find((s) => s.name === "webgpu")?.reason ?? "", /^no GPU adapter/);
      return;
    }
    if (!runs.webgpu.info.fallbackAdapter) {
      assert.equal(r.info?.name, "webgpu", "a hardware adapter is chosen");
      return;
    }
    assert.notEqual(r.info?.name, "webgpu");
    assert.match(r.info?.skipped.find((s) => s.name === "webgpu")?.reason ?? "", /^only a software fallback adapter \(.+\), slower than wasm/);
    assert.equal(r.stderr.split("\n").filter((l) => /^d2l: skipped webgpu/.test(l)).length, 1, r.stderr);
  });
});
