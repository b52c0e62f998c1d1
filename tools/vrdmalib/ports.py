# SPDX-License-Identifier: BSD-3-Clause
"""vhost-user ports, one per guest, and the node's status report.

A guest's socket is always <run dir>/vhost/<guest>: in client mode
(dpdkvhostuserclient, the default) the guest (QEMU, the namespace frontend,
testpmd's virtio_user) creates and serves it and OVS reconnects to it after
a restart; in server mode (dpdkvhostuser, the 2015 original's) OVS creates
it and a switch restart breaks the guest's link until the guest reconnects."""

import contextlib
import json

from . import config
from .config import NAME_RE
from .util import VrdmaError, locked, pid_alive, progress

TYPES = {"client": "dpdkvhostuserclient", "server": "dpdkvhostuser"}


def _ovsdb_value(value):
    """Decode OVSDB's JSON encoding into plain Python values."""
    if isinstance(value, list) and len(value) == 2:
        kind, body = value
        if kind == "map":
            return {k: _ovsdb_value(v) for k, v in body}
        if kind == "set":
            return [_ovsdb_value(v) for v in body]
        if kind in ("uuid", "named-uuid"):
            return body
    return value


def _single(value):
    """An optional column is an empty set when unset."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def interfaces(node):
    out = node.vsctl("--format=json", "list", "Interface").stdout
    table = json.loads(out)
    rows = []
    for data in table["data"]:
        rows.append({h: _ovsdb_value(v)
                     for h, v in zip(table["headings"], data)})
    return rows


def find_interface(node, name):
    for row in interfaces(node):
        if row["name"] == name:
            return row
    return None


def port_dict(node, guest, sock):
    """A guest's port for machine readers (vrdma port add --json)."""
    row = find_interface(node, guest) or {}
    ext = row.get("external_ids") or {}
    return {"guest": guest, "socket": sock, "type": row.get("type"),
            "mode": ext.get("vrdma-mode"),
            "queues": int(ext.get("vrdma-queues", 0)) or None,
            "mtu": _single(row.get("mtu_request"))}


def describe(row):
    ext = row.get("external_ids") or {}
    return (f"mode={ext.get('vrdma-mode', '?')} "
            f"queues={ext.get('vrdma-queues', '?')} "
            f"mtu={_single(row.get('mtu_request'))}")


def add(node, guest, mode=None, queues=None, mtu=None, lock=True):
    """lock=False: the caller holds the node lock already (flock would
    deadlock on a second open of the same directory)."""
    node.require_up()
    mode = mode or node.cfg["ports.mode"]
    queues = queues or node.cfg["ports.queues"]
    mtu = mtu or node.cfg["ports.mtu"]
    if not NAME_RE.match(guest):
        raise VrdmaError(f"bad guest name {guest!r}: expected 1-32 of "
                         "A-Z a-z 0-9 _ . - starting with a letter or digit",
                         "choose another guest name")
    if mode not in TYPES:
        raise VrdmaError(f"bad --mode {mode!r}", "use client or server")
    if not 1 <= queues <= 16:
        raise VrdmaError(f"--queues {queues} out of range", "use 1-16")
    if not 68 <= mtu <= 9702:
        raise VrdmaError(f"--mtu {mtu} out of range", "use 68-9702")
    sock = node.paths.socket_path(guest)
    with (locked(node.cfg.state_dir) if lock else contextlib.nullcontext()):
        if guest in (node.bridge, "uplink"):
            raise VrdmaError(f"port name {guest!r} is in use by the node's "
                             f"{'bridge' if guest == node.bridge else 'uplink'}",
                             "choose another guest name")
        row = find_interface(node, guest)
        if row is not None:
            ext = row.get("external_ids") or {}
            same = (row["type"] == TYPES[mode] and
                    ext.get("vrdma-queues") == str(queues) and
                    _single(row.get("mtu_request")) == mtu)
            if not same:
                raise VrdmaError(
                    f"port name {guest!r} is already in use on node "
                    f"{node.name} ({row['type']}, {describe(row)})",
                    f"remove it first: vrdma port del --node {node.name} "
                    f"{guest}, or pick another name")
            progress(f"port {guest}: already present ({describe(row)})")
            return sock
        if mode == "server" and tso_running(node):
            raise VrdmaError(
                f"port {guest}: node {node.name}'s switch runs userspace "
                f"TSO, and {config.SERVER_TSO}",
                "use --mode client (the default), or set [ports] tso = "
                f"false and run vrdma node restart --node {node.name}")
        args = ["add-port", node.bridge, guest, "--", "set", "Interface",
                guest, f"type={TYPES[mode]}", f"mtu_request={mtu}",
                f"external_ids:vrdma-mode={mode}",
                f"external_ids:vrdma-queues={queues}"]
        if mode == "client":
            args.append(f"options:vhost-server-path={sock}")
        node.vsctl(*args)
        row = find_interface(node, guest)
        err = _single(row.get("error")) if row else "port vanished"
        if err:
            node.vsctl("--if-exists", "del-port", node.bridge, guest)
            raise VrdmaError(f"port {guest}: OVS refused it: {err}",
                             f"see {node.paths.daemon_log}")
    role = ("the guest must create and serve it (QEMU: vhostuser "
            "mode='server')" if mode == "client" else
            "OVS serves it; the guest connects (QEMU: vhostuser "
            "mode='client')")
    progress(f"port {guest}: added ({TYPES[mode]}, queues={queues}, "
             f"mtu={mtu}); socket {sock}: {role}")
    return sock


def tso_running(node):
    """Whether the node's running switch has userspace TSO on (what OVS
    read at its start, not what the config file says now)."""
    out = node.vsctl("--if-exists", "get", "Open_vSwitch", ".",
                     "other_config:userspace-tso-enable").stdout
    return out.strip().strip('"') == "true"


def delete(node, guest, lock=True):
    node.require_up()
    with (locked(node.cfg.state_dir) if lock else contextlib.nullcontext()):
        row = find_interface(node, guest)
        if row is None:
            progress(f"port {guest}: not present on node {node.name}; "
                     "nothing to do")
            return False
        if guest in (node.bridge, "uplink") or \
                row["type"] not in TYPES.values():
            raise VrdmaError(f"{guest!r} is not a guest port "
                             f"({row['type']})",
                             "name a port made by `vrdma port add`")
        node.vsctl("del-port", node.bridge, guest)
    progress(f"port {guest}: removed from node {node.name}")
    return True


# node status exits as LSB status does.
STATUS_RUNNING, STATUS_DEGRADED, STATUS_NOT_UP = 0, 1, 3


def status_dict(node):
    """The node's state for machine readers (vrdma node status --json)."""
    rec = node.record()
    if rec is None:
        return {"node": node.name, "state": "not up", "up": False,
                "state_dir": node.paths.root}
    daemons = {}
    for label, pid in (("ovsdb-server", node.server_pid()),
                       ("ovs-vswitchd", node.daemon_pid())):
        daemons[label] = {"pid": pid, "running": pid_alive(pid)}
    mem = rec["config"]["memory"]
    st = {"node": node.name, "up": True, "state_dir": node.paths.root,
          "daemons": daemons,
          "hugepages": {"count": mem["hugepages"],
                        "size": mem["hugepage_size"],
                        "socket_mem_mb": mem["socket_mem_mb"],
                        "socket_limit_mb": mem["socket_limit_mb"]},
          "pmd_cores": rec["pmd_cores"],
          "pmd_maxsleep_us": rec["pmd_maxsleep_us"],
          "bridge": rec["bridge"], "ports": None}
    if node.server_running():
        st["ports"] = []
        for row in sorted(interfaces(node), key=lambda r: r["name"]):
            if row["name"] == rec["bridge"]:
                continue
            opts = row.get("options") or {}
            st["ports"].append({
                "name": row["name"], "type": row["type"],
                "link": _single(row.get("link_state")) or None,
                "mtu": _single(row.get("mtu")) or None,
                "socket": opts.get("vhost-server-path") or (
                    node.paths.socket_path(row["name"])
                    if row["type"] == TYPES["server"] else None),
                "devargs": opts.get("dpdk-devargs"),
                "error": _single(row.get("error")) or None})
    running = all(d["running"] for d in daemons.values())
    st["state"] = "stopped" if rec.get("stopped") else \
        "running" if running else "degraded"
    return st


def status_code(st):
    """LSB status: 0 running, 1 degraded (dead but made), 3 not running
    (not up, or stopped by node down --keep)."""
    if not st["up"] or st["state"] == "stopped":
        return STATUS_NOT_UP
    return STATUS_RUNNING if st["state"] == "running" else STATUS_DEGRADED


def status(node, out):
    """Print processes, ports, link states, PMD cores and rxq placement.
    Returns 0 when both daemons run, 1 otherwise; not up: an error with
    exit status 3."""
    rec = node.record()
    if rec is None:
        err = node.not_up()
        err.code = STATUS_NOT_UP
        raise err
    if rec.get("stopped"):
        print(f"node {node.name}: stopped (node down --keep); DB, ports "
              f"and logs kept in {node.paths.root}; node up starts it",
              file=out)
        return STATUS_NOT_UP
    p = node.paths
    healthy = True
    print(f"node {node.name}: state {p.root}", file=out)
    for label, pid in (("ovsdb-server", node.server_pid()),
                       ("ovs-vswitchd", node.daemon_pid())):
        alive = pid_alive(pid)
        healthy &= alive
        print(f"  {label:<13} pid {pid or '-':<8} "
              f"{'running' if alive else 'NOT RUNNING'}", file=out)
    mem = rec["config"]["memory"]
    print(f"  hugepages     {mem['hugepages']} x {mem['hugepage_size']}, "
          f"socket-mem {mem['socket_mem_mb']} MB, "
          f"limit {mem['socket_limit_mb']} MB", file=out)
    print(f"  pmd cores     {','.join(map(str, rec['pmd_cores']))} "
          f"(pmd-maxsleep {rec['pmd_maxsleep_us']} us)", file=out)
    if not node.server_running():
        print("  (ovsdb-server down: no port information)", file=out)
        return 1
    print(f"  bridge        {rec['bridge']} (datapath_type=netdev)",
          file=out)
    rows = [r for r in interfaces(node) if r["name"] != rec["bridge"]]
    print(f"  {'PORT':<16} {'TYPE':<20} {'LINK':<5} {'MTU':<5} "
          "SOCKET / DEVARGS", file=out)
    for row in sorted(rows, key=lambda r: r["name"]):
        opts = row.get("options") or {}
        where = opts.get("vhost-server-path") or opts.get("dpdk-devargs") \
            or (p.socket_path(row["name"])
                if row["type"] == TYPES["server"] else "")
        err = _single(row.get("error"))
        print(f"  {row['name']:<16} {row['type']:<20} "
              f"{_single(row.get('link_state')) or '-':<5} "
              f"{_single(row.get('mtu')) or '-':<5} {where}"
              f"{'  ERROR: ' + err if err else ''}", file=out)
    if node.daemon_running():
        pmd = node.appctl("dpif-netdev/pmd-rxq-show", check=False)
        print("  rx queue placement:", file=out)
        for line in (pmd.stdout.strip() or "(none)").splitlines():
            print(f"    {line}", file=out)
    return 0 if healthy else 1
