#!/bin/sh
# tools/ci-neon.sh - tests the aarch64 (NEON) kernels on an x86 machine:
# cross-compiles the test suite statically and runs it under qemu-user.
#
#   1. -cpu max: the CPU has the dot product extension, so the suite
#      compares both neon-dotprod and neon-plain against scalar;
#   2. -cpu cortex-a57 (ARMv8.0, no dotprod): the kernel tests again, and
#      detection must fall back to neon-plain.
#
# Installs the cross compiler and qemu with apt-get when they are missing
# (needs root, as on CI). Usage: tools/ci-neon.sh [TEST_FILTER]
set -eu
cd "$(dirname "$0")/.."

CROSS_CC=aarch64-linux-gnu-gcc
BUILD=build-aarch64
FILTER=${1:-}

missing=""
command -v "$CROSS_CC" >/dev/null 2>&1 || missing="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
command -v qemu-aarch64 >/dev/null 2>&1 || command -v qemu-aarch64-static >/dev/null 2>&1 ||
    missing="$missing qemu-user"
if [ -n "$missing" ]; then
    echo "ci-neon: installing$missing" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)

make -j"$(nproc)" CC="$CROSS_CC" BUILD="$BUILD" LDFLAGS=-static "$BUILD/run-tests"

echo "ci-neon: $QEMU -cpu max (neon-dotprod and neon-plain)"
out=$("$QEMU" -cpu max "./$BUILD/run-tests" $FILTER) || { echo "$out"; exit 1; }
echo "$out"
echo "$out" | grep -q "kernels on this CPU: neon-dotprod, neon-plain, scalar" || {
    echo "ci-neon: expected neon-dotprod to be detected under -cpu max" >&2
    exit 1
}

echo "ci-neon: $QEMU -cpu cortex-a57 (no dotprod: neon-plain)"
out=$("$QEMU" -cpu cortex-a57 "./$BUILD/run-tests" kernel) || { echo "$out"; exit 1; }
echo "$out"
echo "$out" | grep -q "kernels on this CPU: neon-plain, scalar" || {
    echo "ci-neon: expected neon-plain (without dotprod) under -cpu cortex-a57" >&2
    exit 1
}
echo "ci-neon: ok"
