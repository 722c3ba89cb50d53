"""The in-memory shared store as a test double: its faults do what the replication tests rely on
(a rewind keeps what it says it keeps, a forgotten map is gone from every index, lost replies add
up), it remembers batch ids as Redis does, and it counts what a real connection counts."""

from __future__ import annotations

import inspect

import pytest
import trio

from mapsrv.core import Limits, MapState, apply_all
from mapsrv.core.parse import parse_op
from mapsrv.hub import MapHub
from mapsrv.store import (
    COMMITTED,
    AlreadyCommitted,
    Conflict,
    MapMeta,
    RemoteEvent,
    StoreStatistics,
    StoreUnavailable,
)
from mapsrv.store.memory.shared import SharedMemory, SharedStore
from mapsrv.store.redis import RedisStore

MARKER = parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2]}, Limits())
MAP_ID = "m" * 22
VIEW_KEY = "v" * 22


async def new_map(store: SharedStore) -> MapState:
    state = MapState(id=MAP_ID, title="t")
    assert await store.create(MapMeta(MAP_ID, VIEW_KEY, None, None), state)
    return state


async def write(store: SharedStore, state: MapState, batch_id: str = "") -> tuple[object, MapState]:
    new, events = apply_all(state, [MARKER])
    reply = await store.commit(MAP_ID, state.version, events, new, snapshot=False, batch_id=batch_id)
    return reply, new


async def test_a_rewind_keeps_the_version_it_goes_back_to_with_its_log_state_and_batch() -> None:
    memory = SharedMemory()
    store = memory.connect()
    states = [await new_map(store)]
    for n in range(3):
        reply, state = await write(store, states[-1], batch_id=f"batch {n + 1}")
        assert reply == COMMITTED
        states.append(state)
    memory.rewind(MAP_ID, 1)
    loaded = await store.load(MAP_ID)
    assert loaded is not None and loaded.state == states[1] and [e.version for e in loaded.log] == [1]
    assert [e.version for e in await store.events_after(MAP_ID, 0) or []] == [1]
    assert await write(store, states[0], batch_id="batch 1") == (AlreadyCommitted(1), states[1])
    reply, _ = await write(store, states[1], batch_id="batch 2")
    assert reply == COMMITTED, "a batch past the rewind is new again"
    memory.rewind(MAP_ID, 1)  # a rewind to the version it kept
    assert (await store.load(MAP_ID)).state == states[1]  # type: ignore[union-attr]


async def test_a_forgotten_map_is_gone_by_its_id_and_by_its_view_key() -> None:
    memory = SharedMemory()
    store = memory.connect()
    await new_map(store)
    assert await store.map_for_view_key(VIEW_KEY) == MAP_ID
    memory.forget(MAP_ID)
    assert await store.load(MAP_ID) is None and await store.map_for_view_key(VIEW_KEY) is None


async def test_lost_replies_add_up_and_each_loses_one_commit() -> None:
    memory = SharedMemory()
    store = memory.connect()
    state = await new_map(store)
    memory.lose_replies()
    memory.lose_replies()
    for version in (1, 2):  # applied, and the caller told the store was away
        store.reconnect()
        with pytest.raises(StoreUnavailable):
            await write(store, state)
        state = memory.maps[MAP_ID].state
        assert state.version == version
    store.reconnect()
    reply, state = await write(store, state)
    assert reply == COMMITTED and state.version == 3 and memory.maps[MAP_ID].state == state


async def test_batch_ids_are_remembered_up_to_the_batch_memory_oldest_forgotten_first() -> None:
    memory = SharedMemory(batch_memory=2)
    store = memory.connect()
    states = [await new_map(store)]
    for n in range(3):
        _, state = await write(store, states[-1], batch_id=f"batch {n + 1}")
        states.append(state)
    assert (await write(store, states[1], batch_id="batch 2"))[0] == AlreadyCommitted(2)
    assert (await write(store, states[2], batch_id="batch 3"))[0] == AlreadyCommitted(3)
    assert (await write(store, states[0], batch_id="batch 1"))[0] == Conflict(3), "forgotten"


def test_the_shared_stores_defaults_are_the_servers() -> None:
    shared = inspect.signature(SharedMemory).parameters
    assert shared["batch_memory"].default == inspect.signature(RedisStore).parameters["batch_memory"].default
    assert shared["log_size"].default == inspect.signature(MapHub).parameters["event_log_size"].default


async def test_a_connection_counts_each_trip_reconnection_and_remote_event(nursery: trio.Nursery) -> None:
    memory = SharedMemory()
    store, other = memory.connect(), memory.connect()
    store.heal = False
    messages = await nursery.start(store.serve)
    state = await new_map(store)
    store.follow(MAP_ID)
    for _ in range(2):  # two partitions, three failed calls in each
        store.disconnect()
        for _ in range(3):
            with pytest.raises(StoreUnavailable):
                await write(store, state)
        store.reconnect()
    for _ in range(2):
        assert (await write(other, state))[0] == COMMITTED
        state = memory.maps[MAP_ID].state
    assert store.statistics() == StoreStatistics(
        available=True, errors=6, remote_events=2, reconnections=2, breaker_trips=2, followed_maps=1
    )
    memory.go_down()
    for _ in range(3):
        with pytest.raises(StoreUnavailable):
            await write(store, state)
    assert store.statistics().breaker_trips == 3 and store.statistics().errors == 9
    heard = []
    while True:
        try:
            heard.append(messages.receive_nowait())
        except trio.WouldBlock:
            break
    assert [type(m) for m in heard if isinstance(m, RemoteEvent)] == [RemoteEvent, RemoteEvent]


async def test_a_connection_whose_serve_ended_hears_nothing_and_does_not_fail() -> None:
    memory = SharedMemory()
    store = memory.connect()
    async with trio.open_nursery() as nursery:
        await nursery.start(store.serve)
        nursery.cancel_scope.cancel()
    state = await new_map(store)
    store.follow(MAP_ID)  # a Followed with no one to hear it
    assert (await write(memory.connect(), state))[0] == COMMITTED  # a remote event likewise
    assert store.statistics().remote_events == 0
