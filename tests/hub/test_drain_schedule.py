"""``Fanout.close_all_over``: a SIGTERM's viewers end in batches that keep to the drain window's
schedule, even when the loop is too busy for the ticks to come on time."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import trio
import trio.testing

from mapsrv.hub.fanout import DRAIN_TICK, Fanout


@dataclass(eq=False)
class Viewer:
    ended: list[float]
    closed: bool = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.ended.append(trio.current_time())


@dataclass
class Map:
    subscribers: set[Any] = field(default_factory=set)


async def drain(
    clock: trio.testing.MockClock, count: int, spread: float, busy: float
) -> tuple[float, list[float]]:
    """End ``count`` viewers over ``spread`` seconds while something else holds the loop for
    ``busy`` seconds twice a tick (the clock jumps while it runs); the time it took, and when
    each viewer ended."""
    ended: list[float] = []
    watched = Map({Viewer(ended) for _ in range(count)})
    began = trio.current_time()

    async def hog() -> None:
        while True:
            await trio.sleep(DRAIN_TICK / 2)
            clock.jump(busy)  # a turn that takes this long: other tasks' deadlines pass meanwhile

    async with trio.open_nursery() as nursery:
        if busy:
            nursery.start_soon(hog)
        assert await Fanout(16).close_all_over([watched], spread) == count  # type: ignore[list-item]
        nursery.cancel_scope.cancel()
    return trio.current_time() - began, [t - began for t in ended]


async def test_the_viewers_end_evenly_over_the_window(autojump_clock: trio.testing.MockClock) -> None:
    took, ended = await drain(autojump_clock, 1000, 10.0, busy=0)
    assert len(ended) == 1000
    assert took <= 10.0 + DRAIN_TICK
    first_half = sum(1 for t in ended if t < 5.0)
    assert 450 <= first_half <= 550, first_half


async def test_late_ticks_end_bigger_batches_not_a_longer_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Fixed batches of count/ticks stretched 10 s into 37 s when each tick came ~185 ms late."""
    slow = 0.1
    took, ended = await drain(autojump_clock, 10_000, 10.0, busy=slow)
    assert len(ended) == 10_000
    assert took <= 10.0 + DRAIN_TICK + 2 * slow, took


async def test_each_batch_keeps_to_the_windows_schedule_not_one_lump(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """By any time ``t`` into the window, about ``count * t / window`` viewers have ended: never
    far behind (fixed batches, with the rest in one lump at the end, still end in time) and
    never ahead."""
    count, window, slow = 10_000, 10.0, 0.1
    _took, ended = await drain(autojump_clock, count, window, busy=slow)
    batches = sorted(Counter(ended).items())
    done = 0
    for at, size in batches:
        done += size
        due = count * min(1.0, (at + DRAIN_TICK) / window)
        assert done <= due + 1, f"{done} ended by {at:.2f} s, ahead of the schedule ({due:.0f})"
        assert done >= count * at / window - 1, f"{done} ended by {at:.2f} s of {window} s: behind"
    largest = max(size for _at, size in batches)
    assert largest <= count * (DRAIN_TICK + 2 * slow + 0.05) / window, f"a lump of {largest}"
