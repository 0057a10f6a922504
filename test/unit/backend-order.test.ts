/**
 * The automatic backend order as a pure decision (lib/backend.ts'
 * decideBackend), with the adapter information injected: no GPU needed.
 * What the decision must do comes from issue 23: tensorflow → webgpu (a
 * hardware adapter only) → native → wasm → cpu, each skip with its reason,
 * webgpu in the order by default (D2L_WEBGPU_AUTO=0 leaves it out), and the
 * cheap check before dawn.node is loaded (webgpuProbeVerdict) with the
 * machine's facts injected.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decideBackend, tensorflowDetail, webgpuDetail, webgpuProbeVerdict, type BackendFindings, type GpuProbeFacts, type WebgpuAdapterFacts } from "../../lib/backend";

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

  test("with webgpuAuto false (D2L_WEBGPU_AUTO=0) even a hardware adapter is left out of the order", () => {
    const d = decideBackend({ tensorflow: NO_TF, webgpu: H100, native: true, wasm: true }, { webgpuAuto: false });
    assert.equal(d.choice, "native");
    assert.deepEqual(d.order, ["tensorflow", "native", "wasm", "cpu"]);
    assert.deepEqual(d.skipped, [{ name: "tensorflow", reason: NO_TF }]);
  });

  test("by default webgpu is in the order; D2L_WEBGPU_AUTO=0 is the opt-out, and a bad value is an error", () => {
    const saved = process.env.D2L_WEBGPU_AUTO;
    try {
      delete process.env.D2L_WEBGPU_AUTO;
      assert.equal(decideBackend({ tensorflow: NO_TF, webgpu: H100 }).choice, "webgpu");
      assert.equal(decideBackend({ tensorflow: NO_TF }).probe, "webgpu", "the adapter is probed after tensorflow");
      process.env.D2L_WEBGPU_AUTO = "1";
      assert.equal(decideBackend({ tensorflow: NO_TF, webgpu: H100 }).choice, "webgpu");
      for (const off of ["0", "off", "false"]) {
        process.env.D2L_WEBGPU_AUTO = off;
        assert.equal(decideBackend({ tensorflow: NO_TF, webgpu: H100 }).probe, "native", off);
      }
      process.env.D2L_WEBGPU_AUTO = "maybe";
      assert.throws(() => decideBackend({ tensorflow: NO_TF }), /D2L_WEBGPU_AUTO must be 1 \(consider webgpu, the default\) or 0 \(leave it out\); got "maybe"/);
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

// The facts webgpuProbeVerdict decides on, as gpuProbeFacts reads them on Linux.
const NVIDIA_ICD = { file: "/usr/share/vulkan/icd.d/nvidia_icd.json", library: "libGLX_nvidia.so.0" };
const RADEON_ICD = { file: "/usr/share/vulkan/icd.d/radeon_icd.x86_64.json", library: "/usr/lib/x86_64-linux-gnu/libvulkan_radeon.so" };
const LVP_ICD = { file: "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", library: "/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" };
const SWIFTSHADER_ICD = { file: "/etc/vulkan/icd.d/vk_swiftshader_icd.json", library: "./libvk_swiftshader.so" };
const SEARCHED = ["/home/u/.config/vulkan/icd.d", "/etc/xdg/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d", "/usr/share/vulkan/icd.d"];
const facts = (icdFiles: GpuProbeFacts["icdFiles"], deviceNodes: string[]): GpuProbeFacts => ({ icdFiles, searched: SEARCHED, deviceNodes });

describe("webgpuProbeVerdict: whether dawn.node is loaded at all, from the machine's facts", () => {
  test("a hardware Vulkan driver and a GPU device node: ask dawn.node (null)", () => {
    assert.equal(webgpuProbeVerdict(facts([NVIDIA_ICD], ["/dev/nvidia0"])), null);
    assert.equal(webgpuProbeVerdict(facts([LVP_ICD, RADEON_ICD], ["/dev/dri/renderD128"])), null, "lavapipe beside a hardware driver: the adapter decides");
    assert.equal(webgpuProbeVerdict(facts([NVIDIA_ICD], ["/dev/dxg"])), null, "WSL's GPU");
  });

  test("no driver file: skipped without loading dawn.node, naming the folders searched", () => {
    const r = webgpuProbeVerdict(facts([], ["/dev/nvidia0"]));
    assert.equal(r, "no GPU adapter (no Vulkan driver: no ICD file in /etc/vulkan/icd.d or /usr/share/vulkan/icd.d, nor in the other loader folders)");
    const named = webgpuProbeVerdict({ icdFiles: [], searched: [], deviceNodes: [] });
    assert.match(named ?? "", /no ICD file in the files VK_ICD_FILENAMES\/VK_DRIVER_FILES name/);
  });

  test("only software drivers (lavapipe, SwiftShader): the fallback adapter's reason, without loading dawn.node", () => {
    for (const icd of [LVP_ICD, SWIFTSHADER_ICD]) {
      const r = webgpuProbeVerdict(facts([icd], ["/dev/dri/renderD128"]));
      assert.match(r ?? "", /^only a software fallback adapter \(Vulkan driver .+\), slower than wasm; D2L_BACKEND=webgpu uses it anyway$/, icd.file);
    }
    assert.match(webgpuProbeVerdict(facts([LVP_ICD], [])) ?? "", /lvp_icd\.x86_64\.json: libvulkan_lvp\.so/);
  });

  test("a hardware driver without a GPU device node (a container without the GPU): skipped, saying so", () => {
    assert.equal(
      webgpuProbeVerdict(facts([NVIDIA_ICD], [])),
      "no GPU adapter (a Vulkan driver, nvidia_icd.json, but no GPU device: no /dev/dri/renderD*, /dev/nvidia0 or /dev/dxg)",
    );
  });

  test("an unreadable ICD file (no library named) counts as a hardware driver: dawn.node decides", () => {
    assert.equal(webgpuProbeVerdict(facts([{ file: "/etc/vulkan/icd.d/broken.json", library: "" }], ["/dev/dri/renderD128"])), null);
  });
});

describe("tensorflowDetail: what backendInfo, numGpus and tryGpu report for tfjs-node(-gpu)", () => {
  test("tfjs-node-gpu on a CUDA device is gpu:0, named by nvidia-smi, counting its GPUs", () => {
    const d = tensorflowDetail("@tensorflow/tfjs-node-gpu", "4.22.0", true, ["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"]);
    assert.equal(d.device, "gpu:0");
    assert.equal(d.gpus, 2);
    assert.equal(d.adapter, "NVIDIA H100 80GB HBM3 (CUDA, @tensorflow/tfjs-node-gpu)");
    assert.equal(tensorflowDetail("@tensorflow/tfjs-node-gpu", "4.22.0", true, []).adapter, "a CUDA GPU (CUDA, @tensorflow/tfjs-node-gpu)");
  });

  test("tfjs-node-gpu that found no CUDA device runs on the CPU and names the libraries to check", () => {
    const d = tensorflowDetail("@tensorflow/tfjs-node-gpu", "4.22.0", false, ["NVIDIA H100 80GB HBM3"]);
    assert.equal(d.device, "cpu");
    assert.equal(d.gpus, 0);
    assert.match(d.adapter, /found no CUDA GPU: are CUDA 11\.2's libcudart\.so\.11\.0 and cuDNN 8\.1's libcudnn\.so\.8 on the library path/);
  });

  test("tfjs-node is the CPU, whatever nvidia-smi says", () => {
    const d = tensorflowDetail("@tensorflow/tfjs-node", "4.22.0", undefined, ["NVIDIA H100 80GB HBM3"]);
    assert.equal(d.device, "cpu");
    assert.equal(d.gpus, 0);
    assert.equal(d.adapter, "TensorFlow C library on the CPU (@tensorflow/tfjs-node)");
  });
});
