/**
 * What the main thread and the protocol thread say to each other, and the
 * layout of the memory they share.
 */
import { ConnectionInfo, Header, Message } from "./wire";

export type ConnectionInfoLike = ConnectionInfo;

export type Channel = "shell" | "control" | "iopub" | "stdin";

/** Main thread → protocol thread. */
export type ToProtocol =
  | {
      kind: "send";
      channel: Channel;
      idents?: Buffer[] | Uint8Array[];
      msgType: string;
      content: Record<string, unknown>;
      parent: Header | Record<string, never>;
      metadata?: Record<string, unknown>;
    }
  | { kind: "ready" }
  | { kind: "exit" };

/** Protocol thread → main thread. */
export type FromProtocol =
  | { kind: "request"; channel: "shell" | "control"; msg: Message }
  | { kind: "stdin"; msg: Message }
  | { kind: "interrupt"; generation: number }
  | { kind: "shutdown"; restart: boolean }
  | { kind: "listening" };

export interface ProtocolData {
  connection: ConnectionInfo;
  kernelInfo: Record<string, unknown>;
  /** [0] interrupt generation, [1] last generation the main thread acknowledged, [2] main thread in kernel-critical code. */
  shared: SharedArrayBuffer;
}

export const SHARED_GENERATION = 0;
export const SHARED_ACK = 1;
export const SHARED_CRITICAL = 2;

