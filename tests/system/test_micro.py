#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma bench --quick --cases micro` on a fresh clone: both
micro-benchmarks (bench/fabric_bench.py, bench/ns_bench.py) run to the end
and print their tables and their targets' verdicts, the measured ones with
a ratio, and leave nothing behind. Only the numbers' shape is checked,
never their size: a verdict may say met or missed."""

import json
import os

import vrdmatest
from vrdmatest import Case, snapshot

NUM = r"[\d.]+"
# Rows fabric_bench --quick fills on this machine (af_packet and af_xdp
# too, when the kernel lets them; not asserted).
FABRIC_ROWS = ("net_vrdma shm", "net_vrdma tcp", "ucx shm", "ucx tcp",
               "net_memif")


class Micro(Case):
    def test_quick(self):
        before = snapshot()
        out = os.path.join(self.state, "micro")
        self.vrdma("bench", "--quick", "--cases", "micro", "--out", out,
                   timeout=840)
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            micro = json.load(f)["micro"]
        self.assertEqual(set(micro), {"fabric_bench", "ns_bench"})
        for name, m in micro.items():
            self.assertEqual(m["exit"], 0, f"{name}: see {m['log']}")

        with open(os.path.join(out, "micro-fabric_bench.txt"),
                  encoding="utf-8") as f:
            fabric = f.read()
        print(fabric)
        for row in FABRIC_ROWS:
            self.assertRegex(fabric, rf"\n{row} +{NUM} +{NUM} ", row)
        # --quick measures 64 B and the round trip: those verdicts carry
        # their ratio; 65226 B is left out and says so.
        for tl in ("shm", "tcp"):
            self.assertRegex(fabric, rf"target: net_vrdma {tl} 64 B rate "
                             rf">= 4x ucx {tl}: {NUM}x (met|missed)\n")
            self.assertRegex(fabric, rf"target: net_vrdma {tl} 64 B round "
                             rf"trip <= 2x ucx {tl}: {NUM}x (met|missed)\n")
            self.assertRegex(fabric, rf"target: net_vrdma {tl} 65226 B "
                             rf"rate >= 0.8x ucx {tl}: - not measured\n")

        with open(os.path.join(out, "micro-ns_bench.txt"),
                  encoding="utf-8") as f:
            ns = f.read()
        print(ns)
        for row in ("veth", "vhost-ns", "testpmd-tap"):
            self.assertRegex(ns, rf"\n{row} +{NUM} +{NUM} +{NUM} ", row)
        self.assertRegex(ns, rf"\nvhost-ns:\n  64 KiB bandwidth vs veth +"
                         rf"{NUM}x +\(target >= 0\.50x\) +(PASS|MISS)\n")
        self.assertRegex(ns, rf"\n  1 B latency vs veth +{NUM}x +"
                         rf"\(target <= 3\.00x\) +(PASS|MISS)\n")
        self.assertEqual(snapshot(), before)


if __name__ == "__main__":
    vrdmatest.main()
