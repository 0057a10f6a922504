#!/usr/bin/env node
/**
 * Seq2seq training speed (the book's 9.7 settings): d2l.trainSeq2seq on each
 * tfjs backend asked for, and the same model in PyTorch
 * (bench/seq2seq_torch.py) on 1 and on 2 threads, on the same data, as
 * target tokens/sec and the ratio to the faster PyTorch. See bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/seq2seq.js [--epochs 300] [--backends native,wasm,cpu]
 *        [--torch-threads 1,2] [--no-torch] [--timeout 3600] [--dataset auto|fra-eng|cmudict] [--json FILE]
 *
 * The data: loadDataNmt(64, 10, 600) (fra-eng if it can be had, else
 * CMUdict), written once to a JSON file that every run reads, so each trains
 * on the same index arrays. Each run is a fresh process.
 */
"use strict";
const { flag, arg, shuffledBatches, driverOptions, trainAll } = require("./seq2seq_common");
const c = require("./common");
const fs = require("fs");
const os = require("os");
const path = require("path");

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
  console.log(
    JSON.stringify({
      backend,
      threads: info.threads,
      epochs,
      tokensPerSec: r.tokensPerSec,
      loss: r.loss,
      firstLoss: r.losses[0],
      wall,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
    }),
  );
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
  const opts = driverOptions("bench/seq2seq.js", 300);
  const { epochs, torchThreads } = opts;
  const file = path.join(os.tmpdir(), `d2l-seq2seq-bench-${process.pid}.json`);
  const data = await dumpData(file, arg("dataset", "auto"));
  for (const l of c.machineHeader(torchThreads)) console.log(l);
  console.log(
    `data: ${data.corpus} (${data.source}), ${data.srcValid.length} pairs, vocabularies ${data.srcVocabSize} / ${data.tgtVocabSize}; ` +
      `model: embed ${SETTINGS.embedSize}, hidden ${SETTINGS.numHiddens}, ${SETTINGS.numLayers} GRU layers, dropout ${SETTINGS.dropout}; ` +
      `batch ${SETTINGS.batchSize}, ${SETTINGS.numSteps} steps, Adam lr ${SETTINGS.lr}, clipping 1, ${epochs} epoch(s)`,
  );
  const results = trainAll(__filename, "seq2seq_torch.py", file, opts);
  fs.rmSync(file, { force: true });
  const ref = c.best(Object.fromEntries(results.filter((r) => r.torch && !r.error).map((r) => [r.label, r.tokensPerSec])));
  const rows = results.map((r) =>
    r.error
      ? [r.label, "", "", "", "", "", `ERROR: ${r.error}`]
      : [
          r.label + (!r.torch && r.threads ? ` (${r.threads} thr)` : ""),
          r.tokensPerSec.toFixed(1),
          c.ratio(r.tokensPerSec, ref),
          r.firstLoss.toFixed(3),
          r.loss.toFixed(3),
          c.rss(r),
          ref && ref.label === r.label ? "faster PyTorch" : "",
        ],
  );
  console.log("");
  console.log(c.table(rows, ["run", "tokens/sec", "vs best pytorch", "epoch-1 loss", "last loss", "peak RSS MiB", "note"], (i) => i >= 1 && i <= 5));
  console.log(c.loadFooter());
  console.log("tokens/sec: target tokens (the book's num_tokens) per second of training; vs best pytorch: over the faster PyTorch run's;");
  console.log("loss: the book's, summed sequence losses over tokens; peak RSS: the run's process.");
  const json = arg("json", "");
  if (json) fs.writeFileSync(json, JSON.stringify({ settings: SETTINGS, epochs, corpus: data.corpus, loadavg: os.loadavg(), results }, null, 2));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
