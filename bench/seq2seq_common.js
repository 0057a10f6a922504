/**
 * What the seq2seq benchmarks share (bench/seq2seq.js, bench/transformer.js):
 * command-line flags, the dumped data as shuffled minibatches, and running one
 * measurement in a fresh process.
 */
"use strict";
const { spawnSync } = require("child_process");
const path = require("path");

function flag(name) {
  return process.argv.includes(`--${name}`);
}
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

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

/** One measurement in a fresh process: its last JSON line, or { error } with the first error line. */
function runChild(cmd, args, timeout) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    cwd: path.resolve(__dirname, ".."),
    env: { ...process.env, D2L_QUICK: "" },
    timeout: timeout * 1000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
  });
  const wall = (Date.now() - t0) / 1000;
  const line = (r.stdout || "")
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (r.status === 0 && line) return JSON.parse(line);
  if (r.error && r.error.code === "ETIMEDOUT") return { error: `timed out after ${timeout} s` };
  const lines = ((r.stderr || "") + (r.stdout || ""))
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const msg = lines.find((l) => /^(\w*Error|Error)\b|Exception/.test(l)) || lines.slice(-1)[0] || `exit ${r.status} after ${wall.toFixed(0)} s`;
  return { error: msg.slice(0, 200) };
}

module.exports = { flag, arg, shuffledBatches, runChild };
