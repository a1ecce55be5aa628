#!/usr/bin/env bash
# run-w5.sh — W5 (TCP echo) of WORKLOADS.md: one load generator
# (bench/w5_loadgen.c) against the raw-epoll reference server, cio (a task
# per connection, cio_read → cio_write), libuv, and Python's asyncio
# (Protocol and streams; uvloop's Protocol too where Debian packages it),
# all in this one run; prints round trips/s, p50/p99, the server's CPU per
# round trip and the ratios to raw epoll, with the issue's targets marked
# PASS or FAIL. Installs the Debian packages it needs if they are missing,
# and builds into build-w5 (Release, -O2, no sanitizers).
#
#   bench/run-w5.sh            as defined: C = 1 and 100, 1 s warm-up + 5 s,
#                              3 reps round-robin (~6 min)
#   bench/run-w5.sh --quick    one rep (~2 min)
#
# Kept from WORKLOADS.md: a fresh server process for every (rep, C), pinned
# with `taskset -c 0`, the load generator with `taskset -c 1`; the server's
# CPU from its /proc/PID/stat over the measured window; its peak RSS from
# /usr/bin/time. One supplementary row: asyncio Protocol with PRIME=0.
# CIO_BACKEND in the environment picks cio's backend. Raw runs are kept in
# build-w5/results-w5.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."

reps=3
case "${1:-}" in
"") ;;
--quick) reps=1 ;;
*)
    echo "usage: bench/run-w5.sh [--quick]" >&2
    exit 2
    ;;
esac
build=build-w5
py=/usr/bin/python3

. scripts/deps.sh
need_packages build-essential cmake pkg-config libuv1-dev python3 time util-linux || exit 1
uvloop=no
if $py -c 'import uvloop' 2>/dev/null; then
    uvloop=yes
fi

# ---------------------------------------------------------------- build
# libcio.a through the project's CMake; the W5 programs with plain cc
# against it (bench/w5.cmake has the same rules for bench/CMakeLists.txt).

mkdir -p "$build/w5"
cflags=(-std=c11 -O2 -DNDEBUG -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow
    -Wstrict-prototypes -Wmissing-prototypes -Wcast-qual -Werror -Ibench -Iinclude)
if ! {
    cmake -S . -B "$build" -DCIO_TESTS=OFF -DCIO_EXAMPLES=OFF -DCIO_BENCH=OFF -DCIO_SANITIZE= \
        -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" &&
        cmake --build "$build" -j"$(nproc)" --target cio_static &&
        cc "${cflags[@]}" -o "$build/w5/w5_loadgen" bench/w5_loadgen.c &&
        cc "${cflags[@]}" -o "$build/w5/w5_raw_epoll" bench/w5_raw_epoll.c &&
        cc "${cflags[@]}" -o "$build/w5/w5_cio" bench/w5_cio.c "$build/libcio.a" -lpthread -lm &&
        cc "${cflags[@]}" $(pkg-config --cflags libuv) -o "$build/w5/w5_uv" bench/w5_uv.c \
            $(pkg-config --libs libuv)
} >"$build/build-w5.log" 2>&1; then
    tail -n 40 "$build/build-w5.log"
    echo "run-w5: the build failed (all of it: $build/build-w5.log)" >&2
    exit 1
fi
bin=$build/w5

# ----------------------------------------------------------------- runs

# "peer prime server command...": prime 0 runs the load generator with PRIME=0.
pyrun="$py -B -E -s bench/w5_py.py"
servers=(
    "raw-epoll 1 $bin/w5_raw_epoll"
    "cio 1 $bin/w5_cio"
    "libuv 1 $bin/w5_uv"
    "asyncio-protocol 1 $pyrun asyncio protocol"
    "asyncio-streams 1 $pyrun asyncio streams"
)
[ "$uvloop" = yes ] && servers+=("uvloop-protocol 1 $pyrun uvloop protocol")
servers+=("asyncio-protocol-noprime 0 $pyrun asyncio protocol")

results=$build/results-w5.tsv
scratch=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
    rm -rf "$scratch"
}
trap cleanup EXIT
: >"$results"

# Starts a server; sets server_pid (the server itself, not time(1)),
# server_port and time_pid. False if it never said where it listens.
start_server() {
    # The previous server's line must not be read for this one's.
    rm -f "$scratch/srv.out" "$scratch/time"
    : >"$scratch/srv.out"
    # shellcheck disable=SC2086  # the command is a word list on purpose
    taskset -c 0 /usr/bin/time -f '%e %M' -o "$scratch/time" $1 >"$scratch/srv.out" \
        2>"$scratch/srv.err" &
    time_pid=$!
    server_pid= server_port=
    for _ in $(seq 100); do
        local line
        line=$(grep -m1 '^LISTEN ' "$scratch/srv.out" 2>/dev/null)
        if [ -n "$line" ]; then
            server_port=$(sed -E 's/.*port=([0-9]+).*/\1/' <<<"$line")
            server_pid=$(sed -E 's/.*pid=([0-9]+).*/\1/' <<<"$line")
            return 0
        fi
        kill -0 "$time_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Ends the server (SIGTERM, then SIGKILL if it lingers) and time(1).
stop_server() {
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$time_pid" 2>/dev/null
}

load_before=$(cut -d' ' -f1 /proc/loadavg)
start=$SECONDS
echo "run-w5: ${#servers[@]} servers x C in (1, 100) x $reps reps, round-robin"
for rep in $(seq "$reps"); do
    for conns in 1 100; do
        for spec in "${servers[@]}"; do
            read -r peer prime cmd <<<"$spec"
            status=ok result= maxrss=0
            if start_server "$cmd"; then
                result=$(PRIME=$prime taskset -c 1 "$bin/w5_loadgen" --port "$server_port" \
                    --conns "$conns" --server-pid "$server_pid" 2>"$scratch/lg.err" |
                    grep '^RESULT ' | tail -n 1)
                [ -n "$result" ] || status="loadgen-failed"
                stop_server
                read -r _ maxrss < <(tail -n 1 "$scratch/time" 2>/dev/null)
            else
                status="server-failed"
                kill -KILL "$time_pid" 2>/dev/null
                wait "$time_pid" 2>/dev/null
            fi
            server_pid=
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$conns" "$peer" "$status" \
                "${maxrss:-0}" "$result" >>"$results"
            printf 'run-w5: rep %d/%d  C=%-3d %-24s %s\n' "$rep" "$reps" "$conns" "$peer" "$status"
            if [ "$status" != ok ]; then
                sed 's/^/run-w5:   /' "$scratch/srv.err" "$scratch/lg.err" 2>/dev/null | tail -n 5
            fi
        done
    done
done
elapsed=$((SECONDS - start))
load_after=$(cut -d' ' -f1 /proc/loadavg)

echo
echo "== W5 TCP echo (WORKLOADS.md): 1 s warm-up + 5 s, $reps reps round-robin," \
    "server taskset -c 0, load generator taskset -c 1 =="
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
    "kernel $(uname -r), Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
echo "load average (1 min): $load_before before, $load_after after"
echo "cio: backend ${CIO_BACKEND:-default}, $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(
    git diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes'), -O2 -DNDEBUG;" \
    "libuv $(pkg-config --modversion libuv); $($py -V 2>&1), uvloop: $uvloop"
echo
$py -B -E -s bench/w5_report.py "$results"
status=$?
echo "run-w5: $((elapsed / 60)) min $((elapsed % 60)) s; raw runs in $results"
exit $status
