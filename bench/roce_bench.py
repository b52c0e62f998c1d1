# SPDX-License-Identifier: BSD-3-Clause
"""Benchmark rows on soft RoCE (issue 15, item 5): net_vrdma over RC verbs
beside bare UCX and perftest on the same two soft-RoCE hosts (`vrdma roce`:
QEMU TCG VMs with rdma_rxe), in one run, the cases alternating within each
of --reps rounds and each cell the median of the rounds:

  ucx rc          bare UCX over RC: ucx_perftest's UCT tests on rc_verbs,
                  rxe0:1 (am_lat at 64 B; am_bw at 64 B short, 1500 B
                  bcopy, 65226 B zcopy). The reference of every ratio.
  ucx rc+ud ucp   ucx_perftest's UCP tests (ucp_am_lat, ucp_am_bw) with
                  UCX_TLS=rc,ud and net_vrdma's own UCX settings and -e,
                  as the fabric benchmark's baseline runs; ucx_perftest
                  wires UCP endpoints up over UD, which dies under TCG
                  (issue 15), so after its first failure the row shows
                  why instead of spending the run on timeouts.
  perftest        ib_write_bw -R (RC through rdma_cm) at each size,
                  ib_send_lat -R at 64 B.
  net_vrdma rc    fabric_peer over the port, transports=rc+ud,
                  dev=rxe0:1: --pingpong for the 64 B round trip, --rate
                  (unpaced, header checks only) for frames per second and
                  MB/s at each size. Its pools' mbufs are DPDK's default
                  2 KiB: a 65226 B frame is a chain of 33, sent by
                  rendezvous (rndv_thresh=auto over verbs), which UCX 1.13
                  moves between chains only as copied fragments.
  vrdma big eager the stream again, one mbuf per frame (--mbuf-size
                  65280, as a switch's pools for a jumbo MTU or TSO have
                  them), every frame eager (rndv_thresh=65535): sent from
                  registered memory, received into UCX's buffers and lent.
  vrdma big rndv  the same with rndv_thresh=4096: frames above it go by
                  rendezvous, the receiver reading them by RDMA straight
                  into its mbuf. The two rows are the A/B of issue 15's
                  "rendezvous into registered mbufs, or eager sized to the
                  transport": the run prints which is faster.

Latency is the round trip (twice what ucx_perftest and ib_send_lat report
as one-way), median of the run. A frame rate is the frames that arrived
over the longer of the sender's and the receiver's first-to-last span.
Targets: 64 KiB net_vrdma MB/s >= 80% of bare UCX RC's; 64 B net_vrdma
frames/s >= 4x bare UCX's message rate. Every measurement has a timeout;
one that fails shows as "-" with the reason. Under TCG absolute numbers
mean nothing: only the ratios do."""

import argparse
import os
import re
import shlex
import signal
import statistics
import sys
import time

from vrdmalib import roce
from vrdmalib.util import VrdmaError

from . import record
from .cases import UCX_DRIVER_ENV, UCX_PERFTEST_ARGS
from .fabric_bench import PEER, PMD, failure

LABEL = ("soft-RoCE (rdma_rxe) under QEMU TCG: ratios only, absolute "
         "numbers mean nothing")
DEV = "rxe0:1"
IBDEV = "rxe0"
PLUG = "/run/plug"
SIZES = (64, 1500, 65226)
BASE = "ucx rc"
EAGER, RNDV = "vrdma big eager", "vrdma big rndv"
CASES = (BASE, "ucx rc+ud ucp", "perftest", "net_vrdma rc", EAGER, RNDV)
# The stream variants' fabric_peer options and devargs: one mbuf per frame.
BIG = {EAGER: (("--mbuf-size", "65280"), ",rndv_thresh=65535"),
       RNDV: (("--mbuf-size", "65280"), ",rndv_thresh=4096")}
# The targets: (case, size, metric, rule, bound) against BASE's
# cell of the same size and metric.
TARGETS = (("net_vrdma rc", 65226, "MB/s", ">=", 0.8),
           ("net_vrdma rc", 64, "kfps", ">=", 4.0))
# What bare UCX over RC runs with: the device, and segments that take a
# 64 KiB frame in one active message (the default 8 KiB would refuse it).
UCT_ENV = {"UCX_NET_DEVICES": DEV, "UCX_IB_SEG_SIZE": "65536",
           "UCX_WARN_UNUSED_ENV_VARS": "n"}
UCP_ENV = dict(UCX_DRIVER_ENV, UCX_TLS="rc,ud", UCX_NET_DEVICES=DEV,
               UCX_WARN_UNUSED_ENV_VARS="n")


class Unavailable(Exception):
    """A measurement that gave no number; the message says why."""


def log(msg):
    print(f"roce_bench: {msg}", file=sys.stderr, flush=True)


# -- parsers of the tools' outputs (pure; tests/tool/test_roce_bench.py) --

def parse_ucx_perftest(text):
    """ucx_perftest's 'Final:' line as a dict: iterations, p (the
    percentile latency or overhead), avg, overall (us), mbs_avg,
    mbs (MB/s overall), rate_avg, rate (messages/s overall)."""
    m = re.search(r"^Final:\s+(.*)$", text, re.M)
    if not m:
        # UCX's own assertions end the run with a backtrace: keep where
        # and what, not the addresses.
        a = re.search(r"(\w+\.c:\d+)\s+Assertion `.*?' failed: "
                      r"(?:req \S+ ep \S+: )?(.*)$", text, re.M)
        if a:
            raise Unavailable(f"ucx_perftest aborted: assertion at "
                              f"{a.group(1)}: {a.group(2).strip()}")
        raise Unavailable("ucx_perftest: " + failure(text))
    vals = [float(x) for x in m.group(1).split()]
    if len(vals) != 8:
        raise Unavailable(f"ucx_perftest: odd Final line: {m.group(0)}")
    return dict(zip(("iterations", "p", "avg", "overall", "mbs_avg", "mbs",
                     "rate_avg", "rate"), vals))


def parse_ib_write_bw(text):
    """ib_write_bw's result row: bytes, iterations, peak and average MB/s,
    message rate in Mpps."""
    m = re.search(r"^\s*(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$",
                  text, re.M)
    if not m:
        raise Unavailable("ib_write_bw: " + failure(text))
    return {"bytes": int(m.group(1)), "iterations": int(m.group(2)),
            "peak": float(m.group(3)), "mbs": float(m.group(4)),
            "mpps": float(m.group(5))}


def parse_ib_send_lat(text):
    """ib_send_lat's result row (one-way us): bytes, iterations, min, max,
    typical (its median), avg, stdev, p99, p99.9."""
    m = re.search(r"^\s*(\d+)\s+(\d+)((?:\s+[\d.]+){7})\s*$", text, re.M)
    if not m:
        raise Unavailable("ib_send_lat: " + failure(text))
    vals = [float(x) for x in m.group(3).split()]
    return dict(bytes=int(m.group(1)), iterations=int(m.group(2)),
                **dict(zip(("min", "max", "typical", "avg", "stdev", "p99",
                            "p999"), vals)))


def parse_rtt(text):
    """fabric_peer --pingpong's sender: (median_us, p99_us, n, lost)."""
    m = re.search(r"rtt median_us=(\S+) p99_us=(\S+) n=(\d+) lost=(\d+)",
                  text)
    if not m:
        raise Unavailable("fabric_peer ping-pong: " + failure(text))
    return float(m.group(1)), float(m.group(2)), int(m.group(3)), \
        int(m.group(4))


def parse_rate(tx_text, rx_text):
    """{size: frames/s} from fabric_peer --rate's two ends: frames that
    arrived over the longer of the sender's and the receiver's spans (a
    queue at either end shortens one of them)."""
    got = {int(s): int(n) for s, n in re.findall(
        r"^rx size=(\d+) frames=(\d+)/\d+", rx_text, re.M)}
    spans = {}
    for text in (tx_text, rx_text):
        for s, us in re.findall(r"^[tr]x size=(\d+) span_us=([\d.]+)",
                                text, re.M):
            spans[int(s)] = max(spans.get(int(s), 0.0), float(us))
    rates = {}
    for size, n in got.items():
        if n >= 2 and spans.get(size, 0) > 0:
            rates[size] = (n - 1) / (spans[size] / 1e6)
    return rates


def ratio(value, base):
    if value is None or not base:
        return None
    return value / base


def rndv_vs_eager(cells):
    """Which of the two large-frame paths moved 65226 B frames faster, as
    a line, or None if one was not measured."""
    size = max(SIZES)
    eager, rndv = (cells.get((c, size, "MB/s")) for c in (EAGER, RNDV))
    if not eager or not rndv:
        return None
    faster = "rendezvous" if rndv > eager else "eager"
    return (f"{size} B frames, one mbuf each: rendezvous (RDMA read into "
            f"the mbuf) {rndv:.4g} MB/s, eager (UCX's buffers, lent) "
            f"{eager:.4g} MB/s: {faster} is faster ({rndv / eager:.2f}x)")


def verdicts(cells):
    """[(text, met or None)] for TARGETS, from cells {(case, size, metric):
    median or None}."""
    out = []
    for case, size, metric, rule, bound in TARGETS:
        r = ratio(cells.get((case, size, metric)),
                  cells.get((BASE, size, metric)))
        what = (f"{case} {size} B {metric} {rule} {bound:g}x {BASE}'s")
        if r is None:
            out.append((f"{what}: NOT MEASURED", None))
        else:
            met = r >= bound if rule == ">=" else r <= bound
            out.append((f"{what}: {'met' if met else 'MISSED'} "
                        f"({r:.2f}x)", met))
    return out


# -- running things in the hosts --

def shell(argv, env=None):
    """argv in a shell of the host with locked memory unlimited (verbs
    register memory), under env."""
    pre = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    return ["/bin/sh", "-c", "ulimit -l unlimited; exec " +
            (f"env {pre} " if pre else "") + shlex.join(argv)]


class Pair:
    """A server in host a, then a client in host b; both bounded by
    timeout; their outputs."""

    def __init__(self, a, b, timeout):
        self.a, self.b, self.timeout = a, b, timeout

    def spawn(self, host, argv, env=None):
        wrapped = ["/usr/bin/timeout", "-k", "5", str(self.timeout),
                   *shell(argv, env)]
        with roce.agent(host) as agent:
            return agent.spawn(wrapped)

    def reap(self, host, pid, timeout):
        with roce.agent(host) as agent:
            code, out, err = agent.reap(pid, timeout)
            if code is None:
                agent.exec(["kill", "-9", str(pid)], 10)
        return code, out + err

    def run(self, server, client, env=None, delay=3):
        spid = self.spawn(self.a, server, env)
        try:
            time.sleep(delay)
            cpid = self.spawn(self.b, client, env)
            ccode, cout = self.reap(self.b, cpid, self.timeout + 10)
        finally:
            scode, sout = self.reap(self.a, spid, 15)
        if ccode is None:
            raise Unavailable(f"timed out after {self.timeout}s")
        return (ccode, cout), (scode, sout)


class Bench:
    def __init__(self, args, a, b, ips):
        self.args, self.a, self.b, self.ips = args, a, b, ips
        self.port = 17000 + int(time.time()) % 1000
        self.ucp_broken = None  # why UCP's rows stopped being tried

    def next_port(self):
        self.port += 1
        return str(self.port)

    def pair(self, timeout=None):
        return Pair(self.a, self.b, timeout or self.args.timeout)

    # bare UCX, UCT on rc_verbs
    def uct(self, test, size, iters):
        layout = [] if test == "am_lat" or size <= 79 else \
            ["-D", "bcopy" if size <= 8192 else "zcopy"]
        argv = ["ucx_perftest", "-t", test, "-x", "rc_verbs", "-d", DEV,
                *layout, "-s", str(size), "-n", str(iters), "-w",
                str(max(iters // 10, 10)), "-p", self.next_port()]
        (code, out), _ = self.pair().run(argv, [argv[0], self.ips[self.a],
                                                *argv[1:]], UCT_ENV)
        return parse_ucx_perftest(out)

    def ucp(self, test, size, iters):
        if self.ucp_broken:
            raise Unavailable("not tried after the first UCP run failed")
        argv = ["ucx_perftest", *UCX_PERFTEST_ARGS, "-t", test, "-s",
                str(size), "-n", str(iters), "-p", self.next_port()]
        try:
            (code, out), _ = self.pair(self.args.ucp_timeout).run(
                argv, [argv[0], self.ips[self.a], *argv[1:]], UCP_ENV)
            return parse_ucx_perftest(out)
        except Unavailable as exc:
            self.ucp_broken = str(exc)
            raise

    def ib(self, tool, size, iters):
        argv = [tool, "-R", "-d", IBDEV, "-s", str(size), "-n", str(iters),
                "-p", self.next_port()]
        (code, out), _ = self.pair().run(argv, [*argv, self.ips[self.a]])
        return (parse_ib_send_lat if tool == "ib_send_lat"
                else parse_ib_write_bw)(out)

    def peer_argv(self, host, role, args, devargs_extra=""):
        listen = self.ips[host]
        other = self.ips[self.b if host == self.a else self.a]
        port = self.port
        devargs = (f"net_vrdma0,listen={listen}:{port},peer={other}:{port}"
                   f",transports=rc+ud,dev={DEV}{devargs_extra}")
        return [roce.guest_path(PEER), "--no-pci", "--no-huge", "-m", "512",
                "--file-prefix", f"rbench-{role}-{port}", "--lcores", "0@0",
                "-d", f"{PLUG}/librte_net_vrdma.so", "--vdev", devargs, "--",
                f"--{role}", *args, "--timeout",
                str(max(self.args.timeout - 20, 10))]

    def fabric(self, args, devargs_extra=""):
        self.next_port()
        (tcode, tout), (rcode, rout) = self.pair().run(
            self.peer_argv(self.a, "recv", args, devargs_extra),
            self.peer_argv(self.b, "send", args, devargs_extra), delay=2)
        return tout, rout

    def fabric_rtt(self, rtts):
        tout, rout = self.fabric(["--sizes", "64", "--pingpong", str(rtts)])
        try:
            return parse_rtt(tout)
        except Unavailable as exc:
            raise Unavailable(f"{exc}; echo: {failure(rout)}") from None

    def fabric_rates(self, counts, case="net_vrdma rc"):
        sizes = ",".join(str(s) for s in SIZES)
        opts, devargs_extra = BIG.get(case, ((), ""))
        # One count for all sizes: fabric_peer takes one; the big frames
        # end at the sender's pool, whatever the count.
        tout, rout = self.fabric(["--sizes", sizes, "--count",
                                  str(counts), "--rate", *opts],
                                 devargs_extra)
        rates = parse_rate(tout, rout)
        if not rates:
            raise Unavailable(f"fabric_peer --rate: send: {failure(tout)}; "
                              f"recv: {failure(rout)}")
        return rates


def bw_cells(size, mib_s):
    """{(size, kfps), (size, MB/s)} from a tool's MB/s, which for
    ucx_perftest and perftest alike is 2^20 B/s (more digits than their
    message rates)."""
    bps = mib_s * 1048576
    return {(size, "kfps"): bps / size / 1e3, (size, "MB/s"): bps / 1e6}


def plan(bench, args):
    """[(case, key, rows, fn)] per round: fn() returns {(size, metric):
    value} for rows."""
    it = args.iters
    out = []

    def uct_lat():
        return {(64, "rtt us"): 2 * bench.uct("am_lat", 64, it)["p"]}

    def uct_bw(size):
        def fn():
            r = bench.uct("am_bw", size, it if size > 1500 else it * 5)
            return bw_cells(size, r["mbs"])
        return fn

    def ucp_lat():
        return {(64, "rtt us"): 2 * bench.ucp("ucp_am_lat", 64, it)["p"]}

    def ucp_bw(size):
        def fn():
            r = bench.ucp("ucp_am_bw", size, it if size > 1500 else it * 5)
            return bw_cells(size, r["mbs"])
        return fn

    def ib_lat():
        return {(64, "rtt us"): 2 * bench.ib("ib_send_lat", 64, it)["typical"]}

    def ib_bw(size):
        def fn():
            return bw_cells(size, bench.ib("ib_write_bw", size, it)["mbs"])
        return fn

    def vrdma_lat():
        return {(64, "rtt us"): bench.fabric_rtt(args.rtts)[0]}

    def vrdma_rates(case="net_vrdma rc"):
        def fn():
            rates = bench.fabric_rates(args.count, case)
            got = {}
            for size in SIZES:
                if size in rates:
                    got[(size, "kfps")] = rates[size] / 1e3
                    got[(size, "MB/s")] = rates[size] * size / 1e6
            return got
        return fn

    lat = [(64, "rtt us")]

    def bw(*sizes):
        return [(s, m) for s in sizes for m in ("kfps", "MB/s")]
    out.append((BASE, "am_lat 64", lat, uct_lat))
    out += [(BASE, f"am_bw {s}", bw(s), uct_bw(s)) for s in SIZES]
    out.append(("ucx rc+ud ucp", "ucp_am_lat 64", lat, ucp_lat))
    out += [("ucx rc+ud ucp", f"ucp_am_bw {s}", bw(s), ucp_bw(s))
            for s in SIZES]
    out.append(("perftest", "ib_send_lat 64", lat, ib_lat))
    out += [("perftest", f"ib_write_bw {s}", bw(s), ib_bw(s)) for s in SIZES]
    out.append(("net_vrdma rc", "pingpong 64", lat, vrdma_lat))
    out.append(("net_vrdma rc", "stream", bw(*SIZES), vrdma_rates()))
    out += [(case, "stream", bw(*SIZES), vrdma_rates(case))
            for case in (EAGER, RNDV)]
    return out


def rows_of():
    """The table's rows in order: (case, size, metric)."""
    rows = []
    for case in CASES:
        if case not in BIG:  # the variants stream only
            rows.append((case, 64, "rtt us"))
        for size in SIZES:
            rows += [(case, size, "kfps"), (case, size, "MB/s")]
    return rows


def measure(bench, args):
    """({(case, size, metric): [values]}, {(case, size, metric): why})."""
    values, why = {}, {}
    steps = plan(bench, args)
    for rnd in range(args.reps):
        for case, key, rows, fn in steps:
            what = f"{case} {key} #{rnd + 1}"
            t0 = time.monotonic()
            try:
                got = fn()
            except (Unavailable, VrdmaError, OSError) as exc:
                log(f"{what}: failed after {time.monotonic() - t0:.0f}s: "
                    f"{exc}")
                for size, metric in rows:
                    why.setdefault((case, size, metric), f"{key}: {exc}")
                continue
            log(f"{what}: " + ", ".join(f"{s} B {m} {v:.4g}" for (s, m), v
                                        in got.items()) +
                f" ({time.monotonic() - t0:.0f}s)")
            for (size, metric), v in got.items():
                values.setdefault((case, size, metric), []).append(v)
            for size, metric in rows:
                if (size, metric) not in got:
                    why.setdefault((case, size, metric),
                                   f"{key}: no frames of this size arrived")
    return values, why


def num(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def short(why):
    """A failure's reason in a table cell: its first line, cut."""
    why = why.split("; ")[0]
    return why if len(why) <= 72 else why[:69] + "..."


def table(values, why):
    """The printed table's lines, the notes under it and the cells'
    medians. Ratios: to bare UCX over RC and to perftest (ib_write_bw,
    ib_send_lat), same size and metric."""
    cells = {row: statistics.median(values[row]) if values.get(row)
             else None for row in rows_of()}
    lines = [f"{'case':<15}{'size':>6}  {'metric':<7}{'median':>9}"
             f"{'x ucx rc':>9}{'x ib':>6}  n  note"]
    notes = {}
    for row in rows_of():
        case, size, metric = row
        v = cells[row]
        r = ratio(v, cells.get((BASE, size, metric)))
        rib = ratio(v, cells.get(("perftest", size, metric)))
        n = len(values.get(row, ()))
        note = ""
        if v is None:
            note = short(why.get(row, "no number"))
        elif row in why:
            note = "a round failed: see below"
        if row in why:
            notes.setdefault(why[row], None)
        lines.append(f"{case:<15}{size:>6}  {metric:<7}{num(v):>9}"
                     f"{(f'{r:.2f}' if r is not None else '-'):>9}"
                     f"{(f'{rib:.2f}' if rib is not None else '-'):>6}"
                     f"{n:>3}  {note}".rstrip())
    return lines, list(notes), cells


def prepare(a, b):
    for host in (a, b):
        code, out, err = roce.exec_in(host, shell([
            "sh", "-c", f"mkdir -p {PLUG} && cp {roce.guest_path(PMD)} "
            f"{PLUG}/ && chmod 755 {PLUG}"]), 60)
        if code != 0:
            raise VrdmaError(f"{host}: copying the driver to {PLUG} failed: "
                             f"{(out + err).strip()}",
                             "ninja -C build; vrdma roce down; try again")


def add_arguments(ap):
    """The options, on this program's parser and on `vrdma bench
    roce`'s."""
    ap.add_argument("--reps", type=int, default=3,
                    help="rounds, every case once per round, the median "
                    "reported (default %(default)s)")
    ap.add_argument("--iters", type=int, default=200,
                    help="iterations of ucx_perftest and perftest (5x for "
                    "ucx_perftest am_bw at 64 B and 1500 B; default "
                    "%(default)s: TCG is slow)")
    ap.add_argument("--rtts", type=int, default=100,
                    help="net_vrdma 64 B round trips per run (default "
                    "%(default)s)")
    ap.add_argument("--count", type=int, default=3000,
                    help="frames per size per net_vrdma stream run "
                    "(default %(default)s)")
    ap.add_argument("--timeout", type=int, default=90,
                    help="seconds a measurement may take before it counts "
                    "as failed (default %(default)s)")
    ap.add_argument("--ucp-timeout", type=int, default=45,
                    help="the same for the UCP (rc+ud) runs, which hang "
                    "under TCG (default %(default)s)")
    ap.add_argument("--keep", action="store_true",
                    help="leave the soft-RoCE hosts up at the end")
    ap.add_argument("--quick", action="store_true",
                    help="one round, 100 iterations, 50 round trips, 1000 "
                    "frames per size")
    record.add_argument(ap, "roce")


def main(argv=None):
    """As a program: python3 -m bench.roce_bench [OPTIONS]."""
    ap = argparse.ArgumentParser(prog="roce_bench", description=__doc__,
                                 formatter_class=argparse.
                                 RawDescriptionHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args):
    """A run of the options add_arguments gave; its table on stdout (and
    into --record's document)."""
    record.check(args.record, "roce")
    if args.quick:
        args.reps, args.iters, args.rtts, args.count = 1, 100, 50, 1000
    if args.reps < 1 or args.iters < 10 or args.rtts < 10:
        sys.exit("roce_bench: --reps 1+, --iters 10+, --rtts 10+")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with record.Capture() as captured:
        code = measure_all(args)
    stamp = record.stamp(
        transports=f"RC verbs on {DEV}: net_vrdma transports=rc+ud,dev="
        f"{DEV}; ucx rc: UCT rc_verbs " +
        " ".join(f"{k}={v}" for k, v in UCT_ENV.items()) +
        "; ucx rc+ud ucp: " + " ".join(f"{k}={v}" for k, v in
                                       UCP_ENV.items()) +
        " ucx_perftest " + " ".join(UCX_PERFTEST_ARGS) +
        "; perftest over rdma_cm",
        emulated=f"every row: {LABEL}; two QEMU TCG VMs with rdma_rxe on "
        "a QEMU socket link, on one machine")
    record.write(args.record, "roce", captured.text, stamp)
    return code


def measure_all(args):
    for path in (PMD, PEER):
        if not os.path.exists(path):
            sys.exit(f"roce_bench: {path} missing; run: ninja -C build")
    print(f"# {LABEL}")
    print("# " + record.command_line(), flush=True)
    print(f"# medians of {args.reps} round(s), cases alternating; "
          f"{args.iters} iterations, {args.rtts} round trips, "
          f"{args.count} frames per size; timeout {args.timeout}s each",
          flush=True)
    was_up = roce.status().get("up")
    state = roce.up()
    try:
        a, b = (h["name"] for h in state["hosts"])
        ips = {h["name"]: h["ip"] for h in state["hosts"]}
        prepare(a, b)
        bench = Bench(args, a, b, ips)
        values, why = measure(bench, args)
    finally:
        if args.keep:
            log("soft-RoCE hosts kept (--keep): vrdma roce down when done")
        else:
            roce.down()
    lines, notes, cells = table(values, why)
    print("\n".join(lines))
    for note in notes:
        print(f"# failed: {note[:400]}")
    print("# rtt us: 64 B round trip (ucx, perftest: 2x their one-way "
          "median); kfps: thousands of frames (messages) per second; "
          "MB/s: 10^6 B/s; x ucx rc: the ratio to bare UCX over RC "
          "(UCT rc_verbs) in the same cell")
    for text, _ in verdicts(cells):
        print(f"# target: {text}")
    ab = rndv_vs_eager(cells)
    print(f"# rndv vs eager: {ab or 'NOT MEASURED'}")
    print(f"# hosts: {'already up' if was_up else 'brought up'} "
          f"({state.get('accel')}), "
          f"{'kept' if args.keep else 'taken down'}")
    print("# reproduce: " + record.command_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
