"""Batch grading through the CLI: `d2l-ts grade SUBMISSIONS_DIR --reference ...
--jobs 2` on a generated class of 30 submissions of a small assignment
(test/fixtures/assignments/tiny, 6 points, no tensors): correct ones under odd
file names and in nbgrader's STUDENT/ layout, partly correct ones, an endless
loop, a crash (process.exit), a syntax error, cells that throw, a notebook
that is not JSON, a student folder with two notebooks, and cheats (a fake
check result printed or displayed, d2l.check redefined). Every score is
asserted exactly; the gradebook (CSV and JSON), feedback notebooks and
reports are complete; a re-run grades nothing; a changed submission alone is
graded again; --force grades everything again.

By hand: `python3 test/kernel/test_grade_batch.py --make DIR` writes the class
into DIR/class (and the reference into DIR/tiny) for timing runs."""
import csv
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import nbformat

from test_grade import edit, insert_after  # one copy of the notebook-editing helpers

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ["node", str(ROOT / "bin" / "d2l-ts.js")]
TINY = ROOT / "test" / "fixtures" / "assignments" / "tiny" / "assignment.ipynb"
CHECKS = ["check-add", "check-mean", "check-shout"]  # the reference's order
MAX = {"check-add": 2, "check-mean": 3, "check-shout": 1}
CELL_TIMEOUT = 5  # seconds per cell: the endless loops cost this much each

ENV = dict(os.environ)
ENV.setdefault("D2L_BACKEND", "wasm")
ENV.setdefault("D2L_CACHE_DIR", str(ROOT / "test-artifacts" / "cache"))

MIME = "application/vnd.d2l-ts.check+json"
ADD = "function add(a: number, b: number): number {\n  return a + b;\n}"
MEAN = "function mean(values: number[]): number {\n  return values.reduce((s, v) => s + v, 0) / values.length;\n}"
SHOUT = 'function shout(s: string): string {\n  return s.toUpperCase() + "!";\n}'
SHOUT_WRONG = "function shout(s: string): string {\n  return s.toUpperCase();\n}"
FAKE = json.dumps({"name": "shout(\"hi\") is \"HI!\"", "points": 1, "maxPoints": 1, "passed": True, "message": ""})
PASS_ALWAYS = """const pass = async (name: string, points: number): Promise<void> => {
  await Deno.jupyter.display({ "%s": { name, points, maxPoints: points, passed: true, message: "" }, "text/plain": "✓ " + name }, { raw: true });
};
try { (d2l as any).check = pass; (d2l as any).checkClose = pass; } catch (e) { console.log("d2l is read-only:", String(e)); }
try { (globalThis as any).d2l = { ...(globalThis as any).d2l, check: pass, checkClose: pass }; } catch (e) { console.log(String(e)); }""" % MIME


def cli(*args, timeout=300):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=ENV, timeout=timeout)


def release(folder):
    """The solution and student copies of the tiny assignment, in folder/tiny."""
    ref = pathlib.Path(folder) / "tiny" / "assignment.ipynb"
    ref.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(TINY, ref)
    for extra in ([], ["--solutions"]):
        p = cli("assignment", "release", ref, *extra)
        assert p.returncode == 0, p.stderr
    return ref


def make_class(folder, ref):
    """Write 30 submissions into folder; return {student: (file, expected points per check or None for a failure, what the failure says)}."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    solution = nbformat.read(ref.parent / "solution.ipynb", as_version=4)
    student_copy = nbformat.read(ref.parent / "student.ipynb", as_version=4)
    expected = {}

    def sub(student, points, change=lambda nb: nb, file=None, base=None, fails=None):
        nb = change(nbformat.from_dict(json.loads(json.dumps(base or solution))))
        path = folder / (file or f"{student}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        expected[student] = (str(path.relative_to(folder)), points, fails)

    full = {"check-add": 2, "check-mean": 3, "check-shout": 1}
    pts = lambda **kw: {**full, **{k.replace("_", "-"): v for k, v in kw.items()}}  # noqa: E731
    # correct, under odd names and in nbgrader's layout
    for name in ["alice", "bob smith", "c#3", "what?", "[dan]", "zoë 日本", "it's 50% done"]:
        sub(name, full)
    sub("erin", full, file="erin/hw1.ipynb")
    sub("frank (2)", full, file="frank (2)/my submission #1.ipynb")
    sub("deleted-check", full, lambda nb: nbformat.from_dict({**nb, "cells": [c for c in nb.cells if c.metadata.get("d2l", {}).get("id") != "check-shout"]}))
    # partly correct, several ways
    sub("add-subtracts", pts(check_add=0), lambda nb: edit(nb, "add", ADD.replace("a + b", "a - b")))
    sub("add-visible-only", pts(check_add=1), lambda nb: edit(nb, "add", ADD.replace("a + b", "a + b + (a < 0 ? 1 : 0)")))
    sub("mean-off-by-one", pts(check_mean=0), lambda nb: edit(nb, "mean", MEAN.replace("values.length", "(values.length - 1)")))
    sub("mean-hardcoded", pts(check_mean=2), lambda nb: edit(nb, "mean", MEAN.replace("values.length", "3")))
    sub("shout-no-bang", pts(check_shout=0), lambda nb: edit(nb, "shout", SHOUT_WRONG))
    sub("two-wrong", pts(check_add=0, check_shout=0), lambda nb: edit(edit(nb, "add", "function add(a: number, b: number): number {\n  return a * b;\n}"), "shout", SHOUT_WRONG))
    sub("mean-unfilled", pts(check_mean=0), lambda nb: edit(nb, "mean", next(c.source for c in student_copy.cells if c.metadata.get("d2l", {}).get("id") == "mean")))
    sub("unfilled", {"check-add": 0, "check-mean": 0, "check-shout": 0}, base=student_copy)
    sub("edited-check", pts(check_shout=0), lambda nb: edit(edit(nb, "shout", SHOUT_WRONG), "check-shout", 'await d2l.check("shout", 1, true);'))
    # endless loops: at the top of an answer cell (mean never defined), and inside the function (the check cell hangs)
    sub("loop-in-answer", pts(check_mean=0), lambda nb: edit(nb, "mean", "while (true) {}\nconst mean = (values: number[]): number => 0;"))
    sub("loop-in-check", pts(check_mean=0), lambda nb: edit(nb, "mean", "function mean(values: number[]): number {\n  while (true) {}\n}"))
    # a crash, a syntax error, cells that throw
    sub("crash", pts(check_add=0), lambda nb: edit(nb, "add", "process.exit(1);\n" + ADD))
    sub("syntax-error", pts(check_shout=0), lambda nb: edit(nb, "shout", 'function shout(s: string): string {\n  return s.toUpperCase( + "!";\n}'))
    sub("throws-own-cell", full, lambda nb: insert_after(nb, "given", 'throw new Error("a cell of my own that fails");'))
    sub("throws-in-answer", pts(check_add=0), lambda nb: edit(nb, "add", "const add = (a: number, b: number): number => { throw new TypeError(`no ${a} + ${b} today`); };"))
    # cheats: none may gain a point it did not earn
    sub("cheat-prints", pts(check_shout=0), lambda nb: insert_after(edit(nb, "shout", SHOUT_WRONG), "shout", f"console.log({json.dumps(json.dumps({MIME: json.loads(FAKE)}))});"))
    sub("cheat-displays", pts(check_shout=0), lambda nb: edit(nb, "shout", SHOUT_WRONG + f'\nDeno.jupyter.display({{ "{MIME}": {FAKE}, "text/plain": "✓ shout (1/1 point)" }}, {{ raw: true }});'))
    sub("cheat-redefines-check", {"check-add": 2, "check-mean": 0, "check-shout": 0},
        lambda nb: insert_after(edit(edit(nb, "mean", MEAN.replace("values.length", "2")), "shout", SHOUT_WRONG), "add", PASS_ALWAYS))
    # grading failures of the submission's own making
    (folder / "not-json.ipynb").write_text('{"cells": [ this is not JSON')
    expected["not-json"] = ("not-json.ipynb", None, "not a notebook")
    (folder / "gina").mkdir(exist_ok=True)
    for n in ("hw1.ipynb", "hw1-old.ipynb"):
        nbformat.write(solution, folder / "gina" / n)
    expected["gina"] = ("", None, "holds 2 notebooks")
    # not submissions: our own outputs, Jupyter's checkpoints, other files
    nbformat.write(solution, folder / "alice.graded.ipynb")
    (folder / ".ipynb_checkpoints").mkdir(exist_ok=True)
    nbformat.write(solution, folder / ".ipynb_checkpoints" / "alice-checkpoint.ipynb")
    (folder / "README.txt").write_text("hand-ins for the tiny assignment\n")
    assert len(expected) == 30, len(expected)
    return expected


def tree(folder):
    """Every file under folder with its sha256 (to see that grading wrote nothing there)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(pathlib.Path(folder).rglob("*")) if p.is_file()}


def batch(folder, out, *extra, timeout=900):
    started = time.time()
    p = cli("grade", folder, "--reference", folder.parent / "tiny" / "assignment.ipynb", "--timeout", CELL_TIMEOUT, "--out-dir", out, *extra, timeout=timeout)
    seconds = time.time() - started
    if p.returncode != 0:
        raise AssertionError(f"d2l-ts grade failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p, seconds


class BatchGradingTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="d2l-batch-"))
        cls.ref = release(cls.tmp)
        cls.dir = cls.tmp / "class"
        cls.expected = make_class(cls.dir, cls.ref)
        cls.before = tree(cls.dir)
        cls.out = cls.tmp / "class-graded"
        cls.proc, cls.seconds = batch(cls.dir, cls.out, "--jobs", 2)
        load = os.getloadavg()[0]
        print(f"\n    30 submissions, --jobs 2: {cls.seconds:.1f} s (load average {load:.2f})", flush=True)
        cls.book = json.loads((cls.out / "gradebook.json").read_text())
        cls.entries = {e["student"]: e for e in cls.book["entries"]}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_score_is_exactly_as_expected(self):
        got = {s: (e["status"], e["points"]) for s, e in self.entries.items()}
        want = {s: ("ok", p) if p is not None else ("failed", {c: 0 for c in CHECKS}) for s, (_, p, _) in self.expected.items()}
        self.assertEqual(got, want, json.dumps(self.book, indent=1, ensure_ascii=False)[:6000])
        for s, e in self.entries.items():
            self.assertEqual(e["score"], sum(e["points"].values()), s)
            self.assertEqual(e["maxScore"], 6, s)

    def test_cheats_gain_nothing(self):
        for s in ("cheat-prints", "cheat-displays", "edited-check"):
            self.assertEqual(self.entries[s]["score"], 5, s)
        # d2l.check redefined to always pass: only the correct add earns points
        self.assertEqual(self.entries["cheat-redefines-check"]["score"], 2, self.entries["cheat-redefines-check"])

    def test_failures_cost_only_their_own_points_and_say_why(self):
        errors = {s: " | ".join(e["errors"]) for s, e in self.entries.items()}
        self.assertIn("Timeout", errors["loop-in-answer"])
        # the loop inside mean() stops the check, not an answer cell: its time limit is in the check's message
        report = json.loads((self.out / "reports" / "loop-in-check.json").read_text())
        mean_check = next(c for c in report["checks"] if c["id"] == "check-mean")
        self.assertIn("Timeout", " | ".join([errors["loop-in-check"], *(r["message"] for r in mean_check["results"])]))
        self.assertIn("KernelDied", errors["crash"])
        self.assertRegex(errors["syntax-error"], r"cell \d+ \(solution \"shout\"\)")
        self.assertIn("a cell of my own that fails", errors["throws-own-cell"])
        for s, (_, _, fails) in self.expected.items():
            if fails:
                self.assertIn(fails, errors[s], s)
            else:
                self.assertEqual(self.entries[s]["status"], "ok", s)
        # the kernel that crashed was replaced; the grader noted it
        self.assertTrue(any("restarted" in w for w in self.entries["crash"]["warnings"]), self.entries["crash"])

    def test_gradebook_is_complete(self):
        self.assertEqual(self.book["checks"], [{"id": c, "maxPoints": MAX[c]} for c in CHECKS])
        self.assertEqual(self.book["maxScore"], 6)
        self.assertEqual(sorted(self.entries), sorted(self.expected))
        with open(self.out / "gradebook.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(list(rows[0].keys()), ["student", "file", "status", "score", "maxScore", *CHECKS, "seconds", "errors", "sha256"])
        self.assertEqual(sorted(r["student"] for r in rows), sorted(self.expected))
        for r in rows:
            e = self.entries[r["student"]]
            self.assertEqual((float(r["score"]), r["status"], r["file"]), (e["score"], e["status"], e["file"]))
            self.assertEqual([float(r[c]) for c in CHECKS], [e["points"][c] for c in CHECKS])
            self.assertEqual(r["errors"], " | ".join(e["errors"]))
        ref_sha = hashlib.sha256(self.ref.read_bytes()).hexdigest()
        for s, (file, points, _) in self.expected.items():
            e = self.entries[s]
            self.assertEqual(e["file"], file, s)
            self.assertEqual(e["referenceSha256"], ref_sha)
            if file:
                self.assertEqual(e["sha256"], hashlib.sha256((self.dir / file).read_bytes()).hexdigest(), s)
            self.assertGreaterEqual(e["seconds"], 0)
            if points is not None:
                self.assertGreater(e["seconds"], 0, s)
                self.assertTrue((self.out / "feedback" / f"{s}.ipynb").is_file(), s)
            if file:
                self.assertTrue((self.out / "reports" / f"{s}.json").is_file(), s)
        # nothing was written into the submissions folder, and no temporary file was left behind
        self.assertEqual(tree(self.dir), self.before)
        self.assertEqual([p.name for p in self.out.rglob(".*")], [])
        # the summary table on stdout names every student
        for s in self.expected:
            self.assertIn(s, self.proc.stdout)
        self.assertIn("graded 30, up to date 0", self.proc.stdout)

    def test_feedback_notebook_shows_what_the_grader_decided(self):
        nb = nbformat.read(self.out / "feedback" / "cheat-displays.ipynb", as_version=4)
        nbformat.validate(nb)
        self.assertIn("# Grade: 5/6", nb.cells[0].source)
        verdicts = [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if o.get("output_type") == "display_data" and "text/markdown" in o.get("data", {}) and o.get("metadata", {}).get("d2l_grader")]
        self.assertEqual([v.split("\n")[0] for v in verdicts],
                         ["**Grader: 2/2 points (passed)**", "**Grader: 3/3 points (passed)**", "**Grader: 0/1 point (failed)**"])
        self.assertIn('✗ shout("hi") is "HI!" (0/1)', verdicts[2])
        report = json.loads((self.out / "reports" / "cheat-displays.json").read_text())
        self.assertEqual((report["student"], report["score"]), ("cheat-displays", 5))

    def test_rerun_grades_nothing_then_only_what_changed(self):
        p, seconds = batch(self.dir, self.out, "--jobs", 2)
        self.assertIn("graded 0, up to date 30", p.stdout)
        again = json.loads((self.out / "gradebook.json").read_text())
        self.assertEqual(again["entries"], self.book["entries"], "a re-run keeps every entry as it was")
        self.assertLess(seconds, 20)
        # a changed submission (same answers, one more note) is graded again, alone
        path = self.dir / "alice.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell("I also tried a loop first."))
        nbformat.write(nb, path)
        p, _ = batch(self.dir, self.out, "--jobs", 2)
        self.assertIn("graded 1, up to date 29", p.stdout)
        after = {e["student"]: e for e in json.loads((self.out / "gradebook.json").read_text())["entries"]}
        self.assertEqual(after["alice"]["score"], 6)
        self.assertEqual(after["alice"]["sha256"], hashlib.sha256(path.read_bytes()).hexdigest())
        self.assertNotEqual(after["alice"]["gradedAt"], self.entries["alice"]["gradedAt"])
        self.assertEqual({s: e for s, e in after.items() if s != "alice"}, {s: e for s, e in self.entries.items() if s != "alice"})

    def test_force_grades_everything_again(self):
        small = self.tmp / "small"
        for s in ("bob smith", "mean-hardcoded", "cheat-prints"):
            (small / self.expected[s][0]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.dir / self.expected[s][0], small / self.expected[s][0])
        out = self.tmp / "small-graded"
        p, _ = batch(small, out, "--jobs", 2)
        self.assertIn("graded 3, up to date 0", p.stdout)
        first = {e["student"]: e for e in json.loads((out / "gradebook.json").read_text())["entries"]}
        p, _ = batch(small, out, "--jobs", 2, "--force")
        self.assertIn("graded 3, up to date 0", p.stdout)
        second = {e["student"]: e for e in json.loads((out / "gradebook.json").read_text())["entries"]}
        self.assertEqual({s: e["score"] for s, e in second.items()}, {"bob smith": 6, "mean-hardcoded": 5, "cheat-prints": 5})
        for s in first:
            self.assertNotEqual(first[s]["gradedAt"], second[s]["gradedAt"], s)
            self.assertEqual(first[s]["points"], second[s]["points"], s)


class BatchCommandLineTests(unittest.TestCase):
    def test_bad_input_gets_a_clear_error(self):
        with tempfile.TemporaryDirectory(prefix="d2l-batch-cli-") as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "class").mkdir()
            p = cli("grade", tmp / "class")
            self.assertEqual(p.returncode, 2)
            self.assertIn("needs --reference", p.stderr)
            p = cli("grade", tmp / "class", "--reference", TINY, "--out-dir", tmp / "class" / "out")
            self.assertEqual(p.returncode, 1)
            self.assertIn("inside the submissions folder", p.stderr)
            self.assertFalse((tmp / "class" / "out").exists())
            for bad in ("0", "two", "1.5"):
                p = cli("grade", tmp / "class", f"--reference={TINY}", f"--jobs={bad}")
                self.assertEqual(p.returncode, 2)
                self.assertIn("--jobs must be a whole number ≥ 1", p.stderr)
            p = cli("grade", tmp / "class", "--reference", TINY, "--json", tmp / "x.json")
            self.assertEqual(p.returncode, 2)
            self.assertIn("--out-dir", p.stderr)

    def test_a_student_found_twice_and_a_formula_for_a_name(self):
        """No kernel needed: both fail before grading starts a kernel."""
        with tempfile.TemporaryDirectory(prefix="d2l-batch-cli-") as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "class" / "hank").mkdir(parents=True)
            for f in ("hank.ipynb", "hank/hw1.ipynb"):
                shutil.copy(TINY, tmp / "class" / f)
            (tmp / "class" / '=HYPERLINK("x","y").ipynb').write_text("not a notebook")
            p = cli("grade", tmp / "class", "--reference", TINY, "--out-dir", tmp / "out", "--quiet")
            self.assertEqual(p.returncode, 0, p.stderr)
            book = json.loads((tmp / "out" / "gradebook.json").read_text())
            entries = {e["student"]: e for e in book["entries"]}
            self.assertEqual(sorted(entries), ['=HYPERLINK("x","y")', "hank"])
            self.assertEqual([e["status"] for e in entries.values()], ["failed", "failed"])
            self.assertIn('2 submissions for the student "hank" (hank/hw1.ipynb, hank.ipynb)', entries["hank"]["errors"][0])
            self.assertIn("not a notebook: not valid JSON", entries['=HYPERLINK("x","y")']["errors"][0])
            with open(tmp / "out" / "gradebook.csv", newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))
            # a spreadsheet shows the name as text, not a formula
            self.assertEqual(rows[1][:3], ["'=HYPERLINK(\"x\",\"y\")", "'=HYPERLINK(\"x\",\"y\").ipynb", "failed"])
            self.assertEqual(rows[2][:5], ["hank", "", "failed", "0", "6"])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--make"]:
        where = pathlib.Path(sys.argv[2]).resolve()
        make_class(where / "class", release(where))
        print(f"wrote {where / 'class'} (30 submissions); reference {where / 'tiny' / 'assignment.ipynb'}")
    else:
        unittest.main()
