/**
 * A real browser on JupyterLab 4.6: `d2l-ts lab`'s server (lab/d2l_lab under Debian's jupyter-server 1.23
 * and jupyterlab-server 2.16, serving the rspack bundle in lab/build) opens the chapter-3 softmax notebook
 * with the d2l-ts kernel; headless Chromium (playwright-core, off the network) runs it from the Run menu. Then:
 *
 * - no cell has an error output (in the page or in the front end's model);
 * - the training cell shows the Animator as exactly one output at every moment of the run, drawn by the
 *   vega renderer (a canvas or svg, not an img), redrawn several times: the kernel sent one display_data and
 *   many update_display_data for its display id (read from the binary v1 websocket frames the page received);
 * - code cells are TypeScript: the editor's mime type is application/typescript (the kernel's codemirror_mode
 *   "typescript") and a type annotation is a `tok-typeName` token (lab/index.js's d2l:token-classes);
 * - in a second notebook: the stop button interrupts a busy cell within 1 s and the next cell still sees the
 *   earlier variables; completing `d2l.trainC` lists trainCh3/6/8 with their kind (function);
 * - in a third notebook (render.ipynb): a `d2l.plotly` figure (plotly json + PNG; this Lab has no plotly renderer) is
 *   shown as its PNG; a `d2l.ProgressBar` over a loop is one output the whole time, redrawn in place (one
 *   display_data, many update_display_data) and closed to its final text; `display(...)`'s handle updated from a
 *   later cell replaces the earlier cell's output; `clearOutput()` removes what the cell showed before it;
 * - nothing is logged as an error in the browser console.
 * Screenshots go to test-artifacts/browser-lab/.
 *
 * Needs: /usr/bin/python3 with Debian's python3-jupyterlab-server, lab/build (npm run build:lab; bin/setup.sh
 * builds it), chromium (apt), Fashion-MNIST under ../shared/data (D2L_DATA_DIR). Quick mode: about a minute.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { randomBytes } from "crypto";
import { spawn, type ChildProcess } from "child_process";
import type { Browser, Page } from "playwright-core";
import { freePort, launchBrowser, stopServer, waitForServer } from "./jupyter-server";
import { installKernelSpec } from "../../cli/install";
import { LAB_DIR, labProblem, labPythonPath, labServerArgs } from "../../cli/lab";

const ROOT = path.resolve(__dirname, "../../..");
const ART = path.join(ROOT, "test-artifacts", "browser-lab");
const NOTEBOOK = path.join(ROOT, "notebooks", "chapter_03_linear_networks", "07_softmax_regression_concise.ipynb");
const VEGALITE = "application/vnd.vegalite.v5+json";
const RUN_TIMEOUT_MS = 150_000;

// What the functions run inside the page see (the test compiles without the DOM library, as lib/ must not use it).
interface LabOutput {
  output_type: string;
  ename?: string;
  evalue?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
}
interface LabCell {
  model: { type: string; mimeType: string; executionCount: number | null; sharedModel: { getSource(): string }; outputs?: { toJSON(): LabOutput[] } };
}
interface LabPanel {
  sessionContext: { session?: { kernel?: { name: string; status: string } | null } | null };
  content: { widgets: readonly LabCell[] };
}
interface El {
  innerText: string;
  querySelectorAll(sel: string): ArrayLike<El>;
  querySelector(sel: string): El | null;
  toDataURL?(): string;
  scrollIntoView?(): void;
}
interface LabWindow {
  jupyterapp?: { shell: { currentWidget: LabPanel | null } };
  document: { querySelectorAll(sel: string): ArrayLike<El> };
}

let server: ChildProcess | undefined;
let serverLog = "";
let browser: Browser | undefined;
let base = "";
let token = "";
const consoleErrors: string[] = [];

interface KernelMsg {
  channel: string;
  msg_type?: string;
  content?: Record<string, unknown>;
}

/**
 * A kernel websocket frame. JupyterLab 4 negotiates `v1.kernel.websocket.jupyter.org` (jupyter-server 1.23 has it):
 * binary, u64 LE n, then n u64 LE offsets; the parts are channel, header, parent_header, metadata, content, buffers.
 */
export function parseV1Frame(payload: string | Buffer): KernelMsg | undefined {
  if (typeof payload === "string") {
    try {
      const m = JSON.parse(payload) as { channel?: string; header?: { msg_type?: string }; content?: Record<string, unknown> };
      return { channel: m.channel ?? "", msg_type: m.header?.msg_type, content: m.content };
    } catch {
      return undefined;
    }
  }
  if (payload.length < 16) return undefined;
  const n = Number(payload.readBigUInt64LE(0));
  if (n < 6 || 8 * (n + 1) > payload.length) return undefined;
  const off = Array.from({ length: n }, (_, i) => Number(payload.readBigUInt64LE(8 * (i + 1))));
  const part = (i: number): string => payload.subarray(off[i], i + 1 < n ? off[i + 1] : payload.length).toString("utf8");
  try {
    const header = JSON.parse(part(1)) as { msg_type?: string };
    return { channel: part(0), msg_type: header.msg_type, content: JSON.parse(part(4)) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** Open a notebook in Lab and wait until its d2l-ts kernel is idle. */
async function openNotebook(page: Page, name: string): Promise<void> {
  // `reset`: a fresh workspace, not the notebooks the previous page left open
  await page.goto(`${base}/lab/tree/${name}?reset&token=${token}`);
  await page.waitForSelector(".jp-Notebook .jp-Cell", { timeout: 90_000 });
  await page.waitForFunction(
    () => {
      const k = (globalThis as unknown as LabWindow).jupyterapp?.shell.currentWidget?.sessionContext.session?.kernel;
      return k?.name === "d2l-ts" && k.status === "idle";
    },
    undefined,
    { timeout: 90_000 },
  );
}

/** The state of the open notebook: prompts (execution counts) of code cells, kernel status. */
async function notebookState(page: Page): Promise<{ counts: (number | null)[]; status: string }> {
  return page.evaluate(() => {
    const p = (globalThis as unknown as LabWindow).jupyterapp?.shell.currentWidget;
    const counts = (p?.content.widgets ?? []).filter((c) => c.model.type === "code").map((c) => c.model.executionCount);
    return { counts, status: p?.sessionContext.session?.kernel?.status ?? "none" };
  });
}

/** Run menu -> Run All Cells, as a person would. */
async function clickRunAll(page: Page): Promise<void> {
  await page.locator(".lm-MenuBar-itemLabel", { hasText: /^Run$/ }).click();
  await page.locator(".lm-Menu-itemLabel", { hasText: /^Run All Cells$/ }).click();
}

/** Outputs of the open notebook's code cells, from the front end's model. */
async function modelOutputs(page: Page): Promise<{ source: string; outputs: LabOutput[] }[]> {
  return page.evaluate(() =>
    ((globalThis as unknown as LabWindow).jupyterapp?.shell.currentWidget?.content.widgets ?? [])
      .filter((c) => c.model.type === "code")
      .map((c) => ({ source: c.model.sharedModel.getSource(), outputs: c.model.outputs?.toJSON() ?? [] })),
  );
}

function newPage(b: Browser): Promise<Page> {
  return b.newPage({ viewport: { width: 1400, height: 1000 } }).then((page) => {
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(`${page.url().replace(/\?.*/, "")}: ${m.text().slice(0, 400)}`);
    });
    page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
    return page;
  });
}

const PLAY_NOTEBOOK = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: "d2l-ts", display_name: "TypeScript (d2l)", language: "typescript" } },
  cells: [
    { id: "a", cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: "const x: number = 41;\nlet spins = 0;" },
    { id: "b", cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: "while (true) { spins++; }" },
    { id: "c", cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: "x + 1" },
    { id: "d", cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: "" },
  ],
});

/** Cells for what JupyterLab renders of d2l's displays: a plotly figure, a progress bar, display handles, clearOutput. */
const RENDER_NOTEBOOK = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: "d2l-ts", display_name: "TypeScript (d2l)", language: "typescript" } },
  cells: [
    {
      id: "plotly",
      cell_type: "code",
      metadata: {},
      outputs: [],
      execution_count: null,
      source: 'd2l.plotly([{ type: "surface", z: [[0, 1, 2], [1, 2, 3], [2, 3, 5]] }], { title: "plotly fallback" })',
    },
    {
      id: "progress",
      cell_type: "code",
      metadata: {},
      outputs: [],
      execution_count: null,
      source:
        'const bar = new d2l.ProgressBar({ total: 24, label: "loop", unit: "steps", intervalMs: 100 });\nfor (let i = 1; i <= 24; i++) {\n  await new Promise((r) => setTimeout(r, 120));\n  bar.update(i, `step ${i}`);\n}\nbar.close("loop done: 24 steps");',
    },
    { id: "handle", cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: 'const h = display("handle v1");\nconsole.log("handle shown");' },
    { id: "update", cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: 'h.update("handle v2");' },
    {
      id: "clear",
      cell_type: "code",
      metadata: {},
      outputs: [],
      execution_count: null,
      source: 'console.log("before clear");\ndisplay("shown before clear");\nclearOutput();\nconsole.log("after clear");',
    },
  ],
});

before(async () => {
  fs.rmSync(ART, { recursive: true, force: true });
  const dir = path.join(ART, "notebooks");
  fs.mkdirSync(dir, { recursive: true });
  const problem = labProblem("/usr/bin/python3");
  if (problem) throw new Error(`cannot test JupyterLab: ${problem}`);
  const nb = JSON.parse(fs.readFileSync(NOTEBOOK, "utf8")) as { cells: { cell_type: string; outputs?: unknown[]; execution_count?: number | null }[] };
  for (const c of nb.cells) if (c.cell_type === "code") Object.assign(c, { outputs: [], execution_count: null });
  fs.writeFileSync(path.join(dir, "softmax.ipynb"), JSON.stringify(nb));
  fs.writeFileSync(path.join(dir, "play.ipynb"), PLAY_NOTEBOOK);
  fs.writeFileSync(path.join(dir, "render.ipynb"), RENDER_NOTEBOOK);
  // This checkout's kernel, in a private prefix the server is pointed at.
  const prefix = path.join(ART, "jupyter-prefix");
  installKernelSpec({ kind: "prefix", dir: prefix });
  const port = await freePort();
  token = randomBytes(16).toString("hex");
  base = `http://127.0.0.1:${port}`;
  server = spawn("/usr/bin/python3", labServerArgs({ port, token, dir, asRoot: process.getuid?.() === 0 }), {
    detached: true, // its own process group, so the kernels it starts go with it
    stdio: ["ignore", "pipe", "pipe"],
    cwd: LAB_DIR,
    env: {
      ...process.env,
      PYTHONPATH: labPythonPath(process.env.PYTHONPATH),
      PYDEVD_DISABLE_FILE_VALIDATION: "1",
      D2L_QUICK: "1",
      D2L_BACKEND: process.env.D2L_BACKEND ?? "wasm",
      D2L_DATA_DIR: process.env.D2L_DATA_DIR ?? path.resolve(ROOT, "..", "shared", "data"),
      D2L_CACHE_DIR: process.env.D2L_CACHE_DIR ?? path.join(ROOT, "test-artifacts", "cache"),
      D2L_LAB_STATE: path.join(ART, "lab-state"), // fresh user settings and workspaces
      JUPYTER_CONFIG_DIR: path.join(ART, "jupyter-config"), // not the user's own settings
      JUPYTER_PATH: [path.join(prefix, "share", "jupyter"), process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter),
    },
  });
  server.stdout?.on("data", (d: Buffer) => (serverLog += d.toString()));
  server.stderr?.on("data", (d: Buffer) => (serverLog += d.toString()));
  await waitForServer(server, base, token, "lab", () => serverLog);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
  if (fs.existsSync(ART)) fs.writeFileSync(path.join(ART, "lab-server.log"), serverLog);
});

test("JupyterLab: Run All on the softmax notebook, one vega Animator updated in place, TypeScript highlighting, no errors", { timeout: RUN_TIMEOUT_MS + 90_000 }, async (t) => {
  assert.ok(browser);
  const page = await newPage(browser);
  const displays: { type: string; displayId: string | undefined; data: Record<string, unknown> }[] = [];
  let binaryFrames = 0;
  page.on("websocket", (ws) => {
    ws.on("framereceived", (f) => {
      if (typeof f.payload !== "string") binaryFrames++;
      const m = parseV1Frame(f.payload);
      if (!m || (m.msg_type !== "display_data" && m.msg_type !== "update_display_data")) return;
      const transient = m.content?.transient as { display_id?: string } | undefined;
      displays.push({ type: m.msg_type, displayId: transient?.display_id, data: (m.content?.data ?? {}) as Record<string, unknown> });
    });
  });
  await openNotebook(page, "softmax.ipynb");
  await page.screenshot({ path: path.join(ART, "opened.png") });

  // Highlighting, before the run: every code cell's editor is TypeScript, and `as number` / `: tf.Tensor` carry a typeName token.
  const mimes = await page.evaluate(() =>
    ((globalThis as unknown as LabWindow).jupyterapp?.shell.currentWidget?.content.widgets ?? []).filter((c) => c.model.type === "code").map((c) => c.model.mimeType),
  );
  assert.ok(mimes.length >= 5 && mimes.every((m) => m === "application/typescript"), `code cell mime types: ${JSON.stringify(mimes)}`);
  const lossCell = page.locator(".jp-CodeCell", { has: page.locator(".cm-content", { hasText: "softmaxCrossEntropy" }) });
  await lossCell.scrollIntoViewIfNeeded();
  const typeTokens = await lossCell.locator(".cm-content .tok-typeName").allInnerTexts();
  assert.ok(typeTokens.includes("number"), `type-name tokens in the loss cell: ${JSON.stringify(typeTokens)}`);

  // Run All from the menu; watch the training cell every 150 ms: one vega output, never an img, redrawn as it trains.
  // The drawings are also sampled inside the page at every animation frame: a quick run on a fast machine trains
  // in well under a second, and the 150 ms round trips from here saw only the last drawing.
  const trainingCell = page.locator(".jp-CodeCell", { has: page.locator(".cm-content", { hasText: "trainCh3" }) });
  let maxPlots = 0;
  let imgs = 0;
  const drawings = new Set<string>();
  await page.evaluate(() => {
    const w = globalThis as unknown as LabWindow & { d2lDrawings?: string[]; requestAnimationFrame(f: () => void): number };
    const seen = new Set<string>();
    w.d2lDrawings = [];
    const sample = (): void => {
      const cell = Array.from(w.document.querySelectorAll(".jp-CodeCell")).find((c) => (c.querySelector(".cm-content")?.innerText ?? "").includes("trainCh3"));
      const plot = cell?.querySelector(".jp-OutputArea .jp-RenderedVegaLite canvas");
      const url = plot?.toDataURL?.() ?? "";
      const key = url ? `${url.length}:${url.slice(-64)}` : "";
      if (key && !seen.has(key)) {
        seen.add(key);
        w.d2lDrawings?.push(key);
      }
      w.requestAnimationFrame(sample);
    };
    sample();
  });
  await clickRunAll(page);
  const started = Date.now();
  for (;;) {
    const seen = await trainingCell.evaluate((el) => {
      const e = el as unknown as El;
      const plots = e.querySelectorAll(".jp-OutputArea .jp-RenderedVegaLite");
      const canvas = plots.length === 1 ? plots[0].querySelector("canvas") : null;
      const svg = plots.length === 1 ? plots[0].querySelector("svg.marks") : null;
      const url = canvas?.toDataURL?.() ?? "";
      return { plots: plots.length, imgs: e.querySelectorAll(".jp-OutputArea img").length, drawing: url ? `${url.length}:${url.slice(-64)}` : svg ? "svg" : "" };
    });
    maxPlots = Math.max(maxPlots, seen.plots);
    imgs = Math.max(imgs, seen.imgs);
    if (seen.drawing) drawings.add(seen.drawing);
    const state = await notebookState(page);
    if (state.status === "idle" && state.counts.every((c) => typeof c === "number")) break;
    if (Date.now() - started > RUN_TIMEOUT_MS) {
      await page.screenshot({ path: path.join(ART, "timeout.png") });
      assert.fail(`the notebook did not finish within ${RUN_TIMEOUT_MS / 1000} s (prompts: ${state.counts.join(", ")}, kernel ${state.status})`);
    }
    await page.waitForTimeout(150);
  }
  for (const d of await page.evaluate(() => (globalThis as unknown as { d2lDrawings?: string[] }).d2lDrawings ?? [])) drawings.add(d);
  await trainingCell.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(ART, "softmax-run.png") });

  // No errors: not shown in the page, not held in the model.
  const shown = await page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], .jp-RenderedText[data-mime-type*="error"]').allInnerTexts();
  assert.deepEqual(shown, [], "error outputs shown");
  const outs = await modelOutputs(page);
  const errors = outs.flatMap((c) => c.outputs.filter((o) => o.output_type === "error" || (o.output_type === "stream" && (o as { name?: string }).name === "stderr")));
  assert.deepEqual(errors, [], "error outputs in the model");

  // The Animator: one output in the training cell, drawn by vega (canvas or svg), no img, redrawn over the run.
  const training = outs.find((c) => c.source.includes("trainCh3"));
  const plots = (training?.outputs ?? []).filter((o) => o.data && VEGALITE in o.data);
  assert.equal(plots.length, 1, `the training cell holds ${plots.length} vega-lite outputs`);
  assert.equal(maxPlots, 1, `the training cell showed ${maxPlots} vega outputs at once; the Animator must update one in place`);
  assert.equal(imgs, 0, "the training cell showed an img: the plot must be drawn by the vega renderer");
  const final = await trainingCell.locator(".jp-RenderedVegaLite").evaluate((el) => {
    const e = el as unknown as El;
    return { canvas: e.querySelectorAll("canvas").length, svg: e.querySelectorAll("svg.marks").length };
  });
  assert.ok(final.canvas + final.svg >= 1, `the vega output has no canvas or svg: ${JSON.stringify(final)}`);
  await trainingCell.locator(".jp-RenderedVegaLite").screenshot({ path: path.join(ART, "animator.png") });
  assert.ok(drawings.size >= 3, `the Animator was drawn ${drawings.size} different way(s) during the run; it should be redrawn as it trains`);

  assert.ok(binaryFrames > 0, "no binary (v1 protocol) websocket frames: the test no longer covers what users run");
  const first = displays.find((d) => d.type === "display_data" && VEGALITE in d.data);
  assert.ok(first?.displayId, "no display_data with a vega-lite plot and a display id reached the page");
  const same = displays.filter((d) => d.displayId === first.displayId);
  assert.equal(same.filter((d) => d.type === "display_data").length, 1, "the animator was displayed more than once");
  const updates = same.filter((d) => d.type === "update_display_data");
  assert.ok(updates.length >= 2, `only ${updates.length} update_display_data for the animator`);
  t.diagnostic(
    `run all: ${((Date.now() - started) / 1000).toFixed(1)} s; animator: 1 display_data, ${updates.length} update_display_data, ${drawings.size} distinct drawings seen`,
  );
  assert.match(String(updates[updates.length - 1].data["text/plain"]), /^<Animator at epoch \d+: train loss [\d.]+, train acc [\d.]+, test acc [\d.]+>$/);
  await page.close();
});

test("JupyterLab: the stop button interrupts a busy cell within 1 s, variables survive, completion lists kinds", { timeout: 120_000 }, async (t) => {
  assert.ok(browser);
  const page = await newPage(browser);
  await openNotebook(page, "play.ipynb");
  await clickRunAll(page);
  // The first cell ran and the second is spinning.
  await page
    .waitForFunction(
      () => {
        const cells = (globalThis as unknown as LabWindow).jupyterapp?.shell.currentWidget?.content.widgets ?? [];
        return typeof cells[0]?.model.executionCount === "number" && cells[1]?.model.executionCount === null;
      },
      undefined,
      { timeout: 30_000 },
    )
    .catch(async (e: Error) => {
      await page.screenshot({ path: path.join(ART, "play-timeout.png") });
      throw new Error(`${e.message}: ${JSON.stringify(await notebookState(page))}`);
    });
  await page.waitForTimeout(1000);
  assert.equal((await notebookState(page)).status, "busy", "the spinning cell should keep the kernel busy");
  const prompt = page.locator(".jp-CodeCell").nth(1).locator(".jp-InputPrompt");
  assert.match(await prompt.innerText(), /\[\*\]/);
  const clicked = Date.now();
  await page.locator('.jp-NotebookPanel-toolbar [data-command="notebook:interrupt-kernel"]').click();
  await page.waitForFunction(
    () => {
      const p = (globalThis as unknown as LabWindow).jupyterapp?.shell.currentWidget;
      return typeof p?.content.widgets[1]?.model.executionCount === "number" && p.sessionContext.session?.kernel?.status === "idle";
    },
    undefined,
    { timeout: 5_000, polling: 20 },
  );
  const took = Date.now() - clicked;
  t.diagnostic(`stop button to idle: ${took} ms`);
  assert.ok(took < 1000, `the stop button took ${took} ms to interrupt the busy cell`);

  // The next cell still sees what ran before the interrupt.
  await page.locator(".jp-CodeCell").nth(2).locator(".cm-content").click();
  await page.keyboard.press("Shift+Enter");
  await page.waitForFunction(() => typeof (globalThis as unknown as LabWindow).jupyterapp?.shell.currentWidget?.content.widgets[2]?.model.executionCount === "number", undefined, {
    timeout: 10_000,
  });
  const next = (await modelOutputs(page))[2].outputs;
  assert.deepEqual(
    next.map((o) => ({ type: o.output_type, text: o.data?.["text/plain"] })),
    [{ type: "execute_result", text: "42" }],
    "x from the first cell after the interrupt",
  );

  // Completion in the empty last cell: d2l.trainC<Tab> lists the trainers, each with its kind.
  await page.locator(".jp-CodeCell").nth(3).locator(".cm-content").click();
  await page.keyboard.type("d2l.trainC");
  await page.keyboard.press("Tab");
  await page.waitForSelector(".jp-Completer .jp-Completer-item", { timeout: 10_000 });
  await page.screenshot({ path: path.join(ART, "completion.png") });
  const items = await page.locator(".jp-Completer .jp-Completer-item").evaluateAll((lis) =>
    lis.map((li) => {
      const e = li as unknown as El & { getAttribute(a: string): string | null };
      return { value: e.getAttribute("data-value"), kind: e.querySelector(".jp-Completer-typeExtended")?.innerText ?? "" };
    }),
  );
  for (const name of ["trainCh3", "trainCh6", "trainCh8"]) {
    const item = items.find((i) => i.value === name);
    assert.ok(item, `completion of d2l.trainC lacks ${name}: ${JSON.stringify(items)}`);
    assert.equal(item.kind, "function", `the kind shown for ${name} (JupyterLab reads _jupyter_types_experimental): ${JSON.stringify(items)}`);
  }
  await page.keyboard.press("Escape");
  await page.screenshot({ path: path.join(ART, "play.png") });
  await page.close();
});

test("JupyterLab: plotly falls back to its PNG, a progress bar updates in place, display handles and clearOutput behave", { timeout: 150_000 }, async (t) => {
  assert.ok(browser);
  const errorsBefore = consoleErrors.length;
  const page = await newPage(browser);
  const displays: { type: string; displayId: string | undefined; text: string }[] = [];
  page.on("websocket", (ws) => {
    ws.on("framereceived", (f) => {
      const m = parseV1Frame(f.payload);
      if (!m || (m.msg_type !== "display_data" && m.msg_type !== "update_display_data")) return;
      const transient = m.content?.transient as { display_id?: string } | undefined;
      const data = (m.content?.data ?? {}) as Record<string, unknown>;
      displays.push({ type: m.msg_type, displayId: transient?.display_id, text: String(data["text/plain"] ?? "") });
    });
  });
  await openNotebook(page, "render.ipynb");
  const cell = (i: number) => page.locator(".jp-CodeCell").nth(i);
  const progressCell = cell(1);
  // Run all; watch the progress cell every 50 ms: how many outputs it shows and what its bar reads.
  let maxOutputs = 0;
  const barTexts = new Set<string>();
  await clickRunAll(page);
  const started = Date.now();
  for (;;) {
    const seen = await progressCell.evaluate((el) => {
      const outs = (el as unknown as El).querySelectorAll(".jp-OutputArea-output");
      return { outputs: outs.length, text: outs.length > 0 ? outs[0].innerText.trim() : "" };
    });
    maxOutputs = Math.max(maxOutputs, seen.outputs);
    if (/^loop \[[#-]+\] \d+\/24/.test(seen.text)) barTexts.add(seen.text.replace(/,.*$/, ""));
    const state = await notebookState(page);
    if (state.status === "idle" && state.counts.every((c) => typeof c === "number")) break;
    if (Date.now() - started > 60_000) {
      await page.screenshot({ path: path.join(ART, "render-timeout.png") });
      assert.fail(`render.ipynb did not finish within 60 s (prompts: ${state.counts.join(", ")}, kernel ${state.status})`);
    }
    await page.waitForTimeout(50);
  }
  await page.screenshot({ path: path.join(ART, "render.png"), fullPage: true });
  const outs = await modelOutputs(page);
  const errors = outs.flatMap((c) => c.outputs.filter((o) => o.output_type === "error" || (o.output_type === "stream" && (o as { name?: string }).name === "stderr")));
  assert.deepEqual(errors, [], "error outputs in render.ipynb");

  // (1) plotly: the bundle carries the plotly figure and a PNG; with no plotly renderer in this Lab, the PNG is shown.
  const plotly = outs[0].outputs;
  assert.equal(plotly.length, 1, `the plotly cell has ${plotly.length} outputs`);
  assert.ok(
    plotly[0].data && "application/vnd.plotly.v1+json" in plotly[0].data && "image/png" in plotly[0].data,
    `the plotly bundle: ${Object.keys(plotly[0].data ?? {}).join(", ")}`,
  );
  const shownPlotly = await cell(0)
    .locator(".jp-OutputArea-output")
    .evaluateAll((els) =>
      els.map((el) => {
        const e = el as unknown as El & { getAttribute(a: string): string | null };
        const img = e.querySelector("img") as (El & { getAttribute(a: string): string | null; naturalWidth?: number }) | null;
        return { mime: e.getAttribute("data-mime-type"), src: img?.getAttribute("src")?.slice(0, 22) ?? "", width: img?.naturalWidth ?? 0, text: e.innerText.trim() };
      }),
    );
  assert.equal(shownPlotly.length, 1, `the plotly cell shows ${shownPlotly.length} outputs: ${JSON.stringify(shownPlotly)}`);
  assert.equal(shownPlotly[0].mime, "image/png", `the plotly output is rendered as ${shownPlotly[0].mime}, not its PNG: ${JSON.stringify(shownPlotly)}`);
  assert.equal(shownPlotly[0].src, "data:image/png;base64,", `the plotly output's img: ${JSON.stringify(shownPlotly)}`);
  assert.ok(shownPlotly[0].width > 100, `the plotly PNG did not load (natural width ${shownPlotly[0].width})`);

  // (2) the progress bar: one output the whole time, redrawn in place (one display_data, several updates), closed to its final text.
  const firstBar = displays.find((d) => d.type === "display_data" && d.text.startsWith("loop ["));
  assert.ok(firstBar?.displayId, `no display_data with the progress bar and a display id reached the page: ${JSON.stringify(displays.slice(0, 3))}`);
  const bar = displays.filter((d) => d.displayId === firstBar.displayId);
  const barUpdates = bar.filter((d) => d.type === "update_display_data");
  assert.equal(bar.filter((d) => d.type === "display_data").length, 1, "the progress bar was displayed more than once");
  assert.ok(barUpdates.length >= 5, `only ${barUpdates.length} update_display_data for the progress bar`);
  assert.equal(maxOutputs, 1, `the progress cell showed ${maxOutputs} outputs at once; the bar must update one in place`);
  assert.ok(barTexts.size >= 3, `the page showed the bar at ${barTexts.size} different point(s) (${[...barTexts].join(" | ")}); it should move as the loop runs`);
  assert.deepEqual(
    outs[1].outputs.map((o) => ({ type: o.output_type, text: o.data?.["text/plain"] })),
    [{ type: "display_data", text: "loop done: 24 steps" }],
    "the progress cell ends with its one, closed, output",
  );

  // (3) a display handle updated from a later cell changes the earlier cell's output; clearOutput() empties the current cell.
  const texts = (i: number) => outs[i].outputs.map((o) => String(o.data?.["text/plain"] ?? (Array.isArray(o.text) ? o.text.join("") : (o.text ?? ""))).trim());
  assert.deepEqual(texts(2), ["'handle v2'", "handle shown"], "the handle's cell after h.update() in the next cell (model)");
  assert.deepEqual(
    await cell(2)
      .locator(".jp-OutputArea-output")
      .allInnerTexts()
      .then((a) => a.map((s) => s.trim())),
    ["'handle v2'", "handle shown"],
    "the handle's cell after h.update() (page)",
  );
  assert.deepEqual(texts(3), [], "h.update() must not add an output to the cell that calls it");
  assert.deepEqual(texts(4), ["after clear"], "clearOutput() must remove what the cell showed before it (model)");
  assert.deepEqual(
    await cell(4)
      .locator(".jp-OutputArea-output")
      .allInnerTexts()
      .then((a) => a.map((s) => s.trim())),
    ["after clear"],
    "clearOutput() (page)",
  );

  assert.deepEqual(consoleErrors.slice(errorsBefore), [], "browser console errors while rendering render.ipynb");
  t.diagnostic(
    `render.ipynb: ${((Date.now() - started) / 1000).toFixed(1)} s; progress bar: 1 display_data, ${barUpdates.length} update_display_data, ${barTexts.size} distinct bars seen`,
  );
  await page.close();
});

test("JupyterLab: no errors in the browser console", () => {
  assert.deepEqual(consoleErrors, []);
});
