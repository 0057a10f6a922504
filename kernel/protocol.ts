/**
 * The protocol thread: owns the five ZeroMQ sockets, checks every message's
 * signature, answers what needs no interpreter (kernel_info, interrupt,
 * shutdown, comm_info, heartbeat) and hands the rest to the main thread,
 * where cells run. Living in a worker, it keeps answering while a cell
 * computes, and it can stop a runaway synchronous loop on the main thread
 * through the inspector (`Runtime.terminateExecution`).
 */
import { parentPort, workerData } from "worker_threads";
import * as fs from "fs";
import * as inspector from "inspector";
import * as zmq from "zeromq";
import { Header, Message, Signer, WireError, decode, encode, makeHeader } from "./wire";
import { RequestProblem, checkRequest, replyType } from "./messages";
import {
  Channel,
  ConnectionInfoLike,
  FromProtocol,
  ProtocolData,
  SHARED_ACK,
  SHARED_CRITICAL,
  SHARED_GENERATION,
  SHARED_TERMINATIONS,
  ToProtocol,
  PROMPT_ANSWERED,
  PROMPT_CANCELLED,
  PROMPT_CAPACITY,
  PROMPT_DATA_OFFSET,
  PROMPT_INVALID,
  PROMPT_LENGTH,
  PROMPT_STATE,
  PROMPT_TOO_LONG,
  PROMPT_WAITING,
} from "./channels";

/** Sends on a socket one message at a time, in order (zeromq allows one send in flight). */
class Outbox {
  private queue: Buffer[][] = [];
  private sending = false;
  constructor(
    private readonly sock: zmq.Writable & { closed: boolean },
    private readonly name: string,
  ) {}
  push(frames: Buffer[]): void {
    this.queue.push(frames);
    if (!this.sending) void this.drain();
  }
  /** Send before everything still queued (the message in flight, if any, goes first). */
  pushFirst(frames: Buffer[]): void {
    this.queue.unshift(frames);
    if (!this.sending) void this.drain();
  }
  private async drain(): Promise<void> {
    this.sending = true;
    while (this.queue.length > 0) {
      const frames = this.queue.shift() as Buffer[];
      if (this.sock.closed) break;
      try {
        await this.sock.send(frames);
      } catch (e) {
        log(`could not send on ${this.name}: ${(e as Error).message}`);
      }
    }
    this.sending = false;
  }
  get idle(): boolean {
    return !this.sending && this.queue.length === 0;
  }
}

/**
 * The kernel's own log: written straight to file descriptor 2, which Jupyter
 * keeps as the kernel's log. Never through process.stderr: a worker's stderr
 * is relayed by the main thread, whose stderr a running cell captures, and a
 * line about a rejected message must never land in a user's cell.
 */
function log(text: string): void {
  try {
    fs.writeSync(2, `[d2l-ts kernel] ${text}\n`);
  } catch {
    // a closed or full stderr: nothing better to do
  }
}

function url(c: ConnectionInfoLike, port: number): string {
  return c.transport === "ipc" ? `ipc://${c.ip}-${port}` : `${c.transport}://${c.ip}:${port}`;
}

async function main(): Promise<void> {
  if (!parentPort) throw new Error("protocol.ts must run in a worker thread");
  const port = parentPort;
  const data = workerData as ProtocolData;
  const c = data.connection;
  const shared = new Int32Array(data.shared);
  const signer = new Signer(c.key, c.signature_scheme);
  const session = c.key ? `kernel-${process.pid}` : `kernel-${process.pid}`;

  const shell = new zmq.Router({ linger: 0 });
  const control = new zmq.Router({ linger: 0 });
  const stdin = new zmq.Router({ linger: 0 });
  // IOPub is an XPUB (JEP 65) so that each new subscriber can be welcomed; "allSubs" shows
  // every subscription, also a second subscriber to a topic another client already has.
  const iopub = new zmq.XPublisher({ linger: 0 });
  iopub.verbosity = "allSubs";
  const hb = new zmq.Reply({ linger: 0 });
  await Promise.all([
    shell.bind(url(c, c.shell_port)),
    control.bind(url(c, c.control_port)),
    stdin.bind(url(c, c.stdin_port)),
    iopub.bind(url(c, c.iopub_port)),
    hb.bind(url(c, c.hb_port)),
  ]);
  const out: Record<Channel, Outbox> = {
    shell: new Outbox(shell, "shell"),
    control: new Outbox(control, "control"),
    stdin: new Outbox(stdin, "stdin"),
    iopub: new Outbox(iopub, "iopub"),
  };

  // Stream output is coalesced for a few milliseconds; any other iopub
  // message flushes it first so the order of outputs is kept.
  let pendingStream: { parent: Header | Record<string, never>; name: string; text: string } | null = null;
  let streamTimer: NodeJS.Timeout | null = null;
  const flushStream = (): void => {
    if (streamTimer) clearTimeout(streamTimer);
    streamTimer = null;
    if (!pendingStream) return;
    const s = pendingStream;
    pendingStream = null;
    out.iopub.push(encode(signer, [Buffer.from("stream")], makeHeader("stream", session), s.parent, {}, { name: s.name, text: s.text }));
  };

  const send = (
    channel: Channel,
    idents: Buffer[],
    msgType: string,
    content: Record<string, unknown>,
    parent: Header | Record<string, never>,
    metadata: Record<string, unknown> = {},
    buffers: Buffer[] = [],
  ): void => {
    if (channel === "iopub") {
      if (msgType === "stream") {
        const name = String(content.name);
        if (pendingStream && pendingStream.name === name && pendingStream.parent === parent) {
          pendingStream.text += String(content.text);
        } else if (pendingStream && pendingStream.name === name && sameMsg(pendingStream.parent, parent)) {
          pendingStream.text += String(content.text);
        } else {
          flushStream();
          pendingStream = { parent, name, text: String(content.text) };
        }
        if (pendingStream.text.length > 65536) flushStream();
        else if (!streamTimer) streamTimer = setTimeout(flushStream, 8);
        return;
      }
      flushStream();
      idents = [Buffer.from(msgType)];
      if (msgType === "status" && content.execution_state === "idle") outstanding.delete((parent as Header).msg_id);
    } else if (channel === "shell" || channel === "control") {
      flushStream();
    }
    out[channel].push(encode(signer, idents, makeHeader(msgType, session), parent, metadata, content, buffers));
  };
  const status = (state: string, parent: Header | Record<string, never>): void => send("iopub", [], "status", { execution_state: state }, parent);

  let inspectorSession: inspector.Session | null = null;
  const terminateMain = (): void => {
    if (!inspectorSession) {
      inspectorSession = new inspector.Session();
      inspectorSession.connectToMainThread();
    }
    Atomics.add(shared, SHARED_TERMINATIONS, 1);
    // The terminate may land as a request arrives on the main thread and drop it unseen.
    const issued = Date.now();
    setTimeout(() => resendBefore(issued), 1000);
    setTimeout(() => resendBefore(issued), 3000);
    inspectorSession.post("Runtime.terminateExecution", (err) => {
      if (err) log(`terminateExecution failed: ${err.message}`);
    });
  };

  const interrupt = async (): Promise<void> => {
    if (!ready) {
      // Still loading the prelude: no cell runs yet, and stopping the load would leave a kernel
      // that never gets ready (every request after it waiting for good).
      log("interrupt_request before the kernel was ready: nothing runs yet, so nothing was interrupted");
      return;
    }
    const generation = Atomics.add(shared, SHARED_GENERATION, 1) + 1;
    port.postMessage({ kind: "interrupt", generation } satisfies FromProtocol);
    // The main thread acknowledges as soon as its event loop is free. If it
    // does not, a synchronous loop holds it: terminate that loop, but never
    // while the kernel itself is compiling (its state must stay whole).
    const t0 = Date.now();
    let lastTerminate = 0;
    while (Atomics.load(shared, SHARED_ACK) < generation) {
      await new Promise((r) => setTimeout(r, 10));
      const now = Date.now();
      if (now - t0 > 150 && Atomics.load(shared, SHARED_CRITICAL) === 0 && now - lastTerminate > 1000) {
        lastTerminate = now;
        terminateMain();
      }
      if (now - t0 > 30000) {
        log("the main thread did not acknowledge an interrupt within 30 s");
        break;
      }
    }
  };

  let ready = false;
  const early: { channel: "shell" | "control"; msg: Message }[] = [];
  /** Requests handed to the main thread whose idle has not gone out yet, by msg_id. */
  const outstanding = new Map<string, { channel: "shell" | "control"; msg: Message; at: number }>();
  const forward = (channel: "shell" | "control", msg: Message): void => {
    outstanding.set(msg.header.msg_id, { channel, msg, at: Date.now() });
    contact();
    if (!ready) early.push({ channel, msg });
    else port.postMessage({ kind: "request", channel, msg } satisfies FromProtocol);
  };
  /** After a terminate: hand again what was outstanding before it (the main thread skips what it had started). */
  const resendBefore = (t: number): void => {
    for (const o of outstanding.values()) {
      if (o.at <= t) port.postMessage({ kind: "request", channel: o.channel, msg: o.msg, resend: true } satisfies FromProtocol);
    }
  };

  let refused = 0;
  /**
   * A request the kernel will not handle: an error reply on the channel it came
   * on, between busy and idle. A message that gets no reply (comm_*, unknown
   * types not named *_request) gets busy and idle, and a line in the log.
   */
  const refuse = (channel: "shell" | "control", msg: Message, problem: RequestProblem): void => {
    const t = msg.header.msg_type;
    // Every refusal is logged (the sender holds the key); unsigned garbage is what the rate limit in listen() is for.
    log(`refused ${JSON.stringify(t).slice(0, 100)} on ${channel}: ${problem.ename}: ${problem.evalue.slice(0, 300)} (${++refused} so far)`);
    status("busy", msg.header);
    const r = replyType(t);
    if (r) send(channel, msg.idents, r, { status: "error", ename: problem.ename, evalue: problem.evalue, traceback: [`${problem.ename}: ${problem.evalue}`] }, msg.header);
    status("idle", msg.header);
  };

  let shuttingDown = false;
  let contacted = false;
  /**
   * The front end has its first kernel_info_reply, or sent a request for the main thread (held in
   * `early` until the main thread is ready): the main thread waits for this before it loads the
   * compiler, tf and d2l, CPU-heavy work that would otherwise compete with this thread for the reply.
   */
  const contact = (): void => {
    if (contacted) return;
    contacted = true;
    port.postMessage({ kind: "contact" } satisfies FromProtocol);
  };
  const handle = async (channel: "shell" | "control", msg: Message): Promise<void> => {
    const t = msg.header.msg_type;
    const reply = (type: string, content: Record<string, unknown>): void => send(channel, msg.idents, type, content, msg.header);
    let problem = msg.problem ?? checkRequest(t, msg.content);
    if (!problem && channel === "control" && t === "execute_request") {
      problem = { ename: "WrongChannel", evalue: "execute_request is not taken on the control channel; send it on shell" };
    }
    if (!problem && t === "input_reply") problem = { ename: "WrongChannel", evalue: `input_reply is taken on the stdin channel only, not on ${channel}` };
    if (problem) {
      // An execute_request's error reply carries the execution count and keeps its place
      // in the queue of cells: the main thread sends it.
      if (t === "execute_request" && channel === "shell") forward(channel, { ...msg, problem });
      else refuse(channel, msg, problem);
      return;
    }
    switch (t) {
      case "kernel_info_request":
        status("busy", msg.header);
        reply("kernel_info_reply", data.kernelInfo);
        status("idle", msg.header);
        contact();
        return;
      case "interrupt_request":
        status("busy", msg.header);
        await interrupt();
        reply("interrupt_reply", { status: "ok" });
        status("idle", msg.header);
        return;
      case "shutdown_request": {
        const restart = msg.content.restart === true;
        status("busy", msg.header);
        reply("shutdown_reply", { status: "ok", restart });
        status("idle", msg.header);
        shuttingDown = true;
        cancelPrompt();
        port.postMessage({ kind: "shutdown", restart } satisfies FromProtocol);
        return;
      }
      case "comm_info_request":
        status("busy", msg.header);
        reply("comm_info_reply", { status: "ok", comms: {} });
        status("idle", msg.header);
        return;
      case "comm_open":
        // No comm targets are registered: close the comm, as the spec asks.
        status("busy", msg.header);
        send("iopub", [], "comm_close", { comm_id: msg.content.comm_id ?? "", data: {} }, msg.header);
        status("idle", msg.header);
        return;
      case "comm_msg":
      case "comm_close":
        status("busy", msg.header);
        status("idle", msg.header);
        return;
      default:
        forward(channel, msg);
    }
  };

  // A synchronous prompt() blocks the main thread in Atomics.wait: its
  // input_reply is written to shared memory here instead of posted.
  const promptState = new Int32Array(data.prompt, 0, 2);
  const promptBytes = new Uint8Array(data.prompt, PROMPT_DATA_OFFSET, PROMPT_CAPACITY);
  const answerPrompt = (msg: Message): boolean => {
    if (Atomics.load(promptState, PROMPT_STATE) !== PROMPT_WAITING) return false;
    const problem = msg.problem ?? checkRequest("input_reply", msg.content);
    // A malformed reply ends the prompt with an error whose text is in the data bytes.
    const bytes = Buffer.from(problem ? problem.evalue : (msg.content.value as string), "utf8");
    let state = problem ? PROMPT_INVALID : PROMPT_ANSWERED;
    if (bytes.length > PROMPT_CAPACITY) state = problem ? PROMPT_INVALID : PROMPT_TOO_LONG;
    else promptBytes.set(bytes);
    Atomics.store(promptState, PROMPT_LENGTH, state !== PROMPT_TOO_LONG && bytes.length <= PROMPT_CAPACITY ? bytes.length : 0);
    Atomics.store(promptState, PROMPT_STATE, state);
    Atomics.notify(promptState, PROMPT_STATE);
    return true;
  };
  const cancelPrompt = (): void => {
    if (Atomics.compareExchange(promptState, PROMPT_STATE, PROMPT_WAITING, PROMPT_CANCELLED) === PROMPT_WAITING) {
      Atomics.notify(promptState, PROMPT_STATE);
    }
  };

  let rejected = 0;
  const listen = async (sock: zmq.Router, channel: "shell" | "control" | "stdin"): Promise<void> => {
    for await (const frames of sock) {
      let msg: Message;
      try {
        msg = decode(frames as Buffer[], signer);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        rejected++;
        if (rejected <= 10 || rejected % 1000 === 0) log(`ignored a message on ${channel}: ${e.message} (${rejected} so far)`);
        continue;
      }
      if (channel === "stdin") {
        if (msg.header.msg_type !== "input_reply") {
          log(`ignored a ${JSON.stringify(msg.header.msg_type)} on stdin (only input_reply is taken there)`);
          continue;
        }
        if (answerPrompt(msg)) continue;
        const problem = msg.problem ?? checkRequest("input_reply", msg.content) ?? undefined;
        port.postMessage({ kind: "stdin", msg: { ...msg, problem } } satisfies FromProtocol);
        continue;
      }
      try {
        await handle(channel, msg);
      } catch (e) {
        log(`error handling ${msg.header.msg_type}: ${(e as Error).stack ?? e}`);
      }
    }
  };
  // JEP 65: every subscription (a frame 0x01 + topic) gets a signed iopub_welcome with
  // {subscription: topic}, routed by that topic so the new subscriber's filter lets it
  // through, and queued before anything else so it is the first message that subscriber sees.
  const welcome = async (): Promise<void> => {
    for await (const [frame] of iopub) {
      if (!frame || frame.length === 0 || frame[0] !== 1) continue;
      const topic = Buffer.from(frame.subarray(1));
      out.iopub.pushFirst(encode(signer, [topic], makeHeader("iopub_welcome", session), {}, {}, { subscription: topic.toString("utf8") }));
    }
  };
  const heartbeat = async (): Promise<void> => {
    for await (const frames of hb) await hb.send(frames);
  };

  port.on("message", (m: ToProtocol) => {
    if (m.kind === "send") {
      const idents = (m.idents ?? []).map((b) => Buffer.from(b));
      send(
        m.channel,
        idents,
        m.msgType,
        m.content,
        m.parent,
        m.metadata,
        (m.buffers ?? []).map((b) => Buffer.from(b)),
      );
    } else if (m.kind === "ready") {
      ready = true;
      for (const e of early.splice(0)) port.postMessage({ kind: "request", channel: e.channel, msg: e.msg } satisfies FromProtocol);
    } else if (m.kind === "exit") {
      flushStream();
      const close = (): void => {
        if (Object.values(out).every((o) => o.idle)) {
          for (const s of [shell, control, stdin, iopub, hb]) s.close();
          inspectorSession?.disconnect();
          process.exit(0);
        } else setTimeout(close, 5);
      };
      close();
    }
  });

  watchParent();
  status("starting", {});
  port.postMessage({ kind: "listening" } satisfies FromProtocol);
  const loops = [listen(shell, "shell"), listen(control, "control"), listen(stdin, "stdin"), heartbeat(), welcome()];
  await Promise.allSettled(loops).then((r) => {
    if (!shuttingDown) for (const x of r) if (x.status === "rejected") log(`socket loop ended: ${String(x.reason)}`);
  });
}

/**
 * Jupyter tells a kernel who started it in JPY_PARENT_PID. When that process
 * is gone (a notebook server or test runner killed hard), nobody can reach this
 * kernel any more, so it ends instead of lingering as an orphan. The watch runs
 * on this thread because the main thread may be stuck in a user's loop.
 */
function watchParent(): void {
  const parent = Number(process.env.JPY_PARENT_PID);
  if (!Number.isInteger(parent) || parent <= 1) return;
  const alive = (): boolean => {
    try {
      process.kill(parent, 0);
      return process.ppid === parent || process.ppid !== 1;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EPERM";
    }
  };
  const timer = setInterval(() => {
    if (alive()) return;
    log(`the process that started this kernel (pid ${parent}) is gone; exiting`);
    clearInterval(timer);
    process.kill(process.pid, "SIGKILL");
  }, 1000);
  timer.unref();
}

function sameMsg(a: Header | Record<string, never>, b: Header | Record<string, never>): boolean {
  return (a as Header).msg_id === (b as Header).msg_id;
}

main().catch((e) => {
  log(`protocol thread failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
