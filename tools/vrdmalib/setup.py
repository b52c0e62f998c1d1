# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma setup`: install the Debian packages the project needs (quiet when
nothing is missing) and configure and build the C parts into build/."""

import glob
import os
import shutil
import subprocess
import tarfile

from .util import VrdmaError, need_root, progress, run

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Debian 12 packages, grouped by what needs them.
PACKAGES = {
    "switch": ["openvswitch-switch-dpdk", "dpdk", "iproute2", "procps",
               "util-linux",
               # vrdma fabric metrics: the Prometheus text exposition.
               "python3-prometheus-client",
               # vrdma cluster: the node configs it writes per host.
               "python3-tomli-w"],
    "fabric": ["libucx-dev", "ucx-utils", "ibverbs-utils"],
    "guests": ["netpipe-tcp", "netpipe-openmpi", "openmpi-bin",
               "iputils-ping", "libvirt-clients",
               # vrdma guest image: depmod, the initramfs and its
               # compression, the guests' ssh keys; plain QEMU for its test.
               "kmod", "cpio", "lz4", "dropbear-bin", "qemu-system-x86",
               # vrdma vm: libvirtd and virtlogd (the system's or a node's).
               "libvirt-daemon-system"],
    "build": ["meson", "ninja-build", "pkg-config", "gcc", "libc6-dev",
              "libdpdk-dev", "libcmocka-dev", "libssl-dev",
              # vrdma-vhost-ns batches the tap's system calls with it.
              "liburing-dev",
              "dpkg-dev"],  # apt-get source, for the driver headers
    # vrdma roce: soft-RoCE hosts (QEMU VMs on this root file system):
    # their initramfs shell, the agent they run, verbs tools and the
    # verbs user-space provider for rxe.
    "roce": ["busybox-static", "qemu-guest-agent", "perftest",
             "rdmacm-utils", "ibverbs-providers", "rdma-core"],
    # vrdma slurm: the SPANK plugin's header; the daemons and munge for
    # test_slurm's own emulated cluster (its own conf, key and sockets:
    # the machine's services, if any, are not touched).
    "slurm": ["libslurm-dev", "slurmctld", "slurmd", "slurm-client",
              "munge"],
    # ssh: vrdma bench --hosts reaches real hosts with it; perf: vrdma
    # bench --profile.
    "bench": ["python3-matplotlib", "openssh-client", "linux-perf"],
    # nftables: the fault tests' random loss on the fabric link and
    # test_mpi's held-back connect; python3-mpi4py: test_mpi's ranks.
    "test": ["nftables", "python3-mpi4py", "dpdk-dev", "clang",
             "libclang-rt-14-dev", "clang-format",
             "cppcheck", "shellcheck", "pyflakes3",
             # tests/tool/test_manpage.py renders docs/vrdma.8 with groff.
             "groff-base",
             # The service units and the logrotate snippet are checked
             # with the real tools (test_cli, test_node).
             "systemd", "logrotate"],
}


def missing_packages(names):
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *names],
        capture_output=True, text=True, check=False)
    installed = {line.split()[0] for line in proc.stdout.splitlines()
                 if len(line.split()) > 1 and line.split()[1].startswith("ii")}
    return [n for n in names if n not in installed]


def install_packages(names):
    missing = missing_packages(names)
    if not missing:
        return
    need_root("installing packages")
    progress(f"setup: installing {len(missing)} Debian package(s): "
             f"{' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], timeout=600, env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
         *missing], timeout=1800, env=env)
    still = missing_packages(missing)
    if still:
        raise VrdmaError(f"packages still missing after install: "
                         f"{' '.join(still)}",
                         "check apt sources (Debian 12 main)")


CACHE = os.environ.get("VRDMA_CACHE_DIR", "/var/cache/vrdma")
DEB_SRC = "/etc/apt/sources.list.d/vrdma-deb-src.sources"
# What an out-of-tree ethdev vdev driver needs beyond the public headers.
DRIVER_HEADER_DIRS = ("lib/ethdev", "lib/eal/include", "drivers/bus/vdev")


def _add_deb_src():
    """Debian ships no deb-src entry by default: derive one from the
    machine's own deb822 sources, so the same mirror serves the source."""
    if os.path.exists(DEB_SRC):
        return
    lines = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip() == "Types: deb":
                    line = "Types: deb-src\n"
                lines.append(line)
        lines.append("\n")
    if not any(ln.startswith("Types: deb-src") for ln in lines):
        raise VrdmaError("no deb822 apt source to derive a deb-src entry "
                         "from", "add a deb-src line for Debian 12 main "
                         "and rerun setup")
    with open(DEB_SRC, "w", encoding="utf-8") as f:
        f.writelines(lines)
    run(["apt-get", "update", "-qq"], timeout=600)


def driver_headers():
    """Directory holding DPDK's driver headers (ethdev_driver.h, ...) for
    exactly the installed DPDK. Debian's libdpdk-dev leaves them out, so
    they come from Debian's dpdk source package of the same version, cached.
    Returns '' when the installed DPDK already has them."""
    if os.path.exists("/usr/include/dpdk/ethdev_driver.h"):
        return ""
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "libdpdk-dev"],
        capture_output=True, text=True, check=False).stdout.strip()
    if not version:
        raise VrdmaError("libdpdk-dev is not installed",
                         "run: tools/vrdma setup")
    upstream = version.split(":")[-1].split("-")[0]
    dest = os.path.join(CACHE, f"dpdk-{version}-driver-headers")
    if os.path.exists(os.path.join(dest, "ethdev_driver.h")):
        return dest
    need_root("fetching DPDK's driver headers")
    _add_deb_src()
    srcdir = os.path.join(CACHE, "dpdk-src")
    os.makedirs(srcdir, exist_ok=True)
    progress(f"setup: fetching Debian's dpdk {version} source for its "
             "driver headers")
    run(["apt-get", "source", "--download-only", "-qq", f"dpdk={version}"],
        timeout=600, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        cwd=srcdir)
    tarballs = glob.glob(os.path.join(srcdir, f"dpdk_{upstream}.orig.tar.*"))
    if not tarballs:
        raise VrdmaError(f"dpdk {version} source tarball not found in "
                         f"{srcdir}", "check the deb-src entry in " + DEB_SRC)
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with tarfile.open(tarballs[0]) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/", 1)
            if len(parts) < 2 or not member.isfile() or \
                    not member.name.endswith(".h"):
                continue
            if os.path.dirname(parts[1]) in DRIVER_HEADER_DIRS:
                data = tar.extractfile(member).read()
                with open(os.path.join(tmp, os.path.basename(parts[1])),
                          "wb") as f:
                    f.write(data)
    if not os.path.exists(os.path.join(tmp, "ethdev_driver.h")):
        raise VrdmaError("ethdev_driver.h missing from the dpdk source",
                         f"inspect {tarballs[0]}")
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


def build(builddir="build", options=(), env=None):
    """Configure (once) and build; output only on failure."""
    path = os.path.join(TOP, builddir)
    if not os.path.exists(os.path.join(path, "build.ninja")):
        progress(f"setup: configuring {builddir}/")
        options = [*options,
                   f"-Ddpdk_driver_headers={driver_headers()}"]
        run(["meson", "setup", path, TOP, *options], timeout=300, env=env)
    progress(f"setup: building {builddir}/")
    run(["ninja", "-C", path], timeout=1800, env=env)
    return path


def setup(groups=None, do_build=True):
    names = []
    for group in groups or PACKAGES:
        names += PACKAGES[group]
    install_packages(names)
    if do_build:
        build()
