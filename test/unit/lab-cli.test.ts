/**
 * `d2l-ts lab`'s command line: bad input gets a clear error and the usage exit code; the server's
 * arguments keep it on 127.0.0.1 without terminals. (The app itself: test/browser/lab.browser.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "path";
import { spawnSync } from "child_process";
import { LAB_DIR, labPythonPath, labServerArgs } from "../../cli/lab";

const BIN = path.resolve(__dirname, "../../../bin/d2l-ts.js");

function run(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, "lab", ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

test("d2l-ts lab rejects a bad port, a missing folder and stray arguments", () => {
  const port = run("--port", "http");
  assert.equal(port.status, 2);
  assert.match(port.stderr, /--port needs a port number \(1-65535\), got "http"/);
  assert.match(port.stderr, /d2l-ts lab \[--port N\]/, "usage is printed");
  const dir = run("--dir", "/no/such/folder");
  assert.equal(dir.status, 1);
  assert.match(dir.stderr, /--dir: no such folder: \/no\/such\/folder/);
  const extra = run("notebooks");
  assert.equal(extra.status, 2);
  assert.match(extra.stderr, /unexpected argument\(s\): notebooks/);
});

test("the lab server listens on 127.0.0.1 with the given token, no terminals, lab/ first on PYTHONPATH", () => {
  const a = labServerArgs({ port: 9999, token: "t0k", dir: "/x", asRoot: false });
  assert.deepEqual(a.slice(0, 2), ["-m", "d2l_lab"]);
  for (const want of ["--ServerApp.ip=127.0.0.1", "--ServerApp.port=9999", "--ServerApp.token=t0k", "--ServerApp.root_dir=/x", "--ServerApp.terminals_enabled=False"])
    assert.ok(a.includes(want), want);
  assert.ok(!a.includes("--allow-root"));
  assert.ok(labServerArgs({ port: 1, token: "t", dir: "/x", asRoot: true }).includes("--allow-root"));
  // no token given: none on the command line, so the server makes one and prints it (a given one it masks)
  assert.ok(!labServerArgs({ port: 1, dir: "/x", asRoot: false }).some((x) => x.startsWith("--ServerApp.token")));
  assert.equal(labPythonPath(undefined), LAB_DIR);
  assert.equal(labPythonPath("/a"), `${LAB_DIR}${path.delimiter}/a`);
});
