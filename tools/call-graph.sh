#!/usr/bin/env bash
# call-graph.sh - the file-level call graph of src/, from the built objects'
# symbol tables: "A -> B" when an object of unit A uses a function or
# variable that unit B defines. A shared header can hide a call circle that
# include-graph.sh cannot see (two files declared in one header calling
# each other); this check sees it. Exits 1 naming a cycle.
# Usage: tools/call-graph.sh [-q] [BUILD]   (-q: print only a cycle; BUILD
# defaults to build, after `make`)
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=0
[ "${1:-}" = "-q" ] && { quiet=1; shift; }
build=${1:-build}
[ -d "$build/src" ] || { echo "call-graph: no objects under $build/src (run make first)" >&2; exit 1; }

# only objects whose source still exists: a stale one from a moved file
# would add edges the code no longer has
objs=$(find "$build/src" -name '*.o' -not -path '*/pic/*' | sort | while read -r o; do
    src=${o#"$build"/}
    [ -e "${src%.o}.c" ] && echo "$o"
done)
defs=$(for o in $objs; do
    unit=${o#"$build"/src/}
    nm --defined-only -g "$o" | awk -v u="${unit%.o}" 'NF == 3 { print $3, u }'
done | sort -k1,1)
uses=$(for o in $objs; do
    unit=${o#"$build"/src/}
    nm -u "$o" | awk -v u="${unit%.o}" '{ print $NF, u }'
done | sort -k1,1)
all=$(join <(echo "$uses") <(echo "$defs") | awk '$2 != $3 { print $2, $3 }' | sort -u)
[ "$quiet" = 1 ] || echo "$all" | sed 's/ / -> /'
if ! cycle=$(echo "$all" | tsort 2>&1 >/dev/null) || [ -n "$cycle" ]; then
    echo "call-graph: the calls between files of src/ form a cycle:" >&2
    echo "$cycle" | sed -n 's/^tsort: //p' | grep -v 'input contains a loop' | sed 's/^/  /' >&2
    exit 1
fi
echo "call-graph: $(echo "$all" | wc -l) edges, no cycle" >&2
