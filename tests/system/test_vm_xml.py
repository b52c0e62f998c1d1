#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma domxml` against a real node: the XML names the port's socket in
the opposite role and the port's queues, its vCPUs avoid the node's PMD
core, and bad input (no such port, queues that disagree, a node that is
down) is one clear error."""

import xml.etree.ElementTree as ET

import vrdmatest
from vrdmatest import Case, rand_name


class VmXml(Case):
    def test_domxml_follows_the_port(self):
        node = rand_name("x")
        # vm2's port is server-mode: not on a switch with userspace TSO.
        conf = self.node_config(node, '[ports]\ntso = false\n')
        self.node_up(node, "--config", conf)
        sock1 = self.vrdma("port", "add", "--node", node, "vm1").stdout.strip()
        sock2 = self.vrdma("port", "add", "--node", node, "vm2", "--mode",
                           "server", "--queues", "2").stdout.strip()
        dom = ET.fromstring(self.vrdma("domxml", "vm1", "--node", node,
                                       "--memory-backing", "memfd").stdout)
        src = dom.find("devices/interface/source")
        self.assertEqual((src.get("path"), src.get("mode")), (sock1, "server"))
        pmd = self.node_obj(node).record()["pmd_cores"]
        for pin in dom.findall("cputune/vcpupin"):
            self.assertNotIn(int(pin.get("cpuset")), pmd,
                             "vCPU pinned away from the PMD core")
        dom = ET.fromstring(self.vrdma("domxml", "vm2", "--node", node,
                                       "--vcpus", "2", "--domain-type",
                                       "qemu").stdout)
        src = dom.find("devices/interface/source")
        self.assertEqual((src.get("path"), src.get("mode")), (sock2, "client"))
        self.assertEqual(dom.find("devices/interface/driver").get("queues"),
                         "2")
        self.assertEqual(dom.get("type"), "qemu")
        bad = self.vrdma("domxml", "vm2", "--node", node, "--queues", "3",
                         ok=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("port vm2 has 2 queue pairs", bad.stderr)
        bad = self.vrdma("domxml", "nope", "--node", node, ok=False)
        self.assertIn("has no vhost-user port nope", bad.stderr)
        self.assertIn("fix: vrdma port add", bad.stderr)

    def test_node_down(self):
        bad = self.vrdma("domxml", "vm1", "--node", rand_name("down"),
                         ok=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("is not up", bad.stderr)
        self.assertEqual(bad.stdout, "", "no half XML on stdout")


if __name__ == "__main__":
    vrdmatest.main()
