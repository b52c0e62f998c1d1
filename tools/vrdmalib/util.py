# SPDX-License-Identifier: BSD-3-Clause
"""Small helpers shared by every vrdma subcommand: errors that name the fix,
running programs with bounded time, progress on stderr, pid ownership checks
and file locks. Nothing here knows about OVS or DPDK."""

import contextlib
import fcntl
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time


class VrdmaError(Exception):
    """An error the operator can act on: what went wrong, and the fix."""

    def __init__(self, what, fix=None, code=1):
        super().__init__(what)
        self.what = what
        self.fix = fix
        self.code = code  # the exit status (3: not up, as LSB status)

    def line(self):
        if self.fix:
            return f"{self.what}; fix: {self.fix}"
        return self.what


QUIET = False


def progress(msg):
    """Progress and diagnostics go to stderr; stdout carries results."""
    if not QUIET:
        # One write per line: lines from threads (cluster) stay whole.
        sys.stderr.write(f"vrdma: {msg}\n")
        sys.stderr.flush()


def warn(msg):
    print(f"vrdma: warning: {msg}", file=sys.stderr, flush=True)


def make_key(path):
    """A fabric key at path (which must not exist), as the docs tell an
    operator to make one: 32 random bytes in hex, mode 600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")


def need_root(what):
    if os.geteuid() != 0:
        raise VrdmaError(f"{what} needs root", "run it as root (sudo)")


def need_program(path, package):
    found = path if os.path.isabs(path) else shutil.which(path)
    if not found or not os.access(found, os.X_OK):
        raise VrdmaError(f"{path} not found (Debian package {package})",
                         "run: tools/vrdma setup")
    return found


def run(cmd, check=True, timeout=60, env=None, input=None, cwd=None):
    """Run a command to completion and capture its output.

    A failure raises VrdmaError carrying the command's last stderr line, so
    the operator sees the program's own reason rather than a traceback."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, env=env, input=input,
                              cwd=cwd)
    except FileNotFoundError as exc:
        raise VrdmaError(f"{cmd[0]}: not found",
                         "run: tools/vrdma setup") from exc
    except subprocess.TimeoutExpired as exc:
        raise VrdmaError(f"{' '.join(cmd[:3])} ...: no answer in {timeout}s",
                         "see the node's logs (vrdma node status)") from exc
    if check and proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or
                proc.stdout.strip().splitlines() or ["(no output)"])[-1]
        raise VrdmaError(f"{os.path.basename(cmd[0])} failed "
                         f"(exit {proc.returncode}): {last}",
                         _fix_for(cmd))
    return proc


# What to do when a program vrdma runs fails, by program; else the
# command line, to run again and read all of its output.
RUN_FIXES = {
    "ovs-vsctl": "is the node's ovsdb-server running? vrdma node status",
    "ovs-appctl": "is the node's ovs-vswitchd running? vrdma node status",
    "ovsdb-tool": "see the DB file named above; vrdma node status",
    "virsh": "vrdma virsh --node NODE -- list --all shows the domains",
    "apt-get": "apt-get update, then run it again; check the network to "
               "the Debian mirror",
}


def _fix_for(cmd):
    prog = os.path.basename(cmd[0])
    if prog == "ip" and cmd[1:3] == ["netns", "exec"] and len(cmd) > 4:
        prog = os.path.basename(cmd[4])
    if prog in RUN_FIXES:
        return RUN_FIXES[prog]
    line = shlex.join(cmd)
    return f"run it again to read all of its output: " \
        f"{line if len(line) <= 200 else line[:200] + ' ...'}"


def pid_alive(pid):
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is not running anything.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def pid_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace")
                    for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def read_pidfile(path):
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip() or "0") or None
    except (OSError, ValueError):
        return None


def monitor_of(pid, owned_marker):
    """The OVS --monitor process watching daemon pid: its parent, when that
    runs the same program with owned_marker on its command line; else
    None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
    mine, parent = pid_cmdline(pid), pid_cmdline(ppid)
    if ppid > 1 and parent and mine and parent[0] == mine[0] and \
            any(owned_marker in arg for arg in parent):
        return ppid
    return None


def wait_gone(pid, owned_marker, name, timeout=5.0):
    """Wait for pid (an OVS monitor whose daemon ended: it exits by
    itself) to end; SIGTERM it if it does not."""
    if wait_for(lambda: not pid_alive(pid), timeout, 0.05):
        return
    if any(owned_marker in arg for arg in pid_cmdline(pid)):
        warn(f"{name} monitor (pid {pid}) outlived its daemon; stopping it")
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not pid_alive(pid), timeout, 0.05)


def stop_pid(pid, owned_marker, name, timeout=10.0):
    """Stop pid only if its command line carries owned_marker (a path only
    this node uses), so a recycled pid is never signalled. SIGTERM first,
    SIGKILL after timeout; then its OVS --monitor, which exits when its
    daemon ends by a signal it does not restart on (SIGTERM, SIGKILL).
    Returns True if a process was stopped."""
    if not pid_alive(pid):
        return False
    if not any(owned_marker in arg for arg in pid_cmdline(pid)):
        warn(f"pid {pid} is not this node's {name} any more; left alone")
        return False
    monitor = monitor_of(pid, owned_marker)
    _stop(pid, name, timeout)
    if monitor:
        wait_gone(monitor, owned_marker, name)
    return True


def _stop(pid, name, timeout):
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    warn(f"{name} (pid {pid}) ignored SIGTERM for {timeout:.0f}s; killing")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_for(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@contextlib.contextmanager
def locked(directory):
    """An exclusive lock on a directory of ours, so two vrdma commands never
    change one node (or the machine's hugepage ledger) at the same time.
    Locking the directory itself leaves no lock file behind."""
    os.makedirs(directory, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def parse_cpu_list(text):
    """'0-3,6' -> [0, 1, 2, 3, 6]; raises ValueError on garbage."""
    cpus = set()
    text = text.strip()
    if not text:
        return []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            lo, hi = int(lo), int(hi)
            if lo > hi or lo < 0:
                raise ValueError(part)
            cpus.update(range(lo, hi + 1))
        else:
            cpu = int(part)
            if cpu < 0:
                raise ValueError(part)
            cpus.add(cpu)
    return sorted(cpus)


def read_text(path, default=""):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return default


def online_cpus():
    return parse_cpu_list(read_text("/sys/devices/system/cpu/online", "0"))


def isolated_cpus():
    return parse_cpu_list(read_text("/sys/devices/system/cpu/isolated"))


def cpu_mask(cpus):
    mask = 0
    for cpu in cpus:
        mask |= 1 << cpu
    return hex(mask)


HZ = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """utime + stime of a whole process (all its threads), seconds."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / HZ


def machine_busy():
    """Busy CPU seconds of the machine since boot: every /proc/stat field
    but idle and iowait (guest time is already inside user)."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / HZ
