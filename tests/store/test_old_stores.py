"""Maps stored before issue 57 (holes and parts kept) read unchanged: a SQLite store and a Redis
map's hash and log, written by the code before it (fixtures/make_old_stores.py), load to the map
they held, every stored text re-encodes to the same bytes, and the map takes new shapes on top."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import redis
import trio
from support import RedisServer, wait_until

from mapsrv.core import Limits, MapState, apply_all
from mapsrv.core.codec import dumps, event_from_json, event_to_json, state_from_json
from mapsrv.core.parse import parse_op
from mapsrv.store.redis import RedisStore
from mapsrv.store.redis.keys import log_key, map_key
from mapsrv.store.sqlite import SqliteStore

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MAP_ID = "oldmap".ljust(22, "x")
REDIS_DUMP: dict[str, Any] = json.loads((FIXTURES / "old_redis_map.json").read_text(encoding="utf-8"))
FINAL = REDIS_DUMP["final"]  # the map as the old code held it after every batch
ISLANDS = parse_op(
    {
        "op": "add_feature",
        "id": "isles",
        "type": "multipolygon",
        "coords": [
            [[[0, 0], [0, 4], [4, 4], [4, 0]], [[1, 1], [1, 2], [2, 2]]],
            [[[9, 9], [9, 10], [10, 10]]],
        ],
    },
    Limits(),
)


def _same_bytes(state_text: str, event_texts: list[str]) -> None:
    assert dumps(state_from_json(json.loads(state_text), MAP_ID).to_json()) == state_text
    for text in event_texts:
        assert dumps(event_to_json(event_from_json(json.loads(text)))) == text


def _check_loaded(state: MapState) -> None:
    assert dumps(state.to_json()) == dumps(FINAL), "the old map, as it was"
    kinds = {f.id: f.type for f in state.features.values()}
    assert kinds["mp.0"] == kinds["mp.1"] == "marker", "what the old code split stays as it was"
    assert {"marker", "circle", "rectangle", "polyline"} <= set(kinds.values())
    assert state.features["t1"].properties == (("n", 3), ("times", ("08:00", "08:10", "08:20")))


async def test_a_sqlite_store_from_before_loads_unchanged(tmp_path: Path, nursery: trio.Nursery) -> None:
    shutil.copy(FIXTURES / "old_maps.db", tmp_path / "maps.db")
    with contextlib.closing(sqlite3.connect(tmp_path / "maps.db")) as db:
        (state_text,) = db.execute("SELECT state FROM maps").fetchone()
        events = [text for (text,) in db.execute("SELECT event FROM events ORDER BY version")]
    assert len(events) == 13 and json.loads(state_text)["version"] == 10, "a snapshot and a log after it"
    _same_bytes(state_text, events)
    store = SqliteStore(f"sqlite://{tmp_path}/maps.db", log_size=64)
    await nursery.start(store.serve)
    loaded = await store.load(MAP_ID)
    assert loaded is not None
    _check_loaded(loaded.state)
    after, new = apply_all(loaded.state, [ISLANDS])
    await store.commit(MAP_ID, loaded.state.version, new, after, snapshot=True, batch_id="new")
    again = await store.load(MAP_ID)
    assert again is not None and again.state == after and again.state.features["isles"].point_count() == 10
    await store.aclose()


async def test_a_redis_map_from_before_loads_unchanged(tmp_path: Path, nursery: trio.Nursery) -> None:
    fields, log = REDIS_DUMP["map"], REDIS_DUMP["log"]
    _same_bytes(fields["state"], [entry["e"] for _, entry in log])
    server = RedisServer(str(tmp_path))
    await server.start()
    plain = redis.Redis(port=server.port)
    try:
        plain.hset(map_key(MAP_ID), mapping=fields)
        for entry_id, entry in log:
            plain.xadd(log_key(MAP_ID), entry, id=entry_id)
        store = RedisStore(server.url, ttl=600, log_size=64, socket_timeout=1.5)
        await nursery.start(store.serve)
        await wait_until(lambda: store.available, timeout=10)
        loaded = await store.load(MAP_ID)
        assert loaded is not None and loaded.state.version == 13
        _check_loaded(loaded.state)
        after, new = apply_all(loaded.state, [ISLANDS])
        await store.commit(MAP_ID, loaded.state.version, new, after, snapshot=True, batch_id="new")
        again = await store.load(MAP_ID)
        assert again is not None and again.state == after
    finally:
        plain.close()
        with trio.CancelScope(shield=True):
            await server.stop()
