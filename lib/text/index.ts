// lib/text: text preprocessing and sequence data (chapters 8-9): corpora, tokenizers, Vocab, sequence loaders, BLEU.
// Public names are re-exported by lib/index.ts.
export { tokenize, countCorpus, Vocab } from "./vocab";
export type { TokenType, VocabOptions } from "./vocab";
