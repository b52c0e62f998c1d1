#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The guest image's package resolution (guestimage.py) without root, apt
or a build: `apt-cache depends --recurse` and `apt-cache policy` output
as apt prints it, alternatives and virtual packages, exclusions pruning
whole subtrees, a kernel image's packaging dependencies left out, and an
input hash that follows every version."""

import os
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

from vrdmalib import guestimage

DEPENDS = """\
openmpi-bin
  Depends: libc6
  Depends: libopenmpi3
 |Depends: openssh-client
  Depends: <ssh-client>
    openssh-client
    dropbear-bin
libopenmpi3
  Depends: libc6
  Depends: libhwloc-plugins
openssh-client
  Depends: adduser
  Depends: libfido2-1
libpam0g
 |Depends: debconf
  Depends: <debconf-2.0>
    cdebconf
    debconf
libfile-find-rule-perl
  Depends: <perl:any>
    perl
  Depends: <nothing-provides-this>
linux-image-cloud-amd64
  Depends: linux-image-6.1.0-9-cloud-amd64
linux-image-6.1.0-9-cloud-amd64
  Depends: kmod
  Depends: linux-base
 |Depends: initramfs-tools
  Depends: <linux-initramfs-tool>
    initramfs-tools
    dracut
libc6
  Depends: libgcc-s1
libhwloc-plugins
  Depends: libxml2
"""

POLICY = """\
libc6:
  Installed: 2.36-9+deb12u4
  Candidate: 2.36-9+deb12u7
  Version table:
     2.36-9+deb12u7 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
busybox-static:
  Installed: (none)
  Candidate: 1:1.35.0-4+b3
gone:
  Installed: (none)
  Candidate: (none)
"""


class Resolve(unittest.TestCase):
    def setUp(self):
        self.graph = guestimage.parse_depends(DEPENDS)

    def test_parse_groups_alternatives_and_providers(self):
        self.assertEqual(self.graph["openmpi-bin"], [
            [["libc6"]], [["libopenmpi3"]],
            [["openssh-client"], ["openssh-client", "dropbear-bin"]]])
        self.assertEqual(self.graph["libpam0g"],
                         [[["debconf"], ["cdebconf", "debconf"]]])
        self.assertEqual(self.graph["libfile-find-rule-perl"],
                         [[["perl"]], [[]]])

    def test_closure_prunes_excluded_subtrees(self):
        got = guestimage.closure(self.graph, ["openmpi-bin"])
        # openssh-client is excluded, so the ssh-client group is met and
        # neither its dependencies nor hwloc's plugins' come along.
        self.assertEqual(got, {"openmpi-bin", "libc6", "libopenmpi3",
                               "libgcc-s1"})
        got = guestimage.closure(self.graph, ["openmpi-bin"], frozenset())
        self.assertIn("libfido2-1", got)
        self.assertIn("libxml2", got)

    def test_first_alternative_and_virtual_providers(self):
        self.assertEqual(guestimage.closure(self.graph, ["libpam0g"],
                                            frozenset()),
                         {"libpam0g", "debconf"})
        self.assertEqual(guestimage.closure(self.graph,
                                            ["libfile-find-rule-perl"]),
                         {"libfile-find-rule-perl", "perl"})

    def test_kernel_packaging_dependencies_are_left_out(self):
        self.assertEqual(guestimage.closure(self.graph,
                                            ["linux-image-cloud-amd64"]),
                         {"linux-image-cloud-amd64",
                          "linux-image-6.1.0-9-cloud-amd64"})

    def test_policy(self):
        self.assertEqual(guestimage.parse_policy(POLICY),
                         {"libc6": "2.36-9+deb12u7",
                          "busybox-static": "1:1.35.0-4+b3", "gone": None})

    def test_input_hash_follows_every_version(self):
        a = guestimage.input_hash({"libc6": "1", "busybox-static": "2"})
        self.assertEqual(a, guestimage.input_hash(
            {"busybox-static": "2", "libc6": "1"}))
        self.assertNotEqual(a, guestimage.input_hash(
            {"libc6": "1", "busybox-static": "3"}))


if __name__ == "__main__":
    unittest.main(verbosity=2)
