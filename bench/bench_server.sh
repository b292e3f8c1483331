#!/bin/sh
# bench_server.sh - `bitnet-run --server` under CLIENTS concurrent clients
# with --parallel 1 against --parallel 8 (continuous batching), on loopback.
#
#   [MODEL=/tmp/2b.gguf] [CLIENTS=8] [REQUESTS=4] [TOKENS=32] [THREADS=...] \
#       [PARALLEL="1 8"] bench/bench_server.sh
#
# Each request generates TOKENS tokens (the server runs with --ignore-eos,
# so every setting does the same work). Prints, per --parallel, the line of
# build/bench/bench_server: requests/s, tokens/s, latency percentiles.
# `make bench` builds the client; build/bench/gen_synthetic makes the
# synthetic 2B-4T file (docs/PERFORMANCE.md).
set -eu
MODEL=${MODEL:-models/bitnet-tiny.gguf}
CLIENTS=${CLIENTS:-8}
REQUESTS=${REQUESTS:-4}
TOKENS=${TOKENS:-32}
PARALLEL=${PARALLEL:-1 8}
BIN=${BIN:-./bitnet-run}
CLIENT=${CLIENT:-build/bench/bench_server}
TFLAG=""
[ -n "${THREADS:-}" ] && TFLAG="-t $THREADS"
LOG=$(mktemp /tmp/bench-server-XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -f "$LOG"' EXIT

for par in $PARALLEL; do
    # shellcheck disable=SC2086
    "$BIN" -m "$MODEL" --server --port 0 --parallel "$par" -c 512 --ignore-eos $TFLAG 2>"$LOG" &
    pid=$!
    port=""
    while [ -z "$port" ]; do
        kill -0 "$pid" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
        sleep 0.2
        port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$LOG")
    done
    printf 'parallel %-3s ' "$par"
    "$CLIENT" "$port" "$CLIENTS" "$REQUESTS" "$TOKENS"
    kill -TERM "$pid"
    wait "$pid" || true
    pid=""
done
