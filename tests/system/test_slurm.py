#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Slurm jobs that bring their guests up, on two emulated hosts: a real
slurmctld and one slurmd per host (its own network namespace, -N NAME),
munged with a key of the test's, the node configs written by `vrdma
cluster up` and the switches stopped (`cluster down --keep`). A job with
--vrdma gets, before it starts, each node's switch up and a guest on it,
runs NPmpi across the two guests through $VRDMA_RUN, and after it the
guests are gone and the switches stopped again; a cancelled job leaves
nothing either; a job without --vrdma is left alone; a bad --vrdma is
refused by sbatch itself."""

import json
import os
import random
import re
import socket
import subprocess
import time

import vrdmatest
from vrdmatest import Case, SshHosts, snapshot
from vrdmalib import netpipe

CTL = "198.19.250.254"


def orted_ancestry(seen):
    """Adds each running Open MPI daemon (orted) to seen: pid -> the
    names of its ancestors, parent first."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid in seen:
            continue
        try:
            if vrdmatest.read(f"/proc/{pid}/comm").strip() != "orted":
                continue
            chain, p = [], pid
            while p not in ("0", "1"):
                status = vrdmatest.read(f"/proc/{p}/status")
                p = re.search(r"^PPid:\s+(\d+)", status, re.M).group(1)
                chain.append(vrdmatest.read(f"/proc/{p}/comm").strip())
        except (OSError, AttributeError):
            continue  # gone meanwhile
        seen[pid] = chain


class Slurm:
    """slurmctld in the management network's hub namespace, one slurmd
    per host in the host's namespace; all files in scratch; commands get
    SLURM_CONF. Cleanups go to case.addCleanup."""

    def __init__(self, case, scratch, hosts, names, extra):
        self.case = case
        self.dir = os.path.join(scratch, "slurm")
        os.makedirs(os.path.join(self.dir, "state"))
        self.env = dict(os.environ, SLURM_CONF=os.path.join(self.dir,
                                                           "slurm.conf"))
        key = os.path.join(self.dir, "munge.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(1024))
        sock = os.path.join(self.dir, "munge.sock")
        self.spawn("munged", ["munged", "-F", "-f", f"--socket={sock}",
                              f"--key-file={key}",
                              f"--pid-file={self.dir}/munged.pid",
                              f"--log-file={self.dir}/munged.log",
                              f"--seed-file={self.dir}/munged.seed"])
        subprocess.run(["ip", "-n", hosts.hub, "addr", "add", f"{CTL}/24",
                        "dev", "br0"], check=True)
        port = random.randrange(20000, 30000, 2)
        lines = [
            "ClusterName=vrdmatest",
            f"SlurmctldHost={socket.gethostname().split('.')[0]}({CTL})",
            f"SlurmctldPort={port}", f"SlurmdPort={port + 1}",
            "AuthType=auth/munge", f"AuthInfo=socket={sock}",
            "CredType=cred/munge", "SlurmUser=root", "SlurmdUser=root",
            f"StateSaveLocation={self.dir}/state",
            f"SlurmdSpoolDir={self.dir}/spool-%n",
            f"SlurmctldPidFile={self.dir}/slurmctld.pid",
            f"SlurmdPidFile={self.dir}/slurmd-%n.pid",
            f"SlurmctldLogFile={self.dir}/slurmctld.log",
            f"SlurmdLogFile={self.dir}/slurmd-%n.log",
            # No cgroup hierarchy of Slurm's on this machine: process
            # groups track the tasks.
            "ProctrackType=proctrack/pgid", "TaskPlugin=task/none",
            "SelectType=select/linear", "MpiDefault=none",
            "ReturnToService=2", "JobCompType=jobcomp/none",
            "AccountingStorageType=accounting_storage/none", *extra]
        for i, name in enumerate(names):
            os.makedirs(os.path.join(self.dir, f"spool-{name}"))
            lines.append(f"NodeName={name} NodeAddr={hosts.address(i)} "
                         f"CPUs={os.cpu_count()} State=UNKNOWN")
        lines.append("PartitionName=vrdma Nodes=ALL Default=YES "
                     "MaxTime=INFINITE State=UP")
        with open(self.env["SLURM_CONF"], "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.dir, "cgroup.conf"), "w",
                  encoding="utf-8") as f:
            f.write("CgroupPlugin=cgroup/v1\n")
        self.spawn("slurmctld", ["ip", "netns", "exec", hosts.hub,
                                 "slurmctld", "-D", "-f",
                                 self.env["SLURM_CONF"]])
        for i, name in enumerate(names):
            self.spawn(f"slurmd-{name}", [
                "ip", "netns", "exec", hosts.hosts.names[i], "slurmd", "-D",
                "-N", name, "-f", self.env["SLURM_CONF"]])
        deadline = time.monotonic() + 60
        while True:
            out = self.run("sinfo", "-h", "-N", "-o", "%N %t", ok=False)
            states = dict(ln.split() for ln in out.stdout.splitlines())
            if sorted(states) == sorted(names) and \
                    set(states.values()) == {"idle"}:
                return
            if time.monotonic() > deadline:
                case.fail(f"slurm nodes not idle: {out.stdout}"
                          f"{out.stderr}{self.logs()}")
            time.sleep(0.5)

    def spawn(self, name, argv):
        log = open(os.path.join(self.dir, f"{name}.out"), "w",
                   encoding="utf-8")
        self.case.addCleanup(log.close)
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                env=self.env)
        self.case.addCleanup(SshHosts._stop, proc)

    def run(self, *argv, ok=True, timeout=120):
        proc = subprocess.run(argv, capture_output=True, text=True,
                              env=self.env, timeout=timeout, check=False)
        if ok and proc.returncode != 0:
            self.case.fail(f"{' '.join(argv)} exited {proc.returncode}: "
                           f"{proc.stderr}{proc.stdout}{self.logs()}")
        return proc

    def logs(self, run_dir=None):
        """The daemons' logs' tails, and the prologs' and epilogs'."""
        out = []
        dirs = [self.dir] + ([os.path.join(run_dir, "log")]
                             if run_dir else [])
        for d in dirs:
            for name in sorted(os.listdir(d) if os.path.isdir(d) else []):
                if name.endswith((".log", ".out")):
                    text = vrdmatest.read(os.path.join(d, name))
                    out.append(f"--- {name}\n" +
                               "\n".join(text.splitlines()[-25:]))
        return "\n".join(out)

    @staticmethod
    def stuck(show_job):
        """What a job that does not end has printed so far (its StdOut,
        from scontrol's show job), and the MPI processes still there."""
        out = []
        m = re.search(r"StdOut=(\S+)", show_job)
        if m and os.path.exists(m.group(1)):
            out.append(f"--- job output\n{vrdmatest.read(m.group(1))}")
        ps = subprocess.run(["ps", "-eo", "pid,ppid,stat,etime,wchan:20,args"],
                            capture_output=True, text=True, check=False)
        out.append("--- MPI processes\n" + "\n".join(
            line for line in ps.stdout.splitlines()
            if re.search(r"mpirun|orted|NPopenmpi|srun", line)))
        return "\n".join(out) + "\n"

    def wait_done(self, jobid, timeout, run_dir, each_second=None):
        """The job's final state (COMPLETED, FAILED, CANCELLED...) once
        it has ended; a job still going after timeout is cancelled and
        the test fails with the logs. each_second() is called while it
        runs."""
        deadline = time.monotonic() + timeout
        while True:
            if each_second:
                each_second()
            out = self.run("scontrol", "show", "job", str(jobid), ok=False)
            m = re.search(r"JobState=(\w+)", out.stdout)
            state = m.group(1) if m else "?"
            if state not in ("PENDING", "CONFIGURING", "RUNNING",
                             "COMPLETING", "?"):
                return state
            drained = "drain" in self.run("sinfo", "-h", "-o", "%t",
                                          ok=False).stdout
            if drained or time.monotonic() > deadline:
                stuck = self.stuck(out.stdout)
                self.run("scancel", str(jobid), ok=False)
                self.case.fail(f"job {jobid} still {state} "
                               f"{'(a node drained)' if drained else ''}"
                               f" after {timeout} s:\n{out.stdout}"
                               f"{stuck}{self.logs(run_dir)}")
            time.sleep(1)


class SlurmJobs(Case):
    def test_jobs_bring_their_guests_up(self):
        before = snapshot()
        hosts = SshHosts(self, self.state, n=2)
        inv, names, etc = hosts.inventory(self.state, ["[ports]",
                                                      "tso = true"])
        # The configs written, the switches stopped: the jobs start them.
        self.vrdma("cluster", "up", "-i", inv, timeout=600)
        self.vrdma("cluster", "down", "--keep", "-i", inv, timeout=600)
        self.assert_switches("stopped", inv)

        run_dir = os.path.join(self.state, "slurm-run")
        conf = self.vrdma("slurm", "conf", "--out",
                          os.path.join(self.state, "slurm-vrdma"),
                          "--config-dir", etc, "--run-dir", run_dir)
        slurm = Slurm(self, self.state, hosts, names,
                      conf.stdout.split())

        # A bad request: refused by sbatch, through the plugin.
        bad = slurm.run("sbatch", "-N2", "--vrdma=9", "--wrap", "true",
                        ok=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("--vrdma=9: expected a number of guests per node "
                      "from 1 to 8", bad.stderr)

        # NPmpi across the two nodes' guests.
        out = os.path.join(self.state, "job.out")
        script = os.path.join(self.state, "job.sh")
        with open(script, "w", encoding="utf-8") as f:
            f.write("\n".join([
                "#!/bin/sh", "set -eu", 'echo "hostfile: $(cat '
                '"$VRDMA_HOSTFILE" | tr "\\n" " ")"',
                f'"$VRDMA_RUN" {netpipe.MPIRUN} -np 2 {netpipe.NPMPI} '
                "-u 65536 -p 0", ""]))
        t0 = time.monotonic()
        # In scratch: NPmpi writes np.out where it runs.
        job = slurm.run("sbatch", "-N2", "--vrdma", "-o", out, "-D",
                        self.state, script)
        jobid = int(job.stdout.split()[-1])
        orteds = {}
        state = slurm.wait_done(jobid, 300, run_dir,
                                lambda: orted_ancestry(orteds))
        text = vrdmatest.read(out)
        print(f"job in {time.monotonic() - t0:.1f} s:\n{text}")
        self.assertEqual(state, "COMPLETED", text + slurm.logs(run_dir))
        # The other node's rank is started by an Open MPI daemon that
        # srun started there: it must stay in its job step. A daemon that
        # left it (--daemonize) could be killed with the step's process
        # group before it did (the job then hung in one run of six).
        self.assertTrue(orteds, "no orted seen while the job ran")
        for pid, chain in orteds.items():
            self.assertIn("slurmstepd", chain,
                          f"orted {pid} outside its job step: "
                          f"{' < '.join(chain)}")
        subnet = f"10.{128 + jobid // 256 % 64}.{jobid % 256}"
        self.assertIn(f"hostfile: {subnet}.1 slots=1 {subnet}.2 slots=1",
                      text)
        rows = netpipe.parse(text)
        self.assertGreater(len(rows), 5, text)
        for row in rows:
            self.assertGreater(row["gbits"], 0, row)
        self.assert_job_gone(jobid, run_dir, inv)

        # A job cancelled while it runs: guests up, then all gone.
        sub = slurm.run("sbatch", "-N2", "--vrdma=2", "-o", "/dev/null",
                        "-D", self.state,
                        "--wrap", '"$VRDMA_RUN" sleep 600')
        jobid = int(sub.stdout.split()[-1])
        guests = {f"j{jobid}-{n}-g{k}" for n in names for k in (1, 2)}
        deadline = time.monotonic() + 180
        while not guests <= set(os.listdir("/run/netns")):
            self.assertLess(time.monotonic(), deadline,
                            "guests of the job did not come: " +
                            slurm.logs())
            time.sleep(1)
        self.assert_switches("up", inv)
        slurm.run("scancel", str(jobid))
        self.assert_job_gone(jobid, run_dir, inv)

        # A job that did not ask: nothing started for it.
        plain = slurm.run("srun", "-N2", "sh", "-c",
                          'echo "$SLURMD_NODENAME ${VRDMA_RUN:-none}"')
        self.assertEqual(sorted(plain.stdout.split("\n")[:2]),
                         [f"{n} none" for n in names])
        self.assert_switches("stopped", inv)

        self.vrdma("cluster", "down", "-i", inv, timeout=600)
        del hosts, slurm
        self.doCleanups()
        self.assertEqual(snapshot(), before)

    def assert_switches(self, state, inv):
        st = self.vrdma("cluster", "status", "-i", inv, "--json", ok=False)
        nodes = json.loads(st.stdout)["nodes"]
        self.assertEqual([n["node"] for n in nodes], [state] * len(nodes),
                         st.stdout)

    def assert_job_gone(self, jobid, run_dir, inv):
        """The epilog ran everywhere: no guest, no job files, the
        switches stopped as before the job."""
        deadline = time.monotonic() + 120
        while any(n.startswith(f"j{jobid}-")
                  for n in os.listdir("/run/netns")) or \
                os.path.exists(os.path.join(run_dir, str(jobid))):
            self.assertLess(time.monotonic(), deadline,
                            f"job {jobid}'s guests or files stay")
            time.sleep(1)
        deadline = time.monotonic() + 60
        while True:
            st = self.vrdma("cluster", "status", "-i", inv, "--json",
                            ok=False)
            if all(n["node"] == "stopped"
                   for n in json.loads(st.stdout)["nodes"]):
                break
            self.assertLess(time.monotonic(), deadline, st.stdout)
            time.sleep(1)


if __name__ == "__main__":
    vrdmatest.main()
