# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma demo`: the single-machine main job, in its single-node form until
the fabric demo lands: one node's switch, two guests attached through
vhost-user (DPDK virtio_user endpoints), frames each way through OVS, and a
results table on stdout (progress on stderr, raw outputs in --out)."""

import json
import os
import shutil
import sys

from . import config as cfgmod
from . import ports
from . import setup as setupmod
from .endpoints import Testpmd
from .node import Node
from .traffic import one_way, wait_links
from .util import VrdmaError, progress

NODE = "demo"


def main(args):
    setupmod.setup()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    node = Node(cfgmod.load(None, NODE))
    progress(f"demo: bringing node {NODE} up")
    node.up()
    endpoints = []
    results = []
    try:
        socks = [ports.add(node, g) for g in ("vm1", "vm2")]
        progress("demo: attaching two guests (testpmd net_virtio_user)")
        for guest, sock in zip(("vm1", "vm2"), socks):
            ep = Testpmd(f"demo-{guest}", sock, True, out)
            endpoints.append(ep)
            ep.start()
        if not wait_links(node, ["vm1", "vm2"], endpoints):
            raise VrdmaError("vhost-user links of vm1/vm2 not up after 30s",
                             f"see {node.paths.daemon_log}")
        for (a, an), (b, bn) in (((endpoints[0], "vm1"), (endpoints[1], "vm2")),
                                 ((endpoints[1], "vm2"), (endpoints[0], "vm1"))):
            progress(f"demo: {an} -> {bn}: {args.frame} B frames for "
                     f"{args.seconds:g} s")
            res = one_way(node, a, b, args.seconds, args.frame)
            res["direction"] = f"{an} -> {bn}"
            results.append(res)
        status_path = os.path.join(out, "node-status.txt")
        with open(status_path, "w", encoding="utf-8") as f:
            ports.status(node, f)
    finally:
        for ep in endpoints:
            ep.stop()
        if not args.keep:
            progress(f"demo: taking node {NODE} down")
            shutil.copy(node.paths.daemon_log, out)
            node.down()
        else:
            progress(f"demo: node {NODE} left up (--keep); "
                     f"vrdma node down --node {NODE} removes it")
    with open(os.path.join(out, "results.json"), "w",
              encoding="utf-8") as f:
        json.dump({"node": NODE, "mode": "vhost-user client",
                   "results": results}, f, indent=1)
    print(f"vrdma demo: node {NODE}, two vhost-user guests (DPDK "
          "virtio_user), OVS-DPDK bridge, single host")
    print(f"{'direction':<12} {'frame':>6} {'sent':>10} {'switched':>10} "
          f"{'received':>10} {'Mpps':>7} {'Gbit/s':>7}")
    for r in results:
        print(f"{r['direction']:<12} {r['frame']:>5}B {r['sent']:>10} "
              f"{r['switched']:>10} {r['received']:>10} {r['mpps']:>7} "
              f"{r['gbits']:>7}")
    print(f"raw outputs: {out}")
    ok = all(r["received"] > 0 and r["switched"] == r["sent"]
             for r in results)
    if not ok:
        print("demo: FAILED: frames did not cross the switch", file=sys.stderr)
    return 0 if ok else 1
