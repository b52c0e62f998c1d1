# SPDX-License-Identifier: BSD-3-Clause
"""libvirt for a node: the system's libvirtd, or the node's own.

With `[libvirt] daemon = "node"` the node runs its own libvirtd and
virtlogd (the 2015 report's Table 3: a pid file, a config and a socket
directory named after the node), so several nodes share one install or
one machine without meeting in /run/libvirt. A privileged libvirtd keeps
its state in fixed places (/etc/libvirt, /run/libvirt, /var/lib/libvirt,
/var/log/libvirt, /var/cache/libvirt): the node's daemons run in a mount
namespace of their own where those are the node's directories, bound
from STATE/NODE/libvirt. Mount propagation is slave, so hugetlbfs mounts
made later on the host still reach the QEMUs it starts. Clients reach it
from outside through the socket's real path:
qemu+unix:///system?socket=STATE/NODE/libvirt/run/libvirt-sock.

Its QEMUs run as root with no security driver: they must open the
node's vhost-user sockets and hugepages, which belong to root."""

import os
import shutil
import subprocess

from . import hugepages
from .util import (VrdmaError, need_program, pid_alive, progress,
                   read_pidfile, run, stop_pid, wait_for)

SYSTEM_URI = "qemu:///system"
LIBVIRTD = "/usr/sbin/libvirtd"
VIRTLOGD = "/usr/sbin/virtlogd"
# In the daemon's mount namespace: where libvirt looks -> the node's dir.
BINDS = (("/etc/libvirt", "etc"), ("/run/libvirt", "run"),
         ("/var/lib/libvirt", "lib"), ("/var/log/libvirt", "log"),
         ("/var/cache/libvirt", "cache"))

QEMU_CONF = """\
# Written by vrdma for node {node}: its QEMUs open root's vhost-user
# sockets and hugepages.
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
stdio_handler = "logd"
"""

# libvirtd starts in its own mount namespace: bind the node's directories
# over libvirt's fixed ones, start virtlogd there, become libvirtd.
START = """\
set -e
for pair in "$@"; do
    dst=${pair%%=*}; src=${pair#*=}
    mkdir -p "$dst"
    mount --bind "$src" "$dst"
done
/usr/sbin/virtlogd --daemon --config "$VIRTLOGD_CONF" --pid-file "$VIRTLOGD_PID"
exec /usr/sbin/libvirtd --config "$LIBVIRTD_CONF" --pid-file "$LIBVIRTD_PID"
"""


class Libvirt:
    """The libvirt a node's VMs live in."""

    def __init__(self, node):
        self.node = node
        self.private = node.cfg["libvirt.daemon"] == "node"
        name = node.name
        self.root = os.path.join(node.paths.root, "libvirt")
        self.config = os.path.join(self.root, f"libvirtd-{name}.conf")
        self.logd_config = os.path.join(self.root, f"virtlogd-{name}.conf")
        self.pidfile = os.path.join(self.root, "run", f"libvirtd-{name}.pid")
        self.logd_pidfile = os.path.join(self.root, "run",
                                         f"virtlogd-{name}.pid")
        self.log = os.path.join(node.paths.log_dir, f"libvirtd-{name}.log")
        self.logd_log = os.path.join(node.paths.log_dir,
                                     f"virtlogd-{name}.log")
        self.socket = os.path.join(self.root, "run", "libvirt-sock")
        if self.private and len(self.socket) > 107:
            raise VrdmaError(f"libvirt socket path {self.socket} is longer "
                             "than a unix socket allows",
                             "use a shorter state_dir or node name")

    @property
    def uri(self):
        if self.private:
            return f"qemu+unix:///system?socket={self.socket}"
        return SYSTEM_URI

    def qemu_log(self, domain):
        """QEMU's own log of domain (its stderr, libvirt's command line)."""
        base = os.path.join(self.root, "log") if self.private \
            else "/var/log/libvirt"
        return os.path.join(base, "qemu", f"{domain}.log")

    def virsh(self, *args, timeout=60, check=True):
        return run(["virsh", "-q", "-c", self.uri, *args], timeout=timeout,
                   check=check)

    def answers(self):
        if self.private and not os.path.exists(self.socket):
            return False
        proc = run(["virsh", "-q", "-c", self.uri, "version"], timeout=15,
                   check=False)
        return proc.returncode == 0

    def daemon_pid(self):
        pid = read_pidfile(self.pidfile)
        return pid if pid_alive(pid) else None

    def ensure(self):
        """The libvirt to talk to, answering; starts the node's own."""
        need_program("virsh", "libvirt-clients")
        if not self.private:
            if not self.answers():
                raise VrdmaError(
                    "the system's libvirtd does not answer at "
                    f"{SYSTEM_URI}",
                    "start it (systemctl start libvirtd), or set [libvirt] "
                    'daemon = "node" in the node config for a node-private '
                    "one")
            return self
        if self.daemon_pid() and self.answers():
            return self
        self.stop()
        self._start()
        return self

    def _start(self):
        need_program(LIBVIRTD, "libvirt-daemon-system")
        need_program(VIRTLOGD, "libvirt-daemon-system")
        name = self.node.name
        for _dst, sub in BINDS:
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        os.makedirs(self.node.paths.log_dir, exist_ok=True)
        with open(os.path.join(self.root, "etc", "qemu.conf"), "w",
                  encoding="utf-8") as f:
            f.write(QEMU_CONF.format(node=name))
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(f"# libvirtd of node {name} (written by vrdma)\n"
                    'unix_sock_group = "root"\n'
                    'unix_sock_rw_perms = "0770"\n'
                    f'log_outputs = "3:file:{self.log}"\n')
        with open(self.logd_config, "w", encoding="utf-8") as f:
            f.write(f"# virtlogd of node {name} (written by vrdma)\n"
                    f'log_outputs = "3:file:{self.logd_log}"\n')
        progress(f"node {name}: starting its libvirtd and virtlogd")
        env = dict(os.environ, LIBVIRTD_CONF=self.config,
                   LIBVIRTD_PID=self.pidfile,
                   VIRTLOGD_CONF=self.logd_config,
                   VIRTLOGD_PID=self.logd_pidfile)
        binds = [f"{dst}={os.path.join(self.root, sub)}"
                 for dst, sub in BINDS]
        with open(self.log, "a", encoding="utf-8") as out:
            proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "slave",
                 "sh", "-c", START, "vrdma-libvirt", *binds],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                start_new_session=True)
        if not wait_for(lambda: proc.poll() is not None or
                        (os.path.exists(self.socket) and self.answers()),
                        30, 0.3) or proc.poll() is not None:
            self.stop()
            raise VrdmaError(f"libvirtd of node {name} did not start: "
                             f"{self._log_reason()}", f"see {self.log}")

    def _log_reason(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                lines = [ln.strip() for ln in f if ln.strip()]
        except OSError:
            return "no log"
        errs = [ln for ln in lines if "error" in ln.lower()]
        return (errs or lines or ["empty log"])[-1]

    def stop(self):
        """Stop the node's own daemons (never the system's)."""
        if not self.private:
            return
        stop_pid(read_pidfile(self.pidfile), self.config, "libvirtd")
        stop_pid(read_pidfile(self.logd_pidfile), self.logd_config,
                 "virtlogd")
        for path in (self.pidfile, self.logd_pidfile):
            try:
                os.unlink(path)
            except OSError:
                pass

    def remove(self):
        """Stop the node's daemons and remove their directories."""
        self.stop()
        if self.private:
            shutil.rmtree(self.root, ignore_errors=True)
            remove_empty_hugepage_dirs()


def remove_empty_hugepage_dirs():
    """libvirt backs guest memory with files under HUGETLBFS/libvirt/qemu/
    and leaves the directories behind; remove the empty ones (another
    node's running guests keep theirs)."""
    for point in hugepages.mounts():
        top = os.path.join(point, "libvirt")
        for dirpath, _dirs, _files in os.walk(top, topdown=False):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
