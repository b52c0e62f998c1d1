# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma demo`: the single-machine main job. N emulated hosts (network
namespaces, each with its own OVS-DPDK node) joined by a veth fabric,
their switches connected through net_vrdma fabric ports (or a raw
af_packet uplink), two namespace guests per host; then reachability of
every guest pair, NPtcp latency and bandwidth for a same-host pair (vhost-
user shared memory) and a cross-host pair (the fabric), a 2-rank NPmpi
across hosts, and the ports' counters showing the path taken. Progress on
stderr, the results table on stdout, raw outputs in --out."""

import glob
import json
import os
import sys
import time

from . import config as cfgmod
from . import netpipe, ports
from . import setup as setupmod
from .hosts import Hosts
from .node import Node
from .util import VrdmaError, progress, run

PREFIX = "demo-"


def ping(runner, dst, tries=3):
    for _ in range(tries):
        code, _out, _err = runner.run(["ping", "-c", "1", "-W", "2",
                                       dst["ip"].split("/")[0]], 30)
        if code == 0:
            return True
    return False


def reachability(hosts, workdir):
    guests = hosts.all_guests()
    matrix = {}
    for a in guests:
        src = hosts.runner(a, workdir)
        for b in guests:
            if a is not b:
                matrix[(a["guest"], b["guest"])] = ping(src, b)
    return matrix


def summarize(rows):
    """NetPIPE rows -> the figures the report uses."""
    def at(size):
        best = [r for r in rows if r["bytes"] == size]
        return best[0] if best else None

    lat1, lat64, bw64k = at(1), at(64), at(65536)
    return {
        "lat_1B_us": lat1["usec"] if lat1 else None,
        "lat_64B_us": lat64["usec"] if lat64 else None,
        "bw_64KiB_gbits": round(bw64k["gbits"], 3) if bw64k else None,
        "bw_peak_gbits": round(max(r["gbits"] for r in rows), 3),
        "sizes": len(rows),
    }


def counters_delta(hosts, before):
    out = {}
    for name, node in hosts.nodes.items():
        now = hosts.port_counters(node, hosts.uplink_port())
        out[name] = {k: now[k] - before[name][k] for k in now}
    return out


def snapshot(hosts):
    return {name: hosts.port_counters(node, hosts.uplink_port())
            for name, node in hosts.nodes.items()}


def leftovers():
    """Nodes and namespaces of a demo run with --keep."""
    state = cfgmod.default_state_dir()
    nodes = sorted(os.path.basename(p) for p in
                   glob.glob(os.path.join(state, f"{PREFIX}h*"))
                   if os.path.isdir(p))
    netns = sorted(os.path.basename(p) for p in
                   glob.glob(f"/run/netns/{PREFIX}h*"))
    return nodes, netns


def take_down():
    nodes, netns = leftovers()
    for name in nodes:
        conf = os.path.join(cfgmod.config_dir(), f"{name}.toml")
        Node(cfgmod.load(conf if os.path.exists(conf) else None,
                         name)).down()
        if os.path.exists(conf):
            os.unlink(conf)
    for ns in glob.glob(f"/run/netns/{PREFIX}h*"):
        run(["ip", "netns", "del", os.path.basename(ns)], check=False)
    progress(f"demo: removed {len(nodes)} node(s) and "
             f"{len(netns)} namespace(s) of a kept demo")
    return 0


def main_roce(args):
    """The mission's chain over real verbs: two soft-RoCE hosts (vrdma
    roce), an OVS-DPDK node in each whose fabric port runs over RC, a
    namespace guest on each; ping and NPtcp from guest to guest."""
    from . import roce
    if args.down:
        roce.down()
        return 0
    setupmod.setup()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    started = time.monotonic()
    transports = args.transports or roce.TRANSPORTS
    results = {"hosts": 2, "uplink": "fabric", "transports": transports,
               "guests": "ns", "quick": args.quick, "roce": True}
    ok = False
    state = roce.up()
    try:
        results["accel"] = state["accel"]
        g1, g2 = roce.nodes_up(transports)
        progress(f"demo: waiting for {g1.name} to reach {g2.name} across "
                 "the fabric")
        deadline = time.monotonic() + 90
        while not ping(g1, {"ip": g2.ip}, tries=1):
            if time.monotonic() > deadline:
                raise VrdmaError(f"{g1.name} does not reach {g2.name} after "
                                 "90s", "vrdma roce exec roce1 -- ... (see "
                                 "the node's log under /var/lib/vrdma)")
        matrix = {(g1.name, g2.name): True,
                  (g2.name, g1.name): ping(g2, {"ip": g1.ip})}
        results["reachable"] = sum(matrix.values())
        results["pairs"] = len(matrix)
        results["unreachable"] = [f"{a}->{b}" for (a, b), v in
                                  matrix.items() if not v]
        names = [h["name"] for h in roce.hosts()]
        before = {n: roce.rxe_counters(n) for n in names}
        progress(f"demo: NPtcp cross-host over RoCE: {g1.name} -> {g2.name}"
                 f"{' (quick)' if args.quick else ''}")
        rows, raw = netpipe.nptcp(g2, g1, g2.ip, upper=65536,
                                  quick=args.quick, timeout=600)
        with open(os.path.join(out, "nptcp-cross-host-roce.txt"), "w",
                  encoding="utf-8") as f:
            f.write(raw)
        after = {n: roce.rxe_counters(n) for n in names}
        run_ = summarize(rows)
        run_["pair"] = f"{g1.name} -> {g2.name}"
        results["runs"] = {"cross-host roce": run_}
        results["rxe_packets"] = {n: {k: after[n][k] - before[n][k]
                                      for k in after[n]} for n in names}
        results["fabric_xstats"] = {n: roce.fabric_xstats(n, i)
                                    for i, n in enumerate(names)}
        results["fabric_log"] = {n: roce.fabric_log(n, i)
                                 for i, n in enumerate(names)}
        ok = not results["unreachable"]
    finally:
        if args.keep:
            progress("demo: left up (--keep): vrdma roce status; "
                     "vrdma demo --roce --down removes it")
        else:
            progress("demo: taking the soft-RoCE hosts down")
            roce.down()
    results["seconds"] = round(time.monotonic() - started, 1)
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    print_table(results, out)
    return 0 if ok else 1


def main(args):
    if args.roce:
        return main_roce(args)
    if args.down:
        return take_down()
    nodes, netns = leftovers()
    if nodes or netns:
        raise VrdmaError(f"a kept demo is still up ({', '.join(nodes + netns)})",
                         "vrdma demo --down removes it")
    setupmod.setup()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    started = time.monotonic()
    if args.guests == "vm":
        from . import guestimage
        guestimage.build()
    hosts = Hosts(n=args.hosts, uplink=args.uplink,
                  transports=args.transports or "", prefix=PREFIX,
                  guest_kind=args.guests)
    results = {"hosts": args.hosts, "uplink": args.uplink,
               "transports": args.transports or "default",
               "guests": args.guests, "quick": args.quick}
    work = os.path.join(out, "netpipe")
    ok = True
    try:
        hosts.up()
        progress(f"demo: waiting for the {hosts.uplink_port()} links")
        if not hosts.wait_fabric(60):
            raise VrdmaError(f"{hosts.uplink_port()} links not up after "
                             "60s", "see the nodes' logs (vrdma node status)")
        guests = hosts.all_guests()
        progress(f"demo: reachability of {len(guests)} guests "
                 f"({len(guests) * (len(guests) - 1)} pairs)")
        matrix = reachability(hosts, work)
        results["reachable"] = sum(matrix.values())
        results["pairs"] = len(matrix)
        results["unreachable"] = [f"{a}->{b}" for (a, b), v in
                                  matrix.items() if not v]
        ok &= not results["unreachable"]

        h1, h2 = hosts.names[0], hosts.names[1]
        a, b = hosts.guests[h1][0], hosts.guests[h1][1]
        c = hosts.guests[h2][0]
        # VMs under TCG run NetPIPE a hundred times slower.
        upper = 65536 if args.guests == "ns" else 8192
        runs = {}
        for label, src, dst in (("same-host", a, b), ("cross-host", a, c)):
            progress(f"demo: NPtcp {label}: {src['guest']} -> "
                     f"{dst['guest']}{' (quick)' if args.quick else ''}")
            before = snapshot(hosts)
            rows, raw = netpipe.nptcp(hosts.runner(dst, work),
                                      hosts.runner(src, work),
                                      dst["ip"].split("/")[0],
                                      upper=upper, quick=args.quick)
            with open(os.path.join(out, f"nptcp-{label}.txt"), "w",
                      encoding="utf-8") as f:
                f.write(raw)
            runs[label] = summarize(rows)
            runs[label]["pair"] = f"{src['guest']} -> {dst['guest']}"
            runs[label]["uplink_counters"] = counters_delta(hosts, before)
        progress(f"demo: NPmpi, 2 ranks across hosts ({a['guest']}, "
                 f"{c['guest']})")
        first = hosts.runner(a, work)
        if first.kind == "vm":
            rows, raw = netpipe.npmpi_vms(
                first, [g["ip"].split("/")[0] for g in (a, c)],
                upper=upper, quick=True)
        else:
            rows, raw = netpipe.npmpi([a["netns"], c["netns"]], work,
                                      upper=upper, quick=True)
        with open(os.path.join(out, "npmpi-cross-host.txt"), "w",
                  encoding="utf-8") as f:
            f.write(raw)
        runs["npmpi cross-host"] = summarize(rows)
        runs["npmpi cross-host"]["pair"] = f"{a['guest']} -> {c['guest']}"
        results["runs"] = runs
        for name, node in hosts.nodes.items():
            with open(os.path.join(out, f"node-status-{name}.txt"), "w",
                      encoding="utf-8") as f:
                ports.status(node, f)
    finally:
        for node in hosts.nodes.values():
            if os.path.exists(node.paths.daemon_log):
                run(["cp", node.paths.daemon_log, out], check=False)
        if args.keep:
            progress("demo: left up (--keep): vrdma node status --node "
                     f"{hosts.names[0]}; vrdma demo --down removes it")
        else:
            progress("demo: taking hosts down")
            hosts.down()
    results["seconds"] = round(time.monotonic() - started, 1)
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    print_table(results, out)
    if not ok:
        print("demo: FAILED: some guest pairs could not reach each other: "
              + ", ".join(results["unreachable"]), file=sys.stderr)
    return 0 if ok else 1


def print_table(r, out):
    up = ("net_vrdma fabric port, UCX " + r["transports"]
          if r["uplink"] == "fabric" else "raw uplink (net_af_packet)")
    kind = "namespace guests (vrdma-vhost-ns)" if r["guests"] == "ns" \
        else "VM guests (QEMU, libvirt)"
    if r.get("roce"):
        print(f"vrdma demo --roce: 2 soft-RoCE hosts (QEMU {r['accel']}, "
              f"rdma_rxe), OVS-DPDK each, {up} (RDMA verbs); "
              "1 namespace guest per host")
    else:
        print(f"vrdma demo: {r['hosts']} emulated hosts, OVS-DPDK each, "
              f"{up}; 2 {kind} per host")
    print(f"reachability: {r['reachable']}/{r['pairs']} guest pairs")
    print(f"{'run':<17} {'pair':<24} {'lat 1B':>9} {'lat 64B':>9} "
          f"{'bw 64KiB':>10} {'bw peak':>9}")
    for label, s in r.get("runs", {}).items():
        def us(v):
            return f"{v:.1f}us" if v is not None else "-"

        def gb(v):
            return f"{v:.2f}Gb/s" if v is not None else "-"
        print(f"{label:<17} {s['pair']:<24} {us(s['lat_1B_us']):>9} "
              f"{us(s['lat_64B_us']):>9} {gb(s['bw_64KiB_gbits']):>10} "
              f"{gb(s['bw_peak_gbits']):>9}")
    for label in ("same-host", "cross-host"):
        s = r.get("runs", {}).get(label)
        if not s:
            continue
        parts = []
        for host, c in s["uplink_counters"].items():
            frames = c["tx_pkts"] + c["rx_pkts"]
            octets = c["tx_bytes"] + c["rx_bytes"]
            avg = f", {octets // frames} B/frame" if frames else ""
            parts.append(f"{host} {c['tx_pkts']} out/{c['rx_pkts']} in"
                         f"{avg}")
        port = "fabric" if r["uplink"] == "fabric" else "uplink"
        print(f"{port} port during {label}: " + "; ".join(parts))
    for host, c in r.get("rxe_packets", {}).items():
        x = r["fabric_xstats"].get(host, {})
        print(f"{host} rxe0 during NPtcp: {c['sent']} RoCE packets out, "
              f"{c['rcvd']} in; fabric port "
              f"{x.get('tx_packets', x.get('tx_good_packets', '?'))} frames"
              f" out, {x.get('rx_packets', x.get('rx_good_packets', '?'))}"
              " in (since up)")
    shown = os.path.relpath(out)
    print(f"took {r['seconds']} s; raw outputs: "
          f"{out if shown.startswith('..') else shown}")
