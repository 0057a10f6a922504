"""Result checks for notebooks/chapter_03_linear_networks (see test_notebooks.py)."""
from ._util import close  # noqa: F401

# notebook path (relative to notebooks/) -> (description, predicate on the RESULT dict)
CHECKS = {
    "chapter_03_linear_networks/01_linear_regression_scratch.ipynb": ("w and b recovered within 0.05", lambda r: r["wError"] < 0.05 and r["bError"] < 0.05),
    "chapter_03_linear_networks/02_linear_regression_concise.ipynb": ("w and b recovered within 0.05", lambda r: r["wError"] < 0.05 and r["bError"] < 0.05),
    "chapter_03_linear_networks/03_image_classification_dataset.ipynb": ("batches of 28x28 images and int labels", lambda r: r["xShape"][1:] == [28, 28, 1] and r["yDtype"] == "int32"),
    "chapter_03_linear_networks/04_softmax_regression_scratch.ipynb": ("test accuracy >= 0.70 in quick mode", lambda r: r["testAcc"] >= 0.70),
    "chapter_03_linear_networks/05_softmax_regression_concise.ipynb": ("test accuracy >= 0.70 in quick mode", lambda r: r["testAcc"] >= 0.70),
}

# Notebooks whose outputs must include at least one plot (vega-lite + PNG for export).
PLOTS = {
    "chapter_03_linear_networks/04_softmax_regression_scratch.ipynb",
    "chapter_03_linear_networks/05_softmax_regression_concise.ipynb",
}
