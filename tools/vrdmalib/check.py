# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma check`: a preflight report, one line per item, each ok, warn or
fail with the fix. Exit status 1 when any line fails.

With a node config that has a fabric port ([fabric] listen), it also
checks the fabric: the listen address, its netdev's MTU, the RDMA device
bound to that netdev, the memlock limit and each peer. Each of those checks
is a small function of parsed inputs (`ip -j addr` text, a sysfs root, a
limit, probe functions), so tests run them on fake trees without root or
RDMA; fabric_report() gathers the real inputs."""

import contextlib
import ctypes
import fcntl
import ipaddress
import json
import os
import re
import resource
import shutil
import socket
import stat
import subprocess

from . import hugepages
from .util import isolated_cpus, online_cpus, parse_cpu_list, read_text

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01


def _version(cmd, pattern=r"\d+\.\d+(\.\d+)?"):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, out)
    return match.group(0) if match else None


def kvm_state():
    """('ok'|'warn', detail): can this machine create a KVM VM?"""
    if not os.path.exists("/dev/kvm"):
        return "warn", "no /dev/kvm: guests run under TCG (slow)"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return "warn", f"/dev/kvm: {exc.strerror}: guests run under TCG"
    try:
        api = fcntl.ioctl(fd, KVM_GET_API_VERSION, 0)
        if api != 12:
            return "warn", f"KVM API {api} (want 12): guests run under TCG"
        libc = ctypes.CDLL(None, use_errno=True)
        vm = libc.ioctl(fd, KVM_CREATE_VM, 0)
        if vm < 0:
            err = os.strerror(ctypes.get_errno())
            return "warn", f"KVM_CREATE_VM failed ({err}): guests use TCG"
        os.close(vm)
        return "ok", "KVM usable (API 12, VM creation works)"
    except OSError as exc:
        return "warn", f"KVM ioctl failed ({exc.strerror}): guests use TCG"
    finally:
        os.close(fd)


KVM_PROBE_CACHE = "/run/vrdma/kvm-probe.json"
QEMU = "/usr/bin/qemu-system-x86_64"


def kvm_boots(kernel, timeout=20):
    """(ok, detail): does KVM run an ordinary guest here? Creating a VM is
    not enough: nested or partial KVM can create one and then hang or fail
    emulating the guest kernel's first instructions. Boots kernel with
    KVM to its 'no root fs' panic (panic=-1 and -no-reboot make QEMU
    exit). Cached per kernel and QEMU in /run (until the machine
    reboots)."""
    if not (os.access(QEMU, os.X_OK) and os.path.exists(kernel)):
        return False, "no QEMU or guest kernel to probe KVM with"
    key = "|".join(f"{p}:{os.stat(p).st_size}:{os.stat(p).st_mtime_ns}"
                   for p in (kernel, QEMU))
    try:
        with open(KVM_PROBE_CACHE, encoding="utf-8") as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return tuple(cache[key])
    argv = [QEMU, "-accel", "kvm", "-cpu", "host", "-m", "128",
            "-nodefaults", "-display", "none", "-no-reboot", "-serial",
            "stdio", "-kernel", kernel, "-append",
            "console=ttyS0 panic=-1"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True,
                              timeout=timeout, check=False)
        out = proc.stdout + proc.stderr
        ok = proc.returncode == 0 and "Linux version" in out
        detail = ("KVM boots a guest kernel" if ok else
                  f"KVM did not boot a guest kernel (exit "
                  f"{proc.returncode}): guests run under TCG")
    except subprocess.TimeoutExpired:
        ok, detail = False, (f"KVM hung booting a guest kernel ({timeout}s)"
                             ": guests run under TCG")
    cache[key] = [ok, detail]
    os.makedirs(os.path.dirname(KVM_PROBE_CACHE), exist_ok=True)
    with open(KVM_PROBE_CACHE, "w", encoding="utf-8") as f:
        json.dump(cache, f)
    return ok, detail


SYSFS_IB = "/sys/class/infiniband"
CLONE_NEWNET = 0x40000000  # os.CLONE_NEWNET from Python 3.12

# What a guest frame of the port MTU becomes on the fabric netdev: its
# Ethernet header and one VLAN tag (an MTU counts neither), net_vrdma's
# message header (VRDMA_WIRE_HDR_LEN in pmd/vrdma_wire.h) and the largest
# transport headers, RoCE v2 over IPv6 (IPv6 40, UDP 8, BTH 12, ICRC 4;
# TCP over IPv6 takes 60).
FRAME_OVERHEAD = 14 + 4 + 20 + 64

# UCX transport names that mean verbs; "ib" is UCX's alias for all of them.
RDMA_ALIASES = {"ib", "verbs", "rdmacm"}
RDMA_FAMILIES = {"rc", "ud", "dc"}

RXE_FIX = ("soft-RoCE: modprobe rdma_rxe && rdma link add rxe0 type rxe "
           "netdev {netdev}; a RoCE NIC: load its driver (mlx5_ib) and "
           "rdma-core; or set [fabric] transports = \"tcp\"")


def _is_rdma_transport(name):
    return name in RDMA_ALIASES or name.split("_")[0] in RDMA_FAMILIES or \
        "verbs" in name or "mlx5" in name


def rdma_wanted(transports):
    """'yes' when [fabric] transports names a verbs transport, 'auto' when
    UCX chooses (empty, "all", or an exclusion list that leaves verbs in),
    'no' when only tcp or shared memory can be used."""
    names = [n for n in transports.lstrip("^").split("+") if n]
    if transports.startswith("^"):
        families = {n.split("_")[0] for n in names}
        if "ib" in names or RDMA_FAMILIES <= families:
            return "no"
        return "auto"
    if any(_is_rdma_transport(n) for n in names):
        return "yes"
    return "auto" if not names or "all" in names else "no"


def split_hostport(text):
    """("198.18.0.1", 7000) from "198.18.0.1:7000", ("::1", 7000) from
    "[::1]:7000"."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def netdev_of(ip_addr_json, host):
    """The interface of `ip -j addr` output (a JSON string) that holds the
    address host, as {"ifname", "mtu", "up"}; None if none does."""
    want = ipaddress.ip_address(host)
    for link in json.loads(ip_addr_json or "[]"):
        for addr in link.get("addr_info", []):
            try:
                here = ipaddress.ip_address(addr.get("local", ""))
            except ValueError:
                continue
            if here == want:
                up = "UP" in link.get("flags", []) and \
                    link.get("operstate") not in ("DOWN", "LOWERLAYERDOWN")
                return {"ifname": link["ifname"], "mtu": link.get("mtu", 0),
                        "up": up}
    return None


def listen_check(listen, netdev):
    """Is the listen address on a local interface? netdev: netdev_of()."""
    host, _ = split_hostport(listen)
    if ipaddress.ip_address(host).is_unspecified:
        return ("warn", "listen", f"{listen} listens on every address: the "
                "fabric netdev is unknown, so its MTU is not checked and any "
                "RDMA port counts", "set [fabric] listen to the address of "
                "the fabric netdev")
    if netdev is None:
        return ("fail", "listen", f"{listen}: {host} is on no local "
                "interface, so net_vrdma cannot listen on it",
                f"add it to the fabric netdev (ip addr add {host}/PREFIX dev "
                "IF) or correct [fabric] listen")
    if not netdev["up"]:
        return ("warn", "listen", f"{listen} on {netdev['ifname']}, which "
                "is down or has no carrier",
                f"ip link set {netdev['ifname']} up, and check its link")
    return "ok", "listen", f"{listen} on {netdev['ifname']}", None


def mtu_check(netdev, port_mtu):
    """Does a frame of the port MTU cross the fabric netdev whole?"""
    need = port_mtu + FRAME_OVERHEAD
    name, mtu = netdev["ifname"], netdev["mtu"]
    if mtu >= need:
        return ("ok", "mtu", f"{name} MTU {mtu}: frames of port MTU "
                f"{port_mtu} cross whole (need {need})", None)
    return ("warn", "mtu", f"{name} MTU {mtu} < {need}, what a frame of "
            f"port MTU {port_mtu} takes with net_vrdma's and the transport's "
            "headers: each crosses as 2+ packets (works, slower)",
            f"raise it on every fabric host and the switches between them: "
            f"ip link set {name} mtu {max(need, 9000)}")


def _gid_nonzero(text):
    try:
        return int(ipaddress.IPv6Address(text)) != 0
    except ValueError:
        return False


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def _by_number(names):
    return sorted((n for n in names if n.isdigit()), key=int)


def rdma_ports(root=SYSFS_IB, rdma_link_json=None):
    """Every RDMA device port under root (a /sys/class/infiniband tree):
    dicts of dev, port, state ("ACTIVE"), link_layer, gids (index -> GID,
    non-zero ones only) and netdevs (names from gid_attrs/ndevs, the PCI
    function's device/net and what `rdma -j link show` names, which also
    covers soft-RoCE ports without GIDs)."""
    try:
        rows = json.loads(rdma_link_json or "[]")
    except ValueError:
        rows = []
    linked = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("netdev"):
            linked[(row.get("ifname"), row.get("port"))] = row["netdev"]
    ports = []
    for dev in sorted(_listdir(root)):
        for port in _by_number(_listdir(os.path.join(root, dev, "ports"))):
            base = os.path.join(root, dev, "ports", port)
            gids = {}
            for idx in _by_number(_listdir(os.path.join(base, "gids"))):
                gid = read_text(os.path.join(base, "gids", idx))
                if _gid_nonzero(gid):
                    gids[int(idx)] = gid
            # An unused slot of gid_attrs/ndevs fails to read (EINVAL).
            ndevs = os.path.join(base, "gid_attrs", "ndevs")
            netdevs = {read_text(os.path.join(ndevs, idx))
                       for idx in _by_number(_listdir(ndevs))}
            netdevs.discard("")
            # A port without GIDs has no ndevs entry: its PCI function's
            # netdevs and `rdma link` still name the netdev.
            netdevs.update(_listdir(os.path.join(root, dev, "device",
                                                 "net")))
            if (dev, int(port)) in linked:
                netdevs.add(linked[(dev, int(port))])
            state = read_text(os.path.join(base, "state"), "?")
            ports.append({
                "dev": dev, "port": int(port),
                "state": state.split(":", 1)[-1].strip(),
                "link_layer": read_text(os.path.join(base, "link_layer")),
                "gids": gids, "netdevs": netdevs})
    return ports


def _port_name(port):
    return f"{port['dev']}:{port['port']}"


def _gid_of(port, host):
    """The GID index of host's address on a RoCE port, or None."""
    ip = ipaddress.ip_address(host)
    if ip.version == 4:
        ip = ipaddress.IPv6Address(f"::ffff:{ip}")
    for idx, gid in sorted(port["gids"].items()):
        if ipaddress.IPv6Address(gid) == ip:
            return idx
    return None


def rdma_checks(ports, netdev, transports, dev="", host=None):
    """The RDMA device of the fabric netdev (None: any device), as a list
    of report lines. ports: rdma_ports(); dev: [fabric] dev ("rxe0:1");
    host: the listen address, whose RoCE GID rdma_cm needs."""
    want = rdma_wanted(transports)
    said = f"transports = \"{transports}\"" if transports else \
        "transports empty: UCX chooses"
    where = f" on {netdev}" if netdev else ""
    bound = [p for p in ports if netdev is None or netdev in p["netdevs"]]
    if want == "no":
        have = ", ".join(_port_name(p) for p in bound) or "none"
        return [("ok", "rdma", f"not used ({said}); RDMA ports{where}: "
                 f"{have}", None)]
    # Verbs asked for, or a device named, must work; when UCX chooses it
    # falls back to tcp, which is worth a warning, not a failure.
    bad = "fail" if want == "yes" or dev else "warn"
    fallback = "" if bad == "fail" else "; UCX will use tcp"
    if dev:
        name, _, num = dev.partition(":")
        named = [p for p in ports if p["dev"] == name and
                 str(p["port"]) == (num or "1")]
        if not named:
            have = ", ".join(_port_name(p) for p in ports) or "none"
            return [(bad, "rdma", f"[fabric] dev {dev}: no such RDMA port "
                     f"(have: {have})", "correct [fabric] dev, or "
                     + RXE_FIX.format(netdev=netdev or "IF"))]
        if netdev and named[0] not in bound:
            return [(bad, "rdma", f"[fabric] dev {dev} is on "
                     f"{', '.join(sorted(named[0]['netdevs'])) or 'no netdev'}"
                     f", not on the listen address's {netdev}",
                     "name the device on that netdev in [fabric] dev, or "
                     "listen on an address of the device's netdev")]
        bound = named
    if not bound:
        others = ", ".join(f"{_port_name(p)} on "
                           f"{'/'.join(sorted(p['netdevs'])) or '-'}"
                           for p in ports)
        return [(bad, "rdma", f"no RDMA device{where} ({said})"
                 + (f"; others: {others}" if others else "") + fallback,
                 RXE_FIX.format(netdev=netdev or "IF"))]
    lines = []
    for port in bound:
        name = _port_name(port)
        if port["state"] != "ACTIVE":
            lines.append((bad, "rdma", f"{name}{where} is {port['state']}"
                          f"{fallback}", f"bring {netdev or 'its netdev'} "
                          "up with a carrier (ip link set IF up; rxe follows "
                          "its netdev) and see `rdma link show`"))
        elif not port["gids"]:
            lines.append((bad, "rdma", f"{name}{where} is ACTIVE but has no "
                          f"GID{fallback}", f"GIDs come from "
                          f"{netdev or 'the netdev'}'s MAC and addresses: "
                          "give it an address and bring it up"))
        elif host and port["link_layer"] == "Ethernet" and \
                not ipaddress.ip_address(host).is_unspecified and \
                _gid_of(port, host) is None:
            lines.append((bad, "rdma", f"{name}{where} is ACTIVE but no GID "
                          f"holds {host}, so rdma_cm cannot resolve the "
                          f"listen address{fallback}", f"the GID table "
                          f"follows the netdev's addresses: check that {host}"
                          f" is on {netdev or 'the netdev'} (ip addr)"))
        else:
            idx = _gid_of(port, host) if host and \
                port["link_layer"] == "Ethernet" else None
            lines.append(("ok", "rdma", f"{name}{where} ACTIVE, "
                          f"{len(port['gids'])} GIDs"
                          + (f" ({host} at index {idx})"
                             if idx is not None else "") + f" ({said})",
                          None))
    # One usable port is enough when UCX or rdma_cm picks the device.
    if not dev and any(line[0] == "ok" for line in lines):
        lines = [line for line in lines if line[0] == "ok"]
    return lines


def memlock_check(limit, need_mb):
    """RLIMIT_MEMLOCK (soft, bytes) against the DPDK memory that the RDMA
    transports register."""
    if limit == resource.RLIM_INFINITY:
        return "ok", "memlock", "locked-memory limit unlimited", None
    if limit >= need_mb << 20:
        return ("ok", "memlock", f"locked-memory limit {limit >> 20} MiB "
                f">= {need_mb} MiB of DPDK memory", None)
    return ("warn", "memlock", f"locked-memory limit {limit >> 10} KiB < "
            f"{need_mb} MiB of DPDK memory: RDMA memory registration may "
            "fail", "ulimit -l unlimited in the shell that runs `vrdma node "
            "up` (LimitMEMLOCK=infinity in a systemd unit)")


KEY_MIN = 16  # as pmd/vrdma_auth.h VRDMA_AUTH_KEY_MIN
KEY_MAX = 256


def keyfile_check(path):
    """[fabric] keyfile as the driver will read it (pmd/vrdma_auth.c):
    present, a regular file, private, 16 to 256 bytes without trailing
    white space."""
    def make(name):
        return (f"openssl rand -hex 32 > {name}; chmod 600 {name}; copy it "
                "to every host of the fabric")

    if not path:
        return ("warn", "keyfile", "no [fabric] keyfile: peers are trusted "
                "by their address alone", "set [fabric] keyfile to a secret "
                "the hosts share: " + make("FILE"))
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            data = f.read(KEY_MAX + 2).rstrip(b" \t\r\n")
    except OSError as exc:
        return ("bad", "keyfile", f"{path}: {exc.strerror}", make(path))
    if not stat.S_ISREG(st.st_mode):
        return ("bad", "keyfile", f"{path}: not a regular file", make(path))
    if st.st_mode & 0o077:
        return ("bad", "keyfile", f"{path}: group or others may read it "
                f"(mode {st.st_mode & 0o777:03o})", f"chmod 600 {path}")
    if not KEY_MIN <= len(data) <= KEY_MAX:
        return ("bad", "keyfile", f"{path}: {len(data)} bytes, "
                f"{KEY_MIN} to {KEY_MAX} needed", make(path))
    return ("ok", "keyfile", f"{path}: peers prove this key", None)


def tcp_probe(host, port, timeout=1.0):
    """'accepts', 'refused', or why a TCP connect to host:port failed."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "accepts"
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        return "timed out"
    except OSError as exc:
        return exc.strerror or str(exc)


def ping_host(host):
    """True if host answers one ICMP echo within 1 s, None without ping."""
    if not shutil.which("ping"):
        return None
    try:
        return subprocess.run(["ping", "-c", "1", "-W", "1", host],
                              capture_output=True, timeout=5,
                              check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def peer_check(peer, probe=tcp_probe, ping=ping_host):
    """Does a listed peer answer? A UCX listener using tcp sockcm accepts
    a TCP connection; one using rdma_cm has no TCP port, so a refused
    connect falls back to ping. Unreachable is a warning: peers may be
    down."""
    host, port = split_hostport(peer)
    tcp = probe(host, port)
    if tcp == "accepts":
        return ("ok", "peer", f"{peer} accepts a TCP connection",
                None)
    answered = ping(host)
    if tcp == "refused":
        return ("ok", "peer", f"{host} reachable"
                + (" (answers ping)" if answered else "")
                + f"; nothing listens on TCP {port} (expected with rdma_cm;"
                " else its switch is down)", None)
    if answered:
        return ("ok", "peer", f"{host} answers ping; TCP {port}: {tcp}",
                None)
    return ("warn", "peer", f"{peer} unreachable: TCP {tcp}, "
            + ("no ping reply" if answered is False else "no ping program"),
            f"check that the peer is up and routed from here (ip route get "
            f"{host}); a peer may simply be down")


def _cfg(cfg, key, default):
    """cfg[key], or default for a key this config's schema lacks."""
    try:
        return cfg[key]
    except KeyError:
        return default


def _output(argv):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


@contextlib.contextmanager
def in_netns(name):
    """Run the block's sockets and programs in network namespace name
    (this thread only; "" is the current one)."""
    if not name:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/self/ns/net", "rb") as home, \
            open(os.path.join("/run/netns", name), "rb") as there:
        if libc.setns(there.fileno(), CLONE_NEWNET):
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        try:
            yield
        finally:
            libc.setns(home.fileno(), CLONE_NEWNET)


def fabric_report(cfg, sysfs=SYSFS_IB, probe=tcp_probe, ping=ping_host):
    """The fabric's report lines for a node config with [fabric] listen,
    from `ip -j addr`, sysfs, `rdma -j link`, the memlock limit and the
    peers, seen from the node's network namespace."""
    listen = cfg["fabric.listen"]
    transports = cfg["fabric.transports"]
    netns = _cfg(cfg, "node.netns", "")
    try:
        with in_netns(netns):
            ip_addr = _output(["ip", "-j", "addr", "show"])
            rdma_link = _output(["rdma", "-j", "link", "show"])
            peers = [peer_check(p, probe, ping)
                     for p in cfg["fabric.peers"]]
    except FileNotFoundError:
        return [("warn", "listen", f"netns {netns} does not exist yet: "
                 "fabric not checked", f"`vrdma node up` creates it; move "
                 f"the fabric netdev into it (ip link set IF netns {netns})"
                 " and check again")]
    except OSError as exc:
        return [("warn", "listen", f"cannot enter netns {netns} "
                 f"({exc.strerror}): fabric not checked", "run as root")]
    if ip_addr is None:
        return [("warn", "listen", "`ip -j addr` failed: fabric not "
                 "checked", "install iproute2")]
    host, _ = split_hostport(listen)
    netdev = netdev_of(ip_addr, host)
    lines = [listen_check(listen, netdev)]
    if netdev is not None:
        lines.append(mtu_check(netdev, cfg["ports.mtu"]))
    ports = rdma_ports(sysfs, rdma_link)
    if netdev is not None or ipaddress.ip_address(host).is_unspecified:
        lines += rdma_checks(ports, netdev["ifname"] if netdev else None,
                             transports, _cfg(cfg, "fabric.dev", ""), host)
    want = rdma_wanted(transports)
    if want == "yes" or (want == "auto" and ports):
        limit, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
        lines.append(memlock_check(limit, cfg["memory.socket_limit_mb"]))
    lines.append(keyfile_check(_cfg(cfg, "fabric.keyfile", "")))
    return lines + peers


def report(node_cfg=None):
    """Yield (level, item, detail, fix) tuples."""
    for prog, pkg in (("/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk",
                       "openvswitch-switch-dpdk"),
                      ("ovsdb-server", "openvswitch-common"),
                      ("dpdk-testpmd", "dpdk-dev")):
        found = shutil.which(prog) or (os.access(prog, os.X_OK) and prog)
        if found:
            yield "ok", "program", f"{os.path.basename(prog)} at {found}", None
        else:
            yield ("fail", "program", f"{os.path.basename(prog)} missing",
                   "run: tools/vrdma setup")
    ovs = _version(["/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk",
                    "--version"])
    dpdk = _version(["/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk",
                     "--version"], r"DPDK \S+")
    ucx = _version(["ucx_info", "-v"], r"version=\S+|\d+\.\d+\.\d+")
    qemu = _version(["qemu-system-x86_64", "--version"])
    virsh = _version(["virsh", "--version"])
    yield ("ok", "versions",
           f"OVS {ovs or '-'}, {dpdk or 'DPDK -'}, UCX {ucx or '-'}, "
           f"QEMU {qemu or '-'}, libvirt {virsh or '-'}", None)

    for size in hugepages.SIZES_KB:
        total, free = hugepages.counts(size)
        point = hugepages.mount_for(size)
        if not os.path.exists(f"/sys/kernel/mm/hugepages/hugepages-"
                              f"{hugepages.SIZES_KB[size]}kB"):
            continue
        if total and point:
            yield ("ok", "hugepages",
                   f"{size}: {total} reserved, {free} free, on {point}", None)
        elif size == "2M":
            yield ("warn", "hugepages",
                   f"{size}: {total} reserved, "
                   f"{'mounted on ' + point if point else 'not mounted'}",
                   "`vrdma node up` reserves and mounts them itself; for "
                   "production reserve at boot (hugepages=N)")

    online = online_cpus()
    isolated = isolated_cpus()
    nohz = read_text("/sys/devices/system/cpu/nohz_full")
    want = None
    if node_cfg is not None and node_cfg["cpu.pmd_cores"] != "auto":
        want = parse_cpu_list(node_cfg["cpu.pmd_cores"])
    if want:
        absent = [c for c in want if c not in online]
        shared = [c for c in want if c not in isolated]
        if absent:
            yield ("fail", "cpu", f"pmd_cores {want} name absent CPUs "
                   f"(online: {online})", "fix [cpu] pmd_cores")
        elif shared:
            yield ("warn", "cpu", f"PMD cores {shared} not isolated",
                   "add isolcpus= nohz_full= for them to the kernel cmdline")
        else:
            yield "ok", "cpu", f"PMD cores {want} isolated", None
    elif isolated:
        yield ("ok", "cpu", f"isolated cores {isolated} (nohz_full: "
               f"{nohz or 'none'}) of {len(online)}", None)
    else:
        yield ("warn", "cpu", f"no isolated cores among {len(online)}: PMD "
               "threads share CPUs (vrdma sets pmd-maxsleep)",
               "add isolcpus=2-N nohz_full=2-N to the kernel command line")

    groups = os.listdir("/sys/kernel/iommu_groups") \
        if os.path.isdir("/sys/kernel/iommu_groups") else []
    if groups:
        yield "ok", "iommu", f"{len(groups)} IOMMU groups", None
    else:
        yield ("warn", "iommu", "no IOMMU: vfio-pci cannot bind NICs "
               "(mlx4/mlx5 bifurcated PMDs and vdevs still work)",
               "enable VT-d/AMD-Vi and intel_iommu=on iommu=pt")

    if shutil.which("ibv_devices"):
        out = subprocess.run(["ibv_devices"], capture_output=True, text=True,
                             check=False, timeout=10).stdout
        devs = [ln.split()[0] for ln in out.splitlines()[2:] if ln.strip()]
        if devs:
            yield "ok", "rdma", f"RDMA devices: {', '.join(devs)}", None
        else:
            yield ("warn", "rdma", "no RDMA device: the fabric runs UCX over "
                   "tcp or shared memory", "on real hosts: install the NIC's "
                   "driver (mlx5_ib) and rdma-core")
    else:
        yield ("warn", "rdma", "ibv_devices missing", "run: tools/vrdma setup")

    if shutil.which("ucx_info"):
        out = subprocess.run(["ucx_info", "-d"], capture_output=True,
                             text=True, check=False, timeout=30).stdout
        tls = sorted({m.group(1) for m in
                      re.finditer(r"#\s+Transport:\s+(\S+)", out)})
        if tls:
            yield "ok", "ucx", f"UCX transports: {', '.join(tls)}", None
        else:
            yield "fail", "ucx", "UCX reports no transport", \
                "reinstall libucx0 / ucx-utils"
    else:
        yield "fail", "ucx", "ucx_info missing", "run: tools/vrdma setup"

    level, detail = kvm_state()
    for prog, pkg in (("NPtcp", "netpipe-tcp"),
                      ("NPopenmpi", "netpipe-openmpi"),
                      ("mpirun", "openmpi-bin"),
                      ("virt-xml-validate", "libvirt-clients")):
        if shutil.which(prog):
            yield "ok", "guests", f"{prog} at {shutil.which(prog)}", None
        else:
            yield ("warn", "guests", f"{prog} missing (Debian package "
                   f"{pkg}): no NetPIPE/MPI runs or XML checks",
                   "run: tools/vrdma setup")
    if os.path.exists("/dev/net/tun"):
        yield "ok", "guests", "/dev/net/tun for namespace guests", None
    else:
        yield ("warn", "guests", "no /dev/net/tun: namespace guests cannot "
               "make their tap", "modprobe tun")
    from .guestimage import DEFAULT_IMAGE
    kernel = os.path.join(DEFAULT_IMAGE, "vmlinuz")
    if level == "ok" and os.path.exists(kernel):
        ok, boot = kvm_boots(kernel)
        level, detail = ("ok" if ok else "warn"), f"{detail}; {boot}"
    yield level, "kvm", detail, (None if level == "ok" else
                                 "none needed for tests; for real guests "
                                 "enable VT-x/AMD-V (nested: expose it to "
                                 "this VM) and load kvm")
    if node_cfg is not None and node_cfg["fabric.listen"]:
        yield from fabric_report(node_cfg)
