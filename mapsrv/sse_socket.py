"""A browser's event stream written straight to its socket, from the loop that publishes.

hypercorn sends each ASGI message through a lock, a shielded cancel scope and ``send_all``, and
a stream needs a task woken per frame to call it: for one event to 1,000 viewers that is 1,000
task switches and lock round trips before the last byte leaves (docs/benchmarks.md). Here
hypercorn still parses the request and writes the response head and its end, and everything
between is HTTP/1.1 chunks that the fan-out writes to the socket itself, without awaiting:
``os.write`` on the non-blocking socket. What the socket does not take waits in a backlog that
the connection's own task writes as the socket drains; while a backlog is waiting, new frames
join it, and a viewer whose backlog reaches the hub's ``subscriber_buffer`` frames is dropped
(its browser resumes with ``Last-Event-ID``, as with any stream).

Safety: the socket's file descriptor is looked up on every write (``fileno()`` is -1 once
hypercorn has closed it), so a write can never reach a descriptor the kernel has given to
another connection. Only one writer at a time: hypercorn writes the head before the first frame
and the end after the last, with no frame in flight.
"""

from __future__ import annotations

import os

import trio

from mapsrv.hub.fanout import chunk

__all__ = ["SocketViewer"]


class SocketViewer:
    """One event stream's viewer that writes to its socket (see the module's docstring).

    Until ``start`` it holds what it is offered (the response head is not out yet). ``ended``
    says why it stopped: "closed" (the hub ended it: shutdown, slow, history rewritten),
    "failed" (the socket refused a write: the client went away), or "" while it runs."""

    __slots__ = (
        "_backlog",
        "_limit",
        "_nursery",
        "_on_end",
        "_queued",
        "_sock",
        "ended",
        "initial",
        "lagging",
        "map_id",
        "slot",
    )

    def __init__(
        self, sock: trio.socket.SocketType, map_id: str, initial: list[bytes], limit: int, slot: int
    ) -> None:
        self.map_id = map_id
        self.initial = initial
        self.slot = slot
        self.lagging = False
        self.ended = ""
        self._sock = sock
        self._limit = max(1, limit)
        self._backlog: bytearray | None = bytearray()  # None: nothing waits, frames go out at once
        self._queued = 0  # frames offered since the backlog last emptied
        self._nursery: trio.Nursery | None = None
        self._on_end: trio.CancelScope | None = None

    def offer(self, frame: bytes, chunked: bytes) -> bool:
        if self.ended:
            return False
        backlog = self._backlog
        if backlog is None:
            return self._write(chunked)
        if self._queued >= self._limit:
            self.lagging = True
            return False
        backlog += chunked
        self._queued += 1
        return True

    def close(self) -> None:
        self._end("closed")

    def start(self, first: bytes, nursery: trio.Nursery, on_end: trio.CancelScope) -> None:
        """The head is out: write ``first`` (the retry hint and the initial frames) and what was
        offered meanwhile. ``nursery`` runs the drain while the socket is full; ``on_end`` is
        cancelled when the viewer ends."""
        self._nursery = nursery
        self._on_end = on_end
        held = self._backlog or b""
        self._backlog = None
        self._queued = 0
        if self.ended != "failed":
            self._write(chunk(first) + held)
        if self.ended:
            on_end.cancel()

    async def finish(self, last: bytes) -> None:
        """Write what is still waiting, then ``last`` (after the drain has stopped)."""
        backlog = self._backlog or bytearray()
        self._backlog = None
        await self._write_all(backlog + chunk(last))

    def _write(self, data: bytes) -> bool:
        fd = self._sock.fileno()
        if fd < 0:
            self._end("failed")
            return False
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            written = 0
        except OSError:
            self._end("failed")
            return False
        if written < len(data):
            self._backlog = bytearray(memoryview(data)[written:])
            self._queued = 1
            if self._nursery is not None:
                self._nursery.start_soon(self._drain)
        return True

    async def _drain(self) -> None:
        backlog = self._backlog
        try:
            while backlog:
                await trio.lowlevel.wait_writable(self._sock)
                fd = self._sock.fileno()
                if fd < 0:
                    raise trio.ClosedResourceError
                try:
                    written = os.write(fd, backlog)
                except BlockingIOError:
                    continue
                del backlog[:written]
        except (OSError, trio.ClosedResourceError, trio.BusyResourceError):
            self._end("failed")
            return
        if self._backlog is backlog:
            self._backlog = None
            self._queued = 0

    async def _write_all(self, data: bytearray) -> None:
        view = memoryview(data)
        while view:
            fd = self._sock.fileno()
            if fd < 0:
                raise trio.ClosedResourceError
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                written = 0
            view = view[written:]
            if view:
                await trio.lowlevel.wait_writable(self._sock)

    def _end(self, why: str) -> None:
        if not self.ended:
            self.ended = why
        if self._on_end is not None:
            self._on_end.cancel()
