// lib/nn: the book's models and layers (chapters 4-10): blocks, CNN builders, recurrent models, encoder-decoder.
// Public names are re-exported by lib/index.ts.
export { corr2d, corr2dMultiIn, corr2dMultiInOut, corr2dMultiInOut1x1, pool2d, lenet } from "./cnn";
export type { PoolMode } from "./cnn";
// chapter 7, modern CNNs (lib/nn/modern.ts, lib/nn/batchNorm.ts)
export { alexnet, vggBlock, vgg, ninBlock, nin, Inception, googlenet, Residual, resnetBlock, resnet18, convBlock, DenseBlock, transitionBlock, densenet } from "./modern";
export type { ModelOptions, ResNet18Options } from "./modern";
export { batchNorm, BatchNorm } from "./batchNorm";
export { dropout } from "./dropout";
export { initKaiming, initXavier } from "./init";
export { Block, Encoder, Decoder, EncoderDecoder, Seq2SeqEncoder, Seq2SeqDecoder, sequenceMask, MaskedSoftmaxCELoss } from "./encoderDecoder";
export { RNNModelScratch, RNNModel } from "./rnn";
export type { RecurrentNet, GetParams, InitState, ForwardFn } from "./rnn";
// chapter 10, attention mechanisms (lib/nn/attention.ts)
export { maskedSoftmax, AdditiveAttention, DotProductAttention, transposeQkv, transposeOutput, MultiHeadAttention, PositionalEncoding } from "./attention";
// d2l 1.0's section 11.8, the Vision Transformer (lib/nn/vit.ts)
export { PatchEmbedding, ViTMLP, ViTBlock, ViT } from "./vit";
export type { ViTOptions } from "./vit";
// chapter 10, decoders with attention and the Transformer (lib/nn/transformer.ts)
export { AttentionDecoder, Seq2SeqAttentionDecoder, PositionWiseFFN, AddNorm, EncoderBlock, TransformerEncoder, DecoderBlock, TransformerDecoder } from "./transformer";
export type { Seq2SeqAttentionState, TransformerDecoderState } from "./transformer";
// section 15.3, textCNN (lib/nn/textcnn.ts)
export { TextCNN } from "./textcnn";
export type { TextCNNOptions } from "./textcnn";
// the course notes' layer catalogue: convolution, pooling and upsampling variants (issue 22)
export { dilatedConv2d, groupConv2d, GroupConv2d, deformConv2d, DeformConv2d } from "./convVariants";
export type { Size2, ConvVariantArgs } from "./convVariants";
export { StochasticPool2d, stochasticPool2d, GlobalAvgPool2d, maxPoolWithArgmax, maxUnpool2d, MaxUnpool2d } from "./pooling";
export type { StochasticPool2dArgs } from "./pooling";
export { Upsample, transConv, bilinearKernel } from "./upsampling";
export type { UpsampleArgs } from "./upsampling";
