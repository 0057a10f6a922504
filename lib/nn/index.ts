// lib/nn: the book's models and layers (chapters 4-10): blocks, CNN builders, recurrent models, encoder-decoder.
// Public names are re-exported by lib/index.ts.
export {};
export { Encoder, Decoder, EncoderDecoder, Seq2SeqEncoder, Seq2SeqDecoder, sequenceMask, MaskedSoftmaxCELoss } from "./encoderDecoder";
