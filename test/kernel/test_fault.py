"""The kernel under signed but malformed messages and interrupts at bad moments.

Every request, well formed or not, gets a reply (status "error" with an ename
naming the field when it is malformed) with busy and idle around it; an
interrupt that lands in the kernel's own code (a user_expressions entry, a
display method, is_complete) ends that request and the next cell runs; rejected
messages go to the kernel's log, never into a cell; replies to control requests
come back on control. A seeded fuzz mixes all of these with interrupts and must
leave a kernel that runs a cell."""
import json
import os
import random
import tempfile
import time
import unittest
import uuid

import zmq
from jupyter_client.manager import KernelManager

from helpers import DELIM, KERNEL, header, sign

class Harness:
    """Raw sockets to one kernel: shell and control dealers, stdin dealer (same
    identity as shell, as Jupyter clients do), iopub subscriber. Every message
    seen is kept by its parent's msg_id."""

    def __init__(self, info):
        self.key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        self.ctx = zmq.Context()
        ident = uuid.uuid4().hex.encode()
        url = lambda port: f"tcp://{info['ip']}:{info[port]}"
        self.socks = {}
        for name, port in (("shell", "shell_port"), ("control", "control_port"), ("stdin", "stdin_port")):
            s = self.ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.IDENTITY, ident if name != "control" else ident + b"-c")
            s.connect(url(port))
            self.socks[name] = s
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(url("iopub_port"))
        self.socks["iopub"] = sub
        self.poller = zmq.Poller()
        for s in self.socks.values():
            self.poller.register(s, zmq.POLLIN)
        self.seen = {}  # parent msg_id -> list of (channel, msg_type, content)
        self.sent = {}  # msg_id -> (channel, msg_type, content)
        self.all_iopub = []
        time.sleep(0.5)

    def close(self):
        for s in self.socks.values():
            s.close()
        self.ctx.term()

    def sign(self, parts):
        return sign(self.key, parts)

    def send(self, channel, msg_type, content=None, hdr=None, metadata=None, raw=None, key=None):
        """Send a signed request; returns its msg_id. raw: the four JSON parts as bytes."""
        hdr = hdr or header(msg_type, "fault")
        parts = raw or [json.dumps(p).encode() for p in (hdr, {}, metadata or {}, {} if content is None else content)]
        sig = sign(key or self.key, parts)
        self.socks[channel].send_multipart([DELIM, sig, *parts])
        self.sent[hdr["msg_id"]] = (channel, msg_type, str(content)[:200])
        return hdr["msg_id"]

    def pump(self, timeout):
        """Read whatever arrives within timeout seconds (at least one poll)."""
        for sock, _ in self.poller.poll(max(0, int(timeout * 1000))):
            channel = next(n for n, s in self.socks.items() if s is sock)
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                i = frames.index(DELIM)
                hdr, parent, _, content = (json.loads(f) for f in frames[i + 2 : i + 6])
                entry = (channel, hdr["msg_type"], content)
                self.seen.setdefault(parent.get("msg_id"), []).append(entry)
                if channel == "iopub":
                    self.all_iopub.append((parent.get("msg_id"), hdr["msg_type"], content))

    def wait(self, msg_id, timeout=30, reply=True):
        """Wait for the reply (unless reply=False) and the idle of one request."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.seen.get(msg_id, [])
            idle = any(c == "iopub" and t == "status" and m.get("execution_state") == "idle" for c, t, m in got)
            replies = [(c, t, m) for c, t, m in got if c in ("shell", "control")]
            if idle and (replies or not reply):
                return replies[0] if replies else None
            self.pump(min(0.2, max(0.01, deadline - time.time())))
        raise AssertionError(f"no {'reply and ' if reply else ''}idle for {msg_id} in {timeout} s; saw {self.seen.get(msg_id)}")

    def request(self, channel, msg_type, content=None, timeout=30, **kw):
        """Send and wait: (reply channel, reply type, reply content)."""
        return self.wait(self.send(channel, msg_type, content, **kw), timeout)

    def interrupt(self):
        return self.request("control", "interrupt_request", {})

    def run(self, code, timeout=30, **extra):
        c = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": False}
        c.update(extra)
        return self.request("shell", "execute_request", c, timeout)

    def assert_runs(self, test):
        """A cell still runs and shows its value."""
        c = {"code": "6 * 7", "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": False}
        msg_id = self.send("shell", "execute_request", c)
        ch, t, reply = self.wait(msg_id, timeout=30)
        test.assertEqual((ch, t, reply["status"]), ("shell", "execute_reply", "ok"), reply)
        outs = [m for _, tt, m in self.seen[msg_id] if tt == "execute_result"]
        test.assertEqual([o["data"]["text/plain"] for o in outs], ["42"])


def outputs_text(h, msg_id):
    return "".join(m.get("text", "") for c, t, m in h.seen.get(msg_id, []) if t == "stream")


# Malformed contents of each request type: (msg_type, content, a word the ename must contain).
MALFORMED = [
    ("execute_request", {"code": 5}, "code"),
    ("execute_request", {"code": {"x": 1}}, "code"),
    ("execute_request", {}, "code"),
    ("execute_request", {"code": "1", "silent": "yes"}, "silent"),
    ("execute_request", {"code": "1", "store_history": 1}, "store_history"),
    ("execute_request", {"code": "1", "user_expressions": {"a": 5}}, "user_expressions"),
    ("execute_request", {"code": "1", "user_expressions": [1]}, "user_expressions"),
    ("execute_request", {"code": "1", "allow_stdin": "no"}, "allow_stdin"),
    ("execute_request", {"code": "1", "stop_on_error": 0}, "stop_on_error"),
    ("inspect_request", {"code": 5, "cursor_pos": 0}, "code"),
    ("inspect_request", {"code": "x", "cursor_pos": "a"}, "cursor_pos"),
    ("inspect_request", {"code": "x", "cursor_pos": -1}, "cursor_pos"),
    ("inspect_request", {"code": "x", "cursor_pos": 0, "detail_level": 7}, "detail_level"),
    ("complete_request", {"code": None, "cursor_pos": 0}, "code"),
    ("complete_request", {"code": "x", "cursor_pos": 1.5}, "cursor_pos"),
    ("complete_request", {"code": "x", "cursor_pos": 99}, "cursor_pos"),
    ("history_request", {"hist_access_type": 5}, "hist_access_type"),
    ("history_request", {"hist_access_type": "??"}, "hist_access_type"),
    ("history_request", {"hist_access_type": "tail", "n": "a"}, "n"),
    ("history_request", {"hist_access_type": "search", "pattern": 5}, "pattern"),
    ("history_request", {"hist_access_type": "range", "start": "a"}, "start"),
    ("history_request", {"hist_access_type": "tail", "output": "yes"}, "output"),
    ("is_complete_request", {"code": []}, "code"),
    ("is_complete_request", {}, "code"),
    ("comm_info_request", {"target_name": 5}, "target_name"),
    ("kernel_info_request", {"x": 1, "deep": "ok"}, None),  # extra fields are allowed
    ("shutdown_request", {"restart": "yes"}, "restart"),
    ("interrupt_request", {"now": 1}, None),  # no fields; extra ones are allowed
    ("nonsense_request", {}, "nonsense_request"),
]


class FaultTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = tempfile.NamedTemporaryFile(prefix="d2l-kernel-", suffix=".log", delete=False)
        cls.km = KernelManager(kernel_name=KERNEL)
        cls.km.start_kernel(stderr=cls.log)
        kc = cls.km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=90)
        kc.stop_channels()
        cls.h = Harness(cls.km.get_connection_info())
        # kernel_info is answered before the prelude has loaded: wait for a cell, so each test starts on a ready kernel
        cls.h.assert_runs(unittest.TestCase())

    @classmethod
    def tearDownClass(cls):
        cls.h.close()
        cls.km.shutdown_kernel(now=True)
        cls.log.close()
        os.unlink(cls.log.name)

    def kernel_log(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def setUp(self):
        self.h.pump(0.05)

    # --- malformed content, every request type

    def test_malformed_request_of_every_type(self):
        for msg_type, content, field in MALFORMED:
            with self.subTest(msg_type=msg_type, content=content):
                ch, t, c = self.h.request("shell", msg_type, content)
                self.assertEqual(ch, "shell")
                self.assertEqual(t, msg_type.replace("_request", "_reply"))
                if field is None:
                    self.assertEqual(c["status"], "ok", c)
                    continue
                self.assertEqual(c["status"], "error", c)
                self.assertIn(field, c["ename"] + " " + c["evalue"], c)
                if msg_type == "execute_request":
                    self.assertIn("execution_count", c)
        self.h.assert_runs(self)

    def test_malformed_comm_messages_leave_kernel_idle(self):
        for content in ({"comm_id": 5, "target_name": "x"}, {"comm_id": "a"}, {}):
            for t in ("comm_open", "comm_msg", "comm_close"):
                with self.subTest(t=t, content=content):
                    self.h.wait(self.h.send("shell", t, content), reply=False)
        # an input_reply belongs on stdin: on shell it is logged and left
        self.h.wait(self.h.send("shell", "input_reply", {"value": "x"}), reply=False)
        self.assertIn("comm_id", self.kernel_log())
        self.assertIn("input_reply is taken on the stdin channel only", self.kernel_log())
        self.h.assert_runs(self)

    def test_code_not_a_string_and_user_expression_not_a_string(self):
        ch, t, c = self.h.request("shell", "execute_request", {"code": ["x"], "silent": False})
        self.assertEqual((t, c["status"]), ("execute_reply", "error"))
        self.assertEqual(c["ename"], "InvalidRequest")
        self.assertIn("code must be a string", c["evalue"])
        ch, t, c = self.h.run("1", user_expressions={"x": {"y": 1}})
        self.assertEqual(c["status"], "error")
        self.assertIn("user_expressions", c["evalue"])
        self.h.assert_runs(self)

    # --- interrupts in the kernel's own code

    def interrupt_then_run(self, msg_id, wait=1.0):
        time.sleep(wait)
        self.h.interrupt()
        ch, t, c = self.h.wait(msg_id, timeout=15)
        self.h.assert_runs(self)
        return c

    def test_interrupt_in_user_expression(self):
        msg_id = self.h.send("shell", "execute_request", {"code": "1", "silent": False, "user_expressions": {"loop": "while (true) {}"}})
        c = self.interrupt_then_run(msg_id)
        if c["status"] == "ok":
            self.assertEqual(c["user_expressions"]["loop"]["status"], "error", c)
        else:
            self.assertIn("Interrupt", c["ename"])

    def test_interrupt_in_display_method(self):
        code = 'const slow = { [Symbol.for("Jupyter.display")]() { while (true) {} } }; slow'
        msg_id = self.h.send("shell", "execute_request", {"code": code, "silent": False})
        c = self.interrupt_then_run(msg_id)
        self.assertEqual(c["status"], "error", c)

    def test_interrupt_in_is_complete(self):
        # 5.5 MB of code: is_complete parses it for several seconds, in the kernel's own code.
        msg_id = self.h.send("shell", "is_complete_request", {"code": "let a = 1;\n" * 500_000})
        c = self.interrupt_then_run(msg_id)
        self.assertIn(c["status"], ("error", "complete"), c)

    def test_large_is_complete_answers(self):
        t0 = time.time()
        ch, t, c = self.h.request("shell", "is_complete_request", {"code": "let a = 1;\n" * 500_000}, timeout=60)
        self.assertEqual((t, c["status"]), ("is_complete_reply", "complete"), c)
        self.assertLess(time.time() - t0, 30)
        self.h.assert_runs(self)

    # --- rejected messages go to the log, not to a cell

    def test_bad_signature_is_logged_not_shown_in_cell(self):
        self.h.assert_runs(self)  # the kernel is ready: a message now lands while a cell runs
        msg_id = self.h.send("shell", "execute_request", {"code": "await new Promise((r) => setTimeout(r, 1500)); 'done'", "silent": False})
        deadline = time.time() + 10
        while not any(t == "execute_input" for _, t, _ in self.h.seen.get(msg_id, [])) and time.time() < deadline:
            self.h.pump(0.05)
        for _ in range(3):
            self.h.send("shell", "kernel_info_request", {}, key=b"wrong key")
            self.h.socks["shell"].send_multipart([b"garbage, no delimiter"])
        ch, t, c = self.h.wait(msg_id)
        self.assertEqual(c["status"], "ok")
        self.assertNotIn("signature", outputs_text(self.h, msg_id))
        self.assertNotIn("delimiter", outputs_text(self.h, msg_id))
        # and none after it, when output would go to the last cell
        for _ in range(3):
            self.h.send("shell", "kernel_info_request", {}, key=b"wrong key")
        time.sleep(0.5)
        self.h.pump(0.3)
        for _, t, m in self.h.all_iopub:
            self.assertNotIn("bad signature", json.dumps(m))
        time.sleep(0.3)
        self.assertIn("bad signature", self.kernel_log())

    # --- history search, depth and size limits

    def test_history_search_glob_is_linear(self):
        self.h.run("const longLine = '" + "a" * 3000 + "'")
        t0 = time.time()
        ch, t, c = self.h.request("shell", "history_request", {"hist_access_type": "search", "pattern": "*" * 40 + "#", "output": False, "raw": True}, timeout=20)
        self.assertEqual(c["status"], "ok")
        self.assertLess(time.time() - t0, 2.0)
        ch, t, c = self.h.request("shell", "history_request", {"hist_access_type": "search", "pattern": "*longLine*", "output": False, "raw": True})
        self.assertTrue(any("longLine" in row[2] for row in c["history"]), c)

    def test_deeply_nested_field_gets_error_reply(self):
        deep = "[" * 100_000 + "]" * 100_000
        for where in ("content", "metadata", "header"):
            with self.subTest(where=where):
                hdr = header("execute_request", "fault")
                content = {"code": "1", "silent": False}
                meta = {}
                if where == "content":
                    parts = [json.dumps(hdr).encode(), b"{}", b"{}", ('{"code": "1", "x": ' + deep + "}").encode()]
                elif where == "metadata":
                    parts = [json.dumps(hdr).encode(), b"{}", ('{"x": ' + deep + "}").encode(), json.dumps(content).encode()]
                else:
                    parts = [(json.dumps(hdr)[:-1] + ', "x": ' + deep + "}").encode(), b"{}", json.dumps(meta).encode(), json.dumps(content).encode()]
                ch, t, c = self.h.wait(self.h.send("shell", "execute_request", hdr=hdr, raw=parts), timeout=20)
                self.assertEqual((t, c["status"]), ("execute_reply", "error"), c)
                self.assertIn("deep", c["evalue"])
        self.h.assert_runs(self)

    def test_oversized_message_gets_error_naming_the_limit(self):
        ch, t, c = self.h.request("shell", "inspect_request", {"code": "x" * (65 * 1024 * 1024), "cursor_pos": 0}, timeout=60)
        self.assertEqual((t, c["status"]), ("inspect_reply", "error"), c)
        self.assertIn("MiB", c["evalue"])
        self.h.assert_runs(self)

    # --- control requests are answered on control

    def test_control_requests_answered_on_control(self):
        for msg_type, content in (
            ("kernel_info_request", {}),
            ("execute_request", {"code": "1", "silent": False}),
            ("complete_request", {"code": "Mat", "cursor_pos": 3}),
            ("is_complete_request", {"code": "1"}),
            ("nonsense_request", {}),
        ):
            with self.subTest(msg_type=msg_type):
                msg_id = self.h.send("control", msg_type, content)
                ch, t, c = self.h.wait(msg_id)
                self.assertEqual(ch, "control", (t, c))
                self.h.pump(0.3)
                self.assertFalse([e for e in self.h.seen[msg_id] if e[0] == "shell"], self.h.seen[msg_id])
        self.h.assert_runs(self)

    # --- an input_reply of the wrong shape

    def test_input_reply_value_not_a_string(self):
        for code in ("await input('? ')", "prompt('? ')"):
            with self.subTest(code=code):
                msg_id = self.h.send("shell", "execute_request", {"code": code, "silent": False, "allow_stdin": True})
                deadline = time.time() + 15
                while not any(t == "input_request" for _, t, _ in self.h.seen.get(msg_id, [])) and time.time() < deadline:
                    self.h.pump(0.1)
                hdr = header("input_reply", "fault")
                parts = [json.dumps(hdr).encode(), json.dumps({"msg_id": msg_id}).encode(), b"{}", json.dumps({"value": {"x": 1}}).encode()]
                self.h.socks["stdin"].send_multipart([DELIM, self.h.sign(parts), *parts])
                ch, t, c = self.h.wait(msg_id, timeout=10)
                self.assertEqual(c["status"], "error", c)
                self.assertIn("value", c["evalue"])
        self.h.assert_runs(self)

    # --- a seeded fuzz with interrupts mixed in

    def test_fuzz_with_interrupts(self):
        # FAULT_SEED picks another run (CI uses 20); a failure message names the request and the kernel log.
        rnd = random.Random(int(os.environ.get("FAULT_SEED", "20")))
        cells = [
            "1 + 1",
            "let t0 = Date.now(); while (Date.now() - t0 < 300) {}",
            "await new Promise((r) => setTimeout(r, 200))",
            "while (true) {}",
            'const o = { [Symbol.for("Jupyter.display")]() { while (true) {} } }; o',
            "throw new Error('x')",
            "console.log('out')",
        ]
        def valid():
            t = rnd.choice(["execute", "execute", "inspect", "complete", "history", "is_complete", "comm_info", "kernel_info"])
            if t == "execute":
                ue = {"e": rnd.choice(["1", "while (true) {}", "'s'"])} if rnd.random() < 0.3 else {}
                return "execute_request", {"code": rnd.choice(cells), "silent": False, "user_expressions": ue, "stop_on_error": rnd.random() < 0.5}
            if t in ("inspect", "complete"):
                return f"{t}_request", {"code": "Math.ma", "cursor_pos": rnd.randint(0, 7)}
            if t == "history":
                return "history_request", {"hist_access_type": rnd.choice(["tail", "search", "range"]), "n": 5, "pattern": rnd.choice(["*", "*1*", "*" * 30 + "#"]), "output": False, "raw": True, "session": 0, "start": 1, "stop": 10}
            if t == "is_complete":
                return "is_complete_request", {"code": rnd.choice(["1", "if (x) {", "let a = 1;\n" * 20000])}
            return f"{t}_request", {}
        t0 = time.time()
        pending = {}
        sent = 0
        for i in range(300):
            r = rnd.random()
            if r < 0.12:
                msg_id = self.h.send("control", "interrupt_request", {})
            elif r < 0.45:
                t, c = rnd.choice(MALFORMED)[:2]
                msg_id = self.h.send(rnd.choice(["shell", "shell", "control"]), t, c)
            else:
                t, c = valid()
                msg_id = self.h.send("shell", t, c)
            pending[msg_id] = i
            sent += 1
            if rnd.random() < 0.3:
                self.h.pump(rnd.random() * 0.3)
        # Interrupt until every request has its reply and idle (a cell may loop forever).
        deadline = time.time() + 45
        while time.time() < deadline:
            self.h.pump(0.2)
            left = [m for m in pending if not self.done(m)]
            if not left:
                break
            if rnd.random() < 0.3 and any(self.h.sent[m][1] == "execute_request" for m in left):
                # these interrupts must be answered too, so that none is left to hit the next test's cell
                pending[self.h.send("control", "interrupt_request", {})] = -1
        left = [m for m in pending if not self.done(m)]
        self.assertEqual(left, [], f"{len(left)} of {sent} requests got no reply or no idle: "
                         + "; ".join(f"{self.h.sent[m]} (#{pending[m]}) saw {self.h.seen.get(m)}" for m in left[:5])
                         + f"\nkernel log:\n{self.kernel_log()[-3000:]}")
        self.h.assert_runs(self)
        self.assertLess(time.time() - t0, 60)

    def done(self, msg_id):
        got = self.h.seen.get(msg_id, [])
        idle = any(c == "iopub" and t == "status" and m.get("execution_state") == "idle" for c, t, m in got)
        return idle and any(c in ("shell", "control") for c, _, _ in got)


if __name__ == "__main__":
    unittest.main(verbosity=2)
