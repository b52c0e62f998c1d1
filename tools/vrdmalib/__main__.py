# SPDX-License-Identifier: BSD-3-Clause
"""vrdma command line: one entry point per node for operators.

Every subcommand has --help; errors are one line naming the problem and
the fix, with exit status 1 (2 for usage errors)."""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys

from . import check as checkmod
from . import config as cfgmod
from . import hugepages, ports, util
from .node import Node
from .util import VrdmaError

EPILOG = """examples:
  tools/vrdma setup                       install packages, build
  tools/vrdma check                       preflight report
  tools/vrdma node up --node cn1          bring node cn1's switch up
  tools/vrdma port add --node cn1 vm1     a vhost-user port for guest vm1
  tools/vrdma ns add --node cn1 ns1       a namespace guest on a new port
  tools/vrdma node status --node cn1
  tools/vrdma fabric status --node cn1    fabric peers: state, counters
  eval "$(tools/vrdma env --node cn1)"    vsctl/appctl aliases for cn1
  tools/vrdma node down --node cn1
"""


def add_node_args(parser):
    parser.add_argument("--node", metavar="NAME",
                        help="node name (default: from --config, else the "
                             "host name)")
    parser.add_argument("--config", metavar="FILE",
                        help="node config (TOML; default "
                             f"{cfgmod.DEFAULT_CONFIG_DIR}/NAME.toml if it "
                             "exists; see configs/node.example.toml)")


def load_node(args):
    return Node(cfgmod.load(args.config, args.node))


def cmd_setup(args):
    util.need_root("setup")
    from . import setup
    setup.setup(do_build=not args.no_build)
    util.progress("setup: done")
    return 0


def cmd_check(args):
    cfg = cfgmod.load(args.config, args.node) if (args.config or args.node) \
        else None
    worst = 0
    for level, item, detail, fix in checkmod.report(cfg):
        line = f"{level:<4}  {item:<9} {detail}"
        if fix:
            line += f"  (fix: {fix})"
        print(line)
        worst = max(worst, {"ok": 0, "warn": 0, "fail": 1}[level])
    return worst


def cmd_node(args):
    node = load_node(args)
    if args.action == "up":
        util.need_root("node up")
        node.up()
        print(node.paths.root)
        return 0
    if args.action == "down":
        util.need_root("node down")
        if args.keep:
            node.stop()
        else:
            node.down()
        return 0
    if args.action == "restart":
        util.need_root("node restart")
        node.restart()
        return 0
    if args.json:
        st = ports.status_dict(node)
        print(json.dumps(st, indent=1))
        return ports.status_code(st)
    return ports.status(node, sys.stdout)


def cmd_fabric(args):
    from . import fabric
    node = load_node(args)
    if args.action == "metrics":
        text = fabric.metrics_text(node, args.out)
        if not args.out:
            sys.stdout.write(text)
        return 0
    st = fabric.status(node)
    if args.json:
        print(json.dumps(st, indent=1))
    else:
        fabric.print_status(st, sys.stdout)
    return fabric.exit_code(st)


def cmd_service(args):
    from . import service
    if args.out:
        service.write(args.out)
    else:
        for name, text in service.units().items():
            print(f"### {name}\n{text}")
    return 0


def cmd_port(args):
    node = load_node(args)
    if args.action == "add":
        sock = ports.add(node, args.guest, args.mode, args.queues, args.mtu)
        if args.json:
            print(json.dumps(ports.port_dict(node, args.guest, sock),
                             indent=1))
        else:
            print(sock)
    else:
        ports.delete(node, args.guest)
    return 0


def cmd_ns(args):
    from . import nsguest
    node = load_node(args)
    if args.action == "list":
        if args.json:
            print(json.dumps(nsguest.listing_dicts(node), indent=1))
            return 0
        return nsguest.listing(node, sys.stdout)
    if args.action == "exec":
        return nsguest.exec_in(node, args.guest, args.guest_cmd)
    if args.guest_cmd:
        raise VrdmaError(f"unexpected arguments after --: "
                         f"{' '.join(args.guest_cmd)}", "see vrdma ns --help")
    util.need_root(f"ns {args.action}")
    if args.action == "add":
        rec = nsguest.add(node, args.guest, args.mode, args.queues, args.mtu,
                          args.ip, args.netns, args.busy_poll,
                          args.hugepages)
        if args.json:
            print(json.dumps(rec, indent=1))
        else:
            print(f"{rec['guest']} netns={rec['netns']} ip={rec['ip']} "
                  f"mac={rec['mac']} socket={rec['socket']}")
    else:
        nsguest.delete(node, args.guest)
    return 0


def cmd_domxml(args):
    from . import domxml
    node = load_node(args)
    domain_type = None if args.domain_type == "auto" else args.domain_type
    text = domxml.build(node, args.guest, args.vcpus, args.memory,
                        args.memory_backing, args.queues, args.mac,
                        args.image, domain_type)
    if shutil.which("virt-xml-validate"):
        import tempfile
        with tempfile.TemporaryDirectory() as scratch:
            ok, msg = domxml.validate(text, scratch)
        if not ok:
            raise VrdmaError(f"generated domain does not validate: {msg}",
                             "report this as a bug")
    sys.stdout.write(text)
    return 0


def cmd_vm(args):
    from . import vm
    node = load_node(args)
    if args.action == "list":
        if args.json:
            print(json.dumps(vm.listing_dicts(node), indent=1))
            return 0
        return vm.listing(node, sys.stdout)
    rest = args.guest_cmd
    if args.action == "exec":
        code, out, err = vm.exec_in(node, args.guest, rest, args.timeout)
        sys.stdout.write(out)
        sys.stderr.write(err)
        return code
    if rest:
        raise VrdmaError(f"unexpected arguments: {' '.join(rest)}",
                         "see vrdma vm --help")
    if args.action == "console":
        from .virt import Libvirt
        lv = Libvirt(node).ensure()
        os.execvp("virsh", ["virsh", "-c", lv.uri, "console", args.guest])
    util.need_root(f"vm {args.action}")
    if args.action == "define":
        domain_type = None if args.domain_type == "auto" else args.domain_type
        rec = vm.define(node, args.guest, args.vcpus, args.memory,
                        args.memory_backing, args.queues, args.mode,
                        args.mtu, args.ip, args.image, domain_type)
        if args.json:
            print(json.dumps(rec, indent=1))
        else:
            print(f"{rec['guest']} ip={rec['ip']} mac={rec['mac']} "
                  f"type={rec['domain_type']}")
    elif args.action == "start":
        rec = vm.start(node, args.guest, args.timeout)
        print(f"{rec['guest']} ip={rec['ip']} running")
    elif args.action == "stop":
        vm.stop(node, args.guest)
    elif args.action == "destroy":
        vm.destroy(node, args.guest)
    else:
        vm.remove(node, args.guest)
    return 0


def cmd_virsh(args):
    from .virt import Libvirt
    node = load_node(args)
    lv = Libvirt(node)
    if lv.private:
        node.require_up()
        lv.ensure()
    rest = args.args[1:] if args.args[:1] == ["--"] else args.args
    os.execvp("virsh", ["virsh", "-c", lv.uri, *rest])
    return 1


def cmd_passthrough(args):
    node = load_node(args)
    node.require_up()
    rest = args.args[1:] if args.args[:1] == ["--"] else args.args
    if args.cmd == "vsctl":
        argv = ["ovs-vsctl", f"--db=unix:{node.paths.db_sock}", *rest]
    else:
        target = node.paths.server_ctl if args.target == "ovsdb" \
            else node.paths.daemon_ctl
        argv = ["ovs-appctl", "-t", target, *rest]
    os.execvp(argv[0], argv)
    return 1


def cmd_env(args):
    node = load_node(args)
    p = node.paths
    exports = {
        "NODENAME": node.name,
        "VRDMA_NODE": node.name,
        "VRDMA_STATE_DIR": node.cfg.state_dir,
        "OVS_DATABASE": p.db,
        "OVS_SERVER_LOG": p.server_log,
        "OVS_DAEMON_LOG": p.daemon_log,
        "OVS_SERVER_PID": p.server_pid,
        "OVS_DAEMON_PID": p.daemon_pid,
        "DB_SOCKET": p.db_sock,
        "OVS_DAEMON_CTL": p.daemon_ctl,
        "VHOST_SOCK_DIR": p.vhost_dir,
        "OVS_RUNDIR": p.run,
    }
    from .virt import Libvirt
    lv = Libvirt(node)
    # The report's Table 3, for the node's own libvirtd.
    exports["LIBVIRT_URI"] = lv.uri
    if lv.private:
        exports["LIBVIRT_PID"] = lv.pidfile
        exports["LIBVIRT_CONFIG"] = lv.config
    for key, value in exports.items():
        print(f"export {key}={shlex.quote(value)}")
    aliases = {
        "vrdma-vsctl": f"ovs-vsctl --db=unix:{p.db_sock}",
        "vrdma-appctl": f"ovs-appctl -t {p.daemon_ctl}",
        # The 2015 report's names, for those who know them.
        "mike-ovs-vsctl": f"ovs-vsctl --db=unix:{p.db_sock}",
        "mike-ovs-appctl": f"ovs-appctl -t {p.daemon_ctl}",
        "vrdma-virsh": f"virsh -c {lv.uri}",
        "mike-virsh": f"virsh -c {lv.uri}",
    }
    for name, value in aliases.items():
        print(f"alias {name}={shlex.quote(value)}")
    return 0


def cmd_guest(args):
    util.need_root("guest image")
    from . import guestimage
    out = os.path.abspath(args.out or guestimage.DEFAULT_IMAGE)
    manifest, _ = guestimage.build(out, args.force)
    print(out)
    print(guestimage.summary(manifest))
    return 0


def cmd_roce(args):
    util.need_root("roce")
    from . import roce
    if args.action == "up":
        state = roce.up(args.hosts, args.memory)
        for h in state["hosts"]:
            print(f"{h['name']} {h['ip']} console {h['console']}")
        return 0
    if args.action == "down":
        roce.down()
        return 0
    if args.action == "status":
        st = roce.status()
        if args.json:
            print(json.dumps(st, indent=1))
        elif not st["hosts"]:
            print("soft-RoCE hosts: none up")
        else:
            print(f"soft-RoCE hosts ({st['accel']}):")
            for h in st["hosts"]:
                print(f"  {h['name']:7} {h['ip']:12} "
                      f"{'running' if h['running'] else 'STOPPED':8} "
                      f"rxe0 {h['rxe0'] or '?'}")
        # LSB status: 0 running, 3 not up, 1 degraded.
        return 0 if st["up"] else (3 if not st["hosts"] else 1)
    # exec
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise VrdmaError("vrdma roce exec: no command given",
                         "vrdma roce exec HOST -- COMMAND [ARGS]")
    code, out, err = roce.exec_in(args.host, argv, args.timeout)
    sys.stdout.write(out)
    sys.stderr.write(err)
    if code is None:
        raise VrdmaError(f"{args.host}: {argv[0]} did not end within "
                         f"{args.timeout}s", "raise --timeout")
    return code


def cmd_cluster(args):
    from . import cluster
    only = [h for h in args.hosts.split(",") if h] if args.hosts else None
    inv = cluster.Cluster(args.inventory, only)
    if args.action == "up":
        st = inv.up(args.parallel, args.wait)
        _cluster_report(cluster, st, args.json)
        code = cluster.exit_code(st)
        if code != 0:
            raise VrdmaError(
                f"cluster up: {st['links_connected']}/{st['links_total']} "
                f"fabric links connected after {args.wait} s",
                "see the table; vrdma cluster status, and each host's "
                "vrdma fabric status")
        return 0
    if args.action == "status":
        st = inv.status(args.parallel)
        _cluster_report(cluster, st, args.json)
        return cluster.exit_code(st)
    if args.action == "down":
        inv.down(args.keep)
        return 0
    argv = args.guest_cmd
    if not argv:
        raise VrdmaError("vrdma cluster exec: no command given",
                         "vrdma cluster exec --inventory FILE -- COMMAND")
    worst = 0
    for name, res in inv.exec(argv, args.parallel, args.timeout).items():
        if isinstance(res, VrdmaError):
            print(f"{name}: error: {res.line()}", file=sys.stderr)
            worst = max(worst, 1)
            continue
        code, out, err = res
        for line in out.splitlines():
            print(f"{name}: {line}")
        for line in err.splitlines():
            print(f"{name}: {line}", file=sys.stderr)
        if code != 0:
            print(f"{name}: exit {code}", file=sys.stderr)
            worst = max(worst, 1)
    return worst


def cmd_slurm(args):
    from . import slurm
    config_dir = os.path.abspath(args.config_dir or cfgmod.config_dir())
    if args.action == "conf":
        if not args.out:
            raise VrdmaError("vrdma slurm conf: no --out DIR",
                             "e.g. --out /etc/slurm/vrdma")
        lines = slurm.conf(os.path.abspath(args.out), config_dir,
                           args.run_dir, os.path.join(
                               os.path.dirname(os.path.dirname(
                                   os.path.abspath(__file__))), "vrdma"))
        print("\n".join(lines))
        return 0
    util.need_root(f"slurm {args.action}")
    getattr(slurm, args.action)(config_dir, args.run_dir)
    return 0


def _cluster_report(cluster, st, as_json):
    if as_json:
        print(json.dumps(st, indent=1))
    else:
        cluster.print_status(st, sys.stdout)


def cmd_hugepages(args):
    if args.json:
        print(json.dumps(hugepages.status_dicts(), indent=1))
        return 0
    for line in hugepages.status_lines():
        print(line)
    return 0


def cmd_config(args):
    if args.what == "inventory":
        from . import cluster
        sys.stdout.write(cluster.example())
        return 0
    if args.what == "bench-hosts":
        sys.stdout.write(bench_module("remote").example())
        return 0
    print(cfgmod.example_toml())
    return 0


def cmd_demo(args):
    util.need_root("demo")
    from . import demo
    return demo.main(args)


def bench_module(name):
    """bench.NAME, the benchmark package at the repository's top (tools/
    vrdma puts it on PYTHONPATH beside vrdmalib)."""
    import importlib
    try:
        return importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench", f"bench.{name}"):
            raise
        raise VrdmaError("the bench package is not importable",
                         "run tools/vrdma, or set PYTHONPATH=tools:. in "
                         "the repository's top") from None


def cmd_bench(args):
    util.need_root("bench")
    if args.micro == "fabric":
        return bench_module("fabric_bench").run(args)
    if args.micro == "ns":
        return bench_module("ns_bench").run(args)
    if args.micro == "roce":
        return bench_module("roce_bench").run(args)
    if args.micro == "cluster":
        return bench_module("cluster_bench").run(args)
    return bench_module("table1").main(args)


def cmd_manpage(args):
    from . import manpage
    text = manpage.render(build_parser())
    if args.out is None:
        sys.stdout.write(text)
        return 0
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    util.progress(f"manpage: wrote {args.out}")
    return 0


def cmd_test(args):
    util.need_root("the test suite (it starts switches)")
    from . import testrun
    return testrun.main(args)


def add_bench_subcommands(p):
    """`vrdma bench`'s --record and its micro-benchmarks, whose options
    are their own modules' (bench/fabric_bench.py, bench/ns_bench.py,
    bench/roce_bench.py)."""
    try:
        bench_record = bench_module("record")
    except VrdmaError:
        return  # without bench/ on the path: Table 1's options only
    bench_record.add_argument(p, "table1")
    msub = p.add_subparsers(dest="micro", metavar="MICRO",
                            title="micro-benchmarks (their options after "
                            "the name; the options above are Table 1's)")
    for name, module, text in (
            ("fabric", "fabric_bench", "the fabric port against bare UCX "
             "and other DPDK ports, between two namespaces"),
            ("ns", "ns_bench", "namespace guests on one node against a "
             "veth pair and testpmd-tap"),
            ("roce", "roce_bench", "net_vrdma over RC verbs against bare "
             "UCX and perftest, on two soft-RoCE hosts (vrdma roce)"),
            ("cluster", "cluster_bench", "vrdma cluster's bring-up, memory "
             "and connections for 2, 4 and 8 emulated hosts in a full "
             "mesh")):
        bench_mod = bench_module(module)
        q = msub.add_parser(name, help=text, description=bench_mod.__doc__,
                            formatter_class=argparse.
                            RawDescriptionHelpFormatter)
        bench_mod.add_arguments(q)


def version():
    """meson.build's project version, and the checkout's commit when it
    is a git checkout ("0.1.0 (git 2a10378)")."""
    from .node import TOP, project_version
    ver = project_version()
    try:
        commit = subprocess.run(
            ["git", "-C", TOP, "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10, check=False)
        if commit.returncode == 0 and commit.stdout.strip():
            ver += f" (git {commit.stdout.strip()})"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return ver


class VersionAction(argparse.Action):
    """--version, read only when asked (it runs git)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"vrdma {version()}")
        parser.exit()


def build_parser():
    parser = argparse.ArgumentParser(
        prog="vrdma", description="vrdma: OVS-DPDK switch nodes with "
        "vhost-user guests and an RDMA fabric port, one command per node.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true",
                        default=argparse.SUPPRESS,
                        help="no progress output on stderr")
    parser._add_action(common._actions[0])
    parser.add_argument("--version", action=VersionAction,
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    real_add = sub.add_parser

    def add_parser(*args, **kwargs):
        return real_add(*args, parents=[common], **kwargs)
    sub.add_parser = add_parser
    sub.required = True

    p = sub.add_parser("setup", help="install Debian packages and build",
                       description="Install the Debian packages vrdma needs "
                       "(idempotent; quiet when nothing is missing) and "
                       "build the C parts into build/.")
    p.add_argument("--no-build", action="store_true",
                   help="only install packages")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("check", help="preflight report",
                       description="Preflight report: hugepages, isolated "
                       "cores, IOMMU, RDMA devices, UCX transports, KVM, "
                       "versions; with a node's [fabric] listen, also the "
                       "fabric: listen address, MTU, RDMA port, memlock, "
                       "peers. Each line ok/warn/fail with the fix; exit "
                       "status 1 if any line fails.")
    add_node_args(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("node", help="bring a node's switch up or down",
                       description="up: hugepages, ovsdb-server, "
                       "ovs-vswitchd-dpdk (--no-pci unless a PCI uplink is "
                       "configured), PMD cores, the bridge; idempotent; on "
                       "a running node with a changed config it applies "
                       "the difference, guests untouched (a [fabric] "
                       "change re-creates the fabric port; EAL and memory "
                       "changes need restart). "
                       "down: stop only this node's processes, release its "
                       "hugepages, remove its files. restart: restart "
                       "ovs-vswitchd only, applying a changed config "
                       "(client-mode guests reconnect). "
                       "status: processes, ports, links, PMD placement; "
                       "exit 0 running, 1 degraded (a daemon is not "
                       "running), 3 not up, as LSB status does.")
    p.add_argument("action", choices=["up", "down", "restart", "status"])
    add_node_args(p)
    p.add_argument("--json", action="store_true",
                   help="status: machine-readable")
    p.add_argument("--keep", action="store_true",
                   help="down: only stop the switch (and release its "
                   "hugepages); keep its DB, ports, logs and guests, for "
                   "node up to start again (what a service stop does)")
    p.set_defaults(func=cmd_node)

    p = sub.add_parser("fabric", help="the fabric port's peers and counters",
                       description="Read from the running switch (DPDK "
                       "telemetry, the driver's own command).")
    fsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = fsub.add_parser(
        "status", help="peers by address: state, transport, counters",
        description="Every peer of the node's fabric port by address: "
        "connected, connecting, inbound (only its connection to us is up) "
        "or down; the transport of its active-message lane; reconnects, "
        "frames and bytes each way, drops; then the port's refusals and "
        "drops. Exit 0 when every peer is connected, 1 when one is not, "
        "3 when the fabric port is not running.")
    add_node_args(q)
    q.add_argument("--json", action="store_true", help="machine-readable")
    q = fsub.add_parser(
        "metrics", help="Prometheus text exposition of the node's counters",
        description="The fabric port's per-peer and per-port counters and "
        "the switch's interface counters, in Prometheus' text format: on "
        "stdout, or with --out written atomically to FILE (for "
        "node_exporter's textfile collector; run it from a timer).")
    add_node_args(q)
    q.add_argument("--out", metavar="FILE",
                   help="write here (e.g. /var/lib/node_exporter/textfile_"
                   "collector/vrdma.prom) instead of stdout")
    p.set_defaults(func=cmd_fabric)

    p = sub.add_parser(
        "service", help="systemd units that run a node as a service",
        description="units: vrdma-node@.service (start: node up; reload: "
        "node up, a changed config applied live; stop: node down --keep, "
        "DB, ports and logs kept) and vrdma-node-check@.timer (every 30 s, "
        "node up when node status says a daemon died of a signal OVS's "
        "--monitor does not restart on), naming this checkout's tool and "
        "the environment's state and config directories. Without --out "
        "they are printed. Then: systemctl daemon-reload; systemctl "
        "enable --now vrdma-node@NODE vrdma-node-check@NODE.timer")
    p.add_argument("action", choices=["units"])
    p.add_argument("--out", metavar="DIR",
                   help="write the unit files there (/etc/systemd/system)")
    p.set_defaults(func=cmd_service)

    p = sub.add_parser("port", help="add or delete a guest's vhost-user port",
                       description="add: a vhost-user port for GUEST; prints "
                       "the socket path the guest must use. client mode "
                       "(default): the guest serves the socket and OVS "
                       "reconnects after a restart. server mode: OVS serves "
                       "it (the 2015 original's dpdkvhostuser). del: remove "
                       "it.")
    p.add_argument("action", choices=["add", "del"])
    p.add_argument("guest", help="guest name (also the port name)")
    add_node_args(p)
    p.add_argument("--mode", choices=["client", "server"],
                   help="vhost-user mode (default: the node's [ports] mode)")
    p.add_argument("--queues", type=int, help="queue pairs (1-16)")
    p.add_argument("--mtu", type=int, help="MTU (68-9702)")
    p.add_argument("--json", action="store_true",
                   help="add: the port as JSON (socket, type, mode, queues, "
                   "MTU)")
    p.set_defaults(func=cmd_port)

    p = sub.add_parser("ns", help="namespace guests on vhost-user ports",
                       description="Network namespaces attached to the "
                       "node's vhost-user ports by vrdma-vhost-ns, as a VM's "
                       "virtio-net device would be.")
    nsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = nsub.add_parser("add", help="attach a new namespace guest",
                        description="A network namespace (named after GUEST "
                        "unless --netns) whose eth0 is attached to a new "
                        "vhost-user port of the node, with a MAC and an IP "
                        "(198.18.0.0/16) derived from the name; prints them. "
                        "Run twice, it changes nothing; a dead frontend is "
                        "started again.")
    q.add_argument("guest", help="guest name (also the port name)")
    add_node_args(q)
    q.add_argument("--mode", choices=["client", "server"],
                   help="vhost-user port mode (default: the node's [ports] "
                   "mode); the frontend takes the other role")
    q.add_argument("--queues", type=int, help="queue pairs (1-8)")
    q.add_argument("--mtu", type=int, help="MTU (68-9702)")
    q.add_argument("--ip", metavar="CIDR",
                   help="eth0 address (default: from the name, in "
                   "198.18.0.0/16)")
    q.add_argument("--netns", metavar="NAME",
                   help="namespace name (default: GUEST)")
    q.add_argument("--busy-poll", action="store_true",
                   help="the frontend polls (a core, for latency) instead "
                   "of sleeping")
    q.add_argument("--hugepages", metavar="DIR",
                   help="guest memory from this hugetlbfs mount (default "
                   "memfd)")
    q.add_argument("--json", action="store_true",
                   help="the guest's record as JSON")
    q = nsub.add_parser("del", help="remove a namespace guest",
                        description="Stop the frontend, delete the "
                        "namespace and the port.")
    q.add_argument("guest")
    add_node_args(q)
    q = nsub.add_parser("list", help="the node's namespace guests",
                        description="Namespace guests of the node, with "
                        "address and frontend state.")
    add_node_args(q)
    q.add_argument("--json", action="store_true", help="machine-readable")
    q = nsub.add_parser("exec", help="run a command in a guest",
                        description="Run CMD in GUEST's namespace: vrdma ns "
                        "exec --node N GUEST -- CMD ARGS; exits with CMD's "
                        "status.")
    q.add_argument("guest")
    add_node_args(q)
    p.set_defaults(func=cmd_ns)

    p = sub.add_parser("domxml", help="libvirt domain XML for a VM guest",
                       description="Print a libvirt domain for GUEST: a "
                       "vhostuser interface on the node's port GUEST (which "
                       "must exist: vrdma port add), in the role opposite "
                       "to the port's; shared guest memory; vCPUs and "
                       "emulator pinned away from the node's PMD cores; "
                       "domain type kvm when KVM can create a VM, else qemu "
                       "(TCG, with the vectors=0 override QEMU 7.2 needs). "
                       "Checked with virt-xml-validate when installed.")
    p.add_argument("guest", help="guest name (also its port's name)")
    add_node_args(p)
    p.add_argument("--vcpus", type=int, default=1, help="vCPUs (default 1)")
    p.add_argument("--memory", type=int, default=1024, metavar="MiB",
                   help="guest memory in MiB (default 1024)")
    p.add_argument("--memory-backing", default="hugepages-2M",
                   choices=["hugepages-2M", "hugepages-1G", "memfd"],
                   help="shared guest memory (default hugepages-2M)")
    p.add_argument("--queues", type=int,
                   help="queue pairs (default: the port's; must match it)")
    p.add_argument("--mac", help="MAC (default: derived from the name)")
    p.add_argument("--image", metavar="DIR",
                   help="guest image with vmlinuz and initrd.img (default "
                   "/var/cache/vrdma/guest)")
    p.add_argument("--domain-type", choices=["auto", "kvm", "qemu"],
                   default="auto", help="auto: kvm when usable (default)")
    p.set_defaults(func=cmd_domxml)

    p = sub.add_parser("vm", help="VM guests through libvirt",
                       description="VMs from the guest image (vrdma guest "
                       "image) on the node's vhost-user ports, run by "
                       "libvirt: the system's, or the node's own when its "
                       "config says [libvirt] daemon = \"node\". Commands in "
                       "a guest run through its guest agent (virtio-serial),"
                       " not over the network under test.")
    vsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    helps = {
        "define": "define a VM on a new (or existing) port of the node",
        "start": "boot a defined VM and wait until it is ready",
        "stop": "power a VM off (guest agent; destroyed after 30 s)",
        "destroy": "power a VM off at once, as virsh destroy does (it "
                   "stays defined, with its port and hugepages)",
        "remove": "stop, undefine, and remove its port and hugepages",
        "exec": "run a command in a VM: vrdma vm exec GUEST -- CMD ARGS",
        "console": "attach to a VM's serial console (Ctrl-] leaves)",
    }
    for action, text in helps.items():
        q = vsub.add_parser(action, help=text, description=text[0].upper()
                            + text[1:] + ".")
        q.add_argument("guest", help="guest name (also its port's name)")
        add_node_args(q)
        if action == "define":
            q.add_argument("--vcpus", type=int, default=1,
                           help="vCPUs (default 1)")
            q.add_argument("--memory", type=int, default=512, metavar="MiB",
                           help="memory in MiB (default 512)")
            q.add_argument("--memory-backing", default="hugepages-2M",
                           choices=["hugepages-2M", "hugepages-1G", "memfd"],
                           help="shared guest memory (default hugepages-2M)")
            q.add_argument("--mode", choices=["client", "server"],
                           help="port mode when define makes the port "
                           "(default: the node's [ports] mode)")
            q.add_argument("--queues", type=int, help="queue pairs")
            q.add_argument("--mtu", type=int, help="port MTU")
            q.add_argument("--ip", metavar="CIDR", help="eth0 address "
                           "(default: from the name, in 198.18.0.0/16)")
            q.add_argument("--image", metavar="DIR",
                           help="guest image (default /var/cache/vrdma/guest)")
            q.add_argument("--domain-type", choices=["auto", "kvm", "qemu"],
                           default="auto", help="auto: kvm when usable")
            q.add_argument("--json", action="store_true",
                           help="the guest's record as JSON")
        if action in ("start", "exec"):
            q.add_argument("--timeout", type=float,
                           default=180.0 if action == "start" else 300.0,
                           help="seconds to wait (default %(default)s)")
    q = vsub.add_parser("list", help="the node's VM guests",
                        description="VM guests of the node and their state.")
    add_node_args(q)
    q.add_argument("--json", action="store_true", help="machine-readable")
    p.set_defaults(func=cmd_vm)

    p = sub.add_parser("virsh", help="run virsh against the node's libvirt",
                       description="virsh connected to the libvirt the "
                       "node's VMs live in (the 2015 report's mike-virsh); "
                       "arguments after -- go to it unchanged.")
    add_node_args(p)
    p.add_argument("args", nargs=argparse.REMAINDER, help="virsh arguments")
    p.set_defaults(func=cmd_virsh)

    for name, what in (("vsctl", "ovs-vsctl"), ("appctl", "ovs-appctl")):
        p = sub.add_parser(name, help=f"run {what} against a node",
                           description=f"Run {what} against the node's own "
                           "daemons; arguments after -- go to it unchanged.")
        add_node_args(p)
        if name == "appctl":
            p.add_argument("--target", choices=["vswitchd", "ovsdb"],
                           default="vswitchd", help="which daemon")
        p.add_argument("args", nargs=argparse.REMAINDER,
                       help=f"{what} arguments")
        p.set_defaults(func=cmd_passthrough, cmd=name)

    p = sub.add_parser("env", help="print shell exports and aliases",
                       description="Print exports (the 2015 report's Table 2 "
                       "names) and aliases (vrdma-vsctl, vrdma-appctl, and "
                       "the original mike-* names) for `eval`.")
    add_node_args(p)
    p.set_defaults(func=cmd_env)

    p = sub.add_parser("guest", help="the VM guests' boot image",
                       description="What VM guests boot (vrdma vm, "
                       "vrdma domxml).")
    gsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = gsub.add_parser("image", help="build the guest image",
                        description="Build vmlinuz and initrd.img (the "
                        "whole root file system) from Debian packages: "
                        "the cloud kernel, busybox, qemu-ga, dropbear, "
                        "NetPIPE and Open MPI; the guest takes its name and "
                        "address from vrdma.name= and vrdma.ip= on the "
                        "kernel command line. Rebuilt only when a package "
                        "version or the builder changes. Prints the "
                        "directory and a summary.")
    q.add_argument("--out", metavar="DIR",
                   help="image directory (default /var/cache/vrdma/guest)")
    q.add_argument("--force", action="store_true",
                   help="rebuild even if up to date")
    p.set_defaults(func=cmd_guest)

    p = sub.add_parser(
        "roce", help="soft-RoCE hosts: VMs with real RDMA verbs",
        description="QEMU VMs (two by default) running Debian's standard "
        "kernel (it has rdma_rxe) on this machine's root file system, "
        "shared read-only: the same OVS, DPDK, UCX and build, each with a "
        "soft-RoCE device rxe0 on a 9000 B fabric link (198.19.2.0/24)."
        " The kernel package is downloaded once into /var/cache/vrdma/roce."
        " Without working KVM they run under TCG: verbs work, slowly.")
    rsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = rsub.add_parser("up", help="boot the hosts (idempotent)",
                        description="Boot the soft-RoCE hosts and wait "
                        "until rxe0 is active in each (about 30 s under "
                        "TCG); a running set is kept.")
    q.add_argument("--hosts", type=int, default=2,
                   help="how many, 2 to 8 (2: one QEMU socket link joins "
                   "them; more: a bridge in network namespace vrdma-roce, "
                   "a tap each)")
    q.add_argument("--memory", type=int, default=2048, metavar="MB",
                   help="memory per VM (default 2048)")
    q = rsub.add_parser("status", help="hosts, running or not, rxe0 state",
                        description="Exit 0 when all run, 3 when none is "
                        "up, 1 when one stopped.")
    q.add_argument("--json", action="store_true", help="machine-readable")
    q = rsub.add_parser("exec", help="run a command in a host",
                        description="Run COMMAND in HOST (roce1, roce2, ... as "
                        "roce status names them) "
                        "through its QEMU guest agent; prints its output "
                        "and exits with its status.")
    q.add_argument("host", help="roce1, roce2, ...")
    q.add_argument("--timeout", type=int, default=120,
                   help="seconds before the command is killed (120)")
    q.add_argument("argv", nargs=argparse.REMAINDER,
                   help="-- COMMAND [ARGS]")
    rsub.add_parser("down", help="stop the hosts",
                    description="Stop every soft-RoCE VM this tool "
                    "started and remove their state.")
    p.set_defaults(func=cmd_roce)

    p = sub.add_parser(
        "cluster", help="N hosts' nodes from one inventory, over ssh",
        description="The inventory (TOML; vrdma config inventory prints a "
        "documented one) names each host's ssh address and fabric address "
        "and a node config template. up writes every host its node config, "
        "[fabric] peers being all the other hosts, copies the fabric key "
        "(made once beside the inventory) and runs vrdma node up there, "
        "then waits until all N x (N-1) fabric links are connected; status "
        "shows the nodes and the links (exit 0: all up and connected, 1: "
        "not all, 3: none up); down takes the nodes down in reverse order "
        "and removes the configs it wrote; exec runs a command on every "
        "host, {name}, {config}, {fabric_ip} and {vrdma} in it replaced by "
        "the host's. Every action is idempotent.")
    p.add_argument("action", choices=["up", "status", "down", "exec"])
    p.add_argument("--inventory", "-i", metavar="FILE", required=True,
                   help="the cluster's inventory (TOML)")
    p.add_argument("--hosts", metavar="A,B",
                   help="up, down, exec: only these hosts (status always "
                   "shows all)")
    p.add_argument("--parallel", type=int, default=8, metavar="N",
                   help="hosts worked on at once (default 8)")
    p.add_argument("--wait", type=int, default=120, metavar="S",
                   help="up: seconds to wait for every fabric link (120)")
    p.add_argument("--json", action="store_true",
                   help="up, status: machine-readable")
    p.add_argument("--keep", action="store_true",
                   help="down: only stop the switches (node down --keep); "
                   "configs, DBs, ports and guests stay")
    p.add_argument("--timeout", type=int, default=300, metavar="S",
                   help="exec: seconds before the command is killed (300)")
    p.epilog = "exec: vrdma cluster exec -i FILE [--hosts A,B] -- COMMAND"
    p.set_defaults(func=cmd_cluster)

    p = sub.add_parser(
        "slurm", help="Slurm jobs that bring their guests up (--vrdma)",
        description="conf writes Slurm's Prolog and Epilog for vrdma and a "
        "plugstack.conf loading the SPANK plugin (build/slurm/spank_vrdma.so"
        ", the --vrdma[=GUESTS] option of srun, sbatch and salloc) into "
        "--out, and prints the slurm.conf lines that use them. prolog and "
        "epilog are what those run, as root, on every node of a job that "
        "asked: the prolog brings the node's switch up (its config is "
        "CONFIG_DIR/NODENAME.toml, as vrdma cluster up writes it) and "
        "attaches the job's guests; the epilog removes them and stops a "
        "switch the prolog started; jobs that did not ask are left alone.")
    p.add_argument("action", choices=["conf", "prolog", "epilog"])
    p.add_argument("--out", metavar="DIR",
                   help="conf: where the scripts and plugstack.conf go")
    p.add_argument("--config-dir", metavar="DIR",
                   help="the nodes' configs, NODENAME.toml (default: "
                   f"{cfgmod.DEFAULT_CONFIG_DIR} or $VRDMA_CONFIG_DIR)")
    p.add_argument("--run-dir", metavar="DIR", default="/run/vrdma/slurm",
                   help="the jobs' files and the logs (default "
                   "/run/vrdma/slurm)")
    p.set_defaults(func=cmd_slurm)

    p = sub.add_parser("hugepages", help="show hugepage reservations",
                       description="Hugepages per size and which vrdma "
                       "owners (nodes, endpoints) reserved them.")
    p.add_argument("--json", action="store_true", help="machine-readable")
    p.set_defaults(func=cmd_hugepages)

    p = sub.add_parser("config", help="print the documented example config",
                       description="Print a node config (example) or a "
                       "hosts file for vrdma bench --hosts (bench-hosts) "
                       "or a cluster inventory for vrdma cluster (inventory) "
                       "with every key, its default and its meaning.")
    p.add_argument("what", choices=["example", "bench-hosts", "inventory"])
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("demo", help="the main job: hosts, fabric, guests, "
                       "traffic, results",
                       description="Single-machine demo: N emulated hosts "
                       "(network namespaces, an OVS-DPDK node each) joined "
                       "by a veth fabric through net_vrdma fabric ports (or "
                       "a raw uplink), two namespace guests per host; "
                       "prints reachability of every guest pair, NPtcp "
                       "latency and bandwidth same-host and cross-host, a "
                       "2-rank NPmpi across hosts and the port counters. "
                       "Cleans up unless --keep.")
    p.add_argument("--hosts", type=int, default=2,
                   help="emulated hosts (default 2)")
    p.add_argument("--guests", choices=["ns", "vm"], default="ns",
                   help="guest kind (default ns: namespace guests)")
    p.add_argument("--uplink", choices=["fabric", "raw"], default="fabric",
                   help="fabric: net_vrdma over UCX (default); raw: "
                   "net_af_packet on the veth, the 2015 prototype's path")
    p.add_argument("--transports", metavar="LIST",
                   help='UCX transports for the fabric, e.g. "tcp" '
                   "(default: UCX chooses; shared memory on one machine)")
    p.add_argument("--quick", action="store_true",
                   help="fewer NetPIPE sizes (powers of two)")
    p.add_argument("--roce", action="store_true",
                   help="over real RDMA verbs: two soft-RoCE hosts (vrdma "
                   "roce: QEMU VMs with rdma_rxe), a node and a namespace "
                   "guest in each, the fabric port over RC (transports "
                   "rc+ud unless --transports)")
    p.add_argument("--keep", action="store_true",
                   help="leave hosts and guests up afterwards")
    p.add_argument("--down", action="store_true",
                   help="only remove what a --keep run left up")
    p.add_argument("--out", metavar="DIR", default="results/demo",
                   help="results directory (default results/demo)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="the 2015 report's benchmark: Table "
                       "1, Figures 4-6",
                       description="The 2015 report's benchmark on "
                       "emulated hosts, or on real ones (--hosts): NetPIPE (NPtcp, NPmpi) and "
                       "ucx_perftest for Table 1's cases and "
                       "vm2vm-raw-p1, medians of --reps runs; writes raw "
                       "outputs, summary.csv, summary.json, Figures 4-6 "
                       "(PNG) and report.md (environment, ratios to "
                       "h2h-verb-roce and h2h-sock-roce, targets) into "
                       "--out, and cleans up, also on Ctrl-C. `vrdma bench "
                       "fabric` and `vrdma bench ns` run the two "
                       "micro-benchmarks instead. The code is the bench "
                       "package at the repository's top (bench/).")
    p.add_argument("--cases", metavar="LIST",
                   help="comma-separated: vm2vm-vhost-shm, "
                   "vm2vm-virtio-eth, vm2vm-rdma-p1, vm2vm-raw-p1, "
                   "h2h-verb-roce, h2h-sock-roce, h2h-sock-eth, micro "
                   "(the two micro-benchmarks below, with --quick if "
                   "given); default: all but micro")
    p.add_argument("--guests", choices=["ns", "vm"], default="ns",
                   help="guest kind (default ns: namespace guests)")
    p.add_argument("--quick", action="store_true",
                   help="NetPIPE powers of two to 64 KiB, one run (CI)")
    p.add_argument("--reps", type=int,
                   help="runs per case and tool (default 3; --quick 1)")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default "
                   "results/bench/YYYYmmdd-HHMMSS)")
    p.add_argument("--config", metavar="FILE",
                   help="node config whose [cpu], [memory], [ports] and "
                   "[fabric] transports the emulated hosts' switches use")
    p.add_argument("--hosts", metavar="FILE",
                   help="run on the two real hosts this file names (ssh "
                   "address, node configs there; see `vrdma config "
                   "bench-hosts`) instead of emulated ones")
    p.add_argument("--profile", action="store_true",
                   help="sample every CPU with perf during each run and "
                   "say where the CPU time went (copies, kernel TCP/IP, "
                   "scheduling, OVS, UCX, frontends, idle): a line per "
                   "run, RUN.profile.txt beside its output, medians in "
                   "the report")
    p.set_defaults(func=cmd_bench, micro=None)
    add_bench_subcommands(p)

    p = sub.add_parser("test", help="install, build and run every test",
                       description="Install what is missing, build, and run "
                       "the test suites (unit, lint, system, and the extra "
                       "builds: clang, sanitizers, fuzz). Ends with a line "
                       "'N passed, N failed, N skipped'.")
    p.add_argument("--suite", action="append",
                   help="run only these meson suites (repeatable)")
    p.add_argument("--quick", action="store_true",
                   help="skip the extra builds (clang, sanitizers, fuzz)")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("manpage", help="print the vrdma(8) manual page",
                       description="Print the vrdma(8) manual page (roff), "
                       "made from this command line's own help; "
                       "docs/vrdma.8 is its output (read it with man -l "
                       "docs/vrdma.8).")
    p.add_argument("--out", metavar="FILE",
                   help="write it to FILE instead of standard output")
    p.set_defaults(func=cmd_manpage)
    return parser


def main(argv=None):
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # `ns|vm exec ... -- CMD`: the command is not ours to parse.
    words = [a for a in argv if not a.startswith("-")]
    cmd = []
    if words[:1] in (["ns"], ["vm"], ["cluster"]) and "--" in argv:
        cut = argv.index("--")
        argv, cmd = argv[:cut], argv[cut + 1:]
    args = parser.parse_args(argv)
    args.guest_cmd = cmd
    if getattr(args, "micro", None):
        # `vrdma bench [TABLE1 OPTIONS] fabric|ns [ITS OPTIONS]`: argparse
        # would quietly let the micro-benchmark's defaults win over
        # Table 1's options given before its name.
        words = [a for a in argv if a not in ("-q", "--quiet")]
        between = words[words.index("bench") + 1:words.index(args.micro)]
        if between:
            parser.error(f"bench {args.micro}: {' '.join(between)} before "
                         f"'{args.micro}' is Table 1's; put the options "
                         f"after it: vrdma bench {args.micro} "
                         f"{' '.join(between)}")
    util.QUIET = getattr(args, "quiet", False)
    try:
        return args.func(args)
    except VrdmaError as exc:
        print(f"vrdma: error: {exc.line()}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("vrdma: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
