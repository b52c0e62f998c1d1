# SPDX-License-Identifier: BSD-3-Clause
"""Where a command runs for the demo, the benchmarks and the tests: one
interface for every kind of guest (and for a host used as an endpoint),
so that callers never ask what kind they hold, nor attach attributes to
find out.

A Guest has a name, an address (ip, None when unknown) and a kind ("ns",
"vm" or "host"), and runs commands: spawn(argv) starts one and returns a
handle, reap(handle, timeout) waits for it and returns (status, stdout,
stderr) with status None, and the command stopped, if it did not end in
time; run(argv, timeout) is both. netns names the network namespace the
guest's commands run in, when there is one (Open MPI's launch across
namespaces names its ranks by it).

  NsGuest      a network namespace on this machine (namespace guests of
               nsguest.py, kernel-only guests, emulated hosts): ip netns exec
  VmGuest      a VM of a node (vm.py): its guest agent
  RemoteGuest  a command line prefix on another machine (remote.py's ssh
               Host): ip netns exec NS, vrdma vm exec GUEST --, or nothing
               for the host itself"""

import os
import subprocess

from . import netpipe, vm
from .virt import Libvirt


class Guest:
    """The interface; see the module's description."""

    kind = None
    netns = None

    def __init__(self, name, ip=None):
        self.name = name
        self.ip = ip

    def spawn(self, argv):
        raise NotImplementedError

    def reap(self, handle, timeout):
        raise NotImplementedError

    def run(self, argv, timeout):
        """(status, stdout, stderr) of argv; status None if it did not end
        within timeout seconds."""
        return self.reap(self.spawn(argv), timeout)

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, ip={self.ip!r})"


def reap_process(proc, timeout):
    """(status, stdout, stderr) of a local process with piped output;
    status None, and the process killed, if it did not end in time."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, out, err
    return proc.returncode, out, err


class NsGuest(Guest):
    """A network namespace of this machine; commands run in workdir
    (NetPIPE writes its output file there)."""

    kind = "ns"

    def __init__(self, netns, workdir, name=None, ip=None):
        super().__init__(name or netns, ip)
        self.netns = netns
        self.workdir = workdir

    def spawn(self, argv):
        netpipe.need_tool(argv[0])
        os.makedirs(self.workdir, exist_ok=True)
        return subprocess.Popen(["ip", "netns", "exec", self.netns, *argv],
                                cwd=self.workdir, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def reap(self, handle, timeout):
        return reap_process(handle, timeout)


class VmGuest(Guest):
    """A VM guest of node, reached through its guest agent (the handle is
    the agent's pid of the command)."""

    kind = "vm"

    def __init__(self, node, name, ip=None):
        super().__init__(name, ip)
        self.node = node
        self.lv = Libvirt(node).ensure()

    def spawn(self, argv):
        return vm.spawn(self.lv, self.name, argv)

    def reap(self, handle, timeout):
        code, out, err = vm.reap(self.lv, self.name, handle, timeout)
        if code is None:
            # Not ended in time: stop it, as a host process would be.
            vm.spawn(self.lv, self.name, ["/bin/sh", "-c",
                                          f"kill -9 {handle}"])
        return code, out, err


class RemoteGuest(Guest):
    """Commands on host (remote.Host), inside prefix; each bounded by
    limit seconds there, so a dropped ssh leaves nothing behind."""

    def __init__(self, host, prefix, name, kind, ip=None, netns=None,
                 limit=1800):
        super().__init__(name, ip)
        self.host = host
        self.prefix = list(prefix)
        self.kind = kind
        self.netns = netns
        self.limit = limit

    def spawn(self, argv):
        return subprocess.Popen(self.host.argv([*self.prefix, *argv],
                                               self.limit),
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def reap(self, handle, timeout):
        return reap_process(handle, timeout)
