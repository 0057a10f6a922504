/**
 * Checkpoints: {@link ModelCheckpoint} saves what a run needs to go on
 * (weights, optimizer state, epoch, the data loader's epoch, a scheduler's
 * state, the random state, the history), and {@link resume} puts it all back.
 *
 * A checkpoint folder holds `checkpoint.json` (the epoch, the history, the
 * rest of the small state, and the names, sizes and SHA-256 of the tensor
 * files) and two safetensors files (`d2l.saveTensors`' format, which Python's
 * `safetensors` reads): `model-epoch<E>-<stamp>.safetensors` (the weights by
 * name) and `optimizer-epoch<E>-<stamp>.safetensors` (the optimizer's
 * `getWeights()`). The tensor files are written first, each under a new name;
 * `checkpoint.json` is written to a temporary file and renamed over the old
 * one (one atomic step, the commit); only then are the previous tensor files
 * deleted. A run killed at any moment leaves the previous checkpoint or the
 * new one, never a mix, and {@link resume} checks every file's size and hash.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { loadTensors, saveTensors, TensorFileError } from "../../io";
import type { RandomState } from "../../seed";
import type { Callback, EpochLog, TrainState } from "../callback";
import { type Net, type Param, isLayersModel, isOptimizer } from "../types";
import { type Monitor, type MonitorMode, Watch, fmt } from "./monitor";
import { type NamedVariable, learningRateOf, modelVariables, optimizerWeights, randomStateApi, setLearningRateOf, setOptimizerWeights } from "./weights";

/** A learning-rate scheduler whose state a checkpoint can keep (every `d2l.lr` scheduler, as torch's `state_dict()`). */
export interface StatefulScheduler {
  /** The scheduler's state, as JSON-able values (torch's `state_dict()`). */
  stateDict(): unknown;
  /** Put a state from {@link stateDict} back (torch's `load_state_dict`). */
  loadStateDict(state: unknown): void;
}

/** Options of {@link ModelCheckpoint}. */
export interface ModelCheckpointOptions {
  /** Save every this many epochs (default 1), and after the last epoch (also one that early stopping made last). */
  every?: number;
  /** Save only when the monitored value improves on the best so far (default false; Keras' `save_best_only`). */
  saveBestOnly?: boolean;
  /** What `saveBestOnly` watches (default `"testLoss"`, as Keras' `val_loss`; or `"testAcc"`, `"trainLoss"`, `"trainAcc"`, a function of the state). */
  monitor?: Monitor;
  /** `"min"`, `"max"` or `"auto"` (default: max for accuracies, min otherwise). */
  mode?: MonitorMode;
  /** The least change that counts as an improvement (default 0). */
  minDelta?: number;
  /** A learning-rate scheduler (`d2l.lr.*`) whose `stateDict()` to keep, so that {@link resume} continues its schedule. */
  scheduler?: StatefulScheduler;
  /** The weights to save for a function net (default: the engine's params; a LayersModel's weights otherwise). */
  params?: Param[];
  /** Print a line for each checkpoint saved (default false). */
  verbose?: boolean;
}

/** What `checkpoint.json` holds. */
interface CheckpointJson {
  format: "d2l-ts checkpoint";
  version: 1;
  /** Epochs trained: the `initialEpoch` to resume with. */
  epoch: number;
  numEpochs: number;
  savedAt: string;
  files: { model: FileEntry; optimizer: FileEntry | null };
  /** `names`: the keys in the model file; `variables`: the tfjs variables' names, which the optimizer's state names start with. */
  model: { names: string[]; variables: string[]; shapes: number[][]; dtypes: string[] };
  optimizer: { className: string; names: string[]; learningRate: number | null } | null;
  trainIterEpoch: number | null;
  scheduler: unknown;
  randomState: RandomState | null;
  monitor: { label: string; value: number | null; best: number | null } | null;
  history: EpochLog[];
}

interface FileEntry {
  file: string;
  bytes: number;
  sha256: string;
}

const JSON_NAME = "checkpoint.json";
const TENSOR_FILE = /^(model|optimizer)-epoch\d+-[0-9a-z]+\.safetensors$/;

/**
 * Saves a checkpoint into a folder every `every` epochs and after the last
 * one, or only when a monitored value improves (`saveBestOnly`): the model's
 * weights, the optimizer's state (its `getWeights()`: momenta, moments, step
 * count; and its learning rate), the epoch, the training `DataLoader`'s epoch
 * counter (its shuffles continue), a scheduler's `stateDict()` (option
 * `scheduler`), `d2l.getRandomState()` (dropout and other random draws
 * continue), and the history. Keras' `ModelCheckpoint(filepath,
 * save_best_only, save_freq)` and PyTorch's `torch.save({...})` of model,
 * optimizer and epoch are the models; {@link resume} reads it back. The
 * folder's name may hold `{epoch}` (one folder per checkpoint, as Keras'
 * `filepath`); otherwise each save replaces the previous one atomically (see
 * the module notes). For both "every N epochs" and "the best" keep two
 * checkpoints in two folders. The net's architecture is not saved: resume
 * into the same net, built as the saving run built it.
 *
 * @example
 * const ckpt = new d2l.ModelCheckpoint("runs/lenet", { every: 1 });
 * await d2l.fit({ net, loss, updater, trainIter, testIter, numEpochs: 4, callbacks: [ckpt] });
 * // later, in a fresh kernel, after building net, updater and trainIter as before:
 * const resumed = await d2l.resume("runs/lenet", { net, optimizer: updater, trainIter });
 * await d2l.fit({ net, loss, updater, trainIter, testIter, numEpochs: 8, ...resumed });
 */
export class ModelCheckpoint implements Callback {
  /** After the other callbacks' `onEpochEnd` (a scheduler's step, early stopping), before the interrupt check. */
  readonly order = 900;
  /** The folder (may hold `{epoch}`). */
  readonly folder: string;
  readonly every: number;
  readonly saveBestOnly: boolean;
  /** What `saveBestOnly` watches. */
  readonly watch: Watch;
  /** Best monitored value so far (with `saveBestOnly`). */
  best = NaN;
  /** The last checkpoint saved: its folder and epoch (1-based, epochs trained). */
  lastSaved: { folder: string; epoch: number } | undefined;
  private readonly scheduler: StatefulScheduler | undefined;
  private readonly params: Param[] | undefined;
  private readonly verbose: boolean;

  constructor(folder: string, opts: ModelCheckpointOptions = {}) {
    if (typeof folder !== "string" || folder.trim() === "")
      throw new Error(`ModelCheckpoint(folder): expected a folder path to save checkpoints in, got ${JSON.stringify(folder)}`);
    if (opts === null || typeof opts !== "object") throw new Error("ModelCheckpoint(folder, opts): opts must be an options object, e.g. { every: 1 }");
    const every = opts.every ?? 1;
    if (!Number.isInteger(every) || every < 1) throw new Error(`ModelCheckpoint: every must be a positive whole number of epochs, got ${String(every)}`);
    const s = opts.scheduler;
    if (s !== undefined && (s === null || typeof s.stateDict !== "function" || typeof s.loadStateDict !== "function")) {
      throw new Error("ModelCheckpoint: scheduler must have stateDict() and loadStateDict(state), as every d2l.lr scheduler has");
    }
    this.folder = folder;
    this.every = every;
    this.saveBestOnly = opts.saveBestOnly ?? false;
    this.watch = new Watch("ModelCheckpoint", opts.monitor, opts.mode, opts.minDelta, "testLoss");
    this.scheduler = s;
    this.params = opts.params;
    this.verbose = opts.verbose ?? false;
  }

  private variables(state: TrainState): NamedVariable[] {
    if (this.params === undefined && !isLayersModel(state.net) && state.engine.params === undefined) {
      throw new Error("ModelCheckpoint: the net is a function, so the weights to save are not known; pass params to the engine (params: [W, b]) or to the ModelCheckpoint");
    }
    return modelVariables(state.net, this.params, state.engine);
  }

  /** @internal */
  onTrainBegin(state: TrainState): void {
    this.variables(state); // the error now, not after the first epoch
    this.best = this.watch.worst;
    // After a resume, the best so far is in the history (for a named monitor).
    for (const log of state.history) {
      const v = this.watch.logged(log);
      if (v !== undefined && this.watch.improves(v, this.best)) this.best = v;
    }
  }

  /** @internal */
  async onEpochEnd(state: TrainState): Promise<void> {
    const epoch = state.epoch + 1;
    let value: number | undefined;
    if (this.saveBestOnly) {
      value = this.watch.value("ModelCheckpoint", state);
      if (!this.watch.improves(value, this.best)) return;
      this.best = value;
    } else {
      const last = epoch === state.numEpochs || state.stopTraining;
      if (epoch % this.every !== 0 && !last) return;
    }
    const folder = this.folder.split("{epoch}").join(String(epoch));
    await saveCheckpoint(folder, state, this.variables(state), this.scheduler, value === undefined ? null : { label: this.watch.label, value, best: this.best });
    this.lastSaved = { folder, epoch };
    if (this.verbose) console.log(`saved checkpoint of epoch ${epoch} in ${folder}${value === undefined ? "" : ` (${this.watch.label} ${fmt(value)})`}`);
  }
}

function sha256(file: string): { bytes: number; sha256: string } {
  const buf = fs.readFileSync(file);
  return { bytes: buf.length, sha256: crypto.createHash("sha256").update(buf).digest("hex") };
}

/** Unique names for a dictionary of tensors (a name seen before gets `#i`). */
function uniqueNames(names: string[]): string[] {
  const seen = new Set<string>();
  return names.map((n, i) => {
    let k = n === "__metadata__" ? `${n}#${i}` : n;
    if (seen.has(k)) k = `${n}#${i}`;
    seen.add(k);
    return k;
  });
}

/** Write text to `file` through a temporary file, flushed to disk, and a rename (the checkpoint's commit). */
function writeFileAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

let stampCounter = 0;

async function saveCheckpoint(
  folder: string,
  state: TrainState,
  vars: NamedVariable[],
  scheduler: StatefulScheduler | undefined,
  monitor: CheckpointJson["monitor"],
): Promise<void> {
  const dir = path.resolve(folder);
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new Error(`ModelCheckpoint: ${dir} is a file; give a folder to save checkpoints in`);
  fs.mkdirSync(dir, { recursive: true });
  const epoch = state.epoch + 1;
  // (no Math.random here: the random stream is part of what is saved)
  const stamp = `${Date.now().toString(36)}${(stampCounter++).toString(36)}`;

  const modelNames = uniqueNames(vars.map((v) => v.name));
  const modelFile = `model-epoch${epoch}-${stamp}.safetensors`;
  const modelDict: Record<string, tf.Tensor> = {};
  vars.forEach((v, i) => (modelDict[modelNames[i]] = v.variable));
  await saveTensors(modelDict, path.join(dir, modelFile));

  let optimizer: CheckpointJson["optimizer"] = null;
  let optimizerEntry: FileEntry | null = null;
  if (isOptimizer(state.updater)) {
    const weights = await optimizerWeights(state.updater);
    try {
      const names = uniqueNames(weights.map((w) => w.name));
      if (weights.length > 0) {
        const file = `optimizer-epoch${epoch}-${stamp}.safetensors`;
        const dict: Record<string, tf.Tensor> = {};
        weights.forEach((w, i) => (dict[names[i]] = w.tensor));
        await saveTensors(dict, path.join(dir, file));
        optimizerEntry = { file, ...sha256(path.join(dir, file)) };
      }
      const lr = learningRateOf(state.updater);
      optimizer = { className: state.updater.constructor.name, names, learningRate: lr ?? null };
    } finally {
      for (const w of weights) w.tensor.dispose();
    }
  }

  const loader = state.trainIter as { epoch?: unknown };
  const rs = randomStateApi();
  const json: CheckpointJson = {
    format: "d2l-ts checkpoint",
    version: 1,
    epoch,
    numEpochs: state.numEpochs,
    savedAt: new Date().toISOString(),
    files: { model: { file: modelFile, ...sha256(path.join(dir, modelFile)) }, optimizer: optimizerEntry },
    model: { names: modelNames, variables: vars.map((v) => v.variable.name), shapes: vars.map((v) => [...v.variable.shape]), dtypes: vars.map((v) => v.variable.dtype) },
    optimizer,
    trainIterEpoch: typeof loader.epoch === "number" ? loader.epoch : null,
    scheduler: scheduler ? scheduler.stateDict() : null,
    randomState: rs.get(),
    monitor,
    history: state.history,
  };
  writeFileAtomic(path.join(dir, JSON_NAME), JSON.stringify(json, null, 1));

  // Committed: the previous checkpoint's tensor files (and temporary files of killed runs) can go.
  const keep = new Set([modelFile, optimizerEntry?.file]);
  for (const f of fs.readdirSync(dir)) {
    if ((TENSOR_FILE.test(f) && !keep.has(f)) || (f.startsWith(`.${JSON_NAME}.`) && f.endsWith(".tmp"))) fs.rmSync(path.join(dir, f), { force: true });
  }
}

/** Options of {@link resume}: what to put the checkpoint's state back into. */
export interface ResumeOptions {
  /** The net, built as the saving run built it (a LayersModel; a function net needs `params`). */
  net?: Net;
  /** The weights of a function net, in the order the saving run had them (its engine's params). */
  params?: Param[];
  /**
   * The optimizer to continue (made as the saving run made it): it gets the
   * saved state and learning rate. `null` loads the weights only. Required
   * when the checkpoint holds an optimizer's state.
   */
  optimizer?: tf.Optimizer | null;
  /** The training `DataLoader`: its epoch counter is set, so its shuffles continue where they were. */
  trainIter?: unknown;
  /** The scheduler to continue (`loadStateDict`); required when the checkpoint holds one, `null` to ignore it. */
  scheduler?: StatefulScheduler | null;
  /** Put the saved random state back with `d2l.setRandomState` (default true). */
  randomState?: boolean;
  /** Print one line saying what was resumed (default true). */
  verbose?: boolean;
}

/** What {@link resume} returns: spread it into `fit`'s options. */
export interface Resumed {
  /** Epochs trained before the checkpoint: `fit`'s `initialEpoch`. */
  initialEpoch: number;
  /** Their logs: `fit`'s `history`, so the run's history is whole. */
  history: EpochLog[];
}

/**
 * Resume a run from a checkpoint folder of {@link ModelCheckpoint}: puts the
 * saved weights into `net` (or `params`), the optimizer's state and learning
 * rate into `optimizer`, the DataLoader's epoch into `trainIter`, the
 * scheduler's state into `scheduler` and the random state back (when the run
 * called `d2l.seed`), and returns `{ initialEpoch, history }` for `fit`
 * (PyTorch's `model.load_state_dict(ckpt["model"])`,
 * `optimizer.load_state_dict(ckpt["optimizer"])`, `start_epoch =
 * ckpt["epoch"]`; Keras' `initial_epoch`). Build the net, optimizer and
 * loader as the saving run did first (after the same `d2l.seed(n)`): the
 * resumed epochs then give the losses an uninterrupted run would have.
 * A missing or damaged file is a `d2l.TensorFileError` naming it.
 *
 * @example
 * d2l.seed(0);
 * const net = makeNet(); const updater = new d2l.optim.SGD({ lr: 0.1, momentum: 0.9 });
 * const resumed = await d2l.resume("runs/mlp", { net, optimizer: updater, trainIter });
 * // resumed from runs/mlp: epoch 4 ...
 * await d2l.fit({ net, loss, updater, trainIter, numEpochs: 8, ...resumed });
 */
export async function resume(folder: string, opts: ResumeOptions = {}): Promise<Resumed> {
  if (typeof folder !== "string" || folder.trim() === "") throw new Error(`resume(folder, opts): expected the folder a ModelCheckpoint saved into, got ${JSON.stringify(folder)}`);
  if (opts === null || typeof opts !== "object") throw new Error("resume(folder, opts): opts must be an object { net, optimizer, trainIter, scheduler? }");
  const dir = path.resolve(folder);
  const jsonPath = path.join(dir, JSON_NAME);
  const json = readCheckpointJson(dir, jsonPath);

  // Every check first, then the changes: a bad checkpoint changes nothing.
  if (opts.net === undefined && opts.params === undefined) throw new Error("resume: pass the net to load the weights into (net, or params for a function net)");
  if (opts.params === undefined && !isLayersModel(opts.net))
    throw new Error("resume: the net is a function, so pass its weights as params: [W, b, ...], in the order the saving run's engine had them");
  const vars = modelVariables(opts.net, opts.params, undefined);
  const m = json.model;
  if (vars.length !== m.names.length) {
    throw new Error(
      `resume: the checkpoint in ${dir} holds ${m.names.length} weights (${m.names.join(", ")}) but the net has ${vars.length}; build the same net as the run that saved it`,
    );
  }
  vars.forEach((v, i) => {
    const want = m.shapes[i];
    if (v.variable.shape.length !== want.length || v.variable.shape.some((d, k) => d !== want[k]) || v.variable.dtype !== m.dtypes[i]) {
      throw new Error(
        `resume: weight ${i + 1} (${v.name}) of the net has shape [${v.variable.shape.join(",")}] (${v.variable.dtype}) but the checkpoint's (${m.names[i]}) has [${want.join(",")}] (${m.dtypes[i]}); build the same net as the run that saved it`,
      );
    }
  });
  const opt = opts.optimizer;
  if (json.optimizer !== null && opt === undefined) {
    throw new Error(
      `resume: the checkpoint holds the state of a ${json.optimizer.className}; pass it as optimizer (made as the saving run made it) to continue it, or optimizer: null to load the weights only`,
    );
  }
  if (opt !== undefined && opt !== null) {
    if (!isOptimizer(opt)) throw new Error("resume: optimizer must be a tf.Optimizer (a d2l.optim or tf.train optimizer), or null");
    if (json.optimizer === null) throw new Error("resume: the checkpoint holds no optimizer state (the run trained with a function updater); leave optimizer out");
    if (opt.constructor.name !== json.optimizer.className) {
      throw new Error(
        `resume: the checkpoint holds the state of a ${json.optimizer.className} but the optimizer given is a ${opt.constructor.name}; make the optimizer the saving run used`,
      );
    }
  }
  if (json.scheduler !== null && json.scheduler !== undefined && opts.scheduler === undefined) {
    throw new Error(
      "resume: the checkpoint holds a learning-rate scheduler's state; pass the scheduler (made as the saving run made it) to continue it, or scheduler: null to ignore it",
    );
  }
  if (opts.scheduler && typeof opts.scheduler.loadStateDict !== "function") throw new Error("resume: scheduler must have loadStateDict(state), as every d2l.lr scheduler has");
  if (opts.scheduler && (json.scheduler === null || json.scheduler === undefined)) {
    throw new Error("resume: the checkpoint holds no scheduler state (the ModelCheckpoint had no scheduler option); leave scheduler out");
  }

  const modelTensors = await loadChecked(dir, json.files.model, m.names);
  let optTensors: Record<string, tf.Tensor> | undefined;
  try {
    if (opt && json.optimizer && json.files.optimizer) optTensors = await loadChecked(dir, json.files.optimizer, json.optimizer.names);
    vars.forEach((v, i) => v.variable.assign(modelTensors[m.names[i]]));
    if (opt && json.optimizer) {
      // The state is named after the saving run's variables (`dense_Dense1/kernel/momentum`); a net
      // rebuilt in the same kernel has new names (dense_Dense3/...): rename to this net's.
      const renamed = new Map((m.variables ?? []).map((saved, i) => [saved, vars[i].variable.name]));
      const rename = (name: string): string => {
        let best = "";
        for (const saved of renamed.keys()) if (name.startsWith(`${saved}/`) && saved.length > best.length) best = saved;
        return best === "" ? name : `${renamed.get(best)}${name.slice(best.length)}`;
      };
      const names = json.optimizer.names;
      await setOptimizerWeights(
        opt,
        names.map((name) => ({ name: rename(name.replace(/#\d+$/, "")), tensor: (optTensors as Record<string, tf.Tensor>)[name] })),
      );
      if (json.optimizer.learningRate !== null) setLearningRateOf(opt, json.optimizer.learningRate);
    }
  } finally {
    tf.dispose(Object.values(modelTensors));
    if (optTensors) tf.dispose(Object.values(optTensors));
  }
  const loader = opts.trainIter as { epoch?: unknown } | undefined;
  if (json.trainIterEpoch !== null && loader !== undefined && loader !== null && typeof loader === "object" && typeof loader.epoch === "number") loader.epoch = json.trainIterEpoch;
  if (opts.scheduler) opts.scheduler.loadStateDict(json.scheduler);
  let randomNote = "";
  if (json.randomState !== null && json.randomState !== undefined && opts.randomState !== false) {
    randomStateApi().set(json.randomState);
    randomNote = ", random state";
  }
  if (opts.verbose ?? true) {
    const parts = ["weights"];
    if (opt && json.optimizer) parts.push(`${json.optimizer.className} state${json.optimizer.learningRate !== null ? ` (lr ${fmt(json.optimizer.learningRate)})` : ""}`);
    if (json.trainIterEpoch !== null && typeof loader?.epoch === "number") parts.push("data loader epoch");
    if (opts.scheduler) parts.push("scheduler");
    console.log(`resumed from ${folder}: epoch ${json.epoch} of ${json.numEpochs} (${parts.join(", ")}${randomNote}); pass numEpochs > ${json.epoch} to fit`);
  }
  return { initialEpoch: json.epoch, history: json.history.map(reviveLog) };
}

function readCheckpointJson(dir: string, jsonPath: string): CheckpointJson {
  let text: string;
  try {
    text = fs.readFileSync(jsonPath, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      const what = fs.existsSync(dir) ? `${dir} holds no checkpoint` : `there is no folder ${dir}`;
      throw new TensorFileError(jsonPath, `no such file: ${what}. A ModelCheckpoint callback writes one (new d2l.ModelCheckpoint(folder)); check the path`);
    }
    throw new TensorFileError(jsonPath, `cannot read it (${(e as Error).message})`);
  }
  let json: CheckpointJson;
  try {
    json = JSON.parse(text) as CheckpointJson;
  } catch (e) {
    throw new TensorFileError(jsonPath, `damaged: not JSON (${(e as Error).message}); resume from another checkpoint, or train again`);
  }
  const ok =
    json !== null &&
    typeof json === "object" &&
    json.format === "d2l-ts checkpoint" &&
    Number.isInteger(json.epoch) &&
    json.epoch >= 1 &&
    json.files?.model !== undefined &&
    Array.isArray(json.model?.names) &&
    Array.isArray(json.model?.shapes) &&
    Array.isArray(json.history);
  if (!ok) throw new TensorFileError(jsonPath, "damaged, or not a checkpoint written by d2l.ModelCheckpoint (it lacks the epoch, the files or the history)");
  if (json.version !== 1) throw new TensorFileError(jsonPath, `a checkpoint of format version ${String(json.version)}; this d2l-ts reads version 1`);
  return json;
}

/** Load a checkpoint's tensor file after checking its size and hash; every name in `names` must be there. */
async function loadChecked(dir: string, entry: FileEntry, names: string[]): Promise<Record<string, tf.Tensor>> {
  const file = path.join(dir, entry.file);
  if (!fs.existsSync(file))
    throw new TensorFileError(file, `missing: ${path.join(dir, JSON_NAME)} names it, but it is not there; the checkpoint is incomplete (resume from another one, or train again)`);
  const { bytes, sha256: hash } = sha256(file);
  if (bytes !== entry.bytes || hash !== entry.sha256) {
    throw new TensorFileError(
      file,
      `damaged: ${bytes} bytes with SHA-256 ${hash.slice(0, 12)}..., but the checkpoint saved ${entry.bytes} bytes with ${entry.sha256.slice(0, 12)}...; resume from another checkpoint, or train again`,
    );
  }
  const tree = await loadTensors(file);
  if (tree instanceof tf.Tensor || Array.isArray(tree)) {
    tf.dispose(tree);
    throw new TensorFileError(file, "damaged: expected named tensors");
  }
  const missing = names.filter((n) => !(tree[n] instanceof tf.Tensor));
  if (missing.length > 0) {
    tf.dispose(Object.values(tree));
    throw new TensorFileError(file, `damaged: it lacks ${missing.join(", ")}`);
  }
  return tree;
}

/** JSON writes NaN as null: a log's numbers come back as NaN, its missing values as undefined. */
function reviveLog(log: EpochLog): EpochLog {
  const out = { ...log } as Record<string, unknown>;
  for (const k of Object.keys(out)) if (out[k] === null) out[k] = k === "trainLoss" ? NaN : undefined;
  return out as unknown as EpochLog;
}
