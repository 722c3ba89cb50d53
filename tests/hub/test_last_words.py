"""Streams that end together end a few per loop turn (issue 47): a deleted map's crowd, or the
viewers of a link that changed, each get their one ``access`` frame ``SLICE_SECONDS`` of offers
per turn and no other frame after it; and a stream read from a channel (an agent's, a browser's
behind TLS) ends through the server's pacer, so 10,000 closed at once do not wake 10,000 tasks
in one turn. The slices' clock here is ``Ticks``: a slice reaches a known number of viewers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import trio

from mapsrv.core import MapState
from mapsrv.core.events import TitleSet
from mapsrv.core.sse import frame
from mapsrv.http.pacing import Pacer
from mapsrv.hub import MapHub
from mapsrv.hub.broadcast import CROWD_FROM, SLICE_SECONDS
from mapsrv.hub.fanout import Fanout, FrameLog, Subscription, Viewer

PER_SLICE = 16


class Ticks:
    """Each read moves on by ``1 / per_slice`` of a slice: a slice reaches ``per_slice`` viewers."""

    def __init__(self, per_slice: int) -> None:
        self.step = SLICE_SECONDS / per_slice
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@dataclass
class Crowd:
    state: MapState = field(default_factory=lambda: MapState(id="crowd"))
    subscribers: set[Viewer] = field(default_factory=set)
    frames: FrameLog = field(default_factory=lambda: FrameLog(64))


def watchers(fanout: Fanout, crowd: Crowd, count: int) -> list[Subscription]:
    viewers = [fanout.add(crowd, []) for _ in range(count)]
    assert all(isinstance(viewer, Subscription) for viewer in viewers)
    return viewers  # type: ignore[return-value]


def heard(viewer: Subscription) -> tuple[list[bytes], bool]:
    """What the viewer's channel holds now, and whether it has ended after that."""
    frames = []
    while True:
        try:
            frames.append(viewer.receive.receive_nowait())
        except trio.WouldBlock:
            return frames, False
        except trio.EndOfChannel:
            return frames, True


def own_frame(index: int) -> bytes:
    return frame(f'{{"viewer":{index}}}', event="access")


def write(fanout: Fanout, crowd: Crowd) -> None:
    version = crowd.state.version + 1
    crowd.state = MapState(id="crowd", version=version)
    fanout.publish(crowd, [TitleSet(version, f"t{version}")])


async def test_a_crowd_gets_its_last_words_a_slice_per_turn_and_nothing_after() -> None:
    fanout = Fanout(8)
    fanout.clock = Ticks(PER_SLICE)
    crowd = Crowd()
    count = CROWD_FROM + 44
    viewers = watchers(fanout, crowd, count)
    fanout.last_words(crowd, [(viewer, own_frame(i)) for i, viewer in enumerate(viewers)])
    assert not crowd.subscribers, "they leave the map at once"
    write(fanout, crowd)  # a change after their last words reaches none of them

    ended_by_turn: list[int] = []
    got: dict[int, list[bytes]] = {}
    with trio.fail_after(10):
        while len(got) < count:
            await trio.lowlevel.checkpoint()
            for index, viewer in enumerate(viewers):
                if index not in got:
                    frames, ended = heard(viewer)
                    assert not frames or ended, "a viewer's stream ends with its last frame"
                    if ended:
                        got[index] = frames
            ended_by_turn.append(len(got))
    steps = [b - a for a, b in zip([0, *ended_by_turn], ended_by_turn, strict=False)]
    # trio runs the ready tasks of a turn in a random order: between two looks here there are
    # one or two of the sender's turns, never all of them
    assert max(steps) <= 2 * (PER_SLICE + 1), f"at most a slice of viewers a turn, got {steps}"
    assert len([s for s in steps if s]) >= count // (2 * (PER_SLICE + 1)), steps
    assert got == {index: [own_frame(index)] for index in range(count)}, "each its own frame, once"


async def test_a_few_get_their_last_words_in_the_same_turn() -> None:
    fanout = Fanout(8)
    crowd = Crowd()
    viewers = watchers(fanout, crowd, 5)
    fanout.last_words(crowd, [(viewer, own_frame(i)) for i, viewer in enumerate(viewers)])
    assert [heard(viewer) for viewer in viewers] == [([own_frame(i)], True) for i in range(5)]


async def test_channel_streams_closed_together_end_a_few_per_turn() -> None:
    pacer = Pacer(per_turn=4)
    fanout = Fanout(8, end_soon=pacer.soon)
    crowd = Crowd()
    viewers = watchers(fanout, crowd, 40)
    write(fanout, crowd)
    await trio.lowlevel.checkpoint()  # a new turn: the pacer has room again
    fanout.close_all([crowd])
    assert not any(viewer.offer(b"late") for viewer in viewers), "ended viewers take nothing more"
    now = [heard(viewer) for viewer in viewers]
    assert sum(ended for _, ended in now) <= pacer.per_turn, "only a turn's worth end at once"
    assert all(len(frames) == 1 for frames, _ in now), "each still has what it took"
    with trio.fail_after(10):
        while not all(ended for _, ended in now):
            await trio.lowlevel.checkpoint()
            pairs = zip(viewers, now, strict=True)
            now = [(frames, ended or heard(viewer)[1]) for viewer, (frames, ended) in pairs]
    assert pacer.parked >= 40 - pacer.per_turn


@pytest.mark.parametrize("via", ["subscribe", "delete"])
async def test_the_hub_ends_its_channel_streams_through_the_pacer_it_is_given(via: str) -> None:
    asked: list[object] = []
    hub = MapHub(end_soon=asked.append)
    entry = await hub.create_map(owner="alice")
    async with hub.subscribe(entry) as sub:
        if via == "delete":
            await hub.delete_map(entry)
        else:
            hub.fanout.remove(entry, sub)
        assert len(asked) == 1, "its end waits for the pacer"
        frames, ended = heard(sub)
        assert not ended
        asked.pop()()  # type: ignore[operator]
        frames += heard(sub)[0]
        assert heard(sub)[1]
    if via == "delete":
        assert any(b"event: access" in f and b'"gone":true' in f for f in frames), frames
