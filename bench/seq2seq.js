#!/usr/bin/env node
/**
 * Seq2seq training speed (the book's 9.7 settings): d2l.trainSeq2seq on each
 * tfjs backend asked for, and the same model in PyTorch
 * (bench/seq2seq_torch.py), on the same data, as target tokens/sec and the
 * ratio to PyTorch. See bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/seq2seq.js [--epochs 300] [--backends native,wasm,cpu]
 *        [--torch-threads 1] [--no-torch] [--timeout 3600] [--dataset auto|fra-eng|cmudict] [--json FILE]
 *
 * The data: loadDataNmt(64, 10, 600) (fra-eng if it can be had, else
 * CMUdict), written once to a JSON file that every run reads, so each trains
 * on the same index arrays. Each run is a fresh process.
 */
"use strict";
const { flag, arg, shuffledBatches, runChild } = require("./seq2seq_common");
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const PYTHON = process.env.D2L_BENCH_PYTHON || "/usr/bin/python3";
const SETTINGS = { embedSize: 32, numHiddens: 32, numLayers: 2, dropout: 0.1, batchSize: 64, numSteps: 10, lr: 0.005, numExamples: 600 };

/** Child mode: train on one backend, print one JSON line. */
async function child(backend, dataFile, epochs) {
  const d2l = require(path.resolve(__dirname, "../dist/lib/index.js"));
  const tf = require("@tensorflow/tfjs");
  await d2l.useBackend(backend);
  const data = JSON.parse(fs.readFileSync(dataFile, "utf8"));
  const iter = shuffledBatches(tf, data, SETTINGS.batchSize);
  const tgtVocab = new d2l.Vocab([], { reservedTokens: ["<pad>", "<bos>", "<eos>"] }); // <bos> is 2, as in the dumped vocabularies
  if (tgtVocab.toIndices("<bos>") !== data.bos) throw new Error(`<bos> is ${data.bos} in the data, ${tgtVocab.toIndices("<bos>")} here`);
  const { embedSize, numHiddens, numLayers, dropout, lr } = SETTINGS;
  const net = new d2l.EncoderDecoder(
    new d2l.Seq2SeqEncoder(data.srcVocabSize, embedSize, numHiddens, numLayers, dropout),
    new d2l.Seq2SeqDecoder(data.tgtVocabSize, embedSize, numHiddens, numLayers, dropout),
  );
  const t0 = performance.now();
  const r = await d2l.trainSeq2seq(net, iter, lr, epochs, tgtVocab, undefined, { animator: false, progress: false, verbose: false });
  const wall = (performance.now() - t0) / 1000;
  const info = d2l.backendInfo();
  console.log(JSON.stringify({ backend, threads: info.threads, epochs, tokensPerSec: r.tokensPerSec, loss: r.loss, firstLoss: r.losses[0], wall }));
}

/** The data every run trains on: loadDataNmt's arrays, dumped as JSON. */
async function dumpData(file, dataset) {
  const d2l = require(path.resolve(__dirname, "../dist/lib/index.js"));
  const tf = require("@tensorflow/tfjs");
  await d2l.useBackend("cpu");
  const raw = await d2l.readNmtText({ dataset, quiet: true });
  const [source, target] = d2l.tokenizeNmt(d2l.preprocessNmt(raw.text), SETTINGS.numExamples);
  const opts = { minFreq: 2, reservedTokens: ["<pad>", "<bos>", "<eos>"] };
  const srcVocab = new d2l.Vocab(source, opts);
  const tgtVocab = new d2l.Vocab(target, opts);
  const [src, srcValid] = d2l.buildArrayNmt(source, srcVocab, SETTINGS.numSteps);
  const [tgt, tgtValid] = d2l.buildArrayNmt(target, tgtVocab, SETTINGS.numSteps);
  const data = {
    corpus: raw.corpus,
    source: raw.source,
    numSteps: SETTINGS.numSteps,
    srcVocabSize: srcVocab.length,
    tgtVocabSize: tgtVocab.length,
    bos: tgtVocab.toIndices("<bos>"),
    src: Array.from(src.dataSync()),
    srcValid: Array.from(srcValid.dataSync()),
    tgt: Array.from(tgt.dataSync()),
    tgtValid: Array.from(tgtValid.dataSync()),
  };
  tf.dispose([src, srcValid, tgt, tgtValid]);
  fs.writeFileSync(file, JSON.stringify(data));
  return data;
}

async function main() {
  if (flag("child")) return child(arg("child", "wasm"), arg("data", ""), Number(arg("epochs", "300")));
  const epochs = Number(arg("epochs", "300"));
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`--epochs must be a positive integer, got ${arg("epochs", "")}`);
  const backends = arg("backends", "native,wasm,cpu")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const timeout = Number(arg("timeout", "3600"));
  const torchThreads = arg("torch-threads", "1");
  const file = path.join(os.tmpdir(), `d2l-seq2seq-bench-${process.pid}.json`);
  const data = await dumpData(file, arg("dataset", "auto"));
  const torchV = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  console.log(
    `machine: ${os.cpus().length} logical cores, ${os.cpus()[0]?.model ?? "unknown CPU"}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  console.log(
    `node ${process.version}; torch ${(torchV.stdout || "").trim() || "not available"} (${PYTHON}, ${torchThreads} threads); D2L_WASM_THREADS=${process.env.D2L_WASM_THREADS || "(default)"}`,
  );
  console.log(
    `data: ${data.corpus} (${data.source}), ${data.srcValid.length} pairs, vocabularies ${data.srcVocabSize} / ${data.tgtVocabSize}; ` +
      `model: embed ${SETTINGS.embedSize}, hidden ${SETTINGS.numHiddens}, ${SETTINGS.numLayers} GRU layers, dropout ${SETTINGS.dropout}; ` +
      `batch ${SETTINGS.batchSize}, ${SETTINGS.numSteps} steps, Adam lr ${SETTINGS.lr}, clipping 1, ${epochs} epoch(s)`,
  );
  const rows = [];
  const runs = backends.map((b) => ({ label: `tfjs ${b}`, go: () => runChild(process.execPath, [__filename, "--child", b, "--data", file, "--epochs", String(epochs)], timeout) }));
  if (!flag("no-torch")) {
    runs.splice(Math.min(1, runs.length), 0, {
      label: "pytorch",
      go: () => runChild(PYTHON, [path.join(__dirname, "seq2seq_torch.py"), "--data", file, "--epochs", String(epochs), "--threads", torchThreads], timeout),
    });
  }
  const results = [];
  for (const r of runs) {
    const res = r.go();
    process.stderr.write(`  ${r.label}: ${res.error ? "ERROR " + res.error : `${res.tokensPerSec.toFixed(1)} tokens/sec, loss ${res.loss.toFixed(3)}`}\n`);
    results.push({ label: r.label, ...res });
  }
  fs.rmSync(file, { force: true });
  const torch = results.find((r) => r.label === "pytorch" && !r.error);
  for (const r of results) {
    if (r.error) rows.push([r.label, "", "", "", "", `ERROR: ${r.error}`]);
    else {
      rows.push([
        r.label + (r.threads ? ` (${r.threads} thr)` : ""),
        r.tokensPerSec.toFixed(1),
        torch ? `${(r.tokensPerSec / torch.tokensPerSec).toFixed(3)}x` : "-",
        r.firstLoss.toFixed(3),
        r.loss.toFixed(3),
        "",
      ]);
    }
  }
  const header = ["run", "tokens/sec", "vs pytorch", "epoch-1 loss", "last loss", "note"]; // (a note only for errors)
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const fmt = (r) =>
    r
      .map((c, i) => (i >= 1 && i <= 4 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  console.log("");
  console.log([fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n"));
  console.log("tokens/sec: target tokens (the book's num_tokens) per second of training; loss: the book's, summed sequence losses over tokens.");
  const json = arg("json", "");
  if (json) fs.writeFileSync(json, JSON.stringify({ settings: SETTINGS, epochs, corpus: data.corpus, results }, null, 2));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
