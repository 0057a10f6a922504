/**
 * `d2l-ts export` end to end: a chapter-3 notebook (run once in quick mode
 * through the kernel) to HTML, PDF and Markdown; a small notebook with a
 * plotly figure exported with --execute and opened in headless Chromium; the
 * errors a user meets. Artifacts under test-artifacts/export/.
 *
 * Needs: Debian's Jupyter (nbconvert, nbclient), chromium and poppler-utils
 * (pdftoppm, pdftotext) from apt, playwright-core from npm, the d2l-ts
 * kernelspec on JUPYTER_PATH (test/run-all.sh registers it), Fashion-MNIST
 * under ../shared/data (D2L_DATA_DIR).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { chromium, type Browser } from "playwright-core";
import { findChromium } from "../../notebook/export";
import { pngSize } from "../../lib/plot/png";

const ROOT = path.resolve(__dirname, "../../..");
const ART = path.join(ROOT, "test-artifacts", "export");
const CLI = path.join(ROOT, "bin", "d2l-ts.js");
const SOFTMAX = path.join(ROOT, "notebooks", "chapter_03_linear_networks", "07_softmax_regression_concise.ipynb");
const VEGA = "application/vnd.vegalite.v5+json";
/** The Animator's three series colours (the book's fmts "-", "m--", "g-."). */
const COLOURS: [number, number, number][] = [
  [0x1f, 0x77, 0xb4],
  [0xbf, 0x00, 0xbf],
  [0x00, 0x80, 0x00],
];

const env: NodeJS.ProcessEnv = {
  ...process.env,
  PYDEVD_DISABLE_FILE_VALIDATION: "1",
  D2L_QUICK: "1",
  D2L_BACKEND: process.env.D2L_BACKEND ?? "wasm",
  D2L_DATA_DIR: process.env.D2L_DATA_DIR ?? path.resolve(ROOT, "..", "shared", "data"),
  D2L_CACHE_DIR: process.env.D2L_CACHE_DIR ?? path.join(ROOT, "test-artifacts", "cache"),
};

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...env, ...extraEnv }, encoding: "utf8", timeout: 600_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function ok(args: string[], extraEnv: NodeJS.ProcessEnv = {}): string {
  const r = cli(args, extraEnv);
  assert.equal(r.status, 0, `d2l-ts ${args.join(" ")} failed:\n${r.out}`);
  return r.out;
}

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}

function notebook(cells: string[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "d2l-ts", display_name: "TypeScript (d2l)", language: "typescript" } },
    cells: [
      { id: "title", cell_type: "markdown", metadata: {}, source: "# A small report" },
      ...cells.map((source, i) => ({ id: `c${i}`, cell_type: "code", metadata: {}, source, outputs: [], execution_count: null })),
    ],
  });
}

/** A PPM (P6) image from pdftoppm. */
function readPpm(file: string): { width: number; height: number; rgb: Buffer } {
  const buf = fs.readFileSync(file);
  const header = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(buf.subarray(0, 50).toString("latin1"));
  assert.ok(header, `${file} is not a binary PPM`);
  const width = Number(header[1]);
  const height = Number(header[2]);
  return { width, height, rgb: buf.subarray(header[0].length, header[0].length + width * height * 3) };
}

const pngSizeOf = (b64: string): { width: number; height: number } => pngSize(b64);

const near = (rgb: Buffer, i: number, [r, g, b]: [number, number, number], tol = 50): boolean =>
  Math.abs(rgb[i] - r) <= tol && Math.abs(rgb[i + 1] - g) <= tol && Math.abs(rgb[i + 2] - b) <= tol;

let executed = "";
let animatorPng = "";
let summary: string[] = [];
let browser: Browser | undefined;

before(() => {
  fs.rmSync(ART, { recursive: true, force: true });
  fs.mkdirSync(ART, { recursive: true });
  // One run of the chapter-3 notebook; the HTML, PDF and Markdown tests export what it saved.
  executed = path.join(ART, "softmax.ipynb");
  ok(["run", SOFTMAX, "--out", executed]);
  const nb = JSON.parse(fs.readFileSync(executed, "utf8")) as { cells: Cell[] };
  const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
  const plot = outputs.find((o) => o.data && VEGA in o.data && String(o.data["text/plain"]).startsWith("<Animator"));
  assert.ok(plot?.data, "the executed notebook has no Animator output");
  animatorPng = String(plot.data["image/png"]);
  const rec = outputs.map((o) => o.metadata?.["d2l-ts"] as { summary?: string[] } | undefined).find((r) => r?.summary);
  assert.ok(rec?.summary, "the executed notebook has no recorded training summary");
  summary = rec.summary;
});

after(async () => {
  await browser?.close();
});

test("HTML: the report header, and every plot as an <img> with a data:image/png URL", () => {
  const out = path.join(ART, "softmax.html");
  const said = ok(["export", executed, "--to", "html", "--out", out]);
  assert.match(said, /wrote .*softmax\.html \(html; 1 plot\(s\); 1 training summary\(ies\); environment recorded(; \d+ formula\(s\) rendered)?\)/);
  const html = fs.readFileSync(out, "utf8");
  assert.ok(html.includes(`<img src="data:image/png;base64,${animatorPng}"`), "the Animator's PNG is not an <img> in the HTML");
  assert.ok((html.match(/<img src="data:image\/png;base64,/g) ?? []).length >= 2, "the Animator and the predictCh3 images");
  const text = html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
  assert.match(text, /Report of 07_softmax_regression_concise\.ipynb|Report of softmax\.ipynb/);
  assert.match(text, /backend wasm \(\d+ threads?\)|backend wasm /);
  assert.match(text, /TensorFlow\.js 4\.22\.0/);
  assert.match(text, /d2l-ts \d+\.\d+\.\d+/);
  assert.match(text, /run date \d{4}-\d\d-\d\dT/);
  for (const line of summary) assert.ok(text.includes(line), `the header lacks the summary line ${line}`);
  assert.ok(!text.includes("not recorded"), "everything is recorded in a notebook run by this version");
});

test("PDF (headless Chromium): the header's text, and the page with the plot is not blank where the plot is", () => {
  const out = path.join(ART, "softmax.pdf");
  ok(["export", executed, "--to", "pdf", "--out", out]);
  assert.equal(fs.readFileSync(out).subarray(0, 5).toString("latin1"), "%PDF-");
  const txt = spawnSync("pdftotext", ["-layout", out, "-"], { encoding: "utf8" });
  assert.equal(txt.status, 0, `pdftotext failed (apt-get install poppler-utils): ${txt.stderr}`);
  assert.match(txt.stdout, /Report of/);
  assert.match(txt.stdout, /TensorFlow\.js\s+4\.22\.0/);
  assert.ok(txt.stdout.includes(summary[0]), `the PDF lacks "${summary[0]}"`);
  assert.match(txt.stdout, /examples\/sec on wasm/);

  // The Animator's PNG itself is in the PDF (pdfimages lists embedded images with their pixel size) ...
  const size = pngSizeOf(animatorPng);
  const list = spawnSync("pdfimages", ["-list", out], { encoding: "utf8" });
  assert.equal(list.status, 0, `pdfimages failed (apt-get install poppler-utils): ${list.stderr}`);
  const embedded = list.stdout
    .split("\n")
    .slice(2)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 4 && f[2] === "image");
  const mine = embedded.find((f) => Number(f[3]) === size.width && Number(f[4]) === size.height);
  assert.ok(mine, `no ${size.width}x${size.height} image (the Animator's PNG) in the PDF:\n${list.stdout}`);
  const pageNo = Number(mine[0]);
  // ... where on its page it is drawn (pdftohtml -xml gives image boxes at 1.5 x 72 dpi) ...
  const xmlDir = path.join(ART, "pdf-images");
  fs.mkdirSync(xmlDir, { recursive: true });
  const xml = spawnSync("pdftohtml", ["-xml", "-stdout", "-q", "-f", String(pageNo), "-l", String(pageNo), out, path.join(xmlDir, "img")], { encoding: "utf8" });
  assert.equal(xml.status, 0, `pdftohtml failed: ${xml.stderr}`);
  const boxes = [...xml.stdout.matchAll(/<image top="(\d+)" left="(\d+)" width="(\d+)" height="(\d+)"/g)].map((m) => ({ top: +m[1], left: +m[2], width: +m[3], height: +m[4] }));
  const ratio = size.width / size.height;
  const box = boxes.reduce((a, b) => (Math.abs(b.width / b.height - ratio) < Math.abs(a.width / a.height - ratio) ? b : a));
  assert.ok(Math.abs(box.width / box.height - ratio) < 0.05, `no image box of the Animator's shape on page ${pageNo}: ${JSON.stringify(boxes)}`);
  // ... and what Chromium printed there, rendered at the same scale, is the plot: not blank, the three series' colours in it.
  const prefix = path.join(ART, "softmax-page");
  const r = spawnSync("pdftoppm", ["-r", "108", "-f", String(pageNo), "-l", String(pageNo), "-singlefile", out, prefix], { encoding: "utf8" });
  assert.equal(r.status, 0, `pdftoppm failed (apt-get install poppler-utils): ${r.stderr}`);
  const img = readPpm(`${prefix}.ppm`);
  const counts = COLOURS.map(() => 0);
  let dark = 0;
  for (let y = box.top; y < Math.min(img.height, box.top + box.height); y++) {
    for (let x = box.left; x < Math.min(img.width, box.left + box.width); x++) {
      const i = (y * img.width + x) * 3;
      if (img.rgb[i] + img.rgb[i + 1] + img.rgb[i + 2] < 3 * 235) dark++;
      COLOURS.forEach((c, k) => {
        if (near(img.rgb, i, c)) counts[k]++;
      });
    }
  }
  const frac = dark / (box.width * box.height);
  assert.ok(frac > 0.02, `page ${pageNo} is ${(frac * 100).toFixed(1)}% non-white where the plot is (${JSON.stringify(box)}); the plot is missing`);
  counts.forEach((n, k) => assert.ok(n >= 10, `only ${n} pixels of series ${k}'s colour where the plot is; counts ${counts.join(", ")}`));
  // Control: the same count on a blank stretch of the page finds nothing, so the check can fail.
  let blankDark = 0;
  for (let y = img.height - 40; y < img.height - 10; y++)
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * 3;
      if (img.rgb[i] + img.rgb[i + 1] + img.rgb[i + 2] < 3 * 235) blankDark++;
    }
  assert.equal(blankDark, 0, "the page's bottom margin is not white");
});

test("Markdown: the header as a table, the images in a _files folder beside it", () => {
  const out = path.join(ART, "md", "softmax.md");
  ok(["export", executed, "--to", "md", "--out", out]);
  const md = fs.readFileSync(out, "utf8");
  assert.match(md, /\| backend \| wasm/);
  assert.match(md, /\| TensorFlow\.js \| 4\.22\.0 \|/);
  const images = [...md.matchAll(/!\[[^\]]*\]\(([^)]+\.png)\)/g)].map((m) => m[1]);
  assert.ok(images.length >= 2, `images in the Markdown: ${images.join(", ")}`);
  for (const img of images) {
    const file = path.join(path.dirname(out), decodeURIComponent(img));
    assert.ok(fs.existsSync(file), `${img} is missing`);
    assert.equal(fs.readFileSync(file).subarray(1, 4).toString("latin1"), "PNG");
  }
});

test("--execute asks the kernel for the environment; plotly figures are interactive in the HTML, with plotly.js inlined once", async () => {
  const dir = path.join(ART, "plotly");
  fs.mkdirSync(dir, { recursive: true });
  const nbFile = path.join(dir, "landscape.ipynb");
  fs.writeFileSync(
    nbFile,
    notebook([
      'const w = tf.linspace(-2, 2, 21), b = tf.linspace(-2, 2, 21);\nconst [W, B] = tf.meshgrid(w, b);\nd2l.plotly([{ type: "surface", x: w, y: b, z: W.square().add(B.square().mul(3)) }], { title: "loss landscape" })',
      'd2l.plotly([{ x: [1, 2, 3], y: [1, 4, 9], name: "squares" }], { title: "squares" })',
    ]),
  );
  const said = ok(["export", nbFile, "--execute", "--to", "html"], { D2L_BACKEND: "cpu" });
  assert.match(said, /2 plot\(s\), 2 interactive plotly figure\(s\)/);
  const htmlFile = path.join(dir, "landscape.html");
  const html = fs.readFileSync(htmlFile, "utf8");
  assert.equal(html.match(/plotly\.js v\d+\.\d+\.\d+/g)?.length, 1, "plotly.js is inlined exactly once");
  assert.ok(!/<script[^>]+src="https?:/.test(html), "no script comes from the network");
  const text = html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
  assert.match(text, /backend cpu /);
  assert.match(text, /reported by the kernel after the run/);
  assert.ok(!html.includes("recordEnvironment"), "the cell --execute added is not in the report");

  browser = await chromium.launch({
    executablePath: findChromium(),
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"],
  });
  const page = await browser.newPage({ viewport: { width: 1200, height: 1600 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`file://${htmlFile}`);
  await page.waitForFunction(
    () =>
      (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll("div.d2l-plotly[data-d2l-plotly-ready]").length === 2,
    undefined,
    { timeout: 60_000 },
  );
  const state = await page.evaluate(() => {
    const d = (
      globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ querySelectorAll(s: string): { length: number }; getAttribute(a: string): string | null }> } }
    ).document;
    return Array.from(d.querySelectorAll("div.d2l-plotly")).map((div) => ({
      imgs: div.querySelectorAll("img").length,
      plots: div.querySelectorAll(".main-svg").length,
      error: div.getAttribute("data-d2l-plotly-error"),
    }));
  });
  for (const s of state) {
    assert.equal(s.error, null);
    assert.equal(s.imgs, 0, "the static PNG gives way to plotly's drawing");
    assert.ok(s.plots >= 1, "plotly drew the figure");
  }
  await page.screenshot({ path: path.join(ART, "plotly.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("a failing cell stops --execute with a clear message; --allow-errors exports it", () => {
  const dir = path.join(ART, "failing");
  fs.mkdirSync(dir, { recursive: true });
  const nbFile = path.join(dir, "fails.ipynb");
  fs.writeFileSync(nbFile, notebook(['throw new Error("boom at export")']));
  const r = cli(["export", nbFile, "--execute"], { D2L_BACKEND: "cpu" });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /a cell of .*fails\.ipynb failed .*--allow-errors/);
  ok(["export", nbFile, "--execute", "--allow-errors", "--out", path.join(dir, "fails.html")], { D2L_BACKEND: "cpu" });
  assert.match(fs.readFileSync(path.join(dir, "fails.html"), "utf8"), /boom at export/);
});

test("PDF without chromium says how to install it; a bad --to is a usage error", () => {
  const r = cli(["export", executed, "--to", "pdf", "--out", path.join(ART, "never.pdf")], { PATH: "/nonexistent", D2L_CHROMIUM: "" });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /apt-get install -y --no-install-recommends chromium/);
  assert.ok(!fs.existsSync(path.join(ART, "never.pdf")));
  const u = cli(["export", executed, "--to", "docx"]);
  assert.equal(u.status, 2);
  assert.match(u.out, /--to must be html, pdf or md; got "docx"/);
});
