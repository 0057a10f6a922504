"""Result checks for notebooks/chapter_05_deep_learning_computation (see test_notebooks.py)."""
from ._util import Check, close  # noqa: F401

CH = "chapter_05_deep_learning_computation/"

MLP_PARAMS = 20 * 256 + 256 + 256 * 10 + 10  # 7946: the book's MLP, 20 -> 256 -> 10
FIXED_PARAMS = 20 * 20 + 20  # FixedHiddenMLP: one dense layer (used twice); randWeight is no parameter
NEST_PARAMS = 20 * 64 + 64 + 64 * 32 + 32 + 32 * 16 + 16

CHECKS = {
    CH + "01_model_construction.ipynb": Check(
        "the MLPs give [2,10] with 7946 parameters and the custom one trains; FixedHiddenMLP and the chimera give a scalar of norm <= 1",
        """
        const count = (ws: tf.LayerVariable[]) => ws.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
        return {
          sequentialShape: y0.shape,
          mlpShape: y1.shape,
          mlpParams: count(mlp.trainableWeights),
          mySequentialShape: y2.shape,
          mySequentialParams: count(mySeq.trainableWeights),
          fixedRank: y3.rank,
          fixedAbs: Math.abs((await y3.data())[0]),
          fixedParams: count(fixed.trainableWeights),
          chimeraRank: y4.rank,
          chimeraParams: chimera.countParams(),
          modelParams: model.countParams(),
          lossFirst: losses[0],
          lossLast: losses[losses.length - 1],
        };
        """,
        lambda r: r["sequentialShape"] == [2, 10] and r["mlpShape"] == [2, 10] and r["mySequentialShape"] == [2, 10]
        and r["mlpParams"] == MLP_PARAMS and r["mySequentialParams"] == MLP_PARAMS and r["modelParams"] == MLP_PARAMS
        and r["fixedRank"] == 0 and r["fixedAbs"] <= 1 and r["fixedParams"] == FIXED_PARAMS
        and r["chimeraRank"] == 0 and r["chimeraParams"] == NEST_PARAMS + 16 * 20 + 20 + FIXED_PARAMS
        # five SGD steps on the custom MLP inside a model lower the loss: its sublayers' weights are trained
        and r["lossLast"] < 0.9 * r["lossFirst"]),
    # net: 4 -> 8 -> 1 (49 parameters); rgnet: four blocks of 4*8+8+8*4+4 = 76, then 4 -> 1.
    # The tied model has 121 parameters: the shared 8x8 layer counts once though it is used twice.
    # Its kernel's gradient must equal the sum of the two untied copies' gradients (float32 sums: 1e-5 relative).
    # gaussianStd: the sample standard deviation of the 32 weights drawn with stddev 0.01.
    CH + "02_parameters.ipynb": Check(
        "parameter counts and names; initializers applied; tied parameters share one variable whose gradient is the sum over both uses",
        """
        return {
          numParams: net.countParams(),
          weightNames: net.weights.length,
          rgnetParams: rgnet.countParams(),
          nestedBiasShape: second.layers[0].getWeights()[1].shape,
          gaussianStd: (await tf.moments(gaussian.getWeights()[0]).variance.sqrt().data())[0],
          entry00: (await firstUnit.data())[0],
          tiedParams: tied.countParams(),
          sharedWeightCount: sharedWeights.length,
          sharedValue,
          outputDiff,
          gradDiff,
          gradNorm: (await gTied[kernelName(shared)].norm().data())[0],
        };
        """,
        lambda r: r["numParams"] == 49 and r["weightNames"] == 4 and r["rgnetParams"] == 4 * 76 + 5
        and r["nestedBiasShape"] == [8] and 0.004 < r["gaussianStd"] < 0.02 and r["entry00"] == 42
        and r["tiedParams"] == 121 and r["sharedWeightCount"] == 2 and r["sharedValue"] == 100
        and r["outputDiff"] <= 1e-5 and r["gradNorm"] > 0 and r["gradDiff"] <= 1e-5 * max(1, r["gradNorm"])),
    # A dense layer without an input size has no parameters (countParams throws) until its first apply on a
    # [2, 20] batch gives it a [20, 256] kernel and a [256] bias; then a [2, 30] batch is refused. The two-layer
    # function gets [[20,256],[256]] and [[256,10],[10]] on its first call; tf.sequential refuses a first layer
    # without inputShape, and with one, builds at once: the dense layer after conv(5x5, 6) on 28x28x1 and
    # flatten gets a [6*24*24, 10] = [3456, 10] kernel. The probe also reads the layers' state itself.
    CH + "03_deferred_init.ipynb": Check(
        "parameters appear at the first call with the right shapes, none before; sequential models infer later layers' sizes",
        """
        return {
          weightsBefore,
          countParamsError: countParamsError.includes("not built"),
          kernelShape: dense.weights[0].shape,
          biasShape: dense.weights[1].shape,
          built: dense.built,
          outShape: H.shape,
          tooWideError: tooWideError.includes("expected axis -1 of input shape to have value 20"),
          netShapesBefore,
          netShapesAfter,
          netOutShape: netOut.shape,
          netShapesNow: [hidden, output].map((l) => l.weights.map((w) => w.shape)),
          sequentialError: sequentialError.includes("inputShape"),
          seqShapes,
          cnnDenseKernel,
        };
        """,
        lambda r: r["weightsBefore"] == [] and r["countParamsError"] is True and r["built"] is True
        and r["kernelShape"] == [20, 256] and r["biasShape"] == [256] and r["outShape"] == [2, 256] and r["tooWideError"] is True
        and r["netShapesBefore"] == [[], []] and r["netShapesAfter"] == r["netShapesNow"] == [[[20, 256], [256]], [[256, 10], [10]]]
        and r["netOutShape"] == [2, 10] and r["sequentialError"] is True
        and r["seqShapes"] == [[[20, 256], [256]], [[256, 10], [10]]] and r["cnnDenseKernel"] == [6 * 24 * 24, 10]),
    # CenteredLayer centers [1..5] exactly; a 128-wide output's mean is 0 up to float32 rounding (1e-6).
    # MyLinear builds a [5,3] weight on its first call (deferred initialization); ReLU makes outputs >= 0.
    # A model with custom layers, saved through d2l.fileIO and loaded back, computes the same (max abs diff 0).
    # The notebook's last code cell removes its temporary folder; the probe sees that it is gone.
    CH + "04_custom_layer.ipynb": Check(
        "custom layers compute, build their parameters, save and load (diff 0); an unregistered class fails clearly; the temporary folder removed",
        """
        return {
          centered: Array.from(await centered.data()),
          centeredMean,
          myLinearWeightShape: linear.getWeights()[0].shape,
          myLinearOutShape: linearOut.shape,
          myLinearMin: (await linearOut.min().data())[0],
          netOutShape: Y2.shape,
          savedClassNames,
          reloadDiff,
          unregisteredError: unregisteredError.includes("Unknown layer: Doubling"),
          removed: !fs.existsSync(dir),
        };
        """,
        lambda r: r["centered"] == [-2, -1, 0, 1, 2] and abs(r["centeredMean"]) < 1e-6
        and r["myLinearWeightShape"] == [5, 3] and r["myLinearOutShape"] == [2, 3] and r["myLinearMin"] >= 0
        and r["netOutShape"] == [2, 1] and r["savedClassNames"] == ["MyLinear", "CenteredLayer", "MyLinear"]
        and r["reloadDiff"] == 0 and r["unregisteredError"] is True and r["removed"] is True),
    # What is saved comes back bit for bit: tensors, lists, dictionaries, parameters and whole models (max abs diff 0).
    # The notebook's last code cell removes its temporary folder; the probe sees that it is gone.
    CH + "05_read_write.ipynb": Check(
        "tensors, parameters and models saved and loaded are equal (max abs diff 0); missing and damaged files fail clearly; the temporary folder removed",
        """
        const maxDiff = async (a: tf.Tensor, b: tf.Tensor) => (await a.sub(b).abs().max().data())[0];
        return {
          tensorDiff: await maxDiff(x2, x),
          listDiff: Math.max(await maxDiff(x3, x), await maxDiff(y3, y)),
          dictKeys: Object.keys(mydict2),
          dictDiff: Math.max(await maxDiff(mydict2.x, x), await maxDiff(mydict2.y, y)),
          paramsDiff: await maxDiff(YClone, Y),
          files,
          modelDiff,
          outputShape: Y.shape,
          missingError: missingError.includes("no-such-file: no such file"),
          corruptError: /mlp\\.params: .*damaged/.test(corruptError),
          removed: !fs.existsSync(dir),
        };
        """,
        lambda r: r["tensorDiff"] == 0 and r["listDiff"] == 0 and r["dictKeys"] == ["x", "y"] and r["dictDiff"] == 0
        and r["paramsDiff"] == 0 and r["files"] == ["model.json", "weights.bin"] and r["modelDiff"] == 0
        and r["outputShape"] == [2, 10] and r["missingError"] is True and r["corruptError"] is True and r["removed"] is True),
    # The device helpers agree with each other (CI has no GPU: "cpu"); a tensor made on the starting backend
    # is usable on cpu after switching (moved lazily: [1,2,3] + 1), and the notebook ends on the backend it
    # started on. The speedup is reported, not asserted (it depends on the machine); the timing now runs
    # the book-ish 20 products per backend in CI too (it was 3 in quick mode).
    CH + "06_use_gpu.ipynb": Check(
        "tryGpu/numGpus/tryAllGpus consistent; tensors follow a backend switch; the starting backend is restored",
        """
        return {
          backend: info.name,
          device: info.device,
          numGpus,
          tryGpu: d2l.tryGpu(),
          tryGpu10: d2l.tryGpu(10),
          tryAllGpus: d2l.tryAllGpus(),
          movedValues: await yMoved.array(),
          backendAfter,
          backendNow: tf.getBackend(),
          netOutShape: out.shape,
          speedup: onCpu / here,
        };
        """,
        lambda r: r["tryGpu"] == ("gpu:0" if r["numGpus"] > 0 else "cpu")
        and r["tryGpu10"] == ("gpu:10" if r["numGpus"] > 10 else "cpu")
        and r["tryAllGpus"] == ([f"gpu:{i}" for i in range(r["numGpus"])] or ["cpu"])
        and (r["device"] == "cpu") == (r["numGpus"] == 0)
        and r["movedValues"] == [2, 3, 4] and r["backendAfter"] == r["backend"] and r["backendNow"] == r["backend"]
        and r["netOutShape"] == [2, 1]),
}
