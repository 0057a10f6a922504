"""Result checks for notebooks/chapter_09_modern_rnns (see test_notebooks.py)."""
from ._util import close  # noqa: F401

# As in chapter 8: a unigram model of the characters has perplexity 17.4 on the first 10,000
# characters of The Time Machine; the quick runs must end clearly below, at 15, which needs the
# characters before (a bigram model: 9.9). Measured in quick mode: 9.5-12.7.
UNIGRAM_PERPLEXITY = 17.4
LEARNED = 15

# notebook path (relative to notebooks/) -> (description, predicate on the RESULT dict)
CHECKS = {
    "chapter_09_modern_rnns/01_gru.ipynb": (
        f"GRU from scratch and concise: perplexity < {LEARNED} (unigram level {UNIGRAM_PERPLEXITY})",
        lambda r: r["perplexityScratch"] < LEARNED and r["perplexityConcise"] < LEARNED),
    "chapter_09_modern_rnns/02_lstm.ipynb": (
        f"LSTM from scratch and concise: perplexity < {LEARNED} (unigram level {UNIGRAM_PERPLEXITY}); state [H, C]",
        lambda r: r["perplexityScratch"] < LEARNED and r["perplexityConcise"] < LEARNED and r["stateSize"] == 2),
    "chapter_09_modern_rnns/03_deep_rnn.ipynb": (
        f"two stacked LSTM layers: perplexity < {LEARNED}; state H, C of each layer",
        lambda r: r["perplexity"] < LEARNED and r["numLayers"] == 2 and r["stateSize"] == 4),
    # The bidirectional model cheats in training: the backward layer has read the next character.
    # Its training perplexity is low (measured 4.5 in quick mode, far below what the one-directional
    # models reach in the same time), but read one character at a time, as in prediction, it is
    # worse than the unigram model (measured 26) and several times worse than on whole subsequences.
    "chapter_09_modern_rnns/04_bidirectional_rnn.ipynb": (
        "training perplexity < 8, but reading one character at a time worse than the unigram level and > 3x the whole-subsequence perplexity",
        lambda r: r["trainPerplexity"] < 8 and r["stepwisePerplexity"] > UNIGRAM_PERPLEXITY
        and r["stepwisePerplexity"] > 3 * r["wholePerplexity"] and r["prediction"].startswith("time traveller")),
}

# Notebooks whose outputs must include at least one plot (vega-lite + PNG for export).
PLOTS = {
    "chapter_09_modern_rnns/01_gru.ipynb",
    "chapter_09_modern_rnns/02_lstm.ipynb",
    "chapter_09_modern_rnns/03_deep_rnn.ipynb",
    "chapter_09_modern_rnns/04_bidirectional_rnn.ipynb",
}
