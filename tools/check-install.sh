#!/bin/sh
# tools/check-install.sh - checks the installed library the way a user meets
# it: installs what `make lib` built into a temporary prefix (tools/install.sh,
# as `make install PREFIX=...` does; make itself is not run, so this is safe
# inside a `make test` in progress), then builds examples/embed.c with
# nothing but `pkg-config --cflags --libs bitnet`, against the shared library
# and against the static one (`pkg-config --static`), and compares what each
# prints with the greedy output of bitnet-run. A staged install (DESTDIR) and
# the uninstall are checked too.
# tests/test_install.c runs it. Exit status: 0 ok, 1 a check failed, 77 a
# tool is missing (pkg-config or the C compiler).
#
# Usage: tools/check-install.sh [BUILD [BITNET_RUN]]   (default: build ./bitnet-run)
#        CC picks the compiler (default cc).
set -eu
cd "$(dirname "$0")/.."

BUILD=${1:-build}
RUN=${2:-./bitnet-run}
CC=${CC:-cc}
MODEL=models/bitnet-tiny.gguf

fail() { echo "check-install: $*" >&2; exit 1; }
command -v pkg-config >/dev/null 2>&1 || { echo "check-install: pkg-config is missing" >&2; exit 77; }
command -v "${CC%% *}" >/dev/null 2>&1 || { echo "check-install: ${CC%% *} is missing" >&2; exit 77; }

tmp=$(mktemp -d /tmp/bn-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

# 1. the install: every file in its place, the .pc naming the prefix
BUILD=$BUILD BIN=$RUN PREFIX=$prefix tools/install.sh >/dev/null
for f in bin/bitnet-run include/bitnet.h lib/libbitnet.a lib/libbitnet.so lib/libbitnet.so.0 \
    lib/pkgconfig/bitnet.pc; do
    [ -e "$prefix/$f" ] || fail "make install left out $f"
done
for h in include/*.h; do [ -f "$prefix/$h" ] || fail "make install left out $h"; done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
version=$(sed -n 's/.*define BN_VERSION "\(.*\)"/\1/p' include/bitnet.h)
[ "$(pkg-config --modversion bitnet)" = "$version" ] || fail "pkg-config reports another version"
[ "$(pkg-config --variable=libdir bitnet)" = "$prefix/lib" ] || fail "bitnet.pc has a wrong libdir"

# 2. embed.c against the shared library (found through LD_LIBRARY_PATH), and
# against the static one alone (a second prefix without the .so files, so
# -lbitnet finds libbitnet.a): Libs.private must supply the rest
cflags="-std=c11 -Wall -Wextra -Wpedantic -Werror"
# shellcheck disable=SC2046,SC2086 # pkg-config's output is a list of words
$CC $cflags -o "$tmp/embed-shared" examples/embed.c $(pkg-config --cflags --libs bitnet) ||
    fail "embed.c does not build against the shared library"
BUILD=$BUILD BIN=$RUN PREFIX=$tmp/static tools/install.sh >/dev/null
rm -f "$tmp/static"/lib/libbitnet.so*
# shellcheck disable=SC2046,SC2086
$CC $cflags -o "$tmp/embed-static" examples/embed.c \
    $(PKG_CONFIG_PATH="$tmp/static/lib/pkgconfig" pkg-config --static --cflags --libs bitnet) ||
    fail "embed.c does not build against libbitnet.a with pkg-config --static"

# 3. the same text as bitnet-run (stdout: prompt and continuation)
for case in "2+2=|8" "The capital of France is|12" "Once upon a time|6"; do
    prompt=${case%|*}
    n=${case#*|}
    want=$("$RUN" -m "$MODEL" -p "$prompt" -n "$n" --temp 0 2>/dev/null) ||
        fail "bitnet-run failed on '$prompt'"
    got=$(LD_LIBRARY_PATH="$prefix/lib" "$tmp/embed-shared" "$MODEL" "$prompt" "$n") ||
        fail "the shared embed failed on '$prompt'"
    [ "$got" = "$want" ] || fail "shared embed printed '$got', bitnet-run '$want'"
    got=$("$tmp/embed-static" "$MODEL" "$prompt" "$n") || fail "the static embed failed on '$prompt'"
    [ "$got" = "$want" ] || fail "static embed printed '$got', bitnet-run '$want'"
done

# 4. a staged install (DESTDIR): files under the stage, the .pc naming PREFIX
BUILD=$BUILD BIN=$RUN DESTDIR=$tmp/stage PREFIX=/opt/bitnet tools/install.sh >/dev/null
[ -f "$tmp/stage/opt/bitnet/lib/libbitnet.a" ] || fail "DESTDIR is not honoured"
grep -qx "prefix=/opt/bitnet" "$tmp/stage/opt/bitnet/lib/pkgconfig/bitnet.pc" ||
    fail "a staged bitnet.pc does not name the final prefix"
DESTDIR=$tmp/stage PREFIX=/opt/bitnet tools/install.sh --uninstall
[ -z "$(find "$tmp/stage" -type f)" ] || fail "make uninstall left files behind"
echo "check-install: ok"
