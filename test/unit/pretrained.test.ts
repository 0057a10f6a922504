// Loading pretrained models (ch. 13.2): tf.loadLayersModel from a model served on 127.0.0.1 and from a folder
// (d2l.fileIO), and d2l.loadPretrained's errors for a failing download, a missing or damaged model.json and
// missing weights. The reference is the saved model itself: the loaded model must give its outputs exactly.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import * as tf from "@tensorflow/tfjs";
import { fileIO } from "../../lib/io";
import { loadPretrained } from "../../lib/vision/pretrained";

let tmp: string;
let modelDir: string;
let server: http.Server;
let base: string;
let deadUrl: string;
let net: tf.LayersModel;
let X: tf.Tensor;
let expected: Float32Array;
const PROXY_ENV = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];
const savedEnv: Record<string, string | undefined> = {};

function makeNet(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: "relu" }),
      tf.layers.batchNormalization(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4 }),
    ],
  });
}

before(async () => {
  await tf.setBackend("cpu");
  for (const k of PROXY_ENV) {
    savedEnv[k] = process.env[k];
    delete process.env[k];
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-pretrained-"));
  modelDir = path.join(tmp, "model");
  net = makeNet();
  // non-trivial batch-norm statistics, so that every kind of weight must come back
  const bn = net.layers[1];
  bn.setWeights(bn.getWeights().map((w, i) => tf.randomUniform(w.shape, 0.5 + i, 1 + i, "float32", 7 + i)));
  X = tf.randomUniform([2, 6, 6, 1], 0, 1, "float32", 3);
  expected = (net.predict(X) as tf.Tensor).dataSync() as Float32Array;
  await net.save(fileIO(modelDir));
  const files: Record<string, Buffer> = {
    "model.json": fs.readFileSync(path.join(modelDir, "model.json")),
    "weights.bin": fs.readFileSync(path.join(modelDir, "weights.bin")),
  };
  server = http.createServer((req, res) => {
    const [, mode, name] = (req.url ?? "/").split("/");
    if (mode === "ok" && files[name]) {
      res.writeHead(200, { "content-type": name.endsWith(".json") ? "application/json" : "application/octet-stream" });
      res.end(files[name]);
    } else if (mode === "corrupt" && name === "model.json") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{ this is not json");
    } else if (mode === "noweights" && files[name] && name !== "weights.bin") {
      res.writeHead(200);
      res.end(files[name]);
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // a port that nothing listens on: open a server, note its port, close it
  const dead = http.createServer();
  await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
  deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/ok/model.json`;
  await new Promise<void>((resolve) => dead.close(() => resolve()));
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const k of PROXY_ENV) if (savedEnv[k] !== undefined) process.env[k] = savedEnv[k];
});

function assertSameOutputs(loaded: tf.LayersModel): void {
  assert.equal(loaded.layers.length, net.layers.length);
  assert.deepEqual(
    loaded.layers.map((l) => l.getClassName()),
    net.layers.map((l) => l.getClassName()),
  );
  const got = (loaded.predict(X) as tf.Tensor).dataSync();
  assert.equal(got.length, expected.length);
  for (let i = 0; i < got.length; i++) assert.equal(got[i], expected[i], `output ${i}`);
}

test("tf.loadLayersModel reads a model served over HTTP on 127.0.0.1, weights included", async () => {
  const loaded = await tf.loadLayersModel(`${base}/ok/model.json`);
  assertSameOutputs(loaded);
  loaded.dispose();
});

test("tf.loadLayersModel reads a model from a folder through d2l.fileIO", async () => {
  const loaded = await tf.loadLayersModel(fileIO(modelDir));
  assertSameOutputs(loaded);
  loaded.dispose();
});

test("loadPretrained reads a URL, a folder, a model.json path and a file:// URL", async () => {
  const fractions: number[] = [];
  for (const source of [`${base}/ok/model.json`, modelDir, path.join(modelDir, "model.json"), `file://${modelDir}`]) {
    const loaded = await loadPretrained(source, { onProgress: (f) => fractions.push(f) });
    assertSameOutputs(loaded);
    loaded.dispose();
  }
  assert.ok(fractions.includes(1), `onProgress reached 1: ${fractions.join(", ")}`);
});

test("loadPretrained: a 404 names the URL and the status, and says what to do", async () => {
  await assert.rejects(loadPretrained(`${base}/missing/model.json`), (e: Error) => {
    assert.match(e.message, /downloading http:\/\/127\.0\.0\.1:\d+\/missing\/model\.json failed/);
    assert.match(e.message, /404/);
    assert.match(e.message, /check the URL/);
    return true;
  });
});

test("loadPretrained: a server that is down is a download error with the offline way out", async () => {
  await assert.rejects(loadPretrained(deadUrl), (e: Error) => {
    assert.match(e.message, /could not download http:\/\/127\.0\.0\.1:\d+\/ok\/model\.json/);
    assert.match(e.message, /d2l\.fileIO\(folder\)/);
    return true;
  });
});

test("loadPretrained: a damaged model.json over HTTP, and missing weights, are errors naming the URL", async () => {
  await assert.rejects(loadPretrained(`${base}/corrupt/model.json`), /corrupt\/model\.json is not a tfjs model\.json, or it is damaged/);
  await assert.rejects(loadPretrained(`${base}/noweights/model.json`), (e: Error) => {
    assert.match(e.message, /noweights\/weights\.bin \(a weights file http:\/\/127\.0\.0\.1:\d+\/noweights\/model\.json refers to\) failed with status code 404/);
    assert.match(e.message, /404/);
    return true;
  });
});

test("loadPretrained: a folder without model.json, a damaged model.json and missing weights name the file", async () => {
  const empty = path.join(tmp, "empty");
  fs.mkdirSync(empty);
  await assert.rejects(loadPretrained(empty), (e: Error) => e.name === "TensorFileError" && /holds no saved model/.test(e.message) && e.message.includes(empty));
  const damaged = path.join(tmp, "damaged");
  fs.mkdirSync(damaged);
  fs.writeFileSync(path.join(damaged, "model.json"), "{ not json");
  await assert.rejects(loadPretrained(damaged), /damaged: not JSON/);
  const noWeights = path.join(tmp, "noweights");
  fs.mkdirSync(noWeights);
  fs.copyFileSync(path.join(modelDir, "model.json"), path.join(noWeights, "model.json"));
  await assert.rejects(loadPretrained(noWeights), (e: Error) => e.name === "TensorFileError" && e.message.includes(path.join(noWeights, "weights.bin")));
});

test("loadPretrained: bad arguments say what is expected", async () => {
  await assert.rejects(loadPretrained(""), /expected the URL of a model\.json .* or a folder holding one/);
  await assert.rejects(loadPretrained(42 as unknown as string), /expected the URL of a model\.json/);
  await assert.rejects(loadPretrained(`${base}/ok/`), /does not name a \.json file/);
});
