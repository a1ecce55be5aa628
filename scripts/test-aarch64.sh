#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-aarch64.sh — cross-builds cio for AArch64 and runs the whole test
# suite (every test on every backend) under qemu-user: ctest runs each test
# program through qemu-aarch64 (CMAKE_CROSSCOMPILING_EMULATOR in
# cmake/aarch64-linux-gnu.cmake). Installs what it needs if it is missing:
# Debian's cross compiler and libc, qemu-user, and cmocka for arm64 from the
# arm64 multiarch archive (dpkg --add-architecture arm64).
#
#   scripts/test-aarch64.sh                  RelWithDebInfo, the whole suite
#   scripts/test-aarch64.sh -R test_switch   extra arguments go to ctest
#
# CIO_AARCH64_BUILD_TYPE (default RelWithDebInfo) and CIO_AARCH64_BUILD_DIR
# (default build-aarch64) choose the build; the switch's -O0 run uses
# CIO_AARCH64_BUILD_TYPE=Debug CIO_AARCH64_BUILD_DIR=build-aarch64-O0.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

build_type=${CIO_AARCH64_BUILD_TYPE:-RelWithDebInfo}
dir=${CIO_AARCH64_BUILD_DIR:-build-aarch64}

# cmocka for the target comes from the arm64 architecture of the same
# Debian archive; dpkg must know that architecture before apt can see it
# (need_packages then runs apt-get update, since the package is missing).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "cio: run as root, or: dpkg --add-architecture arm64" >&2
        exit 1
    fi
    echo "cio: adding the arm64 architecture to dpkg (for libcmocka-dev:arm64)"
    dpkg --add-architecture arm64
fi
# qemu-user-static provides the same qemu-aarch64 as qemu-user, and its own
# binfmt_misc entry; with qemu-user that entry is in qemu-user-binfmt.
qemu_pkgs=(qemu-user qemu-user-binfmt)
if dpkg-query -W -f='${Status}' qemu-user-static 2>/dev/null | grep -q "install ok installed"; then
    qemu_pkgs=(qemu-user-static)
fi
need_packages "${CIO_BUILD_PACKAGES[@]}" gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
    "${qemu_pkgs[@]}" libcmocka0:arm64 libcmocka-dev:arm64 libssl-dev:arm64 \
    libcurl4-openssl-dev:arm64 liburing-dev:arm64

# Tests that run a child process exec their own binary: the kernel can run
# an arm64 program only through a binfmt_misc entry for qemu. Packages
# register it through systemd-binfmt, which a container or a bare VM may
# not run; register it here if it is missing (a machine-wide setting, the
# one those packages make on an ordinary Debian system).
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/qemu-aarch64" ] && [ "$(id -u)" -eq 0 ]; then
    [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || true
    if [ -w "$binfmt/register" ] && [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ]; then
        grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf >"$binfmt/register" &&
            echo "cio: registered qemu-aarch64 with binfmt_misc"
    fi
fi
if [ ! -e "$binfmt/qemu-aarch64" ]; then
    echo "cio: warning: no binfmt_misc entry for qemu-aarch64: tests that exec a child fail" >&2
fi

start=$SECONDS
mkdir -p "$dir"
cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
    -DCMAKE_BUILD_TYPE="$build_type" -DCIO_EXAMPLES=OFF >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log"; exit 1; }
cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1 || { tail -n 40 "$dir/build.log"; exit 1; }
echo "cio: cross-built for AArch64 ($build_type) in $((SECONDS - start)) s"

start=$SECONDS
status=0
(cd "$dir" && ctest -j"$(nproc)" --output-on-failure "$@") || status=$?
echo "cio: AArch64 tests under $(qemu-aarch64 --version | head -n1) took $((SECONDS - start)) s"
exit $status
