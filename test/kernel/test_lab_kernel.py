"""What JupyterLab 4 and kernel-testbed ask of the kernel beyond the classic
protocol: typed completions (`_jupyter_types_experimental`), contextual help
(inspect on every cursor move) and the IOPub welcome of JEP 65 (XPUB)."""
import hashlib
import hmac
import json
import re
import statistics
import time
import unittest

import zmq

from helpers import KernelTestCase, execute, start

TYPES_KEY = "_jupyter_types_experimental"


def code_points(s):
    return len(s)  # Python str length counts code points, as Jupyter's cursor_pos does


class CompletionAndInspectTests(KernelTestCase):
    SETUP_CODE = "const someCountForLab = 3;\nclass SomeClassForLab { width = 1 }\nfunction someFunctionForLab() { return 1; }"

    def complete(self, code, cursor_pos=None):
        if cursor_pos is None:
            cursor_pos = code_points(code)
        msg_id = self.kc.complete(code, cursor_pos)
        reply = self.kc.get_shell_msg(timeout=30)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        c = reply["content"]
        self.assertEqual(c["status"], "ok")
        return c

    def inspect(self, code, cursor_pos, detail_level=0):
        msg_id = self.kc.inspect(code, cursor_pos, detail_level)
        reply = self.kc.get_shell_msg(timeout=30)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["status"], "ok")
        return reply["content"]

    def typed(self, c):
        """The matches with their types; checks that the metadata is parallel to matches."""
        types = c["metadata"].get(TYPES_KEY)
        self.assertIsInstance(types, list, "complete_reply has no metadata.%s list" % TYPES_KEY)
        self.assertEqual(len(types), len(c["matches"]))
        for m, t in zip(c["matches"], types):
            self.assertEqual(t["text"], m)
            self.assertEqual(t["start"], c["cursor_start"])
            self.assertEqual(t["end"], c["cursor_end"])
            self.assertIsInstance(t["type"], str)
            self.assertTrue(t["type"])
        return dict(zip(c["matches"], (t["type"] for t in types)))

    def test_d2l_train_functions_are_typed_function(self):
        c = self.complete("d2l.trainC")
        types = self.typed(c)
        for name in ("trainCh3", "trainCh6", "trainCh8", "trainCh11", "trainConciseCh11"):
            self.assertIn(name, types)
            self.assertEqual(types[name], "function", name)
        self.assertEqual(c["cursor_end"] - c["cursor_start"], len("trainC"))

    def test_kinds_variable_class_property_keyword(self):
        self.assertEqual(self.typed(self.complete("someCountFor"))["someCountForLab"], "variable")
        self.assertEqual(self.typed(self.complete("SomeClassFor"))["SomeClassForLab"], "class")
        self.assertEqual(self.typed(self.complete("someFunctionFor"))["someFunctionForLab"], "function")
        self.assertEqual(self.typed(self.complete("new SomeClassForLab().wid"))["width"], "property")
        self.assertEqual(self.typed(self.complete("tf.ones([2]).sha"))["shape"], "property")
        self.assertEqual(self.typed(self.complete("retur"))["return"], "keyword")

    def test_multiline_cell_with_astral_and_accented_characters(self):
        # The cursor is on line 3, after an emoji (2 UTF-16 units, 1 code point) and an é.
        code = 'const label = "🙂 é";\nconst n = 2;\nconst f = d2l.trainC'
        c = self.complete(code)
        start = code_points(code) - len("trainC")
        self.assertEqual((c["cursor_start"], c["cursor_end"]), (start, code_points(code)))
        self.assertEqual(code[c["cursor_start"]:c["cursor_end"]], "trainC")
        self.assertEqual(self.typed(c)["trainCh3"], "function")
        # and with the cursor in the middle of line 3 (code after it)
        code2 = 'const label = "🙂 é";\nconst n = 2;\nd2l.trainC; const m = 1'
        cursor = code2.index("trainC") + len("trainC")
        c2 = self.complete(code2, cursor)
        self.assertEqual(code2[c2["cursor_start"]:c2["cursor_end"]], "trainC")
        self.assertIn("trainCh6", self.typed(c2))

    def test_no_matches_gives_empty_types(self):
        c = self.complete("d2l.zzzNoSuchNameQ")
        self.assertEqual(c["matches"], [])
        self.assertEqual(c["metadata"].get(TYPES_KEY), [])

    def test_inspect_d2l_name_shows_its_tsdoc(self):
        code = "await d2l.trainCh3(net, trainIter, testIter, loss, 10, updater);"
        cursor = code.index("trainCh3") + 3  # inside the name, as a cursor move leaves it
        c = self.inspect(code, cursor, detail_level=0)
        self.assertTrue(c["found"])
        md, plain = c["data"]["text/markdown"], c["data"]["text/plain"]
        self.assertIn("trainCh3(", plain)
        self.assertIn("Train a classifier", plain)
        self.assertIn("Train a classifier", md)
        self.assertIn("```", md)
        # detail_level 0 is short: the signature and the first paragraph, not the whole TSDoc
        self.assertNotIn("@example", plain)
        self.assertLess(len(plain), 1200, plain)
        full = self.inspect(code, cursor, detail_level=1)
        self.assertTrue(full["found"])
        self.assertIn("@example", full["data"]["text/plain"])
        self.assertGreater(len(full["data"]["text/plain"]), len(plain))
        # right after the name also works (Jupyter's cursor after "trainCh3")
        after = self.inspect(code, code.index("trainCh3") + len("trainCh3"))
        self.assertTrue(after["found"])
        self.assertIn("Train a classifier", after["data"]["text/plain"])

    def test_inspect_nothing_clears(self):
        c = self.inspect("   ", 1)
        self.assertFalse(c["found"])
        self.assertEqual(c["data"], {})

    def test_inspect_is_cheap_enough_for_every_cursor_move(self):
        code = "const y = 1;\nawait d2l.trainCh3(net, trainIter, testIter, loss, 10, updater);"
        base = code.index("trainCh3")
        self.inspect(code, base + 1)  # warm
        times = []
        for i in range(20):
            t0 = time.perf_counter()
            c = self.inspect(code, base + 1 + (i % 6))
            times.append(time.perf_counter() - t0)
            self.assertTrue(c["found"])
        median = statistics.median(times)
        print("\n  inspect median over 20: %.1f ms (max %.1f ms)" % (median * 1000, max(times) * 1000))
        self.assertLess(median, 0.25, "inspect median %.0f ms" % (median * 1000))


class IopubWelcomeTests(unittest.TestCase):
    """JEP 65: IOPub is an XPUB socket; every new subscription gets a signed iopub_welcome."""

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start()
        cls.ctx = zmq.Context()
        info = cls.km.get_connection_info()
        cls.key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        cls.url = "%s://%s:%d" % (info["transport"], info["ip"], info["iopub_port"])

    @classmethod
    def tearDownClass(cls):
        cls.ctx.destroy(linger=0)
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    def sub(self, topic=b""):
        s = self.ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SUBSCRIBE, topic)  # before connect, as kernel-testbed does
        s.connect(self.url)
        return s

    def first_message(self, s, timeout_ms=500):
        t0 = time.perf_counter()
        self.assertTrue(s.poll(timeout_ms), "no IOPub message within %d ms of connecting" % timeout_ms)
        frames = s.recv_multipart()
        elapsed = time.perf_counter() - t0
        i = frames.index(b"<IDS|MSG>")
        sig, parts = frames[i + 1], frames[i + 2:i + 6]
        mac = hmac.new(self.key, digestmod=hashlib.sha256)
        for p in parts:
            mac.update(p)
        self.assertEqual(sig.decode(), mac.hexdigest(), "bad signature")
        header, parent, metadata, content = (json.loads(p) for p in parts)
        return frames[:i], header, parent, metadata, content, elapsed

    def test_fresh_subscriber_gets_welcome_within_500ms(self):
        s = self.sub()
        try:
            idents, header, parent, metadata, content, elapsed = self.first_message(s)
            self.assertEqual(header["msg_type"], "iopub_welcome")
            for k in ("msg_id", "username", "session", "msg_type", "version"):
                self.assertIn(k, header)
            self.assertEqual(parent, {})
            self.assertEqual(metadata, {})
            self.assertEqual(content, {"subscription": ""})
            self.assertEqual(idents, [b""])
            self.assertLess(elapsed, 0.5)
        finally:
            s.close()

    def test_every_new_subscriber_gets_its_own_welcome(self):
        # the notebook server (self.kc) is already subscribed to "": a second and third "" still get one each
        a = self.sub()
        b = self.sub()
        try:
            for s in (a, b):
                self.assertEqual(self.first_message(s)[1]["msg_type"], "iopub_welcome")
        finally:
            a.close()
            b.close()

    def test_topic_subscription_welcome_carries_the_topic(self):
        s = self.sub(b"kernel.")
        try:
            idents, header, _, _, content, _ = self.first_message(s)
            self.assertEqual(header["msg_type"], "iopub_welcome")
            self.assertEqual(content, {"subscription": "kernel."})
            self.assertEqual(idents, [b"kernel."])
        finally:
            s.close()

    def test_other_iopub_messages_unchanged(self):
        s = self.sub()
        try:
            self.first_message(s)
            reply, outs = execute(self.kc, 'console.log("after welcome")')
            self.assertEqual(reply["status"], "ok")
            self.assertIn(("stream", {"name": "stdout", "text": "after welcome\n"}), outs)
            seen = []
            while s.poll(1000):
                frames = s.recv_multipart()
                i = frames.index(b"<IDS|MSG>")
                header = json.loads(frames[i + 2])
                seen.append((frames[:i], header["msg_type"]))
                if header["msg_type"] == "status" and json.loads(frames[i + 5])["execution_state"] == "idle":
                    break
            types = [t for _, t in seen]
            self.assertIn("execute_input", types)
            self.assertIn("stream", types)
            self.assertNotIn("iopub_welcome", types)
            for idents, t in seen:
                self.assertEqual(idents, [t.encode()])
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
