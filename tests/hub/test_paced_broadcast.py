"""``Fanout.broadcast_paced``: a crowd's presence frame goes out a slice of viewers per loop turn,
with other work between the slices; a viewer that left meanwhile is skipped, every other one gets
the frame once."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import trio

from mapsrv.core import MapState
from mapsrv.hub.broadcast import CROWD_FROM, SLICE_SECONDS
from mapsrv.hub.fanout import Fanout, FrameLog, Subscription, Viewer

PER_TURN = 64  # viewers a slice reaches: the outbox's clock moves 1/64 of a slice at each look


def sliced_log() -> FrameLog:
    log = FrameLog(16)
    now = iter(range(1_000_000_000))
    log.outbox.clock = lambda: next(now) * SLICE_SECONDS / PER_TURN
    return log


@dataclass
class Crowd:
    state: MapState = field(default_factory=lambda: MapState(id="crowd"))
    subscribers: set[Viewer] = field(default_factory=set)
    frames: FrameLog = field(default_factory=sliced_log)


async def test_a_crowds_frame_goes_out_a_slice_per_turn() -> None:
    fanout = Fanout(subscriber_buffer=4)
    crowd = Crowd()
    viewers = [fanout.add(crowd, []) for _ in range(CROWD_FROM + 3 * PER_TURN + 10)]
    leaving = list(crowd.subscribers)[-1]  # in the last slice (the order the broadcast takes)
    turns: list[int] = []  # how many viewers had the frame at each turn of the other task

    def received() -> int:
        count = 0
        for viewer in viewers:
            assert isinstance(viewer, Subscription)
            count += viewer.receive.statistics().current_buffer_used
        return count

    async def other_work() -> None:
        for n in range(6):
            turns.append(received())
            if n == 1:
                fanout.remove(crowd, leaving)  # a viewer leaves while the frame is going out
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(fanout.broadcast_paced, crowd, b"event: presence\ndata: {}\n\n")
        nursery.start_soon(other_work)
    assert received() == len(viewers) - 1, (
        f"{turns} every viewer that stayed got it once; the one that left none"
    )
    partial = [n for n in turns if 0 < n < len(viewers) - 1]
    assert len(partial) >= 2, f"other work ran between the slices: {turns}"
    assert all(b - a <= 2 * (PER_TURN + 1) for a, b in pairwise(turns)), turns
