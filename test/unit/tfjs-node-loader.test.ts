/**
 * The tensorflow backend's loader (lib/backend.ts) with stand-in packages:
 * tfjs-node-gpu cannot be installed here (its install downloads
 * libtensorflow), so each test writes a folder with
 * `node_modules/@tensorflow/tfjs-node-gpu/` whose index either registers a
 * backend named "tensorflow" (the cpu backend's kernels under that name, with
 * `isUsingGpuDevice` as tfjs-node's backend has it) or throws the way a
 * missing cuDNN does, and points D2L_TFJS_NODE_DIR at it. Each run is a child
 * process: a tfjs backend registers once per process.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";

const LIB = path.resolve(__dirname, "../../lib/index.js");
const TFJS = tf.version.tfjs;
const made: string[] = [];

interface Run {
  chosen?: string;
  error?: string;
  info?: { name: string; device: string; adapter: string; versions: Record<string, string>; skipped: { name: string; reason: string }[] };
  numGpus?: number;
  tryGpu?: string;
  sum?: number[];
  stderr: string;
}

/**
 * A folder with a stand-in `@tensorflow/tfjs-node-gpu` (or `-node`) of `version`.
 * `body` is what its index does: "register" (a working backend; `usingGpu` is its isUsingGpuDevice) or an error message to throw.
 */
function standIn(pkg: string, body: { register: boolean; usingGpu?: boolean } | { throws: string }, version = TFJS): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-ts-tfjs-node-"));
  made.push(dir);
  const at = path.join(dir, "node_modules", ...pkg.split("/"));
  fs.mkdirSync(at, { recursive: true });
  fs.writeFileSync(path.join(at, "package.json"), JSON.stringify({ name: pkg, version, main: "index.js" }));
  const core = require.resolve("@tensorflow/tfjs-core");
  const cpu = require.resolve("@tensorflow/tfjs-backend-cpu");
  const index =
    "throws" in body
      ? `throw new Error(${JSON.stringify(body.throws)});\n`
      : [
          `const tf = require(${JSON.stringify(core)});`,
          `const { MathBackendCPU } = require(${JSON.stringify(cpu)});`,
          `class StandInBackend extends MathBackendCPU { constructor() { super(); this.isUsingGpuDevice = ${JSON.stringify(body.usingGpu ?? false)}; } }`,
          `tf.registerBackend("tensorflow", () => new StandInBackend(), 3);`,
          `for (const k of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...k, backendName: "tensorflow" });`,
        ].join("\n");
  fs.writeFileSync(path.join(at, "index.js"), index);
  return dir;
}

/** useBackend("tensorflow") (or the automatic choice) in a child process, with D2L_TFJS_NODE_DIR=dir. */
function run(dir: string | undefined, how: "useBackend" | "auto" = "useBackend"): Run {
  const script = `
    const d2l = require(${JSON.stringify(LIB)});
    const tf = require("@tensorflow/tfjs");
    (${how === "auto" ? "d2l.ready()" : 'd2l.useBackend("tensorflow")'}).then(async (chosen) => {
      const sum = Array.from(await tf.add(tf.tensor([1, 2]), tf.tensor([3, 4])).data());
      console.log(JSON.stringify({ chosen, info: d2l.backendInfo(), numGpus: d2l.numGpus(), tryGpu: d2l.tryGpu(), sum }));
    }, (e) => console.log(JSON.stringify({ error: e.message })));`;
  const env: NodeJS.ProcessEnv = { ...process.env, D2L_BACKEND: "", D2L_WEBGPU_AUTO: "0", PATH: "/usr/bin:/bin" };
  if (dir === undefined) delete env.D2L_TFJS_NODE_DIR;
  else env.D2L_TFJS_NODE_DIR = dir;
  const r = spawnSync(process.execPath, ["-e", script], { env, encoding: "utf8", cwd: path.resolve(__dirname, "../..") });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return { ...(JSON.parse(line) as Run), stderr: r.stderr };
  } catch {
    return { error: `no result; stdout ${r.stdout} stderr ${r.stderr}`, stderr: r.stderr };
  }
}

function installedHere(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

describe("the tensorflow loader, with a stand-in tfjs-node-gpu in D2L_TFJS_NODE_DIR", () => {
  test("a tfjs-node-gpu that registers 'tensorflow' on a GPU is chosen: gpu:0, its version reported, and it computes", () => {
    const r = run(standIn("@tensorflow/tfjs-node-gpu", { register: true, usingGpu: true }));
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.chosen, "tensorflow");
    assert.equal(r.info?.name, "tensorflow");
    assert.equal(r.info?.device, "gpu:0");
    assert.match(r.info?.adapter ?? "", /\(CUDA, @tensorflow\/tfjs-node-gpu\)$/);
    assert.equal(r.info?.versions["@tensorflow/tfjs-node-gpu"], TFJS);
    assert.equal(r.numGpus, 1);
    assert.equal(r.tryGpu, "gpu:0");
    assert.deepEqual(r.sum, [4, 6]);
  });

  test("the automatic order picks it first, before webgpu and native", () => {
    const r = run(standIn("@tensorflow/tfjs-node-gpu", { register: true, usingGpu: true }), "auto");
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.chosen, "tensorflow");
    assert.deepEqual(r.info?.skipped, []);
    assert.doesNotMatch(r.stderr, /d2l: skipped/);
  });

  test("a tfjs-node-gpu whose backend found no CUDA device runs on the CPU and says which libraries to check", () => {
    const r = run(standIn("@tensorflow/tfjs-node-gpu", { register: true, usingGpu: false }));
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.info?.device, "cpu");
    assert.equal(r.numGpus, 0);
    assert.equal(r.tryGpu, "cpu");
    assert.match(r.info?.adapter ?? "", /found no CUDA GPU: are CUDA 11\.2's libcudart\.so\.11\.0 and cuDNN 8\.1's libcudnn\.so\.8 on the library path/);
  });

  test("installed but cuDNN missing: the error names the missing library and what to install", () => {
    const r = run(standIn("@tensorflow/tfjs-node-gpu", { throws: "libcudnn.so.8: cannot open shared object file: No such file or directory" }));
    assert.equal(r.chosen, undefined);
    assert.match(
      r.error ?? "",
      /^backend "tensorflow" cannot load: @tensorflow\/tfjs-node-gpu is installed but CUDA's libcudnn\.so\.8 is missing \(libcudnn\.so\.8: cannot open shared object file/,
    );
    assert.match(r.error ?? "", /it needs CUDA 11\.2 \(libcudart\.so\.11\.0\) and cuDNN 8\.1 \(libcudnn\.so\.8\) on the library path/);
    assert.match(r.error ?? "", /To use it: install CUDA 11\.2 and cuDNN 8\.1/);
  });

  test("installed but libcudart missing: the same, naming libcudart; the automatic order skips it with that line and goes on", () => {
    const dir = standIn("@tensorflow/tfjs-node-gpu", { throws: "libcudart.so.11.0: cannot open shared object file: No such file or directory" });
    const r = run(dir);
    assert.match(r.error ?? "", /CUDA's libcudart\.so\.11\.0 is missing/);
    const auto = run(dir, "auto");
    assert.equal(auto.error, undefined, auto.error);
    assert.notEqual(auto.chosen, "tensorflow");
    assert.match(auto.stderr, /^d2l: skipped tensorflow: @tensorflow\/tfjs-node-gpu is installed but CUDA's libcudart\.so\.11\.0 is missing/m);
  });

  test("installed without its libtensorflow (the install was offline): says to rebuild it online", () => {
    const r = run(standIn("@tensorflow/tfjs-node-gpu", { throws: "libtensorflow.so.2: cannot open shared object file: No such file or directory" }));
    assert.match(r.error ?? "", /@tensorflow\/tfjs-node-gpu is installed but its libtensorflow is missing .*npm rebuild @tensorflow\/tfjs-node-gpu online/);
  });

  test("a version other than @tensorflow/tfjs' is refused, naming the version to install", () => {
    const r = run(standIn("@tensorflow/tfjs-node-gpu", { register: true, usingGpu: true }, "4.0.0"));
    assert.match(r.error ?? "", new RegExp(`@tensorflow/tfjs-node-gpu is 4\\.0\\.0 but @tensorflow/tfjs is ${TFJS.replace(/\./g, "\\.")}`));
    assert.match(r.error ?? "", new RegExp(`To use it: npm install @tensorflow/tfjs-node-gpu@${TFJS.replace(/\./g, "\\.")}`));
  });

  test("a stand-in tfjs-node (the CPU package) is the CPU", () => {
    const r = run(standIn("@tensorflow/tfjs-node", { register: true }));
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.info?.device, "cpu");
    assert.equal(r.info?.adapter, "TensorFlow C library on the CPU (@tensorflow/tfjs-node)");
  });

  test("D2L_TFJS_NODE_DIR that does not exist is an error that says so; an empty folder says nothing is installed and how to install", (t) => {
    const missing = run(path.join(os.tmpdir(), "d2l-ts-no-such-folder"));
    assert.match(missing.error ?? "", /D2L_TFJS_NODE_DIR is ".*d2l-ts-no-such-folder", which does not exist/);
    if (installedHere("@tensorflow/tfjs-node-gpu") || installedHere("@tensorflow/tfjs-node")) {
      t.diagnostic("tfjs-node is installed beside d2l-ts: the empty-folder case would load it");
      return;
    }
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-ts-tfjs-node-"));
    made.push(empty);
    const r = run(empty);
    assert.match(r.error ?? "", /neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed \(looked in D2L_TFJS_NODE_DIR=.* and beside d2l-ts\)/);
    assert.match(r.error ?? "", new RegExp(`@tensorflow/tfjs-node-gpu@${TFJS.replace(/\./g, "\\.")} with CUDA 11\\.2 and cuDNN 8\\.1`));
  });
});
