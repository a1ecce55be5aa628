#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-w5.sh — W5 (TCP echo) of WORKLOADS.md: one load generator
# (bench/w5_loadgen.c) against the raw-epoll reference server, cio (a task
# per connection, cio_read → cio_write) once on each backend (epoll,
# io_uring, poll), libuv, and Python's asyncio (Protocol and streams;
# uvloop's Protocol too where Debian packages it), all in this one run;
# prints round trips/s, p50/p99, the server's CPU per round trip and the
# ratios to raw epoll and to cio on epoll, with the issues' targets marked
# PASS or FAIL. A backend the loop cannot start on (io_uring before it is
# built in, or where the kernel refuses it) is shown as unavailable.
# Installs the Debian packages it needs if they are missing, and builds
# into build-w5 (Release, -O2, no sanitizers).
#
#   bench/run-w5.sh            as defined: C = 1 and 100, 1 s warm-up + 5 s,
#                              3 reps round-robin (~5 min)
#   bench/run-w5.sh --quick    one rep (~2 min)
#
# Kept from WORKLOADS.md: a fresh server process for every (rep, C), pinned
# with `taskset -c 0`, the load generator with `taskset -c 1`; the server's
# CPU from its /proc/PID/stat over the measured window; its peak RSS from
# /usr/bin/time. One supplementary row: asyncio Protocol with PRIME=0.
# Each cio row sets CIO_BACKEND itself (and checks that the server used
# that backend). Raw runs are kept in build-w5/results-w5.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."

. scripts/deps.sh
. bench/backends.sh
bench_parse_reps run-w5 "$@" || exit 2
build=build-w5
py=/usr/bin/python3

need_packages build-essential cmake pkg-config libuv1-dev python3 time util-linux || exit 1
uvloop=no
if $py -c 'import uvloop' 2>/dev/null; then
    uvloop=yes
fi

# ---------------------------------------------------------------- build
# Only W5's programs (bench/w5.cmake).

bench_build "$build" run-w5 w5_loadgen w5_raw_epoll w5_cio w5_uv || exit 1
bin=$build/bench

# ----------------------------------------------------------------- runs

# "peer prime server command...": prime 0 runs the load generator with PRIME=0.
pyrun="$py -B -E -s bench/w5_py.py"
servers=(
    "raw-epoll 1 $bin/w5_raw_epoll"
    "cio-epoll 1 env CIO_BACKEND=epoll $bin/w5_cio"
    "cio-io_uring 1 env CIO_BACKEND=io_uring $bin/w5_cio"
    "cio-poll 1 env CIO_BACKEND=poll $bin/w5_cio"
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
# server_port and time_pid. False if it never said where it listens (a cio
# server whose backend cannot start says UNAVAILABLE in srv.out instead).
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
                # A cio row measures the backend its name says, or nothing.
                backend=${peer#cio-}
                if [ "$backend" != "$peer" ] && ! grep -qx "BACKEND $backend" "$scratch/srv.out"; then
                    status="wrong-backend"
                else
                    result=$(PRIME=$prime taskset -c 1 "$bin/w5_loadgen" --port "$server_port" \
                        --conns "$conns" --server-pid "$server_pid" 2>"$scratch/lg.err" |
                        grep '^RESULT ' | tail -n 1)
                    [ -n "$result" ] || status="loadgen-failed"
                fi
                stop_server
                read -r _ maxrss < <(tail -n 1 "$scratch/time" 2>/dev/null)
            else
                kill -KILL "$time_pid" 2>/dev/null
                wait "$time_pid" 2>/dev/null
                result=$(grep -m1 '^UNAVAILABLE ' "$scratch/srv.out")
                if [ -n "$result" ]; then
                    # cio's own words on why the loop could not start, with it.
                    why=$(tail -n 1 "$scratch/srv.err")
                    status=unavailable result="$result${why:+; $why}"
                else
                    status="server-failed"
                fi
            fi
            server_pid=
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$conns" "$peer" "$status" \
                "${maxrss:-0}" "$result" >>"$results"
            printf 'run-w5: rep %d/%d  C=%-3d %-24s %s\n' "$rep" "$reps" "$conns" "$peer" "$status"
            if [ "$status" != ok ] && [ "$status" != unavailable ]; then
                sed 's/^/run-w5:   /' "$scratch/srv.err" "$scratch/lg.err" 2>/dev/null | tail -n 5
            fi
        done
    done
done
elapsed=$((SECONDS - start))

echo
echo "== W5 TCP echo (WORKLOADS.md): 1 s warm-up + 5 s, $reps reps round-robin," \
    "server taskset -c 0, load generator taskset -c 1 =="
bench_describe "$load_before"
echo "peers: $($py -V 2>&1), uvloop: $uvloop"
echo
$py -B -E -s bench/w5_report.py "$results"
status=$?
echo "run-w5: $((elapsed / 60)) min $((elapsed % 60)) s; raw runs in $results"
exit $status
