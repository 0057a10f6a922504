import { test, describe, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { plot, Figure, VEGALITE_MIME, JUPYTER_DISPLAY } from "../../lib/plot/index";
import { parseFmt, stylesFor, resolveAxes, lineSpec, seriesNames, fmtNum } from "../../lib/plot/spec";
import { encodePng, pngSize } from "../../lib/plot/png";
import { resolveFonts, fontFamilyOf, loadFontMetrics } from "../../lib/plot/fonts";
import { rasterize, guardClips } from "../../lib/plot/raster";
import { renderVegaLitePng } from "../../lib/plot/render";

const BRIDGE = Symbol.for("d2l-ts.output");
const SYM: typeof JUPYTER_DISPLAY = JUPYTER_DISPLAY;
assert.equal(SYM, Symbol.for("Jupyter.display"));

interface Call {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  displayId: string | undefined;
  update: boolean;
}

function installBridge(): Call[] {
  const calls: Call[] = [];
  (globalThis as Record<symbol, unknown>)[BRIDGE] = {
    display(out: { data: Record<string, unknown>; metadata: Record<string, unknown> }, displayId: string | undefined, update: boolean) {
      calls.push({ data: out.data, metadata: out.metadata, displayId, update });
    },
    clearOutput() {},
  };
  return calls;
}

function removeBridge(): void {
  delete (globalThis as Record<symbol, unknown>)[BRIDGE];
}

type Spec = {
  $schema: string;
  width: number;
  height: number;
  data: { values: { s: string; i: number; x: number; y: number }[] };
  encoding: {
    x: { title: string | null; scale: { type: string; domain?: number[] } };
    y: { title: string | null; scale: { type: string; domain?: number[] } };
    color: { scale: { domain: string[]; range: string[] }; legend: unknown };
  };
  layer: { mark: { type: string }; encoding?: { strokeDash?: { scale: { range: number[][] } } } }[];
};

describe("format strings (matplotlib style)", () => {
  test("the book's defaults: '-', 'm--', 'g-.', 'r:'", () => {
    const [a, b, c, d] = stylesFor(4, ["-", "m--", "g-.", "r:"]);
    assert.equal(a.color, "#1f77b4");
    assert.deepEqual(a.dash, [1, 0]);
    assert.equal(b.color, "#bf00bf");
    assert.deepEqual(b.dash, [6, 3]);
    assert.equal(c.color, "#008000");
    assert.deepEqual(c.dash, [8, 3, 2, 3]);
    assert.equal(d.color, "#ff0000");
    assert.deepEqual(d.dash, [2, 2]);
  });

  test("markers: 'bo' draws points only, 'r:o' both; C1 is the cycle colour", () => {
    const bo = parseFmt("bo", 0);
    assert.equal(bo.dash, null);
    assert.equal(bo.marker?.shape, "circle");
    const both = parseFmt("r:o", 0);
    assert.deepEqual(both.dash, [2, 2]);
    assert.ok(both.marker);
    assert.equal(parseFmt("C1-", 0).color, "#ff7f0e");
  });

  test("colourless formats take successive cycle colours, like matplotlib", () => {
    const s = stylesFor(3, ["-"]);
    assert.deepEqual(
      s.map((x) => x.color),
      ["#1f77b4", "#ff7f0e", "#2ca02c"],
    );
  });

  test("a bad format string says what is allowed", () => {
    assert.throws(() => parseFmt("m~", 0), /"m~".*unknown character "~".*line style/);
    assert.throws(() => parseFmt("rg", 0), /two colours/);
  });
});

describe("axes options", () => {
  test("bad limits, scales and sizes are clear errors", () => {
    assert.throws(() => resolveAxes({ xlim: [1, 1] }, "plot"), /plot: xlim must be \[min, max\]/);
    assert.throws(() => resolveAxes({ ylim: [0, 1], yscale: "log" }, "plot"), /must be positive on a log scale/);
    assert.throws(() => resolveAxes({ xscale: "symlog" as never }, "plot"), /xscale must be "linear" or "log"/);
    assert.throws(() => resolveAxes({ figsize: [0, 2] }, "Animator"), /Animator: figsize must be \[width, height\] in inches/);
    assert.throws(() => resolveAxes({ fmts: ["q"] }, "plot"), /format string "q"/);
  });

  test("series names: legend first (made unique), then y<k>", () => {
    assert.deepEqual(seriesNames(3, ["a", "a"]), ["a", "a (2)", "y2"]);
  });

  test("numbers in summaries are short", () => {
    assert.equal(fmtNum(0.123456), "0.1235");
    assert.equal(fmtNum(12345678), "1.235e+7");
    assert.equal(fmtNum(0), "0");
  });
});

describe("plot", () => {
  let calls: Call[];
  beforeEach(() => {
    calls = installBridge();
  });
  afterEach(removeBridge);

  test("bundle: vega-lite object, PNG and text; never text/html", () => {
    const fig = plot(
      [0, 1, 2, 3],
      [
        [0, 1, 4, 9],
        [0, 2, 4, 6],
      ],
      { xlabel: "x", ylabel: "f(x)", legend: ["f(x)", "2x"] },
    );
    const b = fig.bundle();
    assert.deepEqual(Object.keys(b).sort(), [VEGALITE_MIME, "image/png", "text/plain"].sort());
    assert.equal("text/html" in b, false);
    assert.equal(typeof b[VEGALITE_MIME], "object");
    assert.equal(typeof b["image/png"], "string");
    assert.match(String(b["text/plain"]), /f\(x\), 2x; 8 points/);
  });

  test("the spec has the series, labels, legend and scales asked for", () => {
    const spec = plot(
      [1, 10, 100],
      [
        [1, 2, 3],
        [3, 2, 1],
      ],
      {
        xlabel: "lr",
        ylabel: "loss",
        legend: ["train", "test"],
        xscale: "log",
        ylim: [0, 4],
        figsize: [5, 2.5],
      },
    ).spec as unknown as Spec;
    assert.match(spec.$schema, /vega-lite\/v5/);
    assert.equal(spec.width, 360);
    assert.equal(spec.height, 180);
    assert.equal(spec.encoding.x.title, "lr");
    assert.equal(spec.encoding.y.title, "loss");
    assert.equal(spec.encoding.x.scale.type, "log");
    assert.equal(spec.encoding.y.scale.type, "linear");
    assert.deepEqual(spec.encoding.y.scale.domain, [0, 4]);
    assert.deepEqual(spec.encoding.color.scale.domain, ["train", "test"]);
    assert.notEqual(spec.encoding.color.legend, null);
    assert.equal(spec.data.values.length, 6);
    assert.deepEqual(
      spec.data.values.filter((v) => v.s === "test").map((v) => [v.x, v.y]),
      [
        [1, 3],
        [10, 2],
        [100, 1],
      ],
    );
  });

  test("the PNG is a PNG at twice the display size given in the metadata", () => {
    const out = plot([1, 2, 3], [2, 4, 8])[SYM]() as { data: Record<string, string>; metadata: Record<string, { width: number; height: number }> };
    const size = pngSize(out.data["image/png"]);
    const meta = out.metadata["image/png"];
    assert.equal(size.width, meta.width * 2);
    assert.equal(size.height, meta.height * 2);
    // 3.5 x 2.5 in at 72 px/in is the plotting area; axes and labels add a margin
    assert.ok(meta.width > 252 && meta.width < 252 + 150, `width ${meta.width}`);
    assert.ok(meta.height > 180 && meta.height < 180 + 100, `height ${meta.height}`);
  });

  test("without Y, X is plotted against its indices; no legend without names", () => {
    const spec = plot([5, 6, 7]).spec as unknown as Spec;
    assert.deepEqual(
      spec.data.values.map((v) => [v.x, v.y]),
      [
        [0, 5],
        [1, 6],
        [2, 7],
      ],
    );
    assert.equal(spec.encoding.color.legend, null);
    assert.equal(spec.encoding.x.title, null);
  });

  test("Y may be omitted with options as the second argument", () => {
    const spec = plot([1, 2], { ylabel: "v" }).spec as unknown as Spec;
    assert.equal(spec.encoding.y.title, "v");
    assert.equal(spec.data.values.length, 2);
  });

  test("tensors: a 1-D X shared by a list of 1-D Ys and by a 2-D Y; nothing leaks", () => {
    const x = tf.linspace(0, 1, 5);
    const y2 = tf.stack([x, x.square()]);
    const before = tf.memory().numTensors;
    const a = plot(x, [x, x.mul(2) as tf.Tensor]).spec as unknown as Spec;
    const afterList = tf.memory().numTensors;
    const b = plot(x, y2).spec as unknown as Spec;
    assert.equal(tf.memory().numTensors, afterList, "plotting a 2-D tensor allocates nothing");
    assert.equal(afterList, before + 1, "only the caller's x.mul(2) is new");
    assert.equal(a.data.values.length, 10);
    assert.equal(b.data.values.length, 10);
    assert.deepEqual(
      b.data.values.filter((v) => v.s === "y1").map((v) => v.y),
      [0, 0.0625, 0.25, 0.5625, 1],
    );
    tf.dispose([x, y2]);
  });

  test("log axes leave out values <= 0 and non-finite values are dropped", () => {
    const spec = plot([0, 1, 2, 3], [1, Infinity, NaN, 4], { yscale: "log" }).spec as unknown as Spec;
    assert.deepEqual(
      spec.data.values.map((v) => [v.x, v.y]),
      [
        [0, 1],
        [3, 4],
      ],
    );
    const spec2 = plot([0, 1, 2], [-1, 0, 2], { yscale: "log" }).spec as unknown as Spec;
    assert.deepEqual(
      spec2.data.values.map((v) => v.y),
      [2],
    );
  });

  test("bad input says what was expected", () => {
    assert.throws(() => plot([1, 2, 3], [1, 2]), /series 0 has 3 x values and 2 y values/);
    assert.throws(
      () =>
        plot(
          [
            [1, 2],
            [1, 2],
          ],
          [
            [1, 2],
            [1, 2],
            [1, 2],
          ],
        ),
      /2 X series and 3 Y series/,
    );
    assert.throws(() => plot(tf.zeros([2, 2, 2])), /shape \[2, 2, 2\]; expected 1-D/);
    assert.throws(() => plot([1, "a" as unknown as number]), /X\[1\] is string "a"; expected a number/);
    const t = tf.ones([3]);
    t.dispose();
    assert.throws(() => plot(t), /disposed tensor/);
  });

  test("plot shows nothing by itself; show() displays once, as display_data", () => {
    const fig = plot([1, 2], [3, 4]);
    assert.ok(fig instanceof Figure);
    assert.equal(calls.length, 0, "no output until shown or returned as the cell's value");
    fig.show();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].update, false);
    assert.deepEqual(Object.keys(calls[0].data).sort(), [VEGALITE_MIME, "image/png", "text/plain"].sort());
    assert.deepEqual(Object.keys(calls[0].metadata), ["image/png"]);
  });

  test("the spec compiles with vega-lite", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const vl = require("vega-lite") as { compile(s: object): { spec: { marks?: unknown[] } } };
    const spec = plot(
      [1, 2, 3],
      [
        [1, 2, 3],
        [2, 3, 4],
      ],
      { fmts: ["-", "bo"], legend: ["a", "b"] },
    ).spec as object;
    const compiled = vl.compile(spec).spec;
    assert.ok(Array.isArray(compiled.marks) && compiled.marks.length > 0);
  });

  test("the legend draws each entry as its series: a stroke for a line, the marker for markers only", async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const vl = require("vega-lite") as { compile(s: object): { spec: object } };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const vega = require("vega") as { parse(s: object): object; View: new (rt: object, o: object) => { toSVG(): Promise<string> } };
    const svgOf = (fmts: string[]) =>
      new vega.View(
        vega.parse(
          vl.compile(
            plot(
              [1, 2, 3],
              [
                [1, 2, 3],
                [2, 3, 4],
              ],
              { fmts, legend: ["a", "b"] },
            ).spec as object,
          ).spec,
        ),
        { renderer: "none" },
      ).toSVG();
    // the legend's symbols, in order: vega writes each as a path in the legend-symbol group
    const symbols = (svg: string) => [...svg.matchAll(/role-legend-symbol"[^>]*><path [^>]*d="([^"]+)" fill="([^"]*)"/g)].map((m) => ({ d: m[1], fill: m[2] }));
    const mixed = symbols(await svgOf(["-", "ro"]));
    assert.equal(mixed.length, 2, "two legend entries");
    assert.doesNotMatch(mixed[0].d, /A/, "the line's entry is a stroke, not a circle");
    assert.match(mixed[1].d, /A/, "the markers' entry is a circle (an arc)");
    assert.equal(mixed[1].fill, "#ff0000", "filled in the markers' colour");
    const lines = symbols(await svgOf(["-", "m--"]));
    assert.ok(
      lines.every((x) => !/A/.test(x.d)),
      "lines only: every entry a stroke",
    );
  });

  test("a spec vega cannot render is an error naming vega", () => {
    assert.throws(() => renderVegaLitePng({ mark: "nonsense-mark", data: { values: [] } }), /vega could not render the plot/);
  });
});

describe("PNG helpers", () => {
  test("encodePng writes a PNG whose IHDR has the size; pngSize reads it back", () => {
    const png = encodePng(new Uint8Array(5 * 3 * 3), 5, 3, 3);
    assert.deepEqual(pngSize(png), { width: 5, height: 3 });
    assert.deepEqual(pngSize(png.toString("base64")), { width: 5, height: 3 });
    assert.throws(() => pngSize(Buffer.from("GIF89a not a png at all....")), /not a PNG/);
    assert.throws(() => encodePng(new Uint8Array(7), 2, 2, 1), /expected 2\*2\*1 = 4 bytes, got 7/);
  });
});

describe("fonts", () => {
  test("D2L_FONT=none and a missing D2L_FONT file mean no text, with the reason", () => {
    assert.deepEqual(resolveFonts({ D2L_FONT: "none" }).files, []);
    const missing = resolveFonts({ D2L_FONT: "/nowhere/font.ttf" });
    assert.deepEqual(missing.files, []);
    assert.match(String(missing.missing), /"\/nowhere\/font\.ttf".*fonts-dejavu-core/);
  });

  test("the fonts found here have a family name and advance widths, or the reason says how to install one", () => {
    const f = resolveFonts();
    if (f.files.length > 0) {
      assert.ok(f.family && f.family.length > 0);
      assert.equal(fontFamilyOf(f.files[0]), f.family);
      const m = loadFontMetrics(f.files[0]);
      assert.ok(m);
      assert.ok(m.width("WWW", 10) > m.width("iii", 10), "wide letters measure wider");
    } else {
      assert.match(String(f.missing), /fonts-dejavu-core/);
    }
  });

  test("a line that a ylim hides entirely renders as an empty plot instead of aborting the process (resvg clip panic)", () => {
    // resvg 2.6 panics (and a panic aborts Node) on a clipped group whose content lies wholly outside its clip
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100" fill="#fff"/>' +
      '<defs><clipPath id="clip1"><rect x="0" y="0" width="100" height="100"/></clipPath></defs>' +
      '<g class="mark-line" clip-path="url(#clip1)"><path d="M10,-630L50,-660" stroke="#000"/></g></svg>';
    const guarded = guardClips(svg);
    assert.match(guarded, /clip-path="url\(#clip1\)"><rect x="0" y="0" width="100" height="100" fill="#fff" fill-opacity="0" stroke="none"\/>/);
    const r = rasterize(svg, 1, { files: [], family: undefined });
    assert.deepEqual(pngSize(r.png), { width: 100, height: 100 });
    // the plot of the report: a line far above ylim; the PNG comes back and the kernel lives
    const bundle = plot([1.2, 1.4], [[3, 3.1]], { xlim: [1, 2], ylim: [0.3, 0.9] }).displayBundle();
    assert.ok(typeof bundle.data["image/png"] === "string" && (bundle.data["image/png"] as string).length > 100);
  });

  test("without fonts, text is skipped and rendering does not fail; with fonts, text is drawn", () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30"><rect width="120" height="30" fill="white"/><text x="5" y="20" font-family="sans-serif" font-size="16">epoch loss</text></svg>';
    const blank = rasterize(svg, 1, { files: [], family: undefined });
    assert.deepEqual(pngSize(blank.png), { width: 120, height: 30 });
    const f = resolveFonts();
    if (f.files.length > 0) {
      const withText = rasterize(svg, 1, f);
      assert.ok(withText.png.length > blank.png.length + 100, `text adds pixels (${withText.png.length} vs ${blank.png.length} bytes)`);
    } else {
      assert.equal(f.files.length, 0);
    }
  });
});

describe("lineSpec", () => {
  test("markers-only series get a point layer and no line", () => {
    const spec = lineSpec(
      [
        { x: [1, 2], y: [1, 2] },
        { x: [1, 2], y: [2, 1] },
      ],
      resolveAxes({ fmts: ["-", "ro"] }, "plot"),
    ) as unknown as Spec;
    assert.deepEqual(
      spec.layer.map((l) => l.mark.type),
      ["line", "point"],
    );
    assert.deepEqual(spec.encoding.color.scale.range, ["#1f77b4", "#ff0000"]);
  });
});
