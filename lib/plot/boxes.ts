/**
 * Bounding boxes drawn on an image (the book's sections 13.3-13.4):
 * `d2l.bboxToRect`, the book's `bbox_to_rect`, describes one box;
 * `d2l.showBoxes` draws an image with boxes and labels, which is what the
 * book does with `d2l.plt.imshow(img)` plus `fig.axes.add_patch(...)` or
 * `show_bboxes(fig.axes, bboxes, labels, colors)`. A vega-lite spec (an
 * image mark under rect and text marks, y pointing down as in `imshow`)
 * with its PNG, like {@link plot}.
 */
import type { Tensor } from "@tensorflow/tfjs";
import { Figure, figureFrom, plotBundle, ReadValues, tryRenderPng } from "./figure";
import { readsSync } from "../read";
import { encodePng } from "./png";
import { fmtNum, type VegaLiteSpec } from "./spec";

/** One box as the plot draws it: what the book's `bbox_to_rect` makes a matplotlib `Rectangle` of. */
export interface BoxRect {
  /** Upper-left corner, in image pixels (x to the right, y down). */
  x: number;
  y: number;
  /** Width and height in pixels. */
  width: number;
  height: number;
  /** Edge colour: a CSS colour, or a matplotlib letter (`"b"`, `"g"`, `"r"`, `"m"`, `"c"`, `"y"`, `"k"`, `"w"`). */
  color: string;
  /** Edge width in pixels of the figure (the book's `linewidth=2`). */
  linewidth: number;
  /** Text drawn at the upper-left corner, on the edge colour (`showBoxes` sets it from its labels). */
  label?: string;
}

/** matplotlib's one-letter colours, which the book's `show_bboxes` uses. */
const LETTERS: Record<string, string> = { b: "blue", g: "green", r: "red", m: "magenta", c: "cyan", y: "yellow", k: "black", w: "white" };

function cssColor(c: string): string {
  return LETTERS[c] ?? c;
}

function checkColor(who: string, c: unknown): string {
  if (typeof c !== "string" || c.trim() === "")
    throw new Error(`${who}: a colour must be a CSS colour name or "#rrggbb", or a matplotlib letter such as "b"; got ${JSON.stringify(c)}`);
  return c;
}

/**
 * A box in corner form `[x1, y1, x2, y2]` as a rectangle to draw (the
 * book's `bbox_to_rect(bbox, color)`, which makes a matplotlib `Rectangle`
 * with `fill=False, linewidth=2`). Pass the result to {@link showBoxes}.
 *
 * @example
 * const dogBbox = [60, 45, 378, 516], catBbox = [400, 112, 655, 493];
 * d2l.showBoxes(img, [d2l.bboxToRect(dogBbox, "blue"), d2l.bboxToRect(catBbox, "red")]);
 */
export function bboxToRect(bbox: readonly number[] | Tensor, color: string): BoxRect {
  if (isTensor(bbox) && !bbox.isDisposed && !readsSync(bbox)) {
    throw new Error(
      `bboxToRect: the box tensor of shape [${bbox.shape.join(", ")}] is on the GPU and cannot be read synchronously here; pass its values: d2l.bboxToRect(await bbox.array(), color)`,
    );
  }
  const v = Array.isArray(bbox) ? bbox : isTensor(bbox) && !bbox.isDisposed ? Array.from(bbox.dataSync()) : undefined; // sync-read-ok: readsSync(bbox) checked above
  if (!v || v.length !== 4 || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
    throw new Error(`bboxToRect: bbox must be 4 finite numbers [x1, y1, x2, y2] (upper-left and lower-right corners); got ${describe(bbox)}`);
  }
  checkColor("bboxToRect", color);
  return { x: v[0], y: v[1], width: v[2] - v[0], height: v[3] - v[1], color, linewidth: 2 };
}

/** Options of {@link showBoxes}. */
export interface ShowBoxesOptions {
  /** Width of the image in the figure, in inches (72 px each); default 5. The height follows the image's aspect ratio. */
  width?: number;
}

function isTensor(v: unknown): v is Tensor {
  return typeof v === "object" && v !== null && Array.isArray((v as { shape?: unknown }).shape) && "dataId" in v;
}

function describe(v: unknown): string {
  if (isTensor(v)) return `a tensor of shape [${v.shape.join(", ")}]`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return JSON.stringify(v) ?? typeof v;
}

/** The image's pixels as bytes, at most `maxWidth` wide (every k-th pixel): 0..1 scaled by 255, 0..255 kept, else stretched. */
function imagePng(img: Tensor, maxWidth: number, read: ReadValues): { png: Buffer; h: number; w: number; c: 1 | 3 | 4 } {
  const s = img.shape;
  const ok = (s.length === 2 || s.length === 3) && (s.length === 2 || s[2] === 1 || s[2] === 3 || s[2] === 4);
  if (!ok)
    throw new Error(`showBoxes: image must be a tensor [height, width, channels] with 1, 3 or 4 channels (as d2l.readImage returns), or [height, width]; got ${describe(img)}`);
  const h = s[0];
  const w = s[1];
  const c = (s.length === 2 ? 1 : s[2]) as 1 | 3 | 4;
  if (h < 1 || w < 1) throw new Error(`showBoxes: the image is empty (${h}x${w})`);
  if (read.disposed(img)) throw new Error("showBoxes: the image tensor is disposed; show it before disposing it");
  const data = read(img);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let a = 1;
  let b = 0;
  if (lo >= 0 && hi <= 1) a = 255;
  else if (!(lo >= 0 && hi <= 255) && hi > lo) {
    a = 255 / (hi - lo);
    b = -lo * a;
  }
  const step = Math.max(1, Math.ceil(w / maxWidth));
  const ow = Math.ceil(w / step);
  const oh = Math.ceil(h / step);
  const out = new Uint8Array(ow * oh * c);
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      const src = (i * step * w + j * step) * c;
      const dst = (i * ow + j) * c;
      for (let k = 0; k < c; k++) out[dst + k] = Math.max(0, Math.min(255, Math.round(data[src + k] * a + b)));
    }
  }
  return { png: encodePng(out, ow, oh, c), h, w, c };
}

/** Rows of boxes from a tensor `[n, 4]`, arrays `[x1, y1, x2, y2]`, or {@link BoxRect}s. */
function boxRows(boxes: Tensor | readonly (readonly number[] | BoxRect)[], read: ReadValues): (number[] | BoxRect)[] {
  if (isTensor(boxes)) {
    if (boxes.shape.length !== 2 || boxes.shape[1] !== 4)
      throw new Error(`showBoxes: boxes must be a tensor [numBoxes, 4] of corners (x1, y1, x2, y2) in pixels; got ${describe(boxes)}`);
    if (read.disposed(boxes)) throw new Error("showBoxes: the boxes tensor is disposed; show it before disposing it");
    const d = Array.from(read(boxes));
    return Array.from({ length: boxes.shape[0] }, (_, i) => d.slice(i * 4, i * 4 + 4));
  }
  if (!Array.isArray(boxes)) throw new Error(`showBoxes: boxes must be a tensor [numBoxes, 4], an array of [x1, y1, x2, y2], or d2l.bboxToRect results; got ${describe(boxes)}`);
  return boxes.map((b, i) => {
    if (Array.isArray(b)) {
      if (b.length !== 4 || !b.every((x) => typeof x === "number" && Number.isFinite(x)))
        throw new Error(`showBoxes: box ${i} must be 4 finite numbers [x1, y1, x2, y2]; got ${describe(b)}`);
      return [...b];
    }
    const r = b as BoxRect;
    if (typeof r !== "object" || r === null || ![r.x, r.y, r.width, r.height].every((x) => typeof x === "number" && Number.isFinite(x))) {
      throw new Error(`showBoxes: box ${i} must be [x1, y1, x2, y2] or a d2l.bboxToRect result; got ${describe(b)}`);
    }
    return r;
  });
}

/**
 * Draws an image with boxes and their labels: the book's
 * `fig = d2l.plt.imshow(img)` followed by `fig.axes.add_patch(bbox_to_rect(...))`
 * (13.3) or `show_bboxes(fig.axes, bboxes, labels, colors)` (13.4). `image`
 * is `[height, width, channels]` (values 0-255 as {@link readImage} gives,
 * or 0-1); `boxes` are corners `[x1, y1, x2, y2]` in pixels (a tensor
 * `[n, 4]`, arrays, or {@link bboxToRect} results, which keep their
 * colours). Colours cycle through `colors` (default the book's
 * `["b", "g", "r", "m", "c"]`); each label sits at its box's upper-left
 * corner, white on the box's colour (black on white), as in the book.
 * Returns a {@link Figure} (vega-lite, PNG, text); an image or boxes on the
 * GPU (webgpu) are read with `await` when it is shown (see {@link Figure}).
 *
 * @example
 * const img = await d2l.readImage("../img/catdog.jpg");
 * const [h, w] = img.shape;
 * const bboxScale = tf.tensor1d([w, h, w, h]);
 * d2l.showBoxes(img, boxes.slice([250, 250, 0, 0], [1, 1, 5, 4]).reshape([5, 4]).mul(bboxScale),
 *   ["s=0.75, r=1", "s=0.5, r=1", "s=0.25, r=1", "s=0.75, r=2", "s=0.75, r=0.5"]);
 */
export function showBoxes(
  image: Tensor,
  boxes: Tensor | readonly (readonly number[] | BoxRect)[],
  labels?: readonly string[],
  colors?: readonly string[],
  options: ShowBoxesOptions = {},
): Figure {
  if (!isTensor(image)) throw new Error(`showBoxes: image must be a tensor [height, width, channels] (as d2l.readImage returns); got ${describe(image)}`);
  const widthIn = options.width ?? 5;
  if (!(typeof widthIn === "number" && widthIn > 0 && Number.isFinite(widthIn)))
    throw new Error(`showBoxes: width must be a positive number of inches; got ${JSON.stringify(widthIn)}`);
  if (labels !== undefined && labels !== null && !Array.isArray(labels)) throw new Error(`showBoxes: labels must be an array of strings, one per box; got ${describe(labels)}`);
  const palette = (colors ?? ["b", "g", "r", "m", "c"]).map((c) => checkColor("showBoxes", c));
  if (palette.length === 0) throw new Error("showBoxes: colors must name at least one colour");
  return figureFrom((read) => buildBoxes(imagePng(image, Math.round(widthIn * 72) * 2, read), boxRows(boxes, read), labels, palette, widthIn));
}

/** The figure of {@link showBoxes} from the image's PNG and the boxes' values. */
function buildBoxes(
  image: { png: Buffer; h: number; w: number; c: 1 | 3 | 4 },
  rows: (number[] | BoxRect)[],
  labels: readonly string[] | undefined,
  palette: string[],
  widthIn: number,
): Figure {
  const plotW = Math.round(widthIn * 72);
  const { png, h, w, c } = image;
  const plotH = Math.max(1, Math.round((plotW * h) / w));
  const pxPerUnit = plotW / w;
  const fontSize = 9;
  const values = rows.map((r, i) => {
    const rect = Array.isArray(r) ? { x: r[0], y: r[1], width: r[2] - r[0], height: r[3] - r[1], color: palette[i % palette.length], linewidth: 2 } : r;
    const color = cssColor(rect.color);
    const label = labels?.[i] !== undefined ? String(labels[i]) : rect.label;
    // the label's background box, in image pixels (the text's width estimated at 0.6 em a character)
    const lw = label ? (label.length * fontSize * 0.6 + 4) / pxPerUnit : 0;
    const lh = (fontSize + 4) / pxPerUnit;
    return {
      x1: rect.x,
      y1: rect.y,
      x2: rect.x + rect.width,
      y2: rect.y + rect.height,
      color,
      linewidth: rect.linewidth,
      label: label ?? "",
      lx2: rect.x + lw,
      ly2: rect.y + lh,
      textColor: color === "white" ? "black" : "white",
    };
  });
  const x = { field: "x1", type: "quantitative", scale: { domain: [0, w], nice: false, zero: false }, axis: { title: null, grid: false } };
  const y = { field: "y1", type: "quantitative", scale: { domain: [0, h], nice: false, zero: false, reverse: true }, axis: { title: null, grid: false } };
  const url = `data:image/png;base64,${png.toString("base64")}`;
  const labelled = values.filter((v) => v.label !== "");
  const layer: VegaLiteSpec[] = [
    {
      data: { values: [{ x1: 0, y1: 0, x2: w, y2: h, url }] },
      mark: { type: "image", aspect: false, align: "left", baseline: "top" },
      encoding: { x, y, x2: { field: "x2" }, y2: { field: "y2" }, url: { field: "url", type: "nominal" } },
    },
    {
      data: { values },
      mark: { type: "rect", fill: null, clip: true },
      encoding: {
        x,
        y,
        x2: { field: "x2" },
        y2: { field: "y2" },
        stroke: { field: "color", type: "nominal", scale: null },
        strokeWidth: { field: "linewidth", type: "quantitative", scale: null },
        tooltip: [{ field: "label" }, { field: "x1", format: ".1f" }, { field: "y1", format: ".1f" }, { field: "x2", format: ".1f" }, { field: "y2", format: ".1f" }],
      },
    },
  ];
  if (labelled.length > 0) {
    layer.push(
      {
        data: { values: labelled },
        mark: { type: "rect", clip: true },
        encoding: { x, y, x2: { field: "lx2" }, y2: { field: "ly2" }, fill: { field: "color", type: "nominal", scale: null } },
      },
      {
        data: { values: labelled },
        mark: { type: "text", align: "left", baseline: "top", dx: 2, dy: 2, fontSize, clip: true },
        encoding: { x, y, text: { field: "label" }, color: { field: "textColor", type: "nominal", scale: null } },
      },
    );
  }
  const spec: VegaLiteSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: plotW,
    height: plotH,
    config: { view: { stroke: null } },
    layer,
  };
  const kind = c === 1 ? "gray" : c === 3 ? "RGB" : "RGBA";
  const text =
    `<image ${h}x${w} ${kind} with ${values.length} box${values.length === 1 ? "" : "es"}` +
    (values.length > 0 ? `: ${values.map((v) => `${v.label ? v.label + " " : ""}[${[v.x1, v.y1, v.x2, v.y2].map(fmtNum).join(", ")}] ${v.color}`).join("; ")}>` : ">");
  return new Figure(() => plotBundle(spec, tryRenderPng(spec), text), text, spec);
}
