#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma cluster`'s inventory without hosts: the node config written for
each host (peers: every other host), the example, and errors that name
the problem and the fix before any host is touched."""

import io
import os
import tempfile
import tomllib
import unittest

from vrdmalib import cluster, config, slurm
from vrdmalib.util import VrdmaError

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HOSTS = """
[[host]]
name = "cn1"
address = "root@10.0.0.1"
fabric_ip = "198.18.0.1"

[[host]]
name = "cn2"
address = "root@10.0.0.2"
fabric_ip = "198.18.0.2"

[[host]]
name = "cn3"
address = "root@10.0.0.3"
fabric_ip = "198.18.0.3"
"""


class Inventory(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def load(self, text, template=None, only=None):
        if template is not None:
            self.write("template.toml", template)
        return cluster.Cluster(self.write("inv.toml", text), only)

    def assert_refused(self, text, *words, template=None):
        with self.assertRaises(VrdmaError) as ctx:
            self.load(text, template)
        for word in words:
            self.assertIn(word, ctx.exception.line())
        self.assertTrue(ctx.exception.fix, ctx.exception.line())

    def test_configs_name_every_other_host(self):
        inv = self.load('template = "template.toml"\nfabric_port = 7100\n'
                        'config_dir = "/etc/vrdma/c1"\n' + HOSTS,
                        template='[memory]\nsocket_mem_mb = 256\n'
                                 '[fabric]\ntransports = "tcp"\n')
        self.assertEqual(inv.keyfile,
                         os.path.join(self.dir.name, "inv.key"))
        for host in inv.hosts:
            data = tomllib.loads(host.config_text)
            self.assertEqual(data["node"]["name"], host.name)
            self.assertEqual(data["memory"]["socket_mem_mb"], 256)
            fab = data["fabric"]
            self.assertEqual(fab["listen"], f"{host.fabric_ip}:7100")
            self.assertEqual(fab["transports"], "tcp")
            self.assertEqual(sorted(fab["peers"]), sorted(
                f"{h.fabric_ip}:7100" for h in inv.hosts if h is not host))
            self.assertEqual(fab["keyfile"], f"/etc/vrdma/c1/{host.name}.key")
            self.assertEqual(host.config, f"/etc/vrdma/c1/{host.name}.toml")
            # What node up will read: valid for the schema.
            config.validate(data, host.name)

    def test_keyless_and_selected_hosts(self):
        inv = self.load('keyfile = ""\n' + HOSTS, only=["cn3", "cn1"])
        self.assertEqual(inv.keyfile, "")
        self.assertEqual([h.name for h in inv.selected], ["cn1", "cn3"])
        for host in inv.hosts:
            self.assertNotIn("keyfile", tomllib.loads(host.config_text)
                             ["fabric"])
        with self.assertRaises(VrdmaError) as ctx:
            self.load(HOSTS, only=["cn9"])
        self.assertIn("no host 'cn9'", ctx.exception.line())

    def test_example_loads(self):
        inv = self.load(cluster.example())
        self.assertEqual([h.name for h in inv.hosts], ["cn1", "cn2", "cn3"])
        with open(os.path.join(TOP, "configs", "cluster.example.toml"),
                  encoding="utf-8") as f:
            self.assertEqual(f.read(), cluster.example(),
                             "configs/cluster.example.toml is stale: "
                             "tools/vrdma config inventory > it")

    def test_errors_before_any_host(self):
        one = HOSTS.split("[[host]]")[1]
        self.assert_refused("[[host]]" + one, "two [[host]] tables")
        self.assert_refused(HOSTS.replace('"cn2"', '"cn1"'), "two hosts",
                            "name cn1")
        self.assert_refused(HOSTS.replace("198.18.0.3", "198.18.0.1"),
                            "fabric_ip 198.18.0.1")
        self.assert_refused(HOSTS.replace("198.18.0.2", "cn2"),
                            "'cn2' is not an address")
        self.assert_refused(HOSTS.replace('address = "root@10.0.0.2"', ""),
                            "[[host]] 2", "address is required")
        self.assert_refused("sssh = \"ssh\"\n" + HOSTS, "unknown key 'sssh'")
        self.assert_refused('fabric_port = "7000"\n' + HOSTS,
                            "fabric_port must be a number")
        self.assert_refused("fabric_port = 70000\n" + HOSTS, "not a port")
        self.assert_refused('config_dir = "etc"\n' + HOSTS, "absolute")
        self.assert_refused("[[host\n", "not TOML")
        self.assert_refused('template = "template.toml"\n' + HOSTS,
                            "[fabric] peers is written per host",
                            template='[fabric]\npeers = ["1.2.3.4:7000"]\n')
        self.assert_refused('template = "template.toml"\n' + HOSTS,
                            "cn1's config", "socket_mem_mb",
                            template="[memory]\nsocket_mem_mb = 1\n")
        self.assert_refused('template = "missing.toml"\n' + HOSTS,
                            "missing.toml")

    def test_status_table(self):
        inv = self.load(HOSTS)
        st = {"inventory": "inv.toml", "nodes_up": 2,
              "nodes": [{"name": h.name, "address": h.address,
                         "listen": h.listen, "node": "up", "error": ""}
                        for h in inv.hosts],
              "links": [{"from": a.name, "to": b.name,
                         "state": "connected", "trusted": True}
                        for a in inv.hosts for b in inv.hosts if a is not b],
              "links_total": 6, "links_connected": 5}
        st["nodes"][2]["node"] = "down"
        st["links"][1]["state"] = "inbound"
        st["links"][1]["trusted"] = False
        self.assertEqual(cluster.exit_code(st), 1)
        out = io.StringIO()
        cluster.print_status(st, out)
        text = out.getvalue()
        self.assertIn("2/3 nodes up, 5/6 fabric links connected", text)
        # Row cn1: itself, cn2 connected, cn3 inbound and unproven.
        self.assertRegex(text, r"\n  cn1 +- +C +i!\n")
        st["nodes_up"] = 0
        self.assertEqual(cluster.exit_code(st), 3)
        st["nodes_up"], st["nodes"][2]["node"] = 3, "up"
        st["links_connected"] = 6
        self.assertEqual(cluster.exit_code(st), 0)


class SlurmLayout(unittest.TestCase):
    """What every node of a --vrdma job works out alone (slurm.py)."""

    def test_names_and_addresses(self):
        plan = slurm.layout(70000, ["cn1", "cn2", "cn3"], 2)
        # Job 70000: 70000 // 256 % 64 = 17, 70000 % 256 = 112.
        self.assertEqual(plan, [
            ("cn1", "j70000-cn1-g1", "10.145.112.1/24"),
            ("cn1", "j70000-cn1-g2", "10.145.112.2/24"),
            ("cn2", "j70000-cn2-g1", "10.145.112.3/24"),
            ("cn2", "j70000-cn2-g2", "10.145.112.4/24"),
            ("cn3", "j70000-cn3-g1", "10.145.112.5/24"),
            ("cn3", "j70000-cn3-g2", "10.145.112.6/24")])
        with self.assertRaises(VrdmaError) as ctx:
            slurm.layout(1, [f"n{i}" for i in range(32)], 8)
        self.assertIn("do not fit a job's /24", ctx.exception.line())
        with self.assertRaises(VrdmaError) as ctx:
            slurm.layout(123456789, ["a-very-long-slurm-node-name"], 1)
        self.assertIn("longer than 32", ctx.exception.line())

    def test_rsh_agent(self):
        text = slurm._rsh(7, "cn1", slurm.layout(7, ["cn1", "cn2"], 1))
        # Here: into the guest; there: srun into the job, then the guest.
        self.assertIn('10.128.7.1) mkdir -p /tmp/vrdma-ompi-j7-cn1-g1 && '
                      'ip netns exec j7-cn1-g1 env TMPDIR=/tmp/vrdma-ompi-'
                      'j7-cn1-g1 sh -c "$*" ;;', text)
        self.assertIn('exec nsenter --net="$VRDMA_HOST_NETNS" srun '
                      '--jobid=7 --overlap -N1 -n1 -w cn2 --quiet sh -c '
                      '"mkdir -p /tmp/vrdma-ompi-j7-cn2-g1 && ip netns exec '
                      'j7-cn2-g1', text)
        self.assertIn("has no guest $where", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
