#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""net_vrdma over real RDMA verbs: two soft-RoCE hosts (vrdma roce: QEMU
VMs with Debian's standard kernel and rdma_rxe, on this machine's root
file system), fabric_peer in each, the fabric port's UCX limited to RC
verbs (transports=rc+ud: no tcp, no shared memory between two kernels).
Every frame must arrive intact, and the rxe device's own packet counters
must show that verbs carried them."""

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
        state = roce.up()
        cls.addClassCleanup(roce.down)
        cls.a, cls.b = (h["name"] for h in state["hosts"])
        cls.ips = {h["name"]: h["ip"] for h in state["hosts"]}
        print(f"soft-RoCE hosts up in {time.monotonic() - t0:.0f}s "
              f"({state['accel']})")
        for name in (cls.a, cls.b):
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

    def fabric_peers(self, sizes, count, transports="rc+ud", timeout=90):
        """fabric_peer receiving on a, sending from b; (recv out, send
        out, rxe packets a received, rxe packets b sent)."""
        def argv(me, peer, role):
            return [
                roce.guest_path(PEER), "--no-pci", "--no-huge", "-m", "512",
                "--file-prefix", f"roce-{role}", "--lcores", "0@0",
                "--log-level", "pmd.net.vrdma:info",
                "-d", "/run/plug/librte_net_vrdma.so", "--vdev",
                f"net_vrdma0,listen={self.ips[me]}:{PORT},"
                f"peer={self.ips[peer]}:{PORT},transports={transports}",
                "--", f"--{role}", "--sizes", sizes, "--count", str(count),
                "--timeout", str(timeout - 20)]
        a0 = self.counters(self.a)
        b0 = self.counters(self.b)
        wrap = ["/usr/bin/timeout", "-k", "5", str(timeout)]
        with roce.agent(self.a) as agent_a:
            recv = agent_a.spawn([*wrap, *argv(self.a, self.b, "recv")],
                                 env={"PATH": "/usr/bin:/bin",
                                      "HOME": "/run/home"})
            time.sleep(2)
            with roce.agent(self.b) as agent_b:
                code_s, out_s, err_s = agent_b.exec(
                    [*wrap, *argv(self.b, self.a, "send")],
                    timeout=timeout + 10,
                    env={"PATH": "/usr/bin:/bin", "HOME": "/run/home"})
            code_r, out_r, err_r = agent_a.reap(recv, timeout + 10)
        a1 = self.counters(self.a)
        b1 = self.counters(self.b)
        print(out_s, err_s, out_r, err_r, sep="\n")
        self.assertEqual(code_s, 0, f"sender: {out_s}{err_s}")
        self.assertEqual(code_r, 0, f"receiver: {out_r}{err_r}")
        return out_r, out_s, a1[1] - a0[1], b1[0] - b0[0]

    def test_frames_over_rc_verbs(self):
        """64 B, 1500 B, 9000 B and 65226 B frames between the hosts, over
        RC verbs only: all arrive intact, and rxe counted at least one
        RoCE packet per frame each way."""
        sizes, count = "64,1500,9000,65226", 100
        out_r, _, rcvd, sent = self.fabric_peers(sizes, count)
        for size in sizes.split(","):
            self.assertIn(f"rx size={size} frames={count}/{count}", out_r)
        self.assertIn("rx bad=0", out_r)
        frames = count * len(sizes.split(","))
        print(f"rxe: host b sent {sent} RoCE packets, host a received "
              f"{rcvd}, for {frames} frames")
        self.assertGreaterEqual(sent, frames)
        self.assertGreaterEqual(rcvd, frames)
        self.assertNotRegex(out_r, re.compile("still holds"))


if __name__ == "__main__":
    vrdmatest.main()
