// The classic Notebook extension's install: files where Jupyter serves nbextensions from, enabled in nbconfig.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { installNbExtension, nbExtensionIsCurrent, nbextensionDirs } from "../../cli/nbextension";

test("installNbExtension --prefix: main.js and plotly.min.js under share/jupyter/nbextensions/d2l-ts, enabled in etc/jupyter/nbconfig", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-nbext-"));
  try {
    const scope = { kind: "prefix" as const, dir };
    assert.deepEqual(nbextensionDirs(scope), { data: path.join(dir, "share", "jupyter"), config: path.join(dir, "etc", "jupyter") });
    assert.equal(nbExtensionIsCurrent(scope), false);
    assert.match(installNbExtension(scope), /Installed the classic Notebook extension d2l-ts\/main/);
    const ext = path.join(dir, "share", "jupyter", "nbextensions", "d2l-ts");
    const main = fs.readFileSync(path.join(ext, "main.js"), "utf8");
    assert.match(main, /register_mime_type\(MIME, append, \{ safe: true, index: 0 \}\)/);
    assert.match(main, /application\/vnd\.plotly\.v1\+json/);
    assert.match(fs.readFileSync(path.join(ext, "plotly.min.js"), "utf8").slice(0, 200), /plotly\.js v\d/);
    const conf = JSON.parse(fs.readFileSync(path.join(dir, "etc", "jupyter", "nbconfig", "notebook.d", "d2l-ts.json"), "utf8")) as unknown;
    assert.deepEqual(conf, { load_extensions: { "d2l-ts/main": true } });
    assert.equal(nbExtensionIsCurrent(scope), true);
    fs.appendFileSync(path.join(ext, "main.js"), "\n// edited");
    assert.equal(nbExtensionIsCurrent(scope), false, "a changed file is not current");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
