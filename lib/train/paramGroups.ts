/**
 * Parameter groups (torch's `param_groups`): one optimizer per group of
 * variables, each with its own learning rate and options, behind one
 * `tf.Optimizer`. The book's fine-tuning (ch. 13.2) trains the pretrained
 * layers at a learning rate and the new output layer at ten times it:
 * `torch.optim.SGD([{'params': body}, {'params': net.fc.parameters(), 'lr': lr * 10}], lr=lr)`.
 *
 * The groups' optimizers are whole optimizers (any `d2l.optim` or
 * `tf.train` one), so each group's update rule is exactly its optimizer's,
 * weight decay and momentum included; `ParamGroups` only sends each
 * gradient to the optimizer of the group that holds its variable.
 */
import * as tf from "@tensorflow/tfjs";
import { type Param, variableOf } from "./types";

/** A named tensor, as `tf.Optimizer.getWeights` returns and `setWeights` takes. */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** One group of {@link ParamGroups}: the variables and the optimizer that updates them. */
export interface ParamGroup {
  /** The group's variables: `tf.Variable`s or a model's weights (`layer.trainableWeights`). */
  params: readonly Param[];
  /** The optimizer of this group, with this group's learning rate and options. */
  optimizer: tf.Optimizer;
}

interface Group {
  optimizer: tf.Optimizer;
  names: Set<string>;
  /** The group's learning rate over the first group's, at construction (kept when the rate is changed). */
  ratio: number;
}

function lrOf(o: tf.Optimizer): number | undefined {
  const lr = (o as unknown as { learningRate?: unknown }).learningRate;
  return typeof lr === "number" ? lr : undefined;
}

function setLrOf(o: tf.Optimizer, lr: number): void {
  const u = o as unknown as { setLearningRate?: (lr: number) => void; learningRate?: unknown };
  if (typeof u.setLearningRate === "function") u.setLearningRate(lr);
  else u.learningRate = lr;
}

/**
 * An optimizer made of parameter groups, each with its own optimizer: the
 * book's per-group learning rates (PyTorch's
 * `torch.optim.SGD([{'params': ...}, {'params': ..., 'lr': ...}], lr=...)`).
 * `applyGradients` sends each variable's gradient to its group's optimizer;
 * a gradient of a variable in no group is an error (add it to a group, or
 * freeze it with `layer.trainable = false`).
 *
 * `learningRate` is the first group's rate; setting it (a scheduler's
 * `setLearningRate`) sets every group's rate, keeping the ratios the groups
 * started with, as torch's schedulers scale every group. `getWeights()` holds
 * every group's state (`"group<i>/iter"`, `"group<i>/lr"` and each variable's
 * state under its own name), so `d2l.ModelCheckpoint` and `d2l.resume` keep it.
 *
 * @example
 * const lr = 5e-5;
 * const head = net.layers[net.layers.length - 1];
 * const body = net.trainableWeights.filter((w) => !head.trainableWeights.includes(w));
 * const trainer = new d2l.optim.ParamGroups([
 *   { params: body, optimizer: new d2l.optim.SGD({ lr, weightDecay: 0.001 }) },
 *   { params: head.trainableWeights, optimizer: new d2l.optim.SGD({ lr: lr * 10, weightDecay: 0.001 }) },
 * ]);
 * await d2l.fit({ net, loss, updater: trainer, trainIter, testIter, numEpochs: 5 });
 */
export class ParamGroups extends tf.Optimizer {
  /** @internal */
  static className = "d2l.optim.ParamGroups";
  private readonly groups: Group[];

  constructor(groups: readonly ParamGroup[]) {
    super();
    const example = "new d2l.optim.ParamGroups([{ params: body, optimizer: new d2l.optim.SGD({ lr }) }, { params: head, optimizer: new d2l.optim.SGD({ lr: 10 * lr }) }])";
    if (!Array.isArray(groups) || groups.length === 0) throw new Error(`optim.ParamGroups expects a non-empty list of { params, optimizer }, e.g. ${example}`);
    const owner = new Map<string, number>();
    const built: Group[] = [];
    groups.forEach((g, i) => {
      if (g === null || typeof g !== "object" || !Array.isArray(g.params)) {
        throw new Error(`optim.ParamGroups: group ${i} must be { params: [...variables], optimizer }, got ${g === null ? "null" : typeof g}; e.g. ${example}`);
      }
      if (!(g.optimizer instanceof tf.Optimizer)) {
        throw new Error(`optim.ParamGroups: group ${i}'s optimizer must be a tf.Optimizer (a d2l.optim or tf.train optimizer); e.g. ${example}`);
      }
      if (built.some((b) => b.optimizer === g.optimizer))
        throw new Error(`optim.ParamGroups: groups ${built.findIndex((b) => b.optimizer === g.optimizer)} and ${i} share one optimizer; give each group its own`);
      const names = new Set<string>();
      for (const p of g.params) {
        const name = variableOf(p).name;
        const other = owner.get(name);
        if (other !== undefined) throw new Error(`optim.ParamGroups: variable "${name}" is in group ${other} and in group ${i}; put each variable in one group`);
        owner.set(name, i);
        names.add(name);
      }
      built.push({ optimizer: g.optimizer, names, ratio: 1 });
    });
    const base = lrOf(built[0].optimizer);
    for (const g of built) {
      const lr = lrOf(g.optimizer);
      g.ratio = base !== undefined && base > 0 && lr !== undefined ? lr / base : 1;
    }
    this.groups = built;
  }

  /**
   * The number of groups.
   *
   * @example
   * trainer.numGroups // 2
   */
  get numGroups(): number {
    return this.groups.length;
  }

  /**
   * The learning rate of group `i` (torch's `param_groups[i]["lr"]`), or undefined for an optimizer that does not expose one.
   *
   * @example
   * trainer.groupLearningRate(1) // 5e-4
   */
  groupLearningRate(i: number): number | undefined {
    const g = this.groups[i];
    if (g === undefined) throw new Error(`optim.ParamGroups.groupLearningRate: there are groups 0 to ${this.groups.length - 1}, not ${i}`);
    return lrOf(g.optimizer);
  }

  /**
   * The first group's learning rate (torch's `param_groups[0]["lr"]`); setting it sets every group's, keeping their ratios.
   *
   * @example
   * trainer.learningRate = 1e-4; // the head's becomes 1e-3 if it started at 10x
   */
  get learningRate(): number | undefined {
    return lrOf(this.groups[0].optimizer);
  }

  set learningRate(lr: number | undefined) {
    if (typeof lr !== "number" || !(lr >= 0) || !Number.isFinite(lr)) throw new Error(`optim.ParamGroups: the learning rate must be a number >= 0, got ${String(lr)}`);
    for (const g of this.groups) setLrOf(g.optimizer, lr * g.ratio);
  }

  /**
   * Set every group's learning rate: the first group's to `lr`, the others' keeping their ratios to it.
   *
   * @example
   * trainer.setLearningRate(1e-4);
   */
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }

  /**
   * One update: each gradient goes to the optimizer of its variable's group.
   *
   * @example
   * trainer.applyGradients(tf.variableGrads(() => loss()).grads);
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, tf.Tensor | null | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.entries(variableGradients);
    const parts: tf.NamedTensorMap[] = this.groups.map(() => ({}));
    for (const [name, g] of entries) {
      if (g === null || g === undefined) continue;
      const i = this.groups.findIndex((grp) => grp.names.has(name));
      if (i < 0) {
        throw new Error(
          `optim.ParamGroups: got a gradient for "${name}", which is in no group; add it to a group's params, or freeze its layer (layer.trainable = false) so that it gets no gradient`,
        );
      }
      parts[i][name] = g;
    }
    this.groups.forEach((grp, i) => {
      if (Object.keys(parts[i]).length > 0) grp.optimizer.applyGradients(parts[i]);
    });
    this.incrementIterations();
  }

  /**
   * Every group's state, as its optimizer's `getWeights()` gives it: `"iter"` and `"lr"` become `"group<i>/iter"` and
   * `"group<i>/lr"`; the variables' state keeps its names (each variable is in one group).
   *
   * @example
   * const saved = await trainer.getWeights();
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [];
    for (let i = 0; i < this.groups.length; i++) {
      for (const w of await this.groups[i].optimizer.getWeights()) {
        out.push({ name: w.name.includes("/") ? w.name : `group${i}/${w.name}`, tensor: w.tensor });
      }
    }
    return out;
  }

  /**
   * Put back what {@link ParamGroups.getWeights} gave: each entry goes to the group that owns its variable (or named by `group<i>/`).
   *
   * @example
   * await trainer.setWeights(saved);
   */
  override async setWeights(weights: NamedTensor[]): Promise<void> {
    if (!Array.isArray(weights)) throw new Error("optim.ParamGroups.setWeights expects the list of { name, tensor } that getWeights() returned");
    const parts: NamedTensor[][] = this.groups.map(() => []);
    for (const w of weights) {
      const m = /^group(\d+)\/([^/]+)$/.exec(w.name);
      let i: number;
      let name = w.name;
      if (m !== null) {
        i = Number(m[1]);
        name = m[2];
      } else {
        i = this.groups.findIndex((g) => [...g.names].some((v) => w.name.startsWith(`${v}/`)));
      }
      if (i < 0 || i >= this.groups.length) {
        throw new Error(
          `optim.ParamGroups.setWeights: "${w.name}" belongs to no group of this optimizer (${this.groups.length} groups); were these weights saved from another one?`,
        );
      }
      parts[i].push({ name, tensor: w.tensor });
    }
    for (let i = 0; i < this.groups.length; i++) if (parts[i].length > 0) await this.groups[i].optimizer.setWeights(parts[i]);
  }

  /**
   * The groups' optimizers' configurations, as tfjs' serialization asks.
   *
   * @example
   * trainer.getConfig() // { groups: [{ lr: 5e-5, ... }, { lr: 5e-4, ... }] }
   */
  override getConfig(): tf.serialization.ConfigDict {
    return { groups: this.groups.map((g) => g.optimizer.getConfig()) };
  }

  /**
   * Dispose every group's optimizer.
   *
   * @example
   * trainer.dispose();
   */
  override dispose(): void {
    for (const g of this.groups) g.optimizer.dispose();
    super.dispose();
  }
}
