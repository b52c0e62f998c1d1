# SPDX-License-Identifier: BSD-3-Clause
"""The fabric port as an operator sees it (`vrdma fabric status|metrics`).

Read from the running switch through DPDK's telemetry socket, which
ovs-vswitchd-dpdk serves in its DPDK runtime directory: the driver's
"/vrdma/peers" command names every peer by address with its state, the
transport in use and its counters (OVS's statistics column shows none of
them: it keeps only queue, error and drop counters), "/ethdev/xstats" has
the port's own. JSON both, nothing scraped from text. The metrics add the
switch's interface counters from the OVSDB (ovs-vsctl's JSON output)."""

import json
import os
import socket

from .util import VrdmaError

TELEMETRY_SOCKET = "dpdk_telemetry.v2"
FABRIC_DEVICE = "net_vrdma0"

# Port counters of the driver (xstats) that say something went wrong.
PORT_COUNTERS = (
    ("rejected_connections", "connections from unlisted addresses refused"),
    ("auth_failures", "connections that did not prove the fabric key"),
    ("rx_untrusted", "frames dropped: from no listed, proven peer"),
    ("tx_failed", "sends UCX completed with an error"),
    ("tx_full", "tx bursts cut short: every send slot in flight"),
    ("bad_headers", "messages refused by the wire decoder"),
    ("rx_missed_errors", "frames dropped: an rx queue was full"),
    ("rx_mbuf_allocation_errors", "frames dropped: the mempool was empty"),
)
# Per peer (the driver's VRDMA_PEER_STATS), with their help.
PEER_COUNTERS = (
    ("tx_frames", "frames sent to the peer"),
    ("tx_bytes", "bytes sent to the peer"),
    ("rx_frames", "frames received from the peer"),
    ("rx_bytes", "bytes received from the peer"),
    ("drops", "frames to the peer dropped (send failed)"),
    ("reconnects", "connections (re)established"),
    ("rndv_sends", "frames sent by rendezvous (large)"),
    ("rx_lent", "frames received without a copy (lent)"),
    ("batches", "coalesced messages sent (small frames)"),
    ("bad_headers", "messages from the peer refused by the wire decoder"),
)
# What `status` exits with, as LSB status does.
EXIT_OK, EXIT_DEGRADED, EXIT_NOT_UP = 0, 1, 3


class Telemetry:
    """One connection to a DPDK application's telemetry socket."""

    def __init__(self, path, timeout=5.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
            hello = json.loads(self.sock.recv(4096))
        except (OSError, ValueError) as e:
            self.sock.close()
            raise VrdmaError(f"DPDK telemetry at {path}: {e}",
                             "is the node's ovs-vswitchd running? "
                             "(vrdma node status)") from e
        self.max_len = int(hello.get("max_output_len", 16384))

    def query(self, command):
        self.sock.send(command.encode())
        reply = json.loads(self.sock.recv(self.max_len + 1024))
        key = command.split(",")[0]
        if reply.get(key) is None:
            raise VrdmaError(f"DPDK telemetry: {command} gave no answer "
                             f"({reply})", "is net_vrdma loaded from this "
                             "checkout's build? (vrdma node restart)")
        return reply[key]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fabric_port_id(tel):
    for port_id in tel.query("/ethdev/list"):
        if tel.query(f"/ethdev/info,{port_id}").get("name") == FABRIC_DEVICE:
            return port_id
    return None


def status(node):
    """The fabric port's state: a dict (see docs/operations.md), with "up"
    false when the switch is not running."""
    listen = node.cfg["fabric.listen"]
    if not listen:
        raise VrdmaError(f"node {node.name} has no fabric port",
                         "set [fabric] listen and peers in the node config")
    out = {"node": node.name, "listen": listen, "up": False,
           "port_id": None, "link": None, "peers": [], "counters": {},
           "lanes": []}
    if not node.is_up() or not node.daemon_running():
        return out
    path = os.path.join(node.paths.dpdk_runtime, TELEMETRY_SOCKET)
    with Telemetry(path) as tel:
        port_id = _fabric_port_id(tel)
        if port_id is None:
            return out
        out["up"] = True
        out["port_id"] = port_id
        out["link"] = tel.query(f"/ethdev/link_status,{port_id}").get(
            "status", "").lower() or None
        xstats = tel.query(f"/ethdev/xstats,{port_id}")
        out["counters"] = {name: xstats.get(name, 0)
                           for name, _help in PORT_COUNTERS}
        # One UCX worker per rx queue, each its own thread's: the frames
        # each carried show whether the work is shared.
        lane = 0
        while f"lane{lane}_tx_frames" in xstats:
            out["lanes"].append(
                {"tx_frames": xstats[f"lane{lane}_tx_frames"],
                 "rx_frames": xstats.get(f"lane{lane}_rx_frames", 0)})
            lane += 1
        peers = tel.query(f"/vrdma/peers,{port_id}")
        out["peers"] = [peers[k] for k in
                        sorted(peers, key=lambda k: int(k[len("peer"):]))]
    return out


def exit_code(st):
    """0: every peer connected; 1: some peer is not; 3: not running."""
    if not st["up"]:
        return EXIT_NOT_UP
    if any(p["state"] != "connected" for p in st["peers"]):
        return EXIT_DEGRADED
    return EXIT_OK


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def print_status(st, out):
    if not st["up"]:
        print(f"node {st['node']}: fabric port not running (is the node "
              "up? vrdma node status)", file=out)
        return
    connected = sum(p["state"] == "connected" for p in st["peers"])
    print(f"node {st['node']}: fabric port {FABRIC_DEVICE} (DPDK port "
          f"{st['port_id']}), listen {st['listen']}, link {st['link']}, "
          f"{connected}/{len(st['peers'])} peers connected", file=out)
    print(f"  {'PEER':<22} {'STATE':<10} {'TRANSPORT':<10} {'RECONN':>6} "
          f"{'TX FRAMES':>10} {'TX':>10} {'RX FRAMES':>10} {'RX':>10} "
          f"{'DROPS':>6}", file=out)
    for p in st["peers"]:
        state = p["state"] if p["trusted"] else f"{p['state']}!"
        print(f"  {p['address']:<22} {state:<10} {p['transport'] or '-':<10} "
              f"{p['reconnects']:>6} {p['tx_frames']:>10} "
              f"{_size(p['tx_bytes']):>10} {p['rx_frames']:>10} "
              f"{_size(p['rx_bytes']):>10} {p['drops']:>6}", file=out)
    if any(not p["trusted"] for p in st["peers"]):
        print("  (!: the peer has not proven the fabric key on the "
              "connection in use)", file=out)
    c = st["counters"]
    print("  port: " + ", ".join(f"{name} {c[name]}"
                                 for name, _help in PORT_COUNTERS), file=out)
    print("  lanes (UCX workers, one per rx queue), frames sent/received: " +
          ", ".join(f"{i} {ln['tx_frames']}/{ln['rx_frames']}"
                    for i, ln in enumerate(st["lanes"])), file=out)


class _Collector:
    """The node's metrics, read when collected: the fabric port's (per
    peer and per port) and the switch's interface counters. Counters are
    the driver's and OVS's own totals, exposed as they are."""

    def __init__(self, node):
        self.node = node

    def collect(self):
        from prometheus_client.core import (CounterMetricFamily,
                                            GaugeMetricFamily)
        from . import ports
        node = self.node
        st = status(node)
        up = GaugeMetricFamily("vrdma_fabric_up",
                               "1 while the fabric port runs",
                               labels=["node"])
        up.add_metric([node.name], int(st["up"]))
        yield up
        if st["up"]:
            conn = GaugeMetricFamily(
                "vrdma_fabric_peer_connected",
                "1 while our connection to the peer is up",
                labels=["node", "peer", "transport"])
            for p in st["peers"]:
                conn.add_metric([node.name, p["address"], p["transport"]],
                                int(p["state"] == "connected"))
            yield conn
            for name, text in PEER_COUNTERS:
                fam = CounterMetricFamily(f"vrdma_fabric_peer_{name}", text,
                                          labels=["node", "peer"])
                for p in st["peers"]:
                    fam.add_metric([node.name, p["address"]], p[name])
                yield fam
            for name, text in PORT_COUNTERS:
                fam = CounterMetricFamily(f"vrdma_fabric_{name}", text,
                                          labels=["node"])
                fam.add_metric([node.name], st["counters"][name])
                yield fam
        if node.is_up() and node.server_running():
            rows = ports.interfaces(node)
            for key in ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes",
                        "rx_dropped", "tx_dropped", "rx_errors",
                        "tx_errors"):
                fam = CounterMetricFamily(
                    f"vrdma_interface_{key}",
                    f"OVS interface statistics: {key}",
                    labels=["node", "interface"])
                for row in rows:
                    stats = row.get("statistics") or {}
                    if key in stats:
                        fam.add_metric([node.name, row["name"]], stats[key])
                yield fam


def metrics_text(node, path=None):
    """The Prometheus text exposition of the node's metrics; with path,
    also written there atomically (a file for node_exporter's textfile
    collector: write it from a timer)."""
    try:
        from prometheus_client import CollectorRegistry, generate_latest
    except ImportError as e:
        raise VrdmaError("python3-prometheus-client is not installed",
                         "run: tools/vrdma setup") from e
    reg = CollectorRegistry()
    reg.register(_Collector(node))
    text = generate_latest(reg).decode()
    if path:
        # A collector never reads a half-written file: write, then rename.
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except OSError as e:
            raise VrdmaError(f"cannot write {path}: {e.strerror}",
                             "give --out a writable file name") from e
    return text
