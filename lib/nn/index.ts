// lib/nn: the book's models and layers (chapters 4-10): blocks, CNN builders, recurrent models, encoder-decoder.
// Public names are re-exported by lib/index.ts.
export { corr2d, corr2dMultiIn, corr2dMultiInOut, corr2dMultiInOut1x1, pool2d, lenet } from "./cnn";
export type { PoolMode } from "./cnn";
// chapter 7, modern CNNs (lib/nn/modern.ts, lib/nn/batchNorm.ts)
export { alexnet, vggBlock, vgg, ninBlock, nin, Inception, googlenet, Residual, resnetBlock, resnet18, convBlock, DenseBlock, transitionBlock, densenet } from "./modern";
export type { ModelOptions, ResNet18Options } from "./modern";
export { batchNorm, BatchNorm } from "./batchNorm";
export { initKaiming, initXavier } from "./init";
export { Encoder, Decoder, EncoderDecoder, Seq2SeqEncoder, Seq2SeqDecoder, sequenceMask, MaskedSoftmaxCELoss } from "./encoderDecoder";
export { RNNModelScratch, RNNModel } from "./rnn";
export type { RecurrentNet, GetParams, InitState, ForwardFn } from "./rnn";
// chapter 10, attention mechanisms (lib/nn/attention.ts)
export { maskedSoftmax, AdditiveAttention, DotProductAttention, transposeQkv, transposeOutput, MultiHeadAttention, PositionalEncoding } from "./attention";
