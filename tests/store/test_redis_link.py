"""The Redis connection's breaker against a real redis-server that hangs (SIGSTOP): noticed before
the socket timeout, later calls fail at once, and the way back is reported. What its health check
asks (a PING, or ROLE when commits wait for replicas), a store that is not serving, and what its
statistics count."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest
import redis
import trio
from support import (
    RedisServer,
    open_primary_and_replica,
    open_redis_sentinel,
    redis_cli,
    replicas_online,
    wait_until,
)
from test_redis_commits import new_map, open_store, write

from mapsrv.core import MapState
from mapsrv.store import (
    COMMITTED,
    AlreadyCommitted,
    Followed,
    MapMeta,
    Reconnected,
    RemoteEvent,
    StoreUnavailable,
)
from mapsrv.store.redis import RedisStore
from mapsrv.store.redis.feed import Resubscribed
from mapsrv.store.redis.keys import map_key


async def test_a_hung_redis_is_noticed_before_the_timeout_and_later_calls_fail_at_once(
    tmp_path: object, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        store = RedisStore(server.url, ttl=60, log_size=8, socket_timeout=2.0)  # hang_after: 1 s
        messages = await nursery.start(store.serve)
        await store.create(MapMeta("m" * 22, "v" * 22, None, None), MapState(id="m" * 22))
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            hung_at = trio.current_time()
            async with trio.open_nursery() as waiting:

                async def stuck() -> None:
                    with pytest.raises(StoreUnavailable):  # after the 2 s socket timeout
                        await store.load("m" * 22)

                waiting.start_soon(stuck)
                await wait_until(lambda: not store.available, timeout=1.8)
                noticed = trio.current_time() - hung_at
                asked = trio.current_time()
                with pytest.raises(StoreUnavailable):
                    await store.load("m" * 22)
                assert trio.current_time() - asked < 0.2, "no waiting behind the hung call"
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert 0.9 < noticed < 1.8
        assert store.statistics().breaker_trips == 1
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        # the socket timeout, not tried again on another connection until the deadline
        assert warnings[0] == f"redis unreachable: Timeout reading from 127.0.0.1:{server.port}", warnings
        with trio.fail_after(10):
            while not isinstance(await messages.receive(), Reconnected):
                pass
        assert store.available and (await store.load("m" * 22)) is not None
    finally:
        await server.stop()


async def test_a_call_whose_asyncio_task_loses_its_cancellation_still_ends(
    tmp_path: object, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """On Python 3.11 ``asyncio.wait_for`` (redis-py connects and sends with it) can swallow a
    cancellation. A Trio caller that is cancelled stops waiting at once anyway, and a call that
    outlives its deadline (socket timeout + 0.5 s) fails and opens the breaker, until a ping gets
    through again."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        store = RedisStore(server.url, ttl=60, log_size=8, socket_timeout=0.5)
        messages = await nursery.start(store.serve)
        swallowed = 0

        async def stubborn(client: object) -> None:
            """Loses the first cancellation, as that race does; takes the next (the loop's own
            when it closes)."""
            nonlocal swallowed
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                swallowed += 1
            await asyncio.sleep(30)

        started = trio.current_time()
        with trio.move_on_after(0.2):
            await store.link.run(stubborn)
        assert trio.current_time() - started < 0.5, "the cancelled caller stopped waiting"
        await wait_until(lambda: swallowed == 1)

        started = trio.current_time()
        with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable):
            await store.link.run(stubborn)
        assert 0.9 < trio.current_time() - started < 1.5, "ended at its deadline: 0.5 + 0.5 s"
        assert [r.getMessage() for r in caplog.records if r.name == "mapsrv.redis"] == [
            "redis unreachable: no reply from redis within 1.0 s"
        ], "the breaker says why"
        assert store.statistics().breaker_trips == 1 and not store.available
        with trio.fail_after(10):
            while not isinstance(await messages.receive(), Reconnected):
                pass
        assert store.available and await store.map_for_view_key("nothing") is None
    finally:
        await server.stop()


async def test_a_commit_while_redis_hangs_is_refused_at_once_and_never_sent(
    tmp_path: object, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """Once a call has waited past ``hang_after``, a commit fails before it reaches the writer:
    no cause (nothing failed on the way), and it never lands."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        store = RedisStore(server.url, ttl=60, log_size=8, socket_timeout=2.0)  # hang_after: 1 s
        messages = await nursery.start(store.serve)
        await wait_until(lambda: store.available, timeout=10)
        hung, refused = [await new_map(store, name * 22) for name in "hr"]
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            async with trio.open_nursery() as waiting:

                async def stuck() -> None:
                    with pytest.raises(StoreUnavailable):
                        await write(store, hung, batch_id="hung")

                waiting.start_soon(stuck)
                await wait_until(lambda: not store.available, timeout=1.8)
                with pytest.raises(StoreUnavailable) as raised:
                    await write(store, refused, batch_id="refused")
                assert raised.value.__cause__ is None, repr(raised.value.__cause__)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        with caplog.at_level("INFO", logger="mapsrv.redis"), trio.fail_after(10):
            while not isinstance(await messages.receive(), Reconnected):
                pass
        assert "redis is back" in [r.getMessage() for r in caplog.records]
        assert store.available and store.statistics().available is True
        assert await store.events_after(refused.id, 0) == [], "never sent"
    finally:
        await server.stop()


async def test_statistics_count_remote_events_echoes_and_feed_hand_overs(
    tmp_path: object, nursery: trio.Nursery
) -> None:
    """Two processes follow one map; one commits twice. Its own events come back on its feed and
    are dropped unread (echoes); the other gets them as remote events."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        writer, reader = (RedisStore(server.url, ttl=60, log_size=8) for _ in range(2))
        state = MapState(id="m" * 22)
        feeds = []
        for store in (writer, reader):
            messages = await nursery.start(store.serve)
            await wait_until(lambda store=store: store.available, timeout=10)
            if store is writer:
                assert await writer.create(MapMeta(state.id, "v" * 22, None, None), state)
            store.follow(state.id)
            with trio.fail_after(10):
                while not isinstance(await messages.receive(), Followed):
                    pass
            feeds.append(messages)
        for batch_id in ("one", "two"):
            _, state, _ = await write(writer, state, batch_id=batch_id)
            with trio.fail_after(5):
                heard = await feeds[1].receive()
            assert isinstance(heard, RemoteEvent) and heard.map_id == state.id
        await wait_until(lambda: writer.statistics().echoes_skipped == 2)
        for store, remote in ((writer, 0), (reader, 2)):
            stats = store.statistics()
            assert stats.available is True and stats.followed_maps == 1
            assert stats.remote_events == remote and stats.feed_batches >= 1 + remote
        assert reader.statistics().echoes_skipped == 0
    finally:
        await server.stop()


async def test_reconnections_count_every_way_back_that_was_reported(
    tmp_path: object, nursery: trio.Nursery
) -> None:
    """Redis restarted twice: each way back (the health check's, the feed's new subscriptions) is
    reported as ``Reconnected`` once and counted once."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        store = RedisStore(server.url, ttl=60, log_size=8)
        messages = await nursery.start(store.serve)
        await wait_until(lambda: store.available, timeout=10)
        reported = 0

        def counted(at_least: int) -> bool:
            nonlocal reported
            while True:
                try:
                    reported += isinstance(messages.receive_nowait(), Reconnected)
                except trio.WouldBlock:
                    return reported >= at_least and store.statistics().reconnections == reported

        for restart in (1, 2):
            await server.stop()
            await server.start()
            await wait_until(lambda restart=restart: counted(restart), timeout=10)
    finally:
        await server.stop()


async def test_under_sentinel_the_urls_passwords_reach_the_servers_and_the_sentinels(
    nursery: trio.Nursery,
) -> None:
    """The primary and its replicas require one password (the URL's), the Sentinels another
    (``sentinel_password``): the store finds the primary through the Sentinels and commits."""
    async with open_redis_sentinel() as setup:
        for replica in setup.replicas:
            await redis_cli(replica.port, "CONFIG", "SET", "masterauth", "data-secret")
        for node in (setup.primary, *setup.replicas):
            await redis_cli(node.port, "CONFIG", "SET", "requirepass", "data-secret")
        for sentinel in setup.sentinels:
            await redis_cli(sentinel.port, "SENTINEL", "SET", "mapsrv", "auth-pass", "data-secret")
            await redis_cli(sentinel.port, "SENTINEL", "CONFIG", "SET", "sentinel-pass", "sentinel-secret")
        for sentinel in setup.sentinels:
            await redis_cli(sentinel.port, "ACL", "SETUSER", "default", "on", ">sentinel-secret")
        assert (await redis_cli(setup.sentinels[0].port, "PING")).startswith("NOAUTH")
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in setup.sentinels)
        store = RedisStore(
            f"redis+sentinel://:data-secret@{hosts}/mapsrv/0?sentinel_password=sentinel-secret",
            ttl=60,
            log_size=8,
        )
        await nursery.start(store.serve)
        await wait_until(lambda: store.available, timeout=10)
        reply, _, _ = await write(store, await new_map(store, "m" * 22))
        assert reply == COMMITTED


async def test_a_store_started_while_redis_is_down_is_unavailable_until_redis_answers(
    tmp_path: object, nursery: trio.Nursery
) -> None:
    """The breaker starts open: not ready, and no trip counted, until the first ping answers."""
    server = RedisServer(str(tmp_path))  # its port chosen, nothing listening yet
    try:
        store = RedisStore(server.url, ttl=60, log_size=8)
        messages = await nursery.start(store.serve)
        stats = store.statistics()
        assert not store.available and stats.available is False
        assert stats.breaker_trips == 0, "closed until the first ping: nothing tripped it"
        await server.start()
        with trio.fail_after(10):
            while not isinstance(await messages.receive(), Reconnected):
                pass
        assert store.available and store.statistics().reconnections == 1
    finally:
        await server.stop()


async def test_a_store_that_is_not_serving_refuses_every_call_as_unavailable(
    tmp_path: object, nursery: trio.Nursery
) -> None:
    """Before ``serve`` has started, and after it has ended, there is no connection: loads, creates
    and commits are refused as unavailable (never an error of the missing client), and the store
    does not say it is available."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        store = RedisStore(server.url, ttl=60, log_size=8)
        state = MapState(id="m" * 22, title="t")

        async def refused() -> None:
            assert not store.available and store.statistics().available is False
            with pytest.raises(StoreUnavailable):
                await store.load(state.id)
            with pytest.raises(StoreUnavailable):
                await store.create(MapMeta(state.id, "v" * 22, None, None), state)
            with pytest.raises(StoreUnavailable):
                await write(store, state, batch_id="b1")

        with trio.fail_after(20):
            await refused()
            async with trio.open_nursery() as serving:
                await serving.start(store.serve)
                await wait_until(lambda: store.available, timeout=10)
                assert (await write(store, await new_map(store, state.id), batch_id="b1"))[0] == COMMITTED
                serving.cancel_scope.cancel()
            await refused()
    finally:
        await server.stop()


async def test_feed_batches_count_each_hand_over_from_the_first_subscriptions_on(
    tmp_path: object, nursery: trio.Nursery
) -> None:
    """Nothing is handed over while the feed has no connection (Redis down at the start); then one
    batch once its first connection is subscribed (``Resubscribed``, with nothing followed yet),
    one when a map's subscription is confirmed, one when another process's event arrives."""
    server = RedisServer(str(tmp_path))  # its port chosen, nothing listening yet
    try:
        reader = RedisStore(server.url, ttl=60, log_size=8)
        messages = await nursery.start(reader.serve)
        assert reader.statistics().feed_batches == 0
        await server.start()
        await wait_until(lambda: reader.statistics().feed_batches >= 1, timeout=10)
        writer = (await open_store(nursery, server.url)).store
        state = await new_map(writer, "m" * 22)
        reader.follow(state.id)
        with trio.fail_after(10):
            while not isinstance(await messages.receive(), Followed):
                pass
        await write(writer, state, batch_id="b1")
        with trio.fail_after(10):
            while not isinstance(await messages.receive(), RemoteEvent):
                pass
        stats = reader.statistics()
        assert (stats.feed_batches, stats.remote_events, stats.followed_maps) == (3, 1, 1)
    finally:
        await server.stop()


async def test_with_wait_replicas_the_breaker_stays_open_until_a_replica_is_back(
    tmp_path: Any, nursery: trio.Nursery
) -> None:
    """One server and ``wait_replicas=1``: the health check asks ``ROLE`` (a PING would answer with
    no replica there to confirm commits). The replica stopped, a commit trips the breaker, and it
    stays open, every check failing (each counted as an error), until the replica is back."""
    async with open_primary_and_replica(str(tmp_path)) as (primary, replica):
        opened = await open_store(nursery, primary.url + "?wait_replicas=1")
        store = opened.store
        state = await new_map(store, "m" * 22)
        await replica.stop()
        await wait_until(lambda: replicas_online(primary.port) == 0, timeout=10)
        with pytest.raises(StoreUnavailable):
            await write(store, state, batch_id="b1")
        tripped = store.statistics().errors
        await wait_until(lambda: store.statistics().errors >= tripped + 2, timeout=10)
        assert not store.available and store.statistics().breaker_trips == 1
        await replica.start()
        await opened.reconnected()
        assert (await write(store, state, batch_id="b1"))[0] == AlreadyCommitted(1)


async def test_a_single_redis_made_a_replica_by_hand_serves_loads_and_refuses_commits(
    tmp_path: Any, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """No Sentinel, no ``wait_replicas``: the health check is a PING, which a replica answers. An
    operator switches the server over to be a replica of another one (``REPLICAOF``): loads go
    on, and each commit is refused as unavailable (read-only), which opens the breaker until the
    next check; after ``REPLICAOF NO ONE`` commits go through again."""
    os.mkdir(first_dir := os.path.join(str(tmp_path), "first"))
    os.mkdir(second_dir := os.path.join(str(tmp_path), "second"))
    first = RedisServer(first_dir)
    await first.start()
    second = RedisServer(second_dir, args=["--replicaof", "127.0.0.1", str(first.port)])
    await second.start()
    plain, copy = redis.Redis(port=first.port), redis.Redis(port=second.port)
    try:
        opened = await open_store(nursery, first.url)
        store = opened.store
        reply, state, _ = await write(store, await new_map(store, "m" * 22), batch_id="b1")
        assert reply == COMMITTED
        await wait_until(lambda: copy.hget(map_key(state.id), "version") == b"1", timeout=10)
        await redis_cli(second.port, "REPLICAOF", "NO", "ONE")
        await redis_cli(first.port, "REPLICAOF", "127.0.0.1", second.port)
        await wait_until(lambda: plain.info("replication")["master_link_status"] == "up", timeout=10)
        for attempt in range(2):
            await wait_until(lambda: store.available, timeout=10)
            loaded = await store.load(state.id)
            assert loaded is not None and loaded.state == state, attempt
            with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable):
                await write(store, state, batch_id="b2")
        warnings = [r.getMessage() for r in caplog.records if r.name == "mapsrv.redis"]
        assert warnings[0].startswith("redis unreachable: You can't write against a read only replica.")
        await redis_cli(first.port, "REPLICAOF", "NO", "ONE")
        await wait_until(lambda: store.available, timeout=10)
        reply, state, _ = await write(store, state, batch_id="b2")
        assert reply == COMMITTED, "the refused commits wrote nothing"
    finally:
        plain.close()
        copy.close()
        await second.stop()
        await first.stop()


async def test_a_trip_while_healthy_is_checked_at_once_not_at_the_next_five_second_round(
    tmp_path: object, nursery: trio.Nursery
) -> None:
    """The health check asks every 5 s while Redis is healthy; a trip (here a reply that says the
    server cannot take writes, as ``fail`` reports it) wakes it, so that the store is back within
    a few of its 0.25 s rounds rather than after whatever was left of the 5 s."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        store, messages = (opened := await open_store(nursery, server.url)).store, opened.messages
        await wait_until(lambda: store.statistics().feed_batches > 0, timeout=10)
        # (the feed's first subscriptions are in: they would report a way back of their own)
        store.link.fail(redis.exceptions.ReadOnlyError("demoted by hand"))  # just after a round
        assert not store.available
        with trio.fail_after(2.5):  # the next round of the healthy check: 5 s after serve started
            assert isinstance(await messages.receive(), Reconnected)
        assert store.available
        assert (store.statistics().breaker_trips, store.statistics().reconnections) == (1, 1)
    finally:
        await server.stop()


async def test_a_refusal_the_health_check_cannot_see_is_retried_less_and_less_often(
    tmp_path: object, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """A full Redis (``maxmemory`` with ``noeviction``) refuses every commit but answers PING, so
    each refusal opens the breaker and the next check closes it. Each time it opens again soon
    after closing, the check waits twice as long (up to 5 s): the hub's re-sync and its held
    writes' retries then come ever less often, not four times a second."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        store, messages = (opened := await open_store(nursery, server.url)).store, opened.messages
        state = await new_map(store, "m" * 22)
        await redis_cli(server.port, "CONFIG", "SET", "maxmemory-policy", "noeviction")
        await redis_cli(server.port, "CONFIG", "SET", "maxmemory", "1")  # below what it holds: full
        waits = []
        for _ in range(6):
            with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable):
                await write(store, state, batch_id="b1")  # as the hub does after each way back
            waits.append(store.link.check_every)
            with trio.fail_after(10):
                assert isinstance(await messages.receive(), Reconnected)
        assert waits == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0]
        assert store.statistics().breaker_trips == 6
        warning = next(r.getMessage() for r in caplog.records if r.name == "mapsrv.redis")
        assert warning.startswith("redis unreachable: command not allowed when used memory > 'maxmemory'")
        await redis_cli(server.port, "CONFIG", "SET", "maxmemory", "0")
        reply, _, _ = await write(store, state, batch_id="b1")
        assert reply == COMMITTED
    finally:
        await server.stop()


def client_count(port: int, kind: str = "normal") -> int:
    """Connections of ``kind`` the server has, not counting the one that asks."""
    plain = redis.Redis(port=port, single_connection_client=True)
    try:
        listed: Any = plain.client_list(_type=kind)
        return len(listed) - (kind == "normal")
    finally:
        plain.close()


async def test_with_wait_replicas_the_health_check_notices_and_names_what_is_wrong_before_any_write(
    tmp_path: Any, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """With ``wait_replicas`` the check every 5 s asks ``ROLE``: a replica gone, or the server made
    a replica itself, makes the store unavailable without a write having to fail first, and the
    breaker's warning says which."""
    async with open_primary_and_replica(str(tmp_path)) as (primary, replica):
        opened = await open_store(nursery, primary.url + "?wait_replicas=1")
        store = opened.store
        with caplog.at_level("WARNING", logger="mapsrv.redis"):
            await replica.stop()
            await wait_until(lambda: not store.available, timeout=10)  # the next 5 s round
            await replica.start()
            await opened.reconnected()
            await redis_cli(replica.port, "REPLICAOF", "NO", "ONE")
            await redis_cli(primary.port, "REPLICAOF", "127.0.0.1", replica.port)
            await wait_until(lambda: not store.available, timeout=10)
        warnings = [r.getMessage() for r in caplog.records if r.name == "mapsrv.redis"]
        assert warnings == [
            "redis unreachable: the primary has 0 of 1 replicas online",
            "redis unreachable: connected to a replica, not the primary",
        ]
        assert store.statistics().breaker_trips == 2


async def test_a_conflicting_commit_to_a_demoted_primary_is_unavailable_not_an_error(
    tmp_path: Any, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """A commit that conflicts writes nothing, so a demoted primary runs it; with ``wait_replicas``
    its ``WAIT`` is then refused ("WAIT cannot be used with replica instances"): that is the store
    unavailable (held, tried again), not an error for the caller."""
    async with open_primary_and_replica(str(tmp_path)) as (primary, replica):
        opened = await open_store(nursery, primary.url + "?wait_replicas=1")
        store = opened.store
        state = await new_map(store, "m" * 22)
        reply, _, _ = await write(store, state, batch_id="b1")
        assert reply == COMMITTED
        await redis_cli(replica.port, "REPLICAOF", "NO", "ONE")
        await redis_cli(primary.port, "REPLICAOF", "127.0.0.1", replica.port)
        with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable):
            await write(store, state, batch_id="b2")  # at the old version: a conflict
        warnings = [r.getMessage() for r in caplog.records if r.name == "mapsrv.redis"]
        assert warnings[0].startswith("redis unreachable: WAIT cannot be used with replica instances")
        assert not store.available


async def test_a_lost_subscription_is_logged_with_its_cause_and_subscribed_again(
    tmp_path: object, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis ends the feed's connection (``CLIENT KILL TYPE pubsub``): the breaker opens, both
    warnings name the cause, and the feed subscribes again and reports the way back."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        opened = await open_store(nursery, server.url)
        store = opened.store
        store.follow("m" * 22)
        with trio.fail_after(10):
            while not isinstance(await opened.messages.receive(), Followed):
                pass
        with caplog.at_level("WARNING", logger="mapsrv.redis"):
            await redis_cli(server.port, "CLIENT", "KILL", "TYPE", "pubsub")
            await opened.reconnected()
        warnings = [r.getMessage() for r in caplog.records if r.name == "mapsrv.redis"]
        assert len(warnings) == 2, warnings
        cause = warnings[1].removeprefix("redis subscription lost: ")
        assert cause != warnings[1] and cause not in ("", "None"), warnings
        assert warnings[0] == f"redis unreachable: {cause}"
        assert store.statistics().followed_maps == 1
        await wait_until(lambda: client_count(server.port, "pubsub") == 1, timeout=10)
    finally:
        await server.stop()


async def test_a_store_that_stops_closes_every_connection_it_opened(tmp_path: object) -> None:
    """Cancelling ``serve`` (the server shutting down) closes the client's pool, the writer's
    connection and the feed's: Redis is left with none of them."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        async with trio.open_nursery() as nursery:
            opened = await open_store(nursery, server.url)
            store = opened.store
            store.follow("m" * 22)
            reply, _, _ = await write(store, await new_map(store, "m" * 22), batch_id="b1")
            assert reply == COMMITTED
            assert client_count(server.port) >= 2 and client_count(server.port, "pubsub") == 1
            nursery.cancel_scope.cancel()
        await wait_until(
            lambda: client_count(server.port) + client_count(server.port, "pubsub") == 0, timeout=5
        )
    finally:
        await server.stop()


async def test_a_resubscription_while_the_breaker_is_closed_is_reported(
    tmp_path: object, nursery: trio.Nursery
) -> None:
    """The feed subscribes again after the health check has already closed the breaker (its
    back-off outlasted the check's wait): events published between the hub's re-sync for that
    and the new subscription were missed, so the new subscription is reported too. The state is
    placed directly (the feed hands over a ``Resubscribed`` while the store is healthy): a real
    feed and health check cannot be made to land in that order on demand."""
    server = RedisServer(str(tmp_path))
    await server.start()
    try:
        opened = await open_store(nursery, server.url)
        store = opened.store
        await wait_until(lambda: store.statistics().feed_batches > 0, timeout=10)  # first subscribed
        assert store.available
        before = store.statistics().reconnections
        store.link._loop.call_soon(store.link.feed._put, Resubscribed())
        await opened.reconnected()
        assert store.statistics().reconnections == before + 1
    finally:
        await server.stop()


STALL_SECONDS = 3.0  # longer than the socket timeout (2 s): every call waiting across it times out


async def test_a_call_that_timed_out_while_this_process_was_stopped_leaves_the_breaker_closed(
    redis_server: RedisServer, nursery: trio.Nursery
) -> None:
    """This process stops (here: its loop blocked, as under SIGSTOP or a suspended VM) while a
    commit waits for Redis's reply: when it runs again the commit has timed out, but Redis had no
    fair chance to answer (its own time ran out while we were not running). The caller is told
    "unavailable" once, the breaker stays closed, and the same batch asked again lands once."""
    opened = await open_store(nursery, redis_server.url)
    store = opened.store
    state = await new_map(store, "m" * 22)
    failed: list[Exception] = []

    async def commit() -> None:
        try:
            await write(store, state, batch_id="stalled")
        except StoreUnavailable as exc:
            failed.append(exc)

    os.kill(redis_server.process.pid, signal.SIGSTOP)  # the reply cannot come before the stall
    try:
        async with trio.open_nursery() as inner:
            inner.start_soon(commit)
            await wait_until(lambda: store.link._in_flight, timeout=5)
            time.sleep(STALL_SECONDS)  # noqa: ASYNC251 (the fault: this whole process stops)
            os.kill(redis_server.process.pid, signal.SIGCONT)
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    assert [str(exc) for exc in failed] in (
        [],  # the reply was read before the timeout fired
        ["the map store did not answer while this process was stalled"],
    )
    stats = store.statistics()
    assert stats.breaker_trips == 0 and store.available, stats
    again = (await write(store, state, batch_id="stalled"))[0]
    assert again in (COMMITTED, AlreadyCommitted(1)), again
    events = await store.events_after(state.id, 0)
    assert events is not None and [e.version for e in events] == [1]
