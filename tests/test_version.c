/* SPDX-License-Identifier: MIT */
/* test_version.c — the version is written once (include/cio.h) and every
 * place that states it agrees: the header's macros, the library's
 * cio_version() and cio_version_string(), CMake's project() version (given
 * as CIO_TEST_CMAKE_VERSION) and the top entry of debian/changelog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <cio.h>

static void test_version_hex_packs_the_three_numbers(void **state)
{
    assert_int_equal(CIO_VERSION_HEX, (unsigned)CIO_VERSION_MAJOR * 65536u +
                                          (unsigned)CIO_VERSION_MINOR * 256u + CIO_VERSION_PATCH);
    assert_true(CIO_VERSION_MINOR < 256 && CIO_VERSION_PATCH < 256);
}

static void test_version_library_matches_header(void **state)
{
    assert_int_equal(cio_version(), CIO_VERSION_HEX);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", CIO_VERSION_MAJOR, CIO_VERSION_MINOR,
             CIO_VERSION_PATCH);
    assert_string_equal(cio_version_string(), want);
}

static void test_version_cmake_matches_header(void **state)
{
    assert_string_equal(CIO_TEST_CMAKE_VERSION, cio_version_string());
}

/* debian/changelog's first line is "cio (VERSION-REVISION) suite; ...":
 * its upstream part is the header's version. */
static void test_version_debian_changelog_matches_header(void **state)
{
    FILE *f = fopen(CIO_TEST_SOURCE_DIR "/debian/changelog", "r");
    assert_non_null(f);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "cio (%s-", cio_version_string());
    if (strncmp(line, want, strlen(want)) != 0)
        fail_msg("debian/changelog starts \"%.*s\", not \"%s\"", (int)strcspn(line, "\n"), line,
                 want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_hex_packs_the_three_numbers),
        cmocka_unit_test(test_version_library_matches_header),
        cmocka_unit_test(test_version_cmake_matches_header),
        cmocka_unit_test(test_version_debian_changelog_matches_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
