#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh — W1-W4 of WORKLOADS.md: cio beside libuv (W4; libuv has no tasks
# for W1-W3) and Python asyncio, plus uvloop when Debian has python3-uvloop,
# all measured in this one run and printed as ratios, with the issue's
# targets marked PASS or FAIL. Installs the Debian packages it needs if they
# are missing, and builds into build-bench (Release, -O2, no sanitizers).
#
#   bench/run.sh            the workloads as defined (N = 1,000,000; ~8 min on
#                           an idle machine, mostly the Python peers)
#   bench/run.sh --quick    N/10 and SWITCHES/10: a smoke run (~1 min)
#
# Rules kept from WORKLOADS.md: 3 repetitions per (workload, peer), taken
# round-robin (rep 1 of everything, then rep 2, then rep 3); every process
# pinned with `taskset -c 0`; peak RSS from `/usr/bin/time -f '%e %M'`;
# Debian's /usr/bin/python3 with its stock loop. CIO_BACKEND in the
# environment picks cio's backend, as for any cio program.
# Raw runs are kept in build-bench/results.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."

n=1000000
switches=10000000
case "${1:-}" in
"") ;;
--quick)
    n=$((n / 10))
    switches=$((switches / 10))
    ;;
*)
    echo "usage: bench/run.sh [--quick]" >&2
    exit 2
    ;;
esac
reps=3
build=build-bench
py=/usr/bin/python3

# ------------------------------------------------------------ packages

. scripts/deps.sh
need_packages build-essential cmake pkg-config libuv1-dev python3 time util-linux || exit 1
# uvloop rows only where Debian packages uvloop for its python3. On a
# machine that has never fetched package lists, fetch them before deciding.
uvloop_candidate() { apt-cache policy python3-uvloop 2>/dev/null | awk '/Candidate:/ {print $2}'; }
if [ -z "$(uvloop_candidate)" ] && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
fi
loops=(asyncio)
case "$(uvloop_candidate)" in
"" | "(none)") echo "run: python3-uvloop is not in Debian's lists here: no uvloop rows" ;;
*) need_packages python3-uvloop && loops+=(uvloop) ;;
esac

# ---------------------------------------------------------------- build

mkdir -p "$build"
if ! { cmake -S . -B "$build" -DCIO_BENCH=ON -DCIO_TESTS=OFF -DCIO_EXAMPLES=OFF \
    -DCIO_SANITIZE= -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" &&
    cmake --build "$build" -j"$(nproc)"; } >"$build/build.log" 2>&1; then
    tail -n 40 "$build/build.log"
    echo "run: the build failed (all of it: $build/build.log)" >&2
    exit 1
fi
bin=$build/bench

# ----------------------------------------------------------------- runs

# Each run: "workload peer command...". Python: -B writes no bytecode into
# the tree, -E -s keep the environment and user site-packages out of it.
nargs="--n $n"
pyrun="$py -B -E -s"
runs=(
    "w1 cio $bin/cio_w1 $nargs"
    "w2 cio $bin/cio_w2 --switches $switches"
    "w3 cio $bin/cio_w3 $nargs"
    "w3-2k cio $bin/cio_w3 $nargs --stack 2048"
    "w6-queue cio $bin/cio_w6 $nargs --mode queue"
    "w6-lock cio $bin/cio_w6 $nargs --mode lock"
)
for shape in spread same uvshape; do
    runs+=("w4-$shape cio $bin/cio_w4 $nargs --shape $shape"
        "w4-$shape libuv $bin/uv_w4 $nargs --shape $shape")
done
for loop in "${loops[@]}"; do
    runs+=("w1 py-$loop $pyrun bench/py_w1.py $loop $nargs"
        "w2 py-$loop $pyrun bench/py_w2.py $loop --switches $switches"
        "w3 py-$loop $pyrun bench/py_w3.py $loop $nargs"
        "w6-queue py-$loop $pyrun bench/py_w6.py $loop $nargs --mode queue"
        "w6-lock py-$loop $pyrun bench/py_w6.py $loop $nargs --mode lock")
    for shape in spread same uvshape; do
        runs+=("w4-$shape py-$loop $pyrun bench/py_w4.py $loop $nargs --shape $shape")
    done
done

results=$build/results.tsv
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
: >"$results"
# Anything else running competes for CPU 0: the load average before and
# after tells a reader whether to trust the figures.
load_before=$(cut -d' ' -f1 /proc/loadavg)
start=$SECONDS
echo "run: ${#runs[@]} programs x $reps repetitions, round-robin, N=$n"
for rep in $(seq "$reps"); do
    for spec in "${runs[@]}"; do
        read -r workload peer cmd <<<"$spec"
        # shellcheck disable=SC2086  # cmd is a word list on purpose
        taskset -c 0 /usr/bin/time -f '%e %M' -o "$scratch/time" $cmd \
            >"$scratch/out" 2>"$scratch/err"
        code=$?
        status=ok
        [ "$code" -eq 0 ] || status="exit=$code"
        # The last line: on failure time(1) writes "Command exited with
        # non-zero status" (or "terminated by signal") before it.
        wall=- maxrss=0
        read -r wall maxrss < <(tail -n 1 "$scratch/time" 2>/dev/null)
        result=$(grep '^RESULT ' "$scratch/out" | tail -n 1)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$workload" "$peer" "$status" \
            "$wall" "$maxrss" "$result" >>"$results"
        printf 'run: rep %d/%d  %-10s %-10s %6s s  %s\n' "$rep" "$reps" "$workload" "$peer" \
            "$wall" "$status"
        [ "$code" -eq 0 ] || sed 's/^/run:   /' "$scratch/err" | tail -n 5
    done
done
elapsed=$((SECONDS - start))
load_after=$(cut -d' ' -f1 /proc/loadavg)

# --------------------------------------------------------------- report

backend=$(grep -o 'impl=cio backend=[a-z_0-9]*' "$results" | sort -u | sed 's/.*=//' | paste -sd,)
libuv=$(grep -o 'impl=libuv version=[^ ]*' "$results" | head -n 1 | sed 's/.*=//')
uvloop_version=$($py -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null || echo none)
echo
echo "== cio benchmarks W1-W4 (WORKLOADS.md), N=$n, $reps reps round-robin, taskset -c 0 =="
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
    "kernel $(uname -r), Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
echo "load average (1 min): $load_before before, $load_after after (this run adds ~1)"
echo "cio: backend ${backend:-?}, $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(
    git diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes in src/include')," \
    "-O2 -DNDEBUG"
echo "peers: libuv ${libuv:-?}; $($py -V 2>&1) ($py), asyncio and uvloop $uvloop_version"
echo
$py -B -E -s bench/report.py "$results" --n "$n" --switches "$switches"
status=$?
echo "run: $((elapsed / 60)) min $((elapsed % 60)) s of measuring; raw runs in $results"
exit $status
