#!/usr/bin/env bash
# demo.sh — builds cio and runs the seed examples: two tasks awaited one
# after the other (3 s), then the same two as concurrent tasks (2 s).
# Installs the Debian packages it needs if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_packages "${CIO_BUILD_PACKAGES[@]}"

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIO_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target sequential concurrent >/dev/null

echo "== examples/sequential.c: await A, then await B =="
./build/examples/sequential
echo
echo "== examples/concurrent.c: cio_create_task both, then await =="
./build/examples/concurrent
