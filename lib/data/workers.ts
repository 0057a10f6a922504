/**
 * The worker threads behind a {@link DataLoader}'s `numWorkers` (PyTorch's
 * `num_workers`): each runs the loader's `preprocess` over whole batches
 * and sends back typed arrays; the main thread reads the raw examples
 * (`dataset.get(i)`), sends them, and makes the tensors. Batches are handed
 * out round robin, `prefetchFactor` per worker ahead, and come back in
 * order. The workers live for one epoch: they end when the epoch's loop
 * ends, breaks, throws or is interrupted.
 */
import * as path from "path";
import { Worker } from "worker_threads";
import type { BatchResult, BatchTask } from "./preprocess";
import type { WorkerInit, WorkerReply } from "./preprocessWorker";

interface Pending {
  resolve: (r: BatchResult) => void;
  reject: (e: Error) => void;
  worker: number;
}

/** Threads running one loader's preprocess. */
export class PreprocessPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy: number[];
  /** Why worker i stopped, once it has. */
  private readonly dead: (Error | undefined)[] = [];
  private nextId = 0;
  private closed = false;

  constructor(numWorkers: number, init: WorkerInit) {
    this.busy = new Array<number>(numWorkers).fill(0);
    alive += numWorkers;
    const file = path.join(__dirname, "preprocessWorker.js");
    for (let i = 0; i < numWorkers; i++) {
      const w = new Worker(file, { workerData: init, stdout: false, stderr: false });
      // Idle workers never keep the process alive; one with work does (see run).
      w.unref();
      w.on("message", (reply: WorkerReply) => this.onReply(i, reply));
      w.on("error", (e) => this.fail(i, e));
      w.on("exit", (code) => {
        if (!this.closed) this.fail(i, new Error(`worker ${i + 1} stopped (exit code ${code})`));
      });
      this.workers.push(w);
    }
  }

  /** Number of threads. */
  get size(): number {
    return this.workers.length;
  }

  private onReply(i: number, reply: WorkerReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (--this.busy[i] === 0) this.workers[i].unref();
    if (reply.ok) p.resolve(reply.result);
    else {
      const err = new Error(`${reply.message} (in worker ${i + 1} of ${this.workers.length})`);
      if (reply.stack) err.stack = `${err.name}: ${err.message}\n    in the worker: ${reply.stack}`;
      p.reject(err);
    }
  }

  private fail(i: number, e: Error): void {
    this.dead[i] ??= e;
    for (const [id, p] of this.pending) {
      if (p.worker !== i) continue;
      this.pending.delete(id);
      p.reject(new Error(`DataLoader: preprocessing worker ${i + 1} failed: ${e.message}`));
    }
  }

  /** Preprocess one batch on worker `i`. */
  run(i: number, task: BatchTask): Promise<BatchResult> {
    if (this.closed) return Promise.reject(new Error("DataLoader: the preprocessing workers were stopped"));
    const dead = this.dead[i];
    if (dead) return Promise.reject(new Error(`DataLoader: preprocessing worker ${i + 1} failed: ${dead.message}`));
    const id = this.nextId++;
    const w = this.workers[i];
    return new Promise<BatchResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: i });
      if (this.busy[i]++ === 0) w.ref();
      try {
        w.postMessage({ id, task }, task.buffer ? [task.buffer] : []);
      } catch (e) {
        this.pending.delete(id);
        if (--this.busy[i] === 0) w.unref();
        reject(
          new Error(
            `DataLoader: cannot send the examples to a worker (${(e as Error).message}); dataset.get(i) must return numbers, arrays, typed arrays, { data, shape } or tensors`,
          ),
        );
      }
    });
  }

  /** Stop every thread (pending batches are rejected). */
  /** Whether {@link close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    alive -= this.workers.length;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new Error("DataLoader: the preprocessing workers were stopped"));
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Workers alive now, over all loaders (for tests: 0 once every epoch has ended). */
let alive = 0;

/** Number of preprocessing worker threads running now, over all loaders. @internal */
export function preprocessWorkersAlive(): number {
  return alive;
}

/**
 * One epoch's batches, preprocessed by the threads of `pool`, in order.
 * `makeTask(b)` reads batch b's raw examples (on this thread); its errors
 * surface when batch b is due, as do the workers'. When the loop ends,
 * `release(pool, completed)` is awaited (`completed`: every batch was read).
 */
export async function* pooledBatches(
  pool: PreprocessPool,
  release: (pool: PreprocessPool, completed: boolean) => Promise<void>,
  numBatches: number,
  prefetchFactor: number,
  makeTask: (b: number) => BatchTask,
): AsyncGenerator<BatchResult, void, undefined> {
  const inflight: Promise<BatchResult>[] = [];
  let sent = 0;
  let completed = false;
  const send = (): void => {
    const b = sent++;
    let p: Promise<BatchResult>;
    try {
      p = pool.run(b % pool.size, makeTask(b));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.catch(() => undefined); // handled when its turn comes (or never, if the loop stops first)
    inflight.push(p);
  };
  try {
    const ahead = Math.max(1, prefetchFactor) * pool.size;
    while (sent < numBatches && inflight.length < ahead) send();
    for (let b = 0; b < numBatches; b++) {
      const r = await (inflight.shift() as Promise<BatchResult>);
      if (sent < numBatches) send();
      if (b === numBatches - 1) completed = true;
      yield r;
    }
    completed = true;
  } finally {
    await release(pool, completed);
  }
}
