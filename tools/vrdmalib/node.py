# SPDX-License-Identifier: BSD-3-Clause
"""One node's switch: its own ovsdb-server and ovs-vswitchd-dpdk, with every
file, socket, pid and DPDK prefix named after the node (the 2015 report's
Table 2), so many nodes can share one NFS install and one machine can host
several. `up` converges to the configured state (twice is the same as
once), `down` stops only what this node started and removes what it made,
and a failed `up` of a new node leaves nothing behind."""

import hashlib
import json
import os
import shutil
import time

from . import config as cfgmod
from . import hugepages, nsguest, plugin, uplink, vm
from .util import (VrdmaError, cpu_mask, isolated_cpus, locked, monitor_of,
                   online_cpus, parse_cpu_list, pid_alive, progress,
                   read_pidfile, run, stop_pid, wait_for, wait_gone, warn)

OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
PMD_NAME = "librte_net_vrdma.so"
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
UNIX_PATH_MAX = 107


class Paths:
    """Where everything of node `name` lives under state_dir."""

    def __init__(self, state_dir, name):
        self.state_dir = state_dir
        self.name = name
        self.root = os.path.join(state_dir, name)
        self.run = os.path.join(self.root, "run")
        self.log_dir = os.path.join(self.root, "log")
        self.vhost_dir = os.path.join(self.run, "vhost")
        self.db = os.path.join(self.root, f"conf-{name}.db")
        self.record = os.path.join(self.root, "node.json")
        self.db_sock = os.path.join(self.run, f"ovs-db-{name}.sock")
        self.server_pid = os.path.join(self.run, f"ovs-server-{name}.pid")
        self.daemon_pid = os.path.join(self.run, f"ovs-daemon-{name}.pid")
        self.server_ctl = os.path.join(self.run, f"ovs-server-{name}.ctl")
        self.daemon_ctl = os.path.join(self.run, f"ovs-daemon-{name}.ctl")
        self.server_log = os.path.join(self.log_dir, f"ovs-server-{name}.log")
        self.daemon_log = os.path.join(self.log_dir, f"ovs-daemon-{name}.log")
        self.dpdk_prefix = f"vrdma-{name}"
        self.dpdk_runtime = os.path.join("/run/dpdk", self.dpdk_prefix)
        self.hugepage_owner = f"node:{name}"

    def env(self):
        """OVS's own directories, so nothing lands in /var/run/openvswitch."""
        env = dict(os.environ)
        env.update(OVS_RUNDIR=self.run, OVS_LOGDIR=self.log_dir,
                   OVS_DBDIR=self.root, OVS_SYSCONFDIR=self.root)
        return env

    def socket_path(self, port):
        path = os.path.join(self.vhost_dir, port)
        if len(path) > UNIX_PATH_MAX:
            raise VrdmaError(f"socket path {path} is longer than the "
                             f"{UNIX_PATH_MAX} bytes a unix socket allows",
                             "use a shorter state_dir, node or guest name")
        return path


def bridge_name(cfg):
    """The bridge's local port is a kernel tap named after the bridge, so the
    name must fit IFNAMSIZ and differ between nodes sharing a namespace."""
    name = cfg["node.bridge"]
    if name == "auto":
        name = f"br-{cfg.name}"
        if len(name) > 15:
            name = "br-" + hashlib.sha1(cfg.name.encode()).hexdigest()[:8]
    if len(name) > 15:
        raise VrdmaError(f"bridge name {name!r} is longer than 15 "
                         "characters (its kernel tap would not fit)",
                         "set a shorter [node] bridge")
    return name


# What a changed config key takes on a node that is up (node up applies
# "live" and "fabric" changes; node restart also "restart" ones; "refuse"
# ones need node down): by "section.key", else by section.
CHANGE_NEEDS = {
    "node": "refuse",          # name, state dir, netns, bridge
    "libvirt": "refuse",       # the VMs live in the other libvirtd
    "cpu": "live",             # other_config:pmd-cpu-mask, pmd-maxsleep
    "ports.mode": "live",      # defaults of ports added later
    "ports.mtu": "live",
    "ports.queues": "live",
    "ports.tso": "restart",    # read when ovs-vswitchd starts
    "memory": "restart",       # EAL: socket memory, hugepages
    "uplink": "restart",       # EAL allow-list
    "fabric": "fabric",        # the fabric port is re-created
}


def project_version():
    """meson.build's project version."""
    try:
        with open(os.path.join(TOP, "meson.build"), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("version:"):
                    return line.split("'")[1]
    except (OSError, IndexError):
        pass
    return "unknown"


class Node:
    def __init__(self, cfg):
        self.cfg = cfg
        self.name = cfg.name
        self.paths = Paths(cfg.state_dir, cfg.name)
        self.bridge = bridge_name(cfg)
        self.netns = cfg["node.netns"]
        self._uplink = None
        # A node that is up runs in the bridge and namespace it was made
        # with, whatever the config file says now (node up refuses to
        # change them; node down must still find them).
        rec = self.record()
        if rec is not None:
            self.bridge = rec.get("bridge", self.bridge)
            self.netns = rec.get("config", {}).get("node", {}).get(
                "netns", self.netns)

    def in_netns(self, argv):
        """argv run inside the node's network namespace, if it has one."""
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns \
            else list(argv)

    # --- OVS plumbing -----------------------------------------------------

    def vsctl(self, *args, timeout=30, check=True):
        return run(["ovs-vsctl", f"--db=unix:{self.paths.db_sock}",
                    f"--timeout={timeout}", *args], check=check,
                   timeout=timeout + 5)

    def appctl(self, *args, target="daemon", timeout=30, check=True):
        ctl = self.paths.daemon_ctl if target == "daemon" \
            else self.paths.server_ctl
        return run(["ovs-appctl", "-t", ctl, f"--timeout={timeout}", *args],
                   check=check, timeout=timeout + 5)

    def interfaces(self, kind=None):
        """The Interface table as dicts (ovs-vsctl's JSON output, decoded),
        of type kind if given; [] when the DB cannot be read."""
        from . import ports
        try:
            rows = ports.interfaces(self)
        except VrdmaError:
            return []
        return [r for r in rows if kind is None or r.get("type") == kind]

    def server_pid(self):
        return read_pidfile(self.paths.server_pid)

    def daemon_pid(self):
        return read_pidfile(self.paths.daemon_pid)

    def server_running(self):
        return pid_alive(self.server_pid())

    def daemon_running(self):
        return pid_alive(self.daemon_pid())

    def is_up(self):
        return os.path.exists(self.paths.record)

    def record(self):
        try:
            with open(self.paths.record, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    # --- CPU choice -------------------------------------------------------

    def pmd_plan(self):
        """(cores, maxsleep_us, warnings) for the PMD threads."""
        online = online_cpus()
        isolated = [c for c in isolated_cpus() if c in online]
        notes = []
        want = self.cfg["cpu.pmd_cores"]
        if want == "auto":
            pool = [c for c in isolated if c != 0] or isolated
            if pool:
                cores = pool[:1]
            else:
                others = [c for c in online if c != 0]
                cores = [others[-1]] if others else [online[0]]
        else:
            cores = parse_cpu_list(want)
            absent = [c for c in cores if c not in online]
            if absent:
                raise VrdmaError(
                    f"pmd_cores {want!r} names CPU "
                    f"{','.join(map(str, absent))}, but this machine has "
                    f"CPUs {','.join(map(str, online))}",
                    'set [cpu] pmd_cores to online CPUs or "auto"')
        shared = [c for c in cores if c not in isolated]
        if shared:
            notes.append(f"PMD core(s) {','.join(map(str, shared))} not "
                         "isolated: PMD threads share them with other work "
                         "(add isolcpus= and nohz_full= to the kernel "
                         "command line for real runs)")
        sleep = self.cfg["cpu.pmd_maxsleep_us"]
        if sleep == "auto":
            # Shared cores: sleep when idle, but briefly. Measured with two
            # namespace guests (NPtcp, TSO): 100 us gave 112 us latency and
            # 4.4 Gbit/s, 20 us 30 us and 7.3 Gbit/s for 5% of a core
            # when idle, 10 us 22 us and 8.5 Gbit/s for 10%.
            sleep = 20 if shared else 0
        return cores, sleep, notes

    def fabric_devargs(self):
        """net_vrdma devargs from [fabric], or '' when there is none."""
        fab = self.cfg.values["fabric"]
        if not fab["listen"]:
            return ""
        args = [f"net_vrdma0,listen={fab['listen']}"]
        args += [f"peer={peer}" for peer in fab["peers"]]
        if fab["transports"]:
            args.append(f"transports={fab['transports']}")
        if fab["dev"]:
            args.append(f"dev={fab['dev']}")
        if fab["rndv_thresh"] != "auto":
            args.append(f"rndv_thresh={fab['rndv_thresh']}")
        if fab["mac"]:
            args.append(f"mac={fab['mac']}")
        if fab["keyfile"]:
            args.append(f"keyfile={fab['keyfile']}")
        return ",".join(args)

    def _plugin_ref(self):
        """This node's name among a driver copy's users."""
        tag = hashlib.sha256(self.paths.root.encode()).hexdigest()[:8]
        return f"{self.name}-{tag}"

    def install_plugin(self):
        """The driver this build made, installed where EAL accepts it (see
        plugin.py) into a directory named after the project version and
        the driver's content, never written again once there: a rebuild
        makes another one, and a switch that restarts (after a crash, by
        --monitor) loads the very driver it was started with. The node's
        record and dpdk-extra name it; node down drops the node's use of
        it and removes a directory no node uses."""
        src = os.path.join(TOP, "build", "pmd", PMD_NAME)
        if not os.path.exists(src):
            raise VrdmaError(f"{src} not built", "run: tools/vrdma setup")
        with open(src, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        d = os.path.join(plugin.SAFE_ROOT, f"{project_version()}-{digest}")
        dest = os.path.join(d, PMD_NAME)
        os.makedirs(os.path.join(d, "users"), mode=0o755, exist_ok=True)
        os.chmod(plugin.SAFE_ROOT, 0o755)
        if not os.path.exists(dest):
            tmp = f"{dest}.{os.getpid()}.tmp"
            shutil.copy2(src, tmp)
            os.chmod(tmp, 0o755)
            os.replace(tmp, dest)
        with open(os.path.join(d, "users", self._plugin_ref()), "w",
                  encoding="utf-8") as f:
            f.write(self.paths.root + "\n")
        rec = self.record()
        old = rec.get("plugin") if rec else None
        if rec is not None and old != dest:
            rec["plugin"] = dest
            self._save_record(rec)
            if old:
                self._release_plugin(old)
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                   f'other_config:dpdk-extra="{self.eal_extra(dest)}"')
        return dest

    def _release_plugin(self, path):
        """Drop this node's use of the driver copy at path; remove the copy
        if no node uses it any more."""
        d = os.path.dirname(path)
        try:
            os.unlink(os.path.join(d, "users", self._plugin_ref()))
        except OSError:
            pass
        try:
            if not os.listdir(os.path.join(d, "users")):
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass
        try:
            os.rmdir(plugin.SAFE_ROOT)
        except OSError:
            pass

    def eal_extra(self, plugin_path=None):
        args = ["--in-memory", "--file-prefix", self.paths.dpdk_prefix]
        plugin_path = plugin_path or (self.record() or {}).get("plugin")
        if self.fabric_devargs() and plugin_path:
            args += ["-d", plugin_path]
        pci = cfgmod.pci_address(self.uplink_devargs())
        if pci:
            args += ["-a", pci]
        else:
            # Never let DPDK probe the machine's own PCI NICs. No device
            # DMAs, so IO addresses are virtual ones: the fabric port may
            # then lend received frames in UCX's buffers (no copy); in PA
            # mode it copies them (docs/fabric-port.md).
            args[:0] = ["--no-pci", "--iova-mode=va"]
        return " ".join(args)

    # --- bring-up ---------------------------------------------------------

    def up(self):
        os.makedirs(self.cfg.state_dir, exist_ok=True)
        with locked(self.cfg.state_dir):
            rec = self.record()
            if rec is not None and rec.get("stopped"):
                # Stopped (node down --keep): start it, with the config as
                # it is now, as a restart would.
                self._refuse_structural(self.config_changes(rec))
                cores, sleep, _notes = self.pmd_plan()
                del rec["stopped"]
                self._adopt_config(rec, cores, sleep)
                progress(f"node {self.name}: starting from its kept DB")
            elif rec is not None and rec.get("config") != self.cfg.as_dict():
                self._apply_live(rec)
                return
            fresh = rec is None
            try:
                self._converge(fresh)
            except BaseException:
                if fresh:
                    progress(f"node {self.name}: bring-up failed; "
                             "removing what was started")
                    self._teardown()
                raise

    def _converge(self, fresh):
        p = self.paths
        cores, sleep, notes = self.pmd_plan()
        for note in notes:
            warn(note)
        if fresh:
            for path in (p.root, p.run, p.log_dir, p.vhost_dir):
                os.makedirs(path, exist_ok=True)
            self._write_record(cores, sleep)
        self._ensure_netns(self.record())
        mem = self.cfg.values["memory"]
        hugepages.reserve(p.hugepage_owner, mem["hugepage_size"],
                          mem["hugepages"])
        if not self.server_running():
            self._start_server()
        self._configure(cores, sleep)
        restarted = False
        if not self.daemon_running():
            self._sync_dpdk_ports()
            if self.fabric_devargs():
                self.install_plugin()
            self._start_daemon()
            restarted = not fresh
        self.vsctl("--may-exist", "add-br", self.bridge, "--", "set",
                   "bridge", self.bridge, "datapath_type=netdev")
        self._check_bridge()
        self._ensure_uplink()
        if restarted:
            self._kick_stuck_vhost_ports()
        if fresh:
            progress(f"node {self.name}: up (bridge {self.bridge}, PMD "
                     f"core {','.join(map(str, cores))}, state {p.root})")
        else:
            progress(f"node {self.name}: already up; nothing to change")

    def _write_record(self, cores, sleep):
        return self._adopt_config({"bridge": self.bridge}, cores, sleep)

    def _adopt_config(self, rec, cores, sleep):
        """Record the config file's contents as what the node runs with."""
        rec.update(config=self.cfg.as_dict(), config_source=self.cfg.source,
                   pmd_cores=cores, pmd_maxsleep_us=sleep)
        self._save_record(rec)
        return rec

    def _save_record(self, rec):
        tmp = self.paths.record + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(rec, f, indent=1, sort_keys=True)
        os.replace(tmp, self.paths.record)

    def _start_server(self):
        p = self.paths
        if not os.path.exists(p.db):
            run(["ovsdb-tool", "create", p.db, OVS_SCHEMA])
        else:
            self._upgrade_db()
        progress(f"node {self.name}: starting ovsdb-server")
        run(self.in_netns(
            ["ovsdb-server", p.db, f"--remote=punix:{p.db_sock}",
             "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
             f"--pidfile={p.server_pid}", f"--unixctl={p.server_ctl}",
             f"--log-file={p.server_log}", "--detach", "--monitor",
             "--no-chdir"]),
            env=p.env())
        self.vsctl("--no-wait", "init")

    def _upgrade_db(self):
        """A DB made by another OVS version (an upgrade, or a downgrade) is
        converted to the installed schema before the server opens it, as
        ovs-ctl does, after a backup named after the old version."""
        db = self.paths.db
        need = run(["ovsdb-tool", "needs-conversion", db, OVS_SCHEMA],
                   check=False)
        if need.returncode != 0:
            raise VrdmaError(f"{db}: ovsdb-tool needs-conversion failed: "
                             f"{need.stderr.strip()}",
                             f"move {db} away (the node's ports are then "
                             "lost) and run node up again")
        if need.stdout.strip() != "yes":
            return
        old = run(["ovsdb-tool", "db-version", db]).stdout.strip()
        cksum = run(["ovsdb-tool", "db-cksum", db]).stdout.split()[0]
        new = run(["ovsdb-tool", "schema-version", OVS_SCHEMA]).stdout.strip()
        backup = f"{db}.backup{old}-{cksum}"
        shutil.copy2(db, backup)
        # Compacted first, as ovs-ctl does: replaying the old log against
        # a schema with garbage collection could break a reference.
        run(["ovsdb-tool", "compact", db], check=False)
        conv = run(["ovsdb-tool", "convert", db, OVS_SCHEMA], check=False)
        if conv.returncode != 0:
            shutil.copy2(backup, db)
            raise VrdmaError(f"{db}: converting schema {old} to {new} "
                             f"failed: {conv.stderr.strip()}",
                             f"the DB is as it was ({backup} too); move it "
                             "away to start with an empty one (the node's "
                             "ports are then lost)")
        progress(f"node {self.name}: DB converted from schema {old} to "
                 f"{new} (backup {backup})")

    def _configure(self, cores, sleep):
        mem = self.cfg.values["memory"]
        settings = {
            "dpdk-init": "true",
            "dpdk-extra": self.eal_extra(),
            "dpdk-socket-mem": str(mem["socket_mem_mb"]),
            "dpdk-socket-limit": str(mem["socket_limit_mb"]),
            # Shared mempools start at 262144 mbufs and halve on ENOMEM:
            # each failed try fills the whole heap for a moment, and a
            # vhost-user handshake running then (a guest reconnecting to a
            # restarted switch) fails to allocate its rings. Per-port
            # pools are sized from the port's queues and fit at once.
            "per-port-memory": "true",
            "pmd-cpu-mask": cpu_mask(cores),
            "pmd-maxsleep": str(sleep),
            "vhost-sock-dir": os.path.basename(self.paths.vhost_dir),
            "userspace-tso-enable": str(self.cfg["ports.tso"]).lower(),
        }
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                   *[f'other_config:{k}="{v}"' for k, v in settings.items()],
                   f"external_ids:system-id={self.name}")

    def _start_daemon(self):
        p = self.paths
        progress(f"node {self.name}: starting ovs-vswitchd-dpdk "
                 "(DPDK init takes a few seconds)")
        if not os.access(OVS_VSWITCHD, os.X_OK):
            raise VrdmaError(f"{OVS_VSWITCHD} not found (Debian package "
                             "openvswitch-switch-dpdk)",
                             "run: tools/vrdma setup")
        proc = run(self.in_netns(
            [OVS_VSWITCHD, f"unix:{p.db_sock}", f"--pidfile={p.daemon_pid}",
             f"--unixctl={p.daemon_ctl}", f"--log-file={p.daemon_log}",
             # --monitor: a crash (SIGSEGV, SIGABRT, ...) restarts it.
             "--detach", "--monitor", "--no-chdir"]),
            env=p.env(), check=False, timeout=180)
        if proc.returncode != 0 or not self.daemon_running():
            reason = self._log_reason()
            if "Cannot allocate memory" in reason:
                size = self.cfg.values["memory"]["hugepage_size"]
                total, free = hugepages.counts(size)
                reason += (f" ({free} of {total} {size} hugepages free; "
                           f"this node needs "
                           f"{self.cfg.values['memory']['socket_mem_mb']} "
                           "MB of them)")
            raise VrdmaError(f"ovs-vswitchd-dpdk of node {self.name} did not "
                             f"start: {reason}", f"see {p.daemon_log}")

        def initialized():
            out = self.vsctl("--no-wait", "get", "Open_vSwitch", ".",
                             "dpdk_initialized", check=False)
            return out.stdout.strip() == "true" or not self.daemon_running()

        wait_for(initialized, 60)
        if not self.daemon_running():
            raise VrdmaError(f"ovs-vswitchd-dpdk of node {self.name} exited "
                             f"during DPDK init: {self._log_reason()}",
                             f"see {p.daemon_log}")
        if self.vsctl("--no-wait", "get", "Open_vSwitch", ".",
                      "dpdk_initialized").stdout.strip() != "true":
            raise VrdmaError(f"DPDK of node {self.name} not initialized "
                             f"after 60s: {self._log_reason()}",
                             f"see {p.daemon_log}")

    def _log_lines(self):
        """The daemon log's lines, or None if it cannot be read."""
        try:
            with open(self.paths.daemon_log, encoding="utf-8",
                      errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return None

    def _driver_reason(self, source):
        """The last error line that source (a log prefix such as
        "net_vrdma: ") logged, without the prefix, or None: a driver says
        why before DPDK and OVS say that it failed."""
        own = [ln.split(source, 1)[1].strip()
               for ln in self._log_lines() or []
               if "|ERR|" in ln and source in ln]
        return own[-1] if own else None

    def _log_reason(self):
        """The last error or fatal line of the daemon log: the real cause."""
        lines = self._log_lines()
        if lines is None:
            return "no log"
        bad = [ln for ln in lines if "|ERR|" in ln or "|EMER|" in ln]
        # A failure logs its cause first, then the consequences.
        return (bad[-3:] or lines or ["empty log"])[0].split("|")[-1].strip()

    def _check_bridge(self):
        """OVS accepts a bridge in the DB even when it cannot create its
        datapath; the local port's ofport tells whether it did."""
        ofport = self.vsctl("get", "Interface", self.bridge, "ofport",
                            check=False).stdout.strip()
        if ofport == "65534":
            return
        reason = self._log_reason()
        fix = "see " + self.paths.daemon_log
        try:
            with open(self.paths.daemon_log, encoding="utf-8",
                      errors="replace") as f:
                tap_taken = "ovs-netdev: creating tap device failed" in f.read()
        except OSError:
            tap_taken = False
        if tap_taken:
            fix = ("another OVS netdev datapath already runs in this "
                   "network namespace (its tap ovs-netdev is taken): give "
                   "this node its own with [node] netns = \"NAME\"")
        raise VrdmaError(f"node {self.name}: bridge {self.bridge} could not "
                         f"be created: {reason}", fix)

    def _kick_stuck_vhost_ports(self, settle=5.0):
        """Work around an OVS 3.1 race: when a guest's socket is already
        listening as ovs-vswitchd starts, the vhost-user connection can come
        up while the port is still being constructed, and the reconfigure
        it requests is lost: the port stays link down and drops everything.
        A client port that is down although its guest's socket exists gets
        one reconfigure (tx-retries-max toggled), which picks up the live
        connection."""
        def stuck():
            found = []
            for row in self.interfaces("dpdkvhostuserclient"):
                sock = (row.get("options") or {}).get("vhost-server-path")
                if row.get("link_state") != "up" and sock and \
                        os.path.exists(sock):
                    found.append(row["name"])
            return found

        wait_for(lambda: not stuck(), settle)
        for port in stuck():
            progress(f"node {self.name}: port {port} is down although its "
                     "guest listens; reconfiguring it (OVS 3.1 race)")
            self.vsctl("set", "Interface", port,
                       "options:tx-retries-max=7")
            self.vsctl("remove", "Interface", port, "options",
                       "tx-retries-max")

    def uplink_devargs(self):
        """[uplink] devargs, or those found in sysfs for [uplink] iface;
        empty for no uplink."""
        if self.cfg["uplink.iface"]:
            if self._uplink is None:
                self._uplink = uplink.resolve(self.cfg["uplink.iface"],
                                              self.netns)
            return self._uplink
        return self.cfg["uplink.devargs"]

    def _ensure_uplink(self):
        where = "[uplink] iface" if self.cfg["uplink.iface"] \
            else "[uplink] devargs"
        self._ensure_dpdk_port("uplink", self.uplink_devargs(), where)
        self._ensure_dpdk_port(
            "fabric", self.fabric_devargs(), "[fabric]",
            [f"options:n_rxq={self.cfg['fabric.queues']}"])

    def _ensure_dpdk_port(self, name, devargs, where, extra=()):
        if not devargs:
            return
        self.vsctl("--may-exist", "add-port", self.bridge, name, "--",
                   "set", "Interface", name, "type=dpdk",
                   f"options:dpdk-devargs={devargs}",
                   f"mtu_request={self.cfg['ports.mtu']}", *extra)
        err = self.vsctl("--no-wait", "get", "Interface", name, "error",
                         check=False).stdout.strip()
        if err and err != "[]":
            # net_vrdma logs why it refused, with the fix.
            own = self._driver_reason("net_vrdma: ") \
                if devargs.startswith("net_vrdma") else None
            if own:
                raise VrdmaError(f"{name} port: {own}",
                                 f"correct {where} in the node config")
            reason = self._log_reason()
            raise VrdmaError(f"{name} {devargs}: {err.strip(chr(34))}"
                             f"{' (' + reason + ')' if reason else ''}",
                             f"correct {where} in the node config")

    # --- a changed config on a node that is up --------------------------------

    def config_changes(self, rec):
        """The config keys ("section.key") that differ from the config
        the node runs with, by what applying them takes: a dict
        {"refuse": [...], "restart": [...], "fabric": [...], "live": [...]}
        (see CHANGE_NEEDS)."""
        old, new = rec.get("config", {}), self.cfg.as_dict()
        out = {"refuse": [], "restart": [], "fabric": [], "live": []}
        for section in sorted(set(old) | set(new)):
            keys = set(old.get(section, {})) | set(new.get(section, {}))
            for key in sorted(keys):
                if old.get(section, {}).get(key) == \
                        new.get(section, {}).get(key):
                    continue
                need = CHANGE_NEEDS.get(f"{section}.{key}",
                                        CHANGE_NEEDS.get(section, "refuse"))
                out[need].append(f"{section}.{key}")
        # The fabric port on or off changes EAL's arguments (-d PMD).
        if bool(old.get("fabric", {}).get("listen")) != \
                bool(new["fabric"]["listen"]):
            out["restart"] += out["fabric"]
            out["fabric"] = []
        return out

    def _sync_dpdk_ports(self):
        """Before ovs-vswitchd starts: a fabric port or uplink gone from the
        config, or with other devargs, is deleted from the DB (OVS cannot
        change a DPDK port's devargs); _ensure_uplink makes it again once
        the daemon runs. Needs ovsdb-server only."""
        if not self.server_running():
            return
        have = {r["name"]: (r.get("options") or {}).get("dpdk-devargs")
                for r in self.interfaces("dpdk")}
        for name, devargs in (("fabric", self.fabric_devargs()),
                              ("uplink", self.uplink_devargs())):
            if have.get(name) and have[name] != devargs:
                self.vsctl("--no-wait", "--if-exists", "del-port",
                           self.bridge, name)

    def _refuse_structural(self, changes):
        if changes["refuse"]:
            raise VrdmaError(
                f"node {self.name} is up; these keys cannot change while it "
                f"is: {', '.join(changes['refuse'])}",
                f"put them back, or `vrdma node down --node {self.name}` "
                "(which removes its guests) and up again")

    def _apply_live(self, rec):
        """node up with a changed config: apply the difference and leave
        the guests running. PMD cores and sleep are OVS settings OVS
        applies live; a [fabric] change re-creates the fabric port only;
        [ports] defaults apply to ports added from now on. EAL or memory
        changes need ovs-vswitchd restarted: `node restart` does that."""
        changes = self.config_changes(rec)
        self._refuse_structural(changes)
        if changes["restart"]:
            raise VrdmaError(
                f"node {self.name} is up; {', '.join(changes['restart'])} "
                "changed, which takes restarting ovs-vswitchd",
                f"vrdma node restart --node {self.name} applies them "
                "(guests on client-mode ports reconnect by themselves)")
        if not self.daemon_running() or not self.server_running():
            raise VrdmaError(
                f"node {self.name} is up but not running (a daemon died)",
                f"vrdma node restart --node {self.name} applies the new "
                "config and starts it")
        cores, sleep, notes = self.pmd_plan()
        for note in notes:
            warn(note)
        self._configure(cores, sleep)
        for key in changes["live"]:
            what = ("live (OVS)" if key.startswith("cpu.")
                    else "for ports added from now on")
            progress(f"node {self.name}: {key} changed: applied {what}")
        if changes["fabric"]:
            self._recreate_fabric(changes["fabric"])
        self._adopt_config(rec, cores, sleep)
        progress(f"node {self.name}: new configuration applied; guests "
                 "untouched")

    def _recreate_fabric(self, keys):
        """Replace the fabric port by one with the new devargs (OVS cannot
        change a DPDK port's devargs in place); guests and the other ports
        stay. Prints how long the fabric port was gone."""
        if keys == ["fabric.queues"]:
            self.vsctl("set", "Interface", "fabric",
                       f"options:n_rxq={self.cfg['fabric.queues']}")
            progress(f"node {self.name}: fabric.queues changed: applied "
                     "live (OVS)")
            return
        progress(f"node {self.name}: {', '.join(keys)} changed: "
                 "re-creating the fabric port")
        t0 = time.monotonic()
        self.vsctl("--if-exists", "del-port", self.bridge, "fabric")
        self._ensure_dpdk_port(
            "fabric", self.fabric_devargs(), "[fabric]",
            [f"options:n_rxq={self.cfg['fabric.queues']}"])
        progress(f"node {self.name}: fabric port re-created in "
                 f"{time.monotonic() - t0:.2f}s (its peers reconnect)")

    # --- restart and teardown ----------------------------------------------

    def restart(self):
        """Restart ovs-vswitchd only, as after an upgrade or a crash; the DB,
        ports and hugepages stay, client-mode guests reconnect."""
        with locked(self.cfg.state_dir):
            if not self.is_up():
                raise self.not_up()
            rec = self.record()
            changes = self.config_changes(rec)
            self._refuse_structural(changes)
            cores, sleep = rec["pmd_cores"], rec["pmd_maxsleep_us"]
            if rec.get("config") != self.cfg.as_dict():
                # A restart applies a changed config: EAL and memory too.
                cores, sleep, notes = self.pmd_plan()
                for note in notes:
                    warn(note)
                mem = self.cfg.values["memory"]
                hugepages.reserve(self.paths.hugepage_owner,
                                  mem["hugepage_size"], mem["hugepages"])
                changed = [k for v in changes.values() for k in v]
                progress(f"node {self.name}: applying {', '.join(changed)}")
            pid = self.daemon_pid()
            if pid:
                progress(f"node {self.name}: stopping ovs-vswitchd "
                         f"(pid {pid})")
                stop_pid(pid, self.paths.daemon_pid, "ovs-vswitchd")
            if not self.server_running():
                self._start_server()
            self._configure(cores, sleep)
            self._sync_dpdk_ports()
            if self.fabric_devargs():
                rec["plugin"] = self.install_plugin()
            self._start_daemon()
            self._ensure_uplink()
            self._adopt_config(rec, cores, sleep)
            self._kick_stuck_vhost_ports()
            progress(f"node {self.name}: ovs-vswitchd restarted "
                     f"(pid {self.daemon_pid()})")
            self._report_server_mode_guests()

    def _report_server_mode_guests(self, timeout=15.0):
        """Guests on server-mode ports (dpdkvhostuser) lost their socket
        with the old ovs-vswitchd: it is theirs to connect again (QEMU's
        vhostuser <reconnect>, vrdma-vhost-ns's retry). Say so, and say
        whether they did."""
        for port in [r["name"] for r in self.interfaces("dpdkvhostuser")]:
            def connected(port=port):
                return any((r.get("status") or {}).get("status") ==
                           "connected"
                           for r in self.interfaces("dpdkvhostuser")
                           if r["name"] == port)
            t0 = time.monotonic()
            if wait_for(connected, timeout, 0.2):
                progress(f"node {self.name}: port {port} is server-mode: "
                         f"its guest reconnected by itself after "
                         f"{time.monotonic() - t0:.1f}s")
            else:
                warn(f"node {self.name}: port {port} is server-mode and its "
                     f"guest has not reconnected in {timeout:.0f}s: its "
                     "frontend does not reconnect; restart the guest (vrdma "
                     "vm stop/start, or QEMU with reconnect=1 on the "
                     "vhost-user chardev)")

    def stop(self):
        """node down --keep: stop the switch's daemons and release its
        hugepages, keeping its DB (bridge, ports), logs, namespace and
        guests' records; guests are left alone (client-mode ones reconnect
        once node up starts the switch again). For service managers."""
        with locked(self.cfg.state_dir):
            rec = self.record()
            if rec is None:
                progress(f"node {self.name}: not up; nothing to do")
                return
            p = self.paths
            for pidfile, name in ((p.daemon_pid, "ovs-vswitchd"),
                                  (p.server_pid, "ovsdb-server")):
                pid = read_pidfile(pidfile)
                if stop_pid(pid, pidfile, name):
                    progress(f"node {self.name}: stopped {name} (pid {pid})")
            hugepages.release(p.hugepage_owner)
            rec["stopped"] = True
            self._save_record(rec)
            progress(f"node {self.name}: stopped; DB and logs kept in "
                     f"{p.root} (node up starts it, node down removes it)")

    def down(self):
        if not os.path.isdir(self.cfg.state_dir):
            progress(f"node {self.name}: not up; nothing to do")
            return
        with locked(self.cfg.state_dir):
            if not os.path.exists(self.paths.root):
                progress(f"node {self.name}: not up; nothing to do")
            else:
                self._teardown()
                progress(f"node {self.name}: down")
        try:
            os.rmdir(self.cfg.state_dir)
        except OSError:
            pass

    def _teardown(self):
        """Undo everything, in reverse order of bring-up, and keep going
        after a failure so that one stuck step does not strand the rest."""
        p = self.paths
        # Guests first: their frontends hold the node's vhost sockets.
        errors = vm.remove_all(self) + nsguest.remove_all(self)
        # The daemons' OVS monitors exit once their daemons do.
        monitors = [(m, pidfile, name) for pidfile, name in
                    ((p.daemon_pid, "ovs-vswitchd"),
                     (p.server_pid, "ovsdb-server"))
                    for m in [monitor_of(read_pidfile(pidfile) or 0,
                                         pidfile)] if m]
        if self.daemon_running():
            # exit --cleanup deletes the datapath, and with it the bridge's
            # persistent kernel tap; a plain SIGTERM would leave the tap.
            self.appctl("exit", "--cleanup", timeout=15, check=False)
            wait_for(lambda: not self.daemon_running(), 10)
        self._remove_bridge_tap()
        for pidfile, name in ((p.daemon_pid, "ovs-vswitchd"),
                              (p.server_pid, "ovsdb-server")):
            try:
                stop_pid(read_pidfile(pidfile), pidfile, name)
            except OSError as exc:
                errors.append(f"{name}: {exc}")
        for monitor, pidfile, name in monitors:
            wait_gone(monitor, pidfile, name)
        try:
            hugepages.release(p.hugepage_owner)
        except VrdmaError as exc:
            errors.append(exc.line())
        rec = self.record() or {}
        if rec.get("created_netns") and self._netns_exists():
            proc = run(["ip", "netns", "del", self.netns], check=False)
            if proc.returncode != 0:
                errors.append(f"netns {self.netns}: {proc.stderr.strip()}")
        shutil.rmtree(p.dpdk_runtime, ignore_errors=True)
        if rec.get("plugin"):
            self._release_plugin(rec["plugin"])
        try:
            os.rmdir("/run/dpdk")
        except OSError:
            pass
        shutil.rmtree(p.root, ignore_errors=True)
        if errors:
            raise VrdmaError(f"node {self.name}: teardown incomplete: "
                             + "; ".join(errors))

    def _remove_bridge_tap(self):
        """Remove the bridge's tap if a killed ovs-vswitchd left it: only a
        tun device with this node's bridge name, which no one else uses."""
        if self.netns and not self._netns_exists():
            return
        for tap in (self.bridge, "ovs-netdev"):
            if tap == "ovs-netdev" and not self.netns:
                continue  # in the host namespace it may be someone else's
            info = run(self.in_netns(["ip", "-d", "link", "show", "dev",
                                      tap]), check=False)
            if info.returncode == 0 and " tun " in info.stdout and \
                    not self.daemon_running():
                run(self.in_netns(["ip", "link", "del", "dev", tap]),
                    check=False)

    def _netns_exists(self):
        return os.path.exists(os.path.join("/run/netns", self.netns))

    def _ensure_netns(self, rec):
        if not self.netns or self._netns_exists():
            return
        progress(f"node {self.name}: creating network namespace "
                 f"{self.netns}")
        rec["created_netns"] = True
        self._save_record(rec)
        run(["ip", "netns", "add", self.netns])
        run(["ip", "netns", "exec", self.netns, "ip", "link", "set", "lo",
             "up"])

    def not_up(self):
        return VrdmaError(f"node {self.name} is not up (no state in "
                          f"{self.paths.root})",
                          f"start it: vrdma node up --node {self.name}")

    def require_up(self):
        if not self.is_up():
            raise self.not_up()
        if not self.server_running():
            raise VrdmaError(f"node {self.name}: ovsdb-server is not running",
                             f"vrdma node up --node {self.name}")
