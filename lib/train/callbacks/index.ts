// lib/train/callbacks: the engine's behaviours, one small class each, by concern.
export { NaNCheck, InterruptCheck, where } from "./guards";
export { AnimatorCallback, ProgressCallback, PrintSummary, backendDescription, summaryLines } from "./display";
export type { AnimatorCallbackOptions, ProgressCallbackOptions } from "./display";
export { gradClipping, GradClippingCallback } from "./gradients";
export { WeightDecay, L1Decay, L2Decay } from "./regularization";
export type { RegularizationOptions } from "./regularization";
export * from "./control";
export * from "./checkpoints";
export * from "./logging";
export * from "./schedules";
