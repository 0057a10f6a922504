// lib/nn: the book's models and layers (chapters 4-10): blocks, CNN builders, recurrent models, encoder-decoder.
// Public names are re-exported by lib/index.ts.
export {};
// chapter 7, modern CNNs (lib/nn/modern.ts, lib/nn/batchNorm.ts)
export { alexnet, vggBlock, vgg, ninBlock, nin, Inception, googlenet, Residual, resnetBlock, resnet18, convBlock, DenseBlock, transitionBlock, densenet } from "./modern";
export type { ModelOptions, ResNet18Options } from "./modern";
export { batchNorm, BatchNorm } from "./batchNorm";
export { initKaiming } from "./init";
