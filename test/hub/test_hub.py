"""`d2l-ts hub` end to end (CI, about 1.5 minutes): the hub on 127.0.0.1 on a free port, the shared
password of the dummy authenticator checked at the login form, two users created through the REST
API with an admin token, their servers started (JupyterLab by default, the classic Notebook with
--ui notebook), a cell run in each user's d2l-ts kernel over the proxy's websocket, the assignment released into each home (and a student's own copy kept), the
per-user memory limit killing a kernel that exceeds it while the other user's kernel runs on, and
the hub stopping every server and kernel when it is told to stop.
"""
import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from hubclient import ROOT, Hub, kernel_pids, run_cells, start_kernel

ASSIGNMENT = ROOT / "assignments" / "ch3-softmax" / "student.ipynb"
MEM_LIMIT = 768 * 2**20
# 1.5 GiB held by the kernel, then a pause in which a watchdog (every 2 s) sees it
# Memory taken a step at a time: the kernel's own limit (3/4 of what the hub gives it) stops the cell.
HOG = ["const hog: Buffer[] = []; for (let i = 0; i < 24; i++) hog.push(Buffer.alloc(64 * 2 ** 20, 1)); hog.length"]
# 1.5 GiB in one native call, which no check inside the kernel can stop half-way: the hub's limit ends the kernel.
# The 1.5 GiB are kept (a variable holds them): the kernel's own watchdog collects garbage after it trips, and a
# buffer nothing refers to could be freed before the hub's watchdog (it polls every 2 s) saw it; CI saw that once.
BIG = ["const big = Buffer.alloc(1.5 * 2 ** 30, 1); big.length", "await new Promise((r) => setTimeout(r, 8000)); 'still alive'"]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


class HubTest(unittest.TestCase):
    def test_class_hub(self):
        t0 = time.time()
        tmp = Path(tempfile.mkdtemp(prefix="d2l-hub-test-"))
        hub_dir = tmp / "hub"
        # bob already has his own copy of the assignment: the release must not overwrite it
        own = hub_dir / "homes" / "bob" / "ch3-softmax" / "student.ipynb"
        own.parent.mkdir(parents=True)
        own.write_text('{"bob": "my own work"}')
        hub = Hub(hub_dir, ["--mem-limit", "768M", "--cpu-limit", "1",
                            "--assignment", str(ASSIGNMENT)], log=tmp / "hub.log")
        try:
            hub.wait_up(90)
            created = hub.create_users(["ann", "bob"])
            self.assertEqual(sorted(u["name"] for u in created), ["ann", "bob"])
            # the dummy authenticator: the shared password lets a student in, a wrong one does not
            login = f"{hub.base}/hub/login"
            opener = urllib.request.build_opener(NoRedirect)
            wrong = opener.open(urllib.request.Request(login, data=urllib.parse.urlencode({"username": "ann", "password": "nope"}).encode()))
            self.assertEqual(wrong.status, 200)  # the login page again, with its error
            with wrong:
                self.assertIn(b"Invalid username or password", wrong.read())
            with self.assertRaises(urllib.error.HTTPError) as right:
                opener.open(urllib.request.Request(login, data=urllib.parse.urlencode({"username": "ann", "password": hub.password}).encode()))
            self.assertEqual(right.exception.code, 302)
            self.assertIn("jupyterhub-session-id", right.exception.headers.get("Set-Cookie", ""))

            servers = {u: hub.start_server(u) for u in ("ann", "bob")}
            pids = {u: s["state"]["pid"] for u, s in servers.items()}

            # the default interface: d2l-ts's JupyterLab
            url, page = landing(hub, "ann")
            self.assertTrue(url.endswith("/user/ann/lab"), url)
            self.assertIn("<title>JupyterLab (d2l-ts)</title>", page)
            # JupyterLab's user menu names whoever the hub says is asking (here the admin token's owner), not "d2l-ts"
            me = hub.user_api("ann", "GET", "/me")["identity"]
            print(f"\n    /user/ann/api/me with the admin token: {me['name']}", flush=True)
            self.assertEqual(me["username"], me["name"])
            self.assertNotEqual(me["name"], "d2l-ts")

            # the assignment, released at spawn; bob's own copy untouched
            released = hub_dir / "homes" / "ann" / "ch3-softmax" / "student.ipynb"
            self.assertEqual(released.read_bytes(), ASSIGNMENT.read_bytes())
            self.assertEqual(own.read_text(), '{"bob": "my own work"}')

            # one cell in each user's kernel, through the proxy
            kernels = {u: start_kernel(hub, u) for u in ("ann", "bob")}
            for u, kid in kernels.items():
                res = asyncio.run(run_cells(hub, u, kid, ["tf.add(1, 2).dataSync()[0]", "process.env.HOME"], 120))
                self.assertEqual([r[0]["status"] for r in res], ["ok", "ok"], res)
                (kind, c), = res[0][1]
                self.assertEqual((kind, c["data"]["text/plain"]), ("execute_result", "3"))
                home = res[1][1][0][1]["data"]["text/plain"].strip("'\"")
                self.assertEqual(home, str(hub_dir / "homes" / u))
            kpids = {u: kernel_pids(pids[u]) for u in pids}
            self.assertTrue(all(len(k) == 1 for k in kpids.values()), kpids)

            # the limits: how they are enforced on this machine, then a kernel over its memory dies
            log = hub.log()
            mode = re.search(r"limits for ann by (\w+): memory (\d+), cpu ([\d.]+)", log)
            self.assertIsNotNone(mode, log[-2000:])
            self.assertEqual((int(mode.group(2)), float(mode.group(3))), (MEM_LIMIT, 1.0))
            mem_dir = cpu_dir = None
            if mode.group(1) == "cgroup1":
                groups = dict(line.split(":", 2)[1:] for line in Path(f"/proc/{kpids['ann'][0]}/cgroup").read_text().splitlines())
                mem_dir = Path("/sys/fs/cgroup/memory") / groups["memory"].lstrip("/")
                self.assertTrue(str(mem_dir).endswith("d2l-hub/ann"), mem_dir)
                self.assertEqual(int((mem_dir / "memory.limit_in_bytes").read_text()), MEM_LIMIT)
                cpu_key = next(k for k in groups if "cpu" in k.split(","))
                cpu_dir = Path("/sys/fs/cgroup") / cpu_key / groups[cpu_key].lstrip("/")
                self.assertEqual(int((cpu_dir / "cpu.cfs_quota_us").read_text()), 100000)
            res = asyncio.run(run_cells(hub, "ann", kernels["ann"], HOG, 60))
            self.assertEqual((res[-1][0]["status"], res[-1][0].get("ename")), ("error", "MemoryError"), f"a cell taking 1.5 GiB under a 768M limit was not stopped: {res}")
            self.assertIn("3/4 of the memory this container may use 768 MiB", res[-1][0]["evalue"])
            res = asyncio.run(run_cells(hub, "ann", kernels["ann"], ["tf.mul(6, 7).dataSync()[0]"], 60))
            self.assertEqual(res[0][1][0][1]["data"]["text/plain"], "42", "after a MemoryError the kernel goes on")
            res = asyncio.run(run_cells(hub, "ann", kernels["ann"], BIG, 60))
            self.assertEqual(res[-1][0]["status"], "dead", f"a kernel holding 1.5 GiB under a 768M limit was not stopped: {res}")
            self.assertFalse(alive(kpids["ann"][0]))
            self.assertTrue(alive(pids["ann"]), "the limit must end the kernel, not the student's server")
            res = asyncio.run(run_cells(hub, "bob", kernels["bob"], ["tf.mul(6, 7).dataSync()[0]"], 60))
            self.assertEqual(res[0][1][0][1]["data"]["text/plain"], "42")
        finally:
            stop_start = time.time()
            rc = hub.stop()
            stop_s = time.time() - stop_start
            if os.environ.get("D2L_HUB_TEST_KEEP") != "1":
                shutil.rmtree(tmp, ignore_errors=True)
        # the hub stopped by itself on SIGTERM, and took every server and kernel with it
        self.assertEqual(rc, 0)
        self.assertLess(stop_s, 30)
        time.sleep(0.5)
        left = [p for p in list(pids.values()) + [k for ks in kpids.values() for k in ks] if alive(p)]
        self.assertEqual(left, [], "servers or kernels outlived the hub")
        if mode.group(1) == "cgroup1":
            self.assertFalse(mem_dir.exists() or cpu_dir.exists(), "the users' cgroups outlived the hub")
        print(f"hub test: {time.time() - t0:.1f} s, limits by {mode.group(1)}, stop {stop_s:.1f} s")


    def test_watchdog_limit(self):
        """Where no cgroup is writable the hub's RSS watchdog enforces the memory limit (forced here)."""
        tmp = Path(tempfile.mkdtemp(prefix="d2l-hub-test-"))
        hub = Hub(tmp / "hub", ["--mem-limit", "768M", "--ui", "notebook"], env={**os.environ, "D2L_HUB_LIMITS": "watchdog"}, log=tmp / "hub.log")
        try:
            hub.wait_up(90)
            hub.create_users(["cy"])
            pid = hub.start_server("cy")["state"]["pid"]
            url, page = landing(hub, "cy")  # --ui notebook: the classic Notebook
            self.assertTrue(url.endswith("/user/cy/tree"), url)
            self.assertIn("<title>Home Page - Select or create a notebook</title>", page)  # notebook 6.4 tree.html
            kid = start_kernel(hub, "cy")
            res = asyncio.run(run_cells(hub, "cy", kid, ["const small: Buffer[] = []; for (let i = 0; i < 4; i++) small.push(Buffer.alloc(64 * 2 ** 20, 1)); small.length * 64", "await new Promise((r) => setTimeout(r, 4000)); small.length"], 60))
            self.assertEqual([r[0]["status"] for r in res], ["ok", "ok"], res)
            self.assertEqual(res[0][1][0][1]["data"]["text/plain"], "256")  # 256 MiB more: under the limit, kept
            self.assertEqual(res[1][1][0][1]["data"]["text/plain"], "4")
            res = asyncio.run(run_cells(hub, "cy", kid, BIG, 60))  # another 1.5 GiB, then a wait for the watchdog: over it
            self.assertEqual(res[-1][0]["status"], "dead", res)
            self.assertTrue(alive(pid))
            self.assertRegex(hub.log(), r"limits for cy by watchdog: memory 805306368.*\n(.*\n)*.*d2l-hub: cy uses \d+ MiB > limit 768 MiB: killing pid")
        finally:
            self.assertEqual(hub.stop(), 0)
            shutil.rmtree(tmp, ignore_errors=True)


    def test_cli(self):
        """Bad flags get a clear message and exit 2; --write-config-only writes a config Python compiles."""
        d2l = ["node", str(ROOT / "bin" / "d2l-ts.js"), "hub"]
        cases = [
            ([], "needs a shared password"),
            (["--password-env", "X", "--mem-limit", "lots"], "--mem-limit needs a size such as 2G"),
            (["--password-env", "X", "--auth", "ldap"], "--auth is dummy"),
            (["--password-env", "X", "--users", "ann,b b"], "is not a user name"),
            (["--password-env", "X", "--assignment", "nope.ipynb"], "--assignment needs a student notebook"),
        ]
        for args, message in cases:
            r = subprocess.run(d2l + args, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run(d2l + ["--dir", tmp, "--password-env", "HUB_PW", "--users", "ann,bob", "--mem-limit", "1G",
                                      "--assignment", str(ASSIGNMENT), "--write-config-only"], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            cfg = Path(tmp) / "jupyterhub_config.py"
            text = cfg.read_text()
            compile(text, str(cfg), "exec")
            for line in ['AUTH = "dummy"', 'USERS = ["ann", "bob"]', "MEM_LIMIT = 1073741824", f'ASSIGNMENTS = ["{ASSIGNMENT}"]']:
                self.assertIn(line, text)
            self.assertTrue((Path(tmp) / "jupyter" / "share" / "jupyter" / "kernels" / "d2l-ts" / "kernel.json").is_file())


def landing(hub, user):
    """(final URL, page) of a user's server root, opened with the admin token through the proxy."""
    req = urllib.request.Request(f"{hub.base}/user/{user}/", headers={"Authorization": f"token {hub.token}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.geturl().split("?")[0], r.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


if __name__ == "__main__":
    unittest.main()
