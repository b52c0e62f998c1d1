#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The vrdma command line without root: --help everywhere, the example
config round-trips through the schema, config errors name the key."""

import contextlib
import io
import os
import subprocess
import tempfile
import unittest
from unittest import mock

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
VRDMA = os.path.join(TOP, "tools", "vrdma")

from bench import remote as cluster
from vrdmalib import __main__ as cli
from vrdmalib import config, node
from vrdmalib.util import VrdmaError, parse_cpu_list

SUBCOMMANDS = ["setup", "check", "node", "port", "ns", "domxml", "vsctl",
               "appctl", "env", "hugepages", "config", "demo", "bench",
               "test", "manpage", "fabric", "service", "cluster", "roce"]


def vrdma(*args):
    return subprocess.run([VRDMA, *args], capture_output=True, text=True,
                          timeout=60, check=False)


class Cli(unittest.TestCase):
    def test_help_everywhere(self):
        top = vrdma("--help")
        self.assertEqual(top.returncode, 0, top.stderr)
        for sub in SUBCOMMANDS:
            self.assertIn(sub, top.stdout)
            out = vrdma(sub, "--help")
            self.assertEqual(out.returncode, 0, f"{sub}: {out.stderr}")
            self.assertIn(f"usage: vrdma {sub}", out.stdout)

    def test_runs_with_the_standard_library_alone(self):
        """On a fresh machine the tool starts before `setup` has installed
        any package: --help, setup, test and demo must not need a module
        outside Python's standard library to parse their command line.
        Every module setup installs is hidden here (a module of that name
        that refuses to import, first on the path)."""
        with tempfile.TemporaryDirectory() as hide:
            for mod in ("tomli_w", "prometheus_client", "matplotlib"):
                with open(os.path.join(hide, f"{mod}.py"), "w",
                          encoding="ascii") as f:
                    f.write(f"raise ImportError('{mod} hidden: not "
                            "installed yet')\n")
            env = dict(os.environ, PYTHONPATH=hide)
            for args in (["--help"], ["setup", "--help"],
                         ["test", "--help"], ["demo", "--help"]):
                out = subprocess.run([VRDMA, *args], capture_output=True,
                                     text=True, timeout=60, check=False,
                                     env=env)
                self.assertEqual(out.returncode, 0,
                                 f"vrdma {' '.join(args)}: {out.stderr}")
                self.assertIn("usage: vrdma", out.stdout)

    def test_bench_micro_help(self):
        """The micro-benchmarks run through the CLI with their own
        options, --record among them."""
        for micro, option in (("fabric", "--sizes"), ("ns", "--variants")):
            out = vrdma("bench", micro, "--help")
            self.assertEqual(out.returncode, 0, f"{micro}: {out.stderr}")
            self.assertIn(f"usage: vrdma bench {micro}", out.stdout)
            self.assertIn(option, out.stdout)
            # argparse wraps lines at spaces and after hyphens.
            self.assertIn(f"<!--vrdma-bench:{micro}begin-->",
                          "".join(out.stdout.split()))
        out = vrdma("bench", "--help")
        self.assertIn("<!--vrdma-bench:table1begin-->",
                      "".join(out.stdout.split()))

    def test_bench_parses_its_micro_benchmarks(self):
        parser = cli.build_parser()
        args = parser.parse_args(["bench", "--quick", "--record", "a.md"])
        self.assertEqual((args.micro, args.quick, args.record),
                         (None, True, "a.md"))
        args = parser.parse_args(["bench", "fabric", "--sizes", "64",
                                  "--record", "b.md"])
        self.assertEqual((args.micro, args.sizes, args.record),
                         ("fabric", "64", "b.md"))
        args = parser.parse_args(["bench", "ns", "--variants", "veth"])
        self.assertEqual((args.micro, args.variants), ("ns", "veth"))

    def test_bench_options_before_a_micro_are_refused(self):
        """Table 1's options before fabric/ns would be overridden
        silently by the micro-benchmark's defaults: a usage error, before
        anything runs."""
        # In this process, with the command itself replaced: a regression
        # must not start a benchmark.
        err = io.StringIO()
        with mock.patch.object(cli, "cmd_bench") as bench, \
                contextlib.redirect_stderr(err), \
                self.assertRaises(SystemExit) as cm:
            cli.main(["bench", "--quick", "fabric"])
        self.assertEqual(cm.exception.code, 2)
        bench.assert_not_called()
        self.assertIn("vrdma bench fabric --quick", err.getvalue())

    def test_service_units_verify(self):
        """vrdma service units writes unit files systemd-analyze accepts
        without a warning, naming this checkout's tool."""
        with tempfile.TemporaryDirectory() as d:
            out = vrdma("service", "units", "--out", d)
            self.assertEqual(out.returncode, 0, out.stderr)
            names = sorted(os.listdir(d))
            self.assertEqual(names, ["vrdma-node-check@.service",
                                     "vrdma-node-check@.timer",
                                     "vrdma-node@.service"])
            with open(os.path.join(d, "vrdma-node@.service"),
                      encoding="utf-8") as f:
                self.assertIn(f"ExecStart={VRDMA} -q node up --node %i",
                              f.read())
            env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{d}:")
            for unit in ("vrdma-node@cn1.service",
                         "vrdma-node-check@cn1.service",
                         "vrdma-node-check@cn1.timer"):
                proc = subprocess.run(
                    ["systemd-analyze", "verify", "--man=no",
                     os.path.join(d, unit)], capture_output=True,
                    text=True, env=env, check=False)
                self.assertEqual((proc.returncode, proc.stderr.strip()),
                                 (0, ""), unit)

    def test_failing_command_names_a_fix(self):
        """A program vrdma runs that fails gives one error with its own
        last line and a fix: the program's usual one, else the command
        line to run again."""
        from vrdmalib.util import run
        with self.assertRaises(VrdmaError) as ctx:
            run(["sh", "-c", "echo first >&2; echo the reason >&2; exit 3"])
        self.assertIn("exit 3): the reason", ctx.exception.what)
        self.assertIn("sh -c", ctx.exception.fix)
        with self.assertRaises(VrdmaError) as ctx:
            run(["ovs-vsctl", "--db=unix:/nonexistent/db.sock",
                 "--timeout=2", "show"])
        self.assertIn("vrdma node status", ctx.exception.fix)

    def test_version(self):
        """--version names meson.build's version and, in a git checkout,
        the commit."""
        out = vrdma("--version")
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(os.path.join(TOP, "meson.build"), encoding="utf-8") as f:
            want = f.read().split("version: '", 1)[1].split("'", 1)[0]
        self.assertRegex(out.stdout.strip(),
                         rf"^vrdma {want}( \(git [0-9a-f]{{7,}}(-dirty)?\))?$")

    def test_unknown_subcommand_is_usage_error(self):
        out = vrdma("frobnicate")
        self.assertEqual(out.returncode, 2)
        self.assertIn("invalid choice", out.stderr)

    def test_example_config_round_trips(self):
        text = vrdma("config", "example").stdout
        with tempfile.NamedTemporaryFile("w", suffix=".toml",
                                         delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        cfg = config.load(f.name, "cn1")
        self.assertEqual(cfg.name, "cn1")
        self.assertEqual(cfg["memory.hugepages"], 256)
        self.assertEqual(cfg["ports.mode"], "client")
        with open(os.path.join(TOP, "configs", "node.example.toml"),
                  encoding="utf-8") as f:
            self.assertEqual(f.read().strip(), text.strip(),
                             "configs/node.example.toml is stale: "
                             "tools/vrdma config example > it")

    def test_bench_hosts_example(self):
        text = vrdma("config", "bench-hosts").stdout
        path = self.hosts_file(text)
        cl = cluster.Cluster(path)
        self.assertEqual([h.name for h in cl.hosts], ["cn1", "cn2"])
        self.assertEqual(cl.hosts[1]["config"], "/etc/vrdma/cn2.toml")
        self.assertEqual(cl.hosts[0]["raw_config"], "")
        # Each host's command line: the ssh command, its address, argv
        # quoted for the remote shell, bounded in time there.
        self.assertEqual(cl.hosts[0].argv(["echo", "a b"], 30)[-2:],
                         ["root@cn1", "timeout -k 5 30 echo 'a b'"])
        with open(os.path.join(TOP, "configs", "bench-hosts.example.toml"),
                  encoding="utf-8") as f:
            self.assertEqual(f.read(), text,
                             "configs/bench-hosts.example.toml is stale: "
                             "tools/vrdma config bench-hosts > it")

    def hosts_file(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".toml",
                                         delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        return f.name

    def bad_hosts(self, text):
        with self.assertRaises(VrdmaError) as ctx:
            cluster.Cluster(self.hosts_file(text))
        return ctx.exception.line()

    def test_bench_hosts_errors_name_the_problem(self):
        one = '[[host]]\nname = "a"\naddress = "a"\nconfig = "/c"\n'
        two = one + one.replace('"a"', '"b"')
        self.assertIn("the bench's cases need two", self.bad_hosts(one))
        self.assertIn("unknown key 'adress'", self.bad_hosts(
            two.replace("address", "adress", 1)))
        self.assertIn("config is required", self.bad_hosts(
            two.replace('config = "/c"\n', "", 1)))
        self.assertIn("two hosts named a", self.bad_hosts(
            one + one))
        self.assertIn("eth_ip: '10.0.0' is not an address", self.bad_hosts(
            two + 'eth_ip = "10.0.0"\n'))
        self.assertIn("guest_ips: '10.0.0.1' is not an address with a "
                      "prefix", self.bad_hosts(
                          two + 'guest_ips = ["10.0.0.1"]\n'))
        self.assertIn("eth_bridge without eth_guest_ip", self.bad_hosts(
            two + 'eth_bridge = "br0"\n'))
        self.assertIn("guest_ips must be a list", self.bad_hosts(
            two + 'guest_ips = "10.0.0.1/24"\n'))
        self.assertIn("not TOML", self.bad_hosts("[[host]\n"))
        self.assertIn("ssh is empty", self.bad_hosts('ssh = ""\n' + two))

    def test_rsh_agent_reaches_each_host(self):
        cl = cluster.Cluster(self.hosts_file(
            vrdma("config", "bench-hosts").stdout))
        first, second = cl.hosts
        text = cluster.rsh_agent(first, [(first, "g1", "g1"),
                                         (second, "g2", "g2"),
                                         (second, "cn2", None)])
        # Each place its own TMPDIR (Open MPI's session directories).
        self.assertIn('g1) mkdir -p /tmp/vrdma-ompi-g1 && ip netns exec g1 '
                      'env TMPDIR=/tmp/vrdma-ompi-g1 sh -c "$*" ;;', text)
        self.assertIn("exec nsenter --net=\"$VRDMA_HOST_NETNS\" ssh -o "
                      "BatchMode=yes -o ConnectTimeout=10 root@cn2 "
                      "\"mkdir -p /tmp/vrdma-ompi-g2 && ip netns exec g2 "
                      "env TMPDIR=/tmp/vrdma-ompi-g2 sh -c '$q'\"", text)
        self.assertIn("exec nsenter --net=\"$VRDMA_HOST_NETNS\" ssh -o "
                      "BatchMode=yes -o ConnectTimeout=10 root@cn2 "
                      "\"mkdir -p /tmp/vrdma-ompi-cn2 && env "
                      "TMPDIR=/tmp/vrdma-ompi-cn2 sh -c '$q'\"", text)

    def bad(self, data):
        with self.assertRaises(VrdmaError) as ctx:
            config.validate(data, "t.toml")
        return ctx.exception.line()

    def test_config_errors_name_the_key(self):
        self.assertIn("did you mean 'pmd_cores'",
                      self.bad({"cpu": {"pmd_core": "1"}}))
        self.assertIn("[memry]", self.bad({"memry": {}}))
        self.assertIn("hugepage_size", self.bad(
            {"memory": {"hugepage_size": "4M"}}))
        self.assertIn("mtu", self.bad({"ports": {"mtu": 100000}}))
        self.assertIn("mode", self.bad({"ports": {"mode": "both"}}))
        self.assertIn("pmd_cores", self.bad({"cpu": {"pmd_cores": "x-y"}}))
        self.assertIn("devargs", self.bad({"uplink": {"devargs": "a b"}}))

    def test_tso_on_unless_raw_uplink(self):
        """[ports] tso defaults to on (2.8x the guests' TCP bandwidth at
        64 KiB), but not with a raw uplink, whose frames must fit the
        wire, nor for server-mode ports; an explicit value wins."""
        def tso(text):
            with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
                f.write(text)
                f.flush()
                return config.load(f.name, "cn1")["ports.tso"]
        self.assertIs(tso(""), True)
        self.assertIs(tso('[ports]\ntso = "auto"\n'), True)
        self.assertIs(tso('[uplink]\niface = "eth1"\n'), False)
        self.assertIs(tso('[uplink]\ndevargs = "0000:3b:00.0"\n'), False)
        self.assertIs(tso("[ports]\ntso = false\n"), False)
        self.assertIs(tso('[ports]\ntso = true\n[uplink]\niface = "eth1"'
                          "\n"), True)
        # OVS 3.1 drops offloaded frames to server-mode ports: not with
        # them by default, refused when asked for both.
        self.assertIs(tso('[ports]\nmode = "server"\n'), False)
        self.assertIs(tso('[ports]\nmode = "server"\ntso = false\n'),
                      False)
        with self.assertRaises(VrdmaError) as err:
            tso('[ports]\nmode = "server"\ntso = true\n')
        self.assertIn('tso = true with mode = "server"', str(err.exception))
        self.assertIn("dpdkvhostuser", str(err.exception))
        self.assertIn("tso", self.bad({"ports": {"tso": "yes"}}))

    def test_fabric_dev_reaches_the_devargs(self):
        """[fabric] dev becomes net_vrdma's dev= ('+' kept: the driver
        turns it into UCX's ','), after transports; empty leaves UCX to
        choose, with no dev= at all."""
        fabric = {"listen": "198.18.0.1:7000", "peers": ["198.18.0.2:7000"],
                  "transports": "rc", "dev": "rxe0:1+eth0"}
        values = config.validate({"fabric": fabric}, "t.toml")
        self.assertEqual(values["fabric"]["dev"], "rxe0:1+eth0")
        cfg = config.NodeConfig(values, "t.toml")
        cfg.values["node"]["name"] = "cn1"
        self.assertEqual(node.Node(cfg).fabric_devargs(),
                         "net_vrdma0,listen=198.18.0.1:7000,"
                         "peer=198.18.0.2:7000,transports=rc,"
                         "dev=rxe0:1+eth0")
        del fabric["dev"]
        cfg = config.NodeConfig(config.validate({"fabric": fabric},
                                                "t.toml"), "t.toml")
        cfg.values["node"]["name"] = "cn1"
        self.assertEqual(cfg["fabric.dev"], "")
        self.assertNotIn("dev=", node.Node(cfg).fabric_devargs())

    def test_fabric_rndv_thresh(self):
        """[fabric] rndv_thresh: "auto" (the default) leaves the driver to
        choose, with no rndv_thresh= at all; bytes reach the devargs;
        anything else is refused with the expected form."""
        fabric = {"listen": "198.18.0.1:7000", "peers": ["198.18.0.2:7000"]}
        for value, devargs in ((None, None), ("auto", None),
                               (0, "rndv_thresh=0"),
                               (65535, "rndv_thresh=65535")):
            if value is not None:
                fabric["rndv_thresh"] = value
            cfg = config.NodeConfig(config.validate({"fabric": fabric},
                                                    "t.toml"), "t.toml")
            cfg.values["node"]["name"] = "cn1"
            got = node.Node(cfg).fabric_devargs()
            if devargs is None:
                self.assertNotIn("rndv_thresh", got)
            else:
                self.assertTrue(got.endswith("," + devargs), got)
        for bad in (-1, 65536, "16k", "AUTO", True, 1.5):
            line = self.bad({"fabric": {"rndv_thresh": bad}})
            self.assertIn("[fabric] rndv_thresh = ", line)
            self.assertIn('expected "auto" or a whole number 0-65535', line)

    def test_fabric_dev_is_checked(self):
        for good in ("rxe0:1", "eth0", "mlx5_0:1+eth0", "veth-a.100", ""):
            self.assertEqual(config.validate(
                {"fabric": {"dev": good}}, "t.toml")["fabric"]["dev"], good)
        for bad in ("rxe0:1+", "+eth0", "eth0++eth1", "^eth0", "eth 0",
                    "rxe0:1,eth0", "e" * 128, ["eth0"], 1):
            line = self.bad({"fabric": {"dev": bad}})
            self.assertIn("[fabric] dev = ", line)
            self.assertIn('expected UCX network devices joined by "+"',
                          line)
        # The longest the driver takes.
        self.assertEqual(len(config.validate(
            {"fabric": {"dev": "e" * 127}}, "t.toml")["fabric"]["dev"]), 127)

    def test_pci_uplink_is_allow_listed(self):
        self.assertEqual(config.pci_address("0000:05:00.0"), "0000:05:00.0")
        self.assertEqual(config.pci_address("05:00.0,x=1"), "0000:05:00.0")
        self.assertIsNone(config.pci_address("net_af_packet0,iface=eth1"))

    def test_check_report(self):
        out = vrdma("check")
        lines = out.stdout.strip().splitlines()
        items = {ln.split()[1] for ln in lines}
        for item in ("program", "versions", "cpu", "iommu", "rdma", "ucx",
                     "kvm"):
            self.assertIn(item, items, out.stdout)
        for line in lines:
            self.assertRegex(line, r"^(ok|warn|fail)\s")
            if not line.startswith("ok"):
                self.assertIn("(fix: ", line)
        fails = [ln for ln in lines if ln.startswith("fail")]
        self.assertEqual(out.returncode, 1 if fails else 0)

    def test_check_flags_absent_pmd_cores(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml",
                                         delete=False) as f:
            f.write('[cpu]\npmd_cores = "0,63"\n')
        self.addCleanup(os.unlink, f.name)
        out = vrdma("check", "--config", f.name)
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stdout, r"(?m)^fail\s+cpu\s.*63")

    def test_cpu_list(self):
        self.assertEqual(parse_cpu_list("0-2,5"), [0, 1, 2, 5])
        with self.assertRaises(ValueError):
            parse_cpu_list("3-1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
