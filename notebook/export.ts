/**
 * `d2l-ts export`: a report of a notebook as HTML, PDF or Markdown, built on
 * Debian's nbconvert (no PyPI). The command line is cli/export.ts.
 *
 * 1. With `execute` the notebook is run first by the one runner
 *    (notebook/runner.ts: the d2l-ts kernel through KernelClient, in the
 *    notebook's folder), with one cell added at the end that calls
 *    `d2l.recordEnvironment()`: the kernel itself says what it ran on. The
 *    cell is left out of the export.
 * 2. The report header (a Markdown cell after the notebook's title) lists
 *    the environment and every training summary. Both come from output
 *    metadata d2l wrote (`{"d2l-ts": {environment, summary}}`), so a notebook
 *    executed and saved earlier reports without running again. Older
 *    notebooks, whose summaries are plain printed lines, are read from their
 *    text; what cannot be found reads "not recorded".
 * 3. Every plot appears: a vega-lite output that has no PNG gets one drawn
 *    now. Plotly figures in HTML become interactive (plotly.js inlined once).
 * 4. Any file name works: nbconvert only ever sees fixed names inside a
 *    private temporary folder (it globs its argument, so `week[1].ipynb`
 *    would match nothing), Chromium gets URLs made by `url.pathToFileURL`
 *    (a `#` or `?` in a path is not a fragment or a query), and the results
 *    are written to the chosen path atomically (lib/files.ts).
 * 5. The HTML is self-contained: nbconvert's `file:///usr/share/...` scripts
 *    (require.js, MathJax) are removed, and the formulas are rendered at
 *    export time: headless Chromium runs Debian's MathJax (libjs-mathjax,
 *    SVG output with the glyph outlines in each formula) over the page, and
 *    the page as it then stands is the export. Only MathJax runs there (a
 *    Content-Security-Policy with a one-time nonce keeps the notebook's own
 *    scripts from running at export time). Without Chromium or MathJax the
 *    formulas stay as TeX source, with a warning.
 * 6. PDF is that HTML printed by headless Chromium, kept off the network
 *    ({@link chromiumFlags}), and then checked to be the report: at least
 *    one page, and the header's "Report of ... by d2l-ts VERSION" found by
 *    `pdftotext` (an error page printed instead would have neither).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import { pathToFileURL } from "url";
import { PROJECT_ROOT, packageVersion, dependencyVersion } from "../kernel/info";
import { requireJupyterPython } from "../cli/install";
import { type Notebook, type NbCell, type NbOutput, readNotebook, joinText } from "./nbformat";
import { runNotebook } from "./runner";
import { writeFileAtomic } from "../lib/files";

export type { Notebook, NbCell, NbOutput };

/** What `--to` takes. */
export type ExportFormat = "html" | "pdf" | "md";

/** The metadata key d2l records under (lib/report.ts' REPORT_METADATA_KEY). */
export const RECORD_KEY = "d2l-ts";
const VEGALITE = "application/vnd.vegalite.v5+json";
const PLOTLY = "application/vnd.plotly.v1+json";
/** Marks the cell `--execute` appends, so the export can find and drop it. */
const ENV_CELL_MARK = "export-environment";
/** The fixed name nbconvert's input and outputs get inside the private temporary folder. */
const TMP_NAME = "d2l_export_report";

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
 *
 * @example
 * const info = collectReport(readNotebook("week1.ipynb"));
 * info.source; // "outputs"
 * info.summaries[0].lines; // ["loss 0.447, train acc 0.848, test acc 0.829", "12345.6 examples/sec on wasm (2 threads)"]
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

/**
 * The report header, as a Markdown cell's text: "**Report** of `NAME`", a
 * table of the environment, one line per training run.
 *
 * @example
 * headerMarkdown(collectReport(nb), "week1.ipynb"); // "**Report** of `week1.ipynb`, exported 2025-...Z by d2l-ts 0.1.0.\n\n| environment | |\n..."
 */
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
 *
 * @example
 * const p = prepareForExport(nb, headerMarkdown(collectReport(nb), "week1.ipynb"), { interactivePlotly: false });
 * p.nb.cells[1].source; // the header, after the title cell
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
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * The HTML with plotly.js inlined once and a script that draws each
 * placeholder div with `Plotly.newPlot` (its PNG is removed once plotly has
 * drawn; the div is marked `data-d2l-plotly-ready`).
 *
 * @example
 * const html = inlinePlotly(nbconvertHtml, prepared.plotly, fs.readFileSync(require.resolve("plotly.js-dist-min"), "utf8"));
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

// ---- the HTML: nbconvert's loaders out, formulas rendered at export time ----

/** The part of `html` before `<body` (where nbconvert puts its loaders), and the rest. */
function splitHead(html: string): [string, string] {
  const at = html.search(/<body[\s>]/i);
  return at < 0 ? [html, ""] : [html.slice(0, at), html.slice(at)];
}

/**
 * nbconvert's page without what it loads from this machine: the require.js
 * and MathJax `<script src="file:///usr/share/...">` tags and MathJax's
 * configuration (only in the page's head: the notebook's own content is left
 * alone), and with `title` as the page's title (nbconvert names it after the
 * temporary file).
 *
 * @example
 * stripLoaders('<head><title>d2l_export_report</title><script src="file:///usr/share/javascript/requirejs/require.min.js"></script></head><body>x</body>', "week 1");
 * // '<head><title>week 1</title></head><body>x</body>'
 */
export function stripLoaders(html: string, title: string): string {
  let [head, body] = splitHead(html);
  head = head
    .replace(/<!--\s*Load mathjax\s*-->/gi, "")
    .replace(/<!--\s*(MathJax configuration|End of mathjax configuration)\s*-->/gi, "")
    .replace(/<script\b[^>]*\bsrc="[^"]*\/(require|requirejs)(\.min)?\.js"[^>]*>\s*<\/script>\s*/gi, "")
    .replace(/<script\b[^>]*\bsrc="[^"]*\/MathJax\.js[^"]*"[^>]*>\s*<\/script>\s*/gi, "")
    .replace(/<script\b[^>]*\btype="text\/x-mathjax-config"[^>]*>[\s\S]*?<\/script>\s*/gi, "")
    .replace(/<title>[\s\S]*?<\/title>/i, `<title>${htmlText(title)}</title>`);
  return head + body;
}

function htmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Whether the notebook has TeX that MathJax would typeset: `$`, `\(`, `\[`
 * or `\begin{` in Markdown or in a LaTeX, Markdown or HTML output (code cells
 * do not count: MathJax skips `<pre>`).
 *
 * @example
 * hasMath({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: "markdown", metadata: {}, source: "$x^2$" }] }); // true
 */
export function hasMath(nb: Notebook): boolean {
  const tex = /\$|\\\(|\\\[|\\begin\{/;
  for (const c of nb.cells) {
    if (c.cell_type === "markdown" && tex.test(joinText(c.source))) return true;
    for (const o of c.outputs ?? []) {
      for (const mime of ["text/latex", "text/markdown", "text/html"]) if (o.data && tex.test(joinText(o.data[mime]))) return true;
    }
  }
  return false;
}

/**
 * Debian's MathJax 2 (libjs-mathjax): its MathJax.js, or undefined when it is
 * not installed. D2L_MATHJAX_DIR overrides the folder.
 *
 * @example
 * findMathJax(); // "/usr/share/javascript/mathjax/MathJax.js"
 */
export function findMathJax(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = path.join(env.D2L_MATHJAX_DIR || "/usr/share/javascript/mathjax", "MathJax.js");
  return fs.existsSync(file) ? file : undefined;
}

/**
 * The page Chromium renders the formulas in: `html` (without loaders) with a
 * Content-Security-Policy that lets only scripts carrying `nonce` (and those
 * they load) run, MathJax's configuration (nbconvert's delimiters, SVG
 * output with each formula's glyphs inside its own `<svg>`, no menu, no
 * messages), and MathJax itself from `mathjaxUrl`. When MathJax is done the
 * `<html>` element gets `data-d2l-math-rendered="N"` (N formulas).
 *
 * @example
 * const page = mathRenderPage(stripLoaders(html, "t"), pathToFileURL(findMathJax()!).href, randomBytes(16).toString("hex"));
 */
export function mathRenderPage(html: string, mathjaxUrl: string, nonce: string): string {
  const config = {
    jax: ["input/TeX", "output/SVG"],
    extensions: ["tex2jax.js"],
    TeX: { extensions: ["AMSmath.js", "AMSsymbols.js", "noErrors.js", "noUndefined.js"], equationNumbers: { autoNumber: "AMS", useLabelIds: true } },
    tex2jax: {
      inlineMath: [
        ["$", "$"],
        ["\\(", "\\)"],
      ],
      displayMath: [
        ["$$", "$$"],
        ["\\[", "\\]"],
      ],
      processEscapes: true,
      processEnvironments: true,
    },
    SVG: { useGlobalCache: false, linebreaks: { automatic: true } },
    displayAlign: "center",
    showMathMenu: false,
    messageStyle: "none",
  };
  const tags =
    `<meta http-equiv="Content-Security-Policy" id="d2l-math-csp" content="script-src 'nonce-${nonce}' 'strict-dynamic' 'unsafe-eval'; object-src 'none'; connect-src 'none'">\n` +
    `<script data-d2l-math nonce="${nonce}" type="text/x-mathjax-config">MathJax.Hub.Config(${scriptJson(config)});` +
    `MathJax.Hub.Queue(function () { document.documentElement.setAttribute("data-d2l-math-rendered", String(MathJax.Hub.getAllJax().length)); });</script>\n` +
    `<script data-d2l-math nonce="${nonce}" src="${htmlAttr(mathjaxUrl)}"></script>\n`;
  const [head, body] = splitHead(html);
  const at = head.search(/<\/head>/i);
  // The policy must come before any script of the page, so it goes first in the head.
  const open = /<head[^>]*>/i.exec(head);
  if (open) return head.slice(0, open.index + open[0].length) + "\n" + tags + head.slice(open.index + open[0].length) + body;
  return (at < 0 ? tags + head : head.slice(0, at) + tags + head.slice(at)) + body;
}

/**
 * The rendered page as the export keeps it: the policy, the configuration
 * and every script that came from MathJax's folder removed (MathJax's output
 * and styles stay). Throws when MathJax did not finish.
 *
 * @example
 * const { html, formulas } = finishRendered(dumpedDom, pathToFileURL("/usr/share/javascript/mathjax").href);
 */
export function finishRendered(dom: string, mathjaxDirUrl: string): { html: string; formulas: number } {
  const done = /<html\b[^>]*\bdata-d2l-math-rendered="(\d+)"/i.exec(dom);
  if (!done) throw new Error("MathJax did not finish typesetting the formulas in headless Chromium (the page was dumped before it was done)");
  const dir = mathjaxDirUrl.replace(/\/?$/, "/");
  const html = dom
    .replace(/<meta\b[^>]*\bid="d2l-math-csp"[^>]*>\s*/gi, "")
    .replace(/<script\b[^>]*\bdata-d2l-math\b[^>]*>[\s\S]*?<\/script>\s*/gi, "")
    .replace(/<script\b[^>]*\bsrc="([^"]*)"[^>]*>\s*<\/script>\s*/gi, (tag, src: string) => (src.startsWith(dir) ? "" : tag));
  return { html, formulas: Number(done[1]) };
}

/** Whether this process runs as root (Chromium's sandbox cannot start then; see {@link chromiumFlags}). */
function runningAsRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/**
 * Flags that keep headless Chromium off the network and out of the user's
 * profile: host names resolve to nothing (`--host-resolver-rules`), and every
 * connection, to an IP address or loopback too, goes to a proxy on a port
 * where nothing listens (`--proxy-server`, with `<-loopback>` so loopback is
 * not exempt). A notebook's HTML output can then fetch nothing while the page
 * is rendered or printed.
 *
 * The sandbox stays on, except when running as root: Chromium refuses to
 * start as root with its sandbox (the sandbox works by dropping privileges
 * that root cannot give up in the way Chromium needs), so there, and only
 * there, `--no-sandbox` is added. D2L_CHROMIUM_NO_SANDBOX=1 turns it off for
 * containers where an unprivileged user cannot create the namespaces the
 * sandbox needs.
 *
 * @example
 * spawnSync(findChromium(), [...chromiumFlags("/tmp/profile"), "--dump-dom", pathToFileURL(file).href]);
 */
export function chromiumFlags(userDataDir: string, asRoot: boolean = runningAsRoot(), env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    "--headless",
    ...(asRoot || env.D2L_CHROMIUM_NO_SANDBOX === "1" ? ["--no-sandbox"] : []),
    "--disable-gpu",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
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

/** The Chromium binary: D2L_CHROMIUM, else chromium (or Chrome) on PATH; a clear error when there is none.
 *
 * @example
 * findChromium(); // "/usr/bin/chromium"
 */
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

function runChromium(chromium: string, tmp: string, args: string[], what: string): { stdout: string } {
  const profile = fs.mkdtempSync(path.join(tmp, "chromium-"));
  const r = spawnSync(chromium, [...chromiumFlags(profile), ...args], { encoding: "utf8", timeout: 180_000, maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    const log = (r.stderr || "")
      .trim()
      .split("\n")
      .filter((l) => !/dbus|Fontconfig/i.test(l))
      .slice(-10)
      .join("\n");
    const hint =
      !runningAsRoot() && /sandbox|namespace/i.test(r.stderr || "")
        ? "\n(Chromium's sandbox could not start here; where unprivileged user namespaces are off, D2L_CHROMIUM_NO_SANDBOX=1 runs it without)"
        : "";
    throw new Error(`headless Chromium failed while ${what} (${why})${log ? `:\n${log}` : ""}${hint}`);
  }
  return { stdout: r.stdout };
}

/** Render the formulas of a page (already without loaders) in headless Chromium; see {@link mathRenderPage}. */
function renderMath(html: string, chromium: string, mathjax: string, tmp: string): { html: string; formulas: number } {
  const page = path.join(tmp, `${TMP_NAME}.math.html`);
  fs.writeFileSync(page, mathRenderPage(html, pathToFileURL(mathjax).href, randomBytes(16).toString("hex")));
  const { stdout } = runChromium(chromium, tmp, ["--virtual-time-budget=60000", "--dump-dom", pathToFileURL(page).href], "rendering the formulas");
  const dom = stdout.startsWith("<!DOCTYPE") || stdout.startsWith("<!doctype") ? stdout : `<!DOCTYPE html>\n${stdout}`;
  return finishRendered(dom, pathToFileURL(path.dirname(mathjax)).href);
}

// ---- the PDF ----

function hasTool(name: string): boolean {
  return spawnSync(name, ["-v"], { encoding: "utf8" }).error === undefined;
}

/** What {@link verifyPdf} found. */
export interface PdfCheck {
  pages: number;
  /** Whether the text was checked (pdftotext from poppler-utils was there). */
  textChecked: boolean;
}

/**
 * Check that `file` is the report and not, say, Chromium's error page: a
 * PDF, with at least one page (pdfinfo, or the page objects when poppler-utils
 * is missing), whose text (pdftotext) holds each of `mustContain` (compared
 * without white space, which PDF text extraction moves around). Throws a
 * clear error otherwise.
 *
 * @example
 * verifyPdf("week1.pdf", ["Report of", "by d2l-ts 0.1.0"]); // { pages: 3, textChecked: true }
 */
export function verifyPdf(file: string, mustContain: string[]): PdfCheck {
  const bytes = fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0);
  if (bytes.subarray(0, 5).toString("latin1") !== "%PDF-") throw new Error(`Chromium wrote no PDF (${bytes.length === 0 ? "no file" : "not a PDF"}) when printing the report`);
  let pages: number;
  const info = spawnSync("pdfinfo", [file], { encoding: "utf8" });
  if (!info.error && info.status === 0) pages = Number(/^Pages:\s+(\d+)/m.exec(info.stdout)?.[1] ?? 0);
  else pages = (bytes.toString("latin1").match(/\/Type\s*\/Page(?![s\w])/g) ?? []).length;
  if (pages < 1) throw new Error("Chromium printed a PDF with no pages; the report was not printed");
  if (!hasTool("pdftotext")) return { pages, textChecked: false };
  const text = spawnSync("pdftotext", ["-enc", "UTF-8", file, "-"], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (text.error || text.status !== 0) throw new Error(`pdftotext cannot read the PDF Chromium printed: ${(text.stderr || String(text.error)).trim()}`);
  const squash = (s: string): string => s.normalize("NFC").replace(/\s+/g, "");
  const missing = mustContain.filter((m) => !squash(text.stdout).includes(squash(m)));
  if (missing.length > 0) {
    const start = text.stdout
      .trim()
      .split(/\s*\n\s*/)
      .slice(0, 6)
      .join(" / ");
    throw new Error(
      `the PDF Chromium printed is not the report: ${missing.map((m) => JSON.stringify(m)).join(" and ")} not in its text (it begins: ${JSON.stringify(start.slice(0, 200))})`,
    );
  }
  return { pages, textChecked: true };
}

// ---- running things ----

function pythonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" };
}

/** Run the notebook with the one runner, plus the cell that records the environment. */
async function execute(nb: Notebook, nbPath: string, timeout: number, allowErrors: boolean): Promise<Notebook> {
  const withEnv = structuredClone(nb);
  withEnv.cells.push({
    ...cellId(nb),
    cell_type: "code",
    execution_count: null,
    metadata: { [RECORD_KEY]: { role: ENV_CELL_MARK } },
    outputs: [],
    source: "d2l.recordEnvironment();",
  });
  console.error(`d2l-ts export: running ${nbPath}`);
  const r = await runNotebook(withEnv, { cwd: path.dirname(path.resolve(nbPath)), timeout, allowErrors, log: (line) => console.error(`d2l-ts export: ${line}`) });
  if (r.failed && (!allowErrors || r.failed.kernelDied)) {
    const f = r.failed;
    const what = `cell ${f.index + 1}: ${f.ename}${f.evalue ? `: ${f.evalue}` : ""}`;
    if (f.kernelDied) throw new Error(`the kernel died running ${nbPath} (${what})`);
    throw new Error(`a cell of ${nbPath} failed (${what}); fix it, or pass --allow-errors to export with the error shown`);
  }
  return r.notebook;
}

/** nbconvert on the fixed name `TMP_NAME.ipynb` in `tmp`, output into `tmp/out`; the file it wrote. */
function nbconvert(py: string, to: "html" | "markdown", tmp: string): string {
  const outDir = path.join(tmp, "out");
  // Relative, fixed names with cwd = tmp: nbconvert globs its argument, and the temporary folder's own path may hold anything.
  const r = spawnSync(py, ["-m", "nbconvert", "--to", to, "--output", TMP_NAME, "--output-dir", "out", `${TMP_NAME}.ipynb`], { cwd: tmp, encoding: "utf8", env: pythonEnv() });
  if (r.status !== 0) throw new Error(`nbconvert --to ${to} failed (exit ${r.status ?? r.signal}):\n${(r.stderr || r.stdout).trim()}`);
  const file = path.join(outDir, `${TMP_NAME}.${to === "html" ? "html" : "md"}`);
  if (!fs.existsSync(file)) throw new Error(`nbconvert --to ${to} wrote no ${file}:\n${r.stderr.trim()}`);
  return file;
}

/** A path segment for a Markdown link: percent-encoded, parentheses too (they would end the link). */
function linkSegment(s: string): string {
  return encodeURIComponent(s).replace(/\(/g, "%28").replace(/\)/g, "%29");
}

/**
 * Move nbconvert's Markdown to `out`: its images (in `TMP_NAME_files/`) go to
 * `NAME_files/` beside `out`, each written atomically, and the links point
 * there, percent-encoded.
 */
function placeMarkdown(mdFile: string, out: string): number {
  const name = path.basename(out).replace(/\.(md|markdown)$/i, "");
  const filesDir = `${name}_files`;
  const srcDir = path.join(path.dirname(mdFile), `${TMP_NAME}_files`);
  let md = fs.readFileSync(mdFile, "utf8");
  const images = fs.existsSync(srcDir) ? fs.readdirSync(srcDir) : [];
  for (const f of images) {
    const dest = f.startsWith(`${TMP_NAME}_`) ? `output_${f.slice(TMP_NAME.length + 1)}` : f;
    writeFileAtomic(path.join(path.dirname(out), filesDir, dest), fs.readFileSync(path.join(srcDir, f)));
    md = md.split(`${TMP_NAME}_files/${f}`).join(`${linkSegment(filesDir)}/${linkSegment(dest)}`);
  }
  writeFileAtomic(out, md);
  return images.length;
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
  /** Formulas rendered by MathJax at export time (HTML, PDF), 0 when none were, or none could be. */
  formulas: number;
  /** PDF: its page count. */
  pages?: number;
}

/** How {@link exportNotebook} exports. */
export interface ExportOptions {
  to: ExportFormat;
  /** Where to write (default: the notebook's path with .html, .pdf or .md). */
  out?: string;
  /** Run the notebook first (notebook/runner.ts). */
  execute?: boolean;
  /** Seconds a cell may run with `execute` (default 1800). */
  timeout?: number;
  /** With `execute`, export even when a cell fails. */
  allowErrors?: boolean;
}

/** The title of the report: the notebook's first `# ` heading, else its file name. */
function titleOf(nb: Notebook, fallback: string): string {
  const first = nb.cells.find((c) => c.cell_type === "markdown");
  const m = first ? /^\s*#\s+(.+)$/m.exec(joinText(first.source)) : null;
  return m ? m[1].trim() : fallback;
}

/**
 * Export `nbPath` (any file name) as HTML, PDF or Markdown; see the file's comment.
 *
 * @example
 * const r = await exportNotebook("week[1] #2.ipynb", { to: "pdf" });
 * r.out; // ".../week[1] #2.pdf"
 */
export async function exportNotebook(nbPath: string, opts: ExportOptions): Promise<ExportResult> {
  let nb = readNotebook(nbPath);
  const ext = opts.to === "md" ? ".md" : `.${opts.to}`;
  const out = path.resolve(opts.out ?? nbPath.replace(/\.ipynb$/i, "") + ext);
  // Find what is needed before running anything long.
  const py = requireJupyterPython();
  let chromium: string | undefined;
  if (opts.to === "pdf") chromium = findChromium();
  else if (opts.to === "html") {
    try {
      chromium = findChromium();
    } catch {
      chromium = undefined;
    }
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-export-"));
  try {
    if (opts.execute) nb = await execute(nb, nbPath, opts.timeout ?? 1800, opts.allowErrors ?? false);
    else if (!nb.cells.some((c) => (c.outputs ?? []).length > 0)) {
      console.error(`d2l-ts export: ${nbPath} has no outputs; pass --execute to run it first`);
    }
    const info = collectReport(nb);
    const header = headerMarkdown(info, path.basename(nbPath));
    const js = opts.to === "html" ? plotlyScript() : undefined;
    if (opts.to === "html" && js === undefined) console.error("d2l-ts export: plotly.js-dist-min is not installed (run npm ci); plotly figures stay static images");
    const { renderVegaLitePng } = await import("../lib/plot/render");
    const prepared = prepareForExport(nb, header, { interactivePlotly: js !== undefined, renderPng: (spec) => renderVegaLitePng(spec) });
    fs.writeFileSync(path.join(tmp, `${TMP_NAME}.ipynb`), JSON.stringify(prepared.nb));
    const result: ExportResult = { out, format: opts.to, info, plots: prepared.plots, interactivePlotly: prepared.plotly.length, formulas: 0 };
    if (opts.to === "md") {
      placeMarkdown(nbconvert(py, "markdown", tmp), out);
      return result;
    }
    let html = stripLoaders(fs.readFileSync(nbconvert(py, "html", tmp), "utf8"), titleOf(nb, path.basename(nbPath)));
    if (hasMath(prepared.nb)) {
      const mathjax = findMathJax();
      if (chromium && mathjax) {
        try {
          ({ html, formulas: result.formulas } = renderMath(html, chromium, mathjax, tmp));
        } catch (e) {
          console.error(`d2l-ts export: the formulas stay as TeX source: ${(e as Error).message}`);
        }
      } else {
        const missing = !chromium ? "headless Chromium (apt-get install chromium)" : "MathJax (apt-get install libjs-mathjax)";
        console.error(`d2l-ts export: the formulas stay as TeX source: rendering them needs ${missing}`);
      }
    }
    if (opts.to === "html") {
      writeFileAtomic(out, inlinePlotly(html, prepared.plotly, js ?? ""));
      return result;
    }
    const printable = path.join(tmp, `${TMP_NAME}.print.html`);
    const pdf = path.join(tmp, `${TMP_NAME}.pdf`);
    fs.writeFileSync(printable, addPrintCss(html));
    runChromium(
      chromium as string,
      tmp,
      // virtual time lets the page's own scripts finish before printing, without real waiting when idle
      [`--print-to-pdf=${pdf}`, "--no-pdf-header-footer", "--virtual-time-budget=20000", "--run-all-compositor-stages-before-draw", pathToFileURL(printable).href],
      "printing the PDF",
    );
    // The header's words, not the file name: a name's letters may have no glyph in the page's fonts (no CJK font, say).
    const check = verifyPdf(pdf, ["Report of", `by d2l-ts ${packageVersion()}`]);
    if (!check.textChecked) console.error("d2l-ts export: pdftotext is missing (apt-get install poppler-utils), so the PDF's text was not checked");
    writeFileAtomic(out, fs.readFileSync(pdf));
    result.pages = check.pages;
    return result;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
