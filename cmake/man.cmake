# SPDX-License-Identifier: MIT
# man.cmake — the manual pages, made at build time by tools/cio-man from the
# headers' comments (man 3: one page per CIO_EXTERN function or group) and
# docs/cio.7.txt (man 7) and docs/cio-timeline.1.txt (man 1), so that they cannot drift from cio.h; installed
# into share/man. tests/CMakeLists.txt checks them (test_man).
find_package(Python3 COMPONENTS Interpreter QUIET)
set(cio_default_man OFF)
if(Python3_FOUND)
  set(cio_default_man ON)
endif()
option(CIO_MAN "Make and install the manual pages (needs python3)" ${cio_default_man})
if(CIO_MAN)
  if(NOT Python3_FOUND)
    message(FATAL_ERROR "CIO_MAN=ON needs python3")
  endif()
  # The pages of the components this build makes, no others.
  set(CIO_MAN_HEADERS ${PROJECT_SOURCE_DIR}/include/cio.h)
  if(CIO_TLS)
    list(APPEND CIO_MAN_HEADERS ${PROJECT_SOURCE_DIR}/include/cio_tls.h)
  endif()
  if(CIO_CURL)
    list(APPEND CIO_MAN_HEADERS ${PROJECT_SOURCE_DIR}/include/cio_curl.h)
  endif()
  set(CIO_MAN_TEXT_PAGES ${PROJECT_SOURCE_DIR}/docs/cio.7.txt
    ${PROJECT_SOURCE_DIR}/docs/cio-timeline.1.txt)
  set(cio_man_pages)
  foreach(page ${CIO_MAN_TEXT_PAGES})
    list(APPEND cio_man_pages --page ${page})
  endforeach()
  # Each page names the example programs that call its functions.
  file(GLOB cio_man_examples CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples/*.c)
  set(cio_man_dir ${PROJECT_BINARY_DIR}/man)
  add_custom_command(OUTPUT ${cio_man_dir}/man7/cio.7
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${cio_man_dir}
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/cio-man --out ${cio_man_dir}
      --version ${PROJECT_VERSION} ${cio_man_pages}
      --examples ${PROJECT_SOURCE_DIR}/examples
      --examples-installed ${CMAKE_INSTALL_FULL_DOCDIR}/examples
      ${CIO_MAN_HEADERS}
    DEPENDS ${PROJECT_SOURCE_DIR}/tools/cio-man ${CIO_MAN_TEXT_PAGES} ${CIO_MAN_HEADERS}
      ${cio_man_examples}
    COMMENT "Writing the manual pages from the headers' comments"
    VERBATIM)
  add_custom_target(cio_man ALL DEPENDS ${cio_man_dir}/man7/cio.7)
  install(DIRECTORY ${cio_man_dir}/ DESTINATION ${CMAKE_INSTALL_MANDIR} COMPONENT dev)
endif()
