# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma bench`: the 2015 report's benchmark (its section 4: Table 1,
Figures 4-6) on emulated hosts (vrdmalib/hosts.py). Two host namespaces
joined by the fabric link (a veth, MTU 9000, unshaped: the "RoCE" link)
and, where a case needs it, an "Ethernet" link (a second veth, MTU 1500,
tc tbf at 1 Gbit/s, bridged to kernel-only guests); Table 1's cases plus
vm2vm-raw-p1 (the 2015 prototype's raw uplink), each measured with
NetPIPE (NPtcp, NPmpi) or ucx_perftest --reps times, medians reported;
the guests behind a switch are namespace guests or VMs (--guests).
Cases on the same hosts share one bring-up; a failed case is reported
and the others still run; everything made is removed, also on Ctrl-C.
With --hosts FILE the same cases run on two real hosts through ssh
(remote.py). One directory receives the raw outputs, summary.csv and
summary.json, Figures 4-6 as PNGs (figures.py) and report.md (report.py);
`--cases micro` runs ns_bench and fabric_bench into it too; --record
writes the printed table into a document (record.py). The cases and
targets are cases.py's."""

import collections
import contextlib
import io
import json
import os
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib

from vrdmalib import config as cfgmod
from vrdmalib import hosts as hostsmod
from vrdmalib import netpipe, nsguest, vm
from vrdmalib import setup as setupmod
from vrdmalib.guest import NsGuest, RemoteGuest, VmGuest
from vrdmalib.hosts import Hosts
from vrdmalib.remote import ompi_tmpdir
from vrdmalib.util import (VrdmaError, machine_busy, pid_cmdline, proc_cpu,
                           progress, read_pidfile, wait_for)

from . import fabric_bench, ns_bench, record, report
from . import profile as profmod
from . import remote as clustermod  # the hosts file of --hosts
from .cases import (CASES, MICRO, SETUPS, UCX_DRIVER_ENV, UCX_PERFTEST_ARGS,
                    UCX_TLS)


class Endpoint(collections.namedtuple("Endpoint",
                                      "runner host ifname pids")):
    """One end of a case: where its commands run (runner, a guest.Guest:
    a guest, or a host used as one), the host it is on, its interface on
    the measured path and its datapath processes (for CPU accounting)."""

    @property
    def name(self):
        return self.runner.name

    @property
    def ip(self):
        return self.runner.ip


# --- guests --------------------------------------------------------------

def ns_guest(hosts, host, name, workdir):
    """A namespace guest on host's switch (nsguest.py)."""
    node = hosts.nodes[host]
    rec = nsguest.add(node, name)
    pid = read_pidfile(os.path.join(node.paths.run, f"ns-{name}.pid"))
    return Endpoint(NsGuest(rec["netns"], workdir, name,
                            rec["ip"].split("/")[0]),
                    host, "eth0", [pid] if pid else [])


def qemu_pids(guest):
    """The QEMU running guest (libvirt names it guest=NAME on its command
    line)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        argv = pid_cmdline(int(pid))
        if argv and os.path.basename(argv[0]).startswith("qemu-system") \
                and any(a.startswith(f"guest={guest},") for a in argv):
            found.append(int(pid))
    return found


def vm_guest(hosts, host, name, _workdir):
    """A VM guest on host's switch (vm.py), booted and ready."""
    node = hosts.nodes[host]
    vm.define(node, name)
    rec = vm.start(node, name)
    return Endpoint(VmGuest(node, name, rec["ip"].split("/")[0]), host,
                    "eth0", qemu_pids(name))


# The guests of the cases through a switch, by --guests; NPmpi across VMs
# takes netpipe.npmpi_vms (see npmpi below).
GUESTS = {"ns": ns_guest, "vm": vm_guest}


class Bed:
    """One bring-up of hosts and the endpoints its cases use, made on
    first use."""

    def __init__(self, hosts, guest_kind, workdir):
        self.hosts = hosts
        self.make_guest = GUESTS[guest_kind]
        self.workdir = workdir
        self.endpoints = {}

    def _cached(self, name, make):
        if name not in self.endpoints:
            self.endpoints[name] = make()
        return self.endpoints[name]

    def guest(self, i, j):
        host = self.hosts.names[i]
        name = f"{host}g{j}"
        return self._cached(name, lambda: self.make_guest(
            self.hosts, host, name, self.workdir))

    def kernel_guest(self, i):
        host = self.hosts.names[i]

        def make():
            rec = self.hosts.kernel_guest(host, f"{host}k1")
            return Endpoint(NsGuest(rec["netns"], self.workdir, rec["guest"],
                                    rec["ip"].split("/")[0]),
                            host, "eth0", [])
        return self._cached(f"{host}k1", make)

    def host(self, i, link):
        host = self.hosts.names[i]
        ip, dev = (hostsmod.eth_ip(i), hostsmod.ETH_BRIDGE) \
            if link == "eth" else (hostsmod.fabric_ip(i),
                                   hostsmod.FABRIC_DEV)
        return Endpoint(NsGuest(host, self.workdir, host, ip), host, dev, [])

    def datapath_pids(self):
        """Per host ("h1", "h2"): its switch's daemons and its guests'
        datapath processes (vhost-user frontends)."""
        out = {}
        for i, host in enumerate(self.hosts.names):
            node = self.hosts.nodes.get(host)
            pids = [node.server_pid(), node.daemon_pid()] if node else []
            for ep in self.endpoints.values():
                if ep.host == host:
                    pids += ep.pids
            out[f"h{i + 1}"] = [p for p in pids if p]
        return out

    def cpu_counters(self):
        """Per host, the CPU seconds of its datapath processes so far."""
        return {f"cpu_{h}_s": sum(proc_cpu(p) for p in ps)
                for h, ps in self.datapath_pids().items()}

    def appctl(self, command):
        """Per host, ovs-appctl COMMAND's output from its switch."""
        return {name: node.appctl(command, check=False).stdout
                for name, node in self.hosts.nodes.items()}

    ucx_tls = UCX_TLS
    ucx_net_devices = None  # the path's interface


class ClusterBed(Bed):
    """The endpoints of real hosts (remote.py): guests made there by
    their vrdma, the hosts themselves, kernel-only guests on their
    Ethernet bridges."""

    def __init__(self, cl, hosts, guest_kind, workdir):
        self.cluster = cl
        self.hosts = hosts
        self.guest_kind = guest_kind
        self.workdir = workdir
        self.endpoints = {}
        self.ucx_tls = cl.top["ucx_tls"]
        self.ucx_net_devices = cl.top["ucx_net_devices"] or None

    def guest(self, i, j):
        host = self.cluster.hosts[i]

        def make():
            if not self.hosts.switches:
                raise VrdmaError("guests need switches", "report this bug")
            return Endpoint(self.hosts.guest(host, j), host.name, "eth0",
                            [])
        return self._cached(f"{host.name}g{j}", make)

    def kernel_guest(self, i):
        host = self.cluster.hosts[i]

        def make():
            return Endpoint(self.hosts.kernel_guest(host), host.name,
                            "eth0", [])
        return self._cached(f"{host.name}k1", make)

    def host(self, i, link):
        host = self.cluster.hosts[i]
        key = "eth_ip" if link == "eth" else "fabric_ip"
        if not host[key]:
            raise clustermod.Skip(f"{host.name} has no {key} in the hosts "
                                  "file")
        return Endpoint(RemoteGuest(host, [], host.name, "host", host[key]),
                        host.name, host.dev_of(host[key]), [])

    def cpu_counters(self):
        """Per host, its busy CPU seconds (the whole host: its /proc/stat
        read over ssh)."""
        busy = self.cluster.cpu_busy()
        return {f"cpu_h{h.index + 1}_s": busy[h.name]
                for h in self.cluster.hosts}

    def appctl(self, command):
        return self.hosts.appctl(command) if self.hosts.switches else {}


def endpoints(bed, case):
    """(server, client) of a case."""
    if case == "vm2vm-vhost-shm":
        return bed.guest(0, 2), bed.guest(0, 1)
    if case in ("vm2vm-rdma-p1", "vm2vm-raw-p1"):
        return bed.guest(1, 1), bed.guest(0, 1)
    if case == "vm2vm-virtio-eth":
        return bed.kernel_guest(1), bed.kernel_guest(0)
    link = "eth" if case == "h2h-sock-eth" else "fabric"
    return bed.host(1, link), bed.host(0, link)


def reach(client, server, timeout=60):
    """Resolve ARP and prove the path before anything is timed."""
    def ping():
        code = client.runner.run(["ping", "-c", "1", "-W", "1", server.ip],
                                 30)[0]
        return code == 0
    if not wait_for(ping, timeout, interval=0.5):
        raise VrdmaError(f"{client.name} cannot reach {server.name} "
                         f"({server.ip}) in {timeout}s",
                         "see the nodes' logs in the output's logs/")


# --- the tools -------------------------------------------------------------

def ucx_env(bed, ifname, extra=""):
    """UCX's transports host to host (bed.ucx_tls, "" for UCX's choice)
    and devices (bed.ucx_net_devices; default: the path's interface when
    the transport is tcp, else UCX's choice), under the settings the
    fabric port runs UCX with (cases.UCX_DRIVER_ENV)."""
    env = [f"{k}={v}" for k, v in UCX_DRIVER_ENV.items()]
    if bed.ucx_tls:
        env.append(f"UCX_TLS={bed.ucx_tls}{extra}")
    devices = bed.ucx_net_devices or (
        ifname if bed.ucx_tls.split(",")[0] == "tcp" else None)
    if devices:
        env.append(f"UCX_NET_DEVICES={devices}")
    return env


def ucx_transport(bed, ifname):
    """Open MPI over UCX (pml ucx): Open MPI 4.1 takes UCX only on
    Mellanox devices unless told any will do."""
    args = ["--mca", "pml", "ucx", "--mca", "pml_ucx_tls", "any",
            "--mca", "pml_ucx_devices", "any", "--mca", "btl", "self"]
    for env in ucx_env(bed, ifname, ",self"):
        args += ["-x", env]
    return args


def npmpi(bed, case, first, second, workdir, opts):
    transport = ucx_transport(bed, first.ifname) \
        if case == "h2h-verb-roce" else None
    if isinstance(first.runner, NsGuest):
        return netpipe.npmpi([first.runner.netns, second.runner.netns],
                             workdir, upper=opts.upper, quick=opts.quick,
                             timeout=opts.timeout, ifname=first.ifname,
                             transport=transport)
    if first.runner.kind != "vm":
        return npmpi_cluster(first, second, opts, transport)
    return netpipe.npmpi_vms(first.runner, [first.ip, second.ip],
                             upper=opts.upper, quick=opts.quick,
                             timeout=opts.timeout)


def npmpi_cluster(first, second, opts, transport):
    """NPmpi across two real hosts or namespace guests on them: mpirun on
    first's host, with an rsh agent written there that reaches each rank's
    host and namespace (remote.rsh_agent)."""
    keys = [ep.runner.netns or ep.runner.host.name for ep in (first,
                                                              second)]
    host = first.runner.host
    agent = f"/tmp/vrdma-bench-rsh-{os.getpid()}"
    host.write(agent, clustermod.rsh_agent(
        host, [(ep.runner.host, key, ep.runner.netns)
               for ep, key in zip((first, second), keys)]), "755")
    try:
        argv = ["env", "OMPI_ALLOW_RUN_AS_ROOT=1",
                "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                *netpipe.mpirun_argv(keys, [netpipe.NPMPI,
                                            *netpipe.size_args(opts.upper,
                                                               opts.quick)],
                                     first.ifname, rsh_agent=agent,
                                     transport=transport)]
        launcher = RemoteGuest(host, [*clustermod.MARK_NETNS,
                                      *first.runner.prefix], first.name,
                               first.runner.kind)
        code, out, err = launcher.run(argv, opts.timeout)
    finally:
        host.run(["rm", "-f", agent], 60, check=False)
        # The agent's per-place TMPDIRs (remote.rsh_agent).
        for ep, key in zip((first, second), keys):
            ep.runner.host.run(["rm", "-rf", ompi_tmpdir(key)], 60,
                               check=False)
    out += err
    rows = netpipe.parse(out)
    if code != 0 or not rows:
        raise VrdmaError(f"NPmpi across {','.join(keys)} "
                         f"{'did not finish in time' if code is None else f'failed (exit {code})'}"
                         f": {out.strip()[-300:]}",
                         "check that the guests reach each other")
    return rows, out


def perftest_sizes(upper):
    sizes, size = [], 1
    while size <= upper:
        sizes.append(size)
        size *= 2
    return sizes


def perftest_batch(opts):
    """ucx_perftest's batch file: per size a ping-pong (ucp_am_lat: half
    the round trip, NetPIPE's latency) and a stream (ucp_am_bw), each
    sized to a fraction of a second here."""
    lat_bytes, bw_bytes, most = ((8 << 20, 32 << 20, 2000) if opts.quick
                                 else (64 << 20, 256 << 20, 10000))
    lines = []
    for size in perftest_sizes(opts.upper):
        for test, budget in (("lat", lat_bytes), ("bw", bw_bytes)):
            iters = max(100, min(most * (2 if test == "bw" else 1),
                                 budget // size))
            lines.append(f"{test}-{size} -t ucp_am_{test} -s {size} "
                         f"-n {iters} -w {max(10, iters // 10)}")
    return "\n".join(lines) + "\n"


def parse_perftest(text):
    """Rows like NetPIPE's from the batch's result lines: usec, the median
    one-way time of the ping-pong, gbits as NetPIPE counts it (size over
    one-way time) and stream_gbits from ucp_am_bw (its MB/s are 2^20
    B/s). The median, as NetPIPE keeps the best of its trials: an average
    would be mostly the scheduler of a small shared machine."""
    got = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 9 and f[0].split("-")[0] in ("lat", "bw"):
            test, size = f[0].split("-")
            got.setdefault(int(size), {})[test] = [float(x) for x in f[1:]]
    rows = []
    for size, t in sorted(got.items()):
        if "lat" not in t or "bw" not in t:
            continue
        usec = t["lat"][1]
        rows.append({"bytes": size, "usec": usec,
                     "gbits": size * 8 / (usec * 1e3),
                     "stream_gbits": t["bw"][5] * (1 << 20) * 8 / 1e9})
    return rows


def perftest(bed, server, client, workdir, opts):
    batch = os.path.join(workdir, "ucx_perftest.batch")
    text = perftest_batch(opts)
    os.makedirs(workdir, exist_ok=True)
    with open(batch, "w", encoding="utf-8") as f:
        f.write(text)
    for ep in (server, client):
        if isinstance(ep.runner, RemoteGuest):
            # Real hosts read it from their own /tmp.
            batch = f"/tmp/vrdma-bench-perftest-{os.getpid()}.batch"
            ep.runner.host.write(batch, text)
    env = ["env", *ucx_env(bed, server.ifname)]
    # -f: only each test's final line.
    srv = server.runner.spawn([*env, "ucx_perftest", *UCX_PERFTEST_ARGS,
                               "-f", "-b", batch])
    ended = False
    try:
        deadline = time.monotonic() + 15
        while True:
            # The server listens within moments; retry until it does.
            code, out, err = client.runner.run(
                [*env, "ucx_perftest", server.ip, *UCX_PERFTEST_ARGS,
                 "-f", "-b", batch],
                opts.timeout)
            rows = parse_perftest(out)
            if code == 0 and rows:
                break
            if srv.poll() is not None or time.monotonic() > deadline:
                raise VrdmaError(f"ucx_perftest {client.name} -> "
                                 f"{server.ip} failed: "
                                 f"{(out + err).strip()[-300:]}",
                                 "check that the hosts reach each other")
            time.sleep(0.5)
        ended = server.runner.reap(srv, 30)[0] is not None
    finally:
        if not ended:
            server.runner.reap(srv, 0)
        for ep in (server, client):
            if isinstance(ep.runner, RemoteGuest):
                ep.runner.host.run(["rm", "-f", batch], 60, check=False)
    return rows, out + err


def measure(bed, case, tool, server, client, workdir, opts):
    """(rows, raw output) of one run of tool."""
    if tool == "NPtcp":
        return netpipe.nptcp(server.runner, client.runner, server.ip,
                             upper=opts.upper, quick=opts.quick,
                             timeout=opts.timeout)
    if tool == "NPmpi":
        return npmpi(bed, case, client, server, workdir, opts)
    return perftest(bed, server, client, workdir, opts)


# --- CPU accounting --------------------------------------------------------

def cpu_now(bed):
    """Counters for cpu_delta: per host its datapath processes (real
    hosts: the whole host); the tools (NetPIPE, mpirun and its ranks,
    ucx_perftest: the children this process waited for; on real hosts
    only the local ssh clients); the machine; the wall clock."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    now = bed.cpu_counters()
    now.update(cpu_tools_s=kids.ru_utime + kids.ru_stime,
               cpu_machine_s=machine_busy(), wall_s=time.monotonic())
    return now


def cpu_delta(before, bed):
    after = cpu_now(bed)
    return {k: round(after[k] - before[k], 2) for k in before}


def run_cost(cpu, moved, perf_shows):
    """What a run cost the datapath, comparable across machines: GB the
    client's interface moved (both ways; moved is bytes or None), CPU
    seconds of the hosts' datapath processes per GB, and the switches'
    busy PMD cycles per frame (pmd-perf-show per host, weighted by frames
    over every PMD thread). None where there is no datapath process (the
    kernel alone carries the bytes) or no switch."""
    gb = moved / 1e9 if moved else None
    dp = sum(v for k, v in cpu.items()
             if k.startswith("cpu_h") and k.endswith("_s"))
    pmd = [ns_bench.pmd_summary(t) for t in perf_shows.values() if t]
    frames = sum(p["pmd_pkts"] for p in pmd)
    return {"moved_gb": round(gb, 4) if gb else None,
            "cpu_dp_s_per_gb": round(dp / gb, 2) if gb and dp > 0 else None,
            "pmd_cycles_per_frame": round(sum(
                p["pmd_cyc_pkt"] * p["pmd_pkts"] for p in pmd) / frames)
            if frames else None}


def median_cpu(runs):
    """Per key, the median over runs; None if a run has none."""
    return {k: None if any(r[k] is None for r in runs)
            else statistics.median(r[k] for r in runs) for k in runs[0]}


# Programs that skew every number when they run beside the bench on a
# small machine.
BUSY = ("ovs-vswitchd-dpdk", "ovs-vswitchd", "dpdk-testpmd",
        "vrdma-vhost-ns", "fabric_peer", "NPtcp", "NPopenmpi",
        "ucx_perftest", "qemu-system-x86_64")


def others_running():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        argv = pid_cmdline(int(pid))
        if argv and os.path.basename(argv[0]) in BUSY:
            found.append(f"{os.path.basename(argv[0])}[{pid}]")
    return found


# --- running ---------------------------------------------------------------

class Progress:
    """Which case, N of M, elapsed and a rough time left, on stderr."""

    def __init__(self, total):
        self.total = total
        self.done = 0
        self.started = time.monotonic()

    def step(self, what):
        self.done += 1
        spent = time.monotonic() - self.started
        left = ""
        if self.done > 1:
            per = spent / (self.done - 1)
            left = f", about {clock(per * (self.total - self.done + 1))} " \
                "left"
        progress(f"bench: [{self.done}/{self.total}] {what} "
                 f"({clock(spent)} elapsed{left})")

    def skip(self, n):
        self.total -= n


def clock(seconds):
    return f"{int(seconds) // 60}m{int(seconds) % 60:02d}s"


def median_rows(reps):
    """Per size, the median of each figure over the repetitions (sizes
    every repetition has)."""
    common = set.intersection(*({r["bytes"] for r in rows}
                                for rows in reps))
    out = []
    for row in reps[0]:
        if row["bytes"] not in common:
            continue
        same = [next(r for r in rows if r["bytes"] == row["bytes"])
                for rows in reps]
        med = {"bytes": row["bytes"]}
        for key in row:
            if key not in ("bytes", "mbps"):
                med[key] = statistics.median(r[key] for r in same)
        out.append(med)
    return out


def save(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def pmd_clear(bed):
    bed.appctl("dpif-netdev/pmd-stats-clear")


def pmd_save(bed, stem):
    """Where the switches' PMD threads spent the run, beside its output;
    returns each switch's pmd-perf-show."""
    shows = [bed.appctl(cmd) for cmd in ("dpif-netdev/pmd-stats-show",
                                         "dpif-netdev/pmd-perf-show")]
    for i, name in enumerate(shows[0]):
        save(f"{stem}.pmd-h{i + 1}.txt",
             "".join(show.get(name, "") for show in shows))
    return shows[1]


def timed(ctx, bed, case, tool, server, client, stem):
    """(rows, raw output, CPU seconds, profile summary or None) of one run
    of tool; with --profile, a perf profile of the run goes to stem.*."""
    pmd_clear(bed)
    moved = ns_bench.if_bytes(client.runner, client.ifname)
    before = cpu_now(bed)
    with (profmod.Profile(stem) if ctx.opts.profile
          else contextlib.nullcontext()) as prof:
        rows, raw = measure(bed, case, tool, server, client, ctx.workdir,
                            ctx.opts)
    cpu = cpu_delta(before, bed)
    after = ns_bench.if_bytes(client.runner, client.ifname)
    cpu["moved_bytes"] = after - moved if None not in (moved, after) \
        else None
    return rows, raw, cpu, prof.summary if prof is not None else None


def attempt(ctx, bed, case, tool, server, client, retried, stem):
    """timed(), once more after a failure (Open MPI's launch across a
    switch now and then hangs until the timeout); the failure's reason
    goes to retried."""
    try:
        return timed(ctx, bed, case, tool, server, client, stem)
    except (VrdmaError, subprocess.SubprocessError) as exc:
        line = exc.line() if isinstance(exc, VrdmaError) else str(exc)
        progress(f"bench: {case} {tool}: {line}; trying once more")
        retried.append(line)
    return timed(ctx, bed, case, tool, server, client, stem)


def run_tool(ctx, bed, case, tool, server, client):
    reps, cpus, retried, profiles = [], [], [], []
    for rep in range(ctx.opts.reps):
        ctx.progress.step(f"{case}: {tool} {client.name} -> {server.name}"
                          f", run {rep + 1} of {ctx.opts.reps}")
        stem = os.path.join(ctx.out, "raw", f"{case}.{tool}.{rep + 1}")
        try:
            rows, raw, cpu, prof = attempt(ctx, bed, case, tool, server,
                                           client, retried, stem)
        except BaseException:
            ctx.progress.skip(ctx.opts.reps - rep - 1)
            raise
        if prof is not None:
            progress(f"bench: {case} {tool} run {rep + 1}: CPU time: "
                     f"{profmod.one_line(prof['categories'])} "
                     f"({stem}.profile.txt)")
            profiles.append(prof["categories"])
        save(stem + ".txt", raw)
        cpu.update(run_cost(cpu, cpu.pop("moved_bytes"),
                            pmd_save(bed, stem)))
        reps.append(rows)
        cpus.append(cpu)
    out = {"rows": median_rows(reps), "retried": retried,
           "cpu": median_cpu(cpus)}
    if profiles:
        names = {k for p in profiles for k in p}
        out["profile"] = {k: statistics.median(p.get(k, 0.0)
                                               for p in profiles)
                          for k in names}
    return out


def run_case(ctx, bed, case):
    tools = CASES[case].tools
    result = {"what": CASES[case].what, "status": "ok", "tools": {}}
    try:
        server, client = endpoints(bed, case)
        reach(client, server)
    except clustermod.Skip as exc:
        ctx.progress.skip(len(tools) * ctx.opts.reps)
        return skipped(case, result, exc)
    except (VrdmaError, subprocess.SubprocessError, OSError) as exc:
        ctx.progress.skip(len(tools) * ctx.opts.reps)
        return failed(case, result, exc)
    for tool in tools:
        try:
            result["tools"][tool] = run_tool(ctx, bed, case, tool, server,
                                             client)
        except (VrdmaError, subprocess.SubprocessError, OSError) as exc:
            failed(f"{case} {tool}", result, exc)
            result["tools"][tool] = {"error": result["error"]}
    return result


def skipped(what, result, exc):
    progress(f"bench: {what}: SKIPPED: {exc.line()}")
    result["status"] = "skipped"
    result["error"] = exc.line()
    return result


def failed(what, result, exc):
    line = exc.line() if isinstance(exc, VrdmaError) else str(exc)
    progress(f"bench: {what}: failed: {line}")
    result["status"] = "failed"
    result["error"] = line
    return result


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    # Plain numbers; strings: a JSON string is a TOML basic string.
    return json.dumps(value)


class BenchHosts(Hosts):
    """Hosts whose switches start from --config's settings."""

    def __init__(self, settings, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings

    def config_text(self, i, name):
        data = tomllib.loads(super().config_text(i, name))
        for section, keys in self.settings.items():
            if section != "fabric" or section in data:
                data.setdefault(section, {}).update(keys)
        lines = ["# Written by vrdma bench: hosts.py's and --config's."]
        for section, keys in data.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
        return "\n".join(lines) + "\n"


# What --config may set for the emulated hosts' switches; the rest (names,
# addresses, uplinks) is the bench's own.
SETTABLE = {"cpu": None, "memory": None, "ports": None,
            "fabric": ("transports",)}


def node_settings(path):
    """The settable part of a node config, checked like any node config."""
    if path is None:
        return {}
    cfgmod.load(path)
    with open(path, "rb") as f:
        data = tomllib.load(f)
    out = {}
    for section, keys in SETTABLE.items():
        given = {k: v for k, v in data.get(section, {}).items()
                 if keys is None or k in keys}
        if given:
            out[section] = given
    return out


def make_hosts(ctx, setup):
    """The hosts of a setup: emulated (BenchHosts), or the real ones of
    --hosts (cluster.Bare, cluster.Nodes; a setup the hosts file does not
    configure raises cluster.Skip)."""
    if ctx.cluster is not None:
        if setup == "bare":
            return clustermod.Bare(ctx.cluster, ctx.tag)
        key = "config" if setup == "fabric" else "raw_config"
        missing = [h.name for h in ctx.cluster.hosts if not h[key]]
        if missing:
            raise clustermod.Skip(f"{', '.join(missing)}: no {key} in "
                                  f"{ctx.cluster.path}",
                                  f"give each host a {key} (a node config "
                                  "with a raw uplink) to run it")
        return clustermod.Nodes(ctx.cluster, key, ctx.guests, ctx.tag,
                                setup)
    common = {"guests_per_host": 0, "prefix": f"b{ctx.tag}{setup[0]}-"}
    if setup == "bare":
        return BenchHosts(ctx.settings, eth_link=True, switches=False,
                          **common)
    return BenchHosts(ctx.settings, uplink=setup, guest_kind=ctx.guests,
                      **common)


def make_bed(ctx, hosts):
    if ctx.cluster is not None:
        return ClusterBed(ctx.cluster, hosts, ctx.guests, ctx.workdir)
    return Bed(hosts, ctx.guests, ctx.workdir)


def save_logs(ctx, setup, hosts):
    """The switches' logs into the output's logs/."""
    if ctx.cluster is not None:
        texts = hosts.logs() if hosts.switches else {}
    else:
        texts = {}
        for name, node in hosts.nodes.items():
            if os.path.exists(node.paths.daemon_log):
                with open(node.paths.daemon_log, encoding="utf-8",
                          errors="replace") as f:
                    texts[name] = f.read()
    for name, text in texts.items():
        save(os.path.join(ctx.out, "logs", f"{name}.{setup}.log"), text)


def run_setup(ctx, setup, cases):
    try:
        hosts = make_hosts(ctx, setup)
    except clustermod.Skip as exc:
        for case in cases:
            ctx.progress.skip(len(CASES[case].tools) * ctx.opts.reps)
            ctx.results[case] = skipped(case, {
                "what": CASES[case].what, "tools": {}}, exc)
        return
    try:
        try:
            hosts.up()
            if hosts.switches and not hosts.wait_fabric(60):
                raise VrdmaError(f"{hosts.uplink_port()} links not up "
                                 "after 60s", "see the nodes' logs in the "
                                 "output's logs/")
        except (VrdmaError, subprocess.SubprocessError, OSError) as exc:
            for case in cases:
                ctx.progress.skip(len(CASES[case].tools) * ctx.opts.reps)
                ctx.results[case] = failed(case, {
                    "what": CASES[case].what, "tools": {}}, exc)
            return
        bed = make_bed(ctx, hosts)
        for case in cases:
            ctx.results[case] = run_case(ctx, bed, case)
    finally:
        try:
            save_logs(ctx, setup, hosts)
        except (VrdmaError, OSError) as exc:
            ctx.problems.append(f"{setup} hosts: logs not saved: {exc}")
        progress(f"bench: taking the {setup} hosts down")
        try:
            hosts.down()
        except VrdmaError as exc:
            ctx.problems.append(f"{setup} hosts: {exc.line()}")


# --- micro -----------------------------------------------------------------

def run_module(module, argv, stem):
    """A micro-benchmark, in this process: its table to STEM.txt, its
    progress to STEM.log; its exit status (it ends by returning or by
    SystemExit). Ctrl-C and SIGTERM unwind it like the rest of the run."""
    old = signal.getsignal(signal.SIGTERM)
    with open(stem + ".txt", "w", encoding="utf-8") as out, \
            open(stem + ".log", "w", encoding="utf-8") as log, \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(log):
        try:
            return module.main(argv)
        except SystemExit as exc:
            if exc.code == 143:  # its SIGTERM handler's exit
                raise KeyboardInterrupt from None
            if isinstance(exc.code, str):
                print(exc.code, file=log)
                return 1
            return exc.code
        finally:
            signal.signal(signal.SIGTERM, old)


def run_micro(ctx):
    modules = ((ns_bench, ["--out", os.path.join(ctx.out,
                                                 "micro-ns_bench")]),
               (fabric_bench, []))
    results = {}
    for module, extra in modules:
        name = module.__name__.rsplit(".", 1)[1]
        ctx.progress.step(f"micro: vrdma bench {name.split('_')[0]}"
                          f"{' --quick' if ctx.opts.quick else ''}")
        argv = [*(["--quick"] if ctx.opts.quick else []), *extra]
        stem = os.path.join(ctx.out, f"micro-{name}")
        code = run_module(module, argv, stem)
        results[name] = {"exit": code, "table": stem + ".txt",
                         "log": stem + ".log"}
        if code != 0:
            progress(f"bench: micro {name} failed (exit {code}); see "
                     f"{stem}.log")
    return results


# --- main ------------------------------------------------------------------

class Options:
    def __init__(self, args):
        self.quick = args.quick
        self.reps = args.reps if args.reps is not None else \
            1 if args.quick else 3
        if self.reps < 1:
            raise VrdmaError(f"--reps {args.reps}: need one or more",
                             "use --reps 1 or more")
        # Quick: powers of two to 64 KiB; full: NetPIPE's own sizes
        # (with its +-3 B perturbations) to 1 MiB. A run takes 10 s or
        # 45 s here; the timeout only catches a hang.
        self.upper = 65536 if args.quick else 1 << 20
        self.timeout = 180 if args.quick else 900
        self.profile = getattr(args, "profile", False)
        if self.profile and args.hosts:
            raise VrdmaError("--profile samples this machine's CPUs: not "
                             "the real hosts of --hosts",
                             "drop --profile, or run perf on the hosts")


def parse_cases(text):
    if not text:
        return list(CASES)
    cases = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in cases if c not in CASES and c != MICRO]
    if bad or not cases:
        raise VrdmaError(f"--cases: unknown case(s) {', '.join(bad)}",
                         "pick from " + ", ".join([*CASES, MICRO]))
    return [c for c in [*CASES, MICRO] if c in cases]


def terminate(_sig, _frame):
    """SIGTERM unwinds like Ctrl-C, so every cleanup runs."""
    raise KeyboardInterrupt


class Run:
    """What one `vrdma bench` carries through its cases."""

    def __init__(self, args):
        self.opts = Options(args)
        self.settings = node_settings(args.config)
        self.cluster = clustermod.Cluster(args.hosts) if args.hosts \
            else None
        if self.cluster is not None and args.config:
            raise VrdmaError("--config sets the emulated hosts' switches; "
                             "real hosts (--hosts) use their own node "
                             "configs", "drop --config, or --hosts")
        self.guests = args.guests
        self.out = os.path.abspath(args.out or time.strftime(
            "results/bench/%Y%m%d-%H%M%S"))
        self.tag = os.urandom(2).hex()  # names hosts, so runs never clash
        self.results = {}
        self.problems = []
        self.progress = None
        self.workdir = None
        self.others = {}  # others_running() before and after


def record_stamp(ctx):
    """The stamp of a Table 1 run's --record block (record.py)."""
    if ctx.cluster is not None:
        top = ctx.cluster.top
        return record.stamp(
            transports="fabric port: the hosts' node configs; "
            f"h2h-verb-roce: UCX_TLS={top['ucx_tls'] or 'UCX choice'}",
            emulated=None) + [f"- hosts: {ctx.cluster.describe()}"]
    transports = ctx.settings.get("fabric", {}).get("transports") or \
        "UCX's choice (tcp across the veth on UCX 1.13)"
    return record.stamp(
        transports=f"fabric port: {transports}; h2h-verb-roce: "
        f"UCX_TLS={UCX_TLS} with the fabric port's UCX settings",
        emulated="every case: the two hosts are network namespaces on one "
        "machine, the 'RoCE' link a veth (MTU 9000, no RDMA NIC), the "
        "Ethernet link a veth shaped to 1 Gbit/s; guests: "
        f"{'namespaces' if ctx.guests == 'ns' else 'QEMU VMs'}")


def main(args):
    record.check(args.record, "table1")
    cases = parse_cases(args.cases)
    ctx = Run(args)
    if ctx.cluster is not None:
        if MICRO in cases:
            raise VrdmaError("--cases micro runs on this machine, not on "
                             "--hosts", "run it without --hosts")
        # The hosts run everything; each has its own vrdma set up.
        ctx.cluster.reach()
        if args.guests == "vm":
            for host in ctx.cluster.hosts:
                progress(f"bench: {host.name}: vrdma guest image")
                host.vrdma_run(["guest", "image"], 1800)
    else:
        setupmod.setup()
        if args.guests == "vm":
            from vrdmalib import guestimage
            guestimage.build()
    os.makedirs(ctx.out, exist_ok=True)
    ctx.progress = Progress(sum(len(CASES[c].tools) * ctx.opts.reps
                                for c in cases if c != MICRO) +
                            (2 if MICRO in cases else 0))
    command = shlex.join(["vrdma", *sys.argv[1:]])
    progress(f"bench: {len(cases)} case(s), {ctx.opts.reps} run(s) each"
             f"{' (quick)' if ctx.opts.quick else ''}; output in "
             f"{ctx.out}")
    ctx.others["before"] = others_running()
    if ctx.others["before"]:
        progress("bench: warning: not alone, numbers will suffer: " +
                 " ".join(ctx.others["before"]))
    started = time.monotonic()
    micro = None
    old = signal.signal(signal.SIGTERM, terminate)
    ctx.workdir = tempfile.mkdtemp(prefix="vrdma-bench-")
    interrupted = False
    try:
        for setup in SETUPS:
            mine = [c for c in cases if c in CASES and
                    CASES[c].setup == setup]
            if mine:
                run_setup(ctx, setup, mine)
        if MICRO in cases:
            micro = run_micro(ctx)
    except KeyboardInterrupt:
        # Everything made is down by now; keep what was measured.
        ctx.problems.append("interrupted: later cases did not run")
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, old)
        shutil.rmtree(ctx.workdir, ignore_errors=True)
    ctx.others["after"] = others_running()
    summary = report.summary(ctx, command, micro,
                             time.monotonic() - started)
    report.write(ctx.out, summary)
    table = io.StringIO()
    report.print_table(summary, table)
    sys.stdout.write(table.getvalue())
    record.write(args.record, "table1", table.getvalue(), record_stamp(ctx))
    if interrupted:
        raise KeyboardInterrupt
    return 0 if report.all_ok(summary) else 1
