# SPDX-License-Identifier: BSD-3-Clause
"""Soft-RoCE hosts: QEMU VMs that make RDMA verbs real on a machine with no
RDMA NIC and no rxe in its own kernel.

Each VM boots Debian's standard kernel (linux-image-amd64 ships rdma_rxe;
the cloud flavour does not) with this machine's root file system shared
read-only over virtio-9p, so it runs the very same OVS, DPDK, UCX,
rdma-core and build as the machine: no disk image. A small initramfs
loads the virtio and 9p modules, mounts the share and switch_roots to
roce-init.sh, which loads rdma_rxe from the kernel's module tree (kept in
the cache, reached over 9p too), adds rxe0 on the fabric NIC and starts
the QEMU guest agent: `vrdma roce exec` runs commands through it.

Two VMs are joined by a QEMU socket netdev on loopback (one listens, the
other connects): the fabric, MTU 9000, 198.19.2.0/24. Under TCG a VM
boots in about 20 s; verbs work, slowly. State: /run/vrdma/roce."""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

from . import check
from .guest import Guest
from .guestagent import GuestAgent
from .util import VrdmaError, progress, run, wait_for

CACHE = "/var/cache/vrdma/roce"
STATE = "/run/vrdma/roce"
INIT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "roce-init.sh")
NET = "198.19.2"
MTU = 9000
BUSYBOX = "/bin/busybox"
# What the initramfs loads to reach the root share; everything else comes
# from the module tree over 9p (roce-init.sh).
INITRD_MODULES = ("virtio_pci", "virtio_net", "virtio_console",
                  "virtio_rng", "9pnet_virtio", "9p")
BOOT_TIMEOUT = 240
INITRD_INIT = """#!/bin/busybox sh
# SPDX-License-Identifier: BSD-3-Clause
# vrdma roce initramfs: modules for the root share, then switch_root.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules); do insmod "/mods/$m" || echo "insmod $m failed"; done
init=/sbin/init
for kv in $(cat /proc/cmdline); do
	case $kv in vrdma.init=*) init=${kv#vrdma.init=} ;; esac
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 root /newroot ||
	{ echo "vrdma-roce: mounting the root share failed"; poweroff -f; }
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot "$init"
"""


def kernel_version():
    """The standard kernel flavour's current version, e.g. 6.1.0-41-amd64."""
    out = run(["apt-cache", "depends", "linux-image-amd64"]).stdout
    m = re.search(r"Depends: linux-image-(\S+-amd64)", out)
    if not m:
        raise VrdmaError("apt knows no linux-image-amd64 (Debian's standard "
                         "kernel, the one with rdma_rxe)",
                         "run apt-get update; check /etc/apt/sources.list")
    return m.group(1)


def image(force=False):
    """Kernel, initramfs and module tree for the VMs, built once into
    CACHE/KVER (about 400 MB unpacked). Returns a dict of their paths."""
    kver = kernel_version()
    top = os.path.join(CACHE, kver)
    img = {"kver": kver, "kernel": os.path.join(top, "vmlinuz"),
           "initrd": os.path.join(top, "initrd.gz"),
           "modroot": os.path.join(top, "root")}
    if not force and all(os.path.exists(img[k])
                         for k in ("kernel", "initrd", "modroot")):
        return img
    if not os.access(BUSYBOX, os.X_OK):
        raise VrdmaError(f"{BUSYBOX} missing (Debian package busybox-static)",
                         "run: tools/vrdma setup")
    progress(f"roce: building the VM image for kernel {kver} in {top} "
             "(downloads linux-image, about 70 MB; once)")
    shutil.rmtree(top, ignore_errors=True)
    os.makedirs(CACHE, exist_ok=True)
    scratch = tempfile.mkdtemp(dir=CACHE, prefix=".build-")
    try:
        run(["apt-get", "download", f"linux-image-{kver}"], cwd=scratch,
            timeout=600)
        deb = next(f for f in os.listdir(scratch) if f.endswith(".deb"))
        root = os.path.join(scratch, "root")
        run(["dpkg-deb", "-x", os.path.join(scratch, deb), root],
            timeout=600)
        run(["depmod", "-b", root, kver], timeout=300)
        ird = os.path.join(scratch, "initrd")
        for d in ("bin", "mods", "newroot", "proc", "sys", "dev"):
            os.makedirs(os.path.join(ird, d))
        shutil.copy2(BUSYBOX, os.path.join(ird, "bin", "busybox"))
        order = []
        for mod in INITRD_MODULES:
            deps = run(["modprobe", "-d", root, "-S", kver, "--show-depends",
                        mod]).stdout
            for line in deps.splitlines():
                fields = line.split()
                if fields[:1] == ["insmod"]:
                    ko = os.path.basename(fields[1])
                    if ko not in order:
                        order.append(ko)
                        shutil.copy2(fields[1],
                                     os.path.join(ird, "mods", ko))
        with open(os.path.join(ird, "modules"), "w", encoding="utf-8") as f:
            f.write("\n".join(order) + "\n")
        with open(os.path.join(ird, "init"), "w", encoding="utf-8") as f:
            f.write(INITRD_INIT)
        os.chmod(os.path.join(ird, "init"), 0o755)
        files = run(["find", "."], cwd=ird).stdout
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"],
                              cwd=ird, input=files.encode(),
                              capture_output=True, check=True)
        os.makedirs(os.path.join(scratch, "out"))
        subprocess.run(["gzip", "-1"], input=cpio.stdout, check=True,
                       stdout=open(os.path.join(scratch, "out", "initrd.gz"),
                                   "wb"))
        shutil.copy2(os.path.join(root, "boot", f"vmlinuz-{kver}"),
                     os.path.join(scratch, "out", "vmlinuz"))
        os.makedirs(top)
        os.replace(os.path.join(scratch, "out", "initrd.gz"), img["initrd"])
        os.replace(os.path.join(scratch, "out", "vmlinuz"), img["kernel"])
        os.replace(root, img["modroot"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    progress(f"roce: image ready ({len(order)} initramfs modules)")
    return img


def host_name(i):
    return f"roce{i + 1}"


def fabric_ip(i):
    return f"{NET}.{i + 1}"


def _load():
    try:
        with open(os.path.join(STATE, "state.json"), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def _save(state):
    os.makedirs(STATE, exist_ok=True)
    tmp = os.path.join(STATE, ".state.json")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)
    os.replace(tmp, os.path.join(STATE, "state.json"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"vrdma-roce" in f.read()
    except OSError:
        return False


def _accel(img):
    """kvm where a guest really boots with it here, else tcg."""
    ok, detail = check.kvm_boots(img["kernel"])
    progress(f"roce: {detail}")
    return ("kvm", "host") if ok else ("tcg", "max")


# More than two hosts: a Linux bridge in a network namespace of ours, one
# tap per VM, the VMs' QEMUs started in that namespace (nothing of the
# machine's own networks is touched).
BRIDGE_NETNS = "vrdma-roce"
MAX_HOSTS = 8


def _tap(i):
    return f"rtap{i}"


def _make_bridge(n):
    run(["ip", "netns", "add", BRIDGE_NETNS])
    ns = ["ip", "-n", BRIDGE_NETNS]
    run([*ns, "link", "add", "rbr", "type", "bridge"])
    run([*ns, "link", "set", "rbr", "mtu", str(MTU), "up"])
    for i in range(n):
        run([*ns, "tuntap", "add", "dev", _tap(i), "mode", "tap"])
        run([*ns, "link", "set", _tap(i), "mtu", str(MTU), "master", "rbr",
             "up"])


def _remove_bridge():
    if os.path.exists(f"/run/netns/{BRIDGE_NETNS}"):
        run(["ip", "netns", "del", BRIDGE_NETNS], check=False)


def _qemu_argv(img, i, n, hostdir, port, accel, cpu, memory_mb):
    name = host_name(i)
    if n > 2:
        net = f"tap,id=fab,ifname={_tap(i)},script=no,downscript=no"
    else:
        net = (f"socket,id=fab,listen=127.0.0.1:{port}" if i == 0 else
               f"socket,id=fab,connect=127.0.0.1:{port}")
    append = " ".join([
        "console=ttyS0", "quiet", "panic=-1", f"vrdma.name={name}",
        f"vrdma.ip={fabric_ip(i)}/24", f"vrdma.mtu={MTU}",
        f"vrdma.modroot={img['modroot']}", f"vrdma.init={INIT}"])
    return [
        check.QEMU, "-name", f"vrdma-roce-{name}",
        "-machine", f"q35,accel={accel}", "-cpu", cpu,
        "-m", str(memory_mb), "-smp", "1", "-display", "none",
        "-no-reboot", "-kernel", img["kernel"], "-initrd", img["initrd"],
        "-append", append,
        "-fsdev", "local,id=root,path=/,security_model=none,readonly=on,"
                  "multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=root,mount_tag=root",
        "-netdev", net,
        "-device", f"virtio-net-pci,netdev=fab,mac=52:54:00:19:02:{i + 1:02x}",
        "-device", "virtio-rng-pci",
        "-chardev", f"socket,id=qga,path={hostdir}/agent.sock,"
                    "server=on,wait=off",
        "-device", "virtio-serial-pci",
        "-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
        "-serial", f"file:{hostdir}/console.log",
        "-pidfile", f"{hostdir}/qemu.pid", "-daemonize"]


def up(n=2, memory_mb=2048):
    """Boot n soft-RoCE hosts (idempotent: a running set of n is kept).
    Two share one QEMU socket link; more, a bridge in a namespace of ours
    (BRIDGE_NETNS), one tap each."""
    if not 2 <= n <= MAX_HOSTS:
        raise VrdmaError(f"--hosts {n}: out of range",
                         f"use 2 to {MAX_HOSTS}")
    state = _load()
    if state and len(state["hosts"]) == n and \
            all(_alive(h["pid"]) for h in state["hosts"]):
        progress(f"roce: {n} hosts already up")
        return state
    if state:
        down()
    img = image()
    accel, cpu = _accel(img)
    port = _free_port()
    state = {"hosts": [], "accel": accel, "kver": img["kver"],
             "link": "bridge" if n > 2 else "socket"}
    try:
        if n > 2:
            _remove_bridge()  # left by a killed run
            _make_bridge(n)
            state["netns"] = BRIDGE_NETNS
            _save(state)
        for i in range(n):
            hostdir = os.path.join(STATE, host_name(i))
            shutil.rmtree(hostdir, ignore_errors=True)
            os.makedirs(hostdir)
            progress(f"roce: starting {host_name(i)} ({accel}, "
                     f"{fabric_ip(i)})")
            argv = _qemu_argv(img, i, n, hostdir, port, accel, cpu,
                              memory_mb)
            if n > 2:
                argv = ["ip", "netns", "exec", BRIDGE_NETNS, *argv]
            run(argv, timeout=60)
            with open(f"{hostdir}/qemu.pid", encoding="utf-8") as f:
                pid = int(f.read())
            state["hosts"].append({
                "name": host_name(i), "ip": fabric_ip(i), "pid": pid,
                "dir": hostdir, "agent": f"{hostdir}/agent.sock",
                "console": f"{hostdir}/console.log"})
            _save(state)
        t0 = time.monotonic()
        for h in state["hosts"]:
            line = _wait_ready(h, BOOT_TIMEOUT - (time.monotonic() - t0))
            progress(f"roce: {h['name']} up after "
                     f"{time.monotonic() - t0:.0f}s: {line}")
            if "ACTIVE" not in line:
                raise VrdmaError(f"{h['name']}: rxe0 not active ({line})",
                                 f"see {h['console']}")
    except BaseException:
        progress("roce: bring-up failed; stopping what was started")
        down()
        raise
    return state


def _wait_ready(h, timeout):
    def ready():
        if not _alive(h["pid"]):
            raise VrdmaError(f"{h['name']}: QEMU exited during boot",
                             f"see {h['console']}")
        try:
            with open(h["console"], encoding="utf-8",
                      errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return False
        return "vrdma-roce: ready" in text
    if not wait_for(ready, max(timeout, 1), interval=0.5):
        raise VrdmaError(f"{h['name']}: not ready after {BOOT_TIMEOUT}s",
                         f"see {h['console']}")
    with open(h["console"], encoding="utf-8", errors="replace") as f:
        return next(ln for ln in f if "vrdma-roce: ready" in ln).strip()


def hosts():
    state = _load()
    if not state:
        raise VrdmaError("no soft-RoCE hosts are up", "run: vrdma roce up")
    return state["hosts"]


def find(name):
    for h in hosts():
        if h["name"] == name:
            return h
    raise VrdmaError(f"no soft-RoCE host {name!r}",
                     "see: vrdma roce status")


def exec_in(name, argv, timeout=120, env=None):
    """(status, stdout, stderr) of argv run in host name; status None if
    it did not end within timeout (then it is killed with `timeout`)."""
    h = find(name)
    wrapped = ["/usr/bin/timeout", "-k", "5", str(int(timeout)), *argv]
    with GuestAgent(h["agent"]) as agent:
        agent.connect(timeout=30)
        return agent.exec(wrapped, timeout=timeout + 10, env=env)


def guest_path(path):
    """Where a path of this machine is inside a host: the same, except
    /tmp, which the hosts cover with their own (roce-init.sh)."""
    path = os.path.abspath(path)
    if path == "/tmp" or path.startswith("/tmp/"):
        return "/run/host" + path
    return path


def agent(name):
    """A connected guest agent of host name (a context manager)."""
    return GuestAgent(find(name)["agent"]).connect(timeout=30)


def status():
    """Per host: name, ip, running, rxe0 port state (from the agent)."""
    state = _load()
    if not state:
        return {"up": False, "hosts": []}
    out = {"up": True, "accel": state.get("accel"), "hosts": []}
    for h in state["hosts"]:
        row = {"name": h["name"], "ip": h["ip"], "running": _alive(h["pid"]),
               "rxe0": None}
        if row["running"]:
            try:
                rc, text, _ = exec_in(h["name"], [
                    "cat", "/sys/class/infiniband/rxe0/ports/1/state"], 20)
                row["rxe0"] = text.strip() if rc == 0 else None
            except VrdmaError:
                pass
        out["hosts"].append(row)
    out["up"] = all(r["running"] for r in out["hosts"])
    return out


def down():
    """Stop every VM this tool started (by its pid file), remove state."""
    state = _load()
    if not state:
        progress("roce: no hosts up; nothing to do")
        return
    for h in state["hosts"]:
        pid = h["pid"]
        if _alive(pid):
            os.kill(pid, 15)
            if not wait_for(lambda p=pid: not _alive(p), 10, 0.1):
                os.kill(pid, 9)
                wait_for(lambda p=pid: not _alive(p), 5, 0.1)
        progress(f"roce: {h['name']} stopped")
    if state.get("netns"):
        _remove_bridge()
    shutil.rmtree(STATE, ignore_errors=True)


# --- the mission's chain inside the hosts --------------------------------

NODE_ENV = ["VRDMA_CONFIG_DIR=/run/vrdma/etc", "VRDMA_STATE_DIR=/var/lib/vrdma"]
FABRIC_PORT = 7000
TRANSPORTS = "rc+ud"


def vrdma_argv():
    """This checkout's tools/vrdma as the hosts see it."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return [guest_path(os.path.join(here, "vrdma"))]


def node_name(i):
    return f"cn{i + 1}"


def guest_ip(i):
    return f"198.18.2.{i + 1}"


# The fabric key inside each host (its /run is its own tmpfs): one secret
# for all of them, as a cluster copies one file to every host.
KEYFILE = "/run/vrdma/etc/fabric.key"


def node_config(i, n, transports=TRANSPORTS):
    peers = ", ".join(f'"{fabric_ip(j)}:{FABRIC_PORT}"'
                      for j in range(n) if j != i)
    return "\n".join([
        "# Written by vrdma roce (a node inside a soft-RoCE host).",
        "[node]", f'name = "{node_name(i)}"',
        "[memory]", "socket_mem_mb = 512",
        "[fabric]", f'listen = "{fabric_ip(i)}:{FABRIC_PORT}"',
        f"peers = [{peers}]", f'transports = "{transports}"',
        f'keyfile = "{KEYFILE}"']) + "\n"


def _checked(name, argv, timeout, what):
    code, out, err = exec_in(name, argv, timeout)
    if code != 0:
        raise VrdmaError(f"{name}: {what} failed (exit {code}): "
                         f"{(err or out).strip()[-400:]}",
                         f"vrdma roce exec {name} -- ... to look closer")
    return out


def nodes_up(transports=TRANSPORTS):
    """In every host: an OVS-DPDK node (vrdma node up) whose fabric port
    runs over transports, and one namespace guest; returns the guests."""
    hs = hosts()
    guests = []
    key = secrets.token_hex(32)
    for i, h in enumerate(hs):
        node = node_name(i)
        conf = node_config(i, len(hs), transports)
        progress(f"roce: {h['name']}: node {node} up (fabric over "
                 f"{transports}, peers proving a shared key) and guest "
                 f"g{i + 1}")
        _checked(h["name"], ["/bin/sh", "-c",
                             "umask 077 && mkdir -p /run/vrdma/etc && "
                             f"echo {key} > {KEYFILE} && cat > "
                             f"/run/vrdma/etc/{node}.toml <<'EOF'\n{conf}EOF"],
                 30, "writing the node config and the fabric key")
        _checked(h["name"], ["env", *NODE_ENV, *vrdma_argv(), "node", "up",
                             "--node", node], 300, f"vrdma node up {node}")
        _checked(h["name"], ["env", *NODE_ENV, *vrdma_argv(), "ns", "add",
                             "--node", node, f"g{i + 1}", "--ip",
                             f"{guest_ip(i)}/24"], 120,
                 f"vrdma ns add g{i + 1}")
        guests.append(RoceGuest(h["name"], f"g{i + 1}", guest_ip(i)))
    return guests


def nodes_down():
    for i, h in enumerate(hosts()):
        exec_in(h["name"], ["env", *NODE_ENV, *vrdma_argv(), "node", "down",
                            "--node", node_name(i)], 120)


def fabric_xstats(name, i):
    """The fabric port's xstats in host name's node (OVS's statistics
    column: the driver's xstats, numbers only)."""
    out = _checked(name, ["env", *NODE_ENV, *vrdma_argv(), "vsctl",
                          "--node", node_name(i), "get", "Interface",
                          "fabric", "statistics"], 120, "reading the fabric port statistics")
    return {k: int(v) for k, v in re.findall(r'"?([\w.]+)"?=(\d+)', out)}


def fabric_log(name, i):
    """The fabric port's connection lines from host name's node log
    ("peer ... connected via rc_verbs/rxe0:1, authenticated")."""
    node = node_name(i)
    out = _checked(name, ["grep", "-h", "net_vrdma", f"/var/lib/vrdma/{node}"
                          f"/log/ovs-daemon-{node}.log"], 30,
                   "reading the node's log")
    return [ln.split("net_vrdma: ", 1)[1] for ln in out.splitlines()
            if "net_vrdma: " in ln and "connected" in ln]


def rxe_counters(name):
    out = _checked(name, ["cat", f"{RXE_COUNTERS}/sent_pkts",
                          f"{RXE_COUNTERS}/rcvd_pkts"], 20, "reading rxe")
    sent, rcvd = (int(x) for x in out.split())
    return {"sent": sent, "rcvd": rcvd}


RXE_COUNTERS = "/sys/class/infiniband/rxe0/ports/1/hw_counters"


class RoceGuest(Guest):
    """A namespace guest inside a soft-RoCE host: commands go through the
    host's guest agent into the namespace, from its writable /tmp."""
    kind = "ns"

    def __init__(self, host, netns, ip):
        super().__init__(f"{host}/{netns}", ip)
        self.host = host
        self.netns = netns

    def spawn(self, argv):
        h = find(self.host)
        agent = GuestAgent(h["agent"]).connect(timeout=30)
        try:
            return agent.spawn(["/usr/bin/env", "--chdir=/tmp", "ip",
                                "netns", "exec", self.netns, *argv])
        finally:
            agent.close()

    def reap(self, handle, timeout):
        with agent(self.host) as a:
            code, out, err = a.reap(handle, timeout)
            if code is None:
                a.exec(["kill", "-9", str(handle)], 10)
        return code, out, err
