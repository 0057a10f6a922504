#!/usr/bin/env node
/**
 * Build d2l's native CPU backend addon (lib/native/src/addon.cc, oneDNN) with
 * node-gyp, into lib/native/build/Release/d2l_native.node.
 *
 *   node bin/build-native.js           build unless the addon is newer than its sources
 *   node bin/build-native.js --force   build again (npm run build:native)
 *
 * It runs at `npm install` / `npm ci` and never fails them: when a compiler,
 * make, oneDNN's headers or Node's headers are missing, or the build fails, it
 * prints one line saying why and what to install, writes that line to
 * lib/native/build/not-built.txt (the backend loader repeats it), and exits 0.
 * d2l then skips the native backend and uses wasm.
 *
 * node-gyp: the one npm bundles (npm passes its path in npm_config_node_gyp to
 * install scripts; otherwise it is found beside the running node), so no
 * dependency is added and nothing is downloaded. Node's headers come from the
 * node install prefix (`<prefix>/include/node/node_api.h`, there with Debian's
 * nodejs and the official tarballs), so the build works offline.
 */
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const DIR = path.join(ROOT, "lib", "native");
const BUILD = path.join(DIR, "build");
const ADDON = path.join(BUILD, "Release", "d2l_native.node");
const NOT_BUILT = path.join(BUILD, "not-built.txt");
const LOG = path.join(BUILD, "build-native.log");
const SOURCES = [path.join(DIR, "binding.gyp"), ...fs.readdirSync(path.join(DIR, "src")).map((f) => path.join(DIR, "src", f))];
const APT = "apt-get install g++ make libdnnl-dev";
const force = process.argv.includes("--force");

function say(line) {
  console.log(`d2l native backend: ${line}`);
}

/** Give up: one line, remembered for the loader, exit 0. */
function skip(reason, fix) {
  const line = `${reason}; to build it: ${fix}, then npm run build:native`;
  try {
    fs.mkdirSync(BUILD, { recursive: true });
    fs.writeFileSync(NOT_BUILT, `${line}\n`);
  } catch {
    // the line below still says it
  }
  say(`not built: ${line} (d2l uses the wasm backend meanwhile)`);
  process.exit(0);
}

function has(cmd, args = ["--version"]) {
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  return !r.error && r.status === 0;
}

function upToDate() {
  if (!fs.existsSync(ADDON)) return false;
  const built = fs.statSync(ADDON).mtimeMs;
  return SOURCES.every((f) => fs.statSync(f).mtimeMs <= built);
}

/** node-gyp's entry script: npm's (from its environment or beside node), else one installed locally. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    path.join(path.dirname(process.execPath), "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  try {
    return require.resolve("node-gyp/bin/node-gyp.js");
  } catch {
    return null;
  }
}

/** The folders the compiler searches for headers (the defaults plus CPATH / CPLUS_INCLUDE_PATH). */
function includeDirs() {
  const extra = `${process.env.CPATH || ""}:${process.env.CPLUS_INCLUDE_PATH || ""}`.split(":").filter(Boolean);
  return [...extra, "/usr/local/include", "/usr/include"];
}

function main() {
  if (process.env.D2L_SKIP_NATIVE_BUILD === "1") {
    say("not built: D2L_SKIP_NATIVE_BUILD=1");
    return;
  }
  if (process.platform !== "linux") {
    say(`not built: the native backend is for Linux (this is ${process.platform}); d2l uses the wasm backend`);
    return;
  }
  if (!force && upToDate()) {
    say(`up to date (${path.relative(ROOT, ADDON)})`);
    return;
  }
  const missing = [];
  if (!has("g++") && !has("c++")) missing.push("a C++ compiler (g++)");
  if (!has("make")) missing.push("make");
  if (missing.length) skip(`${missing.join(" and ")} not found`, APT);
  if (!includeDirs().some((d) => fs.existsSync(path.join(d, "dnnl.hpp")) || fs.existsSync(path.join(d, "oneapi", "dnnl", "dnnl.hpp")))) {
    skip("oneDNN's headers (dnnl.hpp) not found", APT);
  }
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) skip("node-gyp not found (npm bundles it; this npm does not)", "npm install -g node-gyp");

  const args = [nodeGyp, "rebuild", "--directory", DIR];
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  if (fs.existsSync(path.join(prefix, "include", "node", "node_api.h"))) {
    args.push(`--nodedir=${prefix}`);
  } else if (!process.env.npm_config_nodedir) {
    // node-gyp would download the headers: fine online, a clear failure offline.
    say(`Node's headers are not in ${path.join(prefix, "include", "node")}; node-gyp will download them`);
  }
  const started = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, JOBS: process.env.JOBS || "2" } });
  const output = `${r.stdout || ""}${r.stderr || ""}`;
  try {
    fs.mkdirSync(BUILD, { recursive: true });
    fs.writeFileSync(LOG, `$ ${process.execPath} ${args.join(" ")}\n${output}`);
  } catch {
    // no log, the summary below still says why
  }
  if (r.error || r.status !== 0 || !fs.existsSync(ADDON)) {
    const lines = output.split("\n").map((l) => l.trim());
    const firstError =
      lines.find((l) => /error:|cannot find -l|undefined reference|No such file/.test(l) && !l.startsWith("gyp")) ||
      lines.find((l) => l.startsWith("gyp ERR!")) ||
      (r.error ? r.error.message : `node-gyp exited ${r.status}`);
    let fix = APT;
    if (/cannot find -ldnnl|dnnl/.test(firstError)) fix = "apt-get install libdnnl-dev";
    else if (/node_api\.h|gyp.*(download|ENOTFOUND|EAI_AGAIN)/i.test(output) && !args.some((a) => a.startsWith("--nodedir")))
      fix = "install Node's headers (Debian: apt-get install libnode-dev, or use Node's official tarball)";
    skip(`the build failed: ${firstError.slice(0, 200)} (log: ${path.relative(ROOT, LOG)})`, fix);
  }
  try {
    fs.rmSync(NOT_BUILT, { force: true });
  } catch {
    // nothing to remove
  }
  // The build writes only under lib/native/build/, which stays (the log and the addon).
  say(`built ${path.relative(ROOT, ADDON)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (e) {
  // Never fail npm install.
  say(`not built: ${e && e.message ? e.message.split("\n")[0] : String(e)}; run npm run build:native to see more`);
}
