# SPDX-License-Identifier: BSD-3-Clause
"""The raw uplink named by its kernel interface (`[uplink] iface`): the
DPDK devargs for it, found in sysfs as the 2015 report's shell snippet
did by hand (readlink /sys/class/net/IFACE/device).

- mlx5: each port is a PCI function; its address, allow-listed. The
  PMD is bifurcated: the kernel keeps the netdev, no vfio needed.
- mlx4: both ports share one PCI function; the address plus the port
  (`port=N`, from dev_port).
- an interface without a PCI device (veth, a bridge, ...): net_af_packet
  on it, the tests' stand-in.
- any other PCI NIC: an error, since DPDK would take it from the kernel
  (bind it to vfio-pci yourself and give devargs)."""

import os
import re

from .util import VrdmaError, run

PCI = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
BIFURCATED = ("mlx4_core", "mlx5_core")


def devargs_for(iface, device, driver, dev_port):
    """devargs from what sysfs says: device is the resolved path of
    /sys/class/net/IFACE/device ("" if none), driver the name of its
    driver, dev_port the contents of dev_port."""
    pci = os.path.basename(device) if device else ""
    if not PCI.match(pci):
        return f"net_af_packet0,iface={iface}"
    if driver == "mlx4_core":
        port = int(dev_port or 0)
        return f"{pci},port={port}"
    if driver == "mlx5_core":
        return pci
    raise VrdmaError(
        f"uplink {iface} is PCI device {pci} with driver "
        f"{driver or 'none'}: DPDK can share only mlx4/mlx5 NICs with the "
        "kernel", f"bind {pci} to vfio-pci and set [uplink] devargs = "
        f'"{pci}", or use devargs = "net_af_xdp0,iface={iface}"')


READ = ('d=/sys/class/net/$1; [ -e "$d" ] || exit 3; '
        'readlink -f "$d/device" 2>/dev/null; echo; '
        'basename "$(readlink -f "$d/device/driver" 2>/dev/null)"; '
        'cat "$d/dev_port" 2>/dev/null; echo')


def resolve(iface, netns=""):
    """devargs for iface as seen in netns (sysfs is per namespace)."""
    argv = ["sh", "-c", READ, "uplink", iface]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    proc = run(argv, check=False)
    if proc.returncode == 3:
        where = f"network namespace {netns}" if netns else "this host"
        raise VrdmaError(f"[uplink] iface {iface}: no such interface in "
                         f"{where}", "name an existing interface "
                         "(ip link), or give [uplink] devargs")
    lines = (proc.stdout.splitlines() + ["", "", ""])[:3]
    device, driver, dev_port = (ln.strip() for ln in lines)
    if driver in (".", "device"):
        driver = ""
    return devargs_for(iface, device, driver, dev_port)
