/**
 * What the seq2seq benchmarks share (bench/seq2seq.js, bench/transformer.js):
 * the dumped data as shuffled minibatches; command-line flags and running one
 * measurement in a fresh process come from bench/common.js (re-exported here).
 */
"use strict";
const { flag, arg, runChild } = require("./common");

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

module.exports = { flag, arg, shuffledBatches, runChild };
