"""Drive a `d2l-ts hub` from Python (the CI test test_hub.py and bench/hub_load.py): start it on
127.0.0.1 with an admin API token, create users and start their servers through the hub's REST
API, and run code in a user's d2l-ts kernel over the hub's proxy (the kernel's websocket channels,
with tornado's websocket client from Debian's python3-tornado). Standard library + tornado only.
"""
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """A `d2l-ts hub` child process in its own process group, stopped by stop() (or the with block)."""

    def __init__(self, hub_dir, extra_args=(), env=None, log=None):
        self.dir = Path(hub_dir)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.password = secrets.token_hex(8)
        e = dict(os.environ if env is None else env)
        e.update(D2L_HUB_TEST_PASSWORD=self.password, D2L_HUB_TEST_TOKEN=self.token)
        self.log_path = Path(log) if log else self.dir.with_suffix(".log")
        self.log_file = open(self.log_path, "w")
        cmd = ["node", str(ROOT / "bin" / "d2l-ts.js"), "hub", "--dir", str(self.dir), "--port", str(self.port),
               "--password-env", "D2L_HUB_TEST_PASSWORD", "--api-token-env", "D2L_HUB_TEST_TOKEN", *extra_args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def log(self):
        return self.log_path.read_text(errors="replace")

    # ---- REST -----------------------------------------------------------------------------------
    def api(self, method, path, body=None, timeout=60):
        """(status, parsed JSON or None) of a hub REST call (path under /hub/api) with the admin token."""
        req = urllib.request.Request(f"{self.base}/hub/api{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text) if text else None
            except ValueError:
                return e.code, text.decode(errors="replace")

    def user_api(self, user, method, path, body=None, timeout=60):
        """A call to a user's server (path under /user/NAME/api) through the proxy, with the admin token."""
        req = urllib.request.Request(f"{self.base}/user/{user}/api{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read()
            return json.loads(text) if text else None

    def wait_up(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            try:
                if self.api("GET", "/")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"the hub did not answer on {self.base} in {timeout} s:\n{self.log()[-3000:]}")

    def create_users(self, names):
        status, body = self.api("POST", "/users", {"usernames": list(names)})
        if status != 201:
            raise RuntimeError(f"creating users {names}: {status} {body}")
        return body

    def start_server(self, user, timeout=240):
        """Ask the hub to spawn the user's server; wait until it is ready; return its state (pid)."""
        status, body = self.api("POST", f"/users/{user}/server")
        if status not in (201, 202):
            raise RuntimeError(f"starting {user}'s server: {status} {body}")
        deadline = time.time() + timeout
        while time.time() < deadline:
            _, u = self.api("GET", f"/users/{user}")
            srv = (u or {}).get("servers", {}).get("")
            if srv and srv.get("ready"):
                return srv
            time.sleep(0.5)
        raise TimeoutError(f"{user}'s server was not ready in {timeout} s")

    def stop(self, timeout=60):
        """SIGTERM the hub (it stops every server and the proxy); SIGKILL its group if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log_file.close()
        return self.proc.returncode


def _msg(msg_type, content, session):
    return {
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "test", "session": session,
                   "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "content": content, "buffers": [], "channel": "shell",
    }


async def run_cells(hub, user, kernel_id, cells, cell_timeout=600):
    """Execute each cell in turn over the kernel's websocket; return [(reply content, [(msg_type, content)])].

    Stops at a cell whose reply is not ok. A kernel that dies ('restarting'/'dead' status) ends the
    list with a reply {"status": "dead"}.
    """
    session = uuid.uuid4().hex
    url = f"ws://127.0.0.1:{hub.port}/user/{user}/api/kernels/{kernel_id}/channels?session_id={session}"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {hub.token}"}), max_message_size=1 << 28)
    results = []
    try:
        for code in cells:
            req = _msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                           "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}, session)
            ws.write_message(json.dumps(req))
            mid = req["header"]["msg_id"]
            outputs, reply, idle = [], None, False
            deadline = time.time() + cell_timeout
            while not (reply is not None and idle):
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(f"{user}: a cell ran past {cell_timeout} s: {code[:80]!r}")
                raw = await asyncio.wait_for(ws.read_message(), left)
                if raw is None:
                    raise ConnectionError(f"{user}: the kernel websocket closed")
                if isinstance(raw, bytes):
                    continue  # binary frames carry buffers; our cells send none
                m = json.loads(raw)
                if m.get("msg_type") == "status" and m["content"].get("execution_state") in ("restarting", "dead"):
                    reply, idle = {"status": "dead"}, True
                    break
                if m.get("parent_header", {}).get("msg_id") != mid:
                    continue
                if m["channel"] == "shell" and m["msg_type"] == "execute_reply":
                    reply = m["content"]
                elif m["channel"] == "iopub":
                    if m["msg_type"] == "status":
                        idle = m["content"]["execution_state"] == "idle"
                    elif m["msg_type"] not in ("execute_input",):
                        outputs.append((m["msg_type"], m["content"]))
            results.append((reply, outputs))
            if reply.get("status") != "ok":
                break
    finally:
        ws.close()
        try:  # wait for the close handshake, so the socket is closed before the event loop is
            while await asyncio.wait_for(ws.read_message(), 5) is not None:
                pass
        except (asyncio.TimeoutError, Exception):
            pass
    return results


def start_kernel(hub, user, name="d2l-ts"):
    return hub.user_api(user, "POST", "/kernels", {"name": name})["id"]


def kernel_pids(server_pid):
    """pids of the d2l-ts kernels (node ... d2l-ts.js kernel) under a user's server process."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            cmd = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == server_pid and any(c.endswith(b"d2l-ts.js") for c in cmd) and b"kernel" in cmd:
            out.append(int(p.name))
    return out


def _status_bytes(pid, field):
    """A kB field of /proc/PID/status in bytes, 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss_bytes(pid):
    """Resident memory of a process now (VmRSS), 0 if it is gone."""
    return _status_bytes(pid, "VmRSS")


def peak_rss_bytes(pid):
    """Peak resident memory of a process so far (VmHWM), 0 if it is gone."""
    return _status_bytes(pid, "VmHWM")
