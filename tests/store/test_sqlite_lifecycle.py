"""A map's whole life in the SQLite store (issue 48's held-out breaks): deleting a map takes its
history with it, so a backup of it restored later loads as it was backed up; restoring a deleted
map lifts its tombstone, so its links answer again (a server on the same file serves it, not 410)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import httpx
import trio
from support.processes import open_server

from mapsrv.core import Limits, MapState, apply_all
from mapsrv.core.parse import parse_op
from mapsrv.store import MapMeta
from mapsrv.store.sqlite import SqliteStore

MAP_ID = "lifecycle".ljust(22, "x")
VIEW_KEY = "lifeview".ljust(22, "x")


def marker(n: int) -> object:
    return parse_op({"op": "add_feature", "type": "marker", "coords": [n, n], "label": f"m{n}"}, Limits())


def rows_of(file: Path, map_id: str) -> dict[str, int]:
    """The rows a map still has in the file's tables, read beside the store (WAL lets it)."""
    with contextlib.closing(sqlite3.connect(file)) as db:
        return {
            table: db.execute(f"SELECT count(*) FROM {table} WHERE map_id = ?", (map_id,)).fetchone()[0]
            for table in ("events", "batches", "edit_keys")
        }


async def write(store: SqliteStore, state: MapState, n: int) -> MapState:
    new, events = apply_all(state, [marker(n)])  # type: ignore[list-item]
    await store.commit(state.id, state.version, events, new, snapshot=False, batch_id="")
    return new


async def test_a_deleted_maps_history_goes_with_it_and_a_backup_of_it_restores_whole(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite://{tmp_path}/maps.db", log_size=64)
    async with trio.open_nursery() as nursery:
        await nursery.start(store.serve)
        state = MapState(id=MAP_ID, title="life")
        assert await store.create(MapMeta(MAP_ID, VIEW_KEY, "alice", None), state)
        for n in range(3):
            state = await write(store, state, n)
        backed_up = await store.dump(MAP_ID)
        assert backed_up is not None and backed_up.state.version == 3
        for n in range(3, 6):  # written after the backup, then the map is deleted
            state = await write(store, state, n)
        assert await store.delete(MAP_ID) is not None

        # nothing of the map is left: no state, no history to replay onto a later map of its id
        assert await store.load(MAP_ID) is None
        assert rows_of(tmp_path / "maps.db", MAP_ID) == {"events": 0, "batches": 0, "edit_keys": 0}, (
            "deleting a map left its history behind"
        )
        assert await store.gone(MAP_ID) and await store.gone(VIEW_KEY)

        assert await store.restore(backed_up)
        loaded = await store.load(MAP_ID)
        assert loaded is not None
        assert loaded.state.version == 3, "the deleted map's later history was replayed onto the backup"
        assert sorted(f.label for f in loaded.state.features.values()) == ["m0", "m1", "m2"]
        assert [e.version for e in await store.events_after(MAP_ID, 0) or []] == [1, 2, 3]
        # restored, the map's links answer again
        assert not await store.gone(MAP_ID), "restoring a map left its tombstone"
        assert not await store.gone(VIEW_KEY), "restoring a map left its view link's tombstone"
        assert await store.map_for_view_key(VIEW_KEY) == MAP_ID
        nursery.cancel_scope.cancel()


async def test_a_restored_map_is_served_again_not_answered_410(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/maps.db"
    store = SqliteStore(url, log_size=64)
    async with trio.open_nursery() as nursery:
        await nursery.start(store.serve)
        state = MapState(id=MAP_ID, title="life")
        await store.create(MapMeta(MAP_ID, VIEW_KEY, None, None), state)
        await write(store, state, 1)
        record = await store.dump(MAP_ID)
        assert record is not None
        await store.delete(MAP_ID)
        nursery.cancel_scope.cancel()
    await store.aclose()

    async with open_server("--store", url) as server, httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get(f"/v/{VIEW_KEY}")).status_code == 410  # deleted: gone, as it should be
    store = SqliteStore(url, log_size=64)
    async with trio.open_nursery() as nursery:
        await nursery.start(store.serve)
        assert await store.restore(record)
        nursery.cancel_scope.cancel()
    await store.aclose()
    async with open_server("--store", url) as server, httpx.AsyncClient(base_url=server.url) as client:
        answered = await client.get(f"/v/{VIEW_KEY}")
        assert answered.status_code == 200, f"a restored map answered {answered.status_code}"
        assert "life" in answered.text
