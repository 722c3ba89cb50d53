"""A frame to a crowd goes out ``SLICE_SECONDS`` of offers per loop turn (``mapsrv.hub.broadcast``):
every viewer still gets every event once and in order, those that join or leave mid-broadcast
included, presence never overtakes a change, and a rewrite throws away what waits. A few viewers
get each frame in the turn that made it. The outbox's clock here is ``Ticks``: each look at it
is a fixed share of a slice, so a slice is a known number of viewers."""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import trio

from mapsrv.core import MapState
from mapsrv.core.events import TitleSet
from mapsrv.hub.broadcast import CROWD_FROM, SLICE_SECONDS
from mapsrv.hub.fanout import Fanout, FrameLog, Subscription, Viewer

PRESENCE = re.compile(rb"event: presence\ndata: (\d+)")
PER_TURN = 64  # viewers a slice reaches with ``Ticks(PER_TURN)``


class Ticks:
    """A clock that moves on by ``1 / per_slice`` of a slice each time it is read: the pump reads
    it once as a slice begins and once after each viewer, so a slice reaches ``per_slice``
    viewers (one more when rounding says so)."""

    def __init__(self, per_slice: float) -> None:
        self.step = SLICE_SECONDS / per_slice
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


def sliced_log(per_slice: float = PER_TURN) -> FrameLog:
    log = FrameLog(64)
    log.outbox.clock = Ticks(per_slice)
    return log


@dataclass
class Crowd:
    state: MapState = field(default_factory=lambda: MapState(id="crowd"))
    subscribers: set[Viewer] = field(default_factory=set)
    frames: FrameLog = field(default_factory=sliced_log)


def write(fanout: Fanout, crowd: Crowd) -> int:
    """The map moves on by one event, published as the hub does; its version."""
    version = crowd.state.version + 1
    crowd.state = dataclasses.replace(crowd.state, version=version)
    fanout.publish(crowd, [TitleSet(version, f"t{version}")])
    return version


def join(fanout: Fanout, crowd: Crowd, seen: int | None) -> Subscription:
    """A viewer that has ``seen``, joining as the hub's ``join`` does (its first frames from the
    frame log, then every later frame from the fan-out)."""
    initial = crowd.frames.since(seen, crowd.state)
    assert initial is not None
    viewer = fanout.add(crowd, initial)
    assert isinstance(viewer, Subscription)
    return viewer


def taken(viewer: Subscription) -> list[bytes]:
    """Its first frames and what it has been offered since (read without waiting)."""
    frames = list(viewer.initial)
    viewer.initial = []
    while True:
        try:
            frames.append(viewer.receive.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return frames


def ids(frames: list[bytes]) -> list[int]:
    return [int(m.group(1)) for f in frames if (m := re.search(rb"^id: (\d+)$", f, re.M))]


async def test_every_viewer_gets_every_event_once_in_order_while_viewers_join_and_leave() -> None:
    fanout = Fanout(subscriber_buffer=1000)
    crowd = Crowd()
    got: dict[Subscription, list[bytes]] = {}
    first: dict[Subscription, int] = {}  # the first version each viewer must have
    for _ in range(CROWD_FROM + 3 * PER_TURN + 7):
        viewer = join(fanout, crowd, 0)
        got[viewer], first[viewer] = [], 1
    gone: dict[Subscription, int] = {}  # a viewer that left -> how many frames it had then
    rng = random.Random(47)

    async def writer() -> None:
        for n in range(30):
            version = write(fanout, crowd)
            if n % 4 == 0:  # presence between changes: it must come after this one, before the next
                fanout.broadcast(crowd, b"event: presence\ndata: %d\n\n" % version)
            if n % 3 == 2:
                await trio.lowlevel.checkpoint()  # the others back to back, while slices go out

    async def churn() -> None:
        for _ in range(40):
            seen = crowd.state.version - rng.randint(0, 2)
            viewer = join(fanout, crowd, seen if seen >= 1 else None)
            got[viewer], first[viewer] = [], max(seen, 0) + 1 if seen >= 1 else crowd.state.version
            leaving = rng.choice([v for v in got if v not in gone])
            got[leaving] += taken(leaving)
            fanout.remove(crowd, leaving)
            gone[leaving] = len(got[leaving])
            for v in got:
                got[v] += taken(v)
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        nursery.start_soon(churn)
    await crowd.frames.outbox.drained()
    final = crowd.state.version
    assert final == 30
    for viewer, frames in got.items():
        frames += taken(viewer)
        versions = ids(frames)
        if viewer in gone:
            assert len(frames) == gone[viewer], "nothing reaches a viewer after it left"
            assert versions == list(range(first[viewer], first[viewer] + len(versions))), versions
            continue
        assert versions == list(range(first[viewer], final + 1)), (
            f"a viewer that joined at {first[viewer] - 1} got {versions}"
        )
        for index, data in enumerate(frames):
            if (m := PRESENCE.search(data)) is not None:
                before = ids(frames[:index])
                assert not before or before[-1] == int(m.group(1)), "presence overtook or lagged a change"
    assert not crowd.frames.outbox.running and not crowd.frames.outbox.joined
    assert len(crowd.subscribers) == len(got) - len(gone)


async def test_a_few_viewers_get_the_frame_in_the_turn_that_made_it() -> None:
    fanout = Fanout(subscriber_buffer=8)
    crowd = Crowd()
    viewers = [join(fanout, crowd, 0) for _ in range(CROWD_FROM - 1)]
    write(fanout, crowd)
    assert not crowd.frames.outbox.running, "no pump for a small audience"
    assert all(ids(taken(v)) == [1] for v in viewers), "every viewer had it before any checkpoint"


async def test_a_crowds_event_goes_out_a_slice_per_turn_and_the_write_does_not_wait() -> None:
    fanout = Fanout(subscriber_buffer=8)
    crowd = Crowd()
    viewers = [join(fanout, crowd, 0) for _ in range(max(CROWD_FROM, 8 * PER_TURN))]
    write(fanout, crowd)  # returns at once: the write is answered before the crowd has it
    had = [sum(v.receive.statistics().current_buffer_used for v in viewers)]
    while crowd.frames.outbox.running:
        await trio.lowlevel.checkpoint()
        had.append(sum(v.receive.statistics().current_buffer_used for v in viewers))
    assert had[0] == 0
    assert had[-1] == len(viewers), "every viewer got it once"
    steps = [b - a for a, b in pairwise(had) if b > a]
    # trio runs a turn's tasks in any order, so two slices may fall between two looks, never more
    assert len(steps) >= 4 and max(steps) <= 2 * (PER_TURN + 1), f"slices between other work: {had}"


async def test_a_rewrite_mid_broadcast_stops_it_and_the_next_event_reaches_only_the_new_viewers() -> None:
    fanout = Fanout(subscriber_buffer=8)
    crowd = Crowd()
    old = [join(fanout, crowd, 0) for _ in range(CROWD_FROM + 4 * PER_TURN)]
    write(fanout, crowd)
    await trio.lowlevel.checkpoint()  # the pump's first slice
    await trio.lowlevel.checkpoint()
    fanout.restart_viewers(crowd)
    assert not crowd.subscribers and not crowd.frames.outbox.running
    new = join(fanout, crowd, None)  # a snapshot at version 1
    viewers_seen = [ids(taken(v)) for v in old]
    version = write(fanout, crowd)
    await crowd.frames.outbox.drained()
    await trio.testing.wait_all_tasks_blocked()
    assert sum(1 for seen in viewers_seen if seen) < len(old), "the rewrite stopped the broadcast"
    assert all(seen in ([], [1]) for seen in viewers_seen)
    assert all(not ids(taken(v)) for v in old), "nothing reaches a viewer after the rewrite ended it"
    assert ids(taken(new)) == [1, version], "the new viewer: its snapshot, then the next event once"


async def test_a_crowd_that_cannot_keep_up_is_dropped_each_viewer_once() -> None:
    fanout = Fanout(subscriber_buffer=2)
    crowd = Crowd()
    viewers = [join(fanout, crowd, 0) for _ in range(CROWD_FROM + 2 * PER_TURN)]
    for _ in range(3):  # nobody reads; queued behind each other, they go together (under 2 waited)
        write(fanout, crowd)
    await crowd.frames.outbox.drained()
    assert crowd.subscribers == set(viewers) and fanout.dropped == 0
    write(fanout, crowd)  # the fourth finds 3 frames waiting for each, over the buffer's 2
    await crowd.frames.outbox.drained()
    assert not crowd.subscribers
    assert fanout.dropped == len(viewers)
    assert all(ids(taken(v)) == [1, 2, 3] for v in viewers), "each kept what it took, and its end"


async def test_an_audience_shrunk_mid_broadcast_gets_the_next_event_behind_the_last() -> None:
    fanout = Fanout(subscriber_buffer=8)
    crowd = Crowd()
    viewers = [join(fanout, crowd, 0) for _ in range(CROWD_FROM + 40)]
    write(fanout, crowd)
    for leaving in viewers[:50]:  # a few left: the next frame is for a small audience
        fanout.remove(crowd, leaving)
    write(fanout, crowd)
    await crowd.frames.outbox.drained()
    assert all(ids(taken(v)) == [1, 2] for v in viewers[50:]), "never the second before the first"


async def test_waiting_for_a_frame_to_go_out_does_not_wait_for_those_after_it() -> None:
    """``broadcast_paced`` (presence) returns once the crowd has its frame, even while the map is
    written to all the time."""
    fanout = Fanout(subscriber_buffer=10_000)
    crowd = Crowd()
    viewers = [join(fanout, crowd, 0) for _ in range(CROWD_FROM + 2 * PER_TURN)]
    async with trio.open_nursery() as nursery:

        async def busy_writer() -> None:
            while True:
                write(fanout, crowd)
                await trio.lowlevel.checkpoint()

        nursery.start_soon(busy_writer)
        await trio.lowlevel.checkpoint()
        with trio.move_on_after(5) as waited:
            await fanout.broadcast_paced(crowd, b"event: presence\ndata: 0\n\n")
        assert not waited.cancelled_caught, "it waited for the frames written after it"
        assert crowd.frames.outbox.running, "the writes go on"
        nursery.cancel_scope.cancel()
    assert all(any(PRESENCE.search(f) for f in taken(v)) for v in viewers), "every viewer had it"


async def test_a_slice_ends_when_its_time_is_up_however_many_viewers_it_reached() -> None:
    """Slow offers (a loaded machine, full sockets) make short slices; fast ones, long slices."""
    for clock, most in ((Ticks(4), 2 * 5), (lambda: 0.0, None)):
        fanout = Fanout(subscriber_buffer=8)
        crowd = Crowd()
        crowd.frames.outbox.clock = clock
        viewers = [join(fanout, crowd, 0) for _ in range(CROWD_FROM + 100)]
        write(fanout, crowd)
        had = [0]
        with trio.fail_after(10):
            while crowd.frames.outbox.running:
                await trio.lowlevel.checkpoint()
                had.append(sum(v.receive.statistics().current_buffer_used for v in viewers))
        steps = [b - a for a, b in pairwise(had) if b > a]
        assert had[-1] == len(viewers), "every viewer got it once"
        if most is None:
            assert steps == [len(viewers)], f"a clock that never moves: one slice for all: {had}"
        else:
            assert len(steps) >= len(viewers) // most and max(steps) <= most, had


async def test_slices_cut_short_every_viewer_still_get_every_frame_once_in_order() -> None:
    """A clock already past the slice's end each time it is read: one viewer a turn (never
    none), while changes and presence keep coming and viewers join and leave."""
    for per_slice in (1, 0.25):
        fanout = Fanout(subscriber_buffer=100)
        crowd = Crowd(frames=sliced_log(per_slice))
        got = {join(fanout, crowd, 0): 1 for _ in range(CROWD_FROM + 10)}  # viewer -> first version
        left: dict[Subscription, list[bytes]] = {}
        turns = 0
        for n in range(12):
            version = write(fanout, crowd)
            fanout.broadcast(crowd, b"event: presence\ndata: %d\n\n" % version)
            got[join(fanout, crowd, version - 1)] = version  # had the ones before from the log
            if n % 3 == 0:
                leaving = next(v for v in got if v not in left)
                left[leaving] = taken(leaving)
                fanout.remove(crowd, leaving)
            await trio.lowlevel.checkpoint()
            turns += 1
        with trio.fail_after(10):
            while crowd.frames.outbox.running:
                await trio.lowlevel.checkpoint()
                turns += 1
        assert turns >= len(got), "one viewer a turn"
        for viewer, first in got.items():
            frames = left.get(viewer) or taken(viewer)
            if viewer in left:
                assert not taken(viewer), "nothing after it left"
                assert ids(frames) == list(range(first, first + len(ids(frames))))
                continue
            assert ids(frames) == list(range(first, 13)), f"joined before {first}: {ids(frames)}"
            for index, data in enumerate(frames):
                if (m := PRESENCE.search(data)) is not None:
                    assert ids(frames[:index])[-1] == int(m.group(1)), "presence overtook a change"


async def test_heartbeats_to_a_crowd_go_out_a_slice_per_turn(autojump_clock: trio.testing.MockClock) -> None:
    fanout = Fanout(subscriber_buffer=8)
    fanout.clock = Ticks(8)
    crowd = Crowd()
    viewers = [join(fanout, crowd, 0) for _ in range(100)]
    for viewer in viewers:
        viewer.slot = 1
    had: list[int] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(fanout.serve_heartbeats, [crowd], 10.0)  # slot 1's turn at 1 s
        await trio.sleep(1)
        with trio.fail_after(10):
            while not had or had[-1] < len(viewers):
                had.append(sum(v.receive.statistics().current_buffer_used for v in viewers))
                await trio.lowlevel.checkpoint()
        nursery.cancel_scope.cancel()
    steps = [b - a for a, b in pairwise([0, *had]) if b > a]
    assert len(steps) >= 5 and max(steps) <= 2 * (8 + 1), f"heartbeats between other work: {had}"
    assert all(taken(v) == [b": hb\n\n"] for v in viewers), "each viewer one heartbeat"


class Counting(Subscription):
    """A viewer that counts how it was offered its frames."""

    def __init__(self, initial: list[bytes], buffer: int, slot: int = 0) -> None:
        super().__init__(initial, buffer, slot)
        self.calls: list[int] = []  # frames per call

    def offer(self, frame: bytes, chunked: bytes = b"") -> bool:
        self.calls.append(1)
        return super().offer(frame, chunked)

    def offer_many(self, frames: Sequence[tuple[bytes, bytes]], chunked: bytes = b"") -> bool:
        self.calls.append(len(frames))
        assert chunked == b"".join(c for _, c in frames), "the chunks joined, for one write"
        return all(Subscription.offer(self, frame) for frame, _ in frames)


async def test_frames_queued_behind_each_other_go_to_a_viewer_together() -> None:
    fanout = Fanout(subscriber_buffer=16)
    crowd = Crowd()
    viewers = [fanout.add(crowd, [], Counting) for _ in range(CROWD_FROM)]
    for _ in range(3):  # one write of three changes: all three queue before the pump's turn
        write(fanout, crowd)
    late = fanout.add(crowd, [], Counting)  # joined with those three in its first frames
    write(fanout, crowd)
    await crowd.frames.outbox.drained()
    for viewer in viewers:
        assert isinstance(viewer, Counting)
        assert viewer.calls == [4], "four frames, one offer"
        assert ids(taken(viewer)) == [1, 2, 3, 4]
    assert isinstance(late, Counting)
    assert late.calls == [1] and ids(taken(late)) == [4], "only what came after it joined"


async def test_how_long_a_write_took_to_reach_a_crowd_is_told_once_a_batch() -> None:
    """The server's crowd-delivery metric: each batch's time from its first offer to its last
    (here the test's clock, a tick per viewer at least); a write offered at once to a few is not
    a crowd's."""
    fanout = Fanout(subscriber_buffer=8)
    took: list[float] = []
    fanout.observe_crowd = took.append
    few = Crowd()
    for _ in range(CROWD_FROM - 1):
        join(fanout, few, 0)
    write(fanout, few)
    crowd = Crowd()
    viewers = [join(fanout, crowd, 0) for _ in range(CROWD_FROM + 3 * PER_TURN)]
    write(fanout, crowd)
    while crowd.frames.outbox.running:
        await trio.lowlevel.checkpoint()
    assert all(taken(v) for v in viewers)
    step = SLICE_SECONDS / PER_TURN
    assert len(took) == 1, took
    assert took[0] >= len(viewers) * step, f"{took[0]} s for {len(viewers)} viewers at {step} s each"
