#!/bin/sh
# embeddings.sh BIN MODEL - POST /v1/embeddings and /embedding of
# bitnet-run --server on an embedding model, with curl (and the openai npm
# client when tests/server/node_modules has it), against the CLI's
# --embedding; and the 400s. Run by tests/test_embed.c; prints what failed
# and exits 1, or exits 0.
set -eu
BIN=$1
MODEL=$2
log=$(mktemp)
"$BIN" -m "$MODEL" -t 1 --server --port 0 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
fail() { echo "embeddings.sh: $*"; exit 1; }
port=
for _ in $(seq 150); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || fail "the server did not start: $(cat "$log")"
url=http://127.0.0.1:$port
post() { curl -sS --max-time 20 "$url$1" -H 'Content-Type: application/json' -d "$2"; }
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$url$1" -d "$2"; }

# the CLI's first value of each text, as the server must give it
cli=$("$BIN" -m "$MODEL" -t 1 --embedding -p '2+2=
The capital of France is' --embd-output-format raw 2>/dev/null | cut -d' ' -f1)
first=$(echo "$cli" | sed -n 1p)
second=$(echo "$cli" | sed -n 2p)

out=$(post /v1/embeddings '{"input": ["2+2=", "The capital of France is"], "model": "m"}')
echo "$out" | grep -q "\"object\": \"list\"" || fail "not a list object: $out"
echo "$out" | grep -q "\"index\": 0, \"embedding\": \[$first," || fail "input 0 differs from the CLI ($first): $out"
echo "$out" | grep -q "\"index\": 1, \"embedding\": \[$second," || fail "input 1 differs from the CLI ($second): $out"
echo "$out" | grep -q '"usage": {"prompt_tokens": [1-9]' || fail "no usage: $out"
out=$(post /v1/embeddings '{"input": "2+2=", "encoding_format": "base64"}')
echo "$out" | grep -q '"embedding": "[A-Za-z0-9+/]*=*"' || fail "base64: $out"
out=$(post /v1/embeddings '{"input": [1016, 17, 10, 17, 28, 1017]}')
echo "$out" | grep -q "\"embedding\": \[$first," || fail "token ids differ from the text: $out"
out=$(post /embedding '{"content": "2+2="}')
echo "$out" | grep -q "^\[{\"index\": 0, \"embedding\": \[\[$first," || fail "/embedding: $out"

[ "$(status /v1/completions '{"prompt": "hi"}')" = 400 ] || fail "generation on an embedding model is not a 400"
[ "$(status /v1/chat/completions '{"messages": [{"role": "user", "content": "hi"}]}')" = 400 ] || fail "chat is not a 400"
[ "$(status /v1/embeddings '{"input": []}')" = 400 ] || fail "empty input is not a 400"
[ "$(status /v1/embeddings '{"input": [[99999]]}')" = 400 ] || fail "a bad token id is not a 400"
[ "$(status /v1/embeddings '{"input": 7}')" = 400 ] || fail "a number input is not a 400"
[ "$(status /v1/embeddings '{"input": "x", "encoding_format": "hex"}')" = 400 ] || fail "a bad encoding is not a 400"
[ "$(status /v1/embeddings '{"input": "x"')" = 400 ] || fail "malformed JSON is not a 400"

here=$(dirname "$0")
if command -v node >/dev/null 2>&1 && [ -f "$here/node_modules/openai/package.json" ]; then
    out=$(node "$here/openai_embeddings.mjs" "$url/v1" "$first" "$second" '2+2=' 'The capital of France is')
    [ "$out" = ok ] || fail "openai client: $out"
fi
echo "embeddings.sh: ok"
