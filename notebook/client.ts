/**
 * A small Jupyter client for the grader: starts this checkout's kernel as a
 * child process (no kernelspec and no Python needed), runs one cell at a time
 * with a time limit, and turns the kernel's messages into nbformat outputs
 * (streams merged, display updates applied by display id, clear_output
 * honoured). A cell that runs past its limit is interrupted; a kernel that
 * does not answer the interrupt, or that died, is killed and reported, so the
 * caller can start a fresh one. Nothing here waits without a deadline.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomBytes, randomUUID } from "crypto";
import { spawn, ChildProcess } from "child_process";
import * as zmq from "zeromq";
import { ConnectionInfo, Header, Message, Signer, decode, encode, PROTOCOL_VERSION } from "../kernel/wire";
import { SandboxOptions, chownTree, planSandbox, treeRssMiB } from "./sandbox";

import type { NbOutput } from "./nbformat";
export type { NbOutput };

/** How a cell run ended. */
export interface CellRun {
  /** ok; error (the cell raised, or was interrupted after its time limit); dead (the kernel died or was killed). */
  status: "ok" | "error" | "dead";
  /** The outputs, as nbformat stores them. */
  outputs: NbOutput[];
  executionCount: number | null;
  /** The error's name and message, when status is not ok. */
  ename?: string;
  evalue?: string;
  /** True when the cell ran past its time limit. */
  timedOut: boolean;
  seconds: number;
}

export interface KernelClientOptions {
  /** Folder the kernel runs in (where the notebook is; relative paths in cells resolve from it). */
  cwd: string;
  /** Environment of the kernel (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** The kernel command (default: this checkout's `node bin/d2l-ts.js kernel`). */
  argv?: string[];
  /** Seconds to wait for the kernel to load tf and d2l (default 120). */
  startupTimeout?: number;
  /** Seconds an interrupted cell has to stop before the kernel is killed (default 10). */
  interruptGrace?: number;
  /** Where the kernel's own stderr goes (default: dropped). */
  onStderr?: (text: string) => void;
  /**
   * A check kernel (remote.ts): the kernel gets a pipe on fd 3 (D2L_CHECK_RPC_FD)
   * and each line it writes there is answered with the line this returns.
   */
  answerRemote?: (request: string) => Promise<string>;
  /**
   * Run the kernel confined (notebook/sandbox.ts): allow-listed environment, no
   * network, read-only files but the scratch, hidden paths, another user, a
   * memory limit on its whole process tree. Omitted: the kernel runs as the
   * grader does. What holds is in {@link KernelClient.sandboxNotes}.
   */
  sandbox?: SandboxOptions;
}

interface Pending {
  msgId: string;
  outputs: NbOutput[];
  executionCount: number | null;
  idle: boolean;
  reply: Record<string, unknown> | null;
  clearOnNext: boolean;
  wake: () => void;
}

/** A message field that should be an object, as one (a malformed field becomes {}). */
function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A kernel of our own on ipc sockets in a private folder: no ports to race for. */
export class KernelClient {
  private child: ChildProcess | null = null;
  private dir = "";
  private signer!: Signer;
  private shell!: zmq.Dealer;
  private control!: zmq.Dealer;
  private iopub!: zmq.Subscriber;
  private readonly session = randomUUID();
  private pending: Pending | null = null;
  /** display id → the outputs showing it (in any cell run so far). */
  private readonly displays = new Map<string, NbOutput[]>();
  private exited = false;
  private exitHow = "";
  private exitWaiters: (() => void)[] = [];
  private sawIopub = false;
  private stderrTail = "";
  // --- sandbox and memory watchdog (notebook/sandbox.ts) ---
  private notes: string[] = [];
  private watchdog: NodeJS.Timeout | null = null;
  /** Set when the kernel was killed or died for memory: the reason, for the report. */
  private oomReason = "";
  // --- end sandbox ---

  constructor(private readonly opts: KernelClientOptions) {}

  /** True while the kernel process runs. */
  get alive(): boolean {
    return this.child !== null && !this.exited;
  }

  /** The last lines the kernel wrote to stderr (for a report when it died). */
  get stderr(): string {
    return this.stderrTail.trim();
  }

  /** What the sandbox holds and what it could not do, one line each (empty without `sandbox`). */
  get sandboxNotes(): string[] {
    return [...this.notes];
  }

  /** Why the kernel ended ("exit code 0", "killed by SIGKILL", "out of memory: ..."), or "" while it runs. */
  get exitReason(): string {
    return this.exitHow;
  }

  /** Start the kernel and wait until it runs a cell (tf and d2l loaded). */
  async start(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "d2l-ts-grade-"));
    const key = randomBytes(32).toString("hex");
    const base = path.join(this.dir, "k");
    const conn: ConnectionInfo = {
      transport: "ipc",
      ip: base,
      key,
      signature_scheme: "hmac-sha256",
      shell_port: 1,
      iopub_port: 2,
      stdin_port: 3,
      control_port: 4,
      hb_port: 5,
    };
    const file = path.join(this.dir, "connection.json");
    fs.writeFileSync(file, JSON.stringify(conn));
    this.signer = new Signer(key, "hmac-sha256");
    const argv = this.opts.argv ?? [process.execPath, path.join(__dirname, "..", "..", "bin", "d2l-ts.js"), "kernel"];
    const kernelArgv = [...argv, "--connection-file", file];
    // JPY_PARENT_PID: the kernel ends itself if this grader is killed.
    let env: NodeJS.ProcessEnv = { ...(this.opts.env ?? process.env), JPY_PARENT_PID: String(process.pid) };
    let command = kernelArgv;
    // --- sandbox: wrap the kernel (unshare, setpriv) and give it its files ---
    const sb = this.opts.sandbox;
    let memoryMiB = 0;
    let heapMiB = 0;
    if (sb) {
      const plan = planSandbox(sb, kernelArgv, { cwd: this.opts.cwd, ipcDir: this.dir, baseEnv: this.opts.env ?? process.env });
      // In its own PID namespace the kernel cannot see the grader's pid; the wrappers' parent-death signal ends it instead.
      env = plan.env;
      command = plan.argv;
      this.notes = plan.notes;
      memoryMiB = plan.memoryMiB;
      heapMiB = plan.heapMiB;
      if (plan.uid !== null) {
        chownTree(this.dir, plan.uid);
        chownTree(sb.scratch, plan.uid);
      }
    }
    // --- end sandbox ---
    // A check kernel's pipe (remote.ts) on fd 3; it passes through the sandbox's wrappers, which keep open descriptors.
    if (this.opts.answerRemote) env = { ...env, D2L_CHECK_RPC_FD: "3" };
    this.child = spawn(command[0], command.slice(1), {
      cwd: this.opts.cwd,
      env,
      stdio: this.opts.answerRemote ? ["ignore", "ignore", "pipe", "pipe"] : ["ignore", "ignore", "pipe"],
      // Its own process group, so that killing it also ends what a student's cell started (execSync, servers).
      // The sandbox's wrappers exec into each other, so the group's leader is the kernel's first ancestor.
      detached: true,
    });
    if (memoryMiB > 0) this.startWatchdog(memoryMiB);
    process.on("exit", this.killGroup);
    if (this.opts.answerRemote) this.relayRemote(this.opts.answerRemote);
    this.child.stderr?.on("data", (d: Buffer) => {
      const s = d.toString("utf8");
      this.stderrTail = (this.stderrTail + s).slice(-4000);
      if (this.opts.sandbox && !this.oomReason && /JavaScript heap out of memory/.test(this.stderrTail)) {
        this.oomReason = `out of memory: the kernel's JavaScript heap reached its limit of ${heapMiB} MiB (the whole kernel may use ${memoryMiB} MiB)`;
      }
      this.opts.onStderr?.(s);
    });
    this.child.on("exit", (code, signal) => {
      this.exited = true;
      this.stopWatchdog();
      // In the sandbox, the kernel's parent (bash, PID 1 of its namespace) exits with 128 + the signal that killed it.
      if (this.opts.sandbox && !signal && code !== null && code > 128 && code < 160) {
        signal = (Object.entries(os.constants.signals).find(([, n]) => n === code - 128)?.[0] as NodeJS.Signals | undefined) ?? null;
      }
      this.exitHow = this.oomReason ? this.oomReason : signal ? `killed by ${signal}${signal === "SIGKILL" ? ", e.g. for running out of memory" : ""}` : `exit code ${code}`;
      for (const w of this.exitWaiters.splice(0)) w();
      this.pending?.wake();
    });
    const url = (port: number): string => `ipc://${base}-${port}`;
    this.shell = new zmq.Dealer({ linger: 0, routingId: `grader-${this.session}` });
    this.control = new zmq.Dealer({ linger: 0 });
    this.iopub = new zmq.Subscriber({ linger: 0 });
    this.iopub.subscribe();
    this.shell.connect(url(conn.shell_port));
    this.control.connect(url(conn.control_port));
    this.iopub.connect(url(conn.iopub_port));
    void this.listenIopub();
    void this.listenReplies(this.shell);
    void this.listenReplies(this.control);

    const deadline = Date.now() + (this.opts.startupTimeout ?? 120) * 1000;
    // The subscription may not be through yet: ask for kernel_info until iopub speaks.
    while (!this.sawIopub) {
      if (this.exited) throw new Error(`the kernel exited while starting:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`the kernel did not answer within ${this.opts.startupTimeout ?? 120} s`);
      this.request(this.shell, "kernel_info_request", {});
      await sleep(200);
    }
    // Then wait until a cell runs: that is when the prelude (tf, d2l) has loaded.
    const first = await this.execute("", Math.max(1, (deadline - Date.now()) / 1000), false);
    if (first.status !== "ok") throw new Error(`the kernel could not run an empty cell: ${first.ename}: ${first.evalue}\n${this.stderr}`);
  }

  private request(sock: zmq.Dealer, msgType: string, content: Record<string, unknown>, metadata: Record<string, unknown> = {}): string {
    const header: Header = {
      msg_id: randomUUID(),
      session: this.session,
      username: "d2l-ts-grade",
      date: new Date().toISOString(),
      msg_type: msgType,
      version: PROTOCOL_VERSION,
    };
    const frames = encode(this.signer, [], header, {}, metadata, content);
    sock.send(frames).catch(() => undefined);
    return header.msg_id;
  }

  private async listenReplies(sock: zmq.Dealer): Promise<void> {
    try {
      for await (const frames of sock) {
        let msg: Message;
        try {
          msg = decode(frames as Buffer[], this.signer);
        } catch {
          continue;
        }
        const parent = (msg.parent_header as Header).msg_id;
        const p = this.pending;
        if (p && parent === p.msgId && msg.header.msg_type === "execute_reply") {
          p.reply = msg.content;
          p.wake();
        }
      }
    } catch {
      // socket closed
    }
  }

  private async listenIopub(): Promise<void> {
    try {
      for await (const frames of this.iopub) {
        let msg: Message;
        try {
          msg = decode(frames as Buffer[], this.signer);
        } catch {
          continue;
        }
        this.sawIopub = true;
        this.onIopub(msg);
      }
    } catch {
      // socket closed
    }
  }

  private onIopub(msg: Message): void {
    const c = msg.content;
    const type = msg.header.msg_type;
    // Display updates may target an output of an earlier cell.
    if (type === "update_display_data") {
      const id = (c.transient as { display_id?: string } | undefined)?.display_id;
      for (const out of (id && this.displays.get(id)) || []) {
        out.data = asRecord(c.data);
        out.metadata = asRecord(c.metadata);
      }
      return;
    }
    const p = this.pending;
    if (!p || (msg.parent_header as Header).msg_id !== p.msgId) return;
    const add = (out: NbOutput): void => {
      if (p.clearOnNext) this.clear(p);
      const last = p.outputs[p.outputs.length - 1];
      if (out.output_type === "stream" && last?.output_type === "stream" && last.name === out.name) {
        last.text = String(last.text) + String(out.text);
        return;
      }
      p.outputs.push(out);
    };
    switch (type) {
      case "status":
        if (c.execution_state === "idle") {
          p.idle = true;
          p.wake();
        }
        break;
      case "execute_input":
        if (typeof c.execution_count === "number") p.executionCount = c.execution_count;
        break;
      case "stream":
        add({ output_type: "stream", name: String(c.name), text: String(c.text) });
        break;
      case "display_data": {
        const out: NbOutput = { output_type: "display_data", data: asRecord(c.data), metadata: asRecord(c.metadata) };
        add(out);
        const id = (c.transient as { display_id?: string } | undefined)?.display_id;
        if (id) this.displays.set(id, [...(this.displays.get(id) ?? []), out]);
        break;
      }
      case "execute_result":
        add({
          output_type: "execute_result",
          execution_count: typeof c.execution_count === "number" ? c.execution_count : null,
          data: asRecord(c.data),
          metadata: asRecord(c.metadata),
        });
        break;
      case "error":
        add({ output_type: "error", ename: String(c.ename), evalue: String(c.evalue), traceback: (c.traceback as string[]) ?? [] });
        break;
      case "clear_output":
        if (c.wait === true) p.clearOnNext = true;
        else this.clear(p);
        break;
      default:
        break;
    }
  }

  private clear(p: Pending): void {
    p.clearOnNext = false;
    const gone = new Set(p.outputs);
    for (const [id, outs] of this.displays)
      this.displays.set(
        id,
        outs.filter((o) => !gone.has(o)),
      );
    p.outputs.length = 0;
  }

  /**
   * Run `code` and wait until the kernel is idle again, at most `timeout`
   * seconds; then interrupt it, and kill it if it does not stop within the
   * grace period. Never throws for what the cell does.
   */
  async execute(code: string, timeout: number, storeHistory = true, extra: { metadata?: Record<string, unknown>; silent?: boolean } = {}): Promise<CellRun> {
    const t0 = Date.now();
    const seconds = (): number => Math.round((Date.now() - t0) / 100) / 10;
    if (!this.alive) {
      return { status: "dead", outputs: [], executionCount: null, ename: "KernelDied", evalue: "the kernel is not running", timedOut: false, seconds: 0 };
    }
    let wake: () => void = () => undefined;
    const p: Pending = {
      msgId: "",
      outputs: [],
      executionCount: null,
      idle: false,
      reply: null,
      clearOnNext: false,
      wake: () => wake(),
    };
    this.pending = p;
    p.msgId = this.request(
      this.shell,
      "execute_request",
      {
        code,
        silent: extra.silent === true,
        store_history: storeHistory,
        user_expressions: {},
        allow_stdin: false,
        stop_on_error: false,
      },
      extra.metadata,
    );
    const done = (): boolean => (p.idle && p.reply !== null) || this.exited;
    const waitUntil = async (deadline: number): Promise<void> => {
      while (!done() && Date.now() < deadline) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, Math.min(250, Math.max(1, deadline - Date.now())));
        });
      }
    };
    await waitUntil(t0 + timeout * 1000);
    let timedOut = false;
    if (!done()) {
      timedOut = true;
      this.request(this.control, "interrupt_request", {});
      await waitUntil(Date.now() + (this.opts.interruptGrace ?? 10) * 1000);
      if (!done()) await this.kill();
    }
    this.pending = null;
    const base = { outputs: p.outputs, executionCount: p.executionCount, timedOut, seconds: seconds() };
    if (this.exited || p.reply === null) {
      const why = timedOut
        ? `the cell ran past its ${timeout} s limit and did not stop when interrupted; the kernel was killed`
        : `the kernel died while running this cell (${this.exitHow || "it stopped answering"})`;
      if (this.oomReason && !timedOut) return { ...base, status: "dead", ename: "OutOfMemory", evalue: this.oomReason };
      return { ...base, status: "dead", ename: timedOut ? "Timeout" : "KernelDied", evalue: why };
    }
    const r = p.reply;
    if (timedOut) {
      return { ...base, status: "error", ename: "Timeout", evalue: `the cell ran past its ${timeout} s limit and was interrupted` };
    }
    if (r.status === "ok") return { ...base, status: "ok" };
    return { ...base, status: "error", ename: String(r.ename ?? "Error"), evalue: String(r.evalue ?? r.status) };
  }

  /** Ask the kernel to stop the running cell, as a front end's interrupt button does (the cell ends with an error). */
  interrupt(): void {
    if (this.alive) this.request(this.control, "interrupt_request", {});
  }

  /** Answer the check kernel's requests on fd 3, one at a time, in order (it waits for each answer). */
  private relayRemote(answer: (request: string) => Promise<string>): void {
    const pipe = this.child?.stdio[3] as import("net").Socket | undefined;
    if (!pipe) return;
    let buffered = "";
    let chain = Promise.resolve();
    pipe.setEncoding("utf8");
    pipe.on("error", () => undefined);
    pipe.on("data", (text: string) => {
      buffered += text;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        chain = chain.then(async () => {
          const reply = await answer(line);
          if (!pipe.destroyed) pipe.write(reply.replace(/\n/g, " ") + "\n");
        });
      }
    });
  }

  // --- memory watchdog (sandbox only) ---
  /** Every 250 ms, sum the RSS of the kernel's process tree; above the limit, kill the group and keep the reason. */
  private startWatchdog(limitMiB: number): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    this.watchdog = setInterval(() => {
      if (this.exited) return this.stopWatchdog();
      const used = treeRssMiB(pid);
      if (used <= limitMiB) return;
      this.oomReason = `out of memory: the kernel used ${Math.round(used)} MiB, the limit is ${limitMiB} MiB`;
      this.stopWatchdog();
      this.killGroup();
    }, 250);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }
  // --- end memory watchdog ---

  /** SIGKILL to the kernel's process group (the kernel and whatever its cells started). */
  private readonly killGroup = (): void => {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // the group is gone already
    }
  };

  private async kill(): Promise<void> {
    if (!this.child || this.exited) return;
    const gone = new Promise<void>((r) => this.exitWaiters.push(r));
    this.killGroup();
    await Promise.race([gone, sleep(5000)]);
  }

  /** Ask the kernel to shut down, kill it if it does not within 3 s, and close the sockets. */
  async shutdown(): Promise<void> {
    if (this.child && !this.exited) {
      const gone = new Promise<void>((r) => this.exitWaiters.push(r));
      this.request(this.control, "shutdown_request", { restart: false });
      await Promise.race([gone, sleep(3000)]);
      await this.kill();
    }
    this.killGroup();
    this.stopWatchdog();
    process.removeListener("exit", this.killGroup);
    for (const s of [this.shell, this.control, this.iopub]) {
      try {
        s?.close();
      } catch {
        // already closed
      }
    }
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
