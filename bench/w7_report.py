# SPDX-License-Identifier: MIT
"""Turns the raw runs bench/run-w7.sh recorded into W7's table.

Input: one run a line, tab-separated:
    rep  mode  peer  status  maxrss_kib  RESULT key=value ...
A run is "not ok" (left out of the figures) when its status is not "ok",
or its RESULT line fails WORKLOADS.md's check: every read whole and every
block in it the right one (errors=0), the checksum equal to the one the
offsets give (sum == expected), all the reads done, and, for a cio row,
the backend its name says. A run whose status is "unavailable" (a cio
backend the loop cannot start on; the RESULT column then holds the
program's UNAVAILABLE line) is neither: the row says "unavailable" and why.

For each mode it prints, per reader, the median (min-max) over the reps of
reads/s and MiB/s, the process's CPU µs per read and its peak RSS, and the
ratios of reads/s to cio on epoll (the thread-pool path) and to libuv.
Then issue 5's target (by medians): on random reads, io_uring's reads/s at
least 20 % above cio on epoll's and libuv's, each PASS or FAIL. The exit
status is 1 if a measured target fails; a target whose rows are
unavailable is shown as "n/a" and does not fail the run.

Standard library only: it runs on Debian's /usr/bin/python3 as is.
"""
import sys

from backend_report import fmt, fmt_ratio, parse_line, print_targets, ratio, stat

ORDER = ["cio-epoll", "cio-io_uring", "cio-poll", "libuv"]
THREAD_POOL = "cio-epoll"
URING = "cio-io_uring"
LIBUV = "libuv"
# What the ratios and the target compare.
RATE = "reads_per_s"
# WORKLOADS.md: readers x reads per reader.
READS = {"random": 100 * 10000, "sequential": 4 * 1024}


def check(status, mode, peer, f):
    """Why the run is not ok, or None."""
    if status != "ok":
        return status
    if not f:
        return "no RESULT line"
    if f.get("mode") != mode or f.get("reads") != str(READS[mode]):
        return f"mode {f.get('mode')} with {f.get('reads')} reads"
    if f.get("errors") != "0":
        return f"{f.get('errors')} bad reads"
    if f.get("sum") != f.get("expected"):
        return f"checksum {f.get('sum')}, expected {f.get('expected')}"
    if peer.startswith("cio-") and f.get("backend") != peer[len("cio-"):]:
        return f"backend {f.get('backend')}"
    return None


def parse(path):
    runs = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            rep, mode, peer, status, maxrss = parts[:5]
            fields, why = parse_line(status, parts[5] if len(parts) > 5 else "")
            runs.append({"mode": mode, "peer": peer, "unavailable": why,
                         "bad": None if why else check(status, mode, peer, fields),
                         "maxrss": int(maxrss or 0), "f": fields})
    return runs


def collect(runs, mode, peer):
    mine = [r for r in runs if r["mode"] == mode and r["peer"] == peer]
    good = [r for r in mine if not r["unavailable"] and not r["bad"]]
    s = {k: stat([float(r["f"][k]) for r in good])
         for k in ("reads_per_s", "mib_per_s", "cpu_us_per_read", "elapsed_ms")}
    s["rss"] = stat([r["maxrss"] / 1024 for r in good])
    unavailable = [r["unavailable"] for r in mine if r["unavailable"]]
    s["unavailable"] = unavailable[0] if unavailable and not good else None
    s["bad"] = sorted({r["bad"] for r in mine if r["bad"]})
    return s


def main():
    runs = parse(sys.argv[1])
    peers = [p for p in ORDER if any(r["peer"] == p for r in runs)]
    targets = []
    for mode in ("random", "sequential"):
        if not any(r["mode"] == mode for r in runs):
            continue
        shape = ("100 readers x 10,000 reads of 4 KiB at random offsets" if mode == "random"
                 else "4 readers x a quarter of the file in 64 KiB reads")
        print(f"-- {mode}: {shape} --")
        print(f"{'reader':14} {'reads/s':>30} {'MiB/s':>26} {'CPU us/read':>22} "
              f"{'elapsed ms':>26} {'RSS MiB':>8} {'vs cio-epoll':>12} {'vs libuv':>9}")
        stats = {peer: collect(runs, mode, peer) for peer in peers}
        for peer in peers:
            s = stats[peer]
            if s["unavailable"]:
                print(f"{peer:14} unavailable ({s['unavailable']})")
                continue
            note = f"  (not ok: {'; '.join(s['bad'])})" if s["bad"] else ""
            print(f"{peer:14} {fmt(s['reads_per_s'], 0):>30} {fmt(s['mib_per_s']):>26} "
                  f"{fmt(s['cpu_us_per_read'], 2):>22} {fmt(s['elapsed_ms']):>26} "
                  f"{s['rss'][0] if s['rss'] else 0:8.1f} "
                  f"{fmt_ratio(ratio(s, stats.get(THREAD_POOL), RATE), 12)} "
                  f"{fmt_ratio(ratio(s, stats.get(LIBUV), RATE), 9)}{note}")
        print()
        if mode == "random" and URING in stats:
            uring = stats[URING]
            for name, peer in (("cio-epoll's (thread pool)", THREAD_POOL), ("libuv's", LIBUV)):
                if uring["unavailable"]:
                    targets.append((f"cio-io_uring reads/s vs {name}: io_uring unavailable, "
                                    "not measured", None))
                    continue
                r = ratio(uring, stats.get(peer), RATE)
                if r is None:
                    targets.append((f"cio-io_uring reads/s vs {name}: no valid run", False))
                else:
                    targets.append((f"cio-io_uring reads/s {r * 100:.1f} % of {name} "
                                    "(target >= 120 %)", r >= 1.20))
    ok = print_targets("-- issue 5's target (random reads) --", targets, 78)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
