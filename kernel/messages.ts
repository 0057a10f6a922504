/**
 * What each request's content must hold (Jupyter messaging protocol 5.3),
 * checked before the kernel acts on it. A malformed request is answered with
 * an error reply that names the field, never half-handled: a `code` that is
 * not a string, say, once left the kernel busy with no reply.
 */

/** A request the kernel refuses: `ename` and `evalue` go into the error reply as they are. */
export interface RequestProblem {
  ename: string;
  evalue: string;
}

type Check = (content: Record<string, unknown>) => string | null;

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `a string`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Field checkers: each returns the problem with one field, or null. Optional fields may be absent or
 * null (Python clients send None for them: jupyter_kernel_test's comm_info_request has target_name None).
 */
const absent = (v: unknown): boolean => v === undefined || v === null;
const str =
  (field: string, optional = false): Check =>
  (c) =>
    (optional && absent(c[field])) || typeof c[field] === "string" ? null : `${field} must be a string, got ${kind(c[field])}`;
const bool =
  (field: string): Check =>
  (c) =>
    c[field] === undefined || typeof c[field] === "boolean" ? null : `${field} must be true or false, got ${kind(c[field])}`;
/** An integer; `nullable` also takes null (history's n, stop and session may be null). */
const int =
  (field: string, opts: { optional?: boolean; nullable?: boolean; min?: number } = {}): Check =>
  (c) => {
    const v = c[field];
    if (v === undefined && opts.optional) return null;
    if (v === null && opts.nullable) return null;
    if (typeof v !== "number" || !Number.isSafeInteger(v)) return `${field} must be an integer, got ${kind(v)}`;
    if (opts.min !== undefined && v < opts.min) return `${field} must be at least ${opts.min}, got ${v}`;
    return null;
  };
const obj =
  (field: string, optional = false): Check =>
  (c) =>
    (optional && absent(c[field])) || isObject(c[field]) ? null : `${field} must be an object, got ${kind(c[field])}`;
const oneOf =
  (field: string, values: readonly string[], optional = false): Check =>
  (c) => {
    const v = c[field];
    if (optional && absent(v)) return null;
    return typeof v === "string" && values.includes(v) ? null : `${field} must be one of ${values.join(", ")}, got ${kind(v)}`;
  };
/** cursor_pos: an integer from 0 to the code's length in unicode code points. */
const cursor: Check = (c) => {
  const bad = int("cursor_pos", { min: 0 })(c);
  if (bad) return bad;
  const length = [...(c.code as string)].length;
  return (c.cursor_pos as number) <= length ? null : `cursor_pos must be from 0 to the code's length (${length} code points), got ${String(c.cursor_pos)}`;
};
const userExpressions: Check = (c) => {
  const ue = c.user_expressions;
  if (ue === undefined) return null;
  if (!isObject(ue)) return `user_expressions must be an object of name: expression strings, got ${kind(ue)}`;
  for (const [name, expr] of Object.entries(ue)) {
    if (typeof expr !== "string") return `user_expressions[${JSON.stringify(name)}] must be a string of code, got ${kind(expr)}`;
  }
  return null;
};

/** The checks of each message type the kernel takes on shell or control (in order: the first problem is reported). */
const REQUESTS: Record<string, Check[]> = {
  execute_request: [str("code"), bool("silent"), bool("store_history"), userExpressions, bool("allow_stdin"), bool("stop_on_error")],
  inspect_request: [
    str("code"),
    cursor,
    (c) => (c.detail_level === undefined || c.detail_level === 0 || c.detail_level === 1 ? null : `detail_level must be 0 or 1, got ${kind(c.detail_level)}`),
  ],
  complete_request: [str("code"), cursor],
  history_request: [
    oneOf("hist_access_type", ["tail", "range", "search"]),
    bool("output"),
    bool("raw"),
    int("session", { optional: true, nullable: true }),
    int("start", { optional: true, nullable: true }),
    int("stop", { optional: true, nullable: true }),
    int("n", { optional: true, nullable: true }),
    str("pattern", true),
    bool("unique"),
  ],
  is_complete_request: [str("code")],
  comm_info_request: [str("target_name", true)],
  kernel_info_request: [],
  shutdown_request: [bool("restart")],
  interrupt_request: [],
  comm_open: [str("comm_id"), str("target_name"), obj("data", true)],
  comm_msg: [str("comm_id"), obj("data", true)],
  comm_close: [str("comm_id"), obj("data", true)],
  input_reply: [str("value")],
};

/**
 * Check a request's content against the messaging spec. Returns null when the
 * kernel may handle it, or the problem to answer with: ename
 * `InvalidRequest` and an evalue that starts with the field at fault, or
 * `UnknownMessageType` for a type this kernel does not take (`debug_request`
 * among them: kernel_info says `debugger: false`). Extra fields are allowed,
 * as the spec asks.
 *
 * @example
 * checkRequest("execute_request", { code: 5 });
 * // { ename: "InvalidRequest", evalue: "code must be a string, got number 5 (execute_request; see ...)" }
 * checkRequest("is_complete_request", { code: "1 +" }); // null
 */
export function checkRequest(msgType: string, content: Record<string, unknown>): RequestProblem | null {
  const checks = REQUESTS[msgType];
  if (!checks) {
    return {
      ename: "UnknownMessageType",
      evalue: `${JSON.stringify(msgType)} is not a message type this kernel handles; it takes ${Object.keys(REQUESTS).join(", ")}`,
    };
  }
  for (const check of checks) {
    const problem = check(content);
    if (problem) {
      return {
        ename: "InvalidRequest",
        evalue: `${problem} (${msgType}; see https://jupyter-client.readthedocs.io/en/latest/messaging.html for its fields)`,
      };
    }
  }
  return null;
}

/**
 * The reply type for a request type (`execute_request` → `execute_reply`),
 * or null for a message that gets no reply (comm messages, replies, anything
 * not named `*_request`).
 *
 * @example
 * replyType("history_request"); // "history_reply"
 * replyType("comm_msg"); // null
 */
export function replyType(msgType: string): string | null {
  return /^[a-z_]+_request$/.test(msgType) ? msgType.replace(/_request$/, "_reply") : null;
}
