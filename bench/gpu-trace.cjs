// bench/gpu-trace.cjs: loaded with `node --require` by bench/gpu-pack.sh while bench/gpu.sh --quick runs.
// At exit it appends every module file this process loaded (require's cache: .js, .json, .node) and every
// file it read by name under the repository (the wasm binaries tfjs-backend-wasm reads) to $D2L_TRACE_OUT,
// one absolute path a line, so that the pack carries what the run needs and nothing else.
"use strict";
const fs = require("node:fs");
const out = process.env.D2L_TRACE_OUT;
if (out) {
  const read = new Set();
  const readFileSync = fs.readFileSync;
  fs.readFileSync = function (file, ...rest) {
    if (typeof file === "string") read.add(file);
    return readFileSync.call(this, file, ...rest);
  };
  const readFile = fs.readFile;
  fs.readFile = function (file, ...rest) {
    if (typeof file === "string") read.add(file);
    return readFile.call(this, file, ...rest);
  };
  process.on("exit", () => {
    const files = new Set([...Object.keys(require.cache), ...read]);
    fs.appendFileSync(out, [...files].join("\n") + "\n");
  });
}
