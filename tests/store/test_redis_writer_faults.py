"""The commit writer (``mapsrv.store.redis.writer``) when its connection fails in the middle of
things, against a real redis-server behind a TCP proxy that makes the fault on the writer's
connection only (``support.tcp_proxy``): a connection cut between two replies of one pipelined
batch, one cut before any reply, and a Redis that stops reading a write that does not fit the
socket buffers, or closes the connection while such a write waits (on both tries)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import trio
from support import RedisServer, open_redis_sentinel, redis_cli, wait_until
from support.tcp_proxy import TcpProxy
from test_redis_commits import new_map, open_store, write

from mapsrv.store import COMMITTED, AlreadyCommitted, StoreUnavailable
from mapsrv.store.redis.keys import log_key
from mapsrv.store.redis.writer import pack

REPLY = len(b"*2\r\n:1\r\n:1\r\n")  # COMMIT's reply: committed, at version 1


@pytest.fixture
async def server(tmp_path: Any) -> AsyncIterator[RedisServer]:
    started = RedisServer(str(tmp_path))
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def proxied(nursery: trio.Nursery, server: RedisServer, **options: Any) -> TcpProxy:
    proxy = TcpProxy(server.port, **options)
    await nursery.start(proxy.serve)
    return proxy


async def test_a_connection_cut_between_two_replies_of_a_batch_fails_only_the_commits_not_answered(
    server: RedisServer, nursery: trio.Nursery
) -> None:
    """Commits b, c and d go in one write while the writer waits for a's reply; the connection is
    cut after the first of them is answered and in the middle of the second's reply. a and the
    first are answered committed, the other two unavailable (a failed connection, not a deadline),
    once each and not sent again: their replies were lost, but replies had been read on that
    connection, so it was no stale one. They landed, and are found by their ids."""
    proxy = await proxied(nursery, server)
    opened = await open_store(nursery, proxy.url, socket_timeout=10.0)  # no deadline in the way
    store = opened.store
    writer = store.link.writer
    assert writer is not None
    await write(store, await new_map(store, "w" * 22))  # the script loaded, the writer connected
    states = [await new_map(store, name * 22) for name in "abcd"]
    answers: dict[str, Any] = {}

    async def commit(name: str) -> None:
        try:
            answers[name] = (await write(store, states["abcd".index(name)], batch_id=f"batch-{name}"))[0]
        except StoreUnavailable as exc:
            answers[name] = exc

    proxy.fault(b"batch-a", replies=0)  # a's reply held: the writer waits for it
    with trio.fail_after(8):
        async with trio.open_nursery() as callers:
            callers.start_soon(commit, "a")
            await wait_until(lambda: proxy.found)
            for name in "bcd":
                callers.start_soon(commit, name)
            await wait_until(lambda: len(writer.queue) == 3)
            order = [n for job in writer.queue for n in "bcd" if f"batch-{n}".encode() in job.packed]
            proxy.allow(2 * REPLY + 5, cut=True)
    first, *cut = order  # the tasks queued in whatever order Trio ran them
    assert answers["a"] == COMMITTED and answers[first] == COMMITTED
    for name in cut:
        failed = answers[name]
        assert isinstance(failed, StoreUnavailable), (name, failed)
        assert isinstance(failed.__cause__, redis.exceptions.ConnectionError), (name, repr(failed.__cause__))
    assert store.statistics().breaker_trips == 1
    await opened.reconnected()
    for state, name in zip(states, "abcd", strict=True):
        assert (await write(store, state, batch_id=f"batch-{name}"))[0] == AlreadyCommitted(1), name
        events = await store.events_after(state.id, 0)
        assert events is not None and [e.version for e in events] == [1], name
    assert store.available


async def test_a_connection_that_fails_before_any_reply_sends_its_batch_once_more(
    server: RedisServer, nursery: trio.Nursery
) -> None:
    """The writer's connection was in use (not idle after a restart); it is closed after Redis ran
    the commit and before its reply. No reply was read, so the batch goes once more on a fresh
    connection: found by its id, no outage."""
    proxy = await proxied(nursery, server)
    opened = await open_store(nursery, proxy.url)
    store = opened.store
    reply, state, _ = await write(store, await new_map(store, "m" * 22), batch_id="batch-1")
    assert reply == COMMITTED
    proxy.fault(b"batch-2", replies=0, cut=True)
    with trio.fail_after(5):
        reply, _, _ = await write(store, state, batch_id="batch-2")
    assert reply == AlreadyCommitted(2), reply
    assert store.available and store.statistics().errors == 0 and proxy.connections > 0
    events = await store.events_after(state.id, 0)
    assert events is not None and [e.version for e in events] == [1, 2]


async def test_a_write_to_a_redis_that_stops_reading_fails_at_the_socket_timeout_and_its_connection_goes(
    server: RedisServer, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """12 MB sent to a Redis whose reads stopped (the proxy's socket buffer fixed at 4 KB, the
    sender's at most 4 MB here): the writer waits for the socket and gives up after the socket
    timeout (a timeout within the call's deadline, not a 500), does not send it again on another
    connection (a hung Redis is not waited for twice), and drops the connection, so that the next
    commit's reply is its own, not the late write's. The write lands once Redis reads again. (A
    commit that size needs a map of tens of MB; the writer sends any packed command the same
    way.)"""
    proxy = await proxied(nursery, server, receive_buffer=4096)
    opened = await open_store(nursery, proxy.url)  # socket timeout 1.5 s, deadline 2 s
    store = opened.store
    reply, state, _ = await write(store, await new_map(store, "m" * 22))
    assert reply == COMMITTED
    size = 12 << 20
    proxy.fault(b"big-value", reading=False)
    connections = proxy.connections
    with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable) as raised:
        with trio.fail_after(5):
            await store.link.send(pack(b"SET", b"big-value", b"x" * size), 1)
    cause = raised.value.__cause__
    assert str(cause).startswith("writing to redis timed out: TimeoutError"), repr(cause)  # not the deadline
    warning = next(r.getMessage() for r in caplog.records if r.name == "mapsrv.redis")
    assert warning == f"redis unreachable: {cause}", warning
    assert proxy.connections == connections, "a timeout: not sent again on another connection"
    proxy.resume()
    await opened.reconnected()
    reply, state, _ = await write(store, state, batch_id="after")
    assert reply == COMMITTED, reply
    plain = redis.Redis(port=server.port)
    await wait_until(lambda: plain.strlen("big-value") == size, timeout=10)
    events = await store.events_after(state.id, 0)
    assert events is not None and [e.version for e in events] == [1, 2]
    plain.close()


async def test_under_sentinel_commits_after_a_failover_go_to_the_new_primary(nursery: trio.Nursery) -> None:
    """``SENTINEL FAILOVER``: once the old primary is demoted (the Sentinels close its clients'
    connections as they demote it), the writer's next connection asks the Sentinels and finds the
    new primary; the commits refused meanwhile (unavailable) wrote nothing, and the one that goes
    through lands once, after the first, in the URL's database. (Committing before the old
    primary is demoted is Redis's own window: it still takes writes, and its other replica
    confirms them.)"""
    async with open_redis_sentinel() as setup:
        url = setup.url.removesuffix("/0") + "/3"  # database 3; wait_replicas=1, the Sentinel default
        opened = await open_store(nursery, url)
        store = opened.store
        reply, state, _ = await write(store, await new_map(store, "m" * 22), batch_id="before")
        assert reply == COMMITTED
        old = setup.primary.port
        await redis_cli(setup.sentinels[0].port, "SENTINEL", "FAILOVER", "mapsrv")

        async def promoted() -> bool:
            return await setup.primary_port() != old

        await wait_until(promoted, timeout=20)

        async def demoted() -> bool:
            return (await redis_cli(old, "ROLE")).startswith("slave")

        await wait_until(demoted, timeout=20)
        replies: list[Any] = []

        async def committed() -> bool:
            try:
                replies.append((await write(store, state, batch_id="after"))[0])
            except StoreUnavailable as exc:
                replies.append(exc)
                return False
            return True

        await wait_until(committed, timeout=20)
        assert replies[-1] == COMMITTED, replies
        new = await setup.primary_port()
        plain = redis.Redis(port=new, db=3)
        assert [v for v, _ in plain.xrange(log_key("m" * 22))] == [b"1-0", b"2-0"]
        plain.close()


async def test_a_write_whose_connection_fails_twice_while_it_waits_for_the_socket_says_why(
    server: RedisServer, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis closes the connection of a client that announces an argument longer than
    ``proto-max-bulk-len``, the rest of its write unread. A 12 MB write through the proxy (its
    receive buffer fixed at 4 KB, so that most of the write waits in the writer's own buffer) fails
    while the writer waits for the socket (an OSError); it is sent once more on a fresh connection,
    which fails the same way. The caller is told unavailable, the failure as its cause, and the
    breaker's warning says why."""
    await redis_cli(server.port, "CONFIG", "SET", "proto-max-bulk-len", "1mb")
    proxy = await proxied(nursery, server, receive_buffer=4096)
    opened = await open_store(nursery, proxy.url)
    store = opened.store
    reply, state, _ = await write(store, await new_map(store, "m" * 22))  # the writer connected
    assert reply == COMMITTED
    connections = proxy.connections
    with caplog.at_level("WARNING", logger="mapsrv.redis"), pytest.raises(StoreUnavailable) as raised:
        with trio.fail_after(5):
            await store.link.send(pack(b"SET", b"big-value", b"x" * (12 << 20)), 1)
    cause = raised.value.__cause__
    assert isinstance(cause, redis.exceptions.ConnectionError), repr(cause)
    assert isinstance(cause.__cause__, OSError), repr(cause.__cause__)
    assert str(cause) == f"writing to redis failed: {cause.__cause__!r}"
    warning = next(r.getMessage() for r in caplog.records if r.name == "mapsrv.redis")
    assert warning == f"redis unreachable: {cause}", warning
    assert proxy.connections == connections + 1, "sent once more, on a fresh connection"
    await opened.reconnected()
    reply, state, _ = await write(store, state, batch_id="after")
    assert reply == COMMITTED, reply
    plain = redis.Redis(port=server.port)
    assert plain.exists("big-value") == 0
    plain.close()
