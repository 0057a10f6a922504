"""Result checks for notebooks/chapter_04_multilayer_perceptrons (see test_notebooks.py).

Floors are set from quick-mode runs on the wasm backend (D2L_QUICK=1: 15,000 Fashion-MNIST training
images, 2,000 test images, trainCh3 cut to 2 epochs; the shuffles and dropout masks are not seeded, so
results vary a little from run to run). 04, 05 and 10 run the book's full settings in quick mode too
(their data sets are tiny: 25, 7 and 16 s on an idle 2-core machine)."""
from ._util import Check, close  # noqa: F401

CH = "chapter_04_multilayer_perceptrons/"

# The trainers' results, as the MLP notebooks keep them in `metrics` (bench/book.py reads testAcc of 03).
TRAINED = "return { testAcc: metrics.testAcc, trainAcc: metrics.trainAcc, trainLoss: metrics.trainLoss };"

CHECKS = {
    # Autograd and the hand-written derivatives agree to float32 rounding (the largest values are ~1.76, so
    # 1e-5 is a few ulps; measured 3e-8); a wrong formula or a wrong alpha is off by 0.01 or more.
    CH + "01_mlp.ipynb": Check(
        "autograd derivatives of relu, sigmoid, tanh, leaky relu, elu, selu match the formulas; sigmoid'(0)=0.25, tanh'(0)=1",
        "return { gradErrors, maxGradError: Math.max(...Object.values(gradErrors)), sigmoidGradAt0, tanhGradAt0 };",
        lambda r: r["maxGradError"] < 1e-5 and len(r["gradErrors"]) == 6
        and close(r["sigmoidGradAt0"], 0.25, 1e-6) and close(r["tanhGradAt0"], 1, 1e-6),
        plot=True),
    # Chance is 0.10. Two quick epochs from the book's small (std 0.01) initialization reached 0.63-0.70
    # test accuracy in our runs (the first epoch is spent leaving the plateau); 0.55 leaves room for
    # that spread and still fails a net that does not learn.
    CH + "02_mlp_scratch.ipynb": Check("test accuracy >= 0.55 in quick mode", TRAINED, lambda r: r["testAcc"] >= 0.55, plot=True),
    CH + "03_mlp_concise.ipynb": Check(
        "test accuracy >= 0.55 in quick mode; the trainer reports the book's three numbers",
        TRAINED,
        lambda r: r["testAcc"] >= 0.55 and 0 < r["trainAcc"] <= 1 and 0 < r["trainLoss"] < 2.303,
        plot=True),
    # The book's epochs (400, 400, 1500) in quick mode too: 25 s for the notebook. Cubic: the weights come
    # within 0.018 of [5, 1.2, -3.4, 5.6] (measured 0.0177-0.0179 in four runs; the floor was 0.4 after 200
    # quick epochs, now 0.1), and its train loss reaches the noise level 0.01 (0.0104), 0.05 allows slack. The
    # line cannot fit the cubic: its train loss stays ~7 (the cubic terms' variance), far above 1. The
    # 20-feature model fits the training data (0.0121-0.0126) and, after the book's 1500 epochs, overfits:
    # its test loss is above its train loss (0.0207-0.0247; 0.0187 vs 0.0118 in an earlier full run).
    CH + "04_underfit_overfit.ipynb": Check(
        "cubic fit recovers the weights; the line underfits; 20 features fit the training data and overfit",
        """
        const trueCubic = [5, 1.2, -3.4, 5.6];
        return {
          cubicWeight: cubic.weight, cubicWeightError: Math.max(...trueCubic.map((w, i) => Math.abs(w - cubic.weight[i]))),
          cubicTrainLoss: cubic.trainLoss, cubicTestLoss: cubic.testLoss,
          linearTrainLoss: linear.trainLoss, linearTestLoss: linear.testLoss,
          highTrainLoss: high.trainLoss, highTestLoss: high.testLoss,
        };
        """,
        lambda r: r["cubicWeightError"] < 0.1 and r["cubicTrainLoss"] < 0.05 and r["linearTrainLoss"] > 1
        and r["highTrainLoss"] < 0.1 and r["highTestLoss"] < 0.1 and r["highTestLoss"] > r["highTrainLoss"],
        plot=True),
    # 20 examples, 200 inputs, the book's 100 epochs in quick mode too (7 s for the notebook): without decay
    # the test loss is ~80-250 and |w| ~13; with lambda 3 the test loss is 0.08 from scratch and 0.19-3.0
    # concise (unseeded initialization; the concise loss has no factor 1/2) and |w| 0.36-0.54. Both implementations must show it.
    CH + "05_weight_decay.ipynb": Check(
        "lambda 3 gives a lower test loss and a smaller weight norm than lambda 0, from scratch and concise",
        "return { scratch0, scratch3, concise0, concise3 };",
        lambda r: all(r[k + "3"]["testLoss"] < 0.5 * r[k + "0"]["testLoss"] and r[k + "3"]["normW"] < 0.5 * r[k + "0"]["normW"]
                      for k in ("scratch", "concise")),
        plot=True),
    # dropoutLayer: p=0 and p=1 are exact; with p=0.5 on 10,000 elements the kept fraction is 0.5 +- 0.005
    # (one standard deviation), so 0.03 is six of them; kept elements are exactly doubled.
    # Training at the book's lr 0.5 for 2 quick epochs: scratch (PyTorch's default init) 0.70-0.78, concise (the
    # book's std 0.01 init, slower to start) 0.62-0.70; chance is 0.10. Evaluation must not drop units.
    # Seeded, the run is the same every time on one machine, but not across instruction sets: scratch test acc
    # 0.611 with oneDNN and OpenBLAS on AVX2, 0.595 on AVX-512 (an AMD EPYC, 2026-12-07), 0.6095 on wasm; concise
    # 0.68, 0.693, 0.6975. The scratch floor was 0.6, which AVX-512 missed by 0.005; both floors are now 0.5, five
    # times chance, which a net that does not learn (or one dropped at evaluation) does not reach.
    CH + "06_dropout.ipynb": Check(
        "dropout p=0 is the identity, p=1 zeros, p=0.5 keeps half, doubled; both nets learn; evaluation is deterministic",
        """
        return {
          p0MaxDiff, p1MaxAbs, p05KeptFraction, p05ScaleError, p05MeanRatio,
          scratchTestAcc: scratch.testAcc, scratchTrainAcc: scratch.trainAcc, conciseTestAcc: concise.testAcc, conciseTrainAcc: concise.trainAcc,
          evalTwiceDiff, trainTwiceDiff,
        };
        """,
        lambda r: r["p0MaxDiff"] == 0 and r["p1MaxAbs"] == 0 and close(r["p05KeptFraction"], 0.5, 0.03) and r["p05ScaleError"] < 1e-6
        and r["scratchTestAcc"] >= 0.5 and r["conciseTestAcc"] >= 0.5 and r["evalTwiceDiff"] == 0 and r["trainTwiceDiff"] > 0,
        plot=True),
    # Hand-written backpropagation against tf.grads/tf.grad on the page's seeded numbers (float32, gradients
    # up to 0.51): measured differences 4e-9 to 3e-8, so 1e-5 is ample. The probe also differentiates an
    # objective written independently of the page's `forward` (tfjs' own softmax cross-entropy) and compares
    # the hand-computed dJ/dW1, dJ/dW2 with it. A wrong formula must fail: every gradient is far from tiny
    # (its largest entry >= 0.05; measured 0.11-0.51), and the two slips the page shows are off by 0.42
    # (phi' forgotten) and 0.090 (lambda W1 forgotten), which the probe recomputes, and so is dropping
    # lambda W2 (off by 0.092). Memory: training keeps at least a layer's product and activation per hidden
    # layer (0.5 MB; measured 1.25 MB on wasm, whose tape copies what each gradient reads: 2.6 MB at depth 1,
    # 21.3 MB at depth 16), prediction at most a layer's input, product and activation (0.75 MB at every
    # depth from 2 on, 0.5 MB at depth 1). At depth 16 training keeps 28x what prediction needs; a backend
    # whose tape shares memory would still keep the 0.5 MB per layer, about 11x, so the floor is 5x.
    CH + "07_backprop.ipynb": Check(
        "hand-derived backprop gradients equal tfjs' within 1e-5; wrong formulas are far off; training memory grows with depth, prediction's does not",
        """
        const maxAbs = async (t: tf.Tensor): Promise<number> => (await t.abs().max().data())[0];
        // J written again, independently of the page's forward(): tfjs' softmax cross-entropy on rows.
        const reference = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => {
          const logits = b.matMul(tf.tanh(a.matMul(X))).transpose();
          const penalty = a.square().sum().add(b.square().sum()).mul(lambd / 2);
          return tf.losses.softmaxCrossEntropy(Y.transpose(), logits).add(penalty) as tf.Scalar;
        };
        const [refW1, refW2] = tf.grads(reference)([W1, W2]);
        const r = {
          dtypes: [X.dtype, W1.dtype, dJdW1.dtype, dJdW2.dtype],
          shapes: { dJdW1: dJdW1.shape, dJdW2: dJdW2.shape, dJdZ: dJdZ.shape, dJdO: dJdO.shape },
          gradErrors,
          maxGradError: Math.max(...Object.values(gradErrors)),
          refErrorW1: await maxAbs(dJdW1.sub(refW1)),
          refErrorW2: await maxAbs(dJdW2.sub(refW2)),
          gradMaxAbs: Object.fromEntries(await Promise.all(Object.entries(byHand).map(async ([k, t]) => [k, await maxAbs(t)] as const))),
          wrongNoPhiPrime: await maxAbs(dJdH.matMul(X.transpose()).add(W1.mul(lambd)).sub(refW1)),
          wrongNoPenaltyW1: await maxAbs(dJdZ.matMul(X.transpose()).sub(refW1)),
          wrongNoPenaltyW2: await maxAbs(dJdO.matMul(H.transpose()).sub(refW2)),
          variableGradsError: Math.max(await maxAbs(grads["V1"].sub(dJdW1)), await maxAbs(grads["V2"].sub(dJdW2))),
          depths, memTraining, memPrediction, perLayer,
        };
        tf.dispose([refW1, refW2]);
        return r;
        """,
        lambda r: r["dtypes"] == ["float32"] * 4
        and r["shapes"] == {"dJdW1": [4, 6], "dJdW2": [3, 4], "dJdZ": [4, 8], "dJdO": [3, 8]}
        and len(r["gradErrors"]) == 5 and r["maxGradError"] <= 1e-5
        and r["refErrorW1"] <= 1e-5 and r["refErrorW2"] <= 1e-5 and r["variableGradsError"] <= 1e-5
        and min(r["gradMaxAbs"].values()) >= 0.05
        and min(r["wrongNoPhiPrime"], r["wrongNoPenaltyW1"], r["wrongNoPenaltyW2"]) > 1e-2
        and r["perLayer"] >= 0.5 * 0.99
        and all(a < b for a, b in zip(r["memTraining"], r["memTraining"][1:]))
        and max(r["memPrediction"]) < 1 and r["memTraining"][-1] > 5 * r["memPrediction"][-1],
        plot=True),
    # 100 products of 4x4 standard Gaussians grow like e^(0.56 per factor): measured 10^21.4; a loop that did not
    # multiply would stay near 10^0. Zero init can only learn the output bias: the loss stays at ln 10 = 2.303 and
    # the hidden weights stay exactly 0 (all units identical). Xavier and He leave that plateau (quick: 2 epochs on
    # 2,000 images, the parameters cell's quick values: 1.31 and 1.13; full, 5 epochs on 10,000: 0.47 and 0.45).
    # A constant init moves the weights (by ~0.03) but keeps the units identical. With std 0.01 the activations of
    # layer 5 are ~1e-5 of He's (measured 3.7e-6 vs 0.34).
    CH + "08_numerical_stability_init.ipynb": Check(
        "100 Gaussian products explode; Xavier and He train, zero init stays at ln 10 with identical hidden units",
        """
        return {
          explodedLog10MaxAbs, stats,
          finalLoss: Object.fromEntries(initNames.map((name) => [name, results[name].trainLoss])),
          testAcc: Object.fromEntries(initNames.map((name) => [name, results[name].testAcc])),
          zeroSpread, zeroMaxAbs, constSpread, constMoved, epochs: numEpochs,
        };
        """,
        lambda r: r["explodedLog10MaxAbs"] > 10
        and r["finalLoss"]["he"] < r["finalLoss"]["zero"] - 0.5 and r["finalLoss"]["xavier"] < r["finalLoss"]["zero"] - 0.3
        and close(r["finalLoss"]["zero"], 2.303, 0.02) and r["zeroSpread"] == 0 and r["zeroMaxAbs"] == 0
        and r["constSpread"] < 1e-6 and r["constMoved"] > 1e-3
        and r["stats"]["normal"]["act"][4] < 1e-3 * r["stats"]["he"]["act"][4],
        plot=True),
    # For N(0,1) vs N(1,1) the log density ratio is x - 0.5; 2,000 samples estimate it to ~0.05 (measured
    # 1.013, -0.523). The unweighted line has target loss ~6.8, the best line on target data ~2.0, the weighted
    # one 2.02: an improvement of 3.4x; 2 fails a correction that does not work.
    CH + "09_environment_distribution_shift.ipynb": Check(
        "logistic regression recovers the log density ratio x - 0.5; importance weights cut the target loss",
        """
        return {
          slope, intercept, classifierAcc,
          testLossUnweighted: unweighted.testLoss, testLossWeighted: weighted.testLoss, testLossOracle: oracle.testLoss,
          improvement: unweighted.testLoss / weighted.testLoss,
        };
        """,
        lambda r: close(r["slope"], 1, 0.2) and close(r["intercept"], -0.5, 0.2) and r["improvement"] > 2,
        plot=True),
    # A constant guess (the mean price) has a log-RMSE of about 0.40 (the standard deviation of
    # log SalePrice); the issue asks for a 5-fold validation log-RMSE below 0.25 in quick mode.
    # Quick mode now runs the book's setting (5 folds, 100 epochs, lr 5; 16 s for the notebook on wasm):
    # avg train 0.165, avg valid 0.171, final train 0.163 (the earlier quick setting, 8 epochs at lr 50,
    # reached about 0.175). 331 features after one-hot encoding, as in the book; 1459 test predictions,
    # all positive. The submission is written next to the notebook (git-ignored); the probe reads it back
    # and, in quick mode, removes it.
    CH + "10_kaggle_house_price.ipynb": Check(
        "331 features; 5-fold valid log-RMSE < 0.25; a 1459-row submission of positive prices",
        """
        const written = d2l.readCsv(file);
        const prices = written.numbers("SalePrice");
        const r = {
          featuresShape: allFeatures.shape, preprocessingDiff, folds: k, epochs: numEpochs, lr,
          avgTrainLogRmse: trainL, avgValidLogRmse: validL, finalTrainLogRmse: trainLogRmse,
          submissionShape: written.shape, submissionColumns: written.columns,
          minPrice: Math.min(...prices), maxPrice: Math.max(...prices),
        };
        if (d2l.isQuick()) fs.rmSync(file, { force: true });
        return r;
        """,
        lambda r: r["featuresShape"] == [2919, 331] and r["preprocessingDiff"] == 0 and r["folds"] == 5
        and r["avgValidLogRmse"] < 0.25 and r["avgTrainLogRmse"] < 0.25 and r["finalTrainLogRmse"] < 0.25
        and r["submissionShape"] == [1459, 2] and r["submissionColumns"] == ["Id", "SalePrice"]
        and r["minPrice"] > 0 and r["maxPrice"] < 2e6,
        plot=True),
}
