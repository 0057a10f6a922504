"""Result checks for notebooks/chapter_06_convolutional_neural_networks (see test_notebooks.py)."""
import math

from ._util import close  # noqa: F401

CH = "chapter_06_convolutional_neural_networks"

# LeNet's layer outputs for one 28x28x1 image, channels-last (the book's walk-through, NCHW there).
LENET_SHAPES = [[1, 28, 28, 6], [1, 14, 14, 6], [1, 10, 10, 16], [1, 5, 5, 16], [1, 400], [1, 120], [1, 84], [1, 10]]


def _conv_layer(r):
    # Learning [1, -1] by gradient descent: the summed squared error's Hessian in the kernel is
    # [[36, 24], [24, 36]] on this image (eigenvalues 60 and 12), so with lr 0.03 each step multiplies
    # the error along (1, 1) by |1 - 0.03*60| = 0.8 and along (1, -1) by 0.64. After 10 steps that is
    # 0.8^10 = 0.11 of a Glorot start (|k| <= 1.22): at most 0.13 + 0.03 off per entry. 0.2 fails a wrong
    # sign, a missing update or a wrong learning rate (measured: 0.09 off).
    return (r["corr2d"] == [[19, 25], [37, 43]] and r["libraryDiff"] == 0
            and r["edgeRow"] == [0, 1, 0, 0, 0, -1, 0] and r["transposedMax"] == 0
            and r["kernelError"] < 0.2 and r["finalLoss"] < 1.5)


def _lenet(r):
    structure = r["shapes"] == LENET_SHAPES and r["params"] == 61706 and r["sameAsLibrary"] and r["epochs"] >= 1
    # The book's sigmoid LeNet (lr 0.9) sits on a plateau at chance for its first ~250 updates of 256
    # examples (measured here and with PyTorch on the same data: test acc 0.09-0.11 after 1-4 quick
    # epochs), longer than quick mode can afford. So quick mode asserts that it ran without diverging
    # (mean loss of the first epoch 2.33-2.36 measured, starting from 2.36-2.67 after Xavier init), and
    # asserts learning on the ReLU + max-pool LeNet: after the quick epoch (60 updates of 128, lr 0.1) its
    # test accuracy measured 0.46-0.70 (mean 0.61) over 19 runs (17 seeds on native, 2 notebook runs on
    # wasm), against 0.10 for chance and for the sigmoid LeNet. Mid-learning test accuracy is noisy,
    # hence 0.35: well clear of the worst run, still 3.5x chance.
    sigmoid_ok = math.isfinite(r["trainLoss"]) and r["trainLoss"] < 2.5 and 0 <= r["testAcc"] <= 1
    if r["quick"]:
        learned = r["reluTestAcc"] >= 0.35
    else:
        # full (not run by CI; floors below the book's 0.789 with room for a late escape from the
        # plateau: measured here on native, epoch 2 already gives test acc 0.57)
        learned = r["testAcc"] >= 0.70 and r["reluTestAcc"] >= 0.83
    return structure and sigmoid_ok and learned


# notebook path (relative to notebooks/) -> (description, predicate on the RESULT dict)
CHECKS = {
    f"{CH}/02_conv_layer.ipynb": (
        "corr2d gives the book's [[19,25],[37,43]], finds the 6x8 image's edges, and 10 steps learn a kernel within 0.2 of [1,-1]",
        _conv_layer),
    f"{CH}/03_padding_strides.ipynb": (
        "the book's four padding/stride examples give 8x8, 8x8, 4x4, 2x2, as the formula predicts",
        lambda r: r["shapes"] == [[8, 8], [8, 8], [4, 4], [2, 2]] and r["formulaAgrees"] and r["sameShape"] == [8, 8]),
    f"{CH}/04_channels.ipynb": (
        "multi-channel cross-correlation gives the book's values; the 1x1 matmul form and tf.conv2d agree",
        lambda r: r["multiIn"] == [[56, 72], [104, 120]]
        and r["multiInOut"] == [[[56, 72], [104, 120]], [[76, 100], [148, 172]], [[96, 128], [192, 224]]]
        and r["kernelShape"] == [3, 2, 2, 2]
        and r["oneByOneError"] < 1e-5 and r["conv2dError"] < 1e-5 and r["libraryError"] < 1e-5),
    f"{CH}/05_pooling.ipynb": (
        "max/avg pooling, padding and stride, two channels give the book's values; pool2d agrees with tf.maxPool/avgPool",
        lambda r: r["max"] == [[4, 5], [7, 8]] and r["avg"] == [[2, 3], [5, 6]] and r["defaultStride"] == [10]
        and r["padStride"] == [5, 7, 13, 15] and r["explicitPad"] == [5, 7, 13, 15] and r["samePad"] == [10, 11, 14, 15]
        and r["channels"] == [[[5, 7], [13, 15]], [[6, 8], [14, 16]]]
        and r["maxDiff"] < 1e-6 and r["avgDiff"] < 1e-6),
    f"{CH}/06_lenet.ipynb": (
        "LeNet's layer shapes and 61,706 parameters; trainCh6 runs; ReLU LeNet test acc >= 0.35 quick "
        "(sigmoid >= 0.70, ReLU >= 0.83 full)",
        _lenet),
}

# Notebooks whose outputs must include at least one plot (vega-lite + PNG for export).
PLOTS = {f"{CH}/06_lenet.ipynb"}
