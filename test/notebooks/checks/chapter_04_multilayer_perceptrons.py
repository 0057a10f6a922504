"""Result checks for notebooks/chapter_04_multilayer_perceptrons (see test_notebooks.py).

Floors are set from quick-mode runs on the wasm backend (D2L_QUICK=1: 15,000 Fashion-MNIST training
images, 2,000 test images; the shuffles and dropout masks are not seeded, so results vary a little
from run to run)."""
from ._util import close  # noqa: F401

CH = "chapter_04_multilayer_perceptrons/"

# notebook path (relative to notebooks/) -> (description, predicate on the RESULT dict)
CHECKS = {
    # Autograd and the hand-written derivatives agree to float32 rounding (the largest values are ~1.76, so
    # 1e-5 is a few ulps; measured 3e-8); a wrong formula or a wrong alpha is off by 0.01 or more.
    CH + "01_mlp.ipynb": (
        "autograd derivatives of relu, sigmoid, tanh, leaky relu, elu, selu match the formulas; sigmoid'(0)=0.25, tanh'(0)=1",
        lambda r: r["maxGradError"] < 1e-5 and len(r["gradErrors"]) == 6
        and close(r["sigmoidGradAt0"], 0.25, 1e-6) and close(r["tanhGradAt0"], 1, 1e-6)),
    # Chance is 0.10. Two quick epochs from the book's small (std 0.01) initialization reached 0.63-0.70
    # test accuracy in our runs (the first epoch is spent leaving the plateau); 0.55 leaves room for
    # that spread and still fails a net that does not learn.
    CH + "02_mlp_scratch.ipynb": ("test accuracy >= 0.55 in quick mode", lambda r: r["testAcc"] >= 0.55),
    CH + "03_mlp_concise.ipynb": (
        "test accuracy >= 0.55 in quick mode; the RESULT has the book's three numbers",
        lambda r: r["testAcc"] >= 0.55 and 0 < r["trainAcc"] <= 1 and 0 < r["trainLoss"] < 2.303),
}

# Notebooks whose outputs must include at least one plot (vega-lite + PNG for export).
PLOTS = {
    CH + "01_mlp.ipynb",
    CH + "02_mlp_scratch.ipynb",
    CH + "03_mlp_concise.ipynb",
}
