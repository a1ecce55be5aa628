#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-deb.sh — builds the Debian packages of debian/ the way Debian does
# (dpkg-buildpackage -b -us -uc, in a copy of the tracked tree), checks them
# with lintian (no errors allowed), installs them, builds and runs
# examples/concurrent.c and a TLS + curl program against the installed
# packages with nothing but pkg-config, then removes the packages again.
# Installs debhelper and lintian if they are missing. Prints
# "N passed, N failed" and exits non-zero if a step failed.
#
#   scripts/test-deb.sh            everything above
#   CIO_DEB_KEEP=DIR scripts/test-deb.sh   also copy the .deb files to DIR
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_packages "${CIO_BUILD_PACKAGES[@]}" "${CIO_DEB_PACKAGES[@]}" || exit 1

src=$PWD
work=$(mktemp -d)
installed=()
cleanup() {
    if [ ${#installed[@]} -ne 0 ]; then
        dpkg --purge "${installed[@]}" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
pass() { echo "   ok: $1"; passed=$((passed + 1)); }
fail() { echo "   FAILED: $1"; failed=$((failed + 1)); }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

# The files git tracks or would track (no build trees, nothing ignored).
mkdir "$work/cio"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work/cio"

if (cd "$work/cio" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
    dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1; then
    pass "dpkg-buildpackage -b -us -uc: $(cd "$work" && ls ./*.deb | sed 's|^\./||; s|_.*||' | tr '\n' ' ')"
else
    tail -n 40 "$work/build.log"
    fail "dpkg-buildpackage"
    finish
fi
[ -n "${CIO_DEB_KEEP:-}" ] && cp "$work"/*.deb "$CIO_DEB_KEEP"/

# lintian exits non-zero on errors (its default --fail-on error).
if lintian --fail-on error "$work"/*.changes >"$work/lintian.log" 2>&1; then
    pass "lintian: no errors ($(grep -c '^W:' "$work/lintian.log") warnings)"
else
    cat "$work/lintian.log"
    fail "lintian reports errors"
fi
grep -E '^[WE]:' "$work/lintian.log" | sed 's/^/      /' | head -n 30

mapfile -t debs < <(ls "$work"/*.deb)
for deb in "${debs[@]}"; do
    installed+=("$(dpkg-deb -f "$deb" Package)")
done
if dpkg -i "${debs[@]}" >"$work/install.log" 2>&1; then
    pass "dpkg -i ${installed[*]}"
else
    cat "$work/install.log"
    fail "dpkg -i"
    finish
fi

# Against the installed packages alone: the system's pkg-config path, no -I
# into this tree.
cd "$work"
if cc -o concurrent "$src/examples/concurrent.c" $(pkg-config --cflags --libs cio) &&
    ./concurrent | grep -q "Total: 2.0 seconds" && ldd ./concurrent | grep -q "/libcio.so.0 "; then
    pass "examples/concurrent.c with pkg-config --libs cio, run against /usr's libcio.so.0"
else
    fail "examples/concurrent.c against the packages"
fi
if cc -o consumer "$src/tests/consumers/consumer.c" $(pkg-config --cflags --libs cio-tls cio-curl) &&
    ./consumer | grep -q "consumer: ok"; then
    pass "TLS + curl program with pkg-config --libs cio-tls cio-curl"
else
    fail "TLS + curl program against the packages"
fi
if man -w cio_read >/dev/null 2>&1 && man -w 7 cio >/dev/null 2>&1 && command -v cio-timeline >/dev/null &&
    cio-timeline --help >/dev/null; then
    pass "man 3 cio_read, man 7 cio and cio-timeline are installed"
else
    fail "man pages or cio-timeline missing from the packages"
fi

if dpkg --purge "${installed[@]}" >/dev/null 2>&1; then
    pass "dpkg --purge ${installed[*]}"
    installed=()
else
    fail "dpkg --purge"
fi
finish
