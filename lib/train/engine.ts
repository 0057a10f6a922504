/**
 * The one training engine. Every `trainCh*` is a thin wrapper that picks
 * callbacks and the book's defaults; the loop itself lives here, once:
 * epochs × batches, loss and gradients, the update, metrics, and callbacks
 * (fastai's Learner and Keras' `fit` are the models).
 *
 * Each batch: `onBatchBegin` → forward and backward (one pass, inside tfjs'
 * gradient tape, which disposes every intermediate tensor) → `onAfterBackward`
 * (gradients known, update not yet applied: a gradient-clipping callback runs
 * here) → the update → the batch's loss sum and correct count are added to a
 * running sum ON THE DEVICE → `onBatchEnd` (the interrupt check runs last
 * here, so an interrupt stops the loop after a complete update).
 *
 * Nothing is read back per batch: a read waits for the device to finish
 * everything queued (on a GPU that stalls the pipeline every step). The
 * engine reads the running sums back only at *read points*: the end of each
 * epoch, every `readEvery` batches if asked, and wherever a callback's
 * `needsValues` says it wants current values (the Animator at its plot
 * points, the progress bar about once a second). Reads are `await data()`,
 * never `dataSync` (webgpu cannot read synchronously in Node). After a read,
 * `onValues` runs; the engine's NaN check is there. Since the batches between
 * two reads are already applied when a NaN shows up, the engine keeps a copy
 * of the weights (and the optimizer's state) from the last read that found
 * the loss finite, and puts it back before the error: a NaN never spoils the
 * model. After each epoch the engine evaluates the test iterator, if any,
 * then calls `onEpochEnd`.
 *
 * Batches that are not `[X, y]`, or nets that take more than `X` (seq2seq's
 * `[X, XValidLen, Y, YValidLen]` with teacher forcing), train through
 * `batchLoss`: the engine hands it the whole batch inside the gradient tape
 * and averages the epoch's loss over what it counts (tokens, for seq2seq).
 */
import * as tf from "@tensorflow/tfjs";
import { interruptGuard } from "../interrupt";
import { quickEpochs } from "../quick";
import { Accumulator, Timer } from "./accumulator";
import { Yielder } from "./yielder";
import { setGrad, clearGrad, trainableVariables, noConnection, gradientsOrClean } from "./grads";
import { compileRegion, type CompiledRegion } from "./compile";
import { evaluate, unpackBatch, checkIter, correctCount } from "./evaluate";
import { NaNCheck, InterruptCheck } from "./callbacks/guards";
import type { Callback, TrainState, EpochLog, BatchIter, Hook } from "./callback";

export type { Callback, TrainState, EpochLog, BatchIter } from "./callback";
import { type DataIter, type Net, type Loss, type Updater, type Param, isLayersModel, isOptimizer, variableOf, forward, checkOutputFitsLabels, shapeStr } from "./types";

/** What {@link EngineOptions.batchLoss} returns for a batch. */
export interface BatchLossResult {
  /** Per-example losses (shape `[batch]`), or their mean as a scalar. */
  loss: tf.Tensor;
  /**
   * What the epoch's loss is averaged over for this batch (a scalar tensor or
   * a number): the book's `num_tokens` for seq2seq. Default: the batch's examples.
   */
  count?: tf.Tensor | number;
}

/**
 * The loss of a whole batch, for batches that are not `[X, y]` or nets that
 * take more than `X`; runs inside the gradient tape, in place of `loss(net(X), y)`.
 */
export type BatchLoss = (batch: tf.Tensor[]) => BatchLossResult;

/** What the engine trains with. */
export interface EngineOptions {
  /** A tf.LayersModel or a function `(X) => yHat` (may be left out with `batchLoss`). */
  net?: Net;
  /**
   * Per-example loss `(yHat, y) => l` (shape `[batch]`). For a LayersModel the
   * model's compiled loss is not used. Not used (and may be left out) with `batchLoss`.
   */
  loss?: Loss;
  /**
   * The batch's loss from the whole batch (any number of tensors), in place of
   * `loss(net(X), y)`: for seq2seq's `[X, XValidLen, Y, YValidLen]` batches
   * with teacher forcing (`trainSeq2seq`). The engine then takes no test
   * iterator, computes no accuracy, and needs `params` (or a LayersModel `net`).
   */
  batchLoss?: BatchLoss;
  /**
   * With a `tf.Optimizer`, differentiate the batch's mean loss (default, the
   * book's `l.mean().backward()`) or its sum (the book's `train_seq2seq`:
   * `l.sum().backward()`; it matters with gradient clipping). A function
   * updater always gets the sum's gradients.
   */
  gradientOf?: "mean" | "sum";
  /** A tf.Optimizer, or a function `(batchSize) => void` such as `(n) => d2l.sgd([W, b], lr, n)`. */
  updater: Updater;
  /**
   * The parameters to train. Default: a LayersModel's trainable weights; for a
   * function net, every trainable variable the loss depends on.
   */
  params?: Param[];
  /** Compute training and test accuracy (default true; turn off for regression). */
  accuracy?: boolean;
  /** Callbacks for every fit of this engine. */
  callbacks?: Callback[];
  /**
   * Read the loss back at least every this many batches (default: only where
   * a callback asks, and at each epoch's end). 1 finds the exact batch whose
   * loss became NaN, at the cost of a device read per batch.
   */
  readEvery?: number;
}

/** Options of {@link Engine.fit}. */
export interface FitOptions {
  /**
   * Epochs to train (default 1); with {@link FitOptions.initialEpoch}, the
   * epoch to end at (the total, as Keras' `epochs` with `initial_epoch`).
   */
  numEpochs?: number;
  /**
   * Epochs already trained (default 0): the fit trains epochs
   * `initialEpoch + 1` to `numEpochs`, as Keras' `initial_epoch`. History,
   * `state.epoch`, the Animator's x and the schedules continue from there.
   * `d2l.resume(folder, ...)` returns it (with {@link FitOptions.history}).
   */
  initialEpoch?: number;
  /**
   * The logs of the epochs before `initialEpoch` (from `d2l.resume`): they
   * start `state.history` and the result's `history`, so the run's history is whole.
   */
  history?: EpochLog[];
  /** Evaluated after every epoch: accuracy, or the mean loss when accuracy is off. */
  testIter?: DataIter;
  /** Callbacks for this fit, with the engine's own. */
  callbacks?: Callback[];
  /** As {@link EngineOptions.readEvery}, for this fit. */
  readEvery?: number;
  /**
   * In quick mode (`D2L_QUICK=1`), train at most this many epochs (d2l-java's
   * `MAX_EPOCH`; default: all of them). The `trainCh*` functions pass theirs
   * (`d2l.QUICK_EPOCHS`); outside quick mode it has no effect.
   */
  quickEpochs?: number;
}

/** What {@link Engine.fit} returns. */
export interface FitResult {
  /** Mean training loss of the last epoch. */
  trainLoss: number;
  /** Training accuracy of the last epoch (when accuracy is on). */
  trainAcc: number | undefined;
  /** Test accuracy after the last epoch (when a test iterator was given). */
  testAcc: number | undefined;
  /** Mean test loss after the last epoch (when a test iterator was given and accuracy is off). */
  testLoss: number | undefined;
  /** Training examples per second of training-step time. */
  examplesPerSec: number;
  /** Seconds of training-step time. */
  seconds: number;
  /** One entry per epoch. */
  history: EpochLog[];
  /**
   * How many training steps replayed a compiled step (`d2l.compileStep`'s machinery, issue 21) instead of
   * running through tfjs' engine: 0 with `D2L_COMPILE=0`, a callback that changes gradients, an updater
   * function, or a step it cannot replay (`compileNote` says why).
   */
  compiledSteps: number;
  /** Why the steps ran eagerly, when they did ("" otherwise). */
  compileNote: string;
}

/**
 * The training engine: the one loop behind the book's `train_ch3`,
 * `train_ch6`, `train_ch8`, ... (and d2l 1.0's `Trainer.fit`), modelled on
 * fastai's Learner and Keras' `fit`, its behaviours in callbacks.
 *
 * Gradients: with a `tf.Optimizer` the engine differentiates the batch's mean
 * loss (the book's `l.mean().backward()`) and calls `applyGradients`; with a
 * function updater it differentiates the summed loss (the book's
 * `l.sum().backward()`), stores each parameter's gradient where
 * `d2l.sgd(params, lr, batchSize)` reads it, calls `updater(batchSize)`, and
 * clears what is left. A LayersModel's regularizer penalties
 * (`kernelRegularizer: tf.regularizers.l2(...)`, from `net.calculateLosses()`)
 * are added to what is differentiated, as `model.fit` does; the reported loss
 * is the data loss alone.
 *
 * Resume: `fit(trainIter, { numEpochs: 8, initialEpoch: 4, history })`
 * trains epochs 5-8 (numEpochs is the total, as Keras' `initial_epoch`);
 * `d2l.resume(folder, ...)` returns `{ initialEpoch, history }` from a
 * `ModelCheckpoint`, after putting back the weights, the optimizer's state,
 * the loader's epoch and the random state.
 *
 * Errors: a NaN loss stops training at the next read point, with an error
 * naming the epoch and the batches since the previous read, and the weights
 * and optimizer state of that previous read put back; an interrupt stops it
 * after the current batch's update and throws `InterruptedError` (the cell
 * ends with that error; the model keeps the weights of that batch).
 *
 * @example
 * const engine = new d2l.Engine({ net, loss: d2l.crossEntropy, updater: (n) => d2l.sgd([W, b], 0.1, n) });
 * const r = await engine.fit(trainIter, { numEpochs: 10, testIter, callbacks: [new d2l.AnimatorCallback()] });
 * r.testAcc // 0.83
 */
export class Engine {
  readonly net: Net | undefined;
  readonly loss: Loss | undefined;
  readonly batchLoss: BatchLoss | undefined;
  readonly gradientOf: "mean" | "sum";
  readonly updater: Updater;
  readonly params: Param[] | undefined;
  readonly accuracy: boolean;
  readonly callbacks: Callback[];
  readonly readEvery: number | undefined;

  constructor(opts: EngineOptions) {
    if (opts === null || typeof opts !== "object") throw new Error("new Engine(opts) expects { net, loss, updater }");
    const { net, loss, updater, batchLoss } = opts;
    if (batchLoss !== undefined && typeof batchLoss !== "function") {
      throw new Error(`expected batchLoss to be a function (batch: tf.Tensor[]) => { loss, count? }, got ${batchLoss === null ? "null" : typeof batchLoss}`);
    }
    if (!(batchLoss && net === undefined) && !isLayersModel(net) && typeof net !== "function") {
      throw new Error(`expected the net to be a tf.LayersModel or a function (X: tf.Tensor) => tf.Tensor, got ${net === null ? "null" : typeof net}`);
    }
    if (!batchLoss && typeof loss !== "function") throw new Error(`expected the loss to be a function (yHat, y) => per-example losses, got ${typeof loss}`);
    if (batchLoss && opts.params === undefined && !isLayersModel(net)) {
      throw new Error("an engine with batchLoss needs the parameters to train: pass params (e.g. net.trainableWeights), or a tf.LayersModel as net");
    }
    const gradientOf = opts.gradientOf ?? "mean";
    if (gradientOf !== "mean" && gradientOf !== "sum") throw new Error(`gradientOf must be "mean" or "sum", got ${JSON.stringify(gradientOf)}`);
    if (!isOptimizer(updater) && typeof updater !== "function") {
      throw new Error(`expected the updater to be a tf.Optimizer (e.g. tf.train.sgd(0.1)) or a function (batchSize) => void, got ${updater === null ? "null" : typeof updater}`);
    }
    this.net = net;
    this.loss = loss;
    this.batchLoss = batchLoss;
    this.gradientOf = gradientOf;
    this.updater = updater;
    this.params = opts.params;
    if (batchLoss && opts.accuracy === true) throw new Error("an engine with batchLoss computes no accuracy; leave accuracy out");
    this.accuracy = batchLoss ? false : (opts.accuracy ?? true);
    this.callbacks = [...(opts.callbacks ?? [])];
    this.readEvery = checkReadEvery(opts.readEvery);
  }

  /**
   * Train for `numEpochs` epochs over `trainIter`, evaluating `testIter` after each.
   *
   * @example
   * const r = await engine.fit(trainIter, { numEpochs: 5, testIter });
   * console.log(r.trainLoss, r.trainAcc, r.testAcc, r.examplesPerSec);
   */
  async fit(trainIter: BatchIter, opts: FitOptions = {}): Promise<FitResult> {
    const asked = opts.numEpochs ?? 1;
    if (!Number.isInteger(asked) || asked < 1) throw new Error(`numEpochs must be a positive integer, got ${asked}`);
    const initialEpoch = opts.initialEpoch ?? 0;
    if (!Number.isInteger(initialEpoch) || initialEpoch < 0) throw new Error(`initialEpoch must be a whole number >= 0 (the epochs already trained), got ${String(initialEpoch)}`);
    if (initialEpoch >= asked) {
      throw new Error(
        `initialEpoch is ${initialEpoch} but numEpochs is ${asked}: numEpochs counts all epochs, those already trained included (Keras' epochs with initial_epoch), so pass numEpochs > ${initialEpoch} to train more`,
      );
    }
    // Quick mode caps the epochs this fit trains, not the total.
    const numEpochs = opts.quickEpochs === undefined ? asked : initialEpoch + quickEpochs(asked - initialEpoch, opts.quickEpochs, "Engine.fit");
    if (opts.history !== undefined && (!Array.isArray(opts.history) || opts.history.some((h) => h === null || typeof h !== "object" || typeof h.epoch !== "number"))) {
      throw new Error("history must be an array of epoch logs ({ epoch, trainLoss, ... }), as d2l.resume returns it");
    }
    checkIter(trainIter, "training");
    if (opts.testIter !== undefined) checkIter(opts.testIter, "test");
    if (opts.testIter !== undefined && this.batchLoss) {
      throw new Error("an engine with batchLoss takes no test iterator (it would not know how to run the net on it); evaluate after training instead");
    }
    const cbs = this.orderedCallbacks(opts.callbacks ?? []);
    this.replayed = 0;
    const readEvery = checkReadEvery(opts.readEvery) ?? this.readEvery;
    const wanting = cbs.filter((c) => typeof c.needsValues === "function");
    const state: TrainState = {
      engine: this,
      net: this.net,
      updater: this.updater,
      trainIter,
      testIter: opts.testIter,
      numEpochs,
      initialEpoch,
      epoch: initialEpoch,
      batch: -1,
      numBatches: positiveInt(trainIter.numBatches),
      batchSize: 0,
      batchLoss: NaN,
      batchAcc: undefined,
      readFrom: 0,
      trainLoss: NaN,
      trainAcc: undefined,
      examples: 0,
      totalExamples: 0,
      count: 0,
      testAcc: undefined,
      testLoss: undefined,
      grads: undefined,
      history: opts.history ? opts.history.map((h) => ({ ...h })) : [],
      timer: new Timer(),
      interrupt: interruptGuard(),
      stopTraining: false,
      error: undefined,
    };
    const metric = new Accumulator(3); // loss sum, correct, count (examples, or batchLoss' units), as read back
    const yielder = new Yielder();
    const good = new GoodWeights();
    let pending: tf.Tensor | undefined; // loss sum, correct and count since the last read, on the device
    const readBack = async (): Promise<void> => {
      if (pending === undefined) return;
      const sums = pending;
      pending = undefined;
      state.timer.start(); // the device finishing its queue is training time
      let v: Float32Array | Int32Array | Uint8Array;
      try {
        v = (await sums.data()) as Float32Array;
      } finally {
        state.timer.stop();
        sums.dispose();
      }
      const n = v[2];
      metric.add(v[0], this.accuracy ? v[1] : 0, n);
      state.batchLoss = v[0] / n;
      state.batchAcc = this.accuracy ? v[1] / n : undefined;
      state.trainLoss = metric.get(0) / metric.get(2);
      state.trainAcc = this.accuracy ? metric.get(1) / metric.get(2) : undefined;
      state.count = metric.get(2);
      if (Number.isFinite(v[0])) await good.keep(this.weightsToKeep(), this.updater);
      else await good.putBack(this.updater);
      await call(cbs, "onValues", state); // the NaN check throws here
      state.readFrom = state.batch + 1;
    };
    try {
      await call(cbs, "onTrainBegin", state);
      await good.keep(this.weightsToKeep(), this.updater);
      for (let epoch = initialEpoch; epoch < numEpochs && !state.stopTraining; epoch++) {
        state.epoch = epoch;
        state.batch = -1;
        state.readFrom = 0;
        metric.reset();
        state.examples = 0;
        state.count = 0;
        state.trainLoss = NaN;
        state.trainAcc = undefined;
        const secondsBefore = state.timer.sum();
        await call(cbs, "onEpochBegin", state);
        let i = 0;
        for await (const batch of trainIter) {
          const tensors = this.batchLoss ? unpackTensors(batch) : unpackBatch(batch, "training");
          try {
            state.batch = i;
            await call(cbs, "onBatchBegin", state);
            const stats = await this.step(tensors, state, cbs);
            if (pending === undefined) pending = stats;
            else {
              const sum = tf.add(pending, stats);
              pending.dispose();
              stats.dispose();
              pending = sum;
            }
          } finally {
            for (const t of tensors) t.dispose();
          }
          i++;
          const lastOfEpoch = state.numBatches !== undefined && i === state.numBatches;
          const due = readEvery !== undefined && i - state.readFrom >= readEvery;
          if (lastOfEpoch || due || wanting.some((c) => c.needsValues?.(state) === true)) await readBack();
          await call(cbs, "onBatchEnd", state); // InterruptCheck runs last here
          // Then let the kernel's event loop acknowledge an interrupt (after the
          // check, so an interrupt that came during the batch ends it with our message).
          await yielder.maybe();
          if (state.stopTraining) break;
        }
        await readBack(); // an iterator of unknown length, or training stopped mid-epoch
        if (i === 0) {
          throw new Error(
            `the training data iterator yielded no batches in epoch ${epoch + 1}; it must yield [X, y] batches in every epoch (is it a one-shot generator? pass an iterable that starts over, like a d2l DataLoader)`,
          );
        }
        if (state.numBatches === undefined && !state.stopTraining) state.numBatches = i;
        if (opts.testIter !== undefined && this.net !== undefined) {
          // Classifiers: test accuracy (the book's train_ch3); regression (accuracy off): test loss.
          const ev = await evaluate(this.net, opts.testIter, {
            accuracy: this.accuracy,
            loss: this.accuracy ? undefined : this.loss,
            guard: state.interrupt,
            what: "test",
          });
          state.testAcc = ev.acc;
          state.testLoss = ev.loss;
        }
        state.history.push({
          epoch: epoch + 1,
          trainLoss: state.trainLoss,
          trainAcc: state.trainAcc,
          testAcc: state.testAcc,
          testLoss: state.testLoss,
          examples: state.examples,
          count: state.count,
          seconds: state.timer.sum() - secondsBefore,
        });
        await call(cbs, "onEpochEnd", state);
      }
      const seconds = state.timer.sum();
      return {
        trainLoss: state.trainLoss,
        trainAcc: state.trainAcc,
        testAcc: state.testAcc,
        testLoss: state.testLoss,
        examplesPerSec: state.totalExamples / seconds,
        seconds,
        history: state.history,
        compiledSteps: this.replayed,
        compileNote: this.replayed > 0 ? "" : (this.region?.reason ?? ""),
      };
    } catch (e) {
      state.error = e;
      throw e;
    } finally {
      (pending as tf.Tensor | undefined)?.dispose();
      good.dispose();
      // The compiled step's programs (and the constants they keep) last one fit: the next traces anew.
      this.region?.dispose();
      this.region = undefined;
      try {
        await call(cbs, "onTrainEnd", state);
      } catch (e) {
        if (state.error === undefined) throw e;
        console.error(`d2l: a callback failed in onTrainEnd: ${(e as Error).message}`);
      }
    }
  }

  /** The callbacks of this fit, sorted, with the engine's NaN and interrupt checks. */
  private orderedCallbacks(extra: Callback[]): Callback[] {
    const all = [...this.callbacks, ...extra];
    for (const c of all) {
      if (c === null || typeof c !== "object") throw new Error(`expected callbacks to be objects with onEpochEnd(...) and similar methods, got ${c === null ? "null" : typeof c}`);
    }
    if (!all.some((c) => c instanceof NaNCheck)) all.push(new NaNCheck());
    if (!all.some((c) => c instanceof InterruptCheck)) all.push(new InterruptCheck());
    return all
      .map((c, i) => ({ c, i }))
      .sort((a, b) => (a.c.order ?? 0) - (b.c.order ?? 0) || a.i - b.i)
      .map((x) => x.c);
  }

  /** The variables this batch differentiates against. */
  private variables(): tf.Variable[] {
    let vars: tf.Variable[];
    if (this.params !== undefined) {
      vars = this.params.map(variableOf).filter((v) => v.trainable);
      if (vars.length === 0) throw new Error("none of the params passed to train is trainable; pass tf.variable(...) parameters");
    } else if (isLayersModel(this.net)) {
      vars = this.net.trainableWeights.map((w) => variableOf(w));
      if (vars.length === 0) throw new Error("the model has no trainable weights; give it layers with weights (e.g. tf.layers.dense) and an inputShape");
    } else {
      vars = trainableVariables();
      if (vars.length === 0) throw new Error("there are no trainable variables; create the net's parameters with tf.variable(...)");
    }
    return vars;
  }

  /** What a NaN must not spoil: the trained variables, and for a LayersModel its other weights too (batch norm's running statistics). */
  private weightsToKeep(): tf.Variable[] {
    const vars = new Set(this.variables());
    if (isLayersModel(this.net)) for (const w of this.net.weights) vars.add(variableOf(w));
    return [...vars];
  }

  /**
   * One batch: forward, backward, `onAfterBackward`, update. Returns the
   * batch's loss sum, correct count and count (examples, or `batchLoss`'
   * units) as a tensor (the caller disposes it); nothing is read back here.
   */
  private async step(batch: tf.Tensor[], state: TrainState, cbs: Callback[]): Promise<tf.Tensor> {
    const [X, y] = batch;
    const custom = this.batchLoss;
    if (!custom && (X.rank === 0 || y.rank === 0 || X.shape[0] !== y.shape[0])) {
      throw new Error(
        `the training data iterator gave X of shape ${shapeStr(X.shape)} and y of shape ${shapeStr(y.shape)}; they must hold the same number of examples (first dimension)`,
      );
    }
    if (custom && X.rank === 0) throw new Error("the training data iterator gave a scalar as the batch's first tensor; its first dimension must count the examples");
    const n = X.shape[0] as number;
    state.batchSize = n;
    state.timer.start();
    const region = this.compiledStep(cbs);
    if (region !== undefined) {
      // No callback looks at the gradients: the whole step (forward, backward, update) replays as one traced
      // list of kernels once it has traced (lib/train/compile.ts); the same numbers as the path below.
      const [stats] = region(batch);
      if (region.compiled) this.replayed++;
      state.timer.stop();
      state.examples += n;
      state.totalExamples += n;
      return stats;
    }
    const vars = this.variables();
    let stats: tf.Tensor | undefined;
    let value: tf.Tensor | undefined;
    let gradList: (tf.Tensor | null)[] = [];
    let ok = false;
    try {
      ({ stats, value, gradList } = this.forwardBackward(batch, vars));
      state.grads = namedGrads(vars, gradList);
      // Callbacks may replace gradients (clipping, weight decay), one after another: a
      // gradient a callback made and the next one replaced is disposed here (the first
      // ones, and the last, in the finally below).
      const originals = new Set<tf.Tensor | null>(gradList);
      for (const c of cbs) {
        if (c.onAfterBackward === undefined) continue;
        const before = Object.values(state.grads ?? {});
        await call([c], "onAfterBackward", state);
        const now = new Set(Object.values(state.grads ?? {}));
        for (const t of before) if (!now.has(t) && !originals.has(t)) t.dispose();
      }
      this.update(state.grads as tf.NamedTensorMap, vars, n);
      state.timer.stop();

      state.examples += n;
      state.totalExamples += n;
      ok = true;
      return stats as unknown as tf.Tensor;
    } finally {
      if (!ok) (stats as tf.Tensor | undefined)?.dispose();
      value?.dispose();
      for (const g of gradList) g?.dispose();
      if (state.grads) for (const g of Object.values(state.grads)) g.dispose();
      state.grads = undefined;
    }
  }

  private region: CompiledRegion | undefined;
  private replayed = 0;

  /**
   * The compiled form of a step (issue 21), when one can stand in for it: the updater is an optimizer, no
   * callback changes gradients, and `D2L_COMPILE` is not `0`. Until its traces agree, and for steps it cannot
   * replay (tfjs' own dropout layers, values read back), it runs the same code eagerly.
   */
  private compiledStep(cbs: Callback[]): CompiledRegion | undefined {
    if (process.env.D2L_COMPILE === "0" || !isOptimizer(this.updater)) return undefined;
    if (cbs.some((c) => c.onAfterBackward !== undefined)) return undefined;
    const optimizer = this.updater;
    this.region ??= compileRegion(
      (batch) => {
        const vars = this.variables();
        const { stats, value, gradList } = this.forwardBackward(batch, vars);
        try {
          this.update(namedGrads(vars, gradList), vars, batch[0].shape[0] as number);
          return [stats];
        } catch (e) {
          stats.dispose();
          throw e;
        } finally {
          value.dispose();
          for (const g of gradList) g?.dispose();
        }
      },
      optimizer,
      {
        guard: () =>
          this.variables()
            .map((v) => v.name)
            .join(","),
      },
    );
    return this.region;
  }

  /** Forward and backward of one batch: its stats (loss sum, correct count, count; kept), the objective and the gradients. */
  private forwardBackward(batch: tf.Tensor[], vars: tf.Variable[]): { stats: tf.Tensor; value: tf.Tensor; gradList: (tf.Tensor | null)[] } {
    const [X, y] = batch;
    const custom = this.batchLoss;
    const n = X.shape[0] as number;
    const byMean = isOptimizer(this.updater) && this.gradientOf === "mean";
    const wantAcc = this.accuracy;
    let stats: tf.Tensor | undefined;
    try {
      const { value, grads } = gradientsOrClean(() => {
        let l: tf.Tensor;
        let count: tf.Tensor | number = n;
        let yHat: tf.Tensor | undefined;
        if (custom) {
          const r = custom(batch);
          if (r === null || typeof r !== "object" || !(r.loss instanceof tf.Tensor)) {
            throw new Error("batchLoss must return { loss, count? } with loss a tf.Tensor of per-example losses");
          }
          l = r.loss;
          if (r.count !== undefined) count = r.count;
        } else {
          yHat = forward(this.net as Net, X, true);
          checkOutputFitsLabels(yHat, y);
          l = (this.loss as Loss)(yHat, y);
        }
        if (!(l instanceof tf.Tensor)) throw new Error(`the loss must return a tf.Tensor of per-example losses, got ${typeof l}`);
        if (l.rank > 0 && l.shape[0] !== n) {
          throw new Error(
            `the loss returned shape ${shapeStr(l.shape)} for a batch of ${n} examples; it must return one loss per example (shape [${n}]), the book's reduction='none'`,
          );
        }
        const lossSum = l.rank === 0 ? tf.mul(l, n) : tf.sum(l);
        const parts = [
          tf.cast(lossSum, "float32"),
          wantAcc && yHat ? correctCount(yHat, y) : tf.scalar(0),
          tf.cast(typeof count === "number" ? tf.scalar(count) : tf.reshape(count, []), "float32"),
        ];
        stats = tf.keep(tf.stack(parts));
        const objective = byMean ? tf.div(lossSum, n) : lossSum;
        // A LayersModel's regularizers (kernelRegularizer etc.) count in the objective, as model.fit adds them;
        // the reported loss stays the data loss, as the book's with weight_decay.
        const penalties = this.net instanceof tf.LayersModel ? this.net.calculateLosses() : [];
        if (penalties.length === 0) return objective;
        const penalty = tf.addN(penalties);
        return tf.add(objective, byMean ? penalty : tf.mul(penalty, n));
      }, vars);
      return { stats: stats as tf.Tensor, value, gradList: grads };
    } catch (e) {
      stats?.dispose();
      throw e;
    }
  }

  /** Apply the gradients: an optimizer's update, or the book's `updater(batchSize)` with each variable's `.grad` set. */
  private update(grads: tf.NamedTensorMap, vars: tf.Variable[], n: number): void {
    if (isOptimizer(this.updater)) {
      this.updater.applyGradients(grads);
      return;
    }
    const used = vars.filter((v) => grads[v.name] != null);
    for (const v of used) setGrad(v, grads[v.name]);
    try {
      this.updater(n);
    } finally {
      for (const v of used) clearGrad(v);
    }
  }
}

/** The gradients by variable name (those the loss reaches); none at all is the "no connection" error. */
function namedGrads(vars: tf.Variable[], gradList: (tf.Tensor | null)[]): tf.NamedTensorMap {
  const named: tf.NamedTensorMap = {};
  vars.forEach((v, i) => {
    const g = gradList[i];
    if (g != null) named[v.name] = g;
  });
  if (Object.keys(named).length === 0) throw noConnection();
  return named;
}

/** Take a yielded batch apart for `batchLoss`: any non-empty array of tensors. */
function unpackTensors(batch: unknown): tf.Tensor[] {
  if (Array.isArray(batch) && batch.length > 0 && batch.every((t) => t instanceof tf.Tensor)) return batch as tf.Tensor[];
  if (Array.isArray(batch)) for (const t of batch) if (t instanceof tf.Tensor) t.dispose();
  throw new Error(`the training data iterator must yield arrays of tensors, but it yielded ${Array.isArray(batch) ? "an array with something other than tensors" : typeof batch}`);
}

/**
 * The weights (and optimizer state) of the last read that found the loss
 * finite, copied on the device, so a NaN found later can be undone.
 */
class GoodWeights {
  private vars: { v: tf.Variable; copy: tf.Tensor }[] = [];
  private optState: { name: string; tensor: tf.Tensor }[] | undefined;

  /** Copy `vars` and the optimizer's state (if `updater` is a tf.Optimizer), replacing the last copy. */
  async keep(vars: tf.Variable[], updater: Updater): Promise<void> {
    const copies = vars.map((v) => ({ v, copy: tf.clone(v) }));
    let opt: { name: string; tensor: tf.Tensor }[] | undefined;
    if (isOptimizer(updater)) {
      const live = await updater.getWeights();
      opt = live.map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
      for (const { tensor } of live) if (!(tensor instanceof tf.Variable)) tensor.dispose(); // the iteration count is made for the call
    }
    this.dispose();
    this.vars = copies;
    this.optState = opt;
  }

  /** Put the kept weights and optimizer state back. */
  async putBack(updater: Updater): Promise<void> {
    for (const { v, copy } of this.vars) v.assign(copy);
    if (isOptimizer(updater) && this.optState !== undefined) {
      const live = await updater.getWeights();
      const given = this.optState.map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
      await updater.setWeights(given); // makes its variables from these (sharing their data, or copying it)
      for (const { tensor } of given) tensor.dispose();
      for (const { tensor } of live) tensor.dispose(); // replaced by setWeights
    }
  }

  dispose(): void {
    for (const { copy } of this.vars) copy.dispose();
    this.vars = [];
    for (const { tensor } of this.optState ?? []) tensor.dispose();
    this.optState = undefined;
  }
}

function checkReadEvery(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1)
    throw new Error(`readEvery must be a positive whole number of batches (1 reads the loss back after every batch), got ${String(v)}`);
  return v;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;
}

async function call(cbs: Callback[], hook: Hook, state: TrainState): Promise<void> {
  for (const c of cbs) {
    const f = c[hook];
    if (f === undefined) continue;
    const r = f.call(c, state);
    if (r !== undefined && typeof (r as Promise<void>).then === "function") await r;
  }
}

/**
 * Train `net` with the engine (d2l 1.0's `trainer.fit(model, data)`):
 * `new Engine(opts).fit(trainIter, opts)`.
 *
 * @example
 * const r = await d2l.fit({ net, loss: d2l.crossEntropy, updater: tf.train.sgd(0.1), trainIter, testIter, numEpochs: 3 });
 */
export function fit(opts: EngineOptions & FitOptions & { trainIter: BatchIter }): Promise<FitResult> {
  // The callbacks (and readEvery) go to the fit only: given to the engine too, each would run twice.
  const { callbacks: _callbacks, readEvery: _readEvery, ...engineOpts } = opts;
  return new Engine(engineOpts).fit(opts.trainIter, opts);
}
