# SPDX-License-Identifier: MIT
"""What bench/w5_report.py and bench/w7_report.py share: reading a raw run's
RESULT (or UNAVAILABLE) line, medians with their range, ratios of medians,
and the PASS / FAIL / n/a verdicts of the issues' targets.

A target's verdict is True, False, or None when the rows it needs are
unavailable (a cio backend the loop cannot start on): None prints "n/a"
and does not fail the run.

Standard library only: it runs on Debian's /usr/bin/python3 as is.
"""
import statistics


def parse_line(status, text):
    """The key=value fields of a RESULT line, and why the run is unavailable
    (None unless its status says so; the line is then the program's
    UNAVAILABLE line, "; " and cio's own message)."""
    fields = {}
    if text.startswith(("RESULT ", "UNAVAILABLE ")):
        for kv in text.split()[1:]:
            k, _, v = kv.partition("=")
            fields[k] = v
    why = None
    if status == "unavailable":
        why = text.partition(" error=")[2] or "the loop cannot start"
    return fields, why


def stat(values):
    """(median, min, max), or None for no values."""
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt(s, digits=1):
    if s is None:
        return "-"
    med, lo, hi = s
    return f"{med:,.{digits}f} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def ratio(a, b, key):
    """a's median of key over b's, or None when either has no valid run."""
    if a and b and a[key] and b[key]:
        return a[key][0] / b[key][0]
    return None


def fmt_ratio(r, width):
    return f"{r:>{width}.2f}" if r is not None else f"{'-':>{width}}"


def print_targets(title, targets, width):
    """Prints (text, verdict) pairs; True if none failed."""
    print(title)
    failed = False
    for text, ok in targets:
        failed |= ok is False
        print(f"  {text:{width}} {'n/a' if ok is None else 'PASS' if ok else 'FAIL'}")
    return not failed
