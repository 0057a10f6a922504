"""Small helpers for driving the d2l-ts kernel from tests."""
import hashlib
import hmac
import time
import uuid
import unittest
from queue import Empty

from jupyter_client.manager import start_new_kernel

KERNEL = "d2l-ts"


def start():
    return start_new_kernel(kernel_name=KERNEL, startup_timeout=90)


class KernelTestCase(unittest.TestCase):
    """One kernel for all the tests of a class (self.km, self.kc), started with
    SETUP_CODE run in it when a class gives one, and shut down after them."""

    SETUP_CODE = None

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start()
        if cls.SETUP_CODE is not None:
            reply, _ = execute(cls.kc, cls.SETUP_CODE)
            assert reply["status"] == "ok", reply

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)


def execute(kc, code, timeout=60, **kw):
    """Run code; return (reply content, list of (msg_type, content)) for this request."""
    msg_id = kc.execute(code, **kw)
    return collect(kc, msg_id, timeout)


def collect(kc, msg_id, timeout=60):
    outs = []
    deadline = time.time() + timeout
    while True:
        m = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
        if m["msg_type"] != "status":
            outs.append((m["msg_type"], m["content"]))
    while True:
        r = kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
        if r["parent_header"].get("msg_id") == msg_id:
            return r["content"], outs


def result_text(outs):
    for t, c in outs:
        if t == "execute_result":
            return c["data"]["text/plain"]
    return None


def drain(kc, seconds=0.2):
    for get in (kc.get_iopub_msg, kc.get_shell_msg):
        while True:
            try:
                get(timeout=seconds)
            except Empty:
                break


# ---- raw wire messages, for the tests that sign their own (test_security, test_fault) ----

DELIM = b"<IDS|MSG>"


def header(msg_type, session="test"):
    """A message header as a client writes it."""
    return {
        "msg_id": uuid.uuid4().hex,
        "session": session,
        "username": "test",
        "date": "2026-01-01T00:00:00Z",
        "msg_type": msg_type,
        "version": "5.3",
    }


def sign(key, parts):
    """The HMAC-SHA256 signature of a message's four JSON parts (bytes)."""
    return hmac.new(key, b"".join(parts), hashlib.sha256).hexdigest().encode()
