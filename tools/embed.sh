#!/bin/sh
# embed.sh NAME FILE - prints a C file that defines the bytes of FILE as
# `const unsigned char NAME[]` and their count as `const size_t NAME_len`.
# The Makefile embeds the server's chat page (src/server/webui/index.html)
# this way, so the binary serves it without reading any file.
set -eu
name=$1
file=$2
printf '/* %s: generated from %s by tools/embed.sh; do not edit. */\n' "$name" "$file"
printf '#include <stddef.h>\n\n'
printf 'extern const unsigned char %s[];\nextern const size_t %s_len;\n\n' "$name" "$name"
printf 'const unsigned char %s[] = {\n' "$name"
od -An -v -tx1 "$file" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g; s/^/    /'
printf '};\nconst size_t %s_len = sizeof %s;\n' "$name" "$name"
