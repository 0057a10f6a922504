/**
 * The automatic backend order as a pure decision (lib/backend.ts'
 * decideBackend), with the adapter information injected: no GPU needed.
 * What the decision must do comes from issue 23: tensorflow → webgpu (a
 * hardware adapter only) → native → wasm → cpu, each skip with its reason,
 * and webgpu only with D2L_WEBGPU_AUTO=1 until the notebooks read with await.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decideBackend, webgpuDetail, type BackendFindings, type WebgpuAdapterFacts } from "../../lib/backend";

// Adapter information as dawn.node reports it (GPUAdapterInfo fields), for a real GPU and for software adapters.
const H100: WebgpuAdapterFacts = { vendor: "nvidia", architecture: "hopper", description: "NVIDIA H100 80GB HBM3", isFallbackAdapter: false };
const RADEON: WebgpuAdapterFacts = { vendor: "amd", architecture: "rdna-3", description: "AMD Radeon RX 7900 XTX (RADV NAVI31)", isFallbackAdapter: false };
// lavapipe as dawn.node 0.6.2 reports it on this machine (Mesa 25.0.7): flagged as a fallback adapter.
const LAVAPIPE: WebgpuAdapterFacts = { vendor: "mesa", architecture: "software", description: "llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1", isFallbackAdapter: true };
// A software adapter that does not set the flag is still known by its name.
const SWIFTSHADER_UNFLAGGED: WebgpuAdapterFacts = { vendor: "google", architecture: "", description: "SwiftShader Device (Subzero)", isFallbackAdapter: false };

const NO_TF = "neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed";
const NO_NATIVE = "the native addon is not built; to use it: npm run build:native";
const AUTO = { webgpuAuto: true };

describe("decideBackend: the order with injected findings", () => {
  test("a hardware adapter is chosen after tensorflow is skipped, with tensorflow's reason", () => {
    for (const adapter of [H100, RADEON]) {
      const d = decideBackend({ tensorflow: NO_TF, webgpu: adapter, native: true, wasm: true }, AUTO);
      assert.equal(d.choice, "webgpu", adapter.description);
      assert.deepEqual(d.order, ["tensorflow", "webgpu", "native", "wasm", "cpu"]);
      assert.deepEqual(d.skipped, [{ name: "tensorflow", reason: NO_TF }]);
      assert.equal(d.probe, undefined);
    }
  });

  test("a fallback adapter is skipped with the reason ready() prints, and native runs", () => {
    const d = decideBackend({ tensorflow: NO_TF, webgpu: LAVAPIPE, native: true, wasm: true }, AUTO);
    assert.equal(d.choice, "native");
    assert.deepEqual(d.skipped, [
      { name: "tensorflow", reason: NO_TF },
      { name: "webgpu", reason: `only a software fallback adapter (${LAVAPIPE.description}), slower than wasm; D2L_BACKEND=webgpu uses it anyway` },
    ]);
  });

  test("a software adapter without the fallback flag is known by its name; without native, wasm runs", () => {
    const d = decideBackend({ tensorflow: NO_TF, webgpu: SWIFTSHADER_UNFLAGGED, native: NO_NATIVE, wasm: true }, AUTO);
    assert.equal(d.choice, "wasm");
    assert.deepEqual(
      d.skipped.map((s) => s.name),
      ["tensorflow", "webgpu", "native"],
    );
    assert.match(d.skipped[1].reason, /^only a software fallback adapter \(SwiftShader Device \(Subzero\)\)/);
    assert.equal(d.skipped[2].reason, NO_NATIVE);
  });

  test("no adapter: webgpu is skipped with the probe's reason; nothing but cpu left: cpu", () => {
    const none = "no GPU adapter (dawn.node found no Vulkan device)";
    const d = decideBackend({ tensorflow: NO_TF, webgpu: none, native: NO_NATIVE, wasm: "@tensorflow/tfjs-backend-wasm is not installed" }, AUTO);
    assert.equal(d.choice, "cpu");
    assert.deepEqual(d.skipped[1], { name: "webgpu", reason: none });
    assert.equal(d.skipped.length, 4);
  });

  test("tensorflow present: tensorflow, whatever the adapter, with nothing skipped", () => {
    for (const webgpu of [H100, LAVAPIPE, undefined]) {
      const d = decideBackend({ tensorflow: true, webgpu, native: true, wasm: true }, AUTO);
      assert.equal(d.choice, "tensorflow");
      assert.deepEqual(d.skipped, []);
    }
  });

  test("without D2L_WEBGPU_AUTO even a hardware adapter is left out of the order", () => {
    const d = decideBackend({ tensorflow: NO_TF, webgpu: H100, native: true, wasm: true }, { webgpuAuto: false });
    assert.equal(d.choice, "native");
    assert.deepEqual(d.order, ["tensorflow", "native", "wasm", "cpu"]);
    assert.deepEqual(d.skipped, [{ name: "tensorflow", reason: NO_TF }]);
  });

  test("the default follows D2L_WEBGPU_AUTO=1 in the environment", () => {
    const saved = process.env.D2L_WEBGPU_AUTO;
    try {
      process.env.D2L_WEBGPU_AUTO = "1";
      assert.equal(decideBackend({ tensorflow: NO_TF, webgpu: H100 }).choice, "webgpu");
      process.env.D2L_WEBGPU_AUTO = "0";
      assert.equal(decideBackend({ tensorflow: NO_TF, webgpu: H100 }).probe, "native");
      delete process.env.D2L_WEBGPU_AUTO;
      assert.equal(decideBackend({ tensorflow: NO_TF, webgpu: H100 }).probe, "native");
    } finally {
      if (saved === undefined) delete process.env.D2L_WEBGPU_AUTO;
      else process.env.D2L_WEBGPU_AUTO = saved;
    }
  });

  test("partial findings ask for the next probe in order, one at a time", () => {
    const steps: [BackendFindings, string][] = [
      [{}, "tensorflow"],
      [{ tensorflow: NO_TF }, "webgpu"],
      [{ tensorflow: NO_TF, webgpu: LAVAPIPE }, "native"],
      [{ tensorflow: NO_TF, webgpu: LAVAPIPE, native: NO_NATIVE }, "wasm"],
    ];
    for (const [found, next] of steps) {
      const d = decideBackend(found, AUTO);
      assert.equal(d.probe, next, JSON.stringify(found));
      assert.equal(d.choice, undefined);
    }
    // A hardware adapter settles it: native and wasm are never probed (they would start a backend).
    assert.equal(decideBackend({ tensorflow: NO_TF, webgpu: H100 }, AUTO).choice, "webgpu");
  });
});

describe("webgpuDetail: what backendInfo, numGpus and tryGpu report for an adapter", () => {
  test("a hardware adapter is gpu:0 with its vendor and architecture, and counts its GPUs", () => {
    const d = webgpuDetail(H100, 2, "Vulkan", { webgpu: "0.6.2" });
    assert.equal(d.device, "gpu:0");
    assert.equal(d.adapter, "NVIDIA H100 80GB HBM3 (Vulkan)");
    assert.equal(d.vendor, "nvidia");
    assert.equal(d.architecture, "hopper");
    assert.equal(d.fallbackAdapter, false);
    assert.equal(d.gpus, 2);
    assert.equal(webgpuDetail(H100, 0, "Vulkan", {}).gpus, 1, "the adapter in use is one GPU even when dawn.node's list cannot be read");
  });

  test("a software adapter computes on the CPU and counts no GPU", () => {
    for (const a of [LAVAPIPE, SWIFTSHADER_UNFLAGGED]) {
      const d = webgpuDetail(a, 3, "Vulkan", {});
      assert.equal(d.device, "cpu");
      assert.equal(d.gpus, 0);
      assert.equal(d.fallbackAdapter, true);
      assert.match(d.adapter, /\(Vulkan, software fallback adapter\)$/);
    }
  });
});
