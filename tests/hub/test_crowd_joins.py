"""A crowd joining one map (``MapHub.join``): a viewer whose first frames are at hand joins
without queueing on the map's lock, so a write to the map never waits behind thousands of joins;
it still gets every event once and in order, one written while it joined included."""

from __future__ import annotations

import re

import trio

from mapsrv.core import Limits
from mapsrv.core.parse import parse_op
from mapsrv.hub import MapHub
from mapsrv.hub.fanout import Subscription

MARKER = {"op": "add_feature", "type": "marker", "coords": [1, 2]}


def ids(frames: list[bytes]) -> list[int]:
    return [int(m.group(1)) for f in frames if (m := re.search(rb"^id: (\d+)$", f, re.M))]


def taken(viewer: Subscription) -> list[bytes]:
    frames = list(viewer.initial)
    while True:
        try:
            frames.append(viewer.receive.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return frames


async def test_a_viewer_with_its_frames_at_hand_joins_while_the_lock_is_held() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    await hub.apply(entry.id, [parse_op(MARKER, Limits())])
    joined: list[Subscription] = []
    release = trio.Event()

    async def writer(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with entry.lock:  # a write in the middle of its commit
            task_status.started()
            await release.wait()

    async with trio.open_nursery() as nursery:
        await nursery.start(writer)
        with trio.move_on_after(2) as waited:
            for seen in (None, "0", "1"):  # a new page, one a version behind, one up to date
                viewer = await hub.join(entry, seen, Subscription)
                assert isinstance(viewer, Subscription)
                joined.append(viewer)
        release.set()
    assert not waited.cancelled_caught, "a join with its frames at hand waited for the map's lock"
    await hub.apply(entry.id, [parse_op(MARKER, Limits())])
    assert [ids(taken(v)) for v in joined] == [[1, 2], [1, 2], [2]], "every event once, in order"
    for viewer in joined:
        hub.leave(entry, viewer)
    assert not entry.subscribers


async def test_viewers_joining_while_a_write_commits_get_its_event_once() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    joined: list[Subscription] = []

    async def crowd() -> None:
        for _ in range(200):
            viewer = await hub.join(entry, None, Subscription)
            assert isinstance(viewer, Subscription)
            joined.append(viewer)
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(crowd)
        for _ in range(20):
            await hub.apply(entry.id, [parse_op(MARKER, Limits())])
            await trio.lowlevel.checkpoint()
    await entry.frames.outbox.drained()
    for viewer in joined:
        got = ids(taken(viewer))
        assert got == list(range(got[0], 21)), got
