/**
 * Quick mode (`D2L_QUICK=1`): how CI runs every notebook in minutes with the
 * book's code on the page. The library shrinks the run, not the notebook
 * (d2l-java does the same with its `DATASET_LIMIT` and `MAX_EPOCH`):
 *
 * - the data loaders take a subset (Fashion-MNIST: the first 15,000 training
 *   and 2,000 test images; IMDb and the spam corpus: 2,000 texts);
 * - the training functions train at most a few epochs ({@link QUICK_EPOCHS}),
 *   and say so in one line.
 *
 * A notebook whose quick run needs more than that (smaller images for AlexNet,
 * a larger learning rate for three epochs of a language model) keeps the
 * book's numbers in a cell tagged `parameters`; the test harness puts its
 * quick values (the cell's `metadata.d2l.quick`) in a cell after it. Nothing on
 * the page branches on quick mode.
 */
import { say } from "./data/download";

/**
 * True when the library runs in quick mode (`D2L_QUICK=1` or `true`): small
 * data, few epochs. No book equivalent (d2l-java's `DATASET_LIMIT` and
 * `MAX_EPOCH` play this part). Notebooks do not need it: the loaders and the
 * training functions read it themselves.
 *
 * @example
 * d2l.isQuick(); // false, unless D2L_QUICK=1 is set
 */
export function isQuick(): boolean {
  const v = (process.env.D2L_QUICK ?? "").trim().toLowerCase();
  return v === "1" || v === "true";
}

/**
 * The most epochs each training function trains in quick mode (d2l-java's
 * `MAX_EPOCH`), chosen so that every notebook's quick run still shows its
 * model learning: softmax regression and MLPs 2 of the book's 10, CNNs 1, the
 * chapter-8/9 language models 3 of 500, seq2seq 12 of 300; chapter 11's airfoil trainers
 * none of the book's (at most 10 and 4 epochs: the book's settings run in seconds). `d2l.fit` and
 * `Engine.fit` cut only when given `quickEpochs`; house prices' `train` and
 * `kFold` train the book's epochs (the data set is small).
 *
 * @example
 * d2l.QUICK_EPOCHS.trainCh6; // 1
 */
export const QUICK_EPOCHS = Object.freeze({ trainCh3: 2, trainCh6: 1, trainCh8: 3, trainSeq2seq: 12, trainCh11: 10, trainConciseCh11: 4 });

/**
 * The number of epochs to train: `numEpochs`, or in quick mode at most `max`
 * (a line says so when it cuts). The training functions call it; a loop of
 * your own may too. No book equivalent.
 *
 * @example
 * // in quick mode: prints "D2L_QUICK=1: myLoop trains 2 of the 10 epochs asked for." and returns 2
 * const numEpochs = d2l.quickEpochs(10, 2, "myLoop");
 */
export function quickEpochs(numEpochs: number, max: number, who = "the loop"): number {
  if (!(Number.isInteger(max) && max >= 1)) throw new Error(`quickEpochs: max must be a positive integer, got ${String(max)}`);
  if (!isQuick() || !(numEpochs > max)) return numEpochs;
  say(`D2L_QUICK=1: ${who} trains ${max} of the ${numEpochs} epochs asked for.`);
  return max;
}
