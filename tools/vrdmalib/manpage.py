# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma manpage`: the vrdma(8) manual page, in roff (the man macros),
made from the command line parser itself (__main__.build_parser): every
command and subcommand with its description, synopsis and options, in the
parser's order, so the page says what the code accepts. docs/vrdma.8 is
its output, committed; tests/tool/test_manpage.py fails when the two
differ, and when groff warns while rendering it.

The page depends on nothing but the parser: no date, no terminal width, no
path of the checkout (help texts that name a default path give it as
text)."""

import argparse
import os
import re

from .config import DEFAULT_CONFIG_DIR, DEFAULT_STATE_DIR
from .guestimage import DEFAULT_IMAGE

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SECTION = "8"
# What the man page says beyond the parser's help.
FILES = (
    (f"{DEFAULT_CONFIG_DIR}/NAME.toml", "a node's config (vrdma config "
     "example prints a documented one)"),
    (f"{DEFAULT_STATE_DIR}/", "the nodes' state: run directories, "
     "databases, logs, sockets, pid files (VRDMA_STATE_DIR moves it)"),
    (f"{DEFAULT_IMAGE}/", "the VM guests' boot image (vrdma guest image)"),
)
SEE_ALSO = ("ovs-vsctl(8)", "ovs-appctl(8)", "ovs-vswitchd(8)", "virsh(1)",
            "ucx_perftest(1)", "dpdk-testpmd(1)", "NPtcp(1)")


def escape(text):
    """text safe in a roff line: backslashes, minus signs and a leading
    control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def bold(text):
    return f"\\fB{escape(text)}\\fR"


def italic(text):
    return f"\\fI{escape(text)}\\fR"


def subparsers_of(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def expand_help(action, prog):
    """The help text as argparse prints it (%(default)s and such filled)."""
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    params = dict(vars(action), prog=prog)
    params = {k: v for k, v in params.items() if v is not argparse.SUPPRESS}
    for key in ("choices",):
        if params.get(key) is not None:
            params[key] = ", ".join(map(str, params[key]))
    return action.help % params


def metavar(action):
    """The word(s) an option takes, as argparse names them."""
    if action.nargs == 0:
        return ""
    if action.metavar is not None:
        name = action.metavar
    elif action.choices is not None:
        name = "{" + ",".join(map(str, action.choices)) + "}"
    elif action.option_strings:
        name = action.dest.upper()
    else:
        name = action.dest
    if action.nargs == argparse.REMAINDER:
        return f"[{name} ...]"
    if action.nargs == "?":
        return f"[{name}]"
    if action.nargs in ("*", "+"):
        return f"{name} ..."
    return name


def options_and_positionals(parser):
    opts, pos = [], []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or \
                isinstance(action, (argparse._HelpAction,
                                    argparse._SubParsersAction)):
            continue
        (opts if action.option_strings else pos).append(action)
    return opts, pos


def synopsis(words, parser, common=()):
    """.SY/.YS-free synopsis (groff 1.22's an.tmac has no .SY): the
    command in bold, then each option and argument."""
    opts, pos = options_and_positionals(parser)
    parts = [bold(" ".join(words))]
    for action in opts:
        if set(action.option_strings) <= set(common):
            continue
        flag = bold(action.option_strings[-1] if
                    action.option_strings[-1].startswith("--") else
                    action.option_strings[0])
        arg = metavar(action)
        item = flag + (" " + italic(arg) if arg else "")
        parts.append(item if action.required else f"[{item}]")
    for action in pos:
        parts.append(italic(metavar(action)))
    sub = subparsers_of(parser)
    if sub is not None:
        word = italic(sub.metavar or "COMMAND")
        parts.append(word if sub.required else f"[{word}]")
    return [".PP", ".nf", ".in +4", *wrap_words(parts), ".in", ".fi"]


def wrap_words(parts, width=72):
    """Synopsis lines of at most width visible characters (no fill: .nf)."""
    lines, line, seen = [], "", 0
    for part in parts:
        size = len(re.sub(r"\\f[BIR]|\\(?=-)|\\e", "", part))
        if line and seen + 1 + size > width:
            lines.append(line)
            line, seen = "    " + part, 4 + size
        else:
            line, seen = (f"{line} {part}", seen + 1 + size) if line \
                else (part, size)
    return lines + ([line] if line else [])


def paragraphs(text, raw):
    """Roff for a description: blank lines separate paragraphs; in raw
    (RawDescriptionHelpFormatter) text, an indented block stays as laid
    out."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        lines = block.split("\n")
        if raw and any(ln.startswith(" ") for ln in lines):
            out += [".PP", ".nf", *(escape(ln.rstrip()) for ln in lines),
                    ".fi"]
        else:
            out += [".PP", escape(" ".join(ln.strip() for ln in lines))]
    return out


def option_items(parser, prog, common=()):
    """.TP items of parser's arguments, but for the common options (the
    top parser's, which every command takes)."""
    opts, pos = options_and_positionals(parser)
    out = []
    for action in pos + opts:
        if action.option_strings and \
                set(action.option_strings) <= set(common):
            continue
        arg = metavar(action)
        if action.option_strings:
            head = ", ".join(bold(o) + (" " + italic(arg) if arg else "")
                             for o in action.option_strings)
        else:
            head = italic(arg)
        out += [".TP", head, escape(expand_help(action, prog)) or
                "(no description)"]
    return out


def command(words, parser, depth, common=()):
    """The section of one command: synopsis, description, arguments (but
    the common options, documented once), and its subcommands' names."""
    raw = parser.formatter_class is argparse.RawDescriptionHelpFormatter
    out = [".SS " + '"' + escape(" ".join(words)) + '"' if depth else
           ".SH SYNOPSIS"]
    out += synopsis(words, parser, common)
    if depth and parser.description:
        out += paragraphs(parser.description, raw)
    items = option_items(parser, " ".join(words), common)
    if items:
        out += [".PP", "Options and arguments:" if depth else
                "Options of every command:"]
        out += [".RS", *items, ".RE"]
    sub = subparsers_of(parser)
    if sub is not None:
        helps = {a.dest: a.help for a in sub._choices_actions}
        out += [".PP", "Commands:" if not depth else "Subcommands:", ".RS"]
        for name in sub.choices:
            out += [".TP", bold(name), escape(helps.get(name) or "")]
        out += [".RE"]
    return out


def walk(words, parser, depth=0):
    """(words, parser, depth) of parser and every subcommand, depth
    first."""
    yield words, parser, depth
    sub = subparsers_of(parser)
    if sub is not None:
        for name, child in sub.choices.items():
            yield from walk([*words, name], child, depth + 1)


def project_version():
    """The version in meson.build's project()."""
    try:
        with open(os.path.join(TOP, "meson.build"), encoding="utf-8") as f:
            m = re.search(r"^\s*version:\s*'([^']+)'", f.read(), re.M)
    except OSError:
        m = None
    return m.group(1) if m else "unknown"


def render(parser, version=None):
    """The whole page (a str ending in a newline)."""
    name = parser.prog
    version = version or project_version()
    title = (parser.description or name).split(":", 1)[-1].strip()
    out = ['.\\" SPDX-License-Identifier: BSD-3-Clause',
           f'.\\" Generated by `{name} manpage` from its own --help; do '
           'not edit.',
           f'.TH {name.upper()} {SECTION} "" "{name} {version}" '
           '"System Manager\'s Manual"',
           ".SH NAME", f"{escape(name)} \\- {escape(title.rstrip('.'))}"]
    sections = list(walk([name], parser))
    out += command(*sections[0])
    out += [".SH DESCRIPTION"]
    out += paragraphs(parser.description or "", False)
    out += [".PP", "Every command has \\fB\\-\\-help\\fR; the options "
            "of the top level (above) go before or after the command's "
            "name."]
    common = [o for a in parser._actions if not isinstance(
        a, argparse._HelpAction) for o in a.option_strings]
    out += [".SH COMMANDS"]
    for words, sub, depth in sections[1:]:
        out += command(words, sub, depth, common)
    if parser.epilog:
        # "examples:" and its indented lines.
        head, _, body = parser.epilog.partition("\n")
        out += [".SH " + escape(head.rstrip(":").upper())]
        out += paragraphs(body, True)
    out += [".SH EXIT STATUS",
            "0 on success; 1 when a command fails, after one line on "
            "standard error that names the problem and the fix; 2 for a "
            "usage error; 130 when interrupted.",
            ".SH FILES"]
    for path, what in FILES:
        out += [".TP", italic(path), escape(what)]
    out += [".SH SEE ALSO", ",\n".join(
        bold(ref.split("(")[0]) + "(" + ref.split("(")[1]
        for ref in SEE_ALSO)]
    return "\n".join(out) + "\n"
