/**
 * The native backend's oneDNN batch normalization, pooling, eltwise activations and their gradients, softmax and layer normalization
 * (lib/native/src/ops.cc).
 */
import type { NativeAddon } from "./addon";
import type { Kernel } from "./kernels";

/** The names of the kernels this file provides. */
export const OPS_KERNELS: readonly string[] = [];

/** The kernels, bound to the addon and to `base(name)`, the wasm kernel of that name. */
export function opsKernels(addon: NativeAddon, base: (name: string) => Kernel): Record<string, Kernel> {
  void addon;
  void base;
  return {};
}
