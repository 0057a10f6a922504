/**
 * `d2l-ts export` on what a new user has: any file name, a report that works
 * on another machine, a PDF that really is the report, Chromium kept off the
 * network, malformed notebooks, `--opt=value`. Small notebooks with their
 * outputs already in them (one `--execute`), so this runs in about a minute.
 * Artifacts under test-artifacts/export-files/.
 *
 * Needs: Debian's Jupyter (nbconvert), chromium, libjs-mathjax and
 * poppler-utils (pdftotext, pdfimages, pdftoppm) from apt, playwright-core
 * from npm (test/run-all.sh installs what is missing).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { spawnSync } from "child_process";
import { pathToFileURL } from "url";
import type { AddressInfo } from "net";
import { chromium, type Browser } from "playwright-core";
import { findChromium, verifyPdf, chromiumFlags } from "../../notebook/export";
import { encodePng } from "../../lib/plot/png";

const ROOT = path.resolve(__dirname, "../../..");
const ART = path.join(ROOT, "test-artifacts", "export-files");
const CLI = path.join(ROOT, "bin", "d2l-ts.js");
/** A folder and a notebook name with every character that broke the export. */
const ODD_DIR = path.join(ART, "dir [a] #b ?c é");
const ODD_NAME = "week[1] #2 ?é ü 数";
const ROOT_USER = typeof process.getuid === "function" && process.getuid() === 0;

const env: NodeJS.ProcessEnv = { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1", D2L_BACKEND: "cpu" };

function cli(args: string[]): { status: number | null; stdout: string; stderr: string; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: "utf8", timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: `${r.stdout}\n${r.stderr}` };
}

function ok(args: string[]): string {
  const r = cli(args);
  assert.equal(r.status, 0, `d2l-ts ${args.join(" ")} failed:\n${r.out}`);
  return r.out;
}

/** A 96 x 64 PNG: a colour gradient, as base64. */
const PLOT_W = 96;
const PLOT_H = 64;
function plotPng(): string {
  const px = new Uint8Array(PLOT_W * PLOT_H * 3);
  for (let y = 0; y < PLOT_H; y++) {
    for (let x = 0; x < PLOT_W; x++) {
      const i = (y * PLOT_W + x) * 3;
      px[i] = (x * 255) / PLOT_W;
      px[i + 1] = 40;
      px[i + 2] = (y * 255) / PLOT_H;
    }
  }
  return encodePng(px, PLOT_W, PLOT_H, 3).toString("base64");
}

type Cell = Record<string, unknown>;
const md = (source: string, id: string): Cell => ({ id, cell_type: "markdown", metadata: {}, source });
const code = (source: string, id: string, outputs: unknown[] = [], count: number | null = null): Cell => ({
  id,
  cell_type: "code",
  metadata: {},
  source,
  outputs,
  execution_count: count,
});

function writeNotebook(file: string, cells: Cell[]): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: "d2l-ts", display_name: "TypeScript (d2l)", language: "typescript" } }, cells }, null, 1),
  );
  return file;
}

const PNG = plotPng();
const TITLE = "Formula, plot and table";
/** A notebook with a formula between two marker words, a PNG plot, a Markdown table and an HTML table. */
function reportCells(): Cell[] {
  return [
    md(`# ${TITLE}`, "t"),
    md("Euler's identity $e^{i\\pi}+1=0$ inline.\n\nBEFOREFORMULA\n\n$$\\int_0^1 x^2\\,dx=\\frac{1}{3}$$\n\nAFTERFORMULA", "m"),
    md("| metric | value |\n|---|---|\n| alpha | 17 |\n| beta | 42 |", "tbl"),
    code("plot()", "p", [{ output_type: "display_data", data: { "image/png": PNG, "text/plain": "<plot>" }, metadata: { "image/png": { width: PLOT_W, height: PLOT_H } } }], 1),
    code(
      "table()",
      "h",
      [
        {
          output_type: "execute_result",
          execution_count: 2,
          data: { "text/html": "<table><tr><th>name</th><th>score</th></tr><tr><td>gamma</td><td>99</td></tr></table>", "text/plain": "table" },
          metadata: {},
        },
      ],
      2,
    ),
  ];
}

function pdftotext(pdf: string, ...args: string[]): string {
  const r = spawnSync("pdftotext", [...args, pdf, "-"], { encoding: "utf8" });
  assert.equal(r.status, 0, `pdftotext failed (apt-get install poppler-utils): ${r.stderr}`);
  return r.stdout;
}

let browser: Browser | undefined;

before(() => {
  fs.rmSync(ART, { recursive: true, force: true });
  fs.mkdirSync(ART, { recursive: true });
});

after(async () => {
  await browser?.close();
});

test("any file name: --to html, md and pdf (and --execute) with [ ] # ? spaces and non-ASCII letters in the folder and the name", () => {
  const nbFile = writeNotebook(path.join(ODD_DIR, `${ODD_NAME}.ipynb`), reportCells());
  const base = path.join(ODD_DIR, ODD_NAME);

  ok(["export", nbFile, "--to=html"]);
  const html = fs.readFileSync(`${base}.html`, "utf8");
  assert.ok(html.includes(`data:image/png;base64,${PNG}`), "the plot is in the HTML");
  assert.match(html, /<title>Formula, plot and table<\/title>/);

  ok(["export", nbFile, "--to", "md"]);
  const mdText = fs.readFileSync(`${base}.md`, "utf8");
  assert.match(mdText, /\| alpha \| 17 \|/);
  const links = [...mdText.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
  assert.equal(links.length, 1, `one image link in the Markdown: ${links.join(", ")}`);
  const img = path.join(ODD_DIR, decodeURIComponent(links[0]));
  assert.equal(path.dirname(img), `${base}_files`, "the images sit in NAME_files/ beside the Markdown");
  assert.equal(fs.readFileSync(img).toString("base64"), PNG);

  ok(["export", nbFile, "--to=pdf"]);
  const text = pdftotext(`${base}.pdf`);
  assert.match(text, /Report of week\[1\] #2 \?é ü/);
  assert.match(text, /Formula, plot and table/);

  // --execute: the kernel runs in the notebook's folder; --out to another odd name.
  const runFile = writeNotebook(path.join(ODD_DIR, `run ${ODD_NAME}.ipynb`), [md("# Run", "t"), code('"cwd=" + process.cwd()', "c")]);
  const out = path.join(ODD_DIR, "out [x] #y ?z.html");
  ok(["export", runFile, "--execute", `--out=${out}`, "--timeout=120"]);
  assert.ok(fs.readFileSync(out, "utf8").includes(`cwd=${ODD_DIR}`), "the kernel ran in the notebook's folder");
  assert.deepEqual(
    fs.readdirSync(ODD_DIR).filter((f) => f.startsWith(".")),
    [],
    "no temporary files left beside the outputs",
  );
});

test("the HTML renders its formulas in Chromium with the network and every other file blocked", async () => {
  const nbFile = writeNotebook(path.join(ART, "math", "math.ipynb"), reportCells());
  const said = ok(["export", nbFile, "--to=html"]);
  assert.match(said, /2 formula\(s\) rendered/);
  // The HTML alone, in a fresh folder: nothing else it could load from this machine.
  const alone = fs.mkdtempSync(path.join(ART, "alone-"));
  const copy = path.join(alone, "report.html");
  fs.copyFileSync(path.join(ART, "math", "math.html"), copy);
  const html = fs.readFileSync(copy, "utf8");
  assert.ok(!/<script\b[^>]*\bsrc="(file:|https?:)/i.test(html), "no script from a file:// or remote URL");

  browser = await chromium.launch({
    executablePath: findChromium(),
    args: [...(ROOT_USER ? ["--no-sandbox"] : []), "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND", "--no-first-run"],
  });
  const context = await browser.newContext({ offline: true });
  const PAGE = "http://report.invalid/report.html";
  const requests: string[] = [];
  // The page is served from the copy; every other request (network or file) is refused.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    requests.push(url);
    return url === PAGE ? route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: fs.readFileSync(copy) }) : route.abort();
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`));
  await page.goto(PAGE);
  await page.waitForTimeout(500);
  type El = { getBoundingClientRect(): { width: number; height: number }; querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> };
  const state = await page.evaluate(() => {
    const d = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<El>; body: { innerText: string } } }).document;
    const maths = Array.from(d.querySelectorAll(".MathJax_SVG, .MathJax_CHTML, .MathJax, mjx-container"));
    return {
      maths: maths.map((m) => {
        const r = m.getBoundingClientRect();
        const paths = Array.from(m.querySelectorAll("path")).filter((p) => (p.getAttribute("d") ?? "").length > 10).length;
        return { width: r.width, height: r.height, paths };
      }),
      text: d.body.innerText,
    };
  });
  assert.equal(state.maths.length, 2, `MathJax's output for the two formulas: ${JSON.stringify(state.maths)}`);
  for (const m of state.maths) {
    assert.ok(m.width > 10 && m.height > 5, `a formula is drawn with a size: ${JSON.stringify(m)}`);
    assert.ok(m.paths >= 3, `a formula's glyphs are in the page: ${JSON.stringify(m)}`);
  }
  assert.ok(!state.text.includes("\\int") && !state.text.includes("e^{i"), "no formula is left as TeX source");
  assert.match(state.text, /Formula, plot and table/);
  assert.deepEqual(requests, [PAGE], "the page asked for nothing but itself");
  assert.deepEqual(errors, []);
  await page.screenshot({ path: path.join(ART, "math-offline.png"), fullPage: true });
});

test("the PDF of a notebook with a formula, a plot and a table has them on its pages", () => {
  const nbFile = writeNotebook(path.join(ART, "pdf", "report.ipynb"), reportCells());
  const pdf = path.join(ART, "pdf", "report.pdf");
  const said = ok(["export", nbFile, "--to", "pdf"]);
  assert.match(said, /\(pdf, [1-9]\d* page\(s\);/);
  const text = pdftotext(pdf);
  assert.match(text, /Formula, plot and table/, "the title");
  assert.match(text, /Report of report\.ipynb/, "the report header");
  for (const [k, v] of [
    ["alpha", "17"],
    ["beta", "42"],
    ["gamma", "99"],
  ])
    assert.match(text, new RegExp(`${k}\\s+${v}`), `the table row ${k} ${v}`);
  assert.ok(!/\\int|\\frac|\$\$/.test(text), "the formula is not printed as TeX source");

  const list = spawnSync("pdfimages", ["-list", pdf], { encoding: "utf8" });
  assert.equal(list.status, 0, list.stderr);
  const images = list.stdout
    .split("\n")
    .slice(2)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 4 && f[2] === "image");
  assert.ok(
    images.some((f) => Number(f[3]) === PLOT_W && Number(f[4]) === PLOT_H),
    `the ${PLOT_W}x${PLOT_H} plot is in the PDF:\n${list.stdout}`,
  );

  // The formula: ink between the words around it, at 72 dpi (pdftotext -bbox's points are pixels then).
  const bbox = pdftotext(pdf, "-bbox");
  const word = (w: string): { page: number; yMin: number; yMax: number } => {
    const pages = bbox.split(/<page /).slice(1);
    for (let p = 0; p < pages.length; p++) {
      const m = new RegExp(`<word xMin="[\\d.]+" yMin="([\\d.]+)" xMax="[\\d.]+" yMax="([\\d.]+)">${w}</word>`).exec(pages[p]);
      if (m) return { page: p + 1, yMin: Number(m[1]), yMax: Number(m[2]) };
    }
    assert.fail(`${w} is not in the PDF`);
  };
  const before = word("BEFOREFORMULA");
  const after = word("AFTERFORMULA");
  assert.equal(before.page, after.page, "the formula's paragraph is on one page");
  const prefix = path.join(ART, "pdf", "formula-page");
  const r = spawnSync("pdftoppm", ["-r", "72", "-gray", "-f", String(before.page), "-l", String(before.page), "-singlefile", pdf, prefix], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const pgm = fs.readFileSync(`${prefix}.pgm`);
  const head = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(pgm.subarray(0, 40).toString("latin1"));
  assert.ok(head, "pdftoppm -gray writes a PGM");
  const width = Number(head[1]);
  const px = pgm.subarray(head[0].length);
  const inkBetween = (y0: number, y1: number): number => {
    let n = 0;
    for (let y = Math.ceil(y0); y < Math.floor(y1); y++) for (let x = 0; x < width; x++) if (px[y * width + x] < 128) n++;
    return n;
  };
  const ink = inkBetween(before.yMax + 2, after.yMin - 2);
  assert.ok(ink > 150, `only ${ink} dark pixels where the formula is (${before.yMax}..${after.yMin}); it was not drawn`);
});

test("Chromium fetches nothing while rendering and printing: a notebook's HTML output that loads from 127.0.0.1 and localhost", async () => {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? "");
    res.end("x");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const probe = `<img src="http://127.0.0.1:${port}/img.png"><img src="http://localhost:${port}/img2.png"><img src="http://example.com:${port}/img3.png">`;
    const nbFile = writeNotebook(path.join(ART, "net", "net.ipynb"), [
      md("# Offline\n\n$x^2$", "t"),
      code("html()", "h", [{ output_type: "display_data", data: { "text/html": probe, "text/plain": "probe" }, metadata: {} }], 1),
    ]);
    ok(["export", nbFile, "--to=pdf"]);
    ok(["export", nbFile, "--to=html"]);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(hits, [], "Chromium reached the network");
  } finally {
    server.close();
  }
});

test("the PDF check: a printed error page is not taken for the report", () => {
  const dir = fs.mkdtempSync(path.join(ART, "errpage-"));
  const pdf = path.join(dir, "error.pdf");
  // What the old export could save: the URL file://DIR/week#1.html, made by pasting a path holding "#", is cut at the "#" and
  // names the folder DIR/week, whose listing Chromium prints.
  fs.mkdirSync(path.join(dir, "week"));
  const r = spawnSync(
    findChromium(),
    [...chromiumFlags(path.join(dir, "profile")), `--print-to-pdf=${pdf}`, "--no-pdf-header-footer", `${pathToFileURL(path.join(dir, "week")).href}#1.html`],
    { encoding: "utf8", timeout: 120_000 },
  );
  assert.equal(fs.readFileSync(pdf).subarray(0, 5).toString("latin1"), "%PDF-", `Chromium printed something (${r.status}): ${r.stderr.slice(-500)}`);
  assert.throws(() => verifyPdf(pdf, ["Report of", "by d2l-ts"]), /the PDF Chromium printed is not the report: "Report of" and "by d2l-ts" not in its text/);
});

test("malformed notebooks: one line naming the cell and the field, exit 1", () => {
  const dir = path.join(ART, "bad");
  fs.mkdirSync(dir, { recursive: true });
  const cases: [string, unknown, RegExp][] = [
    ["null-cell", { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [null] }, /cell 1 must be an object with cell_type and source; got null/],
    [
      "bad-output",
      { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [md("# T", "t"), code("x", "c2", [{ output_type: "stream", text: "hi" }])] },
      /cell 2 \(id "c2"\): outputs\[0\]\.name must be "stdout" or "stderr"; got undefined/,
    ],
    [
      "bad-type",
      { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: "picture", source: "", metadata: {} }] },
      /cell 1: cell_type must be code, markdown or raw; got "picture"/,
    ],
    [
      "bad-data",
      { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [code("x", "c", [{ output_type: "display_data", data: { "image/png": 7 }, metadata: {} }])] },
      /cell 1 \(id "c"\): outputs\[0\]\.data\["image\/png"\] must be a string/,
    ],
  ];
  for (const [name, content, re] of cases) {
    const file = path.join(dir, `${name}.ipynb`);
    fs.writeFileSync(file, JSON.stringify(content));
    for (const to of ["html", "pdf"]) {
      const r = cli(["export", file, `--to=${to}`]);
      assert.equal(r.status, 1, `${name} --to=${to}: ${r.out}`);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `${name}: one line, no traceback:\n${r.stderr}`);
      assert.match(lines[0], re);
      assert.ok(lines[0].includes(file), `${name}: the message names the file`);
    }
  }
  const nothing = cli(["export", path.join(dir, "missing [1].ipynb")]);
  assert.equal(nothing.status, 1);
  assert.match(nothing.stderr.trim(), /^[^\n]*missing \[1\]\.ipynb: cannot read the notebook: no such file$/);
});

test("--opt=value works for every option; mistakes exit 2 with the usage", () => {
  const nbFile = writeNotebook(path.join(ART, "opts", "o.ipynb"), [md("# Options", "t")]);
  const out = path.join(ART, "opts", "chosen.md");
  ok(["export", nbFile, "--to=markdown", `--out=${out}`]);
  assert.match(fs.readFileSync(out, "utf8"), /# Options/);
  for (const args of [["--to=docx"], ["--timeout=soon", "--execute"], ["--timeout=0", "--execute"], ["--allow-errors"], ["--bogus"], ["--execute=yes"], ["--out"]]) {
    const r = cli(["export", nbFile, ...args]);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.out}`);
    assert.match(r.stderr, /d2l-ts export NOTEBOOK/, `${args.join(" ")}: the usage is printed`);
  }
  const help = cli(["export", "--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--to html\|pdf\|md/);
});
