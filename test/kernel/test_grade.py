"""Assignments and grading through the real kernel: `d2l-ts assignment new`
writes a valid notebook with tagged cells; `d2l-ts grade` gives the
reference solutions full marks, a broken ch3-softmax submission the expected
partial scores, and finishes within a bound when student cells loop forever,
block in native code, or kill the kernel. Grading needs no kernelspec: the
grader starts this checkout's kernel itself. Quick mode (D2L_QUICK=1) and
the data in ../shared/data, as the notebook tests."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import unittest

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ["node", str(ROOT / "bin" / "d2l-ts.js")]
CH3 = ROOT / "assignments" / "ch3-softmax"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
ART = ROOT / "test-artifacts" / "grade"

ENV = dict(os.environ)
ENV["D2L_QUICK"] = "1"
ENV.setdefault("D2L_DATA_DIR", str(ROOT.parent / "shared" / "data"))
ENV.setdefault("D2L_CACHE_DIR", str(ROOT / "test-artifacts" / "cache"))
ENV.setdefault("D2L_BACKEND", "wasm")


def cli(*args, timeout=120):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=ENV, timeout=timeout)


def grade(submission, reference, name, cell_timeout, bound):
    """Run d2l-ts grade; return (report, seconds). `bound` is the most the whole run may take."""
    ART.mkdir(parents=True, exist_ok=True)
    out_json, out_nb = ART / f"{name}.grade.json", ART / f"{name}.graded.ipynb"
    started = time.time()
    p = cli("grade", submission, "--reference", reference, "--timeout", cell_timeout,
            "--json", out_json, "--out", out_nb, "--quiet", timeout=bound)
    seconds = time.time() - started
    if p.returncode != 0:
        raise AssertionError(f"d2l-ts grade failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    report = json.loads(out_json.read_text())
    print(f"\n    {name}: score {report['score']}/{report['maxScore']} in {seconds:.1f} s", flush=True)
    return report, seconds, nbformat.read(out_nb, as_version=4), p.stdout


def scores(report):
    return {c["id"]: c["points"] for c in report["checks"]}


def edit(nb, cell_id, source):
    """The notebook with cell `cell_id`'s source replaced (so edits chain)."""
    for c in nb.cells:
        if c.metadata.get("d2l", {}).get("id") == cell_id:
            c.source = source
            return nb
    raise KeyError(cell_id)


def insert_after(nb, cell_id, source):
    """The notebook with a new code cell after cell `cell_id`."""
    i = next(k for k, c in enumerate(nb.cells) if c.metadata.get("d2l", {}).get("id") == cell_id)
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(source))
    return nb


class TemplateTests(unittest.TestCase):
    """The template of `assignment new`: fast (no training)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="d2l-grade-"))
        p = cli("assignment", "new", "demo", "--dir", cls.tmp)
        assert p.returncode == 0, p.stderr
        cls.source = cls.tmp / "demo" / "assignment.ipynb"
        for extra in ([], ["--solutions"]):
            p = cli("assignment", "release", cls.source, *extra)
            assert p.returncode == 0, p.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_new_writes_a_valid_notebook_with_tagged_cells(self):
        for name in ("assignment", "student", "solution"):
            nb = nbformat.read(self.tmp / "demo" / f"{name}.ipynb", as_version=4)
            nbformat.validate(nb)  # raises if not valid nbformat
            self.assertEqual(nb.metadata.kernelspec.name, "d2l-ts")
            tags = [c.metadata.get("d2l") for c in nb.cells]
            self.assertTrue(all(tags), f"{name}: every template cell is tagged")
            kinds = {k for t in tags for k in ("task", "solution", "grade") if t.get(k)}
            self.assertEqual(kinds, {"task", "solution", "grade"})
            self.assertEqual(sum(t.get("points", 0) for t in tags if t.get("grade")), 3)
            self.assertEqual(len({t["id"] for t in tags}), len(tags), "ids are unique")
            code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
            self.assertIn("d2l.checkClose(", code)
            if name == "assignment":
                self.assertIn("BEGIN HIDDEN", code)
                self.assertIn("BEGIN SOLUTION", code)
            else:
                self.assertNotIn("HIDDEN", code.replace("(hidden checks run here", ""))
                self.assertNotIn("BEGIN SOLUTION", code)
                self.assertEqual("YOUR CODE HERE" in code, name == "student")

    def test_solution_gets_full_marks_and_the_unfilled_copy_none(self):
        report, _, nb, stdout = grade(self.tmp / "demo" / "solution.ipynb", self.source, "demo-solution", 60, 180)
        self.assertEqual((report["score"], report["maxScore"]), (3, 3), json.dumps(report, indent=1))
        self.assertEqual(report["errors"], [])
        self.assertIn("score 3/3", stdout)
        # the hidden check ran: the reference's cell, not the student's copy
        self.assertIn("relu of a 3-d tensor keeps its shape", [r["name"] for c in report["checks"] for r in c["results"]])
        report, _, _, _ = grade(self.tmp / "demo" / "student.ipynb", self.source, "demo-student", 60, 180)
        self.assertEqual(report["score"], 0)
        self.assertTrue(all(c["status"] == "failed" for c in report["checks"]))
        self.assertIn("not implemented yet", json.dumps(report["checks"]))

    def test_any_file_name(self):
        """[ ] # ? spaces and non-ASCII letters in the folder and the file: the sandbox binds, reports and
        graded notebook all land beside the submission, and the options work written --opt=value."""
        odd = self.tmp / "class [a] #é"
        odd.mkdir()
        sub = odd / "wk[1] #?é ü.ipynb"
        shutil.copy(self.tmp / "demo" / "solution.ipynb", sub)
        p = cli("grade", sub, f"--reference={self.source}", "--timeout=60", "--quiet", timeout=180)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("score 3/3", p.stdout)
        report = json.loads((odd / "wk[1] #?é ü.grade.json").read_text())
        self.assertEqual(report["score"], 3)
        nb = nbformat.read(odd / "wk[1] #?é ü.graded.ipynb", as_version=4)
        self.assertTrue(any(c.get("outputs") for c in nb.cells))
        self.assertEqual(sorted(x.name for x in odd.iterdir()), ["wk[1] #?é ü.grade.json", "wk[1] #?é ü.graded.ipynb", "wk[1] #?é ü.ipynb"])

    def test_endless_loops_native_blocking_and_a_dying_kernel_cost_only_their_checks(self):
        nb = nbformat.read(self.tmp / "demo" / "solution.ipynb", as_version=4)
        insert_after(nb, "relu", "let spins = 0;\nwhile (true) { spins++; }")  # interruptible
        insert_after(nb, "given", 'import { execSync } from "child_process";\nexecSync("sleep 97.25");')  # not: the kernel is killed
        insert_after(nb, "check-relu", "process.exit(3);")  # the kernel dies
        sub = self.tmp / "demo" / "hostile.ipynb"
        nbformat.write(nb, sub)
        cell_timeout, grace = 4, 10
        report, seconds, executed, _ = grade(sub, self.source, "demo-hostile", cell_timeout, 240)
        self.assertEqual(scores(report), {"check-relu": 2, "check-plot": 1}, json.dumps(report, indent=1))
        errors = {(e["kind"], e["ename"]) for e in report["errors"]}
        self.assertEqual(errors, {("student", "Timeout"), ("student", "KernelDied")}, report["errors"])
        messages = " | ".join(e["evalue"] for e in report["errors"])
        self.assertIn("was interrupted", messages)
        self.assertIn("did not stop when interrupted; the kernel was killed", messages)
        # process.exit(3) ends the kernel with exit code 3, or with SIGABRT when zeromq's native part objects
        self.assertRegex(messages, r"the kernel died while running this cell \((exit code 3|killed by SIGABRT)\)")
        self.assertEqual(len(report["restarts"]), 2)
        self.assertTrue(all(r["replayed"] >= 1 for r in report["restarts"]), report["restarts"])
        # two time limits, one grace period, two fresh kernels: well under a minute and a half
        self.assertLess(seconds, 2 * cell_timeout + grace + 70)
        # the blocked child process went with the killed kernel
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        self.assertNotIn("sleep 97.25", ps)
        # the executed notebook says why each bad cell has no result
        errs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        self.assertGreaterEqual(len(errs), 3)

    def test_a_kernel_that_dies_again_when_cells_are_rerun_ends_grading(self):
        nb = nbformat.read(self.tmp / "demo" / "solution.ipynb", as_version=4)
        # fine the first time; kills the kernel when the fresh kernel runs it again (the marker is in the
        # kernel's scratch folder, the one place it may write, which a restarted kernel keeps)
        insert_after(nb, "given", 'import * as fs from "fs";\nif (fs.existsSync("ran-once")) process.exit(4);\nfs.writeFileSync("ran-once", "1");')
        insert_after(nb, "check-relu", "process.exit(3);")
        sub = self.tmp / "demo" / "dies-again.ipynb"
        nbformat.write(nb, sub)
        report, seconds, _, _ = grade(sub, self.source, "demo-dies-again", 20, 180)
        self.assertEqual(scores(report), {"check-relu": 2, "check-plot": 0}, json.dumps(report, indent=1))
        plot = next(c for c in report["checks"] if c["id"] == "check-plot")
        not_run = [e for e in report["errors"] if e["ename"] == "NotRun"]
        # the answer cell is not run; the check cell still runs in the check kernel, and finds no plot
        self.assertEqual([(e["id"], e["kind"]) for e in not_run], [("plot", "solution")])
        self.assertIn("shows no", json.dumps(plot["results"]))
        self.assertIn("the fresh kernel died too", not_run[0]["evalue"])
        self.assertTrue(any("were not run" in w for w in report["warnings"]), report["warnings"])
        self.assertEqual(len(report["restarts"]), 1)
        self.assertEqual(plot["points"], 0)


class SoftmaxAssignmentTests(unittest.TestCase):
    """assignments/ch3-softmax: the reference solution and a broken submission, in quick mode."""

    def test_reference_solution_gets_full_marks(self):
        report, seconds, nb, _ = grade(CH3 / "solution.ipynb", CH3 / "assignment.ipynb", "ch3-softmax-solution", 120, 400)
        self.assertEqual((report["score"], report["maxScore"]), (7, 7), json.dumps(report, indent=1))
        self.assertEqual(scores(report), {"check-softmax": 1, "check-net": 1, "check-loss": 1, "check-accuracy": 3, "check-curves": 1})
        self.assertTrue(all(c["status"] == "passed" for c in report["checks"]))
        self.assertEqual((report["errors"], report["restarts"], report["warnings"]), ([], [], []))
        self.assertEqual(report["assignment"], "ch3-softmax")
        train = next(c for c in nb.cells if c.metadata.get("d2l", {}).get("id") == "train")
        plots = [o for o in train.outputs if "application/vnd.vegalite.v5+json" in o.get("data", {})]
        self.assertEqual(len(plots), 1)
        self.assertIn("image/png", plots[0].data, "the Animator's final state, PNG included, was kept")

    def test_broken_submission_gets_partial_credit(self):
        # wrong softmax (rows sum to 1, values wrong), an endless loop before training,
        # and a check cell "fixed" to pass: the original check cell is what runs.
        cell_timeout = 30
        report, seconds, _, _ = grade(FIXTURES / "ch3_softmax_broken.ipynb", CH3 / "assignment.ipynb", "ch3-softmax-broken", cell_timeout, 400)
        self.assertEqual(scores(report), {"check-softmax": 0.5, "check-net": 1, "check-loss": 1, "check-accuracy": 0, "check-curves": 0},
                         json.dumps(report, indent=1))
        self.assertEqual((report["score"], report["maxScore"]), (2.5, 7))
        status = {c["id"]: c["status"] for c in report["checks"]}
        self.assertEqual(status["check-softmax"], "partial")
        softmax = next(c for c in report["checks"] if c["id"] == "check-softmax")
        self.assertEqual([r["passed"] for r in softmax["results"]], [True, False])
        self.assertIn("expected [0.15845", softmax["results"][1]["message"])
        self.assertEqual([(e["id"], e["ename"], e["timedOut"]) for e in report["errors"]], [("train", "Timeout", True)])
        accuracy = next(c for c in report["checks"] if c["id"] == "check-accuracy")
        self.assertRegex(accuracy["results"][0]["message"], r"^test accuracy is 0\.\d+$")
        self.assertTrue(any("check-accuracy" in w and "edited" in w for w in report["warnings"]), report["warnings"])
        self.assertLess(seconds, cell_timeout + 10 + 120)


class CommandLineTests(unittest.TestCase):
    def test_bad_input_gets_a_clear_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            junk = pathlib.Path(tmp) / "junk.ipynb"
            junk.write_text("{ not json")
            p = cli("grade", junk)
            self.assertEqual(p.returncode, 1)
            self.assertIn("junk.ipynb: not a notebook: not valid JSON", p.stderr)
            chapter = ROOT / "notebooks" / "chapter_02_preliminaries" / "01_ndarray.ipynb"
            p = cli("grade", chapter, "--json", pathlib.Path(tmp) / "x.json")
            self.assertEqual(p.returncode, 1)
            self.assertIn("has no graded cells", p.stderr)
            # mistakes on the command line: exit 2 with the usage, whichever way the option is written
            for way in (("--timeout", "soon"), ("--timeout=soon",)):
                p = cli("grade", CH3 / "solution.ipynb", *way)
                self.assertEqual(p.returncode, 2)
                self.assertIn("--timeout must be a number > 0 (seconds each cell may run)", p.stderr)
                self.assertIn("d2l-ts grade SUBMISSION.ipynb", p.stderr)
            p = cli("grade", CH3 / "solution.ipynb", "--frobnicate")
            self.assertEqual(p.returncode, 2)
            self.assertIn("unknown option --frobnicate", p.stderr)
            p = cli("assignment", "frobnicate")
            self.assertEqual(p.returncode, 2)
            self.assertIn('unknown assignment subcommand "frobnicate"', p.stderr)
            self.assertIn("d2l-ts assignment new NAME", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
