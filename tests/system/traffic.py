# SPDX-License-Identifier: BSD-3-Clause
"""Frames through one node between two testpmd endpoints, measured from
both ends and from the switch, for the system tests (vrdmatest.py
re-exports it)."""

import re
import time

from vrdmalib.util import wait_for


def pmd_received(node):
    """Frames the node's PMD threads took off all rx queues, live (the DB's
    statistics column lags by 5 s, and a server-mode vhost port's own
    counters cannot be read)."""
    out = node.appctl("dpif-netdev/pmd-stats-show").stdout
    return sum(int(n) for n in re.findall(r"packets received: (\d+)", out))


def links_up(node, ports):
    states = [node.vsctl("get", "Interface", p, "link_state",
                         check=False).stdout.strip() for p in ports]
    return all(s == "up" for s in states)


def wait_links(node, ports, endpoints=(), timeout=30):
    """Wait until OVS reports every vhost-user port's link up.

    DPDK's virtio_user in server mode accepts a returning vhost backend only
    when its link state is polled (virtio_dev_link_update), so the endpoints
    are asked for theirs meanwhile, as a guest driver would."""
    def ready():
        for ep in endpoints:
            ep.link_up()
        return links_up(node, ports)
    return wait_for(ready, timeout, interval=0.2)


def one_way(node, src, dst, seconds, frame=64):
    """src sends frame-byte frames for seconds, dst counts them."""
    src.clear()
    dst.clear()
    node.appctl("dpif-netdev/pmd-stats-clear")
    dst.receive()
    src.send(seconds, frame)
    time.sleep(0.5)
    sent = src.stats()["tx_packets"]
    got = dst.stats()["rx_packets"]
    return {"sent": sent, "received": got, "switched": pmd_received(node),
            "seconds": seconds, "frame": frame,
            "mpps": round(got / seconds / 1e6, 3),
            "gbits": round(got * frame * 8 / seconds / 1e9, 3)}
