"""Past one Redis: processes subscribe only to the maps they hold, a Redis Cluster (sharded pub/sub)
and a Sentinel-managed primary with a failover during writes. Real redis-server processes on free
ports, started here and stopped by their PIDs; the hubs run in this process, each with its own
Redis store (its own asyncio loop and connections), as separate mapsrv processes would."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from support import (
    RedisServer,
    open_redis_cluster,
    open_redis_sentinel,
    redis_cli,
    wait_until,
)

from mapsrv.core import Limits
from mapsrv.core.parse import parse_op
from mapsrv.errors import Unavailable
from mapsrv.hub import MapHub
from mapsrv.store import COMMITTED
from mapsrv.store.redis import RedisStore


def marker(label: str) -> Any:
    return parse_op({"op": "add_feature", "type": "marker", "coords": [1, 2], "label": label}, Limits())


@asynccontextmanager
async def open_hub(url: str) -> AsyncIterator[MapHub]:
    """A hub on its own Redis store, following the store as ``mapsrv serve`` does."""
    store = RedisStore(url, ttl=600, log_size=256)
    hub = MapHub(store=store)
    async with trio.open_nursery() as nursery:
        messages = await nursery.start(store.serve)
        await nursery.start(hub.serve_replication, messages)
        await wait_until(lambda: store.available, timeout=10)
        yield hub
        nursery.cancel_scope.cancel()


def remote(hub: MapHub) -> int:
    return hub.store.statistics().remote_events


async def subscribers(port: int, map_id: str) -> int:
    reply = await redis_cli(port, "PUBSUB", "NUMSUB", f"mapsrv:{{{map_id}}}:events")
    return int(reply.split()[1])


def subscribed(port: int, map_id: str, count: int) -> Callable[[], Awaitable[bool]]:
    """A condition for ``wait_until``: this many connections subscribe to the map's channel."""

    async def check() -> bool:
        return await subscribers(port, map_id) == count

    return check


async def test_a_process_hears_only_the_maps_it_holds(redis_server: RedisServer) -> None:
    async with open_hub(redis_server.url) as a, open_hub(redis_server.url) as b:
        held, other = await a.create_map(), await a.create_map()
        on_b = await b.get(held.id)
        await wait_until(lambda: b.store.statistics().followed_maps == 1)
        await wait_until(subscribed(redis_server.port, held.id, 2))
        for i in range(3):  # the map b does not hold first: Redis keeps one connection's order
            await a.apply(other.id, [marker(f"o{i}")])
        for i in range(3):
            await a.apply(held.id, [marker(f"h{i}")])
        await wait_until(lambda: on_b.state.version == 3 and remote(b) == 3)
        assert await subscribers(redis_server.port, other.id) == 1, "only a, which holds it"
        assert remote(a) == 0 and a.store.statistics().echoes_skipped == 6, "own events dropped"

        later = await b.get(other.id)  # loaded later: b follows it from now on
        await wait_until(subscribed(redis_server.port, other.id, 2))
        await a.apply(other.id, [marker("o3")])
        await wait_until(lambda: later.state.version == 4 and remote(b) == 4)

        b.registry.expire_idle(trio.current_time() + 10 * b.idle_timeout)  # b forgets both maps
        await wait_until(lambda: b.store.statistics().followed_maps == 0)
        await wait_until(subscribed(redis_server.port, held.id, 1))
        await a.apply(held.id, [marker("h3")])
        await a.apply(other.id, [marker("o4")])
        async with open_hub(redis_server.url) as c:  # a witness: it hears the last write...
            witness = await c.get(other.id)
            await wait_until(subscribed(redis_server.port, other.id, 2))
            await a.apply(other.id, [marker("o5")])
            await wait_until(lambda: witness.state.version == 6)
        assert remote(b) == 4, "...and b, which holds neither map now, heard nothing more"


async def test_a_redis_cluster_serves_every_map_with_sharded_pub_sub() -> None:
    async with open_redis_cluster() as nodes:
        url = f"redis+cluster://127.0.0.1:{nodes[0].port},127.0.0.1:{nodes[1].port}"
        async with open_hub(url) as a, open_hub(url) as b:
            made = [await a.create_map(owner=f"user{i}") for i in range(6)]
            copies = [await b.get(entry.id) for entry in made]
            await wait_until(lambda: b.store.statistics().followed_maps == 6)
            for entry in made:
                for i in range(2):
                    await a.apply(entry.id, [marker(f"{entry.id}-{i}")])
            await wait_until(lambda: all(c.state.version == 2 for c in copies) and remote(b) == 12)
            assert remote(a) == 0 and a.store.statistics().echoes_skipped == 12
            keys = [int(await redis_cli(n.port, "DBSIZE")) for n in nodes]
            assert sum(1 for k in keys if k) >= 2, f"maps spread over the shards: {keys}"
            shard = await redis_cli(nodes[0].port, "PUBSUB", "NUMSUB", f"mapsrv:{{{made[0].id}}}:events")
            assert shard.split()[1] == "0", "sharded channels, not the cluster-wide bus"
            # the single-key calls go to whichever shard has their slot
            assert await b.get_by_view_key(made[3].view_key) is copies[3]
            assert (await b.last_map_of("user5")) is copies[5]
            assert await a.store.take_rate("mcp:someone", 1.0, 2) == 0.0


def watch_commits(store: Any, commits: list[float]) -> None:
    """Note when this store confirms a commit (not a conflict, not a batch found already there)."""
    commit = store.commit

    async def noted(*args: Any, **kwargs: Any) -> Any:
        reply = await commit(*args, **kwargs)
        if reply == COMMITTED:
            commits.append(trio.current_time())
        return reply

    store.commit = noted


class Writers:
    """Writers on two hubs adding uniquely labelled markers to one map; each write they get a
    success for is recorded, and so is each commit the store confirmed (``observe_commit``)."""

    def __init__(self) -> None:
        self.acked: list[str] = []
        self.refused = 0
        self.commits: list[float] = []  # when the store confirmed a commit (its replicas too)
        self.stop = False

    async def write(self, hub: MapHub, map_id: str, name: str) -> None:
        i = 0
        while not self.stop:
            label = f"{name}-{i}"
            i += 1
            try:
                await hub.apply(map_id, [marker(label)])
            except Unavailable:  # held writes full, or conflicts: not acknowledged
                self.refused += 1
                await trio.sleep(0.01)
                continue
            self.acked.append(label)
            await trio.sleep(0.005)  # about 100 writes/s per writer: a busy map, not a flood

    async def after(self, count: int) -> None:
        target = len(self.acked) + count
        await wait_until(lambda: len(self.acked) >= target, timeout=30)


@pytest.mark.failover
async def test_a_sentinel_failover_during_writes_loses_no_acknowledged_write() -> None:
    """The primary is killed while two hubs write; each commit waits for one of the two replicas
    (``wait_replicas=1``, the Sentinel default), so the promoted replica has every write that was
    acknowledged as committed, and writes held meanwhile are pushed to it by their batch ids.

    Timed from when the Sentinels name the new primary (what mapsrv can act on): the first commit
    it and a replica confirm, and every gap between confirmed commits from then on (the held
    backlog of both hubs drains meanwhile; it used to stall writers for 30 s and more). The time
    from the kill to the promotion is the Sentinels' own (1.5 s to call the primary down, then a
    vote; a split vote retries after twice the failover timeout), reported but not asserted."""
    async with open_redis_sentinel() as setup:
        async with open_hub(setup.url) as a, open_hub(setup.url) as b:
            entry = await a.create_map()
            await b.get(entry.id)
            writers = Writers()
            for hub in (a, b):
                watch_commits(hub.store, writers.commits)
            async with trio.open_nursery() as nursery:
                for name, hub in (("a0", a), ("a1", a), ("b0", b), ("b1", b)):
                    nursery.start_soon(writers.write, hub, entry.id, name)
                await writers.after(50)
                old = setup.primary.port
                failover_at = trio.current_time()
                setup.primary.process.kill()  # a crash: the Sentinels notice and promote a replica

                async def promoted() -> bool:
                    return await setup.primary_port() != old

                await wait_until(promoted, timeout=20)
                promoted_at = trio.current_time()
                # writes resume: a commit the new primary and a replica confirmed, after the switch
                await wait_until(lambda: writers.commits and writers.commits[-1] > promoted_at, timeout=20)
                resumed_at = next(t for t in writers.commits if t > promoted_at)
                await writers.after(50)
                writers.stop = True
            held = lambda: a.statistics().pending_writes == b.statistics().pending_writes == 0  # noqa: E731
            await wait_until(held, timeout=20)
            gaps = [t2 - t1 for t1, t2 in zip(writers.commits, writers.commits[1:], strict=False)]
            after = [promoted_at, *(t for t in writers.commits if t > promoted_at)]
            gaps_after = [t2 - t1 for t1, t2 in itertools.pairwise(after)]
        async with open_hub(setup.url) as fresh:
            final = await fresh.get(entry.id)
            stored = [f.label for f in final.state.features.values()]
        assert await setup.primary_port() != old
        assert sorted(stored) == sorted(writers.acked), "every acknowledged write, exactly once"
        report = {
            "acked": len(writers.acked),
            "refused": writers.refused,
            "promoted_after_s": round(promoted_at - failover_at, 2),
            "first_commit_on_the_new_primary_after_s": round(resumed_at - failover_at, 2),
            "longest_gap_between_commits_s": round(max(gaps), 2),
            "back_after_promotion_s": round(resumed_at - promoted_at, 2),
            "longest_gap_after_promotion_s": round(max(gaps_after), 2),
        }
        print("sentinel failover:", json.dumps(report))
        artifacts = os.environ.get("TEST_ARTIFACTS_DIR")
        if artifacts:
            path = trio.Path(artifacts)
            await path.mkdir(parents=True, exist_ok=True)
            await (path / "redis_failover.json").write_text(json.dumps(report))
        assert report["back_after_promotion_s"] <= 2.5, report
        assert report["longest_gap_after_promotion_s"] <= 5, report
