// Tests of notebook/export.ts' parts that need no Jupyter or browser: what the report says, the notebook nbconvert gets, plotly inlining,
// the page MathJax renders in, Chromium's flags; and cli/export.ts' arguments.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  collectReport,
  headerMarkdown,
  prepareForExport,
  inlinePlotly,
  findChromium,
  chromiumFlags,
  stripLoaders,
  mathRenderPage,
  finishRendered,
  hasMath,
  type Notebook,
  type NbCell,
} from "../../notebook/export";
import { parseExportArgs } from "../../cli/export";
import { UsageError } from "../../cli/args";

const ENV = {
  d2lTs: "0.1.0",
  tfjs: "4.22.0",
  backend: "wasm",
  device: "cpu",
  adapter: "WebAssembly SIMD, 2 threads",
  threads: 2,
  node: "v20.1.0",
  platform: "linux x64",
  date: "2025-03-01T14:05:09+01:00",
};
const SUMMARY = ["loss 0.447, train acc 0.848, test acc 0.829", "12345.6 examples/sec on wasm (2 threads)"];

function nb(cells: NbCell[]): Notebook {
  return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells };
}
function code(count: number, outputs: NbCell["outputs"], source = "x"): NbCell {
  return { cell_type: "code", execution_count: count, metadata: {}, source, outputs };
}
function md(source: string): NbCell {
  return { cell_type: "markdown", metadata: {}, source };
}

describe("collectReport", () => {
  test("summaries and the environment from d2l's output metadata", () => {
    const r = collectReport(
      nb([
        md("# T"),
        code(3, [{ output_type: "display_data", data: { "text/plain": SUMMARY.join("\n") }, metadata: { "d2l-ts": { environment: ENV, summary: SUMMARY } } }]),
        code(5, [
          {
            output_type: "display_data",
            data: { "text/plain": "x" },
            metadata: { "d2l-ts": { environment: { ...ENV, backend: "cpu" }, summary: ["loss 1.000", "1.0 examples/sec on cpu"] } },
          },
        ]),
      ]),
    );
    assert.equal(r.source, "outputs");
    assert.deepEqual(r.summaries, [
      { cell: 3, lines: SUMMARY },
      { cell: 5, lines: ["loss 1.000", "1.0 examples/sec on cpu"] },
    ]);
    assert.equal(r.environment?.backend, "cpu", "the last record wins");
  });

  test("the environment the kernel reported with --execute wins over earlier records", () => {
    const envCell: NbCell = {
      ...code(9, [{ output_type: "display_data", data: {}, metadata: { "d2l-ts": { environment: { ...ENV, backend: "tensorflow" } } } }]),
      metadata: { "d2l-ts": { role: "export-environment" } },
    };
    const r = collectReport(nb([envCell, code(2, [{ output_type: "display_data", data: {}, metadata: { "d2l-ts": { environment: ENV, summary: SUMMARY } } }])]));
    assert.equal(r.source, "kernel");
    assert.equal(r.environment?.backend, "tensorflow");
  });

  test("a notebook saved before summaries were recorded: the printed lines, backend from the speed line", () => {
    const r = collectReport(nb([code(4, [{ output_type: "stream", name: "stdout", text: ["epoch stuff\n", `${SUMMARY[0]}\n`, `${SUMMARY[1]}\n`, "RESULT {}\n"] }])]));
    assert.deepEqual(r.summaries, [{ cell: 4, lines: SUMMARY }]);
    assert.equal(r.source, "summary line");
    assert.deepEqual(r.environment, { backend: "wasm", threads: 2, device: undefined });
  });

  test("nothing recorded", () => {
    const r = collectReport(nb([code(1, [{ output_type: "stream", name: "stdout", text: "loss is high\n" }])]));
    assert.deepEqual(r, { environment: undefined, source: "none", summaries: [] });
  });
});

describe("headerMarkdown", () => {
  test("a table of the environment and one line per training run", () => {
    const h = headerMarkdown({ environment: ENV, source: "kernel", summaries: [{ cell: 5, lines: SUMMARY }] }, "nb.ipynb", new Date("2025-03-02T10:00:00Z"));
    assert.match(h, /\*\*Report\*\* of `nb\.ipynb`, exported 2025-03-02T10:00:00Z by d2l-ts /);
    assert.match(h, /\| backend \| wasm \(2 threads\) \|/);
    assert.match(h, /\| device \| cpu \(WebAssembly SIMD, 2 threads\) \|/);
    assert.match(h, /\| TensorFlow\.js \| 4\.22\.0 \|/);
    assert.match(h, /\| run date \| 2025-03-01T14:05:09\+01:00 \|/);
    assert.match(h, /reported by the kernel after the run/);
    assert.match(h, /- In \[5\]: `loss 0\.447, train acc 0\.848, test acc 0\.829`; `12345\.6 examples\/sec on wasm \(2 threads\)`/);
  });

  test("says not recorded, and how to record it", () => {
    const h = headerMarkdown({ environment: undefined, source: "none", summaries: [] }, "nb.ipynb");
    assert.equal((h.match(/not recorded \|/g) ?? []).length, 6);
    assert.match(h, /export with --execute, or call d2l\.recordEnvironment\(\)/);
    assert.match(h, /no training summary/);
  });
});

describe("prepareForExport", () => {
  const VL = "application/vnd.vegalite.v5+json";
  const PL = "application/vnd.plotly.v1+json";
  const envCell: NbCell = { ...code(9, []), metadata: { "d2l-ts": { role: "export-environment" } } };

  test("header after the title, environment cell dropped, the original left alone", () => {
    const src = nb([md("# Title\n\nintro"), code(1, []), envCell]);
    const before = JSON.stringify(src);
    const p = prepareForExport(src, "HEADER", { interactivePlotly: false });
    assert.equal(JSON.stringify(src), before);
    assert.deepEqual(
      p.nb.cells.map((c) => (c.cell_type === "markdown" ? String(c.source).slice(0, 7) : "code")),
      ["# Title", "HEADER", "code"],
    );
    assert.match(String(p.nb.cells[1].id), /^d2l-[0-9a-f]{12}$/, "nbformat 4.5 cells need an id");
    const old = prepareForExport({ ...nb([code(1, [])]), nbformat_minor: 4 }, "H", { interactivePlotly: false });
    assert.equal(old.nb.cells[0].source, "H", "no title: the header comes first");
    assert.ok(!("id" in old.nb.cells[0]), "nbformat 4.4 rejects cell ids");
  });

  test("a vega-lite plot without a PNG gets one; plots with one keep theirs", () => {
    const spec = { mark: "line" };
    const src = nb([
      code(1, [{ output_type: "display_data", data: { [VL]: spec, "text/plain": "p" }, metadata: {} }]),
      code(2, [{ output_type: "display_data", data: { [VL]: spec, "image/png": "OLD", "text/plain": "q" }, metadata: {} }]),
    ]);
    const seen: object[] = [];
    const p = prepareForExport(src, "H", { interactivePlotly: false, renderPng: (s) => (seen.push(s), { base64: "NEW", width: 10, height: 7 }) });
    assert.equal(p.plots, 2);
    assert.equal(p.pngsDrawn, 1);
    assert.deepEqual(seen, [spec]);
    const outs = p.nb.cells.flatMap((c) => c.outputs ?? []);
    assert.equal(outs[0].data?.["image/png"], "NEW");
    assert.deepEqual(outs[0].metadata, { "image/png": { width: 10, height: 7 } });
    assert.equal(outs[1].data?.["image/png"], "OLD");
  });

  test("plotly outputs become placeholder divs holding their PNG (HTML only)", () => {
    const fig = { data: [{ type: "surface", z: [[1]] }], layout: {}, config: {} };
    const src = nb([
      code(1, [
        { output_type: "display_data", data: { [PL]: fig, "image/png": "PNGDATA", "text/plain": '<plotly figure "a<b">' }, metadata: { "image/png": { width: 300, height: 200 } } },
      ]),
    ]);
    const html = prepareForExport(src, "H", { interactivePlotly: true });
    assert.deepEqual(html.plotly, [{ figure: fig, width: 300, height: 200 }]);
    const out = html.nb.cells[1].outputs?.[0];
    assert.deepEqual(Object.keys(out?.data ?? {}).sort(), ["text/html", "text/plain"]);
    assert.equal(
      out?.data?.["text/html"],
      '<div class="d2l-plotly" data-d2l-plotly="0" style="width:300px;height:200px"><img src="data:image/png;base64,PNGDATA" width="300" height="200" alt="&lt;plotly figure &quot;a&lt;b&quot;>"></div>',
    );
    const pdf = prepareForExport(src, "H", { interactivePlotly: false });
    assert.equal(pdf.plotly.length, 0);
    assert.equal(pdf.nb.cells[1].outputs?.[0].data?.["image/png"], "PNGDATA", "PDF and Markdown keep the PNG");
  });
});

describe("inlinePlotly", () => {
  test("plotly.js once before </body>, the figures as JSON that cannot close the script", () => {
    const figs = [
      { figure: { data: [], layout: { title: { text: "</script><script>alert(1)</script>" } } }, width: 1, height: 2 },
      { figure: { data: [] }, width: 3, height: 4 },
    ];
    const html = inlinePlotly("<html><body><p>x</p></body></html>", figs, "window.Plotly={};");
    assert.equal(html.split("window.Plotly={};").length - 1, 1);
    assert.ok(html.endsWith("</body></html>"));
    assert.equal(html.match(/<\/script>/g)?.length, 3, "only the three script elements close");
    const json = /<script type="application\/json" id="d2l-plotly-figures">(.*?)<\/script>/s.exec(html)?.[1] ?? "";
    assert.deepEqual(JSON.parse(json), figs);
    assert.equal(inlinePlotly("<body></body>", [], "JS"), "<body></body>", "no figures, nothing inlined");
  });
});

describe("arguments and Chromium", () => {
  const base = { out: undefined, execute: false, timeout: 1800, allowErrors: false, help: false };
  test("parseExportArgs: --opt value and --opt=value alike", () => {
    assert.deepEqual(parseExportArgs(["a.ipynb"]), { notebook: "a.ipynb", to: "html", ...base });
    const full = { notebook: "a.ipynb", to: "md", out: "r.md", execute: true, timeout: 60, allowErrors: true, help: false };
    assert.deepEqual(parseExportArgs(["--to", "markdown", "a.ipynb", "--execute", "--out", "r.md", "--timeout", "60", "--allow-errors"]), full);
    assert.deepEqual(parseExportArgs(["--to=markdown", "a.ipynb", "--execute", "--out=r.md", "--timeout=60", "--allow-errors"]), full);
    assert.deepEqual(parseExportArgs(["--to=PDF", "week[1] #2 ?.ipynb"]), { notebook: "week[1] #2 ?.ipynb", to: "pdf", ...base });
    assert.deepEqual(parseExportArgs(["--", "-odd name.ipynb"]).notebook, "-odd name.ipynb");
    assert.equal(parseExportArgs(["--help"]).help, true);
  });

  test("parseExportArgs: mistakes are usage errors that carry export's usage", () => {
    const usage = (re: RegExp) => (e: Error) => e instanceof UsageError && re.test(e.message) && /Usage: d2l-ts export NOTEBOOK/.test(e.usage ?? "");
    assert.throws(() => parseExportArgs(["--to", "docx", "a.ipynb"]), usage(/--to must be html, pdf or md; got "docx"/));
    assert.throws(() => parseExportArgs(["--to=docx", "a.ipynb"]), usage(/--to must be html, pdf or md; got "docx"/));
    assert.throws(() => parseExportArgs([]), usage(/export needs a NOTEBOOK/));
    assert.throws(() => parseExportArgs(["a.ipynb", "b.ipynb"]), usage(/unexpected argument\(s\): b\.ipynb/));
    assert.throws(() => parseExportArgs(["a.ipynb", "--timeout", "soon"]), usage(/--timeout must be a whole number ≥ 1 .*got "soon"/));
    assert.throws(() => parseExportArgs(["a.ipynb", "--timeout=0"]), usage(/--timeout must be a whole number ≥ 1/));
    assert.throws(() => parseExportArgs(["a.ipynb", "--timeout=1.5"]), usage(/--timeout must be a whole number/));
    assert.throws(() => parseExportArgs(["a.ipynb", "--allow-errors"]), usage(/--allow-errors goes with --execute/));
    assert.throws(() => parseExportArgs(["a.ipynb", "--pdf"]), usage(/unknown option --pdf/));
    assert.throws(() => parseExportArgs(["a.ipynb", "--execute=yes"]), usage(/--execute is a flag and takes no value/));
    assert.throws(() => parseExportArgs(["a.ipynb", "--out"]), usage(/--out needs a value/));
  });

  test("findChromium: D2L_CHROMIUM, then PATH; missing says apt-get install chromium", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-chromium-"));
    try {
      assert.throws(() => findChromium({ PATH: dir }), /apt-get install -y --no-install-recommends chromium/);
      const bin = path.join(dir, "chromium");
      fs.writeFileSync(bin, "#!/bin/sh\n", { mode: 0o755 });
      assert.equal(findChromium({ PATH: `/nonexistent${path.delimiter}${dir}` }), bin);
      assert.equal(findChromium({ PATH: "", D2L_CHROMIUM: bin }), bin);
      assert.throws(() => findChromium({ D2L_CHROMIUM: path.join(dir, "nope") }), /D2L_CHROMIUM is .* which does not exist/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("Chromium runs off the network, in a fresh profile, sandboxed unless root", () => {
    const user = chromiumFlags("/tmp/profile-x", false, {});
    for (const flag of [
      "--headless",
      "--disable-gpu",
      "--host-resolver-rules=MAP * ~NOTFOUND",
      "--proxy-bypass-list=<-loopback>",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
      "--user-data-dir=/tmp/profile-x",
    ]) {
      assert.ok(user.includes(flag), `missing ${flag}`);
    }
    assert.ok(
      user.some((f) => /^--proxy-server=http:\/\/127\.0\.0\.1:\d+$/.test(f)),
      "a proxy where nothing listens",
    );
    assert.ok(!user.includes("--no-sandbox"), "the sandbox stays on for a normal user");
    assert.ok(chromiumFlags("/p", true, {}).includes("--no-sandbox"), "root: Chromium cannot start sandboxed");
    assert.ok(chromiumFlags("/p", false, { D2L_CHROMIUM_NO_SANDBOX: "1" }).includes("--no-sandbox"));
  });
});

describe("self-contained HTML: loaders out, formulas rendered at export time", () => {
  const NBCONVERT = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8">
<title>d2l_export_report</title><script src="file:///usr/share/javascript/requirejs/require.min.js"></script>
<style>p{}</style>
<!-- Load mathjax -->
    <script src="file:///usr/share/javascript/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"> </script>
    <!-- MathJax configuration -->
    <script type="text/x-mathjax-config">
    init_mathjax = function() { MathJax.Hub.Config({}); }
    init_mathjax();
    </script>
    <!-- End of mathjax configuration --></head>
<body class="jp-Notebook"><p>$x^2$</p><script type="text/x-mathjax-config">/* the notebook's own */</script></body>
</html>`;

  test("stripLoaders removes nbconvert's file:// scripts and MathJax configuration from the head only, and sets the title", () => {
    const out = stripLoaders(NBCONVERT, "week <1> & 2");
    assert.ok(!/file:\/\//.test(out), out);
    assert.ok(!/init_mathjax/.test(out));
    assert.match(out, /<title>week &lt;1&gt; &amp; 2<\/title>/);
    assert.match(out, /<style>p\{\}<\/style>/);
    assert.match(out, /<body class="jp-Notebook"><p>\$x\^2\$<\/p><script type="text\/x-mathjax-config">\/\* the notebook's own \*\/<\/script><\/body>/, "the body is left alone");
  });

  test("mathRenderPage: the policy first in the head, only scripts with the nonce run, MathJax in SVG", () => {
    const page = mathRenderPage(stripLoaders(NBCONVERT, "t"), "file:///usr/share/javascript/mathjax/MathJax.js", "n0nce");
    const head = page.slice(0, page.indexOf("<body"));
    assert.ok(head.indexOf("Content-Security-Policy") < head.indexOf("<style>"), "the policy precedes everything else");
    assert.match(head, /content="script-src 'nonce-n0nce' 'strict-dynamic'/);
    assert.equal((head.match(/nonce="n0nce"/g) ?? []).length, 2);
    assert.match(head, /"output\/SVG"/);
    assert.match(head, /"useGlobalCache":false/);
    assert.match(head, /src="file:\/\/\/usr\/share\/javascript\/mathjax\/MathJax\.js"/);
    assert.ok(!page.slice(page.indexOf("<body")).includes("n0nce"), "the notebook's own scripts get no nonce");
  });

  test("finishRendered removes the policy and every script from MathJax's folder, keeps the rest; an unfinished page is an error", () => {
    const dom =
      `<!DOCTYPE html><html data-d2l-math-rendered="2"><head><meta http-equiv="Content-Security-Policy" id="d2l-math-csp" content="x">` +
      `<script data-d2l-math="" nonce="n" type="text/x-mathjax-config;executed=true">MathJax.Hub.Config({});</script>` +
      `<script data-d2l-math="" nonce="n" src="file:///usr/share/javascript/mathjax/MathJax.js"></script>` +
      `<script type="text/javascript" src="file:///usr/share/javascript/mathjax/jax/output/SVG/jax.js"></script>` +
      `<script src="https://example.org/user.js"></script><style>.MathJax_SVG{}</style></head>` +
      `<body><span class="MathJax_SVG"><svg><path d="M0 0"></path></svg></span><script type="math/tex">x^2</script></body></html>`;
    const { html, formulas } = finishRendered(dom, "file:///usr/share/javascript/mathjax");
    assert.equal(formulas, 2);
    assert.ok(!/Content-Security-Policy|data-d2l-math=|file:\/\//.test(html), html);
    assert.match(html, /<script src="https:\/\/example\.org\/user\.js"><\/script>/, "the notebook's own scripts stay");
    assert.match(html, /<span class="MathJax_SVG"><svg><path d="M0 0"><\/path><\/svg><\/span>/);
    assert.throws(() => finishRendered("<html><head></head><body></body></html>", "file:///m"), /MathJax did not finish/);
  });

  test("hasMath: TeX in Markdown or in LaTeX/Markdown/HTML outputs, not in code", () => {
    assert.equal(hasMath(nb([md("Euler: $e^{i\\pi}$")])), true);
    assert.equal(hasMath(nb([md("\\begin{align}a\\end{align}")])), true);
    assert.equal(hasMath(nb([code(1, [{ output_type: "display_data", data: { "text/latex": "\\(x\\)" }, metadata: {} }])])), true);
    assert.equal(hasMath(nb([md("# plain"), code(1, [{ output_type: "stream", name: "stdout", text: "costs $5" }], "const s = `${x}`;")])), false);
  });
});
