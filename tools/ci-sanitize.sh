#!/usr/bin/env bash
# ci-sanitize.sh - the hostile-input checks CI runs (a few minutes on 2 cores):
#   1. `make sanitize`: the whole test suite built with ASan + UBSan
#      (-fno-sanitize-recover=all), the CLI tests running the instrumented
#      bitnet-run, saved fuzzer findings replayed;
#   2. valgrind memcheck on end-to-end generations with 2 threads (no invalid
#      access, every block freed at exit; valgrind hides AVX-512, so the AVX2
#      kernels run, then the scalar ones) and on a file-error exit (no invalid
#      access, nothing lost);
#   3. `make fuzz` for FUZZ_SECONDS (default 20) per target, when clang's
#      libFuzzer runtime is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "== ci-sanitize: $*"; }

step "make sanitize"
make -j2 sanitize

step "valgrind"
make -j2 bitnet-run
vg=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all)
model=models/bitnet-tiny.gguf
"${vg[@]}" ./bitnet-run -m "$model" -p "2+2=" --temp 0 -t 2
"${vg[@]}" ./bitnet-run -m "$model" -p "The capital of France is" --temp 0.8 --seed 1 -n 8 -t 2 \
    --kernel scalar
cut=$(mktemp)
trap 'rm -f "$cut"' EXIT
head -c 100000 "$model" >"$cut"
status=0 # exit() on an error leaves the argument arrays reachable: not a leak
valgrind --quiet --error-exitcode=99 --leak-check=full ./bitnet-run -m "$cut" -p hi -t 2 \
    2>/dev/null || status=$?
if [ "$status" -ne 2 ]; then
    echo "ci-sanitize: a truncated model gave exit status $status under valgrind, expected 2" >&2
    exit 1
fi
# a batch with bad lines: every good line still runs (exit status 2)
printf '2+2=\n{"prompt": 5}\n3+3=\n{bad\n' >"$cut"
status=0
valgrind --quiet --error-exitcode=99 --leak-check=full ./bitnet-run -m "$model" --batch "$cut" \
    -n 4 --temp 0 -t 2 >/dev/null 2>&1 || status=$?
if [ "$status" -ne 2 ]; then
    echo "ci-sanitize: a batch with bad lines gave exit status $status under valgrind, expected 2" >&2
    exit 1
fi

if echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
        clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    step "make fuzz (${FUZZ_SECONDS:-20} s per target)"
    make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
else
    step "skipping make fuzz: clang's libFuzzer runtime is missing (libclang-rt-dev)"
fi
step "clean"
