"""Replication recovery without Redis: hubs on one in-memory shared store (the same contract as
Redis, see tests/store/), with the store's faults on demand (one test, where only a real Redis
has the timing, runs on a redis-server). Each test names the recovery step it
drives (conflict, catch-up, recreate, reload, held writes, re-sync, a lost reply)."""

from __future__ import annotations

import itertools
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.lowlevel
from support import RedisServer, wait_until
from support.tcp_proxy import TcpProxy

from mapsrv.core import Limits
from mapsrv.core.history import Actor, Change, Record
from mapsrv.core.ids import map_ref
from mapsrv.core.parse import parse_op
from mapsrv.errors import Unavailable
from mapsrv.hub import MapEntry, MapHub, Subscription, Written
from mapsrv.hub.replica import MAX_COMMIT_ATTEMPTS, MAX_HELD_BATCHES, MAX_RESYNC_STEPS, RETRY_HELD_INTERVAL
from mapsrv.store import RemoteEvent, StoreUnavailable
from mapsrv.store.memory.shared import SharedMemory, SharedStore
from mapsrv.store.redis import RedisStore
from mapsrv.store.redis.feed import channel_of

_labels = itertools.count()


def marker(label: str | None = None) -> Any:
    label = label or f"m{next(_labels)}"
    return parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2], "label": label}, Limits())


def store_of(hub: MapHub) -> SharedStore:
    assert isinstance(hub.store, SharedStore)
    return hub.store


async def follow(nursery: trio.Nursery, hub: MapHub) -> None:
    """Run what mapsrv.server.serve runs for replication."""
    messages = await nursery.start(hub.store.serve)
    await nursery.start(hub.serve_replication, messages)


def frame_ids(sub: Subscription) -> list[bytes]:
    ids: list[bytes] = []
    while True:
        try:
            data = sub.receive.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            return ids
        ids.append(data.split(b"\n", 1)[0])


def labels(memory: SharedMemory, map_id: str) -> list[str]:
    return sorted(f.label or "" for f in memory.maps[map_id].state.features.values())


async def two_hubs(memory: SharedMemory) -> tuple[MapHub, MapHub, MapEntry, MapEntry]:
    a, b = MapHub(store=memory.connect()), MapHub(store=memory.connect())
    entry_a = await a.create_map()
    return a, b, entry_a, await b.get(entry_a.id)


async def test_a_conflict_catches_up_from_the_log_and_retries_on_top() -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)  # b does not follow the store's events
    async with b.subscribe(entry_b) as viewer:
        await a.apply(entry_a.id, [marker("from a")])
        events = await b.apply(entry_b.id, [marker("from b")])
        assert [e.version for e in events] == [2]
        assert frame_ids(viewer) == [b"id: 1", b"id: 2"], "the caught-up event, then its own"
    assert b.statistics().commit_conflicts == 1
    assert [v for v, _ in memory.maps[entry_a.id].log] == [1, 2]
    assert labels(memory, entry_a.id) == ["from a", "from b"]


async def test_a_map_the_store_lost_is_recreated_from_this_copy() -> None:
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("one"), marker("two")])
    memory.forget(entry.id)  # it expired in the store
    await hub.apply(entry.id, [marker("three")])
    assert memory.maps[entry.id].state.version == 3 == entry.state.version
    assert labels(memory, entry.id) == ["one", "three", "two"]


async def test_a_store_that_went_back_in_time_is_followed_and_viewers_restart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    for label in ("one", "two", "three"):
        await hub.apply(entry.id, [marker(label)])
    memory.rewind(entry.id, 1)  # restarted from an older copy: versions 2 and 3 are gone
    async with hub.subscribe(entry) as viewer:
        events = await hub.apply(entry.id, [marker("four")])
        assert [e.version for e in events] == [2]
        with pytest.raises(trio.EndOfChannel):  # its history was rewritten: it reconnects
            viewer.receive.receive_nowait()
    assert labels(memory, entry.id) == ["four", "one"] and entry.state == memory.maps[entry.id].state
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [f"map {map_ref(entry.id)}: the store is behind this process; reloading"]
    for seen in ("1", "3"):  # at or before the rewrite, or from the lost future: a snapshot
        async with hub.subscribe(entry, last_event_id=seen) as again:
            assert b"event: snapshot" in again.initial[0]


async def test_an_outage_holds_writes_then_the_reconnection_pushes_them(nursery: trio.Nursery) -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    await follow(nursery, a)
    await follow(nursery, b)
    async with a.subscribe(entry_a) as viewer:
        memory.go_down()
        for i in range(3):
            await a.apply(entry_a.id, [marker(f"held {i}")])
        assert a.statistics().pending_writes == 3 and not a.ready
        assert frame_ids(viewer) == [b"id: 1", b"id: 2", b"id: 3"], "viewers see held writes at once"
        memory.come_back()
        await wait_until(lambda: a.statistics().pending_writes == 0)
        assert frame_ids(viewer) == [], "nothing re-sent: the store took them as they were"
    assert [v for v, _ in memory.maps[entry_a.id].log] == [1, 2, 3]
    await wait_until(lambda: entry_b.state.version == 3)
    assert entry_b.state == entry_a.state


async def test_a_lost_reply_and_another_process_writing_meanwhile_apply_each_write_once(
    nursery: trio.Nursery,
) -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    store_of(a).heal = False
    await follow(nursery, a)
    await follow(nursery, b)
    memory.lose_replies(1)
    await a.apply(entry_a.id, [marker("a0")])  # landed, but a was told the store is away
    await a.apply(entry_a.id, [marker("a1")])  # held at once: the breaker is open
    await a.apply(entry_a.id, [marker("a2")])
    assert a.statistics().pending_writes == 3
    await wait_until(lambda: entry_b.state.version == 1)  # b heard a0
    await b.apply(entry_b.id, [marker("b0")])
    async with a.subscribe(entry_a) as viewer:
        store_of(a).reconnect()
        await wait_until(lambda: a.statistics().pending_writes == 0)
        with pytest.raises(trio.EndOfChannel):  # a1 and a2 moved on top of b0: a new history
            viewer.receive.receive_nowait()
    assert labels(memory, entry_a.id) == ["a0", "a1", "a2", "b0"], "each write exactly once"
    await wait_until(lambda: entry_b.state.version == 4)
    assert entry_a.state == entry_b.state == memory.maps[entry_a.id].state


async def test_a_held_write_that_no_longer_applies_is_dropped(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    await a.apply(entry_a.id, [marker("doomed")])
    await b.get(entry_b.id)
    await follow(nursery, b)
    store_of(a).disconnect()
    await a.apply(entry_a.id, [parse_op({"op": "update_feature", "id": "f1", "label": "renamed"}, Limits())])
    await a.apply(entry_a.id, [marker("after")])  # still applies: pushed after the dropped one
    await b.apply(entry_b.id, [marker("sync")])  # b is at version 1 by catching up on conflict
    await b.apply(entry_b.id, [parse_op({"op": "remove_features", "ids": ["f1"]}, Limits())])
    store_of(a).reconnect()
    await a.resync()
    assert a.statistics().pending_writes == 0
    assert entry_a.state == memory.maps[entry_a.id].state
    assert labels(memory, entry_a.id) == ["after", "sync"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [f"map {map_ref(entry_a.id)}: a write held during the outage no longer applies"]


async def test_a_write_while_writes_are_held_pushes_them_first_instead_of_failing() -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)  # neither follows: no re-sync runs by itself
    store_of(a).disconnect()
    await a.apply(entry_a.id, [marker("held")])
    await b.apply(entry_b.id, [marker("b")])
    store_of(a).reconnect()
    events = await a.apply(entry_a.id, [marker("after")])
    assert [e.version for e in events] == [3]
    assert labels(memory, entry_a.id) == ["after", "b", "held"]
    assert a.statistics().pending_writes == 0


async def test_a_reconnection_catches_up_on_events_the_feed_missed(nursery: trio.Nursery) -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    await follow(nursery, b)
    store_of(b).disconnect()  # b hears nothing now; its health check brings it back
    async with b.subscribe(entry_b) as viewer:
        await a.apply(entry_a.id, [marker("one")])
        await a.apply(entry_a.id, [marker("two")])
        await wait_until(lambda: entry_b.state.version == 2)
        assert frame_ids(viewer) == [b"id: 1", b"id: 2"]
    assert store_of(b).statistics().reconnections == 1


async def test_one_busy_map_does_not_hold_up_the_events_of_another(nursery: trio.Nursery) -> None:
    memory = SharedMemory()
    a, b = MapHub(store=memory.connect()), MapHub(store=memory.connect())
    busy_a, idle_a = await a.create_map(), await a.create_map()
    busy_b, idle_b = await b.get(busy_a.id), await b.get(idle_a.id)
    await follow(nursery, b)
    async with busy_b.lock:  # as a write waiting on a slow store round trip holds it
        await a.apply(busy_a.id, [marker()])
        await a.apply(idle_a.id, [marker()])
        await wait_until(lambda: idle_b.state.version == 1)
        assert busy_b.state.version == 0
    await wait_until(lambda: busy_b.state.version == 1)


async def test_concurrent_writers_through_faults_apply_each_acknowledged_write_once(
    nursery: trio.Nursery,
) -> None:
    """Faults paced by the writers' progress (never by time), so that each lands mid-stream."""
    memory = SharedMemory()
    a, b, entry_a, _ = await two_hubs(memory)
    await follow(nursery, a)
    await follow(nursery, b)
    acked: list[str] = []
    faults_at: list[int] = []

    async def writer(hub: MapHub, name: str) -> None:
        for i in range(40):
            label = f"{name}-{i}"
            while True:
                try:
                    await hub.apply(entry_a.id, [marker(label)])
                    break
                except Unavailable:  # "changing too fast; retry": six writers on one map, not written
                    await trio.lowlevel.checkpoint()
            acked.append(label)
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as writers:
        for k in range(3):
            writers.start_soon(writer, a, f"a{k}")
            writers.start_soon(writer, b, f"b{k}")

        async def after_writes(count: int) -> None:
            target = len(acked) + count
            with trio.fail_after(10):
                while len(acked) < target:
                    await trio.lowlevel.checkpoint()

        for _ in range(10):  # replies lost and outages, while everyone writes
            await after_writes(3)
            memory.lose_replies(2)
            await after_writes(3)
            memory.go_down()
            await after_writes(3)
            memory.come_back()
            faults_at.append(len(acked))
    await wait_until(lambda: a.statistics().pending_writes == b.statistics().pending_writes == 0)
    stored = [f.label for f in memory.maps[entry_a.id].state.features.values()]
    assert sorted(stored) == sorted(acked) and len(acked) == 240, "every acknowledged write, once"
    assert faults_at[-1] < 240, "the faults came while writes were still going on"


async def test_a_viewer_resuming_on_another_process_gets_what_it_missed_from_the_store_log() -> None:
    memory = SharedMemory(log_size=3)
    writer = MapHub(store=memory.connect())
    entry = await writer.create_map()
    for label in ("one", "two", "three", "four"):
        await writer.apply(entry.id, [marker(label)])
    written = dict(entry.frames.recent)
    fresh = MapHub(store=memory.connect())  # loads the map: no frames of its own yet
    copy = await fresh.get(entry.id)
    async with fresh.subscribe(copy, last_event_id="1") as viewer:
        assert viewer.initial == [written[2], written[3], written[4]], "the store's events, as framed"
    async with fresh.subscribe(copy, last_event_id="0") as viewer:  # the log keeps 2-4: not event 1
        assert viewer.initial == [copy.frames.snapshot_frame(copy.state)]
    memory.go_down()
    async with fresh.subscribe(copy, last_event_id="3") as viewer:  # no store to ask: a snapshot
        assert len(viewer.initial) == 1 and b"event: snapshot" in viewer.initial[0]


async def test_writes_held_while_the_store_lost_the_map_recreate_it_on_reconnection() -> None:
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("one")])
    store_of(hub).disconnect()
    await hub.apply(entry.id, [marker("two"), marker("three")])
    await hub.apply(entry.id, [parse_op({"op": "remove_features", "ids": ["f1"]}, Limits())])
    memory.forget(entry.id)  # it expired in the store while this process held writes
    async with hub.subscribe(entry) as viewer:
        store_of(hub).reconnect()
        await hub.resync()
        assert hub.statistics().pending_writes == 0
        with pytest.raises(trio.WouldBlock):  # still open: nothing it was shown was rewritten
            viewer.receive.receive_nowait()
    assert memory.maps[entry.id].state == entry.state and entry.state.version == 4
    assert labels(memory, entry.id) == ["three", "two"]


async def test_writes_are_held_up_to_the_cap_then_refused() -> None:
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    store_of(hub).disconnect()
    for _ in range(MAX_HELD_BATCHES):
        await hub.apply(entry.id, [parse_op({"op": "set_title", "title": "t"}, Limits())])
    with pytest.raises(StoreUnavailable):
        await hub.apply(entry.id, [marker()])
    assert hub.statistics().pending_writes == MAX_HELD_BATCHES and entry.state.version == MAX_HELD_BATCHES


async def test_a_map_rewritten_back_to_version_0_gets_a_fresh_snapshot_at_version_1() -> None:
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("lost")])
    await hub.apply(entry.id, [marker("lost too")])
    memory.rewind(entry.id, 0)
    await hub.apply(entry.id, [marker("kept")])  # reloaded at version 0, then written at 1
    async with hub.subscribe(entry) as viewer:
        (snapshot,) = viewer.initial
        assert snapshot.startswith(b"id: 1\nevent: snapshot\n") and b"kept" in snapshot


async def test_each_reconnection_pushes_the_writes_held_during_its_outage(nursery: trio.Nursery) -> None:
    """Only the re-sync runs (nobody writes after the outage): one per reconnection."""
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    await follow(nursery, hub)
    for outage in range(3):
        memory.go_down()
        await hub.apply(entry.id, [marker(f"held {outage}")])
        memory.come_back()
        await wait_until(lambda: hub.statistics().pending_writes == 0)
        assert memory.maps[entry.id].state == entry.state
    assert labels(memory, entry.id) == ["held 0", "held 1", "held 2"]


async def test_an_event_after_a_gap_makes_a_process_catch_up_from_the_log(nursery: trio.Nursery) -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    await a.apply(entry_a.id, [marker("missed")])  # b does not follow yet: it never hears version 1
    await follow(nursery, b)
    await a.apply(entry_a.id, [marker("heard")])
    await wait_until(lambda: entry_b.state.version == 2)
    assert entry_b.state == entry_a.state


async def test_an_unreadable_event_is_logged_and_the_map_still_followed(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    await follow(nursery, b)
    store_of(b).deliver(RemoteEvent(entry_a.id, "{not an event"))
    await a.apply(entry_a.id, [marker("next")])
    await wait_until(lambda: entry_b.state.version == 1)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [f"map {map_ref(entry_a.id)}: an event from the store could not be read"]


class Interleaved(SharedStore):
    """A connection to the shared store on which other processes act just before this one's
    calls, as they can on a busy store between two round trips: each action queued under a
    call's name in ``before`` (``after``) runs before (after) the next such call. It counts the
    calls it was asked to make."""

    def __init__(self, memory: SharedMemory) -> None:
        super().__init__(memory)
        memory.connections.append(self)
        self.before: dict[str, list[Callable[[], Awaitable[object]]]] = defaultdict(list)
        self.after: dict[str, list[Callable[[], Awaitable[object]]]] = defaultdict(list)
        self.calls = 0

    async def _first(self, name: str) -> None:
        self.calls += 1
        if self.before[name]:
            await self.before[name].pop(0)()

    async def commit(self, map_id: str, expected: int, events: Any, state: Any, **kw: Any) -> Any:
        await self._first("commit")
        return await super().commit(map_id, expected, events, state, **kw)

    async def load(self, map_id: str) -> Any:
        await self._first("load")
        loaded = await super().load(map_id)
        if self.after["load"]:
            await self.after["load"].pop(0)()
        return loaded

    async def create(self, meta: Any, state: Any) -> bool:
        await self._first("create")
        return await super().create(meta, state)

    async def events_after(self, map_id: str, version: int) -> Any:
        await self._first("events_after")
        return await super().events_after(map_id, version)


async def interleaved_hubs(
    memory: SharedMemory, **hub: Any
) -> tuple[MapHub, Interleaved, MapHub, MapEntry, MapEntry]:
    """``a`` on an ``Interleaved`` connection, ``b`` the other process; one map, on both."""
    store = Interleaved(memory)
    a, b = MapHub(store=store, **hub), MapHub(store=memory.connect())
    entry_a = await a.create_map()
    return a, store, b, entry_a, await b.get(entry_a.id)


def writes_by(hub: MapHub, entry: MapEntry, label: str) -> Callable[[], Awaitable[object]]:
    return lambda: hub.apply(entry.id, [marker(label)])


async def test_a_write_that_conflicts_every_time_gives_up_after_its_attempts_with_a_retry_hint() -> None:
    memory = SharedMemory()
    a, store, b, entry_a, entry_b = await interleaved_hubs(memory)
    store.before["commit"] = [writes_by(b, entry_b, f"b{i}") for i in range(MAX_COMMIT_ATTEMPTS)]
    with pytest.raises(Unavailable) as refused:
        await a.apply(entry_a.id, [marker("a")])
    assert refused.value.message == "this map is changing too fast to write to; retry"
    assert a.statistics().commit_conflicts == MAX_COMMIT_ATTEMPTS
    assert entry_a.state == memory.maps[entry_a.id].state, "caught up on each, written on none"
    assert "a" not in labels(memory, entry_a.id)


async def test_each_conflict_of_one_write_is_counted_and_the_write_lands_on_top() -> None:
    memory = SharedMemory()
    a, store, b, entry_a, entry_b = await interleaved_hubs(memory)
    store.before["commit"] = [writes_by(b, entry_b, "b0"), writes_by(b, entry_b, "b1")]
    events = await a.apply(entry_a.id, [marker("a")])
    assert [e.version for e in events] == [3] and a.statistics().commit_conflicts == 2
    assert labels(memory, entry_a.id) == ["a", "b0", "b1"] and entry_a.state == memory.maps[entry_a.id].state


async def test_a_store_lost_while_catching_up_after_a_conflict_holds_the_write_on_top(
    nursery: trio.Nursery,
) -> None:
    memory = SharedMemory()
    a, store, b, entry_a, entry_b = await interleaved_hubs(memory)
    store.heal = False
    await follow(nursery, a)
    store.before["commit"] = [writes_by(b, entry_b, "b")]

    async def store_goes_down() -> None:
        memory.go_down()

    store.before["events_after"] = [store_goes_down]
    async with a.subscribe(entry_a) as viewer:
        events = await a.apply(entry_a.id, [marker("a")])
        assert [e.version for e in events] == [1], "held on this copy (the catch-up never came)"
        assert entry_a.state.version == 1 and [f.label for f in entry_a.state.features.values()] == ["a"]
        assert a.statistics().pending_writes == 1 and labels(memory, entry_a.id) == ["b"]
        assert frame_ids(viewer) == [b"id: 1"], "its viewers see the held write at once"
        memory.come_back()
        await wait_until(lambda: a.statistics().pending_writes == 0)
    assert labels(memory, entry_a.id) == ["a", "b"] and entry_a.state == memory.maps[entry_a.id].state


async def test_a_batch_written_here_is_read_once_its_record_kept_by_the_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``record()`` reads a batch written here once, and the history keeps the ``Record`` made
    with it, whether the batch is committed or held (store down; held on top of held writes;
    store lost while catching up after a conflict): only events from elsewhere have theirs
    derived (``Record.of``) again."""
    derived: list[Actor] = []
    derive = Record.of.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Record], change: Change, events: Any) -> Record:
        derived.append(change.by)
        return derive(cls, change, events)  # type: ignore[no-any-return]

    monkeypatch.setattr(Record, "of", classmethod(counted))
    actor = Actor("agent:aaaaaaaa", "test")
    memory = SharedMemory()
    a, store, b, entry_a, entry_b = await interleaved_hubs(memory)
    await a.apply(entry_a.id, [marker("committed")], actor=actor)
    memory.go_down()
    await a.apply(entry_a.id, [marker("held")], actor=actor)
    assert derived == [] and a.statistics().pending_writes == 1
    memory.come_back()
    await a.resync()  # the push derives the records of the batches it moved on: not this test's
    await b.resync()  # b catches up on a's writes (derived there, rightly) before it writes
    derived.clear()
    store.before["commit"] = [writes_by(b, entry_b, "b")]

    async def store_goes_down() -> None:
        memory.go_down()

    store.before["events_after"] = [store_goes_down]
    await a.apply(entry_a.id, [marker("held after a conflict")], actor=actor)
    await a.apply(entry_a.id, [marker("held on top")], actor=actor)
    assert a.statistics().pending_writes == 2 and [r.change.by for r in entry_a.history.records()][-2:] == [
        actor,
        actor,
    ]
    assert derived == []


async def test_a_map_another_process_recreated_first_is_reloaded_from_the_store() -> None:
    memory = SharedMemory()
    a, store, b, entry_a, entry_b = await interleaved_hubs(memory)
    memory.forget(entry_a.id)  # expired in the store
    store.before["create"] = [writes_by(b, entry_b, "recreated by b")]  # b meets it first
    async with a.subscribe(entry_a) as viewer:
        events = await a.apply(entry_a.id, [marker("a")])
        with pytest.raises(trio.EndOfChannel):  # a took the store's copy: a new history
            viewer.receive.receive_nowait()
    assert [e.version for e in events] == [2]
    assert (
        labels(memory, entry_a.id) == ["a", "recreated by b"]
        and entry_a.state == memory.maps[entry_a.id].state
    )


async def test_a_map_recreated_from_this_copy_keeps_its_viewers() -> None:
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker("one")])
    memory.forget(entry.id)
    async with hub.subscribe(entry) as viewer:
        await hub.apply(entry.id, [marker("two")])
        assert frame_ids(viewer) == [b"id: 2"], "the same history, one event on"


async def test_a_map_followed_after_another_process_wrote_catches_up_on_that_write(
    nursery: trio.Nursery,
) -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    await a.apply(entry_a.id, [marker("first")])
    store = Interleaved(memory)  # a third process: it loads the map, b writes, then it follows
    third = MapHub(store=store)
    await follow(nursery, third)
    store.after["load"] = [writes_by(b, entry_b, "between load and follow")]
    copy = await third.get(entry_a.id)  # loaded before b's write: no event of it will come
    await wait_until(lambda: copy.state.version == 2)  # the catch-up on Followed
    assert copy.state == memory.maps[entry_a.id].state


def written_by_a_newer_process(memory: SharedMemory, map_id: str) -> None:
    """The store's last event of this map becomes one of a kind this mapsrv does not know, as a
    newer version's process writes during a rolling upgrade."""
    m = memory.maps[map_id]
    version, _ = m.log[-1]
    m.log[-1] = (version, json.dumps({"kind": "pin_moved", "version": version}))


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_a_catch_up_on_followed_that_finds_an_event_it_cannot_read_logs_it_by_the_maps_ref(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    memory = SharedMemory()
    _, b, entry_a, entry_b = await two_hubs(memory)
    store = Interleaved(memory)
    third = MapHub(store=store)
    await follow(nursery, third)

    async def nothing() -> None:
        pass

    async def a_newer_process_writes() -> None:
        await b.apply(entry_b.id, [marker("newer")])
        written_by_a_newer_process(memory, entry_a.id)

    store.before["events_after"] = [nothing, a_newer_process_writes]  # get's catch-up, then Followed's
    await third.get(entry_a.id)
    await wait_until(lambda: warnings(caplog))
    assert warnings(caplog) == [f"map {map_ref(entry_a.id)}: catch-up failed: unknown event kind 'pin_moved'"]


async def test_a_re_sync_that_finds_an_event_it_cannot_read_logs_it_and_goes_on_to_the_next_map(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory = SharedMemory()
    a, b = MapHub(store=memory.connect()), MapHub(store=memory.connect())
    first, second = await a.create_map(), await a.create_map()
    on_b = [await b.get(first.id), await b.get(second.id)]  # b does not follow: only its re-sync
    await a.apply(first.id, [marker("unreadable")])
    written_by_a_newer_process(memory, first.id)
    await a.apply(second.id, [marker("readable")])
    await b.resync()
    assert warnings(caplog) == [f"map {map_ref(first.id)}: re-sync failed: unknown event kind 'pin_moved'"]
    assert on_b[0].state.version == 0 and on_b[1].state == memory.maps[second.id].state


async def test_on_redis_a_write_between_the_subscribe_and_its_confirmation_is_caught_up_on_followed(
    nursery: trio.Nursery, tmp_path: Any
) -> None:
    """As above, on a real redis-server, where a SUBSCRIBE takes effect when Redis reads it: the
    reader's SUBSCRIBE is held in a proxy (``support.tcp_proxy``) while another process writes,
    so pub/sub never brings that event and the reader's own catch-up in ``get`` ran before it.
    Only the catch-up when Redis confirms the subscription (``Followed``) finds it."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        proxy = TcpProxy(server.port)
        await nursery.start(proxy.serve)
        writer = MapHub(store=RedisStore(server.url, ttl=600, log_size=64))
        reader = MapHub(store=RedisStore(proxy.url, ttl=600, log_size=64))
        for hub in (writer, reader):
            await follow(nursery, hub)
            await wait_until(lambda hub=hub: hub.store.available, timeout=10)
        entry = await writer.create_map()
        proxy.fault(channel_of(entry.id), reading=False)  # the reader's SUBSCRIBE waits in the proxy
        copy = await reader.get(entry.id)  # loaded and caught up: at version 0
        await wait_until(lambda: proxy.found)
        await writer.apply(entry.id, [marker("before the subscription")])
        assert copy.state.version == 0
        proxy.resume()
        await wait_until(lambda: copy.state.version == 1)
        assert copy.state == entry.state
        assert reader.store.statistics().breaker_trips == 0, "no reconnection (its re-sync) did it"
    finally:
        await server.stop()


async def test_a_conflict_when_the_log_no_longer_reaches_back_reloads_the_map() -> None:
    memory = SharedMemory(log_size=2)
    a, b, entry_a, entry_b = await two_hubs(memory)  # b does not follow
    for i in range(3):
        await a.apply(entry_a.id, [marker(f"a{i}")])
    async with b.subscribe(entry_b) as viewer:
        events = await b.apply(entry_b.id, [marker("b")])
        with pytest.raises(trio.EndOfChannel):  # reloaded from a snapshot: viewers start again
            viewer.receive.receive_nowait()
    assert [e.version for e in events] == [4] and entry_b.state == memory.maps[entry_a.id].state


async def test_a_write_whose_reply_was_lost_is_found_by_its_id_on_re_sync_without_a_conflict(
    nursery: trio.Nursery,
) -> None:
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    store_of(hub).heal = False
    await follow(nursery, hub)
    async with hub.subscribe(entry) as viewer:
        memory.lose_replies(1)
        await hub.apply(entry.id, [marker("landed")])  # in the store; the process was told it failed
        assert hub.statistics().pending_writes == 1
        store_of(hub).reconnect()
        await wait_until(lambda: hub.statistics().pending_writes == 0)
        assert frame_ids(viewer) == [b"id: 1"], "the same history: the viewer is not restarted"
    assert hub.statistics().commit_conflicts == 0 and labels(memory, entry.id) == ["landed"]


async def test_a_held_write_pushed_after_another_processs_takes_its_events_alone_not_the_whole_map() -> None:
    """The push's conflict is caught up with the store's newer events (one short round trip), so
    that after a failover every process's held writes drain fast."""
    memory = SharedMemory()
    a, store, b, entry_a, entry_b = await interleaved_hubs(memory)
    loads: list[str] = []

    async def note_load() -> None:
        loads.append("load")

    store.before["load"] = [note_load]
    store.disconnect()
    await a.apply(entry_a.id, [marker("held")])
    await b.apply(entry_b.id, [marker("b")])
    store.reconnect()
    await a.resync()
    assert entry_a.held is None and a.statistics().commit_conflicts == 1
    assert labels(memory, entry_a.id) == ["b", "held"] and entry_a.state == memory.maps[entry_a.id].state
    assert loads == [], "no load of the whole map"


async def test_a_held_write_landing_in_fewer_events_on_another_processs_leaves_the_stores_state() -> None:
    """The held marker made its layer here (two events); pushed on top of another process's
    write that made that layer (named otherwise), it is one event: the copy ends at the version
    it had, with the store's layer, not its own."""
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    store_of(a).disconnect()
    on_hotels = {"op": "add_feature", "type": "marker", "coords": [1, 2], "layer": "hotels", "label": "held"}
    await a.apply(entry_a.id, [parse_op(on_hotels, Limits())])  # versions 1, 2 here
    await b.apply(entry_b.id, [parse_op({"op": "add_layer", "id": "hotels", "name": "Hotels"}, Limits())])
    store_of(a).reconnect()
    await a.resync()
    assert entry_a.held is None and memory.maps[entry_a.id].state.version == entry_a.state.version == 2
    assert entry_a.state == memory.maps[entry_a.id].state and entry_a.state.layers["hotels"].name == "Hotels"


async def test_a_held_write_past_the_hubs_feature_limit_on_top_of_another_processs_is_dropped() -> None:
    memory = SharedMemory()
    a = MapHub(store=memory.connect(), limits=Limits(max_features=2))
    b = MapHub(store=memory.connect())
    entry_a = await a.create_map()
    entry_b = await b.get(entry_a.id)
    await a.apply(entry_a.id, [marker("first")])
    store_of(a).disconnect()
    await a.apply(entry_a.id, [marker("held")])  # 2 features here: within a's limit
    await b.apply(entry_b.id, [marker("b")])  # the store now has 2 too
    store_of(a).reconnect()
    await a.resync()
    assert labels(memory, entry_a.id) == ["b", "first"] and entry_a.state == memory.maps[entry_a.id].state


async def test_held_undos_and_redos_moved_on_top_of_another_processs_write_still_name_their_changes() -> None:
    """Each held change is pushed as made (its summary, what it undoes or redoes), with the
    versions it names moved along with the changes they name; undo goes on working after."""
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    actor = Actor("agent:aaaaaaaa", "test")
    await a.apply(entry_a.id, [marker("kept")], actor=actor)
    await a.apply(entry_a.id, [marker("undone")], actor=actor)
    store_of(a).disconnect()
    for step in (a.undo, a.redo, a.undo):  # held here at versions 3, 4, 5
        await step(entry_a.id, actor)
    await b.apply(entry_b.id, [parse_op({"op": "set_title", "title": "b"}, Limits())])  # at 3
    store_of(a).reconnect()
    await a.resync()
    fresh = MapHub(store=memory.connect())  # what the store kept
    changes = (await fresh.changes_since(entry_a.id, 2))["changes"]
    assert [(c["version"], c["summary"], c.get("undoes"), c.get("redoes")) for c in changes] == [
        (3, "set the title to 'b'", None, None),
        (4, "undid 'added 'undone''", 2, None),
        (5, "redid 'added 'undone''", None, 4),
        (6, "undid 'redid 'added 'undone'''", 5, None),
    ]
    await a.undo(entry_a.id, actor)  # the last change of a's not undone: "kept"
    assert labels(memory, entry_a.id) == []
    await a.redo(entry_a.id, actor)
    await a.redo(entry_a.id, actor)
    assert labels(memory, entry_a.id) == ["kept", "undone"]


async def test_a_push_that_keeps_conflicting_stays_held_until_the_retry_loop_pushes_it(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A re-sync absorbs MAX_RESYNC_STEPS + 1 conflicts on a map, then leaves it (its writes
    held, this copy as it was, the feed's events for it ignored, a resuming viewer given this
    copy's snapshot) and goes on with the next map; the retry loop pushes it later, and nothing
    runs after that. The versions are chosen so that each wrong step would show: b's events
    come at this copy's next version."""
    started = trio.current_time()
    memory = SharedMemory()
    a, store, b, busy_a, busy_b = await interleaved_hubs(memory, event_log_size=2)
    calm = await a.create_map()
    calm_b = await b.get(calm.id)
    store.heal = False
    await follow(nursery, a)
    store.disconnect()
    conflicts = MAX_RESYNC_STEPS + 1
    held = [f"held {i}" for i in range(conflicts + 1)]  # at 18 here; the store will be at 17
    for label in held:
        await a.apply(busy_a.id, [marker(label)])
    await a.apply(calm.id, [marker("calm")])
    store.before["commit"] = [writes_by(b, busy_b, f"b{i}") for i in range(conflicts)]
    heard = 0

    async def b_writes(label: str) -> None:  # and a has heard it once it hears b's next on calm
        nonlocal heard
        heard += 1
        await b.apply(busy_b.id, [marker(label)])
        await b.apply(calm_b.id, [marker(f"calm {heard}")])
        await wait_until(lambda: calm.state.version == 1 + heard)

    async with a.subscribe(busy_a) as viewer:
        store.reconnect()  # one re-sync: the busy map conflicts on each attempt, the calm one lands
        await wait_until(lambda: a.statistics().pending_writes == len(held))
        await wait_until(lambda: not busy_a.inbox and not busy_a.draining)
        assert a.statistics().commit_conflicts == conflicts and labels(memory, calm.id) == ["calm"]
        assert busy_a.state.version == len(held) and frame_ids(viewer) == [], "as it was"
        await b_writes("late")  # the store is at this copy's version now
        await wait_until(lambda: not busy_a.inbox and not busy_a.draining)
        async with a.subscribe(busy_a, last_event_id="0") as resumed:  # not b's events: its own
            assert resumed.initial == [busy_a.frames.snapshot_frame(busy_a.state)]
        await b_writes("later")  # at this copy's next version
        await wait_until(lambda: not busy_a.inbox and not busy_a.draining)
        async with busy_a.lock:  # a write of a's in flight: the next event waits in the inbox
            await b_writes("latest")
        await wait_until(lambda: not busy_a.inbox and not busy_a.draining)
        assert busy_a.state.version == len(held) and frame_ids(viewer) == [], "b's events ignored"
        assert trio.current_time() - started < RETRY_HELD_INTERVAL, "all before the retry loop ran"
        await wait_until(lambda: a.statistics().pending_writes == 0)
        assert trio.current_time() - started >= RETRY_HELD_INTERVAL, "pushed by the retry loop"
    b_labels = [f"b{i}" for i in range(conflicts)] + ["late", "later", "latest"]
    assert labels(memory, busy_a.id) == sorted(b_labels + held)
    assert busy_a.state == memory.maps[busy_a.id].state and a.statistics().commit_conflicts == conflicts + 1
    calls = store.calls
    await trio.sleep(3 * RETRY_HELD_INTERVAL)  # virtual time: three more turns of the retry loop
    assert store.calls == calls, "nothing held: no more re-syncs"


async def test_a_store_that_is_down_is_not_asked_again_by_the_retry_loop(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    memory = SharedMemory()
    hub = MapHub(store=memory.connect())
    entry = await hub.create_map()
    await follow(nursery, hub)
    memory.go_down()
    await hub.apply(entry.id, [marker("held")])
    assert store_of(hub).statistics().errors == 1
    await trio.sleep(3 * RETRY_HELD_INTERVAL)  # virtual time: three turns of the retry loop
    assert store_of(hub).statistics().errors == 1 and hub.statistics().pending_writes == 1
    memory.come_back()
    await wait_until(lambda: hub.statistics().pending_writes == 0)


async def test_events_queued_behind_a_busy_map_are_applied_each_time_it_was_busy(
    nursery: trio.Nursery,
) -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    await follow(nursery, b)
    for version in (1, 2):
        async with entry_b.lock:  # a write of b's in flight: the event waits in the map's inbox
            await a.apply(entry_a.id, [marker()])
            await wait_until(lambda: len(entry_b.inbox) == 1)
        await wait_until(lambda: entry_b.state.version == version)  # noqa: B023


async def test_an_event_that_cannot_be_caught_up_on_is_logged_and_the_map_still_followed(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    await a.apply(entry_a.id, [marker("missed")])  # before b follows: b must catch up on it
    readable = memory.maps[entry_a.id].log[0]
    memory.maps[entry_a.id].log[0] = (1, "{not an event")  # as a corrupt entry in Redis would read
    await follow(nursery, b)
    await a.apply(entry_a.id, [marker("heard")])  # version 2: b catches up from the log, and fails
    await wait_until(lambda: [r for r in caplog.records if r.levelno == logging.ERROR])
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.getMessage() == f"map {map_ref(entry_a.id)}: could not apply an event from the store"
    assert error.exc_info is not None and entry_b.state.version == 0
    memory.maps[entry_a.id].log[0] = readable
    await a.apply(entry_a.id, [marker("next")])
    await wait_until(lambda: entry_b.state.version == 3)
    assert entry_b.state == entry_a.state


async def test_the_commit_latency_observed_is_the_store_round_trip() -> None:
    hub = MapHub(store=SharedMemory().connect())
    seen: list[float] = []
    hub.observe_commit = seen.append
    entry = await hub.create_map()
    await hub.apply(entry.id, [marker()])
    assert len(seen) == 1 and 0 <= seen[0] < 5


async def test_a_map_lost_from_the_store_in_the_middle_of_a_re_sync_is_recreated_and_written_on() -> None:
    memory = SharedMemory()
    a, store, b, entry_a, entry_b = await interleaved_hubs(memory)
    store.disconnect()
    await a.apply(entry_a.id, [marker("held")])

    async def expires() -> None:
        memory.forget(entry_a.id)

    store.before["commit"] = [writes_by(b, entry_b, "b"), expires]  # a conflict, then it is gone
    store.reconnect()
    await a.resync()
    assert labels(memory, entry_a.id) == ["b", "held"] and entry_a.state == memory.maps[entry_a.id].state
    await a.apply(entry_a.id, [marker("after")])  # its history goes on from the recreated version
    assert labels(memory, entry_a.id) == ["after", "b", "held"] and entry_a.state.version == 3


async def test_a_re_sync_that_reloads_at_this_copys_own_version_still_takes_the_stores_state() -> None:
    """The store went back to version 1, and another process wrote a version 2 of its own
    before this one reloaded: the version numbers end where this copy's did, the content not."""
    memory = SharedMemory()
    a, store, b, entry_a, entry_b = await interleaved_hubs(memory)
    await a.apply(entry_a.id, [marker("one")])
    await a.apply(entry_a.id, [marker("two")])
    store.disconnect()
    await a.apply(entry_a.id, [marker("held")])  # version 3 here
    memory.rewind(entry_a.id, 1)
    store.before["load"] = [writes_by(b, entry_b, "b's two")]
    async with a.subscribe(entry_a) as viewer:
        store.reconnect()
        await a.resync()
        with pytest.raises(trio.EndOfChannel):  # what it was shown as version 2 is gone
            viewer.receive.receive_nowait()
    assert entry_a.state.version == 3 and entry_a.state == memory.maps[entry_a.id].state
    assert labels(memory, entry_a.id) == ["b's two", "held", "one"]


async def test_a_held_redo_of_an_undo_made_before_the_outage_names_that_undo() -> None:
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    actor = Actor("agent:aaaaaaaa", "test")
    await a.apply(entry_a.id, [marker("one")], actor=actor)
    await a.undo(entry_a.id, actor)  # version 2
    store_of(a).disconnect()
    await a.redo(entry_a.id, actor)  # held at 3
    await b.apply(entry_b.id, [parse_op({"op": "set_title", "title": "b"}, Limits())])  # at 3
    store_of(a).reconnect()
    await a.resync()
    fresh = MapHub(store=memory.connect())
    (redo,) = [c for c in (await fresh.changes_since(entry_a.id, 0))["changes"] if "redoes" in c]
    assert (redo["version"], redo["redoes"]) == (4, 2)


async def test_a_reconnection_during_a_re_sync_runs_another_one_after_it(nursery: trio.Nursery) -> None:
    """Events lost in an outage that came and went while a re-sync was running are caught up by
    a second re-sync, not left until the map's next event."""
    memory = SharedMemory()
    a, b = MapHub(store=memory.connect()), MapHub(store=memory.connect())
    first, second = await a.create_map(), await a.create_map()
    first_b = await b.get(first.id)
    store = store_of(a)
    store.heal = False
    await follow(nursery, a)
    async with second.lock:  # the first re-sync waits here, after it has done the first map
        store.disconnect()
        store.reconnect()
        await wait_until(lambda: second.lock.statistics().tasks_waiting == 1)
        store.disconnect()  # a second outage: a hears nothing of what b writes now
        await b.apply(first_b.id, [marker("missed")])
        store.reconnect()
    await wait_until(lambda: first.state.version == 1)
    assert first.state == memory.maps[first.id].state


def log_labels(memory: SharedMemory, map_id: str) -> dict[int, list[str]]:
    """The store's log: each version and the labels of the markers it added."""
    events = memory.events_after(map_id, 0) or []
    return {e.version: [f.label or "" for f in getattr(e, "features", ())] for e in events}


@pytest.mark.parametrize("lands", [True, False], ids=["commit landed, reply lost", "commit never left"])
async def test_a_write_whose_process_stalled_is_acknowledged_at_the_version_the_store_has_it(
    lands: bool,
) -> None:
    """Process A stops while its commit waits; B writes meanwhile; A's call times out but A's
    breaker stays closed (it was A that stopped, not the store). A asks again under the same
    batch id: the store has it already (landed) or A conflicts, catches up and lands on top.
    Either way the acknowledgement names the version where the write sits in the store's log,
    is not provisional, and A's viewer sees every id once, in order."""
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    acks: dict[str, Written] = {}

    async def b_writes() -> None:
        for label in ("b1", "b2", "b3"):
            acks[label] = await b.apply(entry_b.id, [marker(label)])

    store_of(a).stall(b_writes, lands=lands)
    async with a.subscribe(entry_a) as viewer:
        acks["a1"] = await a.apply(entry_a.id, [marker("a1")])
        acks["a2"] = await a.apply(entry_a.id, [marker("a2")])
        ids = frame_ids(viewer)
    log = log_labels(memory, entry_a.id)
    assert sorted(log) == [1, 2, 3, 4, 5]
    for label, written in acks.items():
        assert not written.provisional
        assert log[written.version] == [label], f"{label} acknowledged at v{written.version}: {log}"
    assert ids == [b"id: %d" % v for v in range(1, entry_a.state.version + 1)], ids
    assert store_of(a).statistics().breaker_trips == 0


async def test_a_write_held_during_an_outage_is_acknowledged_as_provisional(nursery: trio.Nursery) -> None:
    """Held while the store is down, a write is answered at this copy's version and says that it
    is provisional; once pushed on top of another process's writes, it sits at a later one."""
    memory = SharedMemory()
    a, b, entry_a, entry_b = await two_hubs(memory)
    store_of(a).disconnect()
    held = await a.apply(entry_a.id, [marker("held")])
    assert held.provisional and held.version == 1
    committed = await b.apply(entry_b.id, [marker("meanwhile")])
    assert not committed.provisional and committed.version == 1
    await follow(nursery, a)  # its health check reconnects, and the re-sync pushes the write
    await wait_until(lambda: not entry_a.held and entry_a.state.version == 2)
    assert log_labels(memory, entry_a.id) == {1: ["meanwhile"], 2: ["held"]}
