/**
 * Tensor and model files (the book's 5.5): saveTensors/loadTensors in the
 * safetensors layout, and the fileIO handler for model.save / loadLayersModel.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { TensorFileError, fileIO, loadTensors, saveTensors } from "../../lib/io";

let tmp: string;
before(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-io-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

describe("saveTensors / loadTensors", () => {
  test("a tensor, a list and a dictionary come back with their structure, dtypes, shapes and values", async () => {
    const x = tf.range(0, 4);
    const f1 = path.join(tmp, "x-file");
    await saveTensors(x, f1);
    const x2 = (await loadTensors(f1)) as tf.Tensor;
    assert.ok(x2 instanceof tf.Tensor);
    assert.deepEqual(values(x2), [0, 1, 2, 3]);

    const f2 = path.join(tmp, "x-files");
    await saveTensors(
      [
        x,
        tf.tensor2d([
          [1.5, -2],
          [3e-8, 4e9],
        ]),
      ],
      f2,
    );
    const list = (await loadTensors(f2)) as tf.Tensor[];
    assert.ok(Array.isArray(list) && list.length === 2);
    assert.deepEqual(list[1].shape, [2, 2]);
    assert.deepEqual(values(list[1]), Array.from(Float32Array.from([1.5, -2, 3e-8, 4e9])));

    const f3 = path.join(tmp, "mydict");
    await saveTensors({ x, flags: tf.tensor1d([true, false, true], "bool"), ids: tf.tensor2d([[7, -8, 2 ** 30]], [1, 3], "int32"), empty: tf.zeros([0, 3]) }, f3);
    const d = (await loadTensors(f3)) as Record<string, tf.Tensor>;
    assert.deepEqual(Object.keys(d), ["x", "flags", "ids", "empty"]);
    assert.equal(d.flags.dtype, "bool");
    assert.deepEqual(values(d.flags), [1, 0, 1]);
    assert.equal(d.ids.dtype, "int32");
    assert.deepEqual(d.ids.shape, [1, 3]);
    assert.deepEqual(values(d.ids), [7, -8, 2 ** 30]);
    assert.deepEqual(d.empty.shape, [0, 3]);
  });

  test("the file is safetensors: a little-endian header length, a JSON header padded to 8 bytes, then the bytes", async () => {
    const f = path.join(tmp, "layout");
    await saveTensors({ a: tf.tensor1d([1, 2]), b: tf.tensor1d([3], "int32") }, f);
    const buf = fs.readFileSync(f);
    const n = Number(buf.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    assert.deepEqual(header, {
      __metadata__: { format: "d2l-ts", structure: "dict" },
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "I32", shape: [1], data_offsets: [8, 12] },
    });
    assert.equal(buf.length, 8 + n + 12);
    assert.equal(buf.readFloatLE(8 + n + 4), 2);
    assert.equal(buf.readInt32LE(8 + n + 8), 3);
  });

  test("a safetensors file from elsewhere (no d2l-ts metadata, U8 data) loads as a dictionary", async () => {
    const header = JSON.stringify({ w: { dtype: "U8", shape: [3], data_offsets: [0, 3] } });
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const f = path.join(tmp, "foreign.safetensors");
    fs.writeFileSync(f, Buffer.concat([len, Buffer.from(header), Buffer.from([5, 6, 255])]));
    const d = (await loadTensors(f)) as Record<string, tf.Tensor>;
    assert.deepEqual(values(d.w), [5, 6, 255]);
  });

  test("unsupported input is an error that says what can be saved", async () => {
    await assert.rejects(saveTensors(tf.tensor1d(["a"], "string"), path.join(tmp, "s")), /has dtype string; only float32, int32 and bool tensors can be saved/);
    await assert.rejects(saveTensors([tf.zeros([1]), 3 as unknown as tf.Tensor], path.join(tmp, "s")), /"1" is not a tf.Tensor/);
  });

  test("a missing, truncated or foreign file is a TensorFileError naming it and the problem", async () => {
    const missing = path.join(tmp, "nope");
    await assert.rejects(
      loadTensors(missing),
      (e: Error) => e instanceof TensorFileError && e.message === `${missing}: no such file. Save tensors there first with d2l.saveTensors(x, file), or check the path.`,
    );
    const f = path.join(tmp, "trunc");
    await saveTensors(tf.ones([10]), f);
    const whole = fs.readFileSync(f);
    fs.writeFileSync(f, whole.subarray(0, whole.length - 4));
    await assert.rejects(
      loadTensors(f),
      /trunc: damaged, or not a tensor file written by d2l.saveTensors \(safetensors\): tensor "0" of shape \[10\] needs 40 bytes at 0\.\.40, but the data part has 36 bytes/,
    );
    fs.writeFileSync(f, "hello, world, this is text");
    await assert.rejects(loadTensors(f), /\(safetensors\): the header claims \d+ bytes but the file has 18 after the length/);
    fs.writeFileSync(f, Buffer.concat([whole, Buffer.from([0, 0, 0, 0])]));
    await assert.rejects(loadTensors(f), /the tensors take 40 bytes but the data part has 44 \(truncated or padded\)/);
  });
});

function mlp(): tf.Sequential {
  return tf.sequential({
    layers: [tf.layers.dense({ units: 16, activation: "relu", inputShape: [5] }), tf.layers.dense({ units: 3 })],
  });
}

describe("fileIO", () => {
  test("model.save and tf.loadLayersModel round trip: model.json + weights.bin, identical outputs", async () => {
    const net = mlp();
    const X = tf.randomUniform([4, 5], 0, 1, "float32", 3);
    const dir = path.join(tmp, "mlp");
    const r = await net.save(fileIO(dir));
    assert.equal(r.modelArtifactsInfo.weightDataBytes, (5 * 16 + 16 + 16 * 3 + 3) * 4);
    assert.deepEqual(fs.readdirSync(dir).sort(), ["model.json", "weights.bin"]);
    const json = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
    assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
    assert.equal(json.format, "layers-model");
    const clone = await tf.loadLayersModel(fileIO(dir));
    const diff = tf.tidy(
      () =>
        (clone.predict(X) as tf.Tensor)
          .sub(net.predict(X) as tf.Tensor)
          .abs()
          .max()
          .dataSync()[0],
    );
    assert.equal(diff, 0);
    // the same through the path of model.json
    const again = await tf.loadLayersModel(fileIO(path.join(dir, "model.json")));
    assert.equal(again.layers.length, 2);
    tf.dispose([X]);
    net.dispose();
    clone.dispose();
    again.dispose();
  });

  test("a path ending in .json saves name.json with name.weights.bin beside it", async () => {
    const net = mlp();
    const file = path.join(tmp, "named", "net.json");
    await net.save(fileIO(file));
    assert.deepEqual(fs.readdirSync(path.dirname(file)).sort(), ["net.json", "net.weights.bin"]);
    const back = await tf.loadLayersModel(fileIO(file));
    assert.equal(back.countParams(), net.countParams());
    net.dispose();
    back.dispose();
  });

  test("a missing model, a missing or damaged weights file, and a damaged model.json are clear errors", async () => {
    const none = path.join(tmp, "no-model");
    await assert.rejects(tf.loadLayersModel(fileIO(none)), (e: Error) => {
      assert.ok(e instanceof TensorFileError, e.name);
      assert.match(e.message, /no-model\/model\.json: no such file\. Save a model there first with await net\.save\(d2l\.fileIO\(/);
      return true;
    });
    fs.mkdirSync(none);
    await assert.rejects(tf.loadLayersModel(fileIO(none)), /no such file: .*no-model holds no saved model/);

    const dir = path.join(tmp, "damaged");
    await mlp().save(fileIO(dir));
    const weights = path.join(dir, "weights.bin");
    const bytes = fs.readFileSync(weights);
    fs.writeFileSync(weights, bytes.subarray(0, 100));
    await assert.rejects(
      tf.loadLayersModel(fileIO(dir)),
      /weights\.bin: holds 100 bytes of weights but model\.json describes 588 \(4 weights\); the files \(weights\.bin\) are damaged or do not belong together: save the model again/,
    );
    fs.rmSync(weights);
    await assert.rejects(tf.loadLayersModel(fileIO(dir)), /weights\.bin: no such file\. .*model\.json refers to it; the saved model is incomplete/);
    fs.writeFileSync(weights, bytes);
    fs.writeFileSync(path.join(dir, "model.json"), "{ not json");
    await assert.rejects(tf.loadLayersModel(fileIO(dir)), /model\.json: not a model file, or damaged: not JSON/);
    fs.writeFileSync(path.join(dir, "model.json"), "{}");
    await assert.rejects(tf.loadLayersModel(fileIO(dir)), /expected an object with modelTopology and weightsManifest/);
  });

  test("saving over a file, or to an empty path, is an error", async () => {
    const f = path.join(tmp, "a-file");
    fs.writeFileSync(f, "x");
    await assert.rejects(mlp().save(fileIO(f)), /a-file is a file; give a folder path/);
    assert.throws(() => fileIO(""), /expected a folder path/);
  });
});
