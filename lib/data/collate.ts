/**
 * Stacking plain examples into a batch (PyTorch's `default_collate`) without
 * TensorFlow.js: the {@link DataLoader} uses it on the main thread, and its
 * preprocessing workers (`numWorkers`) use it too, so that a batch comes
 * back as two typed arrays the main thread turns into tensors. Nothing here
 * imports tfjs (a worker thread loads this file).
 */

/** Typed arrays an example may hold. */
export type TypedArray = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint32Array | Uint16Array | Uint8Array | Uint8ClampedArray;

/** Numbers in (nested) arrays, as `tf.tensor` takes them: `[1, 2]`, `[[1, 2], [3, 4]]`. */
export type NestedNumbers = readonly (number | NestedNumbers)[];

/**
 * One part of an example as plain values with a shape: `{ data, shape }`
 * (for an image, `{ data: pixels, shape: [28, 28, 1] }`). `dtype` sets the
 * batch's dtype (default: "int32" for an Int32Array, else "float32").
 *
 * @example
 * const x: d2l.HostTensor = { data: new Uint8Array(784), shape: [28, 28, 1] };
 */
export interface HostTensor {
  /** The values, row-major. */
  data: TypedArray | readonly number[];
  /** The shape; the product of its sizes is `data.length`. */
  shape: readonly number[];
  /** dtype of the stacked batch (default "int32" for an Int32Array, else "float32"). */
  dtype?: "float32" | "int32";
}

/**
 * A part of an example in plain values, which the {@link DataLoader} stacks
 * into a batch: a number (shape `[]`), an array of numbers (nested arrays
 * give their shape), a typed array (shape `[length]`) or a {@link HostTensor}.
 * Numbers and typed arrays other than Int32Array become float32, as in
 * `TensorDataset.fromArrays`; an Int32Array becomes int32.
 */
export type PlainValue = number | NestedNumbers | TypedArray | HostTensor;

/** One stacked part of a batch: values, shape (batch first) and dtype. */
export interface HostColumn {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: "float32" | "int32";
}

const TYPED: readonly (abstract new (...a: never[]) => TypedArray)[] = [
  Float32Array,
  Float64Array,
  Int32Array,
  Int16Array,
  Int8Array,
  Uint32Array,
  Uint16Array,
  Uint8Array,
  Uint8ClampedArray,
];

/** True for the typed arrays an example may hold (not DataView, not BigInt arrays). */
export function isTypedArray(v: unknown): v is TypedArray {
  return ArrayBuffer.isView(v) && TYPED.some((T) => v instanceof T);
}

function isHostTensor(v: unknown): v is HostTensor {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && "data" in v && "shape" in v;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** The same values, with a shape and a dtype: a typed array or a flat number array. */
interface Flat {
  data: TypedArray | readonly number[];
  shape: number[];
  dtype: "float32" | "int32";
}

/** Describe a value as type and shape, for error messages. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === "object") {
    const name = (v as object).constructor?.name;
    return name && name !== "Object" ? `a ${name}` : "an object";
  }
  return typeof v === "number" ? `the number ${v}` : `a ${typeof v}`;
}

const EXPECTED = "a number, an array of numbers, a typed array, or { data, shape }";

function flatten(v: NestedNumbers, where: () => string): Flat {
  const shape: number[] = [];
  let level: unknown = v;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const size = shape.reduce((a, b) => a * b, 1);
  const out: number[] = new Array(size);
  let k = 0;
  const walk = (a: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof a !== "number") throw new Error(`${where()} holds ${describeValue(a)} inside its array; expected numbers only`);
      out[k++] = a;
      return;
    }
    if (!Array.isArray(a) || a.length !== shape[depth]) {
      throw new Error(`${where()} is a ragged nested array (expected shape ${shapeText(shape)}); every row needs the same length`);
    }
    for (const e of a) walk(e, depth + 1);
  };
  walk(v, 0);
  return { data: out, shape, dtype: "float32" };
}

/** A plain value as flat values with a shape and a dtype; a clear error for anything else. */
export function toFlat(v: unknown, where: () => string): Flat {
  if (typeof v === "number") return { data: [v], shape: [], dtype: "float32" };
  if (isTypedArray(v)) return { data: v, shape: [v.length], dtype: v instanceof Int32Array ? "int32" : "float32" };
  if (Array.isArray(v)) return flatten(v, where);
  if (isHostTensor(v)) {
    const { data, shape } = v;
    if (!(isTypedArray(data) || Array.isArray(data)))
      throw new Error(`${where()} is { data, shape } whose data is ${describeValue(data)}; expected a typed array or an array of numbers`);
    if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) {
      throw new Error(`${where()} is { data, shape } with shape ${JSON.stringify(shape)}; expected an array of non-negative integers`);
    }
    const size = shape.reduce((a: number, b: number) => a * b, 1);
    if (size !== data.length) throw new Error(`${where()} is { data, shape } with ${data.length} values, but shape ${shapeText(shape)} needs ${size}`);
    const dtype = v.dtype ?? (data instanceof Int32Array ? "int32" : "float32");
    if (dtype !== "float32" && dtype !== "int32") throw new Error(`${where()} has dtype ${JSON.stringify(dtype)}; expected "float32" or "int32"`);
    return { data, shape: [...shape], dtype };
  }
  throw new Error(`${where()} is ${describeValue(v)}; expected ${EXPECTED} (or a tf.Tensor, on the main thread)`);
}

/**
 * Stack one part (x or y) of several examples along a new first axis, as
 * PyTorch's `default_collate` does: every example's part needs the same
 * shape and dtype.
 *
 * @param values the part of each example
 * @param part "x" or "y", for messages
 * @param indices the examples' indices in the dataset, for messages
 */
export function stackPlain(values: readonly unknown[], part: string, indices: ArrayLike<number>): HostColumn {
  const k = values.length;
  const where = (j: number) => (): string => `DataLoader: example ${indices[j]}'s ${part}`;
  if (k === 0) return { data: new Float32Array(0), shape: [0], dtype: "float32" };
  const first = toFlat(values[0], where(0));
  const size = first.data.length;
  const data = first.dtype === "int32" ? new Int32Array(k * size) : new Float32Array(k * size);
  data.set(first.data, 0);
  for (let j = 1; j < k; j++) {
    const f = toFlat(values[j], where(j));
    if (f.shape.length !== first.shape.length || f.shape.some((s, a) => s !== first.shape[a]) || f.dtype !== first.dtype) {
      throw new Error(
        `DataLoader: example ${indices[j]}'s ${part} has shape ${shapeText(f.shape)} (${f.dtype}), but example ${indices[0]}'s has ${shapeText(first.shape)} (${first.dtype}); ` +
          "the examples of a batch are stacked, so they need the same shape and dtype (crop or pad them in preprocess, or pass a collate function)",
      );
    }
    data.set(f.data, j * size);
  }
  return { data, shape: [k, ...first.shape], dtype: first.dtype };
}

/**
 * The examples of a batch ready to send to a worker: every typed array
 * (alone or as the data of a `{ data, shape }`) is copied into one buffer,
 * which is then transferred rather than copied again (and a view into a
 * larger buffer, a row of a data set, does not drag the whole buffer along).
 */
export function packForTransfer(examples: [unknown, unknown][]): { examples: [unknown, unknown][]; buffer: ArrayBuffer | undefined } {
  let total = 0;
  const size = (a: TypedArray): void => {
    total += Math.ceil(a.byteLength / 8) * 8;
  };
  for (const pair of examples) {
    for (const v of pair) {
      if (isTypedArray(v)) size(v);
      else if (isHostTensor(v) && isTypedArray(v.data)) size(v.data);
    }
  }
  if (total === 0) return { examples, buffer: undefined };
  const buffer = new ArrayBuffer(total);
  let offset = 0;
  const copy = (a: TypedArray): TypedArray => {
    // the plain typed-array class, not a subclass's constructor (a Node.js Buffer's is the deprecated Buffer())
    const Ctor = TYPED.find((T) => a instanceof T) as unknown as new (b: ArrayBuffer, o: number, n: number) => TypedArray;
    const out = new Ctor(buffer, offset, a.length);
    out.set(a);
    offset += Math.ceil(a.byteLength / 8) * 8;
    return out;
  };
  const pack = (v: unknown): unknown => {
    if (isTypedArray(v)) return copy(v);
    if (isHostTensor(v) && isTypedArray(v.data)) return { ...v, data: copy(v.data) };
    return v;
  };
  return { examples: examples.map(([x, y]) => [pack(x), pack(y)]), buffer };
}
