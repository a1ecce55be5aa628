# SPDX-License-Identifier: MIT
# w5.cmake — W5 (TCP echo) of WORKLOADS.md: the load generator, the
# raw-epoll reference server, and the cio and libuv echo servers. Included
# from bench/CMakeLists.txt (which defines bench_program); bench/run-w5.sh
# runs them with the Python servers.
foreach(name w5_loadgen w5_raw_epoll)
  bench_program(${name} HEADERS common.h w5_server.h)
endforeach()
bench_program(w5_cio HEADERS common.h w5_server.h LINK cio)
bench_program(w5_uv HEADERS common.h w5_server.h LINK PkgConfig::LIBUV)
