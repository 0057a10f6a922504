"""Result checks for notebooks/chapter_02_preliminaries (see test_notebooks.py)."""
from ._util import close  # noqa: F401

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
}

# Notebooks whose outputs must include at least one plot (vega-lite + PNG for export).
PLOTS = {
    "chapter_02_preliminaries/04_calculus.ipynb",
    "chapter_02_preliminaries/06_probability.ipynb",
}
