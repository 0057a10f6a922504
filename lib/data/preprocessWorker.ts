/**
 * The entry of a {@link DataLoader}'s preprocessing worker thread
 * (`numWorkers`): compile the loader's `preprocess` from its source, then
 * for each batch the main thread sends (raw examples), run it and send back
 * two stacked typed arrays (transferred, not copied). No tfjs here: the main
 * thread makes the tensors.
 */
import { parentPort, workerData } from "worker_threads";
import { compilePreprocess, processBatch, type BatchTask, type PreprocessFn } from "./preprocess";

/** What the main thread sends to start the worker (`workerData`). */
export interface WorkerInit {
  source: string;
  args: unknown;
}

/** A batch to preprocess. */
export interface WorkerRequest {
  id: number;
  task: BatchTask;
}

/** The answer: the batch's result, or the error as text. */
export type WorkerReply = { id: number; ok: true; result: ReturnType<typeof processBatch> } | { id: number; ok: false; message: string; stack?: string };

if (parentPort) {
  const port = parentPort;
  const init = workerData as WorkerInit;
  let fn: PreprocessFn | undefined;
  let compileError: Error | undefined;
  try {
    fn = compilePreprocess(init.source);
  } catch (e) {
    compileError = e as Error;
  }
  port.on("message", (req: WorkerRequest) => {
    let reply: WorkerReply;
    const transfer: ArrayBuffer[] = [];
    try {
      if (compileError) throw compileError;
      const result = processBatch(fn as PreprocessFn, init.args, req.task);
      if (result.x) transfer.push(result.x.data.buffer as ArrayBuffer, result.y.data.buffer as ArrayBuffer);
      reply = { id: req.id, ok: true, result };
    } catch (e) {
      reply = { id: req.id, ok: false, message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined };
    }
    try {
      port.postMessage(reply, transfer);
    } catch (e) {
      // a result that cannot be cloned (a function, a class instance with methods, ...)
      port.postMessage({
        id: req.id,
        ok: false,
        message: `DataLoader: preprocess returned values that cannot be sent back from a worker (${(e as Error).message}); return numbers, arrays, typed arrays or { data, shape }`,
      });
    }
  });
}
