#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The docs check: README.md and docs/ say only what the repository backs.
Every `tools/vrdma ...` command they show exists (its --help succeeds and
names the same command), every relative link resolves, the README stays
under 10 KiB, and nothing points outside the repository. No root."""

import glob
import os
import re
import subprocess
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
VRDMA = os.path.join(TOP, "tools", "vrdma")
README_MAX = 10240

# A command as the docs show it: "tools/vrdma" (not tools/vrdmalib/ or
# tools/vrdma-ns-rsh) and the rest of the line up to shell punctuation.
COMMAND = re.compile(r"(?<![\w/.-])tools/vrdma(?![\w/.-])([^`\"'|;&<>#)\n]*)")
# Words that can name a subcommand; the first other token (an option, a
# placeholder such as GUEST or $NAME, a path) ends the command words.
WORD = re.compile(r"^[a-z][a-z0-9-]*$")
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def doc_files():
    return [os.path.join(TOP, "README.md")] + \
        sorted(glob.glob(os.path.join(TOP, "docs", "*.md")))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rel(path):
    return os.path.relpath(path, TOP)


def shown_commands():
    """{tuple of command words: [where, ...]} over README and docs."""
    found = {}
    for path in doc_files():
        for lineno, line in enumerate(read(path).splitlines(), 1):
            for m in COMMAND.finditer(line):
                words = []
                for token in m.group(1).split():
                    if not WORD.match(token):
                        break
                    words.append(token)
                found.setdefault(tuple(words), []).append(
                    f"{rel(path)}:{lineno}")
    return found


class Help:
    """`tools/vrdma PATH --help`, run once per path."""
    cache = {}

    def __init__(self, path):
        proc = subprocess.run([VRDMA, *path, "--help"], capture_output=True,
                              text=True, timeout=60, check=False)
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr.strip().splitlines()[-1:] or [""]

    @classmethod
    def of(cls, path):
        if path not in cls.cache:
            cls.cache[path] = cls(path)
        return cls.cache[path]

    def usage(self):
        """The usage text after 'usage: ', wrapped lines joined."""
        text = self.out.split("\n\n", 1)[0]
        if not text.startswith("usage: "):
            return ""
        return " ".join(text[len("usage: "):].split())

    def subcommand_names(self):
        """Names listed under a subparser: argparse indents them by four,
        in 'positional arguments:' or in a group of their own."""
        names = set()
        for line in self.out.splitlines():
            m = re.match(r"^    (\S+)", line)
            if m:
                names.add(m.group(1))
        return names


def positionals(usage):
    """Positional arguments of an argparse usage line, in order: a list of
    (kind, choices) with kind 'command' (a subparser: 'X ...'), 'rest'
    (a bare '...': anything) or 'arg'; choices from '{a,b}' or None.
    Option groups ('[-x X]', '(--a | --b)') are dropped; an optional
    positional ('[{a,b}]') counts like a required one."""
    prev = None
    while prev != usage:
        prev = usage

        def inner(m):
            content = m.group(2).strip()
            return " " if content.startswith("-") else f" {content} "
        usage = re.sub(r"(\[|\()([^\[\]()]*)(\]|\))", inner, usage)
    tokens = usage.split()
    out = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        choices = set(tok[1:-1].split(",")) if tok.startswith("{") and \
            tok.endswith("}") else None
        if tok == "...":
            out.append(("rest", None))
        elif i + 1 < len(tokens) and tokens[i + 1] == "...":
            out.append(("command", choices))
            i += 1
        else:
            out.append(("arg", choices))
        i += 1
    return out


def check_command(words):
    """None if `tools/vrdma WORDS` names an existing command, else why not."""
    path = ()
    i = 0
    while True:
        shown = " ".join(("tools/vrdma",) + path)
        h = Help.of(path)
        if h.code != 0:
            return f"`{shown} --help` exits {h.code}: {h.err[0]}"
        usage = h.usage()
        head = " ".join(("vrdma",) + path)
        if usage != head and not usage.startswith(head + " "):
            return f"`{shown} --help` prints no usage of `{head}`"
        if i == len(words):
            return None
        args = positionals(usage[len(head):])
        if not args:
            return f"`{shown}` takes no argument {words[i]!r}"
        kind, choices = args[0]
        if kind == "command" and not (choices or h.subcommand_names()):
            # 'X ...' is also an argument followed by a remainder
            # (argparse.REMAINDER prints a bare '...').
            args = [("arg", None), ("rest", None)]
            kind = "arg"
        if kind == "command":
            names = choices or h.subcommand_names()
            if words[i] not in names:
                return (f"`{shown}` has no subcommand {words[i]!r} "
                        f"(has: {', '.join(sorted(names))})")
            path += (words[i],)
            i += 1
            continue
        for (kind, choices), word in zip(args, words[i:]):
            if kind == "rest":
                break
            if choices and word not in choices:
                return (f"`{shown}`: {word!r} is not one of "
                        f"{', '.join(sorted(choices))}")
        return None


def relative_links(text):
    text = FENCE.sub("", text)
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text) + REF_LINK.findall(text)


def anchors(text):
    """GitHub's heading ids of a markdown file."""
    out = set()
    for m in re.finditer(r"^#{1,6}\s+(.*?)\s*#*\s*$", FENCE.sub("", text),
                         re.M):
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
        out.add(slug.replace(" ", "-"))
    return out


class Docs(unittest.TestCase):
    def test_docs_exist(self):
        self.assertTrue(os.path.exists(os.path.join(TOP, "README.md")))
        self.assertTrue(os.path.exists(os.path.join(TOP, "LICENSE")))
        self.assertGreater(len(doc_files()), 1, "no docs/*.md")

    def test_readme_size(self):
        size = os.path.getsize(os.path.join(TOP, "README.md"))
        self.assertLess(size, README_MAX,
                        f"README.md is {size} bytes; keep it under "
                        f"{README_MAX}: move detail into docs/")

    def test_no_reference_outside_repository(self):
        paths = [os.path.join(TOP, "README.md")] + sorted(
            p for p in glob.glob(os.path.join(TOP, "docs", "**"),
                                 recursive=True) if os.path.isfile(p))
        for path in paths:
            with self.subTest(path=rel(path)):
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        # Any path that climbs out of the clone names
                        # something a user who cloned it does not have.
                        for up in re.findall(r"(?:\.\./)+[\w.-]+", line):
                            where = os.path.normpath(os.path.join(
                                os.path.dirname(path), up))
                            self.assertTrue(
                                where.startswith(TOP + os.sep) and
                                os.path.exists(where),
                                f"{rel(path)}:{lineno}: {up} is not in "
                                "the repository")

    def test_relative_links_resolve(self):
        for path in doc_files():
            for target in relative_links(read(path)):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # http:, https:, mailto:
                with self.subTest(link=target, file=rel(path)):
                    name, _, anchor = target.partition("#")
                    dest = os.path.normpath(os.path.join(
                        os.path.dirname(path), name)) if name else path
                    self.assertTrue(
                        dest.startswith(TOP + os.sep) or dest == TOP,
                        f"{rel(path)}: {target} leaves the repository")
                    self.assertTrue(os.path.exists(dest),
                                    f"{rel(path)}: {target}: no such file")
                    if anchor and dest.endswith(".md"):
                        self.assertIn(anchor, anchors(read(dest)),
                                      f"{rel(path)}: {target}: no such "
                                      "heading")

    def test_shown_commands_exist(self):
        commands = shown_commands()
        self.assertTrue(commands, "no tools/vrdma command in the docs")
        for words, where in sorted(commands.items()):
            with self.subTest(command=" ".join(("tools/vrdma",) + words)):
                problem = check_command(words)
                self.assertIsNone(problem, f"{problem} (shown at "
                                  f"{', '.join(where[:3])})")


class Parser(unittest.TestCase):
    """The usage parsing the command check relies on."""

    def test_positionals(self):
        self.assertEqual(positionals(" [-h] [-q] ACTION ..."),
                         [("command", None)])
        self.assertEqual(positionals(
            " [-h] [--mode {client,server}] [--x [X ...]] {add,del} guest"),
            [("arg", {"add", "del"}), ("arg", None)])
        self.assertEqual(positionals(" [-h] [--node NAME] ..."),
                         [("rest", None)])
        self.assertEqual(positionals(" [-h] [{fabric,ns}]"),
                         [("arg", {"fabric", "ns"})])
        self.assertEqual(positionals(" [-h] {fabric,ns} ..."),
                         [("command", {"fabric", "ns"})])
        self.assertEqual(positionals(" [-h] [-q] [--quick]"), [])

    def test_command_words(self):
        m = COMMAND.search('eval "$(tools/vrdma env --node cn1)"')
        self.assertEqual(m.group(1).split()[0], "env")
        self.assertIsNone(COMMAND.search("tools/vrdmalib/setup.py"))
        self.assertIsNone(COMMAND.search("tools/vrdma-ns-rsh"))

    def test_unknown_commands_are_caught(self):
        self.assertIsNone(check_command(("node", "up")))
        self.assertIsNone(check_command(("port", "add", "vm1")))
        self.assertIsNotNone(check_command(("frobnicate",)))
        self.assertIsNotNone(check_command(("node", "sideways")))
        # argparse prints help for `setup extra --help` and exits 0;
        # the check must still see that setup takes no such word.
        self.assertIsNotNone(check_command(("setup", "extra")))


if __name__ == "__main__":
    unittest.main()
