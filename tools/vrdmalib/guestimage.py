# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma guest image`: the VM guests' kernel and root file system, made
from Debian packages without installing them.

A guest boots vmlinuz with initrd.img, an initramfs that is its whole root
file system (no disk): the dependency closure of GUEST_PACKAGES, unpacked
with dpkg-deb (maintainer scripts do not run; what they would make that
the guest needs is made here), trimmed, with only the kernel modules a
virtio guest loads, and guest-init.sh as /init. The image is rebuilt only
when its inputs change: the exact versions apt would download, this file
and the init script. It is built in a scratch directory next to the output
and renamed into place, so a failed or interrupted build leaves the
previous image whole. domxml.py and vm.py boot it; guestagent.py talks to
its qemu-ga."""

import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

from .netpipe import MCA_SETTINGS
from .util import VrdmaError, locked, need_program, progress, run

DEFAULT_IMAGE = "/var/cache/vrdma/guest"
DEB_CACHE = "/var/cache/vrdma/debs"
# apt-cache rebuilds its package cache on every call (0.5 s) when the
# machine's apt config disables it, as Docker's Debian images do
# (docker-clean: Dir::Cache::pkgcache ""), which makes the up-to-date check
# slow; this one is ours, and apt checks it against the package lists on
# every use. Downloads run as root: the deb cache is not _apt's.
APT_OPTS = ["-o", "Dir::Cache::pkgcache=/var/cache/vrdma/apt/pkgcache.bin",
            "-o", "APT::Sandbox::User=root"]
INIT_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "guest-init.sh")

GUEST_PACKAGES = (
    "linux-image-cloud-amd64",  # vmlinuz and modules; no initramfs tools
    "busybox-static",           # sh, mount, ip, ping, modprobe, poweroff
    "netpipe-tcp",              # NPtcp
    "netpipe-openmpi",          # NPopenmpi, also as NPmpi
    "openmpi-bin",              # mpirun, orted
    "qemu-guest-agent",         # the host's way in: guest-exec
    "netbase",                  # /etc/protocols, for NPtcp
    "dropbear-bin",             # sshd and client for mpirun between guests
)

# Dependencies left out of the closure, with everything only they need.
EXCLUDED = frozenset((
    # Used by maintainer scripts, which never run here (libibverbs1's
    # postinst adds a group; qemu-guest-agent's enables a service).
    "adduser", "debconf", "dpkg", "perl-base", "init-system-helpers",
    "lsb-base", "sensible-utils",
    # mpirun reaches the other guests with dropbear's dbclient; OpenSSH's
    # client would bring PAM, Kerberos and libfido2 along.
    "openssh-client",
    # hwloc's optional plugins (X11, NVML, OpenCL, PCI names), loaded only
    # if present; they need libxml2 and libicu, 40 MB of a 512 MB guest.
    "libhwloc-plugins",
))

# The kernel modules the guest loads (their dependencies come along);
# everything else in the Debian cloud kernel is built in or left out.
MODULES = ("virtio_pci", "virtio_net", "virtio_console", "virtio_blk",
           "virtio_rng")

# Nothing in the guest reads these.
TRIM = ("boot", "usr/share/doc", "usr/share/man", "usr/share/info",
        "usr/share/locale", "usr/share/lintian", "usr/share/bug",
        "usr/share/initramfs-tools", "usr/lib/systemd", "usr/lib/udev",
        "etc/init.d",
        # glibc's iconv modules: UTF-8 and ASCII are built into libc.
        "usr/lib/x86_64-linux-gnu/gconv")

# initrd.img's compression. Under TCG an uncompressed and an lz4 initrd
# boot equally fast (2.7 s to ready; gzip and zstd 0.3 s slower), and lz4's
# is less than half the size.
COMPRESS = ("lz4", "-l", "-9", "-c")

MPIRUN_WRAPPER = """\
#!/bin/sh
# Open MPI refuses to run as root unless told; in the guest everything runs
# as root, and a command run over ssh does not read /etc/profile.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec /usr/bin/{0}.openmpi "$@"
"""

RSH_AGENT = """\
#!/bin/sh
# Open MPI's remote shell in the guest: dropbear's client with the image's
# key. Every guest of one image has the host key in host_key.pub, so the
# peer (Open MPI's first argument that is not an option) is checked
# against it, and dbclient neither asks nor warns.
set -eu
for arg; do
    case $arg in
    -*) ;;
    *) host=$arg; break ;;
    esac
done
known=/root/.ssh/known_hosts
if ! grep -qs "^${host:?no host} " "$known"; then
    echo "$host $(cat /etc/dropbear/host_key.pub)" >>"$known"
fi
exec dbclient -i /root/.ssh/id_dropbear "$@"
"""

SHUTDOWN = """\
#!/bin/sh
# What qemu-ga's guest-shutdown runs ("shutdown -P|-H|-r +0 MESSAGE"). There
# is no init system to ask, so act at once.
sync
case "${1:-}" in
-r) exec reboot -f ;;
-H) exec halt -f ;;
*) exec poweroff -f ;;
esac
"""

MCA_PARAMS = ("""\
# Open MPI in the vrdma guest image (guestimage.py). From Debian's file:
btl_base_warn_component_unused = 0
mtl = ^ofi
osc = ^ucx,pt2pt
# mpirun in one guest starts ranks in the others over dropbear, and the
# ranks talk TCP over the guest network (vader within one guest).
plm_rsh_agent = /usr/bin/vrdma-rsh
pml = ob1
btl = tcp,self,vader
rmaps_base_oversubscribe = 1
# vrdma's settings for every MPI job (netpipe.MCA_SETTINGS).
""" + "".join(f"{name} = {value}\n" for name, value in MCA_SETTINGS))

PROFILE = """\
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
PS1='\\h:\\w\\$ '
"""

ETC = {
    "etc/passwd": ("root:x:0:0:root:/root:/bin/sh\n", 0o644),
    "etc/group": ("root:x:0:\ntty:x:5:\n", 0o644),
    "etc/shadow": ("root:*:19000:0:99999:7:::\n", 0o600),
    "etc/shells": ("/bin/sh\n", 0o644),
    "etc/nsswitch.conf": ("passwd: files\ngroup: files\nshadow: files\n"
                          "hosts: files\n", 0o644),
    "etc/hosts": ("127.0.0.1 localhost\n::1 localhost\n", 0o644),
    "etc/profile": (PROFILE, 0o644),
    "etc/ld.so.conf": ("include /etc/ld.so.conf.d/*.conf\n", 0o644),
    "etc/openmpi/openmpi-mca-params.conf": (MCA_PARAMS, 0o644),
    "usr/bin/mpirun": (MPIRUN_WRAPPER.format("mpirun"), 0o755),
    "usr/bin/mpiexec": (MPIRUN_WRAPPER.format("mpiexec"), 0o755),
    "usr/bin/vrdma-rsh": (RSH_AGENT, 0o755),
    "usr/sbin/shutdown": (SHUTDOWN, 0o755),
}


# --- what goes in: the package closure and its exact versions -------------

def _apt_cache(*args):
    os.makedirs("/var/cache/vrdma/apt", exist_ok=True)
    return run(["apt-cache", *APT_OPTS, *args], timeout=120).stdout


def parse_depends(text):
    """`apt-cache depends --recurse` output as {package: [group, ...]},
    each group a list of alternatives, each alternative a list of real
    package names (a virtual package's providers; none if it has none)."""
    graph = {}
    deps = None
    group = None
    continues = False
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            deps = graph.setdefault(line.strip(), [])
            continues = False
        elif line.startswith("    "):
            # A provider of the virtual package named just above.
            if group:
                group[-1].append(line.strip())
        elif deps is not None and ":" in line:
            name = line[2:].split(":", 1)[1].strip()
            if not continues:
                group = []
                deps.append(group)
            group.append([] if name.startswith("<") else [name])
            continues = line[1] == "|"
    return graph


def closure(graph, roots, excluded=EXCLUDED):
    """The packages roots need: of each group of alternatives, the first
    real package, unless one is already in or excluded. A kernel image's
    own dependencies (initramfs tools, kmod, linux-base) serve installing
    it, not booting it: only its linux-image ones are followed."""
    chosen = set()
    todo = list(reversed(roots))
    while todo:
        pkg = todo.pop()
        if pkg in chosen or pkg in excluded or ":" in pkg:
            continue
        chosen.add(pkg)
        for group in graph.get(pkg, []):
            names = [n for alt in group for n in alt]
            if pkg.startswith("linux-image-"):
                names = [n for n in names if n.startswith("linux-image-")]
            if not names or any(n in chosen or n in excluded
                                for n in names):
                continue
            todo.append(names[0])
    return chosen


def parse_policy(text):
    """`apt-cache policy` output as {package: candidate version or None}."""
    found = {}
    pkg = None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            pkg = line[:-1]
        elif pkg and line.strip().startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            found[pkg] = None if version == "(none)" else version
    return found


def resolve():
    """{package: exact candidate version} of the guest's closure."""
    text = _apt_cache("depends", "--recurse", "--no-recommends",
                      "--no-suggests", "--no-conflicts", "--no-breaks",
                      "--no-replaces", "--no-enhances", *GUEST_PACKAGES)
    names = sorted(closure(parse_depends(text), GUEST_PACKAGES))
    versions = parse_policy(_apt_cache("policy", *names))
    missing = [n for n in GUEST_PACKAGES + tuple(names)
               if not versions.get(n)]
    return {n: versions[n] for n in names if versions.get(n)}, missing


def _source_files():
    return (os.path.abspath(__file__), INIT_SCRIPT)


def input_hash(versions):
    """What the image is made of: package versions and the builder."""
    h = hashlib.sha256()
    for name in sorted(versions):
        h.update(f"{name}={versions[name]}\n".encode())
    for path in _source_files():
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def read_manifest(out_dir):
    try:
        with open(os.path.join(out_dir, "manifest.json"),
                  encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# --- the debs -------------------------------------------------------------

def _deb_path(name, version):
    """Where apt-get download leaves name=version (':' quoted as %3a)."""
    hits = glob.glob(os.path.join(DEB_CACHE, glob.escape(
        f"{name}_{version.replace(':', '%3a')}_") + "*.deb"))
    return hits[0] if hits else None


def download(versions):
    """Every deb in the cache; returns {name: path}, or None if apt could
    not fetch some (stale package lists)."""
    os.makedirs(DEB_CACHE, exist_ok=True)
    want = [f"{n}={v}" for n, v in sorted(versions.items())
            if not _deb_path(n, v)]
    if want:
        progress(f"guest image: downloading {len(want)} packages")
        # Into a scratch directory first: an interrupted download never
        # leaves a short file under a cached name.
        scratch = tempfile.mkdtemp(prefix=".download-", dir=DEB_CACHE)
        try:
            proc = run(["apt-get", *APT_OPTS, "download", "-qq", *want],
                       check=False, timeout=1800, cwd=scratch)
            if proc.returncode != 0:
                return None
            for deb in os.listdir(scratch):
                os.replace(os.path.join(scratch, deb),
                           os.path.join(DEB_CACHE, deb))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    debs = {n: _deb_path(n, v) for n, v in versions.items()}
    return debs if all(debs.values()) else None


def prune_cache(debs):
    """Drop cached debs the image no longer uses (older versions)."""
    keep = set(debs.values())
    for path in glob.glob(os.path.join(DEB_CACHE, "*.deb")):
        if path not in keep:
            os.unlink(path)


# --- the root file system --------------------------------------------------

def _inside(root, rel):
    """root/rel, refusing a path that leaves root through a symlink (a
    package's absolute link would point into the build host)."""
    path = os.path.join(root, rel)
    real = os.path.realpath(os.path.dirname(path))
    if real != os.path.realpath(root) and \
            not real.startswith(os.path.realpath(root) + os.sep):
        raise VrdmaError(f"guest image: {rel} leads out of the image "
                         f"({real})", "report this as a bug")
    return path


def write(root, rel, text, mode=0o644):
    path = _inside(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def symlink(root, rel, target):
    path = _inside(root, rel)
    if not os.path.lexists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)


def unpack(debs, root):
    """Each deb's files into root, merged-/usr: bin, sbin and lib are
    links into usr, which dpkg-deb -x would replace by directories."""
    for link in ("bin", "sbin", "lib", "lib64"):
        os.makedirs(os.path.join(root, "usr", link), exist_ok=True)
        os.symlink(f"usr/{link}", os.path.join(root, link))
    for name in sorted(debs):
        deb = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", debs[name]],
                               stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-x", "--keep-directory-symlink",
                              "-C", root], stdin=deb.stdout,
                             capture_output=True, text=True, timeout=300)
        deb.stdout.close()
        if deb.wait(timeout=60) != 0 or tar.returncode != 0:
            raise VrdmaError(f"guest image: unpacking {debs[name]} failed: "
                             f"{tar.stderr.strip()[-200:]}",
                             f"delete it and rebuild: rm {debs[name]}")


def trim(root):
    for rel in TRIM:
        path = _inside(root, rel)
        if os.path.islink(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)


def kernel(root, out_dir):
    """vmlinuz out of the image, only MODULES (and what they need) in it;
    returns the kernel version."""
    kvers = os.listdir(os.path.join(root, "usr/lib/modules"))
    if len(kvers) != 1:
        raise VrdmaError(f"guest image: expected one kernel, found "
                         f"{kvers or 'none'}", "report this as a bug")
    kver = kvers[0]
    shutil.copyfile(os.path.join(root, "boot", f"vmlinuz-{kver}"),
                    os.path.join(out_dir, "vmlinuz"))
    kdir = os.path.join(root, "usr/lib/modules", kver)
    run(["depmod", "-b", root, kver], timeout=300)
    deps = {}
    with open(os.path.join(kdir, "modules.dep"), encoding="utf-8") as f:
        for line in f:
            path, _, needs = line.partition(":")
            deps[_module_name(path)] = (path, [_module_name(p)
                                               for p in needs.split()])
    with open(os.path.join(kdir, "modules.builtin"), encoding="utf-8") as f:
        builtin = {_module_name(line.strip()) for line in f}
    keep, todo = set(), list(MODULES)
    while todo:
        mod = todo.pop()
        if mod in keep or mod in builtin:
            continue
        if mod not in deps:
            raise VrdmaError(f"guest image: kernel {kver} has no module "
                             f"{mod}", "check MODULES in guestimage.py "
                             "against the kernel's config")
        keep.add(mod)
        todo += deps[mod][1]
    paths = {deps[m][0] for m in keep}
    for path, _ in deps.values():
        if path not in paths:
            os.unlink(os.path.join(kdir, path))
    for top, dirs, files in os.walk(os.path.join(kdir, "kernel"),
                                    topdown=False):
        if not dirs and not files:
            os.rmdir(top)
    run(["depmod", "-b", root, kver], timeout=300)
    return kver, sorted(keep)


def _module_name(path):
    base = os.path.basename(path)
    return base.split(".ko", 1)[0].replace("-", "_")


def busybox_links(root):
    """The links busybox --install would make, where no package put a
    real program."""
    applets = run([os.path.join(root, "usr/bin/busybox"), "--list-full"],
                  timeout=30).stdout.split()
    for rel in applets:
        symlink(root, rel, "/bin/busybox")


def keys(root, out_dir):
    """dropbear's host key, and root's key, which root accepts: a guest
    can ssh to any guest of the same image, and so can the host with the
    copy in out_dir (id_dropbear for dbclient, id_ed25519 for OpenSSH;
    host_key.pub for its known_hosts)."""
    dropbearkey = need_program("dropbearkey", "dropbear-bin")

    def public(path):
        line = next(ln for ln in run([dropbearkey, "-y", "-f", path],
                                     timeout=60).stdout.splitlines()
                    if ln.startswith("ssh-"))
        return " ".join(line.split()[:2])

    host = _inside(root, "etc/dropbear/dropbear_ed25519_host_key")
    os.makedirs(os.path.dirname(host), exist_ok=True)
    run([dropbearkey, "-t", "ed25519", "-f", host], timeout=60)
    host_pub = public(host) + "\n"
    write(root, "etc/dropbear/host_key.pub", host_pub)
    client = os.path.join(out_dir, "id_dropbear")
    run([dropbearkey, "-t", "ed25519", "-f", client], timeout=60)
    client_pub = public(client) + " vrdma-guest\n"
    for name, text in (("id_dropbear.pub", client_pub),
                       ("host_key.pub", host_pub)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.write(text)
    run([need_program("dropbearconvert", "dropbear-bin"), "dropbear",
         "openssh", client, os.path.join(out_dir, "id_ed25519")],
        timeout=60)
    os.makedirs(_inside(root, "root/.ssh"), mode=0o700, exist_ok=True)
    shutil.copyfile(client, _inside(root, "root/.ssh/id_dropbear"))
    os.chmod(_inside(root, "root/.ssh/id_dropbear"), 0o600)
    write(root, "root/.ssh/authorized_keys", client_pub, 0o600)


def configure(root):
    """What maintainer scripts and an init system would have made."""
    for rel in ("proc", "sys", "dev", "run", "tmp", "var/tmp", "var/lib",
                "var/log", "root", "etc/openmpi"):
        os.makedirs(_inside(root, rel), exist_ok=True)
    os.chmod(os.path.join(root, "root"), 0o700)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.chmod(os.path.join(root, "var/tmp"), 0o1777)
    symlink(root, "var/run", "../run")
    # The kernel opens it for /init's stdio before devtmpfs is mounted.
    os.mknod(os.path.join(root, "dev/console"), 0o600 | 0o020000,
             os.makedev(5, 1))
    for rel, (text, mode) in ETC.items():
        write(root, rel, text, mode)
    # Debian's alternatives, made by openmpi-bin's postinst; NPmpi is
    # what NetPIPE calls it upstream.
    symlink(root, "usr/bin/NPmpi", "NPopenmpi")
    busybox_links(root)
    shutil.copyfile(INIT_SCRIPT, os.path.join(root, "init"))
    os.chmod(os.path.join(root, "init"), 0o755)
    run(["ldconfig", "-r", root], timeout=120)


def check_libraries(root):
    """Every program in the image finds its libraries there (an exclusion
    too many shows up here, not as a guest that fails to start)."""
    progs = []
    for rel in ("usr/bin", "usr/sbin"):
        for name in sorted(os.listdir(os.path.join(root, rel))):
            path = os.path.join(root, rel, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    progs.append(f"/{rel}/{name}")
    script = 'for p; do echo "== $p"; ' \
        '/usr/lib64/ld-linux-x86-64.so.2 --list "$p"; done'
    out = run(["chroot", root, "/bin/sh", "-c", script, "sh", *progs],
              check=False, timeout=120).stdout
    prog, bad = None, []
    for line in out.splitlines():
        if line.startswith("== "):
            prog = line[3:]
        elif "not found" in line:
            bad.append(f"{prog}: {line.split()[0]}")
    if bad:
        raise VrdmaError(f"guest image: libraries missing: "
                         f"{'; '.join(bad[:5])}",
                         "a package in EXCLUDED (guestimage.py) is needed")


def _du(root):
    total = 0
    for top, _, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(top, name)).st_size
    return total


def pack(root, dest):
    """The root as a newc cpio, owned by root, in a stable order."""
    names = subprocess.run(["find", ".", "-mindepth", "1"], cwd=root,
                           capture_output=True, check=True).stdout
    names = b"\n".join(sorted(names.split(b"\n")[:-1])) + b"\n"
    with open(dest, "wb") as f:
        cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "-R", "0:0",
                                 "--quiet"], cwd=root,
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE if COMPRESS else f,
                                stderr=subprocess.PIPE)
        comp = subprocess.Popen(COMPRESS, stdin=cpio.stdout, stdout=f) \
            if COMPRESS else None
        if comp:
            cpio.stdout.close()
        _, err = cpio.communicate(names, timeout=600)
        if cpio.returncode != 0 or (comp and comp.wait(timeout=600)):
            raise VrdmaError(f"guest image: packing failed: "
                             f"{err.decode(errors='replace').strip()[-200:]}",
                             "check the free space in "
                             f"{os.path.dirname(dest)}")


# --- the whole build -------------------------------------------------------

def _resolve_fresh():
    """Versions, after one apt-get update if apt lacks some package."""
    versions, missing = resolve()
    if missing:
        progress(f"guest image: apt knows no {', '.join(missing[:3])}; "
                 "updating package lists")
        run(["apt-get", "update", "-qq"], timeout=600)
        versions, missing = resolve()
        if missing:
            raise VrdmaError(f"guest image: no Debian package "
                             f"{', '.join(missing)}",
                             "check the apt sources (Debian 12 main)")
    return versions


def _fetch(versions):
    """The debs, after one apt-get update if the mirror has moved on."""
    debs = download(versions)
    if debs is None:
        progress("guest image: download failed; updating package lists")
        run(["apt-get", "update", "-qq"], timeout=600)
        versions = _resolve_fresh()
        debs = download(versions)
        if debs is None:
            raise VrdmaError("guest image: apt-get download failed",
                             "check the apt sources and the network, then "
                             "rerun vrdma guest image")
    return versions, debs


def build(out_dir=DEFAULT_IMAGE, force=False):
    """Build the image in out_dir unless it is up to date; returns
    (manifest, built)."""
    out_dir = os.path.abspath(out_dir)
    parent, base = os.path.split(out_dir)
    for prog, package in (("dpkg-deb", "dpkg"), ("depmod", "kmod"),
                          ("cpio", "cpio"), ("dropbearkey", "dropbear-bin"),
                          ("ldconfig", "libc-bin"),
                          *([(COMPRESS[0], COMPRESS[0])] if COMPRESS
                            else [])):
        need_program(prog, package)
    with locked(parent):
        # Scratch directories of builds that died: we hold the lock.
        for stale in glob.glob(os.path.join(parent, f".{base}.build-*")):
            shutil.rmtree(stale, ignore_errors=True)
        versions = _resolve_fresh()
        digest = input_hash(versions)
        old = read_manifest(out_dir)
        if not force and old and old.get("input_hash") == digest and \
                all(os.path.exists(os.path.join(out_dir, f))
                    for f in old.get("files", ())):
            progress(f"guest image: up to date: {out_dir}")
            return old, False
        if os.path.lexists(out_dir) and old is None and \
                not (os.path.isdir(out_dir) and not os.listdir(out_dir)):
            # What the build replaces must be an image of ours.
            raise VrdmaError(f"{out_dir} exists and is not a guest image",
                             "choose another --out, or remove it")
        start = time.monotonic()
        scratch = tempfile.mkdtemp(prefix=f".{base}.build-", dir=parent)
        try:
            versions, debs = _fetch(versions)
            digest = input_hash(versions)
            manifest = _make(scratch, versions, debs, digest, start)
            new = os.path.join(scratch, "out")
            if os.path.isdir(out_dir):
                os.rename(out_dir, os.path.join(scratch, "old"))
            os.rename(new, out_dir)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        prune_cache(debs)
    progress(f"guest image: ready: {out_dir} (built in "
             f"{manifest['build_seconds']:.0f} s)")
    return manifest, True


def _make(scratch, versions, debs, digest, start):
    root = os.path.join(scratch, "root")
    out = os.path.join(scratch, "out")
    os.makedirs(root)
    os.makedirs(out)
    os.chmod(root, 0o755)
    os.chmod(out, 0o755)
    progress(f"guest image: unpacking {len(debs)} packages")
    unpack(debs, root)
    kver, modules = kernel(root, out)
    trim(root)
    configure(root)
    keys(root, out)
    check_libraries(root)
    size = _du(root)
    progress(f"guest image: packing {size / 1e6:.0f} MB")
    pack(root, os.path.join(out, "initrd.img"))
    files = sorted(os.listdir(out)) + ["manifest.json"]
    manifest = {
        "packages": dict(sorted(versions.items())),
        "kernel": kver,
        "modules": modules,
        "input_hash": digest,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.monotonic() - start, 1),
        "compression": COMPRESS[0] if COMPRESS else "none",
        "size": {"root": size,
                 **{f: os.path.getsize(os.path.join(out, f))
                    for f in ("vmlinuz", "initrd.img")}},
        "files": files,
    }
    with open(os.path.join(out, "manifest.json"), "w",
              encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return manifest


def summary(manifest):
    """One line for the operator."""
    return (f"kernel {manifest['kernel']}, {len(manifest['packages'])} "
            f"packages, initrd.img {manifest['size']['initrd.img'] / 1e6:.0f}"
            f" MB ({manifest['compression']}), built {manifest['built']}")
