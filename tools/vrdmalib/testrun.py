# SPDX-License-Identifier: BSD-3-Clause
"""`vrdma test`: install, build and run every test suite, then print one
closing line 'N passed, N failed, N skipped' summed over all builds.

Builds: build/ (gcc, -Werror): all suites; unless --quick, also
build-clang/ (clang, -Werror) and build-asan/ (address+undefined
sanitizers) for the unit tests, and build-fuzz/ (clang, libFuzzer) for the
bounded fuzz runs."""

import os
import re
import subprocess
import sys

from . import setup as setupmod
from .util import progress

SUMMARY = {
    "ok": re.compile(r"^Ok:\s+(\d+)", re.M),
    "fail": re.compile(r"^Fail:\s+(\d+)", re.M),
    "xpass": re.compile(r"^Unexpected Pass:\s+(\d+)", re.M),
    "skip": re.compile(r"^Skipped:\s+(\d+)", re.M),
    "timeout": re.compile(r"^Timeout:\s+(\d+)", re.M),
}

EXTRA_BUILDS = [
    # (dir, env, meson options, suites)
    ("build-clang", {"CC": "clang"}, ["-Dwerror=true"], ["unit"]),
    ("build-asan", {}, ["-Dwerror=true", "-Db_sanitize=address,undefined",
                        "-Db_lundef=false"], ["unit"]),
    ("build-fuzz", {"CC": "clang"}, ["-Dfuzz=true"], ["fuzz"]),
]


def meson_test(builddir, suites):
    """Run meson test, echoing its output; return the summary counts."""
    argv = ["meson", "test", "-C", builddir, "--print-errorlogs"]
    for suite in suites or []:
        argv += ["--suite", suite]
    progress(f"test: {' '.join(argv[1:])}")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        out.append(line)
    proc.wait()
    text = "".join(out)
    counts = {k: int(m.group(1)) if (m := r.search(text)) else 0
              for k, r in SUMMARY.items()}
    if proc.returncode != 0 and not (counts["fail"] or counts["timeout"]):
        # meson itself failed (e.g. no such suite, build error).
        counts["fail"] += 1
    return counts


def main(args):
    setupmod.setup(do_build=False)
    env = dict(os.environ)
    builds = [("build", {}, ["-Dwerror=true"], args.suite)]
    if not args.quick and not args.suite:
        builds += EXTRA_BUILDS
    total = {k: 0 for k in SUMMARY}
    for builddir, extra_env, options, suites in builds:
        benv = dict(env, **extra_env)
        path = setupmod.build(builddir, options, env=benv)
        counts = meson_test(path, suites)
        for key, value in counts.items():
            total[key] += value
    passed = total["ok"]
    failed = total["fail"] + total["timeout"] + total["xpass"]
    print(f"{passed} passed, {failed} failed, {total['skip']} skipped",
          flush=True)
    return 1 if failed or not passed else 0
