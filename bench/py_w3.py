# SPDX-License-Identifier: MIT
"""W3 idle: N tasks blocked on one asyncio.Event; bytes per blocked task."""
import asyncio
import time

import pycommon


def main():
    args = pycommon.parse_args()
    n = args.n
    started = 0

    async def waiter(ev):
        nonlocal started
        started += 1
        await ev.wait()
        return 1

    async def bench():
        ev = asyncio.Event()
        base = pycommon.vmrss_kib()
        t0 = time.monotonic()
        tasks = [asyncio.create_task(waiter(ev)) for _ in range(n)]
        while started < n:
            await asyncio.sleep(0)
        t_blocked = time.monotonic()
        idle = pycommon.vmrss_kib()
        ev.set()
        s = 0
        for t in tasks:
            s += await t
        elapsed = time.monotonic() - t0
        pycommon.result(workload="w3", impl=pycommon.impl(args), block="event", release="set",
                        n=n, sum=s, base_kib=base, idle_kib=idle,
                        bytes_per_task=(idle - base) * 1024 / n,
                        spawn_block_ms=(t_blocked - t0) * 1e3, total_ms=elapsed * 1e3)

    pycommon.run(args, bench)


if __name__ == "__main__":
    main()
