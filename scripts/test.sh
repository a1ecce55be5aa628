#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test.sh — builds cio every way it must work and runs the whole suite on
# each: every test on every backend (epoll, poll); under AddressSanitizer +
# UndefinedBehaviorSanitizer; the thread-using tests under ThreadSanitizer;
# the portable ucontext switch; the context switch at -O0; AArch64 under
# qemu-user; with clang; without the optional parts (io_uring, TLS, curl);
# programs built against the installed library through pkg-config and
# CMake, in C and C++; the Debian packages; and each libFuzzer target of
# tests/fuzz for a minute. Installs the Debian packages it needs if they
# are missing.
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
    if ! cmake -S . -B "$dir" -DCIO_EXAMPLES=OFF -DCIO_WERROR=ON "$@" >"$dir/configure.log" 2>&1; then
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

# Programs built against the installed library as its users build them
# (tests/consumers/run.sh: make + pkg-config, static linking, CMake's
# find_package and add_subdirectory, C++17 with g++ and clang++), and the
# library's exported symbols.
check_install() {
    echo "== install: consumers through pkg-config, CMake and C++ =="
    local prefix start=$SECONDS
    prefix=$(mktemp -d)
    if cmake --install build-test --prefix "$prefix" >/dev/null &&
        out=$(tests/consumers/run.sh "$prefix" . 2>&1); then
        grep -v -E '^[0-9]+ passed' <<<"$out"
        total_passed=$((total_passed + $(grep -c '^   ok:' <<<"$out")))
    else
        echo "${out:-cmake --install failed}"
        failed_stages+=("install")
        total_failed=$((total_failed + 1))
    fi
    rm -rf "$prefix"
    echo "   ($((SECONDS - start)) s)"
    echo "== the shared library exports only the public cio_* and the components' cio__* =="
    # The internal calls libcio-tls and libcio-curl make, as src/ marks them.
    local component stray
    component=$(grep -rh 'CIO__COMPONENT ' src | grep -v '#define' | grep -o 'cio__[a-z_]*' |
        sort -u)
    stray=$(nm -D --defined-only build-test/libcio.so | awk '{print $3}' |
        grep -v -x -F "$component" | grep -v -E '^cio_[a-z]')
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

# Every source file carries its license (scripts/spdx.sh adds the line).
echo "== SPDX-License-Identifier in every source file =="
if scripts/spdx.sh --check; then
    echo "   ok"
    total_passed=$((total_passed + 1))
else
    failed_stages+=("spdx")
    total_failed=$((total_failed + 1))
fi

# The core built with musl libc (Debian's musl-gcc), so that Alpine's users
# are not shut out: every file compiles and links without glibc-only
# calls, and the seed's programs, the pipeline example and a static core
# program (tests/consumers/core.c) run. The cmocka suite cannot run here:
# Debian has no musl build of cmocka.
check_musl() {
    echo "== musl libc: the core built with musl-gcc, its programs run =="
    local dir=build-musl start=$SECONDS ok=1
    need_packages "${CIO_MUSL_PACKAGES[@]}" || ok=0
    mkdir -p "$dir"
    if [ $ok -eq 1 ] && CC=musl-gcc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCIO_WERROR=ON -DCIO_IO_URING=OFF -DCIO_TLS=OFF -DCIO_CURL=OFF -DCIO_TESTS=OFF \
        -DCIO_MAN=OFF >"$dir/configure.log" 2>&1 &&
        cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1; then
        local prog
        for prog in "sequential:Total: 3.0 seconds" "concurrent:Total: 2.0 seconds" \
            "pipeline:expected 650"; do
            if timeout 60 "$dir/examples/${prog%%:*}" 2>&1 | grep -q "${prog#*:}"; then
                total_passed=$((total_passed + 1))
            else
                echo "   examples/${prog%%:*} failed under musl"
                ok=0
            fi
        done
        if musl-gcc -std=c11 -Wall -Wextra -Werror -static -Iinclude -o "$dir/core" \
            tests/consumers/core.c "$dir/libcio.a" -lpthread -lm >"$dir/core.log" 2>&1 &&
            "$dir/core" | grep -q "core: ok"; then
            total_passed=$((total_passed + 1))
        else
            cat "$dir/core.log"
            echo "   tests/consumers/core.c (static, musl) failed"
            ok=0
        fi
    else
        tail -n 30 "$dir/configure.log" "$dir/build.log" 2>/dev/null
        ok=0
    fi
    if [ $ok -eq 1 ]; then
        echo "   ok: sequential, concurrent, pipeline and a static core program ($((SECONDS - start)) s)"
    else
        failed_stages+=("musl")
        total_failed=$((total_failed + 1))
    fi
}

run_suite "default build (RelWithDebInfo), every backend" build-test -- \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_EXAMPLES=ON

if [ "${1:-}" != "--quick" ]; then
    check_install
    run_suite "clang: the default build" build-clang -- \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang
    run_suite "core only: CIO_IO_URING, CIO_TLS, CIO_CURL off (epoll default)" build-core -- \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_IO_URING=OFF -DCIO_TLS=OFF -DCIO_CURL=OFF
    # The core-only build installs, and its cio.pc links a static program
    # (no liburing, OpenSSL or libcurl anywhere).
    echo "== core only: install, pkg-config --static --libs cio, cc -static =="
    prefix=$(mktemp -d) root=$PWD
    if cmake --install build-core --prefix "$prefix" >/dev/null &&
        ! grep -q -E 'uring|ssl|curl' "$prefix"/lib/pkgconfig/cio.pc &&
        (cd "$prefix" && PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
            make -s -f "$root/tests/consumers/Makefile" SRC="$root/tests/consumers" \
            consumer-static && ./consumer-static) | grep -q "core: ok"; then
        echo "   ok"
        total_passed=$((total_passed + 1))
    else
        failed_stages+=("core-only install")
        total_failed=$((total_failed + 1))
    fi
    rm -rf "$prefix"
    check_musl
    run_suite "AddressSanitizer + UndefinedBehaviorSanitizer" build-asan -- \
        -DCMAKE_BUILD_TYPE=Debug -DCIO_SANITIZE=address,undefined
    run_suite "ThreadSanitizer (tests that use threads)" build-tsan -L threads -- \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_SANITIZE=thread
    run_suite "portable ucontext context switch" build-ucontext -- \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_UCONTEXT=ON
    run_suite "context switch at -O0" build-O0 -R test_switch -- \
        -DCMAKE_BUILD_TYPE=Debug
    echo "== Debian packages: build, lintian, install, use, remove =="
    start=$SECONDS
    if out=$(scripts/test-deb.sh 2>&1); then
        grep -E '^   ' <<<"$out"
        total_passed=$((total_passed + $(grep -c '^   ok:' <<<"$out")))
    else
        tail -n 60 <<<"$out"
        failed_stages+=("debian")
        total_failed=$((total_failed + 1))
    fi
    echo "   ($((SECONDS - start)) s)"
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
