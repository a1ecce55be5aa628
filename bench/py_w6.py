# SPDX-License-Identifier: MIT
"""W6 hand-off: asyncio.Queue(maxsize=1) ping-pong, or asyncio.Lock hand-off.

--mode queue: A puts v on q1 and gets from q2, B gets from q1 and puts v + 1
on q2; N round trips (2N hand-offs); the final value must be N.
--mode lock: two tasks each acquire the lock, sleep(0) holding it, release,
N times each; FIFO makes them alternate (2N - 1 changes of holder).
"""
import argparse
import asyncio
import sys
import time

import pycommon


def main():
    mode_parser = argparse.ArgumentParser(add_help=False)
    mode_parser.add_argument("--mode", choices=["queue", "lock"], default="queue")
    mode_args, rest = mode_parser.parse_known_args()
    sys.argv[1:] = rest
    args = pycommon.parse_args()
    n = args.n

    async def ping(q1, q2):
        v = 0
        for _ in range(n):
            await q1.put(v)
            v = await q2.get()
        return v

    async def pong(q1, q2):
        for _ in range(n):
            v = await q1.get()
            await q2.put(v + 1)

    state = {"last": 0, "changes": 0}

    async def locker(lock, me):
        for _ in range(n):
            async with lock:
                if state["last"] != me:
                    state["last"] = me
                    state["changes"] += 1
                await asyncio.sleep(0)

    async def bench():
        handoffs = 2 * n
        if mode_args.mode == "queue":
            q1, q2 = asyncio.Queue(maxsize=1), asyncio.Queue(maxsize=1)
            t0 = time.monotonic()
            a = asyncio.create_task(ping(q1, q2))
            b = asyncio.create_task(pong(q1, q2))
            value = await a
            await b
            elapsed = time.monotonic() - t0
            pycommon.result(workload="w6-queue", impl=pycommon.impl(args), rounds=n, value=value,
                            handoffs=handoffs, elapsed_ms=elapsed * 1e3,
                            ns_per_handoff=elapsed * 1e9 / handoffs)
        else:
            lock = asyncio.Lock()
            t0 = time.monotonic()
            a = asyncio.create_task(locker(lock, 1))
            b = asyncio.create_task(locker(lock, 2))
            await a
            await b
            elapsed = time.monotonic() - t0
            pycommon.result(workload="w6-lock", impl=pycommon.impl(args), rounds=n,
                            acquisitions=handoffs, changes=state["changes"],
                            elapsed_ms=elapsed * 1e3, ns_per_handoff=elapsed * 1e9 / handoffs)

    pycommon.run(args, bench)


if __name__ == "__main__":
    main()
