#!/usr/bin/env bash
# ci-static.sh - static analysis of src/, tests/ and tests/fuzz/: cppcheck and
# clang-tidy (checks in .clang-tidy). Prints every finding and exits 1 when
# there is one. Installs the two tools with apt-get when they are missing.
# Usage: tools/ci-static.sh [FILE.c...]   (default: every C file)
set -euo pipefail
cd "$(dirname "$0")/.."

need() { # need TOOL PACKAGE
    command -v "$1" >/dev/null 2>&1 && return
    echo "ci-static: installing $2" >&2
    apt-get install -y -q "$2" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "$2" >/dev/null; }
}
need cppcheck cppcheck
need clang-tidy clang-tidy

if [ $# -gt 0 ]; then files=("$@"); else files=(src/*/*.c tests/*.c tests/fuzz/*.c); fi
defs=(-D_GNU_SOURCE -Iinclude -Isrc -Isrc/common -Isrc/cli -Isrc/server -Itests)
jobs=$(nproc 2>/dev/null || echo 2)
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

echo "== cppcheck ($(cppcheck --version))"
# unusedFunction: the public API is used by other programs; missingInclude*:
# system headers are not analysed; unmatchedSuppression: only for inline ones.
cppcheck --quiet --std=c11 --enable=warning,portability,performance \
    --inline-suppr --suppress=missingIncludeSystem --error-exitcode=0 \
    -j "$jobs" "${defs[@]}" "${files[@]}" 2>"$log/cppcheck" || true
cat "$log/cppcheck"

echo "== clang-tidy ($(clang-tidy --version | grep -o 'version [0-9.]*'))"
printf '%s\n' "${files[@]}" |
    xargs -P "$jobs" -I{} sh -c 'clang-tidy --quiet "$1" -- -std=c11 "$@" 2>/dev/null | grep -v "^$" || true' \
        sh {} "${defs[@]}" >"$log/tidy"
# a warning in a header is reported once per file including it
grep -E "(warning|error):" "$log/tidy" | sed "s|^$PWD/||" | sort -u >"$log/tidy-unique" || true
cat "$log/tidy-unique"

n_cpp=$(grep -cE "^[^ ]+:[0-9]+:[0-9]+: (error|warning|style|portability|performance):" \
    "$log/cppcheck" || true)
n_tidy=$(wc -l <"$log/tidy-unique")
echo "ci-static: cppcheck $n_cpp, clang-tidy $n_tidy finding(s) in ${#files[@]} files"
[ "$n_cpp" -eq 0 ] && [ "$n_tidy" -eq 0 ]
