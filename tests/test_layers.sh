#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_layers.sh — the folders of src/ are layers, and a reference between
# two of the library's objects must point down:
#
#   loop.c → observe → net → io, sync → core → arch, leaf
#
# (io and sync are side by side and do not use each other; io/backend/ is
# part of io; leaf is context.c and errors.c, with the leaf headers, at the
# root of src/ beside loop.c). Reads each compiled object's symbols with nm,
# maps every symbol one object leaves undefined to the object that defines
# it, and fails on each reference that goes up or sideways, naming both
# files and the symbol. It also fails on an internal symbol (cio__*) whose
# prefix does not name the file that defines it: cio__<file>_..., with
# scheduler.c's cio__sched_ and the context switches' (arch/, one per
# architecture, all behind core/ctx.h) cio__ctx_.
#
#   tests/test_layers.sh NM OBJECT...     (CTest passes cio_objects' objects)
set -uo pipefail
if [ $# -lt 2 ]; then
    echo "usage: test_layers.sh NM OBJECT..." >&2
    exit 2
fi
nm_tool=$1
shift

# The source file an object was compiled from, from src/: the object is
# .../src/<path>.c.o (or .S.o).
source_of() {
    local o=${1##*/src/}
    echo "${o%.o}"
}

# A layer's rank; a reference may only go to a lower rank, or stay inside
# one folder. Two folders of one rank are side by side: neither may use the
# other.
layer_of() {
    case $1 in
    loop.c) echo "root 6" ;;
    observe/*) echo "observe 5" ;;
    net/*) echo "net 4" ;;
    io/*) echo "io 3" ;;
    sync/*) echo "sync 3" ;;
    core/*) echo "core 2" ;;
    arch/*) echo "arch 1" ;;
    */*) echo "unknown 0" ;;
    *) echo "leaf 0" ;;
    esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/defs"
: >"$tmp/uses"
for obj in "$@"; do
    src=$(source_of "$obj")
    read -r layer rank < <(layer_of "$src")
    if [ "$layer" = unknown ]; then
        echo "test_layers: src/$src is in no known layer (add its folder to tests/test_layers.sh)"
        exit 1
    fi
    # Defined: any upper-case type but U; undefined: U, and weak references.
    "$nm_tool" "$obj" | awk -v src="$src" -v layer="$layer" -v rank="$rank" \
        -v defs="$tmp/defs" -v uses="$tmp/uses" '
        NF == 2 && ($1 == "U" || $1 == "w") { print $2, src, layer, rank >> uses; next }
        NF == 3 && $2 ~ /^[A-TV-Z]$/ { print $3, src, layer, rank >> defs }'
done
if [ ! -s "$tmp/defs" ]; then
    echo "test_layers: nm found no symbols in the objects"
    exit 1
fi

# A prefix names its file.
awk '
    {
        sym = $1; src = $2
        base = src; sub(/.*\//, "", base); sub(/\.[cS]$/, "", base)
        if (base == "scheduler") base = "sched"
        if (src ~ /^arch\//) base = "ctx"
        if (sym ~ /^cio__/ && index(sym, "cio__" base "_") != 1) {
            printf "misnamed: %s, defined in src/%s, does not start with cio__%s_\n", sym, src, base
            bad++
        }
    }
    END { exit bad ? 1 : 0 }' "$tmp/defs" || status=1

awk -v defs="$tmp/defs" '
    BEGIN {
        while ((getline line < defs) > 0) {
            split(line, f, " ")
            def_src[f[1]] = f[2]; def_layer[f[1]] = f[3]; def_rank[f[1]] = f[4]
        }
    }
    {
        sym = $1; src = $2; layer = $3; rank = $4
        if (!(sym in def_src) || def_layer[sym] == layer)
            next
        if (def_rank[sym] > rank)
            how = "upward"
        else if (def_rank[sym] == rank)
            how = "sideways"
        else
            next
        printf "%s reference: src/%s (%s) uses %s from src/%s (%s)\n", how, src, layer, sym,
            def_src[sym], def_layer[sym]
        bad++
    }
    END {
        if (bad) {
            printf "test_layers: %d reference(s) against the layers\n", bad
            exit 1
        }
        print "test_layers: every reference between the library'"'"'s objects points down"
    }' "$tmp/uses" || status=1
exit ${status:-0}
