"""The least one Redis call costs from Trio: PING through trio-asyncio (how mapsrv's store calls
redis-py) and the same client on plain asyncio. Runs in a process of its own because trio-asyncio
installs a process-wide asyncio event loop policy.

    python -m tests.bench.redis_floor REDIS_URL [COUNT]     # prints one JSON object
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import trio
import trio_asyncio

from .harness import percentiles


async def timed(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    """Seconds per ``await call()``, ``count`` times (runs under Trio and under asyncio alike)."""
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - t0)
    return samples


async def bridged(url: str, count: int) -> list[float]:
    async with trio_asyncio.open_loop() as loop:
        client = aioredis.Redis.from_url(url)
        samples = await timed(trio_asyncio.aio_as_trio(client.ping, loop=loop), count)
        await trio_asyncio.aio_as_trio(client.aclose, loop=loop)()
    return samples


async def native(url: str, count: int) -> list[float]:
    client = aioredis.Redis.from_url(url)
    try:
        return await timed(client.ping, count)
    finally:
        await client.aclose()


if __name__ == "__main__":
    url, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    plain = asyncio.run(native(url, count))
    through_trio = trio.run(bridged, url, count)
    print(json.dumps({"trio_asyncio": percentiles(through_trio), "asyncio": percentiles(plain)}))
