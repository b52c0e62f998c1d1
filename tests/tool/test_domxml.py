#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""libvirt domain XML (domxml.py) without root or a node: every option set
validates with virt-xml-validate and has the properties a vhost-user
guest needs: the socket and the role opposite to the port's, shared
memory with a shared NUMA cell, pinning away from the PMD cores, queues,
and the TCG vectors=0 override only under TCG."""

import os
import tempfile
import unittest
import xml.etree.ElementTree as ET

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

from vrdmalib import domxml, nsguest
from vrdmalib.util import VrdmaError, online_cpus

Q = "{" + domxml.QEMU_NS + "}"


class DomXml(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="vrdma-domxml-")

    def tearDown(self):
        for name in os.listdir(self.scratch):
            os.unlink(os.path.join(self.scratch, name))
        os.rmdir(self.scratch)

    def check(self, **kw):
        text = domxml.render("vm1", "/run/x/vhost/vm1", **kw)
        ok, msg = domxml.validate(text, self.scratch)
        self.assertTrue(ok, f"{kw}: {msg}\n{text}")
        return ET.fromstring(text)

    def test_every_option_set_validates(self):
        for backing in domxml.BACKINGS:
            for dtype in ("kvm", "qemu"):
                for mode in ("client", "server"):
                    for queues, vcpus in ((1, 1), (4, 2)):
                        memory = 2048
                        dom = self.check(port_mode=mode, queues=queues,
                                         vcpus=vcpus, memory_mb=memory,
                                         backing=backing,
                                         domain_type=dtype, cpus=[0, 0],
                                         emulator_cpus=[0])
                        self.assertEqual(dom.get("type"), dtype)
                        nic = dom.find("devices/interface")
                        self.assertEqual(nic.get("type"), "vhostuser")
                        self.assertEqual(nic.find("driver").get("queues"),
                                         str(queues))

    def test_role_is_opposite_to_the_port(self):
        dom = self.check(port_mode="client")
        src = dom.find("devices/interface/source")
        self.assertEqual(src.get("path"), "/run/x/vhost/vm1")
        self.assertEqual(src.get("mode"), "server")
        self.assertIsNone(src.find("reconnect"))
        dom = self.check(port_mode="server")
        src = dom.find("devices/interface/source")
        self.assertEqual(src.get("mode"), "client")
        self.assertEqual(src.find("reconnect").get("enabled"), "yes")

    def test_memory_is_shared(self):
        for backing, page in (("hugepages-2M", "2048"),
                              ("hugepages-1G", "1048576"), ("memfd", None)):
            dom = self.check(port_mode="client", backing=backing,
                             memory_mb=2048)
            mb = dom.find("memoryBacking")
            self.assertEqual(mb.find("access").get("mode"), "shared")
            if page:
                self.assertEqual(mb.find("hugepages/page").get("size"), page)
            else:
                self.assertEqual(mb.find("source").get("type"), "memfd")
            cell = dom.find("cpu/numa/cell")
            self.assertEqual(cell.get("memAccess"), "shared")
            self.assertEqual(cell.get("memory"), "2048")

    def test_pinning(self):
        dom = self.check(port_mode="client", vcpus=2, cpus=[2, 3],
                         emulator_cpus=[2, 3])
        pins = {p.get("vcpu"): p.get("cpuset")
                for p in dom.findall("cputune/vcpupin")}
        self.assertEqual(pins, {"0": "2", "1": "3"})
        self.assertEqual(dom.find("cputune/emulatorpin").get("cpuset"), "2,3")
        # With the PMD on the last CPU, the guest gets the others (on a
        # one-CPU machine there is nowhere else to go).
        last = online_cpus()[-1]
        cpus, free = domxml.guest_cpus([last], 3)
        if len(online_cpus()) > 1:
            self.assertNotIn(last, free)
            self.assertNotIn(last, cpus)
        self.assertEqual(len(cpus), 3)

    def test_tcg_override_only_under_tcg(self):
        tcg = self.check(port_mode="client", domain_type="qemu")
        prop = tcg.find(f"{Q}override/{Q}device/{Q}frontend/{Q}property")
        self.assertEqual((prop.get("name"), prop.get("value")),
                         ("vectors", "0"))
        self.assertEqual(tcg.find(f"{Q}override/{Q}device").get("alias"),
                         tcg.find("devices/interface/alias").get("name"))
        kvm = self.check(port_mode="client", domain_type="kvm")
        self.assertIsNone(kvm.find(f"{Q}override"))

    def test_mac_from_the_name(self):
        dom = self.check(port_mode="client")
        self.assertEqual(dom.find("devices/interface/mac").get("address"),
                         nsguest.guest_mac("vm1"))

    def test_validation_can_fail(self):
        text = domxml.render("vm1", "/s", "client").replace(
            "<vcpu ", "<nosuchelement />\n  <vcpu ")
        ok, _ = domxml.validate(text, self.scratch)
        self.assertFalse(ok, "virt-xml-validate rejects a broken domain")

    def test_bad_options(self):
        for kw, want in (({"backing": "tmpfs"}, "--memory-backing"),
                         ({"vcpus": 0}, "--vcpus"),
                         ({"memory_mb": 1536, "backing": "hugepages-1G"},
                          "whole GiB"),
                         ({"domain_type": "xen"}, "kvm or qemu")):
            with self.assertRaises(VrdmaError) as cm:
                domxml.render("vm1", "/s", "client", **kw)
            self.assertIn(want, cm.exception.line())


if __name__ == "__main__":
    unittest.main(verbosity=2)
