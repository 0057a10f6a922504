/**
 * d2l: the *Dive into Deep Learning* helper library for TensorFlow.js, with
 * the book's names in TypeScript's casing. Every kernel cell sees it as `d2l`.
 */
export { ready, useBackend, backendInfo, tryGpu, tryAllGpus, numGpus } from "./backend";
export type { BackendInfo, BackendName, UseBackendOptions } from "./backend";
export { readsSync } from "./read";
export { interruptGuard, InterruptedError, atCellEnd } from "./interrupt";
export type { InterruptGuard } from "./interrupt";
export { inKernel, LiveOutput, showBundle } from "./output";
export type { MimeBundle } from "./output";
export { isQuick, quickEpochs, QUICK_EPOCHS } from "./quick";
export * from "./seed";
export * as optim from "./train/optimizers";
export * as lr from "./train/schedules";
export * as losses from "./train/losses";
export * from "./train/distill";
export * from "./train/ch11";
export * from "./data/index";
export * from "./train/index";
export * from "./plot/index";
export { check, checkClose, inSubmission, CHECK_MIME, type CheckResult, type CheckCondition, type CheckOutcome, type CheckCloseOptions, type Numeric } from "./check";
export { REPORT_METADATA_KEY, environment, describeEnvironment, recordEnvironment, showSummary, packageRoot } from "./report";
export type { RunEnvironment, ReportRecord } from "./report";
export * from "./nn/index";
export * from "./vision/index";
export * from "./text/index";
export { saveTensors, loadTensors, fileIO, TensorFileError } from "./io";
export type { TensorTree } from "./io";
