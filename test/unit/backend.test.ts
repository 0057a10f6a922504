/**
 * Backend selection (lib/backend.ts). A tfjs backend is global to its
 * process, so every case that loads one runs in a child process of its own;
 * the checks that load nothing run here.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { numGpus, tryAllGpus, tryGpu, useBackend } from "../../lib/backend";

const BACKEND_JS = path.resolve(__dirname, "../../lib/backend.js");
const KNOWN_LIST = /expected one of tensorflow, webgpu, native, wasm, cpu/;

interface ChildInfo {
  name: string;
  device: string;
  adapter: string;
  fallbackAdapter: boolean;
  threads: number;
  tfjsVersion: string;
  versions: Record<string, string>;
  skipped: { name: string; reason: string }[];
}
interface ChildResult {
  chosen?: string;
  info?: ChildInfo;
  numGpus?: number;
  tryGpu?: string;
  tryGpu1?: string;
  tryAllGpus?: string[];
  extra?: unknown;
  error?: string;
  stderr: string;
}

/**
 * Run `body` (a function's source, given `b` = lib/backend and `tf`) in a child
 * after `await b.ready()`, with `env` on top of a copy of this process's
 * environment (an `undefined` value removes the variable).
 */
function child(env: Record<string, string | undefined>, body = "return null;"): Promise<ChildResult> {
  const script = `
    const b = require(${JSON.stringify(BACKEND_JS)});
    const tf = require("@tensorflow/tfjs");
    (async () => {
      const chosen = await b.ready();
      await b.ready(); // a second call says nothing more
      const extra = await (async () => { ${body} })();
      const out = { chosen, info: b.backendInfo(), numGpus: b.numGpus(), tryGpu: b.tryGpu(), tryGpu1: b.tryGpu(1), tryAllGpus: b.tryAllGpus(), extra };
      process.stdout.write(JSON.stringify(out) + "\\n");
    })().then(() => process.exit(0), (e) => { process.stdout.write(JSON.stringify({ error: e.message }) + "\\n"); process.exit(2); });
  `;
  const full: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["D2L_BACKEND", "D2L_WASM_THREADS"]) delete full[k];
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete full[k];
    else full[k] = v;
  }
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["-e", script], { env: full, cwd: path.resolve(__dirname, "../../.."), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      try {
        resolve({ ...(JSON.parse(out.trim().split("\n").pop() ?? "") as object), stderr: err });
      } catch {
        resolve({ error: `child exited ${code} without a result: ${out} ${err}`, stderr: err });
      }
    });
  });
}

/** Environment with no Vulkan driver at all: the loader is pointed at a file that does not exist. */
const NO_VULKAN = { VK_ICD_FILENAMES: path.join(os.tmpdir(), "d2l-ts-no-such-icd.json"), VK_DRIVER_FILES: undefined, VK_ADD_DRIVER_FILES: undefined };

function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

describe("backend selection", { concurrency: true }, () => {
  test("D2L_BACKEND=cpu is used as it is, and nothing else is tried", async () => {
    const r = await child({ D2L_BACKEND: "cpu" });
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.chosen, "cpu");
    assert.equal(r.info?.name, "cpu");
    assert.equal(r.info?.device, "cpu");
    assert.equal(r.info?.threads, 1);
    assert.equal(r.info?.tfjsVersion, tf.version.tfjs);
    assert.deepEqual(r.info?.skipped, []);
    assert.doesNotMatch(r.stderr, /d2l: skipped/);
    assert.doesNotMatch(r.stderr, /Hi, looks like you are running TensorFlow\.js in Node/, "tfjs's banner is not repeated");
    assert.equal(r.numGpus, 0);
    assert.equal(r.tryGpu, "cpu");
    assert.deepEqual(r.tryAllGpus, ["cpu"]);
  });

  test("an unknown D2L_BACKEND is an error that lists the known backends", async () => {
    const r = await child({ D2L_BACKEND: "cuda" });
    assert.match(r.error ?? "", /unknown backend "cuda" in D2L_BACKEND/);
    assert.match(r.error ?? "", KNOWN_LIST);
  });

  test("asking for tensorflow when it is not installed names what to install", async () => {
    const r = await child({ D2L_BACKEND: "tensorflow" });
    if (installed("@tensorflow/tfjs-node") || installed("@tensorflow/tfjs-node-gpu")) {
      assert.equal(r.chosen, "tensorflow", r.error);
      return;
    }
    assert.match(r.error ?? "", /^backend "tensorflow" cannot load: neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed\./);
    assert.match(r.error ?? "", /To use it: npm install @tensorflow\/tfjs-node@/);
  });

  test("asking for webgpu without a Vulkan device is an error that says what is missing", async () => {
    const r = await child({ D2L_BACKEND: "webgpu", ...NO_VULKAN });
    if (process.platform !== "linux") {
      // Metal or D3D12 are not switched off by the Vulkan variables: webgpu may load there.
      assert.ok(r.chosen === "webgpu" || /To use it: /.test(r.error ?? ""), r.error);
      return;
    }
    assert.match(r.error ?? "", /^backend "webgpu" cannot load: no GPU adapter \(dawn\.node found no Vulkan device\)\. To use it: install the GPU's Vulkan driver/);
  });

  test("the automatic choice skips what cannot load, each with one line, once: webgpu without a Vulkan driver is skipped before dawn.node loads", async () => {
    // native's addon is pointed at a file that does not exist (whether it is built here or not).
    const r = await child({ ...NO_VULKAN, D2L_NATIVE_ADDON: path.join(os.tmpdir(), "d2l-ts-no-such-addon.node") });
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.chosen, "wasm");
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("d2l: skipped "));
    const names = lines.map((l) =>
      l
        .split(":")[1]
        .trim()
        .replace(/^skipped /, ""),
    );
    const expected = [...(installed("@tensorflow/tfjs-node") || installed("@tensorflow/tfjs-node-gpu") ? [] : ["tensorflow"]), "webgpu", "native"];
    assert.deepEqual(names, expected, r.stderr);
    assert.match(lines[lines.length - 1], /^d2l: skipped native: the native addon is not built .*; to use it: .*npm run build:native$/);
    assert.match(r.stderr, /^d2l: skipped webgpu: no GPU adapter \(no Vulkan driver: no ICD file in the files VK_ICD_FILENAMES\/VK_DRIVER_FILES name\)$/m);
    assert.doesNotMatch(r.stderr, /Vulkan loader|dawn/i, "dawn.node is not loaded without a driver");
    assert.deepEqual(
      r.info?.skipped.map((s) => s.name),
      expected,
    );
    assert.equal(r.info?.device, "cpu");
    assert.equal(r.numGpus, 0);
    assert.equal(r.tryGpu, "cpu");
  });

  test("D2L_WASM_THREADS sets the wasm backend's threads", async () => {
    const [two, one] = await Promise.all([child({ D2L_BACKEND: "wasm", D2L_WASM_THREADS: "2" }), child({ D2L_BACKEND: "wasm", D2L_WASM_THREADS: "1" })]);
    assert.equal(two.error, undefined, two.error);
    assert.equal(two.info?.threads, 2, two.info?.adapter);
    assert.match(two.info?.adapter ?? "", /^WebAssembly SIMD, 2 threads$/);
    assert.equal(one.info?.threads, 1);
    assert.equal(one.info?.versions["@tensorflow/tfjs-backend-wasm"], tf.version.tfjs);
  });

  test("a bad D2L_WASM_THREADS says what it expects", async () => {
    const r = await child({ D2L_BACKEND: "wasm", D2L_WASM_THREADS: "many" });
    assert.match(r.error ?? "", /D2L_WASM_THREADS must be a positive integer; got "many"/);
  });

  test("on wasm, kernels it lacks run, and conv2d's filter gradient matches a direct sum", async () => {
    const body = `
      const cases = ${JSON.stringify(CONV_CASES)};
      const grads = cases.map((c) => tf.tidy(() => {
        const x = tf.tensor(c.xv, c.x), k = tf.tensor(c.kv, c.k), dy = tf.tensor(c.dyv, c.dy);
        return Array.from(tf.grad((k) => tf.conv2d(x, k, c.s, c.pad).mul(dy).sum())(k).dataSync());
      }));
      const before = tf.memory().numTensors;
      const gather = tf.tidy(() => {
        const E = tf.ones([8, 2]);
        return Array.from(tf.grad((E) => tf.gather(E, tf.tensor1d([1, 3, 3, 7], "int32")).sum())(E).dataSync());
      });
      return { grads, gather, leaked: tf.memory().numTensors - before };
    `;
    const [wasm, cpu] = await Promise.all([child({ D2L_BACKEND: "wasm", D2L_WASM_THREADS: "1" }, body), child({ D2L_BACKEND: "cpu" }, body)]);
    for (const r of [wasm, cpu]) {
      assert.equal(r.error, undefined, r.error);
      const extra = r.extra as { grads: number[][]; gather: number[]; leaked: number };
      CONV_CASES.forEach((c, i) => {
        const want = directFilterGradient(c);
        const got = extra.grads[i];
        assert.equal(got.length, want.length);
        const worst = Math.max(...got.map((v, j) => Math.abs(v - want[j]) / (1 + Math.abs(want[j]))));
        assert.ok(worst < 1e-5, `${r.info?.name}, case ${i} (${JSON.stringify(c.pad)}, strides ${JSON.stringify(c.s)}): off by ${worst}`);
      });
      assert.deepEqual(extra.gather, [0, 0, 1, 1, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1]);
      assert.equal(extra.leaked, 0);
    }
  });
});

describe("the checks that load nothing", () => {
  test("useBackend with an unknown name lists the known backends", async () => {
    await assert.rejects(useBackend("gpu"), (e: Error) => /unknown backend "gpu"/.test(e.message) && KNOWN_LIST.test(e.message));
  });

  test("useBackend's threads option is checked before anything loads", async () => {
    await assert.rejects(useBackend("cpu", { threads: 2 }), /the threads option is for the wasm backend, not "cpu"/);
    await assert.rejects(useBackend("wasm", { threads: 0 }), /takes a positive integer; got 0/);
    assert.equal(tf.getBackend(), undefined, "no backend started");
  });

  test("tryGpu takes a GPU index; with no backend chosen there is no GPU", () => {
    assert.throws(() => tryGpu(-1), /GPU index/);
    assert.throws(() => tryGpu(0.5), /GPU index/);
    assert.equal(numGpus(), 0);
    assert.equal(tryGpu(), "cpu");
    assert.deepEqual(tryAllGpus(), ["cpu"]);
  });
});

// ------------------------------------------------------------ conv2d cases

interface ConvCase {
  x: [number, number, number, number];
  k: [number, number, number, number];
  dy: [number, number, number, number];
  s: number | [number, number];
  pad: "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];
  xv: number[];
  kv: number[];
  dyv: number[];
}

function values(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.round(1000 * Math.sin(1.3 * i + seed)) / 1000);
}

function convCase(x: ConvCase["x"], k: ConvCase["k"], s: ConvCase["s"], pad: ConvCase["pad"], seed: number): ConvCase {
  const info = tf.backend_util.computeConv2DInfo(x, k, s, 1, pad);
  const dy: ConvCase["dy"] = [x[0], info.outHeight, info.outWidth, k[3]];
  const size = (a: number[]) => a.reduce((p, q) => p * q, 1);
  return { x, k, dy, s, pad, xv: values(size(x), seed), kv: values(size(k), seed + 1), dyv: values(size(dy), seed + 2) };
}

const CONV_CASES: ConvCase[] = [
  convCase([2, 7, 7, 3], [3, 3, 3, 4], 1, "same", 1),
  convCase([2, 7, 7, 3], [3, 3, 3, 4], 2, "same", 2),
  convCase([1, 8, 6, 2], [2, 3, 2, 5], [2, 1], "valid", 3),
  convCase(
    [1, 5, 5, 2],
    [3, 3, 2, 2],
    1,
    [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
    4,
  ),
];

/** dW[i][j][a][o] = Σ over batch and output positions of x at the tap times dy, straight from the definition. */
function directFilterGradient(c: ConvCase): number[] {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.k, c.s, 1, c.pad);
  const [B, H, W, Ci] = c.x;
  const [Kh, Kw, , Co] = c.k;
  const [, Ho, Wo] = c.dy;
  const out = new Array<number>(Kh * Kw * Ci * Co).fill(0);
  for (let i = 0; i < Kh; i++)
    for (let j = 0; j < Kw; j++)
      for (let a = 0; a < Ci; a++)
        for (let o = 0; o < Co; o++) {
          let sum = 0;
          for (let b = 0; b < B; b++)
            for (let r = 0; r < Ho; r++)
              for (let q = 0; q < Wo; q++) {
                const xr = r * info.strideHeight + i - info.padInfo.top;
                const xc = q * info.strideWidth + j - info.padInfo.left;
                if (xr < 0 || xr >= H || xc < 0 || xc >= W) continue;
                sum += c.xv[((b * H + xr) * W + xc) * Ci + a] * c.dyv[((b * Ho + r) * Wo + q) * Co + o];
              }
          out[((i * Kw + j) * Ci + a) * Co + o] = sum;
        }
  return out;
}

// Keep the fixture honest: the files the child needs exist.
assert.ok(fs.existsSync(BACKEND_JS), `${BACKEND_JS} is missing: build first (npx tsc -p .)`);
