# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma setup`: install the Debian packages the project needs (quiet when
nothing is missing) and configure and build the C parts into build/."""

import os
import subprocess

from .util import VrdmaError, need_root, progress, run

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Debian 12 packages, grouped by what needs them.
PACKAGES = {
    "switch": ["openvswitch-switch-dpdk", "dpdk", "iproute2", "procps",
               "util-linux"],
    "fabric": ["libucx-dev", "ucx-utils", "ibverbs-utils"],
    "build": ["meson", "ninja-build", "pkg-config", "gcc", "libc6-dev",
              "libdpdk-dev", "libcmocka-dev"],
    "test": ["dpdk-dev", "clang", "libclang-rt-14-dev", "clang-format",
             "cppcheck", "shellcheck"],
}


def missing_packages(names):
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *names],
        capture_output=True, text=True, check=False)
    installed = {line.split()[0] for line in proc.stdout.splitlines()
                 if len(line.split()) > 1 and line.split()[1].startswith("ii")}
    return [n for n in names if n not in installed]


def install_packages(names):
    missing = missing_packages(names)
    if not missing:
        return
    need_root("installing packages")
    progress(f"setup: installing {len(missing)} Debian package(s): "
             f"{' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], timeout=600, env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
         *missing], timeout=1800, env=env)
    still = missing_packages(missing)
    if still:
        raise VrdmaError(f"packages still missing after install: "
                         f"{' '.join(still)}",
                         "check apt sources (Debian 12 main)")


def build(builddir="build", options=(), env=None):
    """Configure (once) and build; output only on failure."""
    path = os.path.join(TOP, builddir)
    if not os.path.exists(os.path.join(path, "build.ninja")):
        progress(f"setup: configuring {builddir}/")
        run(["meson", "setup", path, TOP, *options], timeout=300, env=env)
    progress(f"setup: building {builddir}/")
    run(["ninja", "-C", path], timeout=1800, env=env)
    return path


def setup(groups=None, do_build=True):
    names = []
    for group in groups or PACKAGES:
        names += PACKAGES[group]
    install_packages(names)
    if do_build:
        build()
