#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma cluster` on three emulated hosts reached by ssh
(vrdmatest.SshHosts): one inventory brings every node up with the others
as its fabric peers (nobody types a peer list), status shows the six links
connected and proven by the key it made, exec runs on every host, the
guests of all three hosts reach each other, a second up changes nothing,
an unreachable host is named, and down leaves nothing behind. And the
eight-host full mesh through `vrdma bench cluster`."""

import json
import os
import stat
import tomllib

import vrdmatest
from vrdmatest import Case, SshHosts, snapshot


def per_host(text):
    """`cluster exec` output ("host: line") as {host: text}."""
    out = {}
    for line in text.splitlines():
        host, _, rest = line.partition(": ")
        out[host] = out.get(host, "") + rest + "\n"
    return out


class Cluster(Case):
    def test_three_hosts_from_one_inventory(self):
        before = snapshot()
        hosts = SshHosts(self, self.state, n=3)
        inv, names, etc = hosts.inventory(self.state)

        st = self.vrdma("cluster", "status", "-i", inv, ok=False)
        self.assertEqual(st.returncode, 3, st.stderr)
        self.assertIn("0/3 nodes up, 0/6 fabric links connected", st.stdout)

        up = self.vrdma("cluster", "up", "-i", inv, timeout=900)
        print(up.stderr, up.stdout)
        self.assertIn("3/3 nodes up, 6/6 fabric links connected", up.stdout)
        key = os.path.join(self.state, "inventory.key")
        with open(key, encoding="ascii") as f:
            secret = f.read()
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        for i, name in enumerate(names):
            with open(os.path.join(etc, f"{name}.toml"), "rb") as f:
                cfg = tomllib.load(f)
            self.assertEqual(cfg["fabric"]["listen"], f"198.19.0.{i + 1}:7000")
            self.assertEqual(sorted(cfg["fabric"]["peers"]), [
                f"198.19.0.{j + 1}:7000" for j in range(3) if j != i])
            kpath = cfg["fabric"]["keyfile"]
            self.assertEqual(vrdmatest.read(kpath), secret)
            self.assertEqual(stat.S_IMODE(os.stat(kpath).st_mode), 0o600)

        st = self.vrdma("cluster", "status", "-i", inv, "--json")
        status = json.loads(st.stdout)
        self.assertEqual([n["node"] for n in status["nodes"]], ["up"] * 3)
        self.assertEqual(len(status["links"]), 6)
        for link in status["links"]:
            self.assertEqual((link["state"], link["trusted"],
                              link["transport"]),
                             ("connected", True, "tcp"), link)
        pids = {n["name"]: n["daemons"]["ovs-vswitchd"]["pid"]
                for n in status["nodes"]}

        # exec: on every host, its own values in the command.
        out = self.vrdma("cluster", "exec", "-i", inv, "--",
                         "sh", "-c", "echo {name} {fabric_ip}; "
                         "ip -o -4 addr show dev fabric0")
        got = per_host(out.stdout)
        for i, name in enumerate(names):
            self.assertIn(f"{name} 198.19.0.{i + 1}\n", got[name])
            self.assertIn(f"inet 198.19.0.{i + 1}/24", got[name])
        fail = self.vrdma("cluster", "exec", "-i", inv, "--hosts", names[1],
                          "--", "sh", "-c", "exit 7", ok=False)
        self.assertEqual(fail.returncode, 1)
        self.assertIn(f"{names[1]}: exit 7", fail.stderr)
        self.assertNotIn(names[0], fail.stderr)

        # A guest per host; every pair of them talks across the fabric.
        guests = {}
        for i, name in enumerate(names):
            add = self.vrdma("cluster", "exec", "-i", inv, "--hosts", name,
                             "--", "{vrdma}", "ns", "add", "--config",
                             "{config}", f"g{i + 1}", "--ip",
                             f"10.77.0.{i + 1}/24", "--json", timeout=300)
            guests[name] = json.loads(per_host(add.stdout)[name])
        for name, rec in guests.items():
            for other, peer in guests.items():
                if other == name:
                    continue
                ping = self.vrdma(
                    "cluster", "exec", "-i", inv, "--hosts", name, "--",
                    "ip", "netns", "exec", rec["netns"], "ping", "-c", "3",
                    "-W", "3", peer["ip"].split("/")[0], ok=False)
                self.assertEqual(ping.returncode, 0,
                                 f"{name} -> {other}: {ping.stdout}"
                                 f"{ping.stderr}")

        # up again: nothing restarted, still the whole mesh.
        again = self.vrdma("cluster", "up", "-i", inv, "--json", timeout=600)
        status = json.loads(again.stdout)
        self.assertEqual(status["links_connected"], 6)
        self.assertEqual({n["name"]: n["daemons"]["ovs-vswitchd"]["pid"]
                          for n in status["nodes"]}, pids)

        # A host nobody answers at is named, the others still shown.
        with open(inv, encoding="utf-8") as f:
            text = f.read().replace("ConnectTimeout=10", "ConnectTimeout=2")
        gone = self.write_config("inventory-gone", text + "\n".join([
            "[[host]]", 'name = "gone"', 'address = "root@198.19.250.99"',
            'fabric_ip = "198.19.0.99"', ""]))
        st = self.vrdma("cluster", "status", "-i", gone, ok=False)
        self.assertEqual(st.returncode, 1, st.stdout + st.stderr)
        self.assertRegex(st.stdout, r"\n  gone +root@198.19.250.99 +"
                         r"unreachable")
        self.assertIn("3/4 nodes up", st.stdout)

        down = self.vrdma("cluster", "down", "-i", inv, timeout=600)
        print(down.stderr)
        st = self.vrdma("cluster", "status", "-i", inv, ok=False)
        self.assertEqual(st.returncode, 3, st.stdout)
        self.assertEqual(sorted(os.listdir(etc)), [])
        # down again: nothing to do, no error.
        self.vrdma("cluster", "down", "-i", inv, timeout=600)
        del hosts
        self.doCleanups()
        self.assertEqual(snapshot(), before)


class Mesh(Case):
    def test_eight_hosts_full_mesh(self):
        """`vrdma bench cluster --sizes 8`: eight hosts, all 56 fabric
        links connected, a guest per host, all 56 guest pairs reaching
        each other, nothing left behind. Its numbers are the bench's
        (docs/benchmarks.md); this asserts only what must hold."""
        before = snapshot()
        path = os.path.join(self.state, "mesh.json")
        run = self.vrdma("bench", "cluster", "--sizes", "8", "--json", path,
                         timeout=900)
        print(run.stdout)
        with open(path, encoding="utf-8") as f:
            (got,) = json.load(f)["8"]
        self.assertEqual((got["links"], got["links_total"]), (56, 56), got)
        self.assertEqual((got["pairs"], got["pairs_total"]), (56, 56), got)
        self.assertEqual(got["peers"], 7, got)
        # tcp: at least our connection to each peer and each peer's to us.
        self.assertGreaterEqual(got["tcp"], 14, got)
        self.assertGreater(got["rss MiB"], 0, got)
        self.assertIn("# reproduce: vrdma bench cluster --sizes 8",
                      run.stdout)
        self.assertEqual(snapshot(), before)


if __name__ == "__main__":
    vrdmatest.main()
