#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-w7.sh — W7 (file reads) of WORKLOADS.md: cio once on each backend
# (epoll and poll read through the thread pool, io_uring through the ring)
# and libuv's uv_fs_read on its thread pool, all in this one run, on one
# 256 MiB file; prints reads/s and MiB/s, the process's CPU per read, the
# ratios to cio on epoll (the thread-pool path) and to libuv, and issue 5's
# target for io_uring marked PASS or FAIL. A backend the loop cannot start
# on (io_uring before it is built in, or where the kernel refuses it) is
# shown as unavailable. Installs the Debian packages it needs if they are
# missing, and builds into build-w7 (Release, -O2, no sanitizers).
#
#   bench/run-w7.sh            3 reps round-robin (~1 min on an idle machine)
#   bench/run-w7.sh --quick    one rep
#
# The file is written once (w7_mkfile) into a fresh directory under
# ${TMPDIR:-/tmp}, which is removed at the end; every program reads it
# whole once before its clock starts, so all reads hit the page cache.
# WORKLOADS.md pins no CPU for W7: the programs run unpinned, since a
# thread pool pinned to one CPU would measure the pinning. Python's asyncio
# has no file-read API, so it has no row (see the note it prints). Raw runs
# are kept in build-w7/results-w7.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."

. scripts/deps.sh
. bench/backends.sh
bench_parse_reps run-w7 "$@" || exit 2
build=build-w7
py=/usr/bin/python3

need_packages build-essential cmake pkg-config libuv1-dev python3 time || exit 1

# ---------------------------------------------------------------- build
# Only W7's programs (bench/w7.cmake).

bench_build "$build" run-w7 w7_mkfile w7_cio w7_uv || exit 1
bin=$build/bench

# ----------------------------------------------------------------- runs

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
file=$scratch/w7.dat
if ! "$bin/w7_mkfile" --file "$file"; then
    echo "run-w7: cannot write the 256 MiB file in $scratch" >&2
    exit 1
fi

# "peer command...": each cio row names its backend.
readers=(
    "cio-epoll env CIO_BACKEND=epoll $bin/w7_cio"
    "cio-io_uring env CIO_BACKEND=io_uring $bin/w7_cio"
    "cio-poll env CIO_BACKEND=poll $bin/w7_cio"
    "libuv $bin/w7_uv"
)

results=$build/results-w7.tsv
: >"$results"
load_before=$(cut -d' ' -f1 /proc/loadavg)
start=$SECONDS
echo "run-w7: ${#readers[@]} readers x 2 modes x $reps reps, round-robin"
for rep in $(seq "$reps"); do
    for mode in random sequential; do
        for spec in "${readers[@]}"; do
            read -r peer cmd <<<"$spec"
            # shellcheck disable=SC2086  # cmd is a word list on purpose
            /usr/bin/time -f '%e %M' -o "$scratch/time" $cmd --file "$file" --mode "$mode" \
                >"$scratch/out" 2>"$scratch/err"
            code=$?
            status=ok
            result=$(grep '^RESULT ' "$scratch/out" | tail -n 1)
            if [ "$code" -ne 0 ]; then
                status="exit=$code"
                unavailable=$(grep -m1 '^UNAVAILABLE ' "$scratch/out")
                # cio's own words on why the loop could not start, with it.
                why=$(tail -n 1 "$scratch/err")
                [ -n "$unavailable" ] && status=unavailable result="$unavailable${why:+; $why}"
            fi
            wall=- maxrss=0
            read -r wall maxrss < <(tail -n 1 "$scratch/time" 2>/dev/null)
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$mode" "$peer" "$status" "$maxrss" \
                "$result" >>"$results"
            printf 'run-w7: rep %d/%d  %-10s %-14s %6s s  %s\n' "$rep" "$reps" "$mode" "$peer" \
                "$wall" "$status"
            if [ "$status" != ok ] && [ "$status" != unavailable ]; then
                sed 's/^/run-w7:   /' "$scratch/err" | tail -n 5
            fi
        done
    done
done
elapsed=$((SECONDS - start))

# --------------------------------------------------------------- report

echo
echo "== W7 file reads (WORKLOADS.md): 256 MiB file in the page cache, $reps reps" \
    "round-robin, unpinned =="
bench_describe "$load_before"
echo "file: $file on $(stat -f -c %T "$scratch"); thread pools at their defaults" \
    "(cio CIO_THREADPOOL_SIZE=${CIO_THREADPOOL_SIZE:-4}, libuv UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE:-4})"
echo "Python asyncio: no row. asyncio has no file-read API (its loop reads only sockets" \
    "and pipes); the usual stand-in, loop.run_in_executor(None, os.pread, ...), measures" \
    "concurrent.futures' thread pool and the GIL, not an event loop."
echo
$py -B -E -s bench/w7_report.py "$results"
status=$?
echo "run-w7: $elapsed s of measuring; raw runs in $results"
exit $status
