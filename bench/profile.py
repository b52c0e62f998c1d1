# SPDX-License-Identifier: BSD-3-Clause
"""Where the CPU time of a benchmark run goes: a system-wide sampling
profile (Linux perf, every CPU, its cpu-clock event, which needs no
hardware counters) taken while the run lasts, then its samples sorted
into what they were doing: copying bytes, the kernel's TCP/IP stack and
tap, system calls and scheduling, OVS's own work, UCX, the frontends,
the measuring tools, idle. One line per run says it in percent of all
samples (of both CPUs: idle included), so that a result can be read on
any machine: a bandwidth that is 40% copies is bound by copies.

`vrdma bench --profile` takes one per run, beside its raw output
(RUN.profile.txt: the categories, the processes and the hottest symbols;
RUN.perf.data for `perf report -i`)."""

import os
import re
import shutil
import signal
import subprocess

from vrdmalib.util import VrdmaError

# (category, what it matches: comm, dso, symbol), first match wins; the
# order matters: a copy inside the kernel's TCP stack is a copy.
CATEGORIES = (
    ("idle", re.compile(r"^swapper", re.I), None, None),
    ("copy", None, None, re.compile(
        r"memcpy|memmove|copy_user|copy_to_user|copy_from_user|"
        r"_copy_to_iter|_copy_from_iter|copyout|copyin|rep_movs|"
        r"csum_partial_copy|skb_copy_datagram|rte_memcpy|memset")),
    ("checksum", None, None, re.compile(r"csum|checksum")),
    ("kernel tcp/ip, tap", None, re.compile(r"kernel"), re.compile(
        r"^(tcp|ip|__ip|inet|__inet|sock|__sock|skb|__skb|kfree_skb|"
        r"__kfree_skb|__netif|netif|net_rx|napi|__napi|tun|__tun|"
        r"dev_|__dev|validate_xmit|nf_|veth|__alloc_skb|alloc_skb|"
        r"sk_|__sk|lock_sock|release_sock|process_backlog|"
        r"__build_skb|build_skb|eth_|packet_|fib|rt_|dst_|neigh)")),
    ("kernel syscalls, scheduling", None, re.compile(r"kernel"), None),
    ("ucx", None, re.compile(r"libuc[pstm]|ucx"), None),
    ("ovs-vswitchd", re.compile(r"ovs-vswitchd|^pmd|^handler|^revalidator|"
                                r"^urcu|^ovs"), None, None),
    ("vhost-user frontend", re.compile(r"vrdma-vhost|vhost-ns"), None,
     None),
    ("netpipe, mpi", re.compile(r"^NP|mpirun|orted|prted"), None, None),
)

LINE = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$")


def category(comm, dso, sym):
    """The category of a sample from comm, in dso, at symbol sym."""
    for name, c_re, d_re, s_re in CATEGORIES:
        if c_re is not None and not c_re.search(comm):
            continue
        if d_re is not None and not d_re.search(dso):
            continue
        if s_re is not None and not s_re.search(sym):
            continue
        return name
    return "other"


def parse(report):
    """perf report --sort comm,dso,sym lines: [(percent, comm, dso, sym)]."""
    rows = []
    for line in report.splitlines():
        m = LINE.match(line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3),
                         m.group(5)))
    return rows


def summarize(rows):
    """{"categories": {name: percent}, "comms": {comm: percent},
    "top": [(percent, comm, dso, sym)]}, percents of all samples."""
    cats, comms = {}, {}
    for pct, comm, dso, sym in rows:
        name = category(comm, dso, sym)
        cats[name] = cats.get(name, 0.0) + pct
        # Thread names of one process: OVS's PMD threads are its.
        proc = "ovs-vswitchd" if category(comm, "", "") == "ovs-vswitchd" \
            else comm
        comms[proc] = comms.get(proc, 0.0) + pct
    order = sorted(cats.items(), key=lambda kv: -kv[1])
    return {"categories": dict(order),
            "comms": dict(sorted(comms.items(), key=lambda kv: -kv[1])),
            "top": sorted(rows, reverse=True)[:20]}


def one_line(cats):
    """The categories ({name: percent}) in one line, busiest first
    (those under 1% left out), idle last."""
    busy = [f"{k} {v:.0f}%" for k, v in sorted(cats.items(),
                                                key=lambda kv: -kv[1])
            if k != "idle" and v >= 1.0]
    return ", ".join(busy + [f"idle {cats.get('idle', 0.0):.0f}%"])


def text(summary):
    """The profile file's text: categories, processes, hottest symbols."""
    out = ["# where the CPU time went (perf, every CPU, % of all samples)",
           "", "## by category"]
    out += [f"{v:6.1f}%  {k}" for k, v in summary["categories"].items()]
    out += ["", "## by process"]
    out += [f"{v:6.1f}%  {k}" for k, v in summary["comms"].items()
            if v >= 0.1]
    out += ["", "## hottest symbols"]
    out += [f"{p:6.1f}%  {c:<16} {d:<24} {s}  ({category(c, d, s)})"
            for p, c, d, s in summary["top"]]
    return "\n".join(out) + "\n"


class Profile:
    """perf record on every CPU while the with-block runs; the summary
    (summarize()) is in .summary after it, and the files at stem."""

    def __init__(self, stem):
        self.stem = stem
        self.summary = None
        self.proc = None
        self.perf = shutil.which("perf")

    def __enter__(self):
        if self.perf is None:
            raise VrdmaError("--profile needs perf, which is missing",
                             "apt-get install linux-perf (vrdma setup "
                             "installs it)")
        os.makedirs(os.path.dirname(self.stem) or ".", exist_ok=True)
        self.proc = subprocess.Popen(
            [self.perf, "record", "-a", "-F", "499", "-q",
             "-o", self.stem + ".perf.data"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise VrdmaError("perf record did not stop within 60 s",
                             "see `perf record` by hand") from None
        if exc[0] is not None:
            return False
        if self.proc.returncode not in (0, -signal.SIGINT):
            raise VrdmaError(f"perf record failed (exit "
                             f"{self.proc.returncode}): "
                             f"{err.strip()[-300:]}",
                             "check that perf runs here (perf record -a "
                             "-- sleep 1)")
        rep = subprocess.run(
            [self.perf, "report", "-i", self.stem + ".perf.data", "--stdio",
             "--no-children", "--sort", "comm,dso,sym", "-q",
             "--percent-limit", "0.05"],
            capture_output=True, text=True, timeout=300, check=False)
        if rep.returncode != 0:
            raise VrdmaError(f"perf report failed: "
                             f"{rep.stderr.strip()[-300:]}",
                             f"try perf report -i {self.stem}.perf.data")
        self.summary = summarize(parse(rep.stdout))
        with open(self.stem + ".profile.txt", "w", encoding="utf-8") as f:
            f.write(text(self.summary))
        return False
