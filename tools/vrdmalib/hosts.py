# SPDX-License-Identifier: BSD-3-Clause
"""Emulated hosts on one machine: the single-machine default (docs/design.md).

Each host is a network namespace running its own node (ovsdb-server and
ovs-vswitchd-dpdk); the hosts are joined by a veth "fabric" (MTU 9000,
198.19.0.0/24): one veth pair for two hosts, a Linux bridge in a hub
namespace for more. Each node reaches the others either through its
net_vrdma fabric port (UCX over shared memory, or tcp across the veth) or
through a raw uplink (net_af_packet on the host's veth, the 2015
prototype's path). Guests are namespace guests (nsguest.py). For the
benchmark, two hosts can also have an "Ethernet" link (a second veth,
MTU 1500, shaped to 1 Gbit/s, in a Linux bridge per host that kernel-only
guests join) and can come up without switches. Used by `vrdma demo`,
`vrdma bench`, the system tests and the benchmarks; everything made here
is removed by down(), in reverse order, even after a failed up()."""

import os
import subprocess

from . import config as cfgmod
from . import nsguest, vm
from .guest import NsGuest, VmGuest
from .node import Node
from .util import VrdmaError, make_key, progress, run, wait_for

FABRIC_DEV = "fabric0"
FABRIC_PORT = 7000
ETH_DEV = "eth1"
ETH_BRIDGE = "ethbr0"
# The 2015 testbed's 1 Gbit/s NIC: a token bucket of two full frames
# and at most 1 ms of queue. A bigger bucket refills while a ping-pong
# turns around and lets half of a 64 KiB message through at veth speed;
# this one still passes a small message undelayed.
ETH_QDISC = ["tbf", "rate", "1gbit", "burst", "3kb", "latency", "1ms"]


def port_counters(node, port):
    """A port's counters from the netdev itself (the DB lags 5 s):
    {rx,tx}_{pkts,bytes}, via the bridge's OpenFlow management socket."""
    mgmt = os.path.join(node.paths.run, f"{node.bridge}.mgmt")
    out = run(["ovs-ofctl", "dump-ports", f"unix:{mgmt}", port]).stdout
    nums = {}
    for direction in ("rx", "tx"):
        part = out.split(f"{direction} pkts=", 1)[1]
        pkts, rest = part.split(",", 1)
        nums[f"{direction}_pkts"] = int(pkts)
        nums[f"{direction}_bytes"] = int(
            rest.split("bytes=", 1)[1].split(",", 1)[0])
    return nums


def fabric_ip(i):
    return f"198.19.0.{i + 1}"


def eth_ip(i):
    """Host i's address on the Ethernet link; kernel guests follow from
    .11."""
    return f"198.19.1.{i + 1}"


class Hosts:
    """n hosts named PREFIX + "h1".., guests_per_host namespace guests each
    (named HOST + "g1"..)."""

    def __init__(self, n=2, guests_per_host=2, uplink="fabric",
                 transports="", tso=None, prefix="demo-", mtu=1500,
                 socket_mem_mb=512, eth_link=False, switches=True,
                 guest_kind="ns"):
        """eth_link: the Ethernet link too (two hosts only); switches
        False: namespaces and links only, no nodes and no guests;
        guest_kind "vm": the guests are VMs (vm.py) in each node's own
        libvirtd, else namespace guests."""
        if n < 2:
            raise VrdmaError(f"--hosts {n}: a fabric needs two hosts or more",
                             "use --hosts 2 or more")
        if uplink not in ("fabric", "raw"):
            raise VrdmaError(f"bad uplink {uplink!r}", "use fabric or raw")
        if uplink == "raw" and transports:
            raise VrdmaError("--transports only applies to the fabric uplink",
                             "drop --transports or use --uplink fabric")
        if eth_link and n != 2:
            raise VrdmaError(f"the Ethernet link joins two hosts, not {n}",
                             "use two hosts")
        if guest_kind not in ("ns", "vm"):
            raise VrdmaError(f"bad guest kind {guest_kind!r}",
                             "use ns or vm")
        self.n = n
        self.guest_kind = guest_kind
        self.eth_link = eth_link
        self.switches = switches
        self.kernel_guests = []
        self.per_host = guests_per_host
        self.uplink = uplink
        self.transports = transports
        # TSO needs every port on the path to take 64 KiB frames; an
        # af_packet uplink cannot.
        self.tso = (uplink == "fabric") if tso is None else tso
        self.prefix = prefix
        self.mtu = mtu
        self.socket_mem_mb = socket_mem_mb
        self.names = [f"{prefix}h{i + 1}" for i in range(n)]
        # The secret the hosts' fabric ports prove to each other: one
        # file that all of them read, as a cluster copies one to each.
        self.keyfile = os.path.join(cfgmod.config_dir(),
                                    f"{prefix}fabric.key")
        self.hub = f"{prefix}hub" if n > 2 else None
        self.made_netns = []
        self.configs = {}
        self.nodes = {}
        self.guests = {}  # host name -> [guest records]

    # --- bring-up ---------------------------------------------------------

    def up(self):
        try:
            self._fabric()
            if self.eth_link:
                self._eth()
            if self.switches and self.uplink == "fabric":
                self._key()
            for i, name in enumerate(self.names if self.switches else ()):
                self._node(i, name)
            for name in self.names if self.switches else ():
                self._guests(name)
        except BaseException:
            progress("hosts: bring-up failed; removing what was made")
            self.down()
            raise
        return self

    def _netns(self, name):
        if os.path.exists(f"/run/netns/{name}"):
            raise VrdmaError(f"network namespace {name} already exists",
                             f"a previous run was kept (--keep)? remove it: "
                             f"vrdma demo --down, or ip netns del {name}")
        run(["ip", "netns", "add", name])
        self.made_netns.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def _fabric(self):
        progress(f"hosts: {self.n} host namespaces, veth fabric MTU 9000 "
                 f"({'bridge in ' + self.hub if self.hub else 'one pair'})")
        for name in self.names:
            self._netns(name)
        if self.hub:
            self._netns(self.hub)
            run(["ip", "-n", self.hub, "link", "add", "br0", "type",
                 "bridge"])
            run(["ip", "-n", self.hub, "link", "set", "br0", "up"])
            for i, name in enumerate(self.names):
                run(["ip", "link", "add", FABRIC_DEV, "mtu", "9000",
                     "netns", name, "type", "veth", "peer", "name",
                     f"p{i + 1}", "mtu", "9000", "netns", self.hub])
                run(["ip", "-n", self.hub, "link", "set", f"p{i + 1}",
                     "master", "br0", "up"])
        else:
            run(["ip", "link", "add", FABRIC_DEV, "mtu", "9000", "netns",
                 self.names[0], "type", "veth", "peer", "name", FABRIC_DEV,
                 "mtu", "9000", "netns", self.names[1]])
        for i, name in enumerate(self.names):
            run(["ip", "-n", name, "addr", "add", f"{fabric_ip(i)}/24",
                 "dev", FABRIC_DEV])
            run(["ip", "-n", name, "link", "set", FABRIC_DEV, "up"])
        # UCX lists network devices once, when the switch starts: the
        # fabric must be up by then.
        for name in self.names:
            if not wait_for(lambda n=name: "state UP" in run(
                    ["ip", "-n", n, "link", "show", "dev", FABRIC_DEV],
                    check=False).stdout, 10):
                raise VrdmaError(f"fabric link of {name} did not come up",
                                 "check `ip -n NAME link`")

    def _eth(self):
        progress("hosts: Ethernet link: veth MTU 1500, tc " +
                 " ".join(ETH_QDISC) + f", in bridge {ETH_BRIDGE} per host")
        run(["ip", "link", "add", ETH_DEV, "mtu", "1500", "netns",
             self.names[0], "type", "veth", "peer", "name", ETH_DEV, "mtu",
             "1500", "netns", self.names[1]])
        for i, name in enumerate(self.names):
            run(["ip", "-n", name, "link", "add", ETH_BRIDGE, "type",
                 "bridge"])
            run(["ip", "-n", name, "link", "set", ETH_DEV, "master",
                 ETH_BRIDGE, "up"])
            run(["tc", "-n", name, "qdisc", "add", "dev", ETH_DEV, "root",
                 *ETH_QDISC])
            run(["ip", "-n", name, "addr", "add", f"{eth_ip(i)}/24", "dev",
                 ETH_BRIDGE])
            run(["ip", "-n", name, "link", "set", ETH_BRIDGE, "up"])

    def _key(self):
        """A fresh key, made as the docs tell an operator to."""
        os.makedirs(os.path.dirname(self.keyfile), exist_ok=True)
        if os.path.exists(self.keyfile):
            os.unlink(self.keyfile)
        make_key(self.keyfile)

    def config_text(self, i, name):
        lines = ["# Written by vrdma's emulated hosts (hosts.py).",
                 "[node]", f'name = "{name}"', f'netns = "{name}"',
                 "[memory]", f"socket_mem_mb = {self.socket_mem_mb}",
                 "[ports]", f"mtu = {self.mtu}",
                 f"tso = {'true' if self.tso else 'false'}"]
        if self.guest_kind == "vm":
            lines += ["[libvirt]", 'daemon = "node"']
        if self.uplink == "fabric":
            peers = ", ".join(f'"{fabric_ip(j)}:{FABRIC_PORT}"'
                              for j in range(self.n) if j != i)
            lines += ["[fabric]", f'listen = "{fabric_ip(i)}:{FABRIC_PORT}"',
                      f"peers = [{peers}]", f'keyfile = "{self.keyfile}"']
            if self.transports:
                lines.append(f'transports = "{self.transports}"')
        else:
            # Named by interface: vrdma finds its devargs in sysfs (no PCI
            # device behind a veth: net_af_packet on it).
            lines += ["[uplink]", f'iface = "{FABRIC_DEV}"']
        return "\n".join(lines) + "\n"

    def _node(self, i, name):
        path = os.path.join(cfgmod.config_dir(), f"{name}.toml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.config_text(i, name))
        self.configs[name] = path
        node = Node(cfgmod.load(path, name))
        self.nodes[name] = node
        progress(f"hosts: node {name} up ({self.uplink} uplink"
                 f"{', transports ' + self.transports if self.transports else ''}"
                 f"{', userspace TSO' if self.tso else ''})")
        node.up()

    def _guests(self, name):
        node = self.nodes[name]
        self.guests[name] = []
        for j in range(self.per_host):
            guest = f"{name}g{j + 1}"
            if self.guest_kind == "vm":
                vm.define(node, guest)
                rec = vm.start(node, guest)
            else:
                rec = nsguest.add(node, guest)
            self.guests[name].append(rec)

    def runner(self, rec, workdir):
        """Guest rec as a guest.Guest: NsGuest or VmGuest."""
        ip = rec["ip"].split("/")[0] if rec.get("ip") else None
        if "netns" in rec:
            return NsGuest(rec["netns"], workdir, rec["guest"], ip)
        return VmGuest(self.nodes[rec["node"]], rec["guest"], ip)

    # --- use --------------------------------------------------------------

    def kernel_guest(self, host, guest):
        """A guest without DPDK (the 2015 vm2vm-virtio-eth path: tap,
        Linux bridge, NIC): namespace guest, its eth0 a veth into the
        host's Ethernet bridge. Needs eth_link; removed by down()."""
        if not self.eth_link:
            raise VrdmaError("kernel guests need the Ethernet link",
                             "make the hosts with eth_link=True")
        port = f"kg{len(self.kernel_guests) + 1}"
        self._netns(guest)
        run(["ip", "link", "add", "eth0", "netns", guest, "type", "veth",
             "peer", "name", port, "netns", host])
        run(["ip", "-n", host, "link", "set", port, "master", ETH_BRIDGE,
             "up"])
        rec = {"guest": guest, "netns": guest, "node": host,
               "ip": f"198.19.1.{11 + len(self.kernel_guests)}/24"}
        run(["ip", "-n", guest, "addr", "add", rec["ip"], "dev", "eth0"])
        run(["ip", "-n", guest, "link", "set", "eth0", "up"])
        self.kernel_guests.append(rec)
        return rec

    def all_guests(self):
        return [g for name in self.names for g in self.guests.get(name, [])]

    def node_of(self, guest):
        return self.nodes[guest["node"]]

    def wait_fabric(self, timeout=60):
        """Every node's uplink port link up (fabric: a peer connected)."""
        port = "fabric" if self.uplink == "fabric" else "uplink"

        def up():
            return all(node.vsctl("get", "Interface", port, "link_state",
                                  check=False).stdout.strip() == "up"
                       for node in self.nodes.values())
        return wait_for(up, timeout, interval=0.5)

    @staticmethod
    def port_counters(node, port):
        return port_counters(node, port)

    def uplink_port(self):
        return "fabric" if self.uplink == "fabric" else "uplink"

    # --- teardown ---------------------------------------------------------

    def down(self, keep_configs=False):
        """Guests, nodes, fabric, namespaces: reverse order, every step
        tried even when one fails."""
        errors = []
        for name in reversed(self.names):
            node = self.nodes.get(name)
            if node is None:
                continue
            try:
                node.down()  # removes its guests first
            except VrdmaError as exc:
                errors.append(exc.line())
        for name in reversed(self.made_netns):
            proc = subprocess.run(["ip", "netns", "del", name],
                                  capture_output=True, text=True,
                                  check=False)
            if proc.returncode != 0:
                errors.append(f"netns {name}: {proc.stderr.strip()}")
        self.made_netns = []
        if not keep_configs:
            for path in [*self.configs.values(), self.keyfile]:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        if errors:
            raise VrdmaError("hosts: teardown incomplete: " +
                             "; ".join(errors))
