/**
 * The prelude: what every cell sees without importing. It is compiled as the
 * kernel's first, hidden cell, so the compiler knows the types of `tf`, `d2l`
 * and the display helpers in every later cell. Modules are named by absolute
 * path so that a notebook in any folder finds them.
 */
import * as path from "path";
import { PROJECT_ROOT } from "./info";

function modulePath(spec: string): string {
  return path.dirname(require.resolve(`${spec}/package.json`, { paths: [PROJECT_ROOT] }));
}

export function preludeSource(): string {
  const tf = JSON.stringify(modulePath("@tensorflow/tfjs"));
  const d2l = JSON.stringify(path.join(PROJECT_ROOT, "dist", "lib", "index"));
  const api = JSON.stringify(path.join(PROJECT_ROOT, "dist", "kernel", "cellapi"));
  return [
    `import * as tf from ${tf};`,
    `import * as d2l from ${d2l};`,
    `import { display, clearOutput, input } from ${api};`,
    // console.log(tensor) and tensors inside arrays or objects print like
    // tfjs' verbose print does (shape and dtype included), not as tfjs' internal fields;
    // a tensor on the GPU (webgpu, no synchronous read) says how to see its values.
    `Object.defineProperty(tf.Tensor.prototype, Symbol.for("nodejs.util.inspect.custom"), {`,
    `  value: function (this: tf.Tensor): string {`,
    `    if (this.isDisposed) return "Tensor (disposed)";`,
    `    if (!d2l.readsSync(this)) return "Tensor " + this.dtype + " [" + this.shape.join(", ") + "] (on the GPU: display(t) or await t.array() shows its values)";`,
    `    return this.toString(true);`,
    `  },`,
    `  configurable: true,`,
    `});`,
    `await d2l.ready();`,
    // D2L_SEED=n: every kernel starts seeded, as if its first cell were d2l.seed(n).
    `d2l.seedFromEnvironment();`,
  ].join("\n");
}
