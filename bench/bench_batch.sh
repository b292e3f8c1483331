#!/bin/sh
# bench_batch.sh - throughput of `bitnet-run --batch` with N sequences
# decoded together (one bn_eval per step) against one at a time.
#
#   [MODEL=...] [PROMPTS=64] [THREADS=...] [PARALLEL="1 8"] [EXTRA="-n 32"] \
#       bench/bench_batch.sh
#
# Greedy, so every setting generates the same tokens. Prints, best of 3, the
# summary line of each run: prompt + generated tokens per second of the
# whole batch (prompt processing included, model load excluded). EXTRA adds
# flags, e.g. "-n 32" for a model that never ends its text on its own.
set -eu
MODEL=${MODEL:-models/bitnet-tiny.gguf}
PROMPTS=${PROMPTS:-64}
PARALLEL=${PARALLEL:-1 8}
EXTRA=${EXTRA:-}
BIN=${BIN:-./bitnet-run}
REPS=${REPS:-3}
TFLAG=""
[ -n "${THREADS:-}" ] && TFLAG="-t $THREADS"

FILE=$(mktemp /tmp/bench-batch-XXXXXX)
trap 'rm -f "$FILE"' EXIT
# prompts the tiny model continues for 10-15 tokens
set -- "Monday," "March, April," "5 6 7 8" "three four five" "January," "Tuesday, Wednesday," \
    "10 11 12" "one two"
i=0
while [ "$i" -lt "$PROMPTS" ]; do
    eval "p=\${$(( i % $# + 1 ))}"
    printf '%s\n' "$p" >> "$FILE"
    i=$(( i + 1 ))
done

for par in $PARALLEL; do
    best=""
    bestline=""
    r=0
    while [ "$r" -lt "$REPS" ]; do
        # shellcheck disable=SC2086
        line=$("$BIN" -m "$MODEL" --batch "$FILE" --temp 0 --parallel "$par" $TFLAG $EXTRA \
            2>&1 >/dev/null | grep 'batch:')
        tps=$(printf '%s\n' "$line" | sed -n 's/.*ms (\([0-9.]*\) tok\/s).*/\1/p')
        if [ -z "$best" ] || awk "BEGIN{exit !($tps > $best)}"; then
            best=$tps
            bestline=$line
        fi
        r=$(( r + 1 ))
    done
    printf 'parallel %-3s %10s tok/s   %s\n' "$par" "$best" "$bestline"
done
