"""Outputs of GPU tensors in the middle of a cell (issue 23), on webgpu under
Mesa's lavapipe: `display(t)`, a plot's `.show()`, `handle.update(t)` and
`console.log(t)` of a tensor that lives on the GPU. display() and the plot
read their values with `await` behind the scenes; the outputs still come in
the cell's order, all before the cell's result (and so before its reply,
which the kernel sends before idle); console.log says how to see the values
instead of failing."""
import re
import unittest

from helpers import execute, result_text
from test_webgpu_display import kernel, lavapipe_env

VEGALITE = "application/vnd.vegalite.v5+json"

# 1,600 elements: more than tfjs-backend-webgpu's 1,000-element CPU hand-off, so each result lives on the GPU.
SETUP = "const t = tf.range(0, 1600).mul(0.5);"
CELL = "display(t.add(1));\nd2l.plot(t.sqrt()).show();\nconsole.log(t.neg());\n42"
UPDATE = 'const h = display(t.add(2));\nconsole.log("between");\nh.update(t.add(3));\ndisplay(tf.tensor([7, 8]));\n"end"'


def ys_of(spec):
    """The y values of a vega-lite line spec's data, wherever its data sits."""
    found = []

    def walk(v):
        if isinstance(v, dict):
            if "values" in v and isinstance(v["values"], list):
                found.extend(p["y"] for p in v["values"] if isinstance(p, dict) and "y" in p)
            for w in v.values():
                if isinstance(w, (dict, list)):
                    walk(w)
        elif isinstance(v, list):
            for w in v:
                walk(w)

    walk(spec)
    return found


def values(text):
    """The numbers a tensor's text/plain shows after its header."""
    body = text.split("\n", 4)[-1]
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", body)]


class WebgpuOutputOrderTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = kernel("webgpu", lavapipe_env())
        reply, _ = execute(cls.kc, SETUP)
        assert reply["status"] == "ok", reply

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    def test_display_plot_and_console_log_of_gpu_tensors_come_in_order(self):
        reply, outs = execute(self.kc, "d2l.backendInfo().name")
        self.assertEqual(result_text(outs), "'webgpu'")
        reply, outs = execute(self.kc, CELL, timeout=120)
        self.assertEqual(reply["status"], "ok", reply)
        kinds = [k for k, _ in outs if k != "execute_input"]
        self.assertEqual(kinds, ["display_data", "display_data", "stream", "execute_result"], outs)
        shown = [c for k, c in outs if k != "execute_input"]
        tensor = shown[0]["data"]["text/plain"]
        self.assertIn("shape: [1600]", tensor)
        self.assertEqual(values(tensor)[:3], [1, 1.5, 2])
        plot = shown[1]["data"]
        self.assertIn(VEGALITE, plot)
        self.assertIn("image/png", plot)
        self.assertRegex(plot["text/plain"], r"^<plot: 1 series; 1600 points; x 0\.\.1599, y 0\.\.28\.2")
        ys = ys_of(plot[VEGALITE])
        self.assertEqual(len(ys), 1600, "every point of the series is in the spec")
        self.assertAlmostEqual(ys[0], 0)
        self.assertAlmostEqual(ys[-1], 799.5**0.5, places=4)
        self.assertEqual(shown[2]["name"], "stdout")
        self.assertEqual(shown[2]["text"], "Tensor float32 [1600] (on the GPU: display(t) or await t.array() shows its values)\n")
        self.assertEqual(shown[3]["data"]["text/plain"], "42")

    def test_update_and_a_host_tensor_keep_their_place_behind_a_gpu_read(self):
        reply, outs = execute(self.kc, UPDATE, timeout=120)
        self.assertEqual(reply["status"], "ok", reply)
        shown = [(k, c) for k, c in outs if k != "execute_input"]
        self.assertEqual([k for k, _ in shown], ["display_data", "stream", "update_display_data", "display_data", "execute_result"], outs)
        first, update = shown[0][1], shown[2][1]
        self.assertEqual(first["transient"]["display_id"], update["transient"]["display_id"])
        self.assertEqual(values(first["data"]["text/plain"])[:2], [2, 2.5])
        self.assertEqual(values(update["data"]["text/plain"])[:2], [3, 3.5])
        self.assertEqual(shown[1][1]["text"], "between\n")
        self.assertIn("[7, 8]", shown[3][1]["data"]["text/plain"])
        self.assertEqual(shown[4][1]["data"]["text/plain"], "'end'")

    def test_a_pending_figure_as_the_result_and_its_sync_bundle(self):
        reply, outs = execute(self.kc, "d2l.plot(t.square())", timeout=120)
        self.assertEqual(reply["status"], "ok", reply)
        self.assertRegex(result_text(outs), r"^<plot: 1 series; 1600 points; x 0\.\.1599, y 0\.\.6\.392e\+5>$")
        reply, _ = execute(self.kc, "d2l.plot(t.square()).bundle()")
        self.assertEqual(reply["status"], "error")
        self.assertIn("await fig.ready() first", reply["evalue"])
        reply, outs = execute(self.kc, "(await d2l.plot(t.square()).ready()).bundle()['text/plain']")
        self.assertEqual(reply["status"], "ok", reply)
        self.assertRegex(result_text(outs), r"1600 points")


if __name__ == "__main__":
    unittest.main()
