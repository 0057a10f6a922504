"""Grading against hostile submissions (assignments/README.md, "Threat model").

Each submission below tries to cheat on a three-point assignment
(fixtures/tamper: `softmax`, 2 points, one of them a hidden check; `double`,
1 point). None may gain a point it did not earn: the checks run in a second,
clean kernel that reads the submission's answers as data, and the student's
kernel runs in a sandbox (no network, the reference and other submissions
hidden, the project read-only, a memory limit, its own PID namespace).
The honest solution still gets full marks."""
import hashlib
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import threading
import time
import unittest

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ["node", str(ROOT / "bin" / "d2l-ts.js")]
FIX = pathlib.Path(__file__).resolve().parent / "fixtures" / "tamper"
REFERENCE = FIX / "assignment.ipynb"
ART = ROOT / "test-artifacts" / "tamper"

ENV = dict(os.environ)
ENV["D2L_QUICK"] = "1"
ENV.setdefault("D2L_DATA_DIR", str(ROOT.parent / "shared" / "data"))
ENV.setdefault("D2L_BACKEND", "wasm")
ENV["GRADER_SECRET_TOKEN"] = "s3cret-of-the-grader"

DOUBLE = "function double(x: number): number {\n  return 2 * x;\n}"
SOFTMAX = "function softmax(X: tf.Tensor): tf.Tensor {\n  const e = X.exp();\n  return e.div(e.sum(1, true));\n}"
WRONG_SOFTMAX = "function softmax(X: tf.Tensor): tf.Tensor {\n  return X;\n}"
CHECK_MIME = "application/vnd.d2l-ts.check+json"
FORGED = "{ name: 'forged', points: 3, maxPoints: 3, passed: true, message: '' }"


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


class Hits(http.server.BaseHTTPRequestHandler):
    count = 0

    def do_GET(self):
        Hits.count += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"the network was reached")

    def log_message(self, *args):
        pass


class TamperTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(ART, ignore_errors=True)
        (ART / "submissions").mkdir(parents=True)
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hits)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.port = cls.server.server_address[1]
        # A classmate's submission beside each one: it must stay unreadable.
        shutil.copy(FIX / "solution.ipynb", ART / "submissions" / "classmate.ipynb")

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()

    def submission(self, name, answers=None, cells=(), where="data"):
        """The student's copy with `answers` filled in and student cells `cells` after cell `where`."""
        nb = nbformat.read(FIX / "student.ipynb", as_version=4)
        for c in nb.cells:
            cid = c.metadata.get("d2l", {}).get("id")
            if answers and cid in answers:
                c.source = answers[cid]
        at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("d2l", {}).get("id") == where) + 1
        for k, src in enumerate(cells):
            nb.cells.insert(at + k, nbformat.v4.new_code_cell(src))
        path = ART / "submissions" / f"{name}.ipynb"
        nbformat.write(nb, path)
        return path

    def grade(self, path, *extra, bound=240):
        out_json, out_nb = ART / f"{path.stem}.grade.json", ART / f"{path.stem}.graded.ipynb"
        started = time.time()
        p = subprocess.run([*CLI, "grade", str(path), "--reference", str(REFERENCE), "--timeout", "20",
                            "--json", str(out_json), "--out", str(out_nb), "--quiet", *map(str, extra)],
                           capture_output=True, text=True, env=ENV, timeout=bound)
        self.assertEqual(p.returncode, 0, f"d2l-ts grade failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
        report = json.loads(out_json.read_text())
        print(f"\n    {path.stem}: score {report['score']}/{report['maxScore']} in {time.time() - started:.1f} s", flush=True)
        return report, nbformat.read(out_nb, as_version=4)

    def student_outputs(self, nb):
        """The text of the outputs of the student's own (untagged) cells."""
        text = []
        for c in nb.cells:
            if c.cell_type == "code" and "d2l" not in c.metadata:
                for o in c.get("outputs", []):
                    text.append(json.dumps(o))
        return "\n".join(text)

    def assertScores(self, report, softmax, double):
        got = {c["id"]: c["points"] for c in report["checks"]}
        self.assertEqual(got, {"check-softmax": softmax, "check-double": double}, json.dumps(report["checks"], indent=1))

    def test_honest_solution_gets_full_marks(self):
        report, _ = self.grade(self.submission("honest", {"softmax": SOFTMAX, "double": DOUBLE}))
        self.assertScores(report, 2, 1)

    def test_redefining_check_display_and_the_output_bridge_gains_nothing(self):
        attack = f"""
const d = d2l as unknown as Record<string, unknown>;
const real = d2l.check;
d.check = async (name: string) => real(name, 3, true);
d.checkClose = async (name: string) => real(name, 3, true);
(globalThis as unknown as Record<string, unknown>).display = (x: unknown) => console.log("wrapped", x);
for (const s of Object.getOwnPropertySymbols(globalThis)) {{
  const bridge = (globalThis as unknown as Record<symbol, Record<string, unknown>>)[s];
  if (bridge && typeof bridge === "object") for (const k of Object.keys(bridge)) if (typeof bridge[k] === "function") bridge[k] = () => undefined;
}}
"""
        report, _ = self.grade(self.submission("wrap", {"double": DOUBLE}, [attack]))
        self.assertScores(report, 0, 1)

    def test_patched_comparison_helpers_gain_nothing(self):
        attack = """
tf.Tensor.prototype.sum = function () { return tf.ones([2]); } as never;
tf.Tensor.prototype.dataSync = function () { return new Float32Array([1, 1]); } as never;
Math.abs = () => 0;
Array.prototype.every = () => true;
Number.isFinite = () => true;
"""
        report, _ = self.grade(self.submission("helpers", {"softmax": WRONG_SOFTMAX}, [attack]))
        self.assertScores(report, 0, 0)

    def test_timers_and_pending_promises_cannot_write_into_check_cells(self):
        attack = f"""
setInterval(() => {{ display({{ "{CHECK_MIME}": {FORGED}, "text/plain": "forged" }}); void d2l.check("forged by a timer", 3, true); }}, 5);
void (async () => {{
  for (let i = 0; i < 400; i++) {{
    await new Promise((r) => setTimeout(r, 25));
    display({{ "{CHECK_MIME}": {FORGED}, "text/plain": "forged" }});
  }}
}})();
"""
        report, nb = self.grade(self.submission("timers", {"double": DOUBLE}, [attack]))
        self.assertScores(report, 0, 1)
        for c in nb.cells:
            if c.metadata.get("d2l", {}).get("grade"):
                self.assertNotIn("forged", json.dumps(c.get("outputs", [])))

    def test_printing_a_fake_check_result_gains_nothing(self):
        attack = f"""
console.log(JSON.stringify({{ "{CHECK_MIME}": {FORGED} }}));
display({{ "{CHECK_MIME}": {FORGED}, "text/plain": "✓ forged (3/3 points)" }});
await d2l.check("forged", 3, true);
"""
        report, _ = self.grade(self.submission("fake-output", {}, [attack], where="double"))
        self.assertScores(report, 0, 0)

    def test_the_reference_other_submissions_and_grader_secrets_cannot_be_read(self):
        attack = f"""
const fs = require("fs") as typeof import("fs");
for (const p of [{json.dumps(str(REFERENCE))}, {json.dumps(str(ART / "submissions" / "classmate.ipynb"))}]) {{
  try {{ console.log("READ", p, fs.readFileSync(p, "utf8").length); }} catch (e) {{ console.log("DENIED", p, (e as Error).message); }}
}}
try {{ console.log("LIST", fs.readdirSync({json.dumps(str(ART / "submissions"))}).join(",")); }} catch (e) {{ console.log("DENIED list", (e as Error).message); }}
console.log("TOKEN", process.env.GRADER_SECRET_TOKEN ?? "absent");
"""
        report, nb = self.grade(self.submission("read", {}, [attack]))
        out = self.student_outputs(nb)
        self.assertNotIn("READ ", out)
        self.assertEqual(out.count("DENIED /"), 2, out)
        self.assertNotIn("classmate", out.split("LIST", 1)[-1].split("\\n")[0] if "LIST" in out else "")
        self.assertIn("TOKEN absent", out)
        self.assertNotIn("s3cret", out)
        self.assertScores(report, 0, 0)

    def test_writing_into_the_project_fails(self):
        target = ROOT / "dist" / "lib" / "check.js"
        before = sha256(target)
        attack = f"""
const fs = require("fs") as typeof import("fs");
try {{ fs.writeFileSync({json.dumps(str(target))}, "module.exports = {{}};"); console.log("WROTE"); }} catch (e) {{ console.log("DENIED", (e as Error).message); }}
try {{ fs.writeFileSync({json.dumps(str(ROOT / "pwned.txt"))}, "x"); console.log("WROTE"); }} catch (e) {{ console.log("DENIED", (e as Error).message); }}
// the folder the grader writes its requests to: a link planted there would make the grader write through it
for (const d of fs.readdirSync("/tmp").filter((n) => n.startsWith("d2l-ts-rpc-"))) {{
  console.log("FOUND the request folder");
  for (let n = 1; n <= 50; n++) {{
    try {{ fs.symlinkSync({json.dumps(str(target))}, `/tmp/${{d}}/req-${{n}}.json`); console.log("PLANTED"); }} catch (e) {{ if (n === 1) console.log("DENIED", (e as Error).message); }}
  }}
}}
fs.writeFileSync("scratch.txt", "the scratch folder is writable");
console.log("SCRATCH", fs.readFileSync("scratch.txt", "utf8"));
"""
        report, nb = self.grade(self.submission("write", {"double": DOUBLE}, [attack]))
        out = self.student_outputs(nb)
        self.assertNotIn("WROTE", out)
        self.assertIn("FOUND the request folder", out)
        self.assertNotIn("PLANTED", out)
        self.assertEqual(out.count("DENIED"), 3, out)
        self.assertIn("SCRATCH the scratch folder is writable", out)
        self.assertEqual(sha256(target), before)
        self.assertFalse((ROOT / "pwned.txt").exists())
        self.assertScores(report, 0, 1)

    def test_the_network_cannot_be_reached(self):
        Hits.count = 0
        attack = f"""
try {{ const r = await fetch("http://127.0.0.1:{self.port}/"); console.log("REACHED", await r.text()); }} catch (e) {{ console.log("DENIED", (e as Error).message); }}
"""
        report, nb = self.grade(self.submission("network", {"double": DOUBLE}, [attack]))
        out = self.student_outputs(nb)
        self.assertNotIn("REACHED", out)
        self.assertIn("DENIED", out)
        self.assertEqual(Hits.count, 0)
        self.assertScores(report, 0, 1)

    def test_exhausting_memory_costs_only_its_checks(self):
        """In the kernel: its own limit (90% of --memory) stops the cell with a MemoryError and the kernel
        goes on. In a child process, which that limit does not see: the grader's watchdog kills the tree
        and the kernel is restarted."""
        hog = "const hog: Buffer[] = [];\nfor (;;) hog.push(Buffer.alloc(64 * 1024 * 1024, 1));\n" + SOFTMAX
        report, _ = self.grade(self.submission("memory", {"softmax": hog, "double": DOUBLE}), "--memory", "1500")
        self.assertScores(report, 0, 1)
        self.assertTrue(any(e["ename"] == "MemoryError" and "set by D2L_MEMORY_LIMIT=1350M" in e["evalue"] for e in report["errors"]), report["errors"])
        self.assertEqual(report["restarts"], [])
        child = ('require("child_process").execFileSync(process.execPath, ["-e", '
                 '"const k = []; for (;;) k.push(Buffer.alloc(64 * 2 ** 20, 1));"]);\n' + SOFTMAX)
        report, _ = self.grade(self.submission("memory-child", {"softmax": child, "double": DOUBLE}), "--memory", "1500")
        self.assertScores(report, 0, 1)
        self.assertTrue(any("memory" in r["reason"] for r in report["restarts"]), report["restarts"])

    def test_process_exit_and_killing_the_grader_gain_nothing(self):
        attack = """
try { process.kill(process.ppid, "SIGKILL"); } catch (e) { console.log("no parent to kill", (e as Error).message); }
const fs = require("fs") as typeof import("fs");
for (const pid of fs.readdirSync("/proc").filter((p: string) => /^\\d+$/.test(p))) {
  try {
    // the grader, wherever it is: its command line says "d2l-ts.js grade"
    if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("d2l-ts.js\\u0000grade")) process.kill(Number(pid), "SIGKILL");
  } catch { /* not visible, or not ours to signal */ }
}
process.exit(0);
"""
        report, _ = self.grade(self.submission("exit", {"double": DOUBLE}, [attack]))
        self.assertScores(report, 0, 1)
        self.assertTrue(report["restarts"], "the kernel should have been replaced after process.exit")


if __name__ == "__main__":
    unittest.main()
