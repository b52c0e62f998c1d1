#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""net_vrdma inside OVS: two nodes, each in its own network namespace
joined by a veth "fabric", bring their fabric port up from [fabric] in the
node config (the driver loaded into ovs-vswitchd-dpdk with -d); frames from
a vhost-user endpoint on one node reach a vhost-user endpoint on the other
across the fabric."""

import json
import os
import re
import subprocess
import time

import traffic
import vrdmatest
from vrdmalib.util import wait_for
from vrdmatest import Case, rand_name


def fabric_pmd():
    return os.path.join(vrdmatest.TOP, "build", "pmd", "librte_net_vrdma.so")


class FabricInOvs(Case):
    def fabric_counters(self, node, conf):
        out = self.vrdma("appctl", "--node", node, "--config", conf, "--",
                         "dpctl/show", "-s").stdout
        m = re.search(r"port \d+: fabric \(dpdk.*\n\s+RX packets:(\d+).*\n"
                      r"\s+TX packets:(\d+)", out)
        self.assertIsNotNone(m, out)
        return int(m.group(1)), int(m.group(2))

    def two_nodes(self, extra="", queues=1):
        """Two nodes across a veth fabric, each with a vhost-user port "g"
        of that many queue pairs and a testpmd endpoint on it:
        [(name, config)], [endpoint]."""
        ns_a, ns_b = self.veth_namespaces()
        port = 7000
        nodes, eps = [], []
        for i, (name, ns, me, other) in enumerate(
                ((rand_name("fa"), ns_a, "198.18.0.1", "198.18.0.2"),
                 (rand_name("fb"), ns_b, "198.18.0.2", "198.18.0.1"))):
            conf = self.write_config(name, f"""
[node]
netns = "{ns}"
[memory]
socket_mem_mb = 256
[fabric]
listen = "{me}:{port}"
peers = ["{other}:{port}"]
transports = "tcp"
{extra}""")
            self.node_up(name, "--config", conf)
            nodes.append((name, conf))
            sock = self.vrdma("port", "add", "--node", name, "--config",
                              conf, "--queues", str(queues),
                              "g").stdout.strip()
            eps.append(self.endpoint(f"e{i}", sock, True, queues=queues))
        for (name, conf), ep in zip(nodes, eps):
            node = self.node_obj(name, conf)
            self.assertTrue(traffic.wait_links(node, ("g", "fabric"),
                                               endpoints=(ep,), timeout=60),
                            f"node {name}: vhost port and fabric link up")
        return nodes, eps

    def test_two_nodes_across_the_fabric(self):
        nodes, eps = self.two_nodes()
        (na, ca), (nb, cb) = nodes
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
        st = json.loads(self.vrdma("node", "status", "--node", na,
                                   "--config", ca, "--json").stdout)
        ports = {p["name"]: p for p in st["ports"]}
        self.assertEqual(ports["fabric"]["link"], "up")
        self.assertTrue(ports["fabric"]["devargs"].startswith("net_vrdma0,"))
        self.assertEqual(ports["g"]["type"], "dpdkvhostuserclient")
        for name, _c in nodes:
            self.assert_no_errors_in_log(name)

    def test_fabric_status_and_metrics(self):
        """vrdma fabric status names each peer by address with its state,
        transport and counters, which agree with the switch's own port
        counters; --json says the same; the Prometheus exposition parses
        and carries those numbers; a peer that goes away reads as not
        connected (exit 1), a node that is down as not running (exit 3)."""
        from prometheus_client.parser import text_string_to_metric_families
        nodes, eps = self.two_nodes()
        (na, ca), (nb, cb) = nodes
        eps[1].receive()
        eps[0].send(1.0)
        time.sleep(1.0)
        proc = self.vrdma("fabric", "status", "--node", na, "--config", ca,
                          "--json")
        st = json.loads(proc.stdout)
        print(proc.stdout)
        self.assertTrue(st["up"])
        self.assertEqual(len(st["peers"]), 1)
        peer = st["peers"][0]
        self.assertEqual(peer["address"], "198.18.0.2:7000")
        self.assertEqual(peer["state"], "connected")
        self.assertEqual(peer["transport"], "tcp")
        _, tx_a = self.fabric_counters(na, ca)
        rx_b, _ = self.fabric_counters(nb, cb)
        self.assertGreater(tx_a, 0)
        self.assertEqual(peer["tx_frames"], tx_a,
                         "the peer's frames are the port's (one peer)")
        st_b = json.loads(self.vrdma("fabric", "status", "--node", nb,
                                     "--config", cb, "--json").stdout)
        self.assertEqual(st_b["peers"][0]["address"], "198.18.0.1:7000")
        self.assertEqual(st_b["peers"][0]["rx_frames"], rx_b)
        text = self.vrdma("fabric", "status", "--node", na, "--config",
                          ca).stdout
        print(text)
        self.assertRegex(text, r"198\.18\.0\.2:7000\s+connected\s+tcp\s")
        self.assertIn("1/1 peers connected", text)

        out = os.path.join(self.state, "vrdma.prom")
        self.vrdma("fabric", "metrics", "--node", na, "--config", ca,
                   "--out", out)
        with open(out, encoding="utf-8") as f:
            prom = f.read()
        print(prom[:1500])
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for fam in text_string_to_metric_families(prom)
                   for s in fam.samples}
        peer_labels = (("node", na), ("peer", "198.18.0.2:7000"))
        self.assertEqual(samples[("vrdma_fabric_peer_tx_frames_total",
                                  peer_labels)], peer["tx_frames"])
        self.assertEqual(samples[("vrdma_fabric_peer_connected",
                                  peer_labels + (("transport", "tcp"),))],
                         1)
        self.assertEqual(samples[("vrdma_fabric_up", (("node", na),))], 1)
        self.assertIn(("vrdma_interface_rx_packets_total",
                       (("interface", "g"), ("node", na))), samples)

        # The driver both switches load: one immutable copy named after
        # the version and its content, used by both, gone with the last.
        recs = [self.node_obj(n, c).record() for n, c in nodes]
        plugin_path = recs[0]["plugin"]
        self.assertEqual(recs[1]["plugin"], plugin_path)
        self.assertRegex(plugin_path, r"^/run/vrdma-plugins/[\w.]+-[0-9a-f]{16}"
                         r"/librte_net_vrdma\.so$")
        with open(plugin_path, "rb") as f, open(fabric_pmd(), "rb") as g:
            self.assertEqual(f.read(), g.read())
        extra = self.vrdma("vsctl", "--node", na, "--config", ca, "--",
                           "get", "Open_vSwitch", ".",
                           "other_config:dpdk-extra").stdout
        self.assertIn(f"-d {plugin_path}", extra)
        users = os.path.join(os.path.dirname(plugin_path), "users")
        self.assertEqual(len(os.listdir(users)), 2)

        self.vrdma("node", "down", "--node", nb, "--config", cb)
        self.assertEqual(len(os.listdir(users)), 1, "still used by one")

        def peer_gone():
            proc = self.vrdma("fabric", "status", "--node", na, "--config",
                              ca, "--json", ok=False)
            return proc.returncode == 1 and \
                json.loads(proc.stdout)["peers"][0]["state"] != "connected"
        self.assertTrue(wait_for(peer_gone, 15),
                        "a peer that went away reads as not connected")
        self.vrdma("node", "down", "--node", na, "--config", ca)
        self.assertFalse(os.path.exists(plugin_path), "no user left")
        proc = self.vrdma("fabric", "status", "--node", na, "--config", ca,
                          ok=False)
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)
        self.assertIn("not running", proc.stdout)

    def test_fabric_reconfigured_live(self):
        """A third host's peer is added to two running nodes under a ping
        flood between their guests: node up applies it by re-creating the
        fabric port only. No guest, frontend or ovs-vswitchd restarts, and
        the ping goes on (the loss window is printed). A memory change is
        refused by node up with the fix, and applied by node restart; a
        structural one (the bridge) is refused by both."""
        ns_a, ns_b = self.veth_namespaces()
        nodes = []
        for name, ns, me, other in ((rand_name("ra"), ns_a, "198.18.0.1",
                                     "198.18.0.2"),
                                    (rand_name("rb"), ns_b, "198.18.0.2",
                                     "198.18.0.1")):
            text = (f'[node]\nnetns = "{ns}"\n[memory]\n'
                    f'socket_mem_mb = 256\n[fabric]\n'
                    f'listen = "{me}:7000"\ntransports = "tcp"\n')
            conf = self.write_config(name, text +
                                     f'peers = ["{other}:7000"]\n')
            self.node_up(name, "--config", conf)
            nodes.append((name, conf, text, other))
        guests = []
        for (name, conf, _t, _o), ip in zip(nodes, ("10.77.0.1/24",
                                                    "10.77.0.2/24")):
            rec = json.loads(self.vrdma(
                "ns", "add", "--node", name, "--config", conf,
                rand_name("g"), "--ip", ip, "--json").stdout)
            guests.append(rec)

        def ping_once():
            return subprocess.run(
                ["ip", "netns", "exec", guests[0]["netns"], "ping", "-c",
                 "1", "-W", "1", "10.77.0.2"],
                capture_output=True, check=False).returncode == 0
        self.assertTrue(wait_for(ping_once, 60), "guests reach each other")

        def pids():
            out = {}
            for name, conf, _t, _o in nodes:
                st = json.loads(self.vrdma("node", "status", "--node", name,
                                           "--config", conf,
                                           "--json").stdout)
                out[name] = st["daemons"]["ovs-vswitchd"]["pid"]
                for g in json.loads(self.vrdma("ns", "list", "--node", name,
                                               "--config", conf,
                                               "--json").stdout):
                    out[g["guest"]] = g["frontend_pid"]
            return out
        before = pids()
        interval, count = 0.01, 1000
        ping = subprocess.Popen(
            ["ip", "netns", "exec", guests[0]["netns"], "ping", "-i",
             str(interval), "-c", str(count), "-W", "1", "10.77.0.2"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(ping.kill)
        time.sleep(2.0)
        for name, conf, text, other in nodes:
            self.write_config(name, text + f'peers = ["{other}:7000", '
                              '"198.18.0.3:7000"]\n')
            up = self.vrdma("node", "up", "--node", name, "--config", conf)
            print(up.stderr.strip())
            self.assertRegex(up.stderr, r"fabric port re-created in "
                             r"[\d.]+s")
        out, _ = ping.communicate(timeout=60)
        sent, got = map(int, re.search(
            r"(\d+) packets transmitted, (\d+) received", out).groups())
        seqs = [int(n) for n in re.findall(r"icmp_seq=(\d+)", out)]
        print(f"ping under reconfiguration: {sent} sent, {got} received; "
              f"loss window about {(sent - got) * interval:.2f}s")
        self.assertEqual(sent, count)
        self.assertGreater(max(seqs), count - 50,
                           "the ping goes on after the change")
        self.assertEqual(pids(), before, "no guest, frontend or switch "
                         "restarted")
        (na, ca, ta, oa), (nb, cb, tb, ob) = nodes
        st = json.loads(self.vrdma("fabric", "status", "--node", na,
                                   "--config", ca, "--json",
                                   ok=False).stdout)
        states = {p["address"]: p["state"] for p in st["peers"]}
        self.assertEqual(states["198.18.0.2:7000"], "connected")
        self.assertIn("198.18.0.3:7000", states)

        # EAL/memory: node up refuses with the fix, node restart applies.
        self.write_config(na, ta.replace("socket_mem_mb = 256",
                                         "socket_mem_mb = 320") +
                          f'peers = ["{oa}:7000", "198.18.0.3:7000"]\n')
        refused = self.vrdma("node", "up", "--node", na, "--config", ca,
                             ok=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("memory.socket_mem_mb", refused.stderr)
        self.assertIn("vrdma node restart", refused.stderr)
        self.vrdma("node", "restart", "--node", na, "--config", ca)
        mem = self.vrdma("vsctl", "--node", na, "--config", ca, "--", "get",
                         "Open_vSwitch", ".", "other_config:dpdk-socket-mem")
        self.assertEqual(mem.stdout.strip().strip('"'), "320")
        st = json.loads(self.vrdma("node", "status", "--node", na,
                                   "--config", ca, "--json").stdout)
        self.assertEqual(st["state"], "running")
        self.assertTrue(wait_for(ping_once, 60),
                        "guests reach each other after the restart")
        # Structural: refused by both.
        self.write_config(na, "[node]\nbridge = \"br-other\"\n" +
                          ta.replace("[node]\n", "") +
                          f'peers = ["{oa}:7000", "198.18.0.3:7000"]\n')
        for action in ("up", "restart"):
            proc = self.vrdma("node", action, "--node", na, "--config", ca,
                              ok=False)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("node.bridge", proc.stderr)
        for name, _c, _t, _o in nodes:
            self.assert_no_errors_in_log(name)
        # node down still finds the bridge the node runs (not the file's).
        self.vrdma("node", "down", "--node", na, "--config", ca)

    @staticmethod
    def port_counters(node):
        """{port: {counter: n}} of the node's datapath, read live."""
        out = node.appctl("dpctl/show", "-s").stdout
        ports, cur = {}, None
        m = re.search(r"lookups: hit:(\d+) missed:(\d+) lost:(\d+)", out)
        ports["datapath"] = {"lost": int(m.group(3))} if m else {}
        # The switch's drops that no port counts (coverage counters:
        # total since start, the last column).
        cov = node.appctl("coverage/show").stdout
        for name, total in re.findall(
                r"^(\w*drop\w*)\s+.*total:\s*(\d+)", cov, re.M):
            ports["datapath"][name] = int(total)
        for line in out.splitlines():
            m = re.match(r"\s+port \d+: (\S+)", line)
            if m:
                cur = ports.setdefault(m.group(1), {})
                continue
            m = re.match(r"\s+(RX|TX) (packets:\d+.*)", line)
            if m and cur is not None:
                for key, val in re.findall(r"(\w+):(\d+)", m.group(2)):
                    cur[f"{m.group(1).lower()}_{key}"] = int(val)
        return ports

    def test_two_pmd_threads_two_rx_queues_both_ways(self):
        """The fabric port with two rx queues and two PMD threads per node,
        each thread polling one fabric rx queue and one of the guest port's
        two, so that both threads receive from and send to the fabric port
        at once (its tx queues are per thread). The guests send frames of
        1024 flows on both their queues, both ways at the same time, 64 B
        (batched) one way and 1500 B (one message each) the other. Every
        frame a guest sent is received by the other or counted as dropped
        by a port on the way or as lost by a switch's datapath: nothing
        goes missing or is made up in between. Each
        thread sends and receives on its own lane (UCX worker): both
        lanes of both nodes carried frames each way."""
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            self.skipTest(f"SKIP: needs 2 CPUs for two PMD threads, this "
                          f"process may use {cpus}")
        c0, c1 = cpus[0], cpus[1]
        nodes, eps = self.two_nodes(
            extra=f"queues = 2\n[cpu]\npmd_cores = \"{c0},{c1}\"\n",
            queues=2)
        objs = [self.node_obj(name, conf) for name, conf in nodes]
        want = {("fabric", 0): c0, ("g", 0): c0,
                ("fabric", 1): c1, ("g", 1): c1}
        for node in objs:
            # Placed by hand: OVS's own choice may put both guest queues on
            # one thread, and then only that one sends to the fabric.
            for port in ("fabric", "g"):
                node.vsctl("set", "Interface", port,
                           f"other_config:pmd-rxq-affinity=0:{c0},1:{c1}")

            def placed(node=node):
                out = node.appctl("dpif-netdev/pmd-rxq-show").stdout
                got = {}
                for block in re.split(r"(?=pmd thread numa_id)", out):
                    core = re.search(r"core_id (\d+)", block)
                    for port, q in re.findall(
                            r"port: (\S+)\s+queue-id:\s+(\d+)", block):
                        got[(port, int(q))] = int(core.group(1))
                return got
            self.assertTrue(wait_for(lambda: placed() == want, 10),
                            f"{node.name}: rx queues on {placed()}, "
                            f"want {want}")
        before = [self.port_counters(node) for node in objs]
        for ep in eps:
            ep.clear()
        eps[0].generate(64)
        eps[1].generate(1500)
        time.sleep(4.0)
        for ep in eps:
            ep.halt()
        for ep in eps:  # frames still in rings and in flight arrive
            ep.receive()
        time.sleep(2.0)
        stats = [ep.stats() for ep in eps]
        after = [self.port_counters(node) for node in objs]

        def delta(i, port, key):
            return after[i][port].get(key, 0) - before[i][port].get(key, 0)

        # The datapath's own drops, which no port counts: "lost", a miss
        # whose upcall failed (docs/quirks.md, Open vSwitch 3.1: two new
        # PMD threads' first misses race). A node's lost frames may be of
        # either direction: they are accounted for in the sum over both.
        print("datapath drops: " + str([
            {k: delta(i, "datapath", k) for k in after[i]["datapath"]
             if delta(i, "datapath", k)} for i in (0, 1)]))
        lost = sum(delta(i, "datapath", "lost") for i in (0, 1))
        missing = 0
        for src, dst in ((0, 1), (1, 0)):
            sent = stats[src]["tx_packets"]
            got = stats[dst]["rx_packets"]
            drops = {
                "guest->switch": delta(src, "g", "rx_dropped")
                + delta(src, "g", "rx_errors"),
                "fabric tx": delta(src, "fabric", "tx_dropped")
                + delta(src, "fabric", "tx_errors"),
                "fabric rx": delta(dst, "fabric", "rx_dropped")
                + delta(dst, "fabric", "rx_errors")
                + delta(dst, "fabric", "rx_overrun"),
                "switch->guest": delta(dst, "g", "tx_dropped")
                + delta(dst, "g", "tx_errors"),
            }
            print(f"{nodes[src][0]} -> {nodes[dst][0]}: sent {sent}, "
                  f"received {got}, dropped {drops}; fabric tx "
                  f"{delta(src, 'fabric', 'tx_packets')}, rx "
                  f"{delta(dst, 'fabric', 'rx_packets')}; switch to guest "
                  f"{delta(dst, 'g', 'tx_packets')}")
            self.assertGreater(got, 1000, "frames crossed the fabric")
            short = sent - got - sum(drops.values())
            self.assertGreaterEqual(short, 0,
                                    f"no frame made up or counted twice: "
                                    f"{drops}")
            missing += short
        self.assertEqual(missing, lost,
                         "every frame received, or counted as dropped by a "
                         "port or as lost by a datapath")
        for node in objs:
            # Per queue: the DB's statistics, read after their 5 s update.
            self.assertTrue(wait_for(lambda node=node: self.queues_busy(
                node), 15),
                f"{node.name}: both rx queues and two threads' tx queues "
                f"carried frames: {node.vsctl('get', 'Interface', 'fabric', 'statistics').stdout}")
        for name, conf in nodes:
            lanes = json.loads(self.vrdma(
                "fabric", "status", "--node", name, "--config", conf,
                "--json").stdout)["lanes"]
            print(f"{name}: lanes {lanes}")
            self.assertEqual(len(lanes), 2, f"{name}: one lane per queue")
            for i, lane in enumerate(lanes):
                self.assertGreater(lane["tx_frames"], 0,
                                   f"{name}: lane {i} sent: {lanes}")
                self.assertGreater(lane["rx_frames"], 0,
                                   f"{name}: lane {i} received: {lanes}")
        for name, _c in nodes:
            self.assert_no_errors_in_log(name)

    @staticmethod
    def queues_busy(node):
        """Both fabric rx queues received, and two tx queues (one per PMD
        thread; OVS gives the main thread one too) sent."""
        out = node.vsctl("get", "Interface", "fabric", "statistics").stdout
        counts = {q: int(n) for q, n in
                  re.findall(r"(\w+_q\d+)_packets=(\d+)", out)}
        tx = [q for q, n in counts.items() if q.startswith("tx_") and n]
        return counts.get("rx_q0") and counts.get("rx_q1") and len(tx) >= 2

if __name__ == "__main__":
    vrdmatest.main()
