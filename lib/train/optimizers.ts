/**
 * `d2l.optim`: PyTorch's optimizers (`torch.optim` 1.13) as `tf.Optimizer`s.
 *
 * Each follows torch's update rule exactly (the reference trajectories in
 * `test/fixtures/torch/optim.json` come from torch itself), takes torch's
 * options in camelCase (`weight_decay` → `weightDecay`), and has a learning
 * rate that can change after creation (`learningRate`, `setLearningRate`),
 * which is what a scheduler (`d2l.lr`) needs. Being `tf.Optimizer`s, they are
 * what the engine and every `trainCh*` take as their updater, and what
 * `model.compile({ optimizer })` takes too.
 *
 * Why not tfjs' own: `tf.train.adagrad`, `rmsprop` and `adadelta` put `eps`
 * inside the square root and start Adagrad's accumulator at 0.1 (torch: 0);
 * none has weight decay, dampening, AMSGrad or centred momentum; `adam` and
 * `rmsprop` cannot change their learning rate; and all of them key their
 * state by the position of a variable in the gradient list, not by its name.
 * So the rules are written out here, a few tensor operations each, on one
 * base class that keeps the state per variable name and makes it complete in
 * `getWeights()`/`setWeights()`.
 */
import * as tf from "@tensorflow/tfjs";

/** A named tensor, as `tf.Optimizer.getWeights` returns and `setWeights` takes. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** What one parameter (variable) has: its update count and its state tensors (torch's `optimizer.state[p]`). */
interface ParamState {
  step: number;
  slots: Map<string, tf.Variable>;
}

/** What {@link Optimizer}'s update rule gets besides the parameter and its gradient: its state and the learning rate. */
export interface UpdateContext {
  /** This parameter's update count, this update included (torch's `state["step"]`). */
  step: number;
  /** The learning rate of this update. */
  lr: number;
  /** A state tensor of this parameter, or undefined before it exists. */
  get(key: string): tf.Variable | undefined;
  /** Set (or create) a state tensor of this parameter. */
  set(key: string, value: tf.Tensor): void;
}

/**
 * The base of `d2l.optim`'s optimizers (torch's `torch.optim.Optimizer`): a
 * `tf.Optimizer` whose learning rate can change, whose state is kept per
 * variable name, and whose `getWeights()`/`setWeights()` hold all of it (the
 * optimizer's update count, the learning rate, and each parameter's step count
 * and state tensors under torch's names, as `"<variable>/<state>"`), so that a
 * checkpoint resumes it exactly.
 *
 * A subclass writes one update rule, {@link Optimizer.update}.
 *
 * @example
 * const opt: d2l.optim.Optimizer = new d2l.optim.Adam({ lr: 1e-3 });
 * opt.setLearningRate(1e-4); // what a scheduler does between steps
 * opt.learningRate           // 1e-4
 */
export abstract class Optimizer extends tf.Optimizer {
  private lr: number;
  private state = new Map<string, ParamState>();

  /**
   * @param torchName torch's name of the optimizer (`"Adam"`), for messages.
   * @param lr the initial learning rate (a number ≥ 0).
   * @param slotNames the names of the state tensors each parameter may have (torch's state keys).
   */
  protected constructor(
    private readonly torchName: string,
    lr: number,
    private readonly slotNames: readonly string[],
  ) {
    super();
    this.lr = checkLr(torchName, lr);
  }

  /**
   * The learning rate the next update uses (torch's `param_groups[0]["lr"]`);
   * read and write (a number ≥ 0).
   *
   * @example
   * opt.learningRate = 0.01;
   */
  get learningRate(): number {
    return this.lr;
  }

  set learningRate(lr: number) {
    this.lr = checkLr(this.torchName, lr);
  }

  /**
   * Set the learning rate of the next updates (as tfjs' `tf.train.sgd(...)`'s
   * `setLearningRate`; torch: `group["lr"] = lr`).
   *
   * @example
   * opt.setLearningRate(0.01);
   */
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }

  /**
   * One update of each variable in `variableGradients` (a map from variable
   * name to gradient, as the engine and `tf.Optimizer.minimize` pass it, or a
   * list of `{ name, tensor }`); a `null` gradient leaves its variable, and
   * its step count, as they are (torch skips parameters without `.grad`).
   *
   * @example
   * const W = tf.variable(tf.ones([2]));
   * const { grads } = tf.variableGrads(() => W.square().sum(), [W]);
   * opt.applyGradients(grads);
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, tf.Tensor | null | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.entries(variableGradients);
    const registered = tf.engine().registeredVariables;
    const work: { v: tf.Variable; g: tf.Tensor; name: string }[] = [];
    // Check everything first, so a bad call changes nothing.
    for (const [name, g] of entries) {
      if (g === null || g === undefined) continue;
      const v = registered[name];
      if (v === undefined) {
        throw new Error(`optim.${this.torchName}: got a gradient for "${name}", but no variable has that name; pass gradients keyed by variable name (tf.variableGrads(f).grads)`);
      }
      if (!sameShape(g.shape, v.shape)) {
        throw new Error(`optim.${this.torchName}: the gradient of "${name}" has shape [${g.shape.join(", ")}] but the variable has shape [${v.shape.join(", ")}]`);
      }
      const s = this.state.get(name);
      for (const [key, t] of s?.slots ?? []) {
        if (!sameShape(t.shape, v.shape)) {
          throw new Error(
            `optim.${this.torchName}: its state "${name}/${key}" has shape [${t.shape.join(", ")}] but the variable "${name}" has shape [${v.shape.join(", ")}]; were these optimizer weights (setWeights) saved for another model?`,
          );
        }
      }
      work.push({ v, g, name });
    }
    tf.tidy(() => {
      for (const { v, g, name } of work) {
        let s = this.state.get(name);
        if (s === undefined) {
          s = { step: 0, slots: new Map() };
          this.state.set(name, s);
        }
        s.step += 1;
        const slots = s.slots;
        const ctx: UpdateContext = {
          step: s.step,
          lr: this.lr,
          get: (key) => slots.get(key),
          set: (key, value) => {
            const old = slots.get(key);
            if (old !== undefined) old.assign(value);
            else slots.set(key, value.variable(false));
          },
        };
        const next = this.update(v, g, ctx);
        v.assign(next);
      }
    });
    this.incrementIterations();
  }

  /**
   * @internal For `d2l.compileStep`: a replayed step ran this optimizer's update on its kernels alone,
   * so count it here as `applyGradients` does (each updated parameter's step, and the iterations).
   */
  replayedStep(updated: tf.Variable[]): void {
    for (const v of updated) {
      const s = this.state.get(v.name);
      if (s !== undefined) s.step += 1;
    }
    this.incrementIterations();
  }

  /**
   * The update rule: the parameter's new value from its value, its gradient
   * and its state (`ctx.get`/`ctx.set`, under torch's state names); runs
   * inside `tf.tidy`.
   *
   * @example
   * // plain SGD: protected override update(p, g, ctx) { return p.sub(g.mul(ctx.lr)); }
   */
  protected abstract update(param: tf.Variable, grad: tf.Tensor, ctx: UpdateContext): tf.Tensor;

  /**
   * All of the optimizer's state, as new tensors the caller owns (dispose
   * them): `iter` (the number of `applyGradients` calls, int32), `lr` (the
   * learning rate's 64 bits as two int32 words, so it comes back exactly), and
   * for each variable `"<name>/step"` (int32) and its state tensors
   * `"<name>/<state>"` under torch's names (`exp_avg`, `momentum_buffer`, ...).
   * Unlike tfjs' optimizers, which hand out their live variables, these are
   * copies (free on the CPU and GPU backends, which share the data).
   *
   * @example
   * const saved = await opt.getWeights();   // e.g. into d2l.saveTensors
   * await fresh.setWeights(saved);          // fresh continues where opt stands
   * tf.dispose(saved.map((w) => w.tensor));
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [
      { name: "iter", tensor: tf.scalar(this.iterations, "int32") },
      { name: "lr", tensor: tf.tensor1d(lrToWords(this.lr), "int32") },
    ];
    for (const [name, s] of this.state) {
      out.push({ name: `${name}/step`, tensor: tf.scalar(s.step, "int32") });
      for (const key of this.slotNames) {
        const t = s.slots.get(key);
        if (t !== undefined) out.push({ name: `${name}/${key}`, tensor: tf.clone(t) });
      }
    }
    return out;
  }

  /**
   * Replace all of the optimizer's state with `weights` (what
   * {@link Optimizer.getWeights} returned, here or in another process): the
   * optimizer copies what it keeps (the caller still owns and disposes
   * `weights`) and disposes the state it replaces. `iter` and `lr` may be left
   * out (they keep their values). Nothing changes if `weights` is not this
   * optimizer's kind of state.
   *
   * @example
   * await opt.setWeights(saved);
   */
  override async setWeights(weights: NamedTensor[]): Promise<void> {
    if (!Array.isArray(weights)) throw new Error(`optim.${this.torchName}.setWeights expects the list of { name, tensor } that getWeights() returned`);
    let iterations: number | undefined;
    let lr: number | undefined;
    const steps = new Map<string, number>();
    const slots = new Map<string, Map<string, tf.Tensor>>();
    const order: string[] = [];
    const see = (name: string): void => {
      if (!steps.has(name) && !slots.has(name)) order.push(name);
    };
    for (const w of weights) {
      if (w === null || typeof w !== "object" || typeof w.name !== "string" || !(w.tensor instanceof tf.Tensor)) {
        throw new Error(`optim.${this.torchName}.setWeights expects { name, tensor } entries (what getWeights() returned)`);
      }
      const { name, tensor } = w;
      if (name === "iter") {
        iterations = await scalarInt(this.torchName, name, tensor);
        continue;
      }
      if (name === "lr") {
        if (tensor.dtype !== "int32" || tensor.size !== 2) {
          throw new Error(`optim.${this.torchName}.setWeights: "lr" must be the two int32 words getWeights() writes, got ${tensor.dtype} of shape [${tensor.shape.join(", ")}]`);
        }
        lr = checkLr(this.torchName, wordsToLr((await tensor.data()) as Int32Array));
        continue;
      }
      const cut = name.lastIndexOf("/");
      const variable = name.slice(0, Math.max(cut, 0));
      const key = name.slice(cut + 1);
      if (cut <= 0 || (key !== "step" && !this.slotNames.includes(key))) {
        throw new Error(
          `optim.${this.torchName}.setWeights: "${name}" is not state of ${this.torchName}, which keeps "iter", "lr" and per variable "<name>/step" and ${this.slotNames.map((k) => `"<name>/${k}"`).join(", ")}; were these weights saved from another optimizer?`,
        );
      }
      see(variable);
      if (key === "step") {
        steps.set(variable, await scalarInt(this.torchName, name, tensor));
      } else {
        if (tensor.dtype !== "float32") throw new Error(`optim.${this.torchName}.setWeights: "${name}" must be float32, got ${tensor.dtype}`);
        let m = slots.get(variable);
        if (m === undefined) slots.set(variable, (m = new Map()));
        m.set(key, tensor);
      }
    }
    // All read and checked: replace the state.
    const next = new Map<string, ParamState>();
    for (const name of order) {
      const m = new Map<string, tf.Variable>();
      for (const [key, t] of slots.get(name) ?? []) m.set(key, t.variable(false));
      next.set(name, { step: steps.get(name) ?? 0, slots: m });
    }
    this.disposeState();
    this.state = next;
    if (iterations !== undefined) this.iterations_ = iterations;
    if (lr !== undefined) this.lr = lr;
  }

  /**
   * Dispose the optimizer's state tensors (it starts afresh if used again).
   *
   * @example
   * opt.dispose();
   */
  override dispose(): void {
    this.disposeState();
    this.state = new Map();
  }

  private disposeState(): void {
    for (const s of this.state.values()) for (const t of s.slots.values()) t.dispose();
  }
}

// ---------------------------------------------------------------------------
// Options: torch's in camelCase, checked with messages that say what to pass.

type Opts = Record<string, unknown>;

function readOptions(cls: string, given: unknown, known: readonly string[], example: string): Opts {
  if (given === undefined) return {};
  if (given === null || typeof given !== "object" || Array.isArray(given)) {
    throw new Error(
      `optim.${cls} takes an options object, like new d2l.optim.${cls}(${example}); got ${given === null ? "null" : Array.isArray(given) ? "an array" : typeof given}`,
    );
  }
  const unknown = Object.keys(given).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new Error(
      `optim.${cls}: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; it takes ${known.join(", ")} (torch's names in camelCase: weight_decay is weightDecay)`,
    );
  }
  return given as Opts;
}

function checkLr(cls: string, lr: unknown): number {
  if (typeof lr !== "number" || !Number.isFinite(lr) || lr < 0) {
    throw new Error(`optim.${cls}: the learning rate must be a finite number ≥ 0, like 0.01; got ${describe(lr)}`);
  }
  return lr;
}

function num(cls: string, o: Opts, key: string, dflt: number, ok: (x: number) => boolean, expected: string): number {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw new Error(`optim.${cls}: ${key} must be ${expected}; got ${describe(v)}`);
  return v;
}

function nonNegative(cls: string, o: Opts, key: string, dflt: number): number {
  return num(cls, o, key, dflt, (x) => x >= 0, "a number ≥ 0");
}

function bool(cls: string, o: Opts, key: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw new Error(`optim.${cls}: ${key} must be true or false; got ${describe(v)}`);
  return v;
}

function betasOf(cls: string, o: Opts): [number, number] {
  const v = o.betas;
  if (v === undefined) return [0.9, 0.999];
  const ok = (x: unknown): x is number => typeof x === "number" && x >= 0 && x < 1;
  if (!Array.isArray(v) || v.length !== 2 || !ok(v[0]) || !ok(v[1])) {
    throw new Error(`optim.${cls}: betas must be two numbers in [0, 1), like [0.9, 0.999]; got ${describe(v)}`);
  }
  return [v[0], v[1]];
}

function lrOption(cls: string, o: Opts, dflt: number): number {
  return o.lr === undefined ? dflt : checkLr(cls, o.lr);
}

function describe(v: unknown): string {
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  try {
    return JSON.stringify(v);
  } catch {
    return typeof v;
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

async function scalarInt(cls: string, name: string, t: tf.Tensor): Promise<number> {
  const v = t.size === 1 ? (await t.data())[0] : NaN;
  if (!Number.isInteger(v) || v < 0) throw new Error(`optim.${cls}.setWeights: "${name}" must be a count (one whole number ≥ 0), got shape [${t.shape.join(", ")}] value ${v}`);
  return v;
}

/** A double's 64 bits as two int32 words (tensors hold no float64), little-endian. */
function lrToWords(lr: number): Int32Array {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, lr, true);
  return Int32Array.of(dv.getInt32(0, true), dv.getInt32(4, true));
}

function wordsToLr(w: Int32Array): number {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setInt32(0, w[0], true);
  dv.setInt32(4, w[1], true);
  return dv.getFloat64(0, true);
}

/** `grad` as torch's rules start: negated with `maximize`, plus `weightDecay * param` (L2) if any. */
function startGrad(param: tf.Tensor, grad: tf.Tensor, maximize: boolean, weightDecay: number): tf.Tensor {
  let g = maximize ? tf.neg(grad) : grad;
  if (weightDecay !== 0) g = tf.add(g, tf.mul(param, weightDecay));
  return g;
}

// ---------------------------------------------------------------------------
// SGD

/** Options of {@link SGD} (torch's `torch.optim.SGD`, in camelCase). */
export interface SGDOptions {
  /** Learning rate (required, as in torch). */
  lr: number;
  /** Momentum factor (default 0: plain SGD). */
  momentum?: number;
  /** Dampening of the momentum: `buf = momentum * buf + (1 - dampening) * g` (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient: `g + weightDecay * param` (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/**
 * Stochastic gradient descent, with momentum, dampening, Nesterov momentum and
 * weight decay: PyTorch's `torch.optim.SGD` (the book's `torch.optim.SGD(net.parameters(), lr=...)`).
 *
 * Per parameter, with `g` the gradient: `g += weightDecay * p`; with momentum,
 * `buf = g` on the first step and `buf = momentum * buf + (1 - dampening) * g`
 * after, and `g = nesterov ? g + momentum * buf : buf`; then `p -= lr * g`.
 * State: `momentum_buffer` (with momentum).
 *
 * @example
 * const opt = new d2l.optim.SGD({ lr: 0.1, momentum: 0.9 });
 * await d2l.fit({ net, loss, updater: opt, trainIter, numEpochs: 10 });
 */
export class SGD extends Optimizer {
  /** @internal */
  static className = "d2l.optim.SGD";
  /** The momentum factor; a scheduler may change it between steps (torch: `param_groups[0]["momentum"]`). */
  momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly maximize: boolean;

  constructor(options: SGDOptions) {
    const o = readOptions("SGD", options, ["lr", "momentum", "dampening", "weightDecay", "nesterov", "maximize"], "{ lr: 0.1, momentum: 0.9 }");
    if (o.lr === undefined) throw new Error("optim.SGD needs a learning rate (torch's SGD has no default): new d2l.optim.SGD({ lr: 0.1 })");
    super("SGD", checkLr("SGD", o.lr), ["momentum_buffer"]);
    this.momentum = nonNegative("SGD", o, "momentum", 0);
    this.dampening = num("SGD", o, "dampening", 0, () => true, "a number");
    this.weightDecay = nonNegative("SGD", o, "weightDecay", 0);
    this.nesterov = bool("SGD", o, "nesterov", false);
    this.maximize = bool("SGD", o, "maximize", false);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error(`optim.SGD: Nesterov momentum needs momentum > 0 and dampening 0; got momentum ${this.momentum}, dampening ${this.dampening}`);
    }
  }

  protected override update(p: tf.Variable, grad: tf.Tensor, ctx: UpdateContext): tf.Tensor {
    let g = startGrad(p, grad, this.maximize, this.weightDecay);
    if (this.momentum !== 0) {
      const buf = ctx.get("momentum_buffer");
      const next = buf === undefined ? g : tf.add(tf.mul(buf, this.momentum), tf.mul(g, 1 - this.dampening));
      ctx.set("momentum_buffer", next);
      g = this.nesterov ? tf.add(g, tf.mul(next, this.momentum)) : next;
    }
    return tf.sub(p, tf.mul(g, ctx.lr));
  }

  /**
   * The options, as tfjs' serialization asks.
   *
   * @example
   * opt.getConfig() // { lr: 0.1, momentum: 0.9, ... }
   */
  override getConfig(): tf.serialization.ConfigDict {
    return { lr: this.learningRate, momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov, maximize: this.maximize };
  }
}

// ---------------------------------------------------------------------------
// Adagrad

/** Options of {@link Adagrad} (torch's `torch.optim.Adagrad`, in camelCase). */
export interface AdagradOptions {
  /** Learning rate (default 1e-2). */
  lr?: number;
  /** Learning-rate decay: step t uses `lr / (1 + (t - 1) * lrDecay)` (default 0). */
  lrDecay?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Initial value of the sum of squared gradients (default 0; tfjs' adagrad starts at 0.1). */
  initialAccumulatorValue?: number;
  /** Added to the square root, outside it (default 1e-10). */
  eps?: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/**
 * AdaGrad (the book's section 11.7): PyTorch's `torch.optim.Adagrad`.
 *
 * Per parameter: `g += weightDecay * p`; `sum += g²`;
 * `p -= lr / (1 + (t - 1) * lrDecay) * g / (sqrt(sum) + eps)`. State: `sum`.
 *
 * @example
 * const opt = new d2l.optim.Adagrad({ lr: 0.1 });
 * await d2l.fit({ net, loss, updater: opt, trainIter, numEpochs: 10 });
 */
export class Adagrad extends Optimizer {
  /** @internal */
  static className = "d2l.optim.Adagrad";
  readonly lrDecay: number;
  readonly weightDecay: number;
  readonly initialAccumulatorValue: number;
  readonly eps: number;
  readonly maximize: boolean;

  constructor(options: AdagradOptions = {}) {
    const o = readOptions("Adagrad", options, ["lr", "lrDecay", "weightDecay", "initialAccumulatorValue", "eps", "maximize"], "{ lr: 0.1 }");
    super("Adagrad", lrOption("Adagrad", o, 1e-2), ["sum"]);
    this.lrDecay = nonNegative("Adagrad", o, "lrDecay", 0);
    this.weightDecay = nonNegative("Adagrad", o, "weightDecay", 0);
    this.initialAccumulatorValue = nonNegative("Adagrad", o, "initialAccumulatorValue", 0);
    this.eps = nonNegative("Adagrad", o, "eps", 1e-10);
    this.maximize = bool("Adagrad", o, "maximize", false);
  }

  protected override update(p: tf.Variable, grad: tf.Tensor, ctx: UpdateContext): tf.Tensor {
    const g = startGrad(p, grad, this.maximize, this.weightDecay);
    const clr = ctx.lr / (1 + (ctx.step - 1) * this.lrDecay);
    const old = ctx.get("sum") ?? tf.fill(p.shape, this.initialAccumulatorValue);
    const sum = tf.add(old, tf.mul(g, g));
    ctx.set("sum", sum);
    const std = tf.add(tf.sqrt(sum), this.eps);
    return tf.sub(p, tf.mul(tf.div(g, std), clr));
  }

  /**
   * The options, as tfjs' serialization asks.
   *
   * @example
   * opt.getConfig() // { lr: 0.01, lrDecay: 0, ... }
   */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      lr: this.learningRate,
      lrDecay: this.lrDecay,
      weightDecay: this.weightDecay,
      initialAccumulatorValue: this.initialAccumulatorValue,
      eps: this.eps,
      maximize: this.maximize,
    };
  }
}

// ---------------------------------------------------------------------------
// RMSprop

/** Options of {@link RMSprop} (torch's `torch.optim.RMSprop`, in camelCase). */
export interface RMSpropOptions {
  /** Learning rate (default 1e-2). */
  lr?: number;
  /** Smoothing constant of the squared-gradient average (default 0.99; the book's gamma). */
  alpha?: number;
  /** Added to the square root, outside it (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Centred RMSprop: normalize by the gradient's estimated variance (default false). */
  centered?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/**
 * RMSProp (the book's section 11.8): PyTorch's `torch.optim.RMSprop`.
 *
 * Per parameter: `g += weightDecay * p`; `v = alpha * v + (1 - alpha) * g²`;
 * centred: `gAvg = alpha * gAvg + (1 - alpha) * g` and `avg = sqrt(v - gAvg²) + eps`,
 * else `avg = sqrt(v) + eps`; with momentum `buf = momentum * buf + g / avg`
 * and `p -= lr * buf`, else `p -= lr * g / avg`.
 * State: `square_avg`, `momentum_buffer` (momentum > 0), `grad_avg` (centred).
 *
 * @example
 * const opt = new d2l.optim.RMSprop({ lr: 0.01, alpha: 0.9 });
 * await d2l.fit({ net, loss, updater: opt, trainIter, numEpochs: 10 });
 */
export class RMSprop extends Optimizer {
  /** @internal */
  static className = "d2l.optim.RMSprop";
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** The momentum factor; a scheduler may change it between steps (torch: `param_groups[0]["momentum"]`). */
  momentum: number;
  readonly centered: boolean;
  readonly maximize: boolean;

  constructor(options: RMSpropOptions = {}) {
    const o = readOptions("RMSprop", options, ["lr", "alpha", "eps", "weightDecay", "momentum", "centered", "maximize"], "{ lr: 0.01, alpha: 0.9 }");
    super("RMSprop", lrOption("RMSprop", o, 1e-2), ["square_avg", "momentum_buffer", "grad_avg"]);
    this.alpha = nonNegative("RMSprop", o, "alpha", 0.99);
    this.eps = nonNegative("RMSprop", o, "eps", 1e-8);
    this.weightDecay = nonNegative("RMSprop", o, "weightDecay", 0);
    this.momentum = nonNegative("RMSprop", o, "momentum", 0);
    this.centered = bool("RMSprop", o, "centered", false);
    this.maximize = bool("RMSprop", o, "maximize", false);
  }

  protected override update(p: tf.Variable, grad: tf.Tensor, ctx: UpdateContext): tf.Tensor {
    const g = startGrad(p, grad, this.maximize, this.weightDecay);
    const a = this.alpha;
    const sq0 = ctx.get("square_avg");
    const sq = sq0 === undefined ? tf.mul(tf.mul(g, g), 1 - a) : tf.add(tf.mul(sq0, a), tf.mul(tf.mul(g, g), 1 - a));
    ctx.set("square_avg", sq);
    let avg: tf.Tensor;
    if (this.centered) {
      const ga0 = ctx.get("grad_avg");
      const ga = ga0 === undefined ? tf.mul(g, 1 - a) : tf.add(tf.mul(ga0, a), tf.mul(g, 1 - a));
      ctx.set("grad_avg", ga);
      avg = tf.sqrt(tf.sub(sq, tf.mul(ga, ga)));
    } else {
      avg = tf.sqrt(sq);
    }
    avg = tf.add(avg, this.eps);
    if (this.momentum > 0) {
      const buf0 = ctx.get("momentum_buffer");
      const step = tf.div(g, avg);
      const buf = buf0 === undefined ? step : tf.add(tf.mul(buf0, this.momentum), step);
      ctx.set("momentum_buffer", buf);
      return tf.sub(p, tf.mul(buf, ctx.lr));
    }
    return tf.sub(p, tf.mul(tf.div(g, avg), ctx.lr));
  }

  /**
   * The options, as tfjs' serialization asks.
   *
   * @example
   * opt.getConfig() // { lr: 0.01, alpha: 0.99, ... }
   */
  override getConfig(): tf.serialization.ConfigDict {
    return { lr: this.learningRate, alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum, centered: this.centered, maximize: this.maximize };
  }
}

// ---------------------------------------------------------------------------
// Adadelta

/** Options of {@link Adadelta} (torch's `torch.optim.Adadelta`, in camelCase). */
export interface AdadeltaOptions {
  /** Scales the update (default 1.0). */
  lr?: number;
  /** Smoothing constant of both running averages, in [0, 1] (default 0.9). */
  rho?: number;
  /** Added inside both square roots (default 1e-6). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/**
 * Adadelta (the book's section 11.9): PyTorch's `torch.optim.Adadelta`.
 *
 * Per parameter: `g += weightDecay * p`; `v = rho * v + (1 - rho) * g²`;
 * `delta = sqrt(u + eps) / sqrt(v + eps) * g`; `u = rho * u + (1 - rho) * delta²`;
 * `p -= lr * delta`. State: `square_avg` (v), `acc_delta` (u).
 *
 * @example
 * const opt = new d2l.optim.Adadelta({ rho: 0.9 });
 * await d2l.fit({ net, loss, updater: opt, trainIter, numEpochs: 10 });
 */
export class Adadelta extends Optimizer {
  /** @internal */
  static className = "d2l.optim.Adadelta";
  readonly rho: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly maximize: boolean;

  constructor(options: AdadeltaOptions = {}) {
    const o = readOptions("Adadelta", options, ["lr", "rho", "eps", "weightDecay", "maximize"], "{ rho: 0.9 }");
    super("Adadelta", lrOption("Adadelta", o, 1.0), ["square_avg", "acc_delta"]);
    this.rho = num("Adadelta", o, "rho", 0.9, (x) => x >= 0 && x <= 1, "a number in [0, 1]");
    this.eps = nonNegative("Adadelta", o, "eps", 1e-6);
    this.weightDecay = nonNegative("Adadelta", o, "weightDecay", 0);
    this.maximize = bool("Adadelta", o, "maximize", false);
  }

  protected override update(p: tf.Variable, grad: tf.Tensor, ctx: UpdateContext): tf.Tensor {
    const g = startGrad(p, grad, this.maximize, this.weightDecay);
    const r = this.rho;
    const sq0 = ctx.get("square_avg") ?? tf.zerosLike(p);
    const acc0 = ctx.get("acc_delta") ?? tf.zerosLike(p);
    const sq = tf.add(tf.mul(sq0, r), tf.mul(tf.mul(g, g), 1 - r));
    ctx.set("square_avg", sq);
    const std = tf.sqrt(tf.add(sq, this.eps));
    const delta = tf.mul(tf.div(tf.sqrt(tf.add(acc0, this.eps)), std), g);
    ctx.set("acc_delta", tf.add(tf.mul(acc0, r), tf.mul(tf.mul(delta, delta), 1 - r)));
    return tf.sub(p, tf.mul(delta, ctx.lr));
  }

  /**
   * The options, as tfjs' serialization asks.
   *
   * @example
   * opt.getConfig() // { lr: 1, rho: 0.9, ... }
   */
  override getConfig(): tf.serialization.ConfigDict {
    return { lr: this.learningRate, rho: this.rho, eps: this.eps, weightDecay: this.weightDecay, maximize: this.maximize };
  }
}

// ---------------------------------------------------------------------------
// Adam, AdamW, Adamax

/** Options of {@link Adam} and {@link AdamW} (torch's `torch.optim.Adam`/`AdamW`, in camelCase). */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Smoothing constants of the gradient's first and second moments, each in [0, 1) (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the bias-corrected square root, outside it (default 1e-8). */
  eps?: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay `p *= 1 - lr * weightDecay` (default 1e-2). */
  weightDecay?: number;
  /** AMSGrad: normalize by the largest second moment so far (default false). */
  amsgrad?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** Adam's and AdamW's settings, checked. */
interface AdamSettings {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

const ADAM_OPTIONS = ["lr", "betas", "eps", "weightDecay", "amsgrad", "maximize"] as const;

function adamSettings(cls: string, o: Opts, weightDecay: number): AdamSettings {
  return {
    betas: betasOf(cls, o),
    eps: nonNegative(cls, o, "eps", 1e-8),
    weightDecay: nonNegative(cls, o, "weightDecay", weightDecay),
    amsgrad: bool(cls, o, "amsgrad", false),
    maximize: bool(cls, o, "maximize", false),
  };
}

/** Adam's rule (torch's `_single_tensor_adam`); `decoupled` is AdamW's weight decay (`_single_tensor_adamw`). */
function adamUpdate(p: tf.Variable, grad: tf.Tensor, ctx: UpdateContext, s: AdamSettings, decoupled: boolean): tf.Tensor {
  const [b1, b2] = s.betas;
  const g = startGrad(p, grad, s.maximize, decoupled ? 0 : s.weightDecay);
  const param = decoupled && s.weightDecay !== 0 ? tf.mul(p, 1 - ctx.lr * s.weightDecay) : p;
  const m0 = ctx.get("exp_avg") ?? tf.zerosLike(p);
  const v0 = ctx.get("exp_avg_sq") ?? tf.zerosLike(p);
  const m = tf.add(tf.mul(m0, b1), tf.mul(g, 1 - b1));
  const v = tf.add(tf.mul(v0, b2), tf.mul(tf.mul(g, g), 1 - b2));
  ctx.set("exp_avg", m);
  ctx.set("exp_avg_sq", v);
  const bc1 = 1 - b1 ** ctx.step;
  const bc2Sqrt = Math.sqrt(1 - b2 ** ctx.step);
  let second = v;
  if (s.amsgrad) {
    const max0 = ctx.get("max_exp_avg_sq");
    second = max0 === undefined ? v : tf.maximum(max0, v);
    ctx.set("max_exp_avg_sq", second);
  }
  const denom = tf.add(tf.div(tf.sqrt(second), bc2Sqrt), s.eps);
  return tf.sub(param, tf.mul(tf.div(m, denom), ctx.lr / bc1));
}

/**
 * Adam (the book's section 11.10): PyTorch's `torch.optim.Adam`, with
 * weight decay (L2, added to the gradient) and AMSGrad.
 *
 * Per parameter, at step t: `g += weightDecay * p`; `m = b1 * m + (1 - b1) * g`;
 * `v = b2 * v + (1 - b2) * g²` (AMSGrad: `vMax = max(vMax, v)`, used for v);
 * `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
 * State: `exp_avg` (m), `exp_avg_sq` (v), `max_exp_avg_sq` (AMSGrad).
 *
 * @example
 * const opt = new d2l.optim.Adam({ lr: 1e-3, betas: [0.9, 0.999] });
 * await d2l.fit({ net, loss, updater: opt, trainIter, numEpochs: 10 });
 */
export class Adam extends Optimizer {
  /** @internal */
  static className = "d2l.optim.Adam";
  /** `[beta1, beta2]`; a scheduler may change `beta1` between steps (torch: `param_groups[0]["betas"]`). */
  betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  readonly maximize: boolean;

  constructor(options: AdamOptions = {}) {
    const o = readOptions("Adam", options, ADAM_OPTIONS, "{ lr: 1e-3, betas: [0.9, 0.999] }");
    super("Adam", lrOption("Adam", o, 1e-3), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]);
    ({ betas: this.betas, eps: this.eps, weightDecay: this.weightDecay, amsgrad: this.amsgrad, maximize: this.maximize } = adamSettings("Adam", o, 0));
  }

  protected override update(p: tf.Variable, grad: tf.Tensor, ctx: UpdateContext): tf.Tensor {
    return adamUpdate(p, grad, ctx, this, false);
  }

  /**
   * The options, as tfjs' serialization asks.
   *
   * @example
   * opt.getConfig() // { lr: 0.001, betas: [0.9, 0.999], ... }
   */
  override getConfig(): tf.serialization.ConfigDict {
    return { lr: this.learningRate, betas: [...this.betas], eps: this.eps, weightDecay: this.weightDecay, amsgrad: this.amsgrad, maximize: this.maximize };
  }
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter): PyTorch's
 * `torch.optim.AdamW`. As {@link Adam}, but the weight decay shrinks the
 * parameter, `p *= 1 - lr * weightDecay`, instead of adding to the gradient;
 * `weightDecay` defaults to 1e-2, as in torch.
 *
 * @example
 * const opt = new d2l.optim.AdamW({ lr: 1e-3, weightDecay: 0.01 });
 * await d2l.fit({ net, loss, updater: opt, trainIter, numEpochs: 10 });
 */
export class AdamW extends Optimizer {
  /** @internal */
  static className = "d2l.optim.AdamW";
  /** `[beta1, beta2]`; a scheduler may change `beta1` between steps (torch: `param_groups[0]["betas"]`). */
  betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  readonly maximize: boolean;

  constructor(options: AdamOptions = {}) {
    const o = readOptions("AdamW", options, ADAM_OPTIONS, "{ lr: 1e-3, weightDecay: 0.01 }");
    super("AdamW", lrOption("AdamW", o, 1e-3), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]);
    ({ betas: this.betas, eps: this.eps, weightDecay: this.weightDecay, amsgrad: this.amsgrad, maximize: this.maximize } = adamSettings("AdamW", o, 1e-2));
  }

  protected override update(p: tf.Variable, grad: tf.Tensor, ctx: UpdateContext): tf.Tensor {
    return adamUpdate(p, grad, ctx, this, true);
  }

  /**
   * The options, as tfjs' serialization asks.
   *
   * @example
   * opt.getConfig() // { lr: 0.001, betas: [0.9, 0.999], weightDecay: 0.01, ... }
   */
  override getConfig(): tf.serialization.ConfigDict {
    return { lr: this.learningRate, betas: [...this.betas], eps: this.eps, weightDecay: this.weightDecay, amsgrad: this.amsgrad, maximize: this.maximize };
  }
}

/** Options of {@link Adamax} (torch's `torch.optim.Adamax`, in camelCase). */
export interface AdamaxOptions {
  /** Learning rate (default 2e-3). */
  lr?: number;
  /** Smoothing constants of the first moment and the infinity norm, each in [0, 1) (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to |g| before the maximum (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/**
 * Adamax, Adam with the infinity norm: PyTorch's `torch.optim.Adamax`.
 *
 * Per parameter, at step t: `g += weightDecay * p`; `m = b1 * m + (1 - b1) * g`;
 * `u = max(b2 * u, |g| + eps)`; `p -= lr / (1 - b1^t) * m / u`.
 * State: `exp_avg` (m), `exp_inf` (u).
 *
 * @example
 * const opt = new d2l.optim.Adamax({ lr: 2e-3 });
 * await d2l.fit({ net, loss, updater: opt, trainIter, numEpochs: 10 });
 */
export class Adamax extends Optimizer {
  /** @internal */
  static className = "d2l.optim.Adamax";
  /** `[beta1, beta2]`; a scheduler may change `beta1` between steps (torch: `param_groups[0]["betas"]`). */
  betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly maximize: boolean;

  constructor(options: AdamaxOptions = {}) {
    const o = readOptions("Adamax", options, ["lr", "betas", "eps", "weightDecay", "maximize"], "{ lr: 2e-3 }");
    super("Adamax", lrOption("Adamax", o, 2e-3), ["exp_avg", "exp_inf"]);
    this.betas = betasOf("Adamax", o);
    this.eps = nonNegative("Adamax", o, "eps", 1e-8);
    this.weightDecay = nonNegative("Adamax", o, "weightDecay", 0);
    this.maximize = bool("Adamax", o, "maximize", false);
  }

  protected override update(p: tf.Variable, grad: tf.Tensor, ctx: UpdateContext): tf.Tensor {
    const [b1, b2] = this.betas;
    const g = startGrad(p, grad, this.maximize, this.weightDecay);
    const m0 = ctx.get("exp_avg") ?? tf.zerosLike(p);
    const u0 = ctx.get("exp_inf") ?? tf.zerosLike(p);
    const m = tf.add(tf.mul(m0, b1), tf.mul(g, 1 - b1));
    const u = tf.maximum(tf.mul(u0, b2), tf.add(tf.abs(g), this.eps));
    ctx.set("exp_avg", m);
    ctx.set("exp_inf", u);
    const clr = ctx.lr / (1 - b1 ** ctx.step);
    return tf.sub(p, tf.mul(tf.div(m, u), clr));
  }

  /**
   * The options, as tfjs' serialization asks.
   *
   * @example
   * opt.getConfig() // { lr: 0.002, betas: [0.9, 0.999], ... }
   */
  override getConfig(): tf.serialization.ConfigDict {
    return { lr: this.learningRate, betas: [...this.betas], eps: this.eps, weightDecay: this.weightDecay, maximize: this.maximize };
  }
}

// Parameter groups (torch's param_groups): one optimizer per group of variables (ch. 13.2's fine-tuning).
export { ParamGroups } from "./paramGroups";
export type { ParamGroup } from "./paramGroups";
