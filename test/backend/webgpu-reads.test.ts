/**
 * Reading tensors on webgpu under Node (issue 23), on whatever adapter
 * dawn.node finds: in CI Mesa's lavapipe (run-all.sh sources its env and sets
 * D2L_REQUIRE_WEBGPU=1).
 *
 * - The kernel's display of a cell's tensor result (kernel/display.ts'
 *   toDisplayAsync) gives on webgpu the text cpu gives, for tensors that live
 *   on the GPU (more than tfjs-backend-webgpu's 1000-element CPU hand-off).
 * - A user's own synchronous read of a GPU tensor (dataSync, arraySync,
 *   bufferSync, print, toString) fails with the one message that names the
 *   await form, and tfjs' misleading "performance ... is poor" warning is not printed.
 * - By default ready() considers webgpu and, for a software fallback adapter
 *   (lavapipe's Vulkan driver), skips it with the reason (lib/backend.ts'
 *   decideBackend and webgpuProbeVerdict).
 *
 * Each backend runs in a child process (this file, with D2L_READS_CHILD set).
 */
import { describe, it, before } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as tf from "@tensorflow/tfjs";
import { backendInfo, ready, useBackend, WEBGPU_SYNC_READ } from "../../lib/backend";
import { toDisplayAsync } from "../../kernel/display";

const REQUIRE_WEBGPU = process.env.D2L_REQUIRE_WEBGPU === "1";

interface Result {
  info?: { name: string; device: string; adapter: string; fallbackAdapter: boolean; vendor: string; architecture: string; skipped: { name: string; reason: string }[] };
  texts?: string[];
  syncReads?: Record<string, string>;
  error?: string;
  stderr: string;
}

/** The child: load the backend, show GPU-sized tensors, try each synchronous read. */
async function childMain(mode: string): Promise<void> {
  try {
    if (mode === "auto") await ready();
    else await useBackend(mode);
    const info = backendInfo();
    if (mode === "auto") {
      console.log(JSON.stringify({ info }));
      return;
    }
    const a = tf.tidy(() => tf.range(0, 1600).reshape([40, 40]).mul(0.25).sub(7)); // float32 on the GPU
    const i = tf.tidy(() => tf.range(0, 1200, 1, "int32").mul(tf.scalar(3, "int32"))); // int32
    const b = tf.tidy(() => a.greater(tf.scalar(100))); // bool
    const texts = [];
    for (const t of [a, i, b]) texts.push((await toDisplayAsync(t)).data["text/plain"] as string);
    const syncReads: Record<string, string> = {};
    // Fresh results: an asynchronous read (the display above) leaves a copy on the CPU, which reads synchronously.
    const tries: Record<string, () => unknown> = {
      dataSync: () => a.add(1).dataSync(),
      arraySync: () => i.add(tf.scalar(1, "int32")).arraySync(),
      bufferSync: () => b.logicalNot().bufferSync(),
      print: () => a.neg().print(),
      toString: () => String(i.neg()),
    };
    for (const [name, read] of Object.entries(tries)) {
      try {
        read();
        syncReads[name] = "read";
      } catch (e) {
        syncReads[name] = (e as Error).message;
      }
    }
    console.log(JSON.stringify({ info, texts, syncReads }));
  } catch (e) {
    console.log(JSON.stringify({ error: (e as Error).message }));
    process.exitCode = 2;
  }
}

function child(mode: string, env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [__filename], { env: { ...env, D2L_READS_CHILD: mode }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (x: Buffer) => (out += x.toString()));
    p.stderr.on("data", (x: Buffer) => (err += x.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      try {
        resolve({ ...(JSON.parse(out.trim().split("\n").pop() ?? "") as Omit<Result, "stderr">), stderr: err });
      } catch {
        resolve({ error: `child ${mode} exited ${code} without a result:\n${out}\n${err}`, stderr: err });
      }
    });
  });
}

if (process.env.D2L_READS_CHILD) {
  void childMain(process.env.D2L_READS_CHILD);
} else {
  describe("reading tensors on webgpu", { timeout: 120_000 }, () => {
    const base = { ...process.env };
    delete base.D2L_BACKEND;
    delete base.D2L_WEBGPU_AUTO;
    let cpu: Result;
    let webgpu: Result;
    let auto: Result;

    before(async () => {
      [cpu, webgpu, auto] = await Promise.all([child("cpu", base), child("webgpu", base), child("auto", base)]);
    });

    /** True when webgpu ran; false (with the failure checked) when it could not load and is not required. */
    function webgpuRan(t: { diagnostic(m: string): void }): boolean {
      if (webgpu.error && !REQUIRE_WEBGPU) {
        assert.match(webgpu.error, /^backend "webgpu" cannot load: .+\. To use it: .+/);
        t.diagnostic(`webgpu not available (${webgpu.error}); run test/backend/setup-lavapipe.sh to test it`);
        return false;
      }
      assert.equal(webgpu.error, undefined, `D2L_REQUIRE_WEBGPU=1 but: ${webgpu.error}`);
      assert.equal(webgpu.info?.name, "webgpu");
      return true;
    }

    it("a cell's tensor result shows on webgpu as it shows on cpu", (t) => {
      assert.equal(cpu.error, undefined, cpu.error);
      assert.equal(cpu.texts?.length, 3);
      assert.match(cpu.texts?.[0] ?? "", /^Tensor\n  dtype: float32\n  rank: 2\n  shape: \[40,40\]/);
      if (!webgpuRan(t)) return;
      assert.deepEqual(webgpu.texts, cpu.texts);
      t.diagnostic(`adapter: ${webgpu.info?.adapter}; vendor ${JSON.stringify(webgpu.info?.vendor)}, architecture ${JSON.stringify(webgpu.info?.architecture)}`);
    });

    it("a synchronous read of a GPU tensor is one error that names the await form", (t) => {
      for (const r of Object.values(cpu.syncReads ?? {})) assert.equal(r, "read", "cpu reads synchronously");
      if (!webgpuRan(t)) return;
      assert.deepEqual(Object.keys(webgpu.syncReads ?? {}), ["dataSync", "arraySync", "bufferSync", "print", "toString"]);
      for (const [name, message] of Object.entries(webgpu.syncReads ?? {})) assert.equal(message, WEBGPU_SYNC_READ, name);
      assert.match(WEBGPU_SYNC_READ, /use await t\.data\(\) or await t\.array\(\)/);
      assert.doesNotMatch(webgpu.stderr, /performance of synchronously reading/, "tfjs' slow-read warning is not printed: the read fails");
    });

    it("backendInfo names the adapter's vendor on webgpu, and nothing on cpu", (t) => {
      assert.equal(cpu.info?.vendor, "");
      assert.equal(cpu.info?.architecture, "");
      if (!webgpuRan(t)) return;
      assert.ok(webgpu.info?.vendor, "the adapter's vendor");
      assert.equal(typeof webgpu.info?.architecture, "string");
    });

    it("the automatic order considers webgpu, and a fallback adapter is skipped with the reason", (t) => {
      assert.equal(auto.error, undefined, auto.error);
      if (!webgpuRan(t)) return;
      if (!webgpu.info?.fallbackAdapter) {
        assert.equal(auto.info?.name, "webgpu", "a hardware adapter is chosen");
        return;
      }
      assert.notEqual(auto.info?.name, "webgpu");
      const skip = auto.info?.skipped.find((s) => s.name === "webgpu");
      assert.match(skip?.reason ?? "", /^only a software fallback adapter \(.+\), slower than wasm; D2L_BACKEND=webgpu uses it anyway$/);
      assert.match(auto.stderr, /d2l: skipped webgpu: only a software fallback adapter/);
    });
  });
}
