"""Run every notebook in notebooks/ through the d2l-ts kernel in quick mode
(D2L_QUICK=1, data from ../shared/data) and assert the result each one
reaches. A notebook reports its result as one stdout line
`RESULT {...json...}`; checks/ (one module per chapter) says what must hold
for each notebook. Run one chapter with `-k chapter_06`.
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

# notebook path (relative to notebooks/) -> (description, predicate on the RESULT dict), and the
# notebooks whose outputs must include a plot: one module per chapter in checks/.
from checks import CHECKS, PLOTS  # noqa: E402

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
