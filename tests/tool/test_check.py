#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma check`'s fabric checks on fake inputs: a fake
/sys/class/infiniband tree in a temporary directory (ACTIVE, DOWN, no GID,
no device), `ip -j addr` text with the listen address local or not, a
tcp-only config, the memlock limit and peers through fake probes. No root,
no RDMA."""

import json
import os
import resource
import tempfile
import unittest

from vrdmalib import check

IP_ADDR = json.dumps([
    {"ifname": "lo", "flags": ["LOOPBACK", "UP"], "mtu": 65536,
     "operstate": "UNKNOWN",
     "addr_info": [{"family": "inet", "local": "127.0.0.1"}]},
    {"ifname": "eth1", "flags": ["BROADCAST", "UP", "LOWER_UP"],
     "mtu": 1500, "operstate": "UP",
     "addr_info": [{"family": "inet", "local": "198.18.0.1"},
                   {"family": "inet6", "local": "fd00::1"}]},
    {"ifname": "eth2", "flags": ["BROADCAST"], "mtu": 9000,
     "operstate": "DOWN",
     "addr_info": [{"family": "inet", "local": "198.19.0.1"}]},
])

ZERO_GID = "0000:0000:0000:0000:0000:0000:0000:0000"
LINK_GID = "fe80:0000:0000:0000:5054:00ff:fe12:3401"
IP_GID = "0000:0000:0000:0000:0000:ffff:c612:0001"  # 198.18.0.1


class FakeSysfs:
    """A /sys/class/infiniband tree under a temporary directory."""

    def __init__(self, test):
        tmp = tempfile.TemporaryDirectory()
        test.addCleanup(tmp.cleanup)
        self.root = tmp.name

    def port(self, dev, port, state, netdev, gids, slots=4):
        base = os.path.join(self.root, dev, "ports", str(port))
        for sub in ("gids", "gid_attrs/ndevs"):
            os.makedirs(os.path.join(base, sub))
        self.write(base, "state", state)
        self.write(base, "link_layer", "Ethernet")
        for idx in range(slots):
            gid = gids[idx] if idx < len(gids) else ZERO_GID
            self.write(base, f"gids/{idx}", gid)
            # The kernel's unused slots fail to read; an empty file stands
            # in for them, a missing file for a slot not listed at all.
            self.write(base, f"gid_attrs/ndevs/{idx}",
                       netdev if idx < len(gids) else "")

    @staticmethod
    def write(base, name, text):
        with open(os.path.join(base, name), "w", encoding="utf-8") as f:
            f.write(text + "\n")


class Transports(unittest.TestCase):
    def test_wanted(self):
        for value, want in (("", "auto"), ("all", "auto"), ("tcp", "no"),
                            ("tcp+sm", "no"), ("shm+self", "no"),
                            ("rc", "yes"), ("rc+ud", "yes"),
                            ("rc_verbs+tcp", "yes"), ("ud_mlx5", "yes"),
                            ("dc_x", "yes"), ("ib", "yes"),
                            ("^tcp", "auto"), ("^ib", "no"),
                            ("^rc+ud+dc", "no")):
            self.assertEqual(check.rdma_wanted(value), want, value)


class Listen(unittest.TestCase):
    def test_local_address_names_its_netdev(self):
        dev = check.netdev_of(IP_ADDR, "198.18.0.1")
        self.assertEqual(dev, {"ifname": "eth1", "mtu": 1500, "up": True})
        level, item, detail, fix = check.listen_check("198.18.0.1:7000", dev)
        self.assertEqual((level, item), ("ok", "listen"))
        self.assertIn("eth1", detail)
        self.assertIsNone(fix)

    def test_ipv6_address(self):
        dev = check.netdev_of(IP_ADDR, "fd00::1")
        self.assertEqual(dev["ifname"], "eth1")
        self.assertEqual(check.split_hostport("[fd00::1]:7000"),
                         ("fd00::1", 7000))

    def test_address_not_local_fails_with_the_fix(self):
        self.assertIsNone(check.netdev_of(IP_ADDR, "198.18.0.9"))
        level, _, detail, fix = check.listen_check("198.18.0.9:7000", None)
        self.assertEqual(level, "fail")
        self.assertIn("no local interface", detail)
        self.assertIn("ip addr add 198.18.0.9/", fix)

    def test_down_netdev_warns(self):
        dev = check.netdev_of(IP_ADDR, "198.19.0.1")
        level, _, detail, fix = check.listen_check("198.19.0.1:7000", dev)
        self.assertEqual(level, "warn")
        self.assertIn("eth2", detail)
        self.assertIn("ip link set eth2 up", fix)

    def test_wildcard_warns(self):
        level, _, detail, fix = check.listen_check("0.0.0.0:7000", None)
        self.assertEqual(level, "warn")
        self.assertIn("every address", detail)


class Mtu(unittest.TestCase):
    def test_small_mtu_warns_and_reports_it(self):
        level, item, detail, fix = check.mtu_check(
            {"ifname": "eth1", "mtu": 1500}, 1500)
        self.assertEqual((level, item), ("warn", "mtu"))
        self.assertIn("MTU 1500 < 1602", detail)
        self.assertIn("ip link set eth1 mtu 9000", fix)

    def test_jumbo_mtu_is_ok(self):
        level, _, detail, _ = check.mtu_check(
            {"ifname": "eth1", "mtu": 9000}, 1500)
        self.assertEqual(level, "ok")
        self.assertIn("MTU 9000", detail)


class Rdma(unittest.TestCase):
    def setUp(self):
        self.sys = FakeSysfs(self)

    def ports(self, rdma_link=None):
        return check.rdma_ports(self.sys.root, rdma_link)

    def test_sysfs_tree_is_read(self):
        self.sys.port("rxe0", 1, "4: ACTIVE", "eth1", [LINK_GID, IP_GID])
        (port,) = self.ports()
        self.assertEqual(port["dev"], "rxe0")
        self.assertEqual(port["port"], 1)
        self.assertEqual(port["state"], "ACTIVE")
        self.assertEqual(port["netdevs"], {"eth1"})
        self.assertEqual(port["gids"], {0: LINK_GID, 1: IP_GID})

    def test_active_port_with_gid_is_ok(self):
        self.sys.port("rxe0", 1, "4: ACTIVE", "eth1", [LINK_GID, IP_GID])
        (line,) = check.rdma_checks(self.ports(), "eth1", "rc",
                                    host="198.18.0.1")
        self.assertEqual(line[0], "ok", line)
        self.assertIn("rxe0:1 on eth1 ACTIVE, 2 GIDs", line[2])
        self.assertIn("198.18.0.1 at index 1", line[2])

    def test_down_port_fails_for_rdma_transports(self):
        self.sys.port("rxe0", 1, "1: DOWN", "eth1", [LINK_GID, IP_GID])
        (line,) = check.rdma_checks(self.ports(), "eth1", "rc+ud")
        self.assertEqual(line[0], "fail")
        self.assertIn("rxe0:1 on eth1 is DOWN", line[2])
        self.assertIn("ip link set", line[3])

    def test_port_without_gid_fails(self):
        # No GID, so no ndevs entry: `rdma link` names the netdev.
        self.sys.port("rxe0", 1, "4: ACTIVE", "eth1", [])
        link = json.dumps([{"ifname": "rxe0", "port": 1, "netdev": "eth1"}])
        (line,) = check.rdma_checks(self.ports(link), "eth1", "rc")
        self.assertEqual(line[0], "fail")
        self.assertIn("no GID", line[2])
        self.assertIn("address", line[3])

    def test_no_gid_for_the_listen_address_fails(self):
        self.sys.port("rxe0", 1, "4: ACTIVE", "eth1", [LINK_GID])
        (line,) = check.rdma_checks(self.ports(), "eth1", "rc",
                                    host="198.18.0.1")
        self.assertEqual(line[0], "fail")
        self.assertIn("no GID holds 198.18.0.1", line[2])

    def test_no_device_fails_with_the_fix(self):
        (line,) = check.rdma_checks(self.ports(), "eth1", "rc")
        self.assertEqual(line[0], "fail")
        self.assertIn("no RDMA device on eth1", line[2])
        self.assertIn("rdma link add rxe0 type rxe netdev eth1", line[3])
        self.assertIn('transports = "tcp"', line[3])

    def test_device_on_another_netdev_is_no_device(self):
        self.sys.port("rxe0", 1, "4: ACTIVE", "eth0", [LINK_GID])
        (line,) = check.rdma_checks(self.ports(), "eth1", "rc")
        self.assertEqual(line[0], "fail")
        self.assertIn("others: rxe0:1 on eth0", line[2])

    def test_ucx_chooses_warns_instead(self):
        (line,) = check.rdma_checks(self.ports(), "eth1", "")
        self.assertEqual(line[0], "warn")
        self.assertIn("UCX will use tcp", line[2])

    def test_tcp_only_is_information(self):
        (line,) = check.rdma_checks(self.ports(), "eth1", "tcp")
        self.assertEqual(line[0], "ok")
        self.assertIn("not used", line[2])
        self.assertIsNone(line[3])

    def test_named_dev_is_checked(self):
        self.sys.port("rxe0", 1, "4: ACTIVE", "eth1", [LINK_GID])
        self.sys.port("rxe1", 1, "1: DOWN", "eth1", [LINK_GID])
        (line,) = check.rdma_checks(self.ports(), "eth1", "", "rxe0:1")
        self.assertEqual(line[0], "ok")
        (line,) = check.rdma_checks(self.ports(), "eth1", "", "rxe1:1")
        self.assertEqual(line[0], "fail")
        self.assertIn("rxe1:1 on eth1 is DOWN", line[2])
        (line,) = check.rdma_checks(self.ports(), "eth1", "", "rxe0")
        self.assertEqual(line[0], "ok", "port 1 when none is named")
        (line,) = check.rdma_checks(self.ports(), "eth1", "rc", "mlx5_0:1")
        self.assertEqual(line[0], "fail")
        self.assertIn("no such RDMA port (have: rxe0:1, rxe1:1)", line[2])

    def test_wildcard_listen_takes_any_port(self):
        self.sys.port("rxe0", 1, "4: ACTIVE", "eth0", [LINK_GID])
        (line,) = check.rdma_checks(self.ports(), None, "rc",
                                    host="0.0.0.0")
        self.assertEqual(line[0], "ok", line)
        self.assertIn("rxe0:1 ACTIVE", line[2])

    def test_one_active_port_among_several_is_enough(self):
        self.sys.port("rxe0", 1, "1: DOWN", "eth1", [LINK_GID])
        self.sys.port("rxe1", 1, "4: ACTIVE", "eth1", [LINK_GID])
        (line,) = check.rdma_checks(self.ports(), "eth1", "rc")
        self.assertEqual(line[0], "ok")
        self.assertIn("rxe1:1", line[2])

    def test_pci_function_binds_its_netdev(self):
        self.sys.port("mlx5_0", 1, "1: DOWN", "", [])
        os.makedirs(os.path.join(self.sys.root, "mlx5_0", "device", "net",
                                 "ens5f0"))
        (line,) = check.rdma_checks(self.ports(), "ens5f0", "rc")
        self.assertEqual(line[0], "fail")
        self.assertIn("mlx5_0:1 on ens5f0 is DOWN", line[2])

    def test_rdma_link_json_binds_netdevs(self):
        # An IPoIB port has no gid_attrs/ndevs entry naming its netdev.
        self.sys.port("mlx5_0", 1, "4: ACTIVE", "", [LINK_GID])
        link = json.dumps([{"ifindex": 0, "ifname": "mlx5_0", "port": 1,
                            "state": "ACTIVE", "netdev": "ib0"}])
        (port,) = self.ports(link)
        self.assertEqual(port["netdevs"], {"ib0"})
        self.assertEqual(self.ports("not json")[0]["netdevs"], set())


class Memlock(unittest.TestCase):
    def test_unlimited_and_large_are_ok(self):
        self.assertEqual(check.memlock_check(resource.RLIM_INFINITY,
                                             512)[0], "ok")
        self.assertEqual(check.memlock_check(1 << 30, 512)[0], "ok")

    def test_small_limit_warns_with_the_fix(self):
        level, item, detail, fix = check.memlock_check(8 << 20, 512)
        self.assertEqual((level, item), ("warn", "memlock"))
        self.assertIn("8192 KiB", detail)
        self.assertIn("ulimit -l unlimited", fix)


class Keyfile(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.path = os.path.join(tmp.name, "fabric.key")

    def write(self, text, mode):
        with open(self.path, "w", encoding="ascii") as f:
            f.write(text)
        os.chmod(self.path, mode)

    def test_good_key_is_ok(self):
        self.write("0123456789abcdef" * 4 + "\n", 0o600)
        self.assertEqual(check.keyfile_check(self.path)[0], "ok")

    def test_none_warns(self):
        level, _, detail, fix = check.keyfile_check("")
        self.assertEqual(level, "warn")
        self.assertIn("trusted by their address alone", detail)
        self.assertIn("openssl rand -hex 32 > FILE", fix)

    def test_refusals_name_the_fix(self):
        level, _, detail, fix = check.keyfile_check(self.path)
        self.assertEqual(level, "bad")
        self.assertIn("No such file", detail)
        self.assertIn(f"openssl rand -hex 32 > {self.path}", fix)
        self.write("0123456789abcdef" * 4, 0o644)
        level, _, detail, fix = check.keyfile_check(self.path)
        self.assertEqual((level, fix), ("bad", f"chmod 600 {self.path}"))
        self.assertIn("mode 644", detail)
        self.write("too short\n\n", 0o600)
        level, _, detail, _ = check.keyfile_check(self.path)
        self.assertEqual(level, "bad")
        self.assertIn("9 bytes, 16 to 256 needed", detail)


class Peers(unittest.TestCase):
    @staticmethod
    def probe(answer):
        return lambda host, port: answer

    def test_listener_accepts(self):
        line = check.peer_check("198.18.0.2:7000", self.probe("accepts"),
                                lambda host: self.fail("no ping needed"))
        self.assertEqual(line[0], "ok")

    def test_refused_is_reachable_for_rdma_cm(self):
        pinged = []
        line = check.peer_check("198.18.0.2:7000", self.probe("refused"),
                                lambda host: pinged.append(host) or True)
        self.assertEqual(pinged, ["198.18.0.2"])
        self.assertEqual(line[0], "ok")
        self.assertIn("reachable", line[2])
        self.assertIn("rdma_cm", line[2])

    def test_unreachable_warns(self):
        line = check.peer_check("198.18.0.2:7000", self.probe("timed out"),
                                lambda host: False)
        self.assertEqual(line[0], "warn")
        self.assertIn("unreachable", line[2])
        self.assertIn("ip route get 198.18.0.2", line[3])

    def test_timed_out_but_pinging(self):
        line = check.peer_check("[fd00::2]:7000", self.probe("timed out"),
                                lambda host: True)
        self.assertEqual(line[0], "ok")
        self.assertIn("fd00::2 answers ping", line[2])

    def test_real_probe_of_a_closed_local_port(self):
        self.assertEqual(check.tcp_probe("127.0.0.1", 9, timeout=1.0),
                         "refused")


class Report(unittest.TestCase):
    """fabric_report() over a config; real `ip -j addr`, fake sysfs."""

    def config(self, **fabric):
        cfg = {"fabric.listen": "127.0.0.1:7000", "fabric.peers": [],
               "fabric.transports": "", "ports.mtu": 1500,
               "memory.socket_limit_mb": 512, "node.netns": ""}
        cfg.update({f"fabric.{k}": v for k, v in fabric.items()})
        return cfg

    def report(self, cfg, sysfs=None):
        sysfs = sysfs or FakeSysfs(self)
        return check.fabric_report(cfg, sysfs.root,
                                   probe=lambda host, port: "refused",
                                   ping=lambda host: True)

    def items(self, lines):
        return {line[1]: line for line in lines}

    def test_tcp_only_config(self):
        lines = self.report(self.config(transports="tcp",
                                        peers=["127.0.0.1:7001"]))
        items = self.items(lines)
        self.assertEqual(items["listen"][0], "ok")
        self.assertIn("on lo", items["listen"][2])
        self.assertEqual(items["mtu"][0], "ok")
        self.assertEqual(items["rdma"][0], "ok")
        self.assertNotIn("memlock", items)
        self.assertEqual(items["peer"][0], "ok")
        for line in lines:
            if line[0] != "ok":
                self.assertTrue(line[3], line)

    def test_rdma_config_without_a_device_fails(self):
        items = self.items(self.report(self.config(transports="rc")))
        self.assertEqual(items["rdma"][0], "fail")
        self.assertIn("memlock", items)

    def test_rdma_config_with_an_active_port(self):
        sysfs = FakeSysfs(self)
        sysfs.port("rxe0", 1, "4: ACTIVE", "lo",
                   [LINK_GID, "0000:0000:0000:0000:0000:ffff:7f00:0001"])
        items = self.items(self.report(self.config(transports="rc",
                                                   dev="rxe0:1"), sysfs))
        self.assertEqual(items["rdma"][0], "ok", items["rdma"])
        self.assertIn("127.0.0.1 at index 1", items["rdma"][2])

    def test_named_dev_absent_fails(self):
        cfg = self.config(transports="", dev="rxe0:1")
        items = self.items(self.report(cfg))
        self.assertEqual(items["rdma"][0], "fail")
        self.assertIn("[fabric] dev rxe0:1: no such RDMA port",
                      items["rdma"][2])

    def test_config_without_a_dev_key(self):
        cfg = self.config(transports="rc")
        self.assertNotIn("fabric.dev", cfg)
        self.assertEqual(self.items(self.report(cfg))["rdma"][0], "fail")

    def test_listen_not_local_skips_the_netdev_checks(self):
        items = self.items(self.report(self.config(
            listen="198.18.250.250:7000")))
        self.assertEqual(items["listen"][0], "fail")
        self.assertNotIn("mtu", items)


if __name__ == "__main__":
    unittest.main()
