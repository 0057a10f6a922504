"""nbconvert --execute with the d2l-ts kernel: a runtime error in cell 2 is an
`error` output with --allow-errors (and cells 3.. still run); without it,
nbconvert fails and names the error. Also `d2l-ts run`."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import nbformat

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENV = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")


def notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "d2l-ts", "display_name": "TypeScript (d2l)", "language": "typescript"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)


CELLS = [
    "const a = tf.tensor([1, 2, 3]);\na.sum().dataSync()[0]",
    "const b: number[] = [];\nfunction boom(): never {\n  throw new RangeError('cell two fails here');\n}\nboom();",
    "const c = 40 + 2;\nc",
    "a.shape",
]


class NbconvertTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="d2l-ts-nb-")
        self.nb = os.path.join(self.dir, "errors.ipynb")
        notebook(self.nb, CELLS)

    def nbconvert(self, *extra):
        return subprocess.run(
            [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
             "--ExecutePreprocessor.timeout=120", "--output", "out.ipynb", *extra, self.nb],
            capture_output=True, text=True, env=ENV, cwd=self.dir,
        )

    def test_allow_errors_runs_later_cells(self):
        r = self.nbconvert("--allow-errors")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = nbformat.read(os.path.join(self.dir, "out.ipynb"), as_version=4)
        errors = [o for o in out.cells[1].outputs if o.output_type == "error"]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0].ename, "RangeError")
        self.assertEqual(errors[0].evalue, "cell two fails here")
        # The traceback points into the cell's own lines (line 3: the throw).
        self.assertTrue(any("<cell 2>:3:" in line for line in errors[0].traceback), errors[0].traceback)
        self.assertEqual(out.cells[0].outputs[0].data["text/plain"], "6")
        self.assertEqual(out.cells[2].outputs[0].data["text/plain"], "42")
        self.assertEqual(out.cells[3].outputs[0].data["text/plain"], "[ 3 ]")
        self.assertEqual([c.execution_count for c in out.cells], [1, 2, 3, 4])

    def test_without_allow_errors_fails_naming_the_error(self):
        r = self.nbconvert()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("RangeError", r.stderr)
        self.assertIn("cell two fails here", r.stderr)

    def test_d2l_ts_run(self):
        ok = os.path.join(self.dir, "ok.ipynb")
        notebook(ok, [CELLS[0], CELLS[2]])
        r = subprocess.run(["node", os.path.join(ROOT, "bin", "d2l-ts.js"), "run", ok, "--out", os.path.join(self.dir, "ran.ipynb")],
                           capture_output=True, text=True, env=ENV)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        ran = nbformat.read(os.path.join(self.dir, "ran.ipynb"), as_version=4)
        self.assertEqual(ran.cells[1].outputs[0].data["text/plain"], "42")
        r = subprocess.run(["node", os.path.join(ROOT, "bin", "d2l-ts.js"), "run", self.nb, "--out", os.path.join(self.dir, "bad.ipynb")],
                           capture_output=True, text=True, env=ENV)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("failed", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
