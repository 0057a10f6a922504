// lib/nn: the book's models and layers (chapters 4-10): blocks, CNN builders, recurrent models, encoder-decoder.
// Public names are re-exported by lib/index.ts.
export {};
export { RNNModelScratch, RNNModel } from "./rnn";
export type { RecurrentNet, GetParams, InitState, ForwardFn } from "./rnn";
