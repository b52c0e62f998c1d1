#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma guest image` and the guest it makes, without libvirt or a switch:
the image is built (or found up to date, untouched), its manifest lists
the guest packages with exact versions, and one guest boots under TCG with
plain QEMU, prints its ready line once, runs commands through its guest
agent with their output and exit status, and powers off when the agent
asks it to."""

import json
import os
import shutil
import subprocess
import tempfile
import time

import vrdmatest
from vrdmatest import Case
from vrdmalib import guestimage
from vrdmalib.guestagent import GuestAgent
from vrdmalib.util import VrdmaError

IMAGE = guestimage.DEFAULT_IMAGE
NAME, IP = "gimg1", "198.18.9.1/16"


def console_text(path):
    """The serial console so far ('' until QEMU has created the file)."""
    try:
        return vrdmatest.read(path)
    except FileNotFoundError:
        return ""


class GuestImage(Case):
    @classmethod
    def setUpClass(cls):
        # Built once, cached; a no-op when up to date. Its progress passes
        # through: a cold build takes a while.
        subprocess.run([vrdmatest.VRDMA, "guest", "image"], check=True,
                       timeout=1800)
        with open(os.path.join(IMAGE, "manifest.json"),
                  encoding="utf-8") as f:
            cls.manifest = json.load(f)

    def test_manifest_and_up_to_date(self):
        m = self.manifest
        for pkg in guestimage.GUEST_PACKAGES:
            self.assertRegex(m["packages"].get(pkg, ""), r"^\d",
                             f"{pkg} with its exact version")
        for name in ("vmlinuz", "initrd.img", "manifest.json", "id_dropbear",
                     "id_dropbear.pub", "host_key.pub"):
            self.assertIn(name, m["files"])
        for name in m["files"]:
            self.assertTrue(os.path.getsize(os.path.join(IMAGE, name)) > 0,
                            name)
        self.assertTrue(m["kernel"].endswith("-cloud-amd64"), m["kernel"])
        self.assertIn("virtio_net", m["modules"])
        before = {n: os.stat(os.path.join(IMAGE, n)).st_mtime_ns
                  for n in m["files"]}
        start = time.monotonic()
        again = self.vrdma("guest", "image")
        took = time.monotonic() - start
        self.assertIn("up to date", again.stderr)
        self.assertEqual(again.stdout.splitlines()[0], IMAGE)
        self.assertIn(m["kernel"], again.stdout)
        after = {n: os.stat(os.path.join(IMAGE, n)).st_mtime_ns
                 for n in m["files"]}
        self.assertEqual(before, after, "an up-to-date image is not touched")
        self.assertLess(took, 5, "the up-to-date check is quick")

    def boot(self, scratch):
        """One guest under TCG; returns (qemu, console log, agent socket)."""
        console = os.path.join(scratch, "console.log")
        sock = os.path.join(scratch, "qga.sock")
        argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", "512",
                "-nodefaults", "-display", "none", "-no-reboot",
                "-kernel", os.path.join(IMAGE, "vmlinuz"),
                "-initrd", os.path.join(IMAGE, "initrd.img"),
                "-append", f"console=ttyS0 panic=-1 vrdma.name={NAME} "
                f"vrdma.ip={IP}",
                "-serial", f"file:{console}",
                # A NIC on a hub of its own: the guest configures it.
                "-netdev", "hubport,id=n0,hubid=0",
                # QEMU 7.2 under TCG: no MSI-X for virtio-net (see domxml).
                "-device", "virtio-net-pci,netdev=n0,vectors=0",
                # Entropy at once: without it, under TCG the kernel's
                # random pool takes seconds more to initialise.
                "-device", "virtio-rng-pci",
                "-device", "virtio-serial",
                "-chardev", f"socket,path={sock},server=on,wait=off,id=qga0",
                "-device", "virtserialport,chardev=qga0,"
                "name=org.qemu.guest_agent.0"]
        with open(os.path.join(scratch, "qemu.log"), "w") as log:
            qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop, qemu, console)
        return qemu, console, sock

    def stop(self, qemu, console):
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait(timeout=30)
        if not self._outcome_ok():
            tail = console_text(console).splitlines()[-30:]
            print(f"--- {console} (tail) ---", *tail, sep="\n")

    def test_boot_exec_poweroff(self):
        scratch = tempfile.mkdtemp(prefix="vrdma-gimg-")
        self.addCleanup(shutil.rmtree, scratch, ignore_errors=True)
        start = time.monotonic()
        qemu, console, sock = self.boot(scratch)
        ready = f"vrdma-guest ready {NAME} {IP.split('/')[0]}"
        deadline = start + 120
        while ready not in console_text(console):
            self.assertIsNone(qemu.poll(), "QEMU exited during boot")
            self.assertLess(time.monotonic(), deadline,
                            "no ready line in 120 s")
            time.sleep(0.1)
        print(f"ready after {time.monotonic() - start:.1f} s under TCG")
        lines = [ln for ln in console_text(console).splitlines()
                 if "vrdma-guest ready" in ln]
        self.assertEqual(lines, [ready], "exactly one ready line")

        with GuestAgent(sock).connect(60) as agent:
            code, out, err = agent.exec(["uname", "-r"], 30)
            self.assertEqual((code, out.strip(), err),
                             (0, self.manifest["kernel"], ""))
            code, out, err = agent.exec(
                ["sh", "-c", "echo to-out; echo to-err >&2; exit 3"], 30)
            self.assertEqual((code, out, err), (3, "to-out\n", "to-err\n"))
            self.assertEqual(agent.exec(["false"], 30)[0], 1)
            with self.assertRaises(VrdmaError):
                agent.exec(["/no/such/program"], 30)
            code, out, _ = agent.exec(["ip", "-o", "addr", "show", "eth0"],
                                      30)
            self.assertEqual(code, 0)
            self.assertIn(f"inet {IP}", out)
            code, out, _ = agent.exec(["hostname"], 30)
            self.assertEqual(out.strip(), NAME)
            code, out, err = agent.exec(["mpirun", "--version"], 60)
            self.assertEqual(code, 0, err)
            self.assertIn("OpenRTE", out)
            code, out, err = agent.exec(["NPtcp", "-h"], 30)
            self.assertIn("NETPIPE USAGE", out)
            agent.shutdown()
        self.assertEqual(qemu.wait(timeout=60), 0,
                         "QEMU exits when the guest powers off")
        self.assertIn("reboot: Power down", console_text(console))


if __name__ == "__main__":
    vrdmatest.main()
