"""Small raw-ASGI helpers shared by the gateway's transports: bounded bodies, JSON answers,
and server-sent event streams that stay open behind proxies."""

from __future__ import annotations

from urllib.parse import parse_qs

import trio

from mapsrv.http.types import Receive, Scope, Send

__all__ = ["SSE_HEADERS", "query_param", "read_body", "respond", "serve_sse"]


SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
]


def query_param(scope: Scope, name: str) -> str | None:
    values = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1")).get(name)
    return values[0] if values else None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = b"application/json",
) -> None:
    # A length, not chunks: hypercorn writes each chunk and the last-chunk marker as sends of
    # their own, and a 32 MiB chunk is copied once more to frame it
    length = (b"content-length", str(len(body)).encode())
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), length, *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def serve_sse(
    receive: Receive,
    send: Send,
    messages: trio.MemoryReceiveChannel[bytes],
    heartbeat: float,
    first: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Stream ``messages`` as ``message`` events, with a comment every ``heartbeat`` seconds,
    until the channel ends or the client goes away."""
    await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *(headers or [])]})
    if first:
        await send({"type": "http.response.body", "body": first, "more_body": True})
    async with trio.open_nursery() as nursery:

        async def until_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            nursery.cancel_scope.cancel()

        nursery.start_soon(until_disconnect)
        while True:
            with trio.move_on_after(heartbeat) as waited:
                try:
                    data = await messages.receive()
                except (trio.EndOfChannel, trio.ClosedResourceError):
                    break
            event = b": ping\n\n" if waited.cancelled_caught else b"event: message\ndata: " + data + b"\n\n"
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        nursery.cancel_scope.cancel()
