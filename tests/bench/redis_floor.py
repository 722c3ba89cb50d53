"""The least one Redis call costs, and what mapsrv's Redis store adds to a write on top of it.
Runs in a process of its own because trio-asyncio installs a process-wide asyncio event loop
policy.

- ``trio_asyncio`` / ``asyncio``: PING from Trio through trio-asyncio (how mapsrv's store calls
  redis-py) and the same client on plain asyncio: the one-round-trip floor.
- ``hub_memory`` / ``hub_redis``: ``MapHub.apply`` of one marker, in this process, with the memory
  store and with the Redis store (its feed running, so reading the process's own echoed events
  is part of the cost, as in a server). ``added_p50_ms`` is the difference of the medians and
  ``ratio_to_floor`` is ``hub_redis`` minus ``hub_memory`` over the PING floor, at p50.
- ``cpu_us_per_call``: this process's CPU time per call of each (``added_cpu_us``: Redis store
  minus memory store), which a busy machine disturbs far less than the wall times.

    python -m tests.bench.redis_floor REDIS_URL [COUNT]     # prints one JSON object
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import trio
import trio_asyncio

from mapsrv.core import Limits
from mapsrv.core.parse import parse_op
from mapsrv.hub import MapHub
from mapsrv.store.redis import RedisStore

from .harness import percentiles

CPU: dict[str, float] = {}  # this process's CPU microseconds per call, by what was timed


async def timed(call: Callable[[], Awaitable[object]], count: int, name: str = "") -> list[float]:
    """Seconds per ``await call()``, ``count`` times (runs under Trio and under asyncio alike);
    with a ``name``, also this process's CPU time per call (on a busy machine the wall time
    mostly measures waiting for a core; the CPU time is what the code costs)."""
    samples = []
    cpu = time.process_time()
    for _ in range(count):
        t0 = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - t0)
    if name:
        CPU[name] = round((time.process_time() - cpu) / count * 1e6, 1)
    return samples


async def bridged(url: str, count: int) -> list[float]:
    async with trio_asyncio.open_loop() as loop:
        client = aioredis.Redis.from_url(url)
        samples = await timed(trio_asyncio.aio_as_trio(client.ping, loop=loop), count, "trio_asyncio")
        await trio_asyncio.aio_as_trio(client.aclose, loop=loop)()
    return samples


async def native(url: str, count: int) -> list[float]:
    client = aioredis.Redis.from_url(url)
    try:
        return await timed(client.ping, count, "asyncio")
    finally:
        await client.aclose()


async def hub_writes(hub: MapHub, count: int, name: str) -> list[float]:
    """Seconds per ``hub.apply`` of one new marker on one map."""
    entry = await hub.create_map(title="bench")
    limits = Limits()
    n = 0

    async def write() -> None:
        nonlocal n
        n += 1
        op = parse_op({"op": "add_feature", "id": f"f{n}", "type": "marker", "coords": [1, 2]}, limits)
        await hub.apply(entry.id, [op])

    await timed(write, min(count, 50))  # warm-up
    return await timed(write, count, name)


async def hubs(url: str, count: int) -> dict[str, list[float]]:
    memory = await hub_writes(MapHub(), count, "hub_memory")
    store = RedisStore(url, ttl=600, log_size=1024)
    hub = MapHub(store=store)
    async with trio.open_nursery() as nursery:
        messages = await nursery.start(store.serve)
        await nursery.start(hub.serve_replication, messages)
        redis = await hub_writes(hub, count, "hub_redis")
        nursery.cancel_scope.cancel()
    return {"memory": memory, "redis": redis}


def main(url: str, count: int) -> dict[str, Any]:
    plain = asyncio.run(native(url, count))
    through_trio = trio.run(bridged, url, count)
    writes = trio.run(hubs, url, count)
    out: dict[str, Any] = {
        "trio_asyncio": percentiles(through_trio),
        "asyncio": percentiles(plain),
        "hub_memory": percentiles(writes["memory"]),
        "hub_redis": percentiles(writes["redis"]),
    }
    added = out["hub_redis"]["p50"] - out["hub_memory"]["p50"]
    out["added_p50_ms"] = round(added, 3)
    out["ratio_to_floor"] = round(added / out["trio_asyncio"]["p50"], 2)
    out["cpu_us_per_call"] = dict(CPU)
    out["added_cpu_us"] = round(CPU["hub_redis"] - CPU["hub_memory"], 1)
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000)))
