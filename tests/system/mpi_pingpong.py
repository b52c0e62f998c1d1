#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Two MPI ranks that connect to each other at once, then ping-pong a
byte ROUNDS times; rank 0 prints "median_rtt_us N". Rank 1 sends first
and rank 0 half a second later, so that rank 0's connection reaches rank
1 while rank 1's own connect is still under way (test_mpi delays it):
the Open MPI TCP BTL's simultaneous-connect path."""

import statistics
import sys
import time

from mpi4py import MPI


def main():
    rounds = int(sys.argv[1])
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    byte = bytearray(1)
    msg = [byte, MPI.BYTE]
    if rank == 1:
        first = comm.Isend(msg, dest=0, tag=1)
        comm.Recv(msg, source=0, tag=0)
        first.Wait()
    else:
        time.sleep(0.5)
        comm.Send(msg, dest=1, tag=0)
        comm.Recv(msg, source=1, tag=1)
    rtts = []
    for _ in range(rounds):
        start = time.perf_counter()
        if rank == 0:
            comm.Send(msg, dest=1)
            comm.Recv(msg, source=1)
        else:
            comm.Recv(msg, source=0)
            comm.Send(msg, dest=0)
        rtts.append(time.perf_counter() - start)
    if rank == 0:
        print(f"median_rtt_us {statistics.median(rtts) * 1e6:.1f}")


if __name__ == "__main__":
    main()
