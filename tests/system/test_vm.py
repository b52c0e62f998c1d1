#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""VM guests through libvirt (the report's vm2vm-vhost-shm case): two QEMU
guests from `vrdma guest image` on one node's vhost-user ports, run by the
node's own libvirtd. They boot, ping each other, run a short NPtcp and a
2-rank NPmpi (mpirun in one guest starting the other rank over the guest
network); the switch restarts under them and traffic comes back with the
VMs untouched; server-mode ports reconnect; bad input is one clear error
and leaves nothing defined."""

import json
import os
import time

import vrdmatest
from vrdmatest import Case, rand_name
from vrdmalib import netpipe, vm
from vrdmalib.guest import VmGuest
from vrdmalib.hosts import Hosts, port_counters
from vrdmalib.virt import Libvirt

# Without userspace TSO: vm3's server-mode port needs it off (OVS 3.1
# drops offloaded frames to server-mode ports, so vrdma refuses them on a
# switch with TSO: test_ns).
NODE_CONFIG = """\
[node]
name = "{name}"
[ports]
tso = false
[libvirt]
daemon = "node"
"""


class VmGuests(Case):
    @classmethod
    def setUpClass(cls):
        # Built once, cached; a no-op when up to date.
        vrdmatest.run_vrdma("guest", "image")

    def node_with_libvirt(self):
        node = rand_name("v")
        cfg = self.write_config(node, NODE_CONFIG.format(name=node))
        self.node_up(node, "--config", cfg)
        return node, cfg

    def define_and_start(self, node, cfg, names, *extra):
        for name in names:
            out = self.vrdma("vm", "define", name, "--config", cfg,
                             *extra).stdout
            if "--json" in extra:
                rec = json.loads(out)
                self.assertEqual(rec["guest"], name)
                self.assertIn(rec["domain_type"], ("kvm", "qemu"))
            else:
                self.assertIn(f"{name} ip=", out)
        for name in names:
            self.vrdma("vm", "start", name, "--config", cfg, timeout=400)
        n = self.node_obj(node, cfg)
        return [VmGuest(n, name) for name in names], \
            {r["guest"]: r["ip"].split("/")[0] for r in vm.records(n)}

    def ping(self, guest, ip, count=3):
        code, out, err = guest.run(["/bin/ping", "-c", str(count), "-W", "2",
                                    ip], 60)
        return code == 0, out + err

    def qemu_pid(self, node, cfg, name):
        lv = Libvirt(self.node_obj(node, cfg))
        path = os.path.join(lv.root, "run", "qemu", f"{name}.pid")
        return int(vrdmatest.read(path).strip())

    def wait_ping(self, guest, ip, timeout):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            ok, _ = self.ping(guest, ip, count=1)
            if ok:
                return time.monotonic() - t0
        return None

    def test_two_vms_one_node(self):
        node, cfg = self.node_with_libvirt()
        (g1, g2), ips = self.define_and_start(node, cfg, ["vm1", "vm2"])
        listing = self.vrdma("vm", "list", "--config", cfg).stdout
        self.assertRegex(listing, r"vm1 .* running")
        # exec passes output and status through, on a path that does not
        # depend on the data path.
        out = self.vrdma("vm", "exec", "vm1", "--config", cfg, "--",
                         "/bin/sh", "-c", "echo hi; exit 3", ok=False)
        self.assertEqual((out.returncode, out.stdout), (3, "hi\n"))
        for src, dst in ((g1, "vm2"), (g2, "vm1")):
            ok, text = self.ping(src, ips[dst])
            self.assertTrue(ok, f"{src.name} -> {dst}: {text}")
        rows, raw = netpipe.nptcp(g2, g1, ips["vm2"], upper=4096,
                                  quick=True, timeout=300)
        print(raw.strip().splitlines()[-1])
        self.assertGreaterEqual(len(rows), 10, raw)
        self.assertEqual(rows[-1]["bytes"], 4096)
        self.assertTrue(all(r["mbps"] > 0 and r["usec"] > 0 for r in rows))
        rows, raw = netpipe.npmpi_vms(g1, [ips["vm1"], ips["vm2"]],
                                      upper=64, quick=True, timeout=300)
        print(raw.strip().splitlines()[-1])
        self.assertGreaterEqual(len(rows), 5, raw)

        # A third VM on a server-mode port: OVS serves the socket, QEMU
        # connects, and after a switch restart reconnects by itself.
        (g3,), _ = self.define_and_start(node, cfg, ["vm3"], "--mode",
                                            "server", "--json")
        ok, text = self.ping(g3, ips["vm1"])
        self.assertTrue(ok, f"vm3 -> vm1: {text}")

        # The switch restarts under running VMs (client-mode ports: QEMU
        # serves the socket, OVS reconnects): traffic again, same QEMUs.
        names = ("vm1", "vm2", "vm3")
        pids = [self.qemu_pid(node, cfg, n) for n in names]
        restart = self.vrdma("node", "restart", "--config", cfg)
        self.assertRegex(restart.stderr, r"port vm3 is server-mode: its "
                         r"guest reconnected by itself after [\d.]+s")
        took = self.wait_ping(g1, ips["vm2"], 60)
        self.assertIsNotNone(took, "traffic after the switch restart")
        print(f"client-mode ports: traffic again {took:.1f}s after the "
              "restart")
        took = self.wait_ping(g3, ips["vm1"], 60)
        self.assertIsNotNone(took, "server-mode port: traffic again")
        print(f"server-mode port: traffic again {took:.1f}s after the "
              "restart")
        self.assertEqual(pids, [self.qemu_pid(node, cfg, n) for n in names],
                         "VMs untouched")
        # destroy as virsh means it: off at once, still defined, port kept.
        self.vrdma("vm", "destroy", "vm3", "--config", cfg)
        self.assertRegex(self.vrdma("vm", "list", "--config", cfg).stdout,
                         r"vm3\s.*shut off")
        states = {r["guest"]: r["state"] for r in json.loads(self.vrdma(
            "vm", "list", "--config", cfg, "--json").stdout)}
        self.assertEqual(states, {"vm1": "running", "vm2": "running",
                                  "vm3": "shut off"})
        self.assertIn("vm3", self.vrdma("vsctl", "--config", cfg, "--",
                                        "list-ports",
                                        f"br-{node}").stdout.split())
        self.vrdma("vm", "remove", "vm3", "--config", cfg)

        self.vrdma("vm", "stop", "vm2", "--config", cfg)
        self.assertIn("shut off", self.vrdma("vm", "list", "--config",
                                             cfg).stdout)
        self.vrdma("vm", "remove", "vm2", "--config", cfg)
        self.vrdma("vm", "remove", "vm1", "--config", cfg)
        left = self.vrdma("virsh", "--config", cfg, "--", "list", "--all",
                          "--name").stdout.split()
        self.assertEqual(left, [], "nothing left defined")
        ports = self.vrdma("vsctl", "--config", cfg, "--", "list-ports",
                           f"br-{node}").stdout.split()
        self.assertNotIn("vm1", ports)

    def test_cross_host(self):
        """Issue 6's VM case: a VM on each of two emulated hosts, their
        switches joined by the net_vrdma fabric port."""
        hosts = Hosts(n=2, guests_per_host=1, guest_kind="vm",
                      prefix=rand_name("vx")[:6] + "-")
        self.addCleanup(hosts.down)
        hosts.up()
        self.assertTrue(hosts.wait_fabric(60), "fabric links up")
        a, b = hosts.all_guests()
        work = os.path.join(self.state, "np")
        ra, rb = hosts.runner(a, work), hosts.runner(b, work)
        for src, dst in ((ra, b), (rb, a)):
            ok, text = self.ping(src, dst["ip"].split("/")[0])
            self.assertTrue(ok, f"{src.name} -> {dst['guest']}: {text}")
        node = hosts.nodes[hosts.names[0]]
        before = port_counters(node, hosts.uplink_port())
        rows, raw = netpipe.nptcp(rb, ra, b["ip"].split("/")[0], upper=4096,
                                  quick=True, timeout=300)
        print(raw.strip().splitlines()[-1])
        self.assertEqual(rows[-1]["bytes"], 4096)
        after = port_counters(node, hosts.uplink_port())
        self.assertGreater(after["tx_pkts"] - before["tx_pkts"], 100,
                           "NPtcp crossed the fabric port")

    def test_bad_input(self):
        node, cfg = self.node_with_libvirt()
        self.vrdma("vm", "define", "vm1", "--config", cfg)
        again = self.vrdma("vm", "define", "vm1", "--config", cfg, ok=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("already defined", again.stderr)
        self.assertIn("fix:", again.stderr)
        noimg = self.vrdma("vm", "define", "vm2", "--config", cfg,
                           "--image", os.path.join(self.state, "noimage"),
                           ok=False)
        self.assertIn("no guest image", noimg.stderr)
        self.assertIn("vrdma guest image", noimg.stderr)
        clash = self.vrdma("vm", "define", "vm3", "--config", cfg, "--ip",
                           self.vm_ip(node, cfg, "vm1"), ok=False)
        self.assertIn("already guest vm1's", clash.stderr)
        names = self.vrdma("virsh", "--config", cfg, "--", "list", "--all",
                           "--name").stdout.split()
        self.assertEqual(names, ["vm1"], "failed defines left nothing")
        ports = self.vrdma("vsctl", "--config", cfg, "--", "list-ports",
                           f"br-{node}").stdout.split()
        self.assertEqual(ports, ["vm1"], "failed defines left no port")
        down = self.vrdma("vm", "define", "vm9", "--node", rand_name("d"),
                          ok=False)
        self.assertIn("is not up", down.stderr)
        exe = self.vrdma("vm", "exec", "nosuch", "--config", cfg, "--",
                         "true", ok=False)
        self.assertIn("no VM guest nosuch", exe.stderr)
        # node down takes the VMs and the node's libvirtd with it.
        lv = Libvirt(self.node_obj(node, cfg))
        self.vrdma("node", "down", "--config", cfg)
        self.assertFalse(os.path.exists(lv.root))
        self.assertEqual(vrdmatest.processes_mentioning(lv.config), [])

    def vm_ip(self, node, cfg, name):
        for rec in vm.records(self.node_obj(node, cfg)):
            if rec["guest"] == name:
                return rec["ip"]
        self.fail(f"no record of {name}")


if __name__ == "__main__":
    vrdmatest.main()
