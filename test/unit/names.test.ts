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
  const rows = fs.readFileSync(README, "utf8").split("\n").filter((l) => /^\|[^|]+\|\s*`/.test(l));
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
    "DATA_HUB", "download", "readCsv", "logRmse", "kFold", "saveTensors", "loadTensors",
    "corr2d", "pool2d", "lenet", "trainCh6", "evaluateAccuracyGpu",
    "alexnet", "vgg", "nin", "googlenet", "batchNorm", "Residual", "resnet18", "densenet",
    "loadDataTimeMachine", "RNNModel", "gradClipping", "predictCh8", "trainCh8",
    "loadDataNmt", "EncoderDecoder", "MaskedSoftmaxCELoss", "trainSeq2seq", "predictSeq2seq", "bleu",
  ];
  assert.deepEqual(must.filter((m) => !names.includes(m)), []);
});

test("every d2l-ts name in the table exists in d2l", () => {
  // dotted names are namespaces: `lr.StepLR` is d2l.lr.StepLR
  const lookup = (name: string): unknown =>
    name.replace(/^d2l\./, "").split(".").reduce<unknown>((o, k) => (o === undefined || o === null ? undefined : (o as Record<string, unknown>)[k]), d2l);
  const missing = tableNames()
    .filter((r) => !r.isType)
    .filter((r) => lookup(r.ours) === undefined)
    .map((r) => `${r.book} -> ${r.ours}`);
  assert.deepEqual(missing, []);
});
