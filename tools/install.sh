#!/bin/sh
# tools/install.sh - what `make install` and `make uninstall` run: copies the
# tool, the public headers (every include/*.h), the static and shared engine
# libraries and a generated pkg-config file (bitnet.pc.in) under PREFIX.
# tools/check-install.sh runs it too, on the libraries `make lib` built, so
# the test suite checks the installed tree without running make itself.
#
# Settings come from the environment (the Makefile passes its variables):
#   BUILD        folder holding libbitnet.a and libbitnet.so* (default build)
#   BIN          the bitnet-run binary to install (default ./bitnet-run)
#   PREFIX       default /usr/local; BINDIR, LIBDIR, INCLUDEDIR under it
#   DESTDIR      staging root prepended to every path (packaging)
#   VERSION      default: BN_VERSION of include/bitnet.h
#   LIBS_PRIVATE what static linking needs besides the library (-lm -pthread)
# Usage: tools/install.sh [--uninstall]
set -eu
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
BIN=${BIN:-bitnet-run}
PREFIX=${PREFIX:-/usr/local}
BINDIR=${BINDIR:-$PREFIX/bin}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
DESTDIR=${DESTDIR:-}
VERSION=${VERSION:-$(sed -n 's/.*define BN_VERSION "\(.*\)"/\1/p' include/bitnet.h)}
LIBS_PRIVATE=${LIBS_PRIVATE:--lm -pthread}
SOMAJOR=${VERSION%%.*}

bindir=$DESTDIR$BINDIR
libdir=$DESTDIR$LIBDIR
incdir=$DESTDIR$INCLUDEDIR

if [ "${1:-}" = --uninstall ]; then
    rm -f "$bindir/bitnet-run" "$libdir/libbitnet.a" "$libdir/libbitnet.so" \
        "$libdir/libbitnet.so.$SOMAJOR" "$libdir/libbitnet.so.$VERSION" \
        "$libdir/pkgconfig/bitnet.pc"
    for h in include/*.h; do rm -f "$incdir/${h#include/}"; done
    exit 0
fi

for f in "$BIN" "$BUILD/libbitnet.a" "$BUILD/libbitnet.so.$VERSION"; do
    [ -f "$f" ] || { echo "install: $f is missing (make bitnet-run lib)" >&2; exit 1; }
done

install -d "$bindir" "$incdir" "$libdir/pkgconfig"
install -m 755 "$BIN" "$bindir/bitnet-run"
install -m 644 include/*.h "$incdir/"
install -m 644 "$BUILD/libbitnet.a" "$libdir/libbitnet.a"
install -m 755 "$BUILD/libbitnet.so.$VERSION" "$libdir/libbitnet.so.$VERSION"
ln -sf "libbitnet.so.$VERSION" "$libdir/libbitnet.so.$SOMAJOR"
ln -sf "libbitnet.so.$SOMAJOR" "$libdir/libbitnet.so"
# The .pc names the final paths (without DESTDIR), under ${prefix} where
# they lie below it.
under_prefix() {
    case $1 in
    "$PREFIX"/*) printf '%s\n' "\${prefix}${1#"$PREFIX"}" ;;
    *) printf '%s\n' "$1" ;;
    esac
}
pc_libdir=$(under_prefix "$LIBDIR")
pc_incdir=$(under_prefix "$INCLUDEDIR")
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@LIBDIR@|$pc_libdir|g" -e "s|@INCLUDEDIR@|$pc_incdir|g" \
    -e "s|@VERSION@|$VERSION|g" -e "s|@LIBS_PRIVATE@|$LIBS_PRIVATE|g" bitnet.pc.in \
    >"$libdir/pkgconfig/bitnet.pc"
chmod 644 "$libdir/pkgconfig/bitnet.pc"
echo "installed bitnet-run $VERSION under ${DESTDIR}$PREFIX"
