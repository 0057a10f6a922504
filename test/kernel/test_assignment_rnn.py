"""assignments/ch9-rnn-classification through `d2l-ts grade` and the real
kernel, in quick mode on wasm (as test_grade.py grades ch3-softmax): the
reference solution earns full marks; the unfilled student copy earns
nothing; and a submission whose GRU reads the padding (no mask) still
trains to a good accuracy, which is why the assignment checks variable
length apart: it loses exactly the variable-length points.

Threads: unless the environment says otherwise these runs use one wasm
thread. The GRU's training step is some 9,000 small kernels per batch,
which XNNPACK's threads do not speed up; measured here on a busy 2-core
machine, grading the reference took 199 s with two threads (the default:
the thread pool spin-waits) and 60 s with one."""
import json
import os
import pathlib
import subprocess
import tempfile
import time
import unittest

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ["node", str(ROOT / "bin" / "d2l-ts.js")]
CH9 = ROOT / "assignments" / "ch9-rnn-classification"
REFERENCE = CH9 / "assignment.ipynb"
ART = ROOT / "test-artifacts" / "grade"

ENV = dict(os.environ)
ENV["D2L_QUICK"] = "1"
ENV.setdefault("D2L_DATA_DIR", str(ROOT.parent / "shared" / "data"))
ENV.setdefault("D2L_CACHE_DIR", str(ROOT / "test-artifacts" / "cache"))
ENV.setdefault("D2L_BACKEND", "wasm")
ENV.setdefault("D2L_WASM_THREADS", "1")

ALL_CHECKS = ["check-validlen", "check-net", "check-varlen", "check-accuracy", "check-history", "check-curves"]


def grade(submission, name, cell_timeout=300, bound=900):
    """Run d2l-ts grade against the instructor's notebook; return (report, seconds, executed notebook)."""
    ART.mkdir(parents=True, exist_ok=True)
    out_json, out_nb = ART / f"{name}.grade.json", ART / f"{name}.graded.ipynb"
    started = time.time()
    p = subprocess.run([*CLI, "grade", str(submission), "--reference", str(REFERENCE), "--timeout", str(cell_timeout),
                        "--json", str(out_json), "--out", str(out_nb), "--quiet"],
                       capture_output=True, text=True, env=ENV, timeout=bound)
    seconds = time.time() - started
    if p.returncode != 0:
        raise AssertionError(f"d2l-ts grade failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    report = json.loads(out_json.read_text())
    print(f"\n    {name}: score {report['score']}/{report['maxScore']} in {seconds:.1f} s", flush=True)
    return report, seconds, nbformat.read(out_nb, as_version=4)


def scores(report):
    return {c["id"]: c["points"] for c in report["checks"]}


def cell(nb, cell_id):
    return next(c for c in nb.cells if c.metadata.get("d2l", {}).get("id") == cell_id)


def replace_in(nb, cell_id, old, new):
    c = cell(nb, cell_id)
    if old not in c.source:
        raise AssertionError(f"cell {cell_id} no longer contains {old!r}; update this test")
    c.source = c.source.replace(old, new)


class RnnAssignmentTests(unittest.TestCase):
    def test_reference_solution_gets_full_marks(self):
        report, seconds, nb = grade(CH9 / "solution.ipynb", "ch9-rnn-solution")
        self.assertEqual((report["score"], report["maxScore"]), (10, 10), json.dumps(report, indent=1))
        self.assertEqual(scores(report), {"check-validlen": 1, "check-net": 2, "check-varlen": 2,
                                          "check-accuracy": 3, "check-history": 1, "check-curves": 1})
        self.assertTrue(all(c["status"] == "passed" for c in report["checks"]))
        self.assertEqual((report["errors"], report["restarts"], report["warnings"]), ([], [], []))
        self.assertEqual(report["assignment"], "ch9-rnn-classification")
        # every hidden check ran: the instructor's cells, not the released copies
        names = [r["name"] for c in report["checks"] for r in c["results"]]
        for hidden in ("<unk> counts as a word", "net's scores depend on every weight in rnnWeights",
                       "each e-mail alone, without padding, gets the score it gets in a padded batch"):
            self.assertIn(hidden, names)
        train = cell(nb, "train")
        plots = [o for o in train.outputs if "application/vnd.vegalite.v5+json" in o.get("data", {})]
        self.assertEqual(len(plots), 1)
        self.assertIn("image/png", plots[0].data, "the Animator's final state, PNG included, was kept")
        # the training printed the book's summary; its test accuracy is well above the 0.80 asked for
        text = "".join(o.get("text", "") for o in train.outputs if o.output_type == "stream")
        acc = float(text.split("test acc ")[1].split()[0])
        self.assertGreater(acc, 0.9, text)

    def test_unfilled_student_copy_gets_nothing(self):
        report, seconds, _ = grade(CH9 / "student.ipynb", "ch9-rnn-student", cell_timeout=120)
        self.assertEqual(report["score"], 0, json.dumps(report, indent=1))
        self.assertEqual(sorted(scores(report)), sorted(ALL_CHECKS))
        self.assertTrue(all(c["status"] == "failed" for c in report["checks"]))
        self.assertIn("not implemented yet", json.dumps(report["checks"]))
        student = nbformat.read(CH9 / "student.ipynb", as_version=4)
        code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
        self.assertNotIn("BEGIN HIDDEN", code)
        self.assertNotIn("tf.where(alive[t]", code, "the reference answer is not in the student's copy")

    def test_a_gru_that_reads_the_padding_loses_the_variable_length_points(self):
        nb = nbformat.read(CH9 / "solution.ipynb", as_version=4)
        # the recurrence runs over every column of the batch, padding included
        replace_in(nb, "model", "H = tf.where(alive[t], next, H);", "H = next;")
        replace_in(nb, "train", "numEpochs, callbacks: [curves]", "numEpochs: 2, callbacks: [curves]")
        with tempfile.TemporaryDirectory() as tmp:
            sub = pathlib.Path(tmp) / "no-mask.ipynb"
            nbformat.write(nb, sub)
            report, seconds, _ = grade(sub, "ch9-rnn-no-mask")
        got = scores(report)
        self.assertEqual(got["check-varlen"], 0, json.dumps(report, indent=1))
        varlen = next(c for c in report["checks"] if c["id"] == "check-varlen")
        self.assertEqual([r["passed"] for r in varlen["results"]], [False, False])
        self.assertIn("the recurrence reads the padding", varlen["results"][0]["message"])
        # everything else still works: the accuracy alone would not have shown the bug
        self.assertEqual({k: v for k, v in got.items() if k != "check-varlen"},
                         {"check-validlen": 1, "check-net": 2, "check-accuracy": 3, "check-history": 1, "check-curves": 1})
        self.assertEqual(report["score"], 8)


if __name__ == "__main__":
    unittest.main(verbosity=2)
