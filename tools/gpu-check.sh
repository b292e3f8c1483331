#!/usr/bin/env bash
# tools/gpu-check.sh OUTDIR [DEBDIR] - the Vulkan backend on a real GPU,
# in under 8 minutes: run it from the root of a tree built on x86-64
# Debian (`make && make build/run-tests build/bench/gen_synthetic`, with
# glslc and libvulkan-dev present) on a machine with an NVIDIA GPU and
# its driver. It
#   1. installs the Vulkan loader from the .deb files in DEBDIR (default:
#      .gl/ in the tree; fetch them on any Debian 12 machine with
#      `apt-get download libvulkan1`) unless the machine has one, and
#      points the loader at NVIDIA's ICD when it finds no driver;
#   2. lists the devices and runs the Vulkan tests (every shared
#      reference's greedy ids, the backend-ops test, --batch, the server);
#   3. writes the synthetic 2B-4T I2_S file (bench/gen_synthetic) and runs
#      `--bench -p 512 -n 128` on the GPU and on the CPU backend.
# Everything goes to OUTDIR: devices.txt, tests.log, bench-vulkan.jsonl,
# bench-cpu.jsonl (llama-bench's fields) and summary.txt. Exits non-zero when a step
# fails (later steps still run).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: tools/gpu-check.sh OUTDIR [DEBDIR]}
debs=${2:-.gl}
mkdir -p "$out"
fail=0
log() { echo "$*" | tee -a "$out/summary.txt"; }

# 1. the loader
if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
    ls "$debs"/*.deb >/dev/null 2>&1 || { log "no libvulkan.so.1 and no .deb files in $debs"; exit 1; }
    for f in "$debs"/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
           /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; fi
done
./bitnet-run --list-devices | tee "$out/devices.txt"
grep -q '^vulkan:0: ' "$out/devices.txt" || { log "FAIL: no Vulkan device"; exit 1; }
log "device: $(grep -m1 '^vulkan:0: ' "$out/devices.txt")"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$out/devices.txt" 2>&1 || true

# 2. the tests with "vulkan" in their names, the server's too: they need the
# shared models, ../shared beside the tree or shared/ inside it
[ -z "${BN_SHARED:-}" ] && [ -d shared/models ] && export BN_SHARED=$PWD/shared
t0=$(date +%s)
if timeout 240 ./build/run-tests vulkan >"$out/tests.log" 2>&1; then
    log "tests: $(tail -n 1 "$out/tests.log") in $(( $(date +%s) - t0 )) s"
else
    fail=1; log "FAIL tests: $(tail -n 1 "$out/tests.log")"
fi

# 3. the 2B-4T shape, GPU against the CPU backend
model=/tmp/bn-2b4t-i2s.gguf
[ -f "$model" ] || ./build/bench/gen_synthetic "$model" 2b-4t i2_s >/dev/null || { log "FAIL: gen_synthetic"; exit 1; }
for dev in vulkan cpu; do
    t0=$(date +%s)
    timeout 180 ./bitnet-run --bench -m "$model" -p 512 -n 128 -r 2 --device "$dev" -o jsonl \
        >"$out/bench-$dev.jsonl" 2>"$out/bench-$dev.err"
    rc=$?
    [ $rc -eq 124 ] && echo "timed out after 180 s" >>"$out/bench-$dev.err"
    if [ $rc -eq 0 ]; then
        log "bench $dev ($(( $(date +%s) - t0 )) s):"
        sed -E 's/.*"n_prompt": ([0-9]+), "n_gen": ([0-9]+).*"avg_ts": ([0-9.]+).*/  pp\1 tg\2: \3 t\/s/' \
            "$out/bench-$dev.jsonl" | tee -a "$out/summary.txt"
    else
        fail=1; log "FAIL bench $dev: $(tail -n 1 "$out/bench-$dev.err")"
    fi
done
exit $fail
