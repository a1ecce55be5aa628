"""Turns the raw runs bench/run-w5.sh recorded into W5's table.

Input: one run a line, tab-separated:
    rep  conns  peer  status  maxrss_kib  RESULT key=value ...
A run is "not ok" (left out of the figures) when its status is not "ok",
it has no RESULT line, or the load generator saw a byte that differed.

For each C it prints, per server, the median (min-max) over the reps of
round trips/s, p50 and p99 (µs), the server's CPU µs per round trip, its
CPU %, the load generator's CPU % and the server's peak RSS, and the
ratios to raw epoll. Then the issue's targets for cio (by medians): round
trips/s >= 95 % of raw epoll's, server CPU per round trip within 10 % of
raw epoll's, at 1 and at 100 connections, each PASS or FAIL; the exit
status is 1 if any fails.

Standard library only: it runs on Debian's /usr/bin/python3 as is.
"""
import statistics
import sys

REFERENCE = "raw-epoll"
ORDER = ["raw-epoll", "cio", "libuv", "uvloop-protocol", "asyncio-protocol", "asyncio-streams",
         "asyncio-protocol-noprime"]


def parse(path):
    runs = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            rep, conns, peer, status, maxrss = parts[:5]
            fields = {}
            if len(parts) > 5 and parts[5].startswith("RESULT "):
                for kv in parts[5].split()[1:]:
                    k, _, v = kv.partition("=")
                    fields[k] = v
            ok = status == "ok" and fields and fields.get("errors") == "0"
            runs.append({"conns": int(conns), "peer": peer, "ok": ok, "status": status,
                         "maxrss": int(maxrss or 0), "f": fields})
    return runs


def stat(values):
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt(s, digits=1):
    if s is None:
        return "-"
    med, lo, hi = s
    return f"{med:,.{digits}f} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def main():
    runs = parse(sys.argv[1])
    failed = False
    targets = []
    for conns in sorted({r["conns"] for r in runs}):
        print(f"-- C = {conns} connection{'s' if conns > 1 else ''} --")
        header = (f"{'server':26} {'round trips/s':>26} {'p50 us':>22} {'p99 us':>24} "
                  f"{'srv CPU us/rt':>22} {'srv CPU %':>8} {'lg CPU %':>8} {'RSS MiB':>8} "
                  f"{'rt/s vs raw':>11} {'CPU/rt vs raw':>13}")
        print(header)
        peers = [p for p in ORDER if any(r["peer"] == p for r in runs)]
        stats = {}
        for peer in peers:
            mine = [r for r in runs if r["conns"] == conns and r["peer"] == peer]
            good = [r for r in mine if r["ok"]]

            def col(key, good=good):
                return stat([float(r["f"][key]) for r in good])

            stats[peer] = {k: col(k) for k in ("rps", "p50_us", "p99_us", "srv_us_per_rt",
                                                "srv_cpu_pct", "lg_cpu_pct")}
            stats[peer]["rss"] = stat([r["maxrss"] / 1024 for r in good])
            stats[peer]["bad"] = len(mine) - len(good)
        ref = stats.get(REFERENCE)
        for peer in peers:
            s = stats[peer]
            ratio_rps = ratio_cpu = "-"
            if ref and ref["rps"] and s["rps"]:
                ratio_rps = f"{s['rps'][0] / ref['rps'][0]:.2f}"
            if ref and ref["srv_us_per_rt"] and s["srv_us_per_rt"]:
                ratio_cpu = f"{s['srv_us_per_rt'][0] / ref['srv_us_per_rt'][0]:.2f}"
            note = f"  ({s['bad']} run(s) not ok)" if s["bad"] else ""
            print(f"{peer:26} {fmt(s['rps'], 0):>26} {fmt(s['p50_us']):>22} "
                  f"{fmt(s['p99_us']):>24} {fmt(s['srv_us_per_rt'], 2):>22} "
                  f"{s['srv_cpu_pct'][0] if s['srv_cpu_pct'] else 0:8.1f} "
                  f"{s['lg_cpu_pct'][0] if s['lg_cpu_pct'] else 0:8.1f} "
                  f"{s['rss'][0] if s['rss'] else 0:8.1f} {ratio_rps:>11} {ratio_cpu:>13}{note}")
        cio = stats.get("cio")
        if not (cio and ref and cio["rps"] and ref["rps"]):
            targets.append((conns, "cio or raw epoll has no valid run", False))
            continue
        r_rps = cio["rps"][0] / ref["rps"][0]
        r_cpu = cio["srv_us_per_rt"][0] / ref["srv_us_per_rt"][0]
        targets.append((conns, f"round trips/s {r_rps * 100:.1f} % of raw epoll (target >= 95 %)",
                        r_rps >= 0.95))
        targets.append((conns, f"server CPU/round trip {r_cpu * 100:.1f} % of raw epoll's "
                        f"(target <= 110 %)", r_cpu <= 1.10))
        print()
    print("-- the issue's targets for cio --")
    for conns, text, ok in targets:
        failed |= not ok
        print(f"  C={conns:<4} {text:70} {'PASS' if ok else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
