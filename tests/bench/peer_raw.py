"""The floor under the SSE benchmarks: plain Trio sockets, no HTTP server library. It speaks just
enough HTTP/1.1 for the benchmark (``GET /events`` streams until the client leaves, ``POST
/publish`` sends one event to every stream).

By default it has the same shape as the bare stack: a memory channel and one writing task per
stream, so the difference to ``peer_sse.py`` is what hypercorn's per-message path (ASGI message,
h11 event, chunked framing, send lock, shielded cancel scope) costs; the rest is Trio's own.

With ``one-loop``, the publishing task writes the event to every socket itself, without waking a
task per stream; a stream's own task only takes over while that socket's buffer is full. That is
what a fan-out below ASGI could do, and what it would cost.

    python -m tests.bench.peer_raw PORT [one-loop]
"""

from __future__ import annotations

import math
import os
import sys
from functools import partial

import trio

streams: set[trio.MemorySendChannel[bytes]] = set()
version = 0
ONE_LOOP = sys.argv[2:] == ["one-loop"]


class Direct:
    """A stream the publisher writes to itself; ``backlog`` holds what the socket did not take."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.backlog = bytearray()
        self.blocked = trio.Event()


direct: set[Direct] = set()


def publish_one_loop(data: bytes) -> None:
    for target in list(direct):
        if target.backlog:
            target.backlog += data
            continue
        try:
            written = os.write(target.fd, data)
        except BlockingIOError:
            written = 0
        except OSError:
            direct.discard(target)
            continue
        if written < len(data):
            target.backlog += data[written:]
            target.blocked.set()


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"connection: close\r\n\r\n"
)


async def handle(stream: trio.SocketStream) -> None:
    global version
    buffer = b""
    async with stream:
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    return
                buffer += chunk
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            if head.startswith(b"POST /publish "):
                version += 1
                data = f'id: {version}\nevent: change\ndata: {{"version": {version}}}\n\n'.encode()
                for channel in streams:
                    channel.send_nowait(data)  # unbounded: never blocks
                publish_one_loop(data)
                body = f'{{"version": {version}}}'.encode()
                await stream.send_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
            elif head.startswith(b"GET /events "):
                await serve_events(stream)
                return
            else:
                await stream.send_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")


async def serve_events(stream: trio.SocketStream) -> None:
    """The head and a snapshot, then events until the client leaves."""
    first = STREAM_HEAD + f"id: {version}\nevent: snapshot\ndata: {{}}\n\n".encode()
    try:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                while await stream.receive_some(4096):
                    pass
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            await (write_backlog if ONE_LOOP else write_from_channel)(stream, first)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass


async def write_from_channel(stream: trio.SocketStream, first: bytes) -> None:
    sender, receiver = trio.open_memory_channel[bytes](math.inf)  # never drops: every frame counts
    streams.add(sender)  # before the snapshot is sent: no event falls in between
    try:
        await stream.send_all(first)
        async for data in receiver:
            await stream.send_all(data)
    finally:
        streams.discard(sender)


async def write_backlog(stream: trio.SocketStream, first: bytes) -> None:
    """One-loop mode: the publisher writes; this only drains what a full socket did not take."""
    await stream.send_all(first)  # before the publisher may write to this socket
    target = Direct(stream.socket.fileno())
    direct.add(target)
    try:
        while True:
            await target.blocked.wait()
            target.blocked = trio.Event()
            while target.backlog:
                await trio.lowlevel.wait_writable(stream.socket)
                del target.backlog[: os.write(target.fd, target.backlog)]
    finally:
        direct.discard(target)


if __name__ == "__main__":
    trio.run(partial(trio.serve_tcp, handle, int(sys.argv[1]), host="127.0.0.1"))
