#!/usr/bin/env node
/**
 * Transformer training speed (the book's 10.7 settings): d2l.trainSeq2seq of
 * d2l.TransformerEncoder/TransformerDecoder on each tfjs backend asked for,
 * and the same model in PyTorch (bench/transformer_torch.py) on 1 and on 2
 * threads, on the same data, as target tokens/sec and the ratio to the
 * faster PyTorch, with each run's final loss and BLEU. See bench/README.md.
 * Usage:
 *
 *   npx tsc -p . && node bench/transformer.js [--epochs 200] [--backends native,wasm,cpu]
 *        [--torch-threads 1,2] [--no-torch] [--timeout 3600] [--dataset auto|fra-eng|cmudict] [--json FILE]
 *
 * The data: loadDataNmt(64, 10, 600)'s pairs (fra-eng if it can be had, else
 * CMUdict), written once to a JSON file that every run reads, so each trains
 * on the same index arrays (as bench/seq2seq.js). Each run is a fresh
 * process. BLEU (d2l.bleu, k = 2, computed here for every run alike): on
 * fra-eng the mean over the book's four sentences; on CMUdict the mean over
 * the 100 held-out pairs the notebook scores.
 */
"use strict";
const { flag, arg, shuffledBatches, driverOptions, trainAll } = require("./seq2seq_common");
const c = require("./common");
const fs = require("fs");
const os = require("os");
const path = require("path");

// The book's 10.7 settings (ffnNumInput, keySize, querySize, valueSize and normShape follow numHiddens).
const SETTINGS = { numHiddens: 32, numLayers: 2, dropout: 0.1, batchSize: 64, numSteps: 10, lr: 0.005, ffnNumHiddens: 64, numHeads: 4, numExamples: 600 };
const BOOK_PAIRS = [
  ["go .", "va !"],
  ["i lost .", "j'ai perdu ."],
  ["he's calm .", "il est calme ."],
  ["i'm home .", "je suis chez moi ."],
];
const RESERVED = ["<pad>", "<bos>", "<eos>"];

/** The encoder-decoder of the notebook (07_transformer.ipynb), with the Chinese edition's constructor arguments. */
function makeNet(d2l, srcVocabSize, tgtVocabSize) {
  const { numHiddens, numLayers, dropout, ffnNumHiddens, numHeads } = SETTINGS;
  const [ffnNumInput, keySize, querySize, valueSize, normShape] = [numHiddens, numHiddens, numHiddens, numHiddens, [numHiddens]];
  return new d2l.EncoderDecoder(
    new d2l.TransformerEncoder(srcVocabSize, keySize, querySize, valueSize, numHiddens, normShape, ffnNumInput, ffnNumHiddens, numHeads, numLayers, dropout),
    new d2l.TransformerDecoder(tgtVocabSize, keySize, querySize, valueSize, numHiddens, normShape, ffnNumInput, ffnNumHiddens, numHeads, numLayers, dropout),
  );
}

/** Child mode: train on one backend, translate the evaluation sources, print one JSON line. */
async function child(backend, dataFile, epochs) {
  const d2l = require(path.resolve(__dirname, "../dist/lib/index.js"));
  const tf = require("@tensorflow/tfjs");
  await d2l.useBackend(backend);
  const data = JSON.parse(fs.readFileSync(dataFile, "utf8"));
  const T = data.numSteps;
  const iter = shuffledBatches(tf, data, SETTINGS.batchSize);
  // The vocabularies, rebuilt from the dumped token lists as loadDataNmt builds them.
  const srcVocab = new d2l.Vocab(data.srcLines, { minFreq: 2, reservedTokens: RESERVED });
  const tgtVocab = new d2l.Vocab(data.tgtLines, { minFreq: 2, reservedTokens: RESERVED });
  if (srcVocab.length !== data.srcVocabSize || tgtVocab.length !== data.tgtVocabSize) throw new Error("the rebuilt vocabularies differ from the dumped ones");
  d2l.seed(0);
  const net = makeNet(d2l, srcVocab.length, tgtVocab.length);
  const t0 = performance.now();
  const r = await d2l.trainSeq2seq(net, iter, SETTINGS.lr, epochs, tgtVocab, undefined, { animator: false, progress: false, verbose: false });
  const trainWall = (performance.now() - t0) / 1000;
  const translations = [];
  for (const [src] of data.evalPairs) translations.push((await d2l.predictSeq2seq(net, src, srcVocab, tgtVocab, T))[0]);
  const wall = (performance.now() - t0) / 1000;
  const info = d2l.backendInfo();
  console.log(
    JSON.stringify({
      backend,
      threads: info.threads,
      epochs,
      params: net.countParams(),
      tokensPerSec: r.tokensPerSec,
      loss: r.loss,
      firstLoss: r.losses[0],
      trainWall,
      wall,
      translations,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

/** The data every run trains on: loadDataNmt's arrays and the evaluation pairs, dumped as JSON. */
async function dumpData(file, dataset) {
  const d2l = require(path.resolve(__dirname, "../dist/lib/index.js"));
  const tf = require("@tensorflow/tfjs");
  await d2l.useBackend("cpu");
  const raw = await d2l.readNmtText({ dataset, quiet: true });
  const [source, target] = d2l.tokenizeNmt(d2l.preprocessNmt(raw.text), SETTINGS.numExamples);
  const opts = { minFreq: 2, reservedTokens: RESERVED };
  const srcVocab = new d2l.Vocab(source, opts);
  const tgtVocab = new d2l.Vocab(target, opts);
  const [src, srcValid] = d2l.buildArrayNmt(source, srcVocab, SETTINGS.numSteps);
  const [tgt, tgtValid] = d2l.buildArrayNmt(target, tgtVocab, SETTINGS.numSteps);
  // What the notebook translates: the book's four sentences on fra-eng, else the 100 held-out pairs it scores.
  let evalPairs = BOOK_PAIRS;
  if (raw.corpus !== "fra-eng") {
    const [loader] = await d2l.loadDataNmt(SETTINGS.batchSize, SETTINGS.numSteps, SETTINGS.numExamples, { dataset: raw.corpus, quiet: true });
    evalPairs = loader.heldOut(100);
  }
  // The sources as predictSeq2seq feeds them (lower case, split on spaces, <eos>, padded; the valid length untruncated), for PyTorch.
  const eos = srcVocab.toIndices("<eos>");
  const pad = srcVocab.toIndices("<pad>");
  const evalTokens = evalPairs.map(([s]) => [...srcVocab.toIndices(s.toLowerCase().split(" ")), eos]);
  const data = {
    corpus: raw.corpus,
    source: raw.source,
    numSteps: SETTINGS.numSteps,
    srcVocabSize: srcVocab.length,
    tgtVocabSize: tgtVocab.length,
    bos: tgtVocab.toIndices("<bos>"),
    eos: tgtVocab.toIndices("<eos>"),
    src: Array.from(src.dataSync()),
    srcValid: Array.from(srcValid.dataSync()),
    tgt: Array.from(tgt.dataSync()),
    tgtValid: Array.from(tgtValid.dataSync()),
    srcLines: source,
    tgtLines: target,
    tgtTokens: tgtVocab.toTokens(Array.from({ length: tgtVocab.length }, (_, i) => i)),
    evalPairs,
    evalSrc: evalTokens.map((t) => d2l.truncatePad(t, SETTINGS.numSteps, pad)),
    evalSrcValid: evalTokens.map((t) => t.length),
  };
  tf.dispose([src, srcValid, tgt, tgtValid]);
  fs.writeFileSync(file, JSON.stringify(data));
  return data;
}

async function main() {
  if (flag("child")) return child(arg("child", "wasm"), arg("data", ""), Number(arg("epochs", "200")));
  const d2l = require(path.resolve(__dirname, "../dist/lib/index.js"));
  const opts = driverOptions("bench/transformer.js", 200);
  const { epochs, torchThreads } = opts;
  const file = path.join(os.tmpdir(), `d2l-transformer-bench-${process.pid}.json`);
  const data = await dumpData(file, arg("dataset", "auto"));
  const S = SETTINGS;
  for (const l of c.machineHeader(torchThreads)) console.log(l);
  console.log(
    `data: ${data.corpus} (${data.source}), ${data.srcValid.length} pairs, vocabularies ${data.srcVocabSize} / ${data.tgtVocabSize}; ` +
      `model: Transformer, ${S.numLayers} encoder and ${S.numLayers} decoder blocks, hidden ${S.numHiddens}, ${S.numHeads} heads, FFN ${S.ffnNumHiddens}, dropout ${S.dropout}; ` +
      `batch ${S.batchSize}, ${S.numSteps} steps, Adam lr ${S.lr}, clipping 1, ${epochs} epoch(s)`,
  );
  const meanBleu = (translations) => data.evalPairs.reduce((s, [, tgt], i) => s + d2l.bleu(translations[i], tgt, 2), 0) / data.evalPairs.length;
  const score = (res) => {
    res.bleu = meanBleu(res.translations);
    return `, BLEU ${res.bleu.toFixed(3)}`;
  };
  const results = trainAll(__filename, "transformer_torch.py", file, opts, score);
  fs.rmSync(file, { force: true });
  const best = c.best(Object.fromEntries(results.filter((r) => r.torch && !r.error).map((r) => [r.label, r.tokensPerSec])));
  const rows = results.map((r) =>
    r.error
      ? [r.label, "", "", "", "", "", "", "", `ERROR: ${r.error}`]
      : [
          r.torch ? r.label : r.label + (r.threads ? ` (${r.threads} thr)` : ""),
          String(r.params),
          r.tokensPerSec.toFixed(1),
          c.ratio(r.tokensPerSec, best),
          r.firstLoss.toFixed(3),
          r.loss.toFixed(3),
          r.bleu.toFixed(3),
          c.rss(r),
          best && best.label === r.label ? "faster PyTorch" : "",
        ],
  );
  console.log("");
  console.log(c.table(rows, ["run", "params", "tokens/sec", "vs best pytorch", "epoch-1 loss", "last loss", "BLEU", "peak RSS MiB", "note"], (i) => i >= 1 && i <= 7));
  console.log(c.loadFooter());
  console.log("tokens/sec: target tokens (the book's num_tokens) per second of training steps; vs best pytorch: over the faster PyTorch run;");
  console.log("loss: the book's, summed sequence losses over tokens;");
  console.log(
    data.corpus === "fra-eng"
      ? 'BLEU (k = 2): mean over the book\'s four sentences, greedy translation; the book: 1.000 on "go ." and "i\'m home .".'
      : `BLEU (k = 2): mean over the ${data.evalPairs.length} held-out ${data.corpus} pairs, greedy translation (as the notebook's held-out BLEU).`,
  );
  const params = new Set(results.filter((r) => !r.error).map((r) => r.params));
  if (params.size > 1) console.log(`WARNING: the parameter counts differ between runs: ${[...params].join(", ")}`);
  const shown = data.evalPairs.slice(0, 4);
  console.log("");
  for (const [i, [src, tgt]] of shown.entries()) {
    console.log(`${src} => (reference: ${tgt})`);
    for (const r of results) if (!r.error) console.log(`    ${r.label.padEnd(16)} ${r.translations[i]}, bleu ${d2l.bleu(r.translations[i], tgt, 2).toFixed(3)}`);
  }
  const json = arg("json", "");
  if (json) fs.writeFileSync(json, JSON.stringify({ settings: SETTINGS, epochs, corpus: data.corpus, loadavg: os.loadavg(), evalPairs: data.evalPairs, results }, null, 2));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
