#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""net_vrdma inside OVS: two nodes, each in its own network namespace
joined by a veth "fabric", bring their fabric port up from [fabric] in the
node config (the driver loaded into ovs-vswitchd-dpdk with -d); frames from
a vhost-user endpoint on one node reach a vhost-user endpoint on the other
across the fabric."""

import re
import time

import traffic
import vrdmatest
from vrdmatest import Case, rand_name


class FabricInOvs(Case):
    def fabric_counters(self, node, conf):
        out = self.vrdma("appctl", "--node", node, "--config", conf, "--",
                         "dpctl/show", "-s").stdout
        m = re.search(r"port \d+: fabric \(dpdk.*\n\s+RX packets:(\d+).*\n"
                      r"\s+TX packets:(\d+)", out)
        self.assertIsNotNone(m, out)
        return int(m.group(1)), int(m.group(2))

    def test_two_nodes_across_the_fabric(self):
        ns_a, ns_b = self.veth_namespaces()
        port = 7000
        nodes = []
        for name, ns, me, other in ((rand_name("fa"), ns_a, "198.18.0.1",
                                     "198.18.0.2"),
                                    (rand_name("fb"), ns_b, "198.18.0.2",
                                     "198.18.0.1")):
            conf = self.write_config(name, f"""
[node]
netns = "{ns}"
[memory]
socket_mem_mb = 256
[fabric]
listen = "{me}:{port}"
peers = ["{other}:{port}"]
transports = "tcp"
""")
            self.node_up(name, "--config", conf)
            sock = self.vrdma("port", "add", "--node", name, "--config",
                              conf, "g").stdout.strip()
            nodes.append((name, conf, sock))
        eps = [self.endpoint(f"e{i}", sock, True)
               for i, (_n, _c, sock) in enumerate(nodes)]
        for (name, conf, _s), ep in zip(nodes, eps):
            node = self.node_obj(name, conf)
            self.assertTrue(traffic.wait_links(node, ("g", "fabric"),
                                               endpoints=(ep,), timeout=60),
                            f"node {name}: vhost port and fabric link up")
        (na, ca, _), (nb, cb, _) = nodes
        rx_b0, _ = self.fabric_counters(nb, cb)
        _, tx_a0 = self.fabric_counters(na, ca)
        eps[1].clear()
        eps[1].receive()
        eps[0].send(2.0)
        time.sleep(1.0)
        got = eps[1].stats()["rx_packets"]
        sent = eps[0].stats()["tx_packets"]
        rx_b, _ = self.fabric_counters(nb, cb)
        _, tx_a = self.fabric_counters(na, ca)
        print(f"sent {sent} on {na}, fabric tx {tx_a - tx_a0}, "
              f"fabric rx on {nb} {rx_b - rx_b0}, received {got}")
        self.assertGreater(tx_a - tx_a0, 0, "frames left over the fabric")
        self.assertGreater(rx_b - rx_b0, 0, "frames arrived over it")
        self.assertGreater(got, 0, "the remote endpoint got them")
        self.assertLessEqual(got, sent)
        status = self.vrdma("node", "status", "--node", na, "--config",
                            ca).stdout
        self.assertRegex(status, r"fabric\s+dpdk\s+up")
        for name, _c, _s in nodes:
            self.assert_no_errors_in_log(name)


if __name__ == "__main__":
    vrdmatest.main()
