#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# soak.sh — a soak of cio's chat server example: chat-style load (40
# clients, lines broadcast to the others, some past the line limit) with
# random connection resets (SO_LINGER 0, some mid-line), and the server's
# RSS and descriptor count sampled from /proc every 30 s at a quiet point
# (all clients gone). Fails unless both stay flat: descriptors back to the
# first quiet point's count every time, RSS within max(5 %, 1 MiB) of the
# first sample (bench/soak_load.py has the details). Loopback only; stops
# by itself. Builds examples/chat_server into build-soak (Release, -O2).
#
#   bench/soak.sh                 10 minutes
#   bench/soak.sh --minutes N     N minutes; or SOAK_SECONDS=S for seconds
#
# SOAK_INTERVAL (default 30) is the sampling period in seconds; CIO_BACKEND
# picks the server's backend as for any cio program.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${SOAK_SECONDS:-600}
case "${1:-}" in
"") ;;
--minutes)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "usage: bench/soak.sh [--minutes N]" >&2; exit 2; }
    seconds=$(($2 * 60))
    ;;
*)
    echo "usage: bench/soak.sh [--minutes N]" >&2
    exit 2
    ;;
esac
interval=${SOAK_INTERVAL:-30}
build=build-soak

. scripts/deps.sh
need_packages "${CIO_BUILD_PACKAGES[@]}" python3 || exit 1
mkdir -p "$build"
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" \
    -DCIO_TESTS=OFF -DCIO_EXAMPLES=ON -DCIO_SANITIZE= &&
    cmake --build "$build" -j"$(nproc)" --target chat_server; } >"$build/build.log" 2>&1; then
    tail -n 40 "$build/build.log"
    echo "soak: the build failed (all of it: $build/build.log)" >&2
    exit 1
fi

# The server picks a free port (0) and says which on its first line.
out=$(mktemp)
"$build/examples/chat_server" 0 >"$out" 2>&1 &
server=$!
# ^C's signal, which the chat server stops on; SIGKILL if it lingers.
# Returns the server's exit status (0: it stopped cleanly).
stop_server() {
    kill -INT "$server" 2>/dev/null &&
        ! timeout 10 tail --pid="$server" -f /dev/null && kill -KILL "$server" 2>/dev/null
    wait "$server" 2>/dev/null
}
trap 'stop_server; rm -f "$out"' EXIT
port=
for _ in $(seq 50); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out")
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -z "$port" ]; then
    cat "$out"
    echo "soak: the chat server did not start" >&2
    exit 1
fi
echo "soak: chat_server (pid $server, port $port, backend ${CIO_BACKEND:-io_uring}) for $seconds s," \
    "sampled every $interval s; $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
python3 -B -E -s bench/soak_load.py "$server" "$port" "$seconds" "$interval"
status=$?
if ! kill -0 "$server" 2>/dev/null; then
    echo "soak: FAIL: the server died during the soak:"
    cat "$out"
    exit 1
fi
# It must also stop cleanly on ^C (cio_server_close, then cio_run's end).
stop_server
code=$?
trap 'rm -f "$out"' EXIT
if [ $code -ne 0 ]; then
    echo "soak: FAIL: the server exited with status $code on SIGINT:"
    cat "$out"
    exit 1
fi
echo "soak: the server stopped cleanly on SIGINT"
exit $status
