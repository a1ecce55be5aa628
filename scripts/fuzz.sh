#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz.sh — builds the libFuzzer targets of tests/fuzz (clang, ASan+UBSan,
# in build-fuzz) and runs one of them for a while, starting from its seed
# corpus. Inputs it finds that add coverage go to build-fuzz/corpus/TARGET
# (the checked-in seeds stay as they are); a crash is saved as
# build-fuzz/crash-* and fails the run. Installs the Debian packages it
# needs if they are missing. Loopback only: see each target's header.
#
#   scripts/fuzz.sh TARGET SECONDS     TARGET: stream, tls_server, getaddrinfo,
#                                      http_parse
#   scripts/fuzz.sh TARGET FILE...     replays saved inputs (a crash) once
#
# CIO_BACKEND picks the loop's backend as for any cio program (default
# io_uring); CIO_FUZZ_JOBS, the build's -j (default: nproc).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

usage() {
    echo "usage: scripts/fuzz.sh stream|tls_server|getaddrinfo|http_parse SECONDS|FILE..." >&2
    exit 2
}
[ $# -ge 2 ] || usage
target=$1
shift
case "$target" in
stream | tls_server | getaddrinfo | http_parse) ;;
*) usage ;;
esac
need_packages "${CIO_BUILD_PACKAGES[@]}" "${CIO_FUZZ_PACKAGES[@]}" || exit 1

dir=build-fuzz
mkdir -p "$dir"
# The library is instrumented for coverage too (fuzzer-no-link), so that
# the fuzzer sees which of cio's branches an input takes. Warnings are not
# errors here: clang warns about things gcc, the project's compiler, does
# not, and that must not stop a fuzzing run.
if ! { cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCIO_SANITIZE=fuzzer-no-link,address,undefined -DCIO_FUZZ=ON -DCIO_TESTS=OFF \
    -DCIO_EXAMPLES=OFF -DCIO_WERROR=OFF &&
    cmake --build "$dir" -j"${CIO_FUZZ_JOBS:-$(nproc)}" --target "fuzz_$target"; } \
    >"$dir/build.log" 2>&1; then
    tail -n 40 "$dir/build.log"
    echo "fuzz: the build failed (all of it: $dir/build.log)" >&2
    exit 1
fi
bin=$dir/tests/fuzz/fuzz_$target
seeds=tests/fuzz/corpus/$target
# detect_leaks: every input's loop must give back what it took. The
# standard streams stay quiet (-close_fd_mask=3) except for the reports.
opts=(-detect_leaks=1 -max_len=16384 -timeout=30 -rss_limit_mb=4096)

if [ -f "$1" ]; then
    exec "$bin" "${opts[@]}" -runs=1 "$@"
fi
seconds=$1
case "$seconds" in
'' | *[!0-9]*) usage ;;
esac
work=$dir/corpus/$target
mkdir -p "$work"
log=$dir/fuzz-$target.log
echo "fuzz: $target for $seconds s (backend ${CIO_BACKEND:-io_uring}), log in $log"
(cd "$dir" && exec "../$bin" "${opts[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -close_fd_mask=1 "../$work" "../$seeds") >"$log" 2>&1
status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
if [ $status -ne 0 ]; then
    grep -E -A40 '^(fuzz:|==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 80
    ls -1 "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* 2>/dev/null | sed 's/^/fuzz: saved /'
    echo "fuzz: $target FAILED after ${execs:-?} inputs"
    exit 1
fi
echo "fuzz: $target ok: ${execs:-?} inputs in $seconds s, ${cov:-cov: ?} edges"
