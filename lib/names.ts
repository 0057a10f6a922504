/**
 * The names `lib/` shares with the kernel and the notebook tools: mime types
 * and notebook metadata keys. This module loads nothing (no tfjs), so the
 * command-line tools import it without starting a backend; there is one copy
 * of each name, here.
 */

/**
 * The mime type of a check's machine-readable result (`d2l.check`), which
 * `d2l-ts grade` collects from the executed notebook.
 *
 * @example
 * const r = output.data[CHECK_MIME] as d2l.CheckResult;
 */
export const CHECK_MIME = "application/vnd.d2l-ts.check+json";

/**
 * The mime type of the student's kernel's answers to the check kernel's
 * requests while grading (kernel/remote.ts).
 *
 * @example
 * show({ data: { [RPC_MIME]: reply, "text/plain": "(an answer for the grader)" }, metadata: {} });
 */
export const RPC_MIME = "application/vnd.d2l-ts.rpc+json";

/**
 * The key under which d2l records what a report needs in an output's
 * metadata: `{ "d2l-ts": { environment, summary? } }` (`d2l.recordEnvironment`,
 * the `trainCh*` summaries; read by `d2l-ts export`).
 *
 * @example
 * const record = output.metadata?.[REPORT_METADATA_KEY];
 */
export const REPORT_METADATA_KEY = "d2l-ts";
