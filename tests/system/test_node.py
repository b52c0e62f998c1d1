#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Node lifecycle with real ovsdb-server and ovs-vswitchd-dpdk: up twice is
up once, down leaves the machine as it was, two nodes live side by side."""

import json
import os
import shlex
import signal
import subprocess

import vrdmatest
from vrdmalib.util import wait_for
from vrdmatest import Case, processes_mentioning, rand_name, read, snapshot


class NodeLifecycle(Case):
    def test_up_up_down_leaves_machine_as_it_was(self):
        before = snapshot()
        name = rand_name("n")
        first = self.node_up(name)
        root = first.stdout.strip()
        self.assertEqual(root, os.path.join(self.state, name))
        pids = processes_mentioning(root)
        self.assertEqual(len(pids), 2, "ovsdb-server + ovs-vswitchd")
        during = snapshot()
        self.assertGreater(during["nr_hugepages"]["2M"],
                           before["nr_hugepages"]["2M"])
        self.assertIn("2M", dict(during["hugetlbfs"]).values())
        self.assertIn(f"br-{name}", during["links"])

        second = self.vrdma("node", "up", "--node", name)
        self.assertIn("already up", second.stderr)
        self.assertEqual(sorted(processes_mentioning(root)), sorted(pids),
                         "second up must not start anything")
        self.assertEqual(snapshot(), during)

        # Every file the node made is named after it (report Table 2).
        for leaf in (f"conf-{name}.db", f"run/ovs-db-{name}.sock",
                     f"run/ovs-server-{name}.pid",
                     f"run/ovs-daemon-{name}.pid",
                     f"log/ovs-daemon-{name}.log"):
            self.assertTrue(os.path.exists(os.path.join(root, leaf)), leaf)
        cmdline = " ".join(read(f"/proc/{pids[-1]}/cmdline")
                           .split("\0"))
        self.assertIn(name, cmdline)
        extra = self.vrdma("vsctl", "--node", name, "--", "get",
                           "Open_vSwitch", ".", "other_config:dpdk-extra")
        self.assertIn("--no-pci", extra.stdout)
        self.assertIn("--iova-mode=va", extra.stdout)
        self.assertIn("--in-memory", extra.stdout)

        self.vrdma("node", "down", "--node", name)
        self.assertEqual(processes_mentioning(root), [])
        self.assertFalse(os.path.exists(root))
        self.assertEqual(snapshot(), before)
        again = self.vrdma("node", "down", "--node", name)
        self.assertIn("not up", again.stderr)

    def test_status_and_env(self):
        name = rand_name("s")
        self.node_up(name)
        port = json.loads(self.vrdma("port", "add", "--node", name, "g1",
                                     "--json").stdout)
        self.assertEqual({k: port[k] for k in ("guest", "type", "mode",
                                               "queues", "mtu")},
                         {"guest": "g1", "type": "dpdkvhostuserclient",
                          "mode": "client", "queues": 1, "mtu": 1500})
        self.assertTrue(port["socket"].endswith("/g1"), port["socket"])
        status = self.vrdma("node", "status", "--node", name).stdout
        self.assertRegex(status, r"ovs-vswitchd\s+pid \d+\s+running")
        self.assertRegex(status, r"g1\s+dpdkvhostuserclient")
        self.assertIn("core_id", status)
        env = self.vrdma("env", "--node", name).stdout
        script = env + "\nshopt -s expand_aliases\nvrdma-vsctl br-exists " \
            f"br-{name} && echo BRIDGE-OK\n"
        out = subprocess.run(["bash", "-c", script], capture_output=True,
                             text=True, check=False)
        self.assertIn("BRIDGE-OK", out.stdout, out.stderr)
        self.assertIn(f"DB_SOCKET={shlex.quote(os.path.join(self.state, name, 'run', f'ovs-db-{name}.sock'))}", env)

    def test_restart_keeps_ports(self):
        name = rand_name("r")
        self.node_up(name)
        self.vrdma("port", "add", "--node", name, "g1")
        old = read(os.path.join(self.state, name, "run",
                                f"ovs-daemon-{name}.pid"))
        self.vrdma("node", "restart", "--node", name)
        new = read(os.path.join(self.state, name, "run",
                                f"ovs-daemon-{name}.pid"))
        self.assertNotEqual(old, new)
        status = self.vrdma("node", "status", "--node", name).stdout
        self.assertRegex(status, r"g1\s+dpdkvhostuserclient")

    def test_crashed_vswitchd_comes_back_by_itself(self):
        """ovs-vswitchd runs under OVS's --monitor: a crash (SIGSEGV) is
        followed by a new ovs-vswitchd without anyone running vrdma, and
        two namespace guests on client-mode ports reach each other again.
        node down stops the monitors too (test_bad_input checks that no
        process is left)."""
        name = rand_name("c")
        self.node_up(name)
        ga, gb = rand_name("ga"), rand_name("gb")
        for g, ip in ((ga, "10.78.0.1/24"), (gb, "10.78.0.2/24")):
            self.vrdma("ns", "add", "--node", name, g, "--ip", ip)

        def ping():
            return subprocess.run(
                ["ip", "netns", "exec", ga, "ping", "-c", "1", "-W", "1",
                 "10.78.0.2"], capture_output=True,
                check=False).returncode == 0
        self.assertTrue(wait_for(ping, 30), "guests reach each other")
        pidfile = os.path.join(self.state, name, "run",
                               f"ovs-daemon-{name}.pid")
        pid = int(read(pidfile))
        os.kill(pid, signal.SIGSEGV)

        def back():
            new = read(pidfile).strip()
            return new and int(new) != pid and \
                self.vrdma("node", "status", "--node", name,
                           ok=False).returncode == 0
        self.assertTrue(wait_for(back, 60), "a new ovs-vswitchd by itself")
        self.assertTrue(wait_for(ping, 60), "guests reach each other again")
        log = read(os.path.join(self.state, name, "log",
                                f"ovs-daemon-{name}.log"))
        self.assertIn("1 crashes: pid", log)
        self.vrdma("node", "down", "--node", name)
        self.assertEqual(processes_mentioning(
            os.path.join(self.state, name) + "/"), [])

    def test_up_restarts_a_killed_vswitchd(self):
        name = rand_name("k")
        self.node_up(name)
        pidfile = os.path.join(self.state, name, "run",
                               f"ovs-daemon-{name}.pid")
        pid = int(read(pidfile))
        st = json.loads(self.vrdma("node", "status", "--node", name,
                                   "--json").stdout)
        self.assertEqual((st["state"], st["daemons"]["ovs-vswitchd"]),
                         ("running", {"pid": pid, "running": True}))
        os.kill(pid, 9)
        status = self.vrdma("node", "status", "--node", name, ok=False)
        self.assertEqual(status.returncode, 1)
        self.assertIn("NOT RUNNING", status.stdout)
        proc = self.vrdma("node", "status", "--node", name, "--json",
                          ok=False)
        self.assertEqual(proc.returncode, 1, "degraded, as LSB status")
        st = json.loads(proc.stdout)
        self.assertEqual(st["state"], "degraded")
        self.assertFalse(st["daemons"]["ovs-vswitchd"]["running"])
        self.assertTrue(st["daemons"]["ovsdb-server"]["running"])
        self.vrdma("node", "up", "--node", name)
        status = self.vrdma("node", "status", "--node", name).stdout
        self.assertRegex(status, r"ovs-vswitchd\s+pid \d+\s+running")


    def test_raw_uplink_from_config(self):
        """[uplink] devargs becomes a dpdk port; a vdev keeps --no-pci."""
        name = rand_name("l")
        conf = self.write_config(name, '[uplink]\ndevargs = "net_null0"\n'
                                 "[ports]\nmtu = 9000\n")
        self.node_up(name, "--config", conf)
        status = self.vrdma("node", "status", "--node", name, "--config",
                            conf).stdout
        self.assertRegex(status, r"uplink\s+dpdk\s+up\s+9000\s+net_null0")
        extra = self.vrdma("vsctl", "--node", name, "--", "get",
                           "Open_vSwitch", ".", "other_config:dpdk-extra")
        self.assertIn("--no-pci", extra.stdout)
        bad = self.write_config("bad", '[uplink]\ndevargs = "net_nosuch0"\n'
                                f'[node]\nnetns = "{rand_name("vrdma-ns-")}"\n')
        proc = self.vrdma("node", "up", "--node", "bad", "--config", bad,
                          ok=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("uplink net_nosuch0", proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.state, "bad")))


class TwoNodes(Case):
    def test_side_by_side(self):
        """Two nodes on one machine: the second in its own namespace (OVS's
        netdev datapath owns a tap named ovs-netdev per namespace)."""
        before = snapshot()
        a, b = rand_name("a"), rand_name("b")
        ns = rand_name("vrdma-ns-")
        conf = self.write_config(b, f'[node]\nnetns = "{ns}"\n')
        self.node_up(a)
        self.node_up(b, "--config", conf)
        self.assertIn(ns, subprocess.run(["ip", "netns"], text=True,
                                         capture_output=True).stdout)
        self.vrdma("port", "add", "--node", a, "vm1")
        self.vrdma("port", "add", "--node", b, "--config", conf, "vm1")
        pa = processes_mentioning(os.path.join(self.state, a) + "/")
        pb = processes_mentioning(os.path.join(self.state, b) + "/")
        self.assertEqual(len(pa), 2)
        self.assertEqual(len(pb), 2)
        self.assertFalse(set(pa) & set(pb))
        hp = self.vrdma("hugepages").stdout
        self.assertIn(f"node:{a}=", hp)
        self.assertIn(f"node:{b}=", hp)

        self.vrdma("node", "down", "--node", a)
        self.assertEqual(processes_mentioning(os.path.join(self.state, a)
                                              + "/"), [])
        self.assertEqual(sorted(processes_mentioning(
            os.path.join(self.state, b) + "/")), sorted(pb))
        status = self.vrdma("node", "status", "--node", b, "--config",
                            conf).stdout
        self.assertRegex(status, r"vm1\s+dpdkvhostuserclient")
        self.vrdma("node", "down", "--node", b, "--config", conf)
        self.assertNotIn(ns, subprocess.run(["ip", "netns"], text=True,
                                            capture_output=True).stdout)
        self.assertEqual(snapshot(), before)


if __name__ == "__main__":
    vrdmatest.main()
