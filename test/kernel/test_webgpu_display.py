"""The kernel on the webgpu backend (issue 23), on Mesa's lavapipe (a software
Vulkan driver, set up by test/backend/setup-lavapipe.sh in test-artifacts/):
a cell's result that is a tensor on the GPU shows with the same text as on
cpu, read with `await t.data()` (webgpu cannot read a GPU tensor synchronously
under Node); a user's own dataSync() of one is the one error that names the
await form; a tensor in user_expressions shows too."""
import os
import subprocess
import unittest

from jupyter_client.manager import start_new_kernel

from helpers import KERNEL, execute, result_text

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# 1,600 elements: more than tfjs-backend-webgpu's 1,000-element CPU hand-off, so the result lives on the GPU.
CELL = "const a = tf.range(0, 1600).reshape([40, 40]).mul(0.25).sub(7);\na"


def lavapipe_env():
    """The Vulkan variables for lavapipe (the script reuses a folder already set up)."""
    out = subprocess.run(
        ["bash", "test/backend/setup-lavapipe.sh", "test-artifacts/lavapipe"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"setup-lavapipe.sh failed:\n{out.stderr}")
    env = {}
    for line in out.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            env[k] = v.strip("'\"")
    return env


def kernel(backend, extra=None):
    env = dict(os.environ, D2L_BACKEND=backend, **(extra or {}))
    return start_new_kernel(kernel_name=KERNEL, startup_timeout=90, env=env)


class WebgpuDisplayTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = kernel("webgpu", lavapipe_env())
        # The reference text: the same cell on cpu, in a kernel of its own.
        km, kc = kernel("cpu")
        try:
            reply, outs = execute(kc, CELL)
            assert reply["status"] == "ok", reply
            cls.cpu_text = result_text(outs)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    def test_a_gpu_tensor_result_shows_as_on_cpu(self):
        reply, outs = execute(self.kc, "d2l.backendInfo().name")
        self.assertEqual(result_text(outs), "'webgpu'")
        reply, outs = execute(self.kc, CELL)
        self.assertEqual(reply["status"], "ok", reply)
        text = result_text(outs)
        self.assertEqual(text, self.cpu_text)
        self.assertIn("shape: [40,40]", text)
        self.assertRegex(text, r"\[\[-7\s*,\s*-6\.75\s*,\s*-6\.5")

    def test_a_users_dataSync_of_a_gpu_tensor_names_the_await_form(self):
        reply, _ = execute(self.kc, "tf.ones([40, 40]).mul(2).dataSync()")
        self.assertEqual(reply["status"], "error")
        self.assertIn("cannot read a GPU tensor synchronously in Node", reply["evalue"])
        self.assertIn("use await t.data() or await t.array()", reply["evalue"])
        reply, outs = execute(self.kc, "(await tf.ones([40, 40]).mul(2).data())[1599]")
        self.assertEqual(result_text(outs), "2")

    def test_a_tensor_in_user_expressions_shows(self):
        reply, _ = execute(self.kc, "", user_expressions={"t": "tf.ones([40, 40]).mul(3)"})
        self.assertEqual(reply["status"], "ok", reply)
        t = reply["user_expressions"]["t"]
        self.assertEqual(t["status"], "ok", t)
        self.assertIn("shape: [40,40]", t["data"]["text/plain"])
        self.assertRegex(t["data"]["text/plain"], r"\[\[3\s*,\s*3\s*,")


if __name__ == "__main__":
    unittest.main()
