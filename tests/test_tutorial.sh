#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_tutorial.sh — docs/tutorial.md keeps its promises: every cio name it
# mentions exists in include/cio.h, and every ```c block in it is a whole
# program that compiles against cio with the project's warnings and runs to
# exit status 0.
#
#   test_tutorial.sh SOURCE_DIR CC LIBCIO [DEP_LDFLAGS...]
#
# DEP_LDFLAGS: what libcio.a itself links with (liburing, where the io_uring
# backend is built).
set -uo pipefail
usage="usage: test_tutorial.sh SOURCE_DIR CC LIBCIO [DEP_LDFLAGS...]"
src=${1:?$usage}
cc=${2:?$usage}
libcio=${3:?$usage}
shift 3
dep_ldflags=("$@")
tutorial=$src/docs/tutorial.md
header=$src/include/cio.h
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# Names: cio_x and CIO_X, without the families written as cio_x_* and
# without the environment variables, which are not in the header.
names=$(grep -o -E '\b(cio|CIO)_[A-Za-z0-9_]*[A-Za-z0-9]' "$tutorial" | sort -u |
    grep -v -E '^CIO_(TRACE|TRACE_MAX_MB|DEBUG|SLOW_TASK_MS|BACKEND|THREADPOOL_SIZE)$')
for name in $names; do
    if grep -q -w -- "$name" "$header"; then
        :
    elif grep -q -E "\\b${name}_[a-z]" "$header" && grep -q -F -- "${name}_*" "$tutorial"; then
        : # a family, as cio_event_*
    else
        echo "FAIL: docs/tutorial.md names $name, which include/cio.h does not declare"
        failures=$((failures + 1))
    fi
done
echo "ok: $(wc -w <<<"$names") cio names checked against include/cio.h"

# Each ```c block into its own file.
awk -v dir="$work" '
    /^```c$/ { n++; file = sprintf("%s/block%02d.c", dir, n); inside = 1; next }
    /^```/ && inside { inside = 0; close(file); next }
    inside { print > file }
' "$tutorial"
blocks=("$work"/block*.c)
if [ ! -e "${blocks[0]}" ]; then
    echo "FAIL: no \`\`\`c block in docs/tutorial.md"
    exit 1
fi
for block in "${blocks[@]}"; do
    name=$(basename "$block" .c)
    if ! "$cc" -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wwrite-strings -Werror -I"$src/include" \
        -o "$work/$name" "$block" "$libcio" "${dep_ldflags[@]}" -lpthread -lm \
        2>"$work/$name.log"; then
        echo "FAIL: $name (the tutorial's code block number ${name#block}) does not compile:"
        cat "$work/$name.log"
        failures=$((failures + 1))
    elif ! (cd "$work" && env -u CIO_TRACE timeout 60 "./$name" >"$work/$name.out" 2>&1); then
        echo "FAIL: $name exits non-zero:"
        cat "$work/$name.out"
        failures=$((failures + 1))
    else
        echo "ok: $name: $(head -n1 "$work/$name.out")"
    fi
done

[ "$failures" -eq 0 ] && echo "all ${#blocks[@]} tutorial programs compile and run"
[ "$failures" -eq 0 ]
