# SPDX-License-Identifier: BSD-3-Clause
"""Hugepage reservations, counted per owner (a node, a test's endpoints, a
guest), so that several nodes can share one machine and the last one to go
puts the machine back exactly as it found it: the kernel's page count and
the hugetlbfs mount. The ledger lives in /run (tmpfs): it dies with the
reservations at reboot."""

import json
import os

from .util import VrdmaError, locked, progress, read_text, run

SIZES_KB = {"2M": 2048, "1G": 1048576}


def runtime_dir():
    return os.environ.get("VRDMA_RUNTIME_DIR", "/run/vrdma")


def _ledger_path():
    return os.path.join(runtime_dir(), "hugepages.json")


def _sysfs(size, leaf):
    return f"/sys/kernel/mm/hugepages/hugepages-{SIZES_KB[size]}kB/{leaf}"


def _read_int(path):
    try:
        return int(read_text(path, "0"))
    except ValueError:
        return 0


def _write_nr(size, count):
    try:
        with open(_sysfs(size, "nr_hugepages"), "w", encoding="ascii") as f:
            f.write(str(count))
    except OSError as exc:
        raise VrdmaError(f"cannot set {size} hugepages to {count}: "
                         f"{exc.strerror}", "run as root") from None
    return _read_int(_sysfs(size, "nr_hugepages"))


def counts(size):
    """(total, free) pages of this size."""
    return (_read_int(_sysfs(size, "nr_hugepages")),
            _read_int(_sysfs(size, "free_hugepages")))


def mounts():
    """hugetlbfs mount points -> page size ('2M'/'1G')."""
    found = {}
    for line in read_text("/proc/mounts").splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[2] != "hugetlbfs":
            continue
        size = "2M"
        for opt in fields[3].split(","):
            if opt.startswith("pagesize="):
                size = opt.split("=", 1)[1].upper().replace("B", "")
                size = {"2048K": "2M", "1024M": "1G"}.get(size, size)
        found[fields[1]] = size
    return found


def mount_for(size):
    for point, psize in mounts().items():
        if psize == size:
            return point
    return None


def _load():
    try:
        with open(_ledger_path(), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"sizes": {}, "owners": {}, "mounted": {}}
    except (OSError, ValueError) as exc:
        raise VrdmaError(f"hugepage ledger {_ledger_path()} unreadable: {exc}",
                         "remove it after checking nr_hugepages by hand") \
            from None


def _save(state):
    if not state["owners"] and not state["mounted"]:
        try:
            os.unlink(_ledger_path())
        except FileNotFoundError:
            pass
        try:
            os.rmdir(runtime_dir())
        except OSError:
            pass
        return
    os.makedirs(runtime_dir(), exist_ok=True)
    tmp = _ledger_path() + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(tmp, _ledger_path())


def _lock():
    return locked(runtime_dir())


def reserve(owner, size, pages):
    """Reserve pages hugepages of size for owner (idempotent per owner) and
    make sure a hugetlbfs of that size is mounted. Returns the mount point."""
    if size not in SIZES_KB:
        raise VrdmaError(f"unknown hugepage size {size}", 'use "2M" or "1G"')
    if not os.path.exists(_sysfs(size, "nr_hugepages")):
        raise VrdmaError(f"this kernel/CPU offers no {size} hugepages",
                         'set hugepage_size = "2M" in the node config')
    with _lock():
        state = _load()
        have = state["owners"].get(owner)
        if have and have == {"size": size, "pages": pages}:
            point = _ensure_mount(state, size)
            _save(state)
            return point
        if have:
            _release_locked(state, owner)
        total, _free = counts(size)
        state["sizes"].setdefault(size, {"orig": total})
        want = total + pages
        got = _write_nr(size, want)
        if got < want:
            _write_nr(size, total)
            if not any(o["size"] == size for o in state["owners"].values()):
                del state["sizes"][size]
            _save(state)
            raise VrdmaError(
                f"could not reserve {pages} hugepages of {size} for {owner}: "
                f"the kernel gave {max(got - total, 0)} "
                f"(memory too fragmented or too small)",
                "free memory, lower hugepages/socket_mem_mb in the node "
                "config, or reserve them at boot (kernel command line "
                f"hugepagesz={size} hugepages=N)")
        state["owners"][owner] = {"size": size, "pages": pages}
        point = _ensure_mount(state, size)
        _save(state)
        progress(f"hugepages: reserved {pages} x {size} for {owner} "
                 f"({got} in all), hugetlbfs on {point}")
        return point


def _ensure_mount(state, size):
    point = mount_for(size)
    if point:
        return point
    point = "/dev/hugepages" if size == "2M" else "/dev/hugepages1G"
    created = not os.path.isdir(point)
    os.makedirs(point, exist_ok=True)
    run(["mount", "-t", "hugetlbfs", "-o", f"pagesize={size}", "nodev",
         point])
    state["mounted"][point] = {"size": size, "created_dir": created}
    return point


def _release_locked(state, owner):
    have = state["owners"].pop(owner, None)
    if not have:
        return False
    size = have["size"]
    total, _free = counts(size)
    if any(o["size"] == size for o in state["owners"].values()):
        _write_nr(size, max(total - have["pages"], 0))
    else:
        orig = state["sizes"].pop(size, {}).get("orig", 0)
        _write_nr(size, orig)
    if not state["owners"]:
        for point, info in list(state["mounted"].items()):
            busy = os.path.isdir(point) and os.listdir(point)
            if busy:
                progress(f"hugepages: {point} still holds files "
                         f"({', '.join(sorted(os.listdir(point))[:3])}); "
                         "left mounted")
                continue
            run(["umount", point], check=False)
            if info.get("created_dir"):
                try:
                    os.rmdir(point)
                except OSError:
                    pass
            del state["mounted"][point]
    return True


def release(owner):
    with _lock():
        state = _load()
        released = _release_locked(state, owner)
        _save(state)
    if released:
        progress(f"hugepages: released the pages of {owner}")
    return released


def status_dicts():
    """Per page size: reserved, free, mount point and vrdma's owners."""
    state = _load()
    out = []
    for size in SIZES_KB:
        if not os.path.exists(_sysfs(size, "nr_hugepages")):
            continue
        total, free = counts(size)
        out.append({"size": size, "reserved": total, "free": free,
                    "mount": mount_for(size),
                    "owners": {o: v["pages"] for o, v in
                               sorted(state["owners"].items())
                               if v["size"] == size}})
    return out


def status_lines():
    return [f"{d['size']}: {d['reserved']} reserved, {d['free']} free, "
            f"mounted on {d['mount'] or '-'}; vrdma owners: "
            + (", ".join(f"{o}={n}" for o, n in d["owners"].items())
               or "none")
            for d in status_dicts()]
