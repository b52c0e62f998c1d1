#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma bench --quick` over a subset of Table 1's cases, on both kinds
of hosts it brings up (bare hosts with the fabric and Ethernet links; OVS
nodes with fabric ports): every output file, numbers in summary.csv and
summary.json that parse and are positive, Figures 4-6 as valid PNGs with
the expected series, a report with the ratio tables, and nothing left
behind. And `vrdma bench --hosts FILE` on two hosts reached by ssh
(vrdmatest.SshHosts), from node configs on them: the nodes, guests and
tools all run there, a case the file does not configure is skipped with
the key that would enable it, and the nodes are down again after."""

import csv
import json
import os
import struct
import zlib

import vrdmatest
from vrdmatest import Case, SshHosts, snapshot

TOOLS = {"vm2vm-vhost-shm": {"NPtcp", "NPmpi"},
         "vm2vm-virtio-eth": {"NPtcp", "NPmpi"},
         "vm2vm-rdma-p1": {"NPtcp", "NPmpi"},
         "h2h-verb-roce": {"ucx_perftest", "NPmpi"},
         "h2h-sock-roce": {"NPtcp", "NPmpi"}}
FIGURES = ("fig4-bandwidth.png", "fig5-latency.png",
           "fig6-small-latency.png")
FILES = ("summary.csv", "summary.json", "report.md", *FIGURES,
         "raw/vm2vm-rdma-p1.NPtcp.1.txt",
         "raw/vm2vm-rdma-p1.NPtcp.1.pmd-h1.txt",
         "raw/h2h-verb-roce.ucx_perftest.1.txt")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_chunks(path):
    """[(type, body)] of a PNG, every chunk's CRC checked."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == PNG_MAGIC, f"{path}: no PNG signature"
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"{path}: bad {kind} CRC"
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def png_text(chunks):
    text = {}
    for kind, body in chunks:
        if kind == b"tEXt":
            key, value = body.split(b"\0", 1)
        elif kind == b"zTXt":
            key, value = body.split(b"\0", 1)
            value = zlib.decompress(value[1:])
        else:
            continue
        text[key.decode("latin-1")] = value.decode("latin-1")
    return text


class Bench(Case):
    def test_quick_subset(self):
        before = snapshot()
        out = os.path.join(self.state, "bench")
        proc = self.vrdma("bench", "--quick", "--cases", ",".join(TOOLS),
                          "--out", out, timeout=1200)
        print(proc.stdout)
        for name in FILES:
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        self.check_json(out)
        self.check_csv(out)
        self.check_figures(out)
        with open(os.path.join(out, "report.md"), encoding="utf-8") as f:
            report = f.read()
        for heading in ("## Environment", "### to h2h-verb-roce",
                        "### to h2h-sock-roce", "## Targets (issue 7)"):
            self.assertIn(heading, report)
        # The ratio table's line for the fabric port against sockets.
        self.assertRegex(report, r"\| vm2vm-rdma-p1 \| NPtcp \| NPtcp \| "
                         r"[\d.]+x \| [\d.]+x \| [\d.]+x \| [\d.]+x \|")
        # What the run cost the datapath, printed under the table.
        self.assertRegex(proc.stdout, r"\nvm2vm-rdma-p1 +NPtcp +[\d.]+ +"
                         r"[\d.]+ +\d+\n")
        self.assertEqual(snapshot(), before)

    def check_json(self, out):
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            summary = json.load(f)
        self.assertEqual(set(summary["cases"]), set(TOOLS))
        for case, res in summary["cases"].items():
            self.assertEqual(res["status"], "ok", f"{case}: {res}")
            self.assertEqual(set(res["tools"]), TOOLS[case])
            for tool, got in res["tools"].items():
                self.assertGreater(len(got["rows"]), 5, f"{case} {tool}")
                for row in got["rows"]:
                    self.assertGreater(row["usec"], 0, f"{case} {tool}")
                    self.assertGreater(row["gbits"], 0, f"{case} {tool}")
        for m in summary["metrics"].values():
            for tool, fig in m.items():
                for key in ("lat1", "lat64", "bw64k", "peak"):
                    self.assertGreater(fig[key], 0, f"{tool} {key}")

    def check_csv(self, out):
        with open(os.path.join(out, "summary.csv"), encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        seen = {(r["case"], r["tool"]) for r in rows}
        self.assertEqual(seen, {(c, t) for c, ts in TOOLS.items()
                                for t in ts})
        for r in rows:
            self.assertGreater(int(r["bytes"]), 0)
            self.assertGreater(float(r["latency_us"]), 0, r)
            self.assertGreater(float(r["bandwidth_gbits"]), 0, r)
            for key in ("cpu_h1_s", "cpu_h2_s", "cpu_tools_s",
                        "cpu_machine_s"):
                self.assertGreaterEqual(float(r[key]), 0, r)
            self.assertGreater(float(r["wall_s"]), 0, r)
            if r["case"] == "vm2vm-rdma-p1":
                # Both switches worked for the guests' traffic.
                self.assertGreater(float(r["cpu_h1_s"]), 0, r)
                self.assertGreater(float(r["cpu_h2_s"]), 0, r)
            # What moving the bytes cost: the datapath's CPU and its
            # switches' cycles; none where the kernel alone carries them.
            self.assertGreater(float(r["moved_gb"]), 0, r)
            if r["case"] in ("vm2vm-rdma-p1", "vm2vm-vhost-shm"):
                self.assertGreater(float(r["cpu_dp_s_per_gb"]), 0, r)
                self.assertGreater(float(r["pmd_cycles_per_frame"]), 0, r)
            else:
                self.assertEqual(r["cpu_dp_s_per_gb"], "", r)
                self.assertEqual(r["pmd_cycles_per_frame"], "", r)

    def check_figures(self, out):
        measured = [f"{c} {t}" for c, ts in TOOLS.items() for t in ts]
        extra = {"fig4-bandwidth.png": [
                     "h2h-verb-roce ucp_am_bw (streaming)",
                     "2015: prototype I at 20-25% of verbs"],
                 "fig5-latency.png": [],
                 "fig6-small-latency.png": [
                     "2015: h2h-verb-roce 1.4-2.2 us",
                     "2015: vm2vm-rdma-p1 8.2-10.3 us"]}
        for name in FIGURES:
            chunks = png_chunks(os.path.join(out, name))
            self.assertEqual(chunks[0][0], b"IHDR", name)
            self.assertEqual(chunks[-1][0], b"IEND", name)
            width, height = struct.unpack(">II", chunks[0][1][:8])
            self.assertGreaterEqual(width, 600, name)
            self.assertGreaterEqual(height, 300, name)
            self.assertTrue(any(k == b"IDAT" for k, _ in chunks), name)
            series = json.loads(png_text(chunks)["vrdma-series"])
            self.assertEqual(sorted(series), sorted(measured + extra[name]),
                             name)


REMOTE = {"vm2vm-rdma-p1": {"NPtcp", "NPmpi"},
          "vm2vm-virtio-eth": {"NPtcp"},
          "h2h-verb-roce": {"ucx_perftest", "NPmpi"}}


class BenchRealHosts(Case):
    def test_hosts_file(self):
        before = snapshot()
        hosts = SshHosts(self, self.state)
        lines = [f'ssh = "{hosts.ssh}"', 'ucx_tls = "tcp"']
        for i, name in enumerate(hosts.names):
            node = f"{name}n"
            peer = f"198.19.0.{2 - i}:7000"
            config = self.write_config(node, "\n".join([
                "[node]", f'name = "{node}"', f'state_dir = "{self.state}"',
                "[memory]", "socket_mem_mb = 512", "[ports]", "tso = true",
                "[fabric]", f'listen = "198.19.0.{i + 1}:7000"',
                f'peers = ["{peer}"]', ""]))
            # fabric_ip left out: the bench reads it from the config.
            lines += ["[[host]]", f'name = "{name}"',
                      f'address = "root@{hosts.address(i)}"',
                      f'config = "{config}"', f'eth_ip = "198.19.1.{i + 1}"',
                      'eth_bridge = "ethbr0"',
                      f'eth_guest_ip = "198.19.1.{21 + i}/24"']
        path = os.path.join(self.state, "hosts.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        out = os.path.join(self.state, "bench")
        cases = [*REMOTE, "vm2vm-raw-p1"]
        proc = self.vrdma("bench", "--quick", "--hosts", path, "--cases",
                          ",".join(cases), "--out", out, timeout=1200)
        print(proc.stdout)
        self.assertIn("vm2vm-raw-p1       -             SKIPPED:",
                      proc.stdout)
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            summary = json.load(f)
        raw = summary["cases"]["vm2vm-raw-p1"]
        self.assertEqual(raw["status"], "skipped")
        self.assertIn("no raw_config", raw["error"])
        for case, tools in REMOTE.items():
            res = summary["cases"][case]
            self.assertEqual(res["status"], "ok", f"{case}: {res}")
            self.assertTrue(tools <= set(res["tools"]), case)
            for tool, got in res["tools"].items():
                self.assertGreater(len(got["rows"]), 5, f"{case} {tool}")
                for row in got["rows"]:
                    self.assertGreater(row["usec"], 0, f"{case} {tool}")
                    self.assertGreater(row["gbits"], 0, f"{case} {tool}")
                # Per host CPU: the whole host, read there; the bytes
                # moved, read on the client's interface there.
                self.assertGreater(got["cpu"]["cpu_h1_s"], 0, case)
                self.assertGreater(got["cpu"]["moved_gb"], 0, case)
        env = summary["environment"]
        for i, name in enumerate(hosts.names):
            self.assertIn(f"root@{hosts.address(i)}", env["hosts"])
            # fabric_ip came from the node config, the device from the host.
            self.assertIn(f"fabric 198.19.0.{i + 1} on fabric0", env[name])
        # The switches' logs came back from the hosts.
        for name in hosts.names:
            log = os.path.join(out, "logs", f"{name}.fabric.log")
            self.assertIn("net_vrdma", vrdmatest.read(log))
        # The nodes it brought up are down, its guests gone.
        for name in hosts.names:
            down = self.vrdma("node", "status", "--config",
                              os.path.join(self.state, f"{name}n.toml"),
                              ok=False)
            self.assertIn("is not up", down.stderr)
        del hosts
        self.doCleanups()
        self.assertEqual(snapshot(), before)


if __name__ == "__main__":
    vrdmatest.main()
