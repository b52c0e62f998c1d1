# SPDX-License-Identifier: BSD-3-Clause
"""Where DPDK may load the net_vrdma driver from. EAL's -d refuses a plugin
when any directory on its path is world-writable (a clone under /tmp, say);
then the driver is copied to a root-owned directory under /run, named
after its content, and that copy is loaded instead."""

import hashlib
import os
import shutil
import stat

SAFE_ROOT = "/run/vrdma-plugins"


def loadable(path):
    """True if EAL will accept path for -d: no world-writable ancestor."""
    d = os.path.dirname(os.path.abspath(path))
    while True:
        if os.stat(d).st_mode & stat.S_IWOTH:
            return False
        parent = os.path.dirname(d)
        if parent == d:
            return True
        d = parent


def plugin_path(path):
    """(path to give -d, directory this call created or None)."""
    if loadable(path):
        return path, None
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    d = os.path.join(SAFE_ROOT, digest)
    created = None if os.path.isdir(d) else d
    os.makedirs(d, mode=0o755, exist_ok=True)
    os.chmod(SAFE_ROOT, 0o755)
    dest = os.path.join(d, os.path.basename(path))
    shutil.copy2(path, dest)
    return dest, created


def remove(created):
    """Undo plugin_path's copy (and its root directory when empty)."""
    if created:
        shutil.rmtree(created, ignore_errors=True)
        try:
            os.rmdir(SAFE_ROOT)
        except OSError:
            pass
