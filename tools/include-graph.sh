#!/usr/bin/env bash
# include-graph.sh - the file-level dependency graph of src/, from its
# #include "..." lines. A unit is a source file together with the header of
# the same name (src/kernels/qk256.c and qk256.h are kernels/qk256); a line
# "A -> B" says that a file of unit A includes the header of unit B. Prints
# every edge, and exits 1 naming the units of a cycle when the edges form
# one: dependencies between files must point one way.
# Usage: tools/include-graph.sh [-q]   (-q: print only a cycle)
set -euo pipefail
cd "$(dirname "$0")/.."

edges() {
    local f dir unit inc target
    for f in src/*/*.[ch]; do
        dir=$(dirname "$f")
        unit=${f#src/}
        unit=${unit%.*}
        sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
            while read -r inc; do
                # as the compiler looks: beside the file, then -Isrc/common
                # (the tool's folders), then -Isrc (include/ is not src/)
                if [ -e "$dir/$inc" ]; then target="$dir/$inc"
                elif [ -e "src/common/$inc" ]; then target="src/common/$inc"
                elif [ -e "src/$inc" ]; then target="src/$inc"
                else continue; fi
                target=$(realpath -m --relative-to=src "$target")
                [ "${target%.*}" = "$unit" ] || echo "$unit ${target%.*}"
            done
    done | sort -u
}

all=$(edges)
[ "${1:-}" = "-q" ] || echo "$all" | sed 's/ / -> /'
if ! cycle=$(echo "$all" | tsort 2>&1 >/dev/null) || [ -n "$cycle" ]; then
    echo "include-graph: the includes of src/ form a cycle:" >&2
    echo "$cycle" | sed -n 's/^tsort: //p' | grep -v 'input contains a loop' | sed 's/^/  /' >&2
    exit 1
fi
echo "include-graph: $(echo "$all" | wc -l) edges, no cycle" >&2
