import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { checkRequest, replyType } from "../../kernel/messages";

/** The problem's evalue, asserting it is an InvalidRequest. */
function invalid(msgType: string, content: Record<string, unknown>): string {
  const p = checkRequest(msgType, content);
  assert.ok(p, `${msgType} ${JSON.stringify(content)} passed`);
  assert.equal(p.ename, "InvalidRequest");
  assert.ok(p.evalue.includes(msgType), "the evalue names the message type");
  return p.evalue;
}

describe("checkRequest", () => {
  test("well-formed requests of every type pass, with extra fields allowed", () => {
    const ok: [string, Record<string, unknown>][] = [
      ["execute_request", { code: "1", silent: false, store_history: true, user_expressions: { a: "1" }, allow_stdin: true, stop_on_error: true }],
      ["execute_request", { code: "", extra: [1, 2] }],
      ["inspect_request", { code: "Math.max", cursor_pos: 8, detail_level: 1 }],
      ["complete_request", { code: "a😀b", cursor_pos: 3 }],
      ["history_request", { hist_access_type: "tail", n: 10, output: false, raw: true }],
      ["history_request", { hist_access_type: "search", pattern: "*x*", n: null, unique: true }],
      ["history_request", { hist_access_type: "range", session: 0, start: 1, stop: null }],
      ["is_complete_request", { code: "if (x) {" }],
      ["comm_info_request", {}],
      ["comm_info_request", { target_name: "jupyter.widget" }],
      ["comm_info_request", { target_name: null }], // what jupyter_kernel_test and other Python clients send for "all"
      ["comm_close", { comm_id: "c1", data: null }],
      ["kernel_info_request", {}],
      ["shutdown_request", { restart: true }],
      ["interrupt_request", {}],
      ["comm_open", { comm_id: "c1", target_name: "t", data: {} }],
      ["comm_msg", { comm_id: "c1", data: { x: 1 } }],
      ["comm_close", { comm_id: "c1" }],
      ["input_reply", { value: "" }],
    ];
    for (const [t, c] of ok) assert.equal(checkRequest(t, c), null, `${t} ${JSON.stringify(c)}`);
  });

  test("a field of the wrong type is named, with what was expected and what came", () => {
    assert.match(invalid("execute_request", { code: 5 }), /^code must be a string, got number 5 /);
    assert.match(invalid("execute_request", {}), /^code must be a string, got undefined/);
    assert.match(invalid("execute_request", { code: "1", silent: "yes" }), /^silent must be true or false, got a string/);
    assert.match(invalid("execute_request", { code: "1", user_expressions: [] }), /^user_expressions must be an object/);
    assert.match(invalid("execute_request", { code: "1", user_expressions: { x: { y: 1 } } }), /^user_expressions\["x"\] must be a string of code, got an object/);
    assert.match(invalid("history_request", { hist_access_type: "??" }), /^hist_access_type must be one of tail, range, search/);
    assert.match(invalid("history_request", { hist_access_type: "tail", n: "a" }), /^n must be an integer/);
    assert.match(invalid("history_request", { hist_access_type: "search", pattern: 5 }), /^pattern must be a string/);
    assert.match(invalid("is_complete_request", { code: null }), /^code must be a string, got null/);
    assert.match(invalid("shutdown_request", { restart: 1 }), /^restart must be true or false/);
    assert.match(invalid("comm_msg", { comm_id: 5 }), /^comm_id must be a string/);
    assert.match(invalid("comm_open", { comm_id: "a", target_name: "t", data: [] }), /^data must be an object/);
    assert.match(invalid("input_reply", { value: { x: 1 } }), /^value must be a string, got an object/);
  });

  test("cursor_pos must be an integer within the code, counted in code points", () => {
    assert.match(invalid("complete_request", { code: "x", cursor_pos: 1.5 }), /^cursor_pos must be an integer/);
    assert.match(invalid("complete_request", { code: "x", cursor_pos: -1 }), /^cursor_pos must be at least 0/);
    assert.match(invalid("inspect_request", { code: "a😀", cursor_pos: 3 }), /^cursor_pos must be from 0 to the code's length \(2 code points\), got 3/);
    assert.match(invalid("inspect_request", { code: "x", cursor_pos: 0, detail_level: 2 }), /^detail_level must be 0 or 1/);
  });

  test("a type the kernel does not take is UnknownMessageType, listing what it takes", () => {
    for (const t of ["debug_request", "nonsense_request", "", "execute_reply"]) {
      const p = checkRequest(t, {});
      assert.equal(p?.ename, "UnknownMessageType", t);
      assert.match(p?.evalue ?? "", /it takes execute_request, inspect_request/);
    }
  });
});

describe("replyType", () => {
  test("requests have replies; comm messages and others do not", () => {
    assert.equal(replyType("execute_request"), "execute_reply");
    assert.equal(replyType("nonsense_request"), "nonsense_reply");
    assert.equal(replyType("comm_msg"), null);
    assert.equal(replyType("execute_reply"), null);
    assert.equal(replyType(""), null);
    assert.equal(replyType("x\n_request"), null);
  });
});
