# SPDX-License-Identifier: BSD-3-Clause
"""What the benchmarks measure and what they aim for: Table 1's cases of
the 2015 report (table1.py runs them, report.py and figures.py present
them), the issue's targets, the rows of the two micro-benchmarks
(fabric_bench.py, ns_bench.py), and the UCX settings every bare-UCX
baseline shares with the fabric port it is compared with. A leaf: it
imports nothing of the project, so every module of bench/ may import it."""

import collections

Case = collections.namedtuple("Case", "setup tools what")
# Table 1 of the report, in its order, and vm2vm-raw-p1. setup: which
# hosts a case runs on (bare: no switches, both links; fabric: OVS with
# net_vrdma fabric ports; raw: OVS with af_packet uplinks).
CASES = {
    "vm2vm-vhost-shm": Case("fabric", ("NPtcp", "NPmpi"),
                            "two guests, one host, through OVS "
                            "vhost-user (shared memory)"),
    "vm2vm-virtio-eth": Case("bare", ("NPtcp", "NPmpi"),
                             "two guests on two hosts through the kernel "
                             "only: veth, Linux bridge, the Ethernet "
                             "link; no DPDK"),
    "vm2vm-rdma-p1": Case("fabric", ("NPtcp", "NPmpi"),
                          "two guests on two hosts through OVS and the "
                          "net_vrdma fabric port"),
    "vm2vm-raw-p1": Case("raw", ("NPtcp", "NPmpi"),
                         "the same through a raw uplink (net_af_packet on "
                         "the fabric veth): the 2015 prototype's path"),
    "h2h-verb-roce": Case("bare", ("ucx_perftest", "NPmpi"),
                          "host to host on the fabric link with no "
                          "switch: UCX (tcp) and Open MPI over UCX"),
    "h2h-sock-roce": Case("bare", ("NPtcp", "NPmpi"),
                          "host to host TCP over the fabric link"),
    "h2h-sock-eth": Case("bare", ("NPtcp", "NPmpi"),
                         "host to host TCP over the Ethernet link"),
}
MICRO = "micro"
SETUPS = ("bare", "fabric", "raw")  # bring-up order
# UCX between the emulated host namespaces: tcp, since shared memory, UCX's
# choice on one machine, is not host to host.
UCX_TLS = "tcp"

# What net_vrdma sets in its own environment before ucp_init (pmd/
# vrdma_fabric.c, setenv(..., 0): a user's setting wins). A bare-UCX
# baseline (ucx_perftest, Open MPI's pml ucx) runs with the same, or the
# ratio would compare UCX configurations rather than the port's cost.
# tests/tool/test_bench.py checks this against the C source.
UCX_DRIVER_ENV = {
    "UCX_MM_ERROR_HANDLING": "y",
    "UCX_MM_SEG_SIZE": "65535",
    "UCX_MM_RX_BUFS_GROW": "64",
    "UCX_TCP_RX_SEG_SIZE": "128k",
    "UCX_TCP_PUT_ENABLE": "n",
    "UCX_CM_REUSEADDR": "y",
}
# And its endpoints ask for peer error handling (UCP_ERR_HANDLING_MODE_PEER:
# peers restart), which changes the protocols UCX picks: ucx_perftest's -e.
UCX_PERFTEST_ARGS = ("-e",)

# The reference cases ratios are taken to (report.py), and what a reference
# is compared by when it lacks the other's tool: sockets against verbs, as
# the 2015 report did.
REFERENCES = ("h2h-verb-roce", "h2h-sock-roce")
PRIMARY = {"h2h-verb-roce": "ucx_perftest", "h2h-sock-roce": "NPtcp"}
KEYS = (("lat1", "lat 1 B"), ("lat64", "lat 64 B"),
        ("bw64k", "bw 64 KiB"), ("peak", "bw peak"))
SUBJECT = ("vm2vm-rdma-p1", "NPtcp")
# The targets for SUBJECT: (figure, against, rule, bound).
TARGETS = (("bw64k", "h2h-sock-roce", ">=", 0.5),
           ("bw64k", "vm2vm-raw-p1", ">=", 2.0),
           ("lat1", "h2h-sock-roce", "<=", 3.0),
           ("lat64", "h2h-sock-roce", "<=", 3.0))

# fabric_bench.py's rows: (name, kind, UCX_TLS or None when UCX is not
# involved; "" for UCX's own choice).
FABRIC_CASES = (
    ("net_vrdma tcp", "vrdma", "tcp"),
    ("net_vrdma shm", "vrdma", ""),
    ("ucx tcp", "ucx", "tcp"),
    ("ucx shm", "ucx", ""),
    ("net_af_packet", "afpacket", None),
    ("net_af_xdp", "afxdp", None),
    ("net_memif", "memif", None),
)

def verdict(ratio, rule, bound):
    """A target's status: "met" or "missed" by ratio under rule (">=" or
    "<=") and bound, "not measured" without a ratio."""
    if ratio is None:
        return "not measured"
    return "met" if (ratio >= bound if rule == ">=" else ratio <= bound) \
        else "missed"


# fabric_bench.py's targets (issue 17): (row, figure, against row, rule,
# bound); the figure is a frame size (frames per second) or "rtt" (the
# 64 B round trip's median).
FABRIC_TARGETS = (("net_vrdma shm", 64, "ucx shm", ">=", 4),
                  ("net_vrdma tcp", 64, "ucx tcp", ">=", 4),
                  ("net_vrdma shm", 1500, "net_memif", ">=", 1),
                  ("net_vrdma shm", "rtt", "ucx shm", "<=", 2),
                  ("net_vrdma tcp", "rtt", "ucx tcp", "<=", 2),
                  ("net_vrdma shm", 65226, "ucx shm", ">=", 0.8),
                  ("net_vrdma tcp", 65226, "ucx tcp", ">=", 0.8))

# ns_bench.py's variants, in its table's order.
NS_VARIANTS = ("veth", "vhost-ns", "vhost-ns-tso", "vhost-ns-busypoll",
               "vhost-ns-nosleep", "vhost-ns-tso-nosleep",
               "vhost-ns-tso-huge", "testpmd-tap")
