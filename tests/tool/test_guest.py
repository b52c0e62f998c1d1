#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The one guest interface (vrdmalib/guest.py) without root: every kind
is a Guest with name, ip, kind and netns; a RemoteGuest runs through its
host's ssh command line (here a local stand-in for ssh), reports a
timeout as status None; and no caller attaches attributes to a guest."""

import ast
import os
import unittest

from vrdmalib import guest
from vrdmalib.remote import Host

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# Stands in for "ssh ADDRESS COMMAND": runs COMMAND here with sh.
FAKE_SSH = ["sh", "-c", 'exec sh -c "$2"', "fake-ssh"]


class Interface(unittest.TestCase):
    def test_every_kind_is_a_guest(self):
        for cls in (guest.NsGuest, guest.VmGuest, guest.RemoteGuest):
            self.assertTrue(issubclass(cls, guest.Guest))
            for method in ("spawn", "reap", "run"):
                self.assertTrue(callable(getattr(cls, method)))
            self.assertIsNot(cls.spawn, guest.Guest.spawn, cls)
            self.assertIsNot(cls.reap, guest.Guest.reap, cls)

    def test_ns_guest(self):
        g = guest.NsGuest("vrdma-ns-x", "/tmp/w", "g1", "198.18.0.5")
        self.assertEqual((g.name, g.ip, g.kind, g.netns),
                         ("g1", "198.18.0.5", "ns", "vrdma-ns-x"))
        self.assertEqual(guest.NsGuest("nsy", "/tmp/w").name, "nsy")

    def test_remote_guest_runs_through_its_host(self):
        host = Host("h1", "root@h1", FAKE_SSH, "/opt/vrdma")
        g = guest.RemoteGuest(host, ["env", "WHERE=guest"], "g1", "ns",
                              "10.0.0.1", "ns-g1")
        self.assertEqual((g.name, g.ip, g.kind, g.netns),
                         ("g1", "10.0.0.1", "ns", "ns-g1"))
        code, out, err = g.run(["sh", "-c", 'echo "$WHERE"; echo e >&2'],
                               30)
        self.assertEqual((code, out, err), (0, "guest\n", "e\n"))
        code, _, _ = g.run(["sh", "-c", "exit 3"], 30)
        self.assertEqual(code, 3)
        code, _, _ = g.run(["sleep", "2"], 0.5)
        self.assertIsNone(code, "a command past its timeout: status None")

    def test_host_as_guest(self):
        host = Host("h1", "root@h1", FAKE_SSH)
        g = guest.RemoteGuest(host, [], "h1", "host", "198.18.0.1")
        self.assertIsNone(g.netns)
        self.assertEqual(g.run(["echo", "hi"], 30)[:2], (0, "hi\n"))


def sets_runner_field(target, fields):
    """target (of an assignment) is RUNNER.FIELD, RUNNER a name or an
    attribute called runner."""
    if not isinstance(target, ast.Attribute) or target.attr not in fields:
        return False
    owner = target.value
    return (isinstance(owner, ast.Name) and owner.id == "runner") or \
        (isinstance(owner, ast.Attribute) and owner.attr == "runner")


class Callers(unittest.TestCase):
    def test_no_attributes_attached_from_outside(self):
        """Outside guest.py, nobody sets a guest's attributes (the old
        runner.kind = ... / runner.netns = ...)."""
        fields = {"kind", "netns", "ip", "name", "prefix", "host"}
        mine = os.path.join(TOP, "tools", "vrdmalib", "guest.py")
        for d in ("bench", "tools"):
            for root, _, files in os.walk(os.path.join(TOP, d)):
                for name in files:
                    path = os.path.join(root, name)
                    if not name.endswith(".py") or path == mine:
                        continue
                    with open(path, encoding="utf-8") as f:
                        tree = ast.parse(f.read(), path)
                    for node in ast.walk(tree):
                        if not isinstance(node, ast.Assign):
                            continue
                        for t in node.targets:
                            for el in (t.elts if isinstance(t, ast.Tuple)
                                       else [t]):
                                self.assertFalse(
                                    sets_runner_field(el, fields),
                                    f"{path}:{node.lineno}: sets a guest's "
                                    f"{getattr(el, 'attr', '')}")

    def test_the_check_finds_the_old_pattern(self):
        tree = ast.parse("runner.kind, runner.netns = 'ns', n\n"
                         "ep.runner.ip = 1\n")
        found = [el for node in ast.walk(tree)
                 if isinstance(node, ast.Assign) for t in node.targets
                 for el in (t.elts if isinstance(t, ast.Tuple) else [t])
                 if sets_runner_field(el, {"kind", "netns", "ip"})]
        self.assertEqual(len(found), 3)


if __name__ == "__main__":
    unittest.main()
