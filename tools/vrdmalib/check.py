# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma check`: a preflight report, one line per item, each ok, warn or
fail with the fix. Exit status 1 when any line fails."""

import ctypes
import fcntl
import json
import os
import re
import shutil
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
