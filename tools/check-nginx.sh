#!/usr/bin/env bash
# check-nginx.sh - two `bitnet-run --server` replicas behind nginx as one
# endpoint, on loopback (docs/SERVER.md): both replicas answer
# requests that go through nginx, a streamed answer comes through, and once
# one replica is killed the requests are routed to the other. Skips (exit 0)
# when nginx or curl is absent. Usage: tools/check-nginx.sh [MODEL]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/bitnet-tiny.gguf}
BIN=${BIN:-./bitnet-run}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "check-nginx: skipped: nginx is not installed (apt-get install nginx)"; exit 0; }
command -v curl >/dev/null || { echo "check-nginx: skipped: curl is not installed"; exit 0; }

dir=$(mktemp -d /tmp/check-nginx-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "check-nginx: FAILED: $*" >&2; exit 1; }

# start_replica N: a server on a free port; sets port_N and pid_N
start_replica() {
    "$BIN" -m "$MODEL" -t 1 -c 256 --parallel 2 --server --port 0 2>"$dir/replica$1.log" &
    pids+=($!)
    eval "pid_$1=$!"
    for _ in $(seq 100); do
        p=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$dir/replica$1.log")
        [ -n "$p" ] && { eval "port_$1=$p"; return; }
        sleep 0.1
    done
    fail "replica $1 did not start: $(cat "$dir/replica$1.log")"
}
start_replica 1
start_replica 2

# a free port for nginx
front=""
for try in $(seq 20); do
    p=$(( 20000 + (RANDOM * 7 + try) % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then front=$p; break; fi
done
[ -n "$front" ] || fail "no free port for nginx"

mkdir -p "$dir/tmp"
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp; uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
    upstream bitnet {
        server 127.0.0.1:$port_1 max_fails=1 fail_timeout=10s;
        server 127.0.0.1:$port_2 max_fails=1 fail_timeout=10s;
    }
    server {
        listen 127.0.0.1:$front;
        location / {
            proxy_pass http://bitnet;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 600s;
            proxy_next_upstream error timeout;
        }
    }
}
CONF
"$NGINX" -p "$dir" -c "$dir/nginx.conf" || fail "nginx did not start: $(cat "$dir/error.log")"
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$front/health" >/dev/null && break; sleep 0.1; done

complete() {
    curl -fsS --max-time 20 "http://127.0.0.1:$front/v1/completions" \
        -d '{"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0}'
}
requests_of() { # requests a replica answered, from its /metrics
    curl -fs "http://127.0.0.1:$1/metrics" | sed -n 's/^bitnet_requests_total //p'
}
for _ in 1 2 3 4 5 6; do complete | grep -q '"finish_reason"' || fail "a request through nginx"; done
r1=$(requests_of "$port_1") r2=$(requests_of "$port_2")
[ "${r1%.*}" -ge 2 ] && [ "${r2%.*}" -ge 2 ] || fail "both replicas should answer (got $r1 and $r2)"
curl -fsS -N --max-time 20 "http://127.0.0.1:$front/v1/chat/completions" \
    -d '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": true}' |
    grep -q '^data: \[DONE\]' || fail "a stream through nginx"

kill -9 "$pid_1"
wait "$pid_1" 2>/dev/null || true
for _ in 1 2 3 4; do complete | grep -q '"finish_reason"' || fail "a request after a replica died"; done
echo "check-nginx: ok (replicas on $port_1 and $port_2 behind nginx on $front; the killed one is routed around)"
