"""The browser's event stream, as a raw ASGI handler.

It lives outside Quart on purpose (DESIGN.md): Quart's response timeout would cut the stream, and
a nursery opened in Quart's async generator logs GeneratorExit groups on disconnect.

Two ways to write the body. An HTTP/1.1 GET on a plain TCP socket (every browser stream that
does not come through TLS terminated here, i.e. all of them in mapsrv's deployments) is written
by the fan-out itself, straight to the socket (``mapsrv.http.socket_writer``): the stream's one task
waits for the client to leave and drains the socket only while it is full; no nursery of its
own (hypercorn's task group for the connection holds it). Anything else (HEAD, HTTP/1.0,
HTTP/2, TLS) gets a nursery with the pump, a task that takes frames from the viewer's channel
and sends them as ASGI messages, and a task that watches for the client leaving. A socket
stream whose client accepts gzip (every browser's EventSource does) is gzipped: each frame
deflated once in the process and shared by every such stream (``mapsrv.http.compression``);
the pumped ones stay plain. Heartbeats
come from the hub's heartbeat task either way (one task for all streams: a task per stream for
a comment every 15 s cost 3 KiB of RAM per stream).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from mapsrv.core.changes import person_actor
from mapsrv.core.sse import retry
from mapsrv.http.compression import Deflated, accepts_gzip
from mapsrv.http.hypercorn import connection_socket
from mapsrv.http.identity import name_from_cookies
from mapsrv.http.socket_writer import SocketViewer
from mapsrv.http.types import Message, Receive, Send, header
from mapsrv.hub import MapEntry, MapHub
from mapsrv.hub.access import ROLES
from mapsrv.hub.presence import Member

__all__ = ["FINISH_TIMEOUT", "StreamCounts", "person_member", "pump", "serve_event_stream", "stream_start"]

# Each frame deflated once for every gzip stream of the process (mapsrv.http.compression).
DEFLATED = Deflated()

FINISH_TIMEOUT = 5.0  # seconds a stream the hub ended gets to take its last frames and retry hint


@dataclass
class StreamCounts:
    """Event streams opened since start, by how their frames are written (the metrics read it)."""

    socket: int = 0  # by the fan-out, straight to the socket
    asgi: int = 0  # by a pump task, as ASGI messages
    gzip: int = 0  # of the socket ones, gzipped (the client accepts it: every browser)


# The plain ASGI callables (the same shapes as starlette.types).


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


def stream_start(headers: Sequence[tuple[str, str]]) -> Message:
    """The ASGI start of every event stream with these extra ``headers``: built once, shared by
    every stream (hypercorn keeps it as long as the stream lives)."""
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache, no-store"),
            (b"x-accel-buffering", b"no"),  # nginx: do not buffer this response
            (b"vary", b"accept-encoding"),  # gzip for clients that accept it (HTTP/1.1 GET)
            *((k.lower().encode(), v.encode()) for k, v in headers),
        ],
    }


def person_member(
    kind: str, key: str, user: str | None, cookie: str | None, user_agent: str | None
) -> Member:
    """Who a page's stream shows on the map: as their changes are attributed (the name they
    chose, else their browser: "Chrome on Linux"), or "Viewer" (a view link opened without our
    cookie)."""
    actor = person_actor(user_agent, user, name_from_cookies(cookie)) if user else None
    return Member(
        id=secrets.token_hex(4),
        kind="person",
        name=actor.name if actor else "Viewer",
        role=ROLES.get(kind, "viewer"),
        actor=actor.id if actor else None,
        key=key if kind in ("e", "v") else "",
    )


async def serve_event_stream(
    hub: MapHub,
    entry: MapEntry,
    last_event_id: str | None,
    scope: MutableMapping[str, Any],
    receive: Receive,
    send: Send,
    *,
    start: Message,
    retry_ms: int,
    counts: StreamCounts,
    member: Member | None = None,
) -> None:
    """Stream ``entry`` to this request, with the head ``start`` (see ``stream_start``);
    ``member``: the person on the map while the stream lasts (presence)."""
    sock = connection_socket() if scope["method"] == "GET" and scope.get("http_version") == "1.1" else None
    if sock is None:
        counts.asgi += 1
        await _serve_pumped(hub, entry, last_event_id, receive, send, start, retry_ms, member)
        return
    counts.socket += 1
    packed = accepts_gzip(header(scope, b"accept-encoding") or "")
    counts.gzip += packed
    viewer = await hub.join(
        entry, last_event_id, partial(SocketViewer, sock, gzip=DEFLATED if packed else None), member
    )
    assert isinstance(viewer, SocketViewer)
    try:
        if packed:
            await send({**start, "headers": [*start["headers"], (b"content-encoding", b"gzip")]})
            await viewer.run((retry(retry_ms), viewer.initial), receive)
        else:
            await send(start)
            await viewer.run(retry(retry_ms) + b"".join(viewer.initial), receive)
    finally:
        hub.leave(entry, viewer)
    if viewer.ended == "closed":  # by the hub: the frames it took, a retry hint, the end
        with trio.move_on_after(FINISH_TIMEOUT):
            try:
                await viewer.finish(retry(retry_ms))
            except (OSError, trio.ClosedResourceError, trio.BusyResourceError):
                return
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _serve_pumped(
    hub: MapHub,
    entry: MapEntry,
    last_event_id: str | None,
    receive: Receive,
    send: Send,
    start: Message,
    retry_ms: int,
    member: Member | None,
) -> None:
    async def write(data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})

    async with hub.subscribe(entry, last_event_id, member) as sub:
        await send(start)
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
