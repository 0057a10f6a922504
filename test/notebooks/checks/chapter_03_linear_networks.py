"""Result checks for notebooks/chapter_03_linear_networks (see test_notebooks.py)."""
from ._util import Check, close  # noqa: F401

CH = "chapter_03_linear_networks/"

# The trainers' results, as the softmax notebooks keep them in `metrics`.
TRAINED = "return { testAcc: metrics.testAcc, trainAcc: metrics.trainAcc, trainLoss: metrics.trainLoss };"

CHECKS = {
    CH + "02_linear_regression_scratch.ipynb": Check(
        "w and b recovered within 0.05",
        """
        const wError = tf.tidy(() => trueW.sub(w.reshape(trueW.shape)).abs().max().dataSync()[0]);
        return { wError, bError: Math.abs(trueB - b.dataSync()[0]) };
        """,
        lambda r: r["wError"] < 0.05 and r["bError"] < 0.05),
    CH + "03_linear_regression_concise.ipynb": Check(
        "w and b recovered within 0.05",
        """
        const [kernel, bias] = net.layers[0].getWeights();
        const wError = tf.tidy(() => trueW.sub(kernel.reshape([2])).abs().max().dataSync()[0]);
        return { wError, bError: Math.abs(trueB - bias.dataSync()[0]) };
        """,
        lambda r: r["wError"] < 0.05 and r["bError"] < 0.05),
    # Quick mode: the loaders' first 15,000 training and 2,000 test images.
    CH + "05_image_classification_dataset.ipynb": Check(
        "batches of 28x28x1 float32 images and int32 labels; the quick subset",
        """
        for await (const [X, y] of trainIter) {
          const r = { xShape: X.shape, xDtype: X.dtype, yShape: y.shape, yDtype: y.dtype };
          tf.dispose([X, y]);
          return { ...r, trainExamples: trainIter.numExamples, testExamples: testIter.numExamples };
        }
        return {};
        """,
        lambda r: r["xShape"] == [256, 28, 28, 1] and r["xDtype"] == "float32" and r["yShape"] == [256] and r["yDtype"] == "int32"
        and r["trainExamples"] == 15000 and r["testExamples"] == 2000),
    # Two quick epochs (trainCh3's quick cap) on 15,000 images: test accuracy 0.75-0.79 measured.
    CH + "06_softmax_regression_scratch.ipynb": Check("test accuracy >= 0.70 in quick mode", TRAINED, lambda r: r["testAcc"] >= 0.70, plot=True),
    CH + "07_softmax_regression_concise.ipynb": Check("test accuracy >= 0.70 in quick mode", TRAINED, lambda r: r["testAcc"] >= 0.70, plot=True),
}
