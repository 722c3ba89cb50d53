"""The store contract, the same cases against the in-memory shared store and a real redis-server
(started here on a free port, stopped by its PID): versions, compare-and-set commits, batch ids,
the trimmed log, pub/sub to several connections, and what an outage looks like from the hub. The
cases of one process's store run against SQLite too (a file in the test's directory); pub/sub
and outages do not apply to it (one process owns its file)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio
from support import RedisServer, wait_until

from mapsrv.core import Limits, MapState, apply_all
from mapsrv.core.codec import wire
from mapsrv.core.layer_style import style_counts
from mapsrv.core.parse import parse_op
from mapsrv.store import (
    COMMITTED,
    MISSING,
    AlreadyCommitted,
    Conflict,
    Followed,
    MapMeta,
    Reconnected,
    RemoteEvent,
    Store,
    StoreMessage,
    StoreStatistics,
    StoreUnavailable,
)
from mapsrv.store.memory.shared import SharedMemory
from mapsrv.store.redis import RedisStore
from mapsrv.store.sqlite import SqliteStore


class Connection:
    def __init__(self, store: Store, messages: trio.MemoryReceiveChannel[StoreMessage]) -> None:
        self.store = store
        self.messages = messages

    async def next_message(self, kind: type[Any]) -> Any:
        """The next message of this kind (others, such as remote events, are skipped)."""
        with trio.fail_after(10):
            while True:
                message = await self.messages.receive()
                if isinstance(message, kind):
                    return message


class Backend:
    """One store "server" and ways to connect to it and to break it."""

    name: str
    nursery: trio.Nursery

    async def connect(self) -> Connection:
        store = self.new_store()
        messages = await self.nursery.start(store.serve)
        await wait_until(lambda: store.available, timeout=10)
        return Connection(store, messages)

    def new_store(self) -> Store:
        raise NotImplementedError

    async def go_down(self) -> None:
        raise NotImplementedError

    async def come_back(self) -> None:
        raise NotImplementedError

    async def lose_reply(self, call: Callable[[], Awaitable[Any]]) -> None:
        """Run ``call`` so that it takes effect but its caller gets StoreUnavailable."""
        raise NotImplementedError


class SharedBackend(Backend):
    name = "shared"

    def __init__(self, log_size: int) -> None:
        self.memory = SharedMemory(log_size=log_size)

    def new_store(self) -> Store:
        return self.memory.connect()

    async def go_down(self) -> None:
        self.memory.go_down()

    async def come_back(self) -> None:
        self.memory.come_back()

    async def lose_reply(self, call: Callable[[], Awaitable[Any]]) -> None:
        self.memory.lose_replies(1)
        with pytest.raises(StoreUnavailable):
            await call()


# A call in flight for half of this counts as hung. 0.5 s tripped the breaker on a loaded machine
# (two cores, other jobs, mutmut tracing every call); a lost reply costs this long to notice.
SOCKET_TIMEOUT = 1.5


class RedisBackend(Backend):
    name = "redis"

    def __init__(self, server: RedisServer, log_size: int) -> None:
        self.server = server
        self.log_size = log_size

    def new_store(self) -> Store:
        url = self.server.url
        return RedisStore(
            url, ttl=600, log_size=self.log_size, snapshot_every=2, socket_timeout=SOCKET_TIMEOUT
        )

    async def go_down(self) -> None:
        await self.server.stop()

    async def come_back(self) -> None:
        await self.server.start()

    async def lose_reply(self, call: Callable[[], Awaitable[Any]]) -> None:
        # Stopped, Redis keeps the request in its socket buffer: the call times out, and the
        # request lands once Redis runs again (as a hung host or a long fork looks).
        pid = self.server.process.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(StoreUnavailable):
                await call()
        finally:
            os.kill(pid, signal.SIGCONT)


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: str, log_size: int) -> None:
        self.url = f"sqlite://{path}/maps.db"
        self.log_size = log_size
        self.store: SqliteStore | None = None

    def new_store(self) -> Store:
        assert self.store is None, "one process owns a SQLite file: one connection"
        self.store = SqliteStore(self.url, log_size=self.log_size, snapshot_every=2)
        return self.store


LOG_SIZE = 8
ONE_PROCESS = pytest.mark.parametrize("backend", ["shared", "redis", "sqlite"], indirect=True)


@pytest.fixture(params=["shared", "redis"])
async def backend(request: Any, tmp_path: Any, nursery: trio.Nursery) -> AsyncIterator[Backend]:
    chosen: Backend
    if request.param == "shared":
        chosen = SharedBackend(LOG_SIZE)
    elif request.param == "sqlite":
        chosen = SqliteBackend(str(tmp_path), LOG_SIZE)
    else:
        server = RedisServer(str(tmp_path), persist=True)
        await server.start()
        chosen = RedisBackend(server, LOG_SIZE)
    chosen.nursery = nursery
    try:
        yield chosen
    finally:
        if isinstance(chosen, RedisBackend):
            await chosen.server.stop()


MARKER = parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2]}, Limits())


async def new_map(store: Store, map_id: str = "m" * 22) -> MapState:
    state = MapState(id=map_id, title="t")
    assert await store.create(MapMeta(map_id, "v" * 22, None, "key"), state)
    return state


async def write(store: Store, state: MapState, batch_id: str = "", n: int = 1) -> tuple[Any, MapState]:
    new, events = apply_all(state, [MARKER] * n)
    reply = await store.commit(state.id, state.version, events, new, snapshot=False, batch_id=batch_id)
    return reply, new


@ONE_PROCESS
async def test_maps_are_created_once_found_by_view_key_and_claimed_once(backend: Backend) -> None:
    store = (await backend.connect()).store
    state = await new_map(store)
    assert not await store.create(MapMeta(state.id, "w" * 22, None, None), state), "exists"
    loaded = await store.load(state.id)
    assert loaded is not None and loaded.state == state and loaded.meta.principal == "key"
    assert await store.map_for_view_key("v" * 22) == state.id
    assert await store.load("x" * 22) is None
    assert await store.claim(state.id, "alice") == "alice"
    assert await store.claim(state.id, "bob") == "alice", "the first claim wins"
    claimed = await store.load(state.id)
    assert claimed is not None and claimed.meta == MapMeta(state.id, "v" * 22, "alice", "key")
    assert await store.map_for_view_key("v" * 22) == state.id
    await store.remember_last_map("alice", state.id)
    assert await store.last_map_of("alice") == state.id


async def test_an_upload_slot_is_seen_by_every_process_and_taken_once(backend: Backend) -> None:
    """The upload links' table (issue 73): a slot put by one process is found by another, by its
    token and by its handle's key; of two processes swapping its state at once, one does; a
    swap from a state it is not in sets nothing; it goes after its time to live."""
    a, b = (await backend.connect()).store, (await backend.connect()).store
    assert a.uploads is not None and b.uploads is not None
    record = {"map_id": "m" * 22, "state": "open", "defaults": "{}", "answer": ""}
    await a.uploads.put_upload("t" * 32, record, "alice h1", ttl=60)
    assert await b.uploads.upload("t" * 32) == record
    assert await b.uploads.upload_token("alice h1") == "t" * 32
    assert await b.uploads.upload_token("bob h1") is None, "another caller's key names nothing"
    assert await b.uploads.upload("x" * 32) is None
    taken = [
        await a.uploads.swap_upload("t" * 32, "open", {"state": "receiving"}),
        await b.uploads.swap_upload("t" * 32, "open", {"state": "receiving"}),
    ]
    assert taken == [True, False], "one process takes the link"
    assert not await b.uploads.swap_upload("t" * 32, "open", {"answer": "x"})
    assert await b.uploads.swap_upload("t" * 32, "receiving", {"state": "done", "answer": '{"added": 3}'})
    assert await a.uploads.upload("t" * 32) == record | {"state": "done", "answer": '{"added": 3}'}
    assert not await a.uploads.swap_upload("y" * 32, "open", {"state": "receiving"}), "no such slot"
    await a.uploads.put_upload("s" * 32, record, "alice h2", ttl=0.2)

    async def gone() -> bool:
        return await b.uploads.upload("s" * 32) is None and await b.uploads.upload_token("alice h2") is None

    await wait_until(gone, timeout=10)


@ONE_PROCESS
async def test_commit_compares_versions_and_the_log_replays_them(backend: Backend) -> None:
    store = (await backend.connect()).store
    state = await new_map(store)
    reply, v1 = await write(store, state)
    assert reply == COMMITTED
    reply, _ = await write(store, state)
    assert reply == Conflict(1), "the map moved on: nothing written"
    reply, v3 = await write(store, v1, n=2)
    assert reply == COMMITTED and v3.version == 3
    events = await store.events_after(state.id, 0)
    assert events is not None and [e.version for e in events] == [1, 2, 3]
    assert [wire(e) for e in events[1:]] == [wire(e) for e in apply_all(v1, [MARKER] * 2)[1]]
    assert await store.events_after(state.id, 3) == []
    assert await store.events_after(state.id, 5) is None, "the store is behind this version"
    loaded = await store.load(state.id)
    assert loaded is not None and loaded.state.version == 3
    assert list(loaded.state.features) == ["f1", "f2", "f3"]
    assert [e.version for e in loaded.log] == [1, 2, 3], "the log it holds, for the map's history"
    reply, _ = await write(store, MapState(id="x" * 22))
    assert reply == MISSING
    assert await store.events_after("x" * 22, 0) is None


@ONE_PROCESS
async def test_a_stale_commit_is_refused_on_every_store(backend: Backend) -> None:
    """The version check on one connection (SQLite has one per file): a writer that missed
    version 1 gets a conflict carrying the current version, and nothing of its batch is kept."""
    store = (await backend.connect()).store
    state = await new_map(store)
    reply, v1 = await write(store, state)
    assert reply == COMMITTED
    ahead, events = apply_all(v1, [MARKER] * 3)  # versions 2-4, claimed to follow version 0
    assert await store.commit(state.id, 0, events, ahead, snapshot=True, batch_id="stale") == Conflict(1)
    logged = await store.events_after(state.id, 0)
    assert logged is not None and [e.version for e in logged] == [1]
    loaded = await store.load(state.id)
    assert loaded is not None and loaded.state == v1
    reply, _ = await write(store, v1, batch_id="stale")
    assert reply == COMMITTED, "the batch id of the refused commit was not kept either"


async def test_a_stale_commit_is_refused_and_changes_nothing(backend: Backend) -> None:
    """The version check itself: a writer that missed version 1 commits events numbered after
    it (which the log alone would accept) and gets a conflict; no event is logged, published or
    snapshotted."""
    writer, watcher = await backend.connect(), await backend.connect()
    state = await new_map(writer.store)
    watcher.store.follow(state.id)
    assert (await watcher.next_message(Followed)).map_id == state.id
    reply, v1 = await write(writer.store, state)
    assert reply == COMMITTED
    ahead, events = apply_all(v1, [MARKER] * 3)  # versions 2-4, claimed to follow version 0
    reply = await writer.store.commit(state.id, 0, events, ahead, snapshot=True, batch_id="stale")
    assert reply == Conflict(1)
    logged = await writer.store.events_after(state.id, 0)
    assert logged is not None and [e.version for e in logged] == [1]
    assert await writer.store.events_after(state.id, 1) == []
    loaded = await writer.store.load(state.id)
    assert loaded is not None and loaded.state == v1
    reply, _ = await write(writer.store, v1, batch_id="stale")
    assert reply == COMMITTED, "the batch id of the refused commit was not kept either"
    heard = [await watcher.next_message(RemoteEvent) for _ in range(2)]
    assert [json.loads(m.text)["version"] for m in heard] == [1, 2], "nothing published in between"


@ONE_PROCESS
async def test_a_batch_id_is_committed_once(backend: Backend) -> None:
    store = (await backend.connect()).store
    state = await new_map(store)
    reply, v1 = await write(store, state, batch_id="b1")
    assert reply == COMMITTED
    reply, _ = await write(store, state, batch_id="b1")
    assert reply == AlreadyCommitted(1)
    reply, _ = await write(store, v1, batch_id="b1")
    assert reply == AlreadyCommitted(1), "even at the right version: never twice"
    reply, _ = await write(store, v1, batch_id="b2")
    assert reply == COMMITTED
    events = await store.events_after(state.id, 0)
    assert events is not None and len(events) == 2


@ONE_PROCESS
async def test_the_log_is_trimmed_and_then_cannot_replay_from_the_start(backend: Backend) -> None:
    store = (await backend.connect()).store
    state = await new_map(store)
    for _ in range(300):  # Redis trims whole stream nodes (100 entries): write well past that
        reply, state = await write(store, state)
        assert reply == COMMITTED
    assert await store.events_after(state.id, 0) is None, "the log no longer reaches back"
    recent = await store.events_after(state.id, 295)
    assert recent is not None and [e.version for e in recent] == [296, 297, 298, 299, 300]
    loaded = await store.load(state.id)
    assert loaded is not None and loaded.state == state, "snapshot + log rebuild the map"


async def test_a_connection_hears_the_maps_it_follows_in_order_and_never_its_own_events(
    backend: Backend,
) -> None:
    a, b, c = await backend.connect(), await backend.connect(), await backend.connect()
    state = await new_map(a.store)
    other = await new_map(a.store, "o" * 22)
    for connection in (a, b):
        connection.store.follow(state.id)
        assert (await connection.next_message(Followed)).map_id == state.id
    c.store.follow(other.id)
    assert (await c.next_message(Followed)).map_id == other.id
    for _ in range(3):
        reply, state = await write(a.store, state)
        assert reply == COMMITTED
    heard = [await b.next_message(RemoteEvent) for _ in range(3)]
    assert [m.map_id for m in heard] == [state.id] * 3
    assert [json.loads(m.text)["version"] for m in heard] == [1, 2, 3]
    reply, _ = await write(b.store, other)  # c hears this one, and nothing of the first map
    assert reply == COMMITTED
    assert (await c.next_message(RemoteEvent)).map_id == other.id
    assert c.store.statistics().remote_events == 1
    assert a.store.statistics().remote_events == 0, "a writer never hears its own events back"
    assert b.store.statistics().followed_maps == 1


async def test_an_outage_fails_calls_then_reports_the_reconnection(backend: Backend) -> None:
    connection = await backend.connect()
    store = connection.store
    state = await new_map(store)
    await backend.go_down()
    with pytest.raises(StoreUnavailable):
        await write(store, state)
    assert not store.available
    with pytest.raises(StoreUnavailable):  # the breaker: no waiting for a timeout
        await store.load(state.id)
    errors = store.statistics().errors
    assert errors >= 1 and not store.statistics().available
    await backend.come_back()
    await connection.next_message(Reconnected)
    assert store.available and store.statistics().reconnections >= 1
    reply, _ = await write(store, state)
    assert reply == COMMITTED


async def test_a_commit_whose_reply_was_lost_is_recognised_by_its_batch_id(backend: Backend) -> None:
    connection = await backend.connect()
    store = connection.store
    reply, state = await write(store, await new_map(store))  # Redis has the script cached now
    assert reply == COMMITTED
    new, events = apply_all(state, [MARKER])

    async def commit() -> Any:
        return await store.commit(state.id, 1, events, new, snapshot=False, batch_id="lost")

    await backend.lose_reply(commit)
    assert not store.available, "a failed call opens the breaker"
    await connection.next_message(Reconnected)

    async def landed() -> bool:
        return await store.events_after(state.id, 1) != []

    await wait_until(landed, timeout=10)
    assert await commit() == AlreadyCommitted(2), "the re-sync of a lost reply writes nothing"
    logged = await store.events_after(state.id, 0)
    assert logged is not None and [e.version for e in logged] == [1, 2]


async def test_the_shared_store_counts_each_failed_call_and_each_outage_once(nursery: trio.Nursery) -> None:
    memory = SharedMemory(log_size=LOG_SIZE)
    store = memory.connect()
    messages = await nursery.start(store.serve)
    state = await new_map(store)
    memory.go_down()
    for _ in range(2):
        with pytest.raises(StoreUnavailable):
            await write(store, state)
    store.disconnect()  # already broken: not a second trip
    assert store.statistics() == StoreStatistics(
        available=False, errors=2, remote_events=0, reconnections=0, breaker_trips=1
    )
    memory.come_back()
    with trio.fail_after(10):
        assert isinstance(await messages.receive(), Reconnected)
    reply, _ = await write(store, state)
    assert reply == COMMITTED
    assert store.statistics() == StoreStatistics(
        available=True, errors=2, remote_events=0, reconnections=1, breaker_trips=1
    ), "counted once each, and its own event is not heard back"


@ONE_PROCESS
async def test_a_styled_layer_survives_the_snapshot_and_the_log(backend: Backend) -> None:
    """A layer's style by value is part of the map: kept in the snapshot (written with the
    style's event) and in the log; a feature drawn after it is still classified by its breaks."""
    store = (await backend.connect()).store
    state = await new_map(store)
    points = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [i, i]},
            "properties": {"pop": i * 10},
        }
        for i in range(6)
    ]
    geojson = {"type": "FeatureCollection", "features": points}
    ops = [
        parse_op({"op": "import_geojson", "layer": "c", "geojson": geojson}, Limits()),
        parse_op({"op": "set_layer_style", "layer": "c", "style": {"by": "pop", "classes": 3}}, Limits()),
    ]
    styled, events = apply_all(state, ops)
    assert await store.commit(state.id, 0, events, styled, snapshot=True, batch_id="s") == COMMITTED
    late = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [9, 9]},
        "properties": {"pop": 99},
    }
    more_geojson = {"type": "FeatureCollection", "features": [late]}
    after, more = apply_all(
        styled, [parse_op({"op": "import_geojson", "layer": "c", "geojson": more_geojson}, Limits())]
    )
    assert (
        await store.commit(state.id, styled.version, more, after, snapshot=False, batch_id="t") == COMMITTED
    )
    loaded = await store.load(state.id)
    assert loaded is not None and loaded.state == after
    style = loaded.state.layers["c"].style
    assert style is not None and style["kind"] == "graduated"
    assert style["breaks"] == pytest.approx([0, 50 / 3, 100 / 3, 50]) and len(style["colors"]) == 3
    assert (
        style_counts(style, [f for f in loaded.state.features.values() if f.layer == "c"])["classes"][2][
            "count"
        ]
        == 3
    )
    logged = await store.events_after(state.id, 0)
    assert logged is not None and [wire(e) for e in logged] == [wire(e) for e in [*events, *more]]


RICH = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": 17,
            "title": "a foreign member",
            "geometry": {"type": "Point", "coordinates": [6.63, 46.52]},
            "properties": {
                "tags": {"wiki": "Q807", "deep": [[1, None], {"x": True}]},
                "list": [1, "a", None],
            },
        },
        {
            "type": "Feature",
            "id": "s 2",
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
            "properties": {"times": ["08:00", "08:01"], "empty": {}},
        },
    ],
}


@ONE_PROCESS
async def test_nested_values_file_ids_and_foreign_members_survive_the_snapshot_and_the_log(
    backend: Backend,
) -> None:
    """What a GeoJSON brought beyond flat properties is part of the map: the same after a
    snapshot, after replaying the log, and in the events' text."""
    store = (await backend.connect()).store
    state = await new_map(store)
    op = parse_op({"op": "import_geojson", "geojson": RICH}, Limits())
    first, events = apply_all(state, [op])
    assert await store.commit(state.id, 0, events, first, snapshot=True, batch_id="a") == COMMITTED
    after, more = apply_all(first, [op])
    assert await store.commit(state.id, 1, more, after, snapshot=False, batch_id="b") == COMMITTED
    loaded = await store.load(state.id)
    assert loaded is not None and loaded.state == after
    point = next(f for f in loaded.state.features.values() if f.type == "marker")
    line = next(f for f in loaded.state.features.values() if f.type == "polyline")
    assert dict(point.properties) == RICH["features"][0]["properties"]  # type: ignore[index]
    assert dict(point.members) == {"id": 17, "title": "a foreign member"}
    assert dict(line.properties) == {"times": ("08:00", "08:01"), "empty": {}}, "per point: a tuple"
    assert dict(line.members) == {"id": "s 2"}
    logged = await store.events_after(state.id, 0)
    assert logged is not None and [wire(e) for e in logged] == [wire(e) for e in [*events, *more]]
