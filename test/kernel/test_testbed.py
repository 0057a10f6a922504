"""kernel-testbed, reproduced in Python, against the d2l-ts kernel.

This follows runtimed/kernel-testbed at commit 4927118 (its 27 tests in
`all_tests()` order, four tiers) with the message types of jupyter-protocol
1.4.0 (runtimed/runtimed @ 4de02f8), which that commit pins. The suite is a
Rust binary that cannot be built offline here (its crates are not in Debian),
so this harness does what it does, with pyzmq:

- the launch: a connection file (tcp, 127.0.0.1, hmac-sha256, a uuid key),
  the kernelspec's argv, stdout piped and never read, stderr to /dev/null,
  a 2 s sleep, then shell and stdin DEALERs sharing one identity, IOPub SUB
  subscribed to "" before it connects, control DEALER, heartbeat REQ;
- the iopub_welcome check: exactly one IOPub message read within 500 ms;
- kernel_info: 3 attempts, 2 s apart; a reply that does not parse is a
  startup failure and no test runs;
- strict parsing of every message read on any channel: the signature, the
  header's required fields, and the content of every known message type
  against the serde types of jupyter-protocol (see VALIDATORS). A message
  that would not parse ends the test that read it with a protocol error,
  even when it belongs to another request, as in the suite;
- the suite's TypeScript (Deno) snippets, chosen as the suite chooses them
  by language_info.name ("typescript");
- its per-test timeout (10 s, covering the first cell's warm-up), and its
  results: PASS, PART (PartialPass, 0.5), SKIP (Unsupported), FAIL, TIME.

It prints the suite's score table and `Total: N/27`, and asserts that all
27 pass outright (a PART counts as passed in the suite's total but is only
half a point in the weighted score; the issue asks for 27 of 27).

The kernelspec is found through jupyter_client (JUPYTER_PATH as the other
suites use it; the Rust suite reads JUPYTER_PATH as one directory).
"""
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from datetime import datetime, timezone

import zmq
from jupyter_client.kernelspec import KernelSpecManager

from helpers import KernelTestCase, collect, drain, execute, result_text

KERNEL = "d2l-ts"
SUITE_COMMIT = "4927118"
TIMEOUT = float(os.environ.get("D2L_TESTBED_TIMEOUT_MS", "10000")) / 1000.0
DELIM = b"<IDS|MSG>"

# snippets/snippets.json, "typescript" (the Deno set), used by the tests below.
SNIPPETS = {
    "print_hello": "console.log('hello')",
    "print_stderr": "console.error('error')",
    "simple_expr": "1 + 1",
    "simple_expr_result": "2",
    "completion_var": "testVariableForCompletion",
    "completion_setup": "const testVariableForCompletion = 42",
    "complete_code": "const x = 1",
    "incomplete_code": "const x = {",
    "syntax_error": "function function",
    "input_prompt": "prompt('Enter: ')",
    "sleep_code": "await new Promise(r => setTimeout(r, 2000))",
    "display_data_code": 'await Deno.jupyter.broadcast("display_data", { data: { "text/html": "<b>bold</b>" }, metadata: {}, transient: {} })',
    "update_display_data_code": (
        'await Deno.jupyter.broadcast("display_data", { data: { "text/html": "<b>initial</b>" }, metadata: {}, '
        'transient: { display_id: "test_update" } }); await Deno.jupyter.broadcast("update_display_data", '
        '{ data: { "text/html": "<b>updated</b>" }, metadata: {}, transient: { display_id: "test_update" } })'
    ),
    "rich_output_code": '[{letter: "A", frequency: 0.08167}, {letter: "B", frequency: 0.01492}]',
}


class ProtocolError(Exception):
    """A message that jupyter-protocol would not parse."""


class TestTimeout(Exception):
    pass


# ---------------------------------------------------------------- strict types

def _req(c, key, check, what):
    if key not in c:
        raise ProtocolError(f"missing field `{key}`")
    if not check(c[key]):
        raise ProtocolError(f"field `{key}`: expected {what}, got {json.dumps(c[key])[:80]}")


def _opt(c, key, check, what):
    if key in c and not check(c[key]):
        raise ProtocolError(f"field `{key}`: expected {what}, got {json.dumps(c[key])[:80]}")


def is_str(v):
    return isinstance(v, str)


def is_bool(v):
    return isinstance(v, bool)


def is_usize(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def is_map(v):
    return isinstance(v, dict)


def is_opt_str(v):
    return v is None or isinstance(v, str)


REPLY_STATUS = ("ok", "error", "aborted")


def is_status(v):
    return v in REPLY_STATUS


STRING_MIMES = {
    "text/plain", "text/html", "text/latex", "application/javascript", "text/markdown",
    "image/svg+xml", "image/png", "image/jpeg", "image/gif",
}


def media(v):
    if not is_map(v):
        raise ProtocolError("media: `data` is not a map")
    for mime, value in v.items():
        if mime in STRING_MIMES:
            ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(x, str) for x in value))
            if not ok:
                raise ProtocolError(f"media: {mime} must be a string or a list of strings")
        elif mime == "application/vnd.dataresource+json":
            schema = value.get("schema") if isinstance(value, dict) else None
            if not (isinstance(value, dict) and isinstance(value.get("data"), list) and isinstance(schema, dict) and isinstance(schema.get("fields"), list)):
                raise ProtocolError("media: application/vnd.dataresource+json is not a TabularDataResource")
    return True


def transient(v):
    if not is_map(v):
        raise ProtocolError("`transient` is not a map")
    _opt(v, "display_id", is_opt_str, "a string")
    return True


def reply_common(c):
    _opt(c, "status", is_status, "ok|error|aborted")


def v_kernel_info_reply(c):
    reply_common(c)
    _req(c, "protocol_version", is_str, "a string")
    _opt(c, "implementation", is_str, "a string")
    _opt(c, "implementation_version", is_str, "a string")
    _opt(c, "banner", is_str, "a string")
    _opt(c, "debugger", is_bool, "a bool")
    _opt(c, "help_links", lambda v: isinstance(v, list) and all(is_map(h) and is_str(h.get("text")) and is_str(h.get("url")) for h in v),
         "a list of {text, url}")
    _req(c, "language_info", is_map, "a map")
    li = c["language_info"]
    _req(li, "name", is_str, "a string")
    _req(li, "version", is_str, "a string")
    for k in ("mimetype", "file_extension", "pygments_lexer", "nbconvert_exporter"):
        _opt(li, k, is_opt_str, "a string")
    # CodeMirrorMode: untagged Simple(String) | CustomMode { name: String, version: usize }
    _opt(li, "codemirror_mode",
         lambda m: m is None or is_str(m) or (is_map(m) and is_str(m.get("name")) and is_usize(m.get("version"))),
         'a string or {name: string, version: usize}')


def v_execute_reply(c):
    reply_common(c)
    _opt(c, "execution_count", is_usize, "a usize")

    def payload_ok(entries):
        if not isinstance(entries, list):
            return False
        for p in entries:
            src = p.get("source") if is_map(p) else None
            if src == "page":
                if not (is_map(p.get("data")) and media(p["data"]) and is_usize(p.get("start"))):
                    return False
            elif src == "set_next_input":
                if not (is_str(p.get("text")) and is_bool(p.get("replace"))):
                    return False
            elif src == "ask_exit":
                if not is_bool(p.get("keepkernel")):
                    return False
            elif src != "edit_magic":
                return False
        return True

    def user_expressions_ok(ue):
        if not is_map(ue):
            return False
        for v in ue.values():
            st = v.get("status") if is_map(v) else None
            if st == "ok":
                if not (is_map(v.get("data")) and media(v["data"]) and is_map(v.get("metadata"))):
                    return False
            elif st == "error":
                if not (is_str(v.get("ename")) and is_str(v.get("evalue")) and isinstance(v.get("traceback"), list)):
                    return False
            else:
                return False
        return True

    _opt(c, "payload", payload_ok, "payload entries tagged by source")
    _opt(c, "user_expressions", user_expressions_ok, "user_expressions tagged by status")


def v_stream(c):
    _req(c, "name", lambda v: v in ("stdout", "stderr"), '"stdout" or "stderr"')
    _req(c, "text", is_str, "a string")


def v_display_data(c):
    _req(c, "data", media, "media")
    _req(c, "metadata", is_map, "a map")
    _opt(c, "transient", lambda v: v is None or transient(v), "a transient")


def v_update_display_data(c):
    _req(c, "data", media, "media")
    _opt(c, "metadata", is_map, "a map")
    _req(c, "transient", transient, "a transient")


def v_execute_result(c):
    _req(c, "execution_count", is_usize, "a usize")
    _req(c, "data", media, "media")
    _opt(c, "metadata", is_map, "a map")
    _opt(c, "transient", lambda v: v is None or transient(v), "a transient")


def v_execute_input(c):
    _req(c, "code", is_str, "a string")
    _req(c, "execution_count", is_usize, "a usize")


def v_error(c):
    _req(c, "ename", is_str, "a string")
    _req(c, "evalue", is_str, "a string")
    _req(c, "traceback", lambda v: isinstance(v, list) and all(is_str(x) for x in v), "a list of strings")


def v_status(c):
    _req(c, "execution_state", is_str, "a string")


def v_clear_output(c):
    _req(c, "wait", is_bool, "a bool")


def v_is_complete_reply(c):
    _req(c, "status", lambda v: v in ("complete", "incomplete", "invalid", "unknown"), "complete|incomplete|invalid|unknown")
    _opt(c, "indent", is_str, "a string")


def v_history_reply(c):
    def entry_ok(e):
        if not (isinstance(e, list) and len(e) == 3 and is_usize(e[0]) and is_usize(e[1])):
            return False
        x = e[2]
        return is_str(x) or (isinstance(x, list) and len(x) == 2 and is_str(x[0]) and is_str(x[1]))

    _req(c, "history", lambda v: isinstance(v, list) and all(entry_ok(e) for e in v),
         "a list of (usize, usize, string | (string, string))")
    _req(c, "status", is_status, "ok|error|aborted")


def v_shutdown_reply(c):
    _req(c, "restart", is_bool, "a bool")
    _req(c, "status", is_status, "ok|error|aborted")


def v_interrupt_reply(c):
    _req(c, "status", is_status, "ok|error|aborted")


def v_input_request(c):
    _req(c, "prompt", is_str, "a string")
    _req(c, "password", is_bool, "a bool")


def v_complete_reply(c):
    reply_common(c)
    _opt(c, "matches", lambda v: isinstance(v, list) and all(is_str(x) for x in v), "a list of strings")
    _opt(c, "cursor_start", is_usize, "a usize")
    _opt(c, "cursor_end", is_usize, "a usize")
    _opt(c, "metadata", is_map, "a map")


def v_inspect_reply(c):
    reply_common(c)
    _opt(c, "found", is_bool, "a bool")
    _opt(c, "data", lambda v: v is None or media(v), "media or null")
    _opt(c, "metadata", lambda v: v is None or is_map(v), "a map or null")


def v_comm_info_reply(c):
    reply_common(c)
    _opt(c, "comms", lambda v: is_map(v) and all(is_map(x) and is_str(x.get("target_name")) for x in v.values()),
         "a map of {target_name}")


def v_comm_close(c):
    _req(c, "comm_id", is_str, "a string")
    _opt(c, "data", is_map, "a map")


def v_comm_msg(c):
    _req(c, "comm_id", is_str, "a string")
    _req(c, "data", is_map, "a map")


def v_comm_open(c):
    _req(c, "comm_id", is_str, "a string")
    _req(c, "target_name", is_str, "a string")
    _req(c, "data", is_map, "a map")


def v_iopub_welcome(c):
    _req(c, "subscription", is_str, "a string")


VALIDATORS = {
    "kernel_info_reply": v_kernel_info_reply,
    "execute_reply": v_execute_reply,
    "stream": v_stream,
    "display_data": v_display_data,
    "update_display_data": v_update_display_data,
    "execute_result": v_execute_result,
    "execute_input": v_execute_input,
    "error": v_error,
    "status": v_status,
    "clear_output": v_clear_output,
    "is_complete_reply": v_is_complete_reply,
    "history_reply": v_history_reply,
    "shutdown_reply": v_shutdown_reply,
    "interrupt_reply": v_interrupt_reply,
    "input_request": v_input_request,
    "complete_reply": v_complete_reply,
    "inspect_reply": v_inspect_reply,
    "comm_info_reply": v_comm_info_reply,
    "comm_open": v_comm_open,
    "comm_msg": v_comm_msg,
    "comm_close": v_comm_close,
    "iopub_welcome": v_iopub_welcome,
}


# ---------------------------------------------------------------- wire

class Wire:
    def __init__(self, key: bytes, session: str):
        self.key = key
        self.session = session
        self.parsed = 0

    def sign(self, parts):
        h = hmac.new(self.key, digestmod=hashlib.sha256)
        for p in parts:
            h.update(p)
        return h.hexdigest().encode()

    def frames(self, msg_type, content, parent=None, metadata=None):
        header = {
            "msg_id": str(uuid.uuid4()), "username": "kernel-testbed", "session": self.session,
            "msg_type": msg_type, "version": "5.3", "date": datetime.now(timezone.utc).isoformat(),
        }
        parts = [json.dumps(x).encode() for x in (header, parent or {}, metadata or {}, content)]
        return header, [DELIM, self.sign(parts)] + parts

    def parse(self, frames):
        """RawMessage::from_multipart + JupyterMessageContent::from_type_and_content."""
        try:
            i = frames.index(DELIM)
        except ValueError:
            raise ProtocolError("no <IDS|MSG> delimiter")
        if len(frames) < i + 6:
            raise ProtocolError("fewer than 4 JSON frames")
        sig, parts = frames[i + 1], frames[i + 2:i + 6]
        if not hmac.compare_digest(sig, self.sign(parts)):
            raise ProtocolError("bad HMAC signature")
        try:
            header, parent, metadata, content = (json.loads(p) for p in parts)
        except ValueError as e:
            raise ProtocolError(f"a frame is not JSON: {e}")
        if not is_map(header):
            raise ProtocolError("header is not a map")
        for k in ("msg_id", "username", "session", "msg_type", "version"):
            if not is_str(header.get(k)):
                raise ProtocolError(f"header: `{k}` missing or not a string")
        if not is_map(metadata) or not is_map(content):
            raise ProtocolError(f"{header['msg_type']}: metadata/content is not a map")
        # A parent_header that does not parse becomes None.
        if not (is_map(parent) and all(is_str(parent.get(k)) for k in ("msg_id", "username", "session", "msg_type", "version"))):
            parent = None
        check = VALIDATORS.get(header["msg_type"])
        if check:
            try:
                check(content)
            except ProtocolError as e:
                raise ProtocolError(f"{header['msg_type']} does not parse: {e}: {json.dumps(content)[:300]}")
        self.parsed += 1
        return {"header": header, "parent_header": parent, "metadata": metadata, "content": content,
                "msg_type": header["msg_type"], "buffers": frames[i + 6:]}


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


# ---------------------------------------------------------------- results

PASS, PART, SKIP, FAIL, TIME = "PASS", "PART", "SKIP", "FAIL", "TIME"


class Result:
    def __init__(self, kind, note=""):
        self.kind, self.note = kind, note

    @property
    def passed(self):  # types.rs passed(): PartialPass counts, Unsupported does not
        return self.kind in (PASS, PART)


# ---------------------------------------------------------------- harness

class Harness:
    def __init__(self, kernel_name=KERNEL, timeout=TIMEOUT):
        self.timeout = timeout
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
        self.tmp = tempfile.mkdtemp(prefix="kernel-testbed-")
        key = str(uuid.uuid4())
        ports = free_ports(5)
        conn = {
            "ip": "127.0.0.1", "transport": "tcp", "signature_scheme": "hmac-sha256", "key": key,
            "shell_port": ports[0], "iopub_port": ports[1], "stdin_port": ports[2],
            "control_port": ports[3], "hb_port": ports[4], "kernel_name": kernel_name,
        }
        self.conn_file = os.path.join(self.tmp, f"kernel-test-{uuid.uuid4()}.json")
        with open(self.conn_file, "w") as f:
            json.dump(conn, f)
        argv = [a.replace("{connection_file}", self.conn_file) for a in spec.argv]
        env = dict(os.environ)
        env.update(spec.env or {})
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        session = str(uuid.uuid4())
        self.wire = Wire(key.encode(), session)
        self.ctx = zmq.Context()
        self.conn = conn
        self.session = session

    def url(self, port):
        return f"tcp://127.0.0.1:{self.conn[port]}"

    def connect(self):
        time.sleep(2.0)
        if self.proc.poll() is not None:
            raise RuntimeError(f"the kernel exited during startup (status {self.proc.returncode})")
        ident = self.session.encode()
        self.shell = self.ctx.socket(zmq.DEALER)
        self.shell.setsockopt(zmq.IDENTITY, ident)
        self.shell.connect(self.url("shell_port"))
        self.iopub = self.ctx.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(self.url("iopub_port"))
        self.control = self.ctx.socket(zmq.DEALER)
        self.control.connect(self.url("control_port"))
        self.stdin = self.ctx.socket(zmq.DEALER)
        self.stdin.setsockopt(zmq.IDENTITY, ident)
        self.stdin.connect(self.url("stdin_port"))
        self.hb = self.ctx.socket(zmq.REQ)
        self.hb.connect(self.url("hb_port"))
        for s in (self.shell, self.iopub, self.control, self.stdin, self.hb):
            s.setsockopt(zmq.LINGER, 0)

    def close(self):
        for name in ("shell", "iopub", "control", "stdin", "hb"):
            s = getattr(self, name, None)
            if s is not None:
                s.close(0)
        self.ctx.term()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        try:
            os.remove(self.conn_file)
            os.rmdir(self.tmp)
        except OSError:
            pass

    # -- reading

    def recv(self, sock, timeout):
        """The next message on sock within timeout seconds (None when none came); raises ProtocolError."""
        if sock.poll(max(0, int(timeout * 1000))) == 0:
            return None
        return self.wire.parse(sock.recv_multipart())

    def recv_required(self, sock, timeout, what):
        m = self.recv(sock, timeout)
        if m is None:
            raise TestTimeout(f"no {what} within {timeout:.0f} s")
        return m

    def wait_for_iopub_welcome(self, timeout=0.5):
        try:
            m = self.recv(self.iopub, timeout)
        except ProtocolError:
            return False
        return m is not None and m["msg_type"] == "iopub_welcome"

    def send(self, sock, msg_type, content, parent=None):
        header, frames = self.wire.frames(msg_type, content, parent)
        sock.send_multipart(frames)
        return header

    def shell_request(self, msg_type, content):
        self.send(self.shell, msg_type, content)
        return self.recv_required(self.shell, self.timeout, "shell reply")

    def control_request(self, msg_type, content):
        self.send(self.control, msg_type, content)
        return self.recv_required(self.control, self.timeout, "control reply")

    def kernel_info(self):
        last = None
        for attempt in range(3):
            try:
                return self.shell_request("kernel_info_request", {})
            except TestTimeout as e:
                last = e
                if attempt < 2:
                    time.sleep(2.0)
        raise last

    def execute_and_collect(self, code):
        """ExecuteRequest::new(code); iopub read in 100 ms slices until this request's idle; then the next shell message."""
        header = self.send(self.shell, "execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True,
        })
        msgs = self._collect(header["msg_id"], stdin_value=None)
        reply = self.recv_required(self.shell, self.timeout, "execute_reply")
        return reply, msgs

    def execute_with_stdin(self, code, value):
        header = self.send(self.shell, "execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": True, "stop_on_error": True,
        })
        self.input_requests = 0
        msgs = self._collect(header["msg_id"], stdin_value=value)
        reply = self.recv_required(self.shell, self.timeout, "execute_reply")
        return reply, msgs

    def _collect(self, msg_id, stdin_value):
        deadline = time.time() + self.timeout
        msgs = []
        while time.time() < deadline:
            if stdin_value is not None:
                req = self.recv(self.stdin, 0.05)
                if req is not None and req["msg_type"] == "input_request":
                    self.input_requests += 1
                    self.send(self.stdin, "input_reply", {"value": stdin_value, "status": "ok"}, parent=req["header"])
                slice_s = 0.05
            else:
                slice_s = 0.1
            m = self.recv(self.iopub, slice_s)
            while m is not None:
                if (m["parent_header"] or {}).get("msg_id") == msg_id:
                    msgs.append(m)
                    if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                        return msgs
                m = self.recv(self.iopub, 0)
        raise TestTimeout(f"no idle status within {self.timeout:.0f} s")

    def heartbeat(self):
        self.hb.send(b"ping")
        if self.hb.poll(int(self.timeout * 1000)) == 0:
            return False
        self.hb.recv()
        return True


# ---------------------------------------------------------------- the 27 tests

def types_of(msgs):
    return [m["msg_type"] for m in msgs]


def t_heartbeat_responds(h, ctx):
    return Result(PASS) if h.heartbeat() else Result(FAIL, "Timeout: no heartbeat reply")


def t_iopub_welcome(h, ctx):
    if ctx["welcome"]:
        return Result(PASS)
    return Result(PART, "No iopub_welcome received (kernel may use legacy PUB socket instead of XPUB)")


def t_kernel_info_reply_valid(h, ctx):
    st = ctx["kernel_info"]["content"].get("status", "ok")
    return Result(PASS) if st == "ok" else Result(FAIL, f"status {st}")


def t_kernel_info_has_language_info(h, ctx):
    name = ctx["kernel_info"]["content"]["language_info"]["name"]
    return Result(PASS) if name else Result(FAIL, "language_info.name is empty")


def t_kernel_info_has_protocol_version(h, ctx):
    v = ctx["kernel_info"]["content"]["protocol_version"]
    return Result(PASS) if v else Result(FAIL, "protocol_version is empty")


def _stream_has(msgs, name, text):
    return any(m["msg_type"] == "stream" and m["content"]["name"] == name and text in m["content"]["text"] for m in msgs)


def t_execute_stdout(h, ctx):
    _, msgs = h.execute_and_collect(SNIPPETS["print_hello"])
    return Result(PASS) if _stream_has(msgs, "stdout", "hello") else Result(FAIL, f"no stdout stream with 'hello' in {types_of(msgs)}")


def t_execute_stderr(h, ctx):
    _, msgs = h.execute_and_collect(SNIPPETS["print_stderr"])
    return Result(PASS) if _stream_has(msgs, "stderr", "error") else Result(FAIL, f"no stderr stream with 'error' in {types_of(msgs)}")


def t_execute_reply_ok(h, ctx):
    reply, _ = h.execute_and_collect(SNIPPETS["complete_code"])
    if reply["msg_type"] != "execute_reply":
        return Result(FAIL, f"UnexpectedMessageType: {reply['msg_type']}")
    st = reply["content"].get("status", "ok")
    return Result(PASS) if st == "ok" else Result(FAIL, f"execute_reply status {st}: {reply['content'].get('evalue', '')}")


def t_status_busy_idle_lifecycle(h, ctx):
    _, msgs = h.execute_and_collect(SNIPPETS["complete_code"])
    states = [m["content"]["execution_state"] for m in msgs if m["msg_type"] == "status"]
    if "busy" in states and "idle" in states and states.index("busy") < states.index("idle"):
        return Result(PASS)
    return Result(FAIL, f"status sequence {states}")


def t_execute_input_broadcast(h, ctx):
    _, msgs = h.execute_and_collect(SNIPPETS["complete_code"])
    return Result(PASS) if "execute_input" in types_of(msgs) else Result(FAIL, "no execute_input")


def t_complete_request(h, ctx):
    h.execute_and_collect(SNIPPETS["completion_setup"])
    code = SNIPPETS["completion_var"][:15]
    reply = h.shell_request("complete_request", {"code": code, "cursor_pos": 15})
    if reply["msg_type"] != "complete_reply":
        return Result(FAIL, f"UnexpectedMessageType: {reply['msg_type']}")
    st = reply["content"].get("status", "ok")
    return Result(PASS) if st in ("ok", "aborted") else Result(FAIL, f"complete_reply status {st}")


def t_inspect_request(h, ctx):
    h.execute_and_collect(SNIPPETS["completion_setup"])
    reply = h.shell_request("inspect_request", {"code": SNIPPETS["completion_var"], "cursor_pos": 25, "detail_level": 0})
    if reply["msg_type"] != "inspect_reply":
        return Result(FAIL, f"UnexpectedMessageType: {reply['msg_type']}")
    st = reply["content"].get("status", "ok")
    return Result(PASS) if st == "ok" else Result(FAIL, f"inspect_reply status {st}")


def _is_complete(h, code, want):
    reply = h.shell_request("is_complete_request", {"code": code})
    if reply["msg_type"] != "is_complete_reply":
        return Result(FAIL, f"UnexpectedMessageType: {reply['msg_type']}")
    st = reply["content"]["status"]
    return Result(PASS) if st == want else Result(PART, f"expected {want}, got {st}")


def t_is_complete_complete(h, ctx):
    return _is_complete(h, SNIPPETS["complete_code"], "complete")


def t_is_complete_incomplete(h, ctx):
    return _is_complete(h, SNIPPETS["incomplete_code"], "incomplete")


def t_history_request(h, ctx):
    h.execute_and_collect(SNIPPETS["complete_code"])
    reply = h.shell_request("history_request", {"hist_access_type": "tail", "n": 10, "output": False, "raw": True})
    if reply["msg_type"] != "history_reply":
        return Result(FAIL, f"UnexpectedMessageType: {reply['msg_type']}")
    st = reply["content"]["status"]
    return Result(PASS) if st == "ok" else Result(FAIL, f"history_reply status {st}")


def t_comm_info_request(h, ctx):
    reply = h.shell_request("comm_info_request", {"target_name": None})
    if reply["msg_type"] != "comm_info_reply":
        return Result(FAIL, f"UnexpectedMessageType: {reply['msg_type']}")
    st = reply["content"].get("status", "ok")
    return Result(PASS) if st == "ok" else Result(FAIL, f"comm_info_reply status {st}")


def t_error_handling(h, ctx):
    reply, msgs = h.execute_and_collect(SNIPPETS["syntax_error"])
    if reply["content"].get("status") == "error" or "error" in types_of(msgs):
        return Result(PASS)
    return Result(FAIL, "neither an error reply nor an iopub error")


def t_display_data(h, ctx):
    _, msgs = h.execute_and_collect(SNIPPETS["display_data_code"])
    if "display_data" in types_of(msgs):
        return Result(PASS)
    return Result(SKIP, f"no display_data ({_error_note(msgs)})")


def t_update_display_data(h, ctx):
    snippet = SNIPPETS["update_display_data_code"]
    if any(w in snippet for w in ("doesn't support", "not available", "varies")):
        return Result(SKIP, "the snippet says it is not supported")
    _, msgs = h.execute_and_collect(snippet)
    kinds = types_of(msgs)
    if "display_data" in kinds and "update_display_data" in kinds:
        return Result(PASS)
    if "display_data" in kinds:
        return Result(PART, "display_data but no update_display_data")
    return Result(SKIP, f"neither display_data nor update_display_data ({_error_note(msgs)})")


def t_execute_result(h, ctx):
    _, msgs = h.execute_and_collect(SNIPPETS["simple_expr"])
    return Result(PASS) if "execute_result" in types_of(msgs) else Result(FAIL, f"no execute_result ({_error_note(msgs)})")


def t_rich_execute_result(h, ctx):
    _, msgs = h.execute_and_collect(SNIPPETS["rich_output_code"])
    return Result(PASS) if "execute_result" in types_of(msgs) else Result(SKIP, f"no execute_result ({_error_note(msgs)})")


def _error_note(msgs):
    errs = [m["content"] for m in msgs if m["msg_type"] == "error"]
    return f"{errs[0]['ename']}: {errs[0]['evalue'][:120]}" if errs else "no error"


def t_stdin_input_request(h, ctx):
    reply, msgs = h.execute_with_stdin(SNIPPETS["input_prompt"], '"test_input_42"')
    if h.input_requests == 0:
        return Result(FAIL, f"No input_request received on stdin channel ({_error_note(msgs)})")
    st = reply["content"].get("status", "ok")
    return Result(PASS) if st == "ok" else Result(FAIL, f"execute_reply status {st}: {reply['content'].get('evalue', '')}")


def t_comms_lifecycle(h, ctx):
    comm_id = f"test-comm-{uuid.uuid4()}"
    h.send(h.shell, "comm_open", {"comm_id": comm_id, "target_name": "jupyter.kernel_testbed.test", "data": {}})
    deadline = time.time() + 0.5
    while time.time() < deadline:
        m = h.recv(h.iopub, max(0, deadline - time.time()))
        if m is not None and m["msg_type"] == "comm_close" and m["content"]["comm_id"] == comm_id:
            return Result(PASS)
    h.send(h.shell, "comm_close", {"comm_id": comm_id, "data": {}})
    time.sleep(0.1)
    reply, _ = h.execute_and_collect(SNIPPETS["complete_code"])
    return Result(PASS) if reply["msg_type"] == "execute_reply" else Result(FAIL, "the kernel did not go on after comm_close")


def t_interrupt_request(h, ctx):
    reply = h.control_request("interrupt_request", {})
    if reply["msg_type"] != "interrupt_reply":
        return Result(FAIL, f"UnexpectedMessageType: {reply['msg_type']}")
    st = reply["content"]["status"]
    return Result(PASS) if st == "ok" else Result(FAIL, f"interrupt_reply status {st}")


def t_execution_count_increments(h, ctx):
    r1, _ = h.execute_and_collect(SNIPPETS["complete_code"])
    r2, _ = h.execute_and_collect(SNIPPETS["complete_code"])
    c1, c2 = r1["content"].get("execution_count", 0), r2["content"].get("execution_count", 0)
    return Result(PASS) if c2 > c1 else Result(FAIL, f"execution_count {c1} then {c2}")


def t_parent_header_correlation(h, ctx):
    reply, msgs = h.execute_and_collect(SNIPPETS["print_hello"])
    if all(m["parent_header"] is not None for m in msgs) and reply["parent_header"] is not None:
        return Result(PASS)
    return Result(FAIL, "a message without a parent_header")


def t_shutdown_reply(h, ctx):
    reply = h.control_request("shutdown_request", {"restart": False})
    if reply["msg_type"] != "shutdown_reply":
        return Result(FAIL, f"UnexpectedMessageType: {reply['msg_type']}")
    st = reply["content"]["status"]
    return Result(PASS) if st == "ok" else Result(FAIL, f"shutdown_reply status {st}")


TIERS = {1: "Basic", 2: "Interactive", 3: "Rich output", 4: "Advanced"}

# all_tests(), in run order: shutdown_reply (tier 1) runs last.
ALL_TESTS = [
    (1, "heartbeat_responds", t_heartbeat_responds),
    (1, "iopub_welcome", t_iopub_welcome),
    (1, "kernel_info_reply_valid", t_kernel_info_reply_valid),
    (1, "kernel_info_has_language_info", t_kernel_info_has_language_info),
    (1, "kernel_info_has_protocol_version", t_kernel_info_has_protocol_version),
    (1, "execute_stdout", t_execute_stdout),
    (1, "execute_stderr", t_execute_stderr),
    (1, "execute_reply_ok", t_execute_reply_ok),
    (1, "status_busy_idle_lifecycle", t_status_busy_idle_lifecycle),
    (1, "execute_input_broadcast", t_execute_input_broadcast),
    (2, "complete_request", t_complete_request),
    (2, "inspect_request", t_inspect_request),
    (2, "is_complete_complete", t_is_complete_complete),
    (2, "is_complete_incomplete", t_is_complete_incomplete),
    (2, "history_request", t_history_request),
    (2, "comm_info_request", t_comm_info_request),
    (2, "error_handling", t_error_handling),
    (3, "display_data", t_display_data),
    (3, "update_display_data", t_update_display_data),
    (3, "execute_result", t_execute_result),
    (3, "rich_execute_result", t_rich_execute_result),
    (4, "stdin_input_request", t_stdin_input_request),
    (4, "comms_lifecycle", t_comms_lifecycle),
    (4, "interrupt_request", t_interrupt_request),
    (4, "execution_count_increments", t_execution_count_increments),
    (4, "parent_header_correlation", t_parent_header_correlation),
    (1, "shutdown_reply", t_shutdown_reply),
]


def run_suite(kernel_name=KERNEL):
    """Run the suite; returns a list of (tier, name, Result) and the kernel_info language name."""
    h = Harness(kernel_name)
    records = []
    try:
        h.connect()
        welcome = h.wait_for_iopub_welcome()
        try:
            info = h.kernel_info()
        except (ProtocolError, TestTimeout) as e:
            return [(1, "kernel_startup", Result(FAIL, f"kernel_info: {e}"))], None
        lang = info["content"]["language_info"]["name"].lower()
        if lang not in ("typescript", "javascript"):
            return [(1, "kernel_startup", Result(FAIL, f"language {lang!r}: these are the typescript (Deno) snippets"))], lang
        ctx = {"welcome": welcome, "kernel_info": info}
        for tier, name, fn in ALL_TESTS:
            t0 = time.time()
            try:
                r = fn(h, ctx)
            except ProtocolError as e:
                r = Result(FAIL, f"ProtocolError: {e}")
            except TestTimeout as e:
                r = Result(TIME, str(e))
            r.seconds = time.time() - t0
            records.append((tier, name, r))
        return records, lang
    finally:
        h.close()


def report(records):
    lines = []
    for tier in (1, 2, 3, 4):
        rows = [(n, r) for t, n, r in records if t == tier]
        if not rows:
            continue
        lines.append(f"Tier {tier}: {TIERS[tier]}")
        for name, r in rows:
            note = f"  ({r.note})" if r.note else ""
            lines.append(f"  {r.kind:4}  {name:34}{note}")
    passed = sum(1 for _, _, r in records if r.passed)
    weighted = sum(1.0 if r.kind == PASS else 0.5 if r.kind == PART else 0.0 for _, _, r in records)
    lines.append(f"Total: {passed}/{len(records)}  (weighted {weighted:g})")
    clean = sum(1 for _, _, r in records if r.kind == PASS)
    lines.append(f"{clean} passed, {len(records) - clean} failed")
    return "\n".join(lines)


class KernelTestbed(unittest.TestCase):
    def test_27_of_27(self):
        t0 = time.time()
        records, lang = run_suite()
        table = report(records)
        print(f"\nkernel-testbed {SUITE_COMMIT} (Python port), kernel {KERNEL}, language {lang}, "
              f"{time.time() - t0:.1f} s\n{table}", file=sys.stderr)
        self.assertEqual(len(records), 27, table)
        not_clean = [f"{n}: {r.kind} {r.note}" for _, n, r in records if r.kind != PASS]
        self.assertEqual(not_clean, [], table)



class StrictTypes(unittest.TestCase):
    """The harness's parser rejects what jupyter-protocol would not parse (so a pass above means something)."""

    def setUp(self):
        self.wire = Wire(b"k", "s")

    def parse(self, msg_type, content, sign_with=None):
        _, frames = Wire(sign_with or b"k", "s").frames(msg_type, content)
        return self.wire.parse([b"ident"] + frames)

    def rejects(self, msg_type, content):
        with self.assertRaises(ProtocolError):
            self.parse(msg_type, content)

    def test_rejects_what_serde_rejects(self):
        info = {"protocol_version": "5.3", "language_info": {"name": "typescript", "version": "5",
                                                             "codemirror_mode": {"name": "javascript", "typescript": True}}}
        self.rejects("kernel_info_reply", info)  # d2l-ts's old codemirror_mode: neither variant of CodeMirrorMode
        info["language_info"]["codemirror_mode"] = "typescript"
        self.assertEqual(self.parse("kernel_info_reply", info)["msg_type"], "kernel_info_reply")
        self.rejects("display_data", {"data": {"text/html": "<b>x</b>"}})  # metadata is required
        self.rejects("display_data", {"data": {"text/html": {"x": 1}}, "metadata": {}})  # text mime not a string
        self.rejects("update_display_data", {"data": {}, "metadata": {}})  # transient is required
        self.rejects("clear_output", {})
        self.rejects("history_reply", {"status": "ok", "history": [[1, "1", "x"]]})
        self.rejects("history_reply", {"status": "ok", "history": [[-1, 1, "x"]]})
        self.rejects("input_request", {"prompt": "x"})
        self.rejects("shutdown_reply", {"status": "ok"})
        self.rejects("stream", {"name": "stdlog", "text": "x"})
        self.rejects("execute_result", {"data": {"text/plain": "2"}, "metadata": {}})  # execution_count required
        self.rejects("iopub_welcome", {})
        self.assertEqual(self.parse("some_future_type", {"anything": 1})["msg_type"], "some_future_type")

    def test_rejects_a_bad_signature_and_header(self):
        with self.assertRaises(ProtocolError):
            self.parse("status", {"execution_state": "idle"}, sign_with=b"other key")
        header = {"msg_id": "1", "session": "s", "msg_type": "status", "version": "5.3"}  # no username
        parts = [json.dumps(x).encode() for x in (header, {}, {}, {"execution_state": "idle"})]
        with self.assertRaises(ProtocolError):
            self.wire.parse([DELIM, self.wire.sign(parts)] + parts)


class DenoShimAndPrompt(KernelTestCase):
    """What the testbed snippets rely on, beyond the snippets: prompt()'s answer, default,
    refusal and interrupt; Deno.jupyter.display, md, format and broadcast's buffers."""

    def run_with_answer(self, code, answer):
        msg_id = self.kc.execute(code, allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=30)
        self.assertEqual(req["msg_type"], "input_request")
        self.kc.input(answer)
        return req, collect(self.kc, msg_id)

    def test_prompt_blocks_until_answered(self):
        code = "const before = Date.now(); const got = prompt('Name?'); [got, Date.now() - before >= 200]"
        msg_id = self.kc.execute(code, allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=30)
        self.assertEqual(req["content"], {"prompt": "Name?", "password": False})
        time.sleep(0.3)
        self.kc.input("ada")
        reply, outs = collect(self.kc, msg_id)
        self.assertEqual(reply["status"], "ok", reply)
        self.assertEqual(result_text(outs), "[ 'ada', true ]")

    def test_prompt_default_and_unicode(self):
        _, (reply, outs) = self.run_with_answer("prompt('Size?', '42')", "")
        self.assertEqual(result_text(outs), "'42'")
        _, (reply, outs) = self.run_with_answer("prompt('Word?', 'x')", "größe ✓")
        self.assertEqual(result_text(outs), "'größe ✓'")

    def test_prompt_refused_without_stdin(self):
        reply, _ = execute(self.kc, "prompt('x')", allow_stdin=False)
        self.assertEqual(reply["status"], "error")
        self.assertIn("allow_stdin", reply["evalue"])

    def test_prompt_interrupted(self):
        msg_id = self.kc.execute("prompt('never answered')", allow_stdin=True)
        self.kc.get_stdin_msg(timeout=30)
        t0 = time.time()
        self.km.interrupt_kernel()
        reply, _ = collect(self.kc, msg_id, timeout=10)
        self.assertLess(time.time() - t0, 2.0)
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "Interrupted")
        reply, outs = execute(self.kc, "6 * 7")  # the kernel goes on, and the next prompt works
        self.assertEqual(result_text(outs), "42")
        _, (reply, outs) = self.run_with_answer("prompt('again')", "yes")
        self.assertEqual(result_text(outs), "'yes'")

    def test_deno_jupyter_display_and_format(self):
        code = (
            'await Deno.jupyter.display({ "text/markdown": "# Hi" });\n'
            'await Deno.jupyter.display(Deno.jupyter.md`**${1 + 1}**`, { display_id: "d1" });\n'
            'await Deno.jupyter.display(Deno.jupyter.html`<i>new</i>`, { update: true, display_id: "d1" });\n'
            'const bundle = await Deno.jupyter.format({ [Deno.jupyter.$display]: async () => ({ "text/plain": "async" }) });\n'
            "bundle"
        )
        reply, outs = execute(self.kc, code)
        self.assertEqual(reply["status"], "ok", reply)
        kinds = [(t, c) for t, c in outs if t in ("display_data", "update_display_data", "execute_result")]
        self.assertEqual([t for t, _ in kinds], ["display_data", "display_data", "update_display_data", "execute_result"])
        self.assertEqual(kinds[0][1]["data"]["text/markdown"], "# Hi")
        self.assertEqual(kinds[1][1]["data"]["text/markdown"], "**2**")
        self.assertEqual(kinds[1][1]["transient"], {"display_id": "d1"})
        self.assertEqual(kinds[2][1]["data"]["text/html"], "<i>new</i>")
        self.assertIn("async", kinds[3][1]["data"]["text/plain"])
        reply, _ = execute(self.kc, "await Deno.jupyter.display({}, { update: true })")
        self.assertEqual(reply["status"], "error")
        self.assertIn("display_id", reply["evalue"])

    def test_deno_jupyter_broadcast_metadata_and_buffers(self):
        drain(self.kc)
        code = ('await Deno.jupyter.broadcast("comm_msg", { comm_id: "c1", data: { x: 1 } }, '
                '{ metadata: { m: 2 }, buffers: [new Uint8Array([1, 2, 3])] })')
        msg_id = self.kc.execute(code)
        seen = None
        deadline = time.time() + 30
        while time.time() < deadline:
            m = self.kc.get_iopub_msg(timeout=30)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "comm_msg":
                seen = m
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                break
        self.assertIsNotNone(seen)
        self.assertEqual(seen["content"], {"comm_id": "c1", "data": {"x": 1}})
        self.assertEqual(seen["metadata"], {"m": 2})
        self.assertEqual([bytes(b) for b in seen["buffers"]], [b"\x01\x02\x03"])
        reply, _ = execute(self.kc, 'await Deno.jupyter.broadcast("", {})')
        self.assertEqual(reply["status"], "error")
        self.assertIn("msgType", reply["evalue"])
        drain(self.kc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
