#!/usr/bin/env bash
# check-docs.sh - the manual keeps up with the tool: every flag that
# `bitnet-run --help` and `bitnet-run --bench --help` list appears in
# README.md, the README anchors the help text cites exist, and every relative
# link in the tracked Markdown files points at a tracked file and, with
# #anchor, at one of its headings, so the links work in a fresh clone.
# Prints each problem and exits 1 if there is one.
# Usage: tools/check-docs.sh [BIN]   (BIN defaults to ./bitnet-run)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-./bitnet-run}
[ -x "$BIN" ] || { echo "check-docs: $BIN is missing (run make first)" >&2; exit 1; }

problems=0
problem() { echo "check-docs: $*" >&2; problems=$((problems + 1)); }

help_text() { "$BIN" --help; "$BIN" --bench --help; }
OPTION_INDENT=8 # option lines start within this many spaces

# The flags of the help's option column: the words starting with a dash
# before a line's description (continuation lines are indented further).
help_flags() {
    help_text | awk -v col="$OPTION_INDENT" '/^ +-/ {
        match($0, /^ +/); if (RLENGTH > col) next
        spec = $0; sub(/^ +/, "", spec); sub(/  .*/, "", spec)
        n = split(spec, w, /[ ,\/]+/)
        for (i = 1; i <= n; i++) if (w[i] ~ /^--?[A-Za-z]/) print w[i]
    }' | sort -u
}

# GitHub's anchors of a Markdown file's headings (outside code blocks):
# lower case, punctuation dropped, spaces to hyphens, -1, -2... on repeats.
anchors() {
    awk '/^[ \t]*```/ { fence = !fence; next }
        fence { next }
        /^#+ / {
            h = $0; sub(/^#+ +/, "", h); h = tolower(h)
            gsub(/[^a-z0-9 _-]/, "", h); gsub(/ /, "-", h)
            print (seen[h]++ ? h "-" (seen[h] - 1) : h)
        }' "$1"
}

# "FILE<TAB>TARGET" for each inline link outside code.
links() {
    awk '/^[ \t]*```/ { fence = !fence; next }
        fence { next }
        {
            line = $0; gsub(/`[^`]*`/, "", line)
            while (match(line, /\]\([^) ]+\)/)) {
                print FILENAME "\t" substr(line, RSTART + 2, RLENGTH - 3)
                line = substr(line, RSTART + RLENGTH)
            }
        }' "$@"
}

for flag in $(help_flags); do
    grep -qE -- "(^|[^A-Za-z0-9_-])${flag}([^A-Za-z0-9_-]|$)" README.md ||
        problem "README.md does not mention $flag (listed by --help)"
done

for anchor in $(help_text | grep -o 'README\.md#[A-Za-z0-9_-]*' | sed 's/.*#//' | sort -u); do
    anchors README.md | grep -qx -- "$anchor" ||
        problem "--help cites README.md#$anchor, which is not a heading of README.md"
done

tracked=$(git ls-files)
is_tracked() { # a tracked file, or a folder holding one
    grep -qxF -- "$1" <<<"$tracked" || grep -q "^$1/" <<<"$tracked"
}

mapfile -t md_files < <(git ls-files '*.md')
while IFS=$'\t' read -r file target; do
    case $target in
        *://* | mailto:*) continue ;;
    esac
    path=${target%%#*}
    anchor=""
    [[ $target == *'#'* ]] && anchor=${target#*#}
    if [ -z "$path" ]; then
        resolved=$file
    else
        resolved=$(realpath -m --relative-to=. "$(dirname "$file")/$path")
        is_tracked "$resolved" || { problem "$file: link to $target: no such file in the repository"; continue; }
    fi
    if [ -n "$anchor" ] && ! { [[ $resolved == *.md ]] && anchors "$resolved" | grep -qx -- "$anchor"; }; then
        problem "$file: link to $target: no heading #$anchor in $resolved"
    fi
done < <(links "${md_files[@]}")

if [ "$problems" -gt 0 ]; then
    echo "check-docs: $problems problem(s)" >&2
    exit 1
fi
echo "check-docs: ok ($(help_flags | wc -l) flags documented, links of ${#md_files[@]} Markdown files resolve)"
