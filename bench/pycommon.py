# SPDX-License-Identifier: MIT
"""What every Python peer shares: the loop choice, the command line, VmRSS
and the RESULT line of WORKLOADS.md's output contract.

Run with Debian's /usr/bin/python3. The first argument picks the loop:
`asyncio` (the stock loop) or `uvloop` (uvloop.EventLoopPolicy installed
before asyncio.run). Same source for both.
"""
import argparse
import asyncio
import sys

N = 1_000_000
SWITCHES = 10_000_000


def parse_args(extra=None):
    p = argparse.ArgumentParser()
    p.add_argument("loop", choices=["asyncio", "uvloop"])
    p.add_argument("--n", type=int, default=N)
    p.add_argument("--switches", type=int, default=SWITCHES)
    p.add_argument("--shape", choices=["spread", "same", "uvshape"], default="spread")
    return p.parse_args()


def run(args, main_coro_fn):
    """asyncio.run on the chosen loop; returns main's result."""
    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(main_coro_fn())


def impl(args):
    return "py-" + args.loop


def vmrss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def result(**fields):
    """One `RESULT key=value ...` line, flushed before teardown starts."""
    line = " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
    print("RESULT " + line, flush=True)


def timeout_ms(shape, i):
    """W4's three shapes of timeout for timer i, in ms."""
    if shape == "same":
        return 1000
    if shape == "uvshape":
        return 1 + i // 1000
    return i % 1000
