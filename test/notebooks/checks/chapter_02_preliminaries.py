"""Result checks for notebooks/chapter_02_preliminaries (see test_notebooks.py)."""
from ._util import Check, close  # noqa: F401

CH = "chapter_02_preliminaries/"

CHECKS = {
    # leaked: the tensors a tidy block around the notebook's X + Y, * 2, sum leaves behind (must be 0).
    CH + "01_ndarray.ipynb": Check(
        "sum 66 of a 3x4 arange, broadcasting to 3x2, no leaked tensors",
        """
        const n = tf.memory().numTensors;
        tf.tidy(() => { X.add(Y).mul(2).sum(); });
        const leaked = tf.memory().numTensors - n;
        const broadcastShape = tf.tidy(() => col.add(row).shape);
        return { sumX: (await X.sum().data())[0], shapeX: X.shape, broadcastShape, leaked };
        """,
        lambda r: r["sumX"] == 66 and r["shapeX"] == [3, 4] and r["broadcastShape"] == [3, 2] and r["leaked"] == 0),
    # The notebook's last code cell removes its temporary folder; the probe sees that it is gone.
    CH + "02_pandas.ipynb": Check(
        "house_tiny imputed (NumRooms mean 3) and one-hot encoded into a 4x3 tensor; the temporary file removed",
        """
        return {
          shape: X.shape,
          columns: inputs.columns,
          numRoomsFilled: (await X.slice([0, 0], [1, 1]).data())[0],
          nanCount: (await tf.isNaN(X).sum().data())[0],
          targetSum: (await y.sum().data())[0],
          removed: !fs.existsSync(dataDir),
        };
        """,
        lambda r: r["shape"] == [4, 3] and r["numRoomsFilled"] == 3 and r["nanCount"] == 0 and r["targetSum"] == 551600
        and r["removed"] is True),
    # normError: the largest deviation of four norms and a dot product from their values by hand (float32: < 1e-5).
    CH + "03_linear_algebra.ipynb": Check(
        "norms, matrix-vector and matrix products as defined",
        """
        const checks: [number, number][] = [
          [(await tf.norm(u).data())[0], 5],                 // l2 of [3, -4]
          [(await tf.norm(u, 1).data())[0], 7],              // l1 of [3, -4]
          [(await tf.norm(tf.ones([4, 9])).data())[0], 6],   // Frobenius of ones(4, 9)
          [(await tf.dot(x, y).data())[0], 3],               // dot(x, ones)
        ];
        return {
          normError: Math.max(...checks.map(([got, want]) => Math.abs(got - want))),
          matVec: Array.from(await tf.dot(M, x).data()),
          matMulShape: tf.matMul(M, B).shape,
          sumAxis0: Array.from(await M.sum(0).data()),
        };
        """,
        lambda r: r["normError"] < 1e-5 and r["matVec"] == [5, 14] and r["matMulShape"] == [2, 4] and r["sumAxis0"] == [3, 5, 7]),
    # tangentSlope: the difference quotient of the notebook's f at 1 with h = 1e-5 (float64: 2 + 3e-5).
    CH + "04_calculus.ipynb": Check(
        "derivative of 3x^2-4x at 1 is 2, numerically and by autograd; the gradient of x'Ax is (A + A')x",
        """
        const h = 1e-5;
        return { tangentSlope: (f(1 + h) - f(1)) / h, autogradSlope: (await slope.data())[0], quadGradError };
        """,
        lambda r: close(r["tangentSlope"], 2, 1e-3) and close(r["autogradSlope"], 2, 1e-5) and r["quadGradError"] < 1e-4,
        plot=True),
    # Exact gradients in float32 on small integers: the errors are 0 or rounding (< 1e-5).
    CH + "05_autograd.ipynb": Check(
        "gradient of 2x'x is 4x; detach, control flow and variable gradients right",
        """
        const [ddaValue, slopeValue] = [(await dda.data())[0], (await d.div(a).data())[0]];
        return {
          gradError: (await g.sub(x.mul(4)).abs().max().data())[0],
          detachError: (await detachedGrad.sub(x.mul(x)).abs().max().data())[0],
          controlFlowRelError: Math.abs(ddaValue - slopeValue) / Math.abs(ddaValue),
          linearGradError: (await grads["w"].sub(x.mul(7)).abs().max().data())[0],
        };
        """,
        lambda r: r["gradError"] < 1e-5 and r["detachError"] < 1e-5 and r["controlFlowRelError"] < 1e-5 and r["linearGradError"] < 1e-4),
    # 10,000 seeded rolls: each face's frequency is within 0.02 of 1/6 (its standard error is 0.0037).
    CH + "06_probability.ipynb": Check(
        "die frequencies within 0.02 of 1/6 after 10000 draws; mean, variance, Bayes",
        """
        return {
          maxDeviation: (await finalFreq.sub(1 / 6).abs().max().data())[0],
          draws: groups * perGroup,
          meanRoll: (await sampleMean.data())[0],
          varRoll: (await sampleVar.data())[0],
          pDefectGivenFlag,
        };
        """,
        lambda r: r["maxDeviation"] < 0.02 and r["draws"] == 10000 and close(r["meanRoll"], 3.5, 0.1)
        and close(r["varRoll"], 35 / 12, 0.2) and close(r["pDefectGivenFlag"], 0.39256, 1e-4),
        plot=True),
    # Measured (tfjs 4.22): tf has 514 names in the kernel, 5 starting with "random" (randomGamma, randomNormal,
    # randomStandardNormal, randomUniform, randomUniformInt); tf.losses 9; d2l 169, three ending in Ch3.
    # The probe checks the page's lists against what it reads itself, and the book's chapter-3 helpers by their
    # d2l-ts names (a name dropped from d2l, or a page list built wrong, fails it).
    CH + "07_lookup_api.ipynb": Check(
        "the page lists tf's random* functions, tf.losses and d2l's names; every chapter-3 helper is in d2l",
        """
        const book3 = ["Timer", "syntheticData", "linreg", "squaredLoss", "sgd", "loadArray", "getFashionMnistLabels",
          "showImages", "loadDataFashionMnist", "softmax", "crossEntropy", "accuracy", "evaluateAccuracy",
          "Accumulator", "Animator", "trainEpochCh3", "trainCh3", "predictCh3"];
        return {
          randomNames,
          randomNamesRead: Object.keys(tf).filter((n) => n.startsWith("random")).sort(),
          lossNames,
          d2lNames: d2lNames.length,
          d2lNamesRead: Object.keys(d2l).length,
          pageChapter3: chapter3,
          pageMissing: chapter3.filter((n) => !d2lNames.includes(n)),
          missing: book3.filter((n) => typeof (d2l as unknown as Record<string, unknown>)[n] !== "function"),
          onesLength: tf.ones.length,
        };
        """,
        lambda r: {"randomNormal", "randomUniform", "randomGamma"} <= set(r["randomNames"])
        and r["randomNames"] == r["randomNamesRead"] and all(n.startswith("random") for n in r["randomNames"])
        and {"meanSquaredError", "softmaxCrossEntropy", "absoluteDifference"} <= set(r["lossNames"])
        and r["d2lNames"] == r["d2lNamesRead"] >= 100
        and len(r["pageChapter3"]) >= 18 and r["pageMissing"] == [] and r["missing"] == [] and r["onesLength"] == 2),
}
