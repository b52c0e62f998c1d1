#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Node lifecycle with real ovsdb-server and ovs-vswitchd-dpdk: up twice is
up once, down leaves the machine as it was, two nodes live side by side."""

import json
import os
import re
import shlex
import signal
import subprocess

import vrdmatest
from vrdmalib import node
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

    def two_guests(self, name):
        """Two namespace guests on node name (client-mode ports) that
        reach each other; returns a one-ping check between them."""
        ga, gb = rand_name("ga"), rand_name("gb")
        for g, ip in ((ga, "10.78.0.1/24"), (gb, "10.78.0.2/24")):
            self.vrdma("ns", "add", "--node", name, g, "--ip", ip)

        def ping():
            return subprocess.run(
                ["ip", "netns", "exec", ga, "ping", "-c", "1", "-W", "1",
                 "10.78.0.2"], capture_output=True,
                check=False).returncode == 0
        self.assertTrue(wait_for(ping, 30), "guests reach each other")
        return ping

    def test_crashed_vswitchd_comes_back_by_itself(self):
        """ovs-vswitchd runs under OVS's --monitor: a crash (SIGSEGV) is
        followed by a new ovs-vswitchd without anyone running vrdma, and
        two namespace guests on client-mode ports reach each other again.
        node down stops the monitors too (test_bad_input checks that no
        process is left)."""
        name = rand_name("c")
        self.node_up(name)
        ping = self.two_guests(name)
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

    def test_down_keep_then_up_converts_an_old_db(self):
        """node down --keep (a service stop) stops the switch but keeps
        its DB, ports and logs: status says stopped (exit 3), and node up
        starts it with its ports. A DB left by an older OVS (its schema
        older than the installed one) is converted on that start, as
        ovs-ctl does, after a backup, and keeps the ports."""
        name = rand_name("d")
        self.node_up(name)
        self.vrdma("port", "add", "--node", name, "g1")
        self.vrdma("node", "down", "--node", name, "--keep")
        root = os.path.join(self.state, name)
        self.assertEqual(processes_mentioning(root + "/"), [],
                         "the switch and its monitors stopped")
        proc = self.vrdma("node", "status", "--node", name, "--json",
                          ok=False)
        self.assertEqual(proc.returncode, 3)
        self.assertEqual(json.loads(proc.stdout)["state"], "stopped")
        log = os.path.join(root, "log", f"ovs-daemon-{name}.log")
        self.assertTrue(os.path.exists(log), "logs kept")

        # An "older" schema: the installed one without a column, at an
        # older version number; the DB is converted to it, as if made by
        # an older OVS.
        with open(node.OVS_SCHEMA, encoding="utf-8") as f:
            schema = json.load(f)
        del schema["tables"]["Interface"]["columns"]["lldp"]
        schema["version"] = "8.0.0"
        old = os.path.join(self.state, "old.ovsschema")
        with open(old, "w", encoding="utf-8") as f:
            json.dump(schema, f)
        db = os.path.join(root, f"conf-{name}.db")
        subprocess.run(["ovsdb-tool", "convert", db, old], check=True)
        self.assertEqual(subprocess.run(
            ["ovsdb-tool", "db-version", db], capture_output=True,
            text=True, check=True).stdout.strip(), "8.0.0")

        up = self.vrdma("node", "up", "--node", name)
        self.assertRegex(up.stderr, r"DB converted from schema 8\.0\.0 to")
        want = subprocess.run(["ovsdb-tool", "schema-version",
                               node.OVS_SCHEMA], capture_output=True,
                              text=True, check=True).stdout.strip()
        self.assertEqual(subprocess.run(
            ["ovsdb-tool", "db-version", db], capture_output=True,
            text=True, check=True).stdout.strip(), want)
        self.assertTrue([f for f in os.listdir(root)
                         if f.startswith(f"conf-{name}.db.backup8.0.0-")])
        st = json.loads(self.vrdma("node", "status", "--node", name,
                                   "--json").stdout)
        self.assertEqual(st["state"], "running")
        self.assertIn("g1", [p["name"] for p in st["ports"]])

    def test_check_unit_restarts_a_killed_vswitchd(self):
        """The command of vrdma-node-check@.service (as vrdma service units
        writes it) starts a vswitchd killed with SIGKILL (which OVS's
        --monitor leaves alone) again, and two guests reach each other
        again; it leaves a running node be."""
        name = rand_name("u")
        self.node_up(name)
        ping = self.two_guests(name)
        units = os.path.join(self.state, "units")
        self.vrdma("service", "units", "--out", units)
        with open(os.path.join(units, "vrdma-node-check@.service"),
                  encoding="utf-8") as f:
            text = f.read()
        cmd = re.search(r"^ExecStart=/bin/sh -c '(.*?)'$",
                        text.replace("\\\n", ""), re.M | re.S).group(1)
        cmd = cmd.replace("%i", name)
        pidfile = os.path.join(self.state, name, "run",
                               f"ovs-daemon-{name}.pid")
        pid = int(read(pidfile))
        subprocess.run(["/bin/sh", "-c", cmd], env=self.env, check=True,
                       timeout=120)
        self.assertEqual(int(read(pidfile)), pid, "a running node is left be")
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_for(lambda: self.vrdma(
            "node", "status", "--node", name, ok=False).returncode == 1, 10))
        subprocess.run(["/bin/sh", "-c", cmd], env=self.env, check=True,
                       timeout=180)
        self.assertNotEqual(int(read(pidfile)), pid)
        self.assertEqual(self.vrdma("node", "status", "--node",
                                    name).returncode, 0)
        self.assertTrue(wait_for(ping, 60), "guests reach each other again")

    def test_logrotate_snippet(self):
        """configs/logrotate.d/vrdma (pointed at this test's state dir)
        rotates a node's OVS logs, and the daemons go on in the new files
        (vlog/reopen), which a plain rename would not do."""
        name = rand_name("lr")
        self.node_up(name)
        with open(os.path.join(vrdmatest.TOP, "configs", "logrotate.d",
                               "vrdma"), encoding="utf-8") as f:
            text = f.read().replace("/var/lib/vrdma", self.state)
        conf = os.path.join(self.state, "logrotate.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(conf, 0o644)
        proc = subprocess.run(["logrotate", "-f", "-s",
                               os.path.join(self.state, "logrotate.state"),
                               conf], capture_output=True, text=True,
                              check=False)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        logs = os.path.join(self.state, name, "log")
        for who in ("daemon", "server"):
            log = os.path.join(logs, f"ovs-{who}-{name}.log")
            self.assertTrue(os.path.exists(log + ".1"), os.listdir(logs))
            self.assertTrue(wait_for(lambda log=log: os.path.exists(log) and
                                     "opened log file" in read(log), 10),
                            f"{log}: the daemon writes the new file")
        self.vrdma("port", "add", "--node", name, "g1")
        self.assertIn("g1", read(os.path.join(logs, f"ovs-daemon-{name}"
                                              ".log")))

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
