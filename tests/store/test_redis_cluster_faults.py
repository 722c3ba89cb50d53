"""A Redis Cluster under faults, read back from its nodes with plain clients: a failover that
demotes the primary of a map's slot between commits, a script error, a password on every node,
a primary that hangs until its replica replaces it (and the same hang under Sentinel), every
node down, and one primary down with no replica (a range of slots no node serves)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
import redis
import trio
from support import open_redis_cluster, open_redis_sentinel, redis_cli, wait_until
from support.processes import free_port
from support.redis_server import RedisServer, slot_nodes

from mapsrv.core import Limits, MapState, apply_all
from mapsrv.core.parse import parse_op
from mapsrv.store import COMMITTED, AlreadyCommitted, MapMeta, StoreUnavailable
from mapsrv.store.redis import RedisStore
from mapsrv.store.redis.keys import log_key, map_key

MAP_ID = "m" * 22
MARKER = parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2]}, Limits())


def cluster_url(nodes: list[RedisServer], userinfo: str = "", query: str = "") -> str:
    return f"redis+cluster://{userinfo}" + ",".join(f"127.0.0.1:{n.port}" for n in nodes) + query


async def open_store(nursery: trio.Nursery, url: str, **options: Any) -> RedisStore:
    settings: dict[str, Any] = {"ttl": 600.0, "log_size": 8, "snapshot_every": 4, "socket_timeout": 1.5}
    store = RedisStore(url, **{**settings, **options})
    await nursery.start(store.serve)
    await wait_until(lambda: store.available, timeout=10)
    return store


async def new_map(store: RedisStore) -> MapState:
    state = MapState(id=MAP_ID, title="t")
    assert await store.create(MapMeta(MAP_ID, "v" * 22, None, None), state)
    return state


async def write(store: RedisStore, state: MapState, batch_id: str) -> tuple[Any, MapState]:
    new, events = apply_all(state, [MARKER])
    reply = await store.commit(state.id, state.version, events, new, snapshot=False, batch_id=batch_id)
    return reply, new


def committing(store: RedisStore, state: MapState, batch_id: str) -> Callable[[], Any]:
    """A condition for ``wait_until``: this batch committed (or found committed) at last."""

    async def committed() -> bool:
        try:
            reply, _ = await write(store, state, batch_id)
        except StoreUnavailable:
            return False
        assert reply in (COMMITTED, AlreadyCommitted(state.version + 1)), reply
        return True

    return committed


async def cluster_state(nodes: list[RedisServer], state: str) -> None:
    """Wait until every one of ``nodes`` says ``cluster_state:<state>``."""

    async def reached() -> bool:
        infos = [await redis_cli(n.port, "CLUSTER", "INFO") for n in nodes]
        return all(f"cluster_state:{state}" in info for info in infos)

    await wait_until(reached, timeout=20)


def role(port: int) -> Any:
    plain = redis.Redis(port=port)
    try:
        return plain.execute_command("ROLE")
    finally:
        plain.close()


def logged_versions(port: int, *, cluster_replica: bool = False) -> list[bytes]:
    plain = redis.Redis(port=port, single_connection_client=True)
    try:
        if cluster_replica:
            plain.execute_command("READONLY")  # a Cluster replica answers reads with MOVED otherwise
        entries: Any = plain.xrange(log_key(MAP_ID))
        return [entry_id for entry_id, _ in entries]
    finally:
        plain.close()


async def test_a_commit_across_a_cluster_failover_is_held_then_found_once_on_the_new_primary(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """After ``CLUSTER FAILOVER`` the store still takes the old primary for the map's slot: its
    commit is redirected (MOVED) to the new primary and lands there, but the ``WAIT`` that goes
    with it reaches the old one, now a replica, and is refused ("WAIT cannot be used with replica
    instances"). Nothing confirmed it: the commit is held (unavailable, never the refusal itself),
    the breaker's warning says why, and pushed again by its id it is found on the new primary,
    confirmed by its replica, written once."""
    async with open_redis_cluster(replicas=1) as nodes:
        store = await open_store(nursery, cluster_url(nodes, query="?wait_replicas=1"))
        old, (new,) = slot_nodes(nodes[0].port, map_key(MAP_ID))
        reply, state = await write(store, await new_map(store), "b1")
        assert reply == COMMITTED

        await redis_cli(new, "CLUSTER", "FAILOVER")
        await wait_until(lambda: role(old)[0] == b"slave" and len(role(new)[2]) == 1, timeout=20)
        with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable):
            await write(store, state, "b2")
        warnings = [r.getMessage() for r in caplog.records if r.name == "mapsrv.redis"]
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith("redis unreachable: WAIT cannot be used with replica instances.")
        assert store.statistics().breaker_trips == 1
        assert logged_versions(new) == [b"1-0", b"2-0"], "redirected to the new primary"

        await wait_until(lambda: store.available, timeout=10)
        reply, after = await write(store, state, "b2")
        assert reply == AlreadyCommitted(2), "found by its id, not applied twice"
        assert (await write(store, after, "b3"))[0] == COMMITTED
        assert logged_versions(new) == [b"1-0", b"2-0", b"3-0"]
        assert store.statistics().breaker_trips == 1


async def test_a_script_error_in_a_cluster_commit_is_its_callers_own_not_an_outage(
    nursery: trio.Nursery,
) -> None:
    """A commit that fails inside Redis for a reason other than a demoted primary (here its log
    is not a stream) raises that error to its caller; the store stays available."""
    async with open_redis_cluster() as nodes:
        store = await open_store(nursery, cluster_url(nodes, query="?wait_replicas=1"))
        state = await new_map(store)
        primary, _ = slot_nodes(nodes[0].port, map_key(MAP_ID))
        plain = redis.Redis(port=primary)
        plain.delete(log_key(MAP_ID))
        plain.set(log_key(MAP_ID), "not a stream")
        plain.close()
        with pytest.raises(redis.exceptions.ResponseError) as raised:
            await write(store, state, "b1")
        assert not isinstance(raised.value, redis.exceptions.ReadOnlyError)
        assert "WRONGTYPE" in str(raised.value)
        assert store.available and store.statistics().breaker_trips == 0


async def test_a_cluster_with_a_password_takes_maps_and_commits(nursery: trio.Nursery) -> None:
    async with open_redis_cluster(password="s3cret") as nodes:
        store = await open_store(nursery, cluster_url(nodes[:2], userinfo=":s3cret@"))
        reply, state = await write(store, await new_map(store), "b1")
        assert reply == COMMITTED
        assert (await write(store, state, "b1"))[0] == AlreadyCommitted(1)
        loaded = await store.load(MAP_ID)
        assert loaded is not None and loaded.state == state


async def test_a_hung_cluster_primary_is_unavailable_until_its_promoted_replica_takes_the_commit(
    nursery: trio.Nursery,
) -> None:
    """A stopped primary (SIGSTOP) answers nothing: a call to its slot fails (unavailable) rather
    than hang, on the store's socket timeout, which also makes the client ask the Cluster for the
    slot's node again; so once the Cluster has promoted the replica, the commit goes there while
    the old primary is still stopped."""
    async with open_redis_cluster(replicas=1) as nodes:
        store = await open_store(nursery, cluster_url(nodes), socket_timeout=0.5)
        reply, state = await write(store, await new_map(store), "b1")
        assert reply == COMMITTED
        old, (new,) = slot_nodes(nodes[0].port, map_key(MAP_ID))
        hung = next(n for n in nodes if n.port == old)
        # replication is asynchronous: the map must be on the replica before its primary stops
        await wait_until(lambda: logged_versions(new, cluster_replica=True) == [b"1-0"], timeout=10)
        os.kill(hung.process.pid, signal.SIGSTOP)
        try:
            with trio.fail_after(5), pytest.raises(StoreUnavailable):
                await write(store, state, "b2")
            await wait_until(lambda: role(new)[0] == b"master", timeout=20)
            await wait_until(committing(store, state, "b2"), timeout=20)
            assert logged_versions(new) == [b"1-0", b"2-0"]
        finally:
            os.kill(hung.process.pid, signal.SIGCONT)


async def test_a_hung_sentinel_primary_is_unavailable_until_the_promoted_replica_takes_the_commit(
    nursery: trio.Nursery,
) -> None:
    """The same under Sentinel: the commit to the stopped primary fails (unavailable) on the
    writer's own socket timeout, which names the primary and drops that connection; once the
    Sentinels have promoted a replica, the writer's next connection asks them and the commit
    lands on the new primary."""
    async with open_redis_sentinel() as setup:
        store = await open_store(nursery, setup.url, socket_timeout=0.5)
        reply, state = await write(store, await new_map(store), "b1")
        assert reply == COMMITTED
        # replication is asynchronous: the map must be on every replica before the primary stops
        await wait_until(lambda: all(logged_versions(r.port) == [b"1-0"] for r in setup.replicas), timeout=10)
        os.kill(setup.primary.process.pid, signal.SIGSTOP)
        try:
            with trio.fail_after(5), pytest.raises(StoreUnavailable) as raised:
                await write(store, state, "b2")
            # its own socket timeout, not the link's last resort (socket timeout + 0.5 s)
            reason = str(raised.value.__cause__)
            assert reason == f"Timeout reading from 127.0.0.1:{setup.primary.port}", reason

            async def promoted() -> bool:
                return await setup.primary_port() != setup.primary.port

            await wait_until(promoted, timeout=20)
            await wait_until(committing(store, state, "b2"), timeout=20)
            assert logged_versions(await setup.primary_port()) == [b"1-0", b"2-0"]
        finally:
            os.kill(setup.primary.process.pid, signal.SIGCONT)


async def test_a_cluster_with_every_node_down_is_an_outage_until_it_is_back(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """With no node answering, redis-py cannot rebuild its slot map and says so with an error of
    its own (not a connection error): still an outage, commits held and the health check going
    on, until the Cluster is back (here restarted empty, as it keeps no data)."""
    async with open_redis_cluster() as nodes:
        store = await open_store(nursery, cluster_url(nodes))
        state = await new_map(store)
        for node in nodes:
            await node.stop()
        with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable):
            await write(store, state, "b1")
        assert store.statistics().breaker_trips == 1
        warnings = [r.getMessage() for r in caplog.records if r.name == "mapsrv.redis"]
        assert warnings[0].startswith("redis unreachable: Redis Cluster cannot be connected"), warnings
        await wait_until(lambda: store.statistics().errors >= 3, timeout=10)  # probes failing
        assert not store.available
        for node in nodes:
            await node.start()
        await cluster_state(nodes, "ok")
        await wait_until(lambda: store.available, timeout=20)
        assert (await write(store, await new_map(store), "b1"))[0] == COMMITTED


async def test_a_store_started_before_any_cluster_node_answers_starts_unavailable(
    nursery: trio.Nursery,
) -> None:
    url = f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    store = RedisStore(url, ttl=600.0, log_size=8)
    await nursery.start(store.serve)
    assert not store.available
    await wait_until(lambda: store.statistics().errors >= 3, timeout=10)  # its probes go on
    with pytest.raises(StoreUnavailable):
        await store.load(MAP_ID)


async def test_a_cluster_that_lost_a_slot_range_stays_unavailable_until_every_slot_is_served(
    nursery: trio.Nursery,
) -> None:
    """A primary with no replica stops: the other nodes still answer PING, but refuse every
    command (CLUSTERDOWN) until it is back, the map's own node too. The store stays unavailable,
    its breaker open once: the PING probe fails as well, since after CLUSTERDOWN redis-py
    rebuilds its slot map first, and a slot map with a range no node serves is refused."""
    async with open_redis_cluster() as nodes:
        store = await open_store(nursery, cluster_url(nodes))
        state = await new_map(store)
        holder, _ = slot_nodes(nodes[0].port, map_key(MAP_ID))
        lost = next(n for n in nodes if n.port != holder)  # the map's own node stays up
        live = [n for n in nodes if n is not lost]
        await lost.stop()
        await cluster_state(live, "fail")
        with pytest.raises(StoreUnavailable):
            await write(store, state, "b1")
        errors = store.statistics().errors
        await wait_until(lambda: store.statistics().errors >= errors + 3, timeout=15)  # probes fail
        assert not store.available and store.statistics().breaker_trips == 1
        await lost.start()
        await cluster_state(nodes, "ok")
        await wait_until(lambda: store.available, timeout=20)
        assert (await write(store, state, "b1"))[0] == COMMITTED
