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
      buffers?: Uint8Array[];
    }
  | { kind: "ready" }
  | { kind: "exit" };

/** Protocol thread → main thread. */
export type FromProtocol =
  /**
   * A request for the main thread. `resend`: sent again because a terminate was asked for
   * while it was unanswered (it may have died on arrival); the main thread takes it only if it
   * never started it.
   */
  | { kind: "request"; channel: "shell" | "control"; msg: Message; resend?: boolean }
  | { kind: "stdin"; msg: Message }
  | { kind: "interrupt"; generation: number }
  | { kind: "shutdown"; restart: boolean }
  | { kind: "listening" }
  /** The first kernel_info_reply went out, or the first request for the main thread came: it may load the compiler, tf and d2l. */
  | { kind: "contact" };

export interface ProtocolData {
  connection: ConnectionInfo;
  kernelInfo: Record<string, unknown>;
  /**
   * [0] interrupt generation, [1] last generation the main thread acknowledged, [2] main thread in
   * kernel-critical code, [3] how many times a thread asked V8 to terminate the main thread's JavaScript
   * (a terminate may land after the loop it was meant for, in kernel code: the session's watchdog ends
   * the requests it cut off). 16 bytes.
   */
  shared: SharedArrayBuffer;
  /**
   * A synchronous prompt() waiting on the main thread: [state, byte length]
   * as Int32 at the start, then the reply's UTF-8 bytes (PROMPT_CAPACITY at most).
   * The protocol thread answers it here, since a blocked thread reads no postMessage.
   */
  prompt: SharedArrayBuffer;
}

export const SHARED_GENERATION = 0;
export const SHARED_ACK = 1;
export const SHARED_CRITICAL = 2;
export const SHARED_TERMINATIONS = 3;

/** Int32 slots at the start of ProtocolData.prompt. */
export const PROMPT_STATE = 0;
export const PROMPT_LENGTH = 1;
/** Where the reply's bytes start, and how many fit. */
export const PROMPT_DATA_OFFSET = 8;
export const PROMPT_CAPACITY = 1 << 20;
/**
 * PROMPT_STATE values: nothing pending; main thread waiting; answered; the
 * reply was too long; the kernel is shutting down; the input_reply was
 * malformed (its data bytes then say why).
 */
export const PROMPT_IDLE = 0;
export const PROMPT_WAITING = 1;
export const PROMPT_ANSWERED = 2;
export const PROMPT_TOO_LONG = 3;
export const PROMPT_CANCELLED = 4;
export const PROMPT_INVALID = 5;
