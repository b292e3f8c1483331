#!/bin/sh
# bench_batch.sh - throughput of `bitnet-run --batch` with N sequences
# decoded together (one bn_batch_decode per step) against one at a time.
#
#   bench/bench_batch.sh [MODEL] [PROMPTS] [THREADS] [PARALLEL...]
#
# Defaults: models/bitnet-tiny.gguf, 64 prompts, the tool's default threads,
# parallel 1 and 8. Greedy, so every setting generates the same tokens;
# prints the summary line of each run (tokens and tok/s, prompt
# processing included, model load excluded), best of 3.
set -eu
MODEL=${1:-models/bitnet-tiny.gguf}
N=${2:-64}
THREADS=${3:-0}
shift $(( $# < 3 ? $# : 3 ))
PARALLEL=${*:-1 8}
BIN=${BIN:-./bitnet-run}
REPS=3

FILE=$(mktemp /tmp/bench-batch-XXXXXX)
trap 'rm -f "$FILE"' EXIT
# prompts the tiny model continues for 10-15 tokens
set -- "Monday," "March, April," "5 6 7 8" "three four five" "January," "Tuesday, Wednesday," \
    "10 11 12" "one two"
i=0
while [ "$i" -lt "$N" ]; do
    eval "p=\${$(( i % $# + 1 ))}"
    printf '%s\n' "$p" >> "$FILE"
    i=$(( i + 1 ))
done

TFLAG=""
[ "$THREADS" -gt 0 ] && TFLAG="-t $THREADS"
for par in $PARALLEL; do
    best=""
    r=0
    while [ "$r" -lt "$REPS" ]; do
        # shellcheck disable=SC2086
        line=$("$BIN" -m "$MODEL" --batch "$FILE" --temp 0 --parallel "$par" $TFLAG 2>&1 >/dev/null |
            grep 'batch:')
        tps=$(printf '%s\n' "$line" | sed -n 's/.*ms (\([0-9.]*\) tok\/s).*/\1/p')
        if [ -z "$best" ] || awk "BEGIN{exit !($tps > $best)}"; then
            best=$tps
            bestline=$line
        fi
        r=$(( r + 1 ))
    done
    printf 'parallel %-3s %10s tok/s   %s\n' "$par" "$best" "$bestline"
done
