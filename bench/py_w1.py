# SPDX-License-Identifier: MIT
"""W1 spawn: N tasks created before main yields, joined in creation order."""
import asyncio
import time

import pycommon


async def work(i):
    return i % 10


def main():
    args = pycommon.parse_args()
    n = args.n

    async def bench():
        t0 = time.monotonic()
        tasks = [asyncio.create_task(work(i)) for i in range(n)]
        s = 0
        for t in tasks:
            s += await t
        elapsed = time.monotonic() - t0
        pycommon.result(workload="w1", impl=pycommon.impl(args), n=n, sum=s,
                        elapsed_ms=elapsed * 1e3, ns_per_task=elapsed * 1e9 / n)

    pycommon.run(args, bench)


if __name__ == "__main__":
    main()
