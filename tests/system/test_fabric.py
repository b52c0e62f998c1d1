#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""net_vrdma between two processes (fabric_peer, loading the driver with
-d): over UCX tcp on loopback, over tcp across a veth pair between two
network namespaces, and with UCX's own transport choice (shared memory
between processes on one machine). Frames of 64 B, 1500 B, 9000 B and
64 KiB (chained mbufs) are sent, counted and checked byte by byte at the
far side. A connection from an unlisted address is rejected and counted."""

import os
import re
import secrets
import socket
import subprocess
import time

import vrdmatest
from vrdmatest import Case, hugepages, rand_name
from vrdmalib import plugin

PMD = os.environ.get("VRDMA_PMD", os.path.join(
    vrdmatest.TOP, "build", "pmd", "librte_net_vrdma.so"))
PEER = os.environ.get("FABRIC_PEER", os.path.join(
    vrdmatest.TOP, "build", "tests", "system", "fabric_peer"))
SIZES = "64,1500,9000,65536"


def free_ports():
    """A fresh port P, a multiple of 4, with P to P + 3 free on 127.0.0.1
    (two ports of up to two lanes each: lane i listens on P + i): a closed
    listener's port may stay taken for a while (UCX binds without
    SO_REUSEADDR), and below the kernel's ephemeral range, whose ports
    any outgoing connection of the machine may hold."""
    with open("/proc/sys/net/ipv4/ip_local_port_range",
              encoding="ascii") as f:
        low = int(f.read().split()[0])
    for _ in range(100):
        port = 10000 + secrets.randbelow((low - 10004) // 4) * 4
        try:
            for p in range(port, port + 4):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair below the ephemeral range")

class Fabric(Case):
    def setUp(self):
        super().setUp()
        for path in (PMD, PEER):
            self.assertTrue(os.path.exists(path),
                            f"{path} missing: build first (meson)")
        self.pmd, created = plugin.plugin_path(PMD)
        self.addCleanup(plugin.remove, created)
        owner = f"test:{rand_name('fab')}"
        hugepages.reserve(owner, "2M", 200)
        self.addCleanup(hugepages.release, owner)
        self.port = free_ports()

    def start(self, role, listen, peers, ns=None, transports="tcp",
              extra=(), count=200, sizes=SIZES, mac=None, keyfile=None,
              lcores=None, iova="va"):
        name = rand_name(role)
        devargs = f"net_vrdma0,listen={listen}" + "".join(
            f",peer={p}" for p in peers)
        if transports:
            devargs += f",transports={transports}"
        if mac:
            devargs += f",mac={mac}"
        if keyfile:
            devargs += f",keyfile={keyfile}"
        # VA: as vrdma node runs the switch without a PCI device, and the
        # only mode in which the port lends received frames (no copy).
        argv = [PEER, "--no-pci", "--in-memory", "-m", "128",
                "--iova-mode", iova,
                "--file-prefix", f"vrdma-{name}",
                # The receiver alone on CPU 1, the sender on CPU 0.
                "--lcores", lcores or ("0@1" if role == "recv" else "0@0"),
                "--log-level", "pmd.net.vrdma:info", "-d", self.pmd,
                "--vdev", devargs, "--", f"--{role}", "--sizes", sizes,
                "--count", str(count), "--timeout", "60", *extra]
        if ns:
            argv = ["ip", "netns", "exec", ns, *argv]
        log = open(os.path.join(self.state, f"{name}.log"), "w+",
                   encoding="utf-8")
        self.addCleanup(log.close)
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                text=True)
        self.addCleanup(self.reap, proc, name)
        proc.log = log
        return proc

    @staticmethod
    def reap(proc, name):
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        subprocess.run(["rm", "-rf", f"/run/dpdk/vrdma-{name}"],
                       check=False)

    def finish(self, proc, timeout=120):
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.log.seek(0)
        return proc.returncode, proc.log.read()

    def assert_all_arrived(self, recv_out, count=200):
        for size in SIZES.split(","):
            self.assertIn(f"rx size={size} frames={count}/{count}",
                          recv_out)
        self.assertIn("rx bad=0", recv_out)

    def pair(self, listen_a, listen_b, ns=(None, None), transports="tcp",
             keys=(None, None)):
        recv = self.start("recv", listen_a, [listen_b], ns[0], transports,
                          keyfile=keys[0])
        time.sleep(0.5)
        send = self.start("send", listen_b, [listen_a], ns[1], transports,
                          keyfile=keys[1])
        rc_s, out_s = self.finish(send)
        rc_r, out_r = self.finish(recv)
        print(out_s, out_r, sep="\n")
        self.assertEqual(rc_s, 0, out_s)
        self.assertEqual(rc_r, 0, out_r)
        self.assert_all_arrived(out_r)
        # Frames above 65535 B go by rendezvous, the rest eager.
        self.assertRegex(out_s, r"xstat peer0_rndv_sends=200\b")
        self.assertRegex(out_r, r"xstat peer0_rx_frames=800\b")
        # The 9000 B ones (padded by the sender) stay in UCX's receive
        # buffer, lent to the receiver as external mbuf buffers; smaller
        # frames are copied, rendezvous ones received into mbufs. The
        # content check above covers the lent ones; at stop every lent
        # buffer must be back (else the driver warns it keeps them).
        self.assertRegex(out_r, r"xstat peer0_rx_lent=200\b")
        self.assertNotIn("still holds", out_r)
        return out_s, out_r

    def test_loopback_tcp(self):
        self.pair(f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port + 1}")

    def test_iova_pa_copies_instead_of_lending(self):
        """In IOVA PA mode (a switch with a hardware port and no IOMMU)
        UCX's buffers have no IO address, so received frames are copied
        into the pool's mbufs, never lent: every segment of every frame
        has an IO address (fabric_peer checks), none was lent."""
        a, b = f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port + 1}"
        recv = self.start("recv", a, [b], iova="pa")
        time.sleep(0.5)
        send = self.start("send", b, [a], iova="pa")
        rc_s, out_s = self.finish(send)
        rc_r, out_r = self.finish(recv)
        print(out_r)
        self.assertEqual((rc_s, rc_r), (0, 0), out_s + out_r)
        self.assertIn("Selected IOVA mode 'PA'", out_r)
        self.assert_all_arrived(out_r)
        self.assertNotIn("xstat peer0_rx_lent=", out_r)

    def test_loopback_ucx_default_transports(self):
        """UCX chooses the transport: shared memory (the driver allows
        it for error-handling endpoints, see the README), where a fast
        sender finds every batch in flight and must wait, not drop.
        Shared memory carries everything, rendezvous frames too: UCX's
        tcp interface is no lane of the connection, so progress does not
        poll its sockets (an epoll_wait per call, a third of a busy
        receiver's time when tcp was the rendezvous lane)."""
        _, out_r = self.pair(f"127.0.0.1:{self.port}",
                             f"127.0.0.1:{self.port + 1}", transports="")
        # The receiver's connection to the sender, read before it stops
        # (the sender's is down by then: its peer has gone).
        self.assertRegex(out_r, r"xstat peer0_via_sm=1\b")
        self.assertNotRegex(out_r, r"xstat peer0_via_tcp=")

    def test_veth_between_namespaces_tcp(self):
        a, b = self.veth_namespaces()
        self.pair(f"198.18.0.1:{self.port}", f"198.18.0.2:{self.port}",
                  ns=(a, b))

    def test_tcp_stays_on_the_listen_network(self):
        """With transports=tcp and no dev, UCX would also run tcp lanes
        over every other network the host has (a management network:
        seen as "tcp/fabric0 (+ tcp/mgmt0)", then endpoint timeouts, on
        the cluster test's hosts). Only the listen address's interface
        carries the fabric."""
        a, b = self.veth_namespaces()
        subprocess.run(["ip", "link", "add", "mgmt0", "netns", a, "type",
                        "veth", "peer", "name", "mgmt0", "netns", b],
                       check=True)
        for ns, ip in ((a, "198.18.5.1/24"), (b, "198.18.5.2/24")):
            subprocess.run(["ip", "-n", ns, "addr", "add", ip, "dev",
                            "mgmt0"], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "mgmt0", "up"],
                           check=True)
        self.wait_links_up(((a, "mgmt0"), (b, "mgmt0")))
        devs = [subprocess.run(["ip", "-n", ns, "-o", "-4", "addr", "show",
                                "to", ip], capture_output=True, text=True,
                               check=True).stdout.split()[1]
                for ns, ip in ((a, "198.18.0.1"), (b, "198.18.0.2"))]
        out_s, out_r = self.pair(f"198.18.0.1:{self.port}",
                                 f"198.18.0.2:{self.port}", ns=(a, b))
        for out, dev in ((out_s, devs[1]), (out_r, devs[0])):
            self.assertIn(f"tcp over {dev} only", out)
            vias = re.findall(r"connected via (.*)", out)
            self.assertTrue(vias, out)
            for via in vias:
                self.assertEqual(via.split(",")[0], f"tcp/{dev}", out)

    def key(self, name):
        """A fresh key file, as the docs say to make one."""
        path = os.path.join(self.state, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w",
                  encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
        return path

    def test_keyed_peers(self):
        """With a shared key the peers prove it to each other on every
        connection, then frames flow as without one (shared memory)."""
        key = self.key("fabric.key")
        out_s, out_r = self.pair(f"127.0.0.1:{self.port}",
                                 f"127.0.0.1:{self.port + 1}",
                                 transports="", keys=(key, key))
        for out in (out_s, out_r):
            self.assertIn("peers authenticated by key", out)
            self.assertRegex(out, r"connected via .*, authenticated")
            self.assertIn("connected to us, authenticated", out)
            self.assertNotIn("xstat auth_failures=", out)
            self.assertNotIn("xstat rx_untrusted=", out)

    def test_wrong_key_refused(self):
        """A listed address with another key gets no link and no frame
        through, either way; the refusals are counted, logged once."""
        a, b = f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port + 1}"
        recv = self.start("recv", a, [b], count=1, keyfile=self.key("a"),
                          extra=("--timeout", "5"))
        time.sleep(0.5)
        send = self.start("send", b, [a], count=1, keyfile=self.key("b"),
                          extra=("--timeout", "4"))
        rc_s, out_s = self.finish(send)
        rc_r, out_r = self.finish(recv)
        print(out_s, out_r, sep="\n")
        for rc, out in ((rc_s, out_s), (rc_r, out_r)):
            self.assertNotEqual(rc, 0, out)
            self.assertIn("link did not come up", out)
            self.assertIn("its key differs from ours", out)
            self.assertNotIn("xstat peer0_rx_frames=", out)
            failures = int(re.search(r"xstat auth_failures=(\d+)",
                                     out).group(1))
            # The peers retry (backoff from 100 ms): each try fails, one
            # line says so per 10 s.
            self.assertGreaterEqual(failures, 2, out)
            self.assertEqual(out.count("authentication failed"), 1, out)

    def test_keyless_sender_dropped(self):
        """A sender at a listed address but without the key: its
        connection is accepted by UCX but never proven, so every frame it
        sends on it is dropped and counted, none delivered."""
        a, b = f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port + 1}"
        recv = self.start("recv", a, [b], count=20, keyfile=self.key("a"),
                          sizes="64,9000", extra=("--timeout", "6"))
        time.sleep(0.5)
        send = self.start("send", b, [a], count=20, sizes="64,9000")
        rc_s, out_s = self.finish(send)
        rc_r, out_r = self.finish(recv)
        print(out_s, out_r, sep="\n")
        self.assertEqual(rc_s, 0, out_s)  # its side of the link came up
        self.assertIn("tx size=9000 frames=20", out_s)
        self.assertNotEqual(rc_r, 0, out_r)
        self.assertIn("link did not come up", out_r)
        self.assertNotIn("xstat peer0_rx_frames=", out_r)
        # 20 large frames and the small ones in one or more batches.
        untrusted = int(re.search(r"xstat rx_untrusted=(\d+)",
                                  out_r).group(1))
        self.assertGreaterEqual(untrusted, 21, out_r)

    def test_rx_bounded_by_descriptors(self):
        """A receiver that does not take its frames (it only polls the
        link) while a peer sends 3000: the port holds no more mbufs than
        the 256 rx descriptors it was given, the rest are dropped as
        missed, and every frame is either received or counted."""
        a, b = f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port + 1}"
        recv = self.start("recv", a, [b], transports="", count=3000,
                          sizes="1500", extra=("--rxd", "256", "--stall",
                                               "4", "--timeout", "8"))
        time.sleep(0.5)
        send = self.start("send", b, [a], transports="", count=3000,
                          sizes="1500")
        rc_s, out_s = self.finish(send)
        _, out_r = self.finish(recv)
        print(out_s, out_r, sep="\n")
        self.assertEqual(rc_s, 0, out_s)
        self.assertIn("tx size=1500 frames=3000", out_s)
        most = int(re.search(r"stall in_use max=(\d+)", out_r).group(1))
        self.assertGreater(most, 0, "frames arrived while stalled")
        self.assertLessEqual(most, 256, "held beyond its descriptors")
        got = int(re.search(r"rx size=1500 frames=(\d+)/3000",
                            out_r).group(1))
        missed = int(re.search(r"xstat rx_missed_errors=(\d+)",
                               out_r).group(1))
        self.assertEqual(got + missed, 3000, "every frame accounted for")
        self.assertIn("mempool in_use start=0 end=0 closed=0", out_r)

    def held_lends(self, lcores=None, extra=()):
        """20 frames of 9000 B over shared memory to a receiver that keeps
        5 of them (lent) past the port's stop: both sides' exit codes and
        output."""
        a, b = f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port + 1}"
        recv = self.start("recv", a, [b], transports="", count=20,
                          sizes="9000", lcores=lcores,
                          extra=["--hold", "5", *extra])
        time.sleep(0.5)
        send = self.start("send", b, [a], transports="", count=20,
                          sizes="9000")
        rc_s, out_s = self.finish(send)
        rc_r, out_r = self.finish(recv)
        print(out_r)
        return rc_s, out_s, rc_r, out_r

    def test_lent_frames_outlive_the_port(self):
        """Frames received without a copy point into UCX's buffers: an
        application that still holds some when it stops the port gets a
        warning, and the frames stay intact after the port is closed."""
        rc_s, out_s, rc_r, out_r = self.held_lends()
        self.assertEqual(rc_s, 0, out_s)
        self.assertEqual(rc_r, 0, out_r)
        self.assertIn("rx size=9000 frames=20/20", out_r)
        self.assertRegex(out_r, r"xstat peer0_rx_lent=20\b")
        self.assertIn("the application still holds 5 received frames",
                      out_r)
        self.assertIn("held frames=5 intact=5", out_r)

    def test_link_query_does_not_wait_for_stop(self):
        """While the port stops and waits (up to a second) for lent frames
        the application still holds, another thread's link query (OVS's
        watchdog) returns at once: the stop does not wait under the
        port's lock."""
        rc_s, out_s, rc_r, out_r = self.held_lends(
            lcores="0@1,1@0", extra=["--watchdog"])
        self.assertEqual((rc_s, rc_r), (0, 0), out_s + out_r)
        query = out_r.find("watchdog: link query during stop returned")
        wait_end = out_r.find("the application still holds 5 received")
        self.assertGreaterEqual(query, 0, out_r)
        self.assertGreaterEqual(wait_end, 0, out_r)
        self.assertLess(query, wait_end, "the query waited for the stop")

    def test_peer_restart(self):
        """The sender goes away and comes back on the same address: the
        receiver's link to it drops, reconnects, and frames flow again."""
        a, b = f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port + 1}"
        recv = self.start("recv", a, [b], count=200)
        time.sleep(0.5)
        for _ in range(2):
            send = self.start("send", b, [a], count=100)
            rc_s, out_s = self.finish(send)
            self.assertEqual(rc_s, 0, out_s)
        rc_r, out_r = self.finish(recv)
        self.assertEqual(rc_r, 0, out_r)
        self.assert_all_arrived(out_r)
        # Both incarnations' frames arrived (800 of 800, checked above)
        # and the receiver saw the first one go.
        self.assertRegex(out_r, r"peer 127\.0\.0\.1:\d+ lost")
        # No mbuf leaked across the peer's departure and return: the
        # receiver's mempool is back at its baseline, and empty once closed.
        self.assert_mempool_back(out_r)

    def test_peer_churn(self):
        """A peer restarted 50 times under traffic: every frame of every
        incarnation arrives, and the receiver's mempool is back at its
        baseline (nothing leaked across 50 departures)."""
        a, b = f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port + 1}"
        rounds, each = 50, 10
        recv = self.start("recv", a, [b], count=rounds * each,
                          sizes="64,9000", extra=("--timeout", "240"))
        time.sleep(0.5)
        for i in range(rounds):
            send = self.start("send", b, [a], count=each, sizes="64,9000")
            rc_s, out_s = self.finish(send)
            self.assertEqual(rc_s, 0, f"incarnation {i + 1}: {out_s}")
        rc_r, out_r = self.finish(recv, timeout=300)
        self.assertEqual(rc_r, 0, out_r)
        for size in (64, 9000):
            self.assertIn(f"rx size={size} frames={rounds * each}/"
                          f"{rounds * each}", out_r)
        self.assertIn("rx bad=0", out_r)
        self.assert_mempool_back(out_r)
        self.assertGreaterEqual(len(re.findall(r"peer 127\.0\.0\.1:\d+ "
                                               r"lost", out_r)), rounds - 1)

    def test_flows_spread_over_rx_queues(self):
        """A flow hash picks the receiver's queue: 32 flows (source MACs)
        into a 2-queue receiver land on both queues, all intact. The
        receiver's two lanes listen on its port and the next; the sender
        (one queue, one lane) connects to the first, and all frames come
        by it. The receiver's second lane, which finds no listener at the
        sender's port + 1, says so and why, once."""
        a, b = f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port + 2}"
        recv = self.start("recv", a, [b], count=256, sizes="64,1500",
                          extra=("--rxq", "2", "--linger", "5"))
        time.sleep(0.5)
        # The sender stays (its lane 0 up) until the receiver is done.
        send = self.start("send", b, [a], count=256, sizes="64,1500",
                          extra=("--flows", "32", "--linger", "8"))
        rc_r, out_r = self.finish(recv)
        rc_s, out_s = self.finish(send)
        self.assertEqual((rc_s, rc_r), (0, 0), out_s + out_r)
        self.assertIn("rx size=1500 frames=256/256", out_r)
        per_q = [int(n) for n in re.findall(r"rx queue \d frames=(\d+)",
                                            out_r)]
        self.assertEqual(len(per_q), 2, out_r)
        self.assertEqual(sum(per_q), 512)
        self.assertTrue(all(n > 0 for n in per_q), per_q)
        self.assertRegex(out_r, r"xstat lane0_rx_frames=512\b")
        self.assertNotRegex(out_r, r"xstat lane1_rx_frames=")
        self.assertEqual(out_r.count(
            f"lane 1 cannot reach peer 127.0.0.1:{self.port + 3} though "
            "lane 0 reaches it"), 1, out_r)
        self.assertIn("does the peer have 2 rx queues", out_r)

    def three_hosts(self):
        ns = self.bridged_namespaces(3)
        addr = [f"198.18.0.{i + 1}:{self.port}" for i in range(3)]
        return ns, addr, [[a for a in addr if a != me] for me in addr]

    def test_three_hosts_flooding(self):
        """A broadcast from one host reaches both others, small frames,
        MTU frames and 65226 B ones (chained mbufs: each peer's send
        holds a reference to every segment), and the sender's mempool is
        back at its baseline: no mbuf freed twice or kept."""
        ns, addr, peers = self.three_hosts()
        sizes = "64,1500,65226"
        recv = [self.start("recv", addr[i], peers[i], ns[i], count=50,
                           sizes=sizes) for i in (0, 2)]
        send = self.start("send", addr[1], peers[1], ns[1], count=50,
                          sizes=sizes, extra=("--learn-wait", "3"))
        rc_s, out_s = self.finish(send)
        self.assertEqual(rc_s, 0, out_s)
        self.assertRegex(out_s, r"xstat peer0_tx_frames=150\b")
        self.assertRegex(out_s, r"xstat peer1_tx_frames=150\b")
        self.assert_mempool_back(out_s)
        for proc in recv:
            rc_r, out_r = self.finish(proc)
            self.assertEqual(rc_r, 0, out_r)
            for size in sizes.split(","):
                self.assertIn(f"rx size={size} frames=50/50", out_r)
            self.assertIn("rx bad=0", out_r)

    def test_three_hosts_learning(self):
        """Once the sender has heard from a MAC, unicast to it goes to
        that host alone: the third host receives nothing."""
        ns, addr, peers = self.three_hosts()
        mac_a = "02:00:00:00:00:0a"
        silent = self.start("recv", addr[2], peers[2], ns[2], count=0,
                            sizes="64", extra=("--timeout", "12"))
        send = self.start("send", addr[1], peers[1], ns[1], count=50,
                          sizes="64", extra=("--dst", mac_a,
                                             "--learn-wait", "4"))
        recv = self.start("recv", addr[0], peers[0], ns[0], count=50,
                          sizes="64", mac=mac_a, extra=("--hello", "5"))
        rc_s, out_s = self.finish(send)
        rc_r, out_r = self.finish(recv)
        rc_c, out_c = self.finish(silent)
        self.assertEqual(rc_s, 0, out_s)
        self.assertEqual(rc_r, 0, out_r)
        self.assertIn("rx size=64 frames=50/50", out_r)
        self.assertEqual(rc_c, 0, out_c)
        self.assertIn("rx size=64 frames=0/0", out_c)
        self.assertIn("rx bad=0", out_c)
        # The sender's table counts what it learned (the hellos' source
        # MAC; the silent host sent none): still held, or forgotten when
        # the receiver left first.
        def xstat(name):
            found = re.search(rf"xstat {name}=(\d+)", out_s)
            return int(found.group(1)) if found else 0
        self.assertEqual(xstat("learn_learned"), 1, out_s)
        self.assertEqual(xstat("learn_entries") + xstat("learn_forgotten"),
                         1, out_s)
        self.assertEqual(xstat("learn_full"), 0, out_s)

    def test_unlisted_peer_rejected(self):
        a, b = self.veth_namespaces()
        recv = self.start("recv", f"198.18.0.1:{self.port}",
                          [f"198.18.0.2:{self.port}"], a, count=1)
        time.sleep(0.5)
        # Connects from 198.18.0.1 itself, which recv does not list.
        rogue = self.start("send", f"198.18.0.1:{self.port + 1}",
                           [f"198.18.0.1:{self.port}"], a, count=1,
                           extra=("--timeout", "3"))
        rc_rogue, out_rogue = self.finish(rogue)
        self.assertNotEqual(rc_rogue, 0, "the rogue's link must stay down")
        self.assertIn("link did not come up", out_rogue)
        send = self.start("send", f"198.18.0.2:{self.port}",
                          [f"198.18.0.1:{self.port}"], b, count=1)
        rc_s, out_s = self.finish(send)
        rc_r, out_r = self.finish(recv)
        self.assertEqual((rc_s, rc_r), (0, 0), out_s + out_r)
        # The rogue retries (backoff from 100 ms) for its 3 s: each try
        # is counted, one line per 10 s says so.
        self.assertRegex(out_r, r"xstat rejected_connections=([2-9]|\d\d)")
        self.assertEqual(out_r.count("rejected: not a listed peer"), 1,
                         out_r)
        self.assertTrue(re.search(r"rx size=64 frames=1/1", out_r))


if __name__ == "__main__":
    vrdmatest.main()
