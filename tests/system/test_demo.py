#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The README's main-job command, `vrdma demo`, in a short form: it must
print the results table, write results.json and leave nothing behind."""

import json
import os

import vrdmatest
from vrdmatest import Case, snapshot


class Demo(Case):
    def test_demo(self):
        before = snapshot()
        out = os.path.join(self.state, "results")
        proc = self.vrdma("demo", "--seconds", "1", "--out", out)
        self.assertIn("vm1 -> vm2", proc.stdout)
        self.assertIn("vm2 -> vm1", proc.stdout)
        with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
            results = json.load(f)["results"]
        self.assertEqual(len(results), 2)
        for r in results:
            self.assertGreater(r["received"], 0)
            self.assertEqual(r["switched"], r["sent"])
        for name in ("node-status.txt", "ovs-daemon-demo.log"):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        self.assertEqual(snapshot(), before)


if __name__ == "__main__":
    vrdmatest.main()
