#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh — builds and runs the consumer programs of this folder against a
# cio installed in PREFIX, as its users would, and against the source tree:
#   1. Makefile + pkg-config: consumer.c (shared libraries), core.c static
#   2. CMake find_package(cio 0.2 COMPONENTS tls curl): shared, then static
#   3. CMake FetchContent (add_subdirectory) of the source tree
#   4. consumer.cpp (C++17) with g++ and with clang++, through find_package
# and checks that the install holds cio-timeline, the man pages and docs.
# Prints one line per way and "N passed, N failed"; exits 1 if one failed.
#
#   run.sh PREFIX SOURCE_DIR
set -uo pipefail
usage="usage: run.sh PREFIX SOURCE_DIR"
prefix=$(realpath "${1:?$usage}")
src=$(realpath "${2:?$usage}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/$(gcc -print-multiarch)/pkgconfig"
libdir=$(pkg-config --variable=libdir cio)
passed=0
failed=0

# way NAME EXPECT COMMAND...: runs COMMAND (a build, then the program) in
# its own folder; it passes when it succeeds and prints EXPECT.
way() {
    local name=$1 expect=$2
    shift 2
    local dir="$work/${name//[^a-z0-9]/_}"
    mkdir -p "$dir"
    if (cd "$dir" && "$@") >"$dir/log" 2>&1 && grep -q "$expect" "$dir/log"; then
        echo "   ok: $name"
        passed=$((passed + 1))
    else
        echo "   FAILED: $name"
        tail -n 30 "$dir/log" | sed 's/^/      /'
        failed=$((failed + 1))
    fi
}

make_shared() {
    make -s -f "$here/Makefile" SRC="$here" consumer && LD_LIBRARY_PATH=$libdir ./consumer
}
make_static() {
    make -s -f "$here/Makefile" SRC="$here" consumer-static &&
        if readelf -l ./consumer-static | grep -q INTERP; then
            echo "consumer-static is dynamic"; false; else ./consumer-static; fi
}
cmake_way() {
    local cxx=$1
    shift
    cmake -S "$here" -B . -DCMAKE_CXX_COMPILER="$cxx" "$@" >/dev/null &&
        cmake --build . -j2 >/dev/null &&
        LD_LIBRARY_PATH=$libdir ./consumer && LD_LIBRARY_PATH=$libdir ./consumer_cxx
}
cmake_cxx() {
    local cxx=$1
    cmake -S "$here" -B . -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null &&
        cmake --build . -j2 --target consumer_cxx >/dev/null && LD_LIBRARY_PATH=$libdir ./consumer_cxx
}
shared_only() {
    # A shared consumer must have loaded the installed libcio.so.N.
    cmake_way g++ -DCMAKE_PREFIX_PATH="$prefix" &&
        LD_LIBRARY_PATH=$libdir ldd ./consumer | grep -q "$libdir/libcio.so"
}
static_only() {
    cmake_way g++ -DCMAKE_PREFIX_PATH="$prefix" -DCIO_USE_STATIC_LIBS=ON &&
        ! ldd ./consumer | grep -q "libcio"
}

# What else the install holds: the tool (which must find its page in
# share/cio), the man pages, the documentation.
installed_tools() {
    "$prefix/bin/cio-timeline" "$src/tests/data/trace-seed.json" -o seed.html &&
        grep -q "<html" seed.html &&
        man -M "$prefix/share/man" -w cio_read && man -M "$prefix/share/man" -w 7 cio &&
        man -M "$prefix/share/man" -w 1 cio-timeline &&
        [ -f "$prefix/share/doc/cio/README.md" ] && [ -f "$prefix/share/doc/cio/examples/concurrent.c" ] &&
        echo "tools: ok"
}

way "installed cio-timeline, man pages and docs" "tools: ok" installed_tools
way "Makefile + pkg-config --libs cio cio-tls cio-curl" "consumer: ok" make_shared
way "Makefile + pkg-config --static --libs cio, cc -static" "core: ok" make_static
way "CMake find_package(cio 0.2 COMPONENTS tls curl), shared" "consumer: ok" shared_only
way "CMake find_package, CIO_USE_STATIC_LIBS=ON" "consumer: ok" static_only
way "CMake FetchContent (add_subdirectory) of the source tree" "consumer: ok" cmake_way g++ -DCIO_SOURCE_DIR="$src"
way "C++17 with g++" "c++: ok" cmake_cxx g++
way "C++17 with clang++" "c++: ok" cmake_cxx clang++
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
