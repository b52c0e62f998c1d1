# SPDX-License-Identifier: BSD-3-Clause
"""--record FILE: a benchmark's table written into a markdown document
(docs/benchmarks.md) by the run that measured it, stamped with when, which
commit, which machine and which transports, and what of it was emulated.
The document marks the place of each table:

  <!-- vrdma-bench:NAME begin -->
  ...replaced by each run...
  <!-- vrdma-bench:NAME end -->

NAME is table1 (`vrdma bench`), fabric (`vrdma bench fabric`), ns
(`vrdma bench ns`), roce (`vrdma bench roce`) or cluster (`vrdma bench
cluster`). A document without both markers is an error, found
before anything is measured (check) and again before writing (write).
Standard library only; imports nothing of the project."""

import contextlib
import io
import os
import platform
import shlex
import socket
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ("table1", "fabric", "ns", "roce", "cluster")


class RecordError(Exception):
    """The document cannot take the table; the message says why and what
    to add."""


def markers(name):
    return (f"<!-- vrdma-bench:{name} begin -->",
            f"<!-- vrdma-bench:{name} end -->")


def add_argument(parser, name):
    parser.add_argument("--record", metavar="FILE",
                        help="also write the table into FILE (markdown, "
                        "e.g. docs/benchmarks.md) between the lines "
                        f"'{markers(name)[0]}' and '{markers(name)[1]}', "
                        "stamped with date, commit, machine and "
                        "transports")


def replace(text, name, block):
    """text with what is between NAME's markers replaced by block."""
    begin, end = markers(name)
    if text.count(begin) != 1 or text.count(end) != 1:
        found = "missing" if begin not in text or end not in text \
            else "there more than once"
        raise RecordError(f"the markers of {name} are {found}: need one "
                          f"line '{begin}' and, after it, one line "
                          f"'{end}'")
    head, rest = text.split(begin, 1)
    old, tail = rest.split(end, 1)
    if "\n" not in old and old.strip():
        raise RecordError(f"{begin} and {end} must be on lines of their "
                          "own")
    return f"{head}{begin}\n{block.rstrip()}\n{end}{tail}"


def check(path, name):
    """Before a run: path, if given, can take NAME's table (raises
    SystemExit with one line naming the problem and the fix)."""
    if path is None:
        return
    try:
        with open(path, encoding="utf-8") as f:
            replace(f.read(), name, "")
    except OSError as exc:
        raise SystemExit(f"vrdma bench: --record {path}: {exc.strerror}; "
                         "give an existing markdown document") from None
    except RecordError as exc:
        raise SystemExit(f"vrdma bench: --record {path}: {exc}") from None


def write(path, name, table, stamp_lines):
    """NAME's block in path: the stamp, then the table as printed."""
    if path is None:
        return
    check(path, name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    block = "\n".join([*stamp_lines, "", "```", table.rstrip("\n"), "```"])
    new = replace(text, name, block)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, path)
    print(f"# recorded into {path} ({name})", file=sys.stderr, flush=True)


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit(top=TOP):
    """The checked-out commit, '+ local changes' when the tree differs
    from it; 'unknown' outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", "-C", top, *args], capture_output=True,
                              text=True, timeout=30, check=False)
    try:
        head = git("rev-parse", "--short=12", "HEAD")
        if head.returncode != 0:
            return "unknown (not a git checkout)"
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (no git)"
    return head.stdout.strip() + (" + local changes" if dirty.stdout.strip()
                                  else "")


def stamp(transports, emulated, when=None):
    """The lines above a recorded table (markdown)."""
    when = when or time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return [f"- date: {when}",
            f"- commit: {git_commit()}",
            f"- machine: {socket.gethostname()}, {cpu_model()}, "
            f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} "
            f"usable), kernel {platform.release()}",
            f"- transports: {transports}",
            f"- emulated: {emulated}" if emulated else
            "- emulated: nothing (real hosts)",
            f"- command: `{command_line()}`"]


def command_line():
    """This run's command as the operator typed it."""
    argv = sys.argv
    if argv and argv[0].endswith(os.path.join("vrdmalib", "__main__.py")):
        argv = ["vrdma", *argv[1:]]
    return shlex.join(argv)


class Tee(io.TextIOBase):
    """Writes to a stream and keeps a copy."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.copy = io.StringIO()

    def write(self, text):
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()

    @property
    def text(self):
        return self.copy.getvalue()


class Capture(contextlib.AbstractContextManager):
    """What a run prints on stdout, still printed, and kept (as .text)."""

    def __enter__(self):
        self.tee = Tee(sys.stdout)
        self.redirect = contextlib.redirect_stdout(self.tee)
        self.redirect.__enter__()
        return self

    def __exit__(self, *exc):
        self.redirect.__exit__(*exc)
        return False

    @property
    def text(self):
        return self.tee.text
