"""What a Redis commit does, read back from a real redis-server with a plain client: what it
logs, publishes, snapshots and remembers; pipelined commits each answering their own caller;
commits that wait for replicas; and commits across a restart, a flushed script cache and a
demoted primary."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import trio
from support import RedisServer, open_primary_and_replica, open_redis_cluster, wait_until
from support.processes import free_port
from support.redis_server import slot_nodes

from mapsrv.core import Limits, MapState, apply_all
from mapsrv.core.codec import dumps, wire
from mapsrv.core.ids import map_ref
from mapsrv.core.parse import parse_op
from mapsrv.store import (
    COMMITTED,
    AlreadyCommitted,
    Conflict,
    Followed,
    MapMeta,
    Reconnected,
    RemoteEvent,
    StoreMessage,
    StoreUnavailable,
)
from mapsrv.store.redis import RedisStore
from mapsrv.store.redis.keys import batches_key, channel, log_key, map_key

TTL = 600.0
MARKER = parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2]}, Limits())


class Opened:
    def __init__(self, store: RedisStore, messages: trio.MemoryReceiveChannel[StoreMessage]) -> None:
        self.store = store
        self.messages = messages

    async def reconnected(self) -> None:
        with trio.fail_after(15):
            while not isinstance(await self.messages.receive(), Reconnected):
                pass


async def open_store(nursery: trio.Nursery, url: str, **options: Any) -> Opened:
    settings: dict[str, Any] = {"ttl": TTL, "log_size": 8, "snapshot_every": 4, "socket_timeout": 1.5}
    store = RedisStore(url, **{**settings, **options})
    messages = await nursery.start(store.serve)
    await wait_until(lambda: store.available, timeout=10)
    return Opened(store, messages)


@pytest.fixture
async def server(tmp_path: Any) -> AsyncIterator[RedisServer]:
    started = RedisServer(str(tmp_path), persist=True)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def new_map(store: RedisStore, map_id: str, meta: MapMeta | None = None) -> MapState:
    state = MapState(id=map_id, title="t")
    assert await store.create(meta or MapMeta(map_id, "v" + map_id[1:], None, None), state)
    return state


async def write(
    store: RedisStore, state: MapState, n: int = 1, *, batch_id: str = "", snapshot: bool = False
) -> tuple[Any, MapState, list[Any]]:
    new, events = apply_all(state, [MARKER] * n)
    reply = await store.commit(state.id, state.version, events, new, snapshot=snapshot, batch_id=batch_id)
    return reply, new, list(events)


def snapshot_of(plain: redis.Redis, map_id: str) -> tuple[int, int, Any]:
    fields: Any = plain.hgetall(map_key(map_id))
    return int(fields[b"version"]), int(fields[b"snap_version"]), json.loads(fields[b"state"])


async def test_a_new_map_is_created_with_every_field_and_expires_unless_drawn_on(
    server: RedisServer, nursery: trio.Nursery
) -> None:
    opened = await open_store(nursery, server.url)
    plain = redis.Redis(port=server.port)
    map_id = "m" * 22
    state = await new_map(opened.store, map_id, MapMeta(map_id, "v" * 22, "alice", "key"))
    stored = plain.hgetall(map_key(map_id))
    created = stored.pop(b"created")
    assert stored == {
        b"version": b"0",
        b"state": dumps(state.to_json()).encode(),
        b"snap_version": b"0",
        b"view_key": b"v" * 22,
        b"owner": b"alice",
        b"principal": b"key",
        b"title": state.title.encode(),
        b"features": b"0",
        b"updated": created,
        b"updated_by": b"",
        b"used": created,
    }
    for key in (map_key(map_id), "mapsrv:view:" + "v" * 22):
        assert (TTL - 60) * 1000 < plain.pttl(key) <= TTL * 1000, key
    loaded = await opened.store.load(map_id)
    assert loaded is not None and loaded.meta == MapMeta(map_id, "v" * 22, "alice", "key")
    plain.close()


async def test_a_commit_logs_publishes_snapshots_and_remembers_exactly_its_batch(
    server: RedisServer, nursery: trio.Nursery
) -> None:
    opened = await open_store(nursery, server.url, batch_memory=2)
    store = opened.store
    plain = redis.Redis(port=server.port)
    listener = plain.pubsub()
    map_id = "m" * 22
    listener.subscribe(channel(map_id))
    assert listener.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
    state = await new_map(store, map_id)

    sent: list[Any] = []
    reply, v3, events = await write(store, state, 3, batch_id="b1")  # 0 -> 3: no multiple of 4
    sent += events
    assert reply == COMMITTED
    assert snapshot_of(plain, map_id) == (3, 0, state.to_json()), "no snapshot in between"
    reply, v4, events = await write(store, v3, batch_id="b2")  # crosses 4: a snapshot
    sent += events
    assert reply == COMMITTED and snapshot_of(plain, map_id) == (4, 4, v4.to_json())
    reply, v5, events = await write(store, v4, batch_id="b3", snapshot=True)  # asked for one
    sent += events
    assert reply == COMMITTED and snapshot_of(plain, map_id) == (5, 5, v5.to_json())
    reply, v6, events = await write(store, v5)  # no batch id: nothing remembered
    sent += events
    assert reply == COMMITTED and snapshot_of(plain, map_id) == (6, 5, v5.to_json())

    logged: Any = plain.xrange(log_key(map_id))
    assert logged == [(f"{e.version}-0".encode(), {b"e": wire(e).encode()}) for e in sent]
    heard = []
    while len(heard) < len(sent):
        message = listener.get_message(timeout=5)
        assert message is not None, f"heard {len(heard)} of {len(sent)} events"
        heard.append(message["data"].decode())
    assert heard == [f"{store.link.tag} {wire(e)}" for e in sent], "one message per event, tagged"
    assert listener.get_message(timeout=0.2) is None
    assert plain.zrange(batches_key(map_id), 0, -1, withscores=True) == [(b"b2", 4.0), (b"b3", 5.0)]
    for key in (map_key(map_id), log_key(map_id), batches_key(map_id), "mapsrv:view:v" + map_id[1:]):
        assert plain.pttl(key) == -1, f"{key}: a map somebody drew on is kept, with no time to live"
    assert (await write(store, v6, batch_id="b2"))[0] == AlreadyCommitted(4)
    assert (await write(store, v6, batch_id="b1"))[0] == COMMITTED, "forgotten past batch_memory"
    loaded = await store.load(map_id)
    assert loaded is not None and loaded.state.version == 7 and len(loaded.state.features) == 7
    listener.close()
    plain.close()


async def test_pipelined_commits_each_answer_their_own_caller(
    server: RedisServer, nursery: trio.Nursery
) -> None:
    """Commits from many tasks at once share the writer's round trips; each caller gets the
    answer to its own commit: committed, a conflict at its map's version, found by its batch id,
    or its own error, whatever the others got."""
    store = (await open_store(nursery, server.url)).store
    plain = redis.Redis(port=server.port)
    maps: list[MapState] = []
    for i in range(1, 25):
        state = await new_map(store, f"{i:02d}" + "m" * 20)
        reply, state, _ = await write(store, state, i, batch_id=f"first-{i}")  # map i at version i
        assert reply == COMMITTED
        maps.append(state)
    broken = "b" * 22
    await new_map(store, broken)
    plain.delete(log_key(broken))
    plain.set(log_key(broken), "not a stream")  # its commit fails inside Redis

    answers: dict[int, Any] = {}

    async def commit(i: int, state: MapState) -> None:
        if i % 3 == 0:
            answers[i] = (await write(store, state, batch_id=f"second-{i}"))[0]
        elif i % 3 == 1:  # stale: claims to follow the version before
            stale = MapState(id=state.id, title="t", version=state.version - 1)
            answers[i] = (await write(store, stale, batch_id=f"stale-{i}"))[0]
        else:
            answers[i] = (await write(store, state, batch_id=f"first-{i}"))[0]

    async def doomed() -> None:
        try:
            await write(store, MapState(id=broken, title="t"))
        except redis.exceptions.ResponseError as exc:
            answers[0] = exc

    async with trio.open_nursery() as callers:
        for i, state in enumerate(maps, start=1):
            callers.start_soon(commit, i, state)
            if i == 12:
                callers.start_soon(doomed)
    for i in range(1, 25):
        expected = [COMMITTED, Conflict(i), AlreadyCommitted(i)][i % 3]
        assert answers[i] == expected, (i, answers[i])
    assert "WRONGTYPE" in str(answers[0]), "a script error is its caller's own, not an outage"
    assert store.available and store.statistics().errors == 0
    for i, state in enumerate(maps, start=1):
        events = await store.events_after(state.id, 0)
        assert events is not None and len(events) == i + (i % 3 == 0), i
    plain.close()


async def test_a_commit_after_redis_restarted_or_lost_its_scripts_goes_through_at_once(
    server: RedisServer, nursery: trio.Nursery
) -> None:
    """The writer's connection sat idle across a restart (its first write fails: sent again on a
    fresh one), and the restarted Redis has no scripts (NOSCRIPT: loaded, sent again)."""
    opened = await open_store(nursery, server.url)
    store = opened.store
    reply, state, _ = await write(store, await new_map(store, "m" * 22))
    assert reply == COMMITTED
    await server.stop()
    await server.start()
    await opened.reconnected()
    trips = store.statistics().breaker_trips
    reply, state, _ = await write(store, state, batch_id="after-restart")
    assert reply == COMMITTED, "no outage seen by the writer after Redis came back"
    redis.Redis(port=server.port).script_flush()
    reply, state, _ = await write(store, state, batch_id="after-flush")
    assert reply == COMMITTED
    assert store.available and store.statistics().breaker_trips == trips
    events = await store.events_after(state.id, 0)
    assert events is not None and [e.version for e in events] == [1, 2, 3]


async def test_a_demoted_primary_is_an_outage_until_it_is_primary_again(
    server: RedisServer, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    opened = await open_store(nursery, server.url)
    store = opened.store
    reply, state, _ = await write(store, await new_map(store, "m" * 22))
    assert reply == COMMITTED
    plain = redis.Redis(port=server.port)
    plain.replicaof("127.0.0.1", free_port())  # a primary nobody answers on: it keeps its data
    with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable):
        await write(store, state, batch_id="read-only")
    assert store.statistics().breaker_trips == 1
    warning = next(r.getMessage() for r in caplog.records if r.name == "mapsrv.redis")
    assert warning.startswith("redis unreachable: You can't write against a read only replica."), warning
    plain.replicaof("NO", "ONE")
    await opened.reconnected()
    reply, state, _ = await write(store, state, batch_id="read-only")
    assert reply == COMMITTED, "the refused commit wrote nothing"
    events = await store.events_after(state.id, 0)
    assert events is not None and [e.version for e in events] == [1, 2]
    plain.close()


async def test_a_commit_its_replica_did_not_confirm_is_held_then_found_by_its_id(
    tmp_path: Any, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """``wait_replicas=1``: a commit answers only once a replica has it. With the replica stopped,
    the commit lands on the primary but is reported unavailable (the hub holds it); once the
    replica is back, pushing it again by its id finds it, confirmed, and writes nothing twice."""
    async with open_primary_and_replica(str(tmp_path)) as (primary, replica):
        plain = redis.Redis(port=primary.port)
        opened = await open_store(nursery, primary.url + "?wait_replicas=1")
        store = opened.store
        copy = redis.Redis(port=replica.port)
        state = await new_map(store, "m" * 22)
        reply, state, _ = await write(store, state, 3, batch_id="b1")  # versions past 2 from here
        assert reply == COMMITTED
        assert copy.hget(map_key(state.id), "version") == b"3", "answered once the replica had it"

        os.kill(replica.process.pid, signal.SIGSTOP)
        try:
            started = trio.current_time()
            with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable):
                await write(store, state, batch_id="b2")
            waited = trio.current_time() - started
            assert not store.available and store.statistics().breaker_trips == 1
            assert plain.hget(map_key(state.id), "version") == b"4", "it landed on the primary"
            assert "redis unreachable: a commit reached 0 of 1 replicas in time; held" in [
                r.getMessage() for r in caplog.records
            ]
            await wait_until(lambda: store.available, timeout=10)  # ROLE still lists the replica
            with pytest.raises(StoreUnavailable):  # found by its id, but still not confirmed
                await write(store, state, batch_id="b2")
        finally:
            os.kill(replica.process.pid, signal.SIGCONT)
        assert 0.3 < waited < 0.75, f"WAIT gives up at half the hang time: {waited:.2f} s"
        await wait_until(lambda: store.available, timeout=10)
        assert (await write(store, state, batch_id="b2"))[0] == AlreadyCommitted(4)
        assert copy.hget(map_key(state.id), "version") == b"4"
        plain.close()
        copy.close()


async def test_a_log_that_does_not_reach_back_to_its_snapshot_loads_nothing_and_says_so(
    server: RedisServer, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    store = (await open_store(nursery, server.url)).store
    plain = redis.Redis(port=server.port)
    map_id = "m" * 22
    reply, v4, _ = await write(store, await new_map(store, map_id), 4)  # crosses 4: snapshot at 4
    assert reply == COMMITTED
    reply, v7, _ = await write(store, v4, 3)
    assert reply == COMMITTED and snapshot_of(plain, map_id)[:2] == (7, 4)
    loaded = await store.load(map_id)
    assert loaded is not None and loaded.state == v7, "the snapshot and the three events after it"
    assert [e.version for e in loaded.log] == list(range(1, 8))
    plain.xdel(log_key(map_id), "6-0")  # a hole after the snapshot
    with caplog.at_level("ERROR", logger="mapsrv.redis"):
        assert await store.load(map_id) is None
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "mapsrv.redis"] == [
        ("ERROR", f"map {map_ref(map_id)}: log does not reach back to its snapshot")
    ]
    plain.close()


async def test_on_a_cluster_commits_publish_to_the_maps_shard_and_touches_span_slots(
    nursery: trio.Nursery,
) -> None:
    """On a Cluster a map's channel is sharded (SPUBLISH, in the map's slot), commits go through
    the client (no writer: each slot has its node), and a touch renews keys in other slots."""
    async with open_redis_cluster() as nodes:
        url = "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in nodes)
        writer, watcher = await open_store(nursery, url), await open_store(nursery, url)
        assert writer.store.link.writer is None
        map_id = "m" * 22
        state = await new_map(writer.store, map_id)
        watcher.store.follow(map_id)
        with trio.fail_after(10):
            while not isinstance(message := await watcher.messages.receive(), Followed):
                pass
        assert message.map_id == map_id
        reply, v2, events = await write(writer.store, state, 2, batch_id="b1")
        assert reply == COMMITTED
        assert (await write(writer.store, state, batch_id="b1"))[0] == AlreadyCommitted(2)
        heard = []
        with trio.fail_after(10):
            while len(heard) < 2:
                message = await watcher.messages.receive()
                if isinstance(message, RemoteEvent):
                    heard.append(message.text)
        assert heard == [wire(e).encode() for e in events]
        await writer.store.touch([(map_id, "v" * 22, None), ("o" * 22, "w" * 22, "e" * 22)])
        loaded = await watcher.store.load(map_id)
        assert loaded is not None and loaded.state == v2


async def test_on_a_cluster_a_commit_waits_for_the_replica_of_its_maps_slot(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """A Cluster's commits go through the client, pipelined with ``WAIT``: answered once the
    slot's replica has the commit; unavailable (held) when that replica does not confirm, also
    when the batch is pushed again and found by its id while the replica is still away; found,
    and confirmed, once it is back. One map on each primary, so that the ``WAIT`` is seen to go
    where its commit went, whichever node the client's default is."""
    async with open_redis_cluster(replicas=1) as nodes:
        url = "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in nodes) + "?wait_replicas=1"
        store = (await open_store(nursery, url)).store
        placed: dict[int, tuple[str, int]] = {}  # primary port -> (map id, replica port)
        for letter in "abcdefghijklmnopqrstuvwxyz":
            primary_port, (replica_port,) = slot_nodes(nodes[0].port, map_key(letter * 22))
            placed.setdefault(primary_port, (letter * 22, replica_port))
        assert len(placed) == 3
        for primary_port, (map_id, replica_port) in placed.items():
            copy = redis.Redis(port=replica_port, single_connection_client=True)
            copy.execute_command("READONLY")  # read the replica's own copy, no redirection
            state = await new_map(store, map_id)
            reply, state, _ = await write(store, state, 3, batch_id="b1")  # versions past 2 from here
            assert reply == COMMITTED
            assert copy.hget(map_key(map_id), "version") == b"3", "answered once the replica had it"
            replica = next(n for n in nodes if n.port == replica_port)
            caplog.clear()
            os.kill(replica.process.pid, signal.SIGSTOP)
            try:
                with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable):
                    await write(store, state, batch_id="b2")
                primary = redis.Redis(port=primary_port)
                assert primary.hget(map_key(map_id), "version") == b"4", "it landed on the primary"
                primary.close()
                assert "redis unreachable: a commit reached 0 of 1 replicas in time; held" in [
                    r.getMessage() for r in caplog.records
                ]
                await wait_until(lambda: store.available, timeout=10)  # a Cluster's probe is a PING
                with pytest.raises(StoreUnavailable):  # found by its id, but still not confirmed
                    await write(store, state, batch_id="b2")
            finally:
                os.kill(replica.process.pid, signal.SIGCONT)
            await wait_until(lambda: store.available, timeout=10)
            assert (await write(store, state, batch_id="b2"))[0] == AlreadyCommitted(4)
            assert copy.hget(map_key(map_id), "version") == b"4"
            copy.close()
        assert store.statistics().breaker_trips == 6


async def test_a_commit_to_a_hung_redis_fails_within_its_deadline_and_lands_once(
    server: RedisServer, nursery: trio.Nursery
) -> None:
    """Stopped, Redis keeps the commit in its socket buffer: the caller is told "unavailable" when
    the writer's connection times out (the socket timeout, within the call's deadline), once, and
    the commit that lands later is found by its batch id."""
    opened = await open_store(nursery, server.url)
    store = opened.store
    state = await new_map(store, "m" * 22)
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        started = trio.current_time()
        with pytest.raises(StoreUnavailable):
            await write(store, state, batch_id="late")
        waited = trio.current_time() - started
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    assert 1.4 < waited < 2.1, waited
    assert store.statistics().breaker_trips == 1 and store.statistics().errors == 1
    await opened.reconnected()
    # whether the stopped commit landed before this one or not, the batch lands once
    assert (await write(store, state, batch_id="late"))[0] in (COMMITTED, AlreadyCommitted(1))
    assert (await write(store, state, batch_id="late"))[0] == AlreadyCommitted(1)
    events = await store.events_after(state.id, 0)
    assert events is not None and [e.version for e in events] == [1]
