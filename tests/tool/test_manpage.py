#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""vrdma(8): docs/vrdma.8 is what `vrdma manpage` prints now (so it cannot
go stale), names every command and subcommand, and renders without a
groff warning at man's usual width."""

import os
import shutil
import subprocess
import unittest

from vrdmalib import manpage
from vrdmalib.__main__ import build_parser

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
VRDMA = os.path.join(TOP, "tools", "vrdma")
PAGE = os.path.join(TOP, "docs", "vrdma.8")


class Manpage(unittest.TestCase):
    def test_committed_page_is_current(self):
        out = subprocess.run([VRDMA, "manpage"], capture_output=True,
                             text=True, timeout=60, check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(PAGE, encoding="utf-8") as f:
            self.assertEqual(f.read(), out.stdout,
                             "docs/vrdma.8 is stale: run tools/vrdma "
                             "manpage --out docs/vrdma.8")

    def test_every_command_has_a_section(self):
        text = manpage.render(build_parser())
        for words, _, depth in manpage.walk(["vrdma"], build_parser()):
            if depth:
                self.assertIn(f'.SS "{manpage.escape(" ".join(words))}"',
                              text)
        for words in (["vrdma", "bench", "fabric"], ["vrdma", "bench", "ns"],
                      ["vrdma", "manpage"], ["vrdma", "vm", "define"]):
            self.assertIn(manpage.escape(" ".join(words)), text)

    def test_same_page_whatever_the_terminal(self):
        env = dict(os.environ, COLUMNS="40")
        out = subprocess.run([VRDMA, "manpage"], capture_output=True,
                             text=True, timeout=60, check=False, env=env)
        self.assertEqual(out.stdout, manpage.render(build_parser()))

    def test_escape(self):
        self.assertEqual(manpage.escape(".start"), "\\&.start")
        self.assertEqual(manpage.escape("a-b\\c"), "a\\-b\\ec")
        self.assertEqual(manpage.escape("x\n'y"), "x\n\\&'y")

    def test_renders_without_warnings(self):
        if not shutil.which("groff"):
            self.fail("groff missing: tools/vrdma setup installs groff-base")
        for width in ([], ["-rLL=80n"], ["-rLL=65n"]):
            out = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                                  *width, PAGE], capture_output=True,
                                 text=True, timeout=60, check=False)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stderr, "", f"groff {width}: warnings")
        if shutil.which("man"):
            env = dict(os.environ, MANPAGER="cat", MANWIDTH="80",
                       LC_ALL="C.UTF-8")
            out = subprocess.run(["man", "-l", PAGE], capture_output=True,
                                 text=True, timeout=60, check=False, env=env)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stderr, "", "man -l: warnings")
            self.assertIn("vrdma bench fabric", out.stdout)


if __name__ == "__main__":
    unittest.main()
