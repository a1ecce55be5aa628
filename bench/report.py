# SPDX-License-Identifier: MIT
"""Turns the raw runs bench/run.sh recorded into the comparison table.

Input: the results file, one run a line, tab-separated:
    rep  workload  peer  status  wall_s  maxrss_kib  RESULT key=value ...
(status is "ok" when the program exited 0, else "exit=CODE").

It checks every RESULT line against WORKLOADS.md (sum, count, switches);
a run that fails the check is "not ok" and left out of the figures. For
each metric it prints the cio median (min-max), each peer's median
(min-max) and the ratio peer / cio. Every metric is "lower is better", so a
ratio > 1 means cio is better. Beside the cio figure stand the issue's
targets, each marked PASS or FAIL (by medians).

Standard library only: it runs on Debian's /usr/bin/python3 as is.
"""
import argparse
import statistics
import sys

# (workload id, title, the cio row's peer, the peers it is compared with,
#  the workload whose peer runs to use (W3 with 2 KiB stacks compares with
#  the same Python runs as W3), metrics as (RESULT key or special, label)).
W4_METRICS = [("setup_ms", "setup ms"), ("total_ms", "total ms"),
              ("after_last_deadline_ms", "after last deadline ms"), ("peak_mib", "peak RSS MiB")]
W3_METRICS = [("bytes_per_task", "bytes/idle task"), ("spawn_block_ms", "spawn+block ms"),
              ("total_ms", "total ms"), ("peak_mib", "peak RSS MiB")]
PY = ["py-asyncio", "py-uvloop"]
WORKLOADS = [
    ("w1", "W1 spawn", PY, "w1", [("ns_per_task", "ns/task"), ("peak_mib", "peak RSS MiB")]),
    ("w2", "W2 switch", PY, "w2", [("ns_per_switch", "ns/switch")]),
    ("w3", "W3 idle (default stack)", PY, "w3", W3_METRICS),
    ("w3-2k", "W3 idle (2 KiB stacks)", PY, "w3", W3_METRICS),
    ("w4-spread", "W4 timers spread", ["libuv"] + PY, "w4-spread", W4_METRICS),
    ("w4-same", "W4 timers same", ["libuv"] + PY, "w4-same", W4_METRICS),
    ("w4-uvshape", "W4 timers uvshape", ["libuv"] + PY, "w4-uvshape", W4_METRICS),
    ("w6-queue", "W6 queue ping-pong", PY, "w6-queue", [("ns_per_handoff", "ns/hand-off")]),
    ("w6-lock", "W6 lock hand-off", PY, "w6-lock", [("ns_per_handoff", "ns/hand-off")]),
]


def parse(path):
    runs = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            rep, workload, peer, status, wall, maxrss = parts[:6]
            fields = {}
            if len(parts) > 6 and parts[6].startswith("RESULT "):
                for kv in parts[6].split()[1:]:
                    k, _, v = kv.partition("=")
                    fields[k] = v
            runs.append({"rep": int(rep), "workload": workload, "peer": peer, "status": status,
                         "wall": wall, "maxrss": maxrss, "fields": fields})
    return runs


def check(run, n, switches):
    """Why the run is not ok, or None. The checks of WORKLOADS.md."""
    if run["status"] != "ok":
        return run["status"]
    f = run["fields"]
    if not f:
        return "no RESULT line"
    try:
        w = run["workload"]
        if w == "w1":
            want = {"n": n, "sum": 45 * (n // 10) + (n % 10) * (n % 10 - 1) // 2}
        elif w == "w2":
            want = {"switches": switches, "yields": switches}
        elif w.startswith("w3"):
            want = {"n": n, "sum": n}
        elif w == "w6-queue":
            want = {"rounds": n, "value": n}
        elif w == "w6-lock":
            # FIFO hand-off: the holder (initially nobody) changes at every
            # acquisition.
            want = {"rounds": n, "acquisitions": 2 * n, "changes": 2 * n}
        else:
            want = {"n": n, "count": n}
        for k, v in want.items():
            if int(f[k]) != v:
                return f"{k}={f[k]}, want {v}"
        f["peak_mib"] = str(int(run["maxrss"]) / 1024)
    except (KeyError, ValueError) as e:
        return f"bad RESULT line ({e})"
    return None


def fmt(x):
    if x is None:
        return "-"
    a = abs(x)
    return f"{x:.0f}" if a >= 100 else f"{x:.1f}" if a >= 10 else f"{x:.2f}"


class Stat:
    def __init__(self, values):
        self.values = values
        self.median = statistics.median(values) if values else None

    def __str__(self):
        if not self.values:
            return "no ok run"
        return f"{fmt(self.median)} ({fmt(min(self.values))}-{fmt(max(self.values))})"


def ratio(peer, cio):
    if peer.median is None or cio.median is None or cio.median <= 0:
        return "-"
    return fmt(peer.median / cio.median)


def targets(stats):
    """The issue's targets: (workload, metric key, peer row, text, passed).
    stats(workload, peer, key) gives a Stat."""
    def m(w, p, k):
        return stats(w, p, k).median

    def le(a, b):
        return a is not None and b is not None and a <= b

    def lt(a, b):
        return a is not None and b is not None and a < b

    out = [
        ("w2", "ns_per_switch", None, "<= 10 ns", le(m("w2", "cio", "ns_per_switch"), 10)),
        ("w1", "ns_per_task", None, "<= 100 ns", le(m("w1", "cio", "ns_per_task"), 100)),
        ("w1", "peak_mib", None, "<= 200 MiB", le(m("w1", "cio", "peak_mib"), 200)),
        ("w3", "bytes_per_task", None, "<= 4.5 KiB",
         le(m("w3", "cio", "bytes_per_task"), 4.5 * 1024)),
        ("w3-2k", "bytes_per_task", None, "<= 2.4 KiB",
         le(m("w3-2k", "cio", "bytes_per_task"), 2.4 * 1024)),
    ]
    for shape in ("spread", "same", "uvshape"):
        w = "w4-" + shape
        out.append((w, "total_ms", "libuv", "<= libuv",
                    le(m(w, "cio", "total_ms"), m(w, "libuv", "total_ms"))))
        out.append((w, "setup_ms", "libuv", "< libuv",
                    lt(m(w, "cio", "setup_ms"), m(w, "libuv", "setup_ms"))))
    w2 = m("w2", "cio", "ns_per_switch")
    out.append(("w6-queue", "ns_per_handoff", None, "<= 2 W2 switches + 20 ns",
                le(m("w6-queue", "cio", "ns_per_handoff"), 2 * w2 + 20 if w2 else None)))
    lib = m("w4-same", "libuv", "after_last_deadline_ms")
    out.append(("w4-same", "after_last_deadline_ms", "libuv", "<= libuv / 2",
                le(m("w4-same", "cio", "after_last_deadline_ms"), lib / 2 if lib else None)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--switches", type=int, required=True)
    args = ap.parse_args()

    runs = parse(args.results)
    bad = []
    for r in runs:
        why = check(r, args.n, args.switches)
        r["ok"] = why is None
        if why:
            bad.append(f"  rep {r['rep']} {r['workload']} {r['peer']}: {why}")

    def stats(workload, peer, key):
        return Stat([float(r["fields"][key]) for r in runs
                     if r["ok"] and r["workload"] == workload and r["peer"] == peer])

    present = {(r["workload"], r["peer"]) for r in runs}
    tgt = {(w, k): (p, text, ok) for w, k, p, text, ok in targets(stats)}

    header = ["workload", "metric", "cio median (min-max)", "target", "peer",
              "peer median (min-max)", "peer/cio"]
    rows = []
    for wid, title, peers, peer_wid, metrics in WORKLOADS:
        if (wid, "cio") not in present:
            continue
        for key, label in metrics:
            cio = stats(wid, "cio", key)
            t = tgt.get((wid, key))
            first = True
            for peer in peers:
                if (peer_wid, peer) not in present:
                    continue
                ps = stats(peer_wid, peer, key)
                target = ""
                # A target goes on the row of the peer it compares with, or
                # on the metric's first row when it is absolute.
                if t and (t[0] == peer or (t[0] is None and first)):
                    target = f"{t[1]}: {'PASS' if t[2] else 'FAIL'}"
                rows.append([title, label, str(cio) if first else '"', target, peer, str(ps),
                             ratio(ps, cio)])
                first = False
        rows.append(None)

    widths = [max(len(h), *(len(r[i]) for r in rows if r)) for i, h in enumerate(header)]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print(line)
    for r in rows[:-1]:
        print(line if r is None else "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print()
    print("peer/cio = peer median / cio median. Every metric is lower-is-better,")
    print("so peer/cio > 1 means cio is better (faster, or less memory).")
    print("W3: every task blocks on one event (cio_event, asyncio.Event), released by setting it.")
    print("after last deadline = total - (latest deadline the runtime assigned - t0).")
    print("W4: cio's deadlines come from one clock reading at t0 (cio_call_at), as libuv's")
    print("come from its cached loop time; asyncio's call_later reads the clock at each call.")
    passed = sum(1 for *_, ok in tgt.values() if ok)
    print(f"targets: {passed} of {len(tgt)} PASS")
    if bad:
        print("runs that are not ok (left out of the figures):")
        print("\n".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
