# SPDX-License-Identifier: BSD-3-Clause
"""systemd units for a node (`vrdma service units`).

vrdma-node@NODE.service brings the node up at boot (start = node up) and
stops its switch at shutdown keeping DB, ports and logs (stop = node down
--keep); reload applies a changed config live (node up). OVS's --monitor
restarts a crashed daemon at once; vrdma-node-check@NODE.timer runs
vrdma-node-check@NODE.service every 30 s, which starts the switch again
through node up when node status says degraded (exit 1: a daemon ended by
SIGKILL, which --monitor leaves alone, the OOM killer's among them). The
units name this checkout's tools/vrdma and the state and config
directories of the environment they are written from."""

import os

from .config import DEFAULT_CONFIG_DIR, DEFAULT_STATE_DIR
from .util import VrdmaError, progress

TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "vrdma")


def _environment():
    lines = []
    for var, default in (("VRDMA_STATE_DIR", DEFAULT_STATE_DIR),
                         ("VRDMA_CONFIG_DIR", DEFAULT_CONFIG_DIR)):
        value = os.environ.get(var, default)
        lines.append(f"Environment={var}={value}")
    return "\n".join(lines)


def units():
    """{file name: text} of the node's units."""
    env = _environment()
    docs = os.path.join(os.path.dirname(os.path.dirname(TOOL)), "docs",
                        "operations.md")
    return {
        "vrdma-node@.service": f"""\
# vrdma node %i: its OVS-DPDK switch (ovsdb-server, ovs-vswitchd under
# --monitor), fabric port and guests' ports. Written by `vrdma service
# units`; enable with: systemctl enable --now vrdma-node@NODE
[Unit]
Description=vrdma node %i (OVS-DPDK switch, RDMA fabric port)
Documentation=file:{docs}
Wants=network-online.target
After=network-online.target libvirtd.service

[Service]
Type=oneshot
RemainAfterExit=yes
{env}
ExecStart={TOOL} -q node up --node %i
# A changed config, applied live (guests untouched where it can be).
ExecReload={TOOL} -q node up --node %i
# Stops the switch, keeps its DB, ports and logs: start brings it back.
ExecStop={TOOL} -q node down --keep --node %i
TimeoutStartSec=300
TimeoutStopSec=120

[Install]
WantedBy=multi-user.target
""",
        "vrdma-node-check@.service": f"""\
# Starts node %i's switch again when a daemon of it ended by a signal OVS's
# --monitor does not restart on (SIGKILL: an operator, the OOM killer).
# Run by vrdma-node-check@%i.timer.
[Unit]
Description=vrdma node %i: restart a daemon that died
Documentation=file:{docs}
After=vrdma-node@%i.service
Requisite=vrdma-node@%i.service

[Service]
Type=oneshot
{env}
# node status: 0 running, 1 degraded, 3 not up or stopped.
ExecStart=/bin/sh -c '{TOOL} -q node status --node %i >/dev/null; \\
  [ $? -ne 1 ] || exec {TOOL} -q node up --node %i'
""",
        "vrdma-node-check@.timer": """\
# Every 30 s: vrdma-node-check@%i.service.
[Unit]
Description=vrdma node %i: check its daemons every 30 s

[Timer]
OnActiveSec=30
OnUnitActiveSec=30
AccuracySec=5

[Install]
WantedBy=timers.target
""",
    }


def write(out_dir):
    try:
        os.makedirs(out_dir, exist_ok=True)
        for name, text in units().items():
            path = os.path.join(out_dir, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(path, 0o644)
            progress(f"service: wrote {path}")
    except OSError as e:
        raise VrdmaError(f"cannot write the units to {out_dir}: "
                         f"{e.strerror}", "give --out a writable "
                         "directory") from e
