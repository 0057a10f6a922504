#!/usr/bin/env python3
"""Kernel latency benchmark: d2l-ts vs tslab vs the Python (ipykernel) reference.

Run from anywhere (Jupyter here is Debian's, under /usr/bin/python3):

    /usr/bin/python3 test/bench/kernel_latency.py [--runs N] [--timeout S]

Measures, for each kernel,
  (a) start -> kernel_info_reply, median over N fresh kernel starts,
  (b) the round trip of a trivial NEW cell (`1 + 1 // new <i>`: source the
      kernel has not seen, so nothing compiled before can be reused), median
      over N cells in one kernel after a first cell has loaded the framework;
      the very first `1 + 1` of that kernel is shown too, and
  (c) the round trip of the same trivial cell (`1 + 1`) repeated, median over N,
      each timed cell sent --pause seconds (default 0.2, a user's think time) after the
      previous one went idle,
and prints a table with ratios to the Python reference and to tslab, plus
the d2l-ts targets from issue 21 (start <= 0.6 s, new trivial cell <= 10 ms).

Exit status: 0 when every kernel that is installed ran; 1 when one failed
to run (the message says which and why; PASS/MISS is printed only and does
not change the exit status); 130 when interrupted.

Kernels are started with jupyter_client's KernelManager from kernelspecs
written to a temporary directory (nothing is installed or changed):
  d2l-ts  the argv `d2l-ts install` writes (kernelSpec() of dist/cli/install.js:
          node [V8 flags] <repo>/bin/d2l-ts.js kernel --connection-file {connection_file}),
          with any --node-flag options added after node
  tslab   node <repo>/node_modules/tslab/bin/tslab kernel --config-path {connection_file}
          (the argv tslab's own python/install.py writes), cwd = repo root
  python3 <this python> -m ipykernel_launcher -f {connection_file}
Every kernel is started with cwd = repo root and its stdout/stderr go to a
log file that is shown if the kernel fails. The client side is a minimal
pyzmq client (jupyter_client.session.Session for signing) so that the
client adds as little as possible to what is measured.
"""

import argparse
import atexit
import importlib.util
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback

# Silence debugpy's frozen-modules warning in the Python kernel (inherited by
# the kernels we start).
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

try:
    import zmq
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from jupyter_client.session import Session
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write(
        "kernel_latency.py: jupyter_client/pyzmq not importable under %s (%s).\n"
        "Run it with Debian's Python: /usr/bin/python3 test/bench/kernel_latency.py\n" % (sys.executable, e)
    )
    sys.exit(1)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # test/bench -> repo root

TARGET_START_S = 0.6  # issue 21 (issue 9 had 2 s)
TARGET_CELL_MS = 10.0  # issue 21, for a new cell (issue 9 had 50 ms for a repeated one)
TRIVIAL_CELL = "1 + 1"
TRIVIAL_RESULT = "2"
SHUTDOWN_WAIT_S = 3.0  # graceful shutdown grace period before SIGKILL


class BenchError(Exception):
    """A kernel failed to start, answer or run a cell."""


class Interrupted(BaseException):
    pass


# --------------------------------------------------------------------------
# kernel definitions


class KernelDef:
    def __init__(self, label, spec_name, argv, framework_cell, comment="//", env=None, note="", missing=None,
                 optional=False):
        self.label = label  # name shown in the table
        self.spec_name = spec_name  # name of the temporary kernelspec
        self.argv = argv
        self.framework_cell = framework_cell
        self.comment = comment  # line-comment marker of the kernel's language
        self.env = env or {}
        self.note = note
        self.missing = missing  # None, or why this kernel cannot run
        self.optional = optional  # missing => "not installed", not a failure


def d2l_argv(node, node_flags):
    """The d2l-ts kernelspec's argv as `d2l-ts install` writes it (asked of dist/cli/install.js), with
    node_flags inserted after the node executable; None and the reason if it cannot be had."""
    import subprocess
    script = "console.log(JSON.stringify(require(%s).kernelSpec().argv))" % json.dumps(os.path.join(ROOT, "dist", "cli", "install.js"))
    try:
        out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, cwd=ROOT)
        argv = json.loads(out.stdout) if out.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        return None, "could not read the kernelspec from dist/cli/install.js: %s" % e
    if not isinstance(argv, list) or "{connection_file}" not in argv:
        return None, "dist/cli/install.js kernelSpec() gave no usable argv: %s" % (out.stderr.strip()[-300:] or out.stdout[:300])
    return [node] + list(node_flags) + argv[1:], None


def kernel_defs(node_flags=()):
    node = shutil.which("node")
    defs = []

    # d2l-ts: tf is preloaded; the first cell touches it anyway.
    d2l_entry = os.path.join(ROOT, "bin", "d2l-ts.js")
    missing = None
    if not node:
        missing = "node not found on PATH"
    elif not os.path.exists(os.path.join(ROOT, "dist", "cli", "main.js")):
        missing = "d2l-ts is not built (no dist/cli/main.js); run `npx tsc -p .` in %s" % ROOT
    argv = [node or "node"] + list(node_flags) + [d2l_entry, "kernel", "--connection-file", "{connection_file}"]
    if not missing:
        argv, missing = d2l_argv(node, node_flags)
    defs.append(KernelDef(
        "d2l-ts", "bench-d2l-ts",
        argv,
        "const warm = tf.ones([2]); warm.shape",
        missing=missing,
    ))

    # tslab from this repo's node_modules (bin/tslab calls dist/main.js main()).
    tslab_bin = os.path.join(ROOT, "node_modules", "tslab", "bin", "tslab")
    tslab_version = "?"
    missing = None
    try:
        with open(os.path.join(ROOT, "node_modules", "tslab", "package.json")) as f:
            tslab_version = json.load(f).get("version", "?")
    except OSError:
        missing = "node_modules/tslab not found in %s (run npm ci)" % ROOT
    if not node:
        missing = "node not found on PATH"
    elif not missing and not os.path.exists(tslab_bin):
        missing = "%s not found" % tslab_bin
    defs.append(KernelDef(
        "tslab", "bench-tslab",
        [node or "node", tslab_bin, "kernel", "--config-path", "{connection_file}"],
        'import * as tf from "@tensorflow/tfjs"; tf.ones([2]).shape',
        note="tslab %s from node_modules" % tslab_version,
        missing=missing,
    ))

    # Python reference: ipykernel under this interpreter.
    missing = None
    note = "ipykernel under %s" % sys.executable
    framework = "import torch; torch.ones(2).shape"
    if importlib.util.find_spec("ipykernel") is None:
        missing = "not installed"
    elif importlib.util.find_spec("torch") is None:
        framework = "import sys; sys.version_info[:2]"
        note += "; torch NOT installed, first cell does not import a framework"
    defs.append(KernelDef(
        "python3", "bench-python3",
        [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        framework,
        comment="#",
        env={"PYDEVD_DISABLE_FILE_VALIDATION": "1"},
        note=note,
        missing=missing,
        optional=True,
    ))
    return defs


def write_kernelspecs(defs, kernels_dir):
    for d in defs:
        spec_dir = os.path.join(kernels_dir, d.spec_name)
        os.makedirs(spec_dir)
        spec = {"argv": d.argv, "display_name": d.label, "language": "bench", "env": d.env}
        with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
            json.dump(spec, f, indent=2)


# --------------------------------------------------------------------------
# kernel lifecycle (no orphans)

_live = {}  # id(km) -> (km, pgid)


def _kill_group(pgid):
    if not pgid:
        return
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_kernel(km):
    """Shut the kernel down gracefully (bounded), then make sure its process group is gone."""
    entry = _live.pop(id(km), None)
    pgid = entry[1] if entry else None
    try:
        if km.has_kernel:
            km.shutdown_kernel(now=False)  # waits at most km.shutdown_wait_time, then SIGKILL
    except Exception:
        try:
            km.shutdown_kernel(now=True)
        except Exception:
            pass
    finally:
        _kill_group(pgid)  # anything the kernel spawned into its session


@atexit.register
def _kill_leftovers():
    for km, pgid in list(_live.values()):
        _kill_group(pgid)
    _live.clear()


def start_kernel(kdef, ksm, log_path):
    """Start a kernel; returns (km, log file object). Not timed here."""
    km = KernelManager(kernel_name=kdef.spec_name, kernel_spec_manager=ksm)
    km.shutdown_wait_time = SHUTDOWN_WAIT_S
    log = open(log_path, "ab")
    try:
        km.start_kernel(cwd=ROOT, stdout=log, stderr=log)
    except Exception:
        log.close()
        raise
    pgid = None
    prov = getattr(km, "provisioner", None)
    if prov is not None:
        pgid = getattr(prov, "pgid", None) or getattr(prov, "pid", None)
    _live[id(km)] = (km, pgid)
    return km, log


def log_tail(path, lines=25):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    tail = text.strip().splitlines()[-lines:]
    return "\n".join("    | " + l for l in tail)


# --------------------------------------------------------------------------
# a minimal client


class RawClient:
    def __init__(self, km):
        self.km = km
        self.session = Session(key=km.session.key, signature_scheme=km.session.signature_scheme, username="bench")
        self.ctx = zmq.Context()
        self.shell = self.ctx.socket(zmq.DEALER)
        self.shell.setsockopt(zmq.LINGER, 0)
        self.shell.setsockopt(zmq.IDENTITY, self.session.bsession)
        self.shell.connect(km._make_url("shell"))
        self.iopub = self.ctx.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.LINGER, 0)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(km._make_url("iopub"))
        self.poller = zmq.Poller()
        self.poller.register(self.shell, zmq.POLLIN)
        self.poller.register(self.iopub, zmq.POLLIN)

    def close(self):
        for s in (self.shell, self.iopub):
            try:
                s.close(linger=0)
            except Exception:
                pass
        try:
            self.ctx.term()
        except Exception:
            pass

    def send(self, msg_type, content):
        return self.session.send(self.shell, msg_type, content)["header"]["msg_id"]

    def _recv_all(self, sock):
        out = []
        while True:
            try:
                _, msg = self.session.recv(sock, mode=zmq.NOBLOCK)
            except zmq.Again:
                break
            if msg is None:
                break
            out.append(msg)
        return out

    def drain(self):
        self._recv_all(self.shell)
        self._recv_all(self.iopub)

    def _check_alive(self, what):
        if not self.km.is_alive():
            raise BenchError("kernel process exited while waiting for %s" % what)

    def wait_kernel_info(self, deadline, resend_s=1.0):
        """Send kernel_info_request (re-sent every resend_s if unanswered) until a reply
        to one of ours arrives. Returns (perf_counter at receipt, reply message)."""
        sent = set()
        next_send = 0.0
        while True:
            now = time.perf_counter()
            if now >= deadline:
                raise BenchError("no kernel_info_reply within the timeout")
            if now >= next_send:
                sent.add(self.send("kernel_info_request", {}))
                next_send = now + resend_s
            wait = min(next_send, deadline, now + 0.25) - now
            if self.shell.poll(max(0, int(wait * 1000))):
                for msg in self._recv_all(self.shell):
                    if msg["msg_type"] == "kernel_info_reply" and msg["parent_header"].get("msg_id") in sent:
                        return time.perf_counter(), msg
            else:
                self._check_alive("kernel_info_reply")

    def wait_iopub_ready(self, deadline, tries=15):
        """Make sure our iopub subscription is live (ZeroMQ slow joiner) before timing cells:
        send kernel_info requests until something arrives on iopub. Returns True if it did."""
        for _ in range(tries):
            if time.perf_counter() >= deadline:
                break
            self.send("kernel_info_request", {})
            if self.iopub.poll(200):
                time.sleep(0.1)
                self.drain()
                return True
        self.drain()
        return False

    def execute(self, code, deadline, require_idle=True):
        """Run code. Returns (seconds from just before execute_request is sent until both
        execute_reply and iopub status idle for it were received, reply content, outputs)."""
        self.drain()
        content = {
            "code": code, "silent": False, "store_history": True,
            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True,
        }
        t0 = time.perf_counter()
        mid = self.send("execute_request", content)
        reply = None
        idle = not require_idle
        outputs = []
        while reply is None or not idle:
            now = time.perf_counter()
            if now >= deadline:
                raise BenchError("timed out waiting for %s of %r" % (
                    "execute_reply" if reply is None else "iopub status idle", code))
            events = dict(self.poller.poll(max(1, int(min(0.25, deadline - now) * 1000))))
            if not events:
                self._check_alive("the reply to %r" % code)
                continue
            if self.shell in events:
                for msg in self._recv_all(self.shell):
                    if msg["msg_type"] == "execute_reply" and msg["parent_header"].get("msg_id") == mid:
                        reply = msg["content"]
            if self.iopub in events:
                for msg in self._recv_all(self.iopub):
                    if msg["parent_header"].get("msg_id") != mid:
                        continue
                    if msg["msg_type"] == "status":
                        if msg["content"].get("execution_state") == "idle":
                            idle = True
                    else:
                        outputs.append((msg["msg_type"], msg["content"]))
        return time.perf_counter() - t0, reply, outputs


def result_text(outputs):
    """The cell's value: execute_result text/plain, or (tslab prints the value of the
    last expression to stdout instead) the stdout stream text."""
    for t, c in outputs:
        if t == "execute_result":
            return c.get("data", {}).get("text/plain")
    out = "".join(c.get("text", "") for t, c in outputs if t == "stream" and c.get("name") == "stdout")
    return out.strip() or None


def error_text(reply, outputs):
    for t, c in outputs:
        if t == "error":
            return "%s: %s" % (c.get("ename"), c.get("evalue"))
    return "%s: %s" % (reply.get("ename"), reply.get("evalue"))


# --------------------------------------------------------------------------
# measurements


def measure_start(kdef, ksm, log_path, timeout):
    """One fresh start. Returns (start->kernel_info_reply seconds, start_kernel() return seconds, reply)."""
    km = None
    client = None
    log = None
    try:
        t0 = time.perf_counter()
        km, log = start_kernel(kdef, ksm, log_path)
        t_spawned = time.perf_counter()
        client = RawClient(km)
        t_reply, reply = client.wait_kernel_info(t0 + timeout)
        return t_reply - t0, t_spawned - t0, reply
    finally:
        if client:
            client.close()
        if km:
            stop_kernel(km)
        if log:
            log.close()


def measure_cells(kdef, ksm, log_path, runs, timeout, pause=0.0):
    """One kernel: the framework cell, the first trivial cell (timed once), `runs` timed repeats of it,
    then `runs` timed new trivial cells (a different comment each, so the source is new). Each timed
    cell is sent `pause` seconds after the previous one went idle (a user's think time)."""
    km = None
    client = None
    log = None
    try:
        km, log = start_kernel(kdef, ksm, log_path)
        client = RawClient(km)
        client.wait_kernel_info(time.perf_counter() + timeout)
        iopub_ok = client.wait_iopub_ready(time.perf_counter() + timeout)

        def run(code, expect=None):
            if pause > 0:
                time.sleep(pause)
            dt, reply, outputs = client.execute(code, time.perf_counter() + timeout, require_idle=iopub_ok)
            if reply.get("status") != "ok":
                raise BenchError("cell %r failed: %s" % (code, error_text(reply, outputs)))
            if expect is not None and result_text(outputs) != expect:
                raise BenchError("cell %r returned %r, expected %r" % (code, result_text(outputs), expect))
            return dt, result_text(outputs)

        framework_s, framework_result = run(kdef.framework_cell)
        first_new = run(TRIVIAL_CELL, TRIVIAL_RESULT)[0]  # the first run of this source: a new cell
        times = [run(TRIVIAL_CELL, TRIVIAL_RESULT)[0] for _ in range(runs)]
        # The same cell with a different comment each time: new source, which a kernel that
        # caches identical source (tslab, and d2l-ts' compiler when nothing changed) must compile.
        distinct = [run("%s %s new %d" % (TRIVIAL_CELL, kdef.comment, i), TRIVIAL_RESULT)[0] for i in range(runs)]
        return times, distinct, first_new, framework_s, framework_result, iopub_ok
    finally:
        if client:
            client.close()
        if km:
            stop_kernel(km)
        if log:
            log.close()


# --------------------------------------------------------------------------
# output


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2fx" % (a / b)


def print_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(
        (str(c).ljust(w) if i == 0 else str(c).rjust(w)) for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="fresh starts and timed trivial cells per kernel (default 10)")
    ap.add_argument("--timeout", type=float, default=60.0, help="limit in seconds for every wait (default 60)")
    ap.add_argument("--node-flag", action="append", default=[], metavar="FLAG",
                    help="a flag for node, added to the d2l-ts kernel's argv (repeatable; to try V8 options, e.g. --node-flag=--max-semi-space-size=64)")
    ap.add_argument("--pause", type=float, default=0.2, metavar="S",
                    help="seconds between a cell's idle and the next timed cell (default 0.2: a user's think time, "
                         "which the d2l-ts kernel spends preparing the next compile; 0 sends cells back to back)")
    ap.add_argument("--only", choices=["d2l-ts", "tslab", "python3"], action="append",
                    help="measure only this kernel (repeatable; default all three)")
    args = ap.parse_args()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except AttributeError:
            pass
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    def on_signal(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    defs = [d for d in kernel_defs(args.node_flag) if not args.only or d.label in args.only]
    results = {d.label: {} for d in defs}
    failures = []

    tmp = tempfile.mkdtemp(prefix="kernel-latency-")
    try:
        kernels_dir = os.path.join(tmp, "kernels")
        runnable = [d for d in defs if not d.missing]
        write_kernelspecs(runnable, kernels_dir)
        ksm = KernelSpecManager(kernel_dirs=[kernels_dir], ensure_native_kernel=False)

        for d in defs:
            if d.missing:
                results[d.label]["error"] = d.missing
                if not d.optional:
                    failures.append("%s: %s" % (d.label, d.missing))

        print("kernel latency benchmark, repo %s, %d run(s) per measurement, %.0f s timeout per wait" % (
            ROOT, args.runs, args.timeout))
        print()

        # (a) fresh starts, round-robin over kernels so background load hits all alike.
        for i in range(args.runs):
            for d in runnable:
                r = results[d.label]
                if "error" in r:
                    continue
                log_path = os.path.join(tmp, "%s-start-%d.log" % (d.spec_name, i))
                try:
                    total, spawn, reply = measure_start(d, ksm, log_path, args.timeout)
                except (BenchError, Exception) as e:
                    msg = "start %d: %s" % (i + 1, e if isinstance(e, BenchError) else repr(e))
                    r["error"] = msg
                    failures.append("%s: %s\n%s" % (d.label, msg, log_tail(log_path)))
                    continue
                r.setdefault("start", []).append(total)
                r.setdefault("spawn", []).append(spawn)
                li = reply["content"].get("language_info", {})
                r["info"] = "%s %s, language %s" % (
                    reply["content"].get("implementation", "?"),
                    reply["content"].get("implementation_version", ""), li.get("name", "?"))
            print("  start run %d/%d done" % (i + 1, args.runs), file=sys.stderr)

        # (b) trivial cell round trip, one kernel each.
        for d in runnable:
            r = results[d.label]
            if "error" in r:
                continue
            log_path = os.path.join(tmp, "%s-cells.log" % d.spec_name)
            try:
                times, distinct, first_new, fw_s, fw_result, iopub_ok = measure_cells(d, ksm, log_path, args.runs, args.timeout, args.pause)
            except (BenchError, Exception) as e:
                msg = "cells: %s" % (e if isinstance(e, BenchError) else repr(e))
                r["error"] = msg
                failures.append("%s: %s\n%s" % (d.label, msg, log_tail(log_path)))
                continue
            r["cell"] = times
            r["distinct"] = distinct
            r["first_new"] = first_new
            r["framework"] = (fw_s, fw_result)
            r["iopub_ok"] = iopub_ok
            print("  cells for %s done" % d.label, file=sys.stderr)
    except Interrupted as e:
        print("\ninterrupted (%s); kernels shut down" % e, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ninterrupted; kernels shut down", file=sys.stderr)
        return 130
    finally:
        _kill_leftovers()
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- report
    med = {}
    for d in defs:
        r = results[d.label]
        if "error" in r:
            med[d.label] = (None, None, None)
        else:
            med[d.label] = (statistics.median(r["start"]), statistics.median(r["distinct"]) * 1000, statistics.median(r["cell"]) * 1000)
    ref = med.get("python3", (None, None, None))
    tsl = med.get("tslab", (None, None, None))

    headers = ["kernel", "start→kernel_info (s)", "new cell (ms)", "repeated cell (ms)",
               "start / python3", "new / python3", "start / tslab", "new / tslab"]
    rows = []
    for d in defs:
        r = results[d.label]
        s, n, c = med[d.label]
        if "error" in r:
            status = "not installed" if (d.optional and d.missing) else "FAILED"
            rows.append([d.label, status, status, status, "-", "-", "-", "-"])
        else:
            rows.append([d.label, "%.3f" % s, "%.1f" % n, "%.1f" % c,
                         fmt_ratio(s, ref[0]), fmt_ratio(n, ref[1]), fmt_ratio(s, tsl[0]), fmt_ratio(n, tsl[1])])
    print("Medians of %d run(s); ratios are this row / the python3 (ipykernel) row and this row / the tslab row." % args.runs)
    print()
    print_table(headers, rows)
    print()

    print("What is timed (time.perf_counter in this process):")
    print("  start→kernel_info: from just before KernelManager.start_kernel() (which writes the connection")
    print("    file and spawns the kernel process) until the kernel_info_reply to our kernel_info_request")
    print("    is received on the shell socket. The request is sent as soon as start_kernel() returns")
    print("    (ZeroMQ queues it until the kernel binds its sockets) and re-sent every 1 s if unanswered.")
    print("    A fresh kernel each run (runs interleaved across kernels), shut down before the next start.")
    print("  a cell: from just before the execute_request is sent until both its execute_reply (shell) and its")
    print("    status: idle (iopub) have been received; the result is checked to be %s. In one kernel, after" % TRIVIAL_RESULT)
    print("    the framework cell: the first `%s` (once, 'first new cell' below), %d repeats of it ('repeated" % (TRIVIAL_CELL, args.runs))
    print("    cell'), then %d new cells `%s <comment> new <i>`, each source sent once ('new cell': what a" % (args.runs, TRIVIAL_CELL))
    print("    user's edited or new cell costs; a kernel may cache the compilation of identical source).")
    print("    Each timed cell is sent %.3g s after the previous one went idle (--pause; a user's think time: the" % args.pause)
    print("    d2l-ts kernel prepares the next compile while idle, so --pause 0 shows the cost without that).")
    print()

    print("Details (min / median / max):")
    for d in defs:
        r = results[d.label]
        print("  %s: %s" % (d.label, " ".join(d.argv)))
        if d.note:
            print("    %s" % d.note)
        if "error" in r:
            print("    %s" % ("not installed" if (d.optional and d.missing) else "FAILED: " + r["error"].splitlines()[0]))
            continue
        st, sp, ce = r["start"], r["spawn"], [x * 1000 for x in r["cell"]]
        print("    kernel_info: %s" % r.get("info", "?"))
        print("    start→kernel_info   %.3f / %.3f / %.3f s   (start_kernel() itself returned after %.0f ms median)" % (
            min(st), statistics.median(st), max(st), statistics.median(sp) * 1000))
        di = [x * 1000 for x in r["distinct"]]
        print("    new cell            %.1f / %.1f / %.1f ms   (`%s %s new <i>`, new source each run)" % (
            min(di), statistics.median(di), max(di), TRIVIAL_CELL, d.comment))
        print("    first new cell      %.1f ms   (the first `%s`, right after the framework cell; one sample)" % (
            r["first_new"] * 1000, TRIVIAL_CELL))
        print("    repeated cell       %.1f / %.1f / %.1f ms" % (min(ce), statistics.median(ce), max(ce)))
        fw_s, fw_res = r["framework"]
        print("    framework cell      %.3f s (first cell, once): %s -> %s" % (fw_s, d.framework_cell, fw_res))
        if not r.get("iopub_ok", True):
            print("    note: no iopub message seen before the cells; timed cells waited for execute_reply only")
    print()

    print("Targets for d2l-ts (issue 21): start ≤ %.1f s, new trivial cell ≤ %.0f ms" % (TARGET_START_S, TARGET_CELL_MS))
    s, n, c = med.get("d2l-ts", (None, None, None))
    if s is None:
        print("  d2l-ts did not run: no verdict")
    else:
        print("  start→kernel_info %.3f s  -> %s" % (s, "PASS" if s <= TARGET_START_S else "MISS"))
        print("  new cell          %.1f ms -> %s" % (n, "PASS" if n <= TARGET_CELL_MS else "MISS"))
        print("  (repeated cell    %.1f ms)" % c)

    if failures:
        print()
        print("ERROR: %d kernel(s) failed to run:" % len(failures), file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except Exception:
        traceback.print_exc()
        print("kernel_latency.py: unexpected error (see above)", file=sys.stderr)
        _kill_leftovers()
        code = 1
    sys.exit(code)
