# SPDX-License-Identifier: BSD-3-Clause
"""libvirt domain XML for a VM guest on a node's vhost-user port.

What a vhost-user guest needs, and the 2015 report's appendix typed by
hand: a `vhostuser` interface on the port's socket, in the role opposite
to the port's (a client-mode port's guest serves the socket); guest memory
that the switch can map (hugepages or memfd, shared, and a NUMA cell with
memAccess='shared'); vCPUs and the emulator pinned away from the node's
PMD cores; multiqueue through <driver queues>; domain type kvm when KVM
can run a guest, else qemu (TCG), where QEMU 7.2 crashes on a vhost-user
virtio-net device with MSI-X (msix_set_vector_notifiers): vectors=0 via
<qemu:override> avoids it. render() is pure, for the tests; build()
reads the node."""

import os
import xml.etree.ElementTree as ET

from . import check, nsguest, ports
from .guestimage import DEFAULT_IMAGE
from .util import VrdmaError, online_cpus, run

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
BACKINGS = ("hugepages-2M", "hugepages-1G", "memfd")
NET_ALIAS = "ua-net0"
AGENT_CHANNEL = "org.qemu.guest_agent.0"


def kvm_usable(image=DEFAULT_IMAGE):
    """KVM runs guests here: it creates a VM and boots the image's kernel
    (some machines' /dev/kvm does the first and hangs at the second).
    Without an image to try, TCG: slow but sure."""
    return check.kvm_state()[0] == "ok" and \
        check.kvm_boots(os.path.join(image, "vmlinuz"))[0]


def guest_cpus(pmd_cores, vcpus):
    """CPUs for the guest: every online CPU not running a PMD, cycled."""
    free = [c for c in online_cpus() if c not in pmd_cores] or online_cpus()
    return [free[i % len(free)] for i in range(vcpus)], free


def render(guest, socket, port_mode, queues=1, vcpus=1, memory_mb=1024,
           backing="hugepages-2M", mac=None, cpus=None, emulator_cpus=None,
           domain_type="qemu", image=DEFAULT_IMAGE, cmdline="",
           console_log=None):
    """The domain as an XML string. cmdline is added to the kernel's
    (the image's init reads vrdma.name= and vrdma.ip=); console_log, if
    given, receives the serial console."""
    if backing not in BACKINGS:
        raise VrdmaError(f"--memory-backing {backing!r} unknown",
                         f"use one of {', '.join(BACKINGS)}")
    if not 1 <= vcpus <= 64:
        raise VrdmaError(f"--vcpus {vcpus} out of range", "use 1-64")
    if memory_mb < 128 or (backing == "hugepages-1G" and memory_mb % 1024):
        raise VrdmaError(f"--memory {memory_mb} MiB does not fit "
                         f"{backing}", "use at least 128 MiB, whole GiB "
                         "for 1G pages")
    if domain_type not in ("kvm", "qemu"):
        raise VrdmaError(f"domain type {domain_type!r}", "use kvm or qemu")
    ET.register_namespace("qemu", QEMU_NS)
    dom = ET.Element("domain", type=domain_type)
    ET.SubElement(dom, "name").text = guest
    ET.SubElement(dom, "memory", unit="MiB").text = str(memory_mb)
    ET.SubElement(dom, "currentMemory", unit="MiB").text = str(memory_mb)
    mb = ET.SubElement(dom, "memoryBacking")
    if backing.startswith("hugepages"):
        pages = ET.SubElement(mb, "hugepages")
        ET.SubElement(pages, "page", size="2048" if backing.endswith("2M")
                      else "1048576", unit="KiB")
    else:
        ET.SubElement(mb, "source", type="memfd")
    # The switch maps guest memory: it must be shared.
    ET.SubElement(mb, "access", mode="shared")
    ET.SubElement(dom, "vcpu", placement="static").text = str(vcpus)
    cpus = cpus or list(range(vcpus))
    tune = ET.SubElement(dom, "cputune")
    for i in range(vcpus):
        ET.SubElement(tune, "vcpupin", vcpu=str(i), cpuset=str(cpus[i]))
    ET.SubElement(tune, "emulatorpin", cpuset=",".join(
        map(str, emulator_cpus or sorted(set(cpus)))))
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_el, "kernel").text = os.path.join(image, "vmlinuz")
    ET.SubElement(os_el, "initrd").text = os.path.join(image, "initrd.img")
    ET.SubElement(os_el, "cmdline").text = \
        " ".join(["console=ttyS0 quiet", cmdline]).strip()
    cpu = ET.SubElement(dom, "cpu", mode="host-passthrough") \
        if domain_type == "kvm" else ET.SubElement(dom, "cpu")
    numa = ET.SubElement(cpu, "numa")
    ET.SubElement(numa, "cell", id="0", cpus=f"0-{vcpus - 1}",
                  memory=str(memory_mb), unit="MiB", memAccess="shared")
    ET.SubElement(dom, "on_poweroff").text = "destroy"
    ET.SubElement(dom, "on_reboot").text = "restart"
    ET.SubElement(dom, "on_crash").text = "destroy"
    dev = ET.SubElement(dom, "devices")
    ET.SubElement(dev, "emulator").text = "/usr/bin/qemu-system-x86_64"
    nic = ET.SubElement(dev, "interface", type="vhostuser")
    ET.SubElement(nic, "mac", address=mac or nsguest.guest_mac(guest))
    # A client-mode port (dpdkvhostuserclient): QEMU serves the socket and
    # OVS reconnects to it. A server-mode port: QEMU connects, and
    # reconnects after a switch restart.
    role = "server" if port_mode == "client" else "client"
    src = ET.SubElement(nic, "source", type="unix", path=socket, mode=role)
    if role == "client":
        ET.SubElement(src, "reconnect", enabled="yes", timeout="1")
    ET.SubElement(nic, "model", type="virtio")
    drv = ET.SubElement(nic, "driver", queues=str(queues))
    if queues > 1:
        drv.set("name", "vhost")
    ET.SubElement(nic, "alias", name=NET_ALIAS)
    serial = ET.SubElement(dev, "serial", type="pty")
    if console_log:
        ET.SubElement(serial, "log", file=console_log, append="off")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(dev, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    # The host runs commands in the guest through its agent, on a path
    # that does not depend on the data path under test.
    chan = ET.SubElement(dev, "channel", type="unix")
    ET.SubElement(chan, "target", type="virtio", name=AGENT_CHANNEL)
    # Entropy at boot: without it (TCG) ssh waits for the random pool.
    rng = ET.SubElement(dev, "rng", model="virtio")
    ET.SubElement(rng, "backend", model="random").text = "/dev/urandom"
    ET.SubElement(dev, "controller", type="usb", model="none")
    ET.SubElement(dev, "memballoon", model="none")
    if domain_type == "qemu":
        # QEMU 7.2 under TCG crashes with MSI-X on vhost-user virtio-net
        # (docs/quirks.md).
        over = ET.SubElement(dom, f"{{{QEMU_NS}}}override")
        qdev = ET.SubElement(over, f"{{{QEMU_NS}}}device", alias=NET_ALIAS)
        front = ET.SubElement(qdev, f"{{{QEMU_NS}}}frontend")
        ET.SubElement(front, f"{{{QEMU_NS}}}property", name="vectors",
                      type="unsigned", value="0")
    ET.indent(dom)
    return ET.tostring(dom, encoding="unicode") + "\n"


def validate(xml_text, scratch):
    """virt-xml-validate's verdict: (ok, message)."""
    path = os.path.join(scratch, "domain.xml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(xml_text)
    proc = run(["virt-xml-validate", path, "domain"], check=False)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def build(node, guest, vcpus=1, memory_mb=1024, backing="hugepages-2M",
          queues=None, mac=None, image=None, domain_type=None, cmdline="",
          console_log=None):
    """The domain for guest's port on node (which must be up)."""
    node.require_up()
    row = ports.find_interface(node, guest)
    if row is None or row["type"] not in ports.TYPES.values():
        raise VrdmaError(f"node {node.name} has no vhost-user port {guest}",
                         f"vrdma port add --node {node.name} {guest}")
    ext = row.get("external_ids") or {}
    mode = ext.get("vrdma-mode") or ("client" if row["type"] ==
                                     ports.TYPES["client"] else "server")
    port_queues = int(ext.get("vrdma-queues", "1"))
    if queues is not None and queues != port_queues:
        raise VrdmaError(f"--queues {queues} but port {guest} has "
                         f"{port_queues} queue pairs",
                         f"drop --queues, or re-add the port with "
                         f"--queues {queues}")
    rec = node.record() or {}
    cpus, free = guest_cpus(rec.get("pmd_cores", []), vcpus)
    return render(guest, node.paths.socket_path(guest), mode,
                  queues=port_queues, vcpus=vcpus, memory_mb=memory_mb,
                  backing=backing, mac=mac, cpus=cpus, emulator_cpus=free,
                  domain_type=domain_type or
                  ("kvm" if kvm_usable(image or DEFAULT_IMAGE) else "qemu"),
                  image=image or DEFAULT_IMAGE, cmdline=cmdline,
                  console_log=console_log)
