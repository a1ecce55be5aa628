#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh — builds cio, runs the seed's two programs (examples/sequential.c,
# examples/concurrent.c), then the guided tour (examples/tour.c): the event
# loop, two sleeps awaited one after the other (3 s), the same two as tasks
# (2 s), and an await on a real socket to a local HTTP server, each step
# narrated by the loop itself (CIO_TRACE=1). The tour leaves its trace,
# build/tour.json, and the timeline page drawn from it, build/tour.html.
# Installs the Debian packages it needs if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_packages "${CIO_BUILD_PACKAGES[@]}" "${CIO_TOOL_PACKAGES[@]}"

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_TESTS=OFF >/dev/null
# The whole build, not only the demo's programs: the README's next step,
# cmake --install build, installs the libraries too.
cmake --build build -j"$(nproc)" >/dev/null

cd build
echo "== the seed's two programs: sequential awaits (3 s), then tasks (2 s) =="
./examples/sequential
./examples/concurrent
echo
echo "== the guided tour: the same, watched, and a real socket =="
./examples/tour
echo
echo "The timeline: $PWD/tour.html"
