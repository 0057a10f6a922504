/**
 * Every d2l-ts name in the book-name table of lib/README.md exists in the
 * library users see as `d2l` (types are checked by the compiler instead).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as d2l from "../../lib/index";

const README = path.resolve(__dirname, "../../../lib/README.md");

function tableNames(): { book: string; ours: string; isType: boolean }[] {
  // the table's rows: a d2l-ts name in backticks in the second cell (the header and the |---| line have none)
  const rows = fs
    .readFileSync(README, "utf8")
    .split("\n")
    .filter((l) => /^\|[^|]+\|\s*`/.test(l));
  return rows.map((row) => {
    const cells = row.split("|").map((c) => c.trim());
    const ours = /`([^`]+)`/.exec(cells[2] ?? "");
    assert.ok(ours, `a row of the name table without a d2l-ts name: ${row}`);
    return { book: cells[1], ours: ours[1], isType: /\(a type\)/.test(cells[2]) };
  });
}

test("the name table lists the book's chapter 2-3 helpers", () => {
  const names = tableNames().map((r) => r.ours);
  assert.ok(names.length >= 20, `only ${names.length} rows`);
  for (const must of ["trainCh3", "loadDataFashionMnist", "Animator", "Accumulator", "evaluateAccuracy", "tryGpu"]) {
    assert.ok(names.includes(must), `${must} missing from the table`);
  }
});

test("the name table lists the helpers of chapters 4-9 (issues 6 and 7), so a bad merge cannot drop them unnoticed", () => {
  const names = tableNames().map((r) => r.ours);
  const must = [
    "DATA_HUB",
    "download",
    "readCsv",
    "logRmse",
    "kFold",
    "saveTensors",
    "loadTensors",
    "corr2d",
    "pool2d",
    "lenet",
    "trainCh6",
    "evaluateAccuracyGpu",
    "alexnet",
    "vgg",
    "nin",
    "googlenet",
    "batchNorm",
    "Residual",
    "resnet18",
    "densenet",
    "loadDataTimeMachine",
    "RNNModel",
    "gradClipping",
    "predictCh8",
    "trainCh8",
    "loadDataNmt",
    "EncoderDecoder",
    "MaskedSoftmaxCELoss",
    "trainSeq2seq",
    "predictSeq2seq",
    "bleu",
  ];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("the name table lists torch.optim's optimizers in d2l.optim (issue 16), so a bad merge cannot drop them unnoticed", () => {
  const names = tableNames().map((r) => r.ours);
  const must = ["optim.Optimizer", "optim.SGD", "optim.Adagrad", "optim.RMSprop", "optim.Adadelta", "optim.Adam", "optim.AdamW", "optim.Adamax"];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("the name table lists the seeds and data loading of issue 16, so a bad merge cannot drop them unnoticed", () => {
  const names = tableNames().map((r) => r.ours);
  const must = ["seed", "initialSeed", "getRandomState", "setRandomState", "RandomState", "Dataset", "DataLoader", "PreprocessContext", "PlainValue"];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("the name table lists the control, checkpoint, logging and regularization callbacks of issue 16, so a bad merge cannot drop them unnoticed", () => {
  const names = tableNames().map((r) => r.ours);
  const must = ["EarlyStopping", "ModelCheckpoint", "resume", "CSVLogger", "JsonlLogger", "readRunLog", "plotRuns", "WeightDecay", "L1Decay", "L2Decay"];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("the name table lists chapter 11's optimization helpers (issue 16), so a bad merge cannot drop them unnoticed", () => {
  const names = tableNames().map((r) => r.ours);
  const must = [
    "train2d",
    "showTrace2d",
    "getDataCh11",
    "sgdCh11",
    "trainCh11",
    "trainConciseCh11",
    "initMomentumStates",
    "sgdMomentum",
    "initAdagradStates",
    "adagrad",
    "initRmspropStates",
    "rmsprop",
    "initAdadeltaStates",
    "adadelta",
    "initAdamStates",
    "adam",
    "yogi",
  ];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("the name table lists the learning-rate schedules of issue 16 (torch's, Paddle's, the book's) and their callback", () => {
  const names = tableNames().map((r) => r.ours);
  const must = [
    "lr.LRScheduler",
    "lr.LambdaLR",
    "lr.MultiplicativeLR",
    "lr.StepLR",
    "lr.MultiStepLR",
    "lr.ConstantLR",
    "lr.LinearLR",
    "lr.ExponentialLR",
    "lr.PolynomialLR",
    "lr.CosineAnnealingLR",
    "lr.CosineAnnealingWarmRestarts",
    "lr.CyclicLR",
    "lr.OneCycleLR",
    "lr.SequentialLR",
    "lr.ChainedScheduler",
    "lr.ReduceLROnPlateau",
    "lr.NoamDecay",
    "lr.PiecewiseDecay",
    "lr.NaturalExpDecay",
    "lr.InverseTimeDecay",
    "lr.PolynomialDecay",
    "lr.LinearWarmup",
    "lr.ExponentialDecay",
    "lr.MultiStepDecay",
    "lr.StepDecay",
    "lr.LambdaDecay",
    "lr.MultiplicativeDecay",
    "lr.CosineAnnealingDecay",
    "lr.ReduceOnPlateau",
    "lr.SquareRootScheduler",
    "lr.FactorScheduler",
    "lr.MultiFactorScheduler",
    "lr.CosineScheduler",
    "lr.plot",
    "lr.curve",
    "lr.withLearningRate",
    "LRSchedulerCallback",
  ];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("the name table lists the losses of issue 16 (d2l.losses) and distillation, so a bad merge cannot drop them unnoticed", () => {
  const names = tableNames().map((r) => r.ours);
  const must = [
    "losses.zeroOneLoss",
    "losses.crossEntropy",
    "losses.nllLoss",
    "losses.mseLoss",
    "losses.l1Loss",
    "losses.huberLoss",
    "losses.smoothL1Loss",
    "losses.binaryCrossEntropy",
    "losses.binaryCrossEntropyWithLogits",
    "losses.logisticLoss",
    "losses.softMarginLoss",
    "losses.sigmoidFocalLoss",
    "losses.focalLoss",
    "losses.multiMarginLoss",
    "losses.hingeLoss",
    "losses.diceLoss",
    "losses.wingLoss",
    "losses.klDiv",
    "losses.centerLoss",
    "losses.CenterLoss",
    "losses.arcFaceLogits",
    "losses.arcFaceLoss",
    "losses.ArcFace",
    "distillationLoss",
    "trainDistillation",
  ];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("the name table lists word2vec's helpers (issue 17, sections 14.3-14.4)", () => {
  const names = tableNames().map((r) => r.ours);
  const must = [
    "readPtb",
    "subsample",
    "getCentersAndContexts",
    "RandomGenerator",
    "getNegatives",
    "batchify",
    "loadDataPtb",
    "PtbDataLoader",
    "skipGram",
    "SigmoidBCELoss",
    "getSimilarTokens",
  ];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("the name table lists the attention helpers (issue 17, sections 10.1-10.6)", () => {
  const names = tableNames().map((r) => r.ours);
  const must = ["showHeatmaps", "maskedSoftmax", "AdditiveAttention", "DotProductAttention", "transposeQkv", "transposeOutput", "MultiHeadAttention", "PositionalEncoding"];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("the name table lists the decoders with attention and the Transformer (issue 17, sections 10.4 and 10.7)", () => {
  const names = tableNames().map((r) => r.ours);
  const must = ["AttentionDecoder", "Seq2SeqAttentionDecoder", "PositionWiseFFN", "AddNorm", "EncoderBlock", "TransformerEncoder", "DecoderBlock", "TransformerDecoder"];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("the name table lists the ViT and textCNN models (issue 17; d2l 1.0 section 11.8, section 15.3)", () => {
  const names = tableNames().map((r) => r.ours);
  const must = ["PatchEmbedding", "ViTMLP", "ViTBlock", "ViT", "TextCNN"];
  assert.deepEqual(
    must.filter((m) => !names.includes(m)),
    [],
  );
});

test("every d2l-ts name in the table exists in d2l", () => {
  // dotted names are namespaces: `lr.StepLR` is d2l.lr.StepLR
  const lookup = (name: string): unknown =>
    name
      .replace(/^d2l\./, "")
      .split(".")
      .reduce<unknown>((o, k) => (o === undefined || o === null ? undefined : (o as Record<string, unknown>)[k]), d2l);
  const missing = tableNames()
    .filter((r) => !r.isType)
    .filter((r) => lookup(r.ours) === undefined)
    .map((r) => `${r.book} -> ${r.ours}`);
  assert.deepEqual(missing, []);
});
