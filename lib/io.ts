/**
 * Files for tensors and models (the book's section 5.5, "File I/O").
 *
 * - {@link saveTensors} / {@link loadTensors}: the book's `torch.save(x, file)`
 *   and `torch.load(file)` for a tensor, a list of tensors, or a dictionary
 *   of named tensors. The file is in the *safetensors* format
 *   (https://github.com/huggingface/safetensors), so Python reads it too
 *   (`safetensors.numpy.load_file`): 8 bytes, the little-endian length N of a
 *   JSON header; N bytes of JSON (padded with spaces to a multiple of 8)
 *   mapping each tensor's name to `{"dtype": "F32" | "I32" | "BOOL", "shape":
 *   [...], "data_offsets": [begin, end]}` plus `"__metadata__": {"format":
 *   "d2l-ts", "structure": "tensor" | "list" | "dict"}`; then the tensors'
 *   bytes, little-endian, back to back in the order of the offsets. A single
 *   tensor is named `"0"`, a list's tensors `"0"`, `"1"`, ...
 * - {@link fileIO}: a `tf.io.IOHandler` that saves a model to a folder and
 *   loads it back, in the layout of tfjs-node's `file://` handler (which needs
 *   the native tfjs-node package): `model.json` (the topology and the weights
 *   manifest) and `weights.bin` (all weights, back to back).
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";

/** What {@link saveTensors} takes and {@link loadTensors} gives back: a tensor, a list, or named tensors. */
export type TensorTree = tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>;

/**
 * A tensor or model file that is missing or not what it should be; `path`
 * names it and `problem` says what is wrong and what to do.
 *
 * @example
 * try { await d2l.loadTensors("x-file"); }
 * catch (e) { if (e instanceof d2l.TensorFileError) console.log(e.path, e.problem); }
 */
export class TensorFileError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = "TensorFileError";
  }
}

const DTYPE_TO_ST: Partial<Record<tf.DataType, string>> = { float32: "F32", int32: "I32", bool: "BOOL" };
const ST_BYTES: Record<string, number> = { F32: 4, I32: 4, BOOL: 1, U8: 1 };
const ST_TO_DTYPE: Record<string, tf.DataType> = { F32: "float32", I32: "int32", BOOL: "bool", U8: "int32" };

/** Write `bytes` to `file` through a temporary file in the same folder and a rename: a failed write never leaves half a file. */
function writeAtomic(file: string, bytes: Uint8Array | string): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function readOrExplain(file: string, what: string, fix: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") throw new TensorFileError(file, `no such file. ${fix}`);
    if (err.code === "EISDIR") throw new TensorFileError(file, `is a folder, expected ${what}`);
    throw new TensorFileError(file, `cannot read it (${err.message})`);
  }
}

/**
 * Save a tensor, a list of tensors, or a dictionary of named tensors to one
 * file: the book's `torch.save(x, 'x-file')`. The format is safetensors (see
 * the module notes), readable by Python's `safetensors` package. float32,
 * int32 and bool tensors can be saved.
 *
 * @example
 * const x = tf.range(0, 4);
 * await d2l.saveTensors(x, "x-file");
 * await d2l.saveTensors([x, tf.zeros([4])], "x-files");
 * await d2l.saveTensors({ x, y: tf.zeros([4]) }, "mydict");
 */
export async function saveTensors(tensors: TensorTree, file: string): Promise<void> {
  let structure: "tensor" | "list" | "dict";
  let named: [string, tf.Tensor][];
  if (tensors instanceof tf.Tensor) {
    structure = "tensor";
    named = [["0", tensors]];
  } else if (Array.isArray(tensors)) {
    structure = "list";
    named = tensors.map((t, i) => [String(i), t]);
  } else if (tensors !== null && typeof tensors === "object") {
    structure = "dict";
    named = Object.entries(tensors);
  } else {
    throw new Error(`saveTensors: expected a tensor, an array of tensors, or an object of named tensors, got ${tensors === null ? "null" : typeof tensors}`);
  }
  for (const [name, t] of named) {
    if (!(t instanceof tf.Tensor)) throw new Error(`saveTensors: "${name}" is not a tf.Tensor (${t === null ? "null" : typeof t}); only tensors can be saved`);
    if (t.isDisposed) throw new Error(`saveTensors: tensor "${name}" is disposed`);
    if (DTYPE_TO_ST[t.dtype] === undefined) throw new Error(`saveTensors: tensor "${name}" has dtype ${t.dtype}; only float32, int32 and bool tensors can be saved`);
    if (name === "__metadata__") throw new Error('saveTensors: "__metadata__" is reserved by the file format; rename that entry');
  }
  const header: Record<string, unknown> = { __metadata__: { format: "d2l-ts", structure } };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of named) {
    const values = await t.data();
    const bytes = t.dtype === "bool" ? Uint8Array.from(values as Uint8Array) : new Uint8Array(values.buffer as ArrayBuffer, values.byteOffset, values.byteLength).slice();
    header[name] = { dtype: DTYPE_TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += " ".repeat(pad);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeAtomic(file, Buffer.concat([head, Buffer.from(json), ...chunks]));
}

/**
 * Load what {@link saveTensors} saved: the book's `torch.load('x-file')`.
 * Gives back the same structure: a tensor, a list, or a dictionary. Also
 * reads safetensors files written elsewhere (as a dictionary unless they say
 * otherwise), with tensors of dtype F32, I32, BOOL or U8 (as int32). A missing
 * or damaged file is a {@link TensorFileError} naming the file and the problem.
 *
 * @example
 * const x2 = await d2l.loadTensors("x-file") as tf.Tensor;
 * const [a, b] = await d2l.loadTensors("x-files") as tf.Tensor[];
 * const { x, y } = await d2l.loadTensors("mydict") as Record<string, tf.Tensor>;
 */
export async function loadTensors(file: string): Promise<TensorTree> {
  const buf = readOrExplain(file, "a tensor file", "Save tensors there first with d2l.saveTensors(x, file), or check the path.");
  const damaged = (what: string): TensorFileError =>
    new TensorFileError(file, `damaged, or not a tensor file written by d2l.saveTensors (safetensors): ${what}. Save the tensors again`);
  if (buf.length < 8) throw damaged(`${buf.length} bytes, shorter than the 8-byte header length`);
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(buf.length - 8)) throw damaged(`the header claims ${n} bytes but the file has ${buf.length - 8} after the length`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + Number(n)).toString("utf8")) as Record<string, unknown>;
  } catch (e) {
    throw damaged(`the header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw damaged("the header is not a JSON object");
  const data = buf.subarray(8 + Number(n));
  const meta = (header.__metadata__ ?? {}) as Record<string, unknown>;
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shape = e?.shape;
    const offs = e?.data_offsets;
    if (typeof e?.dtype !== "string" || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0) || !Array.isArray(offs) || offs.length !== 2) {
      throw damaged(`entry "${name}" lacks a dtype, a shape or data_offsets`);
    }
    const bytesPer = ST_BYTES[e.dtype];
    if (bytesPer === undefined) throw new TensorFileError(file, `tensor "${name}" has dtype ${e.dtype}; d2l-ts reads F32, I32, BOOL and U8`);
    const [begin, end] = offs as number[];
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end > data.length || end - begin !== size * bytesPer) {
      throw damaged(
        `tensor "${name}" of shape [${(shape as number[]).join(",")}] needs ${size * bytesPer} bytes at ${String(begin)}..${String(end)}, but the data part has ${data.length} bytes`,
      );
    }
    entries.push({ name, dtype: e.dtype, shape: shape as number[], begin, end });
  }
  const expected = entries.reduce((a, e) => a + (e.end - e.begin), 0);
  if (expected !== data.length) throw damaged(`the tensors take ${expected} bytes but the data part has ${data.length} (truncated or padded)`);
  const make = (e: (typeof entries)[number]): tf.Tensor => {
    const bytes = data.subarray(e.begin, e.end);
    const copy = new Uint8Array(bytes); // aligned, and not shared with the file buffer
    const values = e.dtype === "F32" ? new Float32Array(copy.buffer) : e.dtype === "I32" ? new Int32Array(copy.buffer) : e.dtype === "U8" ? Int32Array.from(copy) : copy;
    return tf.tensor(values, e.shape, ST_TO_DTYPE[e.dtype]);
  };
  const structure = meta.format === "d2l-ts" ? meta.structure : "dict";
  if (structure === "tensor" || structure === "list") {
    const byIndex = new Map(entries.map((e) => [e.name, e]));
    const list = entries.map((_, i) => {
      const e = byIndex.get(String(i));
      if (!e) throw damaged(`a ${structure} file without tensor "${i}"`);
      return e;
    });
    if (structure === "tensor") {
      if (list.length !== 1) throw damaged(`a single-tensor file with ${list.length} tensors`);
      return make(list[0]);
    }
    return list.map(make);
  }
  entries.sort((a, b) => a.begin - b.begin);
  return Object.fromEntries(entries.map((e) => [e.name, make(e)]));
}

/** Bytes per element of a weight in weights.bin; undefined for strings (variable length). */
function weightBytes(spec: tf.io.WeightsManifestEntry): number | undefined {
  const q = spec.quantization?.dtype;
  if (q !== undefined) return q === "uint8" ? 1 : 2;
  if (spec.dtype === "float32" || spec.dtype === "int32") return 4;
  if (spec.dtype === "bool") return 1;
  if (spec.dtype === "complex64") return 8;
  return undefined;
}

/** The folder and model.json path for `target`: a folder, or a path ending in `.json`. */
function modelPaths(target: string): { dir: string; json: string } {
  const resolved = path.resolve(target);
  return resolved.toLowerCase().endsWith(".json") ? { dir: path.dirname(resolved), json: resolved } : { dir: resolved, json: path.join(resolved, "model.json") };
}

/**
 * A `tf.io.IOHandler` for the local file system, so that a model saves to
 * and loads from disk in Node without tfjs-node: `model.save(d2l.fileIO(dir))`
 * writes `dir/model.json` (topology, training config, weights manifest) and
 * `dir/weights.bin` (the weights), the layout of tfjs-node's `file://`
 * handler; `tf.loadLayersModel(d2l.fileIO(dir))` reads them back. `target`
 * may also be the path of the `.json` file (weights.bin goes beside it).
 * Files are written through a temporary file and a rename. Loading a missing
 * or damaged model is an error naming the file and the problem.
 *
 * @example
 * await net.save(d2l.fileIO("mlp"));                     // mlp/model.json, mlp/weights.bin
 * const clone = await tf.loadLayersModel(d2l.fileIO("mlp"));
 */
export function fileIO(target: string): tf.io.IOHandler {
  if (typeof target !== "string" || target.trim() === "") throw new Error(`fileIO(path): expected a folder path (or a path ending in .json), got ${JSON.stringify(target)}`);
  const { dir, json } = modelPaths(target);
  const weightsName = json.endsWith(`${path.sep}model.json`) ? "weights.bin" : `${path.basename(json, ".json")}.weights.bin`;
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error("fileIO: saving a binary (GraphDef) model topology is not supported; save a LayersModel");
      }
      if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new Error(`fileIO: ${dir} is a file; give a folder path to save the model in`);
      const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJSON: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest: [{ paths: [weightsName], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
      };
      if (artifacts.trainingConfig != null) modelJSON.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature != null) modelJSON.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata != null) modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer != null) modelJSON.modelInitializer = artifacts.modelInitializer;
      if (artifacts.initializerSignature != null) modelJSON.initializerSignature = artifacts.initializerSignature;
      writeAtomic(path.join(dir, weightsName), new Uint8Array(weightData));
      writeAtomic(json, JSON.stringify(modelJSON));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData }) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const fix = `Save a model there first with await net.save(d2l.fileIO(${JSON.stringify(target)})), or check the path.`;
      if (!fs.existsSync(json) && fs.existsSync(dir) && fs.statSync(dir).isDirectory()) {
        throw new TensorFileError(json, `no such file: ${dir} holds no saved model. ${fix}`);
      }
      const text = readOrExplain(json, "a model.json file", fix).toString("utf8");
      let modelJSON: tf.io.ModelJSON;
      try {
        modelJSON = JSON.parse(text) as tf.io.ModelJSON;
      } catch (e) {
        throw new TensorFileError(json, `not a model file, or damaged: not JSON (${(e as Error).message})`);
      }
      if (modelJSON === null || typeof modelJSON !== "object" || modelJSON.modelTopology == null || !Array.isArray(modelJSON.weightsManifest)) {
        throw new TensorFileError(json, "not a model file, or damaged: expected an object with modelTopology and weightsManifest (what model.save writes)");
      }
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: Buffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const file = path.resolve(path.dirname(json), p);
            buffers.push(readOrExplain(file, "a weights file", `${json} refers to it; the saved model is incomplete: save it again.`));
          }
        }
        const all = Buffer.concat(buffers);
        const sizes = specs.map((s) => weightBytes(s));
        if (sizes.every((b) => b !== undefined)) {
          const need = specs.reduce((a, s, i) => a + (sizes[i] as number) * s.shape.reduce((x, y) => x * y, 1), 0);
          if (need !== all.length) {
            const files = manifest.flatMap((g) => g.paths).join(", ");
            throw new TensorFileError(
              path.resolve(path.dirname(json), manifest[0]?.paths[0] ?? "weights.bin"),
              `holds ${all.length} bytes of weights but ${path.basename(json)} describes ${need} (${specs.length} weights); the files (${files}) are damaged or do not belong together: save the model again`,
            );
          }
        }
        return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer];
      });
    },
  };
}
