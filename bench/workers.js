#!/usr/bin/env node
/**
 * DataLoader worker benchmark (issue 16): a preprocessing-heavy dataset read
 * with `numWorkers` 0, 1 and 2, as examples/sec of the loader alone (the
 * consumer only disposes each batch), so the number is what preprocessing
 * costs and what the workers win back.
 *
 * The dataset: random (seeded) byte images with labels 0-9, a user's own
 * class with `length` and `get(i)`. Two workloads, each preprocessing
 * written as one self-contained function (what `preprocess` needs: it runs
 * from its source text in the workers):
 *
 * - `crop96`: 4096 colour images of 96x96, torchvision's
 *   `Compose([RandomCrop(96, padding=8), RandomHorizontalFlip(),
 *   GaussianBlur(5, sigma=1), ToTensor(), Normalize(mean, std)])`: a lot of
 *   memory traffic per example (three 110 KB float images), batch 64;
 * - `elastic28`: 16384 Fashion-MNIST-sized images (28x28x1), elastic
 *   distortion (Simard et al. 2003) + Normalize: much computation per byte,
 *   batch 128.
 *
 * Each setting runs `--warmup` epochs, then `--epochs` timed epochs (workers
 * start with each epoch, so their start-up and the warm-up of their compiled
 * code are in the time; "2p" keeps them between epochs, PyTorch's
 * `persistent_workers`); the table shows
 * the median and the best epoch and the speed-up of the median over
 * numWorkers 0. Run it on an idle machine: it prints the load average, and
 * with `--wait-idle` waits (up to 10 minutes) for the 1-minute load average
 * to fall below 1 first. PyTorch's twin (bench/workers_torch.py, torchvision's
 * transforms through torch's DataLoader) runs after it on 1 and on 2 threads
 * (--torch-threads 1,2); each setting's d2l-ts / PyTorch ratio is to the faster.
 * See bench/README.md. Usage:
 *
 *   npx tsc -p . && node bench/workers.js [--workloads crop96,elastic28] [--workers 0,1,2,2p]
 *        [--examples N] [--batch N] [--epochs 3] [--warmup 1] [--backend cpu] [--wait-idle]
 *        [--torch-threads 1,2] [--no-torch] [--timeout 1800] [--json FILE]
 */
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");

const c = require("./common");

const ROOT = c.ROOT;
const { arg } = c;
function int(name, fallback) {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isInteger(v) || v < 0) {
    console.error(`bench/workers: --${name} must be a whole number, got ${arg(name)}`);
    process.exit(2);
  }
  return v;
}

// "2p": 2 workers with persistentWorkers (kept, warm, between epochs)
const WORKERS = arg("workers", "0,1,2,2p")
  .split(",")
  .map((w) => ({ numWorkers: parseInt(w, 10), persistent: w.endsWith("p"), label: w.endsWith("p") ? `${parseInt(w, 10)} (persistent)` : w }));
const WORKLOAD_NAMES = arg("workloads", "crop96,elastic28").split(",");
const EPOCHS = Math.max(1, int("epochs", 3));
const WARMUP = int("warmup", 1);
const BACKEND = arg("backend", "cpu");
const TORCH_THREADS = c.torchThreads("bench/workers");
const TIMEOUT = c.positive("bench/workers", "timeout", 1800);
const load = c.loadavg;

async function waitIdle() {
  const until = Date.now() + 10 * 60 * 1000;
  while (os.loadavg()[0] >= 1 && Date.now() < until) {
    console.error(`bench/workers: load average ${load()}; waiting for the machine to be idle (1-minute value below 1)`);
    await new Promise((r) => setTimeout(r, 30000));
  }
}

/** A user's dataset: images as bytes, made once from a seeded generator. */
class RandomImages {
  constructor(n, size, channels) {
    this.n = n;
    this.size = size;
    this.channels = channels;
    this.images = new Uint8Array(n * size * size * channels);
    let s = 12345;
    for (let i = 0; i < this.images.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      this.images[i] = s >>> 24;
    }
  }
  get length() {
    return this.n;
  }
  get(i) {
    const row = this.size * this.size * this.channels;
    return [{ data: this.images.subarray(i * row, (i + 1) * row), shape: [this.size, this.size, this.channels] }, i % 10];
  }
}

/**
 * RandomCrop(size, padding=8) + RandomHorizontalFlip + GaussianBlur(5, sigma=1) + Normalize,
 * on one HWC byte image. Self-contained: it runs from its source text in the workers.
 */
function augment(x, y, ctx) {
  const [h, w, c] = x.shape;
  const pad = 8;
  const top = Math.floor(ctx.random() * (2 * pad + 1)) - pad;
  const left = Math.floor(ctx.random() * (2 * pad + 1)) - pad;
  const flip = ctx.random() < 0.5;
  const src = x.data;
  // crop (zero padding outside) and flip, to floats in [0, 1]
  const a = new Float32Array(h * w * c);
  for (let r = 0; r < h; r++) {
    const sr = r + top;
    for (let q = 0; q < w; q++) {
      const sq0 = q + left;
      const sq = flip ? w - 1 - sq0 : sq0;
      if (sr < 0 || sr >= h || sq < 0 || sq >= w) continue;
      for (let k = 0; k < c; k++) a[(r * w + q) * c + k] = src[(sr * w + sq) * c + k] / 255;
    }
  }
  // separable 5-tap Gaussian blur, sigma 1 (edges clamped)
  const g = [0.0544887, 0.2442013, 0.40262, 0.2442013, 0.0544887];
  const b = new Float32Array(h * w * c);
  for (let r = 0; r < h; r++) {
    for (let q = 0; q < w; q++) {
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let t = -2; t <= 2; t++) s += g[t + 2] * a[(r * w + Math.min(w - 1, Math.max(0, q + t))) * c + k];
        b[(r * w + q) * c + k] = s;
      }
    }
  }
  const out = new Float32Array(h * w * c);
  const { mean, std } = ctx.args;
  for (let r = 0; r < h; r++) {
    for (let q = 0; q < w; q++) {
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let t = -2; t <= 2; t++) s += g[t + 2] * b[(Math.min(h - 1, Math.max(0, r + t)) * w + q) * c + k];
        out[(r * w + q) * c + k] = (s - mean[k]) / std[k];
      }
    }
  }
  return [{ data: out, shape: [h, w, c] }, y];
}

/**
 * Elastic distortion (Simard, Steinkraus and Platt 2003, the classic MNIST
 * augmentation): two random displacement fields smoothed by a Gaussian
 * (sigma 4, 25 taps) and scaled by alpha, bilinear resampling, then
 * Normalize, on one 28x28 byte image. Much computation per byte.
 */
function elastic(x, y, ctx) {
  const [h, w] = x.shape;
  const { alpha, sigma, mean, std } = ctx.args;
  const rad = Math.ceil(3 * sigma);
  const g = new Float32Array(2 * rad + 1);
  let gs = 0;
  for (let t = -rad; t <= rad; t++) gs += g[t + rad] = Math.exp((-t * t) / (2 * sigma * sigma));
  for (let t = 0; t < g.length; t++) g[t] /= gs;
  const field = () => {
    const f = new Float32Array(h * w);
    const tmp = new Float32Array(h * w);
    for (let i = 0; i < f.length; i++) f[i] = ctx.random() * 2 - 1;
    for (let r = 0; r < h; r++) {
      for (let q = 0; q < w; q++) {
        let s = 0;
        for (let t = -rad; t <= rad; t++) s += g[t + rad] * f[r * w + Math.min(w - 1, Math.max(0, q + t))];
        tmp[r * w + q] = s;
      }
    }
    for (let r = 0; r < h; r++) {
      for (let q = 0; q < w; q++) {
        let s = 0;
        for (let t = -rad; t <= rad; t++) s += g[t + rad] * tmp[Math.min(h - 1, Math.max(0, r + t)) * w + q];
        f[r * w + q] = alpha * s;
      }
    }
    return f;
  };
  const dx = field();
  const dy = field();
  const src = x.data;
  const at = (r, q) => (r >= 0 && r < h && q >= 0 && q < w ? src[r * w + q] : 0);
  const out = new Float32Array(h * w);
  for (let r = 0; r < h; r++) {
    for (let q = 0; q < w; q++) {
      const sy = r + dy[r * w + q];
      const sx = q + dx[r * w + q];
      const r0 = Math.floor(sy);
      const q0 = Math.floor(sx);
      const fy = sy - r0;
      const fx = sx - q0;
      const v = (1 - fy) * ((1 - fx) * at(r0, q0) + fx * at(r0, q0 + 1)) + fy * ((1 - fx) * at(r0 + 1, q0) + fx * at(r0 + 1, q0 + 1));
      out[r * w + q] = (v / 255 - mean) / std;
    }
  }
  return [{ data: out, shape: [h, w, 1] }, y];
}

const WORKLOADS = {
  crop96: {
    describe: "96x96x3 images, RandomCrop(pad 8) + flip + GaussianBlur(5) + Normalize (memory-heavy)",
    size: 96,
    channels: 3,
    examples: 4096,
    batch: 64,
    fn: augment,
    args: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  },
  elastic28: {
    describe: "28x28x1 images, elastic distortion (alpha 34, sigma 4) + Normalize (compute-heavy)",
    size: 28,
    channels: 1,
    examples: 16384,
    batch: 128,
    fn: elastic,
    args: { alpha: 34, sigma: 4, mean: 0.286, std: 0.353 },
  },
};

async function runWorkload(tf, d2l, name) {
  const wl = WORKLOADS[name];
  if (!wl) {
    console.error(`bench/workers: unknown workload ${name}; expected some of ${Object.keys(WORKLOADS).join(",")}`);
    process.exit(2);
  }
  const examples = int("examples", wl.examples);
  const batch = int("batch", wl.batch);
  const ds = new RandomImages(examples, wl.size, wl.channels);
  const rows = [];
  let reference;
  for (const { numWorkers, persistent, label } of WORKERS) {
    const loader = new d2l.DataLoader(ds, { batchSize: batch, shuffle: true, seed: 0, preprocess: wl.fn, preprocessArgs: wl.args, numWorkers, persistentWorkers: persistent });
    const rates = [];
    let checksum = 0;
    for (let e = 0; e < WARMUP + EPOCHS; e++) {
      const t0 = performance.now();
      let n = 0;
      for await (const [X, y] of loader) {
        n += X.shape[0];
        if (e === WARMUP) checksum += X.dataSync()[0]; // the same augmentation for every numWorkers
        tf.dispose([X, y]);
      }
      const seconds = (performance.now() - t0) / 1000;
      if (e >= WARMUP) rates.push(n / seconds);
    }
    loader.dispose();
    rates.sort((p, q) => p - q);
    const median = rates[Math.floor(rates.length / 2)];
    reference ??= median;
    rows.push({ numWorkers: label, median, best: rates[rates.length - 1], speedup: median / reference, checksum });
    console.error(`${name}, numWorkers ${label}: ${median.toFixed(0)} examples/sec (median of ${rates.length})`);
  }
  return { name, describe: `${examples} ${wl.describe}, batch ${batch}`, rows, same: new Set(rows.map((r) => r.checksum.toFixed(6))).size === 1 };
}

/** PyTorch's twin on each thread count: { label -> { "workload/numWorkers" -> examples/sec median } } and the raw runs. */
function torchRuns() {
  const args = ["--epochs", String(EPOCHS), "--warmup", String(WARMUP), "--workloads", WORKLOAD_NAMES.join(","), "--json"];
  if (arg("examples", "")) args.push("--examples", String(int("examples", 0)));
  if (arg("batch", "")) args.push("--batch", String(int("batch", 0)));
  const out = {};
  for (const t of TORCH_THREADS) {
    const label = `pytorch ${t} thr`;
    const res = c.runChild(c.PYTHON, [path.join(__dirname, "workers_torch.py"), "--threads", String(t), ...args], TIMEOUT);
    console.error(`${label}: ${res.error ? "ERROR " + res.error : `done in ${res.wall.toFixed(0)} s, load average before ${res.load[0]}`}`);
    out[label] = res;
  }
  return out;
}

async function main() {
  if (process.argv.includes("--wait-idle")) await waitIdle();
  const tf = require(path.join(ROOT, "node_modules/@tensorflow/tfjs"));
  const d2l = require(path.join(ROOT, "dist/lib/index.js"));
  await d2l.useBackend(BACKEND);
  for (const l of c.machineHeader(TORCH_THREADS)) console.log(l);
  const loadBefore = load();
  const results = [];
  for (const name of WORKLOAD_NAMES) results.push(await runWorkload(tf, d2l, name));
  const loadAfterD2l = load();
  const torch = torchRuns();
  const labels = Object.keys(torch);
  const torchRate = (label, workload, workers) => {
    const r = torch[label];
    const row = r && !r.error ? r.rows.find((x) => x.workload === workload && x.numWorkers === workers) : undefined;
    return row ? row.median : undefined;
  };
  console.log("");
  console.log(`DataLoader preprocessing in worker threads (loader alone: the consumer only disposes each batch); ${EPOCHS} timed epochs after ${WARMUP} warm-up`);
  console.log(`d2l-ts: backend ${BACKEND}; load average before ${loadBefore}, after ${loadAfterD2l}`);
  for (const l of labels) if (torch[l].error) console.log(`${l}: ERROR ${torch[l].error}`);
  console.log("");
  const torchCols = labels.map((l) => `${l.replace("pytorch", "PyTorch")} ex/s`);
  const head = ["workload", "numWorkers", "d2l-ts ex/s (median)", "best", "speed-up", ...torchCols, ...(labels.length ? ["PyTorch speed-up", "d2l-ts / best PyTorch"] : [])];
  console.log(`| ${head.join(" | ")} |`);
  console.log(
    `|---|${head
      .slice(1)
      .map(() => "---:|")
      .join("")}`,
  );
  for (const r of results) {
    const bestAt = (workers) => c.best(Object.fromEntries(labels.map((l) => [l, torchRate(l, r.name, workers)])));
    const torch0 = bestAt("0");
    for (const row of r.rows) {
      const cells = [r.name, row.numWorkers, row.median.toFixed(0), row.best.toFixed(0), `${row.speedup.toFixed(2)}x`];
      if (labels.length) {
        const ref = bestAt(row.numWorkers);
        for (const l of labels) {
          const v = torchRate(l, r.name, row.numWorkers);
          cells.push(v === undefined ? "-" : v.toFixed(0) + (ref && ref.label === l ? " (faster)" : ""));
        }
        cells.push(ref && torch0 ? `${(ref.value / torch0.value).toFixed(2)}x` : "-", c.ratio(row.median, ref));
      }
      console.log(`| ${cells.join(" | ")} |`);
    }
  }
  console.log("");
  for (const r of results) console.log(`${r.name}: ${r.describe}${r.same ? "" : " — WARNING: the batches differ between settings"}`);
  if (labels.length) {
    console.log(
      "PyTorch: torchvision's transforms through torch.utils.data.DataLoader (bench/workers_torch.py); its speed-up is the faster run's over the faster run's at numWorkers 0;",
    );
    console.log("d2l-ts / best PyTorch: d2l-ts' median over the faster PyTorch run's, per setting (different arithmetic: compare the speed-ups first).");
  }
  console.log(c.loadFooter());
  const out = arg("json", undefined);
  if (out) fs.writeFileSync(out, JSON.stringify({ backend: BACKEND, load: [loadBefore, loadAfterD2l, load()], results, torch }, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
