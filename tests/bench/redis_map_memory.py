"""What a map costs in Redis memory, for sizing (README, "Running several processes"): a real
redis-server, maps written through ``RedisStore`` as mapsrv writes them, and ``MEMORY USAGE`` of
every key a map has (its hash with the snapshot, its log, its batch ids, its links and its index
entries are counted by the difference in ``used_memory``).

    python -m tests.bench.redis_map_memory            # 1,000 features; 1,000 history entries

A feature here is a labelled marker ({"at": [lat, lon], "label": "Place 123"}); a history entry is
one write of one such marker (its event in the log, and the change record it carries)."""

from __future__ import annotations

import json
import sys
from typing import Any

import redis
import trio
from support import wait_until

from mapsrv.core import Limits, MapState, apply_all
from mapsrv.core.changes import Change, Inverse, person_actor
from mapsrv.core.ops import ImportFeatures
from mapsrv.core.parse import parse_op
from mapsrv.store import MapMeta
from mapsrv.store.redis import RedisStore

from .harness import open_redis

ANA = person_actor(None, "cookie", "Ana")


def marker(i: int) -> Any:
    op = {"op": "add_feature", "type": "marker", "coords": [i % 80, i % 170], "label": f"Place {i}"}
    return parse_op(op, Limits())


async def measure(features: int) -> dict[str, Any]:
    async with open_redis() as url:
        plain = redis.Redis.from_url(url)
        store = RedisStore(url, ttl=600, log_size=1024)
        async with trio.open_nursery() as nursery:
            await nursery.start(store.serve)
            await wait_until(lambda: store.available, timeout=10)

            def cost(name: str) -> int:
                """Every key of the map (its hash, log, batch ids, edit keys) and its links."""
                keys = [*plain.scan_iter(f"mapsrv:{{{name}*"), *plain.scan_iter(f"mapsrv:view:v{name}*")]
                keys += list(plain.scan_iter(f"mapsrv:edit:e{name}*"))
                return sum(plain.memory_usage(k, samples=0) or 0 for k in keys)

            async def new_map(name: str) -> MapState:
                state = MapState(id=name.ljust(22, "x"), title=name)
                meta = MapMeta(
                    state.id, ("v" + name).ljust(22, "x"), "owner", None, edit_key=("e" + name).ljust(22, "x")
                )
                assert await store.create(meta, state)
                return state

            async def write(state: MapState, ops: list[Any]) -> MapState:
                new, events = apply_all(state, ops)
                change = Change(ANA, state.version + 1, 0.0, "added", Inverse())
                events[-1] = type(events[-1])(**{**events[-1].__dict__, "change": change})
                await store.commit(
                    state.id, state.version, events, new, snapshot=True, batch_id=f"b{new.version}"
                )
                return new

            # One map, every feature in one write: the cost of features (one history entry).
            everything = ImportFeatures(tuple(marker(i).feature for i in range(features)))
            one = await write(await new_map("bulk"), [everything])
            # One map with one feature: a map's fixed cost.
            await write(await new_map("small"), [marker(0)])
            # One map written a feature at a time: each write a history entry.
            state = await new_map("history")
            for i in range(features):
                state = await write(state, [marker(i)])
            small, bulk, history = cost("small"), cost("bulk"), cost("history")
            keys = {k.decode(): plain.memory_usage(k, samples=0) for k in plain.scan_iter("mapsrv:{bulk*")}
            nursery.cancel_scope.cancel()
        plain.close()
    return {
        "features": features,
        "one_map_one_feature_bytes": small,
        "bytes_per_feature": round((bulk - small) / (features - 1), 1),
        # the history map holds the same features, plus a log entry (and batch id) per write
        "bytes_per_history_entry": round((history - bulk) / (features - 1), 1),
        "history_map_bytes": history,
        "bulk_map_keys": keys,
        "bulk_map_version": one.version,
    }


def main() -> None:
    features = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(json.dumps(trio.run(measure, features), indent=1))


if __name__ == "__main__":
    main()
