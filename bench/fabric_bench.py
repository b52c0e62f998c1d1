# SPDX-License-Identifier: BSD-3-Clause
"""Fabric port microbenchmark: frames per second and Gbit/s between two
network namespaces joined by a veth (MTU 9000), and the 64 B ping-pong
round trip, side by side in one run, for

  net_vrdma tcp   net_vrdma over UCX tcp across the veth;
  net_vrdma shm   net_vrdma with UCX's own choice, which is shared memory
                  between the two processes; the notes say what UCX
                  chose;
  ucx tcp, shm    the bare transport: ucx_perftest ucp_am_bw at the same
                  sizes, ucp_am_lat with 64 B messages;
  net_af_packet   the same veth through the kernel's packet sockets;
  net_af_xdp      the same veth through AF_XDP sockets (its MTU lowered to
                  1500 meanwhile: XDP on a veth refuses larger frames);
  net_memif       two processes on a memif (shared memory, unix socket).

Throughput: testpmd txonly on one side, rxonly on the other, counting what
arrived; each cell is the median of --reps runs of --seconds. Round trip:
fabric_peer --pingpong (one 64 B frame at a time, echoed by the other
side; median and 99th percentile of --rtts round trips, the median of
--reps runs). A cell the case cannot fill says why in the notes below the
table. Under it, the verdicts on the fabric port's targets (cases.py's
FABRIC_TARGETS): 64 B frames at 4x bare UCX's message rate, 1500 B at
net_memif's rate, the round trip within 2x bare UCX's, 65226 B at 80% of
bare UCX's rate (each on the same transport). Run as root, alone on the
machine (2 cores: never beside another benchmark; --wait-alone waits for
the others before each measurement)."""

import argparse
import glob
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from vrdmalib import hugepages, plugin
from vrdmalib.util import pid_cmdline

from . import record
from .cases import FABRIC_CASES as CASES
from .cases import FABRIC_TARGETS, verdict
from .cases import UCX_DRIVER_ENV, UCX_PERFTEST_ARGS

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PMD = os.path.join(TOP, "build", "pmd", "librte_net_vrdma.so")
PEER = os.path.join(TOP, "build", "tests", "system", "fabric_peer")
DPDK_PMDS = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-*"
A, B = "198.18.0.1", "198.18.0.2"
MTU = 9000
XDP_MTU = 1500  # veth: an XDP program without frags needs MTU <= ~3.5K
# Others' datapath processes: they skew every number on 2 cores.
DATAPATH = ("ovs-vswitchd-dpdk", "ovs-vswitchd", "dpdk-testpmd", "NPtcp",
            "NPopenmpi", "vrdma-vhost-ns", "fabric_peer", "ucx_perftest")
TX_SEG = 16384  # sender mbuf data room: 64 KiB frames in 4 segments
RX_MBUF = ["--total-num-mbufs=32768", "--mbuf-size=2176"]
TX_MBUF = ["--total-num-mbufs=8192", f"--mbuf-size={TX_SEG + 128}"]
BIG_MBUF = TX_MBUF  # receivers that cannot chain mbufs


class Unavailable(Exception):
    """A measurement that did not give a number; the message says why."""


class Unsupported(Unavailable):
    """A cell this case cannot fill at all; the message says why."""


def log(msg):
    print(f"fabric_bench: {msg}", file=sys.stderr, flush=True)


def sh(*argv, check=True):
    return subprocess.run(argv, capture_output=True, text=True, check=check)


class Namespaces:
    def __init__(self):
        tag = os.urandom(3).hex()
        self.a, self.b = f"vrdma-ba-{tag}", f"vrdma-bb-{tag}"
        self.va, self.vb = f"vba{tag}", f"vbb{tag}"

    def __enter__(self):
        try:
            for ns in (self.a, self.b):
                sh("ip", "netns", "add", ns)
                sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "link", "add", self.va, "mtu", str(MTU), "netns",
               self.a, "type", "veth", "peer", "name", self.vb, "mtu",
               str(MTU), "netns", self.b)
            for ns, dev, addr in ((self.a, self.va, A), (self.b, self.vb, B)):
                sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                sh("ip", "-n", ns, "link", "set", dev, "up")
        except BaseException:
            self.__exit__()
            raise
        time.sleep(1)  # UCX lists devices at init: let the veth come up
        return self

    def set_mtu(self, mtu):
        for ns, dev in ((self.a, self.va), (self.b, self.vb)):
            sh("ip", "-n", ns, "link", "set", dev, "mtu", str(mtu))

    def __exit__(self, *exc):
        for ns in (self.a, self.b):
            sh("ip", "netns", "del", ns, check=False)


def others_running():
    """Datapath processes that are not descendants of this run."""
    me, found = os.getpid(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        argv = pid_cmdline(int(pid))
        if not argv or os.path.basename(argv[0]) not in DATAPATH:
            continue
        p = int(pid)
        while p > 1 and p != me:
            try:
                with open(f"/proc/{p}/stat", encoding="ascii") as f:
                    p = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                break
        if p != me:
            found.append(f"{os.path.basename(argv[0])}[{pid}]")
    return found


class Quiet:
    """Before each measurement, wait up to --wait-alone seconds for the
    others to finish; remember the measurements they ran beside."""

    def __init__(self, limit):
        self.limit, self.disturbed = limit, []

    def wait(self):
        deadline = time.monotonic() + self.limit
        busy = others_running()
        if busy and self.limit > 0:
            log(f"waiting up to {self.limit:.0f}s for {' '.join(busy)}")
        while busy and time.monotonic() < deadline:
            time.sleep(10)
            busy = others_running()
        return busy

    def measure(self, what, fn, *args):
        before = self.wait()
        try:
            return fn(*args)
        finally:
            after = others_running()
            if before or after:
                self.disturbed.append(
                    f"{what} ({' '.join(sorted(set(before + after)))})")


def txpkts(size):
    """testpmd's segment list for a frame of size bytes (its command line
    takes only a short list, hence the sender's large mbufs)."""
    segs = [TX_SEG] * (size // TX_SEG)
    if size % TX_SEG:
        segs.append(size % TX_SEG)
    return ",".join(map(str, segs))


def failure(text, ok=None):
    """Why a DPDK program failed, from its log: its error lines, else its
    last line; None if the line that says success (ok) is there."""
    if ok and re.search(ok, text, re.M):
        return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    why = [ln for ln in lines
           if re.search(r"(?i)fail|error|cannot|unable|not supported|"
                        r"did not", ln)]
    return "; ".join(dict.fromkeys(why[:3])) or (lines or ["no output"])[-1]


class Procs:
    """Two DPDK processes, one per namespace; killed and their runtime
    directories removed on exit."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.procs, self.logs, self.prefixes = [], [], []

    def start(self, nsname, argv, prefix, env=None):
        log_path = os.path.join(self.scratch, f"{prefix}.log")
        logf = open(log_path, "w+", encoding="utf-8")
        self.logs.append(logf)
        self.prefixes.append(prefix)
        proc = subprocess.Popen(["ip", "netns", "exec", nsname, *argv],
                                stdin=subprocess.PIPE, stdout=logf,
                                stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, **(env or {})))
        self.procs.append(proc)
        return proc

    def text(self, i):
        self.logs[i].flush()
        self.logs[i].seek(0)
        return self.logs[i].read()

    def lanes(self):
        """UCX's endpoint configurations (at UCX_LOG_LEVEL=info): which
        transports carried the active messages."""
        return {m for i in range(len(self.logs)) for m in re.findall(
            r"ep_cfg\[\d+\]: (.*?)\s*$", self.text(i), re.M)}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for logf in self.logs:
            logf.close()
        for prefix in self.prefixes:
            shutil.rmtree(f"/run/dpdk/{prefix}", ignore_errors=True)


def eal(prefix, cpus, vdev, pmd, mem="256"):
    # IOVA as virtual addresses, as vrdma node runs the switch without a
    # PCI device: net_vrdma lends received frames only then.
    argv = ["--no-pci", "--iova-mode=va", "--in-memory", "-m", mem,
            "--file-prefix", prefix, "--lcores", cpus, "--main-lcore", "0",
            "--vdev", vdev]
    return argv + (["-d", pmd] if pmd else [])


def testpmd_pair(ns, scratch, peer, size, seconds):
    """Frames received per second: rxonly in ns.a, txonly in ns.b."""
    tag = os.urandom(3).hex()
    with Procs(scratch) as procs:
        for role, nsname, vdev, cpus, mbufs in (
                ("rx", ns.a, peer["rx"], "0@1,1@1", peer["rx_mbufs"]),
                ("tx", ns.b, peer["tx"], "0@0,1@0", peer["tx_mbufs"])):
            procs.start(nsname, [
                "stdbuf", "-oL", "dpdk-testpmd",
                *eal(f"vrdma-bench-{role}-{tag}", cpus, vdev, peer["pmd"]),
                "--", "-i", *mbufs], f"vrdma-bench-{role}-{tag}",
                peer["env"])
            time.sleep(peer["stagger"])
        rx, tx = procs.procs

        def say(proc, line):
            if proc.poll() is None:
                proc.stdin.write(line + "\n")
                proc.stdin.flush()

        time.sleep(4)  # EAL init, connect
        for i in (0, 1):
            why = failure(procs.text(i), r"^Port 0: ")
            if why:
                raise Unavailable(f"testpmd {('rx', 'tx')[i]}: {why}")
        # A port that is not connected yet would count as a zero.
        for _ in range(30):
            for p in procs.procs:
                say(p, "show port info 0")
            time.sleep(0.5)
            links = [re.findall(r"Link status: (\w+)", procs.text(i))
                     for i in (0, 1)]
            if all(ln and ln[-1] == "up" for ln in links):
                break
        else:
            down = [("rx", "tx")[i] for i in (0, 1)
                    if not links[i] or links[i][-1] != "up"]
            if os.environ.get("FABRIC_BENCH_KEEP"):
                for i in (0, 1):
                    with open(f"{os.environ['FABRIC_BENCH_KEEP']}."
                              f"{('rx', 'tx')[i]}", "w") as f:
                        f.write(procs.text(i))
            raise Unavailable(f"testpmd: link down after 19 s on "
                              f"{' and '.join(down)}")
        say(rx, "set fwd rxonly")
        say(rx, "start")
        say(tx, f"set txpkts {txpkts(size)}")
        say(tx, "show config txpkts")
        say(tx, "set fwd txonly")
        time.sleep(1)
        say(tx, "start")
        time.sleep(seconds)
        say(tx, "stop")
        time.sleep(1)
        say(rx, "stop")
        # The receiver quits first, once its counts are out: net_memif's
        # server printed none when its client quit while it was stopping.
        stats = r"Accumulated forward statistics.*?RX-packets:\s+(\d+)"
        for _ in range(100):
            m = re.search(stats, procs.text(0), re.S)
            if m or rx.poll() is not None:
                break
            time.sleep(0.1)
        for p in procs.procs:
            say(p, "quit")
            p.wait(timeout=30)
        if not m:
            raise Unavailable(f"testpmd rx (exit {rx.returncode}) printed "
                              f"no counts: {failure(procs.text(0))}")
        peer["lanes"] |= procs.lanes()
        # testpmd answers "packet len=N" when it took the frame size.
        lens = re.findall(r"packet len=(\d+)", procs.text(1))
    if not lens or int(lens[-1]) != size:
        raise Unavailable(f"testpmd refused frames of {size} B")
    return int(m.group(1)) / seconds


def fabric_pingpong(ns, scratch, peer, rtts):
    """(median, p99) round trip in us of 64 B frames: fabric_peer echoing
    in ns.a, pinging from ns.b."""
    tag = os.urandom(3).hex()
    timeout = 30 + rtts // 1000
    with Procs(scratch) as procs:
        for role, nsname, vdev, cpus, mode in (
                ("echo", ns.a, peer["rx"], "0@1", "--recv"),
                ("ping", ns.b, peer["tx"], "0@0", "--send")):
            prefix = f"vrdma-bench-{role}-{tag}"
            procs.start(nsname, [
                PEER, *eal(prefix, cpus, vdev, peer["pmd"], mem="128"),
                "--", mode, "--sizes", "64", "--pingpong", str(rtts),
                "--timeout", str(timeout)], prefix, peer["env"])
            time.sleep(peer["stagger"])
        echo, ping = procs.procs
        try:
            ping.wait(timeout=timeout + 30)
            echo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        got = procs.text(1)
        m = re.search(r"rtt median_us=(\S+) p99_us=(\S+) n=(\d+) lost=(\d+)",
                      got)
        if not m:
            raise Unavailable(f"fabric_peer ping-pong: ping: "
                              f"{failure(got)}; echo: "
                              f"{failure(procs.text(0))}")
        peer["lanes"] |= procs.lanes()
    if int(m.group(4)):
        log(f"ping-pong: {m.group(4)} of {rtts} round trips lost")
    return float(m.group(1)), float(m.group(2))


def perftest(ns, tls, test, size, iters, rank=None):
    """The 'Final:' line of a ucx_perftest run between the namespaces,
    under the UCX settings net_vrdma runs with (cases.UCX_DRIVER_ENV,
    endpoints with error handling), so that the rows compare the port
    with the transport it runs on, not two UCX configurations."""
    port = str(17000 + os.getpid() % 1000)
    env = dict(UCX_DRIVER_ENV, **os.environ)
    if tls:
        env["UCX_TLS"] = tls
    argv = ["ucx_perftest", *UCX_PERFTEST_ARGS, "-t", test, "-s",
            str(size), "-n", str(iters), "-p", port] + \
        (["-R", str(rank)] if rank else [])
    server = subprocess.Popen(["ip", "netns", "exec", ns.a, *argv], env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(1)
    try:
        out = subprocess.run(["ip", "netns", "exec", ns.b, argv[0], A,
                              *argv[1:]], env=env, capture_output=True,
                             text=True, timeout=120)
    finally:
        server.kill()
        server.wait()
    m = re.search(r"^Final:\s+(.*)$", out.stdout, re.M)
    if not m:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"ucx_perftest {test}: {tail}")
    # iterations, percentile latency, average, overall (us), bandwidth
    # average, overall (MB/s), message rate average, overall (msg/s)
    return [float(x) for x in m.group(1).split()]


def ucx_rate(ns, tls, size, seconds):
    iters = max(1000, int(2e6 / max(size / 64, 1)) * seconds // 2)
    return perftest(ns, tls, "ucp_am_bw", size, iters)[7]


def ucx_pingpong(ns, tls, rtts):
    """ucp_am_lat reports half the round trip, its percentile over the
    last 2048 iterations."""
    iters = max(rtts, 4096)
    return tuple(2 * perftest(ns, tls, "ucp_am_lat", 64, iters, rank)[1]
                 for rank in (50, 99))


def peer_config(kind, ns, tls, port, size, pmd, scratch):
    """How to run the two DPDK ends of a case at a frame size: vdevs,
    mbuf pools, -d, and the delay between starting them."""
    cfg = {"pmd": None, "stagger": 0, "rx_mbufs": RX_MBUF,
           "tx_mbufs": TX_MBUF, "env": {}, "lanes": set()}
    if kind == "vrdma":
        extra = f",transports={tls}" if tls else ""
        # UCX's log says which transports the endpoints use (shared
        # memory unless tls says otherwise: the driver allows it).
        cfg["env"] = {"UCX_LOG_LEVEL": "info"}
        cfg.update(pmd=pmd,
                   rx=f"net_vrdma0,listen={A}:{port},peer={B}:{port}{extra}",
                   tx=f"net_vrdma0,listen={B}:{port},peer={A}:{port}{extra}")
    elif kind == "afpacket":
        if size > MTU + 14:
            raise Unsupported(
                f"above the veth's MTU {MTU}, and DPDK 22.11's af_packet "
                "receives a frame into one mbuf (no scatter), whose data "
                "room is below 65535 B")
        ring = ""
        if size > 1514:
            # Its default 2 KiB ring frames drop larger frames on tx and
            # its rx copies a frame into one mbuf unchecked: big frames
            # need big ring frames and big receive mbufs.
            ring = ",blocksz=16384,framesz=16384,framecnt=512"
            cfg["rx_mbufs"] = BIG_MBUF
        cfg.update(rx=f"net_af_packet0,iface={ns.va}{ring}",
                   tx=f"net_af_packet0,iface={ns.vb}{ring}")
    elif kind == "afxdp":
        if size > XDP_MTU + 14:
            raise Unsupported(
                "DPDK 22.11's af_xdp takes a frame in one 4 KiB umem "
                "chunk (no multi-buffer), and XDP on a veth refuses an "
                "MTU above ~3.5 KiB for such a program")
        cfg.update(rx=f"net_af_xdp0,iface={ns.va},start_queue=0,"
                   "queue_count=1",
                   tx=f"net_af_xdp0,iface={ns.vb},start_queue=0,"
                   "queue_count=1",
                   tx_mbufs=RX_MBUF)  # umem chunks are at most a page
    elif kind == "memif":
        # A file socket: the default abstract one is per network namespace.
        sock = os.path.join(scratch, f"memif-{port}.sock")
        common = f"id=0,socket={sock},socket-abstract=no"
        cfg.update(rx=f"net_memif0,role=server,{common}",
                   tx=f"net_memif0,role=client,{common}",
                   stagger=2)  # the client connects once, at port start
    return cfg


def check_af_xdp():
    """Why AF_XDP cannot work here, or None."""
    if not glob.glob(os.path.join(DPDK_PMDS, "librte_net_af_xdp.so*")):
        return f"no librte_net_af_xdp.so in {DPDK_PMDS}"
    try:
        socket.socket(44, socket.SOCK_RAW, 0).close()  # AF_XDP
    except OSError as exc:
        return f"the kernel has no AF_XDP sockets ({exc.strerror}); " \
               "it needs CONFIG_XDP_SOCKETS=y"
    return None


def median_or_none(values):
    return statistics.median(values) if values else None


def run_case(ns, scratch, quiet, args, name, kind, tls, sizes, pmd, notes):
    """{size: pps or None, 'rtt': (median, p99) or None} for one case."""
    got, lanes = {}, set()
    if kind == "afxdp":
        why = check_af_xdp()
        if why:
            notes.append(f"{name}: NOT MEASURED: {why}")
            return {s: None for s in sizes} | {"rtt": None}
    for size in sizes + ["rtt"]:
        vals = []
        for rep in range(args.reps):
            args.port += 2
            what = f"{name} {size}" + (f" #{rep + 1}" if args.reps > 1
                                       else "")
            try:
                if kind == "ucx" and size == "rtt":
                    v = quiet.measure(what, ucx_pingpong, ns, tls, args.rtts)
                elif kind == "ucx":
                    v = quiet.measure(what, ucx_rate, ns, tls, size,
                                      args.seconds)
                else:
                    cfg = peer_config(kind, ns, tls, args.port,
                                      64 if size == "rtt" else size, pmd,
                                      scratch)
                    if size == "rtt":
                        v = quiet.measure(what, fabric_pingpong, ns,
                                          scratch, cfg, args.rtts)
                    else:
                        v = quiet.measure(what, testpmd_pair, ns, scratch,
                                          cfg, size, args.seconds)
                    lanes |= cfg["lanes"]
            except Unsupported as exc:
                notes.append(f"{name} {size}: n/a: {exc}")
                break
            except (Unavailable, subprocess.SubprocessError, OSError) as exc:
                notes.append(f"{what}: FAILED: {exc}")
                log(f"{what}: failed: {exc}")
                continue
            vals.append(v)
            log(f"{what}: " + (f"{v[0]:.1f}/{v[1]:.1f} us" if size == "rtt"
                               else f"{v / 1e6:.3f} Mpps"))
        if size == "rtt":
            got["rtt"] = (median_or_none([v[0] for v in vals]),
                          median_or_none([v[1] for v in vals])) \
                if vals else None
        else:
            got[size] = median_or_none(vals)
    lanes = {ln.replace(ns.va, "veth").replace(ns.vb, "veth")
             for ln in lanes}
    if lanes:
        notes.append(f"{name}: UCX endpoints: {'; '.join(sorted(lanes))}")
    return got


def fmt(v, spec):
    return format(v, spec) if v is not None else "n/a".rjust(
        int(re.match(r">?(\d+)", spec).group(1)))


def print_table(results, sizes):
    head1 = f"{'':<14}" + "".join(f"{str(s) + ' B':>16}" for s in sizes) + \
        f"{'64 B RTT (us)':>17}"
    head2 = f"{'case':<14}" + f"{'Mpps':>8}{'Gbit/s':>8}" * len(sizes) + \
        f"{'median':>9}{'p99':>8}"
    print(head1)
    print(head2)
    for name, got in results:
        row = f"{name:<14}"
        for s in sizes:
            pps = got.get(s)
            row += fmt(pps / 1e6 if pps is not None else None, ">8.3f")
            row += fmt(pps * s * 8 / 1e9 if pps is not None else None,
                       ">8.2f")
        rtt = got.get("rtt") or (None, None)
        row += fmt(rtt[0], ">9.1f") + fmt(rtt[1], ">8.1f")
        print(row, flush=True)


def add_arguments(ap):
    """The options, on this program's parser and on `vrdma bench
    fabric`'s."""
    # "64 KiB" is 65226 B, the largest TSO frame a Linux guest hands over
    # at MTU 1500: a 64 KiB IP packet holds 45 segments of 1448 B, plus
    # 66 B of Ethernet, IP and TCP headers. (testpmd's txonly frame length
    # is 16 bits: 65535 B is the most it sends.)
    ap.add_argument("--sizes", default="64,1500,9000,65226", metavar="LIST",
                    help="frame sizes in bytes, comma-separated (default "
                    "%(default)s)")
    ap.add_argument("--reps", type=int, default=3,
                    help="runs per cell, the median reported (default "
                    "%(default)s)")
    ap.add_argument("--seconds", type=int, default=2,
                    help="length of a throughput run (default "
                    "%(default)s)")
    ap.add_argument("--rtts", type=int, default=20000,
                    help="64 B round trips per ping-pong run (default "
                    "%(default)s)")
    ap.add_argument("--cases", default=",".join(c[0].replace(" ", "-")
                                                 for c in CASES),
                    metavar="LIST", help="comma-separated subset of the "
                    "rows: " + ", ".join(c[0].replace(" ", "-")
                                         for c in CASES) + " (default: all)")
    ap.add_argument("--wait-alone", type=float, default=0, metavar="S",
                    help="before each measurement, wait up to S seconds "
                    "while other datapath processes (OVS, testpmd, "
                    "fabric_peer, ucx_perftest, NetPIPE) run")
    ap.add_argument("--quick", action="store_true",
                    help="sizes 64,1500, one rep of one second, 4096 "
                    "round trips")
    record.add_argument(ap, "fabric")


def main(argv=None):
    """As a program: python3 -m bench.fabric_bench [OPTIONS]."""
    ap = argparse.ArgumentParser(prog="fabric_bench", description=__doc__,
                                 formatter_class=argparse.
                                 RawDescriptionHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args):
    """A run of the options add_arguments gave; its table on stdout (and
    into --record's document)."""
    record.check(args.record, "fabric")
    with record.Capture() as table:
        code = measure_all(args)
    stamp = record.stamp(
        transports="UCX_TLS per row (tcp; \"\" = UCX's choice, shared "
        "memory here); bare UCX with net_vrdma's UCX settings: " +
        " ".join(f"{k}={v}" for k, v in UCX_DRIVER_ENV.items()) +
        ", ucx_perftest " + " ".join(UCX_PERFTEST_ARGS),
        emulated="every row: two network namespaces on one machine joined "
        "by a veth (MTU 9000), no RDMA NIC; shared memory rows are "
        "process to process")
    record.write(args.record, "fabric", table.text, stamp)
    return code


def targets(results):
    """The verdict on each of FABRIC_TARGETS from print_table's results:
    the ratio of the row's figure to the other row's, and met, missed or
    not measured (either row lacks the figure)."""
    table = dict(results)

    def figure(row, fig):
        v = (table.get(row) or {}).get(fig)
        return v[0] if fig == "rtt" and v else v
    out = []
    for row, fig, against, rule, bound in FABRIC_TARGETS:
        a, b = figure(row, fig), figure(against, fig)
        r = round(a / b, 3) if a is not None and b else None
        what = "64 B round trip" if fig == "rtt" else f"{fig} B rate"
        out.append({"target": f"{row} {what} {rule} {bound:g}x {against}",
                    "ratio": r, "status": verdict(r, rule, bound)})
    return out


def print_targets(results):
    for t in targets(results):
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}x"
        print(f"target: {t['target']}: {ratio} {t['status']}", flush=True)


def measure_all(args):
    if args.quick:
        args.sizes, args.reps, args.seconds, args.rtts = "64,1500", 1, 1, \
            4096
    if os.geteuid() != 0:
        sys.exit("fabric_bench: needs root (namespaces, hugepages)")
    for path in (PMD, PEER):
        if not os.path.exists(path):
            sys.exit(f"fabric_bench: {path} missing; run: tools/vrdma "
                     "setup && ninja -C build")
    wanted = args.cases.split(",")
    cases = [c for c in CASES if c[0].replace(" ", "-") in wanted]
    if len(cases) != len(wanted) or args.reps < 1 or args.rtts < 100:
        sys.exit("fabric_bench: --cases from: " + ", ".join(
            c[0].replace(" ", "-") for c in CASES) +
            "; --reps 1+, --rtts 100+")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [int(s) for s in args.sizes.split(",")]
    print("# " + record.command_line(), flush=True)
    print(f"# medians of {args.reps} run(s) of {args.seconds} s, and of "
          f"{args.reps} x {args.rtts} round trips; two namespaces over a "
          f"veth (MTU {MTU}); {os.cpu_count()} CPUs", flush=True)
    busy = others_running()
    if busy:
        print(f"# warning: not alone: {' '.join(busy)} running", flush=True)
    quiet = Quiet(args.wait_alone)
    args.port = 18000 + os.getpid() % 1000
    scratch = tempfile.mkdtemp(prefix="vrdma-fabbench-")
    results, notes = [], []
    hugepages.reserve("bench:fabric", "2M", 300)
    pmd, created = plugin.plugin_path(PMD)
    try:
        with Namespaces() as ns:
            for name, kind, tls in cases:
                if kind == "afxdp":
                    ns.set_mtu(XDP_MTU)
                try:
                    results.append((name, run_case(
                        ns, scratch, quiet, args, name, kind, tls, sizes,
                        pmd, notes)))
                finally:
                    if kind == "afxdp":
                        ns.set_mtu(MTU)
    finally:
        plugin.remove(created)
        hugepages.release("bench:fabric")
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            os.rmdir("/run/dpdk")
        except OSError:
            pass
    print_table(results, sizes)
    print_targets(results)
    for note in notes:
        print(f"# {note}")
    if quiet.disturbed:
        print(f"# warning: other datapath processes ran beside "
              f"{len(quiet.disturbed)} measurement(s): "
              f"{'; '.join(quiet.disturbed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
