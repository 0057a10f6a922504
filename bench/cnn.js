#!/usr/bin/env node
/**
 * CNN benchmark (issue 6): tfjs backends vs PyTorch on the book's CNNs.
 *
 *  (a) --full: the book's full LeNet run (d2l.ai 6.6): d2l.trainCh6 with 10 epochs, lr 0.9, batch 256 on
 *      Fashion-MNIST, on each backend, and the PyTorch twin (bench/cnn_torch.py) on the same files:
 *      loss, train acc, test acc, wall time, training examples/sec.
 *  (b) throughput: training steps (forward + loss + backward + SGD update) on one random batch, a fixed
 *      number of timed steps after warm-up, of LeNet at 28 px and d2l.resnet18(10, 1) at 96 px, on each
 *      backend side by side with PyTorch, as examples/sec and the ratio to PyTorch.
 *
 * Every run is a fresh process (tfjs backends are global to a process): this file re-runs itself with
 * --child. See bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/cnn.js [--full] [--only-full] [--backends native,wasm,cpu]
 *        [--models lenet,resnet18] [--steps 20] [--warmup 3] [--max-seconds 60] [--repeats 3]
 *        [--batch-lenet 256] [--batch-resnet 32] [--epochs 10] [--timeout 600] [--full-timeout 3600]
 *        [--limit-train N] [--limit-test N] [--torch-threads 2] [--no-torch] [--json FILE]
 */
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const PYTHON = process.env.D2L_BENCH_PYTHON || "/usr/bin/python3";
const MODELS = {
  lenet: { size: 28, describe: "LeNet (d2l.lenet(), d2l.ai 6.6), 28x28x1" },
  resnet18: { size: 96, describe: "ResNet-18 (d2l.resnet18(10, 1), d2l.ai 7.6), 96x96x1" },
};

function flag(name) {
  return process.argv.includes(`--${name}`);
}
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
function num(name, fallback) {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`bench/cnn.js: --${name} must be a positive number, got ${arg(name, "")}`);
    process.exit(2);
  }
  return v;
}
function list(name, fallback, known) {
  const items = arg(name, fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of items) {
    if (!known.includes(s)) {
      console.error(`bench/cnn.js: unknown ${name.replace(/s$/, "")} "${s}"; expected some of ${known.join(",")}`);
      process.exit(2);
    }
  }
  return items;
}

/** Fashion-MNIST for the full run: D2L_DATA_DIR, else the project's shared offline copy if there is one. */
function dataDir() {
  if (process.env.D2L_DATA_DIR) return process.env.D2L_DATA_DIR;
  const shared = path.resolve(ROOT, "..", "shared", "data");
  return fs.existsSync(path.join(shared, "fashion-mnist")) ? shared : "";
}

// ------------------------------------------------------------------ child: one tfjs run

async function child() {
  const tf = require("@tensorflow/tfjs");
  const d2l = require("../dist/lib/index");
  const kind = arg("child", "throughput");
  const backend = arg("backend", "wasm");
  const model = arg("model", "lenet");
  const out = (o) => console.log(JSON.stringify({ framework: "tfjs", backend, ...o }));
  if (model === "resnet18" && typeof d2l.resnet18 !== "function") {
    out({ unavailable: "d2l.resnet18 not available in this build (chapter 7's model builders)" });
    return;
  }
  await d2l.useBackend(backend);
  const info = d2l.backendInfo();
  const meta = { backend: info.name, threads: info.threads };

  if (kind === "full") {
    const epochs = Number(arg("epochs", "10"));
    const lr = Number(arg("lr", "0.9"));
    const batch = Number(arg("batch", "256"));
    const limitTrain = arg("limit-train", "");
    const limitTest = arg("limit-test", "");
    const limit = limitTrain || limitTest ? { limit: { train: limitTrain ? Number(limitTrain) : undefined, test: limitTest ? Number(limitTest) : undefined } } : {};
    const [trainIter, testIter] = await d2l.loadDataFashionMnist(batch, { quiet: true, ...limit });
    const net = d2l.lenet();
    const history = [];
    const t0 = performance.now();
    const r = await d2l.trainCh6(net, trainIter, testIter, epochs, lr, d2l.tryGpu(), {
      animator: false,
      progress: false,
      verbose: false,
      callbacks: [
        {
          onEpochEnd: (s) => {
            history.push({ epoch: s.epoch + 1, loss: s.trainLoss, trainAcc: s.trainAcc, testAcc: s.testAcc });
            process.stderr.write(`    ${backend} epoch ${s.epoch + 1}: loss ${s.trainLoss.toFixed(3)}, train acc ${s.trainAcc.toFixed(3)}, test acc ${s.testAcc.toFixed(3)}\n`);
          },
        },
      ],
    });
    const seconds = (performance.now() - t0) / 1000;
    out({ ...meta, mode: "full", epochs, lr, batch, loss: r.trainLoss, trainAcc: r.trainAcc, testAcc: r.testAcc, seconds, examplesPerSec: r.examplesPerSec, history });
    return;
  }

  const batch = Number(arg("batch", "32"));
  const steps = Number(arg("steps", "20"));
  const warmup = Number(arg("warmup", "3"));
  const maxSeconds = Number(arg("max-seconds", "60"));
  const lr = Number(arg("lr", "0.05"));
  const size = MODELS[model].size;
  const net = model === "lenet" ? d2l.lenet() : d2l.resnet18(10, 1);
  const x = tf.randomNormal([batch, size, size, 1]);
  const labels = tf.randomUniform([batch], 0, 10, "int32");
  const y = tf.oneHot(labels, 10);
  labels.dispose();
  const optimizer = tf.train.sgd(lr);
  const step = () => optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, net.apply(x, { training: true })), true);
  let t0 = performance.now();
  let warm = 0;
  while (warm < warmup) {
    const l = step();
    await l.data();
    l.dispose();
    warm++;
    if ((performance.now() - t0) / 1000 > maxSeconds / 2) break;
  }
  const before = tf.memory().numTensors;
  t0 = performance.now();
  let done = 0;
  let last = null;
  while (done < steps) {
    if (last) last.dispose();
    last = step();
    done++;
    if ((performance.now() - t0) / 1000 > maxSeconds) break;
  }
  const loss = (await last.data())[0];
  const seconds = (performance.now() - t0) / 1000;
  last.dispose();
  out({
    ...meta,
    mode: "throughput",
    model,
    size,
    batch,
    params: net.trainableWeights.reduce((a, w) => a + w.shape.reduce((p, d) => p * d, 1), 0),
    warmup: warm,
    steps: done,
    seconds,
    examplesPerSec: (done * batch) / seconds,
    loss,
    leakedTensors: tf.memory().numTensors - before,
  });
}

// ------------------------------------------------------------------ parent: spawn, collect, print

function runChild(cmd, args, timeoutS) {
  const t0 = Date.now();
  const dir = dataDir();
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    cwd: ROOT,
    env: { ...process.env, D2L_QUICK: "", ...(dir ? { D2L_DATA_DIR: dir } : {}) },
    timeout: timeoutS * 1000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const wall = (Date.now() - t0) / 1000;
  const epochLines = (r.stderr || "").split("\n").filter((l) => /^ {4}\S+ epoch \d+:/.test(l));
  for (const l of epochLines) process.stderr.write(l + "\n");
  const line = (r.stdout || "")
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  if (r.status === 0 && line) return { ...JSON.parse(line), wall };
  if (r.error && r.error.code === "ETIMEDOUT") return { error: `timed out after ${timeoutS} s`, wall };
  if (r.signal) return { error: `killed by ${r.signal} after ${wall.toFixed(0)} s`, wall };
  const lines = ((r.stderr || "") + (r.stdout || ""))
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const msg = lines.find((l) => /^(\w*Error|Error)\b|Exception|Traceback/.test(l) && !l.startsWith("Traceback")) || lines.slice(-1)[0] || `exit ${r.status}`;
  return { error: msg.slice(0, 200), wall };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function table(rows, header, rightFrom) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const fmt = (r) =>
    r
      .map((c, i) => (i >= rightFrom && i < header.length - 1 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

function header(opts) {
  let cpu = "unknown CPU";
  try {
    cpu = (/^model name\s*:\s*(.*)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8")) || [])[1] || cpu;
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
  const lines = [
    `machine: ${os.cpus().length} logical cores, ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
    `node ${process.version}; @tensorflow/tfjs ${version("@tensorflow/tfjs")}; wasm threads: D2L_WASM_THREADS=${process.env.D2L_WASM_THREADS || "(default)"}`,
  ];
  if (opts.torch) {
    const t = spawnSync(PYTHON, ["-c", "import sys, torch; print(sys.version.split()[0], torch.__version__)"], { encoding: "utf8" });
    const [py, tv] = (t.stdout || "").trim().split(" ");
    lines.push(tv ? `python ${py} (${PYTHON}), torch ${tv}, ${opts.torchThreads} threads` : `pytorch: not available (${PYTHON}: ${(t.stderr || "").trim().split("\n").pop()})`);
  }
  const dir = dataDir();
  lines.push(`Fashion-MNIST for --full: ${dir ? dir : "(D2L_DATA_DIR unset: the loader's cache or download)"}`);
  return lines;
}

function parent() {
  const onlyFull = flag("only-full");
  const opts = {
    full: flag("full") || onlyFull,
    throughput: !onlyFull,
    backends: list("backends", "native,wasm,cpu", ["native", "wasm", "cpu", "webgpu", "tensorflow"]),
    models: list("models", "lenet,resnet18", Object.keys(MODELS)),
    steps: num("steps", 20),
    warmup: num("warmup", 3),
    maxSeconds: num("max-seconds", 60),
    repeats: num("repeats", 3),
    batch: { lenet: num("batch-lenet", 256), resnet18: num("batch-resnet", 32) },
    epochs: num("epochs", 10),
    timeout: num("timeout", 600),
    fullTimeout: num("full-timeout", 3600),
    limitTrain: arg("limit-train", ""),
    limitTest: arg("limit-test", ""),
    torchThreads: num("torch-threads", 2),
    torch: !flag("no-torch"),
    json: arg("json", ""),
  };
  for (const l of header(opts)) console.log(l);
  const raw = { full: {}, throughput: {} };

  if (opts.full) {
    const limits = [];
    if (opts.limitTrain) limits.push("--limit-train", opts.limitTrain);
    if (opts.limitTest) limits.push("--limit-test", opts.limitTest);
    const data = limits.length ? `the first ${opts.limitTrain || "60000"} / ${opts.limitTest || "10000"} examples (a smoke check, not the book's run)` : "60,000 / 10,000";
    console.log(`\n(a) the book's LeNet run: d2l.trainCh6, ${opts.epochs} epochs, lr 0.9, batch 256, Fashion-MNIST (${data})`);
    const runs = opts.backends.map((b) => ({
      label: `tfjs ${b}`,
      go: () => runChild(process.execPath, [__filename, "--child", "full", "--backend", b, "--epochs", String(opts.epochs), ...limits], opts.fullTimeout),
    }));
    if (opts.torch) {
      runs.push({
        label: "pytorch",
        go: () =>
          runChild(
            PYTHON,
            [path.join(__dirname, "cnn_torch.py"), "--mode", "full", "--epochs", String(opts.epochs), "--threads", String(opts.torchThreads), ...limits],
            opts.fullTimeout,
          ),
      });
    }
    for (const r of runs) {
      process.stderr.write(`  full LeNet, ${r.label} ...\n`);
      raw.full[r.label] = r.go();
    }
    const ref = raw.full.pytorch && !raw.full.pytorch.error ? raw.full.pytorch.examplesPerSec : undefined;
    const rows = runs.map(({ label }) => {
      const x = raw.full[label];
      if (x.error || x.unavailable) return [label, "", "", "", "", "", "", "", `ERROR: ${x.error || x.unavailable}`];
      return [
        label + (x.threads ? ` (${x.threads} thr)` : ""),
        x.epochs,
        x.loss.toFixed(3),
        x.trainAcc.toFixed(3),
        x.testAcc.toFixed(3),
        x.seconds.toFixed(1),
        x.examplesPerSec.toFixed(0),
        ref ? `${(x.examplesPerSec / ref).toFixed(3)}x` : "-",
        "",
      ];
    });
    console.log(table(rows, ["run", "epochs", "loss", "train acc", "test acc", "wall s", "train ex/s", "vs pytorch", "note"], 1));
    console.log("book (PyTorch, GPU, official split): loss 0.455, train acc 0.831, test acc 0.789; wall s includes evaluation, train ex/s only training steps.");
  }

  if (opts.throughput) {
    console.log(
      `\n(b) training throughput: ${opts.warmup} warm-up + ${opts.steps} timed steps on one random batch, each phase capped at ` +
        `${opts.maxSeconds} s (warm-up at half), median of ${opts.repeats} repeat(s), SGD lr 0.05`,
    );
    const rows = [];
    const notes = new Set();
    for (const m of opts.models) {
      const batch = opts.batch[m];
      const runs = opts.backends.map((b) => ({
        label: `tfjs ${b}`,
        go: () =>
          runChild(
            process.execPath,
            [
              __filename,
              "--child",
              "throughput",
              "--backend",
              b,
              "--model",
              m,
              "--batch",
              String(batch),
              "--steps",
              String(opts.steps),
              "--warmup",
              String(opts.warmup),
              "--max-seconds",
              String(opts.maxSeconds),
            ],
            opts.timeout,
          ),
      }));
      if (opts.torch) {
        const torchArgs = [
          "--mode",
          "throughput",
          "--model",
          m,
          "--batch",
          String(batch),
          "--steps",
          String(opts.steps),
          "--warmup",
          String(opts.warmup),
          "--max-seconds",
          String(opts.maxSeconds),
          "--threads",
          String(opts.torchThreads),
        ];
        runs.splice(Math.min(1, runs.length), 0, { label: "pytorch", go: () => runChild(PYTHON, [path.join(__dirname, "cnn_torch.py"), ...torchArgs], opts.timeout) });
      }
      raw.throughput[m] = Object.fromEntries(runs.map((r) => [r.label, []]));
      for (let rep = 0; rep < opts.repeats; rep++) {
        for (const r of runs) {
          if (raw.throughput[m][r.label][0]?.unavailable) continue; // said once is enough
          const res = r.go();
          raw.throughput[m][r.label].push(res);
          const what = res.unavailable
            ? "not available"
            : res.error
              ? `ERROR ${res.error}`
              : `${res.examplesPerSec.toFixed(1)} ex/s (${res.steps} steps, ${res.seconds.toFixed(2)} s)`;
          process.stderr.write(`  ${m} ${r.label} #${rep + 1}: ${what} [${res.wall.toFixed(1)} s wall]\n`);
        }
      }
      const torchOk = opts.torch ? raw.throughput[m].pytorch.filter((x) => !x.error) : [];
      const ref = torchOk.length ? median(torchOk.map((x) => x.examplesPerSec)) : undefined;
      const torchParams = torchOk.length ? torchOk[0].params : undefined;
      for (const r of runs) {
        const all = raw.throughput[m][r.label];
        if (all[0].unavailable) {
          rows.push([m, r.label, batch, "", "not available", "", "", "", all[0].unavailable]);
          continue;
        }
        const ok = all.filter((x) => !x.error);
        if (!ok.length) {
          rows.push([m, r.label, batch, "", "", "", "", "", `ERROR: ${all[0].error}`]);
          continue;
        }
        const eps = ok.map((x) => x.examplesPerSec);
        const med = median(eps);
        const minSteps = Math.min(...ok.map((x) => x.steps));
        const capped = minSteps < opts.steps || Math.min(...ok.map((x) => x.warmup)) < opts.warmup;
        if (capped) notes.add("* fewer steps than asked: the run hit the time cap (--max-seconds)");
        const note = [];
        if (all.length > ok.length) note.push(`${all.length - ok.length} of ${all.length} repeats failed: ${all.find((x) => x.error).error}`);
        if (ok.some((x) => x.leakedTensors)) note.push(`leaked ${Math.max(...ok.map((x) => x.leakedTensors))} tensors`);
        if (torchParams && ok[0].params !== torchParams) note.push(`${ok[0].params} parameters, PyTorch's twin ${torchParams}: not the same model`);
        const f = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
        rows.push([
          m,
          r.label + (ok[0].threads ? ` (${ok[0].threads} thr)` : ""),
          batch,
          `${minSteps}${capped ? "*" : ""}`,
          f(med),
          ok.length > 1 ? `${f(Math.min(...eps))}-${f(Math.max(...eps))}` : "",
          ref ? `${(med / ref).toFixed(3)}x` : "-",
          Number.isFinite(ok[ok.length - 1].loss) ? ok[ok.length - 1].loss.toFixed(3) : String(ok[ok.length - 1].loss),
          note.join("; "),
        ]);
      }
    }
    console.log(table(rows, ["model", "run", "batch", "steps", "examples/sec", "min-max", "vs pytorch", "last loss", "note"], 2));
    for (const m of opts.models) console.log(`${m}: ${MODELS[m].describe}`);
    for (const n of notes) console.log(n);
    console.log("examples/sec = timed steps x batch / seconds; a step is forward + loss + backward + SGD update; each run a fresh process.");
  }
  if (opts.json) {
    fs.writeFileSync(opts.json, JSON.stringify({ machine: header({ ...opts, torch: false }), options: opts, results: raw }, null, 2));
    console.log(`raw results: ${opts.json}`);
  }
}

if (process.argv.includes("--child")) {
  child().catch((e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  });
} else {
  parent();
}
