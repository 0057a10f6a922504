"""Interrupts: an awaited loop and a synchronous busy loop each stop within
1 s of interrupt_request; the loop's counter stops changing; the kernel keeps
its variables; an interrupted library loop stops between steps."""
import time
import unittest

from helpers import KernelTestCase, collect, execute, result_text


class InterruptTests(KernelTestCase):
    SETUP_CODE = "let counter = 0; const kept = 'still here'; counter"

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

    def test_training_stops_after_current_batch_and_keeps_weights(self):
        # trainCh3 on synthetic data, long enough to be interrupted mid-epoch.
        setup = (
            "const Xs = tf.randomNormal([20000, 20], 0, 1, 'float32', 1);\n"
            "const ys = Xs.slice([0, 0], [-1, 1]).reshape([-1]).greater(0).toInt();\n"
            "const trainIt = d2l.loadArray([Xs, ys], 32);\n"
            "const testIt = d2l.loadArray([Xs.slice([0, 0], [256, 20]), ys.slice([0], [256])], 256, false);\n"
            "const model = tf.sequential({ layers: [tf.layers.dense({ units: 64, inputShape: [20], activation: 'relu' }), tf.layers.dense({ units: 2 })] });\n"
            "const ce = (yHat: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.losses.softmaxCrossEntropy(tf.oneHot(y.toInt(), 2), yHat, undefined, tf.Reduction.NONE);\n"
            "let batchesSeen = 0;\n"
            "const counting = { onBatchEnd: () => { batchesSeen++; } };"
        )
        reply, _ = execute(self.kc, setup)
        self.assertEqual(reply["status"], "ok", reply)
        msg_id = self.kc.execute("await d2l.trainCh3(model, trainIt, testIt, ce, 1000, tf.train.sgd(0.05), { callbacks: [counting] })")
        time.sleep(3.0)
        t0 = time.time()
        self.km.interrupt_kernel()
        reply, outs = collect(self.kc, msg_id, timeout=20)
        elapsed = time.time() - t0
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "Interrupted")
        self.assertLess(elapsed, 1.0, f"interrupt took {elapsed:.2f}s")
        text = "".join(c.get("text", "") for t, c in outs if t == "stream") + reply["evalue"]
        self.assertRegex(text, r"interrupted at epoch \d+, batch \d+")
        reply, outs = execute(self.kc, "batchesSeen")
        seen = int(result_text(outs))
        self.assertGreater(seen, 0)
        time.sleep(0.5)
        reply, outs = execute(self.kc, "batchesSeen")
        self.assertEqual(int(result_text(outs)), seen, "training went on after the interrupt")
        # the model is intact and usable: finite weights, and it still predicts
        reply, outs = execute(self.kc, "model.getWeights().every((w) => w.isNaN().any().dataSync()[0] === 0) && (await d2l.evaluateAccuracy(model, testIt)) > 0.5")
        self.assertEqual(reply["status"], "ok", reply)
        self.assertEqual(result_text(outs), "true")

    def test_next_cell_runs_normally(self):
        self.interrupt_running("while (true) { counter++; }")
        reply, outs = execute(self.kc, "await new Promise((r) => setTimeout(() => r(7), 20))")
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(result_text(outs), "7")


if __name__ == "__main__":
    unittest.main(verbosity=2)
