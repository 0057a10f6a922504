/**
 * A GRU layer in PyTorch's formulation (`nn.GRU`, the book's), for the
 * seq2seq models: d2l's own, because `tf.layers.gru` costs about 130 tfjs
 * kernels per time step forward and backward (its cell, the tape's copies,
 * the time loop), and for the book's small models those kernel calls, not the
 * arithmetic, are the time (a 2-layer seq2seq batch: 5,500 kernels). Here the
 * input projections of all steps are one matrix product, and each step is
 * one `tf.customGrad` with its backward pass written out: about 37 kernels
 * per step in all.
 *
 * Per step, with `xr, xz, xn` the input projections (`x W_x + b_x`) and
 * `hr, hz, hn` the recurrent ones (`h W_h + b_h`):
 *
 *     r = σ(xr + hr),  z = σ(xz + hz),  n = tanh(xn + r ⊙ hn),  h' = (1 - z) ⊙ n + z ⊙ h
 *
 * (PyTorch's: the reset gate acts on `W_hn h + b_hn`, so there are two bias
 * vectors; Keras' default `resetAfter: false` differs.)
 *
 * On the `native` backend the whole sequence is one call to oneDNN's
 * linear-before-reset GRU forward and one backward (lib/native/rnn.ts), the
 * same equations; `D2L_NATIVE_RNN=0` keeps the step-by-step path.
 */
import * as tf from "@tensorflow/tfjs";
import { nativeRnn, nativeRnnAvailable } from "../native/rnn";

/** One GRU step and its gradient; inputs xp [b, 3H] (input projection), h [b, H], Wh [H, 3H], bh [3H]. */
function gruStep(H: number): (xp: tf.Tensor, h: tf.Tensor, Wh: tf.Tensor, bh: tf.Tensor) => tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xp, h, Wh, bh] = args as tf.Tensor[];
    const save = args[4] as tf.GradSaveFunc;
    const hp = tf.add(tf.matMul(h, Wh), bh); // [b, 3H]
    const [xrz, xn] = tf.split(xp, [2 * H, H], 1);
    const [hrz, hn] = tf.split(hp, [2 * H, H], 1);
    const rz = tf.sigmoid(tf.add(xrz, hrz));
    const [r, z] = tf.split(rz, 2, 1);
    const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
    const hNew = tf.add(n, tf.mul(z, tf.sub(h, n)));
    save([h, Wh, r, z, n, hn]);
    return {
      value: hNew,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [h0, W, rs, zs, ns, hns] = saved;
        const dn = tf.sub(dy, tf.mul(dy, zs)); // dy ⊙ (1 - z)
        const dz = tf.mul(dy, tf.sub(h0, ns)); // dy ⊙ (h - n)
        const dan = tf.mul(dn, tf.sub(1, tf.square(ns))); // through tanh
        const dar = tf.mul(tf.mul(dan, hns), tf.mul(rs, tf.sub(1, rs))); // through r ⊙ hn, then σ
        const daz = tf.mul(dz, tf.mul(zs, tf.sub(1, zs))); // through σ
        const dxp = tf.concat([dar, daz, dan], 1);
        const dhp = tf.concat([dar, daz, tf.mul(dan, rs)], 1);
        const dh = tf.add(tf.mul(dy, zs), tf.matMul(dhp, W, false, true));
        const dW = tf.matMul(h0, dhp, true, false);
        const db = tf.sum(dhp, 0);
        return [dxp, dh, dW, db];
      },
    };
  });
  return (xp, h, Wh, bh) => f(xp, h, Wh, bh);
}

/** Arguments of {@link FusedGRU}. */
export interface FusedGRUArgs {
  /** Hidden units. */
  units: number;
  /** Size of each step's input. */
  inputSize: number;
  /** A name for the layer (tfjs makes one otherwise). */
  name?: string;
}

/**
 * One GRU layer over a whole sequence, PyTorch's equations (see the module),
 * as a tfjs layer with weights `kernel` [in, 3H], `recurrent_kernel` [H, 3H],
 * `bias` and `recurrent_bias` [3H] (gates in the order r, z, n), initialised
 * as PyTorch does: every weight uniform in ±1/√H. `apply([X, h0])` with X
 * `[batch, steps, in]` and h0 `[batch, H]` returns `[outputs [batch, steps, H], hT [batch, H]]`.
 */
export class FusedGRU extends tf.layers.Layer {
  static readonly className = "D2lFusedGRU";
  readonly units: number;
  readonly inputSize: number;
  private kernel!: tf.LayerVariable;
  private recurrentKernel!: tf.LayerVariable;
  private bias!: tf.LayerVariable;
  private recurrentBias!: tf.LayerVariable;
  private readonly step: (xp: tf.Tensor, h: tf.Tensor, Wh: tf.Tensor, bh: tf.Tensor) => tf.Tensor;

  constructor(args: FusedGRUArgs) {
    super({ name: args.name });
    this.units = args.units;
    this.inputSize = args.inputSize;
    this.step = gruStep(args.units);
    this.build([null, null, args.inputSize]);
    this.built = true;
  }

  override build(_inputShape: tf.Shape | tf.Shape[]): void {
    if (this.kernel !== undefined) return;
    const H = this.units;
    const k = 1 / Math.sqrt(H);
    const init = (): ReturnType<typeof tf.initializers.randomUniform> => tf.initializers.randomUniform({ minval: -k, maxval: k });
    this.kernel = this.addWeight("kernel", [this.inputSize, 3 * H], "float32", init());
    this.recurrentKernel = this.addWeight("recurrent_kernel", [H, 3 * H], "float32", init());
    this.bias = this.addWeight("bias", [3 * H], "float32", init());
    this.recurrentBias = this.addWeight("recurrent_bias", [3 * H], "float32", init());
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    const x = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [
      [x[0], x[1], this.units],
      [x[0], this.units],
    ];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    const [X, h0] = Array.isArray(inputs) ? inputs : [inputs, undefined];
    return tf.tidy(() => {
      const [b, steps, inSize] = X.shape as number[];
      const H = this.units;
      if (nativeRnnAvailable() && X.dtype === "float32") {
        // oneDNN's linear-before-reset GRU: gates (z, r, n) where ours are (r, z, n); its bias is
        // [b_z + bh_z, b_r + bh_r, b_n, bh_n].
        const order = (w: tf.Tensor, axis: number): tf.Tensor => {
          const [r, z, n] = tf.split(w, 3, axis);
          return tf.concat([z, r, n], axis);
        };
        const [br, bz, bn] = tf.split(this.bias.read(), 3);
        const [hr, hz, hn] = tf.split(this.recurrentBias.read(), 3);
        const bias = tf.concat([tf.add(bz, hz), tf.add(br, hr), bn, hn]);
        const [y, hT] = nativeRnn("lbrgru", X, h0 ?? tf.zeros([b, H]), null, order(this.kernel.read(), 1), order(this.recurrentKernel.read(), 1), bias);
        return [y, hT];
      }
      // All steps' input projections at once: [b * steps, in] x [in, 3H].
      const xp = tf.reshape(tf.add(tf.matMul(tf.reshape(X, [b * steps, inSize]), this.kernel.read()), this.bias.read()), [b, steps, 3 * H]);
      const Wh = this.recurrentKernel.read();
      const bh = this.recurrentBias.read();
      let h = h0 ?? tf.zeros([b, H]);
      // (one step: a reshape, as tfjs 4.22's gradients of unstack and stack to or from one tensor fail)
      const xs = steps === 1 ? [tf.reshape(xp, [b, 3 * H])] : tf.unstack(xp, 1);
      const outs: tf.Tensor[] = [];
      for (const xt of xs) {
        h = this.step(xt, h, Wh, bh);
        outs.push(h);
      }
      return [steps === 1 ? tf.reshape(outs[0], [b, 1, H]) : tf.stack(outs, 1), h];
    });
  }
}
tf.serialization.registerClass(FusedGRU);
