"""d2l-ts's pieces for Debian's JupyterHub 3.0, imported by the jupyterhub_config.py that
`d2l-ts hub` writes (hub/jupyterhub_config.template.py).

- Two spawners with per-user memory and CPU limits:
  ``D2lSimpleSpawner`` (JupyterHub's SimpleLocalProcessSpawner: no system users, homes in
  DIR/homes/{username}, everyone runs as the hub's user; for tests and one-person trials) and
  ``D2lLocalSpawner`` (LocalProcessSpawner: each student's server runs as their own system user,
  for a course with PAM).
- How limits are enforced, chosen once at start (``limit_mode()``):
  ``cgroup1`` / ``cgroup2``: a cgroup per user under the hub's own cgroup, memory limit
  (memory.limit_in_bytes or memory.max: the kernel's OOM killer ends the biggest process in it,
  normally the notebook kernel) and a CPU quota (cpu.cfs_quota_us or cpu.max). The server joins
  its cgroup before it execs, so every kernel it starts is inside.
  ``watchdog``: where no cgroup is writable (or D2L_HUB_LIMITS=watchdog), the hub sums the RSS of each server's process tree
  every 2 s and SIGKILLs the largest process (the kernel) of a tree over its limit; CPU is then
  only lowered in priority (nice 10), not capped. RLIMIT_AS is never used: the wasm backend
  reserves several GiB of virtual memory it never touches.
- ``release_assignments``: the pre_spawn_hook that copies each assignment's student notebook into
  the user's home as <assignment folder>/<file> (e.g. ch3-softmax/student.ipynb), never over a
  copy the student already has.
"""
import asyncio
import os
import pwd
import shutil
import signal
import socket

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from tornado.ioloop import PeriodicCallback

CGROUP_ROOT = "/sys/fs/cgroup"
_mode = None


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (for the hub's internal API and the proxy's)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _own_cgroup(controller):
    """This process's cgroup path for a v1 controller, or for v2 (controller None)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, p = line.rstrip("\n").split(":", 2)
            if controller is None and ctrls == "":
                return p
            if controller is not None and controller in ctrls.split(","):
                return p
    return None


def _v1_dir(controller):
    own = _own_cgroup(controller)
    for name in (controller, "cpu,cpuacct", "cpuacct,cpu"):
        mount = os.path.join(CGROUP_ROOT, name)
        if own is not None and os.path.isdir(mount):
            return os.path.join(mount, own.lstrip("/"), "d2l-hub")
    return None


def _cgroup_dirs():
    """{'memory': dir, 'cpu': dir} where per-user cgroups go; raises OSError when not writable."""
    if os.path.isfile(os.path.join(CGROUP_ROOT, "cgroup.controllers")):  # cgroup v2, unified
        own = os.path.join(CGROUP_ROOT, (_own_cgroup(None) or "/").lstrip("/"))
        try:  # a container's root cgroup may hold processes and still delegate (allowed at the root only)
            with open(os.path.join(own, "cgroup.subtree_control"), "w") as f:
                f.write("+memory +cpu")
        except OSError:
            pass
        base = os.path.join(own, "d2l-hub")
        os.makedirs(base, exist_ok=True)
        # the parent must delegate memory and cpu to d2l-hub's children (fails where the hub's own
        # cgroup holds processes and is not the root: then the watchdog takes over)
        with open(os.path.join(base, "cgroup.subtree_control"), "w") as f:
            f.write("+memory +cpu")
        return {"v": 2, "memory": base, "cpu": base}
    mem, cpu = _v1_dir("memory"), _v1_dir("cpu")
    if not mem or not cpu:
        raise OSError("no cgroup v1 memory and cpu hierarchies under /sys/fs/cgroup")
    for d in (mem, cpu):
        os.makedirs(d, exist_ok=True)
    return {"v": 1, "memory": mem, "cpu": cpu}


def limit_mode():
    """'cgroup1', 'cgroup2' or 'watchdog': how this machine lets the hub enforce limits (probed once)."""
    global _mode, _dirs
    if _mode is None and os.environ.get("D2L_HUB_LIMITS") == "watchdog":
        _mode = "watchdog"  # forced (the test of the watchdog on a machine with writable cgroups)
    if _mode is None:
        try:
            _dirs = _cgroup_dirs()
            probe = _user_cgroups("d2l-probe")
            _write(probe["memory"], "memory.max" if _dirs["v"] == 2 else "memory.limit_in_bytes", str(1 << 30))
            _remove_cgroups(probe)
            _mode = "cgroup%d" % _dirs["v"]
        except OSError:
            _mode = "watchdog"
    return _mode


_dirs = {}


def _write(d, name, value):
    with open(os.path.join(d, name), "w") as f:
        f.write(value)


def _user_cgroups(username):
    out = {}
    for ctl in ("memory", "cpu"):
        d = os.path.join(_dirs[ctl], username)
        os.makedirs(d, exist_ok=True)
        out[ctl] = d
    return out


def _remove_cgroups(groups):
    """Remove a user's cgroups; True when all are gone (a cgroup whose processes are exiting stays)."""
    gone = True
    for d in set(groups.values()):
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            gone = False  # processes still inside (kernels a moment behind their server); the next start reuses it
    return gone


def _proc_table():
    """{pid: (ppid, rss_bytes)} for every process readable in /proc."""
    page = os.sysconf("SC_PAGE_SIZE")
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{name}/statm") as f:
                rss = int(f.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        table[int(name)] = (ppid, rss)
    return table


def process_tree(root_pid, table=None):
    """[(pid, rss_bytes)] of root_pid and all its descendants."""
    table = table if table is not None else _proc_table()
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append((pid, table[pid][1]))
            todo.extend(children.get(pid, []))
    return out


class D2lLimitsMixin:
    """Memory and CPU limits (Spawner.mem_limit, Spawner.cpu_limit) enforced by cgroups or the RSS watchdog."""

    watchdog_interval_ms = 2000

    def _limits_setup(self):
        self._groups = None
        if not self.mem_limit and not self.cpu_limit:
            return
        mode = limit_mode()
        if mode.startswith("cgroup"):
            self._groups = _user_cgroups(self.user.name)
            v2 = _dirs["v"] == 2
            mem = str(self.mem_limit) if self.mem_limit else "max" if v2 else "-1"
            _write(self._groups["memory"], "memory.max" if v2 else "memory.limit_in_bytes", mem)
            period = 100000
            quota = int(self.cpu_limit * period) if self.cpu_limit else -1
            if v2:
                _write(self._groups["cpu"], "cpu.max", f"{quota if quota > 0 else 'max'} {period}")
            else:
                _write(self._groups["cpu"], "cpu.cfs_period_us", str(period))
                _write(self._groups["cpu"], "cpu.cfs_quota_us", str(quota))
        self.log.info("d2l-hub: limits for %s by %s: memory %s, cpu %s", self.user.name, mode,
                      self.mem_limit or "none", self.cpu_limit or "none")

    def make_preexec_fn(self, name):
        inner = super().make_preexec_fn(name)
        groups = getattr(self, "_groups", None)
        nice = bool(self.cpu_limit) and not groups

        def preexec():
            # still root here (before the inner preexec drops to the user): join the user's cgroups
            if groups:
                for d in set(groups.values()):
                    with open(os.path.join(d, "cgroup.procs"), "w") as f:
                        f.write(str(os.getpid()))
            elif nice:
                os.nice(10)
            if inner:
                inner()

        return preexec

    def _watch(self):
        proc = getattr(self, "proc", None)
        if not proc or proc.poll() is not None:
            return
        tree = process_tree(proc.pid)
        total = sum(rss for _, rss in tree)
        if total > self.mem_limit:
            pid, rss = max(tree, key=lambda t: t[1])
            self.log.warning("d2l-hub: %s uses %.0f MiB > limit %.0f MiB: killing pid %d (%.0f MiB)",
                             self.user.name, total / 2**20, self.mem_limit / 2**20, pid, rss / 2**20)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    async def start(self):
        self._limits_setup()
        result = await super().start()
        if self.mem_limit and not self._groups:
            self._watchdog = PeriodicCallback(self._watch, self.watchdog_interval_ms)
            self._watchdog.start()
        return result

    async def stop(self, now=False):
        wd = getattr(self, "_watchdog", None)
        if wd:
            wd.stop()
            self._watchdog = None
        await super().stop(now=now)
        if getattr(self, "_groups", None):
            for _ in range(20):  # the server has exited; its kernels follow within moments
                if _remove_cgroups(self._groups):
                    break
                await asyncio.sleep(0.25)


class D2lSimpleSpawner(D2lLimitsMixin, SimpleLocalProcessSpawner):
    """No system users: every server runs as the hub's user with HOME = DIR/homes/{username} (tests, trials)."""


class D2lLocalSpawner(D2lLimitsMixin, LocalProcessSpawner):
    """Each server runs as the student's own system user (PAM), HOME their home directory (a course)."""


def user_home(spawner):
    """The home the user's server will start in (SimpleLocalProcessSpawner's template, or the passwd entry)."""
    if isinstance(spawner, SimpleLocalProcessSpawner):
        return spawner.home_dir
    return pwd.getpwnam(spawner.user.name).pw_dir


def release_assignments(paths):
    """A pre_spawn_hook that copies each student notebook into HOME/<its folder name>/, never overwriting."""

    def hook(spawner):
        home = user_home(spawner)
        owner = None
        if not isinstance(spawner, SimpleLocalProcessSpawner):
            pw = pwd.getpwnam(spawner.user.name)
            owner = (pw.pw_uid, pw.pw_gid)
        os.makedirs(home, exist_ok=True)
        for src in paths:
            folder = os.path.join(home, os.path.basename(os.path.dirname(os.path.abspath(src))))
            dst = os.path.join(folder, os.path.basename(src))
            if os.path.exists(dst):
                spawner.log.info("d2l-hub: %s already has %s; left as it is", spawner.user.name, dst)
                continue
            os.makedirs(folder, exist_ok=True)
            shutil.copyfile(src, dst)
            if owner:
                os.chown(folder, *owner)
                os.chown(dst, *owner)
            spawner.log.info("d2l-hub: released %s to %s", src, dst)

    return hook
