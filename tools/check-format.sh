#!/usr/bin/env bash
# check-format.sh - fails when `make format` would change a C source:
# clang-format (.clang-format) is the one style. Hand-aligned tables are
# kept between /* clang-format off */ and /* clang-format on */.
# Usage: tools/check-format.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq clang-format >/dev/null; }
mapfile -t files < <(make -s print-format-src | tr ' ' '\n' | grep -v '^$')
bad=0
for f in "${files[@]}"; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "check-format: $f differs from clang-format's layout (run make format)" >&2
        bad=$((bad + 1))
    fi
done
[ "$bad" = 0 ] || { echo "check-format: $bad file(s) to format" >&2; exit 1; }
echo "check-format: ${#files[@]} files formatted"
