#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-http.sh — issue 17's HTTP figure: wrk against examples/http_server
# (cio, on io_uring and on epoll), nginx (one worker, access log off, the
# same body) and the libuv server of bench/http_uv.c (the same parser),
# plain and over TLS (keep-alive: the handshakes happen once per
# connection, at the start), all in this one run. Each server runs
# `taskset -c 0`, wrk `taskset -c 1` (one thread, 100 connections, 1 s of
# warm-up, then 5 s measured); the server's CPU time over the measured run
# comes from its /proc/PID/stat. Prints requests/s, requests per server
# CPU-second, and the ratios the issue sets as targets, PASS or FAIL:
#   cio / nginx >= 1.1 and cio / libuv >= 1 (plain), cio / nginx >= 1 (TLS)
# A fresh server for each (rep, row); rows round-robin.
#
#   bench/run-http.sh [--quick]     3 reps (1 rep)
set -uo pipefail
cd "$(dirname "$0")/.."

. scripts/deps.sh
. bench/backends.sh
bench_parse_reps run-http "$@" || exit 2
build=build-http
need_packages "${CIO_BUILD_PACKAGES[@]}" "${CIO_BENCH_PACKAGES[@]}" || exit 1
BENCH_EXAMPLES=ON bench_build "$build" run-http http_server http_uv || exit 1
nginx=/usr/sbin/nginx
[ -x "$nginx" ] || nginx=$(command -v nginx)
body='Hello, World!'

bench_scratch
(
    cd "$scratch" &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout server.key -out server.pem -days 2 -subj /CN=localhost \
            -addext subjectAltName=DNS:localhost,IP:127.0.0.1
) >"$scratch/openssl.log" 2>&1 || { cat "$scratch/openssl.log"; exit 1; }

# nginx as the issue asks: one worker, no access log; keep-alive without a
# request limit (nginx's default closes a connection after 1,000).
nginx_conf() { # PORT [ssl]
    cat <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $scratch/nginx.pid;
error_log $scratch/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path $scratch/body;
  proxy_temp_path $scratch/proxy;
  fastcgi_temp_path $scratch/fastcgi;
  uwsgi_temp_path $scratch/uwsgi;
  scgi_temp_path $scratch/scgi;
  server {
    listen 127.0.0.1:$1 $2;
    ssl_certificate $scratch/server.pem;
    ssl_certificate_key $scratch/server.key;
    location / { return 200 "$body\n"; }
  }
}
CONF
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# "name scheme command...": the command gets PORT substituted.
rows=(
    "cio-io_uring http env CIO_BACKEND=io_uring $build/examples/http_server --port PORT --body BODY"
    "cio-epoll http env CIO_BACKEND=epoll $build/examples/http_server --port PORT --body BODY"
    "nginx http NGINX"
    "libuv http $build/bench/http_uv --port PORT --body BODY"
    "cio-io_uring-tls https env CIO_BACKEND=io_uring $build/examples/http_server --port PORT --body BODY --tls $scratch/server.pem $scratch/server.key"
    "nginx-tls https NGINX"
)

# Starts a row's server on a fresh port: sets server_pid and port.
start_row() { # SCHEME COMMAND...
    local scheme=$1
    shift
    port=$(free_port)
    if [ "$1" = NGINX ]; then
        nginx_conf "$port" "$([ "$scheme" = https ] && echo ssl)" >"$scratch/nginx.conf"
        taskset -c 0 "$nginx" -p "$scratch" -e "$scratch/nginx-error.log" \
            -c "$scratch/nginx.conf" >"$scratch/srv.out" 2>&1 &
        server_pid=$!
    else
        local args=() a
        for a in "$@"; do
            a=${a//PORT/$port}
            args+=("${a//BODY/$body
}")
        done
        # env(1) execs the server: the pid is the server's.
        taskset -c 0 "${args[@]}" >"$scratch/srv.out" 2>&1 &
        server_pid=$!
    fi
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    cat "$scratch/srv.out" >&2
    return 1
}

stop_row() {
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A rps perc
load_before=$(cut -d' ' -f1 /proc/loadavg)
echo "run-http: ${#rows[@]} servers x $reps reps, round-robin; wrk -t1 -c100, 1 s warm-up + 5 s"
for rep in $(seq "$reps"); do
    for row in "${rows[@]}"; do
        read -r name scheme cmd <<<"$row"
        # shellcheck disable=SC2086  # the command is a word list on purpose
        start_row "$scheme" $cmd || { echo "run-http: $name did not start" >&2; exit 1; }
        url="$scheme://127.0.0.1:$port/"
        # The answer must be the body, or the row measures nothing.
        got=$(curl -sk "$url")
        if [ "$got" != "$body" ]; then
            echo "run-http: $name answered '$got'" >&2
            exit 1
        fi
        taskset -c 1 wrk -t1 -c100 -d1s "$url" >/dev/null 2>&1
        before=$(cpu_ticks "$server_pid")
        out=$(taskset -c 1 wrk -t1 -c100 -d5s "$url" 2>&1)
        after=$(cpu_ticks "$server_pid")
        stop_row
        requests=$(sed -nE 's/^ *([0-9]+) requests in.*/\1/p' <<<"$out")
        errors=$(sed -nE 's/.*Non-2xx or 3xx responses: ([0-9]+).*/\1/p; s/.*Socket errors: (.*)/\1/p' <<<"$out")
        rate=$(sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' <<<"$out")
        ticks=$((after - before))
        per=$(awk -v r="$requests" -v t="$ticks" 'BEGIN {printf "%.0f", t ? r / (t / 100) : 0}')
        rps[$name]="${rps[$name]:-} $rate"
        perc[$name]="${perc[$name]:-} $per"
        echo "  rep $rep $name: $requests requests, $rate req/s, server CPU $ticks ticks," \
            "$per req per CPU-s${errors:+, errors: $errors}"
    done
done

echo
bench_describe "$load_before"
echo "wrk $(wrk -v 2>&1 | head -n 1 | awk '{print $2}'), $($nginx -v 2>&1 | sed 's/.*: //'), body '$body\\n', TLS 1.3 (OpenSSL defaults), P-256"
printf '%-18s %12s %18s   %s\n' server "req/s" "req/server CPU-s" "(per CPU-s, all reps)"
declare -A med
for row in "${rows[@]}"; do
    read -r name _ <<<"$row"
    med[$name]=$(bench_median "${perc[$name]}")
    printf '%-18s %12s %18s   (%s )\n' "$name" "$(bench_median "${rps[$name]}")" "${med[$name]}" \
        "${perc[$name]}"
done
target() { # LABEL A B MIN
    local r
    r=$(awk -v a="${med[$2]}" -v b="${med[$3]}" 'BEGIN {printf "%.2f", b ? a / b : 0}')
    echo "$1: $2 / $3 = $r per server CPU-s (target >= $4): $(awk -v r="$r" -v m="$4" \
        'BEGIN {print (r >= m) ? "PASS" : "FAIL"}')"
}
target plain cio-io_uring nginx 1.1
target plain cio-io_uring libuv 1.0
target plain cio-epoll nginx 1.1
target plain cio-epoll libuv 1.0
target TLS cio-io_uring-tls nginx-tls 1.0
