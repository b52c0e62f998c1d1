#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Open MPI as vrdma starts it (vrdmalib.netpipe.mpirun_argv: NPmpi in
`vrdma bench`, the same settings in the guest image and `vrdma slurm`),
one rank per namespace, over TCP (btl tcp, pml ob1).

Two ranks that connect to each other at once: Open MPI 4.1's TCP BTL
counts its connected sockets so that its progress loop polls them on
every call; the rank that keeps the other's connection drops its own
connecting socket and uncounts it although it never counted it. With the
count at 0 that rank polls its sockets once per event tick (10 ms by
default) and every message waits for the tick: 10 ms round trips, seen
as a `vrdma bench` NPmpi run at 5 ms per message. Which rank connects
first is chance in NPmpi; here rank 1's connect is held back (its SYNs
dropped) so that the race is taken every run. The assertion counts
system calls, not time: while rank 1 waits it yields (sched_yield) and
polls its sockets (poll); with the fix it polls at least every 8th
progress call, in the broken state once per 10 ms, thousands of yields
apart."""

import os
import re

import vrdmatest
from vrdmatest import Case
from vrdmalib import netpipe

HERE = os.path.dirname(os.path.abspath(__file__))
PINGPONG = os.path.join(HERE, "mpi_pingpong.py")
ROUNDS = 200
# The TCP BTL listens in this port range, so that only its connections
# are held back (mpirun's own run on other ports).
PORT_MIN, PORT_RANGE = 20000, 100
# Yields between two polls of the sockets allowed (the fix: 8).
MAX_YIELDS_PER_POLL = 32
EVENTS = ("syscalls:sys_enter_poll", "syscalls:sys_enter_sched_yield")


def counts(path):
    """{event: count} from a `perf stat -x,` output file."""
    found = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.strip().split(",")
            if len(fields) > 2 and fields[2] in EVENTS:
                found[fields[2]] = int(fields[0])
    return found


class SimultaneousConnect(Case):
    def test_no_event_tick_wait(self):
        a, b = self.veth_namespaces()
        # On a's side: b's SYNs to the BTL's ports dropped, so rank 1's
        # own connect never completes; it is closed once rank 1 takes
        # rank 0's connection.
        vrdmatest.nft_drop(a, "vrdmampi", "input",
                           ["ip", "saddr", "198.18.0.2", "tcp", "dport",
                            f"{PORT_MIN}-{PORT_MIN + PORT_RANGE - 1}",
                            "tcp", "flags", "&", "(syn|ack)", "==", "syn"])
        work = os.path.join(self.state, "mpi")
        stat = os.path.join(work, "perf-stat.rank")
        rank = ["/bin/sh", "-c",
                'exec perf stat -x, -o "$0$OMPI_COMM_WORLD_RANK" '
                f'-e {",".join(EVENTS)} /usr/bin/python3 {PINGPONG} '
                f'{ROUNDS}', stat]
        subnet = "198.18.0.0/24"
        transport = [*netpipe.tcp_transport(subnet),
                     "--mca", "btl_tcp_port_min_v4", str(PORT_MIN),
                     "--mca", "btl_tcp_port_range_v4", str(PORT_RANGE)]
        code, out = netpipe.mpirun_ns([a, b], rank, work, timeout=120,
                                      ifname=subnet, transport=transport)
        print(out)
        self.assertEqual(code, 0, out)
        rtt = re.search(r"median_rtt_us ([\d.]+)", out)
        self.assertTrue(rtt, out)
        self.assertGreater(vrdmatest.nft_dropped(a, "vrdmampi"), 0,
                           "rank 1's connect was not held back")
        rank1 = counts(stat + "1")
        polls, yields = (rank1.get(e, 0) for e in EVENTS)
        print(f"rank 1: {polls} polls, {yields} yields; median round trip "
              f"{rtt.group(1)} us")
        self.assertGreater(polls, 0, rank1)
        self.assertLessEqual(
            yields, MAX_YIELDS_PER_POLL * polls,
            f"rank 1 yielded {yields} times and polled its sockets only "
            f"{polls} times (median round trip {rtt.group(1)} us): it "
            "waits for Open MPI's event tick")


if __name__ == "__main__":
    vrdmatest.main()
