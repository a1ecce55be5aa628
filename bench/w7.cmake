# SPDX-License-Identifier: MIT
# w7.cmake — W7 (file reads) of WORKLOADS.md: the program that writes the
# file, and the cio and libuv readers. Included from bench/CMakeLists.txt
# (which defines bench_program); bench/run-w7.sh runs them.
bench_program(w7_mkfile HEADERS common.h w7_file.h)
bench_program(w7_cio HEADERS common.h w7_file.h LINK cio)
bench_program(w7_uv HEADERS common.h w7_file.h LINK PkgConfig::LIBUV)
