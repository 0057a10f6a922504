"""Result checks for notebooks/chapter_05_deep_learning_computation (see test_notebooks.py)."""
from ._util import close  # noqa: F401

MLP_PARAMS = 20 * 256 + 256 + 256 * 10 + 10  # 7946: the book's MLP, 20 -> 256 -> 10
FIXED_PARAMS = 20 * 20 + 20  # FixedHiddenMLP: one dense layer (used twice); randWeight is no parameter
NEST_PARAMS = 20 * 64 + 64 + 64 * 32 + 32 + 32 * 16 + 16

# notebook path (relative to notebooks/) -> (description, predicate on the RESULT dict)
CHECKS = {
    "chapter_05_deep_learning_computation/01_model_construction.ipynb": (
        "the MLPs give [2,10] with 7946 parameters; FixedHiddenMLP and the chimera give a scalar of norm <= 1",
        lambda r: r["sequentialShape"] == [2, 10] and r["mlpShape"] == [2, 10] and r["mySequentialShape"] == [2, 10]
        and r["mlpParams"] == MLP_PARAMS and r["mySequentialParams"] == MLP_PARAMS and r["modelParams"] == MLP_PARAMS
        and r["fixedRank"] == 0 and r["fixedAbs"] <= 1 and r["fixedParams"] == FIXED_PARAMS
        and r["chimeraRank"] == 0 and r["chimeraParams"] == NEST_PARAMS + 16 * 20 + 20 + FIXED_PARAMS),
}

# Notebooks whose outputs must include at least one plot (vega-lite + PNG for export).
PLOTS = set()
