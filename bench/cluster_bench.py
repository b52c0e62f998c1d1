# SPDX-License-Identifier: BSD-3-Clause
"""Cluster scale (issue 19): `vrdma cluster` bringing up N emulated hosts
in a full mesh, for each N of --sizes (default 2,4,8), --reps times, each
cell the median of the reps:

  up s            `cluster up` from nothing to every one of the N x (N-1)
                  fabric links connected (nodes started --parallel at once)
  node s          one node's `node up`, median over the hosts
  links           links connected / N x (N-1)
  peers           fabric peers connected per host
  tcp             established TCP connections per host (the fabric's
                  transport is tcp: UCX's lanes and connection managers)
  rss MiB         resident memory per host: ovs-vswitchd + ovsdb-server
  huge MiB        DPDK hugepage memory per host (dpdk-socket-mem)
  idle cpu        CPU the N idle switches take together, in cores (their
                  PMD threads sleep up to [cpu] pmd_maxsleep_us when idle)
  pairs           guest pairs that ping each other / N x (N-1), one
                  namespace guest per host
  down s          `cluster down`

The hosts are network namespaces on a bridge (vrdmalib.hosts), reached by
tools/vrdma-ns-rsh in place of ssh (the inventory's `ssh`: an rsh that
takes a namespace for a host name), so this measures the cluster's own
work, not ssh's. On a 2-core machine every switch's PMD thread shares
the two cores: the idle cpu column says what N sleeping PMDs cost, the
limit of how many hosts one small machine can emulate."""

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from vrdmalib import cluster, hosts
from vrdmalib.util import VrdmaError, progress

from . import record

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RSH = os.path.join(TOP, "tools", "vrdma-ns-rsh")
COLUMNS = ("up s", "node s", "links", "peers", "tcp", "rss MiB",
           "huge MiB", "idle cpu", "pairs", "down s")


def add_arguments(ap):
    """The options, on this program's parser and on `vrdma bench
    cluster`'s."""
    ap.add_argument("--sizes", default="2,4,8", metavar="LIST",
                    help="host counts, comma-separated, 2 to 8 each "
                    "(default 2,4,8)")
    ap.add_argument("--reps", type=int, default=1,
                    help="bring-ups per size (medians are reported)")
    ap.add_argument("--transports", default="tcp",
                    help="[fabric] transports of the nodes (default tcp)")
    ap.add_argument("--socket-mem", type=int, default=320, metavar="MB",
                    help="[memory] socket_mem_mb per node (default 320)")
    ap.add_argument("--maxsleep", type=int, default=500, metavar="US",
                    help="[cpu] pmd_maxsleep_us per node (default 500)")
    ap.add_argument("--json", metavar="FILE",
                    help="also write every measurement as JSON")
    record.add_argument(ap, "cluster")


def main(argv=None):
    """As a program: python3 -m bench.cluster_bench [OPTIONS]."""
    ap = argparse.ArgumentParser(prog="cluster_bench", description=__doc__,
                                 formatter_class=argparse.
                                 RawDescriptionHelpFormatter)
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args):
    record.check(args.record, "cluster")
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        sizes = []
    if not sizes or any(not 2 <= n <= 8 for n in sizes) or args.reps < 1:
        sys.exit("cluster_bench: --sizes takes numbers from 2 to 8, "
                 "--reps 1 or more")
    results = {}
    with record.Capture() as table:
        print(f"# vrdma bench cluster: {args.reps} rep(s), transports "
              f"{args.transports}, socket_mem_mb {args.socket_mem}, "
              f"pmd_maxsleep_us {args.maxsleep}; medians")
        print(" ".join(f"{c:>9}" for c in ("hosts", *COLUMNS)))
        for n in sizes:
            reps = [measure(n, args) for _ in range(args.reps)]
            results[n] = reps
            cells = [median(reps, c) for c in COLUMNS]
            print(f"{n:>9} " + " ".join(f"{c:>9}" for c in cells),
                  flush=True)
        print(f"# reproduce: {record.command_line()}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({str(n): r for n, r in results.items()}, f, indent=1)
    record.write(args.record, "cluster", table.text, record.stamp(
        transports=f"UCX {args.transports} between the hosts' fabric "
        "veths (a Linux bridge for more than two)",
        emulated="hosts are network namespaces on one machine, reached by "
        "tools/vrdma-ns-rsh instead of ssh; guests are namespace guests"))
    bad = [n for n, reps in results.items()
           for r in reps if r["links"] != r["links_total"]
           or r["pairs"] != r["pairs_total"]]
    return 1 if bad else 0


def median(reps, column):
    """The column's cell: a median, "a/b" for counts of a total."""
    if column in ("links", "pairs"):
        got = statistics.median(r[column] for r in reps)
        return f"{got:g}/{reps[0][column + '_total']}"
    value = statistics.median(r[column] for r in reps)
    return f"{value:.2f}" if column == "idle cpu" else f"{value:g}"


def measure(n, args):
    tag = secrets.token_hex(2)
    emu = hosts.Hosts(n, guests_per_host=0, switches=False,
                      prefix=f"cb{tag}-")
    scratch = tempfile.mkdtemp(prefix="vrdma-cluster-bench-")
    inv = None
    try:
        emu.up()
        inv = inventory(emu, scratch, args)
        out = {}
        t0 = time.monotonic()
        st = inv.up(parallel=8, wait=300)
        out["up s"] = round(time.monotonic() - t0, 1)
        out["node s"] = statistics.median(st["up_seconds"].values())
        out["links"] = st["links_connected"]
        out["links_total"] = st["links_total"]
        per_host = [host_numbers(emu, i, node)
                    for i, node in enumerate(st["nodes"])]
        for key in ("peers", "tcp", "rss MiB", "huge MiB"):
            out[key] = statistics.median(h[key] for h in per_host)
        out["idle cpu"] = idle_cpu(5)
        out["pairs"], out["pairs_total"] = guest_pairs(inv, n)
        t0 = time.monotonic()
        inv.down(keep=False)
        inv = None
        out["down s"] = round(time.monotonic() - t0, 1)
        progress(f"cluster bench: {n} hosts: {out}")
        return out
    finally:
        if inv is not None:
            try:
                inv.down(keep=False)
            except VrdmaError as exc:
                progress(f"cluster bench: {exc.line()}")
        emu.down()
        for name in emu.names:
            shutil.rmtree(cluster.remote.ompi_tmpdir(name),
                          ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


def inventory(emu, scratch, args):
    with open(os.path.join(scratch, "template.toml"), "w",
              encoding="utf-8") as f:
        f.write("\n".join([
            "[node]", f'state_dir = "{scratch}/state"',
            "[cpu]", f"pmd_maxsleep_us = {args.maxsleep}",
            "[memory]", f"socket_mem_mb = {args.socket_mem}",
            "[fabric]", f'transports = "{args.transports}"', ""]))
    lines = [f'ssh = "{RSH}"', 'template = "template.toml"',
             f'config_dir = "{scratch}/etc"']
    for i, name in enumerate(emu.names):
        lines += ["[[host]]", f'name = "{name}"', f'address = "{name}"',
                  f'fabric_ip = "{hosts.fabric_ip(i)}"']
    path = os.path.join(scratch, "cluster.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return cluster.Cluster(path)


def _rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    except OSError:
        return 0.0
    return int(m.group(1)) / 1024 if m else 0.0


def host_numbers(emu, i, node):
    daemons = node.get("daemons") or {}
    conns = subprocess.run(["ip", "netns", "exec", emu.names[i], "ss",
                            "-Htn", "state", "established"],
                           capture_output=True, text=True, check=False)
    return {"peers": sum(p["state"] == "connected" for p in node["peers"]),
            "tcp": len(conns.stdout.splitlines()),
            "rss MiB": round(sum(_rss_mib(d["pid"])
                                 for d in daemons.values()), 1),
            "huge MiB": (node.get("hugepages") or {}).get("socket_mem_mb",
                                                          0)}


def idle_cpu(seconds):
    """Cores busy on the whole machine over seconds (/proc/stat)."""
    def busy():
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        return sum(ticks) - ticks[3] - ticks[4]
    hz = os.sysconf("SC_CLK_TCK")
    b0 = busy()
    time.sleep(seconds)
    return (busy() - b0) / hz / seconds


def guest_pairs(inv, n):
    """One namespace guest per host; (pairs that ping, pairs). Made and
    pinged from here, not through the hosts' rsh: `ip netns add` under
    `ip netns exec` mounts the new namespace in that command's own mount
    namespace, and it is gone for every later command (setns: Invalid
    argument)."""
    ips = {}
    for i, host in enumerate(inv.hosts):
        ip = f"10.79.0.{i + 1}"
        subprocess.run([cluster.remote.LOCAL_VRDMA, "ns", "add",
                        *host.node_args(), f"{host.name}g", "--ip",
                        f"{ip}/24"], check=True, capture_output=True,
                       timeout=300)
        ips[host.name] = ip
    ok = 0
    for host in inv.hosts:
        for other in inv.hosts:
            if other is host:
                continue
            ok += subprocess.run(
                ["ip", "netns", "exec", f"{host.name}g", "ping", "-c", "3",
                 "-i", "0.2", "-W", "2", ips[other.name]],
                capture_output=True, timeout=30,
                check=False).returncode == 0
    return ok, n * (n - 1)


if __name__ == "__main__":
    sys.exit(main())
