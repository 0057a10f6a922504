/**
 * A compiled training step (issue 21, per-op overhead): trace one
 * `optimizer.minimize` call, then replay the kernels it ran straight on the
 * backend, without tfjs' engine in between.
 *
 * Why: a small step is almost all engine work. The softmax regression step of
 * bench/ runs 58 kernels; on `native` each costs about 9 µs of dispatch, tape,
 * scopes and tensor bookkeeping around a kernel that itself takes 1–5 µs, and
 * 28 of the 58 are Identity, Reshape and Cast, which move no data. PyTorch's
 * whole step takes 0.29 ms here. The replay calls each recorded kernel's
 * function with the recorded shapes and attributes, frees what the step made
 * at its end, and hands the engine only the loss and the variables' new values.
 *
 * What a replay needs to be the same step: the same kernels on the same
 * shapes, reading the step's arguments, the variables, and tensors that do not
 * change. `compileStep` checks that by tracing until two traces in a row agree
 * (kernels, attributes, shapes, which variable or argument each reads, and the
 * values of every tensor the step makes from JavaScript numbers). A step whose
 * traces never agree (dropout's and other random masks are made from
 * JavaScript random numbers, so they differ on every trace), that reads values
 * back, or that runs on a backend whose reads are asynchronous (webgpu) runs
 * eagerly, every time, with the reason in `step.reason`.
 */
import * as tf from "@tensorflow/tfjs";

/** Where a recorded kernel input comes from at replay time. */
type Ref =
  | { kind: "arg"; index: number }
  | { kind: "var"; v: tf.Variable }
  | { kind: "live"; t: tf.Tensor }
  | { kind: "const"; t: tf.Tensor; values?: string }
  | { kind: "slot"; slot: number };

interface RecInput {
  name: string;
  ref: Ref;
  shape: number[];
  dtype: tf.DataType;
}

interface Rec {
  name: string;
  /** Pack, Concat and AddN take their inputs as an array, the other kernels by name. */
  arrayInputs: boolean;
  kernelFunc: tf.KernelFunc;
  attrs: tf.NamedAttrMap;
  inputs: RecInput[];
  outputs: number[];
}

interface Program {
  /** The optimizer's hyperparameters when traced: a replay needs the same. */
  guard: string;
  /** The kernels a replay runs: the trace's, less those whose results nothing uses (see {@link prune}). */
  recs: Rec[];
  /** After `recs[i]`, the slots no later kernel reads and the step does not return: freed there. */
  frees: number[][];
  nSlots: number;
  assigns: { v: tf.Variable; slot: number }[];
  results: number[];
  /** The trace as text, to compare two traces. */
  key: string;
  /** The `const` tensors the program keeps alive, disposed with it. */
  kept: tf.Tensor[];
  /** The variables and live tensors it reads or assigns: it replays only while none is disposed. */
  watched: (tf.Variable | tf.Tensor)[];
  /** The variables it assigns, for the optimizer's bookkeeping after a replay. */
  updated: tf.Variable[];
}

/** The engine's members the trace hooks into (tfjs-core 4.x `Engine`). */
interface EngineInternals {
  backend: tf.KernelBackend;
  backendName: string;
  registeredVariables: Record<string, tf.Variable>;
  runKernel(name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): tf.Tensor | tf.Tensor[];
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend?: tf.KernelBackend): tf.Tensor;
  makeTensor(values: unknown, shape: number[], dtype: tf.DataType, backend?: tf.KernelBackend): tf.Tensor;
}

interface BackendData {
  readSync(dataId: object): unknown;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** A training step made by {@link compileStep}. */
export interface CompiledStep {
  /** Run one step on `args` (the arguments `lossFn` takes) and return the loss, as `optimizer.minimize(f, true)` does. */
  (...args: tf.Tensor[]): tf.Scalar;
  /** Whether the last call was replayed (true) or ran eagerly (false). */
  readonly compiled: boolean;
  /** Why the step runs eagerly, in words; "" while it compiles or replays. */
  readonly reason: string;
  /** How many kernels one replay runs (0 before the step compiled). */
  readonly kernels: number;
  /** Free the compiled programs and the constants they keep. */
  dispose(): void;
}

/** Options of {@link compileStep}. */
export interface CompileStepOptions {
  /** The variables to train (default: every trainable variable, as `minimize`). */
  varList?: tf.Variable[];
  /** Traces that may disagree before the step gives up compiling and runs eagerly (default 4). */
  maxTraces?: number;
}

const MAX_PROGRAMS = 8;

/**
 * A training step that runs as the kernels of one traced step, replayed
 * without tfjs' engine: the same results as `optimizer.minimize(() =>
 * lossFn(...args), true, varList)`, with less overhead per op (issue 21). The
 * first calls run eagerly and trace; once two traces agree, later calls with
 * the same argument shapes replay. A step with random numbers (dropout), data
 * read back, or on webgpu keeps running eagerly (`step.reason` says why).
 * Tensors the loss reads other than its arguments and the variables are taken
 * as constants: pass what changes from batch to batch as arguments.
 *
 * Book: d2l.ai 3.4 and 3.7's training step, `l.backward(); trainer.step()`,
 * with what `torch.compile` or a CUDA graph does for PyTorch.
 *
 * @example
 * const net = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10 })] });
 * const opt = tf.train.sgd(0.1);
 * const step = d2l.compileStep((X, y) => tf.losses.softmaxCrossEntropy(y, net.apply(X) as tf.Tensor), opt);
 * for (const [X, y] of batches) step(X, y).dispose();
 */
export function compileStep(lossFn: (...args: tf.Tensor[]) => tf.Scalar, optimizer: tf.Optimizer, options: CompileStepOptions = {}): CompiledStep {
  const region = compileRegion(
    (args) => {
      const out = optimizer.minimize(() => lossFn(...args), true, options.varList);
      if (out == null) throw new Error("compileStep: optimizer.minimize returned no loss");
      return [out];
    },
    optimizer,
    { maxTraces: options.maxTraces },
  );
  const step = ((...args: tf.Tensor[]): tf.Scalar => region(args)[0] as tf.Scalar) as CompiledStep;
  Object.defineProperties(step, {
    compiled: { get: () => region.compiled },
    reason: { get: () => region.reason },
    kernels: { get: () => region.kernels },
    dispose: { value: () => region.dispose() },
  });
  return step;
}

/** What {@link compileRegion} returns: `run` on arguments, traced and then replayed. */
export interface CompiledRegion {
  (args: tf.Tensor[]): tf.Tensor[];
  readonly compiled: boolean;
  readonly reason: string;
  readonly kernels: number;
  dispose(): void;
}

/**
 * @internal The machinery of {@link compileStep} for any synchronous training step: `run(args)` runs kernels,
 * may assign variables through `optimizer` (whose bookkeeping a replay advances), and returns tensors that
 * the caller owns. `guard()` names what else a replay depends on (the engine: which variables it trains).
 */
export function compileRegion(run: (args: tf.Tensor[]) => tf.Tensor[], optimizer: tf.Optimizer, options: { maxTraces?: number; guard?: () => string } = {}): CompiledRegion {
  const maxTraces = options.maxTraces ?? 4;
  const programs = new Map<string, { program?: Program; last?: Program; traces: number; gaveUp: string }>();
  let compiled = false;
  let reason = "";
  let kernels = 0;
  const replayable = optimizerReplay(optimizer);
  const guardNow = () => guardOf(optimizer) + "|" + (options.guard ? options.guard() : "");
  const clearPrograms = () => {
    for (const e of programs.values()) for (const p of [e.program, e.last]) if (p) disposeProgram(p);
    programs.clear();
  };

  const region = ((args: tf.Tensor[]): tf.Tensor[] => {
    for (const a of args) {
      if (!(a instanceof tf.Tensor)) throw new Error(`compileStep: the step's arguments must be tensors, got ${typeof a}`);
      if (a.isDisposed) throw new Error("compileStep: an argument of the step was disposed; pass live tensors");
    }
    const engine = tf.engine() as unknown as EngineInternals;
    const backendName = tf.getBackend();
    if (tf.findBackend("webgpu") === tf.backend()) {
      compiled = false;
      reason = `the ${backendName} backend reads values asynchronously, so a trace cannot check its constants; the step runs eagerly`;
      return run(args);
    }
    if (typeof replayable === "string") {
      compiled = false;
      reason = replayable;
      return run(args);
    }
    const sig = backendName + "|" + args.map((a) => `${a.dtype}[${a.shape.join(",")}]`).join(";");
    let entry = programs.get(sig);
    if (entry === undefined) {
      if (programs.size >= MAX_PROGRAMS) clearPrograms();
      entry = { traces: 0, gaveUp: "" };
      programs.set(sig, entry);
    }
    const guard = guardNow();
    if (entry.program !== undefined && stillValid(entry.program) && entry.program.guard === guard) {
      compiled = true;
      reason = "";
      kernels = entry.program.recs.length;
      const outs = replay(entry.program, args, engine);
      replayable(entry.program.updated);
      return outs;
    }
    if (entry.program !== undefined) {
      disposeProgram(entry.program);
      entry.program = undefined;
    }
    if (entry.gaveUp) {
      compiled = false;
      reason = entry.gaveUp;
      return run(args);
    }
    const { outs, program, failure } = traceStep(() => run(args), args, engine, guard);
    compiled = false;
    entry.traces++;
    if (program === undefined) {
      entry.gaveUp = failure;
    } else if (entry.last !== undefined && entry.last.key === program.key) {
      disposeProgram(entry.last);
      entry.last = undefined;
      entry.program = program;
      entry.traces = 0;
    } else {
      if (entry.last !== undefined) disposeProgram(entry.last);
      entry.last = program;
      if (entry.traces >= maxTraces) {
        disposeProgram(program);
        entry.last = undefined;
        entry.gaveUp = `${entry.traces} traces of the step did not agree (a random mask such as dropout's, or a tensor the loss reads that changes between steps and is not an argument); the step runs eagerly`;
      }
    }
    reason = entry.gaveUp;
    return outs;
  }) as CompiledRegion;

  Object.defineProperties(region, {
    compiled: { get: () => compiled },
    reason: { get: () => reason },
    kernels: { get: () => kernels },
    dispose: { value: clearPrograms },
  });
  return region;
}

/** The optimizers tfjs ships (`tf.train.*`): their only state outside tensors is the iteration count. */
const TFJS_OPTIMIZERS = [tf.SGDOptimizer, tf.MomentumOptimizer, tf.AdamOptimizer, tf.AdamaxOptimizer, tf.AdagradOptimizer, tf.AdadeltaOptimizer, tf.RMSPropOptimizer];

/** An optimizer that can replay keeps in JavaScript what its update does besides tensors; this advances it. */
interface ReplayHook {
  /** @internal d2l.optim's Optimizer: count one step for each of these variables (lib/train/optimizers.ts). */
  replayedStep(updated: tf.Variable[]): void;
}

/**
 * What to do after a replay for this optimizer's bookkeeping, or why it cannot replay. tfjs' optimizers
 * count iterations; d2l.optim's count steps per parameter (their `replayedStep`); anything else may keep
 * state a replay would skip.
 */
function optimizerReplay(opt: tf.Optimizer): ((updated: tf.Variable[]) => void) | string {
  const hook = (opt as unknown as Partial<ReplayHook>).replayedStep;
  if (typeof hook === "function") return (updated) => hook.call(opt, updated);
  if (TFJS_OPTIMIZERS.some((C) => opt.constructor === C)) {
    const counted = opt as unknown as { incrementIterations(): void };
    return () => counted.incrementIterations();
  }
  return `compileStep replays tfjs' optimizers (tf.train.*) and d2l.optim's; ${opt.constructor.name} may keep state a replay would skip, so the step runs eagerly`;
}

/** The optimizer's hyperparameters as text: a replay with a changed learning rate (a scheduler) traces again. */
function guardOf(opt: tf.Optimizer): string {
  let config = "";
  try {
    config = JSON.stringify(opt.getConfig());
  } catch {
    config = "";
  }
  const lr = (opt as unknown as { learningRate?: unknown }).learningRate;
  return `${config}|${typeof lr === "number" ? lr : ""}`;
}

function disposeProgram(p: Program): void {
  for (const t of p.kept) t.dispose();
  p.kept = [];
}

/** A program can replay while every variable and live tensor it reads still exists. */
function stillValid(p: Program): boolean {
  return p.watched.every((o) => !o.isDisposed);
}

/** Variables and live tensors by identity, the same number in every trace: two traces agree only on the same objects. */
const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;
let unseenConstants = 0;
function idOf(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) objectIds.set(o, (id = nextObjectId++));
  return id;
}

/** Run `run` (one eager step) while recording the kernels it runs at the top level. */
function traceStep(run: () => tf.Tensor[], args: tf.Tensor[], engine: EngineInternals, guard: string): { outs: tf.Tensor[]; program?: Program; failure: string } {
  const backend = engine.backend as unknown as BackendData;
  const backendName = engine.backendName;
  const refOf = new Map<object, Ref>();
  for (const v of Object.values(engine.registeredVariables)) refOf.set(v.dataId, { kind: "var", v });
  args.forEach((a, index) => refOf.set(a.dataId, { kind: "arg", index }));
  const externals = new Map<tf.Tensor, { clone: tf.Tensor; ref: Ref }>();
  const nestedOutputs = new Set<object>();
  const recs: Rec[] = [];
  const assigns: { v: tf.Variable; slot: number }[] = [];
  let nSlots = 0;
  let depth = 0;
  let suspended = false;
  let failure = "";

  const resolve = (t: tf.Tensor): Ref => {
    const known = refOf.get(t.dataId);
    if (known !== undefined) return known;
    if (nestedOutputs.has(t.dataId)) {
      failure ||= "a kernel's internal result is read by a later kernel; the step runs eagerly";
    }
    let ext = externals.get(t);
    if (ext === undefined) {
      suspended = true;
      let clone: tf.Tensor;
      try {
        clone = tf.keep(t.clone());
      } finally {
        suspended = false;
      }
      ext = { clone, ref: { kind: "const", t: clone, values: madeValues.get(t.dataId) } };
      externals.set(t, ext);
    }
    return ext.ref;
  };

  // The values of the tensors the step makes from JavaScript numbers, as it makes them: two traces agree
  // only if these agree (dropout's JavaScript random masks do not), and no value is read back for it.
  const madeValues = new Map<object, string>();
  const origMakeTensor = engine.makeTensor;
  const ownMakeTensor = Object.prototype.hasOwnProperty.call(engine, "makeTensor");
  engine.makeTensor = function (this: EngineInternals, values: unknown, shape: number[], dtype: tf.DataType, b?: tf.KernelBackend) {
    const t = origMakeTensor.call(this, values, shape, dtype, b);
    if (!suspended && ArrayBuffer.isView(values)) madeValues.set(t.dataId, Array.from(values as unknown as ArrayLike<number>).join(","));
    return t;
  };
  const origRunKernel = engine.runKernel;
  const origAssign = tf.Variable.prototype.assign;
  const origReadSync = backend.readSync;
  const ownRunKernel = Object.prototype.hasOwnProperty.call(engine, "runKernel");
  const ownReadSync = Object.prototype.hasOwnProperty.call(backend, "readSync");
  engine.runKernel = function (this: EngineInternals, name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap) {
    if (suspended) return origRunKernel.call(this, name, inputs, attrs);
    if (depth > 0) {
      // A kernel run inside another one (the tape's copies of saved tensors are Identity kernels): an Identity
      // output is its input's data; anything else is internal to the outer kernel, which the replay runs whole.
      const out = origRunKernel.call(this, name, inputs, attrs);
      const outs = Array.isArray(out) ? out : [out];
      if (name === "Identity" && inputs.x !== undefined) refOf.set(outs[0].dataId, refOf.get(inputs.x.dataId) ?? resolve(inputs.x));
      else for (const o of outs) nestedOutputs.add(o.dataId);
      return out;
    }
    const recInputs: RecInput[] = [];
    for (const [inputName, t] of Object.entries(inputs)) {
      if (t == null) continue;
      recInputs.push({ name: inputName, ref: resolve(t), shape: t.shape.slice(), dtype: t.dtype });
    }
    depth++;
    let out: tf.Tensor | tf.Tensor[];
    try {
      out = origRunKernel.call(this, name, inputs, attrs);
    } finally {
      depth--;
    }
    const outs = Array.isArray(out) ? out : [out];
    const kernel = tf.getKernel(name, backendName);
    if (kernel === undefined) failure ||= `kernel ${name} has no registered function on ${backendName}`;
    const outputs = outs.map((o) => {
      const slot = nSlots++;
      refOf.set(o.dataId, { kind: "slot", slot });
      return slot;
    });
    recs.push({ name, arrayInputs: Array.isArray(inputs), kernelFunc: kernel ? kernel.kernelFunc : () => [], attrs: { ...(attrs ?? {}) }, inputs: recInputs, outputs });
    return out;
  };
  tf.Variable.prototype.assign = function (this: tf.Variable, newValue: tf.Tensor) {
    const ref = refOf.get(newValue.dataId);
    origAssign.call(this, newValue);
    if (ref !== undefined && ref.kind === "slot") {
      assigns.push({ v: this, slot: ref.slot });
      refOf.set(this.dataId, ref);
    } else {
      failure ||= `variable ${this.name} was assigned a value the step did not compute; the step runs eagerly`;
    }
  };
  backend.readSync = function (this: BackendData, dataId: object) {
    // A kernel may read its inputs (cpu's do); a read outside any kernel is JavaScript deciding on values.
    if (!suspended && depth === 0) failure ||= "the step reads tensor values back (dataSync, arraySync or a data-dependent op); the step runs eagerly";
    return origReadSync.call(this, dataId);
  };

  let outs: tf.Tensor[];
  try {
    outs = run();
  } catch (e) {
    for (const { clone } of externals.values()) clone.dispose();
    throw e;
  } finally {
    if (ownMakeTensor) engine.makeTensor = origMakeTensor;
    else delete (engine as Partial<EngineInternals>).makeTensor;
    if (ownRunKernel) engine.runKernel = origRunKernel;
    else delete (engine as Partial<EngineInternals>).runKernel;
    tf.Variable.prototype.assign = origAssign;
    if (ownReadSync) backend.readSync = origReadSync;
    else delete (backend as Partial<BackendData>).readSync;
  }
  const results: number[] = [];
  for (const o of outs) {
    const r = refOf.get(o.dataId);
    if (r === undefined || r.kind !== "slot") failure ||= "a result of the step (its loss) was not computed by the step's kernels";
    else results.push(r.slot);
  }
  // A tensor the step read that is still alive (the optimizer's learning rate, a closure's input) is read
  // where it is at replay time; one the step made and freed is kept as the clone.
  const kept: tf.Tensor[] = [];
  for (const [t, ext] of externals) {
    if (!t.isDisposed) {
      Object.assign(ext.ref, { kind: "live", t });
      ext.clone.dispose();
    } else kept.push(ext.clone);
  }
  if (failure) {
    for (const t of kept) t.dispose();
    return { outs, failure };
  }
  // The trace as text: kernels, attributes, shapes, sources (variables and live tensors by identity, constants by value).
  const refKey = (r: Ref): string => {
    switch (r.kind) {
      case "arg":
        return `a${r.index}`;
      case "slot":
        return `s${r.slot}`;
      case "var":
        return `v${idOf(r.v)}:${r.v.name}`;
      case "live":
        return `l${idOf(r.t)}`;
      case "const":
        // A constant whose making the trace did not see (made before it, freed in it) agrees with nothing.
        return r.values !== undefined ? `c${r.values}` : `c?${++unseenConstants}`;
    }
  };
  const key = recs
    .map((r) => `${r.name}(${r.inputs.map((i) => `${i.name}=${refKey(i.ref)}:${i.dtype}[${i.shape}]`).join(" ")})${JSON.stringify(r.attrs)}->${r.outputs}`)
    .concat(
      assigns.map((a) => `assign v${idOf(a.v)}=s${a.slot}`),
      [`results ${results}`],
    )
    .join("\n");
  const watched = new Set<tf.Variable | tf.Tensor>(assigns.map((a) => a.v));
  for (const r of recs)
    for (const i of r.inputs)
      if (i.ref.kind === "var") watched.add(i.ref.v);
      else if (i.ref.kind === "live") watched.add(i.ref.t);
  const updated = assigns.map((a) => a.v);
  const { live, frees } = prune(recs, results, assigns);
  return { outs, failure: "", program: { guard, recs: live, frees, nSlots, assigns, results, key, kept, watched: [...watched], updated } };
}

/** Kernels with state of their own (a random stream): a replay runs them even when their result is unused. */
const STATEFUL_KERNEL = /random|multinomial|dropout/i;

/**
 * The kernels of a trace that a replay needs, and when each result can be freed. A kernel is needed when
 * the step returns or assigns one of its results, a needed kernel reads one, or it has state of its own.
 * What this drops is work tfjs' gradients do and nobody uses: a dense layer's fused matMul computes the
 * gradient of its input too, and for the first layer that input is the batch (in softmax regression on
 * bench/'s batch of 256 a [256, 10]·[10, 784] product, a third of the step's products), and
 * `tf.losses.softmaxCrossEntropy` computes the gradient of its labels. Freeing each intermediate after
 * its last reader, rather than at the end of the step, lets the next kernel reuse memory still in cache.
 * Together: softmax regression's replayed step in 303 µs against 391 (median of 15 alternating runs).
 */
function prune(recs: Rec[], results: number[], assigns: { slot: number }[]): { live: Rec[]; frees: number[][] } {
  const kept = new Set<number>([...results, ...assigns.map((a) => a.slot)]);
  const needed = new Set<number>(kept);
  const live: Rec[] = [];
  for (let i = recs.length - 1; i >= 0; i--) {
    const r = recs[i];
    if (!STATEFUL_KERNEL.test(r.name) && !r.outputs.some((s) => needed.has(s))) continue;
    live.push(r);
    for (const inp of r.inputs) if (inp.ref.kind === "slot") needed.add(inp.ref.slot);
  }
  live.reverse();
  const lastUse = new Map<number, number>();
  live.forEach((r, i) => {
    for (const s of r.outputs) lastUse.set(s, i);
    for (const inp of r.inputs) if (inp.ref.kind === "slot") lastUse.set(inp.ref.slot, i);
  });
  const frees: number[][] = live.map(() => []);
  for (const [slot, i] of lastUse) if (!kept.has(slot)) frees[i].push(slot);
  return { live, frees };
}

/** Run a program's kernels on `args`, assign the variables' new values, and return the results. */
function replay(p: Program, args: tf.Tensor[], engine: EngineInternals): tf.Tensor[] {
  const backend = engine.backend;
  const data = backend as unknown as BackendData;
  const slots: (tf.TensorInfo | undefined)[] = new Array(p.nSlots);
  const dataIdOf = (r: Ref): object => {
    switch (r.kind) {
      case "arg":
        return args[r.index].dataId;
      case "var":
        return r.v.dataId;
      case "live":
      case "const":
        return r.t.dataId;
      case "slot": {
        const s = slots[r.slot];
        if (s === undefined) throw new Error("compileStep: a replayed kernel read a result that was not computed");
        return s.dataId;
      }
    }
  };
  try {
    for (let k = 0; k < p.recs.length; k++) {
      const r = p.recs[k];
      const infos = r.inputs.map((i) => ({ dataId: dataIdOf(i.ref), shape: i.shape, dtype: i.dtype }));
      let inputs: tf.NamedTensorInfoMap;
      if (r.arrayInputs) inputs = infos as unknown as tf.NamedTensorInfoMap;
      else {
        inputs = {};
        r.inputs.forEach((i, k) => (inputs[i.name] = infos[k]));
      }
      const out = r.kernelFunc({ inputs, attrs: r.attrs, backend });
      const outs = Array.isArray(out) ? out : [out];
      for (let j = 0; j < r.outputs.length; j++) slots[r.outputs[j]] = outs[j];
      for (const s of p.frees[k]) {
        data.disposeData((slots[s] as tf.TensorInfo).dataId);
        slots[s] = undefined;
      }
    }
  } catch (e) {
    // A kernel threw (out of memory, an interrupt): free what the replay made; the variables keep their values.
    for (const info of slots) if (info !== undefined) data.disposeData(info.dataId);
    throw e;
  }
  // The engine takes over the loss and the new values; the step's other results are freed.
  const owned = new Set<number>();
  const wrap = (slot: number): tf.Tensor => {
    const info = slots[slot] as tf.TensorInfo;
    if (owned.has(slot)) backend.incRef(info.dataId);
    owned.add(slot);
    return engine.makeTensorFromTensorInfo(info);
  };
  const results = p.results.map(wrap);
  for (const a of p.assigns) {
    const t = wrap(a.slot);
    a.v.assign(t);
    t.dispose();
  }
  for (let s = 0; s < slots.length; s++) {
    const info = slots[s];
    if (info !== undefined && !owned.has(s)) data.disposeData(info.dataId);
  }
  return results;
}
