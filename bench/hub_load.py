#!/usr/bin/python3
"""Load test of `d2l-ts hub` (run by hand; heavy: run it alone on the machine).

    /usr/bin/python3 bench/hub_load.py [--students 20] [--batch 5] [--skip-all-at-once] [--json FILE]

On 127.0.0.1 only, and it stops the hub by itself at the end (or on any failure):
  1. a hub with the dummy authenticator, an admin API token, --mem-limit 2G --cpu-limit 1 per user and
     D2L_QUICK=1 (quick mode) in every kernel's environment;
  2. a reference run: one student alone runs notebooks/chapter_03_linear_networks/
     06_softmax_regression_scratch.ipynb through their kernel; its outputs (as the notebook would store
     them: stream text merged, display updates applied in place) are the reference;
  3. N students created through the hub's REST API; each starts a server and runs the notebook,
     --batch at a time;
  4. every server stopped, then all N start their servers and run the notebook at once.
Each run must complete (every cell ok) with the reference's outputs: the same number of outputs per
cell, each of the same kind and MIME types. It reports per run the time to start the server, the time
to run the notebook, the kernel's peak RSS (VmHWM) and the server's RSS; per phase the load average and
the drop in MemAvailable; and the largest class that fits in 24 GiB from the measured memory.
Exit status 1 when a run failed or lost output.
"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "hub"))
from hubclient import ROOT, Hub, kernel_pids, peak_rss_bytes, rss_bytes, run_cells, start_kernel  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "chapter_03_linear_networks" / "06_softmax_regression_scratch.ipynb"
GIB = 2**30
MIB = 2**20


def code_cells(path):
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def stored_outputs(messages):
    """The outputs a notebook would keep from a cell's iopub messages: [(kind, MIME types or stream name)].

    Consecutive stream text of one name is one output; update_display_data changes an output in place;
    clear_output empties the cell (at once, or at the next output with wait=True).
    """
    outs, pending_clear = [], False
    for kind, content in messages:
        if kind == "clear_output":
            if content.get("wait"):
                pending_clear = True
            else:
                outs = []
            continue
        if kind == "update_display_data" or kind not in ("stream", "display_data", "execute_result", "error"):
            continue
        if pending_clear:
            outs, pending_clear = [], False
        if kind == "stream":
            if not (outs and outs[-1] == ("stream", content["name"])):
                outs.append(("stream", content["name"]))
        elif kind == "error":
            outs.append(("error", content.get("ename", "")))
        else:
            outs.append((kind, tuple(sorted(content["data"]))))
    return [list(o) for o in outs]


def hub_python_pid(hub):
    """The jupyterhub process (the child of `d2l-ts hub`)."""
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit():
                stat = (p / "stat").read_text()
                if int(stat[stat.rindex(")") + 2:].split()[1]) == hub.proc.pid:
                    return int(p.name)
        except OSError:
            pass
    return 0


def proxy_pids(parent):
    """The configurable-http-proxy the hub started."""
    out = []
    for p in Path("/proc").iterdir():
        try:
            if not p.name.isdigit():
                continue
            stat = (p / "stat").read_text()
            if int(stat[stat.rindex(")") + 2:].split()[1]) == parent and b"configurable-http-proxy" in (p / "cmdline").read_bytes():
                out.append(int(p.name))
        except OSError:
            pass
    return out


def meminfo(field="MemAvailable"):
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def loadavg():
    return Path("/proc/loadavg").read_text().split()[:3]


class MemSampler:
    """The lowest MemAvailable seen while a phase runs (sampled every 0.5 s)."""

    def __init__(self):
        self.start = meminfo()
        self.low = self.start
        self._task = None

    async def _run(self):
        while True:
            self.low = min(self.low, meminfo())
            await asyncio.sleep(0.5)

    def __enter__(self):
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc):
        self._task.cancel()


async def student_run(hub, user, cells, cell_timeout):
    """Start the user's server (if stopped), run the notebook in a new kernel, measure, shut the kernel down."""
    t0 = time.time()
    srv = await asyncio.to_thread(hub.start_server, user, 900)
    t_server = time.time() - t0
    server_pid = srv["state"]["pid"]
    kid = await asyncio.to_thread(start_kernel, hub, user)
    t1 = time.time()
    res = await run_cells(hub, user, kid, cells, cell_timeout)
    t_run = time.time() - t1
    pids = kernel_pids(server_pid)
    peak = max((peak_rss_bytes(p) for p in pids), default=0)
    now = sum(rss_bytes(p) for p in pids)
    server_rss = rss_bytes(server_pid)
    await asyncio.to_thread(hub.user_api, user, "DELETE", f"/kernels/{kid}")
    ok = len(res) == len(cells) and all(r[0].get("status") == "ok" for r in res)
    return {
        "user": user, "server_start_s": round(t_server, 1), "run_s": round(t_run, 1), "ok": ok,
        "failed_cell": None if ok else len(res) - 1, "error": None if ok else res[-1][0],
        "kernel_peak_mib": round(peak / MIB), "kernel_end_mib": round(now / MIB), "server_mib": round(server_rss / MIB),
        "outputs": [stored_outputs(r[1]) for r in res], "messages": sum(len(r[1]) for r in res),
    }


async def phase(hub, users, cells, concurrency, cell_timeout):
    sem = asyncio.Semaphore(concurrency)

    async def one(u):
        async with sem:
            try:
                return await student_run(hub, u, cells, cell_timeout)
            except Exception as e:  # a run that fails is reported, not fatal to the others
                return {"user": u, "ok": False, "error": f"{type(e).__name__}: {e}", "outputs": None}

    before = loadavg()
    t0 = time.time()
    with MemSampler() as mem:
        runs = await asyncio.gather(*(one(u) for u in users))
    return {"runs": runs, "wall_s": round(time.time() - t0, 1), "load_before": before, "load_after": loadavg(),
            "mem_drop_gib": round((mem.start - mem.low) / GIB, 2)}


def check(runs, reference):
    bad = []
    for r in runs:
        if not r["ok"]:
            bad.append(f"{r['user']}: did not complete: {r.get('error')}")
        elif r["outputs"] != reference:
            diff = [i for i, (a, b) in enumerate(zip(r["outputs"], reference)) if a != b]
            bad.append(f"{r['user']}: outputs differ from the reference in code cells {diff}: {[r['outputs'][i] for i in diff]} vs {[reference[i] for i in diff]}")
    return bad


def summarize(name, ph, reference):
    runs = [r for r in ph["runs"] if r.get("ok")]
    same = sum(1 for r in runs if r["outputs"] == reference)
    line = f"| {name} | {len(ph['runs'])} | {len(runs)} / {same} | {ph['wall_s']} |"
    if runs:
        t = [r["run_s"] for r in runs]
        s = [r["server_start_s"] for r in runs]
        pk = [r["kernel_peak_mib"] for r in runs]
        line += (f" {statistics.median(s):.1f} / {max(s):.1f} | {statistics.median(t):.1f} / {max(t):.1f} |"
                 f" {statistics.median(pk):.0f} / {max(pk)} | {statistics.median(r['server_mib'] for r in runs):.0f} |")
    else:
        line += " - | - | - | - |"
    line += f" {ph['mem_drop_gib']} | {' '.join(ph['load_before'])} -> {' '.join(ph['load_after'])} |"
    return line


async def main_async(args):
    cells = code_cells(NOTEBOOK)
    env = dict(os.environ)
    env["D2L_QUICK"] = "1"
    env.setdefault("D2L_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    env.setdefault("D2L_CACHE_DIR", str(ROOT / "test-artifacts" / "cache"))
    tmp = Path(tempfile.mkdtemp(prefix="d2l-hub-load-"))
    hub = Hub(tmp / "hub", ["--mem-limit", args.mem_limit, "--cpu-limit", args.cpu_limit], env=env, log=tmp / "hub.log")
    report = {"notebook": str(NOTEBOOK.relative_to(ROOT)), "students": args.students, "batch": args.batch,
              "mem_limit": args.mem_limit, "cpu_limit": args.cpu_limit, "cpus": os.cpu_count(),
              "mem_total_gib": round(meminfo("MemTotal") / GIB, 1), "backend": env.get("D2L_BACKEND", "(default)")}
    failures = []
    try:
        await asyncio.to_thread(hub.wait_up, 90)
        hub_rss = rss_bytes(hub.proc.pid)  # the d2l-ts hub node process; the jupyterhub python is its child
        users = [f"s{i:02d}" for i in range(1, args.students + 1)]
        await asyncio.to_thread(hub.create_users, ["ref"] + users)
        ref = await phase(hub, ["ref"], cells, 1, args.cell_timeout)
        if not ref["runs"][0]["ok"]:
            raise RuntimeError(f"the reference run failed: {ref['runs'][0].get('error')}\n{hub.log()[-3000:]}")
        reference = ref["runs"][0]["outputs"]
        report["reference"] = ref
        print(f"reference run: {ref['runs'][0]['run_s']} s, {sum(len(o) for o in reference)} outputs in {len(cells)} code cells", flush=True)
        await asyncio.to_thread(hub.api, "DELETE", "/users/ref/server")
        report["batched"] = await phase(hub, users, cells, args.batch, args.cell_timeout)
        failures += check(report["batched"]["runs"], reference)
        print(summarize(f"{args.batch} at a time", report["batched"], reference), flush=True)
        if not args.skip_all_at_once:
            for u in users:  # every server stopped: the class starts again, all at once
                await asyncio.to_thread(hub.api, "DELETE", f"/users/{u}/server")
            await asyncio.sleep(3)
            report["all_at_once"] = await phase(hub, users, cells, len(users), args.cell_timeout)
            failures += check(report["all_at_once"]["runs"], reference)
        # hub + proxy, measured: the fixed cost of the class
        jh = hub_python_pid(hub)
        report["hub_mib"] = round((hub_rss + rss_bytes(jh) + sum(rss_bytes(p) for p in proxy_pids(jh))) / MIB)
    finally:
        rc = await asyncio.to_thread(hub.stop)
        report["hub_exit"] = rc
    ok_runs = [r for k in ("batched", "all_at_once") if k in report for r in report[k]["runs"] if r.get("ok")]
    if ok_runs:
        per_student = max(r["kernel_peak_mib"] + r["server_mib"] for r in ok_runs)
        idle_student = statistics.median(r["kernel_end_mib"] + r["server_mib"] for r in ok_runs)
        reserve = 1024 + report["hub_mib"]  # the OS and the hub with its proxy
        report["per_student_peak_mib"] = per_student
        report["largest_class_24gib_all_running"] = int((24 * 1024 - reserve) // per_student)
        report["largest_class_24gib_idle_kernels"] = int((24 * 1024 - reserve) // idle_student)
    report["failures"] = failures
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=20)
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--mem-limit", default="2G")
    ap.add_argument("--cpu-limit", default="1")
    ap.add_argument("--cell-timeout", type=float, default=900)
    ap.add_argument("--skip-all-at-once", action="store_true", help="only the batched phase (when time is short)")
    ap.add_argument("--json", help="write the whole report (every run) here")
    args = ap.parse_args()
    report = asyncio.run(main_async(args))
    print()
    print("| phase | runs | complete / same outputs as the reference | wall s | server start s (median / max) | notebook s (median / max) | kernel peak RSS MiB (median / max) | server RSS MiB | MemAvailable drop GiB | load avg before -> after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, name in (("reference", "reference (alone)"), ("batched", f"{args.batch} at a time"), ("all_at_once", "all at once")):
        if key in report:
            print(summarize(name, report[key], report["reference"]["runs"][0]["outputs"]))
    if "per_student_peak_mib" in report:
        print(f"\nper student at peak (kernel + server): {report['per_student_peak_mib']} MiB; hub + proxy {report['hub_mib']} MiB;"
              f" largest class in 24 GiB: {report['largest_class_24gib_all_running']} all running the notebook at once,"
              f" {report['largest_class_24gib_idle_kernels']} with kernels idle after it (1 GiB kept for the OS)")
    print(f"{report['cpus']} CPUs, {report['mem_total_gib']} GiB; backend {report['backend']}; hub exit {report['hub_exit']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    for f in report["failures"]:
        print("FAIL", f)
    sys.exit(1 if report["failures"] or report["hub_exit"] != 0 else 0)


if __name__ == "__main__":
    main()
