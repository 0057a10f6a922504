/**
 * What a report needs to know about a run: the environment it ran in and the
 * summary lines training printed. Inside the kernel both travel in the
 * metadata of a display_data output (under the key {@link REPORT_METADATA_KEY}),
 * so they are saved with the notebook and `d2l-ts export` finds them without
 * running it again. In plain Node they are printed, nothing else.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backendInfo } from "./backend";
import { inKernel, showBundle } from "./output";
import { REPORT_METADATA_KEY } from "./names";

/**
 * The key under which d2l records report data in an output's metadata:
 * `{ "d2l-ts": { environment, summary? } }` (see {@link RunEnvironment}).
 *
 * @example
 * const rec = output.metadata[d2l.REPORT_METADATA_KEY]; // in a saved notebook's output
 */
export { REPORT_METADATA_KEY };

/** The environment a notebook ran in, as {@link environment} reports it. */
export interface RunEnvironment {
  /** d2l-ts version (its package.json). */
  d2lTs: string;
  /** @tensorflow/tfjs version. */
  tfjs: string;
  /** The tfjs backend: "wasm", "cpu", "tensorflow", "webgpu". */
  backend: string;
  /** Where tensors live in the book's words: "cpu" or "gpu:0". */
  device: string;
  /** What computes, in words (the GPU adapter, "WebAssembly SIMD", ...). */
  adapter: string;
  /** Threads the backend computes with. */
  threads: number;
  /** Node.js version. */
  node: string;
  /** Operating system and CPU architecture, e.g. "linux x64". */
  platform: string;
  /** When this was recorded, ISO 8601 with the time zone offset of the machine. */
  date: string;
}

/** What d2l puts under {@link REPORT_METADATA_KEY} in an output's metadata. */
export interface ReportRecord {
  environment: RunEnvironment;
  /** The book's summary lines of one training run, when the output is one. */
  summary?: string[];
}

let root: string | null | undefined;

/**
 * The folder d2l-ts is installed in (the one with its `package.json`), for
 * a script or child process that should load the same d2l-ts and tfjs as
 * the kernel: `require(d2l.packageRoot())`. No book equivalent (Python finds
 * an installed package by name; a notebook's `require` resolves from the
 * notebook's folder instead). Throws when the files were copied out of
 * their package.
 *
 * @example
 * const root = d2l.packageRoot();
 * // in a script run with `node`: const d2l = require(root);
 * //   const tf = require(require.resolve("@tensorflow/tfjs", { paths: [root] }));
 */
export function packageRoot(): string {
  if (root === undefined) {
    root = null;
    for (let d = __dirname; path.dirname(d) !== d; d = path.dirname(d)) {
      const f = path.join(d, "package.json");
      if (!fs.existsSync(f)) continue;
      try {
        if ((JSON.parse(fs.readFileSync(f, "utf8")) as { name?: string }).name === "d2l-ts") {
          root = d;
          break;
        }
      } catch {
        // an unreadable package.json on the way up: keep looking
      }
    }
  }
  if (root === null) throw new Error(`packageRoot: no package.json of d2l-ts above ${__dirname}; are d2l-ts' files outside their package?`);
  return root;
}

let version: string | undefined;

/** d2l-ts' version from its package.json ("unknown" when it cannot be read). */
function d2lVersion(): string {
  if (version !== undefined) return version;
  try {
    version = String((JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version?: string }).version ?? "unknown");
  } catch {
    version = "unknown";
  }
  return version;
}

/** The local time with its offset, e.g. 2025-03-01T14:05:09+01:00 (a report's reader may be elsewhere). */
function localIsoDate(d: Date): string {
  const pad = (n: number): string => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(off / 60)}:${pad(off % 60)}`
  );
}

/**
 * The environment this code runs in now: d2l-ts and tfjs versions, backend,
 * device, threads, Node.js, platform and date. No book equivalent (d2l-ts'
 * own): what a report's header shows.
 *
 * @example
 * const env = d2l.environment();
 * console.log(`${env.backend} on ${env.device}, tfjs ${env.tfjs}`); // "wasm on cpu, tfjs 4.22.0"
 */
export function environment(): RunEnvironment {
  const info = backendInfo();
  return {
    d2lTs: d2lVersion(),
    tfjs: info.tfjsVersion,
    backend: info.name,
    device: info.device,
    adapter: info.adapter,
    threads: info.threads,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    date: localIsoDate(new Date()),
  };
}

/**
 * One line for people: "d2l-ts 0.1.0, tfjs 4.22.0, backend wasm (2 threads) on cpu, Node v20.19.0, linux x64, 2025-03-01T14:05:09+01:00".
 *
 * @example
 * d2l.describeEnvironment(d2l.environment());
 */
export function describeEnvironment(env: RunEnvironment): string {
  const threads = env.threads > 1 ? ` (${env.threads} threads)` : "";
  return `d2l-ts ${env.d2lTs}, tfjs ${env.tfjs}, backend ${env.backend}${threads} on ${env.device}, Node ${env.node}, ${env.platform}, ${env.date}`;
}

/**
 * Show the run's environment as an output of this cell (one line of text)
 * and record it in the output's metadata, where `d2l-ts export` finds it for
 * the report's header. `d2l-ts export --execute` runs this after the
 * notebook's last cell; call it yourself to stamp a notebook you run by hand.
 * No book equivalent (d2l-ts' own). In plain Node it prints the line.
 *
 * @example
 * d2l.recordEnvironment(); // shows: d2l-ts 0.1.0, tfjs 4.22.0, backend wasm (2 threads) on cpu, ...
 */
export function recordEnvironment(): RunEnvironment {
  const env = environment();
  const record: ReportRecord = { environment: env };
  showBundle({ "text/plain": describeEnvironment(env) }, { [REPORT_METADATA_KEY]: record });
  return env;
}

/**
 * Show training summary lines (the book's `print`s after `train_ch6`):
 * in the kernel as one text output whose metadata carries the lines and the
 * environment (so a report lists them), in plain Node printed. What
 * `d2l.PrintSummary` calls; d2l-ts' own.
 *
 * @example
 * d2l.showSummary(["loss 0.447, train acc 0.848, test acc 0.829", "12345.6 examples/sec on wasm (2 threads)"]);
 */
export function showSummary(lines: readonly string[]): void {
  if (!Array.isArray(lines) || !lines.every((l) => typeof l === "string")) {
    throw new Error(`showSummary: expected an array of strings (the summary lines); got ${JSON.stringify(lines)}`);
  }
  const text = lines.join("\n");
  if (!inKernel()) {
    console.log(text);
    return;
  }
  const record: ReportRecord = { environment: environment(), summary: [...lines] };
  showBundle({ "text/plain": text }, { [REPORT_METADATA_KEY]: record });
}
