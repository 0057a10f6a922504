/**
 * Kaggle's house prices (the book's section 4.10): reading the two CSV files
 * from {@link DATA_HUB} and the book's preprocessing, in one place so that a
 * notebook and a benchmark prepare the data the same way.
 */
import type * as tf from "@tensorflow/tfjs";
import { DataFrame, concat, readCsv } from "./frame";
import { download, type HubDownloadOptions } from "./hub";

/** What {@link preprocessKaggleHouse} returns. */
export interface KaggleHouseFeatures {
  /** All features after preprocessing, training rows first (2919 x 331 for the full data). */
  allFeatures: DataFrame;
  /** The training rows' features, float32 `[nTrain, numFeatures]`. */
  trainFeatures: tf.Tensor2D;
  /** The test rows' features, float32 `[nTest, numFeatures]`. */
  testFeatures: tf.Tensor2D;
  /** The training prices, float32 `[nTrain, 1]`. */
  trainLabels: tf.Tensor2D;
}

/**
 * The book's preprocessing of the house data (section 4.10): drop `Id` (and
 * `SalePrice` from the training rows); stack training and test features;
 * rescale each numeric feature to zero mean and unit variance (over both
 * sets), then fill its missing values with 0 (the mean); one-hot encode the
 * text features with a `_nan` column for missing values
 * (`pd.get_dummies(..., dummy_na=True)`); convert to float32 tensors.
 *
 * @example
 * const { trainFeatures, testFeatures, trainLabels } = d2l.preprocessKaggleHouse(trainData, testData);
 * trainFeatures.shape; // [1460, 331]
 */
export function preprocessKaggleHouse(trainData: DataFrame, testData: DataFrame, label = "SalePrice"): KaggleHouseFeatures {
  if (!trainData.columns.includes(label)) throw new Error(`preprocessKaggleHouse: the training data has no "${label}" column; pass the frame read from kaggle_house_train`);
  if (trainData.columns[0] !== "Id" || testData.columns[0] !== "Id") {
    throw new Error(`preprocessKaggleHouse: expected "Id" as the first column of both frames, got "${trainData.columns[0]}" and "${testData.columns[0]}"`);
  }
  let allFeatures = concat([trainData.drop(["Id", label]), testData.drop(["Id"])]);
  const numericFeatures = allFeatures.numericColumns();
  allFeatures = allFeatures.standardize(numericFeatures).fillna(0, numericFeatures);
  allFeatures = allFeatures.getDummies({ dummyNa: true });
  const nTrain = trainData.numRows;
  const trainFeatures = allFeatures.iloc(`0:${nTrain}`).toTensor();
  const testFeatures = allFeatures.iloc(`${nTrain}:`).toTensor();
  const trainLabels = trainData.select([label]).toTensor();
  return { allFeatures, trainFeatures, testFeatures, trainLabels };
}

/** What {@link loadDataKaggleHouse} returns: the raw frames and the preprocessed tensors. */
export interface KaggleHouseData extends KaggleHouseFeatures {
  /** The training file as read (1460 x 81). */
  trainData: DataFrame;
  /** The test file as read (1459 x 80). */
  testData: DataFrame;
}

/**
 * Download (or find) and read both house-price files and preprocess them
 * (see {@link preprocessKaggleHouse}). d2l-ts' own: the book does these steps
 * in the notebook; this is for code that needs the data in one call.
 *
 * @example
 * const { trainFeatures, trainLabels } = await d2l.loadDataKaggleHouse();
 * await d2l.kFold(5, trainFeatures, trainLabels, 100, 5, 0, 64);
 */
export async function loadDataKaggleHouse(options: HubDownloadOptions & { cacheDir?: string } = {}): Promise<KaggleHouseData> {
  const trainData = readCsv(await download("kaggle_house_train", options.cacheDir, options));
  const testData = readCsv(await download("kaggle_house_test", options.cacheDir, options));
  return { trainData, testData, ...preprocessKaggleHouse(trainData, testData) };
}
