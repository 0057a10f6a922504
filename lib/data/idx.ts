/**
 * Reading IDX files (the MNIST / Fashion-MNIST format), gzipped or not, with
 * structural checks: a corrupt or truncated file is an error that names the
 * file and what is wrong, never data.
 *
 * Format: two zero bytes, a type code (0x08 = unsigned byte), the number of
 * dimensions, then each dimension as a big-endian uint32, then the values.
 */
import * as fs from "fs";
import * as zlib from "zlib";

/** An IDX array of unsigned bytes. */
export interface IdxArray {
  /** The dimensions from the header, e.g. [60000, 28, 28]. */
  dims: number[];
  /** The values, row-major; length is the product of `dims`. */
  data: Uint8Array;
}

/** What an IDX file is expected to hold. */
export interface IdxExpectation {
  /** Number of dimensions, e.g. 3 for images, 1 for labels. */
  rank?: number;
  /** Required sizes of dimensions after the first (null = any), e.g. [28, 28]. */
  innerDims?: (number | null)[];
  /** Required size of the first dimension. */
  count?: number;
  /** Largest allowed value (e.g. 9 for labels 0-9). */
  maxValue?: number;
  /** What the file holds, for messages ("images", "labels"). */
  what?: string;
}

/**
 * A file that is not what it should be (bad magic number, truncated, wrong
 * sizes); `path` names it and `problem` says what is wrong.
 *
 * @example
 * try { d2l.readIdxFile("labels.gz", { rank: 1 }); }
 * catch (e) { if (e instanceof d2l.CorruptFileError) console.log(e.path, e.problem); }
 */
export class CorruptFileError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path} is corrupt or not the expected file: ${problem}`);
    this.name = "CorruptFileError";
  }
}

const hex = (v: number): string => "0x" + (v >>> 0).toString(16).padStart(8, "0");

/**
 * Parse an (uncompressed) IDX buffer of unsigned bytes. `source` names it in
 * errors. The data is a view into `buf`, not a copy. (The book leaves this
 * to `torchvision.datasets.FashionMNIST`.)
 *
 * @example
 * const { dims, data } = d2l.parseIdx(bytes, "train-labels-idx1-ubyte", { rank: 1, maxValue: 9 });
 */
export function parseIdx(buf: Uint8Array, source: string, expect: IdxExpectation = {}): IdxArray {
  const what = expect.what ? ` of ${expect.what}` : "";
  if (buf.length < 4) throw new CorruptFileError(source, `it holds ${buf.length} bytes, fewer than an IDX header`);
  const magic = ((buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3]) >>> 0;
  const rank = buf[3];
  const expectedMagic = expect.rank !== undefined ? 0x0800 + expect.rank : undefined;
  if (buf[0] !== 0 || buf[1] !== 0 || (expectedMagic !== undefined && magic !== expectedMagic)) {
    throw new CorruptFileError(
      source,
      `bad magic number ${hex(magic)}` + (expectedMagic !== undefined ? ` (expected ${hex(expectedMagic)} for an IDX file${what})` : " (not an IDX file)"),
    );
  }
  if (buf[2] !== 0x08) {
    throw new CorruptFileError(source, `IDX type code 0x${buf[2].toString(16)} is not supported; expected 0x08 (unsigned bytes)`);
  }
  if (rank < 1) throw new CorruptFileError(source, "the header declares 0 dimensions");
  const header = 4 + 4 * rank;
  if (buf.length < header) throw new CorruptFileError(source, `truncated: it ends inside the ${header}-byte header (${buf.length} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  let size = 1;
  for (let a = 0; a < rank; a++) {
    const d = view.getUint32(4 + 4 * a, false);
    dims.push(d);
    size *= d;
  }
  if (expect.innerDims) {
    expect.innerDims.forEach((want, k) => {
      if (want !== null && dims[k + 1] !== want) {
        throw new CorruptFileError(source, `dimensions [${dims.join(",")}], expected [N,${expect.innerDims!.join(",")}]`);
      }
    });
  }
  if (expect.count !== undefined && dims[0] !== expect.count) {
    throw new CorruptFileError(source, `it holds ${dims[0]} items, expected ${expect.count}`);
  }
  const body = buf.length - header;
  if (body < size) {
    throw new CorruptFileError(source, `truncated: the header promises ${size} bytes of data (dimensions [${dims.join(",")}]) but only ${body} follow`);
  }
  if (body > size) {
    throw new CorruptFileError(source, `${body - size} unexpected bytes after the data (dimensions [${dims.join(",")}])`);
  }
  const data = buf.subarray(header, header + size);
  if (expect.maxValue !== undefined) {
    for (let i = 0; i < data.length; i++) {
      if (data[i] > expect.maxValue) {
        throw new CorruptFileError(source, `value ${data[i]} at position ${i} is out of range 0..${expect.maxValue}`);
      }
    }
  }
  return { dims, data };
}

/**
 * Read an IDX file from disk, gunzipping it when it is gzipped (by its magic
 * bytes, whatever its name), and check it against `expect`.
 *
 * @example
 * const labels = d2l.readIdxFile("data/t10k-labels-idx1-ubyte.gz", { rank: 1, maxValue: 9 });
 */
export function readIdxFile(path: string, expect: IdxExpectation = {}): IdxArray {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  let bytes: Uint8Array = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(raw);
    } catch (e) {
      const msg = (e as Error).message;
      const truncated = /unexpected end/i.test(msg);
      throw new CorruptFileError(path, truncated ? `truncated gzip data (${msg})` : `not valid gzip data (${msg})`);
    }
  } else if (path.endsWith(".gz")) {
    throw new CorruptFileError(path, "not gzip data (the file name ends in .gz but it does not start with the gzip signature 1f 8b)");
  }
  return parseIdx(bytes, path, expect);
}
