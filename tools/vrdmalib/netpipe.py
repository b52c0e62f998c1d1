# SPDX-License-Identifier: BSD-3-Clause
"""NetPIPE between network namespaces: NPtcp, and NPmpi (Debian's
NPopenmpi) launched by Open MPI's mpirun with tools/vrdma-ns-rsh as its
remote shell, so each rank runs in its own namespace and MPI's TCP
traffic crosses the switch like a VM's would. Results are parsed from
NetPIPE's own lines: "N: BYTES bytes TIMES times --> MBPS Mbps in USEC
usec"; each run keeps its raw output."""

import os
import re
import signal
import subprocess
import time

from .util import VrdmaError

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RSH_AGENT = os.path.join(TOP, "tools", "vrdma-ns-rsh")
LINE = re.compile(r"^\s*\d+:\s+(\d+) bytes\s+(\d+) times -->\s+([\d.]+) "
                  r"Mbps in\s+([\d.]+) usec", re.M)
NPTCP = "/usr/bin/NPtcp"
NPMPI = "/usr/bin/NPopenmpi"
MPIRUN = "/usr/bin/mpirun"


def parse(text):
    """[{"bytes", "mbps", "gbits", "usec"}] from NetPIPE output; usec is
    half the round trip, NetPIPE's one-way latency. NetPIPE's "Mbps" are
    2^20 bit/s; gbits is 10^9 bit/s."""
    return [{"bytes": int(b), "mbps": float(m),
             "gbits": float(m) * (1 << 20) / 1e9, "usec": float(u)}
            for b, _, m, u in LINE.findall(text)]


def _need(path, package):
    if not os.access(path, os.X_OK):
        raise VrdmaError(f"{path} not found (Debian package {package})",
                         "run: tools/vrdma setup")


def size_args(upper=None, quick=False):
    args = []
    if upper:
        args += ["-u", str(upper)]
    if quick:
        args += ["-p", "0"]  # powers of two only, no perturbed sizes
    return args


def nptcp(server_ns, client_ns, server_ip, workdir, upper=None, quick=False,
          timeout=300):
    """NPtcp receiver in server_ns, transmitter in client_ns; returns
    (rows, raw output). workdir gets NetPIPE's np.out."""
    _need(NPTCP, "netpipe-tcp")
    os.makedirs(workdir, exist_ok=True)
    sizes = size_args(upper, quick)
    recv = subprocess.Popen(["ip", "netns", "exec", server_ns, NPTCP, *sizes],
                            cwd=workdir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            # The receiver listens within moments; retry until it does.
            send = subprocess.run(
                ["ip", "netns", "exec", client_ns, NPTCP, "-h", server_ip,
                 *sizes], cwd=workdir, capture_output=True, text=True,
                timeout=timeout, check=False)
            out = send.stdout + send.stderr
            if send.returncode == 0 and parse(out):
                break
            if time.monotonic() > deadline:
                raise VrdmaError(f"NPtcp {client_ns} -> {server_ip} "
                                 f"failed: {out.strip()[-200:]}",
                                 "check that the guests reach each other")
            time.sleep(0.3)
        recv.wait(timeout=30)
    finally:
        if recv.poll() is None:
            recv.kill()
            recv.wait()
    return parse(out), out


def mpi_env():
    env = dict(os.environ)
    # Guests are namespaces of a machine we own; Open MPI refuses root
    # unless told twice.
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def mpirun_argv(namespaces, argv, ifname="eth0"):
    """mpirun with one rank per namespace, started in the first one.

    Ranks talk TCP over the guests' eth0 (btl tcp, pml ob1: the path a VM's
    MPI takes over virtio-net) and yield when idle, since busy-polling
    ranks on a small machine starve the switch they measure."""
    return [MPIRUN, "--host", ",".join(namespaces), "-np",
            str(len(namespaces)), "--bind-to", "none",
            "--mca", "plm_rsh_agent", RSH_AGENT,
            "--mca", "plm_rsh_no_tree_spawn", "1",
            "--mca", "pml", "ob1", "--mca", "btl", "tcp,self",
            "--mca", "btl_tcp_if_include", ifname,
            "--mca", "oob_tcp_if_include", ifname,
            "--mca", "mpi_yield_when_idle", "1", *argv]


def npmpi(namespaces, workdir, upper=None, quick=False, timeout=300):
    """A 2-rank NPmpi across two namespaces; returns (rows, raw output)."""
    _need(NPMPI, "netpipe-openmpi")
    _need(MPIRUN, "openmpi-bin")
    os.makedirs(workdir, exist_ok=True)
    argv = ["ip", "netns", "exec", namespaces[0],
            *mpirun_argv(namespaces, [NPMPI, *size_args(upper, quick)])]
    # Its own session, so that a timeout stops mpirun, the orteds it
    # started through the rsh agent and the ranks, and nothing else.
    proc = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env=mpi_env(), start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise VrdmaError(f"NPmpi across {','.join(namespaces)} did not "
                         f"finish in {timeout}s: {out.strip()[-300:]}",
                         "check that the guests reach each other") from None
    rows = parse(out)
    if proc.returncode != 0 or not rows:
        raise VrdmaError(f"NPmpi across {','.join(namespaces)} failed "
                         f"(exit {proc.returncode}): {out.strip()[-300:]}",
                         "check that the guests reach each other")
    return rows, out
