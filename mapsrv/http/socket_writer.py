"""A browser's event stream written straight to its socket, from the loop that publishes.

hypercorn sends each ASGI message through a lock, a shielded cancel scope and ``send_all``, and
a stream needs a task woken per frame to call it: for one event to 1,000 viewers that is 1,000
task switches and lock round trips before the last byte leaves (docs/benchmarks.md). Here
hypercorn still parses the request and writes the response head and its end, and everything
between is HTTP/1.1 chunks that the fan-out writes to the socket itself, without awaiting:
``os.write`` on the non-blocking socket. What the socket does not take waits in a backlog (the
frames themselves, shared with every other viewer, not copies) that
the connection's own task (the only one a stream has: it otherwise waits for the client to
leave) writes as the socket drains; while a backlog is waiting, new frames join it, and a
viewer whose backlog has reached the hub's ``subscriber_buffer`` frames is dropped at its next
frame (its browser resumes with ``Last-Event-ID``, as with any stream); a write's frames are
taken whole or not at all, so one behind by a few takes a batch of 1,000.

Safety: the socket's file descriptor is looked up on every write (``fileno()`` is -1 once
hypercorn has closed it), so a write can never reach a descriptor the kernel has given to
another connection. Only one writer at a time: hypercorn writes the head before the first frame
and the end after the last, with no frame in flight.
"""

from __future__ import annotations

import os
import socket
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice

import trio

from mapsrv.core.sse import chunk
from mapsrv.http.compression import GZIP_HEADER, Deflated, deflated
from mapsrv.http.pacing import connections
from mapsrv.http.types import Receive

__all__ = ["SocketViewer", "fileno_of"]

Buffer = bytes | memoryview

WRITEV_MAX = 64  # buffers per writev while draining (Linux allows 1024)


def fileno_of(sock: trio.socket.SocketType) -> Callable[[], int]:
    """How to ask for ``sock``'s descriptor on every write: the standard socket's own ``fileno``
    when trio keeps one (trio 0.2x keeps it as ``_sock``; it returns -1 once trio closed it),
    which saves a Python call per viewer per event (0.19 µs of 4-5 µs a frame, measured with
    perf); trio's ``fileno`` otherwise. tests/http/test_sse_socket.py fails if trio stops keeping it."""
    inner = getattr(sock, "_sock", None)
    return inner.fileno if isinstance(inner, socket.socket) else sock.fileno


class SocketViewer:
    """One event stream's viewer that writes to its socket (see the module's docstring).

    Until ``run`` it holds what it is offered (the response head is not out yet). ``ended``
    says why it stopped: "closed" (the hub ended it: shutdown, slow, history rewritten),
    "failed" (the socket refused a write), "left" (the client went away), or "" while it runs."""

    __slots__ = (
        *("_backlog", "_fileno", "_gzip", "_limit", "_sock", "_wake"),
        *("ended", "initial", "lagging", "slot"),
    )

    def __init__(
        self,
        sock: trio.socket.SocketType,
        initial: list[bytes],
        limit: int,
        slot: int,
        *,
        gzip: Deflated | None = None,
    ) -> None:
        """``gzip``: the body is gzip (the head says so), each frame deflated once in the
        process by this shared ``Deflated``."""
        self.initial = initial
        self._gzip = gzip
        self.slot = slot
        self.lagging = False
        self.ended = ""
        self._sock = sock
        self._fileno = fileno_of(sock)  # -1 once closed: looked up on every write, never kept
        self._limit = max(1, limit)
        self._backlog: deque[Buffer] | None = deque()  # None: nothing waits, frames go out at once
        self._wake: trio.CancelScope | None = None  # what the stream's task waits in

    def offer(self, frame: bytes, chunked: bytes) -> bool:
        if self.ended:
            return False
        if self._gzip is not None:
            chunked = self._gzip.chunked(frame)
        backlog = self._backlog
        if backlog is None:
            return self._send(chunked)
        if len(backlog) >= self._limit:
            self.lagging = True
            return False
        backlog.append(chunked)
        return True

    def offer_many(self, frames: Sequence[tuple[bytes, bytes]], chunked: bytes) -> bool:
        """Several frames in one write (``chunked``: their chunks joined); behind a backlog,
        each joins it as one frame, as ``offer`` would have it."""
        if self.ended:
            return False
        if self._gzip is None:
            chunks = [c for _, c in frames]
        else:
            chunks = [self._gzip.chunked(f) for f, _ in frames]
            chunked = b"".join(chunks)
        backlog = self._backlog
        if backlog is None:
            return self._send(chunked)
        if len(backlog) >= self._limit:  # already behind: a write's frames are taken whole or not
            self.lagging = True
            return False
        backlog.extend(chunks)
        return True

    def close(self) -> None:
        self._end("closed")

    async def run(self, first: bytes | tuple[bytes, list[bytes]], receive: Receive) -> None:
        """The stream's task, once the head is out: write ``first`` (the retry hint and the
        initial frames; for a gzip stream apart, as ``(hint, frames)``) and what was offered
        meanwhile, then wait for the client to leave,
        writing the backlog whenever the socket did not take a frame whole. Returns when the
        viewer has ended."""
        if isinstance(first, bytes):
            opening = chunk(first)
        else:  # gzip: the header, then each initial frame deflated (a snapshot once per version)
            assert self._gzip is not None
            hint, frames = first
            opening = chunk(GZIP_HEADER + deflated(hint))
            opening += b"".join([await self._gzip.chunked_async(f) for f in frames])
        held = self._backlog or ()
        self._backlog = None
        self.initial = []  # a snapshot of an old version is not kept alive by the stream
        # Written even to a viewer the hub closed meanwhile (its retry hint and snapshot go out
        # before its end); a viewer already failed fails again, harmlessly.
        self._send(b"".join((opening, *held)))
        while not self.ended:
            with trio.CancelScope() as self._wake:
                if self._backlog:
                    await self._drain(self._backlog)
                elif (await receive())["type"] == "http.disconnect":
                    self.ended = self.ended or "left"  # its own task: nothing to wake
            self._wake = None

    async def finish(self, last: bytes) -> None:
        """After ``run``: write what is still waiting, then ``last``."""
        backlog = self._backlog or deque()
        backlog.append(chunk(last) if self._gzip is None else self._gzip.chunked(last))
        await self._write_out(backlog)

    def _send(self, data: bytes) -> bool:
        """Write ``data`` at once; what the socket does not take waits in the backlog, and the
        stream's task stops waiting on the client to drain it. False when the socket failed."""
        fd = self._fileno()
        if fd < 0:
            self._end("failed")  # hypercorn closed the connection
            return False
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            written = 0
        except OSError:
            self._end("failed")
            return False
        if written < len(data):
            self._backlog = deque((memoryview(data)[written:],))
            if self._wake is not None:
                self._wake.cancel()
        return True

    async def _drain(self, backlog: deque[Buffer]) -> None:
        try:
            await self._write_out(backlog)
        except (OSError, trio.ClosedResourceError, trio.BusyResourceError):
            self.ended = self.ended or "failed"  # its own task: nothing to wake
            return
        self._backlog = None

    async def _write_out(self, backlog: deque[Buffer]) -> None:
        """Write ``backlog`` (it may grow meanwhile) until it is empty, as the socket drains."""
        while backlog:
            await trio.lowlevel.wait_writable(self._sock)
            fd = self._fileno()
            if fd < 0:
                raise trio.ClosedResourceError("the connection is closed")
            try:
                written = os.writev(fd, list(islice(backlog, WRITEV_MAX)))
            except BlockingIOError:
                continue
            while written:
                head = backlog[0]
                if written < len(head):
                    backlog[0] = memoryview(head)[written:]
                    break
                written -= len(head)
                backlog.popleft()

    def _end(self, why: str) -> None:
        """Stop taking frames now; wake the stream's task to end in its turn (``Pacer.soon``):
        the fan-out ends a crowd's viewers together (their sockets failed, a shutdown, a
        rewrite), and their tasks woken in one turn stood the loop still for 191-241 ms."""
        if self.ended:
            return
        self.ended = why
        if self._wake is not None:
            connections().soon(self._wake.cancel)
