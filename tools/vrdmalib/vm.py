# SPDX-License-Identifier: BSD-3-Clause
"""VM guests: libvirt domains on a node's vhost-user ports.

`vm define` makes the port (if the guest has none), reserves hugepages
for the guest's memory, and defines the domain from `vrdma domxml`, with
the guest image's kernel and initramfs (`vrdma guest image`) and a
kernel command line carrying the guest's name and address. `vm start`
boots it and waits for the image's ready line on the serial console;
`vm stop` asks the guest agent to power off (destroy after a timeout);
`vm destroy` powers it off at once, as virsh destroy does (defined, port
and pages kept: `vm start` boots it again); `vm remove` stops it,
undefines it and removes what define made.
`vm exec` runs a command through the guest agent (virtio-serial), not
over the guest network, so it works when the data path under test does
not. A failed define leaves nothing behind in libvirt or OVS.

Each VM has a record in STATE/NODE/vms/GUEST.json and its serial console
in STATE/NODE/log/vm-GUEST.console.log."""

import base64
import json
import os
import tempfile
import time

from . import domxml, hugepages, nsguest, ports
from .config import NAME_RE
from .util import VrdmaError, locked, progress, wait_for
from .virt import Libvirt

READY = "vrdma-guest ready"
DEFAULT_MEMORY_MB = 512


def _paths(node, guest):
    return (os.path.join(node.paths.root, "vms", f"{guest}.json"),
            os.path.join(node.paths.log_dir, f"vm-{guest}.console.log"))


def records(node):
    return nsguest.load_records(os.path.join(node.paths.root, "vms"))


def _record(node, guest):
    rec = nsguest.load_json(_paths(node, guest)[0])
    if rec is None:
        raise VrdmaError(f"no VM guest {guest} on node {node.name}",
                         f"define it: vrdma vm define --node {node.name} "
                         f"{guest}")
    return rec


def _owner(node, guest):
    return f"vm:{node.name}:{guest}"


def _image_files(image):
    files = [os.path.join(image, n) for n in ("vmlinuz", "initrd.img")]
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise VrdmaError(f"no guest image in {image} (missing "
                         f"{', '.join(os.path.basename(m) for m in missing)})",
                         "build it: vrdma guest image"
                         + ("" if image == domxml.DEFAULT_IMAGE
                            else f" --out {image}"))


def state(lv, guest):
    """libvirt's state of the domain: 'running', 'shut off', ... or None
    when it is not defined."""
    proc = lv.virsh("domstate", guest, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip()


def define(node, guest, vcpus=1, memory_mb=DEFAULT_MEMORY_MB,
           backing="hugepages-2M", queues=None, mode=None, mtu=None,
           ip=None, image=None, domain_type=None):
    """Define guest's domain (and its port); returns the record."""
    node.require_up()
    if not NAME_RE.match(guest):
        raise VrdmaError(f"bad guest name {guest!r}",
                         "use 1-32 of A-Z a-z 0-9 _ . - starting with a "
                         "letter or digit")
    image = image or domxml.DEFAULT_IMAGE
    _image_files(image)
    ip = ip or f"{nsguest.guest_ip(guest)}/16"
    if "/" not in ip:
        ip += "/16"
    recpath, console = _paths(node, guest)
    lv = Libvirt(node).ensure()
    with locked(node.cfg.state_dir):
        if state(lv, guest) is not None:
            raise VrdmaError(f"a domain named {guest} is already defined in "
                             f"node {node.name}'s libvirt",
                             f"start it (vrdma vm start --node {node.name} "
                             f"{guest}), or remove it first (vrdma vm "
                             f"destroy --node {node.name} {guest})")
        if nsguest.load_json(nsguest.record_path(node, guest)):
            raise VrdmaError(f"{guest} is a namespace guest of node "
                             f"{node.name}", "pick another name")
        clash = nsguest.used_ips(node.cfg.state_dir, guest).get(
            ip.split("/")[0])
        if clash:
            raise VrdmaError(f"address {ip} is already guest {clash}'s",
                             "pass another with --ip")
        had_port = ports.find_interface(node, guest) is not None
        rec = {"guest": guest, "node": node.name, "ip": ip,
               "mac": nsguest.guest_mac(guest), "vcpus": vcpus,
               "memory_mb": memory_mb, "backing": backing, "image": image,
               "created_port": False, "hugepages": None}
        try:
            if not had_port:
                ports.add(node, guest, mode, queues, mtu, lock=False)
                rec["created_port"] = True
            if backing.startswith("hugepages"):
                size = backing.split("-")[1]
                page_mb = 2 if size == "2M" else 1024
                hugepages.reserve(_owner(node, guest), size,
                                  -(-memory_mb // page_mb))
                rec["hugepages"] = size
            xml = domxml.build(
                node, guest, vcpus=vcpus, memory_mb=memory_mb,
                backing=backing, queues=queues, image=image,
                domain_type=domain_type, console_log=console,
                cmdline=f"vrdma.name={guest} vrdma.ip={ip}")
            rec["domain_type"] = "kvm" if "type=\"kvm\"" in xml else "qemu"
            with tempfile.NamedTemporaryFile("w", suffix=".xml") as f:
                f.write(xml)
                f.flush()
                lv.virsh("define", f.name)
            nsguest.save_json(recpath, rec)
        except BaseException:
            progress(f"vm {guest}: define failed; removing what was made")
            _undo(node, lv, rec)
            raise
    progress(f"vm {guest}: defined on node {node.name} ({rec['domain_type']}"
             f", {vcpus} vCPU, {memory_mb} MiB {backing}, {ip})")
    return rec


def _undo(node, lv, rec):
    """Reverse of define; keeps going after a failure."""
    errors = []
    guest = rec["guest"]
    st = state(lv, guest)
    if st is not None:
        if st != "shut off":
            lv.virsh("destroy", guest, check=False)
        proc = lv.virsh("undefine", guest, check=False)
        if proc.returncode != 0:
            errors.append(f"undefine: {proc.stderr.strip()}")
    if rec.get("hugepages"):
        try:
            hugepages.release(_owner(node, guest))
        except VrdmaError as exc:
            errors.append(exc.line())
    if rec.get("created_port") and node.server_running():
        try:
            ports.delete(node, guest, lock=False)
        except VrdmaError as exc:
            errors.append(exc.line())
    try:
        os.unlink(_paths(node, guest)[0])
    except OSError:
        pass
    return errors


def start(node, guest, timeout=180.0):
    """Boot guest and wait until its init says it is ready."""
    rec = _record(node, guest)
    node.require_up()
    lv = Libvirt(node).ensure()
    _image_files(rec["image"])
    st = state(lv, guest)
    if st is None:
        raise VrdmaError(f"guest {guest} has a record but no domain in "
                         f"node {node.name}'s libvirt",
                         f"vrdma vm remove --node {node.name} {guest}, "
                         "then define it again")
    console = _paths(node, guest)[1]
    if st == "running" and _ready(console):
        progress(f"vm {guest}: already running")
        return rec
    if st != "running":
        progress(f"vm {guest}: starting ({rec['domain_type']})")
        t0 = time.monotonic()
        lv.virsh("start", guest, timeout=120)
    else:
        t0 = time.monotonic()
    if not wait_for(lambda: _ready(console) or
                    state(lv, guest) != "running", timeout, 0.5):
        raise VrdmaError(f"vm {guest}: not ready after {timeout:.0f}s; "
                         f"console: {_tail(console)}",
                         f"see {console} and {lv.qemu_log(guest)}")
    if not _ready(console):
        raise VrdmaError(f"vm {guest}: stopped while booting "
                         f"({state(lv, guest)}); console: {_tail(console)}",
                         f"see {lv.qemu_log(guest)}")
    progress(f"vm {guest}: ready in {time.monotonic() - t0:.1f}s "
             f"({rec['ip']})")
    return rec


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _ready(console):
    return READY in _read(console)


def _tail(console, lines=3):
    text = [ln.strip() for ln in _read(console).splitlines() if ln.strip()]
    return " / ".join(text[-lines:]) or "(nothing yet)"


def stop(node, guest, timeout=30.0):
    """Power off through the guest agent; destroy if it does not."""
    _record(node, guest)
    lv = Libvirt(node).ensure()
    if state(lv, guest) != "running":
        progress(f"vm {guest}: not running; nothing to do")
        return False
    lv.virsh("shutdown", guest, "--mode", "agent", check=False)
    if not wait_for(lambda: state(lv, guest) != "running", timeout, 0.5):
        progress(f"vm {guest}: still running after {timeout:.0f}s; "
                 "destroying it")
        lv.virsh("destroy", guest)
    progress(f"vm {guest}: stopped")
    return True


def destroy(node, guest):
    """Power off at once (virsh destroy): the domain stays defined, its
    port and hugepages stay. Idempotent."""
    _record(node, guest)
    lv = Libvirt(node).ensure()
    if state(lv, guest) != "running":
        progress(f"vm {guest}: not running; nothing to do")
        return False
    lv.virsh("destroy", guest)
    progress(f"vm {guest}: powered off (still defined; vrdma vm remove "
             "deletes it)")
    return True


def remove(node, guest):
    """Stop, undefine and remove what define made. Idempotent."""
    recpath, _ = _paths(node, guest)
    rec = nsguest.load_json(recpath)
    if rec is None:
        progress(f"vm {guest}: not a VM guest of node {node.name}; "
                 "nothing to do")
        return False
    lv = Libvirt(node).ensure()
    with locked(node.cfg.state_dir):
        errors = _undo(node, lv, rec)
    if errors:
        raise VrdmaError(f"vm {guest}: removal incomplete: "
                         + "; ".join(errors))
    progress(f"vm {guest}: removed (undefined, port and pages freed)")
    return True


def remove_all(node):
    """For node down (which holds the lock): every VM, then the node's
    own libvirtd."""
    errors = []
    lv = Libvirt(node)
    vms = records(node)
    if vms:
        try:
            lv.ensure()
        except VrdmaError as exc:
            return [exc.line()]
        for rec in vms:
            errors += _undo(node, lv, rec)
    lv.remove()
    return errors


# --- the guest agent, through libvirt -------------------------------------

def agent(lv, guest, command, arguments=None, timeout=10):
    """One guest-agent command; returns its "return" value."""
    msg = {"execute": command}
    if arguments is not None:
        msg["arguments"] = arguments
    proc = lv.virsh("qemu-agent-command", guest, json.dumps(msg),
                    "--timeout", str(timeout), timeout=timeout + 15,
                    check=False)
    if proc.returncode != 0:
        raise VrdmaError(f"vm {guest}: guest agent: "
                         f"{(proc.stderr or proc.stdout).strip()}",
                         "is the guest running and booted? "
                         "(vrdma vm start)")
    return json.loads(proc.stdout).get("return")


def spawn(lv, guest, argv):
    """Start argv in the guest; returns the agent's pid for it."""
    return agent(lv, guest, "guest-exec",
                 {"path": argv[0], "arg": list(argv[1:]),
                  "capture-output": True})["pid"]


def reap(lv, guest, pid, timeout):
    """Wait for a spawned command: (status, stdout, stderr), status None
    if it did not end within timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        st = agent(lv, guest, "guest-exec-status", {"pid": pid})
        if st.get("exited"):
            out = base64.b64decode(st.get("out-data", "")).decode(
                errors="replace")
            err = base64.b64decode(st.get("err-data", "")).decode(
                errors="replace")
            code = st.get("exitcode")
            if code is None:
                code = 128 + st.get("signal", 0)
            return code, out, err
        if time.monotonic() >= deadline:
            return None, "", ""
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def exec_in(node, guest, argv, timeout=300.0):
    """Run argv in guest (through /bin/sh -c when it is one string);
    returns (status, stdout, stderr)."""
    _record(node, guest)
    if not argv:
        raise VrdmaError("no command given", "vrdma vm exec GUEST -- CMD")
    lv = Libvirt(node).ensure()
    if state(lv, guest) != "running":
        raise VrdmaError(f"vm {guest} is not running",
                         f"vrdma vm start --node {node.name} {guest}")
    if len(argv) == 1 and " " in argv[0]:
        argv = ["/bin/sh", "-c", argv[0]]
    pid = spawn(lv, guest, argv)
    code, out, err = reap(lv, guest, pid, timeout)
    if code is None:
        raise VrdmaError(f"vm {guest}: {' '.join(argv)} did not end in "
                         f"{timeout:.0f}s", "pass a longer --timeout")
    return code, out, err


def listing_dicts(node):
    """The VM guests, for machine readers: their records with the
    domain's state (None: not defined)."""
    vms = records(node)
    if not vms:
        return []
    lv = Libvirt(node).ensure()
    return [dict(rec, state=state(lv, rec["guest"])) for rec in vms]


def listing(node, out):
    vms = records(node)
    if not vms:
        print(f"node {node.name}: no VM guests", file=out)
        return 0
    lv = Libvirt(node).ensure()
    print(f"{'GUEST':<16} {'IP':<18} {'MAC':<18} {'TYPE':<5} STATE",
          file=out)
    for rec in vms:
        st = state(lv, rec["guest"]) or "NOT DEFINED"
        print(f"{rec['guest']:<16} {rec['ip']:<18} {rec['mac']:<18} "
              f"{rec.get('domain_type', '?'):<5} {st}", file=out)
    return 0


def run_in(node, guest, argv, timeout=300.0):
    """exec_in that raises on a non-zero status; returns stdout."""
    code, out, err = exec_in(node, guest, argv, timeout)
    if code != 0:
        raise VrdmaError(f"vm {guest}: {' '.join(argv)} failed (exit "
                         f"{code}): {(err or out).strip()[-200:]}")
    return out

