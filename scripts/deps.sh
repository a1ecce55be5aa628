# SPDX-License-Identifier: MIT
# deps.sh — sourced by the other scripts: installs the Debian packages a step
# needs, only those missing, and says which.
#
#   need_packages PKG...    installs what is missing (as root, non-interactive)

# tools/cio-timeline, which the demo and the tests run, is a python3 script;
# the tests load the page it writes in headless Chromium.
CIO_TOOL_PACKAGES=(python3)
# The suite also builds cio with clang and a C++ consumer with clang++
# (Debian's clang brings both).
# groff renders the manual pages in the suite's check of them.
CIO_TEST_PACKAGES=(chromium clang groff-base)
# scripts/fuzz.sh and the fuzzing stage of scripts/test.sh: clang, and
# libFuzzer with the sanitizer runtimes (only recommended by clang-14, so
# named here: --no-install-recommends would leave it out).
CIO_FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)

need_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "cio: installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "cio: these need root: run as root, or apt-get install -y ${missing[*]}" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# bench/run-http.sh and bench/run-tls.sh: wrk (the HTTP load tool), nginx
# as the peer (curl checks its answer), libuv for the libuv peer, the
# system's CA bundle.
CIO_BENCH_PACKAGES=(wrk curl nginx-light libuv1-dev ca-certificates util-linux)

# What building and testing cio needs on Debian 12.
# TLS and curl: libssl-dev, libcurl4-openssl-dev; their tests' peers: the
# openssl command (s_server, s_client, certificates) and nginx (nginx-light
# brings the echo module the POST test uses).
CIO_BUILD_PACKAGES=(build-essential cmake pkg-config libcmocka-dev libssl-dev libcurl4-openssl-dev
    liburing-dev openssl nginx-light python3)

# Building the Debian packages (scripts/test-deb.sh): debhelper for
# debian/rules, lintian to check what it made.
CIO_DEB_PACKAGES=(debhelper dpkg-dev lintian)

# The core-only build with musl libc (scripts/test.sh's musl stage).
CIO_MUSL_PACKAGES=(musl-tools)
