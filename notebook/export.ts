/**
 * `d2l-ts export NOTEBOOK --to html|pdf|md [--execute] [--out F]`: a report
 * of a notebook, built on Debian's nbconvert (no PyPI).
 *
 * 1. With `--execute` the notebook is run first through the d2l-ts kernel
 *    (nbclient, the kernel's working directory is the notebook's folder),
 *    with one cell added at the end that calls `d2l.recordEnvironment()`:
 *    the kernel itself says what it ran on. The cell is left out of the
 *    export.
 * 2. The report header (a Markdown cell after the notebook's title) lists
 *    the environment and every training summary. Both come from output
 *    metadata d2l wrote (`{"d2l-ts": {environment, summary}}`: the
 *    `trainCh*` summary outputs and `d2l.recordEnvironment()`), so a notebook
 *    executed and saved earlier reports without running again. Older
 *    notebooks, whose summaries are plain printed lines, are read from their
 *    text; what cannot be found reads "not recorded".
 * 3. Every plot appears: a vega-lite output that has no PNG gets one drawn
 *    now; nbconvert shows the PNG (it ignores vega-lite JSON and would strip
 *    raw SVG). Plotly figures (`d2l.plotly`) in HTML become interactive:
 *    plotly.js (from npm's plotly.js-dist-min) is inlined once into the page,
 *    each figure is a div drawn by `Plotly.newPlot`, and its static PNG stays
 *    inside the div until plotly has drawn (and for readers without scripts).
 * 4. HTML and Markdown come from nbconvert (`--to html`, `--to markdown`; the
 *    Markdown's images are written to a `NAME_files/` folder beside it). PDF
 *    is the HTML printed by headless Chromium (Debian's `chromium`) with flags
 *    that keep it off the network; plotly figures are their PNGs there.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import { PROJECT_ROOT, packageVersion, dependencyVersion } from "../kernel/info";
import { KERNEL_NAME, installKernelSpec, requireJupyterPython, specIsCurrent } from "../cli/install";
import { UsageError, takeFlag, takeOption } from "../cli/args";

/** What `--to` takes. */
export type ExportFormat = "html" | "pdf" | "md";

const USAGE = `Usage: d2l-ts export NOTEBOOK [--to html|pdf|md] [--execute] [--out FILE] [--timeout S] [--allow-errors]

  --to html|pdf|md   the format (default html; "markdown" is md). PDF is the HTML printed by headless
                     Chromium (apt-get install chromium); Markdown writes its images to a NAME_files/ folder beside it.
  --execute          run the notebook first (kernel ${KERNEL_NAME}, in the notebook's folder); the report
                     header then names the environment the kernel reports. Without it, the header uses
                     what the notebook's outputs recorded ("not recorded" otherwise).
  --out FILE         where to write (default: the notebook's path with .html, .pdf or .md)
  --timeout S        seconds a cell may run with --execute (default 1800)
  --allow-errors     with --execute, export even if a cell fails (the error is in the report)
  D2L_CHROMIUM=PATH  the Chromium (or Chrome) binary for PDF (default: chromium on PATH)`;

/** A command-line mistake: exit code 2 with the usage. */
/** A mistake in the export command line (the shared UsageError). */
export { UsageError as ExportUsageError };

/** The metadata key d2l records under (lib/report.ts' REPORT_METADATA_KEY). */
export const RECORD_KEY = "d2l-ts";
const VEGALITE = "application/vnd.vegalite.v5+json";
const PLOTLY = "application/vnd.plotly.v1+json";
/** Marks the cell `--execute` appends, so the export can find and drop it. */
const ENV_CELL_MARK = "export-environment";

// ---- notebook JSON (nbformat 4), as much as the export needs ----

/** One output of a code cell. */
export interface NbOutput {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
  [key: string]: unknown;
}

/** One cell. */
export interface NbCell {
  cell_type: string;
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: NbOutput[];
  execution_count?: number | null;
  [key: string]: unknown;
}

/** A notebook. */
export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NbCell[];
}

function joinText(t: unknown): string {
  return Array.isArray(t) ? t.join("") : typeof t === "string" ? t : "";
}

/** Read a notebook file; a clear error if it is not an nbformat 4 notebook. */
export function readNotebook(file: string): Notebook {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`cannot read the notebook ${file}: ${(e as Error).message}`);
  }
  let nb: Partial<Notebook>;
  try {
    nb = JSON.parse(text) as Partial<Notebook>;
  } catch (e) {
    throw new Error(`${file} is not a notebook: it is not JSON (${(e as Error).message})`);
  }
  if (typeof nb !== "object" || nb === null || !Array.isArray(nb.cells)) throw new Error(`${file} is not a notebook: it has no "cells" list`);
  if (nb.nbformat !== 4) throw new Error(`${file} is nbformat ${String(nb.nbformat)}; d2l-ts export reads nbformat 4 (open and save it in Jupyter to upgrade)`);
  return nb as Notebook;
}

// ---- what the report says ----

/** The environment as d2l records it (lib/report.ts' RunEnvironment). */
export interface RecordedEnvironment {
  d2lTs?: string;
  tfjs?: string;
  backend?: string;
  device?: string;
  adapter?: string;
  threads?: number;
  node?: string;
  platform?: string;
  date?: string;
}

/** One training run's summary lines, with the cell that printed them. */
export interface TrainingSummary {
  /** The cell's execution count (what nbconvert prints as In [n]), or null. */
  cell: number | null;
  lines: string[];
}

/** What the header says and where it came from. */
export interface ReportInfo {
  environment: RecordedEnvironment | undefined;
  /** "kernel" (asked with --execute), "outputs" (recorded by d2l), "summary line" (read from printed text), or "none". */
  source: "kernel" | "outputs" | "summary line" | "none";
  summaries: TrainingSummary[];
}

interface Record_ {
  environment?: RecordedEnvironment;
  summary?: string[];
}

function recordOf(o: NbOutput): Record_ | undefined {
  const r = o.metadata?.[RECORD_KEY];
  return typeof r === "object" && r !== null && !Array.isArray(r) ? (r as Record_) : undefined;
}

const LOSS_LINE = /^loss -?\d+(\.\d+)?(e[-+]?\d+)?(, [a-z ]+ -?\d+(\.\d+)?(e[-+]?\d+)?)*$/;
const SPEED_LINE = /^(\d+(\.\d+)?|Infinity|NaN) examples\/sec on (.+)$/;

function isEnvCell(c: NbCell): boolean {
  const m = c.metadata?.[RECORD_KEY];
  return typeof m === "object" && m !== null && (m as { role?: unknown }).role === ENV_CELL_MARK;
}

/**
 * Find the environment and the training summaries in a notebook's outputs:
 * d2l's records first (the cell `--execute` added wins for the environment),
 * else the summary lines' text (backend only, from "... examples/sec on wasm (2 threads)").
 */
export function collectReport(nb: Notebook): ReportInfo {
  let env: RecordedEnvironment | undefined;
  let source: ReportInfo["source"] = "none";
  const summaries: TrainingSummary[] = [];
  let textBackend: string | undefined;
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    const count = typeof cell.execution_count === "number" ? cell.execution_count : null;
    const fromKernel = isEnvCell(cell);
    for (const o of cell.outputs ?? []) {
      const rec = recordOf(o);
      if (rec) {
        if (rec.environment && typeof rec.environment === "object") {
          if (fromKernel) {
            env = rec.environment;
            source = "kernel";
          } else if (source !== "kernel") {
            env = rec.environment;
            source = "outputs";
          }
        }
        if (Array.isArray(rec.summary) && rec.summary.every((l) => typeof l === "string")) summaries.push({ cell: count, lines: [...rec.summary] });
        continue;
      }
      if (o.output_type !== "stream" || o.name !== "stdout") continue;
      // A notebook run before summaries were recorded: the two printed lines, one after the other.
      const lines = joinText(o.text).split(/\r?\n/);
      for (let i = 0; i + 1 < lines.length; i++) {
        const speed = SPEED_LINE.exec(lines[i + 1].trim());
        if (LOSS_LINE.test(lines[i].trim()) && speed) {
          summaries.push({ cell: count, lines: [lines[i].trim(), lines[i + 1].trim()] });
          textBackend = speed[3];
          i++;
        }
      }
    }
  }
  if (!env && textBackend !== undefined) {
    const m = /^(\S+)(?: \((.*)\))?$/.exec(textBackend);
    const threads = m?.[2] ? /(\d+) threads/.exec(m[2]) : null;
    env = { backend: m ? m[1] : textBackend, threads: threads ? Number(threads[1]) : undefined, device: m?.[2]?.match(/gpu:\d+/)?.[0] };
    source = "summary line";
  }
  return { environment: env, source, summaries };
}

function mdEscape(s: string): string {
  return s.replace(/([\\`*_[\]|<>])/g, "\\$1");
}

/** The report header, as a Markdown cell's text. */
export function headerMarkdown(info: ReportInfo, notebookName: string, exportedAt: Date = new Date()): string {
  const nr = "not recorded";
  const e = info.environment ?? {};
  const threads = typeof e.threads === "number" && e.threads > 1 ? ` (${e.threads} threads)` : "";
  const backend = e.backend ? `${e.backend}${threads}` : nr;
  const device = e.device ? e.device + (e.adapter && e.adapter !== e.backend ? ` (${e.adapter})` : "") : nr;
  const how =
    info.source === "kernel"
      ? "reported by the kernel after the run (--execute)"
      : info.source === "outputs"
        ? "recorded in the notebook's outputs by d2l"
        : info.source === "summary line"
          ? "read from the training summary line; the rest was not recorded (export with --execute to record it)"
          : "not recorded in this notebook (export with --execute, or call d2l.recordEnvironment() in it)";
  const rows: [string, string][] = [
    ["backend", mdEscape(backend)],
    ["device", mdEscape(device)],
    ["d2l-ts", mdEscape(e.d2lTs ?? nr)],
    ["TensorFlow.js", mdEscape(e.tfjs ?? nr)],
    ["Node.js", mdEscape(e.node ? `${e.node}${e.platform ? `, ${e.platform}` : ""}` : nr)],
    ["run date", mdEscape(e.date ?? nr)],
  ];
  const out: string[] = [];
  out.push(`**Report** of \`${notebookName}\`, exported ${exportedAt.toISOString().replace(/\.\d+Z$/, "Z")} by d2l-ts ${packageVersion()}.`);
  out.push("");
  out.push("| environment | |");
  out.push("|---|---|");
  for (const [k, v] of rows) out.push(`| ${k} | ${v} |`);
  out.push("");
  out.push(`*The environment was ${how}.*`);
  out.push("");
  if (info.summaries.length === 0) {
    out.push("Training: no training summary in this notebook's outputs.");
  } else {
    out.push("Training:");
    out.push("");
    for (const s of info.summaries) out.push(`- ${s.cell === null ? "" : `In [${s.cell}]: `}${s.lines.map((l) => `\`${l}\``).join("; ")}`);
  }
  out.push("");
  out.push("---");
  return out.join("\n");
}

// ---- the notebook nbconvert converts ----

/** What {@link prepareForExport} did. */
export interface Prepared {
  nb: Notebook;
  /** Plotly figures turned into placeholder divs (HTML only), by index. */
  plotly: { figure: unknown; width: number; height: number }[];
  /** Vega-lite plots that had no PNG and got one now. */
  pngsDrawn: number;
  /** Plots (vega-lite or plotly) in the outputs. */
  plots: number;
}

/** An id for a new cell where the notebook's format has them (nbformat 4.5 on; earlier versions reject the field). */
function cellId(nb: Notebook): { id?: string } {
  return nb.nbformat === 4 && nb.nbformat_minor >= 5 ? { id: `d2l-${randomBytes(6).toString("hex")}` } : {};
}

function pngSizeOf(o: NbOutput): { width: number; height: number } | undefined {
  const m = o.metadata?.["image/png"] as { width?: unknown; height?: unknown } | undefined;
  if (m && typeof m.width === "number" && typeof m.height === "number") return { width: m.width, height: m.height };
  return undefined;
}

function htmlAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/**
 * A copy of `nb` ready for nbconvert: the `--execute` environment cell
 * dropped, the header inserted after the title cell, a PNG for every
 * vega-lite plot that lacks one (`renderPng`), and (HTML, `interactive`)
 * each plotly output replaced by a placeholder div holding its PNG.
 */
export function prepareForExport(
  nb: Notebook,
  header: string,
  opts: { interactivePlotly: boolean; renderPng?: (spec: object) => { base64: string; width: number; height: number } },
): Prepared {
  const copy = JSON.parse(JSON.stringify(nb)) as Notebook;
  const plotly: Prepared["plotly"] = [];
  let pngsDrawn = 0;
  let plots = 0;
  copy.cells = copy.cells.filter((c) => !isEnvCell(c));
  for (const cell of copy.cells) {
    for (const o of cell.outputs ?? []) {
      const data = o.data;
      if (!data) continue;
      if (VEGALITE in data) {
        plots++;
        if (!("image/png" in data) && opts.renderPng) {
          const png = opts.renderPng(data[VEGALITE] as object);
          data["image/png"] = png.base64;
          o.metadata = { ...(o.metadata ?? {}), "image/png": { width: png.width, height: png.height } };
          pngsDrawn++;
        }
      }
      if (PLOTLY in data) {
        plots++;
        if (opts.interactivePlotly && typeof data["image/png"] === "string") {
          const size = pngSizeOf(o) ?? { width: 560, height: 420 };
          const i = plotly.length;
          plotly.push({ figure: data[PLOTLY], ...size });
          const alt = htmlAttr(joinText(data["text/plain"]));
          o.data = {
            "text/html":
              `<div class="d2l-plotly" data-d2l-plotly="${i}" style="width:${size.width}px;height:${size.height}px">` +
              `<img src="data:image/png;base64,${data["image/png"] as string}" width="${size.width}" height="${size.height}" alt="${alt}"></div>`,
            "text/plain": data["text/plain"] ?? "",
          };
          o.metadata = {};
        }
      }
    }
  }
  const headerCell: NbCell = { ...cellId(copy), cell_type: "markdown", metadata: { [RECORD_KEY]: { role: "report-header" } }, source: header };
  const first = copy.cells[0];
  const titled = first !== undefined && first.cell_type === "markdown" && /^\s*# /.test(joinText(first.source));
  copy.cells.splice(titled ? 1 : 0, 0, headerCell);
  return { nb: copy, plotly, pngsDrawn, plots };
}

/** JSON inside a <script> element: `</` (and `<!--`) cannot end or comment it out. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/**
 * The HTML with plotly.js inlined once and a script that draws each
 * placeholder div with `Plotly.newPlot` (its PNG is removed once plotly has
 * drawn; the div is marked `data-d2l-plotly-ready`).
 */
export function inlinePlotly(html: string, figures: Prepared["plotly"], plotlyJs: string): string {
  if (figures.length === 0) return html;
  const init = `
(function () {
  var figs = JSON.parse(document.getElementById("d2l-plotly-figures").textContent);
  var divs = document.querySelectorAll("div.d2l-plotly");
  for (var k = 0; k < divs.length; k++) (function (div) {
    var f = figs[Number(div.getAttribute("data-d2l-plotly"))];
    if (!f || !window.Plotly) return;
    var layout = Object.assign({ width: f.width, height: f.height }, f.figure.layout || {});
    var config = Object.assign({ displaylogo: false }, f.figure.config || {});
    var img = div.querySelector("img");
    window.Plotly.newPlot(div, f.figure.data || [], layout, config).then(function () {
      if (img) img.remove();
      div.style.height = "";
      div.setAttribute("data-d2l-plotly-ready", "1");
    }, function (e) {
      div.setAttribute("data-d2l-plotly-error", String(e && e.message || e));
    });
  })(divs[k]);
})();`;
  const tags =
    `<script type="application/json" id="d2l-plotly-figures">${scriptJson(figures)}</script>\n` +
    `<script>/* plotly.js ${dependencyVersion("plotly.js-dist-min")} (MIT), inlined by d2l-ts export */\n${plotlyJs.replace(/<\/script/gi, "<\\/script")}\n</script>\n` +
    `<script>${init}</script>\n`;
  const at = html.lastIndexOf("</body>");
  return at < 0 ? html + tags : html.slice(0, at) + tags + html.slice(at);
}

/** Print rules for the PDF: plots and cells are not cut across pages; wide images shrink to the page. */
const PRINT_CSS = `<style>
@media print {
  .jp-OutputArea-output img { max-width: 100%; height: auto; break-inside: avoid; }
  .jp-OutputArea-child, .jp-Cell-inputWrapper { break-inside: avoid; }
  pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
}
</style>`;

function addPrintCss(html: string): string {
  const at = html.indexOf("</head>");
  return at < 0 ? PRINT_CSS + html : html.slice(0, at) + PRINT_CSS + "\n" + html.slice(at);
}

// ---- running things ----

function pythonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" };
}

/** Runs a notebook with nbclient in `cwd`; exit 3 when a cell failed (the partial notebook is still written). */
const EXECUTE_PY = `
import sys, nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
src, dst, kernel, timeout, cwd, allow = sys.argv[1:7]
nb = nbformat.read(src, as_version=4)
client = NotebookClient(nb, kernel_name=kernel, timeout=int(timeout), allow_errors=(allow == "1"), resources={"metadata": {"path": cwd}})
code = 0
try:
    client.execute()
except CellExecutionError as e:
    sys.stderr.write(str(e) + "\\n")
    code = 3
nbformat.write(nb, dst)
sys.exit(code)
`;

function execute(nb: Notebook, nbPath: string, tmp: string, py: string, timeout: number, allowErrors: boolean): Notebook {
  const withEnv = JSON.parse(JSON.stringify(nb)) as Notebook;
  withEnv.cells.push({
    ...cellId(nb),
    cell_type: "code",
    execution_count: null,
    metadata: { [RECORD_KEY]: { role: ENV_CELL_MARK } },
    outputs: [],
    source: "d2l.recordEnvironment();",
  });
  const src = path.join(tmp, "input.ipynb");
  const dst = path.join(tmp, "executed.ipynb");
  fs.writeFileSync(src, JSON.stringify(withEnv));
  if (!specIsCurrent()) installKernelSpec({ kind: "user" });
  console.error(`d2l-ts export: running ${nbPath} (kernel ${KERNEL_NAME})`);
  const r = spawnSync(py, ["-c", EXECUTE_PY, src, dst, KERNEL_NAME, String(timeout), path.dirname(path.resolve(nbPath)), allowErrors ? "1" : "0"], {
    stdio: ["ignore", "inherit", "inherit"],
    env: pythonEnv(),
  });
  if (r.status === 3) throw new Error(`a cell of ${nbPath} failed (see above); fix it, or pass --allow-errors to export with the error shown`);
  if (r.status !== 0) throw new Error(`running ${nbPath} failed (exit ${r.status ?? r.signal}); see the messages above`);
  return readNotebook(dst);
}

function nbconvert(py: string, to: "html" | "markdown", input: string, outDir: string, name: string): string {
  const r = spawnSync(py, ["-m", "nbconvert", "--to", to, "--output", name, "--output-dir", outDir, input], { encoding: "utf8", env: pythonEnv() });
  if (r.status !== 0) throw new Error(`nbconvert --to ${to} failed (exit ${r.status ?? r.signal}):\n${(r.stderr || r.stdout).trim()}`);
  const file = path.join(outDir, `${name}.${to === "html" ? "html" : "md"}`);
  if (!fs.existsSync(file)) throw new Error(`nbconvert --to ${to} wrote no ${file}:\n${r.stderr.trim()}`);
  return file;
}

/** The Chromium binary: D2L_CHROMIUM, else chromium (or Chrome) on PATH; a clear error when there is none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.D2L_CHROMIUM;
  if (given) {
    if (!fs.existsSync(given)) throw new Error(`D2L_CHROMIUM is ${given}, which does not exist; point it at a Chromium or Chrome binary, or unset it to use chromium on PATH`);
    return given;
  }
  const dirs = (env.PATH ?? "").split(path.delimiter).filter(Boolean);
  for (const name of ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
    for (const d of dirs) {
      const f = path.join(d, name);
      try {
        fs.accessSync(f, fs.constants.X_OK);
        return f;
      } catch {
        // not here
      }
    }
  }
  throw new Error(
    "PDF export prints the HTML report with headless Chromium, and no chromium was found on PATH.\n" +
      "Install it with:\n  sudo apt-get install -y --no-install-recommends chromium\n" +
      "(or set D2L_CHROMIUM to a Chromium or Chrome binary), or export --to html instead.",
  );
}

/** Flags that keep headless Chromium off the network and out of the user's profile. */
export function chromiumFlags(userDataDir: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    `--user-data-dir=${userDataDir}`,
  ];
}

function printPdf(chromium: string, html: string, pdf: string, tmp: string): void {
  const profile = fs.mkdtempSync(path.join(tmp, "chromium-"));
  if (fs.existsSync(pdf)) fs.rmSync(pdf);
  const args = [
    ...chromiumFlags(profile),
    `--print-to-pdf=${pdf}`,
    "--no-pdf-header-footer",
    // let MathJax and layout finish before printing (virtual time: no real waiting when idle)
    "--virtual-time-budget=20000",
    "--run-all-compositor-stages-before-draw",
    `file://${html}`,
  ];
  const r = spawnSync(chromium, args, { encoding: "utf8", timeout: 180_000 });
  const ok = fs.existsSync(pdf) && fs.statSync(pdf).size > 0 && fs.readFileSync(pdf).subarray(0, 5).toString("latin1") === "%PDF-";
  if (!ok) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    throw new Error(`Chromium did not print the PDF (${why}):\n${(r.stderr || "").trim().split("\n").slice(-15).join("\n")}`);
  }
}

function plotlyScript(): string | undefined {
  try {
    return fs.readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js", { paths: [PROJECT_ROOT] }), "utf8");
  } catch {
    return undefined;
  }
}

/** What one export did (what the command prints, and what tests check). */
export interface ExportResult {
  out: string;
  format: ExportFormat;
  info: ReportInfo;
  plots: number;
  interactivePlotly: number;
}

/** Export `nbPath`; see the file's comment. */
export async function exportNotebook(
  nbPath: string,
  opts: { to: ExportFormat; out?: string; execute?: boolean; timeout?: number; allowErrors?: boolean },
): Promise<ExportResult> {
  if (!fs.existsSync(nbPath)) throw new Error(`no such notebook: ${nbPath}`);
  const ext = opts.to === "md" ? ".md" : `.${opts.to}`;
  const out = path.resolve(opts.out ?? nbPath.replace(/\.ipynb$/i, "") + ext);
  // Find what is needed before running anything long.
  const py = requireJupyterPython();
  const chromium = opts.to === "pdf" ? findChromium() : undefined;
  let nb = readNotebook(nbPath);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-export-"));
  try {
    if (opts.execute) nb = execute(nb, nbPath, tmp, py, opts.timeout ?? 1800, opts.allowErrors ?? false);
    else if (!nb.cells.some((c) => (c.outputs ?? []).length > 0)) {
      console.error(`d2l-ts export: ${nbPath} has no outputs; pass --execute to run it first`);
    }
    const info = collectReport(nb);
    const header = headerMarkdown(info, path.basename(nbPath));
    const js = opts.to === "html" ? plotlyScript() : undefined;
    if (opts.to === "html" && js === undefined) console.error("d2l-ts export: plotly.js-dist-min is not installed (run npm ci); plotly figures stay static images");
    const { renderVegaLitePng } = await import("../lib/plot/render");
    const prepared = prepareForExport(nb, header, { interactivePlotly: js !== undefined, renderPng: (spec) => renderVegaLitePng(spec) });
    const name = path.basename(out).replace(/\.(html|pdf|md|markdown)$/i, "");
    const input = path.join(tmp, `${name}.ipynb`);
    fs.writeFileSync(input, JSON.stringify(prepared.nb));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    if (opts.to === "md") {
      // nbconvert writes NAME.md and NAME_files/ (the images) into the output folder.
      const md = nbconvert(py, "markdown", input, path.dirname(out), name);
      if (md !== out) fs.renameSync(md, out);
    } else {
      const htmlFile = nbconvert(py, "html", input, tmp, name);
      let html = fs.readFileSync(htmlFile, "utf8");
      if (opts.to === "html") {
        fs.writeFileSync(out, inlinePlotly(html, prepared.plotly, js ?? ""));
      } else {
        html = addPrintCss(html);
        const printable = path.join(tmp, `${name}.print.html`);
        fs.writeFileSync(printable, html);
        printPdf(chromium as string, printable, out, tmp);
      }
    }
    return { out, format: opts.to, info, plots: prepared.plots, interactivePlotly: prepared.plotly.length };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}


/** Parse `export`'s arguments (exported for tests). */
export function parseExportArgs(argv: string[]): { notebook: string; to: ExportFormat; out?: string; execute: boolean; timeout: number; allowErrors: boolean } {
  const args = [...argv];
  const toRaw = (takeOption(args, "--to") ?? "html").toLowerCase();
  const to = toRaw === "markdown" ? "md" : toRaw;
  if (to !== "html" && to !== "pdf" && to !== "md") throw new UsageError(`--to must be html, pdf or md; got ${JSON.stringify(toRaw)}`);
  const out = takeOption(args, "--out");
  const timeoutRaw = takeOption(args, "--timeout") ?? "1800";
  const timeout = Number(timeoutRaw);
  if (!Number.isInteger(timeout) || timeout <= 0) throw new UsageError(`--timeout takes whole seconds, e.g. --timeout 600; got ${JSON.stringify(timeoutRaw)}`);
  const execute = takeFlag(args, "--execute");
  const allowErrors = takeFlag(args, "--allow-errors");
  const unknown = args.filter((a) => a.startsWith("-"));
  if (unknown.length > 0) throw new UsageError(`unknown option(s): ${unknown.join(" ")}`);
  if (args.length !== 1) throw new UsageError(args.length === 0 ? "export needs a NOTEBOOK" : `export takes one NOTEBOOK; got ${args.join(" ")}`);
  if (allowErrors && !execute) throw new UsageError("--allow-errors goes with --execute");
  return { notebook: args[0], to, out, execute, timeout, allowErrors };
}

/** `d2l-ts export ...`: prints what it wrote; usage errors exit 2, other failures 1. */
export async function cmdExport(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return;
  }
  let a: ReturnType<typeof parseExportArgs>;
  try {
    a = parseExportArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`d2l-ts export: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    throw e;
  }
  const r = await exportNotebook(a.notebook, { to: a.to, out: a.out, execute: a.execute, timeout: a.timeout, allowErrors: a.allowErrors });
  const env = r.info.environment?.backend ? `environment ${r.info.source === "summary line" ? "partly " : ""}recorded` : "environment not recorded";
  const extra = r.interactivePlotly > 0 ? `, ${r.interactivePlotly} interactive plotly figure(s)` : "";
  console.log(`d2l-ts export: wrote ${r.out} (${r.format}; ${r.plots} plot(s)${extra}; ${r.info.summaries.length} training summary(ies); ${env})`);
}
