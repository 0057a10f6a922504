/** BLEU (the book's section 9.7.6): how well a predicted sequence matches a label sequence. */

function tokensOf(seq: string | readonly string[], what: string): string[] {
  if (typeof seq === "string") return seq.split(" "); // as the book's str.split(' '): "" is one empty token
  if (Array.isArray(seq) && seq.every((t) => typeof t === "string")) return [...seq];
  throw new TypeError(`bleu: ${what} must be a string of space-separated tokens or an array of tokens, got ${typeof seq}`);
}

/**
 * The BLEU score of a predicted sequence against a label sequence (the
 * book's `bleu(pred_seq, label_seq, k)`): the brevity penalty
 * `exp(min(0, 1 - len_label / len_pred))` times `p_n^(1/2^n)` for
 * n = 1 .. min(k, len_pred), where `p_n` is the fraction of the prediction's
 * n-grams found in the label (each label n-gram matched at most as often as
 * it occurs there). 1 for a perfect match, 0 when no token matches.
 * Sequences are strings of space-separated tokens, or token arrays.
 *
 * @example
 * d2l.bleu("il est calme .", "il est calme .", 2); // 1
 * d2l.bleu("il est bon .", "il est calme .", 2);   // 0.658
 */
export function bleu(predSeq: string | readonly string[], labelSeq: string | readonly string[], k: number): number {
  if (!Number.isInteger(k) || k < 1) throw new Error(`bleu: k (the longest n-gram) must be a positive integer, got ${String(k)}`);
  const pred = tokensOf(predSeq, "predSeq");
  const label = tokensOf(labelSeq, "labelSeq");
  const lenPred = pred.length;
  const lenLabel = label.length;
  if (lenPred === 0) return 0; // only an empty token array gets here (a string has at least one token)
  let score = Math.exp(Math.min(0, 1 - lenLabel / lenPred));
  for (let n = 1; n <= Math.min(k, lenPred); n++) {
    const labelSubs = new Map<string, number>();
    for (let i = 0; i + n <= lenLabel; i++) {
      const g = label.slice(i, i + n).join(" ");
      labelSubs.set(g, (labelSubs.get(g) ?? 0) + 1);
    }
    let numMatches = 0;
    for (let i = 0; i + n <= lenPred; i++) {
      const g = pred.slice(i, i + n).join(" ");
      const left = labelSubs.get(g) ?? 0;
      if (left > 0) {
        numMatches++;
        labelSubs.set(g, left - 1);
      }
    }
    score *= Math.pow(numMatches / (lenPred - n + 1), Math.pow(0.5, n));
  }
  return score;
}
