"""What only the Redis store does, read back from a real redis-server with a plain client: key
lifetimes (a map nobody drew on lives while it is used, a map somebody drew on has no time to live
at all), the last map of a user, and the shared rate limit's budget (the contract the in-memory
store shares: tests/store/test_store_contract.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import trio
from support import Browser, RedisServer, open_stream, start_server, wait_until

from mapsrv.core import Limits, MapState, apply_all
from mapsrv.core.parse import parse_op
from mapsrv.store import MapMeta
from mapsrv.store.redis import RedisStore
from mapsrv.store.redis.keys import batches_key, log_key, map_key

TTL = 600.0
MARKER = parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2]}, Limits())


@pytest.fixture
async def store(tmp_path: Any, nursery: trio.Nursery) -> AsyncIterator[tuple[RedisStore, redis.Redis]]:
    server = RedisServer(str(tmp_path))
    await server.start()
    store = RedisStore(server.url, ttl=TTL, log_size=8, snapshot_every=2, socket_timeout=1.5)
    await nursery.start(store.serve)
    await wait_until(lambda: store.available, timeout=10)
    plain = redis.Redis(port=server.port)
    try:
        yield store, plain
    finally:
        plain.close()
        await server.stop()


async def test_a_touch_renews_the_keys_of_a_map_nobody_drew_on_and_a_commit_keeps_them(
    store: tuple[RedisStore, redis.Redis],
) -> None:
    rs, plain = store
    state = MapState(id="m" * 22, title="t")
    assert await rs.create(MapMeta(state.id, "v" * 22, None, None, "e" * 22), state)
    keys = [map_key(state.id), "mapsrv:view:" + "v" * 22, "mapsrv:edit:" + "e" * 22]
    for key in keys:
        assert plain.pexpire(key, 1000), key
    await rs.touch([(state.id, "v" * 22, "e" * 22)])
    for key in keys:
        assert plain.pttl(key) > (TTL - 60) * 1000, key
    new, events = apply_all(state, [MARKER])
    await rs.commit(state.id, 0, events, new, snapshot=False, batch_id="b1")
    keys += [log_key(state.id), batches_key(state.id)]
    for key in keys:
        assert plain.pttl(key) == -1, f"{key}: drawn on, kept"
    plain.pexpire("mapsrv:view:" + "v" * 22, 5000)  # as if the commit's follow-up was lost
    await rs.touch([(state.id, "v" * 22, "e" * 22)])
    for key in keys:
        assert plain.pttl(key) == -1, f"{key}: a touch keeps a kept map's links"
    await rs.touch([])  # nothing to do, no call


async def test_the_last_map_of_a_user_is_remembered_for_400_days(
    store: tuple[RedisStore, redis.Redis],
) -> None:
    rs, plain = store
    await rs.remember_last_map("alice", "m" * 22)
    assert plain.get("mapsrv:user:alice") == b"m" * 22
    assert 399 * 86400_000 < plain.pttl("mapsrv:user:alice") <= 400 * 86400_000
    assert await rs.last_map_of("alice") == "m" * 22 and await rs.last_map_of("bob") is None


async def test_the_shared_rate_limit_allows_a_burst_then_says_how_long_to_wait(
    store: tuple[RedisStore, redis.Redis],
) -> None:
    rs, _ = store
    assert [await rs.take_rate("client", 10.0, 2) for _ in range(2)] == [0.0, 0.0]
    wait = await rs.take_rate("client", 10.0, 2)
    assert 9.0 < wait <= 10.0, wait
    assert await rs.take_rate("other", 10.0, 2) == 0.0, "each key has its own budget"
    assert 19.0 < await rs.take_rate("costly", 10.0, 1, cost=3) <= 20.0


IDLE = 1.0  # seconds: the server's --idle-timeout, and so its keys' time to live in Redis


async def test_a_map_people_only_watch_keeps_its_keys_alive_in_redis(
    redis_server: RedisServer, nursery: trio.Nursery
) -> None:
    """Nobody draws, someone watches: the empty map's keys outlive many times their time to live,
    because the server refreshes them while the map is watched; once nobody watches, they
    expire like any unused empty map's."""
    server = await start_server(nursery, store=redis_server.url, idle_timeout=IDLE)
    person = Browser(server.url)
    plain = redis.Redis.from_url(redis_server.url)
    try:
        map_id = await person.new_map()
        written = trio.current_time()
        keys = [map_key(map_id), f"mapsrv:view:{plain.hget(map_key(map_id), 'view_key').decode()}"]
        assert plain.exists(*keys) == 2
        stream = await open_stream(nursery, person.client, f"/m/{map_id}/events")
        # three times the keys' time to live with no write, checking all along that they stay
        alive: list[int] = []

        def still_there() -> bool:
            alive.append(plain.exists(*keys))
            return trio.current_time() - written > 3 * IDLE

        await wait_until(still_there, timeout=10)
        assert alive and min(alive) == 2, f"a watched map's keys expired: {alive}"
        await person.client.aclose()  # the viewer leaves
        await stream.ended.wait()
        await wait_until(lambda: plain.exists(*keys) == 0, timeout=10)
    finally:
        plain.close()
        await person.aclose()


async def test_a_map_from_before_lists_joins_its_owners_list_when_a_process_loads_it(
    store: tuple[RedisStore, redis.Redis],
) -> None:
    rs, plain = store
    state = MapState(id="o" * 22, title="Old trip")
    drawn, events = apply_all(state, [MARKER])
    assert await rs.create(MapMeta(state.id, "w" * 22, "ana", None, "f" * 22), state)
    await rs.commit(state.id, 0, events, drawn, snapshot=False, batch_id="b1")
    # as an older mapsrv left it: no summary fields, in no list
    plain.hdel(map_key(state.id), "title", "features", "created", "updated", "updated_by", "used")
    plain.srem("mapsrv:owner:ana", state.id)
    plain.zrem("mapsrv:used", state.id)
    assert await rs.maps_of(owner="ana") == []
    loaded = await rs.load(state.id)
    assert loaded is not None and loaded.state.version == 1
    (listed,) = await rs.maps_of(owner="ana")
    assert (listed.meta.id, listed.title, listed.features, listed.version) == (state.id, "Old trip", 1, 1)
    assert plain.zscore("mapsrv:used", state.id) is not None, "sweeps and backups see it too"
    ids, _ = await rs.map_ids("", 100)
    assert ids == [state.id]
