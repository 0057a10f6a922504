"""README command 1's main job: `d2l-ts lab` (JupyterLab; and `d2l-ts notebook`,
classic Notebook, its alternative) serves notebooks/ at 127.0.0.1 with the
d2l-ts kernel registered, and a kernel started through the server (what the
Notebook/Lab UI does) runs a cell over the websocket and shows a tensor as its
result. The browser tests (test/browser/) drive the two UIs themselves."""
import asyncio
import json
import os
import uuid
import pathlib
import re
import socket
import subprocess
import time
import unittest
import urllib.request

from tornado.websocket import websocket_connect

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MainJob:
    COMMAND = ""

    def setUp(self):
        self.port = free_port()
        self.log = open(ROOT / "test-artifacts" / f"{self.COMMAND}-server.log", "w+")
        self.proc = subprocess.Popen(
            ["node", str(ROOT / "bin" / "d2l-ts.js"), self.COMMAND, "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def tearDown(self):
        try:
            os.killpg(self.proc.pid, 15)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=20)
        self.log.close()

    def api(self, path, token, method="GET", body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/{path}?token={token}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def token(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            self.log.seek(0)
            m = re.search(r"token=([0-9a-f]+)", self.log.read())
            if m:
                return m.group(1)
            self.assertIsNone(self.proc.poll(), f"d2l-ts {self.COMMAND}'s server exited:\n" + open(self.log.name).read())
            time.sleep(0.3)
        self.fail("no URL with a token within 60 s:\n" + open(self.log.name).read())

    def test_serves_notebooks_with_the_kernel(self):
        token = self.token()
        specs = self.api("kernelspecs", token)["kernelspecs"]
        self.assertEqual(specs["d2l-ts"]["spec"]["display_name"], "TypeScript (d2l)")
        self.assertEqual(specs["d2l-ts"]["spec"]["language"], "typescript")
        names = [c["name"] for c in self.api("contents", token)["content"]]
        self.assertIn("chapter_03_linear_networks", names)
        kernel = self.api("kernels", token, "POST", {"name": "d2l-ts"})
        # What the browser does: a websocket on the kernel's channels, an
        # execute_request, and the result coming back as execute_result.
        result = asyncio.run(self.run_cell(kernel["id"], token, "const x = tf.ones([2, 3]); x"))
        self.assertIn("shape: [2,3]", result)
        self.assertIn("dtype: float32", result)

    async def run_cell(self, kernel_id, token, code):
        url = f"ws://127.0.0.1:{self.port}/api/kernels/{kernel_id}/channels?token={token}"
        ws = await websocket_connect(url)
        try:
            msg_id = uuid.uuid4().hex
            await ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                           "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell",
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True},
            }))
            deadline = time.time() + 90
            while time.time() < deadline:
                raw = await asyncio.wait_for(ws.read_message(), timeout=max(1, deadline - time.time()))
                self.assertIsNotNone(raw, "the websocket closed")
                m = json.loads(raw)
                if m.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if m["msg_type"] == "execute_result":
                    return m["content"]["data"]["text/plain"]
                if m["msg_type"] == "error":
                    self.fail(f"the cell failed: {m['content']['ename']}: {m['content']['evalue']}")
            self.fail("no execute_result within 90 s")
        finally:
            ws.close()


class LabMainJobTests(MainJob, unittest.TestCase):
    """`npm run lab`, the README's main command."""
    COMMAND = "lab"

    def test_serves_the_jupyterlab_page(self):
        token = self.token()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/lab?token={token}", timeout=10) as r:
            page = r.read().decode()
        self.assertEqual(r.status, 200)
        self.assertIn("jupyter-config-data", page)
        self.assertIn("bundle.js", page)


class NotebookMainJobTests(MainJob, unittest.TestCase):
    """`npm run notebook`: classic Notebook 6."""
    COMMAND = "notebook"


if __name__ == "__main__":
    unittest.main(verbosity=2)
