# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma bench`'s results (table1.py): the summary of a run (per case and
tool the medians per message size, CPU seconds, the figures the report
uses, ratios to h2h-verb-roce and h2h-sock-roce, the issue's targets),
written as summary.json, summary.csv, Figures 4-6 (figures.py) and
report.md, and the short table bench prints."""

import csv
import json
import os
import platform
import subprocess
import time

from vrdmalib.hosts import ETH_QDISC

from . import figures, record
from . import profile as profmod
from .cases import (CASES, KEYS, PRIMARY, REFERENCES, SUBJECT, TARGETS,
                    UCX_DRIVER_ENV, UCX_PERFTEST_ARGS, UCX_TLS, verdict)
PACKAGES = (("Open vSwitch", "openvswitch-switch-dpdk"), ("DPDK", "dpdk"),
            ("UCX", "ucx-utils"), ("Open MPI", "openmpi-bin"),
            ("QEMU", "qemu-system-x86"), ("NetPIPE", "netpipe-tcp"),
            ("iproute2 (tc)", "iproute2"))
GUEST_KINDS = {"ns": "namespace guests (vrdma-vhost-ns)",
               "vm": "QEMU VMs through the node's libvirtd (vrdma vm)"}
CSV_FIELDS = ("case", "tool", "bytes", "latency_us", "bandwidth_gbits",
              "stream_gbits", "cpu_h1_s", "cpu_h2_s", "cpu_tools_s",
              "cpu_machine_s", "wall_s", "moved_gb", "cpu_dp_s_per_gb",
              "pmd_cycles_per_frame")


# --- the summary -----------------------------------------------------------

def metrics(rows):
    """Latency at 1 B and 64 B, bandwidth at 64 KiB and the peak."""
    by_size = {r["bytes"]: r for r in rows}

    def at(size, key):
        return by_size[size][key] if size in by_size else None
    best = max(rows, key=lambda r: r["gbits"])
    return {"lat1": at(1, "usec"), "lat64": at(64, "usec"),
            "bw64k": at(65536, "gbits"), "peak": best["gbits"],
            "peak_at": best["bytes"]}


def ratio(a, b):
    return a / b if a is not None and b else None


def ratios(table):
    """Per case and tool, its figures over each reference case's."""
    out = []
    for case, tools in table.items():
        for tool, mine in tools.items():
            row = {"case": case, "tool": tool}
            for ref in REFERENCES:
                rt = tool if tool in table.get(ref, {}) else PRIMARY[ref]
                theirs = table.get(ref, {}).get(rt)
                row[ref] = theirs and {"tool": rt, **{
                    k: ratio(mine[k], theirs[k]) for k, _ in KEYS}}
            out.append(row)
    return out


def targets(table):
    case, tool = SUBJECT
    out = []
    for key, against, rule, bound in TARGETS:
        what = dict(KEYS)[key].replace("lat", "latency at").replace(
            "bw", "bandwidth at")
        r = ratio(table.get(case, {}).get(tool, {}).get(key),
                  table.get(against, {}).get(tool, {}).get(key))
        out.append({"target": f"{case} {what} {rule} {bound:g}x "
                    f"{against} ({tool})", "ratio": r,
                    "status": verdict(r, rule, bound)})
    return out


def package_version(name):
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name],
                          capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "not installed"


def environment(ctx):
    if ctx.cluster is not None:
        return cluster_environment(ctx)
    transports = ctx.settings.get("fabric", {}).get("transports") or \
        "UCX's choice (tcp across the veth on UCX 1.13)"
    env = {"CPU": record.cpu_model(),
           "cores": f"{os.cpu_count()} online, {len(os.sched_getaffinity(0))}"
                    " usable by the bench, shared by everything below",
           "kernel": platform.release()}
    env.update((what, package_version(pkg)) for what, pkg in PACKAGES)
    env.update({
        "fabric link": "veth, MTU 9000, unshaped (the 'RoCE' link)",
        "Ethernet link": "veth, MTU 1500, tc qdisc " + " ".join(ETH_QDISC)
                         + " on each end, in a Linux bridge per host",
        "fabric port": f"net_vrdma over UCX, transports: {transports}; "
                       "userspace TSO",
        "raw uplink": "net_af_packet on the fabric veth, MTU 1500",
        "h2h-verb-roce": f"ucx_perftest {' '.join(UCX_PERFTEST_ARGS)}, "
                         f"UCX_TLS={UCX_TLS} on the fabric veth; NPmpi "
                         "with Open MPI pml ucx "
                         f"(UCX_TLS={UCX_TLS},self); both with the fabric "
                         "port's UCX settings: " +
                         " ".join(f"{k}={v}"
                                  for k, v in UCX_DRIVER_ENV.items()),
        "NPmpi elsewhere": "Open MPI pml ob1, btl tcp on the path's "
                           "interface",
        "guests": f"{GUEST_KINDS[ctx.guests]} on vhost-user ports; "
                  "vm2vm-virtio-eth: namespaces on a veth in the host's "
                  "bridge",
        "node settings": json.dumps(ctx.settings) if ctx.settings
        else "defaults (no --config)",
    })
    for when, found in ctx.others.items():
        env[f"others running {when}"] = " ".join(found) or "none"
    return env


def cluster_environment(ctx):
    """Per host of --hosts: CPU, cores, kernel, versions, links, read
    there."""
    env = {"hosts": f"{ctx.cluster.describe()} (--hosts "
                    f"{ctx.cluster.path})"}
    script = ("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2; nproc; "
              "uname -r; dpkg-query -W -f='${Package}=${Version} ' " +
              " ".join(pkg for _, pkg in PACKAGES) + "; echo")
    for host in ctx.cluster.hosts:
        code, out, _ = host.run(["sh", "-c", script], 60, check=False)
        lines = out.strip().split("\n")
        if code != 0 or len(lines) < 4:
            env[host.name] = "not read: " + out.strip()[-100:]
            continue
        versions = lines[3].strip()
        env[host.name] = (f"{lines[0].strip()}, {lines[1]} cores, kernel "
                          f"{lines[2]}; {versions}; node configs "
                          f"{host['config']}"
                          f"{', ' + host['raw_config'] if host['raw_config'] else ''}"
                          f"; fabric {host['fabric_ip']} on "
                          f"{host.fabric_dev}")
    top = ctx.cluster.top
    devices = top["ucx_net_devices"] or (
        "the fabric interface" if top["ucx_tls"].split(",")[0] == "tcp"
        else "UCX's choice")
    env.update({
        "h2h-verb-roce": "ucx_perftest and NPmpi (pml ucx), UCX_TLS="
                         f"{top['ucx_tls'] or 'UCX choice'}, devices "
                         f"{devices}, with the fabric port's UCX settings",
        "NPmpi elsewhere": "Open MPI pml ob1, btl tcp on the path's "
                           "interface",
        "guests": f"{GUEST_KINDS[ctx.guests]} on vhost-user ports; "
                  "vm2vm-virtio-eth: a namespace on a veth in eth_bridge",
        "CPU seconds": "h1/h2: the whole host (its /proc/stat); tools: "
                       "this machine's ssh clients only",
    })
    return env


def summary(ctx, command, micro, seconds):
    order = [c for c in CASES if c in ctx.results]
    cases = {c: ctx.results[c] for c in order}
    table = {c: {t: metrics(got["rows"]) for t, got in r["tools"].items()
                 if got.get("rows")} for c, r in cases.items()}
    return {"command": command, "out": ctx.out,
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "seconds": round(seconds, 1), "quick": ctx.opts.quick,
            "reps": ctx.opts.reps, "upper": ctx.opts.upper,
            "environment": environment(ctx), "case_order": order,
            "cases": cases, "metrics": table, "ratios": ratios(table),
            "targets": targets(table), "micro": micro,
            "problems": ctx.problems}


def all_ok(s):
    return (all(r["status"] in ("ok", "skipped")
                for r in s["cases"].values()) and
            all(m["exit"] == 0 for m in (s["micro"] or {}).values()) and
            not s["problems"])


# --- files -----------------------------------------------------------------

def write(out, s):
    with open(os.path.join(out, "summary.json"), "w",
              encoding="utf-8") as f:
        json.dump(s, f, indent=1)
    write_csv(os.path.join(out, "summary.csv"), s)
    s["figures"] = figures.draw(s, out)
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as f:
        f.write(markdown(s))


def write_csv(path, s):
    """One line per case, tool and size; the CPU columns are the whole
    run's (median over repetitions), repeated on each of its lines."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, CSV_FIELDS, extrasaction="ignore")
        out.writeheader()
        for case, res in s["cases"].items():
            for tool, got in res["tools"].items():
                for row in got.get("rows", []):
                    out.writerow({"case": case, "tool": tool,
                                  "bytes": row["bytes"],
                                  "latency_us": row["usec"],
                                  "bandwidth_gbits": round(row["gbits"], 6),
                                  "stream_gbits": row.get("stream_gbits"),
                                  **got["cpu"]})


def num(v, spec=".2f", suffix=""):
    return "-" if v is None else f"{v:{spec}}{suffix}"


def md_table(head, rows):
    lines = ["| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def case_section(s, case, res):
    lines = [f"### {case}", "", res["what"] + ".", ""]
    if res.get("error"):
        lines += [f"**{'Skipped' if res['status'] == 'skipped' else 'Failed'}"
                  f":** {res['error']}", ""]
    rows = []
    for tool, got in res["tools"].items():
        m = s["metrics"][case].get(tool)
        if not m:
            rows.append([tool, "failed", "", "", "", "", "", "", ""])
            continue
        cpu = got["cpu"]
        rows.append([tool, num(m["lat1"], ".1f"), num(m["lat64"], ".1f"),
                     num(m["bw64k"]), f"{num(m['peak'])} at "
                     f"{m['peak_at']} B",
                     " / ".join(num(cpu.get(k), ".1f") for k in (
                         "cpu_h1_s", "cpu_h2_s", "cpu_tools_s",
                         "cpu_machine_s", "wall_s")),
                     num(cpu.get("moved_gb"), ".3f"),
                     num(cpu.get("cpu_dp_s_per_gb"), ".1f"),
                     num(cpu.get("pmd_cycles_per_frame"), ".0f")])
    lines += md_table(
        ["tool", "lat 1 B (us)", "lat 64 B (us)", "bw 64 KiB (Gbit/s)",
         "bw peak (Gbit/s)",
         "CPU s: h1 / h2 datapath / tools / machine / wall", "GB moved",
         "datapath CPU s/GB", "OVS cycles/frame"], rows)
    for tool, got in res["tools"].items():
        lines += [f"Retried a {tool} run after: {why}  "
                  for why in got.get("retried", [])]
        if got.get("profile"):
            lines += [f"Where the CPU time went, {tool} (perf, every "
                      f"CPU, medians of the runs' % of all samples): "
                      f"{profmod.one_line(got['profile'])}  "]
    return lines + [""]


def ratio_section(s, ref):
    rows = []
    for r in s["ratios"]:
        got = r[ref]
        if got:
            rows.append([r["case"], r["tool"], got["tool"],
                         *(num(got[k], ".2f", "x") for k, _ in KEYS)])
    if not rows:
        return [f"No ratios to {ref}: it was not measured.", ""]
    return md_table(["case", "tool", f"{ref} tool",
                     *(t for _, t in KEYS)], rows)


def reference_2015(s):
    table = s["metrics"]
    p1 = table.get("vm2vm-rdma-p1", {}).get("NPtcp", {})
    verbs = table.get("h2h-verb-roce", {}).get("ucx_perftest", {})
    bw = ratio(p1.get("bw64k"), verbs.get("bw64k"))
    peak = ratio(p1.get("peak"), verbs.get("peak"))
    lat = ratio(p1.get("lat1"), verbs.get("lat1"))
    return [
        "The 2015 report (section 4.2, ConnectX-3 RoCE, 4-core i7, OVS 2.4,"
        " DPDK 2.1) measured prototype I (vm2vm-rdma-p1) at **20-25% of "
        "bare-metal verbs bandwidth** and **8.2-10.3 us** small-message "
        "latency against **1.4-2.2 us** for verbs (3.7-7.4x); the "
        "Ethernet cases near 100 us. Figures 4 and 6 show these as grey "
        "and coloured bands.", "",
        f"- here, vm2vm-rdma-p1 NPtcp bandwidth is {num(bw, '.0%')} of "
        f"h2h-verb-roce (ucx_perftest ping-pong) at 64 KiB and "
        f"{num(peak, '.0%')} at the peaks (2015: 20-25%);",
        f"- its 1 B latency is {num(p1.get('lat1'), '.1f', ' us')} against "
        f"{num(verbs.get('lat1'), '.1f', ' us')} for h2h-verb-roce, "
        f"{num(lat, '.1f', 'x')} (2015: 8.2-10.3 us against 1.4-2.2 us).",
        "- h2h-verb-roce runs UCX over tcp on a veth (no RDMA NIC here), "
        "so its latency is a kernel round trip, not a verbs one.", ""]


def markdown(s):
    mode = (f"quick: NetPIPE powers of two to {s['upper']} B, "
            if s["quick"] else
            f"full: NetPIPE's sizes (with perturbations) to {s['upper']} B, "
            ) + f"{s['reps']} run(s) per tool, medians"
    lines = ["# vrdma bench: the 2015 report's benchmark "
             "(Table 1, Figures 4-6)", "",
             f"Command: `{s['command']}`  ", f"Date: {s['date']}; took "
             f"{s['seconds']:.0f} s; {mode}.", "",
             "Latency is NetPIPE's one-way time (half the round trip); "
             "bandwidth is Gbit/s of 10^9 bit/s, counted as NetPIPE does "
             "(size over one-way time). CPU seconds per run: each host's "
             "datapath processes (ovsdb-server, ovs-vswitchd, the guests' "
             "vhost-user frontends), the measuring tools (NetPIPE, mpirun "
             "and its ranks, ucx_perftest), the whole machine "
             "(/proc/stat) and the wall clock.", "",
             "## Environment", ""]
    lines += md_table(["", ""], s["environment"].items())
    lines += ["## Cases (Table 1)", ""]
    lines += md_table(["case", "path", "tools", "status"], [
        [c, r["what"], ", ".join(r["tools"]) or "-", r["status"]]
        for c, r in s["cases"].items()])
    lines += ["## Results per case", ""]
    for case, res in s["cases"].items():
        lines += case_section(s, case, res)
    lines += ["## Ratios", "", "Each case's figures over the reference's "
              "(latency: lower is better; bandwidth: higher is better); a "
              "tool the reference lacks is compared with its main tool.",
              ""]
    for ref in REFERENCES:
        lines += [f"### to {ref}", ""] + ratio_section(s, ref)
    lines += ["## Targets (issue 7)", ""]
    lines += md_table(["target", "ratio", "status"], [
        [t["target"], num(t["ratio"], ".2f", "x"), t["status"]]
        for t in s["targets"]])
    lines += ["## The 2015 report, for reference", ""] + reference_2015(s)
    lines += ["## Figures", ""] + [
        f"![{name}]({name})" for name in s.get("figures", {})] + [""]
    lines += micro_section(s) + problems_section(s)
    return "\n".join(lines)


def micro_section(s):
    if not s["micro"]:
        return []
    lines = ["## Micro-benchmarks", ""]
    for name, m in s["micro"].items():
        lines += [f"bench/{name}.py: exit {m['exit']}; progress in "
                  f"`{os.path.basename(m['log'])}`:", "", "```"]
        with open(m["table"], encoding="utf-8", errors="replace") as f:
            lines += [f.read().rstrip(), "```", ""]
    return lines


def problems_section(s):
    if not s["problems"]:
        return []
    return ["## Problems", ""] + [f"- {p}" for p in s["problems"]] + [""]


# --- stdout ----------------------------------------------------------------

def print_cost(s, out):
    """What each run cost the datapath (run_cost in table1.py), under the
    table: the runs that moved bytes."""
    rows = [(case, tool, got["cpu"]) for case, res in s["cases"].items()
            for tool, got in res.get("tools", {}).items()
            if (got.get("cpu") or {}).get("moved_gb")]
    if not rows:
        return
    print(f"{'datapath cost':<18} {'tool':<13} {'GB moved':>9} "
          f"{'CPU s/GB':>9} {'OVS cycles/frame':>17}", file=out)
    for case, tool, cpu in rows:
        print(f"{case:<18} {tool:<13} {num(cpu['moved_gb'], '.3f'):>9} "
              f"{num(cpu.get('cpu_dp_s_per_gb'), '.1f'):>9} "
              f"{num(cpu.get('pmd_cycles_per_frame'), '.0f'):>17}",
              file=out)


def print_table(s, out):
    print(f"{'case':<18} {'tool':<13} {'lat 1B':>9} {'lat 64B':>9} "
          f"{'bw 64KiB':>11} {'bw peak':>11}", file=out)
    for case, res in s["cases"].items():
        if res["status"] == "skipped":
            print(f"{case:<18} {'-':<13} SKIPPED: {res['error']}", file=out)
            continue
        for tool in CASES[case].tools:
            m = s["metrics"][case].get(tool)
            if m is None:
                print(f"{case:<18} {tool:<13} failed", file=out)
                continue
            print(f"{case:<18} {tool:<13} {num(m['lat1'], '.1f', 'us'):>9}"
                  f" {num(m['lat64'], '.1f', 'us'):>9} "
                  f"{num(m['bw64k'], '.2f', 'Gb/s'):>11} "
                  f"{num(m['peak'], '.2f', 'Gb/s'):>11}", file=out)
    print_cost(s, out)
    for case, res in s["cases"].items():
        for tool, got in res.get("tools", {}).items():
            if got.get("profile"):
                print(f"cpu time: {case} {tool}: "
                      f"{profmod.one_line(got['profile'])}", file=out)
    for t in s["targets"] if s["cases"] else ():
        print(f"target: {t['target']}: {num(t['ratio'], '.2f', 'x')} "
              f"{t['status']}", file=out)
    for name, m in (s["micro"] or {}).items():
        print(f"micro: bench/{name}.py exit {m['exit']}: {m['table']}",
              file=out)
    for p in s["problems"]:
        print(f"problem: {p}", file=out)
    print(f"took {s['seconds']:.0f} s; output: {s['out']}", file=out)
