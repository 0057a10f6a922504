"""Result checks for notebooks/chapter_03_linear_networks (see test_notebooks.py)."""
from ._util import Check, close  # noqa: F401

CH = "chapter_03_linear_networks/"

# Probes read values with await (webgpu cannot read a GPU tensor synchronously): READ defines
# `read(f)`, the values of the tensor f() returns, computed in tf.tidy and disposed after the read.
READ = """
        const read = async (f: () => tf.Tensor): Promise<number[]> => {
          const t = tf.tidy(f);
          const v = Array.from(await t.data());
          t.dispose();
          return v;
        };
"""

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
        READ + """
        const s = Array.from(await wStar.data());
        const closedFormError = Math.max(Math.abs(s[0] - 2), Math.abs(s[1] + 3.4), Math.abs(s[2] - trueB));
        const densities: Record<string, number>[] = [];
        for (const [mu, sigma] of normalParams) {
          densities.push({
            area: (await read(() => normal(x, mu, sigma).sum()))[0] * 0.01,
            peak: (await read(() => normal(tf.scalar(mu), mu, sigma)))[0],
            expectedPeak: 1 / Math.sqrt(2 * Math.PI * sigma ** 2),
            // the density against a value computed here, one sigma from the mean
            atOneSigma: (await read(() => normal(tf.scalar(mu + sigma), mu, sigma)))[0],
            expectedAtOneSigma: Math.exp(-0.5) / Math.sqrt(2 * Math.PI * sigma ** 2),
          });
        }
        const gaps: number[] = [];
        for (let k = 0; k < 6; k++) {
          const [l, sq] = await read(() => {
            const w = tf.randomNormal([2, 1], 0, 2, "float32", 100 + k);
            const b = 4.2 + (k - 3) * 0.7;
            return tf.stack([nll(w, b), squaredLoss(w, b)]);
          });
          gaps.push(l - sq / sigma ** 2);
        }
        const lsw = Array.from(await wNoisy.data());
        const mleGap = Math.max(...mle.map((v, i) => Math.abs(v - lsw[i])));
        return { closedFormError, densities, gaps, constant: 0.5 * Math.log(2 * Math.PI * sigma ** 2), mleGap,
                 params: net.countParams(), netError: (await read(() => netOut.sub(byHand).abs().max()))[0] };
        """,
        lambda r: r["closedFormError"] < 0.005
        and all(close(d["area"], 1, 1e-3) and close(d["peak"], d["expectedPeak"], 1e-5) and close(d["atOneSigma"], d["expectedAtOneSigma"], 1e-5)
                for d in r["densities"])
        and all(close(g, r["constant"], 1e-3) for g in r["gaps"])
        and r["mleGap"] < 1e-4 and r["params"] == 3 and r["netError"] < 1e-4,
        plot=True),
    CH + "02_linear_regression_scratch.ipynb": Check(
        "w and b recovered within 0.05",
        READ + """
        const [wError] = await read(() => trueW.sub(w.reshape(trueW.shape)).abs().max());
        return { wError, bError: Math.abs(trueB - (await b.data())[0]) };
        """,
        lambda r: r["wError"] < 0.05 and r["bError"] < 0.05),
    CH + "03_linear_regression_concise.ipynb": Check(
        "w and b recovered within 0.05",
        READ + """
        const [kernel, bias] = net.layers[0].getWeights();
        const [wError] = await read(() => trueW.sub(kernel.reshape([2])).abs().max());
        return { wError, bError: Math.abs(trueB - (await bias.data())[0]) };
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
        READ + """
        const err = async (f: () => tf.Tensor): Promise<number> => (await read(() => f().abs().max()))[0];
        const X = tf.randomNormal([8, 7], 0, 3, "float32", 21);
        const rowSumError = await err(() => softmax(X).sum(1).sub(1));
        const shiftError = await err(() => softmax(X.add(tf.randomNormal([8, 1], 0, 5, "float32", 22))).sub(softmax(X)));
        const vsTfSoftmax = await err(() => softmax(X).sub(tf.softmax(X)));
        const gradErrors = [await err(() => gradByAutodiff(oneHotLabels).sub(gradByHand(oneHotLabels))), await err(() => gradByAutodiff(softLabels).sub(gradByHand(softLabels)))];
        // the gradient against one computed here from the formula, on other logits
        const O2 = tf.randomNormal([5, 4], 0, 2, "float32", 23);
        const Y2 = tf.oneHot(tf.tensor1d([3, 1, 0, 2, 1], "int32"), 4);
        const gradFormulaError = await err(() => tf.grad((o: tf.Tensor) => crossEntropyLoss(softmax(o), Y2).sum())(O2).sub(tf.softmax(O2).sub(Y2)));
        const identityErrors: number[] = [];
        const randomKls: number[] = [];
        const selfKls: number[] = [];
        for (let k = 0; k < 20; k++) {
          const [P, Q] = tf.tidy(() => tf.unstack(tf.softmax(tf.randomNormal([2, 5], 0, 1.5, "float32", 30 + k))));
          const [hpq, hp, kl] = [await crossEntropy(P, Q), await entropy(P), await klDivergence(P, Q)];
          identityErrors.push(Math.abs(hpq - hp - kl));
          // against the definition, in float64 here
          const p = Array.from(await P.data()), qq = Array.from(await Q.data());
          identityErrors.push(Math.abs(kl - p.reduce((s, pj, j) => s + pj * Math.log(pj / qq[j]), 0)));
          identityErrors.push(Math.abs(hp + p.reduce((s, pj) => s + pj * Math.log(pj), 0)));
          randomKls.push(kl);
          selfKls.push(Math.abs(await klDivergence(P, P)));
          tf.dispose([P, Q]);
        }
        return {
          rowSumError, shiftError, vsTfSoftmax, gradErrors, gradFormulaError,
          fairDieEntropy: await entropy(fairDie), log6: Math.log(6),
          maxIdentityError: Math.max(...identityErrors), minKl: Math.min(...randomKls, ...kls), maxSelfKl: Math.max(...selfKls),
          qBest, softMin: Math.min(...softCurve), softEntropy: -0.7 * Math.log(0.7) - 0.3 * Math.log(0.3),
          accuracyDemo: await accuracy(yHatDemo, yDemo), params: tinyNet.countParams(),
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
