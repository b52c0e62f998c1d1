#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Frames through the switch without a VM: two DPDK net_virtio_user
endpoints (testpmd) on two vhost-user ports of one node, in both port
modes; and an ovs-vswitchd restart under client-mode ports, after which
traffic flows again without restarting the endpoints."""

import traffic
import vrdmatest
from vrdmatest import Case, rand_name


class VhostTraffic(Case):
    def pair(self, mode):
        node = rand_name("t")
        if mode == "server":
            # Server-mode ports: not on a switch with userspace TSO (OVS
            # 3.1 drops offloaded frames to them; vrdma refuses them).
            conf = self.node_config(node, '[ports]\ntso = false\n')
            self.node_up(node, "--config", conf)
        else:
            self.node_up(node)
        socks = [self.vrdma("port", "add", "--node", node, g, "--mode",
                            mode).stdout.strip() for g in ("ga", "gb")]
        server = mode == "client"  # a client port's guest serves the socket
        a = self.endpoint("a", socks[0], server)
        b = self.endpoint("b", socks[1], server)
        self.assertTrue(traffic.wait_links(self.node_obj(node), ("ga", "gb")),
                        "both vhost-user links came up")
        return node, a, b

    def one_way(self, node, a, b, seconds=2.0):
        """a sends, b counts; the switch's counters must agree with both."""
        r = traffic.one_way(self.node_obj(node), a, b, seconds)
        sent, got = r["sent"], r["received"]
        self.assertGreater(sent, 1000, "the sender put frames on the ring")
        self.assertGreater(got, 0, "frames crossed the switch")
        self.assertLessEqual(got, sent)
        self.assertEqual(r["switched"], sent,
                         "OVS took every frame off a's ring")
        return sent, got

    def test_client_mode(self):
        node, a, b = self.pair("client")
        sent, got = self.one_way(node, a, b)
        print(f"client mode a->b: sent {sent}, received {got}")
        sent, got = self.one_way(node, b, a)
        print(f"client mode b->a: sent {sent}, received {got}")
        self.assert_no_errors_in_log(node)

    def test_server_mode(self):
        node, a, b = self.pair("server")
        sent, got = self.one_way(node, a, b)
        print(f"server mode: sent {sent}, received {got}")
        self.assert_no_errors_in_log(node)

    def test_restart_under_client_ports(self):
        node, a, b = self.pair("client")
        self.one_way(node, a, b, seconds=1.0)
        apid, bpid = a.pid, b.pid
        restart = self.vrdma("node", "restart", "--node", node)
        print(restart.stderr.strip())
        self.assertTrue(traffic.wait_links(self.node_obj(node), ("ga", "gb"),
                                           endpoints=(a, b), timeout=30),
                        "OVS reconnected to both endpoints")
        self.assertTrue(a.running() and b.running())
        self.assertEqual((a.pid, b.pid), (apid, bpid),
                         "endpoints were not restarted")
        sent, got = self.one_way(node, a, b)
        print(f"after restart: sent {sent}, received {got}")


if __name__ == "__main__":
    vrdmatest.main()
