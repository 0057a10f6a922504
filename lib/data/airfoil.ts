/**
 * NASA's airfoil self-noise data (the book's section 11.5), the small
 * regression problem chapter 11 compares its optimizers on: 1,503 rows of
 * five features (frequency, angle of attack, chord length, free-stream
 * velocity, suction-side displacement thickness) and the sound pressure
 * level, tab-separated. The book registers it in `DATA_HUB` in the section
 * that uses it; so does this module (`d2l.DATA_HUB.airfoil`).
 */
import * as fs from "fs";
import * as tf from "@tensorflow/tfjs";
import { DATA_HUB, DATA_URL, download, type HubDownloadOptions } from "./hub";
import { DataLoader, TensorDataset } from "./dataset";

// The book's `d2l.DATA_HUB['airfoil'] = (d2l.DATA_URL + 'airfoil_self_noise.dat', '76e5...')`.
DATA_HUB.airfoil = [DATA_URL + "airfoil_self_noise.dat", "76e5be1548fd8222e5074cf0faae75edff8cf93f"];

/** Options of {@link getDataCh11} beyond the book's arguments. */
export interface GetDataCh11Options extends HubDownloadOptions {
  /** Where the download cache is (default `d2l.cacheRoot()`). */
  cacheDir?: string;
  /** Seed of the loader's shuffle (default: drawn from `Math.random`, as every `DataLoader`'s). */
  seed?: number;
}

/** The rows of the airfoil file as numbers (`np.genfromtxt(..., delimiter='\t')`). */
function parseAirfoil(text: string, file: string): number[][] {
  const rows: number[][] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const fields = line.split("\t");
    const row = fields.map(Number);
    if (row.length !== 6 || row.some((v) => !Number.isFinite(v))) {
      throw new Error(
        `${file}, line ${i + 1}: expected 6 tab-separated numbers (the airfoil data), got ${JSON.stringify(line.slice(0, 80))}; the file is damaged: delete it to download it again`,
      );
    }
    rows.push(row);
  });
  if (rows.length === 0) throw new Error(`${file} holds no rows; delete it to download it again`);
  return rows;
}

/**
 * The airfoil data as the book's `get_data_ch11(batch_size=10, n=1500)`
 * prepares it: every column standardized to mean 0 and variance 1 over all
 * 1,503 rows (numpy's `std`, which divides by n), then the first `n` rows as a
 * shuffled `DataLoader` of `[X, y]` (X `[batch, 5]`, y `[batch]`), and the
 * number of features (5). The file comes from `D2L_DATA_DIR`, the cache or a
 * download (`d2l.download("airfoil")`, SHA-1 checked). The loader owns its
 * tensors: `dataIter.dispose()` frees them.
 *
 * @example
 * const [dataIter, featureDim] = await d2l.getDataCh11(10);
 * featureDim; // 5
 * dataIter.numBatches; // 150
 */
export async function getDataCh11(batchSize = 10, n = 1500, options: GetDataCh11Options = {}): Promise<[DataLoader<[tf.Tensor, tf.Tensor]>, number]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`getDataCh11: batchSize must be a positive integer, got ${String(batchSize)}`);
  if (!Number.isInteger(n) || n < 1) throw new Error(`getDataCh11: n must be a positive integer (the number of rows to use, at most 1503), got ${String(n)}`);
  const file = await download("airfoil", options.cacheDir, options);
  const rows = parseAirfoil(fs.readFileSync(file, "utf8"), file);
  if (n > rows.length) throw new Error(`getDataCh11: n is ${n}, but the airfoil data has ${rows.length} rows; pass n <= ${rows.length}`);
  const cols = rows[0].length;
  // Standardize in float64 over all rows, as (data - data.mean(axis=0)) / data.std(axis=0).
  const mean = new Array<number>(cols).fill(0);
  for (const r of rows) r.forEach((v, j) => (mean[j] += v / rows.length));
  const sd = new Array<number>(cols).fill(0);
  for (const r of rows) r.forEach((v, j) => (sd[j] += (v - mean[j]) ** 2 / rows.length));
  for (let j = 0; j < cols; j++) sd[j] = Math.sqrt(sd[j]);
  const featureDim = cols - 1;
  const X = new Float32Array(n * featureDim);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < featureDim; j++) X[i * featureDim + j] = (rows[i][j] - mean[j]) / sd[j];
    y[i] = (rows[i][featureDim] - mean[featureDim]) / sd[featureDim];
  }
  const dataset = new TensorDataset(tf.tensor2d(X, [n, featureDim]), tf.tensor1d(y));
  const dataIter = new DataLoader(dataset, { batchSize, shuffle: true, seed: options.seed, ownsDataset: true });
  return [dataIter, featureDim];
}
