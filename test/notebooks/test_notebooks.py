"""Run every notebook in notebooks/ through the d2l-ts kernel in quick mode
(D2L_QUICK=1, data from ../shared/data) and assert the result each one
reaches. The notebooks print nothing for the tests: harness.py puts the quick
values of a `parameters` cell after it and appends a probe cell that returns,
from the kernel, what the notebook's check asserts (checks/, one module per
chapter). Run one chapter with `-k chapter_06`.
A notebook without an entry in CHECKS fails: every notebook CI runs must
reach a result that is asserted."""
import json
import math
import os
import pathlib
import time
import unittest

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from checks import CHECKS
from harness import VEGA, append_probe, inject_quick_parameters, plots_of, probe_result, series_of

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"


# Every notebook runs on the native backend, the one a user gets by default (tfjs' recurrent layers and
# d2l's FusedGRU are whole-sequence oneDNN kernels there, lib/native/rnnLayers.ts). It runs the suite about
# 3x faster than wasm (measured: 11.11 in 82 s against 261 s, 13.1 in 47 s against 118 s), which keeps CI
# under its time limit; CI also runs chapter 3 on wasm and on webgpu (test/run-all.sh). D2L_BACKEND, when
# set, picks the backend of every notebook.
USER_BACKEND = os.environ.get("D2L_BACKEND")


def backend_for(rel):
    """The backend a notebook runs on in this suite."""
    return USER_BACKEND or "native"


# Seconds a cell may run. webgpu in CI is Mesa's lavapipe, a CPU Vulkan driver: LeNet's first quick epoch
# there took over 600 s on a loaded 2-core machine (the whole notebook 343 s on a quieter one), for anyone
# who runs it there with D2L_BACKEND=webgpu (CI's webgpu step leaves 6.6 out).
CELL_TIMEOUT = {"webgpu": 1800}


def run_notebook(path, probe, backend):
    """Run a notebook in quick mode with its probe appended; the executed copy goes to test-artifacts/.
    The probe's object also reports the backend the kernel ran on, as `_backend`."""
    nb = nbformat.read(path, as_version=4)
    inject_quick_parameters(nb)
    append_probe(nb, "const probed__ = await (async () => {\n" + probe.strip("\n") + "\n})();\nreturn { ...probed__, _backend: tf.getBackend() };")
    client = NotebookClient(nb, kernel_name="d2l-ts", timeout=CELL_TIMEOUT.get(backend, 600), resources={"metadata": {"path": str(path.parent)}})
    started = time.time()
    try:
        client.execute()
    finally:
        out = ARTIFACTS / path.relative_to(NOTEBOOKS)
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    return nb, time.time() - started


def rounded(v):
    """For the log line: floats to 4 significant digits, long lists cut."""
    if isinstance(v, float):
        return float(f"{v:.4g}") if math.isfinite(v) else v
    if isinstance(v, list):
        return [rounded(x) for x in v[:8]] + (["..."] if len(v) > 8 else [])
    if isinstance(v, dict):
        return {k: rounded(x) for k, x in v.items()}
    return v


class NotebookTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ["D2L_QUICK"] = "1"
        # every kernel starts as if its first cell were d2l.seed(0): a notebook's asserted result is
        # the same on every run, instead of failing on the unlucky draw of an unseeded one
        os.environ.setdefault("D2L_SEED", "0")
        os.environ.setdefault("D2L_DATA_DIR", str(ROOT.parent / "shared" / "data"))
        os.environ.setdefault("D2L_CACHE_DIR", str(ROOT / "test-artifacts" / "cache"))

    def test_every_notebook_has_a_check(self):
        present = sorted(str(p.relative_to(NOTEBOOKS)) for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        self.assertTrue(present, "no notebooks found")
        self.assertEqual([p for p in present if p not in CHECKS], [], "notebooks without a result check")
        self.assertEqual([p for p in CHECKS if p not in present], [], "checks for notebooks that do not exist")


def make_test(rel, check):
    def test(self):
        path = NOTEBOOKS / rel
        backend = backend_for(rel)
        os.environ["D2L_BACKEND"] = backend
        try:
            nb, seconds = run_notebook(path, check.probe, backend)
        except CellExecutionError as e:
            self.fail(f"{rel}: a cell failed:\n{str(e)[:3000]}")
        result = probe_result(nb)
        self.assertIsInstance(result, dict, f"{rel}: the probe returned no object")
        self.assertEqual(result.pop("_backend", None), backend, f"{rel}: the kernel did not run on {backend}")
        self.assertNotIn("_plots", result)
        print(f"\n    {rel}: {json.dumps(rounded(result))} in {seconds:.1f} s", flush=True)
        plots = plots_of(nb)
        for data in plots:
            # export needs the PNG; JupyterLab would prefer text/html over the vega-lite renderer
            self.assertIn("image/png", data, f"{rel}: a plot without image/png (it would vanish on export)")
            self.assertNotIn("text/html", data, f"{rel}: a plot with text/html")
            self.assertIsInstance(data[VEGA], dict)
        if check.plot:
            self.assertTrue(plots, f"{rel}: expected a plot in the outputs")
        result["_plots"] = [series_of(p) for p in plots]
        self.assertTrue(check.ok(result), f"{rel}: {check.what} does not hold for {json.dumps(rounded({k: v for k, v in result.items() if k != '_plots'}))}")
    return test


for _rel, _check in CHECKS.items():
    _name = "test_" + _rel.replace("/", "__").replace(".ipynb", "")
    setattr(NotebookTests, _name, make_test(_rel, _check))


if __name__ == "__main__":
    unittest.main(verbosity=2)
