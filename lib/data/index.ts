// lib/data: datasets, the minibatch loader, synthetic data, Fashion-MNIST and the download cache.
// Public names are re-exported by lib/index.ts.
export { TensorDataset, DataLoader } from "./dataset";
export type { Dataset, BatchDataset, DataIter, DataLoaderOptions, ArrayColumn, ExampleValue } from "./dataset";
export type { HostTensor, PlainValue, TypedArray, NestedNumbers } from "./collate";
export type { PreprocessContext } from "./preprocess";
export { syntheticData, loadArray } from "./synthetic";
export { parseIdx, readIdxFile, CorruptFileError } from "./idx";
export type { IdxArray, IdxExpectation } from "./idx";
export { downloadFile, DownloadError, cacheRoot, fileDigests, checksumMatches, formatBytes } from "./download";
export type { Checksums, DownloadOptions, FileDigests } from "./download";
export {
  loadDataFashionMnist,
  readFashionMnist,
  fashionMnistFromPackage,
  getFashionMnistLabels,
  FASHION_MNIST_FILES,
  FASHION_MNIST_URL,
  FASHION_MNIST_CHECKSUMS,
} from "./fashionMnist";
export type { FashionMnistOptions, FashionMnistRaw, FashionMnistSplit } from "./fashionMnist";
export { DataFrame, readCsv, parseCsv, concat, getDummies, CsvError, DEFAULT_NA_VALUES } from "./frame";
export type { FrameColumn, FrameDtype, ReadCsvOptions, GetDummiesOptions } from "./frame";
export { DATA_HUB, DATA_URL, download } from "./hub";
export type { DataHubEntry, HubDownloadOptions } from "./hub";
export { preprocessKaggleHouse, loadDataKaggleHouse } from "./housePrices";
export type { KaggleHouseFeatures, KaggleHouseData } from "./housePrices";
export * from "./airfoil";
export { Subset, randomSplit } from "./subset";
export * as transforms from "./transforms";
