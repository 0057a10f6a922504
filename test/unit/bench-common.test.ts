/**
 * bench/common.js, the code every benchmark driver in bench/ shares: the
 * choice of the reference (the faster PyTorch run), the machine's peak, the
 * option checks, child runs; and bench/run.js end to end on one tiny workload
 * (no PyTorch: its header, both tables and the load average at the end).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../../..");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const common = require(path.join(ROOT, "bench", "common.js")) as {
  best(values: Record<string, number | undefined>): { label: string; value: number } | undefined;
  ratio(value: number, ref: { label: string; value: number } | undefined): string;
  median(xs: number[]): number;
  peakFlops(): { gflops: number; text: string };
  runChild(cmd: string, args: string[], timeout: number): { error?: string; wall: number; [k: string]: unknown };
  trainSteps(
    tf: { memory(): { numTensors: number } },
    step: () => { data(): Promise<number[]>; dispose(): void },
    o: { steps: number; warmup: number; maxSeconds: number; minSeconds?: number },
  ): Promise<{ warm: number; done: number; seconds: number; loss: number; leaked: number }>;
};

/** A step of about 1 ms that counts its calls. */
function countingStep(): { step: () => { data(): Promise<number[]>; dispose(): void }; calls: () => number } {
  let n = 0;
  return {
    step: () => {
      n++;
      const until = performance.now() + 1;
      while (performance.now() < until);
      return { data: async () => [n], dispose: () => undefined };
    },
    calls: () => n,
  };
}
const noTensors = { memory: () => ({ numTensors: 0 }) };

test("trainSteps runs the asked steps, on until --min-seconds has passed (the warm-up half of it), and stops at the cap", async () => {
  const plain = countingStep();
  const a = await common.trainSteps(noTensors, plain.step, { steps: 3, warmup: 2, maxSeconds: 10 });
  assert.deepEqual([a.warm, a.done, plain.calls()], [2, 3, 5]);
  const timed = countingStep();
  const b = await common.trainSteps(noTensors, timed.step, { steps: 3, warmup: 2, maxSeconds: 10, minSeconds: 0.2 });
  assert.ok(b.warm > 20 && b.done > 40, `warm-up ${b.warm} and timed ${b.done} steps of 1 ms in 0.1 s and 0.2 s`);
  assert.ok(b.seconds >= 0.2 && b.seconds < 1, `timed ${b.seconds} s`);
  const capped = countingStep();
  const c = await common.trainSteps(noTensors, capped.step, { steps: 1_000_000, warmup: 1_000_000, maxSeconds: 0.1, minSeconds: 0.05 });
  assert.ok(c.seconds < 0.5 && c.done < 1000 && c.warm < 1000, `capped at 0.1 s: ${c.seconds} s, ${c.warm} + ${c.done} steps`);
  const none = countingStep();
  const d = await common.trainSteps(noTensors, none.step, { steps: 1, warmup: 0, maxSeconds: 10, minSeconds: 0.05 });
  assert.equal(d.warm, 0, "no warm-up asked: none, whatever --min-seconds");
});

test("the reference is the faster PyTorch run; runs that failed or were not made do not count", () => {
  assert.deepEqual(common.best({ "pytorch 1 thr": 120, "pytorch 2 thr": 80 }), { label: "pytorch 1 thr", value: 120 });
  assert.deepEqual(common.best({ "pytorch 1 thr": undefined, "pytorch 2 thr": 80 }), { label: "pytorch 2 thr", value: 80 });
  assert.deepEqual(common.best({ "pytorch 1 thr": NaN, "pytorch 2 thr": 5 }), { label: "pytorch 2 thr", value: 5 });
  assert.equal(common.best({}), undefined);
  assert.equal(common.ratio(60, { label: "x", value: 120 }), "0.500x");
  assert.equal(common.ratio(60, undefined), "-");
  assert.equal(common.median([3, 1, 2]), 2);
  assert.equal(common.median([4, 1, 3, 2]), 2.5);
});

test("the peak is cores x clock x FLOPs per cycle of the widest ISA in /proc/cpuinfo", () => {
  const info = fs.readFileSync("/proc/cpuinfo", "utf8");
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? "").split(/\s+/));
  const perCycle = flags.has("avx512f") ? 64 : flags.has("avx2") && flags.has("fma") ? 32 : 16;
  const mhz = Number(/^cpu MHz\s*:\s*(.*)$/m.exec(info)?.[1]);
  const peak = common.peakFlops();
  assert.ok(Math.abs(peak.gflops - (os.cpus().length * mhz * perCycle) / 1000) < 1e-6, peak.text);
  assert.match(peak.text, new RegExp(`= ${os.cpus().length} cores x [\\d.]+ GHz .* x ${perCycle} FLOPs/cycle`));
});

test("a child's last JSON line is its result; a failing child's error line is the message, not the stack", () => {
  const ok = common.runChild(process.execPath, ["-e", 'console.log("warming up"); console.log(JSON.stringify({ x: 1 })); console.log(JSON.stringify({ x: 2 }))'], 30);
  assert.equal(ok.x, 2);
  assert.ok(ok.wall >= 0);
  const bad = common.runChild(process.execPath, ["-e", 'throw new RangeError("no such kernel")'], 30);
  assert.match(String(bad.error), /RangeError: no such kernel/);
  const slow = common.runChild(process.execPath, ["-e", "setTimeout(() => {}, 10000)"], 0.5);
  assert.match(String(slow.error), /timed out after 0.5 s/);
});

test("bench/run.js says what --torch-threads and --workloads expect", () => {
  const threads = spawnSync(process.execPath, [path.join(ROOT, "bench", "run.js"), "--torch-threads", "1,two"], { encoding: "utf8" });
  assert.equal(threads.status, 2);
  assert.match(threads.stderr, /--torch-threads takes positive integers separated by commas \(e\.g\. 1,2\), got 1,two/);
  const workload = spawnSync(process.execPath, [path.join(ROOT, "bench", "run.js"), "--workloads", "vgg"], { encoding: "utf8" });
  assert.equal(workload.status, 2);
  assert.match(workload.stderr, /unknown workload "vgg"; expected some of softmax,mlp,lenet,resnet,gru,lstm,transformer/);
  const min = spawnSync(process.execPath, [path.join(ROOT, "bench", "run.js"), "--min-seconds", "20"], { encoding: "utf8" });
  assert.equal(min.status, 2);
  assert.match(min.stderr, /--min-seconds must be a number of seconds from 0 to --max-seconds \(15\), got 20/);
});

test("bench/run.js on one tiny workload prints the header with the load average and peak, both tables with memory and GFLOP/s, and the load at the end", () => {
  const r = spawnSync(
    process.execPath,
    [path.join(ROOT, "bench", "run.js"), "--workloads", "mlp", "--backends", "cpu", "--no-torch", "--steps", "1", "--warmup", "1", "--repeats", "1", "--max-seconds", "5"],
    { encoding: "utf8", cwd: ROOT, timeout: 120000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^machine: .*load average at start [\d.]+ [\d.]+ [\d.]+$/m);
  assert.match(out, /^peak fp32 \d+ GFLOP\/s = /m);
  assert.match(out, /examples\/sec\s+min-max\s+vs best pytorch\s+peak RSS MiB\s+GFLOP\/s \(% of peak\)/);
  const row = out.split("\n").find((l) => /^mlp\s+tfjs cpu/.test(l));
  assert.ok(row, out);
  // Without PyTorch there is no reference: the ratio is "-"; the run's memory is a plausible node process; GFLOP/s has its share of the peak.
  assert.match(row, /\s-\s+\d{2,5}\s+[\d.]+ \([\d.]+%\)\s+[\d.]+/);
  assert.match(out, /^summary \(examples\/sec/m);
  assert.match(out, /^load average at the end: [\d.]+ [\d.]+ [\d.]+$/m);
});
