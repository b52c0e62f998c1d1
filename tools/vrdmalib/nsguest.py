# SPDX-License-Identifier: BSD-3-Clause
"""Namespace guests: a network namespace attached to a node's vhost-user
port by vrdma-vhost-ns (vhost-user/), the cheap stand-in for a VM.

`ns add` makes, in this order, the port, the namespace and the frontend,
and gives the namespace's eth0 a MAC and an IP derived from the guest's
name (stable across runs and hosts, 198.18.0.0/16); `ns del` undoes it
in reverse. Each guest has a record in STATE/NODE/guests/GUEST.json, a
pid file run/ns-GUEST.pid and a log log/ns-GUEST.log; `node down` removes
the guests first."""

import glob
import hashlib
import json
import os
import subprocess

from . import ports
from .config import NAME_RE
from .util import (VrdmaError, locked, pid_alive, pid_cmdline, progress,
                   read_pidfile, run, stop_pid, wait_for)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FRONTEND = "vrdma-vhost-ns"
SUBNET = "198.18.0.0/16"
IFNAME = "eth0"


def frontend_path():
    env = os.environ.get("VRDMA_VHOST_NS")
    if env:
        return env
    for path in (os.path.join(TOP, "build", "vhost-user", FRONTEND),
                 os.path.join("/usr/local/bin", FRONTEND)):
        if os.access(path, os.X_OK):
            return path
    raise VrdmaError(f"{FRONTEND} is not built", "run: tools/vrdma setup")


def _digest(guest):
    return hashlib.sha256(f"vrdma-guest:{guest}".encode()).digest()


def guest_mac(guest):
    """Locally administered unicast, from the name."""
    return "02:" + ":".join(f"{b:02x}" for b in _digest(guest)[:5])


def guest_ip(guest):
    """198.18.X.Y from the name; never .0.0 or .255.255."""
    host = int.from_bytes(_digest(guest)[5:7], "big") % 65534 + 1
    return f"198.18.{host >> 8}.{host & 255}"


def _paths(node, guest):
    p = node.paths
    return (os.path.join(p.root, "guests", f"{guest}.json"),
            os.path.join(p.run, f"ns-{guest}.pid"),
            os.path.join(p.log_dir, f"ns-{guest}.log"))


def record_path(node, guest):
    return _paths(node, guest)[0]


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def save_json(path, rec):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(rec, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def load_records(directory):
    out = []
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        rec = load_json(path)
        if rec:
            out.append(rec)
    return out


def records(node):
    return load_records(os.path.join(node.paths.root, "guests"))


def used_ips(state_dir, skip):
    """Addresses of every guest, namespace or VM, of every node in
    state_dir: the fabric joins them into one subnet."""
    used = {}
    for kind in ("guests", "vms"):
        for rec in load_records(os.path.join(state_dir, "*", kind)):
            if rec["guest"] != skip:
                used[rec["ip"].split("/")[0]] = rec["guest"]
    return used


def _netns_exists(name):
    return os.path.exists(os.path.join("/run/netns", name))


def _frontend_running(pidfile, sock):
    pid = read_pidfile(pidfile)
    if pid and pid_alive(pid) and sock in pid_cmdline(pid):
        return pid
    return None


def _log_tail(log, lines=1):
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read().splitlines()
    except OSError:
        return "no log"
    errs = [ln for ln in text if "error:" in ln]
    pick = (errs or text or ["empty log"])[-lines:]
    return " / ".join(ln.split("]: ", 1)[-1] for ln in pick)


def add(node, guest, mode=None, queues=None, mtu=None, ip=None, netns=None,
        busy_poll=False, hugepages=None, timeout=20.0):
    """Attach guest; returns its record. Run twice, it changes nothing."""
    node.require_up()
    if not NAME_RE.match(guest) or len(guest) > 32:
        raise VrdmaError(f"bad guest name {guest!r}",
                         "use 1-32 of A-Z a-z 0-9 _ . - starting with a "
                         "letter or digit")
    recpath, pidfile, log = _paths(node, guest)
    mode = mode or node.cfg["ports.mode"]
    queues = queues or node.cfg["ports.queues"]
    mtu = mtu or node.cfg["ports.mtu"]
    netns = netns or guest
    ip = ip or f"{guest_ip(guest)}/16"
    if "/" not in ip:
        ip += "/16"
    with locked(node.cfg.state_dir):
        rec = load_json(recpath)
        if rec is not None:
            want = {"mode": mode, "queues": queues, "mtu": mtu, "ip": ip,
                    "netns": netns}
            have = {k: rec.get(k) for k in want}
            if have != want:
                raise VrdmaError(
                    f"namespace guest {guest} exists on node {node.name} "
                    f"with {have}",
                    f"remove it first: vrdma ns del --node {node.name} "
                    f"{guest}")
            if _frontend_running(pidfile, rec["socket"]):
                progress(f"ns {guest}: already attached ({rec['ip']} in "
                         f"namespace {netns})")
                return rec
            progress(f"ns {guest}: frontend not running; starting it again")
            _start(node, rec, pidfile, log, timeout)
            return rec
        if os.path.exists(os.path.join(node.paths.root, "vms",
                                       f"{guest}.json")):
            raise VrdmaError(f"{guest} is a VM guest of node {node.name}",
                             "pick another name")
        clash = used_ips(node.cfg.state_dir, guest).get(ip.split("/")[0])
        if clash:
            raise VrdmaError(f"address {ip} is already guest {clash}'s",
                             "pass another with --ip")
        if _netns_exists(netns):
            raise VrdmaError(f"network namespace {netns} already exists "
                             "and is not a guest of this node",
                             f"delete it (ip netns del {netns}) or pick "
                             "another guest name or --netns")
        rec = {"guest": guest, "node": node.name, "netns": netns, "ip": ip,
               "mac": guest_mac(guest), "mode": mode, "queues": queues,
               "mtu": mtu, "busy_poll": busy_poll, "hugepages": hugepages,
               "created_netns": False, "socket": None, "ifname": IFNAME}
        try:
            rec["socket"] = ports.add(node, guest, mode, queues, mtu,
                                      lock=False)
            run(["ip", "netns", "add", netns])
            rec["created_netns"] = True
            save_json(recpath, rec)
            run(["ip", "-n", netns, "link", "set", "lo", "up"])
            # IPv4 only: no IPv6 autoconfiguration chatter on the switch,
            # so port counters show the guest's own traffic.
            for conf in ("all", "default"):
                run(["ip", "netns", "exec", netns, "sysctl", "-q", "-w",
                     f"net.ipv6.conf.{conf}.disable_ipv6=1"])
            _start(node, rec, pidfile, log, timeout)
        except BaseException:
            progress(f"ns {guest}: attach failed; removing what was made")
            _remove(node, rec, recpath, pidfile)
            raise
    progress(f"ns {guest}: attached: namespace {netns}, {IFNAME} "
             f"{rec['mac']} {ip}, port {guest} ({ports.TYPES[mode]})")
    return rec


def _start(node, rec, pidfile, log, timeout):
    argv = [frontend_path(), "--socket", rec["socket"],
            "--client" if rec["mode"] == "server" else "--server",
            "--netns", rec["netns"], "--ifname", rec["ifname"],
            "--mac", rec["mac"], "--mtu", str(rec["mtu"]),
            "--queues", str(rec["queues"]), "--name", rec["guest"]]
    if rec.get("busy_poll"):
        argv.append("--busy-poll")
    if rec.get("hugepages"):
        argv += ["--hugepages", rec["hugepages"]]
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "ab") as out:
        start = out.tell()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out, start_new_session=True,
                                close_fds=True)
    with open(pidfile, "w", encoding="utf-8") as f:
        f.write(f"{proc.pid}\n")

    def text():
        with open(log, encoding="utf-8", errors="replace") as f:
            f.seek(start)
            return f.read()

    def settled():
        return proc.poll() is not None or "connected to" in text()

    wait_for(settled, timeout)
    if proc.poll() is not None:
        raise VrdmaError(f"ns {rec['guest']}: {FRONTEND} exited: "
                         f"{_log_tail(log)}", f"see {log}")
    if "connected to" not in text():
        raise VrdmaError(f"ns {rec['guest']}: the switch did not connect "
                         f"within {timeout:.0f}s: {_log_tail(log)}",
                         f"see {log} and {node.paths.daemon_log}")
    # The tap exists once the frontend runs; it is new each start.
    run(["ip", "-n", rec["netns"], "addr", "replace", rec["ip"], "dev",
         rec["ifname"]])


def _remove(node, rec, recpath, pidfile):
    """Reverse order of add; keep going after a failure."""
    errors = []
    pid = read_pidfile(pidfile)
    if pid and rec.get("socket"):
        stop_pid(pid, rec["socket"], FRONTEND)
    try:
        os.unlink(pidfile)
    except OSError:
        pass
    if rec.get("created_netns") and _netns_exists(rec["netns"]):
        proc = run(["ip", "netns", "del", rec["netns"]], check=False)
        if proc.returncode != 0:
            errors.append(f"netns {rec['netns']}: {proc.stderr.strip()}")
    if rec.get("socket") and node.server_running():
        try:
            ports.delete(node, rec["guest"], lock=False)
        except VrdmaError as exc:
            errors.append(exc.line())
    try:
        os.unlink(recpath)
    except OSError:
        pass
    if errors:
        raise VrdmaError(f"ns {rec['guest']}: removal incomplete: "
                         + "; ".join(errors))


def delete(node, guest):
    recpath, pidfile, _ = _paths(node, guest)
    with locked(node.cfg.state_dir):
        rec = load_json(recpath)
        if rec is None:
            progress(f"ns {guest}: not a namespace guest of node "
                     f"{node.name}; nothing to do")
            return False
        _remove(node, rec, recpath, pidfile)
    progress(f"ns {guest}: removed")
    return True


def remove_all(node):
    """For node down (which holds the lock already)."""
    errors = []
    for rec in records(node):
        recpath, pidfile, _ = _paths(node, rec["guest"])
        try:
            _remove(node, rec, recpath, pidfile)
        except VrdmaError as exc:
            errors.append(exc.line())
    return errors


def listing_dicts(node):
    """The namespace guests, for machine readers: their records, with
    the frontend's pid (None: not running)."""
    out = []
    for rec in records(node):
        _, pidfile, _ = _paths(node, rec["guest"])
        out.append(dict(rec, frontend_pid=_frontend_running(
            pidfile, rec["socket"]) or None))
    return out


def listing(node, out):
    rows = records(node)
    if not rows:
        print(f"node {node.name}: no namespace guests", file=out)
        return 0
    print(f"{'GUEST':<16} {'NETNS':<16} {'IP':<18} {'MAC':<18} "
          f"{'MODE':<7} FRONTEND", file=out)
    for rec in rows:
        _, pidfile, _ = _paths(node, rec["guest"])
        pid = _frontend_running(pidfile, rec["socket"])
        state = f"pid {pid}" if pid else "NOT RUNNING"
        print(f"{rec['guest']:<16} {rec['netns']:<16} {rec['ip']:<18} "
              f"{rec['mac']:<18} {rec['mode']:<7} {state}", file=out)
    return 0


def exec_in(node, guest, argv, timeout=None):
    """Run argv in the guest's namespace, passing its exit status on."""
    rec = load_json(_paths(node, guest)[0])
    if rec is None:
        raise VrdmaError(f"no namespace guest {guest} on node {node.name}",
                         f"vrdma ns add --node {node.name} {guest}")
    if not argv:
        raise VrdmaError("no command given", "vrdma ns exec GUEST -- CMD")
    proc = subprocess.run(["ip", "netns", "exec", rec["netns"], *argv],
                          timeout=timeout, check=False)
    return proc.returncode
