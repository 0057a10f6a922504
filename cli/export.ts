/**
 * `d2l-ts export NOTEBOOK [--to html|pdf|md] [--execute] [--out F] [--timeout S] [--allow-errors]`:
 * the command line of notebook/export.ts. Options take `--opt value` or
 * `--opt=value` (cli/args.ts); a mistake is a {@link UsageError} (exit 2 with
 * this usage, printed by cli/main.ts).
 */
import { UsageError, flagOption, numberOption, parseCommand, stringOption, type OptionSpec } from "./args";
import type { ExportFormat } from "../notebook/export";

/** The usage of `d2l-ts export`. */
export const EXPORT_USAGE = `Usage: d2l-ts export NOTEBOOK [--to html|pdf|md] [--execute] [--out FILE] [--timeout S] [--allow-errors]

  --to html|pdf|md   the format (default html; "markdown" is md). The HTML is one self-contained file: formulas are
                     rendered at export time by headless Chromium with Debian's MathJax (apt-get install chromium
                     libjs-mathjax; without them they stay as TeX). PDF is that HTML printed by headless Chromium, off
                     the network. Markdown writes its images to a NAME_files/ folder beside it.
  --execute          run the notebook first (the d2l-ts kernel, in the notebook's folder); the report header then
                     names the environment the kernel reports. Without it, the header uses what the notebook's outputs
                     recorded ("not recorded" otherwise).
  --out FILE         where to write (default: the notebook's path with .html, .pdf or .md)
  --timeout S        seconds a cell may run with --execute (default 1800)
  --allow-errors     with --execute, export even if a cell fails (the error is in the report)
  Options take a value as --opt VALUE or --opt=VALUE.
  D2L_CHROMIUM=PATH  the Chromium (or Chrome) binary (default: chromium on PATH)
  D2L_CHROMIUM_NO_SANDBOX=1  run Chromium without its sandbox (it is off anyway when running as root)`;

const OPTIONS: OptionSpec = {
  to: { type: "string" },
  out: { type: "string" },
  execute: { type: "boolean" },
  timeout: { type: "string" },
  "allow-errors": { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

/** `d2l-ts export`'s arguments, checked. */
export interface ExportArgs {
  notebook: string;
  to: ExportFormat;
  out?: string;
  execute: boolean;
  timeout: number;
  allowErrors: boolean;
  help: boolean;
}

/**
 * Parse and check `export`'s arguments; a {@link UsageError} (with the usage)
 * names what is wrong.
 *
 * @example
 * parseExportArgs(["week[1].ipynb", "--to=md", "--timeout=60"]);
 * // { notebook: "week[1].ipynb", to: "md", out: undefined, execute: false, timeout: 60, allowErrors: false, help: false }
 */
export function parseExportArgs(args: string[]): ExportArgs {
  if (args.includes("--help") || args.includes("-h")) {
    return { notebook: "", to: "html", execute: false, timeout: 1800, allowErrors: false, help: true };
  }
  const p = parseCommand("export", args, OPTIONS, EXPORT_USAGE, [1, 1, "a NOTEBOOK (the .ipynb file to export)"]);
  const toRaw = (stringOption(p, "to") ?? "html").toLowerCase();
  const to = toRaw === "markdown" ? "md" : toRaw;
  if (to !== "html" && to !== "pdf" && to !== "md") throw new UsageError(`export: --to must be html, pdf or md; got ${JSON.stringify(toRaw)}`, EXPORT_USAGE);
  const out = stringOption(p, "out");
  if (out === "") throw new UsageError("export: --out needs a file name (--out FILE or --out=FILE)", EXPORT_USAGE);
  const timeout = numberOption(p, "timeout", { fallback: 1800, min: 1, integer: true, what: "seconds each cell may run with --execute" }, EXPORT_USAGE);
  const execute = flagOption(p, "execute");
  const allowErrors = flagOption(p, "allow-errors");
  if (allowErrors && !execute) throw new UsageError("export: --allow-errors goes with --execute (it lets a run go on past a failing cell)", EXPORT_USAGE);
  if (p.positionals[0] === "") throw new UsageError("export needs a NOTEBOOK; got an empty name", EXPORT_USAGE);
  return { notebook: p.positionals[0], to, out, execute, timeout, allowErrors, help: false };
}

/**
 * `d2l-ts export ...`: export and print what was written. Usage mistakes
 * throw {@link UsageError} (cli/main.ts prints it with the usage, exit 2);
 * other failures throw an Error with a one-line message (exit 1).
 *
 * @example
 * await cmdExport(["week 1.ipynb", "--to=pdf"]); // prints "d2l-ts export: wrote .../week 1.pdf (pdf, 3 pages; ...)"
 */
export async function cmdExport(args: string[]): Promise<void> {
  const a = parseExportArgs(args);
  if (a.help) {
    console.log(EXPORT_USAGE);
    return;
  }
  const { exportNotebook } = await import("../notebook/export");
  const r = await exportNotebook(a.notebook, { to: a.to, out: a.out, execute: a.execute, timeout: a.timeout, allowErrors: a.allowErrors });
  const env = r.info.environment?.backend ? `environment ${r.info.source === "summary line" ? "partly " : ""}recorded` : "environment not recorded";
  const extra = r.interactivePlotly > 0 ? `, ${r.interactivePlotly} interactive plotly figure(s)` : "";
  const pages = r.pages !== undefined ? `, ${r.pages} page(s)` : "";
  const math = r.formulas > 0 ? `; ${r.formulas} formula(s) rendered` : "";
  console.log(`d2l-ts export: wrote ${r.out} (${r.format}${pages}; ${r.plots} plot(s)${extra}; ${r.info.summaries.length} training summary(ies); ${env}${math})`);
}
