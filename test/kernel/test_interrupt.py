"""Interrupts: an awaited loop and a synchronous busy loop each stop within
1 s of interrupt_request; the loop's counter stops changing; the kernel keeps
its variables; an interrupted library loop stops between steps."""
import time
import unittest

from helpers import collect, execute, result_text, start


class InterruptTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start()
        reply, _ = execute(cls.kc, "let counter = 0; const kept = 'still here'; counter")
        assert reply["status"] == "ok", reply

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    def counter(self):
        reply, outs = execute(self.kc, "counter")
        self.assertEqual(reply["status"], "ok")
        return int(result_text(outs))

    def interrupt_running(self, code):
        execute(self.kc, "counter = 0")
        msg_id = self.kc.execute(code)
        time.sleep(1.5)  # let it run
        t0 = time.time()
        self.km.interrupt_kernel()
        reply, outs = collect(self.kc, msg_id, timeout=10)
        elapsed = time.time() - t0
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "Interrupted")
        self.assertTrue(any(t == "error" and c["ename"] == "Interrupted" for t, c in outs), outs)
        self.assertLess(elapsed, 1.0, f"interrupt took {elapsed:.2f}s")
        first = self.counter()
        self.assertGreater(first, 0, "the loop never ran")
        time.sleep(0.5)
        self.assertEqual(self.counter(), first, "the interrupted loop kept running")
        reply, outs = execute(self.kc, "kept")
        self.assertEqual(result_text(outs), "'still here'")
        return elapsed

    def test_awaited_loop(self):
        self.interrupt_running("while (true) { counter++; await new Promise((r) => setTimeout(r, 5)); }")

    def test_sync_busy_loop(self):
        self.interrupt_running("while (true) { counter++; }")

    def test_sync_loop_after_await(self):
        self.interrupt_running("await new Promise((r) => setTimeout(r, 10));\nwhile (true) { counter++; }")

    def test_background_interval_stops(self):
        # A timer the interrupted cell started must not keep firing.
        self.interrupt_running("setInterval(() => { counter++; }, 5);\nawait new Promise(() => {});")

    def test_library_loop_sees_interrupt(self):
        # An interrupt guard is what trainCh3 and friends check once per batch.
        # The step here is synchronous and nothing in the loop awaits, so only
        # the guard can stop it short of terminating the thread: it runs in a
        # setImmediate chain started by a finished cell.
        execute(self.kc, "let steps = 0")
        execute(self.kc, "const guard = d2l.interruptGuard();\nconst loop = () => { guard.check(); steps++; setImmediate(loop); };\nsetImmediate(loop);")
        msg_id = self.kc.execute("await new Promise(() => {})")
        time.sleep(1.0)
        self.km.interrupt_kernel()
        reply, _ = collect(self.kc, msg_id, timeout=10)
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "Interrupted")
        reply, outs = execute(self.kc, "steps")
        n = int(result_text(outs))
        self.assertGreater(n, 0)
        time.sleep(0.3)
        reply, outs = execute(self.kc, "steps")
        self.assertEqual(int(result_text(outs)), n)

    def test_next_cell_runs_normally(self):
        self.interrupt_running("while (true) { counter++; }")
        reply, outs = execute(self.kc, "await new Promise((r) => setTimeout(() => r(7), 20))")
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(result_text(outs), "7")


if __name__ == "__main__":
    unittest.main(verbosity=2)
