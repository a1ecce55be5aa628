# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# backends.sh — sourced by bench/run-w5.sh and bench/run-w7.sh, the
# harnesses that measure cio once per backend: their command line, building
# just their programs, and the lines that say what was measured where.
#
#   bench_parse_reps NAME "$@"         sets reps: 3, or 1 with --quick;
#                                      returns 1 (after the usage) otherwise
#   bench_build BUILD NAME TARGET...   configures BUILD (Release, -O2, no
#                                      sanitizers, the benchmarks on) and
#                                      builds the targets; on failure shows
#                                      the log's tail and returns 1
#   bench_describe LOAD_BEFORE         prints the machine, the load average
#                                      (LOAD_BEFORE and now) and cio lines
#   bench_scratch                      makes $scratch (a temporary directory)
#                                      and removes it at exit, killing the
#                                      server in $server_pid if one is left
#   bench_median "V1 V2 ..."           prints the median of the values
#
# bench_build builds the examples too when BENCH_EXAMPLES=ON.

# shellcheck disable=SC2034  # reps is the caller's
bench_parse_reps() {
    local name=$1
    shift
    reps=3
    case "${1:-}" in
    "") ;;
    --quick) reps=1 ;;
    *)
        echo "usage: bench/$name.sh [--quick]" >&2
        return 1
        ;;
    esac
}

# Through the project's CMake rather than plain cc, so that the programs
# link whatever libcio.a needs (liburing where io_uring is built in).
bench_build() {
    local build=$1 name=$2
    shift 2
    mkdir -p "$build"
    if ! {
        cmake -S . -B "$build" -DCIO_TESTS=OFF -DCIO_EXAMPLES="${BENCH_EXAMPLES:-OFF}" -DCIO_BENCH=ON \
            -DCIO_SANITIZE= -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" &&
            cmake --build "$build" -j"$(nproc)" --target "$@"
    } >"$build/build-$name.log" 2>&1; then
        tail -n 40 "$build/build-$name.log"
        echo "$name: the build failed (all of it: $build/build-$name.log)" >&2
        return 1
    fi
}

bench_describe() {
    echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
        "kernel $(uname -r), Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
    # Anything else running competes for the CPUs: a reader can tell.
    echo "load average (1 min): $1 before, $(cut -d' ' -f1 /proc/loadavg) after"
    echo "cio: backends epoll, io_uring, poll (each row's CIO_BACKEND)," \
        "$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src include \
            2>/dev/null || echo ' + uncommitted changes'), -O2 -DNDEBUG; libuv $(pkg-config \
            --modversion libuv)"
}

# shellcheck disable=SC2034  # scratch and server_pid are the caller's
bench_scratch() {
    scratch=$(mktemp -d)
    server_pid=
    trap '[ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null; rm -rf "$scratch"' EXIT
}

bench_median() {
    tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
