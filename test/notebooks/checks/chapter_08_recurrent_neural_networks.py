"""Result checks for notebooks/chapter_08_recurrent_neural_networks (see test_notebooks.py)."""
from ._util import close  # noqa: F401

# A model that knows only how often each character occurs (a unigram model) has perplexity
# exp(entropy of the character frequencies) = 17.4 on the first 10,000 characters of The Time
# Machine (the text the language models train on). The quick runs must end clearly below it,
# at 15: that needs the characters before (a bigram model reaches 9.9 on the same text). The
# quick runs measured 9.9-11.9.
UNIGRAM_PERPLEXITY = 17.4
LEARNED = 15

# notebook path (relative to notebooks/) -> (description, predicate on the RESULT dict)
CHECKS = {
    # The noise has variance 0.04: a good one-step predictor has an MSE near it, one that always
    # says 0 about 0.54. Multistep predictions feed on their own errors: more than twice the
    # one-step MSE (measured: 7 and more), and 64 steps ahead is worse than 1 step ahead.
    "chapter_08_recurrent_neural_networks/01_sequence.ipynb": (
        "1-step MSE < 0.1; multistep and 64-step predictions clearly worse than 1-step",
        lambda r: r["onestepMse"] < 0.1 and r["multistepMse"] > 2 * r["onestepMse"] and r["kstepMse"][3] > 2 * r["kstepMse"][0]
        and r["trainLoss"] < 0.1),
    "chapter_08_recurrent_neural_networks/02_text_preprocessing.ipynb": (
        "3221 lines, 4580 words (with <unk>), 170580 characters, 28 character tokens",
        lambda r: r["numLines"] == 3221 and r["firstLine"] == "the time machine by h g wells" and r["wordVocabSize"] == 4580
        and r["topWords"] == ["<unk>", "the", "i", "and", "of"] and r["corpusLength"] == 170580 and r["vocabSize"] == 28),
    # Zipf: the slope of log frequency against log rank is -1.04 for the words of the book.
    "chapter_08_recurrent_neural_networks/03_language_models.ipynb": (
        "top n-grams, distinct counts, Zipf slope near -1, both samplers shift Y by one and partition as described",
        lambda r: r["topWord"] == "the" and r["topBigram"] == "of the" and r["topTrigram"] == "the time traveller"
        and r["distinct"] == [4579, 20234, 29882] and -1.3 < r["zipfSlope"] < -0.8
        and r["randomShifted"] is True and r["sequentialContinues"] is True and r["numBatches"] == 8),
    "chapter_08_recurrent_neural_networks/05_rnn_scratch.ipynb": (
        f"perplexity < {LEARNED} (unigram level {UNIGRAM_PERPLEXITY}) with sequential and random sampling",
        lambda r: r["perplexity"] < LEARNED and r["perplexityRandom"] < LEARNED and r["outputShape"] == [10, 28]),
    "chapter_08_recurrent_neural_networks/06_rnn_concise.ipynb": (
        f"perplexity < {LEARNED} (unigram level {UNIGRAM_PERPLEXITY})",
        lambda r: r["perplexity"] < LEARNED and r["tokensPerSec"] > 0),
    # A linear RNN with W = lambda * Q (Q orthogonal) scales the gradient by exactly lambda^t after t steps:
    # the measured norms at T = 50 must match 0.9^50, 1, 1.1^50 to 2% (float32 over 50 products). tanh's
    # derivative is at most 1, so with it the norms can only be smaller; at lambda = 1.1 the saturated
    # state tames the explosion (measured 3.4 against 117).
    "chapter_08_recurrent_neural_networks/07_bptt.ipynb": (
        "gradient norms after 50 steps: lambda^50 for the linear RNN, smaller with tanh, explosion tamed by saturation",
        lambda r: all(abs(a - e) <= 0.02 * e for a, e in zip(r["linearAtT"], r["expected"]))
        and all(t <= a * 1.0001 for t, a in zip(r["tanhAtT"], r["linearAtT"])) and r["tanhAtT"][2] < r["linearAtT"][2] / 10),
}

# Notebooks whose outputs must include at least one plot (vega-lite + PNG for export).
PLOTS = {
    "chapter_08_recurrent_neural_networks/01_sequence.ipynb",
    "chapter_08_recurrent_neural_networks/03_language_models.ipynb",
    "chapter_08_recurrent_neural_networks/05_rnn_scratch.ipynb",
    "chapter_08_recurrent_neural_networks/06_rnn_concise.ipynb",
    "chapter_08_recurrent_neural_networks/07_bptt.ipynb",
}
