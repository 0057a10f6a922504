/**
 * Reproducible runs: `d2l.seed(n)` plays the part of PyTorch's
 * `torch.manual_seed(n)` (and Python's `random.seed(n)`).
 *
 * Why one generator is enough: TensorFlow.js draws every random number it
 * makes without an explicit seed from `Math.random` (its random ops, so
 * the initializers of `tf.layers` and `tf.initializers`, `tf.dropout` and
 * the dropout layer, `tf.randomNormal`/`randomUniform`/`truncatedNormal`/
 * `randomGamma`/`multinomial`, `tf.util.shuffle` and `model.fit`'s
 * shuffle each seed their own `alea` generator with one `Math.random()`
 * draw); d2l's {@link DataLoader} draws its shuffle seed from `Math.random`
 * when given none, and `d2l.syntheticData`, the text loaders and the
 * from-scratch code use tfjs' random ops or `Math.random`. So `seed(n)` puts a
 * seeded generator behind `Math.random` (for the whole process, as Python's
 * `random.seed` does for its module) and `seed(null)` puts the original back.
 *
 * Not covered: `tf.data`'s `shuffle` without a seed (it seeds from the clock:
 * give it one), random numbers drawn inside worker threads (a
 * {@link DataLoader}'s `preprocess` gets its own seeded `random` per
 * example), and `crypto`. Results repeat on one backend; different backends
 * compute in different orders, so their floats differ in the last bits.
 */

/** The generator's name in a {@link RandomState}. */
const GENERATOR = "xoshiro128**";

/**
 * The state of the seeded generator behind `Math.random`, as plain JSON:
 * what {@link getRandomState} returns and {@link setRandomState} takes (a
 * checkpoint stores it so that a resumed run continues the same stream).
 */
export interface RandomState {
  /** The algorithm (`"xoshiro128**"`). */
  generator: string;
  /** The seed given to {@link seed}. */
  seed: number;
  /** The generator's four 32-bit words (unsigned). */
  state: [number, number, number, number];
}

/** xoshiro128** (Blackman and Vigna): a small, fast generator with 128 bits of state. */
class Xoshiro128 {
  readonly s = new Uint32Array(4);

  constructor(
    readonly seed: number,
    state?: readonly number[],
  ) {
    if (state) this.s.set(state);
    else {
      // splitmix32 spreads the seed (both 32-bit halves) over the four words
      let x = (Math.imul(Math.floor(seed / 4294967296) | 0, 0x9e3779b9) ^ (seed >>> 0)) >>> 0;
      for (let i = 0; i < 4; i++) {
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
        this.s[i] = (z ^ (z >>> 16)) >>> 0;
      }
      if (this.s.every((w) => w === 0)) this.s[0] = 1;
    }
  }

  next32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** A double in [0, 1) with 53 random bits, as `Math.random` gives. */
  nextDouble(): number {
    const a = this.next32() >>> 5;
    const b = this.next32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

let generator: Xoshiro128 | null = null;
/** `Math.random` as it was before d2l put its generator there. */
let original: () => number = Math.random;
/** The function d2l puts behind `Math.random` (one for the whole process). */
const seeded = function random(): number {
  return (generator as Xoshiro128).nextDouble();
};

function install(g: Xoshiro128): void {
  if (Math.random !== seeded) original = Math.random;
  generator = g;
  Math.random = seeded;
}

/**
 * Seed every random number the library and TensorFlow.js draw without an
 * explicit seed: PyTorch's `torch.manual_seed(n)` (also Python's
 * `random.seed(n)` and NumPy's `np.random.seed(n)`). Afterwards weight
 * initializers, dropout masks, `tf.random*` ops, `DataLoader` shuffles made
 * without a `seed`, `d2l.syntheticData` and data splits repeat exactly, run
 * after run, on one backend. It does so by putting a seeded generator
 * (xoshiro128**) behind `Math.random` for the whole process; `seed(null)`
 * restores the original `Math.random`. Calling it again restarts the stream.
 *
 * @param n an integer (any safe integer; negative numbers too), or `null` to go back to unseeded randomness
 * @example
 * d2l.seed(42);
 * const a = await tf.randomNormal([3]).array();
 * d2l.seed(42);
 * const b = await tf.randomNormal([3]).array(); // the same numbers as a
 * d2l.seed(null); // Math.random is the original again
 */
export function seed(n: number | null): void {
  if (n === null) {
    if (Math.random === seeded) Math.random = original;
    generator = null;
    return;
  }
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw new Error(`seed: expected an integer (e.g. d2l.seed(0)) or null to unseed, got ${typeof n === "number" ? n : typeof n}`);
  }
  install(new Xoshiro128(n));
}

/**
 * Seed from the environment: with `D2L_SEED=n` set (an integer), call
 * {@link seed}(n) and return n; unset or empty, do nothing and return null.
 * The kernel calls it once as it starts, so every notebook run with
 * `D2L_SEED=0` is reproducible without a seed in its cells (as the notebook
 * tests run them). A value that is not an integer is an error that says so.
 *
 * @example
 * // D2L_SEED=0 node train.js
 * d2l.seedFromEnvironment(); // 0, and Math.random is now seeded
 */
export function seedFromEnvironment(env: NodeJS.ProcessEnv = process.env): number | null {
  const text = (env.D2L_SEED ?? "").trim();
  if (text === "") return null;
  const n = Number(text);
  if (!Number.isSafeInteger(n))
    throw new Error(`D2L_SEED must be an integer such as 0 (the seed every kernel starts with); got ${JSON.stringify(env.D2L_SEED)}. Unset it for unseeded runs.`);
  seed(n);
  return n;
}

/**
 * The seed last given to {@link seed} while it is in force, else `null`:
 * PyTorch's `torch.initial_seed()`.
 *
 * @example
 * d2l.seed(7);
 * d2l.initialSeed(); // 7
 */
export function initialSeed(): number | null {
  return generator !== null && Math.random === seeded ? generator.seed : null;
}

/**
 * The state of the seeded random stream as plain JSON, or `null` when
 * {@link seed} is not in force (the original `Math.random`'s state cannot
 * be read): PyTorch's `torch.get_rng_state()`. Give it to
 * {@link setRandomState} (in this process or after a restart) to continue
 * the stream from here.
 *
 * @example
 * d2l.seed(0);
 * const state = d2l.getRandomState();   // save it, e.g. JSON.stringify(state)
 * const a = Math.random();
 * d2l.setRandomState(state);
 * Math.random() === a;                  // true
 */
export function getRandomState(): RandomState | null {
  if (generator === null || Math.random !== seeded) return null;
  const [a, b, c, d] = generator.s;
  return { generator: GENERATOR, seed: generator.seed, state: [a, b, c, d] };
}

/**
 * Continue a random stream saved by {@link getRandomState} (PyTorch's
 * `torch.set_rng_state(state)`): afterwards `Math.random`, and so every
 * unseeded draw of TensorFlow.js and d2l, gives the numbers it gave after
 * the state was read. `null` restores the original `Math.random`, as
 * `seed(null)` does.
 *
 * @example
 * const state = JSON.parse(fs.readFileSync("rng.json", "utf8"));
 * d2l.setRandomState(state);
 */
export function setRandomState(state: RandomState | null): void {
  if (state === null) {
    seed(null);
    return;
  }
  const s = (state as Partial<RandomState> | undefined)?.state;
  const ok =
    typeof state === "object" &&
    state.generator === GENERATOR &&
    Number.isSafeInteger(state.seed) &&
    Array.isArray(s) &&
    s.length === 4 &&
    s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) &&
    s.some((w) => w !== 0);
  if (!ok) {
    throw new Error(
      `setRandomState: expected what d2l.getRandomState() returned, { generator: "${GENERATOR}", seed, state: [four unsigned 32-bit integers, not all 0] }, ` +
        `got ${JSON.stringify(state)?.slice(0, 200)}`,
    );
  }
  install(new Xoshiro128(state.seed, s));
}
