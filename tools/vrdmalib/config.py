# SPDX-License-Identifier: BSD-3-Clause
"""Node configuration: what differs per node, read from a TOML file
(configs/node.example.toml documents every key). One table below is the
schema, the defaults and the help text; a typo in a file is an error that
names the key, the line's section and the closest known key."""

import difflib
import os
import re
import socket
import tomllib

from .util import VrdmaError, parse_cpu_list

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
PCI_RE = re.compile(r"^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")

DEFAULT_STATE_DIR = "/var/lib/vrdma"
DEFAULT_CONFIG_DIR = "/etc/vrdma"


def _name(value):
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError("expected 1-32 of A-Z a-z 0-9 _ . - "
                         "starting with a letter or digit")
    return value


def _netns(value):
    if value == "":
        return value
    return _name(value)


def _abspath(value):
    if not isinstance(value, str) or not os.path.isabs(value):
        raise ValueError("expected an absolute path")
    return os.path.normpath(value)


def _keyfile(value):
    if value == "":
        return value
    return _abspath(value)


def _cores(value):
    if value == "auto":
        return value
    if not isinstance(value, str):
        raise ValueError('expected "auto" or a CPU list such as "2,3" or "2-5"')
    try:
        cpus = parse_cpu_list(value)
    except ValueError:
        raise ValueError('expected "auto" or a CPU list such as "2,3" '
                         'or "2-5"') from None
    if not cpus:
        raise ValueError("empty CPU list")
    return value


def _maxsleep(value):
    if value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or \
            not 0 <= value <= 10000:
        raise ValueError('expected "auto" or microseconds 0-10000')
    return value


def _pagesize(value):
    if value not in ("2M", "1G"):
        raise ValueError('expected "2M" or "1G"')
    return value


def _int_range(lo, hi):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or \
                not lo <= value <= hi:
            raise ValueError(f"expected a whole number {lo}-{hi}")
        return value
    return check


def _pages(value):
    if value == "auto":
        return value
    return _int_range(1, 1 << 20)(value)


def _bool(value):
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


# OVS 3.1 (lib/netdev-dpdk.c) sets the offload flags of client-mode
# vhost-user ports only: a server-mode one (dpdkvhostuser) takes no TSO or
# checksum-offloaded frame, and OVS drops every one sent to it ("No TCP
# checksum support"), while its guest still offloads.
SERVER_TSO = ("with userspace TSO on, OVS 3.1 drops every TSO and "
              "checksum-offloaded frame sent to a server-mode vhost-user "
              "port (dpdkvhostuser): the guest's TCP stalls")


def _tso(value):
    if value == "auto":
        return value
    return _bool(value)


def _mode(value):
    if value not in ("client", "server"):
        raise ValueError('expected "client" or "server"')
    return value


def _iface(value):
    if value == "":
        return value
    if not isinstance(value, str) or \
            not re.match(r"^[A-Za-z0-9_.:-]{1,15}$", value):
        raise ValueError("expected an interface name of 1-15 characters")
    return value


def _daemon(value):
    if value not in ("system", "node"):
        raise ValueError('expected "system" or "node"')
    return value


def _devargs(value):
    if not isinstance(value, str) or any(c.isspace() for c in value):
        raise ValueError("expected DPDK devargs without spaces, e.g. "
                         '"0000:05:00.0" or "net_af_packet0,iface=eth1"')
    return value


HOSTPORT_RE = re.compile(r"^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$")


def _hostport(value):
    if value == "":
        return value
    if not isinstance(value, str) or not HOSTPORT_RE.match(value):
        raise ValueError('expected "IP:PORT" or "[IPv6]:PORT"')
    return value


def _peers(value):
    if not isinstance(value, list):
        raise ValueError('expected a list such as ["198.18.0.2:7000"]')
    for item in value:
        if not isinstance(item, str) or not HOSTPORT_RE.match(item):
            raise ValueError(f'{item!r}: expected "IP:PORT" or '
                             '"[IPv6]:PORT"')
    return value


def _transports(value):
    if not isinstance(value, str) or not re.match(r"^\^?[A-Za-z0-9_+]*$",
                                                  value):
        raise ValueError('expected UCX transports joined by "+", e.g. '
                         '"tcp" or "rc+ud+sm"')
    return value


def _rndv_thresh(value):
    if value == "auto":
        return value
    try:
        return _int_range(0, 65535)(value)
    except ValueError:
        raise ValueError('expected "auto" or a whole number 0-65535 (bytes)')


def _devices(value):
    # As net_vrdma's dev= checks them (pmd/vrdma_devargs.c): names of
    # [A-Za-z0-9_.:-] joined by "+", no empty name, at most 127 characters.
    if not isinstance(value, str) or len(value) > 127 or \
            not re.match(r"^([A-Za-z0-9_.:-]+(\+[A-Za-z0-9_.:-]+)*)?$", value):
        raise ValueError('expected UCX network devices joined by "+", e.g. '
                         '"rxe0:1", "eth0" or "mlx5_0:1+eth0"')
    return value


def _mac(value):
    if value == "":
        return value
    if not isinstance(value, str) or \
            not re.match(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$", value):
        raise ValueError('expected "xx:xx:xx:xx:xx:xx"')
    return value


# section -> key -> (default, check, help). The example config and
# `vrdma node up --help` are written from this table.
SCHEMA = {
    "node": {
        "name": (None, _name,
                 "node name; names every file, socket and process of the "
                 "node (default: the host name)"),
        "state_dir": (DEFAULT_STATE_DIR, _abspath,
                      "where the node's DB, run dir, logs and sockets live"),
        "netns": ("", _netns,
                  "network namespace the node's switch runs in (created "
                  "if missing, removed at down if vrdma created it); empty "
                  "for the host's. Two nodes on one machine need two: "
                  "OVS's netdev datapath owns a tap named ovs-netdev"),
        "bridge": ("auto", _name,
                   "the OVS bridge (datapath_type=netdev); auto = br-<node>"),
    },
    "cpu": {
        "pmd_cores": ("auto", _cores,
                      'PMD thread cores: "auto" (isolated cores first, '
                      'never core 0 when others exist) or a list "2,3"'),
        "pmd_maxsleep_us": ("auto", _maxsleep,
                            "PMD idle sleep cap (other_config:pmd-maxsleep): "
                            '"auto" = 20 when PMD cores are shared, else 0'),
    },
    "memory": {
        "hugepage_size": ("2M", _pagesize, '"2M" or "1G"'),
        "socket_mem_mb": (512, _int_range(64, 1 << 20),
                          "DPDK memory preallocated (dpdk-socket-mem)"),
        "socket_limit_mb": ("auto", _pages,
                            "DPDK memory cap (dpdk-socket-limit); auto = "
                            "socket_mem_mb"),
        "hugepages": ("auto", _pages,
                      "hugepages this node reserves; auto = enough for "
                      "socket_limit_mb"),
    },
    "ports": {
        "mode": ("client", _mode,
                 'default vhost-user mode: "client" (dpdkvhostuserclient, '
                 'survives switch restarts) or "server" (dpdkvhostuser)'),
        "mtu": (1500, _int_range(68, 9702), "default MTU of new ports"),
        "queues": (1, _int_range(1, 16), "default queue pairs per port"),
        "tso": ("auto", _tso,
                "userspace TSO (other_config:userspace-tso-enable): 64 KiB "
                "TCP frames cross the switch whole (2.8x the guests' TCP "
                "bandwidth at 64 KiB, same latency); read when "
                'ovs-vswitchd starts. "auto": on, unless the node has a raw '
                "[uplink], whose frames must fit its MTU, or mode is "
                '"server" (OVS 3.1 drops offloaded frames to such ports)'),
    },
    "fabric": {
        "listen": ("", _hostport,
                   "fabric port (net_vrdma) listen address \"IP:PORT\"; "
                   "empty: no fabric port"),
        "peers": ([], _peers,
                  'the other hosts\' listen addresses, e.g. '
                  '["198.18.0.2:7000"]; only these may connect'),
        "transports": ("", _transports,
                       'UCX transports joined by "+" ("tcp", "rc+ud+sm"); '
                       "empty: UCX chooses"),
        "dev": ("", _devices,
                'UCX network devices joined by "+" (UCX_NET_DEVICES): '
                '"rxe0:1" (verbs device:port), "eth0" (tcp), "rxe0:1+eth0" '
                '(both); empty: UCX chooses (with transports "tcp" alone: '
                "the listen address's interface only)"),
        "queues": (1, _int_range(1, 8),
                   "receive queues of the fabric port (options:n_rxq): "
                   "frames are spread over them by flow, so that several "
                   "PMD threads (one per [cpu] pmd_cores entry) share the "
                   "fabric's receive work; each queue is a lane, its own "
                   "UCX worker, on listen's port + its number: the same "
                   "on every host"),
        "rndv_thresh": ("auto", _rndv_thresh,
                        "frames larger than this many bytes go by "
                        "rendezvous, read by the receiver into its mbufs (by "
                        "RDMA over verbs); \"auto\": above 16384 to a peer "
                        "reached over verbs, else every frame eager (copied "
                        "through UCX's buffers, kept by the receiver)"),
        "mac": ("", _mac, "fabric port MAC; empty: derived from listen"),
        "keyfile": ("", _keyfile,
                    "file holding the secret the fabric's hosts share "
                    "(make it once: openssl rand -hex 32 > FILE; chmod 600 "
                    "FILE; copy it to every host): peers prove it on every "
                    "connection, and frames from a connection that has not "
                    "are dropped; empty: peers are trusted by address "
                    "alone"),
    },
    "libvirt": {
        "daemon": ("system", _daemon,
                   'whose libvirtd runs the node\'s VMs: "system" (the '
                   'machine\'s, qemu:///system) or "node" (its own '
                   "libvirtd and virtlogd, config and sockets named after "
                   "the node, under state_dir)"),
    },
    "uplink": {
        "devargs": ("", _devargs,
                    "raw uplink DPDK port: a PCI address (allow-listed, "
                    'probed) or a vdev such as "net_af_packet0,iface=eth1"; '
                    "empty for none. Without a PCI address DPDK runs "
                    "with --no-pci."),
        "iface": ("", _iface,
                  "raw uplink by kernel interface name, instead of devargs:"
                  " vrdma reads its PCI device and driver from sysfs "
                  "(mlx5: the PCI address; mlx4: address and port; no PCI "
                  "device: net_af_packet on it)"),
    },
}


class NodeConfig:
    """The effective configuration of one node: defaults + file + --node."""

    def __init__(self, values, source):
        self.values = values
        self.source = source

    def __getitem__(self, dotted):
        section, key = dotted.split(".")
        return self.values[section][key]

    @property
    def name(self):
        return self.values["node"]["name"]

    @property
    def state_dir(self):
        return self.values["node"]["state_dir"]

    def as_dict(self):
        return {s: dict(kv) for s, kv in self.values.items()}


def _closest(word, choices):
    match = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def validate(data, source):
    values = {}
    for section, keys in data.items():
        if section not in SCHEMA:
            raise VrdmaError(
                f"{source}: unknown section [{section}]"
                f"{_closest(section, SCHEMA)}",
                "see configs/node.example.toml for the known sections")
        if not isinstance(keys, dict):
            raise VrdmaError(f"{source}: '{section}' must be a [section]",
                             "see configs/node.example.toml")
        for key in keys:
            if key not in SCHEMA[section]:
                raise VrdmaError(
                    f"{source}: unknown key '{key}' in [{section}]"
                    f"{_closest(key, SCHEMA[section])}",
                    "see configs/node.example.toml for the known keys")
    for section, keys in SCHEMA.items():
        values[section] = {}
        for key, (default, check, _help) in keys.items():
            given = data.get(section, {}).get(key)
            if given is None:
                values[section][key] = default
                continue
            try:
                values[section][key] = check(given)
            except ValueError as exc:
                raise VrdmaError(
                    f"{source}: [{section}] {key} = {given!r}: {exc}",
                    f"correct {key} in {source}") from None
    return values


def default_state_dir():
    return os.environ.get("VRDMA_STATE_DIR", DEFAULT_STATE_DIR)


def config_dir():
    return os.environ.get("VRDMA_CONFIG_DIR", DEFAULT_CONFIG_DIR)


def load(path=None, node=None):
    """Load a node's config.

    With --config, that file. Else <config dir>/<node>.toml if it exists,
    else the defaults (a node needs no file to run on one machine)."""
    data = {}
    source = "defaults"
    if path is None and node is not None:
        candidate = os.path.join(config_dir(), f"{node}.toml")
        if os.path.exists(candidate):
            path = candidate
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise VrdmaError(f"config file {path} not found",
                             "give an existing file to --config, e.g. a copy "
                             "of configs/node.example.toml") from None
        except tomllib.TOMLDecodeError as exc:
            raise VrdmaError(f"{path}: not valid TOML: {exc}",
                             f"correct the syntax of {path}") from None
        source = path
    values = validate(data, source)
    file_name = values["node"]["name"]
    if node is not None:
        if not NAME_RE.match(node):
            raise VrdmaError(f"bad node name {node!r}: expected 1-32 of "
                             "A-Z a-z 0-9 _ . -", "choose another --node")
        if file_name is not None and file_name != node:
            raise VrdmaError(f"--node {node} but {source} is for node "
                             f"'{file_name}'",
                             "use the matching --node or --config")
        values["node"]["name"] = node
    elif file_name is None:
        host = socket.gethostname().split(".")[0]
        values["node"]["name"] = host if NAME_RE.match(host) else "node"
    if "state_dir" not in data.get("node", {}):
        try:
            values["node"]["state_dir"] = _abspath(default_state_dir())
        except ValueError:
            raise VrdmaError("VRDMA_STATE_DIR must be an absolute path",
                             "export VRDMA_STATE_DIR=/abs/path") from None
    if values["uplink"]["devargs"] and values["uplink"]["iface"]:
        raise VrdmaError(f"{source}: [uplink] has both devargs and iface",
                         "keep one: iface (found in sysfs) or devargs")
    uplink, ports = values["uplink"], values["ports"]
    if ports["tso"] == "auto":
        ports["tso"] = not (uplink["devargs"] or uplink["iface"] or
                            ports["mode"] == "server")
    elif ports["tso"] and ports["mode"] == "server":
        raise VrdmaError(f"{source}: [ports] tso = true with mode = "
                         '"server": ' + SERVER_TSO, 'drop mode = "server" '
                         "(client ports reconnect after a switch restart "
                         "too), or set tso = false")
    mem = values["memory"]
    if mem["socket_limit_mb"] == "auto":
        mem["socket_limit_mb"] = mem["socket_mem_mb"]
    if mem["socket_limit_mb"] < mem["socket_mem_mb"]:
        raise VrdmaError(f"{source}: socket_limit_mb {mem['socket_limit_mb']}"
                         f" < socket_mem_mb {mem['socket_mem_mb']}",
                         "raise socket_limit_mb or lower socket_mem_mb")
    page_mb = 2 if mem["hugepage_size"] == "2M" else 1024
    if mem["hugepages"] == "auto":
        mem["hugepages"] = -(-mem["socket_limit_mb"] // page_mb)
    if mem["hugepages"] * page_mb < mem["socket_mem_mb"]:
        raise VrdmaError(f"{source}: {mem['hugepages']} hugepages of "
                         f"{mem['hugepage_size']} hold less than "
                         f"socket_mem_mb {mem['socket_mem_mb']}",
                         'raise hugepages or set it to "auto"')
    return NodeConfig(values, source)


def pci_address(devargs):
    """The PCI address at the head of devargs, or None for a vdev."""
    head = devargs.split(",", 1)[0]
    if PCI_RE.match(head):
        return head if head.count(":") == 2 else f"0000:{head}"
    return None


def example_toml():
    """The documented example config, generated from SCHEMA."""
    lines = ["# vrdma node configuration: what differs per node.",
             "# Generated by `vrdma config example`; every key is optional.",
             ""]
    for section, keys in SCHEMA.items():
        lines.append(f"[{section}]")
        for key, (default, _check, text) in keys.items():
            lines.append(f"# {text}")
            if default is None:
                lines.append(f'# {key} = "cn1"')
            elif isinstance(default, str):
                lines.append(f'{key} = "{default}"')
            elif isinstance(default, list):
                lines.append(f"{key} = []")
            elif isinstance(default, bool):
                lines.append(f"{key} = {str(default).lower()}")
            else:
                lines.append(f"{key} = {default}")
        lines.append("")
    return "\n".join(lines)
