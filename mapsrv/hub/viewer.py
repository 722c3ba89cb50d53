"""What the fan-out offers frames to: a ``Viewer`` (a browser's stream written to its socket,
``mapsrv.http.socket_writer.SocketViewer``, is one), and a ``Subscription``, a viewer whose reader
takes its frames from a channel (an agent's change notifications, a stream that cannot be written
from the loop).

A viewer takes a write's frames whole, however many, unless ``subscriber_buffer`` frames already
wait for it; then it is dropped (``lagging``) and resumes with ``Last-Event-ID``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

import trio

__all__ = ["EndSoon", "Subscription", "Viewer", "ViewerFactory", "end_now"]


class Viewer(Protocol):
    """One viewer of one map, as fan-out sees it. ``initial`` holds the frames to send first (a
    snapshot, or the missed events on resume); ``slot`` is which of the heartbeat task's ticks
    serves it."""

    initial: list[bytes]
    slot: int

    @property
    def lagging(self) -> bool:
        """True once the viewer was refused a frame for having too many queued."""

    def offer(self, frame: bytes, chunked: bytes) -> bool:
        """Take one frame (``chunked``: the same frame as an HTTP/1.1 chunk) without waiting;
        False when this viewer is done: it fell behind (``lagging``: ``subscriber_buffer`` frames
        were already waiting), or its reader is gone."""

    def offer_many(self, frames: Sequence[tuple[bytes, bytes]], chunked: bytes) -> bool:
        """Take several frames, in order (each as ``(frame, chunked)``; ``chunked``: all of
        their chunks joined, so a socket takes them in one write): all of them, however many,
        unless ``subscriber_buffer`` frames were already waiting. A write's frames (a batch of
        1,000 ops) go together, so a viewer behind by a little takes a batch bigger than that."""

    def close(self) -> None:
        """End this viewer (idempotent): its stream ends after what it already took. It stops
        taking frames at once; a stream's task may be woken to end in a later loop turn (a
        socket stream's are, a few per turn: ``mapsrv.http.pacing.Pacer.soon``), so that
        thousands closed together do not all end in one turn."""


ViewerFactory = Callable[[list[bytes], int, int], Viewer]  # initial, buffer, slot


EndSoon = Callable[[Callable[[], object]], None]  # runs an end now, or in a later loop turn


def end_now(call: Callable[[], object]) -> None:
    call()


class Subscription:
    """A viewer whose reader takes each frame from a channel (``receive``), such as an agent's
    change notifications, or a browser stream that cannot be written from the loop. The channel
    ends when the viewer is dropped for being slow (``buffer`` frames waiting at a write) or the
    hub closes.

    ``end_soon`` is how its end is run (``Fanout.end_soon``): closing the channel wakes the
    reader's task, and 10,000 closed at once (a shutdown, a drain, a deleted map watched by a
    crowd behind TLS) woke 10,000 tasks in one loop turn; a pacer runs a few per turn. It stops
    taking frames at once either way."""

    __slots__ = ("_buffer", "_end_soon", "_send", "ended", "initial", "lagging", "receive", "slot")

    def __init__(
        self, initial: list[bytes], buffer: int, slot: int = 0, end_soon: EndSoon | None = None
    ) -> None:
        self.initial = initial
        self.slot = slot
        self.lagging = False
        self.ended = False
        self._end_soon = end_soon or end_now
        self._buffer = buffer
        # unbounded: ``offer_many`` takes a whole write once fewer than ``buffer`` frames wait
        self._send, self.receive = trio.open_memory_channel[bytes](math.inf)

    def offer(self, frame: bytes, chunked: bytes = b"") -> bool:
        if not self._room():
            return False
        try:
            self._send.send_nowait(frame)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    def offer_many(self, frames: Sequence[tuple[bytes, bytes]], chunked: bytes = b"") -> bool:
        if not self._room():
            return False
        try:
            for frame, _ in frames:
                self._send.send_nowait(frame)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    def _room(self) -> bool:
        """Whether it takes the next write: it has not ended, and fewer than its buffer's
        frames wait (else it is ``lagging``)."""
        if self.ended:
            return False
        if self._send.statistics().current_buffer_used >= self._buffer:
            self.lagging = True
            return False
        return True

    def close(self) -> None:
        if not self.ended:
            self.ended = True
            self._end_soon(self._send.close)
