/**
 * Knowledge distillation (Hinton, Vinyals and Dean 2015, "Distilling the
 * Knowledge in a Neural Network"): a small student learns from a large
 * teacher's softened predictions as well as from the labels.
 * {@link distillationLoss} is the loss; {@link trainDistillation} trains a
 * student against a frozen teacher on the training engine (through `trainCh3`).
 */
import * as tf from "@tensorflow/tfjs";
import { crossEntropy, klDiv, type Reduction } from "./losses";
import { trainCh3, type TrainCh3Options, type TrainCh3Result } from "./ch3";
import { checkIter } from "./evaluate";
import { type DataIter, type Net, type Updater, isLayersModel, forward, shapeStr } from "./types";

/** Options of {@link distillationLoss}. */
export interface DistillationOptions {
  /** The temperature T that softens both softmaxes (default 2). */
  temperature?: number;
  /** The weight α of the teacher's (soft) term; the labels' term gets 1 − α (default 0.5). */
  alpha?: number;
  /** `"none"` (one value per example: what the engine takes), `"mean"` (default) or `"sum"`. */
  reduction?: Reduction;
}

function distillOptions(fn: string, o: DistillationOptions): { T: number; alpha: number } {
  if (o === null || typeof o !== "object") throw new Error(`${fn}: options must be an object { temperature, alpha, reduction }`);
  const T = o.temperature ?? 2;
  if (typeof T !== "number" || !(T > 0) || !Number.isFinite(T)) throw new Error(`${fn}: temperature must be a positive number, got ${JSON.stringify(o.temperature)}`);
  const alpha = o.alpha ?? 0.5;
  if (typeof alpha !== "number" || !(alpha >= 0 && alpha <= 1))
    throw new Error(`${fn}: alpha must be a number in [0, 1] (the teacher's share of the loss), got ${JSON.stringify(o.alpha)}`);
  return { T, alpha };
}

/**
 * The distillation loss of Hinton et al. (2015), per example:
 * `alpha · T² · KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − alpha) · CE(student, labels)`.
 * `alpha` weighs the teacher's soft targets, `1 − alpha` the hard labels (the
 * convention of the PyTorch and Keras distillation tutorials' "soft target"
 * weight); T² keeps the soft term's gradients on the scale of the hard term's
 * as T changes (the paper's section 2). Logits `[N, C]` (both the same shape),
 * labels class indices `[N]`; with `alpha: 1` the labels may be left out
 * (`null`). Computed from log-softmaxes (through `d2l.losses.klDiv` and
 * `d2l.losses.crossEntropy`), so large logits are fine. PyTorch has no such
 * function; its tutorial writes the same sum by hand.
 *
 * @example
 * const l = d2l.distillationLoss(studentLogits, teacherLogits, y, { temperature: 4, alpha: 0.9 });
 * // per example, for the training engine:
 * d2l.distillationLoss(studentLogits, teacherLogits, y, { temperature: 4, alpha: 0.9, reduction: "none" }); // [N]
 */
export function distillationLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, labels: tf.Tensor | null | undefined, options: DistillationOptions = {}): tf.Tensor {
  const fn = "distillationLoss";
  if (!(studentLogits instanceof tf.Tensor)) throw new Error(`${fn}: expected studentLogits to be a tf.Tensor, got ${typeof studentLogits}`);
  if (!(teacherLogits instanceof tf.Tensor)) throw new Error(`${fn}: expected teacherLogits to be a tf.Tensor, got ${typeof teacherLogits}`);
  if (studentLogits.rank < 1 || studentLogits.shape.join() !== teacherLogits.shape.join() || studentLogits.rank !== teacherLogits.rank) {
    throw new Error(
      `${fn}: the student's logits ${shapeStr(studentLogits.shape)} and the teacher's ${shapeStr(teacherLogits.shape)} must have the same shape [N, C] (the same classes, in the same order)`,
    );
  }
  const { T, alpha } = distillOptions(fn, options);
  const reduction = options.reduction ?? "mean";
  if (!["none", "mean", "sum"].includes(reduction)) throw new Error(`${fn}: reduction must be "none", "mean" or "sum", got ${JSON.stringify(options.reduction)}`);
  if (alpha < 1 && !(labels instanceof tf.Tensor)) {
    throw new Error(
      `${fn}: labels are needed when alpha < 1 (the hard-label term weighs 1 - alpha = ${1 - alpha}); pass class indices [N], or alpha: 1 to learn from the teacher alone`,
    );
  }
  return tf.tidy(() => {
    const logS = tf.logSoftmax(tf.div(studentLogits.toFloat(), T), -1);
    const logT = tf.logSoftmax(tf.div(teacherLogits.toFloat(), T), -1);
    const kl = tf.sum(klDiv(logS, logT, { logTarget: true, reduction: "none" }), -1);
    let l = tf.mul(kl, alpha * T * T);
    if (alpha < 1) l = tf.add(l, tf.mul(crossEntropy(studentLogits, labels as tf.Tensor, { reduction: "none" }), 1 - alpha));
    if (reduction === "none") return l;
    return reduction === "sum" ? tf.sum(l) : tf.mean(l);
  });
}

/** Options of {@link trainDistillation}: those of `trainCh3` and of the loss. */
export interface TrainDistillationOptions extends TrainCh3Options {
  /** The temperature T (default 2). */
  temperature?: number;
  /** The teacher's share α of the loss (default 0.5). */
  alpha?: number;
}

/**
 * Train a student net against a frozen teacher (Hinton et al. 2015's
 * distillation) with `trainCh3`: the same Animator, progress bar, summary
 * lines, callbacks and quick mode, the student's train and test accuracy, and
 * the same result. The loss is {@link distillationLoss} (`temperature`,
 * `alpha`) on the student's logits, the teacher's and the labels.
 *
 * The teacher is frozen and in inference mode: it runs once per training
 * batch, as `teacher.apply(X, { training: false })` (or `teacher(X, false)`
 * for a function net), outside the gradient tape, so its weights are never
 * trained and its dropout and batch norm behave as at test time. The training
 * iterator is seen through a thin wrapper that computes those logits as each
 * batch comes (everything else of the iterator, such as a DataLoader's
 * `epoch`, passes through).
 *
 * The student is a `tf.LayersModel` (its trainable weights are trained) or a
 * function net with `params`. `updater` as `trainCh3`'s. In quick mode
 * (`D2L_QUICK=1`) it trains at most `QUICK_EPOCHS.trainCh3` epochs, as `trainCh3`.
 * (The engine's `batchLoss` option is not used: it would give up the test
 * iterator and the accuracies `trainCh3` reports.)
 *
 * @example
 * const [trainIter, testIter] = await d2l.loadDataFashionMnist(256);
 * // teacher: a trained larger net; student: a small one
 * const r = await d2l.trainDistillation(student, teacher, trainIter, testIter, 10, tf.train.sgd(0.1), { temperature: 4, alpha: 0.9 });
 * r.testAcc;
 */
export async function trainDistillation(
  student: Net,
  teacher: Net,
  trainIter: DataIter,
  testIter: DataIter,
  numEpochs: number,
  updater: Updater,
  options: TrainDistillationOptions = {},
): Promise<TrainCh3Result> {
  const fn = "trainDistillation";
  if (!isLayersModel(student) && typeof student !== "function")
    throw new Error(`${fn}: the student must be a tf.LayersModel or a function net (X) => logits, got ${student === null ? "null" : typeof student}`);
  if (!isLayersModel(teacher) && typeof teacher !== "function")
    throw new Error(`${fn}: the teacher must be a tf.LayersModel or a function net (X) => logits, got ${teacher === null ? "null" : typeof teacher}`);
  if (student === teacher) throw new Error(`${fn}: the student and the teacher are the same net; distill into a separate (usually smaller) student`);
  if (!isLayersModel(student) && options.params === undefined) {
    throw new Error(`${fn}: a function student needs params (its tf.variable parameters), so that the teacher's variables are not trained with it`);
  }
  const { temperature, alpha, ...ch3 } = options;
  distillOptions(fn, { temperature, alpha });
  checkIter(trainIter, "training");
  const withTeacher = new TeacherLogits(teacher, trainIter);
  const loss = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => {
    const t = withTeacher.current;
    if (t === undefined || t.isDisposed || t.shape[0] !== yHat.shape[0]) {
      throw new Error(`${fn}: the teacher's logits for this batch are missing; the distillation loss works only on the training batches trainDistillation gives it`);
    }
    return distillationLoss(yHat, t, y, { temperature, alpha, reduction: "none" });
  };
  try {
    return await trainCh3(student, withTeacher.iter, testIter, loss, numEpochs, updater, ch3);
  } finally {
    withTeacher.dispose();
  }
}

/**
 * The training iterator as the engine sees it in {@link trainDistillation}:
 * the same object (a Proxy: `numBatches`, `epoch`, methods pass through),
 * whose batches come with the teacher's logits, computed outside any gradient
 * tape and kept until the next batch.
 */
class TeacherLogits {
  current: tf.Tensor | undefined;
  readonly iter: DataIter;

  constructor(
    private readonly teacher: Net,
    source: DataIter,
  ) {
    const self = this;
    const batches = async function* (): AsyncGenerator<unknown> {
      try {
        for await (const batch of source as AsyncIterable<unknown>) {
          self.drop();
          if (Array.isArray(batch) && batch[0] instanceof tf.Tensor) {
            const X = batch[0];
            self.current = tf.tidy(() => forward(self.teacher, X, false));
          }
          yield batch;
        }
      } finally {
        self.drop();
      }
    };
    this.iter = new Proxy(source as object, {
      get(target, prop) {
        if (prop === Symbol.asyncIterator) return batches;
        if (prop === Symbol.iterator) return undefined; // iterated asynchronously, with the teacher
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
      has(target, prop) {
        return prop === Symbol.asyncIterator || Reflect.has(target, prop);
      },
      set(target, prop, value) {
        return Reflect.set(target, prop, value, target);
      },
    }) as DataIter;
  }

  drop(): void {
    this.current?.dispose();
    this.current = undefined;
  }

  dispose(): void {
    this.drop();
  }
}
