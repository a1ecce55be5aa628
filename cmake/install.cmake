# SPDX-License-Identifier: MIT
# install.cmake — what `cmake --install` puts where (GNUInstallDirs, as
# Debian lays it out): headers; libcio, libcio-tls and libcio-curl, static
# and shared; a pkg-config file for each; the CMake package (find_package(cio)
# with components); cio-timeline in bin/ and its page in share/cio; the man
# pages; the documentation and examples in share/doc/cio.
include(CMakePackageConfigHelpers)

set(cio_components core)
set(cio_headers include/cio.h)
if(CIO_TLS)
  list(APPEND cio_components tls)
  list(APPEND cio_headers include/cio_tls.h)
endif()
if(CIO_CURL)
  list(APPEND cio_components curl)
  list(APPEND cio_headers include/cio_curl.h)
endif()
install(FILES ${cio_headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

# The exported names: cio::cio_shared, cio::cio_static, cio::tls_shared...;
# cio-config.cmake makes cio::cio, cio::tls and cio::curl from them.
foreach(name IN LISTS cio_components)
  if(name STREQUAL "core")
    set(export_name cio)
  else()
    set(export_name ${name})
  endif()
  set_target_properties(cio_${name}_static PROPERTIES EXPORT_NAME ${export_name}_static)
  set_target_properties(cio_${name}_shared PROPERTIES EXPORT_NAME ${export_name}_shared)
  install(TARGETS cio_${name}_shared EXPORT cio-shared-targets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
  install(TARGETS cio_${name}_static EXPORT cio-static-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
endforeach()

set(cio_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/cio)
install(EXPORT cio-shared-targets NAMESPACE cio:: DESTINATION ${cio_cmake_dir} COMPONENT dev)
install(EXPORT cio-static-targets NAMESPACE cio:: DESTINATION ${cio_cmake_dir} COMPONENT dev)
set(CIO_PACKAGE_COMPONENTS ${cio_components})
configure_package_config_file(cmake/cio-config.cmake.in ${PROJECT_BINARY_DIR}/cio-config.cmake
  INSTALL_DESTINATION ${cio_cmake_dir} NO_SET_AND_CHECK_MACRO)
# 0.x: a minor release may break the API (semantic versioning's rule for
# 0.y.z), so find_package(cio 0.2) accepts 0.2.* only; from 1.0 on, any
# later release of the same major.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(cio_compat SameMinorVersion)
else()
  set(cio_compat SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cio-config-version.cmake
  COMPATIBILITY ${cio_compat})
install(FILES ${PROJECT_BINARY_DIR}/cio-config.cmake ${PROJECT_BINARY_DIR}/cio-config-version.cmake
  DESTINATION ${cio_cmake_dir} COMPONENT dev)

# pkg-config: the .pc files sit in LIBDIR/pkgconfig; the way back up to the
# prefix makes them relocatable.
file(RELATIVE_PATH CIO_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
set(CIO_PC_CORE_REQUIRES_PRIVATE "")
if(CIO_IO_URING)
  set(CIO_PC_CORE_REQUIRES_PRIVATE liburing)
endif()
configure_file(cio.pc.in ${PROJECT_BINARY_DIR}/cio.pc @ONLY)
set(cio_pc_files ${PROJECT_BINARY_DIR}/cio.pc)
foreach(name tls curl)
  if(${name} IN_LIST cio_components)
    configure_file(cmake/cio-${name}.pc.in ${PROJECT_BINARY_DIR}/cio-${name}.pc @ONLY)
    list(APPEND cio_pc_files ${PROJECT_BINARY_DIR}/cio-${name}.pc)
  endif()
endforeach()
install(FILES ${cio_pc_files} DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# The timeline tool finds its page in ../share/cio.
install(PROGRAMS tools/cio-timeline DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
install(FILES tools/timeline-page.html DESTINATION ${CMAKE_INSTALL_DATADIR}/cio COMPONENT tools)

install(FILES README.md CHANGELOG.md LICENSE docs/design.md docs/tutorial.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev)
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT dev
  FILES_MATCHING PATTERN "*.c")
