#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-tls.sh — issue 17's TLS figure: what a new client connection to a
# local cio TLS server costs (connect, handshake, one line there and back,
# close), in ms, four ways side by side (bench/tls_handshake.c says which),
# with the issue's two targets marked PASS or FAIL:
#   ctx-full (system bundle, a reused context) <= 1.5 x opts-ca (no bundle)
#   ctx-resumed < ctx-full
# The server runs `taskset -c 0`, the client `taskset -c 1`; a fresh server
# for each (rep, mode), modes round-robin. Certificates are made in a
# scratch directory; the bundle is the system's (ca-certificates) plus the
# test CA. Builds into build-tls (Release, -O2).
#
#   bench/run-tls.sh [--quick]      3 reps of 200 connections (1 rep)
set -uo pipefail
cd "$(dirname "$0")/.."

. scripts/deps.sh
. bench/backends.sh
bench_parse_reps run-tls "$@" || exit 2
build=build-tls
need_packages "${CIO_BUILD_PACKAGES[@]}" "${CIO_BENCH_PACKAGES[@]}" || exit 1
bench_build "$build" run-tls tls_handshake || exit 1
bin=$build/bench/tls_handshake
system_bundle=/etc/ssl/certs/ca-certificates.crt
[ -s "$system_bundle" ] || { echo "run-tls: no $system_bundle" >&2; exit 1; }

bench_scratch
(
    cd "$scratch" &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout ca.key -out ca.pem -days 2 -subj /CN=cio-bench-ca &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout server.key -out server.csr -subj /CN=localhost &&
        printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >server.ext &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 1 -days 2 \
            -extfile server.ext -out server.pem &&
        cat "$system_bundle" ca.pem >bundle.pem
) >"$scratch/openssl.log" 2>&1 || { cat "$scratch/openssl.log"; exit 1; }
ncerts=$(grep -c 'BEGIN CERTIFICATE' "$scratch/bundle.pem")

modes=(opts-ca opts-bundle ctx-full ctx-resumed)
declare -A ms
load_before=$(cut -d' ' -f1 /proc/loadavg)
for rep in $(seq "$reps"); do
    for mode in "${modes[@]}"; do
        mkfifo "$scratch/stdin.$rep.$mode"
        taskset -c 0 "$bin" server --cert "$scratch/server.pem" --key "$scratch/server.key" \
            <"$scratch/stdin.$rep.$mode" >"$scratch/srv.out" 2>"$scratch/srv.err" &
        server_pid=$!
        exec 9>"$scratch/stdin.$rep.$mode"
        port=
        for _ in $(seq 100); do
            port=$(sed -nE 's/^LISTEN port=([0-9]+).*/\1/p' "$scratch/srv.out")
            [ -n "$port" ] && break
            sleep 0.1
        done
        [ -n "$port" ] || { cat "$scratch/srv.err"; echo "run-tls: no server" >&2; exit 1; }
        line=$(taskset -c 1 "$bin" client --port "$port" --ca "$scratch/ca.pem" \
            --bundle "$scratch/bundle.pem" --mode "$mode" --n 200 | grep '^RESULT')
        exec 9>&-
        wait "$server_pid"
        server_pid=
        v=$(sed -E 's/.*ms_per_conn=([0-9.]+).*/\1/' <<<"$line")
        [ -n "$v" ] || { echo "run-tls: $mode gave no result" >&2; exit 1; }
        ms[$mode]="${ms[$mode]:-} $v"
        echo "  rep $rep: $line"
    done
done

echo
bench_describe "$load_before"
echo "bundle: $ncerts certificates ($system_bundle + the test CA); server: cio, TLS 1.3, P-256"
printf '%-12s %10s   %s\n' mode "ms/conn" "(all reps)"
declare -A med
for mode in "${modes[@]}"; do
    med[$mode]=$(bench_median "${ms[$mode]}")
    printf '%-12s %10s   (%s )\n' "$mode" "${med[$mode]}" "${ms[$mode]}"
done
ratio=$(awk -v a="${med[ctx-full]}" -v b="${med[opts-ca]}" 'BEGIN {printf "%.2f", a / b}')
verdict=$(awk -v r="$ratio" 'BEGIN {print (r <= 1.5) ? "PASS" : "FAIL"}')
echo "ctx-full / opts-ca = $ratio (target <= 1.5): $verdict"
ratio=$(awk -v a="${med[ctx-resumed]}" -v b="${med[ctx-full]}" 'BEGIN {printf "%.2f", a / b}')
verdict=$(awk -v r="$ratio" 'BEGIN {print (r < 1) ? "PASS" : "FAIL"}')
echo "ctx-resumed / ctx-full = $ratio (target < 1): $verdict"
ratio=$(awk -v a="${med[opts-bundle]}" -v b="${med[opts-ca]}" 'BEGIN {printf "%.2f", a / b}')
echo "(before contexts) opts-bundle / opts-ca = $ratio"
