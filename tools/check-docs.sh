#!/usr/bin/env bash
# check-docs.sh - the docs keep up with the code:
# - README.md's flag table (## Flags) and docs/PERFORMANCE.md's --bench
#   table list the option table's flags (src/common/options.c, dumped by
#   `bitnet-run --print-flags`) in its order, with its sections, flag
#   spellings and defaults, row for row (the meaning column is free prose);
# - the README anchors the help text cites exist;
# - docs/ARCHITECTURE.md's source map lists every tracked .c and .h file of
#   src/ and include/, and nothing else;
# - every relative link in the tracked Markdown files points at a tracked
#   file and, with #anchor, at one of its headings, so the links work in a
#   fresh clone.
# Prints each problem and exits 1 if there is one.
# Usage: tools/check-docs.sh [BIN]   (BIN defaults to ./bitnet-run)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-./bitnet-run}
[ -x "$BIN" ] || { echo "check-docs: $BIN is missing (run make first)" >&2; exit 1; }

problems=0
problem() { echo "check-docs: $*" >&2; problems=$((problems + 1)); }

help_text() { "$BIN" --help; "$BIN" --bench --help; }

# "FLAGS<TAB>DEFAULT" for each row of the first Markdown table after the
# heading line $2 in file $1 (to the next heading): the first and the last
# cell, header and separator rows left out.
table_rows() {
    awk -v heading="$2" '
        $0 == heading { on = 1; next }
        on && /^#/ { exit }
        on && /^\|/ {
            if (++row <= 2) next # header, separator
            line = $0; gsub(/\\\|/, "\001", line)
            n = split(line, cell, "|")
            first = cell[2]; last = cell[n - 1]
            gsub(/^ +| +$/, "", first); gsub(/^ +| +$/, "", last)
            gsub(/\001/, "\\|", first); gsub(/\001/, "\\|", last)
            print first "\t" last
        }
        on && row && !/^\|/ { exit }' "$1"
}

# Compares a docs table with the option table's rows of one scope.
check_flag_table() { # FILE HEADING SCOPE
    local want got
    want=$("$BIN" --print-flags | awk -F '\t' -v s="$3" '$1 == s { print $2 "\t" $3 }')
    got=$(table_rows "$1" "$2")
    [ -n "$want" ] || { problem "bitnet-run --print-flags lists no $3 flags"; return; }
    if [ "$want" != "$got" ]; then
        problem "$1 ($2) does not match the option table (src/common/options.c); diff, < table > docs:"
        diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | grep '^[<>]' >&2 || true
    fi
}

# The files docs/ARCHITECTURE.md's source map names: a row "**`src/x/`**"
# starts a folder, the code spans of the other rows' first cells are files
# in it (or, with a slash, paths from the root).
mapped_files() {
    awk '
        /^## Source map/ { on = 1; next }
        on && /^## / { exit }
        on && /^\| / {
            split($0, cell, "|"); first = cell[2]
            if (first ~ /^ *\*\*`/) { dir = first; gsub(/[ *`]/, "", dir); next }
            while (match(first, /`[^`]+`/)) {
                f = substr(first, RSTART + 1, RLENGTH - 2)
                print (f ~ /\// ? f : dir f)
                first = substr(first, RSTART + RLENGTH)
            }
        }' docs/ARCHITECTURE.md | sort -u
}

check_flag_table README.md "## Flags" main
check_flag_table docs/PERFORMANCE.md '### `--bench` options and output' bench

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

for anchor in $(help_text | grep -o 'README\.md#[A-Za-z0-9_-]*' | sed 's/.*#//' | sort -u); do
    anchors README.md | grep -qx -- "$anchor" ||
        problem "--help cites README.md#$anchor, which is not a heading of README.md"
done

tracked=$(git ls-files)

sources=$(grep -E '^(src|include)/.*\.[ch]$' <<<"$tracked" | sort)
while read -r f; do
    [ -n "$f" ] && problem "docs/ARCHITECTURE.md's source map does not list $f"
done < <(comm -23 <(printf '%s\n' "$sources") <(mapped_files))
while read -r f; do
    [ -n "$f" ] && problem "docs/ARCHITECTURE.md's source map lists $f, which is not a tracked source file"
done < <(comm -13 <(printf '%s\n' "$sources") <(mapped_files))

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
echo "check-docs: ok ($("$BIN" --print-flags | grep -c '`') flag rows and $(wc -l <<<"$sources") source files documented, links of ${#md_files[@]} Markdown files resolve)"
