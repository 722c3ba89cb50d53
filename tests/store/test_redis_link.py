"""The Redis connection's breaker against a real redis-server that hangs (SIGSTOP): noticed before
the socket timeout, later calls fail at once, and the way back is reported."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
import trio
from support import RedisServer, open_redis_sentinel, redis_cli, wait_until
from test_redis_commits import new_map, write

from mapsrv.core import MapState
from mapsrv.store import COMMITTED, Followed, MapMeta, Reconnected, RemoteEvent, StoreUnavailable
from mapsrv.store.redis import RedisStore


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
    """Two processes follow one map; one commits. Its own event comes back on its feed and is
    dropped unread (an echo); the other gets it as a remote event."""
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
        await write(writer, state, batch_id="one")
        with trio.fail_after(5):
            heard = await feeds[1].receive()
        assert isinstance(heard, RemoteEvent) and heard.map_id == state.id
        await wait_until(lambda: writer.statistics().echoes_skipped == 1)
        for store, remote in ((writer, 0), (reader, 1)):
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
