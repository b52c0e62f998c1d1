# SPDX-License-Identifier: BSD-3-Clause
"""Slurm jobs that bring their guests up: `vrdma slurm conf|prolog|epilog`.

A job asks with `--vrdma[=GUESTS]` (srun, sbatch, salloc), an option the
SPANK plugin slurm/spank_vrdma.so adds; the plugin hands it to the job's
prolog and epilog as SPANK_VRDMA. Slurm runs the prolog as root on every
allocated node when the job is allocated (PrologFlags=Alloc), before the
job starts, and the epilog after it ends, whether it succeeded, failed or
was cancelled. The prolog brings the node's switch up if it is not (node
config CONFIG_DIR/NODENAME.toml, as `vrdma cluster up` writes them),
attaches the job's namespace guests, and writes the job's files in
RUN_DIR/JOBID: `hostfile` (every guest of the job, on every node, one
address a line), `rsh` (Open MPI's remote shell: a guest on this node is
entered with ip netns exec, one on another node through `srun --overlap`
into the job) and `run` (runs its arguments in this node's first guest,
with Open MPI pointed at both). The plugin puts their paths in the tasks'
environment (VRDMA_HOSTFILE, VRDMA_RUN). The epilog removes the guests and
the files, and stops the switch again if the prolog started it and no
other job has guests on it.

Every node works the whole job's layout out alone: its guests are named
j<JOB>-<NODE>-g<K> (their network namespaces too) and addressed in the
job's own /24, 10.(128 + JOB/256 % 64).(JOB % 256).0, host part NODE_INDEX *
GUESTS + K, NODE_INDEX the node's place in the job's node list."""

import json
import os
import shlex
import shutil
import subprocess

from . import config as cfgmod
from . import netpipe, nsguest, remote
from .node import Node
from .util import VrdmaError, locked, progress

DEFAULT_RUN_DIR = "/run/vrdma/slurm"
PLUGIN = os.path.join(remote.TOP, "build", "slurm", "spank_vrdma.so")
GUESTS_MAX = 8

RUN = """#!/bin/sh
# Written by vrdma slurm prolog for job {job}: runs its arguments in this
# node's first guest of the job ({netns}), Open MPI set to start ranks in
# the job's guests ($VRDMA_HOSTFILE) through their rsh agent, over the
# guests' eth0. The Slurm variables go: mpirun would read the job's node
# allocation from them, not the guests. orte_leave_session_attached: the
# daemon that srun starts on another node stays in its job step instead
# of daemonizing, which Slurm could kill with the step's process group
# before it left it (the job then hung: docs/quirks.md).
set -eu
PATH=$PATH:/usr/sbin:/sbin
for v in $(env | sed -n 's/^\\(SLURM_[A-Za-z0-9_]*\\)=.*/\\1/p'); do
    [ "$v" = SLURM_CONF ] || unset "$v"
done
# The rsh agent leaves the guest's namespace through this one.
VRDMA_HOST_NETNS=/proc/$PPID/ns/net
export VRDMA_HOST_NETNS
mkdir -p {tmp}
exec ip netns exec {netns} env TMPDIR={tmp} \\
    OMPI_MCA_orte_default_hostfile={hostfile} \\
    OMPI_MCA_plm_rsh_agent={rsh} OMPI_MCA_plm_rsh_no_tree_spawn=1 \\
    OMPI_MCA_pml=ob1 OMPI_MCA_btl=tcp,self \\
    OMPI_MCA_orte_leave_session_attached=1 \\
    OMPI_MCA_btl_tcp_if_include=eth0 OMPI_MCA_oob_tcp_if_include=eth0 \\
    {mca}OMPI_MCA_hwloc_base_binding_policy=none \\
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$@"
"""

RSH = """#!/bin/sh
# Written by vrdma slurm prolog for job {job}: Open MPI's remote shell
# (plm_rsh_agent) into the job's guests, named by address.
set -eu
PATH=$PATH:/usr/sbin:/sbin
where=$1
shift
case "$where" in
{cases}
*) echo "vrdma slurm rsh: {job} has no guest $where" >&2; exit 2 ;;
esac
"""


def _env(name):
    value = os.environ.get(name, "")
    if not value:
        raise VrdmaError(f"{name} is not set: vrdma slurm prolog and epilog "
                         "run from Slurm's Prolog and Epilog",
                         "configure them with vrdma slurm conf")
    return value


def job_subnet(job):
    return f"10.{128 + job // 256 % 64}.{job % 256}"


def layout(job, nodes, guests):
    """[(node, guest name, address with prefix)] of the whole job."""
    if len(nodes) * guests > 253:
        raise VrdmaError(f"{len(nodes)} nodes x {guests} guests do not fit "
                         "a job's /24", "ask for fewer guests per node")
    out = []
    for i, node in enumerate(nodes):
        for k in range(guests):
            name = f"j{job}-{node}-g{k + 1}"
            if len(name) > 32:
                raise VrdmaError(f"guest name {name} is longer than 32",
                                 "use shorter Slurm node names")
            out.append((node, name,
                        f"{job_subnet(job)}.{i * guests + k + 1}/24"))
    return out


def _job():
    """The job's id, this node's name, its nodes and guests per node, or
    None when the job did not ask for vrdma."""
    asked = os.environ.get("SPANK_VRDMA", "")
    if not asked:
        return None
    try:
        guests = int(asked)
    except ValueError:
        guests = 0
    if not 1 <= guests <= GUESTS_MAX:
        raise VrdmaError(f"SPANK_VRDMA={asked!r}: not 1 to {GUESTS_MAX}",
                         "the plugin checks --vrdma; is it the same build?")
    job = int(_env("SLURM_JOB_ID"))
    me = _env("SLURMD_NODENAME")
    # Slurm 22.05 gives its Prolog and Epilog SLURM_NODELIST.
    nodelist = os.environ.get("SLURM_JOB_NODELIST") or _env("SLURM_NODELIST")
    out = subprocess.run(["scontrol", "show", "hostnames", nodelist],
                         capture_output=True, text=True, check=False)
    nodes = out.stdout.split()
    if out.returncode != 0 or me not in nodes:
        raise VrdmaError(f"job {job}: cannot read its node list "
                         f"({out.stderr.strip() or 'no ' + me})")
    return job, me, nodes, guests


def _node(config_dir, me):
    path = os.path.join(config_dir, f"{me}.toml")
    if not os.path.exists(path):
        raise VrdmaError(f"{path}: no node config for Slurm node {me}",
                         "write it (vrdma cluster up does) or point "
                         "--config-dir at it")
    return Node(cfgmod.load(path))


def _write(path, text, mode=0o644):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def prolog(config_dir, run_dir):
    job = _job()
    if job is None:
        return
    job, me, nodes, guests = job
    plan = layout(job, nodes, guests)
    jobdir = os.path.join(run_dir, str(job))
    with locked(run_dir):
        node = _node(config_dir, me)
        rec = node.record()
        marker = os.path.join(run_dir, f"node-{me}.json")
        if rec is None or rec.get("stopped") or not node.daemon_running():
            if not os.path.exists(marker):
                _write(marker, json.dumps(
                    {"before": "absent" if rec is None else "stopped"}))
            progress(f"slurm job {job}: node {me} up")
            node.up()
        os.makedirs(jobdir, exist_ok=True)
        for where, name, ip in plan:
            if where == me:
                progress(f"slurm job {job}: guest {name} {ip}")
                nsguest.add(node, name, ip=ip, netns=name)
        _write(os.path.join(jobdir, "hostfile"),
               "".join(f"{ip.split('/')[0]} slots=1\n"
                       for _, _, ip in plan))
        _write(os.path.join(jobdir, "rsh"), _rsh(job, me, plan), 0o755)
        first = next(name for where, name, _ in plan if where == me)
        _write(os.path.join(jobdir, "run"), RUN.format(
            job=job, netns=first, tmp=remote.ompi_tmpdir(first),
            hostfile=os.path.join(jobdir, "hostfile"),
            rsh=os.path.join(jobdir, "rsh"),
            mca="".join(f"OMPI_MCA_{name}={value} "
                        for name, value in netpipe.MCA_SETTINGS)), 0o755)


def _rsh(job, me, plan):
    # Another node's guest: through Slurm into the job.
    return RSH.format(job=job, cases="\n".join(
        remote.rsh_case(ip.split("/")[0], name, None if where == me else
                        ["srun", f"--jobid={job}", "--overlap", "-N1",
                         "-n1", "-w", where, "--quiet", "sh", "-c"],
                        place=name)
        for where, name, ip in plan))


def epilog(config_dir, run_dir):
    job = _job()
    if job is None:
        return
    job, me, _nodes, _guests = job
    with locked(run_dir):
        node = _node(config_dir, me)
        mine = f"j{job}-{me}-g"
        left = []
        for rec in nsguest.records(node) if node.record() else []:
            if rec["guest"].startswith(mine):
                progress(f"slurm job {job}: removing guest {rec['guest']}")
                nsguest.delete(node, rec["guest"])
                shutil.rmtree(remote.ompi_tmpdir(rec["guest"]), ignore_errors=True)
            elif rec["guest"].startswith("j"):
                left.append(rec["guest"])
        shutil.rmtree(os.path.join(run_dir, str(job)), ignore_errors=True)
        marker = os.path.join(run_dir, f"node-{me}.json")
        if os.path.exists(marker) and not left:
            with open(marker, encoding="utf-8") as f:
                before = json.load(f)["before"]
            progress(f"slurm job {job}: node {me} back to {before}")
            if before == "absent":
                node.down()
            else:
                node.stop()
            os.unlink(marker)


WRAPPER = """#!/bin/sh
# Written by vrdma slurm conf: Slurm's {what} for jobs that ask --vrdma.
# Its output goes to {log}.
# slurmd gives it PATH=/bin:/usr/bin; OVS, ip and nsenter are in sbin.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mkdir -p {logdir}
exec {vrdma} slurm {what} --config-dir {config_dir} --run-dir {run_dir} \\
    >>{log} 2>&1
"""


def conf(out, config_dir, run_dir, vrdma):
    """The files a Slurm installation needs in out; returns the lines
    for slurm.conf."""
    if not os.path.exists(PLUGIN):
        raise VrdmaError(f"{PLUGIN} is not built",
                         "tools/vrdma setup (it installs libslurm-dev and "
                         "builds the plugin)")
    os.makedirs(out, exist_ok=True)
    logdir = os.path.join(run_dir, "log")
    for what in ("prolog", "epilog"):
        _write(os.path.join(out, f"vrdma-{what}"), WRAPPER.format(
            what=what, vrdma=shlex.quote(vrdma),
            config_dir=shlex.quote(config_dir),
            run_dir=shlex.quote(run_dir), logdir=shlex.quote(logdir),
            log=f'{shlex.quote(logdir)}/{what}-"$SLURMD_NODENAME".log'),
               0o755)
    _write(os.path.join(out, "plugstack-vrdma.conf"),
           f"required {PLUGIN} rundir={run_dir}\n")
    return [f"Prolog={os.path.join(out, 'vrdma-prolog')}",
            f"Epilog={os.path.join(out, 'vrdma-epilog')}",
            "PrologFlags=Alloc",
            f"PlugStackConfig={os.path.join(out, 'plugstack-vrdma.conf')}"]
