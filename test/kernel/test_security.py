"""Signatures and robustness: a message signed with the wrong key gets no
reply and does not hurt the kernel; 2,000+ malformed or truncated messages on
the shell socket leave it answering kernel_info."""
import json
import random
import time
import unittest
import uuid

import zmq

from helpers import DELIM, header, sign, start

def frames(key, msg_type, content=None, hdr=None):
    parts = [json.dumps(p).encode() for p in (hdr or header(msg_type, "fuzz"), {}, {}, content or {})]
    return [DELIM, sign(key, parts), *parts]


class SecurityTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start()
        info = cls.km.get_connection_info()
        cls.key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        cls.shell_url = f"tcp://{info['ip']}:{info['shell_port']}"
        cls.ctx = zmq.Context()

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)
        cls.ctx.term()

    def dealer(self):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.IDENTITY, uuid.uuid4().hex.encode())
        s.connect(self.shell_url)
        time.sleep(0.2)
        return s

    def kernel_info(self, sock, timeout=10):
        sock.send_multipart(frames(self.key, "kernel_info_request"))
        if not sock.poll(timeout * 1000):
            return None
        reply = sock.recv_multipart()
        i = reply.index(DELIM)
        return json.loads(reply[i + 2])["msg_type"]

    def test_wrong_key_gets_no_reply(self):
        s = self.dealer()
        try:
            s.send_multipart(frames(b"not-the-key", "kernel_info_request"))
            s.send_multipart(frames(b"not-the-key", "execute_request", {"code": "process.exit(3)", "silent": False}))
            self.assertEqual(s.poll(1500), 0, "the kernel answered a message signed with the wrong key")
            self.assertTrue(self.km.is_alive())
            self.assertEqual(self.kernel_info(s), "kernel_info_reply")
        finally:
            s.close()

    def test_fuzz_malformed_messages(self):
        rnd = random.Random(1234)
        s = self.dealer()
        good = frames(self.key, "execute_request", {"code": "1"})
        sent = 0
        try:
            for i in range(2400):
                kind = i % 8
                if kind == 0:  # random bytes, no delimiter
                    msg = [rnd.randbytes(rnd.randint(0, 64)) for _ in range(rnd.randint(1, 6))]
                elif kind == 1:  # truncated after the delimiter
                    msg = good[: rnd.randint(1, 5)]
                elif kind == 2:  # flipped byte in a signed part
                    msg = list(good)
                    j = rnd.randint(2, 5)
                    b = bytearray(msg[j])
                    if b:
                        b[rnd.randrange(len(b))] ^= 0xFF
                    msg[j] = bytes(b)
                elif kind == 3:  # correctly signed, invalid JSON
                    parts = [b"{not json", b"{}", b"{}", b"{}"]
                    sig = sign(self.key, parts)
                    msg = [DELIM, sig, *parts]
                elif kind == 4:  # correctly signed, JSON of the wrong shape
                    parts = [json.dumps(rnd.choice([[], 1, "x", None, {"msg_type": 5}])).encode(), b"[]", b"null", b"7"]
                    sig = sign(self.key, parts)
                    msg = [DELIM, sig, *parts]
                elif kind == 5:  # signed, unknown message type and odd content
                    msg = frames(self.key, rnd.choice(["nope_request", "", "execute_reply", "complete_request"]),
                                 {"code": 5, "cursor_pos": "x"})
                elif kind == 6:  # signed, huge or odd fields
                    msg = frames(self.key, "is_complete_request", {"code": rnd.choice([None, [], {}, "x" * 10000])})
                else:  # signed history request with nonsense
                    msg = frames(self.key, "history_request", {"hist_access_type": rnd.choice(["tail", "range", "search", "??"]),
                                                              "n": rnd.choice([None, -1, "a", 10**12]), "pattern": "[*"})
                s.send_multipart(msg)
                sent += 1
            self.assertGreaterEqual(sent, 2000)
            # Drain whatever replies the well-formed ones earned, then ask.
            deadline = time.time() + 60
            while s.poll(200) and time.time() < deadline:
                s.recv_multipart()
            self.assertTrue(self.km.is_alive(), "the kernel died under fuzzing")
            self.assertEqual(self.kernel_info(s, timeout=30), "kernel_info_reply")
        finally:
            s.close()
        # The regular client still works, and code still runs.
        msg_id = self.kc.execute("40 + 2")
        while True:
            r = self.kc.get_shell_msg(timeout=30)
            if r["parent_header"].get("msg_id") == msg_id:
                break
        self.assertEqual(r["content"]["status"], "ok")


if __name__ == "__main__":
    unittest.main(verbosity=2)
