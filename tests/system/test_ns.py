#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Namespace guests: network namespaces attached to vhost-user ports by
vrdma-vhost-ns, with the real Linux TCP stack on both sides of one OVS
node. Ping, NPtcp, a 2-rank NPmpi with one rank per namespace, 64 KiB TSO
frames crossing whole, a switch restart under traffic, both socket roles,
multiqueue, idle CPU, and the frontend's own errors."""

import json
import os
import re
import subprocess
import time

import vrdmatest
from vrdmatest import Case, rand_name
from vrdmalib import netpipe, nsguest
from vrdmalib.guest import NsGuest
from vrdmalib.hosts import port_counters


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class NsGuests(Case):
    def guests(self, node, names, *extra):
        recs = []
        for name in names:
            out = self.vrdma("ns", "add", "--node", node, name, *extra).stdout
            self.assertIn(f"{name} netns=", out)
            self.addCleanup(self.vrdma, "ns", "del", "--node", node, name,
                            ok=None)
            recs.append(self.ns_record(node, name))
        return recs

    def ns_record(self, node, name):
        for rec in nsguest.records(self.node_obj(node)):
            if rec["guest"] == name:
                return rec
        self.fail(f"no record for guest {name}")

    def ping(self, src, dst, count=3, ok=True):
        proc = subprocess.run(["ip", "netns", "exec", src["netns"], "ping",
                               "-c", str(count), "-W", "2", "-i", "0.2",
                               dst["ip"].split("/")[0]],
                              capture_output=True, text=True, check=False)
        if ok:
            self.assertEqual(proc.returncode, 0,
                             f"{src['guest']} -> {dst['guest']}: "
                             f"{proc.stdout}{proc.stderr}")
        return proc.returncode == 0

    def bulk(self, src, dst, mib):
        """mib MiB over one TCP connection from src to dst; all arrive."""
        got = vrdmatest.bulk_tcp(src["netns"], dst["netns"],
                                 dst["ip"].split("/")[0], mib)
        self.assertEqual(got, mib << 20, "every byte arrived")

    def frontend_pid(self, node, guest):
        pidfile = os.path.join(self.node_obj(node).paths.run,
                               f"ns-{guest}.pid")
        with open(pidfile, encoding="ascii") as f:
            return int(f.read())

    def frontend_log(self, node, guest):
        return vrdmatest.read(os.path.join(self.node_obj(node).paths.log_dir,
                                           f"ns-{guest}.log"))

    def test_client_ports_ping_nptcp_npmpi(self):
        """Two guests on a switch without userspace TSO (tso = false):
        ping, NPtcp and NPmpi, and every frame within the MTU."""
        node = rand_name("n")
        conf = self.node_config(node, '[ports]\ntso = false\n')
        self.node_up(node, "--config", conf)
        a, b = self.guests(node, (rand_name("a"), rand_name("b")),
                           "--config", conf)
        self.assertNotEqual(a["ip"], b["ip"])
        self.assertEqual(a["mac"], nsguest.guest_mac(a["guest"]),
                         "MAC derived from the name")
        self.ping(a, b)
        self.ping(b, a)
        work = os.path.join(self.state, "netpipe")
        rows, raw = netpipe.nptcp(NsGuest(b["netns"], work),
                                  NsGuest(a["netns"], work),
                                  b["ip"].split("/")[0], upper=65536)
        print(raw.splitlines()[-1])
        self.assertGreaterEqual(len(rows), 60, "every NPtcp size ran")
        self.assertEqual(rows[0]["bytes"], 1)
        self.assertGreaterEqual(rows[-1]["bytes"], 65536)
        self.assertTrue(all(r["mbps"] > 0 and r["usec"] > 0 for r in rows))
        # Without userspace TSO every frame fits the MTU.
        before = port_counters(self.node_obj(node, conf), a["guest"])
        self.bulk(a, b, 16)
        after = port_counters(self.node_obj(node, conf), a["guest"])
        frames = after["rx_pkts"] - before["rx_pkts"]
        octets = after["rx_bytes"] - before["rx_bytes"]
        self.assertLessEqual(octets / frames, 1518,
                             "no frame above the MTU without TSO")
        rows, raw = netpipe.npmpi([a["netns"], b["netns"]], work,
                                  upper=65536, quick=True)
        print(raw.splitlines()[-1])
        self.assertGreaterEqual(len(rows), 15, "every NPmpi size ran")
        self.assertGreaterEqual(rows[-1]["bytes"], 65536)
        self.assert_no_errors_in_log(node)

    def test_tso_frames_cross_whole(self):
        """With userspace TSO, the default ([ports] tso = "auto"), the
        kernel's 64 KiB TCP frames go from one namespace's tap through OVS
        to the other's as single frames."""
        node = rand_name("n")
        conf = self.node_config(node)
        self.node_up(node, "--config", conf)
        a, b = self.guests(node, (rand_name("a"), rand_name("b")),
                           "--config", conf)
        self.assertIn("offloads on", self.frontend_log(node, a["guest"]))
        before = port_counters(self.node_obj(node, conf), a["guest"])
        self.bulk(a, b, 64)
        after = port_counters(self.node_obj(node, conf), a["guest"])
        frames = after["rx_pkts"] - before["rx_pkts"]
        octets = after["rx_bytes"] - before["rx_bytes"]
        print(f"64 MiB from {a['guest']}: {frames} frames into OVS, "
              f"{octets // frames} bytes each on average")
        self.assertGreater(octets / frames, 16384,
                           "frames far above the 1500-byte MTU crossed "
                           "the switch whole")
        out = port_counters(self.node_obj(node, conf), b["guest"])
        self.assertGreater(out["tx_bytes"], 64 << 20)

    def test_server_ports_multiqueue_and_restart(self):
        """dpdkvhostuser ports: OVS serves the socket and the frontend
        connects; after a switch restart it reconnects by itself. Not on
        a switch with userspace TSO (the default), where OVS 3.1 would drop
        the guests' offloaded frames: refused there, with the fix."""
        node = rand_name("n")
        self.node_up(node)
        refused = self.vrdma("ns", "add", "--node", node, rand_name("s"),
                             "--mode", "server", ok=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("drops every TSO and checksum-offloaded frame",
                      refused.stderr)
        self.assertIn("use --mode client", refused.stderr)
        self.vrdma("node", "down", "--node", node)
        os.makedirs(self.state, exist_ok=True)  # down removed it
        conf = self.node_config(node, '[ports]\nmode = "server"\n')
        self.node_up(node, "--config", conf)
        a, b = self.guests(node, (rand_name("a"), rand_name("b")),
                           "--config", conf, "--queues", "2")
        self.assertIn("as client", self.frontend_log(node, a["guest"]))
        self.assertIn("2 queue pairs", self.frontend_log(node, a["guest"]))
        rxq = self.vrdma("appctl", "--node", node,
                         "dpif-netdev/pmd-rxq-show").stdout
        self.assertEqual(len(re.findall(
            rf"port: {re.escape(a['guest'])}\s+queue-id:\s+\d+ \(enabled\)",
            rxq)), 2, rxq)
        self.ping(a, b)
        self.bulk(a, b, 8)
        self.restart_under_traffic(node, a, b, "--config", conf)

    def test_client_ports_restart_under_traffic(self):
        node = rand_name("n")
        self.node_up(node)
        a, b = self.guests(node, (rand_name("a"), rand_name("b")))
        self.restart_under_traffic(node, a, b)

    def restart_under_traffic(self, node, a, b, *extra):
        pids = [self.frontend_pid(node, g["guest"]) for g in (a, b)]
        flood = subprocess.Popen(
            ["ip", "netns", "exec", a["netns"], "ping", "-i", "0.05", "-c",
             "600", "-w", "60", b["ip"].split("/")[0]],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)
        self.vrdma("node", "restart", "--node", node, *extra)
        restarted = time.monotonic()
        ok = False
        while time.monotonic() - restarted < 30 and not ok:
            ok = self.ping(a, b, count=1, ok=False)
        self.assertTrue(ok, "traffic flows again after the restart")
        print(f"ping through again {time.monotonic() - restarted:.1f}s "
              "after the restart")
        out, _ = flood.communicate(timeout=90)
        self.assertRegex(out, r"\b[1-9]\d* received", out)
        self.assertEqual(pids, [self.frontend_pid(node, g["guest"])
                                for g in (a, b)],
                         "the guests were not restarted")
        for g in (a, b):
            log = self.frontend_log(node, g["guest"])
            self.assertIn("disconnected", log)
            self.assertEqual(log.count("connected to"), 2, log)
        self.ping(b, a)

    def test_idle_guest_costs_no_cpu(self):
        node = rand_name("n")
        self.node_up(node)
        a, b = self.guests(node, (rand_name("a"), rand_name("b")))
        self.ping(a, b)
        pid = self.frontend_pid(node, a["guest"])
        start = cpu_seconds(pid)
        time.sleep(10)
        used = cpu_seconds(pid) - start
        print(f"idle frontend: {used:.2f} CPU seconds in 10 s")
        self.assertLess(used, 0.1, "under 1% of a core while idle")

    def test_tap_deleted_frontend_stops(self):
        """A guest's tap deleted under its frontend (as when its namespace
        goes): the frontend says so and exits, instead of spinning on the
        tap's endless error events; ns add starts it again."""
        node = rand_name("n")
        self.node_up(node)
        name = rand_name("g")
        (a,) = self.guests(node, (name,))
        pid = self.frontend_pid(node, name)
        subprocess.run(["ip", "-n", a["netns"], "link", "del", "eth0"],
                       check=True)
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{pid}") and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        gone = not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat", encoding="ascii").read().split()[2] \
            == "Z"
        if not gone:
            print(f"frontend still running: {cpu_seconds(pid):.1f} CPU s")
        self.assertTrue(gone, "the frontend exited within 5 s")
        self.assertIn("tap of queue 0 is gone", self.frontend_log(node, name))
        self.vrdma("ns", "del", "--node", node, name)

    def test_add_is_idempotent_and_del_cleans_up(self):
        node = rand_name("n")
        self.node_up(node)
        name = rand_name("g")
        (a,) = self.guests(node, (name,))
        pid = self.frontend_pid(node, name)
        again = self.vrdma("ns", "add", "--node", node, name, "--json")
        self.assertIn("already attached", again.stderr)
        self.assertEqual(pid, self.frontend_pid(node, name))
        rec = json.loads(again.stdout)
        self.assertEqual((rec["guest"], rec["ip"], rec["socket"]),
                         (name, a["ip"], a["socket"]))
        (row,) = json.loads(self.vrdma("ns", "list", "--node", node,
                                       "--json").stdout)
        self.assertEqual((row["guest"], row["frontend_pid"]), (name, pid))
        clash = self.vrdma("ns", "add", "--node", node, name, "--mtu",
                           "9000", ok=False)
        self.assertIn("exists on node", clash.stderr)
        self.vrdma("ns", "del", "--node", node, name)
        self.assertFalse(os.path.exists(f"/run/netns/{a['netns']}"))
        self.assertFalse(os.path.exists(a["socket"]))
        bridge = self.node_obj(node).bridge
        self.assertNotIn(name, self.vrdma("vsctl", "--node", node, "--",
                                          "list-ports", bridge).stdout.split())
        again = self.vrdma("ns", "del", "--node", node, name)
        self.assertIn("nothing to do", again.stderr)


class FrontendErrors(Case):
    """vrdma-vhost-ns on its own: each bad input is one line naming the
    cause and the fix, and a non-zero exit."""

    def frontend(self, *args, timeout=10):
        return subprocess.run([nsguest.frontend_path(), *args],
                              capture_output=True, text=True,
                              timeout=timeout, check=False)

    def test_help(self):
        proc = self.frontend("--help")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("--socket PATH", proc.stdout)

    def test_usage_errors(self):
        sock = os.path.join(self.state, "s")
        for args, want in ((["--mac", "01:00:00:00:00:01"], "unicast MAC"),
                           (["--queues", "9"], "--queues 9"),
                           (["--ring", "100"], "power of two"),
                           (["--mtu", "20"], "--mtu 20"),
                           ([], "--socket PATH is required")):
            proc = self.frontend(*(["--socket", sock] if want !=
                                   "--socket PATH is required" else []),
                                 *args)
            self.assertEqual(proc.returncode, 2, args)
            self.assertIn(want, proc.stderr)

    def test_missing_namespace(self):
        ns = rand_name("nons")
        proc = self.frontend("--socket", os.path.join(self.state, "s"),
                             "--netns", ns)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(f"network namespace {ns} not found", proc.stderr)
        self.assertIn(f"fix: ip netns add {ns}", proc.stderr)

    def test_not_hugetlbfs(self):
        proc = self.frontend("--socket", os.path.join(self.state, "s"),
                             "--hugepages", self.state)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("is not a hugetlbfs mount", proc.stderr)

    def test_socket_path_is_a_file(self):
        path = os.path.join(self.state, "file")
        with open(path, "w", encoding="ascii") as f:
            f.write("x")
        ns = rand_name("ns")
        subprocess.run(["ip", "netns", "add", ns], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", ns])
        proc = self.frontend("--socket", path, "--netns", ns)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("exists and is not a socket", proc.stderr)
        self.assertTrue(os.path.isfile(path), "the file was left alone")

    def test_client_waits_for_a_missing_socket(self):
        """No switch socket yet: the client says so once, keeps trying,
        and stops cleanly on SIGTERM."""
        ns = rand_name("ns")
        subprocess.run(["ip", "netns", "add", ns], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", ns])
        proc = subprocess.Popen([nsguest.frontend_path(), "--client",
                                 "--socket",
                                 os.path.join(self.state, "none"),
                                 "--netns", ns],
                                stderr=subprocess.PIPE, text=True)
        time.sleep(2.5)
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(err.count("socket missing"), 1, err)
        self.assertIn("shutting down", err)


if __name__ == "__main__":
    vrdmatest.main()
