"""Result checks for notebooks/chapter_09_modern_rnns (see test_notebooks.py): 9.1-9.4 language models, 9.5-9.8 seq2seq."""
from ._util import close  # noqa: F401


def _valid_lengths_match(rows, valid, pad):
    """Each row's valid length is its number of indices that are not <pad> (what buildArrayNmt promises)."""
    return all(sum(1 for i in row if i != pad) == v for row, v in zip(rows, valid))


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
    # The batch has the asked-for shape and dtype, and its valid lengths count the non-padding indices.
    # fra-eng has ~167,000 pairs and CMUdict (the offline stand-in) ~102,000 words of at most 9 letters:
    # fewer than 50,000 would mean the text was cut short.
    "chapter_09_modern_rnns/05_machine_translation_dataset.ipynb": (
        "a [2, 8] int32 batch with consistent valid lengths, from a complete corpus",
        lambda r: r["corpus"] in ("fra-eng", "cmudict") and r["pairs"] > 50000 and r["srcVocab"] > 20
        and r["xShape"] == [2, 8] and r["yShape"] == [2, 8] and r["dtype"] == "int32"
        and _valid_lengths_match(r["xRows"], r["xValidLen"], r["srcPad"])
        and _valid_lengths_match(r["yRows"], r["yValidLen"], r["tgtPad"]),
    ),
    # 4 source steps in, 3 target steps out, scores over the 12 target tokens; the encoder-decoder finds the
    # 4 weights of its parts' layers (2 embeddings of 10x8 and 12x8, a dense kernel 8x12 and bias 12: 284 numbers).
    "chapter_09_modern_rnns/06_encoder_decoder.ipynb": (
        "outputs [2, 3, 12], state [2, 8], 4 weights with 284 parameters",
        lambda r: r["outputShape"] == [2, 3, 12] and r["stateShape"] == [2, 8] and r["numWeights"] == 4 and r["numParams"] == 284,
    ),
    # Quick mode trains 12 epochs. The loss must fall well below its first epoch's (measured on CMUdict:
    # 0.36 -> 0.15-0.16; a model that does not learn stays near the first epoch's value). The held-out BLEU
    # must beat the best constant translation: the training target that, output for every source, scores best
    # on the same 100 held-out pairs (0.083 on CMUdict; the trained model measured 0.17, 0.18, 0.21 in three runs).
    "chapter_09_modern_rnns/07_seq2seq.ipynb": (
        "loss below 0.75x the first epoch's; held-out BLEU above the best constant translation's",
        lambda r: r["lastLoss"] < 0.75 * r["firstLoss"] and r["heldOutBleu"] > r["constantBleu"] and r["heldOut"] == 100,
    ),
    # The toy decoder has the book's probabilities: greedy finds A B C (P 0.048), beam size 2 and exhaustive search
    # by the length-normalized score A C B (P 0.054); beam size 1 is greedy. On the trained model both decoders
    # must beat the best constant translation (as in 07); beam and greedy BLEU are reported, not ranked.
    "chapter_09_modern_rnns/08_beam_search.ipynb": (
        "toy: greedy A B C, beam 2 and exhaustive A C B; trained: loss falls, greedy and beam BLEU above constant",
        lambda r: r["toyGreedy"] == "A B C" and r["toyBeam1"] == "A B C" and r["toyBeam2"] == "A C B"
        and r["toyExhaustiveByScore"] == "A C B" and r["toyExhaustiveByProbability"] == "B"
        and close(r["toyGreedyP"], 0.048, 1e-6) and close(r["toyBeam2P"], 0.054, 1e-6)
        and r["lastLoss"] < 0.75 * r["firstLoss"]
        and r["greedyBleu"] > r["constantBleu"] and r["beamBleu"] > r["constantBleu"],
    ),
}

# Notebooks whose outputs must include at least one plot (vega-lite + PNG for export).
PLOTS = {
    "chapter_09_modern_rnns/05_machine_translation_dataset.ipynb",
    "chapter_09_modern_rnns/07_seq2seq.ipynb",
    "chapter_09_modern_rnns/08_beam_search.ipynb",
    "chapter_09_modern_rnns/01_gru.ipynb",
    "chapter_09_modern_rnns/02_lstm.ipynb",
    "chapter_09_modern_rnns/03_deep_rnn.ipynb",
    "chapter_09_modern_rnns/04_bidirectional_rnn.ipynb",
}
