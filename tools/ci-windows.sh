#!/usr/bin/env bash
# ci-windows.sh - the Windows build, tested under Wine. Builds bitnet-run.exe,
# libbitnet.a and the test runner with MinGW-w64 (`make windows`), runs the
# test suite under Wine, then drives the exe from Linux beside ./bitnet-run:
# the CLI modes print the same bytes and exit with the same status, the
# kernels picked by CPUID are the same, the server answers curl on loopback
# as the Linux one does, and a Ctrl-C (SIGINT, which Wine hands to the
# console handler) stops a generation as on Linux.
# Usage: tools/ci-windows.sh   (after `make`; installs what is missing)
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null || command -v "${2:-$1}" >/dev/null; }
if ! need x86_64-w64-mingw32-gcc || ! need wine wine64 || ! need curl; then
    apt-get update -qq && apt-get install -y -qq gcc-mingw-w64-x86-64 wine64 curl >/dev/null
fi
WINE=$(command -v wine || command -v wine64 || echo /usr/lib/wine/wine64)
WINESERVER=$(command -v wineserver || echo /usr/lib/wine/wineserver)
MODEL=models/bitnet-tiny.gguf
[ -x ./bitnet-run ] || make -j2 bitnet-run

make -j2 windows
WINEPREFIX=$(mktemp -d /tmp/bn-wine-XXXXXX)
export WINEPREFIX WINEDEBUG=-all
"$WINESERVER" -p 2>/dev/null || true # one wineserver for all the runs below: each start costs seconds
work=$(mktemp -d /tmp/bn-ci-windows-XXXXXX)
server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    "$WINESERVER" -k 2>/dev/null || true
    rm -rf "$WINEPREFIX" "$work"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The exe needs no DLL beyond Windows' own (winpthreads and libgcc linked in).
dlls=$(x86_64-w64-mingw32-objdump -p bitnet-run.exe | sed -n 's/^\tDLL Name: //p' | tr 'A-Z' 'a-z' |
    grep -v -E '^(kernel32|msvcrt|ws2_32|psapi|shell32|advapi32|user32|api-ms-win-.*)\.dll$' || true)
[ -z "$dlls" ] || fail "bitnet-run.exe needs DLLs Windows lacks: $dlls"

start=$SECONDS
echo "-- the test suite under Wine"
"$WINE" build-windows/run-tests.exe | tee "$work/tests.log" | grep -E '^(FAIL|skip)' || true
tail -n 1 "$work/tests.log"
grep -q '^[0-9]* passed, 0 failed' "$work/tests.log" || fail "run-tests.exe"

echo "-- the CLI under Wine against Linux"
# same WHAT ARGS...: stdout (but for JSON timings) and exit status of both
# builds are equal, and so is stderr, the one-line message, when they fail
same() {
    local what=$1 lc=0 wc=0
    shift
    ./bitnet-run "$@" >"$work/linux.out" 2>"$work/linux.err" </dev/null || lc=$?
    "$WINE" ./bitnet-run.exe "$@" >"$work/win.out" 2>"$work/win.err" </dev/null || wc=$?
    sed -E -i 's/, "timings": \{[^}]*\}//g' "$work/linux.out" "$work/win.out"
    if [ "$lc" != "$wc" ] || ! cmp -s "$work/linux.out" "$work/win.out" ||
        { [ "$lc" != 0 ] && ! cmp -s "$work/linux.err" "$work/win.err"; }; then
        fail "$what: exit $lc vs $wc"
        diff "$work/linux.out" "$work/win.out" | head -n 5 || true
        head -n 3 "$work/win.err"
    else
        echo "ok   $what"
    fi
}
win_out=$("$WINE" ./bitnet-run.exe -m 'models\bitnet-tiny.gguf' -p "2+2=" 2>"$work/win.err")
[ "$win_out" = "2+2=4" ] || fail "bitnet-run.exe -m models\\bitnet-tiny.gguf -p 2+2= printed '$win_out'"
kernel() { sed -n 's/.*kernel \([a-z0-9-]*\),.*/\1/p' "$1"; }
./bitnet-run -m $MODEL -p "2+2=" 2>"$work/linux.err" >/dev/null
[ "$(kernel "$work/win.err")" = "$(kernel "$work/linux.err")" ] && [ -n "$(kernel "$work/win.err")" ] ||
    fail "kernels: Windows $(kernel "$work/win.err"), Linux $(kernel "$work/linux.err")"
same "greedy text" -m $MODEL -p "The capital of France is" -n 24 --temp 0
same "greedy ids (--json)" -m $MODEL -p "Monday," -n 16 --temp 0 --json --seed 1
same "sampling with a seed" -m $MODEL -p "Once upon a time" -n 32 --temp 0.8 --seed 42
same "stop strings" -m $MODEL -p "Monday," --temp 0 --stop Friday
same "one thread" -m $MODEL -p "2+2=" -t 1
same "q16 weights" -m $MODEL -p "The capital of France is" --temp 0 -n 8 --weights q16
same "no mmap" -m $MODEL -p "2+2=" --no-mmap
same "tokenize" -m $MODEL --tokenize -p "2+2= héllo"
same "detokenize" -m $MODEL --detokenize -p "[1016, 17, 10, 17, 28]"
printf '2+2=\nThe capital of France is\nMonday,\n' >"$work/batch.txt"
same "batch" -m $MODEL --batch "$work/batch.txt" --temp 0 -n 4 --seed 7
# Perplexity sums log-probabilities through libm (expf, logf), whose last
# bits differ between glibc and MinGW's: equal within 0.1 %.
ppl() { "$@" -m $MODEL --perplexity models/README.md -c 128 2>/dev/null | sed -n 's/.*PPL = \([0-9.]*\).*/\1/p'; }
p_linux=$(ppl ./bitnet-run)
p_win=$(ppl "$WINE" ./bitnet-run.exe)
awk -v a="$p_linux" -v b="$p_win" 'BEGIN { d = a - b; exit !(a > 0 && (d < 0 ? -d : d) <= 1e-3 * a) }' &&
    echo "ok   perplexity ($p_win, Linux $p_linux)" || fail "perplexity: $p_win vs Linux $p_linux"
same "missing model" -m /nonexistent/m.gguf -p hi
same "directory as model" -m models -p hi
same "bad flag" -m $MODEL --temp nope
same "text file as model" -m Makefile -p hi
same "missing prompt file" -m $MODEL -f /nonexistent/prompt.txt
# chat reads stdin: both get the same turns
chat() {
    printf 'Hi there\nWhat is 2+2?\n' | "$@" -m $MODEL -cnv --temp 0 -n 8 2>/dev/null
}
chat ./bitnet-run >"$work/linux.out" || true
chat "$WINE" ./bitnet-run.exe >"$work/win.out" || true
if cmp -s "$work/linux.out" "$work/win.out"; then echo "ok   chat"; else fail "chat"; fi

echo "-- Ctrl-C under Wine"
"$WINE" ./bitnet-run.exe -m $MODEL -p "Once upon a time" -n 1000 --ignore-eos </dev/null \
    >"$work/win.out" 2>"$work/win.err" &
pid=$!
for _ in $(seq 100); do [ -s "$work/win.out" ] && break; sleep 0.1; done
kill -INT $pid
code=0
wait $pid || code=$?
if grep -q 'stop: interrupted' "$work/win.err" && [ "$code" = 130 ]; then
    echo "ok   Ctrl-C stops the generation (exit 130)"
else
    fail "Ctrl-C: exit $code, $(tail -n 1 "$work/win.err")"
fi

echo "-- the server under Wine, curl from Linux"
port=$((20000 + RANDOM % 20000))
"$WINE" ./bitnet-run.exe -m $MODEL --server --port $port -t 1 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
done
body='{"prompt": "The capital of France is", "max_tokens": 8, "temperature": 0}'
got=$(curl -sf "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' -d "$body" |
    sed -n 's/.*"text": *"\([^"]*\)".*/\1/p' || true)
want=$(./bitnet-run -m $MODEL -p "The capital of France is" -n 8 --temp 0 2>/dev/null)
[ -n "$got" ] && [ "The capital of France is$got" = "$want" ] && echo "ok   /v1/completions" ||
    fail "/v1/completions: '$got' (Linux CLI: '$want')"
chat_body='{"messages": [{"role": "user", "content": "2+2="}], "max_tokens": 4, "stream": true}'
events=$(curl -sfN "http://127.0.0.1:$port/v1/chat/completions" -d "$chat_body" || true)
case "$events" in *"data: [DONE]"*) echo "ok   streamed chat" ;; *) fail "streamed chat: $events" ;; esac
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/completions" -d '{bad')
[ "$status" = 400 ] && echo "ok   malformed JSON gets 400" || fail "malformed JSON: HTTP $status"
kill -INT $server_pid
code=0
wait $server_pid || code=$?
server_pid=
[ "$code" = 0 ] && echo "ok   Ctrl-C stops the server (exit 0)" || fail "server exit $code on Ctrl-C"

echo "ci-windows: $((SECONDS - start)) s under Wine"
[ "$failures" = 0 ] || { echo "ci-windows: $failures failure(s)"; exit 1; }
echo "ci-windows: all passed"
