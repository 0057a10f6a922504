/**
 * The Jupyter wire format (messaging protocol 5.3): multipart frames, the
 * `<IDS|MSG>` delimiter, and HMAC signatures over header, parent header,
 * metadata and content.
 */
import { createHmac, randomUUID, timingSafeEqual } from "crypto";

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
}

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
  constructor(private readonly key: string, scheme: string) {
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

function parseJsonObject(b: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(b.toString("utf8"));
  } catch {
    throw new WireError(`${what} is not valid JSON`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new WireError(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Parse and verify frames; throws WireError for anything malformed or badly signed. */
export function decode(frames: Buffer[], signer: Signer): Message {
  const i = frames.findIndex((f) => f.length === DELIMITER.length && f.toString("latin1") === DELIMITER);
  if (i < 0) throw new WireError("no <IDS|MSG> delimiter");
  if (frames.length < i + 6) throw new WireError(`truncated message: ${frames.length - i - 1} frames after the delimiter, expected at least 5`);
  const [sig, h, p, m, c] = frames.slice(i + 1, i + 6);
  if (!signer.verify(sig, [h, p, m, c])) throw new WireError("bad signature");
  const header = parseJsonObject(h, "header") as Header;
  if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") {
    throw new WireError("header lacks msg_type or msg_id");
  }
  return {
    idents: frames.slice(0, i),
    header,
    parent_header: parseJsonObject(p, "parent_header") as Header,
    metadata: parseJsonObject(m, "metadata"),
    content: parseJsonObject(c, "content"),
    buffers: frames.slice(i + 6),
  };
}

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

/** Serialize a message into frames, signed. */
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
