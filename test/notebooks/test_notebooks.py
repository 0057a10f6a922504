"""Run every notebook in notebooks/ through the d2l-ts kernel in quick mode
(D2L_QUICK=1, data from ../shared/data) and assert the result each one
reaches. A notebook reports its result as one stdout line
`RESULT {...json...}`; CHECKS below says what must hold for each notebook.
A notebook without an entry in CHECKS fails: every notebook CI runs must
reach a result that is asserted."""
import json
import os
import pathlib
import time
import unittest

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"


def close(a, b, tol):
    return abs(a - b) <= tol


# notebook path (relative to notebooks/) -> (description, predicate on the RESULT dict)
CHECKS = {
    "chapter_02_preliminaries/01_ndarray.ipynb": (
        "sum 66 of a 3x4 arange, broadcasting to 3x2, no leaked tensors",
        lambda r: r["sumX"] == 66 and r["shapeX"] == [3, 4] and r["broadcastShape"] == [3, 2] and r["leaked"] == 0),
    "chapter_02_preliminaries/02_pandas.ipynb": (
        "house_tiny imputed (NumRooms mean 3) and one-hot encoded into a 4x3 tensor",
        lambda r: r["shape"] == [4, 3] and r["numRoomsFilled"] == 3 and r["nanCount"] == 0 and r["targetSum"] == 551600),
    "chapter_02_preliminaries/03_linear_algebra.ipynb": (
        "norms, matrix-vector and matrix products as defined",
        lambda r: r["normError"] < 1e-5 and r["matVec"] == [5, 14] and r["matMulShape"] == [2, 4] and r["sumAxis0"] == [3, 5, 7]),
    "chapter_02_preliminaries/04_calculus.ipynb": (
        "derivative of 3x^2-4x at 1 is 2, numerically and by autograd",
        lambda r: close(r["tangentSlope"], 2, 1e-3) and close(r["autogradSlope"], 2, 1e-5) and r["quadGradError"] < 1e-4),
    "chapter_02_preliminaries/05_autograd.ipynb": (
        "gradient of 2x'x is 4x; detach, control flow and variable gradients right",
        lambda r: r["gradError"] < 1e-5 and r["detachError"] < 1e-5 and r["controlFlowRelError"] < 1e-5 and r["linearGradError"] < 1e-4),
    "chapter_02_preliminaries/06_probability.ipynb": (
        "die frequencies within 0.02 of 1/6 after 10000 draws; mean, variance, Bayes",
        lambda r: r["maxDeviation"] < 0.02 and r["draws"] == 10000 and close(r["meanRoll"], 3.5, 0.1)
        and close(r["varRoll"], 35 / 12, 0.2) and close(r["pDefectGivenFlag"], 0.39256, 1e-4)),
    "chapter_03_linear_networks/01_linear_regression_scratch.ipynb": ("w and b recovered within 0.05", lambda r: r["wError"] < 0.05 and r["bError"] < 0.05),
    "chapter_03_linear_networks/02_linear_regression_concise.ipynb": ("w and b recovered within 0.05", lambda r: r["wError"] < 0.05 and r["bError"] < 0.05),
    "chapter_03_linear_networks/03_image_classification_dataset.ipynb": ("batches of 28x28 images and int labels", lambda r: r["xShape"][1:] == [28, 28, 1] and r["yDtype"] == "int32"),
    "chapter_03_linear_networks/04_softmax_regression_scratch.ipynb": ("test accuracy >= 0.70 in quick mode", lambda r: r["testAcc"] >= 0.70),
    "chapter_03_linear_networks/05_softmax_regression_concise.ipynb": ("test accuracy >= 0.70 in quick mode", lambda r: r["testAcc"] >= 0.70),
}


# Notebooks whose outputs must include at least one plot (vega-lite + PNG for export).
PLOTS = {
    "chapter_02_preliminaries/04_calculus.ipynb",
    "chapter_02_preliminaries/06_probability.ipynb",
    "chapter_03_linear_networks/04_softmax_regression_scratch.ipynb",
    "chapter_03_linear_networks/05_softmax_regression_concise.ipynb",
}
VEGA = "application/vnd.vegalite.v5+json"


def plots_of(nb):
    """Rich outputs that carry a vega-lite plot (the final state of live ones)."""
    return [out["data"] for cell in nb.cells for out in cell.get("outputs", [])
            if out.get("output_type") in ("display_data", "execute_result") and VEGA in out.get("data", {})]


def results_of(nb):
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                for line in out.get("text", "").splitlines():
                    if line.startswith("RESULT "):
                        found.append(json.loads(line[len("RESULT "):]))
    return found


def run_notebook(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="d2l-ts", timeout=600, resources={"metadata": {"path": str(path.parent)}})
    started = time.time()
    try:
        client.execute()
    finally:
        out = ARTIFACTS / path.relative_to(NOTEBOOKS)
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    return nb, time.time() - started


class NotebookTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ["D2L_QUICK"] = "1"
        os.environ.setdefault("D2L_DATA_DIR", str(ROOT.parent / "shared" / "data"))
        os.environ.setdefault("D2L_CACHE_DIR", str(ROOT / "test-artifacts" / "cache"))
        os.environ.setdefault("D2L_BACKEND", "wasm")

    def test_every_notebook_has_a_check(self):
        present = sorted(str(p.relative_to(NOTEBOOKS)) for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        self.assertTrue(present, "no notebooks found")
        self.assertEqual([p for p in present if p not in CHECKS], [], "notebooks without a result check")
        self.assertEqual([p for p in CHECKS if p not in present], [], "checks for notebooks that do not exist")


def make_test(rel, what, predicate):
    def test(self):
        path = NOTEBOOKS / rel
        try:
            nb, seconds = run_notebook(path)
        except CellExecutionError as e:
            self.fail(f"{rel}: a cell failed:\n{str(e)[:3000]}")
        results = results_of(nb)
        self.assertEqual(len(results), 1, f"{rel}: expected exactly one RESULT line, got {results}")
        result = results[0]
        print(f"\n    {rel}: {json.dumps(result)} in {seconds:.1f} s", flush=True)
        self.assertTrue(predicate(result), f"{rel}: {what} does not hold for {result}")
        plots = plots_of(nb)
        for data in plots:
            # export needs the PNG; JupyterLab would prefer text/html over the vega-lite renderer
            self.assertIn("image/png", data, f"{rel}: a plot without image/png (it would vanish on export)")
            self.assertNotIn("text/html", data, f"{rel}: a plot with text/html")
            self.assertIsInstance(data[VEGA], dict)
        if rel in PLOTS:
            self.assertTrue(plots, f"{rel}: expected a plot in the outputs")
    return test


for _rel, (_what, _pred) in CHECKS.items():
    _name = "test_" + _rel.replace("/", "__").replace(".ipynb", "")
    setattr(NotebookTests, _name, make_test(_rel, _what, _pred))


if __name__ == "__main__":
    unittest.main(verbosity=2)
