"""The browser's event stream, as a raw ASGI handler.

It lives outside Quart on purpose (DESIGN.md): Quart's response timeout would cut the stream, and
a nursery opened in Quart's async generator logs GeneratorExit groups on disconnect. Here each
connection gets one nursery: a task that watches for the client going away, and the pump, the only
task that writes. Heartbeats arrive through the stream's own channel from the hub's heartbeat task
(one for all streams: a task per stream for a comment every 15 s cost 3 KiB of RAM per stream).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import trio

from mapsrv.core.sse import retry
from mapsrv.hub import MapEntry, MapHub

__all__ = ["pump", "serve_event_stream"]

# The plain ASGI callables (the same shapes as starlette.types).
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]


async def pump(
    write: Callable[[bytes], Awaitable[None]], frames: trio.MemoryReceiveChannel[bytes], *, retry_ms: int
) -> None:
    """Write each frame as it comes, batching whatever is already queued into one write. Returns
    when the channel ends (the hub dropped this viewer, or is shutting down), after a last
    ``retry:`` hint. The hot path of every stream: no cancel scope or timer per frame."""
    while True:
        try:
            batch = [await frames.receive()]
        except trio.EndOfChannel:
            break
        ended = False
        while True:
            try:
                batch.append(frames.receive_nowait())
            except trio.WouldBlock:
                break
            except trio.EndOfChannel:
                ended = True
                break
        await write(b"".join(batch) if len(batch) > 1 else batch[0])
        if ended:
            break
    await write(retry(retry_ms))


async def serve_event_stream(
    hub: MapHub,
    entry: MapEntry,
    last_event_id: str | None,
    receive: Receive,
    send: Send,
    *,
    headers: Sequence[tuple[str, str]],
    retry_ms: int,
) -> None:
    async def write(data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})

    async with hub.subscribe(entry, last_event_id) as sub:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache, no-store"),
                    (b"x-accel-buffering", b"no"),  # nginx: do not buffer this response
                    *((k.lower().encode(), v.encode()) for k, v in headers),
                ],
            }
        )
        await write(retry(retry_ms) + b"".join(sub.initial))
        disconnected = False
        async with trio.open_nursery() as nursery:

            async def watch_disconnect() -> None:
                nonlocal disconnected
                while (await receive())["type"] != "http.disconnect":
                    pass
                disconnected = True
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_disconnect)
            await pump(write, sub.receive, retry_ms=retry_ms)
            nursery.cancel_scope.cancel()
        if not disconnected:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
