/**
 * A real browser on the real UI: Debian's Jupyter Notebook (classic, 6.x)
 * serves a chapter-3 notebook with the d2l-ts kernel; headless Chromium
 * (driven by playwright-core, off the network) opens it, runs all cells from
 * the Cell menu and waits for training to end. Then:
 *
 * - no cell shows an error (neither in the page nor in the front end's model);
 * - the training cell shows the Animator as exactly one image, at every moment
 *   of the run, not one per update: the kernel sent one display_data and many
 *   update_display_data messages for its display id (read from the websocket
 *   frames the page received);
 * - the plot has the book's three legend entries: the vega-lite spec the page
 *   received names exactly train loss / train acc / test acc, and the image the
 *   page shows has pixels of each of the three line colours;
 * - the page's screenshot and the animator's image are saved under
 *   test-artifacts/browser/.
 *
 * Needs: /usr/bin/python3 with Debian's notebook, chromium (apt), playwright-core
 * (npm), the d2l-ts kernelspec on JUPYTER_PATH (test/run-all.sh registers it),
 * Fashion-MNIST under ../shared/data (D2L_DATA_DIR). Quick mode: about 30 s.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { randomBytes } from "crypto";
import { spawn, type ChildProcess } from "child_process";
import type { Browser, Page } from "playwright-core";
import { freePort, launchBrowser, stopServer, waitForServer } from "./jupyter-server";
import { installNbExtension } from "../../cli/nbextension";

const ROOT = path.resolve(__dirname, "../../..");
const ART = path.join(ROOT, "test-artifacts", "browser");
const NOTEBOOK = path.join(ROOT, "notebooks", "chapter_03_linear_networks", "07_softmax_regression_concise.ipynb");
const LEGEND = ["train loss", "train acc", "test acc"];
/** The three series' colours: the book's fmts "-", "m--", "g-." (matplotlib tab10 blue, magenta, green). */
const COLOURS: [number, number, number][] = [
  [0x1f, 0x77, 0xb4],
  [0xbf, 0x00, 0xbf],
  [0x00, 0x80, 0x00],
];
const RUN_TIMEOUT_MS = 150_000;

// What the functions run inside the page use (the test compiles without the DOM library, as lib/ must not use it).
interface NbOutput {
  output_type: string;
  ename?: string;
  evalue?: string;
  data?: Record<string, unknown>;
}
interface NbCellView {
  cell_type: string;
  input_prompt_number?: number | string | null;
  get_text(): string;
  output_area?: { outputs: NbOutput[] };
  code_mirror?: { getOption(name: string): unknown };
}
interface Pixels {
  data: ArrayLike<number>;
}
interface Page$ {
  Jupyter?: { notebook?: { kernel?: { is_connected(): boolean; name: string }; get_cells(): NbCellView[] } };
  document: {
    querySelector(sel: string): unknown;
    createElement(tag: "canvas"): {
      width: number;
      height: number;
      getContext(kind: "2d"): { drawImage(i: unknown, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): Pixels };
    };
  };
  Image: new () => { src: string; naturalWidth: number; naturalHeight: number; decode(): Promise<void> };
}

let server: ChildProcess | undefined;
let serverLog = "";
let browser: Browser | undefined;

/** Parse a websocket frame of the notebook's kernel channel (JSON text; binary frames carry buffers, not used here). */
function parseFrame(payload: string | Buffer): { msg_type?: string; content?: Record<string, unknown> } | undefined {
  if (typeof payload !== "string") return undefined;
  try {
    const m = JSON.parse(payload) as { header?: { msg_type?: string }; msg_type?: string; content?: Record<string, unknown> };
    return { msg_type: m.header?.msg_type ?? m.msg_type, content: m.content };
  } catch {
    return undefined;
  }
}

/** Count pixels within `tol` of each colour in a PNG screenshot (decoded by the browser itself). */
async function colourCounts(page: Page, png: Buffer, colours: [number, number, number][], tol = 40): Promise<number[]> {
  return page.evaluate(
    async ({ b64, colours, tol }) => {
      const w = globalThis as unknown as Page$;
      const img = new w.Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = w.document.createElement("canvas");
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const counts = colours.map(() => 0);
      for (let i = 0; i < d.length; i += 4) {
        colours.forEach(([r, g, b], k) => {
          if (Math.abs(d[i] - r) <= tol && Math.abs(d[i + 1] - g) <= tol && Math.abs(d[i + 2] - b) <= tol) counts[k]++;
        });
      }
      return counts;
    },
    { b64: png.toString("base64"), colours, tol },
  );
}

let base = "";
let token = "";

const PLOTLY_NOTEBOOK = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: "d2l-ts", display_name: "TypeScript (d2l)", language: "typescript" } },
  cells: [
    { id: "t", cell_type: "markdown", metadata: {}, source: "# Plotly in classic Notebook" },
    {
      id: "s",
      cell_type: "code",
      metadata: {},
      outputs: [],
      execution_count: null,
      source:
        'const w = tf.linspace(-2, 2, 21), b = tf.linspace(-2, 2, 21);\nconst [W, B] = tf.meshgrid(w, b);\nd2l.plotly([{ type: "surface", x: w, y: b, z: W.square().add(B.square().mul(3)) }], { title: "loss landscape" })',
    },
    { id: "l", cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: 'd2l.plotly([{ x: [1, 2, 3], y: [1, 4, 9], name: "squares" }]).show();' },
  ],
});

/** Open a notebook in the server and wait until its d2l-ts kernel is connected and idle. */
async function openNotebook(page: Page, name: string): Promise<void> {
  await page.goto(`${base}/notebooks/${name}?token=${token}`);
  await page.waitForFunction(
    () => {
      const w = globalThis as unknown as Page$;
      return !!w.Jupyter?.notebook?.kernel?.is_connected() && w.document.querySelector("#kernel_indicator_icon.kernel_idle_icon") !== null;
    },
    undefined,
    { timeout: 90_000 },
  );
  assert.equal(await page.evaluate(() => (globalThis as unknown as Page$).Jupyter?.notebook?.kernel?.name), "d2l-ts");
}

/** Cell menu -> Run All, as a person would; `watch` runs every 150 ms until every code cell has run and the kernel is idle. */
async function runAll(page: Page, watch: () => Promise<void> = async () => undefined): Promise<void> {
  await page.click("#celllink");
  await page.click("#run_all_cells > a");
  const until = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    await watch();
    const state = await page.evaluate(() => {
      const w = globalThis as unknown as Page$;
      const cells = w.Jupyter?.notebook?.get_cells() ?? [];
      const prompts = cells.filter((c) => c.cell_type === "code").map((c) => c.input_prompt_number);
      const idle = w.document.querySelector("#kernel_indicator_icon.kernel_idle_icon") !== null;
      return { done: idle && prompts.every((p) => typeof p === "number"), prompts: prompts.map(String) };
    });
    if (state.done) return;
    if (Date.now() > until) {
      await page.screenshot({ path: path.join(ART, "timeout.png"), fullPage: true });
      assert.fail(`the notebook did not finish within ${RUN_TIMEOUT_MS / 1000} s (prompts: ${state.prompts.join(", ")})`);
    }
    await page.waitForTimeout(150);
  }
}

/** Errors in the cells: shown in the page, or held in the front end's outputs. */
async function cellErrors(page: Page): Promise<string[]> {
  const shown = await page.locator(".output_area .output_error").allInnerTexts();
  const held = await page.evaluate(() =>
    ((globalThis as unknown as Page$).Jupyter?.notebook?.get_cells() ?? []).flatMap((c) =>
      (c.output_area?.outputs ?? []).filter((o) => o.output_type === "error").map((o) => `${o.ename}: ${o.evalue}`),
    ),
  );
  return [...shown, ...held];
}

/** Screenshot the whole notebook (it scrolls inside #site, not the page: grow the viewport to its height). */
async function screenshotNotebook(page: Page, file: string): Promise<void> {
  const height = await page.evaluate(() => {
    const w = globalThis as unknown as Page$;
    return (w.document.querySelector("#notebook") as { scrollHeight: number } | null)?.scrollHeight ?? 900;
  });
  await page.setViewportSize({ width: 1280, height: Math.min(8000, height + 200) });
  await page.screenshot({ path: path.join(ART, file), fullPage: true });
}

before(async () => {
  fs.rmSync(ART, { recursive: true, force: true });
  const dir = path.join(ART, "notebooks");
  fs.mkdirSync(dir, { recursive: true });
  // A clean copy: the committed notebook has no outputs; make sure of it.
  const nb = JSON.parse(fs.readFileSync(NOTEBOOK, "utf8")) as { cells: { cell_type: string; outputs?: unknown[]; execution_count?: number | null }[] };
  for (const c of nb.cells) if (c.cell_type === "code") Object.assign(c, { outputs: [], execution_count: null });
  fs.writeFileSync(path.join(dir, "softmax.ipynb"), JSON.stringify(nb));
  fs.writeFileSync(path.join(dir, "plotly.ipynb"), PLOTLY_NOTEBOOK);
  // d2l-ts' classic Notebook extension (plotly figures), in a private prefix the server is pointed at.
  const prefix = path.join(ART, "jupyter-prefix");
  installNbExtension({ kind: "prefix", dir: prefix });
  const port = await freePort();
  token = randomBytes(16).toString("hex");
  base = `http://127.0.0.1:${port}`;
  const args = ["-m", "notebook", "--no-browser", "--ip=127.0.0.1", `--port=${port}`, `--NotebookApp.token=${token}`, `--notebook-dir=${dir}`];
  if (process.getuid?.() === 0) args.push("--allow-root");
  server = spawn("/usr/bin/python3", args, {
    detached: true, // its own process group, so the kernels it starts go with it
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PYDEVD_DISABLE_FILE_VALIDATION: "1",
      D2L_QUICK: "1",
      D2L_BACKEND: process.env.D2L_BACKEND ?? "wasm",
      D2L_DATA_DIR: process.env.D2L_DATA_DIR ?? path.resolve(ROOT, "..", "shared", "data"),
      D2L_CACHE_DIR: process.env.D2L_CACHE_DIR ?? path.join(ROOT, "test-artifacts", "cache"),
      JUPYTER_CONFIG_DIR: path.join(ART, "jupyter-config"), // not the user's own settings
      JUPYTER_CONFIG_PATH: path.join(prefix, "etc", "jupyter"),
      JUPYTER_PATH: [path.join(prefix, "share", "jupyter"), process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter),
    },
  });
  server.stdout?.on("data", (d: Buffer) => (serverLog += d.toString()));
  server.stderr?.on("data", (d: Buffer) => (serverLog += d.toString()));
  await waitForServer(server, base, token, "notebook", () => serverLog);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
  fs.writeFileSync(path.join(ART, "notebook-server.log"), serverLog);
});

test("Run All in classic Notebook: the Animator is one image updated in place, with three legend entries, and no cell fails", { timeout: RUN_TIMEOUT_MS + 60_000 }, async () => {
  assert.ok(browser);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  // What the kernel sent the page, from the websocket frames.
  const displays: { type: string; displayId: string | undefined; data: Record<string, unknown> }[] = [];
  page.on("websocket", (ws) => {
    ws.on("framereceived", (f) => {
      const m = parseFrame(f.payload);
      if (!m || (m.msg_type !== "display_data" && m.msg_type !== "update_display_data")) return;
      const transient = m.content?.transient as { display_id?: string } | undefined;
      displays.push({ type: m.msg_type, displayId: transient?.display_id, data: (m.content?.data ?? {}) as Record<string, unknown> });
    });
  });

  await openNotebook(page, "softmax.ipynb");
  // Watch the training cell while everything runs: never more than one image in its output.
  const trainingCell = `.code_cell:has(.input_area:has-text("trainCh3"))`;
  let maxImages = 0;
  await runAll(page, async () => {
    maxImages = Math.max(maxImages, await page.locator(`${trainingCell} .output_area img`).count());
  });
  await screenshotNotebook(page, "softmax-concise.png");

  // No errors anywhere: not in the page, not in the front end's outputs.
  assert.deepEqual(await cellErrors(page), []);
  // Highlighting: Notebook 6 resolves the kernel's codemirror_mode "typescript" through CodeMirror.findModeByName to TypeScript.
  const modes = await page.evaluate(() =>
    ((globalThis as unknown as Page$).Jupyter?.notebook?.get_cells() ?? []).filter((c) => c.cell_type === "code").map((c) => c.code_mirror?.getOption("mode")),
  );
  assert.ok(modes.length > 0 && modes.every((m) => m === "application/typescript"), `code cell CodeMirror modes: ${JSON.stringify(modes)}`);
  // trainCh3's summary line, the book's "loss 0.447, train acc 0.848, test acc 0.829"
  const summary = await page.locator(`.output_area pre:has-text("train acc ")`).first().innerText();
  const testAcc = Number(/loss [\d.]+, train acc [\d.]+, test acc ([\d.]+)/.exec(summary)?.[1]);
  assert.ok(testAcc >= 0.7, `test accuracy ${testAcc} < 0.7 in quick mode (summary: ${summary})`);

  // One image in the training cell, at every moment of the run, and it is the final plot.
  assert.equal(maxImages, 1, `the training cell showed ${maxImages} images at once; the Animator must update one output in place`);
  const img = page.locator(`${trainingCell} .output_area img`);
  assert.equal(await img.count(), 1);
  const natural = await img.evaluate((el) => {
    const i = el as unknown as { naturalWidth: number; naturalHeight: number; complete: boolean };
    return { w: i.naturalWidth, h: i.naturalHeight, complete: i.complete };
  });
  assert.ok(natural.complete && natural.w > 300 && natural.h > 200, `the animator image did not load: ${JSON.stringify(natural)}`);
  const outputsInModel = await page.evaluate(() => {
    const cell = ((globalThis as unknown as Page$).Jupyter?.notebook?.get_cells() ?? []).find((c) => c.cell_type === "code" && c.get_text().includes("trainCh3"));
    return (cell?.output_area?.outputs ?? []).map((o) => ({ type: o.output_type, mimes: Object.keys(o.data ?? {}) }));
  });
  const plots = outputsInModel.filter((o) => o.mimes.includes("application/vnd.vegalite.v5+json"));
  assert.equal(plots.length, 1, `expected one plot output in the training cell, got ${JSON.stringify(outputsInModel)}`);
  assert.ok(plots[0].mimes.includes("image/png") && !plots[0].mimes.includes("text/html"), `plot mimes: ${plots[0].mimes.join(", ")}`);

  // What the kernel sent: one display_data for the animator, then updates to the same display id.
  const firstPlot = displays.find((d) => d.type === "display_data" && "application/vnd.vegalite.v5+json" in d.data);
  assert.ok(firstPlot?.displayId, "no display_data with a vega-lite plot and a display id reached the page");
  const same = displays.filter((d) => d.displayId === firstPlot.displayId);
  assert.equal(same.filter((d) => d.type === "display_data").length, 1, "the animator was displayed more than once");
  const updates = same.filter((d) => d.type === "update_display_data");
  assert.ok(updates.length >= 2, `only ${updates.length} update_display_data for the animator; it should be updated in place while training`);
  const last = updates[updates.length - 1].data;
  assert.match(String(last["text/plain"]), /^<Animator at epoch 2: train loss [\d.]+, train acc [\d.]+, test acc [\d.]+>$/);

  // Three legend entries: in the spec the page received, and drawn in the image it shows.
  const spec = last["application/vnd.vegalite.v5+json"] as { encoding?: { color?: { scale?: { domain?: string[] } } } };
  assert.deepEqual(spec.encoding?.color?.scale?.domain, LEGEND);
  const shot = await img.screenshot({ path: path.join(ART, "animator.png") });
  const counts = await colourCounts(page, shot, COLOURS);
  counts.forEach((n, k) => assert.ok(n >= 20, `the animator image has ${n} pixels of ${LEGEND[k]}'s colour rgb(${COLOURS[k].join(",")}); counts ${counts.join(", ")}`));

  assert.deepEqual(pageErrors, [], "JavaScript errors in the page");
  await page.close();
});

test("plotly figures are interactive in classic Notebook (d2l-ts' nbextension serves plotly.js), also after reopening", { timeout: 2 * RUN_TIMEOUT_MS }, async () => {
  assert.ok(browser);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const external: string[] = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith("data:")) external.push(r.url());
  });
  const drawn = async (): Promise<{ ready: number; imgs: number; svgs: number; errors: string[] }> =>
    page.evaluate(() => {
      const d = (
        globalThis as unknown as {
          document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null; querySelectorAll(s: string): { length: number } }> };
        }
      ).document;
      const areas = Array.from(d.querySelectorAll(".output_subarea.output_plotly"));
      const divs = Array.from(d.querySelectorAll(".output_plotly div.d2l-plotly"));
      return {
        ready: divs.filter((x) => x.getAttribute("data-d2l-plotly-ready") === "1").length,
        imgs: areas.reduce((n, a) => n + a.querySelectorAll("img").length, 0),
        svgs: divs.filter((x) => x.querySelectorAll(".main-svg").length > 0).length,
        errors: divs.map((x) => x.getAttribute("data-d2l-plotly-error")).filter((e): e is string => e !== null),
      };
    });
  await openNotebook(page, "plotly.ipynb");
  await runAll(page);
  assert.deepEqual(await cellErrors(page), []);
  await page.waitForFunction(
    () =>
      (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll("div.d2l-plotly[data-d2l-plotly-ready]").length === 2,
    undefined,
    { timeout: 60_000 },
  );
  const live = await drawn();
  assert.deepEqual(live, { ready: 2, imgs: 0, svgs: 2, errors: [] }, "both figures drawn by plotly, not as PNGs");
  await screenshotNotebook(page, "plotly-classic.png");
  // Save, reopen: the saved outputs are drawn by plotly too (the extension redraws what loaded before it).
  await page.evaluate(() => (globalThis as unknown as { Jupyter: { notebook: { save_notebook(): Promise<unknown> } } }).Jupyter.notebook.save_notebook());
  await openNotebook(page, "plotly.ipynb");
  await page.waitForFunction(
    () =>
      (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll("div.d2l-plotly[data-d2l-plotly-ready]").length === 2,
    undefined,
    { timeout: 60_000 },
  );
  assert.deepEqual(await drawn(), { ready: 2, imgs: 0, svgs: 2, errors: [] });
  assert.deepEqual(external, [], "the page asked the network for something");
  assert.deepEqual(pageErrors, []);
  await page.close();
});
