# SPDX-License-Identifier: BSD-3-Clause
"""A guest without a VM: DPDK's testpmd with one net_virtio_user port on a
node's vhost-user socket, driven through its interactive prompt. Used by
the system tests (vrdmatest.py) to put real frames through the switch.

testpmd busy-polls, so on a small machine an endpoint runs only while a
measurement needs it; each gets its own hugepages (counted in the ledger)
and DPDK file prefix, and removes both when it stops."""

import os
import re
import shutil
import subprocess
import time

from vrdmalib import hugepages
from vrdmalib.util import VrdmaError, pid_alive

TESTPMD = "dpdk-testpmd"

STAT_RE = {
    "rx_packets": re.compile(r"RX-packets:\s+(\d+)"),
    "rx_bytes": re.compile(r"RX-bytes:\s+(\d+)"),
    "tx_packets": re.compile(r"TX-packets:\s+(\d+)"),
    "tx_bytes": re.compile(r"TX-bytes:\s+(\d+)"),
    "rx_missed": re.compile(r"RX-missed:\s+(\d+)"),
    "tx_errors": re.compile(r"TX-errors:\s+(\d+)"),
}


class Testpmd:
    """One testpmd process with one virtio_user port.

    server=True makes virtio_user create and serve the socket (for an OVS
    dpdkvhostuserclient port); server=False connects to OVS's socket (for a
    dpdkvhostuser port)."""

    def __init__(self, name, socket, server, workdir, mem_mb=128, mac=None,
                 queues=1):
        self.name = name
        self.queues = queues
        self.socket = socket
        self.server = server
        self.workdir = workdir
        self.mem_mb = mem_mb
        self.mac = mac
        self.prefix = f"vrdma-ep-{name}"
        self.log = os.path.join(workdir, f"testpmd-{name}.log")
        self.proc = None
        self.owner = f"endpoint:{name}"

    def argv(self):
        vdev = f"net_virtio_user0,path={self.socket},queues={self.queues}"
        if self.server:
            vdev += ",server=1"
        if self.mac:
            vdev += f",mac={self.mac}"
        # Three lcores: 0 (main, the prompt), 1 on CPU 0 and 2 on CPU 1;
        # `set corelist` then moves forwarding between CPUs at run time:
        # receivers on CPU 0, senders on CPU 1 beside OVS's PMD, so that a
        # sender's busy loop cannot starve the receiver on a 2-CPU machine.
        cpus = sorted(os.sched_getaffinity(0))
        lo, hi = cpus[0], cpus[-1]
        lcores = f"0@{lo},1@{lo},2@{hi}"
        # --single-file-segments: virtio_user can share only a few memory
        # regions with the vhost backend ("Too many memory regions").
        # Line-buffered: the prompt and statistics are read back from a file.
        return ["stdbuf", "-oL", TESTPMD, "--lcores", lcores,
                "--main-lcore", "0",
                "--no-pci", "--in-memory", "--single-file-segments",
                "-m", str(self.mem_mb), "--file-prefix", self.prefix,
                "--log-level", "lib.eal:notice", "--vdev", vdev, "--",
                "-i", "--total-num-mbufs=4096", "--forward-mode=rxonly",
                f"--rxq={self.queues}", f"--txq={self.queues}"]

    def start(self, timeout=60):
        if not shutil.which(TESTPMD):
            raise VrdmaError("dpdk-testpmd not found (Debian package "
                             "dpdk-dev)", "run: tools/vrdma setup")
        hugepages.reserve(self.owner, "2M", -(-self.mem_mb // 2) + 8)
        self._logf = open(self.log, "w", encoding="utf-8")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.PIPE,
                                     stdout=self._logf,
                                     stderr=subprocess.STDOUT, text=True)
        if not self._wait(r"testpmd> ", 0, timeout):
            tail = self.tail()
            self.stop()
            raise VrdmaError(f"endpoint {self.name}: testpmd did not reach "
                             f"its prompt in {timeout}s: {tail}",
                             f"see {self.log}")
        return self

    def text(self, offset=0):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                f.seek(offset)
                return f.read()
        except OSError:
            return ""

    def tail(self, lines=3):
        return " | ".join(self.text().strip().splitlines()[-lines:])

    def _wait(self, pattern, offset, timeout):
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if regex.search(self.text(offset)):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def cmd(self, line, expect=r"testpmd> ", timeout=20):
        """Send one command line; return the output it produced."""
        if self.proc is None or self.proc.poll() is not None:
            raise VrdmaError(f"endpoint {self.name}: testpmd is not running: "
                             f"{self.tail()}", f"see {self.log}")
        offset = os.path.getsize(self.log)
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        if not self._wait(expect, offset, timeout):
            raise VrdmaError(f"endpoint {self.name}: no answer to {line!r} "
                             f"in {timeout}s: {self.tail()}",
                             f"see {self.log}")
        return self.text(offset)

    def stats(self):
        out = self.cmd("show port stats 0", expect=r"Tx-bps.*\n.*#{10,}")
        result = {}
        for key, regex in STAT_RE.items():
            match = regex.search(out)
            result[key] = int(match.group(1)) if match else 0
        return result

    def link_up(self):
        out = self.cmd("show port info 0", expect=r"Link status:\s+\w+")
        return re.search(r"Link status:\s+up", out) is not None

    def send(self, seconds, frame_len=64):
        """Transmit frames (testpmd txonly) for a bounded time."""
        self.cmd("stop")
        self.cmd(f"set txpkts {frame_len}")
        self.cmd("set corelist 2")
        self.cmd("set fwd txonly")
        self.cmd("start")
        time.sleep(seconds)
        self.cmd("stop", expect=r"Done\.")
        self.cmd("set fwd rxonly")

    def generate(self, frame_len):
        """Send frames of many flows and count what arrives, at once
        (testpmd flowgen: 1024 flows by destination IP, from a fixed
        source MAC to an unknown one, so a switch floods them), on every
        queue, until halt(); unpaced, so a run is bounded by the caller's
        time. With several queues, CPU 0 and 1 each serve some."""
        self.cmd("stop")
        self.cmd(f"set txpkts {frame_len}")
        self.cmd("set corelist 2" if self.queues == 1 else "set corelist 1,2")
        self.cmd(f"set nbcore {min(self.queues, 2)}")
        self.cmd("set fwd flowgen")
        self.cmd("start")

    def halt(self):
        self.cmd("stop", expect=r"Done\.")
        self.cmd("set fwd rxonly")

    def receive(self):
        """Count frames (testpmd rxonly) until the next stop."""
        self.cmd("set corelist 1")
        self.cmd("set nbcore 1")
        self.cmd("set fwd rxonly")
        self.cmd("start")

    def clear(self):
        self.cmd("clear port stats 0")

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.stdin.write("stop\nquit\n")
                    self.proc.stdin.flush()
                except (BrokenPipeError, ValueError):
                    pass
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
            try:
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            self._logf.close()
            self.proc = None
        shutil.rmtree(os.path.join("/run/dpdk", self.prefix),
                      ignore_errors=True)
        try:
            os.rmdir("/run/dpdk")
        except OSError:
            pass
        if self.server:
            try:
                os.unlink(self.socket)
            except OSError:
                pass
        hugepages.release(self.owner)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and pid_alive(self.proc.pid)
