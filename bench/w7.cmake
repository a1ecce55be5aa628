# w7.cmake — W7 (file reads) of WORKLOADS.md: the program that writes the
# file, and the cio and libuv readers. Included from bench/CMakeLists.txt
# (which finds libuv as PkgConfig::LIBUV and sets BENCH_DEFINITIONS);
# bench/run-w7.sh runs them.
add_executable(w7_mkfile w7_mkfile.c common.h w7_file.h)
target_compile_definitions(w7_mkfile PRIVATE ${BENCH_DEFINITIONS})
target_compile_options(w7_mkfile PRIVATE ${CIO_WARNINGS})

add_executable(w7_cio w7_cio.c common.h w7_file.h)
target_link_libraries(w7_cio PRIVATE cio)
target_compile_definitions(w7_cio PRIVATE ${BENCH_DEFINITIONS})
target_compile_options(w7_cio PRIVATE ${CIO_WARNINGS})

add_executable(w7_uv w7_uv.c common.h w7_file.h)
target_link_libraries(w7_uv PRIVATE PkgConfig::LIBUV)
target_compile_definitions(w7_uv PRIVATE ${BENCH_DEFINITIONS})
target_compile_options(w7_uv PRIVATE ${CIO_WARNINGS})
