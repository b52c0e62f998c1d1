#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""[uplink] iface: the devargs vrdma derives from sysfs for mlx4, mlx5,
other PCI NICs and interfaces without a PCI device, and the config's
checks. No root needed."""

import os
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

from vrdmalib import config, uplink
from vrdmalib.util import VrdmaError

DEV = "/sys/devices/pci0000:00/0000:00:03.0/0000:05:00.0"


class DevargsFor(unittest.TestCase):
    def test_mlx5_is_its_pci_address(self):
        self.assertEqual(uplink.devargs_for("ens5f1", DEV, "mlx5_core", "0"),
                         "0000:05:00.0")

    def test_mlx4_names_the_port(self):
        self.assertEqual(uplink.devargs_for("ib1", DEV, "mlx4_core", "1"),
                         "0000:05:00.0,port=1")
        self.assertEqual(uplink.devargs_for("ib0", DEV, "mlx4_core", ""),
                         "0000:05:00.0,port=0")

    def test_no_pci_device_is_af_packet(self):
        self.assertEqual(uplink.devargs_for("veth0", "", "", ""),
                         "net_af_packet0,iface=veth0")
        self.assertEqual(uplink.devargs_for(
            "vif", "/sys/devices/vif-0", "vif", ""),
            "net_af_packet0,iface=vif")

    def test_other_pci_nic_is_refused_with_the_fix(self):
        with self.assertRaises(VrdmaError) as cm:
            uplink.devargs_for("eno1", DEV, "ixgbe", "0")
        self.assertIn("driver ixgbe", cm.exception.what)
        self.assertIn("vfio-pci", cm.exception.fix)
        self.assertIn("net_af_xdp0,iface=eno1", cm.exception.fix)


class Resolve(unittest.TestCase):
    def test_loopback_has_no_pci_device(self):
        self.assertEqual(uplink.resolve("lo"), "net_af_packet0,iface=lo")

    def test_missing_interface(self):
        with self.assertRaises(VrdmaError) as cm:
            uplink.resolve("nosuch0")
        self.assertIn("no such interface", cm.exception.what)


class Config(unittest.TestCase):
    def load(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".toml",
                                         delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        return config.load(f.name, "cn1")

    def test_iface_accepted(self):
        cfg = self.load('[uplink]\niface = "ens5f1"\n')
        self.assertEqual(cfg["uplink.iface"], "ens5f1")

    def test_both_is_an_error(self):
        with self.assertRaises(VrdmaError) as cm:
            self.load('[uplink]\niface = "ens5f1"\ndevargs = "0000:05:00.0"\n')
        self.assertIn("both devargs and iface", cm.exception.what)

    def test_bad_name(self):
        with self.assertRaises(VrdmaError) as cm:
            self.load('[uplink]\niface = "a name that is far too long"\n')
        self.assertIn("1-15 characters", cm.exception.what)


if __name__ == "__main__":
    unittest.main(verbosity=2)
