#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""net_vrdma over real RDMA verbs: two soft-RoCE hosts (vrdma roce: QEMU
VMs with Debian's standard kernel and rdma_rxe, on this machine's root
file system), fabric_peer in each, the fabric port's UCX limited to RC
verbs (transports=rc+ud: no tcp, no shared memory between two kernels).
Every frame must arrive intact, and the rxe device's own packet counters
must show that verbs carried them."""

import json
import os
import re
import time

import vrdmatest
from vrdmalib import roce

PMD = os.environ.get("VRDMA_PMD", os.path.join(
    vrdmatest.TOP, "build", "pmd", "librte_net_vrdma.so"))
PEER = os.environ.get("FABRIC_PEER", os.path.join(
    vrdmatest.TOP, "build", "tests", "system", "fabric_peer"))
RXE = "/sys/class/infiniband/rxe0/ports/1/hw_counters"
PORT = 7400


class Roce(vrdmatest.Case):
    @classmethod
    def setUpClass(cls):
        t0 = time.monotonic()
        # Three hosts: on a bridge (the demo's two use the socket link).
        state = roce.up(3)
        cls.addClassCleanup(roce.down)
        cls.a, cls.b, cls.c = (h["name"] for h in state["hosts"])
        cls.ips = {h["name"]: h["ip"] for h in state["hosts"]}
        print(f"soft-RoCE hosts up in {time.monotonic() - t0:.0f}s "
              f"({state['accel']}, {state['link']})")
        for name in (cls.a, cls.b, cls.c):
            cls.sh(name, "mkdir -p /run/plug && cp "
                   f"{roce.guest_path(PMD)} /run/plug/ && "
                   "chmod 755 /run/plug")

    @staticmethod
    def sh(name, script, timeout=120):
        code, out, err = roce.exec_in(name, ["/bin/sh", "-c", script],
                                      timeout)
        if code != 0:
            raise AssertionError(f"{name}: {script}: exit {code}\n{out}{err}")
        return out

    def counters(self, name):
        out = self.sh(name, f"cat {RXE}/sent_pkts {RXE}/rcvd_pkts")
        sent, rcvd = (int(x) for x in out.split())
        return sent, rcvd

    def test_verbs_device(self):
        """rxe0 is active on both, RC verbs are what UCX offers on it, and
        the fabric link carries 9000 B frames."""
        for name in (self.a, self.b):
            out = self.sh(name, "cat /sys/class/infiniband/rxe0/ports/1/state"
                          "; ucx_info -d")
            self.assertIn("ACTIVE", out.splitlines()[0])
            self.assertRegex(out, r"Transport: rc_verbs\s*\n\s*#\s*Device: "
                             r"rxe0:1")
        self.sh(self.a, f"ping -c 2 -W 5 -M do -s 8972 {self.ips[self.b]}")

    def start(self, host, role, listen, peers, sizes, count, extra=(),
              timeout=90, dev="rxe0:1", log=None, devargs_extra=""):
        """fabric_peer in host (roce1/roce2), RC verbs only; a handle for
        finish(). With log, its output goes to that file in the host as it
        comes (wait_log() reads it), and finish() returns the file."""
        devargs = (f"net_vrdma0,listen={listen}:{PORT}" +
                   "".join(f",peer={p}:{PORT}" for p in peers) +
                   ",transports=rc+ud" + (f",dev={dev}" if dev else "") +
                   devargs_extra)
        argv = ["/usr/bin/timeout", "-k", "5", str(timeout),
                roce.guest_path(PEER), "--no-pci", "--no-huge", "-m", "512",
                "--file-prefix", f"roce-{role}-{listen}", "--lcores", "0@0",
                "--log-level", "pmd.net.vrdma:info",
                "-d", "/run/plug/librte_net_vrdma.so", "--vdev", devargs,
                "--", f"--{role}", "--sizes", sizes, "--count", str(count),
                "--timeout", str(timeout - 20), *extra]
        if log is not None:
            argv = ["/bin/sh", "-c", f'exec "$@" >{log} 2>&1', "sh", *argv]
        with roce.agent(host) as agent:
            return host, agent.spawn(argv), timeout, log

    def finish(self, handle):
        host, pid, timeout, log = handle
        with roce.agent(host) as agent:
            code, out, err = agent.reap(pid, timeout + 10)
        if log is not None:
            out, err = self.sh(host, f"cat {log}; rm -f {log}"), ""
        print(f"--- {host} ---", out, err, sep="\n")
        return code, out + err

    def wait_log(self, host, log, line, timeout=60):
        """Wait until fabric_peer's log in host has a line equal to line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code, out, _ = roce.exec_in(host, ["cat", log], 10)
            if code == 0 and line in out.splitlines():
                return
            time.sleep(0.5)
        self.fail(f"{host}: no '{line}' in {log} after {timeout}s:\n"
                  + self.sh(host, f"cat {log}"))

    def memory_regions(self, host):
        """fabric_peer's RDMA memory regions in host, by number: length."""
        regions = json.loads(self.sh(host, "rdma -j -d res show mr"))
        return {r["mrn"]: r["mrlen"] for r in regions
                if r.get("comm") == "fabric_peer"}

    def assert_all_arrived(self, out_r, sizes, count):
        for size in sizes.split(","):
            self.assertIn(f"rx size={size} frames={count}/{count}", out_r)
        self.assertIn("rx bad=0", out_r)

    def test_frames_over_rc_verbs(self):
        """64 B, 1500 B, 9000 B and 65226 B frames between the hosts, over
        RC verbs only: all arrive intact, the port names rc as the
        transport in use, and rxe counted at least one RoCE packet per
        frame each way."""
        sizes, count = "64,1500,9000,65226", 100
        a0, b0 = self.counters(self.a), self.counters(self.b)
        recv = self.start(self.a, "recv", self.ips[self.a],
                          [self.ips[self.b]], sizes, count)
        time.sleep(2)
        send = self.start(self.b, "send", self.ips[self.b],
                          [self.ips[self.a]], sizes, count)
        code_s, out_s = self.finish(send)
        code_r, out_r = self.finish(recv)
        self.assertEqual((code_s, code_r), (0, 0), out_s + out_r)
        self.assert_all_arrived(out_r, sizes, count)
        self.assertNotIn("still holds", out_r)
        # rndv_thresh=auto over verbs: the 65226 B frames by rendezvous
        # (above 16 KiB), the rest eager.
        self.assertRegex(out_s, rf"xstat peer0_rndv_sends={count}\b")
        # The transport in use, as the port names it: frames on RC; UD
        # (UCX's wire-up and keepalive lane) beside it; no tcp, no shm.
        via = re.findall(r"connected via (.*)", out_s + out_r)
        self.assertEqual(len(via), 2, out_s + out_r)
        for line in via:
            self.assertRegex(line, r"^rc_verbs/rxe0:1\b")
            self.assertNotRegex(line, r"tcp|sysv|posix|cma")
        self.assertNotIn("unused env variables", out_s + out_r)
        sent = self.counters(self.b)[0] - b0[0]
        rcvd = self.counters(self.a)[1] - a0[1]
        frames = count * len(sizes.split(","))
        print(f"rxe: host b sent {sent} RoCE packets, host a received "
              f"{rcvd}, for {frames} frames")
        self.assertGreaterEqual(sent, frames)
        self.assertGreaterEqual(rcvd, frames)

    def test_dpdk_memory_registered_once(self):
        """Both ports register DPDK's memory with the RDMA device when they
        start (one region over its 512 MiB), and frames of 1500 B (eager),
        9000 B and 65226 B (rendezvous: RDMA read from the sender's mbuf
        into the receiver's) then go with no other memory registered: no
        registration on the data path. (Before: one region per frame.)"""
        sizes, count = "1500,9000,65226", 200
        logs = {self.a: "/tmp/fp-recv.log", self.b: "/tmp/fp-send.log"}
        # One mbuf per frame, as OVS's pools for a jumbo MTU have them:
        # what can go by RDMA without a copy.
        big = ("--mbuf-size", "65280")
        rndv = ",rndv_thresh=8192"  # 9000 B and 65226 B by rendezvous
        recv = self.start(self.a, "recv", self.ips[self.a],
                          [self.ips[self.b]], sizes, count, timeout=150,
                          extra=("--linger", "20", *big), log=logs[self.a],
                          devargs_extra=rndv)
        time.sleep(2)
        send = self.start(self.b, "send", self.ips[self.b],
                          [self.ips[self.a]], sizes, count, timeout=150,
                          extra=("--learn-wait", "10", "--linger", "20",
                                 *big),
                          log=logs[self.b], devargs_extra=rndv)
        before, after = {}, {}
        for host in (self.b, self.a):
            self.wait_log(host, logs[host], "link up")
        for host in (self.a, self.b):
            before[host] = self.memory_regions(host)
        for host in (self.a, self.b):
            self.wait_log(host, logs[host], "linger", timeout=120)
            after[host] = self.memory_regions(host)
        code_s, out_s = self.finish(send)
        code_r, out_r = self.finish(recv)
        self.assertEqual((code_s, code_r), (0, 0), out_s + out_r)
        self.assert_all_arrived(out_r, sizes, count)
        self.assertRegex(out_s, rf"xstat peer0_rndv_sends={2 * count}\b")
        for host in (self.a, self.b):
            print(f"{host}: memory regions at start {before[host]}; "
                  f"{len(after[host]) - len(before[host])} more after the "
                  "frames")
        for host, out in ((self.a, out_r), (self.b, out_s)):
            self.assertGreaterEqual(max(before[host].values(), default=0),
                                    512 << 20, f"{host}: DPDK's memory "
                                    "is not registered at start")
            self.assertIn("registered 512 MiB of DPDK memory", out)
            new = {n: length for n, length in after[host].items()
                   if n not in before[host]}
            self.assertEqual(new, {}, f"{host}: memory registered while "
                             "frames went")

    def test_peer_restart(self):
        """The sender goes away and comes back: every frame of both
        incarnations arrives, and no mbuf leaks across it."""
        sizes = "64,1500,9000,65226"
        recv = self.start(self.a, "recv", self.ips[self.a],
                          [self.ips[self.b]], sizes, 100, timeout=150)
        time.sleep(2)
        for _ in range(2):
            send = self.start(self.b, "send", self.ips[self.b],
                              [self.ips[self.a]], sizes, 50)
            code_s, out_s = self.finish(send)
            self.assertEqual(code_s, 0, out_s)
        code_r, out_r = self.finish(recv)
        self.assertEqual(code_r, 0, out_r)
        self.assert_all_arrived(out_r, sizes, 100)
        self.assertRegex(out_r, r"peer 198\.19\.2\.2:\d+ lost")
        self.assert_mempool_back(out_r)

    def test_three_hosts_flooding_over_rc(self):
        """Three hosts on the bridge: a broadcast from the middle one
        reaches both others over RC verbs, small frames, MTU frames and
        65226 B ones (chained mbufs, one reference per peer), and the
        sender's mempool is back at its baseline."""
        hosts = (self.a, self.b, self.c)
        peers = {h: [self.ips[o] for o in hosts if o != h] for h in hosts}
        sizes, count = "64,1500,65226", 30
        recv = [self.start(h, "recv", self.ips[h], peers[h], sizes, count,
                           timeout=150) for h in (self.a, self.c)]
        time.sleep(2)
        send = self.start(self.b, "send", self.ips[self.b], peers[self.b],
                          sizes, count, extra=("--learn-wait", "3"),
                          timeout=150)
        code_s, out_s = self.finish(send)
        self.assertEqual(code_s, 0, out_s)
        frames = count * len(sizes.split(","))
        self.assertRegex(out_s, rf"xstat peer0_tx_frames={frames}\b")
        self.assertRegex(out_s, rf"xstat peer1_tx_frames={frames}\b")
        self.assertEqual(len(re.findall(r"connected via rc_verbs/rxe0:1",
                                        out_s)), 2, out_s)
        self.assert_mempool_back(out_s)
        for handle in recv:
            code_r, out_r = self.finish(handle)
            self.assertEqual(code_r, 0, out_r)
            self.assert_all_arrived(out_r, sizes, count)

    def test_unlisted_peer_rejected(self):
        """A port on a second address of host b, which host a does not
        list, is refused; the listed one still gets through."""
        rogue_ip = f"{roce.NET}.12"
        self.sh(self.b, f"ip addr add {rogue_ip}/24 dev eth0")
        self.addCleanup(self.sh, self.b, f"ip addr del {rogue_ip}/24 "
                        "dev eth0")
        recv = self.start(self.a, "recv", self.ips[self.a],
                          [self.ips[self.b]], "64", 1)
        time.sleep(2)
        # Connections take their source address from the route (rdma_cm
        # too), not from the port's listen address: route host a from the
        # unlisted address while the rogue runs.
        route = f"{self.ips[self.a]}/32 dev eth0"
        self.sh(self.b, f"ip route replace {route} src {rogue_ip}")
        rogue = self.start(self.b, "send", rogue_ip, [self.ips[self.a]],
                           "64", 1, extra=("--timeout", "8"), dev="")
        code_rogue, out_rogue = self.finish(rogue)
        self.sh(self.b, f"ip route del {route}")
        self.assertNotEqual(code_rogue, 0, "the rogue's link must stay down")
        self.assertIn("link did not come up", out_rogue)
        send = self.start(self.b, "send", self.ips[self.b],
                          [self.ips[self.a]], "64", 1)
        code_s, out_s = self.finish(send)
        code_r, out_r = self.finish(recv)
        self.assertEqual((code_s, code_r), (0, 0), out_s + out_r)
        self.assertRegex(out_r, r"xstat rejected_connections=[1-9]")
        self.assertIn("rejected: not a listed peer", out_r)
        self.assertIn("rx size=64 frames=1/1", out_r)


class RoceDemo(vrdmatest.Case):
    def test_demo_roce(self):
        """The mission's chain over verbs (vrdma demo --roce): in each
        soft-RoCE host an OVS-DPDK node and a namespace guest; ping and
        NPtcp to 64 KiB from guest to guest cross net_vrdma over RC, and
        rxe carried the packets."""
        out = os.path.join(self.state, "demo")
        proc = self.vrdma("demo", "--roce", "--quick", "--out", out,
                          timeout=900)
        print(proc.stdout)
        self.assertIn("reachability: 2/2 guest pairs", proc.stdout)
        self.assertRegex(proc.stdout, r"cross-host roce .* \d+\.\d+Gb/s")
        for host in ("roce1", "roce2"):
            m = re.search(rf"{host} rxe0 during NPtcp: (\d+) RoCE packets "
                          r"out, (\d+) in", proc.stdout)
            self.assertIsNotNone(m, proc.stdout)
            self.assertGreater(int(m.group(1)), 100)
            self.assertGreater(int(m.group(2)), 100)
        # Each node's fabric port connected over RC verbs and proved the
        # hosts' shared key (roce.KEYFILE), both ways.
        with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
            logs = json.load(f)["fabric_log"]
        for host in ("roce1", "roce2"):
            text = "\n".join(logs[host])
            self.assertRegex(text, r"connected via rc_verbs/rxe0:1.*, "
                             r"authenticated", text)
            self.assertIn("connected to us, authenticated", text)
        self.assertFalse(os.path.exists(os.path.join(roce.STATE,
                                                     "state.json")),
                         "the demo took its hosts down")

if __name__ == "__main__":
    vrdmatest.main()
