#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The README's main-job command, `vrdma demo --hosts 2`, in its quick
form: every guest pair reachable, NetPIPE numbers that parse and are
positive, frames on the fabric only for the cross-host run, every output
file written, and nothing left behind."""

import json
import os

import vrdmatest
from vrdmatest import Case, snapshot


class Demo(Case):
    def test_demo_two_hosts(self):
        before = snapshot()
        out = os.path.join(self.state, "results")
        proc = self.vrdma("demo", "--hosts", "2", "--quick", "--out", out,
                          timeout=900)
        print(proc.stdout)
        self.assertIn("reachability: 12/12 guest pairs", proc.stdout)
        with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
            res = json.load(f)
        self.assertEqual(res["unreachable"], [])
        runs = res["runs"]
        self.assertEqual(set(runs), {"same-host", "cross-host",
                                     "npmpi cross-host"})
        for label, r in runs.items():
            for key in ("lat_1B_us", "lat_64B_us", "bw_64KiB_gbits",
                        "bw_peak_gbits"):
                self.assertGreater(r[key], 0, f"{label} {key}")
        # The path taken: the same-host run leaves the fabric idle (a few
        # frames of background at most), the cross-host one crosses it.
        same = runs["same-host"]["uplink_counters"]["demo-h1"]
        cross = runs["cross-host"]["uplink_counters"]["demo-h1"]
        self.assertLess(same["tx_pkts"], 50, same)
        self.assertGreater(cross["tx_pkts"], 1000, cross)
        for name in ("nptcp-same-host.txt", "nptcp-cross-host.txt",
                     "npmpi-cross-host.txt", "node-status-demo-h1.txt",
                     "node-status-demo-h2.txt", "ovs-daemon-demo-h1.log"):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        self.assertEqual(snapshot(), before)

    def test_bad_options(self):
        """One line naming the problem and the fix, nothing made (VM
        guests across hosts: test_vm's cross-host case)."""
        before = snapshot()
        proc = self.vrdma("demo", "--hosts", "1", ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("a fabric needs two hosts or more", proc.stderr)
        proc = self.vrdma("demo", "--uplink", "raw", "--transports", "tcp",
                          ok=False)
        self.assertIn("--transports only applies to the fabric uplink",
                      proc.stderr)
        self.assertEqual(snapshot(), before)


if __name__ == "__main__":
    vrdmatest.main()
