# SPDX-License-Identifier: BSD-3-Clause
"""A QEMU guest agent client over the agent's host-side socket (a QEMU
chardev on the guest's org.qemu.guest_agent.0 virtio-serial port), for
guests run without libvirt and for tests; vm.py reaches the same agent
through `virsh qemu-agent-command`.

The protocol is JSON, one object a line. The channel carries no session:
replies to a client that gave up, or bytes sent before the guest opened
the port, may still be queued, so every conversation starts with
guest-sync-delimited (a 0xFF byte precedes its reply) and a fresh id, and
anything before the matching reply is dropped. guest-exec returns a pid;
guest-exec-status says when it ended, with its output base64-encoded."""

import base64
import json
import os
import socket
import time

from .util import VrdmaError

SYNC_MARK = b"\xff"


class GuestAgent:
    """One connection to one guest's agent."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None
        self.buf = b""

    def connect(self, timeout=60):
        """Connect and sync, retrying until the guest's agent answers
        (a booting guest's port is not open yet) or timeout."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            try:
                self.close()
                self.sock = socket.socket(socket.AF_UNIX,
                                          socket.SOCK_STREAM)
                self.sock.settimeout(2)
                self.sock.connect(self.path)
                self.sync(2)
                return self
            except (OSError, VrdmaError) as exc:
                last = str(exc)
            if time.monotonic() >= deadline:
                self.close()
                raise VrdmaError(f"guest agent at {self.path}: {last} "
                                 f"after {timeout:.0f}s",
                                 "is the guest booted, with qemu-ga on "
                                 "org.qemu.guest_agent.0?")
            time.sleep(0.5)

    def sync(self, timeout=5):
        """Flush whatever an earlier conversation left in the channel."""
        ident = int.from_bytes(os.urandom(4), "little") & 0x7fffffff
        # 0xFF resets the agent's JSON parser if it holds half a request.
        self._send(SYNC_MARK + json.dumps(
            {"execute": "guest-sync-delimited",
             "arguments": {"id": ident}}).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            mark = self.buf.find(SYNC_MARK)
            if mark >= 0:
                self.buf = self.buf[mark + 1:]
                reply = self._reply(deadline)
                if reply.get("return") == ident:
                    return
            else:
                self.buf = b""
                self._fill(deadline)

    def command(self, execute, arguments=None, timeout=10, reply=True):
        """One command; returns its "return" value. Commands that answer
        nothing on success (guest-shutdown) take reply=False."""
        msg = {"execute": execute}
        if arguments is not None:
            msg["arguments"] = arguments
        self._send(json.dumps(msg).encode() + b"\n")
        if not reply:
            return None
        answer = self._reply(time.monotonic() + timeout)
        if "error" in answer:
            err = answer["error"]
            raise VrdmaError(f"guest agent: {execute}: "
                             f"{err.get('desc', err)}")
        return answer.get("return")

    def spawn(self, argv, env=None, stdin=None):
        """Start argv in the guest; returns its pid there."""
        args = {"path": argv[0], "arg": list(argv[1:]),
                "capture-output": True}
        if env is not None:
            args["env"] = [f"{k}={v}" for k, v in env.items()]
        if stdin is not None:
            args["input-data"] = base64.b64encode(stdin).decode()
        return self.command("guest-exec", args)["pid"]

    def reap(self, pid, timeout):
        """(status, stdout, stderr) of a spawned command; status is None
        if it did not end within timeout, 128+N if signal N ended it."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            st = self.command("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                code = st.get("exitcode")
                if code is None:
                    code = 128 + st.get("signal", 0)
                return (code, _text(st.get("out-data")),
                        _text(st.get("err-data")))
            if time.monotonic() >= deadline:
                return None, "", ""
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def exec(self, argv, timeout=60, env=None, stdin=None):
        """Run argv in the guest: (status, stdout, stderr)."""
        return self.reap(self.spawn(argv, env, stdin), timeout)

    def shutdown(self, mode="powerdown"):
        """Ask the guest to power off (or "reboot", "halt")."""
        self.command("guest-shutdown", {"mode": mode}, reply=False)

    def _send(self, data):
        if not self.sock:
            raise VrdmaError(f"guest agent at {self.path}: not connected")
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise VrdmaError(f"guest agent at {self.path}: no reply")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise VrdmaError(f"guest agent at {self.path}: "
                             "no reply") from None
        if not data:
            raise VrdmaError(f"guest agent at {self.path}: closed")
        self.buf += data

    def _reply(self, deadline):
        """The next JSON object; lines that are not one are dropped."""
        while True:
            line, nl, rest = self.buf.partition(b"\n")
            if not nl:
                self._fill(deadline)
                continue
            self.buf = rest
            try:
                msg = json.loads(line.strip(SYNC_MARK + b" \r\t"))
            except ValueError:
                continue
            if isinstance(msg, dict):
                return msg


def _text(data):
    return base64.b64decode(data or "").decode(errors="replace")
