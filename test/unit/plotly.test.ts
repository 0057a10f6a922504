// Tests of d2l.plotly: the bundle (plotly JSON + static PNG + text, no HTML), tensors to JSON, the static preview, errors.
import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as zlib from "zlib";
import * as tf from "@tensorflow/tfjs";
import { plotly, PlotlyFigure, PLOTLY_MIME, JUPYTER_DISPLAY, Figure } from "../../lib/plot/index";
import { staticSvg, type PlotlyJson } from "../../lib/plot/plotly";
import { pngSize } from "../../lib/plot/png";

const BRIDGE = Symbol.for("d2l-ts.output");

/** Decode an 8-bit, non-interlaced RGBA or RGB PNG (what resvg writes) into RGBA pixels. */
function decodePng(b64: string): { width: number; height: number; rgba: Uint8Array } {
  const buf = Buffer.from(b64, "base64");
  const { width, height } = pngSize(buf);
  const colorType = buf[25];
  assert.ok(buf[24] === 8 && (colorType === 6 || colorType === 2), `unexpected PNG format: depth ${buf[24]}, color type ${colorType}`);
  const ch = colorType === 6 ? 4 : 3;
  const idat: Buffer[] = [];
  for (let off = 8; off < buf.length;) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString("latin1", off + 4, off + 8);
    if (type === "IDAT") idat.push(buf.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * ch;
  const out = new Uint8Array(width * height * ch);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x];
      const a = x >= ch ? out[y * stride + x - ch] : 0;
      const b = y > 0 ? out[(y - 1) * stride + x] : 0;
      const c = x >= ch && y > 0 ? out[(y - 1) * stride + x - ch] : 0;
      let p = 0;
      if (f === 1) p = a;
      else if (f === 2) p = b;
      else if (f === 3) p = (a + b) >> 1;
      else if (f === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[y * stride + x] = (v + p) & 255;
    }
  }
  if (ch === 4) return { width, height, rgba: out };
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set([out[i * 3], out[i * 3 + 1], out[i * 3 + 2], 255], i * 4);
  return { width, height, rgba };
}

/** Pixels that are clearly coloured (not white, grey or black). */
function colouredPixels(img: { rgba: Uint8Array }): number {
  let n = 0;
  for (let i = 0; i < img.rgba.length; i += 4) {
    const [r, g, b] = [img.rgba[i], img.rgba[i + 1], img.rgba[i + 2]];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
  }
  return n;
}

function landscape(n: number): { w: tf.Tensor1D; b: tf.Tensor1D; z: tf.Tensor2D } {
  const w = tf.linspace(-2, 2, n);
  const b = tf.linspace(-1, 1, n);
  const [W, B] = tf.meshgrid(w, b);
  return { w, b, z: W.square().add(B.square().mul(3)) as tf.Tensor2D };
}

describe("d2l.plotly bundle", () => {
  afterEach(() => delete (globalThis as Record<symbol, unknown>)[BRIDGE]);

  test("carries the plotly JSON, a PNG and text, never text/html; tensors become arrays", () => {
    const { w, b, z } = landscape(21);
    const fig = plotly([{ type: "surface", x: w, y: b, z }], { title: "loss landscape" });
    assert.ok(fig instanceof PlotlyFigure && fig instanceof Figure);
    const { data, metadata } = fig[JUPYTER_DISPLAY]();
    assert.deepEqual(Object.keys(data).sort(), [PLOTLY_MIME, "image/png", "text/plain"].sort());
    assert.equal(data["text/plain"], '<plotly figure "loss landscape": surface 21x21>');
    const json = data[PLOTLY_MIME] as PlotlyJson;
    // JSON, not tensors: survives a round trip through JSON unchanged
    assert.deepEqual(JSON.parse(JSON.stringify(json)), json);
    const zz = json.data[0].z as number[][];
    assert.equal(zz.length, 21);
    assert.equal(zz[0].length, 21);
    assert.ok(Math.abs(zz[0][0] - (4 + 3)) < 1e-5, `z[0][0] = ${zz[0][0]}, expected w^2 + 3 b^2 = 7 at (-2, -1)`);
    assert.deepEqual(json.layout, { title: { text: "loss landscape" } }, "plotly.js 3+ reads titles only as { text }");
    assert.deepEqual(metadata, { "image/png": { width: 560, height: 420 } });
    const size = pngSize(data["image/png"] as string);
    assert.deepEqual(size, { width: 1120, height: 840 }, "PNG at twice the display size");
  });

  test("the static preview of a surface is a coloured picture, most of it in the middle", () => {
    const { w, b, z } = landscape(31);
    const png = decodePng(plotly([{ type: "surface", x: w, y: b, z }]).bundle()["image/png"] as string);
    const total = colouredPixels(png);
    // The surface (viridis) covers a good part of the plot; an empty preview has almost no coloured pixels.
    assert.ok(total > 0.1 * png.width * png.height, `only ${total} coloured pixels of ${png.width * png.height}`);
    const empty = decodePng(plotly([{ type: "sankey" }]).bundle()["image/png"] as string);
    assert.ok(colouredPixels(empty) < 0.001 * empty.width * empty.height, "an unknown trace type draws no surface");
  });

  test("a surface is drawn as one shaded quad per grid cell; big grids are thinned to about 60 x 60", () => {
    const small = staticSvg(
      (
        plotly([
          {
            type: "surface",
            z: [
              [0, 1, 2],
              [1, 2, 3],
              [2, 3, 5],
            ],
          },
        ]) as PlotlyFigure
      ).figure,
    );
    assert.equal((small.svg.match(/<polygon class="quad"/g) ?? []).length, 4);
    const big = landscape(200);
    const svg = staticSvg(plotly([{ type: "surface", z: big.z }]).figure).svg;
    const quads = (svg.match(/<polygon class="quad"/g) ?? []).length;
    assert.ok(quads >= 40 * 40 && quads <= 61 * 61, `${quads} quads`);
  });

  test("layout width and height set the display size; a figure object works as well as traces", () => {
    const fig = plotly({ data: [{ x: [1, 2, 3], y: [2, 4, 8], name: "growth" }], layout: { width: 300, height: 200, xaxis: { title: "t" } } });
    const { metadata, data } = fig.displayBundle();
    assert.deepEqual(metadata, { "image/png": { width: 300, height: 200 } });
    assert.deepEqual(pngSize(data["image/png"] as string), { width: 600, height: 400 });
    const svg = staticSvg(fig.figure).svg;
    assert.match(svg, />growth</, "the legend names the trace");
    assert.match(svg, />t</, "the x-axis title");
    assert.match(svg, /<path d="M/, "a line");
  });

  test("trace types the preview cannot draw are named in the image, the rest still drawn", () => {
    const svg = staticSvg(
      plotly([
        {
          type: "heatmap",
          z: [
            [1, 2],
            [3, 4],
          ],
        },
        { type: "sunburst", labels: ["a"] },
      ]).figure,
    ).svg;
    assert.match(svg, /trace type &quot;sunburst&quot;/);
    assert.equal((svg.match(/<rect class="cell"/g) ?? []).length, 4, "four heatmap cells");
  });

  test("shown in the kernel as display_data with the plotly mime type", () => {
    const calls: { data: Record<string, unknown> }[] = [];
    (globalThis as Record<symbol, unknown>)[BRIDGE] = { display: (out: { data: Record<string, unknown> }) => calls.push(out), clearOutput() {} };
    plotly([{ type: "scatter3d", x: [0, 1], y: [0, 1], z: [0, 1] }]).show();
    assert.equal(calls.length, 1);
    assert.ok(PLOTLY_MIME in calls[0].data && "image/png" in calls[0].data && !("text/html" in calls[0].data));
  });
});

describe("d2l.plotly errors say what was expected", () => {
  test("no traces", () => {
    assert.throws(() => plotly([]), /no traces; give at least one/);
    assert.throws(() => plotly({} as never), /expected a figure \{ data: \[traces\], layout\? \}/);
  });
  test("ragged z, mismatched x", () => {
    assert.throws(() => plotly([{ type: "surface", z: [[1, 2], [3]] }]), /z row 1 has 1 values but row 0 has 2/);
    assert.throws(
      () =>
        plotly([
          {
            type: "surface",
            x: [1, 2, 3],
            z: [
              [1, 2],
              [3, 4],
            ],
          },
        ]),
      /x has 3 values but z has 2 columns/,
    );
    assert.throws(() => plotly([{ x: [1, 2], y: [1] }]), /2 x values and 1 y values/);
  });
  test("a 1-D z for a surface, a non-number, a disposed tensor, a bad type", () => {
    assert.throws(() => plotly([{ type: "surface", z: [1, 2, 3] }]), /z must be a 2-D array/);
    assert.throws(() => plotly([{ y: [1, "two" as unknown as number] }]), /y\[1\] is "two"; expected a number/);
    const t = tf.tensor1d([1, 2]);
    t.dispose();
    assert.throws(() => plotly([{ y: t }]), /disposed tensor/);
    assert.throws(() => plotly([{ type: 3 as unknown as string }]), /type must be a string/);
  });
});

test("string titles become plotly.js' { text } in the layout, axes and 3-D scene", () => {
  const fig = plotly(
    [
      {
        type: "surface",
        z: [
          [1, 2],
          [3, 4],
        ],
      },
    ],
    {
      title: "t",
      xaxis: { title: "x" },
      yaxis2: { title: { text: "y2" } },
      scene: { xaxis: { title: "w" }, zaxis: { title: "loss" } },
    },
  );
  assert.deepEqual(fig.figure.layout, {
    title: { text: "t" },
    xaxis: { title: { text: "x" } },
    yaxis2: { title: { text: "y2" } },
    scene: { xaxis: { title: { text: "w" } }, zaxis: { title: { text: "loss" } } },
  });
  const svg = staticSvg(fig.figure).svg;
  assert.match(svg, />t</);
  assert.match(svg, />loss</);
});
