# SPDX-License-Identifier: BSD-3-Clause
"""Other machines reached by ssh: run a command there (bounded in time on
both ends), write a file there, run that machine's own vrdma. Nothing here
is specific to one use; `vrdma bench --hosts` (bench/remote.py) builds its
hosts on it, and guest.py's RemoteGuest runs a guest's commands through it."""

import os
import shlex
import subprocess

from .util import VrdmaError

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LOCAL_VRDMA = os.path.join(TOP, "tools", "vrdma")


class Host:
    """A machine reached by ssh (the command line ssh, then the
    destination address), and how to run things there, its own vrdma
    among them."""

    def __init__(self, name, address, ssh, vrdma=""):
        self.name = name
        self.address = address
        self.ssh = list(ssh)
        self.vrdma = vrdma or LOCAL_VRDMA

    def argv(self, argv, limit=None):
        """The local command that runs argv on the host (within limit
        seconds there, when given: a dropped ssh leaves nothing behind)."""
        if limit:
            argv = ["timeout", "-k", "5", str(int(limit)), *argv]
        return [*self.ssh, self.address, shlex.join(argv)]

    def run(self, argv, timeout=120, check=True):
        """(exit status, stdout, stderr) of argv on the host."""
        try:
            proc = subprocess.run(self.argv(argv, timeout), text=True,
                                  capture_output=True, timeout=timeout + 15,
                                  stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise VrdmaError(f"{self.name}: {shlex.join(argv)} did not "
                             f"finish in {timeout}s",
                             f"check the host: {shlex.join(self.ssh)} "
                             f"{self.address}") from None
        if check and proc.returncode != 0:
            text = (proc.stderr.strip() or proc.stdout.strip())
            raise VrdmaError(f"{self.name}: {shlex.join(argv[:4])}... "
                             f"failed (exit {proc.returncode}): "
                             f"{text.splitlines()[-1] if text else ''}",
                             "see the message; on ssh errors check "
                             f"`{shlex.join(self.ssh)} {self.address} true`")
        return proc.returncode, proc.stdout, proc.stderr

    def dev_of(self, ip):
        """The host's interface with address ip."""
        code, out, _ = self.run(["ip", "-o", "-4", "addr", "show", "to",
                                 ip], 60, check=False)
        fields = out.split()
        if code != 0 or len(fields) < 2:
            raise VrdmaError(f"{self.name}: no interface has the address "
                             f"{ip}", "check the hosts file's addresses")
        return fields[1]

    def vrdma_run(self, argv, timeout=300, check=True):
        return self.run([self.vrdma, *argv], timeout, check)

    def write(self, path, text, mode="644"):
        """A file on the host."""
        argv = self.argv(["sh", "-c", f"cat > {shlex.quote(path)} && "
                          f"chmod {mode} {shlex.quote(path)}"], 60)
        proc = subprocess.run(argv, input=text, text=True,
                              capture_output=True, timeout=75, check=False)
        if proc.returncode != 0:
            raise VrdmaError(f"{self.name}: cannot write {path}: "
                             f"{proc.stderr.strip()}")


# Files that name hosts (`vrdma bench --hosts`, `vrdma cluster`'s
# inventory) describe their keys as {key: (default, help)}: the default's
# type is the key's, and the documented example is written from it.
KINDS = {list: "a list", int: "a number", str: "a string"}


def toml_value(value):
    """value as it is written in TOML."""
    # Imported here: `vrdma setup` installs it, and the tool must start
    # without it (tests/tool/test_cli.py).
    import tomli_w  # pylint: disable=import-outside-toplevel
    return tomli_w.dumps({"v": value})[len("v = "):].strip()


def example_keys(known, given):
    """The lines of a documented example: each key's help, then the key
    with its value in given, else its default."""
    out = []
    for key, (default, text) in known.items():
        out.append(f"# {text}")
        out.append(f"{key} = {toml_value(given.get(key, default))}")
    return out


def check_keys(table, known, where):
    """Every key of table is known and of its default's type."""
    for key in table:
        if key not in known:
            raise VrdmaError(f"{where}: unknown key {key!r}",
                             "known: " + ", ".join(known))
    for key, value in table.items():
        want = type(known[key][0])
        if not isinstance(value, want) or isinstance(value, bool):
            raise VrdmaError(f"{where}: {key} must be {KINDS[want]}",
                             f"e.g. {key} = {toml_value(known[key][0])}")


def ompi_tmpdir(place):
    """Open MPI's TMPDIR in a place (a guest's namespace, a host): places
    on one machine share /tmp and the host name, and Open MPI's daemons'
    session directories would collide (tools/vrdma-ns-rsh)."""
    return f"/tmp/vrdma-ompi-{place}"


def rsh_case(key, netns, via=None, place=None):
    """One case of an Open MPI remote shell script (plm_rsh_agent): the
    place Open MPI names key runs the command in netns (None: the host
    itself) with its own TMPDIR, ompi_tmpdir(place or key). via: the argv
    that reaches it on another
    machine (ssh ..., srun ... sh -c), which takes the command as one
    word and runs from the host's own network namespace, named by
    $VRDMA_HOST_NETNS (the agent may run inside a guest's)."""
    tmp = shlex.quote(ompi_tmpdir(place or key))
    inner = (f"mkdir -p {tmp} && " +
             (f"ip netns exec {netns} " if netns else "") +
             f"env TMPDIR={tmp} ")
    if via is None:
        return f'{key}) {inner}sh -c "$*" ;;'
    return (f"{key}) q=$(printf '%s' \"$*\" | sed \"s/'/'\\\\\\\\''/g\")"
            f"\n    exec nsenter --net=\"$VRDMA_HOST_NETNS\" "
            f"{shlex.join(via)} \"{inner}sh -c '$q'\" ;;")
