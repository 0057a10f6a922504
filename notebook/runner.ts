/**
 * The one way the tools execute a notebook: the d2l-ts kernel driven by
 * {@link KernelClient} (no Python in between), cell by cell, in the
 * notebook's folder. `d2l-ts run`, `d2l-ts export --execute` and the
 * grader's kernels all go through KernelClient.
 */
import { KernelClient, type CellRun } from "./client";
import { type NbCell, type Notebook, sourceOf } from "./nbformat";

/** How {@link runNotebook} runs. */
export interface RunOptions {
  /** The kernel's working folder: the notebook's, so relative paths in cells resolve as in Jupyter. */
  cwd: string;
  /** Seconds each cell may run; past it the cell is interrupted (and the kernel killed if it does not stop). */
  timeout: number;
  /** Go on after a cell fails (its error is kept in its outputs). Default false: stop at the first failure. */
  allowErrors?: boolean;
  /** Environment of the kernel (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Progress, one line per cell. */
  log?: (line: string) => void;
  /** Aborting it interrupts the running cell and ends the run there (Ctrl-C in `d2l-ts run`). */
  signal?: AbortSignal;
  /** Seconds to wait for the kernel to start (default KernelClient's). */
  startupTimeout?: number;
}

/** Where a run stopped early, or the first cell that failed when errors were allowed. */
export interface RunFailure {
  /** 0-based index of the cell in the notebook. */
  index: number;
  ename: string;
  evalue: string;
  /** The kernel died (or was killed after a time-out) rather than the cell raising. */
  kernelDied: boolean;
}

/** What {@link runNotebook} gives back. */
export interface RunResult {
  /** A copy of the notebook with the outputs and execution counts of every cell that ran. */
  notebook: Notebook;
  /** The first cell that failed, or null. */
  failed: RunFailure | null;
  /** True when the run was stopped through `signal`. */
  interrupted: boolean;
  /** Code cells run. */
  cellsRun: number;
  seconds: number;
}

/**
 * Execute every code cell of `nb` in a fresh d2l-ts kernel, in order, and
 * return a copy with the outputs filled in. Cells that did not run (after a
 * failure or an interrupt) keep no outputs. The kernel is shut down at the
 * end whatever happens.
 *
 * @example
 * const nb = readNotebook("week1.ipynb");
 * const r = await runNotebook(nb, { cwd: ".", timeout: 600 });
 * if (r.failed) console.error(`cell ${r.failed.index + 1}: ${r.failed.ename}: ${r.failed.evalue}`);
 * writeNotebook("week1.out.ipynb", r.notebook);
 */
export async function runNotebook(nb: Notebook, opts: RunOptions): Promise<RunResult> {
  const t0 = Date.now();
  const out = structuredClone(nb);
  for (const c of out.cells) if (c.cell_type === "code") clearOutputs(c);
  const client = new KernelClient({ cwd: opts.cwd, env: opts.env, startupTimeout: opts.startupTimeout });
  let failed: RunFailure | null = null;
  let interrupted = false;
  let cellsRun = 0;
  const onAbort = (): void => {
    interrupted = true;
    client.interrupt();
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (opts.signal?.aborted) interrupted = true;
    else await client.start();
    const code = out.cells.map((c, i) => ({ c, i })).filter(({ c }) => c.cell_type === "code");
    for (const { c, i } of code) {
      if (interrupted) break;
      const source = sourceOf(c);
      if (source.trim() === "") continue;
      opts.log?.(`cell ${i + 1} of ${out.cells.length}`);
      const run: CellRun = await client.execute(source, opts.timeout);
      cellsRun++;
      c.outputs = run.outputs;
      c.execution_count = run.executionCount;
      if (run.status === "ok") continue;
      failed ??= { index: i, ename: run.ename ?? "Error", evalue: run.evalue ?? "", kernelDied: run.status === "dead" };
      if (!opts.allowErrors || run.status === "dead" || interrupted) break;
    }
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await client.shutdown();
  }
  return { notebook: out, failed, interrupted, cellsRun, seconds: (Date.now() - t0) / 1000 };
}

function clearOutputs(c: NbCell): void {
  c.outputs = [];
  c.execution_count = null;
}
