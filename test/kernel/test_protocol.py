"""Protocol behaviour beyond the conformance suite: results and rich
display, strict typing across cells, stop_on_error both ways, stdin,
comms, user_expressions, display updates, shutdown with restart."""
import time
import unittest

from helpers import KernelTestCase, collect, drain, execute, result_text, start


class ProtocolTests(KernelTestCase):
    def test_tensor_result_like_print(self):
        reply, outs = execute(self.kc, "const x = tf.ones([2, 3]); x")
        self.assertEqual(reply["status"], "ok")
        text = result_text(outs)
        self.assertIn("dtype: float32", text)
        self.assertIn("shape: [2,3]", text)
        self.assertIn("[[1, 1, 1],", text)

    def test_types_carry_across_cells_and_strict(self):
        execute(self.kc, "let typed: number = 3")
        reply, outs = execute(self.kc, 'typed = "text"')
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "CompileError")
        self.assertIn("line 1, column 1", reply["evalue"])
        # strict: implicit any is an error
        reply, _ = execute(self.kc, "function loose(a) { return a; }")
        self.assertEqual(reply["status"], "error")
        self.assertIn("implicitly has an 'any' type", reply["evalue"])
        # and the kernel goes on
        reply, outs = execute(self.kc, "typed + 1")
        self.assertEqual(result_text(outs), "4")

    def test_symbol_display_bundle(self):
        code = (
            "const plot = { [Symbol.for('Jupyter.display')]() { return {\n"
            "  'text/plain': 'a plot',\n"
            "  'application/vnd.vegalite.v5+json': { mark: 'point', data: { values: [] } },\n"
            "}; } };\nplot"
        )
        reply, outs = execute(self.kc, code)
        self.assertEqual(reply["status"], "ok")
        data = [c for t, c in outs if t == "execute_result"][0]["data"]
        self.assertEqual(data["text/plain"], "a plot")
        self.assertIsInstance(data["application/vnd.vegalite.v5+json"], dict)

    def test_display_handle_update(self):
        reply, outs = execute(self.kc, "const h = display('first');\nh.update('second');\nh.displayId")
        self.assertEqual(reply["status"], "ok")
        kinds = [t for t, _ in outs]
        self.assertIn("display_data", kinds)
        self.assertIn("update_display_data", kinds)
        shown = [c for t, c in outs if t == "display_data"][0]
        updated = [c for t, c in outs if t == "update_display_data"][0]
        self.assertEqual(shown["transient"]["display_id"], updated["transient"]["display_id"])
        self.assertEqual(updated["data"]["text/plain"], "'second'")

    def test_live_plot_final_state_lands_before_idle(self):
        # A user's own loop never calls animator.finish(): the kernel runs it at
        # the end of the cell, so the last update (with its PNG) comes before idle.
        code = (
            "const an = new d2l.Animator({ xlabel: 'epoch', legend: ['a'] });\n"
            "for (let i = 0; i < 25; i++) { an.add(i, [i * i]); await new Promise((r) => setTimeout(r, 20)); }"
        )
        msg_id = self.kc.execute(code)
        reply, outs = collect(self.kc, msg_id)
        self.assertEqual(reply["status"], "ok")
        plots = [c for t, c in outs if t in ("display_data", "update_display_data")]
        self.assertTrue(plots)
        last = plots[-1]["data"]
        self.assertIn("epoch 24", last["text/plain"])
        self.assertIn("image/png", last)
        self.assertNotIn("text/html", last)
        # and nothing for this cell arrives after idle (clients would drop it)
        late = []
        deadline = time.time() + 2.0
        while time.time() < deadline:
            try:
                m = self.kc.get_iopub_msg(timeout=0.2)
            except Exception:
                continue
            if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] != "status":
                late.append(m["msg_type"])
        self.assertEqual(late, [])

    def test_runtime_error_traceback_in_cell_lines(self):
        reply, outs = execute(self.kc, "const arr = [1, 2];\n\nfunction bad(): number {\n  return (null as unknown as { x: number }).x;\n}\nbad()")
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "TypeError")
        tb = "\n".join(reply["traceback"])
        self.assertRegex(tb, r"<cell \d+>:4:")
        self.assertRegex(tb, r"<cell \d+>:6:")

    def test_stop_on_error_aborts_queued_cells(self):
        drain(self.kc)
        a = self.kc.execute("await new Promise((r) => setTimeout(r, 300)); throw new Error('first fails')")
        b = self.kc.execute("globalThis.ranAfterError = true")
        ra, _ = collect(self.kc, a)
        rb, _ = collect(self.kc, b)
        self.assertEqual(ra["status"], "error")
        self.assertEqual(rb["status"], "aborted")
        _, outs = execute(self.kc, "(globalThis as any).ranAfterError === true")
        self.assertEqual(result_text(outs), "false")

    def test_stop_on_error_false_runs_queued_cells(self):
        drain(self.kc)
        a = self.kc.execute("await new Promise((r) => setTimeout(r, 300)); throw new Error('fails')", stop_on_error=False)
        b = self.kc.execute("let afterError = 'ran'; afterError")
        ra, _ = collect(self.kc, a)
        rb, outs = collect(self.kc, b)
        self.assertEqual(ra["status"], "error")
        self.assertEqual(rb["status"], "ok")
        self.assertEqual(result_text(outs), "'ran'")

    def test_input_over_stdin(self):
        drain(self.kc)
        msg_id = self.kc.execute("const answer = await input('Your name: '); answer.toUpperCase()", allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=30)
        self.assertEqual(req["msg_type"], "input_request")
        self.assertEqual(req["content"]["prompt"], "Your name: ")
        self.kc.input("ada")
        reply, outs = collect(self.kc, msg_id)
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(result_text(outs), "'ADA'")

    def test_input_refused_without_stdin(self):
        reply, _ = execute(self.kc, "await input('x')", allow_stdin=False)
        self.assertEqual(reply["status"], "error")
        self.assertIn("allow_stdin", reply["evalue"])

    def test_user_expressions(self):
        reply, _ = execute(self.kc, "const ue = 21", user_expressions={"double": "ue * 2", "bad": "nope.nope"})
        self.assertEqual(reply["user_expressions"]["double"]["data"]["text/plain"], "42")
        self.assertEqual(reply["user_expressions"]["bad"]["status"], "error")

    def test_silent_execution(self):
        reply, outs = execute(self.kc, "1 + 1", silent=True)
        self.assertEqual(reply["status"], "ok")
        self.assertEqual([t for t, _ in outs if t in ("execute_input", "execute_result")], [])

    def test_comms(self):
        msg_id = self.kc.comm_info()
        r = self.kc.get_shell_msg(timeout=10)
        self.assertEqual(r["msg_type"], "comm_info_reply")
        self.assertEqual(r["content"]["comms"], {})
        # An open for an unknown target is answered by closing the comm.
        drain(self.kc)
        msg = self.kc.session.msg("comm_open", {"comm_id": "c1", "target_name": "nobody", "data": {}})
        self.kc.shell_channel.send(msg)
        deadline = time.time() + 10
        closed = False
        while time.time() < deadline and not closed:
            m = self.kc.get_iopub_msg(timeout=10)
            closed = m["msg_type"] == "comm_close" and m["content"]["comm_id"] == "c1"
        self.assertTrue(closed)

    def test_is_complete_indent(self):
        self.kc.is_complete("if (true) {")
        r = self.kc.get_shell_msg(timeout=10)
        self.assertEqual(r["content"]["status"], "incomplete")
        self.assertIn("indent", r["content"])


class StartTests(unittest.TestCase):
    """The kernel answers kernel_info before it loads the compiler, tf and d2l
    (kernel/session.ts start()); cells sent while that load runs wait for it."""

    def test_cells_sent_while_loading_run_in_order_and_see_tf_and_d2l(self):
        km, kc = start()  # returns at the first kernel_info_reply: the prelude is still loading
        try:
            ids = [
                kc.execute("typeof tf.ones + ' ' + typeof d2l.seed"),
                kc.execute("let early = tf.tensor([1, 2, 3]).sum().dataSync()[0]; early"),
                kc.execute("early + 1"),
            ]
            info = kc.kernel_info()
            replies = []
            deadline = time.time() + 90
            while len(replies) < 4:
                r = kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
                if r["parent_header"].get("msg_id") in ids + [info]:
                    replies.append(r)
            # kernel_info is answered by the protocol thread while the cells wait for the load.
            self.assertEqual([r["parent_header"]["msg_id"] for r in replies], [info] + ids)
            self.assertEqual(replies[0]["msg_type"], "kernel_info_reply")
            self.assertEqual([r["content"]["status"] for r in replies[1:]], ["ok", "ok", "ok"])
            self.assertEqual([r["content"]["execution_count"] for r in replies[1:]], [1, 2, 3])
            results = {}
            while len(results) < 3:
                m = kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
                if m["msg_type"] == "execute_result":
                    results[m["parent_header"]["msg_id"]] = m["content"]["data"]["text/plain"]
            self.assertEqual([results[i] for i in ids], ["'function function'", "6", "7"])
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    def test_cell_sent_first_without_kernel_info_runs(self):
        # A client that sends a cell before (or without) any kernel_info_request: the cell starts
        # the load (protocol.ts contact()) and runs once tf and d2l are there.
        from jupyter_client.manager import KernelManager

        km = KernelManager(kernel_name="d2l-ts")
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            reply, outs = execute(kc, "typeof tf.ones + ' ' + typeof d2l.seed", timeout=90)
            self.assertEqual(reply["status"], "ok", reply)
            self.assertEqual(result_text(outs), "'function function'")
            self.assertEqual(reply["execution_count"], 1)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    def test_warm_up_compiles_leave_no_trace(self):
        # While idle after the prelude the kernel compiles (never runs) a few cells of its own
        # (session.ts WARM_UP_CELLS, which declare `warm`, `n`, `twice`): none may be visible.
        km, kc = start()
        try:
            reply, _ = execute(kc, "1")
            self.assertEqual(reply["status"], "ok")
            time.sleep(3)  # the warm-up runs now, one compile per task
            reply, outs = execute(kc, "typeof warm")
            self.assertEqual(reply["status"], "error")
            self.assertEqual(reply["ename"], "CompileError")
            self.assertIn("Cannot find name 'warm'", reply["evalue"])
            reply, outs = execute(kc, "const warm = 5;\nlet n = warm + 1;\nfunction twice(x: number): number {\n  return 2 * x;\n}\ntwice(n)")
            self.assertEqual(reply["status"], "ok", reply)
            self.assertEqual(result_text(outs), "12")
            self.assertEqual(reply["execution_count"], 3)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


class RestartTests(unittest.TestCase):
    def test_shutdown_with_restart(self):
        km, kc = start()
        try:
            execute(kc, "let before = 1")
            km.restart_kernel(now=False)
            kc.wait_for_ready(timeout=60)
            reply, outs = execute(kc, "typeof (globalThis as any).before")
            self.assertEqual(reply["status"], "ok")
            reply, outs = execute(kc, "1 + 1")
            self.assertEqual(result_text(outs), "2")
            self.assertEqual(reply["execution_count"], 2)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    def test_shutdown_exits_process(self):
        km, kc = start()
        kc.shutdown()  # sent on the control channel; the reply comes back there
        r = kc.get_control_msg(timeout=10)
        self.assertEqual(r["msg_type"], "shutdown_reply")
        self.assertEqual(r["content"]["restart"], False)
        deadline = time.time() + 10
        while km.is_alive() and time.time() < deadline:
            time.sleep(0.1)
        self.assertFalse(km.is_alive())
        kc.stop_channels()
        km.cleanup_resources()


if __name__ == "__main__":
    unittest.main(verbosity=2)
