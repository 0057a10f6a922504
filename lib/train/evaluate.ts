/** Evaluating a net on a data iterator: the book's `evaluate_accuracy` and `evaluate_loss`. */
import * as tf from "@tensorflow/tfjs";
import { InterruptedError, interruptGuard, type InterruptGuard } from "../interrupt";
import { Yielder } from "./yielder";
import { type DataIter, type Net, type Loss, forward, checkOutputFitsLabels, checkClassLabels, shapeStr } from "./types";

/**
 * The number of correct predictions as a scalar tensor, for code that keeps
 * sums on the device and reads them once.
 */
export function correctCount(yHat: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    let pred: tf.Tensor;
    if (yHat.rank > 1 && (yHat.shape[1] as number) > 1) {
      checkClassLabels("accuracy", yHat, y);
      pred = tf.argMax(yHat, 1);
    } else {
      if (yHat.size !== y.size) {
        throw new Error(`accuracy(yHat, y): yHat has shape ${shapeStr(yHat.shape)} but y has shape ${shapeStr(y.shape)}; expected one prediction per label`);
      }
      pred = tf.reshape(yHat, [-1]);
    }
    const cmp = tf.equal(tf.cast(pred, y.dtype), tf.reshape(y, [-1]));
    return tf.sum(tf.cast(cmp, "float32")) as tf.Scalar;
  });
}

/** What {@link evaluate} reports. */
export interface Evaluation {
  /** Mean loss per example (when a loss was given). */
  loss?: number;
  /** Fraction of correct predictions (when accuracy was asked for). */
  acc?: number;
  /** Examples seen. */
  examples: number;
}

/** Take a yielded batch apart, checking it is `[X, y]`. */
export function unpackBatch(batch: unknown, what: string): [tf.Tensor, tf.Tensor] {
  if (Array.isArray(batch) && batch.length === 2 && batch[0] instanceof tf.Tensor && batch[1] instanceof tf.Tensor) {
    return [batch[0], batch[1]];
  }
  if (Array.isArray(batch)) for (const t of batch) if (t instanceof tf.Tensor) t.dispose();
  throw new Error(`the ${what} data iterator must yield [X, y] pairs of tensors, but it yielded ${Array.isArray(batch) ? `an array of ${batch.length}` : typeof batch}`);
}

/** Check that an iterator can be iterated with `for await`. */
export function checkIter(iter: unknown, what: string): void {
  const ok = typeof iter === "object" && iter !== null && (Symbol.asyncIterator in iter || Symbol.iterator in iter);
  if (!ok) throw new Error(`expected the ${what} data iterator to be an async iterable of [X, y] batches (e.g. a d2l DataLoader), got ${iter === null ? "null" : typeof iter}`);
}

/**
 * Run the net over a data iterator in evaluation mode and return the mean
 * loss and/or the accuracy. Sums stay on the device and are read once, at the end.
 */
export async function evaluate(net: Net, dataIter: DataIter, opts: { loss?: Loss; accuracy?: boolean; guard?: InterruptGuard; what?: string } = {}): Promise<Evaluation> {
  const what = opts.what ?? "evaluation";
  checkIter(dataIter, what);
  const wantAcc = opts.accuracy ?? true;
  let total: tf.Tensor | null = null; // [lossSum, correct]
  let examples = 0;
  const yielder = new Yielder();
  const guard = opts.guard ?? interruptGuard();
  try {
    for await (const batch of dataIter) {
      const [X, y] = unpackBatch(batch, what);
      try {
        const next: tf.Tensor = tf.tidy(() => {
          const yHat = forward(net, X, false);
          checkOutputFitsLabels(yHat, y);
          const parts: tf.Tensor[] = [];
          if (opts.loss) {
            const l = opts.loss(yHat, y);
            parts.push(l.rank === 0 ? tf.mul(l, y.shape[0]) : tf.sum(l));
          } else parts.push(tf.scalar(0));
          parts.push(wantAcc ? correctCount(yHat, y) : tf.scalar(0));
          const s = tf.stack(parts.map((p) => tf.cast(p, "float32")));
          return total ? tf.add(total, s) : s;
        });
        total?.dispose();
        total = next;
        examples += y.shape[0] as number;
      } finally {
        X.dispose();
        y.dispose();
      }
      await yielder.maybe();
      if (guard.interrupted) throw new InterruptedError(`Interrupted by the user during ${what}`);
    }
    if (total === null) throw new Error(`the ${what} data iterator yielded no batches; check that it holds examples`);
    const [lossSum, correct] = await (total as tf.Tensor).data();
    return {
      loss: opts.loss ? lossSum / examples : undefined,
      acc: wantAcc ? correct / examples : undefined,
      examples,
    };
  } finally {
    (total as tf.Tensor | null)?.dispose();
  }
}

/**
 * The accuracy of `net` on a data iterator, a number in 0..1 (the book's
 * `evaluate_accuracy`). A LayersModel runs in inference mode (`training: false`).
 *
 * @example
 * await d2l.evaluateAccuracy(net, testIter) // 0.8312
 */
export async function evaluateAccuracy(net: Net, dataIter: DataIter): Promise<number> {
  const r = await evaluate(net, dataIter, { accuracy: true, what: "evaluateAccuracy" });
  return r.acc as number;
}

/**
 * The mean loss of `net` on a data iterator (the book's `evaluate_loss`);
 * `loss` returns per-example losses.
 *
 * @example
 * await d2l.evaluateLoss(net, testIter, d2l.squaredLoss) // 0.0102
 */
export async function evaluateLoss(net: Net, dataIter: DataIter, loss: Loss): Promise<number> {
  if (typeof loss !== "function") throw new Error(`evaluateLoss(net, dataIter, loss): loss must be a function (yHat, y) => per-example losses, got ${typeof loss}`);
  const r = await evaluate(net, dataIter, { loss, accuracy: false, what: "evaluateLoss" });
  return r.loss as number;
}
