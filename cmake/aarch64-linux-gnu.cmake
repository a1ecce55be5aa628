# SPDX-License-Identifier: MIT
# aarch64-linux-gnu.cmake — cross-compiling cio for AArch64 Linux with
# Debian's cross toolchain, and running what it builds (the tests, through
# ctest) under qemu-user. scripts/test-aarch64.sh installs what it needs:
#   gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user qemu-user-binfmt
#   libcmocka-dev:arm64 (multiarch, in /usr/lib/aarch64-linux-gnu)
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)

# The cross libc lives in /usr/aarch64-linux-gnu; multiarch packages
# (cmocka) in /usr/lib/aarch64-linux-gnu. Search both for libraries and
# headers, and never the build machine's own.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must read only arm64 .pc files.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# ctest runs every test program through this. The programs are linked
# against the cross libc (libc6-dev-arm64-cross) but run on the multiarch
# arm64 runtime that libcmocka0:arm64 brings in (libc6:arm64: the loader at
# /lib/ld-linux-aarch64.so.1 and libc in /lib/aarch64-linux-gnu), the same
# upstream glibc, so no -L prefix: the loader and libc must come from one
# build. With -L /usr/aarch64-linux-gnu the cross loader found libc.so.6 in
# /lib/aarch64-linux-gnu all the same (it searches there first), a different
# build whose private interface to the loader differs, and every forked
# child hung (2.36-8cross1 against 2.36-9+deb12u14; even fork + _exit).
# A test that execs a child (its own binary) needs qemu registered with
# binfmt_misc, which scripts/test-aarch64.sh sees to. CIO_TEST_QEMU tells
# tests what cannot work here at all: qemu-user 7.2 (Debian 12) can abort
# inside qemu ("cpu == current_cpu") in the child of a fork() made while
# the process has other threads.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -E CIO_TEST_QEMU=1)
