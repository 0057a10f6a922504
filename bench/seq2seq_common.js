/**
 * What the seq2seq benchmarks share (bench/seq2seq.js, bench/transformer.js):
 * the dumped data as shuffled minibatches; command-line flags and running one
 * measurement in a fresh process come from bench/common.js (re-exported here).
 */
"use strict";
const path = require("path");
const c = require("./common");
const { flag, arg, runChild } = c;

/**
 * The dumped arrays (`src`, `srcValid`, `tgt`, `tgtValid`, `numSteps`) as the
 * data iterator trainSeq2seq takes: shuffled anew every epoch (as load_array,
 * by a fixed LCG so every backend sees the same order), [X, XValidLen, Y, YValidLen] per batch.
 */
function shuffledBatches(tf, data, batchSize) {
  const T = data.numSteps;
  const n = data.srcValid.length;
  let epoch = 0;
  return {
    numExamples: n,
    numBatches: Math.ceil(n / batchSize),
    async *[Symbol.asyncIterator]() {
      let s = 12345 + epoch++;
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const j = Math.floor((s / 2 ** 32) * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (let b = 0; b < n; b += batchSize) {
        const idx = order.slice(b, b + batchSize);
        const rows = (a) => idx.flatMap((r) => a.slice(r * T, (r + 1) * T));
        yield [
          tf.tensor2d(rows(data.src), [idx.length, T], "int32"),
          tf.tensor1d(
            idx.map((r) => data.srcValid[r]),
            "int32",
          ),
          tf.tensor2d(rows(data.tgt), [idx.length, T], "int32"),
          tf.tensor1d(
            idx.map((r) => data.tgtValid[r]),
            "int32",
          ),
        ];
      }
    },
  };
}

/** The driver options both benchmarks take: `--epochs`, `--backends native,wasm,cpu`, `--timeout 3600`, `--torch-threads 1,2`. */
function driverOptions(prog, defaultEpochs) {
  return {
    epochs: c.positive(prog, "epochs", defaultEpochs, true),
    backends: c.list(prog, "backends", "native,wasm,cpu", ["cpu", "native", "wasm", "webgpu", "tensorflow"]),
    timeout: c.positive(prog, "timeout", 3600),
    torchThreads: c.torchThreads(prog),
  };
}

/**
 * Train every run on the dumped data `file`, one fresh process after another: tfjs backend 1
 * (`script --child <backend>`), PyTorch on each thread count (`torchScript --threads t`), the other
 * backends. `score(res)` adds to a good result before its line goes to stderr. Returns
 * `[{ label, torch, ...result }]`.
 */
function trainAll(script, torchScript, file, opts, score = () => "") {
  const runs = opts.backends.map((b) => ({
    label: `tfjs ${b}`,
    go: () => runChild(process.execPath, [script, "--child", b, "--data", file, "--epochs", String(opts.epochs)], opts.timeout),
  }));
  const torchRuns = opts.torchThreads.map((t) => ({
    label: `pytorch ${t} thr`,
    torch: true,
    go: () => runChild(c.PYTHON, [path.join(__dirname, torchScript), "--data", file, "--epochs", String(opts.epochs), "--threads", String(t)], opts.timeout),
  }));
  runs.splice(Math.min(1, runs.length), 0, ...torchRuns);
  const results = [];
  for (const r of runs) {
    const res = r.go();
    const extra = res.error ? "" : score(res);
    process.stderr.write(
      `  ${r.label}: ${res.error ? "ERROR " + res.error : `${res.tokensPerSec.toFixed(1)} tokens/sec, loss ${res.loss.toFixed(3)}${extra}, ${res.wall.toFixed(0)} s`}\n`,
    );
    results.push({ label: r.label, torch: !!r.torch, ...res });
  }
  return results;
}

module.exports = { flag, arg, shuffledBatches, runChild, driverOptions, trainAll };
