/** Chapter 8.2's text preprocessing: `tokenize`, `count_corpus`, `Vocab`. */

/** How {@link tokenize} splits a line: into words (on whitespace) or into characters. */
export type TokenType = "word" | "char";

/**
 * Split each line into tokens (the book's `tokenize`): words split on
 * whitespace, or single characters (spaces included).
 *
 * @example
 * d2l.tokenize(["the time machine", "by h g wells"]);          // [["the","time","machine"], ["by","h","g","wells"]]
 * d2l.tokenize(["the time"], "char");                           // [["t","h","e"," ","t","i","m","e"]]
 */
export function tokenize(lines: readonly string[], token: TokenType = "word"): string[][] {
  if (!Array.isArray(lines)) throw new TypeError(`tokenize expects an array of lines (strings), got ${typeof lines}`);
  if (token === "word") return lines.map((line: string) => line.split(/\s+/).filter((w: string) => w.length > 0));
  if (token === "char") return lines.map((line: string) => Array.from(line));
  throw new Error(`tokenize: unknown token type ${JSON.stringify(token)}; use "word" or "char"`);
}

/**
 * Count token frequencies (the book's `count_corpus`): a flat list of
 * tokens, or a list of token lines, which is flattened first. The map keeps
 * the order in which tokens first appear.
 *
 * @example
 * const counts = d2l.countCorpus(d2l.tokenize(["a b a", "c a"]));
 * counts.get("a"); // 3
 */
export function countCorpus(tokens: readonly string[] | readonly (readonly string[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of tokens) {
    if (Array.isArray(item)) {
      for (const t of item as readonly string[]) counts.set(t, (counts.get(t) ?? 0) + 1);
    } else {
      const t = item as string;
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
  }
  return counts;
}

/** Options of {@link Vocab} (the book's keyword arguments). */
export interface VocabOptions {
  /** Tokens seen fewer times than this map to `<unk>` (default 0: keep all). */
  minFreq?: number;
  /** Tokens given indices right after `<unk>`, e.g. `["<pad>", "<bos>", "<eos>"]`. */
  reservedTokens?: readonly string[];
}

/**
 * A vocabulary for text (the book's `Vocab`): index 0 is `<unk>`, then the
 * reserved tokens, then the corpus' tokens by falling frequency (ties keep
 * the order of first appearance). Unknown tokens map to `<unk>`.
 *
 * The book's `len(vocab)` is `vocab.length`, `vocab[tokens]` is
 * `vocab.toIndices(tokens)` and `vocab.to_tokens(ids)` is `vocab.toTokens(ids)`.
 *
 * @example
 * const vocab = new d2l.Vocab(d2l.tokenize(lines), { minFreq: 0, reservedTokens: ["<pad>"] });
 * vocab.length;                        // number of distinct tokens + <unk> + reserved
 * vocab.toIndices(["the", "time"]);    // e.g. [2, 20]
 * vocab.toTokens([2, 20]);             // ["the", "time"]
 */
export class Vocab {
  /** Index → token (the book's `idx_to_token`). */
  readonly idxToToken: string[];
  /** Token → index (the book's `token_to_idx`). */
  readonly tokenToIdx: Map<string, number>;
  /** (token, count) pairs by falling count (the book's `token_freqs`). */
  readonly tokenFreqs: ReadonlyArray<readonly [string, number]>;

  constructor(tokens: readonly string[] | readonly (readonly string[])[] = [], options: VocabOptions = {}) {
    const minFreq = options.minFreq ?? 0;
    if (typeof minFreq !== "number" || Number.isNaN(minFreq)) throw new TypeError(`Vocab: minFreq must be a number, got ${String(minFreq)}`);
    const counts = countCorpus(tokens);
    // Array.prototype.sort is stable: ties keep first-appearance order, as Python's sorted on a Counter.
    this.tokenFreqs = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    this.idxToToken = ["<unk>", ...(options.reservedTokens ?? [])];
    this.tokenToIdx = new Map();
    this.idxToToken.forEach((t, i) => {
      if (this.tokenToIdx.has(t)) throw new Error(`Vocab: reserved token ${JSON.stringify(t)} is given twice (or is "<unk>", which is always index 0)`);
      this.tokenToIdx.set(t, i);
    });
    for (const [token, freq] of this.tokenFreqs) {
      if (freq < minFreq) break;
      if (!this.tokenToIdx.has(token)) {
        this.idxToToken.push(token);
        this.tokenToIdx.set(token, this.idxToToken.length - 1);
      }
    }
  }

  /** Number of tokens in the vocabulary (the book's `len(vocab)`). */
  get length(): number {
    return this.idxToToken.length;
  }

  /** Index of `<unk>` (0). */
  get unk(): number {
    return 0;
  }

  /**
   * Indices of tokens (the book's `vocab[tokens]`): one token gives one index,
   * a list gives a list, a list of lines gives a list of lists. Unknown
   * tokens give `unk` (0).
   *
   * @example
   * vocab.toIndices("the"); vocab.toIndices(["the", "time"]);
   */
  toIndices(tokens: string): number;
  toIndices(tokens: readonly string[]): number[];
  toIndices(tokens: readonly (readonly string[])[]): number[][];
  toIndices(tokens: string | readonly string[] | readonly (readonly string[])[]): number | number[] | number[][] {
    if (typeof tokens === "string") return this.tokenToIdx.get(tokens) ?? this.unk;
    if (!Array.isArray(tokens)) throw new TypeError(`Vocab.toIndices expects a token, a list of tokens or a list of token lists, got ${typeof tokens}`);
    return (tokens as readonly (string | readonly string[])[]).map((t) =>
      typeof t === "string" ? (this.tokenToIdx.get(t) ?? this.unk) : this.toIndices(t as readonly string[]),
    ) as number[] | number[][];
  }

  /**
   * Tokens of indices (the book's `to_tokens`): one index gives one token, a
   * list gives a list. An index outside the vocabulary is an error.
   *
   * @example
   * vocab.toTokens([1, 2, 3]).join(" ");
   */
  toTokens(indices: number): string;
  toTokens(indices: readonly number[] | ArrayLike<number>): string[];
  toTokens(indices: number | readonly number[] | ArrayLike<number>): string | string[] {
    const one = (i: number): string => {
      const t = this.idxToToken[i];
      if (!Number.isInteger(i) || t === undefined) throw new RangeError(`Vocab.toTokens: index ${i} is outside the vocabulary (0..${this.length - 1})`);
      return t;
    };
    if (typeof indices === "number") return one(indices);
    return Array.from(indices as ArrayLike<number>, one);
  }
}
