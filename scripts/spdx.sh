#!/usr/bin/env bash
# spdx.sh — puts "SPDX-License-Identifier: MIT" at the top of every source
# file of the repository that lacks it, or, with --check, lists those that
# lack it and fails. Idempotent: a file that has the line anywhere in its
# first three lines is left alone.
#
#   scripts/spdx.sh            add the line where it is missing
#   scripts/spdx.sh --check    fail (exit 1) naming each file without it
#
# C, assembly and headers get "/* SPDX-License-Identifier: MIT */" as their
# first line; shell, Python, CMake and other '#'-comment files get
# "# SPDX-License-Identifier: MIT", after the "#!" line where there is one
# (the kernel reads the interpreter from the first two bytes only).
set -euo pipefail
cd "$(dirname "$0")/.."

tag="SPDX-License-Identifier: MIT"
check=0
[ "${1:-}" = "--check" ] && check=1

# The comment style a tracked file takes, or nothing for a file that is not
# source (documentation, data, the Debian packaging's own formats).
style_of() {
    case "$1" in
    debian/*) ;;
    *.c | *.h | *.S | *.cpp | *.hpp) echo c ;;
    *.sh | *.py | *.cmake | *.cmake.in | CMakeLists.txt | */CMakeLists.txt | *.pc.in) echo hash ;;
    Makefile | */Makefile) echo hash ;;
    *)
        # Any other script: a file that starts with "#!" (.ci/run, tools/).
        if [ "$(head -c 2 "$1" 2>/dev/null | tr -d '\000')" = "#!" ]; then echo hash; fi
        ;;
    esac
}

missing=0
while IFS= read -r -d '' file; do
    style=$(style_of "$file")
    [ -n "$style" ] || continue
    head -n 3 "$file" | grep -q "$tag" && continue
    if [ $check -eq 1 ]; then
        echo "no SPDX line: $file"
        missing=$((missing + 1))
        continue
    fi
    tmp=$(mktemp)
    if [ "$style" = c ]; then
        { echo "/* $tag */"; cat "$file"; } >"$tmp"
    elif head -c 2 "$file" | grep -q '^#!'; then
        { head -n 1 "$file"; echo "# $tag"; tail -n +2 "$file"; } >"$tmp"
    else
        { echo "# $tag"; cat "$file"; } >"$tmp"
    fi
    # Keep the file's mode (scripts stay executable).
    cat "$tmp" >"$file"
    rm -f "$tmp"
    echo "added: $file"
done < <(git ls-files -z)

if [ $check -eq 1 ] && [ $missing -ne 0 ]; then
    echo "$missing source files lack the SPDX line: run scripts/spdx.sh" >&2
    exit 1
fi
exit 0
