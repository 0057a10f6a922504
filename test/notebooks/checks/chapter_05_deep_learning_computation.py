"""Result checks for notebooks/chapter_05_deep_learning_computation (see test_notebooks.py)."""
from ._util import close  # noqa: F401

MLP_PARAMS = 20 * 256 + 256 + 256 * 10 + 10  # 7946: the book's MLP, 20 -> 256 -> 10
FIXED_PARAMS = 20 * 20 + 20  # FixedHiddenMLP: one dense layer (used twice); randWeight is no parameter
NEST_PARAMS = 20 * 64 + 64 + 64 * 32 + 32 + 32 * 16 + 16

# notebook path (relative to notebooks/) -> (description, predicate on the RESULT dict)
CHECKS = {
    "chapter_05_deep_learning_computation/01_model_construction.ipynb": (
        "the MLPs give [2,10] with 7946 parameters and the custom one trains; FixedHiddenMLP and the chimera give a scalar of norm <= 1",
        lambda r: r["sequentialShape"] == [2, 10] and r["mlpShape"] == [2, 10] and r["mySequentialShape"] == [2, 10]
        and r["mlpParams"] == MLP_PARAMS and r["mySequentialParams"] == MLP_PARAMS and r["modelParams"] == MLP_PARAMS
        and r["fixedRank"] == 0 and r["fixedAbs"] <= 1 and r["fixedParams"] == FIXED_PARAMS
        and r["chimeraRank"] == 0 and r["chimeraParams"] == NEST_PARAMS + 16 * 20 + 20 + FIXED_PARAMS
        # five SGD steps on the custom MLP inside a model lower the loss: its sublayers' weights are trained
        and r["lossLast"] < 0.9 * r["lossFirst"]),
    # net: 4 -> 8 -> 1 (49 parameters); rgnet: four blocks of 4*8+8+8*4+4 = 76, then 4 -> 1.
    # The tied model has 121 parameters: the shared 8x8 layer counts once though it is used twice.
    # Its kernel's gradient must equal the sum of the two untied copies' gradients (float32 sums: 1e-5 relative).
    "chapter_05_deep_learning_computation/02_parameters.ipynb": (
        "parameter counts and names; initializers applied; tied parameters share one variable whose gradient is the sum over both uses",
        lambda r: r["numParams"] == 49 and r["weightNames"] == 4 and r["rgnetParams"] == 4 * 76 + 5
        and r["nestedBiasShape"] == [8] and 0.004 < r["gaussianStd"] < 0.02 and r["entry00"] == 42
        and r["tiedParams"] == 121 and r["sharedWeightCount"] == 2 and r["sharedValue"] == 100
        and r["outputDiff"] <= 1e-5 and r["gradNorm"] > 0 and r["gradDiff"] <= 1e-5 * max(1, r["gradNorm"])),
    # CenteredLayer centers [1..5] exactly; a 128-wide output's mean is 0 up to float32 rounding (1e-6).
    # MyLinear builds a [5,3] weight on its first call (deferred initialization); ReLU makes outputs >= 0.
    # A model with custom layers, saved through d2l.fileIO and loaded back, computes the same (max abs diff 0).
    "chapter_05_deep_learning_computation/04_custom_layer.ipynb": (
        "custom layers compute, build their parameters, save and load (diff 0); an unregistered class fails clearly",
        lambda r: r["centered"] == [-2, -1, 0, 1, 2] and abs(r["centeredMean"]) < 1e-6
        and r["myLinearWeightShape"] == [5, 3] and r["myLinearOutShape"] == [2, 3] and r["myLinearMin"] >= 0
        and r["netOutShape"] == [2, 1] and r["savedClassNames"] == ["MyLinear", "CenteredLayer", "MyLinear"]
        and r["reloadDiff"] == 0 and r["unregisteredError"] is True),
    # What is saved comes back bit for bit: tensors, lists, dictionaries, parameters and whole models (max abs diff 0).
    "chapter_05_deep_learning_computation/05_read_write.ipynb": (
        "tensors, parameters and models saved and loaded are equal (max abs diff 0); missing and damaged files fail clearly",
        lambda r: r["tensorDiff"] == 0 and r["listDiff"] == 0 and r["dictKeys"] == ["x", "y"] and r["dictDiff"] == 0
        and r["paramsDiff"] == 0 and r["files"] == ["model.json", "weights.bin"] and r["modelDiff"] == 0
        and r["outputShape"] == [2, 10] and r["missingError"] is True and r["corruptError"] is True),
    # The device helpers agree with each other (CI has no GPU: "cpu"); a tensor made on the starting backend
    # is usable on cpu after switching (moved lazily: [1,2,3] + 1), and the notebook ends on the backend it
    # started on. The speedup is reported, not asserted (it depends on the machine).
    "chapter_05_deep_learning_computation/06_use_gpu.ipynb": (
        "tryGpu/numGpus/tryAllGpus consistent; tensors follow a backend switch; the starting backend is restored",
        lambda r: r["tryGpu"] == ("gpu:0" if r["numGpus"] > 0 else "cpu")
        and r["tryGpu10"] == ("gpu:10" if r["numGpus"] > 10 else "cpu")
        and r["tryAllGpus"] == ([f"gpu:{i}" for i in range(r["numGpus"])] or ["cpu"])
        and (r["device"] == "cpu") == (r["numGpus"] == 0)
        and r["movedValues"] == [2, 3, 4] and r["backendAfter"] == r["backend"] and r["netOutShape"] == [2, 1]),
}

# Notebooks whose outputs must include at least one plot (vega-lite + PNG for export).
PLOTS = set()
