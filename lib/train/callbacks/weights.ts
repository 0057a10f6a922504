/**
 * The weights and optimizer state the control and checkpoint callbacks copy,
 * save and put back. Internal: not part of `d2l`.
 */
import * as tf from "@tensorflow/tfjs";
import { type RandomState, getRandomState, setRandomState } from "../../seed";
import type { Engine } from "../engine";
import { trainableVariables } from "../grads";
import { type Net, type Param, isLayersModel, isOptimizer, variableOf } from "../types";

/** One weight to save or restore, with the name it is saved under. */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

/**
 * The model's weights: a LayersModel's weights (all of them: batch norm's
 * running statistics too), else the given params, else the engine's params,
 * else (a function net trained without params) every trainable variable, as
 * the engine differentiates against.
 */
export function modelVariables(net: Net | undefined, params: readonly Param[] | undefined, engine: Engine | undefined): NamedVariable[] {
  if (params !== undefined) return params.map((p, i) => named(p, i));
  if (isLayersModel(net)) return net.weights.map((w, i) => ({ name: w.name || `weight_${i}`, variable: variableOf(w as unknown as Param) }));
  if (engine?.params !== undefined) return engine.params.map((p, i) => named(p, i));
  return trainableVariables().map((v, i) => ({ name: v.name || `param_${i}`, variable: v }));
}

function named(p: Param, i: number): NamedVariable {
  const v = variableOf(p);
  const name = (p as { name?: unknown }).name;
  return { name: typeof name === "string" && name !== "" ? name : `param_${i}`, variable: v };
}

/** Copies of variables on the device, to put back later. */
export class WeightCopy {
  private copies: { v: tf.Variable; copy: tf.Tensor }[];

  constructor(vars: readonly NamedVariable[]) {
    this.copies = vars.map(({ variable }) => ({ v: variable, copy: tf.clone(variable) }));
  }

  /** Assign the copies back to their variables. */
  restore(): void {
    for (const { v, copy } of this.copies) if (!v.isDisposed) v.assign(copy);
  }

  dispose(): void {
    for (const { copy } of this.copies) copy.dispose();
    this.copies = [];
  }
}

/** An optimizer's state as `getWeights()` gives it, as host values, plus its learning rate when it has one. */
export async function optimizerWeights(opt: tf.Optimizer): Promise<{ name: string; tensor: tf.Tensor }[]> {
  const live = await opt.getWeights();
  // Copies: some entries are the optimizer's own variables, others (the iteration count) made for the call.
  const out = live.map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
  for (const { tensor } of live) if (!(tensor instanceof tf.Variable)) tensor.dispose();
  return out;
}

/** Give `opt` the state `weights` (disposing the state it had); the given tensors stay the caller's. */
export async function setOptimizerWeights(opt: tf.Optimizer, weights: { name: string; tensor: tf.Tensor }[]): Promise<void> {
  const live = await opt.getWeights();
  const given = weights.map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
  try {
    await opt.setWeights(given); // it makes its variables from these (sharing their data, or copying it)
  } finally {
    for (const { tensor } of given) tensor.dispose();
  }
  for (const { tensor } of live) tensor.dispose(); // replaced by setWeights
}

/** An optimizer's learning rate, when it shows one (`learningRate`, as tfjs' and d2l.optim's do). */
export function learningRateOf(u: unknown): number | undefined {
  if (u === null || typeof u !== "object") return undefined;
  const lr = (u as { learningRate?: unknown }).learningRate;
  return typeof lr === "number" ? lr : undefined;
}

/** Set an optimizer's learning rate: `setLearningRate(lr)` where it has one, else its `learningRate` field. */
export function setLearningRateOf(u: tf.Optimizer, lr: number): void {
  const o = u as unknown as { setLearningRate?: (lr: number) => void; learningRate?: unknown };
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr);
  else if (typeof o.learningRate === "number") o.learningRate = lr;
}

/** `d2l.getRandomState` / `d2l.setRandomState` (lib/seed.ts): the random stream a checkpoint continues (null state: `d2l.seed` was not called). */
export function randomStateApi(): { get: () => RandomState | null; set: (s: RandomState | null) => void } {
  return { get: getRandomState, set: setRandomState };
}

export { isOptimizer };
