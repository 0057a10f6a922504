"""The kernel's memory limit (issue 20): a cell that allocates without bound ends
with an error that names memory (what was used, the limit and where it came
from, the tensors alive, what to do), and the kernel answers the next cell.
Before the limit existed the kernel died (V8 aborted at its heap limit, about
4.2 GB) and the client was told nothing.

Each class starts its own kernel from a kernelspec written here: the installed
d2l-ts argv with the limit given as an option, through D2L_MEMORY_LIMIT, or
without the kernelspec's raised V8 heap limit (a kernel started by hand)."""
import json
import os
import re
import shutil
import tempfile
import time
import unittest

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from helpers import KERNEL, execute, result_text

LIMIT = "600M"
LIMIT_MIB = 600

# An array declared in an earlier cell keeps what it holds after the cell is stopped,
# as a student's list of results would: the next cell must still run. (A stopped
# cell's own declarations are not carried to later cells, as after any interrupt.)
JS_HEAP_SETUP = "const keep: number[][] = [];"
JS_HEAP_CELL = "for (let i = 0; ; i++) keep.push(new Array(100_000).fill(i));"

# 1 MiB tensors that nobody disposes: memory outside V8's heap.
TENSOR_SETUP = "const leaked: tf.Tensor[] = [];"
TENSOR_CELL = "for (;;) leaked.push(tf.ones([256, 1024]));"


def kernelspec(tmp, name, extra_argv=(), drop_heap_flag=False):
    """Write a kernelspec `name` under tmp from the installed d2l-ts one; return its manager."""
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    argv = list(spec.argv)
    if drop_heap_flag:
        argv = [a for a in argv if not a.startswith("--max-old-space-size")]
    i = argv.index("kernel") + 1
    argv[i:i] = list(extra_argv)
    d = os.path.join(tmp, "kernels", name)
    os.makedirs(d)
    with open(os.path.join(d, "kernel.json"), "w") as f:
        json.dump({"argv": argv, "display_name": name, "language": "typescript",
                   "interrupt_mode": "message", "env": {}}, f)
    return KernelSpecManager(kernel_dirs=[os.path.join(tmp, "kernels")], ensure_native_kernel=False)


class MemoryCase(unittest.TestCase):
    EXTRA_ARGV = ()
    ENV = {}
    DROP_HEAP_FLAG = False

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="d2l-memory-")
        name = "d2l-ts-memory"
        ksm = kernelspec(cls.tmp, name, cls.EXTRA_ARGV, cls.DROP_HEAP_FLAG)
        cls.km = KernelManager(kernel_name=name, kernel_spec_manager=ksm)
        env = dict(os.environ)
        env.pop("D2L_MEMORY_LIMIT", None)
        env.update(cls.ENV)
        cls.km.start_kernel(env=env)
        cls.kc = cls.km.client()
        cls.kc.start_channels()
        cls.kc.wait_for_ready(timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_out_of_memory(self, code, setup=None):
        """Run a cell that allocates without bound; return its error (reply and output agree)."""
        if setup is not None:
            reply, _ = execute(self.kc, setup, timeout=60)
            self.assertEqual(reply["status"], "ok", reply)
        reply, outs = execute(self.kc, code, timeout=120)
        self.assertTrue(self.km.is_alive(), "the kernel died instead of stopping the cell")
        self.assertEqual(reply["status"], "error", reply)
        errors = [c for t, c in outs if t == "error"]
        self.assertEqual(len(errors), 1, outs)
        self.assertEqual(errors[0]["ename"], reply["ename"])
        self.assertEqual(errors[0]["evalue"], reply["evalue"])
        self.assertEqual(reply["ename"], "MemoryError", reply)
        return reply["evalue"]

    def assert_answers(self):
        reply, outs = execute(self.kc, "1 + 1", timeout=60)
        self.assertEqual(reply["status"], "ok", reply)
        self.assertEqual(result_text(outs), "2")

    def tensors_alive(self, text):
        m = re.search(r"Tensors alive: (\d+) holding ([\d.]+ (?:B|KiB|MiB|GiB))", text)
        self.assertIsNotNone(m, text)
        return int(m.group(1))


class MemoryLimitFromEnv(MemoryCase):
    ENV = {"D2L_MEMORY_LIMIT": LIMIT}

    def test_js_heap_loop_is_stopped_and_the_kernel_answers(self):
        text = self.run_out_of_memory(JS_HEAP_CELL, JS_HEAP_SETUP)
        used = re.search(r"The kernel used (\d+) MiB of memory, over its limit of (\d+) MiB \(set by D2L_MEMORY_LIMIT=600M\)", text)
        self.assertIsNotNone(used, text)
        self.assertGreater(int(used.group(1)), LIMIT_MIB)
        self.assertEqual(int(used.group(2)), LIMIT_MIB)
        # Stopped near the limit, not at the machine's end.
        self.assertLess(int(used.group(1)), LIMIT_MIB + 400)
        for advice in ("tf.tidy", "tf.dispose", "smaller batch", "--memory-limit", "D2L_MEMORY_LIMIT"):
            self.assertIn(advice, text)
        self.tensors_alive(text)
        # The array the cell kept is still there, and the kernel runs cells with it.
        self.assert_answers()
        reply, outs = execute(self.kc, "keep.length > 100", timeout=60)
        self.assertEqual((reply["status"], result_text(outs)), ("ok", "true"), reply)
        reply, _ = execute(self.kc, "keep.length = 0;", timeout=60)
        self.assertEqual(reply["status"], "ok", reply)

    def test_tensor_loop_names_the_tensors(self):
        reply, outs = execute(self.kc, "tf.memory().numTensors", timeout=60)
        self.assertEqual(reply["status"], "ok", reply)
        before = int(result_text(outs))
        text = self.run_out_of_memory(TENSOR_CELL, TENSOR_SETUP)
        self.assertIn("over its limit of 600 MiB", text)
        # 1 MiB each: dozens at least, whatever the rest of the kernel holds.
        self.assertGreater(self.tensors_alive(text), before + 30)
        self.assert_answers()
        reply, outs = execute(self.kc, "tf.dispose(leaked); leaked.length = 0; tf.memory().numTensors", timeout=60)
        self.assertEqual(reply["status"], "ok", reply)
        self.assertEqual(int(result_text(outs)), before)
        self.assert_answers()


class FastAllocationStoppedSoon(MemoryCase):
    """The class hub's test cell: 64 MiB buffers as fast as memory can be filled
    (one every 20 ms or so). A stop lands between two of them at best, so the
    loop may run one buffer past the one that crossed the limit: 128 MiB over
    it. The hub's container kills the kernel at 4/3 of its limit (768 MiB for
    576), 192 MiB over: the peak must stay within those two buffers. Measured
    here: about 600 MiB, at times 660; it was 663 to 680 when the watchdog
    waited 50 ms for the main thread before stopping a loop that still grows."""

    ENV = {"D2L_MEMORY_LIMIT": "576M"}

    def test_peak_stays_near_the_limit(self):
        for code in ("tf.add(1, 2).dataSync()[0]", "process.env.HOME"):
            reply, _ = execute(self.kc, code, timeout=60)
            self.assertEqual(reply["status"], "ok", reply)
        time.sleep(0.5)  # idle: the kernel prepares the next cell's compile meanwhile
        text = self.run_out_of_memory("const hog: Buffer[] = []; for (let i = 0; i < 24; i++) hog.push(Buffer.alloc(64 * 2 ** 20, 1)); hog.length")
        self.assertIn("over its limit of 576 MiB", text)
        with open(f"/proc/{self.km.provisioner.process.pid}/status") as f:
            peak_kib = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
        self.assertLess(peak_kib / 1024, 576 + 128, f"the loop ran on to {peak_kib // 1024} MiB, past the limit by more than two 64 MiB buffers: a container with a third more than the limit kills the kernel")
        self.assert_answers()


class MemoryLimitFromOption(MemoryCase):
    EXTRA_ARGV = ("--memory-limit", LIMIT)
    ENV = {"D2L_MEMORY_LIMIT": "50G"}  # the option wins

    def test_option_is_the_limit(self):
        text = self.run_out_of_memory(JS_HEAP_CELL, JS_HEAP_SETUP)
        self.assertIn("over its limit of 600 MiB (set by --memory-limit 600M)", text)
        self.assert_answers()


class HeapLimitOfV8(MemoryCase):
    """A kernel without the kernelspec's raised heap (started by hand, or NODE_OPTIONS
    capping it, as the grader's sandbox does) and a limit above V8's heap: V8 would abort
    the process; the kernel stops the cell first and says it was V8's heap."""
    DROP_HEAP_FLAG = True
    ENV = {"NODE_OPTIONS": "--max-old-space-size=512", "D2L_MEMORY_LIMIT": "8G"}

    def test_v8_heap_limit_is_reported_not_an_abort(self):
        text = self.run_out_of_memory(JS_HEAP_CELL, JS_HEAP_SETUP)
        self.assertIn("V8's heap limit", text)
        self.assertIn("--max-old-space-size", text)
        self.assertIn("(set by D2L_MEMORY_LIMIT=8G)", text)
        self.assert_answers()
        # What the first cell kept is freed, and a second runaway cell is stopped too, not an abort.
        # (Not with most of the 512 MB heap still kept: then compiling the next cell, which the
        # watchdog never interrupts, can itself run V8 out of heap; a fresh-clone CI run saw that abort.)
        reply, _ = execute(self.kc, "keep.length = 0;", timeout=60)
        self.assertEqual(reply["status"], "ok", reply)
        text = self.run_out_of_memory("const more: number[][] = []; for (;;) more.push(new Array(100_000).fill(1));")
        self.assertIn("V8's heap limit", text)
        self.assert_answers()


if __name__ == "__main__":
    unittest.main()
