#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_http_example.sh — examples/http_server against curl (the backend
# from CIO_BACKEND, as every test): keep-alive reuses one connection, a
# body is skipped and the next request on the connection answered,
# HTTP/1.0 and "Connection: close" end the connection, malformed and
# unsupported requests get 400 and 501, HTTPS with ALPN http/1.1, and
# SIGTERM ends the server cleanly (exit 0). Loopback only.
#
#   tests/test_http_example.sh HTTP_SERVER_BINARY
set -uo pipefail
bin=$1
dir=$(mktemp -d /tmp/cio-http-XXXXXX)
pid=
fail() {
    echo "FAIL: $*" >&2
    [ -f "$dir/server.log" ] && sed 's/^/  server: /' "$dir/server.log" >&2
    exit 1
}
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

# Starts the server with extra arguments; sets pid and port.
start() {
    "$bin" --port 0 --body "hi there" "$@" >"$dir/server.out" 2>"$dir/server.log" &
    pid=$!
    port=
    for _ in $(seq 200); do
        port=$(sed -nE 's/^LISTEN port=([0-9]+).*/\1/p' "$dir/server.out")
        [ -n "$port" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "the server exited before listening"
        sleep 0.05
    done
    fail "the server does not listen"
}

# Stops it with SIGTERM: it must exit 0 by itself.
stop() {
    kill -TERM "$pid"
    wait "$pid"
    local status=$?
    pid=
    [ $status -eq 0 ] || fail "exit status $status after SIGTERM"
}

# A raw request over bash's /dev/tcp: the whole answer until the server
# closes (a 5 s limit).
raw() {
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf '%b' "$1" >&3
    timeout 5 cat <&3
    exec 3<&-
}

start
url=http://127.0.0.1:$port/
out=$(curl -sv --max-time 10 "$url" "${url}again" 2>&1)
[ "$(grep -o 'hi there' <<<"$out" | wc -l)" -eq 2 ] || fail "two answers expected: $out"
grep -q 'Re-using existing connection' <<<"$out" || fail "keep-alive did not reuse: $out"
out=$(curl -s --max-time 10 -d 'some body bytes' "$url" "$url" 2>&1)
[ "$out" = "hi therehi there" ] || fail "a POST and a GET: '$out'"
out=$(raw 'GET / HTTP/1.0\r\n\r\n')
grep -q '^Connection: close' <<<"$out" && grep -q 'hi there' <<<"$out" ||
    fail "HTTP/1.0: $out"
out=$(raw 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
grep -q '^HTTP/1.1 200 OK' <<<"$out" || fail "Connection: close: $out"
out=$(raw 'GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n')
grep -q '^HTTP/1.1 400 ' <<<"$out" || fail "folded header: $out"
out=$(raw 'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
grep -q '^HTTP/1.1 501 ' <<<"$out" || fail "chunked body: $out"
out=$(raw 'GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n')
[ "$(grep -o 'HTTP/1.1 200 OK' <<<"$out" | wc -l)" -eq 2 ] || fail "pipelined: $out"
stop

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/server.key" -out "$dir/server.pem" -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >"$dir/openssl.log" 2>&1 ||
    fail "openssl req: $(cat "$dir/openssl.log")"
start --tls "$dir/server.pem" "$dir/server.key"
out=$(curl -sv --max-time 10 --cacert "$dir/server.pem" "https://localhost:$port/" \
    --resolve "localhost:$port:127.0.0.1" "https://localhost:$port/b" 2>&1)
[ "$(grep -o 'hi there' <<<"$out" | wc -l)" -eq 2 ] || fail "two HTTPS answers expected: $out"
grep -q 'ALPN: server accepted http/1.1' <<<"$out" || fail "ALPN: $out"
stop
echo "ok"
