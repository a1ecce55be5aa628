# SPDX-License-Identifier: MIT
"""W2 switch: two tasks each loop `await asyncio.sleep(0)` SWITCHES/2 times."""
import asyncio
import time

import pycommon


async def yielder(count):
    done = 0
    for _ in range(count):
        await asyncio.sleep(0)
        done += 1
    return done


def main():
    args = pycommon.parse_args()
    per_task = args.switches // 2

    async def bench():
        t0 = time.monotonic()
        a = asyncio.create_task(yielder(per_task))
        b = asyncio.create_task(yielder(per_task))
        yields = await a + await b
        elapsed = time.monotonic() - t0
        switches = 2 * per_task
        pycommon.result(workload="w2", impl=pycommon.impl(args), switches=switches,
                        yields=yields, elapsed_ms=elapsed * 1e3,
                        ns_per_switch=elapsed * 1e9 / switches)

    pycommon.run(args, bench)


if __name__ == "__main__":
    main()
