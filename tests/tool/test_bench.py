#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The bench package without running a benchmark: --record writes between
its markers (and refuses a document without them before anything is
measured), the stamp says when, what and where; the package's imports go
one way (no cycle, cases.py a leaf), nothing edits sys.path or runs a
sibling module as a program; bare-UCX baselines run with the UCX settings
net_vrdma gives itself (read from its C source); a run's datapath cost
from its counters."""

import ast
import contextlib
import io
import os
import re
import socket
import subprocess
import tempfile
import types
import unittest
from unittest import mock

from bench import cases, fabric_bench, ns_bench, profile, record, table1
from vrdmalib import guest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DOC = """# Benchmarks

Intro.

<!-- vrdma-bench:table1 begin -->
old table1
<!-- vrdma-bench:table1 end -->

Between.

<!-- vrdma-bench:fabric begin -->
<!-- vrdma-bench:fabric end -->

After.
"""


def python_files(*dirs):
    for d in dirs:
        for root, subdirs, files in os.walk(os.path.join(TOP, d)):
            subdirs[:] = [s for s in subdirs if s not in ("__pycache__",)
                          and not s.startswith("build")]
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(root, name)


def parse(path):
    with open(path, encoding="utf-8") as f:
        return ast.parse(f.read(), path)


def bench_imports(path):
    """The bench modules path imports (relative or absolute), and whether
    it imports anything of the project at all."""
    found, project = set(), False
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1 or mod == "bench" or \
                    mod.startswith("bench."):
                project = True
                base = mod.split(".", 1)[1] if mod.startswith("bench.") \
                    else ("" if mod == "bench" else mod)
                if base:
                    found.add(base.split(".")[0])
                else:
                    found.update(a.name for a in node.names)
            elif mod.split(".")[0] == "vrdmalib":
                project = True
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in ("bench", "vrdmalib"):
                    project = True
                if alias.name.startswith("bench."):
                    found.add(alias.name.split(".")[1])
    return found, project


class Record(unittest.TestCase):
    def doc(self, text=DOC):
        f = tempfile.NamedTemporaryFile("w", suffix=".md", delete=False)
        with f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_replace_only_the_block(self):
        new = record.replace(DOC, "table1", "NEW\nLINES")
        self.assertIn("<!-- vrdma-bench:table1 begin -->\nNEW\nLINES\n"
                      "<!-- vrdma-bench:table1 end -->", new)
        self.assertNotIn("old table1", new)
        before, after = DOC.split("<!-- vrdma-bench:table1 begin -->")
        self.assertTrue(new.startswith(before))
        self.assertTrue(new.endswith(after.split(
            "<!-- vrdma-bench:table1 end -->")[1]))
        # Twice the same: the same document.
        self.assertEqual(record.replace(new, "table1", "NEW\nLINES"), new)
        # An empty block takes a table too.
        self.assertIn("x\n<!-- vrdma-bench:fabric end -->",
                      record.replace(DOC, "fabric", "x"))

    def test_missing_markers_are_an_error(self):
        with self.assertRaisesRegex(record.RecordError,
                                    "vrdma-bench:ns begin.*missing|"
                                    "missing.*vrdma-bench:ns begin"):
            record.replace(DOC, "ns", "x")
        twice = DOC + "<!-- vrdma-bench:table1 begin -->\n"
        with self.assertRaisesRegex(record.RecordError, "more than once"):
            record.replace(twice, "table1", "x")
        path = self.doc()
        with self.assertRaises(SystemExit) as cm:
            record.check(path, "ns")
        self.assertIn("<!-- vrdma-bench:ns begin -->", str(cm.exception.code))
        self.assertIn(path, str(cm.exception.code))
        with self.assertRaises(SystemExit) as cm:
            record.check(path + ".nonexistent", "fabric")
        self.assertIn("--record", str(cm.exception.code))
        record.check(None, "ns")  # no --record: nothing to check

    def test_missing_markers_stop_a_run_before_it_measures(self):
        path = self.doc("# nothing marked\n")
        for module in (fabric_bench, ns_bench):
            args = types.SimpleNamespace(record=path)
            with mock.patch.object(module, "measure_all") as measure, \
                    self.assertRaises(SystemExit):
                module.run(args)
            measure.assert_not_called()
        with mock.patch.object(table1, "Run") as run, \
                self.assertRaises(SystemExit):
            table1.main(types.SimpleNamespace(record=path, cases=None))
        run.assert_not_called()

    def test_write_stamps_the_table(self):
        path = self.doc()
        stamp = record.stamp("tcp (test)", "everything (test)",
                             when="2026-01-02 03:04:05 UTC")
        with contextlib.redirect_stderr(io.StringIO()):
            record.write(path, "fabric", "col1 col2\n1 2\n", stamp)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        block = text.split("<!-- vrdma-bench:fabric begin -->")[1].split(
            "<!-- vrdma-bench:fabric end -->")[0]
        self.assertIn("- date: 2026-01-02 03:04:05 UTC", block)
        self.assertRegex(block, r"- commit: ([0-9a-f]{12}|unknown)")
        self.assertIn(f"- machine: {socket.gethostname()}, "
                      f"{record.cpu_model()}, {os.cpu_count()} cores", block)
        self.assertIn("- transports: tcp (test)", block)
        self.assertIn("- emulated: everything (test)", block)
        self.assertIn("```\ncol1 col2\n1 2\n```", block)
        self.assertIn("old table1", text, "other blocks untouched")
        base = os.path.basename(path)
        self.assertEqual([n for n in os.listdir(os.path.dirname(path))
                          if n.startswith(base + ".tmp")], [],
                         "no temporary file left")

    def test_stamp_commit_is_the_checkout(self):
        head = subprocess.run(["git", "-C", TOP, "rev-parse", "--short=12",
                               "HEAD"], capture_output=True, text=True,
                              check=False).stdout.strip()
        if head:
            self.assertTrue(record.git_commit().startswith(head))

    def test_table1_stamp_says_emulated(self):
        ctx = types.SimpleNamespace(cluster=None, settings={},
                                    guests="ns")
        lines = "\n".join(table1.record_stamp(ctx))
        self.assertRegex(lines, r"- emulated: every case: .*network "
                         r"namespaces")
        self.assertIn(f"UCX_TLS={cases.UCX_TLS}", lines)

    def test_capture_prints_and_keeps(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            with record.Capture() as cap:
                print("row 1")
        self.assertEqual(out.getvalue(), "row 1\n")
        self.assertEqual(cap.text, "row 1\n")


class Layout(unittest.TestCase):
    def test_no_import_cycle_and_cases_is_a_leaf(self):
        graph = {}
        for path in python_files("bench"):
            name = os.path.basename(path)[:-3]
            graph[name] = bench_imports(path)[0] - {name}
        self.assertEqual(bench_imports(os.path.join(
            TOP, "bench", "cases.py")), (set(), False),
            "cases.py imports nothing of the project")
        self.assertEqual(bench_imports(os.path.join(
            TOP, "bench", "record.py")), (set(), False),
            "record.py imports nothing of the project")

        def visit(node, path):
            if node in path:
                self.fail("import cycle: " + " -> ".join(
                    path[path.index(node):] + [node]))
            for nxt in sorted(graph.get(node, ())):
                visit(nxt, path + [node])
        for node in graph:
            visit(node, [])

    def test_vrdmalib_imports_bench_only_when_a_command_runs(self):
        for path in python_files("tools"):
            for node in parse(path).body:  # module level only
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [node.module or ""] if isinstance(
                        node, ast.ImportFrom) else \
                        [a.name for a in node.names]
                    self.assertFalse(
                        any(n.split(".")[0] == "bench" for n in names),
                        f"{path}: imports bench at module level")

    def test_nothing_edits_sys_path(self):
        for path in python_files("bench", "tools", "tests"):
            for node in ast.walk(parse(path)):
                if isinstance(node, ast.Attribute) and node.attr == "path" \
                        and isinstance(node.value, ast.Name) and \
                        node.value.id == "sys":
                    self.fail(f"{path}:{node.lineno}: sys.path; use "
                              "PYTHONPATH (tools/vrdma, tests/meson.build)")

    def test_bench_runs_no_sibling_as_a_program(self):
        for path in python_files("bench", "tools"):
            for node in ast.walk(parse(path)):
                if isinstance(node, ast.Attribute) and \
                        node.attr == "executable" and \
                        isinstance(node.value, ast.Name) and \
                        node.value.id == "sys":
                    self.fail(f"{path}:{node.lineno}: sys.executable: "
                              "import the module and call it")

    def test_micro_benchmarks_are_modules(self):
        for module in (fabric_bench, ns_bench):
            self.assertTrue(callable(module.main))
            self.assertTrue(callable(module.run))
            self.assertTrue(callable(module.add_arguments))


class UcxSettings(unittest.TestCase):
    def test_driver_env_is_the_c_source(self):
        with open(os.path.join(TOP, "pmd", "vrdma_fabric.c"),
                  encoding="utf-8") as f:
            src = f.read()
        # The driver's table of settings, one {"UCX_NAME", "value",
        # users, key} entry each, made by ucx_settings() in the UCX
        # configuration of a port, for the transports its list can use:
        # all of them for UCX's default list, which the bench's baselines
        # stand for (in their environment).
        table = re.findall(
            r'\{"(UCX_\w+)", "([^"]*)", (\w+), (?:NULL|"\w+")\}', src)
        self.assertTrue(table, "no ucx_env table in pmd/vrdma_fabric.c")
        self.assertIn("ucp_config_modify(config,", src)
        self.assertNotIn("setenv(", src, "the driver changes no environment")
        env = {name: value for name, value, _users in table}
        self.assertEqual(env, cases.UCX_DRIVER_ENV,
                         "bench/cases.py UCX_DRIVER_ENV differs from the "
                         "ucx_env table of pmd/vrdma_fabric.c")
        users = {name: who for name, _value, who in table}
        self.assertEqual(users["UCX_TCP_RX_SEG_SIZE"], "tcp_names")
        self.assertEqual(users["UCX_MM_SEG_SIZE"], "mm_names")
        if "UCP_ERR_HANDLING_MODE_PEER" in src:
            self.assertIn("-e", cases.UCX_PERFTEST_ARGS)

    def test_fabric_bench_baseline_runs_with_them(self):
        seen = []

        class Proc:
            def kill(self):
                pass

            def wait(self):
                pass

        def popen(argv, env=None, **_):
            seen.append((argv, env))
            return Proc()

        def run(argv, env=None, **_):
            seen.append((argv, env))
            return types.SimpleNamespace(stdout="Final: 1 2 3 4 5 6 7 8\n",
                                         stderr="")
        ns = types.SimpleNamespace(a="nsa", b="nsb")
        with mock.patch.object(fabric_bench.subprocess, "Popen", popen), \
                mock.patch.object(fabric_bench.subprocess, "run", run), \
                mock.patch.object(fabric_bench.time, "sleep"), \
                mock.patch.dict(os.environ, {}, clear=False):
            for key in cases.UCX_DRIVER_ENV:
                os.environ.pop(key, None)
            fabric_bench.perftest(ns, "tcp", "ucp_am_bw", 64, 100)
        self.assertEqual(len(seen), 2)
        for argv, env in seen:
            for key, value in cases.UCX_DRIVER_ENV.items():
                self.assertEqual(env.get(key), value, f"{argv}: {key}")
            self.assertEqual(env["UCX_TLS"], "tcp")
            for arg in cases.UCX_PERFTEST_ARGS:
                self.assertIn(arg, argv)

    def test_table1_baseline_runs_with_them(self):
        bed = types.SimpleNamespace(ucx_tls="tcp", ucx_net_devices=None)
        env = table1.ucx_env(bed, "veth0")
        for key, value in cases.UCX_DRIVER_ENV.items():
            self.assertIn(f"{key}={value}", env)
        self.assertIn("UCX_TLS=tcp", env)
        self.assertIn("UCX_NET_DEVICES=veth0", env)


# perf report --stdio --no-children --sort comm,dso,sym -q, as perf 6.1
# prints it (columns padded to the longest name).
PMD_PERF_SHOW = """\
Time: 14:18:44.364
Measurement duration: 10.607 s

pmd thread numa_id 0 core_id 1:

  Iterations:               159216  (66.49 us/it)
  - Used TSC cycles:    4559745981  ( 20.5 % of total cycles)
  - idle iterations:         81987  (  3.7 % of used cycles)
  - busy iterations:         77229  ( 96.3 % of used cycles)
  - sleep iterations:       159216  (100.0 % of iterations)
  Sleep time (us):         8414756  ( 53 us/iteration avg.)
  Rx packets:                {0}  (9 Kpps, {1} cycles/pkt)
  Datapath passes:           93615  (1.00 passes/pkt)
"""


class FabricTargets(unittest.TestCase):
    """bench fabric's verdicts on issue 17's fabric targets, from a
    results table: the port against bare UCX on the same transport and
    against net_memif; a target a case could not fill is not measured."""

    RESULTS = [
        ("net_vrdma tcp", {64: 3.0e6, 1500: 0.9e6, "rtt": (22.0, 40.0)}),
        ("net_vrdma shm", {64: 9.0e6, 1500: 5.0e6, "rtt": (1.6, 2.3)}),
        ("ucx tcp", {64: 0.15e6, 1500: 0.15e6, "rtt": (16.0, 35.0)}),
        ("ucx shm", {64: 4.0e6, 1500: 3.3e6, "rtt": (1.0, 1.4)}),
        ("net_memif", {64: 18.0e6, 1500: None, "rtt": (1.8, 60.0)}),
    ]

    def test_verdicts(self):
        got = {t["target"]: (t["ratio"], t["status"])
               for t in fabric_bench.targets(self.RESULTS)}
        self.assertEqual(got, {
            "net_vrdma shm 64 B rate >= 4x ucx shm": (2.25, "missed"),
            "net_vrdma tcp 64 B rate >= 4x ucx tcp": (20.0, "met"),
            "net_vrdma shm 1500 B rate >= 1x net_memif": (None,
                                                          "not measured"),
            "net_vrdma shm 64 B round trip <= 2x ucx shm": (1.6, "met"),
            "net_vrdma tcp 64 B round trip <= 2x ucx tcp": (1.375, "met"),
            # Sizes the run left out.
            "net_vrdma shm 65226 B rate >= 0.8x ucx shm": (None,
                                                           "not measured"),
            "net_vrdma tcp 65226 B rate >= 0.8x ucx tcp": (None,
                                                           "not measured"),
        })

    def test_printed_under_the_table(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            fabric_bench.print_targets(self.RESULTS[:2])
        self.assertEqual(out.getvalue().splitlines()[0],
                         "target: net_vrdma shm 64 B rate >= 4x ucx shm: "
                         "- not measured")


class RunCost(unittest.TestCase):
    """What a vrdma bench run cost its datapath: CPU seconds per GB the
    client's interface moved (both ways) and the switches' PMD cycles per
    frame, weighted by frames over every host's PMD threads."""

    def test_cost_of_a_run_through_two_switches(self):
        cpu = {"cpu_h1_s": 1.5, "cpu_h2_s": 0.5, "cpu_tools_s": 9.0,
               "cpu_machine_s": 12.0, "wall_s": 10.0}
        got = table1.run_cost(cpu, 4_000_000_000, {
            "h1": PMD_PERF_SHOW.format(1000, 30000),
            "h2": PMD_PERF_SHOW.format(3000, 10000)})
        self.assertEqual(got, {"moved_gb": 4.0, "cpu_dp_s_per_gb": 0.5,
                               "pmd_cycles_per_frame": 15000})

    def test_no_switch_or_no_datapath_is_none(self):
        # Host to host: no datapath process, no switch; the bytes count.
        cpu = {"cpu_h1_s": 0.0, "cpu_h2_s": 0.0, "cpu_tools_s": 3.0}
        self.assertEqual(table1.run_cost(cpu, 2_000_000_000, {}),
                         {"moved_gb": 2.0, "cpu_dp_s_per_gb": None,
                          "pmd_cycles_per_frame": None})
        # Bytes unknown (the counters could not be read): no ratio.
        self.assertEqual(table1.run_cost({"cpu_h1_s": 1.0}, None,
                                         {"h1": ""}),
                         {"moved_gb": None, "cpu_dp_s_per_gb": None,
                          "pmd_cycles_per_frame": None})

    def test_interface_bytes_read_where_the_endpoint_runs(self):
        class Here(guest.Guest):
            def spawn(self, argv):
                return subprocess.Popen(argv, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)

            def reap(self, handle, timeout):
                return guest.reap_process(handle, timeout)

        here = Here("here")
        stats = "/sys/class/net/lo/statistics"
        with open(f"{stats}/rx_bytes", encoding="ascii") as f:
            rx = int(f.read())
        # Loopback receives what it sends: both counters, read later.
        self.assertGreaterEqual(ns_bench.if_bytes(here, "lo"), 2 * rx)
        self.assertIsNone(ns_bench.if_bytes(here, "no-such-if0"))

    def test_medians_keep_none(self):
        runs = [{"a": 1.0, "b": None}, {"a": 3.0, "b": 2.0},
                {"a": 2.0, "b": 4.0}]
        self.assertEqual(table1.median_cpu(runs), {"a": 2.0, "b": None})


PERF_REPORT = """\
    20.00%  swapper          [kernel.kallsyms]       [k] pv_native_safe_halt
    15.00%  pmd-c01/id:8     libc.so.6               [.] __memmove_avx_unaligned_erms
    10.00%  NPtcp            [kernel.kallsyms]       [k] copy_user_enhanced_fast_string
     8.00%  vrdma-vhost-ns   [kernel.kallsyms]       [k] tun_get_user
     7.00%  NPtcp            [kernel.kallsyms]       [k] tcp_sendmsg_locked
     6.00%  vrdma-vhost-ns   [kernel.kallsyms]       [k] finish_task_switch.isra.0
     5.00%  pmd-c01/id:8     ovs-vswitchd            [.] dp_netdev_input__
     4.00%  pmd-c01/id:8     libucp.so.0.0.0         [.] ucp_worker_progress
     3.00%  vrdma-vhost-ns   vrdma-vhost-ns          [.] vrdma_vu_switch_to_tap
     2.00%  NPtcp            NPtcp                   [.] main
     1.00%  ovs-vswitchd     libc.so.6               [.] __strlen_avx2
     0.50%  kworker/0:1      [kernel.kallsyms]       [k] csum_partial
"""


class Profile(unittest.TestCase):
    """bench/profile.py sorts a perf report's samples into what they were
    doing: the categories of a known report, and what it prints."""

    def test_categories(self):
        got = profile.summarize(profile.parse(PERF_REPORT))
        self.assertEqual(got["categories"], {
            "copy": 25.0, "idle": 20.0, "kernel tcp/ip, tap": 15.0,
            "ovs-vswitchd": 6.0, "kernel syscalls, scheduling": 6.0,
            "ucx": 4.0, "vhost-user frontend": 3.0, "netpipe, mpi": 2.0,
            "checksum": 0.5})
        # OVS's threads are one process.
        self.assertEqual(got["comms"]["ovs-vswitchd"], 25.0)
        self.assertEqual(got["top"][0][3], "pv_native_safe_halt")

    def test_one_line_and_text(self):
        got = profile.summarize(profile.parse(PERF_REPORT))
        line = profile.one_line(got["categories"])
        self.assertTrue(line.startswith("copy 25%, kernel tcp/ip, tap 15%"),
                        line)
        self.assertTrue(line.endswith("idle 20%"), line)
        self.assertNotIn("checksum", line)  # under 1% is left out
        text = profile.text(got)
        self.assertIn("  25.0%  copy", text)
        self.assertIn("tun_get_user  (kernel tcp/ip, tap)", text)

    def test_profile_refused_with_real_hosts(self):
        args = types.SimpleNamespace(quick=True, reps=1, profile=True,
                                     hosts="hosts.toml")
        with self.assertRaisesRegex(Exception, "this machine's CPUs"):
            table1.Options(args)


if __name__ == "__main__":
    unittest.main()
