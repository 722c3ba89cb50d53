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

import redis.asyncio as aioredis
import trio
import trio_asyncio

from .harness import percentiles


async def bridged(url: str, count: int) -> list[float]:
    async with trio_asyncio.open_loop() as loop:
        client = aioredis.Redis.from_url(url)
        ping = trio_asyncio.aio_as_trio(client.ping, loop=loop)
        samples = []
        for _ in range(count):
            t0 = time.perf_counter()
            await ping()
            samples.append(time.perf_counter() - t0)
        await trio_asyncio.aio_as_trio(client.aclose, loop=loop)()
    return samples


async def native(url: str, count: int) -> list[float]:
    client = aioredis.Redis.from_url(url)
    samples = []
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            await client.ping()
            samples.append(time.perf_counter() - t0)
    finally:
        await client.aclose()
    return samples


if __name__ == "__main__":
    url, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    plain = asyncio.run(native(url, count))
    through_trio = trio.run(bridged, url, count)
    print(json.dumps({"trio_asyncio": percentiles(through_trio), "asyncio": percentiles(plain)}))
