#!/usr/bin/env node
/**
 * Training-speed benchmark: five workloads, each trained for a fixed number
 * of steps on random data, on each tfjs backend and in PyTorch, printed as
 * examples/sec (median of the repeats) and the ratio to PyTorch.
 * See bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/run.js [--quick] [--workloads softmax,mlp,lenet,resnet,gru]
 *        [--backends cpu,native,wasm] [--repeats 3] [--steps 30] [--warmup 5] [--max-seconds 20]
 *        [--timeout 300] [--torch-threads 2] [--no-torch] [--json FILE]
 */
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ALL_WORKLOADS = ["softmax", "mlp", "lenet", "resnet", "gru"];
const DESCRIPTION = {
  softmax: "softmax regression 784->10, batch 256",
  mlp: "MLP 784->256 ReLU->10, batch 256",
  lenet: "LeNet (d2l 6.6), 28x28x1, batch 256",
  resnet: "conv 64 + 2 residual blocks (BN), 28x28x1, batch 32",
  gru: "GRU LM, one-hot 28, hidden 256, 35 steps, batch 32",
};
const PYTHON = process.env.D2L_BENCH_PYTHON || "/usr/bin/python3";

function flag(name) {
  return process.argv.includes(`--${name}`);
}
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
function list(name, fallback, known) {
  const items = arg(name, fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of items) {
    if (known && !known.includes(s)) {
      console.error(`bench: unknown ${name.replace(/s$/, "")} "${s}"; expected some of ${known.join(",")}`);
      process.exit(2);
    }
  }
  return items;
}

const quick = flag("quick");
const opts = {
  workloads: list("workloads", ALL_WORKLOADS.join(","), ALL_WORKLOADS),
  backends: list("backends", "cpu,wasm", ["cpu", "native", "wasm", "webgpu", "tensorflow"]),
  repeats: Number(arg("repeats", quick ? "1" : "3")),
  steps: Number(arg("steps", quick ? "3" : "30")),
  warmup: Number(arg("warmup", quick ? "1" : "5")),
  maxSeconds: Number(arg("max-seconds", quick ? "5" : "20")),
  timeout: Number(arg("timeout", quick ? "150" : "300")),
  torchThreads: Number(arg("torch-threads", "2")),
  torch: !flag("no-torch"),
  json: arg("json", ""),
};

/** The last JSON line a child printed, or its error (last few stderr lines). */
function runChild(cmd, args) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    cwd: path.resolve(__dirname, ".."),
    env: { ...process.env, D2L_QUICK: "" },
    timeout: opts.timeout * 1000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
  });
  const wall = (Date.now() - t0) / 1000;
  const line = (r.stdout || "")
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (r.status === 0 && line) return { ...JSON.parse(line), wall };
  if (r.error && r.error.code === "ETIMEDOUT") return { error: `timed out after ${opts.timeout} s`, wall };
  if (r.signal) return { error: `killed by ${r.signal} after ${wall.toFixed(0)} s`, wall };
  const lines = ((r.stderr || "") + (r.stdout || ""))
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  // The error message, not the stack under it.
  const msg = lines.find((l) => /^(\w*Error|Error)\b|Exception|Traceback/.test(l) && !l.startsWith("Traceback")) || lines.slice(-1)[0] || `exit ${r.status}`;
  return { error: msg.slice(0, 160), wall };
}

function tfjsRun(backend, workload) {
  return runChild(process.execPath, [
    path.join(__dirname, "tfjs_workloads.js"),
    "--backend",
    backend,
    "--workload",
    workload,
    "--steps",
    String(opts.steps),
    "--warmup",
    String(opts.warmup),
    "--max-seconds",
    String(opts.maxSeconds),
  ]);
}
function torchRun(workload) {
  return runChild(PYTHON, [
    path.join(__dirname, "torch_workloads.py"),
    "--workload",
    workload,
    "--threads",
    String(opts.torchThreads),
    "--steps",
    String(opts.steps),
    "--warmup",
    String(opts.warmup),
    "--max-seconds",
    String(opts.maxSeconds),
  ]);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function machine() {
  let model = "unknown";
  let mem = "";
  try {
    const cpuinfo = fs.readFileSync("/proc/cpuinfo", "utf8");
    model = (/^model name\s*:\s*(.*)$/m.exec(cpuinfo) || [])[1] || model;
    const mhz = (/^cpu MHz\s*:\s*(.*)$/m.exec(cpuinfo) || [])[1];
    if (mhz) model += ` (${Number(mhz).toFixed(0)} MHz)`;
    const kb = Number((/^MemTotal:\s*(\d+)/m.exec(fs.readFileSync("/proc/meminfo", "utf8")) || [])[1]);
    if (kb) mem = `, ${(kb / 1024 / 1024).toFixed(1)} GiB RAM`;
  } catch {
    /* not Linux */
  }
  const version = (pkg) => {
    try {
      return require(`${pkg}/package.json`).version;
    } catch {
      return "not installed";
    }
  };
  const torchV = spawnSync(PYTHON, ["-c", "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.get_num_threads())"], { encoding: "utf8" });
  const [py, tv, tthreads] = (torchV.stdout || "").trim().split(" ");
  return [
    `machine: ${os.cpus().length} logical cores (available parallelism ${os.availableParallelism()}), ${model}${mem}, ${os.type()} ${os.release()}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
    `node ${process.version}; @tensorflow/tfjs ${version("@tensorflow/tfjs")}, tfjs-backend-wasm ${version("@tensorflow/tfjs-backend-wasm")}; wasm threads: D2L_WASM_THREADS=${process.env.D2L_WASM_THREADS || "(default: cores, at most 4)"}`,
    tv
      ? `python ${py} (${PYTHON}), torch ${tv} (default threads ${tthreads}; benchmark sets ${opts.torchThreads}); ${blas()}`
      : `pytorch: not available (${PYTHON}: ${(torchV.stderr || "").trim().split("\n").pop()})`,
  ];
}

/**
 * Debian's torch is built with BLAS_INFO=generic: it uses whatever libblas.so.3
 * the alternatives system selects. The reference is OpenBLAS (libopenblas0-pthread);
 * Debian's reference BLAS (libblas3) is several times slower and flatters tfjs.
 */
function blas() {
  let target = "";
  try {
    target = fs.realpathSync("/usr/lib/x86_64-linux-gnu/libblas.so.3");
  } catch {
    return "BLAS: libblas.so.3 not found";
  }
  if (/openblas/.test(target)) return `BLAS: OpenBLAS (${target})`;
  return `BLAS: ${target} -- NOT OpenBLAS: PyTorch is slower than the reference; apt-get install libopenblas0-pthread selects it`;
}

function pad(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const fmt = (r) =>
    r
      .map((c, i) => (i >= 3 && i <= 6 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

function main() {
  const head = machine();
  for (const l of head) console.log(l);
  console.log(
    `settings: ${quick ? "QUICK (smoke check, numbers not meaningful); " : ""}${opts.warmup} warm-up + ${opts.steps} timed steps per run, ` +
      `each phase capped at ${opts.maxSeconds} s (warm-up at half), median of ${opts.repeats} repeat(s); SGD lr 0.1; random data`,
  );
  const runs = opts.backends.map((b) => ({ label: `tfjs ${b}`, go: (w) => tfjsRun(b, w) }));
  // Alternate: tfjs backend, pytorch, next tfjs backend..., so slow drift of the machine hits every run alike.
  if (opts.torch) runs.splice(Math.min(1, runs.length), 0, { label: "pytorch", go: torchRun });
  const results = {}; // workload -> label -> [run]
  for (const w of opts.workloads) {
    results[w] = Object.fromEntries(runs.map((r) => [r.label, []]));
    for (let rep = 0; rep < opts.repeats; rep++) {
      for (const r of runs) {
        const res = r.go(w);
        results[w][r.label].push(res);
        process.stderr.write(
          `  ${w} ${r.label} #${rep + 1}: ${res.error ? "ERROR " + res.error : `${res.examplesPerSec.toFixed(1)} ex/s (${res.steps} steps, ${res.seconds.toFixed(2)} s)`} [${res.wall.toFixed(1)} s wall]\n`,
        );
      }
    }
  }
  const rows = [];
  const notes = new Set();
  for (const w of opts.workloads) {
    const torchOk = opts.torch ? results[w]["pytorch"].filter((x) => !x.error) : [];
    const ref = torchOk.length ? median(torchOk.map((x) => x.examplesPerSec)) : undefined;
    for (const r of runs) {
      const all = results[w][r.label];
      const ok = all.filter((x) => !x.error);
      if (!ok.length) {
        rows.push([w, r.label, "", "", "", "", "", `ERROR: ${all[0].error}`]);
        continue;
      }
      const eps = ok.map((x) => x.examplesPerSec);
      const med = median(eps);
      const minSteps = Math.min(...ok.map((x) => x.steps));
      const minWarm = Math.min(...ok.map((x) => x.warmup));
      let stepsCol = `${minSteps}`;
      if (minSteps < opts.steps || minWarm < opts.warmup) {
        stepsCol += "*";
        notes.add("* fewer steps than asked (timed or warm-up): the run hit the time cap (--max-seconds); slow backend");
      }
      const failed = all.length - ok.length;
      const loss = ok[ok.length - 1].loss;
      rows.push([
        w,
        r.label + (ok[0].threads ? ` (${ok[0].threads} thr)` : ""),
        stepsCol,
        med >= 100 ? med.toFixed(0) : med.toFixed(2),
        ok.length > 1 ? `${Math.min(...eps).toFixed(med >= 100 ? 0 : 2)}-${Math.max(...eps).toFixed(med >= 100 ? 0 : 2)}` : "",
        ref ? `${(med / ref).toFixed(3)}x` : "-",
        Number.isFinite(loss) ? loss.toFixed(3) : String(loss),
        (failed ? `${failed} of ${all.length} repeats failed: ${all.find((x) => x.error).error}` : "") +
          (ok.some((x) => x.leakedTensors) ? ` leaked ${Math.max(...ok.map((x) => x.leakedTensors))} tensors/run` : ""),
      ]);
    }
  }
  console.log("");
  console.log(pad(rows, ["workload", "run", "steps", "examples/sec", "min-max", "vs pytorch", "last loss", "note"]));
  console.log("");
  for (const w of opts.workloads) console.log(`${w}: ${DESCRIPTION[w]}`);
  for (const n of notes) console.log(n);
  console.log("examples/sec = timed steps x batch / seconds; a step is forward + loss + backward + SGD update; median over repeats, each repeat a fresh process.");
  if (opts.json) {
    fs.writeFileSync(opts.json, JSON.stringify({ machine: head, options: opts, results }, null, 2));
    console.log(`raw results: ${opts.json}`);
  }
}

main();
