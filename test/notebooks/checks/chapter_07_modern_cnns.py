"""Result checks for notebooks/chapter_07_modern_cnns (see test_notebooks.py).

Quick mode trains each net for one short epoch on the first examples of Fashion-MNIST
(notebooks/chapter_07_modern_cnns: a few hundred to 2048 training examples, 200 or 500
test examples, smaller images). What a floor is measured against:

* chance is 0.10; a net that answers one class for everything scores that class's share of
  the test examples, at most 27/200 = 0.135 on the first 200 (60/500 = 0.12 on the first 500);
* the nets without dropout (GoogLeNet, ResNet, DenseNet, LeNet with batch normalization) run
  with a fixed shuffle and initialization, and on wasm with two threads they give the same
  numbers every run (measured twice or more each; the value is in each comment). Their floors
  leave room for a different thread count or a tfjs update changing the rounding, which over a
  few dozen SGD steps moves an accuracy by several points, and stay above 0.135;
* AlexNet and VGG use dropout, whose masks are not seeded: their floors come from several
  runs (listed), with room below the lowest;
* firstLoss / lastLoss are the mean training loss of the first and the last quarter of the
  epoch's minibatches: "loss falling" asks for a drop clearly larger than the minibatch noise.
* params are the book's PyTorch parameter counts (plus batch normalization's running mean and
  variance, which tfjs counts as weights), independent of the image size for the nets without
  dense hidden layers.
"""
from ._util import close  # noqa: F401


def _falls(r, by):
    return r["lastLoss"] < r["firstLoss"] - by


def _common(r):
    return r["outShape"] == [1, 10] and r["quick"] is True and r["numEpochs"] == 1


CHECKS = {
    # He init, 1024 examples at 67x67, 64 minibatches of 16, lr 0.03. Test acc on wasm in 4 runs: 0.28, 0.24,
    # 0.355, 0.245 (native backend, 4 runs: 0.335 to 0.485); loss drop (first to last quarter) 0.76 to 0.81.
    "chapter_07_modern_cnns/01_alexnet.ipynb": (
        "AlexNet learns in quick mode: test acc >= 0.15 (above any constant answer) and the loss falls by 0.3",
        lambda r: _common(r) and r["testAcc"] >= 0.15 and _falls(r, 0.3) and r["size"] == 67),
    # He init, 1024 examples at 32x32, 64 minibatches, lr 0.03. Test acc on wasm: 0.24, 0.33 (native: 0.37,
    # 0.36); loss drop 0.36 to 0.58.
    "chapter_07_modern_cnns/02_vgg.ipynb": (
        "VGG (4x narrower) learns in quick mode: test acc >= 0.16 and the loss falls by 0.2",
        lambda r: _common(r) and r["testAcc"] >= 0.16 and _falls(r, 0.2) and r["size"] == 32),
    # NiN stays on its ln-10 plateau for longer than quick mode trains (with Xavier or He init, lr 0.01 to
    # 0.1, up to 128 minibatches: test acc 0.075 to 0.24, loss 2.27 to 2.31), so for the book's NiN quick mode
    # checks that it builds with the book's parameter count and trains to a finite loss at the level of a
    # uniform guess (ln 10 = 2.303), neither diverging nor stuck at a wrong constant. Learning is asserted on
    # the notebook's NiN with batch normalization (same 32 minibatches, 67 px, lr 0.1; dropout unseeded):
    # test acc 0.37, 0.405, 0.36, 0.445 in 4 runs on wasm; floor 0.25, far above any constant answer (0.135).
    # Its parameter count: NiN's 1,992,166 plus 4 x channels per batch-norm layer (gamma, beta, running
    # mean and variance): 4 x 3 x (96 + 256 + 384 + 10) = 8,952.
    "chapter_07_modern_cnns/03_nin.ipynb": (
        "NiN builds with 1,992,166 parameters and trains to a finite loss near ln 10; "
        "NiN with batch normalization learns in the same 32 minibatches: test acc >= 0.25",
        lambda r: _common(r) and r["params"] == 1992166 and 2.0 < r["trainLoss"] < 2.6 and 0.0 <= r["testAcc"] <= 1.0
        and r["bnParams"] == 1992166 + 8952 and r["bnTestAcc"] >= 0.25),
    # seeded, no dropout: test acc 0.345 and loss 2.298 -> 2.241 in every run (3 runs)
    "chapter_07_modern_cnns/04_googlenet.ipynb": (
        "GoogLeNet (5,977,530 parameters) learns in quick mode: test acc >= 0.2 and the loss falls by 0.02",
        lambda r: _common(r) and r["params"] == 5977530 and r["testAcc"] >= 0.2 and _falls(r, 0.02)),
    # seeded: from scratch test acc 0.624 and loss 2.493 -> 1.194; concise 0.538 (500 test examples; 3 runs)
    "chapter_07_modern_cnns/05_batch_norm.ipynb": (
        "LeNet with batch normalization learns (scratch >= 0.45, concise >= 0.4), loss falls by 0.5, "
        "d2l.batchNorm equals the notebook's, gamma and beta of the first layer moved from 1 and 0",
        lambda r: _common(r) and r["testAcc"] >= 0.45 and r["testAccConcise"] >= 0.4 and _falls(r, 0.5)
        and r["libDiff"] < 1e-5 and r["gammaLength"] == 6 and r["betaLength"] == 6
        and r["gammaMoved"] > 1e-3 and r["betaMoved"] > 1e-3),
    # seeded, no dropout: test acc 0.365 and loss 5.91 -> 1.17 in every run (its first minibatches overshoot; 4 runs)
    "chapter_07_modern_cnns/06_resnet.ipynb": (
        "ResNet-18 (11,178,378 + 7,808 parameters) learns in quick mode: test acc >= 0.22 and the loss falls by 1",
        lambda r: _common(r) and r["params"] == 11178378 + 7808 and r["testAcc"] >= 0.22 and _falls(r, 1.0)),
    # seeded, no dropout: test acc 0.5 and loss 2.29 -> 1.32 in every run (4 runs)
    "chapter_07_modern_cnns/07_densenet.ipynb": (
        "DenseNet (758,226 + 6,608 parameters) learns in quick mode: test acc >= 0.3 and the loss falls by 0.5",
        lambda r: _common(r) and r["params"] == 758226 + 6608 and r["testAcc"] >= 0.3 and _falls(r, 0.5)),
}

# Notebooks whose outputs must include at least one plot (trainCh6's Animator: vega-lite + PNG for export).
PLOTS = set(CHECKS)
