# SPDX-License-Identifier: MIT
"""Turns the raw runs bench/run-w5.sh recorded into W5's table.

Input: one run a line, tab-separated:
    rep  conns  peer  status  maxrss_kib  RESULT key=value ...
A run is "not ok" (left out of the figures) when its status is not "ok",
it has no RESULT line, or the load generator saw a byte that differed. A
run whose status is "unavailable" (a cio backend the loop cannot start on;
the RESULT column then holds the server's UNAVAILABLE line) is neither: the
row says "unavailable" and why.

For each C it prints, per server, the median (min-max) over the reps of
round trips/s, p50 and p99 (µs), the server's CPU µs per round trip, its
CPU %, the load generator's CPU % and the server's peak RSS, and the
ratios to raw epoll and to cio on epoll. Then the issues' targets (by
medians), each PASS or FAIL:
  - cio on epoll: round trips/s >= 95 % of raw epoll's, server CPU per
    round trip within 10 % of raw epoll's, at 1 and at 100 connections;
  - cio on io_uring (issue 5): server CPU per round trip at 100
    connections >= 20 % below cio on epoll's, and below raw epoll's.
The exit status is 1 if any measured target fails; a target whose rows
are unavailable is shown as "n/a" and does not fail the run.

Standard library only: it runs on Debian's /usr/bin/python3 as is.
"""
import sys

from backend_report import fmt, fmt_ratio, parse_line, print_targets, ratio, stat

REFERENCE = "raw-epoll"
CIO_EPOLL = "cio-epoll"
CIO_URING = "cio-io_uring"
ORDER = ["raw-epoll", "cio-epoll", "cio-io_uring", "cio-poll", "libuv", "uvloop-protocol",
         "asyncio-protocol", "asyncio-streams", "asyncio-protocol-noprime"]


def parse(path):
    runs = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            rep, conns, peer, status, maxrss = parts[:5]
            fields, why = parse_line(status, parts[5] if len(parts) > 5 else "")
            ok = status == "ok" and fields.get("errors") == "0"
            runs.append({"conns": int(conns), "peer": peer, "ok": ok, "status": status,
                         "unavailable": why,
                         "maxrss": int(maxrss or 0), "f": fields})
    return runs


def collect(runs, conns, peer):
    mine = [r for r in runs if r["conns"] == conns and r["peer"] == peer]
    good = [r for r in mine if r["ok"]]
    s = {k: stat([float(r["f"][k]) for r in good])
         for k in ("rps", "p50_us", "p99_us", "srv_us_per_rt", "srv_cpu_pct", "lg_cpu_pct")}
    s["rss"] = stat([r["maxrss"] / 1024 for r in good])
    unavailable = [r for r in mine if r["unavailable"]]
    s["unavailable"] = unavailable[0]["unavailable"] if unavailable and not good else None
    s["bad"] = len(mine) - len(good) - len(unavailable)
    return s


def print_row(peer, s, ref, cio_epoll):
    if s["unavailable"]:
        print(f"{peer:26} unavailable ({s['unavailable']})")
        return
    note = f"  ({s['bad']} run(s) not ok)" if s["bad"] else ""
    print(f"{peer:26} {fmt(s['rps'], 0):>26} {fmt(s['p50_us']):>22} "
          f"{fmt(s['p99_us']):>24} {fmt(s['srv_us_per_rt'], 2):>22} "
          f"{s['srv_cpu_pct'][0] if s['srv_cpu_pct'] else 0:8.1f} "
          f"{s['lg_cpu_pct'][0] if s['lg_cpu_pct'] else 0:8.1f} "
          f"{s['rss'][0] if s['rss'] else 0:8.1f} "
          f"{fmt_ratio(ratio(s, ref, 'rps'), 11)} {fmt_ratio(ratio(s, ref, 'srv_us_per_rt'), 13)} "
          f"{fmt_ratio(ratio(s, cio_epoll, 'srv_us_per_rt'), 17)}{note}")


def epoll_targets(conns, cio, ref):
    """The networking issue's targets for cio on epoll, vs raw epoll."""
    r_rps, r_cpu = ratio(cio, ref, "rps"), ratio(cio, ref, "srv_us_per_rt")
    if r_rps is None or r_cpu is None:
        return [(conns, "cio-epoll or raw-epoll has no valid run", False)]
    return [(conns, f"cio-epoll round trips/s {r_rps * 100:.1f} % of raw epoll's "
             f"(target >= 95 %)", r_rps >= 0.95),
            (conns, f"cio-epoll server CPU/round trip {r_cpu * 100:.1f} % of raw epoll's "
             f"(target <= 110 %)", r_cpu <= 1.10)]


def uring_targets(conns, uring, cio, ref):
    """Issue 5's targets for cio on io_uring; None (n/a) while it is unavailable."""
    if uring["unavailable"]:
        return [(conns, "cio-io_uring CPU/round trip: io_uring unavailable, not measured", None)]
    out = []
    for name, peer, target, met in (("cio-epoll's", cio, "<= 80 %", lambda r: r <= 0.80),
                                    ("raw epoll's", ref, "< 100 %", lambda r: r < 1.0)):
        r = ratio(uring, peer, "srv_us_per_rt")
        if r is None:
            out.append((conns, f"cio-io_uring CPU/round trip vs {name}: no valid run", False))
        else:
            out.append((conns, f"cio-io_uring server CPU/round trip {r * 100:.1f} % of {name} "
                        f"(target {target})", met(r)))
    return out


def main():
    runs = parse(sys.argv[1])
    targets = []
    peers = [p for p in ORDER if any(r["peer"] == p for r in runs)]
    for conns in sorted({r["conns"] for r in runs}):
        print(f"-- C = {conns} connection{'s' if conns > 1 else ''} --")
        print(f"{'server':26} {'round trips/s':>26} {'p50 us':>22} {'p99 us':>24} "
              f"{'srv CPU us/rt':>22} {'srv CPU %':>8} {'lg CPU %':>8} {'RSS MiB':>8} "
              f"{'rt/s vs raw':>11} {'CPU/rt vs raw':>13} {'CPU/rt vs epoll':>17}")
        stats = {peer: collect(runs, conns, peer) for peer in peers}
        ref, cio = stats.get(REFERENCE), stats.get(CIO_EPOLL)
        for peer in peers:
            print_row(peer, stats[peer], ref, cio)
        print()
        targets += epoll_targets(conns, cio, ref)
        if conns == 100 and CIO_URING in stats:
            targets += uring_targets(conns, stats[CIO_URING], cio, ref)
    ok = print_targets("-- the issues' targets (\"CPU/rt vs epoll\" is the ratio to cio on epoll) --",
                       [(f"C={conns:<4} {text}", met) for conns, text, met in targets], 84)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
