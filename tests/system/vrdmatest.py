# SPDX-License-Identifier: BSD-3-Clause
"""Shared pieces of the system tests: run the real `tools/vrdma` CLI against
a scratch state directory with random node names, snapshot what a node may
leave on the machine, and start testpmd endpoints. Cleanups are registered
right after each create and run in reverse order."""

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

# A test-only helper beside this file (the script's directory is on the
# path).
from endpoints import Testpmd
from vrdmalib import config as cfgmod
from vrdmalib import hugepages
from vrdmalib.node import Node

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
VRDMA = os.path.join(TOP, "tools", "vrdma")

SKIP = 77  # meson's "skipped" exit status


def require_root():
    if os.geteuid() != 0:
        print("SKIPPED: system tests start OVS-DPDK and reserve hugepages; "
              "they need root", file=sys.stderr, flush=True)
        sys.exit(SKIP)


def rand_name(prefix):
    return f"{prefix}{secrets.token_hex(3)}"


def nft_drop(netns, table, hook, match):
    """In netns, an nftables table that drops (and counts) the packets
    match (nft words) selects at hook ("input", "output")."""
    nft = ["ip", "netns", "exec", netns, "nft"]
    subprocess.run([*nft, "add", "table", "inet", table], check=True)
    subprocess.run([*nft, "add", "chain", "inet", table, hook,
                    f"{{ type filter hook {hook} priority 0; }}"],
                   check=True)
    subprocess.run([*nft, "add", "rule", "inet", table, hook, *match,
                    "counter", "drop"], check=True)


def nft_dropped(netns, table):
    """Packets nft_drop's table in netns dropped so far."""
    out = subprocess.run(["ip", "netns", "exec", netns, "nft", "list",
                          "table", "inet", table], capture_output=True,
                         text=True, check=True).stdout
    return int(re.search(r"counter packets (\d+)", out).group(1))


def snapshot():
    """What a node could leave behind on this machine."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True,
                           text=True, check=True).stdout
    files = {}
    for point in hugepages.mounts():
        try:
            files[point] = sorted(os.listdir(point))
        except OSError:
            files[point] = []
    return {
        "nr_hugepages": {s: hugepages.counts(s)[0] for s in ("2M", "1G")
                         if os.path.exists("/sys/kernel/mm/hugepages/"
                                           f"hugepages-{hugepages.SIZES_KB[s]}"
                                           "kB")},
        "hugetlbfs": sorted(hugepages.mounts().items()),
        "hugepage_files": files,
        "links": sorted(ln.split(":")[1].strip().split("@")[0]
                        for ln in links.splitlines()),
        # An empty /run/dpdk and none are the same: a node that removes
        # the directory once its own runtime dir is gone leaves nothing.
        "run_dpdk": sorted(os.listdir("/run/dpdk"))
        if os.path.isdir("/run/dpdk") else [],
        "run_vrdma": os.path.exists("/run/vrdma"),
        "netns": sorted(os.listdir("/run/netns"))
        if os.path.isdir("/run/netns") else [],
    }


BULK_SERVER = r"""
import socket
s = socket.socket()
s.bind(("0.0.0.0", 5001))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
n = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    n += len(b)
print(n)
"""

BULK_CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], 5001), timeout=30)
b = bytes(1 << 20)
for _ in range(int(sys.argv[2])):
    s.sendall(b)
s.close()
"""


def bulk_tcp(src_ns, dst_ns, dst_ip, mib):
    """mib MiB over one TCP connection from namespace src_ns to dst_ip in
    dst_ns; returns the bytes that arrived."""
    server = subprocess.Popen(["ip", "netns", "exec", dst_ns, "python3",
                               "-c", BULK_SERVER], stdout=subprocess.PIPE,
                              text=True)
    try:
        if server.stdout.readline().strip() != "listening":
            return 0
        subprocess.run(["ip", "netns", "exec", src_ns, "python3", "-c",
                        BULK_CLIENT, dst_ip, str(mib)], check=True,
                       timeout=180)
        return int(server.stdout.readline() or 0)
    finally:
        # A client that failed leaves the server in accept(): killed, or
        # it would outlive the test and hold meson's pipe (seen: a failed
        # test_ns became a 900 s timeout).
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()


def run_vrdma(*args, timeout=1800):
    """vrdma outside a test case (class set-up); its output passes through
    so long work shows its progress."""
    subprocess.run([VRDMA, *args], check=True, timeout=timeout)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def processes_mentioning(text):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


class Case(unittest.TestCase):
    """A test with its own state dir; every node it starts is taken down."""

    maxDiff = None

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="vrdma-test-")
        self.addCleanup(shutil.rmtree, self.state, ignore_errors=True)
        # Both the CLI subprocesses and vrdmalib in this process use them.
        for key, value in (("VRDMA_STATE_DIR", self.state),
                           ("VRDMA_CONFIG_DIR",
                            os.path.join(self.state, "etc"))):
            self.addCleanup(self._restore_env, key, os.environ.get(key))
            os.environ[key] = value
        self.env = dict(os.environ)

    @staticmethod
    def _restore_env(key, value):
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

    def vrdma(self, *args, ok=True, timeout=240):
        proc = subprocess.run([VRDMA, *args], capture_output=True,
                              text=True, env=self.env, timeout=timeout)
        if ok and proc.returncode != 0:
            self.fail(f"vrdma {' '.join(args)} exited {proc.returncode}:\n"
                      f"{proc.stderr}{proc.stdout}")
        return proc

    def node_up(self, name, *extra):
        self.addCleanup(self.node_down_and_report, name, *extra)
        return self.vrdma("node", "up", "--node", name, *extra)

    def node_down_and_report(self, name, *extra):
        """Cleanup: print the node's log when the test failed, then down."""
        log = os.path.join(self.state, name, "log",
                           f"ovs-daemon-{name}.log")
        try:
            if os.path.exists(log) and not self._outcome_ok():
                tail = read(log).splitlines()[-int(os.environ.get("VRDMA_TEST_LOG_LINES", "40")):]
                print(f"--- {log} (tail) ---", *tail, sep="\n",
                      file=sys.stderr)
        finally:
            down = self.vrdma("node", "down", "--node", name, *extra,
                              ok=False)
            if down.returncode != 0:
                print(f"cleanup: node down {name} failed: {down.stderr}",
                      file=sys.stderr)

    def _outcome_ok(self):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None:
            return True
        return not any(test is self
                       for test, _ in result.failures + result.errors)

    def write_config(self, name, text):
        path = os.path.join(self.state, f"{name}.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def node_config(self, name, extra=""):
        """A node config file naming node name, with extra TOML after."""
        return self.write_config(name, f'[node]\nname = "{name}"\n' + extra)

    def assert_mempool_back(self, out):
        """fabric_peer's pool is back at the baseline taken after the
        port's start (no mbuf freed twice or kept), and nothing is held
        after the port's close."""
        m = re.search(r"mempool in_use start=(\d+) end=(\d+) closed=(\d+)",
                      out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.group(1), m.group(2), out)
        self.assertEqual(m.group(3), "0", out)

    def endpoint(self, name, socket, server, queues=1):
        ep = Testpmd(rand_name(name), socket, server, self.state,
                     queues=queues)
        self.addCleanup(ep.stop)
        ep.start()
        return ep

    def wait_links_up(self, pairs, timeout=10):
        """UCX lists network devices once, at init, and only those that
        are up: start peers only when every (namespace, device) is."""
        deadline = time.monotonic() + timeout
        for ns, dev in pairs:
            while "state UP" not in subprocess.run(
                    ["ip", "-n", ns, "link", "show", "dev", dev],
                    capture_output=True, text=True).stdout:
                self.assertLess(time.monotonic(), deadline,
                                f"{dev} in {ns} did not come up")
                time.sleep(0.05)

    def veth_namespaces(self):
        """Two namespaces joined by a veth pair, MTU 9000: 198.18.0.1/.2."""
        a, b = rand_name("vrdma-fa-"), rand_name("vrdma-fb-")
        for ns in (a, b):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            self.addCleanup(subprocess.run, ["ip", "netns", "del", ns],
                            check=False)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"],
                           check=True)
        va, vb = rand_name("vfa"), rand_name("vfb")
        subprocess.run(["ip", "link", "add", va, "mtu", "9000", "netns", a,
                        "type", "veth", "peer", "name", vb, "mtu", "9000",
                        "netns", b], check=True)
        for ns, dev, addr in ((a, va, "198.18.0.1/24"),
                              (b, vb, "198.18.0.2/24")):
            subprocess.run(["ip", "-n", ns, "addr", "add", addr, "dev",
                            dev], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", dev, "up"],
                           check=True)
        self.wait_links_up(((a, va), (b, vb)))
        return a, b

    def bridged_namespaces(self, n):
        """n namespaces, each with a veth into a Linux bridge in a hub
        namespace (an Ethernet switch): 198.18.0.1 ... 198.18.0.n."""
        hub = rand_name("vrdma-hub-")
        subprocess.run(["ip", "netns", "add", hub], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", hub],
                        check=False)
        subprocess.run(["ip", "-n", hub, "link", "add", "br0", "type",
                        "bridge"], check=True)
        subprocess.run(["ip", "-n", hub, "link", "set", "br0", "up"],
                       check=True)
        names, devs = [], []
        for i in range(n):
            ns, dev = rand_name(f"vrdma-h{i}-"), rand_name("vh")
            subprocess.run(["ip", "netns", "add", ns], check=True)
            self.addCleanup(subprocess.run, ["ip", "netns", "del", ns],
                            check=False)
            subprocess.run(["ip", "link", "add", dev, "mtu", "9000",
                            "netns", ns, "type", "veth", "peer", "name",
                            f"p{i}", "mtu", "9000", "netns", hub],
                           check=True)
            subprocess.run(["ip", "-n", hub, "link", "set", f"p{i}",
                            "master", "br0", "up"], check=True)
            subprocess.run(["ip", "-n", ns, "addr", "add",
                            f"198.18.0.{i + 1}/24", "dev", dev], check=True)
            for d in (dev, "lo"):
                subprocess.run(["ip", "-n", ns, "link", "set", d, "up"],
                               check=True)
            names.append(ns)
            devs.append(dev)
        self.wait_links_up(zip(names, devs))
        return names

    def node_obj(self, name, config=None):
        """The node as vrdmalib sees it, for measurements (traffic.py)."""
        return Node(cfgmod.load(config, name))

    def assert_no_errors_in_log(self, node, allowed=()):
        """Unexpected ERR/EMER lines in a node's log fail the test."""
        log = os.path.join(self.state, node, "log", f"ovs-daemon-{node}.log")
        with open(log, encoding="utf-8", errors="replace") as f:
            bad = [ln for ln in f if ("|ERR|" in ln or "|EMER|" in ln)
                   and not any(a in ln for a in allowed)]
        self.assertEqual(bad, [], f"errors in {log}")


def main():
    require_root()
    unittest.main(verbosity=2)


class SshHosts:
    """n emulated hosts (vrdmalib.hosts, no switches: namespaces, the
    fabric and, for two, the Ethernet link) that are reached like real
    ones: each runs
    dropbear in its namespace on a management veth from this namespace,
    with a key made here. root's home, for dropbear's authorized_keys,
    is a scratch directory in dropbear's own mount namespace: nothing of
    this machine's /root changes. ssh is the command line that logs in
    (OpenSSH's client, this key, no host key checks); address(i) is
    host i's ssh address. Cleanups go to case.addCleanup."""

    MGMT = "198.19.250"

    def __init__(self, case, scratch, n=2):
        from vrdmalib.hosts import Hosts
        self.case = case
        self.scratch = scratch
        self.tag = secrets.token_hex(2)
        self.hosts = Hosts(n, guests_per_host=0, eth_link=n == 2,
                           switches=False, prefix=f"t{self.tag}-")
        self.names = self.hosts.names
        case.addCleanup(self.hosts.down)
        self.hosts.up()
        key = os.path.join(scratch, "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        key], check=True)
        home = os.path.join(scratch, "home")
        os.makedirs(os.path.join(home, ".ssh"), mode=0o700)
        shutil.copy(key + ".pub", os.path.join(home, ".ssh",
                                               "authorized_keys"))
        passwd = os.path.join(scratch, "passwd")
        with open("/etc/passwd", encoding="utf-8") as src, \
                open(passwd, "w", encoding="utf-8") as dst:
            for line in src:
                f = line.split(":")
                if f[0] == "root":
                    f[5] = home
                dst.write(":".join(f))
        hostkey = os.path.join(scratch, "hostkey")
        subprocess.run(["dropbearkey", "-t", "ed25519", "-f", hostkey],
                       check=True, capture_output=True)
        self.ssh = (f"ssh -i {key} -o StrictHostKeyChecking=no "
                    "-o UserKnownHostsFile=/dev/null -o BatchMode=yes "
                    "-o LogLevel=ERROR -o ConnectTimeout=10")
        self._mgmt()
        for i, name in enumerate(self.names):
            self._sshd(i, name, passwd, hostkey)

    def address(self, i):
        return f"{self.MGMT}.{i + 2}"

    def inventory(self, state, extra=()):
        """A `vrdma cluster` inventory of these hosts, written in state:
        (its path, the node names, the config_dir). The nodes keep their
        state in state, share extra lines of template, and run the fabric
        over tcp; the inventory's down is a cleanup."""
        names = [f"{h}n" for h in self.names]
        etc = os.path.join(state, "cluster-etc")
        with open(os.path.join(state, "template.toml"), "w",
                  encoding="utf-8") as f:
            f.write("\n".join([
                "[node]", f'state_dir = "{state}"', "[memory]",
                "socket_mem_mb = 320", "[fabric]", 'transports = "tcp"',
                *extra, ""]))
        lines = [f'ssh = "{self.ssh}"', 'template = "template.toml"',
                 f'config_dir = "{etc}"']
        for i, name in enumerate(names):
            lines += ["[[host]]", f'name = "{name}"',
                      f'address = "root@{self.address(i)}"',
                      f'fabric_ip = "198.19.0.{i + 1}"']
        inv = os.path.join(state, "inventory.toml")
        with open(inv, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        self.case.addCleanup(self.case.vrdma, "cluster", "down", "-i", inv,
                             ok=False, timeout=600)
        return inv, names, etc

    def _mgmt(self):
        """The management network: a bridge in a hub namespace that this
        namespace (.1) and every host (.2, .3, ...) join, as a cluster's
        hosts share one network for ssh."""
        self.hub = hub = f"t{self.tag}-mgmt"
        subprocess.run(["ip", "netns", "add", hub], check=True)
        self.case.addCleanup(subprocess.run, ["ip", "netns", "del", hub],
                             capture_output=True, check=False)
        subprocess.run(["ip", "-n", hub, "link", "add", "br0", "type",
                        "bridge"], check=True)
        subprocess.run(["ip", "-n", hub, "link", "set", "br0", "up"],
                       check=True)
        ends = [(f"t{self.tag}m0", None, f"{self.MGMT}.1")]
        ends += [("mgmt0", name, f"{self.address(i)}")
                 for i, name in enumerate(self.names)]
        for i, (dev, netns, ip) in enumerate(ends):
            where = ["netns", netns] if netns else []
            subprocess.run(["ip", "link", "add", dev, *where, "type",
                            "veth", "peer", "name", f"p{i}", "netns", hub],
                           check=True)
            if netns is None:
                # Now: a namespace's links go when the kernel gets to it.
                self.case.addCleanup(subprocess.run,
                                     ["ip", "link", "del", dev],
                                     capture_output=True, check=False)
            subprocess.run(["ip", "-n", hub, "link", "set", f"p{i}",
                            "master", "br0", "up"], check=True)
            ns = ["-n", netns] if netns else []
            subprocess.run(["ip", *ns, "addr", "add", f"{ip}/24", "dev",
                            dev], check=True)
            subprocess.run(["ip", *ns, "link", "set", dev, "up"],
                           check=True)

    def _sshd(self, i, name, passwd, hostkey):
        log = open(os.path.join(self.scratch, f"sshd-{name}.log"), "w",
                   encoding="utf-8")
        self.case.addCleanup(log.close)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", name, "unshare", "--mount", "sh", "-c",
             f"mount --bind {passwd} /etc/passwd && exec dropbear -F -E -s "
             f"-r {hostkey} -p {self.address(i)}:22 -P "
             f"{self.scratch}/sshd-{name}.pid"],
            stdout=log, stderr=subprocess.STDOUT)
        self.case.addCleanup(self._stop, proc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ok = subprocess.run([*self.ssh.split(), f"root@{self.address(i)}",
                                 "true"], capture_output=True,
                                check=False).returncode == 0
            if ok:
                return
            time.sleep(0.3)
        self.case.fail(f"dropbear in {name} does not answer: "
                       f"{read(log.name)}")

    @staticmethod
    def _stop(proc):
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
