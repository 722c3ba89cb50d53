"""The browser's event stream, as a raw ASGI handler.

It lives outside Quart on purpose (DESIGN.md): Quart's response timeout would cut the stream, and
a nursery opened in Quart's async generator logs GeneratorExit groups on disconnect. Here each
connection gets one nursery: a task that watches for the client going away, a heartbeat task, and
the pump, the only task that writes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import trio

from mapsrv.core.sse import comment, retry
from mapsrv.hub import MapEntry, MapHub, Subscription

__all__ = ["HEARTBEAT", "pump", "serve_event_stream", "serve_heartbeats"]

# The plain ASGI callables (the same shapes as starlette.types).
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]

HEARTBEAT = comment("hb")


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


async def serve_heartbeats(sub: Subscription, interval: float) -> None:
    """Queue a comment every ``interval`` seconds, so proxies and browsers see a live stream.
    It goes through the stream's own channel: the pump stays the only writer."""
    while True:
        await trio.sleep(interval)
        sub.send_nowait(HEARTBEAT)  # a full channel means the hub is about to drop this viewer


async def serve_event_stream(
    hub: MapHub,
    entry: MapEntry,
    last_event_id: str | None,
    receive: Receive,
    send: Send,
    *,
    headers: Sequence[tuple[str, str]],
    heartbeat_interval: float,
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
            nursery.start_soon(serve_heartbeats, sub, heartbeat_interval)
            await pump(write, sub.receive, retry_ms=retry_ms)
            nursery.cancel_scope.cancel()
        if not disconnected:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
