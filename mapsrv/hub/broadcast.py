"""One map's frames on their way to a crowd: ``SLICE_SECONDS`` of offers per loop turn.

A frame to fewer than ``CROWD_FROM`` viewers goes out at once, in the turn that made it (no task
switch, as fast as ever). A frame to more waits in the map's ``Outbox`` and a pump offers it
to a slice of viewers per turn, with whatever else is ready (a write to another map, a heartbeat)
running between the slices: one event offered to 10,000 sockets in one turn stood the loop still
for 100 ms or more (a second when those sockets had just closed), and a write to another map
waited behind it. Writes are answered without waiting for the pump.

A slice ends when it has used its time (``time.perf_counter``), not after a count of offers: a
socket that takes a write in 5 us and one that takes 50 us (a loaded machine, closed sockets)
hold the loop for the same time, and a pump that the kernel paused mid-slice yields as soon as
it runs again. It still makes at least one offer a turn. Frames that queued up behind each
other go to each viewer together (``Viewer.offer_many``: one socket write for all of them).

Each viewer gets every frame once and in order:

- while the pump runs, every new frame of the map joins the outbox (none goes out inline, so
  none overtakes one that waits), and the pump offers them in the order they came;
- each frame is numbered; a viewer that joins while frames wait had those already (its first
  frames come from the frame log, and presence from ``Presence.first_frame``, at the time it
  joined), so the outbox notes the number it joined at and skips what is at or below it;
- a viewer that leaves (or is dropped) mid-broadcast is skipped from then on;
- when the map's history is rewritten (``Fanout.restart_viewers``) what waits is thrown away:
  its viewers start again from a snapshot.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import trio

from mapsrv.core.sse import chunk

__all__ = ["CROWD_FROM", "SLICE_SECONDS", "Outbox", "Pending", "say_in_slices", "say_last"]

log = logging.getLogger(__name__)

# Viewers from which a frame goes through the pump: fewer take at most 0.6 ms of socket writes
# (10 us each) in one turn, 6 ms when their sockets are already closed. From here on the pump's
# cost (a task, a turn later) is small beside the writes it can save: frames that writers send
# meanwhile go to each viewer in one write. With 256, 500 events to 200 viewers from 4 writers took
# 0.59 of the one-loop peer's CPU rate; with 64, 0.83 (0.82-0.96), and from 1 writer 0.59 and
# 0.55 (the ranges overlap) (docs/benchmarks.md, "Round three").
CROWD_FROM = 64
# Time a pump offers frames in one loop turn: 50-80 socket writes on a quiet machine. A write to
# another map needs several turns and waits a slice in each, so this bounds what a crowd adds to
# it: with 0.5 ms those writes waited (p99, while an event went out to 10,000) 13-19 ms, with 1 ms
# 15-33 and 2 ms 29, and the last of the 10,000 had it no later (tests/bench/crowd_fanout.py;
# docs/benchmarks.md, "Issue 47").
SLICE_SECONDS = 0.0005

Pending = tuple[int, bytes, bytes]  # (number, frame, the frame as an HTTP/1.1 chunk)


class Outbox:
    """The frames waiting for one map's crowd, and the pump that offers them (see the module's
    docstring). ``clock`` measures a slice's time (tests give it their own)."""

    __slots__ = ("_generation", "_offered", "_passed", "clock", "joined", "number", "pending", "running")

    def __init__(self) -> None:
        self.pending: list[Pending] = []
        self.number = 0  # the last frame's number
        self.joined: dict[Any, int] = {}  # viewers that joined while frames waited: the number then
        self.running = False
        self.clock: Callable[[], float] = time.perf_counter
        self._generation = 0  # moves on when what waits is thrown away (restart)
        self._offered = 0  # the last frame offered to every viewer
        self._passed: trio.Event | None = None  # set when a batch of frames has gone out

    def inline(self, audience: int) -> bool:
        """Whether a frame to ``audience`` viewers goes out now, in this turn."""
        return not self.running and audience < CROWD_FROM

    def put(self, data: bytes) -> bool:
        """Queue a frame; True when the pump is not running and must be started (``pump``)."""
        self.number += 1
        self.pending.append((self.number, data, chunk(data)))
        if self.running:
            return False
        self.running = True
        return True

    def joining(self, viewer: Any) -> None:
        """A viewer joined: frames waiting now are already in its first frames."""
        if self.running:
            self.joined[viewer] = self.number

    def left(self, viewer: Any) -> None:
        self.joined.pop(viewer, None)

    def restart(self) -> None:
        """Throw away what waits (the pump stops at its next slice)."""
        self._generation += 1
        self.pending.clear()
        self._stopped()

    async def drained(self) -> None:
        """Wait until what waits now has been offered to every viewer (or thrown away); frames
        queued meanwhile are not waited for, so a map written to all the time cannot hold the
        caller up for ever."""
        number = self.number
        while self.running and self._offered < number:
            if self._passed is None:
                self._passed = trio.Event()
            await self._passed.wait()

    async def pump(
        self, viewers: Collection[Any], drop: Callable[[Any], None], took: Callable[[float], None]
    ) -> None:
        """Offer what waits to ``viewers`` (the map's live set: copied for each batch of frames,
        and asked at each offer whether the viewer is still in it), ``SLICE_SECONDS`` a turn,
        until nothing waits. ``drop(viewer)`` is the fan-out's, for a viewer that refused a
        frame (it takes it out of ``viewers``); ``took(seconds)`` is told how long each batch
        took from its first offer to its last (the crowd's delivery, as the server sees it)."""
        generation = self._generation
        try:
            while self.pending and generation == self._generation:
                frames, self.pending = self.pending, []
                together = [(data, chunked) for _, data, chunked in frames]
                joined_chunks = b"".join([chunked for _, _, chunked in frames])
                crowd = list(viewers)
                done = 0
                began = self.clock()
                while done < len(crowd):
                    if done:
                        await trio.lowlevel.checkpoint()
                        if generation != self._generation:
                            return
                    done = self._slice(crowd, done, frames, (together, joined_chunks), viewers, drop)
                self._offered = frames[-1][0]
                took(self.clock() - began)
                self._wake()
                if self.pending:
                    await trio.lowlevel.checkpoint()
        except trio.Cancelled:
            raise  # the process is ending
        except Exception:  # a system task's error would end the process; drop what waits instead
            log.exception("a broadcast failed; its frames were dropped")
            self.pending.clear()
        finally:
            if generation == self._generation:
                self._stopped()

    def _slice(
        self,
        crowd: list[Any],
        start: int,
        frames: list[Pending],
        together: tuple[list[tuple[bytes, bytes]], bytes],
        viewers: Collection[Any],
        drop: Callable[[Any], None],
    ) -> int:
        """Offer ``frames`` to ``crowd[start:]`` until the slice's time is up (at least one
        viewer); the index to go on from. This loop is the broadcast's cost besides the socket
        writes, so it stays flat: one frame (the usual case) needs no loop over frames, and a
        viewer's number at joining is looked up only while some viewer has one. Several frames
        go to a viewer together (``offer_many``: one socket write, not one each), but to one
        that joined meanwhile only those after the number it joined at."""
        clock = self.clock
        deadline = clock() + SLICE_SECONDS
        joined = self.joined
        index = start
        if len(frames) == 1:
            ((number, data, chunked),) = frames
            for index in range(start, len(crowd)):
                viewer = crowd[index]
                if viewer in viewers and not (joined and joined.get(viewer, 0) >= number):
                    if not viewer.offer(data, chunked):
                        drop(viewer)
                if clock() >= deadline:
                    break
            return index + 1
        first = frames[0][0]
        pairs, joined_chunks = together
        for index in range(start, len(crowd)):
            viewer = crowd[index]
            if viewer in viewers:
                seen = joined.get(viewer, 0) if joined else 0
                if seen < first:
                    if not viewer.offer_many(pairs, joined_chunks):
                        drop(viewer)
                else:
                    _offer_after(viewer, frames, seen, drop)
            if clock() >= deadline:
                break
        return index + 1

    def _stopped(self) -> None:
        self.running = False
        self.joined.clear()
        self._wake()

    def _wake(self) -> None:
        if self._passed is not None:
            self._passed.set()
            self._passed = None


def _offer_after(viewer: Any, frames: list[Pending], seen: int, drop: Callable[[Any], None]) -> None:
    for number, data, chunked in frames:
        if number > seen and not viewer.offer(data, chunked):
            drop(viewer)
            return  # dropped: it gets nothing more


def say_last(
    told: Sequence[tuple[Any, bytes]], start: int = 0, clock: Callable[[], float] | None = None
) -> int:
    """Offer each viewer of ``told[start:]`` its last frame and end it: all of them, or with a
    ``clock`` until a slice's time is up (at least one viewer); the index to go on from."""
    deadline = clock() + SLICE_SECONDS if clock is not None else math.inf
    now = clock or (lambda: 0.0)
    index = start
    for index in range(start, len(told)):
        viewer, data = told[index]
        viewer.offer(data, chunk(data))
        viewer.close()  # its stream ends after this frame (a stream's end waits its turn too)
        if now() >= deadline:
            break
    return index + 1


async def say_in_slices(told: Sequence[tuple[Any, bytes]], clock: Callable[[], float]) -> None:
    """``say_last`` to a crowd, ``SLICE_SECONDS`` of it per loop turn: one frame to each of
    10,000 viewers in one turn would stand the loop still as a broadcast's did."""
    try:
        done = say_last(told, 0, clock)
        while done < len(told):
            await trio.lowlevel.checkpoint()
            done = say_last(told, done, clock)
    except trio.Cancelled:
        raise  # the process is ending
    except Exception:  # a system task's error would end the process
        log.exception("ending a map's viewers failed")
