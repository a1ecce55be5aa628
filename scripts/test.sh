#!/usr/bin/env bash
# test.sh — builds cio every way it must work and runs the whole suite on
# each: every test on every backend (epoll, poll); under AddressSanitizer +
# UndefinedBehaviorSanitizer; the thread-using tests under ThreadSanitizer;
# the portable ucontext switch; the context switch at -O0; AArch64 under
# qemu-user; a program built against the installed library through
# pkg-config; and each libFuzzer target of tests/fuzz for a minute. Installs
# the Debian packages it needs if they are missing.
#
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    the default build only
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_packages "${CIO_BUILD_PACKAGES[@]}" "${CIO_TOOL_PACKAGES[@]}" "${CIO_TEST_PACKAGES[@]}" \
    "${CIO_FUZZ_PACKAGES[@]}" || exit 1

jobs=$(nproc)
total_passed=0
total_failed=0
failed_stages=()

# run_suite NAME BUILD_DIR CTEST_ARGS... -- CMAKE_ARGS...
run_suite() {
    local name=$1 dir=$2
    shift 2
    local ctest_args=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        ctest_args+=("$1")
        shift
    done
    shift
    local start=$SECONDS
    echo "== $name =="
    mkdir -p "$dir"
    if ! cmake -S . -B "$dir" -DCIO_EXAMPLES=OFF "$@" >"$dir/configure.log" 2>&1; then
        cat "$dir/configure.log"
        failed_stages+=("$name (configure)")
        return
    fi
    if ! cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1; then
        tail -n 40 "$dir/build.log"
        failed_stages+=("$name (build)")
        return
    fi
    local log="$dir/ctest.log"
    (cd "$dir" && ctest -j"$jobs" --output-on-failure "${ctest_args[@]}") >"$log" 2>&1
    local summary passed failed out_of
    summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of' "$log" | tail -n1)
    if [ -z "$summary" ]; then
        tail -n 40 "$log"
        failed_stages+=("$name (no tests ran)")
        return
    fi
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
    out_of=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
    passed=$((out_of - failed))
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    grep -E '^\s*[0-9]+/[0-9]+ Test.*(\*\*\*|Skipped|Failed|Timeout)' "$log" || true
    if [ "$failed" -ne 0 ]; then
        sed -n '/The following tests FAILED/,$p' "$log"
        grep -B2 -A30 -E '(\*\*\*Failed|\*\*\*Exception|\*\*\*Timeout)' "$log" | head -n 200
        failed_stages+=("$name")
    fi
    echo "   $summary ($((SECONDS - start)) s)"
}

# A program built against the installed library with nothing but
# pkg-config, and the library's exported symbols.
check_install() {
    echo "== install: pkg-config --cflags --libs cio =="
    local prefix
    prefix=$(mktemp -d)
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/$(gcc -print-multiarch)/pkgconfig"
    if cmake --install build-test --prefix "$prefix" >/dev/null &&
        sh -c 'cc -o "$1/concurrent" examples/concurrent.c $(pkg-config --cflags --libs cio)' sh "$prefix" &&
        LD_LIBRARY_PATH=$(pkg-config --variable=libdir cio) "$prefix/concurrent" | grep -q "Total: 2.0 seconds"; then
        echo "   installed header, libraries and cio.pc build and run the example"
        total_passed=$((total_passed + 1))
    else
        failed_stages+=("install")
        total_failed=$((total_failed + 1))
    fi
    unset PKG_CONFIG_PATH
    rm -rf "$prefix"
    echo "== the shared library exports only cio_* =="
    local stray
    stray=$(nm -D --defined-only build-test/libcio.so | awk '{print $3}' | grep -v '^cio_')
    if [ -z "$stray" ]; then
        echo "   ok"
        total_passed=$((total_passed + 1))
    else
        echo "   exported by mistake: $stray"
        failed_stages+=("exports")
        total_failed=$((total_failed + 1))
    fi
}

# Each libFuzzer target of tests/fuzz for CIO_FUZZ_SECONDS (default 60)
# from its seed corpus (scripts/fuzz.sh builds them once, in build-fuzz):
# one passed or failed each, as a test is.
run_fuzzers() {
    local target start
    for target in stream tls_server getaddrinfo http_parse; do
        start=$SECONDS
        echo "== fuzzing: $target, ${CIO_FUZZ_SECONDS:-60} s =="
        if CIO_FUZZ_JOBS=$jobs scripts/fuzz.sh "$target" "${CIO_FUZZ_SECONDS:-60}" | sed 's/^/   /'; then
            total_passed=$((total_passed + 1))
        else
            failed_stages+=("fuzz_$target")
            total_failed=$((total_failed + 1))
        fi
        echo "   ($((SECONDS - start)) s)"
    done
}

run_suite "default build (RelWithDebInfo), every backend" build-test -- \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_EXAMPLES=ON

if [ "${1:-}" != "--quick" ]; then
    check_install
    run_suite "AddressSanitizer + UndefinedBehaviorSanitizer" build-asan -- \
        -DCMAKE_BUILD_TYPE=Debug -DCIO_SANITIZE=address,undefined
    run_suite "ThreadSanitizer (tests that use threads)" build-tsan -L threads -- \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_SANITIZE=thread
    run_suite "portable ucontext context switch" build-ucontext -- \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_UCONTEXT=ON
    run_suite "context switch at -O0" build-O0 -R test_switch -- \
        -DCMAKE_BUILD_TYPE=Debug
    run_fuzzers
    if [ -x scripts/test-aarch64.sh ]; then
        echo "== AArch64 under qemu-user =="
        if out=$(scripts/test-aarch64.sh 2>&1); then
            summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of' <<<"$out" | tail -n1)
            echo "   $summary"
            n=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
            total_passed=$((total_passed + ${n:-0}))
        else
            tail -n 60 <<<"$out"
            failed_stages+=("aarch64")
            total_failed=$((total_failed + 1))
        fi
    fi
fi

echo
if [ ${#failed_stages[@]} -ne 0 ]; then
    echo "failed: ${failed_stages[*]}"
fi
echo "$total_passed passed, $total_failed failed"
[ ${#failed_stages[@]} -eq 0 ]
