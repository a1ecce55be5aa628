# SPDX-License-Identifier: MIT
"""W4 timers: N loop.call_later callbacks; the last resolves a future main awaits.

total is read inside the last callback. after_last_deadline = total -
(latest deadline - t0), the latest deadline being loop.time() after setup
plus the largest timeout (timer N-1 has it and is created last). The stock
loop reads the clock on every call_later and in loop.time(); uvloop uses
libuv's cached time in both, which setup does not advance: either way
loop.time() after setup is the base the last deadline was computed from.
"""
import asyncio
import time

import pycommon


def main():
    args = pycommon.parse_args()
    n = args.n
    shape = args.shape

    async def bench():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        fired = 0
        t_last = 0.0

        def cb():
            nonlocal fired, t_last
            fired += 1
            if fired == n:
                t_last = time.monotonic()
                done.set_result(None)

        t0 = time.monotonic()
        for i in range(n):
            loop.call_later(pycommon.timeout_ms(shape, i) / 1000, cb)
        t_setup = time.monotonic()
        last_deadline = loop.time() + pycommon.timeout_ms(shape, n - 1) / 1000 - t0
        await done
        total = t_last - t0
        pycommon.result(workload="w4", impl=pycommon.impl(args), shape=shape, n=n, count=fired,
                        setup_ms=(t_setup - t0) * 1e3, total_ms=total * 1e3,
                        last_deadline_ms=last_deadline * 1e3,
                        after_last_deadline_ms=(total - last_deadline) * 1e3)

    pycommon.run(args, bench)


if __name__ == "__main__":
    main()
