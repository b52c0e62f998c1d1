#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# House-style checks over the whole tree: clang-format (14) on C, cppcheck,
# ShellCheck on the shell scripts, and a syntax check and pyflakes (unused
# names, undefined names) of every Python file.
# Prints one line per check and fails if any check fails.
set -eu
top=${1:?usage: lint.sh SOURCE_ROOT}
cd "$top"
fail=0
check() {
	local name=$1
	shift
	if "$@" >/tmp/vrdma-lint.$$ 2>&1; then
		echo "ok   $name"
	else
		echo "FAIL $name"
		sed 's/^/     /' /tmp/vrdma-lint.$$ | head -40
		fail=1
	fi
	rm -f /tmp/vrdma-lint.$$
}
mapfile -t csrc < <(git ls-files '*.c' '*.h' 2>/dev/null || find pmd vhost-user tests -name '*.[ch]')
if [ "${#csrc[@]}" -gt 0 ]; then
	check clang-format clang-format --dry-run --Werror "${csrc[@]}"
	check cppcheck cppcheck --quiet --error-exitcode=1 \
		--enable=warning,style,performance,portability \
		--suppress=missingIncludeSystem -I pmd "${csrc[@]}"
fi
check shellcheck shellcheck tools/vrdma .ci/run tests/tool/lint.sh \
	tools/vrdmalib/guest-init.sh
mapfile -t pysrc < <(git ls-files '*.py' 2>/dev/null || find tools tests -name '*.py')
check python-syntax /usr/bin/python3 -c '
import ast, sys
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        ast.parse(f.read(), path)
' "${pysrc[@]}"
check pyflakes /usr/bin/python3 -m pyflakes "${pysrc[@]}"
exit $fail
