"""The bare-stack peer for the SSE benchmarks: hypercorn's trio worker serving a minimal raw ASGI
app, with a memory channel per stream and no map logic. ``GET /events`` streams, ``POST /publish``
sends one event to every stream. What mapsrv's fan-out is compared with in the same run.

    python -m tests.bench.peer_sse PORT
"""

from __future__ import annotations

import math
import sys
from typing import Any

import hypercorn.config
import hypercorn.trio
import trio

streams: set[trio.MemorySendChannel[bytes]] = set()
version = 0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global version
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/publish":
        version += 1
        data = f'id: {version}\nevent: change\ndata: {{"version": {version}}}\n\n'.encode()
        for channel in streams:
            channel.send_nowait(data)  # unbounded: never blocks
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": f'{{"version": {version}}}'.encode()})
        return
    sender, receiver = trio.open_memory_channel[bytes](math.inf)  # never drops: every frame counts
    streams.add(sender)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    await send(
        {
            "type": "http.response.body",
            "body": f"id: {version}\nevent: snapshot\ndata: {{}}\n\n".encode(),
            "more_body": True,
        }
    )
    async with trio.open_nursery() as nursery:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch)
        async for data in receiver:
            await send({"type": "http.response.body", "body": data, "more_body": True})
    streams.discard(sender)


if __name__ == "__main__":
    config = hypercorn.config.Config()
    config.bind = [f"127.0.0.1:{sys.argv[1]}"]
    config.accesslog = None
    trio.run(hypercorn.trio.serve, app, config)
