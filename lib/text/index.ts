// lib/text: text preprocessing and sequence data (chapters 8-9): corpora, tokenizers, Vocab, sequence loaders, BLEU.
// Public names are re-exported by lib/index.ts.
export { tokenize, countCorpus, Vocab } from "./vocab";
export type { TokenType, VocabOptions } from "./vocab";
export {
  readDataNmt,
  readNmtText,
  preprocessNmt,
  tokenizeNmt,
  showListLenPairHist,
  truncatePad,
  buildArrayNmt,
  loadDataNmt,
  NmtDataLoader,
  FRA_ENG_URL,
  FRA_ENG_SHA1,
} from "./nmt";
export type { NmtCorpus, NmtOptions, NmtText, NmtBatch } from "./nmt";
export { bleu } from "./bleu";
export { readTimeMachine, loadCorpusTimeMachine, TIME_MACHINE_URL, TIME_MACHINE_SHA1 } from "./timeMachine";
export type { TimeMachineOptions } from "./timeMachine";
export { seqDataIterRandom, seqDataIterSequential, SeqDataLoader, loadDataTimeMachine } from "./sequence";
export type { SeqDataLoaderOptions } from "./sequence";
export { PaddedLoader } from "./padded";
export type { PaddedLoaderOptions } from "./padded";
export { preprocessEmail, readSpamAssassin, loadDataSpamAssassin, SPAM_ASSASSIN_LABELS } from "./spamAssassin";
export type { SpamAssassinCorpus, SpamAssassinOptions, SpamAssassinData } from "./spamAssassin";
export { readImdb, loadDataImdb, imdbDir, IMDB_URL, IMDB_CHECKSUMS } from "./imdb";
export type { ImdbOptions } from "./imdb";
export {
  readPtb,
  subsample,
  getCentersAndContexts,
  RandomGenerator,
  getNegatives,
  batchify,
  PtbDataLoader,
  loadDataPtb,
  skipGram,
  SigmoidBCELoss,
  getSimilarTokens,
} from "./word2vec";
export type { PtbOptions, LoadDataPtbOptions, PtbBatch, Word2vecExample } from "./word2vec";
