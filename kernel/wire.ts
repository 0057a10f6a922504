/**
 * The Jupyter wire format (messaging protocol 5.3): multipart frames, the
 * `<IDS|MSG>` delimiter, and HMAC signatures over header, parent header,
 * metadata and content.
 */
import { createHmac, randomUUID, timingSafeEqual } from "crypto";
import type { RequestProblem } from "./messages";

export const PROTOCOL_VERSION = "5.3";
const DELIMITER = "<IDS|MSG>";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [key: string]: unknown;
}

export interface Message {
  idents: Buffer[];
  header: Header;
  parent_header: Header | Record<string, never>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
  buffers: Buffer[];
  /**
   * Set when the message is signed and its header is sound but the rest breaks
   * a limit or is not a JSON object: the kernel answers with this error
   * instead of handling it (content and metadata are then empty).
   */
  problem?: RequestProblem;
}

/** The most bytes a message may have after its delimiter (signature, JSON parts and buffers together): 64 MiB. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** The deepest nesting of arrays and objects a JSON part may have. */
export const MAX_JSON_DEPTH = 100;
/** The header alone may have at most this many bytes (1 MiB): a bigger one is refused unanswered. */
const MAX_HEADER_BYTES = 1024 * 1024;

/** What the connection file gives. */
export interface ConnectionInfo {
  transport: string;
  ip: string;
  shell_port: number;
  control_port: number;
  iopub_port: number;
  stdin_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

/** Why a multipart message was refused. */
export class WireError extends Error {}

export class Signer {
  private readonly algorithm: string | null;
  constructor(
    private readonly key: string,
    scheme: string,
  ) {
    if (!key) {
      this.algorithm = null;
      return;
    }
    const m = /^hmac-(sha256|sha512|sha1|md5)$/.exec(scheme || "hmac-sha256");
    if (!m) throw new WireError(`unsupported signature_scheme ${JSON.stringify(scheme)}; expected hmac-sha256`);
    this.algorithm = m[1];
  }

  sign(parts: Buffer[]): string {
    if (!this.algorithm) return "";
    const h = createHmac(this.algorithm, this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  verify(signature: Buffer, parts: Buffer[]): boolean {
    if (!this.algorithm) return true;
    const expected = Buffer.from(this.sign(parts), "utf8");
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
}

/**
 * The deepest nesting of `[` and `{` in JSON text, found in one pass over the
 * bytes (brackets inside strings do not count), so that depth is known before
 * anything is parsed or copied recursively.
 *
 * @example
 * jsonDepth(Buffer.from('{"a": [[1], "[["]}')); // 3
 */
export function jsonDepth(b: Uint8Array): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < b.length; i++) {
    const ch = b[i];
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) max = depth;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return max;
}

/** Parse a JSON part that must be an object; the reason as a string when it is not. */
function parsePart(b: Buffer, what: string): Record<string, unknown> | string {
  const depth = jsonDepth(b);
  if (depth > MAX_JSON_DEPTH) return `${what} is nested ${depth} deep; the kernel takes at most ${MAX_JSON_DEPTH} levels of arrays and objects`;
  let v: unknown;
  try {
    v = JSON.parse(b.toString("utf8"));
  } catch {
    return `${what} is not valid JSON`;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return `${what} is not a JSON object`;
  return v as Record<string, unknown>;
}

const HEADER_FIELDS = ["msg_id", "session", "username", "date", "msg_type", "version"] as const;

/** The header with only its standard string fields, for a header too deep to echo back as a parent. */
function plainHeader(b: Buffer): Header | null {
  let v: unknown;
  try {
    v = JSON.parse(b.toString("utf8")); // V8 parses deep JSON without recursion
  } catch {
    return null;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
  const h: Record<string, string> = {};
  for (const k of HEADER_FIELDS) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === "string") h[k] = x;
  }
  return h as Header;
}

/**
 * Parse and verify frames. Throws WireError for what cannot be answered (no
 * delimiter, too few frames, a bad signature, a header that is not an object
 * with msg_type and msg_id). A signed message with a sound header that breaks
 * a limit (MAX_MESSAGE_BYTES, MAX_JSON_DEPTH) or whose other parts are not
 * JSON objects comes back with `problem` set, so that it can get an error reply.
 *
 * @example
 * const msg = decode(frames, new Signer(key, "hmac-sha256"));
 * if (msg.problem) console.log(msg.problem.evalue);
 */
export function decode(frames: Buffer[], signer: Signer): Message {
  const i = frames.findIndex((f) => f.length === DELIMITER.length && f.toString("latin1") === DELIMITER);
  if (i < 0) throw new WireError("no <IDS|MSG> delimiter");
  if (frames.length < i + 6) throw new WireError(`truncated message: ${frames.length - i - 1} frames after the delimiter, expected at least 5`);
  const [sig, h, p, m, c] = frames.slice(i + 1, i + 6);
  if (!signer.verify(sig, [h, p, m, c])) throw new WireError("bad signature");
  if (h.length > MAX_HEADER_BYTES) throw new WireError(`header is ${h.length} bytes; at most ${MAX_HEADER_BYTES} are read`);
  const problems: string[] = [];
  let header: Header;
  const parsed = parsePart(h, "header");
  if (typeof parsed === "string") {
    // Only a header too deep is answered (with its plain fields as the parent); any other bad header is not.
    const plain = parsed.includes("levels of arrays") ? plainHeader(h) : null;
    if (!plain) throw new WireError(parsed);
    header = plain;
    problems.push(parsed);
  } else header = parsed as Header;
  if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") {
    throw new WireError("header lacks msg_type or msg_id");
  }
  const msg: Message = { idents: frames.slice(0, i), header, parent_header: {}, metadata: {}, content: {}, buffers: [] };
  const size = frames.slice(i + 1).reduce((n, f) => n + f.length, 0);
  if (size > MAX_MESSAGE_BYTES) {
    const mib = (x: number): string => `${(x / 1024 / 1024).toFixed(1)} MiB`;
    msg.problem = {
      ename: "MessageTooLarge",
      evalue: `the message is ${mib(size)}; the kernel takes at most ${mib(MAX_MESSAGE_BYTES)} (send large data as a file and read it in a cell)`,
    };
    return msg;
  }
  const parts = [parsePart(p, "parent_header"), parsePart(m, "metadata"), parsePart(c, "content")];
  for (const part of parts) if (typeof part === "string") problems.push(part);
  if (problems.length > 0) {
    const deep = problems.some((x) => x.includes("levels of arrays"));
    msg.problem = { ename: deep ? "MessageTooDeep" : "InvalidMessage", evalue: problems.join("; ") };
    return msg;
  }
  msg.parent_header = parts[0] as Header;
  msg.metadata = parts[1] as Record<string, unknown>;
  msg.content = parts[2] as Record<string, unknown>;
  msg.buffers = frames.slice(i + 6);
  return msg;
}

/**
 * A new header for a message the kernel sends.
 *
 * @example
 * makeHeader("status", "kernel-42").msg_type; // "status"
 */
export function makeHeader(msgType: string, session: string): Header {
  return {
    msg_id: randomUUID(),
    session,
    username: "kernel",
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/**
 * Serialize a message into frames, signed.
 *
 * @example
 * encode(signer, [], makeHeader("status", session), {}, {}, { execution_state: "idle" });
 */
export function encode(
  signer: Signer,
  idents: Buffer[],
  header: Header,
  parent: Header | Record<string, never>,
  metadata: Record<string, unknown>,
  content: Record<string, unknown>,
  buffers: Buffer[] = [],
): Buffer[] {
  const parts = [header, parent, metadata, content].map((o) => Buffer.from(JSON.stringify(o), "utf8"));
  return [...idents, Buffer.from(DELIMITER), Buffer.from(signer.sign(parts)), ...parts, ...buffers];
}
