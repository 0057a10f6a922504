// Tests of notebook/export.ts' parts that need no Jupyter or browser: what the report says, the notebook nbconvert gets, plotly inlining, arguments.
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
  parseExportArgs,
  findChromium,
  chromiumFlags,
  ExportUsageError,
  type Notebook,
  type NbCell,
} from "../../notebook/export";

const ENV = { d2lTs: "0.1.0", tfjs: "4.22.0", backend: "wasm", device: "cpu", adapter: "WebAssembly SIMD, 2 threads", threads: 2, node: "v20.1.0", platform: "linux x64", date: "2025-03-01T14:05:09+01:00" };
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
        code(5, [{ output_type: "display_data", data: { "text/plain": "x" }, metadata: { "d2l-ts": { environment: { ...ENV, backend: "cpu" }, summary: ["loss 1.000", "1.0 examples/sec on cpu"] } } }]),
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
    const envCell: NbCell = { ...code(9, [{ output_type: "display_data", data: {}, metadata: { "d2l-ts": { environment: { ...ENV, backend: "tensorflow" } } } }]), metadata: { "d2l-ts": { role: "export-environment" } } };
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
    assert.deepEqual(p.nb.cells.map((c) => (c.cell_type === "markdown" ? String(c.source).slice(0, 7) : "code")), ["# Title", "HEADER", "code"]);
    assert.match(String(p.nb.cells[1].id), /^d2l-[0-9a-f]{12}$/, "nbformat 4.5 cells need an id");
    const old = prepareForExport({ ...nb([code(1, [])]), nbformat_minor: 4 }, "H", { interactivePlotly: false });
    assert.equal(old.nb.cells[0].source, "H", "no title: the header comes first");
    assert.ok(!("id" in old.nb.cells[0]), "nbformat 4.4 rejects cell ids");
  });

  test("a vega-lite plot without a PNG gets one; plots with one keep theirs", () => {
    const spec = { mark: "line" };
    const src = nb([code(1, [{ output_type: "display_data", data: { [VL]: spec, "text/plain": "p" }, metadata: {} }]), code(2, [{ output_type: "display_data", data: { [VL]: spec, "image/png": "OLD", "text/plain": "q" }, metadata: {} }])]);
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
    const src = nb([code(1, [{ output_type: "display_data", data: { [PL]: fig, "image/png": "PNGDATA", "text/plain": '<plotly figure "a<b">' }, metadata: { "image/png": { width: 300, height: 200 } } }])]);
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
  test("parseExportArgs", () => {
    assert.deepEqual(parseExportArgs(["a.ipynb"]), { notebook: "a.ipynb", to: "html", out: undefined, execute: false, timeout: 1800, allowErrors: false });
    assert.deepEqual(parseExportArgs(["--to", "markdown", "a.ipynb", "--execute", "--out", "r.md", "--timeout", "60", "--allow-errors"]), {
      notebook: "a.ipynb",
      to: "md",
      out: "r.md",
      execute: true,
      timeout: 60,
      allowErrors: true,
    });
    assert.throws(() => parseExportArgs(["--to", "docx", "a.ipynb"]), (e: Error) => e instanceof ExportUsageError && /--to must be html, pdf or md; got "docx"/.test(e.message));
    assert.throws(() => parseExportArgs([]), /export needs a NOTEBOOK/);
    assert.throws(() => parseExportArgs(["a.ipynb", "b.ipynb"]), /one NOTEBOOK/);
    assert.throws(() => parseExportArgs(["a.ipynb", "--timeout", "soon"]), /--timeout takes whole seconds/);
    assert.throws(() => parseExportArgs(["a.ipynb", "--allow-errors"]), /--allow-errors goes with --execute/);
    assert.throws(() => parseExportArgs(["a.ipynb", "--pdf"]), /unknown option\(s\): --pdf/);
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

  test("Chromium runs off the network, in a fresh profile", () => {
    const f = chromiumFlags("/tmp/profile-x");
    for (const flag of ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run", "--user-data-dir=/tmp/profile-x"]) {
      assert.ok(f.includes(flag), `missing ${flag}`);
    }
  });
});
