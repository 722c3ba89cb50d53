"""The hub and the event pump, on trio's autojump clock where time matters."""

from __future__ import annotations

import contextlib
import itertools

import pytest
import trio
import trio.testing

from mapsrv.core import Limits
from mapsrv.core.parse import parse_op
from mapsrv.errors import Unavailable, VersionConflict
from mapsrv.hub import MapHub
from mapsrv.hub.fanout import HEARTBEAT_SLICES
from mapsrv.store.memory.shared import SharedMemory
from mapsrv.web.stream import pump

MARKER = {"op": "add_feature", "type": "marker", "coords": [1, 2]}


async def add(hub: MapHub, map_id: str, n: int = 1) -> None:
    for _ in range(n):
        await hub.apply(map_id, [parse_op(MARKER, Limits())])


async def test_fan_out_encodes_once_and_reaches_every_subscriber() -> None:
    hub = MapHub()
    entry = await hub.create_map(owner="u" * 22)
    async with hub.subscribe(entry) as a, hub.subscribe(entry) as b:
        assert a.initial == b.initial and a.initial[0].startswith(b"id: 0\nevent: snapshot\n")
        await add(hub, entry.id, 3)
        frames_a = [a.receive.receive_nowait() for _ in range(3)]
        frames_b = [b.receive.receive_nowait() for _ in range(3)]
        assert all(x is y for x, y in zip(frames_a, frames_b, strict=True)), "one encoding shared by all"
        assert hub.statistics().subscribers == 2
    assert hub.statistics().subscribers == 0
    assert hub.statistics().events_published == 3


async def test_slow_subscriber_is_dropped_and_resumes_from_the_log() -> None:
    hub = MapHub(subscriber_buffer=2, event_log_size=10)
    entry = await hub.create_map()
    async with hub.subscribe(entry) as slow, hub.subscribe(entry) as fast:
        for _ in range(3):
            await add(hub, entry.id)
            fast.receive.receive_nowait()
        received = [slow.receive.receive_nowait() for _ in range(2)]
        assert received[-1].startswith(b"id: 2\n")
        with pytest.raises(trio.EndOfChannel):
            slow.receive.receive_nowait()
        assert hub.statistics().subscribers_dropped == 1
        assert entry.subscribers == {fast}
    async with hub.subscribe(entry, last_event_id="2") as again:
        assert [f.split(b"\n", 1)[0] for f in again.initial] == [b"id: 3"]


async def test_resume_falls_back_to_a_snapshot_when_the_log_is_short() -> None:
    hub = MapHub(event_log_size=2)
    entry = await hub.create_map()
    await add(hub, entry.id, 5)
    for last, expected in [
        ("4", [b"id: 5"]),
        ("3", [b"id: 4", b"id: 5"]),
        ("5", []),
        ("2", [b"id: 5"]),
        ("17", [b"id: 5"]),
        ("-1", [b"id: 5"]),
        ("abc", [b"id: 5"]),
        (None, [b"id: 5"]),
    ]:
        async with hub.subscribe(entry, last_event_id=last) as sub:
            assert [f.split(b"\n", 1)[0] for f in sub.initial] == expected, last
            if last in ("2", "17", None):
                assert b"event: snapshot" in sub.initial[0]


async def test_idle_maps_expire_but_watched_maps_stay(autojump_clock: trio.testing.MockClock) -> None:
    hub = MapHub(idle_timeout=3600)
    idle = await hub.create_map(owner="o" * 22)
    watched = await hub.create_map()
    used = await hub.create_map()
    for entry in (idle, watched, used):  # drawn on: they live for the whole idle timeout
        await add(hub, entry.id)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.serve_expiry)
        async with hub.subscribe(watched):
            await trio.sleep(1800)
            await add(hub, used.id)
            await trio.sleep(1900)
            assert hub.find(idle.id) is None, "idle for over an hour"
            assert hub.find(watched.id) is not None
            assert hub.find(used.id) is not None
            assert await hub.last_map_of("o" * 22) is None
        await trio.sleep(3700)
        assert hub.find(watched.id) is None, "expires an hour after its last viewer left"
        assert hub.find(used.id) is None
        assert hub.statistics().maps_expired == 3
        nursery.cancel_scope.cancel()


async def test_maps_nobody_drew_on_go_sooner(autojump_clock: trio.testing.MockClock) -> None:
    hub = MapHub(idle_timeout=3600)
    empty = await hub.create_map()
    drawn = await hub.create_map()
    await add(hub, drawn.id)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.serve_expiry)
        await trio.sleep(700)
        assert hub.find(empty.id) is None
        assert hub.find(drawn.id) is not None
        nursery.cancel_scope.cancel()


async def test_stream_gets_heartbeats_and_batches_and_a_last_retry_hint(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = MapHub()
    entry = await hub.create_map()
    written: list[tuple[float, bytes]] = []

    async def write(data: bytes) -> None:
        written.append((trio.current_time(), data))

    async with hub.subscribe(entry) as sub, trio.open_nursery() as nursery:
        await nursery.start(hub.serve_heartbeats, 15)
        nursery.start_soon(lambda: pump(write, sub.receive, retry_ms=500))
        await trio.sleep(40)
        await hub.apply(
            entry.id, [parse_op(MARKER, Limits()), parse_op(MARKER, Limits())]
        )  # one batch: two events queued at once
        await trio.sleep(1)
        hub.close_all_subscribers()
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    beats = [t for t, data in written if data == b": hb\n\n"]
    assert len(beats) >= 2 and 0 < beats[0] <= 15, beats
    assert all(b - a == pytest.approx(15) for a, b in itertools.pairwise(beats)), "one per interval"
    rest = [data for _, data in written if data != b": hb\n\n"]
    assert [data.split(b"\n", 1)[0] for data in rest] == [b"id: 1", b"retry: 500"]
    assert b"id: 2" in rest[0], "both events in one write"


async def test_expected_version_conflict_carries_the_current_version() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    await add(hub, entry.id, 2)
    with pytest.raises(VersionConflict, match="version 2, not 1") as caught:
        await hub.apply(entry.id, [parse_op(MARKER, Limits())], expected_version=1)
    assert caught.value.current == 2
    await hub.apply(entry.id, [parse_op(MARKER, Limits())], expected_version=2)
    assert entry.state.version == 3


async def test_map_cap_refuses_new_maps_with_retry_after() -> None:
    hub = MapHub(max_maps=2)
    await hub.create_map()
    await hub.create_map()
    with pytest.raises(Unavailable, match="limit of 2 maps") as caught:
        await hub.create_map()
    assert caught.value.status == 503 and caught.value.retry_after == 60


async def test_resume_on_a_lagging_process_catches_up_instead_of_going_back() -> None:
    memory = SharedMemory()
    a, b = MapHub(store=memory.connect()), MapHub(store=memory.connect())
    entry_a = await a.create_map()
    entry_b = await b.get(entry_a.id)  # b holds the map at version 0
    await add(a, entry_a.id, 3)  # b has not heard of these yet
    async with b.subscribe(entry_b, last_event_id="3") as sub:
        assert sub.initial == [], "nothing missed, nothing re-sent"
    assert entry_b.state.version == 3


async def test_a_commit_whose_reply_was_lost_is_not_applied_twice() -> None:
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    memory.lose_replies(1)
    events = await hub.apply(entry.id, [parse_op(MARKER, Limits())])  # held as pending: the reply was lost
    assert events[0].version == 1 and hub.statistics().pending_writes == 1
    memory.come_back()  # the connection's breaker closes
    await hub.resync()
    assert hub.statistics().pending_writes == 0
    assert [v for v, _ in memory.maps[entry.id].log] == [1], "committed once"
    assert list(entry.state.features) == ["f1"] and entry.state.version == 1


async def test_viewers_are_spread_over_every_heartbeat_slot() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    async with contextlib.AsyncExitStack() as stack:
        subs = [await stack.enter_async_context(hub.subscribe(entry)) for _ in range(2 * HEARTBEAT_SLICES)]
        slots = [sub.slot for sub in subs]
        assert sorted(slots) == sorted(list(range(HEARTBEAT_SLICES)) * 2), "each slot twice"


async def test_the_first_snapshot_after_one_write_and_a_resume_from_version_0() -> None:
    hub = MapHub()
    entry = await hub.create_map()
    await add(hub, entry.id)
    async with hub.subscribe(entry) as first:  # no snapshot was made before this one
        assert first.initial[0].startswith(b"id: 1\nevent: snapshot\n")
    async with hub.subscribe(entry, last_event_id="0") as resumed:  # the log reaches back to 1
        assert [f.split(b"\n", 2)[:2] for f in resumed.initial] == [[b"id: 1", b"event: change"]]
