/**
 * The `d2l-ts` command line as a user meets it: one parser for every command
 * (`--opt value` and `--opt=value`, exit 2 with the usage on a mistake), and
 * `d2l-ts run` through the one runner (notebook/runner.ts) on odd file names,
 * failing cells, malformed notebooks and Ctrl-C.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawn, spawnSync } from "child_process";

const BIN = path.resolve(__dirname, "../../../bin/d2l-ts.js");

function cli(args: string[], cwd = process.cwd()): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000, cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function notebook(cells: string[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map((source) => ({ cell_type: "code", source, metadata: {}, outputs: [], execution_count: null })),
  });
}

test("every command takes the one parser's rules: unknown options and bad values exit 2 with that command's usage", () => {
  const cases: [string[], RegExp, RegExp][] = [
    [["install", "--bogus"], /install: unknown option --bogus/, /d2l-ts install \[--user/],
    [["install", "--prefix"], /--prefix needs a value/, /d2l-ts install/],
    [["install", "--user", "--prefix=/tmp/x"], /choose one of --user, --sys-prefix, --prefix DIR/, /d2l-ts install/],
    [["kernel"], /kernel needs --connection-file FILE/, /d2l-ts kernel --connection-file FILE/],
    [["notebook", "--port=http"], /--port must be a whole number ≥ 1 and ≤ 65535 \(the port to listen on\); got "http"/, /d2l-ts notebook \[--port N\]/],
    [["lab", "--port=0"], /--port needs a port number/, /d2l-ts lab \[--port N\]/],
    [["hub", "--ui=tv", "--password-env=HUB_PW"], /--ui is notebook .* or lab/, /d2l-ts hub \[--dir DIR\]/],
    [["run"], /run needs a NOTEBOOK/, /d2l-ts run NOTEBOOK/],
    [["run", "a.ipynb", "b.ipynb"], /run: unexpected argument\(s\): b\.ipynb/, /d2l-ts run NOTEBOOK/],
    [["run", "a.ipynb", "--timeout=-1"], /--timeout must be a number > 0/, /d2l-ts run NOTEBOOK/],
    [["run", "a.ipynb", "--allow-errors=yes"], /--allow-errors is a flag and takes no value/, /d2l-ts run NOTEBOOK/],
    [["doctor", "--verbose"], /doctor: unknown option --verbose \(it takes no options\)/, /d2l-ts doctor/],
    [["assignment"], /assignment needs a subcommand: new or release/, /d2l-ts assignment new NAME/],
    [["assignment", "release"], /assignment release needs the instructor's SOURCE\.ipynb/, /d2l-ts assignment release SOURCE/],
    [["grade", "x.ipynb", "--memory=12"], /--memory must be a number ≥ 256/, /d2l-ts grade SUBMISSION\.ipynb/],
    [["grade", "x.ipynb", "--jobs=2"], /--jobs is for a folder of submissions/, /d2l-ts grade SUBMISSIONS_DIR/],
    [["frobnicate"], /unknown command "frobnicate"/, /d2l-ts install \[--user/],
  ];
  for (const [args, message, usage] of cases) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.match(r.stderr, usage, `${args.join(" ")} prints its usage`);
  }
});

test("--opt=value and --opt value mean the same: install --prefix, assignment new --dir", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-cli-"));
  try {
    const a = cli(["install", `--prefix=${path.join(dir, "p1")}`]);
    assert.equal(a.status, 0, a.stderr);
    const b = cli(["install", "--prefix", path.join(dir, "p2")]);
    assert.equal(b.status, 0, b.stderr);
    for (const p of ["p1", "p2"]) assert.ok(fs.existsSync(path.join(dir, p, "share", "jupyter", "kernels", "d2l-ts", "kernel.json")), p);
    const odd = path.join(dir, "course [1] #é");
    const n = cli(["assignment", "new", "hw-1", `--dir=${odd}`]);
    assert.equal(n.status, 0, n.stderr);
    assert.ok(fs.existsSync(path.join(odd, "hw-1", "assignment.ipynb")));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("d2l-ts run: a file name with [ ] # ? spaces and non-ASCII letters, a failing cell, a malformed notebook", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-cli-run-"));
  try {
    const name = "week[1] #3? é.ipynb";
    fs.writeFileSync(path.join(dir, name), notebook(["const s = tf.tensor([1, 2, 3]).sum().dataSync()[0];\ns", 'console.log("twice", s * 2)']));
    const ok = cli(["run", name, "--timeout=60"], dir);
    assert.equal(ok.status, 0, ok.stderr);
    const out = JSON.parse(fs.readFileSync(path.join(dir, "week[1] #3? é.out.ipynb"), "utf8")) as {
      cells: { outputs: { text?: string; data?: Record<string, string> }[]; execution_count: number }[];
    };
    assert.equal(out.cells[0].outputs[0].data?.["text/plain"], "6");
    assert.equal(out.cells[1].outputs[0].text, "twice 12\n");
    assert.deepEqual(
      out.cells.map((c) => c.execution_count),
      [1, 2],
    );

    fs.writeFileSync(path.join(dir, "fails.ipynb"), notebook(["1 + 1", 'throw new Error("boom")', "never()"]));
    const bad = cli(["run", "fails.ipynb", "--out", "f.out.ipynb"], dir);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /fails\.ipynb failed at cell 2: Error: boom/);
    const partial = JSON.parse(fs.readFileSync(path.join(dir, "f.out.ipynb"), "utf8")) as { cells: { outputs: { output_type: string }[] }[] };
    assert.equal(partial.cells[1].outputs[0].output_type, "error", "the failing cell's error is kept");
    assert.deepEqual(partial.cells[2].outputs, [], "cells after it did not run");

    fs.writeFileSync(
      path.join(dir, "null.ipynb"),
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {},
        cells: [{ cell_type: "code", source: "1", metadata: {}, outputs: [{ output_type: "stream", name: "stdout" }] }],
      }),
    );
    const malformed = cli(["run", "null.ipynb"], dir);
    assert.equal(malformed.status, 1);
    assert.equal(malformed.stderr.trim().split("\n").length, 1, malformed.stderr);
    assert.match(malformed.stderr, /null\.ipynb: cell 1: outputs\[0\]\.text must be a string or a list of strings; got undefined/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("d2l-ts run: Ctrl-C interrupts the running cell, writes what ran and exits 130", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-cli-int-"));
  try {
    fs.writeFileSync(path.join(dir, "long.ipynb"), notebook(['console.log("started")', "while (true) {}", "1"]));
    const child = spawn(process.execPath, [BIN, "run", "long.ipynb"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const out = path.join(dir, "long.out.ipynb");
    // interrupt once the runner has started the second cell (it says so on stderr), and it has looped a moment
    for (let waited = 0; !stderr.includes("cell 2 of 3") && waited < 120_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    assert.equal(code, 130, stderr);
    const nb = JSON.parse(fs.readFileSync(out, "utf8")) as { cells: { outputs: { output_type: string; text?: string }[] }[] };
    assert.equal(nb.cells[0].outputs[0].text, "started\n");
    assert.equal(nb.cells[1].outputs[0]?.output_type, "error", "the interrupted cell shows its interrupt");
    assert.deepEqual(nb.cells[2].outputs, []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
