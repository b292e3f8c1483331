#!/usr/bin/env bash
# run.sh BUILD SECONDS TARGET... - runs each fuzz target (tests/fuzz/fuzz_*.c,
# built by `make fuzz` into BUILD/fuzz/) for SECONDS on one core, from the
# repository root. The corpus of target fuzz_X lives in BUILD/corpus/X (seeded
# by make_seeds, grown by the fuzzer); findings land in BUILD/findings/X and
# make the script fail. Saved regressions are in tests/fuzz/regress/X.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1 seconds=$2
shift 2
status=0
for target in "$@"; do
    name=${target#fuzz_}
    corpus=$build/corpus/$name findings=$build/findings/$name
    mkdir -p "$corpus" "$findings"
    "$build/fuzz/make_seeds" "$name" "$corpus"
    dict=tests/fuzz/$name.dict
    extra=()  # the first directory given is the one the fuzzer grows
    [ -f "$dict" ] && extra+=("-dict=$dict")
    [ -d "tests/fuzz/regress/$name" ] && extra+=("tests/fuzz/regress/$name")
    echo "== $target: ${seconds}s"
    if ! "$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -max_len=262144 -print_final_stats=1 -artifact_prefix="$findings/" \
            "$corpus" "${extra[@]}" 2>&1 | tail -n 25; then
        status=1
    fi
done
exit $status
