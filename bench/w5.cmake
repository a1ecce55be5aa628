# w5.cmake — W5 (TCP echo) of WORKLOADS.md: the load generator, the
# raw-epoll reference server, and the cio and libuv echo servers. Included
# from bench/CMakeLists.txt (which finds libuv as PkgConfig::LIBUV and sets
# BENCH_DEFINITIONS); bench/run-w5.sh runs them with the Python servers.
foreach(name w5_loadgen w5_raw_epoll)
  add_executable(${name} ${name}.c common.h w5_server.h)
  target_compile_definitions(${name} PRIVATE ${BENCH_DEFINITIONS})
  target_compile_options(${name} PRIVATE ${CIO_WARNINGS})
endforeach()

add_executable(w5_cio w5_cio.c common.h w5_server.h)
target_link_libraries(w5_cio PRIVATE cio)
target_compile_definitions(w5_cio PRIVATE ${BENCH_DEFINITIONS})
target_compile_options(w5_cio PRIVATE ${CIO_WARNINGS})

add_executable(w5_uv w5_uv.c common.h w5_server.h)
target_link_libraries(w5_uv PRIVATE PkgConfig::LIBUV)
target_compile_definitions(w5_uv PRIVATE ${BENCH_DEFINITIONS})
target_compile_options(w5_uv PRIVATE ${CIO_WARNINGS})
