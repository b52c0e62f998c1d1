# SPDX-License-Identifier: BSD-3-Clause
"""Namespace guest benchmark: NPtcp between two network namespaces, side by
side in one run, over

  veth               the two namespaces joined by a veth pair (the kernel
                     alone, the yardstick);
  vhost-ns           two `vrdma ns add` guests on one OVS-DPDK node: a tap
                     with virtio-net headers per namespace, vrdma-vhost-ns
                     between it and the port's rings, sleeping on events;
  vhost-ns-tso       the same on a node with [ports] tso = true (64 KiB
                     TCP frames cross the switch whole);
  vhost-ns-busypoll  the same with --busy-poll frontends;
  vhost-ns-nosleep   the same on a node whose PMD never sleeps
                     ([cpu] pmd_maxsleep_us = 0; the default on this
                     machine's shared cores is 100 us);
  vhost-ns-tso-nosleep  both;
  vhost-ns-tso-huge  vhost-ns-tso with the frontends' memory (rings and
                     buffers, which OVS copies to and from) in 2 MiB
                     hugepages instead of a memfd's 4 KiB pages;
  testpmd-tap        the DPDK way without our frontend: per namespace a
                     testpmd forwarding (io) between net_tap (eth0 in the
                     namespace) and net_virtio_user on a port of the node.

Per variant: NPtcp latency at 1 B and 64 B (NetPIPE's half round trip),
bandwidth at 64 KiB and the peak over all sizes, the CPU seconds the
datapath processes (ovs-vswitchd, frontends, testpmds) used during the
NPtcp run and those per GB the client's eth0 moved (received plus sent:
comparable across machines), and the whole machine's busy CPU seconds
(/proc/stat), which is the only fair count for the veth (its work is
kernel time of NPtcp itself). Each cell is the median of --reps NPtcp runs; raw NetPIPE output,
logs and OVS PMD statistics go to --out.

Targets (the issue): vhost-ns bandwidth at least 50% of the veth pair's,
latency within 3x of it, and both better than testpmd-tap. Run as root,
alone on the machine (2 cores: never beside another benchmark)."""

import argparse
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from vrdmalib import config as cfgmod
from vrdmalib import hugepages, netpipe
from vrdmalib.guest import NsGuest
from vrdmalib.node import Node
from vrdmalib.util import VrdmaError, machine_busy, pid_cmdline, proc_cpu

from . import record
from .cases import NS_VARIANTS as VARIANTS

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The operator's CLI, run as a program: the nodes it brings up outlive
# the calls, and each call reads the scratch state dir from the
# environment like an operator's would.
VRDMA = os.path.join(TOP, "tools", "vrdma")
VETH_A, VETH_B = "198.18.0.1", "198.18.0.2"
TAP_A, TAP_B = "198.18.1.1", "198.18.1.2"  # testpmd-tap guests, /24
TESTPMD_MB = 128


def log(msg):
    print(f"ns_bench: {msg}", file=sys.stderr, flush=True)


def sh(*argv, check=True, timeout=120):
    proc = subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise VrdmaError(f"{' '.join(argv)} exited {proc.returncode}: "
                         f"{(proc.stderr or proc.stdout).strip()[-300:]}")
    return proc


def vrdma(*args, check=True):
    """The real CLI, against the scratch state dir in os.environ."""
    return sh(VRDMA, *args, check=check, timeout=300)


# --- the variants ----------------------------------------------------------
# Each is set up inside an ExitStack (cleanup registered right after each
# create, run in reverse order) and yields a Setup.

class Setup:
    def __init__(self, server_ns, client_ns, server_ip, pids=(), node=None):
        self.server_ns = server_ns
        self.client_ns = client_ns
        self.server_ip = server_ip
        self.pids = list(pids)      # datapath processes to charge CPU to
        self.node = node            # Node, for PMD statistics


def new_netns(stack, name):
    sh("ip", "netns", "add", name)
    stack.callback(sh, "ip", "netns", "del", name, check=False)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    # IPv4 only: no IPv6 autoconfiguration chatter beside the measurement.
    for conf in ("all", "default"):
        sh("ip", "netns", "exec", name, "sysctl", "-q", "-w",
           f"net.ipv6.conf.{conf}.disable_ipv6=1")


def wait_link_up(ns, dev, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        out = sh("ip", "-n", ns, "link", "show", "dev", dev,
                 check=False).stdout
        if "state UP" in out or ("LOWER_UP" in out and ",UP" in out):
            return
        if time.monotonic() > deadline:
            raise VrdmaError(f"{dev} in {ns} did not come up in {timeout}s: "
                             f"{out.strip()}")
        time.sleep(0.1)


def ping_until(src_ns, dst_ip, timeout=30):
    """Resolve ARP and prove the path before NPtcp times anything."""
    deadline = time.monotonic() + timeout
    while sh("ip", "netns", "exec", src_ns, "ping", "-c", "1", "-W", "1",
             dst_ip, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise VrdmaError(f"{src_ns} cannot ping {dst_ip} after "
                             f"{timeout}s", "see the logs in --out")
    sh("ip", "netns", "exec", src_ns, "ping", "-q", "-c", "5", "-i", "0.1",
       dst_ip)


def setup_veth(stack, tag, _args):
    a, b = f"nsb-va-{tag}", f"nsb-vb-{tag}"
    for ns in (a, b):
        new_netns(stack, ns)
    sh("ip", "link", "add", "eth0", "netns", a, "type", "veth", "peer",
       "name", "eth0", "netns", b)
    for ns, addr in ((a, VETH_A), (b, VETH_B)):
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
    for ns in (a, b):
        wait_link_up(ns, "eth0")
    ping_until(a, VETH_B)
    return Setup(b, a, VETH_B)


def node_up(stack, tag, scratch, tso=False, maxsleep=None):
    """A node in its own namespace (the host's may hold another node's
    ovs-netdev tap), default config but for userspace TSO and the PMD's
    idle sleep cap when asked."""
    name = f"nb{tag}"
    conf = os.path.join(scratch, f"{name}.toml")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(f'[node]\nname = "{name}"\nnetns = "nsb-sw-{tag}"\n')
        # Explicit both ways: the A/B is TSO against none, whatever
        # the default.
        f.write(f"[ports]\ntso = {'true' if tso else 'false'}\n")
        if maxsleep is not None:
            f.write(f"[cpu]\npmd_maxsleep_us = {maxsleep}\n")
    stack.callback(vrdma, "node", "down", "--node", name, "--config", conf,
                   check=False)
    log(f"node {name} up{' (tso)' if tso else ''}"
        f"{'' if maxsleep is None else f' (pmd-maxsleep {maxsleep})'}")
    vrdma("node", "up", "--node", name, "--config", conf)
    # pmd-perf-show's overall figures (cycles, sleep) need no
    # pmd-perf-metrics, which would add its own cost to every iteration.
    return name, conf, Node(cfgmod.load(conf, name))


# 2 MiB pages for one frontend's memory at its default ring (1024): its
# rings, 4 KiB rx buffers and 256 tx buffers of 68 KiB (vu_data.h), 21 MiB.
FRONTEND_PAGES = 12


def setup_vhost_ns(stack, tag, args, tso=False, busy_poll=False,
                   maxsleep=None, huge=False):
    name, conf, node = node_up(stack, tag, args.scratch, tso, maxsleep)
    mount = None
    if huge:
        owner = f"bench:ns-{tag}-frontends"
        mount = hugepages.reserve(owner, "2M", 2 * FRONTEND_PAGES)
        stack.callback(hugepages.release, owner)
    logs = [("ovs-vswitchd.log", node.paths.daemon_log)]
    # Runs after the guests are gone (each frontend logs its counters as it
    # stops) and before node down removes the logs.
    stack.callback(save_logs, logs, args.out, args.variant)
    guests = []
    for side in ("a", "b"):
        guest = f"nsb-{side}{tag}"
        extra = ["--busy-poll"] if busy_poll else []
        if mount is not None:
            extra += ["--hugepages", mount]
        stack.callback(vrdma, "ns", "del", "--node", name, "--config", conf,
                       guest, check=False)
        logs.append((f"ns-{side}.log",
                     os.path.join(node.paths.log_dir, f"ns-{guest}.log")))
        out = vrdma("ns", "add", "--node", name, "--config", conf, guest,
                    *extra).stdout
        fields = dict(kv.split("=", 1) for kv in out.split()[1:])
        pidfile = os.path.join(node.paths.run, f"ns-{guest}.pid")
        with open(pidfile, encoding="ascii") as f:
            pid = int(f.read())
        guests.append((fields["netns"], fields["ip"].split("/")[0], pid))
    (a_ns, _, a_pid), (b_ns, b_ip, b_pid) = guests
    ping_until(a_ns, b_ip)
    return Setup(b_ns, a_ns, b_ip, pids=(node.daemon_pid(), a_pid, b_pid),
                 node=node)


def save_logs(logs, out, variant):
    """Copy logs to out; say what the frontends counted and complained
    about."""
    for name, path in logs:
        dest = os.path.join(out, f"{variant}-{name}")
        try:
            shutil.copy(path, dest)
        except OSError as exc:
            log(f"{variant}: no {name}: {exc}")
            continue
        if name.startswith("ns-"):
            lines = read_lines(dest)
            for ln in [x for x in lines if "queue 0:" in x][-1:] + \
                    [x for x in lines if "error" in x.lower()][-3:]:
                log(f"{variant} {name}: {ln.split(']: ', 1)[-1]}")


def read_lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


class TapForwarder:
    """testpmd in namespace ns: io forwarding between net_tap (eth0, made
    in the namespace testpmd runs in) and net_virtio_user serving the
    socket of a client-mode (dpdkvhostuserclient) port."""

    def __init__(self, ns, socket, workdir):
        self.ns = ns
        self.socket = socket
        self.prefix = f"vrdma-{ns}"
        self.owner = f"bench:{ns}"
        self.log = os.path.join(workdir, f"testpmd-{ns}.log")
        self.proc = None
        self.logf = None

    def argv(self):
        # Both lcores may run on either CPU, as the endpoints' do: two busy
        # forwarders, OVS's PMD and NPtcp share two cores, and the kernel
        # places them.
        cpus = ",".join(map(str, sorted(os.sched_getaffinity(0))))
        return ["ip", "netns", "exec", self.ns, "stdbuf", "-oL",
                "dpdk-testpmd", "--lcores", f"0@({cpus}),1@({cpus})",
                "--main-lcore", "0", "--no-pci", "--in-memory",
                "--single-file-segments", "-m", str(TESTPMD_MB),
                "--file-prefix", self.prefix, "--log-level",
                "lib.eal:notice", "--vdev", "net_tap0,iface=eth0",
                "--vdev", f"net_virtio_user0,path={self.socket},queues=1,"
                "server=1", "--", "--forward-mode=io", "--auto-start",
                "--total-num-mbufs=8192"]

    def start(self, timeout=60):
        hugepages.reserve(self.owner, "2M", TESTPMD_MB // 2 + 8)
        self.logf = open(self.log, "w", encoding="utf-8")
        # Non-interactive testpmd forwards until a line arrives on stdin.
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.PIPE,
                                     stdout=self.logf,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        while "Press enter to exit" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise VrdmaError(f"testpmd in {self.ns} did not start "
                                 "forwarding: " + " | ".join(
                                     self.text().splitlines()[-3:]),
                                 f"see {self.log}")
            time.sleep(0.1)

    def text(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.stdin.write("\n")
                    self.proc.stdin.flush()
                except (BrokenPipeError, ValueError):
                    pass
                try:
                    self.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
            with contextlib.suppress(BrokenPipeError, ValueError):
                self.proc.stdin.close()
            self.logf.close()
            self.proc = None
        shutil.rmtree(os.path.join("/run/dpdk", self.prefix),
                      ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(self.socket)
        hugepages.release(self.owner)


def setup_testpmd_tap(stack, tag, args):
    name, conf, node = node_up(stack, tag, args.scratch)
    pids, sides = [node.daemon_pid()], []
    stack.callback(save_logs, [("ovs-vswitchd.log", node.paths.daemon_log)],
                   args.out, args.variant)
    for side, addr in (("a", TAP_A), ("b", TAP_B)):
        ns = f"nsb-t{side}{tag}"
        new_netns(stack, ns)
        stack.callback(vrdma, "port", "del", "--node", name, "--config",
                       conf, ns, check=False)
        sock = vrdma("port", "add", "--node", name, "--config", conf,
                     ns).stdout.strip()
        fwd = TapForwarder(ns, sock, args.out)
        stack.callback(fwd.stop)
        log(f"testpmd in {ns} (net_tap eth0 <-> net_virtio_user {sock})")
        fwd.start()
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        wait_link_up(ns, "eth0")
        pids.append(fwd.proc.pid)
        sides.append(ns)
    ping_until(sides[0], TAP_B)
    return Setup(sides[1], sides[0], TAP_B, pids=pids, node=node)


SETUPS = {
    "veth": setup_veth,
    "vhost-ns": setup_vhost_ns,
    "vhost-ns-tso": lambda st, tag, a: setup_vhost_ns(st, tag, a, tso=True),
    "vhost-ns-busypoll": lambda st, tag, a: setup_vhost_ns(st, tag, a,
                                                           busy_poll=True),
    "vhost-ns-nosleep": lambda st, tag, a: setup_vhost_ns(st, tag, a,
                                                          maxsleep=0),
    "vhost-ns-tso-nosleep": lambda st, tag, a: setup_vhost_ns(
        st, tag, a, tso=True, maxsleep=0),
    "vhost-ns-tso-huge": lambda st, tag, a: setup_vhost_ns(
        st, tag, a, tso=True, huge=True),
    "testpmd-tap": setup_testpmd_tap,
}


# --- one measurement -------------------------------------------------------

def pmd_summary(text):
    """Where the PMD threads' time went, from pmd-perf-show: frames, the
    share of TSC cycles they used, the share of the wall time they slept
    (pmd-maxsleep) and cycles per frame; summed over PMD threads."""
    def total(pattern, conv=int):
        return sum(conv(x) for x in re.findall(pattern, text))
    secs = [float(x) for x in re.findall(r"Measurement duration:\s+([\d.]+)",
                                         text)]
    threads = max(len(re.findall(r"Used TSC cycles:", text)), 1)
    pkts = total(r"Rx packets:\s+(\d+)")
    # Busy cycles (idle polling excluded) per frame, weighted by frames.
    busy = sum(int(n) * int(c) for n, c in re.findall(
        r"Rx packets:\s+(\d+)\s+\(.*?,\s*(\d+) cycles/pkt\)", text))
    share = total(r"Used TSC cycles:\s+\d+\s+\(\s*([\d.]+) %", float)
    slept = total(r"Sleep time \(us\):\s+(\d+)")
    wall = (secs[0] if secs else 0.0) * threads
    return {"pmd_pkts": pkts, "pmd_used": share / threads / 100,
            "pmd_sleep": slept / 1e6 / wall if wall else 0.0,
            "pmd_cyc_pkt": busy / pkts if pkts else 0.0}


def if_bytes(runner, ifname):
    """Bytes interface ifname of runner (a guest.Guest) has received and
    sent so far (its kernel counters, read where it runs); None if they
    cannot be read."""
    stats = f"/sys/class/net/{ifname}/statistics"
    code, out, _ = runner.run(["cat", f"{stats}/rx_bytes",
                               f"{stats}/tx_bytes"], 30)
    try:
        return sum(int(x) for x in out.split()) if code == 0 else None
    except ValueError:
        return None


def measure(setup, args, variant, rep):
    if setup.node:
        setup.node.appctl("dpif-netdev/pmd-stats-clear")
    work = os.path.join(args.scratch, "np")
    client = NsGuest(setup.client_ns, work)
    moved0 = if_bytes(client, "eth0")
    cpu0 = [proc_cpu(p) for p in setup.pids]
    busy0, wall0 = machine_busy(), time.monotonic()
    rows, raw = netpipe.nptcp(NsGuest(setup.server_ns, work), client,
                              setup.server_ip, upper=args.upper,
                              quick=args.quick, timeout=1800)
    wall = time.monotonic() - wall0
    busy = machine_busy() - busy0
    dp = sum(proc_cpu(p) - c for p, c in zip(setup.pids, cpu0))
    moved1 = if_bytes(client, "eth0")
    if None in (moved0, moved1) or moved1 <= moved0:
        raise VrdmaError(f"{variant}: no byte counters on eth0 in "
                         f"{setup.client_ns}", "report this bug")
    stem = os.path.join(args.out, f"{variant}-{rep}")
    with open(stem + ".nptcp.txt", "w", encoding="utf-8") as f:
        f.write(raw)
    # CPU seconds per GB the client moved (both ways): comparable across
    # machines, and across variants that move different amounts.
    gb = (moved1 - moved0) / 1e9
    got = {"wall": wall, "cpu_all": busy, "cpu_dp": dp,
           "dp_s_per_gb": dp / gb}
    if setup.node:
        stats = setup.node.appctl("dpif-netdev/pmd-stats-show").stdout
        perf = setup.node.appctl("dpif-netdev/pmd-perf-show",
                                 check=False).stdout
        # Port counters since the node came up (drops: a full guest ring).
        ports = setup.node.appctl("dpctl/show", "-s", check=False).stdout
        with open(stem + ".pmd.txt", "w", encoding="utf-8") as f:
            f.write(stats + "\n" + perf + "\n" + ports)
        got.update(pmd_summary(perf))
    by_size = {r["bytes"]: r for r in rows}
    for key, size, field in (("lat1", 1, "usec"), ("lat64", 64, "usec"),
                             ("bw64k", 65536, "mbps")):
        if size not in by_size:
            raise VrdmaError(f"{variant}: NPtcp ran no {size}-byte test",
                             f"see {stem}.nptcp.txt")
        got[key] = by_size[size][field]
    got["peak"] = max(r["mbps"] for r in rows)
    got["peak_at"] = max(rows, key=lambda r: r["mbps"])["bytes"]
    # NetPIPE's Mbps are 2^20 bit/s.
    for key in ("bw64k", "peak"):
        got[key] = got[key] * (1 << 20) / 1e9
    return got


# --- report ---------------------------------------------------------------

COLUMNS = (("lat1", "lat 1B us", "{:.1f}"), ("lat64", "lat 64B us", "{:.1f}"),
           ("bw64k", "64K Gb/s", "{:.2f}"), ("peak", "peak Gb/s", "{:.2f}"),
           ("cpu_dp", "dp CPU s", "{:.1f}"), ("dp_s_per_gb", "dp s/GB",
                                              "{:.1f}"),
           ("cpu_all", "all CPU s", "{:.1f}"), ("wall", "wall s", "{:.0f}"))


def median_of(reps):
    out = {}
    for key in reps[0]:
        vals = [r[key] for r in reps if key in r]
        out[key] = statistics.median(vals)
    return out


def print_table(results):
    head = f"{'variant':<20}" + "".join(f" {t:>10}" for _, t, _ in COLUMNS)
    print(head)
    for name, med in results.items():
        if med is None:
            print(f"{name:<20} " + " ".join(f"{'failed':>10}"
                                            for _ in COLUMNS))
            continue
        print(f"{name:<20}" + "".join(f" {fmt.format(med[k]):>10}"
                                      for k, _, fmt in COLUMNS))
    pmd = [(n, m) for n, m in results.items() if m and "pmd_pkts" in m]
    if pmd:
        print("\nOVS PMD thread during NPtcp (pmd-perf-show): frames, share "
              "of its core's cycles it used,\nshare of the time it slept "
              "(pmd-maxsleep), cycles per frame")
        for name, med in pmd:
            print(f"{name:<20} {med['pmd_pkts']:>10.0f} frames "
                  f"{med['pmd_used'] * 100:>5.1f}% used "
                  f"{med['pmd_sleep'] * 100:>5.1f}% asleep "
                  f"{med['pmd_cyc_pkt']:>7.0f} cycles/frame")


def check(label, ratio, ok, want):
    print(f"  {label:<44} {ratio:6.2f}x  (target {want})  "
          f"{'PASS' if ok else 'MISS'}")


def print_targets(results):
    veth, tpmd = results.get("veth"), results.get("testpmd-tap")
    for name, med in results.items():
        if not name.startswith("vhost-ns") or med is None:
            continue
        print(f"\n{name}:")
        if not veth and not tpmd:
            print("  (no veth or testpmd-tap in this run to compare with)")
        if veth:
            for key, what in (("bw64k", "64 KiB bandwidth"),
                              ("peak", "peak bandwidth")):
                r = med[key] / veth[key]
                check(f"{what} vs veth", r, r >= 0.5, ">= 0.50x")
            for key, what in (("lat1", "1 B latency"),
                              ("lat64", "64 B latency")):
                r = med[key] / veth[key]
                check(f"{what} vs veth", r, r <= 3.0, "<= 3.00x")
        if tpmd:
            for key, what in (("bw64k", "64 KiB bandwidth"),
                              ("peak", "peak bandwidth")):
                r = med[key] / tpmd[key]
                check(f"{what} vs testpmd-tap", r, r > 1.0, "> 1x")
            for key, what in (("lat1", "1 B latency"),
                              ("lat64", "64 B latency")):
                r = med[key] / tpmd[key]
                check(f"{what} vs testpmd-tap", r, r < 1.0, "< 1x")


def others_running():
    """Datapath processes this run did not start: they skew every number."""
    mine = os.environ["VRDMA_STATE_DIR"]
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        argv = pid_cmdline(int(pid))
        if not argv or mine in " ".join(argv):
            continue
        prog = os.path.basename(argv[0])
        if prog in ("ovs-vswitchd-dpdk", "ovs-vswitchd", "dpdk-testpmd",
                    "vrdma-vhost-ns", "NPtcp", "NPopenmpi"):
            found.append(f"{prog}[{pid}]")
    return found


def wait_alone(limit):
    """Up to limit seconds for the other datapath processes to go."""
    deadline = time.monotonic() + limit
    said = False
    while limit > 0 and others_running() and time.monotonic() < deadline:
        if not said:
            log(f"waiting up to {limit:.0f}s for "
                f"{' '.join(others_running())} to finish")
            said = True
        time.sleep(2)


def add_arguments(ap):
    """The options, on this program's parser and on `vrdma bench ns`'s."""
    ap.add_argument("--variants", default=",".join(VARIANTS), metavar="LIST",
                    help="comma-separated subset of: " + ", ".join(VARIANTS))
    ap.add_argument("--reps", type=int, default=3,
                    help="NPtcp runs per variant (medians are reported)")
    ap.add_argument("--upper", type=int, default=1 << 20,
                    help="largest NPtcp message, bytes (default 1 MiB)")
    ap.add_argument("--quick", action="store_true",
                    help="one rep, NPtcp up to 64 KiB without perturbed "
                    "sizes")
    ap.add_argument("--wait-alone", type=float, default=0, metavar="S",
                    help="before each NPtcp run, wait up to S seconds "
                    "while other datapath processes (OVS, testpmd, "
                    "frontends, NetPIPE) run")
    ap.add_argument("--out", default=os.path.join(TOP, "results",
                                                  "ns_bench"),
                    metavar="DIR",
                    help="raw NetPIPE output, logs and PMD statistics")
    record.add_argument(ap, "ns")


def main(argv=None):
    """As a program: python3 -m bench.ns_bench [OPTIONS]."""
    ap = argparse.ArgumentParser(prog="ns_bench", description=__doc__,
                                 formatter_class=argparse.
                                 RawDescriptionHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args):
    """A run of the options add_arguments gave; its table on stdout (and
    into --record's document). The scratch state dir it points vrdma at
    is this run's only: the environment is restored afterwards."""
    record.check(args.record, "ns")
    saved = {k: os.environ.get(k) for k in ("VRDMA_STATE_DIR",
                                            "VRDMA_CONFIG_DIR")}
    try:
        with record.Capture() as table:
            code = measure_all(args)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    stamp = record.stamp(
        transports="none: both guests on one OVS-DPDK node (vhost-user "
        "shared memory); no fabric port",
        emulated="guests are network namespaces (vrdma-vhost-ns, "
        "testpmd net_tap), not VMs; the veth row is the kernel alone")
    record.write(args.record, "ns", table.text, stamp)
    return code


def measure_all(args):
    if args.quick:
        args.reps, args.upper = 1, 65536
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in SETUPS:
            sys.exit(f"ns_bench: unknown variant {v}; pick from "
                     f"{', '.join(VARIANTS)}")
    if args.upper < 65536 or args.reps < 1:
        sys.exit("ns_bench: --upper must be at least 65536 and --reps 1+")
    if os.geteuid() != 0:
        sys.exit("ns_bench: needs root (namespaces, hugepages, OVS)")
    if not shutil.which("NPtcp") or not shutil.which("dpdk-testpmd"):
        sys.exit("ns_bench: NPtcp or dpdk-testpmd missing; run: "
                 "tools/vrdma setup")
    # SIGTERM unwinds like Ctrl-C, so every cleanup below runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(args.out, exist_ok=True)
    args.scratch = tempfile.mkdtemp(prefix="vrdma-nsbench-")
    os.environ["VRDMA_STATE_DIR"] = args.scratch
    os.environ["VRDMA_CONFIG_DIR"] = os.path.join(args.scratch, "etc")
    print("# " + record.command_line(), flush=True)
    print(f"# medians of {args.reps} NPtcp run(s) up to {args.upper} B"
          f"{' (powers of two)' if args.quick else ''}; "
          f"{os.cpu_count()} CPUs; raw output in {args.out}", flush=True)
    busy = others_running()
    if busy:
        print(f"# warning: not alone: {' '.join(busy)} running",
              flush=True)
    results, disturbed = {}, []
    try:
        for variant in variants:
            tag = os.urandom(3).hex()
            reps = []
            args.variant = variant
            try:
                with contextlib.ExitStack() as stack:
                    log(f"{variant}: setting up")
                    setup = SETUPS[variant](stack, tag, args)
                    for rep in range(args.reps):
                        wait_alone(args.wait_alone)
                        log(f"{variant}: NPtcp run {rep + 1}/{args.reps}")
                        before = others_running()
                        got = measure(setup, args, variant, rep)
                        if before or others_running():
                            disturbed.append(f"{variant}#{rep + 1}")
                        log(f"{variant}: lat {got['lat1']:.1f}/"
                            f"{got['lat64']:.1f} us, {got['bw64k']:.2f} "
                            f"Gb/s at 64K, peak {got['peak']:.2f} at "
                            f"{got['peak_at']} B, CPU {got['cpu_dp']:.1f}"
                            f"/{got['cpu_all']:.1f} s in {got['wall']:.0f}"
                            " s")
                        reps.append(got)
                    log(f"{variant}: tearing down")
            except (VrdmaError, subprocess.SubprocessError, OSError) as exc:
                msg = exc.line() if isinstance(exc, VrdmaError) else exc
                log(f"{variant}: failed: {msg}")
            results[variant] = median_of(reps) if reps else None
    finally:
        shutil.rmtree(args.scratch, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir("/run/dpdk")
    if disturbed:
        print(f"# warning: other datapath processes ran beside "
              f"{len(disturbed)} NPtcp run(s): {' '.join(disturbed)}")
    print_table(results)
    print_targets(results)
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
