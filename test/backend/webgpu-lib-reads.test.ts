/**
 * The library's reads on webgpu (issue 23): the functions that read tensor
 * values (accuracy, clsEval, bboxEval, pixelAccuracy, iouPerClass, meanIou,
 * getFashionMnistLabels, predictCh8, checkClose) read with await, so they
 * take tensors that live on the GPU and give what they give on cpu;
 * label2image computes on the device; TinySSD's anchors are host values, so
 * multiboxTarget takes them; nms and multiboxDetection read with await, so
 * GPU inputs give cpu's rows.
 *
 * Each backend runs in a child process (this file, with D2L_LIB_READS_CHILD
 * set); in CI webgpu is Mesa's lavapipe (run-all.sh sources its env and sets
 * D2L_REQUIRE_WEBGPU=1).
 */
import { describe, it, before } from "node:test";
import * as assert from "node:assert/strict";
import { runChild } from "./child";
import * as tf from "@tensorflow/tfjs";
import * as d2l from "../../lib/index";
import { RNNModelScratch, type ForwardFn } from "../../lib/nn/index";
import { Vocab } from "../../lib/text/index";

const REQUIRE_WEBGPU = process.env.D2L_REQUIRE_WEBGPU === "1";

interface Values {
  backend: string;
  onGpu: Record<string, boolean>;
  accuracy: number;
  clsEval: number;
  bboxEval: number;
  pixelAccuracy: number;
  iouPerClass: (number | null)[];
  meanIou: number;
  labels: string[];
  predictCh8: string;
  checkClose: string;
  label2image: number[];
  anchorsReadSync: boolean;
  multiboxTarget: number[][];
  detection: number[];
  detectionOnGpu: number[];
  nmsOnGpu: number[];
  hflipOnGpu: string;
}

interface Result {
  values?: Values;
  error?: string;
  stderr: string;
}

/** A GPU-sized result of kernels (over tfjs-backend-webgpu's 1000-element CPU hand-off), so that it lives on the GPU. */
function onDevice(values: number[], shape: number[], dtype: "float32" | "int32" = "float32"): tf.Tensor {
  return tf.tidy(() => {
    const pad = 1200;
    const big = tf.concat([tf.tensor1d(values, dtype), tf.zeros([pad], dtype)]).add(tf.scalar(0, dtype));
    return big.slice(0, values.length).reshape(shape).add(tf.scalar(0, dtype));
  });
}

async function childMain(mode: string): Promise<void> {
  try {
    await d2l.useBackend(mode);
    const onGpu: Record<string, boolean> = {};
    const note = (name: string, t: tf.Tensor): tf.Tensor => {
      onGpu[name] = !d2l.readsSync(t);
      return t;
    };
    // accuracy: 3 of 4 rows right
    const yHat = note("yHat", onDevice([0.1, 0.9, 0.8, 0.2, 0.3, 0.7, 0.6, 0.4], [4, 2]));
    const y = note("y", onDevice([1, 0, 0, 0], [4], "int32"));
    const accuracy = await d2l.accuracy(yHat, y);
    // clsEval, bboxEval
    const clsPreds = note("clsPreds", onDevice([2, 1, 0, 3, 5, 4], [1, 3, 2]));
    const clsLabels = note("clsLabels", onDevice([0, 0, 0], [1, 3], "int32"));
    const clsEval = await d2l.clsEval(clsPreds, clsLabels);
    const bboxPreds = onDevice([0.5, 0, 0, 0, 1, 1, 1, 1], [1, 8]);
    const bboxLabels = onDevice([0, 0, 0, 1, 1, 1, 1, 3], [1, 8]);
    const bboxMasks = onDevice([1, 1, 1, 1, 1, 1, 1, 0], [1, 8]);
    const bboxEval = await d2l.bboxEval(bboxPreds, bboxLabels, bboxMasks);
    // segmentation metrics, from scores with classes last
    const segScores = note("segScores", onDevice([3, 1, 0, 2, 1, 0, 0, 5, 1, 1, 4, 0], [1, 2, 2, 3]));
    const segLabels = note("segLabels", onDevice([0, 1, 2, 1], [1, 2, 2], "int32"));
    const pixelAccuracy = await d2l.pixelAccuracy(segScores, segLabels);
    const iouPerClass = await d2l.iouPerClass(segScores, segLabels, 3);
    const meanIou = await d2l.meanIou(segScores, segLabels, 3);
    const labels = await d2l.getFashionMnistLabels(note("fashionLabels", onDevice([9, 0, 3], [3], "int32")));
    // predictCh8 with a bigram net: next(a)=b, next(b)=c, next(c)=d, next(d)=a
    const vocab = new Vocab([..."abcd"]);
    const V = vocab.length;
    const W0 = Array.from({ length: V }, (_, i) => Array.from({ length: V }, (_, j) => (i >= 1 && j === (i % 4) + 1 ? 5 : 0)));
    const forward: ForwardFn = (inputs, state, params) => {
      const [T, b] = inputs.shape as [number, number, number];
      return [tf.matMul(tf.reshape(inputs, [T * b, V]), params[0]), state];
    };
    const net = new RNNModelScratch(
      V,
      1,
      mode,
      () => [tf.variable(tf.tensor2d(W0))],
      (b) => [tf.zeros([b, 1])],
      forward,
    );
    const predictCh8 = await d2l.predictCh8("ab", 6, net, vocab);
    // checkClose of a GPU tensor: the text it shows
    let shown = "";
    const log = console.log;
    console.log = (...a: unknown[]) => (shown += a.map(String).join(" "));
    try {
      await d2l.checkClose("a GPU tensor", 1, note("checked", onDevice([1, 2, 3], [3])), [1, 2, 3]);
    } finally {
      console.log = log;
    }
    const label2image = Array.from(await d2l.label2image(note("segLabelsImage", onDevice([0, 1, 2, 1], [2, 2], "int32"))).data());
    // TinySSD's anchors reach multiboxTarget on every backend
    const ssd = new d2l.TinySSD(1);
    const [anchors, cls, bbox] = ssd.forward(tf.zeros([1, 64, 64, 3]));
    const anchorsReadSync = d2l.readsSync(anchors);
    const truth = tf.tensor3d([[[0, 0.1, 0.08, 0.52, 0.92]]]);
    const target = d2l.multiboxTarget(anchors, truth);
    const multiboxTarget = await Promise.all(target.map(async (t) => Array.from(await t.data())));
    tf.dispose([anchors, cls, bbox, ...target]);
    ssd.dispose();
    // multiboxDetection on host values (the book's example), and on a GPU tensor
    const anc = tf.tensor3d([
      [
        [0.1, 0.08, 0.52, 0.92],
        [0.08, 0.2, 0.56, 0.95],
        [0.15, 0.3, 0.62, 0.91],
        [0.55, 0.2, 0.9, 0.88],
      ],
    ]);
    const probs = tf.tensor3d([
      [
        [0, 0, 0, 0],
        [0.9, 0.8, 0.7, 0.1],
        [0.1, 0.2, 0.3, 0.9],
      ],
    ]);
    const offsets = tf.tensor2d([[0.1, -0.2, 0.3, 0.05, 0, 0, 0, 0, -0.1, 0.1, 0.2, -0.3, 0.4, 0, 0.1, 0]]);
    const detection = Array.from(await (await d2l.multiboxDetection(probs, offsets, anc, 0.5)).data());
    const gpuProbs = note("gpuProbs", onDevice([0, 0, 0, 0, 0.9, 0.8, 0.7, 0.1, 0.1, 0.2, 0.3, 0.9], [1, 3, 4]));
    const gpuOffsets = note("gpuOffsets", onDevice(Array.from(await offsets.data()), [1, 16]));
    const gpuAnchors = note("gpuAnchors", onDevice(Array.from(await anc.data()), [1, 4, 4]));
    const detectionOnGpu = Array.from(await (await d2l.multiboxDetection(gpuProbs, gpuOffsets, gpuAnchors, 0.5)).data());
    const gpuScores = note("gpuScores", onDevice([0.9, 0.8, 0.7, 0.9], [4]));
    const nmsOnGpu = Array.from(await (await d2l.nms(gpuAnchors.squeeze([0]), gpuScores, 0.5)).data());
    // the transforms, a CPU data pipeline, say how to pass host values
    let hflipOnGpu = "read";
    const image = note("image", onDevice([1, 2, 3, 4, 5, 6], [1, 2, 3]));
    try {
      d2l.transforms.functional.hflip(image).dispose();
    } catch (e) {
      hflipOnGpu = (e as Error).message;
    }
    const values: Values = {
      backend: tf.getBackend(),
      onGpu,
      accuracy,
      clsEval,
      bboxEval,
      pixelAccuracy,
      iouPerClass,
      meanIou,
      labels,
      predictCh8,
      checkClose: shown,
      label2image,
      anchorsReadSync,
      multiboxTarget,
      detection,
      detectionOnGpu,
      nmsOnGpu,
      hflipOnGpu,
    };
    console.log(JSON.stringify({ values }));
  } catch (e) {
    console.log(JSON.stringify({ error: (e as Error).stack ?? (e as Error).message }));
    process.exitCode = 2;
  }
}

function child(mode: string, env: NodeJS.ProcessEnv): Promise<Result> {
  return runChild<Result>(__filename, { ...env, D2L_LIB_READS_CHILD: mode }, mode, 100_000);
}

function close(a: number[], b: number[], tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= tol, `${what}[${i}]: ${v} vs ${b[i]}`));
}

if (process.env.D2L_LIB_READS_CHILD) {
  void childMain(process.env.D2L_LIB_READS_CHILD);
} else {
  describe("the library's reads on webgpu", { timeout: 240_000 }, () => {
    const base = { ...process.env };
    delete base.D2L_BACKEND;
    let cpu: Result;
    let webgpu: Result;

    before(async () => {
      [cpu, webgpu] = await Promise.all([child("cpu", base), child("webgpu", base)]);
    });

    it("on cpu: the values worked out by hand", () => {
      assert.equal(cpu.error, undefined, cpu.error);
      const v = cpu.values as Values;
      assert.equal(v.accuracy, 3);
      assert.equal(v.clsEval, 2); // argmax per anchor: 0, 1, 0
      assert.ok(Math.abs(v.bboxEval - 1.5) < 1e-6, `bboxEval ${v.bboxEval}`); // 0.5 + 1, the last offset masked
      assert.equal(v.pixelAccuracy, 0.5); // argmax 0, 0, 1, 1 against 0, 1, 2, 1
      assert.deepEqual(v.iouPerClass, [0.5, 1 / 3, 0]);
      assert.ok(Math.abs(v.meanIou - (0.5 + 1 / 3) / 3) < 1e-12);
      assert.deepEqual(v.labels, ["ankle boot", "t-shirt", "dress"]);
      assert.equal(v.predictCh8, "abcdabcd");
      assert.match(v.checkClose, /✓ a GPU tensor \(1\/1 point\)/);
      assert.deepEqual(v.label2image, [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 0, 0]);
      assert.equal(v.anchorsReadSync, true);
      assert.deepEqual(v.detectionOnGpu, v.detection, "the same inputs made by kernels");
      assert.deepEqual(v.nmsOnGpu, [0, 3]); // the book's 14.4.4: the dog's best box and the cat's
      assert.equal(v.hflipOnGpu, "read");
    });

    it("on webgpu: the same values from tensors on the GPU", (t) => {
      if (webgpu.error && !REQUIRE_WEBGPU) {
        assert.match(webgpu.error, /cannot load/);
        t.diagnostic(`webgpu not available (${webgpu.error.split("\n")[0]}); run test/backend/setup-lavapipe.sh to test it`);
        return;
      }
      assert.equal(webgpu.error, undefined, `D2L_REQUIRE_WEBGPU=1 but: ${webgpu.error}`);
      const g = webgpu.values as Values;
      const c = cpu.values as Values;
      assert.equal(g.backend, "webgpu");
      for (const [name, gpu] of Object.entries(g.onGpu)) assert.equal(gpu, true, `${name} should live on the GPU for this test to mean anything`);
      for (const k of ["accuracy", "clsEval", "pixelAccuracy", "iouPerClass", "meanIou", "labels", "predictCh8", "checkClose", "label2image", "anchorsReadSync"] as const) {
        assert.deepEqual(g[k], c[k], k);
      }
      assert.ok(Math.abs(g.bboxEval - c.bboxEval) < 1e-5, `bboxEval ${g.bboxEval} vs ${c.bboxEval}`);
      g.multiboxTarget.forEach((part, i) => close(part, c.multiboxTarget[i], 1e-4, `multiboxTarget[${i}]`));
      close(g.detection, c.detection, 1e-6, "multiboxDetection");
      close(g.detectionOnGpu, c.detection, 1e-6, "multiboxDetection of GPU tensors");
      assert.deepEqual(g.nmsOnGpu, c.nmsOnGpu, "nms of GPU tensors");
      assert.match(g.hflipOnGpu, /^hflip: the image \(shape \[1, 2, 3\]\) is on the GPU \(webgpu backend\).*tf\.tensor\(await x\.data\(\), x\.shape, x\.dtype\)$/);
    });
  });
}
