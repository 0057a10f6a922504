/**
 * The classic Notebook extension that makes `d2l.plotly` figures interactive
 * there: `kernel/assets/nbextension/main.js` (registers a renderer for
 * `application/vnd.plotly.v1+json`) and plotly.js from npm's
 * plotly.js-dist-min, copied into Jupyter's `nbextensions/d2l-ts/` and
 * enabled in `nbconfig/notebook.d/d2l-ts.json`: the Notebook server then
 * serves plotly.js itself (no CDN). JupyterLab and Notebook 7 do not read
 * nbextensions; there the figure is its PNG unless plotly's own JupyterLab
 * extension is installed.
 */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { PROJECT_ROOT } from "../kernel/info";
import { type InstallScope, requireJupyterPython } from "./install";

/** The folder name under nbextensions/ and the extension's require path ("d2l-ts/main"). */
export const NBEXTENSION = "d2l-ts";

/** Where an install scope puts nbextension files and the nbconfig that enables them. */
export function nbextensionDirs(scope: InstallScope): { data: string; config: string } {
  if (scope.kind === "prefix") return { data: path.join(scope.dir, "share", "jupyter"), config: path.join(scope.dir, "etc", "jupyter") };
  const py = requireJupyterPython();
  const r = spawnSync(
    py,
    ["-c", "import sys, json; from jupyter_core.paths import jupyter_data_dir, jupyter_config_dir; print(json.dumps([jupyter_data_dir(), jupyter_config_dir(), sys.prefix]))"],
    { encoding: "utf8", env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" } },
  );
  if (r.status !== 0) throw new Error(`cannot ask Jupyter for its folders: ${(r.stderr || r.stdout).trim()}`);
  const [data, config, prefix] = JSON.parse(r.stdout) as [string, string, string];
  if (scope.kind === "user") return { data, config };
  return { data: path.join(prefix, "share", "jupyter"), config: path.join(prefix, "etc", "jupyter") };
}

/**
 * Install and enable the extension for `scope` (what `d2l-ts install` does
 * beside the kernelspec). Returns a line saying where it went. Throws with
 * what to do when plotly.js is not installed (npm ci).
 */
export function installNbExtension(scope: InstallScope): string {
  const main = path.join(PROJECT_ROOT, "kernel", "assets", "nbextension", "main.js");
  let plotly: string;
  try {
    plotly = require.resolve("plotly.js-dist-min/plotly.min.js", { paths: [PROJECT_ROOT] });
  } catch {
    throw new Error(`plotly.js-dist-min is not installed in ${PROJECT_ROOT}; run npm ci there, then install again`);
  }
  const { data, config } = nbextensionDirs(scope);
  const dest = path.join(data, "nbextensions", NBEXTENSION);
  fs.mkdirSync(dest, { recursive: true });
  fs.copyFileSync(main, path.join(dest, "main.js"));
  fs.copyFileSync(plotly, path.join(dest, "plotly.min.js"));
  const conf = path.join(config, "nbconfig", "notebook.d");
  fs.mkdirSync(conf, { recursive: true });
  fs.writeFileSync(path.join(conf, `${NBEXTENSION}.json`), JSON.stringify({ load_extensions: { [`${NBEXTENSION}/main`]: true } }, null, 2) + "\n");
  return `Installed the classic Notebook extension ${NBEXTENSION}/main (plotly figures) in ${dest}, enabled in ${conf}`;
}

/** True when `scope` has this checkout's extension files, enabled. */
export function nbExtensionIsCurrent(scope: InstallScope): boolean {
  try {
    const { data, config } = nbextensionDirs(scope);
    const dest = path.join(data, "nbextensions", NBEXTENSION);
    const main = path.join(PROJECT_ROOT, "kernel", "assets", "nbextension", "main.js");
    const plotly = require.resolve("plotly.js-dist-min/plotly.min.js", { paths: [PROJECT_ROOT] });
    const same = (a: string, b: string): boolean => fs.existsSync(b) && fs.readFileSync(a).equals(fs.readFileSync(b));
    const conf = JSON.parse(fs.readFileSync(path.join(config, "nbconfig", "notebook.d", `${NBEXTENSION}.json`), "utf8")) as { load_extensions?: Record<string, boolean> };
    return same(main, path.join(dest, "main.js")) && same(plotly, path.join(dest, "plotly.min.js")) && conf.load_extensions?.[`${NBEXTENSION}/main`] === true;
  } catch {
    return false;
  }
}
