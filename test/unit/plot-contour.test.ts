// Contour lines for d2l.showTrace2d (lib/plot/contour.ts): matplotlib's default levels, marching
// squares against functions whose level sets are known (circles, straight lines, a saddle), and
// the spec rendering to PNG.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { niceLevels, contourLines, arange, traceContourSpec } from "../../lib/plot/contour";
import { renderVegaLitePng } from "../../lib/plot/render";

describe("contour lines", () => {
  test("niceLevels: MaxNLocator(8)'s steps (1, 2, 2.5, 5, 10 times a power of ten), levels strictly inside the range", () => {
    assert.deepEqual(niceLevels(0, 48.25), [10, 20, 30, 40]); // x1² + 2 x2² on the book's grid: step 10 (5 would make 10 bins)
    assert.deepEqual(niceLevels(0, 1), [0.2, 0.4, 0.6, 0.8]);
    assert.deepEqual(niceLevels(-1, 1), [-0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75]); // step 0.25: 8 bins
    assert.deepEqual(niceLevels(0.3, 19.7), [2.5, 5, 7.5, 10, 12.5, 15, 17.5]);
    assert.deepEqual(niceLevels(3, 3), []);
    assert.throws(() => niceLevels(0, Infinity), /must be finite/);
  });

  test("arange is numpy's: start included, stop excluded", () => {
    assert.equal(arange(-5.5, 1.0, 0.1).length, 65);
    assert.equal(arange(-3.0, 1.0, 0.1).length, 40);
    assert.deepEqual(arange(0, 1, 0.25), [0, 0.25, 0.5, 0.75]);
  });

  test("a circle's level set is one closed line whose points lie on the circle", () => {
    const xs = arange(-2, 2.001, 0.05);
    const ys = arange(-2, 2.001, 0.05);
    const z = xs.map((x) => ys.map((y) => x * x + y * y));
    const lines = contourLines(xs, ys, z, [1]);
    assert.equal(lines.length, 1, "one polyline");
    const pts = lines[0].points;
    assert.ok(pts.length > 100);
    assert.deepEqual(pts[0], pts[pts.length - 1], "closed: it ends where it starts");
    for (const [x, y] of pts) assert.ok(Math.abs(Math.hypot(x, y) - 1) < 2e-3, `(${x}, ${y}) is on the unit circle`);
  });

  test("a plane's level sets are straight, open lines, exact under linear interpolation", () => {
    const xs = arange(0, 1.001, 0.1);
    const ys = arange(0, 1.001, 0.1);
    const z = xs.map((x) => ys.map((y) => x + 2 * y));
    const lines = contourLines(xs, ys, z, [0.55, 1.5]);
    assert.equal(lines.length, 2);
    for (const { level, points } of lines) {
      assert.notDeepEqual(points[0], points[points.length - 1], "open: from one side of the grid to another");
      for (const [x, y] of points) assert.ok(Math.abs(x + 2 * y - level) < 1e-12);
    }
  });

  test("a saddle cell is cut by its centre value, so the lines do not cross", () => {
    // z = x y on [-1, 1]²: the level 0.1 has two branches (first and third quadrants), never joined.
    const xs = arange(-1, 1.001, 0.25);
    const z = xs.map((x) => xs.map((y) => x * y));
    const lines = contourLines(xs, xs, z, [0.1]);
    assert.equal(lines.length, 2);
    for (const { points } of lines) {
      const signs = new Set(points.map(([x]) => Math.sign(x)));
      assert.equal(signs.size, 1, "each branch stays in its quadrant");
    }
    assert.throws(() => contourLines([0], [0, 1], [[0, 1]], [0.5]), /at least 2 points/);
    assert.throws(() => contourLines([0, 1], [0, 1], [[0, 1]], [0.5]), /z must be 2 rows/);
  });

  test("traceContourSpec renders to PNG, the trace on top of the contours", () => {
    const { spec, text, lines } = traceContourSpec(
      (a, b) => a * a + 2 * b * b,
      [
        [-5, -2],
        [-4, -1.2],
        [-0.1, 0],
      ],
    );
    assert.equal(new Set(lines.map((l) => l.level)).size, 4);
    assert.match(text, /^<contour plot: trace of 3 points from \(-5, -2\) to \(-0\.1, 0\); \d+ contour lines at f = 10, 20, 30, 40>$/);
    const png = renderVegaLitePng(spec);
    assert.ok(png.width > 252, "the plot area (3.5 inches) and its axes");
    assert.ok(png.base64.length > 1000);
  });
});
