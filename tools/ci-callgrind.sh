#!/usr/bin/env bash
# Instruction-count regression guard (issue: decode/prefill speed).
#
# Counts instructions with callgrind - repeatable on a noisy machine, unlike
# seconds - for a fixed tiny-model prefill and decode on one thread, and
# compares them with tests/perf/callgrind-baseline.txt. Fails when either
# grows by more than 5%. After an intended change, refresh the baseline in
# the same commit:  tools/ci-callgrind.sh --update
#
#   load    = instructions of `--bench -p 0 -n 0` (a full load, no test;
#             --info reads only the metadata)
#   prefill = (prompt of PROMPT_TOKENS tokens, 1 generated) - load
#   decode  = (same prompt, 1 + DECODE_TOKENS generated) - prefill - load
#
# Under valgrind the CPU reports no AVX-512, so the auto kernel is AVX2 on
# x86-64: the baseline belongs to that kernel.
set -euo pipefail
cd "$(dirname "$0")/.."

BASELINE=tests/perf/callgrind-baseline.txt
TOLERANCE_PCT=5
DECODE_TOKENS=32
MODEL=models/bitnet-tiny.gguf
PROMPT="Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday, January, February, March, April"

command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
[ -x ./bitnet-run ] || make -s

count() { # instructions of one run of bitnet-run with the given arguments
    local out
    out=$(mktemp)
    # on one core: the load, which takes every core available, runs on one thread too
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out" ./bitnet-run -m "$MODEL" -t 1 "$@" >/dev/null 2>&1
    awk '/^summary:/ {print $2}' "$out"
    rm -f "$out"
}

load=$(count --bench -p 0 -n 0)
one=$(count -p "$PROMPT" --temp 0 -n 1 -q)
many=$(count -p "$PROMPT" --temp 0 -n $((DECODE_TOKENS + 1)) --ignore-eos -q)
prefill=$((one - load))
decode=$((many - one))
kernel=$(valgrind --tool=none ./bitnet-run -m "$MODEL" --info 2>/dev/null | awk '/^kernel:/ {print $2}' | tr -d ,)
echo "callgrind ($kernel): load $load, prefill $prefill, decode $decode instructions"

if [ "${1:-}" = "--update" ]; then
    printf 'kernel %s\nprefill %s\ndecode %s\n' "$kernel" "$prefill" "$decode" > "$BASELINE"
    echo "baseline written to $BASELINE"
    exit 0
fi
[ -f "$BASELINE" ] || { echo "no baseline: run $0 --update" >&2; exit 1; }

status=0
for what in prefill decode; do
    base=$(awk -v k=$what '$1 == k {print $2}' "$BASELINE")
    now=${!what}
    limit=$((base + base * TOLERANCE_PCT / 100))
    pct=$(awk -v a="$now" -v b="$base" 'BEGIN {printf "%+.2f", (a - b) * 100 / b}')
    if [ "$now" -gt "$limit" ]; then
        echo "FAIL $what: $now instructions, baseline $base ($pct%, limit +$TOLERANCE_PCT%)" >&2
        status=1
    else
        echo "ok   $what: $now instructions, baseline $base ($pct%)"
    fi
done
exit $status
