// lib/train: the book's training helpers (chapters 3.1–3.7) and the one training engine.
// Public names are re-exported by lib/index.ts.
export { Accumulator, Timer } from "./accumulator";
export { linreg, squaredLoss, softmax, crossEntropy, accuracy, sgd } from "./scratch";
export { backward } from "./grads";
export { evaluateAccuracy, evaluateLoss } from "./evaluate";
export { Engine, fit } from "./engine";
export type { EngineOptions, FitOptions, FitResult, BatchLoss, BatchLossResult } from "./engine";
export type { Callback, TrainState, EpochLog, BatchIter } from "./callback";
export { AnimatorCallback, ProgressCallback, PrintSummary, NaNCheck, InterruptCheck, GradClippingCallback, gradClipping, WeightDecay, L1Decay, L2Decay } from "./callbacks/index";
export type { RegularizationOptions } from "./callbacks/index";
export type { AnimatorCallbackOptions, ProgressCallbackOptions } from "./callbacks/index";
export * from "./callbacks/control";
export * from "./callbacks/checkpoints";
export * from "./callbacks/logging";
export * from "./callbacks/schedules";
export type { AnimatorLike, AnimatorSpec, ProgressBarLike } from "./ui";
export { trainEpochCh3, trainCh3, predictCh3 } from "./ch3";
export type { TrainCh3Options, TrainCh3Result, PredictCh3Result } from "./ch3";
export type { Net, Loss, Updater, Param } from "./types";
export { evaluateAccuracyGpu, trainCh6 } from "./ch6";
export type { Ch6Init, TrainCh6Options, TrainCh6Result } from "./ch6";
export { logRmse, train, getKFoldData, kFold } from "./kfold";
export type { HouseTrainOptions, KFoldOptions } from "./kfold";
export { trainSeq2seq, predictSeq2seq, predictSeq2seqBeam } from "./seq2seq";
export type { TrainSeq2seqOptions, TrainSeq2seqResult, BeamSearchOptions, BeamCandidate, BeamSearchResult } from "./seq2seq";
export { predictCh8, trainEpochCh8, trainCh8 } from "./ch8";
export type { TrainCh8Options, TrainCh8Result } from "./ch8";
