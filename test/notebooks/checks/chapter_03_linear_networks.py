"""Result checks for notebooks/chapter_03_linear_networks (see test_notebooks.py)."""
from ._util import Check, close  # noqa: F401

CH = "chapter_03_linear_networks/"

# The trainers' results, as the softmax notebooks keep them in `metrics`.
TRAINED = "return { testAcc: metrics.testAcc, trainAcc: metrics.trainAcc, trainLoss: metrics.trainLoss };"

CHECKS = {
    # 1,000 examples with noise 0.01: the closed form is off the truth by about 3e-4 (measured: 3.7e-4).
    # The densities: area on the grid [-7, 7) (step 0.01) within 1e-3 of 1 (measured 0.99953 for sigma 2,
    # whose tails the grid cuts at 3.5 sigma), peak and value one sigma out within 1e-5 of the formula.
    # NLL - L/sigma^2 = (1/2) log(2 pi sigma^2) = 0.22579 for six random (w, b), to float32 precision
    # (measured: within 8e-5 where the NLL is up to ~100; tolerance 1e-3). Gradient descent on the NLL
    # lands on the closed form (measured: 1.7e-6 apart). A missing 1/2, sigma for sigma^2 or a transposed
    # product fails these by far more.
    CH + "01_linear_regression.ipynb": Check(
        "closed form within 0.005 of the truth; normal densities integrate to 1 and peak at 1/sqrt(2 pi sigma^2); "
        "NLL - L/sigma^2 constant; maximum likelihood = least squares",
        """
        const s = Array.from(wStar.dataSync());
        const closedFormError = Math.max(Math.abs(s[0] - 2), Math.abs(s[1] + 3.4), Math.abs(s[2] - trueB));
        const densities = normalParams.map(([mu, sigma]) => tf.tidy(() => ({
          area: normal(x, mu, sigma).sum().dataSync()[0] * 0.01,
          peak: normal(tf.scalar(mu), mu, sigma).dataSync()[0],
          expectedPeak: 1 / Math.sqrt(2 * Math.PI * sigma ** 2),
          // the density against a value computed here, one sigma from the mean
          atOneSigma: normal(tf.scalar(mu + sigma), mu, sigma).dataSync()[0],
          expectedAtOneSigma: Math.exp(-0.5) / Math.sqrt(2 * Math.PI * sigma ** 2),
        })));
        const gaps: number[] = [];
        for (let k = 0; k < 6; k++) {
          gaps.push(tf.tidy(() => {
            const w = tf.randomNormal([2, 1], 0, 2, "float32", 100 + k);
            const b = 4.2 + (k - 3) * 0.7;
            return nll(w, b).dataSync()[0] - squaredLoss(w, b).dataSync()[0] / sigma ** 2;
          }));
        }
        const lsw = Array.from(wNoisy.dataSync());
        const mleGap = Math.max(...mle.map((v, i) => Math.abs(v - lsw[i])));
        return { closedFormError, densities, gaps, constant: 0.5 * Math.log(2 * Math.PI * sigma ** 2), mleGap,
                 params: net.countParams(), netError: netOut.sub(byHand).abs().max().dataSync()[0] };
        """,
        lambda r: r["closedFormError"] < 0.005
        and all(close(d["area"], 1, 1e-3) and close(d["peak"], d["expectedPeak"], 1e-5) and close(d["atOneSigma"], d["expectedAtOneSigma"], 1e-5)
                for d in r["densities"])
        and all(close(g, r["constant"], 1e-3) for g in r["gaps"])
        and r["mleGap"] < 1e-4 and r["params"] == 3 and r["netError"] < 1e-4,
        plot=True),
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
    # Section 3.4's identities, computed with the notebook's own functions on inputs drawn here, all to
    # float32 precision: softmax rows sum to 1 (measured error 1.2e-7) and do not move when a row is shifted
    # (6e-8); the cross-entropy gradient equals softmax(o) - y for one-hot and soft labels against tf.grad
    # (6e-8, 9e-8); the fair die's entropy is log 6; H(P, Q) = H(P) + KL(P||Q), KL and H against float64
    # definitions (4.8e-7); KL > 0 for 1,020 random Q (smallest 0.020), 0 at Q = P; the soft-label curve's
    # minimum at q = 0.7 equals H(0.7, 0.3); the demo accuracy is 1/2; 4 inputs to 3 classes is 15 parameters.
    CH + "04_softmax_regression.ipynb": Check(
        "softmax rows sum to 1 and are shift invariant; gradient = softmax(o) - y within 1e-5 of tf.grad; "
        "H(fair die) = log 6; H(P, Q) = H(P) + KL(P||Q); KL >= 0, 0 at Q = P",
        """
        const err = (f: () => tf.Tensor): number => tf.tidy(() => f().abs().max().dataSync()[0]);
        const X = tf.randomNormal([8, 7], 0, 3, "float32", 21);
        const rowSumError = err(() => softmax(X).sum(1).sub(1));
        const shiftError = err(() => softmax(X.add(tf.randomNormal([8, 1], 0, 5, "float32", 22))).sub(softmax(X)));
        const vsTfSoftmax = err(() => softmax(X).sub(tf.softmax(X)));
        const gradErrors = [oneHotLabels, softLabels].map((Yl) => err(() => gradByAutodiff(Yl).sub(gradByHand(Yl))));
        // the gradient against one computed here from the formula, on other logits
        const O2 = tf.randomNormal([5, 4], 0, 2, "float32", 23);
        const Y2 = tf.oneHot(tf.tensor1d([3, 1, 0, 2, 1], "int32"), 4);
        const gradFormulaError = err(() => tf.grad((o: tf.Tensor) => crossEntropyLoss(softmax(o), Y2).sum())(O2).sub(tf.softmax(O2).sub(Y2)));
        const identityErrors: number[] = [];
        const randomKls: number[] = [];
        const selfKls: number[] = [];
        for (let k = 0; k < 20; k++) {
          const [P, Q] = tf.tidy(() => tf.unstack(tf.softmax(tf.randomNormal([2, 5], 0, 1.5, "float32", 30 + k))));
          identityErrors.push(Math.abs(crossEntropy(P, Q) - entropy(P) - klDivergence(P, Q)));
          // against the definition, in float64 here
          const p = Array.from(P.dataSync()), qq = Array.from(Q.dataSync());
          identityErrors.push(Math.abs(klDivergence(P, Q) - p.reduce((s, pj, j) => s + pj * Math.log(pj / qq[j]), 0)));
          identityErrors.push(Math.abs(entropy(P) + p.reduce((s, pj) => s + pj * Math.log(pj), 0)));
          randomKls.push(klDivergence(P, Q));
          selfKls.push(Math.abs(klDivergence(P, P)));
          tf.dispose([P, Q]);
        }
        return {
          rowSumError, shiftError, vsTfSoftmax, gradErrors, gradFormulaError,
          fairDieEntropy: entropy(fairDie), log6: Math.log(6),
          maxIdentityError: Math.max(...identityErrors), minKl: Math.min(...randomKls, ...kls), maxSelfKl: Math.max(...selfKls),
          qBest, softMin: Math.min(...softCurve), softEntropy: -0.7 * Math.log(0.7) - 0.3 * Math.log(0.3),
          accuracyDemo: accuracy(yHatDemo, yDemo), params: tinyNet.countParams(),
        };
        """,
        lambda r: r["rowSumError"] < 1e-5 and r["shiftError"] < 1e-5 and r["vsTfSoftmax"] < 1e-5
        and max(r["gradErrors"]) < 1e-5 and r["gradFormulaError"] < 1e-5
        and close(r["fairDieEntropy"], r["log6"], 1e-5)
        and r["maxIdentityError"] < 1e-5 and r["minKl"] > 0 and r["maxSelfKl"] < 1e-6
        and close(r["qBest"], 0.7, 1e-6) and close(r["softMin"], r["softEntropy"], 1e-5)
        and r["accuracyDemo"] == 0.5 and r["params"] == 15,
        plot=True),
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
