# SPDX-License-Identifier: BSD-3-Clause
"""NetPIPE between network namespaces: NPtcp, and NPmpi (Debian's
NPopenmpi) launched by Open MPI's mpirun with tools/vrdma-ns-rsh as its
remote shell, so each rank runs in its own namespace and MPI's TCP
traffic crosses the switch like a VM's would. Results are parsed from
NetPIPE's own lines: "N: BYTES bytes TIMES times --> MBPS Mbps in USEC
usec"; each run keeps its raw output."""

import os
import shutil
import re
import signal
import subprocess
import time

from . import remote
from .util import VrdmaError

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RSH_AGENT = os.path.join(TOP, "tools", "vrdma-ns-rsh")
LINE = re.compile(r"^\s*\d+:\s+(\d+) bytes\s+(\d+) times -->\s+([\d.]+) "
                  r"Mbps in\s+([\d.]+) usec", re.M)
NPTCP = "/usr/bin/NPtcp"
NPMPI = "/usr/bin/NPopenmpi"
MPIRUN = "/usr/bin/mpirun"
GUEST_HOSTFILE = "/root/vrdma-hosts"
PACKAGE = {NPTCP: "netpipe-tcp", NPMPI: "netpipe-openmpi",
           MPIRUN: "openmpi-bin"}
# Open MPI settings of every MPI job vrdma starts or sets up: mpirun_argv
# (NPmpi in vrdma bench), the guest image's openmpi-mca-params.conf and
# vrdma slurm's run script.
MCA_SETTINGS = (
    # Ranks yield when idle: busy-polling ranks on a small machine starve
    # the switch they measure.
    ("mpi_yield_when_idle", "1"),
    # The TCP BTL's sockets polled at least every 8th progress call, not
    # once per 10 ms tick, when Open MPI 4.1 has lost count of them (two
    # ranks that connect to each other at once: docs/quirks.md).
    ("mpi_event_tick_rate", "1"),
)


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


def need_tool(path):
    """A NetPIPE or Open MPI program about to run: installed, or an error
    naming its package."""
    if path in PACKAGE:
        _need(path, PACKAGE[path])


def nptcp(server, client, server_ip, upper=None, quick=False, timeout=300):
    """NPtcp receiver in guest server, transmitter in guest client
    (guest.Guest); returns (rows, raw output)."""
    sizes = size_args(upper, quick)
    recv = server.spawn([NPTCP, *sizes])
    done = False
    try:
        deadline = time.monotonic() + 15
        while True:
            # The receiver listens within moments; retry until it does.
            code, out, err = client.run([NPTCP, "-h", server_ip, *sizes],
                                        timeout)
            out += err
            if code == 0 and parse(out):
                break
            if time.monotonic() > deadline:
                raise VrdmaError(f"NPtcp {client.name} -> {server_ip} "
                                 f"failed: {out.strip()[-200:]}",
                                 "check that the guests reach each other")
            time.sleep(0.3)
        done = server.reap(recv, 30)[0] is not None
    finally:
        if not done:
            server.reap(recv, 0)
    return parse(out), out


def mpi_env():
    env = dict(os.environ)
    # Guests are namespaces of a machine we own; Open MPI refuses root
    # unless told twice.
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def tcp_transport(ifname):
    """MCA arguments for ranks talking TCP over ifname (btl tcp, pml ob1:
    the path a VM's MPI takes over virtio-net)."""
    return ["--mca", "pml", "ob1", "--mca", "btl", "tcp,self",
            "--mca", "btl_tcp_if_include", ifname]


def mpirun_argv(hosts, argv, ifname="eth0", rsh_agent=RSH_AGENT,
                transport=None, hostfile=None):
    """mpirun with one rank per host, started on the first one: hosts are
    namespaces (with tools/vrdma-ns-rsh as the agent) or VM addresses
    (rsh_agent None: the guest image's dropbear client is configured).

    Ranks talk as transport says (MCA arguments; default: TCP over
    ifname, the guests' eth0), Open MPI's own control traffic takes
    ifname, and MCA_SETTINGS apply."""
    agent = ["--mca", "plm_rsh_agent", rsh_agent] if rsh_agent else []
    transport = tcp_transport(ifname) if transport is None else transport
    where = ["--hostfile", hostfile] if hostfile else \
        ["--host", ",".join(hosts)]
    return [MPIRUN, *where, "-np", str(len(hosts)), "--bind-to", "none",
            *agent,
            "--mca", "plm_rsh_no_tree_spawn", "1", *transport,
            "--mca", "oob_tcp_if_include", ifname,
            *(arg for name, value in MCA_SETTINGS
              for arg in ("--mca", name, value)), *argv]


def npmpi(namespaces, workdir, upper=None, quick=False, timeout=300,
          ifname="eth0", transport=None):
    """A 2-rank NPmpi across two namespaces, over ifname or as transport
    says (see mpirun_argv); returns (rows, raw output)."""
    _need(NPMPI, "netpipe-openmpi")
    code, out = mpirun_ns(namespaces, [NPMPI, *size_args(upper, quick)],
                          workdir, timeout, ifname, transport, "NPmpi")
    rows = parse(out)
    if code != 0 or not rows:
        raise VrdmaError(f"NPmpi across {','.join(namespaces)} failed "
                         f"(exit {code}): {out.strip()[-300:]}",
                         "check that the guests reach each other")
    return rows, out


def mpirun_ns(namespaces, argv, workdir, timeout=300, ifname="eth0",
              transport=None, what="mpirun"):
    """argv as an MPI job with one rank per namespace (mpirun_argv),
    mpirun in the first, run in workdir; returns (exit code, output)."""
    _need(MPIRUN, "openmpi-bin")
    os.makedirs(workdir, exist_ok=True)
    argv = ["ip", "netns", "exec", namespaces[0],
            *mpirun_argv(namespaces, argv, ifname, transport=transport)]
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
        raise VrdmaError(f"{what} across {','.join(namespaces)} did not "
                         f"finish in {timeout}s: {out.strip()[-300:]}",
                         "check that the guests reach each other") from None
    except BaseException:
        # Ctrl-C or SIGTERM reach our session only.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        # The agent's per-namespace TMPDIRs (tools/vrdma-ns-rsh).
        for ns in namespaces:
            shutil.rmtree(remote.ompi_tmpdir(ns), ignore_errors=True)
    return proc.returncode, out


def npmpi_vms(first, addresses, upper=None, quick=False, timeout=300):
    """A 2-rank NPmpi across VM guests, mpirun started in guest first (a
    guest.Guest of kind "vm"); returns (rows, raw output)."""
    # A hostfile in the guest, one slot per guest: what a user's mpirun
    # across VMs reads.
    lines = "".join(f"{ip} slots=1\n" for ip in addresses)
    code, _, err = first.run(["/bin/sh", "-c", f"printf '{lines}' > "
                              f"{GUEST_HOSTFILE}"], 30)
    if code != 0:
        raise VrdmaError(f"{first.name}: cannot write {GUEST_HOSTFILE}: "
                         f"{err.strip()}")
    argv = mpirun_argv(addresses, [NPMPI, *size_args(upper, quick)],
                       rsh_agent=None, hostfile=GUEST_HOSTFILE)
    code, out, err = first.run(argv, timeout)
    out += err
    rows = parse(out)
    if code is None:
        raise VrdmaError(f"NPmpi across {','.join(addresses)} did not "
                         f"finish in {timeout}s: {out.strip()[-300:]}",
                         "check that the guests reach each other")
    if code != 0 or not rows:
        raise VrdmaError(f"NPmpi across {','.join(addresses)} failed "
                         f"(exit {code}): {out.strip()[-300:]}",
                         "check that the guests reach each other")
    return rows, out
