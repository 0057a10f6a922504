"""Result checks for notebooks/chapter_08_recurrent_neural_networks (see test_notebooks.py)."""
from ._util import Check, close  # noqa: F401

CH = "chapter_08_recurrent_neural_networks/"

# A model that knows only how often each character occurs (a unigram model) has perplexity
# exp(entropy of the character frequencies) = 17.4 on the first 10,000 characters of The Time
# Machine (the text the language models train on). The quick runs must end clearly below it,
# at 15: that needs the characters before (a bigram model reaches 9.9 on the same text). Section
# 8.4 (04_rnn) computes both from counts. The quick runs (numSteps 5, 3 epochs, fewer hidden
# units: the parameters cells' quick values) measured 9.9-11.9 (final runs: 05 11.7 sequential, 11.9
# random; 06 9.9).
UNIGRAM_PERPLEXITY = 17.4
LEARNED = 15

# What trainCh8 returned, and how many epochs it trained (3 in quick mode, trainCh8's own cut).
def _trained(var):
    return f"perplexity: {var}.perplexity, tokensPerSec: {var}.tokensPerSec, epochs: {var}.perplexities.length"


CHECKS = {
    # The noise has variance 0.04: a good one-step predictor has an MSE near it, one that always
    # says 0 about 0.54. Multistep predictions feed on their own errors: more than twice the
    # one-step MSE (measured: 7 and more), and 64 steps ahead is worse than 1 step ahead.
    CH + "01_sequence.ipynb": Check(
        "1-step MSE < 0.1; multistep and 64-step predictions clearly worse than 1-step",
        "return { trainLoss, onestepMse, multistepMse, kstepMse };",
        lambda r: r["onestepMse"] < 0.1 and r["multistepMse"] > 2 * r["onestepMse"] and r["kstepMse"][3] > 2 * r["kstepMse"][0]
        and r["trainLoss"] < 0.1,
        plot=True),
    CH + "02_text_preprocessing.ipynb": Check(
        "3221 lines, 4580 words (with <unk>), 170580 characters, 28 character tokens",
        """
        return {
          numLines: lines.length,
          firstLine: lines[0],
          wordVocabSize: vocab.length,
          topWords: vocab.idxToToken.slice(0, 5),
          corpusLength: corpus.length,
          vocabSize: charVocab.length,
        };
        """,
        lambda r: r["numLines"] == 3221 and r["firstLine"] == "the time machine by h g wells" and r["wordVocabSize"] == 4580
        and r["topWords"] == ["<unk>", "the", "i", "and", "of"] and r["corpusLength"] == 170580 and r["vocabSize"] == 28),
    # Zipf: the slope of log frequency against log rank is -1.04 for the words of the book. The
    # samplers run again on the page's mySeq (0..34, minibatches of 2 x 5): random sampling's Y is X
    # shifted by one; sequential partitioning's rows continue where the previous minibatch's ended.
    CH + "03_language_models.ipynb": Check(
        "top n-grams, distinct counts, Zipf slope near -1, both samplers shift Y by one and partition as described",
        """
        const shifted = async (X: tf.Tensor, Y: tf.Tensor): Promise<boolean> => {
          const same = tf.tidy(() => tf.all(tf.equal(Y, X.add(1))));
          const all = (await same.data())[0] === 1;
          same.dispose();
          return all;
        };
        let randomShifted = true;
        for (const [X, Y] of d2l.seqDataIterRandom(mySeq, 2, 5)) {
          randomShifted &&= await shifted(X, Y);
          tf.dispose([X, Y]);
        }
        let sequentialContinues = true;
        let previous: number[][] | undefined;
        for (const [X, Y] of d2l.seqDataIterSequential(mySeq, 2, 5)) {
          const x = (await X.array()) as number[][];
          sequentialContinues &&= (await shifted(X, Y)) && (previous === undefined || x.every((row, i) => row[0] === previous![i][4] + 1));
          previous = x;
          tf.dispose([X, Y]);
        }
        return {
          topWord: vocab.idxToToken[1],
          topBigram: bigramVocab.idxToToken[1],
          topTrigram: trigramVocab.idxToToken[1],
          distinct: [vocab.length - 1, bigramVocab.length - 1, trigramVocab.length - 1],
          zipfSlope,
          randomShifted,
          sequentialContinues,
          numBatches: trainIter.numBatches,
        };
        """,
        lambda r: r["topWord"] == "the" and r["topBigram"] == "of the" and r["topTrigram"] == "the time traveller"
        and r["distinct"] == [4579, 20234, 29882] and -1.3 < r["zipfSlope"] < -0.8
        and r["randomShifted"] is True and r["sequentialContinues"] is True and r["numBatches"] == 8,
        plot=True),
    # New notebook (section 8.4), the same in quick and full runs (counting, no training). n-gram models of
    # the characters, counted on the first 10,000 (what the RNNs train on), scored on the rest of the book
    # (160,580 characters). Measured: on the training text itself unigram 17.41, bigram 9.87 (the 17.4 and 9.9
    # above), trigram 5.18, 4-gram 2.70; on held-out text unsmoothed unigram 17.30 (every letter was seen),
    # the others infinite (137 held-out bigrams never occur in the training text, "iw", "ik", ...); smoothed, best alpha 0.32 for the bigram (10.95),
    # 0.18 for the trigram (9.22), 0.1 for the 4-gram (10.34, worse than the trigram: counting overfits).
    # A wrong estimate fails: the probabilities of every context (seen, and one never seen) must sum to 1;
    # so must the ordering trigram < bigram < unigram, and the concat identity of the book (X W_xh + H W_hh
    # = [X, H] [W_xh; W_hh], shapes [3,1], [1,4], [3,4], [4,4]) within 1e-5; uniform scores give perplexity 28.
    CH + "04_rnn.ipynb": Check(
        "concat identity within 1e-5; unsmoothed bigram/trigram infinite on held-out text; smoothed trigram < bigram < unigram, "
        "the bigram's best alpha above the trigram's; unigram perplexity 17.2-17.6 (training text) and 17.0-17.6 (held out); "
        "bigram 9.7-10.1 on the training text; every context's probabilities sum to 1; uniform guess 28",
        """
        const concatTensor = tf.tidy(() => tf.sub(twoProducts, oneProduct).abs().max());
        const concatError = (await concatTensor.data())[0];
        concatTensor.dispose();
        // the add-alpha probabilities of a seen and an unseen context, summed over the vocabulary
        let sumError = 0;
        for (const [i, lm] of models.entries()) {
          const seen = [...lm.counts.keys()][0];
          const unseenContext = Array(lm.n - 1).fill(vocab.toIndices("<unk>")).join(" ");
          for (const context of [seen, unseenContext]) {
            for (const alpha of lm.totals.has(context) ? [0, 0.1, 1] : [0.1, 1]) {
              let s = 0;
              for (let token = 0; token < V; token++) s += lm.prob(context, token, alpha);
              sumError = Math.max(sumError, Math.abs(s - 1));
            }
          }
        }
        return {
          concatError, sumError,
          inSample, unsmoothed: unsmoothed.map(String), bestAlpha, bestPerplexity,
          uniform: await perplexityOf(uniformScores), right: await perplexityOf(rightScores),
          heldOut: heldOut.length,
        };
        """,
        lambda r: r["concatError"] < 1e-5 and r["sumError"] < 1e-9
        and r["unsmoothed"][1] == "Infinity" and r["unsmoothed"][2] == "Infinity" and 17.0 < float(r["unsmoothed"][0]) < 17.6
        and r["bestPerplexity"][2] < r["bestPerplexity"][1] < r["bestPerplexity"][0] and r["bestPerplexity"][3] > r["bestPerplexity"][2]
        and r["bestAlpha"][1] > r["bestAlpha"][2]
        and 17.2 < r["inSample"][0] < 17.6 and 9.7 < r["inSample"][1] < 10.1
        and close(r["uniform"], 28, 1e-3) and r["right"] < 1.001 and r["heldOut"] == 160580,
        plot=True),
    # Quick values: numSteps 5 (the book's 35), 128 hidden units (512); trainCh8 trains 3 of the 500 epochs.
    CH + "05_rnn_scratch.ipynb": Check(
        f"perplexity < {LEARNED} (unigram level {UNIGRAM_PERPLEXITY}) with sequential and random sampling",
        f"""
        return {{ {_trained("sequential")}, perplexityRandom: random.perplexity, outputShape: Y.shape, numHiddens }};
        """,
        lambda r: r["perplexity"] < LEARNED and r["perplexityRandom"] < LEARNED and r["outputShape"] == [10, 28],
        plot=True),
    # Quick values: numSteps 5, 128 hidden units (the book's 256); 3 epochs.
    CH + "06_rnn_concise.ipynb": Check(
        f"perplexity < {LEARNED} (unigram level {UNIGRAM_PERPLEXITY})",
        f"return {{ {_trained('result')}, outputShape: Y.shape, numHiddens }};",
        lambda r: r["perplexity"] < LEARNED and r["tokensPerSec"] > 0,
        plot=True),
    # A linear RNN with W = lambda * Q (Q orthogonal) scales the gradient by exactly lambda^t after t steps:
    # the measured norms at T = 50 must match 0.9^50, 1, 1.1^50 to 2% (float32 over 50 products). tanh's
    # derivative is at most 1, so with it the norms can only be smaller; at lambda = 1.1 the saturated
    # state tames the explosion (measured 3.4 against 117).
    CH + "07_bptt.ipynb": Check(
        "gradient norms after 50 steps: lambda^50 for the linear RNN, smaller with tanh, explosion tamed by saturation",
        """
        return {
          lambdas,
          linearAtT: linear.map((n) => n[n.length - 1]),
          tanhAtT: tanhNorms.map((n) => n[n.length - 1]),
          expected: lambdas.map((l) => l ** T),
        };
        """,
        lambda r: all(abs(a - e) <= 0.02 * e for a, e in zip(r["linearAtT"], r["expected"]))
        and all(t <= a * 1.0001 for t, a in zip(r["tanhAtT"], r["linearAtT"])) and r["tanhAtT"][2] < r["linearAtT"][2] / 10,
        plot=True),
}
